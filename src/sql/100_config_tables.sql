-- Configuration system (seed 004): levels, config types with a JSON schema and a merge
-- strategy, inheritance rules, tiers and their feature mappings, and the unified store.
--
-- Scope ids are stored as text and carry no foreign key to gateway_tenants, gateway_user_groups,
-- gateway_users or gateway_api_keys: in server-main mode the scopes are identifiers owned by an
-- external system (they may never exist as rows here), and a config row may be written before the
-- entity it configures is synchronised.

-- The C functions behind the resolver, the validators and the Portkey interface.
CREATE FUNCTION aigw.json_schema_check_schema(schema jsonb) RETURNS void
  LANGUAGE c IMMUTABLE PARALLEL SAFE STRICT
  AS 'MODULE_PATHNAME', 'aigw_json_schema_check_schema';
COMMENT ON FUNCTION aigw.json_schema_check_schema(jsonb) IS
  'raises 22023 unless the argument is a JSON schema aigw can enforce';

CREATE FUNCTION aigw.json_schema_validate(value jsonb, schema jsonb, what text DEFAULT 'value')
  RETURNS void
  LANGUAGE c IMMUTABLE PARALLEL SAFE STRICT
  AS 'MODULE_PATHNAME', 'aigw_json_schema_validate';
COMMENT ON FUNCTION aigw.json_schema_validate(jsonb, jsonb, text) IS
  'raises 22023 naming the first path at which value violates schema';

CREATE FUNCTION aigw.validate_condition(condition jsonb) RETURNS void
  LANGUAGE c IMMUTABLE PARALLEL SAFE STRICT
  AS 'MODULE_PATHNAME', 'aigw_validate_condition';
COMMENT ON FUNCTION aigw.validate_condition(jsonb) IS
  'raises 22023 unless condition is a well-formed condition expression';

CREATE FUNCTION aigw.evaluate_condition(condition jsonb, context jsonb) RETURNS boolean
  LANGUAGE c IMMUTABLE PARALLEL SAFE STRICT
  AS 'MODULE_PATHNAME', 'aigw_evaluate_condition';
COMMENT ON FUNCTION aigw.evaluate_condition(jsonb, jsonb) IS
  'evaluates a condition expression (equals, in, not_in, greater_than, less_than, exists, all, any) against a context';

CREATE FUNCTION aigw.merge_config(parent jsonb, child jsonb, strategy text,
                                  array_keys text[] DEFAULT '{}')
  RETURNS jsonb
  LANGUAGE c IMMUTABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_merge_config';
COMMENT ON FUNCTION aigw.merge_config(jsonb, jsonb, text, text[]) IS
  'merges child over parent with a built-in strategy: override, deep_merge, array_append, array_merge';

-- Levels: global -> tenant -> user_group -> user -> api_key.
CREATE TABLE aigw.config_levels (
    level_name        text PRIMARY KEY,
    display_name      text NOT NULL,
    parent_level      text REFERENCES aigw.config_levels (level_name),
    inherit_priority  integer NOT NULL,
    -- key of the resolution context that carries this level's scope id (NULL: unscoped level)
    scope_context_key text,
    description       text,
    is_system_level   boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (parent_level IS DISTINCT FROM level_name)
);
COMMENT ON TABLE aigw.config_levels IS 'configuration levels and their parent chain (seed 004)';
COMMENT ON COLUMN aigw.config_levels.scope_context_key IS
  'context key holding the scope id of this level when it is an ancestor of the resolved level';

-- Merge strategies: four built-ins, plus custom ones backed by a function (parent, child, context).
CREATE TABLE aigw.merge_strategies (
    strategy_name           text PRIMARY KEY,
    description             text NOT NULL,
    implementation_function text,
    is_builtin              boolean NOT NULL DEFAULT false,
    created_at              timestamptz NOT NULL DEFAULT now(),
    CHECK (is_builtin = (implementation_function IS NULL))
);
COMMENT ON TABLE aigw.merge_strategies IS
  'merge strategies; a custom one names a function f(parent jsonb, child jsonb, context jsonb) RETURNS jsonb';

CREATE TABLE aigw.config_types (
    type_name                  text PRIMARY KEY,
    display_name               text NOT NULL,
    value_schema               jsonb NOT NULL,
    default_value              jsonb,
    merge_strategy             text NOT NULL REFERENCES aigw.merge_strategies (strategy_name),
    -- keys (dotted paths) whose arrays array_append / array_merge combine
    array_keys                 text[] NOT NULL DEFAULT '{}',
    description                text,
    is_system_type             boolean NOT NULL DEFAULT false,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    supports_tier_entitlements boolean NOT NULL DEFAULT true
);
COMMENT ON TABLE aigw.config_types IS 'configurable items: JSON schema, default value, merge strategy (seed 004)';

CREATE TABLE aigw.inheritance_rules (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    parent_level           text NOT NULL REFERENCES aigw.config_levels (level_name),
    child_level            text NOT NULL REFERENCES aigw.config_levels (level_name),
    config_type            text NOT NULL REFERENCES aigw.config_types (type_name) ON DELETE CASCADE,
    is_inheritance_enabled boolean NOT NULL DEFAULT true,
    custom_merge_strategy  text REFERENCES aigw.merge_strategies (strategy_name),
    conflict_resolution    text NOT NULL DEFAULT 'child_wins'
                           CHECK (conflict_resolution IN ('child_wins', 'parent_wins', 'merge')),
    condition_expression   jsonb,
    condition_description  text,
    is_active              boolean NOT NULL DEFAULT true,
    effective_from         timestamptz NOT NULL DEFAULT now(),
    effective_to           timestamptz,
    UNIQUE (parent_level, child_level, config_type)
);
COMMENT ON TABLE aigw.inheritance_rules IS
  'whether child_level inherits config_type from parent_level, and how (seed 004)';

CREATE TABLE aigw.tier_definitions (
    tier_name     text PRIMARY KEY,
    display_name  text NOT NULL,
    description   text,
    pricing_model text NOT NULL DEFAULT 'monthly' CHECK (pricing_model IN ('monthly', 'pay_as_you_go', 'custom')),
    base_price    numeric(10,4),
    currency      text NOT NULL DEFAULT 'CNY',
    is_public     boolean NOT NULL DEFAULT true,
    is_active     boolean NOT NULL DEFAULT true,
    display_order integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE aigw.tier_definitions IS 'tiers (plans) (seed 004)';

CREATE TABLE aigw.tier_feature_mappings (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tier_name             text NOT NULL REFERENCES aigw.tier_definitions (tier_name) ON DELETE CASCADE,
    config_type           text NOT NULL REFERENCES aigw.config_types (type_name) ON DELETE CASCADE,
    feature_value         jsonb NOT NULL,
    is_default_for_tier   boolean NOT NULL DEFAULT true,
    condition_expression  jsonb,
    condition_description text,
    is_active             boolean NOT NULL DEFAULT true,
    effective_from        timestamptz NOT NULL DEFAULT now(),
    effective_to          timestamptz,
    UNIQUE (tier_name, config_type)
);
COMMENT ON TABLE aigw.tier_feature_mappings IS 'the value of a config type a tier entitles to (seed 004)';

CREATE TABLE aigw.unified_config_store (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    config_type       text NOT NULL REFERENCES aigw.config_types (type_name) ON DELETE CASCADE,
    level_name        text NOT NULL REFERENCES aigw.config_levels (level_name),
    scope_id          text,
    config_value      jsonb NOT NULL,
    version           integer NOT NULL DEFAULT 1,
    version_notes     text,
    effective_from    timestamptz NOT NULL DEFAULT now(),
    effective_to      timestamptz,
    applied_tier      text REFERENCES aigw.tier_definitions (tier_name),
    condition_context jsonb,
    created_by        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE aigw.unified_config_store IS 'every configured value, by type, level and scope (seed 004)';
COMMENT ON COLUMN aigw.unified_config_store.scope_id IS
  'id of the tenant, user group, user or API key (text, no foreign key: may be an external id); NULL at global';
CREATE INDEX unified_config_store_lookup
  ON aigw.unified_config_store (config_type, level_name, (coalesce(scope_id, '')));
CREATE INDEX unified_config_store_tier ON aigw.unified_config_store (applied_tier);
CREATE INDEX unified_config_store_effective ON aigw.unified_config_store (effective_from, effective_to);
