#!/usr/bin/env bash
# Kademlia interop with js-libp2p 3.3.11 + @libp2p/kad-dht 16.4.5 in server mode
# (tests/interop/kad-js.mjs is the JS side) against anyad on loopback (--mount off, only
# --rpc and --p2p): both routing tables, FIND_NODE both ways, provide on anyad found by js's
# findProviders, provide on js found by `anya routing findprovs`.
# Exit 0 pass, 77 skip (node/npm missing or the registry unreachable), else fail.
source "$(dirname "$0")/lib.bash"
if [ -f "$ROOT/tests/interop/p2p-lib.bash" ]; then
  source "$ROOT/tests/interop/p2p-lib.bash"
  p2p_oracle
else
  npm_oracle libp2p libp2p 3.3.11 libp2p@3.3.11 @chainsafe/libp2p-noise@17.0.0 @chainsafe/libp2p-yamux@8.0.1 \
    @libp2p/tcp@11.0.28 @libp2p/identify@4.1.14 @libp2p/ping@3.1.13 @libp2p/kad-dht@16.4.5 helia@7.1.15 \
    @helia/unixfs@8.0.5 @helia/ipns@10.1.0 @libp2p/crypto@5.1.23 @libp2p/peer-id@6.0.15 \
    @multiformats/multiaddr multiformats
fi
source "$ROOT/tests/anyad-lib.bash"
ANYAD=${ANYAD:-$BUILD/bin/anyad}
[ -x "$ANYAD" ] || { echo "FAIL: $ANYAD is not built"; exit 1; }

T=$(mktemp -d)
ORACLE=$(mktemp "$NPM_DIR/oracle-kad.XXXXXX.mjs")
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$T" "$ORACLE"
}
trap cleanup EXIT
cp "$ROOT/tests/interop/kad-js.mjs" "$ORACLE"

export ANYA_REPO="$T/repo"
"$ANYA" init >/dev/null
echo "provided by anyad" >"$T/a.txt"
echo "provided by js" >"$T/b.txt"
cid_anyad=$("$ANYA" add -Q --cid-version 1 "$T/a.txt")
cid_js=$("$ANYA" add -Q -n --cid-version 1 "$T/b.txt")

"$ANYAD" --repo "$ANYA_REPO" --mount off --dwn off --gateway off --rpc 127.0.0.1:0 \
  --p2p /ip4/127.0.0.1/tcp/0 --foreground >"$T/anyad.log" 2>&1 &
pid=$!
if ! anyad_wait_listener "$pid" "$T/anyad.log" rpc >/dev/null; then
  tail -n 20 "$T/anyad.log"
  echo "FAIL: anyad did not come up"
  exit 1
fi
# anyad's p2p address: the first of `anya id`'s Addresses (through the daemon)
ma=""
for _ in $(seq 100); do
  ma=$("$ANYA" id | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const a=JSON.parse(s).Addresses||[];console.log(a.find(x=>x.startsWith("/ip4/127.0.0.1/tcp/"))||"")})')
  [ -n "$ma" ] && break
  sleep 0.1
done
[ -n "$ma" ] || { tail -n 20 "$T/anyad.log"; echo "FAIL: anya id lists no /ip4/127.0.0.1/tcp/ address"; exit 1; }
echo "anyad at $ma"

if ! timeout 300 node "$ORACLE" "$ANYA" "$ma" "$cid_anyad" "$cid_js"; then
  echo "--- anyad log (tail)"
  tail -n 30 "$T/anyad.log"
  exit 1
fi
