/*
 * dwn/jws and dwn/auth: General JWS objects signed by dwn-sdk-js 0.5.2
 * (vectors from tests/interop/dwn-jws.mjs) verify on every algorithm path
 * (Ed25519, ES256K incl. high S, ES256 r||s and DER); tampering with the
 * payload, the protected header or the signature fails; parse rejections;
 * our signer round-trips, writes the header the SDK writes and emits low S;
 * the TTL cache (FIFO eviction, expiry on an injected clock); and the
 * authentication entry with the SDK's status codes and DwnErrorCodes,
 * including the verification cache skipping DID resolution.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/ec.h>

#include "dwn/auth.h"
#include "dwn/did.h"
#include "dwn/jwk.h"
#include "dwn/jws.h"
#include "err.h"
#include "multibase.h"
#include "dwn_vectors.h"

#define DESCRIPTOR_CID "bafyreihxriduoleu3oyppn6xyt5nic3mzahz7ehbyg4si6qwdkx52hhkvy"
#define K1_KID \
  "did:key:zQ3shVrv8PV12CWWCmmTyGU3DTuEobyDyjuYfjNMCBKZR5pbq#zQ3shVrv8PV12CWWCmmTyGU3DTuEobyD" \
  "yjuYfjNMCBKZR5pbq"
#define P256_KID \
  "did:jwk:eyJhbGciOiJFUzI1NiIsImt0eSI6IkVDIiwiY3J2IjoiUC0yNTYiLCJ4IjoiSUdZQUFEVzJSNzE2MldGTU" \
  "c5THVub3pkNThpQjl3ZDlfQXU4eGZ3TGJxMCIsInkiOiJocldiYUhJM0dyUWI0Z1VBcTlGU2NmUVNWQU01bDU1MWpU" \
  "NXNTaHNRdEJZIn0#0"
#define JWS_ED \
  "{\"payload\":\"eyJkZXNjcmlwdG9yQ2lkIjoiYmFmeXJlaWh4cmlkdW9sZXUzb3lwcG42eHl0NW5pYzNtemFoejd" \
  "laGJ5ZzRzaTZxd2RreDUyaGhrdnkifQ\",\"signatures\":[{\"protected\":\"eyJraWQiOiJkaWQ6a2V5Ono" \
  "2TWtzb3JKR1lHbXR1c3hNTUVHSjhiUllmZ2NOYXB2Q0dUSFhxckpNRTM4aGZYTiN6Nk1rc29ySkdZR210dXN4TU1FR" \
  "0o4YlJZZmdjTmFwdkNHVEhYcXJKTUUzOGhmWE4iLCJhbGciOiJFZERTQSJ9\",\"signature\":\"GiUelqQutAOy" \
  "gaE9rsWh6UJbcjo_Ier_j-it96TT5PWi06sKNshxpf4UER-pYM0O0TI1-3VPWN7dqEFHAsqoDg\"}]}"
#define JWS_K1 \
  "{\"payload\":\"eyJkZXNjcmlwdG9yQ2lkIjoiYmFmeXJlaWh4cmlkdW9sZXUzb3lwcG42eHl0NW5pYzNtemFoejd" \
  "laGJ5ZzRzaTZxd2RreDUyaGhrdnkifQ\",\"signatures\":[{\"protected\":\"eyJraWQiOiJkaWQ6a2V5Onp" \
  "RM3NoVnJ2OFBWMTJDV1dDbW1UeUdVM0RUdUVvYnlEeWp1WWZqTk1DQktaUjVwYnEjelEzc2hWcnY4UFYxMkNXV0Ntb" \
  "VR5R1UzRFR1RW9ieUR5anVZZmpOTUNCS1pSNXBicSIsImFsZyI6IkVTMjU2SyJ9\",\"signature\":\"cQYsQus5" \
  "s-fMxpK2HjxXnAoMrngeAV2DEBGROVwMUoxmCRUkPW9dVl31MYeNLN7FgZfxde-mtTTf_-pdXjbu1A\"}]}"
#define JWS_K1_HIGH_S \
  "{\"payload\":\"eyJkZXNjcmlwdG9yQ2lkIjoiYmFmeXJlaWh4cmlkdW9sZXUzb3lwcG42eHl0NW5pYzNtemFoejd" \
  "laGJ5ZzRzaTZxd2RreDUyaGhrdnkifQ\",\"signatures\":[{\"protected\":\"eyJraWQiOiJkaWQ6a2V5Onp" \
  "RM3NoVnJ2OFBWMTJDV1dDbW1UeUdVM0RUdUVvYnlEeWp1WWZqTk1DQktaUjVwYnEjelEzc2hWcnY4UFYxMkNXV0Ntb" \
  "VR5R1UzRFR1RW9ieUR5anVZZmpOTUNCS1pSNXBicSIsImFsZyI6IkVTMjU2SyJ9\",\"signature\":\"cQYsQus5" \
  "s-fMxpK2HjxXnAoMrngeAV2DEBGROVwMUoyZ9urbwpCiqaIKznhy0yE5ORbrcL-h6wbf0nQvcf9SbQ\"}]}"
#define JWS_P256 \
  "{\"payload\":\"eyJkZXNjcmlwdG9yQ2lkIjoiYmFmeXJlaWh4cmlkdW9sZXUzb3lwcG42eHl0NW5pYzNtemFoejd" \
  "laGJ5ZzRzaTZxd2RreDUyaGhrdnkifQ\",\"signatures\":[{\"protected\":\"eyJraWQiOiJkaWQ6andrOmV" \
  "5SmhiR2NpT2lKRlV6STFOaUlzSW10MGVTSTZJa1ZESWl3aVkzSjJJam9pVUMweU5UWWlMQ0o0SWpvaVNVZFpRVUZFV" \
  "npKU056RTJNbGRHVFVjNVRIVnViM3BrTlRocFFqbDNaRGxmUVhVNGVHWjNUR0p4TUNJc0lua2lPaUpvY2xkaVlVaEp" \
  "NMGR5VVdJMFoxVkJjVGxHVTJObVVWTldRVTAxYkRVMU1XcFVOWE5UYUhOUmRFSlpJbjAjMCIsImFsZyI6IkVTMjU2I" \
  "n0\",\"signature\":\"rxsBj3S2e-4AiQlJZFWAQHxhFhenYdynb3sPPXhQu1_7q8BdqjNFXadwqoTwqWkRerSqU" \
  "WPBxf_RarpLKj882g\"}]}"
#define JWS_P256_DER \
  "{\"payload\":\"eyJkZXNjcmlwdG9yQ2lkIjoiYmFmeXJlaWh4cmlkdW9sZXUzb3lwcG42eHl0NW5pYzNtemFoejd" \
  "laGJ5ZzRzaTZxd2RreDUyaGhrdnkifQ\",\"signatures\":[{\"protected\":\"eyJraWQiOiJkaWQ6andrOmV" \
  "5SmhiR2NpT2lKRlV6STFOaUlzSW10MGVTSTZJa1ZESWl3aVkzSjJJam9pVUMweU5UWWlMQ0o0SWpvaVNVZFpRVUZFV" \
  "npKU056RTJNbGRHVFVjNVRIVnViM3BrTlRocFFqbDNaRGxmUVhVNGVHWjNUR0p4TUNJc0lua2lPaUpvY2xkaVlVaEp" \
  "NMGR5VVdJMFoxVkJjVGxHVTJObVVWTldRVTAxYkRVMU1XcFVOWE5UYUhOUmRFSlpJbjAjMCIsImFsZyI6IkVTMjU2I" \
  "n0\",\"signature\":\"MEQCIAPnCesvW3O_AaVo3a4tCLeiHjl6pWPWHaeK0cKgl9vfAiBdg4gIHMch_wYafVBqY" \
  "CsO0fKgEl_Ht0KyLtRs_D7xnw\"}]}"

static json_t *parse(const char *text) {
  json_error_t e;
  json_t *v = json_loads(text, 0, &e);
  if (!v) fail_msg("bad test JSON: %s", e.text);
  return v;
}

static json_t *doc_jwk(const char *doc_text) {
  json_t *doc = parse(doc_text);
  json_t *jwk = json_deep_copy(json_object_get(json_array_get(json_object_get(doc, "verificationMethod"), 0),
                                               "publicKeyJwk"));
  json_decref(doc);
  return jwk;
}

static json_t *public_of(const char *private_text) {
  json_t *jwk = parse(private_text);
  json_object_del(jwk, "d");
  return jwk;
}

static json_t *entry0(const json_t *jws) { return json_array_get(json_object_get(jws, "signatures"), 0); }
static const char *prot(const json_t *jws) { return json_string_value(json_object_get(entry0(jws), "protected")); }
static const char *sigtext(const json_t *jws) { return json_string_value(json_object_get(entry0(jws), "signature")); }
static const char *payload(const json_t *jws) { return json_string_value(json_object_get(jws, "payload")); }

static int verify(const json_t *jwk, const json_t *jws) {
  return jws_verify(jwk, prot(jws), payload(jws), sigtext(jws));
}

static char *b64u(const void *data, size_t len) {
  buf_t b = {0};
  assert_int_equal(mbase_encode(MBASE_BASE64URL, data, len, &b), 0);
  return (char *)b.data; /* NUL-terminated, caller frees */
}

static size_t unb64u(const char *text, uint8_t *out, size_t out_size) {
  int n = mbase_decode_to(MBASE_BASE64URL, text, strlen(text), out, out_size);
  assert_true(n >= 0);
  return (size_t)n;
}

/* ---- parsing --------------------------------------------------------------------- */

static void expect_parse(const char *text, int want) {
  json_t *j = parse(text);
  jws_general_t g;
  int rc = jws_parse(j, &g);
  if (rc != want) fail_msg("jws_parse(%s) = %d, want %d", text, rc, want);
  json_decref(j);
}

static void test_parse(void **state) {
  (void)state;
  json_t *j = parse(JWS_ED);
  jws_general_t g;
  assert_int_equal(jws_parse(j, &g), 0);
  assert_int_equal(g.signature_count, 1);
  assert_string_equal(g.payload_b64, payload(j));
  assert_string_equal(g.signatures[0].protected_b64, prot(j));
  json_decref(j);
  expect_parse("{\"payload\":\"eyJ9\",\"signatures\":[{\"protected\":\"eyJ9\",\"signature\":\"AAAA\"}]}", 0);
  /* unprotected members of an entry are ignored (the schema allows them) */
  expect_parse(
      "{\"payload\":\"eyJ9\",\"signatures\":[{\"protected\":\"eyJ9\",\"signature\":\"AA\",\"header\":{}}]}",
      0);
  expect_parse("{\"signatures\":[{\"protected\":\"eyJ9\",\"signature\":\"AA\"}]}", -EINVAL);
  expect_parse(
      "{\"payload\":\"eyJ9\",\"signatures\":[{\"protected\":\"eyJ9\",\"signature\":\"AA\"}],\"x\":1}",
      -EINVAL);
  expect_parse("{\"payload\":\"eyJ9\",\"signatures\":[]}", -EINVAL);
  expect_parse("{\"payload\":\"eyJ9\",\"signatures\":{}}", -EINVAL);
  expect_parse("{\"payload\":\"eyJ9\",\"signatures\":[1]}", -EINVAL);
  expect_parse("{\"payload\":\"\",\"signatures\":[{\"protected\":\"eyJ9\",\"signature\":\"AA\"}]}", -EINVAL);
  expect_parse("{\"payload\":\"eyJ9\",\"signatures\":[{\"protected\":\"eyJ9\"}]}", -EINVAL);
  expect_parse("{\"payload\":\"eyJ9\",\"signatures\":[{\"protected\":\"eyJ9\",\"signature\":\"\"}]}", -EINVAL);
  expect_parse("{\"payload\":\"eyJ9\",\"signatures\":[{\"protected\":\"eyJ9\",\"signature\":7}]}", -EINVAL);
  /* base64url strictly: no padding, no base64 alphabet, no impossible length */
  expect_parse("{\"payload\":\"eyJ9\",\"signatures\":[{\"protected\":\"eyJ9\",\"signature\":\"AA==\"}]}", -EINVAL);
  expect_parse("{\"payload\":\"ey+9\",\"signatures\":[{\"protected\":\"eyJ9\",\"signature\":\"AA\"}]}", -EINVAL);
  expect_parse("{\"payload\":\"eyJ9\",\"signatures\":[{\"protected\":\"eyJ/\",\"signature\":\"AA\"}]}", -EINVAL);
  expect_parse("{\"payload\":\"eyJ9A\",\"signatures\":[{\"protected\":\"eyJ9\",\"signature\":\"AA\"}]}", -EINVAL);
  expect_parse("[]", -EINVAL);
  /* more entries than JWS_SIGNATURES_MAX */
  json_t *many = parse("{\"payload\":\"eyJ9\",\"signatures\":[]}");
  for (int i = 0; i <= JWS_SIGNATURES_MAX; i++)
    json_array_append_new(json_object_get(many, "signatures"),
                          json_pack("{s:s,s:s}", "protected", "eyJ9", "signature", "AA"));
  assert_int_equal(jws_parse(many, &g), -EINVAL);
  json_array_remove(json_object_get(many, "signatures"), 0);
  assert_int_equal(jws_parse(many, &g), 0);
  assert_int_equal(g.signature_count, JWS_SIGNATURES_MAX);
  json_decref(many);
}

static void test_header_and_payload(void **state) {
  (void)state;
  json_t *j = parse(JWS_K1), *h = NULL, *p = NULL;
  const char *kid = NULL, *alg = NULL;
  assert_int_equal(jws_decode_header(prot(j), &h, &kid, &alg), 0);
  assert_string_equal(kid, K1_KID);
  assert_string_equal(alg, "ES256K");
  json_decref(h);
  assert_int_equal(jws_decode_payload(payload(j), &p), 0);
  assert_string_equal(json_string_value(json_object_get(p, "descriptorCid")), DESCRIPTOR_CID);
  json_decref(p);
  json_decref(j);
  struct {
    const char *json;
    int rc;
  } headers[] = {
      {"{\"kid\":\"did:x:y#k\"}", 0},           /* alg is not needed to verify */
      {"{\"kid\":\"did:x:y#k\",\"alg\":1}", -EINVAL},
      {"{\"alg\":\"EdDSA\"}", -EINVAL},
      {"{\"kid\":\"\"}", -EINVAL},
      {"{\"kid\":5}", -EINVAL},
      {"[\"kid\"]", -EINVAL},
      {"nope", -EINVAL},
  };
  for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
    char *text = b64u(headers[i].json, strlen(headers[i].json));
    h = NULL;
    int rc = jws_decode_header(text, &h, &kid, &alg);
    if (rc != headers[i].rc) fail_msg("header %s: %d", headers[i].json, rc);
    if (rc == 0) assert_null(alg);
    json_decref(h);
    free(text);
  }
  const char *payloads[] = {"[1]", "\"s\"", "1", "null", "{bad", ""};
  for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
    char *text = b64u(payloads[i], strlen(payloads[i]));
    assert_int_equal(jws_decode_payload(text, &p), -EINVAL);
    free(text);
  }
  assert_int_equal(jws_decode_payload("eyJ*", &p), -EINVAL);
}

static void test_signer_did(void **state) {
  (void)state;
  buf_t b = {0};
  assert_int_equal(jws_signer_did(ED_KID, &b), 0);
  assert_string_equal((char *)b.data, ED_DID);
  buf_reset(&b);
  assert_int_equal(jws_signer_did("did:web:example.com#key-0#x", &b), 0);
  assert_string_equal((char *)b.data, "did:web:example.com");
  buf_reset(&b);
  assert_int_equal(jws_signer_did("did:web:example.com", &b), 0);
  assert_string_equal((char *)b.data, "did:web:example.com");
  buf_reset(&b);
  assert_int_equal(jws_signer_did("#key-0", &b), -EINVAL);
  buf_free(&b);
}

/* ---- verification of what the SDK signed ------------------------------------------------ */

static void test_verify_sdk_signatures(void **state) {
  (void)state;
  json_t *ed = doc_jwk(ED_DOC), *k1 = doc_jwk(K1_DOC), *p256 = public_of(P256_PRIVATE_JWK);
  const struct {
    const char *jws;
    json_t *key;
  } ok[] = {{JWS_ED, ed}, {JWS_K1, k1}, {JWS_K1_HIGH_S, k1}, {JWS_P256, p256}, {JWS_P256_DER, p256}};
  for (size_t i = 0; i < 5; i++) {
    json_t *j = parse(ok[i].jws);
    if (verify(ok[i].key, j) != 1) fail_msg("vector %zu does not verify", i);
    /* another key of the same curve verifies nothing */
    json_t *priv = NULL, *pub = NULL;
    assert_int_equal(jwk_generate(jwk_crv(ok[i].key), &priv, &pub), 0);
    assert_int_equal(verify(pub, j), 0);
    json_decref(priv);
    json_decref(pub);
    json_decref(j);
  }
  /* the high-S vector really has s > n/2 and differs from the low-S one */
  json_t *lo = parse(JWS_K1), *hi = parse(JWS_K1_HIGH_S);
  uint8_t s_lo[80], s_hi[80];
  assert_int_equal(unb64u(sigtext(lo), s_lo, sizeof s_lo), 64);
  assert_int_equal(unb64u(sigtext(hi), s_hi, sizeof s_hi), 64);
  assert_memory_equal(s_lo, s_hi, 32);
  assert_memory_not_equal(s_lo + 32, s_hi + 32, 32);
  assert_true(s_hi[32] >= 0x80);
  /* secp256k1 takes r||s only: the same signature in DER is refused */
  ECDSA_SIG *es = ECDSA_SIG_new();
  ECDSA_SIG_set0(es, BN_bin2bn(s_lo, 32, NULL), BN_bin2bn(s_lo + 32, 32, NULL));
  uint8_t *der = NULL;
  int der_len = i2d_ECDSA_SIG(es, &der);
  char *der_text = b64u(der, (size_t)der_len);
  assert_int_equal(jws_verify(k1, prot(lo), payload(lo), der_text), 0);
  free(der_text);
  OPENSSL_free(der);
  ECDSA_SIG_free(es);
  json_decref(lo);
  json_decref(hi);
  /* a P-256 DER signature must be strict DER: one trailing byte breaks it */
  json_t *d = parse(JWS_P256_DER);
  uint8_t dsig[80];
  size_t dn = unb64u(sigtext(d), dsig, sizeof dsig);
  assert_true(dn != 64 && dsig[0] == 0x30);
  dsig[dn] = 0;
  char *longer = b64u(dsig, dn + 1);
  assert_int_equal(jws_verify(p256, prot(d), payload(d), longer), 0);
  free(longer);
  json_decref(d);
  json_decref(ed);
  json_decref(k1);
  json_decref(p256);
}

static void test_verify_tampered(void **state) {
  (void)state;
  json_t *ed = doc_jwk(ED_DOC), *k1 = doc_jwk(K1_DOC), *p256 = public_of(P256_PRIVATE_JWK);
  const struct {
    const char *jws;
    json_t *key;
  } v[] = {{JWS_ED, ed}, {JWS_K1, k1}, {JWS_P256, p256}};
  for (size_t i = 0; i < 3; i++) {
    json_t *j = parse(v[i].jws);
    /* payload: another JSON object */
    const char *other = "{\"descriptorCid\":\"bafyreiother\"}";
    char *p2 = b64u(other, strlen(other));
    assert_int_equal(jws_verify(v[i].key, prot(j), p2, sigtext(j)), 0);
    free(p2);
    /* protected header: the same kid, another alg */
    json_t *h = NULL;
    const char *kid = NULL;
    assert_int_equal(jws_decode_header(prot(j), &h, &kid, NULL), 0);
    json_object_set_new(h, "alg", json_string("none"));
    char *ht = json_dumps(h, JSON_COMPACT);
    char *h2 = b64u(ht, strlen(ht));
    assert_int_equal(jws_verify(v[i].key, h2, payload(j), sigtext(j)), 0);
    free(h2);
    free(ht);
    json_decref(h);
    /* signature: each of a few bits flipped, truncated, extended, not base64url */
    uint8_t s[80];
    size_t n = unb64u(sigtext(j), s, sizeof s);
    assert_int_equal(n, 64);
    const size_t bits[] = {0, 77, 255, 256, 300, 511};
    for (size_t b = 0; b < 6; b++) {
      s[bits[b] / 8] ^= (uint8_t)(1u << (bits[b] % 8));
      char *t = b64u(s, n);
      assert_int_equal(jws_verify(v[i].key, prot(j), payload(j), t), 0);
      free(t);
      s[bits[b] / 8] ^= (uint8_t)(1u << (bits[b] % 8));
    }
    char *t = b64u(s, 63);
    assert_int_equal(jws_verify(v[i].key, prot(j), payload(j), t), 0);
    free(t);
    t = b64u(s, 65);
    assert_int_equal(jws_verify(v[i].key, prot(j), payload(j), t), 0);
    free(t);
    assert_int_equal(jws_verify(v[i].key, prot(j), payload(j), "a+b/"), 0);
    /* the signature of another curve's key: wrong algorithm, invalid */
    assert_int_equal(verify(v[(i + 1) % 3].key, j), 0);
    json_decref(j);
  }
  /* keys that verify nothing: unsupported crv, kty not matching, private */
  json_t *j = parse(JWS_ED), *x = doc_jwk(X25519_DOC);
  assert_int_equal(verify(x, j), -ENOTSUP);
  json_object_set_new(ed, "kty", json_string("EC"));
  assert_int_equal(verify(ed, j), -ENOTSUP);
  json_t *priv = parse(ED_PRIVATE_JWK);
  assert_int_equal(verify(priv, j), -EINVAL);
  json_decref(priv);
  json_decref(x);
  json_decref(j);
  json_decref(ed);
  json_decref(k1);
  json_decref(p256);
}

/* ---- signing ---------------------------------------------------------------------- */

static void test_sign_round_trip(void **state) {
  (void)state;
  const char *privs[] = {ED_PRIVATE_JWK, K1_PRIVATE_JWK, P256_PRIVATE_JWK};
  const char *kids[] = {ED_KID, K1_KID, P256_KID};
  const char *algs[] = {"EdDSA", "ES256K", "ES256"};
  const char *text = "{\"descriptorCid\":\"" DESCRIPTOR_CID "\",\"x\":\"\\u00e9\"}";
  for (size_t i = 0; i < 3; i++) {
    json_t *priv = parse(privs[i]), *pub = public_of(privs[i]), *jws = NULL;
    assert_int_equal(jws_sign(priv, kids[i], text, strlen(text), &jws), 0);
    assert_int_equal(verify(pub, jws), 1);
    /* the header the SDK's GeneralJwsBuilder writes, byte for byte */
    char want[1024];
    snprintf(want, sizeof want, "{\"kid\":\"%s\",\"alg\":\"%s\"}", kids[i], algs[i]);
    uint8_t hb[1024];
    size_t hn = unb64u(prot(jws), hb, sizeof hb);
    assert_int_equal(hn, strlen(want));
    assert_memory_equal(hb, want, hn);
    /* the payload is the given text */
    uint8_t pb[256];
    size_t pn = unb64u(payload(jws), pb, sizeof pb);
    assert_int_equal(pn, strlen(text));
    assert_memory_equal(pb, text, pn);
    uint8_t sb[80];
    assert_int_equal(unb64u(sigtext(jws), sb, sizeof sb), 64);
    jws_general_t g;
    assert_int_equal(jws_parse(jws, &g), 0);
    /* a second signature appended (for multi-signature inputs) */
    assert_int_equal(jws_sign_append(jws, priv, kids[i]), 0);
    assert_int_equal(jws_parse(jws, &g), 0);
    assert_int_equal(g.signature_count, 2);
    assert_int_equal(jws_verify(pub, g.signatures[1].protected_b64, g.payload_b64, g.signatures[1].signature_b64), 1);
    /* a public key cannot sign */
    json_t *none = NULL;
    assert_int_equal(jws_sign(pub, kids[i], text, strlen(text), &none), -EINVAL);
    assert_int_equal(jws_sign(priv, "", text, strlen(text), &none), -EINVAL);
    json_decref(jws);
    json_decref(priv);
    json_decref(pub);
  }
}

static void test_sign_low_s(void **state) {
  (void)state;
  /* half the raw ECDSA signatures have s > n/2; every one we emit must not */
  BIGNUM *half = NULL;
  BN_hex2bn(&half, "7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0");
  json_t *priv = parse(K1_PRIVATE_JWK), *pub = public_of(K1_PRIVATE_JWK);
  for (int i = 0; i < 64; i++) {
    char text[64];
    int n = snprintf(text, sizeof text, "{\"n\":%d}", i);
    json_t *jws = NULL;
    assert_int_equal(jws_sign(priv, K1_KID, text, (size_t)n, &jws), 0);
    uint8_t s[80];
    assert_int_equal(unb64u(sigtext(jws), s, sizeof s), 64);
    BIGNUM *sv = BN_bin2bn(s + 32, 32, NULL);
    assert_true(BN_cmp(sv, half) <= 0);
    BN_free(sv);
    assert_int_equal(verify(pub, jws), 1);
    json_decref(jws);
  }
  BN_free(half);
  json_decref(priv);
  json_decref(pub);
}

/* ---- the TTL cache --------------------------------------------------------------------- */

typedef struct fake_clock {
  uint64_t now_ms;
} fake_clock_t;

static uint64_t fake_now(void *ctx) { return ((fake_clock_t *)ctx)->now_ms; }

static int freed;
static void count_free(void *value) {
  (void)value;
  freed++;
}
static void copy_ptr(void *value, void *ctx) { *(void **)ctx = value; }

static int get(jws_cache_t *c, const char *key, void **value) {
  return jws_cache_get(c, key, strlen(key), copy_ptr, value);
}

static void test_cache(void **state) {
  (void)state;
  fake_clock_t clock = {1000};
  jws_cache_t *c = NULL;
  jws_cache_config_t cfg = {.entries_max = 3, .ttl_ms = 100, .clock = fake_now, .clock_ctx = &clock,
                            .free_value = count_free};
  jws_cache_config_t zero = cfg;
  zero.entries_max = 0;
  assert_int_equal(jws_cache_new(&zero, &c), -EINVAL);
  assert_int_equal(jws_cache_new(&cfg, &c), 0);
  freed = 0;
  void *v = NULL;
  static int a, b, cc, d, b2;
  assert_int_equal(get(c, "a", &v), 0);
  jws_cache_put(c, "a", 1, &a);
  jws_cache_put(c, "b", 1, &b);
  jws_cache_put(c, "c", 1, &cc);
  assert_int_equal(jws_cache_size(c), 3);
  assert_int_equal(get(c, "a", &v), 1);
  assert_ptr_equal(v, &a);
  /* full: the oldest goes first (FIFO), its value is freed */
  jws_cache_put(c, "d", 1, &d);
  assert_int_equal(freed, 1);
  assert_int_equal(get(c, "a", &v), 0);
  assert_int_equal(get(c, "d", &v), 1);
  assert_ptr_equal(v, &d);
  /* the same key replaces (and frees) the old value, with a new lifetime */
  clock.now_ms += 50;
  jws_cache_put(c, "b", 1, &b2);
  assert_int_equal(freed, 2);
  assert_int_equal(get(c, "b", &v), 1);
  assert_ptr_equal(v, &b2);
  assert_int_equal(jws_cache_size(c), 3);
  /* expiry: alive until ttl_ms after the put, gone at it */
  clock.now_ms += 49;
  assert_int_equal(get(c, "c", &v), 1);
  clock.now_ms += 1;
  assert_int_equal(get(c, "c", &v), 0);
  assert_int_equal(freed, 3);
  assert_int_equal(jws_cache_size(c), 2);
  assert_int_equal(get(c, "b", &v), 1); /* put later: still alive */
  clock.now_ms += 1000;
  assert_int_equal(get(c, "b", &v), 0);
  jws_cache_free(c);
  assert_int_equal(freed, 5); /* d freed with the cache */

  /* many keys through a small cache: bounded, every live key found */
  jws_cache_config_t big = {.entries_max = 64, .ttl_ms = 1000, .clock = fake_now, .clock_ctx = &clock};
  assert_int_equal(jws_cache_new(&big, &c), 0);
  for (uintptr_t i = 1; i <= 1000; i++) {
    char key[16];
    snprintf(key, sizeof key, "k%lu", (unsigned long)i);
    jws_cache_put(c, key, strlen(key), (void *)i);
    assert_true(jws_cache_size(c) <= 64);
  }
  for (uintptr_t i = 1; i <= 1000; i++) {
    char key[16];
    snprintf(key, sizeof key, "k%lu", (unsigned long)i);
    assert_int_equal(get(c, key, &v), i > 936);
    if (i > 936) assert_ptr_equal(v, (void *)i);
  }
  /* the verification flavour */
  assert_int_equal(jws_cache_get_verified(c, "p", "q", "s"), -ENOENT);
  jws_cache_put_verified(c, "p", "q", "s", false);
  jws_cache_put_verified(c, "p", "q", "t", true);
  assert_int_equal(jws_cache_get_verified(c, "p", "q", "s"), 0);
  assert_int_equal(jws_cache_get_verified(c, "p", "q", "t"), 1);
  assert_int_equal(jws_cache_get_verified(c, "p", "qs", ""), -ENOENT);
  jws_cache_free(c);
}

/* ---- authentication ------------------------------------------------------------------- */

typedef struct web {
  const char *url;
  char *body;
  int fetches;
  int fail;
} web_t;

static int fake_fetch(void *ctx, const char *url, buf_t *out) {
  web_t *w = ctx;
  w->fetches++;
  if (w->fail || strcmp(url, w->url) != 0) return -ENOENT;
  return buf_append(out, w->body, strlen(w->body));
}

typedef struct env {
  fake_clock_t clock;
  web_t web;
  did_resolver_t *resolver;
  auth_t *auth;
  json_t *web_priv; /* the did:web key */
} env_t;

static int env_setup(void **state) {
  env_t *e = calloc(1, sizeof *e);
  e->clock.now_ms = 5000;
  json_t *pub = NULL;
  assert_int_equal(jwk_generate(JWK_CRV_ED25519, &e->web_priv, &pub), 0);
  json_t *doc = json_pack("{s:s, s:[{s:s, s:s, s:s, s:O}]}", "id", "did:web:example.com", "verificationMethod", "id",
                          "#key-0", "type", "JsonWebKey", "controller", "did:web:example.com", "publicKeyJwk", pub);
  e->web.url = "https://example.com/.well-known/did.json";
  e->web.body = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  json_decref(pub);
  /* the resolver forgets after 1 ms, so what the verification cache saves shows */
  did_resolver_config_t rc = {.fetch = fake_fetch, .fetch_ctx = &e->web, .clock = fake_now,
                              .clock_ctx = &e->clock, .cache_ttl_ms = 1};
  assert_int_equal(did_resolver_new(&rc, &e->resolver), 0);
  auth_config_t ac = {.resolver = e->resolver, .clock = fake_now, .clock_ctx = &e->clock};
  assert_int_equal(auth_new(&ac, &e->auth), 0);
  *state = e;
  return 0;
}

static int env_teardown(void **state) {
  env_t *e = *state;
  auth_free(e->auth);
  did_resolver_free(e->resolver);
  json_decref(e->web_priv);
  free(e->web.body);
  free(e);
  return 0;
}

/* Runs auth_check_signature; checks status code and DwnErrorCode (NULL: success). */
static void expect_auth(env_t *e, json_t *jws, int code, const char *error_code) {
  dwn_status_t st = {0};
  auth_signature_t sig;
  int rc = auth_check_signature(e->auth, jws, &st, &sig);
  if (!error_code && code == 200) {
    if (rc != 0) fail_msg("rejected: %d %s", st.code, st.detail);
    auth_signature_release(&sig);
    return;
  }
  if (rc == 0) fail_msg("accepted, want %d %s", code, error_code ? error_code : "");
  assert_int_equal(rc, code == 400 ? -EINVAL : -EACCES);
  assert_int_equal(st.code, code);
  if (error_code) {
    size_t n = strlen(error_code);
    if (strncmp(st.detail, error_code, n) != 0 || st.detail[n] != ':')
      fail_msg("detail \"%s\", want %s", st.detail, error_code);
  }
  assert_null(sig.payload);
}

static json_t *sign(const char *priv_text, const char *kid, const char *text) {
  json_t *priv = parse(priv_text), *jws = NULL;
  assert_int_equal(jws_sign(priv, kid, text, strlen(text), &jws), 0);
  json_decref(priv);
  return jws;
}

static void test_auth_codes(void **state) {
  env_t *e = *state;
  /* what the SDK signed, through did:key and did:jwk */
  const char *good[] = {JWS_ED, JWS_K1, JWS_K1_HIGH_S, JWS_P256, JWS_P256_DER};
  const char *signers[] = {ED_DID, K1_DID, K1_DID, P256_DID, P256_DID};
  for (size_t i = 0; i < 5; i++) {
    json_t *j = parse(good[i]);
    dwn_status_t st = {0};
    auth_signature_t sig;
    assert_int_equal(auth_check_signature(e->auth, j, &st, &sig), 0);
    assert_string_equal((char *)sig.signer.data, signers[i]);
    assert_string_equal(json_string_value(json_object_get(sig.payload, "descriptorCid")), DESCRIPTOR_CID);
    auth_signature_release(&sig);
    json_decref(j);
  }
  const char *payload_text = "{\"descriptorCid\":\"" DESCRIPTOR_CID "\"}";
  /* 400: more than one signature, payload not an object, extra member */
  json_t *j = sign(ED_PRIVATE_JWK, ED_KID, payload_text), *priv = parse(ED_PRIVATE_JWK);
  assert_int_equal(jws_sign_append(j, priv, ED_KID), 0);
  expect_auth(e, j, 400, "AuthenticationMoreThanOneSignatureNotSupported");
  json_decref(j);
  json_decref(priv);
  j = sign(ED_PRIVATE_JWK, ED_KID, "[\"" DESCRIPTOR_CID "\"]");
  expect_auth(e, j, 400, "JwsDecodePlainObjectPayloadInvalid");
  json_decref(j);
  j = parse(JWS_ED);
  json_object_set_new(j, "header", json_object());
  expect_auth(e, j, 400, "SchemaValidatorAdditionalPropertyNotAllowed");
  json_decref(j);
  j = parse("{\"payload\":\"eyJ9\",\"signatures\":[]}");
  expect_auth(e, j, 400, "SchemaValidatorFailure");
  json_decref(j);
  /* 401: unknown kid fragment, unsupported DID method, unresolvable did:key */
  j = sign(ED_PRIVATE_JWK, ED_DID "#nope", payload_text);
  expect_auth(e, j, 401, "GeneralJwsVerifierGetPublicKeyNotFound");
  json_decref(j);
  j = sign(ED_PRIVATE_JWK, "did:example:123#key-1", payload_text);
  expect_auth(e, j, 401, "GeneralJwsVerifierGetPublicKeyNotFound");
  json_decref(j);
  j = sign(ED_PRIVATE_JWK, P256_DID_KEY "#x", payload_text);
  expect_auth(e, j, 401, "GeneralJwsVerifierGetPublicKeyNotFound");
  json_decref(j);
  /* 401: signed by another key than the kid names (as if tampered) */
  j = sign(ED_PRIVATE_JWK, K1_KID, payload_text);
  expect_auth(e, j, 401, "GeneralJwsVerifierInvalidSignature");
  json_decref(j);
  j = parse(JWS_ED);
  const char *other = "{\"descriptorCid\":\"" DESCRIPTOR_CID "\",\"permissionGrantId\":\"x\"}";
  char *p2 = b64u(other, strlen(other));
  json_object_set_new(j, "payload", json_string(p2));
  free(p2);
  expect_auth(e, j, 401, "GeneralJwsVerifierInvalidSignature");
  json_decref(j);
  /* 401: the key's curve cannot verify */
  char kid[256];
  snprintf(kid, sizeof kid, "%s#%s", X25519_DID, X25519_DID + 8);
  j = sign(ED_PRIVATE_JWK, kid, payload_text);
  expect_auth(e, j, 401, "JwsVerifySignatureUnsupportedCrv");
  json_decref(j);
  /* 401 without a DwnErrorCode: the protected header is not JSON (the SDK
   * throws a plain Error there) */
  j = parse(JWS_ED);
  json_object_set_new(entry0(j), "protected", json_string("bm9wZQ"));
  expect_auth(e, j, 401, NULL);
  json_decref(j);
}

static void test_auth_did_web_and_cache(void **state) {
  env_t *e = *state;
  const char *payload_text = "{\"descriptorCid\":\"" DESCRIPTOR_CID "\"}";
  json_t *jws = NULL, *bad = NULL;
  /* kid "did:web:example.com#key-0" ends with the relative VM id "#key-0" */
  assert_int_equal(jws_sign(e->web_priv, "did:web:example.com#key-0", payload_text, strlen(payload_text), &jws), 0);
  e->web.fetches = 0;
  expect_auth(e, jws, 200, NULL);
  assert_int_equal(e->web.fetches, 1);
  /* the resolver cache has expired; the verification cache answers */
  e->clock.now_ms += 1000;
  expect_auth(e, jws, 200, NULL);
  expect_auth(e, jws, 200, NULL);
  assert_int_equal(e->web.fetches, 1);
  /* a failed verification is cached too */
  bad = json_deep_copy(jws);
  json_t *ed_jws = parse(JWS_ED);
  json_object_set_new(entry0(bad), "signature", json_string(sigtext(ed_jws)));
  json_decref(ed_jws);
  expect_auth(e, bad, 401, "GeneralJwsVerifierInvalidSignature");
  assert_int_equal(e->web.fetches, 2);
  e->clock.now_ms += 1000;
  expect_auth(e, bad, 401, "GeneralJwsVerifierInvalidSignature");
  assert_int_equal(e->web.fetches, 2);
  /* 600 s after the first verification the entry has expired: resolved again */
  e->clock.now_ms += JWS_VERIFY_CACHE_TTL_MS;
  expect_auth(e, jws, 200, NULL);
  assert_int_equal(e->web.fetches, 3);
  /* the document cannot be fetched: key not found (and nothing cached) */
  e->clock.now_ms += JWS_VERIFY_CACHE_TTL_MS;
  e->web.fail = 1;
  expect_auth(e, jws, 401, "GeneralJwsVerifierGetPublicKeyNotFound");
  expect_auth(e, jws, 401, "GeneralJwsVerifierGetPublicKeyNotFound");
  assert_int_equal(e->web.fetches, 5);
  e->web.fail = 0;
  expect_auth(e, jws, 200, NULL);
  json_decref(jws);
  json_decref(bad);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_header_and_payload),
      cmocka_unit_test(test_signer_did),
      cmocka_unit_test(test_verify_sdk_signatures),
      cmocka_unit_test(test_verify_tampered),
      cmocka_unit_test(test_sign_round_trip),
      cmocka_unit_test(test_sign_low_s),
      cmocka_unit_test(test_cache),
      cmocka_unit_test_setup_teardown(test_auth_codes, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_auth_did_web_and_cache, env_setup, env_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
