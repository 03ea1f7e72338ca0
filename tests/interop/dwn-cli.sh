#!/usr/bin/env bash
# `anya dwn process` and `anya dwn key new` end to end on a repository, with
# messages signed by dwn-sdk-js 0.5.2 (dwn-cli.mjs): a record above the inline
# limit lands in the block engine and survives `anya repo gc` (the message
# store's data references are GC roots), reads return the exact bytes, a
# query lists both records, fsck stays clean; bad input gets one error line or
# a DWN 400 reply; keys are written 0600 and never overwritten.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/dwn-lib.bash"
dwn_oracle

T=$(mktemp -d "${TMPDIR:-/tmp}/anya-dwn-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
export ANYA_REPO="$T/repo"
fail() { echo "FAIL: $*" >&2; exit 1; }
"$ANYA" init >/dev/null
node "$ROOT/tests/interop/dwn-cli.mjs" "$NPM_DIR" "$T" || fail "message generator"
tenant=$(cat "$T/tenant.txt")
reply() { "$ANYA" dwn process --tenant "$tenant" "$@"; }

for name in big small; do
  r=$(reply --data "$T/$name.bin" <"$T/$name-write.json") || fail "process $name write"
  echo "$r" | grep -q '"status":{"code":202,"detail":"Accepted"}' || fail "$name write: $r"
done
echo "--- records written; collecting garbage"
"$ANYA" repo gc >/dev/null || fail "repo gc"
"$ANYA" repo fsck >/dev/null || fail "fsck after gc"
for name in big small; do
  r=$(reply -o "$T/$name.out" <"$T/$name-read.json") || fail "process $name read"
  echo "$r" | grep -q '"code":200' || fail "$name read: $r"
  cmp "$T/$name.bin" "$T/$name.out" || fail "$name: data read back differs (after gc)"
done
r=$(reply <"$T/query.json")
[ "$(echo "$r" | grep -o '"recordId"' | wc -l)" -eq 2 ] || fail "query: $r"
echo "--- bad input"
if echo '{' | "$ANYA" dwn process --tenant "$tenant" >/dev/null 2>"$T/err"; then fail "broken JSON accepted"; fi
[ "$(wc -l <"$T/err")" -eq 1 ] && grep -q '^anya: ' "$T/err" || fail "broken JSON: $(cat "$T/err")"
r=$(echo '{}' | reply) || fail "empty message: no reply"
echo "$r" | grep -q '"code":400,"detail":"Both interface and method must be present' || fail "empty message: $r"
if "$ANYA" dwn process <"$T/query.json" 2>"$T/err"; then fail "no --tenant accepted"; fi
echo "--- keys"
did=$("$ANYA" dwn key new -o "$T/k.jwk") || fail "key new"
[[ $did == did:key:z6Mk* ]] || fail "key new printed '$did'"
[ "$(stat -c %a "$T/k.jwk")" = 600 ] || fail "key file mode $(stat -c %a "$T/k.jwk")"
grep -q '"d":' "$T/k.jwk" || fail "no private part in the key file"
if "$ANYA" dwn key new -o "$T/k.jwk" 2>/dev/null; then fail "key new overwrote a key"; fi
did2=$("$ANYA" dwn key new --curve secp256k1 -o "$T/k2.jwk") || fail "secp256k1 key"
[[ $did2 == did:key:zQ3s* ]] || fail "secp256k1 key printed '$did2'"
echo "dwn-cli: all checks passed"
