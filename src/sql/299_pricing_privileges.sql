-- Pricing and wallet functions move money or read prices for any identity:
-- they are for the extension owner and aigw's own definer-rights entry
-- points, never for PUBLIC (the HTTP routes grant what aigw_front may reach).
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
            WHERE p.pronamespace = 'aigw'::regnamespace
              AND p.proname IN ('estimate_usage', 'compute_billing', 'group_discount_factor', 'compute_estimate',
                                'reconcile_billing', 'model_type_of_kind', 'capabilities_allow', 'permission_allows',
                                'resolve_user_group', 'pricing_candidates', 'price_usage', 'price_task_usage',
                                'estimate_billing', 'pricing_cache_invalidate', 'wallet_account', 'wallet_account_find', 'wallet_lock',
                                'wallet_apply', 'wallet_find', 'wallet_hold', 'wallet_task_hold', 'wallet_settle',
                                'wallet_release', 'wallet_adjust', 'recharge_bonus', 'create_recharge_order',
                                'confirm_recharge_order', 'identity_uses_wallet', 'preauthorize_task', 'settle_task',
                                'settle_locked_task', 'task_pricing_context',
                                'release_task') LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END
$$;
