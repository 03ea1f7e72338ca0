#!/usr/bin/env bash
# kubo-rpc-client (tests/interop/kubo-rpc.mjs) against our RPC: add of
# several files with cidVersion / rawLeaves / chunker / trickle /
# wrapWithDirectory / progress (CIDs equal to `anya add -n` with the same
# flags, which the unixfs-diff test proves equal to Kubo's importer), a
# directory through addAll with paths, ls, cat with offset/length, block
# put/get/stat/rm, pin add/ls/rm, id, version, repo stat, and an error.
# The server is anyad --mount off.  Exit 0 pass, 77 skip (node/npm missing,
# registry unreachable), else fail.
source "$(dirname "$0")/lib.bash"
fail() { echo "FAIL: $*"; exit 1; }
KUBO_RPC_CLIENT_VERSION=5.4.1
ANYAD=${ANYAD:-$(dirname "$ANYA")/anyad}
[ -x "$ANYAD" ] || fail "$ANYAD is not built"
npm_oracle kubo-rpc kubo-rpc-client "$KUBO_RPC_CLIENT_VERSION" "kubo-rpc-client@$KUBO_RPC_CLIENT_VERSION"

WORK=$(mktemp -d "$BUILD/kubo-rpc.XXXXXX")
ORACLE="$NPM_DIR/oracle-$(basename "$WORK").mjs"
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$WORK" "$ORACLE"
}
trap cleanup EXIT
cp "$ROOT/tests/interop/kubo-rpc.mjs" "$ORACLE"

cd "$WORK"
printf 'hello\n' >a.txt
openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv 0 -in /dev/zero 2>/dev/null | head -c 1500000 >big.bin
[ "$(stat -c %s big.bin)" = 1500000 ] || fail "test data"
mkdir -p dir/sub dir/empty
printf 'one\n' >dir/a.txt
printf 'two\n' >"dir/sub/b b.txt"
printf 'a raw block\n' >block.bin

export ANYA_REPO="$WORK/scratch"
"$ANYA" init >/dev/null
q() { "$ANYA" add -Q -n "$@"; }
block=$("$ANYA" block put block.bin)
"$ANYA" add -n -r dir >dir.added
cid_of() { grep " $1\$" dir.added | cut -d' ' -f2; }
ls_line=$(printf '%s' "a.txt file $(cid_of dir/a.txt), empty dir $(cid_of dir/empty), sub dir $(cid_of dir/sub)")
export ANYA_REPO="$WORK/repo"
"$ANYA" init >/dev/null
peer=$(sed -n 's/^peer_id = "\(.*\)"$/\1/p' "$ANYA_REPO/config.toml")
cat >expected.json <<JSON
{"a": "$(q a.txt)", "big": "$(q big.bin)", "big_v1": "$(q --cid-version 1 big.bin)",
 "big_raw": "$(q --raw-leaves big.bin)", "big_1000": "$(q --chunker size-1000 big.bin)",
 "big_trickle": "$(q --trickle big.bin)", "wrapped": "$(q -w a.txt)", "big_size": 1500000,
 "dir": "$(cid_of dir)", "dir_sub": "$(cid_of dir/sub)", "dir_b": "$(cid_of 'dir/sub/b b.txt')",
 "ls": "$ls_line", "block": "$block", "peer": "$peer", "agent": "anya/0.1.0", "version": "0.1.0",
 "repo": "$ANYA_REPO"}
JSON

"$ANYAD" --repo "$ANYA_REPO" --mount off --p2p off --rpc 127.0.0.1:0 --dwn off --gateway off --foreground 2>server.log &
PID=$!
for _ in $(seq 1 100); do [ -f "$ANYA_REPO/api" ] && break; sleep 0.1; done
[ -f "$ANYA_REPO/api" ] || { cat server.log; fail "anyad did not start its RPC listener"; }
node "$ORACLE" "$(cat "$ANYA_REPO/api")/api/v0" "$WORK/expected.json" "$WORK" || { tail -5 server.log; fail "kubo-rpc-client"; }
kill "$PID"
status=0
wait "$PID" || status=$?
PID=
if grep -q "Sanitizer\|runtime error" server.log; then cat server.log; fail "anyad's log has a sanitizer report"; fi
[ "$status" = 0 ] || { cat server.log; fail "anyad exited $status"; }
echo "ok: kubo-rpc-client $KUBO_RPC_CLIENT_VERSION works against our RPC"
