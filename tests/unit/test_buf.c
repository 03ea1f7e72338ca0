/*
 * buf: the growable buffer.  Appends of every kind, growth across many
 * reallocations, buf_cstr's NUL (not counted in len), reset keeping the
 * allocation, free leaving a reusable empty buffer, and the size overflow
 * guard of buf_reserve.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"

static void test_zero_initialised_is_empty(void **state) {
  (void)state;
  buf_t b = {0};
  assert_null(b.data);
  assert_int_equal(b.len, 0);
  assert_int_equal(buf_append(&b, NULL, 0), 0); /* empty append allocates nothing */
  assert_null(b.data);
  char *s = buf_cstr(&b);
  assert_non_null(s);
  assert_string_equal(s, "");
  assert_int_equal(b.len, 0);
  buf_free(&b);
  assert_null(b.data);
  assert_int_equal(b.cap, 0);
  buf_free(&b); /* twice is harmless */
}

static void test_append_and_cstr(void **state) {
  (void)state;
  buf_t b = {0};
  assert_int_equal(buf_append(&b, "hello", 5), 0);
  assert_int_equal(buf_append_byte(&b, ' '), 0);
  assert_int_equal(buf_append(&b, "world", 5), 0);
  assert_int_equal(b.len, 11);
  assert_true(b.cap > b.len);
  assert_string_equal(buf_cstr(&b), "hello world");
  assert_int_equal(b.len, 11); /* the NUL is not counted */
  assert_int_equal(buf_append_byte(&b, '!'), 0);
  assert_string_equal(buf_cstr(&b), "hello world!");
  buf_free(&b);
}

static void test_growth(void **state) {
  (void)state;
  buf_t b = {0};
  for (uint32_t i = 0; i < 100000; i++) assert_int_equal(buf_append(&b, &i, sizeof i), 0);
  assert_int_equal(b.len, 100000 * sizeof(uint32_t));
  assert_true(b.cap >= b.len);
  for (uint32_t i = 0; i < 100000; i++) {
    uint32_t v;
    memcpy(&v, b.data + i * sizeof v, sizeof v);
    assert_int_equal(v, i);
  }
  buf_free(&b);
}

static void test_reserve(void **state) {
  (void)state;
  buf_t b = {0};
  assert_int_equal(buf_reserve(&b, 1000), 0);
  assert_true(b.cap >= 1000);
  assert_int_equal(b.len, 0);
  uint8_t *data = b.data;
  size_t cap = b.cap;
  /* filling the reserved room does not reallocate */
  for (int i = 0; i < 1000; i++) assert_int_equal(buf_append_byte(&b, (uint8_t)i), 0);
  assert_ptr_equal(b.data, data);
  assert_int_equal(b.cap, cap);
  /* an impossible size fails cleanly and leaves the buffer intact */
  assert_int_equal(buf_reserve(&b, SIZE_MAX - 10), -ENOMEM);
  assert_int_equal(buf_reserve(&b, SIZE_MAX / 2 + 1), -ENOMEM);
  assert_int_equal(b.len, 1000);
  assert_ptr_equal(b.data, data);
  assert_int_equal(b.data[999], (uint8_t)999);
  buf_free(&b);
}

static void test_varint(void **state) {
  (void)state;
  buf_t b = {0};
  assert_int_equal(buf_append_varint(&b, 1), 0);
  assert_int_equal(buf_append_varint(&b, 300), 0);
  assert_int_equal(buf_append_varint(&b, 16384), 0);
  assert_int_equal(b.len, 6);
  assert_memory_equal(b.data, "\x01\xac\x02\x80\x80\x01", 6);
  buf_free(&b);
}

static void test_printf(void **state) {
  (void)state;
  buf_t b = {0};
  assert_int_equal(buf_printf(&b, "%s=%d", "x", 42), 0);
  assert_int_equal(buf_printf(&b, ",%03u", 7u), 0);
  assert_int_equal(b.len, 8);
  assert_string_equal(buf_cstr(&b), "x=42,007");
  assert_int_equal(buf_printf(&b, "%s", ""), 0);
  assert_int_equal(b.len, 8);
  /* longer than the first allocation */
  char big[5000];
  memset(big, 'q', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(buf_printf(&b, "[%s]", big), 0);
  assert_int_equal(b.len, 8 + 2 + sizeof big - 1);
  assert_int_equal(b.data[9], 'q');
  assert_int_equal(b.data[b.len - 1], ']');
  buf_free(&b);
}

static void test_reset_keeps_allocation(void **state) {
  (void)state;
  buf_t b = {0};
  assert_int_equal(buf_append(&b, "abcdef", 6), 0);
  uint8_t *data = b.data;
  size_t cap = b.cap;
  buf_reset(&b);
  assert_int_equal(b.len, 0);
  assert_ptr_equal(b.data, data);
  assert_int_equal(b.cap, cap);
  assert_string_equal(buf_cstr(&b), "");
  assert_int_equal(buf_append(&b, "xy", 2), 0);
  assert_string_equal(buf_cstr(&b), "xy");
  buf_free(&b);
  /* reusable after free */
  assert_int_equal(buf_append(&b, "again", 5), 0);
  assert_string_equal(buf_cstr(&b), "again");
  buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_zero_initialised_is_empty),
      cmocka_unit_test(test_append_and_cstr),
      cmocka_unit_test(test_growth),
      cmocka_unit_test(test_reserve),
      cmocka_unit_test(test_varint),
      cmocka_unit_test(test_printf),
      cmocka_unit_test(test_reset_keeps_allocation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
