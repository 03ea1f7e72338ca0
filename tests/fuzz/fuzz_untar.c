/*
 * fuzz_untar: the tar reader of `anya get` through the daemon
 * (tools/untar.h) over arbitrary bytes.  The first byte picks a feed size.
 * Properties: fed whole and in pieces, the same result and the same
 * entries and bytes; data only between begin and end; a file's bytes add
 * up to its size.  A violated property aborts.  (tools/ is not a library:
 * the reader is compiled in here.)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "../../tools/untar.c"

typedef struct run {
  buf_t log;
  bool open;
  uint64_t want, got;
} run_t;

static int on_begin(void *ctx, const untar_entry_t *e) {
  run_t *r = ctx;
  if (r->open) abort();
  r->open = true;
  r->want = e->size, r->got = 0;
  if (e->type != '0' && e->size) abort();
  return buf_printf(&r->log, "B%c%o %llu %s -> %s\n", e->type, e->mode, (unsigned long long)e->size, e->path, e->link);
}

static int on_data(void *ctx, const uint8_t *data, size_t len) {
  run_t *r = ctx;
  if (!r->open || len == 0) abort();
  r->got += len;
  if (r->got > r->want) abort();
  return buf_append(&r->log, data, len);
}

static int on_end(void *ctx) {
  run_t *r = ctx;
  if (!r->open || r->got != r->want) abort();
  r->open = false;
  return buf_append(&r->log, "E", 1);
}

static int parse(const uint8_t *in, size_t len, size_t step, run_t *r) {
  untar_ops_t ops = {on_begin, on_data, on_end, r};
  untar_t *u;
  if (untar_new(&ops, &u)) return -ENOMEM;
  int rc = 0;
  for (size_t i = 0; i < len && !rc; i += step) rc = untar_feed(u, in + i, len - i < step ? len - i : step);
  if (!rc) rc = untar_finish(u);
  untar_free(u);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t step = (size_t)data[0] * 7 % 613 + 1;
  run_t whole = {0}, pieces = {0};
  int a = parse(data + 1, size - 1, size, &whole);
  int b = parse(data + 1, size - 1, step, &pieces);
  if (a != b) abort();
  if (whole.log.len != pieces.log.len || memcmp(whole.log.data, pieces.log.data, whole.log.len) != 0) abort();
  buf_free(&whole.log);
  buf_free(&pieces.log);
  return 0;
}
