#!/usr/bin/env bash
# Pricing benchmark: microseconds per aigw.estimate_billing call from SQL with
# a warm candidate cache (many calls inside one statement, the cost of building
# the request subtracted), per model type and for an identity with a user
# group; plus the client-side latency of one estimate per round trip (pgbench).
# Needs a running aigw cluster (`make run` writes .aigw/env) or PG* variables
# pointing at a database with the aigw extension and its seed data.
# Usage: bench/pricing/run.sh [calls] [pgbench seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f .aigw/env ] && . .aigw/env
N=${1:-20000}
SECS=${2:-5}
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1)

echo "# aigw pricing benchmark ($(psql -X -At -c 'SHOW server_version'), assertions $(psql -X -At -c 'SHOW debug_assertions'))"
echo
echo "## SQL: microseconds per estimate inside one statement ($N calls, warm cache, no round trip)"
printf '%-52s %10s\n' request us/estimate
"${PSQL[@]}" 2>&1 <<SQL | sed "s/^NOTICE:  //"
CREATE TEMP TABLE bench_req (label text, r jsonb, ident jsonb);
INSERT INTO bench_req VALUES
  ('chat, anonymous', '{"model": "sim-chat", "messages": [{"role": "user", "content": "Hello there, how are you today?"}], "max_tokens": 256}', '{}'),
  ('embedding, anonymous', '{"model": "sim-embedding", "input": ["first text", "second text"]}', '{}'),
  ('image (size, quality, n), anonymous', '{"model": "sim-image", "prompt": "a cat", "size": "1024x1536", "quality": "high", "n": 2}', '{}'),
  ('video (duration, resolution, audio, ref), anonymous', '{"model": "sim-video", "prompt": "waves", "duration": 10, "resolution": "1080p", "audio": true, "image_url": "https://x/a.png"}', '{}'),
  ('audio (tts), anonymous', '{"model": "sim-tts", "input": "Hello from the simulation platform."}', '{}');
INSERT INTO aigw.gateway_user_groups (group_key, name, billing_discount_policy)
VALUES ('bench-pricing-pro', 'bench', '{"defaultDiscountFactor": 0.9, "modelTypeDiscounts": {"chat": 0.8}}')
ON CONFLICT (group_key) DO NOTHING;
INSERT INTO aigw.gateway_users (user_key, username, default_user_group_id)
SELECT 'bench-pricing-user', 'bench-pricing-user', id FROM aigw.gateway_user_groups WHERE group_key = 'bench-pricing-pro'
ON CONFLICT (user_key) DO NOTHING;
INSERT INTO bench_req SELECT 'chat, user with a user group', r, (SELECT jsonb_build_object('gatewayUserId', id) FROM aigw.gateway_users WHERE user_key = 'bench-pricing-user')
  FROM bench_req WHERE label = 'chat, anonymous';
DO \$\$
DECLARE
  b record; t0 timestamptz; base interval; spent interval; n int := $N;
BEGIN
  FOR b IN SELECT * FROM bench_req LOOP
    PERFORM aigw.estimate_billing(b.r, b.ident);             -- warm the cache and plans
    t0 := clock_timestamp();
    PERFORM count(b.r || jsonb_build_object('user', i % 7)) FROM generate_series(1, n) i;
    base := clock_timestamp() - t0;
    t0 := clock_timestamp();
    PERFORM count(aigw.estimate_billing(b.r || jsonb_build_object('user', i % 7), b.ident)) FROM generate_series(1, n) i;
    spent := clock_timestamp() - t0 - base;
    RAISE NOTICE '%', format('%-52s %10s', b.label, round((extract(epoch FROM spent) * 1e6 / n)::numeric, 2));
  END LOOP;
END
\$\$;
DELETE FROM aigw.gateway_users WHERE user_key = 'bench-pricing-user';
DELETE FROM aigw.gateway_user_groups WHERE group_key = 'bench-pricing-pro';
SQL

echo
echo "## Client: one estimate per round trip, pgbench -M prepared, 1 client, ${SECS}s"
script=$(mktemp)
trap 'rm -f "$script"' EXIT
cat > "$script" <<'PGB'
SELECT aigw.estimate_billing('{"model": "sim-chat", "messages": [{"role": "user", "content": "Hello there"}], "max_tokens": 256}', '{}');
PGB
pgbench -n -M prepared -c 1 -j 1 -T "$SECS" -f "$script" 2>/dev/null | grep -E 'latency average|tps' | sed 's/^/  /'
