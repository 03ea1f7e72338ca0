/*
 * dwn crash safety: a child process writes a stream of RecordsWrites through
 * dwn_process (small inline records and some above DWN_INLINE_DATA_BYTES_MAX,
 * whose data goes to the block engine) and reports every acknowledged (202)
 * message through a pipe; the parent SIGKILLs it at seeded random points.
 * After each kill, on a reopened engine: every acknowledged record reads back
 * with its exact data (RecordsRead), RecordsQuery lists exactly the
 * acknowledged records plus at most the one in flight (whole, or absent), and
 * the block engine's fsck is clean.  Rounds and writes are bounded
 * (CRASH_ROUNDS, CRASH_WRITES_MAX).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bs.h"
#include "buf.h"
#include "dwn/build.h"
#include "dwn/did.h"
#include "dwn/dwn.h"
#include "dwn/jwk.h"
#include "dwn/timestamp.h"

#include "testdir.h"

#define CRASH_ROUNDS 10
#define CRASH_WRITES_MAX 400     /* a child writes at most this many records */
#define CRASH_LARGE_EVERY 5      /* every 5th record is large */
#define CRASH_LARGE_BYTES_MAX 200000
#define CRASH_SMALL_BYTES_MAX 4000

static uint64_t rng_state;
static uint32_t rnd(uint32_t n) {
  rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state % n);
}

typedef struct fixture {
  char dir[512];
  json_t *priv;
  char did[256];
  char kid[512];
  dwn_build_signer_t signer;
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_int_equal(testdir_make(f->dir, sizeof f->dir, "anya-dwn-crash"), 0);
  json_t *pub = NULL;
  assert_int_equal(jwk_generate(JWK_CRV_ED25519, &f->priv, &pub), 0);
  buf_t did = {0};
  assert_int_equal(did_key_from_jwk(pub, &did), 0);
  json_decref(pub);
  snprintf(f->did, sizeof f->did, "%s", (const char *)did.data);
  snprintf(f->kid, sizeof f->kid, "%s#%s", f->did, f->did + strlen("did:key:"));
  buf_free(&did);
  f->signer.private_jwk = f->priv;
  f->signer.kid = f->kid;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  json_decref(f->priv);
  testdir_remove(f->dir);
  free(f);
  return 0;
}

static void open_engine(const fixture_t *f, bs_t **bs, dwn_t **d) {
  char path[600];
  snprintf(path, sizeof path, "%s/blocks", f->dir);
  assert_int_equal(bs_open(path, NULL, bs), 0);
  snprintf(path, sizeof path, "%s/dwn", f->dir);
  dwn_options_t opts = {.dir = path, .bs = *bs};
  assert_int_equal(dwn_open(&opts, d), 0);
}

static size_t record_len(int round, uint32_t i) {
  uint64_t x = ((uint64_t)round << 32 | i) * 0x9E3779B97F4A7C15ull;
  x ^= x >> 29;
  if (i % CRASH_LARGE_EVERY == CRASH_LARGE_EVERY - 1)
    return DWN_INLINE_DATA_BYTES_MAX + 1 + (size_t)(x % (CRASH_LARGE_BYTES_MAX - DWN_INLINE_DATA_BYTES_MAX));
  return 1 + (size_t)(x % CRASH_SMALL_BYTES_MAX);
}

/* Record i of round: its data (into out, record_len bytes) and its message,
 * the same in the child and the parent (fixed timestamps, Ed25519). */
static json_t *record_message(const fixture_t *f, int round, uint32_t i, uint8_t *data, size_t len) {
  testdir_fill(data, len, (uint32_t)round * 100003u + i);
  char ts[DWN_TIME_TEXT_BYTES], schema[64];
  assert_int_equal(dwn_time_format(1704067200000000LL + ((int64_t)round * 100000 + i) * 1000000LL, ts), 0);
  snprintf(schema, sizeof schema, "https://example.com/crash/%d", round);
  dwn_build_write_t w;
  dwn_build_write_init(&w);
  w.data_format = "application/octet-stream";
  w.schema = schema;
  w.has_data = true;
  w.data = data;
  w.data_len = len;
  w.message_timestamp = ts;
  json_t *m = NULL;
  assert_int_equal(dwn_build_records_write(&w, &f->signer, &m), 0);
  return m;
}

static void crash_child(const fixture_t *f, int round, int ack_fd) {
  bs_t *bs;
  dwn_t *d;
  open_engine(f, &bs, &d);
  uint8_t *data = malloc(CRASH_LARGE_BYTES_MAX);
  if (!data) _exit(3);
  for (uint32_t i = 0; i < CRASH_WRITES_MAX; i++) {
    size_t len = record_len(round, i);
    json_t *m = record_message(f, round, i, data, len);
    int fd = memfd_create("dwn-crash", MFD_CLOEXEC);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) != 0) _exit(4);
    dwn_reply_t reply;
    if (dwn_process(d, f->did, m, fd, &reply) != 0 || reply.code != 202) _exit(5);
    dwn_reply_release(&reply);
    close(fd);
    json_decref(m);
    if (write(ack_fd, &i, sizeof i) != sizeof i) _exit(6);
  }
  /* the parent kills us before we get here; stay until it does */
  for (;;) pause();
}

/* RecordsRead of record i: 200 with the exact data (returns true) or 404 (false). */
static bool record_present(const fixture_t *f, dwn_t *d, int round, uint32_t i, uint8_t *data) {
  size_t len = record_len(round, i);
  json_t *m = record_message(f, round, i, data, len);
  json_t *filter = json_pack("{s:s}", "recordId", json_string_value(json_object_get(m, "recordId")));
  json_t *r = NULL;
  assert_int_equal(dwn_build_records_read(filter, NULL, &f->signer, &r), 0);
  dwn_reply_t reply;
  assert_int_equal(dwn_process(d, f->did, r, -1, &reply), 0);
  bool present = reply.code == 200;
  if (!present) {
    assert_int_equal(reply.code, 404);
  } else {
    buf_t got = {0};
    assert_int_equal(dwn_reply_data(d, &reply, &got), 0);
    assert_int_equal(got.len, len);
    assert_memory_equal(got.data, data, len);
    buf_free(&got);
  }
  dwn_reply_release(&reply);
  json_decref(r);
  json_decref(filter);
  json_decref(m);
  return present;
}

static void test_crash_loop(void **state) {
  fixture_t *f = *state;
  rng_state = 0x5eed0dd5;
  uint8_t *data = malloc(CRASH_LARGE_BYTES_MAX);
  assert_non_null(data);
  for (int round = 0; round < CRASH_ROUNDS; round++) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      crash_child(f, round, fds[1]);
      _exit(0);
    }
    close(fds[1]);
    uint32_t want = 2 + rnd(30), v;
    int64_t acked = -1;
    while (acked + 1 < (int64_t)want) {
      ssize_t n = read(fds[0], &v, sizeof v);
      assert_int_equal(n, sizeof v);
      acked = v;
    }
    if (rnd(2)) usleep(rnd(20000)); /* kill mid-write sometimes */
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    while (read(fds[0], &v, sizeof v) == sizeof v) acked = v; /* acknowledged before the kill */
    close(fds[0]);

    bs_t *bs;
    dwn_t *d;
    open_engine(f, &bs, &d);
    for (uint32_t i = 0; i <= (uint32_t)acked; i++) assert_true(record_present(f, d, round, i, data));
    bool in_flight = record_present(f, d, round, (uint32_t)acked + 1, data);
    assert_false(record_present(f, d, round, (uint32_t)acked + 2, data));

    /* RecordsQuery by the round's schema: exactly the acknowledged (+ in flight) */
    char schema[64];
    snprintf(schema, sizeof schema, "https://example.com/crash/%d", round);
    json_t *filter = json_pack("{s:s}", "schema", schema);
    json_t *q = NULL;
    assert_int_equal(dwn_build_records_query(filter, NULL, NULL, NULL, &f->signer, &q), 0);
    dwn_reply_t reply;
    assert_int_equal(dwn_process(d, f->did, q, -1, &reply), 0);
    assert_int_equal(reply.code, 200);
    const json_t *entries = json_object_get(reply.body, "entries");
    assert_int_equal(json_array_size(entries), (size_t)acked + 1 + (in_flight ? 1 : 0));
    /* default sort dateCreated ascending = write order */
    for (uint32_t i = 0; i < json_array_size(entries); i++) {
      json_t *m = record_message(f, round, i, data, record_len(round, i));
      assert_string_equal(json_string_value(json_object_get(json_array_get(entries, i), "recordId")),
                          json_string_value(json_object_get(m, "recordId")));
      json_decref(m);
    }
    dwn_reply_release(&reply);
    json_decref(q);
    json_decref(filter);
    dwn_close(d);
    assert_int_equal(bs_fsck(bs, NULL, NULL), 0);
    assert_int_equal(bs_close(bs), 0);
  }
  free(data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_crash_loop, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
