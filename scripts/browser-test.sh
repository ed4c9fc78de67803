#!/usr/bin/env bash
# The storefront's main flows in headless Chromium (playwright-core driving Debian's chromium),
# against the shop running at BASE_URL (default http://localhost:8080: scripts/dev-up.sh).
# Screenshots land in tests/artifacts/.
set -euo pipefail
source "$(dirname "$0")/dev-env.sh"
cd "$REPO_ROOT/tests/browser"

export CHROMIUM="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
if [[ -z "$CHROMIUM" ]]; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing Chromium from Debian's packages"
    apt-get install -y -q chromium >/dev/null
    CHROMIUM=$(command -v chromium)
  else
    die "Chromium is needed for the browser test: install the 'chromium' package (or set CHROMIUM)"
  fi
fi
command -v npm >/dev/null 2>&1 || die "npm is needed for the browser test (Node.js 18 or later)"

npm ci --no-audit --no-fund --silent
# The back office's admin, as scripts/dev-up.sh made it.
if [[ -z "${ADMIN_PASSWORD:-}" && -s "$DEV_DIR/admin-password" ]]; then
  ADMIN_PASSWORD=$(cat "$DEV_DIR/admin-password")
fi
export ADMIN_PASSWORD
BASE_URL="${BASE_URL:-http://localhost:8080}" ARTIFACTS_DIR="$REPO_ROOT/tests/artifacts" node checkout.test.mjs
