/*
 * dwn/protocol_auth: authorisation of records written under a protocol
 * (dwn-reference.md §9.2-§9.4; dwn-sdk-js 0.5.2 core/protocol-authorization.ts).
 *
 * The records handlers (records.c) call these at the points where the
 * reference consults ProtocolAuthorization:
 *   - dwn_protocol_validate_write   validateReferentialIntegrity, before the
 *                                   signature is verified (failures are 400)
 *   - dwn_protocol_authorize_write / _read / _query / _delete
 *                                   the `$actions` and role rules (401)
 * Each returns 0 when the message passes, else sets st with the reference's
 * ProtocolAuthorization* code and returns the status errno (status.h).
 * Internal failures (store, memory) return their errno with st untouched.
 *
 * The definition is the tenant's newest Protocols.Configure of the protocol,
 * or the built-in permissions protocol (grants.h); the record chain is the
 * initial writes from the root record down to the record concerned.
 *
 * The `$tags` rule of a rule set is checked with a JSON Schema subset of our
 * own (dwn_protocol_tag_schema_valid): the keywords a protocol definition may
 * give a tag (type string|number|integer|boolean|array, enum, minimum,
 * maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength (in code
 * points), pattern (run as POSIX extended after turning the JS class escapes
 * \d \w \s \D \W \S into brackets: the common subset of JS patterns; one
 * that does not compile, repeats a repetition, back-references, or would grow
 * past a few thousand nodes once its repetitions are expanded fails the value),
 * items, contains, minItems, maxItems, uniqueItems, minContains,
 * maxContains); other keywords are ignored.
 */
#ifndef ANYA_DWN_PROTOCOL_AUTH_H
#define ANYA_DWN_PROTOCOL_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "dwn/handlers.h"

#define DWN_PROTOCOL_DEPTH_MAX 10       /* record nesting levels of a definition */
#define DWN_PROTOCOL_CHAIN_MAX 32       /* records walked up a parent chain (defensive bound) */
#define DWN_PROTOCOL_PATH_BYTES_MAX 1024

/* The definition of protocol for tenant (a new reference): the built-in
 * permissions protocol, else the newest Protocols.Configure.  Missing:
 * ProtocolAuthorizationProtocolNotFound with status code `code` (400 in the
 * parse phase, 401 in authorisation). */
int dwn_protocol_fetch_definition(dwn_t *d, const char *tenant, const char *protocol, int code,
                                  json_t **definition_out, dwn_status_t *st);

/* The rule set of definition at protocolPath "a/b/c" (borrowed), or NULL. */
const json_t *dwn_protocol_rule_set(const json_t *definition, const char *protocol_path);

/* RecordsWrite of a protocol: ProtocolAuthorization.validateReferentialIntegrity
 * (type, schema, dataFormat, protocolPath and contextId against the parent,
 * rule set, role record recipient, $size, $tags).  400 via st. */
int dwn_protocol_validate_write(dwn_t *d, const char *tenant, const dwn_msg_t *m, dwn_status_t *st);

/* ProtocolAuthorization.authorizeWrite of m (a RecordsWrite).  401 via st. */
int dwn_protocol_authorize_write(dwn_t *d, const char *tenant, const dwn_msg_t *m, dwn_status_t *st);
/* authorizeRead: m reads write (the newest write of the record, or its
 * initial write when deleted). */
int dwn_protocol_authorize_read(dwn_t *d, const char *tenant, const dwn_msg_t *m, const json_t *write,
                                dwn_status_t *st);
/* authorizeQueryOrSubscribe of a RecordsQuery/Subscribe with protocolRole
 * (its filter's protocol, protocolPath, contextId). */
int dwn_protocol_authorize_query(dwn_t *d, const char *tenant, const dwn_msg_t *m, dwn_status_t *st);
/* authorizeDelete: m deletes the record whose initial write is write. */
int dwn_protocol_authorize_delete(dwn_t *d, const char *tenant, const dwn_msg_t *m, const json_t *write,
                                  dwn_status_t *st);

/* verifyTagsIfNeeded: tags (descriptor.tags, NULL = {}) against a rule set's
 * `$tags` ({<tag>: schema, $requiredTags?, $allowUndefinedTags?}).  Invalid:
 * 400 ProtocolAuthorizationTagsInvalidSchema naming where (protocol/path). */
int dwn_protocol_check_tags(const json_t *tags_rule, const json_t *tags, const char *protocol,
                            const char *protocol_path, dwn_status_t *st);

/* The JSON Schema subset above: true when value satisfies schema.  When it
 * does not and why is not NULL, why gets "<keyword>: <what>" (truncated to
 * why_bytes). */
bool dwn_protocol_tag_schema_valid(const json_t *schema, const json_t *value, char *why, size_t why_bytes);

#endif
