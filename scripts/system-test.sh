#!/usr/bin/env bash
# The system tests (tests/system) and the fault suite's short profile (tests/chaos) against
# the release binaries: builds the five services with the release profile, then starts them as
# processes on the local Postgres, Redis and RabbitMQ and drives them through shop-client.
# Prints how long the suite took, after the build.
#
#   scripts/system-test.sh              build (release) and run
#   SHOP_SYSTEM_SKIP_BUILD=1            use the release binaries already built
set -euo pipefail
source "$(dirname "$0")/dev-env.sh"
cd "$REPO_ROOT"

if [[ -z "${SHOP_SYSTEM_SKIP_BUILD:-}" ]]; then
  log "building the services (release profile)..."
  cargo build --release --bins "$@" "${SERVICE_PACKAGES[@]}"
fi
export SHOP_SYSTEM_BIN_DIR
SHOP_SYSTEM_BIN_DIR="$(target_dir)/release"
for name in user inventory order payment gateway; do
  [[ -x "$SHOP_SYSTEM_BIN_DIR/shop-$name" ]] || die "$SHOP_SYSTEM_BIN_DIR/shop-$name is missing"
done

# The test harness itself is an ordinary (debug) test crate; only the services are release.
cargo test --no-run --quiet "$@" -p shop-system-tests -p shop-chaos
started=$SECONDS
# The fault suite's short profile (tests/chaos) runs here too, after the system tests: its
# binary is disruptive_* (it restarts the broker), so scripts/test.sh runs it alone.
scripts/test.sh "$@" -p shop-system-tests -p shop-chaos
log "system tests on release binaries: $((SECONDS - started)) s after the build"
