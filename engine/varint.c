/*
 * varint: see varint.h.  Decoding is strict because the same number must have
 * exactly one encoding: CIDs and multihashes are compared as bytes, so a
 * padded varint would give one block two identities.
 */
#include "varint.h"

#include <assert.h>
#include <errno.h>

#include "err.h"

size_t varint_encode(uint64_t value, uint8_t *out) {
  assert(out != NULL);
  assert(value <= VARINT_VALUE_MAX);
  size_t n = 0;
  while (value >= 0x80) {
    assert(n < VARINT_BYTES_MAX - 1);
    out[n++] = (uint8_t)(value | 0x80);
    value >>= 7;
  }
  out[n++] = (uint8_t)value;
  assert(n <= VARINT_BYTES_MAX);
  return n;
}

size_t varint_size(uint64_t value) {
  size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    n++;
  }
  return n;
}

int varint_decode(const uint8_t *in, size_t len, uint64_t *value) {
  assert(in != NULL || len == 0);
  assert(value != NULL);
  uint64_t result = 0;
  /* 9 bytes carry 63 bits; a 9th byte with the continuation bit set is already over-long. */
  for (size_t i = 0; i < VARINT_BYTES_MAX; i++) {
    if (i == len) return err_set(-EAGAIN, "varint: truncated after %zu bytes", len);
    uint8_t byte = in[i];
    result |= (uint64_t)(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      if (byte == 0 && i > 0) return err_set(-EINVAL, "varint: non-minimal encoding (%zu bytes)", i + 1);
      *value = result;
      assert(result <= VARINT_VALUE_MAX);
      return (int)(i + 1);
    }
  }
  return err_set(-EINVAL, "varint: longer than %d bytes", VARINT_BYTES_MAX);
}
