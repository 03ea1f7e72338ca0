/*
 * dwn/jwk: JWKs of dwn-sdk-js / @web5/dids (vectors made by the oracle, see
 * tests/interop/dwn-jws.mjs) to EVP_PKEY and back, every rejection (private
 * member in a public key, wrong kty, unknown crv, bad base64url, wrong
 * length, a point off the curve, d not matching x), the RFC 7638
 * thumbprints @web5/dids puts in did:key documents, key generation, raw
 * public key conversions and Ed25519 point decoding at its edges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dwn/jwk.h"
#include "err.h"
#include "multibase.h"
#include "dwn_vectors.h"

/* made by dwn-sdk-js 0.5.2 / @web5/dids 1.2.0 (tests/interop/dwn-jws.mjs gen) */

static json_t *parse(const char *text) {
  json_error_t e;
  json_t *v = json_loads(text, 0, &e);
  if (!v) fail_msg("bad test JSON: %s", e.text);
  return v;
}

/* The publicKeyJwk of the first verification method of a document. */
static json_t *doc_jwk(const char *doc_text) {
  json_t *doc = parse(doc_text);
  json_t *jwk = json_deep_copy(json_object_get(json_array_get(json_object_get(doc, "verificationMethod"), 0),
                                               "publicKeyJwk"));
  json_decref(doc);
  assert_non_null(jwk);
  return jwk;
}

/* A copy of jwk without `d` (and without kid/alg, which change nothing). */
static json_t *public_of(const json_t *jwk) {
  json_t *pub = json_deep_copy(jwk);
  json_object_del(pub, "d");
  return pub;
}

static void expect_public_rc(json_t *jwk, int want) {
  EVP_PKEY *pkey = NULL;
  int rc = jwk_to_public_pkey(jwk, &pkey);
  if (rc != want) fail_msg("jwk_to_public_pkey: %d (%s), want %d", rc, err_msg(rc), want);
  if (rc == 0) assert_non_null(pkey);
  EVP_PKEY_free(pkey);
  json_decref(jwk);
}

static void test_curve_names(void **state) {
  (void)state;
  json_t *ed = parse(ED_PRIVATE_JWK), *k1 = parse(K1_PRIVATE_JWK), *p256 = parse(P256_PRIVATE_JWK);
  assert_int_equal(jwk_crv(ed), JWK_CRV_ED25519);
  assert_int_equal(jwk_crv(k1), JWK_CRV_SECP256K1);
  assert_int_equal(jwk_crv(p256), JWK_CRV_P256);
  assert_true(jwk_kty_matches(ed) && jwk_kty_matches(k1) && jwk_kty_matches(p256));
  assert_string_equal(jwk_crv_alg(JWK_CRV_ED25519), "EdDSA");
  assert_string_equal(jwk_crv_alg(JWK_CRV_SECP256K1), "ES256K");
  assert_string_equal(jwk_crv_alg(JWK_CRV_P256), "ES256");
  assert_null(jwk_crv_alg(JWK_CRV_UNKNOWN));
  assert_string_equal(jwk_crv_name(JWK_CRV_P256), "P-256");
  json_object_set_new(ed, "kty", json_string("EC"));
  assert_false(jwk_kty_matches(ed));
  json_object_set_new(ed, "crv", json_string("X25519"));
  assert_int_equal(jwk_crv(ed), JWK_CRV_UNKNOWN);
  json_object_set_new(ed, "crv", json_integer(1));
  assert_int_equal(jwk_crv(ed), JWK_CRV_UNKNOWN);
  json_decref(ed);
  json_decref(k1);
  json_decref(p256);
}

static void test_public_keys(void **state) {
  (void)state;
  const char *priv[] = {ED_PRIVATE_JWK, K1_PRIVATE_JWK, P256_PRIVATE_JWK};
  for (size_t i = 0; i < 3; i++) {
    json_t *jwk = parse(priv[i]);
    expect_public_rc(public_of(jwk), 0);
    /* a private member where a public key is required */
    expect_public_rc(json_deep_copy(jwk), -EINVAL);
    json_decref(jwk);
  }
  expect_public_rc(doc_jwk(ED_DOC), 0);
  expect_public_rc(doc_jwk(K1_DOC), 0);
  expect_public_rc(doc_jwk(X25519_DOC), -ENOTSUP); /* crv X25519 */
}

static void test_public_key_rejections(void **state) {
  (void)state;
  json_t *ed = doc_jwk(ED_DOC), *k1 = doc_jwk(K1_DOC), *j;
  /* wrong kty for the curve, unknown curve, not an object */
  j = json_deep_copy(ed), json_object_set_new(j, "kty", json_string("EC")), expect_public_rc(j, -ENOTSUP);
  j = json_deep_copy(k1), json_object_set_new(j, "kty", json_string("OKP")), expect_public_rc(j, -ENOTSUP);
  j = json_deep_copy(k1), json_object_set_new(j, "crv", json_string("P-384")), expect_public_rc(j, -ENOTSUP);
  expect_public_rc(json_string("x"), -EINVAL);
  /* missing or malformed coordinates */
  j = json_deep_copy(ed), json_object_del(j, "x"), expect_public_rc(j, -EINVAL);
  j = json_deep_copy(k1), json_object_del(j, "y"), expect_public_rc(j, -EINVAL);
  j = json_deep_copy(ed), json_object_set_new(j, "x", json_integer(5)), expect_public_rc(j, -EINVAL);
  j = json_deep_copy(ed), json_object_set_new(j, "x", json_string("AAAA")), expect_public_rc(j, -EINVAL);
  /* 33 bytes */
  j = json_deep_copy(ed);
  json_object_set_new(j, "x", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
  expect_public_rc(j, -EINVAL);
  /* padding, a '+' (base64, not base64url), non-zero trailing bits */
  char x[64];
  snprintf(x, sizeof x, "%s=", json_string_value(json_object_get(ed, "x")));
  j = json_deep_copy(ed), json_object_set_new(j, "x", json_string(x)), expect_public_rc(j, -EINVAL);
  snprintf(x, sizeof x, "%s", json_string_value(json_object_get(ed, "x")));
  x[3] = '+';
  j = json_deep_copy(ed), json_object_set_new(j, "x", json_string(x)), expect_public_rc(j, -EINVAL);
  j = json_deep_copy(ed);
  json_object_set_new(j, "x", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB"));
  expect_public_rc(j, -EINVAL);
  /* y changed: (x, y + 1) is not on secp256k1 */
  snprintf(x, sizeof x, "%s", json_string_value(json_object_get(k1, "y")));
  x[10] = x[10] == 'A' ? 'B' : 'A';
  j = json_deep_copy(k1), json_object_set_new(j, "y", json_string(x)), expect_public_rc(j, -EINVAL);
  /* secp256k1 coordinates presented as P-256 */
  j = json_deep_copy(k1), json_object_set_new(j, "crv", json_string("P-256")), expect_public_rc(j, -EINVAL);
  json_decref(ed);
  json_decref(k1);
}

static void test_private_keys(void **state) {
  (void)state;
  const char *priv[] = {ED_PRIVATE_JWK, K1_PRIVATE_JWK, P256_PRIVATE_JWK};
  for (size_t i = 0; i < 3; i++) {
    json_t *jwk = parse(priv[i]);
    EVP_PKEY *pkey = NULL;
    assert_int_equal(jwk_to_private_pkey(jwk, &pkey), 0);
    EVP_PKEY_free(pkey);
    /* no d */
    json_t *pub = public_of(jwk);
    assert_int_equal(jwk_to_private_pkey(pub, &pkey), -EINVAL);
    json_decref(pub);
    /* d of another key: does not match x/y */
    json_t *other = parse(priv[(i + 1) % 3]);
    json_t *mixed = json_deep_copy(jwk);
    json_object_set(mixed, "d", json_object_get(other, "d"));
    assert_int_equal(jwk_to_private_pkey(mixed, &pkey), -EINVAL);
    json_decref(mixed);
    json_decref(other);
    json_decref(jwk);
  }
}

static void test_thumbprints(void **state) {
  (void)state;
  /* @web5/dids puts the RFC 7638 thumbprint in each did:key JWK's kid */
  const char *docs[] = {ED_DOC, K1_DOC, X25519_DOC};
  for (size_t i = 0; i < 3; i++) {
    json_t *jwk = doc_jwk(docs[i]);
    char tp[JWK_THUMBPRINT_TEXT_BYTES];
    assert_int_equal(jwk_thumbprint(jwk, tp), 0);
    assert_string_equal(tp, json_string_value(json_object_get(jwk, "kid")));
    /* members other than the required ones do not count */
    json_object_set_new(jwk, "alg", json_string("whatever"));
    char tp2[JWK_THUMBPRINT_TEXT_BYTES];
    assert_int_equal(jwk_thumbprint(jwk, tp2), 0);
    assert_string_equal(tp, tp2);
    json_decref(jwk);
  }
  /* the private JWKs exported by @web5/dids carry their thumbprint as kid too */
  json_t *ed = parse(ED_PRIVATE_JWK);
  char tp[JWK_THUMBPRINT_TEXT_BYTES];
  assert_int_equal(jwk_thumbprint(ed, tp), 0);
  assert_string_equal(tp, json_string_value(json_object_get(ed, "kid")));
  json_object_set_new(ed, "kty", json_string("RSA"));
  assert_int_equal(jwk_thumbprint(ed, tp), -ENOTSUP);
  json_object_set_new(ed, "kty", json_string("EC")); /* EC needs y */
  assert_int_equal(jwk_thumbprint(ed, tp), -EINVAL);
  json_object_set_new(ed, "kty", json_string("OKP"));
  json_object_set_new(ed, "x", json_string("a\"b"));
  assert_int_equal(jwk_thumbprint(ed, tp), -EINVAL);
  json_decref(ed);
}

static void test_generate(void **state) {
  (void)state;
  const jwk_crv_t crvs[] = {JWK_CRV_ED25519, JWK_CRV_SECP256K1, JWK_CRV_P256};
  for (size_t i = 0; i < 3; i++) {
    json_t *priv = NULL, *pub = NULL, *priv2 = NULL, *pub2 = NULL;
    assert_int_equal(jwk_generate(crvs[i], &priv, &pub), 0);
    assert_int_equal(jwk_generate(crvs[i], &priv2, &pub2), 0);
    assert_null(json_object_get(pub, "d"));
    assert_non_null(json_object_get(priv, "d"));
    assert_int_equal(jwk_crv(pub), crvs[i]);
    assert_true(jwk_kty_matches(pub));
    assert_int_equal(json_object_get(pub, "y") != NULL, crvs[i] != JWK_CRV_ED25519);
    EVP_PKEY *a = NULL, *b = NULL;
    assert_int_equal(jwk_to_private_pkey(priv, &a), 0);
    assert_int_equal(jwk_to_public_pkey(pub, &b), 0);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    char t1[JWK_THUMBPRINT_TEXT_BYTES], t2[JWK_THUMBPRINT_TEXT_BYTES];
    assert_int_equal(jwk_thumbprint(priv, t1), 0);
    assert_int_equal(jwk_thumbprint(pub, t2), 0);
    assert_string_equal(t1, t2);
    assert_false(json_equal(pub, pub2)); /* fresh randomness */
    json_decref(priv);
    json_decref(pub);
    json_decref(priv2);
    json_decref(pub2);
  }
  json_t *priv = NULL, *pub = NULL;
  assert_int_equal(jwk_generate(JWK_CRV_UNKNOWN, &priv, &pub), -ENOTSUP);
}

static void test_public_bytes(void **state) {
  (void)state;
  /* compressed point -> JWK -> compressed point, for both parities of y */
  for (int n = 0; n < 8; n++) {
    json_t *priv = NULL, *pub = NULL, *back = NULL;
    jwk_crv_t crv = n % 2 ? JWK_CRV_SECP256K1 : JWK_CRV_P256;
    assert_int_equal(jwk_generate(crv, &priv, &pub), 0);
    uint8_t raw[JWK_EC_COMPRESSED_BYTES];
    assert_int_equal(jwk_public_bytes(pub, raw), JWK_EC_COMPRESSED_BYTES);
    assert_true(raw[0] == 2 || raw[0] == 3);
    assert_int_equal(jwk_from_public_bytes(crv, raw, sizeof raw, &back), 0);
    assert_true(json_equal(back, pub));
    json_decref(back);
    raw[0] ^= 1; /* the other y: a different key, still on the curve */
    assert_int_equal(jwk_from_public_bytes(crv, raw, sizeof raw, &back), 0);
    assert_false(json_equal(back, pub));
    assert_true(json_equal(json_object_get(back, "x"), json_object_get(pub, "x")));
    json_decref(back);
    raw[0] = 4; /* not a compressed prefix */
    assert_int_equal(jwk_from_public_bytes(crv, raw, sizeof raw, &back), -EINVAL);
    json_decref(priv);
    json_decref(pub);
  }
  json_t *ed = doc_jwk(ED_DOC), *back = NULL;
  uint8_t raw[JWK_EC_COMPRESSED_BYTES];
  assert_int_equal(jwk_public_bytes(ed, raw), JWK_COORD_BYTES);
  assert_int_equal(jwk_from_public_bytes(JWK_CRV_ED25519, raw, JWK_COORD_BYTES, &back), 0);
  assert_true(json_equal(json_object_get(back, "x"), json_object_get(ed, "x")));
  assert_int_equal(jwk_from_public_bytes(JWK_CRV_ED25519, raw, 31, &back), -EINVAL);
  json_decref(back);
  json_decref(ed);
  /* secp256k1: no point has x = 5 (5^3 + 7 = 132 is not a square mod p) */
  uint8_t bad[JWK_EC_COMPRESSED_BYTES] = {2};
  bad[32] = 5;
  assert_int_equal(jwk_from_public_bytes(JWK_CRV_SECP256K1, bad, sizeof bad, &back), -EINVAL);
}

static void test_ed25519_points(void **state) {
  (void)state;
  uint8_t k[32] = {0};
  /* y = 2 and y = 7: x^2 has no root; y = 3, 9: points */
  k[0] = 2, assert_false(jwk_ed25519_point_valid(k));
  k[0] = 7, assert_false(jwk_ed25519_point_valid(k));
  k[0] = 3, assert_true(jwk_ed25519_point_valid(k));
  k[0] = 9, assert_true(jwk_ed25519_point_valid(k));
  /* y = 1 is the identity (refused as @web5/dids does); with the sign bit it
   * is "negative zero" */
  k[0] = 1, assert_false(jwk_ed25519_point_valid(k));
  k[31] = 0x80, assert_false(jwk_ed25519_point_valid(k));
  /* y = p - 1 = -1: x = 0, a point of order 2 */
  memset(k, 0xff, 32);
  k[0] = 0xec, k[31] = 0x7f;
  assert_true(jwk_ed25519_point_valid(k));
  /* y = 2^255 - 1 >= p: not canonical */
  memset(k, 0xff, 32);
  k[31] = 0x7f;
  assert_false(jwk_ed25519_point_valid(k));
  /* every key the oracle and OpenSSL make is a point */
  json_t *ed = doc_jwk(ED_DOC);
  uint8_t raw[JWK_EC_COMPRESSED_BYTES];
  assert_int_equal(jwk_public_bytes(ed, raw), 32);
  assert_true(jwk_ed25519_point_valid(raw));
  json_decref(ed);
  for (int i = 0; i < 16; i++) {
    json_t *priv = NULL, *pub = NULL;
    assert_int_equal(jwk_generate(JWK_CRV_ED25519, &priv, &pub), 0);
    assert_int_equal(jwk_public_bytes(pub, raw), 32);
    assert_true(jwk_ed25519_point_valid(raw));
    json_decref(priv);
    json_decref(pub);
  }
}

/* The R half of a signature as @noble/ed25519 decodes it: y = 2, 7, 8, 11 have
 * no x (not squares), y = 3, 4, 5 do; y is taken mod p (ZIP215: y >= p is
 * allowed, p + 3 decodes like 3); the sign bit does not matter for existence. */
static void test_ed25519_signature_r(void **state) {
  (void)state;
  static const struct { uint8_t y; bool decodes; } cases[] = {{2, false}, {3, true}, {4, true}, {5, true},
                                                             {7, false}, {8, false}, {11, false}, {1, true}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t r[32] = {cases[i].y};
    assert_int_equal(jwk_ed25519_r_decodes(r), cases[i].decodes);
    r[31] = 0x80; /* sign bit */
    assert_int_equal(jwk_ed25519_r_decodes(r), cases[i].decodes);
  }
  /* p + 3 = 2^255 - 16: little-endian 0xf0, 0xff x 30, 0x7f */
  uint8_t r[32];
  memset(r, 0xff, sizeof r);
  r[0] = 0xf0, r[31] = 0x7f;
  assert_true(jwk_ed25519_r_decodes(r));
  r[0] = 0xf4; /* p + 7 */
  assert_false(jwk_ed25519_r_decodes(r));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_curve_names),   cmocka_unit_test(test_public_keys),
      cmocka_unit_test(test_public_key_rejections), cmocka_unit_test(test_private_keys),
      cmocka_unit_test(test_thumbprints),   cmocka_unit_test(test_generate),
      cmocka_unit_test(test_public_bytes),  cmocka_unit_test(test_ed25519_points),
      cmocka_unit_test(test_ed25519_signature_r),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
