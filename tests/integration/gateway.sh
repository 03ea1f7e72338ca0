#!/usr/bin/env bash
# The IPFS HTTP gateway (net/gateway.c) end to end, with curl on loopback:
# a tree added with `anya add` (files of several types, a directory with
# index.html, one without, a HAMT-sharded directory of 3000 entries, a 5 MiB
# file, a raw-leaves file) is served and checked for content and
# Content-Type, 301 to the slash form, listings, index.html, Range (206,
# 416), HEAD, ETag / If-None-Match 304, cache headers, X-Ipfs-Path/Roots,
# ?format=raw against `anya block get`, ?format=car imported by `anya car
# import` into a fresh repository (and, for dag-scope=all, byte-equal to
# `anya car export`), Accept variants, dag-scope block counts, bad CID 400,
# missing 404, subdomain Host, /ipns/ 404, 405, the identity probe.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/../anyad-lib.bash"
command -v curl >/dev/null || fail "curl is missing: run make deps"
BUILD_DIR=$(dirname "$(dirname "$ANYA")")
ANYAD="$BUILD_DIR/bin/anyad"
[ -x "$ANYAD" ] || fail "$ANYAD is not built"

step "the tree"
"$ANYA" init >/dev/null
D="$T/tree"
mkdir -p "$D/site" "$D/docs/sub" "$D/hamt"
printf 'hello world\n' >"$D/hello.txt"
printf '<!DOCTYPE html>\n<html><body>page</body></html>\n' >"$D/page.html"
{ printf '\x89PNG\r\n\x1a\n'; prng_bytes 1 2000; } >"$D/image.png"
prng_bytes 2 3000 >"$D/noext"
printf 'plain notes without an extension\n' >"$D/notes"
printf '{"a": 1}\n' >"$D/data.json"
printf '<svg xmlns="http://www.w3.org/2000/svg"></svg>\n' >"$D/pic.svg"
printf '<html><body>site index</body></html>\n' >"$D/site/index.html"
printf 'body { color: red }\n' >"$D/site/style.css"
printf 'a\n' >"$D/docs/a.txt"
printf 'weird\n' >"$D/docs/we<ird> & name.txt"
printf 'deep\n' >"$D/docs/sub/deep.txt"
# long names so the directory's estimate passes the 256 KiB HAMT threshold
for i in $(seq -w 0 2999); do
  printf 'entry %s\n' "$i" >"$D/hamt/entry-$i-with-a-long-name-so-that-the-directory-gets-sharded.txt"
done
prng_bytes 3 $((5 * 1024 * 1024)) >"$D/big.bin"
ln -s hello.txt "$D/link"
ROOT=$("$ANYA" add -Q -r "$D")
RAWLEAVES=$(prng_bytes 4 700000 | "$ANYA" add -Q --raw-leaves -)
prng_bytes 4 700000 >"$T/rawleaves.bin"
RAWBLOCK=$(printf 'a raw block\n' | "$ANYA" add -Q --cid-version 1 -)
HELLO=$("$ANYA" add -Q -n "$D/hello.txt")
DEEP=$("$ANYA" add -Q -n "$D/docs/sub/deep.txt")
MISSING=$(printf 'not stored anywhere\n' | "$ANYA" add -Q -n -)
V1=$("$ANYA" add -Q -r --cid-version 1 "$D/site")
printf '\xa1\x61\x61\x01' >"$T/cbor.bin" # dag-cbor {"a": 1}
CBOR=$("$ANYA" block put --cid-codec dag-cbor "$T/cbor.bin")
# what the CLI says, before the server holds the repository
"$ANYA" block get "$ROOT" >"$T/root.block"
"$ANYA" car export "$ROOT" -o "$T/export.car"
"$ANYA" ls "$ROOT" >"$T/ls.expected"
echo "root $ROOT"

# A three-chunk file, unpinned, whose middle leaf is then removed: the CAR, the
# file and its directory listing must end visibly short (aborted), not complete.
prng_bytes 77 $((3 * 262144)) >"$T/holey"
HOLEY=$("$ANYA" add -Q --pin=false "$T/holey")
head -c $((2 * 262144)) "$T/holey" | tail -c 262144 >"$T/leaf"
LEAF=$("$ANYA" add -Q -n "$T/leaf")
"$ANYA" block rm "$LEAF" >/dev/null

step "the server: anyad --mount off, the gateway alone on a port the kernel picks"
: >"$T/anyad.err" # before the daemon opens it, so the polling below can read it
"$ANYAD" --repo "$ANYA_REPO" --mount off --p2p off --foreground --dwn off --rpc off --gateway 127.0.0.1:0 \
  2>"$T/anyad.err" &
PIDS+=($!)
PORT=$(anyad_wait_listener "${PIDS[0]}" "$T/anyad.err" gateway) || { cat "$T/anyad.err"; fail "the gateway did not start"; }
G="http://127.0.0.1:$PORT"
echo "gateway $G"

# get URL [curl args...]: body to $T/body, headers to $T/h, status echoed
get() {
  local url=$1; shift
  rm -f "$T/body"; : >"$T/body"
  curl -sS -o "$T/body" -D "$T/h" -w '%{http_code}' "$@" "$url"
}
hdr() { grep -i "^$1:" "$T/h" | head -n 1 | cut -d' ' -f2- | tr -d '\r'; }
expect_status() { # want got what
  [ "$2" = "$1" ] || { cat "$T/h" "$T/body" 2>/dev/null | head -n 20; fail "$3: status $2, wanted $1"; }
}
expect_hdr() { # name value what
  local v
  v=$(hdr "$1")
  [ "$v" = "$2" ] || fail "$3: $1 is '$v', wanted '$2'"
}

step "files: content and Content-Type"
check_file() { # path type
  local s
  s=$(get "$G/ipfs/$ROOT/$1")
  expect_status 200 "$s" "$1"
  cmp -s "$T/body" "$D/$1" || fail "$1: content differs"
  expect_hdr Content-Type "$2" "$1"
}
check_file hello.txt "text/plain; charset=utf-8"
check_file page.html "text/html; charset=utf-8"
check_file image.png "image/png"
check_file noext "application/octet-stream"
check_file notes "text/plain; charset=utf-8"
check_file data.json "application/json"
check_file pic.svg "image/svg+xml"
check_file site/style.css "text/css; charset=utf-8"
check_file big.bin "application/octet-stream"
expect_hdr Content-Length $((5 * 1024 * 1024)) "big.bin"
s=$(get "$G/ipfs/$RAWLEAVES")
expect_status 200 "$s" "raw-leaves file"
cmp -s "$T/body" "$T/rawleaves.bin" || fail "raw-leaves file content differs"
# 700 kB is in the body cache's range: the next answers come from memory
s=$(get "$G/ipfs/$RAWLEAVES")
cmp -s "$T/body" "$T/rawleaves.bin" || fail "raw-leaves file content differs (cached)"
expect_hdr Content-Type "application/octet-stream" "cached type"
s=$(get "$G/ipfs/$RAWLEAVES" -H 'Range: bytes=600000-600099')
expect_status 206 "$s" "range of a cached body"
[ "$(wc -c <"$T/body")" = 100 ] && cmp -s -i 600000:0 -n 100 "$T/rawleaves.bin" "$T/body" || fail "cached range content"
expect_hdr Content-Range "bytes 600000-600099/700000" "cached Content-Range"
s=$(get "$G/ipfs/$RAWBLOCK")
expect_status 200 "$s" "raw block"
[ "$(cat "$T/body")" = "a raw block" ] || fail "raw block content"
s=$(get "$G/ipfs/$HELLO")
expect_status 200 "$s" "file by CID"
expect_hdr Content-Type "text/plain; charset=utf-8" "sniffed text"
s=$(get "$G/ipfs/$HELLO?filename=x.html&download=true")
expect_hdr Content-Type "text/html; charset=utf-8" "?filename= type"
expect_hdr Content-Disposition 'attachment; filename="x.html"' "?download=true"

step "headers: cache, ETag, X-Ipfs-*"
s=$(get "$G/ipfs/$ROOT/docs/sub/deep.txt")
expect_status 200 "$s" "deep"
expect_hdr Cache-Control "public, max-age=29030400, immutable" "cache"
expect_hdr X-Ipfs-Path "/ipfs/$ROOT/docs/sub/deep.txt" "X-Ipfs-Path"
roots=$(hdr X-Ipfs-Roots)
[ "$(echo "$roots" | tr ',' '\n' | wc -l)" = 4 ] || fail "X-Ipfs-Roots: $roots"
[ "${roots%%,*}" = "$ROOT" ] || fail "X-Ipfs-Roots starts with $roots"
[ "${roots##*,}" = "$DEEP" ] || fail "X-Ipfs-Roots ends with ${roots##*,}, wanted $DEEP"
expect_hdr Etag "\"$DEEP\"" "Etag"
s=$(get "$G/ipfs/$ROOT/docs/sub/deep.txt" -H "If-None-Match: \"$DEEP\"")
expect_status 304 "$s" "If-None-Match"
[ ! -s "$T/body" ] || fail "304 with a body"
s=$(get "$G/ipfs/$ROOT/docs/sub/deep.txt" -H 'If-None-Match: "other"')
expect_status 200 "$s" "If-None-Match other"

step "symlinks and other codecs"
s=$(get "$G/ipfs/$ROOT/link")
expect_status 200 "$s" "symlink"
[ "$(cat "$T/body")" = "hello.txt" ] || fail "symlink body: $(cat "$T/body")"
expect_hdr X-Ipfs-Symlink true "symlink header"
s=$(get "$G/ipfs/$CBOR")
expect_status 200 "$s" "dag-cbor block"
cmp -s "$T/body" "$T/cbor.bin" || fail "dag-cbor bytes"
expect_hdr Content-Type "application/vnd.ipld.dag-cbor" "dag-cbor type"
s=$(get "$G/ipfs/$CBOR/a")
expect_status 501 "$s" "pathing into dag-cbor"
grep -q "dag-cbor" "$T/body" || fail "501 explanation: $(cat "$T/body")"

step "HEAD"
curl -sS -I -o "$T/h" "$G/ipfs/$ROOT/big.bin" || fail "HEAD"
head -n 1 "$T/h" | grep -q ' 200' || fail "HEAD status: $(head -n 1 "$T/h")"
expect_hdr Content-Length $((5 * 1024 * 1024)) "HEAD Content-Length"
expect_hdr Content-Type "application/octet-stream" "HEAD Content-Type"
# the raw exchange, to see that nothing follows the headers
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'HEAD /ipfs/%s/big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$ROOT" >&3
timeout 10 cat <&3 >"$T/head.raw" || true
exec 3<&-
python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); h, _, b = d.partition(b"\r\n\r\n"); sys.exit(0 if h.startswith(b"HTTP/1.1 200") and b == b"" else 1)' \
  "$T/head.raw" || fail "HEAD: not a 200 with headers only: $(head -c 300 "$T/head.raw")"

step "Range"
s=$(get "$G/ipfs/$ROOT/big.bin" -H 'Range: bytes=0-99')
expect_status 206 "$s" "bytes=0-99"
expect_hdr Content-Range "bytes 0-99/5242880" "bytes=0-99"
head -c 100 "$D/big.bin" | cmp -s - "$T/body" || fail "bytes=0-99 content"
s=$(get "$G/ipfs/$ROOT/big.bin" -H 'Range: bytes=-100')
expect_status 206 "$s" "bytes=-100"
tail -c 100 "$D/big.bin" | cmp -s - "$T/body" || fail "bytes=-100 content"
s=$(get "$G/ipfs/$ROOT/big.bin" -H 'Range: bytes=100-')
expect_status 206 "$s" "bytes=100-"
tail -c +101 "$D/big.bin" | cmp -s - "$T/body" || fail "bytes=100- content"
s=$(get "$G/ipfs/$ROOT/big.bin" -H 'Range: bytes=3000000-3000009')
expect_status 206 "$s" "a middle range"
[ "$(wc -c <"$T/body")" = 10 ] && cmp -s -i 3000000:0 -n 10 "$D/big.bin" "$T/body" || fail "middle range content"
s=$(get "$G/ipfs/$ROOT/big.bin" -H 'Range: bytes=6000000-')
expect_status 416 "$s" "unsatisfiable range"
expect_hdr Content-Range "bytes */5242880" "416"

step "directories"
s=$(get "$G/ipfs/$ROOT/docs")
expect_status 301 "$s" "directory without /"
expect_hdr Location "/ipfs/$ROOT/docs/" "301 Location"
s=$(get "$G/ipfs/$ROOT/docs?filename=x")
expect_hdr Location "/ipfs/$ROOT/docs/?filename=x" "301 keeps the query"
s=$(get "$G/ipfs/$ROOT/docs/")
expect_status 200 "$s" "listing"
expect_hdr Content-Type "text/html; charset=utf-8" "listing type"
grep -q '<a href="a.txt">a.txt</a>' "$T/body" || fail "listing lacks a.txt"
grep -q '<a href="sub">sub</a>' "$T/body" || fail "listing lacks sub"
grep -q 'we&lt;ird&gt; &amp; name.txt' "$T/body" || fail "listing does not escape names"
grep -q 'we%3Cird%3E%20%26%20name.txt' "$T/body" || fail "listing does not escape links"
grep -q '<a href="../">' "$T/body" || fail "listing lacks .."
grep -q '<td class="size">10</td>' "$T/body" || fail "listing lacks the Tsize of a.txt (10)"
hdr Etag | grep -q '^"DirIndex-' || fail "listing Etag: $(hdr Etag)"
s=$(get "$G/ipfs/$ROOT/site/")
expect_status 200 "$s" "index.html"
cmp -s "$T/body" "$D/site/index.html" || fail "index.html content"
expect_hdr Content-Type "text/html; charset=utf-8" "index.html type"
s=$(get "$G/ipfs/$ROOT/docs/nothing-here")
expect_status 404 "$s" "missing name"

step "HAMT directory (3000 entries)"
name="entry-1234-with-a-long-name-so-that-the-directory-gets-sharded.txt"
s=$(get "$G/ipfs/$ROOT/hamt/$name")
expect_status 200 "$s" "HAMT entry"
cmp -s "$T/body" "$D/hamt/$name" || fail "HAMT entry content"
s=$(get "$G/ipfs/$ROOT/hamt/")
expect_status 200 "$s" "HAMT listing"
[ "$(grep -c '<td class="size">' "$T/body")" = 3000 ] || fail "HAMT listing rows: $(grep -c '<td class="size">' "$T/body")"
s=$(get "$G/ipfs/$ROOT/hamt/?format=car&dag-scope=entity")
expect_status 200 "$s" "HAMT entity CAR"
rm -rf "$T/hrepo"; "$ANYA" --repo "$T/hrepo" init >/dev/null
hn=$("$ANYA" --repo "$T/hrepo" car import --pin-roots=false "$T/body" | awk '/^imported/ { print $2 }')
[ "$hn" -gt 2 ] || fail "HAMT entity CAR has $hn blocks: not sharded?"
echo "HAMT: path + $((hn - 1)) shard blocks"

step "?format=raw"
s=$(get "$G/ipfs/$ROOT?format=raw")
expect_status 200 "$s" "raw root"
cmp -s "$T/root.block" "$T/body" || fail "?format=raw differs from anya block get"
expect_hdr Content-Type "application/vnd.ipld.raw" "raw type"
expect_hdr X-Content-Type-Options nosniff "raw nosniff"
expect_hdr Content-Disposition "attachment; filename=\"$ROOT.bin\"" "raw disposition"
expect_hdr Etag "\"$ROOT.raw\"" "raw Etag"
s=$(get "$G/ipfs/$ROOT/hello.txt?format=raw")
expect_status 400 "$s" "raw with a path"
s=$(get "$G/ipfs/$ROOT" -H 'Accept: application/vnd.ipld.raw')
expect_status 200 "$s" "Accept raw"
cmp -s "$T/root.block" "$T/body" || fail "Accept raw differs"
expect_hdr Content-Location "/ipfs/$ROOT?format=raw" "Content-Location"
hdr Vary | grep -qi accept || fail "Vary: Accept missing"

step "?format=car"
car_count() { # repo car [pin] -> blocks imported (pin: the roots are pinned, which walks the whole DAG)
  rm -rf "$1"; "$ANYA" --repo "$1" init >/dev/null
  "$ANYA" --repo "$1" car import --pin-roots="${3:-false}" "$2" | awk '/^imported/ { print $2 }'
}
s=$(get "$G/ipfs/$ROOT?format=car")
expect_status 200 "$s" "car"
expect_hdr Content-Type "application/vnd.ipld.car; version=1; order=dfs; dups=n" "car type"
expect_hdr Content-Disposition "attachment; filename=\"$ROOT.car\"" "car disposition"
expect_hdr X-Content-Type-Options nosniff "car nosniff"
hdr Etag | grep -q "^\"$ROOT.car." || fail "car Etag $(hdr Etag)"
cp "$T/body" "$T/all.car"
cmp -s "$T/all.car" "$T/export.car" || fail "dag-scope=all CAR differs from anya car export"
all=$(car_count "$T/crepo" "$T/all.car" true)
echo "dag-scope=all: $all blocks"
ANYA_REPO="$T/crepo" "$ANYA" cat "$ROOT/big.bin" | cmp -s - "$D/big.bin" || fail "big.bin from the imported CAR"
ANYA_REPO="$T/crepo" "$ANYA" ls "$ROOT" >"$T/ls.crepo"
cmp -s "$T/ls.expected" "$T/ls.crepo" || fail "ls differs after CAR import"
[ "$(ANYA_REPO="$T/crepo" "$ANYA" repo fsck >/dev/null 2>&1; echo $?)" = 0 ] || fail "fsck of the CAR-imported repo"
s=$(get "$G/ipfs/$ROOT/big.bin" -H 'Accept: application/vnd.ipld.car')
expect_status 200 "$s" "Accept car"
expect_hdr Content-Location "/ipfs/$ROOT/big.bin?format=car" "car Content-Location"
big_entity=$(car_count "$T/crepo" "$T/body")
# /big.bin, dag-scope=all: the root block, then the file: 5 MiB in 256 KiB chunks = 20 leaves + its root
[ "$big_entity" = 22 ] || fail "big.bin CAR has $big_entity blocks, wanted 22"
ANYA_REPO="$T/crepo" "$ANYA" cat "$ROOT/big.bin" | cmp -s - "$D/big.bin" || fail "big.bin via path CAR"
s=$(get "$G/ipfs/$ROOT/big.bin?format=car&dag-scope=block")
[ "$(car_count "$T/crepo" "$T/body")" = 2 ] || fail "dag-scope=block: not 2 blocks"
s=$(get "$G/ipfs/$ROOT/big.bin?format=car&dag-scope=entity")
[ "$(car_count "$T/crepo" "$T/body")" = 22 ] || fail "dag-scope=entity: not 22 blocks"
s=$(get "$G/ipfs/$ROOT/docs?format=car&dag-scope=entity")
[ "$(car_count "$T/crepo" "$T/body")" = 2 ] || fail "dag-scope=entity of a directory: not 2 blocks"
s=$(get "$G/ipfs/$ROOT/big.bin?format=car&entity-bytes=300000:600000")
# root dir, file root, leaves 1 and 2 (262144..786431)
[ "$(car_count "$T/crepo" "$T/body")" = 4 ] || fail "entity-bytes: not 4 blocks"
s=$(get "$G/ipfs/$ROOT/big.bin?format=car&entity-bytes=99999999:*")
expect_status 400 "$s" "entity-bytes outside"
s=$(get "$G/ipfs/$ROOT?format=car&dag-scope=nonsense")
expect_status 400 "$s" "bad dag-scope"
s=$(get "$G/ipfs/$ROOT?format=car&car-version=2")
expect_status 400 "$s" "car-version=2"
s=$(get "$G/ipfs/$ROOT" -H 'Accept: application/vnd.ipld.car; version=1; order=dfs; dups=y')
expect_status 200 "$s" "dups=y"
expect_hdr Content-Type "application/vnd.ipld.car; version=1; order=dfs; dups=y" "dups=y type"

step "Accept variants"
s=$(get "$G/ipfs/$ROOT/hello.txt" -H 'Accept: application/x-tar')
expect_status 406 "$s" "Accept tar"
s=$(get "$G/ipfs/$ROOT/hello.txt" -H 'Accept: text/html,application/xhtml+xml,*/*;q=0.8')
expect_status 200 "$s" "browser Accept"
cmp -s "$T/body" "$D/hello.txt" || fail "browser Accept content"
s=$(get "$G/ipfs/$ROOT/hello.txt?format=tar")
expect_status 406 "$s" "format=tar"
s=$(get "$G/ipfs/$ROOT/hello.txt?format=zip")
expect_status 400 "$s" "format=zip"

step "identity probe"
s=$(get "$G/ipfs/bafkqaaa")
expect_status 200 "$s" "bafkqaaa"
[ ! -s "$T/body" ] || fail "bafkqaaa body"
s=$(get "$G/ipfs/bafkqaaa?format=raw")
expect_status 200 "$s" "bafkqaaa raw"
[ ! -s "$T/body" ] || fail "bafkqaaa raw body"
s=$(get "$G/ipfs/bafkqaaa?format=car")
expect_status 200 "$s" "bafkqaaa car"
rm -rf "$T/irepo"; "$ANYA" --repo "$T/irepo" init >/dev/null
"$ANYA" --repo "$T/irepo" car import "$T/body" >"$T/import.out" || fail "bafkqaaa CAR does not import"
grep -q "root bafkqaaa" "$T/import.out" || fail "bafkqaaa CAR root: $(cat "$T/import.out")"

step "errors"
s=$(get "$G/ipfs/not-a-cid")
expect_status 400 "$s" "bad CID"
grep -q "not a valid CID" "$T/body" || fail "bad CID explanation: $(cat "$T/body")"
expect_hdr Content-Type "application/json" "error body type"
s=$(get "$G/ipfs/$MISSING")
expect_status 404 "$s" "missing CID"
s=$(get "$G/ipfs/$MISSING?format=raw")
expect_status 404 "$s" "missing raw"
s=$(get "$G/ipfs/$MISSING?format=car")
expect_status 404 "$s" "missing car"
s=$(get "$G/ipfs/$MISSING" -H 'Cache-Control: only-if-cached')
expect_status 412 "$s" "only-if-cached"
s=$(get "$G/ipns/example.com/x")
expect_status 404 "$s" "ipns"
grep -qi "IPNS" "$T/body" || fail "ipns explanation"
s=$(get "$G/ipfs/$ROOT/hello.txt" -X POST)
expect_status 405 "$s" "POST"
expect_hdr Allow "GET, HEAD" "Allow"
s=$(get "$G/ipfs/$ROOT/hello.txt/deeper")
expect_status 404 "$s" "a path through a file"
s=$(get "$G/ipfs/$ROOT/a%2Fb")
expect_status 400 "$s" "an encoded slash"
s=$(get "$G/")
expect_status 404 "$s" "the root"
s=$(get "$G/ipfs/$ROOT/%ff%fe")
expect_status 404 "$s" "a name that is not UTF-8"
python3 -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$T/body" ||
  fail "the error body is not UTF-8 JSON: $(cat "$T/body")"

step "subdomain gateway"
s=$(get "$G/style.css" -H "Host: $V1.ipfs.localhost:$PORT")
expect_status 200 "$s" "subdomain file"
cmp -s "$T/body" "$D/site/style.css" || fail "subdomain content"
expect_hdr X-Ipfs-Path "/ipfs/$V1/style.css" "subdomain X-Ipfs-Path"
s=$(get "$G/" -H "Host: $V1.ipfs.localhost:$PORT")
expect_status 200 "$s" "subdomain root"
cmp -s "$T/body" "$D/site/index.html" || fail "subdomain index.html"
s=$(get "$G/hello.txt?x=1" -H "Host: $ROOT.ipfs.localhost:$PORT")
expect_status 301 "$s" "subdomain CIDv0"
loc=$(hdr Location)
case "$loc" in
  "http://bafybei"*".ipfs.localhost:$PORT/hello.txt?x=1") ;;
  *) fail "subdomain CIDv0 Location: $loc" ;;
esac
sub=${loc#http://}; sub=${sub%%.ipfs.*}
s=$(get "$G/hello.txt" -H "Host: $sub.ipfs.localhost:$PORT")
expect_status 200 "$s" "the redirected subdomain"
cmp -s "$T/body" "$D/hello.txt" || fail "redirected subdomain content"
s=$(get "$G/" -H "Host: k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8.ipns.localhost:$PORT")
expect_status 404 "$s" "subdomain ipns"

step "a block missing after the 200: the response is aborted"
rc=0
curl -s -o "$T/cut.car" "$G/ipfs/$HOLEY?format=car" || rc=$?
[ "$rc" = 18 ] || fail "CAR with a missing leaf: curl exit $rc, want 18 (transfer closed short)"
rc=0
curl -s -o "$T/cut.bin" "$G/ipfs/$HOLEY" || rc=$?
[ "$rc" = 18 ] || fail "file with a missing leaf: curl exit $rc, want 18"
[ "$(stat -c %s "$T/cut.bin")" -lt $((3 * 262144)) ] || fail "file with a missing leaf came whole"
rc=0
curl -s --http2-prior-knowledge -o /dev/null "$G/ipfs/$HOLEY?format=car" || rc=$?
[ "$rc" = 92 ] || [ "$rc" = 16 ] || fail "HTTP/2 CAR with a missing leaf: curl exit $rc, want a stream error (92/16)"
s=$(get "$G/ipfs/$HOLEY?format=raw")
expect_status 200 "$s" "the root block is still served"
echo "ok: cut-short CAR and file are aborted (HTTP/1.1 and HTTP/2)"

step "server stops cleanly"
kill -TERM "${PIDS[0]}"
wait "${PIDS[0]}" || { tail -n 5 "$T/anyad.err"; fail "anyad exited non-zero on SIGTERM"; }
PIDS=()
echo "gateway: all checks passed"
