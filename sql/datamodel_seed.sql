-- A fresh install: the catalog seed and the simulation platform.
-- Providers, with OpenAI-compatible vendors typed as such.
SELECT provider_key, provider_type, status FROM aigw.model_catalog_providers
 WHERE provider_key IN ('openai', 'anthropic', 'gemini', 'simulation', 'deepseek', 'qwen', 'moonshot', 'zhipu', 'vllm')
 ORDER BY metadata->>'order';
-- Base models of every type, each active one priced for its type.
SELECT model_type, count(*) AS models, count(DISTINCT provider_key) AS providers
  FROM aigw.base_model_catalog GROUP BY 1 ORDER BY 1;
SELECT canonical_model_key, aigw.missing_price(model_type, aigw.expand_total_price(base_billing_config)) AS missing
  FROM aigw.base_model_catalog
 WHERE status = 'active' AND aigw.missing_price(model_type, aigw.expand_total_price(base_billing_config)) IS NOT NULL;
-- Image models for generation and for edits; video with audio and references.
SELECT canonical_model_key, capabilities->'modes' AS modes, base_billing_config->'image'->'perImage' AS per_image
  FROM aigw.base_model_catalog WHERE model_type = 'image' ORDER BY 1;
SELECT canonical_model_key, capabilities->'durations' AS durations, capabilities->'audio' AS audio,
       capabilities->'referenceImage' AS ref_image, base_billing_config->'video' AS video
  FROM aigw.base_model_catalog WHERE model_type = 'video' ORDER BY 1;
-- List prices in resource (1 resource = 0.001 USD): a few anchors.
SELECT canonical_model_key, base_billing_config->'text' AS text
  FROM aigw.base_model_catalog WHERE canonical_model_key IN ('openai/gpt-4o-mini', 'anthropic/claude-sonnet-4',
                                                             'gemini/gemini-2.5-flash', 'deepseek/deepseek-chat')
 ORDER BY 1;
SELECT canonical_model_key, base_billing_config->'audio' AS audio
  FROM aigw.base_model_catalog WHERE model_type = 'audio' ORDER BY 1;
-- Every base price is recorded as version 1.
SELECT count(*) = (SELECT count(*) FROM aigw.base_model_catalog) AS all_versioned
  FROM aigw.base_model_pricing_versions WHERE pricing_version = 1;
-- The simulation platform: enabled, no credentials, one enabled model of every type, all priced.
SELECT p.platform_key, p.provider, p.auth_type, p.credentials, p.status, s.policy_key AS runtime_policy_set
  FROM aigw.integration_platforms p JOIN aigw.model_runtime_policy_sets s ON s.id = p.runtime_policy_set_id
 WHERE p.platform_key = 'simulation';
SELECT m.model_type, m.model_name, m.enabled, m.pricing_mode, aigw.missing_price(m.model_type, m.billing_config) AS missing,
       m.billing_config = b.base_billing_config AS base_price, m.capabilities = b.capabilities AS base_capabilities
  FROM aigw.platform_models m
  JOIN aigw.integration_platforms p ON p.id = m.platform_id
  JOIN aigw.base_model_catalog b ON b.id = m.base_model_id
 WHERE p.platform_key = 'simulation' ORDER BY 1;
SELECT t AS type_without_simulation_model
  FROM unnest(ARRAY['chat', 'embedding', 'image', 'video', 'audio']) AS t
 WHERE NOT EXISTS (SELECT 1 FROM aigw.platform_models m JOIN aigw.integration_platforms p ON p.id = m.platform_id
                    WHERE p.platform_key = 'simulation' AND m.model_type = t AND m.enabled);
-- Seeded rows have stable ids (aigw.seed_id), the same in every install.
SELECT (SELECT count(*) FROM aigw.model_catalog_providers WHERE id = aigw.seed_id('provider', provider_key)) AS providers,
       (SELECT count(*) FROM aigw.base_model_catalog WHERE id = aigw.seed_id('base_model', canonical_model_key)) AS base_models,
       (SELECT count(*) FROM aigw.platform_models WHERE id = aigw.seed_id('platform_model', 'simulation/' || model_name)) AS sim_models,
       (SELECT count(*) FROM aigw.integration_platforms WHERE id = aigw.seed_id('platform', 'simulation')) AS platform,
       (SELECT count(*) FROM aigw.gateway_runner_policies WHERE id = aigw.seed_id('runner_policy', policy_key)) AS runner,
       (SELECT count(*) FROM aigw.model_runtime_policy_sets WHERE id = aigw.seed_id('runtime_policy_set', policy_key)) AS runtime;
SELECT aigw.seed_id('provider', 'openai');
-- Restoring a row over an existing id updates it (this is how a pg_dump
-- lands on the seed); a different id with the same key is still a duplicate.
BEGIN;
INSERT INTO aigw.model_catalog_providers (id, provider_key, display_name, provider_type)
VALUES (aigw.seed_id('provider', 'openai'), 'openai', 'OpenAI (restored)', 'openai_compatible');
SELECT provider_key, display_name, capability_schema FROM aigw.model_catalog_providers WHERE provider_key = 'openai';
INSERT INTO aigw.base_model_catalog (id, provider_id, provider_key, canonical_model_key, provider_model_name, model_type,
                                     display_name, base_billing_config, pricing_version)
SELECT id, provider_id, provider_key, canonical_model_key, provider_model_name, model_type, display_name,
       '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 1}}', 5
  FROM aigw.base_model_catalog WHERE canonical_model_key = 'simulation/sim-chat';
SELECT pricing_version, base_billing_config->'text' AS text FROM aigw.base_model_catalog
 WHERE canonical_model_key = 'simulation/sim-chat';
SELECT resolved_pricing_version, billing_config->'text' AS text FROM aigw.platform_models
 WHERE id = aigw.seed_id('platform_model', 'simulation/sim-chat');
SELECT pricing_version FROM aigw.base_model_pricing_versions
 WHERE base_model_id = aigw.seed_id('base_model', 'simulation/sim-chat') ORDER BY 1;
ROLLBACK;
\set VERBOSITY terse
INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type)
VALUES ('openai', 'Duplicate', 'openai_compatible');
