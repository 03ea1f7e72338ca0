/*
 * bs: the block engine end to end on real temp directories: put/get/has,
 * dedupe, delete, stat, each, fsck, reopen, recovery (torn tails, lost index
 * entries, flipped bytes), several threads putting and syncing, and the
 * fault-injection matrix (every write-path call site x EIO/ENOSPC/short
 * write, and crashes after N bytes), each followed by a reopen with the real
 * backend and a consistency check.
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
#include <leveldb/c.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bs.h"
#include "cid.h"
#include "err.h"
#include "io.h"
#include "segment.h"

#include "testdir.h"

/* ---- helpers ---- */

typedef struct fixture {
  char dir[512];   /* temp store directory */
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  if (testdir_make(f->dir, sizeof f->dir - sizeof "/blocks", "anya-bs")) return -1;
  strcat(f->dir, "/blocks"); /* bs_open creates the last level */
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


#define BIG_SEED 100000u /* seeds from here on make big blocks (segment rolls) */

static size_t block_len(uint32_t seed) {
  if (seed >= BIG_SEED) return (300u << 10) + seed % 1000u;
  return 100 + (seed * 7919u) % 9000u;
}

/* data must hold block_len(seed) bytes */
static void make_block(uint32_t seed, uint8_t *data, size_t *len, cid_t *cid) {
  *len = block_len(seed);
  testdir_fill(data, *len, seed);
  assert_int_equal(cid_make(cid, 1, CODEC_RAW, MH_SHA2_256, data, *len), 0);
}

static int put_seed(bs_t *bs, uint32_t seed) {
  uint8_t *data = malloc(block_len(seed));
  size_t len;
  cid_t cid;
  make_block(seed, data, &len, &cid);
  int rc = bs_put(bs, &cid, data, len);
  free(data);
  return rc;
}

static int delete_seed(bs_t *bs, uint32_t seed) {
  uint8_t *data = malloc(block_len(seed));
  size_t len;
  cid_t cid;
  make_block(seed, data, &len, &cid);
  free(data);
  return bs_delete(bs, &cid);
}

/* 0 when bs_get returns the block for seed byte for byte, else bs_get's
 * error (or -EILSEQ for wrong bytes). Safe on a seed another thread toggles. */
static int get_seed(bs_t *bs, uint32_t seed) {
  uint8_t *data = malloc(block_len(seed));
  size_t len;
  cid_t cid;
  make_block(seed, data, &len, &cid);
  buf_t out = {0};
  int rc = bs_get(bs, &cid, &out);
  if (rc == 0 && (out.len != len || memcmp(out.data, data, len) != 0)) rc = -EILSEQ;
  buf_free(&out);
  free(data);
  return rc;
}

/* get_seed, and bs_has agrees with it (presence and size). Only for seeds
 * no other thread changes: the two calls are not one atomic read. */
static int check_seed(bs_t *bs, uint32_t seed) {
  int rc = get_seed(bs, seed);
  uint8_t *data = malloc(block_len(seed));
  size_t len;
  cid_t cid;
  make_block(seed, data, &len, &cid);
  free(data);
  uint64_t size = 0;
  int has = bs_has(bs, &cid, &size);
  if (rc == 0 && (has != 1 || size != len)) rc = -EILSEQ;
  if (rc == -ENOENT && has != 0) rc = -EILSEQ;
  return rc;
}

static void small_options(bs_options_t *o) {
  bs_options_default(o);
  o->segment_bytes_max = 256u << 10; /* rolls often; big blocks get a segment each */
  o->batch_bytes_max = 64u << 10;
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

static int fsck_quiet(bs_t *bs, problems_t *p) {
  memset(p, 0, sizeof *p);
  int rc = bs_fsck(bs, collect_problem, p);
  if (rc != 0) print_message("fsck: %d problems, last: %s\n", rc, p->last);
  return rc;
}

static void segment_file(const fixture_t *f, uint32_t id, char *out, size_t cap) {
  char name[SEG_NAME_BYTES_MAX];
  seg_name(id, name);
  snprintf(out, cap, "%s/%s", f->dir, name);
}

static off_t file_size(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return st.st_size;
}

/* Direct access to the index (the test knows docs/format.md's key layout). */
static leveldb_t *index_open(const fixture_t *f) {
  char path[600];
  snprintf(path, sizeof path, "%s/index", f->dir);
  leveldb_options_t *o = leveldb_options_create();
  char *error = NULL;
  leveldb_t *db = leveldb_open(o, path, &error);
  leveldb_options_destroy(o);
  assert_null(error);
  return db;
}

static void index_put(leveldb_t *db, const void *key, size_t key_len, const void *value, size_t value_len) {
  leveldb_writeoptions_t *w = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(w, 1);
  char *error = NULL;
  leveldb_put(db, w, key, key_len, value, value_len, &error);
  assert_null(error);
  leveldb_writeoptions_destroy(w);
}

static char *index_get(leveldb_t *db, const void *key, size_t key_len, size_t *len) {
  leveldb_readoptions_t *r = leveldb_readoptions_create();
  char *error = NULL;
  char *v = leveldb_get(db, r, key, key_len, len, &error);
  assert_null(error);
  leveldb_readoptions_destroy(r);
  return v;
}

static void index_delete_block(leveldb_t *db, uint32_t seed) {
  uint8_t *data = malloc(block_len(seed));
  size_t len;
  cid_t cid;
  make_block(seed, data, &len, &cid);
  free(data);
  uint8_t key[1 + MH_BYTES_MAX];
  key[0] = 'B';
  size_t n = 1 + cid_mh_bytes(&cid, key + 1);
  leveldb_writeoptions_t *w = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(w, 1);
  char *error = NULL;
  leveldb_delete(db, w, (const char *)key, n, &error);
  assert_null(error);
  leveldb_writeoptions_destroy(w);
}

/* ---- basic behaviour ---- */

static void test_put_get_sync_reopen(void **state) {
  fixture_t *f = *state;
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  for (uint32_t s = 1; s <= 200; s++) assert_int_equal(put_seed(bs, s), 0);
  /* visible before sync (pending) */
  for (uint32_t s = 1; s <= 200; s++) assert_int_equal(check_seed(bs, s), 0);
  assert_int_equal(bs_sync(bs), 0);
  for (uint32_t s = 1; s <= 200; s++) assert_int_equal(check_seed(bs, s), 0);
  assert_int_equal(check_seed(bs, 999), -ENOENT);
  assert_int_equal(bs_close(bs), 0);

  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  for (uint32_t s = 1; s <= 200; s++) assert_int_equal(check_seed(bs, s), 0);
  bs_stat_t st;
  assert_int_equal(bs_stat(bs, &st), 0);
  assert_int_equal(st.blocks, 200);
  assert_int_equal(st.segments, 1);
  assert_true(st.disk_bytes > st.block_bytes);
  problems_t p;
  assert_int_equal(fsck_quiet(bs, &p), 0);
  assert_int_equal(bs_close(bs), 0);
}

static void test_pending_reads_across_batches(void **state) {
  fixture_t *f = *state;
  bs_options_t o;
  small_options(&o);
  o.sync_bytes_max = 1ull << 40; /* never commit on its own */
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  /* Interleave puts and reads so reads hit the filling buffer, the buffer
   * being written and written-but-uncommitted records. */
  for (uint32_t s = 1; s <= 400; s++) {
    assert_int_equal(put_seed(bs, s), 0);
    assert_int_equal(check_seed(bs, s), 0);
    assert_int_equal(check_seed(bs, 1 + s / 2), 0);
  }
  assert_int_equal(bs_close(bs), 0);
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  for (uint32_t s = 1; s <= 400; s++) assert_int_equal(check_seed(bs, s), 0);
  assert_int_equal(bs_close(bs), 0);
}

static void test_dedupe(void **state) {
  fixture_t *f = *state;
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  uint8_t data[5000];
  testdir_fill(data, sizeof data, 7);
  cid_t v0, v1raw, v1pb;
  assert_int_equal(cid_make(&v0, 0, CODEC_DAG_PB, MH_SHA2_256, data, sizeof data), 0);
  assert_int_equal(cid_make(&v1raw, 1, CODEC_RAW, MH_SHA2_256, data, sizeof data), 0);
  assert_int_equal(cid_make(&v1pb, 1, CODEC_DAG_PB, MH_SHA2_256, data, sizeof data), 0);
  assert_int_equal(bs_put(bs, &v0, data, sizeof data), 0);
  assert_int_equal(bs_put(bs, &v0, data, sizeof data), 1);     /* pending */
  assert_int_equal(bs_put(bs, &v1raw, data, sizeof data), 1);  /* same multihash */
  assert_int_equal(bs_sync(bs), 0);
  assert_int_equal(bs_put(bs, &v1pb, data, sizeof data), 1);   /* indexed */
  bs_stat_t st;
  assert_int_equal(bs_stat(bs, &st), 0);
  assert_int_equal(st.blocks, 1);
  assert_int_equal(st.block_bytes, sizeof data);
  buf_t out = {0};
  assert_int_equal(bs_get(bs, &v1pb, &out), 0);
  assert_int_equal(out.len, sizeof data);
  buf_free(&out);
  assert_int_equal(bs_close(bs), 0);
  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  assert_int_equal(bs_put(bs, &v1raw, data, sizeof data), 1);
  assert_int_equal(bs_stat(bs, &st), 0);
  assert_int_equal(st.blocks, 1);
  assert_int_equal(bs_close(bs), 0);
}

static void test_limits_and_identity(void **state) {
  fixture_t *f = *state;
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  uint8_t *big = calloc(1, BLOCK_BYTES_MAX + 1);
  cid_t cid;
  assert_int_equal(cid_make(&cid, 1, CODEC_RAW, MH_SHA2_256, big, BLOCK_BYTES_MAX + 1), 0);
  assert_int_equal(bs_put(bs, &cid, big, BLOCK_BYTES_MAX + 1), -E2BIG);
  assert_int_equal(cid_make(&cid, 1, CODEC_RAW, MH_SHA2_256, big, BLOCK_BYTES_MAX), 0);
  assert_int_equal(bs_put(bs, &cid, big, BLOCK_BYTES_MAX), 0);   /* the largest block fits */
  assert_int_equal(cid_make(&cid, 1, CODEC_RAW, MH_SHA2_256, big, 0), 0);
  assert_int_equal(bs_put(bs, &cid, big, 0), 0);                 /* so does the empty one */
  buf_t out = {0};
  assert_int_equal(bs_get(bs, &cid, &out), 0);
  assert_int_equal(out.len, 0);
  /* identity: nothing stored, the CID is the data */
  cid_t id;
  assert_int_equal(cid_make(&id, 1, CODEC_RAW, MH_IDENTITY, "hello", 5), 0);
  assert_int_equal(bs_put(bs, &id, "hello", 5), 1);
  assert_int_equal(bs_get(bs, &id, &out), 0);
  assert_int_equal(out.len, 5);
  assert_memory_equal(out.data, "hello", 5);
  uint64_t size = 0;
  assert_int_equal(bs_has(bs, &id, &size), 1);
  assert_int_equal(size, 5);
  buf_free(&out);
  free(big);
  assert_int_equal(bs_close(bs), 0);
  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  problems_t p;
  assert_int_equal(fsck_quiet(bs, &p), 0);
  assert_int_equal(bs_close(bs), 0);
}

typedef struct each_ctx {
  uint64_t blocks, bytes;
  int stop_after; /* 0 = never */
} each_ctx_t;

static int each_count(void *ctx, const uint8_t *mh, size_t mh_len, uint64_t size_bytes) {
  each_ctx_t *c = ctx;
  assert_true(mh_len == 34 && mh[0] == 0x12 && mh[1] == 0x20);
  c->blocks++;
  c->bytes += size_bytes;
  return c->stop_after && (int)c->blocks == c->stop_after ? 42 : 0;
}

static void test_delete_stat_each(void **state) {
  fixture_t *f = *state;
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  uint64_t bytes = 0;
  for (uint32_t s = 1; s <= 50; s++) {
    assert_int_equal(put_seed(bs, s), 0);
    bytes += block_len(s);
  }
  assert_int_equal(bs_sync(bs), 0);
  assert_int_equal(delete_seed(bs, 10), 0);        /* committed block */
  assert_int_equal(delete_seed(bs, 10), -ENOENT);
  assert_int_equal(check_seed(bs, 10), -ENOENT);
  assert_int_equal(put_seed(bs, 60), 0);
  assert_int_equal(delete_seed(bs, 60), 0);        /* pending block */
  assert_int_equal(check_seed(bs, 60), -ENOENT);
  assert_int_equal(delete_seed(bs, 61), -ENOENT);  /* never there */
  assert_int_equal(put_seed(bs, 11), 1);
  assert_int_equal(delete_seed(bs, 11), 0);
  assert_int_equal(put_seed(bs, 11), 0);           /* back again after a delete */
  assert_int_equal(check_seed(bs, 11), 0);
  bytes -= block_len(10);
  bs_stat_t st;
  assert_int_equal(bs_stat(bs, &st), 0);
  assert_int_equal(st.blocks, 49);
  assert_int_equal(st.block_bytes, bytes);
  each_ctx_t c = {0};
  assert_int_equal(bs_each(bs, each_count, &c), 0);
  assert_int_equal(c.blocks, 49);
  assert_int_equal(c.bytes, bytes);
  each_ctx_t stop = {.stop_after = 3};
  assert_int_equal(bs_each(bs, each_count, &stop), 42);
  assert_int_equal(stop.blocks, 3);
  assert_int_equal(bs_close(bs), 0);

  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  assert_int_equal(check_seed(bs, 10), -ENOENT);
  assert_int_equal(check_seed(bs, 60), -ENOENT);
  assert_int_equal(check_seed(bs, 11), 0);
  assert_int_equal(bs_stat(bs, &st), 0);
  assert_int_equal(st.blocks, 49);
  assert_int_equal(st.block_bytes, bytes);
  problems_t p;
  assert_int_equal(fsck_quiet(bs, &p), 0);
  assert_int_equal(bs_close(bs), 0);
}

static void test_segment_rolls(void **state) {
  fixture_t *f = *state;
  bs_options_t o;
  small_options(&o);
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  for (uint32_t s = 0; s < 8; s++) {
    assert_int_equal(put_seed(bs, BIG_SEED + s), 0);
    assert_int_equal(put_seed(bs, s + 1), 0);
  }
  for (uint32_t s = 0; s < 8; s++) assert_int_equal(check_seed(bs, BIG_SEED + s), 0);
  assert_int_equal(bs_sync(bs), 0);
  bs_stat_t st;
  assert_int_equal(bs_stat(bs, &st), 0);
  assert_true(st.segments >= 4);
  assert_int_equal(bs_close(bs), 0);
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  for (uint32_t s = 0; s < 8; s++) {
    assert_int_equal(check_seed(bs, BIG_SEED + s), 0);
    assert_int_equal(check_seed(bs, s + 1), 0);
  }
  problems_t p;
  assert_int_equal(fsck_quiet(bs, &p), 0);
  assert_int_equal(bs_close(bs), 0);
}

static void test_read_only(void **state) {
  fixture_t *f = *state;
  bs_t *bs;
  bs_options_t o;
  bs_options_default(&o);
  o.read_only = true;
  assert_true(bs_open(f->dir, &o, &bs) < 0); /* nothing there yet */
  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  for (uint32_t s = 1; s <= 20; s++) assert_int_equal(put_seed(bs, s), 0);
  assert_int_equal(bs_close(bs), 0);
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  for (uint32_t s = 1; s <= 20; s++) assert_int_equal(check_seed(bs, s), 0);
  assert_int_equal(put_seed(bs, 30), -EROFS);
  assert_int_equal(delete_seed(bs, 1), -EROFS);
  problems_t p;
  assert_int_equal(fsck_quiet(bs, &p), 0);
  assert_int_equal(bs_close(bs), 0);
}

static void test_index_format_version(void **state) {
  fixture_t *f = *state;
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  assert_int_equal(bs_close(bs), 0);
  leveldb_t *db = index_open(f);
  size_t len = 0;
  char *v = index_get(db, "Mformat", 7, &len);
  assert_non_null(v);
  assert_int_equal(len, 4);
  assert_int_equal(v[0], 1);
  leveldb_free(v);
  uint8_t two[4] = {2, 0, 0, 0};
  index_put(db, "Mformat", 7, two, 4);
  leveldb_close(db);
  assert_int_equal(bs_open(f->dir, NULL, &bs), -EPROTONOSUPPORT);
}

/* ---- recovery ---- */

static void test_recovery_torn_tail_and_lost_index_entries(void **state) {
  fixture_t *f = *state;
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  for (uint32_t s = 1; s <= 40; s++) assert_int_equal(put_seed(bs, s), 0);
  assert_int_equal(bs_close(bs), 0);
  /* remember the committed state after 40 blocks */
  leveldb_t *db = index_open(f);
  uint8_t wkey[5] = {'W', 0, 0, 0, 1};
  size_t wlen, slen;
  char *watermark = index_get(db, wkey, 5, &wlen);
  char *stats = index_get(db, "Mstats", 6, &slen);
  assert_non_null(watermark);
  assert_non_null(stats);
  leveldb_close(db);

  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  for (uint32_t s = 41; s <= 80; s++) assert_int_equal(put_seed(bs, s), 0);
  assert_int_equal(bs_close(bs), 0);

  /* Now pretend the last commit's index write never happened and the last
   * record was torn: old watermark and counters, no entries for 41..80, and
   * the file cut in the middle of block 80's record. */
  db = index_open(f);
  index_put(db, wkey, 5, watermark, wlen);
  index_put(db, "Mstats", 6, stats, slen);
  for (uint32_t s = 41; s <= 80; s++) index_delete_block(db, s);
  leveldb_close(db);
  leveldb_free(watermark);
  leveldb_free(stats);
  char path[600];
  segment_file(f, 1, path, sizeof path);
  off_t size = file_size(path);
  assert_int_equal(truncate(path, size - (off_t)block_len(80) / 2), 0);

  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  for (uint32_t s = 1; s <= 79; s++) assert_int_equal(check_seed(bs, s), 0);
  assert_int_equal(check_seed(bs, 80), -ENOENT);
  assert_int_equal(file_size(path), size - (off_t)seg_record_bytes(34, block_len(80)));
  bs_stat_t st;
  assert_int_equal(bs_stat(bs, &st), 0);
  assert_int_equal(st.blocks, 79);
  problems_t p;
  assert_int_equal(fsck_quiet(bs, &p), 0);
  /* and it keeps working: append where the torn tail was */
  assert_int_equal(put_seed(bs, 80), 0);
  assert_int_equal(bs_close(bs), 0);
  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  for (uint32_t s = 1; s <= 80; s++) assert_int_equal(check_seed(bs, s), 0);
  assert_int_equal(fsck_quiet(bs, &p), 0);
  assert_int_equal(bs_close(bs), 0);
}

static void test_recovery_garbage_tail(void **state) {
  fixture_t *f = *state;
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  for (uint32_t s = 1; s <= 10; s++) assert_int_equal(put_seed(bs, s), 0);
  assert_int_equal(bs_close(bs), 0);
  char path[600];
  segment_file(f, 1, path, sizeof path);
  off_t size = file_size(path);
  /* zeros past the durable point (a torn write of unsynced pages) */
  int fd = open(path, O_WRONLY | O_APPEND);
  uint8_t zeros[3000] = {0};
  assert_int_equal(write(fd, zeros, sizeof zeros), (ssize_t)sizeof zeros);
  close(fd);
  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  assert_int_equal(file_size(path), size);
  for (uint32_t s = 1; s <= 10; s++) assert_int_equal(check_seed(bs, s), 0);
  problems_t p;
  assert_int_equal(fsck_quiet(bs, &p), 0);
  assert_int_equal(bs_close(bs), 0);
}

static void test_recovery_rebuilds_lost_index(void **state) {
  fixture_t *f = *state;
  bs_options_t o;
  small_options(&o);
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  for (uint32_t s = 1; s <= 30; s++) assert_int_equal(put_seed(bs, s), 0);
  for (uint32_t s = 0; s < 4; s++) assert_int_equal(put_seed(bs, BIG_SEED + s), 0);
  assert_int_equal(delete_seed(bs, 3), 0);
  assert_int_equal(delete_seed(bs, BIG_SEED + 1), 0);
  assert_int_equal(put_seed(bs, 40), 0);
  assert_int_equal(bs_close(bs), 0);
  char index[600];
  snprintf(index, sizeof index, "%s/index", f->dir);
  testdir_remove(index);
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  for (uint32_t s = 1; s <= 30; s++) assert_int_equal(check_seed(bs, s), s == 3 ? -ENOENT : 0);
  for (uint32_t s = 0; s < 4; s++) assert_int_equal(check_seed(bs, BIG_SEED + s), s == 1 ? -ENOENT : 0);
  assert_int_equal(check_seed(bs, 40), 0);
  bs_stat_t st;
  assert_int_equal(bs_stat(bs, &st), 0);
  assert_int_equal(st.blocks, 29 + 3 + 1);
  problems_t p;
  assert_int_equal(fsck_quiet(bs, &p), 0);
  assert_int_equal(bs_close(bs), 0);
}

static void test_flipped_byte(void **state) {
  fixture_t *f = *state;
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  for (uint32_t s = 1; s <= 10; s++) assert_int_equal(put_seed(bs, s), 0);
  assert_int_equal(bs_close(bs), 0);
  /* the first record (seed 1) starts right after the header */
  char path[600];
  segment_file(f, 1, path, sizeof path);
  int fd = open(path, O_RDWR);
  off_t where = SEG_HEADER_BYTES + SEG_RECORD_HEADER_BYTES + 34 + 5;
  uint8_t byte;
  assert_int_equal(pread(fd, &byte, 1, where), 1);
  byte ^= 0x10;
  assert_int_equal(pwrite(fd, &byte, 1, where), 1);
  close(fd);
  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  assert_int_equal(check_seed(bs, 1), -EBADMSG);
  for (uint32_t s = 2; s <= 10; s++) assert_int_equal(check_seed(bs, s), 0);
  problems_t p;
  int problems = fsck_quiet(bs, &p);
  assert_int_equal(problems, 2); /* the record, and the index entry naming it */
  assert_non_null(strstr(p.last, "checksum"));
  assert_int_equal(bs_close(bs), 0);
}

static void test_sticky_error_keeps_reads(void **state) {
  fixture_t *f = *state;
  io_fault_t fault;
  assert_int_equal(io_fault_init(&fault, NULL), 0);
  bs_options_t o;
  bs_options_default(&o);
  o.io = &fault.backend;
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  for (uint32_t s = 1; s <= 10; s++) assert_int_equal(put_seed(bs, s), 0);
  assert_int_equal(bs_sync(bs), 0);
  /* the next commit's fdatasync fails */
  fault.kind = IO_FAULT_EIO;
  fault.op = IO_OP_FDATASYNC;
  fault.nth = fault.calls[IO_OP_FDATASYNC] + 1;
  for (uint32_t s = 11; s <= 20; s++) assert_int_equal(put_seed(bs, s), 0);
  err_clear();
  assert_int_equal(bs_sync(bs), -EIO);
  assert_non_null(strstr(err_msg(-EIO), "fdatasync"));
  assert_int_equal(bs_sync(bs), -EIO);        /* sticky */
  assert_int_equal(put_seed(bs, 21), -EIO);
  assert_int_equal(delete_seed(bs, 1), -EIO);
  for (uint32_t s = 1; s <= 10; s++) assert_int_equal(check_seed(bs, s), 0);  /* reads work */
  for (uint32_t s = 11; s <= 20; s++) assert_int_equal(check_seed(bs, s), -ENOENT); /* forgotten */
  assert_int_equal(bs_close(bs), -EIO);
  io_fault_fini(&fault);
  /* reopening recovers: what landed completely may come back, never half */
  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  for (uint32_t s = 1; s <= 10; s++) assert_int_equal(check_seed(bs, s), 0);
  for (uint32_t s = 11; s <= 20; s++) {
    int rc = check_seed(bs, s);
    assert_true(rc == 0 || rc == -ENOENT);
  }
  problems_t p;
  assert_int_equal(fsck_quiet(bs, &p), 0);
  assert_int_equal(bs_close(bs), 0);
}

static void test_sink_source(void **state) {
  fixture_t *f = *state;
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, NULL, &bs), 0);
  block_sink_t sink = bs_sink(bs);
  block_source_t source = bs_source(bs);
  uint8_t data[1000];
  testdir_fill(data, sizeof data, 3);
  cid_t cid;
  assert_int_equal(cid_make(&cid, 0, CODEC_DAG_PB, MH_SHA2_256, data, sizeof data), 0);
  assert_int_equal(sink.put(sink.ctx, &cid, data, sizeof data), 0);
  assert_int_equal(sink.put(sink.ctx, &cid, data, sizeof data), 0); /* present: still 0 */
  buf_t out = {0};
  assert_int_equal(buf_append(&out, "junk", 4), 0);
  assert_int_equal(source.get(source.ctx, &cid, &out), 0); /* replaces the contents */
  assert_int_equal(out.len, sizeof data);
  assert_memory_equal(out.data, data, sizeof data);
  testdir_fill(data, sizeof data, 4);
  assert_int_equal(cid_make(&cid, 1, CODEC_RAW, MH_SHA2_256, data, sizeof data), 0);
  assert_int_equal(source.get(source.ctx, &cid, &out), -ENOENT);
  buf_free(&out);
  assert_int_equal(bs_close(bs), 0);
}

/* ---- threads ---- */

typedef struct worker {
  bs_t *bs;
  uint32_t first;  /* seeds first .. first + count - 1 */
  uint32_t count;
  int failures;
} worker_t;

static void *worker_main(void *arg) {
  worker_t *w = arg;
  for (uint32_t i = 0; i < w->count; i++) {
    uint32_t seed = w->first + i;
    if (put_seed(w->bs, seed) < 0) w->failures++;
    if (put_seed(w->bs, 1 + seed % 97) < 0) w->failures++; /* shared seeds: dedupe races */
    if (i % 25 == 24) {
      if (bs_sync(w->bs) != 0) w->failures++;
      for (uint32_t k = i - 24; k <= i; k++)
        if (check_seed(w->bs, w->first + k) != 0) w->failures++;
    }
  }
  return NULL;
}

static void test_threads(void **state) {
  fixture_t *f = *state;
  bs_options_t o;
  small_options(&o);
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  enum { THREADS = 4, PER_THREAD = 200 };
  pthread_t threads[THREADS];
  worker_t workers[THREADS];
  for (int t = 0; t < THREADS; t++) {
    workers[t] = (worker_t){.bs = bs, .first = 1000 + (uint32_t)t * PER_THREAD, .count = PER_THREAD};
    assert_int_equal(pthread_create(&threads[t], NULL, worker_main, &workers[t]), 0);
  }
  for (int t = 0; t < THREADS; t++) {
    pthread_join(threads[t], NULL);
    assert_int_equal(workers[t].failures, 0);
  }
  assert_int_equal(bs_sync(bs), 0);
  bs_stat_t st;
  assert_int_equal(bs_stat(bs, &st), 0);
  assert_int_equal(st.blocks, THREADS * PER_THREAD + 97);
  assert_int_equal(bs_close(bs), 0);
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  for (uint32_t s = 1000; s < 1000 + THREADS * PER_THREAD; s++) assert_int_equal(check_seed(bs, s), 0);
  for (uint32_t s = 1; s <= 97; s++) assert_int_equal(check_seed(bs, s), 0);
  problems_t p;
  assert_int_equal(fsck_quiet(bs, &p), 0);
  assert_int_equal(bs_close(bs), 0);
}

/* Deletes whose index lookup runs without the lock, racing with commits
 * made by other threads (each commit moves entries from the pending table
 * to the index, which makes a delete repeat its lookup), with readers, and
 * with bs_stat's first live-bytes pass over the index: every thread's
 * model of its own seeds holds, the counters and the per-segment live
 * accounting agree with the index (fsck), also after a reopen. */
typedef struct toggler {
  bs_t *bs;
  uint32_t first, count;   /* its seeds */
  bool present[64];
  int failures;
} toggler_t;

static void *toggler_main(void *arg) {
  toggler_t *t = arg;
  uint64_t x = t->first * 0x9E3779B97F4A7C15ull + 1;
  for (int i = 0; i < 400; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    uint32_t k = (uint32_t)(x % t->count);
    int rc = t->present[k] ? delete_seed(t->bs, t->first + k) : put_seed(t->bs, t->first + k);
    if (rc != 0) t->failures++;
    t->present[k] = !t->present[k];
    if (i % 7 == 0) { /* someone else's seed: present or absent, never wrong bytes */
      int got = get_seed(t->bs, t->first ^ 64u);
      if (got != 0 && got != -ENOENT) t->failures++;
    }
    if (i == 100 && t->first == 2000) {
      bs_stat_t st;
      if (bs_stat(t->bs, &st) != 0) t->failures++;
    }
  }
  return NULL;
}

static void test_deletes_race_commits(void **state) {
  fixture_t *f = *state;
  bs_options_t o;
  small_options(&o);
  bs_t *bs;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  enum { THREADS = 4, SEEDS = 64 };
  toggler_t t[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    t[i] = (toggler_t){.bs = bs, .first = 2000 + 64u * (uint32_t)i, .count = SEEDS};
    for (uint32_t k = 0; k < SEEDS; k++) {
      assert_int_equal(put_seed(bs, t[i].first + k), 0);
      t[i].present[k] = true;
    }
  }
  assert_int_equal(bs_sync(bs), 0);
  for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_create(&th[i], NULL, toggler_main, &t[i]), 0);
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(t[i].failures, 0);
  }
  uint64_t live = 0;
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < THREADS; i++)
      for (uint32_t k = 0; k < SEEDS; k++) {
        assert_int_equal(check_seed(bs, t[i].first + k), t[i].present[k] ? 0 : -ENOENT);
        if (pass == 0) live += t[i].present[k];
      }
    bs_stat_t st;
    assert_int_equal(bs_stat(bs, &st), 0);
    assert_int_equal(st.blocks, live);
    problems_t p;
    assert_int_equal(fsck_quiet(bs, &p), 0);
    assert_int_equal(bs_close(bs), 0);
    assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  }
  assert_int_equal(bs_close(bs), 0);
}

static void test_pending_table_drains(void **state) {
  fixture_t *f = *state;
  bs_t *bs;
  bs_options_t o;
  bs_options_default(&o);
  o.sync_bytes_max = 1ull << 40;
  assert_int_equal(bs_open(f->dir, &o, &bs), 0);
  /* more tiny blocks than the pending table holds, no sync */
  for (uint32_t i = 0; i < 40000; i++) {
    cid_t cid;
    uint8_t data[4];
    memcpy(data, &i, 4);
    assert_int_equal(cid_make(&cid, 1, CODEC_RAW, MH_SHA2_256, data, 4), 0);
    assert_int_equal(bs_put(bs, &cid, data, 4), 0);
  }
  bs_stat_t st;
  assert_int_equal(bs_stat(bs, &st), 0);
  assert_int_equal(st.blocks, 40000);
  assert_int_equal(bs_close(bs), 0);
}

/* ---- fault injection ---- */

enum { FATE_NONE, FATE_DURABLE, FATE_UNKNOWN, FATE_DELETED };

#define WL_SEEDS 140

typedef struct workload {
  uint8_t fate[WL_SEEDS + 1];   /* per small seed */
  uint8_t big_fate[3];          /* per big seed */
  int open_rc;
} workload_t;

/* Runs the write path over io; records what was reported durable. */
static void run_workload(const fixture_t *f, const io_backend_t *io, workload_t *w) {
  memset(w, 0, sizeof *w);
  bs_options_t o;
  small_options(&o);
  o.segment_bytes_max = 512u << 10; /* a few segments: every call site, not too many runs */
  o.io = io;
  bs_t *bs;
  w->open_rc = bs_open(f->dir, &o, &bs);
  if (w->open_rc) return;
  uint32_t phase_first[] = {1, 41, 81};
  for (int phase = 0; phase < 3; phase++) {
    uint32_t first = phase_first[phase];
    for (uint32_t s = first; s < first + 40; s++)
      w->fate[s] = put_seed(bs, s) >= 0 ? FATE_UNKNOWN : FATE_NONE;
    if (phase < 3) {
      if (put_seed(bs, BIG_SEED + (uint32_t)phase) >= 0) w->big_fate[phase] = FATE_UNKNOWN;
    }
    if (phase == 1) {
      int rc = delete_seed(bs, 5);
      if (rc == 0) w->fate[5] = FATE_DELETED;
      else if (w->fate[5] == FATE_DURABLE) w->fate[5] = FATE_UNKNOWN; /* maybe the tombstone landed */
    }
    int rc = phase == 2 ? bs_close(bs) : bs_sync(bs);
    if (rc == 0) {
      for (uint32_t s = 1; s <= WL_SEEDS; s++)
        if (w->fate[s] == FATE_UNKNOWN) w->fate[s] = FATE_DURABLE;
      for (int b = 0; b <= phase; b++)
        if (w->big_fate[b] == FATE_UNKNOWN) w->big_fate[b] = FATE_DURABLE;
    }
  }
}

/* Reopens with the real backend and checks what must hold. */
static void check_after_reopen(const fixture_t *f, const workload_t *w, const char *what,
                               bool append_after) {
  bs_options_t o;
  small_options(&o);
  bs_t *bs;
  int rc = bs_open(f->dir, &o, &bs);
  if (rc) print_message("%s: reopen failed: %s\n", what, err_msg(rc));
  assert_int_equal(rc, 0);
  problems_t p;
  rc = fsck_quiet(bs, &p);
  if (rc) print_message("%s: fsck\n", what);
  assert_int_equal(rc, 0);
  uint64_t present = 0;
  for (uint32_t s = 1; s <= WL_SEEDS; s++) {
    int got = check_seed(bs, s);
    bool ok;
    switch (w->fate[s]) {
      case FATE_DURABLE: ok = got == 0; break;
      case FATE_DELETED: ok = got == -ENOENT; break;
      case FATE_NONE: ok = got == -ENOENT || (s == 5 && got == 0); break;
      default: ok = got == 0 || got == -ENOENT; break; /* all there or absent, never half */
    }
    if (!ok) print_message("%s: seed %u fate %d got %d\n", what, s, w->fate[s], got);
    assert_true(ok);
    present += got == 0;
  }
  for (uint32_t b = 0; b < 3; b++) {
    int got = check_seed(bs, BIG_SEED + b);
    bool ok = w->big_fate[b] == FATE_DURABLE ? got == 0 : (got == 0 || got == -ENOENT);
    if (!ok) print_message("%s: big seed %u fate %d got %d\n", what, b, w->big_fate[b], got);
    assert_true(ok);
    present += got == 0;
  }
  bs_stat_t st;
  assert_int_equal(bs_stat(bs, &st), 0);
  assert_int_equal(st.blocks, present);
  if (append_after) { /* still usable after recovery */
    assert_int_equal(put_seed(bs, WL_SEEDS + 100) >= 0, 1);
    assert_int_equal(bs_sync(bs), 0);
    assert_int_equal(check_seed(bs, WL_SEEDS + 100), 0);
  }
  assert_int_equal(bs_close(bs), 0);
}

static void reset_dir(fixture_t *f) {
  testdir_remove(f->dir);
}

/* The matrix simulates process crashes at the I/O layer (the page cache
 * survives them), so syncing to the platter adds nothing but time there: the
 * fault backend wraps a real backend whose fdatasync/fsync return at once.
 * (The fault backend still counts and faults them.) */
static int nosync_fdatasync(const io_backend_t *io, int fd) { (void)io, (void)fd; return 0; }

/* Which nth calls of an operation to fault: all of the first 8, then every
 * third, and the last: every call site of the engine appears among them. */
static bool nth_selected(uint64_t nth, uint64_t calls) { return nth <= 8 || nth % 3 == 0 || nth == calls; }

static void test_fault_matrix(void **state) {
  fixture_t *f = *state;
  io_backend_t nosync = *io_real();
  nosync.fdatasync = nosync_fdatasync;
  nosync.fsync = nosync_fdatasync;
  io_fault_t fault;
  assert_int_equal(io_fault_init(&fault, &nosync), 0);
  workload_t w;
  run_workload(f, &fault.backend, &w);
  assert_int_equal(w.open_rc, 0);
  check_after_reopen(f, &w, "no fault", true);
  uint64_t calls[IO_OP_COUNT];
  memcpy(calls, fault.calls, sizeof calls);
  uint64_t written = fault.written_bytes;
  int runs = 0;
  const io_fault_kind_t kinds[] = {IO_FAULT_EIO, IO_FAULT_ENOSPC, IO_FAULT_SHORT_WRITE};
  for (int op = 0; op < IO_OP_COUNT; op++) {
    if (op == IO_OP_CLOSE) continue;
    for (uint64_t nth = 1; nth <= calls[op]; nth++)
      for (size_t k = 0; k < sizeof kinds / sizeof kinds[0] && nth_selected(nth, calls[op]); k++) {
        if (kinds[k] == IO_FAULT_SHORT_WRITE && op != IO_OP_WRITE) continue;
        reset_dir(f);
        io_fault_reset(&fault);
        fault.kind = kinds[k];
        fault.op = (io_op_t)op;
        fault.nth = nth;
        run_workload(f, &fault.backend, &w);
        char what[128];
        snprintf(what, sizeof what, "%s #%llu kind %d", io_op_name((io_op_t)op), (unsigned long long)nth,
                 kinds[k]);
        if (kinds[k] == IO_FAULT_SHORT_WRITE) {
          /* a short write is not an error: everything must be durable */
          for (uint32_t s = 1; s <= 120; s++) assert_int_equal(w.fate[s] == FATE_DURABLE || s == 5, 1);
        }
        check_after_reopen(f, &w, what, runs % 3 == 0);
        runs++;
      }
  }
  /* crashes after N bytes, N spread over everything the workload writes;
   * first the process dies (the page cache survives), then the power fails
   * (whatever was not fdatasync'd is lost) */
  const int points = 48;
  for (int i = 0; i <= points + points / 2; i++) {
    bool power = i > points;
    uint64_t n = power ? written * (uint64_t)(i - points) / (points / 2) + 4097
                       : written * (uint64_t)i / points + (uint64_t)(i % 5) * 13;
    if (i == 1) n = 1;
    if (i == 2) n = SEG_HEADER_BYTES - 1;
    if (i == 3) n = SEG_HEADER_BYTES;
    if (i == 4) n = SEG_HEADER_BYTES + 1;
    if (i == 5) n = SEG_HEADER_BYTES + SEG_RECORD_HEADER_BYTES;
    reset_dir(f);
    io_fault_reset(&fault);
    fault.kind = IO_FAULT_CRASH;
    fault.nth = 0;
    fault.crash_after_bytes = n;
    fault.crash_loses_unsynced = power;
    run_workload(f, &fault.backend, &w);
    char what[128];
    snprintf(what, sizeof what, "%s after %llu bytes", power ? "power loss" : "crash", (unsigned long long)n);
    check_after_reopen(f, &w, what, runs % 3 == 0);
    runs++;
  }
  io_fault_fini(&fault);
  print_message("fault matrix: %d runs, %llu bytes written by the workload; calls:", runs,
                (unsigned long long)written);
  for (int op = 0; op < IO_OP_COUNT; op++)
    if (calls[op]) print_message(" %s %llu", io_op_name((io_op_t)op), (unsigned long long)calls[op]);
  print_message("\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_put_get_sync_reopen, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pending_reads_across_batches, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dedupe, setup, teardown),
      cmocka_unit_test_setup_teardown(test_limits_and_identity, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete_stat_each, setup, teardown),
      cmocka_unit_test_setup_teardown(test_segment_rolls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
      cmocka_unit_test_setup_teardown(test_index_format_version, setup, teardown),
      cmocka_unit_test_setup_teardown(test_recovery_torn_tail_and_lost_index_entries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_recovery_garbage_tail, setup, teardown),
      cmocka_unit_test_setup_teardown(test_recovery_rebuilds_lost_index, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flipped_byte, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sticky_error_keeps_reads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sink_source, setup, teardown),
      cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pending_table_drains, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deletes_race_commits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fault_matrix, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
