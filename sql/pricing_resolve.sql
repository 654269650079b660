-- Table-backed pricing: candidate selection, user group discounts,
-- aigw.estimate_billing and aigw.price_usage. Fixtures live in one transaction.
\set SHOW_CONTEXT never
BEGIN;
INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type)
VALUES ('pt_vendor', 'Pricing test vendor', 'openai_compatible'),
       ('pt_sim', 'Pricing test simulation', 'simulation');
-- Two global platforms offer the same model name at different prices; the
-- dearer one has the better priority. A third is only visible to tenant "acme";
-- a fourth is cooling down; a fifth is disabled.
INSERT INTO aigw.integration_platforms (provider, platform_key, name, priority, dynamic_priority, visibility_scope, tenant_key, status, cooldown_until)
VALUES ('pt_vendor', 'pt-a', 'A', 100, 10, 'global', NULL, 'enabled', NULL),
       ('pt_vendor', 'pt-b', 'B', 50, NULL, 'global', NULL, 'enabled', NULL),
       ('pt_vendor', 'pt-acme', 'Acme only', 1, NULL, 'tenant', 'acme', 'enabled', NULL),
       ('pt_vendor', 'pt-cool', 'Cooling', 0, NULL, 'global', NULL, 'enabled', now() + interval '1 hour'),
       ('pt_vendor', 'pt-off', 'Off', 0, NULL, 'global', NULL, 'disabled', NULL),
       ('pt_sim', 'pt-sim', 'Simulation', 100, NULL, 'global', NULL, 'enabled', NULL);
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override, capability_override)
SELECT p.id, 'pt-chat', 'chat', 'PT chat', 'custom', c, '{"stream": true, "maxOutputTokens": 4096}'
  FROM aigw.integration_platforms p,
       LATERAL (SELECT CASE p.platform_key
                         WHEN 'pt-a' THEN '{"text": {"inputPer1k": 1, "outputPer1k": 2}}'
                         WHEN 'pt-b' THEN '{"text": {"inputPer1k": 10, "outputPer1k": 20}}'
                         WHEN 'pt-acme' THEN '{"text": {"inputPer1k": 0.1, "outputPer1k": 0.2}}'
                         ELSE '{"text": {"inputPer1k": 0.01, "outputPer1k": 0.01}}' END::jsonb AS c) AS cfg
 WHERE p.platform_key LIKE 'pt-%' AND p.platform_key <> 'pt-sim';
-- A model of every priced type on the simulation platform.
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override, capability_override)
SELECT p.id, m.name, m.type, m.name, 'custom', m.cfg, m.caps
  FROM aigw.integration_platforms p,
       (VALUES ('pt-sim-chat', 'chat', '{"text": {"inputPer1k": 0.15, "outputPer1k": 0.6, "cachedInputPer1k": 0.075}}'::jsonb, '{"maxOutputTokens": 512}'::jsonb),
               ('pt-sim-image', 'image', '{"image": {"perImage": 40, "resolutionWeights": {"1024x1024": 1, "1536x1024": 1.5}, "qualityWeights": {"low": 0.25, "medium": 1, "high": 4}, "modeWeights": {"generate": 1, "edit": 1.2}}}', '{"sizes": ["1024x1024", "1536x1024"], "qualities": ["low", "medium", "high"], "maxCount": 4}'),
               ('pt-sim-video', 'video', '{"video": {"perUnit": 100, "unitSeconds": 5, "resolutionWeights": {"720p": 1, "1080p": 1.5}, "audioWeights": {"false": 1, "true": 1.3}, "referenceWeights": {"none": 1, "image": 1.1, "video": 1.3}}}', '{"durations": [5, 10], "resolutions": ["720p", "1080p"], "audio": true, "referenceImage": true, "referenceVideo": false}'),
               ('pt-sim-tts', 'audio', '{"audio": {"per1kCharacters": 15}}', '{}'),
               ('pt-sim-embed', 'embedding', '{"embedding": {"inputPer1k": 0.02}}', '{"dimensions": 1536}')) AS m(name, type, cfg, caps)
 WHERE p.platform_key = 'pt-sim';

-- The router's order: coalesce(dynamic_priority, priority) puts pt-a (10) before pt-b (50);
-- the tenant platform, the cooling one and the disabled one are not candidates without a tenant.
SELECT platform_key, platform_discount_factor, simulated FROM aigw.pricing_candidates('{"model": "pt-chat"}');
-- Tenant acme sees its own platform first.
SELECT platform_key FROM aigw.pricing_candidates('{"model": "pt-chat"}', '{"tenantKey": "acme"}');
-- An explicit platform narrows the candidates; so does a capability the request needs.
SELECT platform_key FROM aigw.pricing_candidates('{"model": "pt-chat", "platform": "pt-b"}');
SELECT r AS request, (SELECT count(*) FROM aigw.pricing_candidates(r)) AS candidates
  FROM (VALUES ('{"model": "pt-chat", "max_tokens": 4096, "stream": true}'::jsonb),
               ('{"model": "pt-chat", "max_tokens": 5000}'),
               ('{"model": "pt-sim-video", "image_url": "https://x/a.png", "duration": 10, "audio": true}'),
               ('{"model": "pt-sim-video", "video_url": "https://x/v.mp4"}'),
               ('{"model": "pt-sim-video", "duration": 7}'),
               ('{"model": "pt-sim-video", "resolution": "2160p"}'),
               ('{"model": "pt-sim-image", "size": "1536x1024", "quality": "high", "n": 4}'),
               ('{"model": "pt-sim-image", "size": "4096x4096"}'),
               ('{"model": "pt-sim-image", "quality": "ultra"}'),
               ('{"model": "pt-sim-image", "n": 5}'),
               ('{"model": "pt-sim-image", "kind": "chat.completions"}')) AS v(r);

-- Same-named models on two platforms never share prices: the estimate is the first candidate's.
SELECT e->>'platformKey' AS platform, e->'total' AS total
  FROM aigw.estimate_billing('{"model": "pt-chat", "messages": [{"role": "user", "content": "12345678"}], "max_tokens": 1000}') AS e;
SELECT e->>'platformKey' AS platform, e->'total' AS total
  FROM aigw.estimate_billing('{"model": "pt-chat", "platform": "pt-b", "messages": [{"role": "user", "content": "12345678"}], "max_tokens": 1000}') AS e;
SELECT e->>'platformKey' AS platform, e->'total' AS total
  FROM aigw.estimate_billing('{"model": "pt-chat", "messages": [{"role": "user", "content": "12345678"}], "max_tokens": 1000}', '{"tenantKey": "acme"}') AS e;
-- Permission config: a model limited to user group "pro" is not a candidate for others.
UPDATE aigw.platform_models SET permission_config = '{"userGroups": ["pt-pro"]}'
 WHERE model_name = 'pt-chat' AND platform_id = (SELECT id FROM aigw.integration_platforms WHERE platform_key = 'pt-a');
SELECT platform_key FROM aigw.pricing_candidates('{"model": "pt-chat"}');

-- User groups: membership beats the user's default group; the discount is per model type.
INSERT INTO aigw.gateway_user_groups (group_key, name, priority, billing_discount_policy, recharge_discount_policy)
VALUES ('pt-pro', 'Pro', 10, '{"defaultDiscountFactor": 0.9, "modelTypeDiscounts": {"chat": 0.5}}',
        '{"type": "tiered_bonus", "tiers": [{"minAmount": 100, "bonusRatio": 0.05}, {"minAmount": 1000, "bonusRatio": 0.12}]}'),
       ('pt-free', 'Free', 100, '{}', '{}');
INSERT INTO aigw.gateway_tenants (tenant_key, name) VALUES ('pt-tenant', 'PT tenant');
INSERT INTO aigw.gateway_users (user_key, username, gateway_tenant_id, default_user_group_id)
SELECT 'pt-user', 'pt-user', t.id, g.id FROM aigw.gateway_tenants t, aigw.gateway_user_groups g
 WHERE t.tenant_key = 'pt-tenant' AND g.group_key = 'pt-free';
SELECT group_key FROM aigw.resolve_user_group((SELECT jsonb_build_object('gatewayUserId', id) FROM aigw.gateway_users WHERE user_key = 'pt-user'));
INSERT INTO aigw.gateway_user_group_memberships (group_id, principal_type, principal_id)
SELECT g.id, 'user', u.id::text FROM aigw.gateway_user_groups g, aigw.gateway_users u
 WHERE g.group_key = 'pt-pro' AND u.user_key = 'pt-user';
SELECT group_key FROM aigw.resolve_user_group((SELECT jsonb_build_object('gatewayUserId', id) FROM aigw.gateway_users WHERE user_key = 'pt-user'));
-- A membership outside its effective period does not count.
UPDATE aigw.gateway_user_group_memberships SET effective_to = now() - interval '1 day', effective_from = now() - interval '2 days';
SELECT group_key FROM aigw.resolve_user_group((SELECT jsonb_build_object('gatewayUserId', id) FROM aigw.gateway_users WHERE user_key = 'pt-user'));
UPDATE aigw.gateway_user_group_memberships SET effective_to = NULL, effective_from = NULL;
-- The pro user now reaches pt-a (permission) and pays half on chat, 0.9 on images.
SELECT e->>'platformKey' AS platform, e->>'userGroupKey' AS grp, e->'discounts' AS discounts, e->'total' AS total
  FROM aigw.estimate_billing('{"model": "pt-chat", "messages": [{"role": "user", "content": "12345678"}], "max_tokens": 1000}',
                             (SELECT jsonb_build_object('gatewayUserId', id) FROM aigw.gateway_users WHERE user_key = 'pt-user')) AS e;
SELECT e->'discounts' AS discounts, e->'total' AS total, e->'simulated' AS simulated
  FROM aigw.estimate_billing('{"model": "pt-sim-image", "prompt": "a cat", "n": 2, "quality": "high"}',
                             (SELECT jsonb_build_object('gatewayUserId', id) FROM aigw.gateway_users WHERE user_key = 'pt-user')) AS e;

-- For every model type the estimate of a request equals the billing of the same
-- request run against the simulation platform (its usage is the request's usage).
SELECT r->>'model' AS model,
       (e->>'total')::numeric AS estimate,
       (aigw.price_usage((e->>'platformModelId')::uuid, e->'usage')->>'total')::numeric AS billing,
       e - 'phase' - 'usage' - 'model' - 'platformId' - 'userGroupId' - 'userGroupKey'
         = aigw.price_usage((e->>'platformModelId')::uuid, e->'usage') - 'phase' - 'usage' AS same_line_items,
       (e->>'simulated')::boolean AS simulated
  FROM (VALUES ('{"model": "pt-sim-chat", "messages": [{"role": "user", "content": "Write a haiku about databases."}]}'::jsonb),
               ('{"model": "pt-sim-image", "prompt": "a cat", "size": "1536x1024", "quality": "low", "n": 3}'),
               ('{"model": "pt-sim-video", "prompt": "waves", "duration": 10, "resolution": "1080p", "audio": true, "image_url": "https://x/a.png"}'),
               ('{"model": "pt-sim-tts", "input": "Hello from the simulation platform."}'),
               ('{"model": "pt-sim-embed", "input": ["first text", "second text"]}')) AS v(r),
       LATERAL aigw.estimate_billing(r) AS e;

-- The cached path of aigw.estimate_billing picks pricing_candidates' first row.
SELECT count(*) AS cases, count(*) FILTER (WHERE ref = got) AS same_choice
  FROM (VALUES ('{"model": "pt-chat"}'::jsonb, '{}'::jsonb),
               ('{"model": "pt-chat", "stream": true, "max_tokens": 4096}', '{"tenantKey": "acme"}'),
               ('{"model": "pt-chat", "platform": "pt-b"}', '{"tenantKey": "acme"}'),
               ('{"model": "pt-chat"}', (SELECT jsonb_build_object('gatewayUserId', id) FROM aigw.gateway_users WHERE user_key = 'pt-user')),
               ('{"model": "pt-chat", "kind": "chat.completions"}', '{"tenantId": "nobody"}'),
               ('{"model": "pt-sim-video", "image_url": "https://x/a.png", "duration": 10, "audio": true}', '{}'),
               ('{"model": "pt-sim-image", "size": "1536x1024", "quality": "high", "n": 4}', '{}'),
               ('{"model": "sim-image", "image": "x", "size": "512x512"}', '{"runMode": "simulation"}'),
               ('{"model": "sim-chat", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}', '{}')) AS v(r, ident),
       LATERAL (SELECT (SELECT c.platform_model_id FROM aigw.pricing_candidates(r, ident,
                          (SELECT group_key FROM aigw.resolve_user_group(ident))) AS c LIMIT 1) AS ref,
                       (aigw.estimate_billing(r, ident)->>'platformModelId')::uuid AS got) AS x;

-- The candidate cache follows catalog changes in the same transaction: a
-- demoted platform, then a cooling one, then a disabled model move the estimate.
CREATE TEMP TABLE pro AS SELECT jsonb_build_object('gatewayUserId', id) AS ident FROM aigw.gateway_users WHERE user_key = 'pt-user';
SELECT aigw.estimate_billing('{"model": "pt-chat", "messages": []}', ident)->>'platformKey' AS first FROM pro;
UPDATE aigw.integration_platforms SET dynamic_priority = 500 WHERE platform_key = 'pt-a';
SELECT aigw.estimate_billing('{"model": "pt-chat", "messages": []}', ident)->>'platformKey' AS after_demotion FROM pro;
UPDATE aigw.integration_platforms SET cooldown_until = NULL WHERE platform_key = 'pt-cool';
SELECT aigw.estimate_billing('{"model": "pt-chat", "messages": []}', ident)->>'platformKey' AS cooldown_over FROM pro;
UPDATE aigw.platform_models SET enabled = false
 WHERE platform_id = (SELECT id FROM aigw.integration_platforms WHERE platform_key = 'pt-cool');
SELECT aigw.estimate_billing('{"model": "pt-chat", "messages": []}', ident)->>'platformKey' AS model_disabled FROM pro;

-- Platform discounts from the base price: a platform with default_discount_factor
-- 0.8 (inherit_discount), a model with its own discount 0.5, a model pinned to
-- pricing version 1 after the base price changed, and one that inherits.
INSERT INTO aigw.integration_platforms (provider, platform_key, name, default_pricing_mode, default_discount_factor, priority)
VALUES ('pt_vendor', 'pt-disc', 'Discounted', 'inherit_discount', 0.8, 1);
INSERT INTO aigw.base_model_catalog (provider_id, provider_key, canonical_model_key, provider_model_name, model_type, display_name, base_billing_config)
SELECT id, provider_key, 'pt/base-chat', 'pt-base-chat', 'chat', 'PT base chat', '{"text": {"inputPer1k": 2, "outputPer1k": 4}}'
  FROM aigw.model_catalog_providers WHERE provider_key = 'pt_vendor';
INSERT INTO aigw.platform_models (platform_id, base_model_id, model_name, model_type, display_name, pricing_mode, discount_factor)
SELECT p.id, b.id, m.name, 'chat', m.name, m.mode, m.factor
  FROM aigw.integration_platforms p, aigw.base_model_catalog b,
       (VALUES ('pt-disc-platform', 'inherit_discount', NULL::numeric), ('pt-disc-model', 'inherit_discount', 0.5),
               ('pt-disc-inherit', 'inherit', NULL)) AS m(name, mode, factor)
 WHERE p.platform_key = 'pt-disc' AND b.canonical_model_key = 'pt/base-chat';
INSERT INTO aigw.platform_models (platform_id, base_model_id, model_name, model_type, display_name, pricing_version)
SELECT p.id, b.id, 'pt-disc-pinned', 'chat', 'pinned', 1
  FROM aigw.integration_platforms p, aigw.base_model_catalog b
 WHERE p.platform_key = 'pt-disc' AND b.canonical_model_key = 'pt/base-chat';
UPDATE aigw.base_model_catalog SET base_billing_config = '{"text": {"inputPer1k": 3, "outputPer1k": 6}}'
 WHERE canonical_model_key = 'pt/base-chat';
SELECT e->>'model' AS model, e->'pricingVersion' AS version, e->'discounts'->'platform' AS platform_discount,
       e->'lineItems'->0->'unitPrice' AS input_price, e->'lineItems'->1->'unitPrice' AS output_price, e->'total' AS total
  FROM (VALUES ('pt-disc-platform'), ('pt-disc-model'), ('pt-disc-inherit'), ('pt-disc-pinned')) AS v(m),
       LATERAL aigw.estimate_billing(jsonb_build_object('model', m, 'messages', '[]'::jsonb, 'max_tokens', 1000)) AS e;

-- Every model type of the seeded simulation platform: the estimate equals the
-- billing of the same request's usage, and both are marked simulated.
SELECT r->>'model' AS model, e->>'platformKey' AS platform,
       (e->>'total')::numeric AS estimate,
       (aigw.price_usage((e->>'platformModelId')::uuid, e->'usage')->>'total')::numeric AS billing,
       e - 'phase' - 'usage' - 'model' - 'platformId' - 'userGroupId' - 'userGroupKey'
         = aigw.price_usage((e->>'platformModelId')::uuid, e->'usage') - 'phase' - 'usage' AS same_line_items,
       (e->>'simulated')::boolean AS simulated
  FROM (VALUES ('{"model": "sim-chat", "messages": [{"role": "user", "content": "Write a haiku about databases."}], "max_tokens": 200}'::jsonb),
               ('{"model": "sim-embedding", "input": "one sentence to embed"}'),
               ('{"model": "sim-image", "prompt": "a cat", "size": "1024x1536", "quality": "high", "n": 2}'),
               ('{"model": "sim-image", "prompt": "a hat", "image": "https://x/cat.png", "size": "512x512"}'),
               ('{"model": "sim-video", "prompt": "waves", "duration": 10, "resolution": "1080p", "audio": true, "video_url": "https://x/v.mp4"}'),
               ('{"model": "sim-tts", "input": "Hello from the simulation platform.", "voice": "nova"}')) AS v(r),
       LATERAL aigw.estimate_billing(r) AS e;

-- price_usage on a platform model, and errors.
SELECT aigw.price_usage((SELECT pm.id FROM aigw.platform_models pm JOIN aigw.integration_platforms p ON p.id = pm.platform_id
                          WHERE p.platform_key = 'pt-b' AND pm.model_name = 'pt-chat'),
                        '{"prompt_tokens": 100, "completion_tokens": 50}')->'total' AS pt_b_final;
-- price_usage (C) against the plpgsql it replaced, on every platform model of
-- the fixtures, usages of each kind, and contexts: none, a task's (simulated or
-- not, with a group discount policy), NULL, and simulated given as text.
CREATE FUNCTION pg_temp.price_usage_sql(platform_model_id uuid, usage jsonb, context jsonb DEFAULT '{}')
  RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
  pm record;
BEGIN
  SELECT m.model_type, m.billing_config, m.resolved_pricing_version AS pricing_version,
         CASE m.pricing_mode WHEN 'inherit' THEN 1::numeric WHEN 'custom' THEN 1::numeric
              ELSE coalesce(m.discount_factor, p.default_discount_factor) END AS platform_factor,
         (cp.provider_type = 'simulation' OR coalesce(p.config->>'testMode', 'false') = 'true') AS simulated,
         p.platform_key
    INTO pm
    FROM aigw.platform_models m
    JOIN aigw.integration_platforms p ON p.id = m.platform_id
    JOIN aigw.model_catalog_providers cp ON cp.provider_key = p.provider
   WHERE m.id = price_usage_sql.platform_model_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'platform model % does not exist', platform_model_id USING ERRCODE = 'undefined_object';
  END IF;
  RETURN aigw.compute_billing(pm.model_type, usage, pm.billing_config,
           jsonb_build_object('pricingVersion', pm.pricing_version, 'platformDiscountFactor', pm.platform_factor,
                              'platformModelId', platform_model_id, 'phase', 'final')
           || coalesce(context, '{}')
           || jsonb_build_object('simulated', pm.simulated OR coalesce((context->>'simulated')::boolean, false)))
         || jsonb_build_object('platformKey', pm.platform_key, 'usage', usage);
END
$$;
SELECT count(*) AS cases,
       count(*) FILTER (WHERE aigw.price_usage(pm.id, u, c) IS NOT DISTINCT FROM pg_temp.price_usage_sql(pm.id, u, c)) AS same,
       count(*) FILTER (WHERE aigw.price_usage(pm.id, u, c) IS NULL) AS null_billings
  FROM aigw.platform_models pm,
       (VALUES ('chat', '{"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}'::jsonb),
               ('chat', '{"prompt_tokens": 1200, "completion_tokens": 0, "cached_tokens": 200}'),
               ('image', '{"images": 2, "image_size": "1024x1024", "image_quality": "high", "image_mode": "generate"}'),
               ('video', '{"video_seconds": 10, "video_resolution": "1080p", "video_audio": true}'),
               ('audio', '{"audio_characters": 35}'), ('embedding', '{"embedding_tokens": 12}'),
               (NULL, NULL)) AS us(mt, u),
       (VALUES ('{}'::jsonb), (NULL),
               ('{"simulated": true, "taskId": "0192e1d6-0000-7000-8000-000000000009"}'),
               ('{"simulated": false, "userGroupDiscountPolicy": {"default": 0.8}}'),
               ('{"simulated": "yes", "phase": "replay"}')) AS cs(c)
 WHERE us.mt = pm.model_type OR us.mt IS NULL;
-- A simulated flag that is not a boolean: an error (22P02) from both unless the
-- platform is simulated, whatever the usage; numbers read as ->> renders them.
CREATE FUNCTION pg_temp.outcome_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  EXECUTE stmt INTO r;
  RETURN coalesce(r->>'simulated', 'null billing');
EXCEPTION WHEN others THEN
  RETURN SQLSTATE;
END;
$$;
SELECT p.platform_key, c, u IS NULL AS no_usage,
       pg_temp.outcome_of(format('SELECT aigw.price_usage(%L, %L, %L)', pm.id, u, c)) AS c_version,
       pg_temp.outcome_of(format('SELECT aigw.price_usage(%L, %L, %L)', pm.id, u, c))
         = pg_temp.outcome_of(format('SELECT pg_temp.price_usage_sql(%L, %L, %L)', pm.id, u, c)) AS same
  FROM aigw.platform_models pm JOIN aigw.integration_platforms p ON p.id = pm.platform_id
       CROSS JOIN (VALUES ('{"simulated": 1.0}'::jsonb), ('{"simulated": 1}'), ('{"simulated": {"a": 1}}'),
                          ('{"simulated": "abc"}')) AS cs(c)
       CROSS JOIN (VALUES ('{"prompt_tokens": 10, "completion_tokens": 5}'::jsonb), (NULL)) AS us(u)
 WHERE pm.model_type = 'chat' AND p.platform_key IN ('pt-a', 'pt-sim')
 ORDER BY 1, c::text, 3;
ROLLBACK;
SELECT aigw.price_usage('00000000-0000-0000-0000-000000000000', '{}');
SELECT aigw.estimate_billing('{"model": "no-such-model"}');
SELECT aigw.estimate_billing('{"messages": []}');

-- The cached user group of an identity follows membership changes, and a
-- membership period that starts later takes effect when it starts.
INSERT INTO aigw.gateway_user_groups (group_key, name, billing_discount_policy)
VALUES ('pt-cache-a', 'A', '{"defaultDiscountFactor": 0.5}'), ('pt-cache-b', 'B', '{"defaultDiscountFactor": 0.25}');
INSERT INTO aigw.gateway_users (user_key, username, default_user_group_id)
SELECT 'pt-cache-user', 'pt-cache-user', id FROM aigw.gateway_user_groups WHERE group_key = 'pt-cache-a';
CREATE TEMP TABLE cache_ident AS SELECT jsonb_build_object('gatewayUserId', id) AS ident FROM aigw.gateway_users WHERE user_key = 'pt-cache-user';
SELECT e->>'userGroupKey' AS grp, e->'total' AS total
  FROM cache_ident, aigw.estimate_billing('{"model": "sim-tts", "input": "0123456789"}', ident) AS e;
INSERT INTO aigw.gateway_user_group_memberships (group_id, principal_type, principal_id, effective_from)
SELECT g.id, 'user', u.id::text, clock_timestamp() + interval '1 second'
  FROM aigw.gateway_user_groups g, aigw.gateway_users u WHERE g.group_key = 'pt-cache-b' AND u.user_key = 'pt-cache-user';
SELECT e->>'userGroupKey' AS before_start FROM cache_ident, aigw.estimate_billing('{"model": "sim-tts", "input": "0123456789"}', ident) AS e;
SELECT pg_sleep(1.2);
SELECT e->>'userGroupKey' AS after_start, e->'total' AS total
  FROM cache_ident, aigw.estimate_billing('{"model": "sim-tts", "input": "0123456789"}', ident) AS e;
UPDATE aigw.gateway_user_group_memberships SET status = 'disabled'
 WHERE group_id = (SELECT id FROM aigw.gateway_user_groups WHERE group_key = 'pt-cache-b');
SELECT e->>'userGroupKey' AS after_disable FROM cache_ident, aigw.estimate_billing('{"model": "sim-tts", "input": "0123456789"}', ident) AS e;
DELETE FROM aigw.gateway_user_group_memberships
 WHERE group_id IN (SELECT id FROM aigw.gateway_user_groups WHERE group_key LIKE 'pt-cache-%');
DELETE FROM aigw.gateway_users WHERE user_key = 'pt-cache-user';
DELETE FROM aigw.gateway_user_groups WHERE group_key LIKE 'pt-cache-%';
DROP TABLE cache_ident;
