#!/usr/bin/env bash
# A 1.5 GiB file round trip: add, cat, compare (the seed asks for > 1 GB handling).
source "$(dirname "$0")/lib.bash"
need=$((4 * 1024 * 1024))  # KiB: the file, the store and slack
avail=$(df -Pk "$T" | awk 'NR==2 {print $4}')
[ "$avail" -ge "$need" ] || { echo "skip: needs 4 GiB free in ${TMPDIR:-/tmp}, has $((avail / 1024)) MiB"; exit 77; }
$ANYA init >/dev/null
# Deterministic pseudo-random content, fast to generate.
prng_bytes 7 $((1536 * 1024 * 1024)) >"$T/big"
cid=$($ANYA add -Q --progress=false "$T/big")
[ "$cid" = "$($ANYA add -Q -n "$T/big")" ] || fail "-n disagrees"
$ANYA cat "$cid" | cmp - "$T/big" || fail "1.5 GiB round trip differs"
cid1=$($ANYA add -Q --cid-version 1 --progress=false "$T/big")
$ANYA cat "$cid1" | cmp - "$T/big" || fail "1.5 GiB round trip (v1, raw leaves) differs"
$ANYA repo fsck
echo "1.5 GiB round trips passed: $cid $cid1"
