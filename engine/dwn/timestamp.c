/* dwn/timestamp: see timestamp.h. */
#include "dwn/timestamp.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <time.h>

static int64_t realtime_us(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static dwn_time_clock_fn clock_fn = realtime_us;
static void *clock_ctx;

void dwn_time_set_clock(dwn_time_clock_fn clock, void *ctx) {
  clock_fn = clock ? clock : realtime_us;
  clock_ctx = clock ? ctx : NULL;
}

int64_t dwn_time_now_us(void) { return clock_fn(clock_ctx); }

static bool digit(char c) { return c >= '0' && c <= '9'; }
static bool in(char c, char lo, char hi) { return c >= lo && c <= hi; }

bool dwn_time_is_wellformed(const char *s, size_t len) {
  /* ^\d{4}-[0-1]\d-[0-3]\dT(?:[0-2]\d:[0-5]\d:[0-5]\d|23:59:60)\.\d{6}Z$ */
  if (len != 27) return false;
  for (int i = 0; i < 4; i++)
    if (!digit(s[i])) return false;
  if (s[4] != '-' || !in(s[5], '0', '1') || !digit(s[6]) || s[7] != '-') return false;
  if (!in(s[8], '0', '3') || !digit(s[9]) || s[10] != 'T') return false;
  bool clock = in(s[11], '0', '2') && digit(s[12]) && s[13] == ':' && in(s[14], '0', '5') &&
               digit(s[15]) && s[16] == ':' && in(s[17], '0', '5') && digit(s[18]);
  bool leap = s[11] == '2' && s[12] == '3' && s[13] == ':' && s[14] == '5' && s[15] == '9' &&
              s[16] == ':' && s[17] == '6' && s[18] == '0';
  if (!clock && !leap) return false;
  if (s[19] != '.') return false;
  for (int i = 20; i < 26; i++)
    if (!digit(s[i])) return false;
  return s[26] == 'Z';
}

static int num(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
  return v;
}

static bool leap_year(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int64_t y, int m) {
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

int dwn_time_parse(const char *s, size_t len, int64_t *us) {
  if (!dwn_time_is_wellformed(s, len)) return -EINVAL;
  int year = num(s, 4), month = num(s + 5, 2), day = num(s + 8, 2);
  int hour = num(s + 11, 2), minute = num(s + 14, 2), second = num(s + 17, 2);
  int micro = num(s + 20, 6);
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return -EINVAL;
  if (hour > 23) return -EINVAL;
  if (second == 60) second = 59; /* Temporal constrains a leap second */
  int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  if (us) *us = secs * 1000000 + micro;
  return 0;
}

int dwn_time_format(int64_t us, char out[DWN_TIME_TEXT_BYTES]) {
  if (us < DWN_TIME_US_MIN || us > DWN_TIME_US_MAX) return -ERANGE;
  int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
  int64_t micro = us - secs * 1000000;
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int64_t rem = secs - days * 86400;
  int64_t y;
  int m, d;
  civil_from_days(days, &y, &m, &d);
  char text[64];
  snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", (int)y, m, d,
           (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), (int)micro);
  assert(strlen(text) == DWN_TIME_TEXT_BYTES - 1);
  memcpy(out, text, DWN_TIME_TEXT_BYTES);
  return 0;
}

int dwn_time_now(char out[DWN_TIME_TEXT_BYTES]) { return dwn_time_format(dwn_time_now_us(), out); }
