# Shared by the tests and benchmarks that run anyad's HTTP listeners (sourced).
# anyad logs "listening listener=NAME address=HOST:PORT" with the port it bound,
# so listeners on port 0 (the kernel picks) can be found.
#   anyad_listener_port LOG NAME      NAME's port from the log, "" while not listening
#   anyad_wait_listener PID LOG NAME  waits up to 10 s until NAME answers /health
#                                     (any HTTP status) and prints its port; non-zero
#                                     when the daemon PID exited or it did not come up
anyad_listener_port() {
  sed -n "s/.*listening listener=$2 address=[^ ]*:\([0-9]*\).*/\1/p" "$1" 2>/dev/null | tail -n 1
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
