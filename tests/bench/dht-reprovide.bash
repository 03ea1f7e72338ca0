#!/usr/bin/env bash
# make bench section 15: the DHT reprovider (net/kad.c) on a loopback network of
# BENCH_DHT_NODES (20) DHT server processes (build/bench/kad_bench: one host per process, real
# TCP and Noise and yamux between them, each node its own LevelDB store): the time to reprovide
# BENCH_DHT_KEYS (100000) multihashes batched by keyspace region (one lookup per region, each
# peer all of a region's ADD_PROVIDERs on one stream), against the naive way (one lookup and
# 20 streams per key) measured on BENCH_DHT_NAIVE_KEYS (200) keys and extrapolated.
# Sourced by tests/bench/run (which defines W, say, ...), or run alone:
# tests/bench/dht-reprovide.bash [BUILD] (table in BUILD/bench/dht-reprovide.md).
if [ -z "${DHT_BENCH_SOURCED:-}" ] && [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  BUILD=${1:-build}
  ROOT=$(cd "$(dirname "$0")/../.." && pwd)
  W="$ROOT/$BUILD/bench/work-dht"
  rm -rf "$W" && mkdir -p "$W"
  trap 'rm -rf "$W"' EXIT
  OUT="$ROOT/$BUILD/bench/dht-reprovide.md"
  : >"$OUT"
  say() { echo "$*" | tee -a "$OUT"; }
  say "# DHT reprovide bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  say ""
  say "| figure | value | reference (same run) | ratio | goal |"
  say "|---|---|---|---|---|"
fi

dht_bench_section() {
  local nodes=${BENCH_DHT_NODES:-20} keys=${BENCH_DHT_KEYS:-100000} naive=${BENCH_DHT_NAIVE_KEYS:-200}
  local D="$W/dht" out
  rm -rf "$D" && mkdir -p "$D"
  if ! timeout 1800 /usr/bin/time -v -o "$D/time" "$ROOT/$BUILD/bench/kad_bench" "$D/nodes" "$nodes" "$keys" "$naive" \
      >"$D/out" 2>"$D/err"; then
    say "| DHT reprovide of $keys keys, $nodes nodes | FAILED: $(tail -n 1 "$D/err") | | | |"
    return 0
  fi
  out=$(cat "$D/out")
  kv() { tr ' ' '\n' <<<"$out" | awk -F= -v k="$1" '$1 == k { print $2 }'; }
  say "| DHT reprovide of $(kv keys) keys to a $(kv nodes)-node loopback network (batched: $(kv regions) region lookup(s), $(kv announcements) records sent; node 0's table $(kv table_size) peers) | $(kv reprovide_s) s, $(kv reprovide_keys_per_s) keys/s | one lookup per key (kad_provide), $(kv naive_keys) keys in $(kv naive_s) s: $(kv naive_keys_per_s) keys/s | $(kv ratio)x | reprovide 100k keys well within the 22 h interval |"
  rm -rf "$D/nodes"
}
dht_bench_section
