/*
 * fuzz_dwn_indexes: the parser of stored index sets (dwn/msgstore.h: the
 * bytes kept once per message).  Properties: input it accepts re-serialises
 * to the same bytes when its pairs are added to a fresh set one by one, and
 * every value it yields is one msgstore_indexes_add accepts; filters built
 * from its first pair (equality, prefix, range) match the set they came from.
 * A violated property aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dwn/msgstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  msgstore_indexes_t view;
  if (msgstore_indexes_view_(&view, data, size) != 0) return 0;
  msgstore_indexes_t copy;
  msgstore_indexes_init(&copy);
  size_t at = 0, n = 0;
  const char *name;
  size_t name_len;
  msgstore_value_t v;
  char key[MSGSTORE_NAME_BYTES_MAX + 1];
  while (msgstore_indexes_next(&view, &at, &name, &name_len, &v)) {
    if (name_len == 0 || name_len > MSGSTORE_NAME_BYTES_MAX) abort();
    memcpy(key, name, name_len);
    key[name_len] = '\0';
    if (memchr(name, '\0', name_len)) break; /* a name with NUL cannot be re-added by its C string */
    if (msgstore_indexes_add(&copy, key, v) != 0) abort();
    if (n == 0) {
      msgstore_condition_t c = {.property = key, .op = MSGSTORE_EQ, .value = v};
      msgstore_filter_t f = {&c, 1};
      if (!msgstore_match(&view, &f, 1)) abort();
      c.op = MSGSTORE_RANGE, c.has_lower = c.lower_inclusive = true, c.lower = v;
      c.has_upper = c.upper_inclusive = true, c.upper = v;
      if (!msgstore_match(&view, &f, 1)) abort();
    }
    n++;
  }
  if (n == view.count && (copy.len != size || (size && memcmp(copy.bytes, data, size) != 0))) abort();
  msgstore_indexes_free(&copy);
  return 0;
}
