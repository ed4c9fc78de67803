#!/usr/bin/env bash
# Contract tests (pact). Consumers write pacts (test modules named pact_consumer); providers
# verify the committed copies in tests/pacts/ (test modules named pact_provider).
#
#   scripts/pacts.sh          the contract layer alone: regenerate the consumers' pacts, check
#                             they equal the committed ones, then verify every provider
#   scripts/pacts.sh check    only regenerate and compare (what .ci/run does; the providers run
#                             with the rest of scripts/test.sh)
#   scripts/pacts.sh update   rewrite tests/pacts/ from the consumers (after a deliberate
#                             change of a contract; review the diff and commit it)
set -euo pipefail
source "$(dirname "$0")/dev-env.sh"
cd "$REPO_ROOT"
export_test_urls

mode="${1:-all}"
committed="$REPO_ROOT/tests/pacts"

# Runs the tests of every module called $1 in the workspace (each crate's integration-test
# binary has one), with extra arguments $2...
run_tests() {
  local module=$1
  shift
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast -E "test(/^$module::/)" "$@"
  else
    cargo test --workspace --no-fail-fast --tests "$@" -- "$module"
  fi
}

regenerate_into() {
  export SHOP_PACT_DIR="$1"
  run_tests pact_consumer "${@:2}"
  unset SHOP_PACT_DIR
}

case $mode in
  update)
    rm -f "$committed"/*.json
    mkdir -p "$committed"
    regenerate_into "$committed" "${@:2}"
    log "pacts written to tests/pacts/; review with git diff and commit them"
    ;;
  check | all)
    fresh=$(mktemp -d)
    trap 'rm -rf "$fresh"' EXIT
    regenerate_into "$fresh" "${@:2}"
    if ! diff -ru "$committed" "$fresh"; then
      die "the consumers' pacts differ from tests/pacts/ (diff above): if the change is meant, run scripts/pacts.sh update and commit the result, then make the providers pass"
    fi
    log "the committed pacts are what the consumers generate"
    if [[ $mode == all ]]; then
      run_tests pact_provider "${@:2}"
    fi
    ;;
  *)
    die "usage: scripts/pacts.sh [check|update]"
    ;;
esac
