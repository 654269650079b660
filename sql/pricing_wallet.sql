-- Wallets, recharge orders, task pre-authorisation, settlement and the
-- settlement outbox. Fixtures live in one transaction.
\set SHOW_CONTEXT never
BEGIN;
-- SQLSTATE of a statement (NULL when it succeeds); its effects are rolled back.
CREATE FUNCTION pg_temp.sqlstate_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ' ' || SQLERRM;
END $$;

INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type)
VALUES ('pw_vendor', 'Wallet test vendor', 'openai_compatible'), ('pw_sim', 'Wallet test simulation', 'simulation');
INSERT INTO aigw.integration_platforms (provider, platform_key, name)
VALUES ('pw_vendor', 'pw-real', 'Real'), ('pw_sim', 'pw-sim', 'Simulation');
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override)
SELECT p.id, 'pw-chat', 'chat', 'PW chat', 'custom', c
  FROM aigw.integration_platforms p,
       LATERAL (SELECT '{"text": {"inputPer1k": 10, "outputPer1k": 20}}'::jsonb AS c) AS cfg
 WHERE p.platform_key = 'pw-real';
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override)
SELECT p.id, 'pw-sim-image', 'image', 'PW image', 'custom', c
  FROM aigw.integration_platforms p, LATERAL (SELECT '{"image": {"perImage": 40}}'::jsonb AS c) AS cfg
 WHERE p.platform_key = 'pw-sim';
INSERT INTO aigw.gateway_user_groups (group_key, name, recharge_discount_policy)
VALUES ('pw-pro', 'Pro', '{"type": "tiered_bonus", "tiers": [{"minAmount": 100, "bonusRatio": 0.05}, {"minAmount": 1000, "bonusRatio": 0.12}]}');
INSERT INTO aigw.gateway_users (user_key, username, default_user_group_id)
SELECT 'pw-user', 'pw-user', id FROM aigw.gateway_user_groups WHERE group_key = 'pw-pro';
CREATE TEMP TABLE ids AS
SELECT u.id AS uid, jsonb_build_object('gatewayUserId', u.id) AS ident,
       '01900000-0000-7000-8000-000000000001'::uuid AS t1, '01900000-0000-7000-8000-000000000002'::uuid AS t2,
       '01900000-0000-7000-8000-000000000003'::uuid AS t3, '01900000-0000-7000-8000-000000000004'::uuid AS t4,
       '01900000-0000-7000-8000-000000000005'::uuid AS t5
  FROM aigw.gateway_users u WHERE u.user_key = 'pw-user';

-- Tiered bonus: the highest tier reached applies.
SELECT amount, (aigw.recharge_bonus(p, amount)).* FROM (VALUES (50), (100), (999.99), (1000), (5000)) AS v(amount),
       (SELECT recharge_discount_policy AS p FROM aigw.gateway_user_groups WHERE group_key = 'pw-pro') AS g;

-- A recharge order is idempotent by key and credits amount + bonus once on confirmation.
SELECT (aigw.create_recharge_order(uid, 1000, idempotency_key => 'pw-r1')).id IS NOT NULL AS created FROM ids;
SELECT count(*) AS orders, min(amount) AS amount, min(bonus_amount) AS bonus, min(payable_amount) AS payable, min(status) AS status
  FROM aigw.gateway_recharge_orders r, ids
 WHERE r.gateway_user_id = ids.uid AND (aigw.create_recharge_order(ids.uid, 1000, idempotency_key => 'pw-r1')).id = r.id;
SELECT (aigw.confirm_recharge_order(r.id, 'manual-1')).status FROM aigw.gateway_recharge_orders r, ids WHERE r.gateway_user_id = ids.uid;
SELECT (aigw.confirm_recharge_order(r.id)).status AS again FROM aigw.gateway_recharge_orders r, ids WHERE r.gateway_user_id = ids.uid;
SELECT balance, frozen_balance, total_recharged, total_spent FROM aigw.gateway_wallet_accounts a, ids WHERE a.gateway_user_id = ids.uid;

-- Tenant orders: the tenant's default group gives the bonus; the key is scoped by tenant.
INSERT INTO aigw.gateway_tenants (tenant_key, name, default_user_group_id)
SELECT k, k, (SELECT id FROM aigw.gateway_user_groups WHERE group_key = 'pw-pro') FROM unnest(array['pw-t1', 'pw-t2']) AS k;
SELECT t.tenant_key, o.bonus_amount, o.id = (aigw.create_recharge_order(NULL, 200, idempotency_key => 'pw-same', gateway_tenant_id => t.id)).id AS same_again
  FROM aigw.gateway_tenants t,
       LATERAL aigw.create_recharge_order(NULL, 200, idempotency_key => 'pw-same', gateway_tenant_id => t.id) AS o
 WHERE t.tenant_key LIKE 'pw-t%' ORDER BY 1;
SELECT count(DISTINCT id) AS tenant_orders FROM aigw.gateway_recharge_orders WHERE idempotency_key = 'pw-same';

-- Submit: the estimate is held. 8 prompt tokens, 1000 out at 10/20 per 1k: 0.08 + 20 = 20.08.
INSERT INTO aigw.gateway_tasks (id, kind, user_id, gateway_user_id, model, model_type, request, queue_key)
SELECT t, 'chat.completions', 'pw-user', uid, 'pw-chat', 'chat', '{}', 'q' FROM ids, unnest(array[t1, t2, t3, t5]) AS t;
UPDATE aigw.gateway_tasks t SET billings = aigw.preauthorize_task(t.id,
         '{"model": "pw-chat", "messages": [{"role": "user", "content": "12345678"}], "max_tokens": 1000}', ids.ident)
  FROM ids WHERE t.id = ids.t1;
SELECT billings->'total' AS estimate, billings->'hold'->>'status' AS hold FROM aigw.gateway_tasks, ids WHERE id = t1;
SELECT balance, frozen_balance FROM aigw.gateway_wallet_accounts a, ids WHERE a.gateway_user_id = ids.uid;

-- Completion: 120 tokens in, 300 out cost 1.2 + 6 = 7.2; the rest of the hold is released.
INSERT INTO aigw.gateway_task_attempts (task_id, attempt_no, platform_model_id, queue_key, status)
SELECT t1, 1, pm.id, 'q', 'succeeded' FROM ids, aigw.platform_models pm WHERE pm.model_name = 'pw-chat';
SELECT b->'total' AS final, b->'wallet'->>'status' AS wallet, b->'wallet'->'charged' AS charged, b->'reconciliation' AS reconciliation
  FROM ids, aigw.settle_task(t1, '{"prompt_tokens": 120, "completion_tokens": 300}', '{"url": "https://x/r"}') AS b;
SELECT balance, frozen_balance, total_spent FROM aigw.gateway_wallet_accounts a, ids WHERE a.gateway_user_id = ids.uid;
-- Replaying the settlement charges nothing; a release after it changes nothing.
SELECT b->'replayed' AS replayed, b->'total' AS total FROM ids, aigw.settle_task(t1, '{"prompt_tokens": 99999}') AS b;
SELECT (aigw.release_task(t1)).status FROM ids;
SELECT balance, frozen_balance, total_spent FROM aigw.gateway_wallet_accounts a, ids WHERE a.gateway_user_id = ids.uid;
-- One outbox event per task, pending delivery, with the §14.4 billing lines.
SELECT count(*) AS events, min(status) AS status, min(event_type) AS type,
       bool_and(payload->>'eventId' = event_id::text) AS event_id_in_payload,
       min(payload->>'billings') AS billings
  FROM aigw.settlement_outbox o, ids WHERE o.task_id = ids.t1;
-- The ledger: freeze then debit, each with before and after balances.
SELECT direction, transaction_type, amount, balance_before, balance_after, frozen_before, frozen_after, idempotency_key ~ '^(hold|settle|recharge):' AS keyed
  FROM aigw.gateway_wallet_transactions x JOIN aigw.gateway_wallet_accounts a ON a.id = x.account_id, ids
 WHERE a.gateway_user_id = ids.uid ORDER BY x.id;

-- Failure: the hold is released once; a settlement after it applies nothing.
SELECT (aigw.preauthorize_task(t2, '{"model": "pw-chat", "messages": [], "max_tokens": 500}', ident))->'hold'->>'amount' AS held FROM ids;
SELECT (aigw.release_task(t2, 'cancelled')).status AS first, (aigw.release_task(t2)).status AS second FROM ids;
SELECT (aigw.wallet_settle(t2, 1)).status AS settle_after_release FROM ids;
SELECT balance, frozen_balance FROM aigw.gateway_wallet_accounts a, ids WHERE a.gateway_user_id = ids.uid;

-- Insufficient balance is AGW01 and changes nothing.
SELECT pg_temp.sqlstate_of(format('SELECT aigw.preauthorize_task(%L, %L, %L)', t3,
         '{"model": "pw-chat", "messages": [], "max_tokens": 100000}', ident)) FROM ids;
SELECT count(*) AS no_hold FROM aigw.gateway_wallet_transactions x, ids WHERE x.reference_id = ids.t3::text;
-- A replayed hold holds nothing more.
SELECT (aigw.wallet_hold(aigw.wallet_account(uid), t5, 10)).status AS first, (aigw.wallet_hold(aigw.wallet_account(uid), t5, 10)).status AS second FROM ids;
-- A cost above the hold takes the available balance down to zero, never below; the shortfall is recorded.
SELECT (aigw.wallet_settle(t5, 100000)).amount AS charged FROM ids;
SELECT balance, frozen_balance FROM aigw.gateway_wallet_accounts a, ids WHERE a.gateway_user_id = ids.uid;
SELECT (metadata->>'shortfall')::numeric > 0 AS shortfall_recorded FROM aigw.gateway_wallet_transactions x, ids
 WHERE x.idempotency_key = 'settle:' || ids.t5;

-- Simulation: no hold, a simulated billing and a skipped outbox event.
INSERT INTO aigw.gateway_tasks (id, kind, run_mode, user_id, gateway_user_id, model, model_type, request, queue_key)
SELECT t4, 'images.generations', 'simulation', 'pw-user', uid, 'pw-sim-image', 'image', '{}', 'q' FROM ids;
UPDATE aigw.gateway_tasks t SET billings = aigw.preauthorize_task(t.id, '{"model": "pw-sim-image", "prompt": "x", "n": 2}', ids.ident)
  FROM ids WHERE t.id = ids.t4;
SELECT billings->'total' AS estimate, billings ? 'hold' AS held, billings->'simulated' AS simulated FROM aigw.gateway_tasks, ids WHERE id = t4;
INSERT INTO aigw.gateway_task_attempts (task_id, attempt_no, platform_model_id, queue_key, status, simulated)
SELECT t4, 1, pm.id, 'q', 'succeeded', true FROM ids, aigw.platform_models pm WHERE pm.model_name = 'pw-sim-image';
SELECT b->'total' AS final, b->'simulated' AS simulated, b->'lineItems'->0->'simulated' AS item_simulated,
       b->'reconciliation'->'difference' AS difference
  FROM ids, aigw.settle_task(t4, '{"images": 2}') AS b;
SELECT status, payload->>'eventType' AS event FROM aigw.settlement_outbox o, ids WHERE o.task_id = ids.t4;

-- The settlement event's list of line items (aigw.billing_line_summary, C)
-- against the SQL it replaced; the event of t4 carries its billing's list.
CREATE FUNCTION pg_temp.line_summary_sql(bill jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_object('resourceType', i->'resourceType', 'amount', i->'quantity',
                                               'unit', i->'unit', 'cost', i->'cost')), '[]')
    FROM jsonb_array_elements(bill->'lineItems') AS i
$$;
SELECT n, aigw.billing_line_summary(bill) AS summary,
       aigw.billing_line_summary(bill) IS NOT DISTINCT FROM pg_temp.line_summary_sql(bill) AS same
  FROM (VALUES
    (1, '{"lineItems": [{"resourceType": "text_input", "quantity": 1200, "unit": "token", "cost": 0.0012, "rate": 1},
                        {"resourceType": "image", "quantity": 2, "unit": "image", "cost": 0.08}]}'::jsonb),
    (2, '{"lineItems": [{"quantity": 3}, 7, null, [1], {"resourceType": null, "unit": {"a": 1}}]}'),
    (3, '{"lineItems": []}'),
    (4, '{"total": 0}'),
    (5, '[1, 2]'),
    (6, NULL)) AS c(n, bill)
 ORDER BY n;
SELECT pg_temp.sqlstate_of('SELECT aigw.billing_line_summary(''{"lineItems": {"a": 1}}'')') AS object_items,
       pg_temp.sqlstate_of('SELECT aigw.billing_line_summary(''{"lineItems": null}'')') AS null_items;
SELECT o.payload->'billings' = aigw.billing_line_summary(o.payload->'billing') AS event_lists_items,
       jsonb_array_length(o.payload->'billings') AS items
  FROM aigw.settlement_outbox o, ids WHERE o.task_id = ids.t4;

-- Neither PUBLIC nor aigw_front may move money or read prices directly.
SELECT p.proname FROM pg_proc p
 WHERE p.pronamespace = 'aigw'::regnamespace
   AND p.proname IN ('wallet_hold', 'wallet_settle', 'wallet_release', 'wallet_adjust', 'confirm_recharge_order',
                     'create_recharge_order', 'settle_task', 'preauthorize_task', 'estimate_billing', 'compute_billing')
   AND (has_function_privilege('aigw_front', p.oid, 'EXECUTE') OR has_function_privilege('public', p.oid, 'EXECUTE'))
 ORDER BY 1;

-- Bad input.
SELECT pg_temp.sqlstate_of('SELECT aigw.wallet_hold(''00000000-0000-0000-0000-00000000000a'', gen_random_uuid(), 1)');
SELECT pg_temp.sqlstate_of(format('SELECT aigw.wallet_hold(%L, gen_random_uuid(), -1)', aigw.wallet_account(uid))) FROM ids;
SELECT pg_temp.sqlstate_of('SELECT aigw.wallet_settle(''00000000-0000-0000-0000-00000000000b'', 1)');
SELECT pg_temp.sqlstate_of(format('SELECT aigw.create_recharge_order(%L, 0)', uid)) FROM ids;
SELECT pg_temp.sqlstate_of('SELECT aigw.confirm_recharge_order(''00000000-0000-0000-0000-00000000000c'')');
SELECT pg_temp.sqlstate_of('SELECT aigw.wallet_account(NULL, NULL)');
UPDATE aigw.gateway_wallet_accounts a SET status = 'frozen' FROM ids WHERE a.gateway_user_id = ids.uid;
SELECT left(pg_temp.sqlstate_of(format('SELECT aigw.wallet_hold(%L, gen_random_uuid(), 0)', aigw.wallet_account(uid))), 5) AS frozen FROM ids;
ROLLBACK;
