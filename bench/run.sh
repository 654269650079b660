#!/usr/bin/env bash
# aigw side by side with the Portkey gateway and with direct calls, against the
# same mock provider. `make bench` runs this. Prints one table (docs/benchmarks.md
# explains the method and every setting).
#
# What it sets up (all under $AIGW_STATE/bench, stopped on exit):
#   - a release build of PostgreSQL 18 (AIGW_PG_FLAVOR=release scripts/setup.sh),
#     aigw built against it from a copy of this tree, and a fresh cluster;
#   - aigw-http on that cluster, with platforms of provider type openai_compatible
#     pointing at the mocks, and 64 API-key users whose wallets can pay;
#   - the Portkey gateway (@portkey-ai/gateway, pinned by bench/package-lock.json);
#   - mocks: nginx answering a fixed chat completion at once; a node server
#     answering the same after 20 ms; a node SSE server (64 chunks, 20 ms apart).
# Load: wrk (bench/compare/post.lua) and bench/compare/streams.mjs.
#
# Environment:
#   BENCH_SECONDS   seconds per wrk run (default 10)
#   BENCH_ROUNDS    interleaved rounds (default 3; figures are medians over rounds)
#   BENCH_STREAMS   stream counts (default "256 1000")
#   BENCH_ONLY      restrict scenarios, e.g. "lat1 fast32" (default all)
#   BENCH_KEEP=1    leave everything running at the end (for profiling)
#   BENCH_USERS     API-key users with a wallet the requests are spread over (default 64)
#   AIGW_PORT_OFFSET  shifts the ports used
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../scripts/lib.sh"

SECS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
# WAL written ahead and recycled (aigw_wal_prefill_sql): a round writes about 600 MB
WAL_PREFILL_MB=$((ROUNDS * 768 + 512))
STREAMS=${BENCH_STREAMS:-"256 1000"}
ONLY=${BENCH_ONLY:-}
OFF=${AIGW_PORT_OFFSET:-0}
CHUNKS=64
INTERVAL_MS=20
NUSERS=${BENCH_USERS:-64}   # API-key users the requests are spread over
# Settings of the benchmark cluster and front (documented in docs/benchmarks.md).
PG_SHARED_BUFFERS=${BENCH_PG_SHARED_BUFFERS:-1GB}
AIGW_WORKERS=${BENCH_AIGW_WORKERS:-2}
AIGW_INFLIGHT=${BENCH_AIGW_INFLIGHT:-1024}
FRONT_POOL=${BENCH_FRONT_POOL:-8}
FRONT_THREADS=${BENCH_FRONT_THREADS:-1400}

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"

# ---------------------------------------------------------------- dependencies
need_debs=""
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_debs="$need_debs nginx-light"
command -v wrk >/dev/null || need_debs="$need_debs wrk"
command -v node >/dev/null || need_debs="$need_debs nodejs npm"
command -v curl >/dev/null || need_debs="$need_debs curl"
if [ -n "$need_debs" ]; then
  say "installing Debian packages:$need_debs"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2 || true
  $SUDO apt-get install -y -qq --no-install-recommends $need_debs >/tmp/aigw-bench-apt.log 2>&1 \
    || { tail -n 20 /tmp/aigw-bench-apt.log >&2; fail "apt-get install failed"; }
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -f "$HERE/node_modules/@portkey-ai/gateway/build/start-server.js" ] \
   || [ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
  say "installing the Portkey gateway (npm ci, bench/package-lock.json)"
  (cd "$HERE" && npm ci --no-audit --no-fund >/tmp/aigw-bench-npm.log 2>&1) \
    || { tail -n 20 /tmp/aigw-bench-npm.log >&2; fail "npm ci failed"; }
fi
PORTKEY_VERSION=$(node -p "require('$HERE/node_modules/@portkey-ai/gateway/package.json').version")

# ------------------------------------------------- PostgreSQL (release) + aigw
say "PostgreSQL 18 release build (built once, about 5 minutes)"
PG_CONFIG=$(AIGW_PG_FLAVOR=release PG_CONFIG="${BENCH_PG_CONFIG:-}" "$HERE/../scripts/setup.sh" | tail -n 1)
PG_CONFIG=${PG_CONFIG#PG_CONFIG=}
PG_BINDIR=$("$PG_CONFIG" --bindir)
PG_FLAVOR=release
"$PG_CONFIG" --configure | grep -q enable-cassert && PG_FLAVOR=assert-enabled
aigw_resolve_runuser
aigw_resolve_statedir
B="$AIGW_STATE/bench"
RUNS="$B/runs"
mkdir -p "$B"
say "building aigw against $PG_CONFIG"
aigw_build_copy "$B" "$PG_CONFIG"

PIDS=()
PGDATA="$B/data"
SOCK="$B/sock"
# Processes a previous run left (BENCH_KEEP=1 or a kill) are stopped by their recorded ids.
if [ -f "$B/pids" ]; then
  while read -r p; do kill -TERM "$p" 2>/dev/null || true; done < "$B/pids"
  rm -f "$B/pids"
fi
aigw_mock_nginx_stop "$B/nginx"
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  aigw_mock_nginx_stop "$B/nginx"
  [ -f "$PGDATA/postmaster.pid" ] && as_runuser "$PG_BINDIR/pg_ctl" -D "$PGDATA" -w -m fast stop >/dev/null 2>&1 || true
}
if [ "${BENCH_KEEP:-0}" != 1 ]; then trap cleanup EXIT; fi

# A fresh cluster every run, so that row counts start from the seed.
[ -f "$PGDATA/postmaster.pid" ] && as_runuser "$PG_BINDIR/pg_ctl" -D "$PGDATA" -w -m immediate stop >/dev/null 2>&1 || true
rm -rf "$PGDATA" "$SOCK" "$RUNS" "$B/postgresql.log"
mkdir -p "$SOCK" "$RUNS"
chmod 700 "$SOCK"
[ "$(id -u)" -eq 0 ] && chown "$AIGW_RUNUSER" "$B" "$SOCK"
as_runuser "$PG_BINDIR/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$B/initdb.log" 2>&1 \
  || { cat "$B/initdb.log" >&2; fail "initdb failed"; }
PGPORT=$(aigw_free_port $((55500 + OFF)))
# the key that seals the mock platforms' credentials, kept outside the data directory
KEYFILE="$B/credential.key"
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$KEYFILE")
[ "$(id -u)" -eq 0 ] && chown "$AIGW_RUNUSER" "$KEYFILE"
as_runuser tee -a "$PGDATA/postgresql.conf" >/dev/null <<CONF

# ---- aigw benchmark cluster (docs/benchmarks.md explains each line)
port = $PGPORT
listen_addresses = ''
unix_socket_directories = '$SOCK'
$(AIGW_STAGE=$AIGW_STAGE aigw_conf_lines)
aigw.database = 'aigw'
aigw.workers = $AIGW_WORKERS
aigw.worker_max_inflight = $AIGW_INFLIGHT
aigw.channel_buffer = '4MB'
aigw.credential_key_file = '$KEYFILE'
aigw.outbound_allow_hosts = '127.0.0.1'
max_connections = 100
shared_buffers = '$PG_SHARED_BUFFERS'
synchronous_commit = on
fsync = on
full_page_writes = on
wal_buffers = '16MB'
max_wal_size = '8GB'
min_wal_size = '${WAL_PREFILL_MB}MB'
checkpoint_timeout = '30min'
jit = off
log_min_messages = warning
CONF
say "starting the benchmark cluster on port $PGPORT"
as_runuser "$PG_BINDIR/pg_ctl" -D "$PGDATA" -l "$B/postgresql.log" -w start >/dev/null \
  || { tail -n 20 "$B/postgresql.log" >&2; fail "PostgreSQL did not start"; }
psqlb() { as_runuser "$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PGPORT" -U postgres -d aigw "$@"; }
as_runuser "$PG_BINDIR/psql" -X -q -h "$SOCK" -p "$PGPORT" -U postgres -d postgres -c "CREATE DATABASE aigw" >/dev/null
psqlb -c "CREATE EXTENSION aigw CASCADE" -c "CREATE ROLE aigw_http LOGIN IN ROLE aigw_front" >/dev/null
say "writing ${WAL_PREFILL_MB} MB of WAL ahead, recycled by a checkpoint"
aigw_wal_prefill_sql "$WAL_PREFILL_MB" | psqlb >/dev/null

# ------------------------------------------------------------------------ mocks
NGINX_PORT=$(aigw_free_port $((18600 + OFF)))
SLOW_PORT=$(aigw_free_port $((NGINX_PORT + 1)))
SSE_PORT=$(aigw_free_port $((SLOW_PORT + 1)))
ulimit -n 65536 2>/dev/null || ulimit -n 16384 2>/dev/null || true
aigw_mock_nginx_start "$NGINX" "$B/nginx" "$NGINX_PORT" "$HERE/compare/fixed.json"
start_mock() {  # mode port args... ; waits for "listening"
  local log="$B/mock-$1.log"
  node "$HERE/compare/mock.mjs" "$@" >"$log" 2>&1 &
  PIDS+=($!); echo $! >> "$B/pids"
  for _ in $(seq 1 50); do grep -q listening "$log" && return 0; sleep 0.1; done
  fail "mock $1 did not start: $(cat "$log")"
}
start_mock delay "$SLOW_PORT" 20
start_mock sse "$SSE_PORT" "$CHUNKS" "$INTERVAL_MS"

# ------------------------------------------------------------- aigw platforms
psqlb >/dev/null <<SQL
INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type, status)
VALUES ('bench-openai', 'Benchmark mock', 'openai_compatible', 'active');
INSERT INTO aigw.integration_platforms (provider, platform_key, name, base_url, credentials, priority, config)
VALUES ('bench-openai', 'bench-fast', 'Mock (nginx, at once)', 'http://127.0.0.1:$NGINX_PORT/v1', '{"apiKey":"sk-mock"}', 10,
        '{"modelMap": {"bench-fast": "bench-model"}, "timeoutMs": 30000}'),
       ('bench-openai', 'bench-slow', 'Mock (node, 20 ms)', 'http://127.0.0.1:$SLOW_PORT/v1', '{"apiKey":"sk-mock"}', 10,
        '{"modelMap": {"bench-slow": "bench-model"}, "timeoutMs": 30000}'),
       ('bench-openai', 'bench-stream', 'Mock (node SSE)', 'http://127.0.0.1:$SSE_PORT/v1', '{"apiKey":"sk-mock"}', 10,
        '{"modelMap": {"bench-stream": "bench-model"}, "timeoutMs": 60000}');
-- limits far above what the machine can reach (the seeded default runtime policy allows a
-- platform model 600 requests a minute and 20 at a time): the benchmark measures the gateway
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override,
                                  rate_limit_policy)
SELECT p.id, p.platform_key, 'chat', p.platform_key, 'custom',
       '{"currency": "resource", "text": {"inputPer1k": 0.001, "outputPer1k": 0.002}}',
       '{"rules": [{"metric": "tpm_total", "limit": 1000000000}, {"metric": "rpm", "limit": 100000000},
                   {"metric": "concurrent", "limit": 100000}, {"metric": "queue_size", "limit": 1000000}]}'
  FROM aigw.integration_platforms p WHERE p.platform_key LIKE 'bench-%';
SQL
# $NUSERS users with the role "user", one API key each and a funded wallet.
KEYS="$B/keys.txt"
: > "$KEYS"
for i in $(seq 1 "$NUSERS"); do echo "sk-bench$(printf %03d "$i")$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" >> "$KEYS"; done
{
  echo "BEGIN;"
  i=0
  while read -r k; do
    i=$((i + 1))
    cat <<SQL
WITH u AS (INSERT INTO aigw.gateway_users (user_key, username, roles) VALUES ('bench:$i', 'bench-$i', '["user"]') RETURNING id),
     k AS (INSERT INTO aigw.gateway_api_keys (gateway_user_id, key_prefix, key_hash, name)
           SELECT id, 'sk-bench', aigw.api_key_hash('$k'), 'bench' FROM u RETURNING gateway_user_id)
SELECT aigw.wallet_adjust(aigw.wallet_account(gateway_user_id), 1000000000, 'bench-credit') FROM k;
SQL
  done < "$KEYS"
  echo "COMMIT;"
} | psqlb >/dev/null
for _ in $(seq 1 40); do
  [ "$(psqlb -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'aigw task worker'")" -ge "$AIGW_WORKERS" ] && break
  sleep 0.25
done

# ------------------------------------------------------------------- aigw-http
AIGW_PORT=$(aigw_free_port $((18700 + OFF)))
"$AIGW_STAGE/bin/aigw-http" --listen "127.0.0.1:$AIGW_PORT" \
  --conninfo "host=$SOCK port=$PGPORT dbname=aigw user=aigw_http application_name=aigw-http" \
  --pool-size "$FRONT_POOL" --threads "$FRONT_THREADS" --quiet >"$B/aigw-http.log" 2>&1 &
FRONT_PID=$!
PIDS+=("$FRONT_PID"); echo "$FRONT_PID" >> "$B/pids"
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$AIGW_PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$AIGW_PORT/healthz" >/dev/null || { cat "$B/aigw-http.log" >&2; fail "aigw-http did not start"; }

# ---------------------------------------------------------------------- Portkey
# It listens on 8787 whatever it is told.
if (echo >/dev/tcp/127.0.0.1/8787) 2>/dev/null; then fail "port 8787 (Portkey's fixed port) is taken"; fi
(cd "$HERE" && exec node node_modules/@portkey-ai/gateway/build/start-server.js >"$B/portkey.log" 2>&1) &
PORTKEY_PID=$!
PIDS+=("$PORTKEY_PID"); echo "$PORTKEY_PID" >> "$B/pids"
for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/8787) 2>/dev/null && break; sleep 0.1; done
PORTKEY_URL="http://127.0.0.1:8787"

PM_PID=$(head -n 1 "$PGDATA/postmaster.pid")
# What bench/compare/profile.sh needs to reach this set-up (with BENCH_KEEP=1).
cat > "$B/env" <<ENV
PG_BINDIR='$PG_BINDIR'; PGDATA='$PGDATA'; SOCK='$SOCK'; PGPORT=$PGPORT; AIGW_URL='http://127.0.0.1:$AIGW_PORT'
FRONT_PID=$FRONT_PID; PORTKEY_PID=$PORTKEY_PID; PM_PID=$PM_PID; NGINX_PORT=$NGINX_PORT; KEYS='$KEYS'; AIGW_RUNUSER='$AIGW_RUNUSER'
ENV
node "$HERE/compare/memwatch.mjs" "$FRONT_PID" "$PORTKEY_PID" "$PM_PID" "$B/mem.json" &
MEM_PID=$!
PIDS+=("$MEM_PID"); echo "$MEM_PID" >> "$B/pids"

# ------------------------------------------------------------------- scenarios
body() { printf '{"model":"%s","max_tokens":16,%s"messages":[{"role":"user","content":"Say hello."}]}' "$1" "${2:-}"; }
mock_url() {  # scenario kind -> base URL of the mock
  case $1 in fast) echo "http://127.0.0.1:$NGINX_PORT/v1" ;; slow) echo "http://127.0.0.1:$SLOW_PORT/v1" ;; sse) echo "http://127.0.0.1:$SSE_PORT/v1" ;; esac
}
# target system kind -> "URL|headers|keysfile"
target() {
  case $1 in
    aigw) echo "http://127.0.0.1:$AIGW_PORT/v1/chat/completions||$KEYS" ;;
    portkey) echo "$PORTKEY_URL/v1/chat/completions|Authorization: Bearer sk-mock|x-portkey-provider: openai|x-portkey-custom-host: $(mock_url "$2")|" ;;
    direct) echo "$(mock_url "$2")/chat/completions|Authorization: Bearer sk-mock|" ;;
  esac
}

# Checks that each system answers each kind once before measuring.
check() {
  local sys=$1 kind=$2 model=$3 t url hdrs key out
  t=$(target "$sys" "$kind"); url=${t%%|*}; hdrs=${t#*|}; hdrs=${hdrs%|*}
  key=$(head -n 1 "$KEYS")
  local args=(-s -m 10 -o "$B/check.out" -w '%{http_code}' -H 'Content-Type: application/json')
  [ "$sys" = aigw ] && args+=(-H "Authorization: Bearer $key")
  local IFS='|'; for h in $hdrs; do [ -n "$h" ] && args+=(-H "$h"); done; unset IFS
  out=$(curl "${args[@]}" -d "$(body "$model")" "$url")
  [ "$out" = 200 ] && grep -q 'benchmark mock' "$B/check.out" \
    || fail "$sys does not answer $kind: HTTP $out $(head -c 300 "$B/check.out")"
}
for s in aigw portkey direct; do check "$s" fast bench-fast; check "$s" slow bench-slow; done

RESULTS="$B/results.tsv"
: > "$RESULTS"
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >> "$RESULTS"; }

cpu_ticks() { node "$HERE/compare/memwatch.mjs" cpu "$FRONT_PID" "$PORTKEY_PID" "$PM_PID"; }

# wrk run: round sys scenario kind model connections seconds
run_wrk() {
  local round=$1 sys=$2 scen=$3 kind=$4 model=$5 conns=$6 secs=$7 t url hdrs keys threads out
  t=$(target "$sys" "$kind"); url=${t%%|*}; hdrs=${t#*|}; keys=${hdrs##*|}; hdrs=${hdrs%|*}
  threads=2; [ "$conns" -lt 2 ] && threads=1
  # CPU used by each process group during the 32-connection runs (per request, in the table).
  local cpu0=""; [ "$conns" = 32 ] && cpu0=$(cpu_ticks)
  out=$(BENCH_BODY=$(body "$model") BENCH_HEADERS="$hdrs" BENCH_KEYS="$keys" \
    wrk -t"$threads" -c"$conns" -d"${secs}s" --timeout 10s -s "$HERE/compare/post.lua" "$url" 2>&1 | tee -a "$RUNS/wrk.log" | grep '^RESULT' || true)
  [ -n "$out" ] || { record "$round" "$sys" "$scen" error 1; return; }
  set -- $out
  if [ -n "$cpu0" ]; then
    record "$round" "$sys" "$scen" cpu "{\"before\":$cpu0,\"after\":$(cpu_ticks),\"requests\":$2}"
  fi
  record "$round" "$sys" "$scen" rps "$4"
  record "$round" "$sys" "$scen" p50_us "$5"
  record "$round" "$sys" "$scen" p99_us "$6"
  record "$round" "$sys" "$scen" non2xx "$7"
  record "$round" "$sys" "$scen" sockerr "$8"
  record "$round" "$sys" "$scen" requests "$2"
}

# stream run: round sys n
run_streams() {
  local round=$1 sys=$2 n=$3 t url hdrs out args=()
  t=$(target "$sys" sse); url=${t%%|*}; hdrs=${t#*|}; hdrs=${hdrs%|*}
  local IFS='|'; for h in $hdrs; do [ -n "$h" ] && args+=("${h%%: *}=${h#*: }"); done; unset IFS
  [ "$sys" = aigw ] && args+=("Authorization=Bearer $(sed -n "$(( (round % NUSERS) + 1 ))p" "$KEYS")")
  out=$(node "$HERE/compare/streams.mjs" "$url" "$(body bench-stream '"stream":true,')" "$n" 1000 100 "$CHUNKS" "${args[@]}" 2>&1 | tail -n 1)
  echo "$round $sys $n $out" >> "$RUNS/streams.log"
  record "$round" "$sys" "stream$n" json "$out"
}

want() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }

MACHINE="$(nproc) cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo) at $(awk -F': ' '/^cpu MHz/ {printf "%.0f MHz", $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), $(uname -r)"
say "warming up"
for s in aigw portkey direct; do run_wrk 0 "$s" warm fast bench-fast 32 3 >/dev/null; done
: > "$RESULTS"
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)" > "$RUNS/load.log"

for r in $(seq 1 "$ROUNDS"); do
  say "round $r of $ROUNDS (load $(cut -d' ' -f1-3 /proc/loadavg))"
  echo "round $r: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RUNS/load.log"
  for s in aigw portkey direct; do want lat1 && run_wrk "$r" "$s" lat1 fast bench-fast 1 "$SECS"; done
  for c in 32 256; do
    for s in aigw portkey direct; do want "fast$c" && run_wrk "$r" "$s" "fast$c" fast bench-fast "$c" "$SECS"; done
    for s in aigw portkey direct; do want "slow$c" && run_wrk "$r" "$s" "slow$c" slow bench-slow "$c" "$SECS"; done
  done
  for n in $STREAMS; do
    for s in aigw portkey direct; do want "stream$n" && run_streams "$r" "$s" "$n"; done
  done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RUNS/load.log"

# ------------------------------------------------------------ durability rows
sleep 2
psqlb -c "SELECT pg_stat_force_next_flush()" >/dev/null
psqlb > "$B/rows.json" <<'SQL'
SELECT json_build_object(
  'tasks', (SELECT count(*) FROM aigw.gateway_tasks),
  'succeeded', (SELECT count(*) FROM aigw.gateway_tasks WHERE status = 'succeeded'),
  'finalBilled', (SELECT count(*) FROM aigw.gateway_tasks WHERE status = 'succeeded' AND billings::text LIKE '%"final"%'),
  'byStatus', (SELECT json_object_agg(status, n) FROM (SELECT status, count(*) n FROM aigw.gateway_tasks GROUP BY 1) s),
  'attempts', (SELECT count(*) FROM aigw.gateway_task_attempts),
  'events', (SELECT count(*) FROM aigw.gateway_task_events),
  'walletTx', (SELECT count(*) FROM aigw.gateway_wallet_transactions WHERE transaction_type <> 'adjustment'),
  'walletTxTypes', (SELECT json_object_agg(k, n) FROM (SELECT transaction_type || '/' || direction k, count(*) n
                      FROM aigw.gateway_wallet_transactions WHERE transaction_type <> 'adjustment' GROUP BY 1) w),
  'settlementOutbox', (SELECT count(*) FROM aigw.settlement_outbox),
  'callbackOutbox', (SELECT count(*) FROM aigw.gateway_task_callback_outbox),
  'ins', (SELECT json_object_agg(relname, n_tup_ins) FROM pg_stat_user_tables WHERE schemaname = 'aigw' AND n_tup_ins > 0),
  'upd', (SELECT json_object_agg(relname, n_tup_upd) FROM pg_stat_user_tables WHERE schemaname = 'aigw' AND n_tup_upd > 0),
  'xactCommit', (SELECT xact_commit FROM pg_stat_database WHERE datname = 'aigw'),
  'walBytes', (SELECT wal_bytes FROM pg_stat_wal),
  'settings', (SELECT json_object_agg(name, setting) FROM pg_settings WHERE name IN
    ('shared_buffers', 'synchronous_commit', 'fsync', 'max_connections', 'aigw.workers', 'aigw.worker_max_inflight', 'wal_buffers')))
SQL

kill -TERM "$MEM_PID" 2>/dev/null; wait "$MEM_PID" 2>/dev/null || true
cat > "$B/meta.json" <<META
{"machine": "$MACHINE", "pg": "$("$PG_CONFIG" --version) ($PG_FLAVOR)", "portkey": "$PORTKEY_VERSION",
 "node": "$(node --version)", "nginx": "$("$NGINX" -v 2>&1 | sed 's/.*\///')", "wrk": "$(wrk -v 2>&1 | head -n1 | cut -d' ' -f2)",
 "seconds": $SECS, "rounds": $ROUNDS, "chunks": $CHUNKS, "intervalMs": $INTERVAL_MS, "users": $NUSERS,
 "frontPool": $FRONT_POOL, "frontThreads": $FRONT_THREADS, "workers": $AIGW_WORKERS, "inflight": $AIGW_INFLIGHT,
 "sharedBuffers": "$PG_SHARED_BUFFERS", "date": "$(date -u +%Y-%m-%dT%H:%MZ)",
 "load": "$(tr '\n' ';' < "$RUNS/load.log")"}
META
node "$HERE/compare/table.mjs" "$RESULTS" "$B/meta.json" "$B/mem.json" "$B/rows.json" | tee "$B/table.md"
say "raw results: $RESULTS, table: $B/table.md"
