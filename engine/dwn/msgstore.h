/*
 * dwn/msgstore: the DWN message store and message index in one LevelDB.
 *
 * What the DWN handlers need from storage (dwn-reference.md §7, §8, §12):
 * put a message with its index set, get it by messageCid, query by filters
 * (OR of AND-filters) sorted by one property with a cursor and a limit,
 * delete; the event log (eventlog.h) and the data references of records
 * whose data lives in the block engine share the same database and the same
 * transactions.
 *
 * Index set.  A list of (property name, value) pairs, the value a string, a
 * number (double) or a boolean; a property may repeat (array values such as
 * tags are one pair per element).  It is stored ONCE per message, next to the
 * message bytes (which are opaque here: dag-cbor produced elsewhere).
 *
 * Keys (all under the tenant's 4-byte id, assigned on first write):
 *   'M' tid cid            -> message bytes
 *   'I' tid cid            -> the serialized index set
 *   'S' tid S "" sv cid    -> ""   sort index of sort property S
 *   'S' tid S P v sv cid   -> ""   composite: scan property P = v, sorted by S
 *   'D' dataCid tid recId  -> ""   data references (GC roots)
 *   'T' tenant -> tid,  'N' -> next tid,  'C' -> the property lists
 *   (eventlog.h adds 'E', 'e', 'F', 'W')
 * A tenant's id is created by its first write, in a synced write of its own
 * (a crash may leave an id without messages: harmless).
 * A message gets, for each sort property S it has (opts.sort_properties,
 * default dateCreated, datePublished, messageTimestamp), one sort-index key
 * and one composite key per value of each scan property (opts.scan_properties,
 * default recordId, attester, parentId, recipient, contextId, protocolPath,
 * schema, protocol, author and every "tag." property): small empty-valued
 * keys, no copy of the index set.  Values are encoded order-preserving:
 * a type tag (bool < number < string), doubles as 8 sortable bytes, strings
 * escaped (0x00 -> 01 01, 0x01 -> 01 02) and 0x00-terminated, with the UTF-8
 * lead bytes permuted so byte order equals JS (UTF-16 code unit) order.
 *
 * Query plan for each AND-filter (first that applies):
 *   1. an equality / one-of condition on a scan property (in the options'
 *      priority order): one composite range per value, already in sort order;
 *   2. a range / prefix condition on a scan property (not S): that composite
 *      range read whole, keeping only the best limit+1 entries after the
 *      cursor (memory bounded by the page);
 *   3. a condition on S: the sort index of S within its bounds;
 *   4. otherwise the whole sort index of S (then one scan serves all filters).
 * A range, prefix or equality on S also bounds the scans of plans 1 and 2;
 * more than MSGSTORE_STREAMS_MAX ranges fall back to plan 4.  The
 * streams of all filters are merged in (sort value, messageCid) order,
 * duplicates dropped, each candidate checked against the filters on its
 * stored index set.  So "schema = X sorted by dateCreated, limit 20" reads
 * about 21 index keys and 21 index sets, whatever the number of matches.
 *
 * Semantics (dwn-sdk-js 0.5.2 IndexLevel + FilterUtility): conditions of a
 * filter AND together, filters OR together, no filter = everything; a
 * condition on a property holds if ANY of its values satisfies it; equality
 * and ranges compare like types only (a string bound never matches a number);
 * ranges have optional lower/upper bounds, each inclusive or not; prefix
 * (startsWith) is on strings.  Results come sorted by the sort property's
 * (first) value then messageCid, both ascending or both descending; a message
 * without the sort property never appears (the SDK's iterator paging; its
 * in-memory "[] if a match lacks the sort property" quirk is the caller's;
 * a sort value is the property's first value in the index set).  Compared
 * with the SDK: strings compare by UTF-16 code unit as in JS; numbers
 * numerically (the SDK's padded-string encoding agrees for integers).
 * The cursor {messageCid, value} resumes strictly after (descending: before)
 * that position, whether or not that message still exists.
 *
 * Transactions.  Every write goes through a msgstore_txn_t: puts and deletes
 * of messages, event-log appends and deletes (eventlog.h), data references;
 * msgstore_txn_commit writes them as ONE LevelDB batch with sync=true, so a
 * crash leaves all or nothing.  Reads (get, query) see committed state only;
 * inside a txn, a delete of a message put earlier in the same txn is handled.
 * Concurrent commits are grouped: the txns waiting while one group is
 * written go out together as the next batch, one fsync for all (each still
 * all-or-nothing; a group fails or succeeds as a whole).  Commit order =
 * event-log watermark order = order in the batches.  Reads never wait.
 * The handler serializes writes to the same record (the store reads
 * committed state when a txn replaces or deletes a message).  Threads: one
 * store may be used from many threads; a txn belongs to one thread.
 *
 * Memory: the store owns its LevelDB; results and index sets own their
 * bytes (free with the matching *_free); filters and cursors passed in are
 * borrowed for the call.
 */
#ifndef ANYA_DWN_MSGSTORE_H
#define ANYA_DWN_MSGSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gc.h"

#define MSGSTORE_NAME_BYTES_MAX 64           /* property name */
#define MSGSTORE_STRING_BYTES_MAX 1024       /* string value */
#define MSGSTORE_TENANT_BYTES_MAX 1024       /* tenant DID */
#define MSGSTORE_CID_BYTES_MAX 128           /* messageCid / dataCid / recordId text */
#define MSGSTORE_PAIRS_MAX 256               /* pairs in one index set */
#define MSGSTORE_MESSAGE_BYTES_MAX (1u << 20) /* stored message bytes */
#define MSGSTORE_FILTERS_MAX 16              /* OR-ed filters per query */
#define MSGSTORE_CONDITIONS_MAX 32           /* AND-ed conditions per filter */
#define MSGSTORE_VALUES_MAX 64               /* values of a one-of condition */
#define MSGSTORE_STREAMS_MAX 64              /* index ranges merged by one query */
#define MSGSTORE_RESULTS_MAX 10000           /* entries per query (limit 0 = this) */
#define MSGSTORE_SORT_PROPERTIES_MAX 4
#define MSGSTORE_SCAN_PROPERTIES_MAX 32
#define MSGSTORE_TXN_OPS_MAX 100000          /* puts+deletes+appends+refs per txn */
#define MSGSTORE_TENANTS_MAX 0x7fffffffu
/* The longest key: space, tid, S, P, value, sort value, cid (escaping doubles). */
#define MSGSTORE_KEY_BYTES_MAX                                               \
  (1 + 4 + 2 * (2 * MSGSTORE_NAME_BYTES_MAX + 1) +                           \
   2 * (2 + 2 * MSGSTORE_STRING_BYTES_MAX) + 2 * MSGSTORE_CID_BYTES_MAX + 16)

typedef struct msgstore msgstore_t;
typedef struct msgstore_txn msgstore_txn_t;

typedef enum msgstore_kind {
  MSGSTORE_BOOL = 1,
  MSGSTORE_NUMBER = 2,
  MSGSTORE_STRING = 3,
} msgstore_kind_t;

typedef struct msgstore_value {
  msgstore_kind_t kind;
  bool boolean;          /* MSGSTORE_BOOL */
  double number;         /* MSGSTORE_NUMBER (finite; -0 is stored as 0) */
  const char *string;    /* MSGSTORE_STRING: string_len bytes (borrowed) */
  size_t string_len;
} msgstore_value_t;

/* Convenience constructors (string: borrowed, NUL-terminated). */
msgstore_value_t msgstore_string(const char *s);
msgstore_value_t msgstore_number(double n);
msgstore_value_t msgstore_bool(bool b);

/* ---- index sets ---- */

/* A serialized index set (owned bytes).  Zero-initialize or _init, add pairs,
 * free with msgstore_indexes_free.  Pairs keep their insertion order. */
typedef struct msgstore_indexes {
  uint8_t *bytes;        /* [u8 name_len][name][u8 kind][payload] per pair */
  size_t len, cap;
  size_t count;          /* pairs */
} msgstore_indexes_t;

void msgstore_indexes_init(msgstore_indexes_t *ix);
void msgstore_indexes_free(msgstore_indexes_t *ix);
/* Adds (name, value); 0, -EINVAL (name empty or > NAME max, string > STRING
 * max, NaN/inf), -E2BIG (PAIRS_MAX), -ENOMEM. */
int msgstore_indexes_add(msgstore_indexes_t *ix, const char *name, msgstore_value_t value);
/* The n-th value (0-based) of property name: 1 found (value points into ix),
 * 0 absent. */
int msgstore_indexes_find(const msgstore_indexes_t *ix, const char *name, size_t n,
                          msgstore_value_t *value);
/* Iterates the pairs in insertion order: start with *at = 0; 1 (pair filled,
 * *at advanced) or 0 at the end.  name is not NUL-terminated. */
int msgstore_indexes_next(const msgstore_indexes_t *ix, size_t *at, const char **name, size_t *name_len,
                          msgstore_value_t *value);
/* The i-th pair in insertion order (O(i)): 1 or 0 past the end.  name is not
 * NUL-terminated: name_len bytes. */
int msgstore_indexes_at(const msgstore_indexes_t *ix, size_t i, const char **name,
                        size_t *name_len, msgstore_value_t *value);

/* ---- filters ---- */

typedef enum msgstore_op {
  MSGSTORE_EQ = 1,       /* value */
  MSGSTORE_ONE_OF,       /* values[0..value_count) */
  MSGSTORE_RANGE,        /* lower / upper, each optional */
  MSGSTORE_PREFIX,       /* value (a string): startsWith */
} msgstore_op_t;

typedef struct msgstore_condition {
  const char *property;  /* e.g. "schema", "tag.status" */
  msgstore_op_t op;
  msgstore_value_t value;
  const msgstore_value_t *values;
  size_t value_count;
  bool has_lower, lower_inclusive;   /* gt (false) / gte (true) */
  msgstore_value_t lower;
  bool has_upper, upper_inclusive;   /* lt (false) / lte (true) */
  msgstore_value_t upper;
} msgstore_condition_t;

typedef struct msgstore_filter {   /* conditions AND together */
  const msgstore_condition_t *conditions;
  size_t count;                    /* 0 = matches everything */
} msgstore_filter_t;

/* True when ix satisfies any of the filters (count 0: true).  Filters must be
 * valid (msgstore_query checks them). */
bool msgstore_match(const msgstore_indexes_t *ix, const msgstore_filter_t *filters, size_t count);

/* ---- store ---- */

typedef struct msgstore_options {
  /* Both lists are part of the on-disk layout: the first open records them
   * and a later open with other lists fails (-EINVAL).  NULL = the defaults. */
  const char *const *sort_properties;   /* NULL-terminated */
  const char *const *scan_properties;   /* priority order; "x." = every "x.*" */
  size_t cache_bytes;                   /* LevelDB block cache (0 = 8 MiB) */
} msgstore_options_t;

/* Opens (creating) the store's LevelDB in dir.  opts may be NULL.
 * 0 or negative errno (err_set says why). */
int msgstore_open(const char *dir, const msgstore_options_t *opts, msgstore_t **out);
void msgstore_close(msgstore_t *store);

/* The message bytes of (tenant, messageCid) into *out (malloc'd, caller frees)
 * and, when ix is not NULL, its index set (caller frees).  0, -ENOENT, -EIO. */
int msgstore_get(msgstore_t *store, const char *tenant, const char *message_cid,
                 uint8_t **out, size_t *out_len, msgstore_indexes_t *ix);

typedef struct msgstore_cursor {
  const char *message_cid;   /* borrowed */
  msgstore_value_t value;    /* string or number */
} msgstore_cursor_t;

typedef struct msgstore_query {
  const msgstore_filter_t *filters;   /* OR-ed; count 0 = everything */
  size_t filter_count;
  const char *sort_property;          /* one of the store's sort properties */
  bool descending;
  const msgstore_cursor_t *cursor;    /* NULL = from the start */
  size_t limit;                       /* 0 or > RESULTS_MAX = RESULTS_MAX */
  bool want_messages;                 /* fill entry.message */
} msgstore_query_t;

typedef struct msgstore_entry {
  char *message_cid;         /* NUL-terminated */
  msgstore_value_t sort_value;  /* string points into the entry's storage */
  uint8_t *message;          /* want_messages: the bytes, else NULL */
  size_t message_len;
  msgstore_indexes_t indexes;   /* its index set (owned by the entry) */
} msgstore_entry_t;

typedef struct msgstore_result {
  msgstore_entry_t *entries;
  size_t count;
  bool has_more;             /* more entries after the last one: cursor is set */
  msgstore_cursor_t cursor;  /* {last entry's cid, its sort value} (points into entries) */
  uint64_t keys_read;        /* index keys visited (for tests and benchmarks) */
  uint64_t sets_read;        /* index sets read */
} msgstore_result_t;

/* Runs q for tenant into *res (caller frees with msgstore_result_free, also
 * after an error).  0; -EINVAL (bad filter, unknown sort property, limits);
 * -EIO.  An unknown tenant gives an empty result. */
int msgstore_query(msgstore_t *store, const char *tenant, const msgstore_query_t *q,
                   msgstore_result_t *res);
void msgstore_result_free(msgstore_result_t *res);

/* ---- transactions ---- */

/* A new empty txn (owned by the caller: msgstore_txn_free). 0 or -ENOMEM. */
int msgstore_txn_begin(msgstore_t *store, msgstore_txn_t **out);
/* Stores message (copied) under (tenant, messageCid) with index set ix,
 * replacing a previous version (its index keys are removed).  0, -EINVAL,
 * -E2BIG (TXN_OPS_MAX), -EIO. */
int msgstore_txn_put(msgstore_txn_t *txn, const char *tenant, const char *message_cid,
                     const uint8_t *message, size_t message_len, const msgstore_indexes_t *ix);
/* Removes the message and every index key of it.  0 or -ENOENT (absent). */
int msgstore_txn_delete(msgstore_txn_t *txn, const char *tenant, const char *message_cid);
/* Records that tenant's record recordId references block-engine data dataCid
 * (a CID string) / drops that reference.  0, -EINVAL. */
int msgstore_txn_data_ref_put(msgstore_txn_t *txn, const char *tenant, const char *record_id,
                              const char *data_cid);
int msgstore_txn_data_ref_delete(msgstore_txn_t *txn, const char *tenant, const char *record_id,
                                 const char *data_cid);
/* Writes everything as one synced batch.  0 or -EIO (nothing written).  A txn
 * is committed at most once; free it afterwards either way. */
int msgstore_txn_commit(msgstore_txn_t *txn);
/* Frees (an uncommitted txn is abandoned: nothing of it is written). */
void msgstore_txn_free(msgstore_txn_t *txn);

/* 1 when (tenant, recordId) references dataCid, 0 if not, negative errno. */
int msgstore_data_ref_has(msgstore_t *store, const char *tenant, const char *record_id,
                          const char *data_cid);
/* gc_root_fn: marks every referenced dataCid (ctx = msgstore_t *).  A dataCid
 * that does not parse fails the run (-EBADMSG). */
int msgstore_gc_roots(void *ctx, gc_marker_t *m);

/* Number of keys in the whole database (tests: deletes leave nothing behind). */
int msgstore_count_keys(msgstore_t *store, uint64_t *out);

/* ---- internal: for eventlog.c (same database, same transactions) ---- */

struct leveldb_t;
struct leveldb_writebatch_t;
typedef struct msgstore_txn_hook {
  /* Runs under the store's commit lock just before the batch is written;
   * may add to the batch.  Nonzero aborts the commit. */
  int (*before_commit)(void *state, msgstore_txn_t *txn);
  /* Runs after the write with its result (0 or the error). */
  void (*after_commit)(void *state, msgstore_txn_t *txn, int rc);
  void (*free)(void *state);
} msgstore_txn_hook_t;

struct leveldb_t *msgstore_db_(msgstore_t *store);
msgstore_t *msgstore_txn_store_(msgstore_txn_t *txn);
struct leveldb_writebatch_t *msgstore_txn_batch_(msgstore_txn_t *txn);
/* The event-log state of txn (NULL until set); set it once with its hook. */
void *msgstore_txn_ext_(msgstore_txn_t *txn);
void msgstore_txn_set_ext_(msgstore_txn_t *txn, void *state, const msgstore_txn_hook_t *hook);
/* Counts one op against TXN_OPS_MAX: 0 or -E2BIG. */
int msgstore_txn_count_op_(msgstore_txn_t *txn);
/* The tenant's id: 0, -ENOENT (unknown and !create), -EIO. */
int msgstore_tenant_id_(msgstore_t *store, const char *tenant, bool create, uint32_t *out);
/* Checks filters against the limits; 0 or -EINVAL. */
int msgstore_filters_check_(const msgstore_filter_t *filters, size_t count);
/* Appends the order-preserving encoding of v / of string s to key (cap bytes
 * at key + *len); 0 or -ENAMETOOLONG. */
int msgstore_key_value_(uint8_t *key, size_t *len, size_t cap, const msgstore_value_t *v);
int msgstore_key_string_(uint8_t *key, size_t *len, size_t cap, const char *s, size_t s_len);
/* A view of stored index-set bytes (not owned: do not free). */
int msgstore_indexes_view_(msgstore_indexes_t *ix, const uint8_t *bytes, size_t len);

#endif
