/*
 * dwn/jsonschema: a small JSON Schema (draft 2020-12) evaluator for record
 * data held in memory, used by the data-schema registry (data_schema.h).
 *
 * A schema document is compiled once (jsonschema_compile), which refuses what
 * this evaluator would not check, so a registered schema never silently
 * checks less than it says; then any number of instances are validated
 * against it (jsonschema_validate), from any number of threads.
 *
 * Keywords evaluated (assertions):
 *   any type     type (string or array of names; "integer" = a number with no
 *                fraction, so 1.0 is an integer as in 2020-12), enum, const
 *                (numbers compare by value: 1 equals 1.0), allOf, anyOf,
 *                oneOf, not, $ref (only "#/$defs/NAME" of the root document)
 *   objects      properties, required, additionalProperties (a schema, over
 *                the members `properties` does not name)
 *   arrays       prefixItems, items (a schema, over the elements after
 *                prefixItems), minItems, maxItems, uniqueItems (arrays of at
 *                most JSONSCHEMA_UNIQUE_ITEMS_MAX elements; longer ones fail)
 *   strings      minLength, maxLength (in Unicode code points), pattern,
 *                format: "date-time" (RFC 3339 §5.6: full-date "T" full-time,
 *                't'/'z' accepted, second 60 accepted, day checked against the
 *                month and leap years) and "uri" (RFC 3986 absolute URI:
 *                scheme ":" then only unreserved, reserved and valid
 *                %-escapes); any other format is refused at compile time
 *   numbers      minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers,
 *                2020-12 form), multipleOf (> 0; x/m within 1e-9 relative of an
 *                integer, so 0.3 is a multiple of 0.1)
 * Annotations accepted and ignored: $schema (only the 2020-12 meta-schema
 * URI), $id and $defs (root only), $comment, title, description, default,
 * examples, deprecated, readOnly, writeOnly.  Boolean schemas (true/false)
 * are accepted wherever a schema is.  Every other keyword (patternProperties,
 * dependentRequired, if/then/else, unevaluated*, contains, $anchor, $dynamicRef,
 * the pre-2020 array form of items, ...) is refused by jsonschema_compile.
 *
 * pattern: ECMA-262 source text compiled as a POSIX extended regular
 * expression (regcomp REG_EXTENDED), searched unanchored as ECMA does.
 * Accepted: literals, ., [...] classes, ^ $, | ( ), * + ? {n,m}, escaped
 * punctuation, and \d \D (rewritten to [0-9] / [^0-9]) \w \W \s \S outside
 * brackets.  Refused at compile time: lookaround and other "(?" groups, lazy
 * quantifiers (*? +? ?? }?), stacked quantifiers and quantifiers with nothing
 * to repeat (SyntaxErrors in ECMA too), a "{" that is not {n}, {n,} or {n,m},
 * backreferences, any other backslash escape (\b, \uXXXX, \n ...), escapes
 * and [: [= [. inside [...], and patterns whose repetitions would expand
 * beyond JSONSCHEMA_PATTERN_COST_MAX atoms (regcomp copies the repeated
 * subexpression, so nested counts multiply).  Matching is bytewise in the C
 * locale: "." and [^...] match one byte of a multi-byte UTF-8 character,
 * and "." also matches a line break (ECMA's does not).
 *
 * Errors of validation: detail text "<instance path>: <keyword>: <what>",
 * the path a JSON Pointer ("/outputs/0/value", "~0"/"~1" escaped) or "(root)",
 * e.g. "/ticker: pattern: does not match ^[A-Z]{3,8}$".  Under anyOf, oneOf
 * and not the failures of the branches are not reported, only the keyword.
 *
 * Limits: a schema has at most JSONSCHEMA_NODES_MAX subschemas nested at most
 * JSONSCHEMA_DEPTH_MAX deep; evaluation (instance depth plus $ref hops, which
 * bounds $ref cycles) at most JSONSCHEMA_EVAL_DEPTH_MAX deep: deeper instances
 * fail validation with keyword "depth".
 *
 * Memory: jsonschema_compile keeps a reference to the document (strings of
 * enum/const/required are borrowed from it) and owns the compiled tree;
 * jsonschema_free releases both.  Validation allocates nothing.
 */
#ifndef ANYA_DWN_JSONSCHEMA_H
#define ANYA_DWN_JSONSCHEMA_H

#include <stddef.h>

#include <jansson.h>

#define JSONSCHEMA_NODES_MAX 4096          /* subschemas in one document */
#define JSONSCHEMA_DEPTH_MAX 32            /* nesting of subschemas */
#define JSONSCHEMA_EVAL_DEPTH_MAX 64       /* instance depth + $ref hops while validating */
#define JSONSCHEMA_PATTERN_BYTES_MAX 512   /* pattern source text */
#define JSONSCHEMA_PATTERN_COST_MAX 10000  /* atoms after expanding repetitions (x+ is 2 x, x{n,m} m x) */
#define JSONSCHEMA_UNIQUE_ITEMS_MAX 1024   /* elements uniqueItems compares (pairwise) */
#define JSONSCHEMA_DETAIL_BYTES_MAX 400    /* validation detail text, truncated beyond */
#define JSONSCHEMA_DRAFT_URI "https://json-schema.org/draft/2020-12/schema"

typedef struct jsonschema jsonschema_t;

/* Compiles the schema document (an object or a boolean).  0, -EINVAL (with
 * err_set naming the schema location, e.g. "/properties/a: unknown keyword
 * 'foo'"), -E2BIG (limits above), -ENOMEM.  *out is owned by the caller. */
int jsonschema_compile(const json_t *document, jsonschema_t **out);
void jsonschema_free(jsonschema_t *s);

/* Validates instance.  0 valid; 1 invalid with detail (NUL-terminated, at
 * most detail_bytes including the NUL; detail may be NULL).  Never fails
 * otherwise.  Thread-safe for one compiled schema. */
int jsonschema_validate(const jsonschema_t *s, const json_t *instance, char *detail, size_t detail_bytes);

#endif
