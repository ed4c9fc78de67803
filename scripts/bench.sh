#!/usr/bin/env bash
# Benchmarks: scripts that print numbers, never timed tests. Release builds, real services.
#
#   scripts/bench.sh outbox [events] [per_second]   outbox commit -> consumer handler latency
set -euo pipefail
source "$(dirname "$0")/dev-env.sh"
cd "$REPO_ROOT"
require_infra

export SHOP_TEST_DATABASE_URL="${SHOP_TEST_DATABASE_URL:-postgres://${PGUSER:-postgres}@$PG_HOST:$PG_PORT/postgres}"
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
  *)
    sed -n '2,5p' "$0"
    exit 1
    ;;
esac
