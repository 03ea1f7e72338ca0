#!/usr/bin/env bash
# make bench section 11: the IPFS HTTP gateway against nginx serving the same bytes from a native
# file on the same disk, in the same run: wrk (-t2 -c64 -d BENCH_GW_SECS (10) s, keep-alive) on
# GET /ipfs/<cid> of a 1 KiB and of a 1 MiB file, and on GET /<file> from Debian's nginx (started
# here on 127.0.0.1 with a temporary prefix and configuration: worker_processes auto, sendfile,
# no access log).  Requests per second and the ratio per size (goal >= 0.5x).  The 1 MiB file is
# measured twice: as configured (after its first request its body is in the gateway's body
# cache) and with the cache off (ANYA_GATEWAY_BODY_CACHE_BYTES=0: each request streams the file's
# blocks from the block store through a worker).
# The gateway is anyad's (--mount off --gateway 127.0.0.1:0, the other listeners off), with the
# default configuration (http.threads = one event loop per core).
# Sourced by tests/bench/run (which defines W, say, ...), or run alone:
# tests/bench/http-gateway.bash [BUILD] (its table goes to BUILD/bench/http-gateway.md).
if [ -z "${GW_BENCH_SOURCED:-}" ] && [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  BUILD=${1:-build}
  ROOT=$(cd "$(dirname "$0")/../.." && pwd)
  ANYA="$ROOT/$BUILD/bin/anya"
  W="$ROOT/$BUILD/bench/work-gw"
  rm -rf "$W" && mkdir -p "$W"
  trap 'rm -rf "$W"' EXIT
  OUT="$ROOT/$BUILD/bench/http-gateway.md"
  : >"$OUT"
  say() { echo "$*" | tee -a "$OUT"; }
  say "# gateway bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  say ""
  say "| figure | value | reference (same run) | ratio | goal |"
  say "|---|---|---|---|---|"
fi
source "$ROOT/tests/anyad-lib.bash"

# The processes started here, stopped by PID on every way out (also when the caller dies).
GW_BENCH_PIDS=()
gw_bench_stop() {
  local p
  for p in "${GW_BENCH_PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
  for p in "${GW_BENCH_PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  GW_BENCH_PIDS=()
}

gw_bench_section() {
  local secs=${BENCH_GW_SECS:-10}
  local NGINX
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  if ! command -v wrk >/dev/null || [ ! -x "$NGINX" ]; then
    say "| gateway vs nginx | skipped: wrk or nginx missing (make deps) | | | |"
    return 0
  fi
  local G="$W/gw" repo="$W/gw/repo" www="$W/gw/www"
  mkdir -p "$www" "$G/nginx/logs"
  { openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv 0 -nosalt -in /dev/zero 2>/dev/null || true; } |
    head -c $((1024 * 1024)) >"$www/1m.bin"
  head -c 1024 "$www/1m.bin" >"$www/1k.bin"
  "$ANYA" --repo "$repo" init >/dev/null
  local cid1k cid1m
  cid1k=$("$ANYA" --repo "$repo" add -Q "$www/1k.bin")
  cid1m=$("$ANYA" --repo "$repo" add -Q "$www/1m.bin")

  # nginx on a free port, its own prefix and configuration
  local nport gport
  nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$G/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $G/nginx/nginx.pid;
error_log $G/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $G/nginx/tmp;
  proxy_temp_path $G/nginx/tmp;
  fastcgi_temp_path $G/nginx/tmp;
  uwsgi_temp_path $G/nginx/tmp;
  scgi_temp_path $G/nginx/tmp;
  types { application/octet-stream bin; }
  server { listen 127.0.0.1:$nport; root $www; }
}
EOF
  "$NGINX" -c "$G/nginx/nginx.conf" -p "$G/nginx" -g 'daemon off;' >/dev/null 2>"$G/nginx.err" &
  GW_BENCH_PIDS+=($!)
  # start_anyad [ENV=VALUE...]: the daemon with the gateway alone; gport, gpid
  local gpid=""
  start_anyad() {
    : >"$G/anyad.err"
    env "$@" "$ROOT/$BUILD/bin/anyad" --repo "$repo" --mount off --p2p off --foreground --dwn off --rpc off \
      --gateway 127.0.0.1:0 >/dev/null 2>"$G/anyad.err" &
    gpid=$!
    GW_BENCH_PIDS+=("$gpid")
    gport=$(anyad_wait_listener "$gpid" "$G/anyad.err" gateway) || gport=""
  }
  start_anyad
  local ok=0
  for _ in $(seq 100); do
    if curl -sf -o /dev/null "http://127.0.0.1:$nport/1k.bin" && [ -n "$gport" ] &&
      curl -sf -o /dev/null "http://127.0.0.1:$gport/ipfs/$cid1k"; then ok=1; break; fi
    sleep 0.1
  done
  if [ $ok = 0 ]; then
    say "| gateway vs nginx | FAILED to start: $(tail -n 1 "$G/anyad.err" "$G/nginx.err" | tr '\n' ' ') | | | |"
  else
    curl -sf "http://127.0.0.1:$gport/ipfs/$cid1m" | cmp -s - "$www/1m.bin" || say "| gateway | 1 MiB CONTENT DIFFERS | | | |"
    rps() { wrk -t2 -c64 -d"${secs}s" "$1" 2>&1 | awk '/^Requests\/sec:/ { printf "%.0f", $2 }'; }
    # abba LABEL FILE CID GOAL: nginx, gateway, gateway, nginx; the mean of each side
    abba() {
      local n1 g1 g2 n2 n g
      n1=$(rps "http://127.0.0.1:$nport/$2")
      g1=$(rps "http://127.0.0.1:$gport/ipfs/$3")
      g2=$(rps "http://127.0.0.1:$gport/ipfs/$3")
      n2=$(rps "http://127.0.0.1:$nport/$2")
      n=$(awk -v a="$n1" -v b="$n2" 'BEGIN { printf "%.0f", (a + b) / 2 }')
      g=$(awk -v a="$g1" -v b="$g2" 'BEGIN { printf "%.0f", (a + b) / 2 }')
      say "| gateway GET /ipfs/<cid>, $1, wrk -t2 -c64 ${secs}s keep-alive, ABBA | $g req/s ($g1, $g2) | nginx, same bytes from a native file: $n req/s ($n1, $n2) | $(awk -v a="$g" -v b="$n" 'BEGIN { printf "%.2f", a / b }')x | $4 |"
    }
    abba "1 KiB file" 1k.bin "$cid1k" ">= 0.5x"
    abba "1 MiB file" 1m.bin "$cid1m" ">= 0.5x"
    # the same without the body cache: every request streams the file's blocks from the store
    kill -TERM "$gpid" 2>/dev/null || true
    wait "$gpid" 2>/dev/null || true
    start_anyad ANYA_GATEWAY_BODY_CACHE_BYTES=0
    if [ -n "$gport" ]; then
      abba "1 MiB file, body cache off (streamed from the block store)" 1m.bin "$cid1m" "(the streamed path)"
    fi
  fi
  gw_bench_stop
  rm -rf "$G"
}

# the caller's EXIT trap (rm -rf "$W") stops these processes first while the section runs
gw_bench_trap=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
trap "gw_bench_stop; $gw_bench_trap" EXIT
gw_bench_section
trap "$gw_bench_trap" EXIT
