/*
 * multipart: bodies as Kubo's clients send them (go-ipfs-files and
 * kubo-rpc-client: name="file", percent-encoded filenames,
 * application/x-directory parts), parsed whole, byte by byte and at every
 * split point with the same result; delimiter look-alikes inside data;
 * preamble and epilogue; the boundary from Content-Type; and every refusal
 * (truncated body, junk after a delimiter, headers too large, folded or
 * bare-LF headers, a callback's error passed through and sticking).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "multipart.h"

typedef struct trace {
  buf_t log;          /* "B name|filename|type|abspath\n" DATA "\nE\n" per part */
  int fail_at_part;   /* part_begin of this part (1-based) returns -EIO; 0 never */
  int begun;
} trace_t;

static int on_begin(void *ctx, const mp_part_t *part) {
  trace_t *t = ctx;
  if (++t->begun == t->fail_at_part) return -EIO;
  char line[16384];
  int n = snprintf(line, sizeof line, "B %s|%s%s|%s|%s\n", part->name, part->has_filename ? "=" : "",
                   part->filename, part->content_type, part->abspath);
  return buf_append(&t->log, line, (size_t)n);
}

static int on_data(void *ctx, const uint8_t *data, size_t len) {
  trace_t *t = ctx;
  assert_true(len > 0);
  return buf_append(&t->log, data, len);
}

static int on_end(void *ctx) {
  trace_t *t = ctx;
  return buf_append(&t->log, "\nE\n", 3);
}

/* Parses body in pieces of `step` bytes (0: whole); returns the finish rc. */
static int parse(const char *boundary, const void *body, size_t len, size_t step, trace_t *t) {
  mp_callbacks_t cb = {on_begin, on_data, on_end, t};
  mp_t *p;
  assert_int_equal(mp_new(boundary, &cb, &p), 0);
  int rc = 0;
  const uint8_t *b = body;
  if (step == 0) step = len ? len : 1;
  for (size_t i = 0; i < len && !rc; i += step) rc = mp_feed(p, b + i, len - i < step ? len - i : step);
  if (!rc) rc = mp_finish(p);
  mp_free(p);
  return rc;
}

static const char kubo_body[] =
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"dir\"\r\n"
    "Content-Type: application/x-directory\r\n"
    "\r\n"
    "\r\n--XyZ\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"dir%2Fa%20b.txt\"\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Abspath: /tmp/dir/a b.txt\r\n"
    "\r\n"
    "hello\r\n--Xy is not the end\r\n--XyY neither\r\r\n-\r\n--\r\n"
    "\r\n--XyZ\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"\"\r\n"
    "\r\n"
    "\r\n--XyZ--\r\n";

static const char kubo_trace[] =
    "B file|=dir|application/x-directory|\n\nE\n"
    "B file|=dir%2Fa%20b.txt|application/octet-stream|/tmp/dir/a b.txt\n"
    "hello\r\n--Xy is not the end\r\n--XyY neither\r\r\n-\r\n--\r\n\nE\n"
    "B file|=||\n\nE\n";

static void test_every_split(void **state) {
  (void)state;
  size_t len = sizeof kubo_body - 1;
  for (size_t step = 0; step <= len; step++) {
    trace_t t = {0};
    assert_int_equal(parse("XyZ", kubo_body, len, step, &t), 0);
    assert_int_equal(t.log.len, strlen(kubo_trace));
    assert_memory_equal(t.log.data, kubo_trace, t.log.len);
    buf_free(&t.log);
  }
  /* two pieces split at every point */
  for (size_t cut = 0; cut <= len; cut++) {
    trace_t t = {0};
    mp_callbacks_t cb = {on_begin, on_data, on_end, &t};
    mp_t *p;
    assert_int_equal(mp_new("XyZ", &cb, &p), 0);
    assert_int_equal(mp_feed(p, kubo_body, cut), 0);
    assert_int_equal(mp_feed(p, kubo_body + cut, len - cut), 0);
    assert_int_equal(mp_finish(p), 0);
    assert_int_equal(mp_parts(p), 3);
    mp_free(p);
    assert_memory_equal(t.log.data, kubo_trace, strlen(kubo_trace));
    buf_free(&t.log);
  }
}

static void test_preamble_epilogue_padding(void **state) {
  (void)state;
  static const char body[] =
      "this is a preamble\r\n--b  \t\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n"
      "--b--epilogue\r\n--b\r\nignored";
  trace_t t = {0};
  assert_int_equal(parse("b", body, sizeof body - 1, 0, &t), 0);
  static const char want[] = "B x|||\nv\nE\n";
  assert_int_equal(t.log.len, strlen(want));
  assert_memory_equal(t.log.data, want, t.log.len);
  buf_free(&t.log);
}

static void test_quoted_params(void **state) {
  (void)state;
  static const char body[] =
      "--b\r\ncontent-disposition: form-data ; filename=\"a \\\"q\\\" ;b\" ; name=\"f\\\\x\"\r\n"
      "X-Other: whatever\r\n\r\n\r\n--b--";
  trace_t t = {0};
  assert_int_equal(parse("b", body, sizeof body - 1, 1, &t), 0);
  static const char want[] = "B f\\x|=a \"q\" ;b||\n\nE\n";
  assert_int_equal(t.log.len, strlen(want));
  assert_memory_equal(t.log.data, want, t.log.len);
  buf_free(&t.log);
}

static void test_large_part_streams(void **state) {
  (void)state;
  /* 4 MiB of data full of CRs and partial delimiters, fed in 64 KiB pieces */
  size_t data_len = 4u << 20;
  buf_t body = {0};
  assert_int_equal(buf_append(&body, "--bound\r\n\r\n", 11), 0);
  assert_int_equal(buf_reserve(&body, data_len), 0);
  for (size_t i = 0; i < data_len; i++) {
    static const char pattern[] = "\r\n--boun\r\r\n-x";
    body.data[body.len++] = (uint8_t)pattern[(i * 7 + i / 13) % (sizeof pattern - 1)];
  }
  assert_int_equal(buf_append(&body, "\r\n--bound--\r\n", 13), 0);
  trace_t t = {0};
  assert_int_equal(parse("bound", body.data, body.len, 65536, &t), 0);
  assert_int_equal(t.log.len, 6 + data_len + 3);
  assert_memory_equal(t.log.data + 6, body.data + 11, data_len);
  buf_free(&t.log);
  buf_free(&body);
}

static void test_refusals(void **state) {
  (void)state;
  static const struct {
    const char *body;
    int rc;
  } bad[] = {
      {"--b\r\n\r\nno end", -EINVAL},                     /* truncated */
      {"", -EINVAL},                                      /* empty body */
      {"--b\r\n\r\nx\r\n--bX\r\n", -EINVAL},              /* junk after a delimiter */
      {"--b-x", -EINVAL},                                 /* single dash */
      {"--b\rx", -EINVAL},                                /* CR without LF */
      {"--b\r\nName\r\n\r\n\r\n--b--", -EINVAL},          /* header without a colon */
      {"--b\r\nA: 1\r\n folded\r\n\r\n\r\n--b--", -EINVAL}, /* folded */
      {"--b\r\nA: 1\nB: 2\r\n\r\n\r\n--b--", -EINVAL},    /* bare LF */
      {"--b\r\nContent-Disposition: form-data; name=\"open\r\n\r\n\r\n--b--", -EINVAL},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    trace_t t = {0};
    assert_int_equal(parse("b", bad[i].body, strlen(bad[i].body), 0, &t), bad[i].rc);
    buf_free(&t.log);
  }
  /* headers past MP_HEADER_BYTES_MAX */
  buf_t body = {0};
  assert_int_equal(buf_append(&body, "--b\r\nX: ", 8), 0);
  for (int i = 0; i < MP_HEADER_BYTES_MAX; i++) assert_int_equal(buf_append(&body, "a", 1), 0);
  trace_t t = {0};
  assert_int_equal(parse("b", body.data, body.len, 1000, &t), -E2BIG);
  buf_free(&body);
  buf_free(&t.log);
}

static void test_callback_error_sticks(void **state) {
  (void)state;
  trace_t t = {.fail_at_part = 2};
  mp_callbacks_t cb = {on_begin, on_data, on_end, &t};
  mp_t *p;
  assert_int_equal(mp_new("XyZ", &cb, &p), 0);
  assert_int_equal(mp_feed(p, kubo_body, sizeof kubo_body - 1), -EIO);
  assert_int_equal(mp_feed(p, "x", 1), -EIO);
  assert_int_equal(mp_finish(p), -EIO);
  mp_free(p);
  buf_free(&t.log);
}

static void test_boundary_header(void **state) {
  (void)state;
  char b[MP_BOUNDARY_BYTES_MAX + 1];
  assert_int_equal(mp_boundary("multipart/form-data; boundary=abc", b), 0);
  assert_string_equal(b, "abc");
  assert_int_equal(mp_boundary("Multipart/Form-Data;charset=utf-8;  BOUNDARY=\"a b:c\"", b), 0);
  assert_string_equal(b, "a b:c");
  assert_int_equal(mp_boundary("multipart/form-data; boundary=----WebKitFormBoundaryx1", b), 0);
  assert_string_equal(b, "----WebKitFormBoundaryx1");
  assert_int_equal(mp_boundary("application/json", b), -EINVAL);
  assert_int_equal(mp_boundary(NULL, b), -EINVAL);
  assert_int_equal(mp_boundary("multipart/form-data", b), -EINVAL);
  assert_int_equal(mp_boundary("multipart/form-data; boundary=", b), -EINVAL);
  assert_int_equal(mp_boundary("multipart/form-data; boundary=\"a\rb\"", b), -EINVAL);
  assert_int_equal(mp_boundary("multipart/form-data; boundary=\"unterminated", b), -EINVAL);
  char longer[128] = "multipart/form-data; boundary=";
  memset(longer + strlen(longer), 'x', 71);
  assert_int_equal(mp_boundary(longer, b), -EINVAL);
  mp_t *p;
  mp_callbacks_t cb = {0};
  assert_int_equal(mp_new("", &cb, &p), -EINVAL);
  assert_int_equal(mp_new("trailing ", &cb, &p), -EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_split),
      cmocka_unit_test(test_preamble_epilogue_padding),
      cmocka_unit_test(test_quoted_params),
      cmocka_unit_test(test_large_part_streams),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_callback_error_sticks),
      cmocka_unit_test(test_boundary_header),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
