/*
 * fuzz_dwn_jsonschema: the input is a JSON Schema document, optionally
 * followed by "\n%%\n" and an instance (without one, the document is
 * validated against itself).  Properties:
 *   - jsonschema_compile answers 0, -EINVAL or -E2BIG (and leaves *out NULL
 *     on failure);
 *   - jsonschema_validate answers 0 or 1, the same with and without a
 *     detail buffer and on a second run; a failure's detail is non-empty,
 *     NUL-terminated within the buffer and starts with "(root): " or "/";
 *   - a tiny detail buffer is never overrun (it stays NUL-terminated);
 *   - {"allOf": [S]} and {"not": {"not": S}} answer like S when S uses no
 *     root-only keyword ($defs, $schema, $id), unless the two extra levels
 *     hit the evaluation depth bound.
 * A violated property aborts.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dwn/jsonschema.h"

#define INPUT_BYTES_MAX 65536

static json_t *load(const char *text, size_t len) {
  return json_loadb(text, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL);
}

static int judge(const json_t *doc, const json_t *instance, int *compiled, bool *too_deep) {
  jsonschema_t *s = (jsonschema_t *)&s;
  int rc = jsonschema_compile(doc, &s);
  if (rc != 0 && rc != -EINVAL && rc != -E2BIG) abort();
  *compiled = rc == 0;
  if (rc) {
    if (s) abort();
    return -1;
  }
  char detail[JSONSCHEMA_DETAIL_BYTES_MAX], again[JSONSCHEMA_DETAIL_BYTES_MAX], tiny[4];
  int v = jsonschema_validate(s, instance, detail, sizeof detail);
  if (v != 0 && v != 1) abort();
  if (jsonschema_validate(s, instance, NULL, 0) != v) abort();
  if (jsonschema_validate(s, instance, again, sizeof again) != v || strcmp(detail, again) != 0) abort();
  if (memchr(detail, 0, sizeof detail) == NULL) abort();
  if (v == 1 && strncmp(detail, "(root): ", 8) != 0 && detail[0] != '/') abort();
  if (v == 0 && detail[0]) abort();
  *too_deep = v == 1 && strstr(detail, ": depth: ") != NULL;
  memset(tiny, 'x', sizeof tiny);
  if (jsonschema_validate(s, instance, tiny, sizeof tiny) != v || memchr(tiny, 0, sizeof tiny) == NULL) abort();
  jsonschema_free(s);
  return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > INPUT_BYTES_MAX) return 0;
  const char *text = (const char *)data;
  const char *sep = memmem(text, size, "\n%%\n", 4);
  size_t doc_len = sep ? (size_t)(sep - text) : size;
  json_t *doc = load(text, doc_len);
  if (!doc) return 0;
  json_t *instance = sep ? load(sep + 4, size - doc_len - 4) : json_incref(doc);
  if (!instance) {
    json_decref(doc);
    return 0;
  }
  int compiled;
  bool deep;
  int v = judge(doc, instance, &compiled, &deep);
  bool root_only = json_is_object(doc) && (json_object_get(doc, "$defs") || json_object_get(doc, "$schema") ||
                                           json_object_get(doc, "$id"));
  if (compiled && !root_only) {
    int wrapped_compiled;
    json_t *all = json_pack("{s:[O]}", "allOf", doc);
    /* one level deeper: may hit the nesting limit where S did not */
    int w = judge(all, instance, &wrapped_compiled, &deep);
    if (wrapped_compiled && w != v && !deep) abort();
    json_t *notnot = json_pack("{s:{s:O}}", "not", "not", doc);
    w = judge(notnot, instance, &wrapped_compiled, &deep);
    if (wrapped_compiled && w != v && !deep) abort();
    json_decref(all);
    json_decref(notnot);
  }
  json_decref(instance);
  json_decref(doc);
  return 0;
}
