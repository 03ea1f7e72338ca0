#!/usr/bin/env bash
# The POSIX semantics suite (tests/integration/posix_check.c) against the
# mount's files/ tree.  First on a native directory of this machine, where it
# must pass: that proves the suite (the native filesystem is the oracle).  Then
# on a fresh repository mounted by anyad, as root with unprivileged parts in
# forked children; every "not ok" line there is a failure of files/.  Last, the
# daemon is restarted and the fixture the suite left in files/posix/persist
# (content written sequentially, randomly and through a mapping; mode, owner,
# times, hard link, symlink, xattr, fifo, sparse file, an exchange, removals)
# must have survived.  statfs of files/ must report the repository's disk.  Needs root and /dev/fuse (skips otherwise).
source "$(dirname "$0")/lib.bash"
CHECKER="${ANYA_BUILD:-$(dirname "$ANYA")/..}/integration/posix_check"
[ -x "$CHECKER" ] || fail "$CHECKER is not built (make tests)"
[ "$(id -u)" = 0 ] || { echo "SKIP (needs root): the suite switches uid/gid and chowns"; exit 77; }
chmod 755 "$T"

step "the suite on a native directory ($(stat -f -c %T "$T"))"
mkdir "$T/native"
rc=0
timeout 900 "$CHECKER" "$T/native/posix" >"$T/native.tap" 2>&1 || rc=$?
cat "$T/native.tap"
[ "$rc" = 0 ] || fail "the suite fails on a native directory (exit $rc): fix the suite, not the filesystem"
"$CHECKER" "$T/native/posix" --verify-persist || fail "the persist fixture does not verify on a native directory"
rm -rf "$T/native"

source "$(dirname "$0")/mount-lib.bash"
$ANYA init >/dev/null

step "the suite on the mount: $M/files/posix"
anyad_start
rc=0
timeout 1000 "$CHECKER" "$M/files/posix" >"$T/mount.tap" 2>&1 || rc=$?
cat "$T/mount.tap"
mount_failed=$(grep -c -e '^not ok ' -e '^Bail out!' "$T/mount.tap" || true)
[ "$rc" = 0 ] || [ "$mount_failed" -gt 0 ] || { tail -20 "$T/anyad.err" >&2; fail "posix_check exited $rc on the mount without a failing check (crash or timeout)"; }
persist_rc=0
"$CHECKER" "$M/files/posix" --verify-persist || persist_rc=$?
# statfs of files/ reports the disk that holds the repository (total size within 1 %)
read -r mb ms < <(stat -f -c '%b %S' "$M/files")
read -r rb rs < <(stat -f -c '%b %S' "$ANYA_REPO")
statfs_ok=1
awk -v a="$((mb * ms))" -v b="$((rb * rs))" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d <= b / 100) }' || statfs_ok=0
echo "statfs: files/ $((mb * ms)) bytes in all, the repository's disk $((rb * rs))"
anyad_stop

step "after a restart the fixture is still there"
anyad_start
restart_rc=0
"$CHECKER" "$M/files/posix" --verify-persist || restart_rc=$?
anyad_stop

[ "$rc" = 0 ] || {
  echo "failing checks on the mount:"
  grep -e '^not ok ' -e '^Bail out!' "$T/mount.tap"
  fail "$mount_failed POSIX check(s) fail on files/"
}
[ "$statfs_ok" = 1 ] || fail "statfs of files/ does not report the repository's disk"
[ "$persist_rc" = 0 ] || fail "the persist fixture does not verify on the mount"
[ "$restart_rc" = 0 ] || fail "the persist fixture did not survive a restart of anyad"
echo "the POSIX suite passes on files/, and its fixture survives a restart"
