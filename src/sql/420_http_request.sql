-- aigw.http_request: route, authenticate, authorise, dispatch, and map errors,
-- in one call and one transaction per HTTP request.

-- /healthz: the database answers.
CREATE FUNCTION aigw.http_h_healthz(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  RETURN aigw.http_json(200, '{"status":"ok"}');

-- /readyz: the extension is loaded, its launcher runs and the channel exists.
CREATE FUNCTION aigw.http_h_readyz(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  launcher boolean;
  workers int;
  channel boolean := to_regprocedure('aigw.channel_wait(text,integer)') IS NOT NULL;
  ready boolean;
BEGIN
  SELECT bool_or(backend_type = 'aigw launcher'), count(*) FILTER (WHERE backend_type LIKE 'aigw%worker%')
    INTO launcher, workers
    FROM pg_stat_activity WHERE backend_type LIKE 'aigw%';
  launcher := coalesce(launcher, false);
  ready := launcher AND channel;
  RETURN aigw.http_json(CASE WHEN ready THEN 200 ELSE 503 END,
    jsonb_build_object('status', CASE WHEN ready THEN 'ready' ELSE 'not_ready' END,
                       'version', aigw.version(), 'launcher', launcher, 'workers', workers,
                       'taskRuntime', channel),
    CASE WHEN ready THEN '{}'::jsonb ELSE '{"retry-after":"1"}'::jsonb END);
END
$$;

-- /metrics: Prometheus text from the database (queue depth, platform errors,
-- tokens and cost); aigw-http appends its own request counters and latencies.
CREATE FUNCTION aigw.http_h_metrics(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  out text := '';
  r record;
BEGIN
  out := out || E'# HELP aigw_info aigw extension version.\n# TYPE aigw_info gauge\n'
             || format(E'aigw_info{version="%s"} 1\n', aigw.version());
  out := out || E'# HELP aigw_backends aigw background processes by type.\n# TYPE aigw_backends gauge\n';
  FOR r IN SELECT backend_type, count(*) AS n FROM pg_stat_activity
            WHERE backend_type LIKE 'aigw%' GROUP BY 1 ORDER BY 1 LOOP
    out := out || format(E'aigw_backends{type="%s"} %s\n', r.backend_type, r.n);
  END LOOP;
  IF to_regclass('aigw.gateway_tasks') IS NOT NULL THEN
    BEGIN
      out := out || E'# HELP aigw_queue_depth Tasks not finished yet, by status and kind.\n# TYPE aigw_queue_depth gauge\n';
      FOR r IN EXECUTE $q$SELECT status, kind, count(*) AS n FROM aigw.gateway_tasks
                          WHERE status IN ('queued', 'leased', 'running', 'polling', 'failed_retryable')
                          GROUP BY 1, 2 ORDER BY 1, 2$q$ LOOP
        out := out || format(E'aigw_queue_depth{status="%s",kind="%s"} %s\n', r.status, r.kind, r.n);
      END LOOP;
      out := out || E'# HELP aigw_tasks_finished_5m Tasks finished in the last 5 minutes, by status.\n# TYPE aigw_tasks_finished_5m gauge\n';
      FOR r IN EXECUTE $q$SELECT status, count(*) AS n,
                                 coalesce(sum((result->'usage'->>'total_tokens')::numeric), 0) AS tokens,
                                 coalesce(sum((billings->>'amount')::numeric), 0) AS cost
                            FROM aigw.gateway_tasks
                           WHERE finished_at > now() - interval '5 minutes' GROUP BY 1 ORDER BY 1$q$ LOOP
        out := out || format(E'aigw_tasks_finished_5m{status="%s"} %s\naigw_tokens_5m{status="%s"} %s\naigw_cost_5m{status="%s"} %s\n',
                             r.status, r.n, r.status, r.tokens, r.status, r.cost);
      END LOOP;
    EXCEPTION WHEN undefined_column OR undefined_table OR invalid_text_representation THEN
      out := out || E'# aigw task metrics unavailable: ' || replace(SQLERRM, E'\n', ' ') || E'\n';
    END;
  END IF;
  IF to_regclass('aigw.gateway_task_attempts') IS NOT NULL AND to_regclass('aigw.integration_platforms') IS NOT NULL THEN
    BEGIN
      out := out || E'# HELP aigw_platform_errors_5m Failed provider attempts in the last 5 minutes, by platform.\n# TYPE aigw_platform_errors_5m gauge\n';
      FOR r IN EXECUTE $q$SELECT p.platform_key, count(*) AS n
                            FROM aigw.gateway_task_attempts a JOIN aigw.integration_platforms p ON p.id = a.platform_id
                           WHERE a.status = 'failed' AND a.started_at > now() - interval '5 minutes'
                           GROUP BY 1 ORDER BY 1$q$ LOOP
        out := out || format(E'aigw_platform_errors_5m{platform="%s"} %s\n', r.platform_key, r.n);
      END LOOP;
    EXCEPTION WHEN undefined_column OR undefined_table THEN
      out := out || E'# aigw platform metrics unavailable: ' || replace(SQLERRM, E'\n', ' ') || E'\n';
    END;
  END IF;
  RETURN ROW(200, '{"content-type":"text/plain; version=0.0.4; charset=utf-8"}'::jsonb, out, NULL, false)::aigw.http_response;
END
$$;

-- /api/v1/me: the caller's identity as the gateway sees it.
CREATE FUNCTION aigw.http_h_me(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  RETURN aigw.http_json(200, ctx.identity - 'level' || jsonb_build_object(
    'permission', (ARRAY['public', 'basic', 'creat', 'power', 'manager'])[(ctx.identity->>'level')::int + 1]));

-- The entry point of aigw-http: one call per request. Returns a complete
-- response (body set) or a pending one (task_id set, body null) whose events
-- the front receives on its channel. An error aborts the whole transaction (no
-- partial state); the front then turns its SQLSTATE into a response with
-- aigw.http_error_response (aigw.http_error_map), so a successful request
-- costs one call and no subtransaction.
CREATE FUNCTION aigw.http_request(p_method text, p_path text, p_headers jsonb, p_query jsonb,
                                  p_body text, p_channel text)
  RETURNS aigw.http_response
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  ctx aigw.http_ctx;
  m record;
  resp aigw.http_response;
  need int;
BEGIN
  ctx.method := upper(coalesce(p_method, ''));
  IF ctx.method = 'HEAD' THEN
    ctx.method := 'GET';
  END IF;
  ctx.path := coalesce(nullif(p_path, ''), '/');
  IF length(ctx.path) > 1 THEN
    ctx.path := rtrim(ctx.path, '/');
  END IF;
  ctx.headers := coalesce(p_headers, '{}');
  ctx.query := coalesce(p_query, '{}');
  ctx.body := p_body;
  ctx.channel := p_channel;
  ctx.request_id := ctx.headers->>'x-request-id';
  m := aigw.http_route(ctx.method, ctx.path);
  IF m.pattern IS NULL THEN
    IF m.allowed IS NOT NULL THEN
      RAISE EXCEPTION 'method % is not allowed on %', ctx.method, ctx.path
        USING ERRCODE = 'AG405', DETAIL = m.allowed;
    END IF;
    RAISE EXCEPTION 'no route for % %', ctx.method, ctx.path USING ERRCODE = 'AG404';
  END IF;
  ctx.route := m.pattern;
  ctx.params := m.params;
  need := aigw.http_level(m.permission);
  IF need > 0 OR m.admin_only THEN
    ctx.identity := aigw.http_authenticate(ctx.headers);
    IF ctx.identity IS NULL THEN
      RAISE EXCEPTION 'missing credentials: send "Authorization: Bearer <API key>"' USING ERRCODE = 'AG401';
    END IF;
    IF (ctx.identity->>'level')::int < need THEN
      RAISE EXCEPTION 'this route needs the % permission', m.permission USING ERRCODE = 'AG403';
    END IF;
    IF m.admin_only AND (ctx.identity->>'level')::int < 4 THEN
      RAISE EXCEPTION 'this route needs a global administrator' USING ERRCODE = 'AG403';
    END IF;
  END IF;
  resp := aigw.http_dispatch(m.handler, ctx);
  resp.headers := coalesce(resp.headers, '{}') || jsonb_build_object('x-aigw-route', coalesce(ctx.route, 'unmatched'));
  RETURN resp;
END
$$;
COMMENT ON FUNCTION aigw.http_request(text, text, jsonb, jsonb, text, text) IS
  'HTTP entry of aigw-http: (status, headers, body) or pending (task_id, stream)';

REVOKE ALL ON FUNCTION aigw.http_request(text, text, jsonb, jsonb, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION aigw.http_request(text, text, jsonb, jsonb, text, text) TO aigw_front;

INSERT INTO aigw.http_routes (method, pattern, handler, permission, description) VALUES
  ('GET', '/healthz', 'healthz', 'public', 'liveness: the database answers'),
  ('GET', '/readyz', 'readyz', 'public', 'readiness: launcher running and task runtime installed'),
  ('GET', '/metrics', 'metrics', 'public', 'Prometheus metrics'),
  ('GET', '/api/v1/me', 'me', 'basic', 'the caller''s identity');
