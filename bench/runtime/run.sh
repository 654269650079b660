#!/usr/bin/env bash
# Runtime benchmark: submit a chat task from SQL and wait for its result
# (aigw.submit_task + aigw.await_task, bench/runtime/submit_await.sql) against
# a zero-latency simulation platform, on a fresh cluster of the release build of
# PostgreSQL 18. Prints, per client count, the submit-to-result latency, tasks
# per second, and the CPU the whole cluster used per task (postmaster, reaped
# backends and every live process, from /proc; this machine's ticks are 10 ms).
#
# With batching (bench/runtime/submit_batch_await.sql): each client submits
# BENCH_BATCH tasks in one statement, then waits for all of them in one.
#
# Environment: BENCH_SECONDS (default 10), BENCH_CLIENTS (default "1 16"),
# BENCH_BATCH (default 50; 0 skips the batched runs), BENCH_BATCH_CLIENTS
# (default 4), BENCH_AIGW_WORKERS (default 2), AIGW_PORT_OFFSET.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../scripts/lib.sh"

SECS=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-"1 16"}
BATCH=${BENCH_BATCH:-50}
BATCH_CLIENTS=${BENCH_BATCH_CLIENTS:-4}
OFF=${AIGW_PORT_OFFSET:-0}

PG_CONFIG=$(AIGW_PG_FLAVOR=release "$HERE/../../scripts/setup.sh" | tail -n 1)
PG_CONFIG=${PG_CONFIG#PG_CONFIG=}
PG_BINDIR=$("$PG_CONFIG" --bindir)
aigw_resolve_runuser
aigw_resolve_statedir
B="$AIGW_STATE/bench-runtime"
say "building aigw against $PG_CONFIG"
aigw_build_copy "$B" "$PG_CONFIG"

PGDATA="$B/data"
SOCK="$B/sock"
stop() { [ -f "$PGDATA/postmaster.pid" ] && as_runuser "$PG_BINDIR/pg_ctl" -D "$PGDATA" -w -m fast stop >/dev/null 2>&1 || true; }
stop
trap stop EXIT
rm -rf "$PGDATA" "$SOCK"
mkdir -p "$SOCK"
chmod 700 "$SOCK"
[ "$(id -u)" -eq 0 ] && chown "$AIGW_RUNUSER" "$B" "$SOCK"
as_runuser "$PG_BINDIR/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$B/initdb.log" 2>&1 \
  || { cat "$B/initdb.log" >&2; fail "initdb failed"; }
PGPORT=$(aigw_free_port $((55700 + OFF)))
as_runuser tee -a "$PGDATA/postgresql.conf" >/dev/null <<CONF
port = $PGPORT
listen_addresses = ''
unix_socket_directories = '$SOCK'
$(AIGW_STAGE=$AIGW_STAGE aigw_conf_lines)
aigw.database = 'aigw'
aigw.workers = ${BENCH_AIGW_WORKERS:-2}
shared_buffers = '512MB'
max_wal_size = '8GB'
min_wal_size = '1GB'
synchronous_commit = on
jit = off
CONF
as_runuser "$PG_BINDIR/pg_ctl" -D "$PGDATA" -l "$B/postgresql.log" -w start >/dev/null \
  || { tail -n 20 "$B/postgresql.log" >&2; fail "PostgreSQL did not start"; }
psqlb() { as_runuser "$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PGPORT" -U postgres "$@"; }
psqlb -d postgres -c "CREATE DATABASE aigw"
psqlb -d aigw -c "CREATE EXTENSION aigw CASCADE" >/dev/null 2>&1
# 1 GB of WAL written ahead and recycled, as on a server that has run a while
# (aigw_wal_prefill_sql in scripts/lib.sh); a run writes about 500 MB
aigw_wal_prefill_sql 1024 | psqlb -d aigw >/dev/null
# A simulation platform with limits far above what two cores can reach, so the
# benchmark measures the runtime, not the default limits.
psqlb -d aigw <<'SQL'
INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type, status)
VALUES ('bench-sim', 'Benchmark simulation', 'simulation', 'active');
INSERT INTO aigw.integration_platforms (provider, platform_key, name, auth_type)
VALUES ('bench-sim', 'bench-sim', 'Benchmark simulation', 'none');
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode,
                                  billing_config_override, rate_limit_policy)
SELECT id, 'bench-sim', 'chat', 'bench', 'custom', '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 2}}',
       '{"rules": [{"metric": "tpm_total", "limit": 1000000000}, {"metric": "rpm", "limit": 100000000},
                   {"metric": "concurrent", "limit": 100000}, {"metric": "queue_size", "limit": 1000000}]}'
  FROM aigw.integration_platforms WHERE platform_key = 'bench-sim';
SQL
for _ in $(seq 1 100); do
  [ "$(psqlb -d aigw -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'aigw task worker'")" -ge 1 ] && break
  sleep 0.2
done
psqlb -d aigw -f "$HERE/submit_await.sql" >/dev/null   # warm-up: the workers' caches and plans

# CPU ticks of the whole cluster: the postmaster with its reaped children, and its live children.
cpu_ticks() {
  local pm t c
  pm=$(head -n 1 "$PGDATA/postmaster.pid")
  t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat")
  for c in $(cat /proc/"$pm"/task/*/children); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
tasks() { psqlb -d aigw -c "SELECT count(*) FROM aigw.gateway_tasks"; }
hz=$(getconf CLK_TCK)
echo "PostgreSQL $("$PG_CONFIG" --version | awk '{print $2}') release, aigw.workers ${BENCH_AIGW_WORKERS:-2}, $(nproc) cores, ${SECS} s per run"
for c in $CLIENTS; do
  t0=$(cpu_ticks); n0=$(tasks)
  out=$(as_runuser "$PG_BINDIR/pgbench" -h "$SOCK" -p "$PGPORT" -U postgres -n -f "$HERE/submit_await.sql" \
          -c "$c" -j "$c" -T "$SECS" aigw 2>&1)
  t1=$(cpu_ticks); n1=$(tasks)
  lat=$(echo "$out" | sed -n 's/^latency average = \(.*\)$/\1/p')
  tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  cpu=$(echo "scale=3; ($t1 - $t0) * 1000 / $hz / ($n1 - $n0)" | bc)
  printf 'clients %-3s  submit-to-result latency avg %-10s  tasks/s %-8s  cluster CPU per task %s ms\n' \
    "$c" "$lat" "${tps%.*}" "$cpu"
done
if [ "$BATCH" -gt 0 ]; then
  t0=$(cpu_ticks); n0=$(tasks); s0=$(date +%s.%N)
  out=$(as_runuser "$PG_BINDIR/pgbench" -h "$SOCK" -p "$PGPORT" -U postgres -n -D batch="$BATCH" \
          -f "$HERE/submit_batch_await.sql" -c "$BATCH_CLIENTS" -j "$BATCH_CLIENTS" -T "$SECS" aigw 2>&1)
  s1=$(date +%s.%N); t1=$(cpu_ticks); n1=$(tasks)
  lat=$(echo "$out" | sed -n 's/^latency average = \(.*\)$/\1/p')
  cpu=$(echo "scale=3; ($t1 - $t0) * 1000 / $hz / ($n1 - $n0)" | bc)
  printf 'batches of %s, clients %-3s  batch submit-to-results latency avg %-10s  tasks/s %-8s  cluster CPU per task %s ms\n' \
    "$BATCH" "$BATCH_CLIENTS" "$lat" "$(echo "($n1 - $n0) / ($s1 - $s0)" | bc)" "$cpu"
fi
echo "tasks: $(psqlb -d aigw -c "SELECT string_agg(status || ' ' || n, ', ') FROM (SELECT status, count(*) n FROM aigw.gateway_tasks GROUP BY 1) s")"
echo "rows per task: $(psqlb -d aigw -c "SELECT round((SELECT count(*) FROM aigw.gateway_task_attempts)::numeric / greatest(count(*), 1), 2) || ' attempts, ' || round((SELECT count(*) FROM aigw.gateway_task_events)::numeric / greatest(count(*), 1), 2) || ' events' FROM aigw.gateway_tasks")"
