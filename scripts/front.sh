#!/usr/bin/env bash
# aigw-http for the local cluster (called by scripts/cluster.sh):
#   start SOCKDIR PORT DBNAME DBUSER   start the front, print `export` lines for .aigw/env
#   stop | status | banner
# The front's state (pid, log, config, the first admin API key) is in $AIGW_STATE/front.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cmd=${1:-status}
if [ -z "${AIGW_STATE:-}" ]; then
  [ -f "$AIGW_DIR/env" ] && . "$AIGW_DIR/env"
fi
AIGW_STATE=${AIGW_STATE:-$AIGW_DIR}
FRONT_DIR="$AIGW_STATE/front"
PIDFILE="$FRONT_DIR/aigw-http.pid"
LOG="$FRONT_DIR/aigw-http.log"
CONF="$FRONT_DIR/aigw-http.conf"
KEYFILE="$FRONT_DIR/admin-api-key"
URLFILE="$FRONT_DIR/url"

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

do_start() {
  local sockdir=$1 port=$2 db=$3 dbuser=$4
  aigw_resolve_runuser
  local bin="${AIGW_STAGE:-$AIGW_STATE/stage}/bin/aigw-http"
  [ -x "$bin" ] || bin="$AIGW_ROOT/aigw-http"
  [ -x "$bin" ] || fail "aigw-http is not built"
  mkdir -p "$FRONT_DIR"
  chmod 700 "$FRONT_DIR"
  local psqlc=("${PG_BINDIR:?}/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$sockdir" -p "$port" -U "$dbuser" -d "$db")

  # The front logs in as aigw_http, which may only call the HTTP entry and channel functions.
  as_runuser "${psqlc[@]}" >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aigw_http') THEN
    CREATE ROLE aigw_http LOGIN IN ROLE aigw_front;
  END IF;
END $$;
SQL
  # A JWT secret for locally issued tokens, unless the operator set one.
  if [ -z "$(as_runuser "${psqlc[@]}" -c "SHOW aigw.jwt_secret")" ]; then
    local secret; secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    as_runuser "${psqlc[@]}" -c "ALTER SYSTEM SET aigw.jwt_secret = '$secret'" -c "SELECT pg_reload_conf()" >/dev/null
  fi
  # The first admin key: kept (0600) so that later runs print the same one.
  local key=""
  if [ -f "$KEYFILE" ]; then
    key=$(cat "$KEYFILE")
    if [ "$(as_runuser "${psqlc[@]}" -c "SELECT count(*) FROM aigw.gateway_api_keys WHERE key_hash = aigw.api_key_hash('$key') AND status = 'active'")" != 1 ]; then
      key=""
    fi
  fi
  if [ -z "$key" ]; then
    key=$(as_runuser "${psqlc[@]}" -c "SELECT aigw.create_admin_api_key('make run')")
    (umask 077; printf '%s\n' "$key" > "$KEYFILE")
  fi

  if running; then kill "$(cat "$PIDFILE")"; for _ in $(seq 1 50); do running || break; sleep 0.1; done; fi
  local hport=${AIGW_HTTP_PORT:-$(aigw_free_port 8080)}
  local static=""
  [ -d "$AIGW_ROOT/web/dist" ] && static="$AIGW_ROOT/web/dist"
  cat > "$CONF" <<CONF
# aigw-http settings written by scripts/front.sh
listen = 127.0.0.1:$hport
conninfo = host=$sockdir port=$port dbname=$db user=aigw_http application_name=aigw-http
pool_size = 8
threads = 2100
static_dir = $static
pidfile = $PIDFILE
CONF
  nohup "$bin" --config "$CONF" >>"$LOG" 2>&1 </dev/null &
  local url="http://127.0.0.1:$hport"
  for _ in $(seq 1 50); do
    curl -fsS "$url/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "$url/healthz" >/dev/null 2>&1 || { tail -n 20 "$LOG" >&2; fail "aigw-http did not start"; }
  echo "$url" > "$URLFILE"
  echo "export AIGW_URL='$url'"
  echo "export AIGW_API_KEY='$key'"
}

do_stop() {
  if running; then
    kill -TERM "$(cat "$PIDFILE")"
    for _ in $(seq 1 100); do running || break; sleep 0.1; done
    say "aigw-http stopped"
  fi
}

do_status() {
  if running; then
    echo "aigw-http: running (pid $(cat "$PIDFILE")) at $(cat "$URLFILE" 2>/dev/null)"
  else
    echo "aigw-http: stopped"; return 3
  fi
}

do_banner() {
  local url key
  url=$(cat "$URLFILE" 2>/dev/null || echo "http://127.0.0.1:8080")
  key=$(cat "$KEYFILE" 2>/dev/null || echo '$AIGW_API_KEY')
  cat <<MSG
  HTTP          : $url  (OpenAI-compatible at $url/v1, console at $url/)
  admin API key : $key   (also in .aigw/env as AIGW_API_KEY)

  try:
    curl -s $url/v1/chat/completions -H "Authorization: Bearer $key" \\
      -H 'Content-Type: application/json' \\
      -d '{"model":"sim-chat","messages":[{"role":"user","content":"Hello"}]}'

  or with the openai SDK (npm i openai):
    import OpenAI from "openai";
    const client = new OpenAI({ baseURL: "$url/v1", apiKey: process.env.AIGW_API_KEY });
    const r = await client.chat.completions.create({ model: "sim-chat", messages: [{ role: "user", content: "Hello" }] });
    console.log(r.choices[0].message.content);
MSG
}

case "$cmd" in
  start) shift; do_start "$@" ;;
  stop) do_stop ;;
  status) do_status ;;
  banner) do_banner ;;
  *) fail "usage: front.sh start SOCKDIR PORT DBNAME DBUSER | stop | status | banner" ;;
esac
