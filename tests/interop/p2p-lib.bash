# Shared by the libp2p interop drivers (sourced after lib.bash's location): the
# one npm package set every libp2p test installs (build/npm/libp2p, installed
# once), anyad with its p2p listener on a port the kernel picks, and JS node
# scripts started and stopped by their PID.
#   p2p_npm                       installs the packages (sets NPM_DIR) or skips (77), and puts
#                                 helia-lib.mjs there for the Helia scripts
#   p2p_oracle SCRIPT             copies tests/interop/SCRIPT into NPM_DIR (ESM resolves
#                                 packages from the script's directory); prints the copy's path
#   p2p_anyad_start REPO LOG [ARGS...]
#                                 anyad --mount off, --p2p /ip4/127.0.0.1/tcp/0, --rpc
#                                 127.0.0.1:0, dwn and gateway off (ARGS come later and win);
#                                 sets ANYAD_PID and P2P_ADDR (multiaddr with /p2p/<id>)
#   p2p_js_start OUT SCRIPT ARGS...
#                                 node SCRIPT ARGS in the background, stdout to OUT; waits
#                                 (up to 60 s) for a line "listening <multiaddr>" and sets
#                                 JS_PID and JS_ADDR
#   p2p_stop_all                  SIGTERM to every process started here (the caller's trap)
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
source "$(dirname "${BASH_SOURCE[0]}")/../anyad-lib.bash"

P2P_PIDS=()
P2P_COPIES=()

p2p_npm() {
  npm_oracle libp2p libp2p 3.3.11 libp2p@3.3.11 @chainsafe/libp2p-noise@17.0.0 @chainsafe/libp2p-yamux@8.0.1 \
    @libp2p/tcp@11.0.28 @libp2p/identify@4.1.14 @libp2p/ping@3.1.13 @libp2p/kad-dht@16.4.5 helia@7.1.15 \
    @helia/unixfs@8.0.5 @helia/ipns@10.1.0 @libp2p/crypto@5.1.23 @libp2p/peer-id@6.0.15 \
    @multiformats/multiaddr multiformats
  # the scripts' shared Helia set-up, beside their copies (atomically: tests run at once)
  cp "$ROOT/tests/interop/helia-lib.mjs" "$NPM_DIR/helia-lib.mjs.$$" && mv -f "$NPM_DIR/helia-lib.mjs.$$" "$NPM_DIR/helia-lib.mjs"
}

p2p_oracle() {
  local copy
  copy=$(mktemp "$NPM_DIR/oracle-${1%.mjs}.XXXXXX.mjs")
  cp "$ROOT/tests/interop/$1" "$copy"
  P2P_COPIES+=("$copy")
  echo "$copy"
}

p2p_anyad_start() {
  local repo=$1 log=$2
  shift 2
  local anyad="$BUILD/bin/anyad"
  [ -x "$anyad" ] || { echo "FAIL: $anyad is not built"; exit 1; }
  [ -d "$repo" ] || ANYA_REPO="$repo" "$ANYA" init >/dev/null || { echo "FAIL: anya init $repo"; exit 1; }
  "$anyad" --repo "$repo" --mount off --dwn off --gateway off --rpc 127.0.0.1:0 --p2p /ip4/127.0.0.1/tcp/0 \
    --foreground "$@" 2>"$log" &
  ANYAD_PID=$!
  P2P_PIDS+=("$ANYAD_PID")
  P2P_ADDR=
  local _
  for _ in $(seq 200); do
    P2P_ADDR=$(anyad_listener_addr "$log" p2p)
    [ -n "$P2P_ADDR" ] && [ -f "$repo/api" ] && return 0
    kill -0 "$ANYAD_PID" 2>/dev/null || break
    sleep 0.05
  done
  cat "$log"
  echo "FAIL: anyad did not start its p2p and rpc listeners"
  exit 1
}

p2p_js_start() {
  local out=$1
  shift
  : >"$out"
  node "$@" >"$out" 2>&1 &
  JS_PID=$!
  P2P_PIDS+=("$JS_PID")
  JS_ADDR=
  local _
  for _ in $(seq 600); do
    JS_ADDR=$(sed -n 's/^listening \(.*\)$/\1/p' "$out" | head -n 1)
    [ -n "$JS_ADDR" ] && return 0
    kill -0 "$JS_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$out"
  echo "FAIL: the JS node did not start"
  exit 1
}

p2p_stop_all() {
  local pid
  for pid in "${P2P_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${P2P_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  P2P_PIDS=()
  rm -f "${P2P_COPIES[@]}"
}
