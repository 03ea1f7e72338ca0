// kubo-rpc-client against Anya's RPC (tests/interop/kubo-rpc.sh drives it).
//   node kubo-rpc.mjs URL EXPECTED_JSON WORKDIR
// EXPECTED_JSON holds the CIDs `anya add -n` computed for the same inputs
// (and anya's own block CID and peer id).  Each check prints "ok: ..." or
// throws (exit 1).
import { create } from 'kubo-rpc-client'
import { readFileSync } from 'node:fs'

const [url, expectedFile, work] = process.argv.slice(2)
const want = JSON.parse(readFileSync(expectedFile, 'utf8'))
const ipfs = create({ url })
const file = (name) => new Uint8Array(readFileSync(`${work}/${name}`))
const concat = async (it) => {
  const parts = []
  for await (const p of it) parts.push(p)
  return Buffer.concat(parts)
}
const check = (what, got, expected) => {
  if (String(got) !== String(expected)) throw new Error(`${what}: got ${got}, want ${expected}`)
  console.log(`ok: ${what} ${got}`)
}

// add: several files, each CID as `anya add -n` with the same flags
check('add a.txt', (await ipfs.add(file('a.txt'))).cid, want.a)
check('add big.bin', (await ipfs.add(file('big.bin'))).cid, want.big)
check('add cidVersion 1', (await ipfs.add(file('big.bin'), { cidVersion: 1 })).cid, want.big_v1)
check('add rawLeaves', (await ipfs.add(file('big.bin'), { rawLeaves: true })).cid, want.big_raw)
check('add chunker size-1000', (await ipfs.add(file('big.bin'), { chunker: 'size-1000' })).cid, want.big_1000)
check('add trickle', (await ipfs.add(file('big.bin'), { trickle: true })).cid, want.big_trickle)
const wrapped = await ipfs.add({ path: 'a.txt', content: file('a.txt') }, { wrapWithDirectory: true })
check('add wrapWithDirectory', wrapped.cid, want.wrapped)
check('add wrapWithDirectory path', JSON.stringify(wrapped.path), '""')
let progressBytes = 0
await ipfs.add(file('big.bin'), { progress: (bytes) => { progressBytes = bytes } })
check('add progress (last Bytes)', progressBytes, want.big_size)

// a directory through addAll with paths
const entries = []
for await (const e of ipfs.addAll([
  { path: 'dir/a.txt', content: file('dir/a.txt') },
  { path: 'dir/sub', content: undefined },
  { path: 'dir/sub/b b.txt', content: file('dir/sub/b b.txt') },
  { path: 'dir/empty' }
])) entries.push(e)
const byPath = Object.fromEntries(entries.map((e) => [e.path, e.cid.toString()]))
check('addAll dir', byPath.dir, want.dir)
check('addAll dir/sub', byPath['dir/sub'], want.dir_sub)
check('addAll dir/sub/b b.txt', byPath['dir/sub/b b.txt'], want.dir_b)

// ls
const links = []
for await (const l of ipfs.ls(want.dir)) links.push(`${l.name} ${l.type} ${l.cid}`)
check('ls', links.join(', '), want.ls)

// cat, with offset and length
check('cat', (await concat(ipfs.cat(want.a))).toString(), readFileSync(`${work}/a.txt`, 'utf8'))
const slice = await concat(ipfs.cat(want.big, { offset: 1000, length: 300000 }))
check('cat offset/length', Buffer.compare(slice, Buffer.from(file('big.bin').subarray(1000, 301000))), 0)
check('cat path', (await concat(ipfs.cat(`/ipfs/${want.dir}/sub/b b.txt`))).toString(),
  readFileSync(`${work}/dir/sub/b b.txt`, 'utf8'))

// block put/get/stat/rm
const block = file('block.bin')
const bcid = await ipfs.block.put(block)
check('block put', bcid, want.block)
check('block get', Buffer.compare(Buffer.from(await ipfs.block.get(bcid)), Buffer.from(block)), 0)
const st = await ipfs.block.stat(bcid)
check('block stat', `${st.cid} ${st.size}`, `${want.block} ${block.length}`)
for await (const r of ipfs.block.rm(bcid)) check('block rm', `${r.cid} ${r.error ?? ''}`, `${want.block} `)
let gone = false
try { await ipfs.block.stat(bcid) } catch (e) { gone = /not found/.test(e.message) }
check('block stat after rm fails', gone, true)

// pins
const unpinned = (await ipfs.add(file('block.bin'), { pin: false })).cid
const listed = async (type) => {
  const out = []
  for await (const p of ipfs.pin.ls({ type })) out.push(`${p.cid} ${p.type}`)
  return out
}
check('add pin:false leaves it unpinned', (await listed('recursive')).includes(`${unpinned} recursive`), false)
check('pin add', await ipfs.pin.add(unpinned), unpinned)
check('pin ls', (await listed('recursive')).includes(`${unpinned} recursive`), true)
check('pin ls indirect', (await listed('indirect')).includes(`${want.dir_b} indirect`), true)
check('pin rm', await ipfs.pin.rm(unpinned), unpinned)
check('pin ls after rm', (await listed('recursive')).includes(`${unpinned} recursive`), false)

// id, version, repo stat
const id = await ipfs.id()
check('id', id.id, want.peer)
check('id agentVersion', id.agentVersion, want.agent)
const v = await ipfs.version()
check('version', v.version, want.version)
const rs = await ipfs.repo.stat()
check('repo stat path', rs.repoPath, want.repo)
check('repo stat objects > 0', rs.numObjects > 0n, true)

// an error: Kubo's shape becomes the client's error message
let message = ''
try { await ipfs.block.get('nonsense') } catch (e) { message = e.message }
check('error message', /invalid CID/.test(message) || /nonsense/.test(message), true)
console.log('all ok')
