-- Rate limits (seed 003 §7.9.22-24, §8.1, §8.1.1, §11.3): policies, durable
-- counters and concurrency leases; the fast path is in shared memory (src/ratelimit.c).

-- Checks a rate-limit policy document; raises 22023 naming the first problem.
CREATE FUNCTION aigw.ratelimit_policy_check(policy jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE
SET search_path = aigw, pg_catalog
AS $$
DECLARE
  r jsonb;
  k text;
BEGIN
  IF policy IS NULL OR jsonb_typeof(policy) <> 'object' THEN
    RAISE EXCEPTION 'rate-limit policy must be a JSON object' USING ERRCODE = '22023';
  END IF;
  IF policy ? 'mergeStrategy'
     AND (jsonb_typeof(policy->'mergeStrategy') <> 'string'
          OR policy->>'mergeStrategy' NOT IN ('strictest', 'loosest', 'override')) THEN
    RAISE EXCEPTION 'rate-limit mergeStrategy must be strictest, loosest or override, not %',
      policy->'mergeStrategy' USING ERRCODE = '22023';
  END IF;
  IF policy ? 'defaultOutputReserveTokens'
     AND (jsonb_typeof(policy->'defaultOutputReserveTokens') <> 'number'
          OR (policy->>'defaultOutputReserveTokens')::numeric < 0
          OR (policy->>'defaultOutputReserveTokens')::numeric <> trunc((policy->>'defaultOutputReserveTokens')::numeric)) THEN
    RAISE EXCEPTION 'rate-limit defaultOutputReserveTokens must be a whole number >= 0' USING ERRCODE = '22023';
  END IF;
  IF NOT policy ? 'rules' THEN
    RETURN true;
  END IF;
  IF jsonb_typeof(policy->'rules') <> 'array' THEN
    RAISE EXCEPTION 'rate-limit policy "rules" must be an array' USING ERRCODE = '22023';
  END IF;
  FOR r IN SELECT value FROM jsonb_array_elements(policy->'rules') LOOP
    IF jsonb_typeof(r) <> 'object' THEN
      RAISE EXCEPTION 'each rate-limit rule must be a JSON object, not %', r USING ERRCODE = '22023';
    END IF;
    IF jsonb_typeof(r->'metric') IS DISTINCT FROM 'string' OR r->>'metric' NOT IN
       ('tpm_total', 'tpm_input', 'tpm_output', 'rpm', 'concurrent', 'queue_size') THEN
      RAISE EXCEPTION 'unknown rate-limit metric % in rule %', r->'metric', r
        USING ERRCODE = '22023',
              HINT = 'Metrics: tpm_total, tpm_input, tpm_output, rpm, concurrent, queue_size.';
    END IF;
    FOREACH k IN ARRAY ARRAY['limit', 'windowSeconds', 'leaseTtlSeconds', 'defaultOutputReserveTokens'] LOOP
      IF r ? k AND (jsonb_typeof(r->k) <> 'number' OR (r->>k)::numeric < 0
                    OR (r->>k)::numeric <> trunc((r->>k)::numeric)
                    OR (r->>k)::numeric > 9223372036854775807) THEN
        RAISE EXCEPTION 'rate-limit rule field % must be a whole number >= 0 in rule %', k, r
          USING ERRCODE = '22023';
      END IF;
    END LOOP;
    IF NOT r ? 'limit' THEN
      RAISE EXCEPTION 'rate-limit rule % has no limit', r USING ERRCODE = '22023';
    END IF;
    IF r ? 'windowSeconds' AND ((r->>'windowSeconds')::numeric NOT BETWEEN 1 AND 2678400) THEN
      RAISE EXCEPTION 'rate-limit windowSeconds must be between 1 and 2678400 in rule %', r
        USING ERRCODE = '22023';
    END IF;
    IF r ? 'leaseTtlSeconds' AND ((r->>'leaseTtlSeconds')::numeric NOT BETWEEN 1 AND 604800) THEN
      RAISE EXCEPTION 'rate-limit leaseTtlSeconds must be between 1 and 604800 in rule %', r
        USING ERRCODE = '22023';
    END IF;
    IF r ? 'consume' AND (jsonb_typeof(r->'consume') <> 'string'
                          OR r->>'consume' NOT IN ('reserve_then_reconcile', 'fixed_window')) THEN
      RAISE EXCEPTION 'rate-limit consume must be reserve_then_reconcile or fixed_window in rule %', r
        USING ERRCODE = '22023';
    END IF;
  END LOOP;
  RETURN true;
END
$$;

CREATE TABLE aigw.gateway_rate_limit_policies (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  scope_type text NOT NULL CHECK (scope_type IN ('global', 'provider', 'platform', 'client',
    'base_model', 'platform_model', 'method', 'tenant', 'user_group', 'user', 'api_key', 'queue')),
  scope_key text NOT NULL CHECK (scope_key <> '' AND octet_length(scope_key) <= 119),
  policy jsonb NOT NULL CHECK (aigw.ratelimit_policy_check(policy)),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uniq_rate_limit_policy_scope UNIQUE (scope_type, scope_key),
  CONSTRAINT rate_limit_policy_global_key CHECK (scope_type <> 'global' OR scope_key = '*')
);
COMMENT ON TABLE aigw.gateway_rate_limit_policies IS
  'TPM, RPM, concurrency and queue-size rules per scope; the global policy has scope_key ''*''';

CREATE TABLE aigw.gateway_rate_limit_counters (
  scope_type text NOT NULL,
  scope_key text NOT NULL,
  metric text NOT NULL CHECK (metric IN ('tpm_total', 'tpm_input', 'tpm_output', 'rpm')),
  window_start timestamptz NOT NULL,
  limit_value numeric NOT NULL,
  used_value numeric NOT NULL DEFAULT 0,
  reserved_value numeric NOT NULL DEFAULT 0,
  reset_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT pk_rate_limit_counter PRIMARY KEY (scope_type, scope_key, metric, window_start),
  CHECK (reset_at > window_start)
);
CREATE INDEX idx_rate_limit_counters_reset ON aigw.gateway_rate_limit_counters (reset_at);
COMMENT ON TABLE aigw.gateway_rate_limit_counters IS
  'durable record of the shared-memory windows, written by aigw.ratelimit_flush() at most aigw.ratelimit_flush_interval apart';

-- Leases go with their task: the retention purge deletes old tasks, and
-- deleting an unreleased lease gives its slot back (trigger below).
CREATE TABLE aigw.gateway_concurrency_leases (
  id uuid PRIMARY KEY DEFAULT uuidv7(),
  task_id uuid NOT NULL REFERENCES aigw.gateway_tasks (id) ON DELETE CASCADE,
  attempt_id uuid REFERENCES aigw.gateway_task_attempts (id) ON DELETE CASCADE,
  scope_type text NOT NULL
    CHECK (aigw.is_lease_scope_type(scope_type)),
  scope_key text NOT NULL,
  lease_value numeric NOT NULL DEFAULT 1 CHECK (aigw.is_positive_whole(lease_value)),
  acquired_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  released_at timestamptz,
  CHECK (expires_at > acquired_at)
);
CREATE INDEX idx_concurrency_leases_active
  ON aigw.gateway_concurrency_leases (scope_type, scope_key, released_at, expires_at);
CREATE INDEX idx_concurrency_leases_task ON aigw.gateway_concurrency_leases (task_id);
CREATE INDEX idx_concurrency_leases_expiry
  ON aigw.gateway_concurrency_leases (expires_at) WHERE released_at IS NULL;

CREATE FUNCTION aigw.concurrency_forget(scope_type text, scope_key text, lease_value bigint)
RETURNS void LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'aigw_concurrency_forget';
COMMENT ON FUNCTION aigw.concurrency_forget(text, text, bigint) IS
  'gives back the slot of an unreleased lease row that is deleted (at commit)';

CREATE FUNCTION aigw.gateway_concurrency_leases_deleted() RETURNS trigger
LANGUAGE plpgsql
SET search_path = aigw, pg_catalog
AS $$
BEGIN
  PERFORM aigw.concurrency_forget(OLD.scope_type, OLD.scope_key, OLD.lease_value::bigint);
  RETURN OLD;
END
$$;
CREATE TRIGGER gateway_concurrency_leases_deleted
  AFTER DELETE ON aigw.gateway_concurrency_leases
  FOR EACH ROW WHEN (OLD.released_at IS NULL)
  EXECUTE FUNCTION aigw.gateway_concurrency_leases_deleted();

-- Policies: set and delete.
CREATE FUNCTION aigw.ratelimit_policy_set(scope_type text, scope_key text, policy jsonb)
RETURNS uuid
LANGUAGE sql
SET search_path = aigw, pg_catalog
AS $$
  INSERT INTO aigw.gateway_rate_limit_policies AS p (scope_type, scope_key, policy)
  VALUES (ratelimit_policy_set.scope_type, ratelimit_policy_set.scope_key, ratelimit_policy_set.policy)
  ON CONFLICT ON CONSTRAINT uniq_rate_limit_policy_scope
  DO UPDATE SET policy = EXCLUDED.policy, updated_at = now()
  RETURNING p.id
$$;
COMMENT ON FUNCTION aigw.ratelimit_policy_set(text, text, jsonb) IS
  'creates or replaces the rate-limit policy of a scope';

CREATE FUNCTION aigw.ratelimit_policy_delete(scope_type text, scope_key text) RETURNS boolean
LANGUAGE sql
SET search_path = aigw, pg_catalog
AS $$
  WITH d AS (
    DELETE FROM aigw.gateway_rate_limit_policies p
    WHERE p.scope_type = ratelimit_policy_delete.scope_type
      AND p.scope_key = ratelimit_policy_delete.scope_key
    RETURNING 1)
  SELECT count(*) > 0 FROM d
$$;

-- The fast path (C).
CREATE FUNCTION aigw.ratelimit_admit(requirements jsonb, task_id uuid DEFAULT NULL,
                                     attempt_id uuid DEFAULT NULL)
RETURNS jsonb LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'aigw_ratelimit_admit';
COMMENT ON FUNCTION aigw.ratelimit_admit(jsonb, uuid, uuid) IS
  'admits every requirement or none; {admitted, grants} or {admitted:false, refusedScope, metric, limit, used, retryAfterSeconds}';

CREATE FUNCTION aigw.ratelimit_reconcile(admission jsonb, usage jsonb) RETURNS integer
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'aigw_ratelimit_reconcile';
COMMENT ON FUNCTION aigw.ratelimit_reconcile(jsonb, jsonb) IS
  'turns the reserved tokens of an admission into the usage reported (unified usage or per-metric keys)';

CREATE FUNCTION aigw.ratelimit_release(admission jsonb) RETURNS integer
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'aigw_ratelimit_release';
COMMENT ON FUNCTION aigw.ratelimit_release(jsonb) IS
  'gives back the tokens, requests and queue slots of an admission that was never sent';

CREATE FUNCTION aigw.concurrency_release(task_id uuid, attempt_id uuid DEFAULT NULL) RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'aigw_concurrency_release';
COMMENT ON FUNCTION aigw.concurrency_release(uuid, uuid) IS
  'releases the unreleased leases of a task (or of one attempt); returns how many';

CREATE FUNCTION aigw.ratelimit_set_gauge(scope_type text, scope_key text, value bigint) RETURNS void
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'aigw_ratelimit_set_gauge';
COMMENT ON FUNCTION aigw.ratelimit_set_gauge(text, text, bigint) IS
  'sets a queue_size gauge from a recount (queue gauges live in shared memory only), at once and not undone';

CREATE FUNCTION aigw.ratelimit_release_expired() RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'aigw_ratelimit_release_expired';

CREATE FUNCTION aigw.ratelimit_flush() RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'aigw_ratelimit_flush';
COMMENT ON FUNCTION aigw.ratelimit_flush() IS
  'writes changed windows to gateway_rate_limit_counters; the reaper calls it every aigw.ratelimit_flush_interval';

CREATE FUNCTION aigw.ratelimit_recount_queues(force boolean DEFAULT true) RETURNS bigint
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'aigw_ratelimit_recount_queues';
COMMENT ON FUNCTION aigw.ratelimit_recount_queues(boolean) IS
  'sets queue_size gauges that drifted to the count of tasks holding queue slots; returns how many changed, '
  'null when queue changes were in flight (or, without force, when aigw.ratelimit_queue_recount_interval has not passed)';

-- The reaper's periodic call: release expired leases, flush windows, and
-- (every aigw.ratelimit_queue_recount_interval) correct drifted queue gauges.
CREATE FUNCTION aigw.ratelimit_maintain() RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = aigw, pg_catalog
AS $$
  SELECT jsonb_build_object('expiredLeases', e, 'flushedWindows', aigw.ratelimit_flush(),
                            'queueGaugesCorrected', aigw.ratelimit_recount_queues(false))
  FROM aigw.ratelimit_release_expired() e
$$;
COMMENT ON FUNCTION aigw.ratelimit_maintain() IS
  'reaper call every aigw.ratelimit_flush_interval: aigw.ratelimit_release_expired(), aigw.ratelimit_flush() '
  'and aigw.ratelimit_recount_queues(false)';

CREATE FUNCTION aigw.ratelimit_headroom(requirements jsonb) RETURNS double precision
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'aigw_ratelimit_headroom';
COMMENT ON FUNCTION aigw.ratelimit_headroom(jsonb) IS
  'smallest share of limit left over the requirements (1 untouched, 0 full): quota-aware ordering';

CREATE FUNCTION aigw.ratelimit_windows(
  OUT scope_type text, OUT scope_key text, OUT metric text, OUT window_start timestamptz,
  OUT window_seconds integer, OUT reset_at timestamptz, OUT used bigint, OUT reserved bigint,
  OUT limit_value bigint)
RETURNS SETOF record LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'aigw_ratelimit_windows';

CREATE FUNCTION aigw.ratelimit_bench(n integer, scopes integer DEFAULT 5) RETURNS double precision
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'aigw_ratelimit_bench';
COMMENT ON FUNCTION aigw.ratelimit_bench(integer, integer) IS
  'benchmark: n admissions across `scopes` windows in C; microseconds per admission';

CREATE VIEW aigw.rate_limit_windows AS
  SELECT scope_type, scope_key, metric, window_start, window_seconds, reset_at,
         used, reserved, limit_value
  FROM aigw.ratelimit_windows();
COMMENT ON VIEW aigw.rate_limit_windows IS
  'live windows (tpm_*, rpm) and gauges (concurrent, queue_size) in shared memory, for /api/v1/runtime/rate-limit-windows';

-- Leases for a task at each scope: [{scopeType, scopeKey, limit, leaseValue}].
CREATE FUNCTION aigw.concurrency_acquire(task_id uuid, scopes jsonb, ttl_seconds integer DEFAULT 900,
                                         attempt_id uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = aigw, pg_catalog
AS $$
BEGIN
  IF task_id IS NULL THEN
    RAISE EXCEPTION 'task id must not be null' USING ERRCODE = '22004';
  END IF;
  IF scopes IS NULL OR jsonb_typeof(scopes) <> 'array' THEN
    RAISE EXCEPTION 'concurrency scopes must be a JSON array' USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(scopes) s WHERE jsonb_typeof(s) <> 'object') THEN
    RAISE EXCEPTION 'each concurrency scope must be a JSON object' USING ERRCODE = '22023';
  END IF;
  RETURN aigw.ratelimit_admit(
    coalesce((SELECT jsonb_agg(jsonb_build_object(
                'scopeType', s->'scopeType', 'scopeKey', s->'scopeKey', 'limit', s->'limit',
                'metric', 'concurrent', 'amount', coalesce(s->'leaseValue', '1'::jsonb),
                'leaseTtlSeconds', ttl_seconds) ORDER BY ord)
              FROM jsonb_array_elements(scopes) WITH ORDINALITY AS e(s, ord)), '[]'::jsonb),
    concurrency_acquire.task_id, concurrency_acquire.attempt_id);
END
$$;

-- The rules a request must pass, without amounts: the rules of every scope it
-- touches (seed 003 §8.1) from gateway_rate_limit_policies, the scopes' own
-- records (tenants, user groups, API keys, platforms, platform models), the
-- defaults (provider and base model templates, runtime policy sets) and the
-- policies the caller passes in context.policies, merged per scope and metric.
-- A rule with defaultOutputReserveTokens carries it as outReserve.
-- aigw.ratelimit_requirements caches this per backend and adds the amounts.
CREATE FUNCTION aigw.ratelimit_rules(context jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = aigw, pg_catalog
AS $$
DECLARE
  result jsonb;
  input_tokens bigint;
  metrics text[];
  k text;
BEGIN
  IF context IS NULL OR jsonb_typeof(context) <> 'object' THEN
    RAISE EXCEPTION 'rate-limit context must be a JSON object' USING ERRCODE = '22023';
  END IF;
  IF context ? 'policies' AND jsonb_typeof(context->'policies') <> 'array' THEN
    RAISE EXCEPTION 'context "policies" must be an array' USING ERRCODE = '22023';
  END IF;
  IF context ? 'userGroups' AND jsonb_typeof(context->'userGroups') <> 'array' THEN
    RAISE EXCEPTION 'context "userGroups" must be an array' USING ERRCODE = '22023';
  END IF;
  FOREACH k IN ARRAY ARRAY['inputTokens', 'maxTokens', 'maxOutputTokens', 'requests', 'leaseValue'] LOOP
    IF context ? k AND jsonb_typeof(context->k) <> 'null'
       AND (jsonb_typeof(context->k) <> 'number' OR (context->>k)::numeric < 0
            OR (context->>k)::numeric <> trunc((context->>k)::numeric)) THEN
      RAISE EXCEPTION 'context "%" must be a whole number >= 0', k USING ERRCODE = '22023';
    END IF;
  END LOOP;
  IF context ? 'metrics' THEN
    IF jsonb_typeof(context->'metrics') <> 'array' THEN
      RAISE EXCEPTION 'context "metrics" must be an array' USING ERRCODE = '22023';
    END IF;
    metrics := ARRAY(SELECT jsonb_array_elements_text(context->'metrics'));
  ELSE
    -- queue_size is counted when a task is queued, so it is asked for by name
    metrics := ARRAY['tpm_total', 'tpm_input', 'tpm_output', 'rpm', 'concurrent'];
  END IF;
  input_tokens := coalesce((context->>'inputTokens')::bigint, 0);

  WITH scope_map(ord, scope_type, ctx_key) AS (
    VALUES (2, 'provider', 'provider'), (3, 'platform', 'platform'), (4, 'client', 'client'),
           (5, 'base_model', 'baseModel'), (6, 'platform_model', 'platformModel'),
           (7, 'method', 'method'), (8, 'tenant', 'tenant'), (10, 'user', 'user'),
           (11, 'api_key', 'apiKey'), (12, 'queue', 'queue')
  ),
  scopes(ord, scope_type, scope_key) AS (
    SELECT 1, 'global', '*'
    UNION ALL
    SELECT m.ord, m.scope_type, context->>m.ctx_key FROM scope_map m
    WHERE jsonb_typeof(context->m.ctx_key) IN ('string', 'number')
    UNION ALL
    SELECT 9, 'user_group', g
    FROM jsonb_array_elements_text(coalesce(context->'userGroups', '[]')) g
    UNION ALL
    SELECT 9, 'user_group', context->>'userGroup' WHERE jsonb_typeof(context->'userGroup') = 'string'
  ),
  -- tier 0: explicit policies of a scope; tiers 1-3: defaults, used for a
  -- metric only when no lower tier of that scope names it
  policies(ord, scope_type, scope_key, tier, policy) AS (
    SELECT s.ord, p.scope_type, p.scope_key, 0, p.policy
    FROM aigw.gateway_rate_limit_policies p JOIN scopes s USING (scope_type, scope_key)
    UNION ALL
    SELECT coalesce(s.ord, 13), x->>'scopeType', coalesce(x->>'scopeKey', '*'), 0, x->'policy'
    FROM jsonb_array_elements(coalesce(context->'policies', '[]')) x
    LEFT JOIN (SELECT DISTINCT ord, scope_type FROM scopes) s ON s.scope_type = x->>'scopeType'
    UNION ALL
    -- the records of the scopes themselves
    SELECT s.ord, s.scope_type, s.scope_key, 0, t.rate_limit_policy
    FROM scopes s JOIN aigw.gateway_tenants t
      ON s.scope_type = 'tenant' AND (t.id::text = s.scope_key OR t.tenant_key = s.scope_key)
    UNION ALL
    SELECT s.ord, s.scope_type, s.scope_key, 0, g.rate_limit_policy
    FROM scopes s JOIN aigw.gateway_user_groups g
      ON s.scope_type = 'user_group' AND (g.id::text = s.scope_key OR g.group_key = s.scope_key)
    UNION ALL
    SELECT s.ord, s.scope_type, s.scope_key, 0, k.rate_limit_policy
    FROM scopes s JOIN aigw.gateway_api_keys k ON s.scope_type = 'api_key' AND k.id::text = s.scope_key
    UNION ALL
    SELECT s.ord, s.scope_type, s.scope_key, d.tier, d.policy
    FROM scopes s
    JOIN aigw.integration_platforms p
      ON s.scope_type = 'platform' AND (p.id::text = s.scope_key OR p.platform_key = s.scope_key)
    LEFT JOIN aigw.model_catalog_providers cp ON cp.provider_key = p.provider
    CROSS JOIN LATERAL (VALUES (0, p.rate_limit_policy), (1, cp.default_rate_limit_policy)) d(tier, policy)
    UNION ALL
    SELECT s.ord, s.scope_type, s.scope_key, d.tier, d.policy
    FROM scopes s
    JOIN aigw.platform_models m ON s.scope_type = 'platform_model' AND m.id::text = s.scope_key
    JOIN aigw.integration_platforms p ON p.id = m.platform_id
    LEFT JOIN aigw.model_runtime_policy_sets rs
      ON rs.id = coalesce(m.runtime_policy_set_id, p.runtime_policy_set_id,
                          (SELECT id FROM aigw.model_runtime_policy_sets WHERE policy_key = 'default-runtime-v1'))
    LEFT JOIN aigw.base_model_catalog b ON b.id = m.base_model_id
    CROSS JOIN LATERAL (VALUES (0, m.rate_limit_policy), (1, m.runtime_policy_override->'rateLimitPolicy'),
                               (2, rs.rate_limit_policy), (3, b.default_rate_limit_policy)) d(tier, policy)
  ),
  checked AS (
    SELECT * FROM policies p
    WHERE p.policy IS NOT NULL AND aigw.ratelimit_policy_check(p.policy)
  ),
  all_rules AS (
    SELECT p.ord, p.scope_type, p.scope_key, p.tier, r->>'metric' AS metric,
           (r->>'limit')::numeric AS lim,
           coalesce((r->>'windowSeconds')::int, 60) AS win,
           coalesce((r->>'leaseTtlSeconds')::int, 900) AS ttl,
           coalesce(p.policy->>'mergeStrategy', 'strictest') AS strategy,
           r->>'consume' AS consume,
           coalesce((r->>'defaultOutputReserveTokens')::bigint,
                    (p.policy->>'defaultOutputReserveTokens')::bigint) AS out_reserve
    FROM checked p, jsonb_array_elements(coalesce(p.policy->'rules', '[]')) r
    WHERE r->>'metric' = ANY (metrics)
  ),
  rules AS (
    SELECT * FROM (
      SELECT a.*, min(a.tier) OVER (PARTITION BY a.scope_type, a.scope_key, a.metric) AS top_tier
      FROM all_rules a) t
    WHERE t.tier = t.top_tier
  ),
  flagged AS (
    SELECT r.*,
           CASE WHEN r.metric IN ('concurrent', 'queue_size') THEN r.lim ELSE r.lim / r.win END AS rate,
           bool_or(r.strategy = 'override') OVER g AS has_override,
           bool_or(r.strategy = 'loosest') OVER g AS has_loosest
    FROM rules r
    WINDOW g AS (PARTITION BY r.scope_type, r.scope_key, r.metric)
  ),
  merged AS (
    SELECT f.*, row_number() OVER (
             PARTITION BY f.scope_type, f.scope_key, f.metric
             ORDER BY CASE WHEN NOT f.has_override AND f.has_loosest THEN -f.rate ELSE f.rate END,
                      f.win, f.out_reserve NULLS LAST) AS rn
    FROM flagged f
    WHERE NOT f.has_override OR f.strategy = 'override'
  )
  SELECT jsonb_agg(
           jsonb_strip_nulls(jsonb_build_object(
             'scopeType', m.scope_type, 'scopeKey', m.scope_key, 'metric', m.metric,
             'limit', m.lim,
             'windowSeconds', CASE WHEN m.metric IN ('concurrent', 'queue_size') THEN NULL ELSE m.win END,
             'reserve', CASE WHEN m.metric IN ('concurrent', 'queue_size') THEN NULL
                             WHEN m.consume = 'fixed_window' THEN false
                             WHEN m.consume = 'reserve_then_reconcile' THEN true
                             ELSE m.metric <> 'rpm' END,
             'leaseTtlSeconds', CASE WHEN m.metric = 'concurrent' THEN m.ttl END,
             'outReserve', CASE WHEN m.metric IN ('tpm_output', 'tpm_total') THEN m.out_reserve END))
           ORDER BY m.ord, m.scope_key,
                    array_position(ARRAY['rpm', 'tpm_total', 'tpm_input', 'tpm_output',
                                         'concurrent', 'queue_size'], m.metric))
  INTO result
  FROM merged m
  WHERE m.rn = 1;
  RETURN coalesce(result, '[]'::jsonb);
END
$$;
COMMENT ON FUNCTION aigw.ratelimit_rules(jsonb) IS
  'the merged rules of every scope of the context, without amounts (aigw.ratelimit_requirements adds them)';

CREATE FUNCTION aigw.ratelimit_requirements(context jsonb) RETURNS jsonb
  LANGUAGE c STABLE
  AS 'MODULE_PATHNAME', 'aigw_ratelimit_requirements';
COMMENT ON FUNCTION aigw.ratelimit_requirements(jsonb) IS
  'requirements for ratelimit_admit from every scope of the context; strictest wins unless a policy names mergeStrategy';
CREATE FUNCTION aigw.ratelimit_cache_invalidate() RETURNS trigger
  LANGUAGE c
  AS 'MODULE_PATHNAME', 'aigw_ratelimit_cache_invalidate';
COMMENT ON FUNCTION aigw.ratelimit_cache_invalidate() IS
  'statement trigger: the tables behind rate-limit rules changed; every backend drops its cached rules';
CREATE TRIGGER ratelimit_cache_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON aigw.gateway_rate_limit_policies FOR EACH STATEMENT EXECUTE FUNCTION aigw.ratelimit_cache_invalidate();
CREATE TRIGGER ratelimit_cache_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON aigw.gateway_api_keys FOR EACH STATEMENT EXECUTE FUNCTION aigw.ratelimit_cache_invalidate();
CREATE TRIGGER ratelimit_cache_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON aigw.model_runtime_policy_sets FOR EACH STATEMENT EXECUTE FUNCTION aigw.ratelimit_cache_invalidate();
CREATE TRIGGER ratelimit_cache_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON aigw.base_model_catalog FOR EACH STATEMENT EXECUTE FUNCTION aigw.ratelimit_cache_invalidate();
-- platforms, platform models, providers and user groups already send one (pricing's trigger)
CREATE TRIGGER ratelimit_cache_invalidate
  AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF id, tenant_key, rate_limit_policy
  ON aigw.gateway_tenants FOR EACH STATEMENT EXECUTE FUNCTION aigw.ratelimit_cache_invalidate();

-- Quota-aware ordering (seed 002): candidates (request contexts, one per
-- candidate client) by the headroom their requirements leave, most first;
-- ties keep the given order.  candidate is the 0-based index into the array.
CREATE FUNCTION aigw.ratelimit_quota_order(candidates jsonb)
RETURNS TABLE (candidate integer, headroom double precision)
LANGUAGE plpgsql VOLATILE
SET search_path = aigw, pg_catalog
AS $$
BEGIN
  IF candidates IS NULL OR jsonb_typeof(candidates) <> 'array' THEN
    RAISE EXCEPTION 'candidates must be a JSON array of request contexts' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
    SELECT (c.ord - 1)::integer,
           aigw.ratelimit_headroom(aigw.ratelimit_requirements(c.ctx))
    FROM jsonb_array_elements(candidates) WITH ORDINALITY AS c(ctx, ord)
    ORDER BY 2 DESC, 1;
END
$$;

-- The HTTP answer to a refusal: 429, Retry-After when a retry can succeed,
-- and an OpenAI-shaped error body.
CREATE FUNCTION aigw.ratelimit_refusal_response(refusal jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = aigw, pg_catalog
AS $$
DECLARE
  retry text := refusal->>'retryAfterSeconds';
  scope text := (refusal->'refusedScope'->>'scopeType') || ' ' || (refusal->'refusedScope'->>'scopeKey');
BEGIN
  IF refusal IS NULL OR jsonb_typeof(refusal) <> 'object' OR NOT refusal ? 'refusedScope'
     OR coalesce((refusal->>'admitted')::boolean, false) THEN
    RAISE EXCEPTION 'expected a refused admission' USING ERRCODE = '22023';
  END IF;
  RETURN jsonb_build_object(
    'status', 429,
    'headers', CASE WHEN retry IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('Retry-After', retry) END,
    'body', jsonb_build_object('error', jsonb_build_object(
      'message', CASE refusal->>'reason'
        WHEN 'exceeds_limit' THEN format('Request too large for %s: %s %s asked, limit %s.',
          scope, refusal->>'requested', refusal->>'metric', refusal->>'limit')
        WHEN 'window_full' THEN format('Rate limit reached for %s on %s: %s of %s used. Retry in %s s.',
          scope, refusal->>'metric', refusal->>'used', refusal->>'limit', retry)
        ELSE format('Too many concurrent requests for %s: %s of %s in use.',
          scope, refusal->>'used', refusal->>'limit') END,
      'type', CASE WHEN refusal->>'reason' = 'exceeds_limit' THEN 'invalid_request_error'
                   ELSE 'rate_limit_error' END,
      'param', NULL,
      'code', CASE WHEN refusal->>'reason' = 'exceeds_limit' THEN 'request_too_large'
                   ELSE 'rate_limit_exceeded' END)));
END
$$;

-- No EXECUTE for PUBLIC: counters move only through the extension owner and
-- the extension's own definer-rights entry points.
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
            WHERE p.pronamespace = 'aigw'::regnamespace
              AND (p.proname LIKE 'ratelimit\_%' OR p.proname LIKE 'concurrency\_%'
                   OR p.proname = 'gateway_concurrency_leases_deleted') LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END
$$;

-- pg_dump keeps policies, counters and leases (after a restore the first
-- rate-limit call reloads them into shared memory).
SELECT pg_catalog.pg_extension_config_dump('aigw.gateway_rate_limit_policies', '');
SELECT pg_catalog.pg_extension_config_dump('aigw.gateway_rate_limit_counters', '');
SELECT pg_catalog.pg_extension_config_dump('aigw.gateway_concurrency_leases', '');
