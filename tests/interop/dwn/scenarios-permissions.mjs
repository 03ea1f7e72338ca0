// Scenarios: permissions (records of the built-in permissions protocol):
// requests, grants with scopes and conditions, grant use through
// permissionGrantId, expiry / activation / revocation, author-delegated and
// owner-delegated grants, grants for Protocols.
import { sdk, ts, seeded, signDescriptor } from './harness.mjs';
import {
  rw, upd, rread, rquery, rdelete, pconfigure, pquery, grant, request, revocation,
  socialDef, SOCIAL, rulesDef, RULES, miniDef, PERMISSIONS,
} from './common.mjs';

export const scenarios = [];
const S = (group, name, description, run, extra = {}) => scenarios.push({ group, name, description, run, ...extra });
const P = 'permissions';
const FAR = 100000; // grant expiry, seconds after the epoch of ts()

async function base(s) {
  const a = await s.id('alice'), b = await s.id('bob'), c = await s.id('carol');
  await s.send(a, await pconfigure({ by: a, at: 1, definition: rulesDef() }), undefined, { expect: 202 });
  return { a, b, c };
}
const secret = (by, at, extra = {}) => {
  const d = seeded(`secret-${by.label}-${at}`, 40);
  return rw({ by, at, data: d, protocol: RULES, protocolPath: 'secret', ...extra }).then((w) => [w, d]);
};
async function put(s, tenant, g, expect = 202) {
  await s.send(tenant, g.write, g.data, { expect });
  return g;
}

S(P, 'perm-request', 'anyone may write a permission request; the owner queries requests', async (s) => {
  const { a, b } = await base(s);
  const r = await request({ by: b, at: 2, scope: { interface: 'Records', method: 'Write', protocol: RULES }, description: 'please' });
  await s.send(a, r.write, r.data, { expect: 202 });
  const r2 = await request({ by: b, at: 3, scope: { interface: 'Messages', method: 'Query' } });
  await s.send(a, r2.write, r2.data, { expect: 202 });
  await s.send(a, await rquery({ by: a, at: 4, filter: { protocol: PERMISSIONS, protocolPath: 'request' } }), undefined, { expect: 200 });
  await s.send(a, await rread({ by: b, at: 5, filter: { recordId: r.write.message.recordId } }), undefined, { expect: 200 });
});
S(P, 'perm-grant-records-write', 'a Records.Write grant lets the grantee write where the protocol alone would not; only the grantee may use it', async (s) => {
  const { a, b, c } = await base(s);
  const [w0, d0] = await secret(b, 2);
  await s.send(a, w0, d0, { expect: [401, 'ProtocolAuthorizationActionRulesNotFound'] });
  const g = await put(s, a, await grant({ by: a, to: b, at: 3, expires: FAR, scope: { interface: 'Records', method: 'Write', protocol: RULES }, description: 'write secrets' }));
  const [w, d] = await secret(b, 4, { permissionGrantId: g.id });
  await s.send(a, w, d, { expect: 202 });
  await s.send(a, await rread({ by: b, at: 5, filter: { recordId: g.id } }), undefined, { expect: 200, note: 'grantee reads the grant' });
  const [w2, d2] = await secret(c, 6, { permissionGrantId: g.id });
  await s.send(a, w2, d2, { expect: [401, 'GrantAuthorizationNotGrantedToAuthor'] });
  const [w3, d3] = await secret(b, 7, { permissionGrantId: 'bafyreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' });
  await s.send(a, w3, d3, { expect: [401, 'GrantAuthorizationGrantMissing'] });
  const du = seeded('secret-upd', 41); // createFrom does not carry permissionGrantId: build the update directly
  const u = await rw({ by: b, at: 8, created: 4, recordId: w.message.recordId, data: du, protocol: RULES, protocolPath: 'secret', permissionGrantId: g.id });
  await s.send(a, u, du, { expect: 202, note: 'update under the grant' });
});
S(P, 'perm-grant-records-read', 'a Records.Read grant lets the grantee read an unpublished record', async (s) => {
  const { a, b } = await base(s);
  const [w, d] = await secret(a, 2);
  await s.send(a, w, d, { expect: 202 });
  await s.send(a, await rread({ by: b, at: 3, filter: { recordId: w.message.recordId } }), undefined, { expect: 401 });
  const g = await put(s, a, await grant({ by: a, to: b, at: 4, expires: FAR, scope: { interface: 'Records', method: 'Read', protocol: RULES } }));
  await s.send(a, await rread({ by: b, at: 5, filter: { recordId: w.message.recordId }, permissionGrantId: g.id }), undefined, { expect: 200 });
});
S(P, 'perm-grant-time-window', 'grants are valid from dateGranted (inclusive) until dateExpires (exclusive)', async (s) => {
  const { a, b } = await base(s);
  const g = await put(s, a, await grant({ by: a, to: b, at: 10, expires: 20, scope: { interface: 'Records', method: 'Write', protocol: RULES } }));
  for (const [t, expect] of [[9, [401, 'GrantAuthorizationGrantNotYetActive']], [10, 202], [19.999999, 202], [20, [401, 'GrantAuthorizationGrantExpired']], [30, [401, 'GrantAuthorizationGrantExpired']]]) {
    const [w, d] = await secret(b, t, { permissionGrantId: g.id });
    await s.send(a, w, d, { expect });
  }
});
S(P, 'perm-grant-revoked', 'a revoked grant works for messages before the revocation only', async (s) => {
  const { a, b } = await base(s);
  const g = await put(s, a, await grant({ by: a, to: b, at: 2, expires: FAR, scope: { interface: 'Records', method: 'Write', protocol: RULES } }));
  const r = await revocation({ by: a, at: 10, grant: g, description: 'no more' });
  await s.send(a, r.write, r.data, { expect: 202 });
  const [w1, d1] = await secret(b, 9, { permissionGrantId: g.id });
  await s.send(a, w1, d1, { expect: 202 });
  const [w2, d2] = await secret(b, 10, { permissionGrantId: g.id });
  await s.send(a, w2, d2, { expect: [401, 'GrantAuthorizationGrantRevoked'] });
  await s.send(a, await rquery({ by: a, at: 11, filter: { protocol: PERMISSIONS } }), undefined, { expect: 200 });
});
S(P, 'perm-grant-mismatches', 'grant used for another method, interface, protocol or protocolPath', async (s) => {
  const { a, b } = await base(s);
  const gRead = await put(s, a, await grant({ by: a, to: b, at: 2, expires: FAR, scope: { interface: 'Records', method: 'Read', protocol: RULES } }));
  const gProto = await put(s, a, await grant({ by: a, to: b, at: 3, expires: FAR, scope: { interface: 'Protocols', method: 'Query' } }));
  await s.send(a, await pconfigure({ by: a, at: 4, definition: socialDef() }), undefined, { expect: 202 });
  const gSocial = await put(s, a, await grant({ by: a, to: b, at: 5, expires: FAR, scope: { interface: 'Records', method: 'Write', protocol: SOCIAL } }));
  const gPath = await put(s, a, await grant({ by: a, to: b, at: 6, expires: FAR, scope: { interface: 'Records', method: 'Write', protocol: RULES, protocolPath: 'doc' } }));
  let t = 10;
  for (const [g, code] of [[gRead, 'GrantAuthorizationMethodMismatch'], [gProto, 'GrantAuthorizationInterfaceMismatch'], [gSocial, 'RecordsGrantAuthorizationScopeProtocolMismatch'], [gPath, 'RecordsGrantAuthorizationScope']]) {
    const [w, d] = await secret(b, t++, { permissionGrantId: g.id });
    await s.send(a, w, d, { expect: [401, code] });
  }
});
S(P, 'perm-grant-context-scope', 'a grant scoped to one contextId admits writes inside that context only', async (s) => {
  const { a, b } = await base(s);
  const d = seeded('ctx-doc', 10);
  const doc1 = await rw({ by: a, at: 2, data: d, protocol: RULES, protocolPath: 'doc' });
  const doc2 = await rw({ by: a, at: 3, data: d, protocol: RULES, protocolPath: 'doc' });
  await s.send(a, doc1, d, { expect: 202 });
  await s.send(a, doc2, d, { expect: 202 });
  const g = await put(s, a, await grant({ by: a, to: b, at: 4, expires: FAR, scope: { interface: 'Records', method: 'Read', protocol: RULES, contextId: doc1.message.contextId } }));
  await s.send(a, await rread({ by: b, at: 5, filter: { recordId: doc1.message.recordId }, permissionGrantId: g.id }), undefined, { expect: 200 });
  await s.send(a, await rread({ by: b, at: 6, filter: { recordId: doc2.message.recordId }, permissionGrantId: g.id }), undefined, { expect: [401, 'RecordsGrantAuthorizationScopeContextIdMismatch'] });
});
S(P, 'perm-grant-conditions', 'publication Required / Prohibited conditions on write grants', async (s) => {
  const { a, b } = await base(s);
  const req = await put(s, a, await grant({ by: a, to: b, at: 2, expires: FAR, scope: { interface: 'Records', method: 'Write', protocol: RULES }, conditions: { publication: 'Required' } }));
  const pro = await put(s, a, await grant({ by: a, to: b, at: 3, expires: FAR, scope: { interface: 'Records', method: 'Write', protocol: RULES }, conditions: { publication: 'Prohibited' } }));
  let [w, d] = await secret(b, 4, { permissionGrantId: req.id });
  await s.send(a, w, d, { expect: [401, 'RecordsGrantAuthorizationConditionPublicationRequired'] });
  [w, d] = await secret(b, 5, { permissionGrantId: req.id, published: true });
  await s.send(a, w, d, { expect: 202 });
  [w, d] = await secret(b, 6, { permissionGrantId: pro.id, published: true });
  await s.send(a, w, d, { expect: [401, 'RecordsGrantAuthorizationConditionPublicationProhibited'] });
  [w, d] = await secret(b, 7, { permissionGrantId: pro.id });
  await s.send(a, w, d, { expect: 202 });
});
S(P, 'perm-grant-invalid', 'grants without/with a wrong protocol tag, with malformed data, or written by a non-owner', async (s) => {
  const { a, b } = await base(s);
  const scope = { interface: 'Records', method: 'Write', protocol: RULES };
  await put(s, a, await grant({ by: a, to: b, at: 2, expires: FAR, scope, tags: undefined }), [400, 'PermissionsProtocolValidateScopeMissingProtocolTag']);
  await put(s, a, await grant({ by: a, to: b, at: 3, expires: FAR, scope, tags: { protocol: SOCIAL } }), [400, 'PermissionsProtocolValidateScopeProtocolMismatch']);
  await put(s, a, await grant({ by: a, to: b, at: 4, expires: FAR, scope, rawData: { dateExpires: ts(FAR) }, tags: { protocol: RULES } }), [400, 'SchemaValidatorFailure']);
  await put(s, a, await grant({ by: b, to: b, at: 5, expires: FAR, scope }), [401, 'ProtocolAuthorizationActionNotAllowed']);
  const g = await put(s, a, await grant({ by: a, to: b, at: 6, expires: FAR, scope }));
  const r = await revocation({ by: a, at: 7, grant: g, tags: { protocol: SOCIAL } });
  await s.send(a, r.write, r.data, { expect: [400, 'PermissionsProtocolValidateRevocationProtocolTagMismatch'] });
});
S(P, 'perm-ignored-for-query-and-delete', 'Records.Query ignores permissionGrantId (narrowed answer) and Records.Delete does not consult it', async (s) => {
  const { a, b } = await base(s);
  const [w, d] = await secret(a, 2);
  await s.send(a, w, d, { expect: 202 });
  const gq = await put(s, a, await grant({ by: a, to: b, at: 3, expires: FAR, scope: { interface: 'Records', method: 'Query', protocol: RULES } }));
  const gd = await put(s, a, await grant({ by: a, to: b, at: 4, expires: FAR, scope: { interface: 'Records', method: 'Delete', protocol: RULES } }));
  const qd = { interface: 'Records', method: 'Query', messageTimestamp: ts(5), filter: { protocol: RULES, protocolPath: 'secret' } };
  await s.send(a, await signDescriptor(qd, b.signer, { permissionGrantId: gq.id }), undefined, { expect: 200 });
  const dd = { interface: 'Records', method: 'Delete', messageTimestamp: ts(6), recordId: w.message.recordId, prune: false };
  await s.send(a, await signDescriptor(dd, b.signer, { permissionGrantId: gd.id }), undefined, { expect: [401, 'ProtocolAuthorizationActionRulesNotFound'] });
});
S(P, 'perm-protocols-grants', 'Protocols.Configure and Protocols.Query grants, protocol-scoped', async (s) => {
  const { a, b } = await base(s);
  const X = 'http://granted.example/p', Y = 'http://other.example/p';
  const gc = await put(s, a, await grant({ by: a, to: b, at: 2, expires: FAR, scope: { interface: 'Protocols', method: 'Configure', protocol: X } }));
  const gq = await put(s, a, await grant({ by: a, to: b, at: 3, expires: FAR, scope: { interface: 'Protocols', method: 'Query' } }));
  await s.send(a, await pconfigure({ by: b, at: 4, definition: miniDef(X, false), permissionGrantId: gc.id }), undefined, { expect: 202 });
  await s.send(a, await pconfigure({ by: b, at: 5, definition: miniDef(Y, false), permissionGrantId: gc.id }), undefined, { expect: [401, 'ProtocolsGrantAuthorizationScopeProtocolMismatch'] });
  await s.send(a, await pquery({ by: b, at: 6 }), undefined, { expect: 200, note: 'no grant: published only' });
  await s.send(a, await pquery({ by: b, at: 7, permissionGrantId: gq.id }), undefined, { expect: 200, note: 'with grant: all' });
  await s.send(a, await pconfigure({ by: a, at: 8, definition: miniDef(Y, false) }), undefined, { expect: 202 });
  const gx = await put(s, a, await grant({ by: a, to: b, at: 9, expires: FAR, scope: { interface: 'Protocols', method: 'Query', protocol: X } }));
  await s.send(a, await pquery({ by: b, at: 10, filter: { protocol: X }, permissionGrantId: gx.id }), undefined, { expect: 200, note: 'scoped grant, same protocol: unpublished visible' });
  await s.send(a, await pquery({ by: b, at: 11, filter: { protocol: Y }, permissionGrantId: gx.id }), undefined, { expect: 200, note: 'scoped grant, other protocol: narrowed to published (none)' });
});

// ------------------------------------------------------------ delegation
const DG = 'permissions-delegated';
async function delegated(s, scope, o = {}) {
  const a = await s.id('alice'), b = await s.id('bob'), c = await s.id('carol');
  await s.send(a, await pconfigure({ by: a, at: 1, definition: socialDef() }), undefined, { expect: 202 });
  await s.send(c, await pconfigure({ by: c, at: 1, definition: socialDef() }), undefined, { expect: 202 });
  const g = await grant({ by: a, to: b, at: 2, expires: o.expires ?? FAR, scope, delegated: o.delegated ?? true });
  await s.send(a, g.write, g.data, { expect: 202 });
  return { a, b, c, g };
}
S(DG, 'delegated-write', "bob writes as alice with a delegated grant, to alice's and to carol's DWN", async (s) => {
  const { a, b, c, g } = await delegated(s, { interface: 'Records', method: 'Write', protocol: SOCIAL });
  const d = seeded('dlg', 30);
  const w = await rw({ by: b, at: 3, data: d, protocol: SOCIAL, protocolPath: 'post', delegatedGrant: g.encoded });
  await s.send(a, w, d, { expect: 202 });
  await s.send(c, w, d, { expect: 202 });
  await s.send(c, await rquery({ by: c, at: 4, filter: { author: a.did } }), undefined, { expect: 200 });
  const u = await upd(w, { by: b, at: 5, data: seeded('dlg-2', 31), delegatedGrant: g.encoded });
  await s.send(a, u, seeded('dlg-2', 31), { expect: 202 });
});
S(DG, 'delegated-write-refused', 'delegated grant: not delegated, wrong signer, wrong scope, expired', async (s) => {
  const { a, b, c, g } = await delegated(s, { interface: 'Records', method: 'Write', protocol: SOCIAL });
  const d = seeded('dlgx', 30);
  await s.send(a, await rw({ by: c, at: 3, data: d, protocol: SOCIAL, protocolPath: 'post', delegatedGrant: g.encoded }), d, { expect: 400, note: 'signed by carol, granted to bob' });
  await s.send(a, await pconfigure({ by: a, at: 4, definition: rulesDef() }), undefined, { expect: 202 });
  await s.send(a, await rw({ by: b, at: 5, data: d, protocol: RULES, protocolPath: 'doc', delegatedGrant: g.encoded }), d, { expect: 401, note: 'scope is SOCIAL' });
  const nd = await grant({ by: a, to: b, at: 6, expires: FAR, scope: { interface: 'Records', method: 'Write', protocol: SOCIAL }, delegated: false });
  await s.send(a, nd.write, nd.data, { expect: 202 });
  await s.send(a, await rw({ by: b, at: 7, data: d, protocol: SOCIAL, protocolPath: 'post', delegatedGrant: nd.encoded }), d, { expect: 400, note: 'grant not delegated' });
  const ex = await grant({ by: a, to: b, at: 8, expires: 9, scope: { interface: 'Records', method: 'Write', protocol: SOCIAL }, delegated: true });
  await s.send(a, ex.write, ex.data, { expect: 202 });
  await s.send(c, await rw({ by: b, at: 10, data: d, protocol: SOCIAL, protocolPath: 'post', delegatedGrant: ex.encoded }), d, { expect: [401, 'GrantAuthorizationGrantExpired'] });
});
S(DG, 'delegated-read-query-delete', 'delegated Records.Read, Records.Query and Records.Delete grants', async (s) => {
  const a = await s.id('alice'), b = await s.id('bob');
  await s.send(a, await pconfigure({ by: a, at: 1, definition: rulesDef() }), undefined, { expect: 202 });
  const [w, d] = await secret(a, 2);
  await s.send(a, w, d, { expect: 202 });
  const gr = await grant({ by: a, to: b, at: 3, expires: FAR, scope: { interface: 'Records', method: 'Read', protocol: RULES }, delegated: true });
  const gq = await grant({ by: a, to: b, at: 4, expires: FAR, scope: { interface: 'Records', method: 'Query', protocol: RULES }, delegated: true });
  const gd = await grant({ by: a, to: b, at: 5, expires: FAR, scope: { interface: 'Records', method: 'Delete', protocol: RULES }, delegated: true });
  for (const g of [gr, gq, gd]) await s.send(a, g.write, g.data, { expect: 202 });
  await s.send(a, await rread({ by: b, at: 6, filter: { recordId: w.message.recordId }, delegatedGrant: gr.encoded }), undefined, { expect: 200 });
  await s.send(a, await rquery({ by: b, at: 7, filter: { protocol: RULES }, delegatedGrant: gq.encoded }), undefined, { expect: 200 });
  await s.send(a, await rquery({ by: b, at: 8, filter: { protocol: SOCIAL }, delegatedGrant: gq.encoded }), undefined, { expect: 401, note: 'query outside the scope' });
  await s.send(a, await rread({ by: b, at: 9, filter: { recordId: w.message.recordId }, delegatedGrant: gq.encoded }), undefined, { expect: 401, note: 'query grant used to read' });
  await s.send(a, await rdelete({ by: b, at: 10, recordId: w.message.recordId, delegatedGrant: gd.encoded }), undefined, { expect: 202 });
});
S(DG, 'delegated-revoked', 'a delegated grant revoked in the grantor DWN no longer works there', async (s) => {
  const { a, b, g } = await delegated(s, { interface: 'Records', method: 'Write', protocol: SOCIAL });
  const r = await revocation({ by: a, at: 3, grant: g });
  await s.send(a, r.write, r.data, { expect: 202 });
  const d = seeded('dlgr', 30);
  await s.send(a, await rw({ by: b, at: 4, data: d, protocol: SOCIAL, protocolPath: 'post', delegatedGrant: g.encoded }), d, { expect: [401, 'GrantAuthorizationGrantRevoked'] });
});
S(DG, 'owner-delegated-write', "dave keeps bob's record in alice's DWN as alice's owner-delegate", async (s) => {
  const a = await s.id('alice'), b = await s.id('bob'), dv = await s.id('dave');
  await s.send(a, await pconfigure({ by: a, at: 1, definition: rulesDef() }), undefined, { expect: 202 });
  await s.send(b, await pconfigure({ by: b, at: 1, definition: rulesDef() }), undefined, { expect: 202 });
  const g = await grant({ by: a, to: dv, at: 2, expires: FAR, scope: { interface: 'Records', method: 'Write', protocol: RULES }, delegated: true });
  await s.send(a, g.write, g.data, { expect: 202 });
  const [w, d] = await secret(b, 3);
  await s.send(b, w, d, { expect: 202, note: "bob's own DWN" });
  await s.send(a, w, d, { expect: [401, 'ProtocolAuthorizationActionRulesNotFound'], note: 'no owner signature' });
  const copy = await sdk.RecordsWrite.parse(JSON.parse(JSON.stringify(w.message)));
  await copy.signAsOwnerDelegate(dv.signer, g.encoded);
  await s.send(a, copy, d, { expect: 202 });
  const bad = await sdk.RecordsWrite.parse(JSON.parse(JSON.stringify(w.message)));
  await bad.signAsOwnerDelegate(b.signer, g.encoded);
  await s.send(a, bad, d, { expect: 400, note: 'owner-delegate signer is not the grantee' });
  await s.send(a, await rquery({ by: a, at: 4, filter: { protocol: RULES } }), undefined, { expect: 200 });
});
S(DG, 'delegated-configure', 'a delegated Protocols.Configure grant', async (s) => {
  const a = await s.id('alice'), b = await s.id('bob');
  const g = await grant({ by: a, to: b, at: 2, expires: FAR, scope: { interface: 'Protocols', method: 'Configure' }, delegated: true });
  await s.send(a, g.write, g.data, { expect: 202 });
  await s.send(a, await pconfigure({ by: b, at: 3, definition: miniDef('http://delegated.example/p'), delegatedGrant: g.encoded }), undefined, { expect: 202 });
  await s.send(a, await pquery({ by: a, at: 4 }), undefined, { expect: 200 });
});
