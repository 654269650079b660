-- Merge strategies: override, deep_merge (recursive), array_append and array_merge on the
-- array keys a type declares, custom strategies per inheritance rule, conflict resolution.
BEGIN;
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- The built-in strategies on their own.
SELECT aigw.merge_config('{"a": 1, "b": {"c": 1}}', '{"b": {"d": 2}}', 'override');
SELECT aigw.merge_config('{"a": 1, "b": {"c": 1, "e": {"f": 1, "g": 1}}, "l": [1]}',
                         '{"b": {"d": 2, "e": {"g": 2}}, "l": [2]}', 'deep_merge');
-- array_append concatenates only the declared keys (dotted paths reach nested arrays).
SELECT aigw.merge_config('{"models": ["a", "b"], "tags": ["x"], "n": {"list": [1]}}',
                         '{"models": ["b", "c"], "tags": ["y"], "n": {"list": [1, 2]}}',
                         'array_append', '{models,n.list}');
-- array_merge unites them without duplicates, keeping first-seen order.
SELECT aigw.merge_config('{"models": ["a", "b"], "tags": ["x"], "n": {"list": [1]}}',
                         '{"models": ["b", "c"], "tags": ["y"], "n": {"list": [1, 2]}}',
                         'array_merge', '{models,n.list}');
-- Whole-array values are combined; a scalar replaces an array and the other way round.
SELECT aigw.merge_config('[1, 2]', '[2, 3]', 'array_merge');
SELECT aigw.merge_config('{"models": ["a"]}', '{"models": "all"}', 'array_append', '{models}');
SELECT aigw.merge_config(NULL, '{"a": 1}', 'deep_merge'), aigw.merge_config('{"a": 1}', NULL, 'deep_merge');
SELECT pg_temp.try($$SELECT aigw.merge_config('{}', '{}', 'shallow')$$);

-- Through the resolver: access_control (array_merge on allowed_models and blocked_models).
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value) VALUES
  ('access_control', 'tenant', 't1', '{"allowed_models": ["gpt-4o", "claude-3"], "blocked_content": true}'),
  ('access_control', 'user', 'u1', '{"allowed_models": ["claude-3", "deepseek-chat"], "blocked_models": ["o1"]}');
SELECT aigw.resolve_config('access_control', 'user', 'u1', '{"tenant_id": "t1"}');
-- hooks (array_append on before and after).
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value) VALUES
  ('hooks', 'global', NULL, '{"before": [{"plugin": "regexMatch"}]}'),
  ('hooks', 'tenant', 't1', '{"before": [{"plugin": "modelWhitelist"}], "after": [{"plugin": "jsonSchema"}]}');
SELECT aigw.resolve_config('hooks', 'tenant', 't1');
-- gateway_routing (deep_merge): the tenant's targets replace the default empty list.
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value) VALUES
  ('gateway_routing', 'tenant', 't1', '{"targets": [{"provider": "openai", "weight": 2}]}');
SELECT aigw.resolve_config('gateway_routing', 'tenant', 't1');

-- A type whose strategy is override: the most specific value wins whole.
INSERT INTO aigw.config_types (type_name, display_name, value_schema, default_value, merge_strategy)
VALUES ('banner', 'Banner', '{"type": "object"}', '{"text": "hello", "color": "blue"}', 'override');
INSERT INTO aigw.inheritance_rules (parent_level, child_level, config_type) VALUES
  ('global', 'tenant', 'banner'), ('tenant', 'user_group', 'banner'), ('user_group', 'user', 'banner');
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value) VALUES
  ('banner', 'tenant', 't1', '{"text": "tenant banner"}');
SELECT aigw.resolve_config('banner', 'user', 'u1', '{"tenant_id": "t1"}');

-- A per-rule strategy: the global -> tenant edge deep-merges this override type.
UPDATE aigw.inheritance_rules SET custom_merge_strategy = 'deep_merge'
WHERE config_type = 'banner' AND parent_level = 'global' AND child_level = 'tenant';
SELECT aigw.resolve_config('banner', 'user', 'u1', '{"tenant_id": "t1"}');
-- conflict_resolution parent_wins: the parent's keys beat the child's.
UPDATE aigw.inheritance_rules SET conflict_resolution = 'parent_wins'
WHERE config_type = 'banner' AND parent_level = 'global' AND child_level = 'tenant';
SELECT aigw.resolve_config('banner', 'tenant', 't1');
-- conflict_resolution merge turns an override edge into a deep merge.
UPDATE aigw.inheritance_rules SET conflict_resolution = 'merge', custom_merge_strategy = NULL
WHERE config_type = 'banner' AND parent_level = 'global' AND child_level = 'tenant';
SELECT aigw.resolve_config('banner', 'tenant', 't1');

-- A custom strategy backed by a function (parent, child, context).
CREATE FUNCTION pg_temp.keep_lower_limits(parent jsonb, child jsonb, context jsonb) RETURNS jsonb
  LANGUAGE sql IMMUTABLE
  RETURN (SELECT jsonb_object_agg(k, CASE WHEN parent ? k AND child ? k
                                          THEN to_jsonb(least((parent->>k)::numeric, (child->>k)::numeric))
                                          ELSE coalesce(child->k, parent->k) END)
          FROM (SELECT jsonb_object_keys(parent) UNION SELECT jsonb_object_keys(child)) AS keys(k));
INSERT INTO aigw.merge_strategies (strategy_name, description, implementation_function)
VALUES ('strictest', 'the lower of two limits wins', 'pg_temp.keep_lower_limits');
UPDATE aigw.inheritance_rules SET custom_merge_strategy = 'strictest'
WHERE config_type = 'rate_limits' AND parent_level = 'tenant' AND child_level = 'user_group';
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value) VALUES
  ('rate_limits', 'tenant', 't1', '{"requests_per_minute": 30, "max_tokens": 9000}'),
  ('rate_limits', 'user_group', 'g1', '{"requests_per_minute": 500, "max_tokens": 2000}');
SELECT aigw.resolve_config('rate_limits', 'user_group', 'g1', '{"tenant_id": "t1"}');
SELECT step, level_name, merge_strategy, result FROM aigw.explain_config('rate_limits', 'user_group', 'g1', '{"tenant_id": "t1"}');
-- A strategy whose function was dropped fails only the resolutions that use it.
DROP FUNCTION pg_temp.keep_lower_limits(jsonb, jsonb, jsonb);
UPDATE aigw.tier_definitions SET updated_at = updated_at WHERE tier_name = 'free';
SELECT pg_temp.try($$SELECT aigw.resolve_config('rate_limits', 'user_group', 'g1', '{"tenant_id": "t1"}')$$);
SELECT aigw.resolve_config('rate_limits', 'tenant', 't1');
-- A custom strategy must name an existing function of the right shape; builtins are fixed.
SELECT pg_temp.try($$INSERT INTO aigw.merge_strategies (strategy_name, description, implementation_function)
  VALUES ('nope', 'missing', 'pg_temp.no_such_function')$$);
SELECT pg_temp.try($$INSERT INTO aigw.merge_strategies (strategy_name, description, is_builtin)
  VALUES ('shallow', 'not a builtin', true)$$);
ROLLBACK;
