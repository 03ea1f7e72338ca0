/*
 * dwn/dagcbor: JSON values <-> canonical dag-cbor, byte for byte as
 * @ipld/dag-cbor 9.0.3 (cborg 2) encodes the output of JavaScript's JSON.parse
 * (dwn-reference.md §3.1).  Every DWN identifier (message CID, descriptor CID,
 * record id) is the sha2-256 of these bytes, and the message store keeps
 * messages in this form, so the encoder decides interoperability and the
 * decoder must give back exactly what was encoded.
 *
 * Encoding (json_t -> bytes):
 *   object   map (major 5), keys sorted by UTF-8 byte length first, then bytewise
 *   array    array (major 4)
 *   string   text string (major 3); must be valid UTF-8 (U+0000 allowed)
 *   integer  a JSON number is a JS double: a json integer or a json real whose value
 *            is an integer with |v| <= 2^53 - 1 encodes as a CBOR int (major 0 or 1)
 *            in its smallest form (-0.0 becomes 0); any other number (fractions,
 *            |v| >= 2^53) as float64 `fb` + 8 bytes big-endian, never a shorter float.
 *            A json integer beyond 2^53 - 1 is first rounded to the nearest double,
 *            as JSON.parse would have done with its decimal text.
 *   true/false/null  `f5` / `f4` / `f6`
 * All lengths definite, all heads minimal.  NaN and infinities are rejected
 * (dag-cbor refuses them; jansson cannot hold them from JSON text anyway).
 *
 * Decoding (bytes -> json_t) accepts exactly the encoder's output and nothing
 * else, so encode(decode(b)) == b for every accepted b:
 *   rejected (-EINVAL, err_set says what and at which offset): truncation, bytes
 *   after the top item, non-minimal heads, indefinite lengths, reserved
 *   additional info, byte strings, tags (so CID links too: DWN messages have
 *   none), simple values other than false/true/null (undefined included), half
 *   and single floats, float64 NaN/infinity, float64 holding a value the encoder
 *   would write as an int (-0.0 included), ints beyond ±(2^53 - 1), non-string
 *   map keys, keys out of canonical order or repeated, invalid UTF-8 (overlong
 *   forms, surrogates, above U+10FFFF).
 * Ints decode to json integers, float64 to json reals.  So decode(encode(x))
 * equals x after number normalisation: integral reals within ±(2^53 - 1)
 * become integers and json integers beyond become reals (dagcbor_json_equal
 * compares that way).  Object member order of a decoded value is the
 * canonical key order.
 *
 * Limits (both directions): DAGCBOR_BYTES_MAX encoded bytes (-E2BIG) and
 * DAGCBOR_DEPTH_MAX nesting levels of arrays and maps (-ELOOP); the top-level
 * value is at depth 1.  JSON.parse has no such limits, but no valid DWN
 * message comes near them: it travels in a 16 KiB HTTP header, inline data is
 * at most 30000 bytes, and protocol structures are at most 10 levels deep.
 *
 * Memory: the encoder appends to a caller's buf_t; the decoder returns a new
 * reference the caller owns (json_decref).  No global state; thread-safe.
 */
#ifndef ANYA_DWN_DAGCBOR_H
#define ANYA_DWN_DAGCBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"

#define DAGCBOR_BYTES_MAX ((size_t)1 << 20) /* largest encoding produced or accepted */
#define DAGCBOR_DEPTH_MAX 64                /* deepest nesting of arrays/maps (top = 1) */
#define DAGCBOR_SAFE_INT_MAX 9007199254740991LL /* 2^53 - 1, JS Number.MAX_SAFE_INTEGER */

/* Appends the canonical dag-cbor of v to out.  0, -EINVAL (NaN/infinite real,
 * invalid UTF-8 in a string or key, NULL v), -E2BIG (over DAGCBOR_BYTES_MAX),
 * -ELOOP (deeper than DAGCBOR_DEPTH_MAX), -ENOMEM.  On error out->len is
 * unchanged. */
int dagcbor_encode(const json_t *v, buf_t *out);

/* An edit of the top-level members of an object, applied while encoding so the
 * caller's object is never touched (message CID without `encodedData`, record
 * entry id with an added `author`). */
typedef struct dagcbor_edit {
  const char *const *omit;  /* top-level keys left out (NUL-terminated names); may be NULL */
  size_t omit_len;          /* entries in omit */
  const char *add_key;      /* one member added, replacing a same-named one; NULL for none */
  const json_t *add_value;  /* its value (required when add_key is set) */
} dagcbor_edit_t;

/* dagcbor_encode of `object` (must be a json object: -EINVAL otherwise) as if
 * the edit had been applied to a copy of it.  Same errors as dagcbor_encode. */
int dagcbor_encode_edited(const json_t *object, const dagcbor_edit_t *edit, buf_t *out);

/* Decodes exactly one canonical dag-cbor value filling data[0..len).  On
 * success *out is a new reference (caller json_decref's it).  -EINVAL (not
 * canonical dag-cbor of a JSON value; see the top), -E2BIG (len over
 * DAGCBOR_BYTES_MAX), -ELOOP (deeper than DAGCBOR_DEPTH_MAX), -ENOMEM.
 * *out is untouched on error. */
int dagcbor_decode(const uint8_t *data, size_t len, json_t **out);

/* 1 when the number v (finite) is written as a CBOR int: integral and within
 * ±DAGCBOR_SAFE_INT_MAX (JavaScript's Number.isSafeInteger), else 0. */
bool dagcbor_double_is_int(double v);

/* json_equal with the encoder's view of numbers: two numbers are equal when
 * they encode to the same bytes (1 and 1.0 are; 2^53+1 as an integer and
 * 9007199254740992.0 are).  Objects compare as sets of members.  Values
 * nested deeper than DAGCBOR_DEPTH_MAX compare unequal (nothing that deep
 * encodes). */
bool dagcbor_json_equal(const json_t *a, const json_t *b);

#endif
