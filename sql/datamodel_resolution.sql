-- Effective model resolution (seed 003 §9.2): platform models follow their
-- base model, the discount and their overrides, and are re-resolved by
-- triggers whenever any input changes.
\set VERBOSITY terse
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<uuid>', 'g');
END $$;
CREATE FUNCTION pg_temp.pid(k text) RETURNS uuid LANGUAGE sql
  RETURN (SELECT id FROM aigw.integration_platforms WHERE platform_key = k);
CREATE VIEW pg_temp.effective AS
  SELECT pm.model_name, pm.pricing_mode, pm.discount_factor, pm.pricing_version, pm.resolved_pricing_version,
         pm.billing_config, pm.capabilities
    FROM aigw.platform_models pm JOIN aigw.integration_platforms p ON p.id = pm.platform_id
   WHERE p.platform_key = 'res-platform';
BEGIN;

SELECT provider_key FROM aigw.create_provider('res', 'Resolution test', 'openai_compatible');
SELECT canonical_model_key, pricing_version FROM aigw.create_base_model(
  'res', 'res/chat', 'chat', 'chat', 'Chat', '{"contextWindow": 1000, "stream": true, "inputModalities": ["text"]}',
  '{"text": {"inputPer1k": 10, "outputPer1k": 20}}');
SELECT canonical_model_key FROM aigw.create_base_model(
  'res', 'res/image', 'image', 'image', 'Image', '{"sizes": ["1024x1024"], "maxCount": 4}',
  '{"image": {"perImage": 100, "qualityWeights": {"low": 0.5, "high": 2}}}');
SELECT canonical_model_key FROM aigw.create_base_model(
  'res', 'res/total', 'total', 'chat', 'Total', '{}', '{"totalPer1k": 8}');
SELECT platform_key FROM aigw.create_platform('res', 'res-platform', 'Res', p_default_discount_factor => 0.5);
SELECT model_name FROM aigw.add_platform_model(pg_temp.pid('res-platform'), 'follow', 'res/chat');
SELECT model_name FROM aigw.add_platform_model(pg_temp.pid('res-platform'), 'pinned', 'res/chat', p_pricing_version => 1);
SELECT model_name FROM aigw.add_platform_model(pg_temp.pid('res-platform'), 'full-price', 'res/chat', p_pricing_mode => 'inherit');
SELECT model_name FROM aigw.add_platform_model(pg_temp.pid('res-platform'), 'own-discount', 'res/chat', p_discount_factor => 0.8);
SELECT model_name FROM aigw.add_platform_model(pg_temp.pid('res-platform'), 'custom', 'res/chat', p_pricing_mode => 'custom',
                                               p_billing_config_override => '{"text": {"inputPer1k": 1, "outputPer1k": 2}}',
                                               p_capability_override => '{"contextWindow": 500}');
SELECT model_name FROM aigw.add_platform_model(pg_temp.pid('res-platform'), 'partial', 'res/chat',
                                               p_billing_config_override => '{"text": {"outputPer1k": 3}}');
SELECT model_name FROM aigw.add_platform_model(pg_temp.pid('res-platform'), 'image', 'res/image');
SELECT model_name FROM aigw.add_platform_model(pg_temp.pid('res-platform'), 'total', 'res/total');
SELECT model_name, pricing_mode, discount_factor, resolved_pricing_version, billing_config, capabilities
  FROM pg_temp.effective ORDER BY 1;

-- A base price change re-resolves every model that follows the latest price;
-- a pinned model keeps version 1, custom prices are untouched.
SELECT pricing_version FROM aigw.update_base_model('res/chat', p_base_billing_config => '{"text": {"inputPer1k": 12, "outputPer1k": 30}}');
SELECT model_name, resolved_pricing_version, billing_config->'text' AS text FROM pg_temp.effective
 WHERE model_name <> 'image' AND model_name <> 'total' ORDER BY 1;
-- Base capabilities flow to every model, pinned or not; overrides stay on top.
SELECT pricing_version FROM aigw.update_base_model('res/chat', p_capabilities => '{"contextWindow": 2000, "tools": true}');
SELECT model_name, capabilities FROM pg_temp.effective WHERE model_name IN ('follow', 'pinned', 'custom') ORDER BY 1;
-- A platform discount change re-resolves the models that use it, and only those.
SELECT default_discount_factor FROM aigw.update_platform(pg_temp.pid('res-platform'), p_default_discount_factor => 0.25);
SELECT model_name, billing_config->'text' AS text, billing_config->'image' AS image FROM pg_temp.effective ORDER BY 1;
-- A raw write to the platform (not through the API) is followed too.
UPDATE aigw.integration_platforms SET default_discount_factor = 1 WHERE platform_key = 'res-platform';
SELECT model_name, billing_config->'text'->'inputPer1k' AS input FROM pg_temp.effective WHERE model_name = 'follow';
-- Pinning to the new version and unpinning again.
SELECT resolved_pricing_version, billing_config->'text' AS text FROM aigw.update_platform_model(
  (SELECT id FROM aigw.platform_models WHERE model_name = 'pinned' AND platform_id = pg_temp.pid('res-platform')),
  p_pricing_version => 2);
-- Pricing rules on the platform and on one platform model land in the overrides.
SELECT resource_type FROM aigw.add_pricing_rule('platform', pg_temp.pid('res-platform'), 'text_input', '1k_tokens', 0.5);
SELECT resource_type FROM aigw.add_pricing_rule('platform_model',
  (SELECT id FROM aigw.platform_models WHERE model_name = 'image' AND platform_id = pg_temp.pid('res-platform')),
  'image', 'image', 77, p_dynamic_weight => '{"qualityWeights": {"low": 0.1}}');
SELECT model_name, billing_config->'text'->'inputPer1k' AS input, billing_config->'image' AS image
  FROM pg_temp.effective ORDER BY 1;
SELECT pg_temp.try(format($$SELECT aigw.add_pricing_rule('platform_model', %L, 'text_input', '1k_tokens', 1)$$,
  (SELECT id FROM aigw.platform_models WHERE model_name = 'image' AND platform_id = pg_temp.pid('res-platform'))));

-- No model becomes free by accident: taking the base price away while enabled
-- models depend on it fails, and nothing changes.
SELECT pg_temp.try($$SELECT aigw.update_base_model('res/chat', p_status => 'hidden', p_base_billing_config => '{}')$$);
SELECT pg_temp.try($$UPDATE aigw.base_model_catalog SET base_billing_config = '{"text": {"inputPer1k": 1}}', status = 'hidden'
                     WHERE canonical_model_key = 'res/chat'$$);
SELECT pricing_version, status FROM aigw.base_model_catalog WHERE canonical_model_key = 'res/chat';
-- A model type change on the base that its platform models do not share is refused.
SELECT pg_temp.try($$UPDATE aigw.base_model_catalog SET model_type = 'embedding',
                            base_billing_config = '{"embedding": {"inputPer1k": 1}}' WHERE canonical_model_key = 'res/chat'$$);
-- A base model in use cannot be deleted.
SELECT pg_temp.try($$DELETE FROM aigw.base_model_catalog WHERE canonical_model_key = 'res/chat'$$);

-- The resolver is callable on its own (console previews).
SELECT capabilities, billing_config, resolved_pricing_version
  FROM aigw.resolve_model_config((SELECT id FROM aigw.base_model_catalog WHERE canonical_model_key = 'res/image'),
                                 NULL, 'inherit_discount', 0.1, 0.9, '{"maxCount": 1}', '{}');
SELECT billing_config FROM aigw.resolve_model_config(NULL, NULL, 'custom', NULL, 1, '{}', '{"totalPer1k": 2}');
-- Deep merge and price scaling helpers.
SELECT aigw.merge_model_config('{"a": {"b": 1, "c": [1]}, "d": 1}', '{"a": {"c": [2], "e": 3}, "d": {"x": 1}}');
SELECT aigw.scale_billing_prices('{"text": {"inputPer1k": 3}, "video": {"perUnit": 10, "unitSeconds": 5,
                                   "audioWeights": {"true": 1.5}}, "totalPer1k": 1}', 0.5);
SELECT aigw.missing_price('video', '{"video": {"unitSeconds": 5}}'), aigw.missing_price('audio', '{"audio": {"perSecond": 1}}'),
       aigw.missing_price('music', '{"music": {"perItem": 1}}'), aigw.missing_price('model_3d', '{}');
ROLLBACK;
