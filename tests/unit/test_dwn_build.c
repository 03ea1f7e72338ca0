/*
 * dwn/build: messages built and signed in C are accepted by a real engine
 * (dwn_process in a temporary directory, with a block engine): RecordsWrite
 * create (inline and block-engine data, bytes and fd, Ed25519 and secp256k1
 * did:key signers), createFrom updates (data, published toggle), protocol
 * records (root and child contextId/parentId), RecordsRead/Query/Delete,
 * ProtocolsConfigure/Query, MessagesQuery (with the reply's cursor) and
 * MessagesRead; the identifiers recompute (recordId = entryId, the payload's
 * descriptorCid), fixed timestamps are kept, bad options are refused, and
 * dwn_build_resign makes a changed message acceptable again.
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
#include <sys/mman.h>
#include <unistd.h>

#include "bs.h"
#include "buf.h"
#include "dwn/build.h"
#include "dwn/did.h"
#include "dwn/dwn.h"
#include "dwn/ids.h"
#include "dwn/jwk.h"
#include "dwn/jws.h"
#include "dwn/timestamp.h"

#include "dwn_fixture.h"

typedef dwn_test_ident_t ident_t;

typedef struct fixture {
  char dir[512];
  bs_t *bs;
  dwn_t *dwn;
  ident_t alice, carol;
} fixture_t;


static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  dwn_test_engine_open(f->dir, sizeof f->dir, "anya-dwn-build", &f->bs, &f->dwn);
  dwn_test_ident_make(&f->alice, JWK_CRV_ED25519);
  dwn_test_ident_make(&f->carol, JWK_CRV_SECP256K1);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  dwn_test_engine_close(f->dir, f->bs, f->dwn);
  json_decref(f->alice.priv);
  json_decref(f->carol.priv);
  free(f);
  return 0;
}

static int mem_fd(const void *data, size_t len) {
  int fd = memfd_create("dwn-build-test", MFD_CLOEXEC);
  assert_true(fd >= 0);
  if (len) assert_int_equal(write(fd, data, len), (ssize_t)len);
  assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
  return fd;
}

/* Processes message (with data when data != NULL) and returns the status code. */
static int process(fixture_t *f, const char *tenant, const json_t *m, const void *data, size_t len,
                   dwn_reply_t *reply_out) {
  int fd = data ? mem_fd(data, len) : -1;
  dwn_reply_t reply;
  assert_int_equal(dwn_process(f->dwn, tenant, m, fd, &reply), 0);
  if (fd >= 0) close(fd);
  int code = reply.code;
  if (reply_out) *reply_out = reply;
  else dwn_reply_release(&reply);
  return code;
}

static const char *dstr(const json_t *m, const char *key) {
  return json_string_value(json_object_get(json_object_get(m, "descriptor"), key));
}

/* The identifiers recompute: recordId = entryId (initial), payload descriptorCid. */
static void check_ids(const json_t *m, const char *author, bool initial) {
  const json_t *sig = json_object_get(json_object_get(m, "authorization"), "signature");
  json_t *payload = NULL;
  assert_int_equal(jws_decode_payload(json_string_value(json_object_get(sig, "payload")), &payload), 0);
  char text[DWN_CID_TEXT_BYTES];
  cid_t c;
  assert_int_equal(dwn_descriptor_cid(m, &c), 0);
  assert_int_equal(dwn_cid_text(&c, text), 0);
  assert_string_equal(json_string_value(json_object_get(payload, "descriptorCid")), text);
  if (json_object_get(m, "recordId")) {
    assert_string_equal(json_string_value(json_object_get(payload, "recordId")),
                        json_string_value(json_object_get(m, "recordId")));
    assert_true(json_equal(json_object_get(payload, "contextId"), json_object_get(m, "contextId")) ||
                (!json_object_get(payload, "contextId") && !json_object_get(m, "contextId")));
    assert_int_equal(dwn_entry_id(json_object_get(m, "descriptor"), author, &c), 0);
    assert_int_equal(dwn_cid_text(&c, text), 0);
    assert_int_equal(strcmp(text, json_string_value(json_object_get(m, "recordId"))) == 0, initial);
  }
  json_decref(payload);
}

/* RecordsRead by recordId: the status, and the data equal to want when 200. */
static int read_back(fixture_t *f, ident_t *who, const char *record_id, const void *want, size_t want_len) {
  json_t *filter = json_pack("{s:s}", "recordId", record_id);
  json_t *m = NULL;
  assert_int_equal(dwn_build_records_read(filter, NULL, &who->signer, &m), 0);
  dwn_reply_t reply;
  int code = process(f, f->alice.did, m, NULL, 0, &reply);
  if (code == 200) {
    buf_t data = {0};
    assert_true(reply.has_data);
    assert_int_equal(dwn_reply_data(f->dwn, &reply, &data), 0);
    assert_int_equal(data.len, want_len);
    if (want_len) assert_memory_equal(data.data, want, want_len);
    buf_free(&data);
  }
  dwn_reply_release(&reply);
  json_decref(m);
  json_decref(filter);
  return code;
}

static void test_records_write_inline_and_large(void **state) {
  fixture_t *f = *state;
  const char *msg = "hello from the C builder";
  dwn_build_write_t w;
  dwn_build_write_init(&w);
  w.data_format = "text/plain";
  w.schema = "example.com/note/"; /* normalised to http://example.com/note */
  w.has_data = true;
  w.data = msg;
  w.data_len = strlen(msg);
  json_t *m = NULL;
  assert_int_equal(dwn_build_records_write(&w, &f->alice.signer, &m), 0);
  assert_string_equal(dstr(m, "schema"), "http://example.com/note");
  assert_string_equal(dstr(m, "dateCreated"), dstr(m, "messageTimestamp"));
  assert_true(dwn_time_is_wellformed(dstr(m, "messageTimestamp"), 27));
  assert_null(json_object_get(m, "contextId"));
  assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "descriptor"), "dataSize")), strlen(msg));
  check_ids(m, f->alice.did, true);
  assert_int_equal(process(f, f->alice.did, m, msg, strlen(msg), NULL), 202);
  /* the same message again: 409 (not newer) */
  assert_int_equal(process(f, f->alice.did, m, msg, strlen(msg), NULL), 409);
  assert_int_equal(read_back(f, &f->alice, json_string_value(json_object_get(m, "recordId")), msg, strlen(msg)), 200);

  /* > 30000 bytes through an fd: the block engine */
  size_t big_len = 300000;
  uint8_t *big = malloc(big_len);
  testdir_fill(big, big_len, 7);
  int fd = mem_fd(big, big_len);
  dwn_build_write_t w2;
  dwn_build_write_init(&w2);
  w2.data_format = "application/octet-stream";
  w2.data_fd = fd;
  w2.message_timestamp = "2024-05-06T07:08:09.123456Z";
  w2.published = DWN_BUILD_TRUE;
  json_t *m2 = NULL;
  assert_int_equal(dwn_build_records_write(&w2, &f->carol.signer, &m2), 0);
  close(fd);
  assert_string_equal(dstr(m2, "messageTimestamp"), "2024-05-06T07:08:09.123456Z");
  assert_string_equal(dstr(m2, "dateCreated"), "2024-05-06T07:08:09.123456Z");
  assert_non_null(dstr(m2, "datePublished"));
  assert_int_equal(strncmp(dstr(m2, "dataCid"), "bafybei", 7), 0);
  check_ids(m2, f->carol.did, true);
  /* carol (secp256k1) writes to her own DWN */
  assert_int_equal(process(f, f->carol.did, m2, big, big_len, NULL), 202);
  /* and alice's DWN refuses her (not the owner, no protocol): 401 */
  assert_int_equal(process(f, f->alice.did, m2, big, big_len, NULL), 401);
  json_t *filter = json_pack("{s:s}", "recordId", json_string_value(json_object_get(m2, "recordId")));
  json_t *r = NULL;
  assert_int_equal(dwn_build_records_read(filter, NULL, &f->carol.signer, &r), 0);
  dwn_reply_t reply;
  assert_int_equal(process(f, f->carol.did, r, NULL, 0, &reply), 200);
  buf_t data = {0};
  assert_int_equal(dwn_reply_data(f->dwn, &reply, &data), 0);
  assert_int_equal(data.len, big_len);
  assert_memory_equal(data.data, big, big_len);
  buf_free(&data);
  dwn_reply_release(&reply);
  json_decref(r);
  json_decref(filter);
  free(big);
  json_decref(m);
  json_decref(m2);
}

static void test_update_query_delete(void **state) {
  fixture_t *f = *state;
  dwn_build_write_t w;
  dwn_build_write_init(&w);
  w.data_format = "text/plain";
  w.schema = "https://example.com/post";
  w.has_data = true;
  w.data = "v1";
  w.data_len = 2;
  w.message_timestamp = "2024-01-01T00:00:00.000000Z";
  w.tags = json_pack("{s:s,s:i}", "kind", "draft", "n", 3);
  json_t *m1 = NULL;
  assert_int_equal(dwn_build_records_write(&w, &f->alice.signer, &m1), 0);
  json_decref((json_t *)w.tags);
  assert_int_equal(process(f, f->alice.did, m1, "v1", 2, NULL), 202);
  const char *rid = json_string_value(json_object_get(m1, "recordId"));

  /* createFrom: new data, published toggled on (datePublished = now) */
  dwn_build_write_t u;
  dwn_build_write_init(&u);
  u.has_data = true;
  u.data = "version two";
  u.data_len = 11;
  u.message_timestamp = "2024-01-02T00:00:00.000000Z";
  u.published = DWN_BUILD_TRUE;
  json_t *m2 = NULL;
  assert_int_equal(dwn_build_records_write_from(m1, &u, &f->alice.signer, &m2), 0);
  assert_string_equal(json_string_value(json_object_get(m2, "recordId")), rid);
  assert_string_equal(dstr(m2, "dateCreated"), "2024-01-01T00:00:00.000000Z");
  assert_string_equal(dstr(m2, "schema"), "https://example.com/post");
  assert_true(json_is_true(json_object_get(json_object_get(m2, "descriptor"), "published")));
  assert_non_null(dstr(m2, "datePublished"));
  assert_null(json_object_get(json_object_get(m2, "descriptor"), "tags"));
  check_ids(m2, f->alice.did, false);
  assert_int_equal(process(f, f->alice.did, m2, "version two", 11, NULL), 202);
  assert_int_equal(read_back(f, &f->alice, rid, "version two", 11), 200);

  /* a data-less update keeps dataCid/dataSize; older timestamp is 409 */
  dwn_build_write_t u2;
  dwn_build_write_init(&u2);
  u2.message_timestamp = "2024-01-01T12:00:00.000000Z";
  json_t *old = NULL;
  assert_int_equal(dwn_build_records_write_from(m2, &u2, &f->alice.signer, &old), 0);
  assert_string_equal(dstr(old, "dataCid"), dstr(m2, "dataCid"));
  assert_int_equal(process(f, f->alice.did, old, NULL, 0, NULL), 409);
  json_decref(old);
  u2.message_timestamp = "2024-01-03T00:00:00.000000Z";
  json_t *m3 = NULL;
  assert_int_equal(dwn_build_records_write_from(m2, &u2, &f->alice.signer, &m3), 0);
  assert_string_equal(dstr(m3, "datePublished"), dstr(m2, "datePublished"));
  assert_int_equal(process(f, f->alice.did, m3, NULL, 0, NULL), 202);
  assert_int_equal(read_back(f, &f->alice, rid, "version two", 11), 200);

  /* RecordsQuery by schema (normalised by the builder), signed and anonymous */
  json_t *filter = json_pack("{s:s}", "schema", "example.com/post");
  json_t *pagination = json_pack("{s:i}", "limit", 20);
  json_t *q = NULL;
  assert_int_equal(dwn_build_records_query(filter, "createdDescending", pagination, NULL, &f->alice.signer, &q), 0);
  assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(q, "descriptor"), "filter"), "schema")),
                      "http://example.com/post");
  json_decref(q);
  json_object_set_new(filter, "schema", json_string("https://example.com/post"));
  assert_int_equal(dwn_build_records_query(filter, NULL, pagination, NULL, &f->alice.signer, &q), 0);
  check_ids(q, f->alice.did, false);
  dwn_reply_t reply;
  assert_int_equal(process(f, f->alice.did, q, NULL, 0, &reply), 200);
  const json_t *entries = json_object_get(reply.body, "entries");
  assert_int_equal(json_array_size(entries), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(entries, 0), "recordId")), rid);
  dwn_reply_release(&reply);
  json_decref(q);
  assert_int_equal(dwn_build_records_query(filter, NULL, NULL, NULL, NULL, &q), 0);
  assert_null(json_object_get(q, "authorization"));
  assert_int_equal(process(f, f->alice.did, q, NULL, 0, &reply), 200); /* published now */
  assert_int_equal(json_array_size(json_object_get(reply.body, "entries")), 1);
  dwn_reply_release(&reply);
  json_decref(q);

  /* delete: 202, then read 404, query empty; a second delete 404 */
  dwn_build_common_t c = {.message_timestamp = "2024-01-04T00:00:00.000000Z"};
  json_t *del = NULL;
  assert_int_equal(dwn_build_records_delete(rid, false, &c, &f->alice.signer, &del), 0);
  assert_true(json_is_false(json_object_get(json_object_get(del, "descriptor"), "prune")));
  check_ids(del, f->alice.did, false);
  assert_int_equal(process(f, f->alice.did, del, NULL, 0, NULL), 202);
  assert_int_equal(read_back(f, &f->alice, rid, NULL, 0), 404);
  json_decref(del);
  c.message_timestamp = "2024-01-05T00:00:00.000000Z";
  assert_int_equal(dwn_build_records_delete(rid, false, &c, &f->alice.signer, &del), 0);
  assert_int_equal(process(f, f->alice.did, del, NULL, 0, NULL), 404); /* already deleted */
  json_decref(del);
  assert_int_equal(dwn_build_records_query(filter, NULL, NULL, NULL, &f->alice.signer, &q), 0);
  assert_int_equal(process(f, f->alice.did, q, NULL, 0, &reply), 200);
  assert_int_equal(json_array_size(json_object_get(reply.body, "entries")), 0);
  dwn_reply_release(&reply);
  json_decref(q);
  json_decref(filter);
  json_decref(pagination);
  json_decref(m1);
  json_decref(m2);
  json_decref(m3);
}

static void test_protocols_and_messages(void **state) {
  fixture_t *f = *state;
  json_t *def = json_loads("{\"protocol\": \"example.com/chat/\", \"published\": true,"
                           " \"types\": {\"thread\": {\"schema\": \"example.com/thread\"}, \"message\": {}},"
                           " \"structure\": {\"thread\": {\"message\": {}}}}",
                           0, NULL);
  assert_non_null(def);
  dwn_build_common_t c = {.message_timestamp = "2024-02-01T00:00:00.000000Z"};
  json_t *pc = NULL;
  assert_int_equal(dwn_build_protocols_configure(def, &c, &f->alice.signer, &pc), 0);
  const json_t *d = json_object_get(json_object_get(pc, "descriptor"), "definition");
  assert_string_equal(json_string_value(json_object_get(d, "protocol")), "http://example.com/chat");
  assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(d, "types"), "thread"), "schema")),
                      "http://example.com/thread");
  check_ids(pc, f->alice.did, false);
  assert_int_equal(process(f, f->alice.did, pc, NULL, 0, NULL), 202);
  assert_int_equal(process(f, f->alice.did, pc, NULL, 0, NULL), 409);
  /* unsigned configure is refused by the builder */
  json_t *bad = NULL;
  assert_int_equal(dwn_build_protocols_configure(def, &c, NULL, &bad), -EINVAL);

  /* ProtocolsQuery, anonymous: the published definition */
  json_t *pf = json_pack("{s:s}", "protocol", "example.com/chat");
  json_t *pq = NULL;
  assert_int_equal(dwn_build_protocols_query(pf, NULL, NULL, &pq), 0);
  dwn_reply_t reply;
  assert_int_equal(process(f, f->alice.did, pq, NULL, 0, &reply), 200);
  assert_int_equal(json_array_size(json_object_get(reply.body, "entries")), 1);
  assert_true(json_equal(json_array_get(json_object_get(reply.body, "entries"), 0), pc));
  dwn_reply_release(&reply);
  json_decref(pq);
  json_decref(pf);

  /* root and child protocol records by the owner */
  dwn_build_write_t w;
  dwn_build_write_init(&w);
  w.protocol = "example.com/chat";
  w.protocol_path = "thread";
  w.schema = "example.com/thread";
  w.data_format = "application/json";
  w.has_data = true;
  w.data = "{}";
  w.data_len = 2;
  w.message_timestamp = "2024-02-02T00:00:00.000000Z";
  json_t *root = NULL;
  assert_int_equal(dwn_build_records_write(&w, &f->alice.signer, &root), 0);
  assert_string_equal(json_string_value(json_object_get(root, "contextId")),
                      json_string_value(json_object_get(root, "recordId")));
  check_ids(root, f->alice.did, true);
  int root_code = process(f, f->alice.did, root, "{}", 2, NULL);
  dwn_build_write_t cw;
  dwn_build_write_init(&cw);
  cw.protocol = "http://example.com/chat";
  cw.protocol_path = "thread/message";
  cw.parent_context_id = json_string_value(json_object_get(root, "contextId"));
  cw.data_format = "text/plain";
  cw.has_data = true;
  cw.data = "hi";
  cw.data_len = 2;
  cw.message_timestamp = "2024-02-02T00:00:01.000000Z";
  json_t *child = NULL;
  assert_int_equal(dwn_build_records_write(&cw, &f->alice.signer, &child), 0);
  assert_string_equal(dstr(child, "parentId"), json_string_value(json_object_get(root, "recordId")));
  char want_ctx[300];
  snprintf(want_ctx, sizeof want_ctx, "%s/%s", json_string_value(json_object_get(root, "recordId")),
           json_string_value(json_object_get(child, "recordId")));
  assert_string_equal(json_string_value(json_object_get(child, "contextId")), want_ctx);
  check_ids(child, f->alice.did, true);
  int child_code = process(f, f->alice.did, child, "hi", 2, NULL);
  assert_int_equal(root_code, 202);
  assert_int_equal(child_code, 202);
  /* an update of the child keeps recordId, contextId and parentId */
  dwn_build_write_t cu;
  dwn_build_write_init(&cu);
  cu.has_data = true;
  cu.data = "hi again";
  cu.data_len = 8;
  cu.message_timestamp = "2024-02-02T00:00:02.000000Z";
  json_t *child2 = NULL;
  assert_int_equal(dwn_build_records_write_from(child, &cu, &f->alice.signer, &child2), 0);
  assert_string_equal(json_string_value(json_object_get(child2, "contextId")), want_ctx);
  assert_string_equal(dstr(child2, "parentId"), dstr(child, "parentId"));
  assert_string_equal(dstr(child2, "protocolPath"), "thread/message");
  check_ids(child2, f->alice.did, false);
  assert_int_equal(process(f, f->alice.did, child2, "hi again", 8, NULL), 202);
  assert_int_equal(read_back(f, &f->alice, json_string_value(json_object_get(child, "recordId")), "hi again", 8), 200);
  json_decref(child2);

  /* MessagesQuery (all events), its cursor, then MessagesRead of the first */
  json_t *mq = NULL;
  assert_int_equal(dwn_build_messages_query(NULL, NULL, NULL, &f->alice.signer, &mq), 0);
  check_ids(mq, f->alice.did, false);
  assert_int_equal(process(f, f->alice.did, mq, NULL, 0, &reply), 200);
  const json_t *entries = json_object_get(reply.body, "entries");
  size_t n = json_array_size(entries);
  assert_true(n >= 1);
  char first[DWN_CID_TEXT_BYTES];
  snprintf(first, sizeof first, "%s", json_string_value(json_array_get(entries, 0)));
  cid_t pc_cid;
  char pc_text[DWN_CID_TEXT_BYTES];
  assert_int_equal(dwn_message_cid(pc, &pc_cid), 0);
  assert_int_equal(dwn_cid_text(&pc_cid, pc_text), 0);
  assert_string_equal(first, pc_text);
  json_t *cursor = json_deep_copy(json_object_get(reply.body, "cursor"));
  assert_non_null(cursor);
  dwn_reply_release(&reply);
  json_decref(mq);
  /* from the cursor: nothing after the last entry */
  assert_int_equal(dwn_build_messages_query(NULL, cursor, NULL, &f->alice.signer, &mq), 0);
  assert_int_equal(process(f, f->alice.did, mq, NULL, 0, &reply), 200);
  assert_int_equal(json_array_size(json_object_get(reply.body, "entries")), 0);
  dwn_reply_release(&reply);
  /* resign after a descriptor change: accepted; without resigning: 400 (descriptorCid mismatch) */
  json_t *filters = json_pack("[{s:s}]", "interface", "Protocols");
  json_object_set(json_object_get(mq, "descriptor"), "filters", filters);
  json_object_del(json_object_get(mq, "descriptor"), "cursor");
  assert_int_equal(process(f, f->alice.did, mq, NULL, 0, NULL), 400);
  assert_int_equal(dwn_build_resign(mq, &f->alice.signer), 0);
  check_ids(mq, f->alice.did, false);
  assert_int_equal(process(f, f->alice.did, mq, NULL, 0, &reply), 200);
  assert_int_equal(json_array_size(json_object_get(reply.body, "entries")), 1);
  dwn_reply_release(&reply);
  json_decref(filters);
  json_decref(mq);
  json_decref(cursor);

  json_t *mr = NULL;
  assert_int_equal(dwn_build_messages_read(first, NULL, &f->alice.signer, &mr), 0);
  assert_int_equal(process(f, f->alice.did, mr, NULL, 0, &reply), 200);
  assert_true(json_equal(json_object_get(json_object_get(reply.body, "entry"), "message"), pc));
  dwn_reply_release(&reply);
  json_decref(mr);
  /* carol is not the owner: 401 */
  assert_int_equal(dwn_build_messages_read(first, NULL, &f->carol.signer, &mr), 0);
  assert_int_equal(process(f, f->alice.did, mr, NULL, 0, NULL), 401);
  json_decref(mr);
  json_decref(root);
  json_decref(child);
  json_decref(pc);
  json_decref(def);
}

static void test_bad_options(void **state) {
  fixture_t *f = *state;
  dwn_build_write_t w;
  dwn_build_write_init(&w);
  json_t *m = NULL;
  w.has_data = true;
  w.data = "x";
  w.data_len = 1;
  assert_int_equal(dwn_build_records_write(&w, &f->alice.signer, &m), -EINVAL); /* no dataFormat */
  w.data_format = "text/plain";
  assert_int_equal(dwn_build_records_write(&w, NULL, &m), -EINVAL);              /* no signer */
  w.message_timestamp = "2024-01-01T00:00:00Z";
  assert_int_equal(dwn_build_records_write(&w, &f->alice.signer, &m), -EINVAL);  /* 0 fraction digits */
  w.message_timestamp = NULL;
  w.protocol = "example.com/p";
  assert_int_equal(dwn_build_records_write(&w, &f->alice.signer, &m), -EINVAL);  /* no protocolPath */
  w.protocol = NULL;
  w.data_cid = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
  assert_int_equal(dwn_build_records_write(&w, &f->alice.signer, &m), -EINVAL);  /* data and data_cid */
  w.has_data = false;
  w.data_size = 0;
  w.schema = "http://[::1";
  assert_int_equal(dwn_build_records_write(&w, &f->alice.signer, &m), -EINVAL);  /* not a URL */
  w.schema = NULL;
  /* data-less initial write with an explicit dataCid: 204 */
  assert_int_equal(dwn_build_records_write(&w, &f->alice.signer, &m), 0);
  assert_int_equal(process(f, f->alice.did, m, NULL, 0, NULL), 204);
  json_t *not_write = json_pack("{s:{s:s,s:s}}", "descriptor", "interface", "Records", "method", "Read");
  json_t *u = NULL;
  assert_int_equal(dwn_build_records_write_from(not_write, &w, &f->alice.signer, &u), -EINVAL);
  json_decref(not_write);
  json_decref(m);
  json_t *filter = json_pack("{s:s}", "recordId", "x");
  assert_int_equal(dwn_build_records_delete(NULL, false, NULL, &f->alice.signer, &m), -EINVAL);
  assert_int_equal(dwn_build_messages_read("x", NULL, NULL, &m), -EINVAL);
  json_t *arr = json_array();
  assert_int_equal(dwn_build_records_read(arr, NULL, NULL, &m), -EINVAL);
  json_decref(arr);
  json_decref(filter);
}

/* resign keeps the payload's other members and replaces descriptorCid */
static void test_resign_keeps_payload(void **state) {
  fixture_t *f = *state;
  json_t *filter = json_pack("{s:s,s:s}", "protocol", "example.com/p", "protocolPath", "a");
  dwn_build_common_t c = {.message_timestamp = "2024-01-01T00:00:00.000000Z",
                          .permission_grant_id = "bafyreigrantgrantgrant",
                          .protocol_role = "a/role"};
  json_t *q = NULL;
  assert_int_equal(dwn_build_records_query(filter, NULL, NULL, &c, &f->carol.signer, &q), 0);
  assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(q, "descriptor"), "filter"), "protocol")),
                      "http://example.com/p");
  check_ids(q, f->carol.did, false);
  json_object_set_new(json_object_get(q, "descriptor"), "messageTimestamp", json_string("2024-01-02T00:00:00.000000Z"));
  assert_int_equal(dwn_build_resign(q, &f->carol.signer), 0);
  check_ids(q, f->carol.did, false);
  json_t *payload = NULL;
  const json_t *sig = json_object_get(json_object_get(q, "authorization"), "signature");
  assert_int_equal(jws_decode_payload(json_string_value(json_object_get(sig, "payload")), &payload), 0);
  assert_string_equal(json_string_value(json_object_get(payload, "permissionGrantId")), "bafyreigrantgrantgrant");
  assert_string_equal(json_string_value(json_object_get(payload, "protocolRole")), "a/role");
  assert_int_equal(json_object_size(payload), 3);
  json_decref(payload);
  /* an unsigned message gets {descriptorCid} */
  json_t *anon = NULL;
  assert_int_equal(dwn_build_records_query(filter, NULL, NULL, NULL, NULL, &anon), 0);
  assert_null(json_object_get(anon, "authorization"));
  assert_int_equal(dwn_build_resign(anon, &f->alice.signer), 0);
  check_ids(anon, f->alice.did, false);
  json_decref(anon);
  json_decref(q);
  json_decref(filter);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_records_write_inline_and_large, setup, teardown),
      cmocka_unit_test_setup_teardown(test_update_query_delete, setup, teardown),
      cmocka_unit_test_setup_teardown(test_protocols_and_messages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
      cmocka_unit_test_setup_teardown(test_resign_keeps_payload, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
