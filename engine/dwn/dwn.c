/* dwn: the engine, dispatch and the helpers handlers share (dwn.h, handlers.h). */
#include "dwn/dwn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "dwn/dagcbor.h"
#include "dwn/data_schema.h"
#include "dwn/handlers.h"
#include "dwn/stream.h"
#include "dwn/timestamp.h"
#include "dwn/url.h"
#include "dwn/validate.h"
#include "err.h"
#include "exporter.h"

/* ---- open / close ----------------------------------------------------------- */

int dwn_open(const dwn_options_t *opts, dwn_t **out) {
  if (!opts || !opts->dir) return err_set(-EINVAL, "dwn_open: no directory");
  if (opts->tenants_len > DWN_TENANTS_MAX) return err_set(-E2BIG, "more than %d tenants", DWN_TENANTS_MAX);
  dwn_t *d = calloc(1, sizeof *d);
  if (!d) return -ENOMEM;
  for (size_t i = 0; i < DWN_WRITE_LOCKS; i++) pthread_mutex_init(&d->write_locks[i], NULL);
  pthread_mutex_init(&d->stream_lock, NULL);
  d->bs = opts->bs;
  d->data_stored = opts->data_stored, d->data_stored_ctx = opts->data_stored_ctx;
  int rc = msgstore_open(opts->dir, NULL, &d->store);
  if (!rc) rc = eventlog_open(d->store, NULL, &d->log);
  did_resolver_config_t rcfg = {.fetch = opts->web_fetch, .fetch_ctx = opts->web_fetch_ctx};
  if (!rc) rc = did_resolver_new(&rcfg, &d->resolver);
  auth_config_t acfg = {.resolver = d->resolver};
  if (!rc) rc = auth_new(&acfg, &d->auth);
  if (!rc) rc = dwn_data_schemas_open(opts->dir, &d->schemas);
  if (!rc && opts->tenants && opts->tenants_len) {
    if (!(d->tenants = calloc(opts->tenants_len, sizeof *d->tenants))) rc = -ENOMEM;
    for (size_t i = 0; !rc && i < opts->tenants_len; i++, d->tenants_len++)
      if (!(d->tenants[i] = strdup(opts->tenants[i]))) rc = -ENOMEM;
  }
  if (rc) {
    dwn_close(d);
    return rc;
  }
  *out = d;
  return 0;
}

void dwn_close(dwn_t *d) {
  if (!d) return;
  dwn_data_schemas_close(d->schemas);
  auth_free(d->auth);
  did_resolver_free(d->resolver);
  if (d->log) eventlog_close(d->log);
  if (d->store) msgstore_close(d->store);
  for (size_t i = 0; i < d->tenants_len; i++) free(d->tenants[i]);
  free(d->tenants);
  dwn_stream_clear(d);
  pthread_mutex_destroy(&d->stream_lock);
  for (size_t i = 0; i < DWN_WRITE_LOCKS; i++) pthread_mutex_destroy(&d->write_locks[i]);
  free(d);
}

struct msgstore *dwn_store(dwn_t *d) { return d->store; }

pthread_mutex_t *dwn_write_lock(dwn_t *d, const char *tenant, const char *key) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const char *p = tenant; p && *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
  for (const char *p = key; p && *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
  return &d->write_locks[h % DWN_WRITE_LOCKS];
}

/* ---- replies ------------------------------------------------------------------ */

int dwn_reply_code(dwn_reply_t *reply, int code, const char *detail) {
  json_decref(reply->body);
  reply->body = json_pack("{s:{s:i,s:s}}", "status", "code", code, "detail", detail);
  reply->code = code;
  return reply->body ? 0 : -ENOMEM;
}

int dwn_reply_status(dwn_reply_t *reply, const dwn_status_t *st) { return dwn_reply_code(reply, st->code, st->detail); }

void dwn_reply_release(dwn_reply_t *reply) {
  if (!reply) return;
  json_decref(reply->body);
  free(reply->data);
  memset(reply, 0, sizeof *reply);
}

int dwn_reply_data_write(dwn_t *d, const dwn_reply_t *reply, dwn_data_sink_fn sink, void *ctx) {
  if (!reply->has_data) return 0;
  if (!reply->data_in_store) return reply->data_len ? sink(ctx, reply->data, reply->data_len) : 0;
  if (!d->bs) return err_set(-ENOENT, "record data is in the block engine, which is not open");
  block_source_t src = bs_source(d->bs);
  exp_file_t *f;
  int rc = exp_open(&src, &reply->data_cid, &f);
  if (rc) return rc;
  size_t chunk_len = 262144; /* one UnixFS leaf */
  uint8_t *chunk = malloc(chunk_len);
  if (!chunk) rc = -ENOMEM;
  for (uint64_t off = 0; !rc && off < reply->data_size;) {
    size_t want = reply->data_size - off < chunk_len ? (size_t)(reply->data_size - off) : chunk_len;
    ssize_t n = exp_pread(f, chunk, want, off);
    if (n < 0) rc = (int)n;
    else if (n == 0) rc = err_set(-EIO, "record data ends early");
    else rc = sink(ctx, chunk, (size_t)n), off += (uint64_t)n;
  }
  free(chunk);
  exp_close(f);
  return rc;
}

static int append_sink(void *ctx, const void *data, size_t len) { return buf_append(ctx, data, len); }

int dwn_reply_data(dwn_t *d, const dwn_reply_t *reply, buf_t *out) {
  return dwn_reply_data_write(d, reply, append_sink, out);
}

/* ---- messages ------------------------------------------------------------------ */

void dwn_jws_signer(const json_t *jws, char out[DWN_DID_BYTES_MAX]) {
  out[0] = '\0';
  const char *protected_b64 =
      json_string_value(json_object_get(json_array_get(json_object_get(jws, "signatures"), 0), "protected"));
  if (!protected_b64) return;
  json_t *header = NULL;
  const char *kid = NULL;
  if (jws_decode_header(protected_b64, &header, &kid, NULL) == 0 && kid) {
    buf_t did = {0};
    if (jws_signer_did(kid, &did) == 0 && did.len < DWN_DID_BYTES_MAX) memcpy(out, did.data, did.len), out[did.len] = '\0';
    buf_free(&did);
  }
  json_decref(header);
}

void dwn_signer_of(const json_t *message, char out[DWN_DID_BYTES_MAX]) {
  dwn_jws_signer(json_object_get(json_object_get(message, "authorization"), "signature"), out);
}

void dwn_author_of(const json_t *message, char out[DWN_DID_BYTES_MAX]) {
  const json_t *grant = json_object_get(json_object_get(message, "authorization"), "authorDelegatedGrant");
  dwn_signer_of(grant ? grant : message, out);
}

int dwn_cid_of(const json_t *message, char out[DWN_CID_TEXT_BYTES]) {
  cid_t cid;
  int rc = dwn_message_cid_sdk(message, &cid);
  return rc ? rc : dwn_cid_text(&cid, out);
}

static const char *descriptor_string(const json_t *message, const char *key) {
  return json_string_value(json_object_get(json_object_get(message, "descriptor"), key));
}

bool dwn_is_newer(const json_t *a, const json_t *b) {
  const char *ta = descriptor_string(a, "messageTimestamp"), *tb = descriptor_string(b, "messageTimestamp");
  int c = strcmp(ta ? ta : "", tb ? tb : "");
  if (c) return c > 0;
  char ca[DWN_CID_TEXT_BYTES] = "", cb[DWN_CID_TEXT_BYTES] = "";
  dwn_cid_of(a, ca);
  dwn_cid_of(b, cb);
  return strcmp(ca, cb) > 0;
}

const json_t *dwn_newest(const json_t *messages) {
  const json_t *newest = NULL;
  size_t i;
  const json_t *m;
  json_array_foreach(messages, i, m) if (!newest || dwn_is_newer(m, newest)) newest = m;
  return newest;
}

int dwn_check_timestamp(const char *ts, dwn_status_t *st) {
  if (ts && dwn_time_parse(ts, strlen(ts), NULL) == 0) return 0;
  return dwn_status_fail(st, 400, "TimestampInvalid", "Invalid timestamp: %s", ts ? ts : "undefined");
}

int dwn_check_protocol_url(const char *url, dwn_status_t *st) {
  if (url && dwn_url_is_normalized(url, strlen(url))) return 0;
  return dwn_status_fail(st, 400, "UrlProtocolNotNormalized", "Protocol URI %s must be normalized.", url ? url : "undefined");
}

int dwn_check_schema_url(const char *url, dwn_status_t *st) {
  if (url && dwn_url_is_normalized(url, strlen(url))) return 0;
  return dwn_status_fail(st, 400, "UrlSchemaNotNormalized", "Schema URI %s must be normalized.", url ? url : "undefined");
}

int dwn_finish(dwn_reply_t *reply, const dwn_status_t *st, int rc) {
  if (rc && !reply->body && st->code >= 400) return dwn_reply_status(reply, st);
  return rc;
}

int dwn_not_implemented(dwn_status_t *st, const char *what) {
  return dwn_status_fail(st, 501, "AnyaNotImplemented", "%s is not implemented yet", what);
}

int dwn_signature_parse(const json_t *jws, const json_t *descriptor, bool records_write, dwn_status_t *st,
                        json_t **payload_out) {
  json_t *payload = NULL;
  int rc = auth_parse_signature(jws, st, &payload);
  if (rc) return rc;
  rc = records_write ? dwn_validate_records_write_signature_payload(payload, st)
                     : dwn_validate_generic_signature_payload(payload, st);
  char expected[DWN_CID_TEXT_BYTES];
  cid_t cid;
  if (!rc) rc = dwn_compute_cid(descriptor, &cid);
  if (!rc) rc = dwn_cid_text(&cid, expected);
  const char *given = json_string_value(json_object_get(payload, "descriptorCid"));
  if (!rc && (!given || strcmp(given, expected) != 0))
    rc = dwn_status_fail(st, 400, "AuthenticateDescriptorCidMismatch",
                         "provided descriptorCid %s does not match expected CID %s", given ? given : "undefined",
                         expected);
  if (rc || !payload_out) json_decref(payload);
  else *payload_out = payload;
  return rc;
}

int dwn_msg_init(dwn_msg_t *m, const json_t *message, bool records_write, dwn_status_t *st) {
  memset(m, 0, sizeof *m);
  m->json = message;
  m->descriptor = json_object_get(message, "descriptor");
  m->interface_name = json_string_value(json_object_get(m->descriptor, "interface"));
  m->method = json_string_value(json_object_get(m->descriptor, "method"));
  const json_t *authorization = json_object_get(message, "authorization");
  if (!authorization) return 0;
  int rc = dwn_signature_parse(json_object_get(authorization, "signature"), m->descriptor, records_write, st, &m->payload);
  if (rc) return rc;
  dwn_signer_of(message, m->signer);
  dwn_author_of(message, m->author);
  return 0;
}

void dwn_msg_release(dwn_msg_t *m) {
  json_decref(m->payload);
  m->payload = NULL;
}

int dwn_authenticate(dwn_t *d, const dwn_msg_t *m, dwn_status_t *st) {
  const json_t *authorization = json_object_get(m->json, "authorization");
  if (!authorization) return dwn_status_fail(st, 401, "AuthenticateJwsMissing", "Missing JWS.");
  static const char *const signatures[] = {"signature", "ownerSignature"};
  for (size_t i = 0; i < 2; i++) {
    const json_t *jws = json_object_get(authorization, signatures[i]);
    if (!jws) continue;
    auth_signature_t sig = {0};
    int rc = auth_verify(d->auth, jws, st, &sig);
    auth_signature_release(&sig);
    if (rc) return rc;
  }
  static const char *const grants[] = {"authorDelegatedGrant", "ownerDelegatedGrant"};
  for (size_t i = 0; i < 2; i++) {
    const json_t *grant = json_object_get(authorization, grants[i]);
    if (!grant) continue;
    const json_t *jws = json_object_get(json_object_get(grant, "authorization"), "signature");
    auth_signature_t sig = {0};
    int rc = auth_verify(d->auth, jws, st, &sig);
    auth_signature_release(&sig);
    if (rc) return rc;
  }
  return 0;
}

/* ---- the store ------------------------------------------------------------------ */

static int json_to_value(const json_t *v, msgstore_value_t *out) {
  if (json_is_string(v)) *out = msgstore_string(json_string_value(v)), out->string_len = json_string_length(v);
  else if (json_is_number(v)) *out = msgstore_number(json_number_value(v));
  else if (json_is_boolean(v)) *out = msgstore_bool(json_is_true(v));
  else return -EINVAL;
  return 0;
}

int dwn_indexes_from_json(const json_t *indexes, msgstore_indexes_t *ix) {
  msgstore_indexes_init(ix);
  const char *key;
  const json_t *v;
  int rc = 0;
  json_object_foreach((json_t *)indexes, key, v) {
    msgstore_value_t value;
    if (json_is_array(v)) {
      size_t i;
      const json_t *item;
      json_array_foreach(v, i, item) if (!rc && !(rc = json_to_value(item, &value))) rc = msgstore_indexes_add(ix, key, value);
    } else if (!json_is_null(v) && !(rc = json_to_value(v, &value))) {
      rc = msgstore_indexes_add(ix, key, value);
    }
    if (rc) break;
  }
  if (rc) msgstore_indexes_free(ix);
  return rc;
}

int dwn_put(dwn_t *d, msgstore_txn_t *txn, const char *tenant, const json_t *message, const json_t *indexes,
            bool event) {
  char cid[DWN_CID_TEXT_BYTES];
  buf_t bytes = {0};
  msgstore_indexes_t ix;
  int rc = dwn_cid_of(message, cid);
  if (!rc) rc = dagcbor_encode(message, &bytes);
  if (!rc) rc = dwn_indexes_from_json(indexes, &ix);
  if (rc) {
    buf_free(&bytes);
    return rc;
  }
  rc = msgstore_txn_put(txn, tenant, cid, bytes.data, bytes.len, &ix);
  if (!rc && event) {
    int n = eventlog_txn_append(d->log, txn, tenant, cid, &ix);
    rc = n < 0 ? n : 0;
  }
  msgstore_indexes_free(&ix);
  buf_free(&bytes);
  return rc;
}

int dwn_delete(dwn_t *d, msgstore_txn_t *txn, const char *tenant, const json_t *message, bool event) {
  char cid[DWN_CID_TEXT_BYTES];
  int rc = dwn_cid_of(message, cid);
  if (!rc) rc = msgstore_txn_delete(txn, tenant, cid);
  if (rc == -ENOENT) rc = 0;
  if (!rc && event) {
    const char *cids[1] = {cid};
    int n = eventlog_txn_delete(d->log, txn, tenant, cids, 1);
    rc = n < 0 ? n : 0;
  }
  return rc;
}

/* One SDK Filter object as msgstore conditions (arrays sized by the caller). */
typedef struct filter_space {
  msgstore_condition_t conditions[MSGSTORE_CONDITIONS_MAX];
  msgstore_value_t values[MSGSTORE_CONDITIONS_MAX][MSGSTORE_VALUES_MAX];
} filter_space_t;

static int bad_filter(dwn_status_t *st, const char *key) {
  return dwn_status_fail(st, 400, "AnyaFilterUnsupported", "filter property '%s' has a value the index cannot hold", key);
}

static int convert_filter(const json_t *filter, filter_space_t *space, msgstore_filter_t *out, dwn_status_t *st) {
  size_t n = 0;
  const char *key;
  const json_t *v;
  json_object_foreach((json_t *)filter, key, v) {
    if (n == MSGSTORE_CONDITIONS_MAX) return bad_filter(st, key);
    msgstore_condition_t *c = &space->conditions[n];
    memset(c, 0, sizeof *c);
    c->property = key;
    if (json_is_array(v)) {
      if (json_array_size(v) > MSGSTORE_VALUES_MAX) return bad_filter(st, key);
      size_t i;
      const json_t *item;
      json_array_foreach(v, i, item) if (json_to_value(item, &space->values[n][i])) return bad_filter(st, key);
      c->op = MSGSTORE_ONE_OF;
      c->values = space->values[n];
      c->value_count = json_array_size(v);
    } else if (json_is_object(v)) {
      c->op = MSGSTORE_RANGE;
      static const char *const bounds[] = {"gt", "gte", "lt", "lte"};
      for (size_t b = 0; b < 4; b++) {
        const json_t *bound = json_object_get(v, bounds[b]);
        if (!bound) continue;
        msgstore_value_t value;
        if (json_to_value(bound, &value)) return bad_filter(st, key);
        if (b < 2) c->has_lower = true, c->lower_inclusive = b == 1, c->lower = value;
        else c->has_upper = true, c->upper_inclusive = b == 3, c->upper = value;
      }
    } else {
      if (json_to_value(v, &c->value)) return bad_filter(st, key);
      c->op = MSGSTORE_EQ;
    }
    n++;
  }
  out->conditions = space->conditions;
  out->count = n;
  return 0;
}

int dwn_query(dwn_t *d, const char *tenant, json_t *const *filters, size_t filter_count, const dwn_sort_t *sort,
              const json_t *pagination, json_t **messages_out, json_t **cursor_out, dwn_status_t *st) {
  *messages_out = NULL;
  if (cursor_out) *cursor_out = NULL;
  if (filter_count > DWN_QUERY_FILTERS_MAX) return err_set(-E2BIG, "too many filters");
  filter_space_t *space = calloc(filter_count ? filter_count : 1, sizeof *space);
  if (!space) return -ENOMEM;
  msgstore_filter_t mf[DWN_QUERY_FILTERS_MAX];
  int rc = 0;
  for (size_t i = 0; !rc && i < filter_count; i++) rc = convert_filter(filters[i], &space[i], &mf[i], st);
  msgstore_query_t q = {.filters = mf, .filter_count = filter_count, .want_messages = true,
                        .sort_property = sort ? sort->property : "messageTimestamp",
                        .descending = sort && sort->descending};
  msgstore_cursor_t cursor;
  const json_t *limit = json_object_get(pagination, "limit");
  const json_t *given = json_object_get(pagination, "cursor");
  if (limit) q.limit = (size_t)json_number_value(limit);
  if (!rc && given) {
    cursor.message_cid = json_string_value(json_object_get(given, "messageCid"));
    if (!cursor.message_cid || json_to_value(json_object_get(given, "value"), &cursor.value))
      rc = dwn_status_fail(st, 400, "AnyaCursorInvalid", "pagination cursor needs messageCid and value");
    q.cursor = &cursor;
  }
  msgstore_result_t res = {0};
  if (!rc) rc = msgstore_query(d->store, tenant, &q, &res);
  json_t *messages = rc ? NULL : json_array();
  if (!rc && !messages) rc = -ENOMEM;
  for (size_t i = 0; !rc && i < res.count; i++) {
    json_t *m = NULL;
    rc = dagcbor_decode(res.entries[i].message, res.entries[i].message_len, &m);
    if (!rc) rc = json_array_append_new(messages, m) ? -ENOMEM : 0;
  }
  if (!rc && cursor_out && res.has_more && limit) {
    const msgstore_value_t *v = &res.cursor.value;
    json_t *value = v->kind == MSGSTORE_STRING ? json_stringn(v->string, v->string_len)
                    : v->kind == MSGSTORE_NUMBER ? json_real(v->number) : json_boolean(v->boolean);
    *cursor_out = json_pack("{s:s,s:o}", "messageCid", res.cursor.message_cid, "value", value);
    if (!*cursor_out) rc = -ENOMEM;
  }
  msgstore_result_free(&res);
  free(space);
  if (rc) json_decref(messages);
  else *messages_out = messages;
  return rc;
}

bool dwn_filters_match(json_t *const *filters, size_t filter_count, const msgstore_indexes_t *ix) {
  if (filter_count > MSGSTORE_FILTERS_MAX) return false;
  filter_space_t *space = calloc(filter_count ? filter_count : 1, sizeof *space);
  msgstore_filter_t mf[MSGSTORE_FILTERS_MAX];
  dwn_status_t st = {0};
  bool ok = space != NULL, match = false;
  for (size_t i = 0; ok && i < filter_count; i++) ok = convert_filter(filters[i], &space[i], &mf[i], &st) == 0;
  if (ok) match = msgstore_match(ix, mf, filter_count);
  free(space);
  return match;
}

int dwn_eventlog_query(dwn_t *d, const char *tenant, json_t *const *filters, size_t filter_count, uint64_t after,
                       eventlog_result_t *res, dwn_status_t *st) {
  memset(res, 0, sizeof *res);
  if (filter_count > MSGSTORE_FILTERS_MAX) return err_set(-E2BIG, "too many filters");
  filter_space_t *space = calloc(filter_count ? filter_count : 1, sizeof *space);
  if (!space) return -ENOMEM;
  msgstore_filter_t mf[MSGSTORE_FILTERS_MAX];
  int rc = 0;
  for (size_t i = 0; !rc && i < filter_count; i++) rc = convert_filter(filters[i], &space[i], &mf[i], st);
  if (!rc) rc = eventlog_query(d->log, tenant, mf, filter_count, after, 0, res);
  free(space);
  return rc;
}

/* ---- dispatch --------------------------------------------------------------------- */

static bool tenant_active(const dwn_t *d, const char *tenant) {
  if (!d->tenants) return true;
  for (size_t i = 0; i < d->tenants_len; i++)
    if (strcmp(d->tenants[i], tenant) == 0) return true;
  return false;
}

int dwn_process(dwn_t *d, const char *tenant, const json_t *message, int data_fd, dwn_reply_t *reply) {
  return dwn_process_subscribe(d, tenant, message, data_fd, NULL, reply);
}

int dwn_process_subscribe(dwn_t *d, const char *tenant, const json_t *message, int data_fd,
                          const dwn_subscriber_t *sub, dwn_reply_t *reply) {
  memset(reply, 0, sizeof *reply);
  dwn_status_t st;
  if (!tenant_active(d, tenant)) {
    char detail[DWN_DETAIL_BYTES_MAX];
    snprintf(detail, sizeof detail, "DID %s is not an active tenant.", tenant);
    return dwn_reply_code(reply, 401, detail);
  }
  dwn_schema_t schema;
  int rc = dwn_validate_message_schema(message, &schema, &st);
  if (rc == -ENOMEM) return rc;
  if (rc) return dwn_reply_status(reply, &st);
  switch (schema) {
    case DWN_SCHEMA_RECORDS_WRITE: return dwn_records_write(d, tenant, message, data_fd, reply);
    case DWN_SCHEMA_RECORDS_READ: return dwn_records_read(d, tenant, message, reply);
    case DWN_SCHEMA_RECORDS_QUERY: return dwn_records_query(d, tenant, message, reply);
    case DWN_SCHEMA_RECORDS_DELETE: return dwn_records_delete(d, tenant, message, reply);
    case DWN_SCHEMA_PROTOCOLS_CONFIGURE: return dwn_protocols_configure(d, tenant, message, reply);
    case DWN_SCHEMA_PROTOCOLS_QUERY: return dwn_protocols_query(d, tenant, message, reply);
    case DWN_SCHEMA_MESSAGES_QUERY: return dwn_messages_query(d, tenant, message, reply);
    case DWN_SCHEMA_MESSAGES_READ: return dwn_messages_read(d, tenant, message, reply);
    case DWN_SCHEMA_RECORDS_SUBSCRIBE:
      if (!sub) /* this caller has no event stream, as the reference without one */
        return dwn_reply_code(reply, 501, "RecordsSubscribeEventStreamUnimplemented: Subscriptions are not supported");
      return dwn_records_subscribe(d, tenant, message, sub, reply);
    case DWN_SCHEMA_MESSAGES_SUBSCRIBE:
      if (!sub)
        return dwn_reply_code(reply, 501, "MessagesSubscribeEventStreamUnimplemented: Subscriptions are not supported");
      return dwn_messages_subscribe(d, tenant, message, sub, reply);
    default:
      /* a schema without a handler (e.g. interface "Records", method "Filter"):
       * the SDK throws outside any handler */
      return err_set(-EINVAL, "no handler for %s%s",
                     json_string_value(json_object_get(json_object_get(message, "descriptor"), "interface")),
                     json_string_value(json_object_get(json_object_get(message, "descriptor"), "method")));
  }
}
