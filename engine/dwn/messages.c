/*
 * dwn/messages: Messages.Query over the event log and Messages.Read of one
 * stored message (dwn-reference.md §2.6, §5, §8.4).  The tenant may ask, or
 * the grantee of a Messages grant (grants.h; a protocol-scoped query grant
 * with `filters: []` sees every event, as in the reference).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dwn/dagcbor.h"
#include "dwn/grants.h"
#include "dwn/handlers.h"
#include "dwn/stream.h"
#include "err.h"
#include "multibase.h"

#define PERMISSIONS_PROTOCOL "https://tbd.website/dwn/permissions"

/* MessagesQueryHandler.authorizeMessagesQuery / MessagesReadHandler
 * .authorizeMessagesRead: the tenant, or a grant of the tenant (read: the
 * stored message being read, NULL for a query). */
static int authorize(dwn_t *d, const dwn_msg_t *m, const char *tenant, const json_t *read, const char *code,
                     dwn_status_t *st) {
  if (strcmp(m->author, tenant) == 0) return 0;
  const json_t *gid = json_object_get(m->payload, "permissionGrantId");
  if (!m->author[0] || !gid) return dwn_status_fail(st, 401, code, "message failed authorization");
  dwn_grant_t g;
  int rc = dwn_grant_fetch(d, tenant, json_string_value(gid), &g, st);
  if (!rc)
    rc = read ? dwn_grant_authorize_messages_read(d, tenant, m->json, read, tenant, m->author, &g, st)
              : dwn_grant_authorize_messages_query(d, tenant, m->json, tenant, m->author, &g, st);
  dwn_grant_release(&g);
  return rc;
}

static json_t *timestamp_range(const json_t *criterion) {
  const json_t *from = json_object_get(criterion, "from"), *to = json_object_get(criterion, "to");
  if (!from && !to) return NULL;
  json_t *r = json_object();
  if (from) json_object_set(r, "gte", (json_t *)from);
  if (to) json_object_set(r, "lt", (json_t *)to);
  return r;
}

/* Messages.convertFilters: each filter, preceded by the permission records
 * tagged with its protocol. */
static int convert_filters(const json_t *filters, json_t **out, size_t *n) {
  size_t i;
  const json_t *f;
  json_array_foreach(filters, i, f) {
    const json_t *protocol = json_object_get(f, "protocol");
    json_t *range = timestamp_range(json_object_get(f, "messageTimestamp"));
    if (protocol) {
      if (*n == MSGSTORE_FILTERS_MAX) return json_decref(range), -E2BIG;
      json_t *tagged = json_pack("{s:s,s:O}", "protocol", PERMISSIONS_PROTOCOL, "tag.protocol", protocol);
      if (tagged && range) json_object_set(tagged, "messageTimestamp", range);
      if (!(out[(*n)++] = tagged)) return json_decref(range), -ENOMEM;
    }
    if (*n == MSGSTORE_FILTERS_MAX) return json_decref(range), -E2BIG;
    json_t *copy = json_deep_copy(f);
    if (copy && range) json_object_set(copy, "messageTimestamp", range);
    json_decref(range);
    if (!(out[(*n)++] = copy)) return -ENOMEM;
  }
  return 0;
}

/* MessagesQuery/MessagesSubscribe: parse (filters' protocols normalised; a
 * subscribe's timestamp too), authenticate, authorise (owner or grant), and
 * the event-log filters (Messages.convertFilters). */
static int messages_filters(dwn_t *d, const char *tenant, dwn_msg_t *m, bool subscribe, json_t **converted, size_t *n,
                            dwn_status_t *st) {
  const json_t *descriptor = json_object_get(m->json, "descriptor");
  const json_t *filters = json_object_get(descriptor, "filters");
  int rc = 0;
  size_t i;
  const json_t *f;
  json_array_foreach(filters, i, f) {
    const char *protocol = json_string_value(json_object_get(f, "protocol"));
    if (!rc && protocol) rc = dwn_check_protocol_url(protocol, st);
  }
  if (!rc && subscribe) rc = dwn_check_timestamp(json_string_value(json_object_get(descriptor, "messageTimestamp")), st);
  if (!rc) rc = dwn_authenticate(d, m, st);
  if (!rc)
    rc = authorize(d, m, tenant, NULL, subscribe ? "MessagesSubscribeAuthorizationFailed" : "MessagesQueryAuthorizationFailed",
                   st);
  if (!rc) rc = convert_filters(filters, converted, n);
  return rc;
}

int dwn_messages_query(dwn_t *d, const char *tenant, const json_t *message, dwn_reply_t *reply) {
  dwn_status_t st = {0};
  dwn_msg_t m;
  const json_t *descriptor = json_object_get(message, "descriptor");
  json_t *converted[MSGSTORE_FILTERS_MAX] = {NULL};
  size_t n = 0;
  int rc = dwn_msg_init(&m, message, false, &st);
  if (!rc) rc = messages_filters(d, tenant, &m, false, converted, &n, &st);
  uint64_t after = 0;
  const json_t *cursor = json_object_get(descriptor, "cursor");
  if (!rc && cursor) {
    const char *value = json_string_value(json_object_get(cursor, "value"));
    if (!value || eventlog_watermark_parse(value, &after))
      rc = dwn_status_fail(&st, 400, "AnyaCursorInvalid", "cursor value is not a watermark of this node");
  }
  eventlog_result_t res = {0};
  if (!rc) rc = dwn_eventlog_query(d, tenant, converted, n, after, &res, &st);
  json_t *entries = rc ? NULL : json_array();
  for (size_t k = 0; !rc && k < res.count; k++)
    if (json_array_append_new(entries, json_string(res.entries[k].message_cid))) rc = -ENOMEM;
  if (!rc) {
    reply->body = json_pack("{s:{s:i,s:s},s:O}", "status", "code", 200, "detail", "OK", "entries", entries);
    if (reply->body && res.count) {
      char wm[EVENTLOG_WATERMARK_BYTES];
      eventlog_watermark_format(res.entries[res.count - 1].watermark, wm);
      json_object_set_new(reply->body, "cursor",
                          json_pack("{s:s,s:s}", "messageCid", res.entries[res.count - 1].message_cid, "value", wm));
    }
    reply->code = 200;
    if (!reply->body) rc = -ENOMEM;
  }
  eventlog_result_free(&res);
  json_decref(entries);
  for (size_t k = 0; k < n; k++) json_decref(converted[k]);
  dwn_msg_release(&m);
  return dwn_finish(reply, &st, rc);
}

int dwn_messages_read(dwn_t *d, const char *tenant, const json_t *message, dwn_reply_t *reply) {
  dwn_status_t st = {0};
  dwn_msg_t m;
  memset(&m, 0, sizeof m);
  const json_t *descriptor = json_object_get(message, "descriptor");
  const char *wanted = json_string_value(json_object_get(descriptor, "messageCid"));
  cid_t parsed;
  int rc = 0;
  if (!wanted || dwn_message_cid_parse(wanted, &parsed))
    rc = dwn_status_fail(&st, 400, "MessagesReadInvalidCid", "%s is not a valid CID", wanted ? wanted : "undefined");
  if (!rc) rc = dwn_msg_init(&m, message, false, &st);
  if (!rc) rc = dwn_check_timestamp(json_string_value(json_object_get(descriptor, "messageTimestamp")), &st);
  if (!rc) rc = dwn_authenticate(d, &m, &st);
  uint8_t *bytes = NULL;
  size_t len = 0;
  json_t *stored = NULL;
  bool done = false;
  if (!rc) {
    char text[DWN_CID_TEXT_BYTES];
    rc = dwn_cid_text(&parsed, text); /* the store keys base32 text */
    if (!rc) rc = msgstore_get(d->store, tenant, text, &bytes, &len, NULL);
    if (rc == -ENOENT) rc = dwn_reply_code(reply, 404, "Not Found"), done = true;
  }
  if (!rc && !done) rc = dagcbor_decode(bytes, len, &stored);
  if (!rc && !done) rc = authorize(d, &m, tenant, stored, "MessagesReadAuthorizationFailed", &st);
  if (!rc && !done) {
    const char *method = json_string_value(json_object_get(json_object_get(stored, "descriptor"), "method"));
    const char *iface = json_string_value(json_object_get(json_object_get(stored, "descriptor"), "interface"));
    if (iface && method && strcmp(iface, "Records") == 0 && strcmp(method, "Write") == 0) {
      const json_t *encoded = json_object_get(stored, "encodedData");
      if (encoded) {
        buf_t data = {0};
        rc = mbase_decode(MBASE_BASE64URL, json_string_value(encoded), json_string_length(encoded), &data);
        reply->data = data.data, reply->data_len = data.len, reply->data_size = data.len;
        reply->has_data = true;
        json_object_del(stored, "encodedData");
      } else {
        const char *record_id = json_string_value(json_object_get(stored, "recordId"));
        const char *data_cid = json_string_value(json_object_get(json_object_get(stored, "descriptor"), "dataCid"));
        int has = record_id && data_cid ? msgstore_data_ref_has(d->store, tenant, record_id, data_cid) : 0;
        if (has < 0) rc = has;
        else if (has) {
          reply->has_data = reply->data_in_store = true;
          reply->data_size = (uint64_t)json_number_value(json_object_get(json_object_get(stored, "descriptor"), "dataSize"));
          rc = cid_parse(&reply->data_cid, data_cid);
        }
      }
    }
    if (!rc) {
      reply->body = json_pack("{s:{s:i,s:s},s:{s:O,s:s}}", "status", "code", 200, "detail", "OK", "entry", "message",
                              stored, "messageCid", wanted);
      reply->code = 200;
      if (!reply->body) rc = -ENOMEM;
    }
  }
  free(bytes);
  json_decref(stored);
  dwn_msg_release(&m);
  return dwn_finish(reply, &st, rc);
}

int dwn_messages_subscribe(dwn_t *d, const char *tenant, const json_t *message, const dwn_subscriber_t *sub,
                           dwn_reply_t *reply) {
  dwn_status_t st = {0};
  dwn_msg_t m;
  json_t *converted[MSGSTORE_FILTERS_MAX] = {NULL};
  size_t n = 0;
  int rc = dwn_msg_init(&m, message, false, &st);
  if (!rc) rc = messages_filters(d, tenant, &m, true, converted, &n, &st);
  if (!rc) rc = dwn_stream_subscribe(d, tenant, message, converted, n, sub, reply);
  for (size_t k = 0; k < n; k++) json_decref(converted[k]);
  dwn_msg_release(&m);
  return dwn_finish(reply, &st, rc);
}
