/*
 * Fuzz target: the exporter over hostile DAGs.  The input is a list of blocks
 * (uint16 LE length, bytes); a fake block source answers any CID with block
 * number digest[0] % count, so blocks can link anything, themselves included.
 * Properties: no crash, no runaway fetching (bounded), readdir never yields an
 * empty name, pread never returns past the file's size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "exporter.h"
typedef struct { const uint8_t *p[32]; size_t n[32]; size_t count; size_t gets; } fs_t;
static int get(void *ctx, const cid_t *c, buf_t *out) {
  fs_t *f = ctx; f->gets++;
  if (f->gets > 100000) abort(); /* runaway */
  size_t i = c->hash.digest_len ? c->hash.digest[0] % f->count : 0;
  buf_reset(out);
  return buf_append(out, f->p[i], f->n[i]);
}
static size_t entries;
static int cb(void *ctx, const char *name, const cid_t *cid, uint64_t tsize) {
  if (strlen(name) == 0) abort();
  return ++entries > 200000 ? 1 : 0;
}
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fs_t f = {0};
  size_t pos = 0;
  while (pos + 2 <= size && f.count < 32) {
    size_t len = (size_t)data[pos] | (size_t)data[pos + 1] << 8; pos += 2;
    if (len > size - pos) len = size - pos;
    f.p[f.count] = data + pos; f.n[f.count] = len; f.count++; pos += len;
  }
  if (!f.count) return 0;
  block_source_t src = {get, &f};
  cid_t root = {.version = 0, .codec = CODEC_DAG_PB, .hash = {.code = MH_SHA2_256, .digest_len = 32}};
  exp_stat_t st;
  exp_stat(&src, &root, &st);
  entries = 0;
  exp_readdir(&src, &root, cb, NULL);
  cid_t out;
  exp_resolve(&src, &root, "a/b/c", &out);
  exp_resolve(&src, &root, "a", &out);
  buf_t b = {0};
  exp_readlink(&src, &root, &b);
  buf_free(&b);
  exp_file_t *fh;
  if (exp_open(&src, &root, &fh) == 0) {
    uint64_t sz = exp_size(fh);
    static uint8_t buf[65536];
    uint64_t offs[4] = {0, sz / 2, sz ? sz - 1 : 0, sz / 3};
    for (int i = 0; i < 4; i++) {
      ssize_t n = exp_pread(fh, buf, sizeof buf, offs[i]);
      if (n > 0 && (uint64_t)n > sz - offs[i]) abort();
    }
    exp_close(fh);
  }
  return 0;
}
