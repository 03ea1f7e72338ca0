/*
 * dwn/validate: every interface's valid message passes; each schema rule fails
 * with the code and detail dwn-sdk-js 0.5.2 gives (the expected details were
 * taken from the SDK's answers, see tests/interop/dwn-validate.sh, which
 * compares thousands of generated mutants): §1 step 2 texts, schema lookup,
 * missing required, additional and unevaluated properties, patterns, enums,
 * tag limits, published/datePublished, contextId/protocol, filters,
 * pagination, protocol definitions, permission data, signature payloads,
 * verification methods, encryption, JavaScript key order and String().
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

#include "dwn/validate.h"

#define TS "'2024-01-02T03:04:05.123456Z'"
#define JWS "{'payload':'e30','signatures':[{'protected':'e30','signature':'c2ln'}]}"
#define AUTH "{'signature':" JWS "}"
#define DID "'did:key:z6Mku8szPsZYv1PF9iXdXWMkHyCKW2fTmhX817uZVPPj4YK9'"

/* JSON with ' for " (the tests' literals stay readable) */
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

static const char *RECORDS_WRITE =
    "{'recordId':'r','descriptor':{'interface':'Records','method':'Write','dataCid':'c',"
    "'dataSize':5,'dateCreated':" TS ",'messageTimestamp':" TS ",'dataFormat':'text/plain'},"
    "'authorization':" AUTH "}";
static const char *RECORDS_WRITE_PROTOCOL =
    "{'recordId':'r','contextId':'r','descriptor':{'interface':'Records','method':'Write',"
    "'protocol':'https://example.com/chat','protocolPath':'thread','dataCid':'c','dataSize':5,"
    "'dateCreated':" TS ",'messageTimestamp':" TS ",'dataFormat':'text/plain'},'authorization':" AUTH
    "}";
static const char *RECORDS_QUERY =
    "{'descriptor':{'interface':'Records','method':'Query','messageTimestamp':" TS
    ",'filter':{'published':true}}}";
static const char *PROTOCOL_DEFINITION =
    "{'protocol':'https://example.com/chat','published':true,'types':{'thread':{'dataFormats':"
    "['text/plain']},'reply':{}},'structure':{'thread':{'$actions':[{'who':'anyone','can':"
    "['create']}],'$size':{'max':10},'$tags':{'$requiredTags':['t'],'t':{'type':'string'}},"
    "'reply':{'$role':true,'$actions':[{'role':'thread/reply','can':['read','query','subscribe']}]}}}}";

static const char *VALID[] = {
    "{'recordId':'r','descriptor':{'interface':'Records','method':'Write','dataCid':'c',"
    "'dataSize':5,'dateCreated':" TS ",'messageTimestamp':" TS ",'dataFormat':'text/plain',"
    "'recipient':" DID ",'schema':'https://example.com/s','published':true,'datePublished':" TS
    ",'tags':{'a':'x','b':1,'c':true,'d':['x'],'e':[1,2]}},'authorization':" AUTH "}",
    "{'recordId':'r','contextId':'r/s','descriptor':{'interface':'Records','method':'Write',"
    "'protocol':'p','protocolPath':'a/b','parentId':'r','dataCid':'c','dataSize':0,"
    "'dateCreated':" TS ",'messageTimestamp':" TS ",'dataFormat':'x','published':false},"
    "'authorization':" AUTH ",'attestation':" JWS "}",
    "{'descriptor':{'interface':'Records','method':'Query','messageTimestamp':" TS
    ",'filter':{'author':[" DID "],'dateCreated':{'from':" TS "},'tags':{'a':{'gt':1},'b':{'startsWith':'x'}}},"
    "'dateSort':'publishedDescending','pagination':{'limit':1,'cursor':{'messageCid':'m','value':'v'}}}}",
    "{'descriptor':{'interface':'Records','method':'Read','messageTimestamp':" TS
    ",'filter':{'recordId':'r'}},'authorization':" AUTH "}",
    "{'descriptor':{'interface':'Records','method':'Subscribe','messageTimestamp':" TS
    ",'filter':{'datePublished':{'to':" TS "},'published':true}}}",
    "{'descriptor':{'interface':'Records','method':'Delete','messageTimestamp':" TS
    ",'recordId':'r','prune':false},'authorization':" AUTH "}",
    "{'descriptor':{'interface':'Protocols','method':'Query','messageTimestamp':" TS
    ",'filter':{'protocol':'p'}}}",
    "{'descriptor':{'interface':'Messages','method':'Query','messageTimestamp':" TS
    ",'filters':[]},'authorization':" AUTH "}",
    "{'descriptor':{'interface':'Messages','method':'Read','messageTimestamp':" TS
    ",'messageCid':'bafy'},'authorization':" AUTH "}",
    "{'descriptor':{'interface':'Messages','method':'Subscribe','messageTimestamp':'any text',"
    "'filters':[{'interface':'Records','method':'Delete'}]},'authorization':" AUTH "}",
};

static void expect(const char *text, const char *detail) {
  json_t *msg = J(text);
  dwn_status_t st = {0};
  int rc = dwn_validate_message(msg, &st);
  if (detail == NULL) {
    if (rc != 0) fail_msg("rejected: %s\n  %s", st.detail, text);
  } else {
    assert_int_equal(rc, -EINVAL);
    assert_int_equal(st.code, 400);
    assert_string_equal(st.detail, detail);
  }
  json_decref(msg);
}

/* Sets (value != NULL) or removes the member at "a/b/c" of base; returns the text. */
static char *with(const char *base, const char *path, const char *value) {
  json_t *root = J(base);
  char *p = strdup(path), *save = NULL;
  json_t *at = root;
  char *key = strtok_r(p, "/", &save), *next;
  while ((next = strtok_r(NULL, "/", &save)) != NULL) {
    at = json_object_get(at, key);
    assert_non_null(at);
    key = next;
  }
  if (value) json_object_set_new(at, key, J(value));
  else json_object_del(at, key);
  char *out = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
  for (char *q = out; *q; q++)
    if (*q == '"') *q = '\'';
  free(p);
  json_decref(root);
  return out;
}

static void expect_with(const char *base, const char *path, const char *value, const char *detail) {
  char *text = with(base, path, value);
  expect(text, detail);
  free(text);
}

static void test_valid_messages(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof VALID / sizeof VALID[0]; i++) expect(VALID[i], NULL);
  expect(RECORDS_WRITE, NULL);
  expect(RECORDS_WRITE_PROTOCOL, NULL);
  expect(RECORDS_QUERY, NULL);
  char *configure = malloc(4096);
  snprintf(configure, 4096,
           "{'descriptor':{'interface':'Protocols','method':'Configure','messageTimestamp':" TS
           ",'definition':%s},'authorization':" AUTH "}",
           PROTOCOL_DEFINITION);
  expect(configure, NULL);
  dwn_schema_t schema;
  json_t *msg = J(configure);
  assert_int_equal(dwn_validate_message_schema(msg, &schema, NULL), 0);
  assert_int_equal(schema, DWN_SCHEMA_PROTOCOLS_CONFIGURE);
  json_decref(msg);
  free(configure);
}

static void test_interface_and_method(void **state) {
  (void)state;
  expect_with(RECORDS_WRITE, "descriptor/interface", NULL,
              "Both interface and method must be present, interface: undefined, method: Write");
  expect_with(RECORDS_WRITE, "descriptor/method", NULL,
              "Both interface and method must be present, interface: Records, method: undefined");
  expect_with(RECORDS_WRITE, "descriptor/method", NULL,
              "Both interface and method must be present, interface: Records, method: undefined");
  expect("{'descriptor':{'interface':1.5}}",
         "Both interface and method must be present, interface: 1.5, method: undefined");
  expect("{'descriptor':{'interface':1e21}}",
         "Both interface and method must be present, interface: 1e+21, method: undefined");
  expect("{'descriptor':{'interface':1e-7}}",
         "Both interface and method must be present, interface: 1e-7, method: undefined");
  expect("{'descriptor':{'interface':[null,'a',['b','c']],'x':{}}}",
         "Both interface and method must be present, interface: ,a,b,c, method: undefined");
  expect("{'descriptor':{'method':{}}}",
         "Both interface and method must be present, interface: undefined, method: [object Object]");
  expect("'text'", "Both interface and method must be present, interface: undefined, method: undefined");
  expect("{'descriptor':'x'}",
         "Both interface and method must be present, interface: undefined, method: undefined");
  /* the schema is looked up by String(interface) + String(method) */
  expect_with(RECORDS_WRITE, "descriptor/method", "'Count'",
              "SchemaValidatorSchemaNotFound: schema for RecordsCount not found.");
  expect_with(RECORDS_WRITE, "descriptor/interface", "true",
              "SchemaValidatorSchemaNotFound: schema for trueWrite not found.");
  char *text = with(RECORDS_WRITE, "descriptor/interface", "true");
  expect_with(text, "descriptor/method", "false",
              "SchemaValidatorSchemaNotFound: schema for 1 not found.");
  free(text);
  expect_with(RECORDS_WRITE, "descriptor/interface", "['Records']",
              "SchemaValidatorFailure: /descriptor/interface: must be string");
  expect_with(RECORDS_WRITE, "descriptor/method", "'Filter'",
              "SchemaValidatorAdditionalPropertyNotAllowed: must NOT have additional properties: "
              "RecordsFilter: descriptor"); /* recordId is a RecordsFilter property */
}

static void test_records_write_rules(void **state) {
  (void)state;
  expect_with(RECORDS_WRITE, "recordId", NULL,
              "SchemaValidatorFailure: RecordsWrite: must have required property 'recordId'");
  expect_with(RECORDS_WRITE, "authorization", NULL,
              "SchemaValidatorFailure: RecordsWrite: must have required property 'authorization'");
  expect_with(RECORDS_WRITE, "descriptor/dataCid", NULL,
              "SchemaValidatorFailure: /descriptor: must have required property 'dataCid'");
  expect_with(RECORDS_WRITE, "encodedData", "'aGk'",
              "SchemaValidatorUnevaluatedPropertyNotAllowed: must NOT have unevaluated properties: "
              "RecordsWrite: encodedData");
  expect_with(RECORDS_WRITE, "descriptor/x", "1",
              "SchemaValidatorAdditionalPropertyNotAllowed: must NOT have additional properties: "
              "/descriptor: x");
  expect_with(RECORDS_WRITE, "descriptor/dataSize", "'5'",
              "SchemaValidatorFailure: /descriptor/dataSize: must be number");
  expect_with(RECORDS_WRITE, "descriptor/messageTimestamp", "'2024-01-02T03:04:05.123Z'",
              "SchemaValidatorFailure: /descriptor/messageTimestamp: must match pattern "
              "\"^\\d{4}-[0-1]\\d-[0-3]\\dT(?:[0-2]\\d:[0-5]\\d:[0-5]\\d|23:59:60)\\.\\d{6}Z$\"");
  expect_with(RECORDS_WRITE, "descriptor/interface", "'Records'", NULL);
  expect_with(RECORDS_WRITE, "descriptor/recipient", "'did:Key:x'",
              "SchemaValidatorFailure: /descriptor/recipient: must match pattern \"^did:([a-z0-9]+):"
              "((?:(?:[a-zA-Z0-9._-]|(?:%[0-9a-fA-F]{2}))*:)*((?:[a-zA-Z0-9._-]|(?:%[0-9a-fA-F]{2}))+))"
              "((;[a-zA-Z0-9_.:%-]+=[a-zA-Z0-9_.:%-]*)*)(/[^#?]*)?([?][^#]*)?(#.*)?$\"");
  expect_with(RECORDS_WRITE_PROTOCOL, "descriptor/protocolPath", "'a//b'",
              "SchemaValidatorFailure: /descriptor/protocolPath: must match pattern "
              "\"^[a-zA-Z]+(/[a-zA-Z]+)*$\"");
  expect_with(RECORDS_WRITE_PROTOCOL, "contextId", "'a/'",
              "SchemaValidatorFailure: /contextId: must match pattern \"^[a-zA-Z0-9]+(/[a-zA-Z0-9]+)*$\"");
  /* published / datePublished */
  expect_with(RECORDS_WRITE, "descriptor/published", "true",
              "SchemaValidatorFailure: /descriptor: must have required property 'datePublished'");
  expect_with(RECORDS_WRITE, "descriptor/datePublished", TS,
              "SchemaValidatorFailure: /descriptor: must have required property 'published'");
  char *text = with(RECORDS_WRITE, "descriptor/published", "false");
  expect(text, NULL);
  expect_with(text, "descriptor/datePublished", TS,
              "SchemaValidatorFailure: /descriptor/published: must be equal to one of the allowed values");
  free(text);
  /* contextId iff protocol and protocolPath */
  expect_with(RECORDS_WRITE, "contextId", "'abc'",
              "SchemaValidatorFailure: /descriptor: must have required property 'protocol'");
  expect_with(RECORDS_WRITE_PROTOCOL, "contextId", NULL,
              "SchemaValidatorFailure: RecordsWrite: must have required property 'contextId'");
  expect_with(RECORDS_WRITE_PROTOCOL, "descriptor/protocolPath", NULL,
              "SchemaValidatorFailure: /descriptor: must have required property 'protocolPath'");
  expect_with(RECORDS_WRITE, "descriptor/parentId", "'p'",
              "SchemaValidatorFailure: /descriptor: must have property protocol when property "
              "parentId is present");
}

static void test_tags(void **state) {
  (void)state;
  char tags[512] = "{";
  for (int i = 0; i < 11; i++) {
    char one[16];
    snprintf(one, sizeof one, "%s't%d':%d", i ? "," : "", i, i);
    strcat(tags, one);
    char *current = malloc(strlen(tags) + 2);
    sprintf(current, "%s}", tags);
    expect_with(RECORDS_WRITE, "descriptor/tags", current,
                i < 10 ? NULL : "SchemaValidatorFailure: /descriptor/tags: must NOT have more than 10 properties");
    free(current);
  }
  expect_with(RECORDS_WRITE, "descriptor/tags", "{}",
              "SchemaValidatorFailure: /descriptor/tags: must NOT have fewer than 1 properties");
  expect_with(RECORDS_WRITE, "descriptor/tags", "{'a':['1','2','3','4','5','6','7','8','9','10']}", NULL);
  expect_with(RECORDS_WRITE, "descriptor/tags", "{'a':['1','2','3','4','5','6','7','8','9','10','11']}",
              "SchemaValidatorFailure: /descriptor/tags/a: must be string");
  expect_with(RECORDS_WRITE, "descriptor/tags", "{'a/b~':[1,'x']}",
              "SchemaValidatorFailure: /descriptor/tags/a~1b~0: must be string");
  expect_with(RECORDS_WRITE, "descriptor/tags", "{'a':[]}",
              "SchemaValidatorFailure: /descriptor/tags/a: must be string");
}

static void test_queries(void **state) {
  (void)state;
  expect_with(RECORDS_QUERY, "descriptor/filter", "{}",
              "SchemaValidatorFailure: /descriptor/filter: must NOT have fewer than 1 properties");
  expect_with(RECORDS_QUERY, "descriptor/filter", NULL,
              "SchemaValidatorFailure: /descriptor: must have required property 'filter'");
  expect_with(RECORDS_QUERY, "x", "1",
              "SchemaValidatorAdditionalPropertyNotAllowed: must NOT have additional properties: "
              "RecordsQuery: x");
  expect_with(RECORDS_QUERY, "descriptor/dateSort", "'created'",
              "SchemaValidatorFailure: /descriptor/dateSort: must be equal to one of the allowed values");
  expect_with(RECORDS_QUERY, "descriptor/pagination", "{'limit':0}",
              "SchemaValidatorFailure: /descriptor/pagination/limit: must be >= 1");
  expect_with(RECORDS_QUERY, "descriptor/pagination", "{'limit':1,'cursor':{'messageCid':'m'}}",
              "SchemaValidatorFailure: /descriptor/pagination/cursor: must have required property 'value'");
  expect_with(RECORDS_QUERY, "descriptor/pagination", "{'cursor':{'messageCid':'m','value':true}}",
              "SchemaValidatorFailure: /descriptor/pagination/cursor/value: must be string,number");
  expect_with(RECORDS_QUERY, "descriptor/filter",
              "{'published':false,'datePublished':{'from':" TS "}}",
              "SchemaValidatorFailure: /descriptor/filter/published: must be equal to one of the allowed values");
  expect_with(RECORDS_QUERY, "descriptor/filter", "{'dataSize':{'gt':1,'gte':2}}",
              "SchemaValidatorFailure: /descriptor/filter/dataSize: must NOT be valid");
  expect_with(RECORDS_QUERY, "descriptor/filter", "{'author':[" DID ",'bad']}",
              "SchemaValidatorFailure: /descriptor/filter/author: must be string");
  /* JavaScript key order: array-index keys first */
  expect_with(RECORDS_QUERY, "descriptor/filter", "{'published':true,'b':1,'10':2,'9':3}",
              "SchemaValidatorAdditionalPropertyNotAllowed: must NOT have additional properties: "
              "/descriptor/filter: 9");
}

static void test_protocol_definition(void **state) {
  (void)state;
  json_t *def = J(PROTOCOL_DEFINITION);
  dwn_status_t st;
  assert_int_equal(dwn_validate_protocol_definition(def, &st), 0);
  json_decref(def);
  static const struct {
    const char *path, *value, *detail;
  } cases[] = {
      {"types", NULL, "SchemaValidatorFailure: ProtocolDefinition: must have required property 'types'"},
      {"structure/thread/$unknown", "1",
       "SchemaValidatorAdditionalPropertyNotAllowed: must NOT have additional properties: "
       "/structure/thread: $unknown"},
      {"structure/thread/$actions", "[{'who':'anyone','can':['query']}]",
       "SchemaValidatorFailure: /structure/thread/$actions/0/can/0: must be equal to one of the allowed values"},
      /* who and role together still match the role rule (no additionalProperties there) */
      {"structure/thread/$actions", "[{'who':'anyone','role':'x','can':['read']}]", NULL},
      {"structure/thread/$actions", "[{'who':'anyone','can':['read'],'x':1}]",
       "SchemaValidatorAdditionalPropertyNotAllowed: must NOT have additional properties: "
       "/structure/thread/$actions/0: x"},
      {"structure/thread/$actions", "[]",
       "SchemaValidatorFailure: /structure/thread/$actions: must NOT have fewer than 1 items"},
      {"structure/thread/$size", "{'min':-1}", "SchemaValidatorFailure: /structure/thread/$size/min: must be >= 0"},
      {"structure/thread/$tags", "{}",
       "SchemaValidatorFailure: /structure/thread/$tags: must NOT have fewer than 1 properties"},
      {"structure/thread/$tags", "{'t':{'type':'object'}}",
       "SchemaValidatorFailure: /structure/thread/$tags/t/type: must be equal to one of the allowed values"},
      {"structure/thread/$tags", "{'t':{'pattern':'x'}}",
       "SchemaValidatorAdditionalPropertyNotAllowed: must NOT have additional properties: "
       "/structure/thread/$tags/t: pattern"},
      {"structure/thread/$role", "'yes'", "SchemaValidatorFailure: /structure/thread/$role: must be boolean"},
      {"structure/thread/reply/deeper", "{'$x':1}",
       "SchemaValidatorAdditionalPropertyNotAllowed: must NOT have additional properties: "
       "/structure/thread/reply/deeper: $x"},
      {"types/thread/dataFormats", "[]",
       "SchemaValidatorFailure: /types/thread/dataFormats: must NOT have fewer than 1 items"},
      {"structure/thread/$encryption", "{'rootKeyId':'k','publicKeyJwk':{'kty':'EC','crv':'c','x':'x','d':'d'}}",
       "SchemaValidatorFailure: /structure/thread/$encryption/publicKeyJwk: must NOT be valid"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *text = with(PROTOCOL_DEFINITION, cases[i].path, cases[i].value);
    def = J(text);
    int rc = dwn_validate_protocol_definition(def, &st);
    if (!cases[i].detail ? rc != 0 : rc != -EINVAL || strcmp(st.detail, cases[i].detail) != 0)
      fail_msg("case %zu: rc %d detail %s", i, rc, st.detail);
    json_decref(def);
    free(text);
  }
  /* nesting is bounded: a very deep structure is refused, not a stack overflow */
  size_t levels = 1500; /* below jansson's parser limit (2048) */
  char *deep = malloc(levels * 8 + 256);
  strcpy(deep, "{'protocol':'p','published':true,'types':{},'structure':{'a':");
  for (size_t i = 0; i < levels; i++) strcat(deep, "{'a':");
  strcat(deep, "{}");
  for (size_t i = 0; i < levels; i++) strcat(deep, "}");
  strcat(deep, "}}");
  json_error_t error;
  for (char *p = deep; *p; p++)
    if (*p == '\'') *p = '"';
  def = json_loads(deep, 0, &error);
  assert_non_null(def);
  {
    assert_int_equal(dwn_validate_protocol_definition(def, &st), -EINVAL);
    assert_non_null(strstr(st.detail, "nesting too deep"));
    json_decref(def);
  }
  free(deep);
}

static void expect_schema(dwn_schema_t schema, const char *text, const char *detail) {
  json_t *v = J(text);
  dwn_status_t st = {0};
  int rc = dwn_validate_schema(schema, v, &st);
  if (!detail) {
    if (rc != 0) fail_msg("%s rejected: %s", text, st.detail);
  } else {
    assert_int_equal(rc, -EINVAL);
    assert_string_equal(st.detail, detail);
  }
  json_decref(v);
}

static void test_documents(void **state) {
  (void)state;
  expect_schema(DWN_SCHEMA_PERMISSION_GRANT_DATA,
                "{'dateExpires':" TS ",'scope':{'interface':'Records','method':'Write','protocol':'p'}}", NULL);
  expect_schema(DWN_SCHEMA_PERMISSION_GRANT_DATA, "{'scope':{}}",
                "SchemaValidatorFailure: PermissionGrantData: must have required property 'dateExpires'");
  expect_schema(DWN_SCHEMA_PERMISSION_GRANT_DATA,
                "{'dateExpires':" TS ",'scope':{'interface':'Records','method':'Write','protocol':'p'},"
                "'conditions':{'publication':'Maybe'}}",
                "SchemaValidatorFailure: /conditions/publication: must be equal to one of the allowed values");
  expect_schema(DWN_SCHEMA_PERMISSION_GRANT_DATA,
                "{'dateExpires':" TS ",'scope':{'interface':'Messages','method':'Query','contextId':'c'}}",
                "SchemaValidatorAdditionalPropertyNotAllowed: must NOT have additional properties: /scope: contextId");
  expect_schema(DWN_SCHEMA_PERMISSION_REQUEST_DATA,
                "{'delegated':false,'scope':{'interface':'Protocols','method':'Query'}}", NULL);
  expect_schema(DWN_SCHEMA_PERMISSION_REVOCATION_DATA, "{'description':1}",
                "SchemaValidatorFailure: /description: must be string");
  expect_schema(DWN_SCHEMA_GENERIC_SIGNATURE_PAYLOAD, "{'descriptorCid':'c','recordId':'r'}",
                "SchemaValidatorAdditionalPropertyNotAllowed: must NOT have additional properties: "
                "GenericSignaturePayload: recordId");
  expect_schema(DWN_SCHEMA_RECORDS_WRITE_SIGNATURE_PAYLOAD, "{'descriptorCid':'c'}",
                "SchemaValidatorFailure: RecordsWriteSignaturePayload: must have required property 'recordId'");
  expect_schema(DWN_SCHEMA_JWK_VERIFICATION_METHOD,
                "{'id':'#k','type':'JsonWebKey2020','controller':" DID
                ",'publicKeyJwk':{'kty':'OKP','crv':'Ed25519','x':'x'}}",
                NULL);
  expect_schema(DWN_SCHEMA_JWK_VERIFICATION_METHOD,
                "{'id':'#k','type':'JsonWebKey2020','controller':" DID
                ",'publicKeyJwk':{'kty':'OKP','crv':'Ed25519','x':'x','d':'d'}}",
                "SchemaValidatorFailure: /publicKeyJwk: must NOT be valid");
  expect_schema(DWN_SCHEMA_JWK_VERIFICATION_METHOD,
                "{'id':'#k','type':'JsonWebKey2020','controller':" DID ",'publicKeyJwk':{'crv':'c','x':'x'}}",
                "SchemaValidatorFailure: /publicKeyJwk: must match exactly one schema in oneOf");
  /* a delegated grant is a RecordsWrite with encodedData */
  char *grant = with(RECORDS_WRITE, "encodedData", "'e30'");
  expect_schema(DWN_SCHEMA_RECORDS_WRITE_DATA_ENCODED, grant, NULL);
  json_t *g = J(grant);
  dwn_status_t st;
  assert_int_equal(dwn_validate_records_write_data_encoded(g, &st), 0);
  json_decref(g);
  free(grant);
  expect_schema(DWN_SCHEMA_RECORDS_WRITE_DATA_ENCODED, RECORDS_WRITE,
                "SchemaValidatorFailure: RecordsWriteDataEncoded: must have required property 'encodedData'");
  /* encryption */
  const char *enc =
      "{'algorithm':'A256CTR','initializationVector':'aXY','keyEncryption':[{'rootKeyId':'k',"
      "'derivationScheme':'schemas','algorithm':'ECIES-ES256K','encryptedKey':'a2V5',"
      "'initializationVector':'aXY','messageAuthenticationCode':'bWFj','ephemeralPublicKey':"
      "{'kty':'EC','crv':'secp256k1','x':'x','y':'y'}}]}";
  json_t *e = J(enc);
  assert_int_equal(dwn_validate_encryption(e, &st), 0);
  json_decref(e);
  char *bad = with(enc, "initializationVector", "'a=b'");
  e = J(bad);
  assert_int_equal(dwn_validate_encryption(e, &st), -EINVAL);
  assert_string_equal(st.detail, "SchemaValidatorFailure: /encryption/initializationVector: must match pattern \"^[A-Za-z0-9_-]+$\"");
  json_decref(e);
  free(bad);
  bad = with(RECORDS_WRITE, "encryption", "{'algorithm':'A128GCM','initializationVector':'aXY','keyEncryption':[]}");
  expect(bad, "SchemaValidatorFailure: /encryption/algorithm: must be equal to one of the allowed values");
  free(bad);
}

static void test_names_and_strings(void **state) {
  (void)state;
  for (int i = 0; i < DWN_SCHEMA_COUNT; i++) {
    dwn_schema_t back;
    assert_int_equal(dwn_validate_schema_lookup(dwn_validate_schema_name((dwn_schema_t)i), &back), 0);
    assert_int_equal(back, i);
  }
  assert_int_equal(dwn_validate_schema_lookup("EventsGet", NULL), -ENOENT);
  static const struct {
    const char *json, *text;
  } cases[] = {{"0", "0"},       {"-0.0", "0"},         {"1.5", "1.5"},   {"100", "100"},
               {"1e21", "1e+21"}, {"1.5e300", "1.5e+300"}, {"1e-6", "0.000001"}, {"1.25e-7", "1.25e-7"},
               {"123456789.125", "123456789.125"}, {"0.1", "0.1"}, {"1e20", "100000000000000000000"},
               {"9007199254740993", "9007199254740992"}, {"-9223372036854775807", "-9223372036854776000"},
               {"[1,[2,null],'x']", "1,2,,x"}, {"{}", "[object Object]"}, {"null", "null"}, {"true", "true"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *v = J(cases[i].json);
    char out[64];
    assert_string_equal(dwn_validate_js_string(v, out, sizeof out), cases[i].text);
    json_decref(v);
  }
  assert_true(dwn_validate_is_did("did:web:example.com%3A8080:u;p=1/path?q#f", 41));
  assert_false(dwn_validate_is_did("did:ex:a:", 9));
  assert_false(dwn_validate_is_did("did:ex:a#f\nx", 12));
  assert_true(dwn_validate_is_base64url("a-_Z9", 5));
  assert_false(dwn_validate_is_base64url("", 0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_messages),      cmocka_unit_test(test_interface_and_method),
      cmocka_unit_test(test_records_write_rules), cmocka_unit_test(test_tags),
      cmocka_unit_test(test_queries),             cmocka_unit_test(test_protocol_definition),
      cmocka_unit_test(test_documents),           cmocka_unit_test(test_names_and_strings),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
