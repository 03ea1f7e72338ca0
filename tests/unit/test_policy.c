/*
 * policy: rules load from [[pinning.policy]] and are checked (names, the
 * fields each source needs, sizes, replicate targets); matching is first
 * rule wins over source, path, protocol and size; a pin name puts a pin in a
 * policy's series; keep_last unpins the oldest of the series and nothing
 * else; holdings are listed newest first.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bs.h"
#include "config.h"
#include "err.h"
#include "pins.h"
#include "policy.h"
#include "testdir.h"

static int load(const char *text, policy_set_t *set) {
  config_t *cfg;
  assert_int_equal(config_new(&cfg), 0);
  int rc = config_load_text(cfg, text, strlen(text), "p.toml");
  if (!rc) rc = policy_load(cfg, set);
  config_free(cfg);
  return rc;
}

static void load_bad(const char *text, const char *message) {
  policy_set_t set;
  err_clear();
  int rc = load(text, &set);
  if (rc != -EINVAL) fail_msg("[%s]: expected -EINVAL, got %d", text, rc);
  if (strcmp(err_msg(rc), message) != 0) fail_msg("[%s]: message\n  '%s'\nwanted\n  '%s'", text, err_msg(rc), message);
  assert_int_equal(set.len, 0);
}

static void test_load_checks(void **state) {
  (void)state;
  policy_set_t set;
  assert_int_equal(load("", &set), 0);
  assert_int_equal(set.len, 0);
  load_bad("[[pinning.policy]]\nname = \"a b\"\n",
           "p.toml:1:1: pinning.policy name 'a b' must be 1 to 64 letters, digits, '.', '_' or '-'");
  load_bad("[[pinning.policy]]\nname = \"a\"\n[[pinning.policy]]\nname = \"a\"\n",
           "p.toml:3:1: a pinning.policy named 'a' is already defined");
  load_bad("[[pinning.policy]]\nname = \"f\"\nsource = \"files\"\n",
           "p.toml:1:1: policy 'f' (source \"files\") needs path_prefix, an absolute path in files/ without a "
           "trailing '/', such as \"/backups\"");
  load_bad("[[pinning.policy]]\nname = \"f\"\nsource = \"files\"\npath_prefix = \"/x/\"\n",
           "p.toml:1:1: policy 'f' (source \"files\") needs path_prefix, an absolute path in files/ without a "
           "trailing '/', such as \"/backups\"");
  load_bad("[[pinning.policy]]\nname = \"p\"\npath_prefix = \"/x\"\n",
           "p.toml:1:1: policy 'p': path_prefix is only for source \"files\"");
  load_bad("[[pinning.policy]]\nname = \"d\"\nsource = \"dwn\"\n", "p.toml:1:1: policy 'd' (source \"dwn\") needs dwn_protocol");
  load_bad("[[pinning.policy]]\nname = \"d\"\ndwn_protocol = \"https://x\"\n",
           "p.toml:1:1: policy 'd': dwn_protocol is only for source \"dwn\"");
  load_bad("[[pinning.policy]]\nname = \"s\"\nmin_size = \"2MB\"\nmax_size = \"1MB\"\n",
           "p.toml:1:1: policy 's': min_size is above max_size");
  load_bad("[[pinning.policy]]\nname = \"r\"\nreplicate = [\"pinata\"]\n",
           "p.toml:1:1: policy 'r': replicate target 'pinata' is not in pinning.remote_services");
  assert_int_equal(load("[pinning]\nremote_services = [\"pinata\"]\n[[pinning.policy]]\nname = \"r\"\n"
                        "replicate = [\"pinata\"]\n", &set), 0);
  assert_int_equal(set.len, 1);
  assert_int_equal(set.rules[0].replicate_len, 1);
  assert_string_equal(set.rules[0].replicate[0], "pinata");
  policy_free(&set);
}

static void test_match_first_rule_wins(void **state) {
  (void)state;
  policy_set_t set;
  assert_int_equal(load("[[pinning.policy]]\nname = \"huge\"\nsource = \"add\"\nmin_size = \"1GiB\"\npin = false\n"
                        "[[pinning.policy]]\nname = \"adds\"\nsource = \"add\"\nexpire_after = \"1h\"\n"
                        "[[pinning.policy]]\nname = \"bk\"\nsource = \"files\"\npath_prefix = \"/backups\"\n"
                        "max_size = \"100MB\"\n"
                        "[[pinning.policy]]\nname = \"root\"\nsource = \"files\"\npath_prefix = \"/\"\n"
                        "[[pinning.policy]]\nname = \"rgb\"\nsource = \"dwn\"\n"
                        "dwn_protocol = \"https://anya.io/protocols/rgb-asset\"\n",
                        &set),
                   0);
  policy_event_t ev = {.source = POLICY_SOURCE_ADD, .size = 1ULL << 30};
  assert_string_equal(policy_match(&set, &ev)->name, "huge");
  assert_false(policy_match(&set, &ev)->pin);
  ev.size = (1ULL << 30) - 1;
  assert_string_equal(policy_match(&set, &ev)->name, "adds");
  assert_int_equal(policy_expiry(policy_match(&set, &ev), 1000), 1000 + 3600000);
  ev = (policy_event_t){.source = POLICY_SOURCE_FILES, .path = "/backups/2026/a.tar", .size = 5};
  assert_string_equal(policy_match(&set, &ev)->name, "bk");
  ev.path = "/backups";
  assert_string_equal(policy_match(&set, &ev)->name, "bk");
  ev.path = "/backupsX/a"; /* a prefix is a whole path component */
  assert_string_equal(policy_match(&set, &ev)->name, "root");
  ev.path = "/backups/big";
  ev.size = 100000001;
  assert_string_equal(policy_match(&set, &ev)->name, "root");
  ev = (policy_event_t){.source = POLICY_SOURCE_DWN, .dwn_protocol = "https://anya.io/protocols/rgb-asset"};
  assert_string_equal(policy_match(&set, &ev)->name, "rgb");
  ev.dwn_protocol = "https://anya.io/protocols/bitcoin-transaction";
  assert_null(policy_match(&set, &ev));
  ev = (policy_event_t){.source = POLICY_SOURCE_PIN};
  assert_null(policy_match(&set, &ev));
  assert_string_equal(policy_for_pin_name(&set, "bk/x")->name, "bk");
  assert_null(policy_for_pin_name(&set, "bk"));
  assert_null(policy_for_pin_name(&set, "bkx/y"));
  char name[PINS_NAME_BYTES_MAX + 1];
  policy_pin_name(&set.rules[2], "2026-11-25", name);
  assert_string_equal(name, "bk/2026-11-25");
  policy_free(&set);
}

/* keep_last over a real pin set */
typedef struct fixture {
  char dir[512];
  bs_t *bs;
  pins_t *pins;
  pins_blocks_t blocks;
  uint64_t now_ms;
} fixture_t;

static uint64_t clock_fn(void *ctx) { return ((fixture_t *)ctx)->now_ms; }

static int collect(void *ctx, const pin_info_t *pin) {
  buf_t *names = ctx;
  buf_printf(names, "%s;", pin->name);
  return 0;
}

static void test_keep_last(void **state) {
  (void)state;
  fixture_t f = {.now_ms = 1700000000000ull};
  assert_int_equal(testdir_make(f.dir, sizeof f.dir, "anya-policy"), 0);
  char path[600];
  snprintf(path, sizeof path, "%s/blocks", f.dir);
  assert_int_equal(bs_open(path, NULL, &f.bs), 0);
  f.blocks = pins_blocks_bs(f.bs);
  snprintf(path, sizeof path, "%s/pins", f.dir);
  assert_int_equal(pins_open(path, &f.blocks, &f.pins), 0);
  pins_set_clock(f.pins, clock_fn, &f);
  policy_set_t set;
  assert_int_equal(load("[[pinning.policy]]\nname = \"snap\"\nkeep_last = 3\n", &set), 0);
  cid_t cids[6];
  for (int i = 0; i < 6; i++) {
    char text[32], name[32];
    snprintf(text, sizeof text, "block %d", i);
    assert_int_equal(cid_make(&cids[i], 1, CODEC_RAW, MH_SHA2_256, text, strlen(text)), 0);
    assert_true(bs_put(f.bs, &cids[i], text, strlen(text)) >= 0);
    /* i 0..4 in the series, created a second apart; 5 is outside it */
    snprintf(name, sizeof name, i < 5 ? "snap/%d" : "other/%d", i);
    f.now_ms += 1000;
    assert_int_equal(pins_add(f.pins, &cids[i], true, name, 0), 0);
  }
  buf_t held = {0};
  assert_int_equal(policy_holdings(&set.rules[0], f.pins, collect, &held), 0);
  assert_string_equal(buf_cstr(&held), "snap/4;snap/3;snap/2;snap/1;snap/0;");
  uint64_t removed;
  buf_t gone = {0};
  assert_int_equal(policy_enforce(&set.rules[0], f.pins, &removed, collect, &gone), 0);
  assert_int_equal(removed, 2);
  assert_string_equal(buf_cstr(&gone), "snap/1;snap/0;");
  pin_info_t info;
  assert_int_equal(pins_get(f.pins, &cids[0], &info), -ENOENT);
  assert_int_equal(pins_get(f.pins, &cids[1], &info), -ENOENT);
  assert_int_equal(pins_get(f.pins, &cids[2], &info), 0);
  assert_int_equal(pins_get(f.pins, &cids[5], &info), 0); /* not the policy's */
  assert_int_equal(policy_enforce(&set.rules[0], f.pins, &removed, NULL, NULL), 0);
  assert_int_equal(removed, 0);
  buf_free(&held);
  buf_free(&gone);
  policy_free(&set);
  assert_int_equal(pins_close(f.pins), 0);
  assert_int_equal(bs_close(f.bs), 0);
  testdir_remove(f.dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_load_checks),
      cmocka_unit_test(test_match_first_rule_wins),
      cmocka_unit_test(test_keep_last),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
