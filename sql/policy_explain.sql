-- The worked examples of docs/policies.md: what happens if a provider returns X?
BEGIN;
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

\set gpt_test '''00000000-0000-0000-0000-0000000000b1'''
\set gpt_strict '''00000000-0000-0000-0000-0000000000b2'''

-- The provider rate-limits us.
SELECT jsonb_pretty(e - 'policies' - 'platformModel')
  FROM aigw.explain_failure(:gpt_test, '{"code":"rate_limit","status":429,"message":"Rate limit reached for requests"}') e;

-- A 503 that is really a bad request.
SELECT e ->> 'outcome' AS outcome, e -> 'failover' AS failover, e -> 'demote' AS demote
  FROM aigw.explain_failure(:gpt_test, '{"code":"invalid_parameter","status":503,"message":"Upstream rejected: invalid_parameter temperature"}') e;

-- An override that narrows the allow categories.
SELECT e ->> 'outcome' AS outcome, e -> 'failover' AS failover
  FROM aigw.explain_failure(:gpt_strict, '{"status":503,"message":"Service Unavailable"}') e;

-- A connection reset the client calls retryable.
SELECT e ->> 'outcome' AS outcome, e -> 'retry' AS retry, e -> 'failover' AS failover
  FROM aigw.explain_failure(:gpt_test, '{"message":"connection reset by peer","retryable":true}') e;

-- Our own rate limit is full.
SELECT e ->> 'outcome' AS outcome, e -> 'retry' AS retry, e -> 'failover' AS failover
  FROM aigw.explain_failure(:gpt_test, '{"code":"rate_limit","localRateLimit":true}') e;

-- Every category for one model, in one table.
SELECT c AS category, e #>> '{failure,category}' AS classified, e ->> 'outcome' AS outcome,
       e #>> '{failover,reason}' AS failover_reason, e #>> '{demote,demote}' AS demote
  FROM unnest(ARRAY['insufficient_balance', 'rate_limit', 'network', 'timeout', 'stream_error',
                    'provider_overloaded', 'provider_5xx', 'user_permission', 'auth_error',
                    'unsupported_model', 'request_error', 'client_error']) c,
       aigw.explain_failure(:gpt_test, aigw.policy_sample_failure(c)) e;
ROLLBACK;
