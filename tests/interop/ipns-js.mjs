// IPNS records with Helia's own code (@helia/ipns 10: createIPNSRecord,
// ipnsValidator, IPNSEntry), for tests/interop/ipns-js.sh.
//
//   node ipns-js.mjs vector                  the fixed record of test_ipns.c (hex)
//   node ipns-js.mjs make SEEDBYTE VALUE SEQ [NOW_MS LIFETIME_MS TTL_NS [extra|v2only]]
//                                            {"name","record" (hex),"validity"}; extra: more
//                                            keys in data; v2only: no V1 fields
//   node ipns-js.mjs check NAME HEX          ipnsValidator on our record; prints its fields as JSON
import { createIPNSRecord, ipnsValidator, IPNSEntry, multihashToIPNSRoutingKey } from '@helia/ipns'
import { generateKeyPairFromSeed, publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import * as dagCbor from '@ipld/dag-cbor'

const hex = (u8) => Buffer.from(u8).toString('hex')
const keychain = { loadPublicKeyFromProtobuf: async (buf) => publicKeyFromProtobuf(buf) }

async function make (seedByte, value, seq, now, lifetime, ttlNs, variant) {
  const key = await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(seedByte))
  const options = { now, ttlNs }
  if (variant === 'extra') options.data = { _anya: [1, { a: 'b' }, new Uint8Array([1, 2])], _n: -5 }
  if (variant === 'v2only') options.v1Compatible = false
  const record = await createIPNSRecord(key, value, seq, lifetime, options)
  return { key, record, bytes: IPNSEntry.encode(record) }
}

const [mode, ...args] = process.argv.slice(2)
if (mode === 'vector') {
  // value /ipfs/bafkqaaa, sequence 3, validity 2030-01-02T03:04:05.678Z, TTL 5 min
  const { bytes } = await make(0, '/ipfs/bafkqaaa', 3, 0, Date.parse('2030-01-02T03:04:05.678Z'), 300000000000n)
  console.log(hex(bytes))
} else if (mode === 'make') {
  const [seedByte, value, seq] = args
  const now = args[3] !== undefined ? Number(args[3]) : Date.now()
  const lifetime = args[4] !== undefined ? Number(args[4]) : 3600000
  const ttlNs = args[5] !== undefined ? BigInt(args[5]) : 300000000000n
  const { key, record, bytes } = await make(Number(seedByte), value, BigInt(seq), now, lifetime, ttlNs, args[6])
  const data = dagCbor.decode(record.data)
  console.log(JSON.stringify({ name: key.publicKey.toString(), record: hex(bytes), value: Buffer.from(data.Value).toString(), validity: Buffer.from(data.Validity).toString() }))
} else if (mode === 'check') {
  const [name, recordHex] = args
  const peer = peerIdFromString(name)
  const routingKey = multihashToIPNSRoutingKey(peer.toMultihash())
  const bytes = Uint8Array.from(Buffer.from(recordHex, 'hex'))
  const record = await ipnsValidator(routingKey, bytes, keychain)
  const data = dagCbor.decode(record.data)
  console.log(JSON.stringify({
    value: Buffer.from(record.value ?? []).toString(),
    validity: Buffer.from(record.validity ?? []).toString(),
    validityType: record.validityType,
    sequence: String(record.sequence),
    ttl: String(record.ttl),
    hasPublicKey: record.publicKey != null,
    hasSignatureV1: record.signatureV1 != null,
    data: {
      Value: Buffer.from(data.Value).toString(),
      Validity: Buffer.from(data.Validity).toString(),
      ValidityType: data.ValidityType,
      Sequence: String(data.Sequence),
      TTL: String(data.TTL)
    },
    dataKeys: Object.keys(data)
  }))
} else {
  console.error('usage: ipns-js.mjs vector | make SEED VALUE SEQ [NOW LIFETIME TTL] | check NAME HEX')
  process.exit(2)
}
