-- Data model, part 1: runner and runtime policies, the base model catalog,
-- pricing rules, platforms and platform models (seed 000, seed 003 §7.1, §7.2,
-- §7.9.1-§7.9.3, §7.9.13, §7.9.14). Derived columns of platform_models are
-- kept current by the triggers of 040_resolution.sql.

-- The id of a seeded row: stable across installs, so that a pg_dump of the
-- catalog restores onto the rows CREATE EXTENSION seeds (see 040_resolution.sql).
CREATE FUNCTION aigw.seed_id(kind text, key text) RETURNS uuid
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  SET search_path = aigw, pg_catalog
  RETURN md5('aigw-seed:' || kind || ':' || key)::uuid;

-- Seed 000: the global runner policy (failover, hard stop, priority demotion).
CREATE TABLE aigw.gateway_runner_policies (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  policy_key text NOT NULL UNIQUE,
  name text NOT NULL,
  description text,
  failover_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  hard_stop_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  priority_demote_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  status text NOT NULL DEFAULT 'active',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE aigw.gateway_runner_policies IS
  'seed 000: global runner policies; a model runtime policy may override failoverPolicy, never hardStopPolicy';

INSERT INTO aigw.gateway_runner_policies
  (id, policy_key, name, description, failover_policy, hard_stop_policy, priority_demote_policy, metadata, status)
VALUES (
  aigw.seed_id('runner_policy', 'default-runner-v1'),
  'default-runner-v1',
  '默认全局调度策略',
  '控制多个候选平台之间的故障切换;模型运行策略只可覆盖 failoverPolicy,不能覆盖 hardStopPolicy。',
  '{
    "enabled": true,
    "maxPlatforms": 99,
    "maxDurationSeconds": 600,
    "allowCategories": ["network", "timeout", "stream_error", "rate_limit", "provider_5xx",
                        "provider_overloaded", "auth_error"],
    "denyCategories": ["request_error", "unsupported_model", "user_permission", "insufficient_balance"],
    "allowCodes": ["auth_failed", "invalid_api_key", "missing_credentials"],
    "allowKeywords": ["timeout", "network", "rate_limit", "overloaded", "temporarily_unavailable",
                      "server_error", "auth_failed", "invalid_api_key", "missing_credentials",
                      "unauthorized", "forbidden", "429", "5xx"],
    "denyKeywords": ["invalid_parameter", "missing required", "bad request"],
    "allowStatusCodes": [401, 403, 408, 429, 500, 502, 503, 504],
    "denyStatusCodes": [],
    "actions": {"auth_error": "disable_and_next", "rate_limit": "cooldown_and_next",
                "provider_5xx": "next", "request_error": "stop"}
  }'::jsonb,
  '{
    "enabled": true,
    "categories": ["request_error", "unsupported_model", "user_permission", "insufficient_balance"],
    "codes": ["bad_request", "invalid_request", "invalid_parameter", "missing_required",
              "unsupported_kind", "unsupported_model", "insufficient_balance", "permission_denied"],
    "statusCodes": [],
    "keywords": ["invalid_parameter", "missing required", "bad request", "insufficient balance"]
  }'::jsonb,
  '{
    "enabled": true,
    "demoteStep": 100,
    "categories": ["network", "timeout", "stream_error", "rate_limit", "provider_5xx", "provider_overloaded"],
    "codes": ["network", "timeout", "stream_read_error", "rate_limit", "server_error", "overloaded"],
    "statusCodes": [408, 429, 500, 502, 503, 504],
    "keywords": ["timeout", "network", "rate_limit", "overloaded", "temporarily_unavailable",
                 "server_error", "429", "5xx"]
  }'::jsonb,
  '{"seed": "0026_runner_policies"}'::jsonb,
  'active');

-- Runtime policy sets: per-model defaults for retry, rate limits, auto-disable
-- and demotion keywords, referenced by platforms and platform models.
CREATE TABLE aigw.model_runtime_policy_sets (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  policy_key text NOT NULL UNIQUE,
  name text NOT NULL,
  description text,
  retry_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  rate_limit_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  auto_disable_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  priority_demote_keywords jsonb NOT NULL DEFAULT '[]'::jsonb,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  status text NOT NULL DEFAULT 'active',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT model_runtime_policy_sets_status_check CHECK (status IN ('active', 'disabled')),
  CONSTRAINT model_runtime_policy_sets_keywords_check CHECK (jsonb_typeof(priority_demote_keywords) = 'array')
);

INSERT INTO aigw.model_runtime_policy_sets
  (id, policy_key, name, description, retry_policy, rate_limit_policy, auto_disable_policy,
   priority_demote_keywords, metadata)
VALUES (
  aigw.seed_id('runtime_policy_set', 'default-runtime-v1'),
  'default-runtime-v1',
  'Default model runtime policy',
  '默认包含 TPM/RPM/并发、平台内调用重试、自动禁用和优先级降级关键词。',
  '{
    "enabled": true,
    "maxAttempts": 2,
    "backoffMs": 500,
    "backoffMultiplier": 2,
    "maxBackoffMs": 5000,
    "retryOnCategories": ["network", "timeout", "provider_5xx", "provider_overloaded"],
    "retryOnStatusCodes": [408, 500, 502, 503, 504]
  }'::jsonb,
  '{
    "rules": [
      {"metric": "tpm_total", "limit": 90000, "windowSeconds": 60, "consume": "reserve_then_reconcile"},
      {"metric": "rpm", "limit": 600, "windowSeconds": 60, "consume": "fixed_window"},
      {"metric": "concurrent", "limit": 20, "leaseTtlSeconds": 900},
      {"metric": "queue_size", "limit": 1000}
    ]
  }'::jsonb,
  '{
    "enabled": true,
    "categories": ["auth_error"],
    "codes": ["auth_failed", "invalid_api_key", "missing_credentials", "account_deactivated"],
    "statusCodes": [401, 403],
    "keywords": ["invalid_api_key", "incorrect api key", "account_deactivated", "insufficient_quota",
                 "billing_hard_limit_reached"],
    "consecutiveFailures": 3,
    "cooldownSeconds": 300
  }'::jsonb,
  '["timeout", "network", "rate_limit", "overloaded", "temporarily_unavailable", "server_error", "429", "5xx"]'::jsonb,
  '{"seed": "default-runtime-v1"}'::jsonb);

-- §7.9.1: base providers.
CREATE TABLE aigw.model_catalog_providers (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  provider_key text NOT NULL,
  display_name text NOT NULL,
  provider_type text NOT NULL,
  capability_schema jsonb NOT NULL DEFAULT '{}'::jsonb,
  default_rate_limit_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  status text NOT NULL DEFAULT 'active',
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uniq_model_catalog_provider_key UNIQUE (provider_key),
  CONSTRAINT model_catalog_providers_id_key UNIQUE (id, provider_key),
  CONSTRAINT model_catalog_providers_type_check CHECK (provider_type IN
    ('openai_compatible', 'anthropic', 'gemini', 'simulation', 'workflow_app', 'image_vendor',
     'video_vendor', 'audio_vendor')),
  CONSTRAINT model_catalog_providers_status_check CHECK (status IN ('active', 'deprecated', 'hidden'))
);
CREATE INDEX idx_model_catalog_provider_status ON aigw.model_catalog_providers (status);

-- §7.9.2: base models, the fallback for every platform model's capabilities and price.
CREATE TABLE aigw.base_model_catalog (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  provider_id uuid NOT NULL,
  provider_key text NOT NULL,
  canonical_model_key text NOT NULL,
  provider_model_name text NOT NULL,
  model_type text NOT NULL,
  display_name text NOT NULL,
  capabilities jsonb NOT NULL DEFAULT '{}'::jsonb,
  base_billing_config jsonb NOT NULL DEFAULT '{}'::jsonb,
  default_rate_limit_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  pricing_version int NOT NULL DEFAULT 1,
  status text NOT NULL DEFAULT 'active',
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uniq_base_model_catalog_key UNIQUE (canonical_model_key),
  CONSTRAINT base_model_catalog_provider_fkey FOREIGN KEY (provider_id, provider_key)
    REFERENCES aigw.model_catalog_providers (id, provider_key) ON UPDATE CASCADE,
  CONSTRAINT base_model_catalog_type_check CHECK (model_type IN
    ('chat', 'image', 'video', 'audio', 'embedding', 'music', 'digital_human', 'model_3d')),
  CONSTRAINT base_model_catalog_status_check CHECK (status IN ('active', 'deprecated', 'hidden')),
  CONSTRAINT base_model_catalog_version_check CHECK (pricing_version >= 1),
  CONSTRAINT base_model_catalog_capabilities_check CHECK (jsonb_typeof(capabilities) = 'object'),
  CONSTRAINT base_model_catalog_billing_check CHECK (jsonb_typeof(base_billing_config) = 'object')
);
CREATE INDEX idx_base_model_catalog_provider ON aigw.base_model_catalog (provider_key, model_type, status);
CREATE INDEX idx_base_model_catalog_capabilities ON aigw.base_model_catalog USING gin (capabilities);

-- Every base price a base model has had, so platform models can pin one (§9.4).
CREATE TABLE aigw.base_model_pricing_versions (
  base_model_id uuid NOT NULL REFERENCES aigw.base_model_catalog (id) ON DELETE CASCADE,
  pricing_version int NOT NULL,
  base_billing_config jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (base_model_id, pricing_version)
);

-- §7.9.3: versioned, itemised price rules. Applying a rule writes the price
-- into the configuration it targets (see aigw.add_pricing_rule).
CREATE TABLE aigw.model_pricing_rules (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  scope_type text NOT NULL,
  scope_id uuid,
  resource_type text NOT NULL,
  unit text NOT NULL,
  base_price numeric NOT NULL,
  currency text NOT NULL DEFAULT 'resource',
  base_weight jsonb NOT NULL DEFAULT '{}'::jsonb,
  dynamic_weight jsonb NOT NULL DEFAULT '{}'::jsonb,
  effective_from timestamptz,
  effective_to timestamptz,
  pricing_version int,
  applied_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT model_pricing_rules_scope_check CHECK (scope_type IN ('base_model', 'platform', 'platform_model')),
  CONSTRAINT model_pricing_rules_resource_check CHECK (resource_type IN
    ('text_input', 'text_output', 'text_cached_input', 'text_total', 'embedding', 'image', 'video',
     'audio', 'music', 'digital_human', 'model')),
  CONSTRAINT model_pricing_rules_unit_check CHECK (unit IN
    ('1k_tokens', 'image', '5s', 'second', 'character_1k', 'item')),
  CONSTRAINT model_pricing_rules_currency_check CHECK (currency IN ('resource', 'credit', 'cny', 'usd')),
  CONSTRAINT model_pricing_rules_price_check CHECK (base_price >= 0),
  CONSTRAINT model_pricing_rules_period_check CHECK (effective_to IS NULL OR effective_from IS NULL
                                                     OR effective_to >= effective_from)
);
CREATE INDEX idx_model_pricing_scope ON aigw.model_pricing_rules (scope_type, scope_id, resource_type);
CREATE INDEX idx_model_pricing_effective ON aigw.model_pricing_rules (effective_from, effective_to);

-- §7.1, §7.9.13: platform instances. credentials hold ciphertext only.
CREATE TABLE aigw.integration_platforms (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  provider text NOT NULL REFERENCES aigw.model_catalog_providers (provider_key) ON UPDATE CASCADE,
  platform_key text NOT NULL UNIQUE,
  name text NOT NULL,
  base_url text,
  auth_type text NOT NULL DEFAULT 'bearer',
  credentials jsonb NOT NULL DEFAULT '{}'::jsonb,
  config jsonb NOT NULL DEFAULT '{}'::jsonb,
  visibility_scope text NOT NULL DEFAULT 'global',
  tenant_id text,
  tenant_key text,
  default_pricing_mode text NOT NULL DEFAULT 'inherit_discount',
  default_discount_factor numeric NOT NULL DEFAULT 1,
  retry_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  rate_limit_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  runtime_policy_set_id uuid REFERENCES aigw.model_runtime_policy_sets (id),
  priority int NOT NULL DEFAULT 100,
  dynamic_priority int,
  status text NOT NULL DEFAULT 'enabled',
  disabled_reason text,
  cooldown_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  CONSTRAINT integration_platforms_auth_type_check CHECK (auth_type IN ('bearer', 'api_key', 'basic', 'custom', 'none')),
  CONSTRAINT integration_platforms_scope_check CHECK (visibility_scope IN ('global', 'tenant', 'private')),
  CONSTRAINT integration_platforms_tenant_check CHECK (visibility_scope = 'global'
                                                      OR tenant_id IS NOT NULL OR tenant_key IS NOT NULL),
  CONSTRAINT integration_platforms_pricing_mode_check CHECK (default_pricing_mode IN ('inherit', 'inherit_discount', 'custom')),
  CONSTRAINT integration_platforms_discount_check CHECK (default_discount_factor > 0),
  CONSTRAINT integration_platforms_status_check CHECK (status IN ('enabled', 'disabled', 'exception')),
  CONSTRAINT integration_platforms_key_check CHECK (platform_key ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]*$')
);
CREATE INDEX idx_integration_platforms_provider_status ON aigw.integration_platforms (provider, status);
CREATE INDEX idx_integration_platforms_status_priority ON aigw.integration_platforms (status, priority, dynamic_priority);
CREATE INDEX idx_integration_platforms_cooldown ON aigw.integration_platforms (cooldown_until);
CREATE INDEX idx_integration_platforms_tenant_scope
  ON aigw.integration_platforms (visibility_scope, tenant_id, tenant_key, status);

-- §7.2, §7.9.14: models offered by a platform. capabilities and billing_config
-- are derived (040_resolution.sql); the *_override columns are the inputs.
CREATE TABLE aigw.platform_models (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  platform_id uuid NOT NULL REFERENCES aigw.integration_platforms (id) ON DELETE CASCADE,
  base_model_id uuid REFERENCES aigw.base_model_catalog (id),
  model_name text NOT NULL,
  model_alias text,
  model_type text NOT NULL,
  display_name text NOT NULL,
  capability_override jsonb NOT NULL DEFAULT '{}'::jsonb,
  capabilities jsonb NOT NULL DEFAULT '{}'::jsonb,
  pricing_mode text NOT NULL DEFAULT 'inherit_discount',
  discount_factor numeric,
  pricing_version int,
  billing_config_override jsonb NOT NULL DEFAULT '{}'::jsonb,
  billing_config jsonb NOT NULL DEFAULT '{}'::jsonb,
  permission_config jsonb NOT NULL DEFAULT '{}'::jsonb,
  retry_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  rate_limit_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  runtime_policy_set_id uuid REFERENCES aigw.model_runtime_policy_sets (id),
  runtime_policy_override jsonb NOT NULL DEFAULT '{}'::jsonb,
  enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uniq_platform_model_type UNIQUE (platform_id, model_name, model_type),
  -- A pinned pricing version must exist (not checked while pricing_version is null).
  CONSTRAINT platform_models_pricing_version_fkey FOREIGN KEY (base_model_id, pricing_version)
    REFERENCES aigw.base_model_pricing_versions (base_model_id, pricing_version),
  CONSTRAINT platform_models_type_check CHECK (model_type IN
    ('chat', 'image', 'video', 'audio', 'embedding', 'music', 'digital_human', 'model_3d')),
  CONSTRAINT platform_models_pricing_mode_check CHECK (pricing_mode IN ('inherit', 'inherit_discount', 'custom')),
  CONSTRAINT platform_models_discount_check CHECK (discount_factor IS NULL OR discount_factor > 0),
  CONSTRAINT platform_models_version_check CHECK (pricing_version IS NULL OR pricing_version >= 1),
  CONSTRAINT platform_models_override_check CHECK (jsonb_typeof(capability_override) = 'object'
                                                   AND jsonb_typeof(billing_config_override) = 'object'
                                                   AND jsonb_typeof(runtime_policy_override) = 'object')
);
CREATE INDEX idx_platform_models_base ON aigw.platform_models (base_model_id);
CREATE INDEX idx_platform_models_lookup ON aigw.platform_models (model_type, model_name, enabled);
CREATE INDEX idx_platform_models_alias ON aigw.platform_models (model_alias);
CREATE INDEX idx_platform_models_capabilities ON aigw.platform_models USING gin (capabilities);
CREATE INDEX idx_platform_models_runtime_set ON aigw.platform_models (runtime_policy_set_id);
