// The SDK side of tests/interop/dwn-build.sh: sends the messages built and
// signed in C (check_dwn_build's output) to dwn-sdk-js 0.5.2's Dwn over
// LevelDB stores in WORK_DIR, with the same data, and requires every reply to
// equal the C engine's: status code and detail code (the text before ": "),
// entries, cursor (Messages.Query: its messageCid; the value is a node-local
// ULID), entry (with the returned data compared by sha256 and size).  Steps
// marked engine501ok may have a C reply of 501 (not implemented yet); the SDK
// must then still give `expect`.
// Usage: node dwn-build.mjs NPM_DIR STEPS.json WORK_DIR
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { loadSdk, resolver, sdk } from './dwn/harness.mjs';

const [npmDir, stepsFile, work] = process.argv.slice(2);
await loadSdk(npmDir);
const doc = JSON.parse(readFileSync(stepsFile, 'utf8'));

const messageStore = new sdk.MessageStoreLevel({ blockstoreLocation: join(work, 'MESSAGESTORE'), indexLocation: join(work, 'INDEX') });
const dataStore = new sdk.DataStoreLevel({ blockstoreLocation: join(work, 'DATASTORE') });
const eventLog = new sdk.EventLogLevel({ location: join(work, 'EVENTLOG') });
const resumableTaskStore = new sdk.ResumableTaskStoreLevel({ location: join(work, 'RESUMABLE-TASK-STORE') });
const dwn = await sdk.Dwn.create({ didResolver: resolver(), messageStore, dataStore, eventLog, resumableTaskStore });

// Canonical JSON: keys sorted at every level.
const canon = (x) => JSON.stringify(x, (k, v) =>
  v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((key) => [key, v[key]])) : v);
const code = (detail) => { const i = (detail ?? '').indexOf(': '); return i < 0 ? detail : detail.slice(0, i); };

async function drain(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  const all = Buffer.concat(chunks);
  return { sha256: createHash('sha256').update(all).digest('hex'), size: all.length };
}

let failures = 0;
for (const step of doc.steps) {
  const fail = (why) => { failures++; console.log(`FAIL ${step.name}: ${why}`); };
  const opts = {};
  if (step.data !== undefined) opts.dataStream = sdk.DataStream.fromBytes(Buffer.from(step.data, 'base64url'));
  const live = await dwn.processMessage(step.tenant, JSON.parse(JSON.stringify(step.message)), opts);
  if (live.entry?.data) live.entry.data = await drain(live.entry.data);
  const got = JSON.parse(JSON.stringify(live));
  const want = step.reply;
  if (got.status.code !== step.expect) { fail(`the SDK answered ${got.status.code} ${got.status.detail}, want ${step.expect}`); continue; }
  if (step.engine501ok && want.status.code === 501) { console.log(`PASS ${step.name} (SDK ${step.expect}; the C engine: 501 not implemented)`); continue; }
  if (got.status.code !== want.status.code || code(got.status.detail) !== code(want.status.detail)) {
    fail(`status: SDK ${got.status.code} "${got.status.detail}", C ${want.status.code} "${want.status.detail}"`);
    continue;
  }
  if (canon(got.entries) !== canon(want.entries)) { fail(`entries:\n  SDK ${canon(got.entries)}\n  C   ${canon(want.entries)}`); continue; }
  const isMessagesQuery = step.message.descriptor.interface === 'Messages' && step.message.descriptor.method === 'Query';
  const cursor = (c) => (isMessagesQuery && c ? c.messageCid : c);
  if (canon(cursor(got.cursor)) !== canon(cursor(want.cursor))) { fail(`cursor: SDK ${canon(got.cursor)}, C ${canon(want.cursor)}`); continue; }
  if (canon(got.entry) !== canon(want.entry)) { fail(`entry:\n  SDK ${canon(got.entry)}\n  C   ${canon(want.entry)}`); continue; }
  console.log(`PASS ${step.name} (${got.status.code})`);
}
await dwn.close();
console.log(`dwn-build: ${doc.steps.length - failures} of ${doc.steps.length} C-built messages get the same reply from the SDK`);
process.exit(failures ? 1 : 0);
