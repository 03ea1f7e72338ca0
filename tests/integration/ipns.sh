#!/usr/bin/env bash
# IPNS on one daemon without the DHT (--p2p off: our own records only):
# `anya name publish` / `resolve` through the daemon, the RPC's answers and
# errors (Kubo's shapes), the sequence across a daemon restart (the record
# in <repo>/ipns/), the gateway's /ipns/<name>[/path] (content, X-Ipfs-Path,
# no "immutable", 404/400 with JSON), and the mount's ipns/<name>/path (when
# this machine can mount: root and /dev/fuse, else that part says SKIP).
# Names over the DHT with Helia: tests/interop/ipns-js.sh.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/../anyad-lib.bash"
command -v curl >/dev/null || fail "curl is missing: run make deps"
ANYAD="$(dirname "$ANYA")/anyad"
[ -x "$ANYAD" ] || fail "$ANYAD is not built"

"$ANYA" init >/dev/null
mkdir -p "$T/site/sub"
printf 'hello ipns\n' >"$T/site/index.txt"
printf 'deep\n' >"$T/site/sub/deep.txt"
ROOT=$("$ANYA" add -Q -r "$T/site")
FILE=$("$ANYA" add -Q "$T/site/index.txt")

step "without a daemon"
expect_fail "name publish needs the daemon" "$ANYA" name publish "$FILE"

start_daemon() { # ARGS...: the listeners on port 0, p2p off
  "$ANYAD" --foreground --p2p off --dwn off --gateway 127.0.0.1:0 --rpc 127.0.0.1:0 "$@" >"$T/anyad.log" 2>&1 &
  DPID=$!
  PIDS+=("$DPID")
  GW=$(anyad_wait_listener "$DPID" "$T/anyad.log" gateway) || { cat "$T/anyad.log"; fail "gateway did not start"; }
  RPC=$(anyad_wait_listener "$DPID" "$T/anyad.log" rpc) || { cat "$T/anyad.log"; fail "rpc did not start"; }
}
stop_daemon() {
  kill -TERM "$DPID"
  local rc=0
  wait "$DPID" || rc=$?
  [ "$rc" = 0 ] || { tail -20 "$T/anyad.log"; fail "anyad exited $rc"; }
}
rpc() { curl -s -X POST "http://127.0.0.1:$RPC/api/v0/$1"; }

step "publish and resolve through the daemon"
start_daemon --mount off
out=$("$ANYA" name publish "$FILE")
NAME=$(printf '%s' "$out" | sed -n 's/^Published to \(k51[a-z0-9]*\): .*/\1/p')
[ -n "$NAME" ] || fail "publish output: $out"
[ "$out" = "Published to $NAME: /ipfs/$FILE" ] || fail "publish output: $out"
[ "$("$ANYA" name resolve "$NAME")" = "/ipfs/$FILE" ] || fail "resolve $NAME"
[ "$("$ANYA" name resolve)" = "/ipfs/$FILE" ] || fail "resolve (self)"
PEER=$("$ANYA" id | sed -n 's/.*"ID": *"\([^"]*\)".*/\1/p')
[ "$("$ANYA" name resolve "/ipns/$PEER")" = "/ipfs/$FILE" ] || fail "resolve by peer id $PEER"
[ -f "$ANYA_REPO/ipns/$NAME" ] || fail "no record at <repo>/ipns/$NAME"

step "RPC answers (Kubo's shapes)"
r=$(rpc "name/publish?arg=/ipfs/$ROOT/sub&lifetime=2h&ttl=30s")
[ "$r" = "{\"Name\":\"$NAME\",\"Value\":\"/ipfs/$ROOT/sub\"}" ] || fail "name/publish answer: $r"
r=$(rpc "name/resolve?arg=$NAME")
[ "$r" = "{\"Path\":\"/ipfs/$ROOT/sub\"}" ] || fail "name/resolve answer: $r"
r=$(rpc "name/resolve?arg=$NAME/deep.txt")
[ "$r" = "{\"Path\":\"/ipfs/$ROOT/sub/deep.txt\"}" ] || fail "name/resolve with a path: $r"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "http://127.0.0.1:$RPC/api/v0/name/publish?arg=/ipfs/notacid")
[ "$code" = 400 ] && grep -q '"Type":"error"' "$T/body" || fail "publish of a bad CID: $code $(cat "$T/body")"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "http://127.0.0.1:$RPC/api/v0/name/publish?arg=$FILE&lifetime=forever")
[ "$code" = 400 ] || fail "bad lifetime: $code $(cat "$T/body")"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "http://127.0.0.1:$RPC/api/v0/name/resolve?arg=example.com")
[ "$code" = 400 ] || fail "resolve of a DNS name: $code $(cat "$T/body")"
OTHER=k51qzi5uqu5dhnwe629wdlncpql6frppdpwnz4wtlcw816aysd5wwlk63g4wmh
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "http://127.0.0.1:$RPC/api/v0/name/resolve?arg=$OTHER")
[ "$code" = 500 ] && grep -q 'no IPNS record' "$T/body" || fail "resolve of an unknown name: $code $(cat "$T/body")"
expect_fail "resolve of an unknown name" "$ANYA" name resolve "$OTHER"
# resolve=true (the default) refuses content this node does not have
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "http://127.0.0.1:$RPC/api/v0/name/publish?arg=bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
[ "$code" = 500 ] || fail "publish of missing content: $code $(cat "$T/body")"

step "the gateway's /ipns/"
rpc "name/publish?arg=/ipfs/$ROOT" >/dev/null
curl -s -D "$T/h" -o "$T/body" "http://127.0.0.1:$GW/ipns/$NAME/index.txt"
grep -q '^HTTP/1.1 200' "$T/h" || { cat "$T/h"; fail "GET /ipns/$NAME/index.txt"; }
cmp -s "$T/body" "$T/site/index.txt" || fail "/ipns/ body"
grep -qi "^X-Ipfs-Path: /ipns/$NAME/index.txt" "$T/h" || { cat "$T/h"; fail "X-Ipfs-Path"; }
grep -qi '^Cache-Control: public, max-age=60' "$T/h" || { cat "$T/h"; fail "Cache-Control for /ipns/"; }
grep -qi 'immutable' "$T/h" && fail "an /ipns/ answer marked immutable"
curl -s -o "$T/body" "http://127.0.0.1:$GW/ipns/$PEER/sub/deep.txt"
cmp -s "$T/body" "$T/site/sub/deep.txt" || fail "/ipns/<peer id>/sub/deep.txt"
code=$(curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$GW/ipns/$NAME/sub")
[ "$code" = 301 ] || fail "directory without slash: $code"
curl -s -o "$T/body" -H "Host: $NAME.ipns.localhost:$GW" "http://127.0.0.1:$GW/index.txt"
cmp -s "$T/body" "$T/site/index.txt" || fail "subdomain <name>.ipns.localhost"
code=$(curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$GW/ipns/$OTHER")
[ "$code" = 404 ] && grep -q '"error"' "$T/body" || fail "unknown name: $code $(cat "$T/body")"
code=$(curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$GW/ipns/notaname")
[ "$code" = 400 ] && grep -q '"error"' "$T/body" || fail "bad name: $code $(cat "$T/body")"
code=$(curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$GW/ipns/$NAME/missing.txt")
[ "$code" = 404 ] || fail "missing path below a name: $code"

step "the sequence survives a restart"
stop_daemon
start_daemon --mount off
r=$(rpc "name/publish?arg=$FILE")
[ "$r" = "{\"Name\":\"$NAME\",\"Value\":\"/ipfs/$FILE\"}" ] || fail "publish after restart: $r"
[ "$("$ANYA" name resolve)" = "/ipfs/$FILE" ] || fail "resolve after restart"
stop_daemon

step "the mount's ipns/"
if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ]; then
  echo "SKIP part: the mount's ipns/ (needs root and /dev/fuse)"
  exit 0
fi
M="$T/mnt"
trap 'for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done; umount -l "$M" 2>/dev/null || true; rm -rf "$T"' EXIT
start_daemon --mount "$M"
for _ in $(seq 1 100); do [ -d "$M/files" ] && break; sleep 0.1; done
[ -d "$M/files" ] || fail "not mounted"
rpc "name/publish?arg=/ipfs/$ROOT" >/dev/null
cmp -s "$M/ipns/$NAME/index.txt" "$T/site/index.txt" || fail "ipns/$NAME/index.txt"
cmp -s "$M/ipns/$PEER/sub/deep.txt" "$T/site/sub/deep.txt" || fail "ipns/<peer id>/sub/deep.txt"
x=$(getfattr -n user.anya.cid --only-values "$M/ipns/$NAME" 2>/dev/null || true)
[ "$x" = "$ROOT" ] || fail "user.anya.cid of ipns/$NAME: $x (ipfs/: $(getfattr -n user.anya.cid --only-values "$M/ipfs/$ROOT" 2>/dev/null))"
[ ! -e "$M/ipns/$OTHER" ] || fail "an unknown name exists in ipns/"
[ ! -e "$M/ipns/notaname" ] || fail "a bad name exists in ipns/"
stop_daemon
mountpoint -q "$M" && fail "still mounted"
echo "ipns: all checks passed"
