#!/usr/bin/env bash
# CPU profile of every service under the checkout load: runs `scripts/bench.sh checkout`, samples
# the five service processes with perf while wrk drives them, and writes one flame graph per
# service (SVG; frames narrower than a pixel are left out to keep the files small).
#
#   scripts/profile.sh [out dir] [seconds sampled]     (default docs/profiles, 15 s)
#
# Needs perf (Debian: linux-perf; the software clock event is enough, so it works in VMs that
# have no hardware counters) and inferno (`cargo install inferno`: inferno-collapse-perf,
# inferno-flamegraph). Samples at 499 Hz with DWARF unwinding: the dist binaries keep their
# symbols and unwind tables, no special build is needed. Sampling costs throughput while it
# runs; the bench's own figures in the same run are not the budget's figures.
set -euo pipefail
source "$(dirname "$0")/dev-env.sh"
cd "$REPO_ROOT"
out="${1:-docs/profiles}"
seconds="${2:-15}"
for tool in perf inferno-collapse-perf inferno-flamegraph; do
  command -v "$tool" >/dev/null || {
    echo "profile: $tool not found (perf: apt-get install linux-perf; inferno: cargo install inferno)" >&2
    exit 1
  }
done
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

scripts/bench.sh checkout --seconds $((seconds + 15)) >"$work/bench.txt" 2>&1 &
bench=$!
# The load starts once the customers have signed in: wait for wrk, then let it warm up.
for _ in $(seq 600); do
  pgrep -x wrk >/dev/null && break
  sleep 0.5
done
pgrep -x wrk >/dev/null || {
  cat "$work/bench.txt" >&2
  echo "profile: the load never started" >&2
  exit 1
}
sleep 3
pids=$(pgrep -d, -x 'shop-(user|inventory|payment|order|gateway)')
declare -A pid_of
for service in user inventory payment order gateway; do
  pid_of[$service]=$(pgrep -x "shop-$service")
done
perf record --quiet -e cpu-clock -F 499 --call-graph dwarf,32768 -p "$pids" \
  -o "$work/perf.data" -- sleep "$seconds" 2>"$work/perf.log" || {
  cat "$work/perf.log" >&2
  exit 1
}
wait "$bench"
cat "$work/bench.txt"

# Folded stacks start with "<thread name>-<pid>": one flame graph per service, rooted at the
# thread's name (tokio workers, blocking pool, ...).
perf script -F comm,pid,tid,time,event,ip,sym,dso -i "$work/perf.data" 2>/dev/null |
  inferno-collapse-perf --pid >"$work/all.folded"
for service in user inventory payment order gateway; do
  pid=${pid_of[$service]}
  { grep -E "^[^;]*-$pid;" "$work/all.folded" || true; } |
    sed -E "s/^([^;]*)-$pid;/\1;/" >"$work/shop-$service.folded"
  if [[ -s "$work/shop-$service.folded" ]]; then
    inferno-flamegraph --minwidth 1 --title "shop-$service under scripts/bench.sh checkout" \
      <"$work/shop-$service.folded" >"$out/shop-$service.svg"
    samples=$(awk '{s += $NF} END {print s}' "$work/shop-$service.folded")
    echo "profile: shop-$service, $samples samples at 499 Hz -> $out/shop-$service.svg"
  fi
done
