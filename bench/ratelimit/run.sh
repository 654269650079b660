#!/usr/bin/env bash
# Rate-limit admission benchmark: starts a private PostgreSQL 18 with aigw,
# then measures 5-scope admissions (1) in C, (2) per SQL call inside the
# server, (3) through pgbench with 2 clients, one admission per statement and
# 100 per statement, and samples aigw.rate_limit_windows while the load runs.
# AIGW_BENCH_SECONDS (default 10) sets each pgbench run's length.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

SECS=${AIGW_BENCH_SECONDS:-10}
aigw_resolve_pg
aigw_resolve_runuser
aigw_resolve_statedir
aigw_build_stage

D="$AIGW_STATE/bench-ratelimit"
rm -rf "$D"; mkdir -p "$D"
[ "$(id -u)" -eq 0 ] && chown "$AIGW_RUNUSER" "$D"
PORT=$(aigw_free_port $((58500 + ${AIGW_PORT_OFFSET:-0})))
as_runuser "$PG_BINDIR/initdb" -D "$D/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
{
  aigw_conf_lines
  echo "aigw.database = 'postgres'"
  echo "port = $PORT"
  echo "listen_addresses = ''"
  echo "unix_socket_directories = '$D'"
  echo "max_connections = 50"
  echo "track_functions = 'all'"
} | as_runuser tee -a "$D/data/postgresql.conf" >/dev/null
as_runuser "$PG_BINDIR/pg_ctl" -D "$D/data" -l "$D/server.log" -w start >/dev/null
trap 'as_runuser "$PG_BINDIR/pg_ctl" -D "$D/data" -m fast -w stop >/dev/null' EXIT
q() { as_runuser "$PG_BINDIR/psql" -X -q -At -h "$D" -p "$PORT" -U postgres -d postgres "$@"; }
q -c 'CREATE EXTENSION aigw CASCADE'

REQS='[{"scopeType":"provider","scopeKey":"load-openai","metric":"rpm","limit":1000000000},
       {"scopeType":"platform","scopeKey":"load-platform","metric":"rpm","limit":1000000000},
       {"scopeType":"tenant","scopeKey":"load-tenant","metric":"tpm_total","limit":1000000000000,"amount":1500},
       {"scopeType":"user","scopeKey":"load-user","metric":"rpm","limit":1000000000},
       {"scopeType":"api_key","scopeKey":"load-key","metric":"tpm_input","limit":1000000000000,"amount":1000}]'
echo "SELECT aigw.ratelimit_admit('$REQS');" | tr -d '\n' > "$D/admit1.sql"
echo "SELECT count(*) FROM generate_series(1, 100) g, LATERAL aigw.ratelimit_admit('$REQS') a WHERE (a->>'admitted')::boolean;" | tr -d '\n' > "$D/admit100.sql"
echo "SELECT 1;" > "$D/select1.sql"
[ "$(id -u)" -eq 0 ] && chown "$AIGW_RUNUSER" "$D"/*.sql

echo "== aigw rate-limit admission, 5 scopes per admission ($(nproc) cores)"

# (1) in C: one backend, then two at once
c1=$(q -c "SELECT round(aigw.ratelimit_bench(1000000, 5)::numeric, 3)")
printf 'C loop, 1 backend:            %8s us/admission  %10.0f admissions/s\n' "$c1" "$(echo "1000000 / $c1" | bc -l)"
q -c "SELECT aigw.ratelimit_bench(1000000, 5)" > "$D/c2a" & q -c "SELECT aigw.ratelimit_bench(1000000, 5)" > "$D/c2b"; wait
a=$(cat "$D/c2a"); b=$(cat "$D/c2b")
printf 'C loop, 2 backends:           %8.3f us/admission  %10.0f admissions/s total\n' \
  "$(echo "($a + $b) / 2" | bc -l)" "$(echo "1000000 / $a + 1000000 / $b" | bc -l)"

# (2) one SQL call per admission, inside the server (jsonb in, jsonb out)
s=$(q -c "DO \$\$ DECLARE t0 timestamptz := clock_timestamp(); r jsonb; BEGIN
  FOR i IN 1..100000 LOOP r := aigw.ratelimit_admit('$REQS'); END LOOP;
  RAISE NOTICE '%', round((extract(epoch FROM clock_timestamp() - t0) * 1e6 / 100000)::numeric, 2); END \$\$" 2>&1 | sed 's/.*NOTICE: *//')
printf 'SQL call in server:           %8s us/call\n' "$s"

# (3) pgbench, 2 clients: one admission per statement, then 100 per statement,
# sampling the console view while the load runs.  Round trips on a shared
# machine are noisy; the server time per call comes from track_functions.
pgb() { as_runuser "$PG_BINDIR/pgbench" -n -M prepared -h "$D" -p "$PORT" -U postgres -c 2 -j 2 -T "$SECS" -f "$1" postgres 2>&1; }
out=$(pgb "$D/select1.sql")
base=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
printf 'pgbench -c 2, SELECT 1:       %8.1f us/call (round trip, baseline)\n' "$(echo "$base * 1000" | bc -l)"
q -c "SELECT pg_stat_reset()" >/dev/null
out=$(pgb "$D/admit1.sql")
fn=$(q -c "SELECT round((total_time * 1000 / calls)::numeric, 2) FROM pg_stat_user_functions WHERE funcname = 'ratelimit_admit'")
tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p'); lat=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
printf 'pgbench -c 2, 1 per call:     %8.1f us/call (round trip; %.1f us over SELECT 1)  %10.0f admissions/s\n' \
  "$(echo "$lat * 1000" | bc -l)" "$(echo "($lat - $base) * 1000" | bc -l)" "$tps"
printf '  server time in aigw.ratelimit_admit (track_functions): %s us/call\n' "$fn"
( sleep $((SECS / 2)); q -c "SELECT scope_type, scope_key, metric, used, reserved, limit_value FROM aigw.rate_limit_windows WHERE scope_key LIKE 'load-%' ORDER BY 1" > "$D/live" ) &
out=$(pgb "$D/admit100.sql")
wait
tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p'); lat=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
printf 'pgbench -c 2, 100 per call:   %8.1f us/admission          %10.0f admissions/s\n' "$(echo "$lat * 1000 / 100" | bc -l)" "$(echo "$tps * 100" | bc -l)"
echo "aigw.rate_limit_windows during the 100-per-call run (scope|key|metric|used|reserved|limit):"
sed 's/^/  /' "$D/live"
