#!/usr/bin/env bash
# files/, the writable tree, end to end: files stream in (cp) or are staged
# (random writes) and read back; user.anya.cid of files and trees equals
# `anya add` (-r -H) of the same bytes; pin policies with source files pin
# what is written under their path_prefix; a random-written file whose fsync
# returned survives kill -9 (the staging file is re-chunked at start); after
# the daemon stops, `anya repo gc` keeps every file's content and fsck is clean.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/mount-lib.bash"
F="$M/files"
OTHER="$T/other" # a second repository for `anya add -n` while the daemon holds the first
cid_of() { getfattr --absolute-names --only-values -n user.anya.cid "$1"; }
add_n() { ANYA_REPO="$OTHER" $ANYA add -Q -n "$@"; }

$ANYA init >/dev/null
ANYA_REPO="$OTHER" $ANYA init >/dev/null
cat >>"$ANYA_REPO/config.toml" <<'TOML'

[[pinning.policy]]
name = "backups"
source = "files"
path_prefix = "/backups"
keep_last = 2
TOML

mkdir -p "$T/tree/sub/deeper" "$T/tree/.hidden"
prng_bytes 1 3000000 >"$T/tree/sub/big"
prng_bytes 2 262144 >"$T/tree/sub/deeper/chunk"
: >"$T/tree/empty"
echo dot >"$T/tree/.hidden/.file"
ln -s sub/big "$T/tree/link"

step "cp -r in, read back, CIDs equal anya add"
anyad_start
cp -r "$T/tree" "$F/tree"
diff -r --no-dereference "$T/tree" "$F/tree" || fail "tree differs after cp -r"
[ "$(cid_of "$F/tree/sub/big")" = "$(add_n "$T/tree/sub/big")" ] || fail "file CID differs from anya add"
[ "$(cid_of "$F/tree/empty")" = "$(add_n "$T/tree/empty")" ] || fail "empty file CID"
[ "$(cid_of "$F/tree")" = "$(add_n -r -H "$T/tree")" ] || fail "tree CID differs from anya add -r -H"

step "random writes are staged, read back, and hashed like anya add"
python3 - "$F/tree/sub/big" "$T/expected" <<'PY'
import os, sys
path, out = sys.argv[1], sys.argv[2]
data = bytearray(open(path, 'rb').read())
fd = os.open(path, os.O_RDWR)
for off, chunk in ((5, b'x' * 100), (2999990, b'tail-grows' * 3), (1000000, b'middle')):
    os.pwrite(fd, chunk, off)
    end = off + len(chunk)
    if end > len(data): data.extend(b'\0' * (end - len(data)))
    data[off:end] = chunk
got = os.pread(fd, len(data) + 10, 0)
assert got == bytes(data), "read back through the same descriptor differs"
os.close(fd)
open(out, 'wb').write(data)
PY
cmp "$F/tree/sub/big" "$T/expected" || fail "staged file differs after close"
[ "$(cid_of "$F/tree/sub/big")" = "$(add_n "$T/expected")" ] || fail "staged file CID differs from anya add"
truncate -s 1000 "$F/tree/sub/big"
head -c 1000 "$T/expected" >"$T/expected.1000"
cmp "$F/tree/sub/big" "$T/expected.1000" || fail "truncate down"
[ "$(cid_of "$F/tree/sub/big")" = "$(add_n "$T/expected.1000")" ] || fail "CID after truncate"

step "sparse files: a 1 TiB hole closes, is written into and cut, without reading the hole"
truncate -s 1T "$F/sparse"
[ "$(stat -c %s "$F/sparse")" = 1099511627776 ] || fail "1 TiB sparse size"
printf 'data' | dd of="$F/sparse" bs=1 seek=5000000000 conv=notrunc status=none
truncate -s 6G "$F/sparse"
truncate -s 6G "$T/sparse"
printf 'data' | dd of="$T/sparse" bs=1 seek=5000000000 conv=notrunc status=none
[ "$(dd if="$F/sparse" bs=1 skip=5000000000 count=4 status=none)" = data ] || fail "data in the sparse file"
[ "$(cid_of "$F/sparse")" = "$(add_n "$T/sparse")" ] || fail "sparse file CID differs from anya add"
truncate -s 17T "$F/sparse" 2>"$T/err" && fail "a 17 TiB file was accepted (16 TiB is the limit)"
grep -q "File too large" "$T/err" || fail "past 16 TiB: $(cat "$T/err")"
rm "$F/sparse" "$T/sparse"

step "pin policy: files under /backups are pinned, keep_last 2"
mkdir "$F/backups"
for i in 1 2 3; do prng_bytes $((10 + i)) 100000 >"$F/backups/day$i"; done
anyad_stop
$ANYA pin ls --name backups/ >"$T/pins" 2>&1 || $ANYA pin ls >"$T/pins"
grep -q "backups/day3" "$T/pins" || { cat "$T/pins"; fail "the newest backup is not pinned"; }
grep -q "backups/day2" "$T/pins" || { cat "$T/pins"; fail "the second newest backup is not pinned"; }
grep -q "backups/day1" "$T/pins" && { cat "$T/pins"; fail "keep_last 2 left day1 pinned"; }
grep -q "tree/" "$T/pins" && { cat "$T/pins"; fail "a file outside path_prefix was pinned"; }

step "kill -9 after fsync of a staged file: the fsync'ed bytes survive"
anyad_start
python3 - "$F/tree/sub/deeper/chunk" "$T/expected.chunk" >"$T/py.out" 2>&1 <<'PY' &
import os, sys, time
path, out = sys.argv[1], sys.argv[2]
data = bytearray(open(path, 'rb').read())
fd = os.open(path, os.O_RDWR)
os.pwrite(fd, b'fsynced', 4096)
data[4096:4096 + 7] = b'fsynced'
os.fsync(fd)
open(out, 'wb').write(data)
print("ready", flush=True)
time.sleep(60)  # still open, so still staged, when the daemon is killed
PY
WRITER=$!
PIDS+=("$WRITER")
for _ in $(seq 1 100); do grep -q ready "$T/py.out" && break; sleep 0.1; done
grep -q ready "$T/py.out" || { cat "$T/py.out"; fail "the writer did not finish its fsync"; }
anyad_kill
kill -9 "$WRITER" 2>/dev/null || true
wait "$WRITER" 2>/dev/null || true
anyad_start
cmp "$F/tree/sub/deeper/chunk" "$T/expected.chunk" || fail "the fsync'ed write is lost after kill -9"
grep -q "recovered a staged file" "$T/anyad.err" || fail "no staged-file recovery logged"
[ "$(cid_of "$F/tree/sub/deeper/chunk")" = "$(add_n "$T/expected.chunk")" ] || fail "CID after recovery"
anyad_stop

step "repo gc keeps every file's content; fsck is clean"

$ANYA repo gc >/dev/null
$ANYA repo fsck >/dev/null || fail "fsck after gc"
anyad_start
cmp "$F/tree/sub/deeper/chunk" "$T/expected.chunk" || fail "content lost by gc"
cmp "$F/tree/sub/big" "$T/expected.1000" || fail "content lost by gc"
diff -r "$T/tree/.hidden" "$F/tree/.hidden" || fail "dot-files lost by gc"
anyad_stop
echo "files/ end to end: ok"
