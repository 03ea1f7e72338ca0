#!/usr/bin/env bash
# The differential scenarios recorded from dwn-sdk-js 0.5.2 replayed through
# the DWN listener on loopback (tests/interop/dwn-http-replay.mjs): every
# message over HTTP with dwn-server 0.6.1's client conventions, subscriptions
# over WebSocket, every reply compared as dwn-replay.sh compares the engine's.
# Each scenario gets a fresh repository and anyad serving only --dwn.  The scenarios of
# tests/interop/dwn/replay-passing.txt must match (a Subscribe step recorded
# without an event stream is n/a: the listener always has one, as
# dwn-server does).  The corpus is $DWN_CORPUS/scenarios.json, made as
# dwn-replay.sh makes it.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/dwn-lib.bash"
source "$(dirname "$0")/dwn-http-lib.bash"
npm_oracle dwn-ws ws 8.18.0 ws@8.18.0
WS_DIR=$NPM_DIR
dwn_oracle

mkdir -p "$DWN_CORPUS"
WORK=$(mktemp -d "$DWN_CORPUS/http-replay.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
dwn_corpus "$WORK"
[ -x "$ANYAD" ] || { echo "FAIL: $ANYAD is not built"; exit 1; }
timeout 1800 node "$ROOT/tests/interop/dwn-http-replay.mjs" "$NPM_DIR" "$WS_DIR" "$DOC" "$WORK/run" "$ANYA" "$ANYAD" \
  "$ROOT/tests/interop/dwn/replay-passing.txt" "$@" | tee "$WORK/replay.out" | grep -v "^PASS "
rc=${PIPESTATUS[0]}
echo "$(grep -c '^PASS' "$WORK/replay.out") scenarios match over HTTP; $(grep -c '^N/A' "$WORK/replay.out") n/a; $(grep -c '^FAIL' "$WORK/replay.out") do not"
exit "$rc"
