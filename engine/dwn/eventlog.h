/*
 * dwn/eventlog: the DWN event log (Messages.Query / Subscribe, dwn-reference
 * §8.4) in the message store's LevelDB, written in the same transactions.
 *
 * Every accepted RecordsWrite / RecordsDelete / ProtocolsConfigure appends
 * (messageCid, index set) under a per-tenant watermark: a 64-bit counter,
 * strictly increasing per tenant in commit order, never reused (the last one
 * is kept in its own key, so it survives restarts and the deletion of the
 * newest events).  It stands where the SDK has a ULID; as text it is 16
 * lowercase hex digits (fixed width, so text order = numeric order).
 *
 * Keys (tid = the tenant's id in the message store):
 *   'E' tid wm          -> [u8 cid_len][cid][index set bytes]
 *   'e' tid cid         -> wm              (delete by messageCid)
 *   'F' tid P v wm      -> ""              (P one of the log's index properties)
 *   'W' tid             -> the tenant's last wm
 * The watermark is assigned when the txn commits (under the store's commit
 * lock), so watermark order is commit order: a reader holding a cursor never
 * misses an event committed later with a smaller watermark.
 *
 * Query: filters as in msgstore.h (OR of AND-filters, none = everything),
 * results in watermark order strictly after the cursor.  A filter with an
 * equality / one-of condition on an index property (default "protocol" and
 * "tag.protocol") scans only that property's keys; otherwise the tenant's
 * whole log after the cursor is scanned.
 *
 * Memory: results own their strings (eventlog_result_free); arguments are
 * borrowed for the call.  Threads: like the message store.
 */
#ifndef ANYA_DWN_EVENTLOG_H
#define ANYA_DWN_EVENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dwn/msgstore.h"

#define EVENTLOG_INDEX_PROPERTIES_MAX 8
#define EVENTLOG_RESULTS_MAX 100000      /* entries per query (limit 0 = this) */
#define EVENTLOG_DELETE_MAX 100000       /* messageCids per eventlog_txn_delete */
#define EVENTLOG_WATERMARK_BYTES 17      /* 16 hex digits + NUL */

typedef struct eventlog eventlog_t;

typedef struct eventlog_options {
  const char *const *index_properties;   /* NULL-terminated; NULL = default */
} eventlog_options_t;

/* The event log of store (borrowed; must outlive the log).  opts may be NULL;
 * use the same index properties at every open.  0 or negative errno. */
int eventlog_open(msgstore_t *store, const eventlog_options_t *opts, eventlog_t **out);
void eventlog_close(eventlog_t *log);

/* Appends (messageCid, ix) for tenant in txn (ix copied).  Its watermark is
 * known after a successful commit: eventlog_txn_watermark.  Returns the
 * append's number in this txn (>= 0) or negative errno (-EINVAL, -E2BIG). */
int eventlog_txn_append(eventlog_t *log, msgstore_txn_t *txn, const char *tenant, const char *message_cid,
                        const msgstore_indexes_t *ix);
/* The watermark given to append number i of a committed txn; 0 if none. */
uint64_t eventlog_txn_watermark(msgstore_txn_t *txn, size_t i);
/* Deletes the events of these messageCids (and their index keys) in txn;
 * cids without an event are skipped.  Returns the number deleted or negative. */
int eventlog_txn_delete(eventlog_t *log, msgstore_txn_t *txn, const char *tenant, const char *const *cids,
                        size_t count);

typedef struct eventlog_entry {
  uint64_t watermark;
  char *message_cid;         /* owned by the result */
  msgstore_indexes_t indexes;   /* the event's index set (owned) */
} eventlog_entry_t;

typedef struct eventlog_result {
  eventlog_entry_t *entries;
  size_t count;
  bool has_more;             /* the limit cut it: query again after the last entry */
  uint64_t keys_read;        /* index and event keys visited */
  size_t capacity;           /* internal: entries allocated */
} eventlog_result_t;

/* Events of tenant matching filters with watermark > cursor (0 = all), in
 * watermark order, at most limit (0 = RESULTS_MAX).  0 or negative errno;
 * free res with eventlog_result_free (also after an error). */
int eventlog_query(eventlog_t *log, const char *tenant, const msgstore_filter_t *filters, size_t filter_count,
                   uint64_t cursor, size_t limit, eventlog_result_t *res);
void eventlog_result_free(eventlog_result_t *res);

/* The watermark as fixed-width text / back.  parse: 0 or -EINVAL. */
void eventlog_watermark_format(uint64_t wm, char out[EVENTLOG_WATERMARK_BYTES]);
int eventlog_watermark_parse(const char *text, uint64_t *wm);

#endif
