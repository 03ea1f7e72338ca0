/*
 * dwn/dagcbor: exact encodings (vectors from @ipld/dag-cbor 9.0.3: heads at
 * every width, the int/float boundary at 2^53, -0.0, fractions, key order by
 * length then bytes with unicode keys), every rejection of the strict
 * decoder, the depth and size limits at their edges, edits that leave the
 * caller's object alone, and a seeded round-trip property over random values
 * and mutated encodings.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "dwn/dagcbor.h"
#include "err.h"

static size_t unhex(const char *hex, uint8_t *out, size_t cap) {
  size_t n = strlen(hex) / 2;
  assert_true(n <= cap);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
    out[i] = (uint8_t)v;
  }
  return n;
}

static void expect_hex(const json_t *v, const char *hex) {
  buf_t b = {0};
  int rc = dagcbor_encode(v, &b);
  if (rc) fail_msg("encode failed %d: %s", rc, err_msg(rc));
  char got[4096];
  assert_true(b.len * 2 < sizeof got);
  for (size_t i = 0; i < b.len; i++) sprintf(got + 2 * i, "%02x", b.data[i]);
  got[b.len * 2] = '\0';
  if (strcmp(got, hex) != 0) fail_msg("encoded %s, want %s", got, hex);
  /* and the bytes decode back to an equal value that re-encodes identically */
  json_t *back = NULL;
  assert_int_equal(dagcbor_decode(b.data, b.len, &back), 0);
  assert_true(dagcbor_json_equal(back, v));
  buf_t again = {0};
  assert_int_equal(dagcbor_encode(back, &again), 0);
  assert_int_equal(again.len, b.len);
  assert_memory_equal(again.data, b.data, b.len);
  json_decref(back);
  buf_free(&again);
  buf_free(&b);
}

/* Takes a new reference and checks its encoding. */
static void expect_hex_new(json_t *v, const char *hex) {
  assert_non_null(v);
  expect_hex(v, hex);
  json_decref(v);
}

static void expect_json_hex(const char *json, const char *hex) {
  json_error_t error;
  json_t *v = json_loads(json, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &error);
  if (!v) fail_msg("bad test JSON %s: %s", json, error.text);
  expect_hex(v, hex);
  json_decref(v);
}

static void test_simple_values(void **state) {
  (void)state;
  expect_hex(json_null(), "f6");
  expect_hex(json_true(), "f5");
  expect_hex(json_false(), "f4");
  expect_hex_new(json_string(""), "60");
  expect_hex_new(json_string("a"), "6161");
  expect_hex_new(json_stringn("a\0b", 3), "63610062"); /* U+0000 is a character like any other */
  expect_hex_new(json_string("abcdefghijklmnopqrstuvwx"), "7818" "6162636465666768696a6b6c6d6e6f707172737475767778");
  expect_hex_new(json_array(), "80");
  expect_hex_new(json_object(), "a0");
  expect_json_hex("[[]]", "8180");
  expect_json_hex("[{}]", "81a0");
  expect_json_hex("{\"a\":1}", "a1616101");
  expect_json_hex("{\"descriptor\":{\"interface\":\"Records\",\"method\":\"Query\"}}",
                  "a16a64657363726970746f72a2666d6574686f6465517565727969696e74657266616365675265636f726473");
}

static void test_integer_heads(void **state) {
  (void)state;
  static const struct { json_int_t v; const char *hex; } cases[] = {
      {0, "00"}, {23, "17"}, {24, "1818"}, {255, "18ff"}, {256, "190100"}, {65535, "19ffff"},
      {65536, "1a00010000"}, {4294967295LL, "1affffffff"}, {4294967296LL, "1b0000000100000000"},
      {9007199254740991LL, "1b001fffffffffffff"}, {-1, "20"}, {-24, "37"}, {-25, "3818"},
      {-256, "38ff"}, {-257, "390100"}, {-4294967296LL, "3affffffff"}, {-4294967297LL, "3b0000000100000000"},
      {-9007199254740991LL, "3b001ffffffffffffe"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    expect_hex_new(json_integer(cases[i].v), cases[i].hex);
    expect_hex_new(json_real((double)cases[i].v), cases[i].hex); /* integral reals are ints */
  }
}

/* JS numbers: only integers within ±(2^53 - 1) are ints; everything else is a float64. */
static void test_number_boundary(void **state) {
  (void)state;
  expect_hex_new(json_integer(9007199254740991LL), "1b001fffffffffffff");
  expect_hex_new(json_integer(9007199254740992LL), "fb4340000000000000");
  expect_hex_new(json_integer(-9007199254740992LL), "fbc340000000000000");
  /* beyond 2^53 the integer is first rounded to a double, like JSON.parse("9007199254740993") */
  buf_t a = {0}, b = {0};
  json_t *odd = json_integer(9007199254740993LL), *even = json_real(9007199254740992.0);
  assert_int_equal(dagcbor_encode(odd, &a), 0);
  assert_int_equal(dagcbor_encode(even, &b), 0);
  assert_int_equal(a.len, 9);
  assert_memory_equal(a.data, b.data, 9);
  assert_true(dagcbor_json_equal(odd, even));
  json_decref(odd);
  json_decref(even);
  buf_free(&a);
  buf_free(&b);
  expect_hex_new(json_integer(INT64_MAX), "fb43e0000000000000");
  expect_hex_new(json_integer(INT64_MIN), "fbc3e0000000000000");
  expect_hex_new(json_real(9007199254740991.0), "1b001fffffffffffff");
  expect_hex_new(json_real(9007199254740992.0), "fb4340000000000000");
  expect_hex_new(json_real(-0.0), "00");
  expect_hex_new(json_real(1.5), "fb3ff8000000000000");
  expect_hex_new(json_real(-1.5), "fbbff8000000000000");
  expect_hex_new(json_real(0.1), "fb3fb999999999999a");
  expect_hex_new(json_real(1e300), "fb7e37e43c8800759c");
  expect_hex_new(json_real(5e-324), "fb0000000000000001");
  expect_hex_new(json_real(1e21), "fb444b1ae4d6e2ef50");
}

/* JSON text as JSON.parse reads it: 1.0 and 1e2 are ints, 1.5e0 is not (vectors from JS). */
static void test_json_text_numbers(void **state) {
  (void)state;
  expect_json_hex("[1.0,1e2,-0,-0.0,1.5e0]", "850118640000fb3ff8000000000000");
  expect_json_hex("[9007199254740993]", "81fb4340000000000000");
  expect_json_hex("[123456789012345678901234567890]", "81fb45f8ee90ff6c373e");
  expect_json_hex("[1e-400]", "8100"); /* underflows to 0, as in JavaScript */
}

/* Keys: shorter first, then bytewise over UTF-8 (not UTF-16 code units). */
static void test_key_order(void **state) {
  (void)state;
  json_t *o = json_object();
  static const char *const keys[] = {"\xf0\x9f\x98\x80", "\xee\x80\x80", "\xef\xbf\xbd", "\xf0\x90\x80\x80",
                                     "b", "aa", "a", "\xc3\xa9", "\xe4\xb8\xad"};
  static const int values[] = {6, 7, 8, 9, 1, 3, 2, 4, 5};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    assert_int_equal(json_object_set_new(o, keys[i], json_integer(values[i])), 0);
  /* vector from @ipld/dag-cbor 9.0.3 */
  expect_hex(o, "a96161026162016261610362c3a90463e4b8ad0563ee80800763efbfbd0864f09080800964f09f988006");
  json_decref(o);
  /* a key with U+0000 inside (jansson keeps key lengths) */
  o = json_object();
  assert_int_equal(json_object_setn_new(o, "a\0", 2, json_true()), 0);
  assert_int_equal(json_object_setn_new(o, "a", 1, json_false()), 0);
  expect_hex(o, "a26161f4626100f5");
  json_decref(o);
}

static void expect_reject(const char *hex, int code, const char *msg_part) {
  uint8_t bytes[256];
  size_t n = unhex(hex, bytes, sizeof bytes);
  json_t *out = (json_t *)0x1;
  err_clear();
  int rc = dagcbor_decode(bytes, n, &out);
  if (rc != code) fail_msg("%s: rc %d, want %d (%s)", hex, rc, code, err_msg(rc));
  assert_ptr_equal(out, (json_t *)0x1); /* untouched */
  if (msg_part && !strstr(err_msg(rc), msg_part)) fail_msg("%s: message \"%s\"", hex, err_msg(rc));
}

static void test_decode_rejections(void **state) {
  (void)state;
  expect_reject("", -EINVAL, "truncated");
  expect_reject("18", -EINVAL, "truncated");
  expect_reject("1817", -EINVAL, "non-minimal");
  expect_reject("1900ff", -EINVAL, "non-minimal");
  expect_reject("1a0000ffff", -EINVAL, "non-minimal");
  expect_reject("1b00000000ffffffff", -EINVAL, "non-minimal");
  expect_reject("3817", -EINVAL, "non-minimal");
  expect_reject("7800", -EINVAL, "non-minimal");
  expect_reject("9800", -EINVAL, "non-minimal");
  expect_reject("b800", -EINVAL, "non-minimal");
  expect_reject("1b0020000000000000", -EINVAL, "2^53");
  expect_reject("3b001fffffffffffff", -EINVAL, "2^53");
  expect_reject("1bffffffffffffffff", -EINVAL, "2^53");
  expect_reject("9f", -EINVAL, "indefinite");
  expect_reject("9fff", -EINVAL, "indefinite");
  expect_reject("bfff", -EINVAL, "indefinite");
  expect_reject("7f6161ff", -EINVAL, "indefinite");
  expect_reject("5f", -EINVAL, "indefinite");
  expect_reject("1c", -EINVAL, "reserved");
  expect_reject("1d", -EINVAL, "reserved");
  expect_reject("1e", -EINVAL, "reserved");
  expect_reject("40", -EINVAL, "byte string");
  expect_reject("4100", -EINVAL, "byte string");
  expect_reject("c074323031332d30332d32315432303a30343a30305a", -EINVAL, "tag");
  expect_reject("d82a582500015512200000000000000000000000000000000000000000000000000000000000000000", -EINVAL,
                "tag");
  expect_reject("f7", -EINVAL, "undefined");
  expect_reject("f0", -EINVAL, "simple value");
  expect_reject("f818", -EINVAL, "simple value");
  expect_reject("f93c00", -EINVAL, "half");
  expect_reject("fa3fc00000", -EINVAL, "single");
  expect_reject("fb3ff0000000000000", -EINVAL, "safe integer"); /* 1.0 is written as 01 */
  expect_reject("fb8000000000000000", -EINVAL, "safe integer"); /* -0.0 is written as 00 */
  expect_reject("fb0000000000000000", -EINVAL, "safe integer");
  expect_reject("fb433fffffffffffff", -EINVAL, "safe integer"); /* 2^53 - 1 as a float */
  expect_reject("fb7ff0000000000000", -EINVAL, "NaN or infinite");
  expect_reject("fbfff0000000000000", -EINVAL, "NaN or infinite");
  expect_reject("fb7ff8000000000000", -EINVAL, "NaN or infinite");
  expect_reject("fb3ff8", -EINVAL, "truncated");
  expect_reject("ff", -EINVAL, "break");
  expect_reject("0000", -EINVAL, "after the value");
  expect_reject("a0a0", -EINVAL, "after the value");
  expect_reject("a2616201616102", -EINVAL, "order");           /* b before a */
  expect_reject("a2626161016162" "02", -EINVAL, "order");       /* aa before b: length first */
  expect_reject("a2616101616102", -EINVAL, "duplicate");
  expect_reject("a10101", -EINVAL, "not a text string");
  expect_reject("a1f601", -EINVAL, "not a text string");
  expect_reject("a1416101", -EINVAL, "not a text string");
  expect_reject("6180", -EINVAL, "UTF-8");                        /* lone continuation byte */
  expect_reject("62c0af", -EINVAL, "UTF-8");                      /* overlong '/' */
  expect_reject("63e08080", -EINVAL, "UTF-8");                    /* overlong NUL */
  expect_reject("63eda080", -EINVAL, "UTF-8");                    /* surrogate U+D800 */
  expect_reject("64f4908080", -EINVAL, "UTF-8");                  /* above U+10FFFF */
  expect_reject("62e282", -EINVAL, "UTF-8");                      /* cut sequence */
  expect_reject("a162c0af01", -EINVAL, "UTF-8");                  /* in a key */
  expect_reject("61", -EINVAL, "truncated");
  expect_reject("8201", -EINVAL, "truncated");
  expect_reject("a1", -EINVAL, "truncated");
  expect_reject("a16161", -EINVAL, "truncated");
  expect_reject("9b000000010000000000", -EINVAL, "truncated");
  expect_reject("bb7fffffffffffffff", -EINVAL, "truncated");
  expect_reject("7b7fffffffffffffff", -EINVAL, "truncated");
}

static void test_accepts_canonical(void **state) {
  (void)state;
  /* each of these is the encoder's own output */
  static const char *const ok[] = {
      "00", "17", "1818", "1b001fffffffffffff", "3b001ffffffffffffe", "fb4340000000000000",
      "fbc340000000000000", "fb3ff8000000000000", "fb0000000000000001", "fb8000000000000001",
      "f4", "f5", "f6", "60", "6100", "64f48fbfbf", "80", "a0", "83010203",
      "a3616101616202626161f6", "a2616100626100f5", "81a1616181a0",
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    uint8_t bytes[256];
    size_t n = unhex(ok[i], bytes, sizeof bytes);
    json_t *v = NULL;
    int rc = dagcbor_decode(bytes, n, &v);
    if (rc) fail_msg("%s rejected: %s", ok[i], err_msg(rc));
    buf_t b = {0};
    assert_int_equal(dagcbor_encode(v, &b), 0);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, bytes, n);
    buf_free(&b);
    json_decref(v);
  }
}

static json_t *nest(unsigned depth, bool maps) {
  json_t *v = json_null();
  for (unsigned i = 0; i < depth; i++) {
    json_t *outer = maps ? json_object() : json_array();
    if (maps) json_object_set_new(outer, "a", v);
    else json_array_append_new(outer, v);
    v = outer;
  }
  return v;
}

static void test_depth_limit(void **state) {
  (void)state;
  for (int maps = 0; maps < 2; maps++) {
    json_t *ok = nest(DAGCBOR_DEPTH_MAX, maps), *deep = nest(DAGCBOR_DEPTH_MAX + 1, maps);
    buf_t b = {0};
    assert_int_equal(dagcbor_encode(ok, &b), 0);
    json_t *back = NULL;
    assert_int_equal(dagcbor_decode(b.data, b.len, &back), 0);
    assert_true(dagcbor_json_equal(back, ok));
    json_decref(back);
    size_t ok_len = b.len;
    assert_int_equal(dagcbor_encode(deep, &b), -ELOOP);
    assert_int_equal(b.len, ok_len); /* untouched on error */
    assert_false(dagcbor_json_equal(deep, deep)); /* beyond the limit nothing compares equal */
    /* the bytes one level deeper: one more container head in front */
    buf_t d = {0};
    assert_int_equal(buf_append_byte(&d, maps ? 0xa1 : 0x81), 0);
    if (maps) assert_int_equal(buf_append(&d, "\x61" "a", 2), 0);
    assert_int_equal(buf_append(&d, b.data, b.len), 0);
    back = NULL;
    assert_int_equal(dagcbor_decode(d.data, d.len, &back), -ELOOP);
    assert_null(back);
    buf_free(&d);
    buf_free(&b);
    json_decref(ok);
    json_decref(deep);
  }
}

static void test_size_limit(void **state) {
  (void)state;
  /* a string whose encoding is exactly DAGCBOR_BYTES_MAX bytes passes, one more byte does not */
  size_t head = 5; /* 7a + 4-byte length */
  size_t len = DAGCBOR_BYTES_MAX - head;
  char *s = malloc(len + 1);
  assert_non_null(s);
  memset(s, 'x', len + 1);
  json_t *v = json_stringn(s, len);
  buf_t b = {0};
  assert_int_equal(dagcbor_encode(v, &b), 0);
  assert_int_equal(b.len, DAGCBOR_BYTES_MAX);
  json_t *back = NULL;
  assert_int_equal(dagcbor_decode(b.data, b.len, &back), 0);
  assert_true(json_equal(back, v));
  json_decref(back);
  json_decref(v);
  v = json_stringn(s, len + 1);
  buf_reset(&b);
  assert_int_equal(buf_append(&b, "keep", 4), 0);
  assert_int_equal(dagcbor_encode(v, &b), -E2BIG);
  assert_int_equal(b.len, 4);
  json_decref(v);
  buf_free(&b);
  /* decoding refuses input over the bound before looking at it */
  uint8_t *big = calloc(DAGCBOR_BYTES_MAX + 1, 1);
  assert_non_null(big);
  back = NULL;
  assert_int_equal(dagcbor_decode(big, DAGCBOR_BYTES_MAX + 1, &back), -E2BIG);
  free(big);
  /* many small members hit the bound too */
  json_t *a = json_array();
  for (size_t i = 0; i < DAGCBOR_BYTES_MAX / 9 + 1; i++) json_array_append_new(a, json_real(0.5));
  assert_int_equal(dagcbor_encode(a, &b), -E2BIG);
  assert_int_equal(b.len, 0);
  json_decref(a);
  buf_free(&b);
  free(s);
}

static void test_invalid_strings(void **state) {
  (void)state;
  buf_t b = {0};
  json_t *v = json_stringn_nocheck("\xc0\xaf", 2);
  assert_int_equal(dagcbor_encode(v, &b), -EINVAL);
  json_decref(v);
  json_t *o = json_object();
  json_object_set_new_nocheck(o, "\xed\xa0\x80", json_true());
  assert_int_equal(dagcbor_encode(o, &b), -EINVAL);
  assert_int_equal(b.len, 0);
  json_decref(o);
  assert_int_equal(dagcbor_encode(NULL, &b), -EINVAL);
  buf_free(&b);
}

static void test_edit(void **state) {
  (void)state;
  json_t *m = json_loads("{\"descriptor\":{\"x\":1},\"encodedData\":\"aGk\",\"initialWrite\":{},\"recordId\":\"r\"}",
                         0, NULL);
  assert_non_null(m);
  char *before = json_dumps(m, JSON_SORT_KEYS);
  static const char *const omit[] = {"encodedData", "initialWrite"};
  dagcbor_edit_t edit = {.omit = omit, .omit_len = 2};
  buf_t edited = {0}, plain = {0};
  assert_int_equal(dagcbor_encode_edited(m, &edit, &edited), 0);
  json_t *expect = json_loads("{\"descriptor\":{\"x\":1},\"recordId\":\"r\"}", 0, NULL);
  assert_int_equal(dagcbor_encode(expect, &plain), 0);
  assert_int_equal(edited.len, plain.len);
  assert_memory_equal(edited.data, plain.data, plain.len);
  /* adding a member, and replacing one with the same name */
  json_t *author = json_string("did:example:alice");
  dagcbor_edit_t add = {.add_key = "author", .add_value = author};
  buf_reset(&edited);
  buf_reset(&plain);
  assert_int_equal(dagcbor_encode_edited(expect, &add, &edited), 0);
  json_t *with = json_deep_copy(expect);
  json_object_set(with, "author", author);
  assert_int_equal(dagcbor_encode(with, &plain), 0);
  assert_int_equal(edited.len, plain.len);
  assert_memory_equal(edited.data, plain.data, plain.len);
  json_object_set_new(with, "author", json_string("did:example:mallory"));
  buf_reset(&edited);
  assert_int_equal(dagcbor_encode_edited(with, &add, &edited), 0);
  assert_int_equal(edited.len, plain.len);
  assert_memory_equal(edited.data, plain.data, plain.len);
  /* the caller's object is as it was */
  char *after = json_dumps(m, JSON_SORT_KEYS);
  assert_string_equal(before, after);
  /* only objects can be edited */
  json_t *arr = json_array();
  buf_reset(&edited);
  assert_int_equal(dagcbor_encode_edited(arr, &edit, &edited), -EINVAL);
  assert_int_equal(edited.len, 0);
  json_decref(arr);
  free(before);
  free(after);
  json_decref(with);
  json_decref(author);
  json_decref(expect);
  json_decref(m);
  buf_free(&edited);
  buf_free(&plain);
}

static void test_json_equal(void **state) {
  (void)state;
  json_t *a = json_loads("{\"a\":[1,2.5,{\"b\":null}],\"c\":\"x\"}", 0, NULL);
  json_t *b = json_loads("{\"c\":\"x\",\"a\":[1.0,2.5,{\"b\":null}]}", 0, NULL);
  json_t *c = json_loads("{\"c\":\"x\",\"a\":[1,2.5,{\"b\":false}]}", 0, NULL);
  json_t *d = json_loads("{\"c\":\"x\",\"a\":[1,2.5]}", 0, NULL);
  assert_true(dagcbor_json_equal(a, b));
  assert_false(dagcbor_json_equal(a, c));
  assert_false(dagcbor_json_equal(a, d));
  assert_false(dagcbor_json_equal(a, NULL));
  json_t *x = json_real(1.5), *y = json_integer(1);
  assert_false(dagcbor_json_equal(x, y));
  json_decref(x);
  json_decref(y);
  assert_true(dagcbor_double_is_int(-0.0));
  assert_true(dagcbor_double_is_int(9007199254740991.0));
  assert_false(dagcbor_double_is_int(9007199254740992.0));
  assert_false(dagcbor_double_is_int(0.5));
  assert_false(dagcbor_double_is_int(INFINITY));
  assert_false(dagcbor_double_is_int(NAN));
  json_decref(a);
  json_decref(b);
  json_decref(c);
  json_decref(d);
}

/* ---- seeded round-trip property ---- */

static uint64_t rng_state;
static uint64_t rng(void) { /* splitmix64: a failure replays from the seed */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static json_t *random_string(void) {
  static const char *const pieces[] = {"a", "b", "aa", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80",
                                       "\xef\xbf\xbd", "\xee\x80\x80", "z", "0", " "};
  char s[64];
  size_t len = 0, n = rng() % 5;
  for (size_t i = 0; i < n; i++) {
    const char *p = pieces[rng() % (sizeof pieces / sizeof pieces[0])];
    memcpy(s + len, p, strlen(p));
    len += strlen(p);
  }
  return json_stringn(s, len);
}

static json_t *random_value(unsigned depth) {
  uint64_t r = rng() % 10;
  if (depth >= 5 || r < 5) {
    switch (rng() % 7) {
      case 0: return json_integer((json_int_t)(rng() % 2000) - 1000);
      case 1: return json_integer((json_int_t)(9007199254740991LL - (json_int_t)(rng() % 4)) *
                                  ((rng() & 1) ? 1 : -1));
      case 2: {
        uint64_t bits = rng();
        double d;
        memcpy(&d, &bits, sizeof d);
        return isfinite(d) ? json_real(d) : json_real(0.25);
      }
      case 3: return json_real((double)(rng() % 1000) / 8.0);
      case 4: return random_string();
      case 5: return (rng() & 1) ? json_true() : json_false();
      default: return json_null();
    }
  }
  if (r < 7) {
    json_t *a = json_array();
    for (uint64_t i = rng() % 6; i > 0; i--) json_array_append_new(a, random_value(depth + 1));
    return a;
  }
  json_t *o = json_object();
  for (uint64_t i = rng() % 6; i > 0; i--) {
    json_t *k = random_string();
    json_object_setn_new(o, json_string_value(k), json_string_length(k), random_value(depth + 1));
    json_decref(k);
  }
  return o;
}

static void test_round_trip_property(void **state) {
  (void)state;
  rng_state = 20240501;
  size_t mutants_accepted = 0;
  for (int iter = 0; iter < 3000; iter++) {
    json_t *v = random_value(0);
    buf_t b = {0};
    assert_int_equal(dagcbor_encode(v, &b), 0);
    json_t *back = NULL;
    assert_int_equal(dagcbor_decode(b.data, b.len, &back), 0);
    if (!dagcbor_json_equal(back, v)) fail_msg("iteration %d: decode(encode(x)) != x", iter);
    buf_t again = {0};
    assert_int_equal(dagcbor_encode(back, &again), 0);
    assert_int_equal(again.len, b.len);
    assert_memory_equal(again.data, b.data, b.len);
    /* flip a byte: the decoder either refuses or the result is canonical again */
    if (b.len > 0) {
      b.data[rng() % b.len] ^= (uint8_t)(1u << (rng() % 8));
      json_t *m = NULL;
      int rc = dagcbor_decode(b.data, b.len, &m);
      if (rc == 0) {
        mutants_accepted++;
        buf_reset(&again);
        assert_int_equal(dagcbor_encode(m, &again), 0);
        assert_int_equal(again.len, b.len);
        assert_memory_equal(again.data, b.data, b.len);
        json_decref(m);
      } else {
        assert_true(rc == -EINVAL);
      }
    }
    json_decref(back);
    json_decref(v);
    buf_free(&b);
    buf_free(&again);
  }
  assert_true(mutants_accepted > 0); /* the property was exercised both ways */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_simple_values),
      cmocka_unit_test(test_integer_heads),
      cmocka_unit_test(test_number_boundary),
      cmocka_unit_test(test_json_text_numbers),
      cmocka_unit_test(test_key_order),
      cmocka_unit_test(test_decode_rejections),
      cmocka_unit_test(test_accepts_canonical),
      cmocka_unit_test(test_depth_limit),
      cmocka_unit_test(test_size_limit),
      cmocka_unit_test(test_invalid_strings),
      cmocka_unit_test(test_edit),
      cmocka_unit_test(test_json_equal),
      cmocka_unit_test(test_round_trip_property),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
