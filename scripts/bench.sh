#!/usr/bin/env bash
# Benchmarks: scripts that print numbers, never timed tests. Real services, built as they ship
# (the dist profile: whole-program LTO, ADR 23; the first build takes a while); the outbox
# bench is a library example, built with the release profile.
# Each prints what it measured, the target of docs/performance.md and whether it was met.
#
#   scripts/bench.sh outbox [events] [per_second]   outbox commit -> consumer handler latency
#   scripts/bench.sh startup [--rounds N]           start-to-ready and idle memory per service
#   scripts/bench.sh checkout [--connections C] [--seconds S]
#                                                   checkout vs Postgres (pgbench), memory under
#                                                   load, invariants afterwards (needs wrk)
#   scripts/bench.sh catalog [--connections C] [--seconds S]
#                                                   product reads vs bare axum/tonic (needs wrk)
#   startup, checkout and catalog take --runs N: the bench N times in a row, then the median
#   and the spread of every measured line, and in how many runs each target was met
#   scripts/bench.sh self-test                      the summary of --runs checked against a
#                                                   known answer (tests/load/fixtures)
set -euo pipefail
source "$(dirname "$0")/dev-env.sh"
cd "$REPO_ROOT"

# Postgres on loopback without TLS, for the shop and for pgbench alike: there is no network
# to protect, and it is how compose connects (its Postgres offers no TLS). Deployments across a
# network use sslmode=require (docs/performance.md says what TLS costs here).
export SHOP_TEST_DATABASE_URL="${SHOP_TEST_DATABASE_URL:-postgres://${PGUSER:-postgres}@$PG_HOST:$PG_PORT/postgres?sslmode=disable}"
export SHOP_TEST_REDIS_URL="${SHOP_TEST_REDIS_URL:-redis://127.0.0.1:$REDIS_PORT}"
export SHOP_TEST_AMQP_URL="${SHOP_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f}"

# Reads the output of several runs; for every line that measured something prints the median
# and the spread of its value (the number after the last ' = ' where there is one, else the
# first number) and, where it has a target, in how many runs the target was met.
summarize() {
  awk '
    # A run starts afresh: its first lines sit under no head until one comes.
    /^== / { head = ""; next }
    # A line that ends in a colon heads the lines under it (their names repeat across heads).
    /:$/ && index($0, ": ") == 0 {
      head = $0
      sub(/ \(.*\):$/, ":", head)
      if (match($0, /\(-?[0-9]+(\.[0-9]+)? ms in all/)) {
        value = substr($0, RSTART + 1, RLENGTH - 1) + 0
        record(head "\t    all processes", value, "ms", "")
      }
      next
    }
    {
      colon = index($0, ": ")
      if (colon == 0) next
      name = substr($0, 1, colon - 1)
      rest = substr($0, colon + 2)
      target = ""
      t = index(rest, "  (target: ")
      if (t > 0) { target = substr(rest, t + 11); rest = substr(rest, 1, t - 1) }
      value_text = rest
      eq = 0
      for (i = 1; i <= length(rest) - 2; i++) if (substr(rest, i, 3) == " = ") eq = i
      if (eq > 0) value_text = substr(rest, eq + 3)
      # The first number that is not part of a word (p50, p99).
      if (!match(" " value_text, /[^A-Za-z0-9.]-?[0-9]+(\.[0-9]+)?/)) next
      value = substr(" " value_text, RSTART + 1, RLENGTH - 1) + 0
      unit = substr(" " value_text, RSTART + RLENGTH)
      sub(/^ /, "", unit); split(unit, words, " "); unit = words[1]
      record(head "\t" name, value, unit, target)
    }
    function record(key, value, unit, target) {
      if (!(key in count)) { order[++keys] = key; units[key] = unit }
      values[key, ++count[key]] = value
      if (target != "") {
        targets[key] = target
        sub(/: (met|MISSED)\)$/, "", targets[key])
        if (target ~ /: met\)$/) met[key]++
      }
    }
    END {
      for (n = 1; n <= keys; n++) {
        key = order[n]; k = count[key]
        split(key, parts, "\t")
        if (parts[1] != shown) { shown = parts[1]; if (shown != "") print shown }
        name = (2 in parts) ? parts[2] : key
        for (i = 1; i <= k; i++) sorted[i] = values[key, i]
        for (i = 2; i <= k; i++) {
          v = sorted[i]
          for (j = i - 1; j >= 1 && sorted[j] > v; j--) sorted[j + 1] = sorted[j]
          sorted[j + 1] = v
        }
        median = (k % 2) ? sorted[(k + 1) / 2] : (sorted[k / 2] + sorted[k / 2 + 1]) / 2
        unit = units[key]
        if (unit != "" && unit !~ /^\//) unit = " " unit
        line = sprintf("%s: %g%s (%g-%g, %d runs)", name, median, unit, sorted[1], sorted[k], k)
        if (key in targets) line = line sprintf("  (target: %s: met in %d of %d)", targets[key], met[key] + 0, k)
        print line
      }
    }'
}

if [[ "${1:-}" == self-test ]]; then
  diff -u tests/load/fixtures/summary-expected.txt <(summarize <tests/load/fixtures/summary-runs.txt) ||
    die "the summary of several runs is not what tests/load/fixtures/summary-expected.txt says"
  log "bench summary: ok"
  exit
fi
require_infra

machine() {
  printf 'machine: %s cores, %s, %s\n' "$(nproc)" \
    "$(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo)" "$(uname -sr)"
}

case "${1:-help}" in
  outbox)
    shift
    machine
    cargo run --quiet --release -p shop-messaging --example outbox_latency -- "$@"
    ;;
  startup | checkout | catalog)
    bench=$1
    shift
    runs=1
    args=()
    while (($#)); do
      case $1 in
        --runs) runs=$2; shift 2 ;;
        *) args+=("$1"); shift ;;
      esac
    done
    machine
    # The services as the Dockerfile builds them, then the measuring tool, whose bare baseline
    # servers are built the same way (like for like).
    cargo build --quiet --profile dist --bins "${SERVICE_PACKAGES[@]}"
    cargo build --quiet --profile dist -p shop-load
    export SHOP_SYSTEM_BIN_DIR
    SHOP_SYSTEM_BIN_DIR="${SHOP_BENCH_BIN_DIR:-$(target_dir)/dist}"
    if ((runs == 1)); then
      "$(target_dir)/dist/shop-load" "$bench" "${args[@]}"
      exit
    fi
    out=$(mktemp)
    trap 'rm -f "$out"' EXIT
    for ((run = 1; run <= runs; run++)); do
      echo "== run $run of $runs"
      "$(target_dir)/dist/shop-load" "$bench" "${args[@]}" | tee -a "$out"
    done
    echo "== $runs runs: median (lowest-highest) of each line; a ratio's value is the one after '='"
    summarize <"$out"
    ;;
  *)
    sed -n '2,17p' "$0"
    exit 1
    ;;
esac
