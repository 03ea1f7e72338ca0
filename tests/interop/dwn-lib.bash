# Shared by the DWN interop drivers (sourced after lib.bash): installs the one
# oracle set, dwn-sdk-js 0.5.2 with the exact versions dwn-server 0.6.1 runs,
# into $NPM_ROOT/dwn (sets NPM_DIR).  Scripts import from there with
# NODE_PATH="$NPM_DIR/node_modules" or by running node inside $NPM_DIR.
# The recorded scenario corpus is the SDK's output, the same for every build of
# the C code: kept beside the npm packages, shared by the sanitizer build.
DWN_CORPUS=${NPM_ROOT%/npm}/dwn
dwn_oracle() {
  npm_oracle dwn @tbd54566975/dwn-sdk-js 0.5.2 \
    @tbd54566975/dwn-sdk-js@0.5.2 @web5/dids@1.2.0 @ipld/dag-cbor@9.0.3 \
    multiformats@11.0.2 ipfs-unixfs-importer@15.1.5
}

# The recorded corpus ($DWN_CORPUS/scenarios.json) is reused only when it was
# made from the generator sources as they are now: dwn_sources_hash prints a
# digest of them, kept beside the corpus as scenarios.sources.
dwn_sources_hash() {
  cat "$ROOT"/tests/interop/dwn/*.mjs | sha256sum | cut -d' ' -f1
}
dwn_corpus_fresh() { # 0 when $DWN_CORPUS/scenarios.json matches the sources
  [ -s "$DWN_CORPUS/scenarios.json" ] && [ -f "$DWN_CORPUS/scenarios.sources" ] &&
    [ "$(cat "$DWN_CORPUS/scenarios.sources")" = "$1" ]
}
# dwn_corpus WORK: makes $DWN_CORPUS/scenarios.json unless it is fresh (one
# generator at a time), scratch in WORK; sets DOC to its path.
dwn_corpus() {
  DOC="$DWN_CORPUS/scenarios.json"
  mkdir -p "$DWN_CORPUS"
  (
    flock 9
    local sources
    sources=$(dwn_sources_hash)
    if ! dwn_corpus_fresh "$sources"; then
      node "$ROOT/tests/interop/dwn/gen.mjs" --npm-dir "$NPM_DIR" --work "$1/gen" --out "$DOC.tmp" >"$1/gen.log" 2>&1 ||
        { tail -n 20 "$1/gen.log"; echo "FAIL: the scenario generator failed"; exit 1; }
      mv "$DOC.tmp" "$DOC"
      echo "$sources" >"$DWN_CORPUS/scenarios.sources"
    fi
  ) 9>"$DWN_CORPUS/.lock" || exit 1
}
