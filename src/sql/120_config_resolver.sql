-- The resolver (C, src/config.c) and its explanation.

CREATE FUNCTION aigw.resolve_config(config_type text, level text, scope_id text DEFAULT NULL,
                                    context jsonb DEFAULT '{}')
  RETURNS jsonb
  LANGUAGE c STABLE PARALLEL RESTRICTED
  AS 'MODULE_PATHNAME', 'aigw_resolve_config';
COMMENT ON FUNCTION aigw.resolve_config(text, text, text, jsonb) IS
  'resolves a config type for a level and scope: type default, global, tier, tenant, user group, user, API key';

CREATE FUNCTION aigw.explain_config(config_type text, level text, scope_id text DEFAULT NULL,
                                    context jsonb DEFAULT '{}')
  RETURNS TABLE (step integer, source text, level_name text, scope_id text, merge_strategy text,
                 contributed jsonb, result jsonb, note text)
  LANGUAGE c STABLE PARALLEL RESTRICTED ROWS 8
  AS 'MODULE_PATHNAME', 'aigw_explain_config';
COMMENT ON FUNCTION aigw.explain_config(text, text, text, jsonb) IS
  'the layers of resolve_config: what each level or tier contributed, with which strategy, and the result so far';

CREATE FUNCTION aigw.config_cache_stats(OUT entries bigint, OUT hits bigint, OUT misses bigint,
                                        OUT snapshot_loads bigint)
  LANGUAGE c VOLATILE
  AS 'MODULE_PATHNAME', 'aigw_config_cache_stats';
COMMENT ON FUNCTION aigw.config_cache_stats() IS 'this backend''s configuration resolver cache counters';

-- Resolves every config type the gateway reads, as one object keyed by type name.
CREATE FUNCTION aigw.resolve_gateway_config(level text, scope_id text DEFAULT NULL,
                                            context jsonb DEFAULT '{}')
  RETURNS jsonb
  LANGUAGE sql STABLE PARALLEL RESTRICTED
  SET search_path = aigw, pg_catalog
BEGIN ATOMIC
  SELECT jsonb_object_agg(t, aigw.resolve_config(t, level, scope_id, context))
  FROM unnest(ARRAY['gateway_routing', 'rate_limits', 'cache_strategy', 'hooks', 'billing_rules',
                    'access_control', 'feature_flags']) AS t;
END;
COMMENT ON FUNCTION aigw.resolve_gateway_config(text, text, jsonb) IS
  'the resolved value of every config type the gateway reads, keyed by type name';
