/*
 * fuzz_multibase: the input read two ways.
 *  - as text, in every base (unprefixed) and as a prefixed string: whatever a
 *    strict decoder accepts must re-encode to exactly the same text;
 *  - as bytes, encoded in every base: decoding gives the bytes back, the
 *    buffer and stack encoders agree, and the limb-based base58btc/base36
 *    encoder agrees with a plain digit-at-a-time reference written here.
 * A violated property aborts.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "multibase.h"

static const mbase_t bases[] = {MBASE_BASE32,    MBASE_BASE32_UPPER, MBASE_BASE58BTC,
                                MBASE_BASE36,    MBASE_BASE36_UPPER, MBASE_BASE64,
                                MBASE_BASE64URL, MBASE_BASE16,       MBASE_BASE16_UPPER};
#define BASE_COUNT (sizeof bases / sizeof bases[0])

/* Keeps the quadratic bases fast enough for fuzzing; the bounds themselves are unit-tested. */
#define BIGNUM_FUZZ_BYTES_MAX 1024

/* Reference: repeated division of the whole number, one digit at a time. */
static size_t reference_bignum(const uint8_t *in, size_t len, unsigned radix, const char *alphabet, char *out) {
  uint8_t *num = malloc(len ? len : 1);
  uint8_t *digits = malloc(2 * len + 1);
  if (!num || !digits) abort();
  memcpy(num, in, len);
  size_t zeros = 0, n = 0;
  while (zeros < len && in[zeros] == 0) zeros++;
  for (size_t start = zeros; start < len;) {
    unsigned rem = 0;
    for (size_t i = start; i < len; i++) {
      unsigned cur = rem * 256 + num[i];
      num[i] = (uint8_t)(cur / radix);
      rem = cur % radix;
    }
    digits[n++] = (uint8_t)rem;
    while (start < len && num[start] == 0) start++;
  }
  size_t pos = 0;
  for (size_t i = 0; i < zeros; i++) out[pos++] = alphabet[0];
  while (n > 0) out[pos++] = alphabet[digits[--n]];
  free(num);
  free(digits);
  return pos;
}

static void check_reference(mbase_t base, const uint8_t *data, size_t len, const buf_t *text) {
  const char *alphabet;
  unsigned radix;
  switch (base) {
  case MBASE_BASE58BTC: alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"; radix = 58; break;
  case MBASE_BASE36: alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"; radix = 36; break;
  case MBASE_BASE36_UPPER: alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"; radix = 36; break;
  default: return;
  }
  char *expect = malloc(2 * len + 1);
  if (!expect) abort();
  size_t n = reference_bignum(data, len, radix, alphabet, expect);
  if (text->len != n + 1 || memcmp(text->data + 1, expect, n) != 0) abort();
  free(expect);
}

static void check_text(mbase_t base, const char *text, size_t len, buf_t *bytes, buf_t *again) {
  buf_reset(bytes);
  int rc = mbase_decode(base, text, len, bytes);
  if (rc == -EINVAL) {
    if (bytes->len != 0) abort();
    return;
  }
  if (rc != 0) abort();
  buf_reset(again);
  if (mbase_encode(base, bytes->data, bytes->len, again) != 0) abort();
  if (again->len != len || (len && memcmp(again->data, text, len) != 0)) abort();
  /* the allocation-free decoder agrees */
  size_t room = mbase_decoded_len_max(base, len);
  uint8_t *raw = malloc(room ? room : 1);
  if (!raw) abort();
  int n = mbase_decode_to(base, text, len, raw, room);
  if (n < 0 || (size_t)n != bytes->len || (n && memcmp(raw, bytes->data, (size_t)n) != 0)) abort();
  free(raw);
}

static void check_bytes(mbase_t base, const uint8_t *data, size_t len, buf_t *text, buf_t *back) {
  buf_reset(text);
  if (mbase_encode_prefixed(base, data, len, text) != 0) abort();
  if (text->len - 1 > mbase_encoded_len_max(base, len) || text->data[0] != (uint8_t)base) abort();
  check_reference(base, data, len, text);
  mbase_t family = (mbase_t)0;
  buf_reset(back);
  if (mbase_decode_prefixed((const char *)text->data, text->len, back, &family) != 0) abort();
  if (back->len != len || (len && memcmp(back->data, data, len) != 0)) abort();
  if (family != base && family != (mbase_t)(base | 0x20)) abort(); /* the lower-case family */
  /* the stack encoder writes the same text, given the documented room, and refuses less */
  size_t size = mbase_encoded_len_max(base, len) + 2;
  char *out = malloc(size);
  if (!out) abort();
  if (mbase_encode_to(base, true, data, len, out, size) != (int)text->len) abort();
  if (memcmp(out, text->data, text->len) != 0 || out[text->len] != '\0') abort();
  if (mbase_encode_to(base, true, data, len, out, size - 1) != -ENOSPC) abort();
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  buf_t a = {0}, b = {0};
  const char *text = (const char *)data;
  for (size_t i = 0; i < BASE_COUNT; i++) {
    bool bignum = bases[i] == MBASE_BASE58BTC || bases[i] == MBASE_BASE36 || bases[i] == MBASE_BASE36_UPPER;
    size_t len = bignum && size > BIGNUM_FUZZ_BYTES_MAX ? BIGNUM_FUZZ_BYTES_MAX : size;
    check_text(bases[i], text, len, &a, &b);
    check_bytes(bases[i], data, len, &a, &b);
  }
  /* the whole input as a prefixed string */
  buf_reset(&a);
  mbase_t family;
  size_t len = size > BIGNUM_FUZZ_BYTES_MAX ? BIGNUM_FUZZ_BYTES_MAX : size;
  int rc = mbase_decode_prefixed(text, len, &a, &family);
  if (rc == 0) {
    buf_reset(&b);
    if (mbase_encode_prefixed((mbase_t)data[0], a.data, a.len, &b) != 0) abort();
    if (b.len != len || memcmp(b.data, text, len) != 0) abort();
  } else if (rc != -EINVAL || a.len != 0) {
    abort();
  }
  buf_free(&a);
  buf_free(&b);
  return 0;
}
