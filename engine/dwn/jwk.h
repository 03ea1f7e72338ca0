/*
 * dwn/jwk: JSON Web Keys (RFC 7517) for the three curves DWN signatures use
 * (dwn-reference.md §4.3): OKP/Ed25519, EC/secp256k1 and EC/P-256.
 *
 * A JWK is a jansson object.  Coordinates (`x`, `y`) and the private scalar
 * (`d`) are base64url without padding, decoded strictly (multibase.h), and
 * must be exactly 32 bytes.  An EC point must lie on its curve (OpenSSL checks
 * it on import).  A *public* JWK must not carry `d`; a *private* one must.
 *
 * Keys become OpenSSL EVP_PKEY objects: the caller owns what jwk_to_*_pkey
 * returns and releases it with EVP_PKEY_free().  JSON objects returned by the
 * generators are new references (json_decref).
 *
 * Errors: -EINVAL malformed JWK (message with err_set), -ENOTSUP a crv that is
 * not one of the three (or a kty that does not belong to the crv:
 * jwk_kty_matches tells which), -ENOMEM, -EIO an OpenSSL failure.
 */
#ifndef ANYA_DWN_JWK_H
#define ANYA_DWN_JWK_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define JWK_COORD_BYTES 32               /* x, y and d of every supported curve */
#define JWK_EC_COMPRESSED_BYTES 33       /* 02|03 || x */
#define JWK_THUMBPRINT_TEXT_BYTES 44     /* base64url(SHA-256) = 43 chars + NUL */
#define JWK_MEMBER_TEXT_BYTES_MAX 64     /* longest x/y/d text read (43 expected) */

typedef enum jwk_crv {
  JWK_CRV_UNKNOWN = 0,
  JWK_CRV_ED25519,   /* kty OKP, alg EdDSA */
  JWK_CRV_SECP256K1, /* kty EC, alg ES256K */
  JWK_CRV_P256,      /* kty EC, alg ES256 */
} jwk_crv_t;

/* The curve named by jwk's `crv` member (JWK_CRV_UNKNOWN when missing, not a
 * string or another curve).  kty is not looked at. */
jwk_crv_t jwk_crv(const json_t *jwk);

/* True when jwk's `kty` is the one its curve requires (OKP for Ed25519, EC
 * for the two others).  False for an unknown curve. */
bool jwk_kty_matches(const json_t *jwk);

/* The JOSE alg of a curve: "EdDSA", "ES256K", "ES256" (NULL when unknown). */
const char *jwk_crv_alg(jwk_crv_t crv);
/* The JWK crv name: "Ed25519", "secp256k1", "P-256" (NULL when unknown). */
const char *jwk_crv_name(jwk_crv_t crv);

/* A public JWK as an EVP_PKEY (verification).  Rejects `d`, a wrong kty,
 * missing or malformed x (and y for EC), a point off the curve. */
int jwk_to_public_pkey(const json_t *jwk, EVP_PKEY **pkey_out);

/* A private JWK (with `d`) as an EVP_PKEY (signing).  x (and y) must be the
 * public key of d. */
int jwk_to_private_pkey(const json_t *jwk, EVP_PKEY **pkey_out);

/* The RFC 7638 thumbprint: base64url(SHA-256 of the canonical JSON of the
 * required members: {"crv","kty","x"} for OKP, {"crv","kty","x","y"} for EC,
 * lexicographic order, no whitespace), written NUL-terminated to out.  Any
 * OKP/EC curve name is accepted (X25519 too); -ENOTSUP for another kty. */
int jwk_thumbprint(const json_t *jwk, char out[JWK_THUMBPRINT_TEXT_BYTES]);

/* A fresh key pair on crv (Ed25519 or secp256k1; P-256 also works):
 * *public_out = {kty, crv, x, (y)} and *private_out = the same plus d. */
int jwk_generate(jwk_crv_t crv, json_t **private_out, json_t **public_out);

/* True when key is the encoding of a point of edwards25519 (RFC 8032
 * §5.1.3 decoding succeeds: y < p, x recoverable, no "negative zero") other
 * than the identity (as @web5/dids' did:key validation). */
bool jwk_ed25519_point_valid(const uint8_t key[JWK_COORD_BYTES]);

/* True when the R half of an Ed25519 signature decodes the way
 * @noble/ed25519 2.0 decodes it in verify (ZIP215, non-strict: y taken mod p
 * after clearing the sign bit, x^2 = (y^2 - 1) / (d y^2 + 1) must be a
 * square).  When it does not, the reference throws "bad y coordinate 3"
 * instead of answering "invalid signature". */
bool jwk_ed25519_r_decodes(const uint8_t r[JWK_COORD_BYTES]);

/* The public JWK {kty, crv, x, (y)} of a raw public key (validated: an
 * Ed25519 point that decodes, an EC point on the curve): 32 bytes for
 * Ed25519, 33 (compressed) or 65 (uncompressed) for EC curves. */
int jwk_from_public_bytes(jwk_crv_t crv, const uint8_t *key, size_t len, json_t **jwk_out);

/* The raw public key of a (public or private) JWK: 32 bytes for Ed25519,
 * the 33-byte compressed point for EC curves.  Returns the length written to
 * out (which holds JWK_EC_COMPRESSED_BYTES) or a negative errno. */
int jwk_public_bytes(const json_t *jwk, uint8_t out[JWK_EC_COMPRESSED_BYTES]);

#endif
