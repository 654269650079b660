-- Live client states in shared memory: counts follow starts and finishes, and
-- a rolled-back (sub)transaction leaves them as they were.
SELECT * FROM aigw.client_state('rc-none/m') AS unknown;
SELECT aigw.client_assigned('rc-live/m', NULL, 'rc-provider', 'chat.completions', 0.25) AS kept;
SELECT running_count, limiter_ratio, last_assigned_at > now() - interval '1 minute' AS recent
  FROM aigw.client_state('rc-live/m');
-- an aborted transaction's start is undone
BEGIN;
SELECT aigw.client_assigned('rc-live/m', NULL, 'rc-provider', 'chat.completions', 0.5) AS kept;
SELECT running_count AS inside FROM aigw.client_state('rc-live/m');
ROLLBACK;
SELECT running_count AS after_rollback FROM aigw.client_state('rc-live/m');
-- an aborted subtransaction's finish is undone, a committed one's start stays
BEGIN;
SAVEPOINT a;
SELECT aigw.client_released('rc-live/m');
SELECT running_count AS released FROM aigw.client_state('rc-live/m');
ROLLBACK TO SAVEPOINT a;
SAVEPOINT b;
SELECT aigw.client_assigned('rc-live/m', NULL, 'rc-provider', 'chat.completions', 0.5) AS kept;
RELEASE SAVEPOINT b;
COMMIT;
SELECT running_count AS after_commit FROM aigw.client_state('rc-live/m');
-- never below zero
SELECT aigw.client_released('rc-live/m'), aigw.client_released('rc-live/m'), aigw.client_released('rc-live/m');
SELECT running_count AS floor FROM aigw.client_state('rc-live/m');
SELECT client_id, provider, method_name, running_count FROM aigw.client_states() WHERE client_id LIKE 'rc-%';
SELECT aigw.client_assigned(repeat('x', 300), NULL, NULL, NULL, NULL);
-- the front's role reaches the runtime only through the HTTP entry and channels
SELECT has_function_privilege('aigw_front', 'aigw.lease_tasks(text, integer, uuid[], boolean)', 'EXECUTE') AS front_may_lease,
       has_function_privilege('aigw_front', 'aigw.client_assigned(text, uuid, text, text, numeric)', 'EXECUTE') AS front_may_assign,
       has_function_privilege('aigw_front', 'aigw.submit_task(text, jsonb, jsonb, jsonb)', 'EXECUTE') AS front_may_submit,
       has_function_privilege('aigw_front', 'aigw.channel_wait(text, integer)', 'EXECUTE') AS front_may_wait;
