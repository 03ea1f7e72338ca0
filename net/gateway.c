/*
 * gateway: the IPFS HTTP gateway (gateway.h; docs/gateway.md).
 *
 * One function, serve(), answers every request, from the worker handler or
 * from the inline handler on the event loop.  In inline mode the block
 * source has a budget (INLINE_FETCHES_MAX blocks, INLINE_BYTES_MAX bytes)
 * and the answer must be small (a file body up to INLINE_BODY_MAX); when the
 * budget runs out, or the answer is a stream (CAR, directory listing, large
 * file), serve() returns BAIL before anything was sent and the request goes
 * to a worker, which runs serve() again without limits.  So a small file is
 * answered by the loop thread with one block read, and nothing else ever
 * blocks the loop for long.  Files of 64 KiB to 1 MiB are kept whole in a
 * bounded LRU body cache (64 MiB) once a worker has streamed them, so later
 * requests for them are answered on the loop thread too, without reading
 * blocks (a hit costs one index lookup: content removed from the store is a
 * 404 again).
 *
 * Request flow: method (GET/HEAD, else 405) -> Host (subdomain gateway:
 * <cid>.ipfs.<host>, <name>.ipns.<host>) or URL path (/ipfs/<cid>/...,
 * /ipns/<name>/...: the name resolved on a worker by ipns_resolve, then
 * served as the /ipfs/ path it names, with a short max-age instead of
 * "immutable" and X-Ipfs-Path still the /ipns/ path) -> response format (?format= over Accept) -> the path walked
 * segment by segment with exp_resolve (X-Ipfs-Roots gets each segment's CID;
 * the blocks read on the way are recorded: they start a CAR response) ->
 * raw block, CAR stream, file (Range, sniffed type), directory (301 to the
 * slash form, index.html, or a generated listing) or symlink (its target as
 * text).
 *
 * Error bodies are the server's JSON ({"error": "..."}, http_respond_error).
 */
#include "gateway.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "exporter.h"
#include "gateway_int.h"
#include "ipns.h"
#include "log.h"

#define BAIL 1
#define INLINE_FETCHES_MAX 8
#define INLINE_BYTES_MAX (512u * 1024)
#define INLINE_BODY_MAX (64u * 1024)
#define STREAM_CHUNK_BYTES (256u * 1024)
#define LISTING_FLUSH_BYTES (64u * 1024)
#define SRC_CACHE_BLOCK_MAX (256u * 1024)
#define CACHE_CONTROL_IMMUTABLE "public, max-age=29030400, immutable"
#define DIRINDEX_VERSION "anya1"
#define IPNS_TIMEOUT_MS 30000u        /* a name's resolution (DHT lookups) before 504 */
#define CACHE_CONTROL_IPNS "public, max-age=60" /* a name may move: a minute, like a record's TTL */

#define BODY_CACHE_BYTES_MAX (64u << 20)
#define BODY_ENTRY_BYTES_MAX (1u << 20)
#define BODY_CACHE_BUCKETS 1024

struct body_entry;

struct gateway {
  repo_t *repo;
  bs_t *bs;
  pthread_mutex_t body_lock;                          /* guards the body cache */
  struct body_entry *body_table[BODY_CACHE_BUCKETS];  /* hash chains */
  struct body_entry *lru_head, *lru_tail;
  size_t body_bytes;                                  /* bytes of bodies linked */
  size_t body_bytes_max;                              /* the cache's bound (0: no cache) */
  pthread_key_t chunk_key;                            /* a thread's stream buffer */
  ipns_t *ipns;                                       /* /ipns/ names; NULL: 404 */
};

/* ---- the request's block source: budget, recording, a two-block cache ---- */

typedef struct src_slot {
  cid_t cid;
  buf_t data;
  bool valid;
} src_slot_t;

typedef struct gw_src {
  bs_t *bs;
  bool budget;        /* inline mode: limited */
  bool bailed;        /* the budget ran out */
  unsigned fetches;
  size_t bytes;
  bool recording;
  buf_t record;       /* cid_t array of the blocks fetched while recording */
  src_slot_t slot[2];
  unsigned next_slot;
} gw_src_t;

static void src_record(gw_src_t *s, const cid_t *cid) {
  size_t n = s->record.len / sizeof(cid_t);
  const cid_t *have = (const cid_t *)s->record.data;
  for (size_t i = 0; i < n; i++)
    if (cid_equal(&have[i], cid)) return;
  (void)buf_append(&s->record, cid, sizeof *cid);
}

static int src_get(void *ctx, const cid_t *cid, buf_t *out) {
  gw_src_t *s = ctx;
  if (s->recording && cid->hash.code != MH_IDENTITY) src_record(s, cid);
  for (unsigned i = 0; i < 2; i++) {
    src_slot_t *sl = &s->slot[i];
    if (sl->valid && cid_equal(&sl->cid, cid)) {
      buf_reset(out);
      return buf_append(out, sl->data.data, sl->data.len);
    }
  }
  if (s->budget && (s->fetches >= INLINE_FETCHES_MAX || s->bytes > INLINE_BYTES_MAX)) {
    s->bailed = true;
    return err_set(-EAGAIN, "inline budget spent");
  }
  block_source_t src = bs_source(s->bs); /* a miss asks the network (bs_set_fetcher) */
  int rc = src.get(src.ctx, cid, out);
  if (rc) return rc;
  s->fetches++;
  s->bytes += out->len;
  if (out->len <= SRC_CACHE_BLOCK_MAX) {
    src_slot_t *sl = &s->slot[s->next_slot];
    s->next_slot ^= 1;
    buf_reset(&sl->data);
    if (buf_append(&sl->data, out->data, out->len) == 0) {
      sl->cid = *cid;
      sl->valid = true;
    } else {
      sl->valid = false;
    }
  }
  return 0;
}

static void src_free(gw_src_t *s) {
  buf_free(&s->record);
  for (unsigned i = 0; i < 2; i++) buf_free(&s->slot[i].data);
}

/* ---- the request ---- */

typedef struct rq {
  gateway_t *gw;
  http_req_t *req;
  bool head;
  bool inline_mode;
  gw_src_t src;
  block_source_t bsrc;
  const char *query;
  bool subdomain;
  gw_host_t host;
  gw_target_t t;
  buf_t xpath;          /* X-Ipfs-Path */
  buf_t roots;          /* X-Ipfs-Roots */
  cid_t root;
  cid_t terminal;
  char root_text[CID_TEXT_BYTES_MAX];
  gw_format_t format;
  bool format_from_accept;
  gw_car_params_t car;
  char filename[GW_QUERY_VALUE_MAX];
  bool has_filename;
  bool download;
  bool ipns;            /* the request named an IPNS name, resolved into t */
} rq_t;

static const char *cid_str(const cid_t *c, char t[CID_TEXT_BYTES_MAX]) {
  if (cid_format_default(c, t) != 0) strcpy(t, "?");
  return t;
}

/* The text of a CID: the request's own text for its root (no re-encoding,
 * which is a big-number conversion for base58 CIDv0), else the default form. */
static const char *rq_cid_str(const rq_t *r, const cid_t *c, char t[CID_TEXT_BYTES_MAX]) {
  if (cid_equal(c, &r->root)) {
    snprintf(t, CID_TEXT_BYTES_MAX, "%s", r->root_text);
    return t;
  }
  return cid_str(c, t);
}

/* Replaces bytes that are not valid UTF-8 by '?' (names from the URL end up
 * in JSON error bodies, which must be UTF-8). */
static void utf8_sanitize(char *s) {
  unsigned char *p = (unsigned char *)s;
  while (*p) {
    size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
    bool ok = n > 0 && *p != 0xc0 && *p != 0xc1 && *p <= 0xf4;
    for (size_t k = 1; ok && k < n; k++) ok = (p[k] & 0xc0) == 0x80;
    if (!ok) { *p++ = '?'; continue; }
    p += n;
  }
}

static int fail(rq_t *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(rq_t *r, int status, const char *fmt, ...) {
  if (r->src.bailed) return BAIL;
  char msg[ERR_MSG_BYTES_MAX + 256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* the server keeps 512 bytes of a message: cut at a character boundary, not inside one */
  size_t cut = 480;
  if (strlen(msg) > cut) {
    while (cut > 0 && ((unsigned char)msg[cut] & 0xc0) == 0x80) cut--;
    strcpy(msg + cut, "...");
  }
  utf8_sanitize(msg);
  http_respond_error(r->req, status, "%s", msg);
  return 0;
}

/* An engine error while walking content, as an HTTP answer. */
static int fail_engine(rq_t *r, int rc, const char *what) {
  if (r->src.bailed) return BAIL;
  const char *msg = err_msg(rc);
  switch (rc) {
    case -ENOENT: return fail(r, 404, "%s: %s (not in this node's store)", what, msg);
    case -ENOTDIR: return fail(r, 404, "%s: %s", what, msg);
    case -ETIMEDOUT: return fail(r, 504, "%s: %s (not in this node's store; the network did not deliver it in time)", what, msg);
    case -ENAMETOOLONG: return fail(r, 400, "%s: %s", what, msg);
    case -EIO:
      return fail(r, 501, "%s: %s; the node is not UnixFS: ask for ?format=raw or ?format=car", what, msg);
    default: return fail(r, 500, "%s: %s", what, msg);
  }
}

static bool header_safe(const char *v) {
  for (const unsigned char *p = (const unsigned char *)v; *p; p++)
    if (*p < 0x20 || *p == 0x7f) return false;
  return true;
}

static void add_header(rq_t *r, const char *name, const char *value) {
  if (value && header_safe(value)) http_resp_header(r->req, name, value);
}

static void common_headers(rq_t *r) {
  add_header(r, "Cache-Control", r->ipns ? CACHE_CONTROL_IPNS : CACHE_CONTROL_IMMUTABLE);
  add_header(r, "X-Ipfs-Path", buf_cstr(&r->xpath));
  if (r->roots.len) add_header(r, "X-Ipfs-Roots", buf_cstr(&r->roots));
  add_header(r, "Vary", "Accept");
}

/* Ends a response whose headers were sent: writes body[0..len) unless HEAD. */
static int send_body(rq_t *r, int status, int64_t len, const void *body) {
  if (http_resp_start(r->req, status, len) != 0) return 0;
  if (!r->head && len > 0) http_resp_write(r->req, body, (size_t)len);
  http_resp_end(r->req);
  return 0;
}

static int not_modified(rq_t *r) { return send_body(r, 304, 0, NULL); }

/* ---- the path ---- */

static bool last_segment(const rq_t *r, const char **name) {
  if (r->t.segments == 0) return false;
  const char *slash = strrchr(r->t.path, '/');
  *name = slash ? slash + 1 : r->t.path;
  return true;
}

/* Walks r->t.path from r->root, filling r->terminal and X-Ipfs-Roots. */
static int walk_path(rq_t *r) {
  char t[CID_TEXT_BYTES_MAX];
  cid_t cur = r->root;
  buf_reset(&r->roots);
  buf_printf(&r->roots, "%s", r->root_text);
  const char *p = r->t.path;
  while (*p) {
    const char *slash = strchr(p, '/');
    size_t len = slash ? (size_t)(slash - p) : strlen(p);
    char seg[GW_PATH_BYTES_MAX];
    memcpy(seg, p, len);
    seg[len] = '\0';
    if (cur.codec != CODEC_DAG_PB) {
      if (cur.codec == CODEC_RAW) return fail(r, 404, "'%s': %s is a raw block (a file), not a directory", seg, cid_str(&cur, t));
      const char *codec = cid_codec_name(cur.codec);
      return fail(r, 501, "'%s': pathing into %s nodes is not supported (only UnixFS directories)", seg,
                  codec ? codec : "non-UnixFS");
    }
    cid_t next;
    int rc = exp_resolve(&r->bsrc, &cur, seg, &next);
    if (rc) return fail_engine(r, rc, "path");
    cur = next;
    buf_printf(&r->roots, ",%s", cid_str(&cur, t));
    p += len;
    if (*p == '/') p++;
  }
  r->terminal = cur;
  return -1; /* walked: go on */
}

/* ---- raw blocks ---- */

static int serve_raw(rq_t *r) {
  if (r->t.segments > 0)
    return fail(r, 400, "a raw block is requested by CID alone: /ipfs/<cid>?format=raw takes no path "
                        "(use ?format=car for a path)");
  uint64_t size = 0;
  if (r->inline_mode && r->root.hash.code != MH_IDENTITY && bs_has(r->gw->bs, &r->root, &size) > 0 &&
      size > INLINE_BODY_MAX)
    return BAIL; /* a large block is read by a worker */
  buf_t block = {0};
  int rc = src_get(&r->src, &r->root, &block);
  if (rc) {
    buf_free(&block);
    return fail_engine(r, rc, "block");
  }
  if (r->inline_mode && block.len > INLINE_BODY_MAX) {
    buf_free(&block);
    return BAIL;
  }
  char t[CID_TEXT_BYTES_MAX], etag[CID_TEXT_BYTES_MAX + 16];
  snprintf(etag, sizeof etag, "\"%s.raw\"", rq_cid_str(r, &r->root, t));
  add_header(r, "Etag", etag);
  common_headers(r);
  add_header(r, "X-Content-Type-Options", "nosniff");
  if (gw_etag_match(http_req_header(r->req, "If-None-Match"), etag)) {
    buf_free(&block);
    return not_modified(r);
  }
  buf_t cd = {0};
  char fname[GW_QUERY_VALUE_MAX + CID_TEXT_BYTES_MAX];
  snprintf(fname, sizeof fname, "%s", r->has_filename ? r->filename : "");
  if (!r->has_filename) snprintf(fname, sizeof fname, "%s.bin", t);
  gw_content_disposition(&cd, "attachment", fname);
  add_header(r, "Content-Disposition", buf_cstr(&cd));
  buf_free(&cd);
  add_header(r, "Content-Type", "application/vnd.ipld.raw");
  if (r->format_from_accept) {
    buf_t loc = {0};
    buf_printf(&loc, "%s%s%s%sformat=raw", http_req_path(r->req), "?", r->query,
               r->query[0] ? "&" : "");
    add_header(r, "Content-Location", buf_cstr(&loc));
    buf_free(&loc);
  }
  send_body(r, 200, (int64_t)block.len, block.data);
  buf_free(&block);
  return 0;
}

/* ---- CAR ---- */

static int car_http_write(void *ctx, const void *data, size_t len) {
  return http_resp_write(ctx, data, len);
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t len) {
  const uint8_t *p = data;
  for (size_t i = 0; i < len; i++) { h ^= p[i]; h *= 0x100000001b3ull; }
  return h;
}

static int serve_car(rq_t *r) {
  if (r->inline_mode) return BAIL;
  char v[GW_QUERY_VALUE_MAX];
  gw_car_params_t cp = r->car; /* from Accept, when it named a CAR */
  if (gw_query_get(r->query, "car-version", v, sizeof v) >= 0) {
    if (strcmp(v, "1") != 0) return fail(r, 400, "car-version=%s: only CAR version 1 is produced", v);
  } else if (cp.version > 1) {
    return fail(r, 400, "CAR version %d: only version 1 is produced", cp.version);
  }
  if (gw_query_get(r->query, "car-order", v, sizeof v) >= 0 && strcmp(v, "dfs") != 0 && strcmp(v, "unk") != 0)
    return fail(r, 400, "car-order=%s: only dfs (or unk) is supported", v);
  if (gw_query_get(r->query, "car-dups", v, sizeof v) >= 0) {
    if (strcmp(v, "y") == 0) cp.dups = 'y';
    else if (strcmp(v, "n") == 0) cp.dups = 'n';
    else return fail(r, 400, "car-dups must be y or n");
  }
  gw_scope_t scope = GW_SCOPE_ALL;
  if (gw_query_get(r->query, "dag-scope", v, sizeof v) >= 0 && gw_scope_parse(v, &scope) != 0)
    return fail(r, 400, "dag-scope=%s: must be all, entity or block", v);
  gw_entity_bytes_t eb;
  bool has_eb = false;
  char eb_text[GW_QUERY_VALUE_MAX] = "";
  if (gw_query_get(r->query, "entity-bytes", eb_text, sizeof eb_text) >= 0) {
    if (gw_parse_entity_bytes(eb_text, &eb) != 0) return fail(r, 400, "entity-bytes=%s: %s", eb_text, err_msg(-EINVAL));
    has_eb = true;
  }

  /* the path, recording the blocks that verify it */
  r->src.recording = true;
  if (r->t.segments == 0 && r->root.hash.code != MH_IDENTITY) {
    int present = bs_has(r->gw->bs, &r->root, NULL);
    if (present <= 0) {
      /* not stored: the network may have it (fetch on miss) */
      buf_t block = {0};
      int frc = src_get(&r->src, &r->root, &block);
      buf_free(&block);
      if (frc == -ENOENT) return fail(r, 404, "block %s not found (not in this node's store)", r->root_text);
      if (frc) return fail_engine(r, frc, "block");
    }
  }
  int rc = walk_path(r);
  if (rc >= 0) return rc;
  r->src.recording = false;

  gw_car_req_t cr = {.root = r->root, .terminal = r->terminal, .scope = scope, .dups = cp.dups == 'y'};
  cr.path_blocks = (const cid_t *)r->src.record.data;
  cr.path_blocks_len = r->src.record.len / sizeof(cid_t);
  if (has_eb) {
    cr.has_range = true;
    exp_file_t *f = NULL;
    if (exp_open(&r->bsrc, &r->terminal, &f) == 0) {
      int er = gw_entity_range(&eb, exp_size(f), &cr.range_first, &cr.range_last);
      exp_close(f);
      if (er == -ERANGE) return fail(r, 400, "entity-bytes=%s is outside the file", eb_text);
      if (er == 1) cr.range_empty = true;
    } else {
      cr.has_range = false; /* not a file: entity-bytes is ignored, scope entity */
      scope = cr.scope = GW_SCOPE_ENTITY;
    }
  }

  char t[CID_TEXT_BYTES_MAX];
  rq_cid_str(r, &r->root, t);
  uint64_t h = 0xcbf29ce484222325ull;
  h = fnv1a(h, r->t.path, strlen(r->t.path) + 1);
  h = fnv1a(h, &scope, sizeof scope);
  h = fnv1a(h, eb_text, strlen(eb_text) + 1);
  h = fnv1a(h, &cr.dups, sizeof cr.dups);
  char etag[CID_TEXT_BYTES_MAX + 64];
  snprintf(etag, sizeof etag, "\"%s.car.%016llx\"", t, (unsigned long long)h);
  add_header(r, "Etag", etag);
  common_headers(r);
  add_header(r, "X-Content-Type-Options", "nosniff");
  add_header(r, "Accept-Ranges", "none");
  if (gw_etag_match(http_req_header(r->req, "If-None-Match"), etag)) return not_modified(r);
  buf_t hv = {0};
  char fname[GW_QUERY_VALUE_MAX + CID_TEXT_BYTES_MAX];
  if (r->has_filename) snprintf(fname, sizeof fname, "%s", r->filename);
  else snprintf(fname, sizeof fname, "%s.car", t);
  gw_content_disposition(&hv, "attachment", fname);
  add_header(r, "Content-Disposition", buf_cstr(&hv));
  buf_reset(&hv);
  buf_printf(&hv, "application/vnd.ipld.car; version=1; order=dfs; dups=%s", cr.dups ? "y" : "n");
  add_header(r, "Content-Type", buf_cstr(&hv));
  if (r->format_from_accept) {
    buf_reset(&hv);
    buf_printf(&hv, "%s?%s%sformat=car", http_req_path(r->req), r->query, r->query[0] ? "&" : "");
    add_header(r, "Content-Location", buf_cstr(&hv));
  }
  buf_free(&hv);
  if (http_resp_start(r->req, 200, -1) != 0) return 0;
  if (r->head) {
    http_resp_end(r->req);
    return 0;
  }
  gw_car_stat_t st;
  rc = gw_car_write(&r->bsrc, &cr, car_http_write, r->req, &st);
  if (rc == 0) {
    http_resp_end(r->req);
  } else if (rc != -ECONNRESET) {
    /* the status is sent: abort the stream; the client sees an incomplete CAR */
    log_emit(LOG_LEVEL_WARN, "gateway", NULL, 0, "CAR %s cut short after %llu blocks: %s",
             buf_cstr(&r->xpath), (unsigned long long)st.blocks, err_msg(rc));
    http_resp_abort(r->req);
  }
  return 0;
}

/* ---- files ---- */

static const char *codec_type(uint64_t codec) {
  switch (codec) {
    case CODEC_DAG_CBOR: return "application/vnd.ipld.dag-cbor";
    case CODEC_DAG_JSON: return "application/vnd.ipld.dag-json";
    case 0x0200: return "application/json";
    case 0x51: return "application/cbor";
    default: return NULL;
  }
}

/* ---- the body cache ----
 * Whole bodies of files between INLINE_BODY_MAX and BODY_ENTRY_BYTES_MAX,
 * keyed by the file's binary CID, LRU within BODY_CACHE_BYTES_MAX (the
 * environment variable ANYA_GATEWAY_BODY_CACHE_BYTES overrides it; 0 turns
 * the cache off, for measuring the streamed path).  Content
 * under a CID never changes, so an entry is never stale; a hit is still
 * checked with bs_has (one index lookup) so that content removed from the
 * store (GC) is a 404 again.  Filled by the worker that streams a miss;
 * a hit is answered on the event loop (one copy into the socket buffer). */

typedef struct body_entry {
  struct body_entry *lru_prev, *lru_next; /* most recent first */
  struct body_entry *hash_next;
  uint8_t key[CID_BYTES_MAX];
  size_t key_len;
  uint8_t *data;
  size_t len;
  unsigned refs;       /* readers using data; evicted entries wait for 0 */
  bool linked;         /* in the table and the LRU list */
  const char *type;    /* sniffed from the first bytes (a static string) */
} body_entry_t;

static size_t body_hash(const uint8_t *key, size_t len) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < len; i++) { h ^= key[i]; h *= 0x100000001b3ull; }
  return (size_t)(h % BODY_CACHE_BUCKETS);
}

static void body_unlink(gateway_t *gw, body_entry_t *e) {
  body_entry_t **pp = &gw->body_table[body_hash(e->key, e->key_len)];
  while (*pp && *pp != e) pp = &(*pp)->hash_next;
  if (*pp) *pp = e->hash_next;
  if (e->lru_prev) e->lru_prev->lru_next = e->lru_next;
  else gw->lru_head = e->lru_next;
  if (e->lru_next) e->lru_next->lru_prev = e->lru_prev;
  else gw->lru_tail = e->lru_prev;
  e->linked = false;
  gw->body_bytes -= e->len;
}

static void body_entry_free(body_entry_t *e) {
  free(e->data);
  free(e);
}

/* Takes a reference on the entry for cid, or NULL. */
static body_entry_t *body_get(gateway_t *gw, const cid_t *cid) {
  uint8_t key[CID_BYTES_MAX];
  size_t kn = cid_to_bytes(cid, key);
  pthread_mutex_lock(&gw->body_lock);
  body_entry_t *e = gw->body_table[body_hash(key, kn)];
  while (e && (e->key_len != kn || memcmp(e->key, key, kn) != 0)) e = e->hash_next;
  if (e) {
    e->refs++;
    if (e->lru_prev) { /* to the front */
      e->lru_prev->lru_next = e->lru_next;
      if (e->lru_next) e->lru_next->lru_prev = e->lru_prev;
      else gw->lru_tail = e->lru_prev;
      e->lru_prev = NULL;
      e->lru_next = gw->lru_head;
      gw->lru_head->lru_prev = e;
      gw->lru_head = e;
    }
  }
  pthread_mutex_unlock(&gw->body_lock);
  return e;
}

static void body_put(gateway_t *gw, body_entry_t *e) {
  pthread_mutex_lock(&gw->body_lock);
  bool gone = --e->refs == 0 && !e->linked;
  pthread_mutex_unlock(&gw->body_lock);
  if (gone) body_entry_free(e);
}

/* Adds a body (taking ownership of data); drops it when cid is already there. */
static void body_add(gateway_t *gw, const cid_t *cid, uint8_t *data, size_t len) {
  body_entry_t *e = calloc(1, sizeof *e);
  if (!e) { free(data); return; }
  e->key_len = cid_to_bytes(cid, e->key);
  e->data = data;
  e->len = len;
  e->type = gw_mime_sniff(data, len);
  body_entry_t *victims = NULL;
  pthread_mutex_lock(&gw->body_lock);
  size_t b = body_hash(e->key, e->key_len);
  body_entry_t *have = gw->body_table[b];
  while (have && (have->key_len != e->key_len || memcmp(have->key, e->key, e->key_len) != 0)) have = have->hash_next;
  if (!have) {
    while (gw->lru_tail && gw->body_bytes + len > gw->body_bytes_max) {
      body_entry_t *v = gw->lru_tail;
      body_unlink(gw, v);
      if (v->refs == 0) { v->hash_next = victims; victims = v; }
    }
    e->hash_next = gw->body_table[b];
    gw->body_table[b] = e;
    e->lru_next = gw->lru_head;
    if (gw->lru_head) gw->lru_head->lru_prev = e;
    gw->lru_head = e;
    if (!gw->lru_tail) gw->lru_tail = e;
    e->linked = true;
    gw->body_bytes += len;
    e = NULL;
  }
  pthread_mutex_unlock(&gw->body_lock);
  if (e) body_entry_free(e);
  while (victims) {
    body_entry_t *n = victims->hash_next;
    body_entry_free(victims);
    victims = n;
  }
}

/* The stream buffer: STREAM_CHUNK_BYTES kept per thread (a worker streams
 * one response at a time), so a request does not map, fault in and unmap
 * fresh pages; smaller answers use the heap. */
static void chunk_destroy(void *p) { free(p); }

static uint8_t *chunk_get(gateway_t *gw, size_t len) {
  if (len < STREAM_CHUNK_BYTES) return malloc(len);
  uint8_t *p = pthread_getspecific(gw->chunk_key);
  if (p) {
    pthread_setspecific(gw->chunk_key, NULL); /* taken: a nested use would allocate */
    return p;
  }
  return malloc(STREAM_CHUNK_BYTES);
}

static void chunk_put(gateway_t *gw, uint8_t *p) {
  if (!p) return;
  if (malloc_usable_size(p) >= STREAM_CHUNK_BYTES && !pthread_getspecific(gw->chunk_key) &&
      pthread_setspecific(gw->chunk_key, p) == 0)
    return;
  free(p);
}

/* A file's body: an exporter handle, or bytes in memory (a cached body). */
typedef struct body {
  exp_file_t *f;
  const uint8_t *mem;
  uint64_t size;
  const char *sniffed; /* the memory body's sniffed type */
} body_t;

static int serve_file(rq_t *r, const body_t *body, const cid_t *cid, const char *name) {
  exp_file_t *f = body->f;
  uint64_t size = body->size;
  char t[CID_TEXT_BYTES_MAX];
  rq_cid_str(r, cid, t);
  /* the content type: the filename parameter, the name, the codec, the bytes */
  const char *type = NULL;
  if (r->has_filename) type = gw_mime_by_name(r->filename);
  if (!type && name) type = gw_mime_by_name(name);
  if (!type) type = codec_type(cid->codec);
  /* the range */
  uint64_t first = 0, last = size ? size - 1 : 0;
  bool partial = false;
  const char *range = http_req_header(r->req, "Range");
  const char *if_range = http_req_header(r->req, "If-Range");
  char etag[CID_TEXT_BYTES_MAX + 48];
  snprintf(etag, sizeof etag, "\"%s\"", t);
  if (range && (!if_range || gw_etag_match(if_range, etag))) {
    int rc = gw_parse_range(range, size, &first, &last);
    if (rc == -ERANGE) {
      char cr[64];
      snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
      add_header(r, "Content-Range", cr);
      return fail(r, 416, "range %s is outside the file (%llu bytes)", range, (unsigned long long)size);
    }
    partial = rc == 0;
  }
  uint64_t len = size == 0 ? 0 : last - first + 1;
  if (!body->mem && r->inline_mode && !r->head && len > INLINE_BODY_MAX) return BAIL;
  uint8_t sniff[GW_SNIFF_BYTES];
  if (!type && body->mem) type = body->sniffed;
  if (!type) {
    ssize_t n = exp_pread(f, sniff, sizeof sniff, 0);
    if (n < 0) return fail_engine(r, (int)n, "file");
    type = gw_mime_sniff(sniff, (size_t)n);
  }
  if (partial) snprintf(etag, sizeof etag, "\"%s.%llu-%llu\"", t, (unsigned long long)first, (unsigned long long)last);
  bool fresh = !gw_etag_match(http_req_header(r->req, "If-None-Match"), etag);
  /* The first bytes are read before any header is added: a missing block is
   * then a plain 404 (or, inline, a clean hand-over to a worker). */
  size_t chunk = 0;
  uint8_t *buf = NULL;
  ssize_t n = 0;
  if (!body->mem && fresh && !r->head && len > 0) {
    chunk = r->inline_mode || len < STREAM_CHUNK_BYTES ? (size_t)len : STREAM_CHUNK_BYTES;
    buf = chunk_get(r->gw, chunk);
    if (!buf) return fail(r, 500, "out of memory");
    n = exp_pread(f, buf, chunk, first);
    if (n <= 0 || (r->inline_mode && (size_t)n != chunk)) {
      chunk_put(r->gw, buf);
      return n < 0 ? fail_engine(r, (int)n, "file") : fail(r, 500, "file shorter than its size");
    }
  }
  add_header(r, "Etag", etag);
  common_headers(r);
  add_header(r, "Accept-Ranges", "bytes");
  if (!fresh) return not_modified(r);
  add_header(r, "Content-Type", type);
  if (r->has_filename || r->download) {
    buf_t cd = {0};
    const char *kind = r->download ? "attachment" : "inline";
    if (r->has_filename) gw_content_disposition(&cd, kind, r->filename);
    else buf_printf(&cd, "%s", kind);
    add_header(r, "Content-Disposition", buf_cstr(&cd));
    buf_free(&cd);
  }
  if (partial) {
    char cr[96];
    snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)first, (unsigned long long)last,
             (unsigned long long)size);
    add_header(r, "Content-Range", cr);
  }
  int status = partial ? 206 : 200;
  if (body->mem) return send_body(r, status, (int64_t)len, body->mem + first);
  if (!buf) return send_body(r, status, (int64_t)len, NULL);
  if (r->inline_mode) {
    send_body(r, status, (int64_t)len, buf);
    chunk_put(r->gw, buf);
    return 0;
  }
  /* a whole file of a cacheable size is kept as it streams */
  uint8_t *keep = NULL;
  if (first == 0 && len == size && size > INLINE_BODY_MAX && size <= BODY_ENTRY_BYTES_MAX &&
      size <= r->gw->body_bytes_max)
    keep = malloc(size);
  if (http_resp_start(r->req, status, (int64_t)len) != 0) { chunk_put(r->gw, buf); free(keep); return 0; }
  uint64_t off = first, left = len;
  for (;;) {
    size_t k = (size_t)n < left ? (size_t)n : (size_t)left;
    if (keep) memcpy(keep + off, buf, k);
    if (http_resp_write(r->req, buf, k) != 0) break;
    off += k;
    left -= k;
    if (left == 0) {
      http_resp_end(r->req);
      if (keep) { body_add(r->gw, cid, keep, size); keep = NULL; }
      break;
    }
    n = exp_pread(f, buf, left < chunk ? (size_t)left : chunk, off);
    if (n <= 0) {
      log_emit(LOG_LEVEL_WARN, "gateway", NULL, 0, "%s cut short at byte %llu: %s", buf_cstr(&r->xpath),
               (unsigned long long)off, n < 0 ? err_msg((int)n) : "file shorter than its size");
      http_resp_abort(r->req); /* the client sees the body end short of its length */
      break;
    }
  }
  free(keep);
  chunk_put(r->gw, buf);
  return 0;
}

/* ---- directories ---- */

typedef struct listing {
  rq_t *r;
  buf_t html;
  int rc;
  uint64_t entries;
} listing_t;

static int flush_listing(listing_t *l, bool force) {
  if (l->html.len && (force || l->html.len >= LISTING_FLUSH_BYTES)) {
    if (!l->r->head && http_resp_write(l->r->req, l->html.data, l->html.len) != 0) return -ECONNRESET;
    buf_reset(&l->html);
  }
  return 0;
}

static int listing_entry(void *ctx, const char *name, const cid_t *cid, uint64_t tsize) {
  listing_t *l = ctx;
  char t[CID_TEXT_BYTES_MAX];
  cid_str(cid, t);
  size_t nl = strlen(name);
  buf_printf(&l->html, "<tr><td><a href=\"");
  gw_url_escape(&l->html, name, nl);
  buf_printf(&l->html, "\">");
  gw_html_escape(&l->html, name, nl);
  buf_printf(&l->html, "</a></td><td class=\"cid\">");
  if (!l->r->subdomain) {
    buf_printf(&l->html, "<a href=\"/ipfs/%s?filename=", t);
    gw_url_escape(&l->html, name, nl);
    buf_printf(&l->html, "\">%s</a>", t);
  } else {
    buf_printf(&l->html, "%s", t);
  }
  buf_printf(&l->html, "</td><td class=\"size\">%llu</td></tr>\n", (unsigned long long)tsize);
  l->entries++;
  return flush_listing(l, false);
}

static int serve_listing(rq_t *r, const cid_t *dir) {
  if (r->inline_mode) return BAIL;
  char t[CID_TEXT_BYTES_MAX], etag[CID_TEXT_BYTES_MAX + 64];
  cid_str(dir, t);
  snprintf(etag, sizeof etag, "\"DirIndex-%s_CID-%s\"", DIRINDEX_VERSION, t);
  add_header(r, "Etag", etag);
  common_headers(r);
  if (gw_etag_match(http_req_header(r->req, "If-None-Match"), etag)) return not_modified(r);
  add_header(r, "Content-Type", "text/html; charset=utf-8");
  listing_t l = {.r = r};
  const char *xp = buf_cstr(&r->xpath);
  buf_printf(&l.html, "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>");
  gw_html_escape(&l.html, xp, strlen(xp));
  buf_printf(&l.html, "</title>\n</head>\n<body>\n<h1>Index of ");
  gw_html_escape(&l.html, xp, strlen(xp));
  buf_printf(&l.html, "</h1>\n<p class=\"cid\">%s</p>\n<table>\n<tr><th>Name</th><th>CID</th><th>Size</th></tr>\n", t);
  if (r->t.segments > 0) buf_printf(&l.html, "<tr><td><a href=\"../\">..</a></td><td></td><td></td></tr>\n");
  if (http_resp_start(r->req, 200, -1) != 0) { buf_free(&l.html); return 0; }
  int rc = exp_readdir(&r->bsrc, dir, listing_entry, &l);
  if (rc == 0) {
    buf_printf(&l.html, "</table>\n<p>%llu entries</p>\n</body>\n</html>\n", (unsigned long long)l.entries);
    if (flush_listing(&l, true) == 0) http_resp_end(r->req);
  } else if (rc != -ECONNRESET) {
    log_emit(LOG_LEVEL_WARN, "gateway", NULL, 0, "listing %s cut short: %s", xp, err_msg(rc));
    http_resp_abort(r->req);
  }
  buf_free(&l.html);
  return 0;
}

static int serve_directory(rq_t *r) {
  if (!r->t.trailing_slash) {
    /* 301 to the slash form, the query kept */
    buf_t loc = {0};
    buf_printf(&loc, "%s/%s%s", http_req_path(r->req), r->query[0] ? "?" : "", r->query);
    add_header(r, "Location", buf_cstr(&loc));
    buf_free(&loc);
    if (http_req_header(r->req, "Service-Worker"))
      return fail(r, 400, "a service worker may not be registered for a content root without its trailing '/'");
    return fail(r, 301, "a directory: see %s/", http_req_path(r->req));
  }
  cid_t index;
  int rc = exp_resolve(&r->bsrc, &r->terminal, "index.html", &index);
  if (r->src.bailed) return BAIL;
  if (rc == 0) {
    exp_file_t *f = NULL;
    rc = exp_open(&r->bsrc, &index, &f);
    if (rc == 0) {
      body_t body = {.f = f, .size = exp_size(f)};
      rc = serve_file(r, &body, &index, "index.html");
      exp_close(f);
      return rc;
    }
    if (r->src.bailed) return BAIL;
    if (rc != -EISDIR && rc != -EINVAL) return fail_engine(r, rc, "index.html");
  } else if (rc != -ENOENT) {
    return fail_engine(r, rc, "directory");
  }
  return serve_listing(r, &r->terminal);
}

static int serve_symlink(rq_t *r) {
  buf_t target = {0};
  int rc = exp_readlink(&r->bsrc, &r->terminal, &target);
  if (rc) {
    buf_free(&target);
    return fail_engine(r, rc, "symlink");
  }
  char t[CID_TEXT_BYTES_MAX], etag[CID_TEXT_BYTES_MAX + 8];
  snprintf(etag, sizeof etag, "\"%s\"", cid_str(&r->terminal, t));
  add_header(r, "Etag", etag);
  common_headers(r);
  if (gw_etag_match(http_req_header(r->req, "If-None-Match"), etag)) {
    buf_free(&target);
    return not_modified(r);
  }
  add_header(r, "Content-Type", "text/plain; charset=utf-8");
  add_header(r, "X-Ipfs-Symlink", "true");
  send_body(r, 200, (int64_t)target.len, target.data);
  buf_free(&target);
  return 0;
}

static int serve_deserialized(rq_t *r) {
  int rc = walk_path(r);
  if (rc >= 0) return rc;
  const char *name = NULL;
  last_segment(r, &name);
  body_entry_t *cached = body_get(r->gw, &r->terminal);
  if (cached) {
    if (bs_has(r->gw->bs, &r->terminal, NULL) > 0) {
      body_t body = {.mem = cached->data, .size = cached->len, .sniffed = cached->type};
      rc = serve_file(r, &body, &r->terminal, name);
      body_put(r->gw, cached);
      return rc;
    }
    body_put(r->gw, cached); /* removed from the store since: walk it again (404) */
  }
  exp_file_t *f = NULL;
  rc = exp_open(&r->bsrc, &r->terminal, &f);
  if (rc == 0) {
    body_t body = {.f = f, .size = exp_size(f)};
    rc = serve_file(r, &body, &r->terminal, name);
    exp_close(f);
    return rc;
  }
  if (r->src.bailed) return BAIL;
  if (rc == -EISDIR) return serve_directory(r);
  if (rc == -EINVAL) {
    exp_stat_t st;
    if (exp_stat(&r->bsrc, &r->terminal, &st) == 0 && st.kind == EXP_SYMLINK) return serve_symlink(r);
  }
  return fail_engine(r, rc, "content");
}

/* ---- the request: method, host, path, format ---- */

/* /ipns/<name>[/path]: resolves the name (on a worker: the DHT may take
 * seconds) and rewrites r->t into the /ipfs/ target it names, the value's
 * path first, then the request's. */
static int resolve_ipns(rq_t *r) {
  if (!r->gw->ipns) return fail(r, 404, "/ipns/%.200s: this gateway resolves no IPNS names (no node)", r->t.root);
  if (r->inline_mode) return BAIL;
  char *resolved = malloc(IPNS_PATH_BYTES_MAX);
  if (!resolved) return fail(r, 500, "out of memory");
  int rc = ipns_resolve(r->gw->ipns, r->t.root, IPNS_TIMEOUT_MS, resolved);
  if (rc) {
    free(resolved);
    const char *msg = err_msg(rc);
    switch (rc) {
      case -EINVAL: /* a DNSLink name is a name we cannot resolve (404), anything else a bad one */
        return fail(r, strchr(r->t.root, '.') ? 404 : 400, "/ipns/%.200s: %s", r->t.root, msg);
      case -ENOENT: return fail(r, 404, "/ipns/%.200s: %s", r->t.root, msg);
      case -ETIMEDOUT: return fail(r, 504, "/ipns/%.200s: %s", r->t.root, msg);
      default: return fail(r, 500, "/ipns/%.200s: %s", r->t.root, msg);
    }
  }
  /* "/ipfs/<cid>[/a/b]" + the request's "c/d" */
  gw_target_t t = {.ns = GW_NS_IPFS, .trailing_slash = r->t.trailing_slash};
  const char *p = resolved + 6, *slash = strchr(p, '/');
  size_t root_len = slash ? (size_t)(slash - p) : strlen(p);
  size_t used = 0;
  rc = root_len && root_len < sizeof t.root ? 0 : -E2BIG;
  if (!rc) memcpy(t.root, p, root_len), t.root[root_len] = 0;
  for (p = slash; !rc && p && *p;) {
    while (*p == '/') p++;
    size_t len = strcspn(p, "/");
    if (!len) break;
    if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) rc = -EINVAL;
    else if (used + len + 2 > sizeof t.path || t.segments == GW_SEGMENTS_MAX) rc = -E2BIG;
    else {
      if (used) t.path[used++] = '/';
      memcpy(t.path + used, p, len), used += len, t.path[used] = 0;
      t.segments++;
    }
    p += len;
  }
  free(resolved);
  if (!rc && r->t.segments) {
    size_t len = strlen(r->t.path);
    if (used + len + 2 > sizeof t.path || t.segments + r->t.segments > GW_SEGMENTS_MAX) rc = -E2BIG;
    else {
      if (used) t.path[used++] = '/';
      memcpy(t.path + used, r->t.path, len + 1);
      t.segments += r->t.segments;
    }
  }
  if (rc) return fail(r, rc == -E2BIG ? 414 : 502, "/ipns/%.200s resolves to a path this gateway cannot walk", r->t.root);
  r->t = t;
  r->ipns = true;
  return -1;
}

static int parse_request(rq_t *r) {
  const char *path = http_req_path(r->req);
  int rc = gw_parse_host(http_req_header(r->req, "Host"), &r->host);
  if (rc < 0) return fail(r, 400, "Host: %s", err_msg(rc));
  r->subdomain = rc == 1;
  if (r->subdomain) {
    memset(&r->t, 0, sizeof r->t);
    r->t.ns = r->host.ns;
    snprintf(r->t.root, sizeof r->t.root, "%s", r->host.root);
    rc = gw_parse_subpath(path, &r->t);
  } else {
    rc = gw_parse_target(path, &r->t);
    if (rc == -ENOENT) return fail(r, 404, "%.200s: this gateway serves /ipfs/<cid>[/path] and /ipns/<name>[/path]", path);
  }
  if (rc) return fail(r, 400, "%.200s: %s", path, err_msg(rc));
  char name[GW_ROOT_BYTES_MAX];
  if (r->t.ns == GW_NS_IPNS) {
    snprintf(name, sizeof name, "%s", r->t.root);
    if ((rc = resolve_ipns(r)) >= 0) return rc;
  }
  if (cid_parse(&r->root, r->t.root) != 0)
    return fail(r, 400, "'%s' is not a valid CID: %s", r->t.root, err_msg(-EINVAL));
  snprintf(r->root_text, sizeof r->root_text, "%s", r->t.root);
  if (r->subdomain && r->ipns) {
    buf_printf(&r->xpath, "/ipns/%s%s", name, path[0] == '/' ? path : "/");
  } else if (r->subdomain) {
    /* DNS labels are case-insensitive: only base32 and base36 CIDv1 survive them */
    char first = r->t.root[0];
    if (r->root.version == 0 || (first != 'b' && first != 'k')) {
      cid_t v1 = r->root;
      cid_to_v1(&v1);
      char t[CID_TEXT_BYTES_MAX];
      cid_format(&v1, MBASE_BASE32, t);
      buf_t loc = {0};
      const char *proto = http_req_header(r->req, "X-Forwarded-Proto");
      buf_printf(&loc, "%s://%s.ipfs.%s%s%s%s", proto && strcmp(proto, "https") == 0 ? "https" : "http", t,
                 r->host.parent, path, r->query[0] ? "?" : "", r->query);
      add_header(r, "Location", buf_cstr(&loc));
      buf_free(&loc);
      return fail(r, 301, "subdomain gateways use base32 CIDv1: %s", t);
    }
    buf_printf(&r->xpath, "/ipfs/%s%s", r->t.root, path[0] == '/' ? path : "/");
  } else {
    buf_printf(&r->xpath, "%s", path);
  }

  char v[GW_QUERY_VALUE_MAX];
  rc = gw_query_get(r->query, "format", v, sizeof v);
  if (rc >= 0) {
    if (gw_format_from_query(v, &r->format) != 0) return fail(r, 400, "format=%s: %s", v, err_msg(-EINVAL));
    if (r->format == GW_FORMAT_UNSUPPORTED) return fail(r, 406, "format=%s is not produced by this gateway (raw and car are)", v);
    if (r->format == GW_FORMAT_CAR) {
      gw_accept_t acc;
      gw_parse_accept(http_req_header(r->req, "Accept"), &acc);
      if (acc.format == GW_FORMAT_CAR) r->car = acc.car;
    }
  } else if (rc == -ENOENT) {
    gw_accept_t acc;
    gw_parse_accept(http_req_header(r->req, "Accept"), &acc);
    if (acc.format == GW_FORMAT_UNSUPPORTED)
      return fail(r, 406, "Accept: nothing this gateway produces (refused: %s); it produces "
                          "application/vnd.ipld.raw and application/vnd.ipld.car; version=1 (order=dfs|unk, "
                          "dups=y|n), and files and directories for other types", acc.unsupported);
    r->format = acc.format;
    r->car = acc.car;
    r->format_from_accept = acc.explicit_format;
  } else {
    return fail(r, 400, "format: %s", err_msg(rc));
  }
  rc = gw_query_get(r->query, "filename", r->filename, sizeof r->filename);
  if (rc < 0 && rc != -ENOENT) return fail(r, 400, "filename: %s", err_msg(rc));
  r->has_filename = rc >= 0 && r->filename[0];
  if (gw_query_get(r->query, "download", v, sizeof v) >= 0) r->download = strcmp(v, "true") == 0;

  const char *cc = http_req_header(r->req, "Cache-Control");
  if (cc && strcasestr(cc, "only-if-cached") && r->root.hash.code != MH_IDENTITY &&
      bs_has(r->gw->bs, &r->root, NULL) <= 0)
    return fail(r, 412, "%s is not in this node's store (only-if-cached)", r->root_text);
  return -1;
}

static int serve(rq_t *r) {
  const char *m = http_req_method(r->req);
  r->head = strcmp(m, "HEAD") == 0;
  if (!r->head && strcmp(m, "GET") != 0) {
    add_header(r, "Allow", "GET, HEAD");
    return fail(r, 405, "method %s is not allowed: the gateway answers GET and HEAD", m);
  }
  int rc = parse_request(r);
  if (rc >= 0) return rc;
  switch (r->format) {
    case GW_FORMAT_RAW: return serve_raw(r);
    case GW_FORMAT_CAR: return serve_car(r);
    default: return serve_deserialized(r);
  }
}

static int run(gateway_t *gw, http_req_t *req, bool inline_mode) {
  rq_t r = {.gw = gw, .req = req, .inline_mode = inline_mode};
  r.src.bs = gw->bs;
  r.src.budget = inline_mode;
  r.bsrc = (block_source_t){.get = src_get, .ctx = &r.src};
  r.query = http_req_query(req);
  if (!r.query) r.query = "";
  err_clear();
  int rc = serve(&r);
  src_free(&r.src);
  buf_free(&r.xpath);
  buf_free(&r.roots);
  return rc;
}

void gateway_handle(http_req_t *req, void *ctx) { run(ctx, req, false); }

bool gateway_inline(http_req_t *req, void *ctx) { return run(ctx, req, true) != BAIL; }

int gateway_new(repo_t *repo, gateway_t **out) {
  gateway_t *gw = calloc(1, sizeof *gw);
  if (!gw) return err_set(-ENOMEM, "out of memory");
  gw->repo = repo;
  gw->bs = repo->bs;
  if (pthread_key_create(&gw->chunk_key, chunk_destroy) != 0) {
    free(gw);
    return err_set(-EAGAIN, "no thread-specific key left");
  }
  pthread_mutex_init(&gw->body_lock, NULL);
  gw->body_bytes_max = BODY_CACHE_BYTES_MAX;
  /* a knob for benchmarks that measure the uncached path (0 turns the cache off) */
  const char *env = getenv("ANYA_GATEWAY_BODY_CACHE_BYTES");
  if (env && *env) {
    char *end;
    unsigned long long v = strtoull(env, &end, 10);
    if (*end == '\0') gw->body_bytes_max = (size_t)v;
  }
  *out = gw;
  return 0;
}

void gateway_set_ipns(gateway_t *gw, ipns_t *ipns) { gw->ipns = ipns; }

void gateway_free(gateway_t *gw) {
  if (!gw) return;
  while (gw->lru_head) {
    body_entry_t *e = gw->lru_head;
    body_unlink(gw, e);
    body_entry_free(e);
  }
  pthread_mutex_destroy(&gw->body_lock);
  /* the threads that served are gone (the server is freed first) and their
   * destructors freed their buffers; this thread's own, if any: */
  free(pthread_getspecific(gw->chunk_key));
  pthread_key_delete(gw->chunk_key);
  free(gw);
}
