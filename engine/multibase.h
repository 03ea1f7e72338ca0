/*
 * multibase: text encodings with a one-character prefix naming the base
 * (multiformats/multibase).  The enum value of each base IS its prefix
 * character, so `(mbase_t)text[0]` names the exact base of a prefixed string.
 *
 * Supported (prefix, name):
 *   'b' base32       RFC 4648 alphabet a-z2-7, no padding (default for CIDv1)
 *   'B' base32upper  A-Z2-7
 *   'z' base58btc    Bitcoin alphabet (CIDv0 without the prefix)
 *   'k' base36       0-9a-z (IPNS names, libp2p-key CIDs in subdomains)
 *   'K' base36upper  0-9A-Z
 *   'm' base64       RFC 4648 §4, no padding
 *   'u' base64url    RFC 4648 §5, no padding (DWN, JWS)
 *   'f' base16       0-9a-f
 *   'F' base16upper  0-9A-F
 *
 * Decoding is strict, as in go-multibase and js-multiformats: each base
 * accepts only its own alphabet in its own case (a 'b' string with an upper-
 * case letter is rejected, so is padding '='), the length must be one an
 * encoder can produce, and unused trailing bits (base16/32/64) must be zero.
 * So every accepted text is the canonical encoding of its bytes, and
 * decode -> encode gives back the same text.
 *
 * base58btc and base36 are big-number conversions, quadratic in the length,
 * so their text is bounded by MBASE_TEXT_BYTES_MAX (and their binary input to
 * the encoder by MBASE_BIGNUM_BYTES_MAX); the bit-packing bases are linear
 * and bounded only by MBASE_LINEAR_TEXT_BYTES_MAX.
 */
#ifndef ANYA_MULTIBASE_H
#define ANYA_MULTIBASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef enum mbase {
  MBASE_BASE32 = 'b',
  MBASE_BASE58BTC = 'z',
  MBASE_BASE36 = 'k',
  MBASE_BASE64URL = 'u',
  MBASE_BASE16 = 'f',
  MBASE_BASE32_UPPER = 'B',
  MBASE_BASE36_UPPER = 'K',
  MBASE_BASE16_UPPER = 'F',
  MBASE_BASE64 = 'm',
} mbase_t;

/* Longest base58btc/base36 text accepted by decoders (bytes): bounds the O(n^2) work. */
#define MBASE_TEXT_BYTES_MAX 8192
/* Longest binary input the base58btc/base36 encoders accept; its encoding
 * (at most 1.55 characters a byte) stays within MBASE_TEXT_BYTES_MAX. */
#define MBASE_BIGNUM_BYTES_MAX 4096
/* Longest text accepted by the linear decoders (base16/32/64): 64 MiB. */
#define MBASE_LINEAR_TEXT_BYTES_MAX ((size_t)64 << 20)

/* Upper bound of the encoded length of `len` bytes in `base`, without prefix
 * and NUL (exact for base16/32/64); 0 for an unknown base. */
size_t mbase_encoded_len_max(mbase_t base, size_t len);

/* Encodes in[0..len) into the caller's out[0..out_size), with the prefix
 * character first when `prefixed`, NUL-terminated.  Returns the
 * characters written (NUL not counted); -EINVAL unknown base, -E2BIG input
 * over MBASE_BIGNUM_BYTES_MAX (bignum bases), -ENOSPC out too small
 * (mbase_encoded_len_max + 2 always suffices).  No allocation. */
int mbase_encode_to(mbase_t base, bool prefixed, const uint8_t *in, size_t len, char *out,
                    size_t out_size);

/* Appends the encoding of in[0..len) in `base` to out, WITHOUT the prefix
 * character; NUL-terminated (buf_cstr).  0, -EINVAL unknown base, -E2BIG
 * (as mbase_encode_to), -ENOMEM.  On error out->len is unchanged. */
int mbase_encode(mbase_t base, const uint8_t *in, size_t len, buf_t *out);

/* Same, with the prefix character first. */
int mbase_encode_prefixed(mbase_t base, const uint8_t *in, size_t len, buf_t *out);

/* Decodes text[0..len) (no prefix) in `base`, appending bytes to out.
 * 0, -EINVAL with err_set() naming the bad character/position (or the bad
 * length, non-zero trailing bits, text over the bound above, unknown base),
 * -ENOMEM.  On error out->len is unchanged. */
int mbase_decode(mbase_t base, const char *text, size_t len, buf_t *out);

/* Upper bound of the bytes (plus work space) mbase_decode_to needs for
 * text_len characters in `base`; 0 for an unknown base.  At most text_len + 1 for
 * any text a decoder accepts (SIZE_MAX beyond MBASE_LINEAR_TEXT_BYTES_MAX). */
size_t mbase_decoded_len_max(mbase_t base, size_t text_len);

/* Decodes text[0..len) (no prefix) into the caller's out[0..out_size), which
 * must hold mbase_decoded_len_max(base, len) bytes (-ENOSPC otherwise).
 * Returns the bytes decoded, or the errors of mbase_decode.  No allocation. */
int mbase_decode_to(mbase_t base, const char *text, size_t len, uint8_t *out, size_t out_size);

/* Decodes a prefixed string; stores the base family in *base if non-NULL,
 * as the canonical lower-case enum value (MBASE_BASE32 for 'b' and 'B'; the
 * exact base is (mbase_t)text[0]).  -EINVAL for an unknown or missing prefix,
 * otherwise as mbase_decode. */
int mbase_decode_prefixed(const char *text, size_t len, buf_t *out, mbase_t *base);

/* Parses a base name as used on command lines ("base32", "base32upper",
 * "base58btc", "base36", "base36upper", "base64", "base64url", "base16",
 * "base16upper") or a single prefix character. 0 or -EINVAL. */
int mbase_from_name(const char *name, mbase_t *base);

/* The name of a base ("base32", ...), or NULL when unknown. */
const char *mbase_name(mbase_t base);

#endif
