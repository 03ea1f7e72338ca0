/*
 * fuzz_multipart: the streaming multipart/form-data parser (net/multipart.h)
 * over arbitrary bodies with the boundary "B".  The first input byte picks
 * a feed size; the rest is the body.  Properties: parsing the body whole and
 * in pieces gives the same result code, the same parts (headers) and the
 * same bytes; every part_data slice is non-empty; part_end follows each
 * part_begin but the last at most once.  A violated property aborts.
 *
 * The parser lives in libanyanet, which the replay and fuzz builds do not
 * link, so it is compiled in here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "multipart.c"

typedef struct run {
  buf_t log;
  int open; /* parts begun minus ended */
} run_t;

static int on_begin(void *ctx, const mp_part_t *part) {
  run_t *r = ctx;
  if (r->open != 0) abort();
  r->open = 1;
  if (buf_append(&r->log, "B", 1) || buf_append(&r->log, part, sizeof *part)) return -ENOMEM;
  return 0;
}

static int on_data(void *ctx, const uint8_t *data, size_t len) {
  run_t *r = ctx;
  if (len == 0 || r->open != 1) abort();
  return buf_append(&r->log, data, len);
}

static int on_end(void *ctx) {
  run_t *r = ctx;
  if (r->open != 1) abort();
  r->open = 0;
  return buf_append(&r->log, "E", 1);
}

static int parse(const uint8_t *body, size_t len, size_t step, run_t *r) {
  mp_callbacks_t cb = {on_begin, on_data, on_end, r};
  mp_t *p;
  if (mp_new("B", &cb, &p)) abort();
  int rc = 0;
  for (size_t i = 0; i < len && !rc; i += step) rc = mp_feed(p, body + i, len - i < step ? len - i : step);
  if (!rc) rc = mp_finish(p);
  mp_free(p);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t step = (size_t)data[0] % 17 + 1;
  run_t whole = {0}, pieces = {0};
  mp_part_t zero;
  memset(&zero, 0, sizeof zero);
  int a = parse(data + 1, size - 1, size, &whole);
  int b = parse(data + 1, size - 1, step, &pieces);
  /* an error may stop the whole parse earlier in the stream than the pieces
   * parse got (data emitted before it differs only in slicing): compare the
   * result, and the logs when both succeeded */
  if (a != b) abort();
  if (a == 0 && (whole.log.len != pieces.log.len || memcmp(whole.log.data, pieces.log.data, whole.log.len) != 0))
    abort();
  buf_free(&whole.log);
  buf_free(&pieces.log);
  return 0;
}
