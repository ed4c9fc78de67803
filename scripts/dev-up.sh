#!/usr/bin/env bash
# Runs the whole shop without Docker: builds the binaries, creates and migrates the databases,
# seeds the catalog, and starts all five services in the background with logs and pid files
# under .dev/. Running it again restarts the services with the current build.
#
#   scripts/dev-up.sh            build (debug) and start
#   SHOP_DEV_PROFILE=release     build and run optimised binaries (dist: as they ship)
#   SHOP_DEV_SKIP_BUILD=1        use the binaries already built
set -euo pipefail
source "$(dirname "$0")/dev-env.sh"

profile="${SHOP_DEV_PROFILE:-dev}"
bin_dir="$(target_dir)/$([[ $profile == dev ]] && echo debug || echo "$profile")"

require_infra

if [[ -z "${SHOP_DEV_SKIP_BUILD:-}" ]]; then
  log "building the services ($profile profile)..."
  (cd "$REPO_ROOT" && cargo build --profile "$profile" --bins "${SERVICE_PACKAGES[@]}")
fi
for entry in "${SERVICES[@]}"; do
  name=${entry%%:*}
  [[ -x "$bin_dir/shop-$name" ]] || die "$bin_dir/shop-$name is missing; build it or unset SHOP_DEV_SKIP_BUILD"
done

mkdir -p "$DEV_DIR"
"$REPO_ROOT/scripts/dev-down.sh" --quiet

# The order service calls inventory and payment as itself: it needs a client secret that the
# user service knows (by its digest). Made once, kept in .dev/ (never committed), reused on
# every restart.
secrets="$DEV_DIR/order-identity.env"
if [[ ! -s $secrets ]]; then
  (umask 077 && "$bin_dir/shop-user" service-credentials order >"$secrets") ||
    die "shop-user service-credentials failed"
fi
order_secret=$(sed -n 's/^SHOP_IDENTITY__CLIENT_SECRET=//p' "$secrets")
order_digest=$(sed -n 's/^SHOP_SERVICE_CLIENTS__ORDER=//p' "$secrets")
[[ -n $order_secret && -n $order_digest ]] || die "$secrets is incomplete; delete it and run again"

# What each service needs besides the defaults: its credentials, and ports that only this
# machine can reach (the gateway is the one door; backends and admin ports stay private).
service_env() {
  local name=$1 port=$2 admin=$3
  printf '%s\n' "SHOP_ADMIN__ADDR=127.0.0.1:$admin"
  case $name in
    gateway) printf '%s\n' "SHOP_HTTP__ADDR=0.0.0.0:$port" ;;
    *) printf '%s\n' "SHOP_GRPC__ADDR=127.0.0.1:$port" ;;
  esac
  case $name in
    user)
      printf '%s\n' "SHOP_SERVICE_CLIENTS__ORDER=$order_digest"
      # Customers' mail: to the SMTP server in SHOP_MAIL__SMTP_URL when set (Mailpit, say),
      # else as .eml files in .dev/mail/.
      [[ -n ${SHOP_MAIL__SMTP_URL:-} ]] || printf '%s\n' "SHOP_MAIL__DIR=$DEV_DIR/mail"
      ;;
    order) printf '%s\n' "SHOP_IDENTITY__CLIENT_SECRET=$order_secret" ;;
  esac
  # Runtime flags (docs/flags.md): edit the file and the running services follow; the gateway
  # shows them in the back office.
  printf '%s\n' "SHOP_FLAGS__FILE=$REPO_ROOT/infra/flags/flags.json"
}

# Each binary creates its database if needed and applies its migrations.
for entry in "${SERVICES[@]}"; do
  IFS=: read -r name port admin <<<"$entry"
  mapfile -t own < <(service_env "$name" "$port" "$admin")
  env "${own[@]}" "$bin_dir/shop-$name" migrate >>"$DEV_DIR/$name.log" 2>&1 ||
    die "shop-$name migrate failed; see $DEV_DIR/$name.log"
done
# An admin for the back office (admin@example.com), its password made once and kept in .dev/
# (never committed). create-admin updates the account if it exists.
admin_password_file="$DEV_DIR/admin-password"
if [[ ! -s $admin_password_file ]]; then
  (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(18))' >"$admin_password_file")
fi
mapfile -t own < <(service_env user 0 0)
env "${own[@]}" SHOP_ADMIN_PASSWORD="$(cat "$admin_password_file")" \
  "$bin_dir/shop-user" create-admin --email admin@example.com >>"$DEV_DIR/user.log" 2>&1 ||
  die "shop-user create-admin failed; see $DEV_DIR/user.log"
if "$bin_dir/shop-inventory" --help 2>/dev/null | grep -q '^  seed'; then
  "$bin_dir/shop-inventory" seed >>"$DEV_DIR/inventory.log" 2>&1 ||
    die "shop-inventory seed failed; see $DEV_DIR/inventory.log"
fi

for entry in "${SERVICES[@]}"; do
  IFS=: read -r name port admin <<<"$entry"
  port_open 127.0.0.1 "$port" && die "port $port (shop-$name) is taken by another process"
  port_open 127.0.0.1 "$admin" && die "port $admin (shop-$name admin) is taken by another process"
  mapfile -t own < <(service_env "$name" "$port" "$admin")
  env "${own[@]}" SHOP_LOG__FORMAT=json nohup "$bin_dir/shop-$name" serve >>"$DEV_DIR/$name.log" 2>&1 &
  echo $! >"$DEV_DIR/$name.pid"
done

# Ready means migrations done and dependencies answering (/readyz), not merely listening.
deadline=$((SECONDS + 60))
for entry in "${SERVICES[@]}"; do
  IFS=: read -r name port admin <<<"$entry"
  until [[ "$(http_status "http://127.0.0.1:$admin/readyz")" == 200 ]]; do
    if ! kill -0 "$(cat "$DEV_DIR/$name.pid")" 2>/dev/null; then
      tail -n 20 "$DEV_DIR/$name.log" >&2
      die "shop-$name exited during startup; log: $DEV_DIR/$name.log"
    fi
    ((SECONDS < deadline)) || die "shop-$name not ready after 60 s; log: $DEV_DIR/$name.log"
    sleep 0.1
  done
  log "shop-$name ready (port $port, admin $admin)"
done

log ""
log "Ferris Shop is running: http://localhost:8080"
log "Back office: sign in as admin@example.com with the password in $admin_password_file"
log "Logs and pids: $DEV_DIR/   Stop with: scripts/dev-down.sh"
