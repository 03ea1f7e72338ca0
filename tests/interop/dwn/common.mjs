// Builders shared by the scenario files: thin wrappers over the SDK's
// message classes that always pass fixed timestamps, plus the protocol
// definitions the scenarios configure.
import { sdk, ts, signDescriptor, inline } from './harness.mjs';

export const PERMISSIONS = 'https://tbd.website/dwn/permissions';

/** Initial RecordsWrite. o: {by, at, created?, data?, dataCid?, dataSize?, ...RecordsWrite.create options}. */
export async function rw(o) {
  const { by, at, created, data, ...rest } = o;
  const opts = { dataFormat: 'text/plain', ...rest, signer: rest.signer ?? by?.signer, messageTimestamp: ts(at), dateCreated: ts(created ?? at) };
  if (data) opts.data = data.bytes;
  if (opts.datePublished !== undefined && typeof opts.datePublished === 'number') opts.datePublished = ts(opts.datePublished);
  if (opts.published && opts.datePublished === undefined) opts.datePublished = ts(at);
  return sdk.RecordsWrite.create(opts);
}

/** Update of `prev` (an SDK RecordsWrite or message). o: {by, at, data?, ...createFrom options}. */
export async function upd(prev, o) {
  const { by, at, data, ...rest } = o;
  const opts = { recordsWriteMessage: prev.message ?? prev, ...rest, signer: rest.signer ?? by.signer, messageTimestamp: ts(at) };
  if (data) opts.data = data.bytes;
  if (typeof opts.datePublished === 'number') opts.datePublished = ts(opts.datePublished);
  return sdk.RecordsWrite.createFrom(opts);
}

export async function rread(o) {
  const { by, at, ...rest } = o;
  return sdk.RecordsRead.create({ ...rest, signer: by?.signer, messageTimestamp: ts(at) });
}
export async function rquery(o) {
  const { by, at, ...rest } = o;
  return sdk.RecordsQuery.create({ ...rest, signer: by?.signer, messageTimestamp: ts(at) });
}
export async function rdelete(o) {
  const { by, at, ...rest } = o;
  return sdk.RecordsDelete.create({ ...rest, signer: by.signer, messageTimestamp: ts(at) });
}
export async function rsubscribe(o) {
  const { by, at, ...rest } = o;
  return sdk.RecordsSubscribe.create({ ...rest, signer: by?.signer, messageTimestamp: ts(at) });
}
export async function pconfigure(o) {
  const { by, at, ...rest } = o;
  return sdk.ProtocolsConfigure.create({ ...rest, signer: by.signer, messageTimestamp: ts(at) });
}
/** A ProtocolsConfigure whose definition skips the builder's validation (for invalid definitions). */
export async function rawConfigure(o) {
  const descriptor = { interface: 'Protocols', method: 'Configure', messageTimestamp: ts(o.at), definition: o.definition };
  return signDescriptor(descriptor, o.by.signer, o.extra ?? {});
}
export async function pquery(o) {
  const { by, at, ...rest } = o;
  return sdk.ProtocolsQuery.create({ ...rest, signer: by?.signer, messageTimestamp: ts(at) });
}
export async function mquery(o) {
  const { by, at, ...rest } = o;
  return sdk.MessagesQuery.create({ filters: [], ...rest, signer: by.signer, messageTimestamp: ts(at) });
}
export async function mread(o) {
  const { by, at, ...rest } = o;
  return sdk.MessagesRead.create({ ...rest, signer: by.signer, messageTimestamp: ts(at) });
}
export async function msubscribe(o) {
  const { by, at, ...rest } = o;
  return sdk.MessagesSubscribe.create({ filters: [], ...rest, signer: by.signer, messageTimestamp: ts(at) });
}

/**
 * A permission grant record (protocol path `grant`), built like the SDK's
 * PermissionsProtocol.createGrant but with every time fixed.
 * o: {by (grantor), to (grantee), at (date granted), expires, scope,
 *     delegated?, conditions?, description?, requestId?, tags? (default: protocol tag when scoped)}
 */
export async function grant(o) {
  const scope = { ...o.scope };
  const grantData = { dateExpires: ts(o.expires), scope };
  if (o.requestId) grantData.requestId = o.requestId;
  if (o.description) grantData.description = o.description;
  if (o.delegated !== undefined) grantData.delegated = o.delegated;
  if (o.conditions) grantData.conditions = o.conditions;
  const data = inline(o.rawData ?? grantData);
  const tags = 'tags' in o ? o.tags : (scope.protocol ? { protocol: scope.protocol } : undefined);
  const w = await sdk.RecordsWrite.create({
    signer: o.by.signer, messageTimestamp: ts(o.at), dateCreated: ts(o.at), recipient: o.to.did,
    protocol: PERMISSIONS, protocolPath: 'grant', dataFormat: 'application/json', data: data.bytes, tags,
  });
  return { write: w, data, id: w.message.recordId, encoded: { ...w.message, encodedData: data.spec.base64url } };
}

/** A permission request (protocol path `request`) by `by`. */
export async function request(o) {
  const reqData = { delegated: o.delegated ?? false, scope: o.scope };
  if (o.description) reqData.description = o.description;
  const data = inline(reqData);
  const tags = o.scope.protocol ? { protocol: o.scope.protocol } : undefined;
  const w = await sdk.RecordsWrite.create({
    signer: o.by.signer, messageTimestamp: ts(o.at), dateCreated: ts(o.at),
    protocol: PERMISSIONS, protocolPath: 'request', dataFormat: 'application/json', data: data.bytes, tags,
  });
  return { write: w, data };
}

/** A revocation of grant `g` (child `grant/revocation`). */
export async function revocation(o) {
  const data = inline(o.description ? { description: o.description } : {});
  const tags = 'tags' in o ? o.tags : (o.grant.write.message.descriptor.tags);
  const w = await sdk.RecordsWrite.create({
    signer: o.by.signer, messageTimestamp: ts(o.at), dateCreated: ts(o.at), parentContextId: o.grant.write.message.contextId,
    protocol: PERMISSIONS, protocolPath: 'grant/revocation', dataFormat: 'application/json', data: data.bytes, tags,
  });
  return { write: w, data };
}

// ------------------------------------------------------------- definitions
export const SOCIAL = 'http://social.example/protocol';
/** Published; anyone posts and comments; authors of a post may co-delete comments; prune for the post author. */
export const socialDef = () => ({
  protocol: SOCIAL,
  published: true,
  types: { post: { dataFormats: ['text/plain'] }, comment: { dataFormats: ['text/plain'] }, reply: {} },
  structure: {
    post: {
      $actions: [{ who: 'anyone', can: ['create', 'read', 'update', 'delete', 'prune'] }],
      comment: {
        $actions: [
          { who: 'anyone', can: ['create', 'read', 'update', 'delete'] },
          { who: 'author', of: 'post', can: ['co-delete'] },
        ],
        reply: { $actions: [{ who: 'anyone', can: ['create', 'read'] }] },
      },
    },
  },
});

export const RULES = 'http://rules.example/protocol';
/** Unpublished; exercises who/of/can, $size, $tags, schemas and formats. */
export const rulesDef = () => ({
  protocol: RULES,
  published: false,
  types: {
    doc: { dataFormats: ['text/plain'] },
    note: {},
    secret: {},
    sized: {},
    tagged: {},
    typed: { schema: 'http://rules.example/schemas/typed', dataFormats: ['application/json'] },
  },
  structure: {
    doc: {
      $actions: [
        { who: 'anyone', can: ['create', 'update', 'delete', 'prune'] },
        { who: 'recipient', can: ['co-update', 'co-delete'] },
      ],
      note: {
        $actions: [
          { who: 'author', of: 'doc', can: ['create', 'read'] },
          { who: 'recipient', of: 'doc', can: ['create', 'read'] },
        ],
      },
    },
    secret: {},
    sized: { $size: { min: 1, max: 100 }, $actions: [{ who: 'anyone', can: ['create'] }] },
    tagged: {
      $tags: { $requiredTags: ['status'], status: { type: 'string', enum: ['draft', 'final'] }, priority: { type: 'number', minimum: 0, maximum: 10 } },
      $actions: [{ who: 'anyone', can: ['create'] }],
    },
    typed: { $actions: [{ who: 'anyone', can: ['create'] }] },
  },
});

export const CHAT = 'http://chat.example/protocol';
/** Unpublished; a root role (admin) and a context role (thread/participant). */
export const chatDef = () => ({
  protocol: CHAT,
  published: false,
  types: { admin: {}, thread: {}, participant: {}, message: {} },
  structure: {
    admin: { $role: true },
    thread: {
      $actions: [{ role: 'admin', can: ['create', 'read', 'query', 'subscribe', 'co-update', 'co-delete'] }],
      participant: {
        $role: true,
        $actions: [{ who: 'author', of: 'thread', can: ['create'] }],
      },
      message: {
        $actions: [
          { role: 'thread/participant', can: ['create', 'read', 'query', 'subscribe'] },
          { who: 'recipient', of: 'thread', can: ['read'] },
        ],
      },
    },
  },
});

/** Minimal valid definition for protocol `uri`. */
export const miniDef = (uri, published = true) => ({
  protocol: uri, published, types: { item: {} }, structure: { item: { $actions: [{ who: 'anyone', can: ['create', 'read'] }] } },
});
