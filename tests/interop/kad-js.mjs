// JS side of tests/interop/kad-js.sh: a js-libp2p node with @libp2p/kad-dht
// 16.x in server mode (clientMode false, /ipfs/kad/1.0.0, loopback addresses
// kept) against a running anyad, driving anyad through the `anya` CLI.
//   node kad-js.mjs ANYA ANYAD_MULTIADDR CID_ON_ANYAD CID_FOR_JS
// (ANYA_REPO in the environment names anyad's repository.)
// Checks, each printed on a line, exit 1 on the first failure:
//   1. both routing tables hold the other (identify lists the kad protocol)
//   2. FIND_NODE js -> anyad: getClosestPeers gets a PEER_RESPONSE from anyad
//   3. provide on anyad (`anya routing provide`): anyad's walk sends FIND_NODE
//      to js and must have its answer before js takes the ADD_PROVIDER;
//      js findProviders then lists anyad
//   4. provide on js: `anya routing findprovs` prints js's peer ID
//   5. FIND_NODE anyad -> js: a second js node B (no DHT) knows only the first;
//      `anya routing findpeer B` (anyad never connected to B) prints B's
//      address, which only the first js node's FIND_NODE answer carries
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'

// node 20 lacks Promise.withResolvers (ES2024), which it-queue (under the peer
// store's mortice) calls at run time; the same thing, written out:
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function () {
    let resolve, reject
    const promise = new Promise((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}

const [ANYA, ANYAD_MA, CID_ANYAD, CID_JS] = process.argv.slice(2)
const STEP_MS = 30000

function fail (msg) {
  console.error(`FAIL: ${msg}`)
  process.exit(1)
}

// asynchronous: the node must keep answering anyad while `anya` runs
const execFileAsync = promisify(execFile)
async function anya (...args) {
  const { stdout } = await execFileAsync(ANYA, args, { encoding: 'utf8', timeout: 90000 })
  return stdout
}

async function until (what, fn, onTimeout) {
  const end = Date.now() + STEP_MS
  while (Date.now() < end) {
    if (await fn()) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  fail(`timed out: ${what}${onTimeout ? ' (' + onTimeout() + ')' : ''}`)
}

async function withTimeout (p, what) {
  let timer
  const t = new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), STEP_MS) })
  try { return await Promise.race([p, t]) } finally { clearTimeout(timer) }
}

function makeNode (dht) {
  const services = { identify: identify(), ping: ping() }
  if (dht) services.dht = kadDHT({ protocol: '/ipfs/kad/1.0.0', clientMode: false, peerInfoMapper: passthroughMapper })
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services
  })
}
const node = await makeNode(true)
// B has no DHT of its own, so it never walks the DHT and never meets anyad
const other = await makeNode(false)
await node.start()
await other.start()
const dht = node.services.dht
const anyadMa = multiaddr(ANYAD_MA)
const anyadId = peerIdFromString(anyadMa.getComponents().find((c) => c.name === 'p2p').value)

try {
  // 1. tables
  await withTimeout(node.dial(anyadMa), 'dial anyad')
  await until('anyad in js routing table', () => dht.routingTable.find(anyadId) != null)
  console.log('ok 1 js routing table holds anyad')

  // 2. FIND_NODE js -> anyad
  let answered = false
  for await (const ev of dht.getClosestPeers(node.peerId.toMultihash().bytes, { signal: AbortSignal.timeout(STEP_MS) })) {
    if (ev.name === 'PEER_RESPONSE' && ev.from.equals(anyadId)) answered = true
  }
  if (!answered) fail('anyad did not answer FIND_NODE')
  console.log('ok 2 FIND_NODE js -> anyad answered')

  // 3. provide on anyad, found by js
  let lastError = ''
  await until('js in anyad routing table (anya routing provide works)', async () => {
    try { await anya('routing', 'provide', CID_ANYAD); return true } catch (e) { lastError = String(e.stderr || e).trim(); return false }
  }, () => `last: ${lastError}`)
  let found = false
  for await (const ev of dht.findProviders(CID.parse(CID_ANYAD), { signal: AbortSignal.timeout(STEP_MS) })) {
    if (ev.name === 'PROVIDER' && ev.providers.some((p) => p.id.equals(anyadId))) { found = true; break }
  }
  if (!found) fail('js findProviders did not list anyad')
  console.log('ok 3 provide on anyad (FIND_NODE anyad -> js, ADD_PROVIDER), js findProviders finds it')

  // 4. provide on js, found by anyad
  for await (const ev of dht.provide(CID.parse(CID_JS), { signal: AbortSignal.timeout(STEP_MS) })) { void ev }
  const out = (await anya('routing', 'findprovs', CID_JS)).trim().split('\n').filter((l) => l)
  if (!out.includes(node.peerId.toString())) fail(`anya routing findprovs printed ${JSON.stringify(out)}, not ${node.peerId}`)
  console.log('ok 4 provide on js, anya routing findprovs finds it')

  // 5. FIND_NODE anyad -> js: B is known to js only
  await withTimeout(other.dial(node.getMultiaddrs()[0]), 'dial js from js')
  await until('js knows B\'s addresses', async () => (await node.peerStore.get(other.peerId).catch(() => null))?.addresses?.length > 0)
  if (node.getConnections(anyadId).length === 0) fail('js lost its connection to anyad')
  if (other.getConnections(anyadId).length !== 0) fail('B met anyad before the walk')
  const addrs = (await anya('routing', 'findpeer', other.peerId.toString())).trim().split('\n')
  const port = other.getMultiaddrs()[0].toString().match(/\/tcp\/(\d+)/)[1]
  if (!addrs.some((a) => a.startsWith('/ip4/127.0.0.1/tcp/' + port))) fail(`anya routing findpeer B printed ${JSON.stringify(addrs)}, not port ${port}`)
  if (other.getConnections(anyadId).length !== 0) fail('anyad connected to B (the walk should stop at js\'s answer)')
  console.log('ok 5 FIND_NODE anyad -> js: anya routing findpeer finds a peer only js knows')
} catch (e) {
  fail(e.stack ?? String(e))
} finally {
  await node.stop()
  await other.stop()
}
console.log('ok all')
