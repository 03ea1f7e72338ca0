/* dwn/grants: see grants.h. */
#include "dwn/grants.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dwn/jws.h"
#include "dwn/timestamp.h"
#include "dwn/url.h"
#include "dwn/validate.h"
#include "err.h"
#include "multibase.h"

#define GRANT_PATH "grant"
#define REQUEST_PATH "request"
#define REVOCATION_PATH "grant/revocation"

/* ---- small helpers ---------------------------------------------------------- */

static const char *dstr(const json_t *message, const char *key) {
  return json_string_value(json_object_get(json_object_get(message, "descriptor"), key));
}

/* JavaScript `a === b` on two optional strings (NULL = undefined). */
static bool str_eq(const char *a, const char *b) {
  if (!a || !b) return a == b;
  return strcmp(a, b) == 0;
}

static const char *or_undefined(const char *s) { return s ? s : "undefined"; }

/* An exception the reference does not map (dwn-server answers 500). */
static int unhandled(dwn_status_t *st, const char *what) {
  return dwn_status_fail(st, 500, NULL, "unhandled: %s", what);
}


/* Encoder.base64UrlToObject of a message's encodedData: a new JSON value, or
 * NULL (st: 500) when absent or not JSON. */
static int decode_encoded_data(const json_t *message, json_t **out, dwn_status_t *st) {
  *out = NULL;
  const json_t *encoded = json_object_get(message, "encodedData");
  if (!json_is_string(encoded)) return unhandled(st, "permission record without encodedData");
  buf_t bytes = {0};
  int rc = mbase_decode(MBASE_BASE64URL, json_string_value(encoded), json_string_length(encoded), &bytes);
  if (rc == -ENOMEM) return rc;
  if (rc) {
    buf_free(&bytes);
    return unhandled(st, "permission record data is not base64url");
  }
  json_error_t error;
  *out = json_loadb((const char *)bytes.data, bytes.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
  buf_free(&bytes);
  return *out ? 0 : unhandled(st, "permission record data is not JSON");
}

static const json_t *scope_of(const dwn_grant_t *g) { return json_object_get(g->data, "scope"); }
static const char *scope_str(const dwn_grant_t *g, const char *key) {
  return json_string_value(json_object_get(scope_of(g), key));
}

/* PermissionsProtocol.hasProtocolScope: 'protocol' in scope && defined. */
static bool has_protocol_scope(const json_t *scope) { return json_object_get(scope, "protocol") != NULL; }

/* ---- parse and fetch -------------------------------------------------------- */

void dwn_grant_release(dwn_grant_t *g) {
  json_decref(g->message);
  json_decref(g->data);
  memset(g, 0, sizeof *g);
}

int dwn_grant_parse(const json_t *grant_message, dwn_grant_t *out, dwn_status_t *st) {
  memset(out, 0, sizeof *out);
  json_t *data = NULL;
  int rc = decode_encoded_data(grant_message, &data, st);
  if (rc) return rc;
  out->message = json_deep_copy(grant_message);
  if (!out->message) {
    json_decref(data);
    return -ENOMEM;
  }
  out->data = data;
  out->id = json_string_value(json_object_get(out->message, "recordId"));
  dwn_signer_of(out->message, out->grantor);
  out->grantee = dstr(out->message, "recipient");
  out->date_granted = dstr(out->message, "dateCreated");
  return 0;
}

int dwn_grant_fetch(dwn_t *d, const char *tenant, const char *grant_id, dwn_grant_t *out, dwn_status_t *st) {
  memset(out, 0, sizeof *out);
  json_t *filter = json_pack("{s:s,s:b}", "recordId", grant_id ? grant_id : "", "isLatestBaseState", 1);
  json_t *found = NULL;
  int rc = filter ? dwn_query(d, tenant, &filter, 1, NULL, NULL, &found, NULL, st) : -ENOMEM;
  json_decref(filter);
  if (rc) return rc;
  const json_t *m = json_array_get(found, 0);
  if (!m || !str_eq(dstr(m, "interface"), "Records") || !str_eq(dstr(m, "method"), "Write") ||
      !str_eq(dstr(m, "protocolPath"), GRANT_PATH)) {
    json_decref(found);
    return dwn_status_fail(st, 401, "GrantAuthorizationGrantMissing", "Could not find permission grant with record ID %s.",
                           or_undefined(grant_id));
  }
  rc = dwn_grant_parse(m, out, st);
  json_decref(found);
  return rc;
}

/* ---- delegation integrity (parse phase) ------------------------------------- */

static int check_one_delegation(const json_t *grant, const char *signer, const json_t *payload, bool owner,
                                dwn_status_t *st) {
  const char *who = owner ? "Owner" : "Author";
  char code[96];
  bool id_defined = json_object_get(payload, "delegatedGrantId") != NULL;
  if (id_defined != (grant != NULL)) {
    snprintf(code, sizeof code, "Records%sDelegatedGrantAndIdExistenceMismatch", who);
    return dwn_status_fail(st, 400, code,
                           "delegatedGrantId in %s signature and %sDelegatedGrant must both exist or be undefined. "
                           "delegatedGrantId in %s signature defined: %s, %sDelegatedGrant defined: %s",
                           owner ? "owner" : "message (author)", owner ? "owner" : "author",
                           owner ? "owner" : "message (author)", id_defined ? "true" : "false",
                           owner ? "owner" : "author", grant ? "true" : "false");
  }
  if (!grant) return 0;
  json_t *data = NULL;
  int rc = decode_encoded_data(grant, &data, st);
  if (rc) return rc;
  bool delegated = json_is_true(json_object_get(data, "delegated"));
  json_decref(data);
  if (!delegated) {
    snprintf(code, sizeof code, "Records%sDelegatedGrantNotADelegatedGrant", who);
    return dwn_status_fail(st, 400, code, "The owner delegated grant given is not a delegated grant.");
  }
  const char *granted_to = dstr(grant, "recipient");
  if (!str_eq(granted_to, signer[0] ? signer : NULL)) {
    snprintf(code, sizeof code, "Records%sDelegatedGrantGrantedToAndOwnerSignatureMismatch", who);
    return dwn_status_fail(st, 400, code, "grantedTo %s in %s delegated grant must be the same as the signer %s of the %s.",
                           or_undefined(granted_to), owner ? "owner" : "author", signer[0] ? signer : "undefined",
                           owner ? "owner signature" : "message signature");
  }
  char cid[DWN_CID_TEXT_BYTES];
  rc = dwn_cid_of(grant, cid);
  if (rc) return rc;
  const json_t *id = json_object_get(payload, "delegatedGrantId");
  if (!json_is_string(id) || strcmp(json_string_value(id), cid) != 0) {
    snprintf(code, sizeof code, "Records%sDelegatedGrantCidMismatch", who);
    char idtext[128];
    return dwn_status_fail(st, 400, code,
                           "CID of the %s delegated grant %s must be the same as the delegatedGrantId %s in the %s.",
                           owner ? "owner" : "author", cid, dwn_validate_js_string(id, idtext, sizeof idtext),
                           owner ? "owner signature" : "message signature");
  }
  return 0;
}

int dwn_grant_check_delegation_integrity(const json_t *message, const json_t *payload, const json_t *owner_payload,
                                         dwn_status_t *st) {
  const json_t *a = json_object_get(message, "authorization");
  char signer[DWN_DID_BYTES_MAX];
  dwn_signer_of(message, signer);
  int rc = check_one_delegation(json_object_get(a, "authorDelegatedGrant"), signer, payload, false, st);
  if (rc) return rc;
  const json_t *owner_grant = json_object_get(a, "ownerDelegatedGrant");
  signer[0] = '\0';
  if (owner_grant) dwn_jws_signer(json_object_get(a, "ownerSignature"), signer);
  return check_one_delegation(owner_grant, signer, owner_payload, true, st);
}

/* ---- the built-in protocol -------------------------------------------------- */

json_t *dwn_grant_permissions_definition(void) {
  return json_pack(
      "{s:b,s:s,s:{s:{s:[s]},s:{s:[s]},s:{s:[s]}},s:{s:{s:{s:i},s:[{s:s,s:[s]}]},s:{s:{s:i},s:[{s:s,s:s,s:[s,s]}],s:{s:{s:i},s:[{s:s,s:[s]}]}}}}",
      "published", 1, "protocol", DWN_PERMISSIONS_PROTOCOL, "types", "request", "dataFormats", "application/json",
      "grant", "dataFormats", "application/json", "revocation", "dataFormats", "application/json", "structure",
      "request", "$size", "max", 10000, "$actions", "who", "anyone", "can", "create", "grant", "$size", "max", 10000,
      "$actions", "who", "recipient", "of", "grant", "can", "read", "query", "revocation", "$size", "max", 10000,
      "$actions", "who", "anyone", "can", "read");
}

/* PermissionsProtocol.validateTags + validateScopeAndTags. */
static int check_scope_and_tags(const json_t *scope, const json_t *message, dwn_status_t *st) {
  if (has_protocol_scope(scope)) {
    const json_t *protocol = json_object_get(scope, "protocol");
    const char *p = json_string_value(protocol);
    if (!p || !dwn_url_is_normalized(p, strlen(p))) return unhandled(st, "UrlProtocolNotNormalized in a permission scope");
    const json_t *tags = json_object_get(json_object_get(message, "descriptor"), "tags");
    const json_t *tag = json_object_get(tags, "protocol");
    if (!tag)
      return dwn_status_fail(st, 400, "PermissionsProtocolValidateScopeMissingProtocolTag",
                             "Permission grants must have a `tags` property that contains a protocol tag");
    if (!json_equal(tag, protocol) || !json_is_string(tag)) {
      char text[DWN_DETAIL_BYTES_MAX / 2];
      return dwn_status_fail(st, 400, "PermissionsProtocolValidateScopeProtocolMismatch",
                             "Permission grants must have a scope with a protocol that matches the tagged protocol: %s",
                             dwn_validate_js_string(tag, text, sizeof text));
    }
  }
  if (!str_eq(json_string_value(json_object_get(scope, "interface")), "Records")) return 0;
  if (json_object_get(scope, "contextId") && json_object_get(scope, "protocolPath"))
    return dwn_status_fail(st, 400, "PermissionsProtocolValidateScopeContextIdProhibitedProperties",
                           "Permission grants cannot have both `contextId` and `protocolPath` present");
  return 0;
}

/* PermissionsProtocol.validateSchema. */
static int check_core_data(const json_t *message, const uint8_t *data, size_t len, dwn_status_t *st) {
  json_error_t error;
  json_t *obj = json_loadb((const char *)data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
  if (!obj) return unhandled(st, "permission record data is not JSON");
  const char *path = dstr(message, "protocolPath");
  int rc;
  if (str_eq(path, REQUEST_PATH)) {
    rc = dwn_validate_permission_request_data(obj, st);
    if (!rc) rc = check_scope_and_tags(json_object_get(obj, "scope"), message, st);
  } else if (str_eq(path, GRANT_PATH)) {
    rc = dwn_validate_permission_grant_data(obj, st);
    if (!rc) rc = check_scope_and_tags(json_object_get(obj, "scope"), message, st);
    const char *expires = json_string_value(json_object_get(obj, "dateExpires"));
    if (!rc && (!expires || dwn_time_parse(expires, strlen(expires), NULL) != 0))
      rc = unhandled(st, "TimestampInvalid dateExpires");
  } else if (str_eq(path, REVOCATION_PATH)) {
    rc = dwn_validate_permission_revocation_data(obj, st);
  } else {
    rc = dwn_status_fail(st, 400, "PermissionsProtocolValidateSchemaUnexpectedRecord", "Unexpected permission record: %s",
                         or_undefined(path));
  }
  json_decref(obj);
  return rc;
}

int dwn_grant_check_core_write(dwn_t *d, const char *tenant, const json_t *message, const uint8_t *data, size_t len,
                               dwn_status_t *st) {
  if (!str_eq(dstr(message, "protocol"), DWN_PERMISSIONS_PROTOCOL)) return 0;
  if (str_eq(dstr(message, "protocolPath"), REVOCATION_PATH)) {
    /* preProcessingForCoreRecordsWrite: the revocation's tag against its grant */
    dwn_grant_t g;
    int rc = dwn_grant_fetch(d, tenant, dstr(message, "parentId"), &g, st);
    if (rc == -EACCES) return unhandled(st, "revoked grant not found");
    if (rc) return rc;
    const json_t *tag = json_object_get(json_object_get(json_object_get(message, "descriptor"), "tags"), "protocol");
    const json_t *protocol = json_object_get(scope_of(&g), "protocol");
    if (!(tag == NULL && protocol == NULL) && !(tag && protocol && json_equal(tag, protocol))) {
      char a[DWN_DETAIL_BYTES_MAX / 3], b[DWN_DETAIL_BYTES_MAX / 3];
      rc = dwn_status_fail(st, 400, "PermissionsProtocolValidateRevocationProtocolTagMismatch",
                           "Revocation protocol %s does not match grant protocol %s",
                           tag ? dwn_validate_js_string(tag, a, sizeof a) : "undefined",
                           protocol ? dwn_validate_js_string(protocol, b, sizeof b) : "undefined");
    }
    dwn_grant_release(&g);
    if (rc) return rc;
  }
  return data ? check_core_data(message, data, len, st) : 0;
}

/* ---- GrantAuthorization.performBaseValidation ------------------------------- */

int dwn_grant_base_validation(dwn_t *d, const json_t *message, const char *grantor, const char *grantee,
                              const dwn_grant_t *g, dwn_status_t *st) {
  if (!str_eq(grantee, g->grantee))
    return dwn_status_fail(st, 401, "GrantAuthorizationNotGrantedToAuthor",
                           "Permission grant is granted to %s, but need to be granted to %s", or_undefined(g->grantee),
                           or_undefined(grantee));
  if (!str_eq(grantor, g->grantor[0] ? g->grantor : NULL))
    return dwn_status_fail(st, 401, "GrantAuthorizationNotGrantedForTenant",
                           "Permission grant is granted by %s, but need to be granted by %s",
                           g->grantor[0] ? g->grantor : "undefined", or_undefined(grantor));
  const char *ts = dstr(message, "messageTimestamp");
  if (!ts) ts = "";
  if (g->date_granted && strcmp(ts, g->date_granted) < 0)
    return dwn_status_fail(st, 401, "GrantAuthorizationGrantNotYetActive",
                           "The message has a timestamp before the associated permission grant becomes active");
  const char *expires = json_string_value(json_object_get(g->data, "dateExpires"));
  if (expires && strcmp(ts, expires) >= 0)
    return dwn_status_fail(st, 401, "GrantAuthorizationGrantExpired",
                           "The message has timestamp after the expiry of the associated permission grant");
  json_t *filter = json_pack("{s:s,s:s,s:b}", "parentId", g->id ? g->id : "", "protocolPath", REVOCATION_PATH,
                             "isLatestBaseState", 1);
  json_t *revokes = NULL;
  int rc = filter ? dwn_query(d, grantor, &filter, 1, NULL, NULL, &revokes, NULL, st) : -ENOMEM;
  json_decref(filter);
  if (rc) return rc;
  const char *oldest = NULL;
  size_t i;
  const json_t *r;
  json_array_foreach(revokes, i, r) {
    const char *t = dstr(r, "messageTimestamp");
    if (t && (!oldest || strcmp(t, oldest) < 0)) oldest = t;
  }
  bool revoked = oldest && strcmp(oldest, ts) <= 0;
  json_decref(revokes);
  if (revoked)
    return dwn_status_fail(st, 401, "GrantAuthorizationGrantRevoked", "Permission grant with CID %s has been revoked",
                           or_undefined(g->id));
  if (!str_eq(dstr(message, "interface"), scope_str(g, "interface")))
    return dwn_status_fail(st, 401, "GrantAuthorizationInterfaceMismatch",
                           "DWN Interface of incoming message is outside the scope of permission grant with ID %s",
                           or_undefined(g->id));
  if (!str_eq(dstr(message, "method"), scope_str(g, "method")))
    return dwn_status_fail(st, 401, "GrantAuthorizationMethodMismatch",
                           "DWN Method of incoming message is outside the scope of permission grant with ID %s",
                           or_undefined(g->id));
  return 0;
}

/* ---- Records ---------------------------------------------------------------- */

/* RecordsGrantAuthorization.verifyScope of a RecordsWrite. */
int dwn_grant_records_scope(const json_t *record, const dwn_grant_t *g, dwn_status_t *st) {
  if (!str_eq(scope_str(g, "protocol"), dstr(record, "protocol")))
    return dwn_status_fail(st, 401, "RecordsGrantAuthorizationScopeProtocolMismatch",
                           "Grant scope specifies different protocol than what appears in the record");
  const char *context = scope_str(g, "contextId");
  if (context) {
    const char *rc = json_string_value(json_object_get(record, "contextId"));
    if (!rc || strncmp(rc, context, strlen(context)) != 0)
      return dwn_status_fail(st, 401, "RecordsGrantAuthorizationScopeContextIdMismatch",
                             "Grant scope specifies different contextId than what appears in the record");
  }
  const char *path = scope_str(g, "protocolPath");
  if (path && !str_eq(path, dstr(record, "protocolPath")))
    return dwn_status_fail(st, 401, "RecordsGrantAuthorizationScopeProtocolPathMismatch",
                           "Grant scope specifies different protocolPath than what appears in the record");
  return 0;
}

/* RecordsGrantAuthorization.verifyConditions. */
int dwn_grant_records_conditions(const json_t *write, const dwn_grant_t *g, dwn_status_t *st) {
  const char *publication = json_string_value(json_object_get(json_object_get(g->data, "conditions"), "publication"));
  bool published = json_is_true(json_object_get(json_object_get(write, "descriptor"), "published"));
  if (str_eq(publication, "Required") && !published)
    return dwn_status_fail(st, 401, "RecordsGrantAuthorizationConditionPublicationRequired",
                           "Permission grant requires message to be published");
  if (str_eq(publication, "Prohibited") && published)
    return dwn_status_fail(st, 401, "RecordsGrantAuthorizationConditionPublicationProhibited",
                           "Permission grant prohibits message from being published");
  return 0;
}

int dwn_grant_authorize_records_write(dwn_t *d, const char *tenant, const json_t *message, const char *grantor,
                                      const char *grantee, const dwn_grant_t *g, dwn_status_t *st) {
  int rc = dwn_grant_base_validation(d, message, grantor, grantee, g, st);
  if (!rc) rc = dwn_grant_records_scope(message, g, st);
  if (!rc) rc = dwn_grant_records_conditions(message, g, st);
  return rc;
}

int dwn_grant_authorize_records_read(dwn_t *d, const char *tenant, const json_t *message, const json_t *record,
                                     const char *grantor, const char *grantee, const dwn_grant_t *g, dwn_status_t *st) {
  int rc = dwn_grant_base_validation(d, message, grantor, grantee, g, st);
  if (!rc) rc = dwn_grant_records_scope(record, g, st);
  return rc;
}

int dwn_grant_authorize_records_query(dwn_t *d, const char *tenant, const json_t *message, const char *grantor,
                                      const char *grantee, const dwn_grant_t *g, dwn_status_t *st) {
  int rc = dwn_grant_base_validation(d, message, grantor, grantee, g, st);
  if (rc) return rc;
  const char *in_grant = scope_str(g, "protocol");
  const char *in_message = json_string_value(json_object_get(json_object_get(json_object_get(message, "descriptor"), "filter"), "protocol"));
  if (in_grant && !str_eq(in_grant, in_message))
    return dwn_status_fail(st, 401, "RecordsGrantAuthorizationQueryOrSubscribeProtocolScopeMismatch",
                           "Grant protocol scope %s does not match protocol in message %s", in_grant,
                           or_undefined(in_message));
  return 0;
}

int dwn_grant_authorize_records_delete(dwn_t *d, const char *tenant, const json_t *message, const json_t *record,
                                       const char *grantor, const char *grantee, const dwn_grant_t *g,
                                       dwn_status_t *st) {
  int rc = dwn_grant_base_validation(d, message, grantor, grantee, g, st);
  if (rc) return rc;
  const char *in_grant = scope_str(g, "protocol");
  const char *in_record = dstr(record, "protocol");
  if (in_grant && !str_eq(in_grant, in_record))
    return dwn_status_fail(st, 401, "RecordsGrantAuthorizationDeleteProtocolScopeMismatch",
                           "Grant protocol scope %s does not match protocol in record to delete %s", in_grant,
                           or_undefined(in_record));
  return 0;
}

/* ---- Protocols -------------------------------------------------------------- */

int dwn_grant_authorize_protocols_configure(dwn_t *d, const char *tenant, const json_t *message, const char *grantor,
                                            const char *grantee, const dwn_grant_t *g, dwn_status_t *st) {
  int rc = dwn_grant_base_validation(d, message, grantor, grantee, g, st);
  if (rc) return rc;
  const char *in_grant = scope_str(g, "protocol");
  if (!json_object_get(scope_of(g), "protocol")) return 0;
  const char *configured = json_string_value(
      json_object_get(json_object_get(json_object_get(message, "descriptor"), "definition"), "protocol"));
  if (!str_eq(in_grant, configured))
    return dwn_status_fail(st, 401, "ProtocolsGrantAuthorizationScopeProtocolMismatch",
                           "Grant scope specifies different protocol than what appears in the configure message.");
  return 0;
}

int dwn_grant_authorize_protocols_query(dwn_t *d, const char *tenant, const json_t *message, const char *grantor,
                                        const char *grantee, const dwn_grant_t *g, dwn_status_t *st) {
  int rc = dwn_grant_base_validation(d, message, grantor, grantee, g, st);
  if (rc) return rc;
  if (!json_object_get(scope_of(g), "protocol")) return 0;
  const char *in_grant = scope_str(g, "protocol");
  const char *in_message = json_string_value(json_object_get(json_object_get(json_object_get(message, "descriptor"), "filter"), "protocol"));
  if (!str_eq(in_grant, in_message))
    return dwn_status_fail(st, 401, "ProtocolsGrantAuthorizationQueryProtocolScopeMismatch",
                           "Grant protocol scope %s does not match protocol in message %s", or_undefined(in_grant),
                           or_undefined(in_message));
  return 0;
}

/* ---- Messages --------------------------------------------------------------- */

/* PermissionsProtocol.getScopeFromPermissionRecord: *scope_out a new reference. */
static int permission_record_scope(dwn_t *d, const char *tenant, const json_t *record, json_t **scope_out,
                                   dwn_status_t *st) {
  *scope_out = NULL;
  if (str_eq(dstr(record, "protocolPath"), REVOCATION_PATH)) {
    dwn_grant_t g;
    int rc = dwn_grant_fetch(d, tenant, dstr(record, "parentId"), &g, st);
    if (rc) return rc;
    *scope_out = json_incref(json_object_get(g.data, "scope"));
    dwn_grant_release(&g);
    return 0;
  }
  json_t *data = NULL;
  int rc = decode_encoded_data(record, &data, st);
  if (rc) return rc;
  *scope_out = json_incref(json_object_get(data, "scope"));
  json_decref(data);
  return 0;
}

static int scope_failed(dwn_status_t *st) {
  return dwn_status_fail(st, 401, "MessagesReadVerifyScopeFailed", "record message failed scope authorization");
}

int dwn_grant_authorize_messages_read(dwn_t *d, const char *tenant, const json_t *message, const json_t *read,
                                      const char *grantor, const char *grantee, const dwn_grant_t *g,
                                      dwn_status_t *st) {
  int rc = dwn_grant_base_validation(d, message, grantor, grantee, g, st);
  if (rc) return rc;
  if (!json_object_get(scope_of(g), "protocol")) return 0;
  const char *scoped = scope_str(g, "protocol");
  const char *iface = dstr(read, "interface");
  if (str_eq(iface, "Records")) {
    json_t *newest_holder = NULL;
    const json_t *write = read;
    if (!str_eq(dstr(read, "method"), "Write")) {
      json_t *filter = json_pack("{s:s,s:s,s:s}", "interface", "Records", "method", "Write", "recordId",
                                 or_undefined(dstr(read, "recordId")));
      rc = filter ? dwn_query(d, grantor, &filter, 1, NULL, NULL, &newest_holder, NULL, st) : -ENOMEM;
      json_decref(filter);
      if (rc) return rc;
      write = dwn_newest(newest_holder);
      if (!write) {
        json_decref(newest_holder);
        return unhandled(st, "RecordsWriteGetNewestWriteRecordNotFound");
      }
    }
    const char *protocol = dstr(write, "protocol");
    if (str_eq(protocol, scoped)) rc = 0;
    else if (str_eq(protocol, DWN_PERMISSIONS_PROTOCOL)) {
      json_t *scope = NULL;
      rc = permission_record_scope(d, grantor, write, &scope, st);
      if (!rc && !(has_protocol_scope(scope) && json_equal(json_object_get(scope, "protocol"),
                                                            json_object_get(scope_of(g), "protocol"))))
        rc = scope_failed(st);
      json_decref(scope);
    } else
      rc = scope_failed(st);
    json_decref(newest_holder);
    return rc;
  }
  if (str_eq(iface, "Protocols")) {
    const char *configured = json_string_value(
        json_object_get(json_object_get(json_object_get(read, "descriptor"), "definition"), "protocol"));
    if (str_eq(configured, scoped)) return 0;
  }
  return scope_failed(st);
}

int dwn_grant_authorize_messages_query(dwn_t *d, const char *tenant, const json_t *message, const char *grantor,
                                       const char *grantee, const dwn_grant_t *g, dwn_status_t *st) {
  int rc = dwn_grant_base_validation(d, message, grantor, grantee, g, st);
  if (rc) return rc;
  const json_t *scoped = json_object_get(scope_of(g), "protocol");
  if (!scoped) return 0;
  const json_t *filters = json_object_get(json_object_get(message, "descriptor"), "filters");
  size_t i;
  const json_t *f;
  json_array_foreach(filters, i, f) {
    const json_t *p = json_object_get(f, "protocol");
    if (!p || !json_equal(p, scoped)) {
      char a[DWN_DETAIL_BYTES_MAX / 3], b[DWN_DETAIL_BYTES_MAX / 3];
      return dwn_status_fail(st, 401, "EventsGrantAuthorizationMismatchedProtocol",
                             "The protocol %s does not match the scoped protocol %s",
                             p ? dwn_validate_js_string(p, a, sizeof a) : "undefined",
                             dwn_validate_js_string(scoped, b, sizeof b));
    }
  }
  return 0;
}
