// The oracle for tests/interop/unixfs-diff.sh: ipfs-unixfs-importer configured
// as Kubo's `ipfs add` (core/commands/add.go + boxo importer defaults):
//   CIDv0, raw leaves off (on by default with --cid-version 1), fixed-size
//   chunker size-262144, balanced layout with 174 links a node, trickle (-t)
//   with 4 repeats a layer and UnixFS Raw leaves and no single-leaf shortcut,
//   HAMT above 262144 bytes of Σ(name + CID bytes) ("links-bytes"), fanout 256.
// The file tree is walked as Kubo's CLI walks it: arguments sorted by their
// last path element and added one by one (all in one wrapper with -w), entries
// in byte order, dot-files only with -H, symlinks kept as symlinks.
//
// Usage: node unixfs-diff.mjs [--cid-version N] [--raw-leaves true|false]
//          [--chunker size-N] [--trickle] [-w] [-H] PATH...
// Prints one `added <cid> <path>` line per entry (in the importer's order, which
// is not Kubo's: compare sorted) and last `root <cid>` (the last argument's
// root, or the wrapper's).  The importer yields no entry for an empty
// subdirectory (it is in the DAG all the same) while Kubo prints one: those
// lines are added here with the empty directory's CID.
import { lstat, readdir, readlink } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import path from 'node:path'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced, trickle } from 'ipfs-unixfs-importer/layout'

const args = process.argv.slice(2)
let cidVersion = 0
let rawLeaves
let chunkSize = 262144
let useTrickle = false
let wrap = false
let hidden = false
const paths = []
for (let i = 0; i < args.length; i++) {
  const a = args[i]
  if (a === '--cid-version') cidVersion = Number(args[++i])
  else if (a === '--raw-leaves') rawLeaves = args[++i] === 'true'
  else if (a.startsWith('--raw-leaves=')) rawLeaves = a.slice(13) === 'true'
  else if (a === '--chunker') chunkSize = Number(args[++i].replace(/^size-/, ''))
  else if (a === '--trickle' || a === '-t') useTrickle = true
  else if (a === '-w') wrap = true
  else if (a === '-H') hidden = true
  else paths.push(a)
}
if (rawLeaves === undefined) rawLeaves = cidVersion === 1

const options = {
  cidVersion,
  rawLeaves,
  leafType: useTrickle ? 'raw' : 'file',
  reduceSingleLeafToSelf: !useTrickle,
  chunker: fixedSize({ chunkSize }),
  layout: useTrickle ? trickle({ maxChildrenPerNode: 174, layerRepeat: 4 }) : balanced({ maxChildrenPerNode: 174 }),
  shardSplitThresholdBytes: 262144,
  shardSplitStrategy: 'links-bytes',
  shardFanoutBits: 8,
  fieldOrder: 'links-first',
  wrapWithDirectory: wrap
}

// A blockstore that keeps nothing: only CIDs are compared.
const blockstore = { put: async (cid) => cid }

const byteOrder = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))
const emptyDirs = []

async function * walk (fsPath, name) {
  const st = await lstat(fsPath)
  if (st.isSymbolicLink()) {
    yield { path: name, link: await readlink(fsPath) }
  } else if (st.isDirectory()) {
    yield { path: name }
    const entries = (await readdir(fsPath)).filter(n => hidden || !n.startsWith('.')).sort(byteOrder)
    if (entries.length === 0) emptyDirs.push(name)
    for (const entry of entries) yield * walk(path.join(fsPath, entry), `${name}/${entry}`)
  } else {
    yield { path: name, content: createReadStream(fsPath, { highWaterMark: 1 << 20 }) }
  }
}

const tops = paths.map(p => {
  const clean = path.normalize(p).replace(/\/+$/, '') || '/'
  return { fsPath: clean, name: clean === '.' ? path.basename(process.cwd()) : path.basename(clean) }
}).sort((a, b) => byteOrder(a.name, b.name))

async function * candidates (list) {
  for (const t of list) yield * walk(t.fsPath, t.name)
}

let emptyDirCid
for await (const entry of importer([{ path: 'empty' }], blockstore, { ...options, wrapWithDirectory: false })) {
  emptyDirCid = entry.cid.toString()
}

let root
const runs = wrap ? [tops] : tops.map(t => [t])
for (const run of runs) {
  const seen = new Set()
  for await (const entry of importer(candidates(run), blockstore, options)) {
    console.log(`added ${entry.cid.toString()} ${entry.path ?? ''}`)
    seen.add(entry.path ?? '')
    root = entry.cid.toString()
  }
  for (const dir of emptyDirs.splice(0)) {
    if (!seen.has(dir)) console.log(`added ${emptyDirCid} ${dir}`)
  }
}
console.log(`root ${root}`)
