#!/usr/bin/env bash
# IPNS over the DHT with Helia 7 + @helia/ipns 10.1.0 (js-libp2p kad-dht 16
# in server mode; tests/interop/ipns-dht.mjs is the JS side) and anyad on
# 127.0.0.1 (p2p, rpc and gateway on ports the kernel picks): a name anyad
# publishes resolves in Helia, a name Helia publishes resolves in anyad (`anya
# name resolve`, the gateway's /ipns/ and, when this machine can mount, the
# mount's ipns/), a higher sequence wins on the other side each way, and
# tampered records pushed by PUT_VALUE are refused.  The content is added on
# both sides (same CIDs), since anyad does not fetch blocks from peers yet.
# Exit 0 pass, 77 skip (node/npm missing or the registry unreachable), else fail.
source "$(dirname "$0")/p2p-lib.bash"
p2p_npm
W=$(mktemp -d)
MOUNT=
cleanup() {
  p2p_stop_all
  [ -n "$MOUNT" ] && { mountpoint -q "$MOUNT" && umount -l "$MOUNT"; } 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# the mount when this machine can (root, /dev/fuse), else that part is skipped, loudly
mount_args=(--mount off)
if [ "$(id -u)" = 0 ] && [ -c /dev/fuse ]; then
  MOUNT="$W/mnt"
  mkdir -p "$MOUNT"
  mount_args=(--mount "$MOUNT")
else
  echo "SKIP part: the mount's ipns/ (needs root and /dev/fuse)"
fi

export ANYA_REPO="$W/repo"
"$ANYA" init >/dev/null || fail "anya init"
printf 'published first, by anyad and then by Helia\n' >"$W/a.txt"
printf 'published second: the higher sequence\n' >"$W/b.txt"
cid_a=$("$ANYA" add -Q --cid-version 1 "$W/a.txt") || fail "anya add a.txt"
cid_b=$("$ANYA" add -Q --cid-version 1 "$W/b.txt") || fail "anya add b.txt"

p2p_anyad_start "$ANYA_REPO" "$W/anyad.log" --gateway 127.0.0.1:0 "${mount_args[@]}"
echo "anyad: $P2P_ADDR"
gw=$(anyad_wait_listener "$ANYAD_PID" "$W/anyad.log" gateway) || { cat "$W/anyad.log"; fail "the gateway did not come up"; }
if [ -n "$MOUNT" ]; then
  for _ in $(seq 100); do [ -d "$MOUNT/ipns" ] && break; sleep 0.1; done
  [ -d "$MOUNT/ipns" ] || { tail -n 20 "$W/anyad.log"; fail "$MOUNT is not mounted"; }
fi

ORACLE=$(p2p_oracle ipns-dht.mjs)
rc=0
timeout 300 node "$ORACLE" "$ANYA" "$P2P_ADDR" "$gw" "$W/a.txt" "$W/b.txt" "$cid_a" "$cid_b" "$MOUNT" || rc=$?
kill -0 "$ANYAD_PID" 2>/dev/null || { tail -n 30 "$W/anyad.log"; fail "anyad died"; }
if [ "$rc" != 0 ]; then
  echo "--- anyad log (tail)"
  tail -n 30 "$W/anyad.log"
  fail "the JS side failed (exit $rc)"
fi
# anyad's own record is kept for its next start
ls "$ANYA_REPO/ipns" 2>/dev/null | grep -q '^k51' || fail "no record under $ANYA_REPO/ipns"
kill -TERM "$ANYAD_PID"
status=0
wait "$ANYAD_PID" || status=$?
[ "$status" = 0 ] || { tail -n 20 "$W/anyad.log"; fail "anyad exited $status on SIGTERM"; }
[ -z "$MOUNT" ] || ! mountpoint -q "$MOUNT" || fail "$MOUNT still mounted after anyad stopped"
echo "ok"
