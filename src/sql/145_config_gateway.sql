-- What the gateway itself reads from the configuration resolver at submit (src/config_gateway.c):
-- the identity's context, access_control (allowed and blocked models), feature_flags (streaming)
-- and gateway_routing (the default routing plan, src/sql/305_route_plan.sql).
-- docs/configuration.md says which config types have a consumer.

CREATE FUNCTION aigw.identity_config_context(identity jsonb) RETURNS jsonb
  LANGUAGE c IMMUTABLE PARALLEL SAFE STRICT
  AS 'MODULE_PATHNAME', 'aigw_identity_config_context';
COMMENT ON FUNCTION aigw.identity_config_context(jsonb) IS
  'the resolver context (tenant_id, user_group_id, user_id, api_key_id, tier_name) of a task identity, snake_case or camelCase';

CREATE FUNCTION aigw.request_gateway_config(identity jsonb) RETURNS jsonb
  LANGUAGE c STABLE PARALLEL RESTRICTED STRICT
  AS 'MODULE_PATHNAME', 'aigw_request_gateway_config';
COMMENT ON FUNCTION aigw.request_gateway_config(jsonb) IS
  'access_control, feature_flags and gateway_routing resolved for a task identity at the most specific level it names';

CREATE FUNCTION aigw.gateway_request_check(kind text, request jsonb, identity jsonb) RETURNS jsonb
  LANGUAGE c STABLE PARALLEL RESTRICTED
  AS 'MODULE_PATHNAME', 'aigw_gateway_request_check';
COMMENT ON FUNCTION aigw.gateway_request_check(text, jsonb, jsonb) IS
  'AGC41 (403) when access_control refuses the model, AGC42 (403) when feature_flags switch streaming off; returns {access_control, gateway_routing} when gateway_routing names targets, else NULL';

CREATE FUNCTION aigw.check_model_access(access jsonb, model text, what text DEFAULT 'model') RETURNS void
  LANGUAGE c IMMUTABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_check_model_access';
COMMENT ON FUNCTION aigw.check_model_access(jsonb, text, text) IS
  'raises AGC41 (HTTP 403) when access_control blocks the model or does not list it in a non-empty allowed_models';

CREATE FUNCTION aigw.saved_routing_config(identity jsonb, name text) RETURNS jsonb
  LANGUAGE c STABLE PARALLEL RESTRICTED STRICT
  AS 'MODULE_PATHNAME', 'aigw_saved_routing_config';
COMMENT ON FUNCTION aigw.saved_routing_config(jsonb, text) IS
  'the routing config saved under a name in routing_configs, resolved for a task identity, or NULL';
