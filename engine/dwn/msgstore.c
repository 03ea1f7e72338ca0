/*
 * dwn/msgstore: see msgstore.h for the key layout and the query plan.
 *
 * Why composite keys: the SDK answers "schema = X, newest first, 20" by
 * reading every X (in-memory paging) or by walking the dateCreated index and
 * checking each message; a key (S, schema, X, dateCreated, cid) puts the 20
 * answers next to each other in sort order, so the query is one short scan.
 * The keys carry no value: the filter check reads the one stored index set.
 */
#include "dwn/msgstore.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leveldb/c.h>

#include "cid.h"
#include "err.h"

#define CACHE_BYTES_DEFAULT (8u << 20)
#define WRITE_BUFFER_BYTES (8u << 20)
#define TXN_HASH_SLOTS_MIN 64

static const char *const default_sort[] = {"dateCreated", "datePublished", "messageTimestamp", NULL};
static const char *const default_scan[] = {"recordId", "attester", "parentId", "recipient",
                                           "contextId", "protocolPath", "schema", "protocol",
                                           "author", "tag.", NULL};

struct msgstore {
  leveldb_t *db;
  leveldb_options_t *options;
  leveldb_filterpolicy_t *filter;
  leveldb_cache_t *cache;
  leveldb_readoptions_t *read;
  leveldb_writeoptions_t *write_sync;
  pthread_mutex_t commit_mutex;   /* guards the commit queue, tenant creation, event counters */
  pthread_cond_t commit_done;     /* a group was written */
  bool leader_active;             /* a committer is writing a group */
  struct commit_node *queue_head, *queue_tail;   /* txns waiting for the next group */
  char *sort[MSGSTORE_SORT_PROPERTIES_MAX];
  size_t sort_count;
  char *scan[MSGSTORE_SCAN_PROPERTIES_MAX];
  size_t scan_count;
};

/* A committer waiting in the queue (on its stack). */
typedef struct commit_node {
  msgstore_txn_t *txn;
  struct commit_node *next;
  bool done;
  int rc;
} commit_node_t;

typedef struct pending {
  uint32_t tid;
  char *cid;
  uint8_t *ix;           /* index-set bytes of the live version (NULL when deleted) */
  size_t ix_len;
  int next;              /* hash chain */
} pending_t;

struct msgstore_txn {
  msgstore_t *store;
  leveldb_writebatch_t *batch;
  size_t ops;
  pending_t *pending;
  size_t pending_count, pending_cap;
  int *slots;            /* hash -> first pending index, -1 empty */
  size_t slot_count;
  bool committed;
  void *ext;
  msgstore_txn_hook_t hook;
};

/* ---- encodings ---- */

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}
static uint32_t get_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put_be64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) p[i] = (uint8_t)v, v >>= 8;
}
static uint64_t get_be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

static uint64_t number_bits(double n) {
  if (n == 0) n = 0;   /* -0 sorts and compares as 0 */
  uint64_t bits;
  memcpy(&bits, &n, sizeof bits);
  return (bits >> 63) ? ~bits : bits | (1ull << 63);
}
static double number_from_bits(uint64_t bits) {
  bits = (bits >> 63) ? bits & ~(1ull << 63) : ~bits;
  double n;
  memcpy(&n, &bits, sizeof n);
  return n;
}

/* UTF-8 lead bytes of U+E000..U+FFFF (EE, EF) move above those of U+10000..
 * (F0..F4): byte order then equals UTF-16 code unit order (JS `<`).  A
 * permutation of byte values, so it is harmless on any bytes. */
static uint8_t permute(uint8_t b) {
  if (b == 0xEE || b == 0xEF) return (uint8_t)(b + 5);
  if (b >= 0xF0 && b <= 0xF4) return (uint8_t)(b - 2);
  return b;
}
static uint8_t unpermute(uint8_t b) {
  if (b == 0xF3 || b == 0xF4) return (uint8_t)(b - 5);
  if (b >= 0xEE && b <= 0xF2) return (uint8_t)(b + 2);
  return b;
}

static int string_cmp(const char *a, size_t a_len, const char *b, size_t b_len) {
  size_t n = a_len < b_len ? a_len : b_len;
  for (size_t i = 0; i < n; i++) {
    uint8_t x = permute((uint8_t)a[i]), y = permute((uint8_t)b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  return a_len < b_len ? -1 : a_len > b_len;
}

/* Escaped bytes of s (no terminator). */
static int key_escaped(uint8_t *key, size_t *len, size_t cap, const char *s, size_t s_len) {
  size_t at = *len;
  for (size_t i = 0; i < s_len; i++) {
    uint8_t b = permute((uint8_t)s[i]);
    if (at + 2 > cap) return -ENAMETOOLONG;
    if (b <= 1) key[at++] = 1, key[at++] = (uint8_t)(b + 1);
    else key[at++] = b;
  }
  *len = at;
  return 0;
}

int msgstore_key_string_(uint8_t *key, size_t *len, size_t cap, const char *s, size_t s_len) {
  int rc = key_escaped(key, len, cap, s, s_len);
  if (rc) return rc;
  if (*len + 1 > cap) return -ENAMETOOLONG;
  key[(*len)++] = 0;
  return 0;
}

int msgstore_key_value_(uint8_t *key, size_t *len, size_t cap, const msgstore_value_t *v) {
  if (*len + 9 > cap) return -ENAMETOOLONG;
  key[(*len)++] = (uint8_t)v->kind;
  switch (v->kind) {
  case MSGSTORE_BOOL: key[(*len)++] = v->boolean ? 1 : 0; return 0;
  case MSGSTORE_NUMBER: put_be64(key + *len, number_bits(v->number)); *len += 8; return 0;
  case MSGSTORE_STRING: return msgstore_key_string_(key, len, cap, v->string, v->string_len);
  }
  return -EINVAL;
}

/* Bytes of one encoded value at p (rem bytes available); 0 if malformed. */
static size_t encoded_value_len(const uint8_t *p, size_t rem) {
  if (rem < 1) return 0;
  switch (p[0]) {
  case MSGSTORE_BOOL: return rem >= 2 ? 2 : 0;
  case MSGSTORE_NUMBER: return rem >= 9 ? 9 : 0;
  case MSGSTORE_STRING: {
    const uint8_t *z = memchr(p + 1, 0, rem - 1);
    return z ? (size_t)(z - p) + 1 : 0;
  }
  }
  return 0;
}

/* Unescapes an escaped, 0-terminated string at p into out (cap bytes incl. NUL). */
static size_t unescape(const uint8_t *p, size_t rem, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < rem && p[i] != 0; i++) {
    uint8_t b = p[i];
    if (b == 1 && i + 1 < rem) b = (uint8_t)(p[++i] - 1);
    if (o + 1 >= cap) return SIZE_MAX;
    out[o++] = (char)unpermute(b);
  }
  out[o] = '\0';
  return o;
}

static int cmp_bytes(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len) {
  size_t n = a_len < b_len ? a_len : b_len;
  int c = n ? memcmp(a, b, n) : 0;
  if (c) return c < 0 ? -1 : 1;
  return a_len < b_len ? -1 : a_len > b_len;
}

/* The smallest byte string greater than every string with prefix p: 0 if none. */
static size_t successor(uint8_t *p, size_t len) {
  while (len > 0 && p[len - 1] == 0xFF) len--;
  if (len == 0) return 0;
  p[len - 1]++;
  return len;
}

/* ---- values and index sets ---- */

msgstore_value_t msgstore_string(const char *s) {
  return (msgstore_value_t){.kind = MSGSTORE_STRING, .string = s, .string_len = strlen(s)};
}
msgstore_value_t msgstore_number(double n) {
  return (msgstore_value_t){.kind = MSGSTORE_NUMBER, .number = n};
}
msgstore_value_t msgstore_bool(bool b) {
  return (msgstore_value_t){.kind = MSGSTORE_BOOL, .boolean = b};
}

static int value_check(const msgstore_value_t *v) {
  switch (v->kind) {
  case MSGSTORE_BOOL: return 0;
  case MSGSTORE_NUMBER: return isfinite(v->number) ? 0 : -EINVAL;
  case MSGSTORE_STRING:
    return (v->string || v->string_len == 0) && v->string_len <= MSGSTORE_STRING_BYTES_MAX ? 0 : -EINVAL;
  }
  return -EINVAL;
}

static int value_cmp(const msgstore_value_t *a, const msgstore_value_t *b) {
  assert(a->kind == b->kind);
  switch (a->kind) {
  case MSGSTORE_BOOL: return (int)a->boolean - (int)b->boolean;
  case MSGSTORE_NUMBER: return a->number < b->number ? -1 : a->number > b->number;
  case MSGSTORE_STRING: return string_cmp(a->string, a->string_len, b->string, b->string_len);
  }
  return 0;
}

void msgstore_indexes_init(msgstore_indexes_t *ix) { memset(ix, 0, sizeof *ix); }

void msgstore_indexes_free(msgstore_indexes_t *ix) {
  if (ix->cap) free(ix->bytes);
  memset(ix, 0, sizeof *ix);
}

int msgstore_indexes_add(msgstore_indexes_t *ix, const char *name, msgstore_value_t value) {
  size_t name_len = name ? strlen(name) : 0;
  if (name_len == 0 || name_len > MSGSTORE_NAME_BYTES_MAX)
    return err_set(-EINVAL, "index name empty or longer than %d bytes", MSGSTORE_NAME_BYTES_MAX);
  if (value_check(&value)) return err_set(-EINVAL, "index value of %s invalid", name);
  if (ix->count >= MSGSTORE_PAIRS_MAX) return err_set(-E2BIG, "more than %d index pairs", MSGSTORE_PAIRS_MAX);
  assert(ix->cap || !ix->bytes);
  size_t need = ix->len + 1 + name_len + 1 + 2 + (value.kind == MSGSTORE_STRING ? value.string_len : 8);
  if (need > ix->cap) {
    size_t cap = ix->cap ? ix->cap * 2 : 256;
    while (cap < need) cap *= 2;
    uint8_t *bytes = realloc(ix->bytes, cap);
    if (!bytes) return -ENOMEM;
    ix->bytes = bytes, ix->cap = cap;
  }
  uint8_t *p = ix->bytes + ix->len;
  *p++ = (uint8_t)name_len;
  memcpy(p, name, name_len), p += name_len;
  *p++ = (uint8_t)value.kind;
  if (value.kind == MSGSTORE_BOOL) *p++ = value.boolean;
  else if (value.kind == MSGSTORE_NUMBER) put_be64(p, number_bits(value.number)), p += 8;
  else {
    p[0] = (uint8_t)(value.string_len >> 8), p[1] = (uint8_t)value.string_len, p += 2;
    if (value.string_len) memcpy(p, value.string, value.string_len);
    p += value.string_len;
  }
  ix->len = (size_t)(p - ix->bytes);
  ix->count++;
  return 0;
}

/* Reads the pair at *at; 1 and advances, 0 at the end, -EBADMSG. */
static int pair_next(const uint8_t *bytes, size_t len, size_t *at, const char **name, size_t *name_len,
                     msgstore_value_t *v) {
  size_t i = *at;
  if (i >= len) return 0;
  size_t nl = bytes[i++];
  if (nl == 0 || nl > MSGSTORE_NAME_BYTES_MAX || i + nl + 1 > len) return -EBADMSG;
  *name = (const char *)bytes + i, *name_len = nl;
  i += nl;
  memset(v, 0, sizeof *v);
  v->kind = bytes[i++];
  switch (v->kind) {
  case MSGSTORE_BOOL:
    if (i + 1 > len || bytes[i] > 1) return -EBADMSG; /* only what msgstore_indexes_add writes */
    v->boolean = bytes[i++] != 0;
    break;
  case MSGSTORE_NUMBER:
    if (i + 8 > len) return -EBADMSG;
    v->number = number_from_bits(get_be64(bytes + i)), i += 8;
    if (!isfinite(v->number) || (v->number == 0 && signbit(v->number))) return -EBADMSG;
    break;
  case MSGSTORE_STRING:
    if (i + 2 > len) return -EBADMSG;
    v->string_len = (size_t)bytes[i] << 8 | bytes[i + 1], i += 2;
    if (i + v->string_len > len || v->string_len > MSGSTORE_STRING_BYTES_MAX) return -EBADMSG;
    v->string = (const char *)bytes + i, i += v->string_len;
    break;
  default: return -EBADMSG;
  }
  *at = i;
  return 1;
}

int msgstore_indexes_view_(msgstore_indexes_t *ix, const uint8_t *bytes, size_t len) {
  memset(ix, 0, sizeof *ix);
  size_t at = 0, count = 0;
  const char *name;
  size_t name_len;
  msgstore_value_t v;
  int rc;
  while ((rc = pair_next(bytes, len, &at, &name, &name_len, &v)) == 1) {
    if (++count > MSGSTORE_PAIRS_MAX) return -EBADMSG;
  }
  if (rc < 0) return rc;
  ix->bytes = (uint8_t *)bytes, ix->len = len, ix->count = count;
  return 0;
}

static int indexes_copy(msgstore_indexes_t *ix, const uint8_t *bytes, size_t len) {
  msgstore_indexes_t view;
  int rc = msgstore_indexes_view_(&view, bytes, len);
  if (rc) return rc;
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) return -ENOMEM;
  if (len) memcpy(copy, bytes, len);
  *ix = view;
  ix->bytes = copy, ix->cap = len ? len : 1;
  return 0;
}

int msgstore_indexes_next(const msgstore_indexes_t *ix, size_t *at, const char **name, size_t *name_len,
                          msgstore_value_t *value) {
  return pair_next(ix->bytes, ix->len, at, name, name_len, value) == 1;
}

int msgstore_indexes_at(const msgstore_indexes_t *ix, size_t i, const char **name, size_t *name_len,
                        msgstore_value_t *value) {
  size_t at = 0;
  for (size_t k = 0; k <= i; k++) {
    if (pair_next(ix->bytes, ix->len, &at, name, name_len, value) != 1) return 0;
  }
  return 1;
}

int msgstore_indexes_find(const msgstore_indexes_t *ix, const char *name, size_t n, msgstore_value_t *value) {
  size_t want = strlen(name), at = 0, seen = 0, name_len;
  const char *pname;
  while (pair_next(ix->bytes, ix->len, &at, &pname, &name_len, value) == 1) {
    if (name_len == want && memcmp(pname, name, want) == 0 && seen++ == n) return 1;
  }
  return 0;
}

/* ---- filters ---- */

static bool value_equal(const msgstore_value_t *a, const msgstore_value_t *b) {
  return a->kind == b->kind && value_cmp(a, b) == 0;
}

static bool condition_holds(const msgstore_condition_t *c, const msgstore_value_t *v) {
  switch (c->op) {
  case MSGSTORE_EQ: return value_equal(&c->value, v);
  case MSGSTORE_ONE_OF:
    for (size_t i = 0; i < c->value_count; i++)
      if (value_equal(&c->values[i], v)) return true;
    return false;
  case MSGSTORE_RANGE:
    if (c->has_lower) {
      if (v->kind != c->lower.kind) return false;
      int k = value_cmp(v, &c->lower);
      if (k < 0 || (k == 0 && !c->lower_inclusive)) return false;
    }
    if (c->has_upper) {
      if (v->kind != c->upper.kind) return false;
      int k = value_cmp(v, &c->upper);
      if (k > 0 || (k == 0 && !c->upper_inclusive)) return false;
    }
    return true;
  case MSGSTORE_PREFIX:
    return v->kind == MSGSTORE_STRING && v->string_len >= c->value.string_len &&
           memcmp(v->string, c->value.string, c->value.string_len) == 0;
  }
  return false;
}

static bool filter_holds(const msgstore_indexes_t *ix, const msgstore_filter_t *f) {
  for (size_t i = 0; i < f->count; i++) {
    const msgstore_condition_t *c = &f->conditions[i];
    size_t want = strlen(c->property), at = 0, name_len;
    const char *name;
    msgstore_value_t v;
    bool held = false;
    while (!held && pair_next(ix->bytes, ix->len, &at, &name, &name_len, &v) == 1) {
      if (name_len == want && memcmp(name, c->property, want) == 0) held = condition_holds(c, &v);
    }
    if (!held) return false;
  }
  return true;
}

bool msgstore_match(const msgstore_indexes_t *ix, const msgstore_filter_t *filters, size_t count) {
  if (count == 0) return true;
  for (size_t i = 0; i < count; i++)
    if (filter_holds(ix, &filters[i])) return true;
  return false;
}

int msgstore_filters_check_(const msgstore_filter_t *filters, size_t count) {
  if (count > MSGSTORE_FILTERS_MAX) return err_set(-EINVAL, "more than %d filters", MSGSTORE_FILTERS_MAX);
  if (count && !filters) return -EINVAL;
  for (size_t i = 0; i < count; i++) {
    const msgstore_filter_t *f = &filters[i];
    if (f->count > MSGSTORE_CONDITIONS_MAX)
      return err_set(-EINVAL, "more than %d conditions in a filter", MSGSTORE_CONDITIONS_MAX);
    for (size_t j = 0; j < f->count; j++) {
      const msgstore_condition_t *c = &f->conditions[j];
      if (!c->property || !*c->property || strlen(c->property) > MSGSTORE_NAME_BYTES_MAX)
        return err_set(-EINVAL, "filter property name invalid");
      switch (c->op) {
      case MSGSTORE_EQ:
        if (value_check(&c->value)) return err_set(-EINVAL, "filter value of %s invalid", c->property);
        break;
      case MSGSTORE_ONE_OF:
        if (c->value_count == 0 || c->value_count > MSGSTORE_VALUES_MAX || !c->values)
          return err_set(-EINVAL, "one-of of %s: 1..%d values", c->property, MSGSTORE_VALUES_MAX);
        for (size_t k = 0; k < c->value_count; k++)
          if (value_check(&c->values[k])) return err_set(-EINVAL, "filter value of %s invalid", c->property);
        break;
      case MSGSTORE_RANGE:
        if (!c->has_lower && !c->has_upper) return err_set(-EINVAL, "range of %s without bounds", c->property);
        if ((c->has_lower && (value_check(&c->lower) || c->lower.kind == MSGSTORE_BOOL)) ||
            (c->has_upper && (value_check(&c->upper) || c->upper.kind == MSGSTORE_BOOL)))
          return err_set(-EINVAL, "range bound of %s invalid", c->property);
        break;
      case MSGSTORE_PREFIX:
        if (c->value.kind != MSGSTORE_STRING || value_check(&c->value))
          return err_set(-EINVAL, "prefix of %s must be a string", c->property);
        break;
      default: return err_set(-EINVAL, "unknown filter operator");
      }
    }
  }
  return 0;
}

/* ---- store ---- */

static char *dup_string(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static int db_error(int code, const char *what, char *error) {
  int rc = err_set(code, "dwn store %s: %s", what, error ? error : "?");
  leveldb_free(error);
  return rc;
}

/* Reads key: 1 found (*value malloc'd by leveldb: leveldb_free), 0, -EIO. */
static int db_get(msgstore_t *s, const leveldb_readoptions_t *ro, const uint8_t *key, size_t key_len,
                  char **value, size_t *value_len) {
  char *error = NULL;
  *value = leveldb_get(s->db, ro ? ro : s->read, (const char *)key, key_len, value_len, &error);
  if (error) {
    leveldb_free(*value);
    *value = NULL;
    return db_error(-EIO, "read", error);
  }
  return *value != NULL;
}

static int copy_list(char **dst, size_t *count, size_t max, const char *const *src) {
  *count = 0;
  for (size_t i = 0; src[i]; i++) {
    if (i >= max || !*src[i] || strlen(src[i]) > MSGSTORE_NAME_BYTES_MAX)
      return err_set(-EINVAL, "property list too long or a name invalid");
    if (!(dst[i] = dup_string(src[i]))) return -ENOMEM;
    (*count)++;
  }
  return 0;
}

/* The property lists shape the keys: a store opened with other lists would
 * miss or leave behind index keys, so the first open records them ('C') and
 * later opens must match. */
static int layout_check(msgstore_t *s) {
  char layout[(MSGSTORE_SORT_PROPERTIES_MAX + MSGSTORE_SCAN_PROPERTIES_MAX) * (MSGSTORE_NAME_BYTES_MAX + 1) + 8];
  size_t len = 0;
  for (size_t i = 0; i < s->sort_count; i++) len += (size_t)sprintf(layout + len, "%s,", s->sort[i]);
  layout[len++] = ';';
  for (size_t i = 0; i < s->scan_count; i++) len += (size_t)sprintf(layout + len, "%s,", s->scan[i]);
  assert(len < sizeof layout);
  uint8_t key[1] = {'C'};
  char *value;
  size_t value_len;
  int rc = db_get(s, NULL, key, 1, &value, &value_len);
  if (rc == 1) {
    bool same = value_len == len && memcmp(value, layout, len) == 0;
    leveldb_free(value);
    return same ? 0 : err_set(-EINVAL, "dwn store: index properties differ from those it was created with");
  }
  if (rc < 0) return rc;
  char *error = NULL;
  leveldb_put(s->db, s->write_sync, (const char *)key, 1, layout, len, &error);
  return error ? db_error(-EIO, "write", error) : 0;
}

void msgstore_close(msgstore_t *s) {
  if (!s) return;
  if (s->db) leveldb_close(s->db);
  if (s->options) leveldb_options_destroy(s->options);
  if (s->filter) leveldb_filterpolicy_destroy(s->filter);
  if (s->cache) leveldb_cache_destroy(s->cache);
  if (s->read) leveldb_readoptions_destroy(s->read);
  if (s->write_sync) leveldb_writeoptions_destroy(s->write_sync);
  for (size_t i = 0; i < s->sort_count; i++) free(s->sort[i]);
  for (size_t i = 0; i < s->scan_count; i++) free(s->scan[i]);
  pthread_mutex_destroy(&s->commit_mutex);
  pthread_cond_destroy(&s->commit_done);
  free(s);
}

int msgstore_open(const char *dir, const msgstore_options_t *opts, msgstore_t **out) {
  *out = NULL;
  msgstore_t *s = calloc(1, sizeof *s);
  if (!s) return -ENOMEM;
  pthread_mutex_init(&s->commit_mutex, NULL);
  pthread_cond_init(&s->commit_done, NULL);
  int rc = copy_list(s->sort, &s->sort_count, MSGSTORE_SORT_PROPERTIES_MAX,
                     opts && opts->sort_properties ? opts->sort_properties : default_sort);
  if (!rc)
    rc = copy_list(s->scan, &s->scan_count, MSGSTORE_SCAN_PROPERTIES_MAX,
                   opts && opts->scan_properties ? opts->scan_properties : default_scan);
  if (rc) {
    msgstore_close(s);
    return rc;
  }
  s->options = leveldb_options_create();
  s->filter = leveldb_filterpolicy_create_bloom(10);
  s->cache = leveldb_cache_create_lru(opts && opts->cache_bytes ? opts->cache_bytes : CACHE_BYTES_DEFAULT);
  s->read = leveldb_readoptions_create();
  s->write_sync = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(s->write_sync, 1);
  leveldb_options_set_create_if_missing(s->options, 1);
  leveldb_options_set_filter_policy(s->options, s->filter);
  leveldb_options_set_cache(s->options, s->cache);
  leveldb_options_set_write_buffer_size(s->options, WRITE_BUFFER_BYTES);
  leveldb_options_set_max_open_files(s->options, 64);
  char *error = NULL;
  s->db = leveldb_open(s->options, dir, &error);
  if (error) {
    rc = db_error(-EIO, "open", error);
    msgstore_close(s);
    return rc;
  }
  if ((rc = layout_check(s))) {
    msgstore_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

struct leveldb_t *msgstore_db_(msgstore_t *s) { return s->db; }

int msgstore_tenant_id_(msgstore_t *s, const char *tenant, bool create, uint32_t *out) {
  size_t tenant_len = tenant ? strlen(tenant) : 0;
  if (tenant_len == 0 || tenant_len > MSGSTORE_TENANT_BYTES_MAX) return err_set(-EINVAL, "tenant invalid");
  uint8_t key[2 * MSGSTORE_TENANT_BYTES_MAX + 2];
  size_t key_len = 0;
  key[key_len++] = 'T';
  int rc = msgstore_key_string_(key, &key_len, sizeof key, tenant, tenant_len);
  if (rc) return rc;
  char *value;
  size_t value_len;
  if (create) pthread_mutex_lock(&s->commit_mutex);
  rc = db_get(s, NULL, key, key_len, &value, &value_len);
  if (rc == 1) {
    if (value_len == 4) *out = get_be32((const uint8_t *)value), rc = 0;
    else rc = err_set(-EIO, "tenant entry malformed");
    leveldb_free(value);
  } else if (rc == 0 && !create) {
    rc = -ENOENT;
  } else if (rc == 0) {
    uint8_t next_key[1] = {'N'};
    uint32_t id = 1;
    rc = db_get(s, NULL, next_key, 1, &value, &value_len);
    if (rc == 1) {
      id = value_len == 4 ? get_be32((const uint8_t *)value) : 0;
      leveldb_free(value);
      rc = id == 0 || id >= MSGSTORE_TENANTS_MAX ? err_set(-ENOSPC, "tenant ids exhausted") : 0;
    }
    if (rc == 0) {
      uint8_t idb[4], nextb[4];
      put_be32(idb, id), put_be32(nextb, id + 1);
      leveldb_writebatch_t *b = leveldb_writebatch_create();
      leveldb_writebatch_put(b, (const char *)key, key_len, (const char *)idb, 4);
      leveldb_writebatch_put(b, (const char *)next_key, 1, (const char *)nextb, 4);
      char *error = NULL;
      leveldb_write(s->db, s->write_sync, b, &error);
      leveldb_writebatch_destroy(b);
      if (error) rc = db_error(-EIO, "write", error);
      else *out = id;
    }
  }
  if (create) pthread_mutex_unlock(&s->commit_mutex);
  return rc;
}

static void key_tid(uint8_t *key, size_t *len, char space, uint32_t tid) {
  key[0] = (uint8_t)space;
  put_be32(key + 1, tid);
  *len = 5;
}

static int cid_check(const char *cid, const char *what) {
  size_t n = cid ? strlen(cid) : 0;
  if (n == 0 || n > MSGSTORE_CID_BYTES_MAX) return err_set(-EINVAL, "%s empty or too long", what);
  return 0;
}

/* 'M'/'I' tid cid */
static int key_message(uint8_t *key, size_t *len, char space, uint32_t tid, const char *cid) {
  key_tid(key, len, space, tid);
  return msgstore_key_string_(key, len, MSGSTORE_KEY_BYTES_MAX, cid, strlen(cid));
}

static size_t sort_index(const msgstore_t *s, const char *name) {
  for (size_t i = 0; i < s->sort_count; i++)
    if (strcmp(s->sort[i], name) == 0) return i;
  return SIZE_MAX;
}

/* Priority of name among the scan properties (SIZE_MAX: not one). */
static size_t scan_rank(const msgstore_t *s, const char *name, size_t name_len) {
  for (size_t i = 0; i < s->scan_count; i++) {
    size_t n = strlen(s->scan[i]);
    if (n && s->scan[i][n - 1] == '.') {
      if (name_len > n && memcmp(name, s->scan[i], n) == 0) return i;
    } else if (n == name_len && memcmp(name, s->scan[i], n) == 0) {
      return i;
    }
  }
  return SIZE_MAX;
}

/* 'S' tid S P: the prefix of sort index S (P empty) or of composite (S, P). */
static int key_sort_prefix(uint8_t *key, size_t *len, uint32_t tid, const char *sort, const char *prop,
                           size_t prop_len) {
  key_tid(key, len, 'S', tid);
  int rc = msgstore_key_string_(key, len, MSGSTORE_KEY_BYTES_MAX, sort, strlen(sort));
  if (!rc) rc = msgstore_key_string_(key, len, MSGSTORE_KEY_BYTES_MAX, prop, prop_len);
  return rc;
}

typedef void (*key_op_fn)(leveldb_writebatch_t *b, const uint8_t *key, size_t len);
static void op_put(leveldb_writebatch_t *b, const uint8_t *key, size_t len) {
  leveldb_writebatch_put(b, (const char *)key, len, "", 0);
}
static void op_delete(leveldb_writebatch_t *b, const uint8_t *key, size_t len) {
  leveldb_writebatch_delete(b, (const char *)key, len);
}

/* Every sort and composite key of (tid, cid, ix) through op. */
static int index_keys(msgstore_t *s, leveldb_writebatch_t *b, uint32_t tid, const char *cid,
                      const msgstore_indexes_t *ix, key_op_fn op) {
  uint8_t key[MSGSTORE_KEY_BYTES_MAX];
  size_t cid_len = strlen(cid);
  for (size_t si = 0; si < s->sort_count; si++) {
    msgstore_value_t sv;
    if (msgstore_indexes_find(ix, s->sort[si], 0, &sv) != 1) continue;
    size_t len;
    int rc = key_sort_prefix(key, &len, tid, s->sort[si], "", 0);
    if (!rc) rc = msgstore_key_value_(key, &len, sizeof key, &sv);
    if (!rc) rc = msgstore_key_string_(key, &len, sizeof key, cid, cid_len);
    if (rc) return err_set(rc, "index key too long");
    op(b, key, len);
    size_t at = 0, name_len;
    const char *name;
    msgstore_value_t v;
    while (pair_next(ix->bytes, ix->len, &at, &name, &name_len, &v) == 1) {
      if (scan_rank(s, name, name_len) == SIZE_MAX) continue;
      rc = key_sort_prefix(key, &len, tid, s->sort[si], name, name_len);
      if (!rc) rc = msgstore_key_value_(key, &len, sizeof key, &v);
      if (!rc) rc = msgstore_key_value_(key, &len, sizeof key, &sv);
      if (!rc) rc = msgstore_key_string_(key, &len, sizeof key, cid, cid_len);
      if (rc) return err_set(rc, "index key too long");
      op(b, key, len);
    }
  }
  return 0;
}

int msgstore_get(msgstore_t *s, const char *tenant, const char *cid, uint8_t **out, size_t *out_len,
                 msgstore_indexes_t *ix) {
  *out = NULL, *out_len = 0;
  if (ix) msgstore_indexes_init(ix);
  int rc = cid_check(cid, "messageCid");
  if (rc) return rc;
  uint32_t tid;
  if ((rc = msgstore_tenant_id_(s, tenant, false, &tid))) return rc;
  uint8_t key[MSGSTORE_KEY_BYTES_MAX];
  size_t key_len;
  if ((rc = key_message(key, &key_len, 'M', tid, cid))) return rc;
  const leveldb_snapshot_t *snap = leveldb_create_snapshot(s->db);
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_readoptions_set_snapshot(ro, snap);
  char *value = NULL, *ivalue = NULL;
  size_t value_len, ivalue_len;
  rc = db_get(s, ro, key, key_len, &value, &value_len);
  if (rc == 1 && ix) {
    key[0] = 'I';
    rc = db_get(s, ro, key, key_len, &ivalue, &ivalue_len);
    if (rc == 1 && (rc = indexes_copy(ix, (const uint8_t *)ivalue, ivalue_len)) == 0) rc = 1;
    else if (rc == 0) rc = err_set(-EIO, "message without its index set");
  }
  leveldb_readoptions_destroy(ro);
  leveldb_release_snapshot(s->db, snap);
  if (rc == 1) {
    *out = malloc(value_len ? value_len : 1);
    if (*out) {
      if (value_len) memcpy(*out, value, value_len);
      *out_len = value_len, rc = 0;
    } else {
      rc = -ENOMEM;
    }
  } else if (rc == 0) {
    rc = -ENOENT;
  }
  leveldb_free(value);
  leveldb_free(ivalue);
  if (rc && ix) msgstore_indexes_free(ix);
  return rc;
}

int msgstore_count_keys(msgstore_t *s, uint64_t *out) {
  leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->read);
  uint64_t n = 0;
  for (leveldb_iter_seek_to_first(it); leveldb_iter_valid(it); leveldb_iter_next(it)) n++;
  char *error = NULL;
  leveldb_iter_get_error(it, &error);
  leveldb_iter_destroy(it);
  if (error) return db_error(-EIO, "iterate", error);
  *out = n;
  return 0;
}

/* ---- transactions ---- */

int msgstore_txn_begin(msgstore_t *s, msgstore_txn_t **out) {
  msgstore_txn_t *t = calloc(1, sizeof *t);
  if (!t) return -ENOMEM;
  t->store = s;
  t->batch = leveldb_writebatch_create();
  *out = t;
  return 0;
}

void msgstore_txn_free(msgstore_txn_t *t) {
  if (!t) return;
  if (t->hook.free) t->hook.free(t->ext);
  for (size_t i = 0; i < t->pending_count; i++) free(t->pending[i].cid), free(t->pending[i].ix);
  free(t->pending);
  free(t->slots);
  leveldb_writebatch_destroy(t->batch);
  free(t);
}

msgstore_t *msgstore_txn_store_(msgstore_txn_t *t) { return t->store; }
struct leveldb_writebatch_t *msgstore_txn_batch_(msgstore_txn_t *t) { return t->batch; }
void *msgstore_txn_ext_(msgstore_txn_t *t) { return t->ext; }
void msgstore_txn_set_ext_(msgstore_txn_t *t, void *state, const msgstore_txn_hook_t *hook) {
  assert(!t->ext);
  t->ext = state, t->hook = *hook;
}

int msgstore_txn_count_op_(msgstore_txn_t *t) {
  if (t->committed) return err_set(-EINVAL, "txn already committed");
  if (t->ops >= MSGSTORE_TXN_OPS_MAX) return err_set(-E2BIG, "more than %d operations in a txn", MSGSTORE_TXN_OPS_MAX);
  t->ops++;
  return 0;
}

static size_t pending_hash(uint32_t tid, const char *cid) {
  uint64_t h = 1469598103934665603ull ^ tid;
  for (; *cid; cid++) h = (h ^ (uint8_t)*cid) * 1099511628211ull;
  return (size_t)h;
}

static pending_t *pending_find(msgstore_txn_t *t, uint32_t tid, const char *cid) {
  if (!t->slot_count) return NULL;
  for (int i = t->slots[pending_hash(tid, cid) & (t->slot_count - 1)]; i >= 0; i = t->pending[i].next)
    if (t->pending[i].tid == tid && strcmp(t->pending[i].cid, cid) == 0) return &t->pending[i];
  return NULL;
}

static int pending_add(msgstore_txn_t *t, uint32_t tid, const char *cid, pending_t **out) {
  if (t->pending_count == t->pending_cap) {
    size_t cap = t->pending_cap ? t->pending_cap * 2 : 16;
    pending_t *p = realloc(t->pending, cap * sizeof *p);
    if (!p) return -ENOMEM;
    t->pending = p, t->pending_cap = cap;
  }
  if (t->pending_count * 2 >= t->slot_count) {   /* rehash at load 1/2 */
    size_t slot_count = t->slot_count ? t->slot_count * 4 : TXN_HASH_SLOTS_MIN;
    int *slots = malloc(slot_count * sizeof *slots);
    if (!slots) return -ENOMEM;
    for (size_t i = 0; i < slot_count; i++) slots[i] = -1;
    for (size_t i = 0; i < t->pending_count; i++) {
      size_t h = pending_hash(t->pending[i].tid, t->pending[i].cid) & (slot_count - 1);
      t->pending[i].next = slots[h], slots[h] = (int)i;
    }
    free(t->slots);
    t->slots = slots, t->slot_count = slot_count;
  }
  pending_t *p = &t->pending[t->pending_count];
  memset(p, 0, sizeof *p);
  if (!(p->cid = dup_string(cid))) return -ENOMEM;
  p->tid = tid;
  size_t h = pending_hash(tid, cid) & (t->slot_count - 1);
  p->next = t->slots[h], t->slots[h] = (int)t->pending_count++;
  *out = p;
  return 0;
}

/* The current index set of (tid, cid) as this txn sees it: 1 (*ix a view or
 * copy the caller frees with msgstore_indexes_free), 0 absent, negative. */
static int current_indexes(msgstore_txn_t *t, uint32_t tid, const char *cid, pending_t **pending,
                           msgstore_indexes_t *ix) {
  msgstore_indexes_init(ix);
  *pending = pending_find(t, tid, cid);
  if (*pending) {
    if (!(*pending)->ix) return 0;
    return msgstore_indexes_view_(ix, (*pending)->ix, (*pending)->ix_len) ? -EIO : 1;
  }
  uint8_t key[MSGSTORE_KEY_BYTES_MAX];
  size_t key_len;
  int rc = key_message(key, &key_len, 'I', tid, cid);
  if (rc) return rc;
  char *value;
  size_t value_len;
  rc = db_get(t->store, NULL, key, key_len, &value, &value_len);
  if (rc != 1) return rc;
  rc = indexes_copy(ix, (const uint8_t *)value, value_len);
  leveldb_free(value);
  return rc ? err_set(-EIO, "stored index set malformed") : 1;
}

static int remove_current(msgstore_txn_t *t, uint32_t tid, const char *cid, pending_t **pending) {
  msgstore_indexes_t old;
  int rc = current_indexes(t, tid, cid, pending, &old);
  if (rc != 1) return rc;
  uint8_t key[MSGSTORE_KEY_BYTES_MAX];
  size_t key_len;
  rc = key_message(key, &key_len, 'M', tid, cid);
  if (!rc) {
    leveldb_writebatch_delete(t->batch, (const char *)key, key_len);
    key[0] = 'I';
    leveldb_writebatch_delete(t->batch, (const char *)key, key_len);
    rc = index_keys(t->store, t->batch, tid, cid, &old, op_delete);
  }
  msgstore_indexes_free(&old);
  return rc ? rc : 1;
}

int msgstore_txn_put(msgstore_txn_t *t, const char *tenant, const char *cid, const uint8_t *message,
                     size_t message_len, const msgstore_indexes_t *ix) {
  int rc = cid_check(cid, "messageCid");
  if (rc) return rc;
  if (message_len > MSGSTORE_MESSAGE_BYTES_MAX || (message_len && !message))
    return err_set(-EINVAL, "message larger than %u bytes", MSGSTORE_MESSAGE_BYTES_MAX);
  if (!ix || ix->count == 0) return err_set(-EINVAL, "a message needs at least one index pair");
  if ((rc = msgstore_txn_count_op_(t))) return rc;
  uint32_t tid;
  if ((rc = msgstore_tenant_id_(t->store, tenant, true, &tid))) return rc;
  pending_t *p;
  if ((rc = remove_current(t, tid, cid, &p)) < 0) return rc;
  uint8_t key[MSGSTORE_KEY_BYTES_MAX];
  size_t key_len;
  if ((rc = key_message(key, &key_len, 'M', tid, cid))) return rc;
  if ((rc = index_keys(t->store, t->batch, tid, cid, ix, op_put))) return rc;
  leveldb_writebatch_put(t->batch, (const char *)key, key_len, (const char *)message, message_len);
  key[0] = 'I';
  leveldb_writebatch_put(t->batch, (const char *)key, key_len, (const char *)ix->bytes, ix->len);
  if (!p && (rc = pending_add(t, tid, cid, &p))) return rc;
  uint8_t *copy = malloc(ix->len);
  if (!copy) return -ENOMEM;
  memcpy(copy, ix->bytes, ix->len);
  free(p->ix);
  p->ix = copy, p->ix_len = ix->len;
  return 0;
}

int msgstore_txn_delete(msgstore_txn_t *t, const char *tenant, const char *cid) {
  int rc = cid_check(cid, "messageCid");
  if (rc) return rc;
  if ((rc = msgstore_txn_count_op_(t))) return rc;
  uint32_t tid;
  if ((rc = msgstore_tenant_id_(t->store, tenant, false, &tid))) return rc;
  pending_t *p;
  if ((rc = remove_current(t, tid, cid, &p)) < 0) return rc;
  if (rc == 0) return -ENOENT;
  if (!p && (rc = pending_add(t, tid, cid, &p))) return rc;
  free(p->ix);
  p->ix = NULL, p->ix_len = 0;
  return 0;
}

/* 'D' dataCid tid recordId */
static int key_data_ref(msgstore_t *s, uint8_t *key, size_t *len, const char *tenant, bool create,
                        const char *record_id, const char *data_cid) {
  int rc = cid_check(data_cid, "dataCid");
  if (!rc) rc = cid_check(record_id, "recordId");
  if (rc) return rc;
  uint32_t tid;
  if ((rc = msgstore_tenant_id_(s, tenant, create, &tid))) return rc;
  *len = 0;
  key[(*len)++] = 'D';
  if ((rc = msgstore_key_string_(key, len, MSGSTORE_KEY_BYTES_MAX, data_cid, strlen(data_cid)))) return rc;
  put_be32(key + *len, tid), *len += 4;
  return msgstore_key_string_(key, len, MSGSTORE_KEY_BYTES_MAX, record_id, strlen(record_id));
}

int msgstore_txn_data_ref_put(msgstore_txn_t *t, const char *tenant, const char *record_id, const char *data_cid) {
  uint8_t key[MSGSTORE_KEY_BYTES_MAX];
  size_t len;
  int rc = msgstore_txn_count_op_(t);
  if (!rc) rc = key_data_ref(t->store, key, &len, tenant, true, record_id, data_cid);
  if (rc) return rc;
  cid_t c;
  if (cid_parse(&c, data_cid)) return err_set(-EINVAL, "dataCid is not a CID");
  leveldb_writebatch_put(t->batch, (const char *)key, len, "", 0);
  return 0;
}

int msgstore_txn_data_ref_delete(msgstore_txn_t *t, const char *tenant, const char *record_id,
                                 const char *data_cid) {
  uint8_t key[MSGSTORE_KEY_BYTES_MAX];
  size_t len;
  int rc = msgstore_txn_count_op_(t);
  if (!rc) rc = key_data_ref(t->store, key, &len, tenant, false, record_id, data_cid);
  if (rc == -ENOENT) return 0;
  if (rc) return rc;
  leveldb_writebatch_delete(t->batch, (const char *)key, len);
  return 0;
}

int msgstore_data_ref_has(msgstore_t *s, const char *tenant, const char *record_id, const char *data_cid) {
  uint8_t key[MSGSTORE_KEY_BYTES_MAX];
  size_t len;
  int rc = key_data_ref(s, key, &len, tenant, false, record_id, data_cid);
  if (rc == -ENOENT) return 0;
  if (rc) return rc;
  char *value;
  size_t value_len;
  rc = db_get(s, NULL, key, len, &value, &value_len);
  leveldb_free(value);
  return rc;
}

int msgstore_gc_roots(void *ctx, gc_marker_t *m) {
  msgstore_t *s = ctx;
  leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->read);
  uint8_t seek[MSGSTORE_KEY_BYTES_MAX];
  size_t seek_len = 1;
  seek[0] = 'D';
  int rc = 0;
  for (leveldb_iter_seek(it, (const char *)seek, seek_len); leveldb_iter_valid(it);
       leveldb_iter_seek(it, (const char *)seek, seek_len)) {
    size_t key_len;
    const uint8_t *key = (const uint8_t *)leveldb_iter_key(it, &key_len);
    if (key_len < 2 || key[0] != 'D') break;
    const uint8_t *z = memchr(key + 1, 0, key_len - 1);
    char text[MSGSTORE_CID_BYTES_MAX + 1];
    cid_t c;
    if (!z || unescape(key + 1, key_len - 1, text, sizeof text) == SIZE_MAX || cid_parse(&c, text)) {
      rc = err_set(-EBADMSG, "dwn data reference malformed");
      break;
    }
    if ((rc = gc_mark_root(m, &c))) break;
    /* Skip the other references to the same dataCid. */
    seek_len = (size_t)(z - key) + 1;
    memcpy(seek, key, seek_len);
    seek_len = successor(seek, seek_len);
    if (seek_len == 0) break;
  }
  char *error = NULL;
  leveldb_iter_get_error(it, &error);
  leveldb_iter_destroy(it);
  if (error) return db_error(-EIO, "iterate", error);
  return rc;
}

/* Group commit: committers queue in order; whoever finds no leader writes
 * every queued txn as one synced batch (one fsync for all of them) while the
 * others wait.  Queue order is the order of before_commit (event watermarks)
 * and the order inside the batch, and groups are written one after another,
 * so what a reader sees is always a prefix of that order. */
int msgstore_txn_commit(msgstore_txn_t *t) {
  if (t->committed) return err_set(-EINVAL, "txn already committed");
  t->committed = true;
  msgstore_t *s = t->store;
  pthread_mutex_lock(&s->commit_mutex);
  int rc = t->hook.before_commit ? t->hook.before_commit(t->ext, t) : 0;
  if (rc) {
    if (t->hook.after_commit) t->hook.after_commit(t->ext, t, rc);
    pthread_mutex_unlock(&s->commit_mutex);
    return rc;
  }
  commit_node_t self = {.txn = t};
  if (s->queue_tail) s->queue_tail->next = &self;
  else s->queue_head = &self;
  s->queue_tail = &self;
  while (!self.done) {
    if (s->leader_active) {
      pthread_cond_wait(&s->commit_done, &s->commit_mutex);
      continue;
    }
    s->leader_active = true;
    commit_node_t *group = s->queue_head;
    s->queue_head = s->queue_tail = NULL;
    pthread_mutex_unlock(&s->commit_mutex);
    leveldb_writebatch_t *batch = group->txn->batch, *combined = NULL;
    if (group->next) {
      combined = leveldb_writebatch_create();
      for (commit_node_t *n = group; n; n = n->next) leveldb_writebatch_append(combined, n->txn->batch);
      batch = combined;
    }
    char *error = NULL;
    leveldb_write(s->db, s->write_sync, batch, &error);
    int write_rc = error ? db_error(-EIO, "write", error) : 0;
    if (combined) leveldb_writebatch_destroy(combined);
    pthread_mutex_lock(&s->commit_mutex);
    for (commit_node_t *n = group, *next; n; n = next) {
      next = n->next;   /* n may be gone once done is set */
      n->rc = write_rc;
      if (n->txn->hook.after_commit) n->txn->hook.after_commit(n->txn->ext, n->txn, write_rc);
      n->done = true;
    }
    s->leader_active = false;
    pthread_cond_broadcast(&s->commit_done);
  }
  rc = self.rc;
  pthread_mutex_unlock(&s->commit_mutex);
  return rc;
}

/* ---- queries ---- */

/* One ordered key range: keys prefix + remainder, remainder = enc(sort value)
 * esc(cid) 0, with lo <= remainder < hi (hi absent = end of the prefix). */
typedef struct stream {
  leveldb_iterator_t *it;
  uint8_t *prefix;        /* prefix, then lo, then hi in one allocation */
  size_t prefix_len;
  uint8_t *lo, *hi;       /* full keys */
  size_t lo_len, hi_len;
  bool has_hi;
  bool valid;
  const uint8_t *head;    /* remainder of the current key (valid while it does not move) */
  size_t head_len;
  /* A materialized stream (plan 2): its best remainders, in output order. */
  uint8_t **items;
  size_t *item_lens;
  size_t item_count, item_pos;
} stream_t;

typedef struct query_ctx {
  msgstore_t *s;
  const msgstore_query_t *q;
  uint32_t tid;
  const char *sort;
  leveldb_readoptions_t *ro;
  stream_t streams[MSGSTORE_STREAMS_MAX];
  size_t stream_count;
  size_t limit;           /* entries wanted (the page) */
  size_t entries_cap;     /* res->entries allocated (grown as matches come: most queries find a few) */
  uint64_t keys_read;
  uint64_t sets_read;
} query_ctx_t;

static void stream_settle(query_ctx_t *qc, stream_t *st) {
  st->valid = false;
  if (st->items) {
    if (st->item_pos < st->item_count)
      st->valid = true, st->head = st->items[st->item_pos], st->head_len = st->item_lens[st->item_pos];
    return;
  }
  if (!leveldb_iter_valid(st->it)) return;
  size_t key_len;
  const uint8_t *key = (const uint8_t *)leveldb_iter_key(st->it, &key_len);
  if (qc->q->descending) {
    if (cmp_bytes(key, key_len, st->lo, st->lo_len) < 0) return;
  } else if (st->has_hi && cmp_bytes(key, key_len, st->hi, st->hi_len) >= 0) {
    return;
  }
  if (key_len <= st->prefix_len || memcmp(key, st->prefix, st->prefix_len) != 0) return;
  qc->keys_read++;
  st->valid = true;
  st->head = key + st->prefix_len, st->head_len = key_len - st->prefix_len;
}

static void stream_start(query_ctx_t *qc, stream_t *st) {
  st->it = leveldb_create_iterator(qc->s->db, qc->ro);
  if (qc->q->descending) {
    if (st->has_hi) {
      leveldb_iter_seek(st->it, (const char *)st->hi, st->hi_len);
      if (leveldb_iter_valid(st->it)) leveldb_iter_prev(st->it);
      else leveldb_iter_seek_to_last(st->it);
    } else {
      leveldb_iter_seek_to_last(st->it);
    }
  } else {
    leveldb_iter_seek(st->it, (const char *)st->lo, st->lo_len);
  }
  stream_settle(qc, st);
}

static void stream_advance(query_ctx_t *qc, stream_t *st) {
  if (st->items) {
    st->item_pos++;
    stream_settle(qc, st);
    return;
  }
  if (qc->q->descending) leveldb_iter_prev(st->it);
  else leveldb_iter_next(st->it);
  stream_settle(qc, st);
}

/* The key range [lo, hi) of the keys prefix + enc(value) ... whose value
 * satisfies sc (EQ, PREFIX or RANGE; NULL: every key under prefix).  lo and
 * hi have cap bytes.  0 or -ENAMETOOLONG. */
static int bounds(const uint8_t *prefix, size_t prefix_len, const msgstore_condition_t *sc, uint8_t *lo,
                  size_t *lo_len, uint8_t *hi, size_t *hi_len, bool *has_hi, size_t cap) {
  int rc = 0;
  memcpy(lo, prefix, prefix_len), *lo_len = prefix_len;
  memcpy(hi, prefix, prefix_len);
  *hi_len = successor(hi, prefix_len), *has_hi = *hi_len > 0;
  if (sc && sc->op == MSGSTORE_EQ) {
    rc = msgstore_key_value_(lo, lo_len, cap, &sc->value);
    memcpy(hi, lo, *lo_len);
    *hi_len = successor(hi, *lo_len), *has_hi = *hi_len > 0;
  } else if (sc && sc->op == MSGSTORE_PREFIX) {
    lo[(*lo_len)++] = MSGSTORE_STRING;
    rc = key_escaped(lo, lo_len, cap, sc->value.string, sc->value.string_len);
    memcpy(hi, lo, *lo_len);
    *hi_len = successor(hi, *lo_len), *has_hi = *hi_len > 0;
  } else if (sc && sc->op == MSGSTORE_RANGE) {
    msgstore_kind_t kind = sc->has_lower ? sc->lower.kind : sc->upper.kind;
    if (sc->has_lower && sc->has_upper && sc->lower.kind != sc->upper.kind) {
      *hi_len = *lo_len, *has_hi = true;   /* empty */
      return 0;
    }
    if (sc->has_lower) {
      rc = msgstore_key_value_(lo, lo_len, cap, &sc->lower);
      if (!rc && !sc->lower_inclusive) *lo_len = successor(lo, *lo_len);
    } else {
      lo[(*lo_len)++] = (uint8_t)kind;
    }
    *hi_len = prefix_len, *has_hi = true;
    if (!rc && sc->has_upper) {
      rc = msgstore_key_value_(hi, hi_len, cap, &sc->upper);
      if (!rc && sc->upper_inclusive) *hi_len = successor(hi, *hi_len);
    } else if (!rc) {
      hi[(*hi_len)++] = (uint8_t)(kind + 1);
    }
  }
  return rc;
}

/* Narrows [lo, hi) under prefix to the positions strictly after (ascending) /
 * before (descending) the query's cursor.  0 or -ENAMETOOLONG. */
static int cursor_bounds(const query_ctx_t *qc, const uint8_t *prefix, size_t prefix_len, uint8_t *lo,
                         size_t *lo_len, uint8_t *hi, size_t *hi_len, bool *has_hi) {
  const msgstore_cursor_t *c = qc->q->cursor;
  if (!c) return 0;
  uint8_t tmp[MSGSTORE_KEY_BYTES_MAX];
  size_t tmp_len = prefix_len;
  memcpy(tmp, prefix, prefix_len);
  int rc = msgstore_key_value_(tmp, &tmp_len, sizeof tmp, &c->value);
  if (!rc) rc = msgstore_key_string_(tmp, &tmp_len, sizeof tmp - 1, c->message_cid, strlen(c->message_cid));
  if (rc) return rc;
  if (qc->q->descending) {
    if (!*has_hi || cmp_bytes(tmp, tmp_len, hi, *hi_len) < 0) memcpy(hi, tmp, tmp_len), *hi_len = tmp_len, *has_hi = true;
  } else {
    tmp[tmp_len++] = 0;   /* the least key greater than the cursor's */
    if (cmp_bytes(tmp, tmp_len, lo, *lo_len) > 0) memcpy(lo, tmp, tmp_len), *lo_len = tmp_len;
  }
  return 0;
}

static stream_t *stream_new(query_ctx_t *qc, const uint8_t *prefix, size_t prefix_len) {
  if (qc->stream_count >= MSGSTORE_STREAMS_MAX) return NULL;
  size_t cap = MSGSTORE_KEY_BYTES_MAX;
  uint8_t *mem = malloc(3 * cap);
  if (!mem) return NULL;
  stream_t *st = &qc->streams[qc->stream_count++];
  memset(st, 0, sizeof *st);
  st->prefix = mem, st->lo = mem + cap, st->hi = mem + 2 * cap;
  memcpy(st->prefix, prefix, prefix_len), st->prefix_len = prefix_len;
  return st;
}

/* Adds a stream over prefix (its remainders), bounded by the sort condition
 * sc on the sort property (may be NULL) and the query's cursor. */
static int stream_add(query_ctx_t *qc, const uint8_t *prefix, size_t prefix_len, const msgstore_condition_t *sc) {
  stream_t *st = stream_new(qc, prefix, prefix_len);
  if (!st) return -ENOMEM;
  int rc = bounds(prefix, prefix_len, sc, st->lo, &st->lo_len, st->hi, &st->hi_len, &st->has_hi, MSGSTORE_KEY_BYTES_MAX);
  if (!rc) rc = cursor_bounds(qc, prefix, prefix_len, st->lo, &st->lo_len, st->hi, &st->hi_len, &st->has_hi);
  if (rc) return err_set(-EINVAL, "filter or cursor value too long for a key");
  stream_start(qc, st);
  return 0;
}

/* The condition on the sort property that bounds the scans (NULL: none). */
static const msgstore_condition_t *sort_condition(const msgstore_filter_t *f, const char *sort) {
  for (size_t i = 0; i < f->count; i++) {
    const msgstore_condition_t *c = &f->conditions[i];
    if (strcmp(c->property, sort) == 0 && c->op != MSGSTORE_ONE_OF) return c;
  }
  return NULL;
}

static int candidate(query_ctx_t *qc, const uint8_t *rem, size_t rem_len, msgstore_result_t *res, size_t cap,
                     bool count_only);

/* Plan 2: a range or prefix condition c on scan property P (not the sort
 * property).  Its composite keys are ordered by P's value, not by the sort
 * value, so the range is read whole, keeping only the best limit+1 matches
 * after the cursor (memory bounded by the page, not by the matches). */
static int materialize(query_ctx_t *qc, const msgstore_filter_t *f, const msgstore_condition_t *c) {
  uint8_t prefix[MSGSTORE_KEY_BYTES_MAX];
  size_t prefix_len;
  int rc = key_sort_prefix(prefix, &prefix_len, qc->tid, qc->sort, c->property, strlen(c->property));
  if (rc) return err_set(-EINVAL, "filter property too long");
  stream_t *st = stream_new(qc, prefix, prefix_len);
  if (!st) return -ENOMEM;
  size_t keep = qc->limit + 1;
  st->items = calloc(keep + 1, sizeof *st->items);
  st->item_lens = calloc(keep + 1, sizeof *st->item_lens);
  /* sort-value bounds, as remainders (no prefix) */
  uint8_t *slo = malloc(2 * MSGSTORE_KEY_BYTES_MAX);
  if (!st->items || !st->item_lens || !slo) {
    free(slo);
    return -ENOMEM;
  }
  uint8_t *shi = slo + MSGSTORE_KEY_BYTES_MAX;
  size_t slo_len, shi_len;
  bool has_shi;
  rc = bounds(prefix, 0, sort_condition(f, qc->sort), slo, &slo_len, shi, &shi_len, &has_shi, MSGSTORE_KEY_BYTES_MAX);
  if (!rc) rc = cursor_bounds(qc, prefix, 0, slo, &slo_len, shi, &shi_len, &has_shi);
  if (!rc) rc = bounds(prefix, prefix_len, c, st->lo, &st->lo_len, st->hi, &st->hi_len, &st->has_hi, MSGSTORE_KEY_BYTES_MAX);
  if (rc) {
    free(slo);
    return err_set(-EINVAL, "filter or cursor value too long for a key");
  }
  bool desc = qc->q->descending;
  st->it = leveldb_create_iterator(qc->s->db, qc->ro);
  /* Bounded by the keys in the value range. */
  for (leveldb_iter_seek(st->it, (const char *)st->lo, st->lo_len); leveldb_iter_valid(st->it);
       leveldb_iter_next(st->it)) {
    size_t key_len;
    const uint8_t *key = (const uint8_t *)leveldb_iter_key(st->it, &key_len);
    if (st->has_hi && cmp_bytes(key, key_len, st->hi, st->hi_len) >= 0) break;
    if (key_len <= prefix_len || memcmp(key, prefix, prefix_len) != 0) break;
    qc->keys_read++;
    size_t value_len = encoded_value_len(key + prefix_len, key_len - prefix_len);
    if (value_len == 0 || prefix_len + value_len >= key_len) {
      rc = err_set(-EIO, "index key malformed");
      break;
    }
    const uint8_t *r = key + prefix_len + value_len;
    size_t r_len = key_len - prefix_len - value_len;
    if (cmp_bytes(r, r_len, slo, slo_len) < 0 || (has_shi && cmp_bytes(r, r_len, shi, shi_len) >= 0)) continue;
    /* where it would go among the kept ones (binary search in output order) */
    size_t a = 0, b = st->item_count;
    bool dup = false;
    while (a < b) {
      size_t mid = (a + b) / 2;
      int k = cmp_bytes(st->items[mid], st->item_lens[mid], r, r_len);
      if (desc) k = -k;
      if (k == 0) {
        dup = true;
        break;
      }
      if (k < 0) a = mid + 1;
      else b = mid;
    }
    if (dup || a >= keep) continue;
    msgstore_result_t scratch = {0};
    int match = candidate(qc, r, r_len, &scratch, 0, true);
    if (match < 0) {
      rc = match;
      break;
    }
    if (match == 0) continue;
    uint8_t *copy = malloc(r_len);
    if (!copy) {
      rc = -ENOMEM;
      break;
    }
    memcpy(copy, r, r_len);
    if (st->item_count == keep) free(st->items[--st->item_count]);   /* the worst goes */
    memmove(st->items + a + 1, st->items + a, (st->item_count - a) * sizeof *st->items);
    memmove(st->item_lens + a + 1, st->item_lens + a, (st->item_count - a) * sizeof *st->item_lens);
    st->items[a] = copy, st->item_lens[a] = r_len, st->item_count++;
  }
  free(slo);
  char *error = NULL;
  leveldb_iter_get_error(st->it, &error);
  if (error && rc >= 0) rc = db_error(-EIO, "iterate", error);
  else leveldb_free(error);
  leveldb_iter_destroy(st->it);
  st->it = NULL;
  if (rc < 0) return rc;
  stream_settle(qc, st);
  return 0;
}

/* The streams of one filter: 1 added, 0 needs the sort index (no scan condition). */
static int plan_filter(query_ctx_t *qc, const msgstore_filter_t *f) {
  const msgstore_condition_t *best = NULL;
  size_t best_rank = SIZE_MAX;
  for (size_t i = 0; i < f->count; i++) {
    const msgstore_condition_t *c = &f->conditions[i];
    if (c->op != MSGSTORE_EQ && c->op != MSGSTORE_ONE_OF) continue;
    size_t rank = scan_rank(qc->s, c->property, strlen(c->property));
    if (rank < best_rank) best = c, best_rank = rank;
  }
  if (!best) {
    if (qc->stream_count + 1 > MSGSTORE_STREAMS_MAX) return 0;
    for (size_t i = 0; i < f->count; i++) {
      const msgstore_condition_t *c = &f->conditions[i];
      if ((c->op != MSGSTORE_RANGE && c->op != MSGSTORE_PREFIX) || strcmp(c->property, qc->sort) == 0) continue;
      size_t rank = scan_rank(qc->s, c->property, strlen(c->property));
      if (rank < best_rank) best = c, best_rank = rank;
    }
    if (best) {
      int rc = materialize(qc, f, best);
      return rc < 0 ? rc : 1;
    }
    /* plan 3 for this filter: the sort index within its sort-value bounds */
    const msgstore_condition_t *sc = sort_condition(f, qc->sort);
    if (!sc) return 0;
    uint8_t prefix[MSGSTORE_KEY_BYTES_MAX];
    size_t len;
    int rc = key_sort_prefix(prefix, &len, qc->tid, qc->sort, "", 0);
    if (!rc) rc = stream_add(qc, prefix, len, sc);
    return rc < 0 ? rc : 1;
  }
  size_t values = best->op == MSGSTORE_EQ ? 1 : best->value_count;
  if (qc->stream_count + values > MSGSTORE_STREAMS_MAX) return 0;
  const msgstore_condition_t *sc = sort_condition(f, qc->sort);
  for (size_t i = 0; i < values; i++) {
    const msgstore_value_t *v = best->op == MSGSTORE_EQ ? &best->value : &best->values[i];
    uint8_t prefix[MSGSTORE_KEY_BYTES_MAX];
    size_t len;
    int rc = key_sort_prefix(prefix, &len, qc->tid, qc->sort, best->property, strlen(best->property));
    if (!rc) rc = msgstore_key_value_(prefix, &len, sizeof prefix, v);
    if (rc) return err_set(-EINVAL, "filter value too long for a key");
    if ((rc = stream_add(qc, prefix, len, sc))) return rc;
  }
  return 1;
}

static void streams_close(query_ctx_t *qc) {
  for (size_t i = 0; i < qc->stream_count; i++) {
    stream_t *st = &qc->streams[i];
    if (st->it) leveldb_iter_destroy(st->it);
    for (size_t k = 0; k < st->item_count; k++) free(st->items[k]);
    free(st->items);
    free(st->item_lens);
    free(st->prefix);
  }
  qc->stream_count = 0;
}

void msgstore_result_free(msgstore_result_t *res) {
  if (!res) return;
  for (size_t i = 0; i < res->count; i++) {
    free(res->entries[i].message_cid);
    free(res->entries[i].message);
    msgstore_indexes_free(&res->entries[i].indexes);
  }
  free(res->entries);
  memset(res, 0, sizeof *res);
}

/* Checks one candidate (remainder rem) and appends it to res when it matches:
 * 1 appended, 0 not a match, negative errno. */
static int candidate(query_ctx_t *qc, const uint8_t *rem, size_t rem_len, msgstore_result_t *res, size_t cap,
                     bool count_only) {
  size_t sv_len = encoded_value_len(rem, rem_len);
  if (sv_len == 0 || sv_len >= rem_len) return err_set(-EIO, "index key malformed");
  char cid[MSGSTORE_CID_BYTES_MAX + 1];
  if (unescape(rem + sv_len, rem_len - sv_len, cid, sizeof cid) == SIZE_MAX)
    return err_set(-EIO, "index key malformed");
  uint8_t key[MSGSTORE_KEY_BYTES_MAX];
  size_t key_len;
  int rc = key_message(key, &key_len, 'I', qc->tid, cid);
  if (rc) return rc;
  char *value;
  size_t value_len;
  if ((rc = db_get(qc->s, qc->ro, key, key_len, &value, &value_len)) != 1)
    return rc < 0 ? rc : err_set(-EIO, "index key without its message");
  qc->sets_read++;
  msgstore_indexes_t ix;
  rc = msgstore_indexes_view_(&ix, (const uint8_t *)value, value_len);
  if (rc) {
    leveldb_free(value);
    return err_set(-EIO, "stored index set malformed");
  }
  if (!msgstore_match(&ix, qc->q->filters, qc->q->filter_count)) {
    leveldb_free(value);
    return 0;
  }
  if (count_only) {
    leveldb_free(value);
    return 1;
  }
  assert(res->count < cap);
  if (res->count == qc->entries_cap) {
    size_t grown = qc->entries_cap * 2 < cap ? qc->entries_cap * 2 : cap;
    msgstore_entry_t *more = realloc(res->entries, grown * sizeof *more);
    if (!more) {
      leveldb_free(value);
      return -ENOMEM;
    }
    res->entries = more, qc->entries_cap = grown;
  }
  msgstore_entry_t *e = &res->entries[res->count];
  memset(e, 0, sizeof *e);
  size_t cid_len = strlen(cid);
  rc = indexes_copy(&e->indexes, (const uint8_t *)value, value_len);
  leveldb_free(value);
  if (rc) return rc;
  e->message_cid = malloc(cid_len + 1);
  if (!e->message_cid) {
    msgstore_indexes_free(&e->indexes);
    return -ENOMEM;
  }
  memcpy(e->message_cid, cid, cid_len + 1);
  res->count++;
  msgstore_indexes_find(&e->indexes, qc->sort, 0, &e->sort_value);
  if (qc->q->want_messages) {
    key[0] = 'M';
    if ((rc = db_get(qc->s, qc->ro, key, key_len, &value, &value_len)) != 1)
      return rc < 0 ? rc : err_set(-EIO, "index set without its message");
    e->message = malloc(value_len ? value_len : 1);
    if (!e->message) {
      leveldb_free(value);
      return -ENOMEM;
    }
    if (value_len) memcpy(e->message, value, value_len);
    e->message_len = value_len;
    leveldb_free(value);
  }
  return 1;
}

/* Pops the least (descending: greatest) head into last; every stream at it
 * moves on, so a message reached by several streams comes once.  false at
 * the end. */
static bool next_head(query_ctx_t *qc, uint8_t *last, size_t *last_len) {
  const uint8_t *head = NULL;
  size_t head_len = 0;
  for (size_t i = 0; i < qc->stream_count; i++) {
    stream_t *st = &qc->streams[i];
    if (!st->valid) continue;
    int c = head ? cmp_bytes(st->head, st->head_len, head, head_len) : 0;
    if (!head || (qc->q->descending ? c > 0 : c < 0)) head = st->head, head_len = st->head_len;
  }
  if (!head) return false;
  assert(head_len <= MSGSTORE_KEY_BYTES_MAX);
  memcpy(last, head, head_len);
  *last_len = head_len;
  for (size_t i = 0; i < qc->stream_count; i++) {
    stream_t *st = &qc->streams[i];
    while (st->valid && cmp_bytes(st->head, st->head_len, last, *last_len) == 0) stream_advance(qc, st);
  }
  return true;
}

static int query_run(query_ctx_t *qc, msgstore_result_t *res, size_t limit) {
  const msgstore_query_t *q = qc->q;
  int rc = 0;
  bool full = q->filter_count == 0;
  for (size_t i = 0; !full && i < q->filter_count; i++) {
    rc = plan_filter(qc, &q->filters[i]);
    if (rc < 0) return rc;
    if (rc == 0) full = true;
  }
  if (full) {
    streams_close(qc);
    uint8_t prefix[MSGSTORE_KEY_BYTES_MAX];
    size_t len;
    if ((rc = key_sort_prefix(prefix, &len, qc->tid, qc->sort, "", 0))) return rc;
    const msgstore_condition_t *sc = q->filter_count == 1 ? sort_condition(&q->filters[0], qc->sort) : NULL;
    if ((rc = stream_add(qc, prefix, len, sc))) return rc;
  }
  qc->entries_cap = limit < 16 ? limit : 16;
  res->entries = calloc(qc->entries_cap, sizeof *res->entries);
  if (!res->entries) return -ENOMEM;
  uint8_t last[MSGSTORE_KEY_BYTES_MAX];
  size_t last_len;
  /* Bounded by the keys of the streams' ranges. */
  while (next_head(qc, last, &last_len)) {
    bool full_page = res->count == limit;
    rc = candidate(qc, last, last_len, res, limit, full_page);
    if (rc < 0) return rc;
    if (rc == 1 && full_page) {
      res->has_more = true;
      break;
    }
  }
  return 0;
}

int msgstore_query(msgstore_t *s, const char *tenant, const msgstore_query_t *q, msgstore_result_t *res) {
  memset(res, 0, sizeof *res);
  if (!q->sort_property || sort_index(s, q->sort_property) == SIZE_MAX)
    return err_set(-EINVAL, "sort property %s is not indexed", q->sort_property ? q->sort_property : "(none)");
  int rc = msgstore_filters_check_(q->filters, q->filter_count);
  if (rc) return rc;
  if (q->cursor) {
    if (cid_check(q->cursor->message_cid, "cursor messageCid") ||
        (q->cursor->value.kind != MSGSTORE_STRING && q->cursor->value.kind != MSGSTORE_NUMBER) ||
        value_check(&q->cursor->value))
      return err_set(-EINVAL, "cursor invalid");
  }
  size_t limit = q->limit == 0 || q->limit > MSGSTORE_RESULTS_MAX ? MSGSTORE_RESULTS_MAX : q->limit;
  uint32_t tid;
  rc = msgstore_tenant_id_(s, tenant, false, &tid);
  if (rc == -ENOENT) return 0;
  if (rc) return rc;
  query_ctx_t *qc = calloc(1, sizeof *qc);
  if (!qc) return -ENOMEM;
  qc->s = s, qc->q = q, qc->tid = tid, qc->sort = q->sort_property, qc->limit = limit;
  const leveldb_snapshot_t *snap = leveldb_create_snapshot(s->db);
  qc->ro = leveldb_readoptions_create();
  leveldb_readoptions_set_snapshot(qc->ro, snap);
  rc = query_run(qc, res, limit);
  for (size_t i = 0; i < qc->stream_count; i++) {
    char *error = NULL;
    if (!qc->streams[i].it) continue;
    leveldb_iter_get_error(qc->streams[i].it, &error);
    if (error && !rc) rc = db_error(-EIO, "iterate", error);
    else leveldb_free(error);
  }
  res->keys_read = qc->keys_read;
  res->sets_read = qc->sets_read;
  streams_close(qc);
  leveldb_readoptions_destroy(qc->ro);
  leveldb_release_snapshot(s->db, snap);
  free(qc);
  if (!rc && res->has_more) {
    msgstore_entry_t *e = &res->entries[res->count - 1];
    res->cursor.message_cid = e->message_cid;
    res->cursor.value = e->sort_value;
  }
  if (rc) msgstore_result_free(res);
  return rc;
}
