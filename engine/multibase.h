/*
 * multibase: text encodings with a one-character prefix naming the base.
 * Supported: 'b' base32 lower (RFC 4648, no padding; decode also accepts 'B'
 * upper), 'z' base58btc, 'k' base36 lower (decode also 'K'), 'u' base64url
 * (no padding), 'f' base16 lower (decode also 'F').  Decoders reject any
 * character outside the alphabet, padding where none is allowed, and
 * non-canonical trailing bits (base32/base64url).
 */
#ifndef ANYA_MULTIBASE_H
#define ANYA_MULTIBASE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef enum mbase {
  MBASE_BASE32 = 'b',
  MBASE_BASE58BTC = 'z',
  MBASE_BASE36 = 'k',
  MBASE_BASE64URL = 'u',
  MBASE_BASE16 = 'f',
} mbase_t;

/* Longest text input accepted by decoders (bytes): bounds the O(n^2) base58/36 work. */
#define MBASE_TEXT_BYTES_MAX 8192

/* Appends the encoding of in[0..len) in `base` to out, WITHOUT the prefix
 * character; NUL-terminated (buf_cstr).  0, -EINVAL unknown base, -ENOMEM. */
int mbase_encode(mbase_t base, const uint8_t *in, size_t len, buf_t *out);

/* Same, with the prefix character first. */
int mbase_encode_prefixed(mbase_t base, const uint8_t *in, size_t len, buf_t *out);

/* Decodes text[0..len) (no prefix) in `base`, appending bytes to out.
 * 0, -EINVAL with err_set() naming the bad character/position, -ENOMEM. */
int mbase_decode(mbase_t base, const char *text, size_t len, buf_t *out);

/* Decodes a prefixed string; stores the base (canonical lower-case enum value)
 * in *base if non-NULL.  -EINVAL for an unknown or missing prefix. */
int mbase_decode_prefixed(const char *text, size_t len, buf_t *out, mbase_t *base);

/* Parses a base name as used on command lines ("base32", "base58btc", "base36",
 * "base64url", "base16") or a single prefix character. 0 or -EINVAL. */
int mbase_from_name(const char *name, mbase_t *base);

#endif
