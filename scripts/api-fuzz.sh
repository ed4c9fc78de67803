#!/usr/bin/env bash
# Fuzzes the public API against its own OpenAPI document with schemathesis: every check, every
# phase (examples, coverage, fuzzing and stateful sequences). Fails on any 5xx, any answer the
# document does not describe (status, content type, headers, body schema), a valid request
# refused, an invalid one accepted, or a route that ignores its authentication.
#
#   scripts/api-fuzz.sh [schemathesis run options...]
#
# The shop it fuzzes is its own (isolated-shop, from tests/system): the five binaries on fresh
# databases, queues and Redis keys, dropped afterwards, so the thousands of products and
# orders the fuzzer makes never reach the developer's shop. Its gateway runs without rate
# limits (the fuzzer sends thousands of requests from one address; a 429 proves nothing about
# the route it hides), and the fuzzer signs in as an admin, so every route is reachable.
#   SHOP_FUZZ_SECONDS   time budget of the main run (default 120)
#   SHOP_FUZZ_PROFILE   the cargo profile to build and run (default dev)
# Settings and the few documented exceptions: tests/api-fuzz/schemathesis.toml.
set -euo pipefail
source "$(dirname "$0")/dev-env.sh"
cd "$REPO_ROOT"

SCHEMATHESIS_VERSION="4.32.5"
profile="${SHOP_FUZZ_PROFILE:-dev}"
bin_dir="$(target_dir)/$([[ $profile == dev ]] && echo debug || echo "$profile")"

require_infra
export_test_urls
cargo build --quiet --profile "$profile" --bins -p shop-system-tests "${SERVICE_PACKAGES[@]}"

venv="${SHOP_TOOLS_VENV:-$HOME/.cache/ferris-shop/venv}"
if [[ "$("$venv/bin/schemathesis" --version 2>/dev/null)" != *"$SCHEMATHESIS_VERSION"* ]]; then
  [[ -x "$venv/bin/pip" ]] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

work=$(mktemp -d)
shop_pid=""
cleanup() {
  if [[ -n $shop_pid ]]; then
    kill -TERM "$shop_pid" 2>/dev/null || true
    wait "$shop_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Two admins: logout revokes the token it is sent with, so it gets a run and a token of its own.
SHOP_SYSTEM_BIN_DIR="$bin_dir" "$bin_dir/isolated-shop" --no-rate-limits --admins 2 \
  >"$work/shop.json" 2>"$work/shop.log" &
shop_pid=$!
deadline=$((SECONDS + 90))
until [[ -s "$work/shop.json" ]]; do
  if ! kill -0 "$shop_pid" 2>/dev/null; then
    tail -n 30 "$work/shop.log" >&2
    die "isolated-shop exited before it was ready"
  fi
  ((SECONDS < deadline)) || die "isolated-shop not ready after 90 s"
  sleep 0.2
done
# isolated-shop's line: {"base_url": ..., "admin_tokens": [...]}, read one value at a time.
shop_info() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1" <"$work/shop.json"; }
token() { python3 -c 'import json, sys; print(json.load(sys.stdin)["admin_tokens"][int(sys.argv[1])])' "$1" <"$work/shop.json"; }
base=$(shop_info base_url)
log "fuzzing the shop at $base"

fuzz() {
  "$venv/bin/schemathesis" --config-file "$REPO_ROOT/tests/api-fuzz/schemathesis.toml" \
    run "$base/openapi.json" --checks all --no-color "$@"
}
log "every route but logout, ${SHOP_FUZZ_SECONDS:-120} s"
fuzz -H "Authorization: Bearer $(token 0)" \
  --exclude-operation-id logout --max-time "${SHOP_FUZZ_SECONDS:-120}" "$@"
log "logout"
fuzz -H "Authorization: Bearer $(token 1)" \
  --include-operation-id logout --max-time 20 "$@"
