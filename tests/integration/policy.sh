#!/usr/bin/env bash
# Pin policies end to end through the CLI: a series with keep_last and a
# default expiry (pin add --name series/label), add rules by size (one that
# pins with an expiry and keep_last, one that excludes big adds), --pin
# overriding a rule, `pin policy ls`, repo gc applying a lowered keep_last and
# expiring a policy's pins, config errors naming file:line; and the roots of
# `car import` (pinned unless --pin-roots=false) and `block put --pin`.
source "$(dirname "$0")/lib.bash"

$ANYA init >/dev/null
cat >>"$ANYA_REPO/config.toml" <<'TOML'

[[pinning.policy]]
name = "snapshots"
keep_last = 2
expire_after = "30d"

[[pinning.policy]]
name = "big"
source = "add"
min_size = "1MiB"
pin = false

[[pinning.policy]]
name = "small"
source = "add"
expire_after = "7d"
keep_last = 3
TOML

step "a series keeps its last N, newest by creation time"
for i in 1 2 3; do
  echo "snapshot $i" >"$T/s$i"
  c[$i]=$($ANYA add -Q --pin=false "$T/s$i")
  $ANYA pin add "${c[$i]}" --name "snapshots/day$i" >"$T/pin$i.out"
  sleep 0.01
done
grep -q "^unpinned ${c[1]} snapshots/day1 (policy snapshots keeps the last 2)$" "$T/pin3.out" || { cat "$T/pin3.out"; fail "keep_last did not unpin the oldest"; }
$ANYA pin ls -q | grep -q "^${c[1]}$" && fail "day1 still pinned"
for i in 2 3; do $ANYA pin ls --type recursive | grep -q "^${c[$i]} recursive snapshots/day$i$" || fail "day$i not pinned"; done
# the series' expiry: 30 days from now (within a minute)
now=$(date +%s)
exp=$(date -d "$($ANYA pin policy ls | awk -v c="${c[3]}" '$1 == c { print $5 }')" +%s)
[ $((exp - now - 30 * 86400)) -le 60 ] && [ $((exp - now - 30 * 86400)) -ge -60 ] || fail "series expiry is not 30d: $exp vs $now"
# --expire-in wins over the policy's
$ANYA pin add "${c[2]}" --name snapshots/day2 --expire-in 1h >/dev/null
exp=$(date -d "$($ANYA pin policy ls | awk -v c="${c[2]}" '$1 == c { print $5 }')" +%s)
[ $((exp - now)) -le 3700 ] || fail "--expire-in did not override the policy's expiry"

step "add rules: big adds are not pinned, small ones are named, expire, and keep the last 3"
prng_bytes 7 2000000 >"$T/bigfile"
big=$($ANYA add -Q "$T/bigfile")
$ANYA pin ls -q | grep -q "^$big$" && fail "a 2 MB add was pinned despite policy 'big'"
$ANYA cat "$big" | cmp - "$T/bigfile" || fail "big add not stored"
forced=$($ANYA add -Q --pin=true "$T/bigfile")
$ANYA pin ls --type recursive | grep -q "^$forced recursive$" || fail "--pin=true did not override the rule"
$ANYA pin rm "$forced" >/dev/null
for i in 1 2 3 4; do
  echo "small $i" >"$T/f$i"
  f[$i]=$($ANYA add -Q "$T/f$i")
  sleep 0.01
done
$ANYA pin ls --type recursive | grep -q "^${f[4]} recursive small/f4$" || { $ANYA pin ls; fail "small add not pinned under the policy"; }
$ANYA pin ls -q | grep -q "^${f[1]}$" && fail "small/f1 kept beyond keep_last 3"
nopin=$(echo x | $ANYA add -Q --pin=false)
$ANYA pin ls -q | grep -q "^$nopin$" && fail "--pin=false pinned under a rule"

step "pin policy ls shows each rule and what it holds"
$ANYA pin policy ls >"$T/ls"
cat "$T/ls"
grep -q '^snapshots source=pin pin=true expire_after=30d keep_last=2: 2 pins$' "$T/ls" || fail "snapshots line"
grep -q '^big source=add min_size=1048576 pin=false: 0 pins$' "$T/ls" || fail "big line"
grep -q '^small source=add pin=true expire_after=7d keep_last=3: 3 pins$' "$T/ls" || fail "small line"
[ "$(grep -c '^  ' "$T/ls")" -eq 5 ] || fail "held pins listed"
[ "$($ANYA pin policy ls -q | wc -l)" -eq 3 ] || fail "pin policy ls -q"

step "repo gc applies a lowered keep_last and the policies' expiry"
sed -i 's/^keep_last = 3$/keep_last = 1/' "$ANYA_REPO/config.toml"
$ANYA repo gc >/dev/null
[ "$($ANYA pin policy ls | grep -c ' small/')" -eq 1 ] || { $ANYA pin policy ls; fail "gc did not apply keep_last = 1"; }
sed -i 's/^expire_after = "7d"$/expire_after = "1s"/' "$ANYA_REPO/config.toml"
echo "short lived" >"$T/short"
short=$($ANYA add -Q "$T/short")
$ANYA pin ls -q | grep -q "^$short$" || fail "short-lived add not pinned"
sleep 1.2
$ANYA pin ls -q | grep -q "^$short$" && fail "expired policy pin still listed"
$ANYA repo gc >"$T/gc.out"
expect_fail "cat of an expired, collected add" $ANYA cat "$short"

step "bad policies are refused with the place in the file"
cp "$ANYA_REPO/config.toml" "$T/good.toml"
printf '\n[[pinning.policy]]\nname = "snapshots"\n' >>"$ANYA_REPO/config.toml"
expect_fail "duplicate policy name" $ANYA pin ls
grep -q "config.toml:[0-9]*:1: a pinning.policy named 'snapshots' is already defined" "$T/err" || fail "duplicate message"
cp "$T/good.toml" "$ANYA_REPO/config.toml"
printf '\n[[pinning.policy]]\nname = "bk"\nsource = "files"\n' >>"$ANYA_REPO/config.toml"
expect_fail "files policy without path_prefix" $ANYA pin ls
cp "$T/good.toml" "$ANYA_REPO/config.toml"
printf '\n[[pinning.policy]]\nname = "x"\nkeep_lats = 2\n' >>"$ANYA_REPO/config.toml"
expect_fail "misspelt field" $ANYA pin ls
grep -q "did you mean 'pinning.policy.keep_last'" "$T/err" || fail "no suggestion"
cp "$T/good.toml" "$ANYA_REPO/config.toml"

step "car import pins its roots (not with --pin-roots=false); block put --pin"
mkdir -p "$T/tree"
echo "in a car" >"$T/tree/a"
other="$T/other"
root=$(ANYA_REPO="$other" bash -c '$0 init >/dev/null && $0 add -Q -r --pin=false "$1" && $0 car export "$($0 add -Q -r -n "$1")" -o "$2"' "$ANYA" "$T/tree" "$T/tree.car")
$ANYA car import --pin-roots=false "$T/tree.car" >"$T/imp0"
$ANYA pin ls -q | grep -q "^$root$" && fail "--pin-roots=false pinned"
$ANYA car import "$T/tree.car" >"$T/imp"
grep -q "^pinned root $root$" "$T/imp" || { cat "$T/imp"; fail "car import did not say it pinned the root"; }
$ANYA pin ls --type recursive | grep -q "^$root recursive$" || fail "car import root not pinned"
echo "a lone block" >"$T/blk"
blk=$($ANYA block put "$T/blk")
$ANYA pin ls -q | grep -q "^$blk$" && fail "block put pinned without --pin"
blk2=$(echo "another block" | $ANYA block put --pin)
$ANYA pin ls --type recursive | grep -q "^$blk2 recursive$" || fail "block put --pin"
$ANYA repo gc >/dev/null
$ANYA block stat "$blk2" >/dev/null || fail "pinned block collected"
expect_fail "unpinned block collected" $ANYA block stat "$blk"
echo "policy: all checks passed"
