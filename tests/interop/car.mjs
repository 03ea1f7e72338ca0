// Oracle side of tests/interop/car.sh, on @ipld/car.
//   node car.mjs read CAR OUTDIR [EXPECTED]
//     Reads CAR with CarBlockIterator; checks every block hashes to its CID,
//     no CID twice, no identity CID; writes each block to OUTDIR/<cid>; prints
//     "version N", "root <cid>" per root and "blocks N".  With EXPECTED (one CID
//     a line) the set of CIDs must be exactly that.
//   node car.mjs write OURS.car OUT.car OUTDIR
//     Writes OUT.car with CarWriter: roots [a dag-cbor node, OURS' root]; the
//     dag-cbor node links raw blocks made here, an identity CID and OURS' root;
//     all of OURS' blocks follow.  Writes every non-identity block to
//     OUTDIR/<cid> and prints one CID a line (the blocks anya must import).
import fs from 'node:fs'
import path from 'node:path'
import { CarBlockIterator, CarWriter } from '@ipld/car'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'

function die (msg) { console.error(`car.mjs: ${msg}`); process.exit(1) }

function sameBytes (a, b) { return a.length === b.length && a.every((x, i) => x === b[i]) }

async function readAll (file) {
  const it = await CarBlockIterator.fromBytes(fs.readFileSync(file))
  const roots = await it.getRoots()
  const blocks = []
  for await (const block of it) blocks.push(block)
  return { version: it.version, roots, blocks }
}

async function verify (cid, bytes) {
  if (cid.multihash.code === identity.code) die(`identity block ${cid} in the CAR`)
  if (cid.multihash.code !== sha256.code) die(`unexpected hash in ${cid}`)
  const digest = await sha256.digest(bytes)
  if (!sameBytes(digest.bytes, cid.multihash.bytes)) die(`block ${cid} does not match its CID`)
}

async function read ([file, outdir, expectedFile]) {
  const { version, roots, blocks } = await readAll(file)
  fs.mkdirSync(outdir, { recursive: true })
  const seen = new Set()
  for (const { cid, bytes } of blocks) {
    await verify(cid, bytes)
    const key = cid.toString()
    if (seen.has(key)) die(`block ${key} appears twice`)
    seen.add(key)
    fs.writeFileSync(path.join(outdir, key), bytes)
  }
  if (expectedFile) {
    const want = fs.readFileSync(expectedFile, 'utf8').split('\n').filter(Boolean)
    for (const c of want) if (!seen.has(c)) die(`expected block ${c} missing`)
    if (want.length !== seen.size) die(`${seen.size} blocks, expected ${want.length}`)
  }
  console.log(`version ${version}`)
  for (const r of roots) console.log(`root ${r}`)
  console.log(`blocks ${blocks.length}`)
}

async function write ([oursFile, outFile, outdir]) {
  const ours = await readAll(oursFile)
  if (ours.roots.length !== 1) die('OURS must have one root')
  const made = []
  for (const text of ['hello from @ipld/car\n', '', 'x'.repeat(70000)]) {
    const bytes = new TextEncoder().encode(text)
    made.push({ cid: CID.create(1, raw.code, await sha256.digest(bytes)), bytes })
  }
  const inline = CID.create(1, raw.code, await identity.digest(new TextEncoder().encode('inline')))
  const node = { name: 'js', files: made.map((b) => b.cid), ours: ours.roots[0], inline, nested: { deep: [made[0].cid] } }
  const nodeBytes = dagCbor.encode(node)
  const nodeCid = CID.create(1, dagCbor.code, await sha256.digest(nodeBytes))
  const { writer, out } = CarWriter.create([nodeCid, ours.roots[0]])
  const chunks = []
  const collecting = (async () => { for await (const c of out) chunks.push(c) })()
  const all = [{ cid: nodeCid, bytes: nodeBytes }, ...made, { cid: inline, bytes: inline.multihash.digest }, ...ours.blocks]
  for (const b of all) await writer.put(b)
  await writer.close()
  await collecting
  fs.writeFileSync(outFile, Buffer.concat(chunks))
  fs.mkdirSync(outdir, { recursive: true })
  const listed = new Set()
  for (const b of all) {
    if (b.cid.multihash.code === identity.code) continue
    fs.writeFileSync(path.join(outdir, b.cid.toString()), b.bytes)
    if (!listed.has(b.cid.toString())) console.log(b.cid.toString())
    listed.add(b.cid.toString())
  }
}

const [mode, ...args] = process.argv.slice(2)
if (mode === 'read') await read(args)
else if (mode === 'write') await write(args)
else die(`unknown mode ${mode}`)
