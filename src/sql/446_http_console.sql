-- Console routes over the runtime tables: client states, queues, task event
-- and callback replays; and the queue routes of integration-platform.

-- GET /api/v1/runtime/clients
CREATE FUNCTION aigw.http_h_runtime_clients(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  SET search_path = aigw, pg_catalog
  RETURN aigw.http_json(200, jsonb_build_object('data',
    (SELECT coalesce(jsonb_agg(to_jsonb(c) || jsonb_build_object('platformKey', p.platform_key)
                               ORDER BY c.queue_key, c.client_id), '[]')
       FROM aigw.runtime_client_states c LEFT JOIN aigw.integration_platforms p ON p.id = c.platform_id)));

-- Queue depth by queue key and status, over unfinished tasks.
CREATE FUNCTION aigw.http_queue_stats(p_platform_key text DEFAULT NULL) RETURNS jsonb
  LANGUAGE sql STABLE
  SET search_path = aigw, pg_catalog
  RETURN (SELECT coalesce(jsonb_agg(jsonb_build_object('queueKey', queue_key, 'status', status, 'count', n,
                                                       'oldest', oldest) ORDER BY queue_key, status), '[]')
            FROM (SELECT queue_key, status, count(*) AS n, min(created_at) AS oldest
                    FROM aigw.gateway_tasks
                   WHERE status IN ('queued', 'leased', 'running', 'polling', 'failed_retryable')
                     AND (p_platform_key IS NULL OR split_part(queue_key, '/', 1) = p_platform_key)
                   GROUP BY 1, 2) q);

-- GET /api/v1/runtime/queues
CREATE FUNCTION aigw.http_h_runtime_queues(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  RETURN aigw.http_json(200, jsonb_build_object('data', aigw.http_queue_stats(ctx.query->>'platform')));

-- GET /integration-platform/queue-stats
CREATE FUNCTION aigw.http_h_platform_queue_stats(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  RETURN aigw.http_resop(aigw.http_queue_stats(ctx.query->>'platform'));

-- POST /integration-platform/clear-queue/:platformId: cancels the platform's queued tasks.
CREATE FUNCTION aigw.http_h_platform_clear_queue(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  p aigw.integration_platforms := aigw.http_platform_get(aigw.http_param_uuid(ctx, 'platformId'));
  n int := 0;
  t uuid;
BEGIN
  FOR t IN SELECT id FROM aigw.gateway_tasks
            WHERE status = 'queued' AND split_part(queue_key, '/', 1) = p.platform_key
            ORDER BY created_at FOR UPDATE SKIP LOCKED LOOP
    IF aigw.cancel_task(t, 'queue cleared by ' || coalesce(ctx.identity->>'userId', 'an operator')) THEN
      n := n + 1;
    END IF;
  END LOOP;
  RETURN aigw.http_resop(jsonb_build_object('platformId', p.id, 'cancelled', n));
END
$$;

-- POST /api/v1/runtime/tasks/:taskId/replay: the task's events again, as JSON.
CREATE FUNCTION aigw.http_h_runtime_task_replay(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  t aigw.gateway_tasks := aigw.http_visible_task(ctx, 'taskId');
BEGIN
  RETURN aigw.http_json(200, jsonb_build_object('taskId', t.id, 'status', t.status, 'events',
    (SELECT coalesce(jsonb_agg(to_jsonb(e) ORDER BY e.seq), '[]') FROM aigw.gateway_task_events e
      WHERE e.task_id = t.id AND e.seq > coalesce((ctx.query->>'after')::bigint, 0))));
EXCEPTION WHEN invalid_text_representation THEN
  RAISE EXCEPTION 'after must be an event sequence number' USING ERRCODE = 'AG400';
END
$$;

-- POST /api/v1/runtime/tasks/:taskId/callbacks/replay: queue the task's
-- progress callbacks for delivery again (idempotent on the receiver by seq).
CREATE FUNCTION aigw.http_h_runtime_callbacks_replay(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  t aigw.gateway_tasks := aigw.http_visible_task(ctx, 'taskId');
  n int;
BEGIN
  UPDATE aigw.gateway_task_callback_outbox
     SET status = 'pending', next_attempt_at = now(), last_error = NULL, updated_at = now()
   WHERE task_id = t.id AND status IN ('delivered', 'failed', 'skipped');
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN aigw.http_json(200, jsonb_build_object('taskId', t.id, 'requeued', n));
END
$$;

INSERT INTO aigw.http_routes (method, pattern, handler, permission, admin_only) VALUES
  ('GET', '/api/v1/runtime/clients', 'runtime_clients', 'power', false),
  ('GET', '/api/v1/runtime/queues', 'runtime_queues', 'power', false),
  ('POST', '/api/v1/runtime/tasks/:taskId/replay', 'runtime_task_replay', 'power', false),
  ('POST', '/api/v1/runtime/tasks/:taskId/callbacks/replay', 'runtime_callbacks_replay', 'power', false),
  ('GET', '/integration-platform/queue-stats', 'platform_queue_stats', 'power', false),
  ('POST', '/integration-platform/clear-queue/:platformId', 'platform_clear_queue', 'power', true);

-- GET /api/v1/runtime/rate-limit-windows: current TPM/RPM windows (shared
-- memory) and open concurrency leases by scope.
CREATE FUNCTION aigw.http_h_runtime_rate_limit_windows(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql VOLATILE
  SET search_path = aigw, pg_catalog
  RETURN aigw.http_json(200, jsonb_build_object(
    'windows', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                  'scopeType', w.scope_type, 'scopeKey', w.scope_key, 'metric', w.metric,
                  'windowStart', w.window_start, 'windowSeconds', w.window_seconds, 'resetAt', w.reset_at,
                  'used', w.used, 'reserved', w.reserved, 'limit', w.limit_value)
                  ORDER BY w.scope_type, w.scope_key, w.metric), '[]')
                  FROM aigw.ratelimit_windows() w
                 WHERE ctx.query->>'scopeType' IS NULL OR w.scope_type = ctx.query->>'scopeType'),
    'concurrencyLeases', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                  'scopeType', l.scope_type, 'scopeKey', l.scope_key, 'leases', l.n, 'value', l.v)
                  ORDER BY l.scope_type, l.scope_key), '[]')
                  FROM (SELECT scope_type, scope_key, count(*) AS n, sum(lease_value) AS v
                          FROM aigw.gateway_concurrency_leases GROUP BY 1, 2) l)));

INSERT INTO aigw.http_routes (method, pattern, handler, permission) VALUES
  ('GET', '/api/v1/runtime/rate-limit-windows', 'runtime_rate_limit_windows', 'power');
