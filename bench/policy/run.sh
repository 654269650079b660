#!/usr/bin/env bash
# Policy engine benchmark: failover decisions per second in C, and the cost of
# one SQL call of each decision function.  Needs a running aigw cluster
# (`make run`, which writes .aigw/env) or PG* variables pointing at a database
# with the aigw extension.  Usage: bench/policy/run.sh [decisions] [seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f .aigw/env ] && . .aigw/env
N=${1:-500000}
SECS=${2:-5}
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1)

echo "# aigw policy benchmark ($(psql -X -At -c 'SHOW server_version'), assertions $(psql -X -At -c 'SHOW debug_assertions'))"
echo
echo "## C loop: classify + failover decision, seed 000 default policy, $N decisions each"
printf '%-44s %14s %12s\n' failure decisions/s us/decision
while IFS='|' read -r label override err; do
  "${PSQL[@]}" -c "SELECT format('%-44s %14s %12s', '$label', r->>'decisionsPerSecond', round((r->>'microsecondsPerDecision')::numeric, 3))
                     FROM aigw.bench_failover_decisions(aigw.seed_runner_policy(), '$override', '$err', $N) r"
done <<'CASES'
503 (allow category)|{}|{"code":"server_error","status":503,"message":"upstream temporarily unavailable"}
401 invalid key (disable_and_next)|{}|{"code":"invalid_api_key","status":401,"message":"Incorrect API key provided"}
400 (hard stop)|{}|{"status":400,"message":"bad request: missing required field"}
unclassified, every list scanned (stop)|{}|{"code":"weird","status":302,"message":"redirected somewhere odd"}
503 with a model override|{"failoverPolicy":{"allowCategories":["network"],"cooldownSeconds":60}}|{"status":503,"message":"Service Unavailable"}
CASES

echo
echo "## SQL: microseconds per call inside one statement (100000 calls, no client round trip)"
printf '%-44s %12s\n' function us/call
for q in "failover_decision|aigw.failover_decision(p, '{}', e)" \
         "failover_decision, policy detoasted per call|aigw.failover_decision(tp, '{}', e)" \
         "retry_decision|aigw.retry_decision(rp, e)" \
         "demote_decision|aigw.demote_decision(p, e)" \
         "classify_failure|aigw.classify_failure(e)"; do
  label=${q%%|*}; expr=${q#*|}
  "${PSQL[@]}" <<SQL
-- p and e are computed once and held in memory; tp is the same policy stored
-- in a table (compressed), as a row read from gateway_runner_policies is.
CREATE TEMP TABLE IF NOT EXISTS bench_t AS SELECT aigw.seed_runner_policy() AS tp;
CREATE OR REPLACE TEMP VIEW bench_p AS
  SELECT * FROM (SELECT aigw.seed_runner_policy() AS p, '{"status":503,"message":"Service Unavailable"}'::jsonb AS e,
                        '{"allowCategories":["provider_5xx"]}'::jsonb AS rp OFFSET 0) v, bench_t;
DO \$\$
DECLARE t0 timestamptz; t1 timestamptz; base interval; n int := 100000;
BEGIN
  t0 := clock_timestamp();
  PERFORM count(p) FROM bench_p, generate_series(1, n);
  base := clock_timestamp() - t0;
  t0 := clock_timestamp();
  PERFORM count($expr) FROM bench_p, generate_series(1, n);
  t1 := clock_timestamp();
  RAISE NOTICE '%', format('%-44s %12s', '$label',
    round((extract(epoch FROM (t1 - t0) - base) * 1e6 / n)::numeric, 2));
END \$\$;
SQL
done 2>&1 | sed 's/^NOTICE:  //'

echo
echo "## SQL: one prepared statement per round trip (pgbench -M prepared, 1 client, 3 x ${SECS}s each, best run)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
P=$(psql -X -At -c "SELECT aigw.seed_runner_policy()")
printf '\\set s random(400, 504)\nSELECT aigw.failover_decision(%s, %s, jsonb_build_object(%s, :s::int));\n' \
  "'$P'" "'{}'" "'status'" > "$tmp/call.sql"
printf '\\set s random(400, 504)\nSELECT jsonb_build_object(%s, :s::int);\n' "'status'" > "$tmp/base.sql"
latency() { pgbench -n -M prepared -c 1 -T "$SECS" -f "$1" 2>/dev/null | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p'; }
a=999; b=999
for i in 1 2 3; do   # interleaved, so both see the same machine load
  a=$(awk -v x="$a" -v y="$(latency "$tmp/call.sql")" 'BEGIN { print (y < x ? y : x) }')
  b=$(awk -v x="$b" -v y="$(latency "$tmp/base.sql")" 'BEGIN { print (y < x ? y : x) }')
done
echo "  failover_decision statement: ${a} ms; same statement without the call: ${b} ms"
echo "  cost of the call: $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (a - b) * 1000 }') us"
