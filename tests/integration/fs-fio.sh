#!/usr/bin/env bash
# fio with verify=crc32c in the mount's files/ (ioengine=psync, buffered):
# a sequential write of 256 MiB in 1 MiB blocks and a random write of 64 MiB in
# 4 KiB blocks, each read back and verified by fio (any mismatch is fatal);
# after a daemon restart both files are verified again (verify_only: the same
# job with the same seeds reads what the first run wrote).
# FS_NATIVE=1 runs the same checks on a native directory.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/mount-lib.bash"
command -v fio >/dev/null || fail "fio is missing: run make deps"
$ANYA init >/dev/null
anyad_start
mkdir "$M/files/fio"
COMMON=(--directory="$M/files/fio" --ioengine=psync --direct=0 --verify=crc32c --do_verify=1 --verify_fatal=1
  --verify_dump=0 --verify_state_save=0 --randrepeat=1 --randseed=4242 --end_fsync=1 --numjobs=1 --group_reporting)
SEQ=(--name=seq --filename=seq.dat --rw=write --bs=1m --size=256m)
RAND=(--name=rand --filename=rand.dat --rw=randwrite --bs=4k --size=64m)
runfio() { # what args...: exit 0, no error counted, no verify complaint
  local what=$1; shift
  local rc=0
  fio "${COMMON[@]}" "$@" --output="$T/fio.out" >"$T/fio.stdout" 2>&1 || rc=$?
  [ "$rc" = 0 ] || { tail -n 30 "$T/fio.out" "$T/fio.stdout"; fail "fio $what exited $rc"; }
  if grep -Eq 'err= *[1-9]|verify: bad|bad magic|crc32c: verify failed' "$T/fio.out" "$T/fio.stdout"; then
    tail -n 30 "$T/fio.out"; fail "fio $what reported errors"
  fi
  grep -q 'err= 0' "$T/fio.out" || { cat "$T/fio.out"; fail "fio $what: no job summary"; }
}

step "sequential write + verify, 256 MiB, bs=1m"
runfio "sequential write" "${SEQ[@]}"
[ "$(stat -c %s "$M/files/fio/seq.dat")" = $((256 * 1024 * 1024)) ] || fail "seq.dat size"

step "random write + verify, 64 MiB, bs=4k"
runfio "random write" "${RAND[@]}"
[ "$(stat -c %s "$M/files/fio/rand.dat")" = $((64 * 1024 * 1024)) ] || fail "rand.dat size"

step "random read/write mix + verify, 32 MiB, bs=4k"
runfio "randrw" --name=mix --filename=mix.dat --rw=randrw --rwmixread=30 --bs=4k --size=32m --verify_backlog=256

step "after a daemon restart: verify_only of both files"
anyad_stop
anyad_start
runfio "sequential verify after a restart" "${SEQ[@]}" --verify_only
runfio "random verify after a restart" "${RAND[@]}" --verify_only
grep -q 'READ: bw=' "$T/fio.out" || fail "the verify_only run read nothing"
anyad_stop
echo "fio passed"
