#!/usr/bin/env bash
# make test: installs what is missing, builds aigw, and runs every test layer
# (pg_regress, pgTAP, isolation, TAP, end to end). Ends with "N passed, N failed".
set -euo pipefail
. "$(dirname "$0")/lib.sh"

aigw_resolve_pg
aigw_resolve_runuser
aigw_resolve_statedir
aigw_build_stage
if [ -x "$AIGW_ROOT/scripts/test-deps.sh" ]; then "$AIGW_ROOT/scripts/test-deps.sh"; fi

W="$AIGW_STATE/test"
rm -rf "$W"
mkdir -p "$W"
cp -r "$AIGW_ROOT/sql" "$AIGW_ROOT/expected" "$AIGW_ROOT/test" "$AIGW_ROOT/scripts" "$W/"
for d in bench http_front; do [ -d "$AIGW_ROOT/$d" ] && cp -r "$AIGW_ROOT/$d" "$W/"; done
if [ "$(id -u)" -eq 0 ]; then chown -R "$AIGW_RUNUSER" "$W"; chown "$AIGW_RUNUSER" "$AIGW_STATE"; fi

set +e
as_runuser env PATH="$PG_BINDIR:$PATH" PG_CONFIG="$PG_CONFIG" PG_BINDIR="$PG_BINDIR" PGXS_DIR="$PGXS_DIR" \
  AIGW_STAGE="$AIGW_STAGE" AIGW_W="$W" AIGW_ONLY="${AIGW_ONLY:-}" AIGW_PORT_OFFSET="${AIGW_PORT_OFFSET:-0}" HOME="$W" \
  bash "$W/scripts/test-layers.sh"
rc=$?
set -e
exit $rc
