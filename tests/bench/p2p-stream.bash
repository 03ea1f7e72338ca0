#!/usr/bin/env bash
# make bench section 13: libp2p stream throughput, Noise (ChaCha20-Poly1305) + Yamux over
# loopback TCP between two hosts in one process (tests/bench/p2p_stream_bench.c: one event
# loop each, BENCH_P2P_MIB MiB (256) a run, BENCH_P2P_RUNS (3) runs, median and best),
# against `openssl speed -evp chacha20-poly1305` on 16 KiB blocks in the same run (one
# core's cipher speed: every byte is encrypted once and decrypted once on the way).
# Goal: at least 300 MB/s (Bitswap's 64 MiB end to end).  Sourced by tests/bench/run (which
# defines W, say, ...), or run alone: tests/bench/p2p-stream.bash [BUILD] (table in
# BUILD/bench/p2p-stream.md).
if [ -z "${P2P_BENCH_SOURCED:-}" ] && [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  BUILD=${1:-build}
  ROOT=$(cd "$(dirname "$0")/../.." && pwd)
  OUT="$ROOT/$BUILD/bench/p2p-stream.md"
  mkdir -p "$(dirname "$OUT")"
  : >"$OUT"
  say() { echo "$*" | tee -a "$OUT"; }
  say "# libp2p stream bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  say ""
  say "| figure | value | reference (same run) | ratio | goal |"
  say "|---|---|---|---|---|"
fi

p2p_stream_bench_section() {
  local mib=${BENCH_P2P_MIB:-256} runs=${BENCH_P2P_RUNS:-3} bin="$ROOT/$BUILD/bench/p2p_stream_bench" out ref
  if [ ! -x "$bin" ]; then
    say "| libp2p stream (Noise + Yamux) | not measured: $bin is not built | | | |"
    return 0
  fi
  if ! out=$(timeout 600 "$bin" "$mib" "$runs" 2>&1); then
    say "| libp2p stream (Noise + Yamux) | FAILED: $(echo "$out" | tail -n 1) | | | |"
    return 0
  fi
  local median best
  median=$(echo "$out" | tr ' ' '\n' | sed -n 's/^median_mb_per_s=//p')
  best=$(echo "$out" | tr ' ' '\n' | sed -n 's/^best_mb_per_s=//p')
  # openssl prints k-bytes/s per block size; the last column is 16384-byte blocks
  ref=$(openssl speed -evp chacha20-poly1305 -bytes 16384 -seconds 2 2>/dev/null |
    awk '/^ChaCha20-Poly1305|^chacha20-poly1305/ { v = $NF } END { sub(/k$/, "", v); if (v != "") printf "%.0f", v * 1000 / 1e6 }')
  if [ -z "$ref" ]; then
    say "| libp2p stream, $mib MiB one way, loopback (median of $runs; best $best) | $median MB/s | openssl speed not available | | >= 300 MB/s |"
    return 0
  fi
  say "| libp2p stream, $mib MiB one way, loopback (median of $runs; best $best) | $median MB/s | openssl chacha20-poly1305 one core $ref MB/s | $(awk -v a="$median" -v b="$ref" 'BEGIN { printf "%.2f", a / b }')x | >= 300 MB/s |"
}
p2p_stream_bench_section
