/*
 * dwn_jsonschema: every keyword of jsonschema.h on instances that pass and
 * fail (with the detail's instance path and keyword), the compile-time
 * refusals (unknown keywords, unsupported formats and regex features, bad
 * $ref, limits), the evaluation depth bound with a $ref cycle; then the
 * registry of data_schema.h: add, persistence across reopen, list, remove,
 * refusals, and dwn_data_schema_check on inline writes (application/json
 * only, registered schemas only), and the packaged Anya schemas against
 * sample data.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "dwn/data_schema.h"
#include "dwn/dwn.h"
#include "dwn/jsonschema.h"
#include "err.h"
#include "testdir.h"

static json_t *parse(const char *text) {
  json_error_t error;
  json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &error);
  if (!v) fail_msg("bad test JSON %s: %s", text, error.text);
  return v;
}

typedef struct vector {
  const char *schema;
  const char *instance;
  const char *detail; /* NULL: valid; else the exact detail */
} vector_t;

static const vector_t vectors[] = {
    /* type */
    {"{\"type\":\"string\"}", "\"a\"", NULL},
    {"{\"type\":\"string\"}", "1", "(root): type: must be string"},
    {"{\"type\":\"integer\"}", "1.0", NULL},
    {"{\"type\":\"integer\"}", "1.5", "(root): type: must be integer"},
    {"{\"type\":\"number\"}", "1.5", NULL},
    {"{\"type\":[\"null\",\"boolean\"]}", "false", NULL},
    {"{\"type\":[\"null\",\"boolean\"]}", "{}", "(root): type: must be boolean"},
    {"{\"type\":\"array\"}", "{}", "(root): type: must be array"},
    {"true", "{\"x\":1}", NULL},
    {"false", "1", "(root): false: no value is allowed"},
    /* enum / const */
    {"{\"enum\":[1,\"a\",null,{\"k\":[1]}]}", "1.0", NULL},
    {"{\"enum\":[1,\"a\",null,{\"k\":[1]}]}", "{\"k\":[1]}", NULL},
    {"{\"enum\":[1,\"a\",null,{\"k\":[1]}]}", "{\"k\":[2]}", "(root): enum: not one of the allowed values"},
    {"{\"const\":\"x\"}", "\"x\"", NULL},
    {"{\"const\":\"x\"}", "\"y\"", "(root): const: not the constant value"},
    {"{\"const\":[1,2]}", "[1,2,3]", "(root): const: not the constant value"},
    /* objects */
    {"{\"required\":[\"a\"],\"properties\":{\"a\":{\"type\":\"string\"}}}", "{\"a\":\"v\"}", NULL},
    {"{\"required\":[\"a\"]}", "{\"b\":1}", "(root): required: property 'a' is missing"},
    {"{\"required\":[\"a\"]}", "[1]", NULL},
    {"{\"properties\":{\"a\":{\"type\":\"string\"}}}", "{\"a\":1}", "/a: type: must be string"},
    {"{\"properties\":{\"a\":true},\"additionalProperties\":false}", "{\"a\":1,\"b\":2}",
     "/b: additionalProperties: property not allowed"},
    {"{\"properties\":{\"a\":true},\"additionalProperties\":{\"type\":\"integer\"}}", "{\"a\":\"s\",\"b\":2}", NULL},
    {"{\"additionalProperties\":{\"type\":\"integer\"}}", "{\"b\":\"x\"}", "/b: type: must be integer"},
    {"{\"properties\":{\"a/b\":{\"properties\":{\"c~d\":{\"type\":\"null\"}}}}}", "{\"a/b\":{\"c~d\":0}}",
     "/a~1b/c~0d: type: must be null"},
    /* arrays */
    {"{\"items\":{\"type\":\"integer\"}}", "[1,2,3]", NULL},
    {"{\"items\":{\"type\":\"integer\"}}", "[1,2,\"x\"]", "/2: type: must be integer"},
    {"{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"number\"}],\"items\":false}", "[\"a\",1]", NULL},
    {"{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"number\"}],\"items\":false}", "[\"a\",1,2]",
     "/2: false: no value is allowed"},
    {"{\"prefixItems\":[{\"type\":\"string\"}]}", "[1]", "/0: type: must be string"},
    {"{\"minItems\":2}", "[1]", "(root): minItems: fewer than 2 items"},
    {"{\"maxItems\":1}", "[1,2]", "(root): maxItems: more than 1 items"},
    {"{\"uniqueItems\":true}", "[1,2,{\"a\":1}]", NULL},
    {"{\"uniqueItems\":true}", "[{\"a\":1},2,{\"a\":1.0}]", "(root): uniqueItems: items 0 and 2 are equal"},
    {"{\"uniqueItems\":false}", "[1,1]", NULL},
    /* strings */
    {"{\"minLength\":2}", "\"\xc3\xa9\xc3\xa9\"", NULL},
    {"{\"maxLength\":1}", "\"\xc3\xa9\"", NULL},
    {"{\"maxLength\":1}", "\"ab\"", "(root): maxLength: longer than 1 characters"},
    {"{\"minLength\":3}", "\"ab\"", "(root): minLength: shorter than 3 characters"},
    {"{\"minLength\":3}", "12", NULL},
    {"{\"pattern\":\"^[0-9a-f]{4}$\"}", "\"00af\"", NULL},
    {"{\"pattern\":\"^[0-9a-f]{4}$\"}", "\"00aF\"", "(root): pattern: does not match ^[0-9a-f]{4}$"},
    {"{\"pattern\":\"b+\"}", "\"abbc\"", NULL},
    {"{\"pattern\":\"^\\\\d+\\\\.\\\\d$\"}", "\"12.5\"", NULL},
    {"{\"pattern\":\"^\\\\d+\\\\.\\\\d$\"}", "\"12x5\"", "(root): pattern: does not match ^\\d+\\.\\d$"},
    {"{\"pattern\":\"^a$\"}", "\"a\\u0000b\"", "(root): pattern: does not match ^a$"},
    {"{\"pattern\":\"^(x|y)\\\\w*$\"}", "\"y_z9\"", NULL},
    {"{\"pattern\":\"^(ab){2}c{1,}d{0,2}$\"}", "\"ababccd\"", NULL},
    {"{\"pattern\":\"^(ab){2}c{1,}d{0,2}$\"}", "\"abcd\"", "(root): pattern: does not match ^(ab){2}c{1,}d{0,2}$"},
    {"{\"pattern\":\"^[]a]}$\"}", "\"]}\"", NULL},
    {"{\"format\":\"date-time\"}", "\"2024-02-29T23:59:60.123+05:30\"", NULL},
    {"{\"format\":\"date-time\"}", "\"2023-02-29T00:00:00Z\"", "(root): format: not a date-time"},
    {"{\"format\":\"date-time\"}", "\"2023-01-01T24:00:00Z\"", "(root): format: not a date-time"},
    {"{\"format\":\"date-time\"}", "\"2023-01-01 00:00:00Z\"", "(root): format: not a date-time"},
    {"{\"format\":\"date-time\"}", "\"2023-01-01t00:00:00.5z\"", NULL},
    {"{\"format\":\"uri\"}", "\"https://anya.io/a?b=c#d\"", NULL},
    {"{\"format\":\"uri\"}", "\"urn:isbn:0451450523\"", NULL},
    {"{\"format\":\"uri\"}", "\"/relative/path\"", "(root): format: not a uri"},
    {"{\"format\":\"uri\"}", "\"http://a b\"", "(root): format: not a uri"},
    {"{\"format\":\"uri\"}", "\"http://a%zz\"", "(root): format: not a uri"},
    /* numbers */
    {"{\"minimum\":0,\"maximum\":10}", "10", NULL},
    {"{\"minimum\":0}", "-1", "(root): minimum: -1 < 0"},
    {"{\"maximum\":10}", "10.5", "(root): maximum: 10.5 > 10"},
    {"{\"exclusiveMinimum\":0}", "0", "(root): exclusiveMinimum: 0 <= 0"},
    {"{\"exclusiveMaximum\":1}", "0.999", NULL},
    {"{\"exclusiveMaximum\":1}", "1", "(root): exclusiveMaximum: 1 >= 1"},
    {"{\"multipleOf\":0.1}", "0.3", NULL},
    {"{\"multipleOf\":3}", "10", "(root): multipleOf: 10 is not a multiple of 3"},
    {"{\"minimum\":5}", "\"3\"", NULL},
    /* combinators */
    {"{\"allOf\":[{\"type\":\"integer\"},{\"minimum\":3}]}", "2", "(root): minimum: 2 < 3"},
    {"{\"anyOf\":[{\"type\":\"string\"},{\"minimum\":3}]}", "4", NULL},
    {"{\"anyOf\":[{\"type\":\"string\"},{\"minimum\":3}]}", "2", "(root): anyOf: matches none of 2 schemas"},
    {"{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":3}]}", "2", NULL},
    {"{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":3}]}", "4", "(root): oneOf: matches more than one of 2 schemas"},
    {"{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}", "4", "(root): oneOf: matches none of 2 schemas"},
    {"{\"not\":{\"type\":\"null\"}}", "null", "(root): not: matches the schema it must not"},
    {"{\"not\":{\"type\":\"null\"}}", "0", NULL},
    /* $ref */
    {"{\"$defs\":{\"hex\":{\"type\":\"string\",\"pattern\":\"^[0-9a-f]+$\"}},\"properties\":{\"h\":{\"$ref\":\"#/$defs/"
     "hex\"}}}",
     "{\"h\":\"zz\"}", "/h: pattern: does not match ^[0-9a-f]+$"},
    {"{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"next\":{\"$ref\":\"#/$defs/node\"}}}},\"$ref\":\"#/"
     "$defs/node\"}",
     "{\"next\":{\"next\":{\"next\":7}}}", "/next/next/next: type: must be object"},
    {"{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"https://x.org/s\",\"title\":\"t\","
     "\"description\":\"d\",\"$comment\":\"c\",\"default\":1,\"examples\":[1],\"deprecated\":false,"
     "\"readOnly\":false,\"writeOnly\":false}",
     "1", NULL},
};

static void test_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
    const vector_t *v = &vectors[i];
    json_t *schema_json = parse(v->schema), *instance = parse(v->instance);
    jsonschema_t *s;
    int rc = jsonschema_compile(schema_json, &s);
    if (rc) fail_msg("vector %zu: compile: %s", i, err_msg(rc));
    char detail[JSONSCHEMA_DETAIL_BYTES_MAX];
    rc = jsonschema_validate(s, instance, detail, sizeof detail);
    if (rc != (v->detail ? 1 : 0)) fail_msg("vector %zu (%s on %s): %d %s", i, v->schema, v->instance, rc, detail);
    if (v->detail && strcmp(detail, v->detail) != 0) fail_msg("vector %zu: detail '%s', want '%s'", i, detail, v->detail);
    /* quiet form gives the same answer */
    assert_int_equal(jsonschema_validate(s, instance, NULL, 0), rc);
    jsonschema_free(s);
    json_decref(schema_json);
    json_decref(instance);
  }
}

typedef struct refusal {
  const char *schema;
  int rc;
  const char *message; /* substring of err_msg */
} refusal_t;

static const refusal_t refusals[] = {
    {"{\"patternProperties\":{}}", -EINVAL, "(root): unknown keyword 'patternProperties'"},
    {"{\"properties\":{\"a\":{\"if\":true}}}", -EINVAL, "/properties/a: unknown keyword 'if'"},
    {"{\"items\":[{}]}", -EINVAL, "items must be a schema"},
    {"{\"format\":\"email\"}", -EINVAL, "format 'email' is not supported"},
    {"{\"type\":\"float\"}", -EINVAL, "unknown type 'float'"},
    {"{\"type\":[\"string\",\"string\"]}", -EINVAL, "unknown or repeated"},
    {"{\"minLength\":-1}", -EINVAL, "minLength must be a non-negative integer"},
    {"{\"maxItems\":1.5}", -EINVAL, "maxItems must be a non-negative integer"},
    {"{\"multipleOf\":0}", -EINVAL, "multipleOf must be > 0"},
    {"{\"minimum\":\"1\"}", -EINVAL, "minimum must be a number"},
    {"{\"required\":[1]}", -EINVAL, "required[0] must be a string"},
    {"{\"enum\":1}", -EINVAL, "enum must be an array"},
    {"{\"anyOf\":[]}", -EINVAL, "anyOf must be a non-empty array"},
    {"{\"pattern\":\"(?=a)\"}", -EINVAL, "(? groups"},
    {"{\"pattern\":\"a+?\"}", -EINVAL, "lazy quantifiers"},
    {"{\"pattern\":\"(a)\\\\1\"}", -EINVAL, "escape \\1"},
    {"{\"pattern\":\"\\\\bx\"}", -EINVAL, "escape \\b"},
    {"{\"pattern\":\"[\\\\d]\"}", -EINVAL, "escapes inside [...]"},
    {"{\"pattern\":\"[[:alpha:]]\"}", -EINVAL, "[: [= [. inside"},
    {"{\"pattern\":\"[abc\"}", -EINVAL, "unterminated ["},
    {"{\"pattern\":\"a{2\"}", -EINVAL, "{ is not a {n,m} quantifier"},
    {"{\"pattern\":\"a{,2}\"}", -EINVAL, "{ is not a {n,m} quantifier"},
    {"{\"pattern\":\"a{3,2}\"}", -EINVAL, "out of order"},
    {"{\"pattern\":\"a++\"}", -EINVAL, "nothing to repeat before '+'"},
    {"{\"pattern\":\"a{2}{3}\"}", -EINVAL, "nothing to repeat before '{'"},
    {"{\"pattern\":\"*a\"}", -EINVAL, "nothing to repeat before '*'"},
    {"{\"pattern\":\"(|+)\"}", -EINVAL, "nothing to repeat"},
    {"{\"pattern\":\"^*\"}", -EINVAL, "nothing to repeat"},
    {"{\"pattern\":\"a)\"}", -EINVAL, "unmatched )"},
    {"{\"pattern\":\"(a\"}", -EINVAL, "unmatched ("},
    {"{\"pattern\":\"((a{30}){30}){30}\"}", -E2BIG, "expand beyond"},
    {"{\"pattern\":\"((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+\"}", -E2BIG, "expand beyond"},
    {"{\"$ref\":\"#/definitions/a\"}", -EINVAL, "$ref must be"},
    {"{\"$ref\":\"#/$defs/missing\"}", -EINVAL, "undefined $defs entry 'missing'"},
    {"{\"properties\":{\"a\":{\"$defs\":{}}}}", -EINVAL, "$defs only at the root"},
    {"{\"$schema\":\"http://json-schema.org/draft-07/schema#\"}", -EINVAL, "$schema must be"},
    {"{\"properties\":{\"a\":1}}", -EINVAL, "/properties/a: a schema must be an object or a boolean"},
    {"[]", -EINVAL, "a schema must be an object or a boolean"},
};

static void test_refusals(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
    json_t *schema_json = parse(refusals[i].schema);
    jsonschema_t *s = (jsonschema_t *)1;
    err_clear();
    int rc = jsonschema_compile(schema_json, &s);
    if (rc != refusals[i].rc) fail_msg("refusal %zu (%s): rc %d", i, refusals[i].schema, rc);
    assert_null(s);
    if (!strstr(err_msg(rc), refusals[i].message))
      fail_msg("refusal %zu: message '%s' lacks '%s'", i, err_msg(rc), refusals[i].message);
    json_decref(schema_json);
  }
}

static void test_limits(void **state) {
  (void)state;
  /* nesting beyond JSONSCHEMA_DEPTH_MAX */
  json_t *deep = json_object();
  for (int i = 0; i < JSONSCHEMA_DEPTH_MAX + 2; i++) deep = json_pack("{s:o}", "not", deep);
  jsonschema_t *s;
  assert_int_equal(jsonschema_compile(deep, &s), -E2BIG);
  json_decref(deep);
  /* more than JSONSCHEMA_NODES_MAX subschemas */
  json_t *wide = json_object(), *props = json_object();
  for (int i = 0; i < JSONSCHEMA_NODES_MAX + 1; i++) {
    char name[16];
    snprintf(name, sizeof name, "p%d", i);
    json_object_set_new(props, name, json_true());
  }
  json_object_set_new(wide, "properties", props);
  assert_int_equal(jsonschema_compile(wide, &s), -E2BIG);
  json_decref(wide);
  /* a pattern longer than the limit */
  char *pattern = calloc(JSONSCHEMA_PATTERN_BYTES_MAX + 2, 1);
  memset(pattern, 'a', JSONSCHEMA_PATTERN_BYTES_MAX + 1);
  json_t *long_pattern = json_pack("{s:s}", "pattern", pattern);
  assert_int_equal(jsonschema_compile(long_pattern, &s), -E2BIG);
  json_decref(long_pattern);
  free(pattern);
  /* evaluation depth: a $ref cycle that never descends, and a deep instance */
  json_t *cycle = parse("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/a\"}},\"$ref\":\"#/$defs/a\"}");
  assert_int_equal(jsonschema_compile(cycle, &s), 0);
  char detail[JSONSCHEMA_DETAIL_BYTES_MAX];
  json_t *one = json_integer(1);
  assert_int_equal(jsonschema_validate(s, one, detail, sizeof detail), 1);
  assert_non_null(strstr(detail, "(root): depth: deeper than"));
  jsonschema_free(s);
  json_decref(cycle);
  /* depth failures are not undone by not/anyOf */
  json_t *negated = parse("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/a\"}},\"not\":{\"$ref\":\"#/$defs/a\"}}");
  assert_int_equal(jsonschema_compile(negated, &s), 0);
  assert_int_equal(jsonschema_validate(s, one, detail, sizeof detail), 1);
  assert_non_null(strstr(detail, "depth"));
  jsonschema_free(s);
  json_decref(negated);
  json_t *arrays = parse("{\"items\":{\"$ref\":\"#/$defs/any\"},\"$defs\":{\"any\":{\"items\":{\"$ref\":\"#/$defs/any\"}}}}");
  assert_int_equal(jsonschema_compile(arrays, &s), 0);
  json_t *nested = json_array();
  for (int i = 0; i < JSONSCHEMA_EVAL_DEPTH_MAX; i++) nested = json_pack("[o]", nested);
  assert_int_equal(jsonschema_validate(s, nested, detail, sizeof detail), 1);
  assert_non_null(strstr(detail, "depth: deeper than"));
  jsonschema_free(s);
  json_decref(arrays);
  json_decref(nested);
  /* uniqueItems over the bound fails rather than being skipped */
  json_t *unique = parse("{\"uniqueItems\":true}"), *many = json_array();
  for (int i = 0; i <= JSONSCHEMA_UNIQUE_ITEMS_MAX; i++) json_array_append_new(many, json_integer(i));
  assert_int_equal(jsonschema_compile(unique, &s), 0);
  assert_int_equal(jsonschema_validate(s, many, detail, sizeof detail), 1);
  assert_non_null(strstr(detail, "uniqueItems"));
  jsonschema_free(s);
  json_decref(unique);
  json_decref(many);
  json_decref(one);
}

/* ---- the registry ---------------------------------------------------------- */

#define ASSET_URI "https://anya.io/schemas/rgb-asset/asset"

static const char *asset_schema =
    "{\"type\":\"object\",\"required\":[\"ticker\",\"supply\"],\"properties\":{\"ticker\":{\"type\":\"string\","
    "\"pattern\":\"^[A-Z]{3,8}$\"},\"supply\":{\"type\":\"integer\",\"minimum\":0}}}";

static json_t *write_of(const char *schema, const char *format) {
  json_t *w = json_pack("{s:{s:s,s:s,s:s}}", "descriptor", "interface", "Records", "method", "Write", "dataFormat",
                        format);
  if (schema) json_object_set_new(json_object_get(w, "descriptor"), "schema", json_string(schema));
  return w;
}

static int check(dwn_t *d, const char *schema, const char *format, const char *data, dwn_status_t *st) {
  json_t *w = write_of(schema, format);
  memset(st, 0, sizeof *st);
  int rc = dwn_data_schema_check(d, w, (const uint8_t *)data, strlen(data), NULL, st);
  json_decref(w);
  return rc;
}

static void test_registry(void **state) {
  (void)state;
  char root[512], dir[600];
  assert_int_equal(testdir_make(root, sizeof root, "anya-jsonschema"), 0);
  snprintf(dir, sizeof dir, "%s/dwn", root);
  dwn_data_schemas_t *s;
  assert_int_equal(dwn_data_schemas_open(dir, &s), 0);
  json_t *doc = parse(asset_schema), *list;
  assert_int_equal(dwn_data_schema_add(s, "https://Anya.io/x/", doc), -EINVAL); /* not normalised */
  json_t *bad = parse("{\"format\":\"email\"}");
  assert_int_equal(dwn_data_schema_add(s, ASSET_URI, bad), -EINVAL);
  json_decref(bad);
  assert_int_equal(dwn_data_schema_add(s, ASSET_URI, doc), 0);
  json_t *other = parse("true");
  assert_int_equal(dwn_data_schema_add(s, "https://example.com/b", other), 0);
  assert_int_equal(dwn_data_schema_add(s, "https://example.com/b", other), 0); /* replace */
  assert_int_equal(dwn_data_schema_list(s, &list), 0);
  assert_int_equal(json_array_size(list), 2);
  assert_string_equal(json_string_value(json_array_get(list, 0)), "https://anya.io/schemas/rgb-asset/asset");
  assert_string_equal(json_string_value(json_array_get(list, 1)), "https://example.com/b");
  json_decref(list);
  dwn_data_schemas_close(s);

  /* persisted; the engine opens the same registry */
  dwn_options_t opts = {.dir = dir};
  dwn_t *d;
  assert_int_equal(dwn_open(&opts, &d), 0);
  dwn_status_t st;
  assert_int_equal(check(d, ASSET_URI, "application/json", "{\"ticker\":\"RGBX\",\"supply\":5}", &st), 0);
  assert_true(check(d, ASSET_URI, "application/json", "{\"ticker\":\"rgbx\",\"supply\":5}", &st) < 0);
  assert_int_equal(st.code, 400);
  assert_string_equal(st.detail, "AnyaDataSchemaInvalid: /ticker: pattern: does not match ^[A-Z]{3,8}$");
  assert_true(check(d, ASSET_URI, "application/json", "{\"ticker\":\"RGBX\"}", &st) < 0);
  assert_string_equal(st.detail, "AnyaDataSchemaInvalid: (root): required: property 'supply' is missing");
  assert_true(check(d, ASSET_URI, "application/json", "{\"ticker\":", &st) < 0);
  assert_int_equal(st.code, 400);
  assert_non_null(strstr(st.detail, "AnyaDataSchemaInvalid: (root): data is not JSON"));
  /* other formats, unregistered schemas and schema-less writes are not checked */
  assert_int_equal(check(d, ASSET_URI, "text/plain", "{\"ticker\":\"rgbx\"}", &st), 0);
  assert_int_equal(check(d, "https://example.com/unregistered", "application/json", "not json", &st), 0);
  assert_int_equal(check(d, NULL, "application/json", "not json", &st), 0);
  /* a write without data */
  json_t *w = write_of(ASSET_URI, "application/json");
  assert_int_equal(dwn_data_schema_check(d, w, NULL, 0, NULL, &st), 0);
  json_decref(w);
  dwn_close(d);

  /* remove, and what a damaged registry file does at open */
  assert_int_equal(dwn_data_schemas_open(dir, &s), 0);
  assert_int_equal(dwn_data_schema_remove(s, "https://example.com/b"), 0);
  assert_int_equal(dwn_data_schema_remove(s, "https://example.com/b"), -ENOENT);
  char detail[JSONSCHEMA_DETAIL_BYTES_MAX];
  assert_int_equal(dwn_data_schema_validate(s, "https://example.com/b", other, detail, sizeof detail), -ENOENT);
  dwn_data_schemas_close(s);
  assert_int_equal(dwn_data_schemas_open(dir, &s), 0);
  assert_int_equal(dwn_data_schema_list(s, &list), 0);
  assert_int_equal(json_array_size(list), 1);
  json_decref(list);
  dwn_data_schemas_close(s);
  char path[800];
  snprintf(path, sizeof path, "%s/schemas/0000000000000000000000000000000000000000000000000000000000000000.json", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("{\"uri\":\"https://example.com/c\",\"schema\":true}", f);
  fclose(f);
  assert_int_equal(dwn_data_schemas_open(dir, &s), -EINVAL); /* named for another URI */
  f = fopen(path, "w");
  assert_non_null(f);
  for (unsigned i = 0; i <= DWN_DATA_SCHEMA_DOC_BYTES_MAX; i += 8) fputs("        ", f);
  fclose(f);
  assert_int_equal(dwn_data_schemas_open(dir, &s), -E2BIG); /* a file over the bound is not read */
  json_decref(other);
  json_decref(doc);
  testdir_remove(root);
}

/* The shipped schemas (packaging/dwn) compile and judge sample data. */
static json_t *packaged(const char *name) {
  char path[256];
  snprintf(path, sizeof path, "packaging/dwn/%s.schema.json", name);
  json_error_t error;
  json_t *v = json_load_file(path, JSON_DECODE_INT_AS_REAL, &error);
  if (!v) fail_msg("%s: %s (run from the repository root)", path, error.text);
  return v;
}

typedef struct sample {
  const char *schema;
  const char *data;
  const char *detail;
} sample_t;

#define HEX64 "0e3e2357e806b6cdb1f70b54c3a3a17b6714ee1f0e68bebb44a74b1efd512098"
#define RECORD_ID "bafyreihjzdnfaldcgxyjjl6ep7bfdg5ewycsl6h7aesmxcuueyaafzqmya"

static const sample_t samples[] = {
    {"rgb-asset.asset", "{\"ticker\":\"USDT\",\"name\":\"Tether\",\"precision\":6,\"supply\":\"1000000000000\"}", NULL},
    {"rgb-asset.asset", "{\"ticker\":\"USDT\",\"name\":\"Tether\",\"precision\":19,\"supply\":\"1\"}",
     "/precision: maximum: 19 > 18"},
    {"rgb-asset.asset", "{\"ticker\":\"USDT\",\"name\":\"Tether\",\"precision\":2,\"supply\":\"01\"}",
     "/supply: pattern: does not match ^(0|[1-9][0-9]{0,19})$"},
    {"rgb-asset.asset", "{\"ticker\":\"USDT\",\"name\":\"T\",\"precision\":2,\"supply\":\"1\",\"extra\":1}",
     "/extra: additionalProperties: property not allowed"},
    {"rgb-asset.transfer", "{\"asset\":\"" RECORD_ID "\",\"amount\":\"5\",\"recipient\":\"did:key:z6Mkabc\"}", NULL},
    {"rgb-asset.transfer", "{\"asset\":\"" RECORD_ID "\",\"amount\":\"5\",\"recipient\":\"bob\"}",
     "/recipient: anyOf: matches none of 2 schemas"},
    {"rgb-asset.transfer", "{\"asset\":\"" RECORD_ID "\",\"amount\":\"0\",\"recipient\":\"rgb:inv\"}",
     "/amount: pattern: does not match ^[1-9][0-9]{0,19}$"},
    {"bitcoin-transaction.transaction",
     "{\"txid\":\"" HEX64 "\",\"hex\":\"" HEX64 HEX64 "\",\"outputs\":[{\"value\":1000,\"scriptPubKey\":\"0014ab\"}]}",
     NULL},
    {"bitcoin-transaction.transaction",
     "{\"txid\":\"" HEX64 "\",\"hex\":\"" HEX64 HEX64 "\",\"outputs\":[{\"value\":-1,\"scriptPubKey\":\"00\"}]}",
     "/outputs/0/value: minimum: -1 < 0"},
    {"bitcoin-transaction.transaction", "{\"txid\":\"XYZ\",\"hex\":\"00\"}", "/txid: pattern: does not match ^[0-9a-f]{64}$"},
    {"bitcoin-transaction.block", "{\"hash\":\"" HEX64 "\",\"height\":840000,\"txids\":[\"" HEX64 "\"]}", NULL},
    {"bitcoin-transaction.block", "{\"hash\":\"" HEX64 "\",\"height\":1.5}", "/height: type: must be integer"},
    {"bitcoin-transaction.block", "{\"hash\":\"" HEX64 "\"}", "(root): required: property 'height' is missing"},
};

static void test_packaged(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
    json_t *doc = packaged(samples[i].schema), *data = parse(samples[i].data);
    jsonschema_t *s;
    int rc = jsonschema_compile(doc, &s);
    if (rc) fail_msg("%s: %s", samples[i].schema, err_msg(rc));
    char detail[JSONSCHEMA_DETAIL_BYTES_MAX];
    rc = jsonschema_validate(s, data, detail, sizeof detail);
    if (rc != (samples[i].detail ? 1 : 0)) fail_msg("sample %zu: %d %s", i, rc, detail);
    if (samples[i].detail && strcmp(detail, samples[i].detail) != 0)
      fail_msg("sample %zu: '%s', want '%s'", i, detail, samples[i].detail);
    jsonschema_free(s);
    json_decref(doc);
    json_decref(data);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors),  cmocka_unit_test(test_refusals), cmocka_unit_test(test_limits),
      cmocka_unit_test(test_registry), cmocka_unit_test(test_packaged),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
