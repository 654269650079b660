-- Admin API for providers, base models and pricing rules.
\set VERBOSITY terse
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<uuid>', 'g');
END $$;
BEGIN;

-- Providers.
SELECT provider_key, display_name, provider_type, status
  FROM aigw.create_provider('acme', 'Acme AI', 'openai_compatible', p_metadata => '{"order": 1}');
SELECT provider_key, display_name, provider_type, status, metadata
  FROM aigw.update_provider('acme', p_display_name => 'Acme', p_status => 'deprecated');
SELECT pg_temp.try($$SELECT aigw.create_provider('acme', 'Again', 'openai_compatible')$$);
SELECT pg_temp.try($$SELECT aigw.create_provider('bad key', 'x', 'openai_compatible')$$);
SELECT pg_temp.try($$SELECT aigw.create_provider('x', NULL, 'openai_compatible')$$);
SELECT pg_temp.try($$SELECT aigw.create_provider('x', 'x', 'carrier_pigeon')$$);
SELECT pg_temp.try($$SELECT aigw.create_provider('x', 'x', 'gemini', '[]')$$);
SELECT pg_temp.try($$SELECT aigw.create_provider('x', 'x', 'gemini', '{}', '1')$$);
SELECT pg_temp.try($$SELECT aigw.create_provider('x', 'x', 'gemini', '{}', '{}', 'null')$$);
SELECT pg_temp.try($$SELECT aigw.update_provider('nobody', 'x')$$);
SELECT pg_temp.try($$SELECT aigw.update_provider('acme', p_status => 'retired')$$);
SELECT pg_temp.try($$SELECT aigw.update_provider('acme', p_provider_type => 'fax')$$);
SELECT pg_temp.try($$SELECT aigw.update_provider('acme', p_display_name => ' ')$$);
SELECT pg_temp.try($$SELECT aigw.update_provider('acme', p_metadata => '[]')$$);
SELECT count(*) AS providers_named_x FROM aigw.model_catalog_providers WHERE provider_key = 'x';

-- Base models: created at pricing version 1 with the currency filled in.
SELECT canonical_model_key, provider_key, model_type, pricing_version, base_billing_config, status
  FROM aigw.create_base_model('acme', 'acme/chat-1', 'chat-1', 'chat', 'Acme Chat 1',
                              '{"contextWindow": 8000, "stream": true}',
                              '{"text": {"inputPer1k": 1, "outputPer1k": 2}}');
-- A total price is accepted for chat (expanded when resolved).
SELECT canonical_model_key, pricing_version
  FROM aigw.create_base_model('acme', 'acme/chat-total', 'chat-total', 'chat', 'Acme Chat total',
                              p_base_billing_config => '{"totalPer1k": 3}');
-- A hidden base model may have no price yet; an active one may not.
SELECT canonical_model_key, status
  FROM aigw.create_base_model('acme', 'acme/draft', 'draft', 'video', 'Draft', p_status => 'hidden');
SELECT pg_temp.try($$SELECT aigw.create_base_model('acme', 'acme/free', 'free', 'image', 'Free')$$);
SELECT pg_temp.try($$SELECT aigw.create_base_model('acme', 'acme/half', 'half', 'chat', 'Half', '{}', '{"text": {"inputPer1k": 1}}')$$);
SELECT pg_temp.try($$SELECT aigw.create_base_model('acme', 'acme/chat-1', 'chat-1', 'chat', 'Again', '{}', '{"totalPer1k": 1}')$$);
SELECT pg_temp.try($$SELECT aigw.create_base_model('nobody', 'nobody/m', 'm', 'chat', 'M', '{}', '{"totalPer1k": 1}')$$);
SELECT pg_temp.try($$SELECT aigw.create_base_model('acme', 'acme/m', 'm', 'hologram', 'M')$$);
SELECT pg_temp.try($$SELECT aigw.create_base_model('acme', 'acme m', 'm', 'chat', 'M')$$);
SELECT pg_temp.try($$SELECT aigw.create_base_model('acme', 'acme/m', NULL, 'chat', 'M')$$);
SELECT pg_temp.try($$SELECT aigw.create_base_model('acme', 'acme/m', 'm', 'chat', '')$$);
SELECT pg_temp.try($$SELECT aigw.create_base_model('acme', 'acme/m', 'm', 'chat', 'M', '[]')$$);
SELECT pg_temp.try($$SELECT aigw.create_base_model('acme', 'acme/m', 'm', 'chat', 'M', '{}', '{"text": {"inputPer1k": -1, "outputPer1k": 1}}')$$);
SELECT pg_temp.try($$SELECT aigw.create_base_model('acme', 'acme/m', 'm', 'chat', 'M', '{}', '{"text": {"inputPer1k": "1", "outputPer1k": 1}}')$$);
SELECT pg_temp.try($$SELECT aigw.create_base_model('acme', 'acme/m', 'm', 'image', 'M', '{}', '{"image": {"perImage": 1, "qualityWeights": {"hd": 0}}}')$$);
SELECT pg_temp.try($$SELECT aigw.create_base_model('acme', 'acme/m', 'm', 'video', 'M', '{}', '{"video": {"perUnit": 1, "unitSeconds": 0}}')$$);
SELECT pg_temp.try($$SELECT aigw.create_base_model('acme', 'acme/m', 'm', 'chat', 'M', '{}', '{"currency": "gold", "totalPer1k": 1}')$$);
SELECT pg_temp.try($$SELECT aigw.create_base_model('acme', 'acme/m', 'm', 'chat', 'M', '{}', '{"totalPer1k": 1}', p_status => 'live')$$);
SELECT count(*) AS acme_models FROM aigw.base_model_catalog WHERE provider_key = 'acme';

-- Updating the price makes a new pricing version and keeps the old one.
SELECT pricing_version, base_billing_config
  FROM aigw.update_base_model('acme/chat-1', p_base_billing_config => '{"text": {"inputPer1k": 1.5, "outputPer1k": 3}}');
SELECT pricing_version, display_name
  FROM aigw.update_base_model('acme/chat-1', p_display_name => 'Acme Chat One');
SELECT v.pricing_version, v.base_billing_config
  FROM aigw.base_model_pricing_versions v JOIN aigw.base_model_catalog b ON b.id = v.base_model_id
 WHERE b.canonical_model_key = 'acme/chat-1' ORDER BY 1;
-- The version is system-managed: a raw write cannot rewind it.
UPDATE aigw.base_model_catalog SET pricing_version = 1 WHERE canonical_model_key = 'acme/chat-1'
RETURNING pricing_version;
SELECT pg_temp.try($$SELECT aigw.update_base_model('acme/nothing', 'x')$$);
SELECT pg_temp.try($$SELECT aigw.update_base_model('acme/chat-1', p_base_billing_config => '{"text": {}}')$$);
SELECT pg_temp.try($$SELECT aigw.update_base_model('acme/chat-1', p_status => 'gone')$$);
SELECT pg_temp.try($$SELECT aigw.update_base_model('acme/chat-1', p_capabilities => '"x"')$$);
SELECT pricing_version FROM aigw.base_model_catalog WHERE canonical_model_key = 'acme/chat-1';

-- Pricing rules on a base model write the price as a new version.
SELECT scope_type, resource_type, unit, base_price, pricing_version, applied_at IS NOT NULL AS applied,
       effective_to IS NULL AS open
  FROM aigw.add_pricing_rule('base_model', (SELECT id FROM aigw.base_model_catalog WHERE canonical_model_key = 'acme/chat-1'),
                             'text_output', '1k_tokens', 4);
SELECT scope_type, resource_type, base_price, pricing_version
  FROM aigw.add_pricing_rule('base_model', (SELECT id FROM aigw.base_model_catalog WHERE canonical_model_key = 'acme/chat-1'),
                             'text_output', '1k_tokens', 5, p_base_weight => '{"multiplier": 1.2}');
SELECT pricing_version, base_billing_config FROM aigw.base_model_catalog WHERE canonical_model_key = 'acme/chat-1';
-- The earlier rule for the same resource is closed.
SELECT base_price, effective_to IS NOT NULL AS closed FROM aigw.model_pricing_rules
 WHERE scope_id = (SELECT id FROM aigw.base_model_catalog WHERE canonical_model_key = 'acme/chat-1')
 ORDER BY pricing_version;
-- A rule that starts in the future waits for apply_due_pricing_rules().
SELECT applied_at IS NULL AS pending
  FROM aigw.add_pricing_rule('base_model', (SELECT id FROM aigw.base_model_catalog WHERE canonical_model_key = 'acme/chat-1'),
                             'text_input', '1k_tokens', 9, p_effective_from => now() + interval '1 hour');
SELECT aigw.apply_due_pricing_rules() AS applied_now;
UPDATE aigw.model_pricing_rules SET effective_from = now() - interval '1 second' WHERE applied_at IS NULL AND base_price = 9;
SELECT aigw.apply_due_pricing_rules() AS applied_later;
SELECT base_billing_config->'text' AS text FROM aigw.base_model_catalog WHERE canonical_model_key = 'acme/chat-1';
-- Image and video rules carry their weights.
SELECT base_billing_config
  FROM aigw.create_base_model('acme', 'acme/video-1', 'video-1', 'video', 'Acme Video',
                              p_base_billing_config => '{"video": {"perUnit": 10, "unitSeconds": 1}}');
SELECT pricing_version FROM aigw.add_pricing_rule(
  'base_model', (SELECT id FROM aigw.base_model_catalog WHERE canonical_model_key = 'acme/video-1'),
  'video', '5s', 40, p_dynamic_weight => '{"resolutionWeights": {"720p": 1, "1080p": 2}}');
SELECT base_billing_config FROM aigw.base_model_catalog WHERE canonical_model_key = 'acme/video-1';
-- Errors.
SELECT pg_temp.try($$SELECT aigw.add_pricing_rule('tenant', gen_random_uuid(), 'image', 'image', 1)$$);
SELECT pg_temp.try($$SELECT aigw.add_pricing_rule('base_model', NULL, 'image', 'image', 1)$$);
SELECT pg_temp.try($$SELECT aigw.add_pricing_rule('base_model', '00000000-0000-0000-0000-000000000001', 'image', 'image', 1)$$);
SELECT pg_temp.try($$SELECT aigw.add_pricing_rule('platform', '00000000-0000-0000-0000-000000000001', 'image', 'image', 1)$$);
SELECT pg_temp.try($$SELECT aigw.add_pricing_rule('platform_model', '00000000-0000-0000-0000-000000000001', 'image', 'image', 1)$$);
SELECT pg_temp.try(format($$SELECT aigw.add_pricing_rule('base_model', %L, 'image', 'image', 1)$$,
                          (SELECT id FROM aigw.base_model_catalog WHERE canonical_model_key = 'acme/chat-1')));
SELECT pg_temp.try(format($$SELECT aigw.add_pricing_rule('base_model', %L, 'text_input', 'second', 1)$$,
                          (SELECT id FROM aigw.base_model_catalog WHERE canonical_model_key = 'acme/chat-1')));
SELECT pg_temp.try(format($$SELECT aigw.add_pricing_rule('base_model', %L, 'text_input', '1k_tokens', -1)$$,
                          (SELECT id FROM aigw.base_model_catalog WHERE canonical_model_key = 'acme/chat-1')));
SELECT pg_temp.try(format($$SELECT aigw.add_pricing_rule('base_model', %L, 'text_input', '1k_tokens', 1, 'usd')$$,
                          (SELECT id FROM aigw.base_model_catalog WHERE canonical_model_key = 'acme/chat-1')));
SELECT pg_temp.try(format($$SELECT aigw.add_pricing_rule('base_model', %L, 'text_input', '1k_tokens', 1, 'gold')$$,
                          (SELECT id FROM aigw.base_model_catalog WHERE canonical_model_key = 'acme/chat-1')));
SELECT pg_temp.try(format($$SELECT aigw.add_pricing_rule('base_model', %L, 'text_input', '1k_tokens', 1, p_base_weight => '{"multiplier": 0}')$$,
                          (SELECT id FROM aigw.base_model_catalog WHERE canonical_model_key = 'acme/chat-1')));
SELECT pg_temp.try(format($$SELECT aigw.add_pricing_rule('base_model', %L, 'text_input', '1k_tokens', 1, p_dynamic_weight => '{"resolutionWeights": {"1K": 1}}')$$,
                          (SELECT id FROM aigw.base_model_catalog WHERE canonical_model_key = 'acme/chat-1')));
SELECT pg_temp.try(format($$SELECT aigw.add_pricing_rule('base_model', %L, 'video', 'second', 1, p_dynamic_weight => '{"perUnit": 0}')$$,
                          (SELECT id FROM aigw.base_model_catalog WHERE canonical_model_key = 'acme/video-1')));
SELECT pg_temp.try(format($$SELECT aigw.add_pricing_rule('base_model', %L, 'video', 'second', 1, p_dynamic_weight => '{"resolutionWeights": {"720p": -1}}')$$,
                          (SELECT id FROM aigw.base_model_catalog WHERE canonical_model_key = 'acme/video-1')));
SELECT pg_temp.try($$SELECT aigw.apply_pricing_rule('00000000-0000-0000-0000-000000000001')$$);
-- Failed calls left no rule behind.
SELECT count(*) AS rules FROM aigw.model_pricing_rules
 WHERE scope_id IN (SELECT id FROM aigw.base_model_catalog WHERE provider_key = 'acme');
ROLLBACK;
