-- Retention: aigw.task_retention and aigw.purge_finished_tasks().
\set VERBOSITY terse
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SHOW aigw.task_retention;
SELECT aigw.task_retention();
SET aigw.task_retention = '36h';
SELECT aigw.task_retention();
SET aigw.task_retention = 0;
SELECT aigw.task_retention() IS NULL AS retention_off;
SELECT aigw.purge_finished_tasks() AS purged_when_off;
RESET aigw.task_retention;
SET aigw.task_retention = -1;
BEGIN;
-- Old and new tasks in every status, with attempts, events and outbox rows.
INSERT INTO aigw.gateway_tasks (kind, user_id, model, request, queue_key, status, finished_at, created_at)
SELECT 'chat.completions', 'retention-' || s || '-' || age, 'sim-chat', '{}', 'q', s,
       CASE WHEN s IN ('succeeded', 'failed_final', 'cancelled') THEN now() - (age || ' days')::interval END,
       now() - (age || ' days')::interval
  FROM unnest(ARRAY['queued', 'running', 'polling', 'failed_retryable', 'succeeded', 'failed_final', 'cancelled']) AS s,
       unnest(ARRAY[1, 30]) AS age;
INSERT INTO aigw.gateway_task_attempts (task_id, attempt_no, queue_key, status)
SELECT id, 1, 'q', 'succeeded' FROM aigw.gateway_tasks WHERE user_id LIKE 'retention-%';
INSERT INTO aigw.gateway_task_events (task_id, seq, event_type)
SELECT id, 1, 'queue_status' FROM aigw.gateway_tasks WHERE user_id LIKE 'retention-%';
-- An old finished task whose callback is undelivered, and one whose settlement is undelivered, are kept.
INSERT INTO aigw.gateway_tasks (id, kind, user_id, model, request, queue_key, status, finished_at)
VALUES ('00000000-0000-0000-0000-00000000c0b1', 'chat.completions', 'retention-callback', 'm', '{}', 'q', 'succeeded',
        now() - interval '30 days'),
       ('00000000-0000-0000-0000-00000000c0b2', 'chat.completions', 'retention-settlement', 'm', '{}', 'q', 'succeeded',
        now() - interval '30 days');
INSERT INTO aigw.gateway_task_callback_outbox (task_id, seq, callback_url, payload)
VALUES ('00000000-0000-0000-0000-00000000c0b1', 1, 'http://server-main/progress', '{}');
INSERT INTO aigw.settlement_outbox (task_id, payload, status, updated_at)
VALUES ('00000000-0000-0000-0000-00000000c0b2', '{}', 'pending', now() - interval '30 days'),
       ('00000000-0000-0000-0000-00000000c0b3', '{}', 'delivered', now() - interval '30 days');
-- Bad arguments.
SELECT pg_temp.try($$SELECT aigw.purge_finished_tasks(interval '1 day', 0)$$);
SELECT pg_temp.try($$SELECT aigw.purge_finished_tasks(interval '1 day', NULL)$$);
SELECT pg_temp.try($$SELECT aigw.purge_finished_tasks(interval '1 day', 100001)$$);
SELECT pg_temp.try($$SELECT aigw.purge_finished_tasks(interval '-1 day')$$);
-- Batches of 2 with the 7-day default: three old finished tasks go, in two calls.
SELECT aigw.purge_finished_tasks(batch => 2) AS first_batch;
SELECT aigw.purge_finished_tasks(batch => 2) AS second_batch;
SELECT aigw.purge_finished_tasks(batch => 2) AS third_batch;
SELECT user_id, status FROM aigw.gateway_tasks WHERE user_id LIKE 'retention-%' ORDER BY 1;
SELECT count(*) AS orphan_attempts FROM aigw.gateway_task_attempts a
 WHERE NOT EXISTS (SELECT 1 FROM aigw.gateway_tasks t WHERE t.id = a.task_id);
SELECT count(*) AS attempts, (SELECT count(*) FROM aigw.gateway_task_events e JOIN aigw.gateway_tasks t ON t.id = e.task_id
                               WHERE t.user_id LIKE 'retention-%') AS events
  FROM aigw.gateway_task_attempts a JOIN aigw.gateway_tasks t ON t.id = a.task_id WHERE t.user_id LIKE 'retention-%';
SELECT task_id, status FROM aigw.settlement_outbox WHERE task_id::text LIKE '00000000-0000-0000-0000-00000000c0b%';
-- A shorter window reaches the recent ones too; running tasks are never purged.
SELECT aigw.purge_finished_tasks(interval '1 hour') AS recent;
SELECT user_id, status FROM aigw.gateway_tasks WHERE user_id LIKE 'retention-%' ORDER BY 1;
ROLLBACK;
