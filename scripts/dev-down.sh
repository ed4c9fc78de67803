#!/usr/bin/env bash
# Stops the services started by scripts/dev-up.sh: SIGTERM, then SIGKILL for any process still
# running after 10 s. Leaves the logs in .dev/.
set -euo pipefail
source "$(dirname "$0")/dev-env.sh"

quiet=${1:-}
shopt -s nullglob
for pidfile in "$DEV_DIR"/*.pid; do
  name=$(basename "$pidfile" .pid)
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "shop-$name did not stop within 10 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    [[ $quiet == --quiet ]] || log "stopped shop-$name"
  fi
  rm -f "$pidfile"
done
