-- Configuration resolver: inheritance path, scopes, effective periods, inheritance rules,
-- cycles, schema and scope checks, cache invalidation and explain.
BEGIN;
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Seeded levels and the config types the gateway reads.
SELECT level_name, parent_level, scope_context_key FROM aigw.config_levels ORDER BY inherit_priority;
SELECT type_name, merge_strategy, array_keys, supports_tier_entitlements FROM aigw.config_types ORDER BY type_name;
-- Every seeded type has a global default that its own schema accepts.
SELECT type_name, aigw.resolve_config(type_name, 'global') = default_value AS default_resolves
FROM aigw.config_types ORDER BY type_name;
SELECT count(*) AS seeded_rules FROM aigw.inheritance_rules;

-- A five-level path: global, tenant, user group, user, API key.
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value) VALUES
  ('rate_limits', 'global', NULL, '{"max_tokens": 5000}'),
  ('rate_limits', 'tenant', 't1', '{"requests_per_minute": 100}'),
  ('rate_limits', 'user_group', 'g1', '{"tokens_per_minute": 90000}'),
  ('rate_limits', 'user', 'u1', '{"concurrency": 4}'),
  ('rate_limits', 'api_key', 'k1', '{"max_tokens": 1000}');
SELECT aigw.resolve_config('rate_limits', 'api_key', 'k1',
  '{"tenant_id": "t1", "user_group_id": "g1", "user_id": "u1"}');
-- The scope id of the target level can also come from the context.
SELECT aigw.resolve_config('rate_limits', 'api_key', NULL,
  '{"tenant_id": "t1", "user_group_id": "g1", "user_id": "u1", "api_key_id": "k1"}');
-- Ancestors without a scope id in the context are skipped; another tenant sees only the global row.
SELECT aigw.resolve_config('rate_limits', 'user', 'u1', '{"tenant_id": "t1"}');
SELECT aigw.resolve_config('rate_limits', 'tenant', 't2');
SELECT step, source, level_name, scope_id, merge_strategy, contributed, result, note
FROM aigw.explain_config('rate_limits', 'api_key', 'k1',
  '{"tenant_id": "t1", "user_group_id": "g1", "user_id": "u1"}');

-- Effective periods: a row not yet in effect and an expired row are ignored.
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value, effective_from) VALUES
  ('rate_limits', 'tenant', 't1', '{"requests_per_minute": 777}', now() + interval '1 hour');
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value, effective_from, effective_to) VALUES
  ('rate_limits', 'tenant', 't1', '{"requests_per_minute": 888}', now() - interval '2 hours', now() - interval '1 hour');
SELECT aigw.resolve_config('rate_limits', 'tenant', 't1');
-- A newer version in effect wins over an older one at the same scope.
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value, version, effective_from) VALUES
  ('rate_limits', 'tenant', 't1', '{"requests_per_minute": 120}', 2, now() - interval '1 minute');
SELECT aigw.resolve_config('rate_limits', 'tenant', 't1');
-- A reversed period is rejected.
SELECT pg_temp.try($$INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value, effective_from, effective_to)
  VALUES ('rate_limits', 'tenant', 't1', '{}', now(), now() - interval '1 second')$$);

-- Inheritance rules: a disabled rule cuts the path above it.
UPDATE aigw.inheritance_rules SET is_inheritance_enabled = false
WHERE config_type = 'rate_limits' AND parent_level = 'tenant' AND child_level = 'user_group';
SELECT aigw.resolve_config('rate_limits', 'user', 'u1', '{"tenant_id": "t1", "user_group_id": "g1"}');
SELECT step, source, level_name, result, note FROM aigw.explain_config('rate_limits', 'user', 'u1',
  '{"tenant_id": "t1", "user_group_id": "g1"}');
-- A rule outside its effective period also cuts it; one inside it does not.
UPDATE aigw.inheritance_rules SET is_inheritance_enabled = true, effective_from = now() + interval '1 day'
WHERE config_type = 'rate_limits' AND parent_level = 'tenant' AND child_level = 'user_group';
SELECT aigw.resolve_config('rate_limits', 'user', 'u1', '{"tenant_id": "t1", "user_group_id": "g1"}');
UPDATE aigw.inheritance_rules SET effective_from = now() - interval '1 day', effective_to = now() + interval '1 day'
WHERE config_type = 'rate_limits' AND parent_level = 'tenant' AND child_level = 'user_group';
SELECT aigw.resolve_config('rate_limits', 'user', 'u1', '{"tenant_id": "t1", "user_group_id": "g1"}');
-- A conditional rule: the tenant is inherited only by premium users.
UPDATE aigw.inheritance_rules SET condition_expression = '{"field": "tier_name", "operator": "equals", "value": "premium"}'
WHERE config_type = 'rate_limits' AND parent_level = 'tenant' AND child_level = 'user_group';
SELECT aigw.resolve_config('rate_limits', 'user_group', 'g1', '{"tenant_id": "t1"}');
SELECT aigw.resolve_config('rate_limits', 'user_group', 'g1', '{"tenant_id": "t1", "tier_name": "premium"}');

-- Cycles are rejected, among inheritance rules and among levels.
SELECT pg_temp.try($$INSERT INTO aigw.inheritance_rules (parent_level, child_level, config_type)
  VALUES ('user', 'tenant', 'rate_limits')$$);
SELECT pg_temp.try($$INSERT INTO aigw.inheritance_rules (parent_level, child_level, config_type)
  VALUES ('api_key', 'global', 'rate_limits')$$);
SELECT pg_temp.try($$INSERT INTO aigw.inheritance_rules (parent_level, child_level, config_type)
  VALUES ('user', 'user', 'rate_limits')$$);
SELECT pg_temp.try($$UPDATE aigw.config_levels SET parent_level = 'api_key' WHERE level_name = 'tenant'$$);
-- A rule that skips a level is not a cycle.
SELECT pg_temp.try($$INSERT INTO aigw.inheritance_rules (parent_level, child_level, config_type)
  VALUES ('tenant', 'user', 'rate_limits')$$);

-- Scope ids must match the level.
SELECT pg_temp.try($$INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value)
  VALUES ('rate_limits', 'global', 'x', '{}')$$);
SELECT pg_temp.try($$INSERT INTO aigw.unified_config_store (config_type, level_name, config_value)
  VALUES ('rate_limits', 'user', '{}')$$);

-- Unknown types and levels, and a non-object context.
SELECT pg_temp.try($$SELECT aigw.resolve_config('no_such_type', 'global')$$);
SELECT pg_temp.try($$SELECT aigw.resolve_config('rate_limits', 'planet')$$);
SELECT pg_temp.try($$SELECT aigw.resolve_config('rate_limits', 'global', NULL, '[1]')$$);

-- The cache: a repeated resolution is a hit; a write in this transaction is seen at once.
SELECT aigw.resolve_config('feature_flags', 'user', 'u9') AS before_write;
SELECT hits AS hits_before FROM aigw.config_cache_stats() \gset
SELECT aigw.resolve_config('feature_flags', 'user', 'u9') IS NOT NULL AS resolved_again;
SELECT hits - :hits_before AS new_hits FROM aigw.config_cache_stats();
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value)
  VALUES ('feature_flags', 'user', 'u9', '{"beta_ui": true}');
SELECT aigw.resolve_config('feature_flags', 'user', 'u9') AS after_write;
UPDATE aigw.config_types SET default_value = '{"streaming": false}' WHERE type_name = 'feature_flags';
SELECT aigw.resolve_config('feature_flags', 'user', 'u9') AS after_default_change;
ROLLBACK;
-- After the rollback the cache no longer holds the rolled-back values.
SELECT aigw.resolve_config('feature_flags', 'user', 'u9') AS after_rollback;
SELECT count(*) AS leftover_rows FROM aigw.unified_config_store;

-- A cached value expires when an effective period it depends on starts: a row taking effect
-- in two seconds is not seen now (and that answer is cached), and is seen by a transaction that
-- starts after those two seconds.
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value, effective_from)
  VALUES ('feature_flags', 'tenant', 'later-t1', '{"beta_ui": true}', now() + interval '2 seconds');
SELECT aigw.resolve_config('feature_flags', 'tenant', 'later-t1') ? 'beta_ui' AS seen_before_start;
SELECT hits AS hits_before, misses AS misses_before FROM aigw.config_cache_stats() \gset
SELECT aigw.resolve_config('feature_flags', 'tenant', 'later-t1') ? 'beta_ui' AS seen_before_start_cached;
SELECT hits - :hits_before AS new_hits, misses - :misses_before AS new_misses FROM aigw.config_cache_stats();
SELECT pg_sleep(2.1);
SELECT aigw.resolve_config('feature_flags', 'tenant', 'later-t1') ? 'beta_ui' AS seen_after_start;
SELECT hits - :hits_before AS new_hits, misses - :misses_before AS new_misses FROM aigw.config_cache_stats();
DELETE FROM aigw.unified_config_store WHERE scope_id = 'later-t1';
