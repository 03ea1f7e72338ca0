/*
 * fs/inode: the inode table: fixed inodes always there; a lookup creates a
 * node once per (kind, CID) and counts; forget frees at zero and not before;
 * unknown inodes are ENOENT; the table grows past its initial buckets.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "inode.h"

static cid_t make_cid(unsigned i) {
  char text[32];
  snprintf(text, sizeof text, "block %u", i);
  cid_t c;
  assert_int_equal(cid_make(&c, 1, CODEC_RAW, MH_SHA2_256, text, strlen(text)), 0);
  return c;
}

static void test_fixed_and_unknown(void **state) {
  (void)state;
  fs_table_t *t;
  assert_int_equal(fs_table_new(&t), 0);
  fs_node_t n;
  for (uint64_t ino = FS_INO_ROOT; ino <= FS_INO_DWN; ino++) {
    assert_int_equal(fs_table_get(t, ino, &n), 0);
    assert_int_equal(n.kind, FS_DIR_FIXED);
  }
  assert_int_equal(fs_table_get(t, 0, &n), -ENOENT);
  assert_int_equal(fs_table_get(t, FS_INO_FIRST_DYNAMIC, &n), -ENOENT);
  fs_table_forget(t, FS_INO_PINS, 1000); /* fixed: ignored */
  assert_int_equal(fs_table_get(t, FS_INO_PINS, &n), 0);
  fs_table_free(t);
}

static void test_lookup_counts_and_forget(void **state) {
  (void)state;
  fs_table_t *t;
  assert_int_equal(fs_table_new(&t), 0);
  cid_t a = make_cid(1);
  exp_stat_t st = {.kind = EXP_FILE, .size_bytes = 7};
  fs_node_t n1, n2, n3;
  assert_int_equal(fs_table_lookup(t, FS_CONTENT, &a, &st, &n1), 0);
  assert_int_equal(fs_table_lookup(t, FS_CONTENT, &a, &st, &n2), 0);
  assert_true(n1.ino >= FS_INO_FIRST_DYNAMIC);
  assert_int_equal(n1.ino, n2.ino); /* one inode per CID */
  assert_int_equal(n1.st.size_bytes, 7);
  assert_int_equal(fs_table_lookup(t, FS_PIN_LINK, &a, NULL, &n3), 0);
  assert_int_not_equal(n3.ino, n1.ino); /* another kind, another inode */
  assert_int_equal(fs_table_count(t), 2);
  fs_table_forget(t, n1.ino, 1);
  assert_int_equal(fs_table_get(t, n1.ino, &n2), 0); /* one lookup left */
  fs_table_forget(t, n1.ino, 1);
  assert_int_equal(fs_table_get(t, n1.ino, &n2), -ENOENT);
  assert_int_equal(fs_table_count(t), 1);
  fs_table_forget(t, n3.ino, 5); /* more than looked up: freed, no underflow */
  assert_int_equal(fs_table_count(t), 0);
  /* a new lookup after forget gets a fresh inode number */
  assert_int_equal(fs_table_lookup(t, FS_CONTENT, &a, &st, &n2), 0);
  assert_int_not_equal(n2.ino, n1.ino);
  fs_table_free(t);
}

static void test_grows(void **state) {
  (void)state;
  fs_table_t *t;
  assert_int_equal(fs_table_new(&t), 0);
  enum { N = 5000 };
  static uint64_t inos[N];
  for (unsigned i = 0; i < N; i++) {
    cid_t c = make_cid(i);
    fs_node_t n;
    assert_int_equal(fs_table_lookup(t, FS_CONTENT, &c, NULL, &n), 0);
    inos[i] = n.ino;
  }
  assert_int_equal(fs_table_count(t), N);
  for (unsigned i = 0; i < N; i++) {
    fs_node_t n;
    cid_t c = make_cid(i);
    assert_int_equal(fs_table_get(t, inos[i], &n), 0);
    assert_true(cid_equal(&n.cid, &c));
    fs_table_forget(t, inos[i], 1);
  }
  assert_int_equal(fs_table_count(t), 0);
  fs_table_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixed_and_unknown),
      cmocka_unit_test(test_lookup_counts_and_forget),
      cmocka_unit_test(test_grows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
