# Shared by the DWN listener drivers (sourced after lib.bash): starts DWN
# listeners on loopback over fresh repositories and stops them by PID.
#   dwn_http_start DIR [MAX_RECORD_DATA_SIZE]
#       `anya init` of DIR (dwn.max_record_data_size set when given), then the
#       listener on 127.0.0.1 with a port the kernel picks; sets DWN_URL and
#       DWN_PID (also appended to DWN_PIDS).  Fails the test when it does not
#       come up within 10 s.
#   dwn_http_stop PID   SIGTERM, then wait for it.
#   dwn_http_stop_all   every PID in DWN_PIDS (for the EXIT trap).
#   dwn_http_sanitizer_check   after stopping: fails when a listener's stderr
#       holds an AddressSanitizer / LeakSanitizer / UBSan report (make asan).
# The listener is anyad's (--mount off, only --dwn on), as users run it.
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
  local port=""
  for _ in $(seq 200); do
    port=$(sed -n 's/.*listening listener=dwn address=[0-9.]*:\([0-9]*\).*/\1/p' "$dir.err" 2>/dev/null | tail -n 1)
    [ -n "$port" ] && break
    kill -0 "$DWN_PID" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$port" ] || { cat "$dir.err"; echo "FAIL: anyad's DWN listener over $dir did not start"; exit 1; }
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
