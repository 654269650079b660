#!/usr/bin/env bash
# Instruction-level profile of aigw's per-request SQL path with valgrind's
# callgrind, for machines where perf has no hardware counters. Runs on the
# benchmark cluster left by `BENCH_KEEP=1 bench/run.sh` (it stops that cluster):
# a single-user PostgreSQL backend under callgrind submits N chat requests
# through aigw.http_request (authentication, routing, pricing, wallet hold, task
# insert), leases them with aigw.lease_tasks and records a successful provider
# answer for each with aigw.finish_attempt (settlement) — the statements the
# front's pool connection and a task worker run per request, minus the network.
#   bench/compare/callgrind.sh [N]   (default 100)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../scripts/lib.sh"
aigw_resolve_runuser
aigw_resolve_statedir
B="$AIGW_STATE/bench"
[ -f "$B/env" ] || fail "no benchmark set-up: run BENCH_KEEP=1 bench/run.sh first"
. "$B/env"
N=${1:-100}
command -v valgrind >/dev/null || fail "valgrind is needed (apt-get install valgrind)"
if [ -f "$B/pids" ]; then while read -r p; do kill -TERM "$p" 2>/dev/null || true; done < "$B/pids"; rm -f "$B/pids"; fi
[ -f "$PGDATA/postmaster.pid" ] && as_runuser "$PG_BINDIR/pg_ctl" -D "$PGDATA" -w -m fast stop >/dev/null
KEY=$(head -n 1 "$KEYS")
FIXED=$(tr -d '\n' < "$HERE/fixed.json")
SQL="$B/callgrind.sql"
{
  echo "SELECT count(*) FROM (SELECT aigw.http_request('POST', '/v1/chat/completions', '{\"authorization\": \"Bearer $KEY\", \"content-type\": \"application/json\"}', '{}', '{\"model\":\"bench-fast\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"Say hello.\"}]}', 'callgrind') FROM generate_series(1, $N)) s;"
  echo "CREATE TEMP TABLE leased AS SELECT aigw.lease_tasks('callgrind', $N) AS l;"
  echo "SELECT count(aigw.finish_attempt((l->>'attempt_id')::uuid, jsonb_build_object('ok', true, 'result', '$FIXED'::jsonb, 'usage', '$FIXED'::jsonb->'usage'))) FROM leased;"
  echo "SELECT status, count(*) FROM aigw.gateway_tasks WHERE id IN (SELECT (l->>'task_id')::uuid FROM leased) GROUP BY 1;"
} > "$SQL"
chmod a+r "$SQL"
OUT="$B/callgrind.out"
rm -f "$OUT"; touch "$OUT"; chown "$AIGW_RUNUSER" "$OUT" 2>/dev/null || true
say "running $N requests' SQL under callgrind (slow)"
as_runuser valgrind --tool=callgrind --callgrind-out-file="$OUT" --dump-instr=no --trace-children=no \
  "$PG_BINDIR/postgres" --single -j -D "$PGDATA" -c log_min_messages=warning aigw < "$SQL" > "$B/callgrind.log" 2>&1 \
  || { tail -n 20 "$B/callgrind.log"; fail "callgrind run failed"; }
grep -E 'status|count|succeeded|^ *[0-9]' "$B/callgrind.log" | grep -v '^==' | head -12
echo "== instructions: total and per request"
callgrind_annotate "$OUT" 2>/dev/null | awk -v n="$N" '/PROGRAM TOTALS/ {gsub(",", "", $1); printf "%s total, %.1f M per request\n", $1, $1 / n / 1e6}'
echo "== by function, inclusive (share of all instructions)"
callgrind_annotate --inclusive=yes "$OUT" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | head -40
echo "== by function, self"
callgrind_annotate "$OUT" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | head -25
