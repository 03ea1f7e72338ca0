#!/usr/bin/env bash
# libp2p interop with js-libp2p 3.3.11 (tcp, @chainsafe/libp2p-noise, yamux,
# identify, ping): tests/interop/p2p-js.mjs is the JS node, anyad (--mount off,
# --p2p on 127.0.0.1 port 0, only rpc otherwise, for `anya`) ours.  js dials
# anyad and anyad dials js (anya swarm connect); identify checked on both sides
# (agentVersion, protocolVersion, protocols, publicKey <-> peer ID, listen
# addresses), ping both ways, anya swarm peers lists the js peer, and raw
# sockets speaking garbage (HTTP; a bad Noise message) are closed while the
# js connection and the daemon go on.
# Exit 0 pass, 77 skip (node/npm missing or the registry unreachable), else fail.
source "$(dirname "$0")/p2p-lib.bash"
p2p_npm
W=$(mktemp -d)
trap 'p2p_stop_all; rm -rf "$W"' EXIT
p2p_anyad_start "$W/repo" "$W/anyad.log"
echo "anyad: $P2P_ADDR"
ORACLE=$(p2p_oracle p2p-js.mjs)
rc=0
timeout 300 node "$ORACLE" "$ANYA" "$W/repo" "$P2P_ADDR" || rc=$?
kill -0 "$ANYAD_PID" 2>/dev/null || { cat "$W/anyad.log"; echo "FAIL: anyad died"; exit 1; }
if [ "$rc" != 0 ]; then
  tail -n 30 "$W/anyad.log"
  echo "FAIL: the JS side failed (exit $rc)"
  exit 1
fi
grep -q 'connection closed for misbehaviour' "$W/anyad.log" || { cat "$W/anyad.log"; echo "FAIL: anyad did not log the bad connections"; exit 1; }
kill -TERM "$ANYAD_PID"
status=0
wait "$ANYAD_PID" || status=$?
[ "$status" = 0 ] || { tail "$W/anyad.log"; echo "FAIL: anyad exited $status on SIGTERM"; exit 1; }
echo "ok"
