/*
 * dwn/eventlog: see eventlog.h.  The txn keeps the appends until commit; the
 * store's commit lock runs before_commit, which numbers them (moving the
 * tenant's counter) and adds their keys to the batch; after_commit forgets
 * the numbers of a batch that was not written.
 */
#include "dwn/eventlog.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leveldb/c.h>

#include "err.h"

static const char *const default_index[] = {"protocol", "tag.protocol", NULL};

struct eventlog {
  msgstore_t *store;
  char *index[EVENTLOG_INDEX_PROPERTIES_MAX];
  size_t index_count;
  uint64_t *last;            /* last watermark per tid (UINT64_MAX = not read yet); commit lock */
  size_t last_cap;
  leveldb_readoptions_t *read;
};

typedef struct append {
  uint32_t tid;
  char *cid;
  uint8_t *ix;
  size_t ix_len;
  bool cancelled;            /* deleted again in the same txn */
  uint64_t watermark;        /* assigned at commit */
} append_t;

typedef struct txn_state {
  eventlog_t *log;
  append_t *appends;
  size_t count, cap;
} txn_state_t;

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}
static void put_be64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) p[i] = (uint8_t)v, v >>= 8;
}
static uint64_t get_be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

static void key_tid(uint8_t *key, size_t *len, char space, uint32_t tid) {
  key[0] = (uint8_t)space;
  put_be32(key + 1, tid);
  *len = 5;
}

static int db_error(const char *what, char *error) {
  int rc = err_set(-EIO, "dwn event log %s: %s", what, error ? error : "?");
  leveldb_free(error);
  return rc;
}

static int db_get(eventlog_t *log, const leveldb_readoptions_t *ro, const uint8_t *key, size_t key_len,
                  char **value, size_t *value_len) {
  char *error = NULL;
  *value = leveldb_get(msgstore_db_(log->store), ro ? ro : log->read, (const char *)key, key_len, value_len,
                       &error);
  if (error) {
    leveldb_free(*value);
    *value = NULL;
    return db_error("read", error);
  }
  return *value != NULL;
}

void eventlog_watermark_format(uint64_t wm, char out[EVENTLOG_WATERMARK_BYTES]) {
  snprintf(out, EVENTLOG_WATERMARK_BYTES, "%016" PRIx64, wm);
}

int eventlog_watermark_parse(const char *text, uint64_t *wm) {
  uint64_t v = 0;
  if (!text || strlen(text) != EVENTLOG_WATERMARK_BYTES - 1) return -EINVAL;
  for (size_t i = 0; i < EVENTLOG_WATERMARK_BYTES - 1; i++) {
    char c = text[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return -EINVAL;
    v = v << 4 | (uint64_t)d;
  }
  *wm = v;
  return 0;
}

void eventlog_close(eventlog_t *log) {
  if (!log) return;
  for (size_t i = 0; i < log->index_count; i++) free(log->index[i]);
  free(log->last);
  if (log->read) leveldb_readoptions_destroy(log->read);
  free(log);
}

int eventlog_open(msgstore_t *store, const eventlog_options_t *opts, eventlog_t **out) {
  *out = NULL;
  eventlog_t *log = calloc(1, sizeof *log);
  if (!log) return -ENOMEM;
  log->store = store;
  log->read = leveldb_readoptions_create();
  const char *const *list = opts && opts->index_properties ? opts->index_properties : default_index;
  for (size_t i = 0; list[i]; i++) {
    size_t n = strlen(list[i]);
    if (i >= EVENTLOG_INDEX_PROPERTIES_MAX || n == 0 || n > MSGSTORE_NAME_BYTES_MAX) {
      eventlog_close(log);
      return err_set(-EINVAL, "event log index properties: too many or a name invalid");
    }
    if (!(log->index[i] = malloc(n + 1))) {
      eventlog_close(log);
      return -ENOMEM;
    }
    memcpy(log->index[i], list[i], n + 1);
    log->index_count++;
  }
  *out = log;
  return 0;
}

static bool is_index_property(const eventlog_t *log, const char *name, size_t name_len) {
  for (size_t i = 0; i < log->index_count; i++)
    if (strlen(log->index[i]) == name_len && memcmp(log->index[i], name, name_len) == 0) return true;
  return false;
}

/* 'F' keys of one event through put (true) or delete. */
static int index_keys(eventlog_t *log, leveldb_writebatch_t *b, uint32_t tid, uint64_t wm,
                      const msgstore_indexes_t *ix, bool put) {
  size_t at = 0;
  const char *name;
  size_t name_len;
  msgstore_value_t v;
  while (msgstore_indexes_next(ix, &at, &name, &name_len, &v)) {
    if (!is_index_property(log, name, name_len)) continue;
    uint8_t key[MSGSTORE_KEY_BYTES_MAX];
    size_t len;
    key_tid(key, &len, 'F', tid);
    int rc = msgstore_key_string_(key, &len, sizeof key, name, name_len);
    if (!rc) rc = msgstore_key_value_(key, &len, sizeof key - 8, &v);
    if (rc) return err_set(-EINVAL, "event index key too long");
    put_be64(key + len, wm), len += 8;
    if (put) leveldb_writebatch_put(b, (const char *)key, len, "", 0);
    else leveldb_writebatch_delete(b, (const char *)key, len);
  }
  return 0;
}

static void state_free(void *p) {
  txn_state_t *st = p;
  if (!st) return;
  for (size_t i = 0; i < st->count; i++) free(st->appends[i].cid), free(st->appends[i].ix);
  free(st->appends);
  free(st);
}

/* The last watermark of tid (commit lock held). */
static int last_watermark(eventlog_t *log, uint32_t tid, uint64_t *out) {
  if (tid >= log->last_cap) {
    size_t cap = log->last_cap ? log->last_cap : 16;
    while (cap <= tid) cap *= 2;
    uint64_t *last = realloc(log->last, cap * sizeof *last);
    if (!last) return -ENOMEM;
    for (size_t i = log->last_cap; i < cap; i++) last[i] = UINT64_MAX;
    log->last = last, log->last_cap = cap;
  }
  if (log->last[tid] == UINT64_MAX) {
    uint8_t key[5];
    size_t len;
    key_tid(key, &len, 'W', tid);
    char *value;
    size_t value_len;
    int rc = db_get(log, NULL, key, len, &value, &value_len);
    if (rc < 0) return rc;
    uint64_t wm = 0;
    if (rc == 1) {
      if (value_len != 8) rc = -EIO;
      else wm = get_be64((const uint8_t *)value);
      leveldb_free(value);
      if (rc < 0) return err_set(rc, "event log watermark malformed");
    }
    log->last[tid] = wm;
  }
  *out = log->last[tid];
  return 0;
}

static int before_commit(void *p, msgstore_txn_t *txn) {
  txn_state_t *st = p;
  eventlog_t *log = st->log;
  leveldb_writebatch_t *b = msgstore_txn_batch_(txn);
  for (size_t i = 0; i < st->count; i++) {
    append_t *a = &st->appends[i];
    if (a->cancelled) continue;
    uint64_t last = 0;
    int rc = last_watermark(log, a->tid, &last);
    if (rc) return rc;
    /* Reserved now: a txn queued behind this one in a group commit counts
     * from here.  If the write fails the numbers are skipped, never reused
     * while the process runs (after a restart none of them is on disk). */
    a->watermark = last + 1;
    log->last[a->tid] = a->watermark;
    uint8_t key[MSGSTORE_KEY_BYTES_MAX], wmb[8];
    size_t len;
    put_be64(wmb, a->watermark);
    key_tid(key, &len, 'E', a->tid);
    memcpy(key + len, wmb, 8), len += 8;
    size_t cid_len = strlen(a->cid);
    uint8_t *value = malloc(1 + cid_len + a->ix_len);
    if (!value) return -ENOMEM;
    value[0] = (uint8_t)cid_len;
    memcpy(value + 1, a->cid, cid_len);
    memcpy(value + 1 + cid_len, a->ix, a->ix_len);
    leveldb_writebatch_put(b, (const char *)key, len, (const char *)value, 1 + cid_len + a->ix_len);
    free(value);
    key_tid(key, &len, 'e', a->tid);
    if ((rc = msgstore_key_string_(key, &len, sizeof key, a->cid, cid_len))) return rc;
    leveldb_writebatch_put(b, (const char *)key, len, (const char *)wmb, 8);
    key_tid(key, &len, 'W', a->tid);
    leveldb_writebatch_put(b, (const char *)key, len, (const char *)wmb, 8);
    msgstore_indexes_t ix;
    if (msgstore_indexes_view_(&ix, a->ix, a->ix_len)) return -EIO;
    if ((rc = index_keys(log, b, a->tid, a->watermark, &ix, true))) return rc;
  }
  return 0;
}

static void after_commit(void *p, msgstore_txn_t *txn, int rc) {
  txn_state_t *st = p;
  for (size_t i = 0; rc && i < st->count; i++) st->appends[i].watermark = 0;
}

static int state_of(eventlog_t *log, msgstore_txn_t *txn, txn_state_t **out) {
  txn_state_t *st = msgstore_txn_ext_(txn);
  if (!st) {
    if (!(st = calloc(1, sizeof *st))) return -ENOMEM;
    st->log = log;
    msgstore_txn_hook_t hook = {.before_commit = before_commit, .after_commit = after_commit, .free = state_free};
    msgstore_txn_set_ext_(txn, st, &hook);
  }
  if (st->log != log) return err_set(-EINVAL, "txn used with two event logs");
  *out = st;
  return 0;
}

int eventlog_txn_append(eventlog_t *log, msgstore_txn_t *txn, const char *tenant, const char *cid,
                        const msgstore_indexes_t *ix) {
  size_t cid_len = cid ? strlen(cid) : 0;
  if (cid_len == 0 || cid_len > MSGSTORE_CID_BYTES_MAX) return err_set(-EINVAL, "messageCid invalid");
  if (!ix) return -EINVAL;
  txn_state_t *st;
  int rc = state_of(log, txn, &st);
  if (!rc) rc = msgstore_txn_count_op_(txn);
  if (rc) return rc;
  uint32_t tid;
  if ((rc = msgstore_tenant_id_(log->store, tenant, true, &tid))) return rc;
  if (st->count == st->cap) {
    size_t cap = st->cap ? st->cap * 2 : 8;
    append_t *a = realloc(st->appends, cap * sizeof *a);
    if (!a) return -ENOMEM;
    st->appends = a, st->cap = cap;
  }
  append_t *a = &st->appends[st->count];
  memset(a, 0, sizeof *a);
  a->tid = tid;
  a->cid = malloc(cid_len + 1);
  a->ix = malloc(ix->len ? ix->len : 1);
  if (!a->cid || !a->ix) {
    free(a->cid), free(a->ix);
    return -ENOMEM;
  }
  memcpy(a->cid, cid, cid_len + 1);
  if (ix->len) memcpy(a->ix, ix->bytes, ix->len);
  a->ix_len = ix->len;
  return (int)st->count++;
}

uint64_t eventlog_txn_watermark(msgstore_txn_t *txn, size_t i) {
  txn_state_t *st = msgstore_txn_ext_(txn);
  if (!st || i >= st->count || st->appends[i].cancelled) return 0;
  return st->appends[i].watermark;
}

int eventlog_txn_delete(eventlog_t *log, msgstore_txn_t *txn, const char *tenant, const char *const *cids,
                        size_t count) {
  if (count > EVENTLOG_DELETE_MAX) return err_set(-E2BIG, "more than %d events to delete", EVENTLOG_DELETE_MAX);
  txn_state_t *st;
  int rc = state_of(log, txn, &st);
  if (rc) return rc;
  uint32_t tid;
  rc = msgstore_tenant_id_(log->store, tenant, false, &tid);
  if (rc == -ENOENT) return 0;
  if (rc) return rc;
  leveldb_writebatch_t *b = msgstore_txn_batch_(txn);
  int deleted = 0;
  for (size_t i = 0; i < count; i++) {
    size_t cid_len = cids[i] ? strlen(cids[i]) : 0;
    if (cid_len == 0 || cid_len > MSGSTORE_CID_BYTES_MAX) return err_set(-EINVAL, "messageCid invalid");
    for (size_t j = 0; j < st->count; j++) {
      append_t *a = &st->appends[j];
      if (!a->cancelled && a->tid == tid && strcmp(a->cid, cids[i]) == 0) a->cancelled = true, deleted++;
    }
    uint8_t key[MSGSTORE_KEY_BYTES_MAX];
    size_t len;
    key_tid(key, &len, 'e', tid);
    if ((rc = msgstore_key_string_(key, &len, sizeof key, cids[i], cid_len))) return rc;
    char *value;
    size_t value_len;
    if ((rc = db_get(log, NULL, key, len, &value, &value_len)) < 0) return rc;
    if (rc == 0) continue;
    if ((rc = msgstore_txn_count_op_(txn))) {
      leveldb_free(value);
      return rc;
    }
    uint64_t wm = value_len == 8 ? get_be64((const uint8_t *)value) : 0;
    leveldb_free(value);
    leveldb_writebatch_delete(b, (const char *)key, len);
    uint8_t ekey[13];
    key_tid(ekey, &len, 'E', tid);
    put_be64(ekey + len, wm), len += 8;
    if ((rc = db_get(log, NULL, ekey, len, &value, &value_len)) < 0) return rc;
    if (rc == 1) {
      msgstore_indexes_t ix;
      size_t at = value_len ? 1 + (uint8_t)value[0] : 1;
      rc = at <= value_len ? msgstore_indexes_view_(&ix, (const uint8_t *)value + at, value_len - at) : -EBADMSG;
      if (!rc) rc = index_keys(log, b, tid, wm, &ix, false);
      leveldb_free(value);
      if (rc) return err_set(rc < 0 ? rc : -EIO, "stored event malformed");
      leveldb_writebatch_delete(b, (const char *)ekey, len);
    }
    deleted++;
  }
  return deleted;
}

void eventlog_result_free(eventlog_result_t *res) {
  if (!res) return;
  for (size_t i = 0; i < res->count; i++) {
    free(res->entries[i].message_cid);
    msgstore_indexes_free(&res->entries[i].indexes);
  }
  free(res->entries);
  memset(res, 0, sizeof *res);
}

/* One index range 'F' tid P v, positioned after the cursor. */
typedef struct estream {
  leveldb_iterator_t *it;
  uint8_t prefix[MSGSTORE_KEY_BYTES_MAX];
  size_t prefix_len;
  bool valid;
  uint64_t head;
} estream_t;

static void estream_settle(estream_t *s, uint64_t *keys_read) {
  s->valid = false;
  if (!leveldb_iter_valid(s->it)) return;
  size_t len;
  const uint8_t *key = (const uint8_t *)leveldb_iter_key(s->it, &len);
  if (len != s->prefix_len + 8 || memcmp(key, s->prefix, s->prefix_len) != 0) return;
  (*keys_read)++;
  s->head = get_be64(key + s->prefix_len);
  s->valid = true;
}

/* The conditions of f that allow an index scan: the first equality / one-of
 * on an index property, or NULL. */
static const msgstore_condition_t *scan_condition(const eventlog_t *log, const msgstore_filter_t *f) {
  for (size_t i = 0; i < f->count; i++) {
    const msgstore_condition_t *c = &f->conditions[i];
    if ((c->op == MSGSTORE_EQ || c->op == MSGSTORE_ONE_OF) && is_index_property(log, c->property, strlen(c->property)))
      return c;
  }
  return NULL;
}

/* Reads event wm of tid, appends it to res if it matches: 1, 0, negative. */
static int event_candidate(eventlog_t *log, const leveldb_readoptions_t *ro, uint32_t tid, uint64_t wm,
                           const char *value, size_t value_len, const msgstore_filter_t *filters,
                           size_t filter_count, eventlog_result_t *res, size_t limit) {
  char *owned = NULL;
  if (!value) {
    uint8_t key[13];
    size_t len;
    key_tid(key, &len, 'E', tid);
    put_be64(key + len, wm), len += 8;
    int rc = db_get(log, ro, key, len, &owned, &value_len);
    if (rc <= 0) return rc < 0 ? rc : err_set(-EIO, "event index key without its event");
    value = owned;
  }
  size_t cid_len = value_len ? (uint8_t)value[0] : 0;
  msgstore_indexes_t ix;
  int rc = cid_len && 1 + cid_len <= value_len
               ? msgstore_indexes_view_(&ix, (const uint8_t *)value + 1 + cid_len, value_len - 1 - cid_len)
               : -EBADMSG;
  if (rc) {
    leveldb_free(owned);
    return err_set(-EIO, "stored event malformed");
  }
  if (!msgstore_match(&ix, filters, filter_count)) {
    leveldb_free(owned);
    return 0;
  }
  if (res->count == limit) {
    leveldb_free(owned);
    res->has_more = true;
    return 1;
  }
  if (res->count == res->capacity) {   /* grows: most queries return few events */
    size_t cap = res->capacity ? res->capacity * 2 : 64;
    if (cap > limit) cap = limit;
    eventlog_entry_t *entries = realloc(res->entries, cap * sizeof *entries);
    if (!entries) {
      leveldb_free(owned);
      return -ENOMEM;
    }
    res->entries = entries, res->capacity = cap;
  }
  eventlog_entry_t *e = &res->entries[res->count];
  memset(e, 0, sizeof *e);
  e->watermark = wm;
  e->message_cid = malloc(cid_len + 1);
  uint8_t *ixcopy = malloc(ix.len ? ix.len : 1);
  if (!e->message_cid || !ixcopy) {
    free(e->message_cid), free(ixcopy);
    leveldb_free(owned);
    return -ENOMEM;
  }
  memcpy(e->message_cid, value + 1, cid_len);
  e->message_cid[cid_len] = '\0';
  if (ix.len) memcpy(ixcopy, ix.bytes, ix.len);
  e->indexes = ix;
  e->indexes.bytes = ixcopy, e->indexes.cap = ix.len ? ix.len : 1;
  res->count++;
  leveldb_free(owned);
  return 1;
}

static int query_run(eventlog_t *log, const leveldb_readoptions_t *ro, uint32_t tid,
                     const msgstore_filter_t *filters, size_t filter_count, uint64_t cursor, size_t limit,
                     eventlog_result_t *res, estream_t *streams, size_t *stream_count) {
  leveldb_t *db = msgstore_db_(log->store);
  bool full = filter_count == 0;
  size_t needed = 0;
  for (size_t i = 0; i < filter_count && !full; i++) {
    const msgstore_condition_t *c = scan_condition(log, &filters[i]);
    if (!c) full = true;
    else needed += c->op == MSGSTORE_EQ ? 1 : c->value_count;
  }
  if (needed > MSGSTORE_STREAMS_MAX) full = true;
  if (full) {
    uint8_t key[13];
    size_t len;
    key_tid(key, &len, 'E', tid);
    put_be64(key + len, cursor + 1);
    leveldb_iterator_t *it = leveldb_create_iterator(db, ro);
    int rc = 0;
    if (cursor == UINT64_MAX) goto done;
    for (leveldb_iter_seek(it, (const char *)key, 13); leveldb_iter_valid(it); leveldb_iter_next(it)) {
      size_t klen, vlen;
      const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &klen);
      if (klen != 13 || memcmp(k, key, 5) != 0) break;
      res->keys_read++;
      const char *v = leveldb_iter_value(it, &vlen);
      rc = event_candidate(log, ro, tid, get_be64(k + 5), v, vlen, filters, filter_count, res, limit);
      if (rc < 0 || res->has_more) break;
    }
  done:;
    char *error = NULL;
    leveldb_iter_get_error(it, &error);
    leveldb_iter_destroy(it);
    if (error && rc >= 0) return db_error("iterate", error);
    leveldb_free(error);
    return rc < 0 ? rc : 0;
  }
  for (size_t i = 0; i < filter_count; i++) {
    const msgstore_condition_t *c = scan_condition(log, &filters[i]);
    size_t values = c->op == MSGSTORE_EQ ? 1 : c->value_count;
    for (size_t j = 0; j < values; j++) {
      estream_t *s = &streams[(*stream_count)++];
      memset(s, 0, sizeof *s);
      key_tid(s->prefix, &s->prefix_len, 'F', tid);
      int rc = msgstore_key_string_(s->prefix, &s->prefix_len, sizeof s->prefix, c->property, strlen(c->property));
      if (!rc)
        rc = msgstore_key_value_(s->prefix, &s->prefix_len, sizeof s->prefix - 8,
                                 c->op == MSGSTORE_EQ ? &c->value : &c->values[j]);
      if (rc) return err_set(-EINVAL, "filter value too long for a key");
      s->it = leveldb_create_iterator(db, ro);
      if (cursor == UINT64_MAX) continue;
      uint8_t seek[MSGSTORE_KEY_BYTES_MAX];
      memcpy(seek, s->prefix, s->prefix_len);
      put_be64(seek + s->prefix_len, cursor + 1);
      leveldb_iter_seek(s->it, (const char *)seek, s->prefix_len + 8);
      estream_settle(s, &res->keys_read);
    }
  }
  /* Merge by watermark; each watermark once. */
  for (;;) {
    uint64_t head = UINT64_MAX;
    bool any = false;
    for (size_t i = 0; i < *stream_count; i++)
      if (streams[i].valid && (!any || streams[i].head < head)) head = streams[i].head, any = true;
    if (!any) break;
    for (size_t i = 0; i < *stream_count; i++) {
      while (streams[i].valid && streams[i].head == head) {
        leveldb_iter_next(streams[i].it);
        estream_settle(&streams[i], &res->keys_read);
      }
    }
    int rc = event_candidate(log, ro, tid, head, NULL, 0, filters, filter_count, res, limit);
    if (rc < 0) return rc;
    if (res->has_more) break;
  }
  return 0;
}

int eventlog_query(eventlog_t *log, const char *tenant, const msgstore_filter_t *filters, size_t filter_count,
                   uint64_t cursor, size_t limit, eventlog_result_t *res) {
  memset(res, 0, sizeof *res);
  int rc = msgstore_filters_check_(filters, filter_count);
  if (rc) return rc;
  if (limit == 0 || limit > EVENTLOG_RESULTS_MAX) limit = EVENTLOG_RESULTS_MAX;
  uint32_t tid;
  rc = msgstore_tenant_id_(log->store, tenant, false, &tid);
  if (rc == -ENOENT) return 0;
  if (rc) return rc;
  estream_t *streams = calloc(MSGSTORE_STREAMS_MAX, sizeof *streams);
  if (!streams) return -ENOMEM;
  leveldb_t *db = msgstore_db_(log->store);
  const leveldb_snapshot_t *snap = leveldb_create_snapshot(db);
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_readoptions_set_snapshot(ro, snap);
  size_t stream_count = 0;
  rc = query_run(log, ro, tid, filters, filter_count, cursor, limit, res, streams, &stream_count);
  for (size_t i = 0; i < stream_count; i++) {
    char *error = NULL;
    leveldb_iter_get_error(streams[i].it, &error);
    if (error && !rc) rc = db_error("iterate", error);
    else leveldb_free(error);
    leveldb_iter_destroy(streams[i].it);
  }
  free(streams);
  leveldb_readoptions_destroy(ro);
  leveldb_release_snapshot(db, snap);
  if (rc) eventlog_result_free(res);
  return rc;
}
