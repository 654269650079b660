-- Queue gauges recounted from the tasks that hold queue slots: drift is
-- corrected, but never while a queue change is in flight.
-- (No task holds a queue slot in this database, so every queue gauge must read 0.)
SELECT aigw.ratelimit_set_gauge('queue', 'rq-drift', 7);
SELECT aigw.ratelimit_set_gauge('global', '*', 3);
SELECT scope_type, scope_key, used FROM aigw.rate_limit_windows
 WHERE metric = 'queue_size' AND used > 0 ORDER BY 1, 2;
SELECT aigw.ratelimit_recount_queues() AS corrected;
SELECT count(*) AS drifted FROM aigw.rate_limit_windows WHERE metric = 'queue_size' AND used > 0;
SELECT aigw.ratelimit_recount_queues() AS corrected_again;

-- While this transaction holds a queue admission the gauge is ahead of the
-- committed tasks by design: no recount.
BEGIN;
SELECT (aigw.ratelimit_admit('[{"scopeType": "queue", "scopeKey": "rq-open", "metric": "queue_size", "limit": 5}]'))->>'admitted'
  AS admitted;
SELECT aigw.ratelimit_recount_queues() IS NULL AS skipped;
SELECT used FROM aigw.rate_limit_windows WHERE scope_key = 'rq-open';
ROLLBACK;
SELECT used FROM aigw.rate_limit_windows WHERE scope_key = 'rq-open';

-- Held slots: a queued task's admission is what the recount finds.
BEGIN;
INSERT INTO aigw.gateway_tasks (kind, user_id, model, request, queue_key, normalized_request)
SELECT 'chat', 'rq-user', 'rq-model', '{}', 'rq-queue',
       jsonb_build_object('queueAdmission', aigw.ratelimit_admit(
         '[{"scopeType": "queue", "scopeKey": "rq-held", "metric": "queue_size", "limit": 5, "amount": 2}]'))
  FROM generate_series(1, 2);
COMMIT;
SELECT aigw.ratelimit_set_gauge('queue', 'rq-held', 9);
SELECT aigw.ratelimit_recount_queues() AS corrected;
SELECT used FROM aigw.rate_limit_windows WHERE scope_key = 'rq-held';
-- Without force it waits for aigw.ratelimit_queue_recount_interval.
SELECT aigw.ratelimit_recount_queues(false) IS NULL AS not_due;
-- Clean up: the tasks leave the queue, giving their slots back.
SELECT aigw.task_leaves_queue(id) FROM aigw.gateway_tasks WHERE user_id = 'rq-user';
DELETE FROM aigw.gateway_tasks WHERE user_id = 'rq-user';
SELECT used FROM aigw.rate_limit_windows WHERE scope_key = 'rq-held';
SELECT aigw.ratelimit_recount_queues() AS nothing_to_correct;
