// Oracle side of tests/interop/noise-js.sh: @chainsafe/libp2p-noise's own XX
// handshake (performHandshakeInitiator/Responder, the functions its Noise
// class runs) against our noise_peer over its stdin/stdout, framed as on the
// wire (uint16 BE length).
//   node noise-js.mjs NOISE_PEER
// Prints one line per case and "ok N cases"; exits 1 on the first failure.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { generateKeyPair, generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import { Uint8ArrayList } from 'uint8arraylist'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
// Not in the package's exports: imported by path (this file runs from the npm dir).
import { performHandshakeInitiator, performHandshakeResponder } from './node_modules/@chainsafe/libp2p-noise/dist/src/performHandshake.js'
import { wrapCrypto } from './node_modules/@chainsafe/libp2p-noise/dist/src/crypto.js'

const PEER = process.argv[2]
const YAMUX = '/yamux/1.0.0'
const MPLEX = '/mplex/6.7.0'
const FRAME_PLAINTEXT_MAX = 65535 - 16
const TIMEOUT_MS = 20000

const log = Object.assign(() => {}, { enabled: false, trace () {}, error () {} })
log.newScope = () => log

function fail (msg) {
  console.error(`FAIL: ${msg}`)
  process.exit(1)
}

// A framed connection to a noise_peer child process.
function connect (args) {
  const child = spawn(PEER, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)))
  let pending = Buffer.alloc(0)
  const frames = []
  const waiters = []
  let closed = false
  const pump = () => {
    while (pending.length >= 2) {
      const n = pending.readUInt16BE(0)
      if (pending.length < 2 + n) break
      frames.push(pending.subarray(2, 2 + n))
      pending = pending.subarray(2 + n)
    }
    while (waiters.length > 0 && (frames.length > 0 || closed)) {
      const w = waiters.shift()
      if (frames.length > 0) w.resolve(frames.shift())
      else w.reject(new Error(`noise_peer closed (stderr: ${stderr.trim()})`))
    }
  }
  child.stdout.on('data', (d) => { pending = Buffer.concat([pending, d]); pump() })
  child.stdout.on('end', () => { closed = true; pump() })
  child.stdin.on('error', () => {})
  return {
    child,
    exited,
    stderr: () => stderr,
    async read () {
      const frame = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('read timed out')), TIMEOUT_MS)
        waiters.push({
          resolve: (f) => { clearTimeout(timer); resolve(f) },
          reject: (e) => { clearTimeout(timer); reject(e) }
        })
        pump()
      })
      return new Uint8ArrayList(frame)
    },
    async write (data) {
      const bytes = data instanceof Uint8ArrayList ? data.subarray() : data
      const len = Buffer.alloc(2)
      len.writeUInt16BE(bytes.byteLength)
      child.stdin.write(Buffer.concat([len, bytes]))
    },
    close () { child.stdin.end() }
  }
}

function seedOf (byte) {
  return new Uint8Array(32).fill(byte)
}

async function handshake (initiator, conn, privateKey, muxers, remoteIdentityKey) {
  const crypto = wrapCrypto(defaultCrypto)
  const init = {
    log,
    connection: conn,
    crypto,
    privateKey,
    prologue: new Uint8Array(0),
    s: crypto.generateKeypair(),
    remoteIdentityKey,
    extensions: { streamMuxers: muxers, webtransportCerthashes: [] }
  }
  return initiator ? performHandshakeInitiator(init) : performHandshakeResponder(init)
}

const asBytes = (x) => (x instanceof Uint8ArrayList ? x.subarray() : x)

// One case: handshake, the peer's hello frame, then echoes both ways.
async function run ({ name, jsInitiator, cSeed, cMuxers, jsMuxers, wantMuxer, wantRemoteMuxers }) {
  const cKey = await generateKeyPairFromSeed('Ed25519', seedOf(cSeed))
  const cId = peerIdFromPrivateKey(cKey).toString()
  const jsKey = await generateKeyPair('Ed25519')
  const jsId = peerIdFromPrivateKey(jsKey).toString()
  const conn = connect([jsInitiator ? 'responder' : 'initiator', String(cSeed), cMuxers.length ? cMuxers.join(',') : '-'])
  const hs = await handshake(jsInitiator, conn, jsKey, jsMuxers, jsInitiator ? cKey.publicKey : undefined)
  const remote = peerIdFromPublicKey(publicKeyFromProtobuf(hs.payload.identityKey)).toString()
  if (remote !== cId) fail(`${name}: remote ${remote}, expected ${cId}`)
  const got = hs.payload.extensions?.streamMuxers ?? []
  if (JSON.stringify(got) !== JSON.stringify(wantRemoteMuxers)) fail(`${name}: remote muxers ${JSON.stringify(got)}`)
  const hello = new TextDecoder().decode(asBytes(hs.decrypt(await conn.read())))
  if (hello !== `peer=${jsId} muxer=${wantMuxer}`) fail(`${name}: hello "${hello}", expected peer=${jsId} muxer=${wantMuxer}`)
  const sizes = [1, 0, 1000, FRAME_PLAINTEXT_MAX, 17, FRAME_PLAINTEXT_MAX]
  for (const size of sizes) {
    const data = randomBytes(size)
    await conn.write(asBytes(hs.encrypt(data)))
    const back = asBytes(hs.decrypt(await conn.read()))
    if (Buffer.compare(Buffer.from(back), data) !== 0) fail(`${name}: echo of ${size} bytes differs`)
  }
  conn.close()
  const code = await conn.exited
  if (code !== 0) fail(`${name}: noise_peer exited ${code}: ${conn.stderr()}`)
  console.log(`ok ${name}`)
}

// A case the C side must refuse: it expects a different peer ID.
async function wrongPeer () {
  const jsKey = await generateKeyPair('Ed25519')
  const otherKey = await generateKeyPairFromSeed('Ed25519', seedOf(99))
  const conn = connect(['initiator', '7', YAMUX, peerIdFromPrivateKey(otherKey).toString()])
  const hs = handshake(false, conn, jsKey, [YAMUX], undefined)
  let threw = false
  try { await hs } catch { threw = true }
  if (!threw) fail('wrong peer: the JS responder completed a handshake the C initiator must refuse')
  const code = await conn.exited
  if (code !== 3) fail(`wrong peer: noise_peer exited ${code} (3 = -EACCES expected): ${conn.stderr()}`)
  if (!/not the expected/.test(conn.stderr())) fail(`wrong peer: stderr "${conn.stderr().trim()}"`)
  console.log('ok C initiator refuses an unexpected responder (-EACCES)')
}

// The JS initiator expecting another key refuses our responder.
async function jsRefuses () {
  const jsKey = await generateKeyPair('Ed25519')
  const otherKey = await generateKeyPairFromSeed('Ed25519', seedOf(98))
  const conn = connect(['responder', '5', YAMUX])
  let error = null
  try { await handshake(true, conn, jsKey, [YAMUX], otherKey.publicKey) } catch (e) { error = e }
  if (!error) fail('js refuses: the JS initiator accepted the wrong responder')
  conn.close()
  const code = await conn.exited
  if (code === 0) fail('js refuses: noise_peer claims success without message 3')
  console.log('ok JS initiator refuses an unexpected C responder')
}

const cases = [
  { name: 'JS initiator, C responder, both yamux', jsInitiator: true, cSeed: 1, cMuxers: [YAMUX], jsMuxers: [YAMUX], wantMuxer: YAMUX, wantRemoteMuxers: [YAMUX] },
  { name: 'C initiator, JS responder, both yamux', jsInitiator: false, cSeed: 2, cMuxers: [YAMUX], jsMuxers: [YAMUX], wantMuxer: YAMUX, wantRemoteMuxers: [YAMUX] },
  { name: 'C initiator prefers mplex, JS has yamux', jsInitiator: false, cSeed: 3, cMuxers: [MPLEX, YAMUX], jsMuxers: [YAMUX], wantMuxer: YAMUX, wantRemoteMuxers: [MPLEX, YAMUX] },
  { name: 'JS initiator prefers mplex, C responder both', jsInitiator: true, cSeed: 4, cMuxers: [YAMUX, MPLEX], jsMuxers: [MPLEX, YAMUX], wantMuxer: MPLEX, wantRemoteMuxers: [YAMUX, MPLEX] },
  { name: 'JS offers no muxers', jsInitiator: false, cSeed: 0, cMuxers: [YAMUX], jsMuxers: [], wantMuxer: '', wantRemoteMuxers: [YAMUX] },
  { name: 'C offers no muxers', jsInitiator: true, cSeed: 0, cMuxers: [], jsMuxers: [YAMUX], wantMuxer: '', wantRemoteMuxers: [] }
]
for (const c of cases) await run(c)
await wrongPeer()
await jsRefuses()
console.log(`ok ${cases.length + 2} cases`)
