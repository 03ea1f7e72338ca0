#!/usr/bin/env bash
# The Anya protocols end to end: `anya dwn key new`, `anya dwn protocol
# install` of rgb-asset and bitcoin-transaction (packaging/dwn, found next to
# the executable), then record writes signed by dwn-sdk-js 0.5.2
# (dwn-protocols.mjs) processed by `anya dwn process`: valid data of each type
# is accepted (202); invalid data gets 400 AnyaDataSchemaInvalid naming the
# instance path and keyword (inline data and data in the block engine); the
# same invalid data under an unregistered schema is accepted as the SDK would;
# Protocols.Query lists the installed definitions (anonymous callers see them
# too: published); `anya dwn schema ls`; the tenant gate (`anya dwn tenant
# add|rm|ls`): a DID outside a non-empty allow-list gets 401.  The SDK is the
# oracle: a Dwn of dwn-sdk-js processes the same definitions and writes, and
# every Anya status must equal the SDK's except AnyaDataSchemaInvalid (where
# the SDK, which never looks at record data, says 202).
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/dwn-lib.bash"
dwn_oracle

T=$(mktemp -d "${TMPDIR:-/tmp}/anya-dwn-protocols.XXXXXX")
trap 'rm -rf "$T"' EXIT
export ANYA_REPO="$T/repo"
unset ANYA_PACKAGING_DIR
fail() { echo "FAIL: $*" >&2; exit 1; }
"$ANYA" init >/dev/null
tenant=$("$ANYA" dwn key new -o "$T/tenant.jwk") || fail "key new"
other=$("$ANYA" dwn key new -o "$T/other.jwk") || fail "key new (other)"

echo "--- protocol install"
for name in rgb-asset bitcoin-transaction; do
  r=$("$ANYA" dwn protocol install "$name" --tenant "$tenant" --key "$T/tenant.jwk") || fail "install $name"
  [ "$r" = '{"status":{"code":202,"detail":"Accepted"}}' ] || fail "install $name: $r"
done
if "$ANYA" dwn protocol install no-such-protocol --tenant "$tenant" --key "$T/tenant.jwk" 2>"$T/err"; then
  fail "unknown protocol installed"
fi
grep -q 'no-such-protocol.json' "$T/err" || fail "unknown protocol: $(cat "$T/err")"
# installing with someone else's key is the DWN's 401, and registers nothing more
r=$("$ANYA" dwn protocol install rgb-asset --tenant "$tenant" --key "$T/other.jwk") || fail "install with another key"
echo "$r" | grep -q '"code":401' || fail "install signed by a non-owner: $r"
"$ANYA" dwn schema ls >"$T/schemas" || fail "schema ls"
diff - "$T/schemas" <<'LIST' || fail "schema ls differs"
https://anya.io/schemas/bitcoin-transaction/block
https://anya.io/schemas/bitcoin-transaction/transaction
https://anya.io/schemas/rgb-asset/asset
https://anya.io/schemas/rgb-asset/transfer
LIST

node "$ROOT/tests/interop/dwn-protocols.mjs" "$NPM_DIR" "$T" "$ROOT/packaging/dwn" "$T/tenant.jwk" "$tenant" ||
  fail "message generator (or the SDK refused a packaged definition)"
reply() { "$ANYA" dwn process --tenant "$tenant" "$@"; }
sdk_code() { node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(c[process.argv[2]] ?? "none")' "$T/sdk-codes.json" "$1"; }
for name in configure-rgb-asset configure-bitcoin-transaction; do
  [ "$(sdk_code "$name")" = 202 ] || fail "the SDK refused the packaged definition ($name): $(sdk_code "$name")"
done
expect() { # name code [detail]: Anya's reply; the SDK answers the same, or 202 where Anya's is AnyaDataSchemaInvalid
  local r sdk
  r=$(reply --data "$T/$1.data" <"$T/$1.json") || fail "process $1"
  echo "$r" | grep -qF "\"code\":$2" || fail "$1: want $2, got $r"
  if [ -n "${3:-}" ]; then echo "$r" | grep -qF "\"detail\":\"$3\"" || fail "$1: want detail '$3', got $r"; fi
  sdk=$(sdk_code "$1")
  case "${3:-}" in
    AnyaDataSchemaInvalid*) [ "$sdk" = 202 ] || fail "$1: the SDK answers $sdk, not 202" ;;
    *) [ "$sdk" = "$2" ] || fail "$1: the SDK answers $sdk, Anya $2" ;;
  esac
  echo "ok $1 $2 (SDK $sdk)"
}

# a pin policy for the bitcoin protocol's data (source "dwn"): the large
# transaction's data (in the block engine) gets pinned under it
printf '\n[[pinning.policy]]\nname = "btc"\nsource = "dwn"\ndwn_protocol = "https://anya.io/protocols/bitcoin-transaction"\nkeep_last = 10\n' >>"$ANYA_REPO/config.toml"
echo "--- record writes"
expect asset-valid 202
expect asset-invalid 400 'AnyaDataSchemaInvalid: /ticker: pattern: does not match ^[A-Z][A-Z0-9]{1,7}$'
expect transfer-valid 202
expect transfer-invalid 400 'AnyaDataSchemaInvalid: /amount: pattern: does not match ^[1-9][0-9]{0,19}$'
expect tx-valid 202
expect tx-invalid 400 'AnyaDataSchemaInvalid: /outputs/1/value: type: must be integer'
expect tx-big-valid 202
expect tx-big-invalid 400 'AnyaDataSchemaInvalid: /hex: pattern: does not match ^([0-9a-f]{2})+$'
expect block-valid 202
expect block-invalid 400 'AnyaDataSchemaInvalid: /height: minimum: -1 < 0'
expect flat-registered-invalid 400 'AnyaDataSchemaInvalid: /ticker: pattern: does not match ^[A-Z][A-Z0-9]{1,7}$'
expect flat-unregistered-invalid 202
echo "--- the dwn pin policy holds the large transaction's data, and only it"
"$ANYA" pin policy ls >"$T/policy.out"
grep -q '^btc source=dwn dwn_protocol=https://anya.io/protocols/bitcoin-transaction pin=true keep_last=10: 1 pin$' "$T/policy.out" ||
  fail "pin policy ls: $(cat "$T/policy.out")"
grep -q '^  [a-z0-9]* recursive btc/bafyrei' "$T/policy.out" || fail "the pin is not named btc/<recordId>: $(cat "$T/policy.out")"
expect flat-registered-text 202
r=$(reply --data "$T/flat-registered-notjson.data" <"$T/flat-registered-notjson.json")
echo "$r" | grep -qF '"code":400,"detail":"AnyaDataSchemaInvalid: (root): data is not JSON' || fail "not JSON: $r"
[ "$(sdk_code flat-registered-notjson)" = 202 ] || fail "flat-registered-notjson: the SDK answers $(sdk_code flat-registered-notjson)"

echo "--- queries"
r=$(reply <"$T/records-query.json")
[ "$(echo "$r" | grep -o '"recordId"' | wc -l)" -eq 2 ] || fail "records query (asset + transfer): $r"
for q in protocols-query protocols-query-anonymous; do
  r=$(reply <"$T/$q.json")
  echo "$r" | grep -q '"code":200' || fail "$q: $r"
  echo "$r" | grep -qF '"protocol":"https://anya.io/protocols/rgb-asset"' || fail "$q: no rgb-asset: $r"
  echo "$r" | grep -qF '"schema":"https://anya.io/schemas/rgb-asset/transfer"' || fail "$q: no transfer type: $r"
done
r=$(reply <"$T/protocols-query.json")
echo "$r" | grep -qF '"protocol":"https://anya.io/protocols/bitcoin-transaction"' || fail "owner query: no bitcoin-transaction: $r"
[ "$(echo "$r" | grep -o '"method":"Configure"' | wc -l)" -eq 2 ] || fail "owner query: want 2 definitions: $r"
[ "$(sdk_code protocols-query-entries)" = 2 ] && [ "$(sdk_code protocols-query-anonymous-entries)" = 1 ] ||
  fail "the SDK's protocol queries: $(cat "$T/sdk-codes.json")"
r=$(reply <"$T/protocols-query-anonymous.json")
[ "$(echo "$r" | grep -o '"method":"Configure"' | wc -l)" -eq 1 ] || fail "anonymous query (filter rgb-asset): want 1 definition: $r"

echo "--- schema registry by hand"
echo '{"type":"object","required":["n"]}' >"$T/s.json"
"$ANYA" dwn schema add example.com/schemas/unregistered "$T/s.json" | grep -qx 'schema http://example.com/schemas/unregistered' ||
  fail "schema add normalises"
echo '{"type":"object","if":true}' >"$T/bad.json"
if "$ANYA" dwn schema add https://example.com/bad "$T/bad.json" 2>"$T/err"; then fail "unknown keyword registered"; fi
grep -q "unknown keyword 'if'" "$T/err" || fail "unknown keyword: $(cat "$T/err")"
[ "$("$ANYA" dwn schema ls | wc -l)" -eq 5 ] || fail "schema ls after add"
"$ANYA" dwn schema rm http://example.com/schemas/unregistered >/dev/null || fail "schema rm"
[ "$("$ANYA" dwn schema ls | wc -l)" -eq 4 ] || fail "schema ls after rm"

echo "--- tenant gate"
[ -z "$("$ANYA" dwn tenant ls)" ] || fail "tenant list not empty at first"
"$ANYA" dwn tenant add "$tenant" >/dev/null || fail "tenant add"
"$ANYA" dwn tenant add "$tenant" >/dev/null || fail "tenant add twice"
[ "$("$ANYA" dwn tenant ls)" = "$tenant" ] || fail "tenant ls: $("$ANYA" dwn tenant ls)"
r=$(reply <"$T/protocols-query.json")
echo "$r" | grep -q '"code":200' || fail "listed tenant refused: $r"
r=$("$ANYA" dwn process --tenant "$other" <"$T/protocols-query-anonymous.json")
[ "$r" = "{\"status\":{\"code\":401,\"detail\":\"DID $other is not an active tenant.\"}}" ] || fail "gate: $r"
if "$ANYA" dwn tenant add not-a-did 2>/dev/null; then fail "tenant add accepted a non-DID"; fi
if "$ANYA" dwn tenant rm "$other" 2>/dev/null; then fail "tenant rm of an absent DID"; fi
"$ANYA" dwn tenant rm "$tenant" >/dev/null || fail "tenant rm"
[ -z "$("$ANYA" dwn tenant ls)" ] || fail "tenant list not empty after rm"
r=$("$ANYA" dwn process --tenant "$other" <"$T/protocols-query-anonymous.json")
echo "$r" | grep -q '"code":200' || fail "open gate refused $other: $r"
echo "dwn-protocols: all checks passed"
