#!/usr/bin/env bash
# kill -9 of anyad under a write load on files/, CRASH_ROUNDS rounds (default 20). Each round:
# anyad_start (clearing the stale mount of the previous kill); CRASH_WRITERS writers
# (crash_writer.c) create, append, overwrite in the middle, truncate, rename and unlink files
# under files/round<N>/w<I>/, journaling outside the mount only what fsync (of the file and its
# directory) made durable; after a random 0.5 to 3 s the daemon is killed, then the writers.
# After each restart, for every round so far: every journaled file is intact (size from stat and
# sha256 of the bytes), files in flight are as the journal allows (a rename leaves exactly one
# name, an unlink leaves nothing or the journaled bytes), a durable unlink stays unlinked, every
# other file reads without an I/O error and `ls -lR` works. At the end: a clean SIGTERM,
# `anya repo fsck` clean, `anya repo gc` (the files/ tree roots the content), and after gc and a
# remount every file verifies again and fsck is still clean.
# CRASH_SEED=N replays a run's choices (printed at the start).
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/mount-lib.bash"
ROUNDS=${CRASH_ROUNDS:-20}
WRITERS=${CRASH_WRITERS:-4}
SEED=${CRASH_SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$((SEED % 32768))
WRITER="${ANYA_BUILD:-$(dirname "$(dirname "$ANYA")")}/integration/crash_writer"
[ -x "$WRITER" ] || fail "$WRITER is not built (make tests)"
echo "seed $SEED: $ROUNDS rounds of $WRITERS writers"
J="$T/journal"
mkdir -p "$J"
$ANYA init >/dev/null

# expected: replays every journal (a torn last line is ignored: it was never written whole)
# into one line per path that must be checked:
#   W path size sha | M path | U path size sha | D path | R old new size sha
expected() {
  local j
  for j in "$J"/*; do
    [ -s "$j" ] || continue
    if [ "$(tail -c 1 "$j" | od -An -c | tr -d ' ')" = '\n' ]; then cat "$j"; else sed '$d' "$j"; fi
  done | awk '
    function bad(why) { print "journal: " why ": " $0 > "/dev/stderr"; exit 3 }
    $1 == "W" { if (NF != 4 || length($4) != 64) bad("malformed")
                p = $2; if (st[p] == "RD") st[partner[p]] = "D"
                st[p] = "W"; size[p] = $3; sha[p] = $4; next }
    $1 == "M" { if (NF != 2 || st[$2] != "W") bad("M of a file not journaled"); st[$2] = "M"; next }
    $1 == "U" { if (NF != 2 || st[$2] != "W") bad("U of a file not journaled"); st[$2] = "U"; next }
    $1 == "D" { if (NF != 2) bad("malformed"); st[$2] = "D"; next }
    $1 == "R" { if (NF != 3 || st[$2] != "W") bad("R of a file not journaled")
                st[$2] = "RS"; partner[$2] = $3; st[$3] = "RD"; partner[$3] = $2
                size[$3] = size[$2]; sha[$3] = sha[$2]; next }
    { bad("unknown record") }
    END {
      for (p in st) {
        if (st[p] == "W" || st[p] == "U") print st[p], p, size[p], sha[p]
        else if (st[p] == "M" || st[p] == "D") print st[p], p
        else if (st[p] == "RS") print "R", p, partner[p], size[p], sha[p]
      }
    }' | sort
}

# intact PATH SIZE SHA: the file under files/ has this size (stat) and these bytes
intact() {
  local f="$M/files/$1" size sum
  size=$(stat -c %s -- "$f") || { echo "stat failed"; return 1; }
  [ "$size" = "$2" ] || { echo "size $size, journaled $2"; return 1; }
  sum=$(sha256sum -- "$f" | cut -d' ' -f1) || { echo "read failed"; return 1; }
  [ "$sum" = "$3" ] || { echo "sha256 $sum, journaled $3"; return 1; }
}
exists() { [ -e "$M/files/$1" ] || [ -L "$M/files/$1" ]; }

# verify WHEN: every journaled promise holds and everything else present reads
verify() {
  local when=$1 bad=0 n_w=0 n_other=0 kind p a b c rest why
  expected >"$T/expected" || fail "$when: the journals do not replay"
  # the durable files in bulk (sha256sum on both cores), sizes from stat in bulk
  awk '$1 == "W" { print $4 "  " $2 }' "$T/expected" | sort >"$T/want.sha"
  awk '$1 == "W" { print $3 " " $2 }' "$T/expected" >"$T/want.size"
  n_w=$(wc -l <"$T/want.size")
  if [ "$n_w" -gt 0 ]; then
    (cd "$M/files" && cut -d' ' -f2- "$T/want.size" | xargs -d '\n' -P 2 -n 64 sha256sum --) 2>"$T/sha.err" \
      | sort >"$T/got.sha" || true
    if ! diff "$T/want.sha" "$T/got.sha" >"$T/sha.diff"; then
      echo "content differs from the journal (< journal, > read):" >&2; head -20 "$T/sha.diff" >&2; head -5 "$T/sha.err" >&2; bad=1
    fi
    (cd "$M/files" && cut -d' ' -f2- "$T/want.size" | xargs -d '\n' stat -c '%s %n' --) >"$T/got.size" 2>"$T/stat.err" || true
    if ! diff "$T/want.size" "$T/got.size" >"$T/size.diff"; then
      echo "sizes differ from the journal (< journal, > stat):" >&2; head -20 "$T/size.diff" >&2; cat "$T/stat.err" >&2; bad=1
    fi
  fi
  while read -r kind p a b c rest; do
    case "$kind" in
      W) continue ;;
      M) n_other=$((n_other + 1))
         exists "$p" || { echo "$p: was being modified, is gone" >&2; bad=1; continue; }
         cat -- "$M/files/$p" >/dev/null || { echo "$p: was being modified, does not read" >&2; bad=1; } ;;
      U) n_other=$((n_other + 1))
         if exists "$p"; then why=$(intact "$p" "$a" "$b") || { echo "$p: being unlinked, present but $why" >&2; bad=1; }; fi ;;
      D) n_other=$((n_other + 1))
         ! exists "$p" || { echo "$p: unlinked (and the directory fsynced) but present again" >&2; bad=1; } ;;
      R) n_other=$((n_other + 1))
         if exists "$p" && exists "$a"; then echo "rename $p -> $a in flight: both names exist" >&2; bad=1
         elif exists "$p"; then why=$(intact "$p" "$b" "$c") || { echo "$p (rename to $a in flight): $why" >&2; bad=1; }
         elif exists "$a"; then why=$(intact "$a" "$b" "$c") || { echo "$a (renamed from $p in flight): $why" >&2; bad=1; }
         else echo "rename $p -> $a in flight: neither name exists" >&2; bad=1; fi ;;
    esac
  done <"$T/expected"
  # everything else present reads without an I/O error (the durable files were read whole
  # above); ls -lR works
  (cd "$M/files" && find . -type f) | sed 's|^\./||' | sort >"$T/all" || { echo "find over files/ failed" >&2; bad=1; }
  cut -d' ' -f2- "$T/want.size" | sort | comm -23 "$T/all" - >"$T/others"
  (cd "$M/files" && xargs -d '\n' -r cat -- <"$T/others" >/dev/null) || { echo "a file under files/ does not read" >&2; bad=1; }
  ls -lR "$M/files" >"$T/ls" 2>"$T/ls.err" || { cat "$T/ls.err" >&2; echo "ls -lR files/ failed" >&2; bad=1; }
  if [ "$bad" != 0 ]; then
    echo "anyad's log, last lines:" >&2; tail -n 20 "$T/anyad.err" >&2
    fail "$when: see above (seed $SEED)"
  fi
  echo "[${SECONDS}s] $when: $n_w durable files intact, $n_other in-flight or unlinked as journaled, $(wc -l <"$T/all") files present, the $(wc -l <"$T/others") others read"
}

ms_sleep() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
anyad_start
for round in $(seq "$ROUNDS"); do
  wpids=()
  for w in $(seq "$WRITERS"); do
    "$WRITER" "$M/files" "round$round/w$w" "$J/r$(printf %02d "$round")w$w" "$((SEED + round * 100 + w))" \
      2>"$T/writer.$round.$w.err" &
    wpids+=($!)
    PIDS+=($!)
  done
  delay_ms=$((500 + RANDOM % 2501))
  ms_sleep "$delay_ms"
  for p in "${wpids[@]}"; do
    kill -0 "$p" 2>/dev/null || { cat "$T/writer.$round."*.err >&2; fail "round $round: a writer stopped before the kill"; }
  done
  anyad_kill
  for p in "${wpids[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  ! grep -h MISMATCH "$T/writer.$round."*.err >&2 || fail "round $round: a writer read back other bytes than it had written"
  anyad_start
  mountpoint -q "$M" || fail "round $round: $M is not a mount point after the restart"
  verify "round $round (killed after ${delay_ms} ms)"
done
anyad_stop
$ANYA repo fsck >"$T/fsck" 2>&1 || { cat "$T/fsck"; fail "fsck not clean after $ROUNDS crashes"; }
$ANYA repo gc >"$T/gc" 2>&1 || { cat "$T/gc"; fail "repo gc failed"; }
echo "gc: $(wc -l <"$T/gc") lines of output, the last: $(tail -n 1 "$T/gc")"
$ANYA repo fsck >"$T/fsck" 2>&1 || { cat "$T/fsck"; fail "fsck not clean after gc"; }
anyad_start
verify "after gc"
anyad_stop
echo "fs-crash: $ROUNDS kill -9 rounds, every fsynced file intact, fsck clean, gc kept the content"
