/*
 * fuzz_http_query: http_decode and http_query_get (net/http.c) over arbitrary
 * bytes.  The input is a query string and a parameter name split at the first
 * NUL.  Properties: http_decode returns only 0, -EINVAL or -E2BIG; on 0 the
 * output has no NUL before its end, is no longer than the input, and
 * percent-encoding it byte by byte and decoding again gives it back; a
 * capacity of exactly its length + 1 fits and one byte less is -E2BIG.
 * http_query_get agrees with a plain reference: the first '&'-separated pair
 * whose key decodes to the name, its value decoded with '+' as space ("" for
 * a key without '=').  A violated property aborts.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define CAP 4096

static void check_decode(const char *src, size_t len, bool plus) {
  static char out[CAP], again[CAP], encoded[CAP * 3 + 1];
  int rc = http_decode(src, len, plus, out, sizeof out);
  if (rc != 0 && rc != -EINVAL && rc != -E2BIG) abort();
  if (rc != 0) return;
  size_t n = strlen(out);
  if (n > len) abort();
  for (size_t i = 0; i < n; i++) snprintf(encoded + 3 * i, 4, "%%%02X", (unsigned char)out[i]);
  if (http_decode(encoded, 3 * n, plus, again, sizeof again) != 0) abort();
  if (strcmp(again, out) != 0) abort();
  if (http_decode(src, len, plus, again, n + 1) != 0 || strcmp(again, out) != 0) abort();
  if (http_decode(src, len, plus, again, n) != -E2BIG) abort();
}

/* The reference: 1 found (value in out), 0 not found, -1 bad. */
static int reference(const char *query, const char *name, char *out) {
  const char *p = query;
  for (;;) {
    const char *end = strchr(p, '&');
    size_t part = end ? (size_t)(end - p) : strlen(p);
    const char *eq = memchr(p, '=', part);
    size_t key_len = eq ? (size_t)(eq - p) : part;
    char key[256];
    if (part > 0 && http_decode(p, key_len, true, key, sizeof key) == 0 && strcmp(key, name) == 0) {
      if (!eq) {
        out[0] = 0;
        return 1;
      }
      return http_decode(eq + 1, part - key_len - 1, true, out, CAP) == 0 ? 1 : -1;
    }
    if (!end) return 0;
    p = end + 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > CAP - 1) return 0;
  check_decode((const char *)data, size, false);
  check_decode((const char *)data, size, true);
  static char buf[CAP], out[CAP], want[CAP];
  memcpy(buf, data, size);
  buf[size] = 0;
  const char *query = buf;
  const char *name = memchr(buf, 0, size) ? buf + strlen(buf) + 1 : "a";
  if (name > buf + size) name = "a";
  int rc = http_query_get(query, name, out, sizeof out);
  int ref = reference(query, name, want);
  if (ref == 1 && (rc != 0 || strcmp(out, want) != 0)) abort();
  if (ref == 0 && rc != -ENOENT) abort();
  if (ref == -1 && rc != -EINVAL && rc != -E2BIG) abort();
  return 0;
}
