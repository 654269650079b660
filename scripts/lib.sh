# shellcheck shell=bash
# Shared helpers of the aigw scripts: repository paths, the PostgreSQL to use,
# the unprivileged OS user that runs servers, and the staging tree.

AIGW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AIGW_DIR="$AIGW_ROOT/.aigw"

say() { printf '[aigw] %s\n' "$*" >&2; }
fail() { printf '[aigw] error: %s\n' "$*" >&2; exit 1; }

# Resolves PG_CONFIG (building PostgreSQL 18 on first use) and the bin directory.
aigw_resolve_pg() {
  local out
  out=$("$AIGW_ROOT/scripts/setup.sh" | tail -n 1) || fail "setup failed"
  PG_CONFIG=${out#PG_CONFIG=}
  PG_BINDIR=$("$PG_CONFIG" --bindir)
  PG_PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
  PGXS_DIR=$(dirname "$("$PG_CONFIG" --pgxs)")/../..
  PGXS_DIR=$(cd "$PGXS_DIR" && pwd)
  export PG_CONFIG PG_BINDIR
}

# Servers never run as root: pick (and if needed create) the OS user that runs them.
aigw_resolve_runuser() {
  if [ "$(id -u)" -eq 0 ]; then
    AIGW_RUNUSER=${AIGW_RUNUSER:-aigw}
    if ! id "$AIGW_RUNUSER" >/dev/null 2>&1; then
      say "creating OS user $AIGW_RUNUSER to run PostgreSQL (it refuses to run as root)"
      useradd --system --create-home --home-dir "/var/lib/$AIGW_RUNUSER" --shell /bin/bash "$AIGW_RUNUSER"
    fi
  else
    AIGW_RUNUSER=$(id -un)
  fi
  export AIGW_RUNUSER
}

# Runs a command as the server user, keeping the environment we pass explicitly.
as_runuser() {
  if [ "$(id -u)" -eq 0 ] && [ "$AIGW_RUNUSER" != root ]; then
    runuser -u "$AIGW_RUNUSER" -- "$@"
  else
    "$@"
  fi
}

# The directory holding server state: .aigw/ in the repository when the server
# user can reach it, else a directory under /var/lib/aigw named after the repository.
aigw_resolve_statedir() {
  mkdir -p "$AIGW_DIR"
  if as_runuser test -x "$AIGW_DIR" 2>/dev/null && as_runuser test -r "$AIGW_ROOT/aigw.control"; then
    AIGW_STATE="$AIGW_DIR"
  else
    local h; h=$(printf '%s' "$AIGW_ROOT" | sha1sum | cut -c1-12)
    AIGW_STATE="/var/lib/aigw-state/$h"
  fi
  mkdir -p "$AIGW_STATE"
  export AIGW_STATE
}

# Builds the extension and the front, and copies them to the staging tree.
aigw_build_stage() {
  say "building aigw"
  make -s -C "$AIGW_ROOT" PG_CONFIG="$PG_CONFIG" >&2 || fail "build failed"
  AIGW_STAGE="$AIGW_STATE/stage"
  rm -rf "$AIGW_STAGE"
  make -s -C "$AIGW_ROOT" PG_CONFIG="$PG_CONFIG" STAGE="$AIGW_STAGE" stage >&2 || fail "staging failed"
  chmod -R a+rX "$AIGW_STAGE"
  export AIGW_STAGE
}

# Builds aigw against $2 (a pg_config) from a copy of this tree in $1/src, so
# that the tree's own objects stay as they are, and stages it in $1/stage
# (AIGW_STAGE). The benchmarks use it for the release build.
aigw_build_copy() {
  local dir=$1 pgc=$2
  mkdir -p "$dir/src"
  tar -C "$AIGW_ROOT" --exclude=./.aigw --exclude=./.git --exclude='./bench/node_modules' --exclude='*.o' \
    --exclude='*.so' --exclude=./aigw-http -cf - . | tar -C "$dir/src" -xf -
  make -s -C "$dir/src" PG_CONFIG="$pgc" >"$dir/build.log" 2>&1 || { tail -n 30 "$dir/build.log" >&2; fail "build failed"; }
  rm -rf "$dir/stage"
  make -s -C "$dir/src" PG_CONFIG="$pgc" STAGE="$dir/stage" stage >>"$dir/build.log" 2>&1 || fail "staging failed"
  AIGW_STAGE="$dir/stage"
  chmod -R a+rX "$AIGW_STAGE"
}

# postgresql.conf lines that load aigw from the staging tree.
aigw_conf_lines() {
  cat <<CONF
shared_preload_libraries = 'aigw'
extension_control_path = '$AIGW_STAGE/share:\$system'
dynamic_library_path = '$AIGW_STAGE/lib:\$libdir'
CONF
}

# SQL that writes $1 MB of WAL and then checkpoints, so that the checkpoint
# recycles those segments as the cluster's next ones (the cluster needs
# min_wal_size of at least $1 MB). A fresh cluster otherwise creates and
# zero-fills a new 16 MB segment for every 16 MB of WAL it writes, which a
# server that has run a while does not do: the benchmarks measure that server
# (docs/benchmarks.md, "Settings"). The WAL statistics are reset afterwards.
aigw_wal_prefill_sql() {
  cat <<SQL
SELECT count(pg_logical_emit_message(false, 'aigw-bench-prefill', repeat('x', 1048576))) FROM generate_series(1, $1);
CHECKPOINT;
SELECT pg_stat_reset_shared('wal');
SQL
}

# Starts nginx ($1) as the fixed-answer mock provider in directory $2, on
# 127.0.0.1:$3: every request gets the JSON of file $4 with status 200, at once.
# One worker process; aigw_mock_nginx_stop stops it.
aigw_mock_nginx_start() {
  local nginx=$1 dir=$2 port=$3 body
  body=$(tr -d '\n' < "$4")
  mkdir -p "$dir"
  cat > "$dir/nginx.conf" <<CONF
# The fixed-answer mock provider: every POST /v1/chat/completions gets the same body.
worker_processes 1;
worker_rlimit_nofile 65536;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  client_body_buffer_size 64k;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  server {
    listen 127.0.0.1:$port backlog=4096;
    location / {
      default_type application/json;
      return 200 '$body';
    }
  }
}
CONF
  "$nginx" -p "$dir" -c "$dir/nginx.conf" -g 'daemon on;' || fail "nginx did not start"
}

# Stops the mock nginx of directory $1, if its pid file names an nginx process
# (a pid file left by a run before a reboot may name another process now).
aigw_mock_nginx_stop() {
  local pid
  pid=$(cat "$1/nginx.pid" 2>/dev/null) || return 0
  case $pid in ''|*[!0-9]*) return 0 ;; esac
  grep -q nginx "/proc/$pid/cmdline" 2>/dev/null && kill -QUIT "$pid" 2>/dev/null
  rm -f "$1/nginx.pid"
}

# Finds a free TCP port on the loopback interface, starting at $1.
aigw_free_port() {
  local p=${1:-54329}
  while (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}
