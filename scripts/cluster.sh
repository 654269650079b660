#!/usr/bin/env bash
# Local aigw cluster: run | stop | status | psql | env
#   run     build, start PostgreSQL 18 with aigw (and aigw-http once built), write .aigw/env
#   stop    stop what run started
#   status  show what is running
#   psql    open psql on the cluster
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cmd=${1:-status}
ENV_FILE="$AIGW_DIR/env"
DBNAME=${AIGW_DBNAME:-aigw}
DBUSER=postgres

load_env() { [ -f "$ENV_FILE" ] && . "$ENV_FILE"; true; }

pg_running() {
  [ -n "${AIGW_PGDATA:-}" ] && [ -f "$AIGW_PGDATA/postmaster.pid" ] \
    && as_runuser "$PG_BINDIR/pg_ctl" -D "$AIGW_PGDATA" status >/dev/null 2>&1
}

write_env() {
  umask 077
  cat > "$ENV_FILE" <<ENV
# Written by 'make run'. Source it: . .aigw/env
export PGHOST='$SOCKDIR'
export PGPORT='$PORT'
export PGDATABASE='$DBNAME'
export PGUSER='$DBUSER'
export AIGW_PGDATA='$PGDATA'
export AIGW_STATE='$AIGW_STATE'
export PG_BINDIR='$PG_BINDIR'
export PG_CONFIG='$PG_CONFIG'
export PATH='$PG_BINDIR':"\$PATH"
${EXTRA_ENV:-}
ENV
  chmod 600 "$ENV_FILE"
}

do_run() {
  aigw_resolve_pg
  aigw_resolve_runuser
  aigw_resolve_statedir
  aigw_build_stage
  PGDATA="$AIGW_STATE/data"
  SOCKDIR="$AIGW_STATE/sock"
  LOGFILE="$AIGW_STATE/postgresql.log"
  mkdir -p "$SOCKDIR"
  chmod 700 "$SOCKDIR"
  if [ "$(id -u)" -eq 0 ]; then chown "$AIGW_RUNUSER" "$AIGW_STATE" "$SOCKDIR"; fi
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    say "initialising a PostgreSQL 18 cluster in $PGDATA"
    as_runuser "$PG_BINDIR/initdb" -D "$PGDATA" -U "$DBUSER" --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$AIGW_STATE/initdb.log" 2>&1 || { cat "$AIGW_STATE/initdb.log" >&2; fail "initdb failed"; }
    PORT=$(aigw_free_port 54329)
    as_runuser tee -a "$PGDATA/postgresql.conf" >/dev/null <<CONF

# ---- aigw local cluster
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCKDIR'
aigw.database = '$DBNAME'
$(aigw_conf_lines)
CONF
  fi
  # platform credentials are sealed with a key kept outside the data directory
  if ! grep -q "^aigw.credential_key_file" "$PGDATA/postgresql.conf"; then
    local keyfile="$AIGW_STATE/credential.key"
    if [ ! -f "$keyfile" ]; then
      (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$keyfile")
      if [ "$(id -u)" -eq 0 ]; then chown "$AIGW_RUNUSER" "$keyfile"; fi
    fi
    printf '%s\n' "aigw.credential_key_file = '$keyfile'" "aigw.outbound_allow_hosts = '127.0.0.1, localhost, ::1'" \
      | as_runuser tee -a "$PGDATA/postgresql.conf" >/dev/null
  fi
  PORT=$(sed -n "s/^port = \([0-9]*\)$/\1/p" "$PGDATA/postgresql.conf" | tail -n1)
  export AIGW_PGDATA="$PGDATA"
  local lib_sum; lib_sum=$(sha1sum "$AIGW_STAGE/lib/aigw.so" | cut -c1-40)
  if pg_running; then
    if [ "$(cat "$AIGW_STATE/loaded.sha1" 2>/dev/null)" != "$lib_sum" ]; then
      say "aigw changed: restarting PostgreSQL"
      as_runuser "$PG_BINDIR/pg_ctl" -D "$PGDATA" -l "$LOGFILE" -w -m fast restart >/dev/null
    fi
  else
    if (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
      PORT=$(aigw_free_port "$PORT")
      as_runuser sed -i "s/^port = [0-9]*$/port = $PORT/" "$PGDATA/postgresql.conf"
    fi
    say "starting PostgreSQL on port $PORT"
    as_runuser "$PG_BINDIR/pg_ctl" -D "$PGDATA" -l "$LOGFILE" -w start >/dev/null \
      || { tail -n 20 "$LOGFILE" >&2; fail "PostgreSQL did not start"; }
  fi
  echo "$lib_sum" > "$AIGW_STATE/loaded.sha1"
  local psqlc=("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKDIR" -p "$PORT" -U "$DBUSER")
  if ! as_runuser "${psqlc[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'" | grep -q 1; then
    as_runuser "${psqlc[@]}" -d postgres -c "CREATE DATABASE $DBNAME" >/dev/null
  fi
  # An install script that changed under the same version (unreleased work) cannot be
  # applied by ALTER EXTENSION UPDATE: say so, or recreate when asked to.
  local schema_sum; schema_sum=$(cat "$AIGW_STAGE"/share/extension/aigw--*.sql | sha1sum | cut -c1-40)
  local installed; installed=$(as_runuser "${psqlc[@]}" -d "$DBNAME" -tAc "SELECT extversion FROM pg_extension WHERE extname = 'aigw'")
  if [ -n "$installed" ] && [ -f "$AIGW_STATE/schema.sha1" ] && [ "$(cat "$AIGW_STATE/schema.sha1")" != "$schema_sum" ] \
     && [ ! -f "$AIGW_STAGE/share/extension/aigw--$installed--$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$AIGW_ROOT/aigw.control").sql" ]; then
    if [ "${AIGW_RECREATE:-}" = 1 ]; then
      say "recreating extension aigw in $DBNAME (AIGW_RECREATE=1): its data is dropped"
      as_runuser "${psqlc[@]}" -d "$DBNAME" -c "DROP EXTENSION aigw CASCADE" >/dev/null
    else
      fail "the installed aigw $installed was made by a different install script of the same version; run AIGW_RECREATE=1 make run to drop and recreate it (its data is lost)"
    fi
  fi
  as_runuser "${psqlc[@]}" -d "$DBNAME" >/dev/null <<SQL
CREATE EXTENSION IF NOT EXISTS aigw CASCADE;
ALTER EXTENSION aigw UPDATE;
SQL
  echo "$schema_sum" > "$AIGW_STATE/schema.sha1"
  # The launcher connects once the database exists (it retries every 5 s).
  for _ in $(seq 1 40); do
    as_runuser "${psqlc[@]}" -d "$DBNAME" -tAc \
      "SELECT 1 FROM pg_stat_activity WHERE backend_type = 'aigw launcher'" | grep -q 1 && break
    sleep 0.25
  done
  EXTRA_ENV=""
  if [ -x "$AIGW_ROOT/scripts/front.sh" ]; then
    EXTRA_ENV=$("$AIGW_ROOT/scripts/front.sh" start "$SOCKDIR" "$PORT" "$DBNAME" "$DBUSER")
  fi
  write_env
  cat <<MSG

aigw is running.
  PostgreSQL 18 : port $PORT, socket $SOCKDIR, database $DBNAME, user $DBUSER
  connect       : make psql          (or: . .aigw/env && psql)
  try           : make psql  then  SELECT aigw.version();
  stop          : make stop
MSG
  if [ -n "$EXTRA_ENV" ]; then "$AIGW_ROOT/scripts/front.sh" banner; fi
}

do_stop() {
  load_env
  [ -n "${AIGW_PGDATA:-}" ] || { say "nothing to stop (no .aigw/env)"; return 0; }
  aigw_resolve_runuser
  if [ -x "$AIGW_ROOT/scripts/front.sh" ]; then "$AIGW_ROOT/scripts/front.sh" stop || true; fi
  if [ -f "$AIGW_PGDATA/postmaster.pid" ]; then
    as_runuser "$PG_BINDIR/pg_ctl" -D "$AIGW_PGDATA" -w -m fast stop >/dev/null && say "PostgreSQL stopped"
  else
    say "PostgreSQL is not running"
  fi
}

do_status() {
  load_env
  [ -n "${AIGW_PGDATA:-}" ] || { echo "aigw: not set up (run: make run)"; return 3; }
  aigw_resolve_runuser
  if pg_running; then
    echo "PostgreSQL: running on port $PGPORT (socket $PGHOST)"
    as_runuser "$PG_BINDIR/psql" -X -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$PGDATABASE" -c \
      "SELECT pid, backend_type, state, wait_event FROM pg_stat_activity WHERE backend_type LIKE 'aigw%' ORDER BY pid"
  else
    echo "PostgreSQL: stopped"; return 3
  fi
  if [ -x "$AIGW_ROOT/scripts/front.sh" ]; then "$AIGW_ROOT/scripts/front.sh" status || true; fi
}

do_psql() {
  load_env
  [ -n "${PGPORT:-}" ] || fail "not running: make run"
  aigw_resolve_runuser
  shift || true
  exec "$PG_BINDIR/psql" -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$PGDATABASE" "$@"
}

case "$cmd" in
  run) do_run ;;
  stop) do_stop ;;
  status) do_status ;;
  psql) do_psql "$@" ;;
  *) fail "usage: cluster.sh run|stop|status|psql" ;;
esac
