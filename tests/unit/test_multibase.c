/*
 * multibase: the multiformats/multibase spec vectors (tests/basic.csv,
 * leading_zero.csv, two_leading_zeros.csv: "yes mani !" with 0, 1 and 2
 * leading zero bytes, in every base we support), RFC 4648 §10 vectors for
 * base16/32/64, the base58 draft's examples, round trips, and every way a
 * decoder must refuse: characters outside the alphabet (including the wrong
 * case, which the spec's case_insensitivity.csv would accept: we follow
 * go-multibase and js-multiformats instead), padding, impossible lengths,
 * non-zero trailing bits, bad prefixes and over-long input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "multibase.h"

typedef struct vector {
  const char *data; /* may contain NUL bytes: data_len says how many */
  size_t data_len;
  const char *text; /* prefixed */
} vector_t;

#define V(lit, text) {lit, sizeof(lit) - 1, text}

static const vector_t spec_vectors[] = {
    /* tests/basic.csv */
    V("yes mani !", "f796573206d616e692021"),
    V("yes mani !", "F796573206D616E692021"),
    V("yes mani !", "bpfsxgidnmfxgsibb"),
    V("yes mani !", "BPFSXGIDNMFXGSIBB"),
    V("yes mani !", "k2lcpzo5yikidynfl"),
    V("yes mani !", "K2LCPZO5YIKIDYNFL"),
    V("yes mani !", "z7paNL19xttacUY"),
    V("yes mani !", "meWVzIG1hbmkgIQ"),
    V("yes mani !", "ueWVzIG1hbmkgIQ"),
    /* tests/leading_zero.csv */
    V("\0yes mani !", "f00796573206d616e692021"),
    V("\0yes mani !", "F00796573206D616E692021"),
    V("\0yes mani !", "bab4wk4zanvqw42jaee"),
    V("\0yes mani !", "BAB4WK4ZANVQW42JAEE"),
    V("\0yes mani !", "k02lcpzo5yikidynfl"),
    V("\0yes mani !", "K02LCPZO5YIKIDYNFL"),
    V("\0yes mani !", "z17paNL19xttacUY"),
    V("\0yes mani !", "mAHllcyBtYW5pICE"),
    V("\0yes mani !", "uAHllcyBtYW5pICE"),
    /* tests/two_leading_zeros.csv */
    V("\0\0yes mani !", "f0000796573206d616e692021"),
    V("\0\0yes mani !", "F0000796573206D616E692021"),
    V("\0\0yes mani !", "baaahszltebwwc3tjeaqq"),
    V("\0\0yes mani !", "BAAAHSZLTEBWWC3TJEAQQ"),
    V("\0\0yes mani !", "k002lcpzo5yikidynfl"),
    V("\0\0yes mani !", "K002LCPZO5YIKIDYNFL"),
    V("\0\0yes mani !", "z117paNL19xttacUY"),
    V("\0\0yes mani !", "mAAB5ZXMgbWFuaSAh"),
    V("\0\0yes mani !", "uAAB5ZXMgbWFuaSAh"),
    /* RFC 4648 §10, without padding */
    V("", "b"), V("f", "bmy"), V("fo", "bmzxq"), V("foo", "bmzxw6"), V("foob", "bmzxw6yq"),
    V("fooba", "bmzxw6ytb"), V("foobar", "bmzxw6ytboi"), V("foobar", "BMZXW6YTBOI"),
    V("", "m"), V("f", "mZg"), V("fo", "mZm8"), V("foo", "mZm9v"), V("foob", "mZm9vYg"),
    V("fooba", "mZm9vYmE"), V("foobar", "mZm9vYmFy"), V("", "f"), V("foobar", "f666f6f626172"),
    V("foobar", "F666F6F626172"),
    /* base64 vs base64url: the two alphabets differ only in 62 and 63 */
    V("\xfb\xff\xbf", "m+/+/"), V("\xfb\xff\xbf", "u-_-_"),
    /* base58 (draft-msporny-base58 examples) */
    V("Hello World!", "z2NEpo7TZRRrLZSi2U"),
    V("The quick brown fox jumps over the lazy dog.",
      "zUSm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z"),
    V("\0\0\x28\x7f\xb4\xcd", "z11233QC4"),
    V("", "z"), V("\0", "z1"), V("\0\0\0", "z111"), V("\x39", "zz"), V("\x3a", "z21"),
    /* base36 small values */
    V("", "k"), V("\0", "k0"), V("\x23", "kz"), V("\x24", "k10"), V("\xff", "k73"),
};
#define SPEC_VECTOR_COUNT (sizeof spec_vectors / sizeof spec_vectors[0])

static const mbase_t all_bases[] = {MBASE_BASE32,    MBASE_BASE32_UPPER, MBASE_BASE58BTC,
                                    MBASE_BASE36,    MBASE_BASE36_UPPER, MBASE_BASE64,
                                    MBASE_BASE64URL, MBASE_BASE16,       MBASE_BASE16_UPPER};
#define BASE_COUNT (sizeof all_bases / sizeof all_bases[0])

static mbase_t family_of(mbase_t base) {
  switch (base) {
  case MBASE_BASE32_UPPER: return MBASE_BASE32;
  case MBASE_BASE36_UPPER: return MBASE_BASE36;
  case MBASE_BASE16_UPPER: return MBASE_BASE16;
  default: return base;
  }
}

static void test_spec_vectors_encode(void **state) {
  (void)state;
  buf_t out = {0};
  for (size_t i = 0; i < SPEC_VECTOR_COUNT; i++) {
    const vector_t *v = &spec_vectors[i];
    mbase_t base = (mbase_t)v->text[0];
    buf_reset(&out);
    assert_int_equal(mbase_encode_prefixed(base, (const uint8_t *)v->data, v->data_len, &out), 0);
    assert_string_equal(buf_cstr(&out), v->text);
    buf_reset(&out);
    assert_int_equal(mbase_encode(base, (const uint8_t *)v->data, v->data_len, &out), 0);
    assert_string_equal(buf_cstr(&out), v->text + 1);
    /* the stack variant agrees and NUL-terminates */
    char text[256];
    int n = mbase_encode_to(base, true, (const uint8_t *)v->data, v->data_len, text, sizeof text);
    assert_int_equal(n, (int)strlen(v->text));
    assert_string_equal(text, v->text);
    assert_true(strlen(v->text) - 1 <= mbase_encoded_len_max(base, v->data_len));
  }
  buf_free(&out);
}

static void test_spec_vectors_decode(void **state) {
  (void)state;
  buf_t out = {0};
  for (size_t i = 0; i < SPEC_VECTOR_COUNT; i++) {
    const vector_t *v = &spec_vectors[i];
    mbase_t base = (mbase_t)0;
    buf_reset(&out);
    assert_int_equal(mbase_decode_prefixed(v->text, strlen(v->text), &out, &base), 0);
    assert_int_equal(out.len, v->data_len);
    if (v->data_len) assert_memory_equal(out.data, v->data, v->data_len);
    assert_int_equal(base, family_of((mbase_t)v->text[0]));
    buf_reset(&out);
    assert_int_equal(mbase_decode((mbase_t)v->text[0], v->text + 1, strlen(v->text) - 1, &out), 0);
    assert_int_equal(out.len, v->data_len);
    uint8_t raw[256];
    int n = mbase_decode_to((mbase_t)v->text[0], v->text + 1, strlen(v->text) - 1, raw, sizeof raw);
    assert_int_equal(n, (int)v->data_len);
    if (n) assert_memory_equal(raw, v->data, v->data_len);
  }
  buf_free(&out);
}

static void test_decode_appends(void **state) {
  (void)state;
  buf_t out = {0};
  assert_int_equal(buf_append(&out, "ab", 2), 0);
  assert_int_equal(mbase_decode_prefixed("f6364", 5, &out, NULL), 0);
  assert_int_equal(out.len, 4);
  assert_memory_equal(out.data, "abcd", 4);
  /* on error nothing is appended */
  assert_int_equal(mbase_decode_prefixed("f63zz", 5, &out, NULL), -EINVAL);
  assert_int_equal(out.len, 4);
  assert_int_equal(mbase_encode(MBASE_BASE16, (const uint8_t *)"e", 1, &out), 0);
  assert_string_equal(buf_cstr(&out) + 4, "65");
  buf_free(&out);
}

static uint64_t rng_state = 0x243f6a8885a308d3u;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void test_round_trip_random(void **state) {
  (void)state;
  buf_t text = {0}, back = {0};
  uint8_t data[300];
  for (int iter = 0; iter < 3000; iter++) {
    size_t len = rng() % sizeof data;
    for (size_t i = 0; i < len; i++) data[i] = (uint8_t)rng();
    size_t zeros = rng() % 4; /* leading zeros are the bignum bases' special case */
    for (size_t i = 0; i < zeros && i < len; i++) data[i] = 0;
    mbase_t base = all_bases[iter % BASE_COUNT];
    buf_reset(&text);
    buf_reset(&back);
    assert_int_equal(mbase_encode_prefixed(base, data, len, &text), 0);
    assert_true(text.len - 1 <= mbase_encoded_len_max(base, len));
    assert_int_equal(mbase_decode_prefixed((const char *)text.data, text.len, &back, NULL), 0);
    assert_int_equal(back.len, len);
    if (len) assert_memory_equal(back.data, data, len);
  }
  buf_free(&text);
  buf_free(&back);
}

static void expect_decode_error(const char *text, const char *msg_part) {
  buf_t out = {0};
  err_clear();
  int rc = mbase_decode_prefixed(text, strlen(text), &out, NULL);
  if (rc != -EINVAL) fail_msg("\"%s\" decoded (rc %d) but must be rejected", text, rc);
  assert_int_equal(out.len, 0);
  if (msg_part && !strstr(err_msg(rc), msg_part)) fail_msg("\"%s\": message \"%s\"", text, err_msg(rc));
  buf_free(&out);
}

static void test_bad_characters(void **state) {
  (void)state;
  expect_decode_error("bmy1", "position 2");  /* '1' is not base32 */
  expect_decode_error("bmy8", "character");
  expect_decode_error("bmzxQ", "position 3"); /* wrong case */
  expect_decode_error("BMzXQ", "character");
  expect_decode_error("bmy======", "character"); /* padding */
  expect_decode_error("bmz xq", "character");
  expect_decode_error("z0", "character"); /* 0 O I l are not base58btc */
  expect_decode_error("zO", "character");
  expect_decode_error("zI", "character");
  expect_decode_error("z2NEpo7TZRRrLZSl2U", "position 14");
  expect_decode_error("z+", "character");
  expect_decode_error("k2lcpzO5yikidynfl", "character"); /* upper in lower base36 */
  expect_decode_error("K2lcpzo5yikidynfl", "character");
  expect_decode_error("k-1", "character");
  expect_decode_error("uZm8=", "character"); /* padding */
  expect_decode_error("uZm+v", "character"); /* base64 character in base64url */
  expect_decode_error("mZm-v", "character"); /* and the reverse */
  expect_decode_error("ueWVzIG1hbmkgIQ==", "character");
  expect_decode_error("f6g", "character");
  expect_decode_error("f666F", "character"); /* mixed case base16 */
  expect_decode_error("F666f", "character");
  expect_decode_error("f66\xff", "character");
  /* a NUL inside the counted text is a character like any other */
  buf_t out = {0};
  assert_int_equal(mbase_decode_prefixed("f66\0", 4, &out, NULL), -EINVAL);
  buf_free(&out);
}

static void test_case_insensitivity_vectors_rejected(void **state) {
  (void)state;
  /* multibase tests/case_insensitivity.csv: we are strict like Kubo and Helia */
  expect_decode_error("f68656c6c6f20776F726C64", NULL);
  expect_decode_error("F68656c6c6f20776F726C64", NULL);
  expect_decode_error("bnbswy3dpeB3W64TMMQ", NULL);
  expect_decode_error("Bnbswy3dpeB3W64TMMQ", NULL);
  expect_decode_error("kfUvrsIvVnfRbjWaJo", NULL);
  expect_decode_error("KfUVrSIVVnFRbJWAJo", NULL);
  /* the same bytes in canonical form decode */
  buf_t out = {0};
  assert_int_equal(mbase_decode_prefixed("bnbswy3dpeb3w64tmmq", 19, &out, NULL), 0);
  assert_int_equal(out.len, 11);
  assert_memory_equal(out.data, "hello world", 11);
  buf_free(&out);
}

static void test_impossible_lengths(void **state) {
  (void)state;
  /* base32: 1, 3 or 6 characters past a multiple of 8 leave 5+ unused bits */
  expect_decode_error("bm", "length");
  expect_decode_error("bmzx", "length");
  expect_decode_error("bmzxw6y", "length");
  expect_decode_error("bmzxw6ytbo", "length");
  expect_decode_error("bmzxw6ytboiq", "length");
  /* base64: one character past a multiple of 4 */
  expect_decode_error("mZ", "length");
  expect_decode_error("uZm9vY", "length");
  /* base16: odd */
  expect_decode_error("f6", "length");
  expect_decode_error("F66F", "length");
}

static void test_trailing_bits(void **state) {
  (void)state;
  expect_decode_error("bmz", "trailing"); /* "f" is "my": y=11000, z=11001 has a stray bit */
  expect_decode_error("bmzxr", "trailing");
  expect_decode_error("mZh", "trailing"); /* "f" is "Zg" */
  expect_decode_error("uZm9", "trailing");
  expect_decode_error("BMZ", "trailing");
}

static void test_bad_prefixes(void **state) {
  (void)state;
  expect_decode_error("", "prefix");
  expect_decode_error("x", "prefix");
  expect_decode_error("Qmabc", "prefix");       /* bare base58 (CIDv0) has no prefix */
  expect_decode_error("1abc", "prefix");
  expect_decode_error("cmzxw6===", "prefix");   /* base32pad: not supported */
  expect_decode_error("vcpnmu", "prefix");      /* base32hex */
  expect_decode_error("Zabc", "prefix");        /* base58flickr */
  expect_decode_error("MZm8=", "prefix");       /* base64pad */
  expect_decode_error("\x00" "abc", "prefix");
  buf_t out = {0};
  assert_int_equal(mbase_decode((mbase_t)'x', "abc", 3, &out), -EINVAL);
  assert_int_equal(mbase_encode((mbase_t)'x', (const uint8_t *)"abc", 3, &out), -EINVAL);
  assert_int_equal(mbase_encode_prefixed((mbase_t)'Z', (const uint8_t *)"abc", 3, &out), -EINVAL);
  assert_int_equal(out.len, 0);
  assert_int_equal(mbase_encoded_len_max((mbase_t)'x', 10), 0);
  assert_int_equal(mbase_decoded_len_max((mbase_t)'x', 10), 0);
  buf_free(&out);
}

static void test_size_bounds(void **state) {
  (void)state;
  buf_t out = {0};
  char *ones = malloc(MBASE_TEXT_BYTES_MAX + 2);
  assert_non_null(ones);
  ones[0] = 'z';
  memset(ones + 1, '1', MBASE_TEXT_BYTES_MAX + 1);
  /* exactly at the limit: 8192 leading-zero digits = 8192 zero bytes */
  assert_int_equal(mbase_decode_prefixed(ones, MBASE_TEXT_BYTES_MAX + 1, &out, NULL), 0);
  assert_int_equal(out.len, MBASE_TEXT_BYTES_MAX);
  buf_reset(&out);
  err_clear();
  assert_int_equal(mbase_decode_prefixed(ones, MBASE_TEXT_BYTES_MAX + 2, &out, NULL), -EINVAL);
  assert_non_null(strstr(err_msg(-EINVAL), "exceeds"));
  assert_int_equal(out.len, 0);
  /* base36 too */
  ones[0] = 'k';
  memset(ones + 1, '9', MBASE_TEXT_BYTES_MAX + 1);
  assert_int_equal(mbase_decode_prefixed(ones, MBASE_TEXT_BYTES_MAX + 2, &out, NULL), -EINVAL);
  free(ones);

  /* encoder: the bignum input bound, and its output stays decodable */
  uint8_t *data = malloc(MBASE_BIGNUM_BYTES_MAX + 1);
  assert_non_null(data);
  memset(data, 0xff, MBASE_BIGNUM_BYTES_MAX + 1);
  assert_int_equal(mbase_encode(MBASE_BASE58BTC, data, MBASE_BIGNUM_BYTES_MAX + 1, &out), -E2BIG);
  assert_int_equal(mbase_encode(MBASE_BASE36, data, MBASE_BIGNUM_BYTES_MAX + 1, &out), -E2BIG);
  assert_int_equal(out.len, 0);
  assert_int_equal(mbase_encode_prefixed(MBASE_BASE36, data, MBASE_BIGNUM_BYTES_MAX, &out), 0);
  assert_true(out.len <= MBASE_TEXT_BYTES_MAX + 1);
  buf_t back = {0};
  assert_int_equal(mbase_decode_prefixed((const char *)out.data, out.len, &back, NULL), 0);
  assert_int_equal(back.len, MBASE_BIGNUM_BYTES_MAX);
  assert_memory_equal(back.data, data, MBASE_BIGNUM_BYTES_MAX);
  free(data);
  buf_free(&back);

  /* linear bases take DWN-sized payloads (30000 bytes inline) */
  size_t big = 40000;
  data = calloc(1, big);
  assert_non_null(data);
  buf_reset(&out);
  assert_int_equal(mbase_encode(MBASE_BASE64URL, data, big, &out), 0);
  assert_int_equal(out.len, (big * 8 + 5) / 6);
  buf_reset(&back);
  assert_int_equal(mbase_decode(MBASE_BASE64URL, (const char *)out.data, out.len, &back), 0);
  assert_int_equal(back.len, big);
  free(data);
  buf_free(&back);
  buf_free(&out);
}

static void test_encode_to_no_space(void **state) {
  (void)state;
  char text[8];
  memset(text, 'x', sizeof text);
  /* "foobar" in base32 is 10 characters: 11 with the prefix, 12 with the NUL */
  assert_int_equal(mbase_encode_to(MBASE_BASE32, true, (const uint8_t *)"foobar", 6, text, sizeof text), -ENOSPC);
  char exact[12];
  assert_int_equal(mbase_encode_to(MBASE_BASE32, true, (const uint8_t *)"foobar", 6, exact, sizeof exact), 11);
  assert_string_equal(exact, "bmzxw6ytboi");
  uint8_t raw[2];
  assert_int_equal(mbase_decode_to(MBASE_BASE16, "666f6f", 6, raw, sizeof raw), -ENOSPC);
}

static void test_names(void **state) {
  (void)state;
  static const struct {
    const char *name;
    mbase_t base;
  } names[] = {
      {"base32", MBASE_BASE32},       {"base32upper", MBASE_BASE32_UPPER}, {"base58btc", MBASE_BASE58BTC},
      {"base36", MBASE_BASE36},       {"base36upper", MBASE_BASE36_UPPER}, {"base64", MBASE_BASE64},
      {"base64url", MBASE_BASE64URL}, {"base16", MBASE_BASE16},            {"base16upper", MBASE_BASE16_UPPER},
      {"b", MBASE_BASE32},            {"z", MBASE_BASE58BTC},              {"K", MBASE_BASE36_UPPER},
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    mbase_t base = (mbase_t)0;
    assert_int_equal(mbase_from_name(names[i].name, &base), 0);
    assert_int_equal(base, names[i].base);
    if (strlen(names[i].name) > 1) assert_string_equal(mbase_name(base), names[i].name);
  }
  mbase_t base = MBASE_BASE16;
  assert_int_equal(mbase_from_name("base58flickr", &base), -EINVAL);
  assert_int_equal(mbase_from_name("", &base), -EINVAL);
  assert_int_equal(mbase_from_name("bb", &base), -EINVAL);
  assert_int_equal(mbase_from_name("Base32", &base), -EINVAL);
  assert_int_equal(mbase_from_name("x", &base), -EINVAL);
  assert_int_equal(base, MBASE_BASE16);
  assert_null(mbase_name((mbase_t)'x'));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spec_vectors_encode),
      cmocka_unit_test(test_spec_vectors_decode),
      cmocka_unit_test(test_decode_appends),
      cmocka_unit_test(test_round_trip_random),
      cmocka_unit_test(test_bad_characters),
      cmocka_unit_test(test_case_insensitivity_vectors_rejected),
      cmocka_unit_test(test_impossible_lengths),
      cmocka_unit_test(test_trailing_bits),
      cmocka_unit_test(test_bad_prefixes),
      cmocka_unit_test(test_size_bounds),
      cmocka_unit_test(test_encode_to_no_space),
      cmocka_unit_test(test_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
