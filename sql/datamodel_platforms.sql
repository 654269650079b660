-- Admin API for platforms, platform models, snapshots and model groups.
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
CREATE FUNCTION pg_temp.mid(k text, m text) RETURNS uuid LANGUAGE sql
  RETURN (SELECT pm.id FROM aigw.platform_models pm JOIN aigw.integration_platforms p ON p.id = pm.platform_id
           WHERE p.platform_key = k AND pm.model_name = m);
BEGIN;

-- Create a platform with a default discount factor.
SELECT provider, platform_key, name, base_url, auth_type, default_pricing_mode, default_discount_factor, status,
       priority, runtime_policy_set_id IS NULL AS default_runtime_set
  FROM aigw.create_platform('openai', 'openai-main', 'OpenAI main', 'https://api.openai.com/v1',
                            p_credentials => '{"ciphertext": "x"}', p_default_discount_factor => 0.8);
SELECT pg_temp.try($$SELECT aigw.create_platform('openai', 'openai-main', 'Again')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform('nobody', 'p1', 'P1')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform('openai', 'p 1', 'P1')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform('openai', 'p1', NULL)$$);
SELECT pg_temp.try($$SELECT aigw.create_platform('openai', 'p1', 'P1', 'ftp://x')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform('openai', 'p1', 'P1', p_auth_type => 'magic')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform('openai', 'p1', 'P1', p_credentials => '"secret"')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform('openai', 'p1', 'P1', p_config => '[]')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform('openai', 'p1', 'P1', p_default_discount_factor => 0)$$);
SELECT pg_temp.try($$SELECT aigw.create_platform('openai', 'p1', 'P1', p_default_discount_factor => NULL)$$);
SELECT pg_temp.try($$SELECT aigw.create_platform('openai', 'p1', 'P1', p_default_pricing_mode => 'free')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform('openai', 'p1', 'P1', p_visibility_scope => 'tenant')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform('openai', 'p1', 'P1', p_visibility_scope => 'world')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform('openai', 'p1', 'P1', p_priority => NULL)$$);
SELECT pg_temp.try($$SELECT aigw.create_platform('openai', 'p1', 'P1', p_runtime_policy_key => 'nope')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform('openai', 'p1', 'P1', p_retry_policy => '1')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform('openai', 'p1', 'P1', p_rate_limit_policy => '[]')$$);
SELECT count(*) AS p1_rows FROM aigw.integration_platforms WHERE platform_key = 'p1';
-- A tenant platform.
SELECT platform_key, visibility_scope, tenant_key
  FROM aigw.create_platform('openai', 'tenant-a-openai', 'Tenant A', p_visibility_scope => 'tenant',
                            p_tenant_key => 'tenant-a');

-- Platform models: inherit_discount (platform default), model discount, inherit, custom.
SELECT model_name, model_type, pricing_mode, discount_factor, billing_config, capabilities->'contextWindow' AS ctx
  FROM aigw.add_platform_model(pg_temp.pid('openai-main'), 'gpt-4o', 'openai/gpt-4o');
SELECT model_name, pricing_mode, billing_config->'text' AS text
  FROM aigw.add_platform_model(pg_temp.pid('openai-main'), 'gpt-4o-mini', 'openai/gpt-4o-mini',
                               p_discount_factor => 0.5);
SELECT model_name, pricing_mode, billing_config->'text' AS text
  FROM aigw.add_platform_model(pg_temp.pid('openai-main'), 'gpt-4.1', 'openai/gpt-4.1', p_pricing_mode => 'inherit');
SELECT model_name, model_type, pricing_mode, base_model_id IS NULL AS pure_custom, billing_config
  FROM aigw.add_platform_model(pg_temp.pid('openai-main'), 'house-model', p_model_type => 'chat',
                               p_pricing_mode => 'custom',
                               p_billing_config_override => '{"text": {"inputPer1k": 7, "outputPer1k": 8}}',
                               p_capability_override => '{"contextWindow": 4096}');
-- Overrides: capabilities deep-merge, prices override after the discount.
SELECT capabilities->'contextWindow' AS ctx, capabilities->'inputModalities' AS input, billing_config->'text' AS text
  FROM aigw.add_platform_model(pg_temp.pid('openai-main'), 'gpt-image-1', 'openai/gpt-image-1',
                               p_capability_override => '{"maxCount": 2}',
                               p_billing_config_override => '{"image": {"qualityWeights": {"high": 5}}}',
                               p_model_alias => 'image-default');
SELECT capabilities->'maxCount' AS max_count, capabilities->'sizes' AS sizes, billing_config->'image' AS image
  FROM aigw.platform_models WHERE id = pg_temp.mid('openai-main', 'gpt-image-1');
-- A pinned pricing version.
SELECT model_name, pricing_version, resolved_pricing_version
  FROM aigw.add_platform_model(pg_temp.pid('openai-main'), 'gpt-4.1-mini', 'openai/gpt-4.1-mini', p_pricing_version => 1);
-- A disabled model without a price is allowed; enabling it is not.
SELECT model_name, enabled, billing_config
  FROM aigw.add_platform_model(pg_temp.pid('openai-main'), 'unpriced', p_model_type => 'image',
                               p_pricing_mode => 'inherit', p_enabled => false);
SELECT pg_temp.try(format($$SELECT aigw.set_platform_model_enabled(%L, true)$$, pg_temp.mid('openai-main', 'unpriced')));
SELECT pg_temp.try(format($$SELECT aigw.set_platform_model_enabled(%L, NULL)$$, pg_temp.mid('openai-main', 'unpriced')));
-- Errors.
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), 'gpt-4o', 'openai/gpt-4o')$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model('00000000-0000-0000-0000-000000000001', 'm', 'openai/gpt-4o')$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), 'm', 'openai/nothing')$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), 'm')$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), '', 'openai/gpt-4o')$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), 'm', 'openai/gpt-4o', 'image')$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), 'm', p_model_type => 'hologram')$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), 'm', 'openai/gpt-4o', p_pricing_mode => 'free')$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), 'm', 'openai/gpt-4o', p_pricing_mode => 'inherit', p_discount_factor => 0.5)$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), 'm', 'openai/gpt-4o', p_discount_factor => -1)$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), 'm', 'openai/gpt-4o', p_pricing_mode => 'custom')$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), 'm', 'openai/gpt-4o', p_pricing_mode => 'custom', p_billing_config_override => '{"text": {"inputPer1k": 1}}')$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), 'm', 'openai/gpt-4o', p_pricing_version => 99)$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), 'm', p_model_type => 'chat', p_pricing_mode => 'custom', p_billing_config_override => '{"totalPer1k": 1}', p_pricing_version => 1)$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), 'm', 'openai/gpt-4o', p_billing_config_override => '{"currency": "usd"}')$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), 'm', 'openai/gpt-4o', p_runtime_policy_override => '{"hardStopPolicy": {"enabled": false}}')$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), 'm', 'openai/gpt-4o', p_runtime_policy_override => '{"failoverPolicy": {"hardStopPolicy": {}}}')$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), 'm', 'openai/gpt-4o', p_runtime_policy_key => 'nope')$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), 'm', 'openai/gpt-4o', p_capability_override => '[]')$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), 'm', 'openai/gpt-4o', p_permission_config => '1')$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-main'), 'm', 'openai/gpt-4o', p_enabled => NULL)$$);
-- Raw writes are held to the same rules by the trigger.
SELECT pg_temp.try($$UPDATE aigw.platform_models SET runtime_policy_override = '{"hardStopPolicy": {}}' WHERE model_name = 'gpt-4o'$$);
SELECT pg_temp.try($$UPDATE aigw.platform_models SET pricing_mode = 'custom' WHERE model_name = 'gpt-4o'$$);
SELECT pg_temp.try($$UPDATE aigw.platform_models SET capabilities = '{}', billing_config = '{}' WHERE model_name = 'gpt-4o'$$);
SELECT billing_config->'text' AS still_resolved FROM aigw.platform_models WHERE id = pg_temp.mid('openai-main', 'gpt-4o');
SELECT count(*) AS models_named_m FROM aigw.platform_models WHERE model_name = 'm';

-- update_platform_model: discount, clear discount, pin and unpin, runtime overrides.
SELECT discount_factor, billing_config->'text' AS text
  FROM aigw.update_platform_model(pg_temp.mid('openai-main', 'gpt-4o'), p_discount_factor => 0.9);
SELECT discount_factor, billing_config->'text' AS text
  FROM aigw.update_platform_model(pg_temp.mid('openai-main', 'gpt-4o'), p_clear_discount => true);
SELECT runtime_policy_override, runtime_policy_set_id IS NOT NULL AS has_set
  FROM aigw.update_platform_model(pg_temp.mid('openai-main', 'gpt-4o'),
         p_runtime_policy_override => '{"failoverPolicy": {"maxPlatforms": 2}}', p_runtime_policy_key => 'default-runtime-v1');
SELECT pricing_version, resolved_pricing_version
  FROM aigw.update_platform_model(pg_temp.mid('openai-main', 'gpt-4.1-mini'), p_follow_latest => true);
SELECT pg_temp.try(format($$SELECT aigw.update_platform_model(%L, p_pricing_mode => 'bogus')$$, pg_temp.mid('openai-main', 'gpt-4o')));
SELECT pg_temp.try(format($$SELECT aigw.update_platform_model(%L, p_discount_factor => 0)$$, pg_temp.mid('openai-main', 'gpt-4o')));
SELECT pg_temp.try(format($$SELECT aigw.update_platform_model(%L, p_discount_factor => 0.5, p_clear_discount => true)$$, pg_temp.mid('openai-main', 'gpt-4o')));
SELECT pg_temp.try(format($$SELECT aigw.update_platform_model(%L, p_pricing_version => 1, p_follow_latest => true)$$, pg_temp.mid('openai-main', 'gpt-4o')));
SELECT pg_temp.try(format($$SELECT aigw.update_platform_model(%L, p_pricing_mode => 'inherit')$$, pg_temp.mid('openai-main', 'gpt-4o-mini')));
SELECT pg_temp.try(format($$SELECT aigw.update_platform_model(%L, p_runtime_policy_override => '{"hardStopPolicy": {}}')$$, pg_temp.mid('openai-main', 'gpt-4o')));
SELECT pg_temp.try(format($$SELECT aigw.update_platform_model(%L, p_billing_config_override => '[]')$$, pg_temp.mid('openai-main', 'gpt-4o')));
SELECT pg_temp.try(format($$SELECT aigw.update_platform_model(%L, p_capability_override => '1')$$, pg_temp.mid('openai-main', 'gpt-4o')));
SELECT pg_temp.try(format($$SELECT aigw.update_platform_model(%L, p_permission_config => '1')$$, pg_temp.mid('openai-main', 'gpt-4o')));
SELECT pg_temp.try(format($$SELECT aigw.update_platform_model(%L, p_display_name => '')$$, pg_temp.mid('openai-main', 'gpt-4o')));
SELECT pg_temp.try(format($$SELECT aigw.update_platform_model(%L, p_pricing_version => 42)$$, pg_temp.mid('openai-main', 'gpt-4o')));
SELECT pg_temp.try($$SELECT aigw.update_platform_model('00000000-0000-0000-0000-000000000001', p_enabled => false)$$);

-- Platform lifecycle: update, dynamic priority, disable, exception, enable, copy, delete.
SELECT default_discount_factor, name FROM aigw.update_platform(pg_temp.pid('openai-main'), p_name => 'OpenAI',
                                                             p_default_discount_factor => 0.7);
SELECT model_name, billing_config->'text'->'inputPer1k' AS input FROM aigw.platform_models
 WHERE platform_id = pg_temp.pid('openai-main') AND model_type = 'chat' ORDER BY 1;
SELECT pg_temp.try($$SELECT aigw.update_platform(pg_temp.pid('openai-main'), p_default_discount_factor => -0.1)$$);
SELECT pg_temp.try($$SELECT aigw.update_platform(pg_temp.pid('openai-main'), p_base_url => 'nope')$$);
SELECT pg_temp.try($$SELECT aigw.update_platform(pg_temp.pid('openai-main'), p_default_pricing_mode => 'x')$$);
SELECT pg_temp.try($$SELECT aigw.update_platform(pg_temp.pid('openai-main'), p_config => '[]')$$);
SELECT pg_temp.try($$SELECT aigw.update_platform(pg_temp.pid('openai-main'), p_name => '')$$);
SELECT pg_temp.try($$SELECT aigw.update_platform('00000000-0000-0000-0000-000000000001', p_name => 'x')$$);
SELECT dynamic_priority FROM aigw.set_platform_dynamic_priority(pg_temp.pid('openai-main'), 5);
SELECT pg_temp.try($$SELECT aigw.set_platform_dynamic_priority(pg_temp.pid('openai-main'), NULL)$$);
SELECT dynamic_priority FROM aigw.clear_platform_dynamic_priority(pg_temp.pid('openai-main'));
SELECT status, disabled_reason FROM aigw.disable_platform(pg_temp.pid('openai-main'), 'maintenance');
SELECT pg_temp.try($$SELECT aigw.disable_platform(pg_temp.pid('openai-main'), '')$$);
SELECT pg_temp.try($$SELECT aigw.reset_platform_exception(pg_temp.pid('openai-main'))$$);
UPDATE aigw.integration_platforms SET status = 'exception', disabled_reason = 'auth_error',
       cooldown_until = now() + interval '1 minute' WHERE platform_key = 'openai-main';
SELECT status, disabled_reason, cooldown_until FROM aigw.reset_platform_exception(pg_temp.pid('openai-main'));
SELECT status, disabled_reason FROM aigw.disable_platform(pg_temp.pid('openai-main'));
SELECT status, disabled_reason FROM aigw.enable_platform(pg_temp.pid('openai-main'));
SELECT pg_temp.try($$SELECT aigw.enable_platform('00000000-0000-0000-0000-000000000001')$$);
SELECT pg_temp.try($$SELECT aigw.clear_platform_dynamic_priority('00000000-0000-0000-0000-000000000001')$$);
-- Copy: a disabled twin with the same models and effective prices.
SELECT platform_key, name, status, disabled_reason, default_discount_factor,
       credentials = (SELECT credentials FROM aigw.integration_platforms WHERE platform_key = 'openai-main')
         AS same_sealed_credentials
  FROM aigw.copy_platform(pg_temp.pid('openai-main'), 'openai-backup');
SELECT a.model_name, a.billing_config = b.billing_config AS same_price, a.enabled = b.enabled AS same_enabled
  FROM aigw.platform_models a JOIN aigw.platform_models b USING (model_name, model_type)
 WHERE a.platform_id = pg_temp.pid('openai-main') AND b.platform_id = pg_temp.pid('openai-backup') ORDER BY 1;
SELECT pg_temp.try($$SELECT aigw.copy_platform(pg_temp.pid('openai-main'), 'openai-backup')$$);
SELECT pg_temp.try($$SELECT aigw.copy_platform(pg_temp.pid('openai-main'), 'bad key')$$);
SELECT pg_temp.try($$SELECT aigw.copy_platform('00000000-0000-0000-0000-000000000001', 'x')$$);
-- Snapshots record each change, without credentials.
SELECT version, reason, snapshot ? 'credentials' AS has_secret, snapshot->>'hasCredentials' AS has_credentials,
       jsonb_array_length(snapshot->'models') AS models
  FROM aigw.integration_platform_snapshots WHERE platform_id = pg_temp.pid('openai-main') ORDER BY version;
SELECT version, reason FROM aigw.snapshot_platform(pg_temp.pid('openai-backup'), 'manual');
SELECT pg_temp.try($$SELECT aigw.snapshot_platform(pg_temp.pid('openai-backup'), NULL)$$);
SELECT pg_temp.try($$SELECT aigw.snapshot_platform('00000000-0000-0000-0000-000000000001', 'x')$$);

-- Model groups.
SELECT name, failover_strategy, enabled FROM aigw.create_model_group('coding', 'Coding', 'coding models');
SELECT name, failover_strategy FROM aigw.create_model_group('images', p_failover_strategy => 'weighted');
SELECT pg_temp.try($$SELECT aigw.create_model_group('coding')$$);
SELECT pg_temp.try($$SELECT aigw.create_model_group('bad name')$$);
SELECT pg_temp.try($$SELECT aigw.create_model_group('x', p_failover_strategy => 'random')$$);
SELECT pg_temp.try($$SELECT aigw.create_model_group('x', p_enabled => NULL)$$);
SELECT name, failover_strategy, enabled FROM aigw.update_model_group('coding', p_failover_strategy => 'priority', p_enabled => false);
SELECT pg_temp.try($$SELECT aigw.update_model_group('nothing', 'x')$$);
SELECT pg_temp.try($$SELECT aigw.update_model_group('coding', p_failover_strategy => 'random')$$);
SELECT priority, weight, enabled FROM aigw.add_model_group_member('coding', pg_temp.mid('openai-main', 'gpt-4o'), 1);
SELECT priority, weight FROM aigw.add_model_group_member('coding', pg_temp.mid('simulation', 'sim-chat'), 2, 3);
SELECT pg_temp.try($$SELECT aigw.add_model_group_member('coding', pg_temp.mid('openai-main', 'gpt-4o'))$$);
SELECT pg_temp.try($$SELECT aigw.add_model_group_member('coding', '00000000-0000-0000-0000-000000000001')$$);
SELECT pg_temp.try($$SELECT aigw.add_model_group_member('coding', NULL)$$);
SELECT pg_temp.try($$SELECT aigw.add_model_group_member('nothing', pg_temp.mid('openai-main', 'gpt-4o'))$$);
SELECT pg_temp.try($$SELECT aigw.add_model_group_member('coding', pg_temp.mid('openai-main', 'gpt-4.1'), p_weight => -1)$$);
SELECT pg_temp.try($$SELECT aigw.add_model_group_member('coding', pg_temp.mid('openai-main', 'gpt-4.1'), NULL)$$);
SELECT priority, weight, enabled FROM aigw.update_model_group_member('coding', pg_temp.mid('openai-main', 'gpt-4o'), p_priority => 9, p_enabled => false);
SELECT pg_temp.try($$SELECT aigw.update_model_group_member('coding', pg_temp.mid('openai-main', 'gpt-4.1'), 1)$$);
SELECT pg_temp.try($$SELECT aigw.update_model_group_member('coding', pg_temp.mid('openai-main', 'gpt-4o'), p_weight => -2)$$);
SELECT g.name, pm.model_name, m.priority, m.weight, m.enabled
  FROM aigw.model_group_members m JOIN aigw.model_groups g ON g.id = m.group_id
  JOIN aigw.platform_models pm ON pm.id = m.platform_model_id ORDER BY 1, 3;
SELECT aigw.remove_model_group_member('coding', pg_temp.mid('simulation', 'sim-chat'));
SELECT pg_temp.try($$SELECT aigw.remove_model_group_member('coding', pg_temp.mid('simulation', 'sim-chat'))$$);
-- Removing a platform model removes its memberships.
SELECT aigw.remove_platform_model(pg_temp.mid('openai-main', 'gpt-4o'));
SELECT count(*) AS coding_members FROM aigw.model_group_members m JOIN aigw.model_groups g ON g.id = m.group_id
 WHERE g.name = 'coding';
SELECT pg_temp.try($$SELECT aigw.remove_platform_model('00000000-0000-0000-0000-000000000001')$$);
SELECT aigw.delete_model_group('images');
SELECT pg_temp.try($$SELECT aigw.delete_model_group('images')$$);

-- Soft delete: the platform is gone for the admin API but its rows remain.
SELECT status, disabled_reason, deleted_at IS NOT NULL AS deleted FROM aigw.delete_platform(pg_temp.pid('openai-backup'));
SELECT pg_temp.try($$SELECT aigw.delete_platform(pg_temp.pid('openai-backup'))$$);
SELECT pg_temp.try($$SELECT aigw.enable_platform(pg_temp.pid('openai-backup'))$$);
SELECT pg_temp.try($$SELECT aigw.add_platform_model(pg_temp.pid('openai-backup'), 'x', 'openai/gpt-4o')$$);
SELECT pg_temp.try(format($$SELECT aigw.update_platform_model(%L, p_enabled => false)$$, pg_temp.mid('openai-backup', 'gpt-4.1')));
SELECT pg_temp.try(format($$SELECT aigw.add_model_group_member('coding', %L)$$, pg_temp.mid('openai-backup', 'gpt-4.1')));
SELECT pg_temp.try($$SELECT aigw.create_platform('openai', 'openai-backup', 'Reuse')$$);
SELECT count(*) AS backup_models FROM aigw.platform_models WHERE platform_id = pg_temp.pid('openai-backup');
ROLLBACK;
