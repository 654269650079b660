#!/usr/bin/env bash
# Benchmarks aigw-http on its own PostgreSQL instance built against a chosen
# PostgreSQL (default: the release flavor, AIGW_PG_FLAVOR=release, built by
# scripts/setup.sh on first use). The assert-enabled build checks every memory
# context at the end of each transaction, which costs ~40% of a backend's CPU
# on this path, so throughput figures are taken on a release build.
# Usage: bench/http/standalone.sh [seconds] [streams]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/scripts/lib.sh"
SECS=${1:-10}
STREAMS=${2:-2000}
PGC=${BENCH_PG_CONFIG:-$(AIGW_PG_FLAVOR=release "$ROOT/scripts/setup.sh" | tail -n1 | sed 's/^PG_CONFIG=//')}
BIN=$("$PGC" --bindir)
aigw_resolve_runuser
WORK=$(mktemp -d /tmp/aigw-http-bench.XXXXXX)
chmod 755 "$WORK"
FPID=""
cleanup() {
  [ -n "$FPID" ] && kill -TERM "$FPID" 2>/dev/null && wait "$FPID" 2>/dev/null
  [ -f "$WORK/data/postmaster.pid" ] && as_runuser "$BIN/pg_ctl" -D "$WORK/data" -w -m immediate stop >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

git -C "$ROOT" archive HEAD | tar -x -C "$WORK"
make -s -C "$WORK" PG_CONFIG="$PGC" >/dev/null
make -s -C "$WORK" PG_CONFIG="$PGC" STAGE="$WORK/stage" stage >/dev/null
chmod -R a+rX "$WORK"
mkdir -p "$WORK/sock"
[ "$(id -u)" -eq 0 ] && chown "$AIGW_RUNUSER" "$WORK/sock" "$WORK"
PORT=$(aigw_free_port 58990)
as_runuser "$BIN/initdb" -D "$WORK/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_runuser tee -a "$WORK/data/postgresql.conf" >/dev/null <<CONF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$WORK/sock'
shared_preload_libraries = 'aigw'
extension_control_path = '$WORK/stage/share:\$system'
dynamic_library_path = '$WORK/stage/lib:\$libdir'
aigw.database = 'aigw'
CONF
as_runuser "$BIN/pg_ctl" -D "$WORK/data" -l "$WORK/pg.log" -w start >/dev/null
psqlc() { as_runuser "$BIN/psql" -X -q -At -h "$WORK/sock" -p "$PORT" -U postgres "$@"; }
psqlc -d postgres -c "CREATE DATABASE aigw"
psqlc -d aigw -c "CREATE EXTENSION aigw CASCADE" -c "CREATE ROLE aigw_http LOGIN IN ROLE aigw_front" 2>/dev/null
KEY=$(psqlc -d aigw -c "SELECT aigw.create_admin_api_key('bench')")
HPORT=$(aigw_free_port 18990)
"$WORK/stage/bin/aigw-http" --listen "127.0.0.1:$HPORT" --conninfo "host=$WORK/sock port=$PORT dbname=aigw user=aigw_http" \
  --pool-size 8 --threads $((STREAMS + 64)) --quiet 2>"$WORK/front.log" &
FPID=$!
URL="http://127.0.0.1:$HPORT"
for _ in $(seq 1 50); do curl -fsS "$URL/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

echo "== $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $("$PGC" --version), $("$PGC" --configure | grep -q enable-cassert && echo assert-enabled || echo release)"
echo "== /healthz (route, handler and response in SQL), 32 connections, ${SECS}s"
wrk -t2 -c32 -d"${SECS}s" --latency "$URL/healthz" | grep -E 'Requests/sec|Latency  |50%|99%'
echo "== /v1/models (API key auth + model list in SQL), 32 connections, ${SECS}s"
wrk -t2 -c32 -d"${SECS}s" --latency -H "Authorization: Bearer $KEY" "$URL/v1/models" | grep -E 'Requests/sec|Latency  |50%|99%'
echo "== $STREAMS concurrent SSE chat streams (simulation platform)"
node "$ROOT/bench/http/sse-streams.mjs" "$URL" "$KEY" "$STREAMS" "$FPID"
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
