-- Portkey compatibility: the exported routing config, and validation of one carried by a request.
BEGIN;
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  msg text;
  det text;
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
  RETURN SQLSTATE || ': ' || msg || coalesce(E'\n  ' || nullif(det, ''), '');
END $$;

-- Export: defaults, then a premium tenant with targets and cache, and a user override.
SELECT jsonb_pretty(aigw.portkey_config('user', 'u1', '{"tenant_id": "t1"}', '{"model": "gpt-4o", "provider": "openai"}'));
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value) VALUES
  ('gateway_routing', 'tenant', 't1', '{"targets": [{"provider": "openai", "weight": 0.7, "model": "gpt-4o"},
                                                    {"provider": "anthropic", "weight": 0.3, "model": "claude-3-5-sonnet"}]}'),
  ('gateway_routing', 'user', 'u1', '{"retry_attempts": 2, "retry_status_codes": [429, 503], "request_timeout": 30000}'),
  ('hooks', 'tenant', 't1', '{"before": [{"plugin": "modelWhitelist", "allowed_models": ["gpt-4o"]}]}');
SELECT jsonb_pretty(aigw.portkey_config('user', 'u1', '{"tenant_id": "t1", "user_id": "u1", "tier_name": "premium"}'));
-- The export is itself a valid request config.
SELECT aigw.validate_portkey_config(aigw.portkey_config('user', 'u1', '{"tenant_id": "t1", "tier_name": "premium"}'))->'strategy';
-- Fallback export carries the status codes that trigger a fallback; no retry when attempts is 0.
UPDATE aigw.unified_config_store SET config_value = '{"retry_attempts": 0, "routing_strategy": "fallback"}'
WHERE config_type = 'gateway_routing' AND level_name = 'user';
SELECT cfg->'strategy' AS strategy, cfg ? 'retry' AS has_retry
FROM aigw.portkey_config('user', 'u1', '{"tenant_id": "t1"}') AS cfg;
-- No targets anywhere and no provider in the request.
SELECT pg_temp.try($$SELECT aigw.portkey_config('user', 'u2', '{}', '{"model": "gpt-4o"}')$$);

-- Validation of request configs: valid ones are normalised (strategy, targets with weights, retry).
SELECT aigw.validate_portkey_config('{"strategy": {"mode": "fallback"}, "targets": [{"provider": "openai", "override_params": {"model": "gpt-4o"}}, {"provider": "anthropic"}], "retry": {"attempts": 3, "on_status_codes": [429, 502]}, "cache": {"mode": "simple"}, "metadata": {"env": "prod"}}');
SELECT aigw.validate_portkey_config('{"provider": "deepseek", "api_key": "sk-test"}');
SELECT aigw.validate_portkey_config('{"strategy": {"mode": "loadbalance"}, "targets": [{"strategy": {"mode": "fallback"}, "targets": [{"provider": "openai"}, {"provider": "groq"}], "weight": 0.8}, {"provider": "mistral-ai", "weight": 0.2}]}');
SELECT aigw.validate_portkey_config('{"strategy": {"mode": "conditional", "conditions": [{"query": {"metadata.tier": {"$eq": "pro"}}, "then": "fast"}], "default": "cheap"}, "targets": [{"name": "fast", "provider": "openai"}, {"name": "cheap", "provider": "deepseek"}]}')->'strategy';
SELECT aigw.validate_portkey_config('{"strategy": {"mode": "single"}, "targets": [{"provider": "ollama", "custom_host": "https://llm.example.com/v1"}]}')->'targets';

-- Each violation is reported with the field it concerns.
SELECT c AS config, pg_temp.try(format('SELECT aigw.validate_portkey_config(%L)', c)) AS outcome
FROM (VALUES
  ('[]'),
  ('{}'),
  ('{"strategy": {"mode": "round_robin"}, "targets": [{"provider": "openai"}]}'),
  ('{"strategy": {}, "targets": [{"provider": "openai"}]}'),
  ('{"strategy": {"mode": "fallback"}}'),
  ('{"strategy": {"mode": "fallback"}, "targets": []}'),
  ('{"strategy": {"mode": "fallback"}, "targets": [{"provider": "openia"}]}'),
  ('{"strategy": {"mode": "fallback"}, "targets": [{"weight": 1}]}'),
  ('{"strategy": {"mode": "fallback"}, "targets": ["openai"]}'),
  ('{"strategy": {"mode": "loadbalance"}, "targets": [{"provider": "openai", "weight": "1"}]}'),
  ('{"strategy": {"mode": "loadbalance"}, "targets": [{"provider": "openai", "weight": -1}]}'),
  ('{"strategy": {"mode": "loadbalance"}, "targets": [{"provider": "openai", "weight": 0}]}'),
  ('{"provider": "openai", "retry": {"attempts": 0}}'),
  ('{"provider": "openai", "retry": {"attempts": 6}}'),
  ('{"provider": "openai", "retry": {"attempts": 2.5}}'),
  ('{"provider": "openai", "retry": {"attempts": 2, "on_status_codes": [429, 600]}}'),
  ('{"provider": "openai", "retry": {"attempts": 2, "on_status_codes": []}}'),
  ('{"provider": "openai", "retry": 3}'),
  ('{"provider": "openai", "cache": {"mode": "fuzzy"}}'),
  ('{"provider": "openai", "request_timeout": -5}'),
  ('{"provider": "openai", "before_request_hooks": {"plugin": "x"}}'),
  ('{"provider": "openai", "metadata": "prod"}'),
  ('{"provider": "openai", "override_params": []}'),
  ('{"strategy": {"mode": "conditional"}, "targets": [{"provider": "openai"}]}'),
  ('{"strategy": {"mode": "conditional", "conditions": [{"query": {}, "then": "x"}]}, "targets": [{"name": "y", "provider": "openai"}]}'),
  ('{"provider": "openai", "custom_host": "http://169.254.169.254/latest"}'),
  ('{"provider": "openai", "custom_host": "http://10.1.2.3:8080"}'),
  ('{"provider": "openai", "custom_host": "https://[::1]/v1"}'),
  ('{"provider": "openai", "custom_host": "http://gateway.internal/v1"}'),
  ('{"provider": "openai", "custom_host": "ftp://example.com"}'),
  ('{"strategy": {"mode": "x"}, "targets": [{"provider": "nope", "weight": "heavy"}], "retry": {"attempts": 9}}')
) AS t(c);
-- The raw header value: bad JSON is a 22023 like any other violation.
SELECT aigw.validate_portkey_header('{"provider": "anthropic"}');
SELECT pg_temp.try($$SELECT aigw.validate_portkey_header('{"provider": "openai",')$$);
SELECT pg_temp.try($$SELECT aigw.validate_portkey_header('{"provider": "openai", "retry": {"attempts": 7}}')$$);
ROLLBACK;
