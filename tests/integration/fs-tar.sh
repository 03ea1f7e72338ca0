#!/usr/bin/env bash
# GNU tar against the mount's files/: a tree copied in with cp -a is archived
# from the mount (the listing equals the archive of the source: names, modes,
# owners, sizes, mtimes, hard links, symlinks); that archive extracts into the
# mount and equals the source; an archive written into the mount is byte-equal
# to the same archive written natively; and the --xattrs round trip (source ->
# mount -> native directory) keeps every user.* xattr.
# FS_NATIVE=1 runs the same checks on a native directory.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/mount-lib.bash"
need_tools tar getfattr setfattr diff

same_tree() { # what A B [xattrs]
  diff -r --no-dereference "$2" "$3" >"$T/diff" 2>&1 || { head -20 "$T/diff"; fail "$1: diff -r"; }
  attrs "$2" >"$T/a.attrs"; attrs "$3" >"$T/b.attrs"
  diff "$T/a.attrs" "$T/b.attrs" >"$T/diff" || { head -30 "$T/diff"; fail "$1: attributes differ (< source, > copy)"; }
  [ "$(stat -c %i "$3/d/hard1")" = "$(stat -c %i "$3/d/e/hard2")" ] || fail "$1: the hard-link pair is two inodes"
  [ -z "${4:-}" ] && return 0
  xattrs "$2" >"$T/a.x"; xattrs "$3" >"$T/b.x"
  diff "$T/a.x" "$T/b.x" >"$T/diff" || { head -30 "$T/diff"; fail "$1: user.* xattrs differ (< source, > copy)"; }
}
# The archive's listing: GNU tar's verbose table with full times, no inode numbers.
listing() { tar --full-time -tvf "$1" | LC_ALL=C sort; }
TAROPTS=(--sort=name --format=posix --pax-option=delete=atime,delete=ctime)

step "the source tree"
S="$T/src"
mkdir -p "$S/d/e/f" "$S/.dot-dir" "$S/sgid"
prng_bytes 31 5000000 >"$S/d/five-mb.bin"
prng_bytes 32 1048576 >"$S/d/e/one-mib.bin"
for i in $(seq 1 40); do prng_bytes $((100 + i)) $((i * 997)) >"$S/d/e/f/small-$i"; done
: >"$S/d/empty"
echo dot >"$S/.dot-file"; echo in-dot >"$S/.dot-dir/x"
echo "linked twice" >"$S/d/hard1"; ln "$S/d/hard1" "$S/d/e/hard2"
ln -s five-mb.bin "$S/d/link"; ln -s ../../missing "$S/d/e/dangling"
echo private >"$S/d/private"; chmod 0600 "$S/d/private"
printf '#!/bin/sh\n' >"$S/d/exec"; chmod 0755 "$S/d/exec"
echo owned >"$S/d/owned"; chown 4321:8765 "$S/d/owned"
chgrp 8765 "$S/sgid"; chmod 2775 "$S/sgid"; echo s >"$S/sgid/s"; chgrp 8765 "$S/sgid/s"
setfattr -n user.tag -v "tar keeps me" "$S/d/five-mb.bin"
setfattr -n user.bin -v 0x0001ff "$S/d/empty"
setfattr -n user.dir -v "on a directory" "$S/d/e"
i=0
while IFS= read -r -d '' p; do
  i=$((i + 1))
  touch -h -d "@$((1400000000 + i * 7777)).$(printf '%09d' $(( (i * 987654323) % 1000000000 )))" "$p"
done < <(find "$S" -depth -print0)

$ANYA init >/dev/null
anyad_start
F="$M/files"

step "cp -a into the mount"
cp -a "$S" "$F/cp" || fail "cp -a exited $?"
same_tree "cp -a copy" "$S" "$F/cp" xattrs

step "tar create from the mount: the listing equals the source archive's"
tar -C "$S" "${TAROPTS[@]}" -cf "$T/src.tar" . || fail "tar of the source exited $?"
tar -C "$F/cp" "${TAROPTS[@]}" -cf "$T/mnt.tar" . || fail "tar from the mount exited $?"
listing "$T/src.tar" >"$T/src.list"; listing "$T/mnt.tar" >"$T/mnt.list"
diff "$T/src.list" "$T/mnt.list" >"$T/diff" || { head -20 "$T/diff"; fail "archive listings differ (< source, > mount)"; }
grep -q '^hrw-r--r-- .* ./d/hard1 link to ./d/e/hard2$' "$T/mnt.list" || fail "tar did not see the hard link in the mount"
cmp "$T/src.tar" "$T/mnt.tar" || fail "the archive of the mount is not byte-equal to the source's"

step "tar extract into the mount"
mkdir "$F/x"
tar -C "$F/x" -xpf "$T/mnt.tar" || fail "tar extract into the mount exited $?"
same_tree "tar extract into the mount" "$S" "$F/x"

step "an archive written into the mount is byte-equal to the native one"
tar -C "$S" "${TAROPTS[@]}" -cf "$F/written.tar" . || fail "tar writing into the mount exited $?"
cmp "$T/src.tar" "$F/written.tar" || fail "the archive written into the mount differs"
tar -C "$S" "${TAROPTS[@]}" -czf "$T/src.tgz" .
tar -C "$S" "${TAROPTS[@]}" -czf "$F/written.tgz" . || fail "tar -z writing into the mount exited $?"
cmp "$T/src.tgz" "$F/written.tgz" || fail "the gzip archive written into the mount differs"
mkdir "$F/from-mounted-archive"
tar -C "$F/from-mounted-archive" -xpzf "$F/written.tgz" || fail "extracting an archive stored in the mount exited $?"
same_tree "extract of an archive stored in the mount" "$S" "$F/from-mounted-archive"

step "tar --xattrs round trip: source -> mount -> native"
tar -C "$S" "${TAROPTS[@]}" --xattrs --xattrs-include='user.*' -cf "$T/x.tar" . || fail "tar --xattrs of the source exited $?"
mkdir "$F/xa"
tar -C "$F/xa" --xattrs --xattrs-include='user.*' -xpf "$T/x.tar" || fail "tar --xattrs extract into the mount exited $?"
same_tree "tar --xattrs extract into the mount" "$S" "$F/xa" xattrs
tar -C "$F/xa" "${TAROPTS[@]}" --xattrs --xattrs-include='user.*' -cf "$T/x2.tar" . || fail "tar --xattrs from the mount exited $?"
mkdir "$T/xback"
tar -C "$T/xback" --xattrs --xattrs-include='user.*' -xpf "$T/x2.tar" || fail "tar --xattrs extract of the mount's archive exited $?"
same_tree "tar --xattrs round trip" "$S" "$T/xback" xattrs

step "after a daemon restart"
anyad_stop
anyad_start
same_tree "tar extract after a restart" "$S" "$F/x"
same_tree "tar --xattrs extract after a restart" "$S" "$F/xa" xattrs
cmp "$T/src.tar" "$F/written.tar" || fail "the archive in the mount differs after a restart"
anyad_stop
echo "tar round trips passed ($(find "$S" | wc -l) entries)"
