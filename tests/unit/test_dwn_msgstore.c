/*
 * dwn/msgstore: every filter kind (equality, one-of, ranges at their edges,
 * prefix, booleans, tag arrays), OR of filters, sort both ways with ties,
 * cursors (also from a deleted message), pagination against an in-memory
 * brute-force model over seeded random data, deletes leaving no key behind,
 * persistence across reopen, txn atomicity, the O(limit) plan, GC roots of
 * data references, and a crash loop (fork + SIGKILL) in which every
 * acknowledged txn is whole after reopen and none is half there.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bs.h"
#include "cid.h"
#include "dwn/eventlog.h"
#include "dwn/msgstore.h"
#include "gc.h"

#include "testdir.h"

#define TENANT "did:example:alice"

typedef struct fixture {
  char dir[512];
  msgstore_t *store;
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  if (testdir_make(f->dir, sizeof f->dir - 16, "anya-msgstore")) return -1;
  strcat(f->dir, "/dwn");
  if (msgstore_open(f->dir, NULL, &f->store)) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  msgstore_close(f->store);
  *strrchr(f->dir, '/') = '\0';
  testdir_remove(f->dir);
  free(f);
  return 0;
}

static void reopen(fixture_t *f) {
  msgstore_close(f->store);
  assert_int_equal(msgstore_open(f->dir, NULL, &f->store), 0);
}

/* xorshift: seeded, so a failure replays. */
static uint64_t rng_state;
static uint32_t rnd(uint32_t n) {
  rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
  return n ? (uint32_t)(rng_state % n) : 0;
}

static void put_one(msgstore_t *s, const char *tenant, const char *cid, const msgstore_indexes_t *ix) {
  msgstore_txn_t *t;
  assert_int_equal(msgstore_txn_begin(s, &t), 0);
  assert_int_equal(msgstore_txn_put(t, tenant, cid, (const uint8_t *)cid, strlen(cid), ix), 0);
  assert_int_equal(msgstore_txn_commit(t), 0);
  msgstore_txn_free(t);
}

static void delete_one(msgstore_t *s, const char *tenant, const char *cid) {
  msgstore_txn_t *t;
  assert_int_equal(msgstore_txn_begin(s, &t), 0);
  assert_int_equal(msgstore_txn_delete(t, tenant, cid), 0);
  assert_int_equal(msgstore_txn_commit(t), 0);
  msgstore_txn_free(t);
}

/* Runs a query and returns the cids joined by ',' into out. */
static void run(msgstore_t *s, const msgstore_filter_t *filters, size_t n, const char *sort, bool desc, size_t limit,
                char *out, size_t cap) {
  msgstore_query_t q = {.filters = filters, .filter_count = n, .sort_property = sort, .descending = desc,
                        .limit = limit};
  msgstore_result_t res;
  assert_int_equal(msgstore_query(s, TENANT, &q, &res), 0);
  out[0] = '\0';
  for (size_t i = 0; i < res.count; i++) {
    if (i) strncat(out, ",", cap - strlen(out) - 1);
    strncat(out, res.entries[i].message_cid, cap - strlen(out) - 1);
  }
  msgstore_result_free(&res);
}

/* ---- the filter kinds on a small fixed set ---- */

static void fixed_set(msgstore_t *s) {
  /* cid, schema, dateCreated, size, published, tags, contextId */
  static const struct {
    const char *cid, *schema, *created;
    double size;
    bool published;
    const char *tags[3];
    const char *ctx;
  } rows[] = {
      {"c1", "s/a", "2024-01-01T00:00:01.000000Z", -5, true, {"red", "blue", NULL}, "r1"},
      {"c2", "s/b", "2024-01-01T00:00:02.000000Z", 0, false, {"green", NULL, NULL}, "r1/r2"},
      {"c3", "s/a", "2024-01-01T00:00:02.000000Z", 2.5, true, {NULL, NULL, NULL}, "r1/r2/r3"},
      {"c4", "s/c", "2024-01-01T00:00:03.000000Z", 10, false, {"red", NULL, NULL}, "r4"},
      {"c5", "s/a", "2024-01-01T00:00:04.000000Z", 100, true, {"blueish", "red", NULL}, "r1x"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    msgstore_indexes_t ix;
    msgstore_indexes_init(&ix);
    assert_int_equal(msgstore_indexes_add(&ix, "interface", msgstore_string("Records")), 0);
    assert_int_equal(msgstore_indexes_add(&ix, "schema", msgstore_string(rows[i].schema)), 0);
    assert_int_equal(msgstore_indexes_add(&ix, "dateCreated", msgstore_string(rows[i].created)), 0);
    assert_int_equal(msgstore_indexes_add(&ix, "size", msgstore_number(rows[i].size)), 0);
    assert_int_equal(msgstore_indexes_add(&ix, "published", msgstore_bool(rows[i].published)), 0);
    assert_int_equal(msgstore_indexes_add(&ix, "contextId", msgstore_string(rows[i].ctx)), 0);
    for (int k = 0; k < 3 && rows[i].tags[k]; k++)
      assert_int_equal(msgstore_indexes_add(&ix, "tag.color", msgstore_string(rows[i].tags[k])), 0);
    put_one(s, TENANT, rows[i].cid, &ix);
    msgstore_indexes_free(&ix);
  }
}

#define Q1(cond, expect_asc)                                                          \
  do {                                                                                \
    msgstore_condition_t c_[] = {cond};                                               \
    msgstore_filter_t f_ = {c_, 1};                                                   \
    run(f->store, &f_, 1, "dateCreated", false, 0, out, sizeof out);                  \
    assert_string_equal(out, expect_asc);                                             \
  } while (0)

static void test_filter_kinds(void **state) {
  fixture_t *f = *state;
  fixed_set(f->store);
  char out[512];
  /* equality on a scan property (composite plan) and on other properties */
  Q1(((msgstore_condition_t){.property = "schema", .op = MSGSTORE_EQ, .value = msgstore_string("s/a")}), "c1,c3,c5");
  Q1(((msgstore_condition_t){.property = "published", .op = MSGSTORE_EQ, .value = msgstore_bool(false)}), "c2,c4");
  Q1(((msgstore_condition_t){.property = "size", .op = MSGSTORE_EQ, .value = msgstore_number(2.5)}), "c3");
  Q1(((msgstore_condition_t){.property = "size", .op = MSGSTORE_EQ, .value = msgstore_number(-0.0)}), "c2");
  /* a string never equals a number */
  Q1(((msgstore_condition_t){.property = "size", .op = MSGSTORE_EQ, .value = msgstore_string("10")}), "");
  Q1(((msgstore_condition_t){.property = "nothere", .op = MSGSTORE_EQ, .value = msgstore_string("x")}), "");
  /* one-of */
  msgstore_value_t schemas[] = {msgstore_string("s/b"), msgstore_string("s/c"), msgstore_string("s/zz")};
  Q1(((msgstore_condition_t){.property = "schema", .op = MSGSTORE_ONE_OF, .values = schemas, .value_count = 3}),
     "c2,c4");
  /* tags: an array matches when any element does; one-of over the same message comes once */
  Q1(((msgstore_condition_t){.property = "tag.color", .op = MSGSTORE_EQ, .value = msgstore_string("red")}),
     "c1,c4,c5");
  msgstore_value_t colors[] = {msgstore_string("red"), msgstore_string("blue")};
  Q1(((msgstore_condition_t){.property = "tag.color", .op = MSGSTORE_ONE_OF, .values = colors, .value_count = 2}),
     "c1,c4,c5");
  Q1(((msgstore_condition_t){.property = "tag.color", .op = MSGSTORE_PREFIX, .value = msgstore_string("blue")}),
     "c1,c5");
  /* prefix on a string (contextId subtree) */
  Q1(((msgstore_condition_t){.property = "contextId", .op = MSGSTORE_PREFIX, .value = msgstore_string("r1/")}),
     "c2,c3");
  Q1(((msgstore_condition_t){.property = "contextId", .op = MSGSTORE_PREFIX, .value = msgstore_string("r1")}),
     "c1,c2,c3,c5");
  /* ranges on numbers at the edges */
  Q1(((msgstore_condition_t){.property = "size", .op = MSGSTORE_RANGE, .has_lower = true, .lower_inclusive = true,
                             .lower = msgstore_number(0), .has_upper = true, .upper = msgstore_number(10)}),
     "c2,c3");
  Q1(((msgstore_condition_t){.property = "size", .op = MSGSTORE_RANGE, .has_lower = true, .lower = msgstore_number(0),
                             .has_upper = true, .upper_inclusive = true, .upper = msgstore_number(10)}),
     "c3,c4");
  Q1(((msgstore_condition_t){.property = "size", .op = MSGSTORE_RANGE, .has_upper = true,
                             .upper = msgstore_number(-1)}),
     "c1");
  Q1(((msgstore_condition_t){.property = "size", .op = MSGSTORE_RANGE, .has_lower = true,
                             .lower = msgstore_number(10)}),
     "c5");
  /* ranges on the sort property (they bound the sort-index scan): from inclusive, to exclusive */
  Q1(((msgstore_condition_t){.property = "dateCreated", .op = MSGSTORE_RANGE, .has_lower = true,
                             .lower_inclusive = true, .lower = msgstore_string("2024-01-01T00:00:02.000000Z"),
                             .has_upper = true, .upper = msgstore_string("2024-01-01T00:00:04.000000Z")}),
     "c2,c3,c4");
  Q1(((msgstore_condition_t){.property = "dateCreated", .op = MSGSTORE_RANGE, .has_lower = true,
                             .lower = msgstore_string("2024-01-01T00:00:02.000000Z"), .has_upper = true,
                             .upper_inclusive = true, .upper = msgstore_string("2024-01-01T00:00:04.000000Z")}),
     "c4,c5");
  Q1(((msgstore_condition_t){.property = "dateCreated", .op = MSGSTORE_EQ,
                             .value = msgstore_string("2024-01-01T00:00:02.000000Z")}),
     "c2,c3");
  /* a number range never matches strings */
  Q1(((msgstore_condition_t){.property = "dateCreated", .op = MSGSTORE_RANGE, .has_lower = true,
                             .lower = msgstore_number(0)}),
     "");

  /* AND inside a filter, OR across filters */
  msgstore_condition_t a[] = {{.property = "schema", .op = MSGSTORE_EQ, .value = msgstore_string("s/a")},
                              {.property = "tag.color", .op = MSGSTORE_EQ, .value = msgstore_string("red")}};
  msgstore_condition_t b[] = {{.property = "published", .op = MSGSTORE_EQ, .value = msgstore_bool(false)},
                              {.property = "size", .op = MSGSTORE_RANGE, .has_lower = true,
                               .lower = msgstore_number(5)}};
  msgstore_filter_t ab[] = {{a, 2}, {b, 2}};
  run(f->store, ab, 2, "dateCreated", false, 0, out, sizeof out);
  assert_string_equal(out, "c1,c4,c5");
  run(f->store, ab, 1, "dateCreated", false, 0, out, sizeof out);
  assert_string_equal(out, "c1,c5");
  /* no filter / an empty filter: everything */
  run(f->store, NULL, 0, "dateCreated", false, 0, out, sizeof out);
  assert_string_equal(out, "c1,c2,c3,c4,c5");
  msgstore_filter_t empty = {NULL, 0};
  run(f->store, &empty, 1, "dateCreated", true, 0, out, sizeof out);
  assert_string_equal(out, "c5,c4,c3,c2,c1");
  /* ties (c2, c3 share dateCreated) break by messageCid in the sort's direction */
  Q1(((msgstore_condition_t){.property = "interface", .op = MSGSTORE_EQ, .value = msgstore_string("Records")}),
     "c1,c2,c3,c4,c5");
  msgstore_condition_t iface = {.property = "interface", .op = MSGSTORE_EQ, .value = msgstore_string("Records")};
  msgstore_filter_t fi = {&iface, 1};
  run(f->store, &fi, 1, "dateCreated", true, 0, out, sizeof out);
  assert_string_equal(out, "c5,c4,c3,c2,c1");
  /* no message has datePublished: none sorts by it */
  run(f->store, NULL, 0, "datePublished", false, 0, out, sizeof out);
  assert_string_equal(out, "");

  /* bad queries */
  msgstore_query_t q = {.sort_property = "size"};
  msgstore_result_t res;
  assert_int_equal(msgstore_query(f->store, TENANT, &q, &res), -EINVAL);
  msgstore_condition_t bad = {.property = "x", .op = MSGSTORE_RANGE};
  msgstore_filter_t fb = {&bad, 1};
  q = (msgstore_query_t){.filters = &fb, .filter_count = 1, .sort_property = "dateCreated"};
  assert_int_equal(msgstore_query(f->store, TENANT, &q, &res), -EINVAL);
  msgstore_filter_t many[MSGSTORE_FILTERS_MAX + 1] = {{0}};
  q = (msgstore_query_t){.filters = many, .filter_count = MSGSTORE_FILTERS_MAX + 1, .sort_property = "dateCreated"};
  assert_int_equal(msgstore_query(f->store, TENANT, &q, &res), -EINVAL);
  /* unknown tenant: empty */
  q = (msgstore_query_t){.sort_property = "dateCreated"};
  assert_int_equal(msgstore_query(f->store, "did:example:nobody", &q, &res), 0);
  assert_int_equal(res.count, 0);
  msgstore_result_free(&res);
}

/* Strings order by UTF-16 code unit like JS: U+1F600 (a surrogate pair) sorts
 * before U+FFFD although its UTF-8 bytes are greater. */
static void test_utf16_order(void **state) {
  fixture_t *f = *state;
  const char *vals[] = {"\xef\xbf\xbd", "\xf0\x9f\x98\x80", "z", "\xe4\xb8\x80", "a\x01", "a"};
  const char *cids[] = {"u1", "u2", "u3", "u4", "u5", "u6"};
  for (int i = 0; i < 6; i++) {
    msgstore_indexes_t ix;
    msgstore_indexes_init(&ix);
    assert_int_equal(msgstore_indexes_add(&ix, "dateCreated", msgstore_string(vals[i])), 0);
    put_one(f->store, TENANT, cids[i], &ix);
    msgstore_indexes_free(&ix);
  }
  char out[256];
  run(f->store, NULL, 0, "dateCreated", false, 0, out, sizeof out);
  assert_string_equal(out, "u6,u5,u3,u4,u2,u1");
  msgstore_condition_t c = {.property = "dateCreated", .op = MSGSTORE_RANGE, .has_lower = true,
                            .lower = msgstore_string("\xf0\x9f\x98\x80")};
  msgstore_filter_t fl = {&c, 1};
  run(f->store, &fl, 1, "dateCreated", false, 0, out, sizeof out);
  assert_string_equal(out, "u1");
}

/* ---- the model ---- */

#define MODEL_MAX 400
typedef struct model {
  char cid[24];
  char schema[8];
  char created[32];
  char published_at[32];   /* "" = absent */
  char tags[3][8];
  int tag_count;
  double size;
  bool published;
  bool live;
} model_t;

static model_t models[MODEL_MAX];
static size_t model_count;

static void model_indexes(const model_t *m, msgstore_indexes_t *ix) {
  msgstore_indexes_init(ix);
  assert_int_equal(msgstore_indexes_add(ix, "schema", msgstore_string(m->schema)), 0);
  assert_int_equal(msgstore_indexes_add(ix, "dateCreated", msgstore_string(m->created)), 0);
  if (m->published_at[0]) assert_int_equal(msgstore_indexes_add(ix, "datePublished", msgstore_string(m->published_at)), 0);
  for (int k = 0; k < m->tag_count; k++) assert_int_equal(msgstore_indexes_add(ix, "tag.t", msgstore_string(m->tags[k])), 0);
  assert_int_equal(msgstore_indexes_add(ix, "size", msgstore_number(m->size)), 0);
  assert_int_equal(msgstore_indexes_add(ix, "published", msgstore_bool(m->published)), 0);
}

static void model_fill(msgstore_t *s, size_t n) {
  model_count = n;
  msgstore_txn_t *t = NULL;
  for (size_t i = 0; i < n; i++) {
    model_t *m = &models[i];
    memset(m, 0, sizeof *m);
    snprintf(m->cid, sizeof m->cid, "bafy%04x%04zu", rnd(0x10000), i);
    snprintf(m->schema, sizeof m->schema, "s%u", rnd(6));
    snprintf(m->created, sizeof m->created, "2024-01-01T00:00:%02u.000000Z", rnd(40));
    if (rnd(3)) snprintf(m->published_at, sizeof m->published_at, "2024-02-01T00:00:%02u.000000Z", rnd(30));
    m->tag_count = (int)rnd(4);
    for (int k = 0; k < m->tag_count; k++) snprintf(m->tags[k], sizeof m->tags[k], "t%u", rnd(8));
    m->size = (double)((int)rnd(101) - 50) / (rnd(2) ? 1 : 4);
    m->published = rnd(2);
    m->live = true;
    msgstore_indexes_t ix;
    model_indexes(m, &ix);
    if (!t) assert_int_equal(msgstore_txn_begin(s, &t), 0);
    assert_int_equal(msgstore_txn_put(t, TENANT, m->cid, (const uint8_t *)m->cid, strlen(m->cid), &ix), 0);
    msgstore_indexes_free(&ix);
    if (i % 37 == 36 || i + 1 == n) {   /* several messages per txn, several txns */
      assert_int_equal(msgstore_txn_commit(t), 0);
      msgstore_txn_free(t);
      t = NULL;
    }
  }
}

/* Random conditions; values live in static storage. */
static char cond_strings[MSGSTORE_FILTERS_MAX][8][40];
static msgstore_value_t cond_values[MSGSTORE_FILTERS_MAX][8][4];

static void random_condition(msgstore_condition_t *c, int fi, int ci) {
  memset(c, 0, sizeof *c);
  char *s1 = cond_strings[fi][ci * 2], *s2 = cond_strings[fi][ci * 2 + 1];
  switch (rnd(11)) {
  case 9:   /* prefix on a scan property: plan 2 */
    if (rnd(3)) snprintf(s1, 40, "t%u", rnd(9));
    else snprintf(s1, 40, "t");
    *c = (msgstore_condition_t){.property = "tag.t", .op = MSGSTORE_PREFIX, .value = msgstore_string(s1)};
    break;
  case 10: {   /* range on a scan property: plan 2 */
    *c = (msgstore_condition_t){.property = "tag.t", .op = MSGSTORE_RANGE};
    if (rnd(3)) snprintf(s1, 40, "t%u", rnd(9)), c->has_lower = true, c->lower = msgstore_string(s1), c->lower_inclusive = rnd(2);
    if (!c->has_lower || rnd(2))
      snprintf(s2, 40, "t%u", rnd(9)), c->has_upper = true, c->upper = msgstore_string(s2), c->upper_inclusive = rnd(2);
    break;
  }
  case 0:
    snprintf(s1, 40, "s%u", rnd(7));
    *c = (msgstore_condition_t){.property = "schema", .op = MSGSTORE_EQ, .value = msgstore_string(s1)};
    break;
  case 1: {
    msgstore_value_t *vals = cond_values[fi][ci];
    size_t n = 1 + rnd(3);
    for (size_t k = 0; k < n; k++) {
      snprintf(cond_strings[fi][ci * 2 + (k & 1)], 40, "s%u", rnd(7));
      /* distinct storage per value: reuse the pair plus fixed names */
      static const char *names[] = {"s0", "s1", "s2", "s3", "s4", "s5", "s6"};
      vals[k] = msgstore_string(names[rnd(7)]);
    }
    *c = (msgstore_condition_t){.property = "schema", .op = MSGSTORE_ONE_OF, .values = vals, .value_count = n};
    break;
  }
  case 2:
  case 3: {
    const char *prop = rnd(2) ? "dateCreated" : "datePublished";
    const char *month = prop[4] == 'C' ? "01" : "02";
    *c = (msgstore_condition_t){.property = prop, .op = MSGSTORE_RANGE};
    if (rnd(3)) {
      snprintf(s1, 40, "2024-%s-01T00:00:%02u.000000Z", month, rnd(42));
      c->has_lower = true, c->lower = msgstore_string(s1), c->lower_inclusive = rnd(2);
    }
    if (!c->has_lower || rnd(2)) {
      snprintf(s2, 40, "2024-%s-01T00:00:%02u.000000Z", month, rnd(42));
      c->has_upper = true, c->upper = msgstore_string(s2), c->upper_inclusive = rnd(2);
    }
    break;
  }
  case 4: {
    *c = (msgstore_condition_t){.property = "size", .op = MSGSTORE_RANGE};
    if (rnd(2)) c->has_lower = true, c->lower = msgstore_number((double)((int)rnd(121) - 60) / 2), c->lower_inclusive = rnd(2);
    if (!c->has_lower || rnd(2))
      c->has_upper = true, c->upper = msgstore_number((double)((int)rnd(121) - 60) / 2), c->upper_inclusive = rnd(2);
    break;
  }
  case 5:
    snprintf(s1, 40, "t%u", rnd(9));
    *c = (msgstore_condition_t){.property = "tag.t", .op = MSGSTORE_EQ, .value = msgstore_string(s1)};
    break;
  case 6: {
    static const char *tags[] = {"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8"};
    msgstore_value_t *vals = cond_values[fi][ci];
    size_t n = 1 + rnd(4);
    for (size_t k = 0; k < n; k++) vals[k] = msgstore_string(tags[rnd(9)]);
    *c = (msgstore_condition_t){.property = "tag.t", .op = MSGSTORE_ONE_OF, .values = vals, .value_count = n};
    break;
  }
  case 7:
    *c = (msgstore_condition_t){.property = "published", .op = MSGSTORE_EQ, .value = msgstore_bool(rnd(2))};
    break;
  default:
    snprintf(s1, 40, "2024-01-01T00:00:%u", rnd(4));
    *c = (msgstore_condition_t){.property = "dateCreated", .op = MSGSTORE_PREFIX, .value = msgstore_string(s1)};
    break;
  }
}

/* The model's own evaluation (independent of msgstore_match). */
static bool model_range_str(const msgstore_condition_t *c, const char *v) {
  if (c->has_lower) {
    int k = strcmp(v, c->lower.string);
    if (k < 0 || (k == 0 && !c->lower_inclusive)) return false;
  }
  if (c->has_upper) {
    int k = strcmp(v, c->upper.string);
    if (k > 0 || (k == 0 && !c->upper_inclusive)) return false;
  }
  return true;
}

static bool model_cond(const model_t *m, const msgstore_condition_t *c) {
  if (strcmp(c->property, "schema") == 0) {
    if (c->op == MSGSTORE_EQ) return strcmp(m->schema, c->value.string) == 0;
    for (size_t k = 0; k < c->value_count; k++)
      if (strcmp(m->schema, c->values[k].string) == 0) return true;
    return false;
  }
  if (strcmp(c->property, "dateCreated") == 0) {
    if (c->op == MSGSTORE_PREFIX) return strncmp(m->created, c->value.string, c->value.string_len) == 0;
    return model_range_str(c, m->created);
  }
  if (strcmp(c->property, "datePublished") == 0) return m->published_at[0] && model_range_str(c, m->published_at);
  if (strcmp(c->property, "size") == 0) {
    if (c->has_lower && (m->size < c->lower.number || (m->size == c->lower.number && !c->lower_inclusive))) return false;
    if (c->has_upper && (m->size > c->upper.number || (m->size == c->upper.number && !c->upper_inclusive))) return false;
    return true;
  }
  if (strcmp(c->property, "tag.t") == 0) {
    for (int k = 0; k < m->tag_count; k++) {
      if (c->op == MSGSTORE_PREFIX && strncmp(m->tags[k], c->value.string, c->value.string_len) == 0) return true;
      if (c->op == MSGSTORE_RANGE && model_range_str(c, m->tags[k])) return true;
      if (c->op == MSGSTORE_EQ && strcmp(m->tags[k], c->value.string) == 0) return true;
      for (size_t j = 0; c->op == MSGSTORE_ONE_OF && j < c->value_count; j++)
        if (strcmp(m->tags[k], c->values[j].string) == 0) return true;
    }
    return false;
  }
  if (strcmp(c->property, "published") == 0) return m->published == c->value.boolean;
  fail_msg("unknown property %s", c->property);
  return false;
}

static bool model_match(const model_t *m, const msgstore_filter_t *fs, size_t n) {
  if (n == 0) return true;
  for (size_t i = 0; i < n; i++) {
    bool all = true;
    for (size_t j = 0; all && j < fs[i].count; j++) all = model_cond(m, &fs[i].conditions[j]);
    if (all) return true;
  }
  return false;
}

static const char *model_sort_value(const model_t *m, const char *sort) {
  return strcmp(sort, "dateCreated") == 0 ? m->created : m->published_at;
}

static const char *sort_by;
static bool sort_desc;
static int model_cmp(const void *a, const void *b) {
  const model_t *x = *(model_t *const *)a, *y = *(model_t *const *)b;
  int k = strcmp(model_sort_value(x, sort_by), model_sort_value(y, sort_by));
  if (!k) k = strcmp(x->cid, y->cid);
  return sort_desc ? -k : k;
}

/* Expected cids: matching live models that have the sort property, sorted;
 * after (value, cid) when after_value is not NULL. */
static size_t model_query(const msgstore_filter_t *fs, size_t n, const char *sort, bool desc,
                          const char *after_value, const char *after_cid, model_t **out) {
  size_t count = 0;
  for (size_t i = 0; i < model_count; i++) {
    model_t *m = &models[i];
    if (!m->live || !model_sort_value(m, sort)[0] || !model_match(m, fs, n)) continue;
    if (after_value) {
      int k = strcmp(model_sort_value(m, sort), after_value);
      if (!k) k = strcmp(m->cid, after_cid);
      if (desc ? k >= 0 : k <= 0) continue;
    }
    out[count++] = m;
  }
  sort_by = sort, sort_desc = desc;
  qsort(out, count, sizeof *out, model_cmp);
  return count;
}

static void check_walk(msgstore_t *s, const msgstore_filter_t *fs, size_t n, const char *sort, bool desc,
                       size_t limit, bool delete_at_cursor) {
  static model_t *expected[MODEL_MAX];
  size_t expected_count = model_query(fs, n, sort, desc, NULL, NULL, expected);
  char cursor_cid[64] = "", cursor_value[64] = "";
  size_t got = 0;
  for (size_t page = 0; page <= MODEL_MAX; page++) {
    msgstore_cursor_t cursor = {.message_cid = cursor_cid, .value = msgstore_string(cursor_value)};
    msgstore_query_t q = {.filters = fs, .filter_count = n, .sort_property = sort, .descending = desc,
                          .cursor = page ? &cursor : NULL, .limit = limit, .want_messages = true};
    msgstore_result_t res;
    assert_int_equal(msgstore_query(s, TENANT, &q, &res), 0);
    if (page && delete_at_cursor) {
      /* the cursor's message was deleted: the rest is what follows its position */
      expected_count = model_query(fs, n, sort, desc, cursor_value, cursor_cid, expected);
      got = 0;
    }
    assert_true(res.count <= limit);
    for (size_t i = 0; i < res.count; i++) {
      assert_true(got < expected_count);
      assert_string_equal(res.entries[i].message_cid, expected[got]->cid);
      assert_int_equal(res.entries[i].message_len, strlen(expected[got]->cid));
      assert_memory_equal(res.entries[i].message, expected[got]->cid, res.entries[i].message_len);
      assert_int_equal(res.entries[i].sort_value.kind, MSGSTORE_STRING);
      got++;
    }
    if (!res.has_more) {
      msgstore_result_free(&res);
      break;
    }
    assert_int_equal(res.count, limit);
    snprintf(cursor_cid, sizeof cursor_cid, "%s", res.cursor.message_cid);
    snprintf(cursor_value, sizeof cursor_value, "%.*s", (int)res.cursor.value.string_len, res.cursor.value.string);
    assert_string_equal(cursor_cid, res.entries[res.count - 1].message_cid);
    msgstore_result_free(&res);
    if (delete_at_cursor) {
      for (size_t i = 0; i < model_count; i++)
        if (strcmp(models[i].cid, cursor_cid) == 0) models[i].live = false;
      delete_one(s, TENANT, cursor_cid);
    }
  }
  assert_int_equal(got, expected_count);
}

static void test_random_against_model(void **state) {
  fixture_t *f = *state;
  rng_state = 0x5eed1234abcdull;
  model_fill(f->store, 300);
  for (int round = 0; round < 300; round++) {
    size_t n = rnd(4);
    msgstore_condition_t conds[MSGSTORE_FILTERS_MAX][4];
    msgstore_filter_t fs[4];
    for (size_t i = 0; i < n; i++) {
      fs[i].count = rnd(4);
      fs[i].conditions = conds[i];
      for (size_t j = 0; j < fs[i].count; j++) random_condition(&conds[i][j], (int)i, (int)j);
    }
    const char *sort = rnd(3) ? "dateCreated" : "datePublished";
    bool desc = rnd(2);
    check_walk(f->store, fs, n, sort, desc, MSGSTORE_RESULTS_MAX, false);   /* one page */
    check_walk(f->store, fs, n, sort, desc, 1 + rnd(7), false);            /* all pages */
    if (round % 50 == 49) {
      /* delete a random fifth, then reopen: the model follows */
      for (size_t i = 0; i < model_count; i++)
        if (models[i].live && rnd(5) == 0) delete_one(f->store, TENANT, models[i].cid), models[i].live = false;
      reopen(f);
    }
    if (round % 30 == 7) check_walk(f->store, fs, n, sort, desc, 1 + rnd(5), true);   /* cursor from a deleted message */
  }
}

/* ---- deletes, txns, persistence ---- */

static void big_indexes(msgstore_indexes_t *ix, const char *schema) {
  msgstore_indexes_init(ix);
  assert_int_equal(msgstore_indexes_add(ix, "schema", msgstore_string(schema)), 0);
  assert_int_equal(msgstore_indexes_add(ix, "protocol", msgstore_string("https://proto.example")), 0);
  assert_int_equal(msgstore_indexes_add(ix, "dateCreated", msgstore_string("2024-01-01T00:00:00.000000Z")), 0);
  assert_int_equal(msgstore_indexes_add(ix, "datePublished", msgstore_string("2024-01-02T00:00:00.000000Z")), 0);
  assert_int_equal(msgstore_indexes_add(ix, "messageTimestamp", msgstore_string("2024-01-03T00:00:00.000000Z")), 0);
  for (int k = 0; k < 5; k++) {
    char tag[16];
    snprintf(tag, sizeof tag, "v%d", k);
    assert_int_equal(msgstore_indexes_add(ix, "tag.list", msgstore_string(tag)), 0);
  }
  assert_int_equal(msgstore_indexes_add(ix, "published", msgstore_bool(true)), 0);
}

static void test_delete_leaves_no_key(void **state) {
  fixture_t *f = *state;
  msgstore_indexes_t ix;
  big_indexes(&ix, "s");
  put_one(f->store, TENANT, "first", &ix);   /* creates the tenant */
  uint64_t before, during, after;
  assert_int_equal(msgstore_count_keys(f->store, &before), 0);
  put_one(f->store, TENANT, "second", &ix);
  assert_int_equal(msgstore_count_keys(f->store, &during), 0);
  /* M, I, 3 sort keys, 3 x (schema + protocol + 5 tags) composite keys */
  assert_int_equal(during - before, 2 + 3 + 3 * 7);
  /* replacing a message with a smaller index set removes the old keys */
  msgstore_indexes_t small;
  msgstore_indexes_init(&small);
  assert_int_equal(msgstore_indexes_add(&small, "dateCreated", msgstore_string("2024")), 0);
  put_one(f->store, TENANT, "second", &small);
  assert_int_equal(msgstore_count_keys(f->store, &after), 0);
  assert_int_equal(after - before, 3);
  delete_one(f->store, TENANT, "second");
  assert_int_equal(msgstore_count_keys(f->store, &after), 0);
  assert_int_equal(after, before);
  /* delete of an absent message */
  msgstore_txn_t *t;
  assert_int_equal(msgstore_txn_begin(f->store, &t), 0);
  assert_int_equal(msgstore_txn_delete(t, TENANT, "second"), -ENOENT);
  /* put then delete in one txn: nothing stays */
  assert_int_equal(msgstore_txn_put(t, TENANT, "third", (const uint8_t *)"x", 1, &ix), 0);
  assert_int_equal(msgstore_txn_delete(t, TENANT, "third"), 0);
  assert_int_equal(msgstore_txn_delete(t, TENANT, "third"), -ENOENT);
  assert_int_equal(msgstore_txn_commit(t), 0);
  msgstore_txn_free(t);
  assert_int_equal(msgstore_count_keys(f->store, &after), 0);
  assert_int_equal(after, before);
  msgstore_indexes_free(&ix);
  msgstore_indexes_free(&small);
}

static void test_txn_atomic_and_reopen(void **state) {
  fixture_t *f = *state;
  msgstore_indexes_t ix;
  big_indexes(&ix, "s");
  put_one(f->store, TENANT, "kept", &ix);
  uint64_t before, after;
  assert_int_equal(msgstore_count_keys(f->store, &before), 0);
  msgstore_txn_t *t;
  assert_int_equal(msgstore_txn_begin(f->store, &t), 0);
  assert_int_equal(msgstore_txn_put(t, TENANT, "lost1", (const uint8_t *)"a", 1, &ix), 0);
  assert_int_equal(msgstore_txn_put(t, TENANT, "lost2", (const uint8_t *)"b", 1, &ix), 0);
  assert_int_equal(msgstore_txn_delete(t, TENANT, "kept"), 0);
  assert_int_equal(msgstore_txn_data_ref_put(t, TENANT, "rec", "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"), 0);
  /* reads see committed state only */
  uint8_t *msg;
  size_t len;
  assert_int_equal(msgstore_get(f->store, TENANT, "lost1", &msg, &len, NULL), -ENOENT);
  assert_int_equal(msgstore_get(f->store, TENANT, "kept", &msg, &len, NULL), 0);
  free(msg);
  msgstore_txn_free(t);   /* never committed */
  assert_int_equal(msgstore_count_keys(f->store, &after), 0);
  assert_int_equal(after, before);
  reopen(f);
  msgstore_indexes_t got;
  assert_int_equal(msgstore_get(f->store, TENANT, "kept", &msg, &len, &got), 0);
  assert_int_equal(len, 4);
  assert_memory_equal(msg, "kept", 4);
  free(msg);
  assert_int_equal(got.count, ix.count);
  assert_memory_equal(got.bytes, ix.bytes, ix.len);
  msgstore_value_t v;
  assert_int_equal(msgstore_indexes_find(&got, "tag.list", 3, &v), 1);
  assert_int_equal(v.string_len, 2);
  assert_memory_equal(v.string, "v3", 2);
  assert_int_equal(msgstore_indexes_find(&got, "tag.list", 5, &v), 0);
  msgstore_indexes_free(&got);
  assert_int_equal(msgstore_get(f->store, TENANT, "lost2", &msg, &len, NULL), -ENOENT);
  assert_int_equal(msgstore_data_ref_has(f->store, TENANT, "rec",
                                         "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"),
                   0);
  /* the index layout is fixed at creation */
  msgstore_close(f->store);
  static const char *const sorts[] = {"dateCreated", NULL};
  msgstore_options_t other = {.sort_properties = sorts};
  msgstore_t *s2 = NULL;
  assert_int_equal(msgstore_open(f->dir, &other, &s2), -EINVAL);
  assert_null(s2);
  assert_int_equal(msgstore_open(f->dir, NULL, &f->store), 0);
  /* tenants are separate */
  assert_int_equal(msgstore_get(f->store, "did:example:bob", "kept", &msg, &len, NULL), -ENOENT);
  msgstore_indexes_free(&ix);
}

static void test_limits(void **state) {
  fixture_t *f = *state;
  msgstore_indexes_t ix;
  msgstore_indexes_init(&ix);
  char name[MSGSTORE_NAME_BYTES_MAX + 2];
  memset(name, 'n', sizeof name - 1), name[sizeof name - 1] = '\0';
  assert_int_equal(msgstore_indexes_add(&ix, name, msgstore_bool(true)), -EINVAL);
  name[MSGSTORE_NAME_BYTES_MAX] = '\0';
  assert_int_equal(msgstore_indexes_add(&ix, name, msgstore_bool(true)), 0);
  assert_int_equal(msgstore_indexes_add(&ix, "n", msgstore_number(NAN)), -EINVAL);
  static char big[MSGSTORE_STRING_BYTES_MAX + 2];
  memset(big, 0, sizeof big);
  memset(big, 1, MSGSTORE_STRING_BYTES_MAX + 1);
  assert_int_equal(msgstore_indexes_add(&ix, "s", msgstore_string(big)), -EINVAL);
  big[MSGSTORE_STRING_BYTES_MAX] = '\0';
  /* the longest string, all bytes escaped (0x01), as scan and sort value */
  assert_int_equal(msgstore_indexes_add(&ix, "schema", msgstore_string(big)), 0);
  assert_int_equal(msgstore_indexes_add(&ix, "dateCreated", msgstore_string(big)), 0);
  char cid[MSGSTORE_CID_BYTES_MAX + 1];
  memset(cid, 'c', sizeof cid - 1), cid[sizeof cid - 1] = '\0';
  put_one(f->store, TENANT, cid, &ix);
  msgstore_condition_t c = {.property = "schema", .op = MSGSTORE_EQ, .value = msgstore_string(big)};
  msgstore_filter_t fl = {&c, 1};
  char out[512];
  run(f->store, &fl, 1, "dateCreated", true, 0, out, sizeof out);
  assert_string_equal(out, cid);
  for (size_t i = ix.count; i < MSGSTORE_PAIRS_MAX; i++) assert_int_equal(msgstore_indexes_add(&ix, "x", msgstore_bool(false)), 0);
  assert_int_equal(msgstore_indexes_add(&ix, "x", msgstore_bool(false)), -E2BIG);
  msgstore_indexes_free(&ix);
}

/* One equality plus sort and limit reads O(limit) keys, whatever the matches. */
static void test_plan_reads_limit(void **state) {
  fixture_t *f = *state;
  msgstore_txn_t *t;
  assert_int_equal(msgstore_txn_begin(f->store, &t), 0);
  for (int i = 0; i < 3000; i++) {
    char cid[32], created[40];
    snprintf(cid, sizeof cid, "bafy%06d", i);
    snprintf(created, sizeof created, "2024-01-01T00:%02d:%02d.%06dZ", i / 3600, (i / 60) % 60, i);
    msgstore_indexes_t ix;
    msgstore_indexes_init(&ix);
    assert_int_equal(msgstore_indexes_add(&ix, "schema", msgstore_string(i % 2 ? "odd" : "even")), 0);
    assert_int_equal(msgstore_indexes_add(&ix, "dateCreated", msgstore_string(created)), 0);
    assert_int_equal(msgstore_indexes_add(&ix, "isLatestBaseState", msgstore_bool(i % 10 != 0)), 0);
    char context[32];
    snprintf(context, sizeof context, "ctx%02d/%06d", i % 30, i);
    assert_int_equal(msgstore_indexes_add(&ix, "contextId", msgstore_string(context)), 0);
    assert_int_equal(msgstore_txn_put(t, TENANT, cid, (const uint8_t *)cid, strlen(cid), &ix), 0);
    msgstore_indexes_free(&ix);
  }
  assert_int_equal(msgstore_txn_commit(t), 0);
  msgstore_txn_free(t);
  msgstore_condition_t c[] = {{.property = "schema", .op = MSGSTORE_EQ, .value = msgstore_string("odd")},
                              {.property = "isLatestBaseState", .op = MSGSTORE_EQ, .value = msgstore_bool(true)}};
  msgstore_filter_t fl = {c, 2};
  msgstore_query_t q = {.filters = &fl, .filter_count = 1, .sort_property = "dateCreated", .descending = true,
                        .limit = 20};
  msgstore_result_t res;
  assert_int_equal(msgstore_query(f->store, TENANT, &q, &res), 0);
  assert_int_equal(res.count, 20);
  assert_true(res.has_more);
  assert_string_equal(res.entries[0].message_cid, "bafy002999");
  assert_string_equal(res.entries[19].message_cid, "bafy002961");
  /* odd ones: every 10th is not latest, none of them is odd ... all 21 read match */
  assert_true(res.keys_read <= 22);
  assert_true(res.sets_read <= 21);
  msgstore_result_free(&res);
  /* a prefix on a scan property (plan 2) reads its range (100 keys), not all 3000,
   * keeps the page in order, and the cursor walks on from there */
  msgstore_condition_t p = {.property = "contextId", .op = MSGSTORE_PREFIX, .value = msgstore_string("ctx07/")};
  msgstore_filter_t fp = {&p, 1};
  q = (msgstore_query_t){.filters = &fp, .filter_count = 1, .sort_property = "dateCreated", .descending = true,
                         .limit = 5};
  assert_int_equal(msgstore_query(f->store, TENANT, &q, &res), 0);
  assert_int_equal(res.count, 5);
  assert_true(res.has_more);
  assert_string_equal(res.entries[0].message_cid, "bafy002977");
  assert_string_equal(res.entries[4].message_cid, "bafy002857");
  assert_true(res.keys_read <= 100 + 6);
  char cursor_cid[32], cursor_value[40];
  snprintf(cursor_cid, sizeof cursor_cid, "%s", res.cursor.message_cid);
  snprintf(cursor_value, sizeof cursor_value, "%.*s", (int)res.cursor.value.string_len, res.cursor.value.string);
  msgstore_result_free(&res);
  msgstore_cursor_t cursor = {.message_cid = cursor_cid, .value = msgstore_string(cursor_value)};
  q.cursor = &cursor, q.limit = 0;
  assert_int_equal(msgstore_query(f->store, TENANT, &q, &res), 0);
  assert_int_equal(res.count, 95);
  assert_false(res.has_more);
  assert_string_equal(res.entries[0].message_cid, "bafy002827");
  assert_string_equal(res.entries[94].message_cid, "bafy000007");
  msgstore_result_free(&res);
}

/* ---- GC roots ---- */

static void test_gc_roots(void **state) {
  fixture_t *f = *state;
  char bsdir[600];
  snprintf(bsdir, sizeof bsdir, "%s-blocks", f->dir);
  bs_t *bs;
  bs_options_t o;
  bs_options_default(&o);
  assert_int_equal(bs_open(bsdir, &o, &bs), 0);
  cid_t cids[4];
  char text[4][CID_TEXT_BYTES_MAX];
  for (int i = 0; i < 4; i++) {
    uint8_t data[500];
    testdir_fill(data, sizeof data, (uint32_t)i + 7);
    assert_int_equal(cid_make(&cids[i], 1, CODEC_RAW, MH_SHA2_256, data, sizeof data), 0);
    assert_int_equal(bs_put(bs, &cids[i], data, sizeof data), 0);
    assert_int_equal(cid_format_default(&cids[i], text[i]), 0);
  }
  assert_int_equal(bs_sync(bs), 0);
  /* cid 0 referenced by two records, cid 1 by one (another tenant), cid 2 referenced then dropped, cid 3 never */
  msgstore_txn_t *t;
  assert_int_equal(msgstore_txn_begin(f->store, &t), 0);
  assert_int_equal(msgstore_txn_data_ref_put(t, TENANT, "recA", text[0]), 0);
  assert_int_equal(msgstore_txn_data_ref_put(t, TENANT, "recB", text[0]), 0);
  assert_int_equal(msgstore_txn_data_ref_put(t, "did:example:bob", "recC", text[1]), 0);
  assert_int_equal(msgstore_txn_data_ref_put(t, TENANT, "recD", text[2]), 0);
  assert_int_equal(msgstore_txn_data_ref_put(t, TENANT, "recE", "not-a-cid"), -EINVAL);
  assert_int_equal(msgstore_txn_commit(t), 0);
  msgstore_txn_free(t);
  assert_int_equal(msgstore_txn_begin(f->store, &t), 0);
  assert_int_equal(msgstore_txn_data_ref_delete(t, TENANT, "recD", text[2]), 0);
  assert_int_equal(msgstore_txn_commit(t), 0);
  msgstore_txn_free(t);
  assert_int_equal(msgstore_data_ref_has(f->store, TENANT, "recB", text[0]), 1);
  assert_int_equal(msgstore_data_ref_has(f->store, TENANT, "recD", text[2]), 0);
  gc_t *gc;
  assert_int_equal(gc_new(bs, &gc), 0);
  assert_int_equal(gc_add_root_provider(gc, msgstore_gc_roots, f->store), 0);
  gc_result_t r;
  assert_int_equal(gc_run(gc, NULL, &r), 0);
  assert_int_equal(r.marked, 2);
  assert_int_equal(r.swept, 2);
  assert_int_equal(bs_has(bs, &cids[0], NULL), 1);
  assert_int_equal(bs_has(bs, &cids[1], NULL), 1);
  assert_int_equal(bs_has(bs, &cids[2], NULL), 0);
  assert_int_equal(bs_has(bs, &cids[3], NULL), 0);
  gc_free(gc);
  assert_int_equal(bs_close(bs), 0);
  testdir_remove(bsdir);
}

/* ---- crash loop ---- */

static void crash_child(const char *dir, int round, int fd) {
  msgstore_t *s;
  eventlog_t *log;
  if (msgstore_open(dir, NULL, &s) || eventlog_open(s, NULL, &log)) _exit(2);
  for (uint32_t i = 0; i < 100000; i++) {
    char cid[32], schema[16], rec[32];
    snprintf(cid, sizeof cid, "r%d-%u", round, i);
    snprintf(schema, sizeof schema, "s%u", i % 3);
    snprintf(rec, sizeof rec, "rec%d-%u", round, i);
    msgstore_indexes_t ix;
    msgstore_indexes_init(&ix);
    if (msgstore_indexes_add(&ix, "schema", msgstore_string(schema)) ||
        msgstore_indexes_add(&ix, "dateCreated", msgstore_string(cid)) ||
        msgstore_indexes_add(&ix, "round", msgstore_number(round)))
      _exit(3);
    msgstore_txn_t *t;
    if (msgstore_txn_begin(s, &t) || msgstore_txn_put(t, TENANT, cid, (const uint8_t *)cid, strlen(cid), &ix) ||
        eventlog_txn_append(log, t, TENANT, cid, &ix) < 0 ||
        msgstore_txn_data_ref_put(t, TENANT, rec, "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy") ||
        msgstore_txn_commit(t))
      _exit(4);
    msgstore_txn_free(t);
    msgstore_indexes_free(&ix);
    if (write(fd, &i, sizeof i) != sizeof i) _exit(5);
  }
  _exit(0);
}

/* Whether each part of message i of round is there: returns the number of
 * parts present (0..4). */
static int parts_present(msgstore_t *s, eventlog_t *log, int round, uint32_t i) {
  char cid[32], rec[32], schema[16];
  snprintf(cid, sizeof cid, "r%d-%u", round, i);
  snprintf(rec, sizeof rec, "rec%d-%u", round, i);
  snprintf(schema, sizeof schema, "s%u", i % 3);
  int parts = 0;
  uint8_t *msg;
  size_t len;
  if (msgstore_get(s, TENANT, cid, &msg, &len, NULL) == 0) parts++, free(msg);
  if (msgstore_data_ref_has(s, TENANT, rec, "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy") == 1) parts++;
  msgstore_condition_t c[] = {{.property = "schema", .op = MSGSTORE_EQ, .value = msgstore_string(schema)},
                              {.property = "dateCreated", .op = MSGSTORE_EQ, .value = msgstore_string(cid)}};
  msgstore_filter_t fl = {c, 2};
  msgstore_query_t q = {.filters = &fl, .filter_count = 1, .sort_property = "dateCreated"};
  msgstore_result_t res;
  assert_int_equal(msgstore_query(s, TENANT, &q, &res), 0);
  if (res.count == 1) parts++;
  msgstore_result_free(&res);
  eventlog_result_t ev;
  msgstore_condition_t round_c = {.property = "round", .op = MSGSTORE_EQ, .value = msgstore_number(round)};
  msgstore_filter_t rf = {&round_c, 1};
  assert_int_equal(eventlog_query(log, TENANT, &rf, 1, 0, 0, &ev), 0);
  for (size_t k = 0; k < ev.count; k++)
    if (strcmp(ev.entries[k].message_cid, cid) == 0) parts++;
  eventlog_result_free(&ev);
  return parts;
}

static void test_crash_loop(void **state) {
  fixture_t *f = *state;
  msgstore_close(f->store);
  f->store = NULL;
  rng_state = 0xc0ffee;
  for (int round = 0; round < 6; round++) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      crash_child(f->dir, round, fds[1]);
    }
    close(fds[1]);
    uint32_t want = 3 + rnd(40), acked = 0, v;
    bool any = false;
    while (!any || acked + 1 < want) {
      ssize_t n = read(fds[0], &v, sizeof v);
      assert_int_equal(n, sizeof v);
      acked = v, any = true;
    }
    if (rnd(2)) usleep(rnd(3000));   /* kill mid-commit sometimes */
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    while (read(fds[0], &v, sizeof v) == sizeof v) acked = v;   /* acknowledged before the kill */
    close(fds[0]);
    msgstore_t *s;
    eventlog_t *log;
    assert_int_equal(msgstore_open(f->dir, NULL, &s), 0);
    assert_int_equal(eventlog_open(s, NULL, &log), 0);
    for (uint32_t i = 0; i <= acked; i++) assert_int_equal(parts_present(s, log, round, i), 4);
    int next = parts_present(s, log, round, acked + 1);   /* committed but not acknowledged, or absent */
    assert_true(next == 0 || next == 4);
    assert_int_equal(parts_present(s, log, round, acked + 2), 0);
    eventlog_close(log);
    msgstore_close(s);
  }
  assert_int_equal(msgstore_open(f->dir, NULL, &f->store), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_filter_kinds, setup, teardown),
      cmocka_unit_test_setup_teardown(test_utf16_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_random_against_model, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete_leaves_no_key, setup, teardown),
      cmocka_unit_test_setup_teardown(test_txn_atomic_and_reopen, setup, teardown),
      cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_plan_reads_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gc_roots, setup, teardown),
      cmocka_unit_test_setup_teardown(test_crash_loop, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
