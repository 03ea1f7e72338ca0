#!/usr/bin/env bash
# make bench section 11: anyad's DWN listener (net/dwn_http.c; --mount off, only --dwn) against @web5/dwn-server 0.6.1 (from
# npm, run with node on loopback; its LevelDB stores in a temporary directory), in one run:
# BENCH_DWN_HTTP_WRITES (5000) RecordsWrites of 256 B signed beforehand by dwn-sdk-js
# (tests/bench/dwn-http-bench.mjs), sent the way dwn-server's client sends them (dwn-request
# header, octet-stream body) by 16 concurrent keep-alive clients; the first 200 are a warm-up.
# Ours runs before and after the reference (fresh repositories), its figure is the mean.
# Printed: writes/s of each and the ratio (goal >= 10x), p50/p99 latency.  Our listener syncs
# every accepted message (group commit); dwn-server's LevelDB stores do not sync, and it runs
# with DWN_SERVER_LOG_LEVEL=error (no log line per request).  Sourced by tests/bench/run (which
# defines W, say, ...), or run alone: tests/bench/dwn-http.bash [BUILD] (table in
# BUILD/bench/dwn-http.md).
if [ -z "${DWN_HTTP_BENCH_SOURCED:-}" ] && [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  BUILD=${1:-build}
  ROOT=$(cd "$(dirname "$0")/../.." && pwd)
  ANYA="$ROOT/$BUILD/bin/anya"
  W="$ROOT/$BUILD/bench/work-dwn-http"
  rm -rf "$W" && mkdir -p "$W"
  trap 'rm -rf "$W"' EXIT
  OUT="$ROOT/$BUILD/bench/dwn-http.md"
  : >"$OUT"
  say() { echo "$*" | tee -a "$OUT"; }
  say "# DWN over HTTP bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  say ""
  say "| figure | value | reference (same run) | ratio | goal |"
  say "|---|---|---|---|---|"
fi
source "$ROOT/tests/anyad-lib.bash"
source "$ROOT/tests/interop/dwn-http-lib.bash"

dwn_http_bench_section() {
  local N=${BENCH_DWN_HTTP_WRITES:-5000} CLIENTS=16 D="$W/dwn-http" pid="" port="" npm_dwn npm_server
  local CLIENT="$ROOT/tests/bench/dwn-http-bench.mjs"
  mkdir -p "$D"
  kv() { tr ' ' '\n' <"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }
  if ! command -v node >/dev/null; then
    say "| DWN RecordsWrite over HTTP | not measured: node missing | | | |"
    return 0
  fi
  if ! npm_dwn=$(ANYA_BUILD="$ROOT/$BUILD" bash -c 'source "$1/tests/interop/lib.bash" && source "$1/tests/interop/dwn-lib.bash" && dwn_oracle >&2 && echo "$NPM_DIR"' _ "$ROOT" 2>"$D/npm.err"); then
    say "| DWN RecordsWrite over HTTP | not measured: $(tail -n 1 "$D/npm.err") | | | |"
    return 0
  fi
  if ! node "$CLIENT" build "$npm_dwn" "$D/writes.jsonl" "$N" 2>"$D/build.err"; then
    say "| DWN RecordsWrite over HTTP | not measured: building the messages failed: $(tail -n 1 "$D/build.err") | | | |"
    return 0
  fi
  # ours, before and after the reference (A B A: a drift of the machine's load cancels out)
  ours_run() { # $1: result file; fresh repository each time
    rm -rf "$D/repo" && "$ANYA" --repo "$D/repo" init >/dev/null
    "$ROOT/$BUILD/bin/anyad" --repo "$D/repo" --mount off --dwn 127.0.0.1:0 --gateway off --rpc off --p2p off --foreground \
      2>"$D/anya.err" &
    pid=$!
    port=$(anyad_wait_listener "$pid" "$D/anya.err" dwn) || port=""
    local ok=0
    [ -n "$port" ] && timeout 1200 node "$CLIENT" run "$D/writes.jsonl" "http://127.0.0.1:$port" "$CLIENTS" >"$1" 2>"$D/anya.cerr" && ok=1
    kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    [ $ok = 1 ]
  }
  if ! ours_run "$D/anya1.res"; then
    say "| DWN RecordsWrite over HTTP, $CLIENTS clients | FAILED: $(tail -n 1 "$D/anya.err" "$D/anya.cerr" 2>/dev/null | tail -n 1) | | | |"
    return 0
  fi
  # the reference: @web5/dwn-server 0.6.1
  local ref="" why=""
  if ! npm_server=$(ANYA_BUILD="$ROOT/$BUILD" bash -c 'source "$1/tests/interop/lib.bash" && npm_oracle dwn-server @web5/dwn-server 0.6.1 @web5/dwn-server@0.6.1 >&2 && echo "$NPM_DIR"' _ "$ROOT" 2>"$D/npm-server.err"); then
    why="@web5/dwn-server 0.6.1 did not install: $(tail -n 1 "$D/npm-server.err")"
  else
    local pkg="$npm_server/node_modules/@web5/dwn-server"
    if ! dwn_server_start "$pkg" "$D/ds"; then
      why="@web5/dwn-server 0.6.1 did not start on node $(node --version): $(tail -n 1 "$D/ds.log")"
    elif ! timeout 1800 node "$CLIENT" run "$D/writes.jsonl" "$DS_URL" "$CLIENTS" >"$D/ds.res" 2>"$D/ds.cerr"; then
      why="the client failed against dwn-server: $(tail -n 1 "$D/ds.cerr")"
    else
      ref=1
    fi
    kill -TERM "$DS_PID" 2>/dev/null; wait "$DS_PID" 2>/dev/null || true
  fi
  if ! ours_run "$D/anya2.res"; then
    say "| DWN RecordsWrite over HTTP, $CLIENTS clients | FAILED (second run): $(tail -n 1 "$D/anya.err" "$D/anya.cerr" 2>/dev/null | tail -n 1) | | | |"
    return 0
  fi
  # ours: the mean of the two runs (latencies of the second)
  local a="$D/anya.res" s="$D/ds.res"
  {
    echo "writes=$(( $(kv "$D/anya1.res" writes) + $(kv "$D/anya2.res" writes) ))"
    echo "errors=$(( $(kv "$D/anya1.res" errors) + $(kv "$D/anya2.res" errors) ))"
    echo "writes_per_s=$(awk -v x="$(kv "$D/anya1.res" writes_per_s)" -v y="$(kv "$D/anya2.res" writes_per_s)" 'BEGIN { printf "%.0f", (x + y) / 2 }')"
    echo "runs=$(kv "$D/anya1.res" writes_per_s)+$(kv "$D/anya2.res" writes_per_s)"
    echo "p50_ms=$(kv "$D/anya2.res" p50_ms) p99_ms=$(kv "$D/anya2.res" p99_ms)"
  } | tr '\n' ' ' >"$a"
  if [ -z "$ref" ]; then
    say "| DWN RecordsWrite over HTTP, $CLIENTS clients, 256 B ($(kv "$a" writes) writes, $(kv "$a" errors) errors) | $(kv "$a" writes_per_s) writes/s (runs $(kv "$a" runs)), p50 $(kv "$a" p50_ms) ms, p99 $(kv "$a" p99_ms) ms | not measured: $why | | >= 10x |"
  else
    say "| DWN RecordsWrite over HTTP, $CLIENTS clients, 256 B ($(kv "$s" writes) writes a run; errors: ours $(kv "$a" errors), dwn-server $(kv "$s" errors)$(e=$(kv "$s" first_error); [ -n "$e" ] && echo ": $e")) | $(kv "$a" writes_per_s) writes/s (mean of runs $(kv "$a" runs) before and after the reference), p50 $(kv "$a" p50_ms) ms, p99 $(kv "$a" p99_ms) ms | @web5/dwn-server 0.6.1 $(kv "$s" writes_per_s) writes/s, p50 $(kv "$s" p50_ms) ms, p99 $(kv "$s" p99_ms) ms | $(awk -v x="$(kv "$a" writes_per_s)" -v y="$(kv "$s" writes_per_s)" 'BEGIN { printf "%.1f", x / y }')x | >= 10x |"
  fi
  rm -rf "$D"
}
dwn_http_bench_section
