-- aigw.insert_row: the rows every task writes (attempts, concurrency leases,
-- the settlement outbox) are inserted with heap and index calls, checked as
-- the INSERT statement would check them (src/rowwrite.c).
SET client_min_messages = warning;
\set SHOW_CONTEXT never
CREATE TABLE aigw.rw_parent (id uuid PRIMARY KEY DEFAULT uuidv7(), name text);
CREATE TABLE aigw.rw_child (
  id bigserial PRIMARY KEY,
  parent_id uuid REFERENCES aigw.rw_parent (id) ON DELETE CASCADE,
  n int NOT NULL DEFAULT 7 CHECK (n > 0),
  must text NOT NULL,
  tag text,
  made date NOT NULL DEFAULT '2026-01-02',
  UNIQUE (parent_id, n)
);
CREATE UNIQUE INDEX rw_child_tag ON aigw.rw_child (tag) WHERE tag IS NOT NULL;
INSERT INTO aigw.rw_parent (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'committed');
CREATE TABLE public.rw_elsewhere (a int);

-- NULL columns take their defaults; the row comes back as written
CREATE FUNCTION pg_temp.child(parent uuid, n int, must text, tag text) RETURNS aigw.rw_child
  LANGUAGE plpgsql AS $$
DECLARE
  c aigw.rw_child;
BEGIN
  c.parent_id := parent;
  c.n := n;
  c.must := must;
  c.tag := tag;
  RETURN aigw.insert_row(c);
END $$;
SELECT id, parent_id, n, must, tag, made FROM pg_temp.child('00000000-0000-0000-0000-000000000001', NULL, 'a', NULL);
SELECT id, n, tag FROM pg_temp.child('00000000-0000-0000-0000-000000000001', 8, 'b', 'x');
SELECT id, parent_id, n, must, tag, made FROM aigw.rw_child ORDER BY id;
-- the indexes took the rows: lookups by each of them find them
SET enable_seqscan = off;
SELECT count(*) FROM aigw.rw_child WHERE id = 2;
SELECT count(*) FROM aigw.rw_child WHERE parent_id = '00000000-0000-0000-0000-000000000001' AND n = 7;
SELECT count(*) FROM aigw.rw_child WHERE tag = 'x';
RESET enable_seqscan;

-- what the INSERT would say: NOT NULL, CHECK, unique (also a partial unique index), foreign key
SELECT pg_temp.child(NULL, 3, NULL, NULL);
SELECT pg_temp.child(NULL, -1, 'c', NULL);
SELECT pg_temp.child('00000000-0000-0000-0000-000000000001', 7, 'c', NULL);
SELECT pg_temp.child(NULL, 9, 'c', 'x');
SELECT pg_temp.child('00000000-0000-0000-0000-0000000000ff', 9, 'c', NULL);
-- a NULL in the key refers to nothing (MATCH SIMPLE), and rows without a tag do not collide
SELECT n, tag FROM pg_temp.child(NULL, 10, 'd', NULL);
SELECT n, tag FROM pg_temp.child(NULL, 11, 'e', NULL);

-- the referenced row is locked FOR KEY SHARE, as the foreign key's trigger
-- query locks it; a row this transaction wrote needs no lock
BEGIN;
SELECT n FROM pg_temp.child('00000000-0000-0000-0000-000000000001', 12, 'f', NULL);
SELECT name, xmax = pg_current_xact_id()::xid AS locked_by_us FROM aigw.rw_parent;
INSERT INTO aigw.rw_parent (id, name) VALUES ('00000000-0000-0000-0000-000000000002', 'same transaction');
SELECT n FROM pg_temp.child('00000000-0000-0000-0000-000000000002', 13, 'g', NULL);
SELECT name, xmax::text FROM aigw.rw_parent WHERE name = 'same transaction';
COMMIT;

-- privileges: the INSERT's errors, from the INSERT statement
CREATE ROLE aigw_rw_reader;
GRANT USAGE ON SCHEMA aigw TO aigw_rw_reader;
GRANT SELECT ON aigw.rw_child TO aigw_rw_reader;
GRANT EXECUTE ON FUNCTION aigw.insert_row(anyelement) TO aigw_rw_reader;
SET ROLE aigw_rw_reader;
SELECT pg_temp.child(NULL, 14, 'h', NULL);
RESET ROLE;
-- a function of a CHECK the caller may not call
CREATE FUNCTION aigw.rw_positive(v int) RETURNS boolean LANGUAGE sql IMMUTABLE RETURN v > 0;
ALTER TABLE aigw.rw_child ADD CONSTRAINT rw_child_positive CHECK (aigw.rw_positive(n));
REVOKE EXECUTE ON FUNCTION aigw.rw_positive(int) FROM PUBLIC;
GRANT INSERT ON aigw.rw_child TO aigw_rw_reader;
GRANT USAGE ON SEQUENCE aigw.rw_child_id_seq TO aigw_rw_reader;
SET ROLE aigw_rw_reader;
SELECT pg_temp.child(NULL, 14, 'h', NULL);
RESET ROLE;
GRANT EXECUTE ON FUNCTION aigw.rw_positive(int) TO aigw_rw_reader;
SET ROLE aigw_rw_reader;
SELECT n FROM pg_temp.child(NULL, 14, 'h', NULL);
RESET ROLE;

-- a table with a trigger of its own takes the INSERT statement: the trigger fires
CREATE FUNCTION aigw.rw_upper() RETURNS trigger LANGUAGE plpgsql
  AS $$BEGIN NEW.must := upper(NEW.must); RETURN NEW; END$$;
CREATE TRIGGER rw_upper BEFORE INSERT ON aigw.rw_child FOR EACH ROW EXECUTE FUNCTION aigw.rw_upper();
SELECT n, must, made FROM pg_temp.child(NULL, 15, 'lower', NULL);
-- and its errors are the statement's (with the failing row)
SELECT pg_temp.child(NULL, -2, 'c', NULL);
DROP TRIGGER rw_upper ON aigw.rw_child;
SELECT n, must FROM pg_temp.child(NULL, 16, 'lower', NULL);

-- a column added since is written too (the table is read again)
ALTER TABLE aigw.rw_child ADD COLUMN extra text DEFAULT 'added';
SELECT n, extra FROM pg_temp.child(NULL, 17, 'i', NULL);

-- aigw.update_row: the columns named take the row's values, the others keep the table's
CREATE FUNCTION pg_temp.retag(p_id bigint, p_must text, p_tag text, cols text[]) RETURNS aigw.rw_child
  LANGUAGE plpgsql AS $$
DECLARE
  c aigw.rw_child;
BEGIN
  c.id := p_id;
  c.must := p_must;
  c.tag := p_tag;
  c.n := 99;  -- not named: the table's value stays
  RETURN aigw.update_row(c, cols);
END $$;
SELECT id, n, must, tag, extra FROM pg_temp.retag(1, 'renamed', NULL, '{must}');
SELECT id, n, must, tag, extra FROM aigw.rw_child WHERE id = 1;
SELECT pg_temp.retag(1000, 'x', NULL, '{must}') IS NULL AS no_such_row;
-- what the UPDATE would say: NOT NULL, a CHECK of the new row, a unique
-- index (a column of it is set by the UPDATE statement), a missing column
SELECT pg_temp.retag(1, NULL, NULL, '{must}');
ALTER TABLE aigw.rw_child ADD CONSTRAINT rw_child_must CHECK (must <> 'forbidden');
SELECT pg_temp.retag(1, 'forbidden', NULL, '{must}');
SELECT pg_temp.retag(1, 'a', 'x', '{tag}');
SELECT id, tag FROM pg_temp.retag(1, 'a', 'y', '{tag}');
SELECT pg_temp.retag(1, 'a', NULL, '{nosuch}');
-- privileges: the UPDATE's error, from the UPDATE statement
SET ROLE aigw_rw_reader;
SELECT pg_temp.retag(1, 'z', NULL, '{must}');
RESET ROLE;
GRANT EXECUTE ON FUNCTION aigw.update_row(anyelement, text[]) TO aigw_rw_reader;
SET ROLE aigw_rw_reader;
SELECT pg_temp.retag(1, 'z', NULL, '{must}');
RESET ROLE;
GRANT UPDATE ON aigw.rw_child TO aigw_rw_reader;
SET ROLE aigw_rw_reader;
SELECT id, must FROM pg_temp.retag(1, 'z', NULL, '{must}');
RESET ROLE;
BEGIN READ ONLY;
SELECT pg_temp.retag(1, 'ro', NULL, '{must}');
ROLLBACK;
SELECT aigw.update_row(ROW(1)::public.rw_elsewhere, '{a}');
DROP FUNCTION pg_temp.retag(bigint, text, text, text[]);

-- what it does not take
SELECT aigw.insert_row(ROW(1, 2));
SELECT aigw.insert_row(NULL::aigw.rw_parent);
SELECT aigw.insert_row(ROW(1)::public.rw_elsewhere);
BEGIN READ ONLY;
SELECT pg_temp.child(NULL, 18, 'j', NULL);
ROLLBACK;

DROP FUNCTION pg_temp.child(uuid, int, text, text);
DROP TABLE aigw.rw_child, aigw.rw_parent, public.rw_elsewhere;
DROP FUNCTION aigw.rw_positive(int), aigw.rw_upper();
DROP OWNED BY aigw_rw_reader;
DROP ROLE aigw_rw_reader;

-- aigw.submit_task writes its task row with aigw.insert_row: the columns it
-- leaves NULL take their defaults; an idempotency key used again gives the first task
BEGIN;
SELECT aigw.submit_task('chat.completions', '{"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}]}',
                        '{"user_id": "rw-idem"}', '{"idempotencyKey": "rw-k1"}') AS first \gset
SELECT aigw.submit_task('chat.completions', '{"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}]}',
                        '{"user_id": "rw-idem"}', '{"idempotencyKey": "rw-k1"}') = :'first' AS same_task;
SELECT aigw.submit_task('chat.completions', '{"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}]}',
                        '{"user_id": "rw-idem-2"}', '{"idempotencyKey": "rw-k1"}') <> :'first' AS other_user_other_task;
SELECT user_id, model, priority, max_attempts >= 1 AS attempts, created_at = now() AS created, next_run_at = now() AS due,
       user_group_policy_snapshot, billings->>'phase' AS phase
  FROM aigw.gateway_tasks WHERE idempotency_key = 'rw-k1' ORDER BY user_id;
ROLLBACK;
