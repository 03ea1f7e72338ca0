/*
 * dwn_bench: the C DWN engine in-process (engine/dwn/dwn.h), the workload of
 * issue 6 that tests/bench/dwn-sdk-bench.mjs runs on dwn-sdk-js 0.5.2:
 *
 *   dwn_bench DIR [RECORDS]     (RECORDS defaults to 10000; DIR must not exist)
 *
 * Messages are built and signed before the clock starts (build.h, one
 * Ed25519 did:key owner; signing is timed on its own: sign_per_s).  Every
 * record carries DATA_BYTES of distinct data (inline) and one of SCHEMAS
 * schemas.
 *   1. SEQUENTIAL RecordsWrites, one after the other: seq_per_s;
 *   2. CONCURRENT RecordsWrites by THREADS threads: conc_per_s;
 *   3. more writes (THREADS threads, untimed) up to RECORDS records, then
 *      QUERIES RecordsQuery by one schema (RECORDS / SCHEMAS records match),
 *      limit 20, each a distinct signed message: query_p50_us, query_p99_us;
 *   4. one record of READ_BYTES (10 MiB, the block engine), read back READS
 *      times with RecordsRead, data copied out: read_mb_per_s.
 * Prints one line of key=value pairs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bs.h"
#include "buf.h"
#include "dwn/build.h"
#include "dwn/did.h"
#include "dwn/dwn.h"
#include "dwn/jwk.h"
#include "dwn/timestamp.h"
#include "err.h"

#define SEQUENTIAL 500
#define CONCURRENT 1000
#define THREADS 16
#define SCHEMAS 10
#define DATA_BYTES 256
#define QUERIES 200
#define LIMIT 20
#define READ_BYTES (10u << 20)
#define READS 5
#define RECORDS_MAX 1000000

static dwn_t *engine;
static char did[256], kid[512];
static dwn_build_signer_t signer;

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void die(const char *what, int rc) {
  fprintf(stderr, "dwn_bench: %s: %s\n", what, err_msg(rc));
  exit(1);
}

static void fill(uint8_t *out, size_t len, uint64_t seed) {
  uint64_t x = 0x9E3779B97F4A7C15ull ^ (seed * 0xBF58476D1CE4E5B9ull);
  for (size_t i = 0; i < len; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    out[i] = (uint8_t)x;
  }
}

typedef struct record {
  json_t *message;
  uint8_t data[DATA_BYTES];
} record_t;

static void build_record(record_t *r, uint32_t i) {
  char schema[64];
  snprintf(schema, sizeof schema, "https://example.com/schema/%u", i % SCHEMAS);
  fill(r->data, DATA_BYTES, i);
  dwn_build_write_t w;
  dwn_build_write_init(&w);
  w.data_format = "application/octet-stream";
  w.schema = schema;
  w.has_data = true;
  w.data = r->data;
  w.data_len = DATA_BYTES;
  int rc = dwn_build_records_write(&w, &signer, &r->message);
  if (rc) die("build", rc);
}

static int process(const json_t *m, const void *data, size_t len, dwn_reply_t *reply_out) {
  int fd = -1;
  if (data) {
    fd = memfd_create("dwn-bench", MFD_CLOEXEC);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) != 0) die("memfd", -errno);
  }
  dwn_reply_t reply;
  int rc = dwn_process(engine, did, m, fd, &reply);
  if (fd >= 0) close(fd);
  if (rc) die("process", rc);
  int code = reply.code;
  if (reply_out) *reply_out = reply;
  else dwn_reply_release(&reply);
  return code;
}

typedef struct job {
  record_t *records;
  size_t from, to, stride;
} job_t;

static void *writer(void *arg) {
  job_t *j = arg;
  for (size_t i = j->from; i < j->to; i += j->stride) {
    int code = process(j->records[i].message, j->records[i].data, DATA_BYTES, NULL);
    if (code != 202) {
      fprintf(stderr, "dwn_bench: write %zu answered %d\n", i, code);
      exit(1);
    }
    json_decref(j->records[i].message);
    j->records[i].message = NULL;
  }
  return NULL;
}

/* Writes records[from..to) by `threads` threads; returns the microseconds taken. */
static uint64_t write_all(record_t *records, size_t from, size_t to, int threads) {
  pthread_t t[THREADS];
  job_t jobs[THREADS];
  uint64_t t0 = now_us();
  for (int k = 0; k < threads; k++) {
    jobs[k] = (job_t){records, from + (size_t)k, to, (size_t)threads};
    if (pthread_create(&t[k], NULL, writer, &jobs[k]) != 0) die("thread", -EAGAIN);
  }
  for (int k = 0; k < threads; k++) pthread_join(t[k], NULL);
  return now_us() - t0;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s DIR [RECORDS]\n", argv[0]);
    return 2;
  }
  size_t total = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
  if (total < SEQUENTIAL + CONCURRENT || total > RECORDS_MAX) {
    fprintf(stderr, "dwn_bench: RECORDS must be in [%d, %d]\n", SEQUENTIAL + CONCURRENT, RECORDS_MAX);
    return 2;
  }
  if (mkdir(argv[1], 0700) != 0) die(argv[1], -errno);
  char path[4200];
  snprintf(path, sizeof path, "%.4096s/blocks", argv[1]);
  bs_t *bs = NULL;
  int rc = bs_open(path, NULL, &bs);
  snprintf(path, sizeof path, "%.4096s/dwn", argv[1]);
  dwn_options_t opts = {.dir = path, .bs = bs};
  if (!rc) rc = dwn_open(&opts, &engine);
  if (rc) die("open", rc);
  json_t *priv = NULL, *pub = NULL;
  buf_t d = {0};
  rc = jwk_generate(JWK_CRV_ED25519, &priv, &pub);
  if (!rc) rc = did_key_from_jwk(pub, &d);
  if (rc) die("key", rc);
  snprintf(did, sizeof did, "%s", (const char *)d.data);
  snprintf(kid, sizeof kid, "%s#%s", did, did + strlen("did:key:"));
  buf_free(&d);
  signer = (dwn_build_signer_t){.private_jwk = priv, .kid = kid};

  record_t *records = calloc(total, sizeof *records);
  if (!records) die("records", -ENOMEM);
  uint64_t t0 = now_us();
  for (size_t i = 0; i < total; i++) build_record(&records[i], (uint32_t)i);
  double sign_s = (double)(now_us() - t0) / 1e6;

  double seq_s = (double)write_all(records, 0, SEQUENTIAL, 1) / 1e6;
  double conc_s = (double)write_all(records, SEQUENTIAL, SEQUENTIAL + CONCURRENT, THREADS) / 1e6;
  write_all(records, SEQUENTIAL + CONCURRENT, total, THREADS);

  /* queries by one schema, limit 20, each a distinct message */
  json_t *queries[QUERIES];
  json_t *filter = json_pack("{s:s}", "schema", "https://example.com/schema/3");
  json_t *pagination = json_pack("{s:i}", "limit", LIMIT);
  int64_t base_us = dwn_time_now_us();
  for (int q = 0; q < QUERIES; q++) {
    char ts[DWN_TIME_TEXT_BYTES];
    if (dwn_time_format(base_us + q, ts) != 0) die("time", -ERANGE); /* distinct messages */
    dwn_build_common_t c = {.message_timestamp = ts};
    rc = dwn_build_records_query(filter, NULL, pagination, &c, &signer, &queries[q]);
    if (rc) die("build query", rc);
  }
  uint64_t lat[QUERIES];
  size_t entries = 0;
  for (int q = 0; q < QUERIES; q++) {
    dwn_reply_t reply;
    uint64_t a = now_us();
    int code = process(queries[q], NULL, 0, &reply);
    lat[q] = now_us() - a;
    if (code != 200) die("query status", -EPROTO);
    entries = json_array_size(json_object_get(reply.body, "entries"));
    dwn_reply_release(&reply);
    json_decref(queries[q]);
  }
  if (entries != LIMIT) {
    fprintf(stderr, "dwn_bench: a query returned %zu entries, want %d\n", entries, LIMIT);
    return 1;
  }
  qsort(lat, QUERIES, sizeof lat[0], cmp_u64);
  json_decref(filter);
  json_decref(pagination);

  /* a 10 MiB record, read back READS times */
  uint8_t *big = malloc(READ_BYTES);
  if (!big) die("big", -ENOMEM);
  fill(big, READ_BYTES, 424242);
  dwn_build_write_t w;
  dwn_build_write_init(&w);
  w.data_format = "application/octet-stream";
  w.has_data = true;
  w.data = big;
  w.data_len = READ_BYTES;
  json_t *bw = NULL;
  rc = dwn_build_records_write(&w, &signer, &bw);
  if (rc) die("build big", rc);
  if (process(bw, big, READ_BYTES, NULL) != 202) die("big write", -EPROTO);
  json_t *rf = json_pack("{s:s}", "recordId", json_string_value(json_object_get(bw, "recordId")));
  uint64_t read_us = 0;
  for (int r = 0; r < READS; r++) {
    json_t *rm = NULL;
    rc = dwn_build_records_read(rf, NULL, &signer, &rm);
    if (rc) die("build read", rc);
    uint64_t a = now_us();
    dwn_reply_t reply;
    if (process(rm, NULL, 0, &reply) != 200) die("read status", -EPROTO);
    buf_t out = {0};
    rc = dwn_reply_data(engine, &reply, &out);
    read_us += now_us() - a;
    if (rc || out.len != READ_BYTES || memcmp(out.data, big, READ_BYTES) != 0) die("read data", rc ? rc : -EIO);
    buf_free(&out);
    dwn_reply_release(&reply);
    json_decref(rm);
  }
  json_decref(rf);
  json_decref(bw);
  free(big);

  printf("records=%zu sign_per_s=%.0f seq_per_s=%.1f conc_per_s=%.1f threads=%d query_p50_us=%llu query_p99_us=%llu "
         "query_max_us=%llu read_mb_per_s=%.0f\n",
         total, (double)total / sign_s, SEQUENTIAL / seq_s, CONCURRENT / conc_s, THREADS,
         (unsigned long long)lat[QUERIES / 2], (unsigned long long)lat[QUERIES * 99 / 100],
         (unsigned long long)lat[QUERIES - 1], (double)READ_BYTES * READS / 1e6 / ((double)read_us / 1e6));
  free(records);
  json_decref(priv);
  json_decref(pub);
  dwn_close(engine);
  bs_close(bs);
  return 0;
}
