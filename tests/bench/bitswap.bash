#!/usr/bin/env bash
# make bench section 14: Bitswap over loopback, 64 MiB (BENCH_BITSWAP_MIB) of random bytes
# (`add --cid-version 1`: 256 KiB raw leaves), Anya -> Anya against Helia -> Helia in the
# same run:
#   Anya:  two anyad (--mount off, gateway and RPC on port 0, --p2p /ip4/127.0.0.1/tcp/0);
#          the file added on the first, a fresh second daemon each run connects to it
#          (`anya swarm connect`) and fetches the file through its gateway (curl to
#          /dev/null): fetch on miss with prefetch, verified and stored.
#   Helia: two Helia 7 peers (tests/interop/bitswap-helia.mjs: TCP, Noise, Yamux, bitswap,
#          in-memory blockstores); a fresh second peer each run dials the first and cats the
#          file (@helia/unixfs) to /dev/null.
# The median of BENCH_BITSWAP_RUNS (3) runs each; the goal is >= 10x Helia.
# Sourced by tests/bench/run (which defines W, say, ...), or run alone:
# tests/bench/bitswap.bash [BUILD] (its table goes to BUILD/bench/bitswap.md).
if [ -z "${BITSWAP_BENCH_SOURCED:-}" ] && [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  BUILD=${1:-build}
  ROOT=$(cd "$(dirname "$0")/../.." && pwd)
  ANYA="$ROOT/$BUILD/bin/anya"
  W="$ROOT/$BUILD/bench/work-bitswap"
  rm -rf "$W" && mkdir -p "$W"
  trap 'rm -rf "$W"' EXIT
  OUT="$ROOT/$BUILD/bench/bitswap.md"
  : >"$OUT"
  say() { echo "$*" | tee -a "$OUT"; }
  say "# bitswap bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  say ""
  say "| figure | value | reference (same run) | ratio | goal |"
  say "|---|---|---|---|---|"
fi
source "$ROOT/tests/anyad-lib.bash"

BS_BENCH_PIDS=()
bs_bench_stop() {
  local p
  for p in "${BS_BENCH_PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
  for p in "${BS_BENCH_PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  BS_BENCH_PIDS=()
}

bs_bench_section() {
  local mib=${BENCH_BITSWAP_MIB:-64} runs=${BENCH_BITSWAP_RUNS:-3}
  local bytes=$((mib * 1024 * 1024)) B="$W/bitswap"
  mkdir -p "$B"
  if ! command -v node >/dev/null || ! command -v npm >/dev/null || ! command -v curl >/dev/null; then
    say "| bitswap Anya -> Anya vs Helia -> Helia | skipped: node, npm or curl missing | | | |"
    return 0
  fi
  # the shared npm install of the libp2p interop tests
  local NPM_DIR="$ROOT/$BUILD/npm/libp2p"
  (source "$ROOT/tests/interop/lib.bash" >/dev/null && source "$ROOT/tests/interop/p2p-lib.bash" && p2p_npm) ||
    { say "| bitswap | skipped: the libp2p npm packages could not be installed | | | |"; return 0; }
  { openssl enc -aes-128-ctr -K 0f0e0d0c0b0a09080706050403020100 -iv 0 -nosalt -in /dev/zero 2>/dev/null || true; } |
    head -c "$bytes" >"$B/file"
  local secs_of='BEGIN { printf "%.3f", (b - a) }'

  # ---- Anya -> Anya ----
  # daemon REPO LOG: anyad with gateway, RPC and p2p on port 0; sets dpid, dgw, dp2p
  local dpid dgw dp2p
  daemon() {
    "$ROOT/$BUILD/bin/anyad" --repo "$1" --mount off --dwn off --gateway 127.0.0.1:0 --rpc 127.0.0.1:0 \
      --p2p /ip4/127.0.0.1/tcp/0 --foreground >"$2" 2>&1 &
    dpid=$!
    BS_BENCH_PIDS+=("$dpid")
    dgw=$(anyad_wait_listener "$dpid" "$2" gateway) || return 1
    anyad_wait_listener "$dpid" "$2" rpc >/dev/null || return 1
    dp2p=""
    for _ in $(seq 100); do dp2p=$(anyad_listener_addr "$2" p2p); [ -n "$dp2p" ] && break; sleep 0.05; done
    [ -n "$dp2p" ]
  }
  "$ANYA" --repo "$B/src" init >/dev/null
  daemon "$B/src" "$B/src.log" || { say "| bitswap | FAILED: anyad did not start: $(tail -n 2 "$B/src.log" | tr '\n' ' ') | | | |"; return 0; }
  local src_p2p=$dp2p cid
  cid=$("$ANYA" --repo "$B/src" add -Q --cid-version 1 "$B/file")
  local anya_s=() run t0 t1
  for run in $(seq "$runs"); do
    rm -rf "$B/dst"
    "$ANYA" --repo "$B/dst" init >/dev/null
    daemon "$B/dst" "$B/dst.log" || { say "| bitswap | FAILED: the fetching anyad did not start | | | |"; return 0; }
    "$ANYA" --repo "$B/dst" swarm connect "$src_p2p" >/dev/null
    t0=$(date +%s.%N)
    curl -sf --max-time 600 -o "$B/out" "http://127.0.0.1:$dgw/ipfs/$cid" || true
    t1=$(date +%s.%N)
    cmp -s "$B/out" "$B/file" || { say "| bitswap Anya -> Anya | FAILED: the fetched bytes differ (run $run) | | | |"; return 0; }
    anya_s+=("$(awk -v a="$t0" -v b="$t1" "$secs_of")")
    kill -TERM "$dpid" 2>/dev/null || true
    wait "$dpid" 2>/dev/null || true
    rm -f "$B/out"
  done

  # ---- Helia -> Helia ----
  local js="$NPM_DIR/bitswap-bench-$$.mjs"
  cp "$ROOT/tests/interop/bitswap-helia.mjs" "$js"
  local helia_s=() answer hcid haddr
  coproc HSRC { ANYA_NPM_DIR="$NPM_DIR" exec node "$js" 2>"$B/hsrc.err"; }
  BS_BENCH_PIDS+=("$HSRC_PID")
  ask() { # ask FD_IN FD_OUT CMD: one answer line
    echo "$3" >&"$1"
    IFS= read -r -t 600 answer <&"$2" || answer="error no answer"
  }
  ask "${HSRC[1]}" "${HSRC[0]}" "id"; haddr=${answer#ok }
  ask "${HSRC[1]}" "${HSRC[0]}" "add $B/file"; hcid=${answer#ok }
  [ "$hcid" = "$cid" ] || { say "| bitswap Helia | FAILED: Helia's CID $hcid differs from anya's $cid | | | |"; rm -f "$js"; return 0; }
  for run in $(seq "$runs"); do
    coproc HDST { ANYA_NPM_DIR="$NPM_DIR" exec node "$js" 2>"$B/hdst.err"; }
    local hdst_pid=$HDST_PID
    BS_BENCH_PIDS+=("$hdst_pid")
    ask "${HDST[1]}" "${HDST[0]}" "connect $haddr"
    ask "${HDST[1]}" "${HDST[0]}" "cat $hcid /dev/null 600000"
    case "$answer" in
      "ok $bytes "*) helia_s+=("$(awk -v ms="${answer##* }" 'BEGIN { printf "%.3f", ms / 1000 }')") ;;
      *) say "| bitswap Helia -> Helia | FAILED: $answer | | | |"; rm -f "$js"; return 0 ;;
    esac
    echo quit >&"${HDST[1]}"
    wait "$hdst_pid" 2>/dev/null || true
  done
  echo quit >&"${HSRC[1]}"
  rm -f "$js"

  local med_a med_h a_mbps h_mbps
  med_a=$(printf '%s\n' "${anya_s[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  med_h=$(printf '%s\n' "${helia_s[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  a_mbps=$(awk -v b="$bytes" -v s="$med_a" 'BEGIN { printf "%.0f", b / s / 1e6 }')
  h_mbps=$(awk -v b="$bytes" -v s="$med_h" 'BEGIN { printf "%.0f", b / s / 1e6 }')
  say "| bitswap, $mib MiB over loopback, Anya -> Anya (gateway fetch on miss), median of $runs | $a_mbps MB/s (${anya_s[*]} s) | Helia -> Helia (@helia/unixfs cat): $h_mbps MB/s (${helia_s[*]} s) | $(awk -v a="$a_mbps" -v b="$h_mbps" 'BEGIN { printf "%.1f", a / b }')x | >= 10x |"
  bs_bench_stop
  rm -rf "$B"
}

bs_bench_trap=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
trap "bs_bench_stop; $bs_bench_trap" EXIT
bs_bench_section
trap "$bs_bench_trap" EXIT
