-- Platform credentials: sealed on every write (AES-256-GCM), authenticated,
-- rotated, and never returned by the HTTP routes.
\set VERBOSITY terse
BEGIN;
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, 'key [0-9a-f]{8}', 'key <id>', 'g');
END $$;
-- Flips one bit of the sealed bytes of a value (its GCM tag must catch it).
CREATE FUNCTION pg_temp.tamper(v text, byte int) RETURNS text LANGUAGE sql AS $$
  SELECT left(v, 17) || translate(encode(set_byte(b, byte, get_byte(b, byte) # 1), 'base64'), E'\n', '')
    FROM (SELECT decode(substr(v, 18), 'base64') AS b) s
$$;

-- The key in aigw.credential_key_file has an 8-hex-digit id.
SELECT aigw.credential_key_id() ~ '^[0-9a-f]{8}$' AS key_loaded;

-- Sealing: the plaintext is gone, the key id is in the clear, every seal differs (random nonce).
SELECT v LIKE 'aigw:v1:' || aigw.credential_key_id() || ':%' AS sealed_with_current_key,
       strpos(v, 'sk-test-secret-1234') = 0 AS no_plaintext,
       length(decode(substr(v, 18), 'base64')) = 12 + length('sk-test-secret-1234') + 16 AS nonce_ciphertext_tag
  FROM (SELECT aigw.credentials_seal('{"apiKey": "sk-test-secret-1234"}')->>'apiKey' AS v) s;
SELECT aigw.credentials_seal('{"apiKey": "same"}') <> aigw.credentials_seal('{"apiKey": "same"}') AS fresh_nonce;
-- Several values, null kept, sealed values kept as they are, empty objects need no key.
SELECT jsonb_object_keys(c) AS key, jsonb_typeof(c->jsonb_object_keys(c)) AS type
  FROM (SELECT aigw.credentials_seal('{"apiKey": "a", "orgId": "b", "unused": null}') AS c) s ORDER BY 1;
SELECT aigw.credentials_seal(c) = c AS sealed_kept
  FROM (SELECT aigw.credentials_seal('{"apiKey": "a"}') AS c) s;
SELECT aigw.credentials_seal('{}') AS empty;
-- Bad input.
SELECT pg_temp.try($$SELECT aigw.credentials_seal('"sk-x"')$$);
SELECT pg_temp.try($$SELECT aigw.credentials_seal('[]')$$);
SELECT pg_temp.try($$SELECT aigw.credentials_seal('{"apiKey": 42}')$$);
SELECT pg_temp.try($$SELECT aigw.credentials_seal('{"nested": {"apiKey": "x"}}')$$);
SELECT pg_temp.try($$SELECT aigw.credentials_seal('{"apiKey": "aigw:v1:deadbeef:!!"}')$$);

-- Authentication: a sealed value verifies; one flipped bit anywhere (nonce,
-- ciphertext, tag), a changed key id or an unsealed value does not.
SELECT aigw.credentials_verify(aigw.credentials_seal('{"apiKey": "sk-1", "secret": "s-2"}')) AS verified;
CREATE TEMP TABLE sealed AS SELECT aigw.credentials_seal('{"apiKey": "sk-tamper-me"}')->>'apiKey' AS v;
SELECT t.what, pg_temp.try(format($$SELECT aigw.credentials_verify(jsonb_build_object('apiKey', %L::text))$$,
                                  pg_temp.tamper(v, b))) AS tampered
  FROM sealed, (VALUES (0, 'nonce'), (14, 'ciphertext'), (35, 'tag')) AS t(b, what) ORDER BY t.b;
SELECT pg_temp.try(format($$SELECT aigw.credentials_verify(jsonb_build_object('apiKey', %L::text))$$,
                          overlay(v placing '00000000' from 9 for 8))) AS other_key
  FROM sealed;
SELECT pg_temp.try($$SELECT aigw.credentials_verify('{"apiKey": "sk-plain"}')$$) AS unsealed;

-- Every write to integration_platforms is sealed: the admin API and a direct INSERT.
SELECT platform_key, credentials->>'apiKey' LIKE 'aigw:v1:%' AS sealed,
       credentials::text NOT LIKE '%sk-admin-api%' AS no_plaintext
  FROM aigw.create_platform('openai', 'cred-a', 'Cred A', p_credentials => '{"apiKey": "sk-admin-api"}');
INSERT INTO aigw.integration_platforms (provider, platform_key, name, credentials)
VALUES ('openai', 'cred-b', 'Cred B', '{"apiKey": "sk-direct-insert"}');
SELECT platform_key, credentials::text NOT LIKE '%sk-direct-insert%' AS no_plaintext,
       aigw.credentials_verify(credentials) AS values_ok
  FROM aigw.integration_platforms WHERE platform_key = 'cred-b';
-- An update that does not touch credentials keeps the sealed value; a new credential is sealed again.
CREATE TEMP TABLE before AS SELECT credentials FROM aigw.integration_platforms WHERE platform_key = 'cred-a';
SELECT p.credentials = b.credentials AS unchanged
  FROM aigw.update_platform((SELECT id FROM aigw.integration_platforms WHERE platform_key = 'cred-a'),
                            p_name => 'Cred A renamed') p, before b;
SELECT p.credentials <> b.credentials AS resealed, p.credentials::text NOT LIKE '%sk-new%' AS no_plaintext
  FROM aigw.update_platform((SELECT id FROM aigw.integration_platforms WHERE platform_key = 'cred-a'),
                            p_credentials => '{"apiKey": "sk-new"}') p, before b;

-- Nothing to rotate while every value is under the current key; a tampered
-- value is reported by check_credentials and stops a rotation.
SELECT aigw.rotate_credentials() AS rotated;
SELECT platform_key, problem FROM aigw.check_credentials() WHERE platform_key LIKE 'cred-%';
UPDATE aigw.integration_platforms SET credentials = jsonb_build_object('apiKey', pg_temp.tamper(credentials->>'apiKey', 20))
 WHERE platform_key = 'cred-b';
SELECT platform_key, regexp_replace(problem, 'key [0-9a-f]{8}', 'key <id>') AS problem
  FROM aigw.check_credentials() WHERE platform_key LIKE 'cred-%';
UPDATE aigw.integration_platforms SET credentials = '{"apiKey": "aigw:v1:0badc0de:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}'
 WHERE platform_key = 'cred-b';
SELECT pg_temp.try($$SELECT aigw.rotate_credentials()$$) AS rotate_unknown_key;

-- The HTTP routes show whether credentials are set, never the value or its ciphertext.
CREATE TEMP TABLE admin_key AS SELECT aigw.create_admin_api_key('cred-regress') AS k;
CREATE FUNCTION pg_temp.call(m text, p text, b text DEFAULT NULL) RETURNS TABLE (status int, body text)
  LANGUAGE plpgsql AS $$
DECLARE
  r aigw.http_response;
BEGIN
  r := aigw.http_request(m, p, jsonb_build_object('authorization', 'Bearer ' || (SELECT k FROM admin_key)),
                         '{}', b, 'regress-channel');
  RETURN QUERY SELECT r.status, r.body::text;
END $$;
CREATE TEMP TABLE created AS
  SELECT * FROM pg_temp.call('POST', '/integration-platform',
    '{"provider": "openai", "platformKey": "cred-http", "name": "Cred HTTP", "credentials": {"apiKey": "sk-http-secret"}}');
SELECT status, body::jsonb->'data'->>'hasCredentials' AS has_credentials,
       body NOT LIKE '%sk-http-secret%' AND body NOT LIKE '%aigw:v1:%' AS hidden
  FROM created;
SELECT r.m || ' ' || r.label AS route, c.status,
       c.body NOT LIKE '%sk-http-secret%' AND c.body NOT LIKE '%aigw:v1:%' AS hidden
  FROM (SELECT id::text AS id FROM aigw.integration_platforms WHERE platform_key = 'cred-http') p,
       LATERAL (VALUES (1, 'GET', '/integration-platform', '/integration-platform', NULL),
                       (2, 'GET', '/integration-platform/:id', '/integration-platform/' || p.id, NULL),
                       (3, 'GET', '/integration-platform/list/ops-compact', '/integration-platform/list/ops-compact', NULL),
                       (4, 'PATCH', '/integration-platform/:id', '/integration-platform/' || p.id,
                        '{"credentials": {"apiKey": "sk-http-secret"}}'),
                       (5, 'POST', '/integration-platform/:id/copy', '/integration-platform/' || p.id || '/copy',
                        '{"platformKey": "cred-http-copy"}')) AS r(n, m, label, path, b)
  CROSS JOIN LATERAL pg_temp.call(r.m, r.path, r.b) c
 ORDER BY r.n;
SELECT credentials::text NOT LIKE '%sk-http-secret%' AS stored_sealed,
       aigw.credentials_verify(credentials) AS values_ok
  FROM aigw.integration_platforms WHERE platform_key = 'cred-http';
ROLLBACK;
