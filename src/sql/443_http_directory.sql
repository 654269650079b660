-- Console routes of seed 003 section 6.6 over tenants, users, user groups,
-- invitations, wallets and recharge orders, and the sync routes through which
-- server-main pushes its tenants, users and user groups (source 'server-main').
-- Tenants are isolation domains: a caller below a global administrator
-- (manager/admin) sees only its own tenant, that tenant's users and invitations,
-- the user groups they use, and only its own wallet.

-- True when the caller is a global administrator (or server-main's service token).
CREATE FUNCTION aigw.http_is_admin(ctx aigw.http_ctx) RETURNS boolean
  LANGUAGE sql IMMUTABLE
  RETURN coalesce((ctx.identity->>'level')::int, 0) >= 4;

-- The caller's gateway tenant: by gatewayTenantId, else tenantKey, else
-- server-main's tenantId; NULL when it has none.
CREATE FUNCTION aigw.http_caller_tenant(ctx aigw.http_ctx) RETURNS uuid
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  t uuid;
BEGIN
  IF ctx.identity->>'gatewayTenantId' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    SELECT id INTO t FROM aigw.gateway_tenants
     WHERE id = (ctx.identity->>'gatewayTenantId')::uuid AND deleted_at IS NULL;
  END IF;
  IF t IS NULL AND ctx.identity->>'tenantKey' IS NOT NULL THEN
    SELECT id INTO t FROM aigw.gateway_tenants WHERE tenant_key = ctx.identity->>'tenantKey' AND deleted_at IS NULL;
  END IF;
  IF t IS NULL AND ctx.identity->>'tenantId' IS NOT NULL THEN
    SELECT id INTO t FROM aigw.gateway_tenants
     WHERE external_tenant_id = ctx.identity->>'tenantId' AND deleted_at IS NULL
     ORDER BY source = 'server-main' DESC LIMIT 1;
  END IF;
  IF t IS NULL AND ctx.identity->>'gatewayUserId' ~* '^[0-9a-f-]{36}$' THEN
    SELECT gateway_tenant_id INTO t FROM aigw.gateway_users WHERE id = (ctx.identity->>'gatewayUserId')::uuid;
  END IF;
  RETURN t;
END
$$;

-- An optional uuid query parameter (400 when it is not one).
CREATE FUNCTION aigw.http_query_uuid(ctx aigw.http_ctx, name text) RETURNS uuid
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  RETURN (ctx.query->>name)::uuid;
EXCEPTION WHEN invalid_text_representation THEN
  RAISE EXCEPTION '% must be a uuid', name USING ERRCODE = 'AG400';
END
$$;

-- Page and page size of a list (?page=1&pageSize=20, at most 200).
CREATE FUNCTION aigw.http_page(ctx aigw.http_ctx, OUT page int, OUT page_size int)
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  IF coalesce(ctx.query->>'page', '1') !~ '^[0-9]{1,6}$' OR coalesce(ctx.query->>'pageSize', '20') !~ '^[0-9]{1,4}$' THEN
    RAISE EXCEPTION 'page and pageSize must be positive integers' USING ERRCODE = 'AG400';
  END IF;
  page := greatest(1, coalesce((ctx.query->>'page')::int, 1));
  page_size := least(200, greatest(1, coalesce((ctx.query->>'pageSize')::int, 20)));
END
$$;

-- A tenant as the console shows it.
CREATE FUNCTION aigw.http_tenant_json(t aigw.gateway_tenants) RETURNS jsonb
  LANGUAGE sql STABLE
  SET search_path = aigw, pg_catalog
  RETURN jsonb_build_object(
    'id', t.id, 'tenantKey', t.tenant_key, 'source', t.source, 'externalTenantId', t.external_tenant_id,
    'name', t.name, 'description', t.description, 'status', t.status, 'planKey', t.plan_key,
    'defaultUserGroupId', t.default_user_group_id, 'rateLimitPolicy', t.rate_limit_policy,
    'authPolicy', t.auth_policy, 'billingProfile', t.billing_profile, 'metadata', t.metadata,
    'syncedAt', t.synced_at, 'sourceUpdatedAt', t.source_updated_at,
    'createdAt', t.created_at, 'updatedAt', t.updated_at);

-- A user as the console shows it (never the password hash).
CREATE FUNCTION aigw.http_user_json(u aigw.gateway_users) RETURNS jsonb
  LANGUAGE sql STABLE
  SET search_path = aigw, pg_catalog
  RETURN jsonb_build_object(
    'id', u.id, 'userKey', u.user_key, 'source', u.source, 'externalUserId', u.external_user_id,
    'username', u.username, 'displayName', u.display_name, 'email', u.email, 'phone', u.phone,
    'avatarUrl', u.avatar_url, 'gatewayTenantId', u.gateway_tenant_id, 'tenantId', u.tenant_id,
    'tenantKey', u.tenant_key, 'defaultUserGroupId', u.default_user_group_id, 'roles', u.roles,
    'status', u.status, 'metadata', u.metadata, 'lastLoginAt', u.last_login_at, 'syncedAt', u.synced_at,
    'sourceUpdatedAt', u.source_updated_at, 'createdAt', u.created_at, 'updatedAt', u.updated_at);

-- A user group as the console shows it.
CREATE FUNCTION aigw.http_user_group_json(g aigw.gateway_user_groups) RETURNS jsonb
  LANGUAGE sql STABLE
  SET search_path = aigw, pg_catalog
  RETURN jsonb_build_object(
    'id', g.id, 'groupKey', g.group_key, 'name', g.name, 'description', g.description, 'source', g.source,
    'priority', g.priority, 'status', g.status, 'rechargeDiscountPolicy', g.recharge_discount_policy,
    'billingDiscountPolicy', g.billing_discount_policy, 'rateLimitPolicy', g.rate_limit_policy,
    'quotaPolicy', g.quota_policy, 'metadata', g.metadata, 'createdAt', g.created_at, 'updatedAt', g.updated_at);

-- True when the caller may see a user group: administrators see all; others the
-- groups their tenant, its users or active memberships of either refer to.
CREATE FUNCTION aigw.http_user_group_visible(ctx aigw.http_ctx, p_group uuid, p_tenant uuid) RETURNS boolean
  LANGUAGE sql STABLE
  SET search_path = aigw, pg_catalog
  RETURN aigw.http_is_admin(ctx) OR (p_tenant IS NOT NULL AND (
    EXISTS (SELECT 1 FROM aigw.gateway_tenants t WHERE t.id = p_tenant AND t.default_user_group_id = p_group)
    OR EXISTS (SELECT 1 FROM aigw.gateway_users u WHERE u.gateway_tenant_id = p_tenant AND u.default_user_group_id = p_group)
    OR EXISTS (SELECT 1 FROM aigw.gateway_user_group_memberships m
                WHERE m.group_id = p_group AND m.status = 'active'
                  AND ((m.principal_type = 'tenant' AND m.principal_id IN (
                         SELECT x FROM aigw.gateway_tenants t,
                                LATERAL unnest(ARRAY[t.id::text, t.tenant_key, t.external_tenant_id]) x
                          WHERE t.id = p_tenant AND x IS NOT NULL))
                       OR (m.principal_type = 'user' AND m.principal_id IN (
                         SELECT x FROM aigw.gateway_users u,
                                LATERAL unnest(ARRAY[u.id::text, u.external_user_id]) x
                          WHERE u.gateway_tenant_id = p_tenant AND x IS NOT NULL))))));

-- GET /api/v1/tenants (?source=&status=&page=&pageSize=)
CREATE FUNCTION aigw.http_h_tenants_list(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  pg record := aigw.http_page(ctx);
  mine uuid := aigw.http_caller_tenant(ctx);
  admin boolean := aigw.http_is_admin(ctx);
  total bigint;
  list jsonb;
BEGIN
  SELECT count(*), coalesce(jsonb_agg(aigw.http_tenant_json(t) ORDER BY (t).created_at, (t).tenant_key)
                              FILTER (WHERE rn > (pg.page - 1) * pg.page_size AND rn <= pg.page * pg.page_size), '[]')
    INTO total, list
    FROM (SELECT t, row_number() OVER (ORDER BY t.created_at, t.tenant_key) AS rn
            FROM aigw.gateway_tenants t
           WHERE t.deleted_at IS NULL AND (admin OR t.id = mine)
             AND (ctx.query->>'source' IS NULL OR t.source = ctx.query->>'source')
             AND (ctx.query->>'status' IS NULL OR t.status = ctx.query->>'status')) s(t, rn);
  RETURN aigw.http_json(200, jsonb_build_object('data', list, 'total', total, 'page', pg.page,
                                                'pageSize', pg.page_size));
END
$$;

-- A tenant the caller may see, by id or tenant key (404 otherwise).
CREATE FUNCTION aigw.http_visible_tenant(ctx aigw.http_ctx, p_ref text) RETURNS aigw.gateway_tenants
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  t aigw.gateway_tenants;
BEGIN
  IF p_ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    SELECT * INTO t FROM aigw.gateway_tenants WHERE id = p_ref::uuid AND deleted_at IS NULL;
  ELSE
    SELECT * INTO t FROM aigw.gateway_tenants WHERE tenant_key = p_ref AND deleted_at IS NULL;
  END IF;
  IF t.id IS NULL OR NOT (aigw.http_is_admin(ctx) OR t.id = aigw.http_caller_tenant(ctx)) THEN
    RAISE EXCEPTION 'tenant % not found', p_ref USING ERRCODE = 'AG404';
  END IF;
  RETURN t;
END
$$;

-- GET /api/v1/tenants/:id (id or tenant key): the tenant, its source, policies and sync state
CREATE FUNCTION aigw.http_h_tenant_get(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  t aigw.gateway_tenants := aigw.http_visible_tenant(ctx, ctx.params->>'id');
BEGIN
  RETURN aigw.http_json(200, aigw.http_tenant_json(t) || jsonb_build_object(
    'userCount', (SELECT count(*) FROM aigw.gateway_users u WHERE u.gateway_tenant_id = t.id AND u.deleted_at IS NULL),
    'defaultUserGroup', (SELECT aigw.http_user_group_json(g) FROM aigw.gateway_user_groups g
                          WHERE g.id = t.default_user_group_id),
    'activeInvitations', (SELECT count(*) FROM aigw.gateway_tenant_invitations i
                           WHERE i.tenant_id = t.id AND i.status = 'active')));
END
$$;

-- The records of a sync body: {"<name>": [...]}, a bare array, or one object.
CREATE FUNCTION aigw.http_sync_records(ctx aigw.http_ctx, p_name text) RETURNS SETOF jsonb
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  j jsonb;
BEGIN
  BEGIN
    j := ctx.body::jsonb;
  EXCEPTION WHEN invalid_text_representation OR invalid_parameter_value THEN
    RAISE EXCEPTION 'the request body is not valid JSON' USING ERRCODE = 'AG400';
  END;
  IF jsonb_typeof(j) = 'object' AND j ? p_name THEN
    j := j->p_name;
  ELSIF jsonb_typeof(j) = 'object' THEN
    j := jsonb_build_array(j);
  END IF;
  IF jsonb_typeof(j) IS DISTINCT FROM 'array' OR jsonb_array_length(j) = 0 THEN
    RAISE EXCEPTION 'expected a non-empty array of % records', p_name USING ERRCODE = 'AG400';
  END IF;
  IF jsonb_array_length(j) > 1000 THEN
    RAISE EXCEPTION 'at most 1000 % records per call', p_name USING ERRCODE = 'AG413';
  END IF;
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(j) e WHERE jsonb_typeof(e) <> 'object') THEN
    RAISE EXCEPTION 'every % record must be an object', p_name USING ERRCODE = 'AG400';
  END IF;
  RETURN QUERY SELECT e FROM jsonb_array_elements(j) e;
END
$$;

-- A JSON object member or its default ('{}'), 400 when it is not an object.
CREATE FUNCTION aigw.http_sync_object(r jsonb, name text, dflt jsonb) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF r->name IS NULL OR jsonb_typeof(r->name) = 'null' THEN
    RETURN dflt;
  END IF;
  IF jsonb_typeof(r->name) <> 'object' THEN
    RAISE EXCEPTION '% must be an object', name USING ERRCODE = 'AG400';
  END IF;
  RETURN r->name;
END
$$;

-- The source timestamp of a synced record (updatedAt), NULL when absent.
CREATE FUNCTION aigw.http_sync_time(r jsonb) RETURNS timestamptz
  LANGUAGE plpgsql STABLE
AS $$
BEGIN
  RETURN (r->>'updatedAt')::timestamptz;
EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR invalid_text_representation THEN
  RAISE EXCEPTION 'updatedAt must be a timestamp' USING ERRCODE = 'AG400';
END
$$;

-- POST /api/v1/tenants/sync (and /internal/platform/tenants/sync): server-main
-- pushes tenants {id, tenantKey?, name, description?, status?, planKey?,
-- defaultUserGroupKey?, billingProfile?, rateLimitPolicy?, authPolicy?, metadata?,
-- updatedAt?};
-- each is upserted by (source 'server-main', external id). A record older
-- than the stored one (updatedAt) is skipped, so replays change nothing.
CREATE FUNCTION aigw.http_h_tenants_sync(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  r jsonb;
  ext text;
  cur aigw.gateway_tenants;
  t aigw.gateway_tenants;
  grp uuid;
  ts timestamptz;
  out jsonb := '[]';
  upserted int := 0;
  skipped int := 0;
BEGIN
  FOR r IN SELECT * FROM aigw.http_sync_records(ctx, 'tenants') LOOP
    ext := coalesce(r->>'id', r->>'tenantId', r->>'externalTenantId');
    IF coalesce(ext, '') = '' OR coalesce(btrim(r->>'name'), '') = '' THEN
      RAISE EXCEPTION 'every tenant needs id and name' USING ERRCODE = 'AG422';
    END IF;
    ts := aigw.http_sync_time(r);
    grp := NULL;
    IF r->>'defaultUserGroupKey' IS NOT NULL THEN
      SELECT id INTO grp FROM aigw.gateway_user_groups WHERE group_key = r->>'defaultUserGroupKey';
      IF grp IS NULL THEN
        RAISE EXCEPTION 'tenant %: user group "%" is not known', ext, r->>'defaultUserGroupKey' USING ERRCODE = 'AG422';
      END IF;
    END IF;
    SELECT * INTO cur FROM aigw.gateway_tenants WHERE source = 'server-main' AND external_tenant_id = ext FOR UPDATE;
    IF cur.id IS NOT NULL AND ts IS NOT NULL AND cur.source_updated_at IS NOT NULL AND ts < cur.source_updated_at THEN
      skipped := skipped + 1;
      out := out || jsonb_build_object('id', cur.id, 'externalTenantId', ext, 'tenantKey', cur.tenant_key,
                                       'result', 'stale');
      CONTINUE;
    END IF;
    BEGIN
      INSERT INTO aigw.gateway_tenants AS g (tenant_key, source, external_tenant_id, name, description, plan_key,
                                             default_user_group_id, billing_profile, rate_limit_policy, auth_policy,
                                             metadata, status, synced_at, source_updated_at)
      VALUES (coalesce(r->>'tenantKey', cur.tenant_key, 'server-main:' || ext), 'server-main', ext, r->>'name',
              r->>'description', r->>'planKey', grp, aigw.http_sync_object(r, 'billingProfile', '{}'),
              aigw.http_sync_object(r, 'rateLimitPolicy', '{}'), aigw.http_sync_object(r, 'authPolicy', '{}'),
              aigw.http_sync_object(r, 'metadata', '{}'), coalesce(r->>'status', 'active'), now(), ts)
      ON CONFLICT (source, external_tenant_id) DO UPDATE SET
        tenant_key = EXCLUDED.tenant_key, name = EXCLUDED.name,
        description = coalesce(EXCLUDED.description, g.description), plan_key = coalesce(EXCLUDED.plan_key, g.plan_key),
        default_user_group_id = coalesce(EXCLUDED.default_user_group_id, g.default_user_group_id),
        billing_profile = CASE WHEN r ? 'billingProfile' THEN EXCLUDED.billing_profile ELSE g.billing_profile END,
        rate_limit_policy = CASE WHEN r ? 'rateLimitPolicy' THEN EXCLUDED.rate_limit_policy ELSE g.rate_limit_policy END,
        auth_policy = CASE WHEN r ? 'authPolicy' THEN EXCLUDED.auth_policy ELSE g.auth_policy END,
        metadata = CASE WHEN r ? 'metadata' THEN EXCLUDED.metadata ELSE g.metadata END,
        status = EXCLUDED.status, synced_at = now(),
        source_updated_at = coalesce(EXCLUDED.source_updated_at, g.source_updated_at),
        deleted_at = CASE WHEN EXCLUDED.status = 'deleted' THEN coalesce(g.deleted_at, now()) END,
        updated_at = now()
      RETURNING * INTO t;
    EXCEPTION
      WHEN unique_violation THEN
        RAISE EXCEPTION 'tenant key "%" belongs to another tenant', coalesce(r->>'tenantKey', 'server-main:' || ext)
          USING ERRCODE = 'AG409';
      WHEN check_violation THEN
        RAISE EXCEPTION 'tenant % has an invalid status "%"', ext, r->>'status' USING ERRCODE = 'AG422';
    END;
    upserted := upserted + 1;
    out := out || jsonb_build_object('id', t.id, 'externalTenantId', ext, 'tenantKey', t.tenant_key,
                                     'result', CASE WHEN cur.id IS NULL THEN 'created' ELSE 'updated' END);
  END LOOP;
  RETURN aigw.http_json(200, jsonb_build_object('source', 'server-main', 'upserted', upserted, 'skipped', skipped,
                                                'tenants', out));
END
$$;

-- GET /api/v1/tenant-invitations (?tenantId=): invitations of the caller's tenant (administrators: all)
CREATE FUNCTION aigw.http_h_invitations_list(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  mine uuid := aigw.http_caller_tenant(ctx);
  admin boolean := aigw.http_is_admin(ctx);
  only_tenant uuid := aigw.http_query_uuid(ctx, 'tenantId');
BEGIN
  RETURN aigw.http_json(200, jsonb_build_object('data',
    (SELECT coalesce(jsonb_agg(jsonb_build_object(
              'id', i.id, 'tenantId', i.tenant_id, 'tenantKey', t.tenant_key, 'inviteCode', i.invite_code,
              'role', i.role, 'userGroupId', i.user_group_id, 'maxUses', i.max_uses, 'usedCount', i.used_count,
              'expiresAt', i.expires_at, 'status', i.status, 'metadata', i.metadata, 'createdAt', i.created_at)
              ORDER BY i.created_at, i.invite_code), '[]')
       FROM aigw.gateway_tenant_invitations i JOIN aigw.gateway_tenants t ON t.id = i.tenant_id
      WHERE (admin OR i.tenant_id = mine) AND (only_tenant IS NULL OR i.tenant_id = only_tenant))));
END
$$;

-- POST /api/v1/tenant-invitations {tenantId? (id or key; default the caller's), role?, userGroupId?,
-- maxUses?, expiresAt?, inviteCode?, metadata?}: 201 with the code. The role may not exceed the caller's.
CREATE FUNCTION aigw.http_h_invitations_create(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  b jsonb := aigw.http_body_object(ctx);
  t aigw.gateway_tenants;
  role text := coalesce(b->>'role', 'user');
  i aigw.gateway_tenant_invitations;
BEGIN
  IF b->>'tenantId' IS NOT NULL THEN
    t := aigw.http_visible_tenant(ctx, b->>'tenantId');
  ELSE
    SELECT * INTO t FROM aigw.gateway_tenants WHERE id = aigw.http_caller_tenant(ctx);
    IF t.id IS NULL THEN
      RAISE EXCEPTION 'tenantId is required (the caller has no gateway tenant)' USING ERRCODE = 'AG422';
    END IF;
  END IF;
  IF role NOT IN ('user', 'creator', 'operator', 'manager', 'admin') THEN
    RAISE EXCEPTION 'role must be user, creator, operator, manager or admin' USING ERRCODE = 'AG422';
  END IF;
  IF aigw.http_level(role) > (ctx.identity->>'level')::int THEN
    RAISE EXCEPTION 'an invitation cannot grant a role above the caller''s' USING ERRCODE = 'AG403';
  END IF;
  IF b->>'userGroupId' IS NOT NULL AND NOT EXISTS (
       SELECT 1 FROM aigw.gateway_user_groups g
        WHERE g.id::text = b->>'userGroupId' AND aigw.http_user_group_visible(ctx, g.id, t.id)) THEN
    RAISE EXCEPTION 'user group % not found', b->>'userGroupId' USING ERRCODE = 'AG404';
  END IF;
  BEGIN
    INSERT INTO aigw.gateway_tenant_invitations (tenant_id, invite_code, role, user_group_id, max_uses, expires_at,
                                                 metadata)
    VALUES (t.id, coalesce(b->>'inviteCode', 'inv-' || replace(gen_random_uuid()::text, '-', '')), role,
            (b->>'userGroupId')::uuid, (b->>'maxUses')::int, (b->>'expiresAt')::timestamptz,
            aigw.http_sync_object(b, 'metadata', '{}') || jsonb_build_object('createdBy', ctx.identity->>'userId'))
    RETURNING * INTO i;
  EXCEPTION
    WHEN unique_violation THEN
      RAISE EXCEPTION 'invitation code "%" is taken', b->>'inviteCode' USING ERRCODE = 'AG409';
    WHEN check_violation THEN
      RAISE EXCEPTION 'maxUses must be above zero' USING ERRCODE = 'AG422';
    WHEN invalid_text_representation OR invalid_datetime_format OR datetime_field_overflow THEN
      RAISE EXCEPTION 'maxUses must be an integer and expiresAt a timestamp' USING ERRCODE = 'AG400';
  END;
  RETURN aigw.http_json(201, jsonb_build_object('id', i.id, 'tenantId', t.id, 'tenantKey', t.tenant_key,
    'inviteCode', i.invite_code, 'role', i.role, 'userGroupId', i.user_group_id, 'maxUses', i.max_uses,
    'expiresAt', i.expires_at, 'status', i.status));
END
$$;

-- GET /api/v1/users (?tenantId=&source=&status=&q=&page=&pageSize=)
CREATE FUNCTION aigw.http_h_users_list(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  pg record := aigw.http_page(ctx);
  mine uuid := aigw.http_caller_tenant(ctx);
  admin boolean := aigw.http_is_admin(ctx);
  only_tenant uuid := aigw.http_query_uuid(ctx, 'tenantId');
  total bigint;
  list jsonb;
BEGIN
  SELECT count(*), coalesce(jsonb_agg(aigw.http_user_json(u) ORDER BY (u).created_at, (u).user_key)
                              FILTER (WHERE rn > (pg.page - 1) * pg.page_size AND rn <= pg.page * pg.page_size), '[]')
    INTO total, list
    FROM (SELECT u, row_number() OVER (ORDER BY u.created_at, u.user_key) AS rn
            FROM aigw.gateway_users u
           WHERE u.deleted_at IS NULL AND (admin OR (mine IS NOT NULL AND u.gateway_tenant_id = mine))
             AND (only_tenant IS NULL OR u.gateway_tenant_id = only_tenant)
             AND (ctx.query->>'source' IS NULL OR u.source = ctx.query->>'source')
             AND (ctx.query->>'status' IS NULL OR u.status = ctx.query->>'status')
             AND (ctx.query->>'q' IS NULL OR u.username ILIKE '%' || (ctx.query->>'q') || '%'
                  OR u.email ILIKE '%' || (ctx.query->>'q') || '%')) s(u, rn);
  RETURN aigw.http_json(200, jsonb_build_object('data', list, 'total', total, 'page', pg.page,
                                                'pageSize', pg.page_size));
END
$$;

-- GET /api/v1/users/:id (gateway id): the user, source, roles, groups and sync state
CREATE FUNCTION aigw.http_h_user_get(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  u aigw.gateway_users;
BEGIN
  SELECT * INTO u FROM aigw.gateway_users WHERE id = aigw.http_param_uuid(ctx, 'id') AND deleted_at IS NULL;
  IF u.id IS NULL OR NOT (aigw.http_is_admin(ctx) OR u.gateway_tenant_id = aigw.http_caller_tenant(ctx)) THEN
    RAISE EXCEPTION 'user % not found', ctx.params->>'id' USING ERRCODE = 'AG404';
  END IF;
  RETURN aigw.http_json(200, aigw.http_user_json(u) || jsonb_build_object(
    'userGroups', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', g.id, 'groupKey', g.group_key, 'name', g.name,
                                                                'via', m.via, 'priority', g.priority)
                                             ORDER BY g.priority, g.group_key), '[]')
                     FROM (SELECT u.default_user_group_id AS gid, 'default' AS via
                           UNION
                           SELECT group_id, 'membership' FROM aigw.gateway_user_group_memberships
                            WHERE principal_type = 'user' AND status = 'active'
                              AND principal_id IN (u.id::text, u.external_user_id)) m
                     JOIN aigw.gateway_user_groups g ON g.id = m.gid),
    'apiKeyCount', (SELECT count(*) FROM aigw.gateway_api_keys k WHERE k.gateway_user_id = u.id AND k.status = 'active')));
END
$$;

-- Roles of a synced user: roles (array) or role (one name), known names only.
CREATE FUNCTION aigw.http_sync_roles(r jsonb) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  roles jsonb := CASE WHEN jsonb_typeof(r->'roles') = 'array' THEN r->'roles'
                      WHEN r->>'role' IS NOT NULL THEN jsonb_build_array(r->>'role')
                      ELSE '["user"]' END;
BEGIN
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(roles) x
              WHERE jsonb_typeof(x) <> 'string'
                 OR x #>> '{}' NOT IN ('user', 'creator', 'operator', 'manager', 'admin')) THEN
    RAISE EXCEPTION 'roles must be among user, creator, operator, manager, admin' USING ERRCODE = 'AG422';
  END IF;
  RETURN roles;
END
$$;

-- Sets a synced user's server-main group memberships to exactly the groups
-- of keys (a JSON array of group keys): missing ones are added, others that
-- server-main had set are disabled. 422 for an unknown group.
CREATE FUNCTION aigw.http_sync_memberships(u aigw.gateway_users, keys jsonb) RETURNS void
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  unknown text;
BEGIN
  IF jsonb_typeof(keys) IS DISTINCT FROM 'array'
     OR EXISTS (SELECT 1 FROM jsonb_array_elements(keys) k WHERE jsonb_typeof(k) <> 'string') THEN
    RAISE EXCEPTION 'user %: userGroupKeys must be an array of group keys', u.external_user_id USING ERRCODE = 'AG400';
  END IF;
  SELECT string_agg(k, ', ') INTO unknown FROM jsonb_array_elements_text(keys) k
   WHERE NOT EXISTS (SELECT 1 FROM aigw.gateway_user_groups g WHERE g.group_key = k);
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION 'user %: user group % is not known', u.external_user_id, unknown USING ERRCODE = 'AG422';
  END IF;
  INSERT INTO aigw.gateway_user_group_memberships AS m (group_id, principal_type, principal_id, source, status)
  SELECT g.id, 'user', u.id::text, 'server-main', 'active'
    FROM aigw.gateway_user_groups g WHERE g.group_key IN (SELECT jsonb_array_elements_text(keys))
  ON CONFLICT (group_id, principal_type, principal_id) DO UPDATE SET status = 'active', updated_at = now();
  UPDATE aigw.gateway_user_group_memberships m SET status = 'disabled', updated_at = now()
   WHERE m.principal_type = 'user' AND m.principal_id = u.id::text AND m.source = 'server-main' AND m.status = 'active'
     AND m.group_id NOT IN (SELECT g.id FROM aigw.gateway_user_groups g
                             WHERE g.group_key IN (SELECT jsonb_array_elements_text(keys)));
END
$$;

-- POST /api/v1/users/sync (and /internal/platform/users/sync): server-main
-- pushes users {id, username, displayName?, email?, phone?, avatarUrl?, tenantId?,
-- tenantKey?, roles? | role?, userGroupKey?, userGroupKeys?, status?, metadata?,
-- updatedAt?}; each is upserted by (source 'server-main', external id) and bound
-- to the synced tenant of tenantId (or the tenant of tenantKey), the default
-- group of userGroupKey and memberships of the groups of userGroupKeys.
CREATE FUNCTION aigw.http_h_users_sync(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  r jsonb;
  ext text;
  cur aigw.gateway_users;
  u aigw.gateway_users;
  tenant aigw.gateway_tenants;
  grp uuid;
  ts timestamptz;
  out jsonb := '[]';
  upserted int := 0;
  skipped int := 0;
BEGIN
  FOR r IN SELECT * FROM aigw.http_sync_records(ctx, 'users') LOOP
    ext := coalesce(r->>'id', r->>'userId', r->>'externalUserId');
    IF coalesce(ext, '') = '' OR coalesce(btrim(r->>'username'), '') = '' THEN
      RAISE EXCEPTION 'every user needs id and username' USING ERRCODE = 'AG422';
    END IF;
    ts := aigw.http_sync_time(r);
    SELECT * INTO cur FROM aigw.gateway_users WHERE source = 'server-main' AND external_user_id = ext FOR UPDATE;
    IF cur.id IS NOT NULL AND ts IS NOT NULL AND cur.source_updated_at IS NOT NULL AND ts < cur.source_updated_at THEN
      skipped := skipped + 1;
      out := out || jsonb_build_object('id', cur.id, 'externalUserId', ext, 'result', 'stale');
      CONTINUE;
    END IF;
    tenant := NULL;
    IF r->>'tenantId' IS NOT NULL THEN
      SELECT * INTO tenant FROM aigw.gateway_tenants
       WHERE source = 'server-main' AND external_tenant_id = r->>'tenantId' AND deleted_at IS NULL;
    END IF;
    IF tenant.id IS NULL AND r->>'tenantKey' IS NOT NULL THEN
      SELECT * INTO tenant FROM aigw.gateway_tenants WHERE tenant_key = r->>'tenantKey' AND deleted_at IS NULL;
    END IF;
    IF tenant.id IS NULL AND (r->>'tenantId' IS NOT NULL OR r->>'tenantKey' IS NOT NULL) THEN
      RAISE EXCEPTION 'user %: tenant % is not known (sync tenants first)', ext, coalesce(r->>'tenantId', r->>'tenantKey')
        USING ERRCODE = 'AG422';
    END IF;
    grp := NULL;
    IF r->>'userGroupKey' IS NOT NULL THEN
      SELECT id INTO grp FROM aigw.gateway_user_groups WHERE group_key = r->>'userGroupKey';
      IF grp IS NULL THEN
        RAISE EXCEPTION 'user %: user group "%" is not known', ext, r->>'userGroupKey' USING ERRCODE = 'AG422';
      END IF;
    END IF;
    BEGIN
      INSERT INTO aigw.gateway_users AS g (user_key, source, external_user_id, username, display_name, email, phone,
                                           avatar_url, gateway_tenant_id, tenant_id, tenant_key,
                                           default_user_group_id, roles, metadata, status, synced_at,
                                           source_updated_at)
      VALUES ('server-main:' || ext, 'server-main', ext, r->>'username', r->>'displayName', r->>'email', r->>'phone',
              r->>'avatarUrl', tenant.id, coalesce(r->>'tenantId', tenant.external_tenant_id),
              coalesce(tenant.tenant_key, r->>'tenantKey'), grp, aigw.http_sync_roles(r),
              aigw.http_sync_object(r, 'metadata', '{}'), coalesce(r->>'status', 'active'), now(), ts)
      ON CONFLICT (source, external_user_id) DO UPDATE SET
        username = EXCLUDED.username, display_name = coalesce(EXCLUDED.display_name, g.display_name),
        email = coalesce(EXCLUDED.email, g.email), phone = coalesce(EXCLUDED.phone, g.phone),
        avatar_url = coalesce(EXCLUDED.avatar_url, g.avatar_url),
        gateway_tenant_id = coalesce(EXCLUDED.gateway_tenant_id, g.gateway_tenant_id),
        tenant_id = coalesce(EXCLUDED.tenant_id, g.tenant_id), tenant_key = coalesce(EXCLUDED.tenant_key, g.tenant_key),
        default_user_group_id = coalesce(EXCLUDED.default_user_group_id, g.default_user_group_id),
        roles = CASE WHEN r ? 'roles' OR r ? 'role' THEN EXCLUDED.roles ELSE g.roles END,
        metadata = CASE WHEN r ? 'metadata' THEN EXCLUDED.metadata ELSE g.metadata END,
        status = EXCLUDED.status, synced_at = now(),
        source_updated_at = coalesce(EXCLUDED.source_updated_at, g.source_updated_at),
        deleted_at = CASE WHEN EXCLUDED.status = 'deleted' THEN coalesce(g.deleted_at, now()) END,
        updated_at = now()
      RETURNING * INTO u;
    EXCEPTION
      WHEN unique_violation THEN
        RAISE EXCEPTION 'user key "server-main:%" belongs to another user', ext USING ERRCODE = 'AG409';
      WHEN check_violation THEN
        RAISE EXCEPTION 'user % has an invalid status "%"', ext, r->>'status' USING ERRCODE = 'AG422';
    END;
    IF r ? 'userGroupKeys' THEN
      PERFORM aigw.http_sync_memberships(u, r->'userGroupKeys');
    END IF;
    upserted := upserted + 1;
    out := out || jsonb_build_object('id', u.id, 'externalUserId', ext, 'gatewayTenantId', u.gateway_tenant_id,
                                     'result', CASE WHEN cur.id IS NULL THEN 'created' ELSE 'updated' END);
  END LOOP;
  RETURN aigw.http_json(200, jsonb_build_object('source', 'server-main', 'upserted', upserted, 'skipped', skipped,
                                                'users', out));
END
$$;

-- GET /api/v1/user-groups (?source=&status=)
CREATE FUNCTION aigw.http_h_user_groups_list(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  mine uuid := aigw.http_caller_tenant(ctx);
BEGIN
  RETURN aigw.http_json(200, jsonb_build_object('data',
    (SELECT coalesce(jsonb_agg(aigw.http_user_group_json(g) ORDER BY g.priority, g.group_key), '[]')
       FROM aigw.gateway_user_groups g
      WHERE aigw.http_user_group_visible(ctx, g.id, mine)
        AND (ctx.query->>'source' IS NULL OR g.source = ctx.query->>'source')
        AND (ctx.query->>'status' IS NULL OR g.status = ctx.query->>'status'))));
END
$$;

-- A user group by id or key, if the caller may see it (404 otherwise).
CREATE FUNCTION aigw.http_visible_user_group(ctx aigw.http_ctx, p_ref text) RETURNS aigw.gateway_user_groups
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  g aigw.gateway_user_groups;
BEGIN
  SELECT * INTO g FROM aigw.gateway_user_groups WHERE id::text = lower(p_ref) OR group_key = p_ref
   ORDER BY id::text = lower(p_ref) DESC LIMIT 1;
  IF g.id IS NULL OR NOT aigw.http_user_group_visible(ctx, g.id, aigw.http_caller_tenant(ctx)) THEN
    RAISE EXCEPTION 'user group % not found', p_ref USING ERRCODE = 'AG404';
  END IF;
  RETURN g;
END
$$;

-- GET /api/v1/user-groups/:id (id or key): the group, its policies and members
-- (non-administrators see the members of their own tenant only)
CREATE FUNCTION aigw.http_h_user_group_get(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  g aigw.gateway_user_groups := aigw.http_visible_user_group(ctx, ctx.params->>'id');
  admin boolean := aigw.http_is_admin(ctx);
  mine uuid := aigw.http_caller_tenant(ctx);
BEGIN
  RETURN aigw.http_json(200, aigw.http_user_group_json(g) || jsonb_build_object(
    'members', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                  'id', m.id, 'principalType', m.principal_type, 'principalId', m.principal_id, 'source', m.source,
                  'priority', m.priority, 'status', m.status, 'effectiveFrom', m.effective_from,
                  'effectiveTo', m.effective_to) ORDER BY m.priority, m.principal_type, m.principal_id), '[]')
                  FROM aigw.gateway_user_group_memberships m
                 WHERE m.group_id = g.id
                   AND (admin OR (m.principal_type = 'tenant' AND m.principal_id IN (
                          SELECT x FROM aigw.gateway_tenants t,
                                 LATERAL unnest(ARRAY[t.id::text, t.tenant_key, t.external_tenant_id]) x
                           WHERE t.id = mine AND x IS NOT NULL))
                        OR (m.principal_type = 'user' AND m.principal_id IN (
                          SELECT x FROM aigw.gateway_users u, LATERAL unnest(ARRAY[u.id::text, u.external_user_id]) x
                           WHERE u.gateway_tenant_id = mine AND x IS NOT NULL)))),
    'defaultFor', jsonb_build_object(
      'users', (SELECT count(*) FROM aigw.gateway_users u
                 WHERE u.default_user_group_id = g.id AND (admin OR u.gateway_tenant_id = mine)),
      'tenants', (SELECT count(*) FROM aigw.gateway_tenants t
                   WHERE t.default_user_group_id = g.id AND (admin OR t.id = mine)))));
END
$$;

-- POST /api/v1/user-groups/:id/sync (and /internal/platform/user-groups/sync
-- with groupKey in the body): server-main pushes a group {name, description?,
-- priority?, status?, rechargeDiscountPolicy?, billingDiscountPolicy?,
-- rateLimitPolicy?, quotaPolicy?, metadata?}, upserted by key with source
-- 'server-main'. The answer is the group's policy as the gateway applies it.
-- A group the gateway owns (source 'gateway') is not overwritten (409).
CREATE FUNCTION aigw.http_h_user_group_sync(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  r jsonb;
  key text;
  cur aigw.gateway_user_groups;
  g aigw.gateway_user_groups;
  out jsonb := '[]';
BEGIN
  FOR r IN SELECT * FROM aigw.http_sync_records(ctx, 'userGroups') LOOP
    key := coalesce(ctx.params->>'id', r->>'groupKey', r->>'key');
    IF coalesce(key, '') = '' THEN
      RAISE EXCEPTION 'every user group needs groupKey' USING ERRCODE = 'AG422';
    END IF;
    SELECT * INTO cur FROM aigw.gateway_user_groups WHERE group_key = key OR id::text = lower(key)
     ORDER BY id::text = lower(key) DESC LIMIT 1 FOR UPDATE;
    IF cur.id IS NOT NULL AND cur.source = 'gateway' THEN
      RAISE EXCEPTION 'user group "%" is managed by the gateway, not server-main', cur.group_key USING ERRCODE = 'AG409';
    END IF;
    IF cur.id IS NULL AND coalesce(btrim(r->>'name'), '') = '' THEN
      RAISE EXCEPTION 'a new user group needs name' USING ERRCODE = 'AG422';
    END IF;
    BEGIN
      INSERT INTO aigw.gateway_user_groups AS x (group_key, name, description, source, priority,
                                                 recharge_discount_policy, billing_discount_policy, rate_limit_policy,
                                                 quota_policy, metadata, status)
      VALUES (coalesce(cur.group_key, key), coalesce(r->>'name', cur.name), r->>'description', 'server-main',
              coalesce((r->>'priority')::int, cur.priority, 100),
              aigw.http_sync_object(r, 'rechargeDiscountPolicy', coalesce(cur.recharge_discount_policy, '{}')),
              aigw.http_sync_object(r, 'billingDiscountPolicy', coalesce(cur.billing_discount_policy, '{}')),
              aigw.http_sync_object(r, 'rateLimitPolicy', coalesce(cur.rate_limit_policy, '{}')),
              aigw.http_sync_object(r, 'quotaPolicy', coalesce(cur.quota_policy, '{}')),
              aigw.http_sync_object(r, 'metadata', coalesce(cur.metadata, '{}')),
              coalesce(r->>'status', cur.status, 'active'))
      ON CONFLICT (group_key) DO UPDATE SET
        name = EXCLUDED.name, description = coalesce(EXCLUDED.description, x.description), source = 'server-main',
        priority = EXCLUDED.priority, recharge_discount_policy = EXCLUDED.recharge_discount_policy,
        billing_discount_policy = EXCLUDED.billing_discount_policy, rate_limit_policy = EXCLUDED.rate_limit_policy,
        quota_policy = EXCLUDED.quota_policy, metadata = EXCLUDED.metadata, status = EXCLUDED.status,
        updated_at = now()
      RETURNING * INTO g;
    EXCEPTION
      WHEN check_violation THEN
        RAISE EXCEPTION 'user group % has an invalid status "%"', key, r->>'status' USING ERRCODE = 'AG422';
      WHEN invalid_text_representation THEN
        RAISE EXCEPTION 'priority must be an integer' USING ERRCODE = 'AG400';
    END;
    out := out || (aigw.http_user_group_json(g) || jsonb_build_object(
                     'result', CASE WHEN cur.id IS NULL THEN 'created' ELSE 'updated' END));
  END LOOP;
  IF ctx.params ? 'id' THEN
    RETURN aigw.http_json(200, out->0);
  END IF;
  RETURN aigw.http_json(200, jsonb_build_object('source', 'server-main', 'upserted', jsonb_array_length(out),
                                                'userGroups', out));
END
$$;

-- The caller's local user for wallet routes (403 for server-main and service identities).
CREATE FUNCTION aigw.http_wallet_user(ctx aigw.http_ctx) RETURNS uuid
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  IF ctx.identity->>'gatewayUserId' IS NULL OR coalesce(ctx.identity->>'source', 'gateway') <> 'gateway' THEN
    RAISE EXCEPTION 'wallets here belong to local gateway users; server-main keeps the balance of its users'
      USING ERRCODE = 'AG403';
  END IF;
  RETURN (ctx.identity->>'gatewayUserId')::uuid;
EXCEPTION WHEN invalid_text_representation THEN
  RAISE EXCEPTION 'this identity has no gateway user' USING ERRCODE = 'AG403';
END
$$;

-- The user whose wallet a request reads: the caller; administrators may name ?userId=.
CREATE FUNCTION aigw.http_wallet_subject(ctx aigw.http_ctx) RETURNS uuid
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  IF ctx.query->>'userId' IS NOT NULL AND aigw.http_is_admin(ctx) THEN
    RETURN aigw.http_query_uuid(ctx, 'userId');
  END IF;
  RETURN aigw.http_wallet_user(ctx);
END
$$;

-- GET /api/v1/wallet/accounts: the caller's wallet accounts
CREATE FUNCTION aigw.http_h_wallet_accounts(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  uid uuid := aigw.http_wallet_subject(ctx);
BEGIN
  RETURN aigw.http_json(200, jsonb_build_object('data',
    (SELECT coalesce(jsonb_agg(jsonb_build_object(
              'id', a.id, 'gatewayUserId', a.gateway_user_id, 'gatewayTenantId', a.gateway_tenant_id,
              'currency', a.currency, 'balance', a.balance, 'frozenBalance', a.frozen_balance,
              'totalRecharged', a.total_recharged, 'totalSpent', a.total_spent,
              'status', a.status, 'updatedAt', a.updated_at) ORDER BY a.currency), '[]')
       FROM aigw.gateway_wallet_accounts a WHERE a.gateway_user_id = uid)));
END
$$;

-- GET /api/v1/wallet/transactions (?accountId=&limit=&before=): the caller's ledger, newest first
CREATE FUNCTION aigw.http_h_wallet_transactions(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  uid uuid := aigw.http_wallet_subject(ctx);
  acct uuid := aigw.http_query_uuid(ctx, 'accountId');
  before uuid := aigw.http_query_uuid(ctx, 'before');
  lim int;
BEGIN
  IF coalesce(ctx.query->>'limit', '50') !~ '^[0-9]{1,4}$' THEN
    RAISE EXCEPTION 'limit must be a positive integer' USING ERRCODE = 'AG400';
  END IF;
  lim := least(500, greatest(1, coalesce((ctx.query->>'limit')::int, 50)));
  RETURN aigw.http_json(200, jsonb_build_object('data',
    (SELECT coalesce(jsonb_agg(x.j ORDER BY x.id DESC), '[]')
       FROM (SELECT t.id, to_jsonb(t) || jsonb_build_object('currency', a.currency) AS j
               FROM aigw.gateway_wallet_transactions t JOIN aigw.gateway_wallet_accounts a ON a.id = t.account_id
              WHERE a.gateway_user_id = uid AND (acct IS NULL OR a.id = acct) AND (before IS NULL OR t.id < before)
              ORDER BY t.id DESC LIMIT lim) x)));
END
$$;

-- A recharge order as the console shows it.
CREATE FUNCTION aigw.http_recharge_json(o aigw.gateway_recharge_orders) RETURNS jsonb
  LANGUAGE sql STABLE
  RETURN jsonb_build_object(
    'id', o.id, 'gatewayUserId', o.gateway_user_id, 'gatewayTenantId', o.gateway_tenant_id, 'amount', o.amount,
    'bonusAmount', o.bonus_amount, 'payableAmount', o.payable_amount, 'currency', o.currency, 'channel', o.channel,
    'status', o.status, 'externalOrderId', o.external_order_id, 'idempotencyKey', o.idempotency_key,
    'metadata', o.metadata, 'paidAt', o.paid_at, 'createdAt', o.created_at);

-- GET /api/v1/recharge/orders (?status=): the caller's recharge orders, newest first
CREATE FUNCTION aigw.http_h_recharge_orders_list(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  uid uuid := aigw.http_wallet_subject(ctx);
BEGIN
  RETURN aigw.http_json(200, jsonb_build_object('data',
    (SELECT coalesce(jsonb_agg(aigw.http_recharge_json(o) ORDER BY o.created_at DESC, o.id DESC), '[]')
       FROM aigw.gateway_recharge_orders o
      WHERE o.gateway_user_id = uid AND (ctx.query->>'status' IS NULL OR o.status = ctx.query->>'status'))));
END
$$;

-- POST /api/v1/recharge/orders {amount, currency?, channel?, idempotencyKey?} (or Idempotency-Key):
-- a pending order with the user group's bonus; the same key answers the same order (200).
CREATE FUNCTION aigw.http_h_recharge_orders_create(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  b jsonb := aigw.http_body_object(ctx);
  uid uuid := aigw.http_wallet_user(ctx);
  ikey text := coalesce(b->>'idempotencyKey', ctx.headers->>'idempotency-key');
  amount numeric;
  existed boolean;
  o aigw.gateway_recharge_orders;
BEGIN
  IF jsonb_typeof(b->'amount') NOT IN ('number', 'string') THEN
    RAISE EXCEPTION 'amount is required' USING ERRCODE = 'AG422';
  END IF;
  BEGIN
    amount := (b->>'amount')::numeric;
  EXCEPTION WHEN invalid_text_representation THEN
    RAISE EXCEPTION 'amount must be a number' USING ERRCODE = 'AG400';
  END;
  IF amount <= 0 OR amount > 1e12 THEN
    RAISE EXCEPTION 'amount must be above zero and at most 1e12' USING ERRCODE = 'AG422';
  END IF;
  existed := ikey IS NOT NULL AND EXISTS (SELECT 1 FROM aigw.gateway_recharge_orders
                                           WHERE gateway_user_id = uid AND idempotency_key = ikey);
  BEGIN
    o := aigw.create_recharge_order(uid, amount, coalesce(b->>'currency', 'resource'), coalesce(b->>'channel', 'manual'),
                                    ikey, (SELECT gateway_tenant_id FROM aigw.gateway_users WHERE id = uid));
  EXCEPTION WHEN check_violation THEN
    RAISE EXCEPTION 'currency must be resource, credit, cny or usd and channel manual, wechat, alipay or stripe'
      USING ERRCODE = 'AG422';
  END;
  RETURN aigw.http_json(CASE WHEN existed THEN 200 ELSE 201 END, aigw.http_recharge_json(o));
END
$$;

INSERT INTO aigw.http_routes (method, pattern, handler, permission, admin_only, description) VALUES
  ('GET', '/api/v1/tenants', 'tenants_list', 'power', false, 'tenants (own tenant below manager)'),
  ('GET', '/api/v1/tenants/:id', 'tenant_get', 'power', false, 'a tenant by id or key'),
  ('POST', '/api/v1/tenants/sync', 'tenants_sync', 'power', true, 'server-main pushes tenants'),
  ('POST', '/internal/platform/tenants/sync', 'tenants_sync', 'power', true, 'server-main pushes tenants'),
  ('GET', '/api/v1/tenant-invitations', 'invitations_list', 'power', false, 'registration invitations'),
  ('POST', '/api/v1/tenant-invitations', 'invitations_create', 'power', false, 'creates an invitation code'),
  ('GET', '/api/v1/users', 'users_list', 'power', false, 'users (own tenant below manager)'),
  ('GET', '/api/v1/users/:id', 'user_get', 'power', false, 'a user with groups and sync state'),
  ('POST', '/api/v1/users/sync', 'users_sync', 'power', true, 'server-main pushes users'),
  ('POST', '/internal/platform/users/sync', 'users_sync', 'power', true, 'server-main pushes users'),
  ('GET', '/api/v1/user-groups', 'user_groups_list', 'power', false, 'user groups and their policies'),
  ('GET', '/api/v1/user-groups/:id', 'user_group_get', 'power', false, 'a user group with members'),
  ('POST', '/api/v1/user-groups/:id/sync', 'user_group_sync', 'power', true, 'server-main pushes a user group'),
  ('POST', '/internal/platform/user-groups/sync', 'user_group_sync', 'power', true, 'server-main pushes user groups'),
  ('GET', '/api/v1/wallet/accounts', 'wallet_accounts', 'basic', false, 'the caller''s wallet accounts'),
  ('GET', '/api/v1/wallet/transactions', 'wallet_transactions', 'basic', false, 'the caller''s wallet ledger'),
  ('GET', '/api/v1/recharge/orders', 'recharge_orders_list', 'basic', false, 'the caller''s recharge orders'),
  ('POST', '/api/v1/recharge/orders', 'recharge_orders_create', 'basic', false, 'creates a recharge order');
