/*
 * dwn/records: Records.Write, Read, Query and Delete (dwn-reference.md §5-§8),
 * in the reference's order of checks so each failure gets its status code.
 * Protocol-authorised records go through protocol_auth.h, grants, delegation
 * and owner-delegates through grants.h, record data through data_schema.h;
 * RecordsDelete with prune purges the descendants in the delete's txn.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dwn/data_schema.h"
#include "dwn/grants.h"
#include "dwn/handlers.h"
#include "dwn/stream.h"
#include "dwn/protocol_auth.h"
#include "dwn/jws.h"
#include "dwn/validate.h"
#include "err.h"
#include "multibase.h"

static const char *dstr(const json_t *message, const char *key) {
  return json_string_value(json_object_get(json_object_get(message, "descriptor"), key));
}

static bool is_write(const json_t *message) {
  const char *m = dstr(message, "method");
  return m && strcmp(m, "Write") == 0;
}

/* ---- indexes and filters ------------------------------------------------------ */

json_t *dwn_records_write_indexes(const json_t *message, const char *author, bool is_latest_base_state) {
  const json_t *descriptor = json_object_get(message, "descriptor");
  json_t *ix = json_object();
  if (!ix) return NULL;
  const char *key;
  const json_t *v;
  json_object_foreach((json_t *)descriptor, key, v) {
    if (strcmp(key, "tags") == 0 || strcmp(key, "published") == 0) continue;
    json_object_set(ix, key, (json_t *)v);
  }
  json_object_set_new(ix, "isLatestBaseState", json_boolean(is_latest_base_state));
  json_object_set_new(ix, "published", json_boolean(json_is_true(json_object_get(descriptor, "published"))));
  json_object_set_new(ix, "author", json_string(author));
  json_object_set(ix, "recordId", json_object_get(message, "recordId"));
  cid_t entry;
  char text[DWN_CID_TEXT_BYTES];
  if (dwn_entry_id(descriptor, author, &entry) == 0 && dwn_cid_text(&entry, text) == 0)
    json_object_set_new(ix, "entryId", json_string(text));
  const json_t *tags = json_object_get(descriptor, "tags");
  if (tags && is_latest_base_state) {
    json_object_foreach((json_t *)tags, key, v) {
      char name[MSGSTORE_NAME_BYTES_MAX + 8];
      snprintf(name, sizeof name, "tag.%s", key);
      json_object_set(ix, name, (json_t *)v);
    }
  }
  const json_t *attestation = json_object_get(message, "attestation");
  if (attestation) {
    char attester[DWN_DID_BYTES_MAX];
    dwn_jws_signer(attestation, attester);
    if (attester[0]) json_object_set_new(ix, "attester", json_string(attester));
  }

  const json_t *context = json_object_get(message, "contextId");
  if (context) json_object_set(ix, "contextId", (json_t *)context);
  return ix;
}

bool dwn_records_is_initial_write(const json_t *message) {
  if (!is_write(message)) return false;
  char author[DWN_DID_BYTES_MAX];
  dwn_author_of(message, author);
  cid_t entry;
  char text[DWN_CID_TEXT_BYTES];
  const char *record_id = json_string_value(json_object_get(message, "recordId"));
  return author[0] && record_id && dwn_entry_id(json_object_get(message, "descriptor"), author, &entry) == 0 &&
         dwn_cid_text(&entry, text) == 0 && strcmp(text, record_id) == 0;
}

static json_t *range_of(const json_t *criterion) {
  const json_t *from = json_object_get(criterion, "from"), *to = json_object_get(criterion, "to");
  if (!from && !to) return NULL;
  json_t *r = json_object();
  if (from) json_object_set(r, "gte", (json_t *)from);
  if (to) json_object_set(r, "lt", (json_t *)to);
  return r;
}

static json_t *prefix_range(const char *prefix) {
  size_t n = strlen(prefix);
  char *upper = malloc(n + 4);
  if (!upper) return NULL;
  memcpy(upper, prefix, n);
  memcpy(upper + n, "\xef\xbf\xbf", 4); /* + '\uffff' */
  json_t *r = json_pack("{s:s,s:s}", "gte", prefix, "lt", upper);
  free(upper);
  return r;
}

json_t *dwn_records_convert_filter(const json_t *filter, const char *date_sort) {
  json_t *out = json_object();
  if (!out) return NULL;
  const char *key;
  const json_t *v;
  json_object_foreach((json_t *)filter, key, v) {
    if (strcmp(key, "tags") == 0) continue;
    json_object_set(out, key, (json_t *)v);
  }
  const json_t *tags = json_object_get(filter, "tags");
  json_object_foreach((json_t *)tags, key, v) {
    char name[MSGSTORE_NAME_BYTES_MAX + 8];
    snprintf(name, sizeof name, "tag.%s", key);
    const json_t *starts = json_is_object(v) ? json_object_get(v, "startsWith") : NULL;
    if (starts) json_object_set_new(out, name, prefix_range(json_string_value(starts)));
    else json_object_set(out, name, (json_t *)v);
  }
  json_t *r;
  if ((r = range_of(json_object_get(filter, "dateCreated")))) json_object_set_new(out, "dateCreated", r);
  if ((r = range_of(json_object_get(filter, "datePublished")))) {
    json_object_set_new(out, "published", json_true());
    json_object_set_new(out, "datePublished", r);
  }
  if (!json_is_true(json_object_get(out, "published")) && date_sort &&
      (strcmp(date_sort, "publishedAscending") == 0 || strcmp(date_sort, "publishedDescending") == 0))
    json_object_set_new(out, "published", json_true());
  if ((r = range_of(json_object_get(filter, "dateUpdated")))) {
    json_object_set_new(out, "messageTimestamp", r);
    json_object_del(out, "dateUpdated");
  }
  const char *context = json_string_value(json_object_get(filter, "contextId"));
  if (context) json_object_set_new(out, "contextId", prefix_range(context));
  static const char *const lists[] = {"author", "recipient"};
  for (size_t i = 0; i < 2; i++) {
    const json_t *list = json_object_get(out, lists[i]);
    if (json_is_array(list) && json_array_size(list) == 0) json_object_del(out, lists[i]);
  }
  return out;
}

/* ---- Records.Write ------------------------------------------------------------ */

/* Records.validateDelegatedGrantReferentialIntegrity (parse phase, 400). */
static int delegation_integrity(const dwn_msg_t *m, const json_t *owner_payload, dwn_status_t *st) {
  return dwn_grant_check_delegation_integrity(m->json, m->payload, owner_payload, st);
}

/* A delegated grant carried in the authorization (authorDelegatedGrant or
 * ownerDelegatedGrant), parsed; 0 with g->message NULL when absent. */
static int carried_grant(const json_t *message, const char *member, dwn_grant_t *g, dwn_status_t *st) {
  memset(g, 0, sizeof *g);
  const json_t *grant = json_object_get(json_object_get(message, "authorization"), member);
  return grant ? dwn_grant_parse(grant, g, st) : 0;
}

static int check_attestation(const json_t *message, dwn_status_t *st) {
  const json_t *attestation = json_object_get(message, "attestation");
  if (!attestation) return 0;
  const json_t *sigs = json_object_get(attestation, "signatures");
  if (json_array_size(sigs) != 1)
    return dwn_status_fail(st, 400, "RecordsWriteAttestationIntegrityMoreThanOneSignature",
                           "Currently implementation only supports 1 attester, but got %zu", json_array_size(sigs));
  json_t *payload = NULL;
  if (jws_decode_payload(json_string_value(json_object_get(attestation, "payload")), &payload))
    return dwn_status_fail(st, 400, "JwsDecodePlainObjectPayloadInvalid", "payload is not a JSON object");
  char expected[DWN_CID_TEXT_BYTES] = "";
  cid_t cid;
  int rc = dwn_compute_cid(json_object_get(message, "descriptor"), &cid);
  if (!rc) rc = dwn_cid_text(&cid, expected);
  const char *given = json_string_value(json_object_get(payload, "descriptorCid"));
  if (!rc && (!given || strcmp(given, expected) != 0))
    rc = dwn_status_fail(st, 400, "RecordsWriteAttestationIntegrityDescriptorCidMismatch",
                         "descriptorCid %s does not match expected descriptorCid %s", given ? given : "undefined",
                         expected);
  else if (!rc && json_object_size(payload) > 1)
    rc = dwn_status_fail(st, 400, "RecordsWriteAttestationIntegrityInvalidPayloadProperty",
                         "Only 'descriptorCid' is allowed in attestation payload, but got %zu properties.",
                         json_object_size(payload));
  json_decref(payload);
  return rc;
}

static int check_cid_in_payload(const json_t *message, const json_t *payload, const char *member, const char *field,
                                const char *code, const char *what, dwn_status_t *st) {
  const char *given = json_string_value(json_object_get(payload, field));
  if (!given) return 0;
  char expected[DWN_CID_TEXT_BYTES] = "undefined";
  cid_t cid;
  const json_t *v = json_object_get(message, member);
  if (v && dwn_compute_cid(v, &cid) == 0) dwn_cid_text(&cid, expected);
  if (strcmp(given, expected) == 0) return 0;
  return dwn_status_fail(st, 400, code, "CID %s of %s property in message does not match %s in authorization: %s",
                         expected, what, field, given);
}

static int write_integrity(const dwn_msg_t *m, const json_t *owner_payload, bool *initial, dwn_status_t *st);

/* RecordsWrite.parse after the schema: signatures' structure, attestation,
 * integrity (§3.3, §4.2). */
static int write_parse(const dwn_msg_t *m, bool *initial, dwn_status_t *st) {
  const json_t *message = m->json;
  const json_t *authorization = json_object_get(message, "authorization");
  const json_t *owner = json_object_get(authorization, "ownerSignature");
  json_t *owner_payload = NULL;
  int rc = 0;
  if (owner) rc = dwn_signature_parse(owner, m->descriptor, false, st, &owner_payload);
  if (!rc) rc = check_attestation(message, st);
  if (!rc) rc = write_integrity(m, owner_payload, initial, st);
  json_decref(owner_payload);
  return rc;
}

/* RecordsWrite.validateIntegrity and the URL / timestamp checks. */
static int write_integrity(const dwn_msg_t *m, const json_t *owner_payload, bool *initial, dwn_status_t *st) {
  const json_t *message = m->json;
  int rc;
  const char *record_id = json_string_value(json_object_get(message, "recordId"));
  cid_t entry;
  char entry_text[DWN_CID_TEXT_BYTES];
  if ((rc = dwn_entry_id(m->descriptor, m->author, &entry)) || (rc = dwn_cid_text(&entry, entry_text))) return rc;
  *initial = strcmp(entry_text, record_id) == 0;
  const char *created = dstr(message, "dateCreated"), *timestamp = dstr(message, "messageTimestamp");
  const char *protocol = dstr(message, "protocol");
  const char *context = json_string_value(json_object_get(message, "contextId"));
  if (*initial) {
    if (strcmp(created, timestamp) != 0)
      return dwn_status_fail(st, 400, "RecordsWriteValidateIntegrityDateCreatedMismatch",
                             "messageTimestamp %s must match dateCreated %s for the initial write", timestamp, created);
    if (protocol && !dstr(message, "parentId") && (!context || strcmp(context, entry_text) != 0))
      return dwn_status_fail(st, 400, "RecordsWriteValidateIntegrityContextIdMismatch",
                             "contextId in message: %s does not match deterministic contextId: %s",
                             context ? context : "undefined", entry_text);
  }
  const char *signed_record = json_string_value(json_object_get(m->payload, "recordId"));
  if (!signed_record || strcmp(signed_record, record_id) != 0)
    return dwn_status_fail(st, 400, "RecordsWriteValidateIntegrityRecordIdUnauthorized",
                           "recordId in message %s does not match recordId in authorization: %s", record_id,
                           signed_record ? signed_record : "undefined");
  const char *signed_context = json_string_value(json_object_get(m->payload, "contextId"));
  if ((context == NULL) != (signed_context == NULL) || (context && strcmp(context, signed_context) != 0))
    return dwn_status_fail(st, 400, "RecordsWriteValidateIntegrityContextIdNotInSignerSignaturePayload",
                           "contextId in message %s does not match contextId in authorization: %s",
                           context ? context : "undefined", signed_context ? signed_context : "undefined");
  if ((rc = delegation_integrity(m, owner_payload, st))) return rc;
  if ((rc = check_cid_in_payload(message, m->payload, "attestation", "attestationCid",
                                 "RecordsWriteValidateIntegrityAttestationMismatch", "attestation", st)) ||
      (rc = check_cid_in_payload(message, m->payload, "encryption", "encryptionCid",
                                 "RecordsWriteValidateIntegrityEncryptionCidMismatch", "encryption", st)))
    return rc;
  if (protocol && (rc = dwn_check_protocol_url(protocol, st))) return rc;
  const char *schema = dstr(message, "schema");
  if (schema && (rc = dwn_check_schema_url(schema, st))) return rc;
  if ((rc = dwn_check_timestamp(timestamp, st)) || (rc = dwn_check_timestamp(created, st))) return rc;
  const char *published = dstr(message, "datePublished");
  if (published && (rc = dwn_check_timestamp(published, st))) return rc;
  return 0;
}

/* RecordsWrite.verifyEqualityOfImmutableProperties. */
static int check_immutable(const json_t *initial, const json_t *message, dwn_status_t *st) {
  static const char *const mutable_keys[] = {"dataCid", "dataSize", "dataFormat", "datePublished",
                                             "published", "messageTimestamp", "tags"};
  const json_t *descriptors[2] = {json_object_get(initial, "descriptor"), json_object_get(message, "descriptor")};
  for (int side = 0; side < 2; side++) {
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)descriptors[side], key, v) {
      bool mutable_key = false;
      for (size_t i = 0; i < sizeof mutable_keys / sizeof mutable_keys[0]; i++) mutable_key |= strcmp(key, mutable_keys[i]) == 0;
      if (mutable_key) continue;
      const json_t *a = json_object_get(descriptors[0], key), *b = json_object_get(descriptors[1], key);
      /* JS `!==` on primitives (objects never compare equal) */
      bool same = a && b && !json_is_object(a) && !json_is_array(a) && json_equal(a, b);
      if (!same) {
        char was[128] = "undefined", now[128] = "undefined";
        if (a) dwn_validate_js_string(a, was, sizeof was);
        if (b) dwn_validate_js_string(b, now, sizeof now);
        return dwn_status_fail(st, 400, "RecordsWriteImmutablePropertyChanged",
                               "%s is an immutable property: cannot change '%s' to '%s'", key, was, now);
      }
    }
  }
  return 0;
}

static int data_integrity(const char *want_cid, uint64_t want_size, const char *got_cid, uint64_t got_size,
                          dwn_status_t *st) {
  if (!want_cid || strcmp(want_cid, got_cid) != 0)
    return dwn_status_fail(st, 400, "RecordsWriteDataCidMismatch",
                           "actual data CID %s does not match dataCid in descriptor: %s", got_cid,
                           want_cid ? want_cid : "undefined");
  if (want_size != got_size)
    return dwn_status_fail(st, 400, "RecordsWriteDataSizeMismatch",
                           "actual data size %llu bytes does not match dataSize in descriptor: %llu",
                           (unsigned long long)got_size, (unsigned long long)want_size);
  return 0;
}

/* Keeps the bytes of a single raw-leaf root (all the data when it is small). */
typedef struct capture {
  buf_t bytes;
  size_t blocks;
} capture_t;

static int capture_put(void *ctx, const cid_t *cid, const uint8_t *data, size_t len) {
  capture_t *c = ctx;
  c->blocks++;
  if (c->blocks > 1) return 0; /* more than one block: not inline data */
  return buf_append(&c->bytes, data, len);
}

static uint64_t dnum(const json_t *message, const char *key) {
  return (uint64_t)json_number_value(json_object_get(json_object_get(message, "descriptor"), key));
}

/* With a data stream: small data inline (encodedData), large into the block
 * engine.  *stored_out: the message as stored; *data_ref: a block-engine
 * reference to add. */
static int write_with_data(dwn_t *d, const char *tenant, const json_t *message, int fd, json_t **stored_out,
                           bool *data_ref, dwn_status_t *st) {
  const char *want_cid = dstr(message, "dataCid");
  uint64_t want_size = dnum(message, "dataSize");
  cid_t cid;
  uint64_t size = 0;
  char got[DWN_DATA_CID_TEXT_BYTES];
  *data_ref = false;
  if (want_size <= DWN_INLINE_DATA_BYTES_MAX) {
    capture_t cap = {0};
    block_sink_t sink = {capture_put, &cap};
    int rc = dwn_data_cid_fd(fd, &sink, &cid, &size);
    if (!rc) rc = dwn_cid_text(&cid, got);
    if (!rc) rc = data_integrity(want_cid, want_size, got, size, st);
    /* validateSchemaForCoreRecordsWrite, then the registered data schemas */
    if (!rc) rc = dwn_grant_check_core_write(d, tenant, message, cap.bytes.data ? cap.bytes.data : (const uint8_t *)"",
                                             cap.bytes.len, st);
    if (!rc) rc = dwn_data_schema_check(d, message, cap.bytes.data ? cap.bytes.data : (const uint8_t *)"",
                                        cap.bytes.len, NULL, st);
    json_t *stored = NULL;
    buf_t text = {0};
    if (!rc) rc = mbase_encode(MBASE_BASE64URL, cap.bytes.data ? cap.bytes.data : (const uint8_t *)"", cap.bytes.len, &text);
    if (!rc && !(stored = json_deep_copy(message))) rc = -ENOMEM;
    if (!rc) rc = json_object_set_new(stored, "encodedData", json_stringn(text.data ? (char *)text.data : "", text.len)) ? -ENOMEM : 0;
    buf_free(&text);
    buf_free(&cap.bytes);
    if (rc) json_decref(stored);
    else *stored_out = stored;
    return rc;
  }
  if (!d->bs) return err_set(-ENOTSUP, "record data above %u bytes needs the block engine", DWN_INLINE_DATA_BYTES_MAX);
  block_sink_t sink = bs_sink(d->bs);
  int rc = dwn_data_cid_fd(fd, &sink, &cid, &size);
  if (!rc) rc = dwn_cid_text(&cid, got);
  if (!rc) rc = data_integrity(want_cid, want_size, got, size, st);
  if (!rc) rc = bs_sync(d->bs); /* the data is durable before the message that points at it */
  if (!rc) rc = dwn_data_schema_check(d, message, NULL, 0, &cid, st);
  if (rc) return rc;           /* blocks of rejected data stay unreferenced: GC takes them */
  if (!(*stored_out = json_deep_copy(message))) return -ENOMEM;
  *data_ref = true;
  return 0;
}

/* Without a data stream, an update takes its data from the newest write. */
static int write_without_data(dwn_t *d, const char *tenant, const json_t *message, const json_t *newest,
                              json_t **stored_out, dwn_status_t *st) {
  const char *want_cid = dstr(message, "dataCid");
  uint64_t want_size = dnum(message, "dataSize");
  const char *prev_cid = dstr(newest, "dataCid");
  int rc = data_integrity(want_cid, want_size, prev_cid ? prev_cid : "undefined", dnum(newest, "dataSize"), st);
  if (rc) return rc;
  json_t *stored = json_deep_copy(message);
  if (!stored) return -ENOMEM;
  if (want_size <= DWN_INLINE_DATA_BYTES_MAX) {
    const json_t *encoded = json_object_get(newest, "encodedData");
    if (!encoded) rc = dwn_status_fail(st, 400, "RecordsWriteMissingEncodedDataInPrevious",
                                       "No dataStream was provided and unable to get data from previous message");
    else rc = json_object_set(stored, "encodedData", (json_t *)encoded) ? -ENOMEM : 0;
  } else {
    int has = msgstore_data_ref_has(d->store, tenant, json_string_value(json_object_get(newest, "recordId")), want_cid);
    if (has < 0) rc = has;
    else if (!has)
      rc = dwn_status_fail(st, 400, "RecordsWriteMissingDataInPrevious",
                           "No dataStream was provided and unable to get data from previous message");
  }
  if (rc) json_decref(stored);
  else *stored_out = stored;
  return rc;
}

static json_t *record_filter(const char *record_id, const char *method) {
  json_t *f = json_pack("{s:s,s:s}", "interface", "Records", "recordId", record_id);
  if (f && method) json_object_set_new(f, "method", json_string(method));
  return f;
}

/* StorageController.deleteAllOlderMessagesButKeepInitialWrite, inside txn. */
static int delete_older(dwn_t *d, msgstore_txn_t *txn, const char *tenant, const json_t *existing,
                        const json_t *newest) {
  size_t i;
  const json_t *m;
  json_array_foreach(existing, i, m) {
    if (!dwn_is_newer(newest, m)) continue;
    int rc = 0;
    if (is_write(m) && dnum(m, "dataSize") > DWN_INLINE_DATA_BYTES_MAX) {
      const char *cid = dstr(m, "dataCid"), *newest_cid = is_write(newest) ? dstr(newest, "dataCid") : NULL;
      if (cid && (!newest_cid || strcmp(cid, newest_cid) != 0))
        rc = msgstore_txn_data_ref_delete(txn, tenant, json_string_value(json_object_get(m, "recordId")), cid);
      if (rc == -ENOENT) rc = 0;
    }
    bool initial = dwn_records_is_initial_write(m);
    if (!rc) rc = dwn_delete(d, txn, tenant, m, !initial);
    if (!rc && initial) {
      json_t *kept = json_deep_copy(m);
      char author[DWN_DID_BYTES_MAX];
      dwn_author_of(m, author);
      json_t *ix = kept ? dwn_records_write_indexes(kept, author, false) : NULL;
      if (!ix) rc = -ENOMEM;
      if (!rc) json_object_del(kept, "encodedData");
      if (!rc) rc = dwn_put(d, txn, tenant, kept, ix, false);
      json_decref(ix);
      json_decref(kept);
    }
    if (rc) return rc;
  }
  return 0;
}

/* The owner of a write with ownerSignature: the grantor of ownerDelegatedGrant,
 * else the signer of ownerSignature ("" when there is none). */
static void owner_of(const json_t *message, char out[DWN_DID_BYTES_MAX], char owner_signer[DWN_DID_BYTES_MAX]) {
  const json_t *authorization = json_object_get(message, "authorization");
  const json_t *owner = json_object_get(authorization, "ownerSignature");
  out[0] = owner_signer[0] = 0;
  if (!owner) return;
  json_t *wrapper = json_pack("{s:{s:O}}", "authorization", "signature", owner);
  if (wrapper) dwn_signer_of(wrapper, owner_signer);
  json_decref(wrapper);
  const json_t *grant = json_object_get(authorization, "ownerDelegatedGrant");
  if (grant) dwn_signer_of(grant, out);
  else snprintf(out, DWN_DID_BYTES_MAX, "%s", owner_signer);
}

/* RecordsWriteHandler.authorizeRecordsWrite (401). */
static int write_authorize(dwn_t *d, const char *tenant, const dwn_msg_t *m, dwn_status_t *st) {
  const json_t *message = m->json;
  char owner[DWN_DID_BYTES_MAX], owner_signer[DWN_DID_BYTES_MAX];
  owner_of(message, owner, owner_signer);
  if (owner[0] && strcmp(owner, tenant) != 0)
    return dwn_status_fail(st, 401, "RecordsWriteOwnerAndTenantMismatch",
                           "Owner %s must be the same as tenant %s when specified.", owner, tenant);
  dwn_grant_t g;
  int rc = carried_grant(message, "authorDelegatedGrant", &g, st);
  if (!rc && g.message) rc = dwn_grant_authorize_records_write(d, tenant, message, m->author, m->signer, &g, st);
  dwn_grant_release(&g);
  if (rc) return rc;
  rc = carried_grant(message, "ownerDelegatedGrant", &g, st);
  if (!rc && g.message) rc = dwn_grant_authorize_records_write(d, tenant, message, owner, owner_signer, &g, st);
  dwn_grant_release(&g);
  if (rc) return rc;
  if (owner[0]) return 0; /* a write retained by the tenant */
  if (strcmp(m->author, tenant) == 0) return 0;
  const char *grant_id = json_string_value(json_object_get(m->payload, "permissionGrantId"));
  if (m->author[0] && grant_id) {
    rc = dwn_grant_fetch(d, tenant, grant_id, &g, st);
    if (!rc) rc = dwn_grant_authorize_records_write(d, tenant, message, tenant, m->author, &g, st);
    dwn_grant_release(&g);
    return rc;
  }
  if (dstr(message, "protocol")) return dwn_protocol_authorize_write(d, tenant, m, st);
  return dwn_status_fail(st, 401, "RecordsWriteAuthorizationFailed", "message failed authorization");
}

int dwn_records_write(dwn_t *d, const char *tenant, const json_t *message, int data_fd, dwn_reply_t *reply) {
  dwn_status_t st = {0};
  dwn_msg_t m;
  bool initial = false;
  int rc = dwn_msg_init(&m, message, true, &st);
  if (!rc) rc = write_parse(&m, &initial, &st);
  if (!rc && dstr(message, "protocol")) rc = dwn_protocol_validate_write(d, tenant, &m, &st);
  if (rc) {
    dwn_msg_release(&m);
    return dwn_finish(reply, &st, rc);
  }
  /* authentication and authorisation (401) */
  rc = dwn_authenticate(d, &m, &st);
  if (!rc) rc = write_authorize(d, tenant, &m, &st);
  if (rc) {
    dwn_msg_release(&m);
    return dwn_finish(reply, &st, rc);
  }

  const char *record_id = json_string_value(json_object_get(message, "recordId"));
  pthread_mutex_t *lock = dwn_write_lock(d, tenant, record_id);
  pthread_mutex_lock(lock);
  json_t *filter = record_filter(record_id, NULL);
  json_t *existing = NULL, *stored = NULL;
  rc = filter ? dwn_query(d, tenant, &filter, 1, NULL, NULL, &existing, NULL, &st) : -ENOMEM;
  json_decref(filter);
  const json_t *initial_write = NULL;
  if (!rc && !initial) {
    size_t i;
    const json_t *e;
    json_array_foreach(existing, i, e) if (!initial_write && dwn_records_is_initial_write(e)) initial_write = e;
    if (!initial_write) rc = dwn_status_fail(&st, 400, "RecordsWriteGetInitialWriteNotFound", "Initial write is not found.");
    else rc = check_immutable(initial_write, message, &st);
  }
  const json_t *newest = rc ? NULL : dwn_newest(existing);
  bool done = false;
  if (!rc && newest && !dwn_is_newer(message, newest)) {
    rc = dwn_reply_code(reply, 409, "Conflict");
    done = true;
  }
  if (!rc && !done && newest && strcmp(dstr(newest, "method"), "Delete") == 0)
    rc = dwn_status_fail(&st, 400, "RecordsWriteNotAllowedAfterDelete", "RecordsWrite is not allowed after a RecordsDelete.");
  /* preProcessingForCoreRecordsWrite (a revocation's protocol tag); the data
   * of a permission record is checked once it has been read */
  if (!rc && !done) rc = dwn_grant_check_core_write(d, tenant, message, NULL, 0, &st);
  bool latest = false, data_ref = false;
  if (!rc && !done) {
    if (data_fd >= 0) {
      rc = write_with_data(d, tenant, message, data_fd, &stored, &data_ref, &st);
      latest = true;
    } else if (!initial) {
      rc = write_without_data(d, tenant, message, newest, &stored, &st);
      latest = true;
    } else if (!(stored = json_deep_copy(message))) {
      rc = -ENOMEM;
    }
  }
  if (!rc && !done) {
    msgstore_txn_t *txn = NULL;
    json_t *ix = dwn_records_write_indexes(message, m.author, latest);
    if (!ix) rc = -ENOMEM;
    if (!rc) rc = msgstore_txn_begin(d->store, &txn);
    if (!rc) rc = dwn_put(d, txn, tenant, stored, ix, true);
    if (!rc && data_ref) rc = msgstore_txn_data_ref_put(txn, tenant, record_id, dstr(message, "dataCid"));
    if (!rc) rc = delete_older(d, txn, tenant, existing, message);
    if (!rc) rc = msgstore_txn_commit(txn);
    /* only the latest state is an event (not a data-less initial write) */
    if (!rc && latest) dwn_stream_emit(d, tenant, message, initial ? NULL : initial_write, ix);
    cid_t data_cid;
    if (!rc && data_ref && d->data_stored && cid_parse(&data_cid, dstr(message, "dataCid")) == 0)
      d->data_stored(d->data_stored_ctx, tenant, message, &data_cid, dnum(message, "dataSize"));
    msgstore_txn_free(txn);
    json_decref(ix);
    if (!rc) rc = initial && data_fd < 0 ? dwn_reply_code(reply, 204, "No Content") : dwn_reply_code(reply, 202, "Accepted");
  }
  pthread_mutex_unlock(lock);
  json_decref(stored);
  json_decref(existing);
  dwn_msg_release(&m);
  return dwn_finish(reply, &st, rc);
}

/* ---- Records.Read ------------------------------------------------------------- */

/* Parse of Read/Query/Delete: signature structure (done by dwn_msg_init),
 * delegated grants, timestamp. */
static int generic_parse(const dwn_msg_t *m, dwn_status_t *st) {
  int rc = delegation_integrity(m, NULL, st);
  if (!rc) rc = dwn_check_timestamp(dstr(m->json, "messageTimestamp"), st);
  return rc;
}

/* The initial write of a record that has later writes (its encodedData dropped), or NULL. */
static int initial_write_of(dwn_t *d, const char *tenant, const char *record_id, json_t **out, dwn_status_t *st) {
  json_t *f = json_pack("{s:s,s:b,s:s}", "recordId", record_id, "isLatestBaseState", 0, "method", "Write");
  json_t *found = NULL;
  int rc = f ? dwn_query(d, tenant, &f, 1, NULL, NULL, &found, NULL, st) : -ENOMEM;
  json_decref(f);
  *out = NULL;
  if (!rc && json_array_size(found)) {
    *out = json_incref(json_array_get(found, 0));
    json_object_del(*out, "encodedData");
  }
  json_decref(found);
  return rc;
}

/* RecordsReadHandler.authorizeRecordsRead (401). */
static int read_authorize(dwn_t *d, const dwn_msg_t *m, const char *tenant, const json_t *write, dwn_status_t *st) {
  dwn_grant_t g;
  int rc = carried_grant(m->json, "authorDelegatedGrant", &g, st);
  if (!rc && g.message) rc = dwn_grant_authorize_records_read(d, tenant, m->json, write, m->author, m->signer, &g, st);
  dwn_grant_release(&g);
  if (rc) return rc;
  if (m->author[0] && strcmp(m->author, tenant) == 0) return 0;
  if (json_is_true(json_object_get(json_object_get(write, "descriptor"), "published"))) return 0;
  char write_author[DWN_DID_BYTES_MAX];
  dwn_author_of(write, write_author);
  const char *recipient = dstr(write, "recipient");
  if (m->author[0] && ((recipient && strcmp(m->author, recipient) == 0) || strcmp(m->author, write_author) == 0))
    return 0;
  const char *grant_id = json_string_value(json_object_get(m->payload, "permissionGrantId"));
  if (m->author[0] && grant_id) {
    rc = dwn_grant_fetch(d, tenant, grant_id, &g, st);
    if (!rc) rc = dwn_grant_authorize_records_read(d, tenant, m->json, write, tenant, m->author, &g, st);
    dwn_grant_release(&g);
    return rc;
  }
  if (dstr(write, "protocol")) return dwn_protocol_authorize_read(d, tenant, m, write, st);
  return dwn_status_fail(st, 401, "RecordsReadAuthorizationFailed", "message failed authorization");
}

int dwn_records_read(dwn_t *d, const char *tenant, const json_t *message, dwn_reply_t *reply) {
  dwn_status_t st = {0};
  dwn_msg_t m;
  int rc = dwn_msg_init(&m, message, false, &st);
  if (!rc) rc = generic_parse(&m, &st);
  if (!rc && m.author[0]) rc = dwn_authenticate(d, &m, &st);
  json_t *query = NULL, *found = NULL, *initial = NULL;
  if (!rc) {
    json_t *converted = dwn_records_convert_filter(json_object_get(m.descriptor, "filter"), NULL);
    query = json_pack("{s:s,s:b}", "interface", "Records", "isLatestBaseState", 1);
    if (!converted || !query) rc = -ENOMEM;
    else json_object_update(query, converted);
    json_decref(converted);
  }
  if (!rc) rc = dwn_query(d, tenant, &query, 1, NULL, NULL, &found, NULL, &st);
  bool done = false;
  if (!rc && json_array_size(found) == 0) rc = dwn_reply_code(reply, 404, "Not Found"), done = true;
  else if (!rc && json_array_size(found) > 1)
    rc = dwn_status_fail(&st, 400, "RecordsReadReturnedMultiple", "Multiple records exist for the RecordsRead filter");
  json_t *matched = rc || done ? NULL : json_array_get(found, 0);
  if (matched && strcmp(dstr(matched, "method"), "Delete") == 0) {
    json_t *f = json_pack("{s:s}", "entryId", dstr(matched, "recordId"));
    json_t *w = NULL;
    rc = f ? dwn_query(d, tenant, &f, 1, NULL, NULL, &w, NULL, &st) : -ENOMEM;
    json_decref(f);
    if (!rc && json_array_size(w) == 0)
      rc = dwn_status_fail(&st, 400, "RecordsReadInitialWriteNotFound", "Initial write for deleted record not found");
    if (!rc) rc = read_authorize(d, &m, tenant, json_array_get(w, 0), &st);
    if (!rc) {
      json_t *body = json_pack("{s:{s:i,s:s},s:{s:O,s:O}}", "status", "code", 404, "detail", "Not Found", "entry",
                               "recordsDelete", matched, "initialWrite", json_array_get(w, 0));
      if (!body) rc = -ENOMEM;
      else reply->body = body, reply->code = 404;
    }
    json_decref(w);
    done = true;
  } else if (matched) {
    rc = read_authorize(d, &m, tenant, matched, &st);
    json_t *write = rc ? NULL : json_deep_copy(matched);
    if (!rc && !write) rc = -ENOMEM;
    const json_t *encoded = write ? json_object_get(write, "encodedData") : NULL;
    if (!rc && encoded) {
      buf_t bytes = {0};
      rc = mbase_decode(MBASE_BASE64URL, json_string_value(encoded), json_string_length(encoded), &bytes);
      reply->data = bytes.data, reply->data_len = bytes.len, reply->data_size = bytes.len;
      json_object_del(write, "encodedData");
    } else if (!rc) {
      int has = msgstore_data_ref_has(d->store, tenant, json_string_value(json_object_get(write, "recordId")),
                                      dstr(write, "dataCid"));
      if (has < 0) rc = has;
      else if (!has) rc = dwn_reply_code(reply, 404, "Not Found"), done = true;
      else {
        reply->data_in_store = true;
        reply->data_size = dnum(write, "dataSize");
        rc = cid_parse(&reply->data_cid, dstr(write, "dataCid"));
      }
    }
    if (!rc && !done && !dwn_records_is_initial_write(write)) rc = initial_write_of(d, tenant, json_string_value(json_object_get(write, "recordId")), &initial, &st);
    if (!rc && !done) {
      json_t *entry = json_pack("{s:O}", "recordsWrite", write);
      if (entry && initial) json_object_set(entry, "initialWrite", initial);
      reply->body = entry ? json_pack("{s:{s:i,s:s},s:o}", "status", "code", 200, "detail", "OK", "entry", entry) : NULL;
      if (!reply->body) rc = -ENOMEM;
      reply->code = 200;
      reply->has_data = true;
    }
    json_decref(write);
    done = true;
  }
  json_decref(initial);
  json_decref(query);
  json_decref(found);
  dwn_msg_release(&m);
  return dwn_finish(reply, &st, rc);
}

/* ---- Records.Query ------------------------------------------------------------ */

static bool list_allows(const json_t *filter, const char *key, const char *did) {
  const json_t *v = json_object_get(filter, key);
  if (!v) return true;
  if (json_is_array(v)) {
    if (json_array_size(v) == 0) return true;
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item) if (json_is_string(item) && strcmp(json_string_value(item), did) == 0) return true;
    return false;
  }
  return json_is_string(v) && strcmp(json_string_value(v), did) == 0;
}

/* One of the filters a RecordsQuery (or RecordsSubscribe) runs: the caller's
 * filter converted, for the latest writes (a subscription: writes and
 * deletes, so a subscriber can follow state); published -1 leaves it as the
 * filter says; extra_key (may be NULL) gets extra_value (stolen). */
static json_t *shape_filter(const json_t *filter, const char *date_sort, bool subscribe, const char *extra_key,
                            json_t *extra_value, int published) {
  json_t *f = dwn_records_convert_filter(filter, date_sort);
  if (!f) return json_decref(extra_value), NULL;
  json_object_set_new(f, "interface", json_string("Records"));
  if (subscribe) {
    json_object_set_new(f, "method", json_pack("[ss]", "Write", "Delete"));
  } else {
    json_object_set_new(f, "method", json_string("Write"));
    json_object_set_new(f, "isLatestBaseState", json_true());
  }
  if (published >= 0) json_object_set_new(f, "published", json_boolean(published));
  if (extra_key) json_object_set_new(f, extra_key, extra_value);
  return f;
}

#define VISIBLE_FILTERS_MAX 4

/* What RecordsQuery.parse and RecordsSubscribe.parse check after the
 * signature structure, then the handler's choice of filters: published
 * records for an anonymous caller; after authentication and authorisation
 * (delegated grant, protocol role), everything for the owner, else published
 * + own unpublished + role + addressed to them (RecordsQueryHandler /
 * RecordsSubscribeHandler).  *n may be 0: nothing is visible. */
static int visible_filters(dwn_t *d, const char *tenant, dwn_msg_t *m, const json_t *filter, const char *date_sort,
                           bool subscribe, json_t *filters[VISIBLE_FILTERS_MAX], size_t *n, dwn_status_t *st) {
  const json_t *message = m->json;
  *n = 0;
  int rc = delegation_integrity(m, NULL, st);
  if (!rc && json_object_get(m->payload, "protocolRole") && !json_object_get(filter, "protocolPath"))
    rc = subscribe ? dwn_status_fail(st, 400, "RecordsSubscribeFilterMissingRequiredProperties",
                                     "Role-authorized subscriptions must include `protocolPath` in the filter")
                   : dwn_status_fail(st, 400, "RecordsQueryFilterMissingRequiredProperties",
                                     "Role-authorized queries must include `protocolPath` in the filter");
  const char *protocol = json_string_value(json_object_get(filter, "protocol"));
  const char *schema = json_string_value(json_object_get(filter, "schema"));
  if (!rc && protocol) rc = dwn_check_protocol_url(protocol, st);
  if (!rc && schema) rc = dwn_check_schema_url(schema, st);
  if (!rc) rc = dwn_check_timestamp(dstr(message, "messageTimestamp"), st);
  if (rc) return rc;
  bool includes_published = json_object_get(filter, "datePublished") || !json_is_false(json_object_get(filter, "published"));
  bool includes_unpublished = (!json_object_get(filter, "datePublished") && !json_object_get(filter, "published")) ||
                              json_is_false(json_object_get(filter, "published"));
  if (includes_published && !m->author[0]) {
    filters[(*n)++] = shape_filter(filter, date_sort, subscribe, NULL, NULL, 1);
  } else {
    rc = dwn_authenticate(d, m, st);
    bool role = json_object_get(m->payload, "protocolRole") != NULL;
    if (!rc) { /* authorizeRecordsQuery / authorizeRecordsSubscribe */
      dwn_grant_t g;
      rc = carried_grant(message, "authorDelegatedGrant", &g, st);
      if (!rc && g.message) rc = dwn_grant_authorize_records_query(d, tenant, message, m->author, m->signer, &g, st);
      dwn_grant_release(&g);
    }
    if (!rc && role) rc = dwn_protocol_authorize_query(d, tenant, m, st);
    if (!rc && strcmp(m->author, tenant) == 0) {
      filters[(*n)++] = shape_filter(filter, date_sort, subscribe, NULL, NULL, -1);
    } else if (!rc) {
      if (includes_published) filters[(*n)++] = shape_filter(filter, date_sort, subscribe, NULL, NULL, 1);
      if (includes_unpublished && list_allows(filter, "author", m->author))
        filters[(*n)++] = shape_filter(filter, date_sort, subscribe, "author", json_string(m->author), 0);
      if (includes_unpublished && role) filters[(*n)++] = shape_filter(filter, date_sort, subscribe, NULL, NULL, 0);
      if (includes_unpublished && list_allows(filter, "recipient", m->author))
        filters[(*n)++] = shape_filter(filter, date_sort, subscribe, "recipient", json_string(m->author), 0);
    }
  }
  for (size_t i = 0; !rc && i < *n; i++)
    if (!filters[i]) rc = -ENOMEM;
  return rc;
}

int dwn_records_subscribe(dwn_t *d, const char *tenant, const json_t *message, const dwn_subscriber_t *sub,
                          dwn_reply_t *reply) {
  dwn_status_t st = {0};
  dwn_msg_t m;
  const json_t *filter = json_object_get(json_object_get(message, "descriptor"), "filter");
  json_t *filters[VISIBLE_FILTERS_MAX] = {NULL};
  size_t n = 0;
  int rc = dwn_msg_init(&m, message, false, &st);
  if (!rc) rc = visible_filters(d, tenant, &m, filter, NULL, true, filters, &n, &st);
  if (!rc) rc = dwn_stream_subscribe(d, tenant, message, filters, n, sub, reply);
  for (size_t i = 0; i < n; i++) json_decref(filters[i]);
  dwn_msg_release(&m);
  return dwn_finish(reply, &st, rc);
}

/* IndexLevel.shouldQueryWithInMemoryPaging: every filter is concise (a
 * recordId, or without a cursor one of protocolPath, contextId, parentId,
 * schema). */
static bool sorts_in_memory(json_t *const *filters, size_t n, const json_t *pagination) {
  bool cursor = json_object_get(pagination, "cursor") != NULL;
  for (size_t i = 0; i < n; i++) {
    const json_t *f = filters[i];
    if (json_object_get(f, "recordId")) continue;
    if (cursor) return false;
    if (!json_object_get(f, "protocolPath") && !json_object_get(f, "contextId") && !json_object_get(f, "parentId") &&
        !json_object_get(f, "schema"))
      return false;
  }
  return true;
}

int dwn_records_query(dwn_t *d, const char *tenant, const json_t *message, dwn_reply_t *reply) {
  dwn_status_t st = {0};
  dwn_msg_t m;
  const json_t *filter = json_object_get(json_object_get(message, "descriptor"), "filter");
  const char *date_sort = dstr(message, "dateSort");
  int rc = 0;
  memset(&m, 0, sizeof m);
  if (json_is_false(json_object_get(filter, "published")) && date_sort &&
      (strcmp(date_sort, "publishedAscending") == 0 || strcmp(date_sort, "publishedDescending") == 0))
    rc = dwn_status_fail(&st, 400, "RecordsQueryParseFilterPublishedSortInvalid",
                         "queries must not filter for `published:false` and sort by %s", date_sort);
  json_t *filters[VISIBLE_FILTERS_MAX] = {NULL};
  size_t n = 0;
  if (!rc) rc = dwn_msg_init(&m, message, false, &st);
  if (!rc) rc = visible_filters(d, tenant, &m, filter, date_sort, false, filters, &n, &st);
  json_t *found = NULL, *cursor = NULL;
  /* A non-owner whose filter leaves no branch (published:false with author
   * and recipient excluding them, no role): the reference store treats the
   * empty filter list as "everything" and returns every record message of the
   * tenant.  Deliberately not copied: nothing is visible to them. */
  if (!rc && n == 0 && !(found = json_array())) rc = -ENOMEM;
  if (!rc && n > 0) {
    dwn_sort_t sort = {"dateCreated", false};
    if (date_sort && strcmp(date_sort, "createdDescending") == 0) sort.descending = true;
    else if (date_sort && strcmp(date_sort, "publishedAscending") == 0) sort.property = "datePublished";
    else if (date_sort && strcmp(date_sort, "publishedDescending") == 0) sort.property = "datePublished", sort.descending = true;
    const json_t *pagination = json_object_get(m.descriptor, "pagination");
    if (strcmp(sort.property, "datePublished") == 0 && sorts_in_memory(filters, n, pagination)) {
      /* the reference store (LevelDB) answers [] when a match of an
       * in-memory sorted query lacks the sort property (dwn-reference §8.3) */
      dwn_sort_t by_created = {"dateCreated", false}; /* keeps matches that lack datePublished */
      rc = dwn_query(d, tenant, filters, n, &by_created, NULL, &found, NULL, &st);
      bool lacking = false;
      size_t k;
      json_t *e;
      json_array_foreach(found, k, e) lacking |= !json_object_get(json_object_get(e, "descriptor"), "datePublished");
      if (!rc && lacking) json_array_clear(found);
      else json_decref(found), found = NULL;
    }
    if (!rc && !found) rc = dwn_query(d, tenant, filters, n, &sort, pagination, &found, &cursor, &st);
  }
  size_t i;
  json_t *e;
  json_array_foreach(found, i, e) {
    if (rc) break;
    if (dwn_records_is_initial_write(e)) continue;
    json_t *initial = NULL;
    rc = initial_write_of(d, tenant, json_string_value(json_object_get(e, "recordId")), &initial, &st);
    if (!rc && initial) json_object_set_new(e, "initialWrite", initial);
  }
  if (!rc) {
    reply->body = json_pack("{s:{s:i,s:s},s:O}", "status", "code", 200, "detail", "OK", "entries", found);
    if (reply->body && cursor) json_object_set(reply->body, "cursor", cursor);
    reply->code = 200;
    if (!reply->body) rc = -ENOMEM;
  }
  for (size_t k = 0; k < n; k++) json_decref(filters[k]);
  json_decref(found);
  json_decref(cursor);
  dwn_msg_release(&m);
  return dwn_finish(reply, &st, rc);
}

/* ---- Records.Delete ------------------------------------------------------------ */

/* Records.canPerformDeleteAgainstRecord */
static bool can_delete(const json_t *del, const json_t *newest) {
  if (!newest) return false;
  if (strcmp(dstr(newest, "method"), "Delete") == 0) {
    if (!json_is_true(json_object_get(json_object_get(del, "descriptor"), "prune"))) return false;
    if (json_is_true(json_object_get(json_object_get(newest, "descriptor"), "prune"))) return false;
  }
  return true;
}

/* RecordsDeleteHandler.authorizeRecordsDelete (401); initial: the record's
 * initial write. */
static int delete_authorize(dwn_t *d, const char *tenant, const dwn_msg_t *m, const json_t *initial,
                            dwn_status_t *st) {
  dwn_grant_t g;
  int rc = carried_grant(m->json, "authorDelegatedGrant", &g, st);
  if (!rc && g.message) rc = dwn_grant_authorize_records_delete(d, tenant, m->json, initial, m->author, m->signer, &g, st);
  dwn_grant_release(&g);
  if (rc) return rc;
  if (strcmp(m->author, tenant) == 0) return 0;
  if (initial && dstr(initial, "protocol")) return dwn_protocol_authorize_delete(d, tenant, m, initial, st);
  return dwn_status_fail(st, 401, "RecordsDeleteAuthorizationFailed", "RecordsDelete message failed authorization");
}

static const char *record_id_of(const json_t *message) {
  return is_write(message) ? json_string_value(json_object_get(message, "recordId")) : dstr(message, "recordId");
}

/* StorageController.purgeRecordDescendants inside txn: every record whose
 * parentId is record_id, depth first, loses its messages, its data reference
 * and its events. */
static int purge_descendants(dwn_t *d, msgstore_txn_t *txn, const char *tenant, const char *record_id, int depth,
                             dwn_status_t *st) {
  if (depth > DWN_PROTOCOL_CHAIN_MAX) return err_set(-ELOOP, "record descendants deeper than %d", DWN_PROTOCOL_CHAIN_MAX);
  json_t *f = json_pack("{s:s,s:s}", "interface", "Records", "parentId", record_id);
  json_t *children = NULL;
  int rc = f ? dwn_query(d, tenant, &f, 1, NULL, NULL, &children, NULL, st) : -ENOMEM;
  json_decref(f);
  /* the child records: recordId -> their messages */
  json_t *by_record = rc ? NULL : json_object();
  if (!rc && !by_record) rc = -ENOMEM;
  size_t i;
  json_t *e;
  json_array_foreach(children, i, e) {
    if (rc) break;
    const char *child = record_id_of(e);
    if (!child) continue;
    json_t *list = json_object_get(by_record, child);
    if (!list && (!(list = json_array()) || json_object_set_new(by_record, child, list))) rc = -ENOMEM;
    else if (json_array_append(list, e)) rc = -ENOMEM;
  }
  const char *child;
  json_t *list;
  json_object_foreach(by_record, child, list) {
    if (rc) break;
    rc = purge_descendants(d, txn, tenant, child, depth + 1, st);
  }
  json_object_foreach(by_record, child, list) {
    if (rc) break;
    /* purgeRecordMessages: the newest write's data, then every message and its event */
    const json_t *newest_write = NULL;
    json_array_foreach(list, i, e) if (is_write(e) && (!newest_write || dwn_is_newer(e, newest_write))) newest_write = e;
    if (newest_write && dnum(newest_write, "dataSize") > DWN_INLINE_DATA_BYTES_MAX) {
      rc = msgstore_txn_data_ref_delete(txn, tenant, child, dstr(newest_write, "dataCid"));
      if (rc == -ENOENT) rc = 0;
    }
    json_array_foreach(list, i, e) {
      if (rc) break;
      rc = dwn_delete(d, txn, tenant, e, true);
    }
  }
  json_decref(by_record);
  json_decref(children);
  return rc;
}

int dwn_records_delete(dwn_t *d, const char *tenant, const json_t *message, dwn_reply_t *reply) {
  dwn_status_t st = {0};
  dwn_msg_t m;
  int rc = dwn_msg_init(&m, message, false, &st);
  if (!rc) rc = generic_parse(&m, &st);
  if (!rc) rc = dwn_authenticate(d, &m, &st);
  if (rc) {
    dwn_msg_release(&m);
    return dwn_finish(reply, &st, rc);
  }
  const char *record_id = dstr(message, "recordId");
  pthread_mutex_t *lock = dwn_write_lock(d, tenant, record_id);
  pthread_mutex_lock(lock);
  json_t *filter = record_filter(record_id, NULL);
  json_t *existing = NULL;
  rc = filter ? dwn_query(d, tenant, &filter, 1, NULL, NULL, &existing, NULL, &st) : -ENOMEM;
  json_decref(filter);
  const json_t *newest = rc ? NULL : dwn_newest(existing);
  bool done = false;
  if (!rc && !can_delete(message, newest)) rc = dwn_reply_code(reply, 404, "Not Found"), done = true;
  else if (!rc && !dwn_is_newer(message, newest)) rc = dwn_reply_code(reply, 409, "Conflict"), done = true;
  const json_t *initial = NULL;
  if (!rc && !done) {
    size_t i;
    const json_t *e;
    json_array_foreach(existing, i, e) if (!initial && dwn_records_is_initial_write(e)) initial = e;
    rc = delete_authorize(d, tenant, &m, initial, &st);
  }
  if (!rc && !done && !initial)
    rc = dwn_status_fail(&st, 400, "RecordsWriteGetInitialWriteNotFound", "Initial write is not found.");
  if (!rc && !done) {
    /* RecordsDelete.constructIndexes: the initial write's immutable properties */
    json_t *ix = json_pack("{s:b}", "isLatestBaseState", 1);
    static const char *const carried[] = {"protocol", "protocolPath", "recipient", "schema", "parentId", "dateCreated"};
    for (size_t k = 0; ix && k < sizeof carried / sizeof carried[0]; k++) {
      const json_t *v = json_object_get(json_object_get(initial, "descriptor"), carried[k]);
      if (v) json_object_set(ix, carried[k], (json_t *)v);
    }
    const json_t *context = json_object_get(initial, "contextId");
    if (ix && context) json_object_set(ix, "contextId", (json_t *)context);
    if (ix) json_object_set_new(ix, "author", json_string(m.author));
    if (ix) json_object_update(ix, (json_t *)m.descriptor);
    msgstore_txn_t *txn = NULL;
    if (!ix) rc = -ENOMEM;
    if (!rc) rc = msgstore_txn_begin(d->store, &txn);
    if (!rc) rc = dwn_put(d, txn, tenant, message, ix, true);
    if (!rc && json_is_true(json_object_get(m.descriptor, "prune")))
      rc = purge_descendants(d, txn, tenant, record_id, 0, &st);
    /* older messages go, the initial write stays (without data); so does data
     * no write points at any more */
    if (!rc) rc = delete_older(d, txn, tenant, existing, message);
    if (!rc) rc = msgstore_txn_commit(txn);
    if (!rc) dwn_stream_emit(d, tenant, message, initial, ix);
    msgstore_txn_free(txn);
    json_decref(ix);
    if (!rc) rc = dwn_reply_code(reply, 202, "Accepted");
  }
  pthread_mutex_unlock(lock);
  json_decref(existing);
  dwn_msg_release(&m);
  return dwn_finish(reply, &st, rc);
}
