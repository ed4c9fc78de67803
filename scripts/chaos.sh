#!/usr/bin/env bash
# The fault suite (tests/chaos) on the release binaries: the five services as processes under a
# steady checkout and cancel load, faults applied one after another (kill -9 and restart of each
# service, a broker restart, Redis stopped and started, every Postgres connection cut, the
# order -> payment link stalled, the payment fault flags), then the ledger. Prints a table of
# faults, checkouts met and recovery times; fails when the books do not balance or a fault is
# never recovered from. See docs/chaos.md.
#
# It restarts the machine's RabbitMQ (rabbitmqctl stop_app / start_app): run it on its own.
#
#   scripts/chaos.sh                the short profile (every fault once, held 3 s), as CI runs it
#   scripts/chaos.sh --minutes N    rounds of every fault, held 10 s, for N minutes
#   SHOP_CHAOS_SKIP_BUILD=1         use the release binaries already built
set -euo pipefail
source "$(dirname "$0")/dev-env.sh"
cd "$REPO_ROOT"
export_test_urls

if [[ -z "${SHOP_CHAOS_SKIP_BUILD:-}" ]]; then
  log "building the services (release profile)..."
  cargo build --release --bins "${SERVICE_PACKAGES[@]}"
fi
export SHOP_SYSTEM_BIN_DIR
SHOP_SYSTEM_BIN_DIR="$(target_dir)/release"
cargo run --quiet -p shop-chaos -- "$@"
