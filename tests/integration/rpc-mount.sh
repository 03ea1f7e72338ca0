#!/usr/bin/env bash
# `anya repo gc` through a mounted daemon's RPC: the writable tree files/
# is a GC root (anyad hands its open store's roots to the RPC), so a file
# written under the mount keeps its blocks while an unpinned block is swept;
# the file's content is read back from the block store by its CID.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/mount-lib.bash"
need_tools getfattr

$ANYA init >/dev/null
anyad_start --rpc 127.0.0.1:0
for _ in $(seq 1 100); do [ -f "$ANYA_REPO/api" ] && break; sleep 0.1; done
[ -f "$ANYA_REPO/api" ] || fail "no $ANYA_REPO/api"

step "a file under files/, an unpinned block and a pinned one, through the daemon"
prng_bytes 3 2000000 >"$T/content"
cp "$T/content" "$M/files/kept"
sync "$M/files/kept"
cid=$(getfattr --absolute-names -n user.anya.cid --only-values "$M/files/kept")
[ -n "$cid" ] || fail "no CID on files/kept"
echo "an unpinned block" >"$T/b1"
echo "a pinned block" >"$T/b2"
loose=$($ANYA block put "$T/b1")
pinned=$($ANYA block put --pin "$T/b2")

step "repo gc through the daemon"
$ANYA repo gc >"$T/gc" || { cat "$T/gc"; tail "$T/anyad.err"; fail "repo gc"; }
grep -qx "removed $loose" "$T/gc" || { cat "$T/gc"; fail "the unpinned block was not swept"; }
grep -q "removed $pinned" "$T/gc" && fail "the pinned block was swept"
$ANYA block stat "$pinned" >/dev/null || fail "the pinned block is gone"
$ANYA cat "$cid" | cmp - "$T/content" || fail "files/kept lost blocks to the gc"
cmp "$M/files/kept" "$T/content" || fail "files/kept reads differently"
anyad_stop
echo "ok"
