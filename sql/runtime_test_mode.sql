-- Request-level test mode over HTTP (seed 003 §13.1): X-EasyAI-Test-Mode or
-- body test_mode, allowed to power users, managers and internal services, to
-- API keys whose feature_flags.request_test_mode is true, and to any user
-- when aigw.allow_request_test_mode is on.
BEGIN;
SET LOCAL aigw.jwt_secret = 'regress-secret';
SET LOCAL aigw.internal_token = 'internal-regress-token';

-- Calls the entry as aigw-http does; returns the status, the error code and the task's run mode.
CREATE FUNCTION pg_temp.chat(h jsonb, b jsonb DEFAULT '{}')
  RETURNS TABLE (status int, code text, run_mode text, stored_test_mode boolean)
  LANGUAGE plpgsql AS $$
DECLARE
  r aigw.http_response;
  st text; msg text; det text; hnt text;
BEGIN
  BEGIN
    r := aigw.http_request('POST', '/v1/chat/completions', h, '{}',
                           ('{"model": "tm-sim", "messages": [{"role": "user", "content": "hi"}]}'::jsonb || b)::text,
                           'regress-channel');
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    r := aigw.http_error_response(st, msg, det, hnt, 'req-regress');
  END;
  RETURN QUERY SELECT r.status, r.body::jsonb->'error'->>'code', t.run_mode, t.request ? 'test_mode'
    FROM (SELECT 1) one LEFT JOIN aigw.gateway_tasks t ON t.id = r.task_id;
END $$;

-- A platform whose provider is real (openai_compatible): production unless simulation is asked for.
INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type, status)
VALUES ('tm-openai', 'Test mode provider', 'openai_compatible', 'active');
INSERT INTO aigw.integration_platforms (provider, platform_key, name, auth_type, base_url)
VALUES ('tm-openai', 'tm-openai', 'Test mode platform', 'none', 'http://127.0.0.1:9');
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override)
SELECT id, 'tm-sim', 'chat', 'tm', 'custom', '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 2}}'
  FROM aigw.integration_platforms WHERE platform_key = 'tm-openai';

-- A local user (role user) with a key; tokens for it, for a manager and for a power user.
INSERT INTO aigw.gateway_users (id, user_key, username, roles, password_hash)
VALUES ('00000000-0000-0000-0000-0000000000d1', 'local:dora', 'dora', '["user"]', aigw.password_hash('dora-password'));
INSERT INTO aigw.gateway_api_keys (id, gateway_user_id, key_prefix, key_hash, name)
VALUES ('00000000-0000-0000-0000-0000000000d2', '00000000-0000-0000-0000-0000000000d1', 'sk-dora',
        aigw.api_key_hash('sk-doradoradoradoradoradora01'), 'dora key');
SELECT aigw.wallet_adjust(aigw.wallet_account('00000000-0000-0000-0000-0000000000d1', NULL, 'resource'), 50,
                          'regress-test-mode', 'test credit') IS NOT NULL AS credited;
CREATE TEMP TABLE tok AS
SELECT 'Bearer ' || (SELECT aigw.http_access_token(u)->>'accessToken' FROM aigw.gateway_users u
                      WHERE u.id = '00000000-0000-0000-0000-0000000000d1') AS user_jwt,
       'Bearer ' || aigw.jwt_sign_hs256(jsonb_build_object('sub', 'sm-m', 'role', 'manager', 'source', 'server-main',
                                                           'exp', extract(epoch FROM now())::bigint + 600),
                                        'regress-secret') AS manager_jwt,
       'Bearer ' || aigw.jwt_sign_hs256(jsonb_build_object('sub', 'sm-p', 'role', 'power', 'source', 'server-main',
                                                           'exp', extract(epoch FROM now())::bigint + 600),
                                        'regress-secret') AS power_jwt,
       'Bearer sk-doradoradoradoradoradora01' AS user_key;

-- Without test mode: production.
SELECT c.* FROM tok, pg_temp.chat(jsonb_build_object('authorization', user_jwt)) c;
-- An ordinary user may not ask for it, by header or by body: 403 test_mode_not_allowed.
SELECT c.* FROM tok, pg_temp.chat(jsonb_build_object('authorization', user_jwt, 'x-easyai-test-mode', 'simulation')) c;
SELECT c.* FROM tok, pg_temp.chat(jsonb_build_object('authorization', user_jwt), '{"test_mode": true}') c;
-- Neither may an API key, by default.
SELECT c.* FROM tok, pg_temp.chat(jsonb_build_object('authorization', user_key, 'x-easyai-test-mode', 'simulation')) c;
-- A manager and a power user may; the task is simulated and the body keeps no test_mode.
SELECT c.* FROM tok, pg_temp.chat(jsonb_build_object('authorization', manager_jwt, 'x-easyai-test-mode', 'simulation')) c;
SELECT c.* FROM tok, pg_temp.chat(jsonb_build_object('authorization', power_jwt), '{"test_mode": "true"}') c;
-- So may an internal service.
SELECT c.* FROM pg_temp.chat('{"authorization": "Bearer internal-regress-token", "x-easyai-actor": "server-main", "x-easyai-test-mode": "Simulation"}') c;
-- The header wins over the body; false and production ask for nothing.
SELECT c.* FROM tok, pg_temp.chat(jsonb_build_object('authorization', manager_jwt, 'x-easyai-test-mode', 'production'),
                                '{"test_mode": true}') c;
SELECT c.* FROM tok, pg_temp.chat(jsonb_build_object('authorization', user_jwt), '{"test_mode": false}') c;
-- Malformed values: 400.
SELECT c.* FROM tok, pg_temp.chat(jsonb_build_object('authorization', manager_jwt, 'x-easyai-test-mode', 'yes')) c;
SELECT c.* FROM tok, pg_temp.chat(jsonb_build_object('authorization', manager_jwt), '{"test_mode": 1}') c;
-- feature_flags.request_test_mode for the key lets the key ask for it (the user's own token still may not).
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value)
VALUES ('feature_flags', 'api_key', '00000000-0000-0000-0000-0000000000d2', '{"request_test_mode": true}');
SELECT c.* FROM tok, pg_temp.chat(jsonb_build_object('authorization', user_key, 'x-easyai-test-mode', 'simulation')) c;
SELECT c.* FROM tok, pg_temp.chat(jsonb_build_object('authorization', user_jwt, 'x-easyai-test-mode', 'simulation')) c;
-- aigw.allow_request_test_mode lets every signed-in user ask for it.
SET LOCAL aigw.allow_request_test_mode = on;
SELECT c.* FROM tok, pg_temp.chat(jsonb_build_object('authorization', user_jwt, 'x-easyai-test-mode', 'simulation')) c;
-- A simulated task is a dry run: a user whose wallet is empty is not refused (nothing is held).
INSERT INTO aigw.gateway_users (id, user_key, username, roles, password_hash)
VALUES ('00000000-0000-0000-0000-0000000000d3', 'local:ezra', 'ezra', '["user"]', aigw.password_hash('ezra-password'));
SELECT c.* FROM pg_temp.chat(jsonb_build_object('authorization', 'Bearer ' ||
  (SELECT aigw.http_access_token(u)->>'accessToken' FROM aigw.gateway_users u WHERE u.id = '00000000-0000-0000-0000-0000000000d3'))) c;
SELECT c.* FROM pg_temp.chat(jsonb_build_object('authorization', 'Bearer ' ||
  (SELECT aigw.http_access_token(u)->>'accessToken' FROM aigw.gateway_users u WHERE u.id = '00000000-0000-0000-0000-0000000000d3'),
  'x-easyai-test-mode', 'simulation')) c;
-- The error map answers 403 permission_error for AGT43.
SELECT http_status, error_type, error_code FROM aigw.http_error_map WHERE sqlstate = 'AGT43';
ROLLBACK;
