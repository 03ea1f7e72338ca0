/*
 * dwn/protocol_auth: the $tags JSON Schema subset (every keyword, both ways),
 * the $tags object rules ($requiredTags, $allowUndefinedTags), rule-set
 * lookup by protocolPath, and, through a real engine, what the differential
 * corpus does not reach: a context role two levels down (invoked in the
 * right thread, refused in another, query without contextId, duplicate and
 * missing recipients per context), a child written under a deleted parent,
 * a prune three levels deep whose grandchild holds block-engine data
 * (messages, events and the data reference all go), and a non-owner query
 * whose filter leaves no branch (nothing, where the reference leaks all).
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
#include "dwn/msgstore.h"
#include "dwn/protocol_auth.h"

#include "dwn_fixture.h"

/* ---- the tag schema subset ------------------------------------------------------ */

static bool valid(const char *schema_text, const char *value_text) {
  json_error_t e;
  json_t *schema = json_loads(schema_text, 0, &e);
  json_t *value = json_loads(value_text, JSON_DECODE_ANY, &e);
  assert_non_null(schema);
  assert_non_null(value);
  char why[128];
  bool ok = dwn_protocol_tag_schema_valid(schema, value, why, sizeof why);
  if (!ok) assert_true(why[0] != 0); /* a reason is always given */
  json_decref(schema);
  json_decref(value);
  return ok;
}

static void test_tag_schema_types(void **state) {
  (void)state;
  assert_true(valid("{\"type\":\"string\"}", "\"a\""));
  assert_false(valid("{\"type\":\"string\"}", "1"));
  assert_true(valid("{\"type\":\"number\"}", "1.5"));
  assert_true(valid("{\"type\":\"number\"}", "3"));
  assert_false(valid("{\"type\":\"number\"}", "\"3\""));
  assert_true(valid("{\"type\":\"integer\"}", "3"));
  assert_true(valid("{\"type\":\"integer\"}", "3.0")); /* JSON.parse makes it 3 */
  assert_false(valid("{\"type\":\"integer\"}", "3.5"));
  assert_true(valid("{\"type\":\"boolean\"}", "false"));
  assert_false(valid("{\"type\":\"boolean\"}", "0"));
  assert_true(valid("{\"type\":\"array\"}", "[]"));
  assert_false(valid("{\"type\":\"array\"}", "{}"));
  assert_true(valid("{\"type\":[\"string\",\"number\"]}", "2"));
  assert_false(valid("{\"type\":[\"string\",\"number\"]}", "true"));
  assert_true(valid("{}", "\"anything\""));
}

static void test_tag_schema_enum_and_numbers(void **state) {
  (void)state;
  assert_true(valid("{\"enum\":[\"draft\",\"final\"]}", "\"final\""));
  assert_false(valid("{\"enum\":[\"draft\",\"final\"]}", "\"other\""));
  assert_true(valid("{\"enum\":[1,2]}", "2.0")); /* numbers compare by value */
  assert_false(valid("{\"enum\":[1,2]}", "\"1\""));
  assert_true(valid("{\"minimum\":0,\"maximum\":10}", "0"));
  assert_true(valid("{\"minimum\":0,\"maximum\":10}", "10"));
  assert_false(valid("{\"minimum\":0}", "-1"));
  assert_false(valid("{\"maximum\":10}", "10.5"));
  assert_true(valid("{\"exclusiveMinimum\":0}", "0.001"));
  assert_false(valid("{\"exclusiveMinimum\":0}", "0"));
  assert_false(valid("{\"exclusiveMaximum\":5}", "5"));
  assert_true(valid("{\"exclusiveMaximum\":5}", "4"));
  /* number keywords do not apply to strings */
  assert_true(valid("{\"minimum\":5}", "\"1\""));
}

static void test_tag_schema_strings(void **state) {
  (void)state;
  assert_true(valid("{\"minLength\":2,\"maxLength\":3}", "\"ab\""));
  assert_false(valid("{\"minLength\":2}", "\"a\""));
  assert_false(valid("{\"maxLength\":3}", "\"abcd\""));
  /* code points, not bytes: "é" is one character, "😀" one too */
  assert_true(valid("{\"maxLength\":1}", "\"\\u00e9\""));
  assert_true(valid("{\"maxLength\":1}", "\"\\ud83d\\ude00\""));
  assert_false(valid("{\"minLength\":3}", "\"\\u00e9\\u00e9\""));
  assert_true(valid("{\"pattern\":\"^[a-z]+-[0-9]+$\"}", "\"abc-12\""));
  assert_false(valid("{\"pattern\":\"^[a-z]+-[0-9]+$\"}", "\"ABC-12\""));
  assert_true(valid("{\"pattern\":\"b\"}", "\"abc\"")); /* unanchored like JS */
  assert_false(valid("{\"pattern\":\"(\"}", "\"abc\"")); /* cannot compile: refused */
  /* repetitions: lazy is fine, a repeated repetition or a geometric blow-up is refused */
  assert_true(valid("{\"pattern\":\"^a+?b{2,3}c*$\"}", "\"abbc\""));
  assert_true(valid("{\"pattern\":\"^(ab)+$\"}", "\"abab\""));
  assert_false(valid("{\"pattern\":\"a++\"}", "\"aa\""));
  assert_false(valid("{\"pattern\":\"a{2}{3}\"}", "\"aaaaaa\""));
  assert_false(valid("{\"pattern\":\"((((a{100}){100}){100}){100})\"}", "\"a\""));
  assert_false(valid("{\"pattern\":\"a{5,2}\"}", "\"aaa\""));
  assert_false(valid("{\"pattern\":\"(a\"}", "\"a\""));
  assert_false(valid("{\"pattern\":\"(a)\\\\1\"}", "\"aa\""));
  /* the JS class escapes */
  assert_true(valid("{\"pattern\":\"^\\\\d{3}-\\\\w+$\"}", "\"123-ab_c\""));
  assert_false(valid("{\"pattern\":\"^\\\\d{3}$\"}", "\"12a\""));
  assert_true(valid("{\"pattern\":\"^[\\\\d.]+$\"}", "\"1.5\""));
  assert_false(valid("{\"pattern\":\"^\\\\S+$\"}", "\"a b\""));
  assert_true(valid("{\"pattern\":\"^a\\\\.b$\"}", "\"a.b\""));
  assert_false(valid("{\"pattern\":\"^a\\\\.b$\"}", "\"axb\""));
}

static void test_tag_schema_arrays(void **state) {
  (void)state;
  assert_true(valid("{\"type\":\"array\",\"items\":{\"type\":\"string\"}}", "[\"a\",\"b\"]"));
  assert_false(valid("{\"type\":\"array\",\"items\":{\"type\":\"string\"}}", "[\"a\",2]"));
  assert_true(valid("{\"items\":{\"type\":\"number\",\"minimum\":1}}", "[1,2,3]"));
  assert_false(valid("{\"items\":{\"type\":\"number\",\"minimum\":1}}", "[1,0]"));
  assert_true(valid("{\"minItems\":1,\"maxItems\":2}", "[1]"));
  assert_false(valid("{\"minItems\":1}", "[]"));
  assert_false(valid("{\"maxItems\":2}", "[1,2,3]"));
  assert_true(valid("{\"uniqueItems\":true}", "[1,2]"));
  assert_false(valid("{\"uniqueItems\":true}", "[1,1.0]"));
  assert_true(valid("{\"contains\":{\"enum\":[\"x\"]}}", "[\"a\",\"x\"]"));
  assert_false(valid("{\"contains\":{\"enum\":[\"x\"]}}", "[\"a\",\"b\"]"));
  assert_false(valid("{\"contains\":{\"enum\":[\"x\"]}}", "[]"));
  assert_true(valid("{\"contains\":{\"type\":\"number\"},\"minContains\":2}", "[1,\"a\",2]"));
  assert_false(valid("{\"contains\":{\"type\":\"number\"},\"minContains\":2}", "[1,\"a\"]"));
  assert_false(valid("{\"contains\":{\"type\":\"number\"},\"maxContains\":1}", "[1,2]"));
  assert_true(valid("{\"contains\":{\"type\":\"number\"},\"minContains\":0}", "[\"a\"]"));
  /* array keywords do not apply to scalars */
  assert_true(valid("{\"minItems\":3}", "\"a\""));
}

static int check_tags(const char *rule_text, const char *tags_text, dwn_status_t *st) {
  json_error_t e;
  json_t *rule = json_loads(rule_text, 0, &e);
  json_t *tags = tags_text ? json_loads(tags_text, 0, &e) : NULL;
  assert_non_null(rule);
  memset(st, 0, sizeof *st);
  int rc = dwn_protocol_check_tags(rule, tags, "http://p", "a/b", st);
  json_decref(rule);
  json_decref(tags);
  return rc;
}

static void test_tags_object_rules(void **state) {
  (void)state;
  dwn_status_t st;
  const char *rule = "{\"status\":{\"type\":\"string\",\"enum\":[\"open\",\"done\"]},"
                     "\"n\":{\"type\":\"integer\",\"minimum\":1},\"$requiredTags\":[\"status\"]}";
  assert_int_equal(check_tags(rule, "{\"status\":\"open\",\"n\":2}", &st), 0);
  assert_int_equal(check_tags(rule, "{\"status\":\"open\"}", &st), 0);
  /* required tag missing (also when there are no tags at all) */
  assert_int_equal(check_tags(rule, "{\"n\":2}", &st), -EINVAL);
  assert_int_equal(st.code, 400);
  const char *prefix = "ProtocolAuthorizationTagsInvalidSchema: ";
  assert_int_equal(strncmp(st.detail, prefix, strlen(prefix)), 0);
  assert_non_null(strstr(st.detail, "http://p/a/b/$tags"));
  assert_int_equal(check_tags(rule, NULL, &st), -EINVAL);
  /* a value against its schema */
  assert_int_equal(check_tags(rule, "{\"status\":\"closed\"}", &st), -EINVAL);
  assert_int_equal(check_tags(rule, "{\"status\":\"open\",\"n\":0}", &st), -EINVAL);
  /* undefined tags: refused unless $allowUndefinedTags */
  assert_int_equal(check_tags(rule, "{\"status\":\"open\",\"extra\":1}", &st), -EINVAL);
  const char *open_rule = "{\"status\":{\"type\":\"string\"},\"$allowUndefinedTags\":true}";
  assert_int_equal(check_tags(open_rule, "{\"status\":\"x\",\"extra\":1}", &st), 0);
  assert_int_equal(check_tags(open_rule, "{\"status\":1}", &st), -EINVAL);
  /* the rule's own keywords are not tag schemas */
  assert_int_equal(check_tags(rule, "{\"status\":\"open\",\"$requiredTags\":1}", &st), -EINVAL);
  /* without $requiredTags nothing is required */
  assert_int_equal(check_tags("{\"a\":{\"type\":\"string\"}}", NULL, &st), 0);
}

static void test_rule_set_lookup(void **state) {
  (void)state;
  json_error_t e;
  json_t *def = json_loads("{\"protocol\":\"http://p\",\"published\":true,\"types\":{\"a\":{},\"b\":{}},"
                           "\"structure\":{\"a\":{\"$role\":true,\"b\":{\"$size\":{\"max\":5}}}}}",
                           0, &e);
  assert_non_null(def);
  const json_t *a = dwn_protocol_rule_set(def, "a");
  assert_non_null(a);
  assert_true(json_is_true(json_object_get(a, "$role")));
  const json_t *ab = dwn_protocol_rule_set(def, "a/b");
  assert_non_null(ab);
  assert_non_null(json_object_get(ab, "$size"));
  assert_null(dwn_protocol_rule_set(def, "b"));
  assert_null(dwn_protocol_rule_set(def, "a/c"));
  assert_null(dwn_protocol_rule_set(def, "a/b/a"));
  assert_null(dwn_protocol_rule_set(def, "a/$role")); /* not a rule set */
  assert_null(dwn_protocol_rule_set(def, NULL));
  json_decref(def);
}

/* ---- through the engine ------------------------------------------------------------ */

typedef dwn_test_ident_t ident_t;

typedef struct fixture {
  char dir[512];
  bs_t *bs;
  dwn_t *dwn;
  ident_t alice, bob, carol;
  unsigned clock; /* seconds of the next message timestamp */
} fixture_t;


static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  dwn_test_engine_open(f->dir, sizeof f->dir, "anya-dwn-pauth", &f->bs, &f->dwn);
  dwn_test_ident_make(&f->alice, JWK_CRV_ED25519);
  dwn_test_ident_make(&f->bob, JWK_CRV_ED25519);
  dwn_test_ident_make(&f->carol, JWK_CRV_ED25519);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  dwn_test_engine_close(f->dir, f->bs, f->dwn);
  json_decref(f->alice.priv);
  json_decref(f->bob.priv);
  json_decref(f->carol.priv);
  free(f);
  return 0;
}

static const char *next_time(fixture_t *f, char buf[32]) {
  unsigned s = f->clock++;
  snprintf(buf, 32, "2024-03-01T%02u:%02u:%02u.000000Z", (s / 3600) % 24, (s / 60) % 60, s % 60);
  return buf;
}

static int mem_fd(const void *data, size_t len) {
  int fd = memfd_create("dwn-pauth-test", MFD_CLOEXEC);
  assert_true(fd >= 0);
  if (len) assert_int_equal(write(fd, data, len), (ssize_t)len);
  assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
  return fd;
}

/* Processes m for alice's DWN; returns the code, the detail's error code in
 * code_out (may be NULL). */
static int process(fixture_t *f, const json_t *m, const void *data, size_t len, char *code_out, size_t code_bytes,
                   json_t **body_out) {
  int fd = data ? mem_fd(data, len) : -1;
  dwn_reply_t reply;
  assert_int_equal(dwn_process(f->dwn, f->alice.did, m, fd, &reply), 0);
  if (fd >= 0) close(fd);
  if (code_out) {
    const char *detail = json_string_value(json_object_get(json_object_get(reply.body, "status"), "detail"));
    snprintf(code_out, code_bytes, "%s", detail ? detail : "");
    char *colon = strchr(code_out, ':');
    if (colon) *colon = 0;
  }
  if (body_out) *body_out = json_incref(reply.body);
  int code = reply.code;
  dwn_reply_release(&reply);
  return code;
}

#define PROTO "http://example.com/threads"

static void configure(fixture_t *f) {
  json_error_t e;
  json_t *def = json_loads(
      "{\"protocol\":\"" PROTO "\",\"published\":true,"
      "\"types\":{\"thread\":{},\"participant\":{},\"chat\":{\"dataFormats\":[\"text/plain\"]},\"file\":{}},"
      "\"structure\":{\"thread\":{\"$actions\":[{\"who\":\"anyone\",\"can\":[\"create\"]}],"
      "  \"participant\":{\"$role\":true,\"$actions\":[{\"who\":\"author\",\"of\":\"thread\",\"can\":[\"create\"]}]},"
      "  \"chat\":{\"$actions\":[{\"role\":\"thread/participant\",\"can\":[\"create\",\"read\",\"query\",\"subscribe\"]}],"
      "    \"file\":{\"$size\":{\"max\":400000}}}}}}",
      0, &e);
  assert_non_null(def);
  char t[32];
  dwn_build_common_t c = {.message_timestamp = next_time(f, t)};
  json_t *m = NULL;
  assert_int_equal(dwn_build_protocols_configure(def, &c, &f->alice.signer, &m), 0);
  assert_int_equal(process(f, m, NULL, 0, NULL, 0, NULL), 202);
  json_decref(m);
  json_decref(def);
}

/* A protocol record: path, parent context (NULL: root), recipient, role
 * invoked; data "x" unless data given. */
static int put(fixture_t *f, ident_t *who, const char *path, const char *parent_ctx, const char *recipient,
               const char *role, const void *data, size_t len, char *code, json_t **out) {
  char t[32];
  dwn_build_write_t w;
  dwn_build_write_init(&w);
  w.protocol = PROTO;
  w.protocol_path = path;
  w.parent_context_id = parent_ctx;
  w.recipient = recipient;
  w.protocol_role = role;
  w.data_format = "text/plain";
  w.has_data = true;
  w.data = data ? data : "x";
  w.data_len = data ? len : 1;
  w.message_timestamp = next_time(f, t);
  json_t *m = NULL;
  assert_int_equal(dwn_build_records_write(&w, &who->signer, &m), 0);
  int rc = process(f, m, w.data, w.data_len, code, 128, NULL);
  if (out) *out = m;
  else json_decref(m);
  return rc;
}

static const char *ctx(const json_t *m) { return json_string_value(json_object_get(m, "contextId")); }
static const char *rid(const json_t *m) { return json_string_value(json_object_get(m, "recordId")); }

static int query_chats(fixture_t *f, ident_t *who, const char *context, char *code, size_t *count) {
  char t[32];
  json_t *filter = json_pack("{s:s,s:s}", "protocol", PROTO, "protocolPath", "thread/chat");
  if (context) json_object_set_new(filter, "contextId", json_string(context));
  dwn_build_common_t c = {.message_timestamp = next_time(f, t), .protocol_role = "thread/participant"};
  json_t *m = NULL, *body = NULL;
  assert_int_equal(dwn_build_records_query(filter, NULL, NULL, &c, &who->signer, &m), 0);
  int rc = process(f, m, NULL, 0, code, 128, &body);
  *count = json_array_size(json_object_get(body, "entries"));
  json_decref(body);
  json_decref(m);
  json_decref(filter);
  return rc;
}

static void test_context_roles(void **state) {
  fixture_t *f = *state;
  configure(f);
  char code[128];
  json_t *thread_a = NULL, *thread_b = NULL, *chat = NULL;
  assert_int_equal(put(f, &f->alice, "thread", NULL, NULL, NULL, NULL, 0, code, &thread_a), 202);
  assert_int_equal(put(f, &f->alice, "thread", NULL, NULL, NULL, NULL, 0, code, &thread_b), 202);
  /* role records need a recipient, one per recipient and context */
  assert_int_equal(put(f, &f->alice, "thread/participant", ctx(thread_a), NULL, NULL, NULL, 0, code, NULL), 400);
  assert_string_equal(code, "ProtocolAuthorizationRoleMissingRecipient");
  assert_int_equal(put(f, &f->alice, "thread/participant", ctx(thread_a), f->bob.did, NULL, NULL, 0, code, NULL), 202);
  assert_int_equal(put(f, &f->alice, "thread/participant", ctx(thread_a), f->bob.did, NULL, NULL, 0, code, NULL), 400);
  assert_string_equal(code, "ProtocolAuthorizationDuplicateRoleRecipient");
  /* carol is a participant of thread B only */
  assert_int_equal(put(f, &f->alice, "thread/participant", ctx(thread_b), f->carol.did, NULL, NULL, 0, code, NULL),
                   202);

  /* bob invokes his role in thread A; not in thread B */
  assert_int_equal(put(f, &f->bob, "thread/chat", ctx(thread_a), NULL, "thread/participant", NULL, 0, code, &chat), 202);
  assert_int_equal(put(f, &f->bob, "thread/chat", ctx(thread_b), NULL, "thread/participant", NULL, 0, code, NULL), 401);
  assert_string_equal(code, "ProtocolAuthorizationMatchingRoleRecordNotFound");
  /* without the role: no rule lets bob create a chat */
  assert_int_equal(put(f, &f->bob, "thread/chat", ctx(thread_a), NULL, NULL, NULL, 0, code, NULL), 401);
  assert_string_equal(code, "ProtocolAuthorizationActionNotAllowed");
  /* a path that is not a role */
  assert_int_equal(put(f, &f->bob, "thread/chat", ctx(thread_a), NULL, "thread", NULL, 0, code, NULL), 401);
  assert_string_equal(code, "ProtocolAuthorizationNotARole");
  /* the protocol's type rules still apply to the role holder */
  char t[32];
  dwn_build_write_t w;
  dwn_build_write_init(&w);
  w.protocol = PROTO;
  w.protocol_path = "thread/chat";
  w.parent_context_id = ctx(thread_a);
  w.protocol_role = "thread/participant";
  w.data_format = "application/json";
  w.has_data = true;
  w.data = "{}";
  w.data_len = 2;
  w.message_timestamp = next_time(f, t);
  json_t *bad = NULL;
  assert_int_equal(dwn_build_records_write(&w, &f->bob.signer, &bad), 0);
  assert_int_equal(process(f, bad, "{}", 2, code, sizeof code, NULL), 400);
  assert_string_equal(code, "ProtocolAuthorizationIncorrectDataFormat");
  json_decref(bad);

  /* role queries: a context role needs filter.contextId; carol sees nothing of thread A */
  size_t n = 0;
  assert_int_equal(query_chats(f, &f->bob, NULL, code, &n), 401);
  assert_string_equal(code, "ProtocolAuthorizationMissingContextId");
  assert_int_equal(query_chats(f, &f->bob, ctx(thread_a), code, &n), 200);
  assert_int_equal(n, 1);
  assert_int_equal(query_chats(f, &f->carol, ctx(thread_a), code, &n), 401);
  assert_string_equal(code, "ProtocolAuthorizationMatchingRoleRecordNotFound");
  assert_int_equal(query_chats(f, &f->carol, ctx(thread_b), code, &n), 200);
  assert_int_equal(n, 0);

  /* a read by carol of bob's chat: no role in thread A, no rule */
  json_t *filter = json_pack("{s:s}", "recordId", rid(chat));
  dwn_build_common_t c = {.message_timestamp = next_time(f, t), .protocol_role = "thread/participant"};
  json_t *rd = NULL;
  assert_int_equal(dwn_build_records_read(filter, &c, &f->carol.signer, &rd), 0);
  assert_int_equal(process(f, rd, NULL, 0, code, sizeof code, NULL), 401);
  assert_string_equal(code, "ProtocolAuthorizationMatchingRoleRecordNotFound");
  json_decref(rd);
  c.message_timestamp = next_time(f, t);
  assert_int_equal(dwn_build_records_read(filter, &c, &f->bob.signer, &rd), 0);
  assert_int_equal(process(f, rd, NULL, 0, code, sizeof code, NULL), 200);
  json_decref(rd);
  json_decref(filter);

  json_decref(chat);
  json_decref(thread_a);
  json_decref(thread_b);
}

static int delete_record(fixture_t *f, ident_t *who, const char *record_id, bool prune, char *code) {
  char t[32];
  dwn_build_common_t c = {.message_timestamp = next_time(f, t)};
  json_t *m = NULL;
  assert_int_equal(dwn_build_records_delete(record_id, prune, &c, &who->signer, &m), 0);
  int rc = process(f, m, NULL, 0, code, 128, NULL);
  json_decref(m);
  return rc;
}

static size_t event_count(fixture_t *f) {
  char t[32];
  dwn_build_common_t c = {.message_timestamp = next_time(f, t)};
  json_t *m = NULL, *body = NULL;
  assert_int_equal(dwn_build_messages_query(NULL, NULL, &c, &f->alice.signer, &m), 0);
  assert_int_equal(process(f, m, NULL, 0, NULL, 0, &body), 200);
  size_t n = json_array_size(json_object_get(body, "entries"));
  json_decref(body);
  json_decref(m);
  return n;
}

static int read_status(fixture_t *f, const char *record_id) {
  char t[32];
  json_t *filter = json_pack("{s:s}", "recordId", record_id);
  dwn_build_common_t c = {.message_timestamp = next_time(f, t)};
  json_t *m = NULL;
  assert_int_equal(dwn_build_records_read(filter, &c, &f->alice.signer, &m), 0);
  int rc = process(f, m, NULL, 0, NULL, 0, NULL);
  json_decref(m);
  json_decref(filter);
  return rc;
}

static void test_deleted_parent_and_deep_prune(void **state) {
  fixture_t *f = *state;
  configure(f);
  char code[128];
  json_t *thread = NULL, *chat = NULL, *file = NULL, *other = NULL;
  assert_int_equal(put(f, &f->alice, "thread", NULL, NULL, NULL, NULL, 0, code, &thread), 202);
  assert_int_equal(put(f, &f->alice, "thread", NULL, NULL, NULL, NULL, 0, code, &other), 202);
  assert_int_equal(put(f, &f->alice, "thread/chat", ctx(thread), NULL, NULL, NULL, 0, code, &chat), 202);
  /* a grandchild with block-engine data (over the inline threshold), within $size */
  size_t big_len = 300000;
  uint8_t *big = malloc(big_len);
  assert_non_null(big);
  testdir_fill(big, big_len, 11);
  assert_int_equal(put(f, &f->alice, "thread/chat/file", ctx(chat), NULL, NULL, big, big_len, code, &file), 202);
  /* $size max */
  uint8_t *huge = calloc(1, 400001);
  assert_non_null(huge);
  assert_int_equal(put(f, &f->alice, "thread/chat/file", ctx(chat), NULL, NULL, huge, 400001, code, NULL), 400);
  assert_string_equal(code, "ProtocolAuthorizationMaxSizeInvalid");
  free(huge);
  const char *file_cid = json_string_value(json_object_get(json_object_get(file, "descriptor"), "dataCid"));
  assert_int_equal(msgstore_data_ref_has(dwn_store(f->dwn), f->alice.did, rid(file), file_cid), 1);
  size_t events_before = event_count(f);

  /* bob may not prune (no rule); alice prunes the thread */
  assert_int_equal(delete_record(f, &f->bob, rid(thread), true, code), 401);
  assert_int_equal(delete_record(f, &f->alice, rid(thread), true, code), 202);
  assert_int_equal(read_status(f, rid(thread)), 404);
  assert_int_equal(read_status(f, rid(chat)), 404);
  assert_int_equal(read_status(f, rid(file)), 404);
  assert_int_equal(read_status(f, rid(other)), 200);
  /* the delete's event is added, the two descendants' events are gone */
  assert_int_equal(event_count(f), events_before + 1 - 2);
  assert_int_equal(msgstore_data_ref_has(dwn_store(f->dwn), f->alice.did, rid(file), file_cid), 0);
  /* a second prune: 404; a child under the deleted thread: no live parent */
  assert_int_equal(delete_record(f, &f->alice, rid(thread), true, code), 404);
  assert_int_equal(put(f, &f->alice, "thread/chat", ctx(thread), NULL, NULL, NULL, 0, code, NULL), 400);
  assert_string_equal(code, "ProtocolAuthorizationIncorrectProtocolPath");
  /* a child declared at the wrong depth */
  assert_int_equal(put(f, &f->alice, "thread/chat/file", ctx(other), NULL, NULL, NULL, 0, code, NULL), 400);
  assert_string_equal(code, "ProtocolAuthorizationIncorrectProtocolPath");

  free(big);
  json_decref(thread);
  json_decref(other);
  json_decref(chat);
  json_decref(file);
}

/* A non-owner whose filter excludes every branch sees nothing (the
 * reference store would answer every record of the tenant). */
static void test_nonowner_query_without_branches(void **state) {
  fixture_t *f = *state;
  configure(f);
  char code[128], t[32];
  json_t *thread = NULL;
  assert_int_equal(put(f, &f->alice, "thread", NULL, NULL, NULL, NULL, 0, code, &thread), 202);
  json_t *filter = json_pack("{s:b,s:s,s:s}", "published", 0, "author", f->carol.did, "recipient", f->carol.did);
  dwn_build_common_t c = {.message_timestamp = next_time(f, t)};
  json_t *m = NULL, *body = NULL;
  assert_int_equal(dwn_build_records_query(filter, NULL, NULL, &c, &f->bob.signer, &m), 0);
  assert_int_equal(process(f, m, NULL, 0, code, sizeof code, &body), 200);
  assert_true(json_is_array(json_object_get(body, "entries")));
  assert_int_equal(json_array_size(json_object_get(body, "entries")), 0);
  json_decref(body);
  json_decref(m);
  /* the owner with the same filter: her own record is not carol's either */
  c.message_timestamp = next_time(f, t);
  json_object_set_new(filter, "author", json_string(f->alice.did));
  json_object_del(filter, "recipient");
  assert_int_equal(dwn_build_records_query(filter, NULL, NULL, &c, &f->alice.signer, &m), 0);
  assert_int_equal(process(f, m, NULL, 0, code, sizeof code, &body), 200);
  assert_int_equal(json_array_size(json_object_get(body, "entries")), 1);
  json_decref(body);
  json_decref(m);
  json_decref(filter);
  json_decref(thread);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tag_schema_types),
      cmocka_unit_test(test_tag_schema_enum_and_numbers),
      cmocka_unit_test(test_tag_schema_strings),
      cmocka_unit_test(test_tag_schema_arrays),
      cmocka_unit_test(test_tags_object_rules),
      cmocka_unit_test(test_rule_set_lookup),
      cmocka_unit_test_setup_teardown(test_context_roles, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deleted_parent_and_deep_prune, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nonowner_query_without_branches, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
