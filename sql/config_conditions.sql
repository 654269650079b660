-- Conditions: every operator, all/any composition, dotted fields, and malformed conditions
-- rejected at write time with SQLSTATE 22023.
BEGIN;
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT c AS condition, aigw.evaluate_condition(c::jsonb,
  '{"tier_name": "premium", "region": "cn", "age_days": 40, "flags": {"beta": true}, "nothing": null}') AS result
FROM (VALUES
  ('{"field": "tier_name", "operator": "equals", "value": "premium"}'),
  ('{"field": "tier_name", "operator": "equals", "value": "basic"}'),
  ('{"field": "tier_name", "operator": "in", "value": ["premium", "enterprise"]}'),
  ('{"field": "tier_name", "operator": "in", "value": ["free"]}'),
  ('{"field": "region", "operator": "not_in", "value": ["us", "eu"]}'),
  ('{"field": "region", "operator": "not_in", "value": ["cn"]}'),
  ('{"field": "missing", "operator": "not_in", "value": ["cn"]}'),
  ('{"field": "age_days", "operator": "greater_than", "value": 30}'),
  ('{"field": "age_days", "operator": "greater_than", "value": 40}'),
  ('{"field": "age_days", "operator": "less_than", "value": 40.5}'),
  ('{"field": "region", "operator": "less_than", "value": 1}'),
  ('{"field": "nothing", "operator": "exists"}'),
  ('{"field": "missing", "operator": "exists"}'),
  ('{"field": "flags.beta", "operator": "equals", "value": true}'),
  ('{"all": [{"field": "region", "operator": "equals", "value": "cn"}, {"field": "age_days", "operator": "greater_than", "value": 7}]}'),
  ('{"all": [{"field": "region", "operator": "equals", "value": "cn"}, {"field": "age_days", "operator": "greater_than", "value": 70}]}'),
  ('{"any": [{"field": "region", "operator": "equals", "value": "us"}, {"any": [{"field": "missing", "operator": "exists"}, {"field": "tier_name", "operator": "equals", "value": "premium"}]}]}'),
  ('{"any": [{"field": "region", "operator": "equals", "value": "us"}, {"field": "missing", "operator": "exists"}]}')
) AS t(c);

-- Malformed conditions are errors, not false.
SELECT c AS condition, pg_temp.try(format('SELECT aigw.validate_condition(%L)', c)) AS outcome
FROM (VALUES
  ('[]'),
  ('{"field": "a"}'),
  ('{"field": "", "operator": "exists"}'),
  ('{"field": "a", "operator": "gt", "value": 1}'),
  ('{"field": "a", "operator": "equals"}'),
  ('{"field": "a", "operator": "in", "value": "x"}'),
  ('{"field": "a", "operator": "greater_than", "value": "5"}'),
  ('{"field": "a", "operator": "exists", "value": 1}'),
  ('{"field": "a", "operator": "equals", "value": 1, "extra": 2}'),
  ('{"all": []}'),
  ('{"any": [{"field": "a", "operator": "exists"}, 3]}'),
  ('{"all": [{"field": "a", "operator": "exists"}], "field": "b"}'),
  ('{"any": [{"all": [{"field": "a", "operator": "nope", "value": 1}]}]}')
) AS t(c);
SELECT pg_temp.try($$SELECT aigw.evaluate_condition('{"field": "a", "operator": "gt", "value": 1}', '{"a": 2}')$$);

-- At write time, in each table that carries a condition.
SELECT pg_temp.try($$INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value, condition_context)
  VALUES ('rate_limits', 'user', 'u1', '{}', '{"field": "tier_name", "operator": "like", "value": "p%"}')$$);
SELECT pg_temp.try($$UPDATE aigw.inheritance_rules SET condition_expression = '{"any": "x"}'
  WHERE config_type = 'rate_limits' AND child_level = 'tenant'$$);
SELECT pg_temp.try($$UPDATE aigw.tier_feature_mappings SET condition_expression = '{"field": 1, "operator": "exists"}'
  WHERE tier_name = 'premium' AND config_type = 'rate_limits'$$);

-- A conditional row applies only when its condition holds for the request context.
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value, condition_context)
  VALUES ('feature_flags', 'user', 'u1', '{"beta_ui": true}',
          '{"all": [{"field": "client.platform", "operator": "in", "value": ["web", "ios"]},
                    {"field": "client.version", "operator": "greater_than", "value": 2}]}');
SELECT aigw.resolve_config('feature_flags', 'user', 'u1', '{"client": {"platform": "web", "version": 3}}');
SELECT aigw.resolve_config('feature_flags', 'user', 'u1', '{"client": {"platform": "android", "version": 3}}');
SELECT aigw.resolve_config('feature_flags', 'user', 'u1', '{"client": {"platform": "web", "version": 1}}');
ROLLBACK;
