-- Reading requests and identities on the task path (C: src/requests.c).

-- aigw.validate_task_request: the first problem of a request for a kind, as
-- SQLSTATE 22023 and a message naming it, or nothing when it is valid.
CREATE FUNCTION pg_temp.problem(kind text, request jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM aigw.validate_task_request(kind, request);
  RETURN 'valid';
EXCEPTION WHEN others THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END;
$$;
SELECT n, kind, pg_temp.problem(kind, request) FROM (VALUES
  (1, 'chat.completions', '{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'::jsonb),
  (2, NULL, '{"model": "m"}'),
  (3, 'chat', '{"model": "m"}'),
  (4, 'chat.completions', NULL),
  (5, 'chat.completions', '[1]'),
  (6, 'chat.completions', '"x"'),
  (7, 'chat.completions', '{"messages": [1]}'),
  (8, 'chat.completions', '{"model": "", "messages": [1]}'),
  (9, 'chat.completions', '{"model": 7, "messages": [1]}'),
  (10, 'chat.completions', '{"model": null, "messages": [1]}'),
  (11, 'chat.completions', '{"model": "m"}'),
  (12, 'chat.completions', '{"model": "m", "messages": []}'),
  (13, 'chat.completions', '{"model": "m", "messages": {"role": "user"}}'),
  (14, 'embeddings', '{"model": "m", "input": "text"}'),
  (15, 'embeddings', '{"model": "m", "input": ["a", "b"]}'),
  (16, 'embeddings', '{"model": "m", "input": 3}'),
  (17, 'embeddings', '{"model": "m"}'),
  (18, 'images.generations', '{"model": "m", "prompt": "a cat"}'),
  (19, 'images.edits', '{"model": "m"}'),
  (20, 'videos.generations', '{"model": "m", "prompt": ["a"]}'),
  (21, 'audio.speech', '{"model": "m", "input": "say"}'),
  (22, 'audio.speech', '{"model": "m", "input": ["say"]}'),
  (23, 'images.generations', '{"model": "m", "prompt": "p", "n": 16}'),
  (24, 'images.generations', '{"model": "m", "prompt": "p", "n": 17}'),
  (25, 'images.generations', '{"model": "m", "prompt": "p", "n": 0}'),
  (26, 'images.generations', '{"model": "m", "prompt": "p", "n": "2"}'),
  (27, 'images.generations', '{"model": "m", "prompt": "p", "n": null}'),
  (28, 'images.generations', '{"model": "m", "prompt": "p", "n": 1.5}'),
  (29, 'chat.completions', '{"model": "m", "messages": [1], "max_tokens": 1}'),
  (30, 'chat.completions', '{"model": "m", "messages": [1], "max_tokens": 0.5}'),
  (31, 'chat.completions', '{"model": "m", "messages": [1], "max_tokens": -3}'),
  (32, 'chat.completions', '{"model": "m", "messages": [1], "max_tokens": "9"}'),
  (33, 'chat.completions', '{"model": "m", "messages": [1], "max_tokens": 100000}')
) AS c(n, kind, request) ORDER BY n;

-- aigw.task_identity against the SQL it replaced, on identities in either case,
-- both, neither, with values that are not strings, and on non-objects.
CREATE FUNCTION pg_temp.task_identity_sql(identity jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'userId', coalesce(identity->>'userId', identity->>'user_id'),
    'gatewayUserId', coalesce(identity->>'gatewayUserId', identity->>'gateway_user_id'),
    'tenantId', coalesce(identity->>'tenantId', identity->>'tenant_id'),
    'tenantKey', coalesce(identity->>'tenantKey', identity->>'tenant_key'),
    'gatewayTenantId', coalesce(identity->>'gatewayTenantId', identity->>'gateway_tenant_id'),
    'apiKeyId', coalesce(identity->>'apiKeyId', identity->>'api_key_id'),
    'userGroupId', coalesce(identity->>'userGroupId', identity->>'user_group_id'),
    'userGroupKey', coalesce(identity->>'userGroupKey', identity->>'user_group_key'),
    'userSource', coalesce(identity->>'userSource', identity->>'source'),
    'identityMode', identity->>'identityMode',
    'role', identity->>'role'))
$$;
WITH cases(n, identity) AS (VALUES
  (1, '{"user_id": "u1", "tenant_key": "acme", "api_key_id": "k1", "source": "gateway"}'::jsonb),
  (2, '{"userId": "u2", "tenantId": "t2", "userGroupKey": "gold", "identityMode": "jwt", "role": "admin"}'),
  (3, '{"userId": "camel", "user_id": "snake", "userSource": null, "source": "http"}'),
  (4, '{"user_id": 42, "gateway_user_id": "0192e1d6-0000-7000-8000-000000000001", "tenant_id": true,
        "api_key_id": {"a": [1, 2]}, "user_group_id": [1], "gateway_tenant_id": 1.50}'),
  (5, '{"userId": null, "user_id": null, "role": ""}'),
  (6, '{}'),
  (7, '[{"user_id": "u"}]'),
  (8, '"user"'),
  (9, NULL))
SELECT n, aigw.task_identity(identity) AS identity,
       aigw.task_identity(identity) IS NOT DISTINCT FROM pg_temp.task_identity_sql(identity) AS same
  FROM cases ORDER BY n;

-- aigw.append_task_event (C): sequence numbers per task, the payload's default
-- and the event's fields; a NULL task is refused (23502). (The callback outbox
-- rows, with aigw.task_progress_callback_url set in the server's configuration,
-- are checked by TAP 320_outbox.)
BEGIN;
INSERT INTO aigw.gateway_tasks (id, kind, run_mode, user_id, model, model_type, request, queue_key)
VALUES ('0192e1d6-0000-7000-8000-0000000000e1', 'chat.completions', 'production', 'ev-user', 'm', 'chat', '{}', 'q'),
       ('0192e1d6-0000-7000-8000-0000000000e2', 'chat.completions', 'production', 'ev-user', 'm', 'chat', '{}', 'q');
SELECT aigw.append_task_event('0192e1d6-0000-7000-8000-0000000000e1', 'queue_status', 'queued', 'queued', 0, 'queued', NULL, false) AS first,
       aigw.append_task_event('0192e1d6-0000-7000-8000-0000000000e1', 'progress', 'running', 'submit', 0.5, 'half', '{"a": 1}', false) AS second,
       aigw.append_task_event('0192e1d6-0000-7000-8000-0000000000e2', 'progress', 'running', NULL, NULL, NULL, NULL, true) AS other_task,
       aigw.append_task_event('0192e1d6-0000-7000-8000-0000000000e1', 'completed', 'succeeded', NULL, 1, 'completed', '{"usage": {}}', false) AS third;
SELECT task_id, seq, event_type, status, phase, progress, message, payload, simulated
  FROM aigw.gateway_task_events WHERE task_id IN ('0192e1d6-0000-7000-8000-0000000000e1', '0192e1d6-0000-7000-8000-0000000000e2')
 ORDER BY task_id, seq;
SAVEPOINT null_task;
SELECT aigw.append_task_event(NULL, 'progress', 'running', NULL, NULL, NULL, NULL, false);
ROLLBACK TO null_task;
-- The row is written with heap and index calls, checked as the INSERT would
-- check it: the foreign key to the task (23503), NOT NULL (23502), the CHECK
-- constraints (23514) and the caller's privileges (42501): INSERT and SELECT
-- on the table, EXECUTE on the functions of its CHECK constraints.
SAVEPOINT checks;
SELECT aigw.append_task_event('0192e1d6-0000-7000-8000-0000000000ff', 'progress', 'running', NULL, NULL, NULL, NULL, false);
ROLLBACK TO checks;
SELECT aigw.append_task_event('0192e1d6-0000-7000-8000-0000000000e1', 'bogus', 'running', NULL, NULL, NULL, NULL, false);
ROLLBACK TO checks;
SELECT aigw.append_task_event('0192e1d6-0000-7000-8000-0000000000e1', 'progress', 'running', 'nowhere', NULL, NULL, NULL, false);
ROLLBACK TO checks;
SELECT aigw.append_task_event('0192e1d6-0000-7000-8000-0000000000e1', 'progress', 'running', NULL, 1.5, NULL, NULL, false);
ROLLBACK TO checks;
SELECT aigw.append_task_event('0192e1d6-0000-7000-8000-0000000000e1', NULL, 'running', NULL, NULL, NULL, NULL, false);
ROLLBACK TO checks;
SELECT aigw.append_task_event('0192e1d6-0000-7000-8000-0000000000e1', 'progress', 'running', NULL, NULL, NULL, NULL, NULL);
ROLLBACK TO checks;
CREATE ROLE regress_aigw_event_reader;
GRANT USAGE ON SCHEMA aigw TO regress_aigw_event_reader;
GRANT SELECT ON aigw.gateway_task_events TO regress_aigw_event_reader;
GRANT EXECUTE ON FUNCTION aigw.append_task_event(uuid, text, text, text, numeric, text, jsonb, boolean) TO regress_aigw_event_reader;
SAVEPOINT no_insert;
SET ROLE regress_aigw_event_reader;
SELECT aigw.append_task_event('0192e1d6-0000-7000-8000-0000000000e1', 'progress', 'running', NULL, NULL, NULL, NULL, false);
ROLLBACK TO no_insert;
-- with INSERT too, the functions of the CHECK constraints must be callable
GRANT INSERT ON aigw.gateway_task_events TO regress_aigw_event_reader;
SAVEPOINT no_execute;
SET ROLE regress_aigw_event_reader;
SELECT aigw.append_task_event('0192e1d6-0000-7000-8000-0000000000e1', 'progress', 'running', NULL, NULL, NULL, NULL, false);
ROLLBACK TO no_execute;
GRANT EXECUTE ON FUNCTION aigw.is_event_phase(text), aigw.is_fraction(numeric), aigw.is_event_type(text)
  TO regress_aigw_event_reader;
SAVEPOINT allowed;
SET ROLE regress_aigw_event_reader;
SELECT aigw.append_task_event('0192e1d6-0000-7000-8000-0000000000e1', 'progress', 'running', NULL, NULL, NULL, NULL, false) AS allowed;
RESET ROLE;
-- a grant taken back counts at once
REVOKE EXECUTE ON FUNCTION aigw.is_event_type(text) FROM regress_aigw_event_reader;
SAVEPOINT revoked;
SET ROLE regress_aigw_event_reader;
SELECT aigw.append_task_event('0192e1d6-0000-7000-8000-0000000000e1', 'progress', 'running', NULL, NULL, NULL, NULL, false);
ROLLBACK TO revoked;
ROLLBACK TO allowed;
-- A table given an insert trigger of its own gets its events by INSERT
-- statements, which fire it; without the trigger, by the direct write again.
CREATE TABLE pg_temp.events_seen (task_id uuid, seq bigint);
CREATE FUNCTION pg_temp.event_seen() RETURNS trigger LANGUAGE plpgsql
  AS $$BEGIN INSERT INTO pg_temp.events_seen VALUES (NEW.task_id, NEW.seq); RETURN NEW; END$$;
CREATE TRIGGER event_seen AFTER INSERT ON aigw.gateway_task_events
  FOR EACH ROW EXECUTE FUNCTION pg_temp.event_seen();
SELECT aigw.append_task_event('0192e1d6-0000-7000-8000-0000000000e1', 'progress', 'running', NULL, NULL, NULL, NULL, false) AS with_trigger;
-- (the INSERT's check error has a "Failing row" detail, the direct write's none)
CREATE FUNCTION pg_temp.written_by() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  d text;
BEGIN
  PERFORM aigw.append_task_event('0192e1d6-0000-7000-8000-0000000000e1', 'bogus', 'running', NULL, NULL, NULL, NULL, false);
  RETURN 'no error';
EXCEPTION WHEN check_violation THEN
  GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
  RETURN CASE WHEN d = '' THEN 'the direct write' ELSE 'an INSERT statement' END;
END $$;
SELECT pg_temp.written_by() AS with_trigger_written_by;
DROP TRIGGER event_seen ON aigw.gateway_task_events;
SELECT aigw.append_task_event('0192e1d6-0000-7000-8000-0000000000e1', 'progress', 'running', NULL, NULL, NULL, NULL, false) AS without_trigger;
SELECT pg_temp.written_by() AS without_trigger_written_by;
SELECT * FROM pg_temp.events_seen;
SELECT seq, event_type FROM aigw.gateway_task_events WHERE task_id = '0192e1d6-0000-7000-8000-0000000000e1' ORDER BY seq;
ROLLBACK;
-- A read-only transaction writes no event (25006), as it runs no INSERT.
BEGIN READ ONLY;
SELECT aigw.append_task_event('0192e1d6-0000-7000-8000-0000000000e1', 'progress', 'running', NULL, NULL, NULL, NULL, false);
ROLLBACK;
