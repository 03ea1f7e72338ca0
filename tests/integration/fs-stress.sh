#!/usr/bin/env bash
# stress-ng's filesystem stressors against the mount's files/ in three batches
# (two of 10 s, one bounded by operations, each with a watchdog), with
# --verify where the stressor supports it: every stressor must run (no
# skip, no "not implemented"), count operations, report no failure, and
# stress-ng must exit 0.  Afterwards the daemon still answers, the stressors'
# scratch directories are all removed (unlink/rmdir worked) and SIGTERM exits 0.
# Left out: getdent (reads /proc, /dev, /sys, not the temp path); fiemap (FUSE
# has no FIEMAP ioctl); inode-flags (ext2-style flags ioctls, not a FUSE
# operation).
# FS_NATIVE=1 runs the same checks on a native directory.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/mount-lib.bash"
command -v stress-ng >/dev/null || fail "stress-ng is missing: run make deps"
$ANYA init >/dev/null
anyad_start
TMP="$M/files/stress"
mkdir "$TMP" "$M/files/fstat-dir"
for i in $(seq 1 50); do echo "$i" >"$M/files/fstat-dir/f$i"; done

stress() { # what "stressor names" seconds-max stress-ng-args...
  local what=$1 names=$2 seconds_max=$3; shift 3
  local rc=0 pid i
  (cd "$T" && exec stress-ng "$@" --temp-path "$TMP" --verify --metrics-brief) >"$T/stress.out" 2>&1 &
  pid=$!; PIDS+=("$pid")
  # A stressor blocked in a request the daemon never answers cannot be killed
  # (close's FLUSH waits uninterruptibly): say so and fail; the exit trap kills
  # the daemon, which releases it.
  for ((i = 0; i < seconds_max * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    ps -o pid,stat,wchan:32,args -p "$pid" --ppid "$pid" || true
    fail "stress-ng $what still runs after $seconds_max s (processes blocked in the filesystem above)"
  fi
  wait "$pid" || rc=$?
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
  grep ' metrc: .* [0-9.]* *[0-9.]* *[0-9.]* *[0-9.]* *[0-9.]*$' "$T/stress.out" | awk '$4 != "stressor" { printf "  %s %s ops in %s s\n", $4, $5, $6 }'
  kill -0 "${ANYAD_PID:-$$}" || fail "the daemon died during $what"
  ls -la "$M/files" >/dev/null || fail "ls of files/ after $what"
  [ -z "$(ls -A "$TMP")" ] || { find "$TMP" | head; fail "stress-ng $what left entries behind in its temp path"; }
}

step "names, renames, modes, data, allocation, seeks (10 s)"
stress "batch 1" "dir dentry rename chmod hdd fallocate seek" 90 --timeout "${STRESS_SECONDS:-10}s" --dir 2 --dir-dirs 2048 --dentry 2 \
  --rename 2 --chmod 2 --hdd 2 --hdd-bytes 64m --fallocate 1 --seek 2

step "times, locks, sync, copy, holes, deep trees (10 s)"
stress "batch 2" "utime filename fstat lockf flock sync-file copy-file readahead fcntl dirdeep fpunch fsize iomix" 90 \
  --timeout "${STRESS_SECONDS:-10}s" --utime 1 --filename 1 --fstat 1 --fstat-dir "$M/files/fstat-dir" --lockf 1 --flock 1 \
  --sync-file 1 --copy-file 1 --readahead 1 --fcntl 1 --dirdeep 1 \
  --fpunch 1 --fsize 1 --iomix 1

# One bogo operation of these is thousands of calls (a link stressor op makes
# and removes thousands of links, an xattr op sets up to 4096 names and reads,
# replaces, lists and removes each, an mmap op touches every page of a shared
# file mapping): bounded by operations, so each runs its whole verification
# twice, with a time limit as a backstop.
step "hard links, symlinks, xattrs, shared file mmap (2 operations each)"
stress "batch 3" "link symlink xattr mmap" 180 --timeout 120s --link 1 --link-ops 2 --symlink 1 --symlink-ops 2 \
  --xattr 1 --xattr-ops 2 --mmap 1 --mmap-ops 2 --mmap-file --mmap-bytes 4m

step "the daemon still serves"
[ "$(ls "$M/files/fstat-dir" | wc -l)" = 50 ] || fail "fstat-dir lost entries"
[ "$(cat "$M/files/fstat-dir/f17")" = 17 ] || fail "fstat-dir content"
echo survived >"$M/files/after" && [ "$(cat "$M/files/after")" = survived ] || fail "write after the stress"
anyad_stop
echo "stress-ng passed"
