// JWS / DID oracle for tests/interop/dwn-jws.sh: dwn-sdk-js 0.5.2 and
// @web5/dids 1.2.0 make the keys, DIDs, documents and General JWS objects, and
// judge every JWS with the SDK's own checks, in the order a handler runs them:
// GeneralJws schema (400), Message.validateSignatureStructure (400),
// GeneralJwsVerifier.verifySignatures (401).
//   node dwn-jws.mjs gen VECTORS.json       write the vectors
//   node dwn-jws.mjs verify VECTORS.json C_SIGNED.json
//                                           judge what the C side signed
// Run from the npm directory (ESM resolves packages next to the script).
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { pathToFileURL } from 'node:url';

import { Cid, Encoder, Message, PrivateKeySigner, Secp256k1, Secp256r1 } from '@tbd54566975/dwn-sdk-js';
import { DidJwk, DidKey, DidWeb, UniversalResolver } from '@web5/dids';

const sdk = path.join(process.cwd(), 'node_modules/@tbd54566975/dwn-sdk-js/dist/esm/src');
const { GeneralJwsBuilder } = await import(pathToFileURL(path.join(sdk, 'jose/jws/general/builder.js')));
const { GeneralJwsVerifier } = await import(pathToFileURL(path.join(sdk, 'jose/jws/general/verifier.js')));
const { validateJsonSchema } = await import(pathToFileURL(path.join(sdk, 'schema-validator.js')));

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

// did:web documents are served from memory through a replaced fetch, so the
// URL mapping under test is @web5/dids' own DidWeb.resolve.
let webDocs = {};
globalThis.fetch = async (url) => {
  const doc = webDocs[String(url)];
  if (doc === undefined) return new Response('not found', { status: 404 });
  return new Response(JSON.stringify(doc), { status: 200, headers: { 'content-type': 'application/json' } });
};
const resolver = new UniversalResolver({ didResolvers: [DidKey, DidJwk, DidWeb] });

const b64u = (bytes) => Encoder.bytesToBase64Url(bytes);
const b64uJson = (obj) => Encoder.stringToBase64Url(JSON.stringify(obj));

const descriptor = { interface: 'Records', method: 'Query', messageTimestamp: '2024-01-02T03:04:05.678901Z', filter: { schema: 'https://example.com/s' } };
const descriptorCid = await Cid.computeCid(descriptor);

// The SDK's verdict on one General JWS.
async function judge(jws) {
  try {
    validateJsonSchema('GeneralJws', jws);
    await Message.validateSignatureStructure(jws, descriptor);
  } catch (e) {
    return { status: 400, code: e.code ?? null, detail: String(e.message) };
  }
  try {
    const { signers } = await GeneralJwsVerifier.verifySignatures(jws, resolver);
    return { status: 200, signer: signers[0] };
  } catch (e) {
    return { status: 401, code: e.code ?? null, detail: String(e.message) };
  }
}

async function signJws(privateJwk, kid, payload, algorithm) {
  const signer = new PrivateKeySigner({ privateJwk, keyId: kid, algorithm: algorithm ?? privateJwk.alg });
  const builder = await GeneralJwsBuilder.create(Encoder.stringToBytes(JSON.stringify(payload)), [signer]);
  return builder.getJws();
}

async function didKey(algorithm) {
  const bearer = await DidKey.create({ options: { algorithm } });
  const portable = await bearer.export();
  return { did: bearer.uri, kid: bearer.document.verificationMethod[0].id, privateJwk: portable.privateKeys[0] };
}

async function didJwk(algorithm) {
  const bearer = await DidJwk.create({ options: { algorithm } });
  const portable = await bearer.export();
  return { did: bearer.uri, kid: bearer.document.verificationMethod[0].id, privateJwk: portable.privateKeys[0] };
}

function compactSig(jws) { return Encoder.base64UrlToBytes(jws.signatures[0].signature); }
function withSignature(jws, bytes) {
  return { payload: jws.payload, signatures: [{ protected: jws.signatures[0].protected, signature: b64u(bytes) }] };
}
function bigToBytes32(n) { return Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex')); }

async function gen(out) {
  const payload = { descriptorCid };
  const edKey = await didKey('Ed25519');
  const k1Key = await didKey('secp256k1');
  const edJwk = await didJwk('Ed25519');
  const k1Jwk = await didJwk('secp256k1');
  // P-256: the SDK's own key generation; did:jwk built as the did:jwk spec says.
  const p256 = await Secp256r1.generateKeyPair();
  const p256Did = 'did:jwk:' + b64uJson(p256.publicJwk);
  const p256Key = { did: p256Did, kid: p256Did + '#0', privateJwk: p256.privateJwk };
  // A did:jwk whose JWK says use:"sig" (no keyAgreement in the document).
  const sigUse = await Secp256k1.generateKeyPair();
  const sigUseDid = 'did:jwk:' + b64uJson({ ...sigUse.publicJwk, use: 'sig' });
  // A did:key of an X25519 key (resolves; no signature can verify with it).
  const xBytes = crypto.randomBytes(32);
  const { base58btc } = await import('multiformats/bases/base58');
  const x25519Did = 'did:key:' + base58btc.encode(Uint8Array.from([0xec, 0x01, ...xBytes]));

  // did:web documents, served by URL.
  const web1 = 'did:web:example.com';
  const web2 = 'did:web:example.com%3A8443:users:alice';
  const webEd = await Secp256k1.generateKeyPair(); // secp256k1 for web2
  const edWeb = (await didKey('Ed25519')).privateJwk;
  const edWebPublic = { kty: 'OKP', crv: 'Ed25519', x: edWeb.x };
  const vm = (id, publicKeyJwk, extra = {}) => ({ id, type: 'JsonWebKey2020', controller: web1, publicKeyJwk, ...extra });
  const doc1 = {
    '@context': ['https://www.w3.org/ns/did/v1'],
    id: web1,
    verificationMethod: [
      vm('#key-0', edWebPublic),
      vm(web1 + '#key-priv', { ...edWebPublic, d: edWeb.d }),
      vm(web1 + '#key-extra', edWebPublic, { note: 'extra' }),
      { id: web1 + '#key-type', type: 'Ed25519VerificationKey2020', controller: web1, publicKeyJwk: edWebPublic },
      vm(web1 + '#key-x25519', { kty: 'OKP', crv: 'X25519', x: b64u(xBytes) }),
      vm(web1 + '#key-kty', { kty: 'EC', crv: 'Ed25519', x: edWeb.x }),
      { id: web1 + '#key-p256', type: 'JsonWebKey', controller: web1, publicKeyJwk: p256.publicJwk },
    ],
  };
  const doc2 = {
    id: web2,
    verificationMethod: [{ id: '#k1', type: 'JsonWebKey', controller: web2, publicKeyJwk: webEd.publicJwk }],
  };
  webDocs = {
    'https://example.com/.well-known/did.json': doc1,
    'https://example.com:8443/users/alice/did.json': doc2,
  };

  // Ed25519 did:keys at the edges of point decoding (RFC 8032 §5.1.3):
  // y = 2 and y = 7 are not on the curve, y = 3 is, y = 2^255 - 1 is not
  // canonical, y = 1 with the sign bit is "negative zero", y = 1 is the identity.
  const edPoint = (first, last = 0) => {
    const b = new Uint8Array(32); b[0] = first; b[31] = last;
    return 'did:key:' + base58btc.encode(Uint8Array.from([0xed, 0x01, ...b]));
  };
  const edEdges = [edPoint(2), edPoint(7), edPoint(3), edPoint(1, 0x80), edPoint(1),
    'did:key:' + base58btc.encode(Uint8Array.from([0xed, 0x01, ...new Uint8Array(31).fill(0xff), 0x7f]))];
  // secp256k1: x = 5 with either parity (x^3 + 7 = 132 is not a square mod p)
  const k1Edge = 'did:key:' + base58btc.encode(Uint8Array.from([0xe7, 0x01, 0x02, ...new Uint8Array(31), 0x05]));
  // a P-256 did:key (codec 0x1200): not registered in @web5/dids 1.2.0
  const p256Compressed = Uint8Array.from([0x02 + (Encoder.base64UrlToBytes(p256.publicJwk.y)[31] & 1), ...Encoder.base64UrlToBytes(p256.publicJwk.x)]);
  const p256DidKey = 'did:key:' + base58btc.encode(Uint8Array.from([0x80, 0x24, ...p256Compressed]));

  const dids = [];
  for (const did of [edKey.did, k1Key.did, edJwk.did, k1Jwk.did, p256Did, sigUseDid, x25519Did, web1, web2,
    'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doX', // z6Mk prefix, key bytes off the curve?
    'did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme',
    ...edEdges, k1Edge, p256DidKey,
    'did:key:notbase58', 'did:jwk:bm90IGpzb24', 'did:web:nowhere.example', 'did:example:123']) {
    const r = await resolver.resolve(did).catch((e) => ({ didDocument: null, didResolutionMetadata: { error: String(e) } }));
    dids.push({ did, document: r.didDocument ?? null, error: r.didResolutionMetadata?.error ?? null });
  }

  const jws = [];
  const add = async (name, j) => jws.push({ name, jws: j, expect: await judge(j) });
  const edJws = await signJws(edKey.privateJwk, edKey.kid, payload);
  const k1Jws = await signJws(k1Key.privateJwk, k1Key.kid, payload);
  await add('did:key Ed25519', edJws);
  await add('did:key secp256k1', k1Jws);
  await add('did:jwk Ed25519', await signJws(edJwk.privateJwk, edJwk.kid, payload));
  await add('did:jwk secp256k1', await signJws(k1Jwk.privateJwk, k1Jwk.kid, payload));
  const p256Jws = await signJws(p256Key.privateJwk, p256Key.kid, payload);
  await add('did:jwk P-256 r||s', p256Jws);
  // P-256 DER: node's crypto over the same signing input.
  const input = `${p256Jws.signatures[0].protected}.${p256Jws.payload}`;
  const der = crypto.sign('sha256', Buffer.from(input), { key: crypto.createPrivateKey({ key: p256.privateJwk, format: 'jwk' }), dsaEncoding: 'der' });
  await add('did:jwk P-256 DER', withSignature(p256Jws, der));
  await add('did:jwk sig-only secp256k1', await signJws(sigUse.privateJwk, sigUseDid + '#0', payload, 'ES256K'));
  // high S: s' = n - s is the same ECDSA signature, accepted (lowS: false)
  {
    const sig = compactSig(k1Jws);
    const s = BigInt('0x' + Buffer.from(sig.slice(32)).toString('hex'));
    const hs = Uint8Array.from([...sig.slice(0, 32), ...bigToBytes32(SECP256K1_N - s)]);
    await add('secp256k1 high S', withSignature(k1Jws, hs));
  }
  // tampering
  await add('tampered payload', { ...edJws, payload: b64uJson({ descriptorCid, permissionGrantId: 'x' }) });
  await add('tampered protected header', { payload: edJws.payload, signatures: [{ protected: b64uJson({ kid: edKey.kid, alg: 'ES256K' }), signature: edJws.signatures[0].signature }] });
  {
    const sig = compactSig(edJws); sig[5] ^= 1;
    await add('tampered Ed25519 signature', withSignature(edJws, sig));
    const k = compactSig(k1Jws); k[40] ^= 0x80;
    await add('tampered secp256k1 signature', withSignature(k1Jws, k));
    await add('Ed25519 signature 63 bytes', withSignature(edJws, compactSig(edJws).slice(0, 63)));
    await add('secp256k1 signature 65 bytes', withSignature(k1Jws, Uint8Array.from([...compactSig(k1Jws), 0])));
  }
  // JSON.parse keeps the last of duplicate keys, so must we
  {
    const text = `{"descriptorCid":"bafyreiwrong","descriptorCid":"${descriptorCid}"}`;
    const signer = new PrivateKeySigner({ privateJwk: edKey.privateJwk, keyId: edKey.kid });
    await add('payload with a duplicate key', (await GeneralJwsBuilder.create(Encoder.stringToBytes(text), [signer])).getJws());
  }
  // the schema lets a signature entry carry other members (an unprotected header)
  await add('entry with an unprotected header', { payload: edJws.payload, signatures: [{ ...edJws.signatures[0], header: { kid: 'x' } }] });
  await add('two signatures', { payload: edJws.payload, signatures: [edJws.signatures[0], edJws.signatures[0]] });
  await add('no signature', { payload: edJws.payload, signatures: [] });
  await add('payload is an array', await signJws(edKey.privateJwk, edKey.kid, [descriptorCid]));
  await add('payload not JSON', { ...edJws, payload: Encoder.stringToBase64Url('{not json') });
  await add('payload bad base64url', { ...edJws, payload: edJws.payload + '*' });
  await add('signature bad base64url', { payload: edJws.payload, signatures: [{ protected: edJws.signatures[0].protected, signature: 'ab+c' }] });
  await add('extra member', { ...edJws, header: {} });
  await add('protected header not JSON', { payload: edJws.payload, signatures: [{ protected: Encoder.stringToBase64Url('nope'), signature: edJws.signatures[0].signature }] });
  await add('unknown kid fragment', await signJws(edKey.privateJwk, edKey.did + '#nope', payload, 'EdDSA'));
  await add('kid without DID method support', await signJws(edKey.privateJwk, 'did:example:123#key-1', payload, 'EdDSA'));
  await add('did:key X25519 unsupported crv', await signJws(edKey.privateJwk, x25519Did + '#' + x25519Did.slice(8), payload, 'EdDSA'));
  // did:web: relative VM id ("#key-0" is a suffix of the kid), schema failures, key type errors
  await add('did:web relative id', await signJws(edWeb, web1 + '#key-0', payload, 'EdDSA'));
  await add('did:web private key in VM', await signJws(edWeb, web1 + '#key-priv', payload, 'EdDSA'));
  await add('did:web extra VM member', await signJws(edWeb, web1 + '#key-extra', payload, 'EdDSA'));
  await add('did:web VM type', await signJws(edWeb, web1 + '#key-type', payload, 'EdDSA'));
  await add('did:web X25519 crv', await signJws(edWeb, web1 + '#key-x25519', payload, 'EdDSA'));
  await add('did:web kty EC with crv Ed25519', await signJws(edWeb, web1 + '#key-kty', payload, 'EdDSA'));
  await add('did:web P-256', await signJws(p256Key.privateJwk, web1 + '#key-p256', payload));
  await add('did:web with port and path', await signJws(webEd.privateJwk, web2 + '#k1', payload));
  await add('did:web not found', await signJws(edWeb, 'did:web:nowhere.example#key-0', payload, 'EdDSA'));

  const keys = [
    { name: 'did:key Ed25519', kid: edKey.kid, privateJwk: edKey.privateJwk },
    { name: 'did:key secp256k1', kid: k1Key.kid, privateJwk: k1Key.privateJwk },
    { name: 'did:jwk P-256', kid: p256Key.kid, privateJwk: p256Key.privateJwk },
    { name: 'did:web relative id', kid: web1 + '#key-0', privateJwk: edWeb },
  ];
  fs.writeFileSync(out, JSON.stringify({ descriptorCid, web: webDocs, dids, jws, keys }, null, 1));
  const counts = {};
  for (const v of jws) counts[v.expect.status] = (counts[v.expect.status] ?? 0) + 1;
  console.log(`vectors: ${dids.length} DIDs, ${jws.length} JWS (by status ${JSON.stringify(counts)}), ${keys.length} keys`);
}

// Judges what the C side signed: every JWS must pass the SDK's checks, carry
// exactly the header {"kid","alg"} the SDK's builder writes, and secp256k1
// signatures must be low-S.  DIDs made by the C side must resolve to the
// documents the C side produced.
async function verify(vectorsFile, cFile) {
  const vectors = JSON.parse(fs.readFileSync(vectorsFile, 'utf8'));
  webDocs = vectors.web;
  const c = JSON.parse(fs.readFileSync(cFile, 'utf8'));
  let failures = 0;
  const fail = (msg) => { failures++; console.log('FAIL ' + msg); };
  for (const d of c.dids) {
    const r = await resolver.resolve(d.did);
    if (JSON.stringify(r.didDocument) !== JSON.stringify(d.document)) fail(`document of C-made ${d.did} differs:\n JS ${JSON.stringify(r.didDocument)}\n C  ${JSON.stringify(d.document)}`);
  }
  const algs = { Ed25519: 'EdDSA', secp256k1: 'ES256K', 'P-256': 'ES256' };
  let lowS = 0;
  for (const s of c.signed) {
    const verdict = await judge(s.jws);
    if (verdict.status !== 200 || verdict.signer !== s.kid.split('#')[0]) { fail(`${s.name}: SDK says ${JSON.stringify(verdict)}`); continue; }
    const header = Encoder.bytesToString(Encoder.base64UrlToBytes(s.jws.signatures[0].protected));
    if (header !== JSON.stringify({ kid: s.kid, alg: algs[s.crv] })) fail(`${s.name}: header ${header}`);
    if (Encoder.bytesToString(Encoder.base64UrlToBytes(s.jws.payload)) !== s.payloadText) fail(`${s.name}: payload text differs`);
    if (s.crv === 'secp256k1') {
      const sig = compactSig(s.jws);
      const sv = BigInt('0x' + Buffer.from(sig.slice(32)).toString('hex'));
      if (sig.length !== 64 || sv > SECP256K1_N / 2n) fail(`${s.name}: not a low-S compact signature`); else lowS++;
    }
    // the same JWS with one payload byte changed must fail in the SDK too
    const bad = { ...s.jws, payload: b64uJson({ descriptorCid, permissionGrantId: 'tampered' }) };
    const v2 = await judge(bad);
    if (v2.status !== 401 || v2.code !== 'GeneralJwsVerifierInvalidSignature') fail(`${s.name}: tampered copy: ${JSON.stringify(v2)}`);
  }
  console.log(`SDK verified ${c.signed.length} C signatures (${lowS} secp256k1, all low-S), ${c.dids.length} C-made DIDs resolved alike`);
  if (failures) { console.log(`${failures} failures`); process.exit(1); }
}

const [mode, a, b] = process.argv.slice(2);
if (mode === 'gen') await gen(a);
else if (mode === 'verify') await verify(a, b);
else { console.error('usage: dwn-jws.mjs gen OUT | verify VECTORS C_SIGNED'); process.exit(2); }
