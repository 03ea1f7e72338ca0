/*
 * dwn_store_bench: the DWN message store and event log (engine/dwn/msgstore.h,
 * eventlog.h) with RecordsWrite-shaped index sets.
 *
 *   dwn_store_bench DIR [N]     (N defaults to 10000; DIR must not exist yet)
 *
 * 1. N messages (1 KiB of bytes each, ~20 index pairs: interface, method,
 *    schema from 10 values, protocol from 5, protocolPath, author from 20,
 *    recipient, dateCreated, messageTimestamp, datePublished for half,
 *    dataFormat, dataCid, dataSize, recordId, entryId, contextId, published,
 *    isLatestBaseState, 2 tags) each in its own synced txn with its event
 *    (as the RecordsWrite handler will commit them): sync_put_per_s;
 * 2. the same N into a second store in txns of BATCH: batch_put_per_s;
 *    and into a third by THREADS writers, one synced txn per message each
 *    (concurrent requests; the store groups their commits):
 *    concurrent_put_per_s;
 * 3. QUERIES queries as a RecordsQuery by schema does it (interface, method,
 *    isLatestBaseState, schema; dateCreated descending; limit 20):
 *    query_p50_us / query_p99_us / query_max_us;
 * 4. every page (20) of one schema: walk_pages, walk_ms;
 * 5. an event-log query by protocol (all of its events): events, events_ms.
 * Prints one line of key=value pairs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dwn/eventlog.h"
#include "dwn/msgstore.h"
#include "err.h"

#define BATCH 100
#define QUERIES 1000
#define LIMIT 20
#define MESSAGE_BYTES 1024
#define SCHEMAS 10
#define THREADS 16
#define THREADS_MAX 64

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (uint32_t)(rng % n);
}

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A CID-looking string of the usual length (59 characters). */
static void fake_cid(char out[64], const char *prefix, uint32_t i) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  uint64_t x = 0x2545F4914F6CDD1Dull * (i + 1) ^ (uint64_t)prefix[0] << 56;
  size_t n = (size_t)snprintf(out, 64, "%s", prefix);
  while (n < 59) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    out[n++] = alphabet[x & 31];
  }
  out[n] = '\0';
}

static int build(uint32_t i, msgstore_indexes_t *ix, char cid[64]) {
  char schema[64], protocol[64], author[80], recipient[80], created[40], ts[40], published[40];
  char data_cid[64], record_id[64], context[140], tag[16];
  snprintf(schema, sizeof schema, "https://schema.example/type%u", rnd(SCHEMAS));
  snprintf(protocol, sizeof protocol, "https://protocol.example/p%u", rnd(5));
  snprintf(author, sizeof author, "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2do%u", rnd(20));
  snprintf(recipient, sizeof recipient, "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2do%u", rnd(20));
  uint32_t sec = i / 1000, usec = (i % 1000) * 1000 + rnd(1000);
  snprintf(created, sizeof created, "2024-05-%02uT%02u:%02u:%02u.%06uZ", 1 + sec / 86400 % 28,
           sec / 3600 % 24, sec / 60 % 60, sec % 60, usec);
  snprintf(ts, sizeof ts, "%s", created);
  snprintf(published, sizeof published, "%s", created);
  fake_cid(cid, "bafyrei", i);
  fake_cid(data_cid, "bafkrei", i);
  fake_cid(record_id, "bafyreir", i);
  snprintf(context, sizeof context, "%s", record_id);
  msgstore_indexes_init(ix);
  int rc = 0;
  rc |= msgstore_indexes_add(ix, "interface", msgstore_string("Records"));
  rc |= msgstore_indexes_add(ix, "method", msgstore_string("Write"));
  rc |= msgstore_indexes_add(ix, "schema", msgstore_string(schema));
  rc |= msgstore_indexes_add(ix, "protocol", msgstore_string(protocol));
  rc |= msgstore_indexes_add(ix, "protocolPath", msgstore_string("post"));
  rc |= msgstore_indexes_add(ix, "author", msgstore_string(author));
  rc |= msgstore_indexes_add(ix, "recipient", msgstore_string(recipient));
  rc |= msgstore_indexes_add(ix, "dateCreated", msgstore_string(created));
  rc |= msgstore_indexes_add(ix, "messageTimestamp", msgstore_string(ts));
  bool is_published = rnd(2);
  if (is_published) rc |= msgstore_indexes_add(ix, "datePublished", msgstore_string(published));
  rc |= msgstore_indexes_add(ix, "published", msgstore_bool(is_published));
  rc |= msgstore_indexes_add(ix, "dataFormat", msgstore_string("application/json"));
  rc |= msgstore_indexes_add(ix, "dataCid", msgstore_string(data_cid));
  rc |= msgstore_indexes_add(ix, "dataSize", msgstore_number(100 + rnd(20000)));
  rc |= msgstore_indexes_add(ix, "recordId", msgstore_string(record_id));
  rc |= msgstore_indexes_add(ix, "entryId", msgstore_string(cid));
  rc |= msgstore_indexes_add(ix, "contextId", msgstore_string(context));
  rc |= msgstore_indexes_add(ix, "isLatestBaseState", msgstore_bool(true));
  snprintf(tag, sizeof tag, "status%u", rnd(4));
  rc |= msgstore_indexes_add(ix, "tag.status", msgstore_string(tag));
  rc |= msgstore_indexes_add(ix, "tag.priority", msgstore_number(rnd(5)));
  return rc;
}

/* The data, made once so every store gets the same and threads share it. */
static msgstore_indexes_t *sets;
static char (*cids)[64];
static uint8_t message[MESSAGE_BYTES];

typedef struct writer {
  msgstore_t *s;
  eventlog_t *log;
  uint32_t first, end, per_txn;
  int rc;
} writer_t;

static void *writer_main(void *p) {
  writer_t *w = p;
  msgstore_txn_t *t = NULL;
  for (uint32_t i = w->first; i < w->end && !w->rc; i++) {
    if (!t) w->rc = msgstore_txn_begin(w->s, &t);
    if (!w->rc) w->rc = msgstore_txn_put(t, "did:key:z6MkTenant", cids[i], message, sizeof message, &sets[i]);
    if (!w->rc && eventlog_txn_append(w->log, t, "did:key:z6MkTenant", cids[i], &sets[i]) < 0) w->rc = -EIO;
    if (!w->rc && ((i + 1 - w->first) % w->per_txn == 0 || i + 1 == w->end)) {
      w->rc = msgstore_txn_commit(t);
      msgstore_txn_free(t);
      t = NULL;
    }
  }
  msgstore_txn_free(t);
  return NULL;
}

/* Inserts all n into a new store at dir with `threads` writers. */
static int insert(const char *dir, uint32_t n, uint32_t per_txn, uint32_t threads, double *per_s, msgstore_t **keep,
                  eventlog_t **keep_log) {
  msgstore_t *s;
  eventlog_t *log;
  int rc = msgstore_open(dir, NULL, &s);
  if (rc || (rc = eventlog_open(s, NULL, &log))) return rc;
  /* the tenant exists before the clock starts (as in a running node) */
  msgstore_txn_t *t;
  if ((rc = msgstore_txn_begin(s, &t)) || (rc = msgstore_txn_data_ref_put(t, "did:key:z6MkTenant", "warm",
                                                                          "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")) ||
      (rc = msgstore_txn_commit(t)))
    return rc;
  msgstore_txn_free(t);
  writer_t w[THREADS_MAX];
  pthread_t tids[THREADS_MAX];
  uint64_t start = now_us();
  for (uint32_t k = 0; k < threads; k++) {
    w[k] = (writer_t){.s = s, .log = log, .first = n * k / threads, .end = n * (k + 1) / threads, .per_txn = per_txn};
    if (pthread_create(&tids[k], NULL, writer_main, &w[k])) return -EAGAIN;
  }
  for (uint32_t k = 0; k < threads; k++) {
    pthread_join(tids[k], NULL);
    if (w[k].rc && !rc) rc = w[k].rc;
  }
  *per_s = (double)n * 1e6 / (double)(now_us() - start + 1);
  if (rc || !keep) {
    eventlog_close(log);
    msgstore_close(s);
  } else {
    *keep = s, *keep_log = log;
  }
  return rc;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: dwn_store_bench DIR [N]\n");
    return 2;
  }
  uint32_t n = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 10000;
  if (n < 100) n = 100;
  if (mkdir(argv[1], 0755) != 0) {
    perror(argv[1]);
    return 2;
  }
  char dir1[4096], dir2[4096], dir3[4096];
  snprintf(dir1, sizeof dir1, "%s/sync", argv[1]);
  snprintf(dir2, sizeof dir2, "%s/batch", argv[1]);
  snprintf(dir3, sizeof dir3, "%s/concurrent", argv[1]);
  sets = calloc(n, sizeof *sets);
  cids = calloc(n, sizeof *cids);
  if (!sets || !cids) return 1;
  for (size_t i = 0; i < sizeof message; i++) message[i] = (uint8_t)rnd(256);
  for (uint32_t i = 0; i < n; i++)
    if (build(i, &sets[i], cids[i])) return 1;
  double sync_per_s, batch_per_s, conc_per_s;
  msgstore_t *s;
  eventlog_t *log;
  int rc = insert(dir2, n, BATCH, 1, &batch_per_s, NULL, NULL);
  if (!rc) rc = insert(dir3, n, 1, THREADS, &conc_per_s, NULL, NULL);
  if (!rc) rc = insert(dir1, n, 1, 1, &sync_per_s, &s, &log);
  if (rc) {
    fprintf(stderr, "insert: %s\n", err_msg(rc));
    return 1;
  }
  /* queries as RecordsQuery {schema} with the implicit conditions */
  static uint64_t lat[QUERIES];
  char schema[64];
  msgstore_condition_t conds[4] = {
      {.property = "interface", .op = MSGSTORE_EQ, .value = msgstore_string("Records")},
      {.property = "method", .op = MSGSTORE_EQ, .value = msgstore_string("Write")},
      {.property = "isLatestBaseState", .op = MSGSTORE_EQ, .value = msgstore_bool(true)},
      {.property = "schema", .op = MSGSTORE_EQ},
  };
  msgstore_filter_t filter = {conds, 4};
  uint64_t keys = 0;
  for (int i = 0; i < QUERIES; i++) {
    snprintf(schema, sizeof schema, "https://schema.example/type%u", rnd(SCHEMAS));
    conds[3].value = msgstore_string(schema);
    msgstore_query_t q = {.filters = &filter, .filter_count = 1, .sort_property = "dateCreated", .descending = true,
                          .limit = LIMIT, .want_messages = true};
    msgstore_result_t res;
    uint64_t t0 = now_us();
    rc = msgstore_query(s, "did:key:z6MkTenant", &q, &res);
    lat[i] = now_us() - t0;
    keys += res.keys_read;
    if (rc || res.count != LIMIT) {
      fprintf(stderr, "query: %d %s count %zu\n", rc, err_msg(rc), res.count);
      return 1;
    }
    msgstore_result_free(&res);
  }
  qsort(lat, QUERIES, sizeof lat[0], cmp_u64);
  /* walk every page of one schema */
  conds[3].value = msgstore_string("https://schema.example/type3");
  char cursor_cid[MSGSTORE_CID_BYTES_MAX + 1] = "", cursor_value[64] = "";
  msgstore_cursor_t cursor = {.message_cid = cursor_cid};
  uint64_t walk_start = now_us();
  size_t pages = 0, walked = 0;
  for (;;) {
    msgstore_query_t q = {.filters = &filter, .filter_count = 1, .sort_property = "dateCreated", .descending = true,
                          .limit = LIMIT, .want_messages = true, .cursor = pages ? &cursor : NULL};
    msgstore_result_t res;
    if ((rc = msgstore_query(s, "did:key:z6MkTenant", &q, &res))) {
      fprintf(stderr, "walk: %s\n", err_msg(rc));
      return 1;
    }
    pages++, walked += res.count;
    bool more = res.has_more;
    if (more) {
      snprintf(cursor_cid, sizeof cursor_cid, "%s", res.cursor.message_cid);
      snprintf(cursor_value, sizeof cursor_value, "%.*s", (int)res.cursor.value.string_len, res.cursor.value.string);
      cursor.value = msgstore_string(cursor_value);
    }
    msgstore_result_free(&res);
    if (!more || pages > n) break;
  }
  uint64_t walk_us = now_us() - walk_start;
  /* event log: every event of one protocol */
  msgstore_condition_t pc = {.property = "protocol", .op = MSGSTORE_EQ,
                             .value = msgstore_string("https://protocol.example/p2")};
  msgstore_filter_t pf = {&pc, 1};
  eventlog_result_t ev;
  uint64_t ev_start = now_us();
  if ((rc = eventlog_query(log, "did:key:z6MkTenant", &pf, 1, 0, 0, &ev))) {
    fprintf(stderr, "events: %s\n", err_msg(rc));
    return 1;
  }
  uint64_t ev_us = now_us() - ev_start;
  size_t events = ev.count;
  eventlog_result_free(&ev);
  eventlog_close(log);
  msgstore_close(s);
  for (uint32_t i = 0; i < n; i++) msgstore_indexes_free(&sets[i]);
  free(sets);
  free(cids);
  printf("dwn_store_bench records=%u sync_put_per_s=%.0f concurrent_put_per_s=%.0f writers=%d batch_put_per_s=%.0f batch=%d queries=%d limit=%d "
         "query_p50_us=%llu query_p99_us=%llu query_max_us=%llu query_keys_avg=%.1f walk_records=%zu walk_pages=%zu "
         "walk_ms=%.1f events=%zu events_ms=%.1f\n",
         n, sync_per_s, conc_per_s, THREADS, batch_per_s, BATCH, QUERIES, LIMIT, (unsigned long long)lat[QUERIES / 2],
         (unsigned long long)lat[QUERIES * 99 / 100], (unsigned long long)lat[QUERIES - 1],
         (double)keys / QUERIES, walked, pages, (double)walk_us / 1000.0, events, (double)ev_us / 1000.0);
  return 0;
}
