#!/usr/bin/env bash
# JWS / DID interop with dwn-sdk-js 0.5.2 and @web5/dids 1.2.0
# (tests/interop/dwn-jws.mjs is the JS side, check_dwn_jws.c the C side):
#  1. the SDK makes did:key and did:jwk DIDs (Ed25519, secp256k1, P-256),
#     did:web documents (served from memory through a replaced fetch), and
#     General JWS objects signed by its GeneralJwsBuilder, plus tampered and
#     malformed variants, each judged by the SDK's own checks;
#  2. check_dwn_jws resolves the same DIDs to byte-identical documents, gives
#     every JWS the SDK's verdict (status, DwnErrorCode, signer), twice (the
#     second time from the caches), signs with the SDK's keys and with fresh
#     keys of its own (did:key made by the C side);
#  3. the SDK verifies every C signature (header, payload, low S for
#     secp256k1) and resolves the C-made DIDs to the documents C produced.
# Exit 0 pass, 77 skip (node/npm missing or the registry unreachable), else fail.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/dwn-lib.bash"
dwn_oracle

CHECK="$BUILD/interop/check_dwn_jws"
[ -x "$CHECK" ] || { echo "FAIL: $CHECK is not built"; exit 1; }
WORK=$(mktemp -d "$BUILD/dwn-jws.XXXXXX")
# ESM resolves packages from the script's own directory: run a copy there.
ORACLE="$NPM_DIR/oracle-$(basename "$WORK").mjs"
trap 'rm -rf "$WORK" "$ORACLE"' EXIT
cp "$ROOT/tests/interop/dwn-jws.mjs" "$ORACLE"
fail() { echo "FAIL: $*"; exit 1; }

echo "--- SDK: DIDs, documents, signed and tampered JWS"
(cd "$NPM_DIR" && node "$ORACLE" gen "$WORK/vectors.json") || fail "the SDK could not make the vectors"

echo "--- C: resolve, verify, sign"
"$CHECK" "$WORK/vectors.json" "$WORK/c-signed.json" || fail "C and the SDK disagree"

echo "--- SDK: verify what C signed"
(cd "$NPM_DIR" && node "$ORACLE" verify "$WORK/vectors.json" "$WORK/c-signed.json") ||
  fail "the SDK rejects C signatures or C-made DIDs"
echo "dwn-jws interop: all checks passed"
