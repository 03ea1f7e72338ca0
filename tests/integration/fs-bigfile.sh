#!/usr/bin/env bash
# A 1.5 GiB file through the mount's files/: a pseudo-random stream written
# with dd (bs=1M, conv=fsync), read back and compared by SHA-256 with the
# source stream; its user.anya.cid equals `anya add -n` of the same bytes; a
# range in the middle reads back equal (random access); after a daemon
# restart the size, the SHA-256 and the CID are the same.
# FS_NATIVE=1 runs the same checks (the CID aside) on a native directory.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/mount-lib.bash"
command -v getfattr >/dev/null || fail "getfattr (Debian package attr) is missing: run make deps"
need=$((5 * 1024 * 1024)) # KiB: the file's blocks, its staging and slack
avail=$(df -Pk "$T" | awk 'NR == 2 { print $4 }')
[ "$avail" -ge "$need" ] || fail "needs 5 GiB free in ${TMPDIR:-/tmp} (it has $((avail / 1024)) MiB)"
SIZE=$((${FS_BIGFILE_MIB:-1536} * 1024 * 1024)) # FS_BIGFILE_MIB: make asan writes less
SEED=77
want_sha=$(prng_bytes $SEED $SIZE | sha256sum | cut -d' ' -f1)
$ANYA init >/dev/null
OTHER="$T/other"; ANYA_REPO="$OTHER" $ANYA init >/dev/null # computes the expected CID while anyad holds ours
[ -n "${FS_NATIVE:-}" ] || want_cid=$(prng_bytes $SEED $SIZE | ANYA_REPO="$OTHER" $ANYA add -Q -n --progress=false -)
anyad_start
BIG="$M/files/big.bin"

check() { # when
  [ "$(stat -c %s "$BIG")" = $SIZE ] || fail "$1: size $(stat -c %s "$BIG")"
  [ "$(sha256sum <"$BIG" | cut -d' ' -f1)" = "$want_sha" ] || fail "$1: SHA-256 differs from the source stream"
  # 1 MiB at an odd offset past the middle, against the same range of the stream
  cmp <(dd if="$BIG" bs=4096 iflag=skip_bytes,count_bytes skip=$((SIZE / 2 + 12345)) count=1048576 2>/dev/null) \
    <(prng_bytes $SEED $((SIZE / 2 + 12345 + 1048576)) | tail -c 1048576) || fail "$1: a range in the middle differs"
  [ -n "${FS_NATIVE:-}" ] && return 0
  local cid
  cid=$(getfattr --absolute-names --only-values -n user.anya.cid "$BIG") || fail "$1: no user.anya.cid"
  [ "$cid" = "$want_cid" ] || fail "$1: user.anya.cid $cid, anya add -n gives $want_cid"
}

step "write 1.5 GiB with dd bs=1M conv=fsync"
start=$(date +%s%N)
prng_bytes $SEED $SIZE | dd of="$BIG" bs=1M iflag=fullblock conv=fsync status=none || fail "dd into the mount exited $?"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "after the write"

step "after a daemon restart"
anyad_stop
anyad_start
check "after a restart"
anyad_stop
echo "1.5 GiB file passed (written in ${ms} ms, $((SIZE / 1048576 * 1000 / ms)) MiB/s${want_cid:+, $want_cid})"
