-- Admin SQL API, part 2: platforms (§6.2), platform models, platform
-- snapshots and model groups (seed 002). Same error conventions as
-- 050_admin_catalog.sql. Every platform change records a snapshot.

-- Locks and returns a platform that is not deleted; P0002 otherwise.
CREATE FUNCTION aigw.lock_platform(p_platform_id uuid) RETURNS aigw.integration_platforms
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  platform integration_platforms;
BEGIN
  SELECT * INTO platform FROM integration_platforms
   WHERE id = p_platform_id AND deleted_at IS NULL FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'platform % does not exist', p_platform_id USING ERRCODE = 'no_data_found';
  END IF;
  RETURN platform;
END
$$;

-- Records the platform and its models as they are now (credentials left out).
CREATE FUNCTION aigw.snapshot_platform(p_platform_id uuid, p_reason text)
  RETURNS aigw.integration_platform_snapshots
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  result integration_platform_snapshots;
  doc jsonb;
BEGIN
  PERFORM require_text(p_reason, 'reason');
  SELECT (to_jsonb(p) - 'credentials')
         || jsonb_build_object('hasCredentials', p.credentials <> '{}',
                               'models', coalesce((SELECT jsonb_agg(to_jsonb(m) ORDER BY m.model_type, m.model_name)
                                                     FROM platform_models m WHERE m.platform_id = p.id), '[]'))
    INTO doc
    FROM integration_platforms p WHERE p.id = p_platform_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'platform % does not exist', p_platform_id USING ERRCODE = 'no_data_found';
  END IF;
  INSERT INTO integration_platform_snapshots (platform_id, version, reason, snapshot)
  SELECT p_platform_id, coalesce(max(version), 0) + 1, p_reason, doc
    FROM integration_platform_snapshots WHERE platform_id = p_platform_id
  RETURNING * INTO result;
  RETURN result;
END
$$;

-- Validates a discount factor: positive, so that nothing becomes free by accident.
CREATE FUNCTION aigw.require_discount(value numeric, what text) RETURNS numeric
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  IF value IS NOT NULL AND value <= 0 THEN
    RAISE EXCEPTION '% must be greater than 0, got %', what, value USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN value;
END
$$;

-- Creates a platform of a catalog provider, with the default discount factor
-- its models inherit. credentials are sealed on write (066_credentials.sql).
CREATE FUNCTION aigw.create_platform(
  p_provider text, p_platform_key text, p_name text, p_base_url text DEFAULT NULL,
  p_auth_type text DEFAULT 'bearer', p_credentials jsonb DEFAULT '{}', p_config jsonb DEFAULT '{}',
  p_default_discount_factor numeric DEFAULT 1, p_default_pricing_mode text DEFAULT 'inherit_discount',
  p_visibility_scope text DEFAULT 'global', p_tenant_id text DEFAULT NULL, p_tenant_key text DEFAULT NULL,
  p_priority int DEFAULT 100, p_runtime_policy_key text DEFAULT NULL,
  p_retry_policy jsonb DEFAULT '{}', p_rate_limit_policy jsonb DEFAULT '{}')
  RETURNS aigw.integration_platforms
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  result integration_platforms;
BEGIN
  PERFORM require_key(p_platform_key, 'platform_key');
  PERFORM require_text(p_name, 'name');
  PERFORM require_one_of(p_auth_type, ARRAY['bearer', 'api_key', 'basic', 'custom', 'none'], 'auth_type');
  PERFORM require_object(p_credentials, 'credentials');
  PERFORM require_object(p_config, 'config');
  PERFORM require_object(p_retry_policy, 'retry_policy');
  PERFORM require_object(p_rate_limit_policy, 'rate_limit_policy');
  IF p_default_discount_factor IS NULL THEN
    RAISE EXCEPTION 'default_discount_factor is required' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM require_discount(p_default_discount_factor, 'default_discount_factor');
  PERFORM require_one_of(p_default_pricing_mode, ARRAY['inherit', 'inherit_discount', 'custom'], 'default_pricing_mode');
  PERFORM require_one_of(p_visibility_scope, ARRAY['global', 'tenant', 'private'], 'visibility_scope');
  IF p_visibility_scope <> 'global' AND p_tenant_id IS NULL AND p_tenant_key IS NULL THEN
    RAISE EXCEPTION 'a % platform needs tenant_id or tenant_key', p_visibility_scope
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_base_url IS NOT NULL AND p_base_url !~ '^https?://[^/\s]+' THEN
    RAISE EXCEPTION 'base_url "%" is not an http(s) URL', p_base_url USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_priority IS NULL THEN
    RAISE EXCEPTION 'priority is required' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM model_catalog_providers WHERE provider_key = p_provider) THEN
    RAISE EXCEPTION 'provider "%" does not exist', p_provider USING ERRCODE = 'foreign_key_violation';
  END IF;
  BEGIN
    INSERT INTO integration_platforms (provider, platform_key, name, base_url, auth_type, credentials, config,
                                       visibility_scope, tenant_id, tenant_key, default_pricing_mode,
                                       default_discount_factor, retry_policy, rate_limit_policy,
                                       runtime_policy_set_id, priority)
    VALUES (p_provider, p_platform_key, p_name, p_base_url, p_auth_type, p_credentials, p_config,
            p_visibility_scope, p_tenant_id, p_tenant_key, p_default_pricing_mode, p_default_discount_factor,
            p_retry_policy, p_rate_limit_policy, runtime_policy_set_id(p_runtime_policy_key), p_priority)
    RETURNING * INTO result;
  EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'platform "%" already exists', p_platform_key USING ERRCODE = 'unique_violation';
  END;
  PERFORM snapshot_platform(result.id, 'create');
  RETURN result;
END
$$;

-- Updates a platform; null arguments keep the current value. A new default
-- discount re-resolves every model of the platform.
CREATE FUNCTION aigw.update_platform(
  p_platform_id uuid, p_name text DEFAULT NULL, p_base_url text DEFAULT NULL, p_credentials jsonb DEFAULT NULL,
  p_config jsonb DEFAULT NULL, p_default_discount_factor numeric DEFAULT NULL,
  p_default_pricing_mode text DEFAULT NULL, p_priority int DEFAULT NULL, p_runtime_policy_key text DEFAULT NULL,
  p_retry_policy jsonb DEFAULT NULL, p_rate_limit_policy jsonb DEFAULT NULL)
  RETURNS aigw.integration_platforms
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  result integration_platforms;
BEGIN
  IF p_name IS NOT NULL THEN PERFORM require_text(p_name, 'name'); END IF;
  IF p_base_url IS NOT NULL AND p_base_url !~ '^https?://[^/\s]+' THEN
    RAISE EXCEPTION 'base_url "%" is not an http(s) URL', p_base_url USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_credentials IS NOT NULL THEN PERFORM require_object(p_credentials, 'credentials'); END IF;
  IF p_config IS NOT NULL THEN PERFORM require_object(p_config, 'config'); END IF;
  IF p_retry_policy IS NOT NULL THEN PERFORM require_object(p_retry_policy, 'retry_policy'); END IF;
  IF p_rate_limit_policy IS NOT NULL THEN PERFORM require_object(p_rate_limit_policy, 'rate_limit_policy'); END IF;
  PERFORM require_discount(p_default_discount_factor, 'default_discount_factor');
  IF p_default_pricing_mode IS NOT NULL THEN
    PERFORM require_one_of(p_default_pricing_mode, ARRAY['inherit', 'inherit_discount', 'custom'],
                           'default_pricing_mode');
  END IF;
  PERFORM lock_platform(p_platform_id);
  UPDATE integration_platforms SET
    name = coalesce(p_name, name),
    base_url = coalesce(p_base_url, base_url),
    credentials = coalesce(p_credentials, credentials),
    config = coalesce(p_config, config),
    default_discount_factor = coalesce(p_default_discount_factor, default_discount_factor),
    default_pricing_mode = coalesce(p_default_pricing_mode, default_pricing_mode),
    priority = coalesce(p_priority, priority),
    runtime_policy_set_id = coalesce(runtime_policy_set_id(p_runtime_policy_key), runtime_policy_set_id),
    retry_policy = coalesce(p_retry_policy, retry_policy),
    rate_limit_policy = coalesce(p_rate_limit_policy, rate_limit_policy),
    updated_at = now()
  WHERE id = p_platform_id
  RETURNING * INTO result;
  PERFORM snapshot_platform(result.id, 'update');
  RETURN result;
END
$$;

-- Copies a platform and its models under a new key. The copy starts disabled
-- so that it takes no traffic until an operator enables it.
CREATE FUNCTION aigw.copy_platform(p_platform_id uuid, p_new_platform_key text, p_new_name text DEFAULT NULL)
  RETURNS aigw.integration_platforms
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  source integration_platforms;
  result integration_platforms;
BEGIN
  PERFORM require_key(p_new_platform_key, 'platform_key');
  IF p_new_name IS NOT NULL THEN PERFORM require_text(p_new_name, 'name'); END IF;
  source := lock_platform(p_platform_id);
  BEGIN
    INSERT INTO integration_platforms (provider, platform_key, name, base_url, auth_type, credentials, config,
                                       visibility_scope, tenant_id, tenant_key, default_pricing_mode,
                                       default_discount_factor, retry_policy, rate_limit_policy,
                                       runtime_policy_set_id, priority, status, disabled_reason)
    VALUES (source.provider, p_new_platform_key, coalesce(p_new_name, source.name || ' (copy)'), source.base_url,
            source.auth_type, source.credentials, source.config, source.visibility_scope, source.tenant_id,
            source.tenant_key, source.default_pricing_mode, source.default_discount_factor, source.retry_policy,
            source.rate_limit_policy, source.runtime_policy_set_id, source.priority, 'disabled',
            'copied from ' || source.platform_key)
    RETURNING * INTO result;
  EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'platform "%" already exists', p_new_platform_key USING ERRCODE = 'unique_violation';
  END;
  INSERT INTO platform_models (platform_id, base_model_id, model_name, model_alias, model_type, display_name,
                               capability_override, pricing_mode, discount_factor, pricing_version,
                               billing_config_override, permission_config, retry_policy, rate_limit_policy,
                               runtime_policy_set_id, runtime_policy_override, enabled)
  SELECT result.id, base_model_id, model_name, model_alias, model_type, display_name, capability_override,
         pricing_mode, discount_factor, pricing_version, billing_config_override, permission_config, retry_policy,
         rate_limit_policy, runtime_policy_set_id, runtime_policy_override, enabled
    FROM platform_models WHERE platform_id = source.id;
  PERFORM snapshot_platform(result.id, 'copy of ' || source.platform_key);
  RETURN result;
END
$$;

-- Sets a platform's status and reason, with a snapshot.
CREATE FUNCTION aigw.set_platform_status(p_platform_id uuid, p_status text, p_reason text, p_snapshot text)
  RETURNS aigw.integration_platforms
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  result integration_platforms;
BEGIN
  PERFORM require_one_of(p_status, ARRAY['enabled', 'disabled', 'exception'], 'status');
  PERFORM lock_platform(p_platform_id);
  UPDATE integration_platforms
     SET status = p_status, disabled_reason = p_reason,
         cooldown_until = CASE WHEN p_status = 'enabled' THEN NULL ELSE cooldown_until END,
         updated_at = now()
   WHERE id = p_platform_id
  RETURNING * INTO result;
  PERFORM snapshot_platform(p_platform_id, p_snapshot);
  RETURN result;
END
$$;

-- Enables a platform (clears the reason and any cooldown).
CREATE FUNCTION aigw.enable_platform(p_platform_id uuid) RETURNS aigw.integration_platforms
  LANGUAGE sql
  SET search_path = aigw, pg_catalog
  RETURN aigw.set_platform_status(p_platform_id, 'enabled', NULL, 'enable');

-- Disables a platform; routing skips it until it is enabled again.
CREATE FUNCTION aigw.disable_platform(p_platform_id uuid, p_reason text DEFAULT 'disabled by an operator')
  RETURNS aigw.integration_platforms
  LANGUAGE sql
  SET search_path = aigw, pg_catalog
  RETURN aigw.set_platform_status(p_platform_id, 'disabled', aigw.require_text(p_reason, 'reason'), 'disable');

-- Puts a platform back in service after an automatic exception (auto-disable
-- or cooldown); 55000 when the platform is not in the exception state.
CREATE FUNCTION aigw.reset_platform_exception(p_platform_id uuid) RETURNS aigw.integration_platforms
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  platform integration_platforms;
BEGIN
  platform := lock_platform(p_platform_id);
  IF platform.status <> 'exception' AND platform.cooldown_until IS NULL THEN
    RAISE EXCEPTION 'platform "%" is not in an exception state (status %)', platform.platform_key, platform.status
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  UPDATE integration_platforms
     SET status = CASE status WHEN 'exception' THEN 'enabled' ELSE status END,
         disabled_reason = CASE status WHEN 'exception' THEN NULL ELSE disabled_reason END,
         cooldown_until = NULL, updated_at = now()
   WHERE id = p_platform_id
  RETURNING * INTO platform;
  PERFORM snapshot_platform(p_platform_id, 'reset exception');
  RETURN platform;
END
$$;

-- Sets the dynamic priority that overrides the static one while present.
CREATE FUNCTION aigw.set_platform_dynamic_priority(p_platform_id uuid, p_dynamic_priority int)
  RETURNS aigw.integration_platforms
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  result integration_platforms;
BEGIN
  IF p_dynamic_priority IS NULL THEN
    RAISE EXCEPTION 'dynamic_priority is required (use clear_platform_dynamic_priority to remove it)'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM lock_platform(p_platform_id);
  UPDATE integration_platforms SET dynamic_priority = p_dynamic_priority, updated_at = now()
   WHERE id = p_platform_id RETURNING * INTO result;
  PERFORM snapshot_platform(p_platform_id, 'set dynamic priority');
  RETURN result;
END
$$;

-- Removes the dynamic priority; the static priority applies again.
CREATE FUNCTION aigw.clear_platform_dynamic_priority(p_platform_id uuid) RETURNS aigw.integration_platforms
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  result integration_platforms;
BEGIN
  PERFORM lock_platform(p_platform_id);
  UPDATE integration_platforms SET dynamic_priority = NULL, updated_at = now()
   WHERE id = p_platform_id RETURNING * INTO result;
  PERFORM snapshot_platform(p_platform_id, 'clear dynamic priority');
  RETURN result;
END
$$;

-- Soft-deletes a platform: it is disabled, hidden from the admin API and
-- from routing, and keeps its key, models and history for audit.
CREATE FUNCTION aigw.delete_platform(p_platform_id uuid) RETURNS aigw.integration_platforms
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  result integration_platforms;
BEGIN
  PERFORM lock_platform(p_platform_id);
  PERFORM snapshot_platform(p_platform_id, 'delete');
  UPDATE integration_platforms
     SET status = 'disabled', disabled_reason = 'deleted', deleted_at = now(), updated_at = now()
   WHERE id = p_platform_id RETURNING * INTO result;
  RETURN result;
END
$$;

-- Adds a model to a platform. With a base model it inherits type,
-- capabilities and price; pricing_mode defaults to the platform's.
CREATE FUNCTION aigw.add_platform_model(
  p_platform_id uuid, p_model_name text, p_base_model_key text DEFAULT NULL, p_model_type text DEFAULT NULL,
  p_pricing_mode text DEFAULT NULL, p_discount_factor numeric DEFAULT NULL,
  p_capability_override jsonb DEFAULT '{}', p_billing_config_override jsonb DEFAULT '{}',
  p_pricing_version int DEFAULT NULL, p_display_name text DEFAULT NULL, p_model_alias text DEFAULT NULL,
  p_runtime_policy_key text DEFAULT NULL, p_runtime_policy_override jsonb DEFAULT '{}',
  p_permission_config jsonb DEFAULT '{}', p_enabled boolean DEFAULT true)
  RETURNS aigw.platform_models
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  platform integration_platforms;
  base base_model_catalog;
  mode text;
  result platform_models;
BEGIN
  PERFORM require_text(p_model_name, 'model_name');
  PERFORM require_object(p_capability_override, 'capability_override');
  PERFORM require_object(p_billing_config_override, 'billing_config_override');
  PERFORM reject_hard_stop(require_object(p_runtime_policy_override, 'runtime_policy_override'),
                           'runtime_policy_override');
  PERFORM require_object(p_permission_config, 'permission_config');
  PERFORM require_discount(p_discount_factor, 'discount_factor');
  IF p_enabled IS NULL THEN
    RAISE EXCEPTION 'enabled is required' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT * INTO platform FROM integration_platforms WHERE id = p_platform_id AND deleted_at IS NULL;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'platform % does not exist', p_platform_id USING ERRCODE = 'foreign_key_violation';
  END IF;
  IF p_base_model_key IS NOT NULL THEN
    SELECT * INTO base FROM base_model_catalog WHERE canonical_model_key = p_base_model_key;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'base model "%" does not exist', p_base_model_key USING ERRCODE = 'foreign_key_violation';
    END IF;
  ELSIF p_model_type IS NULL THEN
    RAISE EXCEPTION 'model_type is required for a model without a base model' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF p_model_type IS NOT NULL THEN
    PERFORM require_one_of(p_model_type, ARRAY['chat', 'image', 'video', 'audio', 'embedding', 'music',
                                               'digital_human', 'model_3d'], 'model_type');
  END IF;
  mode := coalesce(p_pricing_mode, platform.default_pricing_mode);
  PERFORM require_one_of(mode, ARRAY['inherit', 'inherit_discount', 'custom'], 'pricing_mode');
  IF mode = 'inherit' AND p_discount_factor IS NOT NULL THEN
    RAISE EXCEPTION 'pricing_mode inherit takes no discount_factor (use inherit_discount)'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF mode = 'custom' AND p_billing_config_override = '{}' THEN
    RAISE EXCEPTION 'pricing_mode custom needs a complete billing_config_override'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  BEGIN
    INSERT INTO platform_models (platform_id, base_model_id, model_name, model_alias, model_type, display_name,
                                 capability_override, pricing_mode, discount_factor, pricing_version,
                                 billing_config_override, permission_config, runtime_policy_set_id,
                                 runtime_policy_override, enabled)
    VALUES (p_platform_id, base.id, p_model_name, p_model_alias, coalesce(p_model_type, base.model_type),
            coalesce(p_display_name, base.display_name, p_model_name), p_capability_override, mode,
            p_discount_factor, p_pricing_version, p_billing_config_override, p_permission_config,
            runtime_policy_set_id(p_runtime_policy_key), p_runtime_policy_override, p_enabled)
    RETURNING * INTO result;
  EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'platform "%" already has a % model "%"', platform.platform_key,
      coalesce(p_model_type, base.model_type), p_model_name USING ERRCODE = 'unique_violation';
  END;
  PERFORM snapshot_platform(p_platform_id, 'add model ' || p_model_name);
  RETURN result;
END
$$;

-- Updates a platform model; null arguments keep the current value.
-- p_clear_discount drops the model discount (the platform's applies again);
-- p_follow_latest unpins the pricing version.
CREATE FUNCTION aigw.update_platform_model(
  p_platform_model_id uuid, p_pricing_mode text DEFAULT NULL, p_discount_factor numeric DEFAULT NULL,
  p_capability_override jsonb DEFAULT NULL, p_billing_config_override jsonb DEFAULT NULL,
  p_pricing_version int DEFAULT NULL, p_display_name text DEFAULT NULL, p_model_alias text DEFAULT NULL,
  p_runtime_policy_key text DEFAULT NULL, p_runtime_policy_override jsonb DEFAULT NULL,
  p_permission_config jsonb DEFAULT NULL, p_enabled boolean DEFAULT NULL,
  p_clear_discount boolean DEFAULT false, p_follow_latest boolean DEFAULT false)
  RETURNS aigw.platform_models
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  current platform_models;
  result platform_models;
BEGIN
  IF p_pricing_mode IS NOT NULL THEN
    PERFORM require_one_of(p_pricing_mode, ARRAY['inherit', 'inherit_discount', 'custom'], 'pricing_mode');
  END IF;
  PERFORM require_discount(p_discount_factor, 'discount_factor');
  IF p_capability_override IS NOT NULL THEN PERFORM require_object(p_capability_override, 'capability_override'); END IF;
  IF p_billing_config_override IS NOT NULL THEN
    PERFORM require_object(p_billing_config_override, 'billing_config_override');
  END IF;
  IF p_runtime_policy_override IS NOT NULL THEN
    PERFORM reject_hard_stop(require_object(p_runtime_policy_override, 'runtime_policy_override'),
                             'runtime_policy_override');
  END IF;
  IF p_permission_config IS NOT NULL THEN PERFORM require_object(p_permission_config, 'permission_config'); END IF;
  IF p_display_name IS NOT NULL THEN PERFORM require_text(p_display_name, 'display_name'); END IF;
  IF p_discount_factor IS NOT NULL AND p_clear_discount THEN
    RAISE EXCEPTION 'give discount_factor or clear_discount, not both' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_pricing_version IS NOT NULL AND p_follow_latest THEN
    RAISE EXCEPTION 'give pricing_version or follow_latest, not both' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO current FROM platform_models m
   WHERE m.id = p_platform_model_id
     AND EXISTS (SELECT 1 FROM integration_platforms p WHERE p.id = m.platform_id AND p.deleted_at IS NULL)
   FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'platform model % does not exist', p_platform_model_id USING ERRCODE = 'no_data_found';
  END IF;
  IF coalesce(p_pricing_mode, current.pricing_mode) = 'inherit'
     AND (p_discount_factor IS NOT NULL OR (current.discount_factor IS NOT NULL AND NOT p_clear_discount)) THEN
    RAISE EXCEPTION 'pricing_mode inherit takes no discount_factor (use inherit_discount)'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE platform_models SET
    pricing_mode = coalesce(p_pricing_mode, pricing_mode),
    discount_factor = CASE WHEN p_clear_discount THEN NULL ELSE coalesce(p_discount_factor, discount_factor) END,
    capability_override = coalesce(p_capability_override, capability_override),
    billing_config_override = coalesce(p_billing_config_override, billing_config_override),
    pricing_version = CASE WHEN p_follow_latest THEN NULL ELSE coalesce(p_pricing_version, pricing_version) END,
    display_name = coalesce(p_display_name, display_name),
    model_alias = coalesce(p_model_alias, model_alias),
    runtime_policy_set_id = coalesce(runtime_policy_set_id(p_runtime_policy_key), runtime_policy_set_id),
    runtime_policy_override = coalesce(p_runtime_policy_override, runtime_policy_override),
    permission_config = coalesce(p_permission_config, permission_config),
    enabled = coalesce(p_enabled, enabled)
  WHERE id = p_platform_model_id
  RETURNING * INTO result;
  PERFORM snapshot_platform(result.platform_id, 'update model ' || result.model_name);
  RETURN result;
END
$$;

-- Enables or disables one platform model (route enable-model/:id).
CREATE FUNCTION aigw.set_platform_model_enabled(p_platform_model_id uuid, p_enabled boolean)
  RETURNS aigw.platform_models
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  IF p_enabled IS NULL THEN
    RAISE EXCEPTION 'enabled is required' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  RETURN update_platform_model(p_platform_model_id, p_enabled => p_enabled);
END
$$;

-- Removes a model from its platform (and from every model group).
CREATE FUNCTION aigw.remove_platform_model(p_platform_model_id uuid) RETURNS void
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  removed platform_models;
BEGIN
  DELETE FROM platform_models m WHERE m.id = p_platform_model_id
     AND EXISTS (SELECT 1 FROM integration_platforms p WHERE p.id = m.platform_id AND p.deleted_at IS NULL)
  RETURNING * INTO removed;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'platform model % does not exist', p_platform_model_id USING ERRCODE = 'no_data_found';
  END IF;
  PERFORM snapshot_platform(removed.platform_id, 'remove model ' || removed.model_name);
END
$$;

-- Creates a model group: a logical model name routed to member models.
CREATE FUNCTION aigw.create_model_group(
  p_name text, p_display_name text DEFAULT '', p_description text DEFAULT '',
  p_failover_strategy text DEFAULT 'quota_aware', p_enabled boolean DEFAULT true)
  RETURNS aigw.model_groups
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  result model_groups;
BEGIN
  PERFORM require_key(p_name, 'name');
  PERFORM require_one_of(p_failover_strategy, ARRAY['quota_aware', 'priority', 'weighted'], 'failover_strategy');
  IF p_enabled IS NULL THEN
    RAISE EXCEPTION 'enabled is required' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  BEGIN
    INSERT INTO model_groups (name, display_name, description, failover_strategy, enabled)
    VALUES (p_name, coalesce(p_display_name, ''), coalesce(p_description, ''), p_failover_strategy, p_enabled)
    RETURNING * INTO result;
  EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'model group "%" already exists', p_name USING ERRCODE = 'unique_violation';
  END;
  RETURN result;
END
$$;

-- Updates a model group; null arguments keep the current value.
CREATE FUNCTION aigw.update_model_group(
  p_name text, p_display_name text DEFAULT NULL, p_description text DEFAULT NULL,
  p_failover_strategy text DEFAULT NULL, p_enabled boolean DEFAULT NULL)
  RETURNS aigw.model_groups
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  result model_groups;
BEGIN
  IF p_failover_strategy IS NOT NULL THEN
    PERFORM require_one_of(p_failover_strategy, ARRAY['quota_aware', 'priority', 'weighted'], 'failover_strategy');
  END IF;
  UPDATE model_groups SET
    display_name = coalesce(p_display_name, display_name),
    description = coalesce(p_description, description),
    failover_strategy = coalesce(p_failover_strategy, failover_strategy),
    enabled = coalesce(p_enabled, enabled),
    updated_at = now()
  WHERE name = p_name
  RETURNING * INTO result;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'model group "%" does not exist', p_name USING ERRCODE = 'no_data_found';
  END IF;
  RETURN result;
END
$$;

-- Deletes a model group and its memberships.
CREATE FUNCTION aigw.delete_model_group(p_name text) RETURNS void
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  DELETE FROM model_groups WHERE name = p_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'model group "%" does not exist', p_name USING ERRCODE = 'no_data_found';
  END IF;
END
$$;

-- Adds a platform model to a group; the model must exist (seed 002's fix).
CREATE FUNCTION aigw.add_model_group_member(
  p_group_name text, p_platform_model_id uuid, p_priority int DEFAULT 0, p_weight int DEFAULT 1,
  p_enabled boolean DEFAULT true)
  RETURNS aigw.model_group_members
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  group_id uuid;
  result model_group_members;
BEGIN
  IF p_priority IS NULL OR p_weight IS NULL OR p_enabled IS NULL THEN
    RAISE EXCEPTION 'priority, weight and enabled are required' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF p_weight < 0 THEN
    RAISE EXCEPTION 'weight must be non-negative, got %', p_weight USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT id INTO group_id FROM model_groups WHERE name = p_group_name FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'model group "%" does not exist', p_group_name USING ERRCODE = 'no_data_found';
  END IF;
  IF p_platform_model_id IS NULL OR NOT EXISTS (
       SELECT 1 FROM platform_models m JOIN integration_platforms p ON p.id = m.platform_id
        WHERE m.id = p_platform_model_id AND p.deleted_at IS NULL) THEN
    RAISE EXCEPTION 'platform model % does not exist', p_platform_model_id USING ERRCODE = 'foreign_key_violation';
  END IF;
  BEGIN
    INSERT INTO model_group_members (group_id, platform_model_id, priority, weight, enabled)
    VALUES (group_id, p_platform_model_id, p_priority, p_weight, p_enabled)
    RETURNING * INTO result;
  EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'platform model % is already a member of group "%"', p_platform_model_id, p_group_name
      USING ERRCODE = 'unique_violation';
  END;
  UPDATE model_groups SET updated_at = now() WHERE id = group_id;
  RETURN result;
END
$$;

-- Changes a member's priority, weight or enabled flag; null keeps the value.
CREATE FUNCTION aigw.update_model_group_member(
  p_group_name text, p_platform_model_id uuid, p_priority int DEFAULT NULL, p_weight int DEFAULT NULL,
  p_enabled boolean DEFAULT NULL)
  RETURNS aigw.model_group_members
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  result model_group_members;
BEGIN
  IF p_weight < 0 THEN
    RAISE EXCEPTION 'weight must be non-negative, got %', p_weight USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE model_group_members mm SET
    priority = coalesce(p_priority, mm.priority),
    weight = coalesce(p_weight, mm.weight),
    enabled = coalesce(p_enabled, mm.enabled),
    updated_at = now()
  FROM model_groups g
  WHERE g.id = mm.group_id AND g.name = p_group_name AND mm.platform_model_id = p_platform_model_id
  RETURNING mm.* INTO result;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'platform model % is not a member of group "%"', p_platform_model_id, p_group_name
      USING ERRCODE = 'no_data_found';
  END IF;
  RETURN result;
END
$$;

-- Removes a member from a group.
CREATE FUNCTION aigw.remove_model_group_member(p_group_name text, p_platform_model_id uuid) RETURNS void
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  DELETE FROM model_group_members mm USING model_groups g
   WHERE g.id = mm.group_id AND g.name = p_group_name AND mm.platform_model_id = p_platform_model_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'platform model % is not a member of group "%"', p_platform_model_id, p_group_name
      USING ERRCODE = 'no_data_found';
  END IF;
END
$$;
