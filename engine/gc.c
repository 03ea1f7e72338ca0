/*
 * gc: mark (roots from providers, DAG walk), sweep (bs_gc_delete), compact.
 * See gc.h for the design and why it is safe online.
 */
#include "gc.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dagpb.h"
#include "err.h"
#include "mhset.h"

typedef struct gc_provider {
  gc_root_fn fn;   /* gives the roots */
  void *ctx;       /* its state (borrowed) */
} gc_provider_t;

struct gc {
  bs_t *bs;                                   /* borrowed */
  gc_provider_t providers[GC_PROVIDERS_MAX];
  size_t providers_len;
};

/* A pending walk step: a block to read for links, and how deep it is. */
typedef struct gc_step {
  cid_t cid;
  uint32_t depth;
} gc_step_t;

struct gc_marker {
  mhset_t marked;         /* blocks kept */
  block_source_t source;  /* where blocks are read */
  gc_step_t *stack;       /* explicit walk stack (owned) */
  size_t stack_len;
  size_t stack_cap;
  buf_t block;            /* the block being decoded */
};

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int gc_new(bs_t *bs, gc_t **out) {
  assert(bs && out);
  gc_t *gc = calloc(1, sizeof *gc);
  if (!gc) return -ENOMEM;
  gc->bs = bs;
  *out = gc;
  return 0;
}

void gc_free(gc_t *gc) { free(gc); }

int gc_add_root_provider(gc_t *gc, gc_root_fn fn, void *ctx) {
  assert(gc && fn);
  if (gc->providers_len == GC_PROVIDERS_MAX)
    return err_set(-ENOSPC, "more than %d garbage-collection root providers", GC_PROVIDERS_MAX);
  gc->providers[gc->providers_len++] = (gc_provider_t){.fn = fn, .ctx = ctx};
  return 0;
}

void gc_options_default(gc_options_t *opts) {
  assert(opts);
  memset(opts, 0, sizeof *opts);
  opts->compact = true;
}

/* ---- mark ---- */

static int push(gc_marker_t *m, const cid_t *cid, uint32_t depth) {
  if (depth > GC_WALK_DEPTH_MAX) return err_set(-ELOOP, "DAG deeper than %d links", GC_WALK_DEPTH_MAX);
  if (m->stack_len == m->stack_cap) {
    size_t cap = m->stack_cap ? m->stack_cap * 2 : 256;
    gc_step_t *grown = realloc(m->stack, cap * sizeof *grown);
    if (!grown) return -ENOMEM;
    m->stack = grown;
    m->stack_cap = cap;
  }
  m->stack[m->stack_len++] = (gc_step_t){.cid = *cid, .depth = depth};
  return 0;
}

/* Marks cid; queues it for a link walk when it is new and can have links. */
static int visit(gc_marker_t *m, const cid_t *cid, uint32_t depth) {
  bool can_link = cid->codec == CODEC_DAG_PB || cid->codec == CODEC_DAG_CBOR;
  if (cid->hash.code == MH_IDENTITY) return can_link ? push(m, cid, depth) : 0; /* never stored */
  uint8_t mh[MH_BYTES_MAX];
  size_t mh_len = cid_mh_bytes(cid, mh);
  if (mh_len == 0) return err_set(-EINVAL, "bad multihash in a link");
  int added = mhset_add(&m->marked, mh, mh_len);
  if (added < 0) return err_set(added, "marked set: %s", err_msg(added));
  /* A block can be reached as raw and as dag-pb (same multihash): the first
   * codec seen decides whether its links are walked; dag-pb and dag-cbor
   * CIDs of one multihash would be the same bytes under two codecs, which
   * no importer produces. */
  return added && can_link ? push(m, cid, depth) : 0;
}

/* dag-cbor: finds the links (tag 42 over a byte string: 0x00 + binary CID).
 * Strict subset: definite lengths only (DAG-CBOR forbids the others). */
static int cbor_item(gc_marker_t *m, const uint8_t *p, size_t len, size_t *pos, int nesting,
                     uint32_t depth);

static int cbor_head(const uint8_t *p, size_t len, size_t *pos, int *major, uint64_t *value) {
  if (*pos >= len) return err_set(-EINVAL, "dag-cbor: truncated");
  uint8_t b = p[(*pos)++];
  *major = b >> 5;
  uint8_t info = b & 31;
  if (info < 24) {
    *value = info;
    return 0;
  }
  if (info > 27) return err_set(-EINVAL, "dag-cbor: indefinite or reserved length");
  size_t n = (size_t)1 << (info - 24);
  if (len - *pos < n) return err_set(-EINVAL, "dag-cbor: truncated");
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v = (v << 8) | p[(*pos)++];
  *value = v;
  return 0;
}

static int cbor_item(gc_marker_t *m, const uint8_t *p, size_t len, size_t *pos, int nesting,
                     uint32_t depth) {
  if (nesting > GC_CBOR_NESTING_MAX) return err_set(-ELOOP, "dag-cbor: nested too deep");
  int major;
  uint64_t value;
  int rc = cbor_head(p, len, pos, &major, &value);
  if (rc) return rc;
  switch (major) {
    case 0: case 1: case 7: return 0;
    case 2: case 3:
      if (value > len - *pos) return err_set(-EINVAL, "dag-cbor: truncated string");
      *pos += (size_t)value;
      return 0;
    case 4: case 5: {
      uint64_t items = major == 5 ? value * 2 : value;
      if (value > len - *pos || items > len - *pos) return err_set(-EINVAL, "dag-cbor: truncated container");
      for (uint64_t i = 0; i < items; i++)
        if ((rc = cbor_item(m, p, len, pos, nesting + 1, depth))) return rc;
      return 0;
    }
    default: break; /* 6: a tag */
  }
  if (value != 42) return cbor_item(m, p, len, pos, nesting + 1, depth);
  uint64_t n;
  if ((rc = cbor_head(p, len, pos, &major, &n))) return rc;
  if (major != 2 || n < 2 || n > len - *pos || p[*pos] != 0)
    return err_set(-EINVAL, "dag-cbor: malformed link (tag 42)");
  cid_t link;
  int used = cid_from_bytes(&link, p + *pos + 1, (size_t)n - 1);
  if (used != (int)(n - 1)) return err_set(-EINVAL, "dag-cbor: malformed CID in a link");
  *pos += (size_t)n;
  return visit(m, &link, depth + 1);
}

/* Reads a block with links and visits its children. */
static int expand(gc_marker_t *m, const gc_step_t *step) {
  int rc = m->source.get(m->source.ctx, &step->cid, &m->block);
  if (rc) {
    char text[CID_TEXT_BYTES_MAX];
    if (cid_format_default(&step->cid, text) < 0) snprintf(text, sizeof text, "?");
    return err_set(rc, "garbage collection: cannot read %s (%s); nothing collected", text, err_msg(rc));
  }
  if (step->cid.codec == CODEC_DAG_PB) {
    dagpb_node_t node;
    rc = dagpb_decode(m->block.data, m->block.len, &node);
    if (rc) return err_set(rc, "garbage collection: malformed dag-pb block; nothing collected");
    for (size_t i = 0; !rc && i < node.links_len; i++) rc = visit(m, &node.links[i].cid, step->depth + 1);
    dagpb_node_free(&node);
    return rc;
  }
  size_t pos = 0;
  rc = cbor_item(m, m->block.data, m->block.len, &pos, 0, step->depth);
  if (!rc && pos != m->block.len) rc = err_set(-EINVAL, "dag-cbor: trailing bytes");
  return rc;
}

int gc_mark_root(gc_marker_t *m, const cid_t *cid) {
  assert(m && cid);
  int rc = visit(m, cid, 0);
  for (size_t steps = 0; !rc && m->stack_len > 0; steps++) {
    gc_step_t step = m->stack[--m->stack_len];
    rc = expand(m, &step);
  }
  m->stack_len = 0;
  return rc;
}

int gc_mark_block(void *marker, const uint8_t *mh, size_t mh_len) {
  gc_marker_t *m = marker;
  assert(m && mh);
  int added = mhset_add(&m->marked, mh, mh_len);
  return added < 0 ? err_set(added, "marked set: %s", err_msg(added)) : 0;
}

/* ---- sweep ---- */

typedef struct sweep {
  bs_t *bs;
  const mhset_t *marked;
  const gc_options_t *opts;
  gc_result_t *res;
} sweep_t;

static int sweep_one(void *ctx, const uint8_t *mh, size_t mh_len, uint64_t size_bytes) {
  sweep_t *s = ctx;
  if (mhset_has(s->marked, mh, mh_len)) return 0;
  int rc = bs_gc_delete(s->bs, mh, mh_len);
  if (rc == -ENOENT) return 0; /* deleted meanwhile */
  if (rc < 0) return rc;
  if (rc == 1) {
    s->res->kept_touched++;
    return 0;
  }
  s->res->swept++;
  s->res->swept_bytes += size_bytes;
  if (s->opts->removed) s->opts->removed(s->opts->removed_ctx, mh, mh_len, size_bytes);
  return 0;
}

int gc_run(gc_t *gc, const gc_options_t *opts, gc_result_t *result) {
  assert(gc);
  gc_options_t defaults;
  gc_options_default(&defaults);
  if (!opts) opts = &defaults;
  gc_result_t ignored;
  gc_result_t *res = result ? result : &ignored;
  memset(res, 0, sizeof *res);
  if (opts->require_providers && gc->providers_len == 0)
    return err_set(-ENODATA, "no garbage-collection root provider: refusing to collect everything");

  int rc = bs_gc_begin(gc->bs); /* from here on, every put is protected */
  if (rc) return rc;
  uint64_t start = now_ms();
  gc_marker_t m = {.source = opts->source.get ? opts->source : bs_source(gc->bs)};
  for (size_t i = 0; !rc && i < gc->providers_len; i++) rc = gc->providers[i].fn(gc->providers[i].ctx, &m);
  res->marked = m.marked.len;
  uint64_t marked_at = now_ms();
  res->mark_ms = marked_at - start;
  if (!rc) {
    sweep_t s = {.bs = gc->bs, .marked = &m.marked, .opts = opts, .res = res};
    rc = bs_each(gc->bs, sweep_one, &s);
    int sync_rc = bs_sync(gc->bs); /* the tombstones, durable */
    if (!rc) rc = sync_rc;
  }
  bs_gc_end(gc->bs);
  mhset_free(&m.marked);
  free(m.stack);
  buf_free(&m.block);
  uint64_t swept_at = now_ms();
  res->sweep_ms = swept_at - marked_at;
  if (!rc && opts->compact) rc = bs_compact(gc->bs, &opts->compact_options, &res->compact);
  res->compact_ms = now_ms() - swept_at;
  return rc;
}
