// Scenarios: Records.Write / Read / Delete / Subscribe on flat records, data
// handling (inline vs data store, 204, mismatches, > 40 MB), schema and JWS
// failures, tenant-independent identifiers.
import { sdk, ts, seeded, inline, signDescriptor, signerWithKid, clone } from './harness.mjs';
import { rw, upd, rread, rquery, rdelete, rsubscribe, pconfigure, socialDef, SOCIAL } from './common.mjs';

export const scenarios = [];
const S = (group, name, description, run, extra = {}) => scenarios.push({ group, name, description, run, ...extra });

const W = 'records-write';
S(W, 'write-flat-inline', 'owner writes a small flat record (data inline in the message store) and reads it back', async (s) => {
  const a = await s.id('alice');
  const d = seeded('flat-1', 1000);
  const w = await rw({ by: a, at: 1, data: d, schema: 'http://example.com/note' });
  await s.send(a, w, d, { expect: 202 });
  await s.send(a, await rread({ by: a, at: 2, filter: { recordId: w.message.recordId } }), undefined, { expect: 200 });
  await s.send(a, await rquery({ by: a, at: 3, filter: { schema: 'http://example.com/note' } }), undefined, { expect: 200 });
});

S(W, 'write-empty-data', 'a zero-byte record: dataCid of empty input, dataSize 0', async (s) => {
  const a = await s.id('alice');
  const d = seeded('empty', 0);
  const w = await rw({ by: a, at: 1, data: d });
  await s.send(a, w, d, { expect: 202 });
  await s.send(a, await rread({ by: a, at: 2, filter: { recordId: w.message.recordId } }), undefined, { expect: 200 });
});

S(W, 'write-update-newer', 'update with a newer timestamp replaces the data; query returns the update with initialWrite', async (s) => {
  const a = await s.id('alice');
  const d1 = seeded('upd-1', 500), d2 = seeded('upd-2', 700);
  const w = await rw({ by: a, at: 1, data: d1 });
  await s.send(a, w, d1, { expect: 202 });
  const u = await upd(w, { by: a, at: 2, data: d2 });
  await s.send(a, u, d2, { expect: 202 });
  await s.send(a, await rquery({ by: a, at: 3, filter: { recordId: w.message.recordId } }), undefined, { expect: 200 });
  await s.send(a, await rread({ by: a, at: 4, filter: { recordId: w.message.recordId } }), undefined, { expect: 200 });
});

S(W, 'write-update-older-409', 'an update older than the newest state is a conflict; so is re-sending the initial write', async (s) => {
  const a = await s.id('alice');
  const d1 = seeded('old-1', 64), d2 = seeded('old-2', 64), d3 = seeded('old-3', 64);
  const w = await rw({ by: a, at: 10, data: d1 });
  await s.send(a, w, d1, { expect: 202 });
  const u2 = await upd(w, { by: a, at: 30, data: d2 });
  const u1 = await upd(w, { by: a, at: 20, data: d3 });
  await s.send(a, u2, d2, { expect: 202 });
  await s.send(a, u1, d3, { expect: 409 });
  await s.send(a, w, d1, { expect: 409, note: 'initial write again' });
  await s.send(a, u2, d2, { expect: 409, note: 'exact duplicate of the newest' });
});

for (const order of ['smaller-first', 'larger-first']) {
  S(W, `write-tie-${order}`, `two updates with the same messageTimestamp: the larger messageCid wins (${order})`, async (s) => {
    const a = await s.id('alice');
    const d0 = seeded('tie-0', 10), dA = seeded('tie-a', 10), dB = seeded('tie-b', 10);
    const w = await rw({ by: a, at: 1, data: d0 });
    await s.send(a, w, d0, { expect: 202 });
    let x = { w: await upd(w, { by: a, at: 5, data: dA }), d: dA };
    let y = { w: await upd(w, { by: a, at: 5, data: dB }), d: dB };
    const cx = await sdk.Message.getCid(x.w.message), cy = await sdk.Message.getCid(y.w.message);
    if (cx > cy) [x, y] = [y, x]; // x has the smaller CID
    if (order === 'smaller-first') {
      await s.send(a, x.w, x.d, { expect: 202 });
      await s.send(a, y.w, y.d, { expect: 202 });
    } else {
      await s.send(a, y.w, y.d, { expect: 202 });
      await s.send(a, x.w, x.d, { expect: 409 });
    }
    await s.send(a, await rread({ by: a, at: 6, filter: { recordId: w.message.recordId } }), undefined, { expect: 200 });
  });
}

S(W, 'write-204-then-update', 'initial write without data is 204 and invisible; re-sending it with data is 409; a newer update with data makes it visible', async (s) => {
  const a = await s.id('alice');
  const d = seeded('nodata', 2000);
  const cid = await sdk.Cid.computeDagPbCidFromBytes(d.bytes);
  const w = await rw({ by: a, at: 1, dataCid: cid, dataSize: 2000 });
  await s.send(a, w, undefined, { expect: 204 });
  await s.send(a, await rread({ by: a, at: 2, filter: { recordId: w.message.recordId } }), undefined, { expect: 404 });
  await s.send(a, await rquery({ by: a, at: 3, filter: { dataFormat: 'text/plain' } }), undefined, { expect: 200 });
  await s.send(a, w, d, { expect: 409 });
  const u = await upd(w, { by: a, at: 4, data: d });
  await s.send(a, u, d, { expect: 202 });
  await s.send(a, await rread({ by: a, at: 5, filter: { recordId: w.message.recordId } }), undefined, { expect: 200 });
});

S(W, 'write-dataless-update-inline', 'update without data keeping the same dataCid (≤ 30000 bytes) reuses the stored encodedData', async (s) => {
  const a = await s.id('alice');
  const d = seeded('keep-small', 3000);
  const w = await rw({ by: a, at: 1, data: d, published: false });
  await s.send(a, w, d, { expect: 202 });
  const u = await upd(w, { by: a, at: 2, published: true, datePublished: 2 });
  await s.send(a, u, undefined, { expect: 202 });
  await s.send(a, await rread({ by: a, at: 3, filter: { recordId: w.message.recordId } }), undefined, { expect: 200 });
});

S(W, 'write-dataless-update-large', 'update without data keeping the same dataCid (> 30000 bytes) reuses the data-store blob', async (s) => {
  const a = await s.id('alice');
  const d = seeded('keep-large', 300000);
  const w = await rw({ by: a, at: 1, data: d });
  await s.send(a, w, d, { expect: 202 });
  const u = await upd(w, { by: a, at: 2, tags: { state: 'moved' } });
  await s.send(a, u, undefined, { expect: 202 });
  await s.send(a, await rread({ by: a, at: 3, filter: { recordId: w.message.recordId } }), undefined, { expect: 200 });
});

S(W, 'write-dataless-update-cid-mismatch', 'update without data naming a different dataCid than the newest write: 400', async (s) => {
  const a = await s.id('alice');
  const d = seeded('mis-a', 100), other = seeded('mis-b', 100);
  const w = await rw({ by: a, at: 1, data: d });
  await s.send(a, w, d, { expect: 202 });
  const u = await upd(w, { by: a, at: 2, data: other });
  await s.send(a, u, undefined, { expect: [400, 'RecordsWriteDataCidMismatch'] });
});

S(W, 'write-inline-threshold', '30000 bytes travel inline (query entry has encodedData), 30001 go to the data store (no encodedData)', async (s) => {
  const a = await s.id('alice');
  const d1 = seeded('th-30000', 30000), d2 = seeded('th-30001', 30001);
  await s.send(a, await rw({ by: a, at: 1, data: d1 }), d1, { expect: 202 });
  await s.send(a, await rw({ by: a, at: 2, data: d2 }), d2, { expect: 202 });
  await s.send(a, await rquery({ by: a, at: 3, filter: { dataFormat: 'text/plain' } }), undefined, { expect: 200 });
});

for (const [size, tag] of [[100, 'inline'], [50000, 'store']]) {
  S(W, `write-datacid-mismatch-${tag}`, `data stream differs from dataCid (${size} bytes): 400 and nothing stored`, async (s) => {
    const a = await s.id('alice');
    const d = seeded(`dcm-${tag}`, size), wrong = seeded(`dcm-${tag}-wrong`, size);
    const w = await rw({ by: a, at: 1, data: d });
    await s.send(a, w, wrong, { expect: [400, 'RecordsWriteDataCidMismatch'] });
    await s.send(a, await rread({ by: a, at: 2, filter: { recordId: w.message.recordId } }), undefined, { expect: 404 });
  });
  S(W, `write-datasize-mismatch-${tag}`, `dataSize differs from the stream length (${size} bytes): 400`, async (s) => {
    const a = await s.id('alice');
    const d = seeded(`dsm-${tag}`, size);
    const cid = await sdk.Cid.computeDagPbCidFromBytes(d.bytes);
    const w = await rw({ by: a, at: 1, dataCid: cid, dataSize: size + 1 });
    await s.send(a, w, d, { expect: [400, 'RecordsWriteDataSizeMismatch'] });
  });
}

S(W, 'write-immutable-change', 'an update changing an immutable property (schema, recipient) is rejected', async (s) => {
  const a = await s.id('alice');
  const b = await s.id('bob');
  const d = seeded('imm', 100);
  const w = await rw({ by: a, at: 1, data: d, schema: 'http://example.com/a' });
  await s.send(a, w, d, { expect: 202 });
  const u1 = await rw({ by: a, at: 2, created: 1, data: d, schema: 'http://example.com/b', recordId: w.message.recordId });
  await s.send(a, u1, d, { expect: [400, 'RecordsWriteImmutablePropertyChanged'] });
  const u2 = await rw({ by: a, at: 3, created: 1, data: d, schema: 'http://example.com/a', recipient: b.did, recordId: w.message.recordId });
  await s.send(a, u2, d, { expect: [400, 'RecordsWriteImmutablePropertyChanged'] });
});

S(W, 'write-after-delete', 'a write to a deleted record is 400 RecordsWriteNotAllowedAfterDelete', async (s) => {
  const a = await s.id('alice');
  const d = seeded('wad', 100);
  const w = await rw({ by: a, at: 1, data: d });
  await s.send(a, w, d, { expect: 202 });
  await s.send(a, await rdelete({ by: a, at: 2, recordId: w.message.recordId }), undefined, { expect: 202 });
  await s.send(a, await upd(w, { by: a, at: 3, data: d }), d, { expect: [400, 'RecordsWriteNotAllowedAfterDelete'] });
});

S(W, 'write-published', 'published records with datePublished; unpublished -> published toggle; anonymous reads see only published', async (s) => {
  const a = await s.id('alice');
  const d1 = seeded('pub-1', 200), d2 = seeded('pub-2', 200);
  const w1 = await rw({ by: a, at: 1, data: d1, published: true, datePublished: 5 });
  const w2 = await rw({ by: a, at: 2, data: d2 });
  await s.send(a, w1, d1, { expect: 202 });
  await s.send(a, w2, d2, { expect: 202 });
  await s.send(a, await rquery({ at: 3, filter: { dataFormat: 'text/plain' } }), undefined, { expect: 200, note: 'anonymous' });
  await s.send(a, await rread({ at: 3, filter: { recordId: w2.message.recordId } }), undefined, { expect: [401, 'RecordsReadAuthorizationFailed'], note: 'anonymous read of unpublished' });
  await s.send(a, await upd(w2, { by: a, at: 4, published: true, datePublished: 4 }), undefined, { expect: 202 });
  await s.send(a, await rquery({ at: 5, filter: { dataFormat: 'text/plain' } }), undefined, { expect: 200, note: 'anonymous' });
  await s.send(a, await rread({ at: 6, filter: { recordId: w2.message.recordId } }), undefined, { expect: 200, note: 'anonymous' });
});

S(W, 'write-published-missing-date', 'published:true without datePublished fails schema validation', async (s) => {
  const a = await s.id('alice');
  const d = seeded('pmd', 10);
  const w = await rw({ by: a, at: 1, data: d, published: true });
  const m = clone(w.message);
  delete m.descriptor.datePublished;
  const auth = await sdk.RecordsWrite.createSignerSignature({ recordId: m.recordId, descriptorCid: await sdk.Cid.computeCid(m.descriptor), signer: a.signer });
  m.authorization = { signature: auth };
  await s.send(a, m, d, { expect: 400 });
});

S(W, 'write-tags', 'tags of every value kind are stored and returned', async (s) => {
  const a = await s.id('alice');
  const d = seeded('tags', 50);
  const w = await rw({ by: a, at: 1, data: d, tags: { s: 'text', n: 42, f: 1.5, b: true, sa: ['x', 'y'], na: [1, 2, 3] } });
  await s.send(a, w, d, { expect: 202 });
  await s.send(a, await rquery({ by: a, at: 2, filter: { tags: { n: 42 } } }), undefined, { expect: 200 });
  const tooMany = {};
  for (let i = 0; i < 11; i++) tooMany[`t${i}`] = i;
  const bad = await rw({ by: a, at: 3, data: d, tags: { x: 'y' } });
  const m = clone(bad.message);
  m.descriptor.tags = tooMany;
  const sig = await sdk.RecordsWrite.createSignerSignature({ recordId: m.recordId, descriptorCid: await sdk.Cid.computeCid(m.descriptor), signer: a.signer });
  m.authorization = { signature: sig };
  await s.send(a, m, d, { expect: [400, 'SchemaValidator'], note: '11 tags' });
});

S(W, 'write-date-created-mismatch', 'initial write whose messageTimestamp differs from dateCreated', async (s) => {
  const a = await s.id('alice');
  const d = seeded('dcm', 10);
  const w = await rw({ by: a, at: 2, created: 1, data: d });
  await s.send(a, w, d, { expect: [400, 'RecordsWriteValidateIntegrityDateCreatedMismatch'] });
});

S(W, 'write-non-owner-flat', 'a non-owner cannot write a flat record', async (s) => {
  const a = await s.id('alice');
  const b = await s.id('bob');
  const d = seeded('nof', 10);
  await s.send(a, await rw({ by: b, at: 1, data: d }), d, { expect: [401, 'RecordsWriteAuthorizationFailed'] });
});

S(W, 'write-recordid-tampered', 'top-level recordId differs from the signed one', async (s) => {
  const a = await s.id('alice');
  const d = seeded('rid', 10);
  const w = await rw({ by: a, at: 1, data: d });
  const m = clone(w.message);
  const other = await rw({ by: a, at: 2, data: d });
  m.recordId = other.message.recordId;
  await s.send(a, m, d, { expect: 400 });
});

S(W, 'write-encoded-data-rejected', 'encodedData on an incoming write is not allowed', async (s) => {
  const a = await s.id('alice');
  const d = seeded('enc', 10);
  const w = await rw({ by: a, at: 1, data: d });
  await s.send(a, { ...clone(w.message), encodedData: Buffer.from(d.bytes).toString('base64url') }, undefined, { expect: [400, 'SchemaValidatorUnevaluatedPropertyNotAllowed'] });
});

S(W, 'write-secp256k1-and-jwk', 'owners with secp256k1 did:key, Ed25519 did:jwk and secp256k1 did:jwk write to their own DWNs', async (s) => {
  for (const [l, n] of [['carol', 1], ['dave', 2], ['erin', 3]]) {
    const x = await s.id(l);
    const d = seeded(`own-${l}`, 256);
    const w = await rw({ by: x, at: n, data: d });
    await s.send(x, w, d, { expect: 202 });
    await s.send(x, await rread({ by: x, at: n + 10, filter: { recordId: w.message.recordId } }), undefined, { expect: 200 });
  }
});

S(W, 'write-owner-signature', "the owner keeps a copy of someone else's record with ownerSignature; a non-tenant owner is refused", async (s) => {
  const a = await s.id('alice');
  const b = await s.id('bob');
  const c = await s.id('carol');
  const d = seeded('own-copy', 400);
  const w = await rw({ by: b, at: 1, data: d });
  await s.send(b, w, d, { expect: 202, note: "bob's own DWN" });
  const copy = await sdk.RecordsWrite.parse(clone(w.message));
  await copy.signAsOwner(a.signer);
  await s.send(a, copy, d, { expect: 202, note: "alice keeps bob's record" });
  const copy2 = await sdk.RecordsWrite.parse(clone(w.message));
  await copy2.signAsOwner(c.signer);
  await s.send(a, copy2, d, { expect: [401, 'RecordsWriteOwnerAndTenantMismatch'] });
  await s.send(a, await rquery({ by: a, at: 2, filter: { author: b.did } }), undefined, { expect: 200 });
});

S(W, 'write-large-40mb', 'a 45 613 057-byte record (two-level UnixFS tree): write, read back (sha256), query entry without encodedData', async (s) => {
  const a = await s.id('alice');
  const d = seeded('big-record', 45613057);
  const w = await rw({ by: a, at: 1, data: d, dataFormat: 'application/octet-stream' });
  await s.send(a, w, d, { expect: 202 });
  const r = await s.send(a, await rread({ by: a, at: 2, filter: { recordId: w.message.recordId } }), undefined, { expect: 200 });
  if (r.entry.data.sha256 !== d.spec.sha256 || r.entry.data.size !== d.spec.size) throw new Error('40 MB read-back differs');
  await s.send(a, await rquery({ by: a, at: 3, filter: { dataFormat: 'application/octet-stream' } }), undefined, { expect: 200 });
});

S(W, 'tenant-independent-ids', 'the same signed message processed by two tenants: identical ids and stored entries', async (s) => {
  const a = await s.id('alice');
  const b = await s.id('bob');
  const c = await s.id('carol');
  await s.send(a, await pconfigure({ by: a, at: 1, definition: socialDef() }), undefined, { expect: 202 });
  await s.send(b, await pconfigure({ by: b, at: 1, definition: socialDef() }), undefined, { expect: 202 });
  const d = seeded('shared-post', 120);
  const w = await rw({ by: c, at: 2, data: d, protocol: SOCIAL, protocolPath: 'post' });
  await s.send(a, w, d, { expect: 202 });
  await s.send(b, w, d, { expect: 202 });
  await s.send(a, await rquery({ at: 3, filter: { protocol: SOCIAL } }), undefined, { expect: 200 });
  await s.send(b, await rquery({ at: 3, filter: { protocol: SOCIAL } }), undefined, { expect: 200 });
});

// ------------------------------------------------------------------- read
const R = 'records-read';
async function threeRecords(s, a) {
  const out = [];
  for (let i = 0; i < 3; i++) {
    const d = seeded(`rd-${i}`, 100 + i);
    const w = await rw({ by: a, at: 1 + i, data: d, schema: i < 2 ? 'http://example.com/pair' : 'http://example.com/single' });
    await s.send(a, w, d, { expect: 202 });
    out.push(w);
  }
  return out;
}
S(R, 'read-by-filter', 'read by a filter matching exactly one record', async (s) => {
  const a = await s.id('alice');
  await threeRecords(s, a);
  await s.send(a, await rread({ by: a, at: 10, filter: { schema: 'http://example.com/single' } }), undefined, { expect: 200 });
});
S(R, 'read-multiple-400', 'read by a filter matching two records', async (s) => {
  const a = await s.id('alice');
  await threeRecords(s, a);
  await s.send(a, await rread({ by: a, at: 10, filter: { schema: 'http://example.com/pair' } }), undefined, { expect: [400, 'RecordsReadReturnedMultiple'] });
});
S(R, 'read-not-found', 'read of an unknown recordId and of an empty filter match', async (s) => {
  const a = await s.id('alice');
  const [w] = await threeRecords(s, a);
  await s.send(a, await rread({ by: a, at: 10, filter: { recordId: 'bafyreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' } }), undefined, { expect: 404 });
  await s.send(a, await rread({ by: a, at: 11, filter: { schema: 'http://example.com/none' } }), undefined, { expect: 404 });
  await s.send(a, await rread({ by: a, at: 12, filter: { recordId: w.message.recordId } }), undefined, { expect: 200 });
});
S(R, 'read-deleted-404-entry', 'read of a deleted record: 404 with recordsDelete and initialWrite', async (s) => {
  const a = await s.id('alice');
  const [w] = await threeRecords(s, a);
  await s.send(a, await rdelete({ by: a, at: 10, recordId: w.message.recordId }), undefined, { expect: 202 });
  await s.send(a, await rread({ by: a, at: 11, filter: { recordId: w.message.recordId } }), undefined, { expect: 404 });
});
S(R, 'read-unauthorized', 'a non-owner who is neither author nor recipient cannot read an unpublished record; the recipient can', async (s) => {
  const a = await s.id('alice');
  const b = await s.id('bob');
  const c = await s.id('carol');
  const d = seeded('rcpt', 100);
  const w = await rw({ by: a, at: 1, data: d, recipient: b.did });
  await s.send(a, w, d, { expect: 202 });
  await s.send(a, await rread({ by: c, at: 2, filter: { recordId: w.message.recordId } }), undefined, { expect: [401, 'RecordsReadAuthorizationFailed'] });
  await s.send(a, await rread({ by: b, at: 3, filter: { recordId: w.message.recordId } }), undefined, { expect: 200 });
});
S(R, 'read-update-with-initial', 'read of an updated record returns the newest write plus initialWrite', async (s) => {
  const a = await s.id('alice');
  const d1 = seeded('ru-1', 40000), d2 = seeded('ru-2', 41000);
  const w = await rw({ by: a, at: 1, data: d1 });
  await s.send(a, w, d1, { expect: 202 });
  await s.send(a, await upd(w, { by: a, at: 2, data: d2 }), d2, { expect: 202 });
  await s.send(a, await rread({ by: a, at: 3, filter: { recordId: w.message.recordId } }), undefined, { expect: 200 });
});

// ----------------------------------------------------------------- delete
const D = 'records-delete';
S(D, 'delete-plain', 'delete, then the record is gone from queries; deleting again is 404', async (s) => {
  const a = await s.id('alice');
  const d = seeded('del', 50000);
  const w = await rw({ by: a, at: 1, data: d });
  await s.send(a, w, d, { expect: 202 });
  await s.send(a, await rdelete({ by: a, at: 2, recordId: w.message.recordId }), undefined, { expect: 202 });
  await s.send(a, await rquery({ by: a, at: 3, filter: { dataFormat: 'text/plain' } }), undefined, { expect: 200 });
  await s.send(a, await rdelete({ by: a, at: 4, recordId: w.message.recordId }), undefined, { expect: 404 });
});
S(D, 'delete-unknown-404', 'delete of a record that never existed', async (s) => {
  const a = await s.id('alice');
  const d = seeded('du', 10);
  const w = await rw({ by: a, at: 1, data: d });
  await s.send(a, await rdelete({ by: a, at: 2, recordId: w.message.recordId }), undefined, { expect: 404 });
  const bad = { interface: 'Records', method: 'Delete', messageTimestamp: ts(3), recordId: w.message.recordId };
  await s.send(a, await signDescriptor(bad, a.signer), undefined, { expect: [400, 'SchemaValidatorFailure'], note: 'prune is required' });
});
S(D, 'delete-older-409', 'a delete not newer than the newest write is a conflict', async (s) => {
  const a = await s.id('alice');
  const d = seeded('do', 10);
  const w = await rw({ by: a, at: 5, data: d });
  await s.send(a, w, d, { expect: 202 });
  await s.send(a, await rdelete({ by: a, at: 4, recordId: w.message.recordId }), undefined, { expect: 409 });
});
S(D, 'delete-non-owner-401', 'a non-owner cannot delete a flat record', async (s) => {
  const a = await s.id('alice');
  const b = await s.id('bob');
  const d = seeded('dn', 10);
  const w = await rw({ by: a, at: 1, data: d, published: true });
  await s.send(a, w, d, { expect: 202 });
  await s.send(a, await rdelete({ by: b, at: 2, recordId: w.message.recordId }), undefined, { expect: [401, 'RecordsDeleteAuthorizationFailed'] });
});
S(D, 'delete-then-prune', 'a plain delete followed by a pruning delete is accepted; the reverse order is 404', async (s) => {
  const a = await s.id('alice');
  const d = seeded('dp', 10), d2 = seeded('dp2', 10);
  const w = await rw({ by: a, at: 1, data: d });
  const w2 = await rw({ by: a, at: 2, data: d2 });
  await s.send(a, w, d, { expect: 202 });
  await s.send(a, w2, d2, { expect: 202 });
  await s.send(a, await rdelete({ by: a, at: 3, recordId: w.message.recordId }), undefined, { expect: 202 });
  await s.send(a, await rdelete({ by: a, at: 4, recordId: w.message.recordId, prune: true }), undefined, { expect: 202 });
  await s.send(a, await rdelete({ by: a, at: 5, recordId: w2.message.recordId, prune: true }), undefined, { expect: 202 });
  await s.send(a, await rdelete({ by: a, at: 6, recordId: w2.message.recordId }), undefined, { expect: 404 });
});
S(D, 'delete-prune-descendants', 'prune removes the whole subtree (children, grandchildren); a plain delete keeps children', async (s) => {
  const a = await s.id('alice');
  await s.send(a, await pconfigure({ by: a, at: 1, definition: socialDef() }), undefined, { expect: 202 });
  const posts = [];
  for (let p = 0; p < 2; p++) {
    const dp = seeded(`post-${p}`, 30);
    const post = await rw({ by: a, at: 2 + p, data: dp, protocol: SOCIAL, protocolPath: 'post' });
    await s.send(a, post, dp, { expect: 202 });
    const dc = seeded(`comment-${p}`, 40);
    const comment = await rw({ by: a, at: 4 + p, data: dc, protocol: SOCIAL, protocolPath: 'post/comment', parentContextId: post.message.contextId });
    await s.send(a, comment, dc, { expect: 202 });
    const dr = seeded(`reply-${p}`, 35000);
    const reply = await rw({ by: a, at: 6 + p, data: dr, protocol: SOCIAL, protocolPath: 'post/comment/reply', parentContextId: comment.message.contextId });
    await s.send(a, reply, dr, { expect: 202 });
    posts.push(post);
  }
  await s.send(a, await rdelete({ by: a, at: 10, recordId: posts[0].message.recordId, prune: true }), undefined, { expect: 202 });
  await s.send(a, await rdelete({ by: a, at: 11, recordId: posts[1].message.recordId }), undefined, { expect: 202 });
  await s.send(a, await rquery({ by: a, at: 12, filter: { protocol: SOCIAL } }), undefined, { expect: 200 });
  await s.send(a, await sdk.MessagesQuery.create({ filters: [], signer: a.signer, messageTimestamp: ts(13) }), undefined, { expect: 200 });
});

// -------------------------------------------------------------- subscribe
const SUB = 'records-subscribe';
S(SUB, 'subscribe-no-stream-501', 'without an event stream Records.Subscribe is 501', async (s) => {
  const a = await s.id('alice');
  await s.send(a, await rsubscribe({ by: a, at: 1, filter: { schema: 'http://example.com/x' } }), undefined, { expect: [501, 'RecordsSubscribeEventStreamUnimplemented'] });
});
S(SUB, 'subscribe-owner-events', 'owner subscription receives matching writes and deletes; an anonymous one only published writes', async (s) => {
  const a = await s.id('alice');
  await s.send(a, await rsubscribe({ by: a, at: 1, filter: { schema: 'http://example.com/ev' } }), undefined, { expect: 200 });
  await s.send(a, await rsubscribe({ at: 1, filter: { schema: 'http://example.com/ev' } }), undefined, { expect: 200, note: 'anonymous' });
  const d1 = seeded('ev1', 10), d2 = seeded('ev2', 10), d3 = seeded('ev3', 10);
  const w1 = await rw({ by: a, at: 2, data: d1, schema: 'http://example.com/ev' });
  await s.send(a, w1, d1, { expect: 202 });
  await s.send(a, await rw({ by: a, at: 3, data: d2, schema: 'http://example.com/other' }), d2, { expect: 202 });
  await s.send(a, await rw({ by: a, at: 4, data: d3, schema: 'http://example.com/ev', published: true }), d3, { expect: 202 });
  await s.send(a, await upd(w1, { by: a, at: 5, data: d2 }), d2, { expect: 202 });
  await s.send(a, await rdelete({ by: a, at: 6, recordId: w1.message.recordId }), undefined, { expect: 202 });
}, { eventStream: true });
S(SUB, 'subscribe-unauthorized', 'anonymous subscribe to unpublished records and a signed non-owner subscribe to published:false', async (s) => {
  const a = await s.id('alice');
  const b = await s.id('bob');
  await s.send(a, await rsubscribe({ at: 1, filter: { published: false } }), undefined, { expect: [401, 'AuthenticateJwsMissing'] });
  await s.send(a, await rsubscribe({ by: b, at: 2, filter: { published: false } }), undefined, { expect: 200, note: 'narrowed to what bob may see' });
}, { eventStream: true });

// ------------------------------------------------------- schema and JWS
const V = 'schema-jws';
S(V, 'schema-missing-interface', 'descriptor without interface/method', async (s) => {
  const a = await s.id('alice');
  await s.send(a, { descriptor: { method: 'Query', messageTimestamp: ts(1), filter: {} } }, undefined, { expect: [400, 'Both interface and method must be present'] });
});
S(V, 'schema-unknown-method', 'an interface+method pair that does not exist (Records.Count)', async (s) => {
  const a = await s.id('alice');
  const m = await signDescriptor({ interface: 'Records', method: 'Count', messageTimestamp: ts(1) }, a.signer);
  await s.send(a, m, undefined, { expect: [400, 'SchemaValidatorSchemaNotFound'] });
});
S(V, 'schema-additional-property', 'an unknown descriptor property is rejected', async (s) => {
  const a = await s.id('alice');
  const m = await signDescriptor({ interface: 'Protocols', method: 'Query', messageTimestamp: ts(1), bogus: 1 }, a.signer);
  await s.send(a, m, undefined, { expect: [400, 'SchemaValidator'] });
});
S(V, 'schema-bad-timestamp', 'a timestamp with millisecond precision fails the pattern', async (s) => {
  const a = await s.id('alice');
  const m = await signDescriptor({ interface: 'Protocols', method: 'Query', messageTimestamp: '2024-01-01T00:00:00.000Z' }, a.signer);
  await s.send(a, m, undefined, { expect: [400, 'SchemaValidatorFailure'] });
  const q = await rquery({ by: a, at: 1, filter: { schema: 'http://example.com/x' }, pagination: { limit: 1 } });
  const bad = clone(q.message);
  bad.descriptor.pagination.limit = 0;
  await s.send(a, bad, undefined, { expect: [400, 'SchemaValidatorFailure'] });
});
S(V, 'jws-bad-signature', 'a flipped signature byte: 401 GeneralJwsVerifierInvalidSignature', async (s) => {
  const a = await s.id('alice');
  const c = await s.id('carol');
  for (const [x, t] of [[a, 1], [c, 2]]) {
    const d = seeded(`bad-sig-${x.label}`, 10);
    const w = await rw({ by: x, at: t, data: d });
    const m = clone(w.message);
    const sig = Buffer.from(m.authorization.signature.signatures[0].signature, 'base64url');
    sig[40] ^= 1; // in S (Ed25519) / s (ECDSA): decodes, does not verify
    m.authorization.signature.signatures[0].signature = sig.toString('base64url');
    await s.send(x, m, d, { expect: [401, 'GeneralJwsVerifierInvalidSignature'] });
  }
  // A flipped bit in the Ed25519 R point: the point does not decode, the
  // verifier throws and the detail is the curve library's message (401).
  const d = seeded('bad-sig-alice', 10);
  const w = await rw({ by: a, at: 1, data: d });
  const m = clone(w.message);
  const sig = Buffer.from(m.authorization.signature.signatures[0].signature, 'base64url');
  sig[5] ^= 1;
  m.authorization.signature.signatures[0].signature = sig.toString('base64url');
  await s.send(a, m, d, { expect: 401 });
});
S(V, 'jws-unknown-kid', 'kid with an unknown fragment, and a DID method the node cannot resolve', async (s) => {
  const a = await s.id('alice');
  const d = seeded('kid', 10);
  const w = await rw({ at: 1, data: d, signer: signerWithKid(a, a.did + '#nope') });
  await s.send(a, w, d, { expect: [401, 'GeneralJwsVerifierGetPublicKeyNotFound'] });
  const q = await sdk.ProtocolsQuery.create({ signer: signerWithKid(a, 'did:example:123#key-1'), messageTimestamp: ts(2) });
  await s.send(a, q, undefined, { expect: [401, 'GeneralJwsVerifierGetPublicKeyNotFound'] });
});
S(V, 'jws-descriptor-tampered', 'descriptor changed after signing: descriptorCid in the payload no longer matches', async (s) => {
  const a = await s.id('alice');
  const q = await rquery({ by: a, at: 1, filter: { schema: 'http://example.com/x' } });
  const m = clone(q.message);
  m.descriptor.filter.schema = 'http://example.com/y';
  await s.send(a, m, undefined, { expect: 400 });
});
S(V, 'jws-two-signatures', 'a GeneralJWS with two signatures', async (s) => {
  const a = await s.id('alice');
  const q = await rquery({ by: a, at: 1, filter: { schema: 'http://example.com/x' } });
  const m = clone(q.message);
  m.authorization.signature.signatures.push(m.authorization.signature.signatures[0]);
  await s.send(a, m, undefined, { expect: 400 });
});
S(V, 'jws-missing-authorization', 'a Records.Write without authorization and a Records.Query for unpublished records without it', async (s) => {
  const a = await s.id('alice');
  const d = seeded('noauth', 10);
  const w = await rw({ by: a, at: 1, data: d });
  const m = clone(w.message);
  delete m.authorization;
  await s.send(a, m, d, { expect: [400, 'SchemaValidator'] });
  await s.send(a, await rquery({ at: 2, filter: { published: false } }), undefined, { expect: [401, 'AuthenticateJwsMissing'] });
});
