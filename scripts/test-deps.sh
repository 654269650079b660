#!/usr/bin/env bash
# Installs what the end-to-end tests need (the pinned openai npm client in
# test/e2e/node_modules), once per lock file. Called by scripts/test.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
E2E="$AIGW_ROOT/test/e2e"
[ -f "$E2E/package-lock.json" ] || exit 0
if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing Node.js and npm for the end-to-end tests"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm >/dev/null || say "could not install nodejs/npm"
fi
command -v npm >/dev/null 2>&1 || { say "npm not found: the e2e layer will report it"; exit 0; }
stamp="$E2E/node_modules/.aigw-lock.sha1"
want=$(sha1sum "$E2E/package-lock.json" | cut -c1-40)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing the e2e test dependencies (npm ci)"
  (cd "$E2E" && npm ci --no-audit --no-fund --loglevel=error >&2) || fail "npm ci failed in test/e2e"
  echo "$want" > "$stamp"
fi
