// @helia/verified-fetch against our gateway alone (driven by gateway-verified-fetch.sh).
// A Helia "light" node with only the HTTP block broker: no libp2p, no bitswap, no delegated
// routing; the only provider is the gateway URL given (fallback router), so every block comes
// from it and verified-fetch checks each against its CID.
//
//   node gateway-verified-fetch.mjs GATEWAY_URL OUT_DIR REQUEST...
// A REQUEST is NAME=RESOURCE[|ACCEPT]: the body of verifiedFetch(RESOURCE) is written to
// OUT_DIR/NAME; one line "NAME STATUS CONTENT-TYPE BYTES" per request on stdout.  Exits 1 when a
// fetch throws.
import { createVerifiedFetchWithHelia } from '@helia/verified-fetch'
import { withHTTP } from '@helia/http'
import { createHeliaLight } from 'helia'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const [gateway, outDir, ...requests] = process.argv.slice(2)
const helia = withHTTP(createHeliaLight({}), {
  delegatedRouters: [],
  recursiveGateways: [gateway],
  allowInsecure: true,
  allowLocal: true
})
await helia.start()
const verifiedFetch = await createVerifiedFetchWithHelia(helia)
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
