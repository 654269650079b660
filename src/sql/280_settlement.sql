-- Billing across a task's life: pre-authorisation at submit (estimate + wallet
-- hold), settlement at success (final billing, wallet settlement, settlement
-- outbox event), release on failure or cancel.

-- Whether an identity pays from a local wallet: standalone users, and hybrid
-- users whose source is the gateway. server-main users pay through settlement events.
CREATE FUNCTION aigw.identity_uses_wallet(identity jsonb) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN identity->>'gatewayUserId' IS NOT NULL
     AND coalesce(identity->>'identityMode', 'hybrid') <> 'server-main'
     AND coalesce(identity->>'userSource', 'gateway') = 'gateway';
COMMENT ON FUNCTION aigw.identity_uses_wallet(jsonb) IS
  'whether the identity''s calls are paid from a local wallet (standalone users)';

-- Pre-authorises a task at submit: the estimate, and for wallet users a hold of
-- it. Raises AGW01 (insufficient balance) before anything is queued; call it in
-- the submitting transaction. Simulated estimates hold nothing (dry run).
CREATE FUNCTION aigw.preauthorize_task(task_id uuid, request jsonb, identity jsonb DEFAULT '{}')
  RETURNS jsonb
  LANGUAGE plpgsql
  AS $$
DECLARE
  est jsonb := aigw.estimate_billing(request, identity);
  h aigw.wallet_result;
BEGIN
  IF aigw.identity_uses_wallet(identity) AND NOT (est->>'simulated')::boolean THEN
    h := aigw.wallet_hold(aigw.wallet_account((identity->>'gatewayUserId')::uuid,
                                              (identity->>'gatewayTenantId')::uuid, est->>'currency'),
                          task_id, (est->>'total')::numeric,
                          jsonb_build_object('platformModelId', est->>'platformModelId'));
    est := est || jsonb_build_object('hold', jsonb_build_object(
             'accountId', h.account_id, 'transactionId', h.transaction_id, 'amount', h.amount,
             'status', h.status));
  END IF;
  RETURN est;
END
$$;
COMMENT ON FUNCTION aigw.preauthorize_task(uuid, jsonb, jsonb) IS
  'estimate of a task at submit and, for wallet users, a hold of it (SQLSTATE AGW01 when the balance is short)';

-- Settles a succeeded task from unified usage, in the completing transaction:
-- prices it with the resolver that produced the estimate, stores the billing
-- on the task, settles the wallet hold (charge the cost, release the rest;
-- simulated tasks release it all) and writes one settlement outbox event,
-- skipped for simulated tasks. Calling it again changes nothing. A caller that
-- writes the task row itself (the outcome of an attempt) passes store_billing
-- false and stores the returned billing in its own update.
CREATE FUNCTION aigw.settle_task(task_id uuid, usage jsonb, result_ref jsonb DEFAULT NULL,
                                 store_billing boolean DEFAULT true)
  RETURNS jsonb
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
  AS $$
DECLARE
  t aigw.gateway_tasks;
BEGIN
  SELECT * INTO t FROM aigw.gateway_tasks WHERE id = settle_task.task_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'task % does not exist', task_id USING ERRCODE = 'undefined_object';
  END IF;
  RETURN aigw.settle_locked_task(t, NULL, usage, result_ref, store_billing);
END
$$;
COMMENT ON FUNCTION aigw.settle_task(uuid, jsonb, jsonb, boolean) IS
  'final billing of a succeeded task: price, settle the wallet hold, one settlement outbox event; idempotent';

-- The line items of a billing as the settlement event lists them: one
-- {resourceType, amount (the quantity), unit, cost} per item; [] without
-- lineItems (C: src/pricing.c).
CREATE FUNCTION aigw.billing_line_summary(bill jsonb) RETURNS jsonb
  LANGUAGE c IMMUTABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_billing_line_summary';

-- aigw.settle_task for a task row t the caller has locked (the outcome of an
-- attempt, which also knows the platform model p_pm that served it; NULL: the
-- one of the task's last successful attempt, aigw.price_task_usage).
CREATE FUNCTION aigw.settle_locked_task(t aigw.gateway_tasks, p_pm uuid, usage jsonb, result_ref jsonb,
                                        store_billing boolean)
  RETURNS jsonb
  LANGUAGE plpgsql
  AS $$
#variable_conflict use_column
DECLARE
  v_task uuid := t.id;
  bill jsonb;
  w aigw.wallet_result;
  ev aigw.settlement_outbox;
  simulated boolean;
  v_event uuid;
BEGIN
  -- A replay returns what the first settlement recorded. The caller holds the
  -- task row's lock, so no other settlement of the task can pass this check
  -- before this one commits: the insert below is plain (no ON CONFLICT).
  SELECT * INTO ev FROM aigw.settlement_outbox o
   WHERE o.task_id = v_task AND o.event_type = 'task.settled';
  IF FOUND THEN
    RETURN coalesce(t.billings, ev.payload->'billing') || jsonb_build_object('replayed', true);
  END IF;
  bill := CASE WHEN p_pm IS NULL THEN aigw.price_task_usage(v_task, usage)
               ELSE aigw.price_usage(p_pm, usage, aigw.task_pricing_context(t)) END;
  simulated := (bill->>'simulated')::boolean;
  IF simulated THEN
    w := aigw.wallet_release(v_task, 'simulated');
  ELSIF (aigw.wallet_task_hold(v_task)).id IS NOT NULL THEN
    w := aigw.wallet_settle(v_task, (bill->>'total')::numeric,
                            jsonb_build_object('estimate', t.billings->'total'));
  END IF;
  IF w.status IS NOT NULL THEN
    bill := bill || jsonb_build_object('wallet', jsonb_build_object(
              'accountId', w.account_id, 'transactionId', w.transaction_id, 'status', w.status,
              'charged', CASE WHEN simulated THEN 0 ELSE w.amount END));
  END IF;
  IF t.billings ? 'total' AND t.billings->>'phase' = 'estimate' THEN
    bill := bill || jsonb_build_object('reconciliation', aigw.reconcile_billing(t.billings, bill));
  END IF;
  IF store_billing THEN
    UPDATE aigw.gateway_tasks SET billings = bill, updated_at = now() WHERE id = v_task;
  END IF;
  v_event := gen_random_uuid();
  -- ev is all NULL here (no settlement found): its other columns take their defaults
  ev.task_id := v_task;
  ev.event_id := v_event;
  ev.event_type := 'task.settled';
  ev.payload := jsonb_build_object('eventId', v_event,
            'taskId', v_task, 'userId', t.user_id, 'tenantId', t.tenant_id, 'apiKeyId', t.api_key_id,
            'kind', t.kind, 'model', t.model, 'simulated', simulated,
            'eventType', CASE WHEN simulated THEN 'dry_run' ELSE 'task.settled' END,
            'currency', bill->'currency', 'total', bill->'total',
            'billings', aigw.billing_line_summary(bill),
            'billing', bill, 'resultRef', result_ref);
  ev.status := CASE WHEN simulated THEN 'skipped' ELSE 'pending' END;
  ev := aigw.insert_row(ev);
  RETURN bill;
END
$$;

-- Releases a failed or cancelled task's hold. Idempotent; nothing happens after a settlement.
CREATE FUNCTION aigw.release_task(task_id uuid, reason text DEFAULT 'failed')
  RETURNS aigw.wallet_result
  LANGUAGE sql
  BEGIN ATOMIC
    SELECT aigw.wallet_release(task_id, reason);
  END;
COMMENT ON FUNCTION aigw.release_task(uuid, text) IS 'returns a failed or cancelled task''s wallet hold; applies once';
