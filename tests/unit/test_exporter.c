/*
 * exporter: DAGs built by hand with dagpb/unixfs into a memstore.  Random
 * reads of multi-level files against the expected bytes, counting the blocks
 * fetched; raw leaves and raw roots; directories, a HAMT shard with the
 * spec's bucket names, symlinks; and the error paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dagpb.h"
#include "err.h"
#include "exporter.h"
#include "memstore.h"
#include "murmur3.h"
#include "unixfs.h"

/* ---- builders ---- */

static cid_t put(memstore_t *ms, uint32_t version, uint64_t codec, const uint8_t *data, size_t len) {
  cid_t c;
  assert_int_equal(cid_make(&c, version, codec, MH_SHA2_256, data, len), 0);
  assert_int_equal(memstore_put(ms, &c, data, len), 0);
  return c;
}

/* Encodes a dag-pb node with UnixFS data fs and the given links; stores it. */
static cid_t put_node(memstore_t *ms, const unixfs_data_t *fs, dagpb_link_t *links, size_t n,
                      size_t *block_len) {
  buf_t data = {0}, block = {0};
  assert_int_equal(unixfs_encode(fs, &data), 0);
  dagpb_node_t node = {.links = links, .links_len = n, .data = data.data, .data_len = data.len,
                       .has_data = true};
  assert_int_equal(dagpb_encode(&node, &block), 0);
  cid_t c = put(ms, 0, CODEC_DAG_PB, block.data, block.len);
  if (block_len) *block_len = block.len;
  buf_free(&data);
  buf_free(&block);
  return c;
}

static cid_t put_leaf(memstore_t *ms, const uint8_t *data, size_t len, bool raw) {
  if (raw) return put(ms, 1, CODEC_RAW, data, len);
  unixfs_data_t fs = {.type = UNIXFS_FILE, .data = data, .data_len = len, .has_data = len > 0,
                      .filesize = len, .has_filesize = true};
  return put_node(ms, &fs, NULL, 0, NULL);
}

static uint8_t pattern(uint64_t i) { return (uint8_t)(i * 131 + (i >> 8) * 7 + 3); }

/* A file tree built level by level: chunk-byte leaves, `fanout` children per
 * parent.  Records every non-root node's content range so tests can count
 * which blocks a read must touch. */
typedef struct range { uint64_t start, end; } range_t;
typedef struct tree {
  cid_t root;
  uint64_t size;
  range_t *nodes;   /* non-root nodes' content ranges */
  size_t nodes_len;
  unsigned levels;  /* levels below the root */
} tree_t;

static tree_t build_file(memstore_t *ms, uint64_t size, size_t chunk, size_t fanout, bool raw) {
  tree_t t = {.size = size};
  size_t count = (size_t)((size + chunk - 1) / chunk);
  cid_t *cids = calloc(count, sizeof *cids);
  uint64_t *sizes = calloc(count, sizeof *sizes);
  t.nodes = calloc(count * 3 + 8, sizeof *t.nodes);
  uint8_t *buf = malloc(chunk);
  for (size_t i = 0; i < count; i++) {
    uint64_t start = (uint64_t)i * chunk;
    size_t len = (size_t)(size - start < chunk ? size - start : chunk);
    for (size_t j = 0; j < len; j++) buf[j] = pattern(start + j);
    cids[i] = put_leaf(ms, buf, len, raw);
    sizes[i] = len;
    t.nodes[t.nodes_len++] = (range_t){start, start + len};
  }
  free(buf);
  while (count > 1) {
    size_t parents = (count + fanout - 1) / fanout;
    uint64_t start = 0;
    for (size_t p = 0; p < parents; p++) {
      size_t first = p * fanout, n = count - first < fanout ? count - first : fanout;
      dagpb_link_t links[64];
      uint64_t bs[64], total = 0;
      assert_true(n <= 64);
      for (size_t k = 0; k < n; k++) {
        links[k] = (dagpb_link_t){.cid = cids[first + k], .has_name = true, .tsize = sizes[first + k],
                                  .has_tsize = true};
        bs[k] = sizes[first + k];
        total += bs[k];
      }
      unixfs_data_t fs = {.type = UNIXFS_FILE, .filesize = total, .has_filesize = true,
                          .blocksizes = bs, .blocksizes_len = n};
      cids[p] = put_node(ms, &fs, links, n, NULL);
      sizes[p] = total;
      t.nodes[t.nodes_len++] = (range_t){start, start + total};
      start += total;
    }
    count = parents;
    t.levels++;
  }
  t.root = cids[0];
  t.nodes_len--; /* the last one recorded is the root itself (or the only leaf) */
  free(cids);
  free(sizes);
  return t;
}

static size_t blocks_overlapping(const tree_t *t, uint64_t off, uint64_t len) {
  size_t n = 0;
  for (size_t i = 0; i < t->nodes_len; i++)
    if (t->nodes[i].start < off + len && t->nodes[i].end > off && t->nodes[i].end > t->nodes[i].start) n++;
  return n;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void check_range(exp_file_t *f, uint64_t off, size_t len) {
  uint8_t *got = malloc(len + 1);
  ssize_t n = exp_pread(f, got, len, off);
  uint64_t size = exp_size(f);
  size_t want = off >= size ? 0 : (size_t)(size - off < len ? size - off : len);
  assert_int_equal(n, (ssize_t)want);
  for (size_t i = 0; i < want; i++)
    if (got[i] != pattern(off + i)) fail_msg("byte %llu differs", (unsigned long long)(off + i));
  free(got);
}

/* ---- files ---- */

static void multi_level(bool raw) {
  memstore_t ms = {0};
  block_source_t src = memstore_source(&ms);
  tree_t t = build_file(&ms, 10007, 97, 4, raw); /* 104 leaves, 4 levels below the root */
  assert_int_equal(t.levels, 4);

  exp_stat_t st;
  assert_int_equal(exp_stat(&src, &t.root, &st), 0);
  assert_int_equal(st.kind, EXP_FILE);
  assert_int_equal(st.size_bytes, 10007);

  for (int round = 0; round < 300; round++) {
    uint64_t off = rng() % 10100;
    size_t len = (size_t)(rng() % (round % 3 == 0 ? 2000 : 150)) + 1;
    exp_file_t *f;
    assert_int_equal(exp_open(&src, &t.root, &f), 0);
    size_t before = ms.gets;
    check_range(f, off, len);
    size_t fetched = ms.gets - before;
    /* exactly the blocks under the root whose content overlaps the range */
    uint64_t end = off >= t.size ? off : (off + len > t.size ? t.size : off + len);
    assert_int_equal(fetched, end > off ? blocks_overlapping(&t, off, end - off) : 0);
    exp_close(f);
  }
  /* a single-byte read deep in the file touches one block per level */
  exp_file_t *f;
  assert_int_equal(exp_open(&src, &t.root, &f), 0);
  size_t before = ms.gets;
  check_range(f, 9000, 1);
  assert_int_equal(ms.gets - before, t.levels);
  /* reads inside the same leaf are served from the handle's cached leaf */
  before = ms.gets;
  check_range(f, 9001, 5);
  check_range(f, 8730, 3); /* 9000 / 97 = leaf 92, starting at 8924: 8730 is leaf 90 */
  assert_int_equal(ms.gets - before, t.levels);
  /* whole file at once, and at/after EOF */
  check_range(f, 0, 10007);
  check_range(f, 10007, 10);
  check_range(f, UINT64_MAX - 1, 10);
  assert_int_equal(exp_pread(f, NULL, 0, 0), 0);
  exp_close(f);
  free(t.nodes);
  memstore_free(&ms);
}

static void test_multi_level_file(void **state) { (void)state; multi_level(false); }
static void test_multi_level_raw_leaves(void **state) { (void)state; multi_level(true); }

static void test_sequential_reads_fetch_each_block_once(void **state) {
  (void)state;
  memstore_t ms = {0};
  block_source_t src = memstore_source(&ms);
  tree_t t = build_file(&ms, 4096, 256, 16, true); /* 16 leaves under one root */
  exp_file_t *f;
  assert_int_equal(exp_open(&src, &t.root, &f), 0);
  size_t before = ms.gets;
  for (uint64_t off = 0; off < 4096; off += 64) check_range(f, off, 64);
  assert_int_equal(ms.gets - before, 16);
  exp_close(f);
  free(t.nodes);
  memstore_free(&ms);
}

static void test_single_leaf_and_empty_files(void **state) {
  (void)state;
  memstore_t ms = {0};
  block_source_t src = memstore_source(&ms);
  /* a leaf as root */
  tree_t t = build_file(&ms, 50, 100, 4, false);
  exp_file_t *f;
  assert_int_equal(exp_open(&src, &t.root, &f), 0);
  assert_int_equal(exp_size(f), 50);
  size_t before = ms.gets;
  check_range(f, 10, 100);
  assert_int_equal(ms.gets, before); /* served from the root */
  exp_close(f);
  free(t.nodes);
  /* the empty file QmbFMke1... */
  static const uint8_t empty[] = {0x0a, 0x04, 0x08, 0x02, 0x18, 0x00};
  cid_t e = put(&ms, 0, CODEC_DAG_PB, empty, sizeof empty);
  assert_int_equal(exp_open(&src, &e, &f), 0);
  assert_int_equal(exp_size(f), 0);
  uint8_t b[4];
  assert_int_equal(exp_pread(f, b, 4, 0), 0);
  exp_close(f);
  /* a raw block is a file */
  cid_t r = put(&ms, 1, CODEC_RAW, (const uint8_t *)"raw bytes", 9);
  exp_stat_t st;
  assert_int_equal(exp_stat(&src, &r, &st), 0);
  assert_int_equal(st.kind, EXP_RAW);
  assert_int_equal(st.size_bytes, 9);
  assert_int_equal(exp_open(&src, &r, &f), 0);
  char got[16] = {0};
  assert_int_equal(exp_pread(f, got, sizeof got, 4), 5);
  assert_string_equal(got, "bytes");
  exp_close(f);
  /* an identity CID needs no block source at all */
  cid_t id;
  assert_int_equal(cid_make(&id, 1, CODEC_RAW, MH_IDENTITY, "inline", 6), 0);
  before = ms.gets;
  assert_int_equal(exp_open(&src, &id, &f), 0);
  memset(got, 0, sizeof got);
  assert_int_equal(exp_pread(f, got, sizeof got, 0), 6);
  assert_string_equal(got, "inline");
  assert_int_equal(ms.gets, before);
  exp_close(f);
  memstore_free(&ms);
}

/* A node with Data bytes of its own before its children (allowed by the spec). */
static void test_node_data_before_children(void **state) {
  (void)state;
  memstore_t ms = {0};
  block_source_t src = memstore_source(&ms);
  cid_t a = put_leaf(&ms, (const uint8_t *)"-child1-", 8, true);
  cid_t b = put_leaf(&ms, (const uint8_t *)"-child2-", 8, false);
  dagpb_link_t links[2] = {{.cid = a, .tsize = 8, .has_tsize = true},
                           {.cid = b, .tsize = 20, .has_tsize = true}};
  uint64_t bs[2] = {8, 8};
  unixfs_data_t fs = {.type = UNIXFS_FILE, .data = (const uint8_t *)"HEAD", .data_len = 4,
                      .has_data = true, .filesize = 20, .has_filesize = true, .blocksizes = bs,
                      .blocksizes_len = 2};
  cid_t root = put_node(&ms, &fs, links, 2, NULL);
  exp_file_t *f;
  assert_int_equal(exp_open(&src, &root, &f), 0);
  assert_int_equal(exp_size(f), 20);
  char got[21] = {0};
  size_t before = ms.gets;
  assert_int_equal(exp_pread(f, got, 3, 1), 3);
  assert_string_equal(got, "EAD");
  assert_int_equal(ms.gets, before); /* no child needed */
  assert_int_equal(exp_pread(f, got, 20, 0), 20);
  assert_string_equal(got, "HEAD-child1--child2-");
  memset(got, 0, sizeof got);
  before = ms.gets;
  assert_int_equal(exp_pread(f, got, 4, 15), 4);
  assert_string_equal(got, "ild2");
  assert_int_equal(ms.gets, before); /* child2 is the cached leaf */
  exp_close(f);
  memstore_free(&ms);
}

/* ---- directories, symlinks ---- */

typedef struct listing {
  char names[64][64];
  cid_t cids[64];
  uint64_t tsizes[64];
  size_t len;
  size_t stop_after; /* 0: never */
} listing_t;

static int collect(void *ctx, const char *name, const cid_t *cid, uint64_t tsize) {
  listing_t *l = ctx;
  assert_true(l->len < 64);
  snprintf(l->names[l->len], sizeof l->names[0], "%s", name);
  l->cids[l->len] = *cid;
  l->tsizes[l->len] = tsize;
  l->len++;
  if (l->stop_after && l->len == l->stop_after) return 42;
  return 0;
}

static cid_t put_dir(memstore_t *ms, dagpb_link_t *links, size_t n) {
  unixfs_data_t fs = {.type = UNIXFS_DIRECTORY};
  return put_node(ms, &fs, links, n, NULL);
}

static dagpb_link_t named(const char *name, cid_t c, uint64_t tsize) {
  return (dagpb_link_t){.cid = c, .name = name, .name_len = strlen(name), .has_name = true,
                        .tsize = tsize, .has_tsize = true};
}

static void test_directories_and_symlinks(void **state) {
  (void)state;
  memstore_t ms = {0};
  block_source_t src = memstore_source(&ms);
  tree_t t = build_file(&ms, 1000, 100, 4, false);
  cid_t raw = put(&ms, 1, CODEC_RAW, (const uint8_t *)"b!", 2);
  unixfs_data_t link_fs = {.type = UNIXFS_SYMLINK, .data = (const uint8_t *)"../a.txt",
                           .data_len = 8, .has_data = true};
  cid_t sym = put_node(&ms, &link_fs, NULL, 0, NULL);
  dagpb_link_t sub_links[1] = {named("c", sym, 14)};
  cid_t sub = put_dir(&ms, sub_links, 1);
  cid_t missing;
  assert_int_equal(cid_make(&missing, 0, CODEC_DAG_PB, MH_SHA2_256, "absent", 6), 0);
  dagpb_link_t links[5] = {named("a.txt", t.root, 1234), named("b", raw, 2),
                           named("gone", missing, 1), named("sub", sub, 60), named("zz/bad", raw, 2)};
  cid_t dir = put_dir(&ms, links, 5);

  cid_t out;
  assert_int_equal(exp_resolve(&src, &dir, "", &out), 0);
  assert_true(cid_equal(&out, &dir));
  assert_int_equal(exp_resolve(&src, &dir, "a.txt", &out), 0);
  assert_true(cid_equal(&out, &t.root));
  size_t before = ms.gets;
  assert_int_equal(exp_resolve(&src, &dir, "/sub//c/", &out), 0);
  assert_true(cid_equal(&out, &sym));
  assert_int_equal(ms.gets - before, 2); /* dir, sub; not the symlink itself */
  assert_int_equal(exp_resolve(&src, &dir, "gone", &out), 0); /* names resolve without fetching */

  assert_int_equal(exp_resolve(&src, &dir, "nope", &out), -ENOENT);
  assert_int_equal(exp_resolve(&src, &dir, "sub/nope", &out), -ENOENT);
  assert_int_equal(exp_resolve(&src, &dir, "gone/x", &out), -ENOENT); /* missing block */
  assert_int_equal(exp_resolve(&src, &dir, "a.txt/x", &out), -ENOTDIR);
  assert_int_equal(exp_resolve(&src, &dir, "b/x", &out), -ENOTDIR);
  assert_int_equal(exp_resolve(&src, &dir, "sub/c/x", &out), -ENOTDIR);

  exp_stat_t st;
  assert_int_equal(exp_stat(&src, &dir, &st), 0);
  assert_int_equal(st.kind, EXP_DIRECTORY);
  assert_int_equal(st.size_bytes, 0);
  assert_int_equal(exp_stat(&src, &sym, &st), 0);
  assert_int_equal(st.kind, EXP_SYMLINK);
  assert_int_equal(st.size_bytes, 8);
  assert_int_equal(exp_stat(&src, &missing, &st), -ENOENT);

  buf_t target = {0};
  buf_append(&target, "old", 3);
  assert_int_equal(exp_readlink(&src, &sym, &target), 0);
  assert_int_equal(target.len, 8);
  assert_memory_equal(target.data, "../a.txt", 8);
  assert_int_equal(exp_readlink(&src, &dir, &target), -EINVAL);
  assert_int_equal(exp_readlink(&src, &t.root, &target), -EINVAL);
  buf_free(&target);

  exp_file_t *f = NULL;
  assert_int_equal(exp_open(&src, &dir, &f), -EISDIR);
  assert_null(f);
  assert_int_equal(exp_open(&src, &sym, &f), -EINVAL);
  assert_int_equal(exp_open(&src, &missing, &f), -ENOENT);

  listing_t l = {0};
  assert_int_equal(exp_readdir(&src, &dir, collect, &l), 0);
  assert_int_equal(l.len, 4); /* "zz/bad" cannot be a POSIX name */
  assert_string_equal(l.names[0], "a.txt");
  assert_string_equal(l.names[1], "b");
  assert_string_equal(l.names[2], "gone");
  assert_string_equal(l.names[3], "sub");
  assert_int_equal(l.tsizes[0], 1234);
  assert_true(cid_equal(&l.cids[3], &sub));
  listing_t stop = {.stop_after = 2};
  assert_int_equal(exp_readdir(&src, &dir, collect, &stop), 42);
  assert_int_equal(stop.len, 2);
  listing_t none = {0};
  assert_int_equal(exp_readdir(&src, &t.root, collect, &none), -ENOTDIR);
  assert_int_equal(exp_readdir(&src, &raw, collect, &none), -ENOTDIR);
  assert_int_equal(exp_readdir(&src, &sym, collect, &none), -ENOTDIR);
  free(t.nodes);
  memstore_free(&ms);
}

/* ---- HAMT ---- */

static uint8_t hamt_byte(const char *name, int level) {
  uint8_t key[8];
  murmur3_hamt_key(name, strlen(name), key);
  return key[level];
}

static void set_bit(uint8_t bitfield[32], unsigned bucket) { bitfield[31 - bucket / 8] |= (uint8_t)(1u << (bucket % 8)); }

static int cmp_links(const void *a, const void *b) {
  const dagpb_link_t *x = a, *y = b;
  return dagpb_name_cmp(x->name, x->name_len, y->name, y->name_len);
}

static cid_t put_shard(memstore_t *ms, dagpb_link_t *links, size_t n, uint64_t fanout, uint64_t hash_type) {
  qsort(links, n, sizeof *links, cmp_links);
  uint8_t bitfield[32] = {0};
  for (size_t i = 0; i < n; i++) {
    unsigned bucket;
    char hex[3] = {links[i].name[0], links[i].name[1], 0};
    sscanf(hex, "%2X", &bucket);
    set_bit(bitfield, bucket);
  }
  unixfs_data_t fs = {.type = UNIXFS_HAMT_SHARD, .data = bitfield, .data_len = 32, .has_data = true,
                      .hash_type = hash_type, .has_hash_type = true, .fanout = fanout, .has_fanout = true};
  return put_node(ms, &fs, links, n, NULL);
}

static void test_hamt_spec_bucket_names(void **state) {
  (void)state;
  /* the spec's worked example: "470.txt" lands in 00 then 6E; "742.txt" in 00 then FF */
  assert_int_equal(hamt_byte("470.txt", 0), 0x00);
  assert_int_equal(hamt_byte("470.txt", 1), 0x6E);
  assert_int_equal(hamt_byte("742.txt", 0), 0x00);
  assert_int_equal(hamt_byte("742.txt", 1), 0xFF);
}

static void test_hamt_directory(void **state) {
  (void)state;
  memstore_t ms = {0};
  block_source_t src = memstore_source(&ms);
  /* 40 names at the top level plus "470.txt" and "742.txt" sharing bucket 00 */
  enum { N = 42 };
  char names[N][16];
  cid_t files[N];
  size_t n = 0;
  for (int i = 0; n < N - 2; i++) {
    snprintf(names[n], sizeof names[n], "f%d", i);
    uint8_t b = hamt_byte(names[n], 0);
    bool clash = b == 0x00;
    for (size_t j = 0; j < n; j++) clash |= hamt_byte(names[j], 0) == b;
    if (!clash) n++;
  }
  snprintf(names[n++], sizeof names[0], "470.txt");
  snprintf(names[n++], sizeof names[0], "742.txt");
  char link_names[N][24];
  dagpb_link_t top[N];
  size_t top_len = 0;
  for (size_t i = 0; i < N; i++) {
    files[i] = put(&ms, 1, CODEC_RAW, (const uint8_t *)names[i], strlen(names[i]));
    if (i >= N - 2) continue;
    snprintf(link_names[i], sizeof link_names[i], "%02X%s", hamt_byte(names[i], 0), names[i]);
    top[top_len++] = named(link_names[i], files[i], strlen(names[i]));
  }
  dagpb_link_t sub[2] = {named("6E470.txt", files[N - 2], 7), named("FF742.txt", files[N - 1], 7)};
  cid_t sub_cid = put_shard(&ms, sub, 2, 256, MURMUR3_X64_64);
  top[top_len++] = named("00", sub_cid, 100);
  cid_t root = put_shard(&ms, top, top_len, 256, MURMUR3_X64_64);

  exp_stat_t st;
  assert_int_equal(exp_stat(&src, &root, &st), 0);
  assert_int_equal(st.kind, EXP_DIRECTORY);

  for (size_t i = 0; i < N; i++) {
    cid_t out;
    size_t before = ms.gets;
    assert_int_equal(exp_resolve(&src, &root, names[i], &out), 0);
    assert_true(cid_equal(&out, &files[i]));
    assert_int_equal(ms.gets - before, i >= N - 2 ? 2 : 1);
  }
  cid_t out;
  assert_int_equal(exp_resolve(&src, &root, "not-there", &out), -ENOENT);
  assert_int_equal(exp_resolve(&src, &root, "f0/x", &out), -ENOTDIR);
  /* a name landing in bucket 00 but absent from the sub-shard */
  char absent[16];
  for (int i = 0;; i++) {
    snprintf(absent, sizeof absent, "x%d", i);
    if (hamt_byte(absent, 0) == 0 && hamt_byte(absent, 1) != 0x6E && hamt_byte(absent, 1) != 0xFF) break;
  }
  assert_int_equal(exp_resolve(&src, &root, absent, &out), -ENOENT);

  listing_t l = {0};
  assert_int_equal(exp_readdir(&src, &root, collect, &l), 0);
  assert_int_equal(l.len, N);
  for (size_t i = 0; i < N; i++) {
    size_t hits = 0;
    for (size_t j = 0; j < l.len; j++)
      if (strcmp(l.names[j], names[i]) == 0) {
        hits++;
        assert_true(cid_equal(&l.cids[j], &files[i]));
      }
    assert_int_equal(hits, 1);
  }
  /* 470.txt and 742.txt come out in link order: under "00", first of the top links */
  assert_string_equal(l.names[0], "470.txt");
  assert_string_equal(l.names[1], "742.txt");

  /* wrong hash function or fanout: malformed */
  dagpb_link_t bad[1] = {named("00x", files[0], 1)};
  cid_t bad_hash = put_shard(&ms, bad, 1, 256, 0x12);
  assert_int_equal(exp_resolve(&src, &bad_hash, "x", &out), -EIO);
  assert_int_equal(exp_stat(&src, &bad_hash, &st), -EIO);
  dagpb_link_t bad2[1] = {named("00x", files[0], 1)};
  cid_t bad_fanout = put_shard(&ms, bad2, 1, 100, MURMUR3_X64_64);
  assert_int_equal(exp_readdir(&src, &bad_fanout, collect, &l), -EIO);
  /* a child shard with a different fanout */
  dagpb_link_t mixed[1] = {named("00", bad_fanout, 1)};
  cid_t mixed_root = put_shard(&ms, mixed, 1, 256, MURMUR3_X64_64);
  assert_int_equal(exp_resolve(&src, &mixed_root, "470.txt", &out), -EIO);
  /* a bucket link pointing at a file, not a shard */
  dagpb_link_t not_shard[1] = {named("00", files[0], 1)};
  cid_t ns_root = put_shard(&ms, not_shard, 1, 256, MURMUR3_X64_64);
  assert_int_equal(exp_resolve(&src, &ns_root, "470.txt", &out), -EIO);
  memstore_free(&ms);
}

/* A "HAMT bomb": four small shards, each linking the next from all 256
 * buckets, would flatten to 256^3 entries; a valid HAMT never links one shard
 * twice, so readdir refuses it after a handful of blocks. */
static void test_hamt_bomb(void **state) {
  (void)state;
  memstore_t ms = {0};
  block_source_t src = memstore_source(&ms);
  cid_t file = put(&ms, 1, CODEC_RAW, (const uint8_t *)"x", 1);
  dagpb_link_t one[1] = {named("00x", file, 1)};
  cid_t cur = put_shard(&ms, one, 1, 256, MURMUR3_X64_64);
  static char bucket_names[256][3];
  for (int level = 0; level < 3; level++) {
    dagpb_link_t all[256];
    for (int b = 0; b < 256; b++) {
      snprintf(bucket_names[b], sizeof bucket_names[b], "%02X", b);
      all[b] = named(bucket_names[b], cur, 1);
    }
    cur = put_shard(&ms, all, 256, 256, MURMUR3_X64_64);
  }
  listing_t l = {0};
  size_t before = ms.gets;
  assert_int_equal(exp_readdir(&src, &cur, collect, &l), -EIO);
  assert_int_equal(l.len, 1);
  assert_true(ms.gets - before < 8);
  memstore_free(&ms);
}

/* ---- malformed files ---- */

static void test_malformed_files(void **state) {
  (void)state;
  memstore_t ms = {0};
  block_source_t src = memstore_source(&ms);
  cid_t leaf = put_leaf(&ms, (const uint8_t *)"12345", 5, true);
  exp_file_t *f = NULL;

  /* links and blocksizes differ in number */
  dagpb_link_t one[1] = {{.cid = leaf}};
  unixfs_data_t fs = {.type = UNIXFS_FILE};
  cid_t c = put_node(&ms, &fs, one, 1, NULL);
  assert_int_equal(exp_open(&src, &c, &f), -EIO);
  exp_stat_t st;
  assert_int_equal(exp_stat(&src, &c, &st), -EIO);

  /* filesize disagrees */
  uint64_t bs5[1] = {5};
  unixfs_data_t fs2 = {.type = UNIXFS_FILE, .filesize = 6, .has_filesize = true, .blocksizes = bs5,
                       .blocksizes_len = 1};
  c = put_node(&ms, &fs2, one, 1, NULL);
  assert_int_equal(exp_open(&src, &c, &f), -EIO);

  /* a named link inside a file */
  dagpb_link_t named_link[1] = {named("x", leaf, 5)};
  fs2.filesize = 5;
  c = put_node(&ms, &fs2, named_link, 1, NULL);
  assert_int_equal(exp_open(&src, &c, &f), -EIO);

  /* the child holds fewer bytes than blocksizes promise: found on read */
  uint64_t bs6[1] = {6};
  unixfs_data_t fs3 = {.type = UNIXFS_FILE, .filesize = 6, .has_filesize = true, .blocksizes = bs6,
                       .blocksizes_len = 1};
  c = put_node(&ms, &fs3, one, 1, NULL);
  assert_int_equal(exp_open(&src, &c, &f), 0);
  uint8_t b[8];
  assert_int_equal(exp_pread(f, b, 8, 0), -EIO);
  exp_close(f);

  /* a child that is a directory */
  dagpb_link_t dl[1] = {{.cid = put_dir(&ms, NULL, 0)}};
  uint64_t bs0[1] = {1};
  unixfs_data_t fs4 = {.type = UNIXFS_FILE, .filesize = 1, .has_filesize = true, .blocksizes = bs0,
                       .blocksizes_len = 1};
  c = put_node(&ms, &fs4, dl, 1, NULL);
  assert_int_equal(exp_open(&src, &c, &f), 0);
  assert_int_equal(exp_pread(f, b, 1, 0), -EIO);
  exp_close(f);

  /* a missing child */
  cid_t missing;
  assert_int_equal(cid_make(&missing, 1, CODEC_RAW, MH_SHA2_256, "nope", 4), 0);
  dagpb_link_t ml[1] = {{.cid = missing}};
  c = put_node(&ms, &fs4, ml, 1, NULL);
  assert_int_equal(exp_open(&src, &c, &f), 0);
  assert_int_equal(exp_pread(f, b, 1, 0), -ENOENT);
  exp_close(f);

  /* a chain deeper than EXP_DEPTH_MAX: refused, not a stack overflow */
  cid_t cur = put_leaf(&ms, (const uint8_t *)"z", 1, false);
  for (int depth = 0; depth < EXP_DEPTH_MAX + 5; depth++) {
    dagpb_link_t l1[1] = {{.cid = cur}};
    cur = put_node(&ms, &fs4, l1, 1, NULL);
  }
  assert_int_equal(exp_open(&src, &cur, &f), 0);
  assert_int_equal(exp_pread(f, b, 1, 0), -EIO);
  exp_close(f);

  /* not UnixFS: dag-pb without Data, and Data that is not UnixFS */
  cid_t bare = put(&ms, 0, CODEC_DAG_PB, (const uint8_t *)"", 0);
  assert_int_equal(exp_stat(&src, &bare, &st), -EIO);
  static const uint8_t junk[] = {0x0a, 0x02, 0x48, 0x00};
  cid_t j = put(&ms, 0, CODEC_DAG_PB, junk, sizeof junk);
  assert_int_equal(exp_open(&src, &j, &f), -EIO);
  static const uint8_t not_pb[] = {0xff, 0xff};
  cid_t np = put(&ms, 0, CODEC_DAG_PB, not_pb, sizeof not_pb);
  assert_int_equal(exp_resolve(&src, &np, "a", &cur), -EIO);
  memstore_free(&ms);
}

static void test_path_bounds(void **state) {
  (void)state;
  memstore_t ms = {0};
  block_source_t src = memstore_source(&ms);
  cid_t self_dir = put_dir(&ms, NULL, 0);
  size_t n = EXP_PATH_SEGMENTS_MAX + 1;
  char *path = malloc(2 * n + 1);
  for (size_t i = 0; i < n; i++) { path[2 * i] = 'a'; path[2 * i + 1] = '/'; }
  path[2 * n] = 0;
  cid_t out;
  size_t before = ms.gets;
  assert_int_equal(exp_resolve(&src, &self_dir, path, &out), -ENAMETOOLONG);
  assert_int_equal(ms.gets, before); /* refused before fetching anything */
  path[2 * (n - 1)] = 0;               /* exactly the maximum is fine (and fails on the name) */
  assert_int_equal(exp_resolve(&src, &self_dir, path, &out), -ENOENT);
  free(path);
  /* a directory that contains itself by name is impossible, so build a deep chain */
  cid_t cur = put_dir(&ms, NULL, 0);
  for (int i = 0; i < 10; i++) {
    dagpb_link_t l[1] = {named("d", cur, 1)};
    cur = put_dir(&ms, l, 1);
  }
  assert_int_equal(exp_resolve(&src, &cur, "d/d/d/d/d/d/d/d/d/d", &out), 0);
  assert_int_equal(exp_resolve(&src, &cur, "d/d/d/d/d/d/d/d/d/d/d", &out), -ENOENT);
  memstore_free(&ms);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_multi_level_file),
      cmocka_unit_test(test_multi_level_raw_leaves),
      cmocka_unit_test(test_sequential_reads_fetch_each_block_once),
      cmocka_unit_test(test_single_leaf_and_empty_files),
      cmocka_unit_test(test_node_data_before_children),
      cmocka_unit_test(test_directories_and_symlinks),
      cmocka_unit_test(test_hamt_spec_bucket_names),
      cmocka_unit_test(test_hamt_directory),
      cmocka_unit_test(test_hamt_bomb),
      cmocka_unit_test(test_malformed_files),
      cmocka_unit_test(test_path_bounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
