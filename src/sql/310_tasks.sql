-- Task submission, outcome and cancellation (seed 003 §11.1, §13.1).

-- HTTP status a failed task answers with.
CREATE FUNCTION aigw.error_http_status(code text, provider_status int, status text) RETURNS int
  LANGUAGE sql IMMUTABLE
  RETURN CASE
    WHEN status = 'cancelled' THEN 499
    WHEN code IN ('no_available_candidate') THEN 503
    WHEN code IN ('rate_limit', 'rate_limit_exceeded') THEN 429
    WHEN code IN ('timeout') THEN 504
    WHEN provider_status BETWEEN 400 AND 499 THEN provider_status
    ELSE 502
  END;

-- OpenAI error type of a failed task.
CREATE FUNCTION aigw.error_type(code text, status text) RETURNS text
  LANGUAGE sql IMMUTABLE
  RETURN CASE
    WHEN status = 'cancelled' THEN 'cancelled'
    WHEN code IN ('rate_limit', 'rate_limit_exceeded') THEN 'rate_limit_error'
    WHEN code IN ('invalid_request', 'bad_request', 'invalid_parameter', 'missing_required') THEN 'invalid_request_error'
    ELSE 'api_error'
  END;

-- The outcome of a terminal task row as the front and SQL callers see it, or
-- NULL. An expression of the row, so that a query that reads the row inlines it
-- (aigw.await_task reads it that way; aigw.task_outcome by id is the same).
CREATE FUNCTION aigw.task_outcome_of(t aigw.gateway_tasks) RETURNS jsonb
  LANGUAGE sql STABLE
  RETURN CASE
    WHEN t.status = 'succeeded' THEN jsonb_build_object(
      'taskId', t.id, 'status', t.status, 'httpStatus', 200, 'body', t.result,
      'billings', t.billings, 'attempts', t.attempt_count, 'simulated', t.run_mode = 'simulation')
    WHEN t.status IN ('failed_final', 'cancelled') THEN jsonb_build_object(
      'taskId', t.id, 'status', t.status,
      'httpStatus', aigw.error_http_status(t.error_code, (t.normalized_request #>> '{lastError,status}')::int, t.status),
      'body', jsonb_build_object('error', jsonb_build_object(
                'message', t.error_message, 'type', aigw.error_type(t.error_code, t.status),
                'code', t.error_code)),
      'attempts', t.attempt_count, 'simulated', t.run_mode = 'simulation')
  END;

-- The outcome of a terminal task, or NULL.
CREATE FUNCTION aigw.task_outcome(p_task uuid) RETURNS jsonb
  LANGUAGE sql STABLE
AS $$
  SELECT aigw.task_outcome_of(t) FROM aigw.gateway_tasks t WHERE t.id = p_task
$$;

-- Validates a request for a kind; raises 22023 naming the problem (C:
-- src/requests.c): the kind, an object with a model, the field the kind
-- needs (chat messages, an embeddings or speech input, an image or video
-- prompt), n within 1..16 and max_tokens at least 1 when given.
CREATE FUNCTION aigw.validate_task_request(kind text, request jsonb) RETURNS void
  LANGUAGE c IMMUTABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_validate_task_request';

-- The camelCase identity the pricing and wallet functions read, from an
-- identity given in either camelCase (HTTP entry, server-main) or snake_case:
-- userId, gatewayUserId, tenantId, tenantKey, gatewayTenantId, apiKeyId,
-- userGroupId, userGroupKey, userSource (snake_case source), identityMode and
-- role, each as text, those with no value left out (C: src/requests.c).
CREATE FUNCTION aigw.task_identity(identity jsonb) RETURNS jsonb
  LANGUAGE c IMMUTABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_task_identity';

-- A slot in a task's queue (queue_size at every scope that limits it) for a task
-- that waits for a lease; a full queue raises AG429 (AG413 for a request larger
-- than a limit) with the Retry-After in the hint.
CREATE FUNCTION aigw.submit_queue_admission(p_queue text, p_provider text, p_platform text,
                                            p_platform_model uuid, p_kind text, identity jsonb, p_user text)
  RETURNS jsonb
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  v_queue jsonb;
BEGIN
  v_queue := aigw.ratelimit_admit(aigw.ratelimit_requirements(jsonb_strip_nulls(jsonb_build_object(
               'queue', p_queue, 'provider', p_provider, 'platform', p_platform,
               'platformModel', p_platform_model, 'method', p_kind,
               'tenant', coalesce(identity->>'tenant_key', identity->>'tenantKey', identity->>'tenant_id', identity->>'tenantId'),
               'userGroup', coalesce(identity->>'user_group_key', identity->>'userGroupKey'),
               'user', p_user, 'apiKey', coalesce(identity->>'api_key_id', identity->>'apiKeyId'),
               'metrics', '["queue_size"]'::jsonb))));
  IF NOT (v_queue->>'admitted')::boolean THEN
    RAISE EXCEPTION '%', aigw.ratelimit_refusal_response(v_queue)->'body'->'error'->>'message'
      USING ERRCODE = CASE WHEN v_queue->>'reason' = 'exceeds_limit' THEN 'AG413' ELSE 'AG429' END,
            HINT = 'retry-after: ' || coalesce(v_queue->>'retryAfterSeconds', '1');
  END IF;
  RETURN v_queue;
END;
$$;

-- aigw.submit_task: validates, routes (at least one candidate must exist),
-- inserts the task (queued, or running when it starts here) and its first
-- event, and hands it to a worker at commit.
-- identity: {user_id, gateway_user_id, tenant_id, tenant_key, gateway_tenant_id,
--            api_key_id, user_group_id, user_group_key, source}
-- options: {channel, stream, testMode, platform, idempotencyKey, priority,
--           simulationProfile, externalTaskId}
CREATE FUNCTION aigw.submit_task(kind text, request jsonb, identity jsonb DEFAULT '{}',
                                 options jsonb DEFAULT '{}')
  RETURNS uuid
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  v_mtype text;
  v_model text;
  v_stream boolean;
  v_run_mode text;
  v_user text := coalesce(identity->>'user_id', 'anonymous');
  v_existing uuid;
  v_task uuid;
  v_opts jsonb;
  first_candidate record;
  v_max_attempts int;
  v_queue jsonb;
  v_billings jsonb;
  v_est_request jsonb;
  v_plan jsonb;
  v_gw jsonb;
  v_row aigw.gateway_tasks;
  v_reqs jsonb;
  v_admission jsonb;
  v_started boolean := false;
  v_sim boolean := false;
  v_payload jsonb;
  v_pm aigw.platform_models;
  v_p aigw.integration_platforms;
  v_conflict text;
BEGIN
  PERFORM aigw.validate_task_request(kind, request);
  v_mtype := aigw.model_type_of_kind(kind);
  v_model := request->>'model';
  v_stream := coalesce((request->>'stream')::boolean, false) AND kind = 'chat.completions';
  IF options->>'idempotencyKey' IS NOT NULL THEN
    SELECT id INTO v_existing FROM aigw.gateway_tasks
     WHERE gateway_tasks.user_id = v_user AND idempotency_key = options->>'idempotencyKey';
    IF FOUND THEN
      RETURN v_existing;
    END IF;
  END IF;
  v_run_mode := CASE
    WHEN options->>'testMode' = 'simulation' OR current_setting('aigw.run_mode') = 'simulation'
      THEN 'simulation' ELSE 'production' END;
  -- access_control, feature_flags, the routing plan (x-portkey-config or gateway_routing) and
  -- the principal's rate_limits (305_route_plan.sql)
  v_gw := aigw.submit_gateway_config(kind, request, identity, options);
  v_plan := v_gw->'routePlan';
  v_opts := jsonb_strip_nulls(jsonb_build_object(
    'stream', v_stream, 'platform', options->>'platform',
    'request', request || jsonb_build_object('kind', kind), 'routePlan', v_plan));
  -- without a routing plan, the router's query inlined in this one (aigw.route_ranked)
  IF v_plan IS NULL THEN
    SELECT * INTO first_candidate FROM aigw.route_ranked(v_model, v_mtype, identity, v_opts) LIMIT 1;
  ELSE
    SELECT * INTO first_candidate FROM aigw.route_candidates(v_model, v_mtype, identity, v_opts) LIMIT 1;
  END IF;
  IF NOT FOUND AND v_plan IS NOT NULL THEN
    PERFORM aigw.route_plan_unavailable(v_model, v_mtype, identity, v_opts);
  END IF;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'model "%" is not available', v_model
      USING ERRCODE = '42704',
            DETAIL = (SELECT string_agg(c.platform_key || ': ' || c.reason, '; ')
                        FROM aigw.route_consider(v_model, v_mtype, identity, v_opts) c),
            HINT = 'aigw.route_explain(request) tells why each platform was left out.';
  END IF;
  -- started here when a worker of this database can take it and the routed
  -- candidate's rate limits admit it (below): the task is written running, its
  -- attempt counted, and the worker gets what to call with the hand-off, with
  -- no lease and no second routing; otherwise it waits in the queue for a lease
  v_started := aigw.start_at_submit();
  IF v_started THEN
    -- the routed platform model and its platform, read once for the rate limits and the attempt
    SELECT * INTO v_pm FROM aigw.platform_models WHERE id = first_candidate.platform_model_id;
    SELECT * INTO v_p FROM aigw.integration_platforms WHERE id = first_candidate.platform_id;
    v_sim := v_run_mode = 'simulation' OR coalesce(first_candidate.provider_type = 'simulation', false)
             OR coalesce(v_p.config->>'testMode' IN ('simulation', 'true'), false);
  ELSE
    v_queue := aigw.submit_queue_admission(first_candidate.platform_key || '/' || first_candidate.model_name,
                                           first_candidate.provider, first_candidate.platform_key,
                                           first_candidate.platform_model_id, kind, identity, v_user);
  END IF;
  SELECT greatest(1, least(coalesce((r.failover_policy->>'maxPlatforms')::int, 99), 99)
                     * greatest(1, coalesce((s.retry_policy->>'maxAttempts')::int, 1)))
    INTO v_max_attempts
    FROM aigw.gateway_runner_policies r, aigw.model_runtime_policy_sets s
   WHERE r.policy_key = 'default-runner-v1' AND s.policy_key = 'default-runtime-v1';
  v_max_attempts := aigw.route_plan_max_attempts(v_plan, v_max_attempts);

  -- what the estimate prices: the request, and with a routing plan its first candidate's model;
  -- a task simulated by the run mode or its test mode is a dry run, holding nothing in a wallet
  v_est_request := submit_task.request || jsonb_build_object('kind', submit_task.kind)
                   || CASE WHEN v_plan IS NOT NULL THEN jsonb_build_object(
                        'model', first_candidate.model_name, 'platform', first_candidate.platform_key) ELSE '{}' END
                   || CASE WHEN v_run_mode = 'simulation' THEN '{"test_mode": true}'::jsonb ELSE '{}' END;
  -- without an idempotency key the task cannot collide: its estimate (and the
  -- wallet hold) is made first and the row is written once
  v_task := uuidv7();
  IF options->>'idempotencyKey' IS NULL THEN
    v_billings := aigw.preauthorize_task(v_task, v_est_request, aigw.task_identity(identity))
                  || jsonb_build_object('phase', 'estimate');
  END IF;
  -- the row, written without the executor (aigw.insert_row: its NULL columns take their defaults)
  v_row.id := v_task;
  v_row.billings := v_billings;
  v_row.external_task_id := options->>'externalTaskId';
  v_row.kind := kind;
  v_row.run_mode := CASE WHEN v_sim THEN 'simulation' ELSE v_run_mode END;
  v_row.user_id := v_user;
  v_row.gateway_user_id := (identity->>'gateway_user_id')::uuid;
  v_row.user_source := coalesce(identity->>'source', 'gateway');
  v_row.gateway_tenant_id := (identity->>'gateway_tenant_id')::uuid;
  v_row.tenant_id := identity->>'tenant_id';
  v_row.tenant_key := identity->>'tenant_key';
  v_row.api_key_id := identity->>'api_key_id';
  v_row.user_group_id := (identity->>'user_group_id')::uuid;
  v_row.user_group_key := identity->>'user_group_key';
  v_row.model := v_model;
  v_row.model_type := v_mtype;
  v_row.request := request;
  v_row.normalized_request := jsonb_strip_nulls(jsonb_build_object(
       'channel', options->>'channel', 'stream', v_stream, 'platform', options->>'platform',
       'clientIncludeUsage', coalesce((request #>> '{stream_options,include_usage}')::boolean, false),
       'identity', identity, 'exclude', '[]'::jsonb, 'queueAdmission', v_queue, 'routePlan', v_plan,
       'configRateLimits', v_gw->'rateLimits', 'routed', first_candidate.platform_model_id));
  v_row.status := CASE WHEN v_started THEN 'running' ELSE 'queued' END;
  v_row.queue_key := first_candidate.platform_key || '/' || first_candidate.model_name;
  v_row.priority := coalesce((options->>'priority')::int, 100);
  v_row.idempotency_key := options->>'idempotencyKey';
  v_row.simulation_profile := coalesce(options->'simulationProfile', request->'simulation_profile');
  v_row.simulation_seed := options->>'simulationSeed';
  v_row.max_attempts := v_max_attempts;
  v_row.locked_by := CASE WHEN v_started THEN 'handoff' END;
  v_row.locked_at := CASE WHEN v_started THEN now() END;
  v_row.heartbeat_at := CASE WHEN v_started THEN now() END;
  v_row.attempt_count := CASE WHEN v_started THEN 1 ELSE 0 END;
  IF v_row.idempotency_key IS NULL THEN
    v_row := aigw.insert_row(v_row);
  ELSE
    -- a key already used (or being used by a submit that then commits): its task, below
    BEGIN
      v_row := aigw.insert_row(v_row);
    EXCEPTION WHEN unique_violation THEN
      GET STACKED DIAGNOSTICS v_conflict = CONSTRAINT_NAME;
      IF v_conflict <> 'uniq_gateway_tasks_idempotency' THEN
        RAISE;
      END IF;
      v_row := NULL;
    END;
  END IF;
  v_task := v_row.id;
  IF v_task IS NULL THEN
    SELECT id INTO v_task FROM aigw.gateway_tasks
     WHERE gateway_tasks.user_id = v_user AND idempotency_key = options->>'idempotencyKey';
    RETURN v_task;
  END IF;
  -- with an idempotency key: the estimate, and for wallet users a hold of it
  -- (AGW01 when the balance is short), once the row is known to be new
  IF v_billings IS NULL THEN
    UPDATE aigw.gateway_tasks
       SET billings = aigw.preauthorize_task(v_task, v_est_request, aigw.task_identity(identity))
                      || jsonb_build_object('phase', 'estimate')
     WHERE id = v_task;
  END IF;
  IF v_started THEN
    v_reqs := aigw.attempt_rate_limits_of(v_row, v_pm, v_p);
    v_admission := aigw.ratelimit_admit(v_reqs, v_task, NULL);
    IF (v_admission->>'admitted')::boolean THEN
      -- the task row already says running with this attempt counted: the
      -- attempt, the client's count and the 'running' event (the task was
      -- never visible queued, so it has no 'queued' event)
      v_payload := aigw.start_attempt_on(v_row, v_pm, v_p, first_candidate.provider_type,
                                         'handoff', uuidv7(), v_admission, v_reqs, true, true);
    ELSE
      -- the rate limits refused it: into the queue after all, with a queue slot
      v_started := false;
      v_queue := aigw.submit_queue_admission(first_candidate.platform_key || '/' || first_candidate.model_name,
                                             first_candidate.provider, first_candidate.platform_key,
                                             first_candidate.platform_model_id, kind, identity, v_user);
      UPDATE aigw.gateway_tasks
         SET status = 'queued', run_mode = v_run_mode, locked_by = NULL, locked_at = NULL, heartbeat_at = NULL,
             attempt_count = 0, normalized_request = normalized_request || jsonb_build_object('queueAdmission', v_queue)
       WHERE id = v_task;
    END IF;
  END IF;
  IF NOT v_started THEN
    PERFORM aigw.append_task_event(v_task, 'queue_status', 'queued', 'queued', 0, 'queued',
                                   jsonb_build_object('model', v_model, 'kind', kind),
                                   v_run_mode = 'simulation' OR first_candidate.provider_type = 'simulation');
  END IF;
  -- the worker gets what to call with the task (aigw.wake_workers_at_commit)
  PERFORM aigw.wake_workers_at_commit(v_task, v_started, v_payload);
  RETURN v_task;
END;
$$;

-- Gives back a task's queue slot the first time it leaves the queue (started,
-- ended or cancelled); later calls do nothing.
CREATE FUNCTION aigw.task_leaves_queue(p_task uuid) RETURNS void
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  adm jsonb;
BEGIN
  UPDATE aigw.gateway_tasks t SET normalized_request = t.normalized_request - 'queueAdmission'
    FROM (SELECT id, normalized_request->'queueAdmission' AS a FROM aigw.gateway_tasks WHERE id = p_task) o
   WHERE t.id = o.id AND o.a IS NOT NULL
  RETURNING o.a INTO adm;
  IF adm IS NOT NULL AND (adm->>'admitted')::boolean THEN
    PERFORM aigw.ratelimit_release(adm);
  END IF;
END;
$$;

-- Cancels a task that is not terminal; returns true when it was cancelled.
CREATE FUNCTION aigw.cancel_task(p_task uuid, p_reason text DEFAULT 'cancelled by the client')
  RETURNS boolean
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  t aigw.gateway_tasks;
  v_seq bigint;
BEGIN
  SELECT * INTO t FROM aigw.gateway_tasks WHERE id = p_task FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'task % does not exist', p_task USING ERRCODE = '42704';
  END IF;
  IF t.status IN ('succeeded', 'failed_final', 'cancelled') THEN
    RETURN false;
  END IF;
  -- started at submit and not claimed by a worker yet (the claim needs this row's
  -- lock and locked_by 'handoff'): the client slot is given back here, and the
  -- attempt says so, for a worker that started the call from the hand-off
  -- without a claim (its late outcome must not give the slot back again)
  IF t.locked_by = 'handoff' THEN
    PERFORM aigw.client_released(a.client_id)
       FROM aigw.gateway_task_attempts a WHERE a.task_id = p_task AND a.finished_at IS NULL;
  END IF;
  UPDATE aigw.gateway_tasks
     SET status = 'cancelled', error_code = 'cancelled', error_message = p_reason,
         finished_at = now(), updated_at = now(), locked_by = NULL
   WHERE id = p_task;
  UPDATE aigw.gateway_task_attempts SET status = 'skipped', error_code = 'cancelled',
         error_message = p_reason, finished_at = now(),
         response_snapshot = CASE WHEN t.locked_by = 'handoff'
                                  THEN coalesce(response_snapshot, '{}') || '{"clientReleased": true}'
                                  ELSE response_snapshot END
   WHERE task_id = p_task AND finished_at IS NULL;
  PERFORM aigw.release_task(p_task, 'cancelled');
  PERFORM aigw.concurrency_release(p_task);
  PERFORM aigw.task_leaves_queue(p_task);
  -- a task the provider runs asynchronously is cancelled there too (outbox worker)
  PERFORM aigw.queue_provider_cancel(t);
  v_seq := aigw.append_task_event(p_task, 'failed', 'cancelled', NULL, NULL, p_reason, '{}',
                                  t.run_mode = 'simulation');
  -- at commit: a call in flight ends (its worker drops the connection), a front
  -- streaming the task gets its result, and SQL waiters wake
  PERFORM aigw.cancel_at_commit(p_task, t.status IN ('leased', 'running', 'polling'),
                                t.normalized_request->>'channel', v_seq,
                                CASE WHEN t.normalized_request ? 'channel' THEN aigw.result_event(p_task) END);
  RETURN true;
END;
$$;
