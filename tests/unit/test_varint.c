/*
 * varint: the multiformats/unsigned-varint examples (1, 127, 128, 300, 16384,
 * from docs/ipfs-reference.md §1), the 63-bit limit, and every rejection:
 * truncated (-EAGAIN), non-minimal and over-long (-EINVAL).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "varint.h"

typedef struct vector {
  uint64_t value;
  size_t len;
  uint8_t bytes[VARINT_BYTES_MAX];
} vector_t;

static const vector_t vectors[] = {
    {0, 1, {0x00}},
    {1, 1, {0x01}},
    {127, 1, {0x7f}},
    {128, 2, {0x80, 0x01}},
    {255, 2, {0xff, 0x01}},
    {300, 2, {0xac, 0x02}},
    {16383, 2, {0xff, 0x7f}},
    {16384, 3, {0x80, 0x80, 0x01}},
    {0x0129, 2, {0xa9, 0x02}}, /* dag-json */
    {0x0300, 2, {0x80, 0x06}}, /* ipns-record */
    {(UINT64_C(1) << 56) - 1, 8, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
    {UINT64_C(1) << 56, 9, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
    {VARINT_VALUE_MAX, 9, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
};
#define VECTOR_COUNT (sizeof vectors / sizeof vectors[0])

static void test_encode_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < VECTOR_COUNT; i++) {
    uint8_t out[VARINT_BYTES_MAX];
    memset(out, 0xee, sizeof out);
    size_t n = varint_encode(vectors[i].value, out);
    assert_int_equal(n, vectors[i].len);
    assert_memory_equal(out, vectors[i].bytes, n);
    assert_int_equal(varint_size(vectors[i].value), vectors[i].len);
  }
}

static void test_decode_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < VECTOR_COUNT; i++) {
    uint64_t value = 0;
    assert_int_equal(varint_decode(vectors[i].bytes, vectors[i].len, &value), (int)vectors[i].len);
    assert_int_equal(value, vectors[i].value);
  }
}

static void test_decode_stops_at_end_of_varint(void **state) {
  (void)state;
  const uint8_t in[] = {0xac, 0x02, 0xff, 0xff}; /* 300, then unrelated bytes */
  uint64_t value = 0;
  assert_int_equal(varint_decode(in, sizeof in, &value), 2);
  assert_int_equal(value, 300);
}

static void test_size_boundaries(void **state) {
  (void)state;
  for (unsigned bits = 1; bits <= 63; bits++) {
    uint64_t top = (UINT64_C(1) << bits) - 1;
    size_t expect = (bits + 6) / 7;
    assert_int_equal(varint_size(top), expect);
    uint8_t out[VARINT_BYTES_MAX];
    size_t n = varint_encode(top, out);
    assert_int_equal(n, expect);
    uint64_t back = 0;
    assert_int_equal(varint_decode(out, n, &back), (int)n);
    assert_int_equal(back, top);
  }
}

static void test_round_trip_pseudo_random(void **state) {
  (void)state;
  uint64_t x = 0x9e3779b97f4a7c15u;
  for (int i = 0; i < 10000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
    uint64_t value = (x >> (x & 63)) & VARINT_VALUE_MAX;
    uint8_t out[VARINT_BYTES_MAX];
    size_t n = varint_encode(value, out);
    assert_int_equal(n, varint_size(value));
    uint64_t back = ~value;
    assert_int_equal(varint_decode(out, n, &back), (int)n);
    assert_int_equal(back, value);
  }
}

static void test_truncated(void **state) {
  (void)state;
  uint64_t value = 42;
  assert_int_equal(varint_decode(NULL, 0, &value), -EAGAIN);
  const uint8_t one[] = {0x80};
  assert_int_equal(varint_decode(one, 1, &value), -EAGAIN);
  /* Every proper prefix of a multi-byte varint is "truncated", not "invalid". */
  const vector_t *v = &vectors[VECTOR_COUNT - 1];
  for (size_t len = 0; len < v->len; len++) assert_int_equal(varint_decode(v->bytes, len, &value), -EAGAIN);
  assert_int_equal(value, 42); /* untouched on error */
  err_clear();
  assert_int_equal(varint_decode(one, 1, &value), -EAGAIN);
  assert_non_null(strstr(err_msg(-EAGAIN), "truncated"));
}

static void test_non_minimal(void **state) {
  (void)state;
  uint64_t value = 42;
  const uint8_t zero_padded[] = {0x80, 0x00};        /* 0 in two bytes */
  const uint8_t one_padded[] = {0x81, 0x00};         /* 1 in two bytes */
  const uint8_t three_bytes[] = {0xac, 0x82, 0x00};  /* 300 in three bytes */
  const uint8_t nine_bytes[] = {0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
  assert_int_equal(varint_decode(zero_padded, sizeof zero_padded, &value), -EINVAL);
  assert_int_equal(varint_decode(one_padded, sizeof one_padded, &value), -EINVAL);
  assert_int_equal(varint_decode(three_bytes, sizeof three_bytes, &value), -EINVAL);
  assert_int_equal(varint_decode(nine_bytes, sizeof nine_bytes, &value), -EINVAL);
  assert_int_equal(value, 42);
  err_clear();
  assert_int_equal(varint_decode(zero_padded, sizeof zero_padded, &value), -EINVAL);
  assert_non_null(strstr(err_msg(-EINVAL), "non-minimal"));
}

static void test_over_long(void **state) {
  (void)state;
  uint64_t value = 42;
  /* A 9th byte with the continuation bit: would need a 10th byte (bit 63 and up). */
  const uint8_t ten[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  assert_int_equal(varint_decode(ten, sizeof ten, &value), -EINVAL);
  /* Rejected as soon as the 9th byte is seen, even if nothing follows it. */
  assert_int_equal(varint_decode(ten, 9, &value), -EINVAL);
  /* 2^63 (protobuf would accept this 10-byte form; multiformats does not). */
  const uint8_t two63[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  assert_int_equal(varint_decode(two63, sizeof two63, &value), -EINVAL);
  assert_int_equal(value, 42);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_encode_vectors),
      cmocka_unit_test(test_decode_vectors),
      cmocka_unit_test(test_decode_stops_at_end_of_varint),
      cmocka_unit_test(test_size_boundaries),
      cmocka_unit_test(test_round_trip_pseudo_random),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_non_minimal),
      cmocka_unit_test(test_over_long),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
