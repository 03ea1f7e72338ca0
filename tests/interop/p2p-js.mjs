// JS side of tests/interop/p2p-js.sh: a js-libp2p 3.x node (tcp, noise,
// yamux, identify, ping) on 127.0.0.1 against anyad, with `anya` (through the
// daemon's RPC) for anyad's side.
//   node p2p-js.mjs ANYA REPO ANYAD_P2P_MULTIADDR
// Prints one line per step and "ok"; exits 1 on the first failure.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import net from 'node:net'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import { generateKeyPair, publicKeyFromProtobuf } from '@libp2p/crypto/keys'

// node 20 lacks Promise.withResolvers (ES2024), which it-queue (under the peer
// store's mortice) calls at run time; the same thing, written out:
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function () {
    let resolve, reject
    const promise = new Promise((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}

const [ANYA, REPO, ANYAD_ADDR] = process.argv.slice(2)
const JS_AGENT = 'anya-interop/1.0.0'
const STEP_MS = 15000

function fail (msg) {
  console.error(`FAIL: ${msg}`)
  process.exit(1)
}
function check (cond, msg) { if (!cond) fail(msg) }
function step (msg) { console.log(`--- ${msg}`) }
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// `anya ARGS` through the daemon, asynchronously: this process is also the
// JS node, whose event loop must keep running while anyad talks to it.
const execFileAsync = promisify(execFile)
async function anyaTry (...args) {
  return execFileAsync(ANYA, args, { env: { ...process.env, ANYA_REPO: REPO }, encoding: 'utf8', timeout: 30000 })
}
async function anya (...args) {
  try {
    return (await anyaTry(...args)).stdout
  } catch (err) {
    fail(`anya ${args.join(' ')}: exit ${err.code}: ${err.stderr} (stdout: ${err.stdout})`)
  }
}

// Bounded wait for cond() (async allowed) to be true.
async function until (what, cond) {
  const end = Date.now() + STEP_MS
  while (Date.now() < end) {
    if (await cond()) return
    await sleep(50)
  }
  fail(`timed out waiting for ${what}`)
}

const anyadMa = multiaddr(ANYAD_ADDR)
const anyadId = peerIdFromString(ANYAD_ADDR.split('/p2p/')[1])
const anyadBare = ANYAD_ADDR.split('/p2p/')[0]

const identified = [] // peer:identify results about anyad
const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify(), ping: ping() },
  nodeInfo: { userAgent: JS_AGENT }
})
node.addEventListener('peer:identify', (evt) => {
  if (evt.detail.peerId.equals(anyadId)) identified.push(evt.detail)
})
const jsId = node.peerId.toString()
const jsAddr = node.getMultiaddrs().find((ma) => ma.toString().startsWith('/ip4/127.0.0.1/tcp/'))
check(jsAddr != null, 'the JS node has no 127.0.0.1 address')
const jsBare = jsAddr.toString().split('/p2p/')[0]
console.log(`listening ${jsBare}/p2p/${jsId}`)

function checkIdentify (r, when) {
  check(r.agentVersion === 'anya/0.1.0', `${when}: agentVersion ${r.agentVersion}`)
  check(r.protocolVersion === 'ipfs/0.1.0', `${when}: protocolVersion ${r.protocolVersion}`)
  for (const p of ['/ipfs/id/1.0.0', '/ipfs/id/push/1.0.0', '/ipfs/ping/1.0.0']) {
    check(r.protocols.includes(p), `${when}: protocols ${r.protocols} lack ${p}`)
  }
  check(r.publicKey != null, `${when}: no publicKey`)
  const fromKey = peerIdFromPublicKey(publicKeyFromProtobuf(r.publicKey))
  check(fromKey.equals(anyadId), `${when}: the publicKey is ${fromKey}, not anyad's ${anyadId}`)
  const listen = r.listenAddrs.map((ma) => ma.toString())
  check(listen.includes(anyadBare), `${when}: listenAddrs ${listen} lack ${anyadBare}`)
  check(r.observedAddr != null && r.observedAddr.toString().startsWith('/ip4/127.0.0.1/tcp/'),
    `${when}: observedAddr ${r.observedAddr}`)
  // the signed peer record was accepted (js keeps a peer's addresses only from it)
  check(r.signedPeerRecord != null && r.signedPeerRecord.addresses.some((ma) => ma.toString() === anyadBare),
    `${when}: no signed peer record with ${anyadBare}`)
}

async function checkPeerStore (when) {
  const peer = await node.peerStore.get(anyadId)
  check(peer.addresses.some((a) => a.isCertified && a.multiaddr.toString() === anyadBare),
    `${when}: the peer store has no certified ${anyadBare}: ${peer.addresses.map((a) => a.multiaddr.toString())}`)
  check(peer.protocols.includes('/ipfs/ping/1.0.0'), `${when}: the peer store's protocols ${peer.protocols}`)
}

async function pingAnyad (when) {
  for (let i = 0; i < 3; i++) {
    const rtt = await node.services.ping.ping(anyadMa, { signal: AbortSignal.timeout(STEP_MS) })
    check(typeof rtt === 'number' && rtt >= 0, `${when}: ping returned ${rtt}`)
  }
}

async function anyaPingJs (when) {
  const out = await anya('ping', '-n', '3', jsId)
  const pongs = out.split('\n').filter((l) => l.startsWith('Pong received: time='))
  check(pongs.length === 3, `${when}: anya ping printed ${out}`)
  check(/Average latency: [0-9.]+ms/.test(out), `${when}: no average in ${out}`)
}

async function anyaPeers () {
  return (await anya('swarm', 'peers')).split('\n').filter((l) => l.length)
}

step('js dials anyad; identify as js sees it')
await node.dial(anyadMa, { signal: AbortSignal.timeout(STEP_MS) })
await until('identify of anyad', () => identified.length >= 1)
checkIdentify(identified[0], 'js dialed')
await checkPeerStore('js dialed')

step('ping js -> anyad')
await pingAnyad('js dialed')

step('anyad lists the js peer and identified it (anya swarm peers, anya id PEER)')
await until('anya swarm peers to list the js peer', async () => (await anyaPeers()).some((l) => l.endsWith(`/p2p/${jsId}`)))
await until('anyad to identify the js peer', () => anyaTry('id', jsId).then(() => true, () => false))
const info = JSON.parse(await anya('id', jsId))
check(info.ID === jsId, `anya id: ID ${info.ID}`)
check(info.AgentVersion === JS_AGENT, `anya id: AgentVersion ${info.AgentVersion}`)
check(info.ProtocolVersion === 'ipfs/0.1.0', `anya id: ProtocolVersion ${info.ProtocolVersion}`)
for (const p of ['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0']) check(info.Protocols.includes(p), `anya id: Protocols ${info.Protocols} lack ${p}`)
check(info.Addresses.includes(`${jsBare}/p2p/${jsId}`), `anya id: Addresses ${info.Addresses} lack ${jsBare}`)
const keyId = peerIdFromPublicKey(publicKeyFromProtobuf(Buffer.from(info.PublicKey, 'base64')))
check(keyId.equals(node.peerId), `anya id: PublicKey is ${keyId}`)
const self = JSON.parse(await anya('id'))
check(self.ID === anyadId.toString() && self.Addresses.includes(ANYAD_ADDR), `anya id: ${JSON.stringify(self)}`)

step('ping anyad -> js (anya ping)')
await anyaPingJs('js dialed')

step('js hangs up; anyad forgets the connection')
await node.hangUp(anyadId)
await until('anya swarm peers to drop the js peer', async () => !(await anyaPeers()).some((l) => l.endsWith(`/p2p/${jsId}`)))

step('anyad dials js (anya swarm connect); identify both ways, ping both ways')
const before = identified.length
const connected = await anya('swarm', 'connect', `${jsBare}/p2p/${jsId}`)
check(connected.trim() === `connect ${jsId} success`, `swarm connect printed ${connected}`)
const conns = node.getConnections(anyadId)
check(conns.length === 1 && conns[0].direction === 'inbound', `js sees ${conns.length} connections (${conns.map((c) => c.direction)})`)
await until('identify of anyad over the inbound connection', () => identified.length > before)
checkIdentify(identified[identified.length - 1], 'anyad dialed')
const peersNow = await anyaPeers()
check(peersNow.some((l) => l === `${jsBare}/p2p/${jsId}`), `swarm peers after connect: ${peersNow}`)
await anyaPingJs('anyad dialed')
await pingAnyad('anyad dialed')

step('protocol errors from raw sockets close only those connections')
const port = Number(anyadBare.split('/tcp/')[1])
async function rawClosed (bytes) {
  const sock = net.connect(port, '127.0.0.1')
  const closed = new Promise((resolve) => { sock.on('close', () => resolve(true)); sock.on('error', () => {}) })
  sock.on('data', () => {})
  sock.on('connect', () => sock.write(bytes))
  return Promise.race([closed, sleep(STEP_MS).then(() => false)])
}
check(await rawClosed(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), 'anyad kept a connection speaking HTTP')
const mss = Buffer.concat([Buffer.from([19]), Buffer.from('/multistream/1.0.0\n'), Buffer.from([7]), Buffer.from('/noise\n')])
check(await rawClosed(Buffer.concat([mss, Buffer.from([0, 8]), Buffer.alloc(8, 0x41)])), 'anyad kept a connection with a bad Noise message')
check((await anyaPeers()).some((l) => l.endsWith(`/p2p/${jsId}`)), 'the js connection did not survive the bad ones')
await pingAnyad('after the bad connections')
await anyaPingJs('after the bad connections')

step('peers with RSA and secp256k1 identities (go-libp2p bootstrap nodes, older Kubo) dial anyad, both ways')
for (const type of ['RSA', 'secp256k1']) {
  const other = await createLibp2p({
    privateKey: await generateKeyPair(type, type === 'RSA' ? 2048 : undefined),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping() }
  })
  const otherId = other.peerId.toString()
  check(type !== 'RSA' || otherId.startsWith('Qm'), `an RSA peer ID ${otherId}`)
  const rtt = await other.services.ping.ping(anyadMa, { signal: AbortSignal.timeout(STEP_MS) })
  check(typeof rtt === 'number' && rtt >= 0, `${type}: ping returned ${rtt}`)
  await until(`anya swarm peers to list the ${type} peer`, async () => (await anyaPeers()).some((l) => l.endsWith(`/p2p/${otherId}`)))
  await other.hangUp(anyadId)
  await until(`anyad to drop the ${type} peer`, async () => !(await anyaPeers()).some((l) => l.endsWith(`/p2p/${otherId}`)))
  const otherAddr = other.getMultiaddrs().find((ma) => ma.toString().startsWith('/ip4/127.0.0.1/tcp/'))
  const out = await anya('swarm', 'connect', otherAddr.toString())
  check(out.trim() === `connect ${otherId} success`, `${type}: swarm connect printed ${out}`)
  await other.stop()
}

await node.stop()
console.log('ok')
process.exit(0)
