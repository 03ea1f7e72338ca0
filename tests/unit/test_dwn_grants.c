/*
 * dwn/grants: the rules of permission grants the differential corpus reaches
 * only partly: grantee / grantor, the active window at its exact edges,
 * revocation at and after its timestamp, interface / method, Records scope
 * (protocol, contextId prefix, protocolPath), publication conditions,
 * query / delete / configure / Protocols.Query protocol scopes, Messages
 * scopes (every filter must name the protocol; an empty list passes), the
 * Messages.Read rule for permission records, the core-write checks of
 * permission records (protocol tag, contextId + protocolPath, revocation tag
 * against its grant), the delegated-grant integrity checks, and
 * ProtocolsConfigure's meta-schema check of $tags schemas (ajv's messages).  Grants are
 * stored directly in a fresh engine's message store; signatures are never
 * verified by these functions, so the JWS carry only a kid.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "buf.h"
#include "dwn/grants.h"
#include "dwn/handlers.h"
#include "multibase.h"

#include "testdir.h"

#define ALICE "did:key:alice"
#define BOB "did:key:bob"
#define CAROL "did:key:carol"
#define PROTO "http://social.example/p"
#define PERM DWN_PERMISSIONS_PROTOCOL
#define T(n) "2024-01-01T00:00:" #n ".000000Z"

typedef struct fixture {
  char dir[512];
  dwn_t *d;
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  if (!f || testdir_make(f->dir, sizeof f->dir - 16, "anya-grants")) return -1;
  char path[600];
  snprintf(path, sizeof path, "%s/dwn", f->dir);
  dwn_options_t opts = {.dir = path};
  if (dwn_open(&opts, &f->d)) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  dwn_close(f->d);
  testdir_remove(f->dir);
  free(f);
  return 0;
}

static char *b64u(const char *text) {
  buf_t b = {0};
  assert_int_equal(mbase_encode(MBASE_BASE64URL, (const uint8_t *)text, strlen(text), &b), 0);
  return buf_cstr(&b);
}

/* JSON with ' for " */
static json_t *J(const char *text) {
  char *copy = strdup(text);
  assert_non_null(copy);
  for (char *p = copy; *p; p++)
    if (*p == '\'') *p = '"';
  json_error_t error;
  json_t *v = json_loads(copy, JSON_DECODE_ANY, &error);
  if (!v) fail_msg("bad test JSON: %s: %s", error.text, copy);
  free(copy);
  return v;
}

/* An authorization.signature whose kid names signer. */
static json_t *signature_by(const char *signer) {
  char header[256];
  snprintf(header, sizeof header, "{\"kid\":\"%s#k\",\"alg\":\"EdDSA\"}", signer);
  char *p = b64u(header), *payload = b64u("{}");
  json_t *jws = json_pack("{s:s,s:[{s:s,s:s}]}", "payload", payload, "signatures", "protected", p, "signature", "c2ln");
  free(p);
  free(payload);
  return jws;
}

/* A permission record (RecordsWrite of the permissions protocol) by signer. */
static json_t *perm_record(const char *signer, const char *record_id, const char *path, const char *recipient,
                           const char *date, const char *data_json, const char *tag_protocol, const char *parent) {
  json_t *descriptor = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s}", "interface", "Records", "method", "Write",
                                 "protocol", PERM, "protocolPath", path, "dateCreated", date, "messageTimestamp", date,
                                 "dataCid", "bafkreix", "dataSize", 10, "dataFormat", "application/json");
  if (recipient) json_object_set_new(descriptor, "recipient", json_string(recipient));
  if (tag_protocol) json_object_set_new(descriptor, "tags", json_pack("{s:s}", "protocol", tag_protocol));
  if (parent) json_object_set_new(descriptor, "parentId", json_string(parent));
  json_t *m = json_pack("{s:s,s:s,s:o,s:{s:o}}", "recordId", record_id, "contextId", record_id, "descriptor", descriptor,
                        "authorization", "signature", signature_by(signer));
  if (data_json) {
    json_t *data = J(data_json);
    char *text = json_dumps(data, JSON_COMPACT);
    char *enc = b64u(text);
    json_object_set_new(m, "encodedData", json_string(enc));
    free(text);
    free(enc);
    json_decref(data);
  }
  return m;
}

static void store(fixture_t *f, const char *tenant, const json_t *m) {
  char author[DWN_DID_BYTES_MAX];
  dwn_author_of(m, author);
  json_t *ix = dwn_records_write_indexes(m, author, true);
  assert_non_null(ix);
  msgstore_txn_t *txn = NULL;
  assert_int_equal(msgstore_txn_begin(f->d->store, &txn), 0);
  assert_int_equal(dwn_put(f->d, txn, tenant, m, ix, true), 0);
  assert_int_equal(msgstore_txn_commit(txn), 0);
  msgstore_txn_free(txn);
  json_decref(ix);
}

/* Stores a grant alice -> bob, dated T(10), expiring T(50), with scope. */
static void grant(fixture_t *f, const char *id, const char *scope_json, const char *conditions) {
  char data[1024];
  snprintf(data, sizeof data, "{'dateExpires':'%s','scope':%s%s%s}", T(50), scope_json, conditions ? ",'conditions':" : "",
           conditions ? conditions : "");
  json_t *s = J(scope_json);
  const char *p = json_string_value(json_object_get(s, "protocol"));
  json_t *m = perm_record(ALICE, id, "grant", BOB, T(10), data, p, NULL);
  store(f, ALICE, m);
  json_decref(m);
  json_decref(s);
}

static void fetch(fixture_t *f, const char *id, dwn_grant_t *g) {
  dwn_status_t st = {0};
  assert_int_equal(dwn_grant_fetch(f->d, ALICE, id, g, &st), 0);
}

/* A message of iface/method at timestamp ts (descriptor extras merged in). */
static json_t *msg(const char *iface, const char *method, const char *ts, const char *extra) {
  json_t *m = json_pack("{s:{s:s,s:s,s:s}}", "descriptor", "interface", iface, "method", method, "messageTimestamp", ts);
  if (extra) {
    json_t *e = J(extra);
    json_object_update(json_object_get(m, "descriptor"), e);
    json_decref(e);
  }
  return m;
}

static void expect(int rc, const dwn_status_t *st, int code, const char *error_code) {
  if (code == 0) {
    if (rc) fail_msg("expected success, got %d %s", st->code, st->detail);
    return;
  }
  if (st->code != code || strncmp(st->detail, error_code, strlen(error_code)) != 0 ||
      st->detail[strlen(error_code)] != ':')
    fail_msg("expected %d %s, got rc %d, %d %s", code, error_code, rc, st->code, st->detail);
  assert_int_equal(rc, dwn_status_errno(code));
}

static void test_fetch_and_parse(void **state) {
  fixture_t *f = *state;
  grant(f, "g1", "{'interface':'Records','method':'Write','protocol':'" PROTO "'}", NULL);
  dwn_grant_t g;
  fetch(f, "g1", &g);
  assert_string_equal(g.id, "g1");
  assert_string_equal(g.grantor, ALICE);
  assert_string_equal(g.grantee, BOB);
  assert_string_equal(g.date_granted, T(10));
  assert_string_equal(json_string_value(json_object_get(g.data, "dateExpires")), T(50));
  dwn_grant_release(&g);
  dwn_status_t st = {0};
  expect(dwn_grant_fetch(f->d, ALICE, "nope", &g, &st), &st, 401, "GrantAuthorizationGrantMissing");
  /* another tenant's store does not hold it */
  expect(dwn_grant_fetch(f->d, BOB, "g1", &g, &st), &st, 401, "GrantAuthorizationGrantMissing");
  /* a request is not a grant */
  json_t *req = perm_record(BOB, "r1", "request", NULL, T(5), "{'delegated':false,'scope':{'interface':'Messages','method':'Query'}}", NULL, NULL);
  store(f, ALICE, req);
  json_decref(req);
  expect(dwn_grant_fetch(f->d, ALICE, "r1", &g, &st), &st, 401, "GrantAuthorizationGrantMissing");
  /* a carried grant without encodedData is the reference's unhandled exception */
  json_t *bare = perm_record(ALICE, "g2", "grant", BOB, T(1), NULL, NULL, NULL);
  expect(dwn_grant_parse(bare, &g, &st), &st, 500, "unhandled");
  json_decref(bare);
}

static void test_base_validation(void **state) {
  fixture_t *f = *state;
  grant(f, "g1", "{'interface':'Messages','method':'Query'}", NULL);
  dwn_grant_t g;
  fetch(f, "g1", &g);
  dwn_status_t st = {0};
  json_t *m = msg("Messages", "Query", T(10), "{'filters':[]}");
  expect(dwn_grant_base_validation(f->d, m, ALICE, BOB, &g, &st), &st, 0, NULL); /* active from dateGranted */
  expect(dwn_grant_base_validation(f->d, m, ALICE, CAROL, &g, &st), &st, 401, "GrantAuthorizationNotGrantedToAuthor");
  expect(dwn_grant_base_validation(f->d, m, CAROL, BOB, &g, &st), &st, 401, "GrantAuthorizationNotGrantedForTenant");
  json_decref(m);
  m = msg("Messages", "Query", "2024-01-01T00:00:09.999999Z", NULL);
  expect(dwn_grant_base_validation(f->d, m, ALICE, BOB, &g, &st), &st, 401, "GrantAuthorizationGrantNotYetActive");
  json_decref(m);
  m = msg("Messages", "Query", "2024-01-01T00:00:49.999999Z", NULL);
  expect(dwn_grant_base_validation(f->d, m, ALICE, BOB, &g, &st), &st, 0, NULL);
  json_decref(m);
  m = msg("Messages", "Query", T(50), NULL); /* dateExpires is exclusive */
  expect(dwn_grant_base_validation(f->d, m, ALICE, BOB, &g, &st), &st, 401, "GrantAuthorizationGrantExpired");
  json_decref(m);
  m = msg("Records", "Query", T(20), NULL);
  expect(dwn_grant_base_validation(f->d, m, ALICE, BOB, &g, &st), &st, 401, "GrantAuthorizationInterfaceMismatch");
  json_decref(m);
  m = msg("Messages", "Read", T(20), NULL);
  expect(dwn_grant_base_validation(f->d, m, ALICE, BOB, &g, &st), &st, 401, "GrantAuthorizationMethodMismatch");
  json_decref(m);
  /* revoked at T(30): messages before stay authorised, at and after are refused */
  json_t *rev = perm_record(ALICE, "rv1", "grant/revocation", NULL, T(30), "{}", NULL, "g1");
  store(f, ALICE, rev);
  json_decref(rev);
  m = msg("Messages", "Query", "2024-01-01T00:00:29.999999Z", NULL);
  expect(dwn_grant_base_validation(f->d, m, ALICE, BOB, &g, &st), &st, 0, NULL);
  json_decref(m);
  m = msg("Messages", "Query", T(30), NULL);
  expect(dwn_grant_base_validation(f->d, m, ALICE, BOB, &g, &st), &st, 401, "GrantAuthorizationGrantRevoked");
  json_decref(m);
  /* the oldest of several revocations counts */
  rev = perm_record(ALICE, "rv2", "grant/revocation", NULL, T(25), "{}", NULL, "g1");
  store(f, ALICE, rev);
  json_decref(rev);
  m = msg("Messages", "Query", T(26), NULL);
  expect(dwn_grant_base_validation(f->d, m, ALICE, BOB, &g, &st), &st, 401, "GrantAuthorizationGrantRevoked");
  json_decref(m);
  dwn_grant_release(&g);
}

static void test_records_scope(void **state) {
  fixture_t *f = *state;
  grant(f, "gw", "{'interface':'Records','method':'Write','protocol':'" PROTO "','contextId':'ctx1'}",
        "{'publication':'Required'}");
  grant(f, "gp", "{'interface':'Records','method':'Write','protocol':'" PROTO "','protocolPath':'post'}",
        "{'publication':'Prohibited'}");
  dwn_grant_t gw, gp;
  fetch(f, "gw", &gw);
  fetch(f, "gp", &gp);
  dwn_status_t st = {0};
  json_t *w = msg("Records", "Write", T(20), "{'protocol':'" PROTO "','protocolPath':'post','published':true}");
  json_object_set_new(w, "contextId", json_string("ctx1/abc"));
  expect(dwn_grant_authorize_records_write(f->d, ALICE, w, ALICE, BOB, &gw, &st), &st, 0, NULL);
  expect(dwn_grant_authorize_records_write(f->d, ALICE, w, ALICE, BOB, &gp, &st), &st, 401,
         "RecordsGrantAuthorizationConditionPublicationProhibited");
  json_object_set_new(json_object_get(w, "descriptor"), "published", json_false());
  expect(dwn_grant_authorize_records_write(f->d, ALICE, w, ALICE, BOB, &gw, &st), &st, 401,
         "RecordsGrantAuthorizationConditionPublicationRequired");
  expect(dwn_grant_authorize_records_write(f->d, ALICE, w, ALICE, BOB, &gp, &st), &st, 0, NULL);
  json_object_set_new(w, "contextId", json_string("ctx2"));
  expect(dwn_grant_authorize_records_write(f->d, ALICE, w, ALICE, BOB, &gw, &st), &st, 401,
         "RecordsGrantAuthorizationScopeContextIdMismatch");
  json_object_del(w, "contextId");
  expect(dwn_grant_authorize_records_write(f->d, ALICE, w, ALICE, BOB, &gw, &st), &st, 401,
         "RecordsGrantAuthorizationScopeContextIdMismatch");
  json_object_set_new(json_object_get(w, "descriptor"), "protocolPath", json_string("post/comment"));
  expect(dwn_grant_authorize_records_write(f->d, ALICE, w, ALICE, BOB, &gp, &st), &st, 401,
         "RecordsGrantAuthorizationScopeProtocolPathMismatch");
  json_object_del(json_object_get(w, "descriptor"), "protocol");
  expect(dwn_grant_authorize_records_write(f->d, ALICE, w, ALICE, BOB, &gp, &st), &st, 401,
         "RecordsGrantAuthorizationScopeProtocolMismatch");
  json_decref(w);
  dwn_grant_release(&gw);
  dwn_grant_release(&gp);

  /* query and delete only compare the protocol */
  grant(f, "gq", "{'interface':'Records','method':'Query','protocol':'" PROTO "'}", NULL);
  grant(f, "gd", "{'interface':'Records','method':'Delete','protocol':'" PROTO "'}", NULL);
  dwn_grant_t gq, gd;
  fetch(f, "gq", &gq);
  fetch(f, "gd", &gd);
  json_t *q = msg("Records", "Query", T(20), "{'filter':{'protocol':'" PROTO "'}}");
  expect(dwn_grant_authorize_records_query(f->d, ALICE, q, ALICE, BOB, &gq, &st), &st, 0, NULL);
  json_object_del(json_object_get(json_object_get(q, "descriptor"), "filter"), "protocol");
  expect(dwn_grant_authorize_records_query(f->d, ALICE, q, ALICE, BOB, &gq, &st), &st, 401,
         "RecordsGrantAuthorizationQueryOrSubscribeProtocolScopeMismatch");
  json_decref(q);
  json_t *del = msg("Records", "Delete", T(20), "{'recordId':'x','prune':false}");
  json_t *rec = msg("Records", "Write", T(15), "{'protocol':'http://other.example/p'}");
  expect(dwn_grant_authorize_records_delete(f->d, ALICE, del, rec, ALICE, BOB, &gd, &st), &st, 401,
         "RecordsGrantAuthorizationDeleteProtocolScopeMismatch");
  json_object_set_new(json_object_get(rec, "descriptor"), "protocol", json_string(PROTO));
  expect(dwn_grant_authorize_records_delete(f->d, ALICE, del, rec, ALICE, BOB, &gd, &st), &st, 0, NULL);
  json_decref(del);
  json_decref(rec);
  dwn_grant_release(&gq);
  dwn_grant_release(&gd);
}

static void test_protocols_scope(void **state) {
  fixture_t *f = *state;
  grant(f, "gc", "{'interface':'Protocols','method':'Configure'}", NULL);
  grant(f, "gcs", "{'interface':'Protocols','method':'Configure','protocol':'" PROTO "'}", NULL);
  grant(f, "gqs", "{'interface':'Protocols','method':'Query','protocol':'" PROTO "'}", NULL);
  dwn_grant_t gc, gcs, gqs;
  fetch(f, "gc", &gc);
  fetch(f, "gcs", &gcs);
  fetch(f, "gqs", &gqs);
  dwn_status_t st = {0};
  json_t *c = msg("Protocols", "Configure", T(20), "{'definition':{'protocol':'http://other.example/p'}}");
  expect(dwn_grant_authorize_protocols_configure(f->d, ALICE, c, ALICE, BOB, &gc, &st), &st, 0, NULL);
  expect(dwn_grant_authorize_protocols_configure(f->d, ALICE, c, ALICE, BOB, &gcs, &st), &st, 401,
         "ProtocolsGrantAuthorizationScopeProtocolMismatch");
  json_decref(c);
  json_t *q = msg("Protocols", "Query", T(20), NULL);
  expect(dwn_grant_authorize_protocols_query(f->d, ALICE, q, ALICE, BOB, &gqs, &st), &st, 401,
         "ProtocolsGrantAuthorizationQueryProtocolScopeMismatch");
  json_object_set_new(json_object_get(q, "descriptor"), "filter", json_pack("{s:s}", "protocol", PROTO));
  expect(dwn_grant_authorize_protocols_query(f->d, ALICE, q, ALICE, BOB, &gqs, &st), &st, 0, NULL);
  json_decref(q);
  dwn_grant_release(&gc);
  dwn_grant_release(&gcs);
  dwn_grant_release(&gqs);
}

static void test_messages_scope(void **state) {
  fixture_t *f = *state;
  grant(f, "gq", "{'interface':'Messages','method':'Query','protocol':'" PROTO "'}", NULL);
  grant(f, "gr", "{'interface':'Messages','method':'Read','protocol':'" PROTO "'}", NULL);
  dwn_grant_t gq, gr;
  fetch(f, "gq", &gq);
  fetch(f, "gr", &gr);
  dwn_status_t st = {0};
  json_t *q = msg("Messages", "Query", T(20), "{'filters':[]}");
  expect(dwn_grant_authorize_messages_query(f->d, ALICE, q, ALICE, BOB, &gq, &st), &st, 0, NULL); /* sic */
  json_decref(q);
  q = msg("Messages", "Query", T(20), "{'filters':[{'protocol':'" PROTO "'},{'interface':'Records'}]}");
  expect(dwn_grant_authorize_messages_query(f->d, ALICE, q, ALICE, BOB, &gq, &st), &st, 401,
         "EventsGrantAuthorizationMismatchedProtocol");
  json_decref(q);

  json_t *r = msg("Messages", "Read", T(20), NULL);
  json_t *in_scope = msg("Records", "Write", T(15), "{'protocol':'" PROTO "'}");
  json_t *other = msg("Records", "Write", T(15), "{'protocol':'http://other.example/p'}");
  json_t *configure = msg("Protocols", "Configure", T(15), "{'definition':{'protocol':'" PROTO "'}}");
  expect(dwn_grant_authorize_messages_read(f->d, ALICE, r, in_scope, ALICE, BOB, &gr, &st), &st, 0, NULL);
  expect(dwn_grant_authorize_messages_read(f->d, ALICE, r, configure, ALICE, BOB, &gr, &st), &st, 0, NULL);
  expect(dwn_grant_authorize_messages_read(f->d, ALICE, r, other, ALICE, BOB, &gr, &st), &st, 401,
         "MessagesReadVerifyScopeFailed");
  /* permission records: a grant and a request by their own scope, a revocation by its grant's */
  json_t *tagged = perm_record(ALICE, "gx", "grant", CAROL, T(12),
                               "{'dateExpires':'" T(50) "','scope':{'interface':'Records','method':'Read','protocol':'" PROTO "'}}",
                               PROTO, NULL);
  json_t *untagged = perm_record(ALICE, "gy", "grant", CAROL, T(12),
                                 "{'dateExpires':'" T(50) "','scope':{'interface':'Messages','method':'Read'}}", NULL, NULL);
  expect(dwn_grant_authorize_messages_read(f->d, ALICE, r, tagged, ALICE, BOB, &gr, &st), &st, 0, NULL);
  expect(dwn_grant_authorize_messages_read(f->d, ALICE, r, untagged, ALICE, BOB, &gr, &st), &st, 401,
         "MessagesReadVerifyScopeFailed");
  json_t *rev = perm_record(ALICE, "rv", "grant/revocation", NULL, T(13), "{}", PROTO, "gr");
  expect(dwn_grant_authorize_messages_read(f->d, ALICE, r, rev, ALICE, BOB, &gr, &st), &st, 0, NULL);
  json_decref(rev);
  json_decref(tagged);
  json_decref(untagged);
  json_decref(r);
  json_decref(in_scope);
  json_decref(other);
  json_decref(configure);
  dwn_grant_release(&gq);
  dwn_grant_release(&gr);
}

static void core_write(fixture_t *f, const char *path, const char *data, const char *tag, const char *parent, int code,
                       const char *error_code) {
  json_t *m = perm_record(ALICE, "w", path, BOB, T(20), NULL, tag, parent);
  json_t *d = J(data);
  char *text = json_dumps(d, JSON_COMPACT);
  dwn_status_t st = {0};
  int rc = dwn_grant_check_core_write(f->d, ALICE, m, (const uint8_t *)text, strlen(text), &st);
  expect(rc, &st, code, error_code);
  free(text);
  json_decref(d);
  json_decref(m);
}

static void test_core_write(void **state) {
  fixture_t *f = *state;
  const char *scoped = "{'dateExpires':'" T(50) "','scope':{'interface':'Records','method':'Write','protocol':'" PROTO "'}}";
  core_write(f, "grant", scoped, PROTO, NULL, 0, NULL);
  core_write(f, "grant", scoped, NULL, NULL, 400, "PermissionsProtocolValidateScopeMissingProtocolTag");
  core_write(f, "grant", scoped, "http://other.example/p", NULL, 400, "PermissionsProtocolValidateScopeProtocolMismatch");
  core_write(f, "grant",
             "{'dateExpires':'" T(50) "','scope':{'interface':'Records','method':'Write','protocol':'" PROTO
             "','contextId':'c','protocolPath':'p'}}",
             PROTO, NULL, 400, "PermissionsProtocolValidateScopeContextIdProhibitedProperties");
  core_write(f, "grant", "{'scope':{'interface':'Records','method':'Write','protocol':'" PROTO "'}}", PROTO, NULL, 400,
             "SchemaValidatorFailure");
  core_write(f, "request", "{'delegated':true,'scope':{'interface':'Messages','method':'Query'}}", NULL, NULL, 0, NULL);
  core_write(f, "request", "{'scope':{'interface':'Messages','method':'Query'}}", NULL, NULL, 400, "SchemaValidatorFailure");
  /* revocations: the tag must be the grant's scope protocol (both may be absent) */
  grant(f, "gs", "{'interface':'Records','method':'Write','protocol':'" PROTO "'}", NULL);
  grant(f, "gu", "{'interface':'Messages','method':'Query'}", NULL);
  core_write(f, "grant/revocation", "{}", PROTO, "gs", 0, NULL);
  core_write(f, "grant/revocation", "{}", NULL, "gs", 400, "PermissionsProtocolValidateRevocationProtocolTagMismatch");
  core_write(f, "grant/revocation", "{}", NULL, "gu", 0, NULL);
  core_write(f, "grant/revocation", "{}", PROTO, "gu", 400, "PermissionsProtocolValidateRevocationProtocolTagMismatch");
  /* records of other protocols are not looked at */
  json_t *m = msg("Records", "Write", T(20), "{'protocol':'" PROTO "','protocolPath':'grant'}");
  dwn_status_t st = {0};
  expect(dwn_grant_check_core_write(f->d, ALICE, m, (const uint8_t *)"x", 1, &st), &st, 0, NULL);
  json_decref(m);
  json_t *def = dwn_grant_permissions_definition();
  assert_non_null(def);
  assert_string_equal(json_string_value(json_object_get(def, "protocol")), PERM);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(
                       json_object_get(json_object_get(json_object_get(def, "structure"), "grant"), "revocation"), "$size"), "max")),
                   10000);
  json_decref(def);
}

static void test_delegation_integrity(void **state) {
  (void)state;
  json_t *g = perm_record(ALICE, "dg", "grant", BOB, T(10),
                          "{'dateExpires':'" T(50) "','delegated':true,'scope':{'interface':'Records','method':'Write','protocol':'" PROTO "'}}",
                          PROTO, NULL);
  char cid[DWN_CID_TEXT_BYTES];
  assert_int_equal(dwn_cid_of(g, cid), 0);
  json_t *m = msg("Records", "Write", T(20), NULL);
  json_object_set_new(m, "authorization", json_pack("{s:o,s:O}", "signature", signature_by(BOB), "authorDelegatedGrant", g));
  json_t *payload = json_pack("{s:s}", "delegatedGrantId", cid);
  dwn_status_t st = {0};
  expect(dwn_grant_check_delegation_integrity(m, payload, NULL, &st), &st, 0, NULL);
  json_t *wrong = json_pack("{s:s}", "delegatedGrantId", "bafyreiother");
  expect(dwn_grant_check_delegation_integrity(m, wrong, NULL, &st), &st, 400, "RecordsAuthorDelegatedGrantCidMismatch");
  json_t *empty = json_object();
  expect(dwn_grant_check_delegation_integrity(m, empty, NULL, &st), &st, 400,
         "RecordsAuthorDelegatedGrantAndIdExistenceMismatch");
  json_object_set_new(json_object_get(m, "authorization"), "signature", signature_by(CAROL));
  expect(dwn_grant_check_delegation_integrity(m, payload, NULL, &st), &st, 400,
         "RecordsAuthorDelegatedGrantGrantedToAndOwnerSignatureMismatch");
  /* not delegated */
  json_t *plain = perm_record(ALICE, "pg", "grant", BOB, T(10),
                              "{'dateExpires':'" T(50) "','scope':{'interface':'Records','method':'Write','protocol':'" PROTO "'}}",
                              PROTO, NULL);
  json_object_set_new(json_object_get(m, "authorization"), "authorDelegatedGrant", plain);
  expect(dwn_grant_check_delegation_integrity(m, payload, NULL, &st), &st, 400,
         "RecordsAuthorDelegatedGrantNotADelegatedGrant");
  /* the owner side: an id without a grant */
  json_t *n = msg("Records", "Write", T(20), NULL);
  json_object_set_new(n, "authorization", json_pack("{s:o,s:o}", "signature", signature_by(BOB), "ownerSignature", signature_by(CAROL)));
  expect(dwn_grant_check_delegation_integrity(n, empty, payload, &st), &st, 400,
         "RecordsOwnerDelegatedGrantAndIdExistenceMismatch");
  json_object_set(json_object_get(n, "authorization"), "ownerDelegatedGrant", g);
  expect(dwn_grant_check_delegation_integrity(n, empty, payload, &st), &st, 400,
         "RecordsOwnerDelegatedGrantGrantedToAndOwnerSignatureMismatch");
  json_object_set_new(json_object_get(n, "authorization"), "ownerSignature", signature_by(BOB));
  expect(dwn_grant_check_delegation_integrity(n, empty, payload, &st), &st, 0, NULL);
  expect(dwn_grant_check_delegation_integrity(n, empty, NULL, &st), &st, 400,
         "RecordsOwnerDelegatedGrantAndIdExistenceMismatch");
  json_decref(n);
  json_decref(empty);
  json_decref(wrong);
  json_decref(payload);
  json_decref(m);
  json_decref(g);
}

/* ProtocolsConfigure's $tags check (ajv validateSchema, first error) runs
 * before the signature is looked at, so an unsigned configure shows it. */
static void tag_schema(fixture_t *f, const char *tag_schema_json, const char *detail) {
  char text[1024];
  snprintf(text, sizeof text,
           "{'descriptor':{'interface':'Protocols','method':'Configure','messageTimestamp':'" T(1) "',"
           "'definition':{'protocol':'http://x.example/p','published':true,'types':{'a':{}},"
           "'structure':{'a':{'b':{'$tags':{'$requiredTags':['t'],'t':%s}}}}}}}",
           tag_schema_json);
  json_t *m = J(text);
  json_object_set_new(json_object_get(json_object_get(json_object_get(m, "descriptor"), "definition"), "types"), "b",
                      json_object());
  dwn_reply_t reply = {0};
  assert_int_equal(dwn_protocols_configure(f->d, ALICE, m, &reply), 0);
  const json_t *status = json_object_get(reply.body, "status");
  const char *got = json_string_value(json_object_get(status, "detail"));
  if (detail) {
    assert_int_equal(json_integer_value(json_object_get(status, "code")), 400);
    assert_string_equal(got, detail);
  } else if (got && strncmp(got, "ProtocolsConfigureInvalidTagSchema", 34) == 0) {
    fail_msg("unexpected %s", got);
  }
  json_decref(reply.body);
  json_decref(m);
}

#define TAGERR "ProtocolsConfigureInvalidTagSchema: tags schema validation error: a/b/$tags/t"
static void test_tag_meta_schema(void **state) {
  fixture_t *f = *state;
  tag_schema(f, "{'type':'string','minLength':-1}", TAGERR "/minLength must be >= 0");
  tag_schema(f, "{'type':'string','maxLength':1.5}", TAGERR "/maxLength must be integer");
  tag_schema(f, "{'type':'string','maxLength':'3'}", TAGERR "/maxLength must be integer");
  tag_schema(f, "{'type':'number','minimum':'0'}", TAGERR "/minimum must be number");
  tag_schema(f, "{'type':'string','enum':'a'}", TAGERR "/enum must be array");
  tag_schema(f, "{'type':'array','uniqueItems':1}", TAGERR "/uniqueItems must be boolean");
  /* the validation vocabulary in its listing order, whatever the key order */
  tag_schema(f, "{'type':'string','minLength':-1,'maxLength':-1}", TAGERR "/maxLength must be >= 0");
  /* applicators (items, contains) before the validation keywords */
  tag_schema(f, "{'type':'array','minItems':-1,'items':{'type':'string','minLength':-2}}",
             TAGERR "/items/minLength must be >= 0");
  /* tags in JavaScript key order: array-index names first, ascending */
  tag_schema(f, "{'type':'string'},'z':{'type':'string','minLength':-1},'10':{'type':'string','maxLength':-1},"
                "'2':{'type':'string','minLength':'x'}",
             "ProtocolsConfigureInvalidTagSchema: tags schema validation error: a/b/$tags/2/minLength must be integer");
  /* valid ones pass this check */
  tag_schema(f, "{'type':'string','minLength':0,'maxLength':2.0,'enum':['a']}", NULL);
  tag_schema(f, "{'type':'array','items':{'type':'number','minimum':1},'minItems':1,'uniqueItems':true}", NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_fetch_and_parse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_base_validation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_records_scope, setup, teardown),
      cmocka_unit_test_setup_teardown(test_protocols_scope, setup, teardown),
      cmocka_unit_test_setup_teardown(test_messages_scope, setup, teardown),
      cmocka_unit_test_setup_teardown(test_core_write, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delegation_integrity, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tag_meta_schema, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
