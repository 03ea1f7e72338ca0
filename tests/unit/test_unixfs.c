/*
 * unixfs: Kubo's encodings of leaves, directories, symlinks, HAMT shards and
 * the empty file; round trips of every field; strict decode errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "unixfs.h"

static void assert_encodes(const unixfs_data_t *d, const uint8_t *want, size_t want_len) {
  buf_t out = {0};
  assert_int_equal(unixfs_encode(d, &out), 0);
  assert_int_equal(out.len, want_len);
  assert_memory_equal(out.data, want, want_len);
  /* and decodes back to the same fields */
  unixfs_data_t back;
  assert_int_equal(unixfs_decode(out.data, out.len, &back), 0);
  assert_int_equal(back.type, d->type);
  assert_int_equal(back.has_data, d->has_data);
  assert_int_equal(back.data_len, d->data_len);
  if (d->data_len) assert_memory_equal(back.data, d->data, d->data_len);
  assert_int_equal(back.has_filesize, d->has_filesize);
  assert_true(back.filesize == d->filesize);
  assert_int_equal(back.blocksizes_len, d->blocksizes_len);
  for (size_t i = 0; i < d->blocksizes_len; i++) assert_true(back.blocksizes[i] == d->blocksizes[i]);
  assert_int_equal(back.has_hash_type, d->has_hash_type);
  assert_true(back.hash_type == d->hash_type);
  assert_int_equal(back.has_fanout, d->has_fanout);
  assert_true(back.fanout == d->fanout);
  assert_int_equal(back.has_mode, d->has_mode);
  assert_int_equal(back.mode, d->mode);
  assert_int_equal(back.has_mtime, d->has_mtime);
  assert_true(back.mtime_seconds == d->mtime_seconds);
  assert_int_equal(back.has_mtime_nanos, d->has_mtime_nanos);
  assert_int_equal(back.mtime_nanos, d->mtime_nanos);
  unixfs_data_free(&back);
  assert_null(back.blocksizes);
  buf_free(&out);
}

static void test_kubo_leaf(void **state) {
  (void)state;
  unixfs_data_t d = {.type = UNIXFS_FILE, .data = (const uint8_t *)"hello", .data_len = 5,
                     .has_data = true, .filesize = 5, .has_filesize = true};
  static const uint8_t want[] = {0x08, 0x02, 0x12, 0x05, 'h', 'e', 'l', 'l', 'o', 0x18, 0x05};
  assert_encodes(&d, want, sizeof want);
  /* trickle leaves are Type=Raw */
  d.type = UNIXFS_RAW;
  static const uint8_t raw[] = {0x08, 0x00, 0x12, 0x05, 'h', 'e', 'l', 'l', 'o', 0x18, 0x05};
  assert_encodes(&d, raw, sizeof raw);
}

static void test_kubo_empty_file_and_dir(void **state) {
  (void)state;
  unixfs_data_t empty = {.type = UNIXFS_FILE, .has_filesize = true};
  static const uint8_t want_empty[] = {0x08, 0x02, 0x18, 0x00};
  assert_encodes(&empty, want_empty, sizeof want_empty);
  unixfs_data_t dir = {.type = UNIXFS_DIRECTORY};
  static const uint8_t want_dir[] = {0x08, 0x01};
  assert_encodes(&dir, want_dir, sizeof want_dir);
}

static void test_kubo_internal_file_node(void **state) {
  (void)state;
  uint64_t sizes[] = {262144, 1};
  unixfs_data_t d = {.type = UNIXFS_FILE, .filesize = 262145, .has_filesize = true,
                     .blocksizes = sizes, .blocksizes_len = 2};
  static const uint8_t want[] = {0x08, 0x02, 0x18, 0x81, 0x80, 0x10, 0x20,
                                 0x80, 0x80, 0x10, 0x20, 0x01};
  assert_encodes(&d, want, sizeof want);
}

static void test_kubo_symlink(void **state) {
  (void)state;
  unixfs_data_t d = {.type = UNIXFS_SYMLINK, .data = (const uint8_t *)"../a/b", .data_len = 6,
                     .has_data = true};
  static const uint8_t want[] = {0x08, 0x04, 0x12, 0x06, '.', '.', '/', 'a', '/', 'b'};
  assert_encodes(&d, want, sizeof want);
}

static void test_kubo_hamt_shard(void **state) {
  (void)state;
  uint8_t bitfield[32] = {0};
  bitfield[31] = 0x01; /* bucket 0 */
  bitfield[0] = 0x80;  /* bucket 255 */
  unixfs_data_t d = {.type = UNIXFS_HAMT_SHARD, .data = bitfield, .data_len = 32, .has_data = true,
                     .hash_type = 0x22, .has_hash_type = true, .fanout = 256, .has_fanout = true};
  uint8_t want[2 + 2 + 32 + 2 + 3];
  size_t n = 0;
  want[n++] = 0x08; want[n++] = 0x05;
  want[n++] = 0x12; want[n++] = 0x20;
  memcpy(want + n, bitfield, 32); n += 32;
  want[n++] = 0x28; want[n++] = 0x22;
  want[n++] = 0x30; want[n++] = 0x80; want[n++] = 0x02;
  assert_int_equal(n, sizeof want);
  assert_encodes(&d, want, sizeof want);
}

static void test_mode_and_mtime(void **state) {
  (void)state;
  unixfs_data_t d = {.type = UNIXFS_FILE, .filesize = 0, .has_filesize = true, .mode = 0644,
                     .has_mode = true, .mtime_seconds = 1700000000, .has_mtime = true,
                     .mtime_nanos = 123456789, .has_mtime_nanos = true};
  static const uint8_t want[] = {0x08, 0x02, 0x18, 0x00, 0x38, 0xa4, 0x03, 0x42, 0x0b,
                                 0x08, 0x80, 0xe2, 0xcf, 0xaa, 0x06, /* 1700000000 */
                                 0x15, 0x15, 0xcd, 0x5b, 0x07};      /* 123456789 LE */
  assert_encodes(&d, want, sizeof want);
  /* negative seconds: 10-byte two's complement */
  unixfs_data_t neg = {.type = UNIXFS_DIRECTORY, .mtime_seconds = -1, .has_mtime = true};
  static const uint8_t want_neg[] = {0x08, 0x01, 0x42, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  assert_encodes(&neg, want_neg, sizeof want_neg);
  /* mode keeps all 32 bits */
  unixfs_data_t big = {.type = UNIXFS_DIRECTORY, .mode = 0xffffffffu, .has_mode = true};
  static const uint8_t want_big[] = {0x08, 0x01, 0x38, 0xff, 0xff, 0xff, 0xff, 0x0f};
  assert_encodes(&big, want_big, sizeof want_big);
  /* encoder refuses out-of-range nanoseconds */
  buf_t out = {0};
  d.mtime_nanos = 0;
  assert_int_equal(unixfs_encode(&d, &out), -EINVAL);
  d.mtime_nanos = 1000000000;
  assert_int_equal(unixfs_encode(&d, &out), -EINVAL);
  assert_int_equal(out.len, 0);
  d.type = 6;
  d.mtime_nanos = 1;
  assert_int_equal(unixfs_encode(&d, &out), -EINVAL);
  buf_free(&out);
}

static void test_packed_blocksizes(void **state) {
  (void)state;
  /* packed 4 = [3, 300], then one unpacked 7 */
  static const uint8_t in[] = {0x08, 0x02, 0x22, 0x03, 0x03, 0xac, 0x02, 0x20, 0x07};
  unixfs_data_t d;
  assert_int_equal(unixfs_decode(in, sizeof in, &d), 0);
  assert_int_equal(d.blocksizes_len, 3);
  assert_true(d.blocksizes[0] == 3 && d.blocksizes[1] == 300 && d.blocksizes[2] == 7);
  assert_false(d.has_filesize);
  /* re-encoding writes them unpacked, like Kubo */
  buf_t out = {0};
  assert_int_equal(unixfs_encode(&d, &out), 0);
  static const uint8_t want[] = {0x08, 0x02, 0x20, 0x03, 0x20, 0xac, 0x02, 0x20, 0x07};
  assert_int_equal(out.len, sizeof want);
  assert_memory_equal(out.data, want, sizeof want);
  unixfs_data_free(&d);
  buf_free(&out);
  /* fields in any order are accepted */
  static const uint8_t shuffled[] = {0x18, 0x05, 0x08, 0x02};
  assert_int_equal(unixfs_decode(shuffled, sizeof shuffled, &d), 0);
  assert_int_equal(d.type, UNIXFS_FILE);
  unixfs_data_free(&d);
}

static void expect_invalid(const uint8_t *in, size_t len, int code) {
  unixfs_data_t d;
  memset(&d, 0x5a, sizeof d);
  err_clear();
  int rc = unixfs_decode(in, len, &d);
  assert_int_equal(rc, code);
  assert_null(d.blocksizes);
  assert_string_not_equal(err_msg(rc), strerror(-code));
}

#define INVALID(...)                                 \
  do {                                               \
    static const uint8_t b_[] = {__VA_ARGS__};       \
    expect_invalid(b_, sizeof b_, -EINVAL);          \
  } while (0)

static void test_decode_errors(void **state) {
  (void)state;
  expect_invalid(NULL, 0, -EINVAL);      /* no Type */
  INVALID(0x18, 0x00);                   /* no Type */
  INVALID(0x08, 0x06);                   /* unknown Type */
  INVALID(0x08, 0x02, 0x08, 0x02);       /* duplicate Type */
  INVALID(0x08, 0x02, 0x48, 0x00);       /* unknown field 9 */
  INVALID(0x08, 0x02, 0x00);             /* field 0 */
  INVALID(0x0a, 0x00);                   /* Type as bytes */
  INVALID(0x08, 0x02, 0x10, 0x00);       /* Data as varint */
  INVALID(0x08, 0x02, 0x1a, 0x00);       /* filesize as bytes */
  INVALID(0x08, 0x02, 0x25, 0, 0, 0, 0); /* blocksizes as fixed32 */
  INVALID(0x08, 0x02, 0x40, 0x00);       /* mtime as varint */
  INVALID(0x08, 0x02, 0x12, 0x00, 0x12, 0x00); /* duplicate Data */
  INVALID(0x08, 0x02, 0x18, 0x00, 0x18, 0x00); /* duplicate filesize */
  INVALID(0x08, 0x05, 0x28, 0x22, 0x28, 0x22); /* duplicate hashType */
  INVALID(0x08, 0x05, 0x30, 0x01, 0x30, 0x01); /* duplicate fanout */
  INVALID(0x08, 0x02, 0x38, 0x01, 0x38, 0x01); /* duplicate mode */
  INVALID(0x08, 0x02, 0x42, 0x02, 0x08, 0x01, 0x42, 0x02, 0x08, 0x01); /* duplicate mtime */
  INVALID(0x08, 0x02, 0x38, 0x80, 0x80, 0x80, 0x80, 0x10); /* mode > uint32 */
  INVALID(0x08, 0x02, 0x42, 0x00);                         /* mtime without Seconds */
  INVALID(0x08, 0x02, 0x42, 0x07, 0x08, 0x01, 0x15, 0, 0, 0, 0); /* nanos 0 */
  INVALID(0x08, 0x02, 0x42, 0x07, 0x08, 0x01, 0x15, 0x00, 0xca, 0x9a, 0x3b); /* nanos 1e9 */
  INVALID(0x08, 0x02, 0x42, 0x05, 0x08, 0x01, 0x15, 0x01, 0x00); /* truncated fixed32 */
  INVALID(0x08, 0x02, 0x42, 0x04, 0x08, 0x01, 0x18, 0x01);       /* unknown mtime field */
  INVALID(0x08, 0x02, 0x42, 0x04, 0x08, 0x01, 0x08, 0x01);       /* duplicate Seconds */
  INVALID(0x08, 0x02, 0x42, 0x02, 0x0a, 0x00);                   /* Seconds as bytes */
  INVALID(0x08, 0x02, 0x42, 0x03, 0x08, 0x01, 0x10);             /* nanos wrong wire */
  INVALID(0x08);                                   /* truncated varint */
  INVALID(0x08, 0x82);                             /* truncated varint */
  INVALID(0x08, 0x82, 0x00);                       /* non-minimal */
  INVALID(0x08, 0x02, 0x12, 0x05, 0x00);           /* Data past the end */
  INVALID(0x08, 0x02, 0x12);                       /* Data length missing */
  INVALID(0x08, 0x02, 0x22, 0x02, 0x80);           /* packed past the end */
  INVALID(0x08, 0x02, 0x22, 0x01, 0x80);           /* truncated packed varint */
}

static void test_too_many_blocksizes(void **state) {
  (void)state;
  size_t count = UNIXFS_BLOCKSIZES_MAX + 1;
  uint8_t *in = malloc(2 + 2 * count);
  assert_non_null(in);
  in[0] = 0x08;
  in[1] = 0x02;
  for (size_t i = 0; i < count; i++) {
    in[2 + 2 * i] = 0x20;
    in[3 + 2 * i] = 0x01;
  }
  expect_invalid(in, 2 + 2 * count, -E2BIG);
  unixfs_data_t d;
  assert_int_equal(unixfs_decode(in, 2 * count, &d), 0);
  assert_int_equal(d.blocksizes_len, UNIXFS_BLOCKSIZES_MAX);
  unixfs_data_free(&d);
  free(in);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kubo_leaf),
      cmocka_unit_test(test_kubo_empty_file_and_dir),
      cmocka_unit_test(test_kubo_internal_file_node),
      cmocka_unit_test(test_kubo_symlink),
      cmocka_unit_test(test_kubo_hamt_shard),
      cmocka_unit_test(test_mode_and_mtime),
      cmocka_unit_test(test_packed_blocksizes),
      cmocka_unit_test(test_decode_errors),
      cmocka_unit_test(test_too_many_blocksizes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
