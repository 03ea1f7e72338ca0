/*
 * fuzz_ipns: ipns_record_validate over arbitrary bytes as the record of
 * the name of the key with seed 32 × 0x00 (the seed corpus is records of
 * that name made by @helia/ipns: V1+V2, V2-only, extra data keys, expired),
 * at a fixed time (2026-01-01).  Properties: only the documented errors;
 * a valid record's value is a NUL-terminated string of 1 to
 * IPNS_VALUE_BYTES_MAX bytes, its validity after the time, and a record
 * created again from its fields validates to the same fields.  Also the
 * RFC 3339 parser on the input's first bytes: a parsed time formats and
 * parses back to the same millisecond.  A violated property aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ipns.h"

#define NOW_MS 1767225600000ll

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static peer_key_t key;
  static int have_key;
  if (!have_key) {
    uint8_t seed[PEER_ED25519_BYTES] = {0};
    if (peer_key_from_seed(seed, &key)) abort();
    have_key = 1;
  }
  ipns_entry_t e;
  int rc = ipns_record_validate(&key.id, data, size, NOW_MS, &e);
  if (rc == 0) {
    size_t len = strnlen(e.value, sizeof e.value);
    if (len == 0 || len > IPNS_VALUE_BYTES_MAX || e.validity_ms <= NOW_MS) abort();
    buf_t again = {0};
    ipns_entry_t e2;
    if (ipns_record_create(&key, e.value, e.sequence, e.validity_ms, e.ttl_ns, &again) == 0) {
      if (ipns_record_validate(&key.id, again.data, again.len, NOW_MS, &e2)) abort();
      if (strcmp(e.value, e2.value) || e.sequence != e2.sequence || e.validity_ms != e2.validity_ms ||
          e.ttl_ns != e2.ttl_ns)
        abort();
    }
    buf_free(&again);
  } else if (rc != -EBADMSG && rc != -EACCES && rc != -ETIME && rc != -E2BIG && rc != -ENOTSUP && rc != -ENOMEM) {
    abort();
  }
  int64_t ms, ms2;
  size_t n = size < 64 ? size : 64;
  if (ipns_validity_parse((const char *)data, n, &ms) == 0) {
    char text[IPNS_VALIDITY_TEXT_BYTES];
    if (ipns_validity_format(ms, text) == 0) {
      if (ipns_validity_parse(text, strlen(text), &ms2) || ms2 != ms) abort();
    }
  }
  return 0;
}
