/*
 * hamt: the shard tree of a large directory (see hamt.h).
 *
 * Entries are sorted by key once; then a shard over a run of entries that
 * share their first `level` key bytes splits the run by byte `level` into
 * buckets.  Children are built before their parent (a shard's links need the
 * child CIDs), recursing at most HAMT_LEVELS_MAX deep, with one scratch area
 * per level so nothing is allocated per node.
 */
#include "hamt.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dagpb.h"
#include "err.h"
#include "murmur3.h"
#include "unixfs.h"

typedef struct level_scratch {
  dagpb_link_t links[HAMT_FANOUT];
  uint8_t prefix_names[HAMT_FANOUT][2]; /* "XX" of links to child shards */
  buf_t names;                          /* "XX<name>" of links to entries */
} level_scratch_t;

typedef struct hamt_build_ctx {
  uint32_t cid_version;
  const block_sink_t *sink;
  level_scratch_t *levels; /* HAMT_LEVELS_MAX */
  buf_t unixfs;            /* scratch: the shard's UnixFS Data */
  buf_t block;             /* scratch: the encoded shard */
} hamt_build_ctx_t;

static const char hex_upper[] = "0123456789ABCDEF";

static int cmp_key(const void *a, const void *b) {
  const hamt_entry_t *x = a, *y = b;
  return x->key < y->key ? -1 : x->key > y->key;
}

static inline uint32_t key_byte(uint64_t key, uint32_t level) {
  assert(level < HAMT_LEVELS_MAX);
  return (uint32_t)(key >> (56 - 8 * level)) & 0xff;
}

/* Builds the shard over entries[0..len), all sharing key bytes 0..level-1. */
static int build_shard(hamt_build_ctx_t *b, hamt_entry_t *entries, size_t len, uint32_t level,
                       cid_t *cid_out, uint64_t *tsize_out) {
  assert(len >= 1);
  if (level >= HAMT_LEVELS_MAX)
    return err_set(-EOVERFLOW, "sharded directory too deep: names '%.*s' and '%.*s' share a 64-bit hash",
                   (int)entries[0].name_len, entries[0].name, (int)entries[len - 1].name_len,
                   entries[len - 1].name);
  level_scratch_t *s = &b->levels[level];
  uint8_t bitfield[HAMT_FANOUT / 8] = {0};
  size_t links_len = 0;

  /* Pass 1: children first (they reuse deeper scratch only), link names into s->names. */
  buf_reset(&s->names);
  size_t name_off[HAMT_FANOUT];
  for (size_t i = 0; i < len;) {
    uint32_t bucket = key_byte(entries[i].key, level);
    size_t j = i + 1;
    while (j < len && key_byte(entries[j].key, level) == bucket) j++;
    dagpb_link_t *l = &s->links[links_len];
    memset(l, 0, sizeof *l);
    l->has_name = true;
    l->has_tsize = true;
    if (j - i == 1) {
      name_off[links_len] = s->names.len;
      uint8_t prefix[2] = {(uint8_t)hex_upper[bucket >> 4], (uint8_t)hex_upper[bucket & 15]};
      int rc = buf_append(&s->names, prefix, 2);
      rc = rc ? rc : buf_append(&s->names, entries[i].name, entries[i].name_len);
      if (rc) return rc;
      l->name_len = 2 + (size_t)entries[i].name_len;
      int k = cid_from_bytes(&l->cid, entries[i].cid_bytes, entries[i].cid_len);
      if (k < 0 || (uint32_t)k != entries[i].cid_len)
        return err_set(-EINVAL, "hamt: entry '%.*s' has a malformed CID", (int)entries[i].name_len,
                       entries[i].name);
      l->tsize = entries[i].tsize;
    } else {
      name_off[links_len] = SIZE_MAX;
      s->prefix_names[links_len][0] = (uint8_t)hex_upper[bucket >> 4];
      s->prefix_names[links_len][1] = (uint8_t)hex_upper[bucket & 15];
      l->name_len = 2;
      int rc = build_shard(b, entries + i, j - i, level + 1, &l->cid, &l->tsize);
      if (rc) return rc;
    }
    bitfield[HAMT_FANOUT / 8 - 1 - bucket / 8] |= (uint8_t)(1u << (bucket % 8));
    links_len++;
    i = j;
  }
  assert(links_len >= 1 && links_len <= HAMT_FANOUT);
  /* Pass 2: names are final (s->names no longer grows), point the links at them. */
  uint64_t tsize = 0;
  for (size_t i = 0; i < links_len; i++) {
    dagpb_link_t *l = &s->links[i];
    l->name = name_off[i] == SIZE_MAX ? (const char *)s->prefix_names[i]
                                      : (const char *)s->names.data + name_off[i];
    tsize += l->tsize;
  }

  size_t skip = 0; /* go-bitfield Bytes(): drop leading zero bytes */
  while (skip < sizeof bitfield && bitfield[skip] == 0) skip++;
  unixfs_data_t d = {
      .type = UNIXFS_HAMT_SHARD,
      .data = bitfield + skip,
      .data_len = sizeof bitfield - skip,
      .has_data = skip < sizeof bitfield,
      .hash_type = MURMUR3_X64_64,
      .has_hash_type = true,
      .fanout = HAMT_FANOUT,
      .has_fanout = true,
  };
  buf_reset(&b->unixfs);
  int rc = unixfs_encode(&d, &b->unixfs);
  if (rc) return rc;
  dagpb_node_t node = {
      .links = s->links,
      .links_len = links_len,
      .data = b->unixfs.data,
      .data_len = b->unixfs.len,
      .has_data = true,
  };
  buf_reset(&b->block);
  rc = dagpb_encode(&node, &b->block);
  if (rc) return rc;
  rc = cid_make(cid_out, b->cid_version, CODEC_DAG_PB, MH_SHA2_256, b->block.data, b->block.len);
  if (rc) return rc;
  rc = b->sink->put(b->sink->ctx, cid_out, b->block.data, b->block.len);
  if (rc) return rc;
  *tsize_out = tsize + b->block.len;
  return 0;
}

int hamt_build(hamt_entry_t *entries, size_t len, uint32_t cid_version, const block_sink_t *sink,
               cid_t *root, uint64_t *root_tsize) {
  assert(entries != NULL && len >= 1);
  assert(sink != NULL && root != NULL && root_tsize != NULL);
  assert(cid_version <= 1);
  for (size_t i = 0; i < len; i++) {
    uint8_t k[8];
    murmur3_hamt_key(entries[i].name, entries[i].name_len, k);
    uint64_t key = 0;
    for (int j = 0; j < 8; j++) key = key << 8 | k[j];
    entries[i].key = key;
  }
  qsort(entries, len, sizeof *entries, cmp_key);
  hamt_build_ctx_t b = {.cid_version = cid_version, .sink = sink};
  b.levels = calloc(HAMT_LEVELS_MAX, sizeof *b.levels);
  if (!b.levels) return -ENOMEM;
  int rc = build_shard(&b, entries, len, 0, root, root_tsize);
  for (int i = 0; i < HAMT_LEVELS_MAX; i++) buf_free(&b.levels[i].names);
  free(b.levels);
  buf_free(&b.unixfs);
  buf_free(&b.block);
  return rc;
}
