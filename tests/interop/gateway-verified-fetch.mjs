// @helia/verified-fetch against our gateway alone (driven by gateway-verified-fetch.sh).
// A Helia HTTP node (@helia/http) with only the trustless-gateway block broker and a router
// that names the gateway given: no libp2p, no bitswap, no delegated routing, so every block
// comes from our gateway and verified-fetch checks each against its CID.
//
//   node gateway-verified-fetch.mjs GATEWAY_URL OUT_DIR REQUEST...
// A REQUEST is NAME=RESOURCE[|ACCEPT]: the body of verifiedFetch(RESOURCE) is written to
// OUT_DIR/NAME; one line "NAME STATUS CONTENT-TYPE BYTES" per request on stdout.  Exits 1 when a
// fetch throws.
import { createVerifiedFetch } from '@helia/verified-fetch'
import { createHeliaHTTP } from '@helia/http'
import { trustlessGateway } from '@helia/block-brokers'
import { httpGatewayRouting } from '@helia/routers'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'

// node 20 lacks Promise.withResolvers (ES2024), which it-queue (under mortice, under Helia's
// blockstore) calls when a block is read; the same thing, written out:
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function () {
    let resolve, reject
    const promise = new Promise((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}

const [gateway, outDir, ...requests] = process.argv.slice(2)
const helia = await createHeliaHTTP({
  blockBrokers: [trustlessGateway({ allowInsecure: true, allowLocal: true })],
  routers: [httpGatewayRouting({ gateways: [gateway] })]
})
const verifiedFetch = await createVerifiedFetch(helia)
let failed = false
for (const request of requests) {
  const eq = request.indexOf('=')
  const name = request.slice(0, eq)
  const [resource, accept] = request.slice(eq + 1).split('|')
  try {
    const signal = AbortSignal.timeout(60000)
    const init = { signal }
    if (accept) init.headers = { accept }
    const res = await verifiedFetch(resource, init)
    const body = new Uint8Array(await res.arrayBuffer())
    await writeFile(join(outDir, name), body)
    console.log(`${name} ${res.status} ${res.headers.get('content-type')} ${body.length}`)
  } catch (err) {
    console.log(`${name} ERROR ${err.name}: ${err.message}`)
    failed = true
  }
}
await verifiedFetch.stop()
await helia.stop()
process.exit(failed ? 1 : 0)
