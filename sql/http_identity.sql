-- Identity modes (aigw.identity_mode) and server-main verified API keys.
BEGIN;
SET LOCAL aigw.jwt_secret = 'regress-secret';
SET LOCAL aigw.internal_token = 'internal-regress-token';

-- Calls the entry as aigw-http does; sqlstate is the raw state of a failure.
CREATE FUNCTION pg_temp.call(m text, p text, h jsonb DEFAULT '{}', b text DEFAULT NULL)
  RETURNS TABLE (status int, sqlstate text, body jsonb)
  LANGUAGE plpgsql AS $$
DECLARE
  r aigw.http_response;
  st text; msg text; det text; hnt text;
BEGIN
  BEGIN
    r := aigw.http_request(m, p, h, '{}', b, 'regress-channel');
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    r := aigw.http_error_response(st, msg, det, hnt, 'req-regress');
  END;
  RETURN QUERY SELECT r.status, st, r.body::jsonb;
END $$;

-- A local user with a key and a local token; a server-main token.
INSERT INTO aigw.gateway_users (id, user_key, username, roles, password_hash)
VALUES ('00000000-0000-0000-0000-0000000000c1', 'local:carol', 'carol', '["user"]', aigw.password_hash('carol-password'));
INSERT INTO aigw.gateway_api_keys (gateway_user_id, key_prefix, key_hash, name)
VALUES ('00000000-0000-0000-0000-0000000000c1', 'sk-carol', aigw.api_key_hash('sk-carolcarolcarolcarolcarol1'), 'carol key');
CREATE TEMP TABLE tok AS
SELECT (SELECT aigw.http_access_token(u)->>'accessToken' FROM aigw.gateway_users u
         WHERE u.id = '00000000-0000-0000-0000-0000000000c1') AS local_jwt,
       aigw.jwt_sign_hs256(jsonb_build_object('sub', 'sm-7', 'username', 'sam', 'role', 'user', 'source', 'server-main',
                                              'tenantId', 'org-7', 'exp', extract(epoch FROM now())::bigint + 600),
                           'regress-secret') AS sm_jwt,
       aigw.jwt_sign_hs256(jsonb_build_object('sub', '00000000-0000-0000-0000-0000000000ff', 'source', 'gateway',
                                              'iss', 'aigw', 'exp', extract(epoch FROM now())::bigint + 600),
                           'regress-secret') AS ghost_jwt;
SELECT aigw.identity_mode() AS default_mode;
SELECT (aigw.jwt_verify_hs256(local_jwt, 'regress-secret')->>'iss') AS local_iss FROM tok;

-- hybrid (the default): local and server-main identities both pass.
SELECT status, body->>'source' AS source, body->>'authType' AS auth, body->>'identityMode' AS mode
  FROM tok, pg_temp.call('GET', '/api/v1/me', jsonb_build_object('authorization', 'Bearer ' || local_jwt));
SELECT status, body->>'source' AS source, body->>'userId' AS user_id
  FROM tok, pg_temp.call('GET', '/api/v1/me', jsonb_build_object('authorization', 'Bearer ' || sm_jwt));
SELECT status, body->>'username' AS username, body->>'identityMode' AS mode
  FROM pg_temp.call('GET', '/api/v1/me', '{"authorization":"Bearer sk-carolcarolcarolcarolcarol1"}');
-- a key that is not local, without a verification URL: 401
SELECT status, sqlstate, body->'error'->>'code' AS code
  FROM pg_temp.call('GET', '/api/v1/me', '{"authorization":"Bearer sk-notlocalnotlocalnotlocal01"}');
SELECT aigw.http_server_main_verify_settings() AS settings_off;
-- a server-main identity with a synced copy gets its gateway user and tenant; a disabled copy is refused
INSERT INTO aigw.gateway_tenants (id, tenant_key, source, external_tenant_id, name)
VALUES ('00000000-0000-0000-0000-0000000000c7', 'org-7', 'server-main', 'org-7', 'Org 7');
INSERT INTO aigw.gateway_users (id, user_key, source, external_user_id, username, gateway_tenant_id, tenant_key)
VALUES ('00000000-0000-0000-0000-0000000000c8', 'server-main:sm-7', 'server-main', 'sm-7', 'sam',
        '00000000-0000-0000-0000-0000000000c7', 'org-7');
SELECT status, body->>'gatewayUserId' AS gateway_user, body->>'gatewayTenantId' AS gateway_tenant, body->>'tenantKey' AS tenant_key
  FROM tok, pg_temp.call('GET', '/api/v1/me', jsonb_build_object('authorization', 'Bearer ' || sm_jwt));
SELECT status, body->'error'->>'message' AS message
  FROM tok, pg_temp.call('GET', '/api/v1/wallet/accounts', jsonb_build_object('authorization', 'Bearer ' || sm_jwt));
UPDATE aigw.gateway_users SET status = 'disabled' WHERE id = '00000000-0000-0000-0000-0000000000c8';
SELECT status, body->'error'->>'message' AS message
  FROM tok, pg_temp.call('GET', '/api/v1/me', jsonb_build_object('authorization', 'Bearer ' || sm_jwt));
DELETE FROM aigw.gateway_users WHERE id = '00000000-0000-0000-0000-0000000000c8';

-- server-main: local accounts are off, local tokens and keys refused.
SET LOCAL aigw.identity_mode = 'server-main';
SELECT status, body->'error'->>'type' AS type, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/auth/register', '{}', '{"username":"dave","password":"dave-password"}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/auth/login', '{}', '{"username":"carol","password":"carol-password"}');
SELECT status, body->'error'->>'message' AS message
  FROM tok, pg_temp.call('GET', '/api/v1/me', jsonb_build_object('authorization', 'Bearer ' || local_jwt));
SELECT status, body->>'source' AS source, body->>'identityMode' AS mode
  FROM tok, pg_temp.call('GET', '/api/v1/me', jsonb_build_object('authorization', 'Bearer ' || sm_jwt));
SELECT status, sqlstate
  FROM pg_temp.call('GET', '/api/v1/me', '{"authorization":"Bearer sk-carolcarolcarolcarolcarol1"}');
-- local API keys cannot be created either (server-main issues keys)
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/api-keys', '{"authorization":"Bearer internal-regress-token","x-easyai-actor":"easyai-server-main"}',
                    '{"name":"k"}');
-- the service token still works
SELECT status, body->>'authType' AS auth
  FROM pg_temp.call('GET', '/api/v1/me', '{"authorization":"Bearer internal-regress-token","x-easyai-actor":"easyai-server-main"}');

-- server-main verification: AGV01 asks the front to verify; its answer is bound to the key by hash.
SET LOCAL aigw.server_main_verify_url = 'http://127.0.0.1:9/internal/platform/auth/verify-api-key';
SELECT aigw.http_server_main_verify_settings() AS settings;
SELECT status, sqlstate, body->'error'->>'message' AS message
  FROM pg_temp.call('GET', '/api/v1/me', '{"authorization":"Bearer sk-carolcarolcarolcarolcarol1"}');
SELECT status, body->>'authType' AS auth, body->>'source' AS source, body->>'userId' AS user_id,
       body->>'tenantId' AS tenant, body->>'apiKeyId' AS key_id, body->>'permission' AS permission
  FROM pg_temp.call('GET', '/api/v1/me', jsonb_build_object(
         'authorization', 'Bearer sk-remoteremoteremoteremote01',
         'x-aigw-verified-key-hash', aigw.api_key_hash('sk-remoteremoteremoteremote01'),
         'x-aigw-verified-claims', '{"code":200,"data":{"sub":"sm-9","username":"remote","role":"operator","tenantId":"org-9","apiKeyId":"k-9","source":"gateway"}}'));
-- x-comfy-api-key too, with bare claims
SELECT status, body->>'userId' AS user_id, body->>'source' AS source
  FROM pg_temp.call('GET', '/api/v1/me', jsonb_build_object(
         'x-comfy-api-key', 'sk-remoteremoteremoteremote02',
         'x-aigw-verified-key-hash', aigw.api_key_hash('sk-remoteremoteremoteremote02'),
         'x-aigw-verified-claims', '{"userId":"sm-10","role":"user"}'));
-- an answer for another key, a negative answer, an answer without a subject, garbage
SELECT status, sqlstate FROM pg_temp.call('GET', '/api/v1/me', jsonb_build_object(
         'authorization', 'Bearer sk-remoteremoteremoteremote01',
         'x-aigw-verified-key-hash', aigw.api_key_hash('sk-remoteremoteremoteremote02'),
         'x-aigw-verified-claims', '{"sub":"sm-9"}'));
SELECT status, sqlstate FROM pg_temp.call('GET', '/api/v1/me', jsonb_build_object(
         'authorization', 'Bearer sk-remoteremoteremoteremote01',
         'x-aigw-verified-key-hash', aigw.api_key_hash('sk-remoteremoteremoteremote01'),
         'x-aigw-verified-claims', '{"valid":false,"sub":"sm-9"}'));
SELECT status, sqlstate FROM pg_temp.call('GET', '/api/v1/me', jsonb_build_object(
         'authorization', 'Bearer sk-remoteremoteremoteremote01',
         'x-aigw-verified-key-hash', aigw.api_key_hash('sk-remoteremoteremoteremote01'),
         'x-aigw-verified-claims', '{"data":{"role":"admin"}}'));
SELECT status, sqlstate FROM pg_temp.call('GET', '/api/v1/me', jsonb_build_object(
         'authorization', 'Bearer sk-remoteremoteremoteremote01',
         'x-aigw-verified-key-hash', aigw.api_key_hash('sk-remoteremoteremoteremote01'),
         'x-aigw-verified-claims', '<html>'));

-- hybrid with verification: a local key stays local, another key goes to server-main.
SET LOCAL aigw.identity_mode = 'hybrid';
SELECT status, sqlstate, body->>'source' AS source
  FROM pg_temp.call('GET', '/api/v1/me', '{"authorization":"Bearer sk-carolcarolcarolcarolcarol1"}');
SELECT status, sqlstate
  FROM pg_temp.call('GET', '/api/v1/me', '{"authorization":"Bearer sk-notlocalnotlocalnotlocal01"}');

-- standalone: only this gateway's tokens for active local users, local keys, no verification.
SET LOCAL aigw.identity_mode = 'standalone';
SELECT aigw.http_server_main_verify_settings() AS settings_standalone;
SELECT status, body->>'username' AS username
  FROM tok, pg_temp.call('GET', '/api/v1/me', jsonb_build_object('authorization', 'Bearer ' || local_jwt));
SELECT status, body->'error'->>'message' AS message
  FROM tok, pg_temp.call('GET', '/api/v1/me', jsonb_build_object('authorization', 'Bearer ' || sm_jwt));
SELECT status, body->'error'->>'message' AS message
  FROM tok, pg_temp.call('GET', '/api/v1/me', jsonb_build_object('authorization', 'Bearer ' || ghost_jwt));
SELECT status, body->>'username' AS username
  FROM pg_temp.call('GET', '/api/v1/me', '{"authorization":"Bearer sk-carolcarolcarolcarolcarol1"}');
SELECT status, sqlstate
  FROM pg_temp.call('GET', '/api/v1/me', '{"authorization":"Bearer sk-notlocalnotlocalnotlocal01"}');
SELECT status, sqlstate FROM pg_temp.call('GET', '/api/v1/me', jsonb_build_object(
         'authorization', 'Bearer sk-remoteremoteremoteremote01',
         'x-aigw-verified-key-hash', aigw.api_key_hash('sk-remoteremoteremoteremote01'),
         'x-aigw-verified-claims', '{"sub":"sm-9"}'));
UPDATE aigw.gateway_users SET status = 'disabled' WHERE id = '00000000-0000-0000-0000-0000000000c1';
SELECT status, body->'error'->>'message' AS message
  FROM tok, pg_temp.call('GET', '/api/v1/me', jsonb_build_object('authorization', 'Bearer ' || local_jwt));
SELECT status, sqlstate
  FROM pg_temp.call('POST', '/api/v1/auth/login', '{}', '{"username":"carol","password":"carol-password"}');
ROLLBACK;
SELECT aigw.identity_mode() AS mode_after;
