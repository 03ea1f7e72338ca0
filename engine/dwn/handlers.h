/*
 * dwn/handlers: what the method handlers (records.c, protocols.c,
 * messages.c) share with the engine (dwn.c).  Internal to engine/dwn/.
 *
 * The helpers mirror the reference's building blocks so each handler reads
 * like the method it answers:
 *   - dwn_signature_parse   Message.validateSignatureStructure (400)
 *   - dwn_authenticate      core/auth authenticate (401)
 *   - dwn_query             MessageStore.query with the SDK's Filter objects
 *                           ({prop: value | [values] | {gt,gte,lt,lte}}),
 *                           sort and pagination, messages as JSON
 *   - dwn_newest / dwn_is_newer   Message.getNewestMessage / isNewer
 *   - dwn_put / dwn_delete  store and event log, inside one txn
 *   - reply builders
 * Messages travel as jansson values; stored messages are their dag-cbor,
 * keyed by Message.getCid of the stored form (ids.h: dwn_message_cid_sdk).
 */
#ifndef ANYA_DWN_HANDLERS_H
#define ANYA_DWN_HANDLERS_H

#include <pthread.h>
#include <stdbool.h>

#include <jansson.h>

#include "dwn/auth.h"
#include "dwn/dwn.h"
#include "dwn/eventlog.h"
#include "dwn/ids.h"
#include "dwn/msgstore.h"
#include "dwn/status.h"

#define DWN_DID_BYTES_MAX 2048
#define DWN_QUERY_FILTERS_MAX 8     /* SDK filters one handler query ORs */
#define DWN_WRITE_LOCKS 64          /* stripes of the writers' locks */

struct dwn {
  msgstore_t *store;
  eventlog_t *log;
  did_resolver_t *resolver;
  auth_t *auth;
  bs_t *bs;                   /* borrowed; NULL: large data is refused */
  void (*data_stored)(void *ctx, const char *tenant, const json_t *write, const cid_t *data_cid, uint64_t size_bytes);
  void *data_stored_ctx;      /* dwn_options_t's hook */
  char **tenants;             /* allow-list; NULL = open */
  size_t tenants_len;
  /* Writers of one record (or one protocol) are serialised: a handler reads
   * the state, decides, then commits.  Striped by a hash of (tenant, key), so
   * writes to different records proceed and share fsyncs (group commit). */
  pthread_mutex_t write_locks[DWN_WRITE_LOCKS];
  struct dwn_data_schemas *schemas; /* registered JSON Schemas of record data (data_schema.h) */
  pthread_mutex_t stream_lock;      /* guards subscriptions (stream.c) */
  struct dwn_subscription *subscriptions; /* live subscriptions, a list */
  size_t subscriptions_len;
};

/* A message being handled: the JSON and what the handler learnt of it. */
typedef struct dwn_msg {
  const json_t *json;
  const json_t *descriptor;
  const char *interface_name;
  const char *method;
  json_t *payload;                     /* the signature payload (owned), or NULL */
  char author[DWN_DID_BYTES_MAX];      /* logical author ("" unsigned) */
  char signer[DWN_DID_BYTES_MAX];      /* signer of authorization.signature ("" unsigned) */
} dwn_msg_t;

/* The writers' lock of (tenant, key): key is a recordId or a protocol URI. */
pthread_mutex_t *dwn_write_lock(dwn_t *d, const char *tenant, const char *key);

/* ---- replies ---- */

/* reply = {status} from st. */
int dwn_reply_status(dwn_reply_t *reply, const dwn_status_t *st);
/* reply = {status: {code, detail}}. */
int dwn_reply_code(dwn_reply_t *reply, int code, const char *detail);

/* ---- parse and authenticate ---- */

/* Message.validateSignatureStructure of authorization.signature (or any General
 * JWS jws) against descriptor: one signature, payload an object valid against
 * the payload schema (records_write: RecordsWriteSignaturePayload, else
 * GenericSignaturePayload), descriptorCid matching.  *payload_out (may be NULL)
 * gets a new reference.  400 via st. */
int dwn_signature_parse(const json_t *jws, const json_t *descriptor, bool records_write, dwn_status_t *st,
                        json_t **payload_out);
/* Fills m (json, descriptor, interface, method, signer, author) and, when the
 * message has authorization, parses its signature (400). */
int dwn_msg_init(dwn_msg_t *m, const json_t *message, bool records_write, dwn_status_t *st);
void dwn_msg_release(dwn_msg_t *m);
/* authenticate(): AuthenticateJwsMissing without authorization, then every
 * signature verifies (401). */
int dwn_authenticate(dwn_t *d, const dwn_msg_t *m, dwn_status_t *st);
/* Time.validateTimestamp: TimestampInvalid (400). */
int dwn_check_timestamp(const char *ts, dwn_status_t *st);
/* Signer DID of a General JWS (its first signature's kid up to '#') into out
 * ("" if none). */
void dwn_jws_signer(const json_t *jws, char out[DWN_DID_BYTES_MAX]);
/* Signer DID of a message's authorization.signature into out ("" if none). */
void dwn_signer_of(const json_t *message, char out[DWN_DID_BYTES_MAX]);
/* Message.getAuthor: the signer, or the signer of authorDelegatedGrant. */
void dwn_author_of(const json_t *message, char out[DWN_DID_BYTES_MAX]);

/* ---- messages and the store ---- */

/* Message.getCid (the reference store's key). */
int dwn_cid_of(const json_t *message, char out[DWN_CID_TEXT_BYTES]);
/* a newer than b: messageTimestamp, then messageCid. */
bool dwn_is_newer(const json_t *a, const json_t *b);
/* The newest message of an array (borrowed), or NULL. */
const json_t *dwn_newest(const json_t *messages);

typedef struct dwn_sort {
  const char *property;  /* "dateCreated", "datePublished", "messageTimestamp" */
  bool descending;
} dwn_sort_t;

/* MessageStore.query: filters (SDK Filter objects, OR-ed; count 0 = all),
 * sort (NULL: messageTimestamp ascending), pagination ({limit?, cursor?} or
 * NULL).  *messages_out: new array of the stored messages; *cursor_out (may
 * be NULL): new {messageCid, value} when limit cut the result, else NULL.
 * A filter the store cannot express gives 400 via st (-EINVAL). */
int dwn_query(dwn_t *d, const char *tenant, json_t *const *filters, size_t filter_count, const dwn_sort_t *sort,
              const json_t *pagination, json_t **messages_out, json_t **cursor_out, dwn_status_t *st);
/* EventLog.queryEvents: events matching the SDK Filter objects (OR-ed; none
 * = all) after watermark `after` (0 = from the start), in order. */
int dwn_eventlog_query(dwn_t *d, const char *tenant, json_t *const *filters, size_t filter_count, uint64_t after,
                       eventlog_result_t *res, dwn_status_t *st);
/* An index object (flat: string, number, bool, or arrays of them) as the
 * store's index set (ix initialised here; free with msgstore_indexes_free). */
int dwn_indexes_from_json(const json_t *indexes, msgstore_indexes_t *ix);
/* True when ix matches any of the SDK Filter objects
 * (FilterUtility.matchAnyFilter); a filter the index cannot express matches
 * nothing. */
bool dwn_filters_match(json_t *const *filters, size_t filter_count, const msgstore_indexes_t *ix);
/* Stores message (stored form) with the index object (flat: string, number,
 * bool, or arrays of them) and, when event, appends it to the event log. */
int dwn_put(dwn_t *d, msgstore_txn_t *txn, const char *tenant, const json_t *message, const json_t *indexes,
            bool event);
/* Deletes a stored message (and its event when event). */
int dwn_delete(dwn_t *d, msgstore_txn_t *txn, const char *tenant, const json_t *message, bool event);

/* ---- records ---- */

/* RecordsWrite.constructIndexes. */
json_t *dwn_records_write_indexes(const json_t *message, const char *author, bool is_latest_base_state);
/* RecordsWrite.isInitialWrite of a stored message. */
bool dwn_records_is_initial_write(const json_t *message);
/* Records.convertFilter of a RecordsFilter (new object). */
json_t *dwn_records_convert_filter(const json_t *filter, const char *date_sort);
/* URL checks of §2.8: UrlProtocolNotNormalized / UrlSchemaNotNormalized (400). */
int dwn_check_protocol_url(const char *url, dwn_status_t *st);
int dwn_check_schema_url(const char *url, dwn_status_t *st);
/* The end of every handler: rc from a DWN-level failure (st set, no reply
 * yet) becomes the reply and 0; internal errors pass through. */
int dwn_finish(dwn_reply_t *reply, const dwn_status_t *st, int rc);
/* A 501 for a path that is not built yet (detail "AnyaNotImplemented: what"). */
int dwn_not_implemented(dwn_status_t *st, const char *what);

/* Handlers: each fills reply (0) or fails internally (negative errno). */
int dwn_records_write(dwn_t *d, const char *tenant, const json_t *message, int data_fd, dwn_reply_t *reply);
int dwn_records_read(dwn_t *d, const char *tenant, const json_t *message, dwn_reply_t *reply);
int dwn_records_query(dwn_t *d, const char *tenant, const json_t *message, dwn_reply_t *reply);
int dwn_records_delete(dwn_t *d, const char *tenant, const json_t *message, dwn_reply_t *reply);
int dwn_protocols_configure(dwn_t *d, const char *tenant, const json_t *message, dwn_reply_t *reply);
int dwn_protocols_query(dwn_t *d, const char *tenant, const json_t *message, dwn_reply_t *reply);
int dwn_messages_query(dwn_t *d, const char *tenant, const json_t *message, dwn_reply_t *reply);
int dwn_messages_read(dwn_t *d, const char *tenant, const json_t *message, dwn_reply_t *reply);
int dwn_records_subscribe(dwn_t *d, const char *tenant, const json_t *message, const dwn_subscriber_t *sub,
                          dwn_reply_t *reply);
int dwn_messages_subscribe(dwn_t *d, const char *tenant, const json_t *message, const dwn_subscriber_t *sub,
                           dwn_reply_t *reply);

#endif
