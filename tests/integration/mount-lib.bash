# Helpers for drivers that mount the filesystem (sourced after lib.bash).
# Needs root and /dev/fuse: says so and skips (exit 77) otherwise.
#   anyad_start [ARGS...]  mounts the repository ($ANYA_REPO) at $M, waits until served
#   anyad_stop             SIGTERM; the daemon must exit 0 and leave no mount
#   anyad_kill             kill -9 (a crash); the stale mount stays for the next start
ANYAD=${ANYAD:-$(dirname "$ANYA")/anyad}
[ "$(id -u)" = 0 ] || { echo "SKIP (needs root): the FUSE tests mount a filesystem"; exit 77; }
[ -c /dev/fuse ] || { echo "SKIP (needs /dev/fuse): no FUSE device on this machine"; exit 77; }
[ -x "$ANYAD" ] || fail "$ANYAD is not built"
M="$T/mnt"
ANYAD_PID=
# Our processes are killed by PID; a mount they leave must go before $T is removed.
trap 'for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done; umount -l "$M" 2>/dev/null || true; rm -rf "$T"' EXIT

anyad_start() {
  "$ANYAD" --mount "$M" --foreground "$@" 2>>"$T/anyad.err" &
  ANYAD_PID=$!
  PIDS+=("$ANYAD_PID")
  # served once files/ answers (a stale mount of a killed run is a mountpoint too)
  for _ in $(seq 1 200); do [ -d "$M/files" ] && return 0; kill -0 "$ANYAD_PID" 2>/dev/null || break; sleep 0.1; done
  cat "$T/anyad.err" >&2
  fail "anyad did not mount $M"
}
anyad_stop() {
  kill -TERM "$ANYAD_PID"
  local rc=0
  wait "$ANYAD_PID" || rc=$?
  [ "$rc" = 0 ] || { tail -20 "$T/anyad.err" >&2; fail "anyad exited $rc on SIGTERM"; }
  mountpoint -q "$M" && fail "still mounted after SIGTERM"
  return 0
}
anyad_kill() {
  kill -9 "$ANYAD_PID"
  wait "$ANYAD_PID" 2>/dev/null || true
}
