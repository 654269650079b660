-- Tiers: the entitlement of the context's tier applies when no scoped config exists, and a
-- scoped config beats it (seed 004's three cases); tier-specific rows and unsupported types.
BEGIN;
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT tier_name, config_type, feature_value FROM aigw.tier_feature_mappings ORDER BY tier_name, config_type;

-- A type with no default and no global value, so that "no config at all" can be shown.
INSERT INTO aigw.config_types (type_name, display_name, value_schema, merge_strategy)
VALUES ('quota', 'Quota', '{"type": "object", "properties": {"daily": {"type": "integer"}, "burst": {"type": "integer"}}}', 'deep_merge');
INSERT INTO aigw.inheritance_rules (parent_level, child_level, config_type)
SELECT parent_level, level_name, 'quota' FROM aigw.config_levels WHERE parent_level IS NOT NULL;
INSERT INTO aigw.tier_feature_mappings (tier_name, config_type, feature_value)
VALUES ('premium', 'quota', '{"daily": 1000, "burst": 50}');

-- Case 1: no config anywhere -> the tier's entitlement.
SELECT aigw.resolve_config('quota', 'user', 'u1', '{"tier_name": "premium"}') AS case1;
SELECT aigw.resolve_config('quota', 'user', 'u1', '{}') AS case1_without_tier;
-- Case 2: only a global value, no scoped one -> the tier beats the global value.
INSERT INTO aigw.unified_config_store (config_type, level_name, config_value) VALUES ('quota', 'global', '{"daily": 10, "burst": 1}');
SELECT aigw.resolve_config('quota', 'user', 'u1', '{"tier_name": "premium"}') AS case2;
SELECT aigw.resolve_config('rate_limits', 'user', 'u1', '{"tier_name": "free"}') AS case2_seeded;
-- Case 3: a scoped value exists -> it beats the tier (for the keys it sets).
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value) VALUES ('quota', 'user', 'u1', '{"daily": 5}');
SELECT aigw.resolve_config('quota', 'user', 'u1', '{"tier_name": "premium"}') AS case3;
SELECT step, source, level_name, scope_id, contributed, result, note
FROM aigw.explain_config('quota', 'user', 'u1', '{"tier_name": "premium"}');

-- An inactive tier or mapping, or one outside its period, entitles to nothing.
UPDATE aigw.tier_definitions SET is_active = false WHERE tier_name = 'premium';
SELECT aigw.resolve_config('quota', 'user', 'u2', '{"tier_name": "premium"}') AS inactive_tier;
UPDATE aigw.tier_definitions SET is_active = true WHERE tier_name = 'premium';
UPDATE aigw.tier_feature_mappings SET effective_from = now() + interval '1 day' WHERE config_type = 'quota';
SELECT aigw.resolve_config('quota', 'user', 'u2', '{"tier_name": "premium"}') AS future_mapping;
UPDATE aigw.tier_feature_mappings SET effective_from = now() - interval '1 day', effective_to = now() + interval '1 day',
  condition_expression = '{"field": "region", "operator": "equals", "value": "cn"}' WHERE config_type = 'quota';
SELECT aigw.resolve_config('quota', 'user', 'u2', '{"tier_name": "premium", "region": "cn"}') AS condition_met;
SELECT aigw.resolve_config('quota', 'user', 'u2', '{"tier_name": "premium", "region": "us"}') AS condition_not_met;

-- A stored row tied to a tier applies only to that tier, and is preferred at its scope.
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value, applied_tier)
  VALUES ('quota', 'user', 'u1', '{"daily": 7}', 'basic');
SELECT aigw.resolve_config('quota', 'user', 'u1', '{"tier_name": "basic"}') AS basic_row;
SELECT aigw.resolve_config('quota', 'user', 'u1', '{"tier_name": "free"}') AS other_tier;

-- Types that do not support tiers ignore the tier and refuse tier rows.
UPDATE aigw.config_types SET supports_tier_entitlements = false WHERE type_name = 'feature_flags';
SELECT aigw.resolve_config('feature_flags', 'user', 'u1', '{"tier_name": "premium"}');
SELECT pg_temp.try($$INSERT INTO aigw.tier_feature_mappings (tier_name, config_type, feature_value)
  VALUES ('premium', 'feature_flags', '{"beta_ui": true}')$$);
SELECT pg_temp.try($$INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value, applied_tier)
  VALUES ('feature_flags', 'user', 'u1', '{}', 'premium')$$);
SELECT pg_temp.try($$UPDATE aigw.config_types SET supports_tier_entitlements = false WHERE type_name = 'rate_limits'$$);
-- A tier value must satisfy the type's schema.
SELECT pg_temp.try($$UPDATE aigw.tier_feature_mappings SET feature_value = '{"max_tokens": 0}'
  WHERE tier_name = 'basic' AND config_type = 'rate_limits'$$);
ROLLBACK;
