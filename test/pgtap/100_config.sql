-- The configuration system's objects, privileges-independent semantics the other concerns rely on.
BEGIN;
SELECT plan(17);

SELECT has_table('aigw', t, 'table aigw.' || t)
FROM unnest(ARRAY['config_levels', 'config_types', 'merge_strategies', 'inheritance_rules',
                  'tier_definitions', 'tier_feature_mappings', 'unified_config_store']) AS t;
SELECT col_type_is('aigw', 'unified_config_store', 'scope_id', 'text', 'scope ids are text (external ids allowed)');
SELECT is((SELECT count(*)::int FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
           WHERE r.relname = 'unified_config_store' AND c.contype = 'f'
             AND c.confrelid NOT IN ('aigw.config_types'::regclass, 'aigw.config_levels'::regclass,
                                     'aigw.tier_definitions'::regclass)), 0,
          'the store references no data-model table');
SELECT is(aigw.resolve_config('rate_limits', 'api_key', 'k-none'),
          (SELECT default_value FROM aigw.config_types WHERE type_name = 'rate_limits'),
          'a scope without configuration gets the type default');
SELECT is((aigw.resolve_gateway_config('user', 'u-none', '{"tier_name": "premium"}')->'gateway_routing'->>'routing_strategy'),
          'loadbalance', 'the premium tier routes with loadbalance');
SELECT throws_ok($$SELECT aigw.validate_portkey_config('{"strategy": {"mode": "x"}, "targets": [{"provider": "openai"}]}')$$,
                 '22023', NULL, 'a bad strategy mode is 22023');
SELECT throws_ok($$INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value, condition_context)
                   VALUES ('rate_limits', 'user', 'u1', '{}', '{"field": "x"}')$$,
                 '22023', NULL, 'a malformed condition is rejected at write time');
SELECT lives_ok($$SELECT aigw.validate_portkey_config(aigw.portkey_config('global', NULL, '{}', '{"provider": "openai", "model": "gpt-4o"}'))$$,
                'the exported global config validates');
SELECT is(aigw.validate_portkey_config('{"provider": "openai"}')->'retry'->'on_status_codes',
          '[429, 500, 502, 503]'::jsonb, 'retry status codes default to 429, 500, 502, 503');
SELECT function_privs_are('aigw', 'resolve_config', ARRAY['text', 'text', 'text', 'jsonb'], 'public', ARRAY[]::text[],
                          'PUBLIC may not resolve configuration directly');
SELECT function_privs_are('aigw', 'validate_portkey_config', ARRAY['jsonb'], 'aigw_front', ARRAY[]::text[],
                          'aigw_front reaches the validator only through the HTTP entry');
SELECT * FROM finish();
ROLLBACK;
