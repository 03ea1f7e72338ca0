#!/usr/bin/env bash
# anyad's DWN listener side by side with @web5/dwn-server 0.6.1 (from npm, run
# with node on loopback, its LevelDB stores in a temporary directory): the
# same requests to both (tests/interop/dwn-http-parity.mjs) and what a client
# sees compared, the documented differences checked as such.
# Exit 0 pass, 77 skip (node/npm or the registry missing), else fail.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/dwn-lib.bash"
source "$(dirname "$0")/dwn-http-lib.bash"
npm_oracle dwn-server @web5/dwn-server 0.6.1 @web5/dwn-server@0.6.1
SERVER_PKG="$NPM_DIR/node_modules/@web5/dwn-server"
npm_oracle dwn-ws ws 8.18.0 ws@8.18.0
WS_DIR=$NPM_DIR
dwn_oracle
command -v curl >/dev/null || { echo "FAIL: curl is missing: run make deps"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/anya-dwn-parity.XXXXXX")
REF_PID=""
cleanup() {
  dwn_http_stop_all
  if [ -n "$REF_PID" ]; then kill -TERM "$REF_PID" 2>/dev/null; wait "$REF_PID" 2>/dev/null; fi
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 143' INT TERM
dwn_http_start "$T/anya"
ANYA_URL=$DWN_URL
up=0
dwn_server_start "$SERVER_PKG" "$T/ds" && up=1
REF_PID=$DS_PID # stopped by the EXIT trap
if [ $up = 0 ]; then
  tail -n 5 "$T/ds.log"
  echo "skip: @web5/dwn-server 0.6.1 does not start on node $(node --version)"
  exit 77
fi
timeout 300 node "$ROOT/tests/interop/dwn-http-parity.mjs" "$NPM_DIR" "$WS_DIR" "$ANYA_URL" "$DS_URL"
rc=$?
dwn_http_stop_all
dwn_http_sanitizer_check || exit 1
[ $rc = 0 ] || { echo "FAIL: dwn-http-parity.mjs exited $rc"; exit 1; }
echo "dwn-http-parity: passed"
