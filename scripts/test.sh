#!/usr/bin/env bash
# Runs every test of the workspace against real Postgres, Redis and RabbitMQ.
#
# When they answer on their default local ports, the tests use them (SHOP_TEST_* URLs);
# otherwise the test kit starts containers through testcontainers (Docker needed). Extra
# arguments go to the test runner, e.g. `scripts/test.sh -p shop-order`.
set -euo pipefail
source "$(dirname "$0")/dev-env.sh"
cd "$REPO_ROOT"

export_test_urls

# The whole workspace unless the caller picked packages (-p/--package).
scope=(--workspace)
for arg in "$@"; do
  case $arg in -p | --package | -p=* | --package=*) scope=() ;; esac
done

if cargo nextest --version >/dev/null 2>&1; then
  # Tests that disrupt shared infrastructure (restarting the broker) live in test binaries
  # named disruptive_*; they run alone, after everything else has finished.
  cargo nextest run "${scope[@]}" --no-fail-fast -E 'not binary(/^disruptive_/)' "$@"
  # Only when the packages in scope have such tests: a second, empty run would end the
  # output with "0 tests run" and hide the count that matters.
  # If listing fails (an argument `list` does not take), run them anyway.
  if ! disruptive=$(cargo nextest list "${scope[@]}" -E 'binary(/^disruptive_/)' \
    --message-format oneline "$@" 2>/dev/null) || [[ -n $disruptive ]]; then
    cargo nextest run "${scope[@]}" --no-fail-fast -E 'binary(/^disruptive_/)' \
      --test-threads 1 --no-tests=pass "$@"
  fi
else
  # cargo test runs one test binary at a time, so disruptive binaries already run alone.
  log "cargo-nextest not found; using cargo test (install: cargo install cargo-nextest)"
  cargo test "${scope[@]}" --no-fail-fast "$@"
fi
