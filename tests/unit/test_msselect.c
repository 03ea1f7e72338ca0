/*
 * msselect: the multistream-select 1.0 wire form (the header message is
 * 0x13 "/multistream/1.0.0\n", as every libp2p implementation sends it),
 * round trips, decoding in any split, several messages back to back, and
 * every rejection on both sides.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "msselect.h"

static void test_header_wire_form(void **state) {
  (void)state;
  buf_t b = {0};
  assert_int_equal(mss_encode(&b, MSS_HEADER), 0);
  static const char want[] = "\x13/multistream/1.0.0\n";
  assert_int_equal(b.len, sizeof want - 1);
  assert_memory_equal(b.data, want, b.len);
  char text[MSS_PROTOCOL_BYTES_MAX + 1];
  assert_int_equal(mss_decode(b.data, b.len, text), (int)b.len);
  assert_string_equal(text, MSS_HEADER);
  buf_free(&b);
}

static void test_na_and_yamux(void **state) {
  (void)state;
  buf_t b = {0};
  assert_int_equal(mss_encode(&b, MSS_NA), 0);
  assert_int_equal(mss_encode(&b, "/yamux/1.0.0"), 0);
  assert_int_equal(b.len, 4 + 14);
  assert_memory_equal(b.data, "\x03na\n\x0d/yamux/1.0.0\n", b.len);
  char text[MSS_PROTOCOL_BYTES_MAX + 1];
  int n = mss_decode(b.data, b.len, text);
  assert_int_equal(n, 4);
  assert_string_equal(text, "na");
  assert_int_equal(mss_decode(b.data + n, b.len - (size_t)n, text), 14);
  assert_string_equal(text, "/yamux/1.0.0");
  buf_free(&b);
}

/* Every proper prefix asks for more bytes; the whole message decodes. */
static void test_any_split(void **state) {
  (void)state;
  buf_t b = {0};
  char longest[MSS_PROTOCOL_BYTES_MAX + 1];
  memset(longest, 'p', MSS_PROTOCOL_BYTES_MAX);
  longest[0] = '/';
  longest[MSS_PROTOCOL_BYTES_MAX] = '\0';
  assert_int_equal(mss_encode(&b, longest), 0);
  assert_int_equal(b.len, 2 + MSS_PROTOCOL_BYTES_MAX + 1); /* 1025 takes a 2-byte varint */
  char text[MSS_PROTOCOL_BYTES_MAX + 1];
  for (size_t cut = 0; cut < b.len; cut++) assert_int_equal(mss_decode(b.data, cut, text), 0);
  assert_int_equal(mss_decode(b.data, b.len, text), (int)b.len);
  assert_string_equal(text, longest);
  buf_free(&b);
}

static void test_encode_rejects(void **state) {
  (void)state;
  buf_t b = {0};
  assert_int_equal(mss_encode(&b, ""), -EINVAL);
  assert_int_equal(mss_encode(&b, "/a\nb"), -EINVAL);
  assert_non_null(strstr(err_msg(-EINVAL), "newline"));
  char too_long[MSS_PROTOCOL_BYTES_MAX + 2];
  memset(too_long, 'x', sizeof too_long - 1);
  too_long[sizeof too_long - 1] = '\0';
  assert_int_equal(mss_encode(&b, too_long), -EINVAL);
  assert_int_equal(b.len, 0);
  buf_free(&b);
}

static void test_decode_rejects(void **state) {
  (void)state;
  char text[MSS_PROTOCOL_BYTES_MAX + 1];
  /* no trailing newline */
  assert_int_equal(mss_decode((const uint8_t *)"\x03nax", 4, text), -EPROTO);
  /* zero length */
  assert_int_equal(mss_decode((const uint8_t *)"\x00", 1, text), -EPROTO);
  /* non-minimal varint (0x83 0x00 = 3) */
  assert_int_equal(mss_decode((const uint8_t *)"\x83\x00na\n", 5, text), -EPROTO);
  /* embedded NUL and newline */
  assert_int_equal(mss_decode((const uint8_t *)"\x04n\0a\n", 5, text), -EPROTO);
  assert_int_equal(mss_decode((const uint8_t *)"\x04n\na\n", 5, text), -EPROTO);
  /* 1026 bytes promised: refused from the prefix alone, before the bytes arrive */
  assert_int_equal(mss_decode((const uint8_t *)"\x82\x08", 2, text), -EPROTO);
  assert_non_null(strstr(err_msg(-EPROTO), "1026"));
  /* 1025 promised is fine, but only a prefix is here */
  assert_int_equal(mss_decode((const uint8_t *)"\x81\x08", 2, text), 0);
  /* nothing at all */
  assert_int_equal(mss_decode(NULL, 0, text), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_header_wire_form), cmocka_unit_test(test_na_and_yamux),
      cmocka_unit_test(test_any_split),        cmocka_unit_test(test_encode_rejects),
      cmocka_unit_test(test_decode_rejects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
