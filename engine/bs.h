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
 *     from any thread; the record's checksum is verified on every read.
 *   - Identity multihashes are never stored: bs_put returns 1, bs_get returns
 *     the digest, bs_has says present.
 *   - Write-path errors are sticky: after a failed write, fdatasync or index
 *     write, every bs_put/bs_sync/bs_delete returns that error (err_msg says
 *     what failed) and blocks not yet committed are gone; reads keep working.
 *     Reopen the store: recovery makes it consistent again.
 *   - bs_fsck and bs_stat's counters are exact on a quiescent store.
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
} bs_stat_t;
int bs_stat(bs_t *bs, bs_stat_t *st);

/* Calls fn for every live block's multihash (bytes) and length; non-zero from fn stops. */
typedef int (*bs_each_fn)(void *ctx, const uint8_t *mh, size_t mh_len, uint64_t size_bytes);
int bs_each(bs_t *bs, bs_each_fn fn, void *ctx);

/* Full check: every record in every segment (checksum, hash) and every index
 * entry (points at a matching record).  Each problem goes to fn as one line
 * (may be NULL).  Returns the number of problems (0 = clean) or negative errno. */
int bs_fsck(bs_t *bs, void (*fn)(void *ctx, const char *problem), void *ctx);

/* Adapters for importer/exporter/CAR code. */
block_sink_t bs_sink(bs_t *bs);
block_source_t bs_source(bs_t *bs);

#endif
