// Scenarios: Protocols.Configure / Protocols.Query and the protocol rules
// applied to Records (structure checks, $actions who/of/can, $size, $tags,
// roles with protocolRole, nested contexts).
import { sdk, ts, seeded, signDescriptor, clone } from './harness.mjs';
import {
  rw, upd, rread, rquery, rdelete, pconfigure, rawConfigure, pquery,
  socialDef, SOCIAL, rulesDef, RULES, chatDef, CHAT, miniDef,
} from './common.mjs';

export const scenarios = [];
const S = (group, name, description, run, extra = {}) => scenarios.push({ group, name, description, run, ...extra });

// -------------------------------------------------------- configure/query
const PC = 'protocols-configure';
S(PC, 'configure-valid', 'owner configures a protocol and queries it', async (s) => {
  const a = await s.id('alice');
  await s.send(a, await pconfigure({ by: a, at: 1, definition: socialDef() }), undefined, { expect: 202 });
  await s.send(a, await pquery({ by: a, at: 2 }), undefined, { expect: 200 });
});
S(PC, 'configure-newer-older', 'a newer configure replaces the definition; an older one and an exact duplicate are conflicts', async (s) => {
  const a = await s.id('alice');
  const v1 = await pconfigure({ by: a, at: 1, definition: miniDef('http://versions.example/p') });
  const v3 = await pconfigure({ by: a, at: 3, definition: { ...miniDef('http://versions.example/p'), published: false } });
  const v2 = await pconfigure({ by: a, at: 2, definition: miniDef('http://versions.example/p') });
  await s.send(a, v1, undefined, { expect: 202 });
  await s.send(a, v3, undefined, { expect: 202 });
  await s.send(a, v2, undefined, { expect: 409 });
  await s.send(a, v3, undefined, { expect: 409 });
  await s.send(a, await pquery({ by: a, at: 4, filter: { protocol: 'http://versions.example/p' } }), undefined, { expect: 200 });
  await s.send(a, await sdk.MessagesQuery.create({ filters: [{ interface: 'Protocols' }], signer: a.signer, messageTimestamp: ts(5) }), undefined, { expect: 200 });
});
S(PC, 'configure-non-owner', 'a non-owner cannot configure a protocol on the tenant', async (s) => {
  const a = await s.id('alice');
  const b = await s.id('bob');
  await s.send(a, await pconfigure({ by: b, at: 1, definition: socialDef() }), undefined, { expect: [401, 'ProtocolsConfigureAuthorizationFailed'] });
});
S(PC, 'configure-published-unpublished', 'published definitions are visible to anyone, unpublished only to the owner', async (s) => {
  const a = await s.id('alice');
  const b = await s.id('bob');
  await s.send(a, await pconfigure({ by: a, at: 1, definition: miniDef('http://pub.example/p', true) }), undefined, { expect: 202 });
  await s.send(a, await pconfigure({ by: a, at: 2, definition: miniDef('http://priv.example/p', false) }), undefined, { expect: 202 });
  await s.send(a, await pquery({ by: a, at: 3 }), undefined, { expect: 200, note: 'owner: both' });
  await s.send(a, await pquery({ at: 4 }), undefined, { expect: 200, note: 'anonymous: published only' });
  await s.send(a, await pquery({ by: b, at: 5 }), undefined, { expect: 200, note: 'non-owner: published only' });
  await s.send(a, await pquery({ at: 6, filter: { protocol: 'http://priv.example/p' } }), undefined, { expect: 200, note: 'anonymous, unpublished protocol: none' });
  await s.send(a, await pquery({ by: a, at: 7, filter: { protocol: 'http://priv.example/p' } }), undefined, { expect: 200 });
});
S(PC, 'protocols-query-failures', 'a non-normalised filter protocol is 400, a bad signature 401', async (s) => {
  const a = await s.id('alice');
  await s.send(a, await pconfigure({ by: a, at: 1, definition: socialDef() }), undefined, { expect: 202 });
  const d = { interface: 'Protocols', method: 'Query', messageTimestamp: ts(2), filter: { protocol: 'social.example/protocol/' } };
  await s.send(a, await signDescriptor(d, a.signer), undefined, { expect: [400, 'UrlProtocolNotNormalized'] });
  const q = clone((await pquery({ by: a, at: 3 })).message);
  q.authorization.signature.signatures[0].signature = q.authorization.signature.signatures[0].signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
  await s.send(a, q, undefined, { expect: 401 });
});

const bad = {
  'unknown-type': ['ProtocolsConfigureInvalidRuleSetRecordType', () => ({ protocol: 'http://bad.example/p', published: true, types: { a: {} }, structure: { a: {}, b: {} } })],
  'size-range': ['ProtocolsConfigureInvalidSize', () => ({ protocol: 'http://bad.example/p', published: true, types: { a: {} }, structure: { a: { $size: { min: 10, max: 5 } } } })],
  'role-missing': ['ProtocolsConfigureRoleDoesNotExistAtGivenPath', () => ({ protocol: 'http://bad.example/p', published: true, types: { a: {} }, structure: { a: { $actions: [{ role: 'nope', can: ['create'] }] } } })],
  'role-read-actions': ['ProtocolsConfigureRoleReadActionMissing', () => ({ protocol: 'http://bad.example/p', published: true, types: { r: {}, a: {} }, structure: { r: { $role: true }, a: { $actions: [{ role: 'r', can: ['read'] }] } } })],
  'anyone-with-of': ['ProtocolsConfigureInvalidActionOfNotAllowed', () => ({ protocol: 'http://bad.example/p', published: true, types: { a: {} }, structure: { a: { $actions: [{ who: 'anyone', of: 'a', can: ['create'] }] } } })],
  'author-without-of': ['ProtocolsConfigureInvalidActionMissingOf', () => ({ protocol: 'http://bad.example/p', published: true, types: { a: {} }, structure: { a: { $actions: [{ who: 'author', can: ['create'] }] } } })],
  'recipient-without-of': ['ProtocolsConfigureInvalidRecipientOfAction', () => ({ protocol: 'http://bad.example/p', published: true, types: { a: {} }, structure: { a: { $actions: [{ who: 'recipient', can: ['create'] }] } } })],
  'update-without-create': ['ProtocolsConfigureInvalidActionUpdateWithoutCreate', () => ({ protocol: 'http://bad.example/p', published: true, types: { a: {} }, structure: { a: { $actions: [{ who: 'anyone', can: ['update'] }] } } })],
  'duplicate-actor': ['ProtocolsConfigureDuplicateActorInRuleSet', () => ({ protocol: 'http://bad.example/p', published: true, types: { a: {} }, structure: { a: { $actions: [{ who: 'anyone', can: ['create'] }, { who: 'anyone', can: ['read'] }] } } })],
  'tag-schema': ['ProtocolsConfigureInvalidTagSchema', () => ({ protocol: 'http://bad.example/p', published: true, types: { a: {} }, structure: { a: { $tags: { t: { type: 'string', minLength: -1 } } } } })],
  'tag-type': ['SchemaValidatorFailure', () => ({ protocol: 'http://bad.example/p', published: true, types: { a: {} }, structure: { a: { $tags: { t: { type: 'nope' } } } } })],
  'protocol-not-normalized': ['UrlProtocolNotNormalized', () => ({ protocol: 'bad.example/p/', published: true, types: { a: {} }, structure: { a: {} } })],
  'schema-not-normalized': ['UrlSchemaNotNormalized', () => ({ protocol: 'http://bad.example/p', published: true, types: { a: { schema: 'bad.example/s/' } }, structure: { a: {} } })],
  'too-deep': ['ProtocolsConfigureRecordNestingDepthExceeded', () => {
    let st = {};
    for (let i = 0; i < 11; i++) st = { a: st };
    return { protocol: 'http://bad.example/p', published: true, types: { a: {} }, structure: st };
  }],
  'schema-shape': ['SchemaValidator', () => ({ protocol: 'http://bad.example/p', published: true, types: { a: {} }, structure: { a: { $actions: [{ who: 'anyone' }] } } })],
};
for (const [name, [code, def]] of Object.entries(bad)) {
  S('protocols-configure-invalid', `configure-invalid-${name}`, `invalid definition (${name}) is 400 ${code}`, async (s) => {
    const a = await s.id('alice');
    await s.send(a, await rawConfigure({ by: a, at: 1, definition: def() }), undefined, { expect: [400, code] });
  });
}

// ------------------------------------------------------------ structure
const PR = 'protocol-rules';
async function setup(s, def) {
  const a = await s.id('alice');
  await s.send(a, await pconfigure({ by: a, at: 1, definition: def }), undefined, { expect: 202 });
  return a;
}
S(PR, 'rules-referential-checks', 'protocol writes checked against the definition: not configured, unknown type, schema, data format, parentless nested path', async (s) => {
  const a = await setup(s, rulesDef());
  const b = await s.id('bob');
  const d = seeded('ref', 20);
  await s.send(a, await rw({ by: b, at: 2, data: d, protocol: 'http://unknown.example/p', protocolPath: 'doc' }), d, { expect: [400, 'ProtocolAuthorizationProtocolNotFound'] });
  await s.send(a, await rw({ by: b, at: 3, data: d, protocol: RULES, protocolPath: 'bogus' }), d, { expect: [400, 'ProtocolAuthorizationInvalidType'] });
  await s.send(a, await rw({ by: b, at: 4, data: d, protocol: RULES, protocolPath: 'typed', dataFormat: 'application/json', schema: 'http://rules.example/schemas/other' }), d, { expect: [400, 'ProtocolAuthorizationInvalidSchema'] });
  await s.send(a, await rw({ by: b, at: 5, data: d, protocol: RULES, protocolPath: 'typed', dataFormat: 'text/plain', schema: 'http://rules.example/schemas/typed' }), d, { expect: [400, 'ProtocolAuthorizationIncorrectDataFormat'] });
  await s.send(a, await rw({ by: b, at: 6, data: d, protocol: RULES, protocolPath: 'doc/note' }), d, { expect: [400, 'ProtocolAuthorizationParentlessIncorrectProtocolPath'] });
  await s.send(a, await rw({ by: b, at: 7, data: d, protocol: RULES, protocolPath: 'typed', dataFormat: 'application/json', schema: 'http://rules.example/schemas/typed' }), d, { expect: 202 });
});
S(PR, 'rules-nested-context-checks', 'children: wrong parent path, unknown parent, contextId not extending the parent', async (s) => {
  const a = await setup(s, socialDef());
  const b = await s.id('bob');
  const d = seeded('nest', 20);
  const post = await rw({ by: b, at: 2, data: d, protocol: SOCIAL, protocolPath: 'post' });
  await s.send(a, post, d, { expect: 202 });
  const comment = await rw({ by: b, at: 3, data: d, protocol: SOCIAL, protocolPath: 'post/comment', parentContextId: post.message.contextId });
  await s.send(a, comment, d, { expect: 202 });
  await s.send(a, await rw({ by: b, at: 4, data: d, protocol: SOCIAL, protocolPath: 'post/comment', parentContextId: comment.message.contextId }), d, { expect: [400, 'ProtocolAuthorizationIncorrectProtocolPath'], note: 'comment under a comment' });
  await s.send(a, await rw({ by: b, at: 5, data: d, protocol: SOCIAL, protocolPath: 'post/comment', parentContextId: 'bafyreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' }), d, { expect: [400, 'ProtocolAuthorizationIncorrectProtocolPath'], note: 'unknown parent' });
  await s.send(a, await rw({ by: b, at: 6, data: d, protocol: SOCIAL, protocolPath: 'post/comment', parentContextId: `bafyreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/${post.message.recordId}` }), d, { expect: [400, 'ProtocolAuthorizationIncorrectContextId'] });
  await s.send(a, await rw({ by: b, at: 7, data: d, protocol: SOCIAL, protocolPath: 'post/comment/reply', parentContextId: comment.message.contextId }), d, { expect: 202 });
  await s.send(a, await rquery({ by: a, at: 8, filter: { contextId: post.message.contextId } }), undefined, { expect: 200 });
});
S(PR, 'rules-no-actions', 'a type without $actions: non-owners get ActionRulesNotFound, the owner may write', async (s) => {
  const a = await setup(s, rulesDef());
  const b = await s.id('bob');
  const d = seeded('secret', 20);
  await s.send(a, await rw({ by: b, at: 2, data: d, protocol: RULES, protocolPath: 'secret' }), d, { expect: [401, 'ProtocolAuthorizationActionRulesNotFound'] });
  const w = await rw({ by: a, at: 3, data: d, protocol: RULES, protocolPath: 'secret' });
  await s.send(a, w, d, { expect: 202 });
  await s.send(a, await rread({ by: b, at: 4, filter: { recordId: w.message.recordId } }), undefined, { expect: [401, 'ProtocolAuthorizationActionRulesNotFound'] });
});
S(PR, 'rules-author-recipient-of', 'who:author/recipient of doc may create and read notes; others may not', async (s) => {
  const a = await setup(s, rulesDef());
  const b = await s.id('bob'), c = await s.id('carol'), dv = await s.id('dave');
  const d = seeded('aro', 20);
  const doc = await rw({ by: b, at: 2, data: d, protocol: RULES, protocolPath: 'doc', recipient: c.did });
  await s.send(a, doc, d, { expect: 202 });
  const nb = await rw({ by: b, at: 3, data: d, protocol: RULES, protocolPath: 'doc/note', parentContextId: doc.message.contextId });
  await s.send(a, nb, d, { expect: 202, note: 'author of doc' });
  await s.send(a, await rw({ by: c, at: 4, data: d, protocol: RULES, protocolPath: 'doc/note', parentContextId: doc.message.contextId }), d, { expect: 202, note: 'recipient of doc' });
  await s.send(a, await rw({ by: dv, at: 5, data: d, protocol: RULES, protocolPath: 'doc/note', parentContextId: doc.message.contextId }), d, { expect: [401, 'ProtocolAuthorizationActionNotAllowed'] });
  await s.send(a, await rread({ by: c, at: 6, filter: { recordId: nb.message.recordId } }), undefined, { expect: 200 });
  await s.send(a, await rread({ by: dv, at: 7, filter: { recordId: nb.message.recordId } }), undefined, { expect: [401, 'ProtocolAuthorizationActionNotAllowed'] });
});
S(PR, 'rules-update-co-update', 'the author updates, the recipient co-updates, a stranger cannot update', async (s) => {
  const a = await setup(s, rulesDef());
  const b = await s.id('bob'), c = await s.id('carol'), dv = await s.id('dave');
  const d = seeded('cu', 20);
  const doc = await rw({ by: b, at: 2, data: d, protocol: RULES, protocolPath: 'doc', recipient: c.did });
  await s.send(a, doc, d, { expect: 202 });
  await s.send(a, await upd(doc, { by: b, at: 3, data: seeded('cu-b', 21) }), seeded('cu-b', 21), { expect: 202 });
  await s.send(a, await upd(doc, { by: c, at: 4, data: seeded('cu-c', 22) }), seeded('cu-c', 22), { expect: 202 });
  await s.send(a, await upd(doc, { by: dv, at: 5, data: seeded('cu-d', 23) }), seeded('cu-d', 23), { expect: [401, 'ProtocolAuthorizationActionNotAllowed'] });
  await s.send(a, await rread({ by: a, at: 6, filter: { recordId: doc.message.recordId } }), undefined, { expect: 200 });
});
S(PR, 'rules-delete-co-delete', 'the recipient co-deletes, a stranger cannot delete, the author deletes', async (s) => {
  const a = await setup(s, rulesDef());
  const b = await s.id('bob'), c = await s.id('carol'), dv = await s.id('dave');
  const d = seeded('cd', 20);
  const d1 = await rw({ by: b, at: 2, data: d, protocol: RULES, protocolPath: 'doc', recipient: c.did });
  const d2 = await rw({ by: b, at: 3, data: d, protocol: RULES, protocolPath: 'doc' });
  await s.send(a, d1, d, { expect: 202 });
  await s.send(a, d2, d, { expect: 202 });
  await s.send(a, await rdelete({ by: c, at: 4, recordId: d1.message.recordId }), undefined, { expect: 202 });
  await s.send(a, await rdelete({ by: dv, at: 5, recordId: d2.message.recordId }), undefined, { expect: [401, 'ProtocolAuthorizationActionNotAllowed'] });
  await s.send(a, await rdelete({ by: b, at: 6, recordId: d2.message.recordId }), undefined, { expect: 202 });
});
S(PR, 'rules-prune', 'the author may prune (can: prune); the recipient (co-delete only) may not prune', async (s) => {
  const a = await setup(s, rulesDef());
  const b = await s.id('bob'), c = await s.id('carol');
  const d = seeded('pr', 20);
  const doc = await rw({ by: b, at: 2, data: d, protocol: RULES, protocolPath: 'doc', recipient: c.did });
  await s.send(a, doc, d, { expect: 202 });
  await s.send(a, await rw({ by: b, at: 3, data: d, protocol: RULES, protocolPath: 'doc/note', parentContextId: doc.message.contextId }), d, { expect: 202 });
  await s.send(a, await rdelete({ by: c, at: 4, recordId: doc.message.recordId, prune: true }), undefined, { expect: [401, 'ProtocolAuthorizationActionNotAllowed'] });
  await s.send(a, await rdelete({ by: b, at: 5, recordId: doc.message.recordId, prune: true }), undefined, { expect: 202 });
  await s.send(a, await rquery({ by: a, at: 6, filter: { protocol: RULES } }), undefined, { expect: 200 });
});
S(PR, 'rules-co-delete-of-parent', "the author of a post co-deletes someone else's comment", async (s) => {
  const a = await setup(s, socialDef());
  const b = await s.id('bob'), c = await s.id('carol');
  const d = seeded('cdp', 20);
  const post = await rw({ by: b, at: 2, data: d, protocol: SOCIAL, protocolPath: 'post' });
  await s.send(a, post, d, { expect: 202 });
  const comment = await rw({ by: c, at: 3, data: d, protocol: SOCIAL, protocolPath: 'post/comment', parentContextId: post.message.contextId });
  await s.send(a, comment, d, { expect: 202 });
  await s.send(a, await rdelete({ by: b, at: 4, recordId: comment.message.recordId }), undefined, { expect: 202 });
  await s.send(a, await rread({ by: c, at: 5, filter: { recordId: comment.message.recordId } }), undefined, { expect: 404 });
});
S(PR, 'rules-size', '$size min 1 max 100 applies to everyone including the owner', async (s) => {
  const a = await setup(s, rulesDef());
  const b = await s.id('bob');
  for (const [n, size, expect] of [[2, 0, [400, 'ProtocolAuthorizationMinSizeInvalid']], [3, 101, [400, 'ProtocolAuthorizationMaxSizeInvalid']], [4, 100, 202], [5, 1, 202]]) {
    const d = seeded(`size-${size}`, size);
    await s.send(a, await rw({ by: n === 3 ? a : b, at: n, data: d, protocol: RULES, protocolPath: 'sized' }), d, { expect });
  }
});
S(PR, 'rules-tags', '$tags: required tag, enum, number range, undefined tags not allowed', async (s) => {
  const a = await setup(s, rulesDef());
  const b = await s.id('bob');
  const d = seeded('tg', 10);
  const cases = [
    [undefined, [400, 'ProtocolAuthorizationTagsInvalidSchema']],
    [{ priority: 1 }, [400, 'ProtocolAuthorizationTagsInvalidSchema']],
    [{ status: 'other' }, [400, 'ProtocolAuthorizationTagsInvalidSchema']],
    [{ status: 'draft', priority: 11 }, [400, 'ProtocolAuthorizationTagsInvalidSchema']],
    [{ status: 'draft', extra: 'x' }, [400, 'ProtocolAuthorizationTagsInvalidSchema']],
    [{ status: 'final', priority: 10 }, 202],
  ];
  let t = 2;
  for (const [tags, expect] of cases) {
    await s.send(a, await rw({ by: b, at: t++, data: d, protocol: RULES, protocolPath: 'tagged', tags }), d, { expect });
  }
});

// ----------------------------------------------------------------- roles
const RO = 'protocol-roles';
async function chat(s) {
  const a = await setup(s, chatDef());
  const b = await s.id('bob'), c = await s.id('carol'), dv = await s.id('dave');
  const d = seeded('admin-role', 5);
  const admin = await rw({ by: a, at: 2, data: d, protocol: CHAT, protocolPath: 'admin', recipient: b.did });
  await s.send(a, admin, d, { expect: 202 });
  return { a, b, c, dv, admin };
}
S(RO, 'role-root-admin', 'a root role record lets its recipient create, read and query threads with protocolRole', async (s) => {
  const { a, b, c } = await chat(s);
  const d = seeded('thread', 30);
  const th = await rw({ by: b, at: 3, data: d, protocol: CHAT, protocolPath: 'thread', protocolRole: 'admin' });
  await s.send(a, th, d, { expect: 202 });
  const own = await rw({ by: a, at: 4, data: d, protocol: CHAT, protocolPath: 'thread' });
  await s.send(a, own, d, { expect: 202 });
  await s.send(a, await rread({ by: b, at: 5, filter: { recordId: own.message.recordId }, protocolRole: 'admin' }), undefined, { expect: 200 });
  await s.send(a, await rquery({ by: b, at: 6, filter: { protocol: CHAT, protocolPath: 'thread' }, protocolRole: 'admin' }), undefined, { expect: 200 });
  await s.send(a, await rquery({ by: b, at: 7, filter: { protocol: CHAT, protocolPath: 'thread' } }), undefined, { expect: 200, note: 'no role: only his own' });
  await s.send(a, await rw({ by: c, at: 8, data: d, protocol: CHAT, protocolPath: 'thread', protocolRole: 'admin' }), d, { expect: [401, 'ProtocolAuthorizationMatchingRoleRecordNotFound'] });
  await s.send(a, await rw({ by: b, at: 9, data: d, protocol: CHAT, protocolPath: 'thread' }), d, { expect: [401, 'ProtocolAuthorizationActionNotAllowed'], note: 'without invoking the role' });
  await s.send(a, await upd(own, { by: b, at: 10, data: seeded('thread-2', 31), protocolRole: 'admin' }), seeded('thread-2', 31), { expect: 202, note: 'co-update by role' });
  await s.send(a, await rdelete({ by: b, at: 11, recordId: own.message.recordId, protocolRole: 'admin' }), undefined, { expect: 202, note: 'co-delete by role' });
});
S(RO, 'role-invalid-invocations', 'protocolRole naming a non-role path; role query without protocolPath', async (s) => {
  const { a, b } = await chat(s);
  const d = seeded('thread', 30);
  await s.send(a, await rw({ by: b, at: 3, data: d, protocol: CHAT, protocolPath: 'thread', protocolRole: 'thread' }), d, { expect: [401, 'ProtocolAuthorizationNotARole'] });
  await s.send(a, await rquery({ by: b, at: 4, filter: { protocol: CHAT }, protocolRole: 'admin' }), undefined, { expect: [400, 'RecordsQueryFilterMissingRequiredProperties'] });
});
S(RO, 'role-record-rules', 'role records need a recipient and one per recipient', async (s) => {
  const { a, b } = await chat(s);
  const d = seeded('admin-2', 5);
  await s.send(a, await rw({ by: a, at: 3, data: d, protocol: CHAT, protocolPath: 'admin', recipient: b.did }), d, { expect: [400, 'ProtocolAuthorizationDuplicateRoleRecipient'] });
  await s.send(a, await rw({ by: a, at: 4, data: d, protocol: CHAT, protocolPath: 'admin' }), d, { expect: [400, 'ProtocolAuthorizationRoleMissingRecipient'] });
});
S(RO, 'role-revoked-by-delete', 'deleting the role record takes the role away', async (s) => {
  const { a, b, admin } = await chat(s);
  const d = seeded('thread', 30);
  await s.send(a, await rw({ by: b, at: 3, data: d, protocol: CHAT, protocolPath: 'thread', protocolRole: 'admin' }), d, { expect: 202 });
  await s.send(a, await rdelete({ by: a, at: 4, recordId: admin.message.recordId }), undefined, { expect: 202 });
  await s.send(a, await rw({ by: b, at: 5, data: d, protocol: CHAT, protocolPath: 'thread', protocolRole: 'admin' }), d, { expect: [401, 'ProtocolAuthorizationMatchingRoleRecordNotFound'] });
});
S(RO, 'role-context', 'a context role (thread/participant) works inside its thread only; queries must name the contextId', async (s) => {
  const { a, b, c, dv } = await chat(s);
  const d = seeded('ctx', 30);
  const t1 = await rw({ by: b, at: 3, data: d, protocol: CHAT, protocolPath: 'thread', protocolRole: 'admin', recipient: dv.did });
  const t2 = await rw({ by: a, at: 4, data: d, protocol: CHAT, protocolPath: 'thread' });
  await s.send(a, t1, d, { expect: 202 });
  await s.send(a, t2, d, { expect: 202 });
  const part = await rw({ by: b, at: 5, data: d, protocol: CHAT, protocolPath: 'thread/participant', parentContextId: t1.message.contextId, recipient: c.did });
  await s.send(a, part, d, { expect: 202, note: 'author of the thread adds a participant' });
  const msg = await rw({ by: c, at: 6, data: d, protocol: CHAT, protocolPath: 'thread/message', parentContextId: t1.message.contextId, protocolRole: 'thread/participant' });
  await s.send(a, msg, d, { expect: 202 });
  await s.send(a, await rw({ by: c, at: 7, data: d, protocol: CHAT, protocolPath: 'thread/message', parentContextId: t2.message.contextId, protocolRole: 'thread/participant' }), d, { expect: [401, 'ProtocolAuthorizationMatchingRoleRecordNotFound'], note: 'other thread' });
  await s.send(a, await rquery({ by: c, at: 8, filter: { protocol: CHAT, protocolPath: 'thread/message', contextId: t1.message.contextId }, protocolRole: 'thread/participant' }), undefined, { expect: 200 });
  await s.send(a, await rquery({ by: c, at: 9, filter: { protocol: CHAT, protocolPath: 'thread/message' }, protocolRole: 'thread/participant' }), undefined, { expect: [401, 'ProtocolAuthorizationMissingContextId'] });
  await s.send(a, await rread({ by: c, at: 10, filter: { recordId: msg.message.recordId }, protocolRole: 'thread/participant' }), undefined, { expect: 200 });
  await s.send(a, await rread({ by: dv, at: 11, filter: { recordId: msg.message.recordId } }), undefined, { expect: 200, note: 'recipient of the thread may read' });
  await s.send(a, await rw({ by: dv, at: 12, data: d, protocol: CHAT, protocolPath: 'thread/message', parentContextId: t1.message.contextId }), d, { expect: [401, 'ProtocolAuthorizationActionNotAllowed'] });
});
