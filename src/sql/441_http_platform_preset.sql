-- POST /integration-platform/preset (seed 003 section 6.2): a platform built
-- from a catalog provider, with the provider's known base URL and auth type
-- and its active catalog models, priced by inheritance from the base models.

-- The auth type a catalog provider's API uses: Anthropic and Gemini take an
-- API key header, simulation needs nothing, OpenAI-compatible APIs a bearer token.
CREATE FUNCTION aigw.http_preset_auth_type(p aigw.model_catalog_providers) RETURNS text
  LANGUAGE sql IMMUTABLE
  RETURN CASE
    WHEN p.provider_type = 'simulation' OR p.capability_schema->>'api' = 'simulation' THEN 'none'
    WHEN p.capability_schema->>'api' IN ('anthropic-messages', 'gemini') THEN 'api_key'
    ELSE 'bearer' END;

-- The preset a provider offers: what POST /integration-platform/preset would create.
CREATE FUNCTION aigw.platform_preset(p_provider text) RETURNS jsonb
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  p aigw.model_catalog_providers;
BEGIN
  SELECT * INTO p FROM aigw.model_catalog_providers WHERE provider_key = p_provider AND status <> 'hidden';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no preset for provider "%"', p_provider USING ERRCODE = 'AG404',
      HINT = 'GET /api/v1/catalog/providers lists the providers';
  END IF;
  RETURN jsonb_strip_nulls(jsonb_build_object(
    'provider', p.provider_key, 'name', p.display_name, 'providerType', p.provider_type,
    'baseUrl', p.metadata->>'baseUrl', 'authType', aigw.http_preset_auth_type(p),
    'needsCredentials', coalesce((p.metadata->>'needsCredentials')::boolean, true),
    'rateLimitPolicy', p.default_rate_limit_policy,
    'models', (SELECT coalesce(jsonb_agg(jsonb_build_object('baseModel', b.canonical_model_key,
                                                            'modelName', b.provider_model_name,
                                                            'modelType', b.model_type)
                                         ORDER BY b.model_type, b.canonical_model_key), '[]')
                 FROM aigw.base_model_catalog b WHERE b.provider_id = p.id AND b.status = 'active')));
END
$$;
COMMENT ON FUNCTION aigw.platform_preset(text) IS
  'preset of a catalog provider: base URL, auth type, rate limits and active catalog models';

-- POST /integration-platform/preset
-- {provider (or preset), platformKey?, name?, baseUrl?, credentials?, models? [canonical keys or model
--  names], defaultDiscountFactor?, priority?, config?, visibilityScope?, tenantId?, tenantKey?}
CREATE FUNCTION aigw.http_h_platform_preset(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  b jsonb := aigw.http_body_object(ctx);
  v_provider text := coalesce(b->>'provider', b->>'preset');
  preset jsonb;
  creds jsonb := coalesce(b->'credentials', '{}');
  wanted jsonb := b->'models';
  plat aigw.integration_platforms;
  m jsonb;
  unknown text;
  n int := 0;
BEGIN
  IF v_provider IS NULL OR btrim(v_provider) = '' THEN
    RAISE EXCEPTION 'provider (the preset) is required' USING ERRCODE = 'AG400';
  END IF;
  IF jsonb_typeof(creds) <> 'object' THEN
    RAISE EXCEPTION 'credentials must be an object' USING ERRCODE = 'AG400';
  END IF;
  IF wanted IS NOT NULL AND (jsonb_typeof(wanted) <> 'array'
                             OR EXISTS (SELECT 1 FROM jsonb_array_elements(wanted) e WHERE jsonb_typeof(e) <> 'string')) THEN
    RAISE EXCEPTION 'models must be an array of model names' USING ERRCODE = 'AG400';
  END IF;
  preset := aigw.platform_preset(v_provider);
  IF coalesce(b->>'baseUrl', preset->>'baseUrl') IS NULL AND preset->>'authType' <> 'none' THEN
    RAISE EXCEPTION 'provider "%" has no known base URL: baseUrl is required', v_provider USING ERRCODE = 'AG400';
  END IF;
  IF wanted IS NOT NULL THEN
    SELECT string_agg(w, ', ') INTO unknown
      FROM jsonb_array_elements_text(wanted) w
     WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(preset->'models') pm
                        WHERE pm->>'baseModel' = w OR pm->>'modelName' = w);
    IF unknown IS NOT NULL THEN
      RAISE EXCEPTION 'provider "%" has no catalog model %', v_provider, unknown USING ERRCODE = 'AG404';
    END IF;
  END IF;
  IF EXISTS (SELECT 1 FROM aigw.integration_platforms WHERE platform_key = coalesce(b->>'platformKey', v_provider)) THEN
    RAISE EXCEPTION 'platform "%" already exists', coalesce(b->>'platformKey', v_provider) USING ERRCODE = 'AG409',
      HINT = 'give another platformKey';
  END IF;
  BEGIN
    plat := aigw.create_platform(
      v_provider, coalesce(b->>'platformKey', v_provider), coalesce(b->>'name', preset->>'name'),
      coalesce(b->>'baseUrl', preset->>'baseUrl'), preset->>'authType', creds, coalesce(b->'config', '{}'),
      coalesce((b->>'defaultDiscountFactor')::numeric, 1), 'inherit_discount',
      coalesce(b->>'visibilityScope', 'global'), b->>'tenantId', b->>'tenantKey',
      coalesce((b->>'priority')::int, 100), b->>'runtimePolicyKey', '{}', coalesce(preset->'rateLimitPolicy', '{}'));
  EXCEPTION
    WHEN invalid_text_representation THEN
      RAISE EXCEPTION 'priority and defaultDiscountFactor must be numbers' USING ERRCODE = 'AG400';
    WHEN unique_violation THEN
      RAISE EXCEPTION 'platform "%" already exists', coalesce(b->>'platformKey', v_provider) USING ERRCODE = 'AG409';
  END;
  FOR m IN SELECT e FROM jsonb_array_elements(preset->'models') e
            WHERE wanted IS NULL OR wanted ? (e->>'baseModel') OR wanted ? (e->>'modelName') LOOP
    PERFORM aigw.add_platform_model(plat.id, m->>'modelName', m->>'baseModel');
    n := n + 1;
  END LOOP;
  -- a platform that needs credentials cannot serve without them: created disabled
  IF (preset->>'needsCredentials')::boolean AND creds = '{}' AND preset->>'authType' <> 'none' THEN
    plat := aigw.disable_platform(plat.id, 'created from a preset without credentials');
  END IF;
  SELECT * INTO plat FROM aigw.integration_platforms WHERE id = plat.id;
  RETURN aigw.http_resop(aigw.http_platform_json(plat) || jsonb_build_object(
    'preset', v_provider, 'modelCount', n,
    'models', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', pm.id, 'modelName', pm.model_name,
                                                            'modelType', pm.model_type, 'enabled', pm.enabled)
                                         ORDER BY pm.model_type, pm.model_name), '[]')
                 FROM aigw.platform_models pm WHERE pm.platform_id = plat.id)), 201);
END
$$;

INSERT INTO aigw.http_routes (method, pattern, handler, permission, admin_only, description) VALUES
  ('POST', '/integration-platform/preset', 'platform_preset', 'power', true,
   'creates a platform from a catalog provider preset');
