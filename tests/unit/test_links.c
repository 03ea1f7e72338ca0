/*
 * links: the children of dag-pb, dag-cbor and raw blocks, in order, and the
 * error paths of the dag-cbor scan (truncation, indefinite lengths, bad links,
 * trailing bytes, declared sizes larger than the block).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dagpb.h"
#include "links.h"

static cid_t raw_cid(const char *text) {
  cid_t c;
  assert_int_equal(cid_make(&c, 1, CODEC_RAW, MH_SHA2_256, text, strlen(text)), 0);
  return c;
}

static size_t count(const buf_t *links) { return links->len / sizeof(cid_t); }
static const cid_t *at(const buf_t *links, size_t i) { return (const cid_t *)links->data + i; }

/* tag 42 over 0x00 + the binary CID */
static void put_link(buf_t *b, const cid_t *c) {
  uint8_t bytes[CID_BYTES_MAX];
  size_t n = cid_to_bytes(c, bytes);
  assert_true(n + 1 < 256);
  uint8_t head[] = {0xd8, 0x2a, 0x58, (uint8_t)(n + 1), 0x00};
  assert_int_equal(buf_append(b, head, sizeof head), 0);
  assert_int_equal(buf_append(b, bytes, n), 0);
}

static void test_dagpb(void **state) {
  (void)state;
  cid_t a = raw_cid("a"), b = raw_cid("b");
  dagpb_link_t l[2] = {{.cid = a, .name = "x", .name_len = 1, .has_name = true, .tsize = 1, .has_tsize = true},
                       {.cid = b, .name = "y", .name_len = 1, .has_name = true, .tsize = 1, .has_tsize = true}};
  dagpb_node_t node = {.links = l, .links_len = 2};
  buf_t block = {0}, links = {0};
  assert_int_equal(dagpb_encode(&node, &block), 0);
  cid_t parent;
  assert_int_equal(cid_make(&parent, 0, CODEC_DAG_PB, MH_SHA2_256, block.data, block.len), 0);
  assert_true(links_codec_may_link(CODEC_DAG_PB));
  assert_int_equal(links_of(&parent, block.data, block.len, &links), 0);
  assert_int_equal(count(&links), 2);
  assert_true(cid_equal(at(&links, 0), &a) && cid_equal(at(&links, 1), &b));
  /* Not dag-pb at all. */
  assert_int_equal(links_of(&parent, (const uint8_t *)"\xff\xff", 2, &links), -EINVAL);
  buf_free(&block);
  buf_free(&links);
}

static void test_dagcbor_in_document_order(void **state) {
  (void)state;
  cid_t a = raw_cid("a"), b = raw_cid("b"), parent = raw_cid("parent");
  parent.codec = CODEC_DAG_CBOR;
  buf_t block = {0}, links = {0};
  /* {"a": [link a, 7, "s"], "b": link b} */
  assert_int_equal(buf_append(&block, "\xa2\x61" "a" "\x83", 4), 0);
  put_link(&block, &a);
  assert_int_equal(buf_append(&block, "\x07\x61s\x61" "b", 5), 0);
  put_link(&block, &b);
  assert_int_equal(links_of(&parent, block.data, block.len, &links), 0);
  assert_int_equal(count(&links), 2);
  assert_true(cid_equal(at(&links, 0), &a) && cid_equal(at(&links, 1), &b));
  /* Every strict prefix is truncated; a trailing byte is refused. */
  for (size_t n = 0; n < block.len; n++) assert_int_equal(links_of(&parent, block.data, n, &links), -EINVAL);
  assert_int_equal(buf_append_byte(&block, 0x00), 0);
  assert_int_equal(links_of(&parent, block.data, block.len, &links), -EINVAL);
  buf_free(&block);
  buf_free(&links);
}

static void test_dagcbor_errors(void **state) {
  (void)state;
  cid_t parent = raw_cid("parent");
  parent.codec = CODEC_DAG_CBOR;
  buf_t links = {0};
  static const struct { const char *bytes; size_t len; } bad[] = {
      {"\x9f\x01\xff", 3},                 /* indefinite-length array */
      {"\x1c", 1},                         /* reserved additional info */
      {"\x9b\xff\xff\xff\xff\xff\xff\xff\xff", 9}, /* array larger than the block */
      {"\xd8\x2a\x01", 3},                 /* tag 42 over an integer */
      {"\xd8\x2a\x42\x01\x55", 5},         /* tag 42 without the 0x00 prefix */
      {"\xd8\x2a\x43\x00\x01\x55", 6},     /* tag 42 over a truncated CID */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(links_of(&parent, (const uint8_t *)bad[i].bytes, bad[i].len, &links), -EINVAL);
  /* Other tags wrap one item; scalars have no links. */
  assert_int_equal(links_of(&parent, (const uint8_t *)"\xc1\x01", 2, &links), 0);
  assert_int_equal(count(&links), 0);
  buf_free(&links);
}

static void test_raw_and_others_have_none(void **state) {
  (void)state;
  cid_t c = raw_cid("x");
  buf_t links = {0};
  assert_int_equal(buf_append(&links, "junk", 4), 0);
  assert_false(links_codec_may_link(CODEC_RAW));
  assert_int_equal(links_of(&c, (const uint8_t *)"x", 1, &links), 0);
  assert_int_equal(links.len, 0); /* replaced, not appended to */
  c.codec = CODEC_DAG_JSON;
  assert_int_equal(links_of(&c, (const uint8_t *)"{}", 2, &links), 0);
  assert_int_equal(links.len, 0);
  buf_free(&links);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dagpb),
      cmocka_unit_test(test_dagcbor_in_document_order),
      cmocka_unit_test(test_dagcbor_errors),
      cmocka_unit_test(test_raw_and_others_have_none),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
