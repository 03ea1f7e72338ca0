/*
 * dwn/build: builds signed DWN messages, the C counterpart of dwn-sdk-js
 * 0.5.2's RecordsWrite.create / createFrom, RecordsRead / RecordsQuery /
 * RecordsDelete.create, ProtocolsConfigure / ProtocolsQuery.create and
 * MessagesQuery / MessagesRead.create (dwn-reference.md §2-§4, §6).
 *
 * What a builder does, as the SDK does it:
 *   - the descriptor from the options: interface, method, messageTimestamp
 *     (the option, or "now" from timestamp.h's clock; a RecordsWrite uses the
 *     same "now" for dateCreated and messageTimestamp), the method's fields;
 *     absent options are absent members (never null);
 *   - protocol and schema URLs are normalised (url.h), so are the protocol
 *     and the type schemas of a protocol definition and the filters' protocol
 *     and schema;
 *   - RecordsWrite: dataCid/dataSize computed from the data (bytes or an fd,
 *     ids.h) unless given; recordId = entryId(descriptor, author) on the
 *     initial write (author = the signer's DID, the kid up to '#'); contextId
 *     for protocol records = recordId (root) or parentContextId + "/" +
 *     recordId (child, parentId = the last segment of parentContextId);
 *     published true without datePublished gets datePublished = now;
 *   - the signature: a General JWS (jws.h) of the payload
 *       RecordsWrite  {recordId, descriptorCid, contextId?, permissionGrantId?, protocolRole?}
 *       others        {descriptorCid, permissionGrantId?, protocolRole?}
 *     with protected header {kid, alg}, put in message.authorization.signature.
 * Not built: attestations, encryption, delegated grants, owner signatures.
 *
 * Memory: *message_out is a new jansson reference (json_decref); options are
 * borrowed (json_t options are deep-copied into the message).  The data
 * bytes are not kept: send them with the message (dwn_process's data_fd).
 * A data fd is read from its current offset to end of file; seek it back
 * (or reopen it) before handing the data to dwn_process.
 *
 * Errors: 0 or a negative errno with err_set: -EINVAL missing or malformed
 * option (no signer where one is required, a timestamp that is not
 * well-formed, a URL the SDK would refuse, protocol without protocolPath, a
 * source that is not a RecordsWrite...), -ENOTSUP key curve (jws.h) or URL
 * needing IDNA, -ENOMEM, -EIO (OpenSSL, reading the fd).
 */
#ifndef ANYA_DWN_BUILD_H
#define ANYA_DWN_BUILD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DWN_BUILD_CONTEXT_ID_BYTES_MAX 1024 /* parentContextId + "/" + recordId */

/* Who signs: a private JWK (Ed25519 / secp256k1 / P-256, with `d`) and the
 * fully qualified key id (e.g. "did:key:z6Mk...#z6Mk..."); the signer's DID
 * is kid up to the first '#'.  Both borrowed. */
typedef struct dwn_build_signer {
  const json_t *private_jwk;
  const char *kid;
} dwn_build_signer_t;

/* published: tri-state like the SDK's optional boolean. */
typedef enum dwn_build_bool {
  DWN_BUILD_UNSET = 0,
  DWN_BUILD_FALSE,
  DWN_BUILD_TRUE,
} dwn_build_bool_t;

/* RecordsWrite options (create and createFrom).  Every pointer may be NULL
 * (absent).  Data: data/data_len bytes (has_data), or data_fd >= 0, or an
 * explicit data_cid + data_size (the data travels separately, or not at all:
 * a data-less write); exactly one of the three for create.  For createFrom,
 * none of them keeps the source's dataCid/dataSize. */
typedef struct dwn_build_write {
  /* immutable after the initial write (ignored by createFrom) */
  const char *protocol;          /* normalised here */
  const char *protocol_path;
  const char *schema;            /* normalised here */
  const char *recipient;
  const char *parent_context_id; /* child protocol record: the parent's contextId */
  const char *date_created;      /* NULL: messageTimestamp (create) */
  const char *record_id;         /* NULL: entryId (create) */
  /* mutable */
  const char *data_format;       /* required for create; createFrom: NULL keeps */
  bool has_data;
  const void *data;
  size_t data_len;
  int data_fd;                   /* -1: none (set it: 0 is a valid fd) */
  const char *data_cid;
  uint64_t data_size;
  const json_t *tags;            /* an object; createFrom too: NULL drops them (as the SDK) */
  const char *message_timestamp; /* NULL: now */
  dwn_build_bool_t published;    /* createFrom: UNSET keeps */
  const char *date_published;
  /* signature payload */
  const char *protocol_role;
  const char *permission_grant_id;
} dwn_build_write_t;

/* Options every other builder takes.  All may be NULL. */
typedef struct dwn_build_common {
  const char *message_timestamp; /* NULL: now */
  const char *permission_grant_id;
  const char *protocol_role;
} dwn_build_common_t;

/* A dwn_build_write_t with data_fd = -1 and everything else absent. */
void dwn_build_write_init(dwn_build_write_t *w);

/* RecordsWrite.create: a new record (initial write).  signer required. */
int dwn_build_records_write(const dwn_build_write_t *opts, const dwn_build_signer_t *signer,
                            json_t **message_out);

/* RecordsWrite.createFrom: an update of the record whose latest write is
 * `source` (a RecordsWrite message; encodedData and initialWrite ignored):
 * same recordId, contextId, dateCreated and immutable descriptor members;
 * dataCid/dataSize, dataFormat, published/datePublished from opts or kept,
 * tags only from opts (the SDK does not carry them over), protocolRole from
 * opts or the source's signature payload; messageTimestamp from opts or now (it must be newer than the
 * source's for the DWN to accept it).  Published turned on without a
 * datePublished gets now; turned off drops datePublished. */
int dwn_build_records_write_from(const json_t *source, const dwn_build_write_t *opts,
                                 const dwn_build_signer_t *signer, json_t **message_out);

/* ProtocolsConfigure.create: definition deep-copied, its protocol and the
 * types' schema URLs normalised.  signer required. */
int dwn_build_protocols_configure(const json_t *definition, const dwn_build_common_t *common,
                                  const dwn_build_signer_t *signer, json_t **message_out);

/* ProtocolsQuery.create: filter (NULL: none) {protocol?, recipient?}; signer
 * optional (NULL: anonymous). */
int dwn_build_protocols_query(const json_t *filter, const dwn_build_common_t *common,
                              const dwn_build_signer_t *signer, json_t **message_out);

/* RecordsRead.create: filter required; signer optional. */
int dwn_build_records_read(const json_t *filter, const dwn_build_common_t *common,
                           const dwn_build_signer_t *signer, json_t **message_out);

/* RecordsQuery.create: filter required, date_sort and pagination ({limit?,
 * cursor?}) optional (NULL); signer optional. */
int dwn_build_records_query(const json_t *filter, const char *date_sort, const json_t *pagination,
                            const dwn_build_common_t *common, const dwn_build_signer_t *signer,
                            json_t **message_out);

/* RecordsDelete.create: prune as given; signer required. */
int dwn_build_records_delete(const char *record_id, bool prune, const dwn_build_common_t *common,
                             const dwn_build_signer_t *signer, json_t **message_out);

/* MessagesQuery.create: filters an array (NULL: []), cursor ({messageCid,
 * value}) optional; signer required. */
int dwn_build_messages_query(const json_t *filters, const json_t *cursor,
                             const dwn_build_common_t *common, const dwn_build_signer_t *signer,
                             json_t **message_out);

/* MessagesRead.create: signer required. */
int dwn_build_messages_read(const char *message_cid, const dwn_build_common_t *common,
                            const dwn_build_signer_t *signer, json_t **message_out);

/* Re-signs message in place after its descriptor changed: the payload of the
 * existing authorization.signature is decoded, its descriptorCid replaced by
 * computeCid(descriptor), its other members kept, and the signature made
 * again with signer (the authorization's other members are kept).  A message
 * without authorization gets {signature} with payload {descriptorCid}. */
int dwn_build_resign(json_t *message, const dwn_build_signer_t *signer);

#endif
