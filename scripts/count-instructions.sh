#!/usr/bin/env bash
# Instructions the gateway executes per cached product read, counted by callgrind: a figure
# that does not move with the machine's load, for comparing two builds on a noisy machine where
# req/s ratios move by ten points from run to run. Prints the count per request and the
# functions that execute the most (their own instructions, not their callees').
#
#   scripts/count-instructions.sh [gateway binary] [seconds]
#       (default: the gateway as it ships, the dist profile's build; 15 s of load)
#
# Runs the shop as scripts/dev-up.sh does (dist binaries; SHOP_DEV_SKIP_BUILD=1 uses the
# ones already built), then replaces its gateway with the given binary under callgrind, fills
# the catalog cache with one product, zeroes the counters, drives wrk against that product
# and reads the counters back. Only user space is counted: the kernel's share (sockets, wake-
# ups) is not, so the count says what the gateway's own code costs, not its whole CPU time.
# Needs valgrind, wrk and python3. Leaves the shop running (scripts/dev-down.sh stops it).
set -euo pipefail
source "$(dirname "$0")/dev-env.sh"
cd "$REPO_ROOT"
for tool in valgrind callgrind_control wrk python3; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian: valgrind, wrk, python3)"
done
gateway="${1:-$(target_dir)/dist/shop-gateway}"
seconds="${2:-15}"

SHOP_DEV_PROFILE=dist "$REPO_ROOT/scripts/dev-up.sh"
[[ -x $gateway ]] || die "$gateway is not an executable"
IFS=: read -r _ port admin < <(printf '%s\n' "${SERVICES[@]}" | grep '^gateway:')
kill "$(cat "$DEV_DIR/gateway.pid")"
while port_open 127.0.0.1 "$port"; do sleep 0.1; done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# As dev-up.sh starts it, without the rate limits (one client would be measuring them).
SHOP_ADMIN__ADDR="127.0.0.1:$admin" SHOP_HTTP__ADDR="127.0.0.1:$port" \
  SHOP_FLAGS__FILE="$REPO_ROOT/infra/flags/flags.json" SHOP_LOG__FORMAT=json \
  SHOP_RATE_LIMIT__ENABLED=false \
  valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" "$gateway" serve \
  >"$work/gateway.log" 2>&1 &
gateway_pid=$!
deadline=$((SECONDS + 120))
until [[ "$(http_status "http://127.0.0.1:$admin/readyz")" == 200 ]]; do
  kill -0 "$gateway_pid" 2>/dev/null || { tail -n 20 "$work/gateway.log" >&2; die "the gateway exited"; }
  ((SECONDS < deadline)) || die "the gateway under callgrind was not ready within 120 s"
  sleep 0.5
done

base="http://127.0.0.1:$port/api/v1/products"
id=$(curl -fsS "$base" | python3 -c 'import json, sys; print(json.load(sys.stdin)["items"][0]["id"])')
for _ in 1 2 3; do curl -fsS -o /dev/null "$base/$id"; done
callgrind_control --zero "$gateway_pid" >/dev/null
wrk -t1 -c4 -d"${seconds}s" "$base/$id" >"$work/wrk.txt"
callgrind_control --dump "$gateway_pid" >/dev/null
kill "$gateway_pid"
wait "$gateway_pid" || true
requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
errors=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.txt")
[[ -z $errors ]] || die "$errors answers were not 2xx: $(cat "$work/wrk.txt")"

echo "gateway: $gateway"
python3 - "$work/callgrind.out.1" "$requests" <<'EOF'
import collections, re, sys

# callgrind's format: `fn=` starts a function's lines; a line of numbers is "position cost",
# the function's own; the line after `calls=` is the inclusive cost of that call, skipped.
path, requests = sys.argv[1], int(sys.argv[2])
names, own = {}, collections.Counter()
def name(text):
    m = re.match(r"\((\d+)\)(?: (.*))?", text)
    if not m:
        return text
    if m.group(2):
        names[m.group(1)] = m.group(2)
    return names.get(m.group(1), m.group(1))
function, after_call = None, False
for line in open(path, errors="replace"):
    line = line.rstrip("\n")
    if line.startswith("fn="):
        function = name(line[3:])
    elif line.startswith(("cfn=", "cfi=", "cfl=")):
        if line.startswith("cfn="):
            name(line[4:])
    elif line.startswith("calls="):
        after_call = True
    elif line[:1].isdigit() or line[:1] in "+-*":
        if after_call:
            after_call = False
        elif function and len(line.split()) >= 2:
            own[function] += int(line.split()[1])
total = sum(own.values())
print(f"cached product read: {total / requests:.0f} instructions per request "
      f"({requests} requests, {total} instructions in the gateway's user space)")
print("the functions executing the most, per request:")
for function, count in own.most_common(25):
    print(f"  {100 * count / total:5.1f} % {count / requests:7.0f}  {function[:140]}")
EOF
