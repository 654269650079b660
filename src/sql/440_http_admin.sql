-- integration-platform admin routes (seed 003 section 6.2) over the data
-- model's integration_platforms and platform_models. Responses keep the
-- ResOp shape {code, message, data}. Credentials are never returned.

-- A ResOp response.
CREATE FUNCTION aigw.http_resop(p_data jsonb, p_status int DEFAULT 200) RETURNS aigw.http_response
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN aigw.http_json(p_status, jsonb_build_object('code', p_status, 'message', 'success', 'data', p_data));

-- A uuid path parameter (400 when malformed).
CREATE FUNCTION aigw.http_param_uuid(ctx aigw.http_ctx, name text) RETURNS uuid
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  RETURN (ctx.params->>name)::uuid;
EXCEPTION WHEN invalid_text_representation THEN
  RAISE EXCEPTION '% must be a uuid', name USING ERRCODE = 'AG400';
END
$$;

-- A platform as the admin API shows it (no credentials).
CREATE FUNCTION aigw.http_platform_json(p aigw.integration_platforms) RETURNS jsonb
  LANGUAGE sql STABLE
  SET search_path = aigw, pg_catalog
  RETURN jsonb_strip_nulls(to_jsonb(p) - 'credentials')
         || jsonb_build_object('hasCredentials', p.credentials IS NOT NULL AND p.credentials <> '{}'::jsonb);

-- A platform row or 404.
CREATE FUNCTION aigw.http_platform_get(p_id uuid) RETURNS aigw.integration_platforms
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  p aigw.integration_platforms;
BEGIN
  SELECT * INTO p FROM aigw.integration_platforms WHERE id = p_id AND deleted_at IS NULL;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'platform % not found', p_id USING ERRCODE = 'AG404';
  END IF;
  RETURN p;
END
$$;

-- GET /integration-platform: platforms, filtered by provider/status, paged.
CREATE FUNCTION aigw.http_h_platform_list(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  page int := greatest(coalesce((ctx.query->>'page')::int, 1), 1);
  size int := least(greatest(coalesce((ctx.query->>'pageSize')::int, 50), 1), 500);
  items jsonb;
  total bigint;
BEGIN
  SELECT count(*) INTO total FROM aigw.integration_platforms p
   WHERE p.deleted_at IS NULL
     AND (ctx.query->>'provider' IS NULL OR p.provider = ctx.query->>'provider')
     AND (ctx.query->>'status' IS NULL OR p.status = ctx.query->>'status');
  SELECT coalesce(jsonb_agg(aigw.http_platform_json(p) ORDER BY p.priority, p.name), '[]') INTO items
    FROM (SELECT * FROM aigw.integration_platforms p
           WHERE p.deleted_at IS NULL
             AND (ctx.query->>'provider' IS NULL OR p.provider = ctx.query->>'provider')
             AND (ctx.query->>'status' IS NULL OR p.status = ctx.query->>'status')
           ORDER BY p.priority, p.name LIMIT size OFFSET (page - 1) * size) p;
  RETURN aigw.http_resop(jsonb_build_object('list', items, 'total', total, 'page', page, 'pageSize', size));
EXCEPTION WHEN invalid_text_representation THEN
  RAISE EXCEPTION 'page and pageSize must be integers' USING ERRCODE = 'AG400';
END
$$;

-- GET /integration-platform/list/ops-compact
CREATE FUNCTION aigw.http_h_platform_ops_compact(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  SET search_path = aigw, pg_catalog
  RETURN aigw.http_resop((SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
            'id', id, 'platformKey', platform_key, 'name', name, 'provider', provider, 'status', status,
            'priority', priority, 'dynamicPriority', dynamic_priority, 'cooldownUntil', cooldown_until,
            'disabledReason', disabled_reason)) ORDER BY priority, name), '[]')
          FROM aigw.integration_platforms WHERE deleted_at IS NULL));

-- GET /integration-platform/:id
CREATE FUNCTION aigw.http_h_platform_get(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  p aigw.integration_platforms := aigw.http_platform_get(aigw.http_param_uuid(ctx, 'id'));
BEGIN
  RETURN aigw.http_resop(aigw.http_platform_json(p) || jsonb_build_object('models',
    (SELECT coalesce(jsonb_agg(to_jsonb(m) ORDER BY m.model_type, m.model_name), '[]')
       FROM aigw.platform_models m WHERE m.platform_id = p.id)));
END
$$;

-- PATCH /integration-platform/:id: updates the given fields.
CREATE FUNCTION aigw.http_h_platform_update(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  b jsonb := aigw.http_body_object(ctx);
  id uuid := aigw.http_param_uuid(ctx, 'id');
  p aigw.integration_platforms;
  unknown text;
BEGIN
  SELECT string_agg(k, ', ') INTO unknown FROM jsonb_object_keys(b) AS k
   WHERE k NOT IN ('name', 'baseUrl', 'credentials', 'config', 'priority', 'status', 'retryPolicy', 'rateLimitPolicy',
                   'defaultDiscountFactor', 'defaultPricingMode', 'runtimePolicyKey', 'disabledReason');
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION 'unknown or read-only fields: %', unknown USING ERRCODE = 'AG422';
  END IF;
  p := aigw.update_platform(id, p_name => b->>'name', p_base_url => b->>'baseUrl', p_credentials => b->'credentials',
         p_config => b->'config', p_default_discount_factor => (b->>'defaultDiscountFactor')::numeric,
         p_default_pricing_mode => b->>'defaultPricingMode', p_priority => (b->>'priority')::int,
         p_runtime_policy_key => b->>'runtimePolicyKey', p_retry_policy => b->'retryPolicy',
         p_rate_limit_policy => b->'rateLimitPolicy');
  IF b ? 'status' THEN
    p := aigw.set_platform_status(id, b->>'status', b->>'disabledReason', 'update');
  END IF;
  RETURN aigw.http_resop(aigw.http_platform_json(p));
END
$$;

-- DELETE /integration-platform/:id: soft delete.
CREATE FUNCTION aigw.http_h_platform_delete(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  p aigw.integration_platforms := aigw.delete_platform(aigw.http_param_uuid(ctx, 'id'));
BEGIN
  RETURN aigw.http_resop(jsonb_build_object('id', p.id, 'deleted', true));
END
$$;

-- Sets a platform's status (disable, enable, resetException).
CREATE FUNCTION aigw.http_platform_set_status(p_id uuid, p_status text, p_reason text)
  RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  RETURN aigw.http_resop(aigw.http_platform_json(CASE p_status
    WHEN 'enabled' THEN aigw.enable_platform(p_id)
    WHEN 'exception-reset' THEN aigw.reset_platform_exception(p_id)
    ELSE aigw.disable_platform(p_id, p_reason) END));
END
$$;

-- POST /integration-platform/disable/:id
CREATE FUNCTION aigw.http_h_platform_disable(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql
  SET search_path = aigw, pg_catalog
  RETURN aigw.http_platform_set_status(aigw.http_param_uuid(ctx, 'id'), 'disabled',
                                       coalesce(nullif(ctx.body, '')::jsonb->>'reason', 'disabled by ' || (ctx.identity->>'userId')));

-- POST /integration-platform/resetException/:id
CREATE FUNCTION aigw.http_h_platform_reset_exception(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql
  SET search_path = aigw, pg_catalog
  RETURN aigw.http_platform_set_status(aigw.http_param_uuid(ctx, 'id'), 'exception-reset', NULL);

-- PATCH /integration-platform/:action/:id (enable | disable)
CREATE FUNCTION aigw.http_h_platform_action(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  CASE ctx.params->>'action'
    WHEN 'enable' THEN
      RETURN aigw.http_platform_set_status(aigw.http_param_uuid(ctx, 'id'), 'enabled', NULL);
    WHEN 'disable' THEN
      RETURN aigw.http_platform_set_status(aigw.http_param_uuid(ctx, 'id'), 'disabled',
                                           'disabled by ' || (ctx.identity->>'userId'));
    ELSE
      RAISE EXCEPTION 'unknown platform action "%": use enable or disable', ctx.params->>'action'
        USING ERRCODE = 'AG404';
  END CASE;
END
$$;

-- PATCH /integration-platform/dynamic-priority/:id {"dynamicPriority": n}
CREATE FUNCTION aigw.http_h_platform_dynamic_priority_set(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  b jsonb := aigw.http_body_object(ctx);
  id uuid := aigw.http_param_uuid(ctx, 'id');
  v jsonb := coalesce(b->'dynamicPriority', b->'priority');
BEGIN
  IF v IS NULL OR jsonb_typeof(v) <> 'number' OR (v#>>'{}')::numeric <> trunc((v#>>'{}')::numeric) THEN
    RAISE EXCEPTION 'dynamicPriority must be an integer' USING ERRCODE = 'AG422';
  END IF;
  RETURN aigw.http_resop(aigw.http_platform_json(aigw.set_platform_dynamic_priority(id, (v#>>'{}')::numeric::int)));
END
$$;

-- DELETE /integration-platform/dynamic-priority/:id
CREATE FUNCTION aigw.http_h_platform_dynamic_priority_clear(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql
  SET search_path = aigw, pg_catalog
  RETURN aigw.http_resop(aigw.http_platform_json(aigw.clear_platform_dynamic_priority(aigw.http_param_uuid(ctx, 'id'))));

-- PATCH /integration-platform/scene-script/:id/partial: merges into config.sceneScript.
CREATE FUNCTION aigw.http_h_platform_scene_script(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  b jsonb := aigw.http_body_object(ctx);
  p aigw.integration_platforms := aigw.http_platform_get(aigw.http_param_uuid(ctx, 'id'));
BEGIN
  p := aigw.update_platform(p.id, p_config => jsonb_set(p.config, '{sceneScript}', coalesce(p.config->'sceneScript', '{}') || b));
  RETURN aigw.http_resop(aigw.http_platform_json(p));
END
$$;

-- POST /integration-platform/enable-model/:id (a platform model id)
CREATE FUNCTION aigw.http_h_platform_enable_model(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql
  SET search_path = aigw, pg_catalog
  RETURN aigw.http_resop(to_jsonb(aigw.set_platform_model_enabled(aigw.http_param_uuid(ctx, 'id'), true)));

-- Models of enabled platforms, optionally of one type; strict: only that type's enabled models.
CREATE FUNCTION aigw.http_models_json(p_type text, p_only_enabled boolean) RETURNS jsonb
  LANGUAGE sql STABLE
  SET search_path = aigw, pg_catalog
  RETURN (SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
            'id', m.id, 'platformId', p.id, 'platformKey', p.platform_key, 'provider', p.provider,
            'modelName', m.model_name, 'modelAlias', m.model_alias, 'modelType', m.model_type,
            'displayName', m.display_name, 'capabilities', m.capabilities, 'billingConfig', m.billing_config,
            'enabled', m.enabled, 'platformStatus', p.status))
            ORDER BY m.model_type, m.model_name, coalesce(p.dynamic_priority, p.priority)), '[]')
            FROM aigw.platform_models m JOIN aigw.integration_platforms p ON p.id = m.platform_id
           WHERE p.deleted_at IS NULL
             AND (p_type IS NULL OR m.model_type = p_type)
             AND (NOT p_only_enabled OR (m.enabled AND p.status = 'enabled')));

-- GET /integration-platform/models/list/enabled
CREATE FUNCTION aigw.http_h_models_list_enabled(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  RETURN aigw.http_resop(aigw.http_models_json(NULL, true));

-- GET /integration-platform/models/list/all
CREATE FUNCTION aigw.http_h_models_list_all(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  RETURN aigw.http_resop(aigw.http_models_json(NULL, false));

-- GET /integration-platform/models/:type (enabled models of a type)
CREATE FUNCTION aigw.http_h_models_by_type(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  RETURN aigw.http_resop(aigw.http_models_json(ctx.params->>'type', true));

-- GET /integration-platform/models/strict/:type (a known type, else 400)
CREATE FUNCTION aigw.http_h_models_strict_type(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  IF ctx.params->>'type' NOT IN ('chat', 'image', 'video', 'audio', 'embedding', 'music', 'digital_human', 'model_3d') THEN
    RAISE EXCEPTION 'unknown model type "%"', ctx.params->>'type' USING ERRCODE = 'AG400';
  END IF;
  RETURN aigw.http_resop(aigw.http_models_json(ctx.params->>'type', true));
END
$$;

-- POST /integration-platform/find-by-ids {"ids": [...]}
CREATE FUNCTION aigw.http_h_platform_find_by_ids(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  b jsonb := aigw.http_body_object(ctx);
BEGIN
  IF jsonb_typeof(b->'ids') IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION 'ids must be an array of platform ids' USING ERRCODE = 'AG422';
  END IF;
  RETURN aigw.http_resop((SELECT coalesce(jsonb_agg(aigw.http_platform_json(p) ORDER BY p.priority), '[]')
                            FROM aigw.integration_platforms p
                           WHERE p.deleted_at IS NULL
                             AND p.id::text IN (SELECT jsonb_array_elements_text(b->'ids'))));
END
$$;

-- POST /integration-platform/find-by-model {"model": name, "type": t}: candidate platforms.
CREATE FUNCTION aigw.http_h_platform_find_by_model(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  b jsonb := aigw.http_body_object(ctx);
  model text := coalesce(b->>'model', b->>'modelName');
BEGIN
  IF model IS NULL THEN
    RAISE EXCEPTION 'model is required' USING ERRCODE = 'AG422';
  END IF;
  RETURN aigw.http_resop((SELECT coalesce(jsonb_agg(aigw.http_platform_json(p) || jsonb_build_object(
              'modelId', m.id, 'modelType', m.model_type)
              ORDER BY coalesce(p.dynamic_priority, p.priority), p.name), '[]')
            FROM aigw.platform_models m JOIN aigw.integration_platforms p ON p.id = m.platform_id
           WHERE p.deleted_at IS NULL AND p.status = 'enabled' AND m.enabled
             AND (m.model_name = model OR m.model_alias = model)
             AND (b->>'type' IS NULL OR m.model_type = b->>'type')));
END
$$;

-- POST /integration-platform/:id/copy: a disabled copy with its models, no credentials.
CREATE FUNCTION aigw.http_h_platform_copy(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  src aigw.integration_platforms := aigw.http_platform_get(aigw.http_param_uuid(ctx, 'id'));
  b jsonb := CASE WHEN coalesce(btrim(ctx.body), '') = '' THEN '{}'::jsonb ELSE aigw.http_body_object(ctx) END;
BEGIN
  RETURN aigw.http_resop(aigw.http_platform_json(aigw.copy_platform(src.id,
    coalesce(b->>'platformKey', src.platform_key || '-copy-' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 8)),
    coalesce(b->>'name', src.name || ' (copy)'))), 201);
END
$$;

INSERT INTO aigw.http_routes (method, pattern, handler, permission, admin_only) VALUES
  ('GET', '/integration-platform', 'platform_list', 'power', false),
  ('GET', '/integration-platform/list/ops-compact', 'platform_ops_compact', 'power', false),
  ('POST', '/integration-platform/find-by-ids', 'platform_find_by_ids', 'power', false),
  ('POST', '/integration-platform/find-by-model', 'platform_find_by_model', 'basic', false),
  ('GET', '/integration-platform/models/list/enabled', 'models_list_enabled', 'basic', false),
  ('GET', '/integration-platform/models/list/all', 'models_list_all', 'power', false),
  ('PATCH', '/integration-platform/dynamic-priority/:id', 'platform_dynamic_priority_set', 'power', false),
  ('DELETE', '/integration-platform/dynamic-priority/:id', 'platform_dynamic_priority_clear', 'power', false),
  ('POST', '/integration-platform/disable/:id', 'platform_disable', 'power', true),
  ('POST', '/integration-platform/enable-model/:id', 'platform_enable_model', 'power', true),
  ('PATCH', '/integration-platform/scene-script/:id/partial', 'platform_scene_script', 'power', false),
  ('PATCH', '/integration-platform/:action/:id', 'platform_action', 'power', true),
  ('PATCH', '/integration-platform/:id', 'platform_update', 'power', true),
  ('DELETE', '/integration-platform/:id', 'platform_delete', 'manager', true),
  ('GET', '/integration-platform/models/:type', 'models_by_type', 'basic', false),
  ('GET', '/integration-platform/models/strict/:type', 'models_strict_type', 'basic', false),
  ('POST', '/integration-platform/resetException/:id', 'platform_reset_exception', 'power', true),
  ('POST', '/integration-platform/:id/copy', 'platform_copy', 'power', true),
  ('GET', '/integration-platform/:id', 'platform_get', 'power', false);
