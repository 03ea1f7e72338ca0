#!/usr/bin/env bash
# The DWN listener (net/dwn_http.c) end to end on loopback, driven by
# dwn-http.mjs with messages signed by dwn-sdk-js 0.5.2 and sent the way
# @web5/dwn-server 0.6.1's client sends them: RecordsWrite with data (100 B
# inline, 50 MiB streamed chunked into the block engine, 1 MiB with
# Content-Length) read back byte-identical with the dwn-response header;
# RecordsQuery, ProtocolsConfigure/Query, RecordsDelete; the JSON-RPC errors
# (-50400 400, -32600 and -32601 500, 413 past dwn.max_record_data_size by
# Content-Length and while streaming, nothing stored); the request in an
# application/json body and params.encodedData; a 40 KiB dwn-request header;
# /info, /health, CORS preflight; the convenience reads; WebSocket
# subscriptions (events in order, reuse -32602, close, no event after it),
# RecordsWrite over WebSocket with params.encodedData (ws 8.18.0 as client).
# Exit 0 pass, 77 skip (node/npm or the registry missing), else fail.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/dwn-lib.bash"
source "$(dirname "$0")/dwn-http-lib.bash"
npm_oracle dwn-ws ws 8.18.0 ws@8.18.0
WS_DIR=$NPM_DIR
dwn_oracle

T=$(mktemp -d "${TMPDIR:-/tmp}/anya-dwn-http.XXXXXX")
trap 'dwn_http_stop_all; rm -rf "$T"' EXIT
trap 'exit 143' INT TERM
SMALL_MAX=1048576
dwn_http_start "$T/main"
MAIN_URL=$DWN_URL
dwn_http_start "$T/small" "1MiB"
SMALL_URL=$DWN_URL
timeout 600 node "$ROOT/tests/interop/dwn-http.mjs" "$NPM_DIR" "$WS_DIR" "$MAIN_URL" "$SMALL_URL" "$SMALL_MAX"
rc=$?
if [ $rc -ne 0 ]; then
  echo "--- listener stderr"; tail -n 20 "$T/main.err" "$T/small.err"
  echo "FAIL: dwn-http.mjs exited $rc"
  exit 1
fi
# the 50 MiB record went to the block engine, not into memory: the listener
# must have stayed small (VmHWM of the main listener)
hwm=$(awk '/VmHWM/ { print $2 }' "/proc/${DWN_PIDS[0]}/status" 2>/dev/null || echo 0)
echo "listener peak RSS: $((hwm / 1024)) MiB"
if dwn_http_sanitized; then
  echo "(a sanitizer build: the peak RSS is not checked)"
elif [ "${hwm:-0}" -ge $((200 * 1024)) ]; then
  echo "FAIL: the listener's peak RSS is $((hwm / 1024)) MiB for a 50 MiB record"
  exit 1
fi
dwn_http_stop_all
dwn_http_sanitizer_check || exit 1
"$ANYA" --repo "$T/main" repo fsck >/dev/null || { echo "FAIL: fsck of the repository after the run"; exit 1; }
echo "dwn-http: passed"
