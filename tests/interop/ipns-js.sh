#!/usr/bin/env bash
# IPNS records both ways with Helia's own record code (@helia/ipns 10.1.0:
# createIPNSRecord, ipnsValidator; tests/interop/ipns-js.mjs is the JS side,
# build/interop/check_ipns ours):
#  1. byte for byte: from the same key, value, sequence, validity and TTL our
#     record is the record @helia/ipns makes (Ed25519 signatures are
#     deterministic), the fixed vector of tests/unit/test_ipns.c included;
#  2. records @helia/ipns made (V1+V2, V2-only, extra data keys, /ipns/ and
#     path values, a big sequence) validate here with the same fields;
#  3. ours validate with ipnsValidator and unmarshal to the same fields;
#  4. tampered records, expired ones and records checked against another
#     name are refused on both sides.
# Names over the DHT with Helia: tests/interop/ipns-dht.sh.
# Exit 0 pass, 77 skip (node/npm missing or the registry unreachable), else fail.
source "$(dirname "$0")/lib.bash"
CHECK="$BUILD/interop/check_ipns"
[ -x "$CHECK" ] || { echo "FAIL: $CHECK is not built"; exit 1; }
npm_oracle libp2p libp2p 3.3.11 libp2p@3.3.11 @chainsafe/libp2p-noise@17.0.0 @chainsafe/libp2p-yamux@8.0.1 \
  @libp2p/tcp@11.0.28 @libp2p/identify@4.1.14 @libp2p/ping@3.1.13 @libp2p/kad-dht@16.4.5 helia@7.1.15 \
  @helia/unixfs@8.0.5 @helia/ipns@10.1.0 @libp2p/crypto@5.1.23 @libp2p/peer-id@6.0.15 \
  @multiformats/multiaddr multiformats

# ESM resolves packages from the script's own directory: run a copy there.
ORACLE="$NPM_DIR/ipns-js-$$.mjs"
trap 'rm -f "$ORACLE"' EXIT
cp "$ROOT/tests/interop/ipns-js.mjs" "$ORACLE"
js() { node "$ORACLE" "$@"; }
field() { node -e 'const o = JSON.parse(process.argv[1]); console.log(o[process.argv[2]])' "$1" "$2"; }
fail() { echo "FAIL: $*"; exit 1; }
checks=0

echo "--- 1. the same bytes"
vector=$(js vector)
ours=$("$CHECK" create 0 /ipfs/bafkqaaa 3 "$(date -d 2030-01-02T03:04:05.678Z +%s%3N)" 300000000000)
[ "$vector" = "$ours" ] || fail "the fixed vector differs: js $vector, ours $ours"
grep -q "${vector:0:96}" "$ROOT/tests/unit/test_ipns.c" || fail "test_ipns.c holds another vector than @helia/ipns makes"
checks=$((checks + 1))
now=$(date +%s%3N)
for args in "7 /ipfs/bafkqaalb 1 $now 3600000 300000000000" \
            "8 /ipfs/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/a/b%20c 18446744073709551615 $now 172800000 1" \
            "9 /ipns/k51qzi5uqu5dhnwe629wdlncpql6frppdpwnz4wtlcw816aysd5wwlk63g4wmh 0 $now 60000 0"; do
  set -- $args
  j=$(js make "$@")
  mine=$("$CHECK" create "$1" "$(field "$j" value)" "$3" $(($4 + $5)) "$6")
  [ "$(field "$j" record)" = "$mine" ] || fail "make $args: js $(field "$j" record), ours $mine"
  checks=$((checks + 1))
done

echo "--- 2. @helia/ipns records validate here"
for variant in "" extra v2only; do
  for value in /ipfs/QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH /ipfs/bafkqaalb/x/y \
               /ipns/k51qzi5uqu5dhnwe629wdlncpql6frppdpwnz4wtlcw816aysd5wwlk63g4wmh; do
    j=$(js make 5 "$value" 42 "$now" 3600000 300000000000 $variant)
    got=$("$CHECK" validate "$(field "$j" name)" "$(field "$j" record)") || fail "ours refuses @helia/ipns's $variant record for $value: $got"
    [ "$(field "$got" value)" = "$(field "$j" value)" ] || fail "value: $got vs $j"
    [ "$(field "$got" sequence)" = 42 ] || fail "sequence: $got"
    [ "$(field "$got" ttl_ns)" = 300000000000 ] || fail "ttl: $got"
    [ "$(field "$got" validity_ms)" = $((now + 3600000)) ] || fail "validity: $got (js $(field "$j" validity))"
    checks=$((checks + 1))
  done
done

echo "--- 3. ours validate with ipnsValidator"
name9=$("$CHECK" name 9)
for value in /ipfs/bafkqaalb /ipfs/QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH/sub/file.txt "/ipns/$name9"; do
  rec=$("$CHECK" create 9 "$value" 12345 $((now + 7200000)) 60000000000)
  got=$(js check "$name9" "$rec") || fail "ipnsValidator refuses our record for $value"
  for pair in "value:$value" "sequence:12345" "ttl:60000000000" "validityType:EOL" "hasPublicKey:false" "hasSignatureV1:true"; do
    [ "$(field "$got" "${pair%%:*}")" = "${pair#*:}" ] || fail "${pair%%:*} of our record per @helia/ipns: $got"
  done
  node -e 'const o = JSON.parse(process.argv[1]);
    const d = o.data;
    if (d.Value !== o.value || d.Validity !== o.validity || d.ValidityType !== 0 || d.Sequence !== o.sequence || d.TTL !== o.ttl) process.exit(1);
    if (o.dataKeys.sort().join() !== "TTL,Sequence,Validity,ValidityType,Value".split(",").sort().join()) process.exit(1);' "$got" ||
    fail "V1 and data fields disagree per @helia/ipns: $got"
  checks=$((checks + 1))
done

echo "--- 4. refusals on both sides"
j=$(js make 5 /ipfs/bafkqaalb 1 "$now" 3600000 300000000000)
jrec=$(field "$j" record)
flip_last() { local h=$1 c=${1: -1}; printf '%s%s' "${h%?}" "$([ "$c" = 1 ] && echo 0 || echo 1)"; }
flip_at() { local h=$1 i=$2 c=${1:$2:1}; printf '%s%s%s' "${h:0:$i}" "$([ "$c" = a ] && echo b || echo a)" "${h:$((i + 1))}"; }
if "$CHECK" validate "$(field "$j" name)" "$(flip_last "$jrec")" >/dev/null 2>&1; then fail "ours accepts tampered data"; fi
if "$CHECK" validate "$(field "$j" name)" "$(flip_at "$jrec" 10)" >/dev/null 2>&1; then fail "ours accepts a tampered V1 value"; fi
if "$CHECK" validate "$name9" "$jrec" >/dev/null 2>&1; then fail "ours accepts a record for another name"; fi
old=$(js make 5 /ipfs/bafkqaalb 1 $((now - 7200000)) 3600000 300000000000)
if "$CHECK" validate "$(field "$old" name)" "$(field "$old" record)" >/dev/null 2>&1; then fail "ours accepts an expired record"; fi
rec=$("$CHECK" create 9 /ipfs/bafkqaalb 1 $((now + 3600000)) 1)
if js check "$name9" "$(flip_last "$rec")" >/dev/null 2>&1; then fail "ipnsValidator accepts our tampered record"; fi
if js check "$name9" "$(flip_at "$rec" 10)" >/dev/null 2>&1; then fail "ipnsValidator accepts our record with a tampered V1 value"; fi
if js check "$(field "$j" name)" "$rec" >/dev/null 2>&1; then fail "ipnsValidator accepts our record for another name"; fi
rec=$("$CHECK" create 9 /ipfs/bafkqaalb 1 $((now - 1000)) 1)
if js check "$name9" "$rec" >/dev/null 2>&1; then fail "ipnsValidator accepts our expired record"; fi
checks=$((checks + 8))
echo "ipns-js: $checks checks passed"
