#!/usr/bin/env bash
# The CLI end to end: init, add/cat/get/ls round trips, block and car commands,
# errors (one line, non-zero, nothing half-written) and the repository lock.
source "$(dirname "$0")/lib.bash"

step "init, and init refusing an existing repository"
$ANYA init >/dev/null
expect_fail "second init" $ANYA init
expect_fail "unknown command" $ANYA frobnicate
expect_fail "unknown option" $ANYA add --frob x
expect_fail "bad chunker" $ANYA add --chunker size-0 /etc/hostname
expect_fail "chunker over the limit" $ANYA add --chunker size-2096897 /etc/hostname
expect_fail "bad cid-version" $ANYA add --cid-version 2 /etc/hostname
expect_fail "missing file" $ANYA add "$T/nope"
mkdir -p "$T/d"
expect_fail "directory without -r" $ANYA add "$T/d"
expect_fail "bad CID" $ANYA cat notacid
expect_fail "absent CID" $ANYA cat bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku
expect_fail "no repository" env ANYA_REPO="$T/none" $ANYA repo stat

step "known CIDs (Kubo's vectors)"
[ "$(printf '' | $ANYA add -Q)" = QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH ] || fail "empty file v0"
[ "$(printf '' | $ANYA add -Q --cid-version 1)" = bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku ] || fail "empty file v1"
[ "$(printf 'Hello Worlds!\n' | $ANYA add -Q)" = QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH ] || fail "hello balanced"

step "files of several sizes round-trip through add and cat"
for size in 0 1 262143 262144 262145 1048576 5000000; do
  head -c "$size" /dev/urandom >"$T/f"
  cid=$($ANYA add -Q "$T/f")
  $ANYA cat "$cid" | cmp - "$T/f" || fail "cat of $size bytes differs"
  cid1=$($ANYA add -Q --cid-version 1 "$T/f")
  $ANYA cat "$cid1" | cmp - "$T/f" || fail "cat of $size bytes (v1) differs"
  [ "$($ANYA add -Q -n "$T/f")" = "$cid" ] || fail "-n gives another CID"
done
head -c 3000000 /dev/urandom >"$T/f"
cid=$($ANYA add -Q "$T/f")
$ANYA cat --offset 1000000 --length 5000 "$cid" | cmp - <(tail -c +1000001 "$T/f" | head -c 5000) || fail "ranged cat"

step "the progress bar goes to stderr only, and only when asked (or on a terminal)"
head -c 3000000 /dev/urandom >"$T/p"
$ANYA add --progress "$T/p" >"$T/p.out" 2>"$T/p.err"
grep -q "MiB" "$T/p.err" || fail "--progress drew no bar"
grep -q "^added Qm[1-9A-Za-z]* p$" "$T/p.out" || { cat "$T/p.out"; fail "stdout is not just the added line"; }
$ANYA add "$T/p" >/dev/null 2>"$T/p.err"
[ ! -s "$T/p.err" ] || fail "a bar was drawn without a terminal"

step "a tree with hidden files, symlinks and empty directories"
mkdir -p "$T/tree/sub/deeper" "$T/tree/empty"
echo one >"$T/tree/a.txt"; echo hidden >"$T/tree/.hidden"; head -c 700000 /dev/urandom >"$T/tree/sub/big"
echo deep >"$T/tree/sub/deeper/x"; ln -s a.txt "$T/tree/link"
$ANYA add -r "$T/tree" >"$T/added"
grep -q " tree/a.txt$" "$T/added" || { cat "$T/added"; fail "added lines lack tree/a.txt"; }
grep -q "hidden" "$T/added" && fail "-r without -H added a dot-file"
root=$($ANYA add -Q -r -H "$T/tree")
[ "$(tail -n 1 <($ANYA add -r -H "$T/tree") | cut -d' ' -f2)" = "$root" ] || fail "-Q root is not the last added line"
$ANYA get "$root" -o "$T/out"
diff -r --no-dereference "$T/tree" "$T/out" || fail "get of the tree differs"
[ "$(readlink "$T/out/link")" = a.txt ] || fail "symlink not kept"
$ANYA ls "$root" >"$T/ls"
grep -q " - sub/$" "$T/ls" || { cat "$T/ls"; fail "ls lacks sub/"; }
grep -q " 4 a.txt$" "$T/ls" || { cat "$T/ls"; fail "ls lacks a.txt with its size"; }
[ "$($ANYA cat "$root/sub/deeper/x")" = deep ] || fail "path resolution"
expect_fail "get onto an existing path" $ANYA get "$root" -o "$T/out"
expect_fail "cat of a directory" $ANYA cat "$root"
expect_fail "missing path" $ANYA cat "$root/nope"
ls "$T" | grep -q partial && fail "a partial output was left behind"

step "block put/get/stat/rm"
echo "raw block" >"$T/b"
bcid=$($ANYA block put "$T/b")
[ "$bcid" = "$($ANYA add -Q --cid-version 1 "$T/b")" ] || fail "block put CID differs from a v1 raw-leaf add"
$ANYA block get "$bcid" | cmp - "$T/b" || fail "block get"
$ANYA block stat "$bcid" | grep -q "^Size: 10$" || fail "block stat"
[ "$($ANYA block rm "$bcid")" = "removed $bcid" ] || fail "block rm"
expect_fail "block get after rm" $ANYA block get "$bcid"

step "car export and import into a second repository"
$ANYA car export "$root" -o "$T/tree.car"
ANYA_REPO="$T/repo2" $ANYA init >/dev/null
ANYA_REPO="$T/repo2" $ANYA car import "$T/tree.car" | grep -q "^root $root$" || fail "car import root"
ANYA_REPO="$T/repo2" $ANYA get "$root" -o "$T/out2"
diff -r --no-dereference "$T/tree" "$T/out2" || fail "tree from CAR differs"
head -c 100 "$T/tree.car" >"$T/trunc.car"; cat "$T/tree.car" | head -c $(( $(stat -c %s "$T/tree.car") - 3 )) >"$T/trunc.car"
expect_fail "truncated CAR" env ANYA_REPO="$T/repo2" $ANYA car import "$T/trunc.car"

step "the repository lock names its holder"
mkfifo "$T/fifo"
$ANYA add <"$T/fifo" >/dev/null 2>&1 &
PIDS+=($!)
exec 9>"$T/fifo"            # the add now waits for input while holding the lock
for _ in $(seq 50); do grep -q "anya add" "$ANYA_REPO/repo.lock" 2>/dev/null && break; sleep 0.1; done
expect_fail "repository in use" $ANYA repo stat
grep -q "in use by pid ${PIDS[-1]} (anya add)" "$T/err" || fail "lock message does not name the holder"
exec 9>&-
wait "${PIDS[-1]}" || true

step "fsck is clean"
$ANYA repo fsck
$ANYA repo stat | grep -q '^NumObjects: ' || fail "repo stat"
echo "all CLI checks passed"
