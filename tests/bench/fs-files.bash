#!/usr/bin/env bash
# make bench section 10: files/ of the mount (anyad) against a native directory on the same disk
# (both under BUILD/bench/work, beside the daemon's repository), in one run, each figure measured
# in the order native, mount, mount, native (ABBA) and the two of each side averaged, so that a
# drift of the machine's load during the run cancels out:
#   1. sequential write of a BENCH_FS_MIB (1024) MiB pseudo-random file, dd bs=1M conv=fsync
#   2. cold sequential read of it (dd bs=1M, after echo 3 > /proc/sys/vm/drop_caches)
#   3. 4 KiB random read IOPS of it with fio (psync, 1 job, BENCH_FS_FIO_S (10) seconds, cold)
#   4. create + stat + unlink of BENCH_FS_FILES (20000) empty files (fs_bench cycle)
#   5. ls -l of a directory of BENCH_FS_LS (10000) entries, cold
#   6. cp -r of a tree of BENCH_FS_TREE (2000) files of 0 .. 64 KiB (fs_bench tree), warm source
#   7. cat of ipfs/<cid> of the file written in 1 (cold, its CID from user.anya.cid) against
#      anya cat of the same CID with the daemon stopped (cold), ABBA as well
# BENCH_FS_ABBA=N repeats each ABBA sequence N times (default 1) and compares the medians.
# Needs root and /dev/fuse (prints a skipped row otherwise).  Sourced by tests/bench/run (which
# defines W, say, secs, ...), or run alone: tests/bench/fs-files.bash [BUILD] (its table goes to
# BUILD/bench/fs-files.md).
if [ -z "${FS_BENCH_SOURCED:-}" ] && [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  BUILD=${1:-build}
  ROOT=$(cd "$(dirname "$0")/../.." && pwd)
  ANYA="$ROOT/$BUILD/bin/anya"
  W="$ROOT/$BUILD/bench/work-fs"
  rm -rf "$W" && mkdir -p "$W"
  trap 'rm -rf "$W"' EXIT
  OUT="$ROOT/$BUILD/bench/fs-files.md"
  : >"$OUT"
  say() { echo "$*" | tee -a "$OUT"; }
  secs() { date +%s.%N; }
  say "# files/ bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  say ""
  say "| figure | value | reference (same run) | ratio | goal |"
  say "|---|---|---|---|---|"
fi

fs_pid=""
fs_bench_section() {
  local ANYAD="$ROOT/$BUILD/bin/anyad" TOOL="$ROOT/$BUILD/bench/fs_bench"
  local FS_MIB=${BENCH_FS_MIB:-1024} FS_FILES=${BENCH_FS_FILES:-20000} FS_LS=${BENCH_FS_LS:-10000}
  local FS_TREE=${BENCH_FS_TREE:-2000} FS_FIO_S=${BENCH_FS_FIO_S:-10} FS_ABBA=${BENCH_FS_ABBA:-1}
  local R="$W/fsrepo" MNT="$W/fsmnt" NAT="$W/native" SRC="$W/fssrc" TREE="$W/fstree"
  local F="$W/fsmnt/files/bench"
  if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ]; then
    say "| files/ (FUSE writable tree) | skipped: needs root and /dev/fuse | | | |"
    return 0
  fi
  [ -x "$TOOL" ] || { say "| files/ | not measured: $TOOL is not built (make bench builds it) | | | |"; return 0; }
  local bytes=$((FS_MIB * 1024 * 1024))

  fs_up() {
    "$ANYAD" --repo "$R" --mount "$MNT" --p2p off --dwn off --gateway off --rpc off --foreground >>"$W/fs-anyad.err" 2>&1 &
    fs_pid=$!
    local _
    for _ in $(seq 200); do [ -d "$MNT/files" ] && return 0; kill -0 "$fs_pid" 2>/dev/null || break; sleep 0.1; done
    echo "anyad did not mount: $(tail -n 1 "$W/fs-anyad.err")" >&2
    return 1
  }
  fs_down() {
    [ -n "$fs_pid" ] || return 0
    kill -TERM "$fs_pid" 2>/dev/null || true
    wait "$fs_pid" 2>/dev/null || true
    fs_pid=""
    umount -l "$MNT" 2>/dev/null || true
  }
  cold() { sync; echo 3 >/proc/sys/vm/drop_caches; }
  elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
  r2() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
  rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "n/a" }'; }
  verdict() { # VALUE OP GOAL
    awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN { ok = (op == ">=") ? v >= g : v <= g; print ok ? "met" : "NOT met" }'
  }
  # abba FIGURE: runs fig_FIGURE DIR in the order native, mount, mount, native, BENCH_FS_ABBA
  # times (default 1); sets A (native) and B (mount) to the medians of what it printed (the
  # mean of the middle two for an even count); returns 1 (and says why) when a run fails
  abba() {
    local fig=$1 side v a_vals=() b_vals=()
    for _ in $(seq "$FS_ABBA"); do
      for side in A B B A; do
        if [ "$side" = A ]; then v=$("fig_$fig" "$NAT") || v=""; else v=$("fig_$fig" "$F") || v=""; fi
        if [ -z "$v" ]; then
          say "| files/ $fig | FAILED: $(tail -n 1 "$W/fs.err" 2>/dev/null) (anyad: $(tail -n 1 "$W/fs-anyad.err" 2>/dev/null)) | | | |"
          return 1
        fi
        if [ "$side" = A ]; then a_vals+=("$v"); else b_vals+=("$v"); fi
      done
    done
    A=$(printf '%s\n' "${a_vals[@]}" | med); B=$(printf '%s\n' "${b_vals[@]}" | med)
    echo "files/ $fig: native ${a_vals[*]}, mount ${b_vals[*]}" >>"$W/fs.log"
  }
  med() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
  fig_write() {
    rm -f "$1/big"; sync
    local t0 t1; t0=$(secs)
    timeout 900 dd if="$SRC" of="$1/big" bs=1M conv=fsync status=none 2>>"$W/fs.err" || return 1
    t1=$(secs); elapsed "$t0" "$t1"
  }
  fig_read() {
    cold
    local t0 t1; t0=$(secs)
    timeout 900 dd if="$1/big" of=/dev/null bs=1M status=none 2>>"$W/fs.err" || return 1
    t1=$(secs); elapsed "$t0" "$t1"
  }
  fig_fio() {
    cold
    timeout $((FS_FIO_S + 120)) fio --name=randread --filename="$1/big" --rw=randread --bs=4k --ioengine=psync \
      --numjobs=1 --size="${FS_MIB}M" --runtime="$FS_FIO_S" --time_based --invalidate=1 --minimal \
      >"$W/fio.out" 2>>"$W/fs.err" || return 1
    awk -F';' '{ print $8 }' "$W/fio.out"
  }
  fig_cycle() {
    rm -rf "$1/cycle"; mkdir "$1/cycle"
    timeout 1800 "$TOOL" cycle "$1/cycle" "$FS_FILES" >"$W/cycle.out" 2>>"$W/fs.err" || return 1
    rmdir "$1/cycle" 2>>"$W/fs.err" || return 1
    tr ' ' '\n' <"$W/cycle.out" | awk -F= '$1 == "total_s" { print $2 }'
  }
  fig_ls() {
    cold
    local t0 t1 n; t0=$(secs)
    n=$(timeout 600 ls -l "$1/ls" 2>>"$W/fs.err" | wc -l) || return 1
    t1=$(secs)
    [ "$n" = $((FS_LS + 1)) ] || { echo "ls -l listed $n lines, expected $((FS_LS + 1))" >>"$W/fs.err"; return 1; }
    elapsed "$t0" "$t1"
  }
  fig_cp() {
    rm -rf "$1/cp"; sync
    local t0 t1; t0=$(secs)
    timeout 1800 cp -r "$TREE" "$1/cp" 2>>"$W/fs.err" || return 1
    t1=$(secs); elapsed "$t0" "$t1"
  }

  # the reference file (the one section 1 of run made, when it has this size), warm
  if [ -f "$W/file" ] && [ "$(stat -c %s "$W/file")" = "$bytes" ]; then SRC="$W/file"
  else { openssl enc -aes-128-ctr -K 0f0e0d0c0b0a09080706050403020100 -iv 0 -nosalt -in /dev/zero 2>/dev/null || true; } | head -c "$bytes" >"$SRC"
  fi
  "$ANYA" --repo "$R" init >/dev/null
  mkdir -p "$NAT" "$MNT"
  # a failure that ends the script must not leave the mount under the directory its trap removes
  trap 'fs_down; rm -rf "$W"' EXIT
  rm -f "$W/fs.log" "$W/fs.err"
  fs_up || { say "| files/ (FUSE writable tree) | FAILED: anyad did not mount ($(tail -n 1 "$W/fs-anyad.err")) | | | |"; return 0; }
  if ! mkdir "$F" 2>>"$W/fs.err"; then
    say "| files/ (FUSE writable tree) | FAILED: mkdir in files/: $(tail -n 1 "$W/fs.err") | | | |"; fs_down; return 0
  fi
  cat "$SRC" >/dev/null
  local A B ok_big=0 t
  # 1 + 2 + 3 on the same big file
  if abba write; then
    ok_big=1
    t=$(r2 "$A" "$B")
    say "| files/ sequential write ${FS_MIB} MiB + fsync (dd bs=1M conv=fsync), ABBA | $(rate "$bytes" "$B" | awk '{ printf "%.0f", $1 / 1e6 }') MB/s | native dir, same disk, $(rate "$bytes" "$A" | awk '{ printf "%.0f", $1 / 1e6 }') MB/s | ${t}x | >= 0.8x: $(verdict "$t" ">=" 0.8) |"
    if ! cmp -s "$SRC" "$F/big"; then say "| files/ big file | WRONG BYTES: the file read back differs from what dd wrote | | | |"; ok_big=0; fi
  fi
  if [ "$ok_big" = 1 ] && abba read; then
    t=$(r2 "$A" "$B")
    say "| files/ cold sequential read ${FS_MIB} MiB (dd bs=1M after drop_caches), ABBA | $(rate "$bytes" "$B" | awk '{ printf "%.0f", $1 / 1e6 }') MB/s | native $(rate "$bytes" "$A" | awk '{ printf "%.0f", $1 / 1e6 }') MB/s | ${t}x | >= 0.8x: $(verdict "$t" ">=" 0.8) |"
  fi
  if [ "$ok_big" = 1 ] && command -v fio >/dev/null && abba fio; then
    t=$(r2 "$B" "$A")
    say "| files/ 4 KiB random read IOPS (fio psync, 1 job, ${FS_FIO_S} s, cold), ABBA | $(printf '%.0f' "$B") IOPS | native $(printf '%.0f' "$A") IOPS | ${t}x | >= 0.5x: $(verdict "$t" ">=" 0.5) |"
  fi
  if abba cycle; then
    t=$(r2 "$A" "$B")
    say "| files/ create + stat + unlink of $FS_FILES empty files (fs_bench cycle), ABBA | $(rate "$FS_FILES" "$B") files/s ($B s) | native $(rate "$FS_FILES" "$A") files/s ($A s) | ${t}x | >= 0.3x: $(verdict "$t" ">=" 0.3) |"
  fi
  if mkdir "$NAT/ls" "$F/ls" 2>>"$W/fs.err" && "$TOOL" touch "$NAT/ls" "$FS_LS" 2>>"$W/fs.err" && "$TOOL" touch "$F/ls" "$FS_LS" 2>>"$W/fs.err"; then
    if abba ls; then
      say "| files/ ls -l of $FS_LS entries, cold, ABBA | $B s | native $A s | $(r2 "$B" "$A")x the time | |"
    fi
  else
    say "| files/ ls -l | FAILED making $FS_LS entries: $(tail -n 1 "$W/fs.err") | | | |"
  fi
  mkdir -p "$TREE"
  "$TOOL" tree "$TREE" "$FS_TREE" 7 && cat "$TREE"/*/* >/dev/null
  if abba cp; then
    t=$(r2 "$B" "$A")
    say "| files/ cp -r of a $FS_TREE-file tree ($(du -sm "$TREE" | cut -f1) MiB, files 0 to 64 KiB, warm source), ABBA | $B s | native $A s | ${t}x the time | <= 3x: $(verdict "$t" "<=" 3) |"
    diff -r "$TREE" "$F/cp" >/dev/null 2>&1 || say "| files/ cp -r | WRONG: diff -r of the copy on the mount and its source differs | | | |"
  fi
  # 7: ipfs/<cid> of the big file against anya cat with the daemon stopped
  local cid="" want=""
  if [ "$ok_big" = 1 ]; then
    cid=$(getfattr --only-values -n user.anya.cid "$F/big" 2>>"$W/fs.err") || cid=""
  fi
  fs_down
  if [ -n "$cid" ]; then
    want=$("$ANYA" --repo "$R" add -Q -n --progress=false "$SRC")
    # native side: anya cat with the daemon stopped; mount side: cat of ipfs/<cid>, mounted for it
    fig_ipfs() {
      local t0 t1 rc=0
      if [ "$1" = "$NAT" ]; then
        cold; t0=$(secs)
        "$ANYA" --repo "$R" cat "$cid" >/dev/null 2>>"$W/fs.err" || return 1
        t1=$(secs); elapsed "$t0" "$t1"; return 0
      fi
      fs_up >/dev/null || return 1
      cold; t0=$(secs)
      timeout 900 cat "$MNT/ipfs/$cid" >/dev/null 2>>"$W/fs.err" || rc=1
      t1=$(secs); fs_down
      [ "$rc" = 0 ] && elapsed "$t0" "$t1"
    }
    if abba ipfs; then
      say "| ipfs/<cid> read of the ${FS_MIB} MiB file written to files/ (cold), ABBA | $(rate "$bytes" "$B" | awk '{ printf "%.0f", $1 / 1e6 }') MB/s | anya cat, daemon stopped, cold, $(rate "$bytes" "$A" | awk '{ printf "%.0f", $1 / 1e6 }') MB/s | $(r2 "$A" "$B")x | |"
    fi
    if [ "$cid" = "$want" ]; then say "| user.anya.cid of the file written to files/ | $cid | anya add -n of the same bytes | same CID | equal |"
    else say "| user.anya.cid of the file written to files/ | $cid | anya add -n of the same bytes: $want | DIFFERENT | equal |"; fi
  else
    say "| ipfs/<cid> read of the file written to files/ | not measured: no user.anya.cid ($(tail -n 1 "$W/fs.err" 2>/dev/null)) | | | |"
  fi
  if [ -z "${FS_BENCH_SOURCED:-}" ]; then
    say ""
    say "(BENCH_FS_MIB, BENCH_FS_FILES, BENCH_FS_LS, BENCH_FS_TREE, BENCH_FS_FIO_S change the sizes; BENCH_FS_ABBA=N repeats each ABBA N times, medians.)"
    cat "$W/fs.log" >&2
  fi
  rm -rf "$NAT" "$R" "$TREE" "$W/fssrc"
}
fs_bench_section
