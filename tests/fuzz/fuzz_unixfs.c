/*
 * fuzz_unixfs: unixfs_decode on arbitrary bytes must never crash; whatever it
 * accepts must re-encode to bytes that decode to the same fields, and that
 * encoding must be a fixed point.  Violations abort().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unixfs.h"

static bool same(const unixfs_data_t *a, const unixfs_data_t *b) {
  if (a->type != b->type || a->has_data != b->has_data || a->data_len != b->data_len) return false;
  if (a->data_len && memcmp(a->data, b->data, a->data_len) != 0) return false;
  if (a->has_filesize != b->has_filesize || a->filesize != b->filesize) return false;
  if (a->blocksizes_len != b->blocksizes_len) return false;
  for (size_t i = 0; i < a->blocksizes_len; i++)
    if (a->blocksizes[i] != b->blocksizes[i]) return false;
  return a->has_hash_type == b->has_hash_type && a->hash_type == b->hash_type &&
         a->has_fanout == b->has_fanout && a->fanout == b->fanout && a->has_mode == b->has_mode &&
         a->mode == b->mode && a->has_mtime == b->has_mtime &&
         a->mtime_seconds == b->mtime_seconds && a->has_mtime_nanos == b->has_mtime_nanos &&
         a->mtime_nanos == b->mtime_nanos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unixfs_data_t d;
  if (unixfs_decode(data, size, &d) != 0) {
    if (d.blocksizes || d.blocksizes_len) abort(); /* zeroed on error */
    return 0;
  }
  if (d.type > UNIXFS_HAMT_SHARD) abort();
  if (d.has_mtime_nanos && (d.mtime_nanos < 1 || d.mtime_nanos > 999999999)) abort();
  buf_t out = {0};
  if (unixfs_encode(&d, &out) != 0) abort();
  unixfs_data_t again;
  if (unixfs_decode(out.data, out.len, &again) != 0) abort();
  if (!same(&d, &again)) abort();
  buf_t out2 = {0};
  if (unixfs_encode(&again, &out2) != 0 || out2.len != out.len ||
      memcmp(out2.data, out.data, out.len) != 0)
    abort();
  buf_free(&out2);
  unixfs_data_free(&again);
  buf_free(&out);
  unixfs_data_free(&d);
  return 0;
}
