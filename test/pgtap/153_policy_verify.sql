-- Verified policy changes: a change is kept only when every shipped check and
-- invariant still passes; otherwise it is rolled back with the checks named.
BEGIN;
SELECT plan(27);

SELECT has_function('aigw', 'apply_policy_change', ARRAY['text', 'boolean']);
SELECT has_function('aigw', 'policy_checks', ARRAY[]::text[]);
SELECT is((SELECT count(*)::int FROM aigw.policy_checks() WHERE NOT ok), 0, 'every check passes on the shipped data');
SELECT cmp_ok((SELECT count(*)::int FROM aigw.policy_invariant_checks()), '>=', 8, 'the invariants are listed');

-- The error text of a statement, or null when it succeeds.
CREATE FUNCTION pg_temp.failure_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text;
BEGIN
  EXECUTE stmt;
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
  RETURN st || ' ' || msg || E'\n' || COALESCE(det, '');
END $$;

INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type)
  VALUES ('tp-openai', 'Test OpenAI', 'openai_compatible');
INSERT INTO aigw.integration_platforms (id, provider, platform_key, name)
  VALUES ('00000000-0000-0000-0000-0000000000a1', 'tp-openai', 'tp-main', 'Test platform');
INSERT INTO aigw.platform_models (id, platform_id, model_name, model_type, display_name, pricing_mode,
                                  billing_config_override)
  VALUES ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-0000000000a1', 'gpt-test', 'chat',
          'GPT test', 'custom', '{"text": {"inputPer1k": 0.15, "outputPer1k": 0.6}}');
INSERT INTO aigw.model_groups (id, name) VALUES ('00000000-0000-0000-0000-0000000000d1', 'coding');
INSERT INTO aigw.model_group_members (group_id, platform_model_id)
  VALUES ('00000000-0000-0000-0000-0000000000d1', '00000000-0000-0000-0000-0000000000b1');

-- A good change is kept.
SELECT is((SELECT count(*)::int FROM aigw.apply_policy_change(
             $$UPDATE aigw.gateway_runner_policies SET failover_policy = failover_policy || '{"cooldownSeconds": 120}'
               WHERE policy_key = 'default-runner-v1'$$) WHERE NOT ok), 0, 'a good change passes every check');
SELECT is((SELECT failover_policy -> 'cooldownSeconds' FROM aigw.gateway_runner_policies
            WHERE policy_key = 'default-runner-v1'), '120', 'and is kept');

-- A bad change: hard-stop off and request errors allowed to fail over.
SELECT alike(pg_temp.failure_of($$SELECT * FROM aigw.apply_policy_change($c$
             UPDATE aigw.gateway_runner_policies
                SET hard_stop_policy = hard_stop_policy || '{"enabled": false}',
                    failover_policy = failover_policy || '{"denyCategories": [], "allowCategories": ["request_error"]}'
              WHERE policy_key = 'default-runner-v1'$c$)$$),
            '23514 policy change rolled back: 4 of % checks failed%', 'a bad change is rolled back with check_violation');
SELECT alike(pg_temp.failure_of($$SELECT * FROM aigw.apply_policy_change($c$
             UPDATE aigw.gateway_runner_policies
                SET hard_stop_policy = hard_stop_policy || '{"enabled": false}',
                    failover_policy = failover_policy || '{"denyCategories": [], "allowCategories": ["request_error"]}'
              WHERE policy_key = 'default-runner-v1'$c$)$$),
            '%invariant: hard-stop category request_error never fails over (runner policy default-runner-v1): fails over for: no override (failover_allow_policy)%',
            'the failing checks are named with the reason');
SELECT is((SELECT hard_stop_policy -> 'enabled' FROM aigw.gateway_runner_policies WHERE policy_key = 'default-runner-v1'),
          'true', 'the bad change left nothing behind');

-- The same through the admin API.
SELECT alike(pg_temp.failure_of($$SELECT * FROM aigw.apply_policy_change($c$
             SELECT aigw.upsert_runner_policy('default-runner-v1', 'Default runner',
               p_hard_stop_policy => '{"enabled": false}',
               p_failover_policy => '{"denyCategories": [], "denyKeywords": []}')$c$)$$),
            '23514 policy change rolled back: 4 of % checks failed%invariant: hard-stop category user_permission never fails over%',
            'a bad change through upsert_runner_policy is rolled back');
SELECT is((SELECT failover_policy -> 'denyCategories' FROM aigw.gateway_runner_policies
            WHERE policy_key = 'default-runner-v1'),
          '["request_error", "unsupported_model", "user_permission", "insufficient_balance"]',
          'and the deny list is intact');

-- A dry run returns the checks and keeps nothing.
SELECT is((SELECT array_agg(name ORDER BY name) FROM aigw.apply_policy_change(
             $$UPDATE aigw.gateway_runner_policies SET hard_stop_policy = '{"enabled": false}',
                      failover_policy = failover_policy || '{"denyCategories": []}'
               WHERE policy_key = 'default-runner-v1'$$, dry_run => true) WHERE NOT ok),
          ARRAY['invariant: hard-stop category insufficient_balance never fails over (runner policy default-runner-v1)',
                'invariant: hard-stop category request_error never fails over (runner policy default-runner-v1)',
                'invariant: hard-stop category unsupported_model never fails over (runner policy default-runner-v1)',
                'invariant: hard-stop category user_permission never fails over (runner policy default-runner-v1)'],
          'dry run lists the failing checks');
SELECT is((SELECT count(*)::int FROM aigw.apply_policy_change(
             $$UPDATE aigw.gateway_runner_policies SET hard_stop_policy = '{"enabled": false}'
               WHERE policy_key = 'default-runner-v1'$$, dry_run => true) WHERE NOT ok),
          0, 'hard stop off alone keeps the invariant: the seed deny lists still stop those categories');
SELECT is((SELECT hard_stop_policy -> 'enabled' FROM aigw.gateway_runner_policies WHERE policy_key = 'default-runner-v1'),
          'true', 'a dry run keeps nothing');

-- An override that lets a hard-stop category fail over is caught too.
SELECT is((SELECT array_agg(detail) FROM aigw.apply_policy_change(
             $$UPDATE aigw.gateway_runner_policies SET hard_stop_policy = '{"enabled": false}'
               WHERE policy_key = 'default-runner-v1';
               UPDATE aigw.platform_models SET runtime_policy_override =
                 '{"failoverPolicy": {"denyCategories": [], "allowCategories": ["user_permission"]}}'
               WHERE id = '00000000-0000-0000-0000-0000000000b1'$$, dry_run => true)
           WHERE NOT ok AND name LIKE '%user_permission%'),
          ARRAY['fails over for: tp-main/gpt-test (failover_allow_policy), tp-main/gpt-test (local_rate_limit_try_next_candidate)'],
          'a model override that lets user_permission fail over is named');

-- Invariants on the rest of the configuration.
SELECT alike(pg_temp.failure_of($$SELECT * FROM aigw.apply_policy_change($c$
             UPDATE aigw.platform_models SET enabled = false WHERE id = '00000000-0000-0000-0000-0000000000b1'$c$)$$),
            '%invariant: no model group points at a deleted or disabled-forever model: points at: coding -> tp-main/gpt-test%',
            'disabling a model a group points at is rolled back');
SELECT alike(pg_temp.failure_of($$SELECT * FROM aigw.apply_policy_change($c$
             UPDATE aigw.integration_platforms SET deleted_at = now() WHERE id = '00000000-0000-0000-0000-0000000000a1'$c$)$$),
            '%points at: coding -> tp-main/gpt-test%', 'deleting the platform of a grouped model is rolled back');
SELECT is(pg_temp.failure_of($$SELECT * FROM aigw.apply_policy_change($c$
             UPDATE aigw.integration_platforms SET status = 'disabled', cooldown_until = now() + interval '5 minutes'
              WHERE id = '00000000-0000-0000-0000-0000000000a1'$c$, dry_run => true)$$),
          NULL, 'a platform cooling down is not disabled forever');
SELECT alike(pg_temp.failure_of($$SELECT * FROM aigw.apply_policy_change($c$
             UPDATE aigw.model_runtime_policy_sets SET status = 'disabled' WHERE policy_key = 'default-runtime-v1'$c$)$$),
            '%invariant: every enabled platform model has an active runtime policy set: no active runtime policy set: %tp-main/gpt-test%',
            'disabling the default runtime policy set is rolled back');
SELECT alike(pg_temp.failure_of($$SELECT * FROM aigw.apply_policy_change($c$
             ALTER TABLE aigw.platform_models DISABLE TRIGGER platform_models_resolve;
             UPDATE aigw.platform_models SET billing_config = '{}' WHERE id = '00000000-0000-0000-0000-0000000000b1';
             ALTER TABLE aigw.platform_models ENABLE TRIGGER platform_models_resolve$c$)$$),
            '%invariant: every enabled platform model has a price: no price: tp-main/gpt-test (%',
            'an enabled model without a price is rolled back');
SELECT is((SELECT billing_config <> '{}' FROM aigw.platform_models WHERE id = '00000000-0000-0000-0000-0000000000b1'),
          true, 'and its price is back');

-- The change itself failing, and bad input.
SELECT alike(pg_temp.failure_of($$SELECT * FROM aigw.apply_policy_change('UPDATE nowhere SET x = 1')$$),
            '42P01 %', 'an error in the change propagates');
SELECT alike(pg_temp.failure_of($$SELECT * FROM aigw.apply_policy_change('  ')$$),
            '22023 the policy change must not be empty%', 'an empty change is rejected');
SELECT alike(pg_temp.failure_of($$SELECT * FROM aigw.apply_policy_change(NULL)$$),
            '22023 %', 'a null change is rejected');
SELECT is((SELECT count(*)::int FROM aigw.policy_checks() WHERE NOT ok), 0, 'every check still passes at the end');
SELECT is((SELECT array_agg(l) FROM (SELECT l FROM aigw.policy_checks_tap() l LIMIT 2) x),
          ARRAY['1..' || (SELECT count(*) FROM aigw.policy_checks()),
                'ok 1 - ' || (SELECT name FROM aigw.policy_checks() LIMIT 1)],
          'policy_checks_tap prints a plan and numbered results');
UPDATE aigw.gateway_runner_policies SET failover_policy = failover_policy || '{"denyCategories": []}',
       hard_stop_policy = '{}' WHERE policy_key = 'default-runner-v1';
SELECT is((SELECT count(*)::int FROM aigw.policy_checks_tap() l WHERE l LIKE 'not ok %' AND l LIKE E'%\n# fails over for: %'),
          4, 'failing checks print as not ok with their detail as a comment');

SELECT * FROM finish();
ROLLBACK;
