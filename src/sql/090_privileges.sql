-- Privileges and backups of the data model.

-- The data model's functions are for the extension owner and for the
-- extension's own definer-rights entry points: no EXECUTE for PUBLIC.
-- (Files of later ranges grant what aigw_front may call.)
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
            WHERE p.pronamespace = 'aigw'::regnamespace AND p.proname <> 'version' LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END
$$;

-- pg_dump keeps the rows of every data-model table (extension member tables
-- are otherwise left out of dumps). Seeded rows have stable ids and the
-- catalog tables merge a restored row into the seeded one with the same id
-- (040_resolution.sql), so a dump restores onto a fresh CREATE EXTENSION.
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY[
    'gateway_user_groups', 'gateway_tenants', 'gateway_users', 'gateway_user_group_memberships',
    'gateway_tenant_invitations', 'gateway_api_keys', 'gateway_wallet_accounts', 'gateway_wallet_transactions',
    'gateway_recharge_orders', 'gateway_tasks', 'gateway_task_attempts', 'gateway_task_events',
    'gateway_task_callback_outbox', 'settlement_outbox', 'gateway_upload_assets', 'gateway_retry_policies',
    'gateway_runner_policies', 'model_runtime_policy_sets', 'model_catalog_providers', 'base_model_catalog',
    'base_model_pricing_versions', 'model_pricing_rules', 'integration_platforms', 'platform_models',
    'runtime_client_states', 'integration_platform_api_configs', 'integration_platform_snapshots',
    'model_groups', 'model_group_members'] LOOP
    -- One call per statement: each call updates the same pg_extension row.
    PERFORM pg_catalog.pg_extension_config_dump(('aigw.' || t)::regclass, '');
  END LOOP;
END
$$;
