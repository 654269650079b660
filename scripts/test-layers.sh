#!/usr/bin/env bash
# Runs the test layers as the server user inside the work directory $AIGW_W.
# AIGW_ONLY=regress,pgtap,isolation,tap,e2e limits the layers.
set -uo pipefail
W=$AIGW_W
cd "$W"
OUT="$W/out"
mkdir -p "$OUT"
. "$W/scripts/lib.sh"
AIGW_STAGE=${AIGW_STAGE:?}

CONF="$W/aigw-test.conf"
# the key that seals platform credentials, and the loopback mocks the SSRF guard must let through
KEYFILE="$W/aigw-credential.key"
[ -f "$KEYFILE" ] || (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$KEYFILE")
{
  aigw_conf_lines
  echo "aigw.database = 'postgres'"
  echo "aigw.credential_key_file = '$KEYFILE'"
  echo "aigw.outbound_allow_hosts = '127.0.0.1, localhost, ::1'"
  echo "fsync = off"
  echo "max_connections = 200"
  echo "log_min_messages = warning"
} > "$CONF"
export AIGW_TEST_CONF="$CONF"

PASSED=0
FAILED=0
SUMMARY=""

want() { [ -z "${AIGW_ONLY:-}" ] || [[ ",$AIGW_ONLY," == *",$1,"* ]]; }

# Counts TAP result lines of a layer's log; a layer that failed without a
# "not ok" line (a crash, a setup error) counts as one failure.
tally() {
  local name=$1 log=$2 rc=$3 p f
  p=$(grep -Ec '^(.*\.\. )?ok [0-9]+' "$log")
  f=$(grep -Ec '^(.*\.\. )?not ok [0-9]+' "$log")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; echo "[aigw test] $name ran no test" >&2; fi
  PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
  SUMMARY="$SUMMARY$(printf '  %-10s %4d passed, %d failed' "$name" "$p" "$f")\n"
  if [ "$f" -gt 0 ]; then
    echo "[aigw test] $name: failures, see $log" >&2
    grep -E '^(.*\.\. )?not ok' "$log" >&2 || tail -n 30 "$log" >&2
    for d in "$OUT"/$name/regression.diffs; do [ -f "$d" ] && head -n 80 "$d" >&2; done
  fi
}

layer_regress() {
  local tests; tests=$(cd sql && ls *.sql 2>/dev/null | sed 's/\.sql$//' | sort)
  [ -n "$tests" ] || return 0
  echo "[aigw test] pg_regress: $(echo $tests | wc -w) tests" >&2
  "$PGXS_DIR/src/test/regress/pg_regress" --temp-instance="$W/tmp_regress" --temp-config="$CONF" \
    --inputdir="$W" --outputdir="$OUT/regress" --bindir="$PG_BINDIR" --port="$(aigw_free_port $((58100 + ${AIGW_PORT_OFFSET:-0})))" \
    --load-extension=pgcrypto --load-extension=aigw --dbname=contrib_regression $tests \
    > "$OUT/regress.log" 2>&1
  tally regress "$OUT/regress.log" $?
}

layer_isolation() {
  local specs; specs=$(cd test/isolation/specs && ls *.spec 2>/dev/null | sed 's/\.spec$//' | sort)
  [ -n "$specs" ] || return 0
  echo "[aigw test] isolation: $(echo $specs | wc -w) specs" >&2
  "$PGXS_DIR/src/test/isolation/pg_isolation_regress" --temp-instance="$W/tmp_isolation" \
    --temp-config="$CONF" --inputdir="$W/test/isolation" --outputdir="$OUT/isolation" \
    --bindir="$PG_BINDIR" --port="$(aigw_free_port $((58200 + ${AIGW_PORT_OFFSET:-0})))" \
    --load-extension=pgcrypto --load-extension=aigw --dbname=isolation_regression $specs \
    > "$OUT/isolation.log" 2>&1
  tally isolation "$OUT/isolation.log" $?
}

layer_pgtap() {
  ls test/pgtap/*.sql >/dev/null 2>&1 || return 0
  echo "[aigw test] pgTAP: $(ls test/pgtap/*.sql | wc -l) suites" >&2
  local data="$W/tmp_pgtap" sock="$W/tmp_pgtap_sock" port rc
  port=$(aigw_free_port $((58300 + ${AIGW_PORT_OFFSET:-0})))
  mkdir -p "$sock"
  initdb -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 > "$OUT/pgtap-initdb.log" 2>&1
  { cat "$CONF"; echo "port = $port"; echo "listen_addresses = ''"; echo "unix_socket_directories = '$sock'"; } >> "$data/postgresql.conf"
  pg_ctl -D "$data" -l "$OUT/pgtap-server.log" -w start > /dev/null
  psql -X -q -h "$sock" -p "$port" -U postgres -d postgres -c "CREATE DATABASE aigw_tap" \
    -c "\\c aigw_tap" -c "CREATE EXTENSION pgtap; CREATE EXTENSION aigw CASCADE;" > "$OUT/pgtap-setup.log" 2>&1
  pg_prove -v -h "$sock" -p "$port" -U postgres -d aigw_tap test/pgtap/*.sql > "$OUT/pgtap.log" 2>&1
  rc=$?
  pg_ctl -D "$data" -w -m fast stop > /dev/null
  tally pgtap "$OUT/pgtap.log" $rc
}

layer_tap() {
  # AIGW_TAP_ONLY=330 runs the scripts whose names start with it
  local scripts
  scripts=$(ls test/tap/t/${AIGW_TAP_ONLY:-}*.pl 2>/dev/null) || return 0
  echo "[aigw test] TAP: $(echo "$scripts" | wc -l) scripts" >&2
  mkdir -p "$OUT/tap"
  # shellcheck disable=SC2086
  TESTDATADIR="$OUT/tap/data" TESTLOGDIR="$OUT/tap/log" PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
    prove -v -I "$PGXS_DIR/src/test/perl" -I "$W/test/tap" $scripts > "$OUT/tap.log" 2>&1
  tally tap "$OUT/tap.log" $?
}

layer_e2e() {
  [ -x "$W/test/e2e/run.sh" ] || return 0
  echo "[aigw test] end to end" >&2
  "$W/test/e2e/run.sh" > "$OUT/e2e.log" 2>&1
  tally e2e "$OUT/e2e.log" $?
}

for l in regress pgtap isolation tap e2e; do
  if want "$l"; then "layer_$l"; fi
done

printf '\n%b' "$SUMMARY"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
