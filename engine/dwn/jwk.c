/* dwn/jwk: see jwk.h.  OpenSSL 3 provider API only (EVP_PKEY_fromdata). */
#include "dwn/jwk.h"

#include <assert.h>
#include <errno.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "multibase.h"

static const struct {
  jwk_crv_t crv;
  const char *name, *kty, *alg, *group; /* group: OpenSSL name, NULL for Ed25519 */
} curves[] = {
    {JWK_CRV_ED25519, "Ed25519", "OKP", "EdDSA", NULL},
    {JWK_CRV_SECP256K1, "secp256k1", "EC", "ES256K", "secp256k1"},
    {JWK_CRV_P256, "P-256", "EC", "ES256", "prime256v1"},
};
#define CURVE_COUNT (sizeof curves / sizeof curves[0])

static int curve_index(jwk_crv_t crv) {
  for (size_t i = 0; i < CURVE_COUNT; i++)
    if (curves[i].crv == crv) return (int)i;
  return -1;
}

jwk_crv_t jwk_crv(const json_t *jwk) {
  const char *name = json_string_value(json_object_get(jwk, "crv"));
  if (!name) return JWK_CRV_UNKNOWN;
  for (size_t i = 0; i < CURVE_COUNT; i++)
    if (strcmp(name, curves[i].name) == 0) return curves[i].crv;
  return JWK_CRV_UNKNOWN;
}

const char *jwk_crv_alg(jwk_crv_t crv) {
  int i = curve_index(crv);
  return i < 0 ? NULL : curves[i].alg;
}

const char *jwk_crv_name(jwk_crv_t crv) {
  int i = curve_index(crv);
  return i < 0 ? NULL : curves[i].name;
}

bool jwk_kty_matches(const json_t *jwk) {
  int i = curve_index(jwk_crv(jwk));
  const char *kty = json_string_value(json_object_get(jwk, "kty"));
  return i >= 0 && kty && strcmp(kty, curves[i].kty) == 0;
}

/* Decodes member `name` (base64url, exactly JWK_COORD_BYTES bytes) into out. */
static int get_coord(const json_t *jwk, const char *name, uint8_t out[JWK_COORD_BYTES]) {
  json_t *v = json_object_get(jwk, name);
  const char *text = json_string_value(v);
  if (!text) return err_set(-EINVAL, "jwk: member %s missing or not a string", name);
  size_t len = json_string_length(v);
  if (len > JWK_MEMBER_TEXT_BYTES_MAX) return err_set(-EINVAL, "jwk: member %s too long", name);
  uint8_t tmp[JWK_MEMBER_TEXT_BYTES_MAX + 1];
  int n = mbase_decode_to(MBASE_BASE64URL, text, len, tmp, sizeof tmp);
  if (n < 0) return err_set(-EINVAL, "jwk: member %s is not base64url", name);
  if (n != JWK_COORD_BYTES)
    return err_set(-EINVAL, "jwk: member %s has %d bytes, want %d", name, n, JWK_COORD_BYTES);
  memcpy(out, tmp, JWK_COORD_BYTES);
  return 0;
}

/* Checks crv/kty; returns the curve table index or a negative errno. */
static int check_curve(const json_t *jwk) {
  if (!json_is_object(jwk)) return err_set(-EINVAL, "jwk: not a JSON object");
  int i = curve_index(jwk_crv(jwk));
  if (i < 0) return err_set(-ENOTSUP, "jwk: unsupported crv");
  if (!jwk_kty_matches(jwk))
    return err_set(-ENOTSUP, "jwk: kty must be %s for crv %s", curves[i].kty, curves[i].name);
  return i;
}

/* An EC EVP_PKEY from an uncompressed or compressed point and an optional
 * private scalar.  OpenSSL rejects points off the curve on import. */
static int ec_pkey(const char *group, const uint8_t *point, size_t point_len, const uint8_t *d,
                   EVP_PKEY **out) {
  int rc = -EIO;
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM *params = NULL;
  EVP_PKEY_CTX *ctx = NULL;
  BIGNUM *priv = NULL;
  if (!bld) return -ENOMEM;
  if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, point_len))
    goto out;
  if (d) {
    priv = BN_bin2bn(d, JWK_COORD_BYTES, NULL);
    if (!priv || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv)) goto out;
  }
  params = OSSL_PARAM_BLD_to_param(bld);
  ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0) goto out;
  EVP_PKEY *pkey = NULL;
  if (EVP_PKEY_fromdata(ctx, &pkey, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) <= 0) {
    rc = err_set(-EINVAL, "jwk: not a point on %s", group);
    goto out;
  }
  EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
  int ok = check && EVP_PKEY_public_check(check) > 0;
  if (ok && d) ok = EVP_PKEY_pairwise_check(check) > 0;
  EVP_PKEY_CTX_free(check);
  if (!ok) {
    EVP_PKEY_free(pkey);
    rc = err_set(-EINVAL, d ? "jwk: d does not match x/y on %s" : "jwk: not a point on %s", group);
    goto out;
  }
  *out = pkey;
  rc = 0;
out:
  BN_clear_free(priv);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  return rc;
}

static int to_pkey(const json_t *jwk, bool private_key, EVP_PKEY **out) {
  assert(out);
  int i = check_curve(jwk);
  if (i < 0) return i;
  bool has_d = json_object_get(jwk, "d") != NULL;
  if (!private_key && has_d) return err_set(-EINVAL, "jwk: a public key must not have d");
  if (private_key && !has_d) return err_set(-EINVAL, "jwk: a private key needs d");
  uint8_t x[JWK_COORD_BYTES], y[JWK_COORD_BYTES], d[JWK_COORD_BYTES];
  int rc = get_coord(jwk, "x", x);
  if (rc == 0 && private_key) rc = get_coord(jwk, "d", d);
  if (rc != 0) return rc;
  if (curves[i].crv == JWK_CRV_ED25519) {
    EVP_PKEY *pkey = private_key ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d, sizeof d)
                                 : EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, sizeof x);
    OPENSSL_cleanse(d, sizeof d);
    if (!pkey) return err_set(-EINVAL, "jwk: Ed25519 key rejected");
    if (private_key) {
      uint8_t pub[JWK_COORD_BYTES];
      size_t pub_len = sizeof pub;
      if (EVP_PKEY_get_raw_public_key(pkey, pub, &pub_len) <= 0 || pub_len != sizeof pub ||
          memcmp(pub, x, sizeof x) != 0) {
        EVP_PKEY_free(pkey);
        return err_set(-EINVAL, "jwk: d does not match x on Ed25519");
      }
    }
    *out = pkey;
    return 0;
  }
  rc = get_coord(jwk, "y", y);
  if (rc != 0) return rc;
  uint8_t point[1 + 2 * JWK_COORD_BYTES];
  point[0] = 0x04;
  memcpy(point + 1, x, JWK_COORD_BYTES);
  memcpy(point + 1 + JWK_COORD_BYTES, y, JWK_COORD_BYTES);
  rc = ec_pkey(curves[i].group, point, sizeof point, private_key ? d : NULL, out);
  OPENSSL_cleanse(d, sizeof d);
  return rc;
}

int jwk_to_public_pkey(const json_t *jwk, EVP_PKEY **pkey_out) { return to_pkey(jwk, false, pkey_out); }

int jwk_to_private_pkey(const json_t *jwk, EVP_PKEY **pkey_out) { return to_pkey(jwk, true, pkey_out); }

int jwk_thumbprint(const json_t *jwk, char out[JWK_THUMBPRINT_TEXT_BYTES]) {
  /* RFC 7638 for any OKP or EC key (also curves we cannot verify with, such
   * as X25519 in a did:key document): the required members only. */
  if (!json_is_object(jwk)) return err_set(-EINVAL, "jwk: not a JSON object");
  const char *kty = json_string_value(json_object_get(jwk, "kty"));
  const char *crv = json_string_value(json_object_get(jwk, "crv"));
  const char *x = json_string_value(json_object_get(jwk, "x"));
  const char *y = json_string_value(json_object_get(jwk, "y"));
  bool ec = kty && strcmp(kty, "EC") == 0;
  if (!kty || (!ec && strcmp(kty, "OKP") != 0)) return err_set(-ENOTSUP, "jwk: thumbprint of kty OKP or EC only");
  if (!crv || !x || (ec && !y)) return err_set(-EINVAL, "jwk: thumbprint needs crv, x (and y)");
  /* Members are curve names and base64url: refuse anything that would need
   * JSON escaping rather than hash a text other than the canonical one. */
  const char *texts[] = {crv, x, ec ? y : ""};
  for (size_t k = 0; k < 3; k++) {
    if (strlen(texts[k]) > JWK_MEMBER_TEXT_BYTES_MAX) return err_set(-EINVAL, "jwk: member too long");
    for (const char *p = texts[k]; *p; p++)
      if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
        return err_set(-EINVAL, "jwk: member needs JSON escaping");
  }
  char text[4 * JWK_MEMBER_TEXT_BYTES_MAX];
  int n = ec ? snprintf(text, sizeof text, "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", crv, x, y)
             : snprintf(text, sizeof text, "{\"crv\":\"%s\",\"kty\":\"OKP\",\"x\":\"%s\"}", crv, x);
  assert(n > 0 && (size_t)n < sizeof text);
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256((const uint8_t *)text, (size_t)n, digest);
  int rc = mbase_encode_to(MBASE_BASE64URL, false, digest, sizeof digest, out, JWK_THUMBPRINT_TEXT_BYTES);
  return rc < 0 ? rc : 0;
}

/* x^2 = u / v with u = y^2 - 1, v = d y^2 + 1 (mod p) has a root: 1, no root: 0,
 * -ENOMEM.  y is reduced mod p first. */
static int ed25519_x_exists(BIGNUM *y, BN_CTX *ctx, bool *u_zero) {
  BIGNUM *p = BN_new(), *d = BN_new(), *t = BN_new(), *u = BN_new(), *v = BN_new(), *e = BN_new();
  int rc = -ENOMEM;
  if (!p || !d || !t || !u || !v || !e) goto out;
  if (!BN_set_bit(p, 255) || !BN_sub_word(p, 19) || !BN_nnmod(y, y, p, ctx)) goto out;
  if (!BN_set_word(t, 121666) || !BN_mod_inverse(t, t, p, ctx) || !BN_set_word(d, 121665) ||
      !BN_mod_mul(d, d, t, p, ctx) || !BN_sub(d, p, d))
    goto out;
  if (!BN_mod_sqr(t, y, p, ctx) || !BN_copy(u, t) || !BN_sub_word(u, 1) || !BN_nnmod(u, u, p, ctx) ||
      !BN_mod_mul(v, d, t, p, ctx) || !BN_add_word(v, 1) || !BN_nnmod(v, v, p, ctx))
    goto out;
  *u_zero = BN_is_zero(u);
  if (*u_zero) {
    rc = 1; /* x = 0 */
    goto out;
  }
  if (!BN_mod_inverse(v, v, p, ctx) || !BN_mod_mul(u, u, v, p, ctx) || !BN_copy(e, p) || !BN_sub_word(e, 1) ||
      !BN_rshift1(e, e) || !BN_mod_exp(t, u, e, p, ctx))
    goto out;
  rc = BN_is_one(t) ? 1 : 0;
out:
  BN_free(p), BN_free(d), BN_free(t), BN_free(u), BN_free(v), BN_free(e);
  return rc;
}

bool jwk_ed25519_r_decodes(const uint8_t r[JWK_COORD_BYTES]) {
  uint8_t le[JWK_COORD_BYTES];
  memcpy(le, r, sizeof le);
  le[31] &= 0x7f;
  BN_CTX *ctx = BN_CTX_new();
  BIGNUM *y = BN_lebin2bn(le, sizeof le, NULL);
  bool u_zero = false;
  int rc = ctx && y ? ed25519_x_exists(y, ctx, &u_zero) : -ENOMEM;
  BN_free(y);
  BN_CTX_free(ctx);
  return rc != 0; /* out of memory: let the real verification decide */
}

bool jwk_ed25519_point_valid(const uint8_t key[JWK_COORD_BYTES]) {
  /* RFC 8032 §5.1.3 decoding: y < p, x^2 = (y^2 - 1) / (d y^2 + 1) must be a
   * square, and x = 0 must not come with the sign bit set; plus not the
   * identity (0, 1). */
  uint8_t le[JWK_COORD_BYTES];
  memcpy(le, key, sizeof le);
  bool sign = (le[31] & 0x80) != 0;
  le[31] &= 0x7f;
  BN_CTX *ctx = BN_CTX_new();
  BIGNUM *p = BN_new(), *y = BN_lebin2bn(le, sizeof le, NULL), *d = BN_new(), *t = BN_new(),
         *u = BN_new(), *v = BN_new(), *e = BN_new();
  bool ok = false;
  if (!ctx || !p || !y || !d || !t || !u || !v || !e) goto out;
  /* p = 2^255 - 19 */
  if (!BN_set_bit(p, 255) || !BN_sub_word(p, 19)) goto out;
  if (BN_cmp(y, p) >= 0) goto out;
  /* d = -121665 / 121666 mod p */
  if (!BN_set_word(t, 121666) || !BN_mod_inverse(t, t, p, ctx) || !BN_set_word(d, 121665) ||
      !BN_mod_mul(d, d, t, p, ctx) || !BN_sub(d, p, d))
    goto out;
  if (!BN_mod_sqr(t, y, p, ctx) || !BN_copy(u, t) || !BN_sub_word(u, 1) || !BN_mod(u, u, p, ctx) ||
      !BN_mod_mul(v, d, t, p, ctx) || !BN_add_word(v, 1) || !BN_mod(v, v, p, ctx))
    goto out;
  if (BN_is_zero(u)) {
    /* x = 0: y = 1 is the identity, which @noble/curves' assertValidity
     * (behind @web5/dids' did:key check) refuses; y = -1 is of order 2 */
    ok = !sign && !BN_is_one(y);
    goto out;
  }
  /* Euler's criterion on u * v^-1: (u v^(p-2))^((p-1)/2) == 1 */
  if (!BN_mod_inverse(v, v, p, ctx) || !BN_mod_mul(u, u, v, p, ctx) || !BN_copy(e, p) ||
      !BN_sub_word(e, 1) || !BN_rshift1(e, e) || !BN_mod_exp(t, u, e, p, ctx))
    goto out;
  ok = BN_is_one(t);
out:
  BN_free(p);
  BN_free(y);
  BN_free(d);
  BN_free(t);
  BN_free(u);
  BN_free(v);
  BN_free(e);
  BN_CTX_free(ctx);
  return ok;
}

static int set_b64(json_t *obj, const char *name, const uint8_t *bytes, size_t len) {
  char text[JWK_MEMBER_TEXT_BYTES_MAX + 1];
  int n = mbase_encode_to(MBASE_BASE64URL, false, bytes, len, text, sizeof text);
  if (n < 0) return n;
  return json_object_set_new(obj, name, json_string(text)) == 0 ? 0 : -ENOMEM;
}

/* {kty, crv, x, (y)} from raw coordinates (y NULL for Ed25519). */
static int public_jwk(int i, const uint8_t *x, const uint8_t *y, json_t **out) {
  json_t *jwk = json_object();
  if (!jwk) return -ENOMEM;
  int rc = json_object_set_new(jwk, "kty", json_string(curves[i].kty)) == 0 &&
                   json_object_set_new(jwk, "crv", json_string(curves[i].name)) == 0
               ? 0
               : -ENOMEM;
  if (rc == 0) rc = set_b64(jwk, "x", x, JWK_COORD_BYTES);
  if (rc == 0 && y) rc = set_b64(jwk, "y", y, JWK_COORD_BYTES);
  if (rc != 0) {
    json_decref(jwk);
    return rc;
  }
  *out = jwk;
  return 0;
}

/* The affine coordinates of an EC key. */
static int ec_xy(EVP_PKEY *pkey, uint8_t x[JWK_COORD_BYTES], uint8_t y[JWK_COORD_BYTES]) {
  BIGNUM *bx = NULL, *by = NULL;
  int rc = -EIO;
  if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) > 0 &&
      EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) > 0 &&
      BN_bn2binpad(bx, x, JWK_COORD_BYTES) == JWK_COORD_BYTES &&
      BN_bn2binpad(by, y, JWK_COORD_BYTES) == JWK_COORD_BYTES)
    rc = 0;
  BN_free(bx);
  BN_free(by);
  return rc;
}

int jwk_from_public_bytes(jwk_crv_t crv, const uint8_t *key, size_t len, json_t **jwk_out) {
  int i = curve_index(crv);
  if (i < 0) return err_set(-ENOTSUP, "jwk: unsupported curve");
  if (crv == JWK_CRV_ED25519) {
    if (len != JWK_COORD_BYTES) return err_set(-EINVAL, "jwk: Ed25519 public key of %zu bytes", len);
    if (!jwk_ed25519_point_valid(key)) return err_set(-EINVAL, "jwk: not an Ed25519 point");
    return public_jwk(i, key, NULL, jwk_out);
  }
  if (len != JWK_EC_COMPRESSED_BYTES && len != 1 + 2 * JWK_COORD_BYTES)
    return err_set(-EINVAL, "jwk: EC public key of %zu bytes", len);
  EVP_PKEY *pkey = NULL;
  int rc = ec_pkey(curves[i].group, key, len, NULL, &pkey);
  if (rc != 0) return rc;
  uint8_t x[JWK_COORD_BYTES], y[JWK_COORD_BYTES];
  rc = ec_xy(pkey, x, y);
  EVP_PKEY_free(pkey);
  return rc != 0 ? rc : public_jwk(i, x, y, jwk_out);
}

int jwk_public_bytes(const json_t *jwk, uint8_t out[JWK_EC_COMPRESSED_BYTES]) {
  int i = check_curve(jwk);
  if (i < 0) return i;
  uint8_t x[JWK_COORD_BYTES], y[JWK_COORD_BYTES];
  int rc = get_coord(jwk, "x", x);
  if (rc != 0) return rc;
  if (curves[i].crv == JWK_CRV_ED25519) {
    memcpy(out, x, JWK_COORD_BYTES);
    return JWK_COORD_BYTES;
  }
  if ((rc = get_coord(jwk, "y", y)) != 0) return rc;
  out[0] = (uint8_t)(0x02 | (y[JWK_COORD_BYTES - 1] & 1));
  memcpy(out + 1, x, JWK_COORD_BYTES);
  return JWK_EC_COMPRESSED_BYTES;
}

int jwk_generate(jwk_crv_t crv, json_t **private_out, json_t **public_out) {
  int i = curve_index(crv);
  if (i < 0) return err_set(-ENOTSUP, "jwk: unsupported curve");
  EVP_PKEY *pkey = crv == JWK_CRV_ED25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
                                          : EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i].group);
  if (!pkey) return err_set(-EIO, "jwk: key generation failed");
  uint8_t x[JWK_COORD_BYTES], y[JWK_COORD_BYTES], d[JWK_COORD_BYTES];
  int rc = 0;
  if (crv == JWK_CRV_ED25519) {
    size_t xl = sizeof x, dl = sizeof d;
    if (EVP_PKEY_get_raw_public_key(pkey, x, &xl) <= 0 || EVP_PKEY_get_raw_private_key(pkey, d, &dl) <= 0 ||
        xl != sizeof x || dl != sizeof d)
      rc = -EIO;
  } else {
    BIGNUM *bd = NULL;
    rc = ec_xy(pkey, x, y);
    if (rc == 0 && (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &bd) <= 0 ||
                    BN_bn2binpad(bd, d, JWK_COORD_BYTES) != JWK_COORD_BYTES))
      rc = -EIO;
    BN_clear_free(bd);
  }
  EVP_PKEY_free(pkey);
  json_t *pub = NULL, *priv = NULL;
  if (rc == 0) rc = public_jwk(i, x, crv == JWK_CRV_ED25519 ? NULL : y, &pub);
  if (rc == 0) rc = public_jwk(i, x, crv == JWK_CRV_ED25519 ? NULL : y, &priv);
  if (rc == 0) rc = set_b64(priv, "d", d, sizeof d);
  OPENSSL_cleanse(d, sizeof d);
  if (rc != 0) {
    json_decref(pub);
    json_decref(priv);
    return rc == -EIO ? err_set(-EIO, "jwk: reading the generated key failed") : rc;
  }
  *private_out = priv;
  *public_out = pub;
  return 0;
}
