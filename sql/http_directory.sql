-- Console routes over tenants, users, user groups, invitations, wallets and
-- recharge orders; server-main sync; platform presets; platform API execute.
BEGIN;
SET LOCAL aigw.jwt_secret = 'regress-secret';
SET LOCAL aigw.internal_token = 'internal-regress-token';

CREATE FUNCTION pg_temp.call(m text, p text, h jsonb DEFAULT '{}', b text DEFAULT NULL, q jsonb DEFAULT '{}')
  RETURNS TABLE (status int, headers jsonb, body jsonb, task_id uuid)
  LANGUAGE plpgsql AS $$
DECLARE
  r aigw.http_response;
  st text; msg text; det text; hnt text;
BEGIN
  BEGIN
    r := aigw.http_request(m, p, h, q, b, 'regress-channel');
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    r := aigw.http_error_response(st, msg, det, hnt, 'req-regress');
  END;
  RETURN QUERY SELECT r.status, r.headers, r.body::jsonb, r.task_id;
END $$;
-- Credentials: server-main's service token, an admin key, operators and a user of two tenants.
CREATE TEMP TABLE h (who text PRIMARY KEY, hdr jsonb);
INSERT INTO h VALUES
  ('sm', '{"authorization":"Bearer internal-regress-token","x-easyai-actor":"easyai-server-main"}'),
  ('admin', '{"authorization":"Bearer sk-dadmindadmindadmindadmin01"}'),
  ('opA', '{"authorization":"Bearer sk-doperadoperadoperadopera01"}'),
  ('opB', '{"authorization":"Bearer sk-doperbdoperbdoperbdoperb01"}'),
  ('userA', '{"authorization":"Bearer sk-duseradduseradduserad01"}');
CREATE FUNCTION pg_temp.as_(who text) RETURNS jsonb LANGUAGE sql AS $$ SELECT hdr FROM h WHERE h.who = as_.who $$;

-- server-main pushes two tenants, then users into them.
SELECT status, body->>'upserted' AS upserted, jsonb_path_query_array(body, '$.tenants[*].result') AS results,
       jsonb_path_query_array(body, '$.tenants[*].tenantKey') AS keys
  FROM pg_temp.call('POST', '/api/v1/tenants/sync', pg_temp.as_('sm'),
    '{"tenants":[{"id":"org-a","name":"Org A","tenantKey":"org-a","updatedAt":"2026-01-02T00:00:00Z","rateLimitPolicy":{"rules":[]}},
                 {"id":"org-b","name":"Org B","planKey":"pro"}]}');
-- again, renamed (update), and an older record (stale, skipped)
SELECT status, body->>'upserted' AS upserted, body->>'skipped' AS skipped,
       jsonb_path_query_array(body, '$.tenants[*].result') AS results
  FROM pg_temp.call('POST', '/internal/platform/tenants/sync', pg_temp.as_('sm'),
    '[{"id":"org-b","name":"Org B2"},{"id":"org-a","name":"Org A old","updatedAt":"2025-01-01T00:00:00Z"}]');
SELECT tenant_key, source, external_tenant_id, name, plan_key, synced_at IS NOT NULL AS synced
  FROM aigw.gateway_tenants WHERE source = 'server-main' ORDER BY tenant_key;
-- bad sync bodies
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/tenants/sync', pg_temp.as_('sm'), '{"tenants":[]}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/tenants/sync', pg_temp.as_('sm'), '{"tenants":[{"id":"org-c"}]}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/tenants/sync', pg_temp.as_('sm'), '{"tenants":[{"id":"org-c","name":"C","status":"odd"}]}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/tenants/sync', pg_temp.as_('sm'), '{"tenants":[{"id":"org-c","name":"C","updatedAt":"yesterday-ish"}]}');
SELECT count(*) AS org_c FROM aigw.gateway_tenants WHERE external_tenant_id = 'org-c';

SELECT status, body->>'upserted' AS upserted, jsonb_path_query_array(body, '$.users[*].result') AS results
  FROM pg_temp.call('POST', '/api/v1/users/sync', pg_temp.as_('sm'),
    '{"users":[{"id":"u-opa","username":"opa","tenantId":"org-a","role":"operator"},
               {"id":"u-usera","username":"usera","tenantId":"org-a","roles":["user"],"email":"a@example.com"},
               {"id":"u-opb","username":"opb","tenantKey":"server-main:org-b","role":"operator"}]}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/users/sync', pg_temp.as_('sm'), '{"users":[{"id":"u-x","username":"x","tenantId":"org-zzz"}]}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/users/sync', pg_temp.as_('sm'), '{"users":[{"id":"u-x","username":"x","role":"emperor"}]}');
SELECT u.user_key, u.username, u.source, t.tenant_key, u.tenant_id, u.roles
  FROM aigw.gateway_users u LEFT JOIN aigw.gateway_tenants t ON t.id = u.gateway_tenant_id
 WHERE u.source = 'server-main' ORDER BY u.user_key;

-- Local keys for them (as an administrator would issue), and a local administrator.
INSERT INTO aigw.gateway_users (id, user_key, username, roles)
VALUES ('00000000-0000-0000-0000-0000000000d1', 'regress:dadmin', 'dadmin', '["admin"]');
INSERT INTO aigw.gateway_api_keys (gateway_tenant_id, gateway_user_id, key_prefix, key_hash, name)
SELECT u.gateway_tenant_id, u.id, 'sk-d', aigw.api_key_hash(k), 'regress'
  FROM (VALUES ('regress:dadmin', 'sk-dadmindadmindadmindadmin01'), ('server-main:u-opa', 'sk-doperadoperadoperadopera01'),
               ('server-main:u-opb', 'sk-doperbdoperbdoperbdoperb01'), ('server-main:u-usera', 'sk-duseradduseradduserad01')) v(uk, k)
  JOIN aigw.gateway_users u ON u.user_key = v.uk;

-- Sync needs a global administrator; tenant listing needs power.
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/tenants/sync', pg_temp.as_('opA'), '{"tenants":[{"id":"org-a","name":"mine now"}]}');
SELECT status, body->'error'->>'message' AS message FROM pg_temp.call('GET', '/api/v1/tenants', pg_temp.as_('userA'));

-- Tenants: the administrator sees every tenant, an operator only its own.
SELECT status, (body->>'total')::int >= 2 AS many, body->'data' @> '[{"tenantKey":"org-a"},{"tenantKey":"server-main:org-b"}]' AS both_orgs
  FROM pg_temp.call('GET', '/api/v1/tenants', pg_temp.as_('admin'));
SELECT status, body->>'total' AS total, jsonb_path_query_array(body, '$.data[*].tenantKey') AS keys
  FROM pg_temp.call('GET', '/api/v1/tenants', pg_temp.as_('opA'));
SELECT status, body->>'total' AS total, jsonb_path_query_array(body, '$.data[*].tenantKey') AS keys
  FROM pg_temp.call('GET', '/api/v1/tenants', pg_temp.as_('opB'));
SELECT status, body->>'tenantKey' AS key, body->>'userCount' AS users, body->>'source' AS source
  FROM pg_temp.call('GET', '/api/v1/tenants/org-a', pg_temp.as_('opA'));
SELECT status, body->'error'->>'code' AS code
  FROM pg_temp.call('GET', '/api/v1/tenants/server-main:org-b', pg_temp.as_('opA'));
SELECT status, body->'error'->>'code' AS code
  FROM pg_temp.call('GET', '/api/v1/tenants/' || (SELECT id FROM aigw.gateway_tenants WHERE tenant_key = 'server-main:org-b'),
                    pg_temp.as_('opA'));
SELECT status, body->>'name' AS name
  FROM pg_temp.call('GET', '/api/v1/tenants/server-main:org-b', pg_temp.as_('admin'));

-- Users: same isolation; never a password hash.
SELECT status, body->>'total' AS total, jsonb_path_query_array(body, '$.data[*].username') AS names,
       body::text LIKE '%password%' AS leaks_password
  FROM pg_temp.call('GET', '/api/v1/users', pg_temp.as_('opA'));
SELECT status, body->>'total' AS total FROM pg_temp.call('GET', '/api/v1/users', pg_temp.as_('opB'));
SELECT status, body->>'total' AS total, jsonb_path_query_array(body, '$.data[*].username') AS names
  FROM pg_temp.call('GET', '/api/v1/users', pg_temp.as_('admin'), NULL, '{"q":"op","source":"server-main","pageSize":"1","page":"2"}');
SELECT status, body->>'username' AS username, body->>'apiKeyCount' AS keys
  FROM pg_temp.call('GET', '/api/v1/users/' || (SELECT id FROM aigw.gateway_users WHERE user_key = 'server-main:u-usera'),
                    pg_temp.as_('opA'));
SELECT status, body->'error'->>'code' AS code
  FROM pg_temp.call('GET', '/api/v1/users/' || (SELECT id FROM aigw.gateway_users WHERE user_key = 'server-main:u-usera'),
                    pg_temp.as_('opB'));
SELECT status, body->'error'->>'message' AS message FROM pg_temp.call('GET', '/api/v1/users/nope', pg_temp.as_('opA'));
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('GET', '/api/v1/users', pg_temp.as_('admin'), NULL, '{"page":"x"}');

-- Invitations: an operator invites into its own tenant, never above its role, never into another tenant.
SELECT status, body->>'tenantKey' AS tenant, body->>'role' AS role, body->>'inviteCode' AS code, body->>'maxUses' AS max_uses
  FROM pg_temp.call('POST', '/api/v1/tenant-invitations', pg_temp.as_('opA'), '{"inviteCode":"join-org-a","maxUses":3}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/tenant-invitations', pg_temp.as_('opA'), '{"role":"admin"}');
SELECT status, body->'error'->>'code' AS code
  FROM pg_temp.call('POST', '/api/v1/tenant-invitations', pg_temp.as_('opA'), '{"tenantId":"server-main:org-b"}');
SELECT status, body->'error'->>'code' AS code
  FROM pg_temp.call('POST', '/api/v1/tenant-invitations', pg_temp.as_('opB'), '{"inviteCode":"join-org-a"}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/tenant-invitations', pg_temp.as_('opA'), '{"maxUses":0}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/tenant-invitations', pg_temp.as_('admin'), '{}');
SELECT status, jsonb_path_query_array(body, '$.data[*].inviteCode') AS codes
  FROM pg_temp.call('GET', '/api/v1/tenant-invitations', pg_temp.as_('opA'));
SELECT status, jsonb_array_length(body->'data') AS n FROM pg_temp.call('GET', '/api/v1/tenant-invitations', pg_temp.as_('opB'));

-- User groups: server-main pushes a group; the gateway's own groups are not overwritten.
SELECT status, body->>'groupKey' AS key, body->>'source' AS source, body->>'result' AS result,
       body->'billingDiscountPolicy' AS billing
  FROM pg_temp.call('POST', '/api/v1/user-groups/sm-pro/sync', pg_temp.as_('sm'),
                    '{"name":"Pro","priority":10,"billingDiscountPolicy":{"defaultDiscountFactor":0.9}}');
SELECT status, body->>'result' AS result, body->>'priority' AS priority, body->'billingDiscountPolicy' AS billing
  FROM pg_temp.call('POST', '/api/v1/user-groups/sm-pro/sync', pg_temp.as_('sm'), '{"priority":20}');
SELECT status, body->>'upserted' AS upserted
  FROM pg_temp.call('POST', '/internal/platform/user-groups/sync', pg_temp.as_('sm'),
                    '{"userGroups":[{"groupKey":"sm-free","name":"Free"}]}');
INSERT INTO aigw.gateway_user_groups (group_key, name) VALUES ('local-group', 'Local');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/user-groups/local-group/sync', pg_temp.as_('sm'), '{"name":"taken"}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/user-groups/sm-new/sync', pg_temp.as_('sm'), '{"priority":1}');
SELECT status, body->'error'->>'code' AS code
  FROM pg_temp.call('POST', '/api/v1/user-groups/sm-pro/sync', pg_temp.as_('opA'), '{"name":"x"}');
-- memberships from userGroupKeys (set exactly), a tenant's default group; unknown groups are 422
SELECT status, body->>'upserted' AS upserted
  FROM pg_temp.call('POST', '/api/v1/users/sync', pg_temp.as_('sm'), '{"id":"u-opb","username":"opb","userGroupKeys":["sm-free","sm-pro"]}');
SELECT status FROM pg_temp.call('POST', '/api/v1/users/sync', pg_temp.as_('sm'), '{"id":"u-opb","username":"opb","userGroupKeys":["sm-free"]}');
SELECT g.group_key, m.source, m.status FROM aigw.gateway_user_group_memberships m
  JOIN aigw.gateway_user_groups g ON g.id = m.group_id JOIN aigw.gateway_users u ON u.id::text = m.principal_id
 WHERE u.user_key = 'server-main:u-opb' ORDER BY 1;
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/users/sync', pg_temp.as_('sm'), '{"id":"u-opb","username":"opb","userGroupKeys":["sm-gold"]}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/users/sync', pg_temp.as_('sm'), '{"id":"u-opb","username":"opb","userGroupKeys":"sm-free"}');
SELECT status FROM pg_temp.call('POST', '/api/v1/tenants/sync', pg_temp.as_('sm'), '{"id":"org-b","name":"Org B2","defaultUserGroupKey":"sm-free"}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/tenants/sync', pg_temp.as_('sm'), '{"id":"org-b","name":"Org B2","defaultUserGroupKey":"nope"}');
SELECT status, jsonb_path_query_array(body, '$.data[*].groupKey') AS keys, body->'data'->0->>'groupKey' AS first
  FROM pg_temp.call('GET', '/api/v1/user-groups', pg_temp.as_('opB'));
SELECT status, jsonb_path_query_array(body, '$.members[*].principalType') AS members
  FROM pg_temp.call('GET', '/api/v1/user-groups/sm-free', pg_temp.as_('opB'));
SELECT status, jsonb_path_query_array(body, '$.members[*].principalType') AS members
  FROM pg_temp.call('GET', '/api/v1/user-groups/sm-free', pg_temp.as_('opA'));
-- a synced user bound to the group: operator A sees that group, operator B does not
SELECT status FROM pg_temp.call('POST', '/api/v1/users/sync', pg_temp.as_('sm'),
                                '{"id":"u-usera","username":"usera","tenantId":"org-a","userGroupKey":"sm-pro"}');
SELECT status, jsonb_path_query_array(body, '$.data[*].groupKey') AS keys
  FROM pg_temp.call('GET', '/api/v1/user-groups', pg_temp.as_('opA'));
SELECT status, jsonb_path_query_array(body, '$.data[*].groupKey') AS keys
  FROM pg_temp.call('GET', '/api/v1/user-groups', pg_temp.as_('opB'));
SELECT status, body->>'groupKey' AS key, body->'defaultFor' AS default_for
  FROM pg_temp.call('GET', '/api/v1/user-groups/sm-pro', pg_temp.as_('opA'));
SELECT status, body->'error'->>'code' AS code FROM pg_temp.call('GET', '/api/v1/user-groups/sm-pro', pg_temp.as_('opB'));
SELECT status, body->>'groupKey' AS key FROM pg_temp.call('GET', '/api/v1/user-groups/sm-free', pg_temp.as_('admin'));
SELECT status, jsonb_path_query_array(body, '$.userGroups[*].groupKey') AS groups
  FROM pg_temp.call('GET', '/api/v1/users/' || (SELECT id FROM aigw.gateway_users WHERE user_key = 'server-main:u-usera'),
                    pg_temp.as_('opA'));

-- Wallets and recharge orders (local gateway users): the caller's own only.
INSERT INTO aigw.gateway_users (id, user_key, username, roles)
VALUES ('00000000-0000-0000-0000-0000000000d2', 'local:dlocal', 'dlocal', '["user"]'),
       ('00000000-0000-0000-0000-0000000000d3', 'local:dother', 'dother', '["user"]');
INSERT INTO aigw.gateway_api_keys (gateway_user_id, key_prefix, key_hash, name) VALUES
  ('00000000-0000-0000-0000-0000000000d2', 'sk-d', aigw.api_key_hash('sk-dlocaldlocaldlocaldlocal01'), 'regress'),
  ('00000000-0000-0000-0000-0000000000d3', 'sk-d', aigw.api_key_hash('sk-dotherdotherdotherdother01'), 'regress');
INSERT INTO h VALUES ('local', '{"authorization":"Bearer sk-dlocaldlocaldlocaldlocal01"}'),
                     ('other', '{"authorization":"Bearer sk-dotherdotherdotherdother01"}');
SELECT aigw.wallet_adjust(aigw.wallet_account('00000000-0000-0000-0000-0000000000d2', NULL, 'resource'), 50,
                          'regress-credit', 'test credit') IS NOT NULL AS credited;
SELECT status, jsonb_array_length(body->'data') AS n, body->'data'->0->>'balance' AS balance, body->'data'->0->>'currency' AS currency
  FROM pg_temp.call('GET', '/api/v1/wallet/accounts', pg_temp.as_('local'));
SELECT status, jsonb_array_length(body->'data') AS n FROM pg_temp.call('GET', '/api/v1/wallet/accounts', pg_temp.as_('other'));
SELECT status, jsonb_array_length(body->'data') AS n, body->'data'->0->>'transaction_type' AS type,
       body->'data'->0->>'amount' AS amount
  FROM pg_temp.call('GET', '/api/v1/wallet/transactions', pg_temp.as_('local'));
SELECT status, jsonb_array_length(body->'data') AS n FROM pg_temp.call('GET', '/api/v1/wallet/transactions', pg_temp.as_('other'));
SELECT status, jsonb_array_length(body->'data') AS n
  FROM pg_temp.call('GET', '/api/v1/wallet/accounts', pg_temp.as_('admin'), NULL, '{"userId":"00000000-0000-0000-0000-0000000000d2"}');
SELECT status, jsonb_array_length(body->'data') AS n
  FROM pg_temp.call('GET', '/api/v1/wallet/accounts', pg_temp.as_('other'), NULL, '{"userId":"00000000-0000-0000-0000-0000000000d2"}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('GET', '/api/v1/wallet/transactions', pg_temp.as_('local'), NULL, '{"limit":"many"}');
SELECT status, body->>'amount' AS amount, body->>'status' AS order_status, body->>'channel' AS channel
  FROM pg_temp.call('POST', '/api/v1/recharge/orders', pg_temp.as_('local') || '{"idempotency-key":"r-1"}', '{"amount": 100}');
SELECT status, body->>'amount' AS amount
  FROM pg_temp.call('POST', '/api/v1/recharge/orders', pg_temp.as_('local') || '{"idempotency-key":"r-1"}', '{"amount": 100}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/recharge/orders', pg_temp.as_('local'), '{"amount": -5}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/recharge/orders', pg_temp.as_('local'), '{"amount": "lots"}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/api/v1/recharge/orders', pg_temp.as_('local'), '{"amount": 5, "channel": "cash"}');
SELECT status, jsonb_array_length(body->'data') AS n FROM pg_temp.call('GET', '/api/v1/recharge/orders', pg_temp.as_('local'));
SELECT status, jsonb_array_length(body->'data') AS n FROM pg_temp.call('GET', '/api/v1/recharge/orders', pg_temp.as_('other'));
-- server-main's users (even with a local key) and identities without a gateway user have no wallet here
SELECT status, body->'error'->>'message' AS message FROM pg_temp.call('GET', '/api/v1/wallet/accounts', pg_temp.as_('userA'));
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('GET', '/api/v1/wallet/accounts', jsonb_build_object('authorization', 'Bearer ' ||
    aigw.jwt_sign_hs256(jsonb_build_object('sub', 'sm-1', 'exp', extract(epoch FROM now())::bigint + 600), 'regress-secret')));

-- Platform presets: catalog base URL, auth type and models.
SELECT status, body->'data'->>'platform_key' AS key, body->'data'->>'base_url' AS base_url,
       body->'data'->>'auth_type' AS auth, body->'data'->>'status' AS status_, body->'data'->>'modelCount' AS models,
       body->'data'->>'hasCredentials' AS has_credentials, jsonb_path_query_array(body, '$.data.models[*].modelName') AS names
  FROM pg_temp.call('POST', '/integration-platform/preset', pg_temp.as_('admin'),
                    '{"provider":"deepseek","platformKey":"ds-regress","credentials":{"apiKey":"sk-ds"}}');
SELECT status, body->'data'->>'auth_type' AS auth, body->'data'->>'status' AS status_,
       body->'data'->>'disabled_reason' AS reason, jsonb_path_query_array(body, '$.data.models[*].modelName') AS names
  FROM pg_temp.call('POST', '/integration-platform/preset', pg_temp.as_('admin'),
                    '{"preset":"anthropic","platformKey":"claude-regress","models":["anthropic/claude-sonnet-4","claude-3-5-haiku-20241022"]}');
-- the platform's models price like the catalog's (inherited)
SELECT pm.model_name, pm.pricing_mode, pm.base_model_id IS NOT NULL AS has_base
  FROM aigw.platform_models pm JOIN aigw.integration_platforms p ON p.id = pm.platform_id
 WHERE p.platform_key = 'ds-regress' ORDER BY 1;
SELECT status, body->'error'->>'code' AS code, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/integration-platform/preset', pg_temp.as_('admin'), '{"provider":"deepseek","platformKey":"ds-regress"}');
SELECT status, body->'error'->>'code' AS code, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/integration-platform/preset', pg_temp.as_('admin'), '{"provider":"nope"}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/integration-platform/preset', pg_temp.as_('admin'), '{"provider":"openai","platformKey":"oa-x","models":["gpt-9"]}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/integration-platform/preset', pg_temp.as_('admin'), '{"provider":"vllm"}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/integration-platform/preset', pg_temp.as_('admin'), '{}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/integration-platform/preset', pg_temp.as_('admin'), '{"provider":"openai","models":"gpt-4o"}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/integration-platform/preset', pg_temp.as_('opA'), '{"provider":"openai"}');
SELECT count(*) AS oa_platforms FROM aigw.integration_platforms WHERE platform_key IN ('openai', 'oa-x', 'vllm');

-- Platform API execute: a task pinned to the config's platform, answered when it ends.
INSERT INTO aigw.integration_platform_api_configs (id, platform_id, api_key, name, path, body_template, status)
SELECT v.id, p.id, v.k, v.k, v.path, v.tmpl::jsonb, v.st
  FROM aigw.integration_platforms p,
       (VALUES ('00000000-0000-0000-0000-0000000000e1'::uuid, 'chat', '/v1/chat/completions', '{"model":"sim-chat","temperature":0}', 'enabled'),
               ('00000000-0000-0000-0000-0000000000e2'::uuid, 'workflow', '/run/workflow', '{}', 'enabled'),
               ('00000000-0000-0000-0000-0000000000e3'::uuid, 'off', '/embeddings', '{}', 'disabled')) v(id, k, path, tmpl, st)
 WHERE p.platform_key = 'simulation';
SELECT status, task_id IS NOT NULL AS pending, body IS NULL AS no_body, headers->>'x-aigw-api-config' AS config
  FROM pg_temp.call('POST', '/integration/platform-api/execute', pg_temp.as_('admin'),
                    '{"id":"00000000-0000-0000-0000-0000000000e1","params":{"messages":[{"role":"user","content":"debug me"}],"stream":true}}');
SELECT t.kind, t.queue_key, t.request->>'model' AS model, t.request->'temperature' AS temperature,
       t.request->'messages'->0->>'content' AS content, t.request ? 'stream' AS streamed, t.normalized_request->>'platform' AS pinned
  FROM aigw.gateway_tasks t WHERE t.request->'messages'->0->>'content' = 'debug me';
SELECT status, task_id IS NOT NULL AS pending
  FROM pg_temp.call('POST', '/integration/platform-api/execute', pg_temp.as_('admin'),
                    jsonb_build_object('platformId', (SELECT id FROM aigw.integration_platforms WHERE platform_key = 'simulation'),
                                       'apiKey', 'chat', 'params', '{"messages":[{"role":"user","content":"by key"}]}'::jsonb)::text);
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/integration/platform-api/execute', pg_temp.as_('admin'), '{"id":"00000000-0000-0000-0000-0000000000e2"}');
SELECT status, body->'error'->>'code' AS code
  FROM pg_temp.call('POST', '/integration/platform-api/execute', pg_temp.as_('admin'), '{"id":"00000000-0000-0000-0000-0000000000e3"}');
SELECT status, body->'error'->>'code' AS code
  FROM pg_temp.call('POST', '/integration/platform-api/execute', pg_temp.as_('admin'), '{"id":"00000000-0000-0000-0000-0000000000ee"}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/integration/platform-api/execute', pg_temp.as_('admin'), '{"id":"e1"}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/integration/platform-api/execute', pg_temp.as_('admin'), '{"params":{}}');
SELECT status, body->'error'->>'message' AS message
  FROM pg_temp.call('POST', '/integration/platform-api/execute', pg_temp.as_('admin'), '{"id":"00000000-0000-0000-0000-0000000000e1","params":{}}');
SELECT status, body->'error'->>'code' AS code
  FROM pg_temp.call('POST', '/integration/platform-api/execute', pg_temp.as_('userA'), '{"id":"00000000-0000-0000-0000-0000000000e1"}');
ROLLBACK;
