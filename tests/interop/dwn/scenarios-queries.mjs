// Scenarios: Records.Query filters, sort orders, pagination with cursors and
// visibility (owner, anonymous, signed non-owner).  Every scenario first
// writes the same documented data set (queryData) into an empty DWN.
import { seeded, clone, ts as T, signDescriptor } from './harness.mjs';
import { rw, upd, rquery, pconfigure, socialDef, SOCIAL } from './common.mjs';

export const scenarios = [];
const S = (group, name, description, run, extra = {}) => scenarios.push({ group, name, description, run, ...extra });

const S1 = 'http://example.com/schema-one';
const S2 = 'http://example.com/schema-two';

/**
 * The query data set (alice's DWN), written at t = 1..12:
 *   r0 alice flat S1 text/plain 10 B, tags {kind:'a', n:1}, published (datePublished t=100); updated at t=12 (new tags)
 *   r1 alice flat S1 text/plain 20 B, tags {kind:'ab', n:5}, recipient bob
 *   r2 alice flat S2 application/json 30 B, tags {kind:'b', n:10, list:['x','y'], flag:true}, published (t=50)
 *   r3 alice flat S2 text/plain 40000 B (data store), tags {n:-3}, recipient carol
 *   r4 bob SOCIAL post, recipient alice
 *   r5 carol SOCIAL post, published (t=20)
 *   r6 bob SOCIAL post/comment under r4
 *   r7 alice flat S1 text/plain 15 B attested by carol
 *   r8 bob SOCIAL post, published (t=70)
 */
async function queryData(s) {
  const a = await s.id('alice'), b = await s.id('bob'), c = await s.id('carol');
  await s.send(a, await pconfigure({ by: a, at: 1, definition: socialDef() }), undefined, { expect: 202 });
  const r = [];
  const put = async (by, o, seed, size) => {
    const d = seeded(seed, size);
    const w = await rw({ by, data: d, ...o });
    await s.send(a, w, d, { expect: 202 });
    r.push(w);
    return w;
  };
  await put(a, { at: 2, schema: S1, tags: { kind: 'a', n: 1 }, published: true, datePublished: 100 }, 'q-r0', 10);
  await put(a, { at: 3, schema: S1, tags: { kind: 'ab', n: 5 }, recipient: b.did }, 'q-r1', 20);
  await put(a, { at: 4, schema: S2, dataFormat: 'application/json', tags: { kind: 'b', n: 10, list: ['x', 'y'], flag: true }, published: true, datePublished: 50 }, 'q-r2', 30);
  await put(a, { at: 5, schema: S2, tags: { n: -3 }, recipient: c.did }, 'q-r3', 40000);
  await put(b, { at: 6, protocol: SOCIAL, protocolPath: 'post', recipient: a.did }, 'q-r4', 11);
  await put(c, { at: 7, protocol: SOCIAL, protocolPath: 'post', published: true, datePublished: 20 }, 'q-r5', 12);
  await put(b, { at: 8, protocol: SOCIAL, protocolPath: 'post/comment', parentContextId: r[4].message.contextId }, 'q-r6', 13);
  await put(a, { at: 9, schema: S1, attestationSigners: [c.signer] }, 'q-r7', 15);
  await put(b, { at: 10, protocol: SOCIAL, protocolPath: 'post', published: true, datePublished: 70 }, 'q-r8', 14);
  const d = seeded('q-r0-v2', 10);
  const u = await upd(r[0], { by: a, at: 12, data: d, tags: { kind: 'a', n: 2 } });
  await s.send(a, u, d, { expect: 202 });
  return { a, b, c, r };
}

// One scenario per filter kind (owner queries; each step asserts 200).
const filters = {
  protocol: () => [{ protocol: SOCIAL }],
  protocolPath: () => [{ protocol: SOCIAL, protocolPath: 'post' }, { protocol: SOCIAL, protocolPath: 'post/comment' }],
  schema: () => [{ schema: S1 }, { schema: 'http://example.com/none' }],
  contextId: ({ r }) => [{ contextId: r[4].message.contextId }, { contextId: r[6].message.contextId }],
  recordId: ({ r }) => [{ recordId: r[2].message.recordId }],
  parentId: ({ r }) => [{ parentId: r[4].message.recordId }],
  dataFormat: () => [{ dataFormat: 'application/json' }, { dataFormat: 'text/plain' }],
  dataCid: ({ r }) => [{ dataCid: r[3].message.descriptor.dataCid }],
  author: ({ a, b, c }) => [{ author: b.did }, { author: [a.did, c.did] }, { author: [] , schema: S1 }],
  recipient: ({ a, b, c }) => [{ recipient: b.did }, { recipient: [a.did, c.did] }],
  attester: ({ c }) => [{ attester: c.did }],
  published: () => [{ published: true }, { published: false }],
  dataSize: () => [{ dataSize: { gte: 12, lt: 30 } }, { dataSize: { gt: 30 } }, { dataSize: { lte: 11 } }],
  dateCreated: () => [{ dateCreated: { from: T(3), to: T(6) } }, { dateCreated: { from: T(8) } }, { dateCreated: { to: T(3) } }],
  datePublished: () => [{ datePublished: { from: T(20), to: T(100) } }, { datePublished: { from: T(70) } }],
  dateUpdated: () => [{ dateUpdated: { from: T(10) } }, { dateUpdated: { to: T(5) } }],
  'tags-equal': () => [{ tags: { kind: 'ab' } }, { tags: { n: 10 } }, { tags: { flag: true } }, { tags: { list: 'y' } }],
  'tags-startsWith': () => [{ tags: { kind: { startsWith: 'a' } } }],
  'tags-range': () => [{ tags: { n: { gte: 2, lt: 10 } } }, { tags: { n: { lt: 0 } } }, { tags: { kind: { gt: 'a', lte: 'b' } } }],
  combined: ({ a }) => [{ schema: S1, author: a.did, published: false }, { protocol: SOCIAL, published: true, dateCreated: { from: T(7) } }],
};

for (const [kind, make] of Object.entries(filters)) {
  S('records-query-filter', `query-filter-${kind}`, `owner Records.Query by ${kind}`, async (s) => {
    const ctx = await queryData(s);
    let t = 20;
    for (const filter of make(ctx)) {
      await s.send(ctx.a, await rquery({ by: ctx.a, at: t++, filter }), undefined, { expect: 200 });
    }
  });
}

const SORTS = [undefined, 'createdAscending', 'createdDescending', 'publishedAscending', 'publishedDescending'];
for (const dateSort of SORTS) {
  S('records-query-sort', `query-sort-${dateSort ?? 'default'}`, `owner and anonymous queries with dateSort ${dateSort ?? 'absent (createdAscending)'}`, async (s) => {
    const { a } = await queryData(s);
    await s.send(a, await rquery({ by: a, at: 20, filter: { dataFormat: 'text/plain' }, dateSort }), undefined, { expect: 200 });
    await s.send(a, await rquery({ by: a, at: 21, filter: { protocol: SOCIAL }, dateSort }), undefined, { expect: 200 });
    await s.send(a, await rquery({ at: 22, filter: { published: true }, dateSort }), undefined, { expect: 200, note: 'anonymous' });
  });
}

for (const [dateSort, by] of [['createdAscending', 'alice'], ['createdDescending', 'alice'], ['publishedAscending', 'alice'], ['publishedDescending', null], [undefined, 'bob']]) {
  S('records-query-pagination', `query-paginate-${dateSort ?? 'default'}-${by ?? 'anonymous'}`, `pages of 2 following the cursor until none is returned (${dateSort ?? 'default sort'}, ${by ?? 'anonymous'})`, async (s) => {
    const ctx = await queryData(s);
    const who = by ? await s.id(by) : undefined;
    const filter = by === 'alice' ? { dataSize: { gte: 0 } } : { published: true };
    let cursor, t = 20;
    for (let page = 0; page < 10; page++) {
      const rep = await s.send(ctx.a, await rquery({ by: who, at: t++, filter, dateSort, pagination: { limit: 2, cursor } }), undefined, { expect: 200 });
      cursor = rep.cursor;
      if (!cursor) break;
    }
    if (cursor) throw new Error('pagination did not end');
  });
}

const VIS = 'records-query-visibility';
S(VIS, 'query-anonymous-published-only', 'an anonymous query sees only published records; with published:false it is refused', async (s) => {
  const { a } = await queryData(s);
  await s.send(a, await rquery({ at: 20, filter: { schema: S1 } }), undefined, { expect: 200 });
  await s.send(a, await rquery({ at: 21, filter: { protocol: SOCIAL } }), undefined, { expect: 200 });
  await s.send(a, await rquery({ at: 22, filter: { schema: S1, published: false } }), undefined, { expect: [401, 'AuthenticateJwsMissing'] });
});
S(VIS, 'query-nonowner-recipient-author', 'bob sees published records, records he authored and records addressed to him', async (s) => {
  const { a, b, c } = await queryData(s);
  await s.send(a, await rquery({ by: b, at: 20, filter: { schema: S1 } }), undefined, { expect: 200 });
  await s.send(a, await rquery({ by: b, at: 21, filter: { protocol: SOCIAL } }), undefined, { expect: 200 });
  await s.send(a, await rquery({ by: b, at: 22, filter: { published: false, dataFormat: 'text/plain' } }), undefined, { expect: 200 });
  await s.send(a, await rquery({ by: c, at: 23, filter: { dataFormat: 'text/plain' } }), undefined, { expect: 200 });
  await s.send(a, await rquery({ by: b, at: 24, filter: { protocol: SOCIAL, author: c.did } }), undefined, { expect: 200, note: 'author filter excludes his own' });
  await s.send(a, await rquery({ by: b, at: 25, filter: { schema: S1, recipient: c.did } }), undefined, { expect: 200, note: 'recipient filter excludes him' });
});
S(VIS, 'query-published-false-sort-400', 'published:false with a published sort is a 400', async (s) => {
  const { a } = await queryData(s);
  const q = await rquery({ by: a, at: 20, filter: { published: false }, dateSort: 'createdAscending' });
  const d = clone(q.message.descriptor);
  d.dateSort = 'publishedAscending';
  await s.send(a, await signDescriptor(d, a.signer), undefined, { expect: [400, 'RecordsQueryParseFilterPublishedSortInvalid'] });
});
S(VIS, 'query-nonowner-published-sort-quirk', 'signed non-owner with a published sort: the LevelDB store returns [] when an unpublished candidate lacks datePublished', async (s) => {
  const { a, b } = await queryData(s);
  await s.send(a, await rquery({ by: b, at: 20, filter: { schema: S1 }, dateSort: 'publishedAscending' }), undefined, { expect: 200, lenient: 'dwn-reference 8.3: LevelDB returns [] when a candidate lacks datePublished; a SQL store returns the published matches' });
});
S(VIS, 'query-empty-filter-400', 'an empty filter fails schema validation', async (s) => {
  const a = await s.id('alice');
  const q = await rquery({ by: a, at: 1, filter: { schema: S1 } });
  const d = clone(q.message.descriptor);
  d.filter = {};
  await s.send(a, await signDescriptor(d, a.signer), undefined, { expect: [400, 'SchemaValidator'] });
  d.filter = { schema: 'example.com/not-normalized/' };
  await s.send(a, await signDescriptor(d, a.signer), undefined, { expect: 400 });
});
