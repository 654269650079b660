#!/usr/bin/env bash
# aigw-http benchmark. Needs `make run` (it reads .aigw/env). Prints:
#  1. a route answered from SQL alone (/healthz: route, handler, response built
#     in the extension) with wrk at 32 connections;
#  2. an authenticated SQL-only route (/v1/models with an API key);
#  3. N concurrent SSE chat streams (default 2000) through a dedicated front,
#     with that front's peak RSS.
# Usage: bench/http/run.sh [seconds] [streams]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ -f "$ROOT/.aigw/env" ] || { echo "run 'make run' first" >&2; exit 1; }
. "$ROOT/.aigw/env"
SECS=${1:-10}
STREAMS=${2:-2000}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
CONF="$AIGW_STATE/front/aigw-http.conf"

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); PostgreSQL $("$PG_BINDIR/pg_config" --version) ($("$PG_BINDIR/pg_config" --configure | grep -q enable-cassert && echo assert-enabled || echo release))"
echo "== /healthz (SQL-only route), 32 connections, ${SECS}s"
wrk -t2 -c32 -d"${SECS}s" --latency "$AIGW_URL/healthz" | grep -E 'Requests/sec|Latency|50%|99%'
echo "== /v1/models (API key auth + model list from SQL), 32 connections, ${SECS}s"
wrk -t2 -c32 -d"${SECS}s" --latency -H "Authorization: Bearer $AIGW_API_KEY" "$AIGW_URL/v1/models" | grep -E 'Requests/sec|Latency|50%|99%'

echo "== $STREAMS concurrent SSE streams through a dedicated aigw-http"
PORT=18999
"$ROOT/aigw-http" --config "$CONF" --listen "127.0.0.1:$PORT" --threads $((STREAMS + 64)) --pool-size 8 \
  --pidfile /tmp/aigw-bench-front.pid --quiet 2>/tmp/aigw-bench-front.log &
FPID=$!
trap 'kill -TERM $FPID 2>/dev/null; wait $FPID 2>/dev/null' EXIT
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
ulimit -n 65536 2>/dev/null || true
node "$(dirname "$0")/sse-streams.mjs" "http://127.0.0.1:$PORT" "$AIGW_API_KEY" "$STREAMS" "$FPID"
