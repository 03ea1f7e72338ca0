/*
 * dwn/did: documents byte-identical to @web5/dids 1.2.0's for did:key
 * (Ed25519, secp256k1, X25519) and did:jwk (plain and use:"sig"), did:key
 * rejections (points off the curve, Ed25519 decoding edges, wrong lengths,
 * unregistered codecs such as P-256), did:key from a JWK, DID syntax, the
 * did:web URL mapping and fetch failures through a fake fetch callback, the
 * resolver cache (hit, expiry on an injected clock, failures not cached) and
 * kid -> key: suffix matching and the JwkVerificationMethod checks with the
 * SDK's codes.  Vectors made by tests/interop/dwn-jws.mjs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dwn/did.h"
#include "dwn/jwk.h"
#include "err.h"
#include "multibase.h"
#include "dwn_vectors.h"

#define P256_DOC \
  "{\"@context\":[\"https://www.w3.org/ns/did/v1\"],\"id\":\"did:jwk:eyJhbGciOiJFUzI1NiIsImt0" \
  "eSI6IkVDIiwiY3J2IjoiUC0yNTYiLCJ4IjoiSUdZQUFEVzJSNzE2MldGTUc5THVub3pkNThpQjl3ZDlfQXU4eGZ3TG" \
  "JxMCIsInkiOiJocldiYUhJM0dyUWI0Z1VBcTlGU2NmUVNWQU01bDU1MWpUNXNTaHNRdEJZIn0\",\"verification" \
  "Method\":[{\"id\":\"did:jwk:eyJhbGciOiJFUzI1NiIsImt0eSI6IkVDIiwiY3J2IjoiUC0yNTYiLCJ4IjoiSU" \
  "dZQUFEVzJSNzE2MldGTUc5THVub3pkNThpQjl3ZDlfQXU4eGZ3TGJxMCIsInkiOiJocldiYUhJM0dyUWI0Z1VBcTlG" \
  "U2NmUVNWQU01bDU1MWpUNXNTaHNRdEJZIn0#0\",\"type\":\"JsonWebKey\",\"controller\":\"did:jwk:e" \
  "yJhbGciOiJFUzI1NiIsImt0eSI6IkVDIiwiY3J2IjoiUC0yNTYiLCJ4IjoiSUdZQUFEVzJSNzE2MldGTUc5THVub3p" \
  "kNThpQjl3ZDlfQXU4eGZ3TGJxMCIsInkiOiJocldiYUhJM0dyUWI0Z1VBcTlGU2NmUVNWQU01bDU1MWpUNXNTaHNRd" \
  "EJZIn0\",\"publicKeyJwk\":{\"alg\":\"ES256\",\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"IGYA" \
  "ADW2R7162WFMG9Lunozd58iB9wd9_Au8xfwLbq0\",\"y\":\"hrWbaHI3GrQb4gUAq9FScfQSVAM5l551jT5sShsQ" \
  "tBY\"}}],\"authentication\":[\"did:jwk:eyJhbGciOiJFUzI1NiIsImt0eSI6IkVDIiwiY3J2IjoiUC0yNTY" \
  "iLCJ4IjoiSUdZQUFEVzJSNzE2MldGTUc5THVub3pkNThpQjl3ZDlfQXU4eGZ3TGJxMCIsInkiOiJocldiYUhJM0dyU" \
  "WI0Z1VBcTlGU2NmUVNWQU01bDU1MWpUNXNTaHNRdEJZIn0#0\"],\"assertionMethod\":[\"did:jwk:eyJhbGc" \
  "iOiJFUzI1NiIsImt0eSI6IkVDIiwiY3J2IjoiUC0yNTYiLCJ4IjoiSUdZQUFEVzJSNzE2MldGTUc5THVub3pkNThpQ" \
  "jl3ZDlfQXU4eGZ3TGJxMCIsInkiOiJocldiYUhJM0dyUWI0Z1VBcTlGU2NmUVNWQU01bDU1MWpUNXNTaHNRdEJZIn0" \
  "#0\"],\"capabilityInvocation\":[\"did:jwk:eyJhbGciOiJFUzI1NiIsImt0eSI6IkVDIiwiY3J2IjoiUC0y" \
  "NTYiLCJ4IjoiSUdZQUFEVzJSNzE2MldGTUc5THVub3pkNThpQjl3ZDlfQXU4eGZ3TGJxMCIsInkiOiJocldiYUhJM0" \
  "dyUWI0Z1VBcTlGU2NmUVNWQU01bDU1MWpUNXNTaHNRdEJZIn0#0\"],\"capabilityDelegation\":[\"did:jwk" \
  ":eyJhbGciOiJFUzI1NiIsImt0eSI6IkVDIiwiY3J2IjoiUC0yNTYiLCJ4IjoiSUdZQUFEVzJSNzE2MldGTUc5THVub" \
  "3pkNThpQjl3ZDlfQXU4eGZ3TGJxMCIsInkiOiJocldiYUhJM0dyUWI0Z1VBcTlGU2NmUVNWQU01bDU1MWpUNXNTaHN" \
  "RdEJZIn0#0\"],\"keyAgreement\":[\"did:jwk:eyJhbGciOiJFUzI1NiIsImt0eSI6IkVDIiwiY3J2IjoiUC0y" \
  "NTYiLCJ4IjoiSUdZQUFEVzJSNzE2MldGTUc5THVub3pkNThpQjl3ZDlfQXU4eGZ3TGJxMCIsInkiOiJocldiYUhJM0" \
  "dyUWI0Z1VBcTlGU2NmUVNWQU01bDU1MWpUNXNTaHNRdEJZIn0#0\"]}"
#define ED_JWK_DID \
  "did:jwk:eyJjcnYiOiJFZDI1NTE5Iiwia3R5IjoiT0tQIiwieCI6IjNEUVlJU0g4ekFkQktkS1NMNHRiTWZwcmFzT3" \
  "Q2TDVYa1owTmhKY3QtblEiLCJraWQiOiJhbkl1bDF2dFRFTmZINzRoSlFJZTh6SGREcVM2R0h3MG1hTEVzU3RFZTlJ" \
  "IiwiYWxnIjoiRWREU0EifQ"
#define ED_JWK_DOC \
  "{\"@context\":[\"https://www.w3.org/ns/did/v1\"],\"id\":\"did:jwk:eyJjcnYiOiJFZDI1NTE5Iiwi" \
  "a3R5IjoiT0tQIiwieCI6IjNEUVlJU0g4ekFkQktkS1NMNHRiTWZwcmFzT3Q2TDVYa1owTmhKY3QtblEiLCJraWQiOi" \
  "Jhbkl1bDF2dFRFTmZINzRoSlFJZTh6SGREcVM2R0h3MG1hTEVzU3RFZTlJIiwiYWxnIjoiRWREU0EifQ\",\"verif" \
  "icationMethod\":[{\"id\":\"did:jwk:eyJjcnYiOiJFZDI1NTE5Iiwia3R5IjoiT0tQIiwieCI6IjNEUVlJU0g" \
  "4ekFkQktkS1NMNHRiTWZwcmFzT3Q2TDVYa1owTmhKY3QtblEiLCJraWQiOiJhbkl1bDF2dFRFTmZINzRoSlFJZTh6S" \
  "GREcVM2R0h3MG1hTEVzU3RFZTlJIiwiYWxnIjoiRWREU0EifQ#0\",\"type\":\"JsonWebKey\",\"controller" \
  "\":\"did:jwk:eyJjcnYiOiJFZDI1NTE5Iiwia3R5IjoiT0tQIiwieCI6IjNEUVlJU0g4ekFkQktkS1NMNHRiTWZwc" \
  "mFzT3Q2TDVYa1owTmhKY3QtblEiLCJraWQiOiJhbkl1bDF2dFRFTmZINzRoSlFJZTh6SGREcVM2R0h3MG1hTEVzU3R" \
  "FZTlJIiwiYWxnIjoiRWREU0EifQ\",\"publicKeyJwk\":{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":" \
  "\"3DQYISH8zAdBKdKSL4tbMfprasOt6L5XkZ0NhJct-nQ\",\"kid\":\"anIul1vtTENfH74hJQIe8zHdDqS6GHw0" \
  "maLEsStEe9I\",\"alg\":\"EdDSA\"}}],\"authentication\":[\"did:jwk:eyJjcnYiOiJFZDI1NTE5Iiwia" \
  "3R5IjoiT0tQIiwieCI6IjNEUVlJU0g4ekFkQktkS1NMNHRiTWZwcmFzT3Q2TDVYa1owTmhKY3QtblEiLCJraWQiOiJ" \
  "hbkl1bDF2dFRFTmZINzRoSlFJZTh6SGREcVM2R0h3MG1hTEVzU3RFZTlJIiwiYWxnIjoiRWREU0EifQ#0\"],\"ass" \
  "ertionMethod\":[\"did:jwk:eyJjcnYiOiJFZDI1NTE5Iiwia3R5IjoiT0tQIiwieCI6IjNEUVlJU0g4ekFkQktk" \
  "S1NMNHRiTWZwcmFzT3Q2TDVYa1owTmhKY3QtblEiLCJraWQiOiJhbkl1bDF2dFRFTmZINzRoSlFJZTh6SGREcVM2R0" \
  "h3MG1hTEVzU3RFZTlJIiwiYWxnIjoiRWREU0EifQ#0\"],\"capabilityInvocation\":[\"did:jwk:eyJjcnYi" \
  "OiJFZDI1NTE5Iiwia3R5IjoiT0tQIiwieCI6IjNEUVlJU0g4ekFkQktkS1NMNHRiTWZwcmFzT3Q2TDVYa1owTmhKY3" \
  "QtblEiLCJraWQiOiJhbkl1bDF2dFRFTmZINzRoSlFJZTh6SGREcVM2R0h3MG1hTEVzU3RFZTlJIiwiYWxnIjoiRWRE" \
  "U0EifQ#0\"],\"capabilityDelegation\":[\"did:jwk:eyJjcnYiOiJFZDI1NTE5Iiwia3R5IjoiT0tQIiwieC" \
  "I6IjNEUVlJU0g4ekFkQktkS1NMNHRiTWZwcmFzT3Q2TDVYa1owTmhKY3QtblEiLCJraWQiOiJhbkl1bDF2dFRFTmZI" \
  "NzRoSlFJZTh6SGREcVM2R0h3MG1hTEVzU3RFZTlJIiwiYWxnIjoiRWREU0EifQ#0\"],\"keyAgreement\":[\"di" \
  "d:jwk:eyJjcnYiOiJFZDI1NTE5Iiwia3R5IjoiT0tQIiwieCI6IjNEUVlJU0g4ekFkQktkS1NMNHRiTWZwcmFzT3Q2" \
  "TDVYa1owTmhKY3QtblEiLCJraWQiOiJhbkl1bDF2dFRFTmZINzRoSlFJZTh6SGREcVM2R0h3MG1hTEVzU3RFZTlJIi" \
  "wiYWxnIjoiRWREU0EifQ#0\"]}"
#define SIG_JWK_DID \
  "did:jwk:eyJhbGciOiJFUzI1NksiLCJrdHkiOiJFQyIsImNydiI6InNlY3AyNTZrMSIsIngiOiJsSFdncWJSU1ZkNm" \
  "hXTGRSWVNtQXZLeHBZVXU4bzNJZDdoWklfY2psVUFRIiwieSI6InhFOFNKaHdXRU1LY0hfWE45ZzV3SXkxNzlmZlh5" \
  "MnRyWE1NV2JaMVZjdVUiLCJ1c2UiOiJzaWcifQ"
#define SIG_JWK_DOC \
  "{\"@context\":[\"https://www.w3.org/ns/did/v1\"],\"id\":\"did:jwk:eyJhbGciOiJFUzI1NksiLCJr" \
  "dHkiOiJFQyIsImNydiI6InNlY3AyNTZrMSIsIngiOiJsSFdncWJSU1ZkNmhXTGRSWVNtQXZLeHBZVXU4bzNJZDdoWk" \
  "lfY2psVUFRIiwieSI6InhFOFNKaHdXRU1LY0hfWE45ZzV3SXkxNzlmZlh5MnRyWE1NV2JaMVZjdVUiLCJ1c2UiOiJz" \
  "aWcifQ\",\"verificationMethod\":[{\"id\":\"did:jwk:eyJhbGciOiJFUzI1NksiLCJrdHkiOiJFQyIsImN" \
  "ydiI6InNlY3AyNTZrMSIsIngiOiJsSFdncWJSU1ZkNmhXTGRSWVNtQXZLeHBZVXU4bzNJZDdoWklfY2psVUFRIiwie" \
  "SI6InhFOFNKaHdXRU1LY0hfWE45ZzV3SXkxNzlmZlh5MnRyWE1NV2JaMVZjdVUiLCJ1c2UiOiJzaWcifQ#0\",\"ty" \
  "pe\":\"JsonWebKey\",\"controller\":\"did:jwk:eyJhbGciOiJFUzI1NksiLCJrdHkiOiJFQyIsImNydiI6I" \
  "nNlY3AyNTZrMSIsIngiOiJsSFdncWJSU1ZkNmhXTGRSWVNtQXZLeHBZVXU4bzNJZDdoWklfY2psVUFRIiwieSI6Inh" \
  "FOFNKaHdXRU1LY0hfWE45ZzV3SXkxNzlmZlh5MnRyWE1NV2JaMVZjdVUiLCJ1c2UiOiJzaWcifQ\",\"publicKeyJ" \
  "wk\":{\"alg\":\"ES256K\",\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"lHWgqbRSVd6hWLdRYSmA" \
  "vKxpYUu8o3Id7hZI_cjlUAQ\",\"y\":\"xE8SJhwWEMKcH_XN9g5wIy179ffXy2trXMMWbZ1VcuU\",\"use\":\"" \
  "sig\"}}],\"authentication\":[\"did:jwk:eyJhbGciOiJFUzI1NksiLCJrdHkiOiJFQyIsImNydiI6InNlY3A" \
  "yNTZrMSIsIngiOiJsSFdncWJSU1ZkNmhXTGRSWVNtQXZLeHBZVXU4bzNJZDdoWklfY2psVUFRIiwieSI6InhFOFNKa" \
  "HdXRU1LY0hfWE45ZzV3SXkxNzlmZlh5MnRyWE1NV2JaMVZjdVUiLCJ1c2UiOiJzaWcifQ#0\"],\"assertionMeth" \
  "od\":[\"did:jwk:eyJhbGciOiJFUzI1NksiLCJrdHkiOiJFQyIsImNydiI6InNlY3AyNTZrMSIsIngiOiJsSFdncW" \
  "JSU1ZkNmhXTGRSWVNtQXZLeHBZVXU4bzNJZDdoWklfY2psVUFRIiwieSI6InhFOFNKaHdXRU1LY0hfWE45ZzV3SXkx" \
  "NzlmZlh5MnRyWE1NV2JaMVZjdVUiLCJ1c2UiOiJzaWcifQ#0\"],\"capabilityInvocation\":[\"did:jwk:ey" \
  "JhbGciOiJFUzI1NksiLCJrdHkiOiJFQyIsImNydiI6InNlY3AyNTZrMSIsIngiOiJsSFdncWJSU1ZkNmhXTGRSWVNt" \
  "QXZLeHBZVXU4bzNJZDdoWklfY2psVUFRIiwieSI6InhFOFNKaHdXRU1LY0hfWE45ZzV3SXkxNzlmZlh5MnRyWE1NV2" \
  "JaMVZjdVUiLCJ1c2UiOiJzaWcifQ#0\"],\"capabilityDelegation\":[\"did:jwk:eyJhbGciOiJFUzI1Nksi" \
  "LCJrdHkiOiJFQyIsImNydiI6InNlY3AyNTZrMSIsIngiOiJsSFdncWJSU1ZkNmhXTGRSWVNtQXZLeHBZVXU4bzNJZD" \
  "doWklfY2psVUFRIiwieSI6InhFOFNKaHdXRU1LY0hfWE45ZzV3SXkxNzlmZlh5MnRyWE1NV2JaMVZjdVUiLCJ1c2Ui" \
  "OiJzaWcifQ#0\"]}"
static const char *const invalid_key_dids[] = {
    "did:key:z6Mkeb4rtEhc8DUtvt5ehaVjdx3TLbQPpnTArkXhqfb1Mq75",
    "did:key:z6Mkevau7iL2bPxTyLgXF6py7ambdeEFMXxhn659Me8yxrQo",
    "did:key:z6MkeXATEjyXENzBXBxgC5EHk2JE5aqd7qMGGtDpLUH1e2Uw",
    "did:key:z6MkeXATEjyXENzBXBxgC5EHk2JE5aqd7qMGGtDpLUH1e2Sj",
    "did:key:z6MkwgaR63138bEEgad7uk993KMX54vBA6KTB4sFhCPnSAzS",
    "did:key:zQ3shMQnkqiyfujhRPGFFqSEeD2yV9kUcmyBiu2fT2BXfFPMN",
};
static const char *const valid_edge_dids[] = {
    "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doX",
    "did:key:z6MkeeyGXjRh23ycLaCdD5mBXsngbbyAXjZ5ScqbLru15dmR",
};

static json_t *parse(const char *text) {
  json_error_t e;
  json_t *v = json_loads(text, 0, &e);
  if (!v) fail_msg("bad test JSON: %s", e.text);
  return v;
}

/* Compact JSON with member order, as JSON.stringify writes it. */
static void expect_doc(const json_t *doc, const char *want) {
  char *got = json_dumps(doc, JSON_COMPACT);
  if (strcmp(got, want) != 0) fail_msg("document\n  got  %s\n  want %s", got, want);
  free(got);
}

static void test_did_syntax(void **state) {
  (void)state;
  const char *good[] = {"did:key:z6Mk", "did:web:example.com", "did:web:example.com%3A8443:u:alice",
                        "did:a1:b", "did:ion:x:y", "did:example:_.-"};
  const char *bad[] = {"", "did:", "did::x", "did:Key:x", "did:web:", "did:web:a:", "did:web:a/b",
                       "did:web:a#f", "did:web:a?q", "did:web:%zz", "did:web:%4", "did:web:a b", "dad:web:a",
                       "did-web:a", "did:web"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    if (!did_is_valid(good[i])) fail_msg("%s rejected", good[i]);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (did_is_valid(bad[i])) fail_msg("%s accepted", bad[i]);
  char long_did[DID_BYTES_MAX + 16];
  memset(long_did, 'a', sizeof long_did - 1);
  long_did[sizeof long_did - 1] = '\0';
  memcpy(long_did, "did:web:", 8);
  assert_false(did_is_valid(long_did));
  long_did[DID_BYTES_MAX] = '\0';
  assert_true(did_is_valid(long_did));
}

static void test_did_key_documents(void **state) {
  (void)state;
  const char *dids[] = {ED_DID, K1_DID, X25519_DID};
  const char *docs[] = {ED_DOC, K1_DOC, X25519_DOC};
  for (size_t i = 0; i < 3; i++) {
    json_t *doc = NULL;
    assert_int_equal(did_key_document(dids[i], &doc), 0);
    expect_doc(doc, docs[i]);
    json_decref(doc);
  }
  /* keys at the edges of Ed25519 point decoding that @web5/dids accepts */
  for (size_t i = 0; i < sizeof valid_edge_dids / sizeof valid_edge_dids[0]; i++) {
    json_t *doc = NULL;
    if (did_key_document(valid_edge_dids[i], &doc) != 0) fail_msg("%s rejected", valid_edge_dids[i]);
    json_decref(doc);
  }
}

static void test_did_key_rejections(void **state) {
  (void)state;
  json_t *doc = NULL;
  /* @web5/dids says invalidPublicKey for each of these */
  for (size_t i = 0; i < sizeof invalid_key_dids / sizeof invalid_key_dids[0]; i++)
    if (did_key_document(invalid_key_dids[i], &doc) != -EINVAL) fail_msg("%s accepted", invalid_key_dids[i]);
  /* P-256 (0x1200) is not registered in @web5/dids 1.2.0 */
  assert_int_equal(did_key_document(P256_DID_KEY, &doc), -ENOTSUP);
  assert_int_equal(did_key_document("did:key:notbase58", &doc), -EINVAL);
  assert_int_equal(did_key_document("did:key:z", &doc), -EINVAL);
  assert_int_equal(did_key_document("did:key:z0OIl", &doc), -EINVAL); /* not base58 */
  assert_int_equal(did_key_document("did:jwk:abc", &doc), -EINVAL);
  /* a key one byte short, and one byte long */
  uint8_t bytes[64] = {0xed, 0x01};
  buf_t b = {0};
  buf_printf(&b, "did:key:");
  assert_int_equal(mbase_encode_prefixed(MBASE_BASE58BTC, bytes, 2 + 31, &b), 0);
  assert_int_equal(did_key_document((char *)b.data, &doc), -EINVAL);
  buf_reset(&b);
  buf_printf(&b, "did:key:");
  assert_int_equal(mbase_encode_prefixed(MBASE_BASE58BTC, bytes, 2 + 33, &b), 0);
  assert_int_equal(did_key_document((char *)b.data, &doc), -EINVAL);
  /* an unregistered codec (sr25519-pub 0xef) */
  bytes[0] = 0xef;
  buf_reset(&b);
  buf_printf(&b, "did:key:");
  assert_int_equal(mbase_encode_prefixed(MBASE_BASE58BTC, bytes, 2 + 32, &b), 0);
  assert_int_equal(did_key_document((char *)b.data, &doc), -ENOTSUP);
  buf_free(&b);
}

static void test_did_jwk_documents(void **state) {
  (void)state;
  json_t *doc = NULL;
  assert_int_equal(did_jwk_document(ED_JWK_DID, &doc), 0);
  expect_doc(doc, ED_JWK_DOC);
  json_decref(doc);
  assert_int_equal(did_jwk_document(SIG_JWK_DID, &doc), 0);
  expect_doc(doc, SIG_JWK_DOC);
  assert_null(json_object_get(doc, "keyAgreement"));
  json_decref(doc);
  assert_int_equal(did_jwk_document(P256_DID, &doc), 0);
  expect_doc(doc, P256_DOC);
  json_decref(doc);
  /* use:"enc": only keyAgreement */
  const char *enc = "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AAAA\",\"use\":\"enc\"}";
  buf_t did = {0};
  buf_printf(&did, "did:jwk:");
  assert_int_equal(mbase_encode(MBASE_BASE64URL, (const uint8_t *)enc, strlen(enc), &did), 0);
  assert_int_equal(did_jwk_document((char *)did.data, &doc), 0);
  assert_non_null(json_object_get(doc, "keyAgreement"));
  assert_null(json_object_get(doc, "authentication"));
  assert_null(json_object_get(doc, "assertionMethod"));
  json_decref(doc);
  buf_free(&did);
  /* not base64url JSON of an object */
  assert_int_equal(did_jwk_document("did:jwk:bm90IGpzb24", &doc), -EINVAL); /* "not json" */
  assert_int_equal(did_jwk_document("did:jwk:WzFd", &doc), -EINVAL);       /* [1] */
  assert_int_equal(did_jwk_document("did:jwk:e30=", &doc), -EINVAL);       /* padding */
  assert_int_equal(did_jwk_document("did:key:e30", &doc), -EINVAL);
}

static void test_did_key_from_jwk(void **state) {
  (void)state;
  const char *docs[] = {ED_DOC, K1_DOC};
  const char *dids[] = {ED_DID, K1_DID};
  for (size_t i = 0; i < 2; i++) {
    json_t *doc = parse(docs[i]);
    json_t *jwk = json_object_get(json_array_get(json_object_get(doc, "verificationMethod"), 0), "publicKeyJwk");
    buf_t b = {0};
    assert_int_equal(did_key_from_jwk(jwk, &b), 0);
    assert_string_equal((char *)b.data, dids[i]);
    buf_free(&b);
    json_decref(doc);
  }
  /* fresh keys: their did:key resolves to a document holding the same key */
  const jwk_crv_t crvs[] = {JWK_CRV_ED25519, JWK_CRV_SECP256K1};
  const char *prefix[] = {"did:key:z6Mk", "did:key:zQ3s"};
  for (size_t i = 0; i < 2; i++) {
    for (int n = 0; n < 8; n++) {
      json_t *priv = NULL, *pub = NULL, *doc = NULL;
      assert_int_equal(jwk_generate(crvs[i], &priv, &pub), 0);
      buf_t b = {0};
      assert_int_equal(did_key_from_jwk(priv, &b), 0);
      assert_memory_equal(b.data, prefix[i], 12);
      assert_int_equal(did_key_document((char *)b.data, &doc), 0);
      json_t *got = json_deep_copy(
          json_object_get(json_array_get(json_object_get(doc, "verificationMethod"), 0), "publicKeyJwk"));
      json_object_del(got, "kid");
      assert_true(json_equal(got, pub));
      json_decref(got);
      json_decref(doc);
      json_decref(priv);
      json_decref(pub);
      buf_free(&b);
    }
  }
  json_t *p256 = parse(P256_PRIVATE_JWK);
  buf_t b = {0};
  assert_int_equal(did_key_from_jwk(p256, &b), -ENOTSUP);
  assert_int_equal(b.len, 0);
  json_decref(p256);
}

static void test_did_web_url(void **state) {
  (void)state;
  const struct {
    const char *did, *url;
  } ok[] = {
      {"did:web:example.com", "https://example.com/.well-known/did.json"},
      {"did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"},
      {"did:web:example.com%3A3000", "https://example.com:3000/.well-known/did.json"},
      {"did:web:example.com%3A8443:users:alice", "https://example.com:8443/users/alice/did.json"},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    buf_t b = {0};
    assert_int_equal(did_web_url(ok[i].did, &b), 0);
    assert_string_equal((char *)b.data, ok[i].url);
    buf_free(&b);
  }
  const char *bad[] = {"did:web:example.com%2Fevil", "did:web:example.com%2F", "did:web:a%40b", "did:web:a%00",
                       "did:web:a%3Fq", "did:web:a%23f", "did:web:a%5Cb", "did:key:z6Mk", "did:web:", "web:a"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    buf_t b = {0};
    if (did_web_url(bad[i], &b) != -EINVAL) fail_msg("%s mapped to %s", bad[i], b.data ? (char *)b.data : "");
    assert_int_equal(b.len, 0);
    buf_free(&b);
  }
}

/* ---- the resolver ------------------------------------------------------------------ */

typedef struct fake {
  uint64_t now_ms;
  int fetches;
  const char *url; /* served URL */
  const char *body;
  size_t repeat; /* body repeated this many times (for the size bound) */
  int status;    /* returned by fetch when != 0 */
} fake_t;

static uint64_t fake_now(void *ctx) { return ((fake_t *)ctx)->now_ms; }

static int fake_fetch(void *ctx, const char *url, buf_t *out) {
  fake_t *f = ctx;
  f->fetches++;
  if (f->status) return f->status;
  if (strcmp(url, f->url) != 0) return -ENOENT;
  for (size_t i = 0; i < (f->repeat ? f->repeat : 1); i++)
    if (buf_append(out, f->body, strlen(f->body)) != 0) return -ENOMEM;
  return 0;
}

static did_resolver_t *resolver_for(fake_t *f) {
  did_resolver_t *r = NULL;
  did_resolver_config_t c = {.fetch = fake_fetch, .fetch_ctx = f, .clock = fake_now, .clock_ctx = f,
                             .cache_entries_max = 4};
  assert_int_equal(did_resolver_new(&c, &r), 0);
  return r;
}

#define WEB_DOC \
  "{\"id\":\"did:web:example.com\",\"verificationMethod\":[{\"id\":\"#key-0\",\"type\":\"JsonWebKey\"," \
  "\"controller\":\"did:web:example.com\",\"publicKeyJwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AA\"}}]}"

static void test_resolver_web_and_cache(void **state) {
  (void)state;
  fake_t f = {.now_ms = 1, .url = "https://example.com/.well-known/did.json", .body = WEB_DOC};
  did_resolver_t *r = resolver_for(&f);
  json_t *doc = NULL;
  assert_int_equal(did_resolve(r, "did:web:example.com", &doc), 0);
  expect_doc(doc, WEB_DOC);
  json_decref(doc);
  assert_int_equal(f.fetches, 1);
  /* cached for 15 minutes */
  f.now_ms += DID_CACHE_TTL_MS - 1;
  assert_int_equal(did_resolve(r, "did:web:example.com", &doc), 0);
  json_decref(doc);
  assert_int_equal(f.fetches, 1);
  f.now_ms += 1;
  assert_int_equal(did_resolve(r, "did:web:example.com", &doc), 0);
  json_decref(doc);
  assert_int_equal(f.fetches, 2);
  /* did:key and did:jwk go through the cache too (and need no fetch) */
  assert_int_equal(did_resolve(r, ED_DID, &doc), 0);
  expect_doc(doc, ED_DOC);
  json_decref(doc);
  assert_int_equal(did_resolve(r, ED_DID, &doc), 0);
  expect_doc(doc, ED_DOC);
  json_decref(doc);
  assert_int_equal(did_resolve(r, P256_DID, &doc), 0);
  expect_doc(doc, P256_DOC);
  json_decref(doc);
  assert_int_equal(f.fetches, 2);
  /* the cache is bounded (4 entries here): resolving more evicts the oldest */
  const char *more[] = {K1_DID, X25519_DID, ED_JWK_DID, SIG_JWK_DID};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(did_resolve(r, more[i], &doc), 0);
    json_decref(doc);
  }
  assert_int_equal(did_resolve(r, "did:web:example.com", &doc), 0);
  json_decref(doc);
  assert_int_equal(f.fetches, 3);
  /* failures are not cached */
  f.now_ms += DID_CACHE_TTL_MS;
  f.status = -ECONNREFUSED;
  assert_int_equal(did_resolve(r, "did:web:example.com", &doc), -ENOENT);
  assert_int_equal(did_resolve(r, "did:web:example.com", &doc), -ENOENT);
  assert_int_equal(f.fetches, 5);
  f.status = 0;
  /* another URL than the DID maps to: not found */
  assert_int_equal(did_resolve(r, "did:web:example.com:alice", &doc), -ENOENT);
  /* the body must be a JSON object within DID_DOCUMENT_BYTES_MAX */
  f.body = "[1]";
  assert_int_equal(did_resolve(r, "did:web:example.com", &doc), -ENOENT);
  f.body = "{not json";
  assert_int_equal(did_resolve(r, "did:web:example.com", &doc), -ENOENT);
  f.body = "                                                                ";
  f.repeat = DID_DOCUMENT_BYTES_MAX / 64 + 1;
  assert_int_equal(did_resolve(r, "did:web:example.com", &doc), -ENOENT);
  f.repeat = 0;
  /* other methods, not DIDs */
  int fetches = f.fetches;
  assert_int_equal(did_resolve(r, "did:example:123", &doc), -ENOTSUP);
  assert_int_equal(did_resolve(r, "did:dht:abc", &doc), -ENOTSUP);
  assert_int_equal(did_resolve(r, "did:key:notbase58", &doc), -EINVAL);
  assert_int_equal(did_resolve(r, "not a did", &doc), -EINVAL);
  assert_int_equal(did_resolve(r, ED_KID, &doc), -EINVAL); /* a fragment is not part of a DID */
  assert_int_equal(f.fetches, fetches);
  did_resolver_free(r);
  /* without a fetch callback did:web is not supported */
  did_resolver_t *plain = NULL;
  assert_int_equal(did_resolver_new(NULL, &plain), 0);
  assert_int_equal(did_resolve(plain, "did:web:example.com", &doc), -ENOTSUP);
  assert_int_equal(did_resolve(plain, K1_DID, &doc), 0);
  expect_doc(doc, K1_DOC);
  json_decref(doc);
  did_resolver_free(plain);
}

/* ---- kid -> key ------------------------------------------------------------------------ */

static void expect_find(const char *doc_text, const char *kid, const char *error_code, const char *want_x) {
  json_t *doc = parse(doc_text);
  dwn_status_t st = {0};
  const json_t *jwk = NULL;
  int rc = did_find_key(doc, kid, &st, &jwk);
  if (!error_code) {
    if (rc != 0) fail_msg("%s: %s", kid, st.detail);
    assert_string_equal(json_string_value(json_object_get(jwk, "x")), want_x);
  } else {
    if (rc != -EACCES) fail_msg("%s: found, want %s", kid, error_code);
    assert_int_equal(st.code, 401);
    size_t n = strlen(error_code);
    if (strncmp(st.detail, error_code, n) != 0 || st.detail[n] != ':')
      fail_msg("%s: detail \"%s\", want %s", kid, st.detail, error_code);
  }
  json_decref(doc);
}

#define VM(id, type, extra, jwk) \
  "{\"id\":\"" id "\",\"type\":\"" type "\",\"controller\":\"did:web:a.example\"" extra ",\"publicKeyJwk\":" jwk "}"
#define ED_X(x) "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" x "\"}"

static void test_find_key(void **state) {
  (void)state;
  /* did:key: the absolute VM id is the kid */
  json_t *ed = parse(ED_DOC);
  const char *ed_x = json_string_value(json_object_get(
      json_object_get(json_array_get(json_object_get(ed, "verificationMethod"), 0), "publicKeyJwk"), "x"));
  expect_find(ED_DOC, ED_KID, NULL, ed_x);
  expect_find(ED_DOC, ED_DID "#nope", "GeneralJwsVerifierGetPublicKeyNotFound", NULL);
  expect_find(ED_DOC, ED_DID, "GeneralJwsVerifierGetPublicKeyNotFound", NULL);
  /* suffix matching: prefixed kids still match (as String.endsWith does) */
  expect_find(ED_DOC, "xx" ED_KID, NULL, ed_x);
  json_decref(ed);
  const char *doc = "{\"id\":\"did:web:a.example\",\"verificationMethod\":["
      VM("#k1", "JsonWebKey", "", ED_X("one")) ","
      VM("did:web:a.example#k2", "JsonWebKey2020", "", ED_X("two")) ","
      VM("#k1", "JsonWebKey", "", ED_X("second-k1")) ","
      VM("#priv", "JsonWebKey", "", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"p\",\"d\":\"q\"}") ","
      VM("#extra", "JsonWebKey", ",\"note\":1", ED_X("e")) ","
      VM("#type", "Ed25519VerificationKey2020", "", ED_X("t")) ","
      VM("#nokty", "JsonWebKey", "", "{\"crv\":\"Ed25519\",\"x\":\"n\"}") ","
      VM("#badkty", "JsonWebKey", "", "{\"kty\":\"XX\",\"x\":\"n\"}") ","
      VM("#rsapriv", "JsonWebKey", "", "{\"kty\":\"RSA\",\"n\":\"n\",\"e\":\"e\",\"p\":\"p\"}") ","
      VM("#notobj", "JsonWebKey", "", "\"jwk\"") ","
      "{\"id\":\"#noctl\",\"type\":\"JsonWebKey\",\"publicKeyJwk\":" ED_X("c") "},"
      "{\"id\":\"#badctl\",\"type\":\"JsonWebKey\",\"controller\":\"alice\",\"publicKeyJwk\":" ED_X("c") "},"
      "{\"id\":5},"
      "\"just a string\""
      "]}";
  /* relative ids are suffixes of the kid; the first match wins */
  expect_find(doc, "did:web:a.example#k1", NULL, "one");
  expect_find(doc, "did:web:a.example#k2", NULL, "two");
  expect_find(doc, "did:web:b.example#k2", "GeneralJwsVerifierGetPublicKeyNotFound", NULL);
  expect_find(doc, "did:web:a.example#k3", "GeneralJwsVerifierGetPublicKeyNotFound", NULL);
  /* JwkVerificationMethod: the SDK's schema codes, still 401 */
  expect_find(doc, "did:web:a.example#priv", "SchemaValidatorFailure", NULL);
  expect_find(doc, "did:web:a.example#extra", "SchemaValidatorAdditionalPropertyNotAllowed", NULL);
  expect_find(doc, "did:web:a.example#type", "SchemaValidatorFailure", NULL);
  expect_find(doc, "did:web:a.example#nokty", "SchemaValidatorFailure", NULL);
  expect_find(doc, "did:web:a.example#badkty", "SchemaValidatorFailure", NULL);
  expect_find(doc, "did:web:a.example#rsapriv", "SchemaValidatorFailure", NULL);
  expect_find(doc, "did:web:a.example#notobj", "SchemaValidatorFailure", NULL);
  expect_find(doc, "did:web:a.example#noctl", "SchemaValidatorFailure", NULL);
  expect_find(doc, "did:web:a.example#badctl", "SchemaValidatorFailure", NULL);
  /* no verificationMethod at all */
  expect_find("{\"id\":\"did:web:a.example\"}", "did:web:a.example#k1", "GeneralJwsVerifierGetPublicKeyNotFound", NULL);
  expect_find("{\"verificationMethod\":{}}", "did:web:a.example#k1", "GeneralJwsVerifierGetPublicKeyNotFound", NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_did_syntax),        cmocka_unit_test(test_did_key_documents),
      cmocka_unit_test(test_did_key_rejections), cmocka_unit_test(test_did_jwk_documents),
      cmocka_unit_test(test_did_key_from_jwk),  cmocka_unit_test(test_did_web_url),
      cmocka_unit_test(test_resolver_web_and_cache), cmocka_unit_test(test_find_key),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
