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
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
mkdir -p "$T/ds"
# DWN_STORAGE itself is not set: it would turn the registration gate on (dwn-reference.md §12)
(cd "$T/ds" && DS_PORT=$port DWN_SERVER_LOG_LEVEL=error DWN_SERVER_PACKAGE_JSON="$SERVER_PKG/package.json" \
  DWN_STORAGE_MESSAGES="level://$T/ds/data" DWN_STORAGE_DATA="level://$T/ds/data" \
  DWN_STORAGE_EVENTS="level://$T/ds/data" DWN_STORAGE_RESUMABLE_TASKS="level://$T/ds/data" \
  exec node "$ROOT/tests/bench/dwn-server-loopback.mjs" "$SERVER_PKG/dist/esm/src/main.js") >"$T/ds.log" 2>&1 &
REF_PID=$!
up=0
for _ in $(seq 300); do
  curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && up=1 && break
  kill -0 "$REF_PID" 2>/dev/null || break
  sleep 0.1
done
if [ $up = 0 ]; then
  tail -n 5 "$T/ds.log"
  echo "skip: @web5/dwn-server 0.6.1 does not start on node $(node --version)"
  exit 77
fi
timeout 300 node "$ROOT/tests/interop/dwn-http-parity.mjs" "$NPM_DIR" "$WS_DIR" "$ANYA_URL" "http://127.0.0.1:$port"
rc=$?
dwn_http_stop_all
dwn_http_sanitizer_check || exit 1
[ $rc = 0 ] || { echo "FAIL: dwn-http-parity.mjs exited $rc"; exit 1; }
echo "dwn-http-parity: passed"
