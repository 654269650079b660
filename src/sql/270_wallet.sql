-- Wallets (standalone mode): accounts, holds at submit, settlement at
-- completion, release on failure or cancel, recharge orders with the user
-- group's tiered bonus. Every balance change locks the account row and writes
-- one ledger row with an idempotency key, so a replay changes nothing.
--
-- aigw's own SQLSTATEs (class AG, which PostgreSQL leaves unused):
--   AGW01 insufficient_balance   the available balance does not cover a hold (HTTP 402)
--   AGW02 wallet_unavailable     the account is frozen or disabled (HTTP 403)
--   AGW03 hold_not_found         no hold exists for the task being settled (HTTP 409)

-- The wallet account of a user (tenant NULL) or of a tenant (user NULL), if any.
CREATE FUNCTION aigw.wallet_account_find(p_user uuid, p_tenant uuid, p_currency text) RETURNS uuid
  LANGUAGE sql STABLE
AS $$
  SELECT a.id FROM aigw.gateway_wallet_accounts a
   WHERE p_user IS NOT NULL AND a.gateway_user_id = p_user AND a.gateway_tenant_id IS NULL
     AND a.currency = p_currency
  UNION ALL
  SELECT a.id FROM aigw.gateway_wallet_accounts a
   WHERE p_user IS NULL AND a.gateway_tenant_id = p_tenant AND a.gateway_user_id IS NULL
     AND a.currency = p_currency
  LIMIT 1
$$;

-- The wallet account of an owner and currency, created on first use.
CREATE FUNCTION aigw.wallet_account(gateway_user_id uuid, gateway_tenant_id uuid DEFAULT NULL,
                                    currency text DEFAULT 'resource')
  RETURNS uuid
  LANGUAGE plpgsql
  AS $$
#variable_conflict use_column
DECLARE
  acct uuid;
BEGIN
  IF gateway_user_id IS NULL AND gateway_tenant_id IS NULL THEN
    RAISE EXCEPTION 'a wallet belongs to a user or a tenant' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- A user's wallet is keyed by the user alone; a tenant's by the tenant alone.
  IF gateway_user_id IS NOT NULL THEN
    gateway_tenant_id := NULL;
  END IF;
  -- equality and IS NULL, not IS NOT DISTINCT FROM, so that the lookup uses an index
  acct := aigw.wallet_account_find(gateway_user_id, gateway_tenant_id, currency);
  IF acct IS NOT NULL THEN
    RETURN acct;
  END IF;
  INSERT INTO aigw.gateway_wallet_accounts (gateway_user_id, gateway_tenant_id, currency)
  VALUES (wallet_account.gateway_user_id, wallet_account.gateway_tenant_id, wallet_account.currency)
  ON CONFLICT (gateway_tenant_id, gateway_user_id, currency) DO NOTHING
  RETURNING id INTO acct;
  IF acct IS NULL THEN
    acct := aigw.wallet_account_find(gateway_user_id, gateway_tenant_id, currency);
  END IF;
  RETURN acct;
END
$$;
COMMENT ON FUNCTION aigw.wallet_account(uuid, uuid, text) IS
  'wallet account of a user (or, without a user, a tenant) in a currency; created on first use';

-- Locks an account row for a balance change; errors when it cannot pay.
CREATE FUNCTION aigw.wallet_lock(account_id uuid)
  RETURNS aigw.gateway_wallet_accounts
  LANGUAGE plpgsql
  AS $$
DECLARE
  a aigw.gateway_wallet_accounts;
BEGIN
  SELECT * INTO a FROM aigw.gateway_wallet_accounts WHERE id = account_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'wallet account % does not exist', account_id USING ERRCODE = 'undefined_object';
  END IF;
  RETURN a;
END
$$;

-- Writes one ledger row and the account's new balances.
CREATE FUNCTION aigw.wallet_apply(a aigw.gateway_wallet_accounts, direction text, transaction_type text,
                                  amount numeric, new_balance numeric, new_frozen numeric,
                                  idempotency_key text, reference_type text, reference_id text,
                                  metadata jsonb DEFAULT '{}', recharged numeric DEFAULT 0, spent numeric DEFAULT 0)
  RETURNS aigw.gateway_wallet_transactions
  LANGUAGE plpgsql
  AS $$
DECLARE
  tx aigw.gateway_wallet_transactions;
BEGIN
  UPDATE aigw.gateway_wallet_accounts
     SET balance = new_balance, frozen_balance = new_frozen,
         total_recharged = total_recharged + recharged, total_spent = total_spent + spent,
         updated_at = now()
   WHERE id = a.id;
  INSERT INTO aigw.gateway_wallet_transactions
    (account_id, direction, transaction_type, amount, balance_before, balance_after,
     frozen_before, frozen_after, idempotency_key, reference_type, reference_id, metadata)
  VALUES (a.id, direction, transaction_type, amount, a.balance, new_balance,
          a.frozen_balance, new_frozen, idempotency_key, reference_type, reference_id, metadata)
  RETURNING * INTO tx;
  RETURN tx;
END
$$;

-- The ledger row of an account with an idempotency key, if any.
CREATE FUNCTION aigw.wallet_find(account_id uuid, idempotency_key text)
  RETURNS aigw.gateway_wallet_transactions
  LANGUAGE sql STABLE
  BEGIN ATOMIC
    SELECT * FROM aigw.gateway_wallet_transactions t
     WHERE t.account_id = wallet_find.account_id AND t.idempotency_key = wallet_find.idempotency_key;
  END;

-- Result row of a wallet operation.
CREATE TYPE aigw.wallet_result AS (
  transaction_id uuid,
  account_id uuid,
  status text,            -- applied, replayed, already_settled, already_released, nothing_held
  amount numeric,
  balance numeric,
  frozen_balance numeric
);

-- Holds amount of an account for a task at submit. Raises AGW01 when the
-- available balance does not cover it. Replaying the same task holds nothing more.
CREATE FUNCTION aigw.wallet_hold(account_id uuid, task_id uuid, amount numeric, metadata jsonb DEFAULT '{}')
  RETURNS aigw.wallet_result
  LANGUAGE plpgsql
  AS $$
DECLARE
  a aigw.gateway_wallet_accounts;
  tx aigw.gateway_wallet_transactions;
BEGIN
  IF amount IS NULL OR amount < 0 THEN
    RAISE EXCEPTION 'a hold must be a numeric amount not below zero' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  a := aigw.wallet_lock(account_id);
  tx := aigw.wallet_find(account_id, 'hold:' || task_id);
  IF tx.id IS NOT NULL THEN
    RETURN (tx.id, a.id, 'replayed', tx.amount, a.balance, a.frozen_balance)::aigw.wallet_result;
  END IF;
  IF a.status <> 'active' THEN
    RAISE EXCEPTION 'wallet account % is %', a.id, a.status USING ERRCODE = 'AGW02';
  END IF;
  IF a.balance < amount THEN
    RAISE EXCEPTION 'insufficient balance: % % available, % required', a.balance, a.currency, amount
      USING ERRCODE = 'AGW01', DETAIL = format('account %s, task %s', a.id, task_id);
  END IF;
  tx := aigw.wallet_apply(a, 'freeze', 'billing', amount, a.balance - amount, a.frozen_balance + amount,
                          'hold:' || task_id, 'task', task_id::text, metadata);
  RETURN (tx.id, a.id, 'applied', amount, tx.balance_after, tx.frozen_after)::aigw.wallet_result;
END
$$;
COMMENT ON FUNCTION aigw.wallet_hold(uuid, uuid, numeric, jsonb) IS
  'freezes the estimate of a task at submit; SQLSTATE AGW01 when the balance does not cover it';

-- The account and amount held for a task.
CREATE FUNCTION aigw.wallet_task_hold(task_id uuid)
  RETURNS aigw.gateway_wallet_transactions
  LANGUAGE sql STABLE
  BEGIN ATOMIC
    SELECT * FROM aigw.gateway_wallet_transactions t
     WHERE t.reference_type = 'task' AND t.reference_id = wallet_task_hold.task_id::text
       AND t.idempotency_key = 'hold:' || wallet_task_hold.task_id
     LIMIT 1;
  END;

-- Settles a task's hold with its final cost: the cost is charged, the rest of
-- the hold released. A cost above the hold is charged from the available
-- balance as far as it goes (never below zero); the shortfall is recorded.
-- Applies once: a replay, or a settlement after a release, changes nothing.
CREATE FUNCTION aigw.wallet_settle(task_id uuid, cost numeric, metadata jsonb DEFAULT '{}')
  RETURNS aigw.wallet_result
  LANGUAGE plpgsql
  AS $$
DECLARE
  hold aigw.gateway_wallet_transactions := aigw.wallet_task_hold(task_id);
  a aigw.gateway_wallet_accounts;
  tx aigw.gateway_wallet_transactions;
  charged numeric;
  shortfall numeric := 0;
BEGIN
  IF cost IS NULL OR cost < 0 THEN
    RAISE EXCEPTION 'a settlement must be a numeric cost not below zero' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF hold.id IS NULL THEN
    RAISE EXCEPTION 'task % has no wallet hold to settle', task_id USING ERRCODE = 'AGW03';
  END IF;
  a := aigw.wallet_lock(hold.account_id);
  tx := aigw.wallet_find(a.id, 'settle:' || task_id);
  IF tx.id IS NOT NULL THEN
    RETURN (tx.id, a.id, 'already_settled', 0, a.balance, a.frozen_balance)::aigw.wallet_result;
  END IF;
  tx := aigw.wallet_find(a.id, 'release:' || task_id);
  IF tx.id IS NOT NULL THEN
    RETURN (tx.id, a.id, 'already_released', 0, a.balance, a.frozen_balance)::aigw.wallet_result;
  END IF;
  charged := cost;
  IF cost > hold.amount + a.balance THEN
    charged := hold.amount + a.balance;
    shortfall := cost - charged;
  END IF;
  tx := aigw.wallet_apply(a, 'debit', 'billing', charged,
                          a.balance + hold.amount - charged, a.frozen_balance - hold.amount,
                          'settle:' || task_id, 'task', task_id::text,
                          metadata || jsonb_build_object('held', hold.amount, 'cost', cost,
                                                         'released', greatest(hold.amount - charged, 0),
                                                         'shortfall', shortfall),
                          0, charged);
  RETURN (tx.id, a.id, 'applied', charged, tx.balance_after, tx.frozen_after)::aigw.wallet_result;
END
$$;
COMMENT ON FUNCTION aigw.wallet_settle(uuid, numeric, jsonb) IS
  'charges a task''s final cost against its hold and releases the difference; applies once';

-- Releases a task's whole hold (failure or cancel). Applies once; after a
-- settlement it changes nothing.
CREATE FUNCTION aigw.wallet_release(task_id uuid, reason text DEFAULT 'failed')
  RETURNS aigw.wallet_result
  LANGUAGE plpgsql
  AS $$
DECLARE
  hold aigw.gateway_wallet_transactions := aigw.wallet_task_hold(task_id);
  a aigw.gateway_wallet_accounts;
  tx aigw.gateway_wallet_transactions;
BEGIN
  IF hold.id IS NULL THEN
    RETURN (NULL, NULL, 'nothing_held', 0, NULL, NULL)::aigw.wallet_result;
  END IF;
  a := aigw.wallet_lock(hold.account_id);
  tx := aigw.wallet_find(a.id, 'settle:' || task_id);
  IF tx.id IS NOT NULL THEN
    RETURN (tx.id, a.id, 'already_settled', 0, a.balance, a.frozen_balance)::aigw.wallet_result;
  END IF;
  tx := aigw.wallet_find(a.id, 'release:' || task_id);
  IF tx.id IS NOT NULL THEN
    RETURN (tx.id, a.id, 'already_released', 0, a.balance, a.frozen_balance)::aigw.wallet_result;
  END IF;
  tx := aigw.wallet_apply(a, 'unfreeze', 'refund', hold.amount, a.balance + hold.amount,
                          a.frozen_balance - hold.amount, 'release:' || task_id, 'task', task_id::text,
                          jsonb_build_object('reason', reason));
  RETURN (tx.id, a.id, 'applied', hold.amount, tx.balance_after, tx.frozen_after)::aigw.wallet_result;
END
$$;
COMMENT ON FUNCTION aigw.wallet_release(uuid, text) IS
  'returns a task''s hold to the available balance on failure or cancel; applies once';

-- Manual adjustment (credit or debit) with an idempotency key.
CREATE FUNCTION aigw.wallet_adjust(account_id uuid, amount numeric, idempotency_key text, note text DEFAULT NULL)
  RETURNS aigw.wallet_result
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
  AS $$
DECLARE
  a aigw.gateway_wallet_accounts;
  tx aigw.gateway_wallet_transactions;
BEGIN
  IF amount IS NULL OR coalesce(idempotency_key, '') = '' THEN
    RAISE EXCEPTION 'an adjustment needs an amount and an idempotency key' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  a := aigw.wallet_lock(account_id);
  tx := aigw.wallet_find(account_id, 'adjust:' || idempotency_key);
  IF tx.id IS NOT NULL THEN
    RETURN (tx.id, a.id, 'replayed', 0, a.balance, a.frozen_balance)::aigw.wallet_result;
  END IF;
  IF a.balance + amount < 0 THEN
    RAISE EXCEPTION 'insufficient balance: % % available, % debited', a.balance, a.currency, -amount
      USING ERRCODE = 'AGW01';
  END IF;
  tx := aigw.wallet_apply(a, CASE WHEN amount >= 0 THEN 'credit' ELSE 'debit' END, 'adjustment', abs(amount),
                          a.balance + amount, a.frozen_balance, 'adjust:' || idempotency_key,
                          'adjustment', idempotency_key, jsonb_build_object('note', note),
                          greatest(amount, 0), 0);
  RETURN (tx.id, a.id, 'applied', amount, tx.balance_after, tx.frozen_after)::aigw.wallet_result;
END
$$;
COMMENT ON FUNCTION aigw.wallet_adjust(uuid, numeric, text, text) IS
  'manual credit (positive) or debit (negative), idempotent by key, never below zero';

-- Bonus of a recharge under a recharge_discount_policy:
-- {"type": "tiered_bonus", "tiers": [{"minAmount": 100, "bonusRatio": 0.05}, ...]}
-- The highest tier whose minAmount the amount reaches applies; a tier may also
-- carry "bonusAmount" (fixed) and "discountRatio" (off the payable amount).
CREATE FUNCTION aigw.recharge_bonus(policy jsonb, amount numeric,
                                    OUT bonus_amount numeric, OUT payable_amount numeric, OUT tier jsonb)
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  BEGIN ATOMIC
    SELECT trim_scale(round(coalesce(amount * (t->>'bonusRatio')::numeric, 0) + coalesce((t->>'bonusAmount')::numeric, 0), 6)),
           trim_scale(round(amount * (1 - coalesce((t->>'discountRatio')::numeric, 0)), 6)),
           t
      FROM (SELECT (SELECT t
                      FROM jsonb_array_elements(CASE WHEN jsonb_typeof(policy->'tiers') = 'array'
                                                     THEN policy->'tiers' ELSE '[]' END) AS t
                     WHERE coalesce(policy->>'type', 'tiered_bonus') = 'tiered_bonus'
                       AND amount >= coalesce((t->>'minAmount')::numeric, 0)
                     ORDER BY coalesce((t->>'minAmount')::numeric, 0) DESC
                     LIMIT 1) AS t) AS picked;
  END;
COMMENT ON FUNCTION aigw.recharge_bonus(jsonb, numeric) IS
  'bonus and payable amount of a recharge under a user group''s tiered recharge policy';

-- Creates a recharge order for a user (or a tenant) with the user group's
-- bonus. Idempotent by (user or tenant, idempotency key): the same key returns
-- the same order.
CREATE FUNCTION aigw.create_recharge_order(gateway_user_id uuid, amount numeric, currency text DEFAULT 'resource',
                                           channel text DEFAULT 'manual', idempotency_key text DEFAULT NULL,
                                           gateway_tenant_id uuid DEFAULT NULL)
  RETURNS aigw.gateway_recharge_orders
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
  AS $$
DECLARE
  o aigw.gateway_recharge_orders;
  g record;
  b record;
BEGIN
  IF amount IS NULL OR amount <= 0 THEN
    RAISE EXCEPTION 'a recharge amount must be above zero' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF gateway_user_id IS NULL AND gateway_tenant_id IS NULL THEN
    RAISE EXCEPTION 'a recharge order belongs to a user or a tenant' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF idempotency_key IS NOT NULL THEN
    SELECT * INTO o FROM aigw.gateway_recharge_orders r
     WHERE r.gateway_user_id IS NOT DISTINCT FROM create_recharge_order.gateway_user_id
       AND (create_recharge_order.gateway_user_id IS NOT NULL
            OR r.gateway_tenant_id IS NOT DISTINCT FROM create_recharge_order.gateway_tenant_id)
       AND r.idempotency_key = create_recharge_order.idempotency_key;
    IF FOUND THEN
      RETURN o;
    END IF;
  END IF;
  SELECT * INTO g FROM aigw.resolve_user_group(jsonb_strip_nulls(jsonb_build_object(
    'gatewayUserId', gateway_user_id, 'gatewayTenantId', gateway_tenant_id)));
  SELECT * INTO b FROM aigw.recharge_bonus(coalesce(g.recharge_discount_policy, '{}'), amount);
  INSERT INTO aigw.gateway_recharge_orders
    (gateway_tenant_id, gateway_user_id, amount, bonus_amount, payable_amount, currency, channel, status,
     idempotency_key, metadata)
  VALUES (create_recharge_order.gateway_tenant_id, create_recharge_order.gateway_user_id, amount, b.bonus_amount,
          b.payable_amount, currency, channel, 'pending', idempotency_key,
          jsonb_build_object('userGroupKey', g.group_key, 'tier', b.tier))
  ON CONFLICT DO NOTHING
  RETURNING * INTO o;
  IF o.id IS NULL THEN
    SELECT * INTO o FROM aigw.gateway_recharge_orders r
     WHERE r.gateway_user_id IS NOT DISTINCT FROM create_recharge_order.gateway_user_id
       AND (create_recharge_order.gateway_user_id IS NOT NULL
            OR r.gateway_tenant_id IS NOT DISTINCT FROM create_recharge_order.gateway_tenant_id)
       AND r.idempotency_key = create_recharge_order.idempotency_key;
  END IF;
  RETURN o;
END
$$;
COMMENT ON FUNCTION aigw.create_recharge_order(uuid, numeric, text, text, text, uuid) IS
  'pending recharge order with the user group''s tiered bonus; idempotent by user and key';

-- Confirms payment of a recharge order (manual confirmation or a payment
-- callback): credits amount + bonus once. Confirming twice changes nothing.
CREATE FUNCTION aigw.confirm_recharge_order(order_id uuid, external_order_id text DEFAULT NULL)
  RETURNS aigw.gateway_recharge_orders
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
  AS $$
DECLARE
  o aigw.gateway_recharge_orders;
  a aigw.gateway_wallet_accounts;
BEGIN
  SELECT * INTO o FROM aigw.gateway_recharge_orders WHERE id = order_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'recharge order % does not exist', order_id USING ERRCODE = 'undefined_object';
  END IF;
  IF o.status = 'paid' THEN
    RETURN o;
  END IF;
  IF o.status NOT IN ('created', 'pending') THEN
    RAISE EXCEPTION 'recharge order % is % and cannot be confirmed', order_id, o.status
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  a := aigw.wallet_lock(aigw.wallet_account(o.gateway_user_id, o.gateway_tenant_id, o.currency));
  PERFORM aigw.wallet_apply(a, 'credit', 'recharge', o.amount + o.bonus_amount,
                            a.balance + o.amount + o.bonus_amount, a.frozen_balance,
                            'recharge:' || o.id, 'recharge_order', o.id::text,
                            jsonb_build_object('amount', o.amount, 'bonus', o.bonus_amount,
                                               'payable', o.payable_amount),
                            o.amount + o.bonus_amount, 0);
  UPDATE aigw.gateway_recharge_orders
     SET status = 'paid', paid_at = now(), updated_at = now(),
         external_order_id = coalesce(confirm_recharge_order.external_order_id, gateway_recharge_orders.external_order_id)
   WHERE id = order_id
  RETURNING * INTO o;
  RETURN o;
END
$$;
COMMENT ON FUNCTION aigw.confirm_recharge_order(uuid, text) IS
  'marks a recharge order paid and credits amount plus bonus to the wallet, once';
