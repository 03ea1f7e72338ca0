# Shared by the interop drivers (sourced): where things are, and the install of
# the JS oracles from npm (exact versions, no lockfile, into build/npm/NAME).
set -u
ROOT=${ANYA_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${ANYA_BUILD:-$ROOT/build}
ANYA=${ANYA:-$BUILD/bin/anya}
command -v node >/dev/null 2>&1 || { echo "skip: node is not installed"; exit 77; }
command -v npm >/dev/null 2>&1 || { echo "skip: npm is not installed"; exit 77; }
[ -x "$ANYA" ] || { echo "FAIL: $ANYA is not built"; exit 1; }

# The packages are JavaScript, the same for every build of the C code (the
# sanitizer build shares them): build/npm of the tree unless ANYA_NPM_ROOT says.
NPM_ROOT=${ANYA_NPM_ROOT:-$ROOT/build/npm}
# npm_oracle NAME PROBE_PACKAGE PROBE_VERSION PACKAGE@VERSION...
# Installs the packages into $NPM_ROOT/NAME (sets NPM_DIR) unless PROBE_PACKAGE
# is already there at PROBE_VERSION.  Runs sharing a build directory install one
# at a time.  When npm cannot install (registry unreachable), the test is skipped.
npm_oracle() {
  local name=$1 probe=$2 version=$3
  shift 3
  NPM_DIR="$NPM_ROOT/$name"
  mkdir -p "$NPM_DIR"
  local probe_json="$NPM_DIR/node_modules/$probe/package.json"
  if ! (
    flock 9
    [ -f "$probe_json" ] && grep -q "\"version\": \"$version\"" "$probe_json" && exit 0
    echo "{\"name\": \"anya-$name\", \"private\": true, \"type\": \"module\"}" >"$NPM_DIR/package.json"
    cd "$NPM_DIR" && npm install --no-package-lock --no-audit --no-fund --silent "$@" >"$NPM_DIR/install.log" 2>&1
  ) 9>"$NPM_DIR/.lock"; then
    tail -n 5 "$NPM_DIR/install.log"
    echo "skip: npm install $* failed (registry unreachable?)"
    exit 77
  fi
}
