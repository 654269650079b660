-- HTTP authentication: local API keys (sk-..., stored as SHA-256 hex), HS256
-- JWTs with server-main's claims, and server-main's internal service token.

CREATE FUNCTION aigw.jwt_sign_hs256(payload jsonb, secret text) RETURNS text
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_jwt_sign_hs256';
COMMENT ON FUNCTION aigw.jwt_sign_hs256(jsonb, text) IS 'signs a payload as an HS256 JWT';

CREATE FUNCTION aigw.jwt_verify_hs256(token text, secret text) RETURNS jsonb
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_jwt_verify_hs256';
COMMENT ON FUNCTION aigw.jwt_verify_hs256(text, text) IS
  'payload of an HS256 JWT whose signature matches, else NULL (expiry is not checked here)';

-- The hash stored for an API key.
CREATE FUNCTION aigw.api_key_hash(api_key text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  RETURN encode(sha256(convert_to(api_key, 'UTF8')), 'hex');

-- A new API key: sk- and the hex of three random UUIDs (366 random bits).
CREATE FUNCTION aigw.api_key_generate() RETURNS text
  LANGUAGE sql VOLATILE
  RETURN 'sk-' || replace(gen_random_uuid()::text || gen_random_uuid()::text || gen_random_uuid()::text, '-', '');

-- The identity mode (seed 003 section 7.0): standalone, server-main or hybrid.
CREATE FUNCTION aigw.identity_mode() RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN coalesce(nullif(current_setting('aigw.identity_mode', true), ''), 'hybrid');
COMMENT ON FUNCTION aigw.identity_mode() IS
  'aigw.identity_mode: standalone (local accounts only), server-main (server-main identities only) or hybrid (both)';

-- Refuses a local-account route in server-main mode.
CREATE FUNCTION aigw.http_require_local_accounts(what text) RETURNS void
  LANGUAGE plpgsql STABLE
AS $$
BEGIN
  IF aigw.identity_mode() = 'server-main' THEN
    RAISE EXCEPTION '% is disabled: this gateway runs in server-main identity mode (sign in through server-main)', what
      USING ERRCODE = 'AG403', HINT = 'aigw.identity_mode = hybrid or standalone enables local accounts';
  END IF;
END
$$;

-- Identity of a verified JWT payload (server-main's claims, seed 003 section 5.1).
CREATE FUNCTION aigw.http_identity_from_claims(claims jsonb) RETURNS jsonb
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN jsonb_strip_nulls(jsonb_build_object(
    'authType', 'jwt',
    'userId', claims->>'sub',
    'username', claims->>'username',
    'role', coalesce(claims->>'role', 'user'),
    'tenantId', claims->>'tenantId',
    'gatewayTenantId', claims->>'gatewayTenantId',
    'tenantKey', claims->>'tenantKey',
    'source', coalesce(claims->>'source', 'server-main'),
    'gatewayUserId', claims->>'gatewayUserId',
    'userGroupId', claims->>'userGroupId',
    'userGroupKey', claims->>'userGroupKey',
    'userGroupKeys', claims->'userGroupKeys',
    'ssoId', claims->>'sso_id',
    'apiKeyId', claims->>'apiKeyId',
    'apiKeyName', claims->>'apiKeyName',
    'level', aigw.http_level(coalesce(claims->>'role', 'user'))));

-- A server-main identity completed from its synced copy (seed 003 section
-- 7.0, step 2: source + external user id): the gateway user, tenant and
-- default group when the claims do not name them. A synced user that is not
-- active is refused (403), so disabling it in server-main stops new tasks.
CREATE FUNCTION aigw.http_server_main_user(ident jsonb) RETURNS jsonb
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  u aigw.gateway_users;
BEGIN
  IF ident->>'source' IS DISTINCT FROM 'server-main' OR ident->>'userId' IS NULL THEN
    RETURN ident;
  END IF;
  SELECT * INTO u FROM aigw.gateway_users WHERE source = 'server-main' AND external_user_id = ident->>'userId';
  IF NOT FOUND THEN
    RETURN ident;
  END IF;
  IF u.status <> 'active' OR u.deleted_at IS NOT NULL THEN
    RAISE EXCEPTION 'user % is % (synced from server-main)', ident->>'userId', u.status USING ERRCODE = 'AG403';
  END IF;
  RETURN jsonb_strip_nulls(jsonb_build_object(
           'gatewayUserId', u.id, 'gatewayTenantId', u.gateway_tenant_id, 'tenantKey', u.tenant_key,
           'userGroupId', u.default_user_group_id)) || ident;
END
$$;

-- Checks a JWT: signature, algorithm, exp and nbf.
CREATE FUNCTION aigw.http_auth_jwt(token text) RETURNS jsonb
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  secret text := current_setting('aigw.jwt_secret', true);
  leeway int := coalesce(nullif(current_setting('aigw.jwt_leeway', true), '')::int, 30);
  claims jsonb;
  now_s numeric := extract(epoch FROM clock_timestamp());
  mode text := aigw.identity_mode();
  local_token boolean;
BEGIN
  IF coalesce(secret, '') = '' THEN
    RAISE EXCEPTION 'JWT authentication is not configured' USING ERRCODE = 'AG401';
  END IF;
  claims := aigw.jwt_verify_hs256(token, secret);
  IF claims IS NULL THEN
    RAISE EXCEPTION 'invalid token' USING ERRCODE = 'AG401';
  END IF;
  IF jsonb_typeof(claims->'exp') = 'number' AND (claims->>'exp')::numeric + leeway < now_s THEN
    RAISE EXCEPTION 'token expired' USING ERRCODE = 'AG401';
  END IF;
  IF jsonb_typeof(claims->'nbf') = 'number' AND (claims->>'nbf')::numeric - leeway > now_s THEN
    RAISE EXCEPTION 'token not yet valid' USING ERRCODE = 'AG401';
  END IF;
  IF coalesce(claims->>'sub', '') = '' THEN
    RAISE EXCEPTION 'token has no subject' USING ERRCODE = 'AG401';
  END IF;
  -- a token this gateway issued (local login) carries iss "aigw" and source "gateway"
  local_token := claims->>'iss' = 'aigw' AND claims->>'source' = 'gateway';
  IF mode = 'server-main' AND (local_token OR claims->>'source' = 'gateway') THEN
    RAISE EXCEPTION 'local gateway tokens are not accepted in server-main identity mode' USING ERRCODE = 'AG401';
  END IF;
  IF mode = 'standalone' THEN
    IF NOT local_token THEN
      RAISE EXCEPTION 'only tokens issued by this gateway are accepted in standalone identity mode'
        USING ERRCODE = 'AG401';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM aigw.gateway_users u
                    WHERE u.id::text = claims->>'sub' AND u.source = 'gateway' AND u.status = 'active'
                      AND u.deleted_at IS NULL) THEN
      RAISE EXCEPTION 'the token''s user is not an active local user' USING ERRCODE = 'AG401';
    END IF;
  END IF;
  RETURN aigw.http_server_main_user(aigw.http_identity_from_claims(claims) || jsonb_build_object('identityMode', mode));
END
$$;

-- Identity of a local API key (gateway_api_keys, stored as SHA-256 hex), NULL when it is not one.
CREATE FUNCTION aigw.http_local_api_key(api_key text) RETURNS jsonb
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  ident jsonb;
BEGIN
  SELECT jsonb_strip_nulls(jsonb_build_object(
           'authType', 'api_key',
           'apiKeyId', k.id, 'apiKeyName', k.name, 'scopes', k.scopes,
           'userId', coalesce(u.external_user_id, u.id::text), 'gatewayUserId', u.id,
           'username', u.username, 'role', r.role, 'roles', u.roles,
           'gatewayTenantId', k.gateway_tenant_id, 'tenantId', u.tenant_id, 'tenantKey', u.tenant_key,
           'userGroupId', coalesce(k.user_group_id, u.default_user_group_id),
           'source', u.source, 'level', aigw.http_level(r.role)))
    INTO ident
    FROM aigw.gateway_api_keys k
    JOIN aigw.gateway_users u ON u.id = k.gateway_user_id
    CROSS JOIN LATERAL (
      SELECT coalesce((SELECT x FROM jsonb_array_elements_text(u.roles) AS x
                        ORDER BY aigw.http_level(x) DESC LIMIT 1), 'user') AS role) r
   WHERE k.key_hash = aigw.api_key_hash(api_key)
     AND k.status = 'active'
     AND (k.expires_at IS NULL OR k.expires_at > now())
     AND u.status = 'active';
  RETURN ident;
END
$$;

-- Identity of an sk- API key. Local keys are looked up first (not in
-- server-main mode). A key that is not local, in server-main or hybrid mode
-- with aigw.server_main_verify_url set, is verified by server-main: aigw-http
-- calls that URL and passes the answer back in x-aigw-verified-key-hash (the
-- key's SHA-256, binding the answer to this key) and x-aigw-verified-claims
-- (server-main's JSON: claims, or {"data": claims}). aigw-http drops every
-- client header named x-aigw-*, so only the front can set these. Without them
-- the call raises AGV01, which tells the front to verify and call again.
CREATE FUNCTION aigw.http_auth_api_key(api_key text, headers jsonb DEFAULT '{}') RETURNS jsonb
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  mode text := aigw.identity_mode();
  ident jsonb;
  answer jsonb;
  claims jsonb;
BEGIN
  IF api_key !~ '^sk-[A-Za-z0-9_-]{20,200}$' THEN
    RAISE EXCEPTION 'invalid API key' USING ERRCODE = 'AG401';
  END IF;
  IF mode <> 'server-main' THEN
    ident := aigw.http_local_api_key(api_key);
    IF ident IS NOT NULL THEN
      RETURN ident || jsonb_build_object('identityMode', mode);
    END IF;
  END IF;
  IF mode = 'standalone' OR coalesce(current_setting('aigw.server_main_verify_url', true), '') = '' THEN
    RAISE EXCEPTION 'invalid API key' USING ERRCODE = 'AG401';
  END IF;
  IF headers->>'x-aigw-verified-key-hash' IS NULL THEN
    RAISE EXCEPTION 'invalid API key' USING ERRCODE = 'AGV01',
      DETAIL = 'the key is not local: server-main must verify it';
  END IF;
  IF headers->>'x-aigw-verified-key-hash' IS DISTINCT FROM aigw.api_key_hash(api_key) THEN
    RAISE EXCEPTION 'invalid API key' USING ERRCODE = 'AG401';
  END IF;
  BEGIN
    answer := (headers->>'x-aigw-verified-claims')::jsonb;
  EXCEPTION WHEN invalid_text_representation OR invalid_parameter_value THEN
    RAISE EXCEPTION 'server-main''s API key verification answer is not JSON' USING ERRCODE = 'AG502';
  END;
  claims := CASE WHEN jsonb_typeof(answer->'data') = 'object' THEN answer->'data'
                 WHEN jsonb_typeof(answer->'claims') = 'object' THEN answer->'claims'
                 ELSE answer END;
  IF jsonb_typeof(claims) IS DISTINCT FROM 'object' OR claims->>'valid' = 'false' OR claims->>'active' = 'false'
     OR coalesce(claims->>'sub', claims->>'userId', '') = '' THEN
    RAISE EXCEPTION 'invalid API key' USING ERRCODE = 'AG401';
  END IF;
  RETURN aigw.http_server_main_user(
           aigw.http_identity_from_claims(claims || jsonb_build_object('sub', coalesce(claims->>'sub', claims->>'userId')))
           || jsonb_build_object('authType', 'api_key', 'source', 'server-main', 'verifiedBy', 'server-main',
                                 'identityMode', mode));
END
$$;

-- What aigw-http needs to verify a key with server-main: the URL and the
-- service token (aigw.server_main_token); NULL unless verification is on.
CREATE FUNCTION aigw.http_server_main_verify_settings() RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = aigw, pg_catalog
  RETURN CASE WHEN aigw.identity_mode() <> 'standalone'
                   AND coalesce(current_setting('aigw.server_main_verify_url', true), '') <> ''
              THEN jsonb_build_object('url', current_setting('aigw.server_main_verify_url', true),
                                      'token', coalesce(current_setting('aigw.server_main_token', true), '')) END;
REVOKE ALL ON FUNCTION aigw.http_server_main_verify_settings() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION aigw.http_server_main_verify_settings() TO aigw_front;

INSERT INTO aigw.http_error_map (sqlstate, http_status, error_type, error_code) VALUES
  ('AGV01', 401, 'authentication_error', 'invalid_api_key');

-- server-main's service token: requires X-EasyAI-Actor.
CREATE FUNCTION aigw.http_auth_internal(token text, actor text) RETURNS jsonb
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  IF coalesce(actor, '') = '' THEN
    RAISE EXCEPTION 'the internal service token requires an X-EasyAI-Actor header' USING ERRCODE = 'AG401';
  END IF;
  RETURN jsonb_build_object('authType', 'internal', 'actor', actor, 'userId', 'service:' || actor,
                            'role', 'admin', 'source', 'internal', 'level', 4);
END
$$;

-- Identity of a request from its headers; NULL when it carries no credentials.
-- Bearer sk-... and x-comfy-api-key are local API keys, Bearer x.y.z is a JWT,
-- Bearer <aigw.internal_token> with X-EasyAI-Actor is server-main.
CREATE FUNCTION aigw.http_authenticate(headers jsonb) RETURNS jsonb
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  authz text := headers->>'authorization';
  comfy text := headers->>'x-comfy-api-key';
  token text;
  internal text;
BEGIN
  IF authz IS NOT NULL THEN
    IF authz !~* '^bearer\s+\S+\s*$' THEN
      RAISE EXCEPTION 'the Authorization header must be "Bearer <token>"' USING ERRCODE = 'AG401';
    END IF;
    token := btrim(substr(authz, 7));
    IF token LIKE 'sk-%' THEN
      RETURN aigw.http_auth_api_key(token, headers);
    END IF;
    internal := current_setting('aigw.internal_token', true);
    IF coalesce(internal, '') <> '' AND sha256(convert_to(token, 'UTF8')) = sha256(convert_to(internal, 'UTF8')) THEN
      RETURN aigw.http_auth_internal(token, headers->>'x-easyai-actor');
    END IF;
    IF token ~ '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' THEN
      RETURN aigw.http_auth_jwt(token);
    END IF;
    RAISE EXCEPTION 'invalid API key or token' USING ERRCODE = 'AG401';
  END IF;
  IF comfy IS NOT NULL THEN
    RETURN aigw.http_auth_api_key(btrim(comfy), headers);
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION aigw.http_authenticate(jsonb) IS
  'identity of a request (API key, JWT or internal token), NULL without credentials';
