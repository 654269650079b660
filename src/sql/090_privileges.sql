-- Privileges and backups of the data model.

-- The data model's functions are for the extension owner and for the
-- extension's own SECURITY DEFINER entry points: no EXECUTE for PUBLIC.
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

-- pg_dump keeps the rows of these tables (extension member tables are
-- otherwise left out of dumps). They hold no seed rows and have no foreign
-- keys to the seeded catalog, so a dump restores into a fresh CREATE
-- EXTENSION without conflicts. The seeded catalog tables are not marked; see
-- docs/data-model.md ("Backups").
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY[
    'gateway_user_groups', 'gateway_tenants', 'gateway_users', 'gateway_user_group_memberships',
    'gateway_tenant_invitations', 'gateway_api_keys', 'gateway_wallet_accounts', 'gateway_wallet_transactions',
    'gateway_recharge_orders', 'gateway_tasks', 'gateway_task_attempts', 'gateway_task_events',
    'gateway_task_callback_outbox', 'settlement_outbox', 'gateway_upload_assets', 'gateway_retry_policies'] LOOP
    -- One call per statement: each call updates the same pg_extension row.
    PERFORM pg_catalog.pg_extension_config_dump(('aigw.' || t)::regclass, '');
  END LOOP;
END
$$;
