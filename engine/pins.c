/*
 * pins: the pin set in LevelDB, and the DAG walks over it (see pins.h).
 *
 * Database layout (<repo>/pins/):
 *
 *   'P' varint(codec) multihash -> u8 record version (1), u8 type, u8 CID
 *                                  version, u8 name length, u64 created_ms,
 *                                  u64 expire_ms, name bytes (little-endian)
 *   "Mformat"                   -> u32 PINS_FORMAT_VERSION
 *
 * One walker serves every DAG traversal (add's presence check, indirect
 * listing, GC reachability, verify).  It keeps an explicit stack of binary
 * CIDs, each followed by its depth (u16) and length (u8) so the top entry can
 * be popped from the end, and a visited set keyed by multihash, so shared
 * subtrees are walked once and the stack never holds a child already seen.
 */
#include "pins.h"

#include <assert.h>
#include <errno.h>
#include <leveldb/c.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "links.h"
#include "mhset.h"
#include "err.h"
#include "storage_metrics.h"
#include "varint.h"

#define PIN_RECORD_VERSION 1
#define PIN_VALUE_FIXED_BYTES 20           /* the value before the name */
#define PIN_KEY_BYTES_MAX (1 + VARINT_BYTES_MAX + MH_BYTES_MAX)
#define PINS_STACK_BYTES_MAX (256u << 20)  /* bound on a walk's stack */
#define PINS_DURATION_MS_MAX (10ull * 366 * 24 * 3600 * 1000)

static const char pins_key_format[] = "Mformat";

struct pins {
  leveldb_t *db;
  leveldb_options_t *db_options;
  leveldb_readoptions_t *db_read;
  leveldb_writeoptions_t *db_write;
  pins_blocks_t blocks;
  pthread_mutex_t write_lock;      /* serialises add, rm, update, expire */
  uint64_t (*now_ms)(void *ctx);   /* wall clock (tests replace it) */
  void *now_ctx;
};

/* ---- small helpers -------------------------------------------------------- */

static uint64_t wall_now_ms(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *cid_text(const cid_t *c, char out[CID_TEXT_BYTES_MAX]) {
  if (cid_format_default(c, out)) snprintf(out, CID_TEXT_BYTES_MAX, "(unprintable CID)");
  return out;
}

static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

const char *pins_type_name(pin_type_t type) {
  switch (type) {
  case PIN_DIRECT: return "direct";
  case PIN_RECURSIVE: return "recursive";
  case PIN_INDIRECT: return "indirect";
  case PIN_ALL: return "all";
  }
  return "unknown";
}

int pins_type_from_name(const char *name, pin_type_t *out) {
  static const pin_type_t types[] = {PIN_DIRECT, PIN_RECURSIVE, PIN_INDIRECT, PIN_ALL};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (strcmp(name, pins_type_name(types[i])) == 0) { *out = types[i]; return 0; }
  return err_set(-EINVAL, "unknown pin type '%s' (direct, recursive, indirect or all)", name);
}

int pins_parse_duration(const char *text, uint64_t *out_ms) {
  static const struct { const char *unit; uint64_t ms; } units[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"w", 604800000},
  };
  const char *p = text;
  uint64_t value = 0;
  if (*p < '0' || *p > '9') return err_set(-EINVAL, "bad duration '%s' (e.g. 30s, 5m, 48h, 7d)", text);
  for (; *p >= '0' && *p <= '9'; p++) {
    if (value > PINS_DURATION_MS_MAX) return err_set(-EINVAL, "duration '%s' is too long", text);
    value = value * 10 + (uint64_t)(*p - '0');
  }
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp(p, units[i].unit) != 0) continue;
    if (value > PINS_DURATION_MS_MAX / units[i].ms)
      return err_set(-EINVAL, "duration '%s' is too long (at most ten years)", text);
    *out_ms = value * units[i].ms;
    return 0;
  }
  return err_set(-EINVAL, "bad duration '%s': the unit must be ms, s, m, h, d or w", text);
}

/* ---- the walker ----------------------------------------------------------- */

enum walk_mode {
  WALK_CHECK,   /* pins_add: every block present; the first missing one fails */
  WALK_REACH,   /* GC and indirect listing: read only blocks with links */
  WALK_VERIFY,  /* read and hash everything; report problems, go on */
};

typedef struct walk {
  const pins_blocks_t *blocks;
  enum walk_mode mode;
  mhset_t seen;              /* visited multihashes */
  buf_t stack;               /* entries: CID bytes, u16 depth, u8 CID length */
  buf_t data;                /* the current block */
  buf_t links;               /* the current block's links (cid_t array) */
  /* Told of every block newly seen (identity CIDs included: the callback
   * decides); non-zero stops the walk. */
  int (*visit)(void *ctx, const cid_t *cid, bool is_root);
  void *visit_ctx;
  /* WALK_VERIFY: problems. */
  pins_problem_fn problem;
  void *problem_ctx;
  uint64_t problems;
  uint64_t blocks_checked;
} walk_t;

static void walk_free(walk_t *w) {
  buf_free(&w->stack);
  buf_free(&w->data);
  buf_free(&w->links);
}

static int walk_push(walk_t *w, const cid_t *cid, unsigned depth) {
  uint8_t bytes[CID_BYTES_MAX + 3];
  size_t n = cid_to_bytes(cid, bytes);
  assert(n > 0 && n <= UINT8_MAX);
  if (w->stack.len + n + 3 > PINS_STACK_BYTES_MAX)
    return err_set(-ENOMEM, "DAG walk: more than %u MiB of pending links", PINS_STACK_BYTES_MAX >> 20);
  bytes[n] = (uint8_t)depth;
  bytes[n + 1] = (uint8_t)(depth >> 8);
  bytes[n + 2] = (uint8_t)n;
  return buf_append(&w->stack, bytes, n + 3) ? -ENOMEM : 0;
}

static void walk_pop(walk_t *w, cid_t *cid, unsigned *depth) {
  const uint8_t *top = w->stack.data + w->stack.len;
  size_t n = top[-1];
  assert(w->stack.len >= n + 3);
  *depth = (unsigned)top[-3] | (unsigned)top[-2] << 8;
  int used = cid_from_bytes(cid, top - 3 - n, n);
  assert(used == (int)n);
  (void)used;
  w->stack.len -= n + 3;
}

static void report(walk_t *w, const cid_t *block, const cid_t *root, int error, const char *what) {
  char b[CID_TEXT_BYTES_MAX], r[CID_TEXT_BYTES_MAX], line[2 * CID_TEXT_BYTES_MAX + 128];
  if (cid_equal(block, root)) snprintf(line, sizeof line, "%s %s (pinned)", what, cid_text(block, b));
  else snprintf(line, sizeof line, "%s %s (under pin %s)", what, cid_text(block, b), cid_text(root, r));
  w->problems++;
  if (w->problem) w->problem(w->problem_ctx, block, root, error, line);
}

static int missing_error(const cid_t *cid, const cid_t *root) {
  char t[CID_TEXT_BYTES_MAX], rt[CID_TEXT_BYTES_MAX];
  if (cid_equal(cid, root)) return err_set(-ENOENT, "block %s is missing", cid_text(cid, t));
  return err_set(-ENOENT, "block %s is missing (under %s)", cid_text(cid, t), cid_text(root, rt));
}

/* Handles one block: presence, reading, hashing as the mode requires; its
 * links (unseen ones) are pushed when `descend`.  0, or an error that stops. */
static int walk_block(walk_t *w, const cid_t *cid, const cid_t *root, unsigned depth, bool descend) {
  char t[CID_TEXT_BYTES_MAX], rt[CID_TEXT_BYTES_MAX];
  bool identity = cid->hash.code == MH_IDENTITY;
  bool need_read = identity || w->mode == WALK_VERIFY || (descend && links_codec_may_link(cid->codec));
  if (!need_read) {
    if (w->mode != WALK_CHECK) return 0;
    int rc;
    if (w->blocks->has) {
      rc = w->blocks->has(w->blocks->has_ctx, cid);
      if (rc == 1) return 0;
      if (rc == 0) rc = -ENOENT;
    } else {
      rc = w->blocks->source.get(w->blocks->source.ctx, cid, &w->data);
      if (rc == 0) return 0;
    }
    if (rc == -ENOENT) return missing_error(cid, root);
    return err_set(rc, "block %s: %s", cid_text(cid, t), err_msg(rc));
  }
  int rc = w->blocks->source.get(w->blocks->source.ctx, cid, &w->data);
  if (w->mode == WALK_VERIFY) {
    if (!identity) w->blocks_checked++;
    if (rc == -ENOENT) { report(w, cid, root, rc, "missing"); return 0; }
    if (rc == -EBADMSG || rc == -EIO) { report(w, cid, root, rc, "corrupt"); return 0; }
    if (rc) return rc;
    if (!identity && mh_verify(&cid->hash, w->data.data, w->data.len) == 0) {
      report(w, cid, root, -EBADMSG, "corrupt");
      return 0;
    }
  } else if (rc == -ENOENT) {
    return missing_error(cid, root);
  } else if (rc) {
    return err_set(rc, "block %s (under %s): %s", cid_text(cid, t), cid_text(root, rt), err_msg(rc));
  }
  if (!descend) return 0;
  rc = links_of(cid, w->data.data, w->data.len, &w->links);
  if (rc == -EINVAL) {
    if (w->mode == WALK_VERIFY) { report(w, cid, root, rc, "undecodable"); return 0; }
    return err_set(rc, "block %s (under %s) is not valid %s", cid_text(cid, t), cid_text(root, rt),
                   cid_codec_name(cid->codec));
  }
  if (rc) return rc;
  size_t links_len = w->links.len / sizeof(cid_t);
  if (links_len > 0 && depth + 1 > PINS_DEPTH_MAX)
    return err_set(-ELOOP, "DAG %s is deeper than %d links", cid_text(root, rt), PINS_DEPTH_MAX);
  const cid_t *links = (const cid_t *)w->links.data;
  for (size_t i = links_len; i-- > 0;) { /* reversed: the first link is walked first */
    uint8_t mh[MH_BYTES_MAX];
    size_t mh_len = cid_mh_bytes(&links[i], mh);
    if (mhset_has(&w->seen, mh, mh_len)) continue;
    rc = walk_push(w, &links[i], depth + 1);
    if (rc) return rc;
  }
  return 0;
}

/* Walks the DAG under root (just root when !recursive). */
static int walk_dag(walk_t *w, const cid_t *root, bool recursive) {
  int rc = walk_push(w, root, 0);
  while (!rc && w->stack.len > 0) {
    cid_t cid;
    unsigned depth;
    walk_pop(w, &cid, &depth);
    uint8_t mh[MH_BYTES_MAX];
    size_t mh_len = cid_mh_bytes(&cid, mh);
    rc = mhset_add(&w->seen, mh, mh_len);
    if (rc == 0) continue; /* reached twice before being walked */
    if (rc < 0) break;
    rc = w->visit ? w->visit(w->visit_ctx, &cid, depth == 0) : 0;
    if (!rc) rc = walk_block(w, &cid, root, depth, recursive);
  }
  w->stack.len = 0;
  return rc;
}

/* ---- the database ----------------------------------------------------------- */

static int bs_has_block(void *ctx, const cid_t *cid) { return bs_has(ctx, cid, NULL); }

pins_blocks_t pins_blocks_bs(bs_t *bs) {
  return (pins_blocks_t){.source = bs_source(bs), .has = bs_has_block, .has_ctx = bs};
}

static size_t pin_key(const cid_t *cid, uint8_t key[PIN_KEY_BYTES_MAX]) {
  key[0] = 'P';
  size_t n = 1 + varint_encode(cid->codec, key + 1);
  return n + cid_mh_bytes(cid, key + n);
}

static size_t pin_value(const pin_info_t *pin, uint8_t out[PIN_VALUE_FIXED_BYTES + PINS_NAME_BYTES_MAX]) {
  size_t name_len = strlen(pin->name);
  assert(name_len <= PINS_NAME_BYTES_MAX);
  out[0] = PIN_RECORD_VERSION;
  out[1] = (uint8_t)pin->type;
  out[2] = (uint8_t)pin->cid.version;
  out[3] = (uint8_t)name_len;
  put_u64(out + 4, pin->created_ms);
  put_u64(out + 12, pin->expire_ms);
  memcpy(out + PIN_VALUE_FIXED_BYTES, pin->name, name_len);
  return PIN_VALUE_FIXED_BYTES + name_len;
}

static int pin_decode(const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len,
                      pin_info_t *out) {
  memset(out, 0, sizeof *out);
  uint64_t codec;
  mh_t mh;
  if (key_len < 2 || key[0] != 'P') return -EINVAL;
  int n = varint_decode(key + 1, key_len - 1, &codec);
  if (n < 0) return -EINVAL;
  int m = mh_decode(key + 1 + n, key_len - 1 - (size_t)n, &mh);
  if (m < 0 || (size_t)(1 + n + m) != key_len) return -EINVAL;
  if (value_len < PIN_VALUE_FIXED_BYTES || value[0] != PIN_RECORD_VERSION ||
      value_len != PIN_VALUE_FIXED_BYTES + (size_t)value[3] ||
      (value[1] != PIN_DIRECT && value[1] != PIN_RECURSIVE) || value[2] > 1)
    return -EINVAL;
  if (cid_from_mh(&out->cid, value[2], codec, &mh)) return -EINVAL;
  out->type = (pin_type_t)value[1];
  out->created_ms = get_u64(value + 4);
  out->expire_ms = get_u64(value + 12);
  memcpy(out->name, value + PIN_VALUE_FIXED_BYTES, value[3]);
  out->name[value[3]] = '\0';
  return 0;
}

static bool expired(pins_t *p, const pin_info_t *pin, uint64_t now_ms) {
  (void)p;
  return pin->expire_ms != 0 && pin->expire_ms <= now_ms;
}

static int db_error(char *error, const char *what) {
  int rc = err_set(-EIO, "pin database: %s: %s", what, error);
  leveldb_free(error);
  return rc;
}

static int db_write(pins_t *p, leveldb_writebatch_t *batch) {
  char *error = NULL;
  leveldb_write(p->db, p->db_write, batch, &error);
  return error ? db_error(error, "write failed") : 0;
}

/* Sets the anya_pins gauge to the number of unexpired pins (best effort:
 * a failed count leaves the gauge as it was). */
static void publish_count(pins_t *p) {
  const metrics_storage_t *m = metrics_storage();
  uint64_t n;
  if (m && pins_count(p, &n) == 0) metrics_gauge_set(m->pins, (double)n);
}

/* The stored pin of cid, expired or not.  0, -ENOENT, -EIO. */
static int pin_read(pins_t *p, const cid_t *cid, pin_info_t *out) {
  uint8_t key[PIN_KEY_BYTES_MAX];
  size_t key_len = pin_key(cid, key);
  char *error = NULL;
  size_t len = 0;
  char *value = leveldb_get(p->db, p->db_read, (const char *)key, key_len, &len, &error);
  if (error) { leveldb_free(value); return db_error(error, "read failed"); }
  if (!value) return -ENOENT;
  int rc = pin_decode(key, key_len, (const uint8_t *)value, len, out);
  leveldb_free(value);
  if (rc) return err_set(-EIO, "pin database: a corrupt pin record");
  return 0;
}

int pins_open(const char *dir, const pins_blocks_t *blocks, pins_t **out) {
  assert(blocks && blocks->source.get);
  pins_t *p = calloc(1, sizeof *p);
  if (!p) return -ENOMEM;
  p->blocks = *blocks;
  p->now_ms = wall_now_ms;
  pthread_mutex_init(&p->write_lock, NULL);
  p->db_options = leveldb_options_create();
  leveldb_options_set_create_if_missing(p->db_options, 1);
  leveldb_options_set_max_open_files(p->db_options, 16);
  p->db_read = leveldb_readoptions_create();
  p->db_write = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(p->db_write, 1);
  char *error = NULL;
  p->db = leveldb_open(p->db_options, dir, &error);
  int rc = 0;
  if (error) {
    rc = err_set(-EIO, "cannot open the pin database %s: %s", dir, error);
    leveldb_free(error);
  }
  if (!rc) {
    size_t len = 0;
    char *value = leveldb_get(p->db, p->db_read, pins_key_format, strlen(pins_key_format), &len, &error);
    if (error) rc = db_error(error, "read failed");
    else if (value && (len != 4 || (uint8_t)value[0] != PINS_FORMAT_VERSION || value[1] || value[2] || value[3]))
      rc = err_set(-EPROTONOSUPPORT, "pin database %s has an unknown format version", dir);
    else if (!value) {
      uint8_t v[4] = {PINS_FORMAT_VERSION, 0, 0, 0};
      leveldb_put(p->db, p->db_write, pins_key_format, strlen(pins_key_format), (const char *)v, 4, &error);
      if (error) rc = db_error(error, "write failed");
    }
    leveldb_free(value);
  }
  if (rc) { pins_close(p); return rc; }
  publish_count(p);
  *out = p;
  return 0;
}

int pins_close(pins_t *p) {
  if (!p) return 0;
  if (p->db) leveldb_close(p->db);
  leveldb_options_destroy(p->db_options);
  leveldb_readoptions_destroy(p->db_read);
  leveldb_writeoptions_destroy(p->db_write);
  pthread_mutex_destroy(&p->write_lock);
  free(p);
  return 0;
}

void pins_set_clock(pins_t *p, uint64_t (*now_ms)(void *ctx), void *ctx) {
  p->now_ms = now_ms ? now_ms : wall_now_ms;
  p->now_ctx = ctx;
}

/* Checks that the DAG under cid is all present (just the block when !recursive). */
static int check_present(pins_t *p, const cid_t *cid, bool recursive) {
  walk_t w = {.blocks = &p->blocks, .mode = WALK_CHECK};
  int rc = walk_dag(&w, cid, recursive);
  mhset_free(&w.seen);
  walk_free(&w);
  return rc;
}

static int put_pin(pins_t *p, leveldb_writebatch_t *batch, const pin_info_t *pin) {
  uint8_t key[PIN_KEY_BYTES_MAX], value[PIN_VALUE_FIXED_BYTES + PINS_NAME_BYTES_MAX];
  size_t key_len = pin_key(&pin->cid, key), value_len = pin_value(pin, value);
  leveldb_writebatch_put(batch, (const char *)key, key_len, (const char *)value, value_len);
  return 0;
}

static int pin_store(pins_t *p, const cid_t *cid, bool recursive, const char *name,
                     uint64_t expire_ms, bool walk) {
  char t[CID_TEXT_BYTES_MAX];
  if (name && strlen(name) > PINS_NAME_BYTES_MAX)
    return err_set(-EINVAL, "pin name longer than %d bytes", PINS_NAME_BYTES_MAX);
  pthread_mutex_lock(&p->write_lock);
  uint64_t now = p->now_ms(p->now_ctx);
  pin_info_t old, pin;
  int rc = pin_read(p, cid, &old);
  bool exists = rc == 0 && !expired(p, &old, now);
  if (rc == -ENOENT) rc = 0;
  if (!rc && exists && !recursive && old.type == PIN_RECURSIVE)
    rc = err_set(-EEXIST, "%s is already pinned recursively", cid_text(cid, t));
  if (!rc && walk) rc = check_present(p, cid, recursive);
  if (!rc) {
    memset(&pin, 0, sizeof pin);
    pin.cid = *cid;
    pin.type = recursive ? PIN_RECURSIVE : PIN_DIRECT;
    if (name) memcpy(pin.name, name, strlen(name) + 1);
    pin.created_ms = exists && old.type == pin.type ? old.created_ms : now;
    pin.expire_ms = expire_ms;
    leveldb_writebatch_t *batch = leveldb_writebatch_create();
    put_pin(p, batch, &pin);
    rc = db_write(p, batch);
    leveldb_writebatch_destroy(batch);
  }
  if (!rc) publish_count(p); /* under the lock: the gauge follows the writes in order */
  pthread_mutex_unlock(&p->write_lock);
  return rc;
}

int pins_add(pins_t *p, const cid_t *cid, bool recursive, const char *name, uint64_t expire_ms) {
  return pin_store(p, cid, recursive, name, expire_ms, true);
}

int pins_add_written(pins_t *p, const cid_t *cid, const char *name, uint64_t expire_ms) {
  return pin_store(p, cid, true, name, expire_ms, false);
}

int pins_get(pins_t *p, const cid_t *cid, pin_info_t *out) {
  char t[CID_TEXT_BYTES_MAX];
  int rc = pin_read(p, cid, out);
  if (rc == 0 && expired(p, out, p->now_ms(p->now_ctx))) rc = -ENOENT;
  if (rc == -ENOENT) return err_set(rc, "%s is not pinned", cid_text(cid, t));
  return rc;
}

int pins_rm(pins_t *p, const cid_t *cid) {
  pthread_mutex_lock(&p->write_lock);
  pin_info_t pin;
  int rc = pins_get(p, cid, &pin);
  if (!rc) {
    uint8_t key[PIN_KEY_BYTES_MAX];
    size_t key_len = pin_key(cid, key);
    leveldb_writebatch_t *batch = leveldb_writebatch_create();
    leveldb_writebatch_delete(batch, (const char *)key, key_len);
    rc = db_write(p, batch);
    leveldb_writebatch_destroy(batch);
  }
  if (!rc) publish_count(p);
  pthread_mutex_unlock(&p->write_lock);
  return rc;
}

int pins_update(pins_t *p, const cid_t *old_cid, const cid_t *new_cid, bool unpin_old) {
  char t[CID_TEXT_BYTES_MAX];
  pthread_mutex_lock(&p->write_lock);
  pin_info_t old, pin;
  int rc = pins_get(p, old_cid, &old);
  if (!rc && old.type != PIN_RECURSIVE)
    rc = err_set(-EINVAL, "%s is pinned directly; pin update needs a recursive pin", cid_text(old_cid, t));
  if (!rc) rc = check_present(p, new_cid, true);
  if (!rc) {
    pin = old;
    pin.cid = *new_cid;
    pin.created_ms = p->now_ms(p->now_ctx);
    uint8_t old_key[PIN_KEY_BYTES_MAX];
    size_t old_len = pin_key(old_cid, old_key);
    leveldb_writebatch_t *batch = leveldb_writebatch_create();
    if (unpin_old) leveldb_writebatch_delete(batch, (const char *)old_key, old_len);
    put_pin(p, batch, &pin); /* after the delete: old == new keeps the pin */
    rc = db_write(p, batch);
    leveldb_writebatch_destroy(batch);
  }
  if (!rc) publish_count(p);
  pthread_mutex_unlock(&p->write_lock);
  return rc;
}

/* ---- reading the whole set ---------------------------------------------------- */

/* A consistent copy of the stored pins (expired ones dropped unless
 * with_expired), in key order. */
typedef struct pin_list {
  pin_info_t *pins;
  size_t len, cap;
} pin_list_t;

static void pin_list_free(pin_list_t *l) {
  free(l->pins);
  memset(l, 0, sizeof *l);
}

static int pin_list_load(pins_t *p, pin_list_t *l, bool with_expired, uint64_t now) {
  memset(l, 0, sizeof *l);
  const leveldb_snapshot_t *snap = leveldb_create_snapshot(p->db);
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_readoptions_set_snapshot(ro, snap);
  leveldb_readoptions_set_fill_cache(ro, 0);
  leveldb_iterator_t *it = leveldb_create_iterator(p->db, ro);
  int rc = 0;
  for (leveldb_iter_seek(it, "P", 1); leveldb_iter_valid(it); leveldb_iter_next(it)) {
    size_t key_len, value_len;
    const char *key = leveldb_iter_key(it, &key_len);
    if (key_len < 1 || key[0] != 'P') break;
    const char *value = leveldb_iter_value(it, &value_len);
    if (l->len == l->cap) {
      size_t cap = l->cap ? l->cap * 2 : 16;
      pin_info_t *n = realloc(l->pins, cap * sizeof *n);
      if (!n) { rc = -ENOMEM; break; }
      l->pins = n;
      l->cap = cap;
    }
    pin_info_t *pin = &l->pins[l->len];
    if (pin_decode((const uint8_t *)key, key_len, (const uint8_t *)value, value_len, pin)) {
      rc = err_set(-EIO, "pin database: a corrupt pin record");
      break;
    }
    if (with_expired || !expired(p, pin, now)) l->len++;
  }
  char *error = NULL;
  leveldb_iter_get_error(it, &error);
  if (error && !rc) rc = db_error(error, "read failed");
  else if (error) leveldb_free(error);
  leveldb_iter_destroy(it);
  leveldb_readoptions_destroy(ro);
  leveldb_release_snapshot(p->db, snap);
  if (rc) pin_list_free(l);
  return rc;
}

int pins_count(pins_t *p, uint64_t *out) {
  pin_list_t l;
  int rc = pin_list_load(p, &l, false, p->now_ms(p->now_ctx));
  if (!rc) *out = l.len;
  pin_list_free(&l);
  return rc;
}

typedef struct ls_indirect {
  mhset_t skip;         /* recursive roots, and direct pins when listed as such */
  pins_ls_fn fn;
  void *ctx;
  int stop;             /* fn's non-zero result */
} ls_indirect_t;

static int ls_visit(void *ctx, const cid_t *cid, bool is_root) {
  ls_indirect_t *l = ctx;
  if (is_root) return 0;
  uint8_t mh[MH_BYTES_MAX];
  size_t mh_len = cid_mh_bytes(cid, mh);
  if (mhset_has(&l->skip, mh, mh_len)) return 0;
  pin_info_t pin = {.cid = *cid, .type = PIN_INDIRECT};
  l->stop = l->fn(l->ctx, &pin);
  return l->stop;
}

int pins_ls(pins_t *p, unsigned types, pins_ls_fn fn, void *ctx) {
  pin_list_t l;
  int rc = pin_list_load(p, &l, false, p->now_ms(p->now_ctx));
  if (rc) return rc;
  static const pin_type_t order[] = {PIN_RECURSIVE, PIN_DIRECT};
  for (size_t o = 0; o < 2 && !rc; o++) {
    if (!(types & order[o])) continue;
    for (size_t i = 0; i < l.len && !rc; i++)
      if (l.pins[i].type == order[o]) rc = fn(ctx, &l.pins[i]);
  }
  if (!rc && (types & PIN_INDIRECT)) {
    ls_indirect_t li = {.fn = fn, .ctx = ctx};
    walk_t w = {.blocks = &p->blocks, .mode = WALK_REACH, .visit = ls_visit, .visit_ctx = &li};
    for (size_t i = 0; i < l.len && !rc; i++) {
      if (l.pins[i].type == PIN_DIRECT && !(types & PIN_DIRECT)) continue;
      uint8_t mh[MH_BYTES_MAX];
      size_t mh_len = cid_mh_bytes(&l.pins[i].cid, mh);
      if (mhset_add(&li.skip, mh, mh_len) < 0) rc = -ENOMEM;
    }
    for (size_t i = 0; i < l.len && !rc; i++)
      if (l.pins[i].type == PIN_RECURSIVE) rc = walk_dag(&w, &l.pins[i].cid, true);
    if (li.stop) rc = li.stop;
    mhset_free(&li.skip);
    mhset_free(&w.seen);
    walk_free(&w);
  }
  pin_list_free(&l);
  return rc;
}

int pins_expire(pins_t *p, uint64_t *removed, pins_ls_fn fn, void *ctx) {
  pthread_mutex_lock(&p->write_lock);
  uint64_t now = p->now_ms(p->now_ctx), count = 0;
  pin_list_t l;
  int rc = pin_list_load(p, &l, true, now);
  if (!rc) {
    leveldb_writebatch_t *batch = leveldb_writebatch_create();
    for (size_t i = 0; i < l.len; i++) {
      if (!expired(p, &l.pins[i], now)) continue;
      uint8_t key[PIN_KEY_BYTES_MAX];
      size_t key_len = pin_key(&l.pins[i].cid, key);
      leveldb_writebatch_delete(batch, (const char *)key, key_len);
      count++;
    }
    if (count) rc = db_write(p, batch);
    leveldb_writebatch_destroy(batch);
    for (size_t i = 0; i < l.len && !rc && fn; i++)
      if (expired(p, &l.pins[i], now)) fn(ctx, &l.pins[i]);
  }
  pin_list_free(&l);
  if (!rc && count) publish_count(p);
  pthread_mutex_unlock(&p->write_lock);
  if (!rc && removed) *removed = count;
  return rc;
}

int pins_verify(pins_t *p, pins_problem_fn fn, void *ctx, pins_verify_stat_t *st) {
  pin_list_t l;
  int rc = pin_list_load(p, &l, false, p->now_ms(p->now_ctx));
  if (rc) return rc;
  walk_t w = {.blocks = &p->blocks, .mode = WALK_VERIFY, .problem = fn, .problem_ctx = ctx};
  /* Recursive pins first, so a block also pinned directly is checked (and its
   * problems named) under the DAG it belongs to. */
  for (int pass = 0; pass < 2 && !rc; pass++)
    for (size_t i = 0; i < l.len && !rc; i++) {
      bool recursive = l.pins[i].type == PIN_RECURSIVE;
      if (recursive != (pass == 0)) continue;
      rc = walk_dag(&w, &l.pins[i].cid, recursive);
    }
  if (st) {
    st->pins = l.len;
    st->blocks = w.blocks_checked;
  }
  mhset_free(&w.seen);
  walk_free(&w);
  pin_list_free(&l);
  if (rc) return rc;
  return w.problems > INT32_MAX ? INT32_MAX : (int)w.problems;
}

/* ---- reachability ------------------------------------------------------------- */

typedef struct reach {
  pins_reach_fn fn;
  void *ctx;
} reach_t;

static int reach_visit(void *ctx, const cid_t *cid, bool is_root) {
  (void)is_root;
  reach_t *r = ctx;
  if (cid->hash.code == MH_IDENTITY) return 0;
  uint8_t mh[MH_BYTES_MAX];
  size_t mh_len = cid_mh_bytes(cid, mh);
  return r->fn(r->ctx, mh, mh_len);
}

static int reachable(pins_t *p, reach_t *r) {
  pin_list_t l;
  int rc = pin_list_load(p, &l, false, p->now_ms(p->now_ctx));
  if (rc) return rc;
  walk_t w = {.blocks = &p->blocks, .mode = WALK_REACH, .visit = reach_visit, .visit_ctx = r};
  /* Recursive pins first: a direct pin's block must not enter the visited set
   * before a DAG containing it is walked, or its children would be skipped. */
  for (int pass = 0; pass < 2 && !rc; pass++)
    for (size_t i = 0; i < l.len && !rc; i++) {
      bool recursive = l.pins[i].type == PIN_RECURSIVE;
      if (recursive != (pass == 0)) continue;
      rc = walk_dag(&w, &l.pins[i].cid, recursive);
    }
  mhset_free(&w.seen);
  walk_free(&w);
  pin_list_free(&l);
  return rc;
}

int pins_reachable(pins_t *p, pins_reach_fn fn, void *ctx) {
  reach_t r = {.fn = fn, .ctx = ctx};
  return reachable(p, &r);
}

static int add_to_set(void *set, const uint8_t *mh, size_t mh_len) {
  return mhset_add(set, mh, mh_len) < 0 ? -ENOMEM : 0;
}

int pins_reachable_set(pins_t *p, mhset_t *set) { return pins_reachable(p, add_to_set, set); }
