-- Write-time checks of the configuration tables: a bad row is rejected with SQLSTATE 22023 and
-- never reaches the resolver. Statement triggers flush every backend's resolver cache on commit.

-- Raises 22023 when an effective period is empty or reversed.
CREATE FUNCTION aigw.config_check_period(what text, p_from timestamptz, p_to timestamptz) RETURNS void
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  IF p_to IS NOT NULL AND p_to <= p_from THEN
    RAISE EXCEPTION '%: effective_to must be later than effective_from', what
      USING ERRCODE = '22023', DETAIL = format('effective_from %s, effective_to %s', p_from, p_to);
  END IF;
END
$$;

-- config_levels: the parent chain must stay acyclic.
CREATE FUNCTION aigw.config_levels_check() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  cur text := NEW.parent_level;
  hops integer := 0;
BEGIN
  WHILE cur IS NOT NULL LOOP
    IF cur = NEW.level_name THEN
      RAISE EXCEPTION 'config level "%": parent "%" would make the level chain cyclic',
        NEW.level_name, NEW.parent_level USING ERRCODE = '22023';
    END IF;
    hops := hops + 1;
    EXIT WHEN hops > 1000;
    SELECT parent_level INTO cur FROM aigw.config_levels WHERE level_name = cur;
  END LOOP;
  RETURN NEW;
END
$$;
CREATE TRIGGER config_levels_check BEFORE INSERT OR UPDATE ON aigw.config_levels
  FOR EACH ROW EXECUTE FUNCTION aigw.config_levels_check();

-- merge_strategies: a custom strategy names an existing function (jsonb, jsonb, jsonb) RETURNS jsonb.
CREATE FUNCTION aigw.merge_strategies_check() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  fn regprocedure;
BEGIN
  IF NEW.is_builtin THEN
    IF NEW.strategy_name NOT IN ('override', 'deep_merge', 'array_append', 'array_merge') THEN
      RAISE EXCEPTION 'merge strategy "%": only override, deep_merge, array_append and array_merge are built in',
        NEW.strategy_name USING ERRCODE = '22023';
    END IF;
    RETURN NEW;
  END IF;
  fn := to_regprocedure(NEW.implementation_function || '(jsonb, jsonb, jsonb)');
  IF fn IS NULL THEN
    RAISE EXCEPTION 'merge strategy "%": no function %(jsonb, jsonb, jsonb)',
      NEW.strategy_name, NEW.implementation_function USING ERRCODE = '22023';
  END IF;
  IF (SELECT prorettype FROM pg_proc WHERE oid = fn) <> 'jsonb'::regtype THEN
    RAISE EXCEPTION 'merge strategy "%": % must return jsonb', NEW.strategy_name, fn
      USING ERRCODE = '22023';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER merge_strategies_check BEFORE INSERT OR UPDATE ON aigw.merge_strategies
  FOR EACH ROW EXECUTE FUNCTION aigw.merge_strategies_check();

-- config_types: the schema is enforceable, the default conforms, and a schema change keeps every
-- stored value of the type valid.
CREATE FUNCTION aigw.config_types_check() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  r record;
BEGIN
  PERFORM aigw.json_schema_check_schema(NEW.value_schema);
  IF NEW.default_value IS NOT NULL THEN
    PERFORM aigw.json_schema_validate(NEW.default_value, NEW.value_schema,
                                      format('default_value of config type "%s"', NEW.type_name));
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.value_schema IS DISTINCT FROM OLD.value_schema THEN
    FOR r IN SELECT level_name, scope_id, config_value FROM aigw.unified_config_store
             WHERE config_type = NEW.type_name LOOP
      PERFORM aigw.json_schema_validate(r.config_value, NEW.value_schema,
                                        format('stored %s config of type "%s"%s', r.level_name, NEW.type_name,
                                               coalesce(format(' for scope %s', r.scope_id), '')));
    END LOOP;
    FOR r IN SELECT tier_name, feature_value FROM aigw.tier_feature_mappings
             WHERE config_type = NEW.type_name LOOP
      PERFORM aigw.json_schema_validate(r.feature_value, NEW.value_schema,
                                        format('tier "%s" value of type "%s"', r.tier_name, NEW.type_name));
    END LOOP;
  END IF;
  IF NOT NEW.supports_tier_entitlements
     AND EXISTS (SELECT 1 FROM aigw.tier_feature_mappings WHERE config_type = NEW.type_name) THEN
    RAISE EXCEPTION 'config type "%" has tier feature mappings and must keep supporting tier entitlements',
      NEW.type_name USING ERRCODE = '22023';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER config_types_check BEFORE INSERT OR UPDATE ON aigw.config_types
  FOR EACH ROW EXECUTE FUNCTION aigw.config_types_check();

-- inheritance_rules: well-formed condition and period, and no cycle among the rules of a type.
CREATE FUNCTION aigw.inheritance_rules_check() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  cyclic boolean;
BEGIN
  IF NEW.condition_expression IS NOT NULL THEN
    PERFORM aigw.validate_condition(NEW.condition_expression);
  END IF;
  PERFORM aigw.config_check_period('inheritance rule', NEW.effective_from, NEW.effective_to);
  IF NEW.parent_level = NEW.child_level THEN
    RAISE EXCEPTION 'inheritance rule for "%": level "%" cannot inherit from itself',
      NEW.config_type, NEW.child_level USING ERRCODE = '22023';
  END IF;
  -- A cycle exists when the new parent is already reachable downwards from the new child.
  WITH RECURSIVE down(level_name, depth) AS (
      SELECT NEW.child_level, 0
    UNION
      SELECT r.child_level, d.depth + 1
      FROM down d
      JOIN aigw.inheritance_rules r ON r.parent_level = d.level_name
      WHERE r.config_type = NEW.config_type AND r.id <> NEW.id AND d.depth < 1000
  )
  SELECT EXISTS (SELECT 1 FROM down WHERE level_name = NEW.parent_level) INTO cyclic;
  IF cyclic THEN
    RAISE EXCEPTION 'inheritance rule % -> % for "%" would create an inheritance cycle',
      NEW.parent_level, NEW.child_level, NEW.config_type USING ERRCODE = '22023';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER inheritance_rules_check BEFORE INSERT OR UPDATE ON aigw.inheritance_rules
  FOR EACH ROW EXECUTE FUNCTION aigw.inheritance_rules_check();

-- tier_feature_mappings: the type supports tiers, the value conforms, condition and period are sound.
CREATE FUNCTION aigw.tier_feature_mappings_check() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  t aigw.config_types;
BEGIN
  SELECT * INTO t FROM aigw.config_types WHERE type_name = NEW.config_type;
  IF FOUND AND NOT t.supports_tier_entitlements THEN
    RAISE EXCEPTION 'config type "%" does not support tier entitlements', NEW.config_type
      USING ERRCODE = '22023';
  END IF;
  IF FOUND THEN
    PERFORM aigw.json_schema_validate(NEW.feature_value, t.value_schema,
                                      format('tier "%s" value of type "%s"', NEW.tier_name, NEW.config_type));
  END IF;
  IF NEW.condition_expression IS NOT NULL THEN
    PERFORM aigw.validate_condition(NEW.condition_expression);
  END IF;
  PERFORM aigw.config_check_period('tier feature mapping', NEW.effective_from, NEW.effective_to);
  RETURN NEW;
END
$$;
CREATE TRIGGER tier_feature_mappings_check BEFORE INSERT OR UPDATE ON aigw.tier_feature_mappings
  FOR EACH ROW EXECUTE FUNCTION aigw.tier_feature_mappings_check();

-- unified_config_store: scope matches the level, the value conforms, tier, condition and period are sound.
CREATE FUNCTION aigw.unified_config_store_check() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  t aigw.config_types;
  scoped boolean;
BEGIN
  SELECT scope_context_key IS NOT NULL INTO scoped FROM aigw.config_levels WHERE level_name = NEW.level_name;
  IF FOUND THEN
    IF scoped AND (NEW.scope_id IS NULL OR NEW.scope_id = '') THEN
      RAISE EXCEPTION 'config at level "%" needs a scope_id', NEW.level_name USING ERRCODE = '22023';
    ELSIF NOT scoped AND NEW.scope_id IS NOT NULL THEN
      RAISE EXCEPTION 'config at level "%" takes no scope_id', NEW.level_name USING ERRCODE = '22023';
    END IF;
  END IF;
  SELECT * INTO t FROM aigw.config_types WHERE type_name = NEW.config_type;
  IF FOUND THEN
    PERFORM aigw.json_schema_validate(NEW.config_value, t.value_schema,
                                      format('config value of type "%s"', NEW.config_type));
    IF NEW.applied_tier IS NOT NULL AND NOT t.supports_tier_entitlements THEN
      RAISE EXCEPTION 'config type "%" does not support tier entitlements; applied_tier must be NULL',
        NEW.config_type USING ERRCODE = '22023';
    END IF;
  END IF;
  IF NEW.condition_context IS NOT NULL THEN
    PERFORM aigw.validate_condition(NEW.condition_context);
  END IF;
  PERFORM aigw.config_check_period('config', NEW.effective_from, NEW.effective_to);
  IF TG_OP = 'UPDATE' THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER unified_config_store_check BEFORE INSERT OR UPDATE ON aigw.unified_config_store
  FOR EACH ROW EXECUTE FUNCTION aigw.unified_config_store_check();

-- Any change to a configuration table flushes the resolver cache of every backend at commit:
-- the trigger registers a relcache invalidation of an empty signal table, delivered through the
-- shared invalidation queue. Signalling through these tables rather than the configuration tables
-- themselves leaves their relcache entries and the resolver's prepared plans valid.
CREATE TABLE aigw.config_cache_meta_signal ();
CREATE TABLE aigw.config_cache_store_signal ();
COMMENT ON TABLE aigw.config_cache_meta_signal IS
  'never holds rows: its relcache invalidation tells every backend that levels, types, rules or tiers changed';
COMMENT ON TABLE aigw.config_cache_store_signal IS
  'never holds rows: its relcache invalidation tells every backend that the unified config store changed';

CREATE FUNCTION aigw.config_cache_invalidate() RETURNS trigger
  LANGUAGE c
  AS 'MODULE_PATHNAME', 'aigw_config_cache_invalidate';

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['config_levels', 'merge_strategies', 'config_types', 'inheritance_rules',
                           'tier_definitions', 'tier_feature_mappings', 'unified_config_store'] LOOP
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON aigw.%I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION aigw.config_cache_invalidate(%L)',
                   t || '_invalidate', t, CASE WHEN t = 'unified_config_store' THEN 'store' ELSE 'meta' END);
  END LOOP;
END
$$;
