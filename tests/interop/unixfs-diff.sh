#!/usr/bin/env bash
# Differential test of the importer: every CID and path `anya add -n` prints
# against ipfs-unixfs-importer configured as Kubo's `ipfs add`
# (tests/interop/unixfs-diff.mjs), over files around the chunk size, a
# two-level 50 MiB file, deep trees from tiny chunks, nested directories with
# symlinks and dot-files, HAMT-sharded directories (and one exactly at the
# threshold), and the flag combinations --cid-version, --raw-leaves,
# --chunker, --trickle, -w, -H.
# Exit 0 pass, 77 skip (node/npm missing or the registry unreachable), else fail.
source "$(dirname "$0")/lib.bash"
IMPORTER_VERSION=17.1.1
npm_oracle unixfs-diff ipfs-unixfs-importer "$IMPORTER_VERSION" "ipfs-unixfs-importer@$IMPORTER_VERSION"
WORK=$(mktemp -d "$BUILD/unixfs-diff.XXXXXX")
# ESM resolves packages from the script's own directory: run a copy there.
ORACLE="$NPM_DIR/oracle-$(basename "$WORK").mjs"
trap 'rm -rf "$WORK" "$ORACLE"' EXIT
cp "$ROOT/tests/interop/unixfs-diff.mjs" "$ORACLE"

mkdir -p "$WORK/data"
cd "$WORK/data" || exit 1

# Deterministic pseudo-random bytes (AES-CTR keystream), so a failure replays.
gen() { # gen BYTES FILE
  if command -v openssl >/dev/null 2>&1; then
    openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv 0 -in /dev/zero 2>/dev/null |
      head -c "$1" >"$2"
  else
    head -c "$1" /dev/urandom >"$2"
  fi
}

gen 0 f0
gen 1 f1
gen 262143 f262143
gen 262144 f262144
gen 262145 f262145
gen 5242883 f5m
gen 52428800 f50m
gen 8388608 f8m
gen 100 f100
head -c 262145 /dev/zero >zeros

mkdir -p tree/a/b/c tree/empty tree/.git/objects tree/'with space'
printf 'Hello Worlds!\n' >tree/hello.txt
gen 300000 tree/a/mid.bin
gen 17 tree/a/b/c/deep.txt
printf 'x' >tree/a/b/c/one
printf 'hidden\n' >tree/.hidden
printf 'obj\n' >tree/.git/objects/o1
printf 's\n' >'tree/with space/file name.txt'
ln -s hello.txt tree/link-to-file
ln -s a/b tree/link-to-dir
ln -s /nonexistent/target tree/dangling

mkdir shard
for i in $(seq -w 1 5000); do printf '%s\n' "$i" >"shard/file-$i.txt"; done
mkdir shard/subdir
printf 'in a shard\n' >shard/subdir/inner.txt

# 4096 entries of 30-byte names with 34-byte CIDv0: Σ(name + CID) = 262144
# exactly, which stays a plain directory (Kubo shards only above); one more
# entry tips it over.
mkdir at-threshold over-threshold
for i in $(seq 1 4096); do
  n=$(printf 'n%029d' "$i")
  printf '%d' "$i" >"at-threshold/$n"
  printf '%d' "$i" >"over-threshold/$n"
done
printf 'tip' >"over-threshold/$(printf 'n%029d' 4097)"

passed=0
failed=0
check() { # check "FLAGS" PATH...
  local flags=$1
  shift
  local name="add $flags $*"
  # shellcheck disable=SC2086
  if ! "$ANYA" add -n -r $flags "$@" >"$WORK/ours" 2>"$WORK/ours.err"; then
    echo "FAIL $name: anya exited non-zero: $(cat "$WORK/ours.err")"
    failed=$((failed + 1))
    return
  fi
  # shellcheck disable=SC2086
  if ! (cd "$WORK/data" && node "$ORACLE" $flags "$@") >"$WORK/theirs" 2>"$WORK/theirs.err"; then
    echo "FAIL $name: oracle failed: $(tail -n 3 "$WORK/theirs.err")"
    failed=$((failed + 1))
    return
  fi
  local our_root their_root
  our_root=$(tail -n 1 "$WORK/ours" | cut -d' ' -f2)
  their_root=$(grep -a '^root ' "$WORK/theirs" | cut -d' ' -f2)
  if [ "$our_root" != "$their_root" ]; then
    echo "FAIL $name: root $our_root, oracle $their_root"
    failed=$((failed + 1))
    return
  fi
  if ! diff <(sort "$WORK/ours") <(grep -a '^added ' "$WORK/theirs" | sort) >"$WORK/diff"; then
    echo "FAIL $name: entries differ (< anya, > oracle):"
    head -n 20 "$WORK/diff"
    failed=$((failed + 1))
    return
  fi
  echo "ok   $name -> $our_root ($(wc -l <"$WORK/ours") entries)"
  passed=$((passed + 1))
}

small="f0 f1 f262143 f262144 f262145 zeros f100"
for flags in "" "--cid-version 1" "--raw-leaves=true" "--cid-version 1 --raw-leaves=false" \
             "--trickle" "--trickle --cid-version 1" "--trickle --raw-leaves=true"; do
  for f in $small f5m; do check "$flags" "$f"; done
  check "$flags" tree
  check "$flags -w" f1 tree f5m
done
check "-H" tree
check "-H --cid-version 1 -w" tree f0
check "" f50m
check "--cid-version 1" f50m
check "--trickle" f50m
check "--chunker size-1" f100
check "--chunker size-256" f8m
check "--chunker size-256 --trickle" f8m
check "--chunker size-2096896" f5m
check "--chunker size-2096896 --cid-version 1" f5m
check "--chunker size-1000 --trickle --raw-leaves=true" f5m
check "" shard
check "--cid-version 1" shard
check "-w --trickle" shard f1
check "" at-threshold
check "" over-threshold
check "--cid-version 1" at-threshold
check "" f262145 f1 tree

# -Q prints the root alone: the last root for several paths, the wrapper with -w.
q=$("$ANYA" add -n -Q f1 f262145)
want=$(cd "$WORK/data" && node "$ORACLE" f262145 | grep '^root ' | cut -d' ' -f2)
if [ "$q" = "$want" ]; then passed=$((passed + 1)); echo "ok   add -Q f1 f262145 -> $q"
else failed=$((failed + 1)); echo "FAIL add -Q f1 f262145: $q, want $want"; fi

# stdin: the CID names the entry.
s=$("$ANYA" add -n <f262145)
want=$(cd "$WORK/data" && node "$ORACLE" f262145 | grep '^root ' | cut -d' ' -f2)
if [ "$s" = "added $want $want" ]; then passed=$((passed + 1)); echo "ok   add <stdin -> $want"
else failed=$((failed + 1)); echo "FAIL add <stdin: '$s', want 'added $want $want'"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
