/*
 * multibase: see multibase.h.
 *
 * Two kinds of base live here.  base16/32/64 pack a fixed number of bits per
 * character (4, 5, 6) and share one bit-stream encoder and decoder.
 * base58btc and base36 treat the bytes as one big-endian number and convert
 * its radix, which is quadratic; leading zero bytes map one-to-one to leading
 * zero digits (the first character of the alphabet), so the conversion is a
 * bijection and needs no extra canonicality check.
 */
#include "multibase.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include "err.h"

typedef struct mbase_info {
  mbase_t base;         /* = prefix character */
  mbase_t family;       /* the lower-case base of the same alphabet family */
  const char *name;     /* multibase.csv name */
  const char *alphabet; /* digit value -> character */
  unsigned radix;       /* alphabet size */
  unsigned bits;        /* bits per character for bit-packing bases; 0 for bignum bases */
} mbase_info_t;

static const mbase_info_t mbase_table[] = {
    {MBASE_BASE32, MBASE_BASE32, "base32", "abcdefghijklmnopqrstuvwxyz234567", 32, 5},
    {MBASE_BASE32_UPPER, MBASE_BASE32, "base32upper", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 32, 5},
    {MBASE_BASE58BTC, MBASE_BASE58BTC, "base58btc",
     "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", 58, 0},
    {MBASE_BASE36, MBASE_BASE36, "base36", "0123456789abcdefghijklmnopqrstuvwxyz", 36, 0},
    {MBASE_BASE36_UPPER, MBASE_BASE36, "base36upper", "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", 36, 0},
    {MBASE_BASE64, MBASE_BASE64, "base64", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
     64, 6},
    {MBASE_BASE64URL, MBASE_BASE64URL, "base64url",
     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 64, 6},
    {MBASE_BASE16, MBASE_BASE16, "base16", "0123456789abcdef", 16, 4},
    {MBASE_BASE16_UPPER, MBASE_BASE16, "base16upper", "0123456789ABCDEF", 16, 4},
};
#define MBASE_COUNT (sizeof mbase_table / sizeof mbase_table[0])

/* character -> digit value, -1 outside the alphabet; one row per mbase_table entry */
static int8_t mbase_reverse[MBASE_COUNT][256];
static pthread_once_t mbase_reverse_once = PTHREAD_ONCE_INIT;

static void mbase_reverse_init(void) {
  for (size_t i = 0; i < MBASE_COUNT; i++) {
    memset(mbase_reverse[i], -1, sizeof mbase_reverse[i]);
    const mbase_info_t *info = &mbase_table[i];
    assert(strlen(info->alphabet) == info->radix);
    for (unsigned v = 0; v < info->radix; v++) mbase_reverse[i][(uint8_t)info->alphabet[v]] = (int8_t)v;
  }
}

static const mbase_info_t *mbase_lookup(mbase_t base) {
  for (size_t i = 0; i < MBASE_COUNT; i++)
    if (mbase_table[i].base == base) return &mbase_table[i];
  return NULL;
}

static int unknown_base(mbase_t base) {
  return err_set(-EINVAL, "multibase: unknown or unsupported base prefix 0x%02x", (unsigned)base & 0xff);
}

static const int8_t *mbase_reverse_of(const mbase_info_t *info) {
  pthread_once(&mbase_reverse_once, mbase_reverse_init);
  return mbase_reverse[info - mbase_table];
}

/* Digits of (len - zeros) non-zero-led bytes in radix 58 or 36, rounded up:
 * log(256)/log(58) = 1.3657 < 138/100, log(256)/log(36) = 1.5474 < 155/100. */
static size_t bignum_digits_max(unsigned radix, size_t len) {
  size_t per100 = radix == 58 ? 138 : 155;
  assert(radix == 58 || radix == 36);
  return len * per100 / 100 + 1;
}

size_t mbase_encoded_len_max(mbase_t base, size_t len) {
  const mbase_info_t *info = mbase_lookup(base);
  if (!info) return 0;
  if (len > SIZE_MAX / 200) return SIZE_MAX; /* saturate: no encoder accepts it anyway */
  if (info->bits == 0) return bignum_digits_max(info->radix, len);
  return (len * 8 + info->bits - 1) / info->bits;
}

/* ---- encoders: write exactly the characters, no prefix, no NUL ---- */

static size_t bits_encode(const mbase_info_t *info, const uint8_t *in, size_t len, char *out) {
  const unsigned bits = info->bits;
  const unsigned mask = (1u << bits) - 1;
  uint32_t acc = 0;  /* pending bits, the oldest at the top */
  unsigned have = 0; /* how many bits acc holds, always < bits + 8 */
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    acc = (acc << 8) | in[i];
    have += 8;
    while (have >= bits) {
      have -= bits;
      out[n++] = info->alphabet[(acc >> have) & mask];
    }
    acc &= (1u << have) - 1;
  }
  if (have > 0) out[n++] = info->alphabet[(acc << (bits - have)) & mask];
  return n;
}

/* The bignum bases convert through limbs of radix^k (58^5 and 36^6 fit in 32
 * bits) and feed up to 3 input bytes a step, so the quadratic inner loop runs
 * about 15 times fewer rounds than digit-by-digit, and with constant divisors. */
#define BIGNUM_ENCODE_LIMBS_MAX (MBASE_BIGNUM_BYTES_MAX * 8 / 29 + 2) /* log2(58^5) > 29 */
#define BIGNUM_DECODE_LIMBS_MAX (MBASE_TEXT_BYTES_MAX * 3 / 16 + 2)   /* log2(58)/32 < 3/16 */

static inline __attribute__((always_inline)) size_t
bignum_encode_k(const char *alphabet, const unsigned radix, const unsigned k, const uint32_t limb_base,
                const uint8_t *in, size_t len, char *out) {
  size_t zeros = 0;
  while (zeros < len && in[zeros] == 0) zeros++;
  assert(len - zeros <= MBASE_BIGNUM_BYTES_MAX);
  uint32_t limbs[BIGNUM_ENCODE_LIMBS_MAX]; /* little-endian, base limb_base */
  size_t n = 0;
  for (size_t i = zeros; i < len;) {
    unsigned take = len - i < 3 ? (unsigned)(len - i) : 3;
    uint64_t carry = 0;
    for (unsigned t = 0; t < take; t++) carry = (carry << 8) | in[i + t];
    i += take;
    const uint64_t mult = UINT64_C(1) << (8 * take);
    for (size_t j = 0; j < n; j++) {
      uint64_t v = (uint64_t)limbs[j] * mult + carry;
      limbs[j] = (uint32_t)(v % limb_base);
      carry = v / limb_base;
    }
    while (carry > 0) {
      assert(n < BIGNUM_ENCODE_LIMBS_MAX);
      limbs[n++] = (uint32_t)(carry % limb_base);
      carry /= limb_base;
    }
  }
  for (size_t i = 0; i < zeros; i++) out[i] = alphabet[0];
  size_t pos = zeros;
  if (n == 0) return pos;
  /* the top limb without its leading zero digits, then k digits per limb */
  char top[8];
  unsigned top_len = 0;
  for (uint32_t v = limbs[n - 1]; v > 0; v /= radix) top[top_len++] = alphabet[v % radix];
  while (top_len > 0) out[pos++] = top[--top_len];
  for (size_t j = n - 1; j-- > 0;) {
    uint32_t v = limbs[j];
    for (unsigned d = k; d-- > 0; v /= radix) out[pos + d] = alphabet[v % radix];
    pos += k;
  }
  return pos;
}

static size_t bignum_encode(const mbase_info_t *info, const uint8_t *in, size_t len, char *out) {
  if (info->radix == 58) return bignum_encode_k(info->alphabet, 58, 5, 656356768u, in, len, out);
  assert(info->radix == 36);
  return bignum_encode_k(info->alphabet, 36, 6, 2176782336u, in, len, out);
}

/* The encoders' input bounds: each text they produce must be one the decoders accept. */
static int encode_check(const mbase_info_t *info, size_t len) {
  if (info->bits == 0 && len > MBASE_BIGNUM_BYTES_MAX)
    return err_set(-E2BIG, "multibase: %zu bytes exceed the %s limit of %d", len, info->name,
                   MBASE_BIGNUM_BYTES_MAX);
  if (info->bits != 0 && mbase_encoded_len_max(info->base, len) > MBASE_LINEAR_TEXT_BYTES_MAX)
    return err_set(-E2BIG, "multibase: %zu bytes encode to more than %zu characters", len,
                   MBASE_LINEAR_TEXT_BYTES_MAX);
  return 0;
}

int mbase_encode_to(mbase_t base, bool prefixed, const uint8_t *in, size_t len, char *out, size_t out_size) {
  assert(in != NULL || len == 0);
  assert(out != NULL || out_size == 0);
  const mbase_info_t *info = mbase_lookup(base);
  if (!info) return unknown_base(base);
  int rc = encode_check(info, len);
  if (rc) return rc;
  size_t need = mbase_encoded_len_max(base, len);
  size_t pre = prefixed ? 1 : 0;
  if (out_size < need + pre + 1) return err_set(-ENOSPC, "multibase: output buffer too small");
  if (prefixed) out[0] = (char)base;
  size_t n = info->bits ? bits_encode(info, in, len, out + pre) : bignum_encode(info, in, len, out + pre);
  assert(n <= need);
  out[pre + n] = '\0';
  assert(pre + n <= INT_MAX);
  return (int)(pre + n);
}

static int encode_buf(mbase_t base, bool prefixed, const uint8_t *in, size_t len, buf_t *out) {
  assert(out != NULL);
  const mbase_info_t *info = mbase_lookup(base);
  if (!info) return unknown_base(base);
  int rc = encode_check(info, len);
  if (rc) return rc;
  rc = buf_reserve(out, mbase_encoded_len_max(base, len) + 2);
  if (rc) return rc;
  rc = mbase_encode_to(base, prefixed, in, len, (char *)out->data + out->len, out->cap - out->len);
  if (rc < 0) return rc;
  out->len += (size_t)rc; /* the NUL stays after len, as buf_cstr leaves it */
  return 0;
}

int mbase_encode(mbase_t base, const uint8_t *in, size_t len, buf_t *out) {
  return encode_buf(base, false, in, len, out);
}

int mbase_encode_prefixed(mbase_t base, const uint8_t *in, size_t len, buf_t *out) {
  return encode_buf(base, true, in, len, out);
}

/* ---- decoders: append to out, which has room reserved by the caller ---- */

static int bad_char(const mbase_info_t *info, const char *text, size_t pos) {
  return err_set(-EINVAL, "multibase: invalid %s character 0x%02x at position %zu", info->name,
                 (unsigned)(uint8_t)text[pos], pos);
}

static int bits_decode(const mbase_info_t *info, const char *text, size_t len, uint8_t *out, size_t *out_len) {
  const int8_t *rev = mbase_reverse_of(info);
  const unsigned bits = info->bits;
  uint32_t acc = 0;
  unsigned have = 0; /* bits pending in acc, always < 8 + bits */
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    int v = rev[(uint8_t)text[i]];
    if (v < 0) return bad_char(info, text, i);
    acc = (acc << bits) | (uint32_t)v;
    have += bits;
    if (have >= 8) {
      have -= 8;
      out[n++] = (uint8_t)(acc >> have);
      acc &= (1u << have) - 1;
    }
  }
  /* An encoder leaves fewer than `bits` padding bits, all zero. */
  if (have >= bits)
    return err_set(-EINVAL, "multibase: %s text of %zu characters has an impossible length", info->name, len);
  if (acc != 0) return err_set(-EINVAL, "multibase: %s text has non-zero trailing bits", info->name);
  *out_len = n;
  return 0;
}

static inline __attribute__((always_inline)) int
bignum_decode_k(const mbase_info_t *info, const unsigned radix, const unsigned k, const char *text, size_t len,
                uint8_t *out, size_t *out_len) {
  const int8_t *rev = mbase_reverse_of(info);
  size_t zeros = 0;
  while (zeros < len && text[zeros] == info->alphabet[0]) zeros++;
  assert(len <= MBASE_TEXT_BYTES_MAX);
  uint32_t limbs[BIGNUM_DECODE_LIMBS_MAX]; /* little-endian, base 2^32 */
  size_t n = 0;
  for (size_t i = zeros; i < len;) {
    unsigned take = len - i < k ? (unsigned)(len - i) : k;
    uint64_t carry = 0, mult = 1;
    for (unsigned t = 0; t < take; t++, i++) {
      int v = rev[(uint8_t)text[i]];
      if (v < 0) return bad_char(info, text, i);
      carry = carry * radix + (unsigned)v;
      mult *= radix;
    }
    for (size_t j = 0; j < n; j++) {
      uint64_t v = (uint64_t)limbs[j] * mult + carry;
      limbs[j] = (uint32_t)v;
      carry = v >> 32;
    }
    while (carry > 0) {
      assert(n < BIGNUM_DECODE_LIMBS_MAX);
      limbs[n++] = (uint32_t)carry;
      carry >>= 32;
    }
  }
  memset(out, 0, zeros);
  size_t pos = zeros;
  if (n > 0) {
    uint32_t top = limbs[n - 1];
    for (int shift = 24; shift >= 0; shift -= 8)
      if ((top >> shift) != 0) out[pos++] = (uint8_t)(top >> shift);
    for (size_t j = n - 1; j-- > 0;) {
      uint32_t v = limbs[j];
      out[pos++] = (uint8_t)(v >> 24);
      out[pos++] = (uint8_t)(v >> 16);
      out[pos++] = (uint8_t)(v >> 8);
      out[pos++] = (uint8_t)v;
    }
  }
  *out_len = pos;
  return 0;
}

static int bignum_decode(const mbase_info_t *info, const char *text, size_t len, uint8_t *out, size_t *out_len) {
  if (info->radix == 58) return bignum_decode_k(info, 58, 5, text, len, out, out_len);
  assert(info->radix == 36);
  return bignum_decode_k(info, 36, 6, text, len, out, out_len);
}

size_t mbase_decoded_len_max(mbase_t base, size_t text_len) {
  const mbase_info_t *info = mbase_lookup(base);
  if (!info) return 0;
  if (text_len > MBASE_LINEAR_TEXT_BYTES_MAX) return SIZE_MAX; /* saturate: decoders refuse it anyway */
  /* bignum: the zero digits give one byte each, the others under 0.74 bytes each */
  return info->bits ? text_len * info->bits / 8 + 1 : text_len + 1;
}

int mbase_decode_to(mbase_t base, const char *text, size_t len, uint8_t *out, size_t out_size) {
  assert(text != NULL || len == 0);
  assert(out != NULL || out_size == 0);
  const mbase_info_t *info = mbase_lookup(base);
  if (!info) return unknown_base(base);
  size_t text_max = info->bits ? MBASE_LINEAR_TEXT_BYTES_MAX : MBASE_TEXT_BYTES_MAX;
  if (len > text_max)
    return err_set(-EINVAL, "multibase: %s text of %zu characters exceeds %zu", info->name, len, text_max);
  size_t room = mbase_decoded_len_max(base, len);
  if (out_size < room) return err_set(-ENOSPC, "multibase: output buffer too small");
  size_t n = 0;
  int rc = info->bits ? bits_decode(info, text, len, out, &n) : bignum_decode(info, text, len, out, &n);
  if (rc) return rc;
  assert(n <= room && n <= INT_MAX);
  return (int)n;
}

int mbase_decode(mbase_t base, const char *text, size_t len, buf_t *out) {
  assert(text != NULL || len == 0);
  assert(out != NULL);
  const mbase_info_t *info = mbase_lookup(base);
  size_t text_max = info && info->bits ? MBASE_LINEAR_TEXT_BYTES_MAX : MBASE_TEXT_BYTES_MAX;
  /* unknown base or over-long text: mbase_decode_to refuses before writing anything */
  size_t room = info && len <= text_max ? mbase_decoded_len_max(base, len) : 0;
  int rc = buf_reserve(out, room);
  if (rc) return rc;
  rc = mbase_decode_to(base, text, len, out->data + out->len, out->cap - out->len);
  if (rc < 0) return rc;
  out->len += (size_t)rc;
  return 0;
}

int mbase_decode_prefixed(const char *text, size_t len, buf_t *out, mbase_t *base) {
  assert(text != NULL || len == 0);
  if (len == 0) return err_set(-EINVAL, "multibase: empty string has no base prefix");
  const mbase_info_t *info = mbase_lookup((mbase_t)(uint8_t)text[0]);
  if (!info) return unknown_base((mbase_t)(uint8_t)text[0]);
  int rc = mbase_decode(info->base, text + 1, len - 1, out);
  if (rc) return rc;
  if (base) *base = info->family;
  return 0;
}

int mbase_from_name(const char *name, mbase_t *base) {
  assert(name != NULL && base != NULL);
  for (size_t i = 0; i < MBASE_COUNT; i++) {
    const mbase_info_t *info = &mbase_table[i];
    if (strcmp(name, info->name) == 0 || (name[0] == (char)info->base && name[1] == '\0')) {
      *base = info->base;
      return 0;
    }
  }
  return err_set(-EINVAL, "multibase: unknown base \"%.64s\"", name);
}

const char *mbase_name(mbase_t base) {
  const mbase_info_t *info = mbase_lookup(base);
  return info ? info->name : NULL;
}
