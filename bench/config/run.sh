#!/usr/bin/env bash
# Benchmark of the configuration resolver: a 5-level resolution (global, tenant, user group, user,
# API key, plus the type default and a tier) with a warm cache, with a cold result cache, and
# right after an invalidation (snapshot reload); then what the configuration adds to a task
# submission. Uses the cluster of `make run` (.aigw/env) unless
# PG* variables are set. Prints microseconds per resolution.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${PGPORT:-}" ] && [ -f .aigw/env ]; then . .aigw/env; fi
N=${N:-200000}
NCOLD=${NCOLD:-20000}
NRELOAD=${NRELOAD:-2000}
NSUBMIT=${NSUBMIT:-20000}
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

"${PSQL[@]}" <<'SQL'
DELETE FROM aigw.unified_config_store WHERE scope_id LIKE 'bench-%' OR (level_name = 'global' AND version_notes = 'bench');
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value, version_notes) VALUES
  ('rate_limits', 'global', NULL, '{"max_tokens": 5000}', 'bench'),
  ('rate_limits', 'tenant', 'bench-t1', '{"requests_per_minute": 100}', 'bench'),
  ('rate_limits', 'user_group', 'bench-g1', '{"tokens_per_minute": 90000}', 'bench'),
  ('rate_limits', 'user', 'bench-u1', '{"concurrency": 4}', 'bench'),
  ('rate_limits', 'api_key', 'bench-k1', '{"max_tokens": 1000}', 'bench');
-- 20,000 other users and keys, so the store is not trivially small
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value, version_notes)
SELECT 'rate_limits', l, 'bench-' || l || '-' || i, '{"concurrency": 2}', 'bench'
FROM generate_series(1, 10000) i, unnest(ARRAY['user', 'api_key']) l;
ANALYZE aigw.unified_config_store;
SQL

CTX='{"tenant_id": "bench-t1", "user_group_id": "bench-g1", "user_id": "bench-u1", "tier_name": "premium"}'
"${PSQL[@]}" -At <<SQL
\echo 5-level value: 
SELECT aigw.resolve_config('rate_limits', 'api_key', 'bench-k1', '$CTX');
SELECT count(*) AS layers FROM aigw.explain_config('rate_limits', 'api_key', 'bench-k1', '$CTX') WHERE contributed IS NOT NULL;
SQL

"${PSQL[@]}" -At <<SQL
CREATE TEMP TABLE t (what text, micros numeric);
-- executor cost of the loop itself, subtracted below
DO \$\$
DECLARE t0 timestamptz; n int := $N; dummy bigint; ctx jsonb := '$CTX';
BEGIN
  t0 := clock_timestamp();
  SELECT count(x) INTO dummy FROM generate_series(1, n) g, LATERAL (SELECT ctx AS x) s;
  INSERT INTO t VALUES ('loop', extract(epoch FROM clock_timestamp() - t0) * 1e6 / n);

  PERFORM aigw.resolve_config('rate_limits', 'api_key', 'bench-k1', ctx);
  t0 := clock_timestamp();
  SELECT count(aigw.resolve_config('rate_limits', 'api_key', 'bench-k1', s.x)) INTO dummy
  FROM generate_series(1, n) g, LATERAL (SELECT ctx AS x) s;
  INSERT INTO t VALUES ('warm', extract(epoch FROM clock_timestamp() - t0) * 1e6 / n);

  -- a distinct context per call: every call misses the result cache (snapshot stays loaded)
  t0 := clock_timestamp();
  SELECT count(jsonb_set(ctx, '{n}', to_jsonb(g))) INTO dummy FROM generate_series(1, $NCOLD) g;
  INSERT INTO t VALUES ('ctxbuild', extract(epoch FROM clock_timestamp() - t0) * 1e6 / $NCOLD);
  t0 := clock_timestamp();
  SELECT count(aigw.resolve_config('rate_limits', 'api_key', 'bench-k1', jsonb_set(ctx, '{n}', to_jsonb(g)))) INTO dummy
  FROM generate_series(1, $NCOLD) g;
  INSERT INTO t VALUES ('cold', extract(epoch FROM clock_timestamp() - t0) * 1e6 / $NCOLD);
END
\$\$;
SELECT format('warm cache           : %s us per 5-level resolution (%s us with the SQL loop)',
              round((SELECT micros FROM t WHERE what = 'warm') - (SELECT micros FROM t WHERE what = 'loop'), 2),
              round((SELECT micros FROM t WHERE what = 'warm'), 2));
SELECT format('cold result cache    : %s us per 5-level resolution (%s us with the SQL loop)',
              round((SELECT micros FROM t WHERE what = 'cold') - (SELECT micros FROM t WHERE what = 'ctxbuild'), 2),
              round((SELECT micros FROM t WHERE what = 'cold'), 2));
SQL

# After an invalidation: each iteration commits a change to a configuration table (which every
# backend must see) and then resolves once; only the resolution is timed. A change to the store
# drops cached results; a change to levels, types, rules or tiers also reloads the snapshot.
"${PSQL[@]}" -At <<SQL
CREATE TEMP TABLE t (what text, micros numeric);
CREATE PROCEDURE pg_temp.bench_reload(n int, what text) LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz; total interval := '0'; ctx jsonb := '$CTX';
BEGIN
  FOR i IN 1..n LOOP
    IF what = 'store' THEN
      UPDATE aigw.unified_config_store SET version_notes = 'bench' WHERE scope_id = 'bench-u1';
    ELSE
      UPDATE aigw.tier_definitions SET updated_at = updated_at WHERE tier_name = 'free';
    END IF;
    COMMIT;
    t0 := clock_timestamp();
    PERFORM aigw.resolve_config('rate_limits', 'api_key', 'bench-k1', ctx);
    total := total + (clock_timestamp() - t0);
  END LOOP;
  INSERT INTO t VALUES (what, extract(epoch FROM total) * 1e6 / n);
  COMMIT;
END \$\$;
CALL pg_temp.bench_reload($NRELOAD, 'store');
CALL pg_temp.bench_reload($NRELOAD, 'meta');
SELECT format('after a store change : %s us per 5-level resolution (results dropped, store query)',
              round((SELECT micros FROM t WHERE what = 'store'), 2));
SELECT format('after a rule change  : %s us per 5-level resolution (snapshot reload + store query)',
              round((SELECT micros FROM t WHERE what = 'meta'), 2));
SQL

# What the configuration adds to a task submission (aigw.submit_gateway_config, called by
# aigw.submit_task): access_control, feature_flags, gateway_routing and rate_limits of the
# caller, warm; then with a routing config header (validation and the plan).
"${PSQL[@]}" -At <<SQL
CREATE TEMP TABLE t (what text, micros numeric);
DO \$\$
DECLARE t0 timestamptz; n int := $NSUBMIT; d jsonb;
  ident jsonb := '{"user_id": "bench-u1", "tenant_id": "bench-t1", "user_group_id": "bench-g1", "api_key_id": "bench-k1"}';
  req jsonb := '{"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}]}';
  hdr jsonb := jsonb_build_object('routingConfig', '{"strategy": {"mode": "fallback"}, "targets": [{"platform": "simulation"}, {"provider": "openai"}]}');
BEGIN
  PERFORM aigw.submit_gateway_config('chat.completions', req, ident, '{}');
  t0 := clock_timestamp();
  FOR i IN 1..n LOOP d := aigw.submit_gateway_config('chat.completions', req, ident, '{}'); END LOOP;
  INSERT INTO t VALUES ('plain', extract(epoch FROM clock_timestamp() - t0) * 1e6 / n);
  t0 := clock_timestamp();
  FOR i IN 1..n LOOP d := aigw.submit_gateway_config('chat.completions', req, ident, hdr); END LOOP;
  INSERT INTO t VALUES ('header', extract(epoch FROM clock_timestamp() - t0) * 1e6 / n);
END
\$\$;
SELECT format('submit, no routing config : %s us per task (4 config types of a 5-level identity, warm)',
              round((SELECT micros FROM t WHERE what = 'plain'), 2));
SELECT format('submit, x-portkey-config  : %s us per task (validation and plan included)',
              round((SELECT micros FROM t WHERE what = 'header'), 2));
SQL

"${PSQL[@]}" -c "DELETE FROM aigw.unified_config_store WHERE scope_id LIKE 'bench-%' OR (level_name = 'global' AND version_notes = 'bench')"
