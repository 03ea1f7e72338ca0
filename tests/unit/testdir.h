/*
 * testdir: what the store-backed unit tests share (header-only): a private
 * temporary directory under $TMPDIR (or /tmp), its recursive removal, and
 * deterministic block content from a seed so a failing case replays.
 */
#ifndef ANYA_TEST_TESTDIR_H
#define ANYA_TEST_TESTDIR_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Creates "<tmp>/<prefix>-XXXXXX" into dir (cap bytes). 0 or -1. */
static inline int testdir_make(char *dir, size_t cap, const char *prefix) {
  const char *tmp = getenv("TMPDIR");
  int n = snprintf(dir, cap, "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix);
  if (n < 0 || (size_t)n >= cap) return -1;
  return mkdtemp(dir) ? 0 : -1;
}

static inline int testdir_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

/* Removes dir and everything below it (best effort). */
static inline void testdir_remove(const char *dir) {
  nftw(dir, testdir_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Deterministic bytes for (seed, len): xorshift64. */
static inline void testdir_fill(uint8_t *out, size_t len, uint32_t seed) {
  uint64_t x = 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed * 0xBF58476D1CE4E5B9ull);
  for (size_t i = 0; i < len; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    out[i] = (uint8_t)x;
  }
}

#endif
