# Helpers for drivers that mount the filesystem (sourced after lib.bash).
# Needs root and /dev/fuse: says so and skips (exit 77) otherwise.
#   anyad_start [ARGS...]  mounts the repository ($ANYA_REPO) at $M, waits until served
#   anyad_stop             SIGTERM; the daemon must exit 0 and leave no mount
#   anyad_kill             kill -9 (a crash); the stale mount stays for the next start
#   need_tools CMD...      fails (run make deps) when a command is missing
#   attrs DIR / xattrs DIR one line per entry: stat fields / user.* xattrs, sorted
# FS_NATIVE=1 runs a driver against a native directory $M/files instead (the
# oracle the tool tests were proven on): the daemon functions do nothing.
need_tools() { local c; for c in "$@"; do command -v "$c" >/dev/null || fail "$c is missing: run make deps"; done; }
# attrs DIR: name, type, mode, owner, group, links, size (not for directories:
# their size is the filesystem's business), mtime in ns.
attrs() {
  (cd "$1" && find . -print0 | LC_ALL=C sort -z | xargs -0 stat -c '%n|%F|%a|%u|%g|%h|%s|%y' |
    awk -F'|' 'BEGIN { OFS = "|" } $2 == "directory" { $7 = "-" } { print }')
}
# xattrs DIR: the user.* xattrs of every entry, values in hex; then getfattr's
# complaints (an attribute listed that cannot be read).
xattrs() {
  (cd "$1" && { find . -print0 | LC_ALL=C sort -z | xargs -0 getfattr -h -d -m '^user\.' -e hex 2>"$T/getfattr.err" || true; } |
    awk '/^# file: / { f = substr($0, 9); next } NF { print f " " $0 }' | LC_ALL=C sort)
  sed 's/^/getfattr error: /' "$T/getfattr.err"
}
if [ -n "${FS_NATIVE:-}" ]; then
  M="$T/native"
  mkdir -p "$M/files"
  anyad_start() { :; }
  anyad_stop() { :; }
  return 0
fi
ANYAD=${ANYAD:-$(dirname "$ANYA")/anyad}
[ "$(id -u)" = 0 ] || { echo "SKIP (needs root): the FUSE tests mount a filesystem"; exit 77; }
[ -c /dev/fuse ] || { echo "SKIP (needs /dev/fuse): no FUSE device on this machine"; exit 77; }
[ -x "$ANYAD" ] || fail "$ANYAD is not built"
M="$T/mnt"
ANYAD_PID=
# Our processes are killed by PID; a mount they leave must go before $T is removed.
trap 'for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done; umount -l "$M" 2>/dev/null || true; rm -rf "$T"' EXIT

anyad_start() {
  # the HTTP listeners stay off unless a test asks (ARGS come later and win)
  "$ANYAD" --mount "$M" --p2p off --dwn off --gateway off --rpc off --foreground "$@" 2>>"$T/anyad.err" &
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
