#!/usr/bin/env bash
# Runtime benchmark: submit a chat task and wait for its result from SQL, against a
# zero-latency simulation platform. Needs a running cluster (make run).
# Prints submit-to-result latency at 1 client and throughput at 16 clients.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .aigw/env
DUR=${DUR:-10}
psql -X -q <<'SQL'
INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type, status)
VALUES ('bench-sim', 'Benchmark simulation', 'simulation', 'active') ON CONFLICT DO NOTHING;
INSERT INTO aigw.integration_platforms (provider, platform_key, name, auth_type)
VALUES ('bench-sim', 'bench-sim', 'Benchmark simulation', 'none') ON CONFLICT DO NOTHING;
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override)
SELECT id, 'bench-sim', 'chat', 'bench', 'custom', '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 2}}'
  FROM aigw.integration_platforms WHERE platform_key = 'bench-sim'
ON CONFLICT DO NOTHING;
SQL
for c in 1 16; do
  out=$("$PG_BINDIR/pgbench" -n -f bench/runtime/submit_await.sql -c "$c" -j "$c" -T "$DUR" 2>&1)
  lat=$(echo "$out" | sed -n 's/^latency average = \(.*\)$/\1/p')
  tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  printf 'clients %-3s  submit-to-result latency avg %-12s  tasks/s %s\n' "$c" "$lat" "$tps"
done
echo "rows per task: $(psql -X -tAc "SELECT round((SELECT count(*) FROM aigw.gateway_task_attempts)::numeric / greatest(count(*),1), 2) || ' attempts, ' || round((SELECT count(*) FROM aigw.gateway_task_events)::numeric / greatest(count(*),1), 2) || ' events' FROM aigw.gateway_tasks")"
