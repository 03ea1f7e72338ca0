/*
 * memstore: an in-memory block_sink/block_source for unit tests (header-only).
 * Keyed by multihash bytes; a linear table is enough for test sizes.
 * Counts puts and gets so tests can assert how many blocks an operation touched.
 */
#ifndef ANYA_TEST_MEMSTORE_H
#define ANYA_TEST_MEMSTORE_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "cid.h"

typedef struct memstore_entry {
  uint8_t mh[MH_BYTES_MAX];
  size_t mh_len;
  uint8_t *data;
  size_t len;
} memstore_entry_t;

typedef struct memstore {
  memstore_entry_t *entries;
  size_t len, cap;
  size_t puts, gets; /* calls made, for assertions */
} memstore_t;

static inline memstore_entry_t *memstore_find(memstore_t *m, const cid_t *cid) {
  uint8_t mh[MH_BYTES_MAX];
  size_t n = cid_mh_bytes(cid, mh);
  for (size_t i = 0; i < m->len; i++)
    if (m->entries[i].mh_len == n && memcmp(m->entries[i].mh, mh, n) == 0) return &m->entries[i];
  return NULL;
}

static inline int memstore_put(void *ctx, const cid_t *cid, const uint8_t *data, size_t len) {
  memstore_t *m = ctx;
  m->puts++;
  if (memstore_find(m, cid)) return 0;
  if (m->len == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    memstore_entry_t *e = realloc(m->entries, cap * sizeof *e);
    if (!e) return -ENOMEM;
    m->entries = e;
    m->cap = cap;
  }
  memstore_entry_t *e = &m->entries[m->len];
  e->mh_len = cid_mh_bytes(cid, e->mh);
  e->data = malloc(len ? len : 1);
  if (!e->data) return -ENOMEM;
  memcpy(e->data, data, len);
  e->len = len;
  m->len++;
  return 0;
}

static inline int memstore_get(void *ctx, const cid_t *cid, buf_t *out) {
  memstore_t *m = ctx;
  m->gets++;
  memstore_entry_t *e = memstore_find(m, cid);
  if (!e) return -ENOENT;
  buf_reset(out);
  return buf_append(out, e->data, e->len);
}

static inline block_sink_t memstore_sink(memstore_t *m) { return (block_sink_t){memstore_put, m}; }
static inline block_source_t memstore_source(memstore_t *m) { return (block_source_t){memstore_get, m}; }

static inline void memstore_free(memstore_t *m) {
  for (size_t i = 0; i < m->len; i++) free(m->entries[i].data);
  free(m->entries);
  memset(m, 0, sizeof *m);
}

#endif
