-- Rate-limit admission: all or nothing across scopes, refusals, reconcile,
-- release, undo on abort, concurrency leases, flush and the windows view.
-- Windows of 31 days keep the test away from window boundaries.
BEGIN;

CREATE TEMP TABLE adm (name text PRIMARY KEY, r jsonb);
CREATE FUNCTION pg_temp.reqs(rpm_limit int, tpm_limit int, tokens int) RETURNS jsonb
LANGUAGE sql AS $$
  SELECT jsonb_build_array(
    jsonb_build_object('scopeType', 'provider', 'scopeKey', 'rt-prov', 'metric', 'rpm',
                       'limit', rpm_limit, 'windowSeconds', 2678400),
    jsonb_build_object('scopeType', 'tenant', 'scopeKey', 'rt-ten', 'metric', 'tpm_total',
                       'limit', tpm_limit, 'windowSeconds', 2678400, 'amount', tokens))
$$;
-- leases belong to tasks
INSERT INTO aigw.gateway_tasks (id, kind, user_id, model, request, queue_key)
SELECT ('00000000-0000-0000-0000-0000000000' || x)::uuid, 'chat', 'rt-user', 'rt-model', '{}', 'rt-queue'
FROM unnest(ARRAY['a1', 'a2', 'a3', 'c1']) x;
CREATE FUNCTION pg_temp.win(key text) RETURNS TABLE (metric text, used bigint, reserved bigint, limit_value bigint)
LANGUAGE sql AS $$
  SELECT metric, used, reserved, limit_value FROM aigw.rate_limit_windows
  WHERE scope_key = key ORDER BY metric
$$;

-- two admissions fit, the third is refused by the provider's rpm
INSERT INTO adm VALUES ('a1', aigw.ratelimit_admit(pg_temp.reqs(2, 1000, 300)));
INSERT INTO adm VALUES ('a2', aigw.ratelimit_admit(pg_temp.reqs(2, 1000, 300)));
SELECT name, r->'admitted' AS admitted,
       jsonb_path_query_array(r, '$.grants[*] ? (@.windowSeconds == 2678400).metric') AS metrics,
       jsonb_path_query_array(r, '$.grants[*].reserve') AS reserve
FROM adm ORDER BY name;
SELECT r - 'retryAfterSeconds' AS refusal, (r->>'retryAfterSeconds')::int > 0 AS retry_later
FROM aigw.ratelimit_admit(pg_temp.reqs(2, 1000, 300)) r;
SELECT * FROM pg_temp.win('rt-prov');
-- the refusal charged nothing anywhere: tenant still holds 600 reserved
SELECT * FROM pg_temp.win('rt-ten');

-- the tenant's tokens refuse next; the provider's rpm is untouched
SELECT r->'admitted', r->'refusedScope', r->'reason', r->'used'
FROM aigw.ratelimit_admit(pg_temp.reqs(10, 1000, 500)) r;
SELECT * FROM pg_temp.win('rt-prov');

-- more than the limit can ever hold: never admissible
SELECT r->'admitted', r->'reason', r->'retryAfterSeconds'
FROM aigw.ratelimit_admit(pg_temp.reqs(10, 1000, 5000)) r;
-- the HTTP answers: 429 with Retry-After when a retry can pass
SELECT x->'status' AS status, x->'headers' ? 'Retry-After' AS retry_after, x->'body'->'error'->>'code' AS code,
       regexp_replace(x->'body'->'error'->>'message', '\d+ s\.', 'N s.') AS message
FROM (VALUES (aigw.ratelimit_refusal_response(aigw.ratelimit_admit(pg_temp.reqs(2, 1000, 1)))),
             (aigw.ratelimit_refusal_response(aigw.ratelimit_admit(pg_temp.reqs(10, 1000, 5000))))) v(x);

-- queue gauges: admitted with the rest, set from a recount
SELECT r->'admitted' FROM aigw.ratelimit_admit('[{"scopeType":"queue","scopeKey":"rt-q","metric":"queue_size","limit":2,"amount":2}]') r;
SELECT r->'reason' FROM aigw.ratelimit_admit('[{"scopeType":"queue","scopeKey":"rt-q","metric":"queue_size","limit":2}]') r;
SELECT aigw.ratelimit_set_gauge('queue', 'rt-q', 1);
SELECT r->'admitted' FROM aigw.ratelimit_admit('[{"scopeType":"queue","scopeKey":"rt-q","metric":"queue_size","limit":2}]') r;
SELECT * FROM pg_temp.win('rt-q');

-- reconcile: a1 really used 120 tokens, a2 reports unified usage
SELECT aigw.ratelimit_reconcile(r, '{"tpm_total": 120}') FROM adm WHERE name = 'a1';
SELECT aigw.ratelimit_reconcile(r, '{"prompt_tokens": 100, "completion_tokens": 50}') FROM adm WHERE name = 'a2';
SELECT * FROM pg_temp.win('rt-ten');

-- release waits for the commit of its (sub)transaction
SAVEPOINT s1;
INSERT INTO adm VALUES ('a3', aigw.ratelimit_admit(pg_temp.reqs(10, 1000, 400)));
SELECT * FROM pg_temp.win('rt-ten');
SELECT aigw.ratelimit_release(r) FROM adm WHERE name = 'a3';
SELECT * FROM pg_temp.win('rt-ten');
RELEASE SAVEPOINT s1;
SELECT * FROM pg_temp.win('rt-ten');

-- an aborted subtransaction gives back what it admitted
SAVEPOINT s2;
SELECT r->'admitted' FROM aigw.ratelimit_admit(pg_temp.reqs(10, 1000, 300)) r;
SELECT * FROM pg_temp.win('rt-ten');
ROLLBACK TO SAVEPOINT s2;
SELECT * FROM pg_temp.win('rt-ten');

-- headroom: the tenant holds 670 of 1000; asking 30 more leaves 0.3
SELECT round(aigw.ratelimit_headroom(pg_temp.reqs(10, 1000, 30))::numeric, 3) AS headroom;
SELECT aigw.ratelimit_headroom('[{"scopeType":"client","scopeKey":"rt-untouched","metric":"rpm","limit":5,"amount":0}]') AS fresh;

-- the same counter named twice counts twice
SELECT r->'admitted', r->'used'
FROM aigw.ratelimit_admit('[{"scopeType":"user","scopeKey":"rt-u","metric":"rpm","limit":3,"amount":2,"windowSeconds":2678400},
                            {"scopeType":"user","scopeKey":"rt-u","metric":"rpm","limit":3,"amount":2,"windowSeconds":2678400}]') r;

-- concurrency: two leases of limit 2, the third is refused; rows are written
SELECT r->'admitted' FROM aigw.concurrency_acquire('00000000-0000-0000-0000-0000000000a1',
  '[{"scopeType":"client","scopeKey":"rt-cli","limit":2},{"scopeType":"platform","scopeKey":"rt-pl","limit":10}]') r;
SELECT r->'admitted' FROM aigw.concurrency_acquire('00000000-0000-0000-0000-0000000000a2',
  '[{"scopeType":"client","scopeKey":"rt-cli","limit":2},{"scopeType":"platform","scopeKey":"rt-pl","limit":10}]', 1) r;
SELECT r->'admitted', r->'reason', r->'retryAfterSeconds', r->'refusedScope'
FROM aigw.concurrency_acquire('00000000-0000-0000-0000-0000000000a3',
  '[{"scopeType":"platform","scopeKey":"rt-pl","limit":10},{"scopeType":"client","scopeKey":"rt-cli","limit":2}]') r;
SELECT task_id, scope_type, scope_key, lease_value, expires_at - acquired_at AS ttl, released_at IS NULL AS active
FROM aigw.gateway_concurrency_leases WHERE scope_key LIKE 'rt-%' ORDER BY task_id, scope_type;
SELECT * FROM pg_temp.win('rt-cli');
SELECT * FROM pg_temp.win('rt-pl');
-- the 1-second lease expires and the reaper's call releases it
SELECT pg_sleep(1.2);
SELECT aigw.ratelimit_release_expired();
SELECT aigw.concurrency_release('00000000-0000-0000-0000-0000000000a1');
SELECT aigw.concurrency_release('00000000-0000-0000-0000-0000000000a1');
SELECT task_id, scope_type, released_at IS NULL AS active
FROM aigw.gateway_concurrency_leases WHERE scope_key LIKE 'rt-%' ORDER BY task_id, scope_type;
-- gauges drop when this transaction commits (below)

-- flush writes every changed window (maintain also releases expired leases: none left)
SELECT (m->>'flushedWindows')::int >= 3 AS flushed, m->'expiredLeases' AS expired
FROM aigw.ratelimit_maintain() m;
SELECT scope_type, scope_key, metric, limit_value, used_value, reserved_value,
       reset_at - window_start AS window_length
FROM aigw.gateway_rate_limit_counters WHERE scope_key LIKE 'rt-%' ORDER BY 1, 2, 3;
COMMIT;

SELECT * FROM pg_temp.win('rt-cli');
SELECT * FROM pg_temp.win('rt-pl');

-- deleting a task (the retention purge) gives back its unreleased leases at commit
SELECT r->'admitted' FROM aigw.concurrency_acquire('00000000-0000-0000-0000-0000000000c1',
  '[{"scopeType":"client","scopeKey":"rt-cli","limit":2}]') r;
SELECT * FROM pg_temp.win('rt-cli');
BEGIN;
DELETE FROM aigw.gateway_tasks WHERE id = '00000000-0000-0000-0000-0000000000c1';
SELECT * FROM pg_temp.win('rt-cli');
COMMIT;
SELECT * FROM pg_temp.win('rt-cli');
-- a release whose transaction aborts releases nothing
SELECT r->'admitted' FROM aigw.concurrency_acquire('00000000-0000-0000-0000-0000000000a3',
  '[{"scopeType":"client","scopeKey":"rt-cli","limit":2}]') r;
BEGIN;
SELECT aigw.concurrency_release('00000000-0000-0000-0000-0000000000a3');
ROLLBACK;
SELECT * FROM pg_temp.win('rt-cli');
SELECT count(*) AS unreleased FROM aigw.gateway_concurrency_leases
WHERE task_id = '00000000-0000-0000-0000-0000000000a3' AND released_at IS NULL;
SELECT aigw.concurrency_release('00000000-0000-0000-0000-0000000000a3');
SELECT * FROM pg_temp.win('rt-cli');
-- a lease for a task that does not exist is refused and leaves nothing behind
\set VERBOSITY terse
SELECT aigw.concurrency_acquire('00000000-0000-0000-0000-0000000000ff', '[{"scopeType":"client","scopeKey":"rt-cli","limit":2}]');
\set VERBOSITY default
SELECT * FROM pg_temp.win('rt-cli');

-- clean up
DELETE FROM aigw.gateway_tasks WHERE user_id = 'rt-user';
DELETE FROM aigw.gateway_rate_limit_counters WHERE scope_key LIKE 'rt-%';
SELECT aigw.ratelimit_set_gauge('queue', 'rt-q', 0);
SELECT count(*) AS leases_left FROM aigw.gateway_concurrency_leases;

-- bad input
\set VERBOSITY terse
SELECT aigw.ratelimit_admit('{}');
SELECT aigw.ratelimit_admit('[1]');
SELECT aigw.ratelimit_admit('[{"scopeType":"planet","scopeKey":"x","metric":"rpm","limit":1}]');
SELECT aigw.ratelimit_admit('[{"scopeType":"user","metric":"rpm","limit":1}]');
SELECT aigw.ratelimit_admit('[{"scopeType":"user","scopeKey":"x","metric":"rph","limit":1}]');
SELECT aigw.ratelimit_admit('[{"scopeType":"user","scopeKey":"x","metric":"rpm"}]');
SELECT aigw.ratelimit_admit('[{"scopeType":"user","scopeKey":"x","metric":"rpm","limit":1.5}]');
SELECT aigw.ratelimit_admit('[{"scopeType":"user","scopeKey":"x","metric":"rpm","limit":-1}]');
SELECT aigw.ratelimit_admit('[{"scopeType":"user","scopeKey":"x","metric":"rpm","limit":1,"windowSeconds":0}]');
SELECT aigw.ratelimit_admit('[{"scopeType":"user","scopeKey":"x","metric":"rpm","limit":1,"windowSeconds":4294967356}]');
SELECT aigw.ratelimit_admit('[{"scopeType":"user","scopeKey":"","metric":"rpm","limit":1}]');
SELECT aigw.ratelimit_admit(jsonb_build_array(jsonb_build_object('scopeType','user','scopeKey',repeat('k',120),'metric','rpm','limit',1)));
SELECT aigw.ratelimit_admit('[{"scopeType":"user","scopeKey":"x","metric":"concurrent","limit":1}]');
SELECT aigw.ratelimit_admit(NULL);
SELECT aigw.concurrency_acquire(NULL, '[]');
SELECT aigw.concurrency_acquire(gen_random_uuid(), '{}');
SELECT aigw.ratelimit_reconcile('[]', '[]');
SELECT aigw.ratelimit_release('{"admitted": false}');
SELECT aigw.ratelimit_release('{"grants": [{"scopeType":"user","scopeKey":"x","metric":"rpm","limit":1}]}');
SELECT aigw.ratelimit_bench(0);
SELECT aigw.ratelimit_set_gauge('queue', 'rt-q', -1);
SELECT aigw.ratelimit_refusal_response('{"admitted": true}');
-- nothing was left behind by the errors
SELECT count(*) FROM aigw.rate_limit_windows WHERE scope_key = 'x' AND used > 0;

-- the C fast path runs 5-scope admissions in microseconds
BEGIN;
SELECT aigw.ratelimit_bench(2000, 5) < 50 AS fast;
ROLLBACK;
SELECT count(*) FROM aigw.rate_limit_windows WHERE scope_key LIKE 'bench-%' AND used + reserved > 0;
