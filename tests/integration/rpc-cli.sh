#!/usr/bin/env bash
# `anya` through the daemon's RPC against `anya` on the repository itself:
# two copies of one fresh repository run the same commands (add with every
# layout flag, cat, get, ls, block, pin, repo stat|gc, id, version, car
# export|import, dwn process, and failing ones), one with a daemon serving
# RPC, one without; stdout, stderr and exit status must be byte for byte the
# same.  Then, through the daemon
# only: a 1 GiB add from stdin whose CID matches `add -n` while the
# daemon's peak RSS (VmHWM) grows by less than 256 MiB; the bearer token
# (401 without it, from $ANYA_RPC_TOKEN or security.rpc_token with it);
# 405 for GET; a stale api file (daemon killed) is ignored.
source "$(dirname "$0")/lib.bash"
BUILD=${ANYA_BUILD:-$(dirname "$ANYA")/..}
SERVER=${RPC_SERVER:-$BUILD/integration/rpc_server}
[ -x "$SERVER" ] || { echo "skip: $SERVER not built"; exit 77; }
command -v curl >/dev/null || { echo "skip: curl is not installed"; exit 77; }
BIG_MIB=${RPC_BIG_MIB:-1024}

DAEMON_PID=
# start_daemon REPO [TOKEN]: serves RPC for REPO on a free loopback port (PORT)
start_daemon() {
  local repo=$1 token=${2:-}
  "$SERVER" "$repo" 127.0.0.1:0 $token >"$T/port" 2>"$T/server.log" &
  DAEMON_PID=$!
  PIDS+=("$DAEMON_PID")
  for _ in $(seq 1 100); do
    [ -s "$T/port" ] && [ -f "$repo/api" ] && break
    kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$T/server.log"; fail "the daemon did not start"; }
    sleep 0.1
  done
  PORT=$(cat "$T/port")
  [ -n "$PORT" ] || fail "no port"
}
stop_daemon() {
  kill "$DAEMON_PID"
  for _ in $(seq 1 100); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$DAEMON_PID" 2>/dev/null && fail "the daemon did not stop"
  DAEMON_PID=
}

step "two copies of one repository; the test tree"
ANYA_REPO="$T/r1" $ANYA init >/dev/null
cp -a "$T/r1" "$T/r2"
mkdir -p "$T/tree/sub/deeper" "$T/tree/empty"
echo one >"$T/tree/a"
echo two >"$T/tree/sub/b b"
echo hidden >"$T/tree/.dot"
ln -s a "$T/tree/link"
prng_bytes 1 700000 >"$T/tree/sub/deeper/big"
prng_bytes 2 3000000 >"$T/big"
echo "a raw block" >"$T/block"
echo stdin data >"$T/stdin"
echo '{"descriptor": {"interface": "Records", "method": "Query"}}' >"$T/msg-bad"
echo '{"descriptor": ' >"$T/msg-broken"
AFILE=$(ANYA_REPO="$T/none" $ANYA add -Q -n "$T/tree/a")
ANYA_REPO="$T/r0" $ANYA init >/dev/null
BLOCK=$(ANYA_REPO="$T/r0" $ANYA block put "$T/block")

# The commands, each as one line of arguments (words split on spaces);
# "<" STDIN feeds a file.  They run in order on one repository.
cat >"$T/commands" <<EOF
add -r $T/tree
add -r -H $T/tree
add -r --cid-version 1 $T/tree
add --raw-leaves --chunker size-1000 $T/big
add --trickle $T/big
add --trickle --raw-leaves --chunker size-4096 $T/big
add -w -r $T/tree $T/big
add -Q -r $T/tree
add -q -r $T/tree
add --pin=false $T/big
add < $T/stdin
add -Q --cid-version 1 < $T/stdin
add -r $T/tree $T/tree/sub
cat $AFILE
cat --offset 2 --length 100 $AFILE
cat ROOT/sub/b b
cat ROOT/sub/deeper/big
ls ROOT
ls ROOT/sub
get ROOT -o $T/OUT-get
get ROOT/sub -o $T/OUT-sub
block put $T/block
block put --cid-codec dag-pb $T/block
block put --cid-codec v0 $T/block
block stat $BLOCK
block get $BLOCK
block rm $BLOCK
pin add --recursive=false --name mine $AFILE
pin ls
pin ls --type recursive
pin ls -q --type direct
pin ls ROOT
pin rm $AFILE
pin verify
repo gc
repo stat
id
version
cat nonsense
cat $AFILE/x
ls $AFILE
block stat $BLOCK
block get QmNotACid
pin rm $AFILE
pin ls --type direct $AFILE
get ROOT -o $T/OUT-get
car export ROOT -o $T/OUT-car.car
car export ROOT
car import $T/OUT-car.car
car import --pin-roots=false $T/OUT-car.car
car export ROOT/sub
car import $T/block
dwn process --tenant did:example:alice < $T/msg-bad
dwn process --tenant did:example:alice < $T/msg-broken
EOF

# run_all REPO OUT: every command on REPO, outputs in OUT/N.{out,err,rc}
run_all() {
  local repo=$1 out=$2 n=0 root=
  mkdir -p "$out"
  while IFS= read -r line; do
    n=$((n + 1))
    line=${line//ROOT/$root}
    line=${line//OUT-/$(basename "$out")-}
    local input=/dev/null
    if [[ $line == *" < "* ]]; then input=${line##* < }; line=${line%% < *}; fi
    # "cat ROOT/sub/b b": a path with a space stays one argument
    local -a args
    if [[ $line == "cat "*"/b b" ]]; then args=(cat "${line#cat }"); else read -r -a args <<<"$line"; fi
    set +e
    ANYA_REPO=$repo $ANYA "${args[@]}" <"$input" >"$out/$n.out" 2>"$out/$n.err"
    echo $? >"$out/$n.rc"
    set -e
    [ -z "$root" ] && [ "${args[0]}" = add ] && root=$(tail -n 1 "$out/$n.out" | cut -d' ' -f2)
  done <"$T/commands"
  # what get wrote, as text
  for d in "$T/$(basename "$out")-get" "$T/$(basename "$out")-sub"; do
    (cd "$d" && find . -printf '%p %y %m %s %l\n' | sort && find . -type f -exec sha256sum {} + | sort) >"$out/tree-$(basename "$d" | sed 's/.*-//')"
  done
}

step "direct (no daemon)"
run_all "$T/r1" "$T/direct"
step "through the daemon"
start_daemon "$T/r2"
run_all "$T/r2" "$T/daemon"
grep -q "repo" "$T/r2/repo.lock" 2>/dev/null || true

step "the outputs are the same"
sed -i "s|$T/r1|REPO|g; s|$T/direct-|OUT-|g" "$T"/direct/*
sed -i "s|$T/r2|REPO|g; s|$T/daemon-|OUT-|g" "$T"/daemon/*
# bytes on disk (segments + LevelDB index) depend on how often the store was
# opened; everything else must match
sed -i 's/^RepoSize: [0-9]*$/RepoSize: N/' "$T"/direct/*.out "$T"/daemon/*.out
n=0
while IFS= read -r line; do
  n=$((n + 1))
  for ext in out err rc; do
    cmp -s "$T/direct/$n.$ext" "$T/daemon/$n.$ext" || {
      echo "command $n: anya $line"
      diff <(cat -A "$T/direct/$n.$ext") <(cat -A "$T/daemon/$n.$ext") | head -20
      fail "$ext differs through the daemon"
    }
  done
done <"$T/commands"
for f in tree-get tree-sub; do cmp -s "$T/direct/$f" "$T/daemon/$f" || { diff "$T/direct/$f" "$T/daemon/$f"; fail "$f differs"; }; done
cmp "$T/direct-car.car" "$T/daemon-car.car" || fail "car export -o differs through the daemon"
# and they are what they should be (a few spot checks)
grep -q "^added .* tree$" "$T/direct/1.out" || fail "add -r printed no root"
bad=$(grep -n '^cat nonsense$' "$T/commands" | cut -d: -f1)
[ "$(cat "$T/direct/$bad.rc")" != 0 ] && grep -q "^anya: invalid CID 'nonsense'" "$T/direct/$bad.err" || fail "a bad CID did not fail"
[ "$(cat "$T/daemon/$bad.rc")" != 0 ] || fail "a bad CID through the daemon did not fail"
diff -r "$T/tree/sub" "$T/daemon-sub" >/dev/null || fail "get through the daemon is not the tree"
echo "ok: $n commands print the same through the daemon; the failures said:"
cat "$T"/daemon/*.err | sed 's/^/  /'


step "405 for GET, 404 for an unknown command, the error shape"
code=$(curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$PORT/api/v0/version")
[ "$code" = 405 ] || fail "GET answered $code"
grep -q '"Type":"error"' "$T/body" || fail "405 body: $(cat "$T/body")"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/api/v0/nope")
[ "$code" = 404 ] || fail "unknown command answered $code"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/api/v0/cat?arg=nonsense")
[ "$code" = 400 ] && grep -q '"Message":"invalid CID' "$T/body" || fail "bad CID: $code $(cat "$T/body")"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/api/v0/add" -H 'Content-Type: text/plain' --data-binary x)
[ "$code" = 400 ] || fail "add without multipart answered $code"

step "a ${BIG_MIB} MiB add through the daemon: same CID as add -n, RSS bounded"
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
before=$(hwm "$DAEMON_PID")
want=$(prng_bytes 7 $((BIG_MIB << 20)) | ANYA_REPO="$T/none" $ANYA add -Q -n)
start=$(date +%s.%N)
got=$(prng_bytes 7 $((BIG_MIB << 20)) | ANYA_REPO="$T/r2" $ANYA add -Q --cid-version 1)
end=$(date +%s.%N)
want1=$(prng_bytes 7 $((BIG_MIB << 20)) | ANYA_REPO="$T/none" $ANYA add -Q -n --cid-version 1)
[ "$got" = "$want1" ] || fail "big add: $got, add -n says $want1"
after=$(hwm "$DAEMON_PID")
growth=$(((after - before) / 1024))
echo "big add: $BIG_MIB MiB in $(echo "$end - $start" | bc) s; daemon VmHWM $((before / 1024)) -> $((after / 1024)) MiB (+$growth MiB)"
[ "$growth" -lt 256 ] || fail "the daemon's peak RSS grew by $growth MiB"
[ -n "$want" ] || fail "add -n"
ANYA_REPO="$T/r2" $ANYA cat "$got" | cmp - <(prng_bytes 7 $((BIG_MIB << 20))) || fail "cat of the big file"
stop_daemon

step "the bearer token"
start_daemon "$T/r2" s3cret
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/api/v0/id")
[ "$code" = 401 ] || fail "no token answered $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer s3cret' "http://127.0.0.1:$PORT/api/v0/id")
[ "$code" = 200 ] || fail "the token answered $code"
expect_fail "id without the token" env ANYA_REPO="$T/r2" $ANYA id
grep -q "bearer token" "$T/err" || fail "the 401 message"
ANYA_REPO="$T/r2" ANYA_RPC_TOKEN=s3cret $ANYA id >"$T/id" || fail "id with \$ANYA_RPC_TOKEN"
cmp -s "$T/id" "$T/daemon/$(grep -n '^id$' "$T/commands" | cut -d: -f1).out" || fail "id with the token"
sed -i 's/^rpc_token = ""/rpc_token = "s3cret"/' "$T/r2/config.toml"
ANYA_REPO="$T/r2" $ANYA id >"$T/id" || fail "id with security.rpc_token"
ANYA_REPO="$T/r2" ANYA_RPC_TOKEN=wrong $ANYA id >/dev/null 2>&1 && fail "a wrong \$ANYA_RPC_TOKEN was accepted"

step "a stale api file (daemon killed) is ignored"
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
[ -f "$T/r2/api" ] || fail "the api file went away with kill -9?"
ANYA_REPO="$T/r2" $ANYA repo stat >"$T/stat" || fail "anya with a stale api file"
grep -q "^NumObjects: " "$T/stat" || fail "repo stat"
echo "ok"
