-- Outbox delivery (seed 003 §7.5.1, §7.8, §12.2, §14.4): the outbox worker claims
-- due rows in one transaction, posts them outside any transaction, and records
-- each result in another. Callbacks of one task go out in seq order.

-- Claims up to p_n due rows (callbacks, and settlements when aigw.settlement_url is
-- set) and marks them delivering; rows left delivering by a dead worker come back.
CREATE FUNCTION aigw.outbox_claim(p_n int) RETURNS SETOF jsonb
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  settle_url text := nullif(current_setting('aigw.settlement_url'), '');
BEGIN
  UPDATE aigw.gateway_task_callback_outbox SET status = 'pending', updated_at = now()
   WHERE status = 'delivering' AND updated_at < now() - interval '2 minutes';
  UPDATE aigw.settlement_outbox SET status = 'pending', updated_at = now()
   WHERE status = 'delivering' AND updated_at < now() - interval '2 minutes';
  UPDATE aigw.gateway_provider_cancel_outbox SET status = 'pending', updated_at = now()
   WHERE status = 'delivering' AND updated_at < now() - interval '2 minutes';

  -- provider cancels (345_provider_cancel.sql): the request, with the platform's sealed key
  RETURN QUERY
  WITH due AS (
    SELECT o.id FROM aigw.gateway_provider_cancel_outbox o
     WHERE o.status = 'pending' AND o.next_attempt_at <= now()
     ORDER BY o.next_attempt_at LIMIT p_n FOR UPDATE SKIP LOCKED
  ), claimed AS (
    UPDATE aigw.gateway_provider_cancel_outbox o
       SET status = 'delivering', attempts = o.attempts + 1, updated_at = now()
      FROM due WHERE o.id = due.id
    RETURNING o.*
  )
  SELECT jsonb_strip_nulls(jsonb_build_object('kind', 'provider_cancel', 'id', c.id)
           || aigw.vendor_cancel_request(c.kind, p.base_url, c.remote_task_id)
           || jsonb_build_object('apiKey', coalesce(p.credentials->>'apiKey', p.credentials->>'api_key')))
    FROM claimed c JOIN aigw.integration_platforms p ON p.id = c.platform_id;

  RETURN QUERY
  WITH due AS (
    SELECT o.id FROM aigw.gateway_task_callback_outbox o
     WHERE o.status = 'pending' AND o.next_attempt_at <= now()
       AND NOT EXISTS (SELECT 1 FROM aigw.gateway_task_callback_outbox e
                        WHERE e.task_id = o.task_id AND e.seq < o.seq AND e.callback_url = o.callback_url
                          AND e.status IN ('pending', 'delivering', 'failed'))
     ORDER BY o.next_attempt_at, o.task_id, o.seq
     LIMIT p_n FOR UPDATE SKIP LOCKED
  ), claimed AS (
    UPDATE aigw.gateway_task_callback_outbox o
       SET status = 'delivering', attempts = o.attempts + 1, updated_at = now()
      FROM due WHERE o.id = due.id
    RETURNING o.*
  )
  SELECT jsonb_build_object('kind', 'callback', 'id', c.id, 'url', c.callback_url, 'payload', c.payload,
                            'idempotencyKey', c.task_id || ':' || c.seq, 'eventType', 'task.progress')
    FROM claimed c;

  IF settle_url IS NOT NULL THEN
    RETURN QUERY
    WITH due AS (
      SELECT o.id FROM aigw.settlement_outbox o
       WHERE o.status = 'pending' AND o.next_attempt_at <= now()
       ORDER BY o.next_attempt_at LIMIT p_n FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE aigw.settlement_outbox o
         SET status = 'delivering', attempts = o.attempts + 1, updated_at = now()
        FROM due WHERE o.id = due.id
      RETURNING o.*
    )
    SELECT jsonb_build_object('kind', 'settlement', 'id', c.id, 'url', settle_url,
                              'payload', c.payload || jsonb_build_object('eventId', c.event_id),
                              'idempotencyKey', c.event_id::text, 'eventType', c.event_type)
      FROM claimed c;
  END IF;
END;
$$;

-- Records one delivery: delivered, or back to pending with exponential backoff,
-- or failed after aigw.outbox_max_attempts. The three outboxes share the columns
-- this touches.
CREATE FUNCTION aigw.outbox_done(p_kind text, p_id uuid, p_ok boolean, p_error text) RETURNS void
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  tbl text := CASE p_kind WHEN 'callback' THEN 'gateway_task_callback_outbox'
                          WHEN 'settlement' THEN 'settlement_outbox'
                          WHEN 'provider_cancel' THEN 'gateway_provider_cancel_outbox' END;
BEGIN
  IF tbl IS NULL THEN
    RAISE EXCEPTION 'unknown outbox kind "%"', p_kind USING ERRCODE = '22023';
  END IF;
  EXECUTE format($q$
    UPDATE aigw.%I
       SET status = CASE WHEN $1 THEN 'delivered' WHEN attempts >= $2 THEN 'failed' ELSE 'pending' END,
           delivered_at = CASE WHEN $1 THEN now() END,
           last_error = CASE WHEN $1 THEN NULL ELSE left($3, 1000) END,
           next_attempt_at = now() + make_interval(secs => least(power(2, attempts), 300)),
           updated_at = now()
     WHERE id = $4 AND status = 'delivering'$q$, tbl)
  USING p_ok, current_setting('aigw.outbox_max_attempts')::int, p_error, p_id;
END;
$$;
