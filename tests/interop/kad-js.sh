#!/usr/bin/env bash
# Kademlia interop with js-libp2p 3.3.11 + @libp2p/kad-dht 16.4.5 in server mode
# (tests/interop/kad-js.mjs is the JS side) against anyad on loopback (--mount off, only
# --rpc and --p2p): both routing tables, FIND_NODE both ways (js's getClosestPeers; anyad's
# `anya routing findpeer` of a peer only js knows), provide on anyad found by js's
# findProviders, provide on js found by `anya routing findprovs`.
# Exit 0 pass, 77 skip (node/npm missing or the registry unreachable), else fail.
source "$(dirname "$0")/p2p-lib.bash"
p2p_npm

T=$(mktemp -d)
trap 'p2p_stop_all; rm -rf "$T"' EXIT
ORACLE=$(p2p_oracle kad-js.mjs)

export ANYA_REPO="$T/repo"
"$ANYA" init >/dev/null
echo "provided by anyad" >"$T/a.txt"
echo "provided by js" >"$T/b.txt"
cid_anyad=$("$ANYA" add -Q --cid-version 1 "$T/a.txt")
cid_js=$("$ANYA" add -Q -n --cid-version 1 "$T/b.txt")

p2p_anyad_start "$ANYA_REPO" "$T/anyad.log"
echo "anyad at $P2P_ADDR"
if ! timeout 300 node "$ORACLE" "$ANYA" "$P2P_ADDR" "$cid_anyad" "$cid_js"; then
  echo "--- anyad log (tail)"
  tail -n 30 "$T/anyad.log"
  exit 1
fi
