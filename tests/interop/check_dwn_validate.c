/*
 * check_dwn_validate: replays the vectors tests/interop/dwn-validate.mjs made
 * with dwn-sdk-js 0.5.2 (one JSON object per line) through dwn/validate,
 * dwn/url and dwn/timestamp.
 *   message: dwn_validate_message must give the SDK's status code and the
 *            error code of its detail (the text before the first ':');
 *   schema:  the same through dwn_validate_schema for the named schema;
 *   url:     dwn_url_normalize gives the SDK's normalisation (or fails where
 *            it throws; -ENOTSUP, a host needing IDNA, is counted, not
 *            compared) and dwn_url_is_normalized its verdict;
 *   time:    well-formedness, validity and microseconds since the epoch.
 * Prints how many vectors also match the whole detail.  Exits 1 at the end
 * if anything differed (showing the first mismatches), 2 on bad input.
 * Usage: check_dwn_validate VECTORS.jsonl
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dwn/status.h"
#include "dwn/timestamp.h"
#include "dwn/url.h"
#include "dwn/validate.h"

#define LINE_BYTES_MAX (1 << 20)
#define SHOWN_MAX 15

static long mismatches, detail_mismatches, shown, detail_shown, idna;

static size_t code_len(const char *detail) {
  const char *colon = strchr(detail, ':');
  return colon ? (size_t)(colon - detail) : strlen(detail);
}

static void mismatch(long line, const char *what, const char *tag, const char *want, const char *got) {
  mismatches++;
  if (shown++ < SHOWN_MAX)
    fprintf(stderr, "MISMATCH line %ld (%s) %s\n  want: %s\n  got:  %s\n", line, what, tag ? tag : "",
            want, got);
}

static void check_status(long line, const json_t *v, int rc, const dwn_status_t *st) {
  int want_code = (int)json_integer_value(json_object_get(v, "code"));
  const char *want = json_string_value(json_object_get(v, "detail"));
  const char *tag = json_string_value(json_object_get(v, "tag"));
  int got_code = rc == 0 ? 0 : st->code;
  const char *got = rc == 0 ? "" : st->detail;
  if (rc != 0 && rc != -EINVAL) {
    mismatch(line, "rc", tag, want, strerror(-rc));
    return;
  }
  char a[600], b[600];
  snprintf(a, sizeof a, "%d %s", want_code, want);
  snprintf(b, sizeof b, "%d %s", got_code, got);
  if (want_code != got_code || code_len(want) != code_len(got) ||
      memcmp(want, got, code_len(want)) != 0) {
    mismatch(line, "code", tag, a, b);
    return;
  }
  /* dwn_status truncates details beyond DWN_DETAIL_BYTES_MAX - 1 bytes */
  size_t cut = sizeof st->detail - 1;
  if (strncmp(want, got, cut) != 0) {
    detail_mismatches++;
    if (detail_shown++ < SHOWN_MAX)
      fprintf(stderr, "detail differs line %ld %s\n  want: %s\n  got:  %s\n", line, tag ? tag : "", a, b);
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s VECTORS.jsonl\n", argv[0]);
    return 2;
  }
  FILE *f = fopen(argv[1], "r");
  if (!f) {
    perror(argv[1]);
    return 2;
  }
  char *text = malloc(LINE_BYTES_MAX);
  if (!text) return 2;
  long line = 0, counts[4] = {0};
  while (fgets(text, LINE_BYTES_MAX, f)) {
    line++;
    json_error_t error;
    json_t *v = json_loads(text, 0, &error);
    if (!v) {
      fprintf(stderr, "line %ld: %s\n", line, error.text);
      return 2;
    }
    const char *kind = json_string_value(json_object_get(v, "kind"));
    const json_t *value = json_object_get(v, "value");
    dwn_status_t st = {0};
    if (strcmp(kind, "message") == 0) {
      counts[0]++;
      check_status(line, v, dwn_validate_message(value, &st), &st);
    } else if (strcmp(kind, "schema") == 0) {
      counts[1]++;
      const char *name = json_string_value(json_object_get(v, "schema"));
      dwn_schema_t schema;
      int rc;
      if (dwn_validate_schema_lookup(name, &schema) != 0)
        rc = dwn_status_fail(&st, 400, "SchemaValidatorSchemaNotFound", "schema for %s not found.", name);
      else
        rc = dwn_validate_schema(schema, value, &st);
      check_status(line, v, rc, &st);
    } else if (strcmp(kind, "url") == 0) {
      counts[2]++;
      const char *in = json_string_value(value);
      const json_t *want = json_object_get(v, "normalized");
      char out[1024];
      int rc = dwn_url_normalize(in, strlen(in), out, sizeof out);
      char got[1100];
      snprintf(got, sizeof got, "%s", rc == 0 ? out : strerror(-rc));
      if (rc == -ENOTSUP) /* a host that needs IDNA (documented in url.h) */
        idna++;
      else if (json_is_null(want) ? rc != -EINVAL : (rc != 0 || strcmp(out, json_string_value(want)) != 0))
        mismatch(line, "url normalize", in, json_is_null(want) ? "(throws)" : json_string_value(want), got);
      bool ok = dwn_url_is_normalized(in, strlen(in));
      if (ok != json_is_true(json_object_get(v, "isNormalized")))
        mismatch(line, "url is_normalized", in, ok ? "false" : "true", ok ? "true" : "false");
    } else if (strcmp(kind, "time") == 0) {
      counts[3]++;
      const char *in = json_string_value(value);
      bool wellformed = dwn_time_is_wellformed(in, strlen(in));
      if (wellformed != json_is_true(json_object_get(v, "wellFormed")))
        mismatch(line, "time wellformed", in, wellformed ? "false" : "true", wellformed ? "true" : "false");
      int64_t us = 0;
      int rc = dwn_time_parse(in, strlen(in), &us);
      bool valid = json_is_true(json_object_get(v, "valid"));
      if ((rc == 0) != valid) {
        mismatch(line, "time valid", in, valid ? "valid" : "invalid", rc == 0 ? "valid" : "invalid");
      } else if (valid) {
        char got[32];
        snprintf(got, sizeof got, "%" PRId64, us);
        const char *want = json_string_value(json_object_get(v, "micros"));
        if (strcmp(got, want) != 0) mismatch(line, "time micros", in, want, got);
        char back[DWN_TIME_TEXT_BYTES];
        /* formatting gives the text back, except a leap second (read as :59) */
        if (dwn_time_format(us, back) != 0 || (strcmp(back, in) != 0 && strncmp(in + 17, "60", 2) != 0))
          mismatch(line, "time format", in, in, back);
      }
    } else {
      fprintf(stderr, "line %ld: unknown kind %s\n", line, kind);
      return 2;
    }
    json_decref(v);
  }
  fclose(f);
  free(text);
  long total = counts[0] + counts[1];
  printf("messages %ld, schema documents %ld, urls %ld (%ld need IDNA: only is_normalized "
         "compared), timestamps %ld; mismatches %ld; full detail equal for %ld of %ld\n",
         counts[0], counts[1], counts[2], idna, counts[3], mismatches, total - detail_mismatches,
         total);
  if (line == 0) return 2;
  return mismatches ? 1 : 0;
}
