#!/usr/bin/env bash
# Where aigw's time goes at 32 connections, on a set-up left running by
#   BENCH_KEEP=1 BENCH_ONLY=lat1 BENCH_ROUNDS=1 bench/run.sh
# Prints, for one wrk run of SECONDS (default 10) against the fixed-answer mock:
#   1. CPU per request of aigw-http, the PostgreSQL backends and the aigw workers;
#   2. the SQL functions by self time per request (track_functions = all, set for
#      the run and reset after);
#   3. the size of the hot runtime_client_states table;
#   4. with perf (cpu-clock sampling; hardware counters are not needed), the
#      hottest C functions of the task workers.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../scripts/lib.sh"
aigw_resolve_runuser
aigw_resolve_statedir
B="$AIGW_STATE/bench"
[ -f "$B/env" ] || fail "no benchmark set-up: run BENCH_KEEP=1 bench/run.sh first"
. "$B/env"
SECS=${1:-10}
psqlb() { as_runuser "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PGPORT" -U postgres -d aigw "$@"; }
cpu() { node "$HERE/memwatch.mjs" cpu "$FRONT_PID" "$PORTKEY_PID" "$PM_PID"; }
BODY='{"model":"bench-fast","max_tokens":16,"messages":[{"role":"user","content":"Say hello."}]}'

psqlb -c "ALTER SYSTEM SET track_functions = 'all'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
psqlb -c "SELECT pg_stat_reset()" >/dev/null
tasks0=$(psqlb -Atc "SELECT count(*) FROM aigw.gateway_tasks")
c0=$(cpu)
WORKERS=$(psqlb -Atc "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE backend_type = 'aigw task worker'")
PERF=""
if command -v perf >/dev/null && perf record -e cpu-clock -o /dev/null -- true >/dev/null 2>&1; then
  perf record -e cpu-clock -F 499 --call-graph dwarf,16384 -p "$WORKERS" -o "$B/perf-workers.data" -- sleep "$((SECS - 2))" >/dev/null 2>&1 &
  PERF=$!
fi
BENCH_BODY=$BODY BENCH_KEYS=$KEYS wrk -t2 -c32 -d"${SECS}s" -s "$HERE/post.lua" "$AIGW_URL/v1/chat/completions" | grep RESULT
c1=$(cpu)
[ -n "$PERF" ] && wait "$PERF" || true
sleep 2
tasks=$(( $(psqlb -Atc "SELECT count(*) FROM aigw.gateway_tasks") - tasks0 ))
echo "== $tasks tasks; CPU ms per request by process group"
node -e "const a=$c0, b=$c1; for (const g of Object.keys(b)) if (g !== 'portkey') console.log(g.padEnd(12), ((b[g]-(a[g]||0))*10/$tasks).toFixed(2))"
echo "== SQL functions by self time (ms per request; wall time, includes waiting for a CPU)"
psqlb -c "SELECT funcname, calls, round((self_time / $tasks)::numeric, 3) AS self_ms_per_request,
                 round((total_time / $tasks)::numeric, 3) AS total_ms_per_request
            FROM pg_stat_user_functions WHERE funcname <> 'channel_wait' ORDER BY self_time DESC LIMIT 15"
psqlb -c "ALTER SYSTEM RESET track_functions" -c "SELECT pg_reload_conf()" >/dev/null
echo "== the hot row: runtime_client_states (one row per platform model in use)"
psqlb -c "SELECT n_live_tup, n_tup_upd, n_tup_hot_upd, pg_relation_size('aigw.runtime_client_states') / 8192 AS pages,
                 last_autovacuum FROM pg_stat_user_tables WHERE relname = 'runtime_client_states'"
if [ -n "$PERF" ]; then
  echo "== task workers: hottest C functions (perf, cpu-clock)"
  perf report -i "$B/perf-workers.data" --no-children --sort sym -g none --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -15
  echo "== callers of the hottest one"
  top=$(perf report -i "$B/perf-workers.data" --no-children --sort sym -g none --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -1 | awk '{print $NF}')
  perf report -i "$B/perf-workers.data" --no-children --sort sym -G --stdio --symbol-filter="$top" 2>/dev/null \
    | grep -v '^#' | grep -E '%|Exec|heap_|Satisf|plpgsql|SPI|fmgr_sql|Index|_bt|Lock' | head -40
fi
