/*
 * dwn/timestamp: the §2.1 shape, what Temporal.Instant.from accepts among
 * well-formed strings (month and day ranges, leap years, hour 24+, the leap
 * second), microseconds since the epoch against known instants, formatting
 * round trips over the whole range, and the injectable clock.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dwn/timestamp.h"

static bool wellformed(const char *s) { return dwn_time_is_wellformed(s, strlen(s)); }

static int parse(const char *s, int64_t *us) { return dwn_time_parse(s, strlen(s), us); }

static void test_shape(void **state) {
  (void)state;
  assert_true(wellformed("2024-01-02T03:04:05.123456Z"));
  assert_true(wellformed("2024-19-39T29:59:59.000000Z")); /* the pattern admits it */
  assert_true(wellformed("2024-01-02T23:59:60.000000Z"));
  static const char *bad[] = {"2024-01-02T03:04:05.123Z",        "2024-01-02T03:04:05.1234567Z",
                              "2024-01-02 03:04:05.123456Z",     "2024-01-02T03:04:05.123456z",
                              "2024-01-02T03:04:05Z",            "2024-21-02T03:04:05.123456Z",
                              "2024-01-42T03:04:05.123456Z",     "2024-01-02T33:04:05.123456Z",
                              "2024-01-02T03:64:05.123456Z",     "2024-01-02T03:04:60.000000Z",
                              "2024-01-02T22:59:60.000000Z",     "2024-01-02T03:04:05.123456+00:00",
                              "+2024-01-02T03:04:05.123456Z",    ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (wellformed(bad[i])) fail_msg("%s accepted", bad[i]);
  assert_int_equal(parse("2024-01-02T03:04:05.123Z", NULL), -EINVAL);
}

static void test_parse(void **state) {
  (void)state;
  int64_t us;
  assert_int_equal(parse("1970-01-01T00:00:00.000000Z", &us), 0);
  assert_int_equal(us, 0);
  assert_int_equal(parse("2024-01-02T03:04:05.123456Z", &us), 0);
  assert_int_equal(us, 1704164645123456LL);
  assert_int_equal(parse("1969-12-31T23:59:59.999999Z", &us), 0);
  assert_int_equal(us, -1);
  assert_int_equal(parse("0000-01-01T00:00:00.000000Z", &us), 0);
  assert_int_equal(us, DWN_TIME_US_MIN);
  assert_int_equal(parse("9999-12-31T23:59:59.999999Z", &us), 0);
  assert_int_equal(us, DWN_TIME_US_MAX);
  /* the leap second reads as :59 (Temporal constrains it) */
  int64_t a, b;
  assert_int_equal(parse("2016-12-31T23:59:60.500000Z", &a), 0);
  assert_int_equal(parse("2016-12-31T23:59:59.500000Z", &b), 0);
  assert_int_equal(a, b);
  assert_int_equal(parse("2024-02-29T00:00:00.000000Z", &us), 0);
  assert_int_equal(parse("2000-02-29T00:00:00.000000Z", &us), 0);
  static const char *invalid[] = {"2023-02-29T00:00:00.000000Z", "1900-02-29T00:00:00.000000Z",
                                  "2024-04-31T00:00:00.000000Z", "2024-00-10T00:00:00.000000Z",
                                  "2024-01-00T00:00:00.000000Z", "2024-13-01T00:00:00.000000Z",
                                  "2024-01-32T00:00:00.000000Z", "2024-01-01T24:00:00.000000Z"};
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
    if (parse(invalid[i], &us) != -EINVAL) fail_msg("%s accepted", invalid[i]);
}

static void test_format(void **state) {
  (void)state;
  char text[DWN_TIME_TEXT_BYTES];
  assert_int_equal(dwn_time_format(1704164645123456LL, text), 0);
  assert_string_equal(text, "2024-01-02T03:04:05.123456Z");
  assert_int_equal(dwn_time_format(-1, text), 0);
  assert_string_equal(text, "1969-12-31T23:59:59.999999Z");
  assert_int_equal(dwn_time_format(DWN_TIME_US_MIN - 1, text), -ERANGE);
  assert_int_equal(dwn_time_format(DWN_TIME_US_MAX + 1, text), -ERANGE);
  /* round trips across the range, in steps that touch every month and leap rule */
  const int64_t step = 86400LL * 1000000 * 37 + 3600LL * 1000000 * 5 + 123457;
  int64_t count = 0;
  for (int64_t us = DWN_TIME_US_MIN; us <= DWN_TIME_US_MAX && count < 200000; us += step, count++) {
    assert_int_equal(dwn_time_format(us, text), 0);
    assert_true(wellformed(text));
    int64_t back;
    assert_int_equal(parse(text, &back), 0);
    assert_int_equal(back, us);
  }
  assert_true(count > 50000);
}

static int64_t fixed_clock(void *ctx) { return *(int64_t *)ctx; }

static void test_clock(void **state) {
  (void)state;
  int64_t now = 1704164645123456LL;
  dwn_time_set_clock(fixed_clock, &now);
  char text[DWN_TIME_TEXT_BYTES];
  assert_int_equal(dwn_time_now(text), 0);
  assert_string_equal(text, "2024-01-02T03:04:05.123456Z");
  now += 1;
  assert_int_equal(dwn_time_now_us(), 1704164645123457LL);
  dwn_time_set_clock(NULL, NULL);
  /* the real clock is after the fixed one above */
  assert_true(dwn_time_now_us() > 1704164645123457LL);
  assert_int_equal(dwn_time_now(text), 0);
  assert_true(wellformed(text));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shape),
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_format),
      cmocka_unit_test(test_clock),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
