#!/usr/bin/env bash
# stress-ng's filesystem stressors against the mount's files/, 10 s each batch,
# with --verify where the stressor supports it: every stressor must run (no
# skip, no "not implemented"), count operations, report no failure, and
# stress-ng must exit 0.  Afterwards the daemon still answers, the stressors'
# scratch directories are all removed (unlink/rmdir worked) and SIGTERM exits 0.
# Left out: getdent (reads /proc, /dev, /sys, not the temp path); fiemap (FUSE
# has no FIEMAP ioctl); inode-flags (ext2-style flags ioctls, not a FUSE
# operation).
# FS_NATIVE=1 runs the same checks on a native directory.
source "$(dirname "$0")/lib.bash"
if [ -n "${FS_NATIVE:-}" ]; then
  M="$T/native"; mkdir -p "$M/files"; anyad_start() { :; }; anyad_stop() { :; }
else
  source "$(dirname "$0")/mount-lib.bash"
fi
command -v stress-ng >/dev/null || fail "stress-ng is missing: run make deps"
$ANYA init >/dev/null
anyad_start
TMP="$M/files/stress"
mkdir "$TMP" "$M/files/fstat-dir"
for i in $(seq 1 50); do echo "$i" >"$M/files/fstat-dir/f$i"; done

stress() { # what "stressor names" stress-ng-args...
  local what=$1 names=$2; shift 2
  local rc=0
  (cd "$T" && stress-ng "$@" --timeout 10s --temp-path "$TMP" --verify --metrics-brief) >"$T/stress.out" 2>&1 || rc=$?
  [ "$rc" = 0 ] || { grep -v ' metrc: ' "$T/stress.out" | tail -n 30; fail "stress-ng $what exited $rc"; }
  if grep -Eiq 'fail|error|skipping|not implemented|not supported|unsupported' "$T/stress.out"; then
    grep -Ei 'fail|error|skipping|not implemented|not supported|unsupported' "$T/stress.out" | head -20
    fail "stress-ng $what reported problems"
  fi
  # every stressor asked for did some work
  local s ops
  for s in $names; do
    ops=$(awk -v s="$s" '$2 == "metrc:" && $4 == s { print $5; exit }' "$T/stress.out")
    [ -n "$ops" ] && [ "$ops" -gt 0 ] || { grep ' metrc: ' "$T/stress.out"; fail "stress-ng $what: $s did no operation (${ops:-no metrics})"; }
  done
  kill -0 "${ANYAD_PID:-$$}" || fail "the daemon died during $what"
  ls -la "$M/files" >/dev/null || fail "ls of files/ after $what"
  [ -z "$(ls -A "$TMP")" ] || { find "$TMP" | head; fail "stress-ng $what left entries behind in its temp path"; }
}

step "names, links, renames, xattrs, modes, data"
stress "batch 1" "dir dentry rename link symlink xattr chmod hdd fallocate seek" --dir 2 --dir-dirs 2048 --dentry 2 --rename 2 --link 2 --symlink 2 --xattr 2 --chmod 2 \
  --hdd 2 --hdd-bytes 64m --fallocate 1 --seek 2

step "times, locks, mmap, sync, copy, holes, deep trees"
stress "batch 2" "utime filename fstat lockf flock mmap sync-file copy-file readahead fcntl dirdeep fpunch fsize iomix" --utime 1 --filename 1 --fstat 1 --fstat-dir "$M/files/fstat-dir" --lockf 1 --flock 1 \
  --mmap 1 --mmap-file --mmap-bytes 16m --sync-file 1 --copy-file 1 --readahead 1 --fcntl 1 --dirdeep 1 \
  --fpunch 1 --fsize 1 --iomix 1

step "the daemon still serves"
[ "$(ls "$M/files/fstat-dir" | wc -l)" = 50 ] || fail "fstat-dir lost entries"
[ "$(cat "$M/files/fstat-dir/f17")" = 17 ] || fail "fstat-dir content"
echo survived >"$M/files/after" && [ "$(cat "$M/files/after")" = survived ] || fail "write after the stress"
anyad_stop
echo "stress-ng passed"
