#!/usr/bin/env bash
# `anya` through the daemon's RPC against `anya` on the repository itself:
# two copies of one fresh repository run the same commands (add with every
# layout flag, cat, get, ls, block, pin, repo stat|gc, id, version, car
# export|import, dwn process, and failing ones), one with a daemon serving
# RPC, one without; stdout, stderr and exit status must be byte for byte the
# same.  Then, through the daemon only: a 1 GiB add from stdin whose CID
# matches `add -n` while the daemon's peak RSS (VmHWM) grows by less than
# 256 MiB; the bearer token (401 without it or with a wrong one; accepted
# from $ANYA_RPC_TOKEN or security.rpc_token); 405 for GET, 404; bad input
# (paths climbing out, names twice, truncated bodies, bad options) a 400
# with the reason and the daemon goes on; a stale
# api file (daemon killed) is ignored.  The daemon is anyad --mount off
# (tests/integration/rpc-mount.sh covers the mounted one).
source "$(dirname "$0")/lib.bash"
ANYAD=${ANYAD:-$(dirname "$ANYA")/anyad}
[ -x "$ANYAD" ] || fail "$ANYAD is not built"
command -v curl >/dev/null || fail "curl is missing: run make deps"
# the big add: 1 GiB (256 MiB under the sanitizers, which are slower)
ASAN=
grep -q AddressSanitizer "$ANYAD" && ASAN=1
BIG_MIB=${RPC_BIG_MIB:-$([ -n "$ASAN" ] && echo 256 || echo 1024)}

DAEMON_PID=
# start_daemon REPO: anyad serving RPC (and the DWN, for dwn process) for
# REPO on free loopback ports, without the mount; PORT from <repo>/api.
start_daemon() {
  local repo=$1
  "$ANYAD" --repo "$repo" --mount off --p2p off --rpc 127.0.0.1:0 --dwn 127.0.0.1:0 --gateway off --foreground \
    2>"$T/server.log" &
  DAEMON_PID=$!
  PIDS+=("$DAEMON_PID")
  for _ in $(seq 1 100); do
    [ -f "$repo/api" ] && break
    kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$T/server.log"; fail "the daemon did not start"; }
    sleep 0.1
  done
  PORT=$(sed -n 's|^http://127.0.0.1:\([0-9]*\)$|\1|p' "$repo/api")
  [ -n "$PORT" ] || { cat "$repo/api" "$T/server.log"; fail "no port in $repo/api"; }
}
# stop_daemon: SIGTERM; it must exit 0 within 10 s, its log free of
# sanitizer reports (under make asan)
stop_daemon() {
  kill "$DAEMON_PID"
  local status=0
  timeout 10 tail --pid="$DAEMON_PID" -f /dev/null || fail "the daemon did not stop"
  wait "$DAEMON_PID" || status=$?
  DAEMON_PID=
  if grep -q "Sanitizer\|runtime error" "$T/server.log"; then cat "$T/server.log"; fail "the daemon's log has a sanitizer report"; fi
  [ "$status" = 0 ] || { cat "$T/server.log"; fail "the daemon exited $status"; }
}

step "two copies of one repository; the test tree"
ANYA_REPO="$T/r1" $ANYA init >/dev/null
# stderr is compared too: no "slow operation" warnings, which depend on the machine's load
sed -i 's/^slow_operation = .*/slow_operation = "0"/' "$T/r1/config.toml"
grep -q '^slow_operation = "0"$' "$T/r1/config.toml" || fail "cannot turn off the slow-operation warnings"
cp -a "$T/r1" "$T/r2"
mkdir -p "$T/tree/sub/deeper" "$T/tree/empty"
echo one >"$T/tree/a"
echo two >"$T/tree/sub/b b"
echo hidden >"$T/tree/.dot"
ln -s a "$T/tree/link"
prng_bytes 1 700000 >"$T/tree/sub/deeper/big"
long=$(printf 'long-name-%.0s' $(seq 1 12)) # 120 bytes: PAX records in get's tar
echo long >"$T/tree/sub/$long"
mkdir "$T/tree/sub/deeper/$long"
echo deepest >"$T/tree/sub/deeper/$long/$long"
ln -s "../$long/$long/../../$long" "$T/tree/sub/deeper/link-long"
prng_bytes 2 3000000 >"$T/big"
# a directory past the HAMT threshold, with subdirectories: their events
# come in the shard's (hash) order, not by name
mkdir -p "$T/hamt"
(cd "$T/hamt" && touch $(seq -f 'an-entry-with-a-long-name-%015g' 1 4000) && mkdir d1 d2 d3 d4 d5 d6 &&
  for d in d1 d2 d3 d4 d5 d6; do echo "$d" >"$d/f"; done)
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
add -r $T/hamt
add -w -Q -r $T/hamt $T/tree
cat $AFILE
cat --offset 2 --length 100 $AFILE
cat ROOT/sub/b b
cat ROOT/sub/deeper/big
cat $AFILE ROOT/a
cat $AFILE nonsense
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
diff -r --no-dereference "$T/tree/sub" "$T/daemon-sub" >/dev/null || fail "get through the daemon is not the tree"
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

step "bad input: a clear 4xx and the daemon goes on"
# part FILENAME TYPE DATA: one multipart part (boundary B)
part() { printf -- '--B\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\nContent-Type: %s\r\n\r\n%s\r\n' "$1" "$2" "$3"; }
close() { printf -- '--B--\r\n'; }
# expect_status WANT PATTERN CMD?QUERY BODYFILE: the answer's status and Kubo's error shape
expect_status() {
  local code
  code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H 'Content-Type: multipart/form-data; boundary=B' \
    --data-binary @"$4" "http://127.0.0.1:$PORT/api/v0/$3")
  [[ " $1 " == *" $code "* ]] && grep -q "$2" "$T/body" && grep -q '"Type":"error"' "$T/body" ||
    fail "$3: answered $code $(cat "$T/body"), want $1 /$2/"
  echo "ok: $3 -> $code $(cat "$T/body")"
}
{ part ../x application/octet-stream data; close; } >"$T/bad"
expect_status 400 "climbs out" add "$T/bad"
{ part a application/octet-stream 1; part b application/octet-stream 2; part a application/octet-stream 3; close; } >"$T/bad"
expect_status 400 "sent together" add "$T/bad"
{ part a application/octet-stream 1; part a application/octet-stream 2; close; } >"$T/bad"
expect_status 400 "added twice" "add?wrap-with-directory=true" "$T/bad"
part a application/octet-stream 1 >"$T/bad"
expect_status 400 "closing delimiter" add "$T/bad"
{ part "$(printf 'd/%.0s' $(seq 1 70))f" application/octet-stream 1; close; } >"$T/bad"
expect_status 400 "nested deeper" add "$T/bad"
{ part a application/octet-stream 1; close; } >"$T/bad"
expect_status 400 "chunker" "add?chunker=size-0" "$T/bad"
expect_status 400 "not supported" "add?hash=blake3" "$T/bad"
expect_status 400 "invalid CID" "pin/add?arg=bafyNOPE" "$T/bad"
expect_status 400 "tenant" "dwn/process" "$T/bad"
expect_status 400 "escape" "cat?arg=%zz" "$T/bad"
{ part big application/octet-stream "$(head -c 3000000 /dev/zero | tr '\0' x)"; close; } >"$T/bad"
expect_status "400 413" "large" block/put "$T/bad"
ANYA_REPO="$T/r2" $ANYA id >/dev/null || fail "the daemon stopped answering after bad input"

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
# ASan's quarantine keeps up to 256 MiB of freed memory on its own
limit=256
[ -n "$ASAN" ] && limit=768
[ "$growth" -lt "$limit" ] || fail "the daemon's peak RSS grew by $growth MiB (limit $limit)"
[ -n "$want" ] || fail "add -n"
ANYA_REPO="$T/r2" $ANYA cat "$got" | cmp - <(prng_bytes 7 $((BIG_MIB << 20))) || fail "cat of the big file"
stop_daemon

step "the bearer token (security.rpc_token)"
sed -i 's/^rpc_token = ""/rpc_token = "s3cret"/' "$T/r2/config.toml"
start_daemon "$T/r2"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/api/v0/id")
[ "$code" = 401 ] || fail "no token answered $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer s3cret' "http://127.0.0.1:$PORT/api/v0/id")
[ "$code" = 200 ] || fail "the token answered $code"
expect_fail "id with a wrong \$ANYA_RPC_TOKEN" env ANYA_REPO="$T/r2" ANYA_RPC_TOKEN=wrong $ANYA id
grep -q "bearer token" "$T/err" || fail "the 401 message"
id_line=$(grep -n '^id$' "$T/commands" | cut -d: -f1)
ANYA_REPO="$T/r2" ANYA_RPC_TOKEN=s3cret $ANYA id >"$T/id" || fail "id with \$ANYA_RPC_TOKEN"
cmp -s "$T/id" "$T/daemon/$id_line.out" || fail "id with \$ANYA_RPC_TOKEN prints something else"
ANYA_REPO="$T/r2" $ANYA id >"$T/id" || fail "id with security.rpc_token from the config"
cmp -s "$T/id" "$T/daemon/$id_line.out" || fail "id with the config's token prints something else"

step "a stale api file (daemon killed) is ignored"
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
[ -f "$T/r2/api" ] || fail "the api file went away with kill -9?"
ANYA_REPO="$T/r2" $ANYA repo stat >"$T/stat" || fail "anya with a stale api file"
grep -q "^NumObjects: " "$T/stat" || fail "repo stat"
echo "ok"
