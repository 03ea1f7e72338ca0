#!/usr/bin/env bash
# BorgBackup with its repository inside the mount's files/: init
# (--encryption=none), create, a second archive after changes, prune and
# compact (rewrites segments), `check --verify-data` (reads and verifies every
# chunk) before and after a daemon restart, and extract compared with the tree
# by diff -r and with the archive's own listing.
# FS_NATIVE=1 runs the same checks on a native directory.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/mount-lib.bash"
command -v borg >/dev/null || fail "borg (Debian package borgbackup) is missing: run make deps"
export BORG_BASE_DIR="$T/borghome" BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_REPO="$M/files/borg-repo"
run() { # what borg-args...: borg must exit 0 (1 is a warning: also a failure here)
  local what=$1; shift
  local rc=0
  borg "$@" >"$T/borg.out" 2>&1 || rc=$?
  [ "$rc" = 0 ] || { tail -n 20 "$T/borg.out"; fail "borg $what exited $rc"; }
}

step "the data tree"
D="$T/data"
mkdir -p "$D/x/y/z" "$D/many" "$D/.hidden"
for i in $(seq 1 10); do prng_bytes $((500 + i)) $((i * 1500007)) >"$D/x/file-$i.bin"; done # 82 MB in all
prng_bytes 520 $((7 * 1024 * 1024)) >"$D/x/y/z/seven-mib.bin"
for i in $(seq 1 200); do prng_bytes $((600 + i)) $((i * 13)) >"$D/many/m$i"; done
echo dot >"$D/.hidden/.rc"
: >"$D/empty"
ln -s x/file-1.bin "$D/link"
chmod 0600 "$D/x/file-2.bin"

$ANYA init >/dev/null
anyad_start

step "borg init, create, a second archive, prune, compact"
run init init --encryption=none
run create create --stats "::first" "$D"
prng_bytes 530 4000000 >"$D/x/file-4.bin"
rm "$D/x/file-9.bin"
prng_bytes 531 2500000 >"$D/x/new.bin"
run "second create" create --stats "::second" "$D"
[ "$(borg list --short)" = "$(printf 'first\nsecond')" ] || fail "borg list: $(borg list --short)"
run prune prune --keep-last 1
run compact compact
[ "$(borg list --short)" = second ] || fail "borg list after prune: $(borg list --short)"

step "check --verify-data"
run check check --verify-data

step "after a daemon restart: check --verify-data and extract"
anyad_stop
anyad_start
run "check after a restart" check --verify-data
mkdir "$T/restore"
(cd "$T/restore" && borg extract "::second") >"$T/borg.out" 2>&1 || { tail -20 "$T/borg.out"; fail "borg extract exited"; }
diff -r --no-dereference "$D" "$T/restore/${D#/}" >"$T/diff" 2>&1 || { head -20 "$T/diff"; fail "the extracted tree differs from the data"; }
[ "$(stat -c %a "$T/restore/${D#/}/x/file-2.bin")" = 600 ] || fail "extract lost a mode"
[ "$(borg list --short "::second" | wc -l)" = "$(find "$D" | wc -l)" ] || fail "the archive does not list every entry"
size=$(du -sm "$BORG_REPO" | cut -f1)
anyad_stop
echo "borg passed ($size MB repository)"
