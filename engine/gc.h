/*
 * gc: online garbage collection of the block engine.  Mark from the roots
 * the registered providers give, sweep every block not marked, then compact
 * the segments the sweep emptied (bs_compact).
 *
 * Roots.  A root provider (gc_add_root_provider) is called once per run with
 * a marker and hands it either
 *   - roots: gc_mark_root(m, cid) keeps the block and everything reachable
 *     from it through dag-pb links and dag-cbor links (tag 42); raw and other
 *     codecs are leaves; or
 *   - an already expanded reachable set: gc_mark_block(m, mh, mh_len) keeps
 *     that one block (its signature is pins_reach_fn's, so the pin store's
 *     pins_reachable can feed the marker directly).
 * The pin store, the writable tree (/files) and DWN data register providers.
 * A provider error (a missing block under a root, a store failure) aborts the
 * run before anything is swept: blocks below what could not be read could
 * not be marked.  Identity CIDs are walked (their links) but never stored.
 *
 * Online safety.  Readers and writers never wait for GC's I/O: the mark
 * reads blocks like any reader (only blocks that can have links: a raw CID
 * is marked without being read, and each block is read at most once per
 * run), the sweep looks candidates up without the engine's lock and appends
 * their tombstones in chunks of GC_SWEEP_CHUNK per hold of it
 * (bs_gc_delete_batch), yielding the CPU between chunks (yield_cpu), and
 * compaction is online (bs.h) and yields too.  Nothing added during a run is collected:
 * gc_run calls bs_gc_begin before the providers run, and from then on the
 * engine records every multihash put, whether new or already present (a
 * dedupe hit "touches" it), in a touched set; the sweep deletes through
 * bs_gc_delete, which re-checks that set under the engine's lock, so a put
 * racing with the sweep of the same block either touches it first (kept) or
 * comes after the tombstone (stored again).  Candidates are the blocks in
 * the index when the sweep iterates it; a block put after bs_gc_begin is in
 * the touched set, so it is never swept even if it reached the index first.
 * A writer that starts referencing an existing block without putting it (a
 * pin added during the run) calls bs_touch.
 *
 * Memory: the marked set (mhset.h, ~16 bytes a slot + the key: 1 M blocks
 * ~ 80 MiB), the engine's touched set, one block buffer, and the sweep's
 * chunk (GC_SWEEP_CHUNK multihashes, about 5 KiB).
 * Threads: one gc_run per gc_t at a time (the engine refuses a second
 * concurrent bs_gc_begin with -EBUSY); providers run on the caller's thread.
 */
#ifndef ANYA_GC_H
#define ANYA_GC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "bs.h"
#include "cid.h"

#define GC_PROVIDERS_MAX 16        /* root providers per gc_t */
#define GC_WALK_DEPTH_MAX 4096     /* links below a root a walk accepts (-ELOOP past it) */
#define GC_SWEEP_CHUNK 64          /* tombstones appended per hold of the store's lock
                                      (<= BS_GC_BATCH_MAX) */

typedef struct gc gc_t;
typedef struct gc_marker gc_marker_t;

/* Keeps cid and everything reachable from it.  0 or negative errno. */
int gc_mark_root(gc_marker_t *m, const cid_t *cid);
/* Keeps one block (no walk).  marker is a gc_marker_t *.  0 or negative errno. */
int gc_mark_block(void *marker, const uint8_t *mh, size_t mh_len);

/* A root provider: gives its roots to m; 0 or negative errno (aborts the run). */
typedef int (*gc_root_fn)(void *ctx, gc_marker_t *m);

/* A collector for bs (borrowed; must outlive the gc_t).  0 or -ENOMEM. */
int gc_new(bs_t *bs, gc_t **out);
void gc_free(gc_t *gc);
/* Registers a provider (ctx borrowed).  0 or -ENOSPC (GC_PROVIDERS_MAX). */
int gc_add_root_provider(gc_t *gc, gc_root_fn fn, void *ctx);

typedef struct gc_options {
  block_source_t source;        /* where the walk reads blocks (.get NULL = bs_source(bs)) */
  bool compact;                 /* run bs_compact after the sweep */
  bs_compact_options_t compact_options;
  bool require_providers;       /* refuse (-ENODATA) to run with no provider registered */
  bool yield_cpu;               /* sched_yield between sweep chunks (default on: readers
                                   first; compact_options.yield_cpu does it for compaction) */
  /* Called for every block swept (may be NULL). */
  void (*removed)(void *ctx, const uint8_t *mh, size_t mh_len, uint64_t size_bytes);
  void *removed_ctx;
} gc_options_t;

typedef struct gc_result {
  uint64_t marked;              /* distinct blocks kept by the roots */
  uint64_t swept;               /* blocks deleted */
  uint64_t swept_bytes;         /* their bytes */
  uint64_t kept_touched;        /* unmarked blocks kept because they were put during the run */
  bs_compact_result_t compact;  /* what compaction did */
  uint64_t mark_ms;             /* wall-clock time per phase */
  uint64_t sweep_ms;
  uint64_t compact_ms;
} gc_result_t;

void gc_options_default(gc_options_t *opts);
/* One collection.  opts/result may be NULL.  0 or negative errno (err_set says why);
 * on a mark error nothing was deleted. */
int gc_run(gc_t *gc, const gc_options_t *opts, gc_result_t *result);

#endif
