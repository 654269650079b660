-- Effective model resolution (seed 003 §9.2, §9.4): a platform model's
-- capabilities and billing_config are derived from its base model (at the
-- latest or a pinned pricing version), the discount factor and its overrides,
-- and are recomputed by triggers whenever any of those inputs changes.
-- The user-group discount (§9.2 step 4) is applied per request by the pricing
-- resolver, on top of platform_models.billing_config.

ALTER TABLE aigw.platform_models ADD COLUMN resolved_pricing_version int;
COMMENT ON COLUMN aigw.platform_models.pricing_version IS
  'pinned base pricing version; null follows the latest base price';
COMMENT ON COLUMN aigw.platform_models.resolved_pricing_version IS
  'base pricing version billing_config was resolved from (derived)';
COMMENT ON COLUMN aigw.platform_models.capabilities IS
  'effective capabilities: base capabilities deep-merged with capability_override (derived)';
COMMENT ON COLUMN aigw.platform_models.billing_config IS
  'effective prices: base price x discount, deep-merged with billing_config_override (derived)';

-- Deep merge of two JSON objects: objects merge key by key, anything else in
-- the override replaces the base value.
CREATE FUNCTION aigw.merge_model_config(base jsonb, override jsonb) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  merged jsonb;
  k text;
  v jsonb;
BEGIN
  IF override IS NULL THEN
    RETURN base;
  END IF;
  IF base IS NULL OR jsonb_typeof(base) <> 'object' OR jsonb_typeof(override) <> 'object' THEN
    RETURN override;
  END IF;
  merged := base;
  FOR k, v IN SELECT key, value FROM jsonb_each(override) LOOP
    IF jsonb_typeof(v) = 'object' AND jsonb_typeof(merged -> k) = 'object' THEN
      merged := jsonb_set(merged, ARRAY[k], merge_model_config(merged -> k, v));
    ELSE
      merged := jsonb_set(merged, ARRAY[k], v);
    END IF;
  END LOOP;
  RETURN merged;
END
$$;

-- True for keys that hold a price (perImage, inputPer1k, per1kCharacters, ...);
-- weights and unit sizes are not prices.
CREATE FUNCTION aigw.is_price_key(k text) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  SET search_path = aigw, pg_catalog
  RETURN k ~ '^per' OR k ~ 'Per1k$';

-- Checks that every price in a billing config is a non-negative number and
-- every weight a positive number; raises 22023 otherwise.
CREATE FUNCTION aigw.check_billing_config(config jsonb, what text) RETURNS void
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  k text;
  v jsonb;
  w jsonb;
BEGIN
  IF config IS NULL OR jsonb_typeof(config) <> 'object' THEN
    RAISE EXCEPTION '% must be a JSON object', what USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR k, v IN SELECT key, value FROM jsonb_each(config) LOOP
    IF k = 'currency' THEN
      IF jsonb_typeof(v) <> 'string' OR v #>> '{}' NOT IN ('resource', 'credit', 'cny', 'usd') THEN
        RAISE EXCEPTION '%: unknown currency %', what, v USING ERRCODE = 'invalid_parameter_value';
      END IF;
    ELSIF is_price_key(k) THEN
      IF jsonb_typeof(v) <> 'number' OR (v #>> '{}')::numeric < 0 THEN
        RAISE EXCEPTION '%: price "%" must be a non-negative number, got %', what, k, v
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
    ELSIF k ~ 'Weights$' THEN
      IF jsonb_typeof(v) <> 'object' THEN
        RAISE EXCEPTION '%: "%" must be an object of weights', what, k USING ERRCODE = 'invalid_parameter_value';
      END IF;
      FOR w IN SELECT value FROM jsonb_each(v) LOOP
        IF jsonb_typeof(w) <> 'number' OR (w #>> '{}')::numeric <= 0 THEN
          RAISE EXCEPTION '%: weights in "%" must be positive numbers, got %', what, k, w
            USING ERRCODE = 'invalid_parameter_value';
        END IF;
      END LOOP;
    ELSIF k = 'unitSeconds' THEN
      IF jsonb_typeof(v) <> 'number' OR (v #>> '{}')::numeric <= 0 THEN
        RAISE EXCEPTION '%: unitSeconds must be a positive number', what USING ERRCODE = 'invalid_parameter_value';
      END IF;
    ELSIF jsonb_typeof(v) = 'object' THEN
      PERFORM check_billing_config(v, what || '.' || k);
    END IF;
  END LOOP;
END
$$;

-- Expands a single total text price into input and output prices (§9.3).
CREATE FUNCTION aigw.expand_total_price(config jsonb) RETURNS jsonb
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = aigw, pg_catalog
RETURN CASE
  WHEN config ? 'totalPer1k' THEN
    jsonb_set(config, '{text}',
              jsonb_build_object('inputPer1k', config -> 'totalPer1k', 'outputPer1k', config -> 'totalPer1k')
              || coalesce(CASE WHEN jsonb_typeof(config -> 'text') = 'object' THEN config -> 'text' END, '{}'))
  ELSE config
END;

-- Multiplies every price in a billing config by factor; weights are kept.
CREATE FUNCTION aigw.scale_billing_prices(config jsonb, factor numeric) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  scaled jsonb := '{}';
  k text;
  v jsonb;
BEGIN
  IF jsonb_typeof(config) <> 'object' THEN
    RETURN config;
  END IF;
  FOR k, v IN SELECT key, value FROM jsonb_each(config) LOOP
    IF is_price_key(k) AND jsonb_typeof(v) = 'number' THEN
      scaled := scaled || jsonb_build_object(k, trim_scale((v #>> '{}')::numeric * factor));
    ELSIF jsonb_typeof(v) = 'object' AND k !~ 'Weights$' THEN
      scaled := scaled || jsonb_build_object(k, scale_billing_prices(v, factor));
    ELSE
      scaled := scaled || jsonb_build_object(k, v);
    END IF;
  END LOOP;
  RETURN scaled;
END
$$;

-- Names the price a model type needs and does not have in config, or null
-- when config prices the type.
CREATE FUNCTION aigw.missing_price(model_type text, config jsonb) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  SET search_path = aigw, pg_catalog
RETURN CASE model_type
  WHEN 'chat' THEN
    CASE WHEN jsonb_typeof(config #> '{text,inputPer1k}') IS DISTINCT FROM 'number' THEN 'text.inputPer1k'
         WHEN jsonb_typeof(config #> '{text,outputPer1k}') IS DISTINCT FROM 'number' THEN 'text.outputPer1k'
    END
  WHEN 'embedding' THEN
    CASE WHEN jsonb_typeof(config #> '{embedding,inputPer1k}') IS DISTINCT FROM 'number' THEN 'embedding.inputPer1k' END
  WHEN 'image' THEN
    CASE WHEN jsonb_typeof(config #> '{image,perImage}') IS DISTINCT FROM 'number' THEN 'image.perImage' END
  WHEN 'video' THEN
    CASE WHEN jsonb_typeof(config #> '{video,perUnit}') IS DISTINCT FROM 'number' THEN 'video.perUnit' END
  WHEN 'audio' THEN
    CASE WHEN jsonb_typeof(config #> '{audio,per1kCharacters}') IS DISTINCT FROM 'number'
              AND jsonb_typeof(config #> '{audio,perSecond}') IS DISTINCT FROM 'number'
         THEN 'audio.per1kCharacters or audio.perSecond' END
  ELSE
    CASE WHEN NOT EXISTS (SELECT 1 FROM jsonb_each(CASE WHEN jsonb_typeof(config -> model_type) = 'object'
                                                        THEN config -> model_type ELSE '{}' END) e
                           WHERE aigw.is_price_key(e.key) AND jsonb_typeof(e.value) = 'number')
         THEN model_type || '.per*' END
END;

-- Resolves effective capabilities and prices in §9.2's order: overrides,
-- model discount, platform discount, base model. custom uses the billing
-- override alone, which must then be complete.
CREATE FUNCTION aigw.resolve_model_config(
  p_base_model_id uuid, p_pricing_version int, p_pricing_mode text, p_discount_factor numeric,
  p_platform_discount_factor numeric, p_capability_override jsonb, p_billing_config_override jsonb,
  OUT capabilities jsonb, OUT billing_config jsonb, OUT resolved_pricing_version int)
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  base_caps jsonb := '{}';
  base_price jsonb := '{}';
  base_key text;
  factor numeric;
  override jsonb := expand_total_price(coalesce(p_billing_config_override, '{}'));
BEGIN
  IF p_base_model_id IS NOT NULL THEN
    SELECT b.capabilities, b.base_billing_config, b.pricing_version, b.canonical_model_key
      INTO base_caps, base_price, resolved_pricing_version, base_key
      FROM base_model_catalog b WHERE b.id = p_base_model_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'base model % does not exist', p_base_model_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF p_pricing_version IS NOT NULL THEN
      SELECT v.base_billing_config INTO base_price
        FROM base_model_pricing_versions v
       WHERE v.base_model_id = p_base_model_id AND v.pricing_version = p_pricing_version;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'base model "%" has no pricing version %', base_key, p_pricing_version
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
      resolved_pricing_version := p_pricing_version;
    END IF;
  ELSIF p_pricing_version IS NOT NULL THEN
    RAISE EXCEPTION 'a pricing version can only be pinned on a platform model with a base model'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  capabilities := merge_model_config(base_caps, coalesce(p_capability_override, '{}'));

  IF p_pricing_mode = 'custom' THEN
    billing_config := override;
    resolved_pricing_version := NULL;
  ELSE
    factor := CASE p_pricing_mode WHEN 'inherit' THEN 1
                                  ELSE coalesce(p_discount_factor, p_platform_discount_factor, 1) END;
    IF override ? 'currency' AND override ->> 'currency' <> coalesce(base_price ->> 'currency', 'resource') THEN
      RAISE EXCEPTION 'billing override currency % differs from the base price currency %',
        override ->> 'currency', coalesce(base_price ->> 'currency', 'resource')
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    billing_config := merge_model_config(scale_billing_prices(expand_total_price(base_price), factor), override);
  END IF;
  billing_config := jsonb_build_object('currency', 'resource') || billing_config;
END
$$;

-- BEFORE trigger of platform_models: validates the inputs and derives
-- capabilities and billing_config. An enabled model must have a price.
CREATE FUNCTION aigw.platform_models_resolve() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  base_type text;
  platform_factor numeric;
  platform_key text;
  missing text;
BEGIN
  IF NEW.runtime_policy_override IS NOT NULL
     AND jsonb_path_exists(NEW.runtime_policy_override, 'lax $.**.hardStopPolicy') THEN
    RAISE EXCEPTION 'runtime_policy_override of model "%" may not contain hardStopPolicy', NEW.model_name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'The hard-stop policy is global (gateway_runner_policies) and cannot be overridden per model.';
  END IF;
  IF NEW.base_model_id IS NOT NULL THEN
    SELECT b.model_type INTO base_type FROM base_model_catalog b WHERE b.id = NEW.base_model_id;
    IF FOUND AND base_type <> NEW.model_type THEN
      RAISE EXCEPTION 'model "%" has type % but its base model has type %', NEW.model_name, NEW.model_type, base_type
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END IF;
  PERFORM check_billing_config(NEW.billing_config_override, 'billing_config_override');
  SELECT p.default_discount_factor, p.platform_key INTO platform_factor, platform_key
    FROM integration_platforms p WHERE p.id = NEW.platform_id;

  SELECT r.capabilities, r.billing_config, r.resolved_pricing_version
    INTO NEW.capabilities, NEW.billing_config, NEW.resolved_pricing_version
    FROM resolve_model_config(NEW.base_model_id, NEW.pricing_version, NEW.pricing_mode, NEW.discount_factor,
                              platform_factor, NEW.capability_override, NEW.billing_config_override) r;

  IF NEW.enabled THEN
    missing := missing_price(NEW.model_type, NEW.billing_config);
    IF missing IS NOT NULL THEN
      RAISE EXCEPTION 'enabled model "%" on platform "%" has no price: % is missing', NEW.model_name,
        platform_key, missing
        USING ERRCODE = 'check_violation',
              HINT = 'Give the model a base model with a price, a billing_config_override, or disable it.';
    END IF;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER platform_models_resolve
  BEFORE INSERT OR UPDATE ON aigw.platform_models
  FOR EACH ROW EXECUTE FUNCTION aigw.platform_models_resolve();

-- BEFORE trigger of base_model_catalog: validates prices and bumps the
-- pricing version whenever the base price changes.
CREATE FUNCTION aigw.base_model_catalog_version() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  missing text;
BEGIN
  PERFORM check_billing_config(NEW.base_billing_config, 'base_billing_config');
  IF NEW.status = 'active' THEN
    missing := missing_price(NEW.model_type, expand_total_price(NEW.base_billing_config));
    IF missing IS NOT NULL THEN
      RAISE EXCEPTION 'active base model "%" has no price: % is missing', NEW.canonical_model_key, missing
        USING ERRCODE = 'check_violation', HINT = 'Give it a base_billing_config or mark it hidden.';
    END IF;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    -- Versions only move forward; a new price is at least the next version
    -- (a restore may carry a later one).
    IF NEW.base_billing_config IS DISTINCT FROM OLD.base_billing_config THEN
      NEW.pricing_version := greatest(NEW.pricing_version, OLD.pricing_version + 1);
    ELSE
      NEW.pricing_version := greatest(NEW.pricing_version, OLD.pricing_version);
    END IF;
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER base_model_catalog_version
  BEFORE INSERT OR UPDATE ON aigw.base_model_catalog
  FOR EACH ROW EXECUTE FUNCTION aigw.base_model_catalog_version();

-- AFTER trigger of base_model_catalog: records the price version and
-- re-resolves every platform model built on this base model.
CREATE FUNCTION aigw.base_model_catalog_propagate() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  INSERT INTO base_model_pricing_versions (base_model_id, pricing_version, base_billing_config)
  VALUES (NEW.id, NEW.pricing_version, NEW.base_billing_config)
  ON CONFLICT (base_model_id, pricing_version) DO NOTHING;
  IF TG_OP = 'UPDATE' AND (NEW.capabilities IS DISTINCT FROM OLD.capabilities
                           OR NEW.base_billing_config IS DISTINCT FROM OLD.base_billing_config
                           OR NEW.model_type IS DISTINCT FROM OLD.model_type) THEN
    -- Lock in id order so that concurrent re-resolutions cannot deadlock.
    PERFORM 1 FROM platform_models WHERE base_model_id = NEW.id ORDER BY id FOR UPDATE;
    UPDATE platform_models SET updated_at = now() WHERE base_model_id = NEW.id;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER base_model_catalog_propagate
  AFTER INSERT OR UPDATE ON aigw.base_model_catalog
  FOR EACH ROW EXECUTE FUNCTION aigw.base_model_catalog_propagate();

-- AFTER trigger of integration_platforms: a new default discount re-resolves
-- the platform's models.
CREATE FUNCTION aigw.integration_platforms_propagate() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  PERFORM 1 FROM platform_models WHERE platform_id = NEW.id ORDER BY id FOR UPDATE;
  UPDATE platform_models SET updated_at = now() WHERE platform_id = NEW.id;
  RETURN NULL;
END
$$;

CREATE TRIGGER integration_platforms_propagate
  AFTER UPDATE OF default_discount_factor ON aigw.integration_platforms
  FOR EACH ROW WHEN (NEW.default_discount_factor IS DISTINCT FROM OLD.default_discount_factor)
  EXECUTE FUNCTION aigw.integration_platforms_propagate();

-- BEFORE INSERT trigger of the catalog tables: an insert whose id already
-- exists updates that row instead. Ids are random or, for seeded rows,
-- aigw.seed_id(), so this happens only when a pg_dump of the catalog is
-- restored over the rows CREATE EXTENSION seeded; the dump's version wins.
CREATE FUNCTION aigw.catalog_restore_merge() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  found boolean;
  cols text;
BEGIN
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I WHERE id = $1)', TG_TABLE_SCHEMA, TG_TABLE_NAME)
    INTO found USING NEW.id;
  IF NOT found THEN
    RETURN NEW;
  END IF;
  SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
    FROM pg_attribute WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped AND attname <> 'id';
  EXECUTE format('UPDATE %I.%I SET (%s) = (SELECT %s FROM (SELECT ($1).*) AS r) WHERE id = ($1).id',
                 TG_TABLE_SCHEMA, TG_TABLE_NAME, cols, cols) USING NEW;
  RETURN NULL;
END
$$;

-- The same for price versions, keyed by (base model, version): the trigger
-- above recreates a restored base model's current version before the dump's
-- copy of it arrives.
CREATE FUNCTION aigw.pricing_versions_restore_merge() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  UPDATE base_model_pricing_versions
     SET base_billing_config = NEW.base_billing_config, created_at = NEW.created_at
   WHERE base_model_id = NEW.base_model_id AND pricing_version = NEW.pricing_version;
  IF FOUND THEN
    RETURN NULL;
  END IF;
  RETURN NEW;
END
$$;

-- Named to fire before the tables' other BEFORE INSERT triggers.
CREATE TRIGGER aigw_restore_merge BEFORE INSERT ON aigw.gateway_runner_policies
  FOR EACH ROW EXECUTE FUNCTION aigw.catalog_restore_merge();
CREATE TRIGGER aigw_restore_merge BEFORE INSERT ON aigw.model_runtime_policy_sets
  FOR EACH ROW EXECUTE FUNCTION aigw.catalog_restore_merge();
CREATE TRIGGER aigw_restore_merge BEFORE INSERT ON aigw.model_catalog_providers
  FOR EACH ROW EXECUTE FUNCTION aigw.catalog_restore_merge();
CREATE TRIGGER aigw_restore_merge BEFORE INSERT ON aigw.base_model_catalog
  FOR EACH ROW EXECUTE FUNCTION aigw.catalog_restore_merge();
CREATE TRIGGER aigw_restore_merge BEFORE INSERT ON aigw.integration_platforms
  FOR EACH ROW EXECUTE FUNCTION aigw.catalog_restore_merge();
CREATE TRIGGER aigw_restore_merge BEFORE INSERT ON aigw.platform_models
  FOR EACH ROW EXECUTE FUNCTION aigw.catalog_restore_merge();
CREATE TRIGGER aigw_restore_merge BEFORE INSERT ON aigw.base_model_pricing_versions
  FOR EACH ROW EXECUTE FUNCTION aigw.pricing_versions_restore_merge();
