// JS side of tests/interop/ipns-dht.sh: Helia 7 with @helia/ipns 10 over
// js-libp2p's kad-dht (server mode, /ipfs/kad/1.0.0, loopback addresses kept,
// no bootstrap, no delegated HTTP routing: anyad is its only peer), against a
// running anyad driven through the `anya` CLI and its gateway.
//   node ipns-dht.mjs ANYA ANYAD_MULTIADDR GATEWAY_PORT FILE_A FILE_B CID_A CID_B [MOUNT]
// (ANYA_REPO in the environment names anyad's repository; FILE_A and FILE_B
// were added to anyad as CID_A and CID_B; MOUNT, when given, is anyad's FUSE mount.)
// Checks, each printed on a line, exit 1 on the first failure:
//   1. Helia adds FILE_A and FILE_B and gets the CIDs anyad got; both DHT
//      routing tables hold the other
//   2. `anya name publish CID_A` on anyad: its PUT_VALUE is in js's DHT store,
//      and Helia resolves the k51 name over the DHT to /ipfs/CID_A (sequence 0)
//   3. a second `anya name publish CID_B`: Helia resolves /ipfs/CID_B (sequence 1)
//   4. Helia publishes its name for CID_B: `anya name resolve <k51…>` prints
//      /ipfs/CID_B, the gateway's /ipns/<name> serves FILE_B, and (MOUNT)
//      MOUNT/ipns/<name> holds FILE_B
//   5. Helia publishes CID_A (the next sequence): anyad resolves /ipfs/CID_A, the
//      gateway serves FILE_A
//   6. PUT_VALUE of that record again: anyad echoes it (the control); then
//      PUT_VALUE of a tampered copy (a signature bit flipped) and of a record
//      for the name signed by another key, both with a higher sequence:
//      anyad answers neither, and still resolves /ipfs/CID_A
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createHeliaLight, withOwnLibp2p } from './helia-lib.mjs'
import { unixfs } from '@helia/unixfs'
import { ipns, createIPNSRecord, IPNSEntry, multihashToIPNSRoutingKey } from '@helia/ipns'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { base36 } from 'multiformats/bases/base36'
import { base32 } from 'multiformats/bases/base32'

// Helia 7 without its Node 22 defaults, and the Node 20 polyfill: helia-lib.mjs.
const nodeModules = new URL('./node_modules/', import.meta.url)
const { Key } = await import(new URL('interface-datastore/dist/src/index.js', nodeModules))

const [ANYA, ANYAD_MA, GW_PORT, FILE_A, FILE_B, CID_A, CID_B, MOUNT] = process.argv.slice(2)
const STEP_MS = 30000
const TTL_MS = 1 // anyad and Helia cache a name for its TTL: 1 ms, so every resolve asks again

function fail (msg) {
  console.error(`FAIL: ${msg}`)
  process.exit(1)
}

// `anya` runs asynchronously: anyad's DHT requests to this node during a
// command need this process's event loop (execFileSync would block it)
function anya (...args) {
  return new Promise((resolve, reject) => {
    execFile(ANYA, args, { encoding: 'utf8', timeout: 90000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`anya ${args.join(' ')}: ${stderr.trim() || err.message}`))
      else resolve(stdout)
    })
  })
}

async function until (what, fn) {
  const end = Date.now() + STEP_MS
  let last
  while (Date.now() < end) {
    try {
      if (await fn()) return
    } catch (e) { last = e }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  fail(`timed out: ${what}${last ? ` (last error: ${last.message ?? last})` : ''}`)
}

const bytesA = readFileSync(FILE_A)
const bytesB = readFileSync(FILE_B)
const helia = withOwnLibp2p(createHeliaLight({}), {
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    ping: ping(),
    dht: kadDHT({ protocol: '/ipfs/kad/1.0.0', clientMode: false, peerInfoMapper: passthroughMapper })
  }
})
await helia.start()
const name = ipns(helia) // installs the ipns validator and selector into the kad-dht
const fs = unixfs(helia)
const dht = helia.libp2p.services.dht
const anyadMa = multiaddr(ANYAD_MA)
const anyadId = peerIdFromString(anyadMa.getComponents().find((c) => c.name === 'p2p').value)

async function heliaResolve (k51) {
  let last
  for await (const r of name.resolve(k51, { nocache: true, signal: AbortSignal.timeout(STEP_MS) })) last = r
  return last
}

async function gateway (ipnsName) {
  const res = await fetch(`http://127.0.0.1:${GW_PORT}/ipns/${ipnsName}`, { signal: AbortSignal.timeout(STEP_MS) })
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) }
}

/* the events of one PUT_VALUE round from the kad-dht: did anyad echo it, did it fail */
async function putToAnyad (routingKey, bytes) {
  let echoed = false
  let failed = false
  for await (const ev of dht.put(routingKey, bytes, { signal: AbortSignal.timeout(STEP_MS) })) {
    if (ev.from == null || !ev.from.equals(anyadId)) continue
    if (ev.name === 'PEER_RESPONSE' && String(ev.messageName) === 'PUT_VALUE') echoed = true
    if (ev.name === 'QUERY_ERROR') failed = true
  }
  return { echoed, failed }
}

try {
  // 1. the same CIDs; the routing tables
  const cidA = await fs.addBytes(bytesA)
  const cidB = await fs.addBytes(bytesB)
  if (cidA.toString() !== CID_A || cidB.toString() !== CID_B) fail(`Helia added ${cidA} ${cidB}, anyad ${CID_A} ${CID_B}`)
  await helia.libp2p.dial(anyadMa, { signal: AbortSignal.timeout(STEP_MS) })
  await until('anyad in the js routing table', () => dht.routingTable.find(anyadId) != null)
  // `anya routing provide` fails while anyad's routing table is empty
  await until('js in anyad\'s routing table (anya routing provide works)', async () => { await anya('routing', 'provide', CID_A); return true })
  console.log('ok 1 the same CIDs on both sides; both routing tables hold the other')

  // 2. anyad publishes, Helia resolves
  let out = (await anya('name', 'publish', '--ttl', '1ms', CID_A)).trim()
  const m = /^Published to (k51[a-z0-9]+): \/ipfs\/(\S+)$/.exec(out)
  if (!m || m[2] !== CID_A) fail(`anya name publish printed ${JSON.stringify(out)}`)
  const anyadName = m[1]
  // anyad's PUT_VALUE reached this node's DHT store (kad-dht keeps records under /dht/record/<base32 key>)
  const anyadKey = multihashToIPNSRoutingKey(peerIdFromString(anyadName).toMultihash())
  const anyadDsKey = new Key(`/dht/record/${base32.encode(anyadKey).slice(1)}`)
  await until('anyad\'s record in the js DHT store (PUT_VALUE from anyad)', () => helia.datastore.has(anyadDsKey))
  let r = await heliaResolve(anyadName)
  if (r.value !== `/ipfs/${CID_A}`) fail(`Helia resolved ${anyadName} to ${r.value}, not /ipfs/${CID_A}`)
  if (r.record.sequence !== 0n) fail(`sequence ${r.record.sequence}, not 0`)
  console.log(`ok 2 anya name publish (PUT_VALUE to js): Helia resolves ${anyadName} to /ipfs/${CID_A}`)

  // 3. a higher sequence wins in Helia
  out = (await anya('name', 'publish', '--ttl', '1ms', CID_B)).trim()
  if (out !== `Published to ${anyadName}: /ipfs/${CID_B}`) fail(`second publish printed ${JSON.stringify(out)}`)
  r = await heliaResolve(anyadName)
  if (r.value !== `/ipfs/${CID_B}` || r.record.sequence !== 1n) fail(`Helia resolved ${r.value} sequence ${r.record.sequence} after the second publish`)
  console.log('ok 3 a second publish (sequence 1) wins in Helia')

  // 4. Helia publishes, anyad resolves; the gateway and the mount serve it
  const pub = await name.publish('anya-interop', cidB, { ttl: TTL_MS, signal: AbortSignal.timeout(STEP_MS) })
  const heliaName = pub.publicKey.toCID().toString(base36) // k51… (a base36 libp2p-key CID)
  if (!heliaName.startsWith('k51')) fail(`Helia's name ${heliaName} is not k51…`)
  out = (await anya('name', 'resolve', heliaName)).trim()
  if (out !== `/ipfs/${CID_B}`) fail(`anya name resolve ${heliaName} printed ${JSON.stringify(out)}`)
  let g = await gateway(heliaName)
  if (g.status !== 200 || !g.body.equals(bytesB)) fail(`gateway /ipns/${heliaName}: ${g.status}, ${g.body.length} bytes`)
  if (MOUNT) {
    const viaMount = readFileSync(`${MOUNT}/ipns/${heliaName}`)
    if (!viaMount.equals(bytesB)) fail(`${MOUNT}/ipns/${heliaName} holds ${viaMount.length} other bytes`)
    console.log(`ok 4 Helia publishes ${heliaName}: anya name resolve, the gateway's /ipns/ and the mount's ipns/ give /ipfs/${CID_B}`)
  } else {
    console.log(`ok 4 Helia publishes ${heliaName}: anya name resolve and the gateway's /ipns/ give /ipfs/${CID_B} (mount not checked)`)
  }

  // 5. a higher sequence wins in anyad
  const pub2 = await name.publish('anya-interop', cidA, { ttl: TTL_MS, signal: AbortSignal.timeout(STEP_MS) })
  if (pub2.record.sequence !== pub.record.sequence + 1n) fail(`Helia's records have sequences ${pub.record.sequence} then ${pub2.record.sequence}`)
  out = (await anya('name', 'resolve', heliaName)).trim()
  if (out !== `/ipfs/${CID_A}`) fail(`after Helia's second publish anya name resolve printed ${JSON.stringify(out)}`)
  g = await gateway(heliaName)
  if (g.status !== 200 || !g.body.equals(bytesA)) fail(`gateway /ipns/${heliaName} after the second publish: ${g.status}`)
  console.log(`ok 5 Helia's second publish (sequence ${pub2.record.sequence}) wins in anyad`)

  // 6. PUT_VALUE: the valid record is echoed, tampered ones are refused
  const routingKey = multihashToIPNSRoutingKey(pub2.publicKey.toMultihash())
  const good = IPNSEntry.encode(pub2.record)
  let put = await putToAnyad(routingKey, good)
  if (!put.echoed) fail('anyad did not echo the PUT_VALUE of a valid record (the control)')
  const priv = await helia.keychain.exportKey('anya-interop')
  const higher = await createIPNSRecord(priv, `/ipfs/${CID_B}`, 7n, 3600000, { ttlNs: 1000000n })
  const flipped = { ...higher, signatureV2: Uint8Array.from(higher.signatureV2) }
  flipped.signatureV2[5] ^= 0x01
  put = await putToAnyad(routingKey, IPNSEntry.encode(flipped))
  if (put.echoed || !put.failed) fail(`a tampered record: anyad echoed ${put.echoed}, failed ${put.failed}`)
  const stranger = await generateKeyPair('Ed25519')
  const foreign = await createIPNSRecord(stranger, `/ipfs/${CID_B}`, 8n, 3600000, { ttlNs: 1000000n })
  put = await putToAnyad(routingKey, IPNSEntry.encode(foreign))
  if (put.echoed || !put.failed) fail(`a record signed by another key: anyad echoed ${put.echoed}, failed ${put.failed}`)
  out = (await anya('name', 'resolve', heliaName)).trim()
  if (out !== `/ipfs/${CID_A}`) fail(`after the tampered PUT_VALUEs anya name resolve printed ${JSON.stringify(out)}`)
  console.log('ok 6 PUT_VALUE: a valid record echoed; a tampered one and one signed by another key refused')
} catch (e) {
  fail(e.stack ?? String(e))
} finally {
  await helia.stop()
}
console.log('ok all')
