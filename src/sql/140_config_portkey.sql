-- Portkey-compatible routing configs: export from the resolved configuration, and validation of
-- one carried by a request (x-portkey-config / x-aigw-config).

CREATE FUNCTION aigw.validate_portkey_config(config jsonb) RETURNS jsonb
  LANGUAGE c IMMUTABLE PARALLEL SAFE STRICT
  AS 'MODULE_PATHNAME', 'aigw_validate_portkey_config';
COMMENT ON FUNCTION aigw.validate_portkey_config(jsonb) IS
  'validates a Portkey routing config and returns its normalised strategy, targets and retry; raises 22023 naming the field';

CREATE FUNCTION aigw.validate_portkey_header(header text) RETURNS jsonb
  LANGUAGE c IMMUTABLE PARALLEL SAFE STRICT
  AS 'MODULE_PATHNAME', 'aigw_validate_portkey_header';
COMMENT ON FUNCTION aigw.validate_portkey_header(text) IS
  'validate_portkey_config for the raw value of an x-portkey-config / x-aigw-config header (bad JSON is 22023 too)';

-- Builds the Portkey config of a scope from gateway_routing, rate_limits, cache_strategy and hooks.
-- request may carry "model" and "provider" (used when gateway_routing has no targets).
CREATE FUNCTION aigw.portkey_config(level text, scope_id text DEFAULT NULL, context jsonb DEFAULT '{}',
                                    request jsonb DEFAULT '{}')
  RETURNS jsonb
  LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  routing jsonb := aigw.resolve_config('gateway_routing', level, scope_id, context);
  limits  jsonb := aigw.resolve_config('rate_limits', level, scope_id, context);
  cache   jsonb := aigw.resolve_config('cache_strategy', level, scope_id, context);
  hooks   jsonb := aigw.resolve_config('hooks', level, scope_id, context);
  model   text  := request->>'model';
  codes   jsonb;
  targets jsonb;
  strategy jsonb;
  cfg     jsonb;
BEGIN
  codes := CASE WHEN jsonb_typeof(routing->'retry_status_codes') = 'array'
                     AND jsonb_array_length(routing->'retry_status_codes') > 0
                THEN routing->'retry_status_codes' ELSE '[429, 500, 502, 503]' END;
  SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
           'provider', t->>'provider',
           'name', t->>'name',
           'weight', coalesce(t->'weight', '1'),
           'override_params', coalesce(t->'override_params', '{}') || jsonb_strip_nulls(jsonb_build_object(
               'model', coalesce(t->>'model', model),
               'max_tokens', coalesce(t->'max_tokens', limits->'max_tokens')))))
         ORDER BY ord)
    INTO targets
  FROM jsonb_array_elements(coalesce(routing->'targets', '[]')) WITH ORDINALITY AS e(t, ord);
  IF targets IS NULL THEN
    IF request->>'provider' IS NULL THEN
      RAISE EXCEPTION 'invalid routing config: targets: gateway_routing has no targets and the request names no provider'
        USING ERRCODE = '22023';
    END IF;
    targets := jsonb_build_array(jsonb_build_object(
      'provider', request->>'provider', 'weight', 1,
      'override_params', jsonb_strip_nulls(jsonb_build_object('model', model, 'max_tokens', limits->'max_tokens'))));
  END IF;
  strategy := jsonb_build_object('mode', coalesce(routing->>'routing_strategy', 'fallback'));
  IF strategy->>'mode' = 'fallback' THEN
    strategy := strategy || jsonb_build_object('on_status_codes', codes);
  ELSIF strategy->>'mode' = 'conditional' THEN
    strategy := strategy || jsonb_strip_nulls(jsonb_build_object('conditions', routing->'conditions',
                                                                 'default', routing->'default_target'));
  END IF;
  cfg := jsonb_build_object(
    'strategy', strategy,
    'targets', targets,
    'before_request_hooks', coalesce(hooks->'before', '[]'),
    'after_request_hooks', coalesce(hooks->'after', '[]'),
    'metadata', jsonb_strip_nulls(jsonb_build_object(
        'tenant_id', context->>'tenant_id', 'user_id', context->>'user_id',
        'api_key_id', context->>'api_key_id', 'tier_name', context->>'tier_name',
        'config_source', 'aigw')));
  IF coalesce((routing->>'retry_attempts')::int, 0) > 0 THEN
    cfg := cfg || jsonb_build_object('retry', jsonb_build_object(
             'attempts', (routing->>'retry_attempts')::int, 'on_status_codes', codes));
  END IF;
  IF routing ? 'request_timeout' THEN
    cfg := cfg || jsonb_build_object('request_timeout', routing->'request_timeout');
  END IF;
  IF coalesce((cache->>'enabled')::boolean, false) THEN
    cfg := cfg || jsonb_build_object('cache', jsonb_build_object(
             'mode', coalesce(cache->>'mode', 'simple'), 'max_age', coalesce(cache->'max_age', '300')));
  END IF;
  -- the export must satisfy the schema it will be checked against
  PERFORM aigw.validate_portkey_config(cfg);
  RETURN cfg;
END
$$;
COMMENT ON FUNCTION aigw.portkey_config(text, text, jsonb, jsonb) IS
  'the Portkey-compatible routing config (strategy, targets, retry, cache, hooks, metadata) resolved for a scope';
