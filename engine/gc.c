/*
 * gc: mark (roots from providers, DAG walk), sweep (bs_gc_delete), compact.
 * See gc.h for the design and why it is safe online.
 */
#include "gc.h"

#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "links.h"
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
  buf_t links;            /* its links (cid_t array, links.h) */
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
  opts->yield_cpu = true;
  opts->compact_options.yield_cpu = true;
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
  bool can_link = links_codec_may_link(cid->codec);
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

/* Reads a block with links and visits its children. */
static int expand(gc_marker_t *m, const gc_step_t *step) {
  int rc = m->source.get(m->source.ctx, &step->cid, &m->block);
  if (rc) {
    char text[CID_TEXT_BYTES_MAX];
    if (cid_format_default(&step->cid, text) < 0) snprintf(text, sizeof text, "?");
    return err_set(rc, "garbage collection: cannot read %s (%s); nothing collected", text, err_msg(rc));
  }
  rc = links_of(&step->cid, m->block.data, m->block.len, &m->links);
  if (rc) return err_set(rc, "garbage collection: %s; nothing collected", err_msg(rc));
  const cid_t *links = (const cid_t *)m->links.data;
  for (size_t i = 0; !rc && i < m->links.len / sizeof *links; i++) rc = visit(m, &links[i], step->depth + 1);
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

/* ---- sweep ----
 *
 * Candidates come from bs_each's pass over the index; the unmarked ones are
 * gathered into chunks of GC_SWEEP_CHUNK and handed to bs_gc_delete_batch,
 * whose index lookups run without the store's lock and whose appends take
 * it once per chunk; between chunks the sweep yields the CPU, so a reader
 * on a busy machine is not starved by a sweep that never sleeps. */

typedef struct sweep {
  bs_t *bs;
  const mhset_t *marked;
  const gc_options_t *opts;
  gc_result_t *res;
  bs_gc_item_t chunk[GC_SWEEP_CHUNK];
  size_t chunk_len;
} sweep_t;

static int sweep_flush(sweep_t *s) {
  if (s->chunk_len == 0) return 0;
  int rc = bs_gc_delete_batch(s->bs, s->chunk, s->chunk_len);
  for (size_t i = 0; i < s->chunk_len; i++) {
    const bs_gc_item_t *item = &s->chunk[i];
    if (item->result == 1) s->res->kept_touched++;
    if (item->result != 0) continue; /* kept, deleted meanwhile (-ENOENT), or the error */
    s->res->swept++;
    s->res->swept_bytes += item->size_bytes;
    if (s->opts->removed) s->opts->removed(s->opts->removed_ctx, item->mh, item->mh_len, item->size_bytes);
  }
  s->chunk_len = 0;
  if (s->opts->yield_cpu) sched_yield();
  return rc;
}

static int sweep_one(void *ctx, const uint8_t *mh, size_t mh_len, uint64_t size_bytes) {
  sweep_t *s = ctx;
  (void)size_bytes; /* the batch reports the length it deleted */
  if (mhset_has(s->marked, mh, mh_len)) return 0;
  assert(mh_len > 0 && mh_len <= MH_BYTES_MAX);
  bs_gc_item_t *item = &s->chunk[s->chunk_len++];
  memcpy(item->mh, mh, mh_len);
  item->mh_len = (uint16_t)mh_len;
  return s->chunk_len == GC_SWEEP_CHUNK ? sweep_flush(s) : 0;
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
    sweep_t *s = malloc(sizeof *s);
    if (!s) rc = -ENOMEM;
    else {
      *s = (sweep_t){.bs = gc->bs, .marked = &m.marked, .opts = opts, .res = res};
      rc = bs_each(gc->bs, sweep_one, s);
      int flush_rc = sweep_flush(s);
      if (!rc) rc = flush_rc;
      free(s);
    }
    int sync_rc = bs_sync(gc->bs); /* the tombstones, durable */
    if (!rc) rc = sync_rc;
  }
  bs_gc_end(gc->bs);
  mhset_free(&m.marked);
  free(m.stack);
  buf_free(&m.block);
  buf_free(&m.links);
  uint64_t swept_at = now_ms();
  res->sweep_ms = swept_at - marked_at;
  if (!rc && opts->compact) rc = bs_compact(gc->bs, &opts->compact_options, &res->compact);
  res->compact_ms = now_ms() - swept_at;
  return rc;
}
