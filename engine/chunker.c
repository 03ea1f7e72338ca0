/*
 * chunker: fixed-size chunks -> hashed leaf blocks, inline or pipelined (see
 * chunker.h).
 *
 * The pipeline is one ring of S slots indexed by a stream sequence number
 * (slot = seq % S) and four counters under one mutex:
 *   seq_read   slots the reader has filled      (reader advances)
 *   seq_claim  slots a worker has started on    (workers advance)
 *   n_hashed   slots whose hashing finished     (workers count)
 *   seq_take   slots the caller has taken       (caller advances)
 * with seq_take <= seq_claim <= seq_read and seq_read - (seq_take - held) <= S,
 * held being 1 while the caller still borrows the last slot it took.
 *
 * A regular file needs no reader: each worker claims the next chunk, preads it
 * at its offset and hashes it (seq_read then counts claims), so the copy out
 * of the page cache is spread over the cores too.  The end is where the first
 * short read happened (end_seq, the lowest such); chunks claimed past it read
 * nothing and are dropped.  Pipes keep the reader thread.  The
 * lock is taken a handful of times per chunk (256 KiB by default), so one
 * mutex costs nothing measurable next to SHA-256; wake-ups do cost (a futex
 * call and a context switch each), so each party has its own condition
 * variable and is signalled only when it is waiting for what just happened.
 */
#include "chunker.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block.h"
#include "err.h"
#include "unixfs.h"
#include "varint.h"

typedef struct slot {
  uint8_t *mem;         /* CHUNKER_HEAD_BYTES + chunk_bytes + CHUNKER_TAIL_BYTES */
  uint32_t data_bytes;  /* chunk bytes read into mem + CHUNKER_HEAD_BYTES */
  bool hashed;          /* block and cid are valid */
  int err;              /* hashing failed with this code */
  cid_t cid;
  uint8_t *block;
  size_t block_bytes;
} slot_t;

struct chunker {
  chunker_config_t cfg;
  uint32_t slots_len;   /* S */
  size_t slot_bytes;
  uint8_t *ring;        /* slots_len * slot_bytes */
  slot_t *slots;

  /* inline mode */
  bool inline_mode;      /* current stream runs on the caller's thread */
  int fd;                /* current stream */
  uint32_t inline_slot;  /* 0/1: where the next chunk goes (the other may be borrowed) */
  bool inline_loaded;    /* slots[inline_slot] holds an unread-by-caller chunk */
  bool inline_ended;     /* no chunk after the loaded one */
  int inline_err;

  /* pipelined mode; everything below is guarded by mu */
  pthread_mutex_t mu;
  pthread_cond_t cond_reader;   /* the reader waits here (free slot, new stream, stop) */
  pthread_cond_t cond_workers;  /* workers wait here (filled slot) */
  pthread_cond_t cond_consumer; /* the caller waits here (head hashed, end, idle) */
  bool reader_waiting;
  uint32_t workers_waiting;
  bool consumer_waiting;
  pthread_t reader;
  pthread_t workers[CHUNKER_WORKERS_MAX];
  uint32_t workers_len;         /* threads started (0 until the first pipelined stream) */
  uint32_t workers_max;         /* what the ring can keep busy: (slots - 2) / 2 */
  bool threads_failed;          /* could not start threads: run everything inline */
  bool shutdown;
  bool active;                  /* a pipelined stream is open */
  bool stop;                    /* the caller abandons the stream */
  bool reader_done;             /* the reader reached end of stream (or error/stop) */
  int stream_errno;             /* read error (positive errno), 0 if none */
  bool pread_mode;              /* workers pread a regular file themselves */
  uint64_t base_offset;         /* pread mode: file offset of chunk 0 */
  uint64_t seq_read, seq_claim, seq_take, n_hashed;
  uint64_t end_seq;             /* chunks in the stream, once reader_done (UINT64_MAX before) */
  bool held;                    /* the caller borrows slot (seq_take - 1) */
};

/* ---- leaf encoding ---- */

void chunker_wrap_leaf(uint8_t *data, uint32_t data_bytes, uint32_t unixfs_type, uint8_t **block,
                       size_t *block_bytes) {
  assert(data != NULL && block != NULL && block_bytes != NULL);
  assert(data_bytes > 0);
  assert(unixfs_type == UNIXFS_FILE || unixfs_type == UNIXFS_RAW);
  size_t n_len = varint_size(data_bytes);
  /* UnixFS Data: 08 type | 12 varint(n) chunk | 18 varint(n) */
  size_t unixfs_bytes = 2 + 1 + n_len + data_bytes + 1 + n_len;
  uint8_t head[CHUNKER_HEAD_BYTES];
  size_t h = 0;
  head[h++] = 0x0a; /* PBNode.Data */
  h += varint_encode(unixfs_bytes, head + h);
  head[h++] = 0x08;
  head[h++] = (uint8_t)unixfs_type;
  head[h++] = 0x12;
  h += varint_encode(data_bytes, head + h);
  assert(h <= CHUNKER_HEAD_BYTES);
  memcpy(data - h, head, h);
  uint8_t *tail = data + data_bytes;
  size_t t = 0;
  tail[t++] = 0x18;
  t += varint_encode(data_bytes, tail + t);
  assert(t <= CHUNKER_TAIL_BYTES);
  *block = data - h;
  *block_bytes = h + data_bytes + t;
}

static int slot_hash(const chunker_config_t *cfg, slot_t *s) {
  assert(s->data_bytes > 0 && s->data_bytes <= cfg->chunk_bytes);
  uint8_t *data = s->mem + CHUNKER_HEAD_BYTES;
  if (cfg->leaf_kind == CHUNKER_LEAF_RAW) {
    s->block = data;
    s->block_bytes = s->data_bytes;
    return cid_make(&s->cid, 1, CODEC_RAW, MH_SHA2_256, data, s->data_bytes);
  }
  uint32_t type = cfg->leaf_kind == CHUNKER_LEAF_UNIXFS_FILE ? UNIXFS_FILE : UNIXFS_RAW;
  chunker_wrap_leaf(data, s->data_bytes, type, &s->block, &s->block_bytes);
  return cid_make(&s->cid, cfg->cid_version, CODEC_DAG_PB, MH_SHA2_256, s->block, s->block_bytes);
}

/* Reads at `offset` until `want` bytes, end of file or an error: bytes read, or -errno. */
static ssize_t pread_full(int fd, uint8_t *buf, size_t want, uint64_t offset) {
  size_t got = 0;
  while (got < want) {
    ssize_t n = pread(fd, buf + got, want - got, (off_t)(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) break;
    got += (size_t)n;
  }
  return (ssize_t)got;
}

/* Reads until `want` bytes, end of file or an error: bytes read, or -errno. */
static ssize_t read_full(int fd, uint8_t *buf, size_t want) {
  size_t got = 0;
  while (got < want) {
    ssize_t n = read(fd, buf + got, want - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) break;
    got += (size_t)n;
  }
  return (ssize_t)got;
}

static void leaf_from_slot(const slot_t *s, chunker_leaf_t *leaf) {
  leaf->cid = s->cid;
  leaf->block = s->block;
  leaf->block_bytes = s->block_bytes;
  leaf->data_bytes = s->data_bytes;
}

static int read_error(int e) { return err_set(-e, "read: %s", strerror(e)); }

/* ---- threads ---- */

static bool ring_has_room(const chunker_t *c) {
  uint64_t busy = c->seq_read - (c->seq_take - (c->held ? 1 : 0));
  assert(busy <= c->slots_len);
  return busy < c->slots_len;
}

static bool reader_may_run(const chunker_t *c) {
  if (!c->active || c->pread_mode || c->reader_done) return false;
  return c->stop || ring_has_room(c);
}

static bool worker_may_claim(const chunker_t *c) {
  return c->active && c->pread_mode && !c->reader_done && !c->stop && ring_has_room(c);
}

/* pread mode, mu held: reads and hashes the next chunk (the lock is dropped meanwhile). */
static void worker_pread(chunker_t *c) {
  uint64_t seq = c->seq_read++;
  c->seq_claim = c->seq_read;
  slot_t *s = &c->slots[seq % c->slots_len];
  s->hashed = false; /* the slot's previous round is over */
  int fd = c->fd;
  uint32_t want = c->cfg.chunk_bytes;
  uint64_t offset = c->base_offset + seq * want;
  if (c->workers_waiting && worker_may_claim(c)) pthread_cond_signal(&c->cond_workers);
  pthread_mutex_unlock(&c->mu);
  ssize_t n = pread_full(fd, s->mem + CHUNKER_HEAD_BYTES, want, offset);
  pthread_mutex_lock(&c->mu);
  if (n < (ssize_t)want) { /* end of file (or error) at this chunk */
    uint64_t end = n < 0 ? seq : seq + (n > 0);
    if (end < c->end_seq) {
      c->end_seq = end;
      c->stream_errno = n < 0 ? (int)-n : 0;
    }
    c->reader_done = true;
  }
  s->err = 0;
  if (n > 0 && seq < c->end_seq) {
    s->data_bytes = (uint32_t)n;
    pthread_mutex_unlock(&c->mu);
    int rc = slot_hash(&c->cfg, s);
    pthread_mutex_lock(&c->mu);
    s->err = rc;
  }
  s->hashed = true;
  c->n_hashed++;
  if (c->consumer_waiting && (seq == c->seq_take || c->stop || c->reader_done))
    pthread_cond_signal(&c->cond_consumer);
}

static void *reader_main(void *arg) {
  chunker_t *c = arg;
  pthread_mutex_lock(&c->mu);
  for (;;) {
    while (!c->shutdown && !reader_may_run(c)) {
      c->reader_waiting = true;
      pthread_cond_wait(&c->cond_reader, &c->mu);
      c->reader_waiting = false;
    }
    if (c->shutdown) break;
    if (c->stop) {
      c->end_seq = c->seq_read;
      c->reader_done = true;
      if (c->consumer_waiting) pthread_cond_signal(&c->cond_consumer);
      continue;
    }
    slot_t *s = &c->slots[c->seq_read % c->slots_len];
    int fd = c->fd;
    uint32_t want = c->cfg.chunk_bytes;
    pthread_mutex_unlock(&c->mu);
    ssize_t n = read_full(fd, s->mem + CHUNKER_HEAD_BYTES, want);
    pthread_mutex_lock(&c->mu);
    if (n <= 0) {
      c->stream_errno = n < 0 ? (int)-n : 0;
      c->end_seq = c->seq_read;
      c->reader_done = true;
      if (c->consumer_waiting) pthread_cond_signal(&c->cond_consumer);
      continue;
    }
    s->data_bytes = (uint32_t)n;
    s->hashed = false;
    s->err = 0;
    c->seq_read++;
    if ((size_t)n < want) { /* a short chunk is the last one */
      c->end_seq = c->seq_read;
      c->reader_done = true;
      if (c->consumer_waiting) pthread_cond_signal(&c->cond_consumer);
    }
    if (c->workers_waiting) pthread_cond_signal(&c->cond_workers);
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

static void *worker_main(void *arg) {
  chunker_t *c = arg;
  pthread_mutex_lock(&c->mu);
  for (;;) {
    while (!c->shutdown && c->seq_claim >= c->seq_read && !worker_may_claim(c)) {
      c->workers_waiting++;
      pthread_cond_wait(&c->cond_workers, &c->mu);
      c->workers_waiting--;
    }
    if (c->shutdown) break;
    if (c->seq_claim >= c->seq_read) {
      worker_pread(c);
      continue;
    }
    uint64_t seq = c->seq_claim++;
    slot_t *s = &c->slots[seq % c->slots_len];
    /* More filled slots than this one: make sure another worker takes them. */
    if (c->seq_claim < c->seq_read && c->workers_waiting) pthread_cond_signal(&c->cond_workers);
    pthread_mutex_unlock(&c->mu);
    int rc = slot_hash(&c->cfg, s);
    pthread_mutex_lock(&c->mu);
    s->err = rc;
    s->hashed = true;
    c->n_hashed++;
    /* The caller waits for the head slot, or (stopping) for all of them. */
    if (c->consumer_waiting && (seq == c->seq_take || c->stop)) pthread_cond_signal(&c->cond_consumer);
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

static uint32_t workers_wanted(const chunker_config_t *cfg) {
  long n = cfg->workers ? (long)cfg->workers : sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) n = 1;
  if (n > CHUNKER_WORKERS_MAX) n = CHUNKER_WORKERS_MAX;
  return (uint32_t)n;
}

/* Starts the reader and workers once; false when the system refuses threads. */
static bool threads_start(chunker_t *c) {
  if (c->workers_len > 0) return true;
  if (c->threads_failed) return false;
  if (pthread_create(&c->reader, NULL, reader_main, c) != 0) {
    c->threads_failed = true;
    return false;
  }
  uint32_t want = workers_wanted(&c->cfg);
  if (want > c->workers_max) want = c->workers_max;
  for (uint32_t i = 0; i < want; i++) {
    if (pthread_create(&c->workers[i], NULL, worker_main, c) != 0) break;
    c->workers_len++;
  }
  if (c->workers_len == 0) { /* reader alone cannot hash: take it down again */
    pthread_mutex_lock(&c->mu);
    c->shutdown = true;
    pthread_cond_broadcast(&c->cond_reader);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->reader, NULL);
    c->shutdown = false;
    c->threads_failed = true;
    return false;
  }
  return true;
}

/* ---- public ---- */

int chunker_new(const chunker_config_t *cfg, chunker_t **out) {
  assert(cfg != NULL && out != NULL);
  *out = NULL;
  if (cfg->chunk_bytes == 0 || cfg->chunk_bytes > BLOCK_BYTES_MAX - CHUNKER_HEAD_BYTES - CHUNKER_TAIL_BYTES)
    return err_set(-EINVAL, "chunker: chunk size %u out of range", cfg->chunk_bytes);
  if (cfg->leaf_kind > CHUNKER_LEAF_UNIXFS_RAW || cfg->cid_version > 1)
    return err_set(-EINVAL, "chunker: bad leaf kind or CID version");
  chunker_t *c = calloc(1, sizeof *c);
  if (!c) return -ENOMEM;
  c->cfg = *cfg;
  size_t ring_max = cfg->ring_bytes_max ? cfg->ring_bytes_max : CHUNKER_RING_BYTES_DEFAULT;
  c->slot_bytes = CHUNKER_HEAD_BYTES + (size_t)cfg->chunk_bytes + CHUNKER_TAIL_BYTES;
  c->slot_bytes = (c->slot_bytes + 63) & ~(size_t)63;
  size_t slots = ring_max / c->slot_bytes;
  /* The budget bounds memory whatever the core count: fewer workers rather
   * than more slots (two slots per worker keep it busy, two more are the
   * reader's and the caller's). */
  if (slots < 4) slots = 4;
  if (slots > CHUNKER_SLOTS_MAX) slots = CHUNKER_SLOTS_MAX;
  c->workers_max = (uint32_t)((slots - 2) / 2);
  c->slots_len = (uint32_t)slots;
  /* Pages are only touched when used, so a large ring costs nothing for small files. */
  c->ring = malloc(slots * c->slot_bytes);
  c->slots = calloc(slots, sizeof *c->slots);
  if (!c->ring || !c->slots) {
    free(c->ring);
    free(c->slots);
    free(c);
    return -ENOMEM;
  }
  for (size_t i = 0; i < slots; i++) c->slots[i].mem = c->ring + i * c->slot_bytes;
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cond_reader, NULL);
  pthread_cond_init(&c->cond_workers, NULL);
  pthread_cond_init(&c->cond_consumer, NULL);
  c->fd = -1;
  *out = c;
  return 0;
}

void chunker_free(chunker_t *c) {
  if (!c) return;
  chunker_stop(c);
  if (c->workers_len > 0) {
    pthread_mutex_lock(&c->mu);
    c->shutdown = true;
    pthread_cond_broadcast(&c->cond_reader);
    pthread_cond_broadcast(&c->cond_workers);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->reader, NULL);
    for (uint32_t i = 0; i < c->workers_len; i++) pthread_join(c->workers[i], NULL);
  }
  pthread_cond_destroy(&c->cond_consumer);
  pthread_cond_destroy(&c->cond_workers);
  pthread_cond_destroy(&c->cond_reader);
  pthread_mutex_destroy(&c->mu);
  free(c->slots);
  free(c->ring);
  free(c);
}

int chunker_start(chunker_t *c, int fd, uint64_t size_hint_bytes) {
  assert(c != NULL && fd >= 0);
  chunker_stop(c);
  c->fd = fd;
  bool small = size_hint_bytes <= CHUNKER_INLINE_BYTES_MAX;
  if (small || !threads_start(c)) {
    c->inline_mode = true;
    c->inline_slot = 0;
    c->inline_loaded = false;
    c->inline_ended = false;
    c->inline_err = 0;
    return 0;
  }
  c->inline_mode = false;
  struct stat st;
  off_t at = -1;
  bool seekable = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (at = lseek(fd, 0, SEEK_CUR)) >= 0;
  pthread_mutex_lock(&c->mu);
  assert(!c->active);
  c->seq_read = c->seq_claim = c->seq_take = c->n_hashed = 0;
  c->end_seq = UINT64_MAX;
  c->held = false;
  c->stop = false;
  c->reader_done = false;
  c->stream_errno = 0;
  c->pread_mode = seekable;
  c->base_offset = seekable ? (uint64_t)at : 0;
  c->active = true;
  if (seekable) pthread_cond_broadcast(&c->cond_workers);
  else pthread_cond_signal(&c->cond_reader);
  pthread_mutex_unlock(&c->mu);
  return 0;
}

/* Inline: makes sure slots[inline_slot] holds the next chunk if there is one. */
static int inline_more(chunker_t *c) {
  if (c->inline_loaded) return 1;
  if (c->inline_ended) return c->inline_err ? read_error(c->inline_err) : 0;
  slot_t *s = &c->slots[c->inline_slot];
  ssize_t n = read_full(c->fd, s->mem + CHUNKER_HEAD_BYTES, c->cfg.chunk_bytes);
  if (n <= 0) {
    c->inline_ended = true;
    c->inline_err = n < 0 ? (int)-n : 0;
    return c->inline_err ? read_error(c->inline_err) : 0;
  }
  s->data_bytes = (uint32_t)n;
  c->inline_loaded = true;
  if ((size_t)n < c->cfg.chunk_bytes) c->inline_ended = true;
  return 1;
}

static void consumer_wait(chunker_t *c) {
  c->consumer_waiting = true;
  pthread_cond_wait(&c->cond_consumer, &c->mu);
  c->consumer_waiting = false;
}

/* Pipelined, with mu held: 1 when the head slot is hashed, 0 at the end, <0 error. */
static int pipe_wait_head(chunker_t *c) {
  for (;;) {
    if (c->seq_take < c->end_seq && c->seq_take < c->seq_read && c->slots[c->seq_take % c->slots_len].hashed)
      return 1;
    if (c->reader_done && c->seq_take >= c->end_seq) return c->stream_errno ? -c->stream_errno : 0;
    consumer_wait(c);
  }
}

int chunker_more(chunker_t *c) {
  assert(c != NULL);
  if (c->inline_mode) return inline_more(c);
  pthread_mutex_lock(&c->mu);
  int rc = c->active ? pipe_wait_head(c) : 0;
  pthread_mutex_unlock(&c->mu);
  return rc < 0 ? read_error(-rc) : rc;
}

int chunker_next(chunker_t *c, chunker_leaf_t *leaf) {
  assert(c != NULL && leaf != NULL);
  if (c->inline_mode) {
    int rc = inline_more(c);
    if (rc <= 0) return rc;
    slot_t *s = &c->slots[c->inline_slot];
    rc = slot_hash(&c->cfg, s);
    if (rc) return rc;
    leaf_from_slot(s, leaf);
    c->inline_loaded = false;
    c->inline_slot ^= 1; /* the caller borrows this slot until the next call */
    return 1;
  }
  pthread_mutex_lock(&c->mu);
  if (!c->active) {
    pthread_mutex_unlock(&c->mu);
    return 0;
  }
  if (c->held) { /* the previous leaf's slot is free again */
    c->held = false;
    if (c->reader_waiting) pthread_cond_signal(&c->cond_reader);
    if (c->pread_mode && c->workers_waiting) pthread_cond_signal(&c->cond_workers);
  }
  int rc = pipe_wait_head(c);
  slot_t *s = NULL;
  if (rc == 1) {
    s = &c->slots[c->seq_take % c->slots_len];
    c->seq_take++;
    c->held = true;
  } else if (rc == 0) {
    /* Chunks claimed past the end may still be in flight (pread mode). */
    while (c->n_hashed != c->seq_read) consumer_wait(c);
    c->active = false;
  }
  pthread_mutex_unlock(&c->mu);
  if (rc < 0) return read_error(-rc);
  if (rc == 0) return 0;
  if (s->err) return err_set(s->err, "hashing a leaf: %s", strerror(-s->err));
  leaf_from_slot(s, leaf);
  return 1;
}

void chunker_stop(chunker_t *c) {
  assert(c != NULL);
  if (c->inline_mode) {
    c->inline_loaded = false;
    c->inline_ended = true;
    return;
  }
  pthread_mutex_lock(&c->mu);
  if (c->active) {
    c->held = false;
    c->stop = true;
    if (c->pread_mode) { /* no reader: the stream ends at what was claimed */
      c->reader_done = true;
      if (c->end_seq > c->seq_read) c->end_seq = c->seq_read;
    } else {
      pthread_cond_signal(&c->cond_reader);
    }
    while (!(c->reader_done && c->n_hashed == c->seq_read)) consumer_wait(c);
    c->active = false;
  }
  pthread_mutex_unlock(&c->mu);
}
