#!/usr/bin/env bash
# git in the mount's files/: a repository with a few commits (text, binary,
# executable, symlink, nested directories, a rename, a deletion) is cloned
# into the mount with --no-local (objects and packs are written, not
# hard-linked); `git fsck --full` is clean, the history equals the origin's and
# the work tree is clean (git compares the index's stat data and content); a
# commit made inside the mounted clone; `git gc --prune=now` (repack, loose
# object removal, packed refs) and fsck again; a clone out of the mount and
# after a daemon restart the same history and a clean tree again.
# FS_NATIVE=1 runs the same checks on a native directory.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/mount-lib.bash"
command -v git >/dev/null || fail "git is missing: run make deps"
export GIT_CONFIG_NOSYSTEM=1 HOME="$T/home" GIT_AUTHOR_DATE="2024-01-02T03:04:05Z" GIT_COMMITTER_DATE="2024-01-02T03:04:05Z"
mkdir -p "$HOME"
g() { git -c user.name="Anya Test" -c user.email=test@anya.invalid -c init.defaultBranch=main -c gc.autoDetach=false "$@"; }

step "the origin repository"
O="$T/origin"
g init -q "$O"
mkdir -p "$O/src/deep/er"
echo "first" >"$O/README"
prng_bytes 700 200000 >"$O/src/blob.bin"
printf '#!/bin/sh\necho hi\n' >"$O/src/run.sh"; chmod 0755 "$O/src/run.sh"
ln -s ../README "$O/src/readme-link"
echo nested >"$O/src/deep/er/file.txt"
g -C "$O" add -A && g -C "$O" commit -qm "first"
for i in $(seq 2 6); do
  echo "change $i" >>"$O/README"
  prng_bytes $((700 + i)) $((i * 30011)) >"$O/src/data-$i.bin"
  [ "$i" = 4 ] && g -C "$O" mv src/deep/er/file.txt src/moved.txt
  [ "$i" = 5 ] && g -C "$O" rm -q src/data-2.bin
  g -C "$O" add -A && g -C "$O" commit -qm "commit $i"
done
g -C "$O" tag -a v1 -m "tag v1"
g -C "$O" checkout -qb side HEAD~2 && echo side >"$O/side.txt" && g -C "$O" add side.txt && g -C "$O" commit -qm side && g -C "$O" checkout -q main

$ANYA init >/dev/null
anyad_start
C="$M/files/clone"

step "git clone --no-local into the mount"
g clone -q --no-local "file://$O" "$C" || fail "git clone into the mount exited $?"
g -C "$C" fsck --full --strict >"$T/fsck" 2>&1 || { cat "$T/fsck"; fail "git fsck of the clone"; }
[ "$(g -C "$C" rev-parse HEAD origin/side v1^{commit})" = "$(g -C "$O" rev-parse HEAD side v1^{commit})" ] || fail "refs differ from the origin"
diff <(g -C "$O" log --format='%H %T %s' main) <(g -C "$C" log --format='%H %T %s' main) || fail "history differs from the origin"
[ -z "$(g -C "$C" status --porcelain)" ] || { g -C "$C" status --porcelain | head; fail "the fresh clone's work tree is not clean"; }
cmp "$O/src/blob.bin" "$C/src/blob.bin" || fail "checked-out binary differs"
[ "$(stat -c %a "$C/src/run.sh")" = 755 ] || fail "executable bit not checked out"
[ "$(readlink "$C/src/readme-link")" = ../README ] || fail "symlink not checked out"

step "a commit inside the mounted clone"
echo "edited in the mount" >>"$C/README"
prng_bytes 750 123456 >"$C/src/added-in-mount.bin"
g -C "$C" mv src/moved.txt src/moved-again.txt
g -C "$C" add -A && g -C "$C" commit -qm "commit in the mount" || fail "git commit in the mount exited $?"
[ -z "$(g -C "$C" status --porcelain)" ] || fail "the work tree is not clean after the commit"
g -C "$C" fsck --full --strict >"$T/fsck" 2>&1 || { cat "$T/fsck"; fail "git fsck after the commit"; }
head=$(g -C "$C" rev-parse HEAD)

step "git gc --prune=now and fsck again"
g -C "$C" gc -q --prune=now --aggressive || fail "git gc exited $?"
[ -z "$(find "$C/.git/objects" -path '*/objects/[0-9a-f][0-9a-f]/*' -type f)" ] || fail "loose objects left after gc"
ls "$C/.git/objects/pack/"*.pack >/dev/null || fail "no pack after gc"
g -C "$C" fsck --full --strict >"$T/fsck" 2>&1 || { cat "$T/fsck"; fail "git fsck after gc"; }
g -C "$C" verify-pack "$C/.git/objects/pack/"*.idx >/dev/null || fail "git verify-pack"
[ "$(g -C "$C" rev-parse HEAD)" = "$head" ] || fail "HEAD moved in gc"

step "clone out of the mount"
g clone -q --no-local "file://$C" "$T/back" || fail "git clone out of the mount exited $?"
diff <(g -C "$C" log --format='%H %T %P %s' main) <(g -C "$T/back" log --format='%H %T %P %s' main) || fail "the clone out of the mount has another history"
[ "$(g -C "$T/back" rev-parse HEAD)" = "$head" ] || fail "the clone out of the mount has another HEAD"
diff -r -x .git --no-dereference "$C" "$T/back" || fail "the work trees differ"

step "after a daemon restart"
anyad_stop
anyad_start
g -C "$C" fsck --full --strict >"$T/fsck" 2>&1 || { cat "$T/fsck"; fail "git fsck after a restart"; }
[ "$(g -C "$C" rev-parse HEAD)" = "$head" ] || fail "HEAD after a restart"
[ -z "$(g -C "$C" status --porcelain)" ] || { g -C "$C" status --porcelain | head; fail "the work tree is not clean after a restart"; }
[ "$(g -C "$C" log --format=%s -1 HEAD~1)" = "commit 6" ] || fail "history after a restart"
anyad_stop
echo "git passed ($(g -C "$O" rev-list --all | wc -l) origin commits)"
