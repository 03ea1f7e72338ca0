// The oracle for tests/interop/dwn-cbor.sh: dag-cbor bytes and DWN identifiers
// as dwn-sdk-js 0.5.2 (with its @ipld/dag-cbor 9.0.3) computes them.
//
// Usage: node dwn-cbor.mjs SEED VALUES BIG_DATA_BYTES
// Prints one JSON object a line (vectors for tests/interop/check_dwn_cbor.c):
//   {"kind":"value","value":V,"cbor":HEX,"cid":CID}
//       V is the JSON text of a random value as JSON.parse gives it back;
//       cbor = dag-cbor encode of it, cid = Cid.computeCid of it.
//   {"kind":"message","type":"RecordsWrite"|...,"message":M,"cbor":HEX,"cid":CID,
//    "descriptorCid":CID,"messageCid":CID[,"author":DID,"entryId":CID,"initial":BOOL,
//    "dataSeed":S,"dataSize":N]}
//       M is built by the dwn-sdk-js builders; messageCid = Message.getCid(M);
//       for RecordsWrite entryId = RecordsWrite.getEntryId(Message.getAuthor(M),
//       M.descriptor), and the record's data is data(dataSeed, dataSize) below.
//   {"kind":"decorated","message":M,"sdkMessageCid":CID,"strippedCid":CID}
//       M carries top-level encodedData and/or initialWrite as replies do;
//       sdkMessageCid = Message.getCid(M) (strips encodedData only when truthy),
//       strippedCid = Cid.computeCid of M without both.
//   {"kind":"data","seed":S,"size":N,"dataCid":CID}
//       dataCid of data(S, N) by Cid.computeDagPbCidFromBytes (small) or
//       Cid.computeDagPbCidFromStream (large): ipfs-unixfs-importer {cidVersion: 1}.
//
// Everything is deterministic for a given SEED: values come from a seeded
// xorshift128+ generator, personas are did:key Ed25519 keys whose private
// bytes come from it, timestamps are fixed, Ed25519 signatures are
// deterministic.  data(S, N) = the first N bytes of
// SHA-256(S ‖ be64(0)) ‖ SHA-256(S ‖ be64(1)) ‖ ...  (S as UTF-8).
import { createHash } from 'node:crypto'
import * as cbor from '@ipld/dag-cbor'
import { Ed25519 } from '@web5/crypto'
import { DidKey, DidKeyUtils } from '@web5/dids'
import {
  Cid, Message, MessagesQuery, PermissionsProtocol, PrivateKeySigner, ProtocolsConfigure,
  ProtocolsQuery, RecordsDelete, RecordsQuery, RecordsWrite, DataStream
} from '@tbd54566975/dwn-sdk-js'

const [seedArg = '1', valuesArg = '2000', bigArg = '45613057'] = process.argv.slice(2)

// ---- deterministic randomness ----
let s0 = 0x9e3779b97f4a7c15n ^ BigInt(Number(seedArg) >>> 0)
let s1 = 0xbf58476d1ce4e5b9n ^ (BigInt(Number(seedArg) >>> 0) << 17n)
const M64 = (1n << 64n) - 1n
function next64 () {
  let x = s0
  const y = s1
  s0 = y
  x ^= (x << 23n) & M64
  s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n)
  return (s1 + y) & M64
}
for (let i = 0; i < 16; i++) next64()
const rand = () => Number(next64() >> 11n) / 2 ** 53 // [0, 1)
const randInt = (n) => Math.floor(rand() * n) // [0, n)
const pick = (a) => a[randInt(a.length)]
function randBytes (n) {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = Number(next64() & 0xffn)
  return b
}

const hex = (bytes) => Buffer.from(bytes).toString('hex')
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

// ---- random JSON values ----
const codePointPools = [
  [0x20, 0x7e], // ASCII printable
  [0x00, 0x1f], // controls (NUL only in string values, see below)
  [0xa0, 0x17f], // Latin-1, Latin Extended-A (2-byte UTF-8)
  [0x370, 0x3ff], // Greek
  [0x4e00, 0x4e80], // CJK (3 bytes)
  [0xe000, 0xe010], // private use right after the surrogates
  [0xfff0, 0xfffd], // end of the BMP
  [0x1f600, 0x1f64f], // emoji (4 bytes, surrogate pairs in UTF-16)
  [0x10fff0, 0x10ffff] // the last planes
]
function randString (maxLen, allowNul) {
  const len = randInt(maxLen + 1)
  let s = ''
  for (let i = 0; i < len; i++) {
    const pool = rand() < 0.6 ? codePointPools[0] : pick(codePointPools)
    let cp = pool[0] + randInt(pool[1] - pool[0] + 1)
    if (cp === 0 && !allowNul) cp = 0x30 // jansson refuses NUL in object keys
    s += String.fromCodePoint(cp)
  }
  return s
}
// Keys that collide in length so the bytewise tie-break matters.
const keyPool = ['a', 'b', 'z', 'A', 'aa', 'ab', 'ba', 'é', 'ü', 'ÿ', 'aaa', '€', '中', 'xyz',
  '😀', 'abcd', 'Ωmeg', 'descriptor', 'authorization', 'recordId', '', ' ', '0', '10', '9', '-1',
  'dataCid', 'dataSize', 'messageTimestamp', '\u007f', '\u0080', 'a\u0001', 'encodedData']
function randKey () {
  return rand() < 0.6 ? pick(keyPool) : randString(8, false)
}
const SAFE = Number.MAX_SAFE_INTEGER
const specialNumbers = [0, -0, 1, -1, 23, 24, -24, -25, 255, 256, 65535, 65536, 4294967295,
  4294967296, -4294967296, -4294967297, SAFE, -SAFE, SAFE - 1, SAFE + 1, -(SAFE + 1), 2 ** 53 + 2,
  2 ** 63, -(2 ** 63), 2 ** 64, 1e21, 123456789012345680000, 1.5, -1.5, 0.1, 0.5, 1e-7, 5e-324,
  -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308, 1e300, -1e300,
  3.141592653589793, 9007199254740991.5, 4503599627370495.5, 1e15 + 0.3]
function randNumber () {
  switch (randInt(6)) {
    case 0: return pick(specialNumbers)
    case 1: return randInt(1000) - 500
    case 2: return Math.floor((rand() - 0.5) * 2 ** (1 + randInt(53)))
    case 3: return (rand() - 0.5) * 10 ** (randInt(40) - 20)
    case 4: { // any finite double from random bits
      for (;;) {
        const v = new DataView(new Uint8Array(randBytes(8)).buffer).getFloat64(0)
        if (Number.isFinite(v)) return v
      }
    }
    default: return SAFE - randInt(5) + randInt(5) * (rand() < 0.5 ? 1 : -1) * (rand() < 0.5 ? 1 : 2)
  }
}
function randValue (depth) {
  const r = rand()
  if (depth > 5 || r < 0.45) {
    switch (randInt(5)) {
      case 0: return randNumber()
      case 1: return randString(12, true)
      case 2: return rand() < 0.5
      case 3: return null
      default: return randNumber()
    }
  }
  if (r < 0.7) {
    const n = rand() < 0.15 ? 0 : randInt(depth < 2 ? 30 : 6)
    const a = []
    for (let i = 0; i < n; i++) a.push(randValue(depth + 1))
    return a
  }
  const n = rand() < 0.15 ? 0 : randInt(depth < 2 ? 40 : 8)
  const entries = []
  for (let i = 0; i < n; i++) entries.push([randKey(), randValue(depth + 1)])
  return Object.fromEntries(entries)
}

async function emitValue (v) {
  const text = JSON.stringify(v)
  const parsed = JSON.parse(text) // what a DWN receives
  const bytes = cbor.encode(parsed)
  out({ kind: 'value', value: parsed, cbor: hex(bytes), cid: await Cid.computeCid(parsed) })
}

// ---- deterministic data and personas ----
function dataBytes (seed, size) {
  const outBytes = new Uint8Array(size)
  const ctr = Buffer.alloc(8)
  for (let i = 0, at = 0; at < size; i++, at += 32) {
    ctr.writeBigUInt64BE(BigInt(i))
    const block = createHash('sha256').update(seed, 'utf8').update(ctr).digest()
    outBytes.set(block.subarray(0, Math.min(32, size - at)), at)
  }
  return outBytes
}

async function persona () {
  const privateJwk = await Ed25519.bytesToPrivateKey({ privateKeyBytes: randBytes(32) })
  const publicKey = await Ed25519.computePublicKey({ key: privateJwk })
  const did = `did:key:${await DidKeyUtils.publicKeyToMultibaseId({ publicKey })}`
  const { didDocument } = await DidKey.resolve(did)
  const method = await DidKey.getSigningMethod({ didDocument })
  return {
    did,
    signer: new PrivateKeySigner({ privateJwk, algorithm: 'EdDSA', keyId: method.id })
  }
}

let clock = Date.UTC(2024, 4, 1, 10, 0, 0)
function timestamp () { // six fractional digits, as the schema demands
  clock += 1000 + randInt(100000)
  const micros = String(randInt(1000)).padStart(3, '0')
  return new Date(clock).toISOString().replace('Z', `${micros}Z`)
}

async function emitMessage (type, built, extra = {}) {
  const message = JSON.parse(JSON.stringify(built)) // as it travels: undefined members gone
  const line = {
    kind: 'message',
    type,
    message,
    cbor: hex(cbor.encode(message)),
    cid: await Cid.computeCid(message),
    descriptorCid: await Cid.computeCid(message.descriptor),
    messageCid: await Message.getCid(message),
    ...extra
  }
  if (type === 'RecordsWrite') {
    const author = Message.getAuthor(message)
    line.author = author
    line.entryId = await RecordsWrite.getEntryId(author, message.descriptor)
    line.initial = line.entryId === message.recordId
  }
  out(line)
}

const protocolUri = 'https://example.com/protocol/chat'
const definition = {
  protocol: protocolUri,
  published: true,
  types: {
    thread: { schema: 'https://example.com/schema/thread', dataFormats: ['application/json'] },
    message: { schema: 'https://example.com/schema/message', dataFormats: ['text/plain'] },
    participant: { schema: 'https://example.com/schema/participant', dataFormats: ['application/json'] }
  },
  structure: {
    thread: {
      $size: { max: 1000000 },
      participant: { $role: true },
      message: {
        $tags: { $requiredTags: ['lang'], lang: { type: 'string' }, score: { type: 'number', minimum: 0.5 } },
        $actions: [{ role: 'thread/participant', can: ['create', 'read', 'query', 'subscribe'] }, { who: 'anyone', can: ['read'] }]
      }
    }
  }
}

async function recordsWrite (author, opts, dataSeed, dataSize) {
  const data = dataBytes(dataSeed, dataSize)
  const t = timestamp()
  const w = await RecordsWrite.create({
    signer: author.signer,
    dataFormat: 'application/json',
    data,
    dateCreated: t,
    messageTimestamp: t,
    ...opts
  })
  await emitMessage('RecordsWrite', w.message, { dataSeed, dataSize })
  return w
}

async function messages () {
  const alice = await persona()
  const bob = await persona()
  const carol = await persona()
  let n = 0
  const sizes = [0, 1, 31, 32, 1000, 30000, 30001, 262144, 262145]
  for (let i = 0; i < 12; i++) {
    const size = sizes[i % sizes.length]
    const published = i % 3 === 0
    const t = timestamp()
    await recordsWrite(pick([alice, bob]), {
      schema: `https://example.com/schema/${i}`,
      recipient: i % 2 ? carol.did : undefined,
      tags: i % 4 === 1 ? { lang: 'en', score: 0.75, count: 3, flags: ['a', 'b'], big: SAFE + 1, neg: -2.5 } : undefined,
      published,
      datePublished: published ? t : undefined,
      dataFormat: i % 5 === 0 ? 'text/plain' : 'application/json'
    }, `record-${i}`, size)
    n++
  }
  // protocol records: a thread, a child, and an update of the thread
  const pc = await ProtocolsConfigure.create({ signer: alice.signer, definition, messageTimestamp: timestamp() })
  await emitMessage('ProtocolsConfigure', pc.message)
  const thread = await recordsWrite(alice, {
    protocol: protocolUri, protocolPath: 'thread', schema: 'https://example.com/schema/thread'
  }, 'thread', 100)
  await recordsWrite(bob, {
    protocol: protocolUri, protocolPath: 'thread/message', schema: 'https://example.com/schema/message',
    parentContextId: thread.message.contextId, dataFormat: 'text/plain', tags: { lang: 'de', score: 1 }
  }, 'message', 17)
  const update = await RecordsWrite.createFrom({
    recordsWriteMessage: thread.message, data: dataBytes('thread-v2', 300000), signer: alice.signer,
    messageTimestamp: timestamp()
  })
  await emitMessage('RecordsWrite', update.message, { dataSeed: 'thread-v2', dataSize: 300000 })
  // attested write
  await recordsWrite(alice, { schema: 'https://example.com/attested', attestationSigners: [carol.signer] }, 'attested', 64)
  // author-delegated write: bob writes on alice's behalf with a delegated grant
  const grant = await PermissionsProtocol.createGrant({
    signer: alice.signer, grantedTo: bob.did, dateGranted: timestamp(), dateExpires: '2030-01-01T00:00:00.000000Z',
    delegated: true, scope: { interface: 'Records', method: 'Write', protocol: protocolUri },
    description: 'delegate ✓'
  })
  await emitMessage('RecordsWrite', grant.recordsWrite.message, { dataSeed: '', dataSize: -1 })
  await recordsWrite(bob, {
    protocol: protocolUri, protocolPath: 'thread', schema: 'https://example.com/schema/thread',
    delegatedGrant: grant.dataEncodedMessage
  }, 'delegated', 42)
  const rq = await RecordsQuery.create({
    signer: bob.signer, messageTimestamp: timestamp(),
    filter: { protocol: protocolUri, dataSize: { gte: 10, lt: 262145 }, tags: { score: { gt: 0.5 }, lang: 'en' } },
    dateSort: 'createdDescending', pagination: { limit: 20 }
  })
  await emitMessage('RecordsQuery', rq.message)
  const anon = await RecordsQuery.create({ messageTimestamp: timestamp(), filter: { schema: 'https://example.com/schema/1' } })
  await emitMessage('RecordsQuery', anon.message)
  const rd = await RecordsDelete.create({ signer: alice.signer, recordId: thread.message.recordId, prune: true, messageTimestamp: timestamp() })
  await emitMessage('RecordsDelete', rd.message)
  const pq = await ProtocolsQuery.create({ signer: carol.signer, filter: { protocol: protocolUri }, messageTimestamp: timestamp() })
  await emitMessage('ProtocolsQuery', pq.message)
  const mq = await MessagesQuery.create({
    signer: alice.signer, messageTimestamp: timestamp(),
    filters: [{ interface: 'Records', method: 'Write', protocol: protocolUri }, { messageTimestamp: { from: '2024-01-01T00:00:00.000000Z' } }]
  })
  await emitMessage('MessagesQuery', mq.message)
  // replies and the store decorate messages: what Message.getCid makes of that
  const decorations = [
    { encodedData: 'aGVsbG8' },
    { encodedData: '' }, // falsy: Message.getCid keeps it
    { initialWrite: thread.message }, // Message.getCid keeps it too
    { encodedData: 'eA', initialWrite: thread.message }
  ]
  for (const d of decorations) {
    const decorated = { ...update.message, ...d }
    const stripped = { ...decorated }
    delete stripped.encodedData
    delete stripped.initialWrite
    out({ kind: 'decorated', message: decorated, sdkMessageCid: await Message.getCid(decorated), strippedCid: await Cid.computeCid(stripped) })
  }
  return n
}

async function dataVectors () {
  for (const size of [0, 1, 1000, 262143, 262144, 262145, 524288, 1048577]) {
    const seed = `data-${size}`
    out({ kind: 'data', seed, size, dataCid: await Cid.computeDagPbCidFromBytes(dataBytes(seed, size)) })
  }
  const big = Number(bigArg)
  if (big > 0) {
    const seed = 'big'
    async function * chunks () { // streamed in 1 MiB pieces, as a request body would be
      const piece = 1 << 20
      const all = dataBytes(seed, big)
      for (let at = 0; at < big; at += piece) yield all.subarray(at, Math.min(big, at + piece))
    }
    out({ kind: 'data', seed, size: big, dataCid: await Cid.computeDagPbCidFromStream(chunks()) })
  }
  // the same through DataStream, the SDK's own stream type
  const s = dataBytes('stream', 700000)
  out({ kind: 'data', seed: 'stream', size: s.length, dataCid: await Cid.computeDagPbCidFromStream(DataStream.fromBytes(s)) })
}

// fixed edge values first, then random ones
const fixed = [null, true, false, 0, -0, 1.0, 1.5, -1.5, SAFE, SAFE + 1, -SAFE, -(SAFE + 1), 1e300, 5e-324,
  '', 'a', '\u0000', '😀', [], {}, [[]], [{}], { '': 0 }, { b: 1, a: 2, aa: 3, é: 4, z: 5, ab: 6 },
  { '😀': 1, '中': 2, é: 3, a: 4 }, { ['\uE000']: 1, ['\uFFFD']: 2, ['\u{10000}']: 3 }]
for (const v of fixed) await emitValue(v)
for (let i = 0; i < Number(valuesArg); i++) await emitValue(randValue(0))
await messages()
await dataVectors()
