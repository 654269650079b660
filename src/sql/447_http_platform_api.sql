-- Platform API configuration routes (seed 003 section 6.3), platform
-- snapshots, and platform creation.

-- An API config as JSON.
CREATE FUNCTION aigw.http_api_config_get(p_id uuid) RETURNS aigw.integration_platform_api_configs
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  c aigw.integration_platform_api_configs;
BEGIN
  SELECT * INTO c FROM aigw.integration_platform_api_configs WHERE id = p_id AND deleted_at IS NULL;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'platform API config % not found', p_id USING ERRCODE = 'AG404';
  END IF;
  RETURN c;
END
$$;

-- GET /integration/platform-api (?platformId=)
CREATE FUNCTION aigw.http_h_api_config_list(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  SET search_path = aigw, pg_catalog
  RETURN aigw.http_resop((SELECT coalesce(jsonb_agg(to_jsonb(c) ORDER BY c.platform_id, c.api_key), '[]')
                            FROM aigw.integration_platform_api_configs c
                           WHERE c.deleted_at IS NULL
                             AND (ctx.query->>'platformId' IS NULL OR c.platform_id::text = ctx.query->>'platformId')));

-- GET /integration/platform-api/:id
CREATE FUNCTION aigw.http_h_api_config_get(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  RETURN aigw.http_resop(to_jsonb(aigw.http_api_config_get(aigw.http_param_uuid(ctx, 'id'))));

-- POST /integration/platform-api
CREATE FUNCTION aigw.http_h_api_config_create(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  b jsonb := aigw.http_body_object(ctx);
  c aigw.integration_platform_api_configs;
BEGIN
  IF b->>'platformId' IS NULL OR b->>'apiKey' IS NULL OR b->>'name' IS NULL OR b->>'path' IS NULL THEN
    RAISE EXCEPTION 'platformId, apiKey, name and path are required' USING ERRCODE = 'AG422';
  END IF;
  PERFORM aigw.http_platform_get((b->>'platformId')::uuid);
  INSERT INTO aigw.integration_platform_api_configs (platform_id, api_key, name, description, method, path,
         headers, query_template, body_template, response_mapping, timeout_ms, status, metadata)
  VALUES ((b->>'platformId')::uuid, b->>'apiKey', b->>'name', b->>'description', coalesce(b->>'method', 'POST'),
          b->>'path', coalesce(b->'headers', '{}'), coalesce(b->'queryTemplate', '{}'),
          coalesce(b->'bodyTemplate', '{}'), coalesce(b->'responseMapping', '{}'),
          coalesce((b->>'timeoutMs')::int, 60000), coalesce(b->>'status', 'enabled'), coalesce(b->'metadata', '{}'))
  RETURNING * INTO c;
  RETURN aigw.http_resop(to_jsonb(c), 201);
EXCEPTION WHEN invalid_text_representation THEN
  RAISE EXCEPTION 'platformId must be a uuid and timeoutMs an integer' USING ERRCODE = 'AG400';
END
$$;

-- PATCH /integration/platform-api/:id
CREATE FUNCTION aigw.http_h_api_config_update(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  b jsonb := aigw.http_body_object(ctx);
  c aigw.integration_platform_api_configs := aigw.http_api_config_get(aigw.http_param_uuid(ctx, 'id'));
BEGIN
  UPDATE aigw.integration_platform_api_configs SET
    name = coalesce(b->>'name', name), description = coalesce(b->>'description', description),
    method = coalesce(b->>'method', method), path = coalesce(b->>'path', path),
    headers = coalesce(b->'headers', headers), query_template = coalesce(b->'queryTemplate', query_template),
    body_template = coalesce(b->'bodyTemplate', body_template),
    response_mapping = coalesce(b->'responseMapping', response_mapping),
    timeout_ms = coalesce((b->>'timeoutMs')::int, timeout_ms), status = coalesce(b->>'status', status),
    metadata = coalesce(b->'metadata', metadata), updated_at = now()
   WHERE id = c.id RETURNING * INTO c;
  RETURN aigw.http_resop(to_jsonb(c));
END
$$;

-- DELETE /integration/platform-api/:id (soft)
CREATE FUNCTION aigw.http_h_api_config_delete(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  c aigw.integration_platform_api_configs := aigw.http_api_config_get(aigw.http_param_uuid(ctx, 'id'));
BEGIN
  UPDATE aigw.integration_platform_api_configs SET deleted_at = now(), status = 'disabled', updated_at = now()
   WHERE id = c.id;
  RETURN aigw.http_resop(jsonb_build_object('id', c.id, 'deleted', true));
END
$$;

-- GET /integration-platform/snapshots/platform/:platformId
CREATE FUNCTION aigw.http_h_platform_snapshots(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  SET search_path = aigw, pg_catalog
  RETURN aigw.http_resop((SELECT coalesce(jsonb_agg(to_jsonb(s) ORDER BY s.version DESC), '[]')
                            FROM aigw.integration_platform_snapshots s
                           WHERE s.platform_id = aigw.http_param_uuid(ctx, 'platformId')));

-- POST /integration-platform: creates a platform (credentials are stored, never returned).
CREATE FUNCTION aigw.http_h_platform_create(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  b jsonb := aigw.http_body_object(ctx);
BEGIN
  IF b->>'provider' IS NULL OR b->>'platformKey' IS NULL OR b->>'name' IS NULL THEN
    RAISE EXCEPTION 'provider, platformKey and name are required' USING ERRCODE = 'AG422';
  END IF;
  RETURN aigw.http_resop(aigw.http_platform_json(aigw.create_platform(
    b->>'provider', b->>'platformKey', b->>'name', b->>'baseUrl', coalesce(b->>'authType', 'bearer'),
    coalesce(b->'credentials', '{}'), coalesce(b->'config', '{}'), coalesce((b->>'defaultDiscountFactor')::numeric, 1),
    coalesce(b->>'defaultPricingMode', 'inherit_discount'), coalesce(b->>'visibilityScope', 'global'),
    b->>'tenantId', b->>'tenantKey', coalesce((b->>'priority')::int, 100), b->>'runtimePolicyKey',
    coalesce(b->'retryPolicy', '{}'), coalesce(b->'rateLimitPolicy', '{}'))), 201);
EXCEPTION WHEN invalid_text_representation THEN
  RAISE EXCEPTION 'priority and defaultDiscountFactor must be numbers' USING ERRCODE = 'AG400';
END
$$;

-- The task kind a platform API config runs as: metadata.kind, else its path
-- (an optional /v1 prefix dropped). NULL when no task worker can run it.
CREATE FUNCTION aigw.http_api_config_kind(c aigw.integration_platform_api_configs) RETURNS text
  LANGUAGE sql IMMUTABLE
  RETURN coalesce(c.metadata->>'kind',
    CASE regexp_replace(rtrim(c.path, '/'), '^/v[0-9]+(?=/)', '')
      WHEN '/chat/completions' THEN 'chat.completions'
      WHEN '/embeddings' THEN 'embeddings'
      WHEN '/images/generations' THEN 'images.generations'
      WHEN '/images/edits' THEN 'images.edits'
      WHEN '/videos' THEN 'videos.generations'
      WHEN '/videos/generations' THEN 'videos.generations'
      WHEN '/video/generations' THEN 'videos.generations'
      WHEN '/audio/speech' THEN 'audio.speech'
    END);

-- POST /integration/platform-api/execute {id | platformId + apiKey, params?, testMode?}:
-- debug execution. The config's bodyTemplate overlaid with params becomes the
-- request of a task pinned to the config's platform; the answer is that task's
-- result (the front waits on its channel), exactly as the provider answered it
-- through the worker that serves real traffic.
CREATE FUNCTION aigw.http_h_api_config_execute(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  b jsonb := aigw.http_body_object(ctx);
  c aigw.integration_platform_api_configs;
  p aigw.integration_platforms;
  params jsonb := coalesce(b->'params', b->'body', '{}');
  kind text;
  request jsonb;
  resp aigw.http_response;
BEGIN
  IF jsonb_typeof(params) <> 'object' THEN
    RAISE EXCEPTION 'params must be an object' USING ERRCODE = 'AG400';
  END IF;
  IF b->>'id' IS NOT NULL THEN
    BEGIN
      c := aigw.http_api_config_get((b->>'id')::uuid);
    EXCEPTION WHEN invalid_text_representation THEN
      RAISE EXCEPTION 'id must be a uuid' USING ERRCODE = 'AG400';
    END;
  ELSIF b->>'platformId' IS NOT NULL AND b->>'apiKey' IS NOT NULL THEN
    BEGIN
      SELECT * INTO c FROM aigw.integration_platform_api_configs
       WHERE platform_id = (b->>'platformId')::uuid AND api_key = b->>'apiKey' AND deleted_at IS NULL;
    EXCEPTION WHEN invalid_text_representation THEN
      RAISE EXCEPTION 'platformId must be a uuid' USING ERRCODE = 'AG400';
    END;
    IF c.id IS NULL THEN
      RAISE EXCEPTION 'platform API config "%" not found', b->>'apiKey' USING ERRCODE = 'AG404';
    END IF;
  ELSE
    RAISE EXCEPTION 'id, or platformId and apiKey, are required' USING ERRCODE = 'AG422';
  END IF;
  IF c.status <> 'enabled' THEN
    RAISE EXCEPTION 'platform API config % is disabled', c.id USING ERRCODE = 'AG409';
  END IF;
  p := aigw.http_platform_get(c.platform_id);
  kind := aigw.http_api_config_kind(c);
  IF kind IS NULL THEN
    RAISE EXCEPTION 'platform API config path % is not an operation the task workers run', c.path
      USING ERRCODE = 'AG422',
            HINT = 'set metadata.kind to chat.completions, embeddings, images.generations, images.edits, videos.generations or audio.speech';
  END IF;
  request := CASE WHEN jsonb_typeof(c.body_template) = 'object' THEN c.body_template ELSE '{}' END || params - 'stream';
  ctx.headers := ctx.headers || jsonb_build_object('x-aigw-platform', p.platform_key)
                 || CASE WHEN b->>'testMode' IS NOT NULL THEN jsonb_build_object('x-aigw-test-mode', b->>'testMode')
                         ELSE '{}' END;
  IF kind = 'videos.generations' THEN
    -- asynchronous kinds answer with the task id; the result is read as any task's
    ctx.body := request::text;
    RETURN aigw.http_h_video_generations(ctx);
  END IF;
  resp := aigw.http_submit(ctx, kind, request);
  resp.headers := resp.headers || jsonb_build_object('x-aigw-api-config', c.id::text);
  RETURN resp;
END
$$;

INSERT INTO aigw.http_routes (method, pattern, handler, permission, admin_only) VALUES
  ('POST', '/integration/platform-api/execute', 'api_config_execute', 'power', false),
  ('POST', '/integration-platform', 'platform_create', 'power', true),
  ('GET', '/integration/platform-api', 'api_config_list', 'power', false),
  ('POST', '/integration/platform-api', 'api_config_create', 'power', true),
  ('GET', '/integration/platform-api/:id', 'api_config_get', 'power', false),
  ('PATCH', '/integration/platform-api/:id', 'api_config_update', 'power', true),
  ('DELETE', '/integration/platform-api/:id', 'api_config_delete', 'manager', true),
  ('GET', '/integration-platform/snapshots/platform/:platformId', 'platform_snapshots', 'power', false);
