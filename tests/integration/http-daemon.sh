#!/usr/bin/env bash
# anyad's HTTP listeners (net/server.h), on loopback ports the kernel picks:
#   - every listener answers GET /health with the JSON checks and /metrics with
#     an exposition promtool accepts (HTTP, storage and health families in it);
#   - <repo>/api names the RPC listener while the daemon runs and is gone after;
#   - /health says 503 when a required check fails (the key made unreadable);
#   - a taken port, and an RPC listener off loopback without a token, fail the
#     start with one clear line and exit status 1;
#   - without --foreground the starting command returns 0 only once it serves;
#   - SIGTERM stops it with exit status 0.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/../anyad-lib.bash"
ANYAD=${ANYAD:-$(dirname "$ANYA")/anyad}
[ -x "$ANYAD" ] || fail "$ANYAD is not built"
command -v curl >/dev/null || fail "curl is missing: run make deps"
"$ANYA" init >/dev/null

# start_daemon ARGS...: anyad --mount off in the foreground, ports from the log.
start_daemon() {
  : >"$T/anyad.err"
  "$ANYAD" --mount off --p2p off --foreground "$@" 2>>"$T/anyad.err" &
  PID=$!
  PIDS+=("$PID")
  local want
  want=$(printf '%s\n' "$@" | grep -c ':0$' || true)
  for _ in $(seq 1 100); do
    [ "$(grep -c 'listening' "$T/anyad.err" || true)" -ge "$want" ] && [ -f "$ANYA_REPO/api" ] && break
    kill -0 "$PID" 2>/dev/null || { cat "$T/anyad.err"; fail "anyad exited at start"; }
    sleep 0.1
  done
  DWN=$(anyad_listener_port "$T/anyad.err" dwn) GW=$(anyad_listener_port "$T/anyad.err" gateway)
  RPC=$(anyad_listener_port "$T/anyad.err" rpc)
  [ -n "$DWN" ] && [ -n "$GW" ] && [ -n "$RPC" ] || { cat "$T/anyad.err"; fail "no ports in the log"; }
}
stop_daemon() {
  kill -TERM "$PID"
  local rc=0
  wait "$PID" || rc=$?
  [ "$rc" = 0 ] || { tail -5 "$T/anyad.err"; fail "anyad exited $rc on SIGTERM"; }
}

step "all three listeners serve /health and /metrics"
start_daemon --dwn 127.0.0.1:0 --gateway 127.0.0.1:0 --rpc 127.0.0.1:0
[ "$(cat "$ANYA_REPO/api")" = "http://127.0.0.1:$RPC" ] || fail "api file says $(cat "$ANYA_REPO/api"), want port $RPC"
for p in "$DWN" "$GW" "$RPC"; do
  code=$(curl -s -o "$T/health.json" -w '%{http_code}' "http://127.0.0.1:$p/health")
  [ "$code" = 200 ] || { cat "$T/health.json"; fail "/health on $p answered $code"; }
  node -e '
    const h = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    if (h.ok !== true) throw new Error("ok is not true");
    for (const c of ["storage", "key", "gateway", "dht", "pinning_services"])
      if (!h.checks[c] || !["ok", "fail", "off"].includes(h.checks[c].status)) throw new Error("check " + c);
    if (h.checks.storage.status !== "ok" || h.checks.key.status !== "ok" || h.checks.gateway.status !== "ok")
      throw new Error("a check that should pass did not: " + JSON.stringify(h.checks));
  ' "$T/health.json" || { cat "$T/health.json"; fail "/health on $p: wrong JSON"; }
  code=$(curl -s -o "$T/metrics.txt" -w '%{http_code}' "http://127.0.0.1:$p/metrics")
  [ "$code" = 200 ] || fail "/metrics on $p answered $code"
done
curl -s -o /dev/null "http://127.0.0.1:$GW/ipfs/bafkqaaa" # one gateway request, so its series exist
curl -s "http://127.0.0.1:$GW/metrics" >"$T/metrics.txt"
for name in anya_http_requests_total anya_http_request_duration_seconds anya_http_connections \
  anya_storage_used_bytes anya_pins anya_health_check_ok anya_uptime_seconds; do
  grep -q "^# TYPE $name " "$T/metrics.txt" || fail "/metrics lacks $name"
done
grep -q 'anya_http_requests_total{.*listener="gateway"' "$T/metrics.txt" || fail "no gateway request counted"
command -v promtool >/dev/null || fail "promtool is missing (Debian package prometheus): run make deps"
promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1 || { cat "$T/promtool.out"; fail "promtool rejected /metrics"; }
[ ! -s "$T/promtool.out" ] || { cat "$T/promtool.out"; fail "promtool had findings"; }
echo "ok: promtool accepts /metrics ($(grep -c '^# TYPE' "$T/metrics.txt") families)"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$GW/health")
[ "$code" = 405 ] || fail "POST /health answered $code, want 405"
echo "ok: health and metrics on dwn:$DWN gateway:$GW rpc:$RPC"

step "a failed required check is 503"
chmod 0644 "$ANYA_REPO/keystore/self"
stop_daemon # checks run at start and every monitoring.health_interval
[ ! -e "$ANYA_REPO/api" ] || fail "api file left after stop"
start_daemon --dwn 127.0.0.1:0 --gateway 127.0.0.1:0 --rpc 127.0.0.1:0
code=$(curl -s -o "$T/health.json" -w '%{http_code}' "http://127.0.0.1:$GW/health")
[ "$code" = 503 ] || { cat "$T/health.json"; fail "/health with a world-readable key answered $code, want 503"; }
grep -q '"key":{"status":"fail"' "$T/health.json" || { cat "$T/health.json"; fail "the key check did not fail"; }
chmod 0600 "$ANYA_REPO/keystore/self"
stop_daemon
echo "ok: 503 names the failed check"

step "start-up failures are one clear line and exit 1"
python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(30)' >"$T/taken" &
HOLDER=$!
PIDS+=("$HOLDER")
for _ in $(seq 1 50); do [ -s "$T/taken" ] && break; sleep 0.1; done
TAKEN=$(cat "$T/taken")
rc=0
"$ANYAD" --mount off --p2p off --foreground --dwn off --rpc off --gateway "127.0.0.1:$TAKEN" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "a taken port: exit $rc, want 1"
grep -q "127.0.0.1:$TAKEN" "$T/err" || { cat "$T/err"; fail "the error does not name the address"; }
kill "$HOLDER"
rc=0
"$ANYAD" --mount off --p2p off --foreground --dwn off --gateway off --rpc 0.0.0.0:0 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "RPC off loopback without a token: exit $rc, want 1"
grep -q "rpc_token" "$T/err" || { cat "$T/err"; fail "the error does not name security.rpc_token"; }
echo "ok: $(tail -1 "$T/err")"

step "without --foreground the command returns once serving"
"$ANYAD" --mount off --p2p off --dwn off --gateway off --rpc 127.0.0.1:0 2>"$T/err" || { cat "$T/err"; fail "detached start failed"; }
URL=$(cat "$ANYA_REPO/api")
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")
[ "$code" = 200 ] || fail "detached daemon: /health answered $code right after start"
DPID=$(sed -n 's/^pid \([0-9]*\).*/\1/p' "$ANYA_REPO/repo.lock" | head -1)
[ -n "$DPID" ] || { cat "$ANYA_REPO/repo.lock"; fail "repo.lock does not name the detached daemon"; }
PIDS+=("$DPID")
kill -TERM "$DPID"
for _ in $(seq 1 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$DPID" 2>/dev/null && fail "detached daemon ignored SIGTERM"
[ ! -e "$ANYA_REPO/api" ] || fail "api file left after the detached daemon stopped"
echo "ok: detached start and stop"
echo "PASS"
