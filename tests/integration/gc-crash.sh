#!/usr/bin/env bash
# kill -9 of `anya repo gc` (sweep + compaction) and `anya repo compact` at
# random instants: each round adds files into a store of small segments
# (ANYA_SEGMENT_BYTES_MAX), pins every other one (so segments mix live and
# dead records and compaction has to copy), then collects and is killed
# somewhere in it.  After each kill: `anya repo fsck` is clean, every pinned
# file reads back byte for byte, and `anya pin verify` passes.  At the end a
# full gc runs and the space is really returned.
source "$(dirname "$0")/lib.bash"
ROUNDS=${GC_CRASH_ROUNDS:-16}
FILES=8
FILE_SIZE=$((768 * 1024))
export ANYA_SEGMENT_BYTES_MAX=$((1024 * 1024))
$ANYA init >/dev/null
mkdir -p "$T/kept"

# add_round N: a directory of FILES files, unpinned; pins the odd ones.
add_round() {
  local dir="$T/in-$1" i=0
  rm -rf "$dir"; mkdir -p "$dir"
  for f in $(seq "$FILES"); do prng_bytes $(( $1 * 1000 + f )) "$FILE_SIZE" >"$dir/f$f"; done
  $ANYA add -r -q --pin=false --progress=false "$dir" >"$T/cids"
  while read -r cid; do
    i=$((i + 1))
    [ "$i" -le "$FILES" ] || break # the last line is the directory
    if [ $((i % 2)) -eq 1 ]; then
      $ANYA pin add "$cid" >/dev/null
      cp "$dir/f$i" "$T/kept/$cid"
    fi
  done <"$T/cids"
  rm -rf "$dir"
}

check_all() { # what
  $ANYA repo fsck >"$T/fsck" 2>&1 || { cat "$T/fsck"; fail "$1: fsck not clean"; }
  for f in "$T"/kept/*; do
    $ANYA cat "$(basename "$f")" | cmp -s - "$f" || fail "$1: pinned $(basename "$f") does not read back"
  done
  $ANYA pin verify >"$T/verify" 2>&1 || { cat "$T/verify"; fail "$1: pin verify"; }
}

# How long a gc takes here: the kill instants are spread over it.
add_round 0
start=$(date +%s%N); $ANYA repo gc >"$T/removed"; end=$(date +%s%N)
span_ms=$(( (end - start) / 1000000 + 20 ))
grep -c '^removed ' "$T/removed" >/dev/null || fail "first gc removed nothing"
echo "one gc takes ~$((span_ms - 20)) ms; kills land in [0, $span_ms) ms"
check_all "first gc"

killed=0 mid=0
for round in $(seq "$ROUNDS"); do
  add_round "$round"
  cmd=gc; [ $((round % 4)) -eq 0 ] && cmd=compact
  # time the same collection on a copy: this round's kill lands within it
  rm -rf "$T/copy"; cp -a "$T/repo" "$T/copy"
  start=$(date +%s%N); ANYA_REPO="$T/copy" $ANYA repo $cmd >/dev/null; end=$(date +%s%N)
  span_ms=$(( (end - start) / 1000000 + 5 ))
  rm -rf "$T/copy"
  $ANYA repo $cmd >/dev/null 2>&1 &
  pid=$!
  PIDS+=($pid)
  delay_ms=$(( RANDOM % span_ms ))
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  wait "$pid" 2>/dev/null || true
  check_all "round $round (repo $cmd killed at ${delay_ms} of ${span_ms} ms)"
  # swept (partly) but not compacted: the kill landed in the sweep or the compaction
  $ANYA repo stat | awk '/^ReclaimableBytes:/ {exit !($2 > 0)}' && mid=$((mid + 1))
done
echo "killed $killed of $ROUNDS collections mid-flight ($mid left reclaimable space behind: killed during the sweep or the compaction);" \
  "fsck clean and every pin readable after each"
[ "$killed" -ge $((ROUNDS / 3)) ] || fail "too few collections were actually interrupted ($killed)"

# Finally a full collection: only the pinned files are left, and the space is back.
$ANYA repo gc >/dev/null
check_all "final gc"
$ANYA repo stat >"$T/stat"
cat "$T/stat"
kept_bytes=$(du -cb "$T"/kept/* | tail -1 | cut -f1)
size=$(awk '/^RepoSize:/ {print $2}' "$T/stat")
reclaimable=$(awk '/^ReclaimableBytes:/ {print $2}' "$T/stat")
echo "pinned file bytes $kept_bytes, repo size $size, reclaimable $reclaimable"
[ "$size" -lt $(( kept_bytes * 2 + 4 * 1024 * 1024 )) ] || fail "space not reclaimed: $size bytes on disk for $kept_bytes pinned"
[ "$reclaimable" -lt $(( ANYA_SEGMENT_BYTES_MAX * 2 )) ] || fail "still $reclaimable bytes reclaimable after gc"
