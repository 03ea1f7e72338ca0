/*
 * bs: the block engine.  Content-addressed blocks in append-only segment files
 * written through io_uring (io.h), indexed by multihash in LevelDB.  The
 * on-disk format is docs/format.md.
 *
 * Durability is group commit: bs_put copies the block into the current batch
 * and returns; bs_sync waits until everything put before it (by any thread) is
 * on disk: one fdatasync per touched segment per batch plus one synced LevelDB
 * write batch, shared by all waiters.  bs_close syncs.
 * Blocks are keyed by multihash, so the CIDv0 and CIDv1 (any codec) of the
 * same bytes are the same block.  Putting an existing block is a no-op.
 * Thread-safe: any number of threads may put/get/sync concurrently.
 *
 * How it works (details at the top of bs.c):
 *   - Two batch buffers of batch_bytes_max: callers fill one (a memcpy and a
 *     crc32c per block, under the store's mutex) while a flusher thread
 *     writes the other with a few large io_uring writes.  A put blocks only
 *     when both buffers are busy.  No allocation per block.
 *   - Written batches reach the page cache; a commit (fdatasync + synced
 *     index batch, run by a committer thread while the flusher goes on
 *     writing) happens on bs_sync/bs_delete/bs_close, every sync_bytes_max
 *     bytes, when 8192 records are uncommitted, and before moving to a new
 *     segment.
 *   - Until committed, blocks live in an in-memory pending table, so
 *     bs_get/bs_has/bs_put (dedupe) see them at once: bytes still in a buffer
 *     are copied from memory, written ones are read from the segment.
 *   - Reads are one LevelDB lookup and one preadv (header, multihash and data
 *     in one syscall, straight into the caller's buf) through the I/O layer,
 *     from any thread; the record's checksum is verified on every read.  A
 *     read takes the store's mutex once (the pending table) and a second,
 *     segment-table mutex for its segment reference; nobody holds either
 *     across disk I/O or an index lookup, so a read never waits behind GC's,
 *     compaction's or a writer's I/O, only behind short in-memory work.
 *   - Identity multihashes are never stored: bs_put returns 1, bs_get returns
 *     the digest, bs_has says present.
 *   - Write-path errors are sticky: after a failed write, fdatasync or index
 *     write, every bs_put/bs_sync/bs_delete returns that error (err_msg says
 *     what failed) and blocks not yet committed are gone; reads keep working.
 *     Reopen the store: recovery makes it consistent again.
 *   - bs_fsck and bs_stat's counters are exact on a quiescent store.
 *   - Compaction (bs_compact) rewrites mostly-dead segments: live records are
 *     copied into the active segment by ordinary appends and commits, then the
 *     old file is deleted.  The segment is read and each record's index entry
 *     looked up without the store's lock; a live one is re-validated under it
 *     (a delete or put of the same block since the lookup wins: nothing is
 *     resurrected or lost) before its copy is appended.  Readers hold a reference on a segment for the
 *     duration of one read; a segment being deleted is first "retired" (new
 *     lookups that still find the old location retry, the index already names
 *     the copy), then its file is closed and unlinked once its last reader is
 *     gone, so no read ever touches a deleted or reused file descriptor.
 *   - Per-segment live bytes (record bytes of the blocks the index points
 *     at) are kept in memory: derived from the index entries (one pass over
 *     the 'B' keys, no segment read, without the store's lock) the first time
 *     bs_stat, bs_compact or bs_fsck needs them, not at open, then updated by
 *     every commit; they
 *     give dead ratios and reclaimable bytes without scanning again.
 *   - GC support: between bs_gc_begin and bs_gc_end the engine records every
 *     multihash put (new or already present: a dedupe hit "touches" the
 *     block) and bs_touch'ed; bs_gc_delete deletes a block only if it was not
 *     touched, checked under the same lock as the put, so nothing added or
 *     re-added during a GC can be swept.  Its index lookup runs before the
 *     lock is taken (repeated if a commit moved entries meanwhile), and
 *     bs_gc_delete_batch appends a chunk of tombstones per hold of the lock.
 *   - Memory: 2 x max(batch_bytes_max, one max record) for the buffers, about
 *     3 MiB of pending table, LevelDB's 4 MiB cache and 4 MiB write buffer.
 */
#ifndef ANYA_BS_H
#define ANYA_BS_H

#include <stdbool.h>
#include <stdint.h>

#include "block.h"
#include "buf.h"
#include "cid.h"

struct io_backend;

typedef struct bs bs_t;

typedef struct bs_options {
  const struct io_backend *io;   /* NULL = the real io_uring backend */
  uint64_t segment_bytes_max;    /* roll to a new segment past this (default 1 GiB) */
  uint64_t batch_bytes_max;      /* flush a batch when it reaches this (default 8 MiB) */
  uint64_t sync_bytes_max;       /* commit (fdatasync + index) at least every this many
                                    written bytes even without bs_sync (default 256 MiB) */
  bool read_only;                /* open without recovery writes (fsck); puts fail -EROFS */
} bs_options_t;

/* Defaults; segment_bytes_max can be overridden by the environment variable
 * ANYA_SEGMENT_BYTES_MAX (decimal bytes; at least 64 KiB is used): a knob for
 * tests that need many segments (tests/integration/gc-crash.sh). */
void bs_options_default(bs_options_t *opts);

/* Opens (creating if absent) the store in dir; runs recovery (torn tails dropped,
 * unindexed durable records re-indexed).  0 or negative errno (err_set says why). */
int bs_open(const char *dir, const bs_options_t *opts, bs_t **out);
/* Syncs, releases everything.  Returns the sync's result. */
int bs_close(bs_t *bs);

/* Queues a block (the caller vouches that cid matches data; len <= BLOCK_BYTES_MAX).
 * 0 queued, 1 already present, negative errno. Durable after bs_sync. */
int bs_put(bs_t *bs, const cid_t *cid, const void *data, size_t len);
/* Waits until every block put before this call is durable. */
int bs_sync(bs_t *bs);
/* Reads a block (pending or durable); verifies the record checksum.
 * 0, -ENOENT absent, -EBADMSG corrupt record. */
int bs_get(bs_t *bs, const cid_t *cid, buf_t *out);
/* 1 present, 0 absent, negative errno. *size_bytes (if non-NULL) gets its length. */
int bs_has(bs_t *bs, const cid_t *cid, uint64_t *size_bytes);
/* Deletes a block: a tombstone record and the index entry, durable on return.
 * 0 or -ENOENT. */
int bs_delete(bs_t *bs, const cid_t *cid);

typedef struct bs_stat {
  uint64_t blocks;        /* live blocks in the index */
  uint64_t block_bytes;   /* sum of live block lengths */
  uint64_t disk_bytes;    /* bytes on disk: segments + index */
  uint64_t segments;      /* segment files */
  uint64_t reclaimable_bytes; /* dead record bytes in segments other than the active one
                                 (a segment with nothing live: its whole file) */
} bs_stat_t;
int bs_stat(bs_t *bs, bs_stat_t *st);

/* Calls fn for every live block's multihash (bytes) and length; non-zero from fn stops. */
typedef int (*bs_each_fn)(void *ctx, const uint8_t *mh, size_t mh_len, uint64_t size_bytes);
int bs_each(bs_t *bs, bs_each_fn fn, void *ctx);

/* Full check: every record in every segment (checksum, hash) and every index
 * entry (points at a matching record).  Each problem goes to fn as one line
 * (may be NULL).  Returns the number of problems (0 = clean) or negative errno. */
int bs_fsck(bs_t *bs, void (*fn)(void *ctx, const char *problem), void *ctx);

/* ---- compaction ---- */

typedef struct bs_compact_options {
  double dead_ratio_min;      /* compact a segment when dead/(size - header) >= this
                                 (0 = default 0.5; a fully dead segment always qualifies) */
  uint64_t segments_max;      /* compact at most this many segments (0 = no limit) */
  bool yield_cpu;             /* sched_yield every BS_COMPACT_YIELD_RECORDS records copied,
                                 so concurrent readers get the CPU (GC sets it) */
} bs_compact_options_t;
#define BS_COMPACT_YIELD_RECORDS 64

typedef struct bs_compact_result {
  uint64_t segments_compacted; /* segment files deleted */
  uint64_t segments_skipped;   /* candidates left alone (a live record could not be copied) */
  uint64_t blocks_copied;      /* live block records rewritten */
  uint64_t bytes_copied;       /* record bytes appended (blocks and tombstones) */
  uint64_t bytes_freed;        /* file bytes deleted */
} bs_compact_result_t;

/* Rewrites every non-active segment whose dead ratio reaches the threshold:
 * copies its live blocks (and the tombstones that still matter) into the
 * active segment, commits, then deletes the file (docs/format.md,
 * "Deletion and compaction").  Crash-safe at every step; readers and writers
 * keep working.  One compaction at a time (callers are serialised).
 * opts/result may be NULL.  0 or negative errno. */
int bs_compact(bs_t *bs, const bs_compact_options_t *opts, bs_compact_result_t *result);

/* ---- garbage-collection support (gc.h drives it) ---- */

/* Starts recording touched multihashes (puts, dedupe hits, bs_touch).
 * -EBUSY if a GC is already active. */
int bs_gc_begin(bs_t *bs);
/* Records cid as touched if a GC is active (no-op otherwise).  For writers
 * that start to reference a block without putting it (a pin added during a GC). */
int bs_touch(bs_t *bs, const cid_t *cid);
/* Appends a tombstone for the block unless it was touched since bs_gc_begin;
 * does not wait for durability (bs_sync does).  0 deleted, 1 kept (touched),
 * -ENOENT absent, -EOVERFLOW the touched set overflowed (nothing can be
 * deleted safely in this GC), negative errno. */
int bs_gc_delete(bs_t *bs, const uint8_t *mh, size_t mh_len);
/* The sweep's batch form of bs_gc_delete: the index lookups of all n items
 * run first, without the store's lock (a reader never waits behind them);
 * then one short hold of the lock re-validates each item (touched set,
 * pending table, and a repeated lookup if a commit moved entries to the
 * index meanwhile) and appends its tombstone.  items[i].result gets what
 * bs_gc_delete would return for it (0 deleted, 1 kept, -ENOENT absent), and
 * size_bytes the deleted block's length.  Returns 0, or the first error that
 * stops the batch (-EOVERFLOW, a sticky write error): that item and the ones
 * after it get it as their result; the ones before were done.
 * n <= BS_GC_BATCH_MAX; no allocation (about 80 bytes of stack per item). */
#define BS_GC_BATCH_MAX 256
typedef struct bs_gc_item {
  uint8_t mh[MH_BYTES_MAX];   /* in: the multihash */
  uint16_t mh_len;            /* in: its bytes, 1..MH_BYTES_MAX */
  int result;                 /* out */
  uint64_t size_bytes;        /* out: block bytes when deleted */
} bs_gc_item_t;
int bs_gc_delete_batch(bs_t *bs, bs_gc_item_t *items, size_t n);
/* Stops recording and frees the touched set. */
void bs_gc_end(bs_t *bs);

/* Adapters for importer/exporter/CAR code. */
block_sink_t bs_sink(bs_t *bs);
block_source_t bs_source(bs_t *bs);

/* Fetch on miss: when a fetcher is set, bs_source's get asks it for a block
 * the store lacks (bs_get itself never does: fsck, GC and stat stay local).
 * The fetcher verifies and stores the block, fills out, and returns 0,
 * -ENOENT (nobody has it) or -ETIMEDOUT.  NULL fn removes it.  Set before
 * readers start, cleared before the fetcher goes away: bs_set_fetcher
 * returns only when no call into the previous fetcher is in progress (so
 * make those calls return first, e.g. -ECANCELED). */
typedef int (*bs_fetch_fn)(void *ctx, const cid_t *cid, buf_t *out);
void bs_set_fetcher(bs_t *bs, bs_fetch_fn fn, void *ctx);

#endif
