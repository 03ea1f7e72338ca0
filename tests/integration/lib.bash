# Shared helpers for integration drivers (sourced).  Each driver runs in its own
# temporary directory, removed on exit; processes it starts are killed by PID.
set -euo pipefail
ANYA=${ANYA:-$PWD/build/bin/anya}
[ -x "$ANYA" ] || { echo "skip: $ANYA not built"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/anya-test.XXXXXX")
export ANYA_REPO="$T/repo"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }
# expect_fail "what" cmd...: the command must exit non-zero with one "anya: " line on stderr.
expect_fail() {
  local what=$1; shift
  if "$@" >"$T/.stdout" 2>"$T/err"; then fail "$what: succeeded"; fi
  [ "$(wc -l <"$T/err")" -eq 1 ] || { cat "$T/err"; fail "$what: stderr is not one line"; }
  grep -q '^anya: ' "$T/err" || { cat "$T/err"; fail "$what: stderr does not start with 'anya: '"; }
  echo "ok (fails as it should): $what: $(cat "$T/err")"
}
# prng_bytes SEED SIZE: SIZE deterministic pseudo-random bytes (AES-CTR keystream) on stdout.
prng_bytes() {
  { openssl enc -aes-128-ctr -K "$(printf '%032x' "$1")" -iv 0 -nosalt -in /dev/zero 2>/dev/null || true; } | head -c "$2"
}
