// The reference side of tests/bench/dwn_bench.c: the same workload on
// dwn-sdk-js 0.5.2's Dwn with its LevelDB stores (MessageStoreLevel,
// DataStoreLevel, EventLogLevel, ResumableTaskStoreLevel) in WORK_DIR.
//   node dwn-sdk-bench.mjs NPM_DIR WORK_DIR [RECORDS]
// Messages are built (RecordsWrite.create, signed) before the clock starts;
// signing is timed on its own (sign_per_s).  Then: 500 RecordsWrites one
// after the other (seq_per_s); 1000 with 16 in flight (conc_per_s); writes up
// to RECORDS (16 in flight, untimed); 200 RecordsQuery by one schema of 10,
// limit 20 (query_p50_us, query_p99_us); one 10 MiB record read back 5 times
// with RecordsRead, the stream drained (read_mb_per_s).  Prints one line of
// key=value pairs, the names dwn_bench prints.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';

const [npmDir, work, recordsArg] = process.argv.slice(2);
const total = Number(recordsArg ?? 10000);
const SEQUENTIAL = 500, CONCURRENT = 1000, THREADS = 16, SCHEMAS = 10, DATA_BYTES = 256;
const QUERIES = 200, LIMIT = 20, READ_BYTES = 10 << 20, READS = 5;
if (!(total >= SEQUENTIAL + CONCURRENT)) throw new Error(`RECORDS must be at least ${SEQUENTIAL + CONCURRENT}`);

const sdkUrl = pathToFileURL(join(npmDir, 'node_modules/@tbd54566975/dwn-sdk-js/dist/esm/src/index.js')).href;
const sdk = await import(sdkUrl);
const realClock = sdk.Time.getCurrentTimestamp;
const harness = await import(pathToFileURL(join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../interop/dwn/harness.mjs')).href);
await harness.loadSdk(npmDir);
sdk.Time.getCurrentTimestamp = realClock; // the harness pins the clock for its scenarios; here time runs
const alice = await harness.identity('alice');

mkdirSync(work, { recursive: true });
const messageStore = new sdk.MessageStoreLevel({ blockstoreLocation: join(work, 'MESSAGESTORE'), indexLocation: join(work, 'INDEX') });
const dataStore = new sdk.DataStoreLevel({ blockstoreLocation: join(work, 'DATASTORE') });
const eventLog = new sdk.EventLogLevel({ location: join(work, 'EVENTLOG') });
const resumableTaskStore = new sdk.ResumableTaskStoreLevel({ location: join(work, 'RESUMABLE-TASK-STORE') });
const dwn = await sdk.Dwn.create({ didResolver: harness.resolver(), messageStore, dataStore, eventLog, resumableTaskStore });

function fill(len, seed) {
  const out = Buffer.alloc(len);
  let x = 0x9E3779B97F4A7C15n ^ ((BigInt(seed) * 0xBF58476D1CE4E5B9n) & 0xFFFFFFFFFFFFFFFFn);
  for (let i = 0; i < len; i++) {
    x ^= (x << 13n) & 0xFFFFFFFFFFFFFFFFn; x ^= x >> 7n; x ^= (x << 17n) & 0xFFFFFFFFFFFFFFFFn;
    out[i] = Number(x & 0xFFn);
  }
  return out;
}
const now = () => process.hrtime.bigint();
const us = (a, b) => Number(b - a) / 1000;

const records = [];
let t0 = now();
for (let i = 0; i < total; i++) {
  const data = fill(DATA_BYTES, i);
  const w = await sdk.RecordsWrite.create({
    data, dataFormat: 'application/octet-stream', schema: `https://example.com/schema/${i % SCHEMAS}`, signer: alice.signer,
  });
  records.push({ message: w.message, data });
}
const signS = us(t0, now()) / 1e6;

async function write(r) {
  const reply = await dwn.processMessage(alice.did, r.message, { dataStream: sdk.DataStream.fromBytes(r.data) });
  if (reply.status.code !== 202) throw new Error(`write answered ${reply.status.code} ${reply.status.detail}`);
}
async function writeAll(from, to, inFlight) {
  let next = from;
  const worker = async () => { while (next < to) await write(records[next++]); };
  const a = now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  return us(a, now()) / 1e6;
}
const seqS = await writeAll(0, SEQUENTIAL, 1);
const concS = await writeAll(SEQUENTIAL, SEQUENTIAL + CONCURRENT, THREADS);
await writeAll(SEQUENTIAL + CONCURRENT, total, THREADS);

const queries = [];
const base = Date.now();
for (let q = 0; q < QUERIES; q++) {
  const ts = new Date(base + q).toISOString().slice(0, 23) + '000Z'; // distinct messages
  queries.push((await sdk.RecordsQuery.create({
    filter: { schema: 'https://example.com/schema/3' }, pagination: { limit: LIMIT }, signer: alice.signer, messageTimestamp: ts,
  })).message);
}
const lat = [];
for (const q of queries) {
  const a = now();
  const reply = await dwn.processMessage(alice.did, q);
  lat.push(us(a, now()));
  if (reply.status.code !== 200 || reply.entries.length !== LIMIT) throw new Error(`query answered ${reply.status.code}, ${reply.entries?.length} entries`);
}
lat.sort((a, b) => a - b);

const big = fill(READ_BYTES, 424242);
const bw = await sdk.RecordsWrite.create({ data: big, dataFormat: 'application/octet-stream', signer: alice.signer });
await write({ message: bw.message, data: big });
let readUs = 0;
for (let r = 0; r < READS; r++) {
  const rm = (await sdk.RecordsRead.create({ filter: { recordId: bw.message.recordId }, signer: alice.signer })).message;
  const a = now();
  const reply = await dwn.processMessage(alice.did, rm);
  if (reply.status.code !== 200) throw new Error(`read answered ${reply.status.code}`);
  let size = 0;
  for await (const chunk of reply.entry.data) size += chunk.length;
  readUs += us(a, now());
  if (size !== READ_BYTES) throw new Error(`read returned ${size} bytes`);
}
await dwn.close();
console.log(`records=${total} sign_per_s=${(total / signS).toFixed(0)} seq_per_s=${(SEQUENTIAL / seqS).toFixed(1)} ` +
  `conc_per_s=${(CONCURRENT / concS).toFixed(1)} threads=${THREADS} query_p50_us=${Math.round(lat[QUERIES >> 1])} ` +
  `query_p99_us=${Math.round(lat[Math.floor(QUERIES * 99 / 100)])} query_max_us=${Math.round(lat[QUERIES - 1])} ` +
  `read_mb_per_s=${(READ_BYTES * READS / 1e6 / (readUs / 1e6)).toFixed(0)}`);
