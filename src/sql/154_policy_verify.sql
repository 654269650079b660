-- Verified policy changes: the live invariants, the full shipped check set,
-- and aigw.apply_policy_change, which keeps a change only when every check
-- passes afterwards.

-- A representative failure of a category, used to probe live policies.
CREATE FUNCTION aigw.policy_sample_failure(category text) RETURNS jsonb
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE category
    WHEN 'insufficient_balance' THEN '{"code": "insufficient_balance"}'
    WHEN 'rate_limit' THEN '{"status": 429}'
    WHEN 'network' THEN '{"code": "network"}'
    WHEN 'timeout' THEN '{"status": 408}'
    WHEN 'stream_error' THEN '{"code": "stream_read_error"}'
    WHEN 'provider_overloaded' THEN '{"code": "overloaded"}'
    WHEN 'provider_5xx' THEN '{"status": 503}'
    WHEN 'user_permission' THEN '{"code": "permission_denied"}'
    WHEN 'auth_error' THEN '{"status": 401}'
    WHEN 'unsupported_model' THEN '{"code": "unsupported_model"}'
    WHEN 'request_error' THEN '{"status": 400}'
    WHEN 'client_error' THEN '{"message": "unclassified failure"}'
  END::jsonb;
COMMENT ON FUNCTION aigw.policy_sample_failure(text) IS
  'a failure that classifies into the given category (null for an unknown category)';

-- The invariants every live configuration must keep.
CREATE FUNCTION aigw.policy_invariant_checks()
  RETURNS TABLE (ok boolean, name text, detail text)
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  r record;
  c text;
  bad text;
BEGIN
  -- Hard-stop categories (seed 000's and the live policy's) never fail over,
  -- under any active runner policy and any enabled model's override, even
  -- when the client calls the failure retryable or a local limit refused it.
  FOR r IN SELECT * FROM aigw.gateway_runner_policies p WHERE btrim(p.status) IN ('', 'active') ORDER BY p.policy_key LOOP
    FOR c IN
      SELECT DISTINCT x FROM (
        SELECT jsonb_array_elements_text(aigw.seed_runner_policy() #> '{hard_stop_policy,categories}')
        UNION
        SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof(r.hard_stop_policy -> 'categories') = 'array'
                                              THEN r.hard_stop_policy -> 'categories' ELSE '[]' END)) s(x)
       WHERE aigw.policy_sample_failure(x) IS NOT NULL
       ORDER BY x
    LOOP
      SELECT string_agg(DISTINCT COALESCE(o.model, 'no override') || ' (' || (d ->> 'reason') || ')', ', ')
        INTO bad
        FROM (SELECT NULL::text AS model, '{}'::jsonb AS override
              UNION ALL
              SELECT pl.platform_key || '/' || pm.model_name, pm.runtime_policy_override
                FROM aigw.platform_models pm JOIN aigw.integration_platforms pl ON pl.id = pm.platform_id
               WHERE pm.enabled AND pl.deleted_at IS NULL AND pm.runtime_policy_override <> '{}') o,
             LATERAL (VALUES (aigw.policy_sample_failure(c) || '{"retryable": true}'),
                             (aigw.policy_sample_failure(c) || '{"retryable": true, "localRateLimit": true}')) f(e),
             LATERAL aigw.failover_decision(to_jsonb(r), o.override - 'hardStopPolicy', f.e) d
       WHERE (d ->> 'retry')::boolean;
      ok := bad IS NULL;
      name := format('invariant: hard-stop category %s never fails over (runner policy %s)', c, r.policy_key);
      detail := CASE WHEN bad IS NULL THEN NULL ELSE 'fails over for: ' || bad END;
      RETURN NEXT;
    END LOOP;
  END LOOP;

  -- No runtime override reaches into the hard-stop policy.
  SELECT string_agg(pl.platform_key || '/' || pm.model_name, ', ' ORDER BY pl.platform_key, pm.model_name)
    INTO bad
    FROM aigw.platform_models pm JOIN aigw.integration_platforms pl ON pl.id = pm.platform_id
   WHERE jsonb_path_exists(pm.runtime_policy_override, 'strict $.**.hardStopPolicy');
  RETURN QUERY SELECT bad IS NULL, 'invariant: no runtime_policy_override names hardStopPolicy',
                      'named by: ' || bad;

  -- Every enabled platform model has a price and a runtime policy.
  SELECT string_agg(pl.platform_key || '/' || pm.model_name || ' (' || aigw.missing_price(pm.model_type, pm.billing_config)
                    || ' is missing)', ', ' ORDER BY pl.platform_key, pm.model_name)
    INTO bad
    FROM aigw.platform_models pm JOIN aigw.integration_platforms pl ON pl.id = pm.platform_id
   WHERE pm.enabled AND pl.deleted_at IS NULL AND pl.status <> 'disabled'
     AND aigw.missing_price(pm.model_type, pm.billing_config) IS NOT NULL;
  RETURN QUERY SELECT bad IS NULL, 'invariant: every enabled platform model has a price',
                      'no price: ' || bad;

  SELECT string_agg(pl.platform_key || '/' || pm.model_name, ', ' ORDER BY pl.platform_key, pm.model_name)
    INTO bad
    FROM aigw.platform_models pm JOIN aigw.integration_platforms pl ON pl.id = pm.platform_id
    LEFT JOIN LATERAL aigw.platform_model_runtime_policy_set(pm.id) s ON true
    LEFT JOIN aigw.model_runtime_policy_sets rs ON rs.id = s.policy_set_id
   WHERE pm.enabled AND pl.deleted_at IS NULL AND pl.status <> 'disabled'
     AND (rs.id IS NULL OR rs.status <> 'active');
  RETURN QUERY SELECT bad IS NULL, 'invariant: every enabled platform model has an active runtime policy set',
                      'no active runtime policy set: ' || bad;

  -- No enabled model group member points at a deleted or disabled-forever
  -- model: a disabled platform model, a deleted platform, or a platform
  -- disabled without a cooldown end.
  SELECT string_agg(g.name || ' -> ' || pl.platform_key || '/' || pm.model_name, ', '
                    ORDER BY g.name, pl.platform_key, pm.model_name)
    INTO bad
    FROM aigw.model_groups g
    JOIN aigw.model_group_members mm ON mm.group_id = g.id
    JOIN aigw.platform_models pm ON pm.id = mm.platform_model_id
    JOIN aigw.integration_platforms pl ON pl.id = pm.platform_id
   WHERE g.enabled AND mm.enabled
     AND (NOT pm.enabled OR pl.deleted_at IS NOT NULL
          OR (pl.status = 'disabled' AND (pl.cooldown_until IS NULL OR pl.cooldown_until = 'infinity')));
  RETURN QUERY SELECT bad IS NULL, 'invariant: no model group points at a deleted or disabled-forever model',
                      'points at: ' || bad;
END
$$;
COMMENT ON FUNCTION aigw.policy_invariant_checks() IS
  'live invariants of the policy configuration: (ok, name, detail) per check';

-- Everything a policy change must keep: the engine checks and the invariants.
CREATE FUNCTION aigw.policy_checks()
  RETURNS TABLE (ok boolean, name text, detail text)
  LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT e.ok, e.name, e.detail FROM aigw.policy_engine_checks() e
  UNION ALL
  SELECT i.ok, i.name, i.detail FROM aigw.policy_invariant_checks() i;
END;
COMMENT ON FUNCTION aigw.policy_checks() IS
  'every shipped policy check: engine checks (seed 000) and live invariants';

CREATE TYPE aigw.policy_check_result AS (ok boolean, name text, detail text);

-- Applies a policy change (any SQL) in a subtransaction, runs every check,
-- and keeps the change only when all pass; otherwise the change is rolled
-- back and the error lists the failing checks.  With dry_run the change is
-- always rolled back and the checks are returned.
CREATE FUNCTION aigw.apply_policy_change(change_sql text, dry_run boolean DEFAULT false)
  RETURNS TABLE (ok boolean, name text, detail text)
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  results aigw.policy_check_result[];
  failing text;
  nfailed int;
BEGIN
  IF change_sql IS NULL OR btrim(change_sql) = '' THEN
    RAISE EXCEPTION 'the policy change must not be empty' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- One verified change at a time: two changes that each pass alone (say,
  -- hard stop off, and a model override emptying denyCategories) must not
  -- both commit.  The next statement's snapshot sees the change before us.
  PERFORM pg_advisory_xact_lock(hashtext('aigw.apply_policy_change'));
  BEGIN
    EXECUTE change_sql;
    SELECT array_agg(ROW(c.ok, c.name, c.detail)::aigw.policy_check_result) INTO results
      FROM aigw.policy_checks() c;
    IF dry_run OR EXISTS (SELECT 1 FROM unnest(results) u WHERE NOT u.ok) THEN
      RAISE EXCEPTION USING ERRCODE = 'AGW01', MESSAGE = 'roll back the policy change';
    END IF;
  EXCEPTION WHEN SQLSTATE 'AGW01' THEN
    NULL;  -- the subtransaction is rolled back; results survive in the variable
  END;
  SELECT count(*), string_agg(u.name || COALESCE(': ' || u.detail, ''), E'\n')
    INTO nfailed, failing
    FROM unnest(results) u WHERE NOT u.ok;
  IF nfailed > 0 AND NOT dry_run THEN
    RAISE EXCEPTION 'policy change rolled back: % of % checks failed', nfailed, cardinality(results)
      USING ERRCODE = 'check_violation', DETAIL = failing,
            HINT = 'SELECT * FROM aigw.apply_policy_change(change, dry_run => true) lists every check.';
  END IF;
  RETURN QUERY SELECT u.ok, u.name, u.detail FROM unnest(results) u;
END
$$;
COMMENT ON FUNCTION aigw.apply_policy_change(text, boolean) IS
  'applies a policy change, runs aigw.policy_checks() and rolls the change back, naming the failing checks, when any fails';

-- The same checks as TAP text, for a live database without pgTAP:
--   psql -At -c 'SELECT * FROM aigw.policy_checks_tap()'
CREATE FUNCTION aigw.policy_checks_tap() RETURNS SETOF text
  LANGUAGE sql STABLE
BEGIN ATOMIC
  WITH c AS (SELECT row_number() OVER () AS n, p.ok, p.name, p.detail FROM aigw.policy_checks() p)
  SELECT t.line FROM (
    SELECT 0 AS n, '1..' || count(*) AS line FROM c
    UNION ALL
    SELECT c.n, CASE WHEN c.ok THEN 'ok ' ELSE 'not ok ' END || c.n || ' - ' || c.name
                || COALESCE(E'\n# ' || replace(c.detail, E'\n', E'\n# '), '')
      FROM c) t
   ORDER BY t.n;
END;
COMMENT ON FUNCTION aigw.policy_checks_tap() IS 'aigw.policy_checks() as TAP lines';
