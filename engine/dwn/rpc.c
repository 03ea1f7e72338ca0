/* dwn/rpc: dwn-server's JSON-RPC envelope and query options (see rpc.h). */
#include "dwn/rpc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "err.h"

json_t *dwn_rpc_uuid(void) {
  uint8_t b[16];
  if (RAND_bytes(b, sizeof b) != 1) memset(b, 0, sizeof b);
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
  char s[37];
  snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
           b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return json_string(s);
}

/* An integral real (JSON_DECODE_INT_AS_REAL made 1 into 1.0) back to an integer. */
static json_t *id_value(const json_t *v) {
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (isfinite(d) && d == floor(d) && fabs(d) <= 9007199254740991.0) return json_integer((json_int_t)d);
  }
  return json_deep_copy(v);
}

int dwn_rpc_parse(const char *text, size_t len, dwn_rpc_req_t *out) {
  memset(out, 0, sizeof *out);
  json_error_t error;
  json_t *root = json_loadb(text, len, JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY, &error);
  int rc = 0;
  if (!root) rc = err_set(-EINVAL, "%s", error.text);
  else if (!json_is_object(root)) rc = err_set(-EINVAL, "the JSON-RPC request is not an object");
  const json_t *id = rc ? NULL : json_object_get(root, "id");
  out->id = id && !json_is_null(id) ? id_value(id) : dwn_rpc_uuid();
  if (!out->id) rc = rc ? rc : -ENOMEM;
  const char *method = rc ? NULL : json_string_value(json_object_get(root, "method"));
  if (!rc && !method) rc = err_set(-EINVAL, "the JSON-RPC request has no method");
  if (rc) {
    json_decref(root);
    json_t *keep = out->id;
    memset(out, 0, sizeof *out);
    out->id = keep ? keep : dwn_rpc_uuid();
    return rc;
  }
  out->root = root;
  out->method = method;
  const json_t *params = json_object_get(root, "params");
  out->target = json_string_value(json_object_get(params, "target"));
  const json_t *message = json_object_get(params, "message");
  out->message = json_is_object(message) ? message : NULL;
  out->encoded_data = json_string_value(json_object_get(params, "encodedData"));
  const json_t *sub = json_object_get(root, "subscription");
  if (json_is_object(sub)) {
    out->has_subscription = true;
    const json_t *sid = json_object_get(sub, "id");
    out->subscription_id = sid ? id_value(sid) : json_null();
    if (!out->subscription_id) {
      dwn_rpc_release(out);
      return -ENOMEM;
    }
  }
  return 0;
}

void dwn_rpc_release(dwn_rpc_req_t *r) {
  if (!r) return;
  json_decref(r->root);
  json_decref(r->id);
  json_decref(r->subscription_id);
  memset(r, 0, sizeof *r);
}

json_t *dwn_rpc_result(const json_t *id, json_t *result) {
  json_t *rid = id ? json_deep_copy(id) : dwn_rpc_uuid();
  json_t *r = rid && result ? json_pack("{s:s,s:o,s:o}", "jsonrpc", "2.0", "id", rid, "result", result) : NULL;
  if (!r) {
    json_decref(rid);
    json_decref(result);
  }
  return r;
}

json_t *dwn_rpc_error(const json_t *id, int code, const char *message) {
  json_t *rid = id ? json_deep_copy(id) : dwn_rpc_uuid();
  json_t *r = rid ? json_pack("{s:s,s:o,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", rid, "error", "code", code, "message",
                              message ? message : "")
                  : NULL;
  if (!r) json_decref(rid);
  return r;
}

/* ---- query options ---------------------------------------------------------- */

static int hex(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decodes s[0..len) ('+' is a space) into a new NUL-terminated string. */
static char *decode(const char *s, size_t len) {
  char *out = malloc(len + 1);
  if (!out) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '+') out[o++] = ' ';
    else if (s[i] == '%' && i + 2 < len && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      int v = hex(s[i + 1]) * 16 + hex(s[i + 2]);
      if (v == 0) { /* an embedded NUL: not a value anything here takes */
        free(out);
        return NULL;
      }
      out[o++] = (char)v;
      i += 2;
    } else {
      out[o++] = s[i]; /* a stray '%' stays (qs keeps what it cannot decode) */
    }
  }
  out[o] = '\0';
  return out;
}

/* The value for a dotted key: numbers and booleans where the schema wants them. */
static json_t *typed_value(const char *key, const char *value) {
  static const char *const numeric[] = {"pagination.limit", "filter.dataSize.gt", "filter.dataSize.gte",
                                        "filter.dataSize.lt", "filter.dataSize.lte"};
  for (size_t i = 0; i < sizeof numeric / sizeof numeric[0]; i++)
    if (strcmp(key, numeric[i]) == 0) {
      char *end = NULL;
      double d = strtod(value, &end);
      if (*value && end && !*end && isfinite(d)) return json_real(d);
    }
  if (strcmp(key, "filter.published") == 0) {
    if (strcmp(value, "true") == 0) return json_true();
    if (strcmp(value, "false") == 0) return json_false();
  }
  return json_string(value);
}

static int set_path(json_t *root, const char *key, const char *value) {
  char *copy = strdup(key);
  if (!copy) return -ENOMEM;
  json_t *obj = root;
  int rc = 0, depth = 0;
  char *seg = copy;
  for (char *dot; !rc && (dot = strchr(seg, '.')); seg = dot + 1) {
    *dot = '\0';
    if (++depth >= DWN_RPC_QUERY_DEPTH_MAX) rc = err_set(-EINVAL, "query parameter %s: more than %d levels", key, DWN_RPC_QUERY_DEPTH_MAX);
    json_t *next = rc ? NULL : json_object_get(obj, seg);
    if (!rc && !next) {
      next = json_object();
      if (!next || json_object_set_new(obj, seg, next) != 0) rc = -ENOMEM;
    } else if (!rc && !json_is_object(next)) {
      rc = err_set(-EINVAL, "query parameter %s: %s is already a value", key, seg);
    }
    obj = next;
  }
  if (!rc) {
    json_t *v = typed_value(key, value);
    json_t *old = v ? json_object_get(obj, seg) : NULL;
    if (!v) rc = -ENOMEM;
    else if (json_is_object(old)) rc = err_set(-EINVAL, "query parameter %s: %s already has members", key, seg), json_decref(v);
    else if (json_is_array(old)) rc = json_array_append_new(old, v) ? -ENOMEM : 0;
    else if (old) {
      json_t *arr = json_pack("[O,o]", old, v);
      rc = arr && json_object_set_new(obj, seg, arr) == 0 ? 0 : -ENOMEM;
    } else {
      rc = json_object_set_new(obj, seg, v) ? -ENOMEM : 0;
    }
  }
  free(copy);
  return rc;
}

int dwn_rpc_query_options(const char *query, json_t **out) {
  *out = NULL;
  size_t len = query ? strlen(query) : 0;
  if (len > DWN_RPC_QUERY_BYTES_MAX) return err_set(-EINVAL, "the query is longer than %d bytes", DWN_RPC_QUERY_BYTES_MAX);
  json_t *root = json_object();
  if (!root) return -ENOMEM;
  int rc = 0, count = 0;
  for (const char *p = query; !rc && p && *p;) {
    const char *amp = strchr(p, '&');
    size_t plen = amp ? (size_t)(amp - p) : strlen(p);
    if (plen) {
      if (++count > DWN_RPC_QUERY_PARAMS_MAX) {
        rc = err_set(-EINVAL, "more than %d query parameters", DWN_RPC_QUERY_PARAMS_MAX);
        break;
      }
      const char *eq = memchr(p, '=', plen);
      size_t klen = eq ? (size_t)(eq - p) : plen;
      char *key = decode(p, klen), *value = eq ? decode(eq + 1, plen - klen - 1) : strdup("");
      if (!key || !value) rc = err_set(-EINVAL, "a query parameter has a bad escape");
      else if (!*key || key[0] == '.' || key[strlen(key) - 1] == '.' || strstr(key, ".."))
        rc = err_set(-EINVAL, "query parameter '%.100s' is not a dotted name", key);
      else rc = set_path(root, key, value);
      free(key);
      free(value);
    }
    p = amp ? amp + 1 : NULL;
  }
  if (rc) json_decref(root);
  else *out = root;
  return rc;
}
