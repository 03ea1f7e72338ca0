/*
 * bs: the block engine (bs.h; on-disk format in docs/format.md).
 *
 * Threads.  Callers' threads copy records into the filling batch buffer under
 * bs->mutex and return; per store, a flusher thread writes sealed batches
 * through io_write_all (io_uring, 1 MiB SQEs submitted together) and a
 * committer thread runs commits.  There are two batch buffers: while the
 * flusher writes one, callers fill the other, so a put blocks only when both
 * are busy; and while the committer waits for fdatasync, the flusher keeps
 * writing.
 *
 * Durability points.  Writing a batch only reaches the page cache.  A commit
 * (fdatasync of the one segment written since the last commit, then one
 * synced LevelDB write batch holding the index entries, the segment's new
 * durable length "watermark" and the counters) makes everything written up
 * to its start durable.  One commit is in flight at a time; the flusher
 * prepares it (under the mutex) when a bs_sync/bs_delete/bs_close asks, when
 * sync_bytes_max bytes are uncommitted, or when the pending table fills up,
 * and waits for a full commit before moving to a new segment, so at most one
 * segment is ever dirty.  Every waiter whose blocks were in it returns
 * together.
 *
 * Pending table.  Records written but not yet committed are not in LevelDB;
 * a fixed-size table (ring of entries in append order plus hash chains over
 * the multihash) keeps them visible to bs_get/bs_has/bs_put (dedupe).  A
 * pending entry's bytes are found in the filling buffer, in the buffer being
 * written, or (once written) in the segment file.  No allocation per block.
 *
 * Errors on the write path are sticky: after a failed write, fdatasync or
 * index write nothing more is written (the page cache can no longer be
 * trusted, cf. "fsyncgate"); every later put/sync/delete returns the error
 * and the store must be reopened, which runs recovery.  Reads keep working.
 *
 * Recovery (bs_open).  Per segment: everything before the watermark is known
 * durable and indexed.  Past it, records are made durable (fdatasync), then
 * re-indexed (blocks absent from the index are added; tombstones delete the
 * entry they name) up to the first bad record, where the torn tail is cut
 * (ftruncate).  A newest segment whose header never became valid is removed.
 */
#include "bs.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <leveldb/c.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "err.h"
#include "io.h"
#include "mhset.h"
#include "segment.h"
#include "storage_metrics.h"

#define BS_PENDING_MAX 16384u                       /* uncommitted records held in memory */
#define BS_PENDING_COMMIT_AT (BS_PENDING_MAX / 2)   /* commit early once this many are pending */
#define BS_BUCKETS (2 * BS_PENDING_MAX)             /* hash buckets (power of two) */
#define BS_NONE UINT32_MAX                          /* empty chain / bucket */
#define BS_SEGMENTS_MAX 65536u                      /* segment files per store */
#define BS_SEGMENT_BYTES_DEFAULT (1ull << 30)
#define BS_SEGMENT_BYTES_MIN (64ull << 10)
#define BS_BATCH_BYTES_DEFAULT (8ull << 20)
#define BS_SYNC_BYTES_DEFAULT (256ull << 20)
#define BS_PATH_BYTES_MAX PATH_MAX
#define BS_DIR_BYTES_MAX (BS_PATH_BYTES_MAX - 64) /* room for "/index/<file>" and segment names */
#define BS_INDEX_FORMAT_VERSION 1
#define BS_LOCATION_BYTES 16                        /* index value: u32 segment, u64 offset, u32 length */
#define BS_KEY_BYTES_MAX (1 + MH_BYTES_MAX)
#define BS_LEVELDB_CACHE_BYTES (4u << 20)
#define BS_LEVELDB_WRITE_BUFFER_BYTES (4u << 20)

/* Index key prefixes (docs/format.md). */
#define BS_KEY_BLOCK 'B'
#define BS_KEY_WATERMARK 'W'
#define BS_KEY_META 'M'             /* "Mformat", "Mstats" */
static const char bs_key_format[] = "Mformat";
static const char bs_key_stats[] = "Mstats";

typedef enum bs_batch_state {
  BS_BATCH_FREE,     /* unused, empty */
  BS_BATCH_FILLING,  /* callers append here (exactly one batch is FILLING) */
  BS_BATCH_SEALED,   /* full or asked for; waiting for the flusher */
  BS_BATCH_WRITING,  /* the flusher is writing it (no lock held) */
} bs_batch_state_t;

typedef struct bs_batch {
  uint8_t *data;            /* records, back to back (owned) */
  size_t len_bytes;         /* bytes used */
  size_t cap_bytes;         /* bytes allocated */
  uint32_t segment_id;      /* where data[0] goes ... */
  uint64_t segment_offset;  /* ... and at which offset */
  uint64_t seq;             /* batch sequence number (1, 2, ...), 0 while empty */
  bs_batch_state_t state;
} bs_batch_t;

typedef struct bs_segment {
  uint32_t id;              /* segment id (file name) */
  int fd;                   /* open for the store's lifetime */
  uint64_t size_bytes;      /* bytes written (flusher's view; recovery: valid end) */
  uint64_t durable_bytes;   /* committed watermark */
  bool broken;              /* header unreadable: never appended to */
  uint64_t live_bytes;      /* record bytes of the blocks the index points at here */
  int64_t live_delta;       /* commits' changes to it while live_ensure_locked counts */
  uint32_t readers;         /* reads in progress on fd (locate .. release); seg_mutex */
  bool retired;             /* compaction deletes it: no new readers; set under seg_mutex */
} bs_segment_t;

typedef struct bs_entry {
  uint8_t mh[MH_BYTES_MAX]; /* key */
  uint16_t mh_len;          /* key bytes */
  uint8_t kind;             /* SEG_KIND_BLOCK or SEG_KIND_TOMBSTONE */
  uint32_t segment_id;      /* where the record is */
  uint64_t offset;          /* record offset in the segment */
  uint32_t data_len;        /* block bytes (tombstone: bytes of the block it deletes) */
  uint32_t target_segment;  /* tombstone: the deleted record; block: 0, or the record this
                               is a compaction copy of */
  uint64_t target_offset;
  uint64_t batch_seq;       /* batch holding the record */
  uint32_t next;            /* hash chain: next older entry's slot, or BS_NONE */
  uint32_t bucket;          /* its bucket */
} bs_entry_t;

struct bs {
  char dir[BS_DIR_BYTES_MAX];    /* the store directory */
  const io_backend_t *io;
  bs_options_t opts;
  uint64_t sync_bytes_max;       /* commit once this many bytes are uncommitted */

  leveldb_t *db;
  leveldb_options_t *db_options;
  leveldb_filterpolicy_t *db_filter;
  leveldb_cache_t *db_cache;
  leveldb_readoptions_t *db_read;
  leveldb_readoptions_t *db_read_bulk; /* GC, compaction, scans: do not fill the block cache
                                          (readers' index blocks stay cached) */
  leveldb_writeoptions_t *db_write_sync;
  leveldb_writeoptions_t *db_write_async;

  pthread_mutex_t mutex;         /* guards everything below */
  pthread_cond_t flusher_cond;   /* the flusher waits for work */
  pthread_cond_t done_cond;      /* callers wait for progress (buffer free, commit, error) */
  pthread_t flusher;
  bool flusher_running;
  bool stopping;                 /* bs_close: flush, commit, exit */
  pthread_cond_t commit_cond;    /* the committer waits for a commit to run */
  pthread_t committer;
  bool committer_running;
  bool committer_stop;           /* bs_close, after the flusher is gone */

  /* the commit in flight (at most one), prepared by the flusher */
  bool commit_inflight;
  uint64_t commit_seq;           /* batches <= this are in it */
  leveldb_writebatch_t *commit_batch; /* index entries, watermark, counters */
  int commit_fd;                 /* the segment to fdatasync */
  uint32_t commit_segment_id;
  uint64_t commit_watermark;     /* its length once committed */
  size_t commit_entries;         /* pending entries it moves to the index (from the head) */
  uint64_t commit_blocks;        /* counters once committed */
  uint64_t commit_block_bytes;

  bs_batch_t batches[2];
  int fill;                      /* index of the FILLING batch */
  uint64_t next_seq;             /* next batch sequence number */
  uint64_t written_seq;          /* every batch <= this is written */
  uint64_t durable_seq;          /* every batch <= this is committed */
  uint64_t sync_target_seq;      /* callers want batches <= this committed */
  uint64_t uncommitted_bytes;    /* written since the last commit began */
  uint32_t append_segment_id;    /* next record goes to this segment ... */
  uint64_t append_offset;        /* ... at this offset */
  int error;                     /* sticky write-path error, 0 = none */
  char error_msg[ERR_MSG_BYTES_MAX];

  /* The segment table.  Its shape (the array, its order and length) changes
   * only with both mutex and seg_mutex held, so either lock is enough to
   * look a segment up; readers/retired belong to seg_mutex, which guards
   * nothing else and is never held across I/O, so a read (bs_get) takes the
   * store's mutex once, for the pending table, and seg_mutex for its
   * segment reference. */
  pthread_mutex_t seg_mutex;     /* taken after mutex, never before it */
  pthread_cond_t seg_cond;       /* a retired segment's last reader left */
  bs_segment_t *segments;        /* sorted by id */
  size_t segments_len;
  size_t segments_cap;
  uint32_t dirty_segment_id;     /* flusher: the segment being written (0 none yet); all
                                    uncommitted written bytes are in it */

  bs_entry_t *entries;           /* ring of BS_PENDING_MAX */
  uint64_t entries_head;         /* oldest entry's position (slot = pos % BS_PENDING_MAX) */
  uint64_t entries_tail;         /* one past the newest */
  uint32_t *buckets;             /* BS_BUCKETS chain heads */
  uint64_t commit_gen;           /* bumped when committed entries leave the table */

  uint64_t blocks;               /* committed live blocks */
  uint64_t block_bytes;          /* committed live bytes */
  int64_t pending_blocks;        /* delta of uncommitted entries */
  int64_t pending_bytes;

  pthread_mutex_t compact_mutex; /* one bs_compact (or bs_fsck) at a time; taken before mutex */
  bool live_valid;               /* segments' live_bytes computed (live_ensure_locked) */
  bool live_counting;            /* live_ensure_locked's pass is running (without the mutex) */
  bool gc_active;                /* between bs_gc_begin and bs_gc_end */
  bool gc_overflow;              /* the touched set could not grow: sweep nothing */
  mhset_t gc_touched;            /* multihashes put or touched during the GC */

  /* Fetch on miss (bs_set_fetcher): read by bs_source's get under
   * fetcher_mutex, a lock of its own so a fetch never touches the store's. */
  pthread_mutex_t fetcher_mutex;
  pthread_cond_t fetcher_cond;   /* fetcher_calls dropped to 0 */
  bs_fetch_fn fetcher;           /* NULL: a miss stays -ENOENT */
  void *fetcher_ctx;
  uint64_t fetcher_calls;        /* calls into the fetcher in progress */
};

/* ---- small helpers ---- */

static void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_le32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t get_le64(const uint8_t *p) { return (uint64_t)get_le32(p) | ((uint64_t)get_le32(p + 4) << 32); }

static size_t pending_count(const bs_t *bs) { return (size_t)(bs->entries_tail - bs->entries_head); }

static uint32_t mh_hash(const uint8_t *mh, size_t len) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < len; i++) h = (h ^ mh[i]) * 1099511628211ull;
  return (uint32_t)(h ^ (h >> 32));
}

static size_t block_key(uint8_t key[BS_KEY_BYTES_MAX], const uint8_t *mh, size_t mh_len) {
  key[0] = BS_KEY_BLOCK;
  memcpy(key + 1, mh, mh_len);
  return 1 + mh_len;
}

static void watermark_key(uint8_t key[5], uint32_t segment_id) {
  key[0] = BS_KEY_WATERMARK;
  key[1] = (uint8_t)(segment_id >> 24);
  key[2] = (uint8_t)(segment_id >> 16);
  key[3] = (uint8_t)(segment_id >> 8);
  key[4] = (uint8_t)segment_id;
}

static void location_encode(uint8_t out[BS_LOCATION_BYTES], uint32_t segment_id, uint64_t offset,
                            uint32_t len) {
  put_le32(out, segment_id);
  put_le64(out + 4, offset);
  put_le32(out + 12, len);
}

typedef struct bs_location {
  uint32_t segment_id;  /* segment holding the record */
  uint64_t offset;      /* record offset */
  uint32_t len;         /* block bytes */
} bs_location_t;

static int location_decode(const char *value, size_t len, bs_location_t *out) {
  if (len != BS_LOCATION_BYTES) return -EBADMSG;
  const uint8_t *p = (const uint8_t *)value;
  out->segment_id = get_le32(p);
  out->offset = get_le64(p + 4);
  out->len = get_le32(p + 12);
  if (out->len > BLOCK_BYTES_MAX || out->offset < SEG_HEADER_BYTES) return -EBADMSG;
  return 0;
}

static void stats_encode(uint8_t out[16], uint64_t blocks, uint64_t bytes) {
  put_le64(out, blocks);
  put_le64(out + 8, bytes);
}

/* Reads an index entry: 1 found, 0 absent, negative errno.  bulk: a lookup
 * of GC or compaction, which goes over every entry once and so must not
 * evict the blocks that readers' lookups keep in LevelDB's cache. */
static int db_lookup_as(bs_t *bs, bool bulk, const uint8_t *mh, size_t mh_len, bs_location_t *loc) {
  uint8_t key[BS_KEY_BYTES_MAX];
  size_t key_len = block_key(key, mh, mh_len);
  char *error = NULL;
  size_t value_len = 0;
  char *value = leveldb_get(bs->db, bulk ? bs->db_read_bulk : bs->db_read, (const char *)key, key_len,
                            &value_len, &error);
  if (error) {
    int rc = err_set(-EIO, "index read: %s", error);
    leveldb_free(error);
    leveldb_free(value);
    return rc;
  }
  if (!value) return 0;
  bs_location_t tmp;
  int rc = location_decode(value, value_len, loc ? loc : &tmp);
  leveldb_free(value);
  if (rc) return err_set(rc, "index entry malformed");
  return 1;
}

static int db_lookup(bs_t *bs, const uint8_t *mh, size_t mh_len, bs_location_t *loc) {
  return db_lookup_as(bs, false, mh, mh_len, loc);
}

static int db_write(bs_t *bs, leveldb_writebatch_t *batch, bool sync) {
  char *error = NULL;
  leveldb_write(bs->db, sync ? bs->db_write_sync : bs->db_write_async, batch, &error);
  if (error) {
    int rc = err_set(-EIO, "index write: %s", error);
    leveldb_free(error);
    return rc;
  }
  return 0;
}

static void segment_path(const bs_t *bs, uint32_t segment_id, char out[BS_PATH_BYTES_MAX]) {
  char name[SEG_NAME_BYTES_MAX];
  seg_name(segment_id, name);
  snprintf(out, BS_PATH_BYTES_MAX, "%s/%s", bs->dir, name);
}

/* Caller holds the mutex or seg_mutex (or is single-threaded). */
static bs_segment_t *segment_find(bs_t *bs, uint32_t segment_id) {
  size_t lo = 0, hi = bs->segments_len;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (bs->segments[mid].id == segment_id) return &bs->segments[mid];
    if (bs->segments[mid].id < segment_id) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

/* Appends (ids only grow).  Caller holds the mutex (or is single-threaded). */
static int segment_add(bs_t *bs, uint32_t segment_id, int fd, uint64_t size_bytes) {
  assert(bs->segments_len == 0 || bs->segments[bs->segments_len - 1].id < segment_id);
  if (bs->segments_len == BS_SEGMENTS_MAX)
    return err_set(-EMFILE, "block store: more than %u segments", BS_SEGMENTS_MAX);
  pthread_mutex_lock(&bs->seg_mutex);
  if (bs->segments_len == bs->segments_cap) {
    size_t cap = bs->segments_cap ? bs->segments_cap * 2 : 16;
    bs_segment_t *grown = realloc(bs->segments, cap * sizeof *grown);
    if (!grown) {
      pthread_mutex_unlock(&bs->seg_mutex);
      return -ENOMEM;
    }
    bs->segments = grown;
    bs->segments_cap = cap;
  }
  bs->segments[bs->segments_len++] = (bs_segment_t){
      .id = segment_id, .fd = fd, .size_bytes = size_bytes, .durable_bytes = size_bytes};
  pthread_mutex_unlock(&bs->seg_mutex);
  return 0;
}

/* ---- the pending table (caller holds the mutex) ---- */

static bs_entry_t *pending_find(bs_t *bs, const uint8_t *mh, size_t mh_len) {
  uint32_t slot = bs->buckets[mh_hash(mh, mh_len) & (BS_BUCKETS - 1)];
  for (size_t steps = 0; slot != BS_NONE && steps < BS_PENDING_MAX; steps++) {
    bs_entry_t *e = &bs->entries[slot];
    if (e->mh_len == mh_len && memcmp(e->mh, mh, mh_len) == 0) return e;
    slot = e->next;
  }
  return NULL;
}

static bs_entry_t *pending_add(bs_t *bs, const uint8_t *mh, size_t mh_len) {
  assert(pending_count(bs) < BS_PENDING_MAX);
  uint32_t slot = (uint32_t)(bs->entries_tail++ % BS_PENDING_MAX);
  bs_entry_t *e = &bs->entries[slot];
  memcpy(e->mh, mh, mh_len);
  e->mh_len = (uint16_t)mh_len;
  e->bucket = mh_hash(mh, mh_len) & (BS_BUCKETS - 1);
  e->next = bs->buckets[e->bucket];
  bs->buckets[e->bucket] = slot;
  return e;
}

/* Removes the oldest entry (always the end of its chain's walk). */
static void pending_pop_oldest(bs_t *bs) {
  assert(pending_count(bs) > 0);
  uint32_t slot = (uint32_t)(bs->entries_head % BS_PENDING_MAX);
  bs_entry_t *e = &bs->entries[slot];
  uint32_t *link = &bs->buckets[e->bucket];
  for (size_t steps = 0; *link != slot; steps++) {
    assert(*link != BS_NONE && steps < BS_PENDING_MAX);
    link = &bs->entries[*link].next;
  }
  *link = e->next;
  bs->entries_head++;
}

static void pending_clear(bs_t *bs) {
  for (uint32_t i = 0; i < BS_BUCKETS; i++) bs->buckets[i] = BS_NONE;
  bs->entries_head = bs->entries_tail = 0;
  bs->pending_blocks = bs->pending_bytes = 0;
}

/* ---- errors ---- */

/* Makes a write-path error sticky (caller holds the mutex).  Uncommitted
 * records are forgotten: callers learn of the failure from bs_sync. */
static void fail_locked(bs_t *bs, int rc, const char *what) {
  assert(rc < 0);
  if (!bs->error) {
    bs->error = rc;
    snprintf(bs->error_msg, sizeof bs->error_msg, "block store %s: %s", what, err_msg(rc));
  }
  pending_clear(bs);
  for (int i = 0; i < 2; i++) {
    if (bs->batches[i].state == BS_BATCH_WRITING) continue; /* its owner resets it */
    bs->batches[i].len_bytes = 0;
    bs->batches[i].seq = 0;
    bs->batches[i].state = i == bs->fill ? BS_BATCH_FILLING : BS_BATCH_FREE;
  }
  pthread_cond_broadcast(&bs->done_cond);
  pthread_cond_broadcast(&bs->flusher_cond);
}

static int sticky_error(bs_t *bs) { return err_set(bs->error, "%s", bs->error_msg); }

/* ---- the flusher ---- */

/* Swaps the filling batch for the free one (caller holds the mutex and made
 * sure the other batch is FREE). */
static void seal_locked(bs_t *bs) {
  bs_batch_t *fill = &bs->batches[bs->fill];
  bs_batch_t *other = &bs->batches[1 - bs->fill];
  assert(fill->state == BS_BATCH_FILLING && fill->len_bytes > 0 && other->state == BS_BATCH_FREE);
  fill->state = BS_BATCH_SEALED;
  other->state = BS_BATCH_FILLING;
  other->len_bytes = 0;
  other->seq = 0;
  bs->fill = 1 - bs->fill;
  pthread_cond_signal(&bs->flusher_cond);
}

/* Creates segment `segment_id`: header written and durable, directory entry
 * durable.  Runs in the flusher without the mutex. */
static int segment_create(bs_t *bs, uint32_t segment_id, int *fd_out) {
  char path[BS_PATH_BYTES_MAX];
  segment_path(bs, segment_id, path);
  int fd = io_open(bs->io, path, O_RDWR | O_CREAT | O_EXCL, 0644);
  if (fd < 0) return err_set(fd, "create %s: %s", path, err_msg(fd));
  uint8_t header[SEG_HEADER_BYTES];
  seg_header_encode(header, segment_id);
  int rc = io_write_all(bs->io, fd, header, SEG_HEADER_BYTES, 0);
  if (!rc) rc = io_fdatasync(bs->io, fd);
  if (!rc) rc = io_fsync_dir(bs->io, bs->dir);
  if (rc) {
    (void)io_close(bs->io, fd);
    return err_set(rc, "create %s: %s", path, err_msg(rc));
  }
  *fd_out = fd;
  return 0;
}

/* Moves a committed entry's bytes in the per-segment live accounting (mutex held). */
static void live_apply_locked(bs_t *bs, const bs_entry_t *e) {
  uint64_t block_record = seg_record_bytes(e->mh_len, e->data_len);
  if (!bs->live_valid) {
    /* The first live_ensure_locked counts it from the index, unless its
     * pass started before this commit's index write: then it is a delta. */
    if (!bs->live_counting) return;
    bs_segment_t *s = e->kind == SEG_KIND_BLOCK ? segment_find(bs, e->segment_id) : NULL;
    if (s) s->live_delta += (int64_t)block_record;
    bs_segment_t *old = e->target_segment ? segment_find(bs, e->target_segment) : NULL;
    if (old) old->live_delta -= (int64_t)block_record;
    return;
  }
  if (e->kind == SEG_KIND_BLOCK) {
    bs_segment_t *s = segment_find(bs, e->segment_id);
    assert(s);
    s->live_bytes += block_record;
  }
  if (e->target_segment) { /* the copied or deleted record no longer counts */
    bs_segment_t *old = segment_find(bs, e->target_segment);
    if (old) old->live_bytes = old->live_bytes >= block_record ? old->live_bytes - block_record : 0;
  }
}

/* Ends an index iteration: an iterator error becomes -EIO (unless rc already
 * holds an error), and the iterator is destroyed.  Returns the result. */
static int iter_finish(leveldb_iterator_t *it, int rc) {
  char *error = NULL;
  leveldb_iter_get_error(it, &error);
  if (error) {
    if (!rc) rc = err_set(-EIO, "index iteration: %s", error);
    leveldb_free(error);
  }
  leveldb_iter_destroy(it);
  return rc;
}

/* Per-segment live bytes from the 'B' entries, computed on first need
 * (bs_stat, bs_compact, bs_fsck) rather than at open, so that opening a large
 * store costs nothing extra.  Mutex held on entry and return, but not during
 * the pass over the index (a million entries take a while; readers and
 * writers go on meanwhile): the pass reads an iterator created, under the
 * mutex, when no commit is in flight, so it sees exactly the commits done so
 * far; the commits that land during the pass add their changes to each
 * segment's live_delta (live_apply_locked), which is added in at the end.
 * One pass at a time; other callers wait for it. */
static int live_ensure_locked(bs_t *bs) {
  for (int rounds = 0; !bs->live_valid && (bs->commit_inflight || bs->live_counting); rounds++) {
    assert(rounds < 100000000);
    pthread_cond_wait(&bs->done_cond, &bs->mutex);
  }
  if (bs->live_valid) return 0;
  size_t len = bs->segments_len;
  uint32_t *ids = malloc((len + 1) * sizeof *ids);
  uint64_t *counts = calloc(len + 1, sizeof *counts);
  if (!ids || !counts) {
    free(ids);
    free(counts);
    return -ENOMEM;
  }
  for (size_t i = 0; i < len; i++) {
    ids[i] = bs->segments[i].id;
    bs->segments[i].live_delta = 0;
  }
  bs->live_counting = true;
  leveldb_iterator_t *it = leveldb_create_iterator(bs->db, bs->db_read_bulk);
  pthread_mutex_unlock(&bs->mutex);
  const char prefix = BS_KEY_BLOCK;
  for (leveldb_iter_seek(it, &prefix, 1); leveldb_iter_valid(it); leveldb_iter_next(it)) {
    size_t key_len, value_len;
    const char *key = leveldb_iter_key(it, &key_len);
    if (key_len < 2 || key[0] != BS_KEY_BLOCK) break;
    const char *value = leveldb_iter_value(it, &value_len);
    bs_location_t loc;
    if (location_decode(value, value_len, &loc)) continue; /* fsck reports it */
    size_t lo = 0, hi = len;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (ids[mid] < loc.segment_id) lo = mid + 1;
      else hi = mid;
    }
    if (lo < len && ids[lo] == loc.segment_id) counts[lo] += seg_record_bytes(key_len - 1, loc.len);
  }
  int rc = iter_finish(it, 0);
  pthread_mutex_lock(&bs->mutex);
  for (size_t i = 0, k = 0; !rc && i < bs->segments_len; i++) {
    bs_segment_t *s = &bs->segments[i];
    while (k < len && ids[k] < s->id) k++;
    int64_t live = (k < len && ids[k] == s->id ? (int64_t)counts[k] : 0) + s->live_delta;
    s->live_bytes = live > 0 ? (uint64_t)live : 0;
  }
  if (!rc) bs->live_valid = true;
  bs->live_counting = false;
  pthread_cond_broadcast(&bs->done_cond);
  free(ids);
  free(counts);
  return rc;
}

/* Starts a commit of everything written so far: builds the index batch
 * under the mutex and hands it to the committer thread, which runs the
 * fdatasync and the synced index write while the flusher goes on writing the
 * next batches.  One commit is in flight at a time.  Flusher, mutex held. */
static void commit_begin_locked(bs_t *bs) {
  assert(!bs->commit_inflight && !bs->error);
  assert(bs->written_seq > bs->durable_seq);
  bs_segment_t *segment = segment_find(bs, bs->dirty_segment_id);
  assert(segment);
  uint64_t commit_seq = bs->written_seq;
  leveldb_writebatch_t *batch = leveldb_writebatch_create();
  int64_t delta_blocks = 0, delta_bytes = 0;
  size_t entries = 0;
  for (uint64_t pos = bs->entries_head; pos < bs->entries_tail; pos++) {
    bs_entry_t *e = &bs->entries[pos % BS_PENDING_MAX];
    if (e->batch_seq > commit_seq) break;
    uint8_t key[BS_KEY_BYTES_MAX];
    size_t key_len = block_key(key, e->mh, e->mh_len);
    if (e->kind == SEG_KIND_BLOCK) {
      uint8_t value[BS_LOCATION_BYTES];
      location_encode(value, e->segment_id, e->offset, e->data_len);
      leveldb_writebatch_put(batch, (const char *)key, key_len, (const char *)value, sizeof value);
      if (!e->target_segment) { /* a compaction copy only moves the entry */
        delta_blocks++;
        delta_bytes += e->data_len;
      }
    } else {
      leveldb_writebatch_delete(batch, (const char *)key, key_len);
      delta_blocks--;
      delta_bytes -= e->data_len;
    }
    entries++;
  }
  uint8_t wkey[5], wvalue[8], svalue[16];
  watermark_key(wkey, segment->id);
  put_le64(wvalue, segment->size_bytes);
  leveldb_writebatch_put(batch, (const char *)wkey, sizeof wkey, (const char *)wvalue, sizeof wvalue);
  bs->commit_blocks = (uint64_t)((int64_t)bs->blocks + delta_blocks);
  bs->commit_block_bytes = (uint64_t)((int64_t)bs->block_bytes + delta_bytes);
  stats_encode(svalue, bs->commit_blocks, bs->commit_block_bytes);
  leveldb_writebatch_put(batch, bs_key_stats, strlen(bs_key_stats), (const char *)svalue, sizeof svalue);
  bs->commit_inflight = true;
  bs->commit_seq = commit_seq;
  bs->commit_batch = batch;
  bs->commit_fd = segment->fd;
  bs->commit_segment_id = segment->id;
  bs->commit_watermark = segment->size_bytes;
  bs->commit_entries = entries;
  bs->uncommitted_bytes = 0;
  pthread_cond_signal(&bs->commit_cond);
}

static void *committer_main(void *arg) {
  bs_t *bs = arg;
  pthread_mutex_lock(&bs->mutex);
  for (;;) {
    while (!bs->commit_inflight && !bs->committer_stop) pthread_cond_wait(&bs->commit_cond, &bs->mutex);
    if (!bs->commit_inflight) break;
    int fd = bs->commit_fd;
    leveldb_writebatch_t *batch = bs->commit_batch;
    pthread_mutex_unlock(&bs->mutex);

    int rc = io_fdatasync(bs->io, fd);
    const char *what = "fdatasync";
    if (!rc) {
      what = "index write";
      rc = io_external(bs->io, "index");
    }
    if (!rc) rc = db_write(bs, batch, true);
    leveldb_writebatch_destroy(batch);

    pthread_mutex_lock(&bs->mutex);
    if (rc) {
      fail_locked(bs, rc, what);
    } else if (!bs->error) { /* after an error the table was cleared: nothing to move */
      assert(pending_count(bs) >= bs->commit_entries);
      for (size_t i = 0; i < bs->commit_entries; i++) {
        bs_entry_t *e = &bs->entries[bs->entries_head % BS_PENDING_MAX];
        assert(e->batch_seq <= bs->commit_seq);
        live_apply_locked(bs, e);
        if (e->kind == SEG_KIND_BLOCK && e->target_segment) {
          /* a compaction copy: counters unchanged */
        } else {
          bs->pending_blocks -= e->kind == SEG_KIND_BLOCK ? 1 : -1;
          bs->pending_bytes -= e->kind == SEG_KIND_BLOCK ? (int64_t)e->data_len : -(int64_t)e->data_len;
        }
        pending_pop_oldest(bs);
      }
      bs->blocks = bs->commit_blocks;
      bs->block_bytes = bs->commit_block_bytes;
      bs_segment_t *segment = segment_find(bs, bs->commit_segment_id);
      assert(segment);
      segment->durable_bytes = bs->commit_watermark;
      assert(bs->commit_seq > bs->durable_seq);
      bs->durable_seq = bs->commit_seq;
      __atomic_add_fetch(&bs->commit_gen, 1, __ATOMIC_RELEASE);
    }
    bs->commit_inflight = false;
    bs->commit_batch = NULL;
    pthread_cond_broadcast(&bs->done_cond);
    pthread_cond_signal(&bs->flusher_cond);
  }
  pthread_mutex_unlock(&bs->mutex);
  return NULL;
}

/* The newest batch that is committed or being committed (mutex held). */
static uint64_t committing_seq_locked(const bs_t *bs) {
  return bs->commit_inflight ? bs->commit_seq : bs->durable_seq;
}

/* Writes the SEALED batch.  Mutex held; dropped for I/O. */
static void write_batch_locked(bs_t *bs, bs_batch_t *batch) {
  assert(batch->state == BS_BATCH_SEALED && batch->len_bytes > 0);
  int rc = 0;
  /* A new segment: first commit everything written to the old one, so at
   * most one segment is ever dirty. */
  if (bs->dirty_segment_id && bs->dirty_segment_id != batch->segment_id) {
    for (int rounds = 0; !bs->error && (bs->commit_inflight || bs->written_seq > bs->durable_seq); rounds++) {
      assert(rounds < 1000000);
      if (!bs->commit_inflight) commit_begin_locked(bs);
      pthread_cond_wait(&bs->flusher_cond, &bs->mutex);
    }
    if (bs->error) return; /* fail_locked reset the batch */
    bs->dirty_segment_id = 0;
  }
  bs_segment_t *segment = segment_find(bs, batch->segment_id);
  if (!segment) {
    pthread_mutex_unlock(&bs->mutex);
    int fd = -1;
    rc = segment_create(bs, batch->segment_id, &fd);
    pthread_mutex_lock(&bs->mutex);
    if (!rc) {
      rc = segment_add(bs, batch->segment_id, fd, SEG_HEADER_BYTES);
      if (rc) (void)io_close(bs->io, fd);
    }
    if (rc) {
      fail_locked(bs, rc, "segment create");
      return;
    }
    segment = segment_find(bs, batch->segment_id);
  }
  assert(segment && !segment->broken);
  assert(segment->size_bytes == batch->segment_offset);
  int fd = segment->fd;
  batch->state = BS_BATCH_WRITING;
  pthread_mutex_unlock(&bs->mutex);
  rc = io_write_all(bs->io, fd, batch->data, batch->len_bytes, batch->segment_offset);
  pthread_mutex_lock(&bs->mutex);
  batch->state = BS_BATCH_FREE;
  if (rc || bs->error) {
    batch->len_bytes = 0;
    batch->seq = 0;
    if (rc) fail_locked(bs, rc, "write");
    return;
  }
  segment = segment_find(bs, batch->segment_id);
  segment->size_bytes += batch->len_bytes;
  bs->dirty_segment_id = segment->id;
  bs->uncommitted_bytes += batch->len_bytes;
  assert(batch->seq > bs->written_seq);
  bs->written_seq = batch->seq;
  batch->len_bytes = 0;
  batch->seq = 0;
  pthread_cond_broadcast(&bs->done_cond);
}

static void *flusher_main(void *arg) {
  bs_t *bs = arg;
  pthread_mutex_lock(&bs->mutex);
  for (;;) {
    bs_batch_t *fill = &bs->batches[bs->fill];
    bs_batch_t *other = &bs->batches[1 - bs->fill];
    if (other->state == BS_BATCH_SEALED) {
      write_batch_locked(bs, other);
      continue;
    }
    if (bs->error) {
      if (bs->stopping) break;
      pthread_cond_wait(&bs->flusher_cond, &bs->mutex);
      continue;
    }
    assert(other->state == BS_BATCH_FREE);
    bool crowded = pending_count(bs) >= BS_PENDING_COMMIT_AT;
    if (fill->len_bytes > 0 &&
        (fill->len_bytes >= bs->opts.batch_bytes_max || bs->sync_target_seq >= fill->seq ||
         bs->stopping || crowded)) {
      seal_locked(bs);
      continue;
    }
    uint64_t committing = committing_seq_locked(bs);
    bool want_commit = bs->written_seq > committing &&
                       (bs->sync_target_seq > committing || bs->uncommitted_bytes >= bs->sync_bytes_max ||
                        bs->stopping || crowded);
    if (want_commit && !bs->commit_inflight) {
      commit_begin_locked(bs);
      continue;
    }
    if (bs->stopping && !want_commit && !bs->commit_inflight) break;
    pthread_cond_wait(&bs->flusher_cond, &bs->mutex); /* work, or the commit in flight ends */
  }
  pthread_mutex_unlock(&bs->mutex);
  return NULL;
}

/* ---- the put path ---- */

/* Makes room for a record of `need` bytes in the filling batch.  Returns 0
 * when there is room, 1 after waiting (the caller re-checks everything),
 * negative errno on a sticky error.  Caller holds the mutex. */
static int reserve_locked(bs_t *bs, size_t need) {
  if (bs->error) return sticky_error(bs);
  bs_batch_t *fill = &bs->batches[bs->fill];
  bs_batch_t *other = &bs->batches[1 - bs->fill];
  bool roll = bs->append_offset > SEG_HEADER_BYTES &&
              bs->append_offset + need > bs->opts.segment_bytes_max;
  bool full = fill->len_bytes + need > fill->cap_bytes || pending_count(bs) >= BS_PENDING_MAX;
  if (fill->len_bytes > 0 && (roll || full)) {
    if (other->state == BS_BATCH_FREE && pending_count(bs) < BS_PENDING_MAX) {
      seal_locked(bs);
    } else {
      if (pending_count(bs) >= BS_PENDING_MAX && bs->sync_target_seq < fill->seq)
        bs->sync_target_seq = fill->seq; /* make the flusher drain the table */
      pthread_cond_signal(&bs->flusher_cond);
      pthread_cond_wait(&bs->done_cond, &bs->mutex);
    }
    return 1;
  }
  if (pending_count(bs) >= BS_PENDING_MAX) { /* table full of written-but-uncommitted entries */
    if (bs->sync_target_seq < bs->written_seq) bs->sync_target_seq = bs->written_seq;
    pthread_cond_signal(&bs->flusher_cond);
    pthread_cond_wait(&bs->done_cond, &bs->mutex);
    return 1;
  }
  if (fill->len_bytes == 0) {
    if (roll) {
      if (bs->append_segment_id == SEG_ID_MAX) return err_set(-ENOSPC, "block store: segment ids exhausted");
      bs->append_segment_id++;
      bs->append_offset = SEG_HEADER_BYTES;
    }
    fill->segment_id = bs->append_segment_id;
    fill->segment_offset = bs->append_offset;
    fill->seq = bs->next_seq++;
  }
  assert(fill->len_bytes + need <= fill->cap_bytes);
  return 0;
}

/* Appends one record to the filling batch and the pending table (room reserved). */
static bs_entry_t *append_locked(bs_t *bs, uint8_t kind, const uint8_t *mh, size_t mh_len,
                                 const void *data, size_t data_len) {
  bs_batch_t *fill = &bs->batches[bs->fill];
  assert(fill->seq != 0 && fill->segment_offset + fill->len_bytes == bs->append_offset);
  uint64_t offset = bs->append_offset;
  size_t n = seg_record_encode(fill->data + fill->len_bytes, kind, mh, mh_len, data, data_len);
  fill->len_bytes += n;
  bs->append_offset += n;
  bs_entry_t *e = pending_add(bs, mh, mh_len);
  e->kind = kind;
  e->segment_id = fill->segment_id;
  e->offset = offset;
  e->data_len = (uint32_t)data_len;
  e->batch_seq = fill->seq;
  e->target_segment = 0;
  e->target_offset = 0;
  if (fill->len_bytes >= bs->opts.batch_bytes_max) {
    if (bs->batches[1 - bs->fill].state == BS_BATCH_FREE) seal_locked(bs);
    else pthread_cond_signal(&bs->flusher_cond);
  }
  return e;
}

static bool is_identity(const cid_t *cid) { return cid->hash.code == MH_IDENTITY; }

/* Records a multihash as touched during a GC (mutex held).  If the set cannot
 * grow, the GC is told to sweep nothing rather than risk a live block. */
static void gc_touch_locked(bs_t *bs, const uint8_t *mh, size_t mh_len) {
  if (!bs->gc_active || bs->gc_overflow) return;
  if (mhset_add(&bs->gc_touched, mh, mh_len) < 0) bs->gc_overflow = true;
}

static int put_unmetered(bs_t *bs, const cid_t *cid, const void *data, size_t len) {
  assert(bs && cid && (data || len == 0));
  if (bs->opts.read_only) return err_set(-EROFS, "block store opened read-only");
  if (len > BLOCK_BYTES_MAX)
    return err_set(-E2BIG, "block of %zu bytes exceeds the %u byte limit", len, BLOCK_BYTES_MAX);
  if (is_identity(cid)) return 1; /* the CID is the data */
  uint8_t mh[MH_BYTES_MAX];
  size_t mh_len = cid_mh_bytes(cid, mh);
  if (mh_len == 0 || mh_len > MH_BYTES_MAX) return err_set(-EINVAL, "bad multihash");
  size_t need = seg_record_bytes(mh_len, len);

  /* The index lookup runs without the mutex; commit_gen tells whether a
   * commit moved entries from the table to the index meanwhile. */
  uint64_t gen = __atomic_load_n(&bs->commit_gen, __ATOMIC_ACQUIRE);
  int indexed = db_lookup(bs, mh, mh_len, NULL);
  if (indexed < 0) return indexed;

  pthread_mutex_lock(&bs->mutex);
  int rc;
  for (int rounds = 0;; rounds++) {
    assert(rounds < 1000000);
    if (bs->error) {
      rc = sticky_error(bs);
      break;
    }
    bs_entry_t *e = pending_find(bs, mh, mh_len);
    if (e && e->kind == SEG_KIND_BLOCK) {
      rc = 1;
      break;
    }
    if (!e) {
      if (bs->commit_gen != gen) {
        gen = bs->commit_gen;
        indexed = db_lookup(bs, mh, mh_len, NULL);
        if (indexed < 0) {
          rc = indexed;
          break;
        }
      }
      if (indexed) {
        rc = 1;
        break;
      }
    }
    rc = reserve_locked(bs, need);
    if (rc < 0) break;
    if (rc == 1) continue;
    append_locked(bs, SEG_KIND_BLOCK, mh, mh_len, data, len);
    bs->pending_blocks++;
    bs->pending_bytes += (int64_t)len;
    rc = 0;
    break;
  }
  if (rc >= 0) gc_touch_locked(bs, mh, mh_len); /* a dedupe hit protects the block too */
  pthread_mutex_unlock(&bs->mutex);
  return rc;
}

/* The newest assigned batch (caller holds the mutex). */
static uint64_t newest_seq_locked(bs_t *bs) {
  bs_batch_t *fill = &bs->batches[bs->fill];
  bs_batch_t *other = &bs->batches[1 - bs->fill];
  if (fill->len_bytes > 0) return fill->seq;
  if (other->state != BS_BATCH_FREE) return other->seq;
  return bs->written_seq;
}

/* Waits until batch `target` is committed (caller holds the mutex). */
static int wait_durable_locked(bs_t *bs, uint64_t target) {
  if (target > bs->sync_target_seq) bs->sync_target_seq = target;
  pthread_cond_signal(&bs->flusher_cond);
  while (!bs->error && bs->durable_seq < target) pthread_cond_wait(&bs->done_cond, &bs->mutex);
  return bs->error ? sticky_error(bs) : 0;
}

static int sync_unmetered(bs_t *bs) {
  assert(bs);
  if (bs->opts.read_only) return 0;
  pthread_mutex_lock(&bs->mutex);
  int rc = wait_durable_locked(bs, newest_seq_locked(bs));
  pthread_mutex_unlock(&bs->mutex);
  return rc;
}

/* One delete, for delete_mh and the GC batch.  The index lookup runs
 * without the mutex (it can take a disk read); commit_gen says whether a
 * commit moved entries from the pending table to the index meanwhile, in
 * which case the lookup is repeated.  Everything else (the touched set, the
 * pending table, the append) is checked and done under the mutex, so a put
 * or delete of the same block is ordered before or after this one. */
typedef struct delete_op {
  const uint8_t *mh;
  size_t mh_len;
  uint64_t gen;          /* commit_gen before the lookup */
  int indexed;           /* the lookup: 1 found (loc), 0 absent, negative errno */
  bs_location_t loc;
  uint64_t size_bytes;   /* out: bytes of the block deleted */
  uint64_t batch_seq;    /* out: the tombstone's batch */
  bool bulk;             /* a GC delete (db_lookup_as) */
} delete_op_t;

static void delete_lookup(bs_t *bs, delete_op_t *op) {
  op->gen = __atomic_load_n(&bs->commit_gen, __ATOMIC_ACQUIRE);
  op->indexed = db_lookup_as(bs, op->bulk, op->mh, op->mh_len, &op->loc);
}

/* Appends the tombstone (mutex held, dropped while waiting for room or
 * repeating a lookup).  gc: keep touched blocks (1).  0, 1, -ENOENT (no
 * message), negative errno. */
static int delete_locked(bs_t *bs, delete_op_t *op, bool gc) {
  for (int rounds = 0;; rounds++) {
    assert(rounds < 1000000);
    if (bs->error) return sticky_error(bs);
    if (gc && (!bs->gc_active || bs->gc_overflow))
      return err_set(-EOVERFLOW, "garbage collection: touched set %s", bs->gc_active ? "overflowed" : "not active");
    if (gc && mhset_has(&bs->gc_touched, op->mh, op->mh_len)) return 1;
    bs_location_t loc;
    bs_entry_t *e = pending_find(bs, op->mh, op->mh_len);
    if (e) {
      if (e->kind == SEG_KIND_TOMBSTONE) return -ENOENT;
      loc = (bs_location_t){.segment_id = e->segment_id, .offset = e->offset, .len = e->data_len};
    } else if (bs->commit_gen != op->gen) {
      pthread_mutex_unlock(&bs->mutex);
      delete_lookup(bs, op);
      pthread_mutex_lock(&bs->mutex);
      continue;
    } else if (op->indexed <= 0) {
      return op->indexed == 0 ? -ENOENT : op->indexed;
    } else {
      loc = op->loc;
    }
    int rc = reserve_locked(bs, seg_record_bytes(op->mh_len, SEG_TOMBSTONE_BYTES));
    if (rc < 0) return rc;
    if (rc == 1) continue;
    uint8_t body[SEG_TOMBSTONE_BYTES];
    seg_tombstone_encode(body, loc.segment_id, loc.offset);
    bs_entry_t *t = append_locked(bs, SEG_KIND_TOMBSTONE, op->mh, op->mh_len, body, sizeof body);
    t->data_len = loc.len; /* for the counters */
    t->target_segment = loc.segment_id;
    t->target_offset = loc.offset;
    bs->pending_blocks--;
    bs->pending_bytes -= loc.len;
    op->size_bytes = loc.len;
    op->batch_seq = t->batch_seq;
    return 0;
  }
}

/* bs_delete: a tombstone, durable on return.  0, -ENOENT (no message), negative errno. */
static int delete_mh(bs_t *bs, const uint8_t *mh, size_t mh_len) {
  delete_op_t op = {.mh = mh, .mh_len = mh_len};
  delete_lookup(bs, &op);
  pthread_mutex_lock(&bs->mutex);
  int rc = delete_locked(bs, &op, false);
  if (rc == 0) rc = wait_durable_locked(bs, op.batch_seq);
  pthread_mutex_unlock(&bs->mutex);
  return rc;
}

static int delete_unmetered(bs_t *bs, const cid_t *cid) {
  assert(bs && cid);
  if (bs->opts.read_only) return err_set(-EROFS, "block store opened read-only");
  if (is_identity(cid)) return err_set(-ENOENT, "identity blocks are not stored");
  uint8_t mh[MH_BYTES_MAX];
  size_t mh_len = cid_mh_bytes(cid, mh);
  int rc = delete_mh(bs, mh, mh_len);
  if (rc == -ENOENT) return err_set(rc, "block not found");
  return rc;
}

int bs_gc_delete(bs_t *bs, const uint8_t *mh, size_t mh_len) {
  assert(bs && mh);
  if (bs->opts.read_only) return err_set(-EROFS, "block store opened read-only");
  if (mh_len == 0 || mh_len > MH_BYTES_MAX) return err_set(-EINVAL, "bad multihash");
  delete_op_t op = {.mh = mh, .mh_len = mh_len, .bulk = true};
  delete_lookup(bs, &op);
  pthread_mutex_lock(&bs->mutex);
  int rc = delete_locked(bs, &op, true);
  pthread_mutex_unlock(&bs->mutex);
  if (rc == -ENOENT) return err_set(rc, "block not found");
  return rc;
}

int bs_gc_delete_batch(bs_t *bs, bs_gc_item_t *items, size_t n) {
  assert(bs && (items || n == 0) && n <= BS_GC_BATCH_MAX);
  if (bs->opts.read_only) return err_set(-EROFS, "block store opened read-only");
  delete_op_t ops[BS_GC_BATCH_MAX];
  for (size_t i = 0; i < n; i++) { /* the index lookups: no lock held */
    assert(items[i].mh_len > 0 && items[i].mh_len <= MH_BYTES_MAX);
    ops[i] = (delete_op_t){.mh = items[i].mh, .mh_len = items[i].mh_len, .bulk = true};
    delete_lookup(bs, &ops[i]);
  }
  int rc = 0;
  pthread_mutex_lock(&bs->mutex);
  for (size_t i = 0; i < n; i++) {
    int one = delete_locked(bs, &ops[i], true);
    items[i].result = one;
    items[i].size_bytes = one == 0 ? ops[i].size_bytes : 0;
    if (one < 0 && one != -ENOENT) { /* sticky, or the touched set overflowed: stop */
      for (size_t j = i + 1; j < n; j++) {
        items[j].result = one;
        items[j].size_bytes = 0;
      }
      rc = one;
      break;
    }
  }
  pthread_mutex_unlock(&bs->mutex);
  return rc;
}

int bs_gc_begin(bs_t *bs) {
  assert(bs);
  pthread_mutex_lock(&bs->mutex);
  int rc = 0;
  if (bs->gc_active) rc = err_set(-EBUSY, "a garbage collection is already running");
  else {
    bs->gc_active = true;
    bs->gc_overflow = false;
    mhset_free(&bs->gc_touched);
  }
  pthread_mutex_unlock(&bs->mutex);
  return rc;
}

int bs_touch(bs_t *bs, const cid_t *cid) {
  assert(bs && cid);
  if (is_identity(cid)) return 0;
  uint8_t mh[MH_BYTES_MAX];
  size_t mh_len = cid_mh_bytes(cid, mh);
  if (mh_len == 0) return err_set(-EINVAL, "bad multihash");
  pthread_mutex_lock(&bs->mutex);
  gc_touch_locked(bs, mh, mh_len);
  pthread_mutex_unlock(&bs->mutex);
  return 0;
}

void bs_gc_end(bs_t *bs) {
  assert(bs);
  pthread_mutex_lock(&bs->mutex);
  bs->gc_active = false;
  bs->gc_overflow = false;
  mhset_free(&bs->gc_touched);
  pthread_mutex_unlock(&bs->mutex);
}

/* ---- the read path ---- */

/* Reads and checks the record at loc into out. */
static int read_record(bs_t *bs, int fd, const bs_location_t *loc, const uint8_t *mh, size_t mh_len,
                       buf_t *out) {
  uint8_t head[SEG_RECORD_HEADER_BYTES + MH_BYTES_MAX];
  buf_reset(out);
  int rc = buf_reserve(out, loc->len);
  if (rc) return rc;
  struct iovec iov[2] = {
      {.iov_base = head, .iov_len = SEG_RECORD_HEADER_BYTES + mh_len},
      {.iov_base = out->data, .iov_len = loc->len},
  };
  ssize_t n = io_preadv(bs->io, fd, iov, loc->len ? 2 : 1, loc->offset);
  if (n < 0) return err_set((int)n, "segment %08x read: %s", loc->segment_id, err_msg((int)n));
  seg_record_t rec;
  if ((size_t)n != SEG_RECORD_HEADER_BYTES + mh_len + loc->len)
    return err_set(-EBADMSG, "segment %08x offset %llu: record cut short", loc->segment_id,
                   (unsigned long long)loc->offset);
  if (seg_record_header_decode(head, &rec) || rec.kind != SEG_KIND_BLOCK || rec.mh_len != mh_len ||
      rec.data_len != loc->len || memcmp(head + SEG_RECORD_HEADER_BYTES, mh, mh_len) != 0)
    return err_set(-EBADMSG, "segment %08x offset %llu: record header does not match the index",
                   loc->segment_id, (unsigned long long)loc->offset);
  if (!seg_record_body_check(&rec, head + SEG_RECORD_HEADER_BYTES, out->data))
    return err_set(-EBADMSG, "segment %08x offset %llu: record checksum mismatch", loc->segment_id,
                   (unsigned long long)loc->offset);
  out->len = loc->len;
  return 0;
}

/* Copies a pending record's bytes from a batch buffer if it is still in one.
 * Returns true when copied (or failed: *rc says).  Caller holds the mutex. */
static bool copy_from_batch_locked(bs_t *bs, const bs_entry_t *e, buf_t *out, int *rc) {
  for (int i = 0; i < 2; i++) {
    bs_batch_t *b = &bs->batches[i];
    if (b->state == BS_BATCH_FREE || b->seq != e->batch_seq || b->len_bytes == 0) continue;
    assert(b->segment_id == e->segment_id && e->offset >= b->segment_offset);
    const uint8_t *record = b->data + (e->offset - b->segment_offset);
    buf_reset(out);
    *rc = buf_append(out, record + SEG_RECORD_HEADER_BYTES + e->mh_len, e->data_len);
    return true;
  }
  return false;
}

/* Ends a read on a segment that locate() handed out (fd >= 0). */
static void segment_release(bs_t *bs, uint32_t segment_id) {
  pthread_mutex_lock(&bs->seg_mutex);
  bs_segment_t *s = segment_find(bs, segment_id);
  assert(s && s->readers > 0);
  s->readers--;
  if (s->readers == 0 && s->retired) pthread_cond_broadcast(&bs->seg_cond);
  pthread_mutex_unlock(&bs->seg_mutex);
}

static int locate_once(bs_t *bs, const uint8_t *mh, size_t mh_len, bs_location_t *loc, int *fd,
                       buf_t *out);

/* Finds a block: 1 with its location and fd (fd -1: already copied into
 * out when out != NULL), 0 absent, negative errno.  An fd >= 0 is held: the
 * caller ends its read with segment_release(loc->segment_id). */
static int locate(bs_t *bs, const uint8_t *mh, size_t mh_len, bs_location_t *loc, int *fd,
                  buf_t *out) {
  /* A lookup that raced with compaction may name a retired segment: the
   * index names the copy by then, so looking again finds it. */
  for (int attempt = 0;; attempt++) {
    int rc = locate_once(bs, mh, mh_len, loc, fd, out);
    if (rc != -EAGAIN) return rc;
    if (attempt == 64) return err_set(-EIO, "segment %08x: retired during the read", loc->segment_id);
  }
}

static int locate_once(bs_t *bs, const uint8_t *mh, size_t mh_len, bs_location_t *loc, int *fd,
                       buf_t *out) {
  pthread_mutex_lock(&bs->mutex);
  bs_entry_t *e = pending_find(bs, mh, mh_len);
  if (e) {
    int rc = 1;
    if (e->kind == SEG_KIND_TOMBSTONE) {
      rc = 0;
    } else {
      *loc = (bs_location_t){.segment_id = e->segment_id, .offset = e->offset, .len = e->data_len};
      *fd = -1;
      int copy_rc = 0;
      if (!out) {
        /* bs_has: the location is enough (the segment may not exist yet) */
      } else if (!copy_from_batch_locked(bs, e, out, &copy_rc)) {
        pthread_mutex_lock(&bs->seg_mutex);
        bs_segment_t *s = segment_find(bs, e->segment_id);
        assert(s && !s->retired);
        s->readers++;
        *fd = s->fd;
        pthread_mutex_unlock(&bs->seg_mutex);
      } else if (copy_rc) {
        rc = copy_rc;
      }
    }
    pthread_mutex_unlock(&bs->mutex);
    return rc;
  }
  pthread_mutex_unlock(&bs->mutex);
  int rc = db_lookup(bs, mh, mh_len, loc);
  if (rc <= 0) return rc;
  pthread_mutex_lock(&bs->seg_mutex); /* not the store's mutex: GC may be busy with it */
  bs_segment_t *s = segment_find(bs, loc->segment_id);
  bool retired = s && s->retired;
  *fd = -1;
  if (s && !retired && out) {
    s->readers++;
    *fd = s->fd;
  }
  pthread_mutex_unlock(&bs->seg_mutex);
  if (retired) return -EAGAIN;
  if (!s) {
    /* compaction may have deleted it between our lookup and now: look again */
    bs_location_t again;
    int found = db_lookup(bs, mh, mh_len, &again);
    if (found == 0) return 0; /* deleted meanwhile */
    if (found == 1 && again.segment_id != loc->segment_id) return -EAGAIN;
    return err_set(-EBADMSG, "index names segment %08x, which does not exist", loc->segment_id);
  }
  return 1;
}

static int get_unmetered(bs_t *bs, const cid_t *cid, buf_t *out) {
  assert(bs && cid && out);
  if (is_identity(cid)) {
    buf_reset(out);
    return buf_append(out, cid->hash.digest, cid->hash.digest_len);
  }
  uint8_t mh[MH_BYTES_MAX];
  size_t mh_len = cid_mh_bytes(cid, mh);
  bs_location_t loc;
  int fd = -1;
  int rc = locate(bs, mh, mh_len, &loc, &fd, out);
  if (rc < 0) return rc;
  if (rc == 0) return err_set(-ENOENT, "block not found");
  if (fd < 0) return 0; /* copied from a batch buffer */
  rc = read_record(bs, fd, &loc, mh, mh_len, out);
  segment_release(bs, loc.segment_id);
  return rc;
}

static int has_unmetered(bs_t *bs, const cid_t *cid, uint64_t *size_bytes) {
  assert(bs && cid);
  if (is_identity(cid)) {
    if (size_bytes) *size_bytes = cid->hash.digest_len;
    return 1;
  }
  uint8_t mh[MH_BYTES_MAX];
  size_t mh_len = cid_mh_bytes(cid, mh);
  bs_location_t loc;
  int fd = -1;
  int rc = locate(bs, mh, mh_len, &loc, &fd, NULL);
  if (rc == 1 && size_bytes) *size_bytes = loc.len;
  return rc;
}

/* ---- stat, each ---- */

typedef struct bs_size_ctx {
  bs_t *bs;
  const char *dir;
  uint64_t bytes;
} bs_size_ctx_t;

static int add_file_size(void *ctx, const char *name) {
  bs_size_ctx_t *c = ctx;
  char path[BS_PATH_BYTES_MAX];
  snprintf(path, sizeof path, "%s/%s", c->dir, name);
  int fd = io_open(c->bs->io, path, O_RDONLY, 0);
  if (fd < 0) return 0; /* vanished (LevelDB compaction): not counted */
  uint64_t size = 0;
  if (io_size(c->bs->io, fd, &size) == 0) c->bytes += size;
  (void)io_close(c->bs->io, fd);
  return 0;
}

static int stat_unmetered(bs_t *bs, bs_stat_t *st) {
  assert(bs && st);
  memset(st, 0, sizeof *st);
  pthread_mutex_lock(&bs->mutex);
  int live_rc = live_ensure_locked(bs);
  if (live_rc) {
    pthread_mutex_unlock(&bs->mutex);
    return live_rc;
  }
  st->blocks = (uint64_t)((int64_t)bs->blocks + bs->pending_blocks);
  st->block_bytes = (uint64_t)((int64_t)bs->block_bytes + bs->pending_bytes);
  st->segments = bs->segments_len;
  for (size_t i = 0; i < bs->segments_len; i++) {
    const bs_segment_t *seg = &bs->segments[i];
    st->disk_bytes += seg->size_bytes;
    if (seg->id == bs->append_segment_id || seg->broken || seg->size_bytes < SEG_HEADER_BYTES) continue;
    uint64_t payload = seg->size_bytes - SEG_HEADER_BYTES;
    if (seg->live_bytes == 0) st->reclaimable_bytes += seg->size_bytes; /* the whole file goes */
    else if (payload > seg->live_bytes) st->reclaimable_bytes += payload - seg->live_bytes;
  }
  pthread_mutex_unlock(&bs->mutex);
  char index_dir[BS_PATH_BYTES_MAX];
  snprintf(index_dir, sizeof index_dir, "%s/index", bs->dir);
  bs_size_ctx_t ctx = {.bs = bs, .dir = index_dir};
  int rc = io_list(bs->io, index_dir, add_file_size, &ctx);
  if (rc < 0) return err_set(rc, "list %s: %s", index_dir, err_msg(rc));
  st->disk_bytes += ctx.bytes;
  return 0;
}

int bs_each(bs_t *bs, bs_each_fn fn, void *ctx) {
  assert(bs && fn);
  int rc = bs_sync(bs);
  if (rc) return rc;
  leveldb_iterator_t *it = leveldb_create_iterator(bs->db, bs->db_read_bulk);
  const char prefix = BS_KEY_BLOCK;
  for (leveldb_iter_seek(it, &prefix, 1); leveldb_iter_valid(it); leveldb_iter_next(it)) {
    size_t key_len, value_len;
    const char *key = leveldb_iter_key(it, &key_len);
    if (key_len < 2 || key[0] != BS_KEY_BLOCK) break;
    const char *value = leveldb_iter_value(it, &value_len);
    bs_location_t loc;
    if (location_decode(value, value_len, &loc)) {
      rc = err_set(-EBADMSG, "index entry malformed");
      break;
    }
    rc = fn(ctx, (const uint8_t *)key + 1, key_len - 1, loc.len);
    if (rc) break;
  }
  rc = iter_finish(it, rc);
  return rc;
}

/* ---- fsck ---- */

typedef struct fsck_state {
  void (*fn)(void *ctx, const char *problem);
  void *ctx;
  int problems;
} fsck_state_t;

static void problem(fsck_state_t *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(fsck_state_t *f, const char *fmt, ...) {
  f->problems++;
  if (!f->fn) return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  f->fn(f->ctx, line);
}

/* Checks one segment file record by record. */
static int fsck_segment(bs_t *bs, const bs_segment_t *s, fsck_state_t *f) {
  uint8_t header[SEG_HEADER_BYTES];
  ssize_t n = io_pread(bs->io, s->fd, header, sizeof header, 0);
  if (n < 0) return err_set((int)n, "segment %08x read: %s", s->id, err_msg((int)n));
  uint32_t id = 0;
  if (seg_header_decode(header, (size_t)n, &id) || id != s->id) {
    problem(f, "segment %08x: bad header", s->id);
    return 0;
  }
  uint64_t size = 0;
  int rc = io_size(bs->io, s->fd, &size);
  if (rc) return rc;
  if (size < SEG_HEADER_BYTES) {
    problem(f, "segment %08x: %llu bytes, shorter than its header", s->id, (unsigned long long)size);
    return 0;
  }
  if (size < s->durable_bytes)
    problem(f, "segment %08x: %llu bytes, shorter than its durable length %llu", s->id,
            (unsigned long long)size, (unsigned long long)s->durable_bytes);
  seg_scan_t scan;
  rc = seg_scan_open_fd(&scan, bs->io, s->fd, SEG_HEADER_BYTES, size);
  if (rc) return rc;
  for (uint64_t records = 0;; records++) {
    seg_record_t rec;
    rc = seg_scan_next(&scan, &rec);
    if (rc == 0) break;
    if (rc < 0 && rc != -EAGAIN && rc != -EBADMSG) break;
    if (rc < 0) {
      const char *why = rc == -EAGAIN ? "record cut short" : "not a record";
      rc = 0;
      if (rec.offset >= s->durable_bytes && bs->opts.read_only) break; /* a torn tail recovery drops */
      problem(f, "segment %08x offset %llu: %s; %llu bytes from there unreadable", s->id,
              (unsigned long long)rec.offset, why, (unsigned long long)(size - rec.offset));
      break;
    }
    if (!rec.body_ok) {
      problem(f, "segment %08x offset %llu: record checksum mismatch", s->id,
              (unsigned long long)rec.offset);
      continue;
    }
    if (rec.kind == SEG_KIND_BLOCK) {
      mh_t mh;
      int used = mh_decode(rec.mh, rec.mh_len, &mh);
      if (used != (int)rec.mh_len) {
        problem(f, "segment %08x offset %llu: malformed multihash", s->id, (unsigned long long)rec.offset);
        continue;
      }
      int ok = mh_verify(&mh, rec.data, rec.data_len);
      if (ok == 0)
        problem(f, "segment %08x offset %llu: block does not match its hash", s->id,
                (unsigned long long)rec.offset);
    } else {
      uint32_t target_segment;
      uint64_t target_offset;
      if (seg_tombstone_decode(rec.data, rec.data_len, &target_segment, &target_offset))
        problem(f, "segment %08x offset %llu: malformed tombstone", s->id, (unsigned long long)rec.offset);
    }
  }
  seg_scan_close(&scan);
  return rc;
}

static void hex(const uint8_t *p, size_t n, char *out, size_t cap) {
  size_t k = 0;
  for (size_t i = 0; i < n && k + 3 <= cap; i++) k += (size_t)snprintf(out + k, cap - k, "%02x", p[i]);
  if (cap) out[k < cap ? k : cap - 1] = '\0';
}

/* Checks every index entry against the record it names, and the counters. */
static int fsck_index(bs_t *bs, fsck_state_t *f) {
  leveldb_iterator_t *it = leveldb_create_iterator(bs->db, bs->db_read_bulk);
  buf_t data = {0};
  uint64_t blocks = 0, bytes = 0;
  int rc = 0;
  pthread_mutex_lock(&bs->mutex);
  size_t live_len = bs->segments_len; /* compaction is excluded: positions are stable */
  pthread_mutex_unlock(&bs->mutex);
  uint64_t *live = calloc(live_len + 1, sizeof *live);
  if (!live) {
    leveldb_iter_destroy(it);
    return -ENOMEM;
  }
  for (leveldb_iter_seek_to_first(it); leveldb_iter_valid(it); leveldb_iter_next(it)) {
    size_t key_len, value_len;
    const uint8_t *key = (const uint8_t *)leveldb_iter_key(it, &key_len);
    const char *value = leveldb_iter_value(it, &value_len);
    char name[2 * MH_BYTES_MAX + 1];
    if (key_len >= 1 && key[0] == BS_KEY_WATERMARK) {
      uint32_t id = key_len == 5 ? (uint32_t)key[1] << 24 | (uint32_t)key[2] << 16 |
                                       (uint32_t)key[3] << 8 | key[4]
                                 : 0;
      pthread_mutex_lock(&bs->mutex);
      bool exists = id && segment_find(bs, id) != NULL;
      pthread_mutex_unlock(&bs->mutex);
      if (!exists || value_len != 8) problem(f, "index: watermark of segment %08x, which is missing", id);
      continue;
    }
    if (key_len < 2 || key[0] != BS_KEY_BLOCK) continue;
    hex(key + 1, key_len - 1, name, sizeof name);
    bs_location_t loc;
    if (location_decode(value, value_len, &loc)) {
      problem(f, "index %s: malformed entry", name);
      continue;
    }
    blocks++;
    bytes += loc.len;
    pthread_mutex_lock(&bs->seg_mutex);
    bs_segment_t *s = segment_find(bs, loc.segment_id);
    int fd = s ? s->fd : -1;
    if (s) {
      s->readers++;
      size_t position = (size_t)(s - bs->segments);
      if (position < live_len) live[position] += seg_record_bytes(key_len - 1, loc.len);
    }
    pthread_mutex_unlock(&bs->seg_mutex);
    if (fd < 0) {
      problem(f, "index %s: names segment %08x, which is missing", name, loc.segment_id);
      continue;
    }
    int read_rc = read_record(bs, fd, &loc, key + 1, key_len - 1, &data);
    segment_release(bs, loc.segment_id);
    if (read_rc == -EBADMSG) {
      problem(f, "index %s: %s", name, err_msg(read_rc));
      continue;
    }
    if (read_rc) {
      rc = read_rc;
      break;
    }
  }
  rc = iter_finish(it, rc);
  buf_free(&data);
  for (size_t i = 0; !rc && i < live_len; i++) {
    pthread_mutex_lock(&bs->mutex);
    pthread_mutex_lock(&bs->seg_mutex);
    bs_segment_t seg = bs->segments[i];
    pthread_mutex_unlock(&bs->seg_mutex);
    pthread_mutex_unlock(&bs->mutex);
    if (seg.live_bytes != live[i])
      problem(f, "segment %08x: live accounting says %llu bytes, index entries are %llu", seg.id,
              (unsigned long long)seg.live_bytes, (unsigned long long)live[i]);
  }
  free(live);
  if (!rc && (blocks != bs->blocks || bytes != bs->block_bytes))
    problem(f, "index: counters say %llu blocks / %llu bytes, entries are %llu / %llu",
            (unsigned long long)bs->blocks, (unsigned long long)bs->block_bytes,
            (unsigned long long)blocks, (unsigned long long)bytes);
  return rc;
}

int bs_fsck(bs_t *bs, void (*fn)(void *ctx, const char *problem), void *ctx) {
  assert(bs);
  int rc = bs_sync(bs);
  if (rc) return rc;
  fsck_state_t f = {.fn = fn, .ctx = ctx};
  pthread_mutex_lock(&bs->compact_mutex); /* segments stay where they are */
  pthread_mutex_lock(&bs->mutex);
  rc = live_ensure_locked(bs);
  size_t count = rc ? 0 : bs->segments_len;
  pthread_mutex_unlock(&bs->mutex);
  for (size_t i = 0; !rc && i < count; i++) {
    pthread_mutex_lock(&bs->mutex);
    pthread_mutex_lock(&bs->seg_mutex);
    bs_segment_t s = bs->segments[i];
    pthread_mutex_unlock(&bs->seg_mutex);
    pthread_mutex_unlock(&bs->mutex);
    rc = fsck_segment(bs, &s, &f);
  }
  if (!rc) rc = fsck_index(bs, &f);
  pthread_mutex_unlock(&bs->compact_mutex);
  if (rc) return rc;
  return f.problems;
}

/* ---- compaction ----
 *
 * A victim segment S (never the one being appended to, never one with
 * uncommitted bytes) is scanned record by record.  A block record the index
 * (or the pending table) still names is copied into the active segment as
 * an ordinary append whose pending entry remembers the old location, so its
 * commit moves the index entry and the live accounting; the scan and the
 * index lookup run without the store's mutex, the re-check (compact_copy)
 * and the append under it, so a concurrent delete either came first
 * (nothing copied) or tombstones the copy.  A tombstone whose target
 * segment still exists (and is not S) is copied as a bare record (no pending
 * entry: it must not hide a block put again after it; replay only applies a
 * tombstone to the very record it names).  Then everything is committed; if
 * S's live bytes are now zero, S is retired (lookups that still hold its
 * location retry and find the copy), the last reader is waited for, and the
 * file is unlinked, the directory fsync'd, and only then is S's 'W' key
 * dropped (synced).  A crash before the unlink leaves S and the copies (replay
 * treats the older record as a duplicate); after it, a 'W' key without its
 * file, which bs_open drops.
 */

/* Appends a record without a pending entry (a copied tombstone); room reserved. */
static void append_bare_locked(bs_t *bs, uint8_t kind, const uint8_t *mh, size_t mh_len, const void *data,
                               size_t data_len) {
  bs_batch_t *fill = &bs->batches[bs->fill];
  assert(fill->seq != 0 && fill->segment_offset + fill->len_bytes == bs->append_offset);
  size_t n = seg_record_encode(fill->data + fill->len_bytes, kind, mh, mh_len, data, data_len);
  fill->len_bytes += n;
  bs->append_offset += n;
  if (fill->len_bytes >= bs->opts.batch_bytes_max) {
    if (bs->batches[1 - bs->fill].state == BS_BATCH_FREE) seal_locked(bs);
    else pthread_cond_signal(&bs->flusher_cond);
  }
}

/* Copies one record of segment `from` forward.  1 copied, 0 not needed,
 * negative errno.  A block record is live only if the newest word on its
 * multihash names this very record.  The index lookup runs without the
 * mutex: a record of a non-active segment that the index does not name is
 * dead for good (nothing appends to `from` any more, and what superseded
 * it stays newer), so most dead records never take the lock; a live one is
 * re-validated under it (no pending entry, no commit since the lookup, else
 * the lookup is repeated) before the copy is appended, so a delete or a
 * put racing with the copy is ordered before it (nothing copied) or after
 * it (the delete tombstones the copy). */
static int compact_copy(bs_t *bs, uint32_t from, const seg_record_t *rec) {
  size_t need = seg_record_bytes(rec->mh_len, rec->data_len);
  uint64_t gen = 0;
  if (rec->kind == SEG_KIND_BLOCK) {
    gen = __atomic_load_n(&bs->commit_gen, __ATOMIC_ACQUIRE);
    bs_location_t loc;
    int found = db_lookup_as(bs, true, rec->mh, rec->mh_len, &loc);
    if (found <= 0) return found;
    if (loc.segment_id != from || loc.offset != rec->offset) return 0;
  }
  pthread_mutex_lock(&bs->mutex);
  int rc;
  for (int rounds = 0;; rounds++) {
    assert(rounds < 1000000);
    if (bs->error) {
      rc = sticky_error(bs);
      break;
    }
    if (rec->kind == SEG_KIND_BLOCK) {
      bs_entry_t *e = pending_find(bs, rec->mh, rec->mh_len);
      if (e) { /* a pending tombstone (or a put after one): newer than this record */
        rc = 0;
        break;
      }
      if (bs->commit_gen != gen) {
        gen = bs->commit_gen;
        pthread_mutex_unlock(&bs->mutex);
        bs_location_t loc;
        int found = db_lookup_as(bs, true, rec->mh, rec->mh_len, &loc);
        pthread_mutex_lock(&bs->mutex);
        if (found <= 0 || loc.segment_id != from || loc.offset != rec->offset) {
          rc = found < 0 ? found : 0;
          break;
        }
        continue;
      }
    } else {
      uint32_t target_segment;
      uint64_t target_offset;
      if (seg_tombstone_decode(rec->data, rec->data_len, &target_segment, &target_offset)) {
        rc = 0;
        break;
      }
      bs_segment_t *target = segment_find(bs, target_segment);
      if (target_segment == from || !target || target->retired) {
        rc = 0; /* what it shadows is gone with its segment */
        break;
      }
    }
    rc = reserve_locked(bs, need);
    if (rc < 0) break;
    if (rc == 1) continue;
    if (rec->kind == SEG_KIND_BLOCK) {
      bs_entry_t *e = append_locked(bs, SEG_KIND_BLOCK, rec->mh, rec->mh_len, rec->data, rec->data_len);
      e->target_segment = from;
      e->target_offset = rec->offset;
    } else {
      append_bare_locked(bs, SEG_KIND_TOMBSTONE, rec->mh, rec->mh_len, rec->data, rec->data_len);
    }
    rc = 1;
    break;
  }
  pthread_mutex_unlock(&bs->mutex);
  return rc;
}

/* Drops a compacted segment's watermark key (synced). */
static int drop_watermark(bs_t *bs, uint32_t segment_id) {
  int rc = io_external(bs->io, "index");
  if (rc) return err_set(rc, "index write: %s", err_msg(rc));
  leveldb_writebatch_t *batch = leveldb_writebatch_create();
  uint8_t wkey[5];
  watermark_key(wkey, segment_id);
  leveldb_writebatch_delete(batch, (const char *)wkey, sizeof wkey);
  rc = db_write(bs, batch, true);
  leveldb_writebatch_destroy(batch);
  return rc;
}

/* Compacts one segment (compact_mutex held). */
static int compact_segment(bs_t *bs, uint32_t id, bool yield_cpu, bs_compact_result_t *res) {
  pthread_mutex_lock(&bs->mutex);
  bs_segment_t *s = segment_find(bs, id);
  assert(s && !s->retired);
  int fd = s->fd; /* only compaction closes segment fds, and it is us */
  uint64_t end = s->size_bytes;
  pthread_mutex_unlock(&bs->mutex);

  seg_scan_t scan;
  int rc = seg_scan_open_fd(&scan, bs->io, fd, SEG_HEADER_BYTES, end);
  if (rc) return rc;
  bool damaged = false; /* a record could not be read: S stays for fsck to report */
  uint64_t copies = 0;
  for (uint64_t records = 0; !rc; records++) {
    seg_record_t rec;
    int next = seg_scan_next(&scan, &rec);
    if (next == 0) break;
    if (next == -EAGAIN || next == -EBADMSG) {
      damaged = true;
      break;
    }
    if (next < 0) {
      rc = err_set(next, "compaction: scan of segment %08x: %s", id, err_msg(next));
      break;
    }
    if (!rec.body_ok) {
      damaged = true; /* cannot be copied (a block) or forwarded (a tombstone) */
      continue;
    }
    int copied = compact_copy(bs, id, &rec);
    if (copied < 0) rc = copied;
    else if (copied == 1) {
      res->bytes_copied += seg_record_bytes(rec.mh_len, rec.data_len);
      if (rec.kind == SEG_KIND_BLOCK) res->blocks_copied++;
      if (yield_cpu && ++copies % BS_COMPACT_YIELD_RECORDS == 0) sched_yield();
    }
  }
  seg_scan_close(&scan);
  if (rc) return rc;

  char path[BS_PATH_BYTES_MAX];
  segment_path(bs, id, path);
  pthread_mutex_lock(&bs->mutex);
  rc = wait_durable_locked(bs, newest_seq_locked(bs)); /* copies and their index entries */
  s = segment_find(bs, id);
  if (!rc && (s->live_bytes != 0 || damaged)) { /* something could not be copied: keep S */
    pthread_mutex_unlock(&bs->mutex);
    res->segments_skipped++;
    return 0;
  }
  if (rc) {
    pthread_mutex_unlock(&bs->mutex);
    return rc;
  }
  pthread_mutex_lock(&bs->seg_mutex);
  s->retired = true;
  pthread_mutex_unlock(&bs->mutex);
  for (int rounds = 0; (s = segment_find(bs, id))->readers > 0; rounds++) {
    assert(rounds < 100000000);
    pthread_cond_wait(&bs->seg_cond, &bs->seg_mutex);
  }
  pthread_mutex_unlock(&bs->seg_mutex);

  rc = io_unlink(bs->io, path);
  if (rc) {
    pthread_mutex_lock(&bs->seg_mutex);
    segment_find(bs, id)->retired = false;
    pthread_mutex_unlock(&bs->seg_mutex);
    return err_set(rc, "compaction: unlink %s: %s", path, err_msg(rc));
  }
  int dir_rc = io_fsync_dir(bs->io, bs->dir);
  pthread_mutex_lock(&bs->mutex);
  pthread_mutex_lock(&bs->seg_mutex);
  s = segment_find(bs, id);
  assert(s->readers == 0);
  size_t position = (size_t)(s - bs->segments);
  memmove(s, s + 1, (bs->segments_len - position - 1) * sizeof *s);
  bs->segments_len--;
  pthread_mutex_unlock(&bs->seg_mutex);
  pthread_mutex_unlock(&bs->mutex);
  (void)io_close(bs->io, fd);
  res->segments_compacted++;
  res->bytes_freed += end;
  if (dir_rc) return err_set(dir_rc, "compaction: fsync %s: %s", bs->dir, err_msg(dir_rc));
  return drop_watermark(bs, id);
}

int bs_compact(bs_t *bs, const bs_compact_options_t *opts, bs_compact_result_t *result) {
  assert(bs);
  bs_compact_result_t ignored;
  bs_compact_result_t *res = result ? result : &ignored;
  memset(res, 0, sizeof *res);
  if (bs->opts.read_only) return err_set(-EROFS, "block store opened read-only");
  double ratio_min = opts && opts->dead_ratio_min > 0 ? opts->dead_ratio_min : 0.5;
  uint64_t segments_max = opts && opts->segments_max ? opts->segments_max : UINT64_MAX;
  pthread_mutex_lock(&bs->compact_mutex);
  int rc = bs_sync(bs); /* every segment but the newest is fully committed now */
  uint32_t *ids = NULL;
  size_t ids_len = 0;
  if (!rc) {
    pthread_mutex_lock(&bs->mutex);
    rc = live_ensure_locked(bs);
    ids = rc ? NULL : malloc((bs->segments_len + 1) * sizeof *ids);
    for (size_t i = 0; ids && i < bs->segments_len; i++) {
      const bs_segment_t *seg = &bs->segments[i];
      if (seg->id == bs->append_segment_id || seg->id == bs->dirty_segment_id || seg->broken ||
          seg->retired || seg->durable_bytes != seg->size_bytes || seg->size_bytes < SEG_HEADER_BYTES)
        continue;
      uint64_t payload = seg->size_bytes - SEG_HEADER_BYTES;
      uint64_t live = seg->live_bytes < payload ? seg->live_bytes : payload;
      if (live == 0 || (double)(payload - live) >= ratio_min * (double)payload) ids[ids_len++] = seg->id;
    }
    pthread_mutex_unlock(&bs->mutex);
    if (!ids && !rc) rc = -ENOMEM;
  }
  for (size_t i = 0; !rc && i < ids_len && res->segments_compacted < segments_max; i++)
    rc = compact_segment(bs, ids[i], opts && opts->yield_cpu, res);
  free(ids);
  pthread_mutex_unlock(&bs->compact_mutex);
  return rc;
}

/* ---- adapters ---- */

static int sink_put(void *ctx, const cid_t *cid, const uint8_t *data, size_t len) {
  int rc = bs_put(ctx, cid, data, len);
  return rc < 0 ? rc : 0;
}

/* A miss asks the fetcher (if any), which verifies, stores and fills out. */
static int source_get(void *ctx, const cid_t *cid, buf_t *out) {
  bs_t *bs = ctx;
  int rc = bs_get(bs, cid, out);
  if (rc != -ENOENT) return rc;
  pthread_mutex_lock(&bs->fetcher_mutex);
  bs_fetch_fn fn = bs->fetcher;
  void *fn_ctx = bs->fetcher_ctx;
  if (fn) bs->fetcher_calls++;
  pthread_mutex_unlock(&bs->fetcher_mutex);
  if (!fn) return rc;
  rc = fn(fn_ctx, cid, out);
  pthread_mutex_lock(&bs->fetcher_mutex);
  if (--bs->fetcher_calls == 0) pthread_cond_broadcast(&bs->fetcher_cond);
  pthread_mutex_unlock(&bs->fetcher_mutex);
  return rc;
}

void bs_set_fetcher(bs_t *bs, bs_fetch_fn fn, void *ctx) {
  pthread_mutex_lock(&bs->fetcher_mutex);
  bs->fetcher = fn;
  bs->fetcher_ctx = fn ? ctx : NULL;
  /* The old fetcher may go away once this returns: wait out its calls. */
  while (bs->fetcher_calls) pthread_cond_wait(&bs->fetcher_cond, &bs->fetcher_mutex);
  pthread_mutex_unlock(&bs->fetcher_mutex);
}

block_sink_t bs_sink(bs_t *bs) { return (block_sink_t){.put = sink_put, .ctx = bs}; }
block_source_t bs_source(bs_t *bs) { return (block_source_t){.get = source_get, .ctx = bs}; }

/* ---- open, recovery, close ---- */

void bs_options_default(bs_options_t *opts) {
  memset(opts, 0, sizeof *opts);
  opts->io = NULL;
  opts->segment_bytes_max = BS_SEGMENT_BYTES_DEFAULT;
  /* Test knob (documented in bs.h): small segments without a config key. */
  const char *env = getenv("ANYA_SEGMENT_BYTES_MAX");
  if (env && *env) {
    char *end = NULL;
    unsigned long long v = strtoull(env, &end, 10);
    if (end && *end == '\0' && v > 0) opts->segment_bytes_max = v;
  }
  opts->batch_bytes_max = BS_BATCH_BYTES_DEFAULT;
  opts->sync_bytes_max = BS_SYNC_BYTES_DEFAULT;
  opts->read_only = false;
}

typedef struct id_list {
  uint32_t *ids;   /* segment ids found */
  size_t len;
  size_t cap;
} id_list_t;

static int collect_segment(void *ctx, const char *name) {
  id_list_t *l = ctx;
  uint32_t id;
  if (seg_parse_name(name, &id)) return 0;
  if (l->len == BS_SEGMENTS_MAX) return err_set(-EMFILE, "block store: more than %u segments", BS_SEGMENTS_MAX);
  if (l->len == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    uint32_t *grown = realloc(l->ids, cap * sizeof *grown);
    if (!grown) return -ENOMEM;
    l->ids = grown;
    l->cap = cap;
  }
  l->ids[l->len++] = id;
  return 0;
}

static int compare_ids(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* Reads the watermark of a segment: 1 found, 0 absent, negative errno. */
static int watermark_get(bs_t *bs, uint32_t segment_id, uint64_t *watermark) {
  uint8_t key[5];
  watermark_key(key, segment_id);
  char *error = NULL;
  size_t len = 0;
  char *value = leveldb_get(bs->db, bs->db_read, (const char *)key, sizeof key, &len, &error);
  if (error) {
    int rc = err_set(-EIO, "index read: %s", error);
    leveldb_free(error);
    return rc;
  }
  if (!value) return 0;
  int rc = len == 8 ? 1 : err_set(-EBADMSG, "index: malformed watermark of segment %08x", segment_id);
  if (rc == 1) *watermark = get_le64((const uint8_t *)value);
  leveldb_free(value);
  return rc;
}

/* Re-indexes one record found past the watermark (not read-only). */
static int reindex_record(bs_t *bs, uint32_t segment_id, const seg_record_t *rec) {
  uint8_t key[BS_KEY_BYTES_MAX];
  size_t key_len = block_key(key, rec->mh, rec->mh_len);
  bs_location_t loc;
  int found = db_lookup(bs, rec->mh, rec->mh_len, &loc);
  if (found < 0) return found;
  leveldb_writebatch_t *batch = leveldb_writebatch_create();
  bool changed = false;
  bool later = !found || segment_id > loc.segment_id ||
               (segment_id == loc.segment_id && rec->offset > loc.offset);
  if (rec->kind == SEG_KIND_BLOCK && later) {
    /* Later records win (a compaction copy, a put after a delete); an older
     * record replayed after its copy (a compacted segment whose index entries
     * moved on) leaves the entry alone. */
    uint8_t value[BS_LOCATION_BYTES];
    location_encode(value, segment_id, rec->offset, rec->data_len);
    leveldb_writebatch_put(batch, (const char *)key, key_len, (const char *)value, sizeof value);
    if (!found) bs->blocks++;
    bs->block_bytes += rec->data_len;
    if (found) bs->block_bytes -= loc.len;
    changed = true;
  } else if (rec->kind == SEG_KIND_TOMBSTONE && found) {
    uint32_t target_segment;
    uint64_t target_offset;
    if (seg_tombstone_decode(rec->data, rec->data_len, &target_segment, &target_offset) == 0 &&
        target_segment == loc.segment_id && target_offset == loc.offset) {
      leveldb_writebatch_delete(batch, (const char *)key, key_len);
      bs->blocks--;
      bs->block_bytes -= loc.len;
      changed = true;
    }
  }
  int rc = changed ? db_write(bs, batch, false) : 0;
  leveldb_writebatch_destroy(batch);
  return rc;
}

/* Recovers one segment file; adds it to the table (or removes a torn new one). */
static int recover_segment(bs_t *bs, uint32_t segment_id, bool newest) {
  char path[BS_PATH_BYTES_MAX];
  segment_path(bs, segment_id, path);
  bool writable = !bs->opts.read_only;
  int fd = io_open(bs->io, path, writable ? O_RDWR : O_RDONLY, 0);
  if (fd < 0) return err_set(fd, "open %s: %s", path, err_msg(fd));
  uint64_t size = 0;
  int rc = io_size(bs->io, fd, &size);
  uint64_t watermark = 0;
  int has_watermark = rc ? rc : watermark_get(bs, segment_id, &watermark);
  if (has_watermark < 0) {
    (void)io_close(bs->io, fd);
    return has_watermark;
  }
  uint8_t header[SEG_HEADER_BYTES];
  ssize_t n = io_pread(bs->io, fd, header, sizeof header, 0);
  if (n < 0) {
    (void)io_close(bs->io, fd);
    return err_set((int)n, "read %s: %s", path, err_msg((int)n));
  }
  uint32_t header_id = 0;
  int header_rc = seg_header_decode(header, (size_t)n, &header_id);
  if (header_rc == -EPROTONOSUPPORT) {
    (void)io_close(bs->io, fd);
    return err_set(header_rc, "%s: segment format version not supported (this is %d)", path,
                   SEG_FORMAT_VERSION);
  }
  if (header_rc || header_id != segment_id) {
    if (newest && !has_watermark && writable) {
      /* Created, but its header never became durable: nothing was written to it. */
      (void)io_close(bs->io, fd);
      rc = io_unlink(bs->io, path);
      if (!rc) rc = io_fsync_dir(bs->io, bs->dir);
      return rc ? err_set(rc, "remove torn %s: %s", path, err_msg(rc)) : 0;
    }
    rc = segment_add(bs, segment_id, fd, size);
    if (rc) {
      (void)io_close(bs->io, fd);
      return rc;
    }
    bs->segments[bs->segments_len - 1].broken = true;
    bs->segments[bs->segments_len - 1].durable_bytes = has_watermark ? watermark : size;
    return 0; /* fsck reports it */
  }
  uint64_t start = has_watermark ? watermark : SEG_HEADER_BYTES;
  if (start < SEG_HEADER_BYTES) start = SEG_HEADER_BYTES;
  uint64_t valid_end = size;
  if (size > start) {
    /* Records past the watermark: make them durable before indexing them. */
    if (writable) {
      rc = io_fdatasync(bs->io, fd);
      if (rc) {
        (void)io_close(bs->io, fd);
        return err_set(rc, "fdatasync %s: %s", path, err_msg(rc));
      }
    }
    bool may_truncate = has_watermark || newest;
    seg_scan_t scan;
    rc = seg_scan_open_fd(&scan, bs->io, fd, start, size);
    for (uint64_t records = 0; !rc; records++) {
      seg_record_t rec;
      int next = seg_scan_next(&scan, &rec);
      if (next == 0) break;
      if (next == 1 && rec.body_ok) {
        if (writable) rc = reindex_record(bs, segment_id, &rec);
        continue;
      }
      if (next == 1 && !may_truncate) continue; /* index lost and bit rot: skip, fsck reports */
      if (next < 0 && next != -EAGAIN && next != -EBADMSG) {
        rc = err_set(next, "scan %s: %s", path, err_msg(next));
        break;
      }
      if (may_truncate) valid_end = rec.offset; /* a torn tail */
      break;
    }
    seg_scan_close(&scan);
    if (!rc && valid_end < size && writable) {
      rc = io_ftruncate(bs->io, fd, valid_end);
      if (!rc) rc = io_fdatasync(bs->io, fd);
      if (rc) rc = err_set(rc, "truncate %s: %s", path, err_msg(rc));
    }
    if (rc) {
      (void)io_close(bs->io, fd);
      return rc;
    }
    if (writable) {
      leveldb_writebatch_t *batch = leveldb_writebatch_create();
      uint8_t wkey[5], wvalue[8], svalue[16];
      watermark_key(wkey, segment_id);
      put_le64(wvalue, valid_end);
      stats_encode(svalue, bs->blocks, bs->block_bytes);
      leveldb_writebatch_put(batch, (const char *)wkey, sizeof wkey, (const char *)wvalue, sizeof wvalue);
      leveldb_writebatch_put(batch, bs_key_stats, strlen(bs_key_stats), (const char *)svalue, sizeof svalue);
      rc = db_write(bs, batch, true);
      leveldb_writebatch_destroy(batch);
      if (rc) {
        (void)io_close(bs->io, fd);
        return rc;
      }
    }
  }
  rc = segment_add(bs, segment_id, fd, valid_end);
  if (rc) {
    (void)io_close(bs->io, fd);
    return rc;
  }
  bs_segment_t *s = &bs->segments[bs->segments_len - 1];
  s->durable_bytes = has_watermark && !writable ? watermark : valid_end;
  return 0;
}

/* After recovery: a 'W' key whose segment file is gone is what a compaction
 * that died between unlinking the file and dropping the key leaves; it is
 * dropped (not read-only).  Reads the 'W' keys only. */
static int drop_stale_watermarks(bs_t *bs) {
  leveldb_iterator_t *it = leveldb_create_iterator(bs->db, bs->db_read);
  leveldb_writebatch_t *stale = leveldb_writebatch_create();
  size_t stale_count = 0;
  int rc = 0;
  const char prefix = BS_KEY_WATERMARK;
  for (leveldb_iter_seek(it, &prefix, 1); leveldb_iter_valid(it); leveldb_iter_next(it)) {
    size_t key_len;
    const uint8_t *key = (const uint8_t *)leveldb_iter_key(it, &key_len);
    if (key_len < 1 || key[0] != BS_KEY_WATERMARK) break;
    if (key_len != 5) continue; /* fsck reports it */
    uint32_t id = (uint32_t)key[1] << 24 | (uint32_t)key[2] << 16 | (uint32_t)key[3] << 8 | key[4];
    if (!segment_find(bs, id)) {
      leveldb_writebatch_delete(stale, (const char *)key, key_len);
      stale_count++;
    }
  }
  rc = iter_finish(it, rc);
  if (!rc && stale_count && !bs->opts.read_only) {
    rc = io_external(bs->io, "index");
    if (!rc) rc = db_write(bs, stale, true);
  }
  leveldb_writebatch_destroy(stale);
  return rc;
}

static int open_index(bs_t *bs) {
  char path[BS_PATH_BYTES_MAX];
  snprintf(path, sizeof path, "%s/index", bs->dir);
  bs->db_options = leveldb_options_create();
  bs->db_filter = leveldb_filterpolicy_create_bloom(10);
  bs->db_cache = leveldb_cache_create_lru(BS_LEVELDB_CACHE_BYTES);
  leveldb_options_set_create_if_missing(bs->db_options, !bs->opts.read_only);
  leveldb_options_set_filter_policy(bs->db_options, bs->db_filter);
  leveldb_options_set_cache(bs->db_options, bs->db_cache);
  leveldb_options_set_write_buffer_size(bs->db_options, BS_LEVELDB_WRITE_BUFFER_BYTES);
  leveldb_options_set_max_open_files(bs->db_options, 64);
  bs->db_read = leveldb_readoptions_create();
  leveldb_readoptions_set_verify_checksums(bs->db_read, 1);
  bs->db_read_bulk = leveldb_readoptions_create();
  leveldb_readoptions_set_verify_checksums(bs->db_read_bulk, 1);
  leveldb_readoptions_set_fill_cache(bs->db_read_bulk, 0);
  bs->db_write_sync = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(bs->db_write_sync, 1);
  bs->db_write_async = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(bs->db_write_async, 0);
  char *error = NULL;
  bs->db = leveldb_open(bs->db_options, path, &error);
  if (error) {
    int rc = err_set(bs->opts.read_only ? -ENOENT : -EIO, "open index %s: %s", path, error);
    leveldb_free(error);
    bs->db = NULL;
    return rc;
  }
  /* format version */
  size_t len = 0;
  char *value = leveldb_get(bs->db, bs->db_read, bs_key_format, strlen(bs_key_format), &len, &error);
  if (error) {
    int rc = err_set(-EIO, "index read: %s", error);
    leveldb_free(error);
    return rc;
  }
  if (value) {
    uint32_t version = len == 4 ? get_le32((const uint8_t *)value) : 0;
    leveldb_free(value);
    if (version != BS_INDEX_FORMAT_VERSION)
      return err_set(-EPROTONOSUPPORT, "index format version %u not supported (this is %d)", version,
                     BS_INDEX_FORMAT_VERSION);
  } else if (!bs->opts.read_only) {
    uint8_t v[4];
    put_le32(v, BS_INDEX_FORMAT_VERSION);
    leveldb_put(bs->db, bs->db_write_sync, bs_key_format, strlen(bs_key_format), (const char *)v, 4, &error);
    if (error) {
      int rc = err_set(-EIO, "index write: %s", error);
      leveldb_free(error);
      return rc;
    }
  }
  value = leveldb_get(bs->db, bs->db_read, bs_key_stats, strlen(bs_key_stats), &len, &error);
  if (error) {
    int rc = err_set(-EIO, "index read: %s", error);
    leveldb_free(error);
    return rc;
  }
  if (value && len == 16) {
    bs->blocks = get_le64((const uint8_t *)value);
    bs->block_bytes = get_le64((const uint8_t *)value + 8);
  }
  leveldb_free(value);
  return 0;
}

/* Stops the flusher (it writes and commits what is left), then the committer. */
static void stop_threads(bs_t *bs) {
  if (bs->flusher_running) {
    pthread_mutex_lock(&bs->mutex);
    bs->stopping = true;
    pthread_cond_signal(&bs->flusher_cond);
    pthread_mutex_unlock(&bs->mutex);
    pthread_join(bs->flusher, NULL);
    bs->flusher_running = false;
  }
  if (bs->committer_running) {
    pthread_mutex_lock(&bs->mutex);
    bs->committer_stop = true;
    pthread_cond_signal(&bs->commit_cond);
    pthread_mutex_unlock(&bs->mutex);
    pthread_join(bs->committer, NULL);
    bs->committer_running = false;
  }
}

static void bs_free(bs_t *bs) {
  if (!bs) return;
  for (size_t i = 0; i < bs->segments_len; i++) (void)io_close(bs->io, bs->segments[i].fd);
  free(bs->segments);
  if (bs->db) leveldb_close(bs->db);
  if (bs->db_options) leveldb_options_destroy(bs->db_options);
  if (bs->db_filter) leveldb_filterpolicy_destroy(bs->db_filter);
  if (bs->db_cache) leveldb_cache_destroy(bs->db_cache);
  if (bs->db_read) leveldb_readoptions_destroy(bs->db_read);
  if (bs->db_read_bulk) leveldb_readoptions_destroy(bs->db_read_bulk);
  if (bs->db_write_sync) leveldb_writeoptions_destroy(bs->db_write_sync);
  if (bs->db_write_async) leveldb_writeoptions_destroy(bs->db_write_async);
  for (int i = 0; i < 2; i++) free(bs->batches[i].data);
  free(bs->entries);
  free(bs->buckets);
  if (bs->commit_batch) leveldb_writebatch_destroy(bs->commit_batch);
  mhset_free(&bs->gc_touched);
  pthread_mutex_destroy(&bs->mutex);
  pthread_mutex_destroy(&bs->compact_mutex);
  pthread_mutex_destroy(&bs->seg_mutex);
  pthread_mutex_destroy(&bs->fetcher_mutex);
  pthread_cond_destroy(&bs->fetcher_cond);
  pthread_cond_destroy(&bs->seg_cond);
  pthread_cond_destroy(&bs->flusher_cond);
  pthread_cond_destroy(&bs->done_cond);
  pthread_cond_destroy(&bs->commit_cond);
  free(bs);
}

int bs_open(const char *dir, const bs_options_t *opts, bs_t **out) {
  assert(dir && out);
  *out = NULL;
  if (strlen(dir) >= BS_DIR_BYTES_MAX) return err_set(-ENAMETOOLONG, "block store path too long");
  bs_t *bs = calloc(1, sizeof *bs);
  if (!bs) return -ENOMEM;
  /* Adaptive: a thread that finds the mutex taken spins briefly before
   * sleeping, since every hold is short (no I/O under it). */
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
  pthread_mutex_init(&bs->mutex, &attr);
  pthread_mutex_init(&bs->seg_mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  pthread_mutex_init(&bs->compact_mutex, NULL);
  pthread_mutex_init(&bs->fetcher_mutex, NULL);
  pthread_cond_init(&bs->fetcher_cond, NULL);
  pthread_cond_init(&bs->seg_cond, NULL);
  pthread_cond_init(&bs->flusher_cond, NULL);
  pthread_cond_init(&bs->done_cond, NULL);
  pthread_cond_init(&bs->commit_cond, NULL);
  snprintf(bs->dir, sizeof bs->dir, "%s", dir);
  if (opts) bs->opts = *opts;
  else bs_options_default(&bs->opts);
  bs->io = bs->opts.io ? bs->opts.io : io_real();
  if (!bs->opts.segment_bytes_max) bs->opts.segment_bytes_max = BS_SEGMENT_BYTES_DEFAULT;
  if (!bs->opts.batch_bytes_max) bs->opts.batch_bytes_max = BS_BATCH_BYTES_DEFAULT;
  bs->sync_bytes_max = bs->opts.sync_bytes_max ? bs->opts.sync_bytes_max : BS_SYNC_BYTES_DEFAULT;
  /* A record larger than a segment still gets one to itself (reserve_locked
   * rolls only segments that hold something). */
  if (bs->opts.segment_bytes_max < BS_SEGMENT_BYTES_MIN) bs->opts.segment_bytes_max = BS_SEGMENT_BYTES_MIN;
  if (bs->opts.segment_bytes_max > (1ull << 40)) bs->opts.segment_bytes_max = 1ull << 40;
  if (bs->opts.batch_bytes_max > (256ull << 20)) bs->opts.batch_bytes_max = 256ull << 20;
  bs->next_seq = 1;
  bs->fill = 0;
  bs->batches[0].state = BS_BATCH_FILLING;
  bs->batches[1].state = BS_BATCH_FREE;

  int rc = 0;
  if (!bs->opts.read_only) {
    rc = io_mkdir(bs->io, dir, 0755);
    if (rc == -EEXIST) rc = 0;
    if (rc) rc = err_set(rc, "create %s: %s", dir, err_msg(rc));
  }
  if (!rc) rc = open_index(bs);
  id_list_t ids = {0};
  if (!rc) {
    rc = io_list(bs->io, dir, collect_segment, &ids);
    if (rc < 0) rc = err_set(rc, "list %s: %s", dir, err_msg(rc));
  }
  if (!rc && ids.len) qsort(ids.ids, ids.len, sizeof *ids.ids, compare_ids);
  for (size_t i = 0; !rc && i < ids.len; i++) rc = recover_segment(bs, ids.ids[i], i + 1 == ids.len);
  free(ids.ids);
  if (!rc) rc = drop_stale_watermarks(bs);
  if (!rc && !bs->opts.read_only) {
    /* Append to the newest segment if healthy, else start the next one. */
    bs->append_segment_id = 1;
    bs->append_offset = SEG_HEADER_BYTES;
    if (bs->segments_len) {
      bs_segment_t *last = &bs->segments[bs->segments_len - 1];
      bs->append_segment_id = last->id;
      bs->append_offset = last->size_bytes;
      if (last->broken || last->size_bytes < SEG_HEADER_BYTES) {
        bs->append_segment_id = last->id + 1;
        bs->append_offset = SEG_HEADER_BYTES;
      }
      if (bs->append_segment_id > SEG_ID_MAX) rc = err_set(-ENOSPC, "block store: segment ids exhausted");
    }
    size_t cap = bs->opts.batch_bytes_max > SEG_RECORD_BYTES_MAX ? bs->opts.batch_bytes_max
                                                                   : SEG_RECORD_BYTES_MAX;
    for (int i = 0; !rc && i < 2; i++) {
      bs->batches[i].data = malloc(cap);
      bs->batches[i].cap_bytes = cap;
      if (!bs->batches[i].data) rc = -ENOMEM;
    }
  }
  if (!rc) {
    bs->entries = calloc(BS_PENDING_MAX, sizeof *bs->entries);
    bs->buckets = malloc(BS_BUCKETS * sizeof *bs->buckets);
    if (!bs->entries || !bs->buckets) rc = -ENOMEM;
    else pending_clear(bs);
  }
  if (!rc && !bs->opts.read_only) {
    rc = -pthread_create(&bs->committer, NULL, committer_main, bs);
    if (rc) rc = err_set(rc, "start committer thread");
    else bs->committer_running = true;
  }
  if (!rc && !bs->opts.read_only) {
    rc = -pthread_create(&bs->flusher, NULL, flusher_main, bs);
    if (rc) rc = err_set(rc, "start flusher thread");
    else bs->flusher_running = true;
  }
  if (rc) {
    stop_threads(bs);
    bs_free(bs);
    return rc;
  }
  *out = bs;
  return 0;
}

int bs_close(bs_t *bs) {
  if (!bs) return 0;
  int rc = bs_sync(bs);
  stop_threads(bs);
  if (!rc && bs->error) rc = sticky_error(bs);
  bs_free(bs);
  return rc;
}

/* ---- metrics (storage_metrics.h): each public operation timed and counted ---- */

int bs_put(bs_t *bs, const cid_t *cid, const void *data, size_t len) {
  uint64_t start_ns = metrics_now_ns();
  int rc = put_unmetered(bs, cid, data, len);
  metrics_storage_done(metrics_storage(), METRICS_STORAGE_PUT, start_ns, rc, len);
  return rc;
}

int bs_get(bs_t *bs, const cid_t *cid, buf_t *out) {
  uint64_t start_ns = metrics_now_ns();
  int rc = get_unmetered(bs, cid, out);
  metrics_storage_done(metrics_storage(), METRICS_STORAGE_GET, start_ns, rc, rc == 0 ? out->len : 0);
  return rc;
}

int bs_has(bs_t *bs, const cid_t *cid, uint64_t *size_bytes) {
  uint64_t start_ns = metrics_now_ns();
  int rc = has_unmetered(bs, cid, size_bytes);
  metrics_storage_done(metrics_storage(), METRICS_STORAGE_HAS, start_ns, rc, 0);
  return rc;
}

int bs_delete(bs_t *bs, const cid_t *cid) {
  uint64_t start_ns = metrics_now_ns();
  int rc = delete_unmetered(bs, cid);
  metrics_storage_done(metrics_storage(), METRICS_STORAGE_DELETE, start_ns, rc, 0);
  return rc;
}

int bs_sync(bs_t *bs) {
  uint64_t start_ns = metrics_now_ns();
  int rc = sync_unmetered(bs);
  metrics_storage_done(metrics_storage(), METRICS_STORAGE_SYNC, start_ns, rc, 0);
  return rc;
}

int bs_stat(bs_t *bs, bs_stat_t *st) {
  int rc = stat_unmetered(bs, st);
  const metrics_storage_t *m = metrics_storage();
  if (rc == 0 && m) {
    metrics_gauge_set(m->used_bytes, (double)st->disk_bytes);
    metrics_gauge_set(m->blocks, (double)st->blocks);
  }
  return rc;
}
