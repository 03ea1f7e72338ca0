#!/usr/bin/env bash
# The FUSE daemon end to end (needs root and /dev/fuse: says so and skips
# otherwise): anyad mounts a repository; ipfs/<cid> serves files (random
# access, compared with the source), directories, symlinks and raw blocks, an
# absent CID is ENOENT; ipfs/ and pins/ list the recursive pins; `ln -s`
# into pins/ pins and `rm` unpins; user.anya.cid names every entry; writes are
# refused; `anya` says the daemon holds the repository; SIGTERM unmounts and
# exits 0; after kill -9 the next start clears the stale mount.
source "$(dirname "$0")/lib.bash"
ANYAD=${ANYAD:-$(dirname "$ANYA")/anyad}
[ "$(id -u)" = 0 ] || { echo "SKIP (needs root): the FUSE tests mount a filesystem"; exit 77; }
[ -c /dev/fuse ] || { echo "SKIP (needs /dev/fuse): no FUSE device on this machine"; exit 77; }
[ -x "$ANYAD" ] || fail "$ANYAD is not built"
command -v getfattr >/dev/null || fail "getfattr (Debian package attr) is missing: run make deps"
M="$T/mnt"
# Our processes are killed by lib.bash's cleanup; a mount they leave must go first.
trap 'for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done; umount -l "$M" 2>/dev/null || true; rm -rf "$T"' EXIT

start() {
  "$ANYAD" --mount "$M" --p2p off --dwn off --gateway off --rpc off --foreground 2>>"$T/anyad.err" &
  PID=$!
  PIDS+=("$PID")
  # serving once ipfs/ answers (a stale mount of a killed run is a mountpoint too)
  for _ in $(seq 1 100); do [ -d "$M/ipfs" ] && return 0; kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  cat "$T/anyad.err"
  fail "anyad did not mount $M"
}
stop() {
  kill -TERM "$PID"
  local rc=0
  wait "$PID" || rc=$?
  [ "$rc" = 0 ] || fail "anyad exited $rc on SIGTERM"
  mountpoint -q "$M" && fail "still mounted after SIGTERM"
  return 0
}

$ANYA init >/dev/null
mkdir -p "$T/tree/sub"
echo hello >"$T/tree/a.txt"
prng_bytes 5 3000000 >"$T/tree/sub/big"
prng_bytes 6 67108864 >"$T/tree/sub/large" # 64 MiB: readahead sends parallel reads of one handle
ln -s a.txt "$T/tree/link"
root=$($ANYA add -Q -r "$T/tree")
raw=$(echo "a raw block" | $ANYA block put)
absent=$(echo "never stored" | $ANYA add -Q -n)
other=$(echo "pinned by ln -s" | $ANYA add -Q --pin=false)

step "mount and the fixed tree"
start
[ "$(ls "$M" | tr '\n' ' ')" = "dwn files ipfs ipns pins " ] || fail "root listing: $(ls "$M")"
expect_fail "anya while the daemon holds the repository" $ANYA pin ls
grep -q "is held by the daemon: pid [0-9]* (anyad)" "$T/err" || fail "the message does not say the daemon holds it: $(cat "$T/err")"

step "ipfs/: files, random access, directories, symlinks, raw blocks"
cmp "$M/ipfs/$root/sub/big" "$T/tree/sub/big" || fail "big file differs"
cmp "$M/ipfs/$root/sub/large" "$T/tree/sub/large" || fail "64 MiB file differs"
[ "$(dd if="$M/ipfs/$root/sub/big" bs=1 skip=1234567 count=1000 2>/dev/null | od -An -tx1)" = \
  "$(dd if="$T/tree/sub/big" bs=1 skip=1234567 count=1000 2>/dev/null | od -An -tx1)" ] || fail "random read differs"
[ "$(stat -c %s "$M/ipfs/$root/sub/big")" = 3000000 ] || fail "size"
[ "$(cat "$M/ipfs/$root/a.txt")" = hello ] || fail "small file"
[ "$(readlink "$M/ipfs/$root/link")" = a.txt ] || fail "symlink target"
[ "$(cat "$M/ipfs/$root/link")" = hello ] || fail "reading through the symlink"
[ "$(ls "$M/ipfs/$root" | tr '\n' ' ')" = "a.txt link sub " ] || fail "directory listing: $(ls "$M/ipfs/$root")"
[ "$(cat "$M/ipfs/$raw")" = "a raw block" ] || fail "raw block as a file"

[ ! -e "$M/ipfs/$absent" ] || fail "absent CID exists"
{ ls "$M/ipfs/$absent" 2>&1 || true; } | grep -q "No such file" || fail "absent CID is not ENOENT"
{ ls "$M/ipfs/not-a-cid" 2>&1 || true; } | grep -q "No such file" || fail "bad CID is not ENOENT"
[ "$(getfattr --absolute-names --only-values -n user.anya.cid "$M/ipfs/$root/a.txt")" = "$($ANYA add -Q -n "$T/tree/a.txt")" ] || fail "user.anya.cid"
[ "$(getfattr --absolute-names --only-values -n user.anya.cid "$M/ipfs/$root")" = "$root" ] || fail "user.anya.cid of the root"
if echo x >"$M/ipfs/$root/a.txt" 2>/dev/null; then fail "a write to ipfs/ succeeded"; fi
if touch "$M/ipfs/$root/new" 2>/dev/null; then fail "a create in ipfs/ succeeded"; fi

step "pins/ and ipfs/ list the pins; ln -s pins, rm unpins"
[ "$(ls "$M/pins")" = "$root" ] || fail "pins/ listing: $(ls "$M/pins")"
[ "$(ls "$M/ipfs")" = "$root" ] || fail "ipfs/ listing: $(ls "$M/ipfs")"
[ "$(readlink "$M/pins/$root")" = "../ipfs/$root" ] || fail "pin link target"
[ "$(cat "$M/pins/$root/a.txt")" = hello ] || fail "reading through a pin link"
ln -s anything "$M/pins/$other" || fail "ln -s into pins/"
[ "$(ls "$M/pins" | sort | tr '\n' ' ')" = "$(printf '%s\n' "$root" "$other" | sort | tr '\n' ' ')" ] || fail "new pin not listed"
rm "$M/pins/$other" || fail "rm of a pin"
[ "$(ls "$M/pins")" = "$root" ] || fail "pin not removed"
if ln -s x "$M/pins/$absent" 2>/dev/null; then fail "pinning an absent CID succeeded"; fi

step "SIGTERM unmounts and exits 0; the pins made through the mount are durable"
ln -s anything "$M/pins/$other"
stop
$ANYA pin ls --type recursive | grep -q "^$other recursive" || fail "pin made through pins/ lost"

step "a stale mount (kill -9) is cleared on the next start"
start
kill -9 "$PID"
wait "$PID" 2>/dev/null || true
stat "$M" >/dev/null 2>&1 && fail "no stale mount after kill -9 (the test needs one)"
start
grep -q "stale mount" "$T/anyad.err" || { cat "$T/anyad.err"; fail "the stale mount was not reported"; }
[ "$(cat "$M/ipfs/$root/a.txt")" = hello ] || fail "content after the restart"
stop
echo "fuse: all checks passed"
