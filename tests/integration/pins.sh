#!/usr/bin/env bash
# Pins end to end through the CLI: `anya add` pins its roots (not with
# --pin=false or -n), pin add/rm/ls by type with names and expiry, pin update,
# pin verify clean, then failing (non-zero, one line per problem) after a
# pinned DAG loses blocks, and pinning a 100 MiB DAG that is already present.
source "$(dirname "$0")/lib.bash"

$ANYA init >/dev/null

step "add pins the root recursively; its blocks are indirect"
mkdir -p "$T/tree/sub"
echo one >"$T/tree/a"
prng_bytes 1 700000 >"$T/tree/sub/big" # 3 leaves under one node
root=$($ANYA add -Q -r "$T/tree")
[ "$($ANYA pin ls --type recursive)" = "$root recursive" ] || { $ANYA pin ls; fail "root not pinned recursively"; }
[ "$($ANYA pin ls --type indirect | grep -c ' indirect$')" -eq 6 ] || { $ANYA pin ls --type indirect; fail "indirect pins"; }
[ "$($ANYA pin ls | wc -l)" -eq 7 ] || fail "pin ls (all)"
[ "$($ANYA pin ls -q | head -n 1)" = "$root" ] || fail "pin ls -q"
a=$($ANYA add -Q -n "$T/tree/a")
$ANYA pin ls --type indirect | grep -q "^$a indirect$" || fail "a file of the tree is not indirect"

step "--pin=false and -n pin nothing; several paths pin each"
nopin=$(echo not pinned | $ANYA add -Q --pin=false)
$ANYA pin ls -q | grep -q "^$nopin$" && fail "--pin=false pinned"
$ANYA cat "$nopin" >/dev/null || fail "--pin=false did not store"
hashonly=$(echo hash only | $ANYA add -Q -n)
$ANYA pin ls -q | grep -q "^$hashonly$" && fail "-n pinned"
echo first >"$T/f1"; echo second >"$T/f2"
$ANYA add "$T/f1" "$T/f2" >"$T/added"
for c in $(cut -d' ' -f2 "$T/added"); do
  $ANYA pin ls --type recursive | grep -q "^$c recursive$" || fail "path $c of a multi-path add not pinned"
done
stdin_root=$(echo from stdin | $ANYA add -Q)
$ANYA pin ls --type recursive | grep -q "^$stdin_root recursive$" || fail "stdin add not pinned"

step "pin add / rm, direct pins, names, errors"
echo "a raw block" >"$T/b"
b=$($ANYA block put "$T/b")
[ "$($ANYA pin add --recursive=false --name mine "$b")" = "pinned $b directly" ] || fail "pin add direct"
[ "$($ANYA pin ls --type direct)" = "$b direct mine" ] || { $ANYA pin ls --type direct; fail "named direct pin"; }
[ "$($ANYA pin add "$nopin")" = "pinned $nopin recursively" ] || fail "pin add"
[ "$($ANYA pin rm "$nopin")" = "unpinned $nopin" ] || fail "pin rm"
$ANYA pin ls -q | grep -q "^$nopin$" && fail "still pinned after rm"
expect_fail "rm of a CID not pinned" $ANYA pin rm "$nopin"
expect_fail "bad CID" $ANYA pin add notacid
expect_fail "bad type" $ANYA pin ls --type sideways
expect_fail "bad duration" $ANYA pin add --expire-in 5years "$nopin"
expect_fail "direct pin of a recursively pinned CID" $ANYA pin add --recursive=false "$root"
expect_fail "absent block" $ANYA pin add bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku
expect_fail "pin without a subcommand" $ANYA pin
expect_fail "unknown pin subcommand" $ANYA pin frob

step "a DAG with a missing block cannot be pinned, and nothing is pinned"
mkdir -p "$T/t2"; echo x >"$T/t2/x"; echo y >"$T/t2/y"
r2=$($ANYA add -Q -r --pin=false "$T/t2")
y=$($ANYA add -Q -n "$T/t2/y")
$ANYA block rm "$y" >/dev/null
expect_fail "pin of an incomplete DAG" $ANYA pin add "$r2"
grep -q "$y" "$T/err" || fail "the error does not name the missing block"
$ANYA pin ls -q | grep -q "^$r2$" && fail "an incomplete DAG was pinned"

step "expiry"
$ANYA pin add --expire-in 1s --name short "$nopin" >/dev/null
$ANYA pin ls --type recursive | grep -q "^$nopin recursive short$" || fail "expiring pin not listed"
sleep 1.2
$ANYA pin ls -q | grep -q "^$nopin$" && fail "expired pin still listed"
$ANYA pin add --expire-in 7d "$nopin" >/dev/null
$ANYA pin ls -q | grep -q "^$nopin$" || fail "7d pin not listed"

step "pin update"
echo v2 >"$T/tree/v2"
root2=$($ANYA add -Q -r --pin=false "$T/tree")
[ "$($ANYA pin update "$root" "$root2")" = "updated $root to $root2" ] || fail "pin update"
$ANYA pin ls --type recursive | grep -q "^$root2 recursive$" || fail "new root not pinned"
$ANYA pin ls --type recursive | grep -q "^$root recursive$" && fail "old root still pinned"
expect_fail "update of a CID not pinned" $ANYA pin update "$root" "$root2"

step "verify: ok, then a pinned DAG loses two blocks"
$ANYA pin verify >"$T/verify"
grep -q "^pin verify: ok, [0-9]* pins, [0-9]* blocks$" "$T/verify" || { cat "$T/verify"; fail "verify ok line"; }
sub=$($ANYA ls "$root2" | grep ' sub/$' | cut -d' ' -f1)
$ANYA block rm "$a" "$sub" >/dev/null
expect_fail "verify with missing blocks" $ANYA pin verify
grep -q "found 2 problems" "$T/err" || fail "verify's error does not count 2 problems"
[ "$(wc -l <"$T/.stdout")" -eq 2 ] || { cat "$T/.stdout"; fail "verify did not print one line per problem"; }
grep -q "^missing $a (under pin $root2)$" "$T/.stdout" || { cat "$T/.stdout"; fail "missing block a not reported"; }
grep -q "^missing $sub (under pin $root2)$" "$T/.stdout" || { cat "$T/.stdout"; fail "missing sub not reported"; }
$ANYA pin rm "$root2" >/dev/null
$ANYA pin verify | grep -q "^pin verify: ok" || fail "verify after unpinning the broken DAG"

step "pinning a 100 MiB DAG already present"
prng_bytes 7 104857600 >"$T/big"
big=$($ANYA add -Q --pin=false "$T/big")
rm -f "$T/big"
[ "$($ANYA pin add "$big")" = "pinned $big recursively" ] || fail "pin add of the 100 MiB DAG"
$ANYA pin ls --type indirect | grep -c ' indirect$' | grep -q '^4[0-9][0-9]$' || fail "its 400-odd leaves are not indirect"
$ANYA pin verify | grep -q "^pin verify: ok" || fail "verify of the 100 MiB DAG"
$ANYA repo fsck >/dev/null || fail "fsck"
echo "pins: all ok"
