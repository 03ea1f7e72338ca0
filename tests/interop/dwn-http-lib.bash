# Shared by the DWN listener drivers (sourced after lib.bash): starts DWN
# listeners on loopback over fresh repositories and stops them by PID.
#   dwn_http_start DIR [MAX_RECORD_DATA_SIZE]
#       `anya init` of DIR (dwn.max_record_data_size set when given), then the
#       listener on 127.0.0.1 with a port the kernel picks; sets DWN_URL and
#       DWN_PID (also appended to DWN_PIDS).  Fails the test when it does not
#       come up within 10 s.
#   dwn_http_stop PID   SIGTERM, then wait for it.
#   dwn_http_stop_all   every PID in DWN_PIDS (for the EXIT trap).
#   dwn_server_start PKG DIR   the reference, @web5/dwn-server from its npm
#       package directory PKG, on a free loopback port with its LevelDB stores
#       under DIR (log in DIR.log); sets DS_URL and DS_PID; non-zero when it
#       does not answer /health within 30 s (the caller stops DS_PID).
#   dwn_http_sanitizer_check   after stopping: fails when a listener's stderr
#       holds an AddressSanitizer / LeakSanitizer / UBSan report (make asan).
# The listener is anyad's (--mount off, only --dwn on), as users run it.
source "$(dirname "${BASH_SOURCE[0]}")/../anyad-lib.bash"
DWN_PIDS=()
DWN_ERRS=()
ANYAD=${ANYAD:-$(dirname "$ANYA")/anyad}
dwn_http_start() {
  local dir=$1 max=${2:-}
  "$ANYA" --repo "$dir" init >/dev/null || { echo "FAIL: anya init $dir"; exit 1; }
  if [ -n "$max" ]; then
    sed -i "s/^max_record_data_size = .*/max_record_data_size = \"$max\"/" "$dir/config.toml"
  fi
  [ -x "$ANYAD" ] || { echo "FAIL: $ANYAD is not built"; exit 1; }
  "$ANYAD" --repo "$dir" --mount off --dwn 127.0.0.1:0 --gateway off --rpc off --p2p off --foreground 2>"$dir.err" &
  DWN_PID=$!
  DWN_PIDS+=("$DWN_PID")
  DWN_ERRS+=("$dir.err")
  local port
  port=$(anyad_wait_listener "$DWN_PID" "$dir.err" dwn) ||
    { cat "$dir.err"; echo "FAIL: anyad's DWN listener over $dir did not start"; exit 1; }
  DWN_URL="http://127.0.0.1:$port"
}
dwn_http_stop() {
  kill -TERM "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  return 0
}
dwn_http_stop_all() {
  local p
  for p in "${DWN_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${DWN_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  DWN_PIDS=()
}
dwn_http_sanitizer_check() {
  local f
  for f in "${DWN_ERRS[@]}"; do
    if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$f" 2>/dev/null; then
      grep -E -A30 "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$f" | head -60
      echo "FAIL: a sanitizer report in $f"
      return 1
    fi
  done
  return 0
}
# True when anyad is a sanitizer build (its memory figures mean nothing then).
dwn_http_sanitized() { grep -qa "__asan_init" "$ANYAD"; }
dwn_server_start() {
  local pkg=$1 dir=$2 port _
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  mkdir -p "$dir"
  # DWN_STORAGE itself is not set: it would turn the registration gate on (dwn-reference.md §12)
  (cd "$dir" && DS_PORT=$port DWN_SERVER_LOG_LEVEL=error DWN_SERVER_PACKAGE_JSON="$pkg/package.json" \
    DWN_STORAGE_MESSAGES="level://$dir/data" DWN_STORAGE_DATA="level://$dir/data" \
    DWN_STORAGE_EVENTS="level://$dir/data" DWN_STORAGE_RESUMABLE_TASKS="level://$dir/data" \
    exec node "$ROOT/tests/bench/dwn-server-loopback.mjs" "$pkg/dist/esm/src/main.js") >"$dir.log" 2>&1 &
  DS_PID=$!
  DS_URL="http://127.0.0.1:$port"
  for _ in $(seq 300); do
    curl -fs "$DS_URL/health" >/dev/null 2>&1 && return 0
    kill -0 "$DS_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
