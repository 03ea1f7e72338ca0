/*
 * fuzz_cid: the input read three ways.
 *  - as a binary CID (with whatever follows, as in a CAR section): a parsed
 *    CID serialises to exactly the bytes consumed, and its text form in every
 *    base parses back to the same CID;
 *  - as text: an accepted string is canonical, i.e. formatting the parsed CID
 *    in the same base (bare base58btc for v0) gives back the same string, and
 *    cid_parse_len agrees with cid_parse;
 *  - as data for cid_make (sha2-256 and identity): the CID verifies its data.
 * A violated property aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cid.h"

static const mbase_t bases[] = {MBASE_BASE32,    MBASE_BASE32_UPPER, MBASE_BASE58BTC,
                                MBASE_BASE36,    MBASE_BASE36_UPPER, MBASE_BASE64,
                                MBASE_BASE64URL, MBASE_BASE16,       MBASE_BASE16_UPPER};
#define BASE_COUNT (sizeof bases / sizeof bases[0])

static void check_text_round_trip(const cid_t *c) {
  char text[CID_TEXT_BYTES_MAX];
  for (size_t i = 0; i < BASE_COUNT; i++) {
    if (cid_format(c, bases[i], text) != 0) abort();
    size_t len = strlen(text);
    if (len == 0 || len >= CID_TEXT_BYTES_MAX) abort();
    cid_t back;
    if (cid_parse(&back, text) != 0) abort();
    if (!cid_equal(&back, c)) abort();
  }
}

static void check_binary(const uint8_t *data, size_t size) {
  cid_t c;
  int rc = cid_from_bytes(&c, data, size);
  if (rc == -EAGAIN || rc == -EINVAL) return;
  if (rc <= 0 || (size_t)rc > size || (size_t)rc > CID_BYTES_MAX) abort();
  uint8_t again[CID_BYTES_MAX];
  size_t n = cid_to_bytes(&c, again);
  if (n != (size_t)rc || memcmp(again, data, n) != 0) abort();
  /* every proper prefix is truncated, never accepted or "invalid" */
  cid_t cut;
  for (size_t len = 0; len < n; len++)
    if (cid_from_bytes(&cut, data, len) != -EAGAIN) abort();
  if (c.version == 0 && (c.codec != CODEC_DAG_PB || c.hash.code != MH_SHA2_256)) abort();
  check_text_round_trip(&c);
  /* v0 <-> v1 */
  cid_t v1 = c;
  cid_to_v1(&v1);
  check_text_round_trip(&v1);
  uint8_t mh_a[MH_BYTES_MAX], mh_b[MH_BYTES_MAX];
  size_t mh_len = cid_mh_bytes(&c, mh_a);
  if (cid_mh_bytes(&v1, mh_b) != mh_len || memcmp(mh_a, mh_b, mh_len) != 0) abort();
  cid_t v0 = v1;
  if (cid_to_v0(&v0) == 0) {
    if (c.codec != CODEC_DAG_PB || c.hash.code != MH_SHA2_256) abort();
    check_text_round_trip(&v0);
  } else if (c.version == 0) {
    abort();
  }
  uint8_t prefix[CID_PREFIX_BYTES_MAX];
  if (cid_prefix_bytes(&c, prefix) > CID_PREFIX_BYTES_MAX) abort();
}

static void check_text(const uint8_t *data, size_t size) {
  if (size >= CID_TEXT_BYTES_MAX) return;
  char text[CID_TEXT_BYTES_MAX];
  memcpy(text, data, size);
  text[size] = '\0';
  cid_t c, c2;
  int rc = cid_parse(&c, text);
  int rc2 = cid_parse_len(&c2, (const char *)data, size);
  if (strlen(text) == size) {
    if (rc != rc2) abort();
  } else {
    /* an embedded NUL: cid_parse sees the part before it; cid_parse_len the NUL itself */
    if (rc2 == 0) abort();
  }
  if (rc != 0) {
    if (rc != -EINVAL) abort();
    return;
  }
  if (rc2 == 0 && !cid_equal(&c, &c2)) abort();
  char again[CID_TEXT_BYTES_MAX];
  mbase_t base = c.version == 0 ? MBASE_BASE58BTC : (mbase_t)text[0];
  if (cid_format(&c, base, again) != 0) abort();
  if (strcmp(again, text) != 0) abort();
  check_text_round_trip(&c);
}

static void check_make(const uint8_t *data, size_t size) {
  cid_t c;
  uint64_t codec = size > 0 ? data[0] : CODEC_RAW;
  if (cid_make(&c, 1, codec, MH_SHA2_256, data, size) != 0) abort();
  if (mh_verify(&c.hash, data, size) != 1) abort();
  check_text_round_trip(&c);
  int rc = cid_make(&c, 1, codec, MH_IDENTITY, data, size);
  if (size > MH_IDENTITY_BYTES_MAX) {
    if (rc != -E2BIG) abort();
    return;
  }
  if (rc != 0 || mh_verify(&c.hash, data, size) != 1) abort();
  check_text_round_trip(&c);
  rc = cid_make(&c, 0, CODEC_DAG_PB, MH_SHA2_256, data, size);
  if (rc != 0 || c.version != 0) abort();
  check_text_round_trip(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_binary(data, size);
  check_text(data, size);
  check_make(data, size);
  return 0;
}
