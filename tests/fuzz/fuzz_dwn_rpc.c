/*
 * fuzz_dwn_rpc: the DWN listener's parsers (engine/dwn/rpc.h) on arbitrary
 * bytes: the input as a JSON-RPC request (the dwn-request header, a body or
 * a WebSocket message) and, up to its first NUL, as a URL query in
 * dwn-server's dot notation.
 * Properties (a violation aborts): a request either parses with a method and
 * an id, or fails with -EINVAL/-ENOMEM and still has an id for the error
 * reply; the ids are never integral reals; the reply envelopes build; the
 * query options are an object of objects, strings, numbers, booleans and
 * arrays no deeper than DWN_RPC_QUERY_DEPTH_MAX.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dwn/rpc.h"

#define INPUT_BYTES_MAX 65536

static void check_id(const json_t *id) {
  if (!id) abort();
  if (json_is_real(id) && json_real_value(id) == (double)(long long)json_real_value(id) &&
      json_real_value(id) < 9e15 && json_real_value(id) > -9e15)
    abort();
}

static void check_options(const json_t *v, int depth) {
  if (depth > DWN_RPC_QUERY_DEPTH_MAX + 1) abort();
  if (json_is_object(v)) {
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)v, k, m) {
      if (!*k) abort();
      check_options(m, depth + 1);
    }
  } else if (json_is_array(v)) {
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m) if (json_is_object(m) || json_is_array(m)) abort();
  } else if (!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v)) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > INPUT_BYTES_MAX) return 0;
  dwn_rpc_req_t r;
  int rc = dwn_rpc_parse((const char *)data, size, &r);
  if (rc == 0) {
    if (!r.root || !r.method) abort();
    check_id(r.id);
    if (r.has_subscription) check_id(r.subscription_id);
    json_t *ok = dwn_rpc_result(r.id, json_object());
    json_t *err = dwn_rpc_error(r.subscription_id ? r.subscription_id : r.id, DWN_RPC_INVALID_PARAMS, r.method);
    if (!ok || !err) abort();
    json_decref(ok);
    json_decref(err);
  } else {
    if (rc != -EINVAL && rc != -ENOMEM) abort();
    check_id(r.id);
    if (r.root || r.method) abort();
  }
  dwn_rpc_release(&r);

  char *query = malloc(size + 1);
  if (!query) return 0;
  memcpy(query, data, size);
  query[size] = '\0';
  json_t *options = NULL;
  rc = dwn_rpc_query_options(query, &options);
  if (rc == 0) {
    if (!json_is_object(options)) abort();
    check_options(options, 0);
  } else if (rc != -EINVAL && rc != -ENOMEM) {
    abort();
  } else if (options) {
    abort();
  }
  json_decref(options);
  free(query);
  return 0;
}
