#!/usr/bin/env bash
# The main job until the FUSE mount exists (`make run`): a fresh repository under
# build/demo, the project's own sources added recursively, read back and verified.
set -euo pipefail
cd "$(dirname "$0")/.."
ANYA=${ANYA:-build/bin/anya}
export ANYA_REPO=${ANYA_REPO:-$PWD/build/demo/repo}
rm -rf build/demo && mkdir -p build/demo
$ANYA init
echo "--- anya add -r engine docs"
$ANYA add -r engine docs
root=$($ANYA add -Q -r engine)
echo "--- anya ls $root"
$ANYA ls "$root" | head -n 5
echo "--- anya cat $root/cid.h | cmp against engine/cid.h"
$ANYA cat "$root/cid.h" | cmp - engine/cid.h && echo "identical"
echo "--- anya get, car export, repo stat, repo fsck"
$ANYA get "$root" -o build/demo/engine-copy && diff -r engine build/demo/engine-copy && echo "tree identical"
$ANYA car export "$root" -o build/demo/engine.car && ls -l build/demo/engine.car
$ANYA repo stat
$ANYA repo fsck
