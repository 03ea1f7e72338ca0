/*
 * dwn/rpc: dwn-server's JSON-RPC envelope and the dot-notation query of its
 * convenience reads.  Integral ids come back as integers, a missing or null
 * id becomes a UUID v4, params and subscription are picked out, malformed
 * requests fail with an id for the error reply; query options nest, repeat
 * into arrays, percent-decode, coerce the schema's numbers and booleans, and
 * refuse conflicting or over-deep keys.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dwn/rpc.h"

static char *dump(const json_t *v) { return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY); }

static void assert_json(const json_t *v, const char *want) {
  char *got = dump(v);
  assert_string_equal(got, want);
  free(got);
}

static void test_parse(void **state) {
  (void)state;
  const char *text = "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"rpc.subscribe.dwn.processMessage\","
                     "\"params\":{\"target\":\"did:key:z6Mk\",\"message\":{\"descriptor\":{\"dataSize\":5}},\"encodedData\":\"aGk\"},"
                     "\"subscription\":{\"id\":3}}";
  dwn_rpc_req_t r;
  assert_int_equal(dwn_rpc_parse(text, strlen(text), &r), 0);
  assert_string_equal(r.method, "rpc.subscribe.dwn.processMessage");
  assert_string_equal(r.target, "did:key:z6Mk");
  assert_string_equal(r.encoded_data, "aGk");
  assert_true(json_is_real(json_object_get(json_object_get(r.message, "descriptor"), "dataSize"))); /* as the engine wants */
  assert_json(r.id, "12");
  assert_true(r.has_subscription);
  assert_json(r.subscription_id, "3");
  json_t *reply = dwn_rpc_result(r.id, json_pack("{s:i}", "n", 1));
  assert_json(reply, "{\"id\":12,\"jsonrpc\":\"2.0\",\"result\":{\"n\":1}}");
  json_decref(reply);
  json_t *err = dwn_rpc_error(r.id, DWN_RPC_INVALID_PARAMS, "no");
  assert_json(err, "{\"error\":{\"code\":-32602,\"message\":\"no\"},\"id\":12,\"jsonrpc\":\"2.0\"}");
  json_decref(err);
  dwn_rpc_release(&r);
}

static void test_ids(void **state) {
  (void)state;
  dwn_rpc_req_t r;
  const char *no_id = "{\"jsonrpc\":\"2.0\",\"method\":\"m\"}";
  assert_int_equal(dwn_rpc_parse(no_id, strlen(no_id), &r), 0);
  assert_true(json_is_string(r.id));
  const char *u = json_string_value(r.id);
  assert_int_equal(strlen(u), 36);
  assert_int_equal(u[14], '4');
  assert_null(r.target);
  assert_null(r.message);
  assert_false(r.has_subscription);
  dwn_rpc_release(&r);
  const char *frac = "{\"id\":1.5,\"method\":\"m\"}";
  assert_int_equal(dwn_rpc_parse(frac, strlen(frac), &r), 0);
  assert_json(r.id, "1.5");
  dwn_rpc_release(&r);
  const char *str = "{\"id\":\"abc\",\"method\":\"m\",\"params\":{\"message\":\"not an object\"}}";
  assert_int_equal(dwn_rpc_parse(str, strlen(str), &r), 0);
  assert_json(r.id, "\"abc\"");
  assert_null(r.message);
  dwn_rpc_release(&r);
}

static void test_bad(void **state) {
  (void)state;
  static const char *const bad[] = {"", "{", "[1]", "\"x\"", "{\"id\":1}", "{\"method\":5}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    dwn_rpc_req_t r;
    assert_int_equal(dwn_rpc_parse(bad[i], strlen(bad[i]), &r), -EINVAL);
    if (strcmp(bad[i], "{\"id\":1}") == 0) assert_json(r.id, "1"); /* the error reply echoes it */
    else assert_true(json_is_string(r.id));
    assert_null(r.root);
    dwn_rpc_release(&r);
  }
}

static void test_query(void **state) {
  (void)state;
  json_t *o = NULL;
  assert_int_equal(dwn_rpc_query_options("filter.protocol=http%3A%2F%2Fx.com%2Fa&filter.protocolPath=post&"
                                         "pagination.limit=5&filter.dataSize.gte=10&filter.published=true&dateSort=createdDescending&"
                                         "filter.tags.t=a+b&filter.author=x&filter.author=y", &o), 0);
  assert_json(o, "{\"dateSort\":\"createdDescending\",\"filter\":{\"author\":[\"x\",\"y\"],\"dataSize\":{\"gte\":10.0},"
                 "\"protocol\":\"http://x.com/a\",\"protocolPath\":\"post\",\"published\":true,\"tags\":{\"t\":\"a b\"}},"
                 "\"pagination\":{\"limit\":5.0}}");
  json_decref(o);
  assert_int_equal(dwn_rpc_query_options("", &o), 0);
  assert_json(o, "{}");
  json_decref(o);
  assert_int_equal(dwn_rpc_query_options("pagination.limit=many", &o), 0); /* left a string: the schema refuses it */
  assert_json(o, "{\"pagination\":{\"limit\":\"many\"}}");
  json_decref(o);
  static const char *const bad[] = {"a=1&a.b=2", "a.b=1&a=2", "a..b=1", ".a=1", "a.=1", "a%00=1",
                                    "a.b.c.d.e.f.g.h=1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(dwn_rpc_query_options(bad[i], &o), -EINVAL);
    assert_null(o);
  }
  char many[4096] = "";
  for (int i = 0; i <= DWN_RPC_QUERY_PARAMS_MAX; i++) snprintf(many + strlen(many), sizeof many - strlen(many), "k%d=1&", i);
  assert_int_equal(dwn_rpc_query_options(many, &o), -EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_ids),
      cmocka_unit_test(test_bad),
      cmocka_unit_test(test_query),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
