-- Admin SQL API, part 1: runner policies, runtime policy sets, providers,
-- base models and pricing rules. Every function validates its input and
-- raises a real SQLSTATE: 22004 for a missing value, 22023 for a bad value,
-- 23505 for a duplicate, 23503 for a missing referenced object, P0002 for a
-- missing target, 55000 for an operation the object's state forbids. A failed
-- call changes nothing.

-- Raises 22004 when value is null or blank.
CREATE FUNCTION aigw.require_text(value text, what text) RETURNS text
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  IF value IS NULL OR btrim(value) = '' THEN
    RAISE EXCEPTION '% is required', what USING ERRCODE = 'null_value_not_allowed';
  END IF;
  RETURN value;
END
$$;

-- Raises 22023 unless key is a stable identifier (letters, digits, _ . : / -).
CREATE FUNCTION aigw.require_key(value text, what text) RETURNS text
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  PERFORM require_text(value, what);
  IF value !~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]*$' OR length(value) > 200 THEN
    RAISE EXCEPTION '% "%" is not a valid key', what, value
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use letters, digits and _ . : / -, starting with a letter or digit.';
  END IF;
  RETURN value;
END
$$;

-- Raises 22023 unless value is a JSON object (22004 when null).
CREATE FUNCTION aigw.require_object(value jsonb, what text) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  IF value IS NULL THEN
    RAISE EXCEPTION '% is required', what USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF jsonb_typeof(value) <> 'object' THEN
    RAISE EXCEPTION '% must be a JSON object', what USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN value;
END
$$;

-- Raises 22023 unless value is one of allowed.
CREATE FUNCTION aigw.require_one_of(value text, allowed text[], what text) RETURNS text
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  PERFORM require_text(value, what);
  IF NOT value = ANY (allowed) THEN
    RAISE EXCEPTION '% "%" is not one of %', what, value, array_to_string(allowed, ', ')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN value;
END
$$;

-- Raises 22023 when a runtime policy document tries to set the hard-stop policy.
CREATE FUNCTION aigw.reject_hard_stop(value jsonb, what text) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  IF value IS NOT NULL AND jsonb_path_exists(value, 'lax $.**.hardStopPolicy') THEN
    RAISE EXCEPTION '% may not contain hardStopPolicy', what
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'The hard-stop policy is global (gateway_runner_policies) and cannot be overridden.';
  END IF;
  RETURN value;
END
$$;

-- Seed 000's upsert: a new policy is inserted; an existing one takes the new
-- name and description and merges each JSON column with || (top-level keys of
-- the new document win, other keys are kept). status applies on insert only.
CREATE FUNCTION aigw.upsert_runner_policy(
  p_policy_key text, p_name text, p_description text DEFAULT NULL,
  p_failover_policy jsonb DEFAULT '{}', p_hard_stop_policy jsonb DEFAULT '{}',
  p_priority_demote_policy jsonb DEFAULT '{}', p_metadata jsonb DEFAULT '{}', p_status text DEFAULT 'active')
  RETURNS aigw.gateway_runner_policies
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  result gateway_runner_policies;
BEGIN
  PERFORM require_key(p_policy_key, 'policy_key');
  PERFORM require_text(p_name, 'name');
  PERFORM require_object(p_failover_policy, 'failover_policy');
  PERFORM require_object(p_hard_stop_policy, 'hard_stop_policy');
  PERFORM require_object(p_priority_demote_policy, 'priority_demote_policy');
  PERFORM require_object(p_metadata, 'metadata');
  PERFORM require_one_of(p_status, ARRAY['active', 'disabled'], 'status');
  INSERT INTO gateway_runner_policies AS r
    (policy_key, name, description, failover_policy, hard_stop_policy, priority_demote_policy, metadata, status)
  VALUES (p_policy_key, p_name, p_description, p_failover_policy, p_hard_stop_policy, p_priority_demote_policy,
          p_metadata, p_status)
  ON CONFLICT (policy_key) DO UPDATE SET
    name = EXCLUDED.name,
    description = EXCLUDED.description,
    failover_policy = r.failover_policy || EXCLUDED.failover_policy,
    hard_stop_policy = r.hard_stop_policy || EXCLUDED.hard_stop_policy,
    priority_demote_policy = r.priority_demote_policy || EXCLUDED.priority_demote_policy,
    metadata = r.metadata || EXCLUDED.metadata,
    updated_at = now()
  RETURNING * INTO result;
  RETURN result;
END
$$;

-- Activates or disables a runner policy.
CREATE FUNCTION aigw.set_runner_policy_status(p_policy_key text, p_status text)
  RETURNS aigw.gateway_runner_policies
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  result gateway_runner_policies;
BEGIN
  PERFORM require_one_of(p_status, ARRAY['active', 'disabled'], 'status');
  UPDATE gateway_runner_policies SET status = p_status, updated_at = now()
   WHERE policy_key = p_policy_key RETURNING * INTO result;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'runner policy "%" does not exist', p_policy_key USING ERRCODE = 'no_data_found';
  END IF;
  RETURN result;
END
$$;

-- Creates or merges a runtime policy set, with the same || semantics as
-- runner policies; priority_demote_keywords, when given, replaces the list.
CREATE FUNCTION aigw.upsert_runtime_policy_set(
  p_policy_key text, p_name text, p_description text DEFAULT NULL,
  p_retry_policy jsonb DEFAULT '{}', p_rate_limit_policy jsonb DEFAULT '{}',
  p_auto_disable_policy jsonb DEFAULT '{}', p_priority_demote_keywords jsonb DEFAULT NULL,
  p_metadata jsonb DEFAULT '{}', p_status text DEFAULT 'active')
  RETURNS aigw.model_runtime_policy_sets
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  result model_runtime_policy_sets;
BEGIN
  PERFORM require_key(p_policy_key, 'policy_key');
  PERFORM require_text(p_name, 'name');
  PERFORM reject_hard_stop(require_object(p_retry_policy, 'retry_policy'), 'retry_policy');
  PERFORM reject_hard_stop(require_object(p_rate_limit_policy, 'rate_limit_policy'), 'rate_limit_policy');
  PERFORM reject_hard_stop(require_object(p_auto_disable_policy, 'auto_disable_policy'), 'auto_disable_policy');
  PERFORM require_object(p_metadata, 'metadata');
  PERFORM require_one_of(p_status, ARRAY['active', 'disabled'], 'status');
  IF p_priority_demote_keywords IS NOT NULL
     AND (jsonb_typeof(p_priority_demote_keywords) <> 'array'
          OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_priority_demote_keywords) e
                      WHERE jsonb_typeof(e) <> 'string')) THEN
    RAISE EXCEPTION 'priority_demote_keywords must be a JSON array of strings'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO model_runtime_policy_sets AS s
    (policy_key, name, description, retry_policy, rate_limit_policy, auto_disable_policy,
     priority_demote_keywords, metadata, status)
  VALUES (p_policy_key, p_name, p_description, p_retry_policy, p_rate_limit_policy, p_auto_disable_policy,
          coalesce(p_priority_demote_keywords, '[]'), p_metadata, p_status)
  ON CONFLICT (policy_key) DO UPDATE SET
    name = EXCLUDED.name,
    description = coalesce(EXCLUDED.description, s.description),
    retry_policy = s.retry_policy || EXCLUDED.retry_policy,
    rate_limit_policy = s.rate_limit_policy || EXCLUDED.rate_limit_policy,
    auto_disable_policy = s.auto_disable_policy || EXCLUDED.auto_disable_policy,
    priority_demote_keywords = CASE WHEN p_priority_demote_keywords IS NULL THEN s.priority_demote_keywords
                                    ELSE EXCLUDED.priority_demote_keywords END,
    metadata = s.metadata || EXCLUDED.metadata,
    status = EXCLUDED.status,
    updated_at = now()
  RETURNING * INTO result;
  RETURN result;
END
$$;

-- Deletes an unreferenced runtime policy set; the default set stays.
CREATE FUNCTION aigw.delete_runtime_policy_set(p_policy_key text) RETURNS void
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  set_id uuid;
BEGIN
  IF p_policy_key = 'default-runtime-v1' THEN
    RAISE EXCEPTION 'the default runtime policy set cannot be deleted'
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  SELECT id INTO set_id FROM model_runtime_policy_sets WHERE policy_key = p_policy_key FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'runtime policy set "%" does not exist', p_policy_key USING ERRCODE = 'no_data_found';
  END IF;
  IF EXISTS (SELECT 1 FROM platform_models WHERE runtime_policy_set_id = set_id)
     OR EXISTS (SELECT 1 FROM integration_platforms WHERE runtime_policy_set_id = set_id) THEN
    RAISE EXCEPTION 'runtime policy set "%" is still used by platforms or platform models', p_policy_key
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  DELETE FROM model_runtime_policy_sets WHERE id = set_id;
END
$$;

-- Looks up a runtime policy set id by key (null key gives null); 23503 if unknown.
CREATE FUNCTION aigw.runtime_policy_set_id(p_policy_key text) RETURNS uuid
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  set_id uuid;
BEGIN
  IF p_policy_key IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT id INTO set_id FROM model_runtime_policy_sets WHERE policy_key = p_policy_key;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'runtime policy set "%" does not exist', p_policy_key USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN set_id;
END
$$;

-- Creates a base provider.
CREATE FUNCTION aigw.create_provider(
  p_provider_key text, p_display_name text, p_provider_type text,
  p_capability_schema jsonb DEFAULT '{}', p_default_rate_limit_policy jsonb DEFAULT '{}',
  p_metadata jsonb DEFAULT '{}')
  RETURNS aigw.model_catalog_providers
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  result model_catalog_providers;
BEGIN
  PERFORM require_key(p_provider_key, 'provider_key');
  PERFORM require_text(p_display_name, 'display_name');
  PERFORM require_one_of(p_provider_type, ARRAY['openai_compatible', 'anthropic', 'gemini', 'simulation',
                                                'workflow_app', 'image_vendor', 'video_vendor', 'audio_vendor'],
                         'provider_type');
  PERFORM require_object(p_capability_schema, 'capability_schema');
  PERFORM require_object(p_default_rate_limit_policy, 'default_rate_limit_policy');
  PERFORM require_object(p_metadata, 'metadata');
  BEGIN
    INSERT INTO model_catalog_providers (provider_key, display_name, provider_type, capability_schema,
                                         default_rate_limit_policy, metadata)
    VALUES (p_provider_key, p_display_name, p_provider_type, p_capability_schema, p_default_rate_limit_policy,
            p_metadata)
    RETURNING * INTO result;
  EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'provider "%" already exists', p_provider_key USING ERRCODE = 'unique_violation';
  END;
  RETURN result;
END
$$;

-- Updates a provider; null arguments keep the current value.
CREATE FUNCTION aigw.update_provider(
  p_provider_key text, p_display_name text DEFAULT NULL, p_provider_type text DEFAULT NULL,
  p_capability_schema jsonb DEFAULT NULL, p_default_rate_limit_policy jsonb DEFAULT NULL,
  p_metadata jsonb DEFAULT NULL, p_status text DEFAULT NULL)
  RETURNS aigw.model_catalog_providers
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  result model_catalog_providers;
BEGIN
  IF p_display_name IS NOT NULL THEN PERFORM require_text(p_display_name, 'display_name'); END IF;
  IF p_provider_type IS NOT NULL THEN
    PERFORM require_one_of(p_provider_type, ARRAY['openai_compatible', 'anthropic', 'gemini', 'simulation',
                                                  'workflow_app', 'image_vendor', 'video_vendor', 'audio_vendor'],
                           'provider_type');
  END IF;
  IF p_capability_schema IS NOT NULL THEN PERFORM require_object(p_capability_schema, 'capability_schema'); END IF;
  IF p_default_rate_limit_policy IS NOT NULL THEN
    PERFORM require_object(p_default_rate_limit_policy, 'default_rate_limit_policy');
  END IF;
  IF p_metadata IS NOT NULL THEN PERFORM require_object(p_metadata, 'metadata'); END IF;
  IF p_status IS NOT NULL THEN
    PERFORM require_one_of(p_status, ARRAY['active', 'deprecated', 'hidden'], 'status');
  END IF;
  UPDATE model_catalog_providers SET
    display_name = coalesce(p_display_name, display_name),
    provider_type = coalesce(p_provider_type, provider_type),
    capability_schema = coalesce(p_capability_schema, capability_schema),
    default_rate_limit_policy = coalesce(p_default_rate_limit_policy, default_rate_limit_policy),
    metadata = coalesce(p_metadata, metadata),
    status = coalesce(p_status, status),
    updated_at = now()
  WHERE provider_key = p_provider_key
  RETURNING * INTO result;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'provider "%" does not exist', p_provider_key USING ERRCODE = 'no_data_found';
  END IF;
  RETURN result;
END
$$;

-- Creates a base model of a provider. An active base model needs a price.
CREATE FUNCTION aigw.create_base_model(
  p_provider_key text, p_canonical_model_key text, p_provider_model_name text, p_model_type text,
  p_display_name text, p_capabilities jsonb DEFAULT '{}', p_base_billing_config jsonb DEFAULT '{}',
  p_default_rate_limit_policy jsonb DEFAULT '{}', p_metadata jsonb DEFAULT '{}', p_status text DEFAULT 'active')
  RETURNS aigw.base_model_catalog
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  provider model_catalog_providers;
  result base_model_catalog;
BEGIN
  PERFORM require_key(p_canonical_model_key, 'canonical_model_key');
  PERFORM require_text(p_provider_model_name, 'provider_model_name');
  PERFORM require_one_of(p_model_type, ARRAY['chat', 'image', 'video', 'audio', 'embedding', 'music',
                                             'digital_human', 'model_3d'], 'model_type');
  PERFORM require_text(p_display_name, 'display_name');
  PERFORM require_object(p_capabilities, 'capabilities');
  PERFORM require_object(p_base_billing_config, 'base_billing_config');
  PERFORM require_object(p_default_rate_limit_policy, 'default_rate_limit_policy');
  PERFORM require_object(p_metadata, 'metadata');
  PERFORM require_one_of(p_status, ARRAY['active', 'deprecated', 'hidden'], 'status');
  SELECT * INTO provider FROM model_catalog_providers WHERE provider_key = p_provider_key;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'provider "%" does not exist', p_provider_key USING ERRCODE = 'foreign_key_violation';
  END IF;
  BEGIN
    INSERT INTO base_model_catalog (provider_id, provider_key, canonical_model_key, provider_model_name, model_type,
                                    display_name, capabilities, base_billing_config, default_rate_limit_policy,
                                    metadata, status)
    VALUES (provider.id, provider.provider_key, p_canonical_model_key, p_provider_model_name, p_model_type,
            p_display_name, p_capabilities, jsonb_build_object('currency', 'resource') || p_base_billing_config,
            p_default_rate_limit_policy, p_metadata, p_status)
    RETURNING * INTO result;
  EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'base model "%" already exists', p_canonical_model_key USING ERRCODE = 'unique_violation';
  END;
  RETURN result;
END
$$;

-- Updates a base model; null arguments keep the current value. A new
-- base_billing_config replaces the old one as a new pricing version, and every
-- platform model following the latest price is re-resolved.
CREATE FUNCTION aigw.update_base_model(
  p_canonical_model_key text, p_display_name text DEFAULT NULL, p_provider_model_name text DEFAULT NULL,
  p_capabilities jsonb DEFAULT NULL, p_base_billing_config jsonb DEFAULT NULL,
  p_default_rate_limit_policy jsonb DEFAULT NULL, p_metadata jsonb DEFAULT NULL, p_status text DEFAULT NULL)
  RETURNS aigw.base_model_catalog
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  result base_model_catalog;
BEGIN
  IF p_display_name IS NOT NULL THEN PERFORM require_text(p_display_name, 'display_name'); END IF;
  IF p_provider_model_name IS NOT NULL THEN PERFORM require_text(p_provider_model_name, 'provider_model_name'); END IF;
  IF p_capabilities IS NOT NULL THEN PERFORM require_object(p_capabilities, 'capabilities'); END IF;
  IF p_base_billing_config IS NOT NULL THEN PERFORM require_object(p_base_billing_config, 'base_billing_config'); END IF;
  IF p_default_rate_limit_policy IS NOT NULL THEN
    PERFORM require_object(p_default_rate_limit_policy, 'default_rate_limit_policy');
  END IF;
  IF p_metadata IS NOT NULL THEN PERFORM require_object(p_metadata, 'metadata'); END IF;
  IF p_status IS NOT NULL THEN
    PERFORM require_one_of(p_status, ARRAY['active', 'deprecated', 'hidden'], 'status');
  END IF;
  UPDATE base_model_catalog SET
    display_name = coalesce(p_display_name, display_name),
    provider_model_name = coalesce(p_provider_model_name, provider_model_name),
    capabilities = coalesce(p_capabilities, capabilities),
    base_billing_config = coalesce(jsonb_build_object('currency', 'resource') || p_base_billing_config,
                                   base_billing_config),
    default_rate_limit_policy = coalesce(p_default_rate_limit_policy, default_rate_limit_policy),
    metadata = coalesce(p_metadata, metadata),
    status = coalesce(p_status, status)
  WHERE canonical_model_key = p_canonical_model_key
  RETURNING * INTO result;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'base model "%" does not exist', p_canonical_model_key USING ERRCODE = 'no_data_found';
  END IF;
  RETURN result;
END
$$;

-- The billing-config fragment a price rule writes, e.g. {"text": {"inputPer1k": 2.5}}.
CREATE FUNCTION aigw.pricing_rule_fragment(
  p_resource_type text, p_unit text, p_price numeric, p_dynamic_weight jsonb) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  section text;
  price_key text;
  extra jsonb := '{}';
BEGIN
  CASE
    WHEN p_resource_type = 'text_input' AND p_unit = '1k_tokens' THEN section := 'text'; price_key := 'inputPer1k';
    WHEN p_resource_type = 'text_output' AND p_unit = '1k_tokens' THEN section := 'text'; price_key := 'outputPer1k';
    WHEN p_resource_type = 'text_cached_input' AND p_unit = '1k_tokens' THEN
      section := 'text'; price_key := 'cachedInputPer1k';
    WHEN p_resource_type = 'text_total' AND p_unit = '1k_tokens' THEN
      RETURN jsonb_build_object('text', jsonb_build_object('inputPer1k', p_price, 'outputPer1k', p_price));
    WHEN p_resource_type = 'embedding' AND p_unit = '1k_tokens' THEN section := 'embedding'; price_key := 'inputPer1k';
    WHEN p_resource_type = 'image' AND p_unit IN ('image', 'item') THEN section := 'image'; price_key := 'perImage';
    WHEN p_resource_type = 'video' AND p_unit IN ('second', '5s') THEN
      section := 'video'; price_key := 'perUnit';
      extra := jsonb_build_object('unitSeconds', CASE p_unit WHEN '5s' THEN 5 ELSE 1 END);
    WHEN p_resource_type = 'audio' AND p_unit = 'character_1k' THEN section := 'audio'; price_key := 'per1kCharacters';
    WHEN p_resource_type = 'audio' AND p_unit = 'second' THEN section := 'audio'; price_key := 'perSecond';
    WHEN p_resource_type IN ('music', 'digital_human', 'model') AND p_unit IN ('item', 'second') THEN
      section := CASE p_resource_type WHEN 'model' THEN 'model_3d' ELSE p_resource_type END;
      price_key := CASE p_unit WHEN 'item' THEN 'perItem' ELSE 'perSecond' END;
    ELSE
      RAISE EXCEPTION 'resource type % cannot be priced per %', p_resource_type, p_unit
        USING ERRCODE = 'invalid_parameter_value';
  END CASE;
  IF p_dynamic_weight IS NOT NULL AND p_dynamic_weight <> '{}' THEN
    IF section NOT IN ('image', 'video') THEN
      RAISE EXCEPTION 'dynamic weights apply to image and video prices only' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_object_keys(p_dynamic_weight) k WHERE k !~ 'Weights$') THEN
      RAISE EXCEPTION 'dynamic_weight may only hold *Weights objects, e.g. resolutionWeights'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    extra := extra || p_dynamic_weight;
  END IF;
  RETURN jsonb_build_object(section, jsonb_build_object(price_key, p_price) || extra);
END
$$;

-- The model type a priced resource belongs to.
CREATE FUNCTION aigw.pricing_rule_model_type(p_resource_type text) RETURNS text
  LANGUAGE sql IMMUTABLE
  SET search_path = aigw, pg_catalog
RETURN CASE
  WHEN p_resource_type LIKE 'text\_%' THEN 'chat'
  WHEN p_resource_type = 'model' THEN 'model_3d'
  ELSE p_resource_type
END;

-- Writes a due price rule into the configuration it targets: a base model's
-- price (a new pricing version), a platform model's billing override, or the
-- billing override of every model of that type on a platform.
CREATE FUNCTION aigw.apply_pricing_rule(p_rule_id uuid) RETURNS aigw.model_pricing_rules
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  rule model_pricing_rules;
  fragment jsonb;
  price numeric;
  new_version int;
  target_currency text;
BEGIN
  SELECT * INTO rule FROM model_pricing_rules WHERE id = p_rule_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pricing rule % does not exist', p_rule_id USING ERRCODE = 'no_data_found';
  END IF;
  IF rule.applied_at IS NOT NULL THEN
    RETURN rule;
  END IF;
  price := trim_scale(rule.base_price * coalesce((rule.base_weight ->> 'multiplier')::numeric, 1));
  fragment := pricing_rule_fragment(rule.resource_type, rule.unit, price, rule.dynamic_weight);
  CASE rule.scope_type
    WHEN 'base_model' THEN
      SELECT coalesce(base_billing_config ->> 'currency', 'resource') INTO target_currency
        FROM base_model_catalog WHERE id = rule.scope_id;
      IF target_currency <> rule.currency THEN
        RAISE EXCEPTION 'rule currency % differs from the base model currency %', rule.currency, target_currency
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
      UPDATE base_model_catalog SET base_billing_config = merge_model_config(base_billing_config, fragment)
       WHERE id = rule.scope_id RETURNING pricing_version INTO new_version;
    WHEN 'platform_model' THEN
      UPDATE platform_models
         SET billing_config_override = merge_model_config(billing_config_override,
                                                          jsonb_build_object('currency', rule.currency) || fragment)
       WHERE id = rule.scope_id;
    WHEN 'platform' THEN
      UPDATE platform_models
         SET billing_config_override = merge_model_config(billing_config_override,
                                                          jsonb_build_object('currency', rule.currency) || fragment)
       WHERE platform_id = rule.scope_id AND model_type = pricing_rule_model_type(rule.resource_type);
  END CASE;
  -- The previous rule for the same scope and resource ends where this one starts.
  UPDATE model_pricing_rules SET effective_to = coalesce(rule.effective_from, now()), updated_at = now()
   WHERE scope_type = rule.scope_type AND scope_id = rule.scope_id AND resource_type = rule.resource_type
     AND id <> rule.id AND applied_at IS NOT NULL AND effective_to IS NULL;
  UPDATE model_pricing_rules SET applied_at = now(), pricing_version = new_version,
                                 effective_from = coalesce(effective_from, now()), updated_at = now()
   WHERE id = rule.id RETURNING * INTO rule;
  RETURN rule;
END
$$;

-- Records a versioned price rule (§7.9.3) and applies it at once unless it
-- starts in the future; aigw.apply_due_pricing_rules() applies those later.
CREATE FUNCTION aigw.add_pricing_rule(
  p_scope_type text, p_scope_id uuid, p_resource_type text, p_unit text, p_base_price numeric,
  p_currency text DEFAULT 'resource', p_base_weight jsonb DEFAULT '{}', p_dynamic_weight jsonb DEFAULT '{}',
  p_effective_from timestamptz DEFAULT NULL)
  RETURNS aigw.model_pricing_rules
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  rule model_pricing_rules;
BEGIN
  PERFORM require_one_of(p_scope_type, ARRAY['base_model', 'platform', 'platform_model'], 'scope_type');
  IF p_scope_id IS NULL THEN
    RAISE EXCEPTION 'scope_id is required' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM require_one_of(p_resource_type, ARRAY['text_input', 'text_output', 'text_cached_input', 'text_total',
                                                'embedding', 'image', 'video', 'audio', 'music', 'digital_human',
                                                'model'], 'resource_type');
  PERFORM require_one_of(p_unit, ARRAY['1k_tokens', 'image', '5s', 'second', 'character_1k', 'item'], 'unit');
  PERFORM require_one_of(p_currency, ARRAY['resource', 'credit', 'cny', 'usd'], 'currency');
  IF p_base_price IS NULL OR p_base_price < 0 THEN
    RAISE EXCEPTION 'base_price must be a non-negative number' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM require_object(p_base_weight, 'base_weight');
  PERFORM require_object(p_dynamic_weight, 'dynamic_weight');
  IF p_base_weight ? 'multiplier' AND (jsonb_typeof(p_base_weight -> 'multiplier') <> 'number'
                                       OR (p_base_weight ->> 'multiplier')::numeric <= 0) THEN
    RAISE EXCEPTION 'base_weight.multiplier must be a positive number' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM check_billing_config(jsonb_build_object('x', p_dynamic_weight), 'dynamic_weight');
  PERFORM pricing_rule_fragment(p_resource_type, p_unit, p_base_price, p_dynamic_weight);
  IF (p_scope_type = 'base_model' AND NOT EXISTS (SELECT 1 FROM base_model_catalog WHERE id = p_scope_id))
     OR (p_scope_type = 'platform' AND NOT EXISTS (SELECT 1 FROM integration_platforms
                                                    WHERE id = p_scope_id AND deleted_at IS NULL))
     OR (p_scope_type = 'platform_model' AND NOT EXISTS (SELECT 1 FROM platform_models WHERE id = p_scope_id)) THEN
    RAISE EXCEPTION '% % does not exist', replace(p_scope_type, '_', ' '), p_scope_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  IF p_scope_type = 'platform_model' AND pricing_rule_model_type(p_resource_type)
       <> (SELECT model_type FROM platform_models WHERE id = p_scope_id) THEN
    RAISE EXCEPTION 'resource type % does not apply to this platform model''s type', p_resource_type
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_scope_type = 'base_model' AND pricing_rule_model_type(p_resource_type)
       <> (SELECT model_type FROM base_model_catalog WHERE id = p_scope_id) THEN
    RAISE EXCEPTION 'resource type % does not apply to this base model''s type', p_resource_type
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO model_pricing_rules (scope_type, scope_id, resource_type, unit, base_price, currency, base_weight,
                                   dynamic_weight, effective_from)
  VALUES (p_scope_type, p_scope_id, p_resource_type, p_unit, p_base_price, p_currency, p_base_weight,
          p_dynamic_weight, p_effective_from)
  RETURNING * INTO rule;
  IF p_effective_from IS NULL OR p_effective_from <= now() THEN
    rule := apply_pricing_rule(rule.id);
  END IF;
  RETURN rule;
END
$$;

-- Applies every price rule whose start time has come; returns how many.
CREATE FUNCTION aigw.apply_due_pricing_rules() RETURNS int
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  rule_id uuid;
  applied int := 0;
BEGIN
  FOR rule_id IN SELECT id FROM model_pricing_rules
                  WHERE applied_at IS NULL AND effective_from <= now()
                  ORDER BY effective_from, created_at
                  FOR UPDATE SKIP LOCKED LOOP
    PERFORM apply_pricing_rule(rule_id);
    applied := applied + 1;
  END LOOP;
  RETURN applied;
END
$$;
