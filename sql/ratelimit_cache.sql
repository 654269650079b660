-- Rate-limit rules are cached per backend: the amounts still follow each
-- request, and a change to any table behind the rules is seen at once.
BEGIN;
SELECT aigw.ratelimit_policy_set('provider', 'rc-prov',
  '{"defaultOutputReserveTokens": 300,
    "rules":[{"metric":"rpm","limit":600},{"metric":"tpm_total","limit":90000},{"metric":"tpm_output","limit":50000}]}') IS NOT NULL AS set;
-- the same scopes with other amounts: one cached rule set, amounts per call
SELECT r->>'metric' AS metric, r->'amount' AS amount
  FROM jsonb_array_elements(aigw.ratelimit_requirements('{"provider":"rc-prov","inputTokens":100}')) r ORDER BY 1;
SELECT r->>'metric' AS metric, r->'amount' AS amount
  FROM jsonb_array_elements(aigw.ratelimit_requirements('{"provider":"rc-prov","inputTokens":7,"maxTokens":20,"requests":3}')) r ORDER BY 1;
SELECT r->>'metric' AS metric, r->'amount' AS amount
  FROM jsonb_array_elements(aigw.ratelimit_requirements('{"provider":"rc-prov","maxOutputTokens":9}')) r ORDER BY 1;
-- the cached form never shows the reserve it was computed from
SELECT count(*) AS with_out_reserve
  FROM jsonb_array_elements(aigw.ratelimit_requirements('{"provider":"rc-prov"}')) r WHERE r ? 'outReserve';
-- a changed policy is seen by the next call in the same transaction
SELECT aigw.ratelimit_policy_set('provider', 'rc-prov', '{"rules":[{"metric":"rpm","limit":5}]}') IS NOT NULL AS set;
SELECT aigw.ratelimit_requirements('{"provider":"rc-prov","inputTokens":100}') AS after_change;
-- so is a changed tenant record
INSERT INTO aigw.gateway_tenants (tenant_key, name, rate_limit_policy)
VALUES ('rc-tenant', 'rc', '{"rules":[{"metric":"rpm","limit":7}]}');
SELECT aigw.ratelimit_requirements('{"tenant":"rc-tenant","metrics":["rpm"]}') AS tenant_rule;
UPDATE aigw.gateway_tenants SET rate_limit_policy = '{"rules":[{"metric":"rpm","limit":8}]}' WHERE tenant_key = 'rc-tenant';
SELECT aigw.ratelimit_requirements('{"tenant":"rc-tenant","metrics":["rpm"]}') AS tenant_rule_changed;
-- bad amounts are refused whatever is cached
SELECT aigw.ratelimit_requirements('{"provider":"rc-prov","inputTokens":1.5}');
ROLLBACK;
-- after the rollback the cache holds nothing of the rolled-back policies
SELECT aigw.ratelimit_requirements('{"provider":"rc-prov","tenant":"rc-tenant","metrics":["rpm"]}') AS after_rollback;
