#!/usr/bin/env bash
# Runtime benchmark: submit a chat task from SQL and wait for its result
# (aigw.submit_task + aigw.await_task, bench/runtime/submit_await.sql) against
# a zero-latency provider, on a fresh cluster of the release build of
# PostgreSQL 18. Two providers, one after the other:
#   simulation  the runtime's own simulation provider (no network);
#   mock        an OpenAI-compatible platform whose base_url is nginx on
#               loopback answering a fixed chat completion at once
#               (bench/compare/fixed.json), called by the task workers with
#               libcurl like any real provider.
# Prints, per provider and client count, the submit-to-result latency (p50
# and p99 of every task, from pgbench's transaction log), tasks
# per second, and the CPU the whole machine used per task (/proc/stat: the
# cluster, pgbench and, for the mock provider, nginx; ticks of 10 ms).
#
# With batching (bench/runtime/submit_batch_await.sql): each client submits
# BENCH_BATCH tasks in one statement, then waits for all of them in one.
#
# With streams (BENCH_STREAMS, default 1000; 0 skips): that many streamed chat
# tasks submitted in one statement against an OpenAI-compatible mock that
# streams BENCH_STREAM_CHUNKS (64) SSE chunks BENCH_STREAM_INTERVAL_MS (50 ms)
# apart (bench/compare/mock.mjs sse), in BENCH_STREAM_WAVES waves (default 3). Sampled every 100 ms: the tasks
# running, the connections open to the mock, and the task workers' memory
# (the sum of their Pss). Prints the most in flight at once, how long the
# wave took, how many succeeded with their usage billed, and the workers'
# memory before, at the peak and after each wave: flat memory is the later
# waves' peaks no higher than the first's.
#
# With BENCH_COMPARE=<revision>: the working tree (B) against that revision
# (A), simulation provider, each on its own live cluster; BENCH_ROUNDS rounds
# (default 5) alternate A and B, each a 1-client run and a batched run of
# BENCH_SECONDS (default 5 here), and the medians are printed. This machine's
# speed drifts by 10-20 % within minutes: runs one after the other cannot
# show a difference of a few percent, alternating rounds can. Then
# BENCH_PAIRS pairs (default 20; 0 skips them) of 1 s 1-client runs, A then B:
# the p50 over all their tasks, and in how many pairs B's p50 was the lower,
# which sees a difference of 50 us that the rounds' medians do not.
#
# Environment: BENCH_SECONDS (default 10), BENCH_CLIENTS (default "1 16"),
# BENCH_BATCH (default 50; 0 skips the batched runs), BENCH_BATCH_CLIENTS
# (default 4), BENCH_PROVIDERS (default "simulation mock"; empty: none), BENCH_AIGW_WORKERS
# (default 2), AIGW_PORT_OFFSET. As root, installs nginx-light when it is missing.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../scripts/lib.sh"

COMPARE=${BENCH_COMPARE:-}
SECS=${BENCH_SECONDS:-$([ -n "$COMPARE" ] && echo 5 || echo 10)}
ROUNDS=${BENCH_ROUNDS:-5}
PAIRS=${BENCH_PAIRS:-20}
CLIENTS=${BENCH_CLIENTS:-"1 16"}
BATCH=${BENCH_BATCH:-50}
BATCH_CLIENTS=${BENCH_BATCH_CLIENTS:-4}
OFF=${AIGW_PORT_OFFSET:-0}
PROVIDERS=${BENCH_PROVIDERS-"simulation mock"}
[ -n "$COMPARE" ] && PROVIDERS=simulation

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [[ " $PROVIDERS " == *" mock "* ]] && [ ! -x "$NGINX" ] && [ "$(id -u)" -eq 0 ]; then
  say "installing nginx-light (the mock provider)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/tmp/aigw-bench-apt.log 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/tmp/aigw-bench-apt.log 2>&1; } \
    || { tail -n 20 /tmp/aigw-bench-apt.log >&2; fail "apt-get install nginx-light failed"; }
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi
STREAMS=${BENCH_STREAMS:-1000}
STREAM_CHUNKS=${BENCH_STREAM_CHUNKS:-64}
STREAM_INTERVAL=${BENCH_STREAM_INTERVAL_MS:-50}
[ -n "$COMPARE" ] && STREAMS=0
if [ "$STREAMS" -gt 0 ] && ! command -v node >/dev/null; then
  say "node is not installed: the streams run is left out"
  STREAMS=0
fi
if [[ " $PROVIDERS " == *" mock "* ]] && [ ! -x "$NGINX" ]; then
  say "nginx is not installed: the mock provider is left out"
  PROVIDERS=${PROVIDERS//mock/}
fi

PG_CONFIG=$(AIGW_PG_FLAVOR=release "$HERE/../../scripts/setup.sh" | tail -n 1)
PG_CONFIG=${PG_CONFIG#PG_CONFIG=}
PG_BINDIR=$("$PG_CONFIG" --bindir)
aigw_resolve_runuser
aigw_resolve_statedir
B="$AIGW_STATE/bench-runtime"
if [ -n "$COMPARE" ]; then
  # side A: the revision, built from its own tree
  git -C "$AIGW_ROOT" rev-parse --verify -q "$COMPARE^{commit}" >/dev/null || fail "no revision \"$COMPARE\""
  rm -rf "$B-a"
  mkdir -p "$B-a/tree"
  git -C "$AIGW_ROOT" archive "$COMPARE" | tar -C "$B-a/tree" -xf -
  say "building aigw at $COMPARE against $PG_CONFIG"
  AIGW_ROOT="$B-a/tree" aigw_build_copy "$B-a" "$PG_CONFIG"
  STAGE_A=$AIGW_STAGE
fi
say "building aigw against $PG_CONFIG"
aigw_build_copy "$B" "$PG_CONFIG"
STAGE_B=$AIGW_STAGE
SIDE_PORT=0

PGDATA="$B/data"
SOCK="$B/sock"
stop_cluster() { [ -f "$PGDATA/postmaster.pid" ] && as_runuser "$PG_BINDIR/pg_ctl" -D "$PGDATA" -w -m fast stop >/dev/null 2>&1 || true; }
stop() {
  [ -n "${SSE_PID:-}" ] && kill "$SSE_PID" 2>/dev/null
  aigw_mock_nginx_stop "$B/nginx"
  stop_cluster
  local d
  for d in "$AIGW_STATE/bench-runtime/data" "$AIGW_STATE/bench-runtime-a/data"; do
    [ -f "$d/postmaster.pid" ] && as_runuser "$PG_BINDIR/pg_ctl" -D "$d" -w -m fast stop >/dev/null 2>&1
  done
  return 0
}
stop
trap stop EXIT
psqlb() { as_runuser "$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PGPORT" -U postgres "$@"; }
# prepared statements, as a driver makes them: the client's parsing is not the gateway's latency
pgb() {
  as_runuser "$PG_BINDIR/pgbench" -h "$SOCK" -p "$PGPORT" -U postgres -n -M prepared \
    -D request="{\"model\": \"$MODEL\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}" "$@" aigw 2>&1
}
# p50 and p99 of the latencies (µs) in pgbench's transaction logs under prefix $1, in ms
percentiles() {
  cat "$1".* | awk '{print $3}' | sort -n | awk '{v[NR] = $1} END {if (NR) printf "p50 %.3f ms  p99 %.3f ms", v[int(NR * 0.5) + 1] / 1000, v[int(NR * 0.99) + 1] / 1000}'
}
# the key that seals the mock platform's credentials, kept outside the data directory
KEYFILE="$B/credential.key"
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$KEYFILE")
[ "$(id -u)" -eq 0 ] && chown "$AIGW_RUNUSER" "$KEYFILE"
MOCK_PORT=$(aigw_free_port $((18800 + OFF)))
[[ " $PROVIDERS " == *" mock "* ]] && aigw_mock_nginx_start "$NGINX" "$B/nginx" "$MOCK_PORT" "$HERE/../compare/fixed.json"

# An OpenAI-compatible platform and model $1 (sent as bench-model) whose base_url
# is the mock on 127.0.0.1:$2, named $3, its calls timing out after $4 ms
openai_platform() {
  MODEL=$1
  psqlb -d aigw <<SQL
INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type, status)
VALUES ('bench-openai', 'Benchmark mock', 'openai_compatible', 'active');
INSERT INTO aigw.integration_platforms (provider, platform_key, name, base_url, credentials, config)
VALUES ('bench-openai', '$1', '$3', 'http://127.0.0.1:$2/v1', '{"apiKey": "sk-mock"}',
        '{"modelMap": {"$1": "bench-model"}, "timeoutMs": $4}');
SQL
}

# A fresh cluster with one platform of the provider: limits far above what two
# cores can reach, so that the benchmark measures the runtime, not the default
# limits; priced, so that every task holds an estimate and settles its usage.
fresh_cluster() {
  local provider=$1
  stop_cluster
  rm -rf "$PGDATA" "$SOCK" "$B/log"
  mkdir -p "$SOCK" "$B/log"
  chmod 700 "$SOCK"
  [ "$(id -u)" -eq 0 ] && chown "$AIGW_RUNUSER" "$B" "$SOCK" "$B/log"
  as_runuser "$PG_BINDIR/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$B/initdb.log" 2>&1 \
    || { cat "$B/initdb.log" >&2; fail "initdb failed"; }
  PGPORT=$(aigw_free_port $((55700 + OFF + SIDE_PORT)))
  as_runuser tee -a "$PGDATA/postgresql.conf" >/dev/null <<CONF
port = $PGPORT
listen_addresses = ''
unix_socket_directories = '$SOCK'
$(AIGW_STAGE=$AIGW_STAGE aigw_conf_lines)
aigw.database = 'aigw'
aigw.workers = ${BENCH_AIGW_WORKERS:-2}
aigw.credential_key_file = '$KEYFILE'
aigw.outbound_allow_hosts = '127.0.0.1'
shared_buffers = '1GB'
max_wal_size = '8GB'
min_wal_size = '1GB'
synchronous_commit = on
jit = off
${CLUSTER_EXTRA_CONF:-}
CONF
  as_runuser "$PG_BINDIR/pg_ctl" -D "$PGDATA" -l "$B/postgresql.log" -w start >/dev/null \
    || { tail -n 20 "$B/postgresql.log" >&2; fail "PostgreSQL did not start"; }
  psqlb -d postgres -c "CREATE DATABASE aigw"
  psqlb -d aigw -c "CREATE EXTENSION aigw CASCADE" >/dev/null 2>&1
  # 1 GB of WAL written ahead and recycled, as on a server that has run a while
  # (aigw_wal_prefill_sql in scripts/lib.sh); a provider's runs write about 500 MB
  aigw_wal_prefill_sql 1024 | psqlb -d aigw >/dev/null
  case $provider in
    simulation)
      MODEL=bench-sim
      psqlb -d aigw <<'SQL'
INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type, status)
VALUES ('bench-sim', 'Benchmark simulation', 'simulation', 'active');
INSERT INTO aigw.integration_platforms (provider, platform_key, name, auth_type)
VALUES ('bench-sim', 'bench-sim', 'Benchmark simulation', 'none');
SQL
      ;;
    mock) openai_platform bench-mock "$MOCK_PORT" 'Mock (nginx, at once)' 30000 ;;
    stream) openai_platform bench-stream "$SSE_PORT" 'Mock (node SSE)' 120000 ;;
    *) fail "unknown provider \"$provider\" in BENCH_PROVIDERS (simulation, mock)" ;;
  esac
  psqlb -d aigw <<SQL
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode,
                                  billing_config_override, rate_limit_policy)
SELECT id, '$MODEL', 'chat', 'bench', 'custom', '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 2}}',
       '{"rules": [{"metric": "tpm_total", "limit": 1000000000}, {"metric": "rpm", "limit": 100000000},
                   {"metric": "concurrent", "limit": 100000}, {"metric": "queue_size", "limit": 1000000}]}'
  FROM aigw.integration_platforms WHERE platform_key = '$MODEL';
SQL
  for _ in $(seq 1 100); do
    [ "$(psqlb -d aigw -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'aigw task worker'")" -ge 1 ] && break
    sleep 0.2
  done
  [ "$provider" = stream ] && return 0   # its warm-up is a small wave (streams below)
  pgb -f "$HERE/submit_await.sql" -t 20 >/dev/null   # warm-up: the workers' caches and plans
  [ "$(psqlb -d aigw -c "SELECT count(*) FROM aigw.gateway_tasks WHERE status = 'succeeded'")" -eq 20 ] \
    || fail "the warm-up tasks on $provider did not succeed: $(psqlb -d aigw -c "SELECT string_agg(DISTINCT coalesce(error_message, status), '; ') FROM aigw.gateway_tasks")"
}
# CPU ticks the whole machine spent (user, nice, system, irq, softirq): the
# cluster, and also pgbench and the mock, which run on the same two cores.
# (The sum over the cluster's processes in /proc, used before, gave 0.74 and
# 1.89 ms per task for two runs of the same build at one client.)
cpu_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }
tasks() { psqlb -d aigw -c "SELECT count(*) FROM aigw.gateway_tasks"; }
hz=$(getconf CLK_TCK)
# the processor, printed with the figures: machines of one kind differ by 2x in speed
CPU_MODEL="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo) at $(awk -F': ' '/^cpu MHz/ {printf "%.0f MHz", $2; exit}' /proc/cpuinfo)"

# ---- BENCH_COMPARE: A (the revision) and B (the working tree), alternating ----
# p50 of the latencies (us) in pgbench transaction logs
log_p50() { cat "$@" | awk '{print $3}' | sort -n | awk '{v[NR] = $1} END {print v[int(NR * 0.5) + 1]}'; }
# side a|b: the cluster, build and port the functions above use
side() {
  if [ "$1" = a ]; then B="$AIGW_STATE/bench-runtime-a" AIGW_STAGE=$STAGE_A SIDE_PORT=50
  else B="$AIGW_STATE/bench-runtime" AIGW_STAGE=$STAGE_B SIDE_PORT=0; fi
  PGDATA="$B/data" SOCK="$B/sock"
  PGPORT=${PORTS[$1]:-}
}
compare() {
  declare -gA PORTS
  local r s out lat cpu n t0 t1 n0 n1 s0 s1 res="$B/compare.tsv"
  for s in a b; do side $s; fresh_cluster simulation; PORTS[$s]=$PGPORT; done
  : > "$res"
  echo "PostgreSQL $("$PG_CONFIG" --version | awk '{print $2}') release, $(nproc) cores ($CPU_MODEL), A = $COMPARE, B = the working tree, $ROUNDS rounds of ${SECS} s runs"
  for r in $(seq 1 "$ROUNDS"); do
    for s in a b; do
      side $s
      rm -f "$B"/log/lat.*
      t0=$(cpu_ticks); n0=$(tasks)
      out=$(pgb -f "$HERE/submit_await.sql" -c 1 -T "$SECS" -l --log-prefix="$B/log/lat")
      t1=$(cpu_ticks); n1=$(tasks)
      lat=$(cat "$B"/log/lat.* | awk '{print $3}' | sort -n | awk '{v[NR] = $1} END {printf "%.3f", v[int(NR * 0.5) + 1] / 1000}')
      cpu=$(echo "scale=3; ($t1 - $t0) * 1000 / $hz / ($n1 - $n0)" | bc)
      n0=$(tasks); s0=$(date +%s.%N)
      pgb -D batch="$BATCH" -f "$HERE/submit_batch_await.sql" -c "$BATCH_CLIENTS" -j "$BATCH_CLIENTS" -T "$SECS" >/dev/null
      s1=$(date +%s.%N); n1=$(tasks)
      n=$(echo "($n1 - $n0) / ($s1 - $s0)" | bc)
      printf '%s\t%s\t%s\t%s\n' "${s^^}" "$lat" "$cpu" "$n" >> "$res"
      printf 'round %s %s: 1 client p50 %s ms, machine CPU per task %s ms; batches of %s x %s clients %s tasks/s\n' \
        "$r" "${s^^}" "$lat" "$cpu" "$BATCH" "$BATCH_CLIENTS" "$n"
    done
  done
  for s in A B; do
    awk -F'\t' -v s=$s '$1 == s {l[++n] = $2; c[n] = $3; t[n] = $4}
      function med(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
                                    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
      END {printf "median %s: 1 client p50 %.3f ms, machine CPU per task %.3f ms; batched %d tasks/s\n", s, med(l, n), med(c, n), med(t, n)}' "$res"
  done
  [ "$PAIRS" -gt 0 ] || return 0
  local lower=0 pa pb
  for r in $(seq 1 "$PAIRS"); do
    for s in a b; do
      side $s
      pgb -f "$HERE/submit_await.sql" -c 1 -T 1 -l --log-prefix="$B/log/pair$r" >/dev/null
    done
    side a; pa=$(log_p50 "$B"/log/pair$r.*)
    side b; pb=$(log_p50 "$B"/log/pair$r.*)
    [ "$pb" -lt "$pa" ] && lower=$((lower + 1))
  done
  side a; pa=$(log_p50 "$B"/log/pair*.*)
  side b; pb=$(log_p50 "$B"/log/pair*.*)
  printf '%s pairs of 1 s 1-client runs: p50 A %.3f ms, B %.3f ms; B lower in %s of %s pairs\n' \
    "$PAIRS" "$(echo "scale=3; $pa / 1000" | bc)" "$(echo "scale=3; $pb / 1000" | bc)" "$lower" "$PAIRS"
}
if [ -n "$COMPARE" ]; then
  compare
  exit 0
fi

# ---- streams: many streamed tasks in flight at once, and the workers' memory ----
# the task workers' memory in kB, summed over them: "anon shmem", their own
# (Pss_Anon: heap, transfers, buffers) and the shared memory they touched
# (Pss_Shmem, mostly shared_buffers pages, which grows as they touch more)
workers_mem() {
  local pid anon=0 shm=0 a m
  for pid in $(psqlb -d aigw -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'aigw task worker'"); do
    read -r a m < <(awk '/^Pss_Anon:/ {a = $2} /^Pss_Shmem:/ {m = $2} END {print a + 0, m + 0}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo "0 0")
    anon=$((anon + a)); shm=$((shm + m))
  done
  echo "$anon $shm"
}
# one wave of $1 streamed tasks submitted in one statement, sampled until all ended
stream_wave() {
  local n=$1 label=$2 since running conns anon shm ended t0 t1 max_run=0 max_conn=0 anon0 shm0 anon_peak=0 shm_peak=0 anon1 shm1 ok settled
  since=$(psqlb -d aigw -c "SELECT clock_timestamp()")
  read -r anon0 shm0 < <(workers_mem)
  t0=$(date +%s.%N)
  psqlb -d aigw -c "SELECT count(aigw.submit_task('chat.completions',
      '{\"model\": \"bench-stream\", \"stream\": true, \"stream_options\": {\"include_usage\": true},
        \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}', '{\"user_id\": \"bench\"}'))
    FROM generate_series(1, $n)" >/dev/null
  while :; do
    read -r running ended < <(psqlb -d aigw -F ' ' -c "SELECT count(*) FILTER (WHERE status = 'running'),
        count(*) FILTER (WHERE status IN ('succeeded', 'failed_final', 'cancelled'))
      FROM aigw.gateway_tasks WHERE created_at >= '$since'")
    conns=0
    command -v ss >/dev/null && conns=$(ss -Htn state established "( dport = :$SSE_PORT )" | wc -l)
    read -r anon shm < <(workers_mem)
    [ "$running" -gt "$max_run" ] && max_run=$running
    [ "$conns" -gt "$max_conn" ] && max_conn=$conns
    [ "$anon" -gt "$anon_peak" ] && anon_peak=$anon
    [ "$shm" -gt "$shm_peak" ] && shm_peak=$shm
    [ "$ended" -ge "$n" ] && break
    (( $(echo "$(date +%s.%N) - $t0 > 600" | bc) )) && fail "streams: $ended of $n tasks ended after 600 s"
    sleep 0.1
  done
  t1=$(date +%s.%N)
  sleep 1
  read -r anon1 shm1 < <(workers_mem)
  read -r ok settled < <(psqlb -d aigw -F ' ' -c "SELECT count(*) FILTER (WHERE t.status = 'succeeded'),
      count(*) FILTER (WHERE EXISTS (SELECT 1 FROM aigw.settlement_outbox o
                                      WHERE o.task_id = t.id AND o.event_type = 'task.settled'
                                        AND (o.payload #>> '{billing,usage,completion_tokens}')::int = $STREAM_CHUNKS))
    FROM aigw.gateway_tasks t WHERE t.created_at >= '$since'")
  # connections to the mock are counted with iproute2's ss
  command -v ss >/dev/null || max_conn="(not counted: no ss)"
  printf '%s: %s streamed tasks, at most %s running at once, %s connections to the provider open at once; %s succeeded, %s settled with the usage the stream reported, in %.1f s; memory of the task workers (Pss_Anon, their own) %d MB before, %d MB at the peak, %d MB after; shared memory they touched (Pss_Shmem) %d, %d, %d MB\n' \
    "$label" "$n" "$max_run" "$max_conn" "$ok" "$settled" "$(echo "$t1 - $t0" | bc)" \
    $((anon0 / 1024)) $((anon_peak / 1024)) $((anon1 / 1024)) $((shm0 / 1024)) $((shm_peak / 1024)) $((shm1 / 1024))
}

echo "PostgreSQL $("$PG_CONFIG" --version | awk '{print $2}') release, aigw.workers ${BENCH_AIGW_WORKERS:-2}, $(nproc) cores ($CPU_MODEL), ${SECS} s per run"
for provider in $PROVIDERS; do
  fresh_cluster "$provider"
  echo "== provider: $provider (model $MODEL)"
  for c in $CLIENTS; do
    t0=$(cpu_ticks); n0=$(tasks)
    rm -f "$B"/log/lat.*
    out=$(pgb -f "$HERE/submit_await.sql" -c "$c" -j "$c" -T "$SECS" -l --log-prefix="$B/log/lat")
    t1=$(cpu_ticks); n1=$(tasks)
    lat=$(percentiles "$B/log/lat")
    tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    cpu=$(echo "scale=3; ($t1 - $t0) * 1000 / $hz / ($n1 - $n0)" | bc)
    printf 'clients %-3s  submit-to-result latency %s  tasks/s %-8s  machine CPU per task %s ms\n' \
      "$c" "$lat" "${tps%.*}" "$cpu"
  done
  if [ "$BATCH" -gt 0 ]; then
    t0=$(cpu_ticks); n0=$(tasks); s0=$(date +%s.%N)
    out=$(pgb -D batch="$BATCH" -f "$HERE/submit_batch_await.sql" -c "$BATCH_CLIENTS" -j "$BATCH_CLIENTS" -T "$SECS")
    s1=$(date +%s.%N); t1=$(cpu_ticks); n1=$(tasks)
    lat=$(echo "$out" | sed -n 's/^latency average = \(.*\)$/\1/p')
    cpu=$(echo "scale=3; ($t1 - $t0) * 1000 / $hz / ($n1 - $n0)" | bc)
    printf 'batches of %s, clients %-3s  batch submit-to-results latency avg %-10s  tasks/s %-8s  machine CPU per task %s ms\n' \
      "$BATCH" "$BATCH_CLIENTS" "$lat" "$(echo "($n1 - $n0) / ($s1 - $s0)" | bc)" "$cpu"
  fi
  echo "tasks: $(psqlb -d aigw -c "SELECT string_agg(status || ' ' || n, ', ') FROM (SELECT status, count(*) n FROM aigw.gateway_tasks GROUP BY 1) s")"
  echo "rows per task: $(psqlb -d aigw -c "SELECT round((SELECT count(*) FROM aigw.gateway_task_attempts)::numeric / greatest(count(*), 1), 2) || ' attempts, ' || round((SELECT count(*) FROM aigw.gateway_task_events)::numeric / greatest(count(*), 1), 2) || ' events' FROM aigw.gateway_tasks")"
done
if [ "$STREAMS" -gt 0 ]; then
  ulimit -n 65536 2>/dev/null || ulimit -n 16384 2>/dev/null || true
  SSE_PORT=$(aigw_free_port $((18900 + OFF)))
  node "$HERE/../compare/mock.mjs" sse "$SSE_PORT" "$STREAM_CHUNKS" "$STREAM_INTERVAL" >"$B/mock-sse.log" 2>&1 &
  SSE_PID=$!
  for _ in $(seq 1 50); do grep -q listening "$B/mock-sse.log" && break; sleep 0.1; done
  grep -q listening "$B/mock-sse.log" || fail "the SSE mock did not start: $(cat "$B/mock-sse.log")"
  # transfers per worker: enough for every stream at once
  CLUSTER_EXTRA_CONF="aigw.worker_max_inflight = $(( (STREAMS + ${BENCH_AIGW_WORKERS:-2} - 1) / ${BENCH_AIGW_WORKERS:-2} + 16 ))"
  fresh_cluster stream
  echo "== streams: OpenAI-compatible mock, $STREAM_CHUNKS SSE chunks ${STREAM_INTERVAL} ms apart, $CLUSTER_EXTRA_CONF"
  stream_wave 10 "warm-up" >/dev/null
  for w in $(seq 1 "${BENCH_STREAM_WAVES:-3}"); do stream_wave "$STREAMS" "wave $w"; done
fi
