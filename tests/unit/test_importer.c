/*
 * importer (with chunker and hamt): Kubo's published vectors, the 262145
 * zero-byte root layout byte by byte, the balanced layout against a direct
 * transcription of boxo's recursive algorithm, chunk-size edges, inline and
 * pipelined chunking agreeing, constant memory over a large stream, directory
 * output order and paths, dot-files, symlinks, HAMT shape, and the error
 * paths (bad options, missing and unsupported paths, depth limit, duplicate
 * names, failing sink and read errors).  The broad CID comparison against the
 * JS importer lives in tests/interop/unixfs-diff.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <dirent.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "chunker.h"
#include "cid.h"
#include "dagpb.h"
#include "err.h"
#include "importer.h"
#include "memstore.h"
#include "murmur3.h"
#include "unixfs.h"

/* ---- helpers ---- */

static void assert_cid_text(const cid_t *c, const char *want) {
  char text[CID_TEXT_BYTES_MAX];
  assert_int_equal(cid_format_default(c, text), 0);
  assert_string_equal(text, want);
}

/* A memfd holding data, positioned at 0 (a regular file to the importer). */
static int memfd_with(const void *data, size_t len) {
  int fd = memfd_create("importer-test", 0);
  assert_true(fd >= 0);
  size_t done = 0;
  while (done < len) {
    ssize_t n = write(fd, (const uint8_t *)data + done, len - done);
    assert_true(n > 0);
    done += (size_t)n;
  }
  assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
  return fd;
}

static int add_bytes(const imp_options_t *o, const void *data, size_t len, const block_sink_t *sink,
                     cid_t *root, uint64_t *tsize) {
  int fd = memfd_with(data, len);
  int rc = imp_add_fd(o, sink, fd, NULL, root, tsize);
  close(fd);
  return rc;
}

/* A sink that only counts (for streams too large for the linear memstore). */
typedef struct counting_sink {
  uint64_t puts;
  uint64_t bytes;
  uint64_t fail_after; /* fail the put after this many (0 = never) */
} counting_sink_t;

static int counting_put(void *ctx, const cid_t *cid, const uint8_t *data, size_t len) {
  counting_sink_t *s = ctx;
  if (s->fail_after && s->puts >= s->fail_after) return err_set(-ENOSPC, "test sink full");
  s->puts++;
  s->bytes += len;
  return 0;
}

/* Collects `added` events as "cid path" lines. */
typedef struct events {
  char lines[128][160];
  size_t len;
  uint64_t sizes[128];
} events_t;

static void record_added(void *ctx, const cid_t *cid, const char *path, uint64_t size_bytes) {
  events_t *e = ctx;
  assert_true(e->len < 128);
  char text[CID_TEXT_BYTES_MAX];
  assert_int_equal(cid_format_default(cid, text), 0);
  int n = snprintf(e->lines[e->len], sizeof e->lines[0], "%.100s %.50s", text, path);
  assert_true(n > 0 && (size_t)n < sizeof e->lines[0]);
  e->sizes[e->len] = size_bytes;
  e->len++;
}

static char tmp_root[256];

static void make_file(const char *rel, const char *content) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", tmp_root, rel);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(content, f);
  fclose(f);
}

static void make_dir(const char *rel) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", tmp_root, rel);
  assert_int_equal(mkdir(p, 0755), 0);
}

static const char *tpath(const char *rel, char *out, size_t cap) {
  snprintf(out, cap, "%s/%s", tmp_root, rel);
  return out;
}

static int setup_tmp(void **state) {
  (void)state;
  const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(tmp_root, sizeof tmp_root, "%s/anya-importer-XXXXXX", base);
  return mkdtemp(tmp_root) ? 0 : -1;
}

static int teardown_tmp(void **state) {
  (void)state;
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
  return system(cmd) == 0 ? 0 : -1;
}

/* ---- options ---- */

static void test_options(void **state) {
  (void)state;
  imp_options_t o;
  imp_options_default(&o);
  assert_int_equal(o.cid_version, 0);
  assert_int_equal(o.raw_leaves, -1);
  assert_int_equal(o.chunk_bytes, 262144);
  assert_int_equal(o.links_max, 174);
  assert_int_equal(o.hamt_threshold_bytes, 262144);
  assert_false(o.trickle || o.hidden || o.wrap);
  assert_int_equal(imp_options_check(&o), 0);

  imp_options_t bad = o;
  bad.cid_version = 2;
  assert_int_equal(imp_options_check(&bad), -EINVAL);
  bad = o;
  bad.chunk_bytes = 0;
  assert_int_equal(imp_options_check(&bad), -EINVAL);
  bad = o;
  bad.chunk_bytes = IMP_CHUNK_BYTES_MAX + 1;
  assert_int_equal(imp_options_check(&bad), -EINVAL);
  bad = o;
  bad.chunk_bytes = IMP_CHUNK_BYTES_MAX;
  assert_int_equal(imp_options_check(&bad), 0);
  bad = o;
  bad.links_max = 1;
  assert_int_equal(imp_options_check(&bad), -EINVAL);
  bad = o;
  bad.links_max = IMP_LINKS_MAX_LIMIT + 1;
  assert_int_equal(imp_options_check(&bad), -EINVAL);
  bad = o;
  bad.raw_leaves = 2;
  assert_int_equal(imp_options_check(&bad), -EINVAL);
  assert_int_equal(imp_options_check(NULL), -EINVAL);

  /* The entry points refuse bad options before touching anything. */
  counting_sink_t cs = {0};
  block_sink_t sink = {counting_put, &cs};
  cid_t root;
  bad = o;
  bad.cid_version = 7;
  assert_int_equal(imp_add_fd(&bad, &sink, 0, NULL, &root, NULL), -EINVAL);
  const char *p = "/";
  assert_int_equal(imp_add_paths(&bad, &sink, &p, 1, NULL, &root), -EINVAL);
  assert_int_equal(imp_add_paths(&o, &sink, &p, 0, NULL, &root), -EINVAL);
  assert_int_equal(cs.puts, 0);
}

/* ---- Kubo's vectors ---- */

static void test_kubo_vectors(void **state) {
  (void)state;
  imp_options_t o;
  memstore_t ms = {0};
  block_sink_t sink = memstore_sink(&ms);
  cid_t root;
  uint64_t tsize;

  imp_options_default(&o);
  assert_int_equal(add_bytes(&o, "", 0, &sink, &root, &tsize), 0);
  assert_cid_text(&root, "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH");
  assert_int_equal(tsize, 6);

  o.raw_leaves = 1;
  assert_int_equal(add_bytes(&o, "", 0, &sink, &root, &tsize), 0);
  assert_cid_text(&root, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
  assert_int_equal(tsize, 0);

  imp_options_default(&o);
  o.cid_version = 1; /* implies raw leaves */
  assert_int_equal(add_bytes(&o, "", 0, &sink, &root, &tsize), 0);
  assert_cid_text(&root, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");

  o.trickle = true; /* trickle never reduces to a leaf: an empty File node */
  assert_int_equal(add_bytes(&o, "", 0, &sink, &root, &tsize), 0);
  assert_cid_text(&root, "bafybeif7ztnhq65lumvvtr4ekcwd2ifwgm3awq4zfr3srh462rwyinlb4y");

  imp_options_default(&o);
  const char *hello = "Hello Worlds!\n";
  assert_int_equal(add_bytes(&o, hello, strlen(hello), &sink, &root, &tsize), 0);
  assert_cid_text(&root, "QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH");
  o.trickle = true;
  assert_int_equal(add_bytes(&o, hello, strlen(hello), &sink, &root, &tsize), 0);
  assert_cid_text(&root, "QmUkUQgxXeggyaD5Ckv8ZqfW8wHBX6cYyeiyqvVZYzq5Bi");
  memstore_free(&ms);
}

/* Kubo's test/cli/testutils DeterministicRandomReaderBytes: the ChaCha20
 * keystream (key = sha256(seed), zero nonce, counter 0). */
static uint8_t *kubo_random(const char *seed, size_t len) {
  uint8_t key[32], iv[16] = {0};
  mh_sha256_raw(seed, strlen(seed), key);
  uint8_t *out = calloc(1, len ? len : 1);
  assert_non_null(out);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  assert_non_null(ctx);
  int n = 0;
  assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_chacha20(), NULL, key, iv), 1);
  for (size_t done = 0; done < len;) { /* zeros in, keystream out, in place */
    int step = len - done > (1u << 30) ? 1 << 30 : (int)(len - done);
    assert_int_equal(EVP_EncryptUpdate(ctx, out + done, &n, out + done, step), 1);
    done += (size_t)n;
  }
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

static void assert_add_random(const imp_options_t *o, const char *seed, size_t len, const char *want) {
  uint8_t *data = kubo_random(seed, len);
  counting_sink_t cs = {0};
  block_sink_t sink = {counting_put, &cs};
  cid_t root;
  assert_int_equal(add_bytes(o, data, len, &sink, &root, NULL), 0);
  assert_cid_text(&root, want);
  free(data);
}

/* Kubo's createDeterministicFiles: names of name_len characters from the
 * alphabet "a-z0-9 0 - _" picked by a keystream byte each, every file "x". */
static void kubo_directory(const char *rel, const char *seed, int files, int name_len) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz01234567890-_";
  size_t alphabet_len = strlen(alphabet);
  uint8_t *stream = kubo_random(seed, 1 << 20);
  make_dir(rel);
  size_t at = 0;
  for (int i = 0; i < files; i++) {
    char name[64], path[128];
    assert_true(name_len < (int)sizeof name && at + (size_t)name_len <= (1u << 20));
    for (int j = 0; j < name_len; j++) name[j] = alphabet[stream[at++] % alphabet_len];
    name[name_len] = '\0';
    snprintf(path, sizeof path, "%s/%s", rel, name);
    make_file(path, "x");
  }
  free(stream);
}

/* The CIDs Kubo's own test suite pins for its default profile
 * (test/cli/cid_profiles_test.go, unixfs-v0-2015 == default) and the file
 * vectors of unixfs-v1-2025 (CIDv1, raw leaves, 1 MiB chunks). */
static void test_kubo_profile_vectors(void **state) {
  (void)state;
  imp_options_t o;
  imp_options_default(&o);
  counting_sink_t cs = {0};
  block_sink_t sink = {counting_put, &cs};
  cid_t root;
  assert_int_equal(add_bytes(&o, "hello world", 11, &sink, &root, NULL), 0);
  assert_cid_text(&root, "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD");
  assert_add_random(&o, "chunk-v0-seed", 262144, "QmWmRj3dFDZdb6ABvbmKhEL6TmPbAfBZ1t5BxsEyJrcZhE");
  assert_add_random(&o, "chunk-v0-seed", 262145, "QmYyLxtzZyW22zpoVAtKANLRHpDjZtNeDjQdJrcQNWoRkJ");
  assert_add_random(&o, "v0-seed", 174 * 262144, "QmUbBALi174SnogsUzLpYbD4xPiBSFANF4iztWCsHbMKh2");
  assert_add_random(&o, "v0-seed", 174 * 262144 + 1, "QmV81WL765sC8DXsRhE5fJv2rwhS4icHRaf3J9Zk5FdRnW");

  /* 4096 names of 30 bytes: Σ(name + 34-byte CID) = 262144, a plain directory;
   * 4033 names of 31 bytes: 262145, one byte over, a HAMT. */
  char p[512];
  kubo_directory("kubo-basic", "hamt-unixfs-v0-2015", 4096, 30);
  const char *basic[] = {tpath("kubo-basic", p, sizeof p)};
  assert_int_equal(imp_add_paths(&o, &sink, basic, 1, NULL, &root), 0);
  assert_cid_text(&root, "QmX5GtRk3TSSEHtdrykgqm4eqMEn3n2XhfkFAis5fjyZmN");
  kubo_directory("kubo-hamt", "hamt-unixfs-v0-2015", 4033, 31);
  const char *hamt[] = {tpath("kubo-hamt", p, sizeof p)};
  assert_int_equal(imp_add_paths(&o, &sink, hamt, 1, NULL, &root), 0);
  assert_cid_text(&root, "QmeMiJzmhpJAUgynAcxTQYek5PPKgdv3qEvFsdV3XpVnvP");

  o.cid_version = 1;
  o.chunk_bytes = 1048576;
  o.links_max = 1024;
  assert_add_random(&o, "chunk-v1-seed", 1048576, "bafkreiacndfy443ter6qr2tmbbdhadvxxheowwf75s6zehscklu6ezxmta");
  assert_add_random(&o, "chunk-v1-seed", 1048577, "bafybeigmix7t42i6jacydtquhet7srwvgpizfg7gjbq7627d35mjomtu64");
}

/* 262145 zero bytes: root = 2 links (a full leaf and a 1-byte leaf), exactly
 * `12 2a [0a 22 <cid>][12 00][18 8e8010] 12 28 [..][18 09] 0a 0c 08 02 18 818010 20 808010 20 01`. */
static void test_zeros_root_layout(void **state) {
  (void)state;
  imp_options_t o;
  imp_options_default(&o);
  memstore_t ms = {0};
  block_sink_t sink = memstore_sink(&ms);
  size_t len = 262145;
  uint8_t *zeros = calloc(1, len);
  assert_non_null(zeros);
  cid_t root;
  uint64_t tsize;
  assert_int_equal(add_bytes(&o, zeros, len, &sink, &root, &tsize), 0);
  assert_cid_text(&root, "QmbVuw4C4vcmVKqxoWtgDVobvcHrSn51qsmQmyxjk4sB2Q");
  assert_int_equal(ms.len, 3);

  buf_t block = {0};
  assert_int_equal(memstore_get(&ms, &root, &block), 0);
  static const uint8_t data[] = {0x08, 0x02, 0x18, 0x81, 0x80, 0x10, 0x20, 0x80, 0x80, 0x10, 0x20, 0x01};
  assert_int_equal(block.len, 2 + 42 + 2 + 40 + 2 + sizeof data);
  assert_int_equal(block.data[0], 0x12);
  assert_int_equal(block.data[1], 0x2a);
  assert_memory_equal(block.data + 2 + 36, "\x12\x00\x18\x8e\x80\x10", 6);
  assert_int_equal(block.data[44], 0x12);
  assert_int_equal(block.data[45], 0x28);
  assert_memory_equal(block.data + 46 + 36, "\x12\x00\x18\x09", 4);
  assert_int_equal(block.data[86], 0x0a);
  assert_int_equal(block.data[87], sizeof data);
  assert_memory_equal(block.data + 88, data, sizeof data);
  assert_int_equal(tsize, block.len + 262158 + 9);

  /* The links point at the two leaves, built here with the codecs. */
  dagpb_node_t node;
  assert_int_equal(dagpb_decode(block.data, block.len, &node), 0);
  assert_int_equal(node.links_len, 2);
  size_t sizes[2] = {262144, 1};
  for (size_t i = 0; i < 2; i++) {
    unixfs_data_t leaf = {.type = UNIXFS_FILE, .data = zeros, .data_len = sizes[i], .has_data = true,
                          .filesize = sizes[i], .has_filesize = true};
    buf_t u = {0}, b = {0};
    assert_int_equal(unixfs_encode(&leaf, &u), 0);
    dagpb_node_t n = {.data = u.data, .data_len = u.len, .has_data = true};
    assert_int_equal(dagpb_encode(&n, &b), 0);
    cid_t c;
    assert_int_equal(cid_make(&c, 0, CODEC_DAG_PB, MH_SHA2_256, b.data, b.len), 0);
    assert_true(cid_equal(&c, &node.links[i].cid));
    assert_int_equal(node.links[i].tsize, b.len);
    buf_free(&u);
    buf_free(&b);
  }
  dagpb_node_free(&node);
  buf_free(&block);
  free(zeros);
  memstore_free(&ms);
}

/* The in-place leaf wrapping equals the codecs' encoding at every varint edge. */
static void test_leaf_wrap(void **state) {
  (void)state;
  static const uint32_t sizes[] = {1, 2, 117, 118, 127, 128, 16373, 16374, 16383, 16384, 262144, 2096896};
  uint8_t *mem = malloc(CHUNKER_HEAD_BYTES + 2096896 + CHUNKER_TAIL_BYTES);
  assert_non_null(mem);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    for (uint32_t type = UNIXFS_RAW; type <= UNIXFS_FILE; type += UNIXFS_FILE) {
      uint32_t n = sizes[i];
      uint8_t *data = mem + CHUNKER_HEAD_BYTES;
      for (uint32_t j = 0; j < n; j++) data[j] = (uint8_t)(j * 31 + 7);
      unixfs_data_t d = {.type = type, .data = data, .data_len = n, .has_data = true, .filesize = n,
                         .has_filesize = true};
      buf_t u = {0}, want = {0};
      assert_int_equal(unixfs_encode(&d, &u), 0);
      dagpb_node_t node = {.data = u.data, .data_len = u.len, .has_data = true};
      assert_int_equal(dagpb_encode(&node, &want), 0);
      uint8_t *block;
      size_t block_bytes;
      chunker_wrap_leaf(data, n, type, &block, &block_bytes);
      assert_int_equal(block_bytes, want.len);
      assert_memory_equal(block, want.data, want.len);
      buf_free(&u);
      buf_free(&want);
    }
  }
  free(mem);
}

/* ---- balanced layout against boxo's recursion ---- */

typedef struct ref_link {
  cid_t cid;
  uint64_t tsize, filesize;
} ref_link_t;

typedef struct ref_state {
  const uint8_t *data;
  size_t len, pos;
  uint32_t links_max;
} ref_state_t;

static ref_link_t ref_node(const ref_link_t *kids, size_t n) {
  dagpb_link_t links[16];
  uint64_t blocksizes[16];
  uint64_t total = 0, below = 0;
  assert_true(n <= 16);
  for (size_t i = 0; i < n; i++) {
    memset(&links[i], 0, sizeof links[i]);
    links[i].cid = kids[i].cid;
    links[i].name = "";
    links[i].has_name = true;
    links[i].tsize = kids[i].tsize;
    links[i].has_tsize = true;
    blocksizes[i] = kids[i].filesize;
    total += kids[i].filesize;
    below += kids[i].tsize;
  }
  unixfs_data_t d = {.type = UNIXFS_FILE, .filesize = total, .has_filesize = true, .blocksizes = blocksizes,
                     .blocksizes_len = n};
  buf_t u = {0}, b = {0};
  assert_int_equal(unixfs_encode(&d, &u), 0);
  dagpb_node_t node = {.links = links, .links_len = n, .data = u.data, .data_len = u.len, .has_data = true};
  assert_int_equal(dagpb_encode(&node, &b), 0);
  ref_link_t out;
  assert_int_equal(cid_make(&out.cid, 0, CODEC_DAG_PB, MH_SHA2_256, b.data, b.len), 0);
  out.tsize = below + b.len;
  out.filesize = total;
  buf_free(&u);
  buf_free(&b);
  return out;
}

static ref_link_t ref_leaf(ref_state_t *s) { /* raw leaves of one byte */
  assert_true(s->pos < s->len);
  ref_link_t l;
  assert_int_equal(cid_make(&l.cid, 1, CODEC_RAW, MH_SHA2_256, s->data + s->pos, 1), 0);
  l.tsize = 1;
  l.filesize = 1;
  s->pos++;
  return l;
}

/* boxo balanced.fillNodeRec: node starts with `have` children already in kids. */
static ref_link_t ref_fill(ref_state_t *s, ref_link_t *first, int depth) {
  ref_link_t kids[16];
  size_t n = 0;
  if (first) kids[n++] = *first;
  while (n < s->links_max && s->pos < s->len) kids[n++] = depth == 1 ? ref_leaf(s) : ref_fill(s, NULL, depth - 1);
  return ref_node(kids, n);
}

static ref_link_t ref_balanced(ref_state_t *s) { /* boxo balanced.Layout, len >= 1 */
  ref_link_t root = ref_leaf(s);
  for (int depth = 1; s->pos < s->len; depth++) root = ref_fill(s, &root, depth);
  return root;
}

static void test_balanced_matches_boxo_recursion(void **state) {
  (void)state;
  uint8_t data[200];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 13 + 1);
  counting_sink_t cs = {0};
  block_sink_t sink = {counting_put, &cs};
  for (uint32_t links_max = 2; links_max <= 5; links_max++) {
    for (size_t len = 1; len <= (links_max == 2 ? 200u : 130u); len++) {
      imp_options_t o;
      imp_options_default(&o);
      o.chunk_bytes = 1;
      o.raw_leaves = 1;
      o.links_max = links_max;
      cid_t root;
      uint64_t tsize;
      assert_int_equal(add_bytes(&o, data, len, &sink, &root, &tsize), 0);
      ref_state_t s = {.data = data, .len = len, .links_max = links_max};
      ref_link_t want = ref_balanced(&s);
      if (!cid_equal(&root, &want.cid)) fail_msg("links_max %u, %zu bytes: roots differ", links_max, len);
      assert_int_equal(tsize, want.tsize);
    }
  }
}

/* ---- chunk sizes, inline vs pipelined, memory ---- */

static void root_filesize(memstore_t *ms, const cid_t *root, uint64_t *filesize, size_t *links) {
  buf_t b = {0};
  assert_int_equal(memstore_get(ms, root, &b), 0);
  if (root->codec == CODEC_RAW) {
    *filesize = b.len;
    *links = 0;
  } else {
    dagpb_node_t node;
    unixfs_data_t d;
    assert_int_equal(dagpb_decode(b.data, b.len, &node), 0);
    assert_int_equal(unixfs_decode(node.data, node.data_len, &d), 0);
    assert_int_equal(d.type, UNIXFS_FILE);
    *filesize = d.filesize;
    *links = node.links_len;
    unixfs_data_free(&d);
    dagpb_node_free(&node);
  }
  buf_free(&b);
}

static void test_chunk_sizes(void **state) {
  (void)state;
  static const uint32_t chunks[] = {1, 2, 1000, 262144, IMP_CHUNK_BYTES_MAX};
  size_t max_len = 3 * (size_t)IMP_CHUNK_BYTES_MAX + 5;
  uint8_t *data = malloc(max_len);
  assert_non_null(data);
  for (size_t i = 0; i < max_len; i++) data[i] = (uint8_t)(i * 2654435761u >> 13);
  for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
    uint32_t chunk = chunks[c];
    size_t lens[] = {0, 1, chunk - 1, chunk, (size_t)chunk + 1, 3 * (size_t)chunk + 5};
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
      size_t len = lens[l];
      if (chunk <= 2 && len > 64) continue;
      for (int raw = 0; raw <= 1; raw++) {
        imp_options_t o;
        imp_options_default(&o);
        o.chunk_bytes = chunk;
        o.raw_leaves = raw;
        memstore_t ms = {0};
        block_sink_t sink = memstore_sink(&ms);
        cid_t root;
        uint64_t tsize;
        assert_int_equal(add_bytes(&o, data, len, &sink, &root, &tsize), 0);
        uint64_t filesize;
        size_t links;
        root_filesize(&ms, &root, &filesize, &links);
        assert_int_equal(filesize, len);
        size_t leaves = (len + chunk - 1) / chunk;
        assert_int_equal(links, leaves > 1 ? leaves : 0);
        assert_int_equal(ms.puts, leaves > 1 ? leaves + 1 : 1);
        memstore_free(&ms);
      }
    }
  }
  free(data);
}

/* The same stream through the inline path and the thread pipeline. */
static void test_inline_equals_pipelined(void **state) {
  (void)state;
  size_t len = 3 * 1024 * 1024 + 12345;
  uint8_t *data = malloc(len);
  assert_non_null(data);
  for (size_t i = 0; i < len; i++) data[i] = (uint8_t)(i ^ (i >> 9));
  for (int kind = CHUNKER_LEAF_RAW; kind <= CHUNKER_LEAF_UNIXFS_RAW; kind++) {
    chunker_config_t cfg = {.chunk_bytes = 65536, .leaf_kind = (chunker_leaf_kind_t)kind, .workers = 3};
    chunker_t *c;
    assert_int_equal(chunker_new(&cfg, &c), 0);
    cid_t first[64];
    size_t n_first = 0;
    for (int pass = 0; pass < 3; pass++) {
      int fd = memfd_with(data, len);
      /* pass 0 inline (claims to be small), 1 and 2 pipelined (size unknown) */
      assert_int_equal(chunker_start(c, fd, pass == 0 ? 0 : UINT64_MAX), 0);
      chunker_leaf_t leaf;
      size_t n = 0;
      uint64_t bytes = 0;
      int rc;
      while ((rc = chunker_next(c, &leaf)) == 1) {
        assert_true(n < 64);
        if (pass == 0) first[n_first++] = leaf.cid;
        else assert_true(cid_equal(&first[n], &leaf.cid));
        bytes += leaf.data_bytes;
        n++;
      }
      assert_int_equal(rc, 0);
      assert_int_equal(chunker_more(c), 0);
      assert_int_equal(bytes, len);
      assert_int_equal(n, n_first);
      close(fd);
    }
    /* A stream abandoned midway leaves the chunker reusable. */
    int fd = memfd_with(data, len);
    assert_int_equal(chunker_start(c, fd, UINT64_MAX), 0);
    chunker_leaf_t leaf;
    assert_int_equal(chunker_next(c, &leaf), 1);
    chunker_stop(c);
    close(fd);
    fd = memfd_with(data, 10);
    assert_int_equal(chunker_start(c, fd, UINT64_MAX), 0);
    assert_int_equal(chunker_more(c), 1);
    assert_int_equal(chunker_next(c, &leaf), 1);
    assert_int_equal(leaf.data_bytes, 10);
    assert_int_equal(chunker_next(c, &leaf), 0);
    close(fd);
    chunker_free(c);
  }
  free(data);
}

typedef struct buf_writer {
  int fd;
  const uint8_t *data;
  size_t len;
} buf_writer_t;

static void *write_buf(void *arg) {
  buf_writer_t *w = arg;
  size_t done = 0;
  while (done < w->len) {
    ssize_t n = write(w->fd, w->data + done, w->len - done);
    if (n <= 0) break; /* the reader stopped early */
    done += (size_t)n;
  }
  close(w->fd);
  return NULL;
}

/* Many short pipelined streams (0..40 chunks) from regular files (workers
 * pread) and pipes (the reader thread), some abandoned at a random leaf:
 * every completed one equals the inline result; nothing hangs. */
static void test_pipeline_stress(void **state) {
  (void)state;
  const size_t max_len = 40 * 4096 + 100;
  uint8_t *data = malloc(max_len);
  assert_non_null(data);
  for (size_t i = 0; i < max_len; i++) data[i] = (uint8_t)(i * 131 + (i >> 11));
  chunker_config_t cfg = {.chunk_bytes = 4096, .leaf_kind = CHUNKER_LEAF_UNIXFS_FILE, .workers = 2,
                          .ring_bytes_max = 10 * 4160}; /* 10 slots: 2 workers */
  chunker_t *piped, *inl;
  assert_int_equal(chunker_new(&cfg, &piped), 0);
  assert_int_equal(chunker_new(&cfg, &inl), 0);
  uint64_t rng = 88172645463325252ull;
  for (int round = 0; round < 300; round++) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    size_t len = (size_t)(rng % max_len);
    size_t stop_at = (rng >> 32) % 8 == 0 ? (size_t)((rng >> 40) % 41) : SIZE_MAX;
    bool use_pipe = round % 2 == 1;
    int fd1, fd2 = memfd_with(data, len);
    pthread_t writer;
    buf_writer_t w = {.data = data, .len = len};
    if (use_pipe) {
      int p[2];
      assert_int_equal(pipe(p), 0);
      fd1 = p[0];
      w.fd = p[1];
      assert_int_equal(pthread_create(&writer, NULL, write_buf, &w), 0);
    } else {
      fd1 = memfd_with(data, len);
    }
    assert_int_equal(chunker_start(piped, fd1, UINT64_MAX), 0);
    assert_int_equal(chunker_start(inl, fd2, 0), 0);
    chunker_leaf_t a, b;
    size_t k = 0;
    int ra, rb;
    for (;;) {
      if (k == stop_at) {
        chunker_stop(piped);
        break;
      }
      ra = chunker_next(piped, &a);
      rb = chunker_next(inl, &b);
      assert_int_equal(ra, rb);
      if (ra != 1) break;
      assert_true(cid_equal(&a.cid, &b.cid));
      assert_int_equal(a.block_bytes, b.block_bytes);
      assert_memory_equal(a.block, b.block, a.block_bytes);
      k++;
    }
    if (k != stop_at) assert_int_equal(k, (len + 4095) / 4096);
    chunker_stop(inl);
    close(fd1); /* a writer still blocked on the pipe gets EPIPE */
    if (use_pipe) pthread_join(writer, NULL);
    close(fd2);
  }
  chunker_free(piped);
  chunker_free(inl);
  free(data);
}

typedef struct pipe_writer {
  int fd;
  uint64_t bytes;
} pipe_writer_t;

static void *write_pattern(void *arg) {
  pipe_writer_t *w = arg;
  static uint8_t block[65536];
  for (size_t i = 0; i < sizeof block; i++) block[i] = (uint8_t)(i * 7);
  uint64_t left = w->bytes;
  while (left > 0) {
    size_t n = left < sizeof block ? (size_t)left : sizeof block;
    ssize_t k = write(w->fd, block, n);
    if (k <= 0) break;
    left -= (uint64_t)k;
  }
  close(w->fd);
  return NULL;
}

static void progress_max(void *ctx, uint64_t done) {
  uint64_t *p = ctx;
  assert_true(done >= *p);
  *p = done;
}

/* 512 MiB through a pipe: memory stays bounded (the ring and one level of
 * links per tree level), the result matches a regular file of the same bytes
 * imported the other way, and progress reaches the total. */
static void test_constant_memory(void **state) {
  (void)state;
  const uint64_t total = 512ull * 1024 * 1024;
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pipe_writer_t w = {.fd = fds[1], .bytes = total};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, write_pattern, &w), 0);
  struct rusage before, after;
  getrusage(RUSAGE_SELF, &before);
  counting_sink_t cs = {0};
  block_sink_t sink = {counting_put, &cs};
  imp_options_t o;
  imp_options_default(&o);
  uint64_t progress = 0;
  imp_callbacks_t cb = {.progress = progress_max, .ctx = &progress};
  cid_t piped;
  uint64_t tsize;
  assert_int_equal(imp_add_fd(&o, &sink, fds[0], &cb, &piped, &tsize), 0);
  pthread_join(t, NULL);
  close(fds[0]);
  getrusage(RUSAGE_SELF, &after);
  long grown_kib = after.ru_maxrss - before.ru_maxrss;
  if (grown_kib > 48 * 1024) fail_msg("peak RSS grew by %ld KiB importing 512 MiB", grown_kib);
  assert_int_equal(progress, total);
  assert_int_equal(cs.puts, total / 262144 + 12 + 1); /* 2048 leaves, 12 level-1 nodes, the root */

  /* The same bytes as a sparse-free regular file (pipelined by size). */
  int fd = memfd_create("importer-big", 0);
  assert_true(fd >= 0);
  int wfd = dup(fd);
  pipe_writer_t w2 = {.fd = wfd, .bytes = total};
  write_pattern(&w2);
  assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
  cid_t regular;
  assert_int_equal(imp_add_fd(&o, &sink, fd, NULL, &regular, NULL), 0);
  close(fd);
  assert_true(cid_equal(&piped, &regular));
}

/* ---- directories ---- */

static void build_tree(void) {
  make_dir("t1");
  make_dir("t1/a");
  make_dir("t1/b");
  make_dir("t1/b/c");
  make_dir("t1/.h");
  make_file("t1/a/f", "x\n");
  make_file("t1/b/c/g", "y\n");
  make_file("t1/top", "z\n");
  make_file("t1/.h/q", "h\n");
  char p[512];
  assert_int_equal(symlink("top", tpath("t1/lnk", p, sizeof p)), 0);
}

static void test_directory_events(void **state) {
  (void)state;
  build_tree();
  char p[512];
  const char *paths[] = {tpath("t1", p, sizeof p)};
  imp_options_t o;
  imp_options_default(&o);
  memstore_t ms = {0};
  block_sink_t sink = memstore_sink(&ms);
  events_t ev = {0};
  imp_callbacks_t cb = {.added = record_added, .ctx = &ev};
  cid_t root;
  assert_int_equal(imp_add_paths(&o, &sink, paths, 1, &cb, &root), 0);
  /* Kubo's order: files as added, then directories children first; no dot-files. */
  static const char *want[] = {
      "QmUNXr47Bja3aHUMfhXX5mMWTFJKuoUGETcA48vHG7dhag t1/a/f",
      "QmQ789bHQKJRvmffGwzaeBNVjA4HVz5mM6ZXZehWek2i28 t1/b/c/g",
      "QmTR8kVxDA3ZJQcryZvZVYwdT4X744nUkhwUeCEdG5hbGY t1/lnk",
      "QmV2mR5LvmFMxKaFjV1LmRiav3phDNMPgpenFG2US6EuVi t1/top",
      "QmaSeHG7fsngtcNsHqXBf7nA6gWr1DzJJkTs1hQgX9yrFu t1/a",
      "QmfYHGvAhzCekCGgMPFUJQTmvdbty398Ft2Ha5gRgLsx82 t1/b/c",
      "QmeJfwvH5u5xvtFsZkcx6K8DKUZPHZf47rvKDVNBgoK3kQ t1/b",
      "QmQcNqh8D3MNk5ZVcXpFqknXj9SKRpJu47rMR1Whj2cBKz t1",
  };
  assert_int_equal(ev.len, sizeof want / sizeof want[0]);
  for (size_t i = 0; i < ev.len; i++) assert_string_equal(ev.lines[i], want[i]);
  assert_cid_text(&root, "QmQcNqh8D3MNk5ZVcXpFqknXj9SKRpJu47rMR1Whj2cBKz");

  /* Sizes are cumulative: a directory's is its block plus its links' Tsizes. */
  buf_t b = {0};
  assert_int_equal(memstore_get(&ms, &root, &b), 0);
  dagpb_node_t node;
  assert_int_equal(dagpb_decode(b.data, b.len, &node), 0);
  uint64_t sum = b.len;
  for (size_t i = 0; i < node.links_len; i++) sum += node.links[i].tsize;
  assert_int_equal(ev.sizes[ev.len - 1], sum);
  assert_int_equal(node.links_len, 4); /* a, b, lnk, top */
  assert_memory_equal(node.data, "\x08\x01", 2);
  dagpb_node_free(&node);

  /* The symlink is a UnixFS symlink to "top". */
  cid_t link;
  assert_int_equal(cid_parse(&link, "QmTR8kVxDA3ZJQcryZvZVYwdT4X744nUkhwUeCEdG5hbGY"), 0);
  assert_int_equal(memstore_get(&ms, &link, &b), 0);
  assert_memory_equal(b.data, "\x0a\x07\x08\x04\x12\x03top", 9);
  buf_free(&b);

  /* -H and -w: dot-files included, the wrapper named "" comes last, arguments
   * sorted by name. */
  char z[512];
  int fd = open(tpath("zeros", z, sizeof z), O_CREAT | O_WRONLY, 0644);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, 262145), 0);
  close(fd);
  const char *two[] = {z, p};
  o.hidden = true;
  o.wrap = true;
  memset(&ev, 0, sizeof ev);
  assert_int_equal(imp_add_paths(&o, &sink, two, 2, &cb, &root), 0);
  static const char *want_w[] = {
      "QmUXo27mxHsi2QzD4JkgYPikCtW2PtcJ3XxRjSBrb1miG1 t1/.h/q",
      "QmUNXr47Bja3aHUMfhXX5mMWTFJKuoUGETcA48vHG7dhag t1/a/f",
      "QmQ789bHQKJRvmffGwzaeBNVjA4HVz5mM6ZXZehWek2i28 t1/b/c/g",
      "QmTR8kVxDA3ZJQcryZvZVYwdT4X744nUkhwUeCEdG5hbGY t1/lnk",
      "QmV2mR5LvmFMxKaFjV1LmRiav3phDNMPgpenFG2US6EuVi t1/top",
      "QmbVuw4C4vcmVKqxoWtgDVobvcHrSn51qsmQmyxjk4sB2Q zeros",
      "QmUP6AGZFQrj72AkBMWrBAEu2BRGXK4Mz2exXEVgZd3tmo t1/.h",
      "QmaSeHG7fsngtcNsHqXBf7nA6gWr1DzJJkTs1hQgX9yrFu t1/a",
      "QmfYHGvAhzCekCGgMPFUJQTmvdbty398Ft2Ha5gRgLsx82 t1/b/c",
      "QmeJfwvH5u5xvtFsZkcx6K8DKUZPHZf47rvKDVNBgoK3kQ t1/b",
      "QmfDEiiJDcTBscJJdkBpHvLxgaDb3TvRSemmAKJ5gJTuM8 t1",
      "QmUb2STWm9Ch7WsXKVLKH9d5pFzxNsjTeJin9giue62ng3 ",
  };
  assert_int_equal(ev.len, sizeof want_w / sizeof want_w[0]);
  for (size_t i = 0; i < ev.len; i++) assert_string_equal(ev.lines[i], want_w[i]);

  /* Several paths without -w: each its own root, the last (by name) returned;
   * a path given twice from the same directory counts once. */
  o.wrap = false;
  o.hidden = false;
  memset(&ev, 0, sizeof ev);
  const char *three[] = {z, p, z};
  assert_int_equal(imp_add_paths(&o, &sink, three, 3, &cb, &root), 0);
  assert_string_equal(ev.lines[ev.len - 2], "QmQcNqh8D3MNk5ZVcXpFqknXj9SKRpJu47rMR1Whj2cBKz t1");
  assert_string_equal(ev.lines[ev.len - 1], "QmbVuw4C4vcmVKqxoWtgDVobvcHrSn51qsmQmyxjk4sB2Q zeros");
  assert_cid_text(&root, "QmbVuw4C4vcmVKqxoWtgDVobvcHrSn51qsmQmyxjk4sB2Q");
  memstore_free(&ms);
}

/* A directory over the threshold becomes a HAMT: shard nodes with fanout 256,
 * murmur3, and every name reachable once; subdirectories report in hash order. */
static void test_hamt_directory(void **state) {
  (void)state;
  make_dir("big");
  char rel[128];
  for (int i = 0; i < 4000; i++) { /* Σ(33-byte name + 34-byte CID) = 268000 > 262144 */
    snprintf(rel, sizeof rel, "big/a-rather-long-file-name-%05d.txt", i);
    make_file(rel, "x");
  }
  make_dir("big/sub-one");
  make_dir("big/sub-two");
  make_dir("big/sub-three");
  char p[512];
  const char *paths[] = {tpath("big", p, sizeof p)};
  imp_options_t o;
  imp_options_default(&o);
  memstore_t ms = {0};
  block_sink_t sink = memstore_sink(&ms);
  cid_t root;
  assert_int_equal(imp_add_paths(&o, &sink, paths, 1, NULL, &root), 0);

  /* Walk the shard tree: count entries, check every node's Data. */
  static cid_t stack[1024];
  size_t depth = 0, entries = 0, shards = 0;
  stack[depth++] = root;
  while (depth > 0) {
    cid_t c = stack[--depth];
    buf_t b = {0};
    assert_int_equal(memstore_get(&ms, &c, &b), 0);
    dagpb_node_t node;
    unixfs_data_t d;
    assert_int_equal(dagpb_decode(b.data, b.len, &node), 0);
    assert_int_equal(unixfs_decode(node.data, node.data_len, &d), 0);
    assert_int_equal(d.type, UNIXFS_HAMT_SHARD);
    assert_int_equal(d.hash_type, 0x22);
    assert_int_equal(d.fanout, 256);
    assert_true(d.data_len >= 1 && d.data_len <= 32 && d.data[0] != 0); /* minimal bitfield */
    shards++;
    for (size_t i = 0; i < node.links_len; i++) {
      assert_true(node.links[i].name_len >= 2);
      if (node.links[i].name_len == 2) {
        assert_true(depth < 1024);
        stack[depth++] = node.links[i].cid;
      } else {
        entries++;
      }
    }
    unixfs_data_free(&d);
    dagpb_node_free(&node);
    buf_free(&b);
  }
  assert_int_equal(entries, 4003);
  assert_true(shards > 1);

  /* The same directory under the threshold stays plain. */
  o.hamt_threshold_bytes = 0; /* never shard */
  cid_t plain;
  assert_int_equal(imp_add_paths(&o, &sink, paths, 1, NULL, &plain), 0);
  assert_false(cid_equal(&plain, &root));

  memstore_free(&ms);
}

static void test_hamt_subdir_order(void **state) {
  (void)state;
  make_dir("h");
  char rel[160];
  for (int i = 0; i < 80; i++) {
    /* 80 directories of long names: Σ(name + CID) = 80 * 65 > 4096, the threshold used */
    snprintf(rel, sizeof rel, "h/directory-with-a-long-name-%03d", i);
    make_dir(rel);
  }
  char p[512];
  const char *paths[] = {tpath("h", p, sizeof p)};
  imp_options_t o;
  imp_options_default(&o);
  o.hamt_threshold_bytes = 4096;
  counting_sink_t cs = {0};
  block_sink_t sink = {counting_put, &cs};
  events_t ev = {0};
  imp_callbacks_t cb = {.added = record_added, .ctx = &ev};
  cid_t root;
  assert_int_equal(imp_add_paths(&o, &sink, paths, 1, &cb, &root), 0);
  assert_int_equal(ev.len, 81);
  assert_string_equal(ev.lines[80] + strlen(ev.lines[80]) - 2, " h");
  /* Hash order: not the name order, and keys ascending. */
  bool sorted_by_name = true;
  uint8_t prev_key[8] = {0};
  for (size_t i = 0; i < 80; i++) {
    const char *path = strchr(ev.lines[i], ' ') + 1;
    const char *name = path + 2;
    uint8_t key[8];
    murmur3_hamt_key(name, strlen(name), key);
    if (i > 0) assert_true(memcmp(prev_key, key, 8) < 0);
    memcpy(prev_key, key, 8);
    if (i > 0 && strcmp(strchr(ev.lines[i - 1], ' ') + 1, path) > 0) sorted_by_name = false;
  }
  assert_false(sorted_by_name);
}

/* ---- errors ---- */

static void test_errors(void **state) {
  (void)state;
  imp_options_t o;
  imp_options_default(&o);
  counting_sink_t cs = {0};
  block_sink_t sink = {counting_put, &cs};
  cid_t root;
  char p[512], q[512];

  const char *missing[] = {tpath("does-not-exist", p, sizeof p)};
  assert_int_equal(imp_add_paths(&o, &sink, missing, 1, NULL, &root), -ENOENT);
  assert_non_null(strstr(err_msg(-ENOENT), "does-not-exist"));

  /* A socket inside a directory is neither file, directory nor symlink. */
  make_dir("withsock");
  make_file("withsock/a", "a");
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  assert_true(s >= 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  tpath("withsock/sock", q, sizeof q);
  assert_true(strlen(q) < sizeof addr.sun_path);
  memcpy(addr.sun_path, q, strlen(q) + 1);
  assert_int_equal(bind(s, (struct sockaddr *)&addr, sizeof addr), 0);
  const char *withsock[] = {tpath("withsock", p, sizeof p)};
  assert_int_equal(imp_add_paths(&o, &sink, withsock, 1, NULL, &root), -EINVAL);
  assert_non_null(strstr(err_msg(-EINVAL), "withsock/sock"));
  close(s);

  /* Nesting deeper than IMP_DEPTH_MAX. */
  char deep[4096];
  size_t n = (size_t)snprintf(deep, sizeof deep, "%s/deep", tmp_root);
  assert_int_equal(mkdir(deep, 0755), 0);
  for (int i = 0; i < IMP_DEPTH_MAX + 1; i++) {
    n += (size_t)snprintf(deep + n, sizeof deep - n, "/d");
    assert_int_equal(mkdir(deep, 0755), 0);
  }
  const char *deep_arg[] = {tpath("deep", p, sizeof p)};
  assert_int_equal(imp_add_paths(&o, &sink, deep_arg, 1, NULL, &root), -ELOOP);
  /* ... while exactly IMP_DEPTH_MAX levels below the argument are fine. */
  assert_int_equal(rmdir(deep), 0);
  assert_int_equal(imp_add_paths(&o, &sink, deep_arg, 1, NULL, &root), 0);

  /* The same name from two directories. */
  make_dir("d1");
  make_dir("d2");
  make_file("d1/same", "1");
  make_file("d2/same", "2");
  const char *same[] = {tpath("d1/same", p, sizeof p), tpath("d2/same", q, sizeof q)};
  assert_int_equal(imp_add_paths(&o, &sink, same, 2, NULL, &root), -EINVAL);
  assert_non_null(strstr(err_msg(-EINVAL), "repeated"));

  /* A failing sink stops the import (inline and pipelined) with its error. */
  size_t len = 8 * 1024 * 1024;
  uint8_t *data = calloc(1, len);
  assert_non_null(data);
  for (uint64_t after = 1; after <= 30; after += 13) { /* the stream makes 33 blocks */
    counting_sink_t failing = {.fail_after = after};
    block_sink_t fs = {counting_put, &failing};
    assert_int_equal(add_bytes(&o, data, len, &fs, &root, NULL), -ENOSPC);
    assert_int_equal(failing.puts, after);
    assert_int_equal(add_bytes(&o, data, 200000, &fs, &root, NULL), -ENOSPC);
  }
  counting_sink_t one = {.fail_after = 1};
  block_sink_t one_sink = {counting_put, &one};
  assert_int_equal(add_bytes(&o, data, 1000, &one_sink, &root, NULL), 0);
  free(data);

  /* Reading a directory as a stream fails with the read error. */
  int dfd = open(tmp_root, O_RDONLY | O_DIRECTORY);
  assert_true(dfd >= 0);
  assert_int_equal(imp_add_fd(&o, &sink, dfd, NULL, &root, NULL), -EISDIR);
  close(dfd);
  assert_int_equal(imp_add_fd(&o, &sink, -1, NULL, &root, NULL), -EBADF);
}

/* A regular file is read from its current offset (pread mode included). */
static void test_offset(void **state) {
  (void)state;
  size_t len = 3 * 1024 * 1024;
  uint8_t *data = malloc(len);
  assert_non_null(data);
  for (size_t i = 0; i < len; i++) data[i] = (uint8_t)(i * 5 + (i >> 16));
  imp_options_t o;
  imp_options_default(&o);
  counting_sink_t cs = {0};
  block_sink_t sink = {counting_put, &cs};
  cid_t a, b;
  size_t skip = 1234567;
  int fd = memfd_with(data, len);
  assert_int_equal(lseek(fd, (off_t)skip, SEEK_SET), (off_t)skip);
  assert_int_equal(imp_add_fd(&o, &sink, fd, NULL, &a, NULL), 0);
  close(fd);
  assert_int_equal(add_bytes(&o, data + skip, len - skip, &sink, &b, NULL), 0);
  assert_true(cid_equal(&a, &b));
  free(data);
}

/* ---- push interfaces ---- */

/* A sink that digests the sequence of puts (CID bytes and block length): two
 * imports that put the same blocks in the same order give the same digest. */
typedef struct digest_sink {
  EVP_MD_CTX *md;
  uint64_t puts;
  uint64_t fail_after; /* fail the put after this many (0 = never) */
} digest_sink_t;

static int digest_put(void *ctx, const cid_t *cid, const uint8_t *data, size_t len) {
  digest_sink_t *s = ctx;
  (void)data;
  if (s->fail_after && s->puts >= s->fail_after) return err_set(-ENOSPC, "test sink full");
  uint8_t bytes[CID_BYTES_MAX];
  size_t n = cid_to_bytes(cid, bytes);
  uint64_t l = len;
  assert_int_equal(EVP_DigestUpdate(s->md, bytes, n), 1);
  assert_int_equal(EVP_DigestUpdate(s->md, &l, sizeof l), 1);
  s->puts++;
  return 0;
}

static void digest_begin(digest_sink_t *s) {
  memset(s, 0, sizeof *s);
  s->md = EVP_MD_CTX_new();
  assert_non_null(s->md);
  assert_int_equal(EVP_DigestInit_ex(s->md, EVP_sha256(), NULL), 1);
}

static void digest_end(digest_sink_t *s, uint8_t out[32]) {
  unsigned n = 0;
  assert_int_equal(EVP_DigestFinal_ex(s->md, out, &n), 1);
  assert_int_equal(n, 32);
  EVP_MD_CTX_free(s->md);
  s->md = NULL;
}

static uint64_t rng_next(uint64_t *s) { /* xorshift64* */
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 0x2545F4914F6CDD1Du;
}

/* A piece length in 1 .. 1 MiB, log-uniform so that small and large writes both occur. */
static size_t rng_piece(uint64_t *s) {
  unsigned bits = (unsigned)(rng_next(s) % 21); /* 0..20 */
  size_t top = (size_t)1 << bits;
  return 1 + (size_t)(rng_next(s) % top);
}

/* Pushes data in random pieces; returns what imp_file_finish gives. */
static int push_bytes(const imp_options_t *o, const uint8_t *data, size_t len, uint64_t seed,
                      const block_sink_t *sink, cid_t *root, uint64_t *tsize) {
  imp_file_t *f = NULL;
  int rc = imp_file_new(o, sink, &f);
  if (rc) return rc;
  size_t done = 0;
  while (done < len) {
    size_t n = rng_piece(&seed);
    if (n > len - done) n = len - done;
    rc = imp_file_write(f, data + done, n);
    if (rc) {
      imp_file_abort(f);
      return rc;
    }
    done += n;
    assert_int_equal(imp_file_size(f), done);
  }
  assert_int_equal(imp_file_write(f, data, 0), 0); /* empty writes change nothing */
  return imp_file_finish(f, root, tsize);
}

static void test_push_file_equals_fd(void **state) {
  (void)state;
  uint64_t seed = 0x9e3779b97f4a7c15u;
  const size_t big = 50u * 1000 * 1000 + (size_t)(rng_next(&seed) % 1000000);
  const size_t sizes[] = {0, 1, 262143, 262144, 262145, 174u * 262144 + 1, big};
  uint8_t *data = kubo_random("push", big);
  imp_options_t opts[3];
  imp_options_default(&opts[0]);
  imp_options_default(&opts[1]);
  opts[1].cid_version = 1; /* raw leaves */
  imp_options_default(&opts[2]);
  opts[2].chunk_bytes = 100003; /* not a divisor of anything above */
  opts[2].links_max = 7;        /* deep trees */
  for (size_t oi = 0; oi < 3; oi++) {
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
      size_t len = sizes[si];
      digest_sink_t ds;
      digest_begin(&ds);
      block_sink_t sink = {digest_put, &ds};
      cid_t want, got;
      uint64_t want_tsize = 0, got_tsize = 0;
      uint8_t want_digest[32], got_digest[32];
      assert_int_equal(add_bytes(&opts[oi], data, len, &sink, &want, &want_tsize), 0);
      digest_end(&ds, want_digest);
      uint64_t want_puts = ds.puts;
      for (int round = 0; round < 2; round++) { /* two different splits */
        digest_begin(&ds);
        assert_int_equal(push_bytes(&opts[oi], data, len, seed + oi * 131 + si * 7 + (uint64_t)round, &sink,
                                    &got, &got_tsize), 0);
        digest_end(&ds, got_digest);
        if (!cid_equal(&want, &got)) {
          char a[CID_TEXT_BYTES_MAX], b[CID_TEXT_BYTES_MAX];
          cid_format_default(&want, a);
          cid_format_default(&got, b);
          fail_msg("options %zu size %zu: fd %s push %s", oi, len, a, b);
        }
        assert_int_equal(got_tsize, want_tsize);
        assert_int_equal(ds.puts, want_puts);
        assert_memory_equal(got_digest, want_digest, 32); /* same blocks, same order */
      }
    }
  }
  free(data);
}

/* imp_file_write_zeros gives the DAG that writing the zero bytes gives, for
 * holes at and off chunk boundaries, and hashes the zero chunk once: a
 * 64 GiB hole costs links, not hashing (it would take minutes otherwise). */
static void test_push_zeros(void **state) {
  (void)state;
  static uint8_t zeros[1u << 20];
  uint8_t data[3000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7 + 1);
  const uint64_t chunk = IMP_CHUNK_BYTES_DEFAULT;
  const uint64_t holes[] = {0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk + 17, 175 * chunk + 5};
  for (int v = 0; v < 2; v++)
    for (size_t h = 0; h < sizeof holes / sizeof holes[0]; h++) {
      imp_options_t o;
      imp_options_default(&o);
      o.cid_version = (uint32_t)v;
      counting_sink_t cs = {0};
      block_sink_t sink = {counting_put, &cs};
      imp_file_t *a, *b;
      assert_int_equal(imp_file_new(&o, &sink, &a), 0);
      assert_int_equal(imp_file_new(&o, &sink, &b), 0);
      /* a: data, hole, data, hole written as bytes; b: the holes as zeros */
      for (int round = 0; round < 2; round++) {
        assert_int_equal(imp_file_write(a, data, sizeof data - (size_t)round * 1000), 0);
        assert_int_equal(imp_file_write(b, data, sizeof data - (size_t)round * 1000), 0);
        for (uint64_t left = holes[h]; left;) {
          size_t n = left < sizeof zeros ? (size_t)left : sizeof zeros;
          assert_int_equal(imp_file_write(a, zeros, n), 0);
          left -= n;
        }
        assert_int_equal(imp_file_write_zeros(b, holes[h]), 0);
      }
      assert_int_equal(imp_file_size(a), imp_file_size(b));
      cid_t ra, rb;
      uint64_t ta, tb;
      assert_int_equal(imp_file_finish(a, &ra, &ta), 0);
      assert_int_equal(imp_file_finish(b, &rb, &tb), 0);
      assert_true(cid_equal(&ra, &rb));
      assert_int_equal(ta, tb);
    }
  /* a 64 GiB hole */
  imp_options_t o;
  imp_options_default(&o);
  counting_sink_t cs = {0};
  block_sink_t sink = {counting_put, &cs};
  imp_file_t *f;
  assert_int_equal(imp_file_new(&o, &sink, &f), 0);
  assert_int_equal(imp_file_write_zeros(f, 64ull << 30), 0);
  assert_int_equal(imp_file_size(f), 64ull << 30);
  cid_t root;
  assert_int_equal(imp_file_finish(f, &root, NULL), 0);
  assert_true(cs.puts < 2000); /* one leaf and the parents (262144 leaves / 174 per node ...) */
}

static void test_push_file_errors(void **state) {
  (void)state;
  imp_options_t o;
  imp_options_default(&o);
  memstore_t ms = {0};
  block_sink_t sink = memstore_sink(&ms);
  imp_file_t *f = (imp_file_t *)&o;
  o.trickle = true;
  assert_int_equal(imp_file_new(&o, &sink, &f), -ENOTSUP);
  assert_null(f);
  o.trickle = false;
  o.chunk_bytes = 0;
  assert_int_equal(imp_file_new(&o, &sink, &f), -EINVAL);
  assert_null(f);
  imp_options_default(&o);

  /* Abort after some complete chunks and a partial one: nothing leaks (asan). */
  uint8_t *data = kubo_random("abort", 3 * 262144 + 17);
  assert_int_equal(imp_file_new(&o, &sink, &f), 0);
  assert_int_equal(imp_file_write(f, data, 3 * 262144 + 17), 0);
  assert_int_equal(imp_file_size(f), 3 * 262144 + 17);
  assert_int_equal(ms.puts, 3); /* the three full leaves went out as they completed */
  imp_file_abort(f);
  imp_file_abort(NULL);

  /* A failing sink: the error sticks to the handle; finish reports it and frees. */
  digest_sink_t ds;
  digest_begin(&ds);
  ds.fail_after = 2;
  block_sink_t bad = {digest_put, &ds};
  assert_int_equal(imp_file_new(&o, &bad, &f), 0);
  assert_int_equal(imp_file_write(f, data, 2 * 262144), 0);
  assert_int_equal(imp_file_write(f, data, 262144), -ENOSPC);
  assert_int_equal(imp_file_write(f, data, 1), -ENOSPC);
  cid_t root;
  assert_int_equal(imp_file_finish(f, &root, NULL), -ENOSPC);
  uint8_t d[32];
  digest_end(&ds, d);
  free(data);
  memstore_free(&ms);
}

/* `added` events kept whole (the trees below are larger than events_t holds). */
typedef struct ev {
  char *path;
  cid_t cid;
  uint64_t tsize;
} ev_t;

typedef struct evlist {
  ev_t *v;
  size_t len, cap;
} evlist_t;

static void collect_added(void *ctx, const cid_t *cid, const char *path, uint64_t size_bytes) {
  evlist_t *e = ctx;
  if (e->len == e->cap) {
    e->cap = e->cap ? 2 * e->cap : 256;
    e->v = realloc(e->v, e->cap * sizeof *e->v);
    assert_non_null(e->v);
  }
  e->v[e->len].path = strdup(path);
  assert_non_null(e->v[e->len].path);
  e->v[e->len].cid = *cid;
  e->v[e->len].tsize = size_bytes;
  e->len++;
}

static const ev_t *ev_find(const evlist_t *e, const char *path) {
  for (size_t i = 0; i < e->len; i++)
    if (strcmp(e->v[i].path, path) == 0) return &e->v[i];
  fail_msg("no added event for %s", path);
  return NULL;
}

static void evlist_free(evlist_t *e) {
  for (size_t i = 0; i < e->len; i++) free(e->v[i].path);
  free(e->v);
  memset(e, 0, sizeof *e);
}

/* A sink that only accepts blocks the reference import already stored, byte for byte. */
static int check_put(void *ctx, const cid_t *cid, const uint8_t *data, size_t len) {
  memstore_t *ref = ctx;
  memstore_entry_t *e = memstore_find(ref, cid);
  assert_non_null(e);
  assert_int_equal(e->len, len);
  assert_memory_equal(e->data, data, len);
  return 0;
}

typedef struct rebuild {
  const imp_options_t *o;
  const evlist_t *events;
  block_sink_t sink;   /* check_put over the reference store */
  size_t dirs, files, links;
} rebuild_t;

/* Rebuilds the entry at display path `rel` (on disk under tmp_root) with the
 * push interfaces alone, children first, and checks it against imp_add_paths'
 * event for it. */
static void rebuild_entry(rebuild_t *r, const char *rel, cid_t *cid, uint64_t *tsize, int depth) {
  assert_true(depth < 16);
  char fs[1024];
  snprintf(fs, sizeof fs, "%s/%s", tmp_root, rel);
  struct stat st;
  assert_int_equal(lstat(fs, &st), 0);
  if (S_ISDIR(st.st_mode)) {
    DIR *dir = opendir(fs);
    assert_non_null(dir);
    imp_dir_t *d = NULL;
    assert_int_equal(imp_dir_new(r->o, &d), 0);
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) { /* readdir order: the importer sorts */
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
      char child[1024];
      snprintf(child, sizeof child, "%s/%s", rel, de->d_name);
      cid_t c;
      uint64_t t;
      rebuild_entry(r, child, &c, &t, depth + 1);
      assert_int_equal(imp_dir_add(d, de->d_name, &c, t), 0);
    }
    closedir(dir);
    assert_int_equal(imp_dir_finish(d, &r->sink, cid, tsize), 0);
    r->dirs++;
  } else if (S_ISLNK(st.st_mode)) {
    char target[1024];
    ssize_t n = readlink(fs, target, sizeof target - 1);
    assert_true(n >= 0);
    target[n] = '\0';
    assert_int_equal(imp_symlink(r->o, &r->sink, target, cid, tsize), 0);
    r->links++;
  } else {
    assert_true(S_ISREG(st.st_mode));
    size_t len = (size_t)st.st_size;
    uint8_t *bytes = malloc(len ? len : 1);
    assert_non_null(bytes);
    FILE *fp = fopen(fs, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(bytes, 1, len, fp), len);
    fclose(fp);
    assert_int_equal(push_bytes(r->o, bytes, len, (uint64_t)len * 31 + 1, &r->sink, cid, tsize), 0);
    free(bytes);
    r->files++;
  }
  const ev_t *e = ev_find(r->events, rel);
  if (!cid_equal(&e->cid, cid)) {
    char a[CID_TEXT_BYTES_MAX], b[CID_TEXT_BYTES_MAX];
    cid_format_default(&e->cid, a);
    cid_format_default(cid, b);
    fail_msg("%s: imp_add_paths %s, push %s", rel, a, b);
  }
  assert_int_equal(e->tsize, *tsize);
}

/* imp_add_paths (hidden) over tmp_root/rel, then the same tree rebuilt. */
static void assert_tree_rebuilt(const imp_options_t *o, const char *rel, rebuild_t *r) {
  imp_options_t h = *o;
  h.hidden = true;
  char p[512];
  const char *paths[] = {tpath(rel, p, sizeof p)};
  memstore_t ms = {0};
  block_sink_t sink = memstore_sink(&ms);
  evlist_t events = {0};
  imp_callbacks_t cb = {.added = collect_added, .ctx = &events};
  cid_t root;
  assert_int_equal(imp_add_paths(&h, &sink, paths, 1, &cb, &root), 0);
  memset(r, 0, sizeof *r);
  r->o = &h;
  r->events = &events;
  r->sink = (block_sink_t){check_put, &ms};
  cid_t cid;
  uint64_t tsize;
  rebuild_entry(r, rel, &cid, &tsize, 0);
  assert_true(cid_equal(&cid, &root));
  r->o = NULL;
  r->events = NULL;
  evlist_free(&events);
  memstore_free(&ms);
}

static bool root_is_hamt(const imp_options_t *o, const char *rel) {
  char p[512];
  const char *paths[] = {tpath(rel, p, sizeof p)};
  memstore_t ms = {0};
  block_sink_t sink = memstore_sink(&ms);
  cid_t root;
  assert_int_equal(imp_add_paths(o, &sink, paths, 1, NULL, &root), 0);
  buf_t b = {0};
  assert_int_equal(memstore_get(&ms, &root, &b), 0);
  dagpb_node_t node;
  unixfs_data_t d;
  assert_int_equal(dagpb_decode(b.data, b.len, &node), 0);
  assert_int_equal(unixfs_decode(node.data, node.data_len, &d), 0);
  bool hamt = d.type == UNIXFS_HAMT_SHARD;
  unixfs_data_free(&d);
  dagpb_node_free(&node);
  buf_free(&b);
  memstore_free(&ms);
  return hamt;
}

static void test_push_dir_equals_paths(void **state) {
  (void)state;
  make_dir("pd");
  make_file("pd/b.txt", "bee\n");
  make_file("pd/a", "a\n");
  make_file("pd/Z", "upper case sorts first\n");
  make_file("pd/.hidden", "dot\n");
  make_file("pd/empty-file", "");
  make_dir("pd/.dotdir");
  make_file("pd/.dotdir/x", "x\n");
  make_dir("pd/empty");
  make_dir("pd/sub");
  make_dir("pd/sub/deeper");
  make_file("pd/sub/deeper/f", "deep\n");
  make_file("pd/sub/g", "g\n");
  char p[512];
  assert_int_equal(symlink("b.txt", tpath("pd/lnk", p, sizeof p)), 0);
  assert_int_equal(symlink("../nowhere/at all", tpath("pd/sub/dangling", p, sizeof p)), 0);
  uint8_t *big = kubo_random("pd-big", 3 * 262144 + 5);
  FILE *fp = fopen(tpath("pd/sub/big.bin", p, sizeof p), "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(big, 1, 3 * 262144 + 5, fp), 3 * 262144 + 5);
  fclose(fp);
  free(big);

  imp_options_t o;
  imp_options_default(&o);
  rebuild_t r;
  assert_tree_rebuilt(&o, "pd", &r);
  assert_int_equal(r.dirs, 5);
  assert_int_equal(r.links, 2);
  assert_int_equal(r.files, 9);
  o.cid_version = 1;
  assert_tree_rebuilt(&o, "pd", &r);
  assert_int_equal(r.dirs, 5);

  /* 5000 entries: Σ(name + 34-byte CIDv0) = 5000 * (25 + 34) = 295000 > 262144. */
  make_dir("pdh");
  char rel[128];
  uint64_t estimate = 0;
  for (int i = 0; i < 5000; i++) {
    snprintf(rel, sizeof rel, "pdh/%s-entry-name-%05d", i % 7 == 0 ? ".dot" : "push", i);
    make_file(rel, rel);
    estimate += strlen(rel) - 4 + 34;
  }
  make_dir("pdh/a-subdir");
  make_file("pdh/a-subdir/inner", "inner\n");
  estimate += strlen("a-subdir") + 34;
  imp_options_default(&o);
  o.hidden = true;
  assert_true(root_is_hamt(&o, "pdh"));
  assert_tree_rebuilt(&o, "pdh", &r);
  assert_int_equal(r.dirs, 2);
  assert_int_equal(r.files, 5001);
  /* The threshold's edge: at the estimate stays plain, one byte under shards. */
  o.hamt_threshold_bytes = estimate;
  assert_false(root_is_hamt(&o, "pdh"));
  assert_tree_rebuilt(&o, "pdh", &r);
  o.hamt_threshold_bytes = estimate - 1;
  assert_true(root_is_hamt(&o, "pdh"));
  assert_tree_rebuilt(&o, "pdh", &r);
  o.cid_version = 1; /* 36-byte CIDs: the estimate grows by 2 per entry */
  o.hamt_threshold_bytes = estimate;
  assert_true(root_is_hamt(&o, "pdh"));
  assert_tree_rebuilt(&o, "pdh", &r);
}

static void test_push_dir_errors(void **state) {
  (void)state;
  imp_options_t o;
  imp_options_default(&o);
  memstore_t ms = {0};
  block_sink_t sink = memstore_sink(&ms);
  cid_t c, root;
  uint64_t tsize = 0;
  assert_int_equal(imp_symlink(&o, &sink, "target", &c, &tsize), 0);
  assert_true(tsize > 0);
  imp_dir_t *d = NULL;
  assert_int_equal(imp_dir_new(&o, &d), 0);
  assert_int_equal(imp_dir_add(d, "x", &c, tsize), 0);
  assert_int_equal(imp_dir_add(d, "x", &c, tsize), -EEXIST);
  assert_int_equal(imp_dir_add(d, "", &c, tsize), -EINVAL);
  assert_int_equal(imp_dir_add(d, "a/b", &c, tsize), -EINVAL);
  assert_int_equal(imp_dir_add(d, "/", &c, tsize), -EINVAL);
  assert_int_equal(imp_dir_add(d, ".", &c, tsize), -EINVAL);
  assert_int_equal(imp_dir_add(d, "..", &c, tsize), -EINVAL);
  char name[32];
  for (int i = 0; i < 300; i++) { /* past several index growths */
    snprintf(name, sizeof name, "n%d", i);
    assert_int_equal(imp_dir_add(d, name, &c, tsize), 0);
  }
  for (int i = 0; i < 300; i += 37) {
    snprintf(name, sizeof name, "n%d", i);
    assert_int_equal(imp_dir_add(d, name, &c, tsize), -EEXIST);
  }
  imp_dir_abort(d); /* frees everything (asan) */
  imp_dir_abort(NULL);

  /* The order of adds does not matter; an empty directory is the empty node. */
  cid_t a, b;
  uint64_t ta, tb;
  assert_int_equal(imp_dir_new(&o, &d), 0);
  assert_int_equal(imp_dir_add(d, "b", &c, tsize), 0);
  assert_int_equal(imp_dir_add(d, "a", &c, tsize), 0);
  assert_int_equal(imp_dir_add(d, "ab", &c, tsize), 0);
  assert_int_equal(imp_dir_finish(d, &sink, &a, &ta), 0);
  assert_int_equal(imp_dir_new(&o, &d), 0);
  assert_int_equal(imp_dir_add(d, "ab", &c, tsize), 0);
  assert_int_equal(imp_dir_add(d, "a", &c, tsize), 0);
  assert_int_equal(imp_dir_add(d, "b", &c, tsize), 0);
  assert_int_equal(imp_dir_finish(d, &sink, &b, &tb), 0);
  assert_true(cid_equal(&a, &b));
  assert_int_equal(ta, tb);
  assert_int_equal(ta, 3 * tsize + (tb - 3 * tsize)); /* tsize includes the entries */
  assert_true(ta > 3 * tsize);
  assert_int_equal(imp_dir_new(&o, &d), 0);
  assert_int_equal(imp_dir_finish(d, &sink, &root, &tsize), 0);
  assert_cid_text(&root, "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"); /* Kubo's empty directory */
  assert_int_equal(tsize, 4);

  /* A sink failing in imp_dir_finish: the error comes back, the handle is freed. */
  digest_sink_t ds;
  digest_begin(&ds);
  ds.fail_after = 1;
  ds.puts = 1;
  block_sink_t bad = {digest_put, &ds};
  assert_int_equal(imp_dir_new(&o, &d), 0);
  assert_int_equal(imp_dir_add(d, "x", &c, tsize), 0);
  assert_int_equal(imp_dir_finish(d, &bad, &root, NULL), -ENOSPC);
  uint8_t dg[32];
  digest_end(&ds, dg);
  memstore_free(&ms);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); /* writers of abandoned pipes get EPIPE instead */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_options),
      cmocka_unit_test(test_kubo_vectors),
      cmocka_unit_test(test_kubo_profile_vectors),
      cmocka_unit_test(test_zeros_root_layout),
      cmocka_unit_test(test_leaf_wrap),
      cmocka_unit_test(test_balanced_matches_boxo_recursion),
      cmocka_unit_test(test_chunk_sizes),
      cmocka_unit_test(test_inline_equals_pipelined),
      cmocka_unit_test(test_pipeline_stress),
      cmocka_unit_test(test_offset),
      cmocka_unit_test(test_constant_memory),
      cmocka_unit_test(test_directory_events),
      cmocka_unit_test(test_hamt_directory),
      cmocka_unit_test(test_hamt_subdir_order),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_push_file_equals_fd),
      cmocka_unit_test(test_push_file_errors),
      cmocka_unit_test(test_push_zeros),
      cmocka_unit_test(test_push_dir_equals_paths),
      cmocka_unit_test(test_push_dir_errors),
  };
  return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
