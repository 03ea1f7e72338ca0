#!/usr/bin/env bash
# Bitswap between anyad and Helia 7 (bitswap-helia.mjs: its own libp2p over
# TCP/Noise/Yamux/identify, bitswap its only block broker) on loopback:
#   1. a 64 MiB file added on anyad (`anya add` through the daemon) is
#      fetched by Helia (@helia/unixfs cat), byte-equal;
#   2. a 64 MiB file added in Helia (Kubo's --cid-version 1 settings) has
#      the CID of `anya add -n --cid-version 1` of the same bytes and is
#      fetched by anyad (`anya cat` through the daemon), byte-equal; a third
#      file through the gateway likewise;
#   3. faults: a holder killed (kill -9) mid-transfer while the gateway
#      fetches: the fetch completes from the other holder (Helia, connected
#      during the transfer), byte-equal; an absent CID times out as a 504
#      with a JSON body at the gateway and as one `anya: ` line from the CLI;
#      a read of it under the FUSE mount fails with EIO or ETIMEDOUT (only
#      where FUSE is available: skipped loudly otherwise).
# Exit 0 pass, 77 skip (node/npm missing, registry unreachable), else fail.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/../anyad-lib.bash"
source "$ROOT/tests/interop/p2p-lib.bash"
p2p_npm
fail() {
  echo "FAIL: $*"
  for l in "$WORK"/*.log "$WORK"/helia.err; do [ -f "$l" ] && { echo "--- tail of $l"; tail -n 15 "$l"; }; done
  exit 1
}
step() { echo "--- $*"; }
command -v curl >/dev/null || fail "curl is missing: run make deps"
ANYAD="$(dirname "$ANYA")/anyad"
[ -x "$ANYAD" ] || fail "$ANYAD is not built"
SIZE=$((64 * 1024 * 1024))
WORK=$(mktemp -d "$BUILD/bitswap-interop.XXXXXX")
HELIA_JS="$NPM_DIR/bitswap-helia-$(basename "$WORK").mjs"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  if [ -n "${MNT:-}" ]; then umount -l "$MNT" 2>/dev/null || true; fi
  rm -rf "$WORK" "$HELIA_JS"
}
trap cleanup EXIT

gen() { # gen SEED BYTES FILE
  { openssl enc -aes-128-ctr -K "$(printf '%032x' "$1")" -iv 0 -nosalt -in /dev/zero 2>/dev/null || true; } |
    head -c "$2" >"$3"
}

# daemon NAME [ARGS...]: a repository and anyad with gateway, RPC and p2p on
# port 0; sets <NAME>_PID, <NAME>_GW, <NAME>_P2P (multiaddr with /p2p/).
daemon() {
  local name=$1
  shift
  local repo="$WORK/$name"
  ANYA_REPO="$repo" "$ANYA" init >/dev/null || fail "anya init $name"
  sed -i 's/^fetch_timeout = .*/fetch_timeout = "8s"/' "$repo/config.toml"
  "$ANYAD" --repo "$repo" --mount off --dwn off --gateway 127.0.0.1:0 --rpc 127.0.0.1:0 \
    --p2p /ip4/127.0.0.1/tcp/0 --foreground "$@" >"$WORK/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  local gw
  gw=$(anyad_wait_listener "$pid" "$WORK/$name.log" gateway) || { cat "$WORK/$name.log"; fail "$name did not start"; }
  anyad_wait_listener "$pid" "$WORK/$name.log" rpc >/dev/null || { cat "$WORK/$name.log"; fail "$name: no rpc"; }
  local p2p=""
  for _ in $(seq 100); do
    p2p=$(anyad_listener_addr "$WORK/$name.log" p2p)
    [ -n "$p2p" ] && break
    sleep 0.05
  done
  [ -n "$p2p" ] || { cat "$WORK/$name.log"; fail "$name: no p2p listener in its log"; }
  printf -v "${name}_PID" '%s' "$pid"
  printf -v "${name}_GW" '%s' "$gw"
  printf -v "${name}_P2P" '%s' "$p2p"
}
anya_in() { local name=$1; shift; ANYA_REPO="$WORK/$name" "$ANYA" "$@"; }

# The Helia peer, driven through a coprocess; helia CMD... prints its answer.
cp "$ROOT/tests/interop/bitswap-helia.mjs" "$HELIA_JS"
coproc HELIA { ANYA_NPM_DIR="$NPM_DIR" exec node "$HELIA_JS" 2>"$WORK/helia.err"; }
PIDS+=("$HELIA_PID")
helia() {
  local answer
  echo "$*" >&"${HELIA[1]}"
  IFS= read -r -t 300 answer <&"${HELIA[0]}" || { cat "$WORK/helia.err"; fail "helia: no answer to '$*'"; }
  case "$answer" in
    "ok "*) echo "${answer#ok }" ;;
    "ok") echo "" ;;
    *) cat "$WORK/helia.err"; fail "helia $*: $answer" ;;
  esac
}
HELIA_ADDR=$(helia id)
echo "helia at $HELIA_ADDR"

step "anyad -> helia: 64 MiB added on anyad, cat by helia"
daemon A
gen 1 "$SIZE" "$WORK/one.bin"
CID1=$(anya_in A add -Q --cid-version 1 "$WORK/one.bin") || fail "anya add"
helia connect "$A_P2P" >/dev/null
read -r bytes ms < <(helia cat "$CID1" "$WORK/one.helia" 300000)
cmp "$WORK/one.bin" "$WORK/one.helia" || fail "helia's copy of $CID1 differs"
echo "ok: helia fetched $bytes bytes of $CID1 from anyad in $ms ms"

step "helia -> anyad: 64 MiB added in helia, anya cat through the daemon"
gen 2 "$SIZE" "$WORK/two.bin"
CID2=$(helia add "$WORK/two.bin")
LOCAL2=$(anya_in A add -Q -n --cid-version 1 "$WORK/two.bin")
[ "$CID2" = "$LOCAL2" ] || fail "helia's CID $CID2 differs from anya add -n's $LOCAL2"
anya_in A swarm connect "$HELIA_ADDR" >/dev/null || fail "anya swarm connect"
anya_in A cat "$CID2" >"$WORK/two.anya" || fail "anya cat $CID2"
cmp "$WORK/two.bin" "$WORK/two.anya" || fail "anya's copy of $CID2 differs"
echo "ok: anya cat $CID2 byte-equal"

step "helia -> anyad: through the gateway"
gen 3 $((16 * 1024 * 1024 + 4321)) "$WORK/three.bin"
CID3=$(helia add "$WORK/three.bin")
code=$(curl -s -o "$WORK/three.gw" -w '%{http_code}' --max-time 120 "http://127.0.0.1:$A_GW/ipfs/$CID3")
[ "$code" = 200 ] || fail "gateway: $code for $CID3"
cmp "$WORK/three.bin" "$WORK/three.gw" || fail "the gateway's copy of $CID3 differs"
echo "ok: gateway /ipfs/$CID3 byte-equal"

step "faults: a holder killed mid-transfer"
daemon B
daemon C
gen 4 "$SIZE" "$WORK/four.bin"
CID4=$(anya_in B add -Q --cid-version 1 "$WORK/four.bin")
[ "$(helia add "$WORK/four.bin")" = "$CID4" ] || fail "helia's CID of four.bin differs"
anya_in C swarm connect "$B_P2P" >/dev/null || fail "C -> B"
curl -s -o "$WORK/four.gw" -w '%{http_code}' --max-time 300 "http://127.0.0.1:$C_GW/ipfs/$CID4" >"$WORK/four.code" &
CURL_PID=$!
PIDS+=("$CURL_PID")
for _ in $(seq 600); do
  [ "$(stat -c %s "$WORK/four.gw" 2>/dev/null || echo 0)" -ge $((4 * 1024 * 1024)) ] && break
  kill -0 "$CURL_PID" 2>/dev/null || break
  sleep 0.05
done
got=$(stat -c %s "$WORK/four.gw" 2>/dev/null || echo 0)
[ "$got" -lt "$SIZE" ] || fail "the transfer finished before the holder could be killed (test too slow to observe)"
anya_in C swarm connect "$HELIA_ADDR" >/dev/null || fail "C -> helia"
kill -9 "$B_PID"
echo "killed B (pid $B_PID) after $got bytes"
wait "$CURL_PID" || fail "curl failed after the kill"
[ "$(cat "$WORK/four.code")" = 200 ] || fail "gateway: $(cat "$WORK/four.code") after the kill"
cmp "$WORK/four.bin" "$WORK/four.gw" || fail "the copy fetched across the kill differs"
echo "ok: the fetch completed from helia after B was killed"

step "faults: an absent CID"
ABSENT=$(printf 'nobody has this block %s\n' "$WORK" | anya_in A add -Q -n --cid-version 1 -)
code=$(curl -s -o "$WORK/absent.json" -w '%{http_code}' --max-time 60 "http://127.0.0.1:$A_GW/ipfs/$ABSENT")
[ "$code" = 504 ] || fail "gateway: $code for an absent CID (want 504)"
grep -q '"error"' "$WORK/absent.json" || fail "the 504 body is not the JSON error: $(cat "$WORK/absent.json")"
echo "ok: gateway 504 $(cat "$WORK/absent.json")"
if anya_in A cat "$ABSENT" >"$WORK/absent.out" 2>"$WORK/absent.err"; then fail "anya cat of an absent CID succeeded"; fi
[ "$(wc -l <"$WORK/absent.err")" -eq 1 ] || { cat "$WORK/absent.err"; fail "anya cat: stderr is not one line"; }
grep -q '^anya: ' "$WORK/absent.err" || fail "anya cat: $(cat "$WORK/absent.err")"
echo "ok: $(cat "$WORK/absent.err")"

step "faults: an absent CID under the mount"
if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ]; then
  echo "SKIP (part): no root or no /dev/fuse, the mount's EIO/ETIMEDOUT is not checked here"
else
  MNT="$WORK/mnt"
  mkdir -p "$MNT"
  daemon M --mount "$MNT"
  anya_in M swarm connect "$HELIA_ADDR" >/dev/null || fail "M -> helia"
  for _ in $(seq 100); do [ -d "$MNT/files" ] && break; sleep 0.1; done
  if cat "$MNT/ipfs/$ABSENT" >/dev/null 2>"$WORK/mount.err"; then fail "reading an absent CID under the mount succeeded"; fi
  grep -Eq 'Input/output error|Connection timed out' "$WORK/mount.err" || fail "mount: $(cat "$WORK/mount.err")"
  echo "ok: mount: $(cat "$WORK/mount.err")"
  kill -TERM "$M_PID"
  wait "$M_PID" 2>/dev/null || true
fi

echo quit >&"${HELIA[1]}"
echo "PASS"
