#!/usr/bin/env bash
# Benchmarks: scripts that print numbers, never timed tests. Release builds, real services.
# Each prints what it measured, the target of docs/performance.md and whether it was met.
#
#   scripts/bench.sh outbox [events] [per_second]   outbox commit -> consumer handler latency
#   scripts/bench.sh startup [--rounds N]           start-to-ready and idle memory per service
#   scripts/bench.sh checkout [--connections C] [--seconds S]
#                                                   checkout vs Postgres (pgbench), memory under
#                                                   load, invariants afterwards (needs wrk)
#   scripts/bench.sh catalog [--connections C] [--seconds S]
#                                                   product reads vs bare axum/tonic (needs wrk)
set -euo pipefail
source "$(dirname "$0")/dev-env.sh"
cd "$REPO_ROOT"
require_infra

# Postgres on loopback without TLS, for the shop and for pgbench alike: there is no network
# to protect, and it is how compose connects (its Postgres offers no TLS). Deployments across a
# network use sslmode=require (docs/performance.md says what TLS costs here).
export SHOP_TEST_DATABASE_URL="${SHOP_TEST_DATABASE_URL:-postgres://${PGUSER:-postgres}@$PG_HOST:$PG_PORT/postgres?sslmode=disable}"
export SHOP_TEST_REDIS_URL="${SHOP_TEST_REDIS_URL:-redis://127.0.0.1:$REDIS_PORT}"
export SHOP_TEST_AMQP_URL="${SHOP_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f}"

machine() {
  printf 'machine: %s cores, %s, %s\n' "$(nproc)" \
    "$(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo)" "$(uname -sr)"
}

case "${1:-help}" in
  outbox)
    shift
    machine
    cargo run --quiet --release -p shop-messaging --example outbox_latency -- "$@"
    ;;
  startup | checkout | catalog)
    bench=$1
    shift
    machine
    # The services exactly as scripts/system-test.sh builds them, then the measuring tool.
    cargo build --quiet --release --bins "${SERVICE_PACKAGES[@]}"
    cargo build --quiet --release -p shop-load
    export SHOP_SYSTEM_BIN_DIR
    SHOP_SYSTEM_BIN_DIR="$(target_dir)/release"
    "$SHOP_SYSTEM_BIN_DIR/shop-load" "$bench" "$@"
    ;;
  *)
    sed -n '2,11p' "$0"
    exit 1
    ;;
esac
