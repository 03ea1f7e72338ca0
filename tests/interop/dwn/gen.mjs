#!/usr/bin/env node
// DWN differential scenario generator: the oracle side of the replay tests.
//
// Runs every scenario of scenarios-*.mjs against @tbd54566975/dwn-sdk-js
// 0.5.2 (LevelDB stores, offline did:key/did:jwk resolver) and records what
// the SDK answers.  The C engine later replays the same messages and must
// match status code, detail-code prefix, entries in order, cursors and the
// identifiers.  Everything is deterministic: keys, timestamps and data come
// from fixed seeds, so two runs produce the same document except the fields
// listed in a step's `nondeterministic` (see docs/dwn-scenarios.md).
//
// Usage: node gen.mjs --npm-dir DIR --work DIR --out FILE [--only SUBSTRING]
//   --npm-dir  npm install directory holding node_modules/@tbd54566975/dwn-sdk-js
//              (set by `dwn_oracle` in tests/interop/dwn-lib.bash as NPM_DIR)
//   --work     scratch directory for the LevelDB stores (one sub-directory per
//              scenario, removed after it)
//   --out      where to write the JSON document
//   --only     run only scenarios whose name contains SUBSTRING
//
// Output (one JSON document, UTF-8):
// {
//   "format": "anya-dwn-scenarios/1",
//   "sdk": "@tbd54566975/dwn-sdk-js@0.5.2",
//   "dataGenerator": "<text of the rule below>",
//   "scenarios": [ Scenario, ... ]
// }
// Scenario = {
//   "name": unique string, "group": coverage group, "description": text,
//   "eventStream": bool  -- true: the DWN had an EventEmitterStream (subscribe
//                           answers 200 and delivers events); false: none (501)
//   "identities": { label: {did, kid, curve: "Ed25519"|"secp256k1",
//                           method: "key"|"jwk", publicJwk, privateJwk} },
//   "steps": [ Step, ... ]   -- applied in order to a DWN that starts empty
// }
// Step = {
//   "tenant": DID the message is processed for,
//   "note": optional text,
//   "message": the message JSON exactly as given to Dwn.processMessage,
//   "data": optional, the record data streamed with the message:
//           {"seed": s, "size": n, "sha256": hex}  generated (rule below), or
//           {"base64url": b, "size": n, "sha256": hex}  small inline bytes,
//   "ids": {"messageCid", "descriptorCid"            -- Message.getCid, computeCid(descriptor)
//           Records.Write also: "recordId", "contextId"?, "author",
//           "entryId" (computeCid(descriptor + author)), "initialWrite" (entryId == recordId)}
//          (a "...Error" key replaces an identifier the SDK could not compute,
//           e.g. for a deliberately malformed message),
//   "reply": {"status": {"code", "detail"},
//             "entries"?: [...] in reply order (messages, or CIDs for Messages.Query),
//             "cursor"?: {...},
//             "entry"?: {... reply.entry with "data" replaced by {"sha256", "size"}},
//             "subscription"?: {"id"}},
//   "events"?: [{"subscriptionStep": index of the subscribe step,
//               "messageCid", "initialWriteCid"?}]  -- delivered to a
//               subscription while this step was processed, in order,
//   "nondeterministic"?: ["reply.cursor.value", ...]  -- dotted paths whose
//               value differs between runs (Messages.Query cursor values are
//               node-local ULIDs): compare presence and type only,
//   "lenient"?: text  -- the LevelDB store's answer is a documented quirk
//               (dwn-reference §8.3); another store may answer differently
// }
// Data generator: chunk i = SHA-256(UTF-8(seed) || uint32be(i)) for
// i = 0, 1, ...; data = the first `size` bytes of chunk 0 || chunk 1 || ...
// Timestamps: 2024-01-01T00:00:00.000000Z plus whole or fractional seconds.
// Keys: private key = SHA-256(UTF-8("anya-dwn-scenarios/key/" + label)),
// used as the Ed25519 seed or the secp256k1 scalar.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSdk, Scenario } from './harness.mjs';

const DATA_RULE = 'chunk i = SHA-256(UTF-8(seed) || uint32be(i)) for i = 0,1,...; data = first size bytes of chunk0||chunk1||...';

function parseArgs(argv) {
  const a = {};
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i];
    if (!k.startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument ${k}`);
    a[k.slice(2)] = argv[i + 1];
  }
  for (const k of ['npm-dir', 'work', 'out']) if (!a[k]) throw new Error(`--${k} is required`);
  return a;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  await loadSdk(args['npm-dir']);
  const all = [];
  for (const m of ['records', 'queries', 'protocols', 'permissions', 'messages']) {
    const mod = await import(`./scenarios-${m}.mjs`);
    all.push(...mod.scenarios);
  }
  const names = new Set();
  for (const s of all) {
    if (names.has(s.name)) throw new Error(`duplicate scenario name ${s.name}`);
    names.add(s.name);
  }
  const selected = args.only ? all.filter((s) => s.name.includes(args.only)) : all;
  const out = [];
  let n = 0;
  for (const spec of selected) {
    const sc = new Scenario(spec, join(args.work, `s${String(n++).padStart(3, '0')}`));
    await sc.open();
    try {
      await spec.run(sc);
    } finally {
      await sc.close();
    }
    out.push(sc.toJSON());
  }
  const doc = { format: 'anya-dwn-scenarios/1', sdk: '@tbd54566975/dwn-sdk-js@0.5.2', dataGenerator: DATA_RULE, scenarios: out };
  writeFileSync(args.out, JSON.stringify(doc, null, 1) + '\n');
  process.stderr.write(`gen: ${out.length} scenarios, ${out.reduce((a, s) => a + s.steps.length, 0)} steps\n`);
}

main().catch((e) => { process.stderr.write(`gen: ${e.stack ?? e}\n`); process.exit(1); });
