-- explain_failure against the live tables, runtime policy set resolution,
-- and the hard-stop policy that no model runtime policy can change.
BEGIN;
SELECT plan(36);

INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type)
  VALUES ('tp-openai', 'Test OpenAI', 'openai_compatible');
INSERT INTO aigw.integration_platforms (id, provider, platform_key, name)
  VALUES ('00000000-0000-0000-0000-0000000000a1', 'tp-openai', 'tp-main', 'Test platform');
INSERT INTO aigw.platform_models (id, platform_id, model_name, model_type, display_name, pricing_mode,
                                  billing_config_override, runtime_policy_override)
  VALUES ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-0000000000a1', 'gpt-test', 'chat',
          'GPT test', 'custom', '{"text": {"inputPer1k": 0.15, "outputPer1k": 0.6}}', '{}'),
         ('00000000-0000-0000-0000-0000000000b2', '00000000-0000-0000-0000-0000000000a1', 'gpt-strict', 'chat',
          'GPT strict', 'custom', '{"text": {"inputPer1k": 0.15, "outputPer1k": 0.6}}',
          '{"failoverPolicy": {"allowCategories": ["network"], "actions": {"provider_5xx": "cooldown_and_next"},
                               "cooldownSeconds": 60}}');

SELECT has_function('aigw', 'explain_failure', ARRAY['uuid', 'jsonb', 'text']);
SELECT has_function('aigw', 'failure_policies', ARRAY['uuid', 'text']);
SELECT is((SELECT jsonb_build_object('policy_key', r.policy_key, 'status', r.status,
                                     'failover_policy', r.failover_policy, 'hard_stop_policy', r.hard_stop_policy,
                                     'priority_demote_policy', r.priority_demote_policy)
             FROM aigw.gateway_runner_policies r WHERE r.policy_key = 'default-runner-v1'),
          aigw.seed_runner_policy(), 'the installed default-runner-v1 row is seed 000, as the engine checks assume');

-- A model without overrides, on the default policies.
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b1', '{"status": 503}') -> 'failover',
          '{"retry": true, "action": "next", "reason": "failover_allow_policy", "cooldownSeconds": 300,
            "match": {"source": "gateway_runner_policies.failover_policy", "policy": "failoverPolicy",
                      "rule": "allowCategories", "value": "provider_5xx"}}',
          '503 on the default policy fails over by allowCategories');
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b1', '{"status": 503}') ->> 'outcome',
          'failover_next', 'outcome of a 503');
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b1', '{"status": 503}') #>> '{demote,reason}',
          'priority_demote_policy', 'a 503 demotes the model');
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b1', '{"status": 503, "retryable": true}') ->> 'outcome',
          'retry_same_client', 'a retryable 503 is retried on the same client first');
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b1', '{"status": 400, "retryable": true}') -> 'failover',
          '{"retry": false, "action": "stop", "reason": "hard_stop_policy", "cooldownSeconds": 0,
            "match": {"source": "gateway_runner_policies.hard_stop_policy", "policy": "hardStopPolicy",
                      "rule": "categories", "value": "request_error"}}',
          'a 400 is a hard stop');
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b1', '{"status": 401}') #>> '{failover,action}',
          'disable_and_next', 'auth errors disable the platform and go to the next');
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b1', '{"status": 503}') -> 'failure' ->> 'category',
          'provider_5xx', 'the failure info is reported once');
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b1', '{}') #>> '{policies,runtimePolicySet}',
          '{"status": "active", "policyKey": "default-runtime-v1", "resolvedFrom": "default-runtime-v1"}',
          'a model without a runtime policy set uses default-runtime-v1');
SELECT ok((aigw.explain_failure('00000000-0000-0000-0000-0000000000b1', '{}') -> 'notes') @>
          '["retry policy keys the retry decision does not read: retryOnCategories, retryOnStatusCodes"]',
          'retry policy keys the decision does not read are reported');

-- Override precedence through explain_failure.
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b2', '{"status": 503}') -> 'failover',
          '{"retry": true, "action": "cooldown_and_next", "reason": "failover_allow_policy", "cooldownSeconds": 60,
            "match": {"source": "gateway_runner_policies.failover_policy", "policy": "failoverPolicy",
                      "rule": "allowStatusCodes", "value": "503"}}',
          'an override allowCategories replaces that list only; actions and cooldown come from the override');
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b2', '{"code": "network"}') #>> '{failover,match,source}',
          'runtime_policy_override.failoverPolicy', 'a match in the override names the override as source');
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b2', '{"status": 503}')
            #> '{policies,effectiveFailoverPolicy,allowCategories}', '["network"]',
          'the effective failover policy is reported');
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b2', '{"status": 503}') -> 'ignoredOverrideKeys',
          '[]', 'nothing ignored for a clean override');

-- Runtime policy set resolution: model, then platform, then the default.
INSERT INTO aigw.model_runtime_policy_sets (id, policy_key, name, retry_policy)
  VALUES ('00000000-0000-0000-0000-0000000000c1', 'no-retry', 'No retry', '{"enabled": false}'),
         ('00000000-0000-0000-0000-0000000000c2', 'retry-5xx', 'Retry 5xx', '{"allowCategories": ["provider_5xx"]}');
UPDATE aigw.integration_platforms SET runtime_policy_set_id = '00000000-0000-0000-0000-0000000000c1'
 WHERE id = '00000000-0000-0000-0000-0000000000a1';
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b1', '{"status": 503, "retryable": true}') -> 'retry',
          '{"retry": false, "reason": "retry_disabled", "match": {"source": "model_runtime_policy_sets.retry_policy",
            "policy": "retryPolicy", "rule": "enabled", "value": "false"}}',
          'the platform''s runtime policy set applies');
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b1', '{}') #>> '{policies,runtimePolicySet,resolvedFrom}',
          'integration_platforms.runtime_policy_set_id', 'resolved from the platform');
UPDATE aigw.platform_models SET runtime_policy_set_id = '00000000-0000-0000-0000-0000000000c2'
 WHERE id = '00000000-0000-0000-0000-0000000000b1';
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b1', '{"status": 503}') #>> '{retry,reason}',
          'retry_allow_policy', 'the model''s own runtime policy set wins over the platform''s');
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b1', '{}') #>> '{policies,runtimePolicySet,resolvedFrom}',
          'platform_models.runtime_policy_set_id', 'resolved from the model');
UPDATE aigw.platform_models SET retry_policy = '{"denyStatusCodes": [503]}'
 WHERE id = '00000000-0000-0000-0000-0000000000b1';
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b1', '{"status": 503}') #>> '{retry,reason}',
          'retry_deny_policy', 'the model''s retry_policy keys go over the set''s');
UPDATE aigw.platform_models SET runtime_policy_override = '{"retryPolicy": {"enabled": false}}'
 WHERE id = '00000000-0000-0000-0000-0000000000b1';
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b1', '{"status": 503}') #>> '{retry,reason}',
          'retry_disabled', 'the override''s retryPolicy goes over everything');

-- The hard-stop policy cannot be overridden: rejected at write time ...
SELECT throws_ok($$UPDATE aigw.platform_models SET runtime_policy_override = '{"hardStopPolicy": {"enabled": false}}'
                   WHERE id = '00000000-0000-0000-0000-0000000000b2'$$,
                 '22023', NULL, 'an override with hardStopPolicy is rejected on update');
SELECT throws_ok($$UPDATE aigw.platform_models
                     SET runtime_policy_override = '{"failoverPolicy": {"hardStopPolicy": {"enabled": false}}}'
                   WHERE id = '00000000-0000-0000-0000-0000000000b2'$$,
                 '22023', NULL, 'a nested hardStopPolicy is rejected too');
SELECT throws_ok($$INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode,
                     billing_config_override, runtime_policy_override)
                   VALUES ('00000000-0000-0000-0000-0000000000a1', 'gpt-x', 'chat', 'x', 'custom',
                     '{"text": {"inputPer1k": 1, "outputPer1k": 1}}', '{"hardStopPolicy": {}}')$$,
                 '22023', NULL, 'an override with hardStopPolicy is rejected on insert');

-- ... and ignored and reported should one get in behind the check's back.
ALTER TABLE aigw.platform_models DISABLE TRIGGER platform_models_resolve;
UPDATE aigw.platform_models
   SET runtime_policy_override = '{"hardStopPolicy": {"enabled": false},
                                   "failoverPolicy": {"hardStopPolicy": {"enabled": false},
                                                      "denyCategories": [], "allowCategories": ["request_error"]}}'
 WHERE id = '00000000-0000-0000-0000-0000000000b2';
ALTER TABLE aigw.platform_models ENABLE TRIGGER platform_models_resolve;
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b2', '{"status": 400, "retryable": true}')
            #>> '{failover,reason}', 'hard_stop_policy', 'a smuggled hardStopPolicy does not stop the hard stop');
SELECT is(aigw.explain_failure('00000000-0000-0000-0000-0000000000b2', '{"status": 400}') -> 'ignoredOverrideKeys',
          '["failoverPolicy.hardStopPolicy", "hardStopPolicy"]', 'the ignored keys are reported');
SELECT is(aigw.failure_policies('00000000-0000-0000-0000-0000000000b2') -> 'runtimePolicyOverride',
          '{"failoverPolicy": {"denyCategories": [], "allowCategories": ["request_error"]}}',
          'failure_policies hands the runtime the override without hardStopPolicy');
SELECT is(aigw.failure_policies('00000000-0000-0000-0000-0000000000b2') #>> '{runnerPolicy,policy_key}',
          'default-runner-v1', 'and the runner policy row');
SELECT ok(aigw.explain_failure('00000000-0000-0000-0000-0000000000b2', '{"status": 400}') ->> 'notes'
            LIKE '%a model runtime policy can never change the hard-stop policy%', 'with a note why');
SELECT is((SELECT detail FROM aigw.policy_invariant_checks()
            WHERE name = 'invariant: no runtime_policy_override names hardStopPolicy'),
          'named by: tp-main/gpt-strict', 'and the invariant check names the model');

-- Bad input.
SELECT throws_ok($$SELECT aigw.explain_failure('00000000-0000-0000-0000-00000000ffff', '{}')$$, 'P0002',
                 'platform model 00000000-0000-0000-0000-00000000ffff does not exist', 'unknown platform model');
SELECT throws_ok($$SELECT aigw.explain_failure('00000000-0000-0000-0000-0000000000b1', '{}', 'nope')$$, 'P0002',
                 'runner policy "nope" does not exist', 'unknown runner policy');
SELECT throws_ok($$SELECT aigw.explain_failure('00000000-0000-0000-0000-0000000000b1', NULL)$$, '22004',
                 'the failure must not be null', 'null failure');
SELECT throws_ok($$SELECT aigw.explain_failure('00000000-0000-0000-0000-0000000000b1', '{"status": "x"}')$$, '22023',
                 'invalid failure', 'malformed failure');

-- The seeded simulation platform explains too.
SELECT is((SELECT aigw.explain_failure(pm.id, '{"code": "timeout"}') ->> 'outcome'
             FROM aigw.platform_models pm JOIN aigw.integration_platforms p ON p.id = pm.platform_id
            WHERE p.platform_key = 'simulation' ORDER BY pm.model_name LIMIT 1),
          'failover_next', 'a simulation model fails over on a timeout');

SELECT * FROM finish();
ROLLBACK;
