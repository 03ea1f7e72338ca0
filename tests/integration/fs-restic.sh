#!/usr/bin/env bash
# restic with its repository inside the mount's files/: init, a backup of a
# pseudo-random tree, a second (incremental) backup after changes, forget
# --prune (rewrites and deletes pack files), `check --read-data` (reads every
# pack back and verifies its hashes) before and after a daemon restart, and a
# restore compared with the tree by diff -r.
# FS_NATIVE=1 runs the same checks on a native directory.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/mount-lib.bash"
command -v restic >/dev/null || fail "restic is missing: run make deps"
export RESTIC_PASSWORD="anya restic test" RESTIC_CACHE_DIR="$T/restic-cache" RESTIC_REPOSITORY="$M/files/restic-repo"
export RESTIC_PROGRESS_FPS=0.1 GOMAXPROCS=2

step "the data tree"
D="$T/data"
mkdir -p "$D/a/b/c" "$D/many"
for i in $(seq 1 12); do prng_bytes $((200 + i)) $((i * 1000003)) >"$D/a/file-$i.bin"; done # 78 MB in all
prng_bytes 250 $((9 * 1024 * 1024)) >"$D/a/b/c/nine-mib.bin"
for i in $(seq 1 300); do echo "small file $i $(prng_bytes $((400 + i)) 64 | od -An -tx1 | tr -d ' \n')" >"$D/many/s$i.txt"; done
: >"$D/empty"
ln -s a/file-1.bin "$D/link"

$ANYA init >/dev/null
anyad_start

step "restic init, backup, incremental backup"
restic init >"$T/restic.out" 2>&1 || { tail -20 "$T/restic.out"; fail "restic init exited"; }
restic backup --host test "$D" >"$T/restic.out" 2>&1 || { tail -20 "$T/restic.out"; fail "restic backup exited"; }
prng_bytes 260 5000000 >"$D/a/file-3.bin"   # changed
rm "$D/a/file-7.bin" "$D/many/s1.txt"       # removed
prng_bytes 261 3000000 >"$D/a/b/new.bin"     # added
restic backup --host test "$D" >"$T/restic.out" 2>&1 || { tail -20 "$T/restic.out"; fail "restic second backup exited"; }
[ "$(restic snapshots --json | grep -o '"short_id"' | wc -l)" = 2 ] || fail "restic does not list two snapshots"

step "forget --prune, check --read-data"
restic forget --keep-last 1 --prune >"$T/restic.out" 2>&1 || { tail -20 "$T/restic.out"; fail "restic forget --prune exited"; }
restic check --read-data >"$T/restic.out" 2>&1 || { tail -20 "$T/restic.out"; fail "restic check --read-data exited"; }
grep -q "no errors were found" "$T/restic.out" || { tail -20 "$T/restic.out"; fail "restic check did not report 'no errors were found'"; }

step "after a daemon restart: check --read-data and restore"
anyad_stop
anyad_start
rm -rf "$RESTIC_CACHE_DIR"
restic check --read-data >"$T/restic.out" 2>&1 || { tail -20 "$T/restic.out"; fail "restic check --read-data after a restart exited"; }
grep -q "no errors were found" "$T/restic.out" || { tail -20 "$T/restic.out"; fail "restic check after a restart did not report 'no errors were found'"; }
restic restore latest --target "$T/restore" >"$T/restic.out" 2>&1 || { tail -20 "$T/restic.out"; fail "restic restore exited"; }
diff -r --no-dereference "$D" "$T/restore$D" >"$T/diff" 2>&1 || { head -20 "$T/diff"; fail "the restored tree differs from the data"; }
size=$(du -sm "$M/files/restic-repo" | cut -f1)
anyad_stop
echo "restic passed ($size MB repository)"
