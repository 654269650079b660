-- Routing plans (issue 5, docs/configuration.md): a request's routing config (header
-- x-portkey-config or x-aigw-config), or else the gateway_routing config resolved for its
-- identity when that names targets, is validated at submit and turned into a flat plan stored
-- with the task (normalized_request.routePlan). The router (route_candidates) keeps only the
-- plan's targets, in the plan's order; the outcome path (finish_attempt) applies the plan's
-- retry and fallback status codes on top of the policy engine, never over its hard stops.
--
-- A plan: {"source": "header" | "gateway_routing", "mode": "single" | "fallback" |
--          "loadbalance" | "conditional",
--          "targets": [{"index", "name"?, "provider"?, "platform"?, "model"?, "weight"}, ...]
--                     (in the order they are tried; single and conditional keep one),
--          "fallbackCodes": [...]? (fallback and loadbalance with strategy.on_status_codes),
--          "retry": {"attempts": 0-5, "onStatusCodes": [...]},
--          "chosen": why the first target is first (loadbalance draw, matched condition)}

-- True when a Portkey-style conditional query holds for the facts {metadata, params}.
-- Fields are dotted paths under metadata. or params.; a value is a scalar (equality) or an
-- object of operators $eq $ne $in $nin $gt $gte $lt $lte $regex $exists; $and / $or take
-- non-empty arrays of queries. A malformed query raises AGC40 naming its path.
CREATE FUNCTION aigw.route_plan_query(query jsonb, facts jsonb, path text DEFAULT 'query')
  RETURNS boolean
  LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  k text;
  v jsonb;
  op text;
  arg jsonb;
  actual jsonb;
  sub jsonb;
  i int;
  res boolean := true;
  part boolean;
  any_part boolean;
BEGIN
  IF jsonb_typeof(query) IS DISTINCT FROM 'object' OR query = '{}' THEN
    RAISE EXCEPTION 'invalid routing config: %: must be a non-empty object', path USING ERRCODE = 'AGC40';
  END IF;
  FOR k, v IN SELECT * FROM jsonb_each(query) LOOP
    IF k IN ('$and', '$or') THEN
      IF jsonb_typeof(v) <> 'array' OR jsonb_array_length(v) = 0 THEN
        RAISE EXCEPTION 'invalid routing config: %.%: must be a non-empty array of queries', path, k
          USING ERRCODE = 'AGC40';
      END IF;
      any_part := false;
      part := true;
      i := 0;
      FOR sub IN SELECT * FROM jsonb_array_elements(v) LOOP
        -- every branch is evaluated, so a malformed one is reported whatever the facts
        IF aigw.route_plan_query(sub, facts, format('%s.%s[%s]', path, k, i)) THEN
          any_part := true;
        ELSE
          part := false;
        END IF;
        i := i + 1;
      END LOOP;
      res := res AND CASE WHEN k = '$and' THEN part ELSE any_part END;
      CONTINUE;
    END IF;
    IF k !~ '^(metadata|params)\.[^.]' THEN
      RAISE EXCEPTION 'invalid routing config: %."%": a field must start with "metadata." or "params."', path, k
        USING ERRCODE = 'AGC40';
    END IF;
    actual := facts #> string_to_array(k, '.');
    IF jsonb_typeof(v) <> 'object' THEN
      v := jsonb_build_object('$eq', v);
    END IF;
    IF v = '{}' THEN
      RAISE EXCEPTION 'invalid routing config: %."%": needs an operator', path, k USING ERRCODE = 'AGC40';
    END IF;
    FOR op, arg IN SELECT * FROM jsonb_each(v) LOOP
      IF op IN ('$in', '$nin') AND jsonb_typeof(arg) <> 'array' THEN
        RAISE EXCEPTION 'invalid routing config: %."%".%: must be an array', path, k, op USING ERRCODE = 'AGC40';
      ELSIF op IN ('$gt', '$gte', '$lt', '$lte') AND jsonb_typeof(arg) <> 'number' THEN
        RAISE EXCEPTION 'invalid routing config: %."%".%: must be a number', path, k, op USING ERRCODE = 'AGC40';
      ELSIF op = '$regex' AND jsonb_typeof(arg) <> 'string' THEN
        RAISE EXCEPTION 'invalid routing config: %."%".%: must be a string', path, k, op USING ERRCODE = 'AGC40';
      ELSIF op = '$exists' AND jsonb_typeof(arg) <> 'boolean' THEN
        RAISE EXCEPTION 'invalid routing config: %."%".%: must be a boolean', path, k, op USING ERRCODE = 'AGC40';
      ELSIF op NOT IN ('$eq', '$ne', '$in', '$nin', '$gt', '$gte', '$lt', '$lte', '$regex', '$exists') THEN
        RAISE EXCEPTION 'invalid routing config: %."%": unknown operator "%"', path, k, op
          USING ERRCODE = 'AGC40',
                HINT = 'operators: $eq $ne $in $nin $gt $gte $lt $lte $regex $exists, and $and / $or';
      END IF;
      -- scalars compare by their text, so "2" in the metadata header equals 2 in the config
      res := res AND coalesce(CASE op
        WHEN '$eq' THEN actual #>> '{}' = arg #>> '{}'
        WHEN '$ne' THEN actual IS NULL OR actual #>> '{}' <> arg #>> '{}'
        WHEN '$in' THEN EXISTS (SELECT 1 FROM jsonb_array_elements(arg) e WHERE e #>> '{}' = actual #>> '{}')
        WHEN '$nin' THEN actual IS NOT NULL
                         AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(arg) e WHERE e #>> '{}' = actual #>> '{}')
        WHEN '$regex' THEN actual #>> '{}' ~ (arg #>> '{}')
        WHEN '$exists' THEN (actual IS NOT NULL) = (arg::text)::boolean
        ELSE CASE WHEN (actual #>> '{}') ~ '^\s*-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?\s*$' THEN CASE op
               WHEN '$gt' THEN (actual #>> '{}')::numeric > (arg #>> '{}')::numeric
               WHEN '$gte' THEN (actual #>> '{}')::numeric >= (arg #>> '{}')::numeric
               WHEN '$lt' THEN (actual #>> '{}')::numeric < (arg #>> '{}')::numeric
               ELSE (actual #>> '{}')::numeric <= (arg #>> '{}')::numeric END END
      END, false);
    END LOOP;
  END LOOP;
  RETURN res;
END
$$;
COMMENT ON FUNCTION aigw.route_plan_query(jsonb, jsonb, text) IS
  'evaluates a conditional-routing query ($eq, $in, $gt, $regex, $and, ...) on {metadata, params}; AGC40 when malformed';

-- Turns a normalised routing config (aigw.validate_portkey_config's result, or the Portkey form
-- of gateway_routing) into a plan: the targets in the order to try them.
CREATE FUNCTION aigw.route_plan_make(cfg jsonb, source text, request jsonb, metadata jsonb)
  RETURNS jsonb
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  mode text := coalesce(cfg->'strategy'->>'mode', 'single');
  targets jsonb := '[]';
  ordered jsonb;
  t jsonb;
  i int := 0;
  k text;
  total numeric;
  draw numeric;
  pick int;
  chosen jsonb;
  cond jsonb;
  then_name text;
  facts jsonb := jsonb_build_object('metadata', coalesce(metadata, '{}'), 'params', coalesce(request, '{}'));
BEGIN
  FOR t IN SELECT * FROM jsonb_array_elements(coalesce(cfg->'targets', '[]')) LOOP
    IF t ? 'targets' OR t ? 'strategy' THEN
      RAISE EXCEPTION 'invalid routing config: targets[%]: nested strategies are not supported by aigw''s router', i
        USING ERRCODE = 'AGC40', HINT = 'list the targets at the top level of the config';
    END IF;
    IF t ? 'retry' THEN
      RAISE EXCEPTION 'invalid routing config: targets[%].retry: set retry at the top level of the config', i
        USING ERRCODE = 'AGC40';
    END IF;
    FOREACH k IN ARRAY ARRAY['custom_host', 'api_key', 'virtual_key'] LOOP
      IF t ? k THEN
        RAISE EXCEPTION 'invalid routing config: targets[%].%: aigw routes only to its configured platforms', i, k
          USING ERRCODE = 'AGC40', HINT = 'name one with "platform" (its key or id) or "provider"';
      END IF;
    END LOOP;
    FOR k IN SELECT jsonb_object_keys(coalesce(t->'override_params', '{}')) LOOP
      IF k <> 'model' THEN
        RAISE EXCEPTION 'invalid routing config: targets[%].override_params.%: only "model" can be overridden', i, k
          USING ERRCODE = 'AGC40';
      END IF;
    END LOOP;
    IF t->'override_params' ? 'model' AND jsonb_typeof(t->'override_params'->'model') <> 'string' THEN
      RAISE EXCEPTION 'invalid routing config: targets[%].override_params.model: must be a model name', i
        USING ERRCODE = 'AGC40';
    END IF;
    targets := targets || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
                 'index', i, 'name', t->>'name', 'provider', t->>'provider', 'platform', t->>'platform',
                 'model', coalesce(t->'override_params'->>'model', t->>'model'),
                 'weight', coalesce(t->'weight', '1'))));
    i := i + 1;
  END LOOP;
  IF i = 0 THEN
    RAISE EXCEPTION 'invalid routing config: targets: must be a non-empty array of targets' USING ERRCODE = 'AGC40';
  END IF;

  IF mode = 'single' THEN
    ordered := jsonb_build_array(targets->0);
  ELSIF mode = 'fallback' THEN
    ordered := targets;
  ELSIF mode = 'loadbalance' THEN
    -- a weighted draw picks the first target; the others follow in the config's order
    SELECT sum((e->>'weight')::numeric) INTO total FROM jsonb_array_elements(targets) e;
    IF total <= 0 THEN
      RAISE EXCEPTION 'invalid routing config: targets: loadbalance needs a target with a positive weight'
        USING ERRCODE = 'AGC40';
    END IF;
    draw := random()::numeric * total;
    SELECT x.ord - 1 INTO pick
      FROM (SELECT ord, sum((e->>'weight')::numeric) OVER (ORDER BY ord) AS upto, (e->>'weight')::numeric AS w
              FROM jsonb_array_elements(targets) WITH ORDINALITY a(e, ord)) x
     WHERE x.w > 0 AND x.upto > draw
     ORDER BY x.ord LIMIT 1;
    pick := coalesce(pick, (SELECT max(ord) - 1 FROM jsonb_array_elements(targets) WITH ORDINALITY a(e, ord)
                             WHERE (e->>'weight')::numeric > 0));
    ordered := jsonb_build_array(targets->pick)
               || coalesce((SELECT jsonb_agg(e ORDER BY ord) FROM jsonb_array_elements(targets) WITH ORDINALITY a(e, ord)
                             WHERE ord - 1 <> pick), '[]');
    chosen := jsonb_build_object('by', 'weighted_draw', 'target', pick, 'draw', round(draw / total, 6));
  ELSIF mode = 'conditional' THEN
    i := 0;
    FOR cond IN SELECT * FROM jsonb_array_elements(coalesce(cfg->'strategy'->'conditions', '[]')) LOOP
      IF aigw.route_plan_query(cond->'query', facts, format('strategy.conditions[%s].query', i))
         AND then_name IS NULL THEN
        then_name := cond->>'then';
        chosen := jsonb_build_object('by', 'condition', 'condition', i, 'then', then_name);
      END IF;
      i := i + 1;
    END LOOP;
    IF then_name IS NULL THEN
      then_name := cfg->'strategy'->>'default';
      IF then_name IS NULL THEN
        RAISE EXCEPTION 'no condition of the routing config matches this request and strategy.default is not set'
          USING ERRCODE = 'AGC40', HINT = 'conditions are evaluated on the request metadata (x-portkey-metadata) and params';
      END IF;
      chosen := jsonb_build_object('by', 'default', 'then', then_name);
    END IF;
    SELECT jsonb_build_array(e) INTO ordered FROM jsonb_array_elements(targets) e WHERE e->>'name' = then_name LIMIT 1;
    IF ordered IS NULL THEN
      RAISE EXCEPTION 'invalid routing config: no target is named "%"', then_name USING ERRCODE = 'AGC40';
    END IF;
  ELSE
    RAISE EXCEPTION 'invalid routing config: strategy.mode: must be one of loadbalance, fallback, conditional, single'
      USING ERRCODE = 'AGC40';
  END IF;

  RETURN jsonb_strip_nulls(jsonb_build_object(
    'source', source, 'mode', mode, 'targets', ordered,
    'fallbackCodes', CASE WHEN mode IN ('fallback', 'loadbalance') THEN cfg->'strategy'->'on_status_codes' END,
    'retry', jsonb_build_object('attempts', coalesce((cfg->'retry'->>'attempts')::int, 0),
                                'onStatusCodes', coalesce(cfg->'retry'->'on_status_codes', '[429, 500, 502, 503]')),
    'chosen', chosen));
END
$$;
COMMENT ON FUNCTION aigw.route_plan_make(jsonb, text, jsonb, jsonb) IS
  'the routing plan (ordered targets, fallback codes, retry) of a normalised routing config for one request';

-- The Portkey form of a resolved gateway_routing value, or NULL when it names no targets.
CREATE FUNCTION aigw.gateway_routing_config(routing jsonb) RETURNS jsonb
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN CASE WHEN jsonb_typeof(routing->'targets') = 'array' AND jsonb_array_length(routing->'targets') > 0 THEN
    jsonb_build_object(
      'strategy', jsonb_strip_nulls(jsonb_build_object(
        'mode', coalesce(routing->>'routing_strategy', 'fallback'),
        'on_status_codes', CASE WHEN coalesce(routing->>'routing_strategy', 'fallback') IN ('fallback', 'loadbalance')
                                THEN routing->'retry_status_codes' END,
        'conditions', routing->'conditions', 'default', routing->'default_target')),
      'targets', (SELECT jsonb_agg(t - 'max_tokens' ORDER BY ord)
                    FROM jsonb_array_elements(routing->'targets') WITH ORDINALITY e(t, ord)),
      'retry', jsonb_build_object('attempts', coalesce((routing->>'retry_attempts')::int, 0),
                                  'on_status_codes', coalesce(routing->'retry_status_codes', '[429, 500, 502, 503]')))
  END;
COMMENT ON FUNCTION aigw.gateway_routing_config(jsonb) IS
  'the routing config (Portkey form) of a resolved gateway_routing value; NULL when it has no targets';

-- What the configuration makes of a request at submit, after the access and feature checks of
-- the identity's configuration (AGC41 / AGC42, 403): {routePlan, rateLimits}, or NULL when
-- neither applies. routePlan comes from the request's own config (options.routingConfig: the
-- header text or a JSON object) or else from gateway_routing when it names targets (AGC40, 400,
-- for an invalid config); rateLimits is the limiter policy rate_limits sets for the principal.
CREATE FUNCTION aigw.submit_gateway_config(kind text, request jsonb, identity jsonb, options jsonb)
  RETURNS jsonb
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  gw jsonb := coalesce(aigw.gateway_request_check(kind, request, identity), '{}');
  rc jsonb := options->'routingConfig';
  src text := coalesce(options->>'routingConfigSource', 'routing config');
  cfg jsonb;
  md jsonb;
  plan jsonb;
  t jsonb;
  msg text;
  det text;
  n int;
BEGIN
  IF rc IS NULL OR rc = 'null' OR rc = '""' THEN
    -- the common cases: no header, and no gateway_routing targets (access and flags are
    -- checked above); gw is then {} or {rateLimits}
    IF NOT gw ? 'gateway_routing' THEN
      RETURN nullif(gw, '{}');
    END IF;
    cfg := aigw.gateway_routing_config(gw->'gateway_routing');
    src := 'gateway_routing';
  ELSE
    md := options->'metadata';
    IF jsonb_typeof(md) = 'string' THEN
      BEGIN
        md := (md #>> '{}')::jsonb;
      EXCEPTION WHEN invalid_text_representation THEN
        RAISE EXCEPTION 'invalid x-portkey-metadata: the header value is not valid JSON' USING ERRCODE = 'AGC40';
      END;
    END IF;
    IF md IS NOT NULL AND jsonb_typeof(md) <> 'object' THEN
      RAISE EXCEPTION 'invalid x-portkey-metadata: must be a JSON object' USING ERRCODE = 'AGC40';
    END IF;
  END IF;
  BEGIN
    IF src <> 'gateway_routing' THEN
      IF jsonb_typeof(rc) = 'string' AND btrim(rc #>> '{}') !~ '^[{\[]' THEN
        -- a name: the routing config saved under it in routing_configs for this caller
        cfg := aigw.saved_routing_config(identity, btrim(rc #>> '{}'));
        IF cfg IS NULL THEN
          RAISE EXCEPTION 'invalid %: no saved routing config is named "%" for this account', src, btrim(rc #>> '{}')
            USING ERRCODE = 'AGC40',
                  HINT = 'send a config as JSON, or save one under that name in the routing_configs config type';
        END IF;
        src := format('%s (saved config "%s")', src, btrim(rc #>> '{}'));
        cfg := aigw.validate_portkey_config(cfg);
      ELSIF jsonb_typeof(rc) = 'string' THEN
        cfg := aigw.validate_portkey_header(rc #>> '{}');
      ELSE
        cfg := aigw.validate_portkey_config(rc);
      END IF;
    END IF;
    md := coalesce(cfg->'metadata', '{}') || coalesce(request->'metadata', '{}') || coalesce(md, '{}');
    IF jsonb_typeof(md) <> 'object' THEN
      md := '{}';
    END IF;
    plan := aigw.route_plan_make(cfg, CASE WHEN src = 'gateway_routing' THEN src
                                           WHEN src LIKE '%(saved config %' THEN 'saved' ELSE 'header' END,
                                 request, md);
  EXCEPTION WHEN invalid_parameter_value OR SQLSTATE 'AGC40' THEN
    -- one 400 naming the config's origin and, from the validator, every violation
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    n := coalesce(substring(det FROM '^([0-9]+) violation')::int, 1);
    RAISE EXCEPTION '%', replace(msg, 'invalid routing config:', 'invalid ' || src || ':')
                         || CASE WHEN n > 1 THEN ' (' || det || ')' ELSE '' END
      USING ERRCODE = 'AGC40';
  END;
  -- a target's model is checked like the request's
  IF NOT gw ? 'access_control' THEN
    gw := gw || jsonb_build_object('access_control', aigw.request_gateway_config(identity)->'access_control');
  END IF;
  FOR t IN SELECT * FROM jsonb_array_elements(plan->'targets') LOOP
    PERFORM aigw.check_model_access(gw->'access_control', t->>'model', 'target model');
  END LOOP;
  RETURN jsonb_strip_nulls(jsonb_build_object('routePlan', plan, 'rateLimits', gw->'rateLimits'));
END
$$;
COMMENT ON FUNCTION aigw.submit_gateway_config(text, jsonb, jsonb, jsonb) IS
  'checks access_control and feature_flags; returns {routePlan (header or gateway_routing), rateLimits (rate_limits of the principal)} or NULL';

-- How many attempts a task with a plan may make: every target of the plan with its retries,
-- and at least what the runtime policies allow.
CREATE FUNCTION aigw.route_plan_max_attempts(plan jsonb, policy_max int) RETURNS int
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE WHEN plan IS NULL THEN policy_max
              ELSE greatest(policy_max, jsonb_array_length(plan->'targets')
                                        * (1 + coalesce((plan->'retry'->>'attempts')::int, 0))
                                        * greatest(1, coalesce(policy_max, 1))) END;

-- The candidates of a planned request: for each target in plan order, the eligible platform
-- models of its model (override_params.model, else the request's) on its provider or platform,
-- each platform model once, in the router's usual order within a target.
CREATE FUNCTION aigw.route_plan_candidates(model text, model_type text, identity jsonb, options jsonb,
                                           exclude uuid[] DEFAULT '{}')
  RETURNS SETOF aigw.route_candidate
  LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_variable
DECLARE
  plan jsonb := options->'routePlan';
  opts jsonb := options - 'routePlan';
BEGIN
  RETURN QUERY
  SELECT x.platform_model_id, x.platform_id, x.platform_key, x.provider, x.provider_type, x.model_name,
         (row_number() OVER (ORDER BY x.target_ord, x.rank))::int
    FROM (SELECT DISTINCT ON (c.platform_model_id) c.*, tg.ord AS target_ord
            FROM jsonb_array_elements(plan->'targets') WITH ORDINALITY tg(t, ord)
            CROSS JOIN LATERAL aigw.route_candidates(coalesce(tg.t->>'model', model), model_type, identity,
                                                     opts, exclude) c
           WHERE (tg.t->>'provider' IS NULL OR c.provider = tg.t->>'provider')
             AND (tg.t->>'platform' IS NULL OR tg.t->>'platform' IN (c.platform_key, c.platform_id::text))
           ORDER BY c.platform_model_id, tg.ord, c.rank) x
   ORDER BY 7;
END;
$$;
COMMENT ON FUNCTION aigw.route_plan_candidates(text, text, jsonb, jsonb, uuid[]) IS
  'route_candidates restricted to a routing plan''s targets, in the plan''s order';

-- Raises AGC40 (400) for a planned request none of whose targets can serve: the message names
-- each target and why its platforms were left out.
CREATE FUNCTION aigw.route_plan_unavailable(model text, model_type text, identity jsonb, options jsonb)
  RETURNS void
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  why text;
BEGIN
  SELECT string_agg(format('targets[%s] (%s): %s', tg.t->>'index',
                           coalesce('platform ' || (tg.t->>'platform'), 'provider ' || (tg.t->>'provider')),
                           coalesce((SELECT string_agg(c.platform_key || ' ' || c.reason, ', ')
                                       FROM aigw.route_consider(coalesce(tg.t->>'model', model), model_type, identity,
                                                                options - 'routePlan') c
                                      WHERE (tg.t->>'provider' IS NULL OR c.provider = tg.t->>'provider')
                                        AND (tg.t->>'platform' IS NULL OR tg.t->>'platform' IN (c.platform_key, c.platform_id::text))
                                        AND c.reason IS NOT NULL),
                                    'no platform serves model ' || coalesce(tg.t->>'model', model))), '; ' ORDER BY tg.ord)
    INTO why
    FROM jsonb_array_elements(options->'routePlan'->'targets') WITH ORDINALITY tg(t, ord);
  RAISE EXCEPTION 'no target of the routing config (%) can serve model "%": %',
                  options->'routePlan'->>'source', model, why
    USING ERRCODE = 'AGC40';
END
$$;
COMMENT ON FUNCTION aigw.route_plan_unavailable(text, text, jsonb, jsonb) IS
  'raises AGC40 naming each target of a routing plan and why none of its platforms can serve the request';

-- The outcome path's view of a plan: the policy engine's retry and failover decisions for a
-- failed attempt, adjusted by the plan's retry (attempts and status codes, replacing the runtime
-- policy's same-client retry) and, for fallback and loadbalance, strategy.on_status_codes
-- (which failures move on to the next target). The hard-stop policy is never overridden.
-- Returns {retry, failover, maxSame, plan: what the plan decided}.
CREATE FUNCTION aigw.route_plan_outcome(plan jsonb, err jsonb, retry jsonb, failover jsonb, max_same int)
  RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  st int := CASE WHEN (err->>'status') ~ '^[0-9]+$' THEN (err->>'status')::int END;
  attempts int := coalesce((plan->'retry'->>'attempts')::int, 0);
  hard boolean := coalesce(failover->>'reason' = 'hard_stop_policy', false);
  said jsonb := '{}';
BEGIN
  IF attempts > 0 THEN
    retry := jsonb_build_object('retry', NOT hard AND st IS NOT NULL AND plan->'retry'->'onStatusCodes' @> to_jsonb(st),
                                'reason', CASE WHEN hard THEN 'hard_stop_policy'
                                               WHEN plan->'retry'->'onStatusCodes' @> to_jsonb(st) THEN 'route_plan_retry'
                                               ELSE 'route_plan_status_not_retried' END,
                                'match', jsonb_build_object('source', 'routePlan.retry', 'rule', 'on_status_codes',
                                                            'value', coalesce(st::text, 'none')));
    max_same := attempts + 1;
    said := said || jsonb_build_object('retryAttempts', attempts);
  END IF;
  IF plan ? 'fallbackCodes' AND NOT hard THEN
    IF st IS NOT NULL AND plan->'fallbackCodes' @> to_jsonb(st) THEN
      failover := failover || jsonb_build_object('retry', true, 'reason', 'route_plan_fallback',
                    'action', CASE WHEN failover->>'action' IN ('cooldown_and_next', 'disable_and_next')
                                   THEN failover->>'action' ELSE 'next' END);
    ELSE
      failover := failover || jsonb_build_object('retry', false, 'action', 'stop',
                                                 'reason', 'route_plan_status_not_in_on_status_codes');
    END IF;
    said := said || jsonb_build_object('fallbackCodes', plan->'fallbackCodes');
  END IF;
  RETURN jsonb_build_object('retry', retry, 'failover', failover, 'maxSame', max_same,
                            'plan', said || jsonb_build_object('status', st));
END
$$;
COMMENT ON FUNCTION aigw.route_plan_outcome(jsonb, jsonb, jsonb, jsonb, integer) IS
  'retry and failover decisions of a failed attempt adjusted by the task''s routing plan (never over a hard stop)';

DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
           WHERE p.pronamespace = 'aigw'::regnamespace
             AND p.proname IN ('route_plan_query', 'route_plan_make', 'gateway_routing_config',
                               'submit_gateway_config', 'route_plan_max_attempts', 'route_plan_candidates',
                               'route_plan_outcome', 'route_plan_unavailable') LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END
$$;
