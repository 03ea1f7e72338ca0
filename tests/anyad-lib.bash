# Shared by the tests and benchmarks that run anyad's HTTP listeners (sourced).
# anyad logs "listening listener=NAME address=HOST:PORT" with the port it bound
# (p2p: "address=/ip4/HOST/tcp/PORT/p2p/<id>"),
# so listeners on port 0 (the kernel picks) can be found.
#   anyad_listener_port LOG NAME      NAME's port from the log, "" while not listening
#                                     (p2p: the /tcp/ port of its multiaddr)
#   anyad_listener_addr LOG NAME      NAME's whole address as logged; for p2p the
#                                     multiaddr with /p2p/<id>
#   anyad_wait_listener PID LOG NAME  waits up to 10 s until NAME answers /health
#                                     (any HTTP status) and prints its port; non-zero
#                                     when the daemon PID exited or it did not come up
anyad_listener_port() {
  if [ "$2" = p2p ]; then
    anyad_listener_addr "$1" p2p | sed -n 's|.*/tcp/\([0-9]*\).*|\1|p'
    return
  fi
  sed -n "s/.*listening listener=$2 address=[^ ]*:\([0-9]*\).*/\1/p" "$1" 2>/dev/null | tail -n 1
}
anyad_listener_addr() {
  sed -n "s/.*listening listener=$2 address=\([^ ]*\).*/\1/p" "$1" 2>/dev/null | tail -n 1
}
anyad_wait_listener() {
  local pid=$1 log=$2 name=$3 port code _
  for _ in $(seq 200); do
    port=$(anyad_listener_port "$log" "$name")
    if [ -n "$port" ]; then
      code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health" || true)
      [ "$code" != 000 ] && { echo "$port"; return 0; }
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
