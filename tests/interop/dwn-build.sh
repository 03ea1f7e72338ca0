#!/usr/bin/env bash
# Messages built and signed in C (engine/dwn/build.h; Ed25519 and secp256k1
# did:key signers) are accepted by dwn-sdk-js 0.5.2 and get the same replies
# there as in the C engine: check_dwn_build builds them and runs them through
# the C engine, dwn-build.mjs sends them to the SDK's Dwn (LevelDB stores)
# and compares every reply.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/dwn-lib.bash"
dwn_oracle

CHECK="$BUILD/interop/check_dwn_build"
[ -x "$CHECK" ] || { echo "FAIL: $CHECK is not built"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/anya-dwn-build.XXXXXX")
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/c" "$T/sdk"
"$CHECK" "$T/steps.json" "$T/c" || { echo "FAIL: the C engine did not answer as expected"; exit 1; }
node "$ROOT/tests/interop/dwn-build.mjs" "$NPM_DIR" "$T/steps.json" "$T/sdk" || { echo "FAIL: the SDK answered differently"; exit 1; }
