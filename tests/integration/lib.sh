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
