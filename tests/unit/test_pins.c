/*
 * pins: the pin set over a real block engine in a temp directory: add, rm,
 * ls by type, indirect pins computed from the DAGs, names, expiry under an
 * injected clock, update, verify finding a missing and a corrupt block, add
 * refusing a DAG with a missing block (pinning nothing), dag-cbor links,
 * shared subtrees walked once, raw leaves never read by add, the reachable
 * set for GC, persistence across reopen, the multihash set, durations, errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ftw.h>
#include <pthread.h>
#include <leveldb/c.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bs.h"
#include "cid.h"
#include "dagpb.h"
#include "err.h"
#include "pins.h"
#include "storage_metrics.h"

#include "testdir.h"

/* ---- fixture: a block store and a pin set in a temp directory ---- */

typedef struct fixture {
  char dir[512];          /* temp directory */
  char blocks_dir[600];   /* <dir>/blocks */
  char pins_dir[600];     /* <dir>/pins */
  bs_t *bs;
  pins_t *pins;
  pins_blocks_t counted;  /* bs with counters in front */
  size_t gets, hases;     /* block reads and presence checks made by walks */
  uint64_t now_ms;        /* the injected clock */
} fixture_t;

static int counted_get(void *ctx, const cid_t *cid, buf_t *out) {
  fixture_t *f = ctx;
  f->gets++;
  return bs_get(f->bs, cid, out);
}

static int counted_has(void *ctx, const cid_t *cid) {
  fixture_t *f = ctx;
  f->hases++;
  return bs_has(f->bs, cid, NULL);
}

static uint64_t fixture_clock(void *ctx) { return ((fixture_t *)ctx)->now_ms; }

static void open_all(fixture_t *f) {
  assert_int_equal(bs_open(f->blocks_dir, NULL, &f->bs), 0);
  f->counted = (pins_blocks_t){.source = {counted_get, f}, .has = counted_has, .has_ctx = f};
  assert_int_equal(pins_open(f->pins_dir, &f->counted, &f->pins), 0);
  pins_set_clock(f->pins, fixture_clock, f);
}

static void close_all(fixture_t *f) {
  assert_int_equal(pins_close(f->pins), 0);
  assert_int_equal(bs_close(f->bs), 0);
  f->pins = NULL;
  f->bs = NULL;
}

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  if (testdir_make(f->dir, sizeof f->dir, "anya-pins")) return -1;
  snprintf(f->blocks_dir, sizeof f->blocks_dir, "%s/blocks", f->dir);
  snprintf(f->pins_dir, sizeof f->pins_dir, "%s/pins", f->dir);
  f->now_ms = 1700000000000ull;
  open_all(f);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  if (f->pins) close_all(f);
  testdir_remove(f->dir);
  free(f);
  return 0;
}

/* ---- building DAGs ---- */

static cid_t put_raw(fixture_t *f, const char *text) {
  cid_t c;
  assert_int_equal(cid_make(&c, 1, CODEC_RAW, MH_SHA2_256, text, strlen(text)), 0);
  assert_true(bs_put(f->bs, &c, text, strlen(text)) >= 0);
  return c;
}

/* A dag-pb node linking to links[0..n) (names "0", "1", ...), v0.  When
 * store is false the block is not put (its CID is still returned). */
static cid_t make_node(fixture_t *f, const cid_t *links, size_t n, const char *data, bool store) {
  dagpb_link_t l[16];
  char names[16][4];
  assert_true(n <= 16);
  for (size_t i = 0; i < n; i++) {
    snprintf(names[i], sizeof names[i], "%c", (char)('a' + i));
    l[i] = (dagpb_link_t){.cid = links[i], .name = names[i], .name_len = 1, .has_name = true,
                          .tsize = 10, .has_tsize = true};
  }
  dagpb_node_t node = {.links = l, .links_len = n, .data = (const uint8_t *)data,
                       .data_len = strlen(data), .has_data = true};
  buf_t b = {0};
  assert_int_equal(dagpb_encode(&node, &b), 0);
  cid_t c;
  assert_int_equal(cid_make(&c, 0, CODEC_DAG_PB, MH_SHA2_256, b.data, b.len), 0);
  if (store) assert_true(bs_put(f->bs, &c, b.data, b.len) >= 0);
  buf_free(&b);
  return c;
}

static cid_t put_node(fixture_t *f, const cid_t *links, size_t n, const char *data) {
  return make_node(f, links, n, data, true);
}

/* root -> {mid -> {leaf1, leaf2}, leaf3} */
typedef struct tree {
  cid_t root, mid, leaf1, leaf2, leaf3;
} tree_t;

static tree_t put_tree(fixture_t *f, const char *salt) {
  tree_t t;
  char text[64];
  snprintf(text, sizeof text, "leaf1 %s", salt);
  t.leaf1 = put_raw(f, text);
  snprintf(text, sizeof text, "leaf2 %s", salt);
  t.leaf2 = put_raw(f, text);
  snprintf(text, sizeof text, "leaf3 %s", salt);
  t.leaf3 = put_raw(f, text);
  cid_t m[2] = {t.leaf1, t.leaf2};
  t.mid = put_node(f, m, 2, salt);
  cid_t r[2] = {t.mid, t.leaf3};
  t.root = put_node(f, r, 2, "root");
  return t;
}

/* ---- collecting listings ---- */

typedef struct listing {
  pin_info_t pins[64];
  size_t len;
} listing_t;

static int collect(void *ctx, const pin_info_t *pin) {
  listing_t *l = ctx;
  assert_true(l->len < 64);
  l->pins[l->len++] = *pin;
  return 0;
}

static listing_t ls(fixture_t *f, unsigned types) {
  listing_t l = {.len = 0};
  assert_int_equal(pins_ls(f->pins, types, collect, &l), 0);
  return l;
}

/* The type cid is listed with, or 0 when absent (fails if listed twice). */
static pin_type_t listed(const listing_t *l, const cid_t *cid) {
  pin_type_t type = 0;
  uint8_t a[MH_BYTES_MAX], b[MH_BYTES_MAX];
  size_t an = cid_mh_bytes(cid, a);
  for (size_t i = 0; i < l->len; i++) {
    size_t bn = cid_mh_bytes(&l->pins[i].cid, b);
    if (an == bn && memcmp(a, b, an) == 0) {
      assert_int_equal(type, 0);
      type = l->pins[i].type;
    }
  }
  return type;
}

typedef struct problems {
  char lines[16][1200];
  size_t len;
} problems_t;

static void on_problem(void *ctx, const cid_t *block, const cid_t *pin, int error, const char *problem) {
  problems_t *p = ctx;
  assert_true(p->len < 16);
  snprintf(p->lines[p->len++], sizeof p->lines[0], "%s", problem);
}

static const char *text_of(const cid_t *c, char out[CID_TEXT_BYTES_MAX]) {
  assert_int_equal(cid_format_default(c, out), 0);
  return out;
}

/* ---- tests ---- */

static void test_add_ls_rm_types(void **state) {
  fixture_t *f = *state;
  tree_t t = put_tree(f, "one");
  cid_t lone = put_raw(f, "lone block");
  assert_int_equal(pins_add(f->pins, &t.root, true, NULL, 0), 0);
  assert_int_equal(pins_add(f->pins, &lone, false, NULL, 0), 0);

  listing_t all = ls(f, PIN_ALL);
  assert_int_equal(all.len, 6);
  assert_int_equal(all.pins[0].type, PIN_RECURSIVE); /* recursive, then direct, then indirect */
  assert_true(cid_equal(&all.pins[0].cid, &t.root));
  assert_int_equal(all.pins[1].type, PIN_DIRECT);
  assert_int_equal(listed(&all, &t.mid), PIN_INDIRECT);
  assert_int_equal(listed(&all, &t.leaf1), PIN_INDIRECT);
  assert_int_equal(listed(&all, &t.leaf3), PIN_INDIRECT);
  assert_int_equal(all.pins[0].created_ms, f->now_ms);

  assert_int_equal(ls(f, PIN_RECURSIVE).len, 1);
  assert_int_equal(ls(f, PIN_DIRECT).len, 1);
  listing_t ind = ls(f, PIN_INDIRECT);
  assert_int_equal(ind.len, 4);
  assert_int_equal(listed(&ind, &t.root), 0);

  /* A block both direct and indirect: direct when direct pins are listed. */
  assert_int_equal(pins_add(f->pins, &t.leaf2, false, NULL, 0), 0);
  all = ls(f, PIN_ALL);
  assert_int_equal(all.len, 6);
  assert_int_equal(listed(&all, &t.leaf2), PIN_DIRECT);
  ind = ls(f, PIN_INDIRECT);
  assert_int_equal(listed(&ind, &t.leaf2), PIN_INDIRECT);

  uint64_t count;
  assert_int_equal(pins_count(f->pins, &count), 0);
  assert_int_equal(count, 3);

  /* Direct over recursive is refused; recursive over direct upgrades. */
  assert_int_equal(pins_add(f->pins, &t.root, false, NULL, 0), -EEXIST);
  assert_non_null(strstr(err_msg(-EEXIST), "already pinned recursively"));
  assert_int_equal(pins_add(f->pins, &lone, true, NULL, 0), 0);
  pin_info_t pin;
  assert_int_equal(pins_get(f->pins, &lone, &pin), 0);
  assert_int_equal(pin.type, PIN_RECURSIVE);

  /* rm */
  assert_int_equal(pins_rm(f->pins, &t.root), 0);
  assert_int_equal(pins_rm(f->pins, &t.root), -ENOENT);
  assert_non_null(strstr(err_msg(-ENOENT), "is not pinned"));
  assert_int_equal(pins_rm(f->pins, &t.mid), -ENOENT); /* indirect pins cannot be removed */
  assert_int_equal(ls(f, PIN_INDIRECT).len, 0);
  assert_int_equal(ls(f, PIN_ALL).len, 2);
}

static void test_cid_forms(void **state) {
  fixture_t *f = *state;
  tree_t t = put_tree(f, "forms");
  cid_t v1 = t.root;
  cid_to_v1(&v1);
  assert_int_equal(pins_add(f->pins, &v1, true, NULL, 0), 0);
  listing_t l = ls(f, PIN_RECURSIVE);
  assert_int_equal(l.len, 1);
  assert_true(cid_equal(&l.pins[0].cid, &v1)); /* listed as added */
  /* v0 and v1 of a dag-pb block are one pin */
  pin_info_t pin;
  assert_int_equal(pins_get(f->pins, &t.root, &pin), 0);
  assert_int_equal(pins_rm(f->pins, &t.root), 0);
  assert_int_equal(ls(f, PIN_ALL).len, 0);
  /* raw and dag-pb CIDs of the same bytes are different pins */
  cid_t raw = t.root;
  cid_to_v1(&raw);
  raw.codec = CODEC_RAW;
  assert_int_equal(pins_add(f->pins, &raw, true, NULL, 0), 0);
  assert_int_equal(pins_get(f->pins, &t.root, &pin), -ENOENT);
  assert_int_equal(ls(f, PIN_ALL).len, 1); /* as raw, the node is a leaf: no indirect pins */
}

static void test_names_and_expiry(void **state) {
  fixture_t *f = *state;
  tree_t t = put_tree(f, "named");
  tree_t u = put_tree(f, "expiring");
  assert_int_equal(pins_add(f->pins, &t.root, true, "backup-2026", 0), 0);
  assert_int_equal(pins_add(f->pins, &u.root, true, "soon", f->now_ms + 60000), 0);
  listing_t l = ls(f, PIN_RECURSIVE);
  assert_int_equal(l.len, 2);
  pin_info_t pin;
  assert_int_equal(pins_get(f->pins, &t.root, &pin), 0);
  assert_string_equal(pin.name, "backup-2026");
  assert_int_equal(pin.expire_ms, 0);
  assert_int_equal(pins_get(f->pins, &u.root, &pin), 0);
  assert_string_equal(pin.name, "soon");
  assert_int_equal(pin.expire_ms, f->now_ms + 60000);

  /* Past its expiry a pin is absent everywhere, before pins_expire deletes it. */
  f->now_ms += 60000;
  assert_int_equal(ls(f, PIN_RECURSIVE).len, 1);
  l = ls(f, PIN_INDIRECT);
  assert_int_equal(listed(&l, &u.leaf1), 0);
  assert_int_equal(pins_get(f->pins, &u.root, &pin), -ENOENT);
  assert_int_equal(pins_rm(f->pins, &u.root), -ENOENT);
  mhset_t set = {0};
  assert_int_equal(pins_reachable_set(f->pins, &set), 0);
  assert_int_equal(set.len, 5);
  mhset_free(&set);
  pins_verify_stat_t st;
  assert_int_equal(pins_verify(f->pins, NULL, NULL, &st), 0);
  assert_int_equal(st.pins, 1);

  uint64_t removed = 99;
  listing_t gone = {.len = 0};
  assert_int_equal(pins_expire(f->pins, &removed, collect, &gone), 0);
  assert_int_equal(removed, 1);
  assert_int_equal(gone.len, 1);
  assert_true(cid_equal(&gone.pins[0].cid, &u.root));
  f->now_ms -= 60000; /* turning the clock back cannot resurrect it now */
  assert_int_equal(pins_get(f->pins, &u.root, &pin), -ENOENT);
  assert_int_equal(pins_expire(f->pins, &removed, NULL, NULL), 0);
  assert_int_equal(removed, 0);

  /* Re-pinning replaces name and expiry. */
  assert_int_equal(pins_add(f->pins, &t.root, true, NULL, 0), 0);
  assert_int_equal(pins_get(f->pins, &t.root, &pin), 0);
  assert_string_equal(pin.name, "");

  char long_name[PINS_NAME_BYTES_MAX + 2];
  memset(long_name, 'n', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  assert_int_equal(pins_add(f->pins, &t.root, true, long_name, 0), -EINVAL);
  long_name[PINS_NAME_BYTES_MAX] = '\0';
  assert_int_equal(pins_add(f->pins, &t.root, true, long_name, 0), 0);
  assert_int_equal(pins_get(f->pins, &t.root, &pin), 0);
  assert_int_equal(strlen(pin.name), PINS_NAME_BYTES_MAX);
}

static void test_missing_block_pins_nothing(void **state) {
  fixture_t *f = *state;
  cid_t leaf = put_raw(f, "present");
  cid_t absent_leaf;
  assert_int_equal(cid_make(&absent_leaf, 1, CODEC_RAW, MH_SHA2_256, "absent", 6), 0);
  cid_t absent_node = make_node(f, &leaf, 1, "never stored", false);
  cid_t links[3] = {leaf, absent_leaf, absent_node};
  cid_t root = put_node(f, links, 3, "root");
  char t[CID_TEXT_BYTES_MAX];

  assert_int_equal(pins_add(f->pins, &root, true, NULL, 0), -ENOENT);
  assert_non_null(strstr(err_msg(-ENOENT), text_of(&absent_leaf, t))); /* the first missing, in link order */
  assert_int_equal(ls(f, PIN_ALL).len, 0);
  /* A direct pin needs only the block itself. */
  assert_int_equal(pins_add(f->pins, &root, false, NULL, 0), 0);
  assert_int_equal(pins_add(f->pins, &absent_leaf, false, NULL, 0), -ENOENT);
  assert_int_equal(pins_add(f->pins, &absent_node, true, NULL, 0), -ENOENT);
  assert_non_null(strstr(err_msg(-ENOENT), text_of(&absent_node, t)));
  assert_int_equal(ls(f, PIN_ALL).len, 1);
  /* Storing it makes the recursive pin work. */
  assert_int_equal(bs_put(f->bs, &absent_leaf, "absent", 6), 0);
  absent_node = put_node(f, &leaf, 1, "never stored");
  assert_int_equal(pins_add(f->pins, &root, true, NULL, 0), 0);
  assert_int_equal(ls(f, PIN_ALL).len, 4);
}

/* pins_add_written trusts the caller (the importer just wrote the DAG): no
 * presence walk, so even a DAG with a hole is pinned — and verify finds the hole. */
static void test_add_written_skips_the_walk(void **state) {
  fixture_t *f = *state;
  cid_t leaf = put_raw(f, "present");
  cid_t absent_leaf;
  assert_int_equal(cid_make(&absent_leaf, 1, CODEC_RAW, MH_SHA2_256, "absent", 6), 0);
  cid_t links[2] = {leaf, absent_leaf};
  cid_t root = put_node(f, links, 2, "root");
  assert_int_equal(pins_add(f->pins, &root, true, NULL, 0), -ENOENT);
  assert_int_equal(pins_add_written(f->pins, &root, NULL, 0), 0);
  pin_info_t pin;
  assert_int_equal(pins_get(f->pins, &root, &pin), 0);
  assert_int_equal(pin.type, PIN_RECURSIVE);
  pins_verify_stat_t st;
  assert_int_equal(pins_verify(f->pins, NULL, NULL, &st), 1);
}

static void test_update(void **state) {
  fixture_t *f = *state;
  tree_t t = put_tree(f, "v1");
  tree_t u = put_tree(f, "v2");
  cid_t lone = put_raw(f, "lone");
  assert_int_equal(pins_add(f->pins, &t.root, true, "site", 0), 0);
  assert_int_equal(pins_add(f->pins, &lone, false, NULL, 0), 0);
  assert_int_equal(pins_update(f->pins, &lone, &u.root, true), -EINVAL);
  assert_int_equal(pins_update(f->pins, &u.root, &t.root, true), -ENOENT);
  cid_t missing = make_node(f, &t.leaf1, 1, "not stored", false);
  assert_int_equal(pins_update(f->pins, &t.root, &missing, true), -ENOENT);

  assert_int_equal(pins_update(f->pins, &t.root, &u.root, true), 0);
  pin_info_t pin;
  assert_int_equal(pins_get(f->pins, &t.root, &pin), -ENOENT);
  assert_int_equal(pins_get(f->pins, &u.root, &pin), 0);
  assert_int_equal(pin.type, PIN_RECURSIVE);
  assert_string_equal(pin.name, "site");
  /* without unpinning, both stay */
  assert_int_equal(pins_update(f->pins, &u.root, &t.root, false), 0);
  assert_int_equal(ls(f, PIN_RECURSIVE).len, 2);
  /* updating to itself keeps the pin */
  assert_int_equal(pins_update(f->pins, &t.root, &t.root, true), 0);
  assert_int_equal(pins_get(f->pins, &t.root, &pin), 0);
}

static void test_verify_missing_and_corrupt(void **state) {
  fixture_t *f = *state;
  tree_t t = put_tree(f, "verify");
  /* a DAG whose leaf is stored with other bytes than its CID says (bs_put
   * trusts the caller) */
  cid_t bad;
  assert_int_equal(cid_make(&bad, 1, CODEC_RAW, MH_SHA2_256, "the real bytes", 14), 0);
  assert_int_equal(bs_put(f->bs, &bad, "other bytes!!!", 14), 0);
  cid_t root2 = put_node(f, &bad, 1, "holder");
  cid_t direct = put_raw(f, "direct block");
  assert_int_equal(pins_add(f->pins, &t.root, true, NULL, 0), 0);
  assert_int_equal(pins_add(f->pins, &root2, true, NULL, 0), 0); /* add does not re-hash */
  assert_int_equal(pins_add(f->pins, &direct, false, NULL, 0), 0);

  problems_t p = {.len = 0};
  pins_verify_stat_t st;
  assert_int_equal(pins_verify(f->pins, on_problem, &p, &st), 1);
  assert_int_equal(p.len, 1);
  char text[CID_TEXT_BYTES_MAX];
  assert_non_null(strstr(p.lines[0], "corrupt"));
  assert_non_null(strstr(p.lines[0], text_of(&bad, text)));
  assert_non_null(strstr(p.lines[0], text_of(&root2, text)));
  assert_int_equal(st.pins, 3);
  assert_int_equal(st.blocks, 8);

  /* delete a block of the first DAG and the direct block */
  assert_int_equal(bs_delete(f->bs, &t.leaf2), 0);
  assert_int_equal(bs_delete(f->bs, &direct), 0);
  p.len = 0;
  assert_int_equal(pins_verify(f->pins, on_problem, &p, &st), 3);
  assert_int_equal(p.len, 3);
  size_t missing = 0;
  for (size_t i = 0; i < p.len; i++)
    if (strstr(p.lines[i], "missing")) missing++;
  assert_int_equal(missing, 2);
  /* and the health check form */
  assert_int_equal(pins_verify(f->pins, NULL, NULL, NULL), 3);

  /* the GC walk refuses to go on with a missing block under a recursive pin */
  mhset_t set = {0};
  assert_int_equal(pins_rm(f->pins, &root2), 0);
  assert_int_equal(pins_reachable_set(f->pins, &set), 0); /* leaf2 is raw: not read, still marked */
  assert_int_equal(bs_delete(f->bs, &t.mid), 0);
  assert_int_equal(pins_reachable_set(f->pins, &set), -ENOENT);
  mhset_free(&set);
}

static void test_shared_subtrees_walked_once_and_raw_not_read(void **state) {
  fixture_t *f = *state;
  tree_t t = put_tree(f, "shared");
  cid_t a[2] = {t.mid, t.root};
  cid_t top = put_node(f, a, 2, "top"); /* mid reached twice */
  f->gets = f->hases = 0;
  assert_int_equal(pins_add(f->pins, &top, true, NULL, 0), 0);
  assert_int_equal(f->gets, 3);  /* top, mid, root: the dag-pb blocks */
  assert_int_equal(f->hases, 3); /* leaf1, leaf2, leaf3: raw, only checked */

  f->gets = f->hases = 0;
  problems_t p = {.len = 0};
  pins_verify_stat_t st;
  assert_int_equal(pins_verify(f->pins, on_problem, &p, &st), 0);
  assert_int_equal(st.blocks, 6);
  assert_int_equal(f->gets, 6); /* verify reads everything, once */

  listing_t ind = ls(f, PIN_INDIRECT);
  assert_int_equal(ind.len, 5);
}

typedef struct reach_count {
  size_t calls;
  mhset_t seen;
} reach_count_t;

static int count_reach(void *ctx, const uint8_t *mh, size_t mh_len) {
  reach_count_t *r = ctx;
  r->calls++;
  assert_int_equal(mhset_add(&r->seen, mh, mh_len), 1); /* each once */
  return 0;
}

static void test_reachable(void **state) {
  fixture_t *f = *state;
  tree_t t = put_tree(f, "reach");
  tree_t u = put_tree(f, "reach2");
  cid_t lone = put_raw(f, "lone reach");
  /* a direct pin of a block inside a recursive DAG must not hide its children */
  assert_int_equal(pins_add(f->pins, &t.mid, false, NULL, 0), 0);
  assert_int_equal(pins_add(f->pins, &t.root, true, NULL, 0), 0);
  assert_int_equal(pins_add(f->pins, &u.mid, false, NULL, 0), 0); /* u's mid only */
  assert_int_equal(pins_add(f->pins, &lone, false, NULL, 0), 0);
  reach_count_t r = {0};
  assert_int_equal(pins_reachable(f->pins, count_reach, &r), 0);
  assert_int_equal(r.calls, 5 + 1 + 1);
  uint8_t mh[MH_BYTES_MAX];
  size_t n = cid_mh_bytes(&t.leaf1, mh);
  assert_true(mhset_has(&r.seen, mh, n));
  n = cid_mh_bytes(&u.leaf1, mh);
  assert_false(mhset_has(&r.seen, mh, n));
  n = cid_mh_bytes(&u.mid, mh);
  assert_true(mhset_has(&r.seen, mh, n));
  mhset_free(&r.seen);

  /* into a set that already holds something */
  mhset_t set = {0};
  n = cid_mh_bytes(&t.mid, mh);
  assert_int_equal(mhset_add(&set, mh, n), 1);
  assert_int_equal(pins_reachable_set(f->pins, &set), 0);
  assert_int_equal(set.len, 7);
  mhset_free(&set);
}

/* A dag-cbor block {"l": [CID(a), CID(b)], "n": 1} by hand. */
static void test_dag_cbor_links(void **state) {
  fixture_t *f = *state;
  cid_t a = put_raw(f, "cbor child a");
  cid_t b = put_node(f, &a, 1, "pb under cbor");
  uint8_t block[256];
  size_t k = 0;
  block[k++] = 0xa2;                             /* map(2) */
  block[k++] = 0x61, block[k++] = 'l';           /* "l" */
  block[k++] = 0x82;                             /* array(2) */
  const cid_t *kids[2] = {&a, &b};
  for (int i = 0; i < 2; i++) {
    uint8_t c[CID_BYTES_MAX];
    size_t n = cid_to_bytes(kids[i], c);
    block[k++] = 0xd8, block[k++] = 42;          /* tag(42) */
    block[k++] = 0x58, block[k++] = (uint8_t)(n + 1); /* bytes(n+1) */
    block[k++] = 0x00;
    memcpy(block + k, c, n);
    k += n;
  }
  block[k++] = 0x61, block[k++] = 'n', block[k++] = 0x01; /* "n": 1 */
  cid_t root;
  assert_int_equal(cid_make(&root, 1, CODEC_DAG_CBOR, MH_SHA2_256, block, k), 0);
  assert_int_equal(bs_put(f->bs, &root, block, k), 0);
  assert_int_equal(pins_add(f->pins, &root, true, NULL, 0), 0);
  listing_t ind = ls(f, PIN_INDIRECT);
  assert_int_equal(ind.len, 2);
  assert_int_equal(listed(&ind, &a), PIN_INDIRECT);
  assert_int_equal(listed(&ind, &b), PIN_INDIRECT);
  assert_int_equal(pins_verify(f->pins, NULL, NULL, NULL), 0);

  /* not valid CBOR: truncated */
  cid_t broken;
  assert_int_equal(cid_make(&broken, 1, CODEC_DAG_CBOR, MH_SHA2_256, block, k - 1), 0);
  assert_int_equal(bs_put(f->bs, &broken, block, k - 1), 0);
  assert_int_equal(pins_add(f->pins, &broken, true, NULL, 0), -EINVAL);
  assert_int_equal(pins_add(f->pins, &broken, false, NULL, 0), 0); /* direct: not decoded */
  problems_t p = {.len = 0};
  assert_int_equal(pins_verify(f->pins, on_problem, &p, NULL), 0);
  assert_int_equal(pins_rm(f->pins, &broken), 0);
  assert_int_equal(pins_add(f->pins, &root, true, NULL, 0), 0);

  /* missing child under cbor */
  assert_int_equal(bs_delete(f->bs, &a), 0);
  assert_int_equal(pins_verify(f->pins, on_problem, &p, NULL), 1);
  assert_int_equal(pins_rm(f->pins, &root), 0);
  assert_int_equal(pins_add(f->pins, &root, true, NULL, 0), -ENOENT);
}

static void test_identity_cids(void **state) {
  fixture_t *f = *state;
  cid_t leaf = put_raw(f, "under identity");
  /* an identity-hashed dag-pb node linking to a stored block */
  dagpb_link_t l = {.cid = leaf, .name = "x", .name_len = 1, .has_name = true};
  dagpb_node_t node = {.links = &l, .links_len = 1};
  buf_t b = {0};
  assert_int_equal(dagpb_encode(&node, &b), 0);
  cid_t id;
  assert_int_equal(cid_make(&id, 1, CODEC_DAG_PB, MH_IDENTITY, b.data, b.len), 0);
  buf_free(&b);
  assert_int_equal(pins_add(f->pins, &id, true, NULL, 0), 0);
  reach_count_t r = {0};
  assert_int_equal(pins_reachable(f->pins, count_reach, &r), 0);
  assert_int_equal(r.calls, 1); /* the leaf; the identity block is never stored */
  mhset_free(&r.seen);
  pins_verify_stat_t st;
  assert_int_equal(pins_verify(f->pins, NULL, NULL, &st), 0);
  assert_int_equal(st.blocks, 1);
  assert_int_equal(bs_delete(f->bs, &leaf), 0);
  assert_int_equal(pins_verify(f->pins, NULL, NULL, &st), 1);
}

static void test_persistence(void **state) {
  fixture_t *f = *state;
  tree_t t = put_tree(f, "persist");
  assert_int_equal(pins_add(f->pins, &t.root, true, "kept", 0), 0);
  assert_int_equal(pins_add(f->pins, &t.leaf3, false, NULL, f->now_ms + 1000), 0);
  close_all(f);
  open_all(f);
  listing_t l = ls(f, PIN_ALL);
  assert_int_equal(l.len, 5);
  pin_info_t pin;
  assert_int_equal(pins_get(f->pins, &t.root, &pin), 0);
  assert_string_equal(pin.name, "kept");
  assert_int_equal(pin.created_ms, f->now_ms);
  assert_int_equal(pins_get(f->pins, &t.leaf3, &pin), 0);
  assert_int_equal(pin.type, PIN_DIRECT);
  assert_int_equal(pin.expire_ms, f->now_ms + 1000);
  assert_int_equal(pins_verify(f->pins, NULL, NULL, NULL), 0);
}

static void test_open_errors(void **state) {
  fixture_t *f = *state;
  pins_close(f->pins);
  f->pins = NULL;
  /* a pin database of an unknown format version is refused */
  char *error = NULL;
  leveldb_options_t *o = leveldb_options_create();
  leveldb_t *db = leveldb_open(o, f->pins_dir, &error);
  assert_null(error);
  leveldb_writeoptions_t *w = leveldb_writeoptions_create();
  leveldb_put(db, w, "Mformat", 7, "\x02\0\0\0", 4, &error);
  assert_null(error);
  leveldb_close(db);
  pins_t *p;
  assert_int_equal(pins_open(f->pins_dir, &f->counted, &p), -EPROTONOSUPPORT);
  leveldb_put(db = leveldb_open(o, f->pins_dir, &error), w, "Mformat", 7, "\x01\0\0\0", 4, &error);
  assert_null(error);
  leveldb_close(db);
  leveldb_writeoptions_destroy(w);
  leveldb_options_destroy(o);
  /* a directory that cannot be created */
  char bad[700];
  snprintf(bad, sizeof bad, "%s/no/such/parent", f->dir);
  assert_true(pins_open(bad, &f->counted, &p) < 0);
  assert_int_equal(pins_open(f->pins_dir, &f->counted, &f->pins), 0);
  pins_set_clock(f->pins, fixture_clock, f);
}


static void test_durations_and_types(void **state) {
  (void)state;
  uint64_t ms;
  assert_int_equal(pins_parse_duration("30s", &ms), 0), assert_int_equal(ms, 30000);
  assert_int_equal(pins_parse_duration("5m", &ms), 0), assert_int_equal(ms, 300000);
  assert_int_equal(pins_parse_duration("48h", &ms), 0), assert_int_equal(ms, 48ull * 3600000);
  assert_int_equal(pins_parse_duration("7d", &ms), 0), assert_int_equal(ms, 7ull * 86400000);
  assert_int_equal(pins_parse_duration("2w", &ms), 0), assert_int_equal(ms, 14ull * 86400000);
  assert_int_equal(pins_parse_duration("250ms", &ms), 0), assert_int_equal(ms, 250);
  assert_int_equal(pins_parse_duration("0s", &ms), 0), assert_int_equal(ms, 0);
  const char *bad[] = {"", "s", "10", "10x", "-5s", "5 s", "1.5h", "5sm", "99999999999999999999d", "4000d"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(pins_parse_duration(bad[i], &ms), -EINVAL);
  pin_type_t t;
  assert_int_equal(pins_type_from_name("indirect", &t), 0), assert_int_equal(t, PIN_INDIRECT);
  assert_int_equal(pins_type_from_name("all", &t), 0), assert_int_equal(t, PIN_ALL);
  assert_int_equal(pins_type_from_name("sideways", &t), -EINVAL);
  assert_string_equal(pins_type_name(PIN_RECURSIVE), "recursive");
}

static void test_deep_chain(void **state) {
  fixture_t *f = *state;
  /* a chain deeper than the walk accepts fails cleanly; one within it pins */
  cid_t c = put_raw(f, "bottom");
  for (int i = 0; i < PINS_DEPTH_MAX; i++) c = put_node(f, &c, 1, "chain");
  assert_int_equal(pins_add(f->pins, &c, true, NULL, 0), 0);
  cid_t deeper = put_node(f, &c, 1, "one more");
  assert_int_equal(pins_add(f->pins, &deeper, true, NULL, 0), -ELOOP);
  assert_int_equal(ls(f, PIN_RECURSIVE).len, 1);
}


typedef struct churn {
  fixture_t *f;
  tree_t trees[8];
  int first;     /* this writer's trees: first .. first + 3 */
  int errors;
} churn_t;

static void *churn_writer(void *arg) {
  churn_t *c = arg;
  for (int round = 0; round < 200; round++) {
    const tree_t *t = &c->trees[c->first + round % 4];
    if (pins_add(c->f->pins, &t->root, true, "churn", 0) != 0) c->errors++;
    if (round % 3 == 0 && pins_rm(c->f->pins, &t->root) != 0) c->errors++;
  }
  return NULL;
}

static int count_only(void *ctx, const uint8_t *mh, size_t mh_len) {
  (void)mh, (void)mh_len;
  ++*(size_t *)ctx;
  return 0;
}

/* Writers and readers at once: every read sees a consistent pin set (each
 * reachable count is that of whole DAGs: 5 blocks per pinned tree, plus the
 * anchor pin), and nothing fails. */
static void test_threads(void **state) {
  fixture_t *f = *state;
  churn_t c = {.f = f};
  for (int i = 0; i < 8; i++) {
    char salt[32];
    snprintf(salt, sizeof salt, "churn %d", i);
    c.trees[i] = put_tree(f, salt);
  }
  cid_t anchor = put_raw(f, "anchor");
  assert_int_equal(pins_add(f->pins, &anchor, false, NULL, 0), 0);
  pthread_t writers[2];
  churn_t second = c;
  second.first = 4;
  for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&writers[i], NULL, churn_writer, i ? &second : &c), 0);
  for (int round = 0; round < 100; round++) {
    size_t n = 0;
    assert_int_equal(pins_reachable(f->pins, count_only, &n), 0);
    assert_int_equal((n - 1) % 5, 0);
    listing_t l = {.len = 0};
    assert_int_equal(pins_ls(f->pins, PIN_RECURSIVE | PIN_DIRECT, collect, &l), 0);
    assert_true(l.len >= 1 && l.len <= 9);
  }
  for (int i = 0; i < 2; i++) pthread_join(writers[i], NULL);
  assert_int_equal(c.errors + second.errors, 0);
  assert_int_equal(pins_verify(f->pins, NULL, NULL, NULL), 0);
}

/* anya_pins follows the pin set: set on open and after every change. */
static double pins_gauge(void) { return metrics_gauge_value(metrics_storage()->pins); }

static void test_pins_gauge(void **state) {
  fixture_t *f = *state;
  assert_non_null(metrics_storage());
  assert_true(pins_gauge() == 0);
  tree_t t = put_tree(f, "gauge");
  tree_t u = put_tree(f, "gauge 2");
  cid_t b = put_raw(f, "gauge block");
  assert_int_equal(pins_add(f->pins, &t.root, true, NULL, 0), 0);
  assert_true(pins_gauge() == 1);
  assert_int_equal(pins_add(f->pins, &b, false, NULL, f->now_ms + 1000), 0);
  assert_true(pins_gauge() == 2);
  assert_int_equal(pins_update(f->pins, &t.root, &u.root, false), 0);
  assert_true(pins_gauge() == 3);
  assert_int_equal(pins_rm(f->pins, &t.root), 0);
  assert_true(pins_gauge() == 2);
  f->now_ms += 1000; /* b expires; pins_expire deletes it and lowers the gauge */
  uint64_t removed = 0;
  assert_int_equal(pins_expire(f->pins, &removed, NULL, NULL), 0);
  assert_int_equal(removed, 1);
  assert_true(pins_gauge() == 1);
  metrics_gauge_set(metrics_storage()->pins, 42); /* a reopen sets it from the database */
  close_all(f);
  open_all(f);
  assert_true(pins_gauge() == 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_add_ls_rm_types, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cid_forms, setup, teardown),
      cmocka_unit_test_setup_teardown(test_names_and_expiry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_block_pins_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_add_written_skips_the_walk, setup, teardown),
      cmocka_unit_test_setup_teardown(test_update, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_missing_and_corrupt, setup, teardown),
      cmocka_unit_test_setup_teardown(test_shared_subtrees_walked_once_and_raw_not_read, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reachable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dag_cbor_links, setup, teardown),
      cmocka_unit_test_setup_teardown(test_identity_cids, setup, teardown),
      cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
      cmocka_unit_test(test_durations_and_types),
      cmocka_unit_test_setup_teardown(test_deep_chain, setup, teardown),
      cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pins_gauge, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
