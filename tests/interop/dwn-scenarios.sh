#!/usr/bin/env bash
# The DWN replay corpus: runs the scenario generator (tests/interop/dwn/gen.mjs)
# against dwn-sdk-js 0.5.2 twice, into two scratch directories, and checks
# (tests/interop/dwn/check.mjs) that
#   - there are at least 100 scenarios and the coverage computed from the
#     messages and replies holds (every interface.method, every status code
#     200/202/204/400/401/404/409/501, query filters and sorts, protocol
#     rules, roles, permissions, deletes, a record over 40 MB, ...);
#   - every reply status is one docs/dwn-reference.md §1 allows;
#   - the documented data generator reproduces every {seed, size} payload;
#   - the recorded identifiers (messageCid, descriptorCid, entryId, dataCid)
#     recompute from the reference's rules without the SDK (dag-cbor,
#     multiformats and the UnixFS importer directly);
#   - the two runs are identical apart from the fields marked
#     nondeterministic (Messages.Query cursor ULIDs), so the corpus is
#     reproducible.
# The first run's document is kept as $DWN_CORPUS/scenarios.json for the C
# replay.  Format: docs/dwn-scenarios.md.
# Exit 0 pass, 77 skip (node/npm missing or the registry unreachable), else fail.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/dwn-lib.bash"
dwn_oracle

WORK=$(mktemp -d "$BUILD/dwn-scenarios.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' INT TERM

GEN="$ROOT/tests/interop/dwn/gen.mjs"
CHECK="$ROOT/tests/interop/dwn/check.mjs"
start=$(date +%s)
# The two runs are independent DWNs in separate directories: run them side by
# side (each is mostly LevelDB I/O).  When dwn-replay.sh has already made the
# corpus from the current generator, that document is the second run.
runs="1 2"
fresh=0
sources=$(dwn_sources_hash)
dwn_corpus_fresh "$sources" && fresh=1
if [ $fresh = 1 ]; then
  runs="1"
  cp "$DWN_CORPUS/scenarios.json" "$WORK/run2.json"
fi
for i in $runs; do
  mkdir -p "$WORK/run$i"
  node "$GEN" --npm-dir "$NPM_DIR" --work "$WORK/run$i" --out "$WORK/run$i.json" >"$WORK/gen$i.log" 2>&1 &
  PIDS+=($!)
done
rc=0
for i in $runs; do
  if ! wait "${PIDS[$((i - 1))]}"; then
    echo "FAIL: generator run $i failed:"
    tail -n 20 "$WORK/gen$i.log"
    rc=1
  fi
done
PIDS=()
[ $rc -eq 0 ] || exit 1
cat "$WORK/gen1.log"
echo "generated ($runs) in $(($(date +%s) - start)) s; the second run: $([ $fresh = 1 ] && echo "the corpus dwn-replay made" || echo "generated here")"

node "$CHECK" --npm-dir "$NPM_DIR" "$WORK/run1.json" "$WORK/run2.json" || { echo "FAIL: scenario check"; exit 1; }
mkdir -p "$DWN_CORPUS"
if [ $fresh = 0 ]; then
  cp "$WORK/run1.json" "$DWN_CORPUS/scenarios.json"
  echo "$sources" >"$DWN_CORPUS/scenarios.sources"
fi
echo "corpus: $DWN_CORPUS/scenarios.json ($(wc -c <"$DWN_CORPUS/scenarios.json") bytes)"
