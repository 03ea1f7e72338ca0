/*
 * dwn/eventlog: watermarks strictly increasing per tenant, in commit order,
 * fixed-width text, never reused after deleting the newest events or after a
 * reopen; queries with filters (indexed property, full scan, OR, one-of),
 * cursor and limit checked against a brute-force model over seeded random
 * events; delete by messageCids removes every key; an uncommitted txn leaves
 * nothing; append + delete in one txn cancel.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>

#include "dwn/eventlog.h"
#include "dwn/msgstore.h"

#include "testdir.h"

#define TENANT "did:example:alice"
#define OTHER "did:example:bob"

typedef struct fixture {
  char dir[512];
  msgstore_t *store;
  eventlog_t *log;
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  if (testdir_make(f->dir, sizeof f->dir - 16, "anya-eventlog")) return -1;
  strcat(f->dir, "/dwn");
  if (msgstore_open(f->dir, NULL, &f->store) || eventlog_open(f->store, NULL, &f->log)) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  eventlog_close(f->log);
  msgstore_close(f->store);
  *strrchr(f->dir, '/') = '\0';
  testdir_remove(f->dir);
  free(f);
  return 0;
}

static void reopen(fixture_t *f) {
  eventlog_close(f->log);
  msgstore_close(f->store);
  assert_int_equal(msgstore_open(f->dir, NULL, &f->store), 0);
  assert_int_equal(eventlog_open(f->store, NULL, &f->log), 0);
}

static uint64_t rng_state;
static uint32_t rnd(uint32_t n) {
  rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
  return n ? (uint32_t)(rng_state % n) : 0;
}

static void event_indexes(msgstore_indexes_t *ix, const char *protocol, const char *iface, const char *ts) {
  msgstore_indexes_init(ix);
  assert_int_equal(msgstore_indexes_add(ix, "interface", msgstore_string(iface)), 0);
  if (protocol) assert_int_equal(msgstore_indexes_add(ix, "protocol", msgstore_string(protocol)), 0);
  assert_int_equal(msgstore_indexes_add(ix, "messageTimestamp", msgstore_string(ts)), 0);
}

/* Appends one event in its own txn; returns its watermark. */
static uint64_t append_one(fixture_t *f, const char *tenant, const char *cid, const char *protocol) {
  msgstore_indexes_t ix;
  event_indexes(&ix, protocol, "Records", "2024-01-01T00:00:00.000000Z");
  msgstore_txn_t *t;
  assert_int_equal(msgstore_txn_begin(f->store, &t), 0);
  assert_int_equal(eventlog_txn_append(f->log, t, tenant, cid, &ix), 0);
  assert_int_equal(eventlog_txn_watermark(t, 0), 0);
  assert_int_equal(msgstore_txn_commit(t), 0);
  uint64_t wm = eventlog_txn_watermark(t, 0);
  msgstore_txn_free(t);
  msgstore_indexes_free(&ix);
  return wm;
}

static void query_cids(fixture_t *f, const char *tenant, const msgstore_filter_t *fs, size_t n, uint64_t cursor,
                       char *out, size_t cap) {
  eventlog_result_t res;
  assert_int_equal(eventlog_query(f->log, tenant, fs, n, cursor, 0, &res), 0);
  out[0] = '\0';
  for (size_t i = 0; i < res.count; i++) {
    if (i) {
      assert_true(res.entries[i].watermark > res.entries[i - 1].watermark);
      strncat(out, ",", cap - strlen(out) - 1);
    }
    strncat(out, res.entries[i].message_cid, cap - strlen(out) - 1);
  }
  assert_false(res.has_more);
  eventlog_result_free(&res);
}

static void test_watermarks(void **state) {
  fixture_t *f = *state;
  uint64_t a = append_one(f, TENANT, "m1", "p1");
  uint64_t b = append_one(f, TENANT, "m2", "p2");
  uint64_t other = append_one(f, OTHER, "x1", "p1");
  assert_true(a > 0 && b > a);
  assert_true(other > 0);   /* per tenant: its own counter */
  /* several appends in one txn: increasing in append order */
  msgstore_indexes_t ix;
  event_indexes(&ix, "p1", "Records", "2024");
  msgstore_txn_t *t;
  assert_int_equal(msgstore_txn_begin(f->store, &t), 0);
  assert_int_equal(eventlog_txn_append(f->log, t, TENANT, "m3", &ix), 0);
  assert_int_equal(eventlog_txn_append(f->log, t, TENANT, "m4", &ix), 1);
  assert_int_equal(msgstore_txn_commit(t), 0);
  uint64_t c = eventlog_txn_watermark(t, 0), d = eventlog_txn_watermark(t, 1);
  assert_true(c > b && d > c);
  msgstore_txn_free(t);
  /* an uncommitted txn leaves nothing */
  uint64_t keys_before, keys_after;
  assert_int_equal(msgstore_count_keys(f->store, &keys_before), 0);
  assert_int_equal(msgstore_txn_begin(f->store, &t), 0);
  assert_int_equal(eventlog_txn_append(f->log, t, TENANT, "lost", &ix), 0);
  msgstore_txn_free(t);
  assert_int_equal(msgstore_count_keys(f->store, &keys_after), 0);
  assert_int_equal(keys_after, keys_before);
  char out[256];
  query_cids(f, TENANT, NULL, 0, 0, out, sizeof out);
  assert_string_equal(out, "m1,m2,m3,m4");
  /* deleting the newest events does not let their watermarks come back, nor does a reopen */
  const char *newest[] = {"m4", "m3"};
  assert_int_equal(msgstore_txn_begin(f->store, &t), 0);
  assert_int_equal(eventlog_txn_delete(f->log, t, TENANT, newest, 2), 2);
  assert_int_equal(msgstore_txn_commit(t), 0);
  msgstore_txn_free(t);
  reopen(f);
  uint64_t e = append_one(f, TENANT, "m5", "p1");
  assert_true(e > d);
  query_cids(f, TENANT, NULL, 0, 0, out, sizeof out);
  assert_string_equal(out, "m1,m2,m5");
  query_cids(f, TENANT, NULL, 0, a, out, sizeof out);
  assert_string_equal(out, "m2,m5");
  query_cids(f, TENANT, NULL, 0, e, out, sizeof out);
  assert_string_equal(out, "");
  query_cids(f, TENANT, NULL, 0, UINT64_MAX, out, sizeof out);
  assert_string_equal(out, "");
  /* text form: fixed width, sorts like the number */
  char ta[EVENTLOG_WATERMARK_BYTES], te[EVENTLOG_WATERMARK_BYTES];
  eventlog_watermark_format(a, ta);
  eventlog_watermark_format(e, te);
  assert_int_equal(strlen(ta), 16);
  assert_true(strcmp(ta, te) < 0);
  uint64_t back;
  assert_int_equal(eventlog_watermark_parse(te, &back), 0);
  assert_int_equal(back, e);
  assert_int_equal(eventlog_watermark_parse("123", &back), -EINVAL);
  assert_int_equal(eventlog_watermark_parse("000000000000000g", &back), -EINVAL);
  msgstore_indexes_free(&ix);
}

static void test_filters_and_delete(void **state) {
  fixture_t *f = *state;
  append_one(f, TENANT, "first", NULL);   /* creates the tenant and its watermark key */
  uint64_t before, during, after;
  assert_int_equal(msgstore_count_keys(f->store, &before), 0);
  append_one(f, TENANT, "a", "p1");
  append_one(f, TENANT, "b", "p2");
  append_one(f, TENANT, "c", NULL);
  append_one(f, TENANT, "d", "p1");
  assert_int_equal(msgstore_count_keys(f->store, &during), 0);
  assert_int_equal(during - before, 4 * 2 + 3);   /* E and e per event, F per protocol */
  char out[256];
  msgstore_condition_t p1 = {.property = "protocol", .op = MSGSTORE_EQ, .value = msgstore_string("p1")};
  msgstore_filter_t fp1 = {&p1, 1};
  query_cids(f, TENANT, &fp1, 1, 0, out, sizeof out);
  assert_string_equal(out, "a,d");
  msgstore_value_t both[] = {msgstore_string("p2"), msgstore_string("p1")};
  msgstore_condition_t p12 = {.property = "protocol", .op = MSGSTORE_ONE_OF, .values = both, .value_count = 2};
  msgstore_filter_t fp12 = {&p12, 1};
  query_cids(f, TENANT, &fp12, 1, 0, out, sizeof out);
  assert_string_equal(out, "a,b,d");
  /* OR with a filter that needs the full scan */
  msgstore_condition_t rec = {.property = "interface", .op = MSGSTORE_EQ, .value = msgstore_string("Records")};
  msgstore_condition_t ts = {.property = "messageTimestamp", .op = MSGSTORE_RANGE, .has_lower = true,
                             .lower = msgstore_string("2025")};
  msgstore_condition_t rects[] = {rec, ts};
  msgstore_filter_t or[] = {fp1, {rects, 2}};
  query_cids(f, TENANT, or, 2, 0, out, sizeof out);
  assert_string_equal(out, "a,d");
  msgstore_filter_t all_rec = {&rec, 1};
  query_cids(f, TENANT, &all_rec, 1, 0, out, sizeof out);
  assert_string_equal(out, "first,a,b,c,d");
  /* delete by messageCids: unknown ones are skipped; every key goes */
  const char *gone[] = {"a", "b", "c", "d", "nope"};
  msgstore_txn_t *t;
  assert_int_equal(msgstore_txn_begin(f->store, &t), 0);
  assert_int_equal(eventlog_txn_delete(f->log, t, TENANT, gone, 5), 4);
  assert_int_equal(msgstore_txn_commit(t), 0);
  msgstore_txn_free(t);
  assert_int_equal(msgstore_count_keys(f->store, &after), 0);
  assert_int_equal(after, before);
  query_cids(f, TENANT, &fp12, 1, 0, out, sizeof out);
  assert_string_equal(out, "");
  /* append and delete in one txn cancel */
  msgstore_indexes_t ix;
  event_indexes(&ix, "p1", "Records", "2024");
  assert_int_equal(msgstore_txn_begin(f->store, &t), 0);
  assert_int_equal(eventlog_txn_append(f->log, t, TENANT, "tmp", &ix), 0);
  const char *tmp[] = {"tmp"};
  assert_int_equal(eventlog_txn_delete(f->log, t, TENANT, tmp, 1), 1);
  assert_int_equal(msgstore_txn_commit(t), 0);
  assert_int_equal(eventlog_txn_watermark(t, 0), 0);
  msgstore_txn_free(t);
  assert_int_equal(msgstore_count_keys(f->store, &after), 0);
  assert_int_equal(after, before);
  msgstore_indexes_free(&ix);
  /* other tenants see nothing of it */
  query_cids(f, OTHER, NULL, 0, 0, out, sizeof out);
  assert_string_equal(out, "");
}

/* Random events, random filters and page sizes against a brute-force model. */
#define EVENTS 400
typedef struct model {
  char cid[16];
  char protocol[8];   /* "" = none */
  char tag[8];
  char ts[32];
  uint64_t wm;
  bool live;
} model_t;

static void test_random_against_model(void **state) {
  fixture_t *f = *state;
  rng_state = 0xe7e27106ull;
  static model_t m[EVENTS];
  msgstore_txn_t *t = NULL;
  size_t in_txn = 0, first_in_txn = 0;
  for (size_t i = 0; i < EVENTS; i++) {
    memset(&m[i], 0, sizeof m[i]);
    snprintf(m[i].cid, sizeof m[i].cid, "e%zu", i);
    if (rnd(4)) snprintf(m[i].protocol, sizeof m[i].protocol, "p%u", rnd(5));
    snprintf(m[i].tag, sizeof m[i].tag, "p%u", rnd(5));
    snprintf(m[i].ts, sizeof m[i].ts, "2024-01-01T00:00:%02u.000000Z", rnd(60));
    m[i].live = true;
    msgstore_indexes_t ix;
    event_indexes(&ix, m[i].protocol[0] ? m[i].protocol : NULL, rnd(2) ? "Records" : "Protocols", m[i].ts);
    assert_int_equal(msgstore_indexes_add(&ix, "tag.protocol", msgstore_string(m[i].tag)), 0);
    if (!t) assert_int_equal(msgstore_txn_begin(f->store, &t), 0), first_in_txn = i, in_txn = 0;
    assert_int_equal(eventlog_txn_append(f->log, t, TENANT, m[i].cid, &ix), (int)in_txn++);
    msgstore_indexes_free(&ix);
    if (rnd(5) == 0 || i + 1 == EVENTS) {
      assert_int_equal(msgstore_txn_commit(t), 0);
      for (size_t k = first_in_txn; k <= i; k++) m[k].wm = eventlog_txn_watermark(t, k - first_in_txn);
      msgstore_txn_free(t);
      t = NULL;
    }
  }
  for (size_t i = 1; i < EVENTS; i++) assert_true(m[i].wm > m[i - 1].wm);
  static const char *names[] = {"p0", "p1", "p2", "p3", "p4", "p5"};
  for (int round = 0; round < 200; round++) {
    size_t n = rnd(3);
    msgstore_condition_t conds[3][2];
    msgstore_filter_t fs[3];
    msgstore_value_t vals[3][3];
    for (size_t i = 0; i < n; i++) {
      fs[i].conditions = conds[i];
      fs[i].count = 1 + rnd(2);
      for (size_t j = 0; j < fs[i].count; j++) {
        const char *prop = rnd(2) ? "protocol" : "tag.protocol";
        if (rnd(2)) {
          conds[i][j] = (msgstore_condition_t){.property = prop, .op = MSGSTORE_EQ, .value = msgstore_string(names[rnd(6)])};
        } else {
          size_t k = 1 + rnd(3);
          for (size_t v = 0; v < k; v++) vals[i][v] = msgstore_string(names[rnd(6)]);
          conds[i][j] = (msgstore_condition_t){.property = prop, .op = MSGSTORE_ONE_OF, .values = vals[i], .value_count = k};
        }
        if (rnd(4) == 0)
          conds[i][j] = (msgstore_condition_t){.property = "messageTimestamp", .op = MSGSTORE_RANGE, .has_upper = true,
                                               .upper = msgstore_string("2024-01-01T00:00:30.000000Z")};
      }
    }
    /* the model */
    size_t expected[EVENTS], expected_count = 0;
    for (size_t i = 0; i < EVENTS; i++) {
      if (!m[i].live) continue;
      bool any = n == 0;
      for (size_t a = 0; !any && a < n; a++) {
        bool all = true;
        for (size_t b = 0; all && b < fs[a].count; b++) {
          const msgstore_condition_t *c = &fs[a].conditions[b];
          if (c->op == MSGSTORE_RANGE) {
            all = strcmp(m[i].ts, c->upper.string) < 0;
            continue;
          }
          const char *v = strcmp(c->property, "protocol") == 0 ? m[i].protocol : m[i].tag;
          bool hit = false;
          if (c->op == MSGSTORE_EQ) hit = v[0] && strcmp(v, c->value.string) == 0;
          for (size_t k = 0; c->op == MSGSTORE_ONE_OF && k < c->value_count; k++)
            hit = hit || (v[0] && strcmp(v, c->values[k].string) == 0);
          all = hit;
        }
        any = all;
      }
      if (any) expected[expected_count++] = i;
    }
    /* walk in pages */
    size_t limit = 1 + rnd(40), got = 0;
    uint64_t cursor = 0;
    for (int page = 0; page <= EVENTS; page++) {
      eventlog_result_t res;
      assert_int_equal(eventlog_query(f->log, TENANT, fs, n, cursor, limit, &res), 0);
      for (size_t i = 0; i < res.count; i++) {
        assert_true(got < expected_count);
        assert_string_equal(res.entries[i].message_cid, m[expected[got]].cid);
        assert_int_equal(res.entries[i].watermark, m[expected[got]].wm);
        got++;
      }
      bool more = res.has_more;
      if (res.count) cursor = res.entries[res.count - 1].watermark;
      eventlog_result_free(&res);
      if (!more) break;
    }
    assert_int_equal(got, expected_count);
    if (round % 40 == 39) {
      const char *gone[EVENTS];
      size_t g = 0;
      for (size_t i = 0; i < EVENTS; i++)
        if (m[i].live && rnd(6) == 0) gone[g++] = m[i].cid, m[i].live = false;
      assert_int_equal(msgstore_txn_begin(f->store, &t), 0);
      assert_int_equal(eventlog_txn_delete(f->log, t, TENANT, gone, g), (int)g);
      assert_int_equal(msgstore_txn_commit(t), 0);
      msgstore_txn_free(t);
      t = NULL;
      reopen(f);
    }
  }
}

/* Concurrent committers (grouped into shared fsyncs) and a reader polling
 * with its cursor: the reader sees every event exactly once, in the log's
 * order, because what is visible is always a prefix of watermark order. */
#define WRITERS 6
#define PER_WRITER 60
typedef struct conc {
  fixture_t *f;
  int id;
  uint64_t wms[PER_WRITER];
  int failures;
} conc_t;

static void *conc_writer(void *p) {
  conc_t *c = p;
  for (int i = 0; i < PER_WRITER; i++) {
    char cid[32];
    snprintf(cid, sizeof cid, "w%d-%d", c->id, i);
    msgstore_indexes_t ix;
    msgstore_indexes_init(&ix);
    msgstore_txn_t *t;
    if (msgstore_indexes_add(&ix, "dateCreated", msgstore_string(cid)) || msgstore_txn_begin(c->f->store, &t)) {
      c->failures++;
      continue;
    }
    if (msgstore_txn_put(t, TENANT, cid, (const uint8_t *)cid, strlen(cid), &ix) ||
        eventlog_txn_append(c->f->log, t, TENANT, cid, &ix) != 0 || msgstore_txn_commit(t))
      c->failures++;
    __atomic_store_n(&c->wms[i], eventlog_txn_watermark(t, 0), __ATOMIC_RELEASE);
    msgstore_txn_free(t);
    msgstore_indexes_free(&ix);
  }
  return NULL;
}

static void test_concurrent_commits(void **state) {
  fixture_t *f = *state;
  append_one(f, TENANT, "start", NULL);
  static conc_t w[WRITERS];
  pthread_t tids[WRITERS];
  for (int k = 0; k < WRITERS; k++) {
    w[k] = (conc_t){.f = f, .id = k};
    assert_int_equal(pthread_create(&tids[k], NULL, conc_writer, &w[k]), 0);
  }
  static char seen[WRITERS * PER_WRITER + 2][32];
  static uint64_t seen_wm[WRITERS * PER_WRITER + 2];
  size_t seen_count = 0;
  uint64_t cursor = 0;
  int idle = 0;
  /* poll until the writers are done and one more poll finds nothing */
  for (int polls = 0; polls < 1000000 && idle < 2; polls++) {
    eventlog_result_t res;
    assert_int_equal(eventlog_query(f->log, TENANT, NULL, 0, cursor, 7, &res), 0);
    for (size_t i = 0; i < res.count; i++) {
      assert_true(seen_count < WRITERS * PER_WRITER + 2);
      snprintf(seen[seen_count], 32, "%s", res.entries[i].message_cid);
      seen_wm[seen_count++] = res.entries[i].watermark;
      cursor = res.entries[i].watermark;
    }
    bool empty = res.count == 0;
    eventlog_result_free(&res);
    if (empty) {
      bool done = true;
      for (int k = 0; k < WRITERS; k++) done = done && __atomic_load_n(&w[k].wms[PER_WRITER - 1], __ATOMIC_ACQUIRE);
      if (done) idle++;
      else usleep(100);
    }
  }
  for (int k = 0; k < WRITERS; k++) {
    pthread_join(tids[k], NULL);
    assert_int_equal(w[k].failures, 0);
  }
  assert_int_equal(seen_count, WRITERS * PER_WRITER + 1);
  for (size_t i = 1; i < seen_count; i++) assert_true(seen_wm[i] > seen_wm[i - 1]);
  /* every committer's watermark is its event's, each writer's in its own order */
  for (int k = 0; k < WRITERS; k++) {
    for (int i = 0; i < PER_WRITER; i++) {
      char cid[32];
      snprintf(cid, sizeof cid, "w%d-%d", k, i);
      size_t at = 0;
      while (at < seen_count && strcmp(seen[at], cid) != 0) at++;
      assert_true(at < seen_count);
      assert_int_equal(seen_wm[at], w[k].wms[i]);
      if (i) assert_true(w[k].wms[i] > w[k].wms[i - 1]);
    }
  }
  /* and the messages are all there */
  msgstore_query_t q = {.sort_property = "dateCreated"};
  msgstore_result_t res;
  assert_int_equal(msgstore_query(f->store, TENANT, &q, &res), 0);
  assert_int_equal(res.count, WRITERS * PER_WRITER);
  msgstore_result_free(&res);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_watermarks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_filters_and_delete, setup, teardown),
      cmocka_unit_test_setup_teardown(test_random_against_model, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_commits, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
