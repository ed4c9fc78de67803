# Shared by the scripts in this folder: locations, service table and infrastructure checks.
# Sourced, not run.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEV_DIR="$REPO_ROOT/.dev"

# name:public-port:admin-port, in start order (a service after those it calls), from the
# service table.
mapfile -t SERVICES < <(awk -F' *= *' '
  /^\[\[service\]\]/ { if (name != "") print name ":" port ":" admin; name = ""; port = ""; admin = "" }
  $1 == "name" { gsub(/"/, "", $2); name = $2 }
  $1 == "public" { port = $2 }
  $1 == "admin" { admin = $2 }
  END { if (name != "") print name ":" port ":" admin }
' "$REPO_ROOT/services.toml")

# `-p shop-<name>` for every service: what to build to run them all.
SERVICE_PACKAGES=()
for entry in "${SERVICES[@]}"; do SERVICE_PACKAGES+=(-p "shop-${entry%%:*}"); done

PG_HOST="${PGHOST:-127.0.0.1}"
PG_PORT="${PGPORT:-5432}"
REDIS_PORT="${SHOP_DEV_REDIS_PORT:-6379}"
AMQP_PORT="${SHOP_DEV_AMQP_PORT:-5672}"

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# True when something accepts TCP connections on host:port (bash's /dev/tcp, no tools needed).
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# Waits up to $3 seconds for host:port to accept connections.
wait_for_port() {
  local host=$1 port=$2 seconds=${3:-30} i
  for ((i = 0; i < seconds * 10; i++)); do
    port_open "$host" "$port" && return 0
    sleep 0.1
  done
  return 1
}

# HTTP status of GET url, or 000; uses curl when present, else bash's /dev/tcp.
http_status() {
  local url=$1
  if command -v curl >/dev/null 2>&1; then
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true
    return
  fi
  local rest=${url#http://} host port path
  host=${rest%%/*}; path=/${rest#*/}; port=${host##*:}; host=${host%%:*}
  (
    exec 3<>"/dev/tcp/$host/$port" || exit 0
    printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$host" >&3
    head -n1 <&3 | awk '{print $2}'
  ) 2>/dev/null || echo 000
}

# Fails with a clear message when Postgres, Redis or RabbitMQ is not reachable.
require_infra() {
  local missing=()
  port_open "$PG_HOST" "$PG_PORT" || missing+=("PostgreSQL on $PG_HOST:$PG_PORT")
  port_open 127.0.0.1 "$REDIS_PORT" || missing+=("Redis on 127.0.0.1:$REDIS_PORT")
  port_open 127.0.0.1 "$AMQP_PORT" || missing+=("RabbitMQ on 127.0.0.1:$AMQP_PORT")
  if ((${#missing[@]})); then
    log "Ferris Shop needs these running locally, and they are not reachable:"
    printf '  - %s\n' "${missing[@]}" >&2
    log "Start them (see README, 'Run without Docker'), or run everything with: docker compose up --build"
    exit 1
  fi
}

# Where cargo puts binaries: honours CARGO_TARGET_DIR like cargo itself.
target_dir() {
  printf '%s\n' "${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
}

# Points the tests at the local Postgres, Redis and RabbitMQ (SHOP_TEST_* URLs) when they answer;
# otherwise the test kit falls back to testcontainers.
export_test_urls() {
  if [[ -z "${SHOP_TEST_DATABASE_URL:-}" ]] && port_open "$PG_HOST" "$PG_PORT"; then
    export SHOP_TEST_DATABASE_URL="postgres://${PGUSER:-postgres}@$PG_HOST:$PG_PORT/postgres"
  fi
  if [[ -z "${SHOP_TEST_REDIS_URL:-}" ]] && port_open 127.0.0.1 "$REDIS_PORT"; then
    export SHOP_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  fi
  if [[ -z "${SHOP_TEST_AMQP_URL:-}" ]] && port_open 127.0.0.1 "$AMQP_PORT"; then
    export SHOP_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f"
  fi
}
