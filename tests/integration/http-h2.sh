#!/usr/bin/env bash
# HTTP/2 on the HTTP server core, spoken by curl to `test_http --serve` on
# 127.0.0.1: h2c with prior knowledge and by upgrade from HTTP/1.1, the same
# handlers as HTTP/1.1 (inline and on workers), HEAD, a 500 for a handler that
# does not answer, 413, a 64 MiB body streamed through /echo both ways (flow
# control tied to the handler's reads), a 256 MiB download, a response of
# unknown length, and 20 streams multiplexed on one connection.
# With HTTP_TLS=1 the same runs over TLS (h2 by ALPN, and http/1.1), with a
# self-signed certificate made here.
set -euo pipefail
BUILD=${ANYA_BUILD:-$PWD/build}
BIN=$BUILD/tests/test_http
[ -x "$BIN" ] || { echo "skip: $BIN not built"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "skip: curl not installed"; exit 77; }
curl --version | grep -q 'HTTP2' || { echo "skip: this curl has no HTTP/2"; exit 77; }
TLS=${HTTP_TLS:-0}
T=$(mktemp -d "${TMPDIR:-/tmp}/anya-http-h2.XXXXXX")
pid=
cleanup() {
  exec 3>&- 2>/dev/null || true
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT

scheme=http
curl_tls=()
if [ "$TLS" = 1 ]; then
  command -v openssl >/dev/null 2>&1 || { echo "skip: openssl not installed"; exit 77; }
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1
  scheme=https
  curl_tls=(--cacert "$T/cert.pem")
fi

mkfifo "$T/stdin"
"$BIN" --serve "$T" <"$T/stdin" >"$T/server.log" 2>&1 &
pid=$!
exec 3>"$T/stdin" # the server runs until this closes
for _ in $(seq 100); do [ -s "$T/ports" ] && break; sleep 0.05; done
[ -s "$T/ports" ] || { cat "$T/server.log"; echo "FAIL: the server did not start"; exit 1; }
PORT=$(awk '$1 == "main" {print $2}' "$T/ports")
BASE="$scheme://127.0.0.1:$PORT"
if [ "$TLS" = 1 ]; then H2=(--http2); H1=(--http1.1); else H2=(--http2-prior-knowledge); H1=(--http1.1); fi

fail() { echo "FAIL: $*"; exit 1; }
c() { curl -sS --no-progress-meter --max-time 60 "${curl_tls[@]}" "$@"; }

# the version each transfer used, and the handlers' view of it
out=$(c "${H2[@]}" -w '\n%{http_version}' "$BASE/hello?a=1")
[ "$out" = $'hello GET /hello q=a=1 v=20\n2' ] || fail "prior knowledge / ALPN: $out"
out=$(c "${H1[@]}" -w '\n%{http_version}' "$BASE/hello?a=1")
[ "$out" = $'hello GET /hello q=a=1 v=11\n1.1' ] || fail "HTTP/1.1: $out"
if [ "$TLS" != 1 ]; then
  out=$(c --http2 -w '\n%{http_version}' "$BASE/hello?b=2")
  [ "$out" = $'hello GET /hello q=b=2 v=20\n2' ] || fail "h2c upgrade: $out"
fi
out=$(c "${H2[@]}" -D - -o /dev/null -w '%{http_version}' "$BASE/inline")
grep -qi '^x-inline: yes' <<<"$out" || fail "inline over HTTP/2: $out"

# HEAD: the GET's length, no body
out=$(c "${H2[@]}" -I "$BASE/hello")
grep -qi '^content-length: 25' <<<"$out" || fail "HEAD: $out"

# the server's own answers
code=$(c "${H2[@]}" -o "$T/silent.json" -w '%{http_code}' "$BASE/silent")
[ "$code" = 500 ] && grep -q '"error"' "$T/silent.json" || fail "unanswered: $code"
head -c 5000 /dev/zero >"$T/5k"
code=$(c "${H2[@]}" -o "$T/413.json" -w '%{http_code}' --data-binary @"$T/5k" "$BASE/upload?max=1000")
[ "$code" = 413 ] || fail "413 over HTTP/2: $code $(cat "$T/413.json")"

# 64 MiB through /echo: uploaded and echoed at once, the bytes unchanged
head -c $((64 * 1024 * 1024)) /dev/urandom >"$T/big"
c "${H2[@]}" --data-binary @"$T/big" -H 'Content-Type: application/octet-stream' \
  -o "$T/big.echo" "$BASE/echo"
cmp "$T/big" "$T/big.echo" || fail "echo over HTTP/2 changed the bytes"
# the same with a body of unknown length (no Content-Length)
c "${H2[@]}" -T - -X POST -o "$T/big.echo2" "$BASE/echo" <"$T/big"
cmp "$T/big" "$T/big.echo2" || fail "echo of a body without length changed the bytes"

# downloads: 256 MiB with a length, 300000 bytes without
size=$(c "${H2[@]}" -o /dev/null -w '%{size_download}' "$BASE/download?n=268435456")
[ "$size" = 268435456 ] || fail "256 MiB download: $size"
size=$(c "${H2[@]}" -o /dev/null -w '%{size_download}' "$BASE/download?n=300000&chunked=1")
[ "$size" = 300000 ] || fail "download of unknown length: $size"

# 20 streams on one connection (by upgrade or ALPN: curl 7.88.1 cannot reuse a
# prior-knowledge connection, curl/curl#10634)
urls=()
for i in $(seq 20); do urls+=("$BASE/hello?n=$i" -o "$T/par.$i"); done
connects=$(c --http2 --parallel --parallel-max 20 -w '%{num_connects}\n' "${urls[@]}" | paste -sd+ | bc)
for i in $(seq 20); do
  [ "$(cat "$T/par.$i")" = "hello GET /hello q=n=$i v=20" ] || fail "stream $i: $(cat "$T/par.$i")"
done
[ "$connects" -le 2 ] || fail "20 transfers took $connects connections"

# a clean stop: stdin closes, every connection goes, threads join, exit 0
# (under ASan this is where leaks would show)
exec 3>&-
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then fail "the server did not stop"; fi
rc=0; wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || { cat "$T/server.log"; fail "the server exited $rc"; }
if grep -q 'Sanitizer' "$T/server.log"; then cat "$T/server.log"; fail "sanitizer report"; fi

echo "ok: HTTP/2 ($scheme: $([ "$TLS" = 1 ] && echo 'ALPN h2 and http/1.1' || echo 'prior knowledge and upgrade')), HEAD, 500, 413, 64 MiB echo, 256 MiB download, 20 streams"
