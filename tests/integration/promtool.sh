#!/usr/bin/env bash
# The metrics exposition against Prometheus' own checker: test_metrics writes
# the process-wide registry (storage metrics registered and exercised) to
# $ANYA_METRICS_OUT, and `promtool check metrics` must accept it without a
# single lint problem (it exits non-zero on parse errors and lint findings).
set -euo pipefail
command -v promtool >/dev/null 2>&1 || { echo "skip: promtool not installed (Debian package prometheus)"; exit 77; }
BIN=${ANYA_BUILD:-$PWD/build}/tests/test_metrics
[ -x "$BIN" ] || { echo "skip: $BIN not built"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/anya-promtool.XXXXXX")
trap 'rm -rf "$T"' EXIT

ANYA_METRICS_OUT="$T/metrics.txt" "$BIN" >"$T/test.log" 2>&1 || { cat "$T/test.log"; echo "FAIL: test_metrics"; exit 1; }
[ -s "$T/metrics.txt" ] || { echo "FAIL: test_metrics wrote no exposition"; exit 1; }
for name in anya_storage_operation_duration_seconds anya_storage_operation_errors_total \
  anya_storage_read_bytes_total anya_storage_written_bytes_total anya_storage_used_bytes \
  anya_pins anya_storage_cache_hits_total anya_storage_cache_misses_total; do
  grep -q "^# TYPE $name " "$T/metrics.txt" || { echo "FAIL: $name missing"; exit 1; }
done
if ! promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1; then
  cat "$T/promtool.out"
  echo "FAIL: promtool check metrics rejected the exposition"
  exit 1
fi
[ ! -s "$T/promtool.out" ] || { cat "$T/promtool.out"; echo "FAIL: promtool had findings"; exit 1; }
echo "ok: promtool accepts $(grep -c '^# TYPE' "$T/metrics.txt") metric families, $(grep -vc '^#' "$T/metrics.txt") samples"
