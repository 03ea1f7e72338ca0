/*
 * gc and compaction: bs_compact reclaims space (files deleted, disk bytes
 * fall) and keeps every live block readable, also across a reopen and an
 * index rebuild (tombstones copied forward); readers and writers running
 * during compaction and GC never fail and nothing put during a GC is swept;
 * mark/sweep over dag-pb, dag-cbor and raw DAGs from in-test root providers;
 * and compaction under the io fault backend at every call site and crash
 * point, each followed by a reopen, fsck and a read of every live block.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bs.h"
#include "cid.h"
#include "dagpb.h"
#include "err.h"
#include "gc.h"
#include "io.h"
#include "segment.h"

#include "testdir.h"

/* ---- helpers ---- */

typedef struct fixture {
  char dir[512];   /* temp store directory */
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  if (testdir_make(f->dir, sizeof f->dir - sizeof "/blocks", "anya-gc")) return -1;
  strcat(f->dir, "/blocks");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  char *slash = strrchr(f->dir, '/');
  *slash = '\0';
  testdir_remove(f->dir);
  free(f);
  return 0;
}


static size_t block_len(uint32_t seed) { return 100 + (seed * 7919u) % 6000u; }

static void seed_cid(uint32_t seed, uint8_t *data, size_t *len, cid_t *cid) {
  *len = block_len(seed);
  testdir_fill(data, *len, seed);
  assert_int_equal(cid_make(cid, 1, CODEC_RAW, MH_SHA2_256, data, *len), 0);
}

static int put_seed(bs_t *bs, uint32_t seed) {
  uint8_t data[8192];
  size_t len;
  cid_t cid;
  seed_cid(seed, data, &len, &cid);
  return bs_put(bs, &cid, data, len);
}

static int delete_seed(bs_t *bs, uint32_t seed) {
  uint8_t data[8192];
  size_t len;
  cid_t cid;
  seed_cid(seed, data, &len, &cid);
  return bs_delete(bs, &cid);
}

/* 0 when the block reads back right, else bs_get's error (-EILSEQ: wrong bytes). */
static int check_seed(bs_t *bs, uint32_t seed) {
  uint8_t data[8192];
  size_t len;
  cid_t cid;
  seed_cid(seed, data, &len, &cid);
  buf_t out = {0};
  int rc = bs_get(bs, &cid, &out);
  if (rc == 0 && (out.len != len || memcmp(out.data, data, len) != 0)) rc = -EILSEQ;
  buf_free(&out);
  return rc;
}

static void small_options(bs_options_t *o) {
  bs_options_default(o);
  o->segment_bytes_max = 64u << 10; /* the minimum: many segments */
  o->batch_bytes_max = 32u << 10;
}

typedef struct problems {
  int count;
  char last[512];
} problems_t;

static void collect_problem(void *ctx, const char *line) {
  problems_t *p = ctx;
  p->count++;
  snprintf(p->last, sizeof p->last, "%s", line);
}

static int fsck_quiet(bs_t *bs) {
  problems_t p = {0};
  int rc = bs_fsck(bs, collect_problem, &p);
  if (rc != 0) print_message("fsck: %d, last: %s\n", rc, p.last);
  return rc;
}

static bool segment_exists(const fixture_t *f, uint32_t id) {
  char name[SEG_NAME_BYTES_MAX], path[600];
  seg_name(id, name);
  snprintf(path, sizeof path, "%s/%s", f->dir, name);
  return access(path, F_OK) == 0;
}

static int nosync(const io_backend_t *io, int fd) { (void)io, (void)fd; return 0; }

/* The real backend minus fdatasync/fsync: the fault matrix simulates process
 * crashes (the page cache survives them), so syncing only costs time there;
 * the fault backend still counts and faults those calls. */
static io_backend_t fast_io;

/* ---- compaction ---- */

static void test_compact_reclaims(void **state) {
  fixture_t *f = *state;
  bs_options_t o;
  small_options(&o);
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  enum { SEEDS = 600 };
  for (uint32_t s = 1; s <= SEEDS; s++) assert_int_equal(put_seed(bs, s), 0);
  assert_int_equal(bs_sync(bs), 0);
  bs_stat_t before;
  assert_int_equal(bs_stat(bs, &before), 0);
  assert_true(before.segments > 20);
  assert_int_equal(before.reclaimable_bytes, 0);
  for (uint32_t s = 1; s <= SEEDS; s++)
    if (s % 4 != 0) assert_int_equal(delete_seed(bs, s), 0);
  bs_stat_t deleted;
  assert_int_equal(bs_stat(bs, &deleted), 0);
  assert_true(deleted.reclaimable_bytes > before.block_bytes / 2);
  assert_true(segment_exists(f, 1));
  bs_compact_result_t res;
  assert_int_equal(bs_compact(bs, NULL, &res), 0);
  print_message("compact: %llu segments, %llu blocks copied, %llu bytes copied, %llu bytes freed\n",
                (unsigned long long)res.segments_compacted, (unsigned long long)res.blocks_copied,
                (unsigned long long)res.bytes_copied, (unsigned long long)res.bytes_freed);
  assert_true(res.segments_compacted > 10);
  assert_int_equal(res.segments_skipped, 0);
  assert_false(segment_exists(f, 1));
  bs_stat_t after;
  assert_int_equal(bs_stat(bs, &after), 0);
  assert_true(after.disk_bytes < deleted.disk_bytes - res.bytes_freed / 2);
  assert_true(after.reclaimable_bytes < deleted.reclaimable_bytes / 3);
  assert_int_equal(after.blocks, SEEDS / 4);
  for (uint32_t s = 1; s <= SEEDS; s++) assert_int_equal(check_seed(bs, s), s % 4 == 0 ? 0 : -ENOENT);
  assert_int_equal(fsck_quiet(bs), 0);
  /* a second pass only finds what was in the active segment the first time */
  assert_int_equal(bs_compact(bs, NULL, &res), 0);
  assert_true(res.blocks_copied < 20);
  assert_int_equal(bs_stat(bs, &after), 0);
  assert_int_equal(bs_close(bs), 0);

  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  for (uint32_t s = 1; s <= SEEDS; s++) assert_int_equal(check_seed(bs, s), s % 4 == 0 ? 0 : -ENOENT);
  assert_int_equal(fsck_quiet(bs), 0);
  bs_stat_t reopened;
  assert_int_equal(bs_stat(bs, &reopened), 0);
  assert_int_equal(reopened.reclaimable_bytes, after.reclaimable_bytes);
  assert_int_equal(bs_close(bs), 0);
}

/* A tombstone copied forward keeps shadowing an older record when the index
 * is rebuilt from the segments; a block put again after its delete survives. */
static void test_compact_tombstones_forward(void **state) {
  fixture_t *f = *state;
  bs_options_t o;
  small_options(&o);
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  for (uint32_t s = 1; s <= 100; s++) assert_int_equal(put_seed(bs, s), 0);
  assert_int_equal(bs_sync(bs), 0);
  /* deletes of old blocks: tombstones land in later segments */
  for (uint32_t s = 1; s <= 100; s += 2) assert_int_equal(delete_seed(bs, s), 0);
  for (uint32_t s = 1; s <= 20; s += 4) assert_int_equal(put_seed(bs, s), 0); /* put again */
  /* filler to push the tombstones out of the active segment */
  for (uint32_t s = 1000; s < 1040; s++) assert_int_equal(put_seed(bs, s), 0);
  for (uint32_t s = 1000; s < 1040; s++) assert_int_equal(delete_seed(bs, s), 0);
  for (uint32_t s = 2000; s < 2040; s++) assert_int_equal(put_seed(bs, s), 0);
  assert_int_equal(bs_sync(bs), 0);
  bs_compact_options_t co = {.dead_ratio_min = 0.3};
  bs_compact_result_t res;
  assert_int_equal(bs_compact(bs, &co, &res), 0);
  assert_true(res.segments_compacted > 0);
  assert_int_equal(bs_close(bs), 0);

  /* lose the index: the rebuild replays the segments that are left */
  char index[600];
  snprintf(index, sizeof index, "%s/index", f->dir);
  testdir_remove(index);
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  for (uint32_t s = 1; s <= 100; s++) {
    bool live = s % 2 == 0 || (s <= 20 && (s - 1) % 4 == 0);
    int got = check_seed(bs, s);
    if (got != (live ? 0 : -ENOENT)) print_message("seed %u: %d\n", s, got);
    assert_int_equal(got, live ? 0 : -ENOENT);
  }
  for (uint32_t s = 1000; s < 1040; s++) assert_int_equal(check_seed(bs, s), -ENOENT);
  for (uint32_t s = 2000; s < 2040; s++) assert_int_equal(check_seed(bs, s), 0);
  assert_int_equal(fsck_quiet(bs), 0);
  assert_int_equal(bs_close(bs), 0);
}

/* A segment with a record that does not check is never deleted: what it
 * holds cannot be copied (a block) or forwarded (a tombstone). */
static void test_compact_keeps_damaged(void **state) {
  fixture_t *f = *state;
  bs_options_t o;
  small_options(&o);
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  for (uint32_t s = 1; s <= 200; s++) assert_int_equal(put_seed(bs, s), 0);
  assert_int_equal(bs_sync(bs), 0);
  for (uint32_t s = 1; s <= 200; s++)
    if (s % 4 != 0) assert_int_equal(delete_seed(bs, s), 0);
  assert_int_equal(bs_close(bs), 0);
  /* flip a byte in the body of segment 1's first record (seed 1: dead) */
  char name[SEG_NAME_BYTES_MAX], path[600];
  seg_name(1, name);
  snprintf(path, sizeof path, "%s/%s", f->dir, name);
  int fd = open(path, O_RDWR);
  assert_true(fd >= 0);
  uint8_t byte;
  off_t at = SEG_HEADER_BYTES + SEG_RECORD_HEADER_BYTES + 40;
  assert_int_equal(pread(fd, &byte, 1, at), 1);
  byte ^= 0x5a;
  assert_int_equal(pwrite(fd, &byte, 1, at), 1);
  close(fd);
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  bs_compact_result_t res;
  assert_int_equal(bs_compact(bs, NULL, &res), 0);
  assert_true(res.segments_compacted > 0);
  assert_true(res.segments_skipped >= 1);
  assert_true(segment_exists(f, 1));
  for (uint32_t s = 1; s <= 200; s++) assert_int_equal(check_seed(bs, s), s % 4 == 0 ? 0 : -ENOENT);
  problems_t p = {0};
  assert_int_equal(bs_fsck(bs, collect_problem, &p), 1); /* the flipped record, nothing else */
  assert_int_equal(bs_close(bs), 0);
}

/* ---- readers and writers during compaction ---- */

typedef struct reader {
  bs_t *bs;
  uint32_t first, count;   /* live seeds first .. first + count - 1 */
  uint32_t put_first;      /* writers: seeds put from here on */
  volatile int *stop;
  int failures;
  uint64_t reads;
} reader_t;

static void *reader_main(void *arg) {
  reader_t *r = arg;
  uint64_t x = r->first * 2654435761u + 1;
  while (!__atomic_load_n(r->stop, __ATOMIC_ACQUIRE)) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    uint32_t s = r->first + (uint32_t)(x % r->count) * 4; /* the live ones: multiples of 4 apart */
    int rc = check_seed(r->bs, s);
    if (rc) {
      print_message("reader: seed %u: %d %s\n", s, rc, err_msg(rc));
      r->failures++;
    }
    r->reads++;
  }
  return NULL;
}

static void test_compact_online(void **state) {
  fixture_t *f = *state;
  bs_options_t o;
  small_options(&o);
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  volatile int stop = 0;
  enum { READERS = 3, ROUNDS = 6, PER_ROUND = 400 };
  uint32_t next = 4;
  for (int round = 0; round < ROUNDS; round++) {
    uint32_t first = next;
    for (uint32_t i = 0; i < PER_ROUND; i++, next++) assert_int_equal(put_seed(bs, next), 0);
    assert_int_equal(bs_sync(bs), 0);
    for (uint32_t s = first; s < next; s++)
      if (s % 4 != 0) assert_int_equal(delete_seed(bs, s), 0);
    stop = 0;
    pthread_t threads[READERS];
    reader_t readers[READERS];
    for (int t = 0; t < READERS; t++) {
      readers[t] = (reader_t){.bs = bs, .first = 4, .count = (next - 4) / 4, .stop = &stop};
      assert_int_equal(pthread_create(&threads[t], NULL, reader_main, &readers[t]), 0);
    }
    bs_compact_result_t res;
    assert_int_equal(bs_compact(bs, NULL, &res), 0);
    assert_true(res.segments_compacted > 0);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int t = 0; t < READERS; t++) {
      pthread_join(threads[t], NULL);
      assert_int_equal(readers[t].failures, 0);
    }
  }
  assert_int_equal(fsck_quiet(bs), 0);
  assert_int_equal(bs_close(bs), 0);
}

/* ---- interleavings of compaction with writers and readers ----
 *
 * A hooking I/O backend (the real one with preadv wrapped) runs test code at
 * a chosen point of a compaction or a read, so an interleaving that a stress
 * test would only hit by luck happens every time. */

static struct {
  io_backend_t backend;        /* io_real() with hook_preadv */
  pthread_t thread;            /* the thread whose reads fire the hook */
  volatile int armed;          /* fire once, then disarm */
  void (*fn)(int fd);          /* what to do (before the read goes through) */
} hook;

static ssize_t hook_preadv(const io_backend_t *io, int fd, const struct iovec *iov, int iov_count,
                           uint64_t offset) {
  (void)io;
  if (__atomic_load_n(&hook.armed, __ATOMIC_ACQUIRE) && pthread_equal(pthread_self(), hook.thread) &&
      hook.fn) {
    __atomic_store_n(&hook.armed, 0, __ATOMIC_RELEASE);
    hook.fn(fd);
  }
  return io_real()->preadv(io_real(), fd, iov, iov_count, offset);
}

static void hook_options(bs_options_t *o) {
  small_options(o);
  hook.backend = *io_real();
  hook.backend.preadv = hook_preadv;
  hook.armed = 0;
  hook.fn = NULL;
  o->io = &hook.backend;
}

static bs_t *hook_bs;

/* Runs inside compaction's first scan read of segment 1 (no lock held):
 * seed 4 (live there) is deleted, seed 8 (live there) deleted and put again,
 * seed 2 (dead there) put again. */
static void mutate_during_scan(int fd) {
  (void)fd;
  assert_int_equal(delete_seed(hook_bs, 4), 0);
  assert_int_equal(delete_seed(hook_bs, 8), 0);
  assert_int_equal(put_seed(hook_bs, 8), 0);
  assert_int_equal(put_seed(hook_bs, 2), 0);
}

static bool hooked_live(uint32_t s) { return (s % 4 == 0 && s != 4) || s == 2; }

static void check_hooked(bs_t *bs, const char *what) {
  for (uint32_t s = 1; s <= 200; s++) {
    int got = check_seed(bs, s);
    if (got != (hooked_live(s) ? 0 : -ENOENT)) print_message("%s: seed %u: %d\n", what, s, got);
    assert_int_equal(got, hooked_live(s) ? 0 : -ENOENT);
  }
}

/* Blocks deleted, deleted and put again, and put again after their delete,
 * between compaction's read of their segment and its copy: none is
 * resurrected, none is lost, also after a reopen and an index rebuild. */
static void test_compact_races_writers(void **state) {
  fixture_t *f = *state;
  bs_options_t o;
  hook_options(&o);
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  for (uint32_t s = 1; s <= 200; s++) assert_int_equal(put_seed(bs, s), 0);
  assert_int_equal(bs_sync(bs), 0);
  for (uint32_t s = 1; s <= 200; s++)
    if (s % 4 != 0) assert_int_equal(delete_seed(bs, s), 0);
  hook_bs = bs;
  hook.thread = pthread_self();
  hook.fn = mutate_during_scan;
  __atomic_store_n(&hook.armed, 1, __ATOMIC_RELEASE);
  bs_compact_result_t res;
  assert_int_equal(bs_compact(bs, NULL, &res), 0);
  assert_int_equal(hook.armed, 0); /* the hook ran */
  assert_true(res.segments_compacted > 0);
  assert_false(segment_exists(f, 1));
  check_hooked(bs, "after compaction");
  assert_int_equal(fsck_quiet(bs), 0);
  assert_int_equal(bs_close(bs), 0);

  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  check_hooked(bs, "reopened");
  assert_int_equal(bs_close(bs), 0);
  char index[600];
  snprintf(index, sizeof index, "%s/index", f->dir);
  testdir_remove(index);
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  check_hooked(bs, "index rebuilt");
  assert_int_equal(fsck_quiet(bs), 0);
  assert_int_equal(bs_close(bs), 0);
}

static ino_t seg1_ino;
static char seg1_path[600];
static volatile int reader_in_read;
static volatile int seg1_existed_during_read;

/* Runs in the reader's read of seed 4: holds the read open while the main
 * thread compacts (and retires) segment 1. */
static void slow_read(int fd) {
  struct stat st;
  assert_int_equal(fstat(fd, &st), 0);
  if (st.st_ino != seg1_ino) return;
  __atomic_store_n(&reader_in_read, 1, __ATOMIC_RELEASE);
  usleep(300000);
  seg1_existed_during_read = access(seg1_path, F_OK) == 0;
}

typedef struct slow_reader {
  bs_t *bs;
  int rc;
} slow_reader_t;

static void *slow_reader_main(void *arg) {
  slow_reader_t *r = arg;
  hook.thread = pthread_self();
  __atomic_store_n(&hook.armed, 1, __ATOMIC_RELEASE);
  r->rc = check_seed(r->bs, 4);
  return NULL;
}

/* A read in progress on a segment that compaction copies, retires and
 * deletes: the compaction waits for it, the read returns the right bytes,
 * and the file is gone afterwards. */
static void test_compact_waits_for_reader(void **state) {
  fixture_t *f = *state;
  bs_options_t o;
  hook_options(&o);
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  for (uint32_t s = 1; s <= 200; s++) assert_int_equal(put_seed(bs, s), 0);
  assert_int_equal(bs_sync(bs), 0);
  for (uint32_t s = 1; s <= 200; s++)
    if (s % 4 != 0) assert_int_equal(delete_seed(bs, s), 0);
  char name[SEG_NAME_BYTES_MAX];
  seg_name(1, name);
  snprintf(seg1_path, sizeof seg1_path, "%s/%s", f->dir, name);
  struct stat st;
  assert_int_equal(stat(seg1_path, &st), 0);
  seg1_ino = st.st_ino;
  reader_in_read = 0;
  seg1_existed_during_read = 0;
  hook.fn = slow_read;
  slow_reader_t r = {.bs = bs, .rc = 1};
  pthread_t th;
  hook.thread = pthread_self(); /* armed by the reader for itself */
  assert_int_equal(pthread_create(&th, NULL, slow_reader_main, &r), 0);
  for (int i = 0; i < 5000 && !__atomic_load_n(&reader_in_read, __ATOMIC_ACQUIRE); i++) usleep(1000);
  assert_int_equal(reader_in_read, 1);
  bs_compact_result_t res;
  assert_int_equal(bs_compact(bs, NULL, &res), 0);
  pthread_join(th, NULL);
  assert_int_equal(r.rc, 0);
  assert_int_equal(seg1_existed_during_read, 1);
  assert_true(res.segments_compacted > 0);
  assert_false(segment_exists(f, 1));
  for (uint32_t s = 1; s <= 200; s++) assert_int_equal(check_seed(bs, s), s % 4 == 0 ? 0 : -ENOENT);
  assert_int_equal(fsck_quiet(bs), 0);
  assert_int_equal(bs_close(bs), 0);
}

/* The same races by chance, many times: a mutator deletes and puts again
 * blocks of the segments being compacted while readers read the stable
 * ones; the final state matches the mutator's model, also after a reopen
 * and an index rebuild. */
typedef struct mutator {
  bs_t *bs;
  uint32_t first, count;    /* the seeds it owns */
  bool *present;            /* its model, per seed */
  volatile int *stop;
  int failures;
  uint64_t ops;
} mutator_t;

static void *mutator_main(void *arg) {
  mutator_t *m = arg;
  uint64_t x = 0x2545F4914F6CDD1Dull;
  for (int i = 0; i < 200000 && !__atomic_load_n(m->stop, __ATOMIC_ACQUIRE); i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    uint32_t k = (uint32_t)(x % m->count), s = m->first + k;
    int rc = m->present[k] ? delete_seed(m->bs, s) : put_seed(m->bs, s);
    if (rc != 0) {
      print_message("mutator: seed %u (%s): %d %s\n", s, m->present[k] ? "delete" : "put", rc, err_msg(rc));
      m->failures++;
    }
    m->present[k] = !m->present[k];
    m->ops++;
  }
  return NULL;
}

static void check_mutated(bs_t *bs, const mutator_t *m, const char *what) {
  for (uint32_t k = 0; k < m->count; k++) {
    int got = check_seed(bs, m->first + k);
    if (got != (m->present[k] ? 0 : -ENOENT)) print_message("%s: seed %u: %d\n", what, m->first + k, got);
    assert_int_equal(got, m->present[k] ? 0 : -ENOENT);
  }
}

static void test_compact_races_stress(void **state) {
  fixture_t *f = *state;
  bs_options_t o;
  small_options(&o);
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  /* readers' stable seeds 4, 8, ..., 1600; the mutator owns 3001..3300 */
  for (uint32_t s = 1; s <= 1600; s++) assert_int_equal(put_seed(bs, s), 0);
  bool present[300];
  for (uint32_t k = 0; k < 300; k++) {
    assert_int_equal(put_seed(bs, 3001 + k), 0);
    present[k] = true;
  }
  assert_int_equal(bs_sync(bs), 0);
  for (uint32_t s = 1; s <= 1600; s++)
    if (s % 4 != 0) assert_int_equal(delete_seed(bs, s), 0);
  volatile int stop = 0;
  mutator_t m = {.bs = bs, .first = 3001, .count = 300, .present = present, .stop = &stop};
  reader_t rd = {.bs = bs, .first = 4, .count = 400, .stop = &stop};
  pthread_t mt, rt;
  assert_int_equal(pthread_create(&mt, NULL, mutator_main, &m), 0);
  assert_int_equal(pthread_create(&rt, NULL, reader_main, &rd), 0);
  uint64_t compacted = 0;
  for (int round = 0; round < 8; round++) {
    bs_compact_options_t co = {.dead_ratio_min = 0.2, .yield_cpu = round % 2 == 0};
    bs_compact_result_t res;
    assert_int_equal(bs_compact(bs, &co, &res), 0);
    compacted += res.segments_compacted;
  }
  __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
  pthread_join(mt, NULL);
  pthread_join(rt, NULL);
  print_message("compaction races: %llu segments compacted, %llu mutations, %llu reads alongside\n",
                (unsigned long long)compacted, (unsigned long long)m.ops, (unsigned long long)rd.reads);
  assert_int_equal(m.failures, 0);
  assert_int_equal(rd.failures, 0);
  assert_true(compacted > 0);
  check_mutated(bs, &m, "after the races");
  assert_int_equal(bs_compact(bs, NULL, NULL), 0);
  check_mutated(bs, &m, "compacted again");
  assert_int_equal(fsck_quiet(bs), 0);
  assert_int_equal(bs_close(bs), 0);
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  check_mutated(bs, &m, "reopened");
  assert_int_equal(bs_close(bs), 0);
  char index[600];
  snprintf(index, sizeof index, "%s/index", f->dir);
  testdir_remove(index);
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  check_mutated(bs, &m, "index rebuilt");
  for (uint32_t s = 1; s <= 1600; s++) assert_int_equal(check_seed(bs, s), s % 4 == 0 ? 0 : -ENOENT);
  assert_int_equal(fsck_quiet(bs), 0);
  assert_int_equal(bs_close(bs), 0);
}

/* ---- mark and sweep ---- */

typedef struct roots {
  cid_t cids[16];
  size_t len;
  const uint8_t *mhs[16];   /* expanded blocks (gc_mark_block) */
  size_t mh_lens[16];
  size_t mhs_len;
} roots_t;

static int roots_provider(void *ctx, gc_marker_t *m) {
  roots_t *r = ctx;
  for (size_t i = 0; i < r->len; i++) {
    int rc = gc_mark_root(m, &r->cids[i]);
    if (rc) return rc;
  }
  for (size_t i = 0; i < r->mhs_len; i++) {
    int rc = gc_mark_block(m, r->mhs[i], r->mh_lens[i]);
    if (rc) return rc;
  }
  return 0;
}

typedef struct removed {
  int count;
} removed_t;

static void on_removed(void *ctx, const uint8_t *mh, size_t mh_len, uint64_t size_bytes) {
  (void)mh, (void)mh_len, (void)size_bytes;
  ((removed_t *)ctx)->count++;
}

static void put_pb(bs_t *bs, const cid_t *links, size_t n, cid_t *out) {
  dagpb_link_t l[8];
  assert_true(n <= 8);
  char names[8][2];
  for (size_t i = 0; i < n; i++) {
    names[i][0] = (char)('a' + i);
    l[i] = (dagpb_link_t){.cid = links[i], .name = names[i], .name_len = 1, .has_name = true,
                          .tsize = 1, .has_tsize = true};
  }
  dagpb_node_t node = {.links = l, .links_len = n, .data = (const uint8_t *)"\x08\x01", .data_len = 2,
                       .has_data = true};
  buf_t b = {0};
  assert_int_equal(dagpb_encode(&node, &b), 0);
  assert_int_equal(cid_make(out, 1, CODEC_DAG_PB, MH_SHA2_256, b.data, b.len), 0);
  assert_true(bs_put(bs, out, b.data, b.len) >= 0);
  buf_free(&b);
}

static void put_cbor(bs_t *bs, const cid_t *link, cid_t *out) {
  uint8_t cid_bytes[CID_BYTES_MAX];
  size_t n = cid_to_bytes(link, cid_bytes);
  uint8_t block[256];
  size_t len = 0;
  block[len++] = 0xa2;                       /* map(2) */
  block[len++] = 0x61, block[len++] = 'l';   /* "l" */
  block[len++] = 0xd8, block[len++] = 42;    /* tag 42 */
  block[len++] = 0x58, block[len++] = (uint8_t)(n + 1);
  block[len++] = 0;
  memcpy(block + len, cid_bytes, n);
  len += n;
  block[len++] = 0x61, block[len++] = 'n';   /* "n": [1, -2, "x"] */
  block[len++] = 0x83, block[len++] = 0x01, block[len++] = 0x21, block[len++] = 0x61, block[len++] = 'x';
  assert_int_equal(cid_make(out, 1, CODEC_DAG_CBOR, MH_SHA2_256, block, len), 0);
  assert_true(bs_put(bs, out, block, len) >= 0);
}

static cid_t raw_cid(uint32_t seed) {
  uint8_t data[8192];
  size_t len;
  cid_t cid;
  seed_cid(seed, data, &len, &cid);
  return cid;
}

static void test_gc_mark_sweep(void **state) {
  fixture_t *f = *state;
  bs_options_t o;
  small_options(&o);
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  for (uint32_t s = 1; s <= 300; s++) assert_int_equal(put_seed(bs, s), 0);
  /* kept: pb root -> {raw 1, raw 2, pb mid -> {raw 3, cbor -> raw 4}}; cbor root2 -> raw 5;
   * direct: raw 6 (expanded set) */
  cid_t leaves[2] = {raw_cid(1), raw_cid(2)};
  cid_t cbor, mid, root, root2;
  cid_t r4 = raw_cid(4), r5 = raw_cid(5);
  put_cbor(bs, &r4, &cbor);
  cid_t mid_links[2] = {raw_cid(3), cbor};
  put_pb(bs, mid_links, 2, &mid);
  cid_t root_links[3] = {leaves[0], leaves[1], mid};
  put_pb(bs, root_links, 3, &root);
  put_cbor(bs, &r5, &root2);
  /* garbage DAG: pb -> raw 7 (raw 7 is kept by nothing) */
  cid_t r7 = raw_cid(7), garbage_pb;
  put_pb(bs, &r7, 1, &garbage_pb);
  assert_int_equal(bs_sync(bs), 0);

  gc_t *gc;
  assert_int_equal(gc_new(bs, &gc), 0);
  gc_options_t go;
  gc_options_default(&go);
  go.require_providers = true;
  assert_int_equal(gc_run(gc, &go, NULL), -ENODATA); /* no roots: refuses */
  for (uint32_t s = 1; s <= 300; s++) assert_int_equal(check_seed(bs, s), 0);

  roots_t roots = {.len = 2};
  roots.cids[0] = root;
  roots.cids[1] = root2;
  cid_t r6 = raw_cid(6);
  uint8_t mh6[MH_BYTES_MAX];
  roots.mh_lens[0] = cid_mh_bytes(&r6, mh6);
  roots.mhs[0] = mh6;
  roots.mhs_len = 1;
  assert_int_equal(gc_add_root_provider(gc, roots_provider, &roots), 0);
  removed_t removed = {0};
  go.removed = on_removed;
  go.removed_ctx = &removed;
  gc_result_t res;
  assert_int_equal(gc_run(gc, &go, &res), 0);
  print_message("gc: marked %llu, swept %llu (%llu bytes), compacted %llu segments, %llu bytes freed;"
                " mark %llu ms, sweep %llu ms, compact %llu ms\n",
                (unsigned long long)res.marked, (unsigned long long)res.swept,
                (unsigned long long)res.swept_bytes, (unsigned long long)res.compact.segments_compacted,
                (unsigned long long)res.compact.bytes_freed, (unsigned long long)res.mark_ms,
                (unsigned long long)res.sweep_ms, (unsigned long long)res.compact_ms);
  assert_int_equal(res.marked, 10); /* root, mid, cbor, root2 and raws 1..6 */
  assert_int_equal(res.swept, 300 - 6 + 1); /* raws 7..300 and the garbage pb */
  assert_int_equal(removed.count, (int)res.swept);
  assert_true(res.compact.segments_compacted > 0);
  for (uint32_t s = 1; s <= 300; s++) assert_int_equal(check_seed(bs, s), s <= 6 ? 0 : -ENOENT);
  buf_t b = {0};
  assert_int_equal(bs_get(bs, &root, &b), 0);
  assert_int_equal(bs_get(bs, &mid, &b), 0);
  assert_int_equal(bs_get(bs, &cbor, &b), 0);
  assert_int_equal(bs_get(bs, &root2, &b), 0);
  assert_int_equal(bs_get(bs, &garbage_pb, &b), -ENOENT);
  buf_free(&b);
  assert_int_equal(fsck_quiet(bs), 0);

  /* a root whose DAG lost a block: the run fails and deletes nothing */
  for (uint32_t s = 400; s < 420; s++) assert_int_equal(put_seed(bs, s), 0);
  assert_int_equal(bs_delete(bs, &cbor), 0);
  assert_true(gc_run(gc, &go, &res) < 0);
  for (uint32_t s = 400; s < 420; s++) assert_int_equal(check_seed(bs, s), 0);
  gc_free(gc);
  assert_int_equal(bs_close(bs), 0);
}


/* A block source over the store that counts reads per block. */
typedef struct counting {
  bs_t *bs;
  cid_t cids[32];
  int reads[32];
  size_t len;
  int total;
} counting_t;

static int counting_get(void *ctx, const cid_t *cid, buf_t *out) {
  counting_t *c = ctx;
  c->total++;
  size_t i = 0;
  while (i < c->len && !cid_equal(&c->cids[i], cid)) i++;
  if (i == c->len && c->len < 32) c->cids[c->len++] = *cid;
  if (i < 32) c->reads[i]++;
  return bs_get(c->bs, cid, out);
}

static int counted_reads(const counting_t *c, const cid_t *cid) {
  for (size_t i = 0; i < c->len; i++)
    if (cid_equal(&c->cids[i], cid)) return c->reads[i];
  return 0;
}

/* Marking reads each node that can have links exactly once, however often
 * it is linked (shared subtrees, a node given again as a root), and never
 * reads a raw leaf (raw CIDs have no links; the sweep only asks the index). */
static void test_gc_mark_reads_once(void **state) {
  fixture_t *f = *state;
  bs_options_t o;
  small_options(&o);
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  for (uint32_t s = 1; s <= 40; s++) assert_int_equal(put_seed(bs, s), 0);
  /* C -> {raw 4, cbor D -> raw 5}; A -> {raw 1, raw 2, C}; B -> {raw 3, C, raw 1}; R -> {A, B} */
  cid_t r5 = raw_cid(5), d, c, a, b, r;
  put_cbor(bs, &r5, &d);
  cid_t c_links[2] = {raw_cid(4), d};
  put_pb(bs, c_links, 2, &c);
  cid_t a_links[3] = {raw_cid(1), raw_cid(2), c};
  put_pb(bs, a_links, 3, &a);
  cid_t b_links[3] = {raw_cid(3), c, raw_cid(1)};
  put_pb(bs, b_links, 3, &b);
  cid_t r_links[2] = {a, b};
  put_pb(bs, r_links, 2, &r);
  assert_int_equal(bs_sync(bs), 0);

  roots_t roots = {.len = 4};
  roots.cids[0] = r;
  roots.cids[1] = a;          /* again, as a root of its own */
  roots.cids[2] = raw_cid(6); /* a raw root: kept, not read */
  roots.cids[3] = c;
  gc_t *gc;
  assert_int_equal(gc_new(bs, &gc), 0);
  assert_int_equal(gc_add_root_provider(gc, roots_provider, &roots), 0);
  counting_t counter = {.bs = bs};
  gc_options_t go;
  gc_options_default(&go);
  go.source = (block_source_t){.get = counting_get, .ctx = &counter};
  gc_result_t res;
  assert_int_equal(gc_run(gc, &go, &res), 0);
  assert_int_equal(res.marked, 11); /* R A B C D, raws 1..6 */
  assert_int_equal(counter.total, 5);
  const cid_t *nodes[5] = {&r, &a, &b, &c, &d};
  for (int i = 0; i < 5; i++) assert_int_equal(counted_reads(&counter, nodes[i]), 1);
  for (uint32_t s = 1; s <= 6; s++) {
    cid_t leaf = raw_cid(s);
    assert_int_equal(counted_reads(&counter, &leaf), 0);
  }
  assert_int_equal(res.swept, 40 - 6);
  for (uint32_t s = 1; s <= 40; s++) assert_int_equal(check_seed(bs, s), s <= 6 ? 0 : -ENOENT);
  gc_free(gc);
  assert_int_equal(fsck_quiet(bs), 0);
  assert_int_equal(bs_close(bs), 0);
}

/* bs_gc_delete_batch: deleted, kept (touched), absent, pending (not yet
 * committed) entries, and a batch after a commit moved entries meanwhile. */
static void test_gc_delete_batch(void **state) {
  fixture_t *f = *state;
  bs_options_t o;
  small_options(&o);
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  for (uint32_t s = 1; s <= 50; s++) assert_int_equal(put_seed(bs, s), 0);
  assert_int_equal(bs_sync(bs), 0);
  assert_int_equal(put_seed(bs, 60), 0); /* pending: not committed yet */
  assert_int_equal(delete_seed(bs, 5), 0);
  assert_int_equal(bs_gc_delete_batch(bs, NULL, 0), 0);
  assert_int_equal(bs_gc_begin(bs), 0);
  assert_int_equal(put_seed(bs, 3), 1); /* a dedupe hit touches it */
  uint32_t seeds[] = {1, 2, 3, 5, 60, 7, 70};
  enum { N = sizeof seeds / sizeof seeds[0] };
  bs_gc_item_t items[N];
  for (size_t i = 0; i < N; i++) {
    cid_t cid = raw_cid(seeds[i]);
    items[i].mh_len = (uint16_t)cid_mh_bytes(&cid, items[i].mh);
    items[i].result = 99;
  }
  assert_int_equal(bs_gc_delete_batch(bs, items, N), 0);
  int want[N] = {0, 0, 1, -ENOENT, 0, 0, -ENOENT};
  for (size_t i = 0; i < N; i++) {
    assert_int_equal(items[i].result, want[i]);
    assert_int_equal(items[i].size_bytes, want[i] == 0 ? block_len(seeds[i]) : 0);
  }
  /* again, with the tombstones committed in between: all gone or kept now */
  assert_int_equal(bs_sync(bs), 0);
  assert_int_equal(bs_gc_delete_batch(bs, items, N), 0);
  int again[N] = {-ENOENT, -ENOENT, 1, -ENOENT, -ENOENT, -ENOENT, -ENOENT};
  for (size_t i = 0; i < N; i++) assert_int_equal(items[i].result, again[i]);
  bs_gc_end(bs);
  /* outside a GC nothing can be deleted safely */
  bs_gc_item_t late = items[5];
  cid_t c8 = raw_cid(8);
  late.mh_len = (uint16_t)cid_mh_bytes(&c8, late.mh);
  assert_int_equal(bs_gc_delete_batch(bs, &late, 1), -EOVERFLOW);
  assert_int_equal(late.result, -EOVERFLOW);
  assert_int_equal(bs_sync(bs), 0);
  for (uint32_t s = 1; s <= 50; s++) {
    bool gone = s == 1 || s == 2 || s == 5 || s == 7;
    assert_int_equal(check_seed(bs, s), gone ? -ENOENT : 0);
  }
  assert_int_equal(check_seed(bs, 60), -ENOENT);
  assert_int_equal(fsck_quiet(bs), 0);
  assert_int_equal(bs_close(bs), 0);
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  assert_int_equal(check_seed(bs, 3), 0);
  assert_int_equal(check_seed(bs, 60), -ENOENT);
  assert_int_equal(check_seed(bs, 7), -ENOENT);
  assert_int_equal(fsck_quiet(bs), 0);
  assert_int_equal(bs_close(bs), 0);
}

/* ---- GC while others put and read ---- */

typedef struct shared {
  pthread_mutex_t mutex;
  cid_t *pinned;            /* the "pin set" the provider gives */
  size_t pinned_len, pinned_cap;
  uint32_t *during;         /* seeds put while GC `during_epoch[i]` was running */
  uint32_t *during_epoch;
  size_t during_len, during_cap;
  volatile uint32_t epoch;  /* set by the provider (after bs_gc_begin), cleared after gc_run */
  uint32_t next_epoch;      /* what the provider publishes */
  volatile int stop;
  bs_t *bs;
} shared_t;

typedef struct writer {
  shared_t *sh;
  uint32_t next_seed;
  int failures;
  uint64_t puts, reads;
} writer_t;

static int shared_provider(void *ctx, gc_marker_t *m) {
  shared_t *sh = ctx;
  pthread_mutex_lock(&sh->mutex);
  int rc = 0;
  for (size_t i = 0; !rc && i < sh->pinned_len; i++) rc = gc_mark_root(m, &sh->pinned[i]);
  pthread_mutex_unlock(&sh->mutex);
  return rc;
}

static void *writer_main(void *arg) {
  writer_t *w = arg;
  shared_t *sh = w->sh;
  uint64_t x = w->next_seed;
  for (int i = 0; i < 1500 && !__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE); i++) {
    /* mostly new blocks; sometimes one of the old garbage blocks again (a
     * dedupe hit if it is still there: it must be protected all the same) */
    uint32_t seed = i % 5 == 1 ? 1 + (uint32_t)(x % 400) : w->next_seed++;
    uint32_t epoch = __atomic_load_n(&sh->epoch, __ATOMIC_ACQUIRE);
    if (put_seed(sh->bs, seed) < 0) w->failures++;
    w->puts++;
    if (check_seed(sh->bs, seed) != 0) {
      print_message("writer: seed %u just put is unreadable\n", seed);
      w->failures++;
    }
    pthread_mutex_lock(&sh->mutex);
    if (i % 3 == 0 && seed > 400) { /* pin it: the pin set grows, and the pin touches the block */
      if (sh->pinned_len == sh->pinned_cap) {
        sh->pinned_cap = sh->pinned_cap ? sh->pinned_cap * 2 : 256;
        sh->pinned = realloc(sh->pinned, sh->pinned_cap * sizeof *sh->pinned);
      }
      sh->pinned[sh->pinned_len++] = raw_cid(seed);
      (void)bs_touch(sh->bs, &sh->pinned[sh->pinned_len - 1]);
    } else if (epoch) {
      if (sh->during_len == sh->during_cap) {
        sh->during_cap = sh->during_cap ? sh->during_cap * 2 : 256;
        sh->during = realloc(sh->during, sh->during_cap * sizeof *sh->during);
        sh->during_epoch = realloc(sh->during_epoch, sh->during_cap * sizeof *sh->during_epoch);
      }
      sh->during[sh->during_len] = seed;
      sh->during_epoch[sh->during_len++] = epoch;
    }
    /* read a pinned block: never fails */
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    cid_t pick = sh->pinned[x % sh->pinned_len];
    pthread_mutex_unlock(&sh->mutex);
    buf_t b = {0};
    int rc = bs_get(sh->bs, &pick, &b);
    if (rc) {
      print_message("writer: pinned block unreadable: %d %s\n", rc, err_msg(rc));
      w->failures++;
    }
    buf_free(&b);
    w->reads++;
  }
  return NULL;
}

static int epoch_provider(void *ctx, gc_marker_t *m) {
  shared_t *sh = ctx;
  (void)m;
  __atomic_store_n(&sh->epoch, sh->next_epoch, __ATOMIC_RELEASE);
  usleep(20000); /* a long mark: writers put (and re-put garbage) meanwhile */
  return 0;
}

static void test_gc_concurrent(void **state) {
  fixture_t *f = *state;
  bs_options_t o;
  small_options(&o);
  shared_t sh = {0};
  pthread_mutex_init(&sh.mutex, NULL);
  assert_int_equal(bs_open(f->dir, &o, &sh.bs), 0);
  /* garbage and a first pin */
  for (uint32_t s = 1; s <= 400; s++) assert_int_equal(put_seed(sh.bs, s), 0);
  sh.pinned = malloc(256 * sizeof *sh.pinned);
  sh.pinned_cap = 256;
  sh.pinned[sh.pinned_len++] = raw_cid(1);
  gc_t *gc;
  assert_int_equal(gc_new(sh.bs, &gc), 0);
  assert_int_equal(gc_add_root_provider(gc, shared_provider, &sh), 0);
  assert_int_equal(gc_add_root_provider(gc, epoch_provider, &sh), 0);
  enum { WRITERS = 3, RUNS = 12 };
  pthread_t threads[WRITERS];
  writer_t writers[WRITERS];
  for (int t = 0; t < WRITERS; t++) {
    writers[t] = (writer_t){.sh = &sh, .next_seed = 100000u * (uint32_t)(t + 1)};
    assert_int_equal(pthread_create(&threads[t], NULL, writer_main, &writers[t]), 0);
  }
  uint64_t swept = 0, kept_touched = 0, compacted = 0;
  for (uint32_t run = 1; run <= RUNS; run++) {
    gc_options_t go;
    gc_options_default(&go);
    go.compact_options.dead_ratio_min = 0.3;
    gc_result_t res;
    /* epoch_provider publishes the run number from inside the run, after
     * bs_gc_begin: a writer that sees it puts after the begin */
    sh.next_epoch = run;
    int rc;
    rc = gc_run(gc, &go, &res);
    __atomic_store_n(&sh.epoch, 0, __ATOMIC_RELEASE);
    if (rc) print_message("gc run %u: %s\n", run, err_msg(rc));
    assert_int_equal(rc, 0);
    swept += res.swept;
    kept_touched += res.kept_touched;
    compacted += res.compact.segments_compacted;
    /* every pinned block, and every block put while this run was going on, is there */
    pthread_mutex_lock(&sh.mutex);
    for (size_t i = 0; i < sh.pinned_len; i++) {
      buf_t b = {0};
      assert_int_equal(bs_get(sh.bs, &sh.pinned[i], &b), 0);
      buf_free(&b);
    }
    size_t during = 0;
    for (size_t i = 0; i < sh.during_len; i++) {
      if (sh.during_epoch[i] != run) continue;
      during++;
      int got = check_seed(sh.bs, sh.during[i]);
      if (got) print_message("run %u: seed %u put during the run: %d\n", run, sh.during[i], got);
      assert_int_equal(got, 0);
    }
    pthread_mutex_unlock(&sh.mutex);
    (void)during;
  }
  __atomic_store_n(&sh.stop, 1, __ATOMIC_RELEASE);
  uint64_t puts = 0, reads = 0;
  for (int t = 0; t < WRITERS; t++) {
    pthread_join(threads[t], NULL);
    assert_int_equal(writers[t].failures, 0);
    puts += writers[t].puts;
    reads += writers[t].reads;
  }
  print_message("gc concurrent: %d runs, %llu puts and %llu reads alongside, %llu swept, %llu kept as"
                " touched, %llu segments compacted\n",
                RUNS, (unsigned long long)puts, (unsigned long long)reads, (unsigned long long)swept,
                (unsigned long long)kept_touched, (unsigned long long)compacted);
  assert_true(swept >= 399);
  assert_int_equal(fsck_quiet(sh.bs), 0);
  gc_free(gc);
  assert_int_equal(bs_close(sh.bs), 0);
  /* after a reopen: every pin still there */
  assert_int_equal(bs_open(f->dir, &o, &sh.bs), 0);
  for (size_t i = 0; i < sh.pinned_len; i++) {
    buf_t b = {0};
    assert_int_equal(bs_get(sh.bs, &sh.pinned[i], &b), 0);
    buf_free(&b);
  }
  assert_int_equal(fsck_quiet(sh.bs), 0);
  assert_int_equal(bs_close(sh.bs), 0);
  free(sh.pinned);
  free(sh.during);
  free(sh.during_epoch);
  pthread_mutex_destroy(&sh.mutex);
}

/* ---- compaction under faults and crashes ---- */

enum { FM_SEEDS = 160 };

static bool fm_live(uint32_t s) { return s % 3 == 0 || s == 7 || s == 8; }

/* The store compaction will work on: many segments, two thirds dead, a block
 * deleted and put again (7), tombstones in segments that get compacted. */
static void fm_prepare_slow(const fixture_t *f, const io_backend_t *io) {
  testdir_remove(f->dir);
  bs_options_t o;
  small_options(&o);
  o.io = io;
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  for (uint32_t s = 1; s <= FM_SEEDS; s++) assert_int_equal(put_seed(bs, s), 0);
  assert_int_equal(bs_sync(bs), 0);
  for (uint32_t s = 1; s <= FM_SEEDS; s++)
    if (s % 3 != 0) assert_int_equal(delete_seed(bs, s), 0);
  assert_int_equal(put_seed(bs, 7), 0);
  assert_int_equal(put_seed(bs, 8), 0);
  for (uint32_t s = 1000; s < 1020; s++) assert_int_equal(put_seed(bs, s), 0); /* roll past the tombstones */
  assert_int_equal(bs_close(bs), 0);
}

/* The prepared store is built once and copied for each run. */
static void fm_prepare(const fixture_t *f, const io_backend_t *io) {
  char template[600], cmd[1400];
  snprintf(template, sizeof template, "%s.template", f->dir);
  if (access(template, F_OK) != 0) {
    fm_prepare_slow(f, io);
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", f->dir, template);
    assert_int_equal(system(cmd), 0);
    return;
  }
  testdir_remove(f->dir);
  snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", template, f->dir);
  assert_int_equal(system(cmd), 0);
}

static void fm_check(const fixture_t *f, const char *what) {
  bs_options_t o;
  small_options(&o);
  o.io = &fast_io;
  bs_t *bs;
  int rc = bs_open(f->dir, &o, &bs);
  if (rc) print_message("%s: reopen: %s\n", what, err_msg(rc));
  assert_int_equal(rc, 0);
  rc = fsck_quiet(bs);
  if (rc) print_message("%s: fsck\n", what);
  assert_int_equal(rc, 0);
  for (uint32_t s = 1; s <= FM_SEEDS; s++) {
    int got = check_seed(bs, s);
    if (got != (fm_live(s) ? 0 : -ENOENT)) print_message("%s: seed %u: %d\n", what, s, got);
    assert_int_equal(got, fm_live(s) ? 0 : -ENOENT);
  }
  for (uint32_t s = 1000; s < 1020; s++) assert_int_equal(check_seed(bs, s), 0);
  /* and it compacts to the end afterwards */
  bs_compact_options_t co = {.dead_ratio_min = 0.3};
  assert_int_equal(bs_compact(bs, &co, NULL), 0);
  for (uint32_t s = 1; s <= FM_SEEDS; s++) assert_int_equal(check_seed(bs, s), fm_live(s) ? 0 : -ENOENT);
  assert_int_equal(fsck_quiet(bs), 0);
  assert_int_equal(bs_close(bs), 0);
}

/* Opens through the fault backend (counting only), arms the fault relative
 * to the calls the open made, compacts, closes.  Returns bs_compact's result. */
static int fm_compact(const fixture_t *f, io_fault_t *fault, io_fault_kind_t kind, io_op_t op, uint64_t nth,
                      uint64_t crash_bytes, bool power) {
  bs_options_t o;
  small_options(&o);
  o.io = &fault->backend;
  io_fault_reset(fault);
  fault->kind = IO_FAULT_NONE;
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  fault->op = op;
  fault->nth = nth ? fault->calls[op] + nth : 0;
  fault->crash_after_bytes = fault->written_bytes + crash_bytes;
  fault->crash_loses_unsynced = power;
  fault->kind = kind;
  bs_compact_options_t co = {.dead_ratio_min = 0.3};
  int rc = bs_compact(bs, &co, NULL);
  (void)bs_close(bs);
  return rc;
}

static void test_compact_fault_matrix(void **state) {
  fixture_t *f = *state;
  fast_io = *io_real();
  fast_io.fdatasync = nosync;
  fast_io.fsync = nosync;
  const io_backend_t fast = fast_io;
  io_fault_t fault;
  assert_int_equal(io_fault_init(&fault, &fast), 0);

  fm_prepare(f, &fast);
  fm_check(f, "prepared");
  fm_prepare(f, &fast);
  /* count what a compaction does */
  bs_options_t o;
  small_options(&o);
  o.io = &fault.backend;
  io_fault_reset(&fault);
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  uint64_t base[IO_OP_COUNT];
  memcpy(base, fault.calls, sizeof base);
  uint64_t written_base = fault.written_bytes;
  bs_compact_options_t co = {.dead_ratio_min = 0.3};
  bs_compact_result_t res;
  assert_int_equal(bs_compact(bs, &co, &res), 0);
  assert_true(res.segments_compacted >= 3);
  uint64_t calls[IO_OP_COUNT];
  for (int op = 0; op < IO_OP_COUNT; op++) calls[op] = fault.calls[op] - base[op];
  uint64_t written = fault.written_bytes - written_base;
  assert_int_equal(bs_close(bs), 0);
  fm_check(f, "no fault");

  int runs = 0;
  const io_fault_kind_t kinds[] = {IO_FAULT_EIO, IO_FAULT_ENOSPC, IO_FAULT_SHORT_WRITE};
  for (int op = 0; op < IO_OP_COUNT; op++) {
    if (op == IO_OP_CLOSE) continue;
    for (uint64_t nth = 1; nth <= calls[op]; nth++)
      for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        if (kinds[k] == IO_FAULT_SHORT_WRITE && op != IO_OP_WRITE) continue;
        if (kinds[k] == IO_FAULT_ENOSPC && op != IO_OP_WRITE && nth % 2) continue;
        fm_prepare(f, &fast);
        int rc = fm_compact(f, &fault, kinds[k], (io_op_t)op, nth, 0, false);
        char what[128];
        snprintf(what, sizeof what, "%s #%llu kind %d (compact %d)", io_op_name((io_op_t)op),
                 (unsigned long long)nth, kinds[k], rc);
        fm_check(f, what);
        runs++;
      }
  }
  /* crashes after N bytes of the compaction's writes; then power losses */
  const int points = 24;
  for (int i = 0; i <= points + points / 2; i++) {
    bool power = i > points;
    uint64_t n = power ? written * (uint64_t)(i - points) / (points / 2) + 1
                       : written * (uint64_t)i / points + (uint64_t)(i % 5) * 13;
    if (i == 1) n = 1;
    if (i == 2) n = SEG_RECORD_HEADER_BYTES;
    fm_prepare(f, &fast);
    int rc = fm_compact(f, &fault, IO_FAULT_CRASH, IO_OP_WRITE, 0, n, power);
    char what[128];
    snprintf(what, sizeof what, "%s after %llu bytes (compact %d)", power ? "power loss" : "crash",
             (unsigned long long)n, rc);
    fm_check(f, what);
    runs++;
  }
  io_fault_fini(&fault);
  char template[600];
  snprintf(template, sizeof template, "%s.template", f->dir);
  testdir_remove(template);
  print_message("compaction fault matrix: %d runs; a compaction wrote %llu bytes; calls:", runs,
                (unsigned long long)written);
  for (int op = 0; op < IO_OP_COUNT; op++)
    if (calls[op]) print_message(" %s %llu", io_op_name((io_op_t)op), (unsigned long long)calls[op]);
  print_message("\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_compact_reclaims, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compact_tombstones_forward, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compact_keeps_damaged, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compact_online, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compact_races_writers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compact_waits_for_reader, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compact_races_stress, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gc_mark_sweep, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gc_mark_reads_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gc_delete_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gc_concurrent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compact_fault_matrix, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
