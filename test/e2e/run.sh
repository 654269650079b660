#!/usr/bin/env bash
# End-to-end tests: a PostgreSQL 18 instance with aigw, an aigw-http front on
# loopback, and e2e.mjs driving it with the official openai client, raw
# sockets (malformed requests) and fetch. Prints TAP; stops what it started.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
W=${AIGW_W:-$(cd "$HERE/../.." && pwd)}
. "$W/scripts/lib.sh"
OUT="$W/out/e2e"
mkdir -p "$OUT"
DATA="$W/tmp_e2e"
SOCK="$W/tmp_e2e_sock"
PGPORT_E2E=$(aigw_free_port $((58400 + ${AIGW_PORT_OFFSET:-0})))
HTTP_PORT=$(aigw_free_port $((18400 + ${AIGW_PORT_OFFSET:-0})))
BIN="${AIGW_STAGE:?}/bin/aigw-http"
FRONT_PID=""
N=0

tap() { N=$((N + 1)); if [ "$1" = ok ]; then echo "ok $N - $2"; else echo "not ok $N - $2"; fi; }
cleanup() {
  if [ -n "$FRONT_PID" ] && kill -0 "$FRONT_PID" 2>/dev/null; then kill -TERM "$FRONT_PID"; wait "$FRONT_PID" 2>/dev/null; fi
  [ -n "${MOCK_PID:-}" ] && kill "$MOCK_PID" 2>/dev/null
  [ -n "${SM_PID:-}" ] && kill "$SM_PID" 2>/dev/null
  [ -f "$DATA/postmaster.pid" ] && pg_ctl -D "$DATA" -w -m immediate stop >/dev/null 2>&1
  true
}
trap cleanup EXIT
psql_e2e() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PGPORT_E2E" -U postgres -d aigw "$@"; }
start_front() {
  "$BIN" --listen "127.0.0.1:$HTTP_PORT" --conninfo "host=$SOCK port=$PGPORT_E2E dbname=aigw user=aigw_http" \
    --pool-size 4 --threads 64 --max-body 1048576 --request-timeout-ms 2000 --wait-timeout-ms 20000 \
    --drain-timeout-ms 5000 --static-dir "$W/tmp_e2e_static" "$@" >>"$OUT/front.log" 2>&1 &
  FRONT_PID=$!
  for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

rm -rf "$DATA" "$SOCK"; mkdir -p "$SOCK" "$W/tmp_e2e_static/assets"
echo '<!doctype html><title>aigw console</title>' > "$W/tmp_e2e_static/index.html"
echo 'console.log(1)' > "$W/tmp_e2e_static/assets/app.js"
# A mock server-main that verifies sk- keys (test/mock/server-main-mock.mjs).
SM_PORT=$(aigw_free_port $((18600 + ${AIGW_PORT_OFFSET:-0})))
node "$W/test/mock/server-main-mock.mjs" "$SM_PORT" e2e-sm-token >"$OUT/server-main-mock.log" 2>&1 &
SM_PID=$!
for _ in $(seq 1 50); do grep -q listening "$OUT/server-main-mock.log" 2>/dev/null && break; sleep 0.1; done
initdb -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$OUT/initdb.log" 2>&1 || { echo "not ok 1 - initdb"; exit 1; }
{ cat "${AIGW_TEST_CONF:?}"; echo "port = $PGPORT_E2E"; echo "listen_addresses = ''"; echo "unix_socket_directories = '$SOCK'";
  echo "aigw.database = 'aigw'"; echo "aigw.jwt_secret = 'e2e-jwt-secret'"; echo "aigw.internal_token = 'e2e-internal-token'";
  echo "aigw.server_main_verify_url = 'http://127.0.0.1:$SM_PORT/internal/platform/auth/verify-api-key'";
  echo "aigw.server_main_token = 'e2e-sm-token'"; } >>"$DATA/postgresql.conf"
pg_ctl -D "$DATA" -l "$OUT/postgresql.log" -w start >/dev/null || { echo "not ok 1 - PostgreSQL starts"; exit 1; }
psql -X -q -h "$SOCK" -p "$PGPORT_E2E" -U postgres -d postgres -c "CREATE DATABASE aigw" >/dev/null
psql_e2e -c "CREATE EXTENSION aigw CASCADE" -c "CREATE ROLE aigw_http LOGIN IN ROLE aigw_front" >/dev/null 2>"$OUT/setup.log"
KEY=$(psql_e2e -c "SELECT aigw.create_admin_api_key('e2e')")
USER_KEY=sk-e2euser$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
psql_e2e >/dev/null <<SQL
INSERT INTO aigw.gateway_users (user_key, username, roles) VALUES ('e2e:user', 'e2e-user', '["user"]');
INSERT INTO aigw.gateway_api_keys (gateway_user_id, key_prefix, key_hash, name)
SELECT id, 'sk-e2euser', aigw.api_key_hash('$USER_KEY'), 'e2e user key' FROM aigw.gateway_users WHERE user_key = 'e2e:user';
SQL
# A mock OpenAI-compatible provider (test/mock/openai-mock.mjs) behind a platform of its own.
MOCK_PORT=$(aigw_free_port $((18500 + ${AIGW_PORT_OFFSET:-0})))
node "$W/test/mock/openai-mock.mjs" "$MOCK_PORT" >"$OUT/mock.log" 2>&1 &
MOCK_PID=$!
for _ in $(seq 1 50); do grep -q listening "$OUT/mock.log" 2>/dev/null && break; sleep 0.1; done
psql_e2e >/dev/null <<SQL
INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type, status)
VALUES ('e2e-openai', 'E2E mock OpenAI', 'openai_compatible', 'active');
INSERT INTO aigw.integration_platforms (provider, platform_key, name, base_url, credentials, priority, config)
VALUES ('e2e-openai', 'mock', 'Mock OpenAI', 'http://127.0.0.1:$MOCK_PORT/v1', '{"apiKey":"sk-mock"}', 10,
        '{"modelMap": {"gpt-e2e": "mock-ok"}, "timeoutMs": 5000}'),
       ('e2e-openai', 'mock429', 'Mock 429', 'http://127.0.0.1:$MOCK_PORT/v1', '{"apiKey":"sk-mock"}', 10,
        '{"modelMap": {"gpt-e2e-429": "mock-429"}, "timeoutMs": 5000}'),
       ('e2e-openai', 'mock500', 'Mock 500', 'http://127.0.0.1:$MOCK_PORT/v1', '{"apiKey":"sk-mock"}', 10,
        '{"modelMap": {"gpt-e2e-500": "mock-500"}, "timeoutMs": 5000}');
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override)
SELECT p.id, m.name, 'chat', m.name, 'custom', '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 2}}'
  FROM aigw.integration_platforms p
  JOIN (VALUES ('mock', 'gpt-e2e'), ('mock429', 'gpt-e2e-429'), ('mock500', 'gpt-e2e-500')) AS m(platform, name)
    ON m.platform = p.platform_key;
SQL
# The administrator pays from a local wallet: give it credit; the basic user has none.
psql_e2e -c "SELECT aigw.wallet_adjust(aigw.wallet_account(u.id, NULL, 'resource'), 1000, 'e2e-credit')
               FROM aigw.gateway_users u WHERE u.user_key = 'local:admin'" >/dev/null
# wait for the launcher so tasks run
for _ in $(seq 1 40); do
  [ "$(psql_e2e -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'aigw launcher'")" -ge 1 ] && break
  sleep 0.25
done

if start_front; then tap ok "aigw-http starts and answers /healthz"; else tap not "aigw-http starts and answers /healthz"; cat "$OUT/front.log"; exit 1; fi

AIGW_URL="http://127.0.0.1:$HTTP_PORT" AIGW_API_KEY="$KEY" AIGW_USER_KEY="$USER_KEY" TAP_START=$N \
  node "$HERE/e2e.mjs" > "$OUT/node.tap" 2>"$OUT/node.err"
rc=$?
cat "$OUT/node.tap"
N=$(grep -Ec '^(not )?ok [0-9]+' "$OUT/node.tap" | awk -v n="$N" '{print n + $1}')
if [ $rc -ne 0 ] && ! grep -q '^not ok' "$OUT/node.tap"; then tap not "e2e.mjs ran to the end (rc $rc)"; cat "$OUT/node.err"; fi

# Identity: server-main verified keys, presets, platform API execute, console directory routes.
AIGW_URL="http://127.0.0.1:$HTTP_PORT" AIGW_API_KEY="$KEY" SERVER_MAIN_URL="http://127.0.0.1:$SM_PORT" \
  MOCK_PROVIDER_URL="http://127.0.0.1:$MOCK_PORT/v1" TAP_START=$N \
  node "$HERE/identity.mjs" > "$OUT/identity.tap" 2>"$OUT/identity.err"
rc=$?
cat "$OUT/identity.tap"
N=$(grep -Ec '^(not )?ok [0-9]+' "$OUT/identity.tap" | awk -v n="$N" '{print n + $1}')
if [ $rc -ne 0 ] && ! grep -q '^not ok' "$OUT/identity.tap"; then tap not "identity.mjs ran to the end (rc $rc)"; cat "$OUT/identity.err"; fi

# TLS: a second front serves HTTPS with a self-signed certificate (--ssl-cert).
TLS_PORT=$(aigw_free_port $((18700 + ${AIGW_PORT_OFFSET:-0})))
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$OUT/tls-key.pem" -out "$OUT/tls-cert.pem" -days 2 \
     -subj /CN=localhost -addext subjectAltName=DNS:localhost >"$OUT/openssl.log" 2>&1; then
  cat "$OUT/tls-cert.pem" "$OUT/tls-key.pem" > "$OUT/tls.pem"
  "$BIN" --listen "127.0.0.1:${TLS_PORT}s" --ssl-cert "$OUT/tls.pem" --pool-size 1 --threads 4 --quiet \
    --conninfo "host=$SOCK port=$PGPORT_E2E dbname=aigw user=aigw_http" >>"$OUT/front-tls.log" 2>&1 &
  TLS_PID=$!
  body=""
  for _ in $(seq 1 50); do
    body=$(curl -s --cacert "$OUT/tls-cert.pem" --resolve "localhost:$TLS_PORT:127.0.0.1" "https://localhost:$TLS_PORT/healthz" 2>/dev/null) && break
    sleep 0.1
  done
  echo "$body" | grep -Eq '^\{"status": ?"ok"\}$' && tap ok "--ssl-cert serves HTTPS (certificate verified by curl)" \
    || tap not "--ssl-cert serves HTTPS (got '$body'; $(tail -n 3 "$OUT/front-tls.log"))"
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$TLS_PORT/healthz")
  [ "$code" != 200 ] && tap ok "the TLS port does not answer plain HTTP" || tap not "the TLS port answers plain HTTP"
  kill -TERM "$TLS_PID"; wait "$TLS_PID" 2>/dev/null
else
  tap not "openssl req makes a self-signed certificate ($(tail -n 2 "$OUT/openssl.log"))"
fi

# PostgreSQL restarts under the front while a committed task is pending: the
# client gets the result, or a 503 that names the task.
curl -s -i "http://127.0.0.1:$HTTP_PORT/v1/chat/completions" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"model":"sim-chat","messages":[{"role":"user","content":"survive the restart"}],"simulation_profile":{"latencyMs":2500}}' \
  > "$OUT/restart.out" 2>&1 &
CURL_PID=$!
sleep 1
pg_ctl -D "$DATA" -l "$OUT/postgresql.log" -w -m fast restart >/dev/null
wait "$CURL_PID"
if grep -q 'survive the restart' "$OUT/restart.out"; then
  tap ok "a task pending across a PostgreSQL restart still delivers its result"
elif head -1 "$OUT/restart.out" | grep -q ' 503' && grep -qi 'x-aigw-task-id' "$OUT/restart.out" \
     && grep -q "task $(grep -i '^x-aigw-task-id' "$OUT/restart.out" | tr -d '\r' | awk '{print $2}')" "$OUT/restart.out"; then
  tap ok "a task pending across a PostgreSQL restart answers 503 naming the task"
else
  tap not "a task pending across a PostgreSQL restart: result or 503 naming the task ($(head -c 400 "$OUT/restart.out"))"
fi

# After the restart the pool reconnects, GETs are retried.
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/healthz")
[ "$code" = 200 ] && tap ok "after a PostgreSQL restart the front answers again (GET retried on a fresh connection)" \
  || tap not "after a PostgreSQL restart the front answers again (got $code)"
ok=0
for _ in $(seq 1 50); do
  body=$(curl -s "http://127.0.0.1:$HTTP_PORT/v1/chat/completions" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -d '{"model":"sim-chat","messages":[{"role":"user","content":"after restart"}]}')
  case "$body" in *"after restart"*) ok=1; break ;; esac
  sleep 0.2
done
[ $ok = 1 ] && tap ok "after a PostgreSQL restart a chat completes through the re-established channel" \
  || tap not "after a PostgreSQL restart a chat completes (last: $body)"

# Graceful drain: a stream in flight when SIGTERM arrives still ends with [DONE].
curl -sN "http://127.0.0.1:$HTTP_PORT/v1/chat/completions" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"model":"sim-chat","stream":true,"messages":[{"role":"user","content":"drain me please"}],"simulation_profile":{"latencyMs":1500}}' \
  > "$OUT/drain.out" 2>&1 &
CURL_PID=$!
sleep 0.5
kill -TERM "$FRONT_PID"
wait "$CURL_PID"
wait "$FRONT_PID"; frc=$?
FRONT_PID=""
grep -q 'data: \[DONE\]' "$OUT/drain.out" && tap ok "SIGTERM drains an in-flight stream to its [DONE]" \
  || tap not "SIGTERM drains an in-flight stream to its [DONE] ($(head -c 300 "$OUT/drain.out"))"
[ $frc = 0 ] && tap ok "aigw-http exits 0 after draining" || tap not "aigw-http exits 0 after draining (rc $frc)"
(echo >"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null && tap not "the port is closed after shutdown" || tap ok "the port is closed after shutdown"

echo "1..$N"
