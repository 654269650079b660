-- Seed data: levels, built-in merge strategies, the config types the gateway reads (with their
-- global defaults), the inheritance rules linking every level for them, and the tiers.

INSERT INTO aigw.config_levels (level_name, display_name, parent_level, inherit_priority,
                                scope_context_key, description, is_system_level) VALUES
  ('global', 'Global', NULL, 0, NULL, 'platform-wide values', true),
  ('tenant', 'Tenant', 'global', 10, 'tenant_id', 'values of one tenant', true),
  ('user_group', 'User group', 'tenant', 20, 'user_group_id', 'values of one user group', true),
  ('user', 'User', 'user_group', 30, 'user_id', 'values of one user', true),
  ('api_key', 'API key', 'user', 40, 'api_key_id', 'values of one API key', true);

INSERT INTO aigw.merge_strategies (strategy_name, description, is_builtin) VALUES
  ('override', 'the child value replaces the parent value', true),
  ('deep_merge', 'objects are merged recursively; the child wins on scalars and arrays', true),
  ('array_append', 'like deep_merge, but the arrays at the type''s array_keys are concatenated', true),
  ('array_merge', 'like deep_merge, but the arrays at the type''s array_keys are united without duplicates', true);

INSERT INTO aigw.config_types (type_name, display_name, value_schema, default_value, merge_strategy,
                               array_keys, description, is_system_type) VALUES
  ('gateway_routing', 'Gateway routing',
   '{"type": "object", "additionalProperties": false,
     "properties": {
       "routing_strategy": {"type": "string", "enum": ["loadbalance", "fallback", "conditional", "single"]},
       "retry_attempts": {"type": "integer", "minimum": 0, "maximum": 5},
       "retry_status_codes": {"type": "array", "items": {"type": "integer", "minimum": 100, "maximum": 599}},
       "request_timeout": {"type": "integer", "minimum": 1},
       "conditions": {"type": "array", "items": {"type": "object", "required": ["query", "then"],
         "properties": {"query": {"type": "object"}, "then": {"type": "string"}}}},
       "default_target": {"type": "string"},
       "targets": {"type": "array", "items": {"type": "object", "required": ["provider"],
         "properties": {"provider": {"type": "string", "minLength": 1},
                        "name": {"type": "string"},
                        "weight": {"type": "number", "minimum": 0},
                        "model": {"type": "string"},
                        "max_tokens": {"type": "integer", "minimum": 1},
                        "override_params": {"type": "object"}}}}}}',
   '{"routing_strategy": "fallback", "retry_attempts": 3, "retry_status_codes": [429, 500, 502, 503],
     "targets": []}',
   'deep_merge', '{}', 'strategy, retry and targets of the router (exported as a Portkey config)', true),
  ('rate_limits', 'Rate limits',
   '{"type": "object", "additionalProperties": false,
     "properties": {
       "max_tokens": {"type": "integer", "minimum": 1},
       "requests_per_minute": {"type": "integer", "minimum": 0},
       "tokens_per_minute": {"type": "integer", "minimum": 0},
       "concurrency": {"type": "integer", "minimum": 0}}}',
   '{"max_tokens": 4000}',
   'deep_merge', '{}', 'per-principal request and token limits (requests_per_minute, tokens_per_minute and concurrency are enforced by the rate limiter; none by default)', true),
  ('cache_strategy', 'Cache strategy',
   '{"type": "object", "additionalProperties": false,
     "properties": {
       "enabled": {"type": "boolean"},
       "mode": {"type": "string", "enum": ["simple", "semantic"]},
       "max_age": {"type": "integer", "minimum": 0}}}',
   '{"enabled": false, "mode": "simple", "max_age": 300}',
   'deep_merge', '{}', 'response cache', true),
  ('hooks', 'Hooks',
   '{"type": "object", "additionalProperties": false,
     "properties": {
       "before": {"type": "array", "items": {"type": "object"}},
       "after": {"type": "array", "items": {"type": "object"}}}}',
   '{"before": [], "after": []}',
   'array_append', '{before,after}', 'guardrail hooks run before and after a request', true),
  ('billing_rules', 'Billing rules',
   '{"type": "object", "additionalProperties": false,
     "properties": {
       "billing_mode": {"type": "string", "enum": ["prepaid", "postpaid"]},
       "price_multiplier": {"type": "number", "minimum": 0},
       "monthly_limit": {"type": ["number", "null"], "minimum": 0},
       "currency": {"type": "string", "minLength": 3, "maxLength": 3}}}',
   '{"billing_mode": "prepaid", "price_multiplier": 1, "monthly_limit": null, "currency": "CNY"}',
   'deep_merge', '{}', 'how requests are billed', true),
  ('access_control', 'Access control',
   '{"type": "object", "additionalProperties": false,
     "properties": {
       "allowed_models": {"type": "array", "items": {"type": "string"}},
       "blocked_models": {"type": "array", "items": {"type": "string"}},
       "blocked_content": {"type": "boolean"}}}',
   '{"allowed_models": [], "blocked_models": [], "blocked_content": false}',
   'array_merge', '{allowed_models,blocked_models}',
   'models a scope may use (an empty allowed_models list allows every model)', true),
  ('feature_flags', 'Feature flags',
   '{"type": "object", "additionalProperties": {"type": "boolean"}}',
   '{"streaming": true, "enable_chat_history": false}',
   'deep_merge', '{}', 'boolean feature switches', true),
  ('routing_configs', 'Saved routing configs',
   '{"type": "object", "additionalProperties": {"type": "object"}}',
   '{}',
   'deep_merge', '{}',
   'routing configs by name, which a request may name in x-portkey-config / x-aigw-config instead of sending one', true);

INSERT INTO aigw.inheritance_rules (parent_level, child_level, config_type, effective_from)
SELECT l.parent_level, l.level_name, t.type_name, '-infinity'
FROM aigw.config_levels l CROSS JOIN aigw.config_types t
WHERE l.parent_level IS NOT NULL;

INSERT INTO aigw.tier_definitions (tier_name, display_name, description, pricing_model, base_price,
                                   display_order) VALUES
  ('free', 'Free', 'trial use', 'monthly', 0, 1),
  ('basic', 'Basic', 'individuals and small teams', 'monthly', 99, 2),
  ('premium', 'Premium', 'production workloads', 'monthly', 999, 3),
  ('enterprise', 'Enterprise', 'negotiated terms', 'custom', NULL, 4);

INSERT INTO aigw.tier_feature_mappings (tier_name, config_type, feature_value, effective_from) VALUES
  ('free', 'rate_limits', '{"max_tokens": 2000, "requests_per_minute": 10}', '-infinity'),
  ('free', 'gateway_routing', '{"routing_strategy": "single", "retry_attempts": 1}', '-infinity'),
  ('basic', 'rate_limits', '{"max_tokens": 4000, "requests_per_minute": 60}', '-infinity'),
  ('basic', 'gateway_routing', '{"routing_strategy": "single", "retry_attempts": 2}', '-infinity'),
  ('premium', 'rate_limits', '{"max_tokens": 16000, "requests_per_minute": 300}', '-infinity'),
  ('premium', 'gateway_routing', '{"routing_strategy": "loadbalance", "retry_attempts": 3}', '-infinity'),
  ('premium', 'cache_strategy', '{"enabled": true}', '-infinity'),
  ('enterprise', 'rate_limits', '{"max_tokens": 32000, "requests_per_minute": 1000, "concurrency": 64}', '-infinity'),
  ('enterprise', 'gateway_routing', '{"routing_strategy": "loadbalance", "retry_attempts": 5}', '-infinity'),
  ('enterprise', 'cache_strategy', '{"enabled": true}', '-infinity');
SELECT pg_catalog.pg_extension_config_dump('aigw.unified_config_store', '');
