/*
 * dwn: the Decentralized Web Node engine, answering like dwn-sdk-js 0.5.2
 * (dwn-reference.md; the differential scenarios in tests/interop/dwn/ are the
 * proof).  A C API with no sockets: the HTTP front (net/) and the CLI
 * (`anya dwn process`) hand it one message at a time.
 *
 * dwn_process(tenant, message, data) runs what Dwn.processMessage runs:
 *   1. the tenant gate (open, or the allow-list of the options): 401;
 *   2. interface/method presence and the message's JSON schema (validate.h): 400;
 *   3. the method's handler: parse and integrity (400), authentication of every
 *      signature (auth.h, 401), authorisation (401), then state (404, 409, 400).
 * Handlers live in records.c, protocols.c and messages.c over the helpers of
 * handlers.h.
 *
 * Storage: messages and their indexes in the message store (msgstore.h) under
 * <dir>, the event log in the same LevelDB (eventlog.h), record data above
 * DWN_INLINE_DATA_BYTES_MAX in the block engine (the same blocks `anya add`
 * makes, so content dedupes with IPFS data) with a data reference per
 * (tenant, recordId, dataCid) that keeps it alive through GC
 * (msgstore_gc_roots).  Every accepted message is one synced LevelDB batch.
 * Writers of one record (or one protocol) are serialised by a striped lock
 * (a handler reads the record's state, decides, then commits); writes to
 * different records run in parallel and share fsyncs; reads never wait.
 *
 * Subscriptions: RecordsSubscribe and MessagesSubscribe register a
 * subscriber (dwn_process_subscribe; dwn/stream.h) that receives matching
 * events after each write commits.
 *
 * Errors: dwn_process returns 0 whenever a DWN reply was produced (whatever
 * its status); a negative errno (with err_set) only for internal failures
 * (I/O, memory) — the HTTP front turns those into JSON-RPC -32603.
 */
#ifndef ANYA_DWN_DWN_H
#define ANYA_DWN_DWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bs.h"
#include "cid.h"
#include "dwn/did.h"
#include "dwn/status.h"

#define DWN_INLINE_DATA_BYTES_MAX 30000u /* dwn-sdk-js maxDataSizeAllowedToBeEncoded */
#define DWN_TENANTS_MAX 4096             /* allow-list entries */

typedef struct dwn dwn_t;

typedef struct dwn_options {
  const char *dir;              /* the message store's directory (created) */
  bs_t *bs;                     /* block engine for large record data; borrowed */
  did_fetch_fn web_fetch;       /* did:web documents (NULL: did:web unsupported) */
  void *web_fetch_ctx;
  const char *const *tenants;   /* allow-list (copied); NULL or 0 entries: every DID is a tenant */
  size_t tenants_len;
  /* Told after a record's data (above DWN_INLINE_DATA_BYTES_MAX) was committed
   * to the block engine, with the RecordsWrite: the pin policies' hook
   * (source "dwn", policy.h).  Cannot fail the write; may be NULL. */
  void (*data_stored)(void *ctx, const char *tenant, const json_t *write, const cid_t *data_cid, uint64_t size_bytes);
  void *data_stored_ctx;
} dwn_options_t;

/* 0 or negative errno (err_set says why). */
int dwn_open(const dwn_options_t *opts, dwn_t **out);
void dwn_close(dwn_t *d);

/* The message store, for the GC root provider (msgstore_gc_roots). */
struct msgstore;
struct msgstore *dwn_store(dwn_t *d);

/* A reply.  body is the DWN reply object ({status, entries?, cursor?, entry?})
 * without the record data; when has_data, the data travels beside it: inline
 * bytes (data, owned) or a UnixFS DAG in the block engine (data_cid). */
typedef struct dwn_reply {
  json_t *body;          /* owned */
  int code;              /* body.status.code */
  bool has_data;
  uint8_t *data;         /* inline data (may be NULL with data_len 0) */
  size_t data_len;
  bool data_in_store;    /* the data is data_cid in the block engine */
  cid_t data_cid;
  uint64_t data_size;    /* bytes of data either way */
} dwn_reply_t;

/* Processes one message for tenant.  data_fd: the record data stream of a
 * RecordsWrite (read to end of file), or -1 for none.  The message is
 * borrowed.  On 0, *reply is filled (release with dwn_reply_release).
 * RecordsSubscribe / MessagesSubscribe need a subscriber
 * (dwn_process_subscribe); without one they answer 501 as the reference does
 * when it has no event stream. */
int dwn_process(dwn_t *d, const char *tenant, const json_t *message, int data_fd, dwn_reply_t *reply);

/* A subscription's receiver (dwn/stream.h): fn(ctx, subscription id, event)
 * for each matching event, on the writer's thread; event = {message,
 * initialWrite?}, borrowed for the call.  fn must return quickly and must not
 * call into the engine. */
typedef void (*dwn_event_fn)(void *ctx, const char *subscription_id, const json_t *event);
typedef struct dwn_subscriber {
  dwn_event_fn fn;
  void *ctx;
} dwn_subscriber_t;

/* dwn_process with a subscriber for the Subscribe methods (sub may be NULL).
 * A 200 reply carries subscription.id (the subscribe message's CID); events
 * flow until dwn_unsubscribe. */
int dwn_process_subscribe(dwn_t *d, const char *tenant, const json_t *message, int data_fd,
                          const dwn_subscriber_t *sub, dwn_reply_t *reply);
/* Ends tenant's subscription id: 0 or -ENOENT.  The same subscribe message
 * may be registered more than once (two sockets sending it); this ends them
 * all, dwn_unsubscribe_subscriber only the one whose subscriber ctx is ctx.
 * After either returns, no event is being delivered to what it removed. */
int dwn_unsubscribe(dwn_t *d, const char *tenant, const char *subscription_id);
int dwn_unsubscribe_subscriber(dwn_t *d, const char *tenant, const char *subscription_id, const void *ctx);
void dwn_reply_release(dwn_reply_t *reply);

/* Appends the reply's data to out (inline bytes, or the DAG read back from
 * the block engine).  0 or negative errno. */
struct buf;
int dwn_reply_data(dwn_t *d, const dwn_reply_t *reply, struct buf *out);
/* The same, streamed: sink(ctx, bytes, len) for each piece in order (at most
 * 256 KiB each, so a large record is never whole in memory); a sink's
 * non-zero return stops it and is returned. */
typedef int (*dwn_data_sink_fn)(void *ctx, const void *data, size_t len);
int dwn_reply_data_write(dwn_t *d, const dwn_reply_t *reply, dwn_data_sink_fn sink, void *ctx);

#endif
