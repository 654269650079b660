-- HTTP entry: routing, authentication, permissions and error mapping.
BEGIN;
SET LOCAL aigw.jwt_secret = 'regress-secret';
SET LOCAL aigw.internal_token = 'internal-regress-token';

-- Static paths win over :param paths, each reaching its own handler.
SELECT pattern, handler, params
  FROM (VALUES ('GET', '/integration-platform/models/list/enabled'),
               ('GET', '/integration-platform/models/list/all'),
               ('GET', '/integration-platform/models/strict/chat'),
               ('GET', '/integration-platform/models/image'),
               ('PATCH', '/integration-platform/dynamic-priority/abc'),
               ('DELETE', '/integration-platform/dynamic-priority/abc'),
               ('PATCH', '/integration-platform/scene-script/abc/partial'),
               ('PATCH', '/integration-platform/enable/abc'),
               ('PATCH', '/integration-platform/abc'),
               ('GET', '/integration-platform/list/ops-compact'),
               ('GET', '/integration-platform/abc'),
               ('POST', '/integration-platform/abc/copy'),
               ('GET', '/api/v1/tasks/t1/events'),
               ('GET', '/api/v1/tasks/t1'),
               ('POST', '/integration-platform/preset'),
               ('POST', '/integration/platform-api/execute'),
               ('GET', '/integration/platform-api/execute'),
               ('POST', '/api/v1/tenants/sync'),
               ('GET', '/api/v1/tenants/sync'),
               ('GET', '/api/v1/tenants/t1'),
               ('POST', '/api/v1/users/sync'),
               ('GET', '/api/v1/users/u1'),
               ('POST', '/api/v1/user-groups/g1/sync'),
               ('GET', '/api/v1/user-groups/g1'),
               ('PATCH', '/api/v1/api-keys/k1/disable')) AS r(m, p)
 CROSS JOIN LATERAL aigw.http_route(m, p);

-- No route: the methods that exist, or nothing.
SELECT pattern, allowed FROM aigw.http_route('POST', '/healthz');
SELECT pattern, allowed FROM aigw.http_route('GET', '/no/such/path');
SELECT pattern, allowed FROM aigw.http_route('GET', '/integration-platform/a/b/c/d/e');

-- A helper that calls the entry and maps errors as aigw-http does.
CREATE FUNCTION pg_temp.call(m text, p text, h jsonb DEFAULT '{}', b text DEFAULT NULL)
  RETURNS TABLE (status int, headers jsonb, body jsonb)
  LANGUAGE plpgsql AS $$
DECLARE
  r aigw.http_response;
  st text; msg text; det text; hnt text;
BEGIN
  BEGIN
    r := aigw.http_request(m, p, h || '{"x-request-id":"req-regress"}', '{}', b, 'regress-channel');
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    r := aigw.http_error_response(st, msg, det, hnt, 'req-regress');
  END;
  RETURN QUERY SELECT r.status, r.headers, r.body::jsonb;
END $$;

SELECT * FROM pg_temp.call('GET', '/healthz');
SELECT * FROM pg_temp.call('HEAD', '/healthz/');
SELECT * FROM pg_temp.call('POST', '/healthz');
SELECT * FROM pg_temp.call('GET', '/nope');

-- No credentials, a malformed header, an unknown key.
SELECT status, body FROM pg_temp.call('GET', '/api/v1/me');
SELECT status, body FROM pg_temp.call('GET', '/api/v1/me', '{"authorization":"Basic abc"}');
SELECT status, body FROM pg_temp.call('GET', '/api/v1/me', '{"authorization":"Bearer sk-0123456789abcdef0123456789abcdef"}');
SELECT status, body FROM pg_temp.call('GET', '/api/v1/me', '{"authorization":"Bearer whatever"}');

-- JWT: valid, wrong secret, expired, not yet valid, alg none, no subject.
SELECT status, body->>'userId' AS user_id, body->>'role' AS role, body->>'permission' AS permission, body->>'tenantId' AS tenant
  FROM pg_temp.call('GET', '/api/v1/me', jsonb_build_object('authorization', 'Bearer ' || aigw.jwt_sign_hs256(
    jsonb_build_object('sub', 'u-1', 'username', 'alice', 'role', 'creator', 'tenantId', 't-9',
                       'exp', extract(epoch FROM now())::bigint + 600), 'regress-secret')));
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('GET', '/api/v1/me', jsonb_build_object('authorization', 'Bearer ' || aigw.jwt_sign_hs256(
    '{"sub":"u-1"}', 'other-secret')));
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('GET', '/api/v1/me', jsonb_build_object('authorization', 'Bearer ' || aigw.jwt_sign_hs256(
    jsonb_build_object('sub', 'u-1', 'exp', extract(epoch FROM now())::bigint - 3600), 'regress-secret')));
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('GET', '/api/v1/me', jsonb_build_object('authorization', 'Bearer ' || aigw.jwt_sign_hs256(
    jsonb_build_object('sub', 'u-1', 'nbf', extract(epoch FROM now())::bigint + 3600), 'regress-secret')));
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('GET', '/api/v1/me', jsonb_build_object('authorization', 'Bearer ' ||
    translate(encode(convert_to('{"alg":"none","typ":"JWT"}', 'UTF8'), 'base64'), '+/=', '-_') || '.' ||
    translate(encode(convert_to('{"sub":"u-1","role":"admin"}', 'UTF8'), 'base64'), '+/=', '-_') || '.AAAA'));
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('GET', '/api/v1/me', jsonb_build_object('authorization', 'Bearer ' || aigw.jwt_sign_hs256(
    '{"role":"admin"}', 'regress-secret')));
SELECT aigw.jwt_verify_hs256(aigw.jwt_sign_hs256('{"a":1}', 'k'), 'k') AS roundtrip,
       aigw.jwt_verify_hs256('a.b', 'k') AS two_parts,
       aigw.jwt_verify_hs256('!!.??.**', 'k') AS garbage;

-- Internal service token: needs X-EasyAI-Actor.
SELECT status, body->>'authType' AS auth, body->>'actor' AS actor, body->>'permission' AS permission
  FROM pg_temp.call('GET', '/api/v1/me', '{"authorization":"Bearer internal-regress-token","x-easyai-actor":"easyai-server-main"}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('GET', '/api/v1/me', '{"authorization":"Bearer internal-regress-token"}');

-- Local API keys: Bearer and x-comfy-api-key, stored as SHA-256 hex; disabled and expired keys fail.
INSERT INTO aigw.gateway_users (id, user_key, username, roles)
VALUES ('00000000-0000-0000-0000-0000000000a1', 'regress:bob', 'bob', '["user"]'),
       ('00000000-0000-0000-0000-0000000000a2', 'regress:op', 'op', '["user","operator"]');
INSERT INTO aigw.gateway_api_keys (gateway_user_id, key_prefix, key_hash, name, status, expires_at) VALUES
  ('00000000-0000-0000-0000-0000000000a1', 'sk-bob', aigw.api_key_hash('sk-bobbobbobbobbobbobbobbob1'), 'bob key', 'active', NULL),
  ('00000000-0000-0000-0000-0000000000a1', 'sk-bob', aigw.api_key_hash('sk-bobbobbobbobbobbobbobbob2'), 'bob old', 'disabled', NULL),
  ('00000000-0000-0000-0000-0000000000a1', 'sk-bob', aigw.api_key_hash('sk-bobbobbobbobbobbobbobbob3'), 'bob exp', 'active', now() - interval '1 day'),
  ('00000000-0000-0000-0000-0000000000a2', 'sk-op', aigw.api_key_hash('sk-opopopopopopopopopopopop1'), 'op key', 'active', NULL);
SELECT key_hash = encode(sha256('sk-bobbobbobbobbobbobbobbob1'::bytea), 'hex') AS sha256_hex
  FROM aigw.gateway_api_keys WHERE name = 'bob key';
SELECT status, body->>'username' AS username, body->>'role' AS role, body->>'apiKeyName' AS key_name
  FROM pg_temp.call('GET', '/api/v1/me', '{"authorization":"Bearer sk-bobbobbobbobbobbobbobbob1"}');
SELECT status, body->>'username' AS username, body->>'role' AS role
  FROM pg_temp.call('GET', '/api/v1/me', '{"x-comfy-api-key":"sk-opopopopopopopopopopopop1"}');
SELECT status, body->'error'->>'code' AS code
  FROM pg_temp.call('GET', '/api/v1/me', '{"authorization":"Bearer sk-bobbobbobbobbobbobbobbob2"}');
SELECT status, body->'error'->>'code' AS code
  FROM pg_temp.call('GET', '/api/v1/me', '{"authorization":"Bearer sk-bobbobbobbobbobbobbobbob3"}');

-- Permission levels: basic cannot reach power routes; power cannot reach manager-only ones.
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('GET', '/integration-platform', '{"authorization":"Bearer sk-bobbobbobbobbobbobbobbob1"}');
SELECT status, (body->'data'->>'total')::int > 0 AS has_platforms
  FROM pg_temp.call('GET', '/integration-platform', '{"authorization":"Bearer sk-opopopopopopopopopopopop1"}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('DELETE', '/integration-platform/00000000-0000-0000-0000-000000000000',
                    '{"authorization":"Bearer sk-opopopopopopopopopopopop1"}');

-- The three paths of seed 003 section 6.1 reach their handlers end to end.
SELECT status, jsonb_typeof(body->'data') AS data
  FROM pg_temp.call('GET', '/integration-platform/models/list/enabled', '{"authorization":"Bearer sk-bobbobbobbobbobbobbobbob1"}');
SELECT status, body->'data'->>'dynamic_priority' AS dynamic_priority
  FROM pg_temp.call('PATCH', '/integration-platform/dynamic-priority/' ||
                    (SELECT id FROM aigw.integration_platforms WHERE platform_key = 'simulation'),
                    '{"authorization":"Bearer sk-opopopopopopopopopopopop1"}', '{"dynamicPriority": 7}');
SELECT status, body->'data'->'config'->'sceneScript' AS scene_script
  FROM pg_temp.call('PATCH', '/integration-platform/scene-script/' ||
                    (SELECT id FROM aigw.integration_platforms WHERE platform_key = 'simulation') || '/partial',
                    '{"authorization":"Bearer sk-opopopopopopopopopopopop1"}', '{"intro": "hello"}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('PATCH', '/integration-platform/dynamic-priority/not-a-uuid',
                    '{"authorization":"Bearer sk-opopopopopopopopopopopop1"}', '{"dynamicPriority": 7}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('PATCH', '/integration-platform/dynamic-priority/00000000-0000-0000-0000-000000000000',
                    '{"authorization":"Bearer sk-opopopopopopopopopopopop1"}', '{"dynamicPriority": 7}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('PATCH', '/integration-platform/dynamic-priority/' ||
                    (SELECT id FROM aigw.integration_platforms WHERE platform_key = 'simulation'),
                    '{"authorization":"Bearer sk-opopopopopopopopopopopop1"}', '{not json');

-- OpenAI model list.
SELECT status, body->>'object' AS object, jsonb_path_query_array(body, '$.data[*].id') AS ids
  FROM pg_temp.call('GET', '/v1/models', '{"authorization":"Bearer sk-bobbobbobbobbobbobbobbob1"}');

-- Every mapped status with its OpenAI error type; Retry-After on 429 and 503.
SELECT sqlstate, r.status, r.headers->>'retry-after' AS retry_after, r.body::jsonb->'error'->>'type' AS type,
       r.body::jsonb->'error'->>'code' AS code
  FROM unnest(ARRAY['AG400', 'AG401', 'AG402', 'AG403', 'AG404', 'AG409', 'AG413', 'AG422', 'AG429',
                    'AG500', 'AG502', 'AG503', 'AG504', '22P02', '23505', '40001', '57014', 'XX000']) AS sqlstate
 CROSS JOIN LATERAL aigw.http_error_response(sqlstate, 'boom', NULL,
                      CASE WHEN sqlstate = 'AG429' THEN 'Retry-After: 12' END, 'req-1') r;
-- Route rows changed by DML are seen at once (and gone after rollback).
INSERT INTO aigw.http_routes (method, pattern, handler, permission) VALUES ('GET', '/regress/:x', 'healthz', 'public');
SELECT pattern, params FROM aigw.http_route('GET', '/regress/abc');
ROLLBACK;
SELECT pattern, allowed FROM aigw.http_route('GET', '/regress/abc');
