#!/usr/bin/env bash
# The trustless gateway against @helia/verified-fetch (gateway-verified-fetch.mjs), configured to
# use only our gateway (no libp2p, no delegated routing): verified-fetch checks every block it
# receives against its CID, so each byte-equal result below is a proof that the gateway served
# verifiable blocks:
#   1. a raw block (Accept: application/vnd.ipld.raw) equals `anya block get`;
#   2. a multi-block UnixFS file (CIDv0, 700 kB) equals the file;
#   3. a file under a directory path, and a directory's index.html through its path;
#   4. a CAR (Accept: application/vnd.ipld.car) of the tree, imported by `anya car import` into a
#      fresh repository, gives the same tree back.
# Exit 0 pass, 77 skip (node/npm missing or the registry unreachable), else fail.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/../anyad-lib.bash"
# 4.0.3: the newest release whose dependency tree loads on Debian 12's node (20): 8.x needs
# @helia/libp2p, whose @libp2p/http >= 2.0.2 brings undici 8 (node >= 22.19, zstd in zlib).  With
# 4.0.3, @libp2p/http 2.0.1 (undici 7) and @libp2p/websockets 10.1.20 (no undici) are pinned so the
# newer ones (undici 8) are not picked.
VF_VERSION=4.0.3
npm_oracle verified-fetch @helia/verified-fetch "$VF_VERSION" "@helia/verified-fetch@$VF_VERSION" \
  @helia/http@3.1.1 @helia/block-brokers@5.2.4 @helia/routers@5.1.1 @libp2p/http@2.0.1 \
  @libp2p/websockets@10.1.20

fail() { echo "FAIL: $*"; exit 1; }
command -v curl >/dev/null || fail "curl is missing: run make deps"
WORK=$(mktemp -d "$BUILD/vf-interop.XXXXXX")
ORACLE="$NPM_DIR/oracle-$(basename "$WORK").mjs"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
  rm -rf "$WORK" "$ORACLE"
}
trap cleanup EXIT
cp "$ROOT/tests/interop/gateway-verified-fetch.mjs" "$ORACLE"
export ANYA_REPO="$WORK/repo"
"$ANYA" init >/dev/null || fail "anya init"

gen() { # gen SEED BYTES FILE
  { openssl enc -aes-128-ctr -K "$(printf '%032x' "$1")" -iv 0 -nosalt -in /dev/zero 2>/dev/null || true; } |
    head -c "$2" >"$3"
}
D="$WORK/tree"
mkdir -p "$D/docs/sub" "$D/site"
gen 1 700000 "$D/big.bin"
printf 'deep\n' >"$D/docs/sub/deep.txt"
printf '<html><body>site index</body></html>\n' >"$D/site/index.html"
ROOT_CID=$("$ANYA" add -Q -r "$D") || fail "anya add"
FILE=$("$ANYA" add -Q -n "$D/big.bin")
RAW=$(printf 'a raw block\n' | "$ANYA" add -Q --cid-version 1 -)
"$ANYA" block get "$RAW" >"$WORK/raw.expected"

echo "--- the gateway (anyad --mount off)"
ANYAD="$BUILD/bin/anyad"
[ -x "$ANYAD" ] || fail "$ANYAD is not built"
: >"$WORK/anyad.err"
"$ANYAD" --repo "$ANYA_REPO" --mount off --p2p off --foreground --dwn off --rpc off --gateway 127.0.0.1:0 \
  2>"$WORK/anyad.err" &
PIDS+=($!)
PORT=$(anyad_wait_listener "${PIDS[0]}" "$WORK/anyad.err" gateway) || { cat "$WORK/anyad.err"; fail "the gateway did not start"; }
G="http://127.0.0.1:$PORT"

echo "--- verified-fetch $VF_VERSION -> $G"
mkdir -p "$WORK/out"
timeout 300 node "$ORACLE" "$G" "$WORK/out" \
  "raw=ipfs://$RAW|application/vnd.ipld.raw" \
  "file=ipfs://$FILE" \
  "deep=ipfs://$ROOT_CID/docs/sub/deep.txt" \
  "site=ipfs://$ROOT_CID/site/" \
  "car=ipfs://$ROOT_CID|application/vnd.ipld.car" >"$WORK/fetch.out" 2>"$WORK/fetch.err"
rc=$?
cat "$WORK/fetch.out"
[ $rc = 0 ] || { tail -n 20 "$WORK/fetch.err"; fail "verified-fetch failed (exit $rc)"; }
for name in raw file deep site car; do
  grep -q "^$name 200 " "$WORK/fetch.out" || fail "$name: not 200"
done
cmp -s "$WORK/out/raw" "$WORK/raw.expected" || fail "raw block differs from anya block get"
cmp -s "$WORK/out/file" "$D/big.bin" || fail "file differs"
cmp -s "$WORK/out/deep" "$D/docs/sub/deep.txt" || fail "directory path differs"
cmp -s "$WORK/out/site" "$D/site/index.html" || fail "index.html differs"
export ANYA_REPO="$WORK/repo2"
"$ANYA" init >/dev/null
"$ANYA" car import "$WORK/out/car" || fail "the CAR from verified-fetch does not import"
"$ANYA" cat "$ROOT_CID/big.bin" | cmp -s - "$D/big.bin" || fail "big.bin from the CAR"
"$ANYA" cat "$ROOT_CID/docs/sub/deep.txt" | cmp -s - "$D/docs/sub/deep.txt" || fail "deep.txt from the CAR"
echo "verified-fetch: all checks passed"
