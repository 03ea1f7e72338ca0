/*
 * fuzz_dwn_dagcbor: the input read two ways.
 *  - as dag-cbor: when dagcbor_decode accepts it, dagcbor_encode of the result
 *    gives back exactly the input (the decoder accepts only canonical bytes),
 *    and the value's CID equals the CID of the input bytes;
 *  - as JSON text (jansson, numbers read as JSON.parse reads them): when it
 *    encodes, the encoding decodes to an equal value that re-encodes to the
 *    same bytes, and the message CIDs (which edit the top level) leave the
 *    value untouched.
 * Errors must be one of the documented codes.  A violated property aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "cid.h"
#include "dwn/dagcbor.h"
#include "dwn/ids.h"

static void check_cbor(const uint8_t *data, size_t size) {
  json_t *v = NULL;
  int rc = dagcbor_decode(data, size, &v);
  if (rc != 0) {
    if (rc != -EINVAL && rc != -ELOOP && rc != -E2BIG) abort();
    if (v != NULL) abort();
    return;
  }
  buf_t b = {0};
  if (dagcbor_encode(v, &b) != 0) abort();
  if (b.len != size || memcmp(b.data, data, size) != 0) abort();
  cid_t from_value, from_bytes;
  if (dwn_compute_cid(v, &from_value) != 0) abort();
  if (cid_make(&from_bytes, 1, CODEC_DAG_CBOR, MH_SHA2_256, data, size) != 0) abort();
  if (!cid_equal(&from_value, &from_bytes)) abort();
  if (!dagcbor_json_equal(v, v)) abort();
  buf_free(&b);
  json_decref(v);
}

static void check_json(const uint8_t *data, size_t size) {
  json_error_t error;
  json_t *v = json_loadb((const char *)data, size,
                         JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &error);
  if (!v) return;
  buf_t b = {0};
  int rc = dagcbor_encode(v, &b);
  if (rc != 0) {
    if (rc != -ELOOP && rc != -E2BIG) abort(); /* jansson's strings are valid UTF-8 */
    if (b.len != 0) abort();
    buf_free(&b);
    json_decref(v);
    return;
  }
  json_t *back = NULL;
  if (dagcbor_decode(b.data, b.len, &back) != 0) abort();
  if (!dagcbor_json_equal(back, v)) abort();
  buf_t again = {0};
  if (dagcbor_encode(back, &again) != 0) abort();
  if (again.len != b.len || memcmp(again.data, b.data, b.len) != 0) abort();
  if (json_is_object(v)) {
    char *before = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    cid_t a, s;
    if (dwn_message_cid(v, &a) != 0 || dwn_message_cid_sdk(v, &s) != 0) abort();
    if (!json_object_get(v, "encodedData") && !json_object_get(v, "initialWrite")) {
      cid_t whole;
      if (dwn_compute_cid(v, &whole) != 0 || !cid_equal(&whole, &a) || !cid_equal(&whole, &s)) abort();
    }
    char *after = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if ((before == NULL) != (after == NULL) || (before && strcmp(before, after) != 0)) abort();
    free(before);
    free(after);
  }
  json_decref(back);
  json_decref(v);
  buf_free(&b);
  buf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_cbor(data, size);
  check_json(data, size);
  return 0;
}
