-- Model lists (OpenAI-compatible and EasyAI), the base model catalog, and the
-- local administrator that `make run` creates.

-- GET /v1/models: OpenAI's list shape, one entry per public model name.
CREATE FUNCTION aigw.http_h_v1_models(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  SET search_path = aigw, pg_catalog
  RETURN aigw.http_json(200, jsonb_build_object('object', 'list', 'data',
    (SELECT coalesce(jsonb_agg(jsonb_build_object('id', name, 'object', 'model', 'created', created,
                                                  'owned_by', owner) ORDER BY name), '[]')
       FROM (SELECT coalesce(m.model_alias, m.model_name) AS name,
                    min(extract(epoch FROM m.created_at))::bigint AS created, min(p.provider) AS owner
               FROM aigw.platform_models m JOIN aigw.integration_platforms p ON p.id = m.platform_id
              WHERE m.enabled AND p.status = 'enabled' AND p.deleted_at IS NULL
              GROUP BY 1) x)));

-- GET /v1/models/list and /models/list: EasyAI's list (ResOp) of enabled models.
CREATE FUNCTION aigw.http_h_models_list(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  RETURN aigw.http_resop(aigw.http_models_json(ctx.query->>'type', true));

-- GET /v1/embeddings/models and /embeddings/models
CREATE FUNCTION aigw.http_h_embedding_models(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  RETURN aigw.http_resop(aigw.http_models_json('embedding', true));

-- GET /api/v1/catalog/providers
CREATE FUNCTION aigw.http_h_catalog_providers(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  SET search_path = aigw, pg_catalog
  RETURN aigw.http_json(200, jsonb_build_object('data',
    (SELECT coalesce(jsonb_agg(to_jsonb(p) ORDER BY p.provider_key), '[]') FROM aigw.model_catalog_providers p)));

-- GET /api/v1/catalog/base-models (?type=&provider=)
CREATE FUNCTION aigw.http_h_catalog_base_models(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  SET search_path = aigw, pg_catalog
  RETURN aigw.http_json(200, jsonb_build_object('data',
    (SELECT coalesce(jsonb_agg(to_jsonb(b) ORDER BY b.canonical_model_key), '[]')
       FROM aigw.base_model_catalog b
      WHERE (ctx.query->>'type' IS NULL OR b.model_type = ctx.query->>'type')
        AND (ctx.query->>'provider' IS NULL OR b.provider_key = ctx.query->>'provider'))));

-- GET /api/v1/catalog/base-models/:id (uuid or canonical key)
CREATE FUNCTION aigw.http_h_catalog_base_model(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  j jsonb;
BEGIN
  SELECT to_jsonb(b) INTO j FROM aigw.base_model_catalog b
   WHERE b.id::text = ctx.params->>'id' OR b.canonical_model_key = ctx.params->>'id';
  IF j IS NULL THEN
    RAISE EXCEPTION 'base model % not found', ctx.params->>'id' USING ERRCODE = 'AG404';
  END IF;
  RETURN aigw.http_json(200, j);
END
$$;

-- Creates (once) the local administrator and returns a new API key for it.
-- The key is shown only here; the database keeps its SHA-256.
CREATE FUNCTION aigw.create_admin_api_key(p_name text DEFAULT 'admin') RETURNS text
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  uid uuid;
  k text := aigw.api_key_generate();
BEGIN
  INSERT INTO aigw.gateway_users (user_key, source, username, display_name, roles, status)
  VALUES ('local:admin', 'gateway', 'admin', 'Administrator', '["admin"]', 'active')
  ON CONFLICT (user_key) DO UPDATE SET updated_at = now()
  RETURNING id INTO uid;
  INSERT INTO aigw.gateway_api_keys (gateway_user_id, key_prefix, key_hash, name, scopes)
  VALUES (uid, substr(k, 1, 10), aigw.api_key_hash(k), coalesce(p_name, 'admin'), '["*"]');
  RETURN k;
END
$$;
REVOKE ALL ON FUNCTION aigw.create_admin_api_key(text) FROM PUBLIC;
COMMENT ON FUNCTION aigw.create_admin_api_key(text) IS
  'creates the local admin user if needed and returns a new API key for it (shown once)';

INSERT INTO aigw.http_routes (method, pattern, handler, permission) VALUES
  ('GET', '/v1/models', 'v1_models', 'basic'),
  ('GET', '/v1/models/list', 'models_list', 'basic'),
  ('GET', '/models/list', 'models_list', 'basic'),
  ('GET', '/v1/embeddings/models', 'embedding_models', 'basic'),
  ('GET', '/embeddings/models', 'embedding_models', 'basic'),
  ('GET', '/api/v1/catalog/providers', 'catalog_providers', 'power'),
  ('GET', '/api/v1/catalog/base-models', 'catalog_base_models', 'power'),
  ('GET', '/api/v1/catalog/base-models/:id', 'catalog_base_model', 'power');
