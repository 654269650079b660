-- What the gateway itself reads from the configuration resolver at submit: the identity's
-- context, access_control (allowed and blocked models), feature_flags (streaming) and
-- gateway_routing (the default routing plan, src/sql/305_route_plan.sql). docs/configuration.md
-- says which config types have a consumer.

-- The resolver context of a task identity (snake_case or camelCase keys): the scope ids of the
-- levels tenant, user group, user and API key, and the tier.
CREATE FUNCTION aigw.identity_config_context(identity jsonb) RETURNS jsonb
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN jsonb_strip_nulls(jsonb_build_object(
    'tenant_id', coalesce(identity->>'tenant_id', identity->>'tenantId',
                          identity->>'tenant_key', identity->>'tenantKey'),
    'user_group_id', coalesce(identity->>'user_group_id', identity->>'userGroupId',
                              identity->>'user_group_key', identity->>'userGroupKey'),
    'user_id', coalesce(identity->>'user_id', identity->>'userId'),
    'api_key_id', coalesce(identity->>'api_key_id', identity->>'apiKeyId'),
    'tier_name', coalesce(identity->>'tier_name', identity->>'tierName')));
COMMENT ON FUNCTION aigw.identity_config_context(jsonb) IS
  'the configuration context (tenant_id, user_group_id, user_id, api_key_id, tier_name) of a task identity';

-- Resolves the config types a request needs for an identity, at the most specific level the
-- identity names (API key, else user, group, tenant, global).
CREATE FUNCTION aigw.request_gateway_config(identity jsonb) RETURNS jsonb
  LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  ctx jsonb := aigw.identity_config_context(identity);
  lvl text := CASE WHEN ctx ? 'api_key_id' THEN 'api_key' WHEN ctx ? 'user_id' THEN 'user'
                   WHEN ctx ? 'user_group_id' THEN 'user_group' WHEN ctx ? 'tenant_id' THEN 'tenant'
                   ELSE 'global' END;
BEGIN
  RETURN jsonb_build_object(
    'access_control', aigw.resolve_config('access_control', lvl, NULL, ctx),
    'feature_flags', aigw.resolve_config('feature_flags', lvl, NULL, ctx),
    'gateway_routing', aigw.resolve_config('gateway_routing', lvl, NULL, ctx));
END
$$;
COMMENT ON FUNCTION aigw.request_gateway_config(jsonb) IS
  'access_control, feature_flags and gateway_routing resolved for a task identity';

-- Raises AGC41 (403) when access_control does not let the request use a model.
CREATE FUNCTION aigw.check_model_access(access jsonb, model text, what text DEFAULT 'model') RETURNS void
  LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF access IS NULL OR model IS NULL THEN
    RETURN;
  END IF;
  IF coalesce(access->'blocked_models', '[]') ? model THEN
    RAISE EXCEPTION '% "%" is blocked for this account (access_control.blocked_models)', what, model
      USING ERRCODE = 'AGC41';
  END IF;
  IF jsonb_array_length(coalesce(access->'allowed_models', '[]')) > 0
     AND NOT access->'allowed_models' ? model THEN
    RAISE EXCEPTION '% "%" is not allowed for this account (access_control.allowed_models)', what, model
      USING ERRCODE = 'AGC41',
            HINT = 'allowed models: ' || (SELECT string_agg(m, ', ')
                                            FROM jsonb_array_elements_text(access->'allowed_models') m);
  END IF;
END
$$;
COMMENT ON FUNCTION aigw.check_model_access(jsonb, text, text) IS
  'raises AGC41 (HTTP 403) when access_control blocks the model or does not list it in a non-empty allowed_models';

-- Raises AGC42 (403) when a feature the request uses is switched off by feature_flags.
CREATE FUNCTION aigw.check_feature_flags(flags jsonb, kind text, request jsonb) RETURNS void
  LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF flags IS NULL THEN
    RETURN;
  END IF;
  IF (flags->>'streaming')::boolean IS FALSE AND kind = 'chat.completions'
     AND coalesce(request->>'stream', 'false') = 'true' THEN
    RAISE EXCEPTION 'streaming is disabled for this account (feature_flags.streaming)'
      USING ERRCODE = 'AGC42', HINT = 'send the request without "stream": true';
  END IF;
END
$$;
COMMENT ON FUNCTION aigw.check_feature_flags(jsonb, text, jsonb) IS
  'raises AGC42 (HTTP 403) when feature_flags switch off what the request uses (streaming)';
