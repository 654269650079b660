-- Task runtime: routing, submission, leasing, outcomes and recovery
-- (seed 003 §8, §11, §13; docs/runtime.md).

CREATE FUNCTION aigw.wake_workers_at_commit(task uuid DEFAULT NULL, started boolean DEFAULT false,
                                            payload jsonb DEFAULT NULL) RETURNS void
  LANGUAGE c VOLATILE
  AS 'MODULE_PATHNAME', 'aigw_wake_workers_at_commit';
COMMENT ON FUNCTION aigw.wake_workers_at_commit(uuid, boolean, jsonb) IS
  'wakes the task workers when the current transaction commits; a task named is handed to them: to lease by id, without a queue scan, or, started at submit, to call (with payload, what to call, without a claim)';

-- Inserts a row of a table of schema aigw, its NULL columns taking their
-- defaults, and returns the row written: the INSERT ... RETURNING * of the
-- rows every task writes, with heap and index calls instead of a statement
-- (C: src/rowwrite.c, which checks what the statement would check, and runs
-- the statement for a table with anything it does not do).
CREATE FUNCTION aigw.insert_row(r anyelement) RETURNS anyelement
  LANGUAGE c VOLATILE
  AS 'MODULE_PATHNAME', 'aigw_insert_row';
COMMENT ON FUNCTION aigw.insert_row(anyelement) IS
  'inserts a row of an aigw table (NULL columns take their defaults) and returns it as written, as INSERT ... RETURNING * would';

-- Updates the columns named of the row of the same table with the row's
-- primary key to the row's values and returns the row written, as UPDATE ...
-- SET those columns WHERE the key matches RETURNING * would (NULL when no row
-- has the key), with heap and index calls (C: src/rowwrite.c; the statement
-- for a table with anything the direct update does not do).
CREATE FUNCTION aigw.update_row(r anyelement, columns text[]) RETURNS anyelement
  LANGUAGE c VOLATILE
  AS 'MODULE_PATHNAME', 'aigw_update_row';
COMMENT ON FUNCTION aigw.update_row(anyelement, text[]) IS
  'updates the columns named of the aigw table row with the row''s primary key to the row''s values and returns it as written, as UPDATE ... RETURNING * would (NULL: no such row)';

CREATE FUNCTION aigw.cancel_at_commit(task uuid, abort_call boolean, channel text, seq bigint, event jsonb)
  RETURNS void
  LANGUAGE c VOLATILE
  AS 'MODULE_PATHNAME', 'aigw_cancel_at_commit';
COMMENT ON FUNCTION aigw.cancel_at_commit(uuid, boolean, text, bigint, jsonb) IS
  'what aigw.cancel_task does when the current transaction commits: the worker calling the task ends the call (abort_call), the result event is posted to the channel of the front streaming the task, and SQL waiters wake';

CREATE FUNCTION aigw.start_at_submit() RETURNS boolean
  LANGUAGE c VOLATILE
  AS 'MODULE_PATHNAME', 'aigw_start_at_submit';
COMMENT ON FUNCTION aigw.start_at_submit() IS
  'true when aigw.start_at_submit is on and the task workers of this database have a free call slot beyond the tasks waiting in the handoff ring: aigw.submit_task may start the task itself';

CREATE FUNCTION aigw.channel_wait(channel text, timeout_ms integer)
  RETURNS TABLE (task_id uuid, seq bigint, event text, data text)
  LANGUAGE c VOLATILE STRICT
  AS 'MODULE_PATHNAME', 'aigw_channel_wait';
COMMENT ON FUNCTION aigw.channel_wait(text, integer) IS
  'events (chunk, result, progress) queued on a channel, waiting up to timeout_ms for the first';

CREATE FUNCTION aigw.await_task(task_id uuid, timeout_ms integer) RETURNS jsonb
  LANGUAGE c VOLATILE STRICT
  AS 'MODULE_PATHNAME', 'aigw_await_task';
COMMENT ON FUNCTION aigw.await_task(uuid, integer) IS
  'waits until the task is terminal and returns aigw.task_outcome, or NULL after timeout_ms; 55000 for a task submitted by the calling transaction';

CREATE FUNCTION aigw.runtime_started_at() RETURNS timestamptz
  LANGUAGE c VOLATILE
  AS 'MODULE_PATHNAME', 'aigw_runtime_started_at';
COMMENT ON FUNCTION aigw.runtime_started_at() IS
  'when the runtime''s shared memory was initialised (server start or crash restart)';

CREATE FUNCTION aigw.client_assigned(client text, platform uuid, provider text, method text,
                                     limiter_ratio numeric) RETURNS boolean
  LANGUAGE c VOLATILE
  AS 'MODULE_PATHNAME', 'aigw_client_assigned';
COMMENT ON FUNCTION aigw.client_assigned(text, uuid, text, text, numeric) IS
  'a task started on the client: running count + 1, last assignment now (shared memory; undone if the transaction aborts)';
CREATE FUNCTION aigw.client_released(client text) RETURNS void
  LANGUAGE c VOLATILE
  AS 'MODULE_PATHNAME', 'aigw_client_released';
COMMENT ON FUNCTION aigw.client_released(text) IS
  'a task on the client ended: running count - 1 (shared memory; undone if the transaction aborts)';
CREATE FUNCTION aigw.client_state(client text, OUT running_count int, OUT limiter_ratio numeric,
                                  OUT last_assigned_at timestamptz)
  LANGUAGE c VOLATILE STRICT
  AS 'MODULE_PATHNAME', 'aigw_client_state';
COMMENT ON FUNCTION aigw.client_state(text) IS
  'the live state of a client (platform_key/model_name), NULL when nothing started on it since the server started';
CREATE FUNCTION aigw.client_states()
  RETURNS TABLE (client_id text, platform_id uuid, provider text, method_name text, running_count int,
                 limiter_ratio numeric, last_assigned_at timestamptz)
  LANGUAGE c VOLATILE
  AS 'MODULE_PATHNAME', 'aigw_client_states';
COMMENT ON FUNCTION aigw.client_states() IS
  'the live state of every client the runtime has started tasks on';

-- Copies the live client states to runtime_client_states (the reaper, every
-- pass), with each client's waiting count; returns the rows written.
CREATE FUNCTION aigw.client_states_flush() RETURNS int
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  n int;
BEGIN
  WITH live AS (SELECT * FROM aigw.client_states()),
  waiting AS (
    SELECT queue_key, count(*)::int AS n FROM aigw.gateway_tasks WHERE status = 'queued' GROUP BY queue_key)
  INSERT INTO aigw.runtime_client_states AS s
    (client_id, platform_id, provider, method_name, queue_key, running_count, waiting_count, limiter_ratio,
     last_assigned_at, updated_at)
  SELECT l.client_id, l.platform_id, l.provider, l.method_name, l.client_id, l.running_count,
         coalesce(w.n, 0), l.limiter_ratio, l.last_assigned_at, now()
    FROM live l LEFT JOIN waiting w ON w.queue_key = l.client_id
   WHERE EXISTS (SELECT 1 FROM aigw.integration_platforms p WHERE p.id = l.platform_id)
  ON CONFLICT (client_id) DO UPDATE
    SET running_count = EXCLUDED.running_count, waiting_count = EXCLUDED.waiting_count,
        limiter_ratio = EXCLUDED.limiter_ratio, last_assigned_at = EXCLUDED.last_assigned_at,
        platform_id = EXCLUDED.platform_id, updated_at = now()
  WHERE (s.running_count, s.waiting_count, s.limiter_ratio, s.last_assigned_at)
        IS DISTINCT FROM (EXCLUDED.running_count, EXCLUDED.waiting_count, EXCLUDED.limiter_ratio,
                          EXCLUDED.last_assigned_at);
  GET DIAGNOSTICS n = ROW_COUNT;
  -- a client with no live state has had nothing started on it since the server started
  UPDATE aigw.runtime_client_states s SET running_count = 0, updated_at = now()
   WHERE s.running_count <> 0 AND NOT EXISTS (SELECT 1 FROM aigw.client_states() l WHERE l.client_id = s.client_id);
  RETURN n;
END;
$$;

-- The active runner policy as the policy engine reads it.
CREATE FUNCTION aigw.active_runner_policy() RETURNS jsonb
  LANGUAGE sql STABLE
  RETURN (SELECT to_jsonb(r) FROM aigw.gateway_runner_policies r
          WHERE r.policy_key = 'default-runner-v1');

-- Every platform model a request could name, with the reason it is left out
-- (NULL when eligible) and its place in the order. route_ranked (so
-- route_candidates) and route_explain both read this, so they cannot disagree.
CREATE FUNCTION aigw.route_consider(model text, model_type text, identity jsonb, options jsonb,
                                    exclude uuid[] DEFAULT '{}')
  RETURNS TABLE (platform_model_id uuid, platform_id uuid, platform_key text, provider text,
                 provider_type text, model_name text, group_priority int, effective_priority int,
                 limiter_ratio numeric, waiting_count int, last_assigned_at timestamptz, reason text)
  LANGUAGE sql STABLE
AS $$
  WITH grp AS (
    SELECT g.id, g.failover_strategy FROM aigw.model_groups g WHERE g.name = route_consider.model AND g.enabled
  ), named AS (
    SELECT pm.id AS pm_id, NULL::int AS gprio, true AS member_enabled
      FROM aigw.platform_models pm
     WHERE NOT EXISTS (SELECT 1 FROM grp) AND (pm.model_name = route_consider.model OR pm.model_alias = route_consider.model)
    UNION ALL
    SELECT m.platform_model_id, m.priority, m.enabled
      FROM aigw.model_group_members m JOIN grp ON grp.id = m.group_id
  )
  SELECT pm.id, p.id, p.platform_key, p.provider, cp.provider_type, pm.model_name, n.gprio,
         coalesce(p.dynamic_priority, p.priority),
         coalesce(live.limiter_ratio, cs.limiter_ratio, 0), coalesce(cs.waiting_count, 0),
         coalesce(live.last_assigned_at, cs.last_assigned_at),
         CASE
           WHEN pm.id = ANY (route_consider.exclude) THEN 'already_failed'
           WHEN NOT n.member_enabled THEN 'group_member_disabled'
           WHEN p.deleted_at IS NOT NULL THEN 'platform_deleted'
           WHEN p.status <> 'enabled' THEN 'platform_' || p.status
           WHEN NOT pm.enabled THEN 'model_disabled'
           WHEN route_consider.model_type IS NOT NULL AND pm.model_type <> route_consider.model_type THEN 'model_type_mismatch'
           WHEN p.cooldown_until > now() THEN 'cooldown'
           WHEN p.visibility_scope <> 'global'
                AND NOT (p.tenant_id IS NOT DISTINCT FROM route_consider.identity->>'tenant_id' AND p.tenant_id IS NOT NULL
                         OR p.tenant_key IS NOT DISTINCT FROM route_consider.identity->>'tenant_key' AND p.tenant_key IS NOT NULL)
             THEN 'not_visible_to_tenant'
           WHEN route_consider.options->>'platform' IS NOT NULL
                AND route_consider.options->>'platform' NOT IN (p.platform_key, p.id::text) THEN 'not_requested_platform'
           WHEN NOT aigw.permission_allows(pm.permission_config, aigw.task_identity(route_consider.identity),
                                           route_consider.identity->>'user_group_key') THEN 'permission'
           WHEN coalesce((route_consider.options->>'stream')::boolean, false)
                AND (pm.capabilities->>'stream')::boolean IS FALSE THEN 'capability_stream'
           WHEN route_consider.options ? 'request' AND NOT aigw.capabilities_allow(pm.capabilities, pm.model_type, route_consider.options->'request')
             THEN 'capability_mismatch'
         END
    FROM named n
    JOIN aigw.platform_models pm ON pm.id = n.pm_id
    JOIN aigw.integration_platforms p ON p.id = pm.platform_id
    LEFT JOIN aigw.model_catalog_providers cp ON cp.provider_key = p.provider
    -- load and last assignment live from shared memory; the waiting count as the reaper last counted it
    LEFT JOIN aigw.runtime_client_states cs ON cs.client_id = p.platform_key || '/' || pm.model_name
    LEFT JOIN LATERAL aigw.client_state(p.platform_key || '/' || pm.model_name) live ON true
$$;

-- One candidate of the router, in its place in the order (rank, from 1): what
-- aigw.route_ranked, aigw.route_candidates and aigw.route_plan_candidates return.
CREATE TYPE aigw.route_candidate AS (platform_model_id uuid, platform_id uuid, platform_key text,
                                     provider text, provider_type text, model_name text, rank int);
COMMENT ON TYPE aigw.route_candidate IS 'a routing candidate and its rank in the order the router tries them';

-- Eligible candidates in routing order (seed 003 §8.2, seed 002), for a
-- request without a routing plan: group member priority (quota-aware groups
-- put the least loaded first), then platform priority with demotions, load,
-- waiting queue, least recently assigned, jitter. A SQL function of one query,
-- declared STABLE so that a query calling it in FROM inlines it (a VOLATILE
-- set-returning function is never inlined; the random() and the live client
-- state inside are still read per row): aigw.submit_task routes with it in one
-- statement, without a function call and a tuple store around the routing query.
CREATE FUNCTION aigw.route_ranked(model text, model_type text, identity jsonb, options jsonb,
                                  exclude uuid[] DEFAULT '{}')
  RETURNS SETOF aigw.route_candidate
  LANGUAGE sql STABLE
AS $$
  SELECT c.platform_model_id, c.platform_id, c.platform_key, c.provider, c.provider_type, c.model_name,
         (row_number() OVER (ORDER BY
            CASE WHEN g.failover_strategy = 'quota_aware' THEN c.limiter_ratio END NULLS LAST,
            c.group_priority NULLS LAST,
            c.effective_priority,
            c.limiter_ratio >= 1,
            c.limiter_ratio,
            c.waiting_count,
            c.last_assigned_at NULLS FIRST,
            random()))::int
    FROM aigw.route_consider(route_ranked.model, route_ranked.model_type, route_ranked.identity,
                             route_ranked.options, route_ranked.exclude) c
    LEFT JOIN aigw.model_groups g ON g.name = route_ranked.model AND g.enabled
   WHERE c.reason IS NULL
   ORDER BY 7
$$;

-- Eligible candidates in routing order: a request with a routing plan has
-- only the plan's targets, in its order (305_route_plan.sql); any other, the
-- router's order (aigw.route_ranked).
CREATE FUNCTION aigw.route_candidates(model text, model_type text, identity jsonb, options jsonb,
                                      exclude uuid[] DEFAULT '{}')
  RETURNS SETOF aigw.route_candidate
  LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_variable
BEGIN
  IF options ? 'routePlan' THEN
    RETURN QUERY SELECT * FROM aigw.route_plan_candidates(model, model_type, identity, options, exclude);
    RETURN;
  END IF;
  RETURN QUERY SELECT * FROM aigw.route_ranked(model, model_type, identity, options, exclude);
END;
$$;

-- aigw.route_explain: the ordered candidates for a request and why every
-- other platform model of that name was left out.
CREATE FUNCTION aigw.route_explain(request jsonb, identity jsonb DEFAULT '{}', options jsonb DEFAULT '{}')
  RETURNS jsonb
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  kind text := coalesce(request->>'kind', options->>'kind', 'chat.completions');
  mtype text := aigw.model_type_of_kind(kind);
  opts jsonb := options || jsonb_build_object('stream', coalesce((request->>'stream')::boolean, false),
                                              'request', request || jsonb_build_object('kind', kind));
BEGIN
  IF request->>'model' IS NULL THEN
    RAISE EXCEPTION 'request has no model' USING ERRCODE = '22023';
  END IF;
  RETURN jsonb_build_object(
    'model', request->>'model',
    'modelType', mtype,
    'candidates', coalesce((SELECT jsonb_agg(jsonb_build_object(
                      'rank', rc.rank, 'platformModelId', rc.platform_model_id, 'platform', rc.platform_key,
                      'provider', rc.provider, 'model', rc.model_name) ORDER BY rc.rank)
                    FROM aigw.route_candidates(request->>'model', mtype, identity, opts) rc), '[]'),
    'excluded', coalesce((SELECT jsonb_agg(jsonb_build_object(
                      'platformModelId', c.platform_model_id, 'platform', c.platform_key,
                      'model', c.model_name, 'reason', c.reason) ORDER BY c.platform_key)
                    FROM aigw.route_consider(request->>'model', mtype, identity, opts) c
                   WHERE c.reason IS NOT NULL), '[]'));
END;
$$;

-- Next event sequence number of a task.
CREATE FUNCTION aigw.next_event_seq(p_task uuid) RETURNS bigint
  LANGUAGE sql VOLATILE
  RETURN (SELECT coalesce(max(seq), 0) + 1 FROM aigw.gateway_task_events WHERE task_id = p_task);

-- Appends a task's next event and, when aigw.task_progress_callback_url is
-- set, its callback outbox row; returns the event's sequence number. The caller
-- holds the task row's lock (C: src/events.c, statements planned once per backend).
CREATE FUNCTION aigw.append_task_event(p_task uuid, p_type text, p_status text, p_phase text,
                                       p_progress numeric, p_message text, p_payload jsonb,
                                       p_simulated boolean)
  RETURNS bigint
  LANGUAGE c VOLATILE
  AS 'MODULE_PATHNAME', 'aigw_append_task_event';
