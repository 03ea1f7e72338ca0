/*
 * mhset: 100k keys added, found, re-added as no-ops; lengths are part of the
 * key; length bounds; iteration sees every key once.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mhset.h"
#include "multihash.h"

static int count_key(void *ctx, const uint8_t *mh, size_t mh_len) {
  (void)mh;
  (void)mh_len;
  ++*(size_t *)ctx;
  return 0;
}

static void test_mhset(void **state) {
  (void)state;
  mhset_t set = {0}, *s = &set;
  uint8_t key[MH_BYTES_MAX];
  for (uint32_t i = 0; i < 100000; i++) {
    key[0] = 0x12, key[1] = 0x20;
    memset(key + 2, 0, 32);
    memcpy(key + 2, &i, sizeof i);
    assert_int_equal(mhset_add(s, key, 34), 1);
  }
  assert_int_equal(s->len, 100000);
  for (uint32_t i = 0; i < 100000; i += 7) {
    memcpy(key + 2, &i, sizeof i);
    assert_true(mhset_has(s, key, 34));
    assert_int_equal(mhset_add(s, key, 34), 0);
    assert_false(mhset_has(s, key, 33)); /* lengths differ: another key */
  }
  uint32_t absent = 100001;
  memcpy(key + 2, &absent, sizeof absent);
  assert_false(mhset_has(s, key, 34));
  assert_int_equal(mhset_add(s, key, 0), -EINVAL);
  assert_int_equal(mhset_add(s, key, MH_BYTES_MAX + 1), -EINVAL);
  assert_int_equal(mhset_add(s, key, MH_BYTES_MAX), 1);
    size_t seen = 0;
  assert_int_equal(mhset_each(s, count_key, &seen), 0);
  assert_int_equal(seen, 100001);
  mhset_free(s);
  assert_int_equal(s->len, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_mhset)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
