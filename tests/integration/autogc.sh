#!/usr/bin/env bash
# The repository's config.toml drives the running commands: automatic GC at
# the high watermark (storage.max, storage.gc_watermark_percent,
# storage.gc_auto) after add / block put / car import, keeping what is pinned;
# `repo stat` shows StorageMax; logging.level / logging.format configure the
# log; `repo gc` drops expired pins first; a bad config.toml fails every
# command with one line naming file:line:column.
source "$(dirname "$0")/lib.bash"

$ANYA init >/dev/null
cfg="$ANYA_REPO/config.toml"
# set_key KEY VALUE: replaces `KEY = ...` (the first one, in the profile's text) in config.toml.
set_key() {
  grep -q "^$1 = " "$cfg" || fail "config.toml has no key $1"
  sed -i "0,/^$1 = .*/s//$1 = $2/" "$cfg"
}

step "repo stat shows StorageMax from storage.max"
$ANYA repo stat | grep -qx 'StorageMax: 10737418240' || { $ANYA repo stat; fail "StorageMax default"; }
set_key max '"2MiB"'
set_key gc_watermark_percent 50
set_key gc_auto true
$ANYA repo stat | grep -qx 'StorageMax: 2097152' || { $ANYA repo stat; fail "StorageMax from config.toml"; }

step "below the watermark nothing runs"
small=$(echo small | $ANYA add -Q --pin=false 2>"$T/add.err")
[ ! -s "$T/add.err" ] || { cat "$T/add.err"; fail "stderr below the watermark"; }
$ANYA block stat "$small" >/dev/null || fail "small block collected below the watermark"

step "unpinned adds past the watermark are collected; the pinned file stays"
unpinned=()
for i in 1 2 3 4; do
  prng_bytes "$i" 400000 >"$T/f$i" # 2 leaves and a root each
  unpinned+=("$($ANYA add -Q --pin=false "$T/f$i" 2>>"$T/gc.err")")
done
prng_bytes 9 300000 >"$T/pinned"
pinned=$($ANYA add -Q "$T/pinned" 2>>"$T/gc.err")
grep -Eq '^anya: automatic gc: removed [1-9][0-9]* blocks, freed [1-9][0-9]* bytes$' "$T/gc.err" ||
  { cat "$T/gc.err"; fail "no automatic gc line"; }
if grep -v '^anya: automatic gc: ' "$T/gc.err"; then fail "other stderr output"; fi
$ANYA cat "$pinned" | cmp - "$T/pinned" || fail "pinned content not readable after automatic gc"
for c in "${unpinned[@]}" "$small"; do
  if $ANYA block stat "$c" >/dev/null 2>&1; then fail "unpinned $c survived automatic gc"; fi
done
$ANYA repo fsck | grep -q '^repo fsck: ok' || fail "fsck after automatic gc"
$ANYA pin verify >/dev/null || fail "pin verify after automatic gc"

step "block put and car import run it too"
$ANYA car export "$pinned" -o "$T/pinned.car"
# garbage_over_watermark SEED: stores 1.1 MB unpinned with gc_auto off.
garbage_over_watermark() {
  set_key gc_auto false
  prng_bytes "$1" 1100000 | $ANYA add -Q --pin=false >/dev/null
  set_key gc_auto true
}
garbage_over_watermark 10
prng_bytes 11 1000 >"$T/blk"
$ANYA block put "$T/blk" >/dev/null 2>"$T/put.err"
grep -q '^anya: automatic gc: removed [1-9]' "$T/put.err" || { cat "$T/put.err"; fail "block put: no automatic gc"; }
garbage_over_watermark 12
$ANYA car import "$T/pinned.car" >/dev/null 2>"$T/car.err"
grep -q '^anya: automatic gc: removed [1-9]' "$T/car.err" || { cat "$T/car.err"; fail "car import: no automatic gc"; }
$ANYA cat "$pinned" | cmp - "$T/pinned" || fail "pinned content after car import"
$ANYA repo fsck | grep -q '^repo fsck: ok' || fail "fsck after automatic gc"

step "right after a collection, a small add does not collect again (live data above the watermark)"
echo tiny | $ANYA add -Q --pin=false >/dev/null 2>"$T/again.err"
[ ! -s "$T/again.err" ] || { cat "$T/again.err"; fail "automatic gc ran again with nothing new to free"; }

step "gc_auto = false turns it off"
set_key gc_auto false
prng_bytes 13 1100000 | $ANYA add -Q --pin=false >/dev/null 2>"$T/off.err"
[ ! -s "$T/off.err" ] || { cat "$T/off.err"; fail "automatic gc ran with gc_auto = false"; }
set_key gc_auto true

step "repo gc drops expired pins first"
set_key gc_auto false
echo expiring >"$T/exp"
exp=$($ANYA add -Q --pin=false "$T/exp")
$ANYA pin add --expire-in 1s "$exp" >/dev/null
$ANYA repo gc >"$T/gc.out"
$ANYA block stat "$exp" >/dev/null || fail "a pinned block collected before its expiry"
sleep 1.2
$ANYA repo gc >"$T/gc.out"
if $ANYA block stat "$exp" >/dev/null 2>&1; then fail "an expired pin kept its block"; fi
if $ANYA pin ls -q | grep -q "^$exp$"; then fail "expired pin listed"; fi

step "logging.level and logging.format configure the log"
set_key level '"debug"'
set_key format '"json"'
$ANYA repo stat >/dev/null 2>"$T/log.err"
grep -q '^{"ts":"[^"]*","level":"debug","module":"cli","msg":"repository opened"' "$T/log.err" ||
  { cat "$T/log.err"; fail "no debug JSON line"; }
set_key level '"warn"'
$ANYA repo stat >/dev/null 2>"$T/log.err"
[ ! -s "$T/log.err" ] || { cat "$T/log.err"; fail "debug line at level warn"; }

step "a bad config.toml fails every command with file:line:column"
line=$(grep -n '^max = ' "$cfg" | head -n 1 | cut -d: -f1)
sed -i "${line}s/^max = /maxx = /" "$cfg"
for cmd in "repo stat" "pin ls" "repo gc" "id"; do
  # shellcheck disable=SC2086
  expect_fail "$cmd with an unknown key" $ANYA $cmd
  grep -q "config.toml:$line:1: unknown key 'storage.maxx' (did you mean 'storage.max'?)" "$T/err" ||
    fail "message: $(cat "$T/err")"
done
expect_fail "add with an unknown key" $ANYA add -Q "$T/exp"
grep -q "config.toml:$line:1:" "$T/err" || fail "message: $(cat "$T/err")"

echo "autogc: all ok"
