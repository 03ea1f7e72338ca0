#!/usr/bin/env bash
# kill -9 of `anya add` at random instants, 20 rounds: afterwards `anya repo
# fsck` is clean and a re-add gives the same CID and the same bytes.
source "$(dirname "$0")/lib.sh"
ROUNDS=${CRASH_ROUNDS:-20}
$ANYA init >/dev/null
head -c $((96 * 1024 * 1024)) /dev/urandom >"$T/f"
want=$($ANYA add -Q -n "$T/f")
killed=0
for round in $(seq "$ROUNDS"); do
  $ANYA add -Q --progress=false "$T/f" >/dev/null 2>&1 &
  pid=$!
  PIDS+=($pid)
  sleep "0.$(printf '%03d' $((RANDOM % 400)))"
  if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  wait "$pid" 2>/dev/null || true
  $ANYA repo fsck >"$T/fsck" 2>&1 || { cat "$T/fsck"; fail "round $round: fsck not clean after kill -9"; }
done
echo "killed $killed of $ROUNDS adds mid-flight; fsck clean after each"
[ "$killed" -ge $((ROUNDS / 2)) ] || fail "too few adds were actually interrupted ($killed)"
got=$($ANYA add -Q "$T/f")
[ "$got" = "$want" ] || fail "re-add gives $got, expected $want"
$ANYA cat "$got" | cmp - "$T/f" || fail "bytes differ after the crashes"
$ANYA repo fsck
echo "crash rounds passed"
