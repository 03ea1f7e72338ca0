#!/usr/bin/env bash
# The differential test of the C DWN engine: the scenarios recorded from
# dwn-sdk-js 0.5.2 (tests/interop/dwn/gen.mjs, format in docs/dwn-scenarios.md)
# replayed through engine/dwn (tests/interop/check_dwn_replay.c), every reply
# compared: status code, error code, entries, cursor, entry and data.
# tests/interop/dwn/replay-passing.txt lists the scenarios that must match;
# the run fails when one of them does not, and prints any new match.
# The recorded document is $DWN_CORPUS/scenarios.json (also written by
# dwn-scenarios.sh); it is made again when the generator sources changed.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/dwn-lib.bash"
dwn_oracle

CHECK="$BUILD/interop/check_dwn_replay"
[ -x "$CHECK" ] || { echo "FAIL: $CHECK is not built"; exit 1; }
mkdir -p "$DWN_CORPUS"
WORK=$(mktemp -d "$DWN_CORPUS/replay.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
dwn_corpus "$WORK"
mkdir -p "$WORK/run"
"$CHECK" "$DOC" "$WORK/run" "$ROOT/tests/interop/dwn/replay-passing.txt" | tee "$WORK/replay.out" | grep -v "^PASS [^ ]*$"
rc=${PIPESTATUS[0]}
echo "$(grep -c '^PASS' "$WORK/replay.out") scenarios match; $(grep -c '^FAIL' "$WORK/replay.out") do not yet"
exit "$rc"
