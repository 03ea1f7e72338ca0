#!/usr/bin/env bash
# kill -9 of `anya add` at random instants, 20 rounds, each adding new content
# (so the write path, not dedupe, is interrupted): afterwards `anya repo fsck`
# is clean and a re-add gives the expected CID and the same bytes.
source "$(dirname "$0")/lib.bash"
ROUNDS=${CRASH_ROUNDS:-20}
SIZE=$((64 * 1024 * 1024))
$ANYA init >/dev/null
# How long one add takes here: the kill instants are spread over it.
prng_bytes 1000 "$SIZE" >"$T/f"
start=$(date +%s%N); $ANYA add -Q --progress=false "$T/f" >/dev/null; end=$(date +%s%N)
span_ms=$(( (end - start) / 1000000 + 20 ))
echo "one add of $((SIZE >> 20)) MiB takes ~$((span_ms - 20)) ms; kills land in [0, $span_ms) ms"
killed=0
for round in $(seq "$ROUNDS"); do
  prng_bytes "$round" "$SIZE" >"$T/f"
  want=$($ANYA add -Q -n "$T/f")
  $ANYA add -Q --progress=false "$T/f" >/dev/null 2>&1 &
  pid=$!
  PIDS+=($pid)
  delay_ms=$(( RANDOM % span_ms ))
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  wait "$pid" 2>/dev/null || true
  $ANYA repo fsck >"$T/fsck" 2>&1 || { cat "$T/fsck"; fail "round $round: fsck not clean after kill -9 at ${delay_ms} ms"; }
  got=$($ANYA add -Q --progress=false "$T/f")
  [ "$got" = "$want" ] || fail "round $round: re-add gives $got, expected $want"
  $ANYA cat "$got" | cmp - "$T/f" || fail "round $round: bytes differ after the crash"
done
echo "killed $killed of $ROUNDS adds mid-flight; fsck clean and re-add identical after each"
[ "$killed" -ge $((ROUNDS / 2)) ] || fail "too few adds were actually interrupted ($killed)"
$ANYA repo fsck
