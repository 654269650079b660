-- Rate-limit policies: validation, and the requirements a request must pass
-- (every scope of the context, strictest wins unless mergeStrategy says otherwise).
BEGIN;

SELECT aigw.ratelimit_policy_set('global', '*',
  '{"rules":[{"metric":"rpm","limit":1000},{"metric":"concurrent","limit":50},{"metric":"queue_size","limit":1000}]}') IS NOT NULL AS set;
SELECT aigw.ratelimit_policy_set('provider', 'rp-openai',
  '{"defaultOutputReserveTokens": 512,
    "rules":[{"metric":"rpm","limit":600,"windowSeconds":60,"consume":"fixed_window"},
             {"metric":"tpm_total","limit":90000,"windowSeconds":60,"consume":"reserve_then_reconcile"},
             {"metric":"tpm_input","limit":60000}]}') IS NOT NULL AS set;
SELECT aigw.ratelimit_policy_set('user_group', 'rp-g1', '{"rules":[{"metric":"rpm","limit":100}]}') IS NOT NULL AS set;
SELECT aigw.ratelimit_policy_set('user_group', 'rp-g2', '{"rules":[{"metric":"rpm","limit":50}]}') IS NOT NULL AS set;
SELECT aigw.ratelimit_policy_set('api_key', 'rp-key', '{"rules":[{"metric":"rpm","limit":20},{"metric":"concurrent","limit":2,"leaseTtlSeconds":60}]}') IS NOT NULL AS set;
-- set again replaces the policy of the scope
SELECT aigw.ratelimit_policy_set('api_key', 'rp-key', '{"rules":[{"metric":"rpm","limit":30},{"metric":"concurrent","limit":3,"leaseTtlSeconds":60}]}') IS NOT NULL AS set;
SELECT scope_type, scope_key, policy->'rules'->0->'limit' AS first_limit
FROM aigw.gateway_rate_limit_policies WHERE scope_key LIKE 'rp-%' OR scope_key = '*' ORDER BY 1, 2;

-- requirements: every scope of the request, amounts from the estimate
SELECT jsonb_pretty(aigw.ratelimit_requirements('{
  "provider": "rp-openai", "platform": "rp-pl", "platformModel": "rp-pm", "method": "chat",
  "tenant": "rp-t", "userGroups": ["rp-g1", "rp-g2"], "user": "rp-u", "apiKey": "rp-key",
  "inputTokens": 1000}'));

-- maxTokens beats the policy's default output reserve; metrics filters; queue_size only by name
SELECT aigw.ratelimit_requirements(
  '{"provider":"rp-openai","inputTokens":100,"maxTokens":50,"metrics":["tpm_total","tpm_input","queue_size"]}') AS reqs;

-- several policies for one scope: strictest by rate (limit per second) wins
SELECT aigw.ratelimit_requirements('{"platformModel":"rp-pm","metrics":["rpm"],"policies":[
  {"scopeType":"platform_model","scopeKey":"rp-pm","policy":{"rules":[{"metric":"rpm","limit":10,"windowSeconds":10}]}},
  {"scopeType":"platform_model","scopeKey":"rp-pm","policy":{"rules":[{"metric":"rpm","limit":30,"windowSeconds":60}]}}]}') AS strictest;
-- mergeStrategy loosest
SELECT aigw.ratelimit_requirements('{"platformModel":"rp-pm","metrics":["rpm"],"policies":[
  {"scopeType":"platform_model","scopeKey":"rp-pm","policy":{"rules":[{"metric":"rpm","limit":10}]}},
  {"scopeType":"platform_model","scopeKey":"rp-pm","policy":{"mergeStrategy":"loosest","rules":[{"metric":"rpm","limit":30}]}}]}') AS loosest;
-- mergeStrategy override replaces the table's rule for the provider, even when looser
SELECT aigw.ratelimit_requirements('{"provider":"rp-openai","metrics":["rpm"],"policies":[
  {"scopeType":"provider","scopeKey":"rp-openai","policy":{"mergeStrategy":"override","rules":[{"metric":"rpm","limit":6000}]}}]}') AS override;
-- no context scope has a policy: only the global rules
SELECT aigw.ratelimit_requirements('{"user":"rp-nobody","metrics":["rpm"]}') AS global_only;

-- the requirements feed admission directly
INSERT INTO aigw.gateway_tasks (id, kind, user_id, model, request, queue_key)
VALUES ('00000000-0000-0000-0000-0000000000b1', 'chat', 'rp-user', 'rp-model', '{}', 'rp-queue');
SELECT r->'admitted' AS admitted, jsonb_array_length(r->'grants') AS grants
FROM aigw.ratelimit_admit(aigw.ratelimit_requirements(
  '{"provider":"rp-openai","apiKey":"rp-key","inputTokens":10,"metrics":["rpm","tpm_total"]}')) r;
SELECT r->'admitted' AS admitted, jsonb_array_length(r->'grants') AS grants
FROM aigw.ratelimit_admit(aigw.ratelimit_requirements(
  '{"provider":"rp-openai","apiKey":"rp-key","inputTokens":10}'), '00000000-0000-0000-0000-0000000000b1') r;

-- quota-aware order: the provider with more room left comes first
-- (without the global policy, whose one-minute window would make the numbers move)
SELECT aigw.ratelimit_policy_delete('global', '*') AS deleted;
SELECT aigw.ratelimit_policy_set('provider', 'rp-busy', '{"rules":[{"metric":"rpm","limit":10,"windowSeconds":2678400}]}') IS NOT NULL AS set;
SELECT aigw.ratelimit_policy_set('provider', 'rp-idle', '{"rules":[{"metric":"rpm","limit":10,"windowSeconds":2678400}]}') IS NOT NULL AS set;
SELECT count(*) FILTER (WHERE (aigw.ratelimit_admit(aigw.ratelimit_requirements(
  '{"provider":"rp-busy","metrics":["rpm"]}'))->>'admitted')::boolean) AS busy_admitted
FROM generate_series(1, 6);
SELECT candidate, round(headroom::numeric, 3) AS headroom FROM aigw.ratelimit_quota_order(
  '[{"provider":"rp-busy","metrics":["rpm"]}, {"provider":"rp-idle","metrics":["rpm"]}, {"provider":"rp-none","metrics":["rpm"]}]');

-- the scopes' own records and the defaults: provider template for a platform;
-- runtime policy override, runtime policy set, base model template for a platform model
CREATE TEMP TABLE rp_ctx AS
SELECT jsonb_build_object('platform', 'simulation', 'platformModel', m.id::text, 'userGroup', 'rp-group',
                          'metrics', jsonb_build_array('rpm', 'tpm_output', 'concurrent')) AS ctx
FROM aigw.platform_models m JOIN aigw.integration_platforms p ON p.id = m.platform_id
WHERE p.platform_key = 'simulation' AND m.model_name = 'sim-chat';
CREATE FUNCTION pg_temp.reqs_of(c jsonb) RETURNS TABLE (scope_type text, metric text, lim numeric)
LANGUAGE sql AS $$
  SELECT r->>'scopeType', r->>'metric', (r->>'limit')::numeric
  FROM jsonb_array_elements(aigw.ratelimit_requirements(c)) r
  WHERE r->>'scopeType' <> 'global' ORDER BY 1, 2
$$;
UPDATE aigw.model_catalog_providers
SET default_rate_limit_policy = '{"rules":[{"metric":"rpm","limit":70},{"metric":"concurrent","limit":7}]}'
WHERE provider_key = 'simulation';
INSERT INTO aigw.gateway_user_groups (group_key, name, rate_limit_policy)
VALUES ('rp-group', 'rp group', '{"rules":[{"metric":"rpm","limit":12}]}');
SELECT * FROM pg_temp.reqs_of((SELECT ctx FROM rp_ctx));
-- the platform's own rule beats the provider template for rpm only
UPDATE aigw.integration_platforms SET rate_limit_policy = '{"rules":[{"metric":"rpm","limit":40}]}'
WHERE platform_key = 'simulation';
-- the platform model's override beats the runtime policy set for rpm; the base
-- model template fills in tpm_output, which nothing else names
UPDATE aigw.platform_models m SET runtime_policy_override = '{"rateLimitPolicy":{"rules":[{"metric":"rpm","limit":60}]}}'
FROM rp_ctx WHERE m.id::text = rp_ctx.ctx->>'platformModel';
UPDATE aigw.base_model_catalog b SET default_rate_limit_policy =
  '{"rules":[{"metric":"rpm","limit":5},{"metric":"tpm_output","limit":4000}]}'
FROM aigw.platform_models m, rp_ctx WHERE m.id::text = rp_ctx.ctx->>'platformModel' AND b.id = m.base_model_id;
SELECT * FROM pg_temp.reqs_of((SELECT ctx FROM rp_ctx));
-- an explicit policy row for the platform model merges with its own record: strictest wins
SELECT aigw.ratelimit_policy_set('platform_model', ctx->>'platformModel', '{"rules":[{"metric":"rpm","limit":30}]}') IS NOT NULL AS set
FROM rp_ctx;
UPDATE aigw.platform_models m SET rate_limit_policy = '{"rules":[{"metric":"rpm","limit":45}]}'
FROM rp_ctx WHERE m.id::text = rp_ctx.ctx->>'platformModel';
SELECT * FROM pg_temp.reqs_of((SELECT ctx FROM rp_ctx));

-- validation: each bad policy is refused with 22023 and names the problem
\set ON_ERROR_STOP 0
\set VERBOSITY terse
SAVEPOINT v;
SELECT aigw.ratelimit_policy_set('planet', 'x', '{"rules":[]}');
ROLLBACK TO v;
SELECT aigw.ratelimit_policy_set('user', '', '{"rules":[]}');
ROLLBACK TO v;
SELECT aigw.ratelimit_policy_set('global', 'everyone', '{"rules":[]}');
ROLLBACK TO v;
SELECT aigw.ratelimit_policy_set('user', 'x', '[]');
ROLLBACK TO v;
SELECT aigw.ratelimit_policy_set('user', 'x', '{"rules":{}}');
ROLLBACK TO v;
SELECT aigw.ratelimit_policy_set('user', 'x', '{"rules":[{"metric":"rph","limit":1}]}');
ROLLBACK TO v;
SELECT aigw.ratelimit_policy_set('user', 'x', '{"rules":[{"metric":"rpm"}]}');
ROLLBACK TO v;
SELECT aigw.ratelimit_policy_set('user', 'x', '{"rules":[{"metric":"rpm","limit":-5}]}');
ROLLBACK TO v;
SELECT aigw.ratelimit_policy_set('user', 'x', '{"rules":[{"metric":"rpm","limit":"10"}]}');
ROLLBACK TO v;
SELECT aigw.ratelimit_policy_set('user', 'x', '{"rules":[{"metric":"rpm","limit":10,"windowSeconds":0}]}');
ROLLBACK TO v;
SELECT aigw.ratelimit_policy_set('user', 'x', '{"rules":[{"metric":"concurrent","limit":10,"leaseTtlSeconds":9999999}]}');
ROLLBACK TO v;
SELECT aigw.ratelimit_policy_set('user', 'x', '{"rules":[{"metric":"rpm","limit":10,"consume":"later"}]}');
ROLLBACK TO v;
SELECT aigw.ratelimit_policy_set('user', 'x', '{"mergeStrategy":"average","rules":[]}');
ROLLBACK TO v;
SELECT aigw.ratelimit_requirements('[]');
ROLLBACK TO v;
SELECT aigw.ratelimit_requirements('{"inputTokens": -3}');
ROLLBACK TO v;
SELECT aigw.ratelimit_requirements('{"userGroups": "g1"}');
ROLLBACK TO v;
SELECT * FROM aigw.ratelimit_quota_order('{}');
ROLLBACK TO v;
SELECT aigw.ratelimit_requirements('{"policies":[{"scopeType":"user","scopeKey":"u","policy":{"rules":[{"metric":"rpm"}]}}]}');
ROLLBACK TO v;
\set ON_ERROR_STOP 1
\set VERBOSITY default

SELECT aigw.ratelimit_policy_delete('api_key', 'rp-key') AS deleted, aigw.ratelimit_policy_delete('api_key', 'rp-key') AS again;
ROLLBACK;
SELECT count(*) FROM aigw.gateway_rate_limit_policies;
SELECT count(*) FROM aigw.gateway_concurrency_leases;
