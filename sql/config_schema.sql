-- JSON-schema validation of config values on write, and of the schemas themselves.
BEGIN;
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Values against the seeded schemas: one failure per keyword.
SELECT t AS config_type, v AS value,
       pg_temp.try(format('INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value) VALUES (%L, %L, %L, %L)',
                          t, 'tenant', 't1', v)) AS outcome
FROM (VALUES
  ('rate_limits', '{"max_tokens": 100}'),
  ('rate_limits', '[1]'),
  ('rate_limits', '{"max_tokens": "lots"}'),
  ('rate_limits', '{"max_tokens": 1.5}'),
  ('rate_limits', '{"max_tokens": 0}'),
  ('rate_limits', '{"max_tokens": 100, "burst": 1}'),
  ('gateway_routing', '{"routing_strategy": "round_robin"}'),
  ('gateway_routing', '{"retry_attempts": 6}'),
  ('gateway_routing', '{"retry_status_codes": [429, 99]}'),
  ('gateway_routing', '{"targets": [{"provider": "openai"}, {"weight": 1}]}'),
  ('gateway_routing', '{"targets": [{"provider": "openai", "weight": -1}]}'),
  ('access_control', '{"allowed_models": ["a", 2]}'),
  ('feature_flags', '{"beta": "yes"}'),
  ('billing_rules', '{"monthly_limit": null, "currency": "EURO"}'),
  ('billing_rules', '{"price_multiplier": 0.85, "currency": "USD"}')
) AS c(t, v);

-- A schema is checked when its type is written.
SELECT s AS schema, pg_temp.try(format('SELECT aigw.json_schema_check_schema(%L)', s)) AS outcome
FROM (VALUES
  ('{"type": "object", "properties": {"a": {"type": "integer", "minimum": 0}}, "required": ["a"]}'),
  ('{"type": "obj"}'),
  ('{"type": []}'),
  ('{"requried": ["a"]}'),
  ('{"properties": {"a": 1}}'),
  ('{"required": "a"}'),
  ('{"enum": []}'),
  ('{"minimum": "0"}'),
  ('{"maxItems": -1}'),
  ('{"items": true}'),
  ('{"additionalProperties": "no"}'),
  ('[]')
) AS t(s);
SELECT pg_temp.try($$INSERT INTO aigw.config_types (type_name, display_name, value_schema, default_value, merge_strategy)
  VALUES ('bad', 'Bad', '{"type": "object", "requried": ["x"]}', NULL, 'override')$$);
SELECT pg_temp.try($$INSERT INTO aigw.config_types (type_name, display_name, value_schema, default_value, merge_strategy)
  VALUES ('bad', 'Bad', '{"type": "object", "required": ["x"]}', '{}', 'override')$$);
-- items, minItems, maxItems, minLength, maxLength, enum on nested values.
SELECT pg_temp.try(format('SELECT aigw.json_schema_validate(%L, %L)', v, s)) AS outcome
FROM (VALUES
  ('[1, 2]', '{"type": "array", "items": {"type": "integer"}, "minItems": 3}'),
  ('[1, 2, 3, 4]', '{"type": "array", "maxItems": 3}'),
  ('{"a": [{"b": "xyz"}]}', '{"properties": {"a": {"items": {"properties": {"b": {"maxLength": 2}}}}}}'),
  ('{"a": ""}', '{"properties": {"a": {"minLength": 1}}}'),
  ('{"a": {"b": 3}}', '{"properties": {"a": {"properties": {"b": {"enum": [1, 2]}}}}}'),
  ('{"a": null}', '{"properties": {"a": {"type": ["string", "null"]}}}'),
  ('7', '{"type": "integer", "maximum": 5}')
) AS t(v, s);
-- Changing a schema re-checks the values already stored for the type.
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value)
  VALUES ('rate_limits', 'tenant', 't1', '{"max_tokens": 100}');
SELECT pg_temp.try($$UPDATE aigw.config_types
  SET value_schema = jsonb_set(value_schema, '{properties,max_tokens,minimum}', '1000')
  WHERE type_name = 'rate_limits'$$);
ROLLBACK;
