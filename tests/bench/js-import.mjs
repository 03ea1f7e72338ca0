// The JS reference for `make bench`: ipfs-unixfs-importer configured as Kubo's
// `ipfs add` (CIDv0, 256 KiB chunks, balanced, 174 links) into blockstore-fs.
// Usage: node js-import.mjs FILE BLOCKSTORE_DIR  -> prints the root CID.
import { createReadStream } from 'node:fs'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { FsBlockstore } from 'blockstore-fs'

const [file, dir] = process.argv.slice(2)
const store = new FsBlockstore(dir)
await store.open()
let root
for await (const entry of importer([{ content: createReadStream(file) }], store, {
  cidVersion: 0, rawLeaves: false, leafType: 'file', reduceSingleLeafToSelf: true,
  chunker: fixedSize({ chunkSize: 262144 }), layout: balanced({ maxChildrenPerNode: 174 }),
})) root = entry.cid
await store.close()
console.log(root.toString())
