/*
 * fuzz_varint: varint_decode over arbitrary bytes, read as a stream of
 * varints (as a CAR reader does).  Properties: a decoded varint re-encodes to
 * exactly the bytes consumed (so only minimal forms are accepted); -EAGAIN
 * only when every available byte (fewer than 9) has the continuation bit;
 * -EINVAL only for a non-minimal or over-long form.  Also encode -> decode
 * for a value taken from the input.  A violated property aborts.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "varint.h"

static void check_one(const uint8_t *in, size_t len, int rc, uint64_t value) {
  /* where the encoding ends, if within the first 9 bytes */
  size_t end = 0;
  while (end < len && end < VARINT_BYTES_MAX && (in[end] & 0x80)) end++;
  if (rc > 0) {
    uint8_t again[VARINT_BYTES_MAX];
    size_t n = varint_encode(value, again);
    if ((size_t)rc != n || n != end + 1 || memcmp(again, in, n) != 0) abort();
    if (varint_size(value) != n || value > VARINT_VALUE_MAX) abort();
  } else if (rc == -EAGAIN) {
    if (end != len || len >= VARINT_BYTES_MAX) abort();
  } else if (rc == -EINVAL) {
    bool over_long = end == VARINT_BYTES_MAX;
    bool padded = !over_long && end < len && end > 0 && in[end] == 0;
    if (!over_long && !padded) abort();
  } else {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t pos = 0;
  for (int i = 0; i < 4096 && pos <= size; i++) {
    uint64_t value = 0;
    int rc = varint_decode(data + pos, size - pos, &value);
    check_one(data + pos, size - pos, rc, value);
    if (rc <= 0) break;
    pos += (size_t)rc;
  }
  if (size >= 8) {
    uint64_t value;
    memcpy(&value, data, 8);
    value &= VARINT_VALUE_MAX;
    uint8_t out[VARINT_BYTES_MAX];
    size_t n = varint_encode(value, out);
    uint64_t back = ~value;
    if (varint_decode(out, n, &back) != (int)n || back != value) abort();
    /* every proper prefix is truncated */
    for (size_t cut = 0; cut < n; cut++)
      if (varint_decode(out, cut, &back) != -EAGAIN) abort();
  }
  return 0;
}
