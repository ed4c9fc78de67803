#!/usr/bin/env bash
# Proves the repository works as a template, on copies of it (the checkout itself is left
# alone):
#
# 1. `cargo xtask new-service reviews` on one copy: the new service passes clippy and rustfmt,
#    its own tests on real Postgres, Redis and RabbitMQ (it starts, answers health and
#    reflection, serves its RPCs as its authorization table says, applies its migrations and
#    reacts to a confirmed order once), and the deployment check accepts its compose, Kubernetes,
#    Istio, Prometheus and Postgres entries;
# 2. `cargo xtask rename acme-store` on another copy: the renamed workspace builds.
#
# The copies and their build output live in $SHOP_TEMPLATE_DIR (default
# ~/.cache/ferris-shop/template), so a second run is incremental. Needs what scripts/test.sh
# and scripts/validate-deploy.sh need.
set -euo pipefail
source "$(dirname "$0")/dev-env.sh"

base="${SHOP_TEMPLATE_DIR:-$HOME/.cache/ferris-shop/template}"
export CARGO_TARGET_DIR="$base/target"
export_test_urls

step() { printf '\n-- %s\n' "$*" >&2; }

# A copy of every file git knows about (committed, or new and not ignored), with its times kept
# so unchanged crates stay built; a git repository of its own, since rename asks git.
fresh_copy() {
  local to=$1
  rm -rf "$to"
  mkdir -p "$to"
  (cd "$REPO_ROOT" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 cp --parents --preserve=timestamps -t "$to")
  (cd "$to" && git init --quiet && git add --all && git -c user.name=ci -c user.email=ci@localhost \
    commit --quiet --message "copy")
}

run_tests() {
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run "$@"
  else
    cargo test "$@"
  fi
}

step "a new service: cargo xtask new-service reviews"
fresh_copy "$base/generated"
(
  cd "$base/generated"
  cargo xtask new-service reviews
  cargo fmt --all -- --check
  cargo clippy -p shop-reviews --all-targets -- -D warnings
  run_tests -p shop-reviews
  scripts/validate-deploy.sh
)

step "a renamed project: cargo xtask rename acme-store"
fresh_copy "$base/renamed"
(
  cd "$base/renamed"
  cargo xtask rename acme-store
  if grep -rIl --exclude-dir=.git --exclude=Cargo.lock -e 'shop-order' -e 'SHOP_DATABASE' . >/dev/null; then
    log "the renamed copy still names shop-order or SHOP_DATABASE:"
    grep -rIl --exclude-dir=.git --exclude=Cargo.lock -e 'shop-order' -e 'SHOP_DATABASE' . >&2
    exit 1
  fi
  cargo build --workspace
)

step "the template holds: a generated service and a renamed project both work"
