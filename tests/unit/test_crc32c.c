/*
 * crc32c: the check value, RFC 3720 (iSCSI) B.4 vectors, hardware vs software
 * agreement over lengths and alignments that cross the 3-way stripe path, and
 * incremental use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crc32c.h"

static void test_check_value(void **state) {
  (void)state;
  assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
  assert_int_equal(crc32c_sw(0, "123456789", 9), 0xE3069283u);
  assert_int_equal(crc32c(0, "", 0), 0);
}

static void test_rfc3720_vectors(void **state) {
  (void)state;
  uint8_t buf[32];
  memset(buf, 0, sizeof buf);
  assert_int_equal(crc32c(0, buf, 32), 0x8A9136AAu);
  memset(buf, 0xff, sizeof buf);
  assert_int_equal(crc32c(0, buf, 32), 0x62A8AB43u);
  for (int i = 0; i < 32; i++) buf[i] = (uint8_t)i;
  assert_int_equal(crc32c(0, buf, 32), 0x46DD794Eu);
  for (int i = 0; i < 32; i++) buf[i] = (uint8_t)(31 - i);
  assert_int_equal(crc32c(0, buf, 32), 0x113FDB5Cu);
}

static void test_hw_matches_sw(void **state) {
  (void)state;
  size_t cap = 3 * 4096 * 3 + 64;
  uint8_t *buf = malloc(cap);
  assert_non_null(buf);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < cap; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    buf[i] = (uint8_t)x;
  }
  static const size_t lens[] = {0, 1, 7, 8, 9, 63, 4095, 4096, 12287, 12288, 12289, 24576, 36864 + 17};
  for (size_t a = 0; a < 8; a++)
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
      size_t len = lens[i];
      if (a + len > cap) continue;
      assert_int_equal(crc32c(0, buf + a, len), crc32c_sw(0, buf + a, len));
      assert_int_equal(crc32c(0x12345678, buf + a, len), crc32c_sw(0x12345678, buf + a, len));
    }
  free(buf);
}

static void test_incremental(void **state) {
  (void)state;
  uint8_t buf[20000];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 31 + 7);
  uint32_t whole = crc32c(0, buf, sizeof buf);
  for (size_t split = 0; split <= sizeof buf; split += 1237)
    assert_int_equal(crc32c(crc32c(0, buf, split), buf + split, sizeof buf - split), whole);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_check_value),
      cmocka_unit_test(test_rfc3720_vectors),
      cmocka_unit_test(test_hw_matches_sw),
      cmocka_unit_test(test_incremental),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
