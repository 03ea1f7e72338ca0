#!/usr/bin/env bash
# CAR interop with @ipld/car (tests/interop/car.mjs is the JS side):
#  1. a CAR written by `anya car export` (a UnixFS tree: multi-block file, raw
#     leaves, nested directory) is read by @ipld/car with the same root, and
#     every block it holds hashes to its CID, appears once and equals
#     `anya block get` of that CID;
#  2. a CAR written by @ipld/car's CarWriter (two roots, a dag-cbor node
#     linking raw blocks, an identity CID and our DAG) is imported by
#     `anya car import` into a fresh repository: the same roots, every block
#     present byte for byte; exporting the dag-cbor root again (links followed
#     through dag-cbor) gives @ipld/car exactly the expected block set;
#  3. that CAR with one flipped byte in a block is refused, with one line.
# Exit 0 pass, 77 skip (node/npm missing or the registry unreachable), else fail.
source "$(dirname "$0")/lib.bash"
CAR_VERSION=5.4.7
npm_oracle car @ipld/car "$CAR_VERSION" "@ipld/car@$CAR_VERSION" multiformats@14.0.5 @ipld/dag-cbor@10.0.2

WORK=$(mktemp -d "$BUILD/car-interop.XXXXXX")
# ESM resolves packages from the script's own directory: run a copy there.
ORACLE="$NPM_DIR/oracle-$(basename "$WORK").mjs"
trap 'rm -rf "$WORK" "$ORACLE"' EXIT
cp "$ROOT/tests/interop/car.mjs" "$ORACLE"

fail() { echo "FAIL: $*"; exit 1; }
gen() { # gen BYTES FILE: deterministic pseudo-random bytes
  { openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv 0 -in /dev/zero 2>/dev/null ||
    head -c "$1" /dev/urandom; } | head -c "$1" >"$2"
}

mkdir -p "$WORK/tree/sub/deeper"
gen 600000 "$WORK/tree/big.bin"            # three chunks
printf 'hello\n' >"$WORK/tree/hello.txt"
printf 'same\n' >"$WORK/tree/sub/a.txt"
printf 'same\n' >"$WORK/tree/sub/deeper/b.txt" # a duplicate block: must appear once
: >"$WORK/tree/empty"

for version in 0 1; do
  echo "--- CIDv$version: anya export, @ipld/car read"
  export ANYA_REPO="$WORK/repo$version"
  "$ANYA" init >/dev/null || fail "anya init"
  root=$("$ANYA" add -Q -r --cid-version "$version" "$WORK/tree") || fail "anya add"
  "$ANYA" car export "$root" -o "$WORK/ours$version.car" || fail "anya car export"
  node "$ORACLE" read "$WORK/ours$version.car" "$WORK/ours$version.blocks" >"$WORK/read$version.out" ||
    fail "@ipld/car could not read our CAR"
  cat "$WORK/read$version.out"
  grep -qx "version 1" "$WORK/read$version.out" || fail "not a CARv1"
  [ "$(grep '^root ' "$WORK/read$version.out")" = "root $root" ] || fail "roots differ"
  n=0
  for f in "$WORK/ours$version.blocks"/*; do
    "$ANYA" block get "$(basename "$f")" | cmp -s - "$f" || fail "block $(basename "$f") differs"
    n=$((n + 1))
  done
  grep -qx "blocks $n" "$WORK/read$version.out" || fail "block count"
  [ "$n" -ge 6 ] || fail "only $n blocks"
done

echo "--- @ipld/car write, anya import"
node "$ORACLE" write "$WORK/ours0.car" "$WORK/theirs.car" "$WORK/theirs.blocks" >"$WORK/theirs.list" ||
  fail "@ipld/car could not write"
export ANYA_REPO="$WORK/repo-import"
"$ANYA" init >/dev/null || fail "anya init"
"$ANYA" car import "$WORK/theirs.car" >"$WORK/import.out" || fail "anya car import refused @ipld/car's CAR"
cat "$WORK/import.out"
cbor_root=$(head -n 1 "$WORK/theirs.list")
ours_root=$(grep '^root ' "$WORK/read0.out" | cut -d' ' -f2)
[ "$(grep '^root ' "$WORK/import.out" | cut -d' ' -f2 | tr '\n' ' ')" = "$cbor_root $ours_root " ] ||
  fail "imported roots differ"
want=$(wc -l <"$WORK/theirs.list")
grep -qx "imported $want blocks from $WORK/theirs.car" "$WORK/import.out" || fail "expected $want blocks"
while read -r c; do
  "$ANYA" block get "$c" | cmp -s - "$WORK/theirs.blocks/$c" || fail "imported block $c differs"
done <"$WORK/theirs.list"
[ "$("$ANYA" cat "$ours_root/hello.txt")" = hello ] || fail "cat through the imported DAG"

echo "--- anya export of a dag-cbor root, @ipld/car read"
"$ANYA" car export "$cbor_root" -o "$WORK/again.car" || fail "export of the dag-cbor root"
node "$ORACLE" read "$WORK/again.car" "$WORK/again.blocks" "$WORK/theirs.list" >/dev/null ||
  fail "re-exported block set differs"

echo "--- a corrupted CAR is refused"
cp "$WORK/theirs.car" "$WORK/bad.car"
size=$(stat -c %s "$WORK/bad.car")
last=$(od -An -tu1 -j $((size - 1)) -N 1 "$WORK/bad.car" | tr -d ' ')
printf "\\x$(printf %02x $((last ^ 1)))" | dd of="$WORK/bad.car" bs=1 seek=$((size - 1)) conv=notrunc status=none
cmp -s "$WORK/bad.car" "$WORK/theirs.car" && fail "the corruption did not change the file"
export ANYA_REPO="$WORK/repo-bad"
"$ANYA" init >/dev/null || fail "anya init"
if "$ANYA" car import "$WORK/bad.car" >/dev/null 2>"$WORK/bad.err"; then fail "corrupted CAR imported"; fi
[ "$(wc -l <"$WORK/bad.err")" -eq 1 ] && grep -q '^anya: .*does not match' "$WORK/bad.err" ||
  { cat "$WORK/bad.err"; fail "error is not one 'anya: ... does not match' line"; }
cat "$WORK/bad.err"
echo "car interop: all checks passed"
