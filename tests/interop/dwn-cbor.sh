#!/usr/bin/env bash
# Differential test of dwn/dagcbor and dwn/ids against dwn-sdk-js 0.5.2 and its
# @ipld/dag-cbor 9.0.3: tests/interop/dwn-cbor.mjs prints vectors (2000+
# seeded random JSON values, messages made by the SDK's builders, decorated
# messages, dataCids up to a two-level 45 613 057-byte DAG) and
# check_dwn_cbor compares every byte and CID.
# Exit 0 pass, 77 skip (node/npm missing or the registry unreachable), else fail.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/dwn-lib.bash"
CHECK="$BUILD/interop/check_dwn_cbor"
[ -x "$CHECK" ] || { echo "FAIL: $CHECK is not built"; exit 1; }
dwn_oracle
SEED=${DWN_CBOR_SEED:-20240501}
VALUES=2000
BIG_BYTES=45613057
WORK=$(mktemp -d "$BUILD/dwn-cbor.XXXXXX")
# ESM resolves packages from the script's own directory: run a copy there.
ORACLE="$NPM_DIR/oracle-$(basename "$WORK").mjs"
trap 'rm -rf "$WORK" "$ORACLE"' EXIT
cp "$ROOT/tests/interop/dwn-cbor.mjs" "$ORACLE"

if ! (cd "$NPM_DIR" && node "$ORACLE" "$SEED" "$VALUES" "$BIG_BYTES") >"$WORK/vectors" 2>"$WORK/oracle.err"; then
  echo "FAIL: the oracle failed:"
  tail -n 20 "$WORK/oracle.err"
  exit 1
fi
echo "oracle: $(wc -l <"$WORK/vectors") vectors (seed $SEED)"
if ! "$CHECK" "$WORK/vectors" "$VALUES"; then
  # keep the vectors for replay: check_dwn_cbor FILE reproduces the failure
  mkdir -p "$BUILD/test-logs"
  cp "$WORK/vectors" "$BUILD/test-logs/dwn-cbor-vectors.jsonl"
  echo "FAIL: vectors kept in $BUILD/test-logs/dwn-cbor-vectors.jsonl"
  exit 1
fi
echo "1 passed, 0 failed"
