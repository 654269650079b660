-- Recording attempt outcomes with the policy engine's decisions, and recovery.

-- Normalises a provider's usage into the unified usage shape (docs/runtime.md).
CREATE FUNCTION aigw.normalize_usage(kind text, usage jsonb, result jsonb, request jsonb) RETURNS jsonb
  LANGUAGE sql STABLE
AS $$
  SELECT jsonb_strip_nulls(coalesce(usage, '{}') || CASE
    WHEN kind IN ('images.generations', 'images.edits') AND NOT coalesce(usage, '{}') ? 'images' THEN
      jsonb_build_object('images', coalesce(jsonb_array_length(result->'data'), 0),
                         'image_size', coalesce(request->>'size', '1024x1024'),
                         'image_quality', coalesce(request->>'quality', 'medium'),
                         'image_mode', CASE kind WHEN 'images.edits' THEN 'edit' ELSE 'generate' END)
    WHEN kind = 'videos.generations' AND NOT coalesce(usage, '{}') ? 'video_seconds' THEN
      -- billed by the seconds the provider says it made, else the seconds asked for
      jsonb_build_object('video_seconds', coalesce((result->>'seconds')::numeric, (request->>'seconds')::numeric,
                                                   (request->>'duration')::numeric, 5),
                         'video_resolution', coalesce(request->>'resolution', '720p'),
                         'video_audio', coalesce((request->>'audio')::boolean, false),
                         'video_reference', CASE WHEN request ? 'image' THEN 'image'
                                                 WHEN request ? 'video' THEN 'video' ELSE 'none' END)
    WHEN kind = 'embeddings' AND NOT coalesce(usage, '{}') ? 'embedding_tokens' THEN
      jsonb_build_object('embedding_tokens', coalesce((usage->>'prompt_tokens')::bigint, (usage->>'total_tokens')::bigint))
    WHEN kind = 'chat.completions' THEN
      jsonb_build_object('total_tokens', coalesce((usage->>'total_tokens')::bigint,
                         coalesce((usage->>'prompt_tokens')::bigint, 0) + coalesce((usage->>'completion_tokens')::bigint, 0)),
                         'cached_tokens', coalesce((usage->>'cached_tokens')::bigint,
                                                   (usage #>> '{prompt_tokens_details,cached_tokens}')::bigint))
    ELSE '{}'::jsonb END)
$$;

-- Locks, in one order, the wallet accounts that a batch of outcomes will
-- settle. Two workers recording batches whose users overlap would otherwise
-- lock the same accounts in different orders and deadlock (found only after
-- deadlock_timeout, a second during which both batches wait). The locks are
-- advisory (one per account, in the order of their keys), not row locks: a row
-- locked by the batch's transaction and then updated in an outcome's
-- subtransaction gets a MultiXact as its old version's xmax, which every later
-- reader of the account's row, one of the hottest of the database, must look
-- up in pg_multixact. Returns the number of accounts locked.
CREATE FUNCTION aigw.lock_outcome_accounts(p_attempts uuid[]) RETURNS bigint
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  k int;
  n bigint := 0;
BEGIN
  FOR k IN SELECT DISTINCT hashtext(t.billings #>> '{hold,accountId}')
             FROM aigw.gateway_task_attempts a JOIN aigw.gateway_tasks t ON t.id = a.task_id
            WHERE a.id = ANY (p_attempts) AND t.billings #>> '{hold,accountId}' IS NOT NULL
            ORDER BY 1
  LOOP
    -- 1634297719 is 'aigw' in ASCII: the key space of these locks
    PERFORM pg_advisory_xact_lock(1634297719, k);
    n := n + 1;
  END LOOP;
  RETURN n;
END;
$$;

-- aigw.finish_attempt: records one attempt's outcome in the caller's
-- transaction and decides what happens next (done, retry the same client,
-- next candidate, stop), applying cooldown, disable and demotion. Returns one
-- row for the worker: terminal tasks carry their result event.
CREATE FUNCTION aigw.finish_attempt(p_attempt uuid, p_outcome jsonb) RETURNS SETOF jsonb
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  a aigw.gateway_task_attempts;
  t aigw.gateway_tasks;
  pm aigw.platform_models;
  p aigw.integration_platforms;
  rset aigw.model_runtime_policy_sets;
  runner jsonb;  -- the active runner policy, read when an outcome needs it
  err jsonb;
  perr jsonb;
  usage jsonb;
  retry jsonb;
  failover jsonb;
  demote jsonb;
  same_count int;
  platforms_tried int;
  max_same int;
  max_platforms int;
  stop_reason text;
  backoff_ms numeric;
  v_seq bigint;
  v_sim boolean;
  bill jsonb;
  poll_ms numeric;
  plan_dec jsonb;
  v_outcome jsonb;
  v_event jsonb;
BEGIN
  SELECT * INTO a FROM aigw.gateway_task_attempts WHERE id = p_attempt;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  SELECT * INTO t FROM aigw.gateway_tasks WHERE id = a.task_id FOR UPDATE;
  IF t.status NOT IN ('running', 'leased', 'polling') THEN
    -- ended meanwhile (a cancel locks the task too): the attempt as it was left
    SELECT * INTO a FROM aigw.gateway_task_attempts WHERE id = p_attempt;
  END IF;
  -- a cancel of a task started at submit and not yet claimed gave the slot back itself
  IF NOT coalesce((a.response_snapshot->>'clientReleased')::boolean, false) THEN
    PERFORM aigw.client_released(a.client_id);
  END IF;
  IF a.finished_at IS NOT NULL OR t.status NOT IN ('running', 'leased', 'polling') THEN
    -- cancelled or recovered meanwhile: keep the record, change nothing else
    UPDATE aigw.gateway_task_attempts
       SET status = CASE WHEN finished_at IS NULL THEN 'skipped' ELSE status END,
           finished_at = coalesce(finished_at, now()),
           -- kept unless the attempt already has an outcome (the cancel's mark is not one)
           response_snapshot = CASE WHEN coalesce(response_snapshot - 'clientReleased', '{}') = '{}'
                                    THEN coalesce(response_snapshot, '{}') || jsonb_build_object('lateOutcome', p_outcome)
                                    ELSE response_snapshot END
     WHERE id = p_attempt;
    RETURN;
  END IF;
  SELECT * INTO p FROM aigw.integration_platforms WHERE id = a.platform_id;
  v_sim := a.simulated;
  -- the provider runs the task asynchronously: record its id (from now on the
  -- task is polled, never submitted again) and poll again later, within the
  -- runner's maxDurationSeconds
  IF coalesce((p_outcome->>'pending')::boolean, false) THEN
    runner := aigw.active_runner_policy();
    IF now() - t.created_at <= make_interval(secs => coalesce((runner->'failover_policy'->>'maxDurationSeconds')::int, 600)) THEN
      poll_ms := greatest(coalesce((p.config->>'pollIntervalMs')::int, 2000), 10);
      UPDATE aigw.gateway_tasks
         SET status = 'polling', locked_by = NULL, updated_at = now(), heartbeat_at = now(),
             remote_task_id = coalesce(remote_task_id, p_outcome->>'remoteTaskId'),
             next_run_at = now() + make_interval(secs => poll_ms / 1000.0)
       WHERE id = t.id;
      UPDATE aigw.gateway_task_attempts
         SET status = 'polling',
             response_snapshot = coalesce(response_snapshot, '{}')
               || jsonb_strip_nulls(jsonb_build_object('remoteTaskId', p_outcome->'remoteTaskId',
                                                       'progress', p_outcome->'progress',
                                                       'pollError', p_outcome->'pollError',
                                                       'polls', coalesce((response_snapshot->>'polls')::int, 0) + 1))
       WHERE id = p_attempt;
      IF t.remote_task_id IS NULL OR (p_outcome->>'progress') IS DISTINCT FROM (a.response_snapshot->>'progress') THEN
        PERFORM aigw.append_task_event(t.id, 'progress', 'polling', 'polling',
                                       least(greatest(coalesce((p_outcome->>'progress')::numeric, 0) / 100, 0), 1),
                                       CASE WHEN t.remote_task_id IS NULL THEN 'submitted; the provider runs it as '
                                                                               || (p_outcome->>'remoteTaskId')
                                            ELSE 'the provider reports progress' END,
                                       jsonb_strip_nulls(jsonb_build_object('remoteTaskId', p_outcome->'remoteTaskId',
                                                                            'progress', p_outcome->'progress')),
                                       v_sim);
      END IF;
      RETURN NEXT jsonb_build_object('requeued', true, 'task_id', t.id, 'delay_ms', poll_ms);
      RETURN;
    END IF;
    p_outcome := jsonb_build_object('ok', false, 'error', jsonb_build_object(
                   'code', 'timeout', 'status', 0, 'retryable', false,
                   'message', 'the provider did not finish the task within maxDurationSeconds'));
  END IF;
  -- the request was sent: reserved tokens become the usage reported (none: released),
  -- and the attempt's concurrency lease is given back
  IF a.request_snapshot ? 'admission' THEN
    PERFORM aigw.ratelimit_reconcile(a.request_snapshot->'admission', coalesce(p_outcome->'usage', '{}'));
  END IF;
  PERFORM aigw.concurrency_release(t.id);

  IF coalesce((p_outcome->>'ok')::boolean, false) THEN
    usage := aigw.normalize_usage(t.kind, p_outcome->'usage', p_outcome->'result', t.request);
    a.status := 'succeeded';
    a.finished_at := now();
    a.response_snapshot := jsonb_build_object('usage', usage, 'chunksSent', p_outcome->'chunksSent');
    a := aigw.update_row(a, '{status,finished_at,response_snapshot}');
    -- price with the resolver that made the estimate, settle the hold, one outbox
    -- event; the billing is stored with the outcome in one write of the task
    bill := aigw.settle_locked_task(t, a.platform_model_id, usage, jsonb_build_object('attemptId', p_attempt), false);
    -- the columns named from t, the others as the row has them now
    t.status := 'succeeded';
    t.result := p_outcome->'result';
    t.error_code := NULL;
    t.error_message := NULL;
    t.finished_at := now();
    t.updated_at := now();
    t.locked_by := NULL;
    IF coalesce((bill->>'replayed')::boolean, false) THEN
      t := aigw.update_row(t, '{status,result,error_code,error_message,finished_at,updated_at,locked_by}');
    ELSE
      t.billings := bill;
      t := aigw.update_row(t, '{status,result,error_code,error_message,finished_at,updated_at,locked_by,billings}');
    END IF;
    v_seq := aigw.append_task_event(t.id, 'completed', 'succeeded', NULL, 1, 'completed',
                                    jsonb_build_object('usage', usage, 'attempts', t.attempt_count,
                                                       'platform', p.platform_key), v_sim);
    -- the result event from the row just written and this attempt's platform
    -- (aigw.result_event would read both again)
    IF t.normalized_request ? 'channel' THEN
      v_outcome := aigw.task_outcome_of(t);  -- a variable, so that result_event_of inlines
      v_event := aigw.result_event_of(t, p, v_outcome);
    END IF;
    RETURN NEXT jsonb_build_object('terminal', true, 'task_id', t.id,
                                   'channel', t.normalized_request->>'channel', 'seq', v_seq,
                                   'event', v_event);
    RETURN;
  END IF;

  -- failure: classify and ask the policy engine
  SELECT * INTO pm FROM aigw.platform_models WHERE id = a.platform_model_id;
  runner := coalesce(runner, aigw.active_runner_policy());
  err := coalesce(p_outcome->'error', '{}');
  -- the policy engine reads the unified failure fields only
  perr := jsonb_strip_nulls(jsonb_build_object('code', err->'code', 'message', err->'message',
                                               'status', err->'status', 'retryable', err->'retryable',
                                               'localRateLimit', err->'localRateLimit'));
  SELECT * INTO rset FROM aigw.model_runtime_policy_sets
   WHERE id = coalesce(pm.runtime_policy_set_id, p.runtime_policy_set_id)
      OR (pm.runtime_policy_set_id IS NULL AND p.runtime_policy_set_id IS NULL AND policy_key = 'default-runtime-v1')
   LIMIT 1;
  retry := aigw.retry_decision(coalesce(rset.retry_policy, '{}'), perr, pm.runtime_policy_override);
  failover := aigw.failover_decision(runner, pm.runtime_policy_override, perr);
  demote := aigw.demote_decision(runner, perr);

  UPDATE aigw.gateway_task_attempts
     SET status = 'failed', finished_at = now(),
         retryable = coalesce((retry->>'retry')::boolean, false) OR coalesce((failover->>'retry')::boolean, false),
         error_code = err->>'code', error_message = err->>'message',
         response_snapshot = jsonb_build_object('error', err, 'classification', retry->'info',
                                                'retryDecision', retry - 'info',
                                                'failoverDecision', failover - 'info',
                                                'demoteDecision', demote - 'info',
                                                'usage', p_outcome->'usage',
                                                'chunksSent', p_outcome->'chunksSent')
   WHERE id = p_attempt;

  -- side effects on the platform
  IF coalesce((demote->>'demote')::boolean, false) THEN
    UPDATE aigw.integration_platforms
       SET dynamic_priority = coalesce(dynamic_priority, priority) + coalesce((demote->>'step')::int, 100),
           updated_at = now()
     WHERE id = p.id;
  END IF;
  IF failover->>'action' = 'cooldown_and_next' THEN
    UPDATE aigw.integration_platforms
       SET cooldown_until = now() + make_interval(secs => coalesce((failover->>'cooldownSeconds')::int, 300)),
           updated_at = now()
     WHERE id = p.id;
  ELSIF failover->>'action' = 'disable_and_next' THEN
    UPDATE aigw.integration_platforms
       SET status = 'exception', disabled_reason = left(coalesce(err->>'code', '') || ': ' || coalesce(err->>'message', ''), 500),
           updated_at = now()
     WHERE id = p.id AND status = 'enabled';
  END IF;

  SELECT count(*) FILTER (WHERE platform_model_id = pm.id), count(DISTINCT platform_id)
    INTO same_count, platforms_tried
    FROM aigw.gateway_task_attempts WHERE task_id = t.id;
  max_same := greatest(1, coalesce((rset.retry_policy->>'maxAttempts')::int, 1));
  max_platforms := coalesce((runner->'failover_policy'->>'maxPlatforms')::int, 99);
  -- the request's routing plan: its retry and fallback status codes (305_route_plan.sql)
  IF t.normalized_request ? 'routePlan' THEN
    plan_dec := aigw.route_plan_outcome(t.normalized_request->'routePlan', perr, retry, failover, max_same);
    retry := plan_dec->'retry';
    failover := plan_dec->'failover';
    max_same := (plan_dec->>'maxSame')::int;
    UPDATE aigw.gateway_task_attempts
       SET response_snapshot = response_snapshot || jsonb_build_object('routePlanDecision', plan_dec - 'maxSame')
     WHERE id = p_attempt;
  END IF;
  IF coalesce((p_outcome->>'chunksSent')::int, 0) > 0 THEN
    stop_reason := 'stream_already_started';
  ELSIF now() - t.created_at > make_interval(secs => coalesce((runner->'failover_policy'->>'maxDurationSeconds')::int, 600)) THEN
    stop_reason := 'max_duration_exceeded';
  ELSIF t.attempt_count >= t.max_attempts THEN
    stop_reason := 'max_attempts_reached';
  END IF;

  IF stop_reason IS NULL AND coalesce((retry->>'retry')::boolean, false) AND same_count < max_same THEN
    backoff_ms := least(coalesce((rset.retry_policy->>'backoffMs')::numeric, 500)
                        * power(coalesce((rset.retry_policy->>'backoffMultiplier')::numeric, 2), same_count - 1),
                        coalesce((rset.retry_policy->>'maxBackoffMs')::numeric, 5000));
    UPDATE aigw.gateway_tasks
       SET status = 'queued', locked_by = NULL, next_run_at = now() + make_interval(secs => backoff_ms / 1000.0),
           error_code = err->>'code', error_message = err->>'message', updated_at = now(),
           normalized_request = normalized_request || jsonb_build_object('retrySame', pm.id, 'lastError', err)
     WHERE id = t.id;
    PERFORM aigw.append_task_event(t.id, 'queue_status', 'queued', 'queued', NULL,
                                   'retrying the same client: ' || coalesce(err->>'code', 'error'),
                                   jsonb_build_object('decision', 'retry_same_client', 'retry', retry - 'info',
                                                      'backoffMs', backoff_ms), v_sim);
    RETURN NEXT jsonb_build_object('requeued', true, 'task_id', t.id, 'delay_ms', backoff_ms);
    RETURN;
  END IF;

  IF stop_reason IS NULL AND coalesce((failover->>'retry')::boolean, false)
     AND failover->>'action' <> 'stop' AND platforms_tried < max_platforms THEN
    UPDATE aigw.gateway_tasks
       SET status = 'queued', locked_by = NULL, next_run_at = now(),
           error_code = err->>'code', error_message = err->>'message', updated_at = now(),
           normalized_request = (normalized_request - 'retrySame')
             || jsonb_build_object('exclude', coalesce(normalized_request->'exclude', '[]') || to_jsonb(pm.id::text),
                                   'lastError', err)
     WHERE id = t.id;
    PERFORM aigw.append_task_event(t.id, 'queue_status', 'queued', 'routing', NULL,
                                   'failing over from ' || p.platform_key || ': ' || coalesce(err->>'code', 'error'),
                                   jsonb_build_object('decision', 'next_candidate', 'failover', failover - 'info'),
                                   v_sim);
    RETURN NEXT jsonb_build_object('requeued', true, 'task_id', t.id);
    RETURN;
  END IF;

  UPDATE aigw.gateway_tasks
     SET status = 'failed_final', locked_by = NULL, finished_at = now(), updated_at = now(),
         error_code = coalesce(err->>'code', 'provider_error'), error_message = err->>'message',
         normalized_request = normalized_request || jsonb_build_object('lastError', err),
         billings = coalesce(billings, '{}') || jsonb_build_object('phase', 'failed', 'charged', 0,
                      'usage', aigw.normalize_usage(t.kind, p_outcome->'usage', NULL, t.request))
   WHERE id = t.id;
  PERFORM aigw.release_task(t.id, 'failed');
  v_seq := aigw.append_task_event(t.id, 'failed', 'failed_final', NULL, NULL, err->>'message',
                                  jsonb_build_object('code', err->>'code', 'stopReason',
                                                     coalesce(stop_reason, failover->>'reason'),
                                                     'failover', failover - 'info'), v_sim);
  RETURN NEXT jsonb_build_object('terminal', true, 'task_id', t.id,
                                 'channel', t.normalized_request->>'channel', 'seq', v_seq,
                                 'event', CASE WHEN t.normalized_request ? 'channel' THEN aigw.result_event(t.id) END);
END;
$$;

-- aigw.reap: the recovery table of seed 003 §11.2, run by the reaper every
-- aigw.reaper_interval. Tasks locked before the server started, or whose
-- worker stopped sending heartbeats, are recovered. Returns how many tasks
-- went back to the queue.
CREATE FUNCTION aigw.reap() RETURNS int
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  stale timestamptz := now() - current_setting('aigw.task_lease_timeout')::interval;
  started timestamptz := aigw.runtime_started_at();
  r record;
  requeued int := 0;
BEGIN
  -- failed_retryable whose time has come: back to the queue
  UPDATE aigw.gateway_tasks SET status = 'queued', locked_by = NULL, updated_at = now()
   WHERE status = 'failed_retryable' AND next_run_at <= now() AND attempt_count < max_attempts;
  GET DIAGNOSTICS requeued = ROW_COUNT;
  PERFORM aigw.release_task(id, 'failed')
     FROM aigw.gateway_tasks WHERE status = 'failed_retryable' AND attempt_count >= max_attempts;
  UPDATE aigw.gateway_tasks SET status = 'failed_final', finished_at = now(), updated_at = now()
   WHERE status = 'failed_retryable' AND attempt_count >= max_attempts;

  FOR r IN SELECT t.id, t.status, t.remote_task_id, t.run_mode
             FROM aigw.gateway_tasks t
            WHERE t.status IN ('leased', 'running', 'polling')
              -- a polling task between two polls is held by no worker
              AND NOT (t.status = 'polling' AND t.locked_by IS NULL)
              AND (coalesce(t.heartbeat_at, t.locked_at, t.updated_at) < stale
                   OR t.locked_at < started)
            FOR UPDATE SKIP LOCKED
  LOOP
    IF r.status = 'leased' THEN
      -- leased but never started: release the lock (an attempt already written is closed)
      UPDATE aigw.gateway_task_attempts
         SET status = 'failed', finished_at = now(), error_code = 'network',
             error_message = 'the worker stopped before the call'
       WHERE task_id = r.id AND finished_at IS NULL;
      PERFORM aigw.concurrency_release(r.id);
      UPDATE aigw.gateway_tasks SET status = 'queued', locked_by = NULL, updated_at = now() WHERE id = r.id;
      PERFORM aigw.append_task_event(r.id, 'queue_status', 'queued', 'queued', NULL,
                                     'lease expired; back in the queue', '{}', r.run_mode = 'simulation');
      requeued := requeued + 1;
    ELSIF r.remote_task_id IS NOT NULL THEN
      -- submitted to the provider: poll the remote task again at once, never submit again
      UPDATE aigw.gateway_tasks SET status = 'polling', locked_by = NULL, next_run_at = now(), updated_at = now()
       WHERE id = r.id;
      PERFORM aigw.client_released(a.client_id)
         FROM aigw.gateway_task_attempts a WHERE a.task_id = r.id AND a.finished_at IS NULL;
      PERFORM aigw.append_task_event(r.id, 'queue_status', 'polling', 'polling', NULL,
                                     'worker lost; resuming the remote task', '{}', r.run_mode = 'simulation');
      requeued := requeued + 1;
    ELSE
      -- running without a remote task: the call is treated as failed before
      -- submission and goes through the retry and failover policy
      PERFORM aigw.finish_attempt(a.id, jsonb_build_object('ok', false, 'error', jsonb_build_object(
                'code', 'network', 'message', 'the worker stopped during the call', 'status', 0,
                'retryable', true)))
         FROM aigw.gateway_task_attempts a
        WHERE a.task_id = r.id AND a.finished_at IS NULL;
      IF NOT FOUND THEN
        UPDATE aigw.gateway_tasks SET status = 'queued', locked_by = NULL, updated_at = now() WHERE id = r.id;
      END IF;
      requeued := requeued + 1;
    END IF;
  END LOOP;
  -- expired concurrency leases and the durable copy of rate-limit windows
  PERFORM aigw.ratelimit_maintain();
  -- the live client states, copied for the console and for the router's waiting counts
  PERFORM aigw.client_states_flush();
  -- retention: finished tasks older than aigw.task_retention, a batch per pass
  IF aigw.task_retention() IS NOT NULL THEN
    PERFORM aigw.purge_finished_tasks(aigw.task_retention(), 1000);
  END IF;
  RETURN requeued;
END;
$$;

-- Ends an attempt's task failed_final when its outcome could not be recorded.
CREATE FUNCTION aigw.fail_attempt_internal(p_attempt uuid, p_reason text) RETURNS SETOF jsonb
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  a aigw.gateway_task_attempts;
  t aigw.gateway_tasks;
  v_seq bigint;
BEGIN
  SELECT * INTO a FROM aigw.gateway_task_attempts WHERE id = p_attempt;
  SELECT * INTO t FROM aigw.gateway_tasks WHERE id = a.task_id FOR UPDATE;
  IF NOT FOUND OR t.status NOT IN ('running', 'leased', 'polling') THEN
    RETURN;
  END IF;
  UPDATE aigw.gateway_task_attempts SET status = 'failed', finished_at = now(), error_code = 'internal_error',
         error_message = p_reason WHERE id = p_attempt AND finished_at IS NULL;
  UPDATE aigw.gateway_tasks SET status = 'failed_final', locked_by = NULL, finished_at = now(), updated_at = now(),
         error_code = 'internal_error', error_message = 'could not record the outcome: ' || p_reason
   WHERE id = t.id;
  PERFORM aigw.release_task(t.id, 'failed');
  v_seq := aigw.append_task_event(t.id, 'failed', 'failed_final', NULL, NULL, p_reason, '{}', a.simulated);
  RETURN NEXT jsonb_build_object('terminal', true, 'task_id', t.id, 'channel', t.normalized_request->>'channel',
                                 'seq', v_seq, 'event', CASE WHEN t.normalized_request ? 'channel' THEN aigw.result_event(t.id) END);
END;
$$;
