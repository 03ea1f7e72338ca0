/*
 * dwn/validate: the JSON-schema checks dwn-sdk-js 0.5.2 runs on every message
 * (dwn-reference.md §1 steps 2-3, §2) and on the other documents handlers
 * check: protocol definitions (§9.1), permission data (§10), signature payloads
 * (§4.2), DID verification methods (§4.4), the encryption object (§11) and
 * delegated grants (RecordsWrite with encodedData, §2.7).
 *
 * The SDK validates with ajv (draft 2020-12, allErrors off) and reports only
 * the first error ajv records, as
 *   SchemaValidatorFailure: <instancePath or schema name>: <ajv message>
 *   SchemaValidatorAdditionalPropertyNotAllowed: must NOT have additional properties: <path>: <key>
 *   SchemaValidatorUnevaluatedPropertyNotAllowed: must NOT have unevaluated properties: <path>: <key>
 *   SchemaValidatorSchemaNotFound: schema for <name> not found.
 * The schemas are written here in C as tables of schema nodes, and one small
 * evaluator walks them in ajv's order, so the first error is the same one:
 *   - a schema whose only keyword is $ref is the referenced schema;
 *   - the type check comes first, unless the schema names one type and has
 *     keywords for that type (then it comes where that type's keywords run);
 *   - then $ref, const, enum, not, anyOf, oneOf, allOf;
 *   - then per data type: minimum; pattern; maxItems, minItems, items;
 *     maxProperties, minProperties, required, additionalProperties,
 *     dependencies, properties (in schema order), patternProperties,
 *     unevaluatedProperties;
 *   - object keys are visited in JavaScript order (array-index keys ascending,
 *     then insertion order);
 *   - anyOf/oneOf keep the errors of failed branches: when none passes, the
 *     first branch's first error is the one reported; oneOf with several
 *     passing reports "must match exactly one schema in oneOf".
 * Numbers: a JSON integer and a JSON real are both "number".  Strings are
 * matched as UTF-8; the patterns are hand-written matchers of the schemas'
 * regular expressions (JavaScript semantics, 'u' flag).
 *
 * Every function returns 0 when the value is valid, else fills st with
 * {400, detail} and returns -EINVAL; -ENOMEM (st untouched) when out of memory.
 * Inputs are borrowed; nothing is retained.  A call allocates one small
 * context (and a key list for objects over 32 members), freed before it
 * returns; the schema tables are static and read-only, so calls may run
 * concurrently.  Recursion follows the data
 * (protocol rule sets nest): at most DWN_VALIDATE_DEPTH_MAX schema levels,
 * deeper input fails with SchemaValidatorFailure "<path>: nesting too deep"
 * (ajv has no limit; jansson's parser already caps JSON depth at 2048).
 */
#ifndef ANYA_DWN_VALIDATE_H
#define ANYA_DWN_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>

#include "dwn/status.h"

#define DWN_VALIDATE_DEPTH_MAX 400       /* nested schema applications */
#define DWN_VALIDATE_PATH_BYTES_MAX 320  /* instancePath kept in a detail */

/* Every schema the SDK exports, by its export name (dwn_validate_schema_name). */
typedef enum dwn_schema {
  DWN_SCHEMA_AUTHORIZATION,
  DWN_SCHEMA_AUTHORIZATION_DELEGATED_GRANT,
  DWN_SCHEMA_AUTHORIZATION_OWNER,
  DWN_SCHEMA_RECORDS_DELETE,
  DWN_SCHEMA_RECORDS_QUERY,
  DWN_SCHEMA_RECORDS_SUBSCRIBE,
  DWN_SCHEMA_RECORDS_WRITE,
  DWN_SCHEMA_RECORDS_WRITE_DATA_ENCODED,
  DWN_SCHEMA_RECORDS_WRITE_UNIDENTIFIED,
  DWN_SCHEMA_DEFINITIONS,
  DWN_SCHEMA_GENERAL_JWK,
  DWN_SCHEMA_GENERAL_JWS,
  DWN_SCHEMA_JWK_VERIFICATION_METHOD,
  DWN_SCHEMA_MESSAGES_FILTER,
  DWN_SCHEMA_MESSAGES_QUERY,
  DWN_SCHEMA_MESSAGES_READ,
  DWN_SCHEMA_MESSAGES_SUBSCRIBE,
  DWN_SCHEMA_NUMBER_RANGE_FILTER,
  DWN_SCHEMA_PAGINATION_CURSOR,
  DWN_SCHEMA_PERMISSION_GRANT_DATA,
  DWN_SCHEMA_PERMISSION_REQUEST_DATA,
  DWN_SCHEMA_PERMISSION_REVOCATION_DATA,
  DWN_SCHEMA_PERMISSIONS_DEFINITIONS,
  DWN_SCHEMA_PERMISSIONS_SCOPES,
  DWN_SCHEMA_PROTOCOL_DEFINITION,
  DWN_SCHEMA_PROTOCOL_RULE_SET,
  DWN_SCHEMA_PROTOCOLS_CONFIGURE,
  DWN_SCHEMA_PROTOCOLS_QUERY,
  DWN_SCHEMA_RECORDS_READ,
  DWN_SCHEMA_RECORDS_FILTER,
  DWN_SCHEMA_PUBLIC_JWK,
  DWN_SCHEMA_GENERIC_SIGNATURE_PAYLOAD,
  DWN_SCHEMA_RECORDS_WRITE_SIGNATURE_PAYLOAD,
  DWN_SCHEMA_STRING_RANGE_FILTER,
  DWN_SCHEMA_COUNT
} dwn_schema_t;

/* The SDK's name of a schema ("RecordsWrite", "ProtocolDefinition", ...). */
const char *dwn_validate_schema_name(dwn_schema_t schema);

/* The schema exported under exactly `name`; -ENOENT when there is none. */
int dwn_validate_schema_lookup(const char *name, dwn_schema_t *schema);

/* §1 steps 2-3 on a received message.  Step 2: descriptor.interface or
 * .method missing -> 400 "Both interface and method must be present,
 * interface: <x>, method: <y>" (values rendered like JavaScript's String()).
 * Step 3: the schema named String(interface) + String(method) (as the SDK
 * does, so e.g. interface "Records", method "Filter" picks RecordsFilter);
 * none -> 400 "SchemaValidatorSchemaNotFound: schema for <name> not found.".
 * On success *schema (may be NULL) is the schema used: only the ten message
 * schemas have a handler, the caller treats any other as the SDK's missing
 * handler (an unhandled exception, dwn-reference.md §1 step 4). */
int dwn_validate_message_schema(const json_t *msg, dwn_schema_t *schema, dwn_status_t *st);
int dwn_validate_message(const json_t *msg, dwn_status_t *st);

/* Validates value against one schema; an error at the root names the schema
 * ("ProtocolDefinition: must have required property 'types'"), as the SDK's
 * validateJsonSchema(name, value) does. */
int dwn_validate_schema(dwn_schema_t schema, const json_t *value, dwn_status_t *st);

/* The same with the root's instancePath given (e.g. "/descriptor/definition");
 * root_path "" names the schema like dwn_validate_schema. */
int dwn_validate_schema_at(dwn_schema_t schema, const json_t *value, const char *root_path,
                           dwn_status_t *st);

/* Shorthands for the documents handlers check (schema named in brackets). */
int dwn_validate_protocol_definition(const json_t *def, dwn_status_t *st); /* ProtocolDefinition */
int dwn_validate_permission_grant_data(const json_t *data, dwn_status_t *st);
int dwn_validate_permission_request_data(const json_t *data, dwn_status_t *st);
int dwn_validate_permission_revocation_data(const json_t *data, dwn_status_t *st);
int dwn_validate_generic_signature_payload(const json_t *payload, dwn_status_t *st);
int dwn_validate_records_write_signature_payload(const json_t *payload, dwn_status_t *st);
int dwn_validate_jwk_verification_method(const json_t *method, dwn_status_t *st);
int dwn_validate_records_write_data_encoded(const json_t *grant, dwn_status_t *st);
/* The `encryption` object of a RecordsWrite (§11), reported under /encryption. */
int dwn_validate_encryption(const json_t *encryption, dwn_status_t *st);

/* The §2.1 and defs.json patterns, for handlers that need them on their own. */
bool dwn_validate_is_did(const char *s, size_t len);
bool dwn_validate_is_base64url(const char *s, size_t len);

/* JavaScript's String(v) of a JSON value into out (truncated to out_size - 1
 * bytes, always NUL-terminated): strings as is, numbers in JS notation,
 * arrays joined with ",", objects "[object Object]".  Returns out. */
char *dwn_validate_js_string(const json_t *v, char *out, size_t out_size);

#endif
