#!/usr/bin/env bash
# Instruction-level profile of aigw's per-request SQL path with valgrind's
# callgrind, for machines where perf has no hardware counters. Runs on the
# benchmark cluster left by `BENCH_KEEP=1 bench/run.sh` (it stops that cluster):
# a single-user PostgreSQL backend under callgrind submits N chat requests
# through aigw.http_request (authentication, routing, pricing, wallet hold, task
# insert), leases them with aigw.lease_tasks and records a successful provider
# answer for each with aigw.finish_attempt (settlement) — the statements the
# front's pool connection and a task worker run per request, minus the network.
#   bench/compare/callgrind.sh [N]   (default 200)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../scripts/lib.sh"
aigw_resolve_runuser
aigw_resolve_statedir
B="$AIGW_STATE/bench"
[ -f "$B/env" ] || fail "no benchmark set-up: run BENCH_KEEP=1 bench/run.sh first"
. "$B/env"
N=${1:-200}
command -v valgrind >/dev/null || fail "valgrind is needed (apt-get install valgrind)"
if [ -f "$B/pids" ]; then while read -r p; do kill -TERM "$p" 2>/dev/null || true; done < "$B/pids"; rm -f "$B/pids"; fi
[ -f "$PGDATA/postmaster.pid" ] && as_runuser "$PG_BINDIR/pg_ctl" -D "$PGDATA" -w -m fast stop >/dev/null
KEY=$(head -n 1 "$KEYS")
FIXED=$(tr -d '\n' < "$HERE/fixed.json")
SQL="$B/callgrind.sql"
{
  # single-user mode with -j: a statement ends with a semicolon and an empty line;
  # one profile dump per statement, the first one (start-up) is left out
  echo "SELECT 1;"
  echo
  echo "SELECT count(*) FROM (SELECT aigw.http_request('POST', '/v1/chat/completions', '{\"authorization\": \"Bearer $KEY\", \"content-type\": \"application/json\"}', '{}', '{\"model\":\"bench-fast\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"Say hello.\"}]}', 'callgrind') FROM generate_series(1, $N)) s;"
  echo
  echo "CREATE TEMP TABLE leased AS SELECT aigw.lease_tasks('callgrind', $N) AS l;"
  echo
  echo "SELECT count(*) FROM leased, LATERAL aigw.finish_attempt((l->>'attempt_id')::uuid, jsonb_build_object('ok', true, 'result', '$FIXED'::jsonb, 'usage', '$FIXED'::jsonb->'usage')) f;"
  echo
  echo "SELECT status, count(*) FROM aigw.gateway_tasks WHERE id IN (SELECT (l->>'task_id')::uuid FROM leased) GROUP BY 1;"
  echo
} > "$SQL"
chmod a+r "$SQL"
OUT="$B/callgrind/out"
rm -rf "$B/callgrind"; mkdir -p "$B/callgrind"; chown "$AIGW_RUNUSER" "$B/callgrind" 2>/dev/null || true
say "running $N requests' SQL under callgrind (slow)"
as_runuser valgrind --tool=callgrind --callgrind-out-file="$OUT" --dump-instr=no --trace-children=no --dump-after=exec_simple_query \
  "$PG_BINDIR/postgres" --single -j -D "$PGDATA" -c log_min_messages=warning aigw < "$SQL" > "$B/callgrind.log" 2>&1 \
  || { tail -n 20 "$B/callgrind.log"; fail "callgrind run failed"; }
grep -E 'ERROR|count = |status = ' "$B/callgrind.log" | head -12
total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'; }
echo "== instructions per request (one dump per statement)"
i=0
DUMPS=$(cd "$B/callgrind" && ls out.* | sort -t. -k2 -n | sed "s|^|$B/callgrind/|")
for f in $DUMPS; do
  i=$((i + 1))
  case $i in 2) what="submit (aigw.http_request)";; 3) what="lease (aigw.lease_tasks)";; 4) what="finish (aigw.finish_attempt + settlement)";; *) continue;; esac
  awk -v w="$what" -v t="$(total "$f")" -v n="$N" 'BEGIN { printf "%-45s %6.2f M instructions per request\n", w, t / n / 1e6 }' 
done
# Per phase: the inclusive share of a few costs worth naming, then the hottest functions (inclusive).
KNOWN='HeapTupleGetUpdateXid|GetMultiXactIdMembers|heap_hot_search_buffer|ExecConstraints|stringToNode|GetCachedPlan|BuildCachedPlan|pglz_compress|XLogInsert|jsonb_in|JsonbValueToJsonb|pg_parse_query|BeginInternalSubTransaction|AtEOSubXact|exec_stmt_block'
i=0
for f in $DUMPS; do
  i=$((i + 1))
  case $i in 2) what="submit";; 3) what="lease";; 4) what="finish";; *) continue;; esac
  echo "== $what: inclusive share of named costs"
  callgrind_annotate --inclusive=yes "$f" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | grep -v "'" | grep -E ":($KNOWN) " \
    | sed -E 's/ \[[^]]*\]$//; s/\?\?\?://' | head -12
  echo "== $what: hottest functions, inclusive"
  callgrind_annotate --inclusive=yes "$f" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | grep -v "'" \
    | sed -E 's/ \[[^]]*\]$//; s/\?\?\?://' | grep -vE 'libc|main|Postgres|exec_simple_query|Portal|ExecutorRun|ExecProcNode|ExecAgg|fetch_input|ExecFunctionScan|ExecScan|ExecInterpExpr$|fmgr_security|plpgsql_|exec_toplevel|exec_stmts|exec_assign|exec_eval|exec_stmt_block|0x0' | head -25
done
