/*
 * dagpb: the reference's byte vectors (empty node, empty file, the root of
 * 262145 zero bytes as Kubo lays it out) and every decode error path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cid.h"
#include "dagpb.h"
#include "err.h"
#include "unixfs.h"

static void cid_of(const uint8_t *block, size_t len, uint32_t version, uint64_t codec, cid_t *out) {
  assert_int_equal(cid_make(out, version, codec, MH_SHA2_256, block, len), 0);
}

static void assert_cid_text(const cid_t *c, const char *want) {
  char text[CID_TEXT_BYTES_MAX];
  assert_int_equal(cid_format_default(c, text), 0);
  assert_string_equal(text, want);
}

static void test_empty_node(void **state) {
  (void)state;
  dagpb_node_t node;
  assert_int_equal(dagpb_decode((const uint8_t *)"", 0, &node), 0);
  assert_int_equal(node.links_len, 0);
  assert_false(node.has_data);
  buf_t out = {0};
  assert_int_equal(dagpb_encode(&node, &out), 0);
  assert_int_equal(out.len, 0);
  cid_t c;
  cid_of(out.data, out.len, 0, CODEC_DAG_PB, &c);
  assert_cid_text(&c, "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n");
  dagpb_node_free(&node);
  buf_free(&out);
}

static void test_empty_file(void **state) {
  (void)state;
  unixfs_data_t fs = {.type = UNIXFS_FILE, .has_filesize = true, .filesize = 0};
  buf_t data = {0}, block = {0};
  assert_int_equal(unixfs_encode(&fs, &data), 0);
  dagpb_node_t node = {.data = data.data, .data_len = data.len, .has_data = true};
  assert_int_equal(dagpb_encode(&node, &block), 0);
  static const uint8_t want[] = {0x0a, 0x04, 0x08, 0x02, 0x18, 0x00};
  assert_int_equal(block.len, sizeof want);
  assert_memory_equal(block.data, want, sizeof want);
  cid_t c;
  cid_of(block.data, block.len, 0, CODEC_DAG_PB, &c);
  assert_cid_text(&c, "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH");
  cid_to_v1(&c);
  assert_cid_text(&c, "bafybeif7ztnhq65lumvvtr4ekcwd2ifwgm3awq4zfr3srh462rwyinlb4y");

  dagpb_node_t back;
  assert_int_equal(dagpb_decode(want, sizeof want, &back), 0);
  assert_true(back.has_data);
  assert_int_equal(back.data_len, 4);
  assert_memory_equal(back.data, want + 2, 4);
  dagpb_node_free(&back);
  buf_free(&data);
  buf_free(&block);
}

/* A balanced-layout leaf: PBNode{Data: {Type=File, Data=chunk, filesize=len}}. */
static void make_leaf(const uint8_t *chunk, size_t len, buf_t *block) {
  unixfs_data_t fs = {.type = UNIXFS_FILE, .data = chunk, .data_len = len, .has_data = true,
                      .filesize = len, .has_filesize = true};
  buf_t data = {0};
  assert_int_equal(unixfs_encode(&fs, &data), 0);
  dagpb_node_t node = {.data = data.data, .data_len = data.len, .has_data = true};
  buf_reset(block);
  assert_int_equal(dagpb_encode(&node, block), 0);
  buf_free(&data);
}

/* 262145 zero bytes, Kubo defaults: two leaves (262144 + 1) under one root:
 * 12 2a [0a 22 <cid>][12 00][18 8e8010] 12 28 [...][18 09]
 * 0a 0c 08 02 18 818010 20 808010 20 01 */
static void test_262145_zero_bytes_root(void **state) {
  (void)state;
  uint8_t *zeros = calloc(262144, 1);
  assert_non_null(zeros);
  buf_t leaf1 = {0}, leaf2 = {0}, fsbuf = {0}, root = {0};
  make_leaf(zeros, 262144, &leaf1);
  make_leaf(zeros, 1, &leaf2);
  assert_int_equal(leaf1.len, 262158);
  assert_int_equal(leaf2.len, 9);
  dagpb_link_t links[2] = {
      {.has_name = true, .name = "", .tsize = leaf1.len, .has_tsize = true},
      {.has_name = true, .name = "", .tsize = leaf2.len, .has_tsize = true},
  };
  cid_of(leaf1.data, leaf1.len, 0, CODEC_DAG_PB, &links[0].cid);
  cid_of(leaf2.data, leaf2.len, 0, CODEC_DAG_PB, &links[1].cid);
  uint64_t sizes[2] = {262144, 1};
  unixfs_data_t fs = {.type = UNIXFS_FILE, .filesize = 262145, .has_filesize = true,
                      .blocksizes = sizes, .blocksizes_len = 2};
  assert_int_equal(unixfs_encode(&fs, &fsbuf), 0);
  dagpb_node_t node = {.links = links, .links_len = 2, .data = fsbuf.data, .data_len = fsbuf.len,
                       .has_data = true};
  assert_int_equal(dagpb_encode(&node, &root), 0);

  uint8_t want[2 + 42 + 2 + 40 + 2 + 12];
  size_t n = 0;
  uint8_t cid_bytes[CID_BYTES_MAX];
  want[n++] = 0x12; want[n++] = 0x2a;
  want[n++] = 0x0a; want[n++] = 0x22;
  assert_int_equal(cid_to_bytes(&links[0].cid, cid_bytes), 34);
  memcpy(want + n, cid_bytes, 34); n += 34;
  want[n++] = 0x12; want[n++] = 0x00;
  want[n++] = 0x18; want[n++] = 0x8e; want[n++] = 0x80; want[n++] = 0x10;
  want[n++] = 0x12; want[n++] = 0x28;
  want[n++] = 0x0a; want[n++] = 0x22;
  assert_int_equal(cid_to_bytes(&links[1].cid, cid_bytes), 34);
  memcpy(want + n, cid_bytes, 34); n += 34;
  want[n++] = 0x12; want[n++] = 0x00;
  want[n++] = 0x18; want[n++] = 0x09;
  static const uint8_t tail[] = {0x0a, 0x0c, 0x08, 0x02, 0x18, 0x81, 0x80, 0x10,
                                 0x20, 0x80, 0x80, 0x10, 0x20, 0x01};
  memcpy(want + n, tail, sizeof tail); n += sizeof tail;
  assert_int_equal(n, sizeof want);
  assert_int_equal(root.len, sizeof want);
  assert_memory_equal(root.data, want, sizeof want);

  /* and back */
  dagpb_node_t back;
  assert_int_equal(dagpb_decode(root.data, root.len, &back), 0);
  assert_int_equal(back.links_len, 2);
  assert_true(cid_equal(&back.links[0].cid, &links[0].cid));
  assert_true(back.links[1].has_name);
  assert_int_equal(back.links[1].name_len, 0);
  assert_int_equal(back.links[0].tsize, 262158);
  unixfs_data_t fs_back;
  assert_int_equal(unixfs_decode(back.data, back.data_len, &fs_back), 0);
  assert_int_equal(fs_back.blocksizes_len, 2);
  assert_int_equal(fs_back.blocksizes[0], 262144);
  assert_int_equal(fs_back.filesize, 262145);
  unixfs_data_free(&fs_back);
  dagpb_node_free(&back);
  buf_free(&leaf1); buf_free(&leaf2); buf_free(&fsbuf); buf_free(&root);
  free(zeros);
}

/* A valid link body: Hash = CIDv0 of "x", Name "n", Tsize 5. */
static size_t some_link(uint8_t *out) {
  cid_t c;
  cid_of((const uint8_t *)"x", 1, 0, CODEC_DAG_PB, &c);
  size_t n = 0;
  out[n++] = 0x0a; out[n++] = 0x22;
  n += cid_to_bytes(&c, out + n);
  out[n++] = 0x12; out[n++] = 0x01; out[n++] = 'n';
  out[n++] = 0x18; out[n++] = 0x05;
  return n;
}

static void test_roundtrip_and_order(void **state) {
  (void)state;
  uint8_t link[64];
  size_t ln = some_link(link);
  /* Data before Links (old encoders): accepted, re-encoded canonically. */
  uint8_t block[128];
  size_t n = 0;
  block[n++] = 0x0a; block[n++] = 0x02; block[n++] = 0x08; block[n++] = 0x01;
  block[n++] = 0x12; block[n++] = (uint8_t)ln;
  memcpy(block + n, link, ln); n += ln;
  dagpb_node_t node;
  assert_int_equal(dagpb_decode(block, n, &node), 0);
  assert_int_equal(node.links_len, 1);
  assert_int_equal(node.links[0].tsize, 5);
  assert_int_equal(node.links[0].name_len, 1);
  buf_t out = {0};
  assert_int_equal(dagpb_encode(&node, &out), 0);
  assert_int_equal(out.len, n);
  assert_memory_equal(out.data, block + 4, 2 + ln); /* links first */
  assert_memory_equal(out.data + 2 + ln, block, 4); /* then data */
  dagpb_node_free(&node);

  /* canonical bytes re-encode identically */
  dagpb_node_t again;
  assert_int_equal(dagpb_decode(out.data, out.len, &again), 0);
  buf_t out2 = {0};
  assert_int_equal(dagpb_encode(&again, &out2), 0);
  assert_int_equal(out2.len, out.len);
  assert_memory_equal(out2.data, out.data, out.len);
  dagpb_node_free(&again);

  /* links absent Name/Tsize stay absent */
  uint8_t bare[64];
  size_t bn = 0;
  bare[bn++] = 0x12; bare[bn++] = 36;
  memcpy(bare + bn, link, 36); bn += 36;
  assert_int_equal(dagpb_decode(bare, bn, &node), 0);
  assert_false(node.links[0].has_name);
  assert_false(node.links[0].has_tsize);
  buf_reset(&out2);
  assert_int_equal(dagpb_encode(&node, &out2), 0);
  assert_int_equal(out2.len, bn);
  assert_memory_equal(out2.data, bare, bn);
  dagpb_node_free(&node);

  /* empty Data is distinct from absent Data */
  static const uint8_t empty_data[] = {0x0a, 0x00};
  assert_int_equal(dagpb_decode(empty_data, 2, &node), 0);
  assert_true(node.has_data);
  assert_int_equal(node.data_len, 0);
  buf_reset(&out2);
  assert_int_equal(dagpb_encode(&node, &out2), 0);
  assert_int_equal(out2.len, 2);
  dagpb_node_free(&node);
  buf_free(&out);
  buf_free(&out2);
}

static void test_unsorted_links(void **state) {
  (void)state;
  cid_t c;
  cid_of((const uint8_t *)"x", 1, 0, CODEC_DAG_PB, &c);
  dagpb_link_t links[3] = {
      {.cid = c, .name = "b", .name_len = 1, .has_name = true},
      {.cid = c, .name = "a", .name_len = 1, .has_name = true},
      {.cid = c, .name = "ab", .name_len = 2, .has_name = true},
  };
  dagpb_node_t node = {.links = links, .links_len = 2};
  buf_t out = {0};
  assert_int_equal(dagpb_encode(&node, &out), -EINVAL);
  assert_int_equal(out.len, 0);
  /* sorted: "a" < "ab" < "b" (byte-wise, shorter prefix first) */
  dagpb_link_t sorted[3] = {links[1], links[2], links[0]};
  node.links = sorted;
  node.links_len = 3;
  assert_int_equal(dagpb_encode(&node, &out), 0);
  /* absent name sorts as "" and may repeat */
  dagpb_link_t unnamed[2] = {{.cid = c}, {.cid = c}};
  node.links = unnamed;
  node.links_len = 2;
  buf_reset(&out);
  assert_int_equal(dagpb_encode(&node, &out), 0);
  /* a name without has_name is a caller bug caught as EINVAL */
  dagpb_link_t bad = {.cid = c, .name = "a", .name_len = 1};
  node.links = &bad;
  node.links_len = 1;
  assert_int_equal(dagpb_encode(&node, &out), -EINVAL);

  /* the decoder keeps the wire order, sorted or not */
  buf_reset(&out);
  for (int i = 0; i < 2; i++) {
    node.links = &links[i];
    node.links_len = 1;
    assert_int_equal(dagpb_encode(&node, &out), 0);
  }
  dagpb_node_t back;
  assert_int_equal(dagpb_decode(out.data, out.len, &back), 0);
  assert_int_equal(back.links_len, 2);
  assert_memory_equal(back.links[0].name, "b", 1);
  assert_memory_equal(back.links[1].name, "a", 1);
  dagpb_node_free(&back);
  buf_free(&out);
}

static void expect_invalid(const uint8_t *block, size_t len) {
  dagpb_node_t node;
  memset(&node, 0xa5, sizeof node);
  err_clear();
  int rc = dagpb_decode(block, len, &node);
  assert_int_equal(rc, -EINVAL);
  assert_null(node.links); /* freed and zeroed */
  assert_int_equal(node.links_len, 0);
  assert_string_not_equal(err_msg(rc), strerror(EINVAL)); /* a specific message */
}

#define INVALID(...)                                 \
  do {                                               \
    static const uint8_t b_[] = {__VA_ARGS__};       \
    expect_invalid(b_, sizeof b_);                   \
  } while (0)

static void test_decode_errors(void **state) {
  (void)state;
  uint8_t link[64];
  size_t ln = some_link(link);
  uint8_t b[256];
  size_t n;

  INVALID(0x1a, 0x00);             /* unknown node field 3 */
  INVALID(0x02, 0x00);             /* field 0 */
  INVALID(0x08, 0x00);             /* Data as varint: wrong wire type */
  INVALID(0x10, 0x00);             /* Links as varint */
  INVALID(0x0d, 0, 0, 0, 0);       /* Data as fixed32 */
  INVALID(0x0f);                   /* wire type 7 */
  INVALID(0x0a, 0x00, 0x0a, 0x00); /* duplicate Data */
  INVALID(0x0a);                   /* truncated: key without length */
  INVALID(0x0a, 0x80);             /* truncated length varint */
  INVALID(0x0a, 0x05, 0x00);       /* length past the end */
  INVALID(0x0a, 0x80, 0x00);       /* non-minimal length varint */
  INVALID(0x8a, 0x00, 0x00);       /* non-minimal key varint */
  INVALID(0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f); /* > 64 bits */
  INVALID(0x12, 0x00);             /* link without Hash */
  INVALID(0x12, 0x02, 0x0a, 0x00); /* empty Hash is not a CID */
  INVALID(0x12, 0x04, 0x0a, 0x02, 0x01, 0x70); /* truncated CID */
  INVALID(0x12, 0x05, 0x0a, 0x03, 0x02, 0x70, 0x00); /* CID version 2 */

  /* Hash with bytes after the CID */
  n = 0;
  b[n++] = 0x12; b[n++] = (uint8_t)(ln + 1);
  b[n++] = 0x0a; b[n++] = 0x23;
  memcpy(b + n, link + 2, 34); n += 34;
  b[n++] = 0x00;
  memcpy(b + n, link + 36, ln - 36); n += ln - 36;
  expect_invalid(b, n);

  /* link fields out of order: Name before Hash */
  n = 0;
  b[n++] = 0x12; b[n++] = (uint8_t)ln;
  memcpy(b + n, link + 36, 3); n += 3;   /* 12 01 'n' */
  memcpy(b + n, link, 36); n += 36;      /* 0a 22 <cid> */
  memcpy(b + n, link + 39, 2); n += 2;   /* 18 05 */
  expect_invalid(b, n);

  /* Tsize before Name */
  n = 0;
  b[n++] = 0x12; b[n++] = (uint8_t)ln;
  memcpy(b + n, link, 36); n += 36;
  memcpy(b + n, link + 39, 2); n += 2;
  memcpy(b + n, link + 36, 3); n += 3;
  expect_invalid(b, n);

  /* duplicate Hash, duplicate Name, duplicate Tsize */
  n = 0;
  b[n++] = 0x12; b[n++] = 72;
  memcpy(b + n, link, 36); n += 36;
  memcpy(b + n, link, 36); n += 36;
  expect_invalid(b, n);
  n = 0;
  b[n++] = 0x12; b[n++] = (uint8_t)(ln + 3);
  memcpy(b + n, link, 39); n += 39;
  memcpy(b + n, link + 36, 3); n += 3;
  memcpy(b + n, link + 39, 2); n += 2;
  expect_invalid(b, n);
  n = 0;
  b[n++] = 0x12; b[n++] = (uint8_t)(ln + 2);
  memcpy(b + n, link, ln); n += ln;
  memcpy(b + n, link + 39, 2); n += 2;
  expect_invalid(b, n);

  /* unknown link field 4; wrong wire types inside a link */
  n = 0;
  b[n++] = 0x12; b[n++] = (uint8_t)(ln + 2);
  memcpy(b + n, link, ln); n += ln;
  b[n++] = 0x20; b[n++] = 0x00;
  expect_invalid(b, n);
  n = 0;
  b[n++] = 0x12; b[n++] = 38;
  memcpy(b + n, link, 36); n += 36;
  b[n++] = 0x1a; b[n++] = 0x00; /* Tsize as bytes */
  expect_invalid(b, n);
  n = 0;
  b[n++] = 0x12; b[n++] = 38;
  memcpy(b + n, link, 36); n += 36;
  b[n++] = 0x10; b[n++] = 0x00; /* Name as varint */
  expect_invalid(b, n);
  INVALID(0x12, 0x02, 0x08, 0x00); /* Hash as varint */

  /* truncated Tsize varint inside a link, and a link body past its end */
  n = 0;
  b[n++] = 0x12; b[n++] = 38;
  memcpy(b + n, link, 36); n += 36;
  b[n++] = 0x18; b[n++] = 0x80;
  expect_invalid(b, n);
  n = 0;
  b[n++] = 0x12; b[n++] = (uint8_t)(ln + 1);
  memcpy(b + n, link, ln); n += ln;
  expect_invalid(b, n);

  /* Links, Data, Links */
  n = 0;
  b[n++] = 0x12; b[n++] = (uint8_t)ln;
  memcpy(b + n, link, ln); n += ln;
  b[n++] = 0x0a; b[n++] = 0x00;
  b[n++] = 0x12; b[n++] = (uint8_t)ln;
  memcpy(b + n, link, ln); n += ln;
  expect_invalid(b, n);
}

static void test_too_many_links(void **state) {
  (void)state;
  uint8_t link[64];
  size_t ln = some_link(link);
  size_t count = DAGPB_LINKS_MAX + 1;
  size_t each = 2 + ln;
  uint8_t *block = malloc(count * each);
  assert_non_null(block);
  for (size_t i = 0; i < count; i++) {
    block[i * each] = 0x12;
    block[i * each + 1] = (uint8_t)ln;
    memcpy(block + i * each + 2, link, ln);
  }
  dagpb_node_t node;
  assert_int_equal(dagpb_decode(block, count * each, &node), -E2BIG);
  assert_null(node.links);
  assert_int_equal(dagpb_decode(block, (count - 1) * each, &node), 0);
  assert_int_equal(node.links_len, DAGPB_LINKS_MAX);
  dagpb_node_free(&node);
  free(block);
}

static void test_varint_helpers(void **state) {
  (void)state;
  uint64_t v;
  static const uint8_t max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  assert_int_equal(dagpb_pb_varint_decode(max, sizeof max, &v), 10);
  assert_true(v == UINT64_MAX);
  buf_t out = {0};
  assert_int_equal(dagpb_pb_varint_append(&out, UINT64_MAX), 0);
  assert_int_equal(out.len, 10);
  assert_memory_equal(out.data, max, 10);
  static const uint8_t over[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
  assert_int_equal(dagpb_pb_varint_decode(over, sizeof over, &v), -EINVAL);
  static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0x00};
  assert_int_equal(dagpb_pb_varint_decode(eleven, sizeof eleven, &v), -EINVAL);
  static const uint8_t zero[] = {0x00};
  assert_int_equal(dagpb_pb_varint_decode(zero, 1, &v), 1);
  assert_true(v == 0);
  /* Tsize up to 2^64-1 round-trips */
  cid_t c;
  cid_of((const uint8_t *)"x", 1, 1, CODEC_RAW, &c);
  dagpb_link_t l = {.cid = c, .tsize = UINT64_MAX, .has_tsize = true};
  dagpb_node_t node = {.links = &l, .links_len = 1};
  buf_reset(&out);
  assert_int_equal(dagpb_encode(&node, &out), 0);
  dagpb_node_t back;
  assert_int_equal(dagpb_decode(out.data, out.len, &back), 0);
  assert_true(back.links[0].tsize == UINT64_MAX);
  assert_int_equal(back.links[0].cid.version, 1);
  assert_int_equal(back.links[0].cid.codec, CODEC_RAW);
  dagpb_node_free(&back);
  buf_free(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_node),
      cmocka_unit_test(test_empty_file),
      cmocka_unit_test(test_262145_zero_bytes_root),
      cmocka_unit_test(test_roundtrip_and_order),
      cmocka_unit_test(test_unsorted_links),
      cmocka_unit_test(test_decode_errors),
      cmocka_unit_test(test_too_many_links),
      cmocka_unit_test(test_varint_helpers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
