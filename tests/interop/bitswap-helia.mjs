// A Helia 7 peer for the Bitswap interop tests and the benchmark: its own
// libp2p (TCP on 127.0.0.1, Noise, Yamux, identify; no DHT, no HTTP
// routing, no gateways), bitswap as its only block broker, an in-memory
// blockstore.  Driven line by line on stdin; each command answers one line
// on stdout ("ok ..." or "error <message>"):
//   id                        -> ok <multiaddr>/p2p/<peer id>
//   connect <multiaddr>       -> ok
//   add <file>                -> ok <cid>   (@helia/unixfs addFile as Kubo's `add --cid-version 1`:
//                                            raw leaves, 256 KiB chunks, 174 links)
//   cat <cid> <file> [ms]     -> ok <bytes> <milliseconds>   (@helia/unixfs cat, written to file)
//   provide <cid>             -> ok   (helia.routing.provide: the DHT, with ANYA_HELIA_DHT=1)
//   quit
// Usage: ANYA_NPM_DIR=<npm_oracle dir> [ANYA_HELIA_DHT=1] node bitswap-helia.mjs
// ANYA_HELIA_DHT=1 adds @libp2p/kad-dht (and the ping it needs) in server mode (/ipfs/kad/1.0.0, loopback addresses
// kept), so Helia finds providers and provides through the DHT.
import { createWriteStream, createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
// Helia 7 without its Node 22 defaults, and the Node 20 polyfill.
import { createHeliaLight, withOwnLibp2p } from './helia-lib.mjs'

const dir = process.env.ANYA_NPM_DIR
if (!dir) throw new Error('ANYA_NPM_DIR is not set')
const load = (name) => import(`${dir}/node_modules/${name}/dist/src/index.js`)

const { withBitswap } = await load('@helia/bitswap')
const { unixfs } = await load('@helia/unixfs')
const { tcp } = await load('@libp2p/tcp')
const { noise } = await load('@chainsafe/libp2p-noise')
const { yamux } = await load('@chainsafe/libp2p-yamux')
const { identify } = await load('@libp2p/identify')
const withDht = process.env.ANYA_HELIA_DHT === '1'
const { kadDHT, passthroughMapper } = withDht ? await load('@libp2p/kad-dht') : {}
const { ping } = withDht ? await load('@libp2p/ping') : {}
const { multiaddr } = await load('@multiformats/multiaddr')
const { CID } = await import(`${dir}/node_modules/multiformats/dist/src/cid.js`)
const { fixedSize } = await import(`${dir}/node_modules/ipfs-unixfs-importer/dist/src/chunker/index.js`)
const { balanced } = await import(`${dir}/node_modules/ipfs-unixfs-importer/dist/src/layout/index.js`)

const helia = withBitswap(withOwnLibp2p(createHeliaLight({}), {
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    ...(withDht ? { ping: ping(), dht: kadDHT({ protocol: '/ipfs/kad/1.0.0', clientMode: false, peerInfoMapper: passthroughMapper }) } : {})
  }
}))
await helia.start()
const fs = unixfs(helia)

async function command (words) {
  switch (words[0]) {
    case 'id': {
      const addr = helia.libp2p.getMultiaddrs()[0]
      return addr.toString()
    }
    case 'connect':
      await helia.libp2p.dial(multiaddr(words[1]), { signal: AbortSignal.timeout(20000) })
      return ''
    case 'add': {
      // Kubo's `ipfs add --cid-version 1` (= `anya add --cid-version 1`).
      const cid = await fs.addByteStream(createReadStream(words[1]), {
        cidVersion: 1,
        rawLeaves: true,
        chunker: fixedSize({ chunkSize: 262144 }),
        layout: balanced({ maxChildrenPerNode: 174 })
      })
      return cid.toString()
    }
    case 'cat': {
      const timeout = Number(words[3] ?? 120000)
      const start = performance.now()
      const out = createWriteStream(words[2])
      let bytes = 0
      for await (const chunk of fs.cat(CID.parse(words[1]), { signal: AbortSignal.timeout(timeout) })) {
        bytes += chunk.length
        if (!out.write(chunk)) await new Promise((resolve) => out.once('drain', resolve))
      }
      await new Promise((resolve, reject) => out.end((err) => err ? reject(err) : resolve()))
      return `${bytes} ${Math.round(performance.now() - start)}`
    }
    case 'provide':
      await helia.routing.provide(CID.parse(words[1]), { signal: AbortSignal.timeout(60000) })
      return ''
    case 'quit':
      await helia.stop()
      process.exit(0)
    default:
      throw new Error(`unknown command ${words[0]}`)
  }
}

const lines = createInterface({ input: process.stdin })
for await (const line of lines) {
  const words = line.trim().split(/\s+/)
  if (!words[0]) continue
  try {
    const answer = await command(words)
    process.stdout.write(`ok ${answer}\n`)
  } catch (err) {
    process.stdout.write(`error ${String(err.message ?? err).replace(/\n/g, ' ')}\n`)
  }
}
await helia.stop()
