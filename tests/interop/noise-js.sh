#!/usr/bin/env bash
# Noise interop with @chainsafe/libp2p-noise 17.0.0 (tests/interop/noise-js.mjs
# is the JS side, build/integration/noise_peer ours, over a pipe framed as on
# the wire): full XX handshakes in both roles, the peer IDs each side derives,
# the in-Noise muxer choice (both yamux, preference order, one side offering
# none), transport frames both ways up to the 65519-byte maximum, and both
# sides refusing an unexpected remote identity.
# Exit 0 pass, 77 skip (node/npm missing or the registry unreachable), else fail.
source "$(dirname "$0")/lib.bash"
npm_oracle libp2p libp2p 3.3.11 libp2p@3.3.11 @chainsafe/libp2p-noise@17.0.0 @chainsafe/libp2p-yamux@8.0.1 \
  @libp2p/tcp@11.0.28 @libp2p/identify@4.1.14 @libp2p/ping@3.1.13 @libp2p/kad-dht@16.4.5 helia@7.1.15 \
  @helia/unixfs@8.0.5 @helia/ipns@10.1.0 @libp2p/crypto@5.1.23 @libp2p/peer-id@6.0.15 \
  @multiformats/multiaddr multiformats

PEER="$BUILD/integration/noise_peer"
[ -x "$PEER" ] || { echo "FAIL: $PEER is not built"; exit 1; }
grep -q '"version": "17.0.0"' "$NPM_DIR/node_modules/@chainsafe/libp2p-noise/package.json" ||
  { echo "FAIL: @chainsafe/libp2p-noise in $NPM_DIR is not 17.0.0"; exit 1; }

# ESM resolves packages from the script's own directory: run a copy there.
ORACLE=$(mktemp "$NPM_DIR/oracle-noise.XXXXXX.mjs")
trap 'rm -f "$ORACLE"' EXIT
cp "$ROOT/tests/interop/noise-js.mjs" "$ORACLE"
timeout 300 node "$ORACLE" "$PEER"
