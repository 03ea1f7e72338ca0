#!/usr/bin/env bash
# `anya config`: init writes the chosen profile as <repo>/config.toml, `config
# show` prints the effective configuration with secrets masked and ${ENV}
# expanded, bad files fail with one line naming file:line:column and the key,
# and `config docs` is docs/configuration.md.
source "$(dirname "$0")/lib.bash"

step "init --profile writes the profile; show prints it"
$ANYA init --profile prod >/dev/null
grep -q '^profile = "prod"$' "$ANYA_REPO/config.toml" || fail "config.toml is not the prod profile"
grep -q '^peer_id = "12D3KooW' "$ANYA_REPO/config.toml" || fail "config.toml lacks the peer id"
$ANYA config show >"$T/show"
grep -q '^format = "json"$' "$T/show" || fail "show: prod logging format missing"
grep -q '^\[identity\]$' "$T/show" || fail "show: identity missing"
if grep -q '^#' "$T/show"; then fail "show prints comments"; fi
$ANYA --repo "$T/dev" init >/dev/null
$ANYA --repo "$T/dev" config show | grep -q '^profile = "dev"$' || fail "default profile is not dev"
expect_fail "unknown profile" $ANYA --repo "$T/staging" init --profile staging

step "secrets are masked, \${ENV} is expanded"
sed -i 's/^rpc_token = "".*/rpc_token = "${ANYA_TEST_TOKEN}"/' "$T/dev/config.toml"
grep -q '^rpc_token = "\${ANYA_TEST_TOKEN}"$' "$T/dev/config.toml" || fail "could not set the token"
ANYA_TEST_TOKEN=hunter2 $ANYA --repo "$T/dev" config show >"$T/show"
grep -q '^rpc_token = "\*\*\*\*\*\*\*\*"$' "$T/show" || fail "secret not masked"
if grep -q hunter2 "$T/show"; then fail "secret printed"; fi
expect_fail "unset variable" env -u ANYA_TEST_TOKEN $ANYA --repo "$T/dev" config show
grep -q 'config.toml:.*security.rpc_token: environment variable ANYA_TEST_TOKEN is not set' "$T/err" || fail "message: $(cat "$T/err")"

step "bad files fail with the place and the key"
printf '[storage]\nmaxx = "1GiB"\n' >"$T/dev/config.toml"
expect_fail "unknown key" $ANYA --repo "$T/dev" config show
grep -q "config.toml:2:1: unknown key 'storage.maxx' (did you mean 'storage.max'?)" "$T/err" || fail "message: $(cat "$T/err")"
printf '[storage]\nmax = 10GiB\n' >"$T/dev/config.toml"
expect_fail "unquoted size" $ANYA --repo "$T/dev" config show
grep -q "config.toml:2:7: invalid number '10GiB' (strings need quotes) (key 'storage.max')" "$T/err" || fail "message: $(cat "$T/err")"
expect_fail "no repository" $ANYA --repo "$T/none" config show
expect_fail "unknown subcommand" $ANYA config frob

step "defaults and docs"
$ANYA config show --defaults >"$T/defaults"
grep -q '^max = "10GiB"$' "$T/defaults" || fail "defaults: storage.max"
grep -q '^# ' "$T/defaults" || fail "defaults: no descriptions"
$ANYA config docs | cmp - docs/configuration.md || fail "config docs differs from docs/configuration.md"
step "logging.slow_operation: a command holding the repository longer is logged at warn"
$ANYA --repo "$T/slow" init >/dev/null
printf '[logging]\nslow_operation = "1ms"\nformat = "json"\n' >"$T/slow/config.toml"
prng_bytes 3 5000000 | $ANYA --repo "$T/slow" add -Q >/dev/null 2>"$T/slow.err"
grep -q '"msg":"slow operation".*"command":"anya add"' "$T/slow.err" || { cat "$T/slow.err"; fail "no slow operation record"; }
printf '[logging]\nslow_operation = "0"\n' >"$T/slow/config.toml"
prng_bytes 4 5000000 | $ANYA --repo "$T/slow" add -Q >/dev/null 2>"$T/slow.err"
[ ! -s "$T/slow.err" ] || { cat "$T/slow.err"; fail "slow_operation = 0 still logs"; }
echo "config: ok"
