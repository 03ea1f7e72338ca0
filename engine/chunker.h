/*
 * chunker: the importer's leaf producer.  It cuts a byte stream into
 * fixed-size chunks (every chunk exactly chunk_bytes except the last, like
 * boxo's size-N splitter: an empty stream has no chunk at all), turns each
 * chunk into a leaf block and hashes it, handing the leaves back strictly in
 * stream order.
 *
 * Leaf blocks (Kubo's three kinds):
 *   CHUNKER_LEAF_RAW          the chunk bytes alone; CIDv1 raw (--raw-leaves)
 *   CHUNKER_LEAF_UNIXFS_FILE  dag-pb PBNode{Data: UnixFS{Type=File, Data, filesize}} (balanced)
 *   CHUNKER_LEAF_UNIXFS_RAW   the same with Type=Raw (trickle)
 * The dag-pb wrapping is written in place around the chunk (head room before,
 * tail room after), so a chunk is never copied.
 *
 * Two ways of running behind one interface, chosen per stream:
 *   inline     the calling thread reads and hashes (small files: no hand-off cost);
 *   pipelined  hash workers (one a core) fill a ring of preallocated slots,
 *              encode and hash them in any order, and the caller takes them
 *              in stream order: reading, hashing and the caller's own work
 *              (storing blocks, building parents) overlap.  A regular file is
 *              pread by the workers themselves at each chunk's offset; a pipe
 *              is read by a reader thread that hands chunks to the workers.
 * The ring is allocated by chunker_new and threads start on the first
 * pipelined stream and live until chunker_free: nothing is allocated per block.
 * A chunker_t is used by one caller thread at a time.
 */
#ifndef ANYA_CHUNKER_H
#define ANYA_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#include "cid.h"

#define CHUNKER_HEAD_BYTES 16           /* room before a chunk for the dag-pb/UnixFS header */
#define CHUNKER_TAIL_BYTES 16           /* room after it for the filesize field */
#define CHUNKER_RING_BYTES_DEFAULT (16u * 1024 * 1024)
#define CHUNKER_SLOTS_MAX 256
#define CHUNKER_WORKERS_MAX 16
#define CHUNKER_INLINE_BYTES_MAX (1024u * 1024) /* streams known to be this small run inline */

typedef enum chunker_leaf_kind {
  CHUNKER_LEAF_RAW = 0,     /* raw block, CIDv1 raw */
  CHUNKER_LEAF_UNIXFS_FILE, /* dag-pb leaf, UnixFS Type=File */
  CHUNKER_LEAF_UNIXFS_RAW,  /* dag-pb leaf, UnixFS Type=Raw */
} chunker_leaf_kind_t;

typedef struct chunker_config {
  uint32_t chunk_bytes;          /* 1..IMP_CHUNK_BYTES_MAX */
  chunker_leaf_kind_t leaf_kind; /* what a leaf block is */
  uint32_t cid_version;          /* CID version of dag-pb leaves (raw leaves are always v1) */
  uint32_t workers;              /* hash threads; 0 = one per online core; at most
                                    (slots - 2) / 2 run, so memory stays in budget */
  size_t ring_bytes_max;         /* ring memory budget (at least 4 slots of
                                    chunk_bytes + 32); 0 = CHUNKER_RING_BYTES_DEFAULT */
} chunker_config_t;

typedef struct chunker_leaf {
  cid_t cid;              /* the leaf block's CID */
  const uint8_t *block;   /* the leaf block; borrowed until the next chunker_next/start/stop */
  size_t block_bytes;     /* its length */
  uint32_t data_bytes;    /* content bytes in the leaf (the chunk length) */
} chunker_leaf_t;

typedef struct chunker chunker_t;

/* Allocates a chunker (ring included).  0, -EINVAL bad config, -ENOMEM. */
int chunker_new(const chunker_config_t *cfg, chunker_t **out);

/* Stops the threads and frees everything.  NULL is a no-op. */
void chunker_free(chunker_t *c);

/* Begins a stream read from fd's current offset to end of file.  size_hint_bytes
 * is the expected length (UINT64_MAX when unknown, e.g. a pipe); streams known
 * to be at most CHUNKER_INLINE_BYTES_MAX run inline.  A previous stream must
 * have been read to its end or stopped.  0 or -ENOMEM/-EAGAIN (threads). */
int chunker_start(chunker_t *c, int fd, uint64_t size_hint_bytes);

/* Blocks until it is known whether another leaf follows: 1 yes, 0 end of
 * stream, negative errno when reading failed (err_set says why). */
int chunker_more(chunker_t *c);

/* Takes the next leaf: 1 (leaf filled), 0 end of stream, negative errno. */
int chunker_next(chunker_t *c, chunker_leaf_t *leaf);

/* Abandons the current stream (after an error elsewhere) and waits until the
 * pipeline is idle: a read() already in flight completes first, which on a
 * pipe means until the writer sends more or closes.  Harmless when the stream
 * already ended. */
void chunker_stop(chunker_t *c);

/* Encodes a dag-pb leaf in place: `data` points at data_bytes chunk bytes with
 * CHUNKER_HEAD_BYTES writable before and CHUNKER_TAIL_BYTES after.  Sets
 * *block / *block_bytes to the whole leaf.  Exposed for tests. */
void chunker_wrap_leaf(uint8_t *data, uint32_t data_bytes, uint32_t unixfs_type,
                       uint8_t **block, size_t *block_bytes);

#endif
