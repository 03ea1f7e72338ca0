#!/usr/bin/env bash
# A small network on loopback, Anya and Helia mixed, where content is found
# through the DHT and fetched with Bitswap from a node never dialed before:
#   R  anyad, the DHT node everyone connects to (nothing else)
#   P  anyad: adds a 4 MiB file and provides it (`anya routing provide`)
#   H  Helia 7 with @libp2p/kad-dht (server mode) and bitswap: adds a file
#      and provides it (helia.routing.provide)
#   C  anyad connected to R only
# Checks: C fetches P's file (`anya cat`) and H's file (the gateway),
# byte-equal, having dialed neither (only R); H fetches P's file
# (@helia/unixfs cat) without having dialed P.
# Exit 0 pass, 77 skip (node/npm missing, registry unreachable, or this build
# has no DHT: `anya routing` missing), else fail.
source "$(dirname "$0")/lib.bash"
source "$ROOT/tests/interop/p2p-lib.bash"
p2p_npm
source "$ROOT/tests/anyad-lib.bash"
ANYAD="$(dirname "$ANYA")/anyad"
[ -x "$ANYAD" ] || { echo "FAIL: $ANYAD is not built"; exit 1; }
"$ANYA" help 2>&1 | grep -q 'routing provide' || { echo "skip: this build has no DHT (anya routing)"; exit 77; }
command -v curl >/dev/null || { echo "FAIL: curl is missing: run make deps"; exit 1; }

WORK=$(mktemp -d "$BUILD/bitswap-network.XXXXXX")
HELIA_JS="$NPM_DIR/bitswap-network-$(basename "$WORK").mjs"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$WORK" "$HELIA_JS"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for l in "$WORK"/*.log "$WORK"/helia.err; do [ -f "$l" ] && { echo "--- tail of $l"; tail -n 15 "$l"; }; done
  exit 1
}
step() { echo "--- $*"; }
gen() { # gen SEED BYTES FILE
  { openssl enc -aes-128-ctr -K "$(printf '%032x' "$1")" -iv 0 -nosalt -in /dev/zero 2>/dev/null || true; } |
    head -c "$2" >"$3"
}

# daemon NAME: sets <NAME>_PID, <NAME>_GW, <NAME>_P2P
daemon() {
  local name=$1 repo="$WORK/$1"
  ANYA_REPO="$repo" "$ANYA" init >/dev/null || fail "anya init $name"
  sed -i 's/^fetch_timeout = .*/fetch_timeout = "30s"/' "$repo/config.toml"
  "$ANYAD" --repo "$repo" --mount off --dwn off --gateway 127.0.0.1:0 --rpc 127.0.0.1:0 \
    --p2p /ip4/127.0.0.1/tcp/0 --foreground >"$WORK/$name.log" 2>&1 &
  local pid=$! gw p2p=""
  PIDS+=("$pid")
  gw=$(anyad_wait_listener "$pid" "$WORK/$name.log" gateway) || fail "$name did not start"
  anyad_wait_listener "$pid" "$WORK/$name.log" rpc >/dev/null || fail "$name: no rpc"
  for _ in $(seq 100); do
    p2p=$(anyad_listener_addr "$WORK/$name.log" p2p)
    [ -n "$p2p" ] && break
    sleep 0.05
  done
  [ -n "$p2p" ] || fail "$name: no p2p listener in its log"
  printf -v "${name}_PID" '%s' "$pid"
  printf -v "${name}_GW" '%s' "$gw"
  printf -v "${name}_P2P" '%s' "$p2p"
}
anya_in() { local name=$1; shift; ANYA_REPO="$WORK/$name" "$ANYA" "$@"; }
peer_of() { echo "${1##*/p2p/}"; }

cp "$ROOT/tests/interop/bitswap-helia.mjs" "$HELIA_JS"
coproc HELIA { ANYA_NPM_DIR="$NPM_DIR" ANYA_HELIA_DHT=1 exec node "$HELIA_JS" 2>"$WORK/helia.err"; }
PIDS+=("$HELIA_PID")
helia() {
  local answer
  [ -n "${HELIA[1]:-}" ] || fail "the Helia peer exited"
  echo "$*" >&"${HELIA[1]}"
  IFS= read -r -t 300 answer <&"${HELIA[0]}" || fail "helia: no answer to '$*'"
  case "$answer" in
    "ok "*) echo "${answer#ok }" ;;
    "ok") echo "" ;;
    *) fail "helia $*: $answer" ;;
  esac
}
H_ADDR=$(helia id)

step "four nodes: R, P, H, C; P, H and C connect to R only"
daemon R
daemon P
daemon C
anya_in P swarm connect "$R_P2P" >/dev/null || fail "P -> R"
anya_in C swarm connect "$R_P2P" >/dev/null || fail "C -> R"
helia connect "$R_P2P" >/dev/null

step "P provides a file"
gen 11 $((4 * 1024 * 1024)) "$WORK/p.bin"
CIDP=$(anya_in P add -Q --cid-version 1 "$WORK/p.bin")
anya_in P routing provide "$CIDP" >/dev/null || fail "anya routing provide on P"

step "H provides a file"
gen 12 $((3 * 1024 * 1024 + 17)) "$WORK/h.bin"
CIDH=$(helia add "$WORK/h.bin")
helia provide "$CIDH" >/dev/null

# C never dialed P or H; a DHT walk of C's may have (FIND_NODE), which is
# reported but not an error: the fetches below must work either way.
for who in P H; do
  id=$([ $who = P ] && peer_of "$P_P2P" || peer_of "$H_ADDR")
  if anya_in C swarm peers | grep -q "$id"; then echo "note: C is connected to $who already (a DHT walk)"; fi
done

step "C fetches P's file (anya cat): found through the DHT"
anya_in C cat "$CIDP" >"$WORK/p.out" || fail "anya cat $CIDP on C"
cmp "$WORK/p.bin" "$WORK/p.out" || fail "C's copy of P's file differs"
echo "ok: C got $CIDP from P"

step "C fetches H's file (gateway): found through the DHT"
code=$(curl -s -o "$WORK/h.out" -w '%{http_code}' --max-time 120 "http://127.0.0.1:$C_GW/ipfs/$CIDH")
[ "$code" = 200 ] || fail "gateway on C: $code for $CIDH"
cmp "$WORK/h.bin" "$WORK/h.out" || fail "C's copy of H's file differs"
echo "ok: C got $CIDH from Helia"

step "H fetches P's file: found through the DHT"
read -r bytes ms < <(helia cat "$CIDP" "$WORK/p.helia" 120000)
cmp "$WORK/p.bin" "$WORK/p.helia" || fail "Helia's copy of P's file differs"
echo "ok: Helia got $CIDP ($bytes bytes, $ms ms)"

echo quit >&"${HELIA[1]}"
echo "PASS"
