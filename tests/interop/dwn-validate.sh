#!/usr/bin/env bash
# Differential test of dwn/validate, dwn/url and dwn/timestamp against
# dwn-sdk-js 0.5.2: dwn-validate.mjs builds valid messages of every
# interface/method with the SDK's builders, derives thousands of mutants and
# records what the SDK answers (its own message integrity check and JSON
# schema validator, its URL normaliser, Temporal for timestamps); the C
# checker must give the same status code and error code for every vector.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/dwn-lib.bash"
CHECK="$BUILD/interop/check_dwn_validate"
[ -x "$CHECK" ] || { echo "FAIL: $CHECK is not built"; exit 1; }
dwn_oracle
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node "$ROOT/tests/interop/dwn-validate.mjs" "$NPM_DIR" "$work/vectors.jsonl" || { echo "FAIL: vector generation"; exit 1; }
count=$(wc -l <"$work/vectors.jsonl")
[ "$count" -ge 500 ] || { echo "FAIL: only $count vectors"; exit 1; }
"$CHECK" "$work/vectors.jsonl" || { echo "FAIL: check_dwn_validate found differences"; exit 1; }
echo "PASS: $count vectors"
