/*
 * fuzz_dwn_message: arbitrary bytes as a received DWN message.
 *  - parsed as JSON (any top-level value): dwn_validate_message and every
 *    exported schema answer 0, or -EINVAL with a 400 status whose detail is
 *    one of the SDK's forms; the answer is the same when asked twice (no
 *    state leaks between runs);
 *  - the bytes as a URL: dwn_url_normalize succeeds within 3 * len + 16
 *    bytes or fails with one of its documented codes, and is_normalized
 *    agrees with comparing the normal form to the input;
 *  - the bytes as a timestamp: a parsed one formats back to itself (a leap
 *    second to :59).
 * A violated property aborts.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dwn/status.h"
#include "dwn/timestamp.h"
#include "dwn/url.h"
#include "dwn/validate.h"

static void check_status(int rc, const dwn_status_t *st) {
  if (rc == 0) return;
  if (rc != -EINVAL || st->code != 400) abort();
  if (strncmp(st->detail, "SchemaValidator", 15) != 0 &&
      strncmp(st->detail, "Both interface and method must be present, ", 43) != 0)
    abort();
}

static void check_json(const uint8_t *data, size_t size) {
  json_error_t error;
  json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, &error);
  if (!v) return;
  dwn_status_t a = {0}, b = {0};
  int rc = dwn_validate_message(v, &a);
  check_status(rc, &a);
  if (dwn_validate_message(v, &b) != rc || strcmp(a.detail, b.detail) != 0) abort();
  for (int s = 0; s < DWN_SCHEMA_COUNT; s++) {
    dwn_status_t st = {0};
    check_status(dwn_validate_schema((dwn_schema_t)s, v, &st), &st);
  }
  dwn_status_t st = {0};
  check_status(dwn_validate_encryption(v, &st), &st);
  json_decref(v);
}

static void check_url(const uint8_t *data, size_t size) {
  size_t cap = 3 * size + 16;
  char *out = malloc(cap);
  if (!out) return;
  int rc = dwn_url_normalize((const char *)data, size, out, cap);
  bool same = false;
  if (rc == 0) {
    if (strlen(out) >= cap) abort();
    same = strlen(out) == size && memcmp(out, data, size) == 0;
  } else if (rc != -EINVAL && rc != -ENOTSUP && rc != -E2BIG) {
    abort();
  }
  if (dwn_url_is_normalized((const char *)data, size) != same) abort();
  free(out);
}

static void check_time(const uint8_t *data, size_t size) {
  int64_t us;
  if (dwn_time_parse((const char *)data, size, &us) != 0) return;
  char text[DWN_TIME_TEXT_BYTES];
  if (dwn_time_format(us, text) != 0) abort();
  if (memcmp(text, data, 17) != 0 || memcmp(text + 19, data + 19, 8) != 0) abort();
  if (memcmp(text + 17, data + 17, 2) != 0 && memcmp(data + 17, "60", 2) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_json(data, size);
  check_url(data, size);
  check_time(data, size);
  return 0;
}
