-- Local accounts (seed 003 section 5.1.1): registration and login with a
-- bcrypt password, answering a short-lived HS256 access token.

-- bcrypt through pgcrypto, wherever pgcrypto was installed.
CREATE FUNCTION aigw.password_hash(password text) RETURNS text
  LANGUAGE plpgsql VOLATILE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  ns text := (SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pgcrypto');
  h text;
BEGIN
  EXECUTE format('SELECT %s.crypt($1, %s.gen_salt(''bf'', 10))', ns, ns) INTO h USING password;
  RETURN h;
END
$$;

-- True when password matches a bcrypt hash.
CREATE FUNCTION aigw.password_matches(password text, hash text) RETURNS boolean
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  ns text := (SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pgcrypto');
  ok boolean;
BEGIN
  IF hash IS NULL OR password IS NULL THEN
    RETURN false;
  END IF;
  EXECUTE format('SELECT %s.crypt($1, $2) = $2', ns) INTO ok USING password, hash;
  RETURN ok;
END
$$;

-- The access token of a local user (2 hours), with server-main's claim names.
CREATE FUNCTION aigw.http_access_token(u aigw.gateway_users) RETURNS jsonb
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  secret text := current_setting('aigw.jwt_secret', true);
  ttl int := 7200;
  role text := coalesce((SELECT x FROM jsonb_array_elements_text(u.roles) AS x
                          ORDER BY aigw.http_level(x) DESC LIMIT 1), 'user');
BEGIN
  IF coalesce(secret, '') = '' THEN
    RAISE EXCEPTION 'token signing is not configured (aigw.jwt_secret)' USING ERRCODE = 'AG503';
  END IF;
  RETURN jsonb_build_object('accessToken', aigw.jwt_sign_hs256(jsonb_strip_nulls(jsonb_build_object(
           'iss', 'aigw', 'sub', u.id, 'username', u.username, 'role', role, 'source', 'gateway', 'gatewayUserId', u.id,
           'gatewayTenantId', u.gateway_tenant_id, 'tenantKey', u.tenant_key, 'tenantId', u.tenant_id,
           'userGroupId', u.default_user_group_id,
           'iat', extract(epoch FROM now())::bigint, 'exp', extract(epoch FROM now())::bigint + ttl)), secret),
         'tokenType', 'Bearer', 'expiresIn', ttl,
         'user', jsonb_strip_nulls(jsonb_build_object('id', u.id, 'username', u.username, 'email', u.email,
                                                      'role', role, 'tenantKey', u.tenant_key)));
END
$$;

-- POST /api/v1/auth/register {username|email, password, tenantKey?, tenantName?, invitationCode?}
CREATE FUNCTION aigw.http_h_auth_register(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  b jsonb := aigw.http_body_object(ctx);
  login text := lower(btrim(coalesce(b->>'username', b->>'email', '')));
  t aigw.gateway_tenants;
  inv aigw.gateway_tenant_invitations;
  u aigw.gateway_users;
BEGIN
  PERFORM aigw.http_require_local_accounts('local registration');
  IF login = '' THEN
    RAISE EXCEPTION 'username or email is required' USING ERRCODE = 'AG422';
  END IF;
  IF login !~ '^[a-z0-9._@+-]{3,128}$' THEN
    RAISE EXCEPTION 'username must be 3 to 128 letters, digits or ._@+-' USING ERRCODE = 'AG422';
  END IF;
  IF length(coalesce(b->>'password', '')) < 8 THEN
    RAISE EXCEPTION 'password must have at least 8 characters' USING ERRCODE = 'AG422';
  END IF;
  IF EXISTS (SELECT 1 FROM gateway_users WHERE user_key = 'local:' || login) THEN
    RAISE EXCEPTION 'user % already exists', login USING ERRCODE = 'AG409';
  END IF;
  IF b->>'tenantKey' IS NOT NULL THEN
    -- joining an existing tenant needs one of its invitations
    SELECT * INTO t FROM gateway_tenants WHERE tenant_key = b->>'tenantKey' AND deleted_at IS NULL;
    IF FOUND THEN
      SELECT * INTO inv FROM gateway_tenant_invitations
       WHERE invite_code = b->>'invitationCode' AND tenant_id = t.id AND status = 'active'
         AND (expires_at IS NULL OR expires_at > now()) AND (max_uses IS NULL OR used_count < max_uses)
       FOR UPDATE;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'joining tenant % needs a valid invitation code', t.tenant_key USING ERRCODE = 'AG403';
      END IF;
      UPDATE gateway_tenant_invitations SET used_count = used_count + 1, updated_at = now() WHERE id = inv.id;
    END IF;
  END IF;
  IF t.id IS NULL THEN
    INSERT INTO gateway_tenants (tenant_key, source, name)
    VALUES (coalesce(b->>'tenantKey', 'user:' || login), 'gateway', coalesce(b->>'tenantName', login))
    RETURNING * INTO t;
  END IF;
  BEGIN
    INSERT INTO gateway_users (user_key, source, username, email, password_hash, gateway_tenant_id, tenant_key,
                               default_user_group_id, roles)
    VALUES ('local:' || login, 'gateway', login, b->>'email', aigw.password_hash(b->>'password'), t.id, t.tenant_key,
            coalesce(inv.user_group_id, t.default_user_group_id), jsonb_build_array(coalesce(inv.role, 'user')))
    RETURNING * INTO u;
  EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'user % already exists', login USING ERRCODE = 'AG409';
  END;
  RETURN aigw.http_json(201, aigw.http_access_token(u));
END
$$;

-- POST /api/v1/auth/login {username|email, password}
CREATE FUNCTION aigw.http_h_auth_login(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  b jsonb := aigw.http_body_object(ctx);
  login text := lower(btrim(coalesce(b->>'username', b->>'email', '')));
  u aigw.gateway_users;
BEGIN
  PERFORM aigw.http_require_local_accounts('local login');
  SELECT * INTO u FROM gateway_users
   WHERE user_key = 'local:' || login AND source = 'gateway' AND deleted_at IS NULL;
  IF NOT FOUND OR u.status <> 'active' OR NOT aigw.password_matches(b->>'password', u.password_hash) THEN
    RAISE EXCEPTION 'invalid username or password' USING ERRCODE = '28P01';
  END IF;
  UPDATE gateway_users SET last_login_at = now() WHERE id = u.id;
  RETURN aigw.http_json(200, aigw.http_access_token(u));
END
$$;

INSERT INTO aigw.http_routes (method, pattern, handler, permission) VALUES
  ('POST', '/api/v1/auth/register', 'auth_register', 'public'),
  ('POST', '/api/v1/auth/login', 'auth_login', 'public');

-- The caller's local user id (403 for identities without one).
CREATE FUNCTION aigw.http_local_user(ctx aigw.http_ctx) RETURNS uuid
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  IF ctx.identity->>'gatewayUserId' IS NULL THEN
    RAISE EXCEPTION 'only local gateway users have API keys here' USING ERRCODE = 'AG403';
  END IF;
  RETURN (ctx.identity->>'gatewayUserId')::uuid;
END
$$;

-- GET /api/v1/api-keys: the caller's keys (never the secret)
CREATE FUNCTION aigw.http_h_api_keys_list(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  SET search_path = aigw, pg_catalog
  RETURN aigw.http_json(200, jsonb_build_object('data',
    (SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
              'id', k.id, 'name', k.name, 'keyPrefix', k.key_prefix, 'status', k.status, 'scopes', k.scopes,
              'expiresAt', k.expires_at, 'lastUsedAt', k.last_used_at, 'createdAt', k.created_at))
              ORDER BY k.created_at), '[]')
       FROM aigw.gateway_api_keys k WHERE k.gateway_user_id = aigw.http_local_user(ctx))));

-- POST /api/v1/api-keys {name, expiresAt?}: a new key, shown once
CREATE FUNCTION aigw.http_h_api_keys_create(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  b jsonb := aigw.http_body_object(ctx);
  uid uuid;
  k text := aigw.api_key_generate();
  row aigw.gateway_api_keys;
BEGIN
  PERFORM aigw.http_require_local_accounts('creating local API keys');
  uid := aigw.http_local_user(ctx);
  IF coalesce(btrim(b->>'name'), '') = '' THEN
    RAISE EXCEPTION 'name is required' USING ERRCODE = 'AG422';
  END IF;
  INSERT INTO gateway_api_keys (gateway_tenant_id, gateway_user_id, key_prefix, key_hash, name, expires_at)
  VALUES ((ctx.identity->>'gatewayTenantId')::uuid, uid, substr(k, 1, 10), aigw.api_key_hash(k), b->>'name',
          (b->>'expiresAt')::timestamptz)
  RETURNING * INTO row;
  RETURN aigw.http_json(201, jsonb_build_object('id', row.id, 'name', row.name, 'key', k, 'keyPrefix', row.key_prefix,
                                                'expiresAt', row.expires_at));
EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
  RAISE EXCEPTION 'expiresAt must be a timestamp' USING ERRCODE = 'AG400';
END
$$;

-- PATCH /api/v1/api-keys/:id/disable: the caller's key (managers: any key)
CREATE FUNCTION aigw.http_h_api_keys_disable(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  row aigw.gateway_api_keys;
BEGIN
  UPDATE gateway_api_keys SET status = 'disabled', updated_at = now()
   WHERE id = aigw.http_param_uuid(ctx, 'id')
     AND ((ctx.identity->>'level')::int >= 4 OR gateway_user_id::text = ctx.identity->>'gatewayUserId')
  RETURNING * INTO row;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'API key % not found', ctx.params->>'id' USING ERRCODE = 'AG404';
  END IF;
  RETURN aigw.http_json(200, jsonb_build_object('id', row.id, 'status', row.status));
END
$$;

INSERT INTO aigw.http_routes (method, pattern, handler, permission) VALUES
  ('GET', '/api/v1/api-keys', 'api_keys_list', 'basic'),
  ('POST', '/api/v1/api-keys', 'api_keys_create', 'basic'),
  ('PATCH', '/api/v1/api-keys/:id/disable', 'api_keys_disable', 'basic');
