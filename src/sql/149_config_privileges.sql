-- The configuration functions are for the extension owner and for the extension's own
-- definer-rights entry points (the HTTP entry resolves configuration on a caller's behalf):
-- no EXECUTE for PUBLIC. Writers of the configuration tables are the owner or roles it grants.
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
           WHERE p.pronamespace = 'aigw'::regnamespace
             AND p.proname IN ('json_schema_check_schema', 'json_schema_validate', 'validate_condition',
                               'evaluate_condition', 'merge_config', 'config_check_period',
                               'config_levels_check', 'merge_strategies_check', 'config_types_check',
                               'inheritance_rules_check', 'tier_feature_mappings_check',
                               'unified_config_store_check', 'config_cache_invalidate', 'resolve_config',
                               'explain_config', 'config_cache_stats', 'resolve_gateway_config',
                               'validate_portkey_config', 'validate_portkey_header', 'portkey_config',
                               'identity_config_context', 'request_gateway_config', 'check_model_access',
                               'gateway_request_check', 'saved_routing_config') LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END
$$;
