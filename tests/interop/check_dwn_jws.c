/*
 * check_dwn_jws VECTORS.json OUT.json: the C side of tests/interop/dwn-jws.sh.
 *
 * VECTORS.json comes from dwn-jws.mjs (dwn-sdk-js 0.5.2, @web5/dids 1.2.0):
 *  - dids: every DID must resolve to the same document, byte for byte
 *    (compact JSON, member order included), or fail where @web5/dids fails;
 *    did:web documents are served from `web` (URL -> document) by a fetch
 *    callback, so the URL mapping is checked too;
 *  - jws: every General JWS must get the SDK's verdict from auth_check_signature:
 *    the same status, the same DwnErrorCode (when the SDK's error has one),
 *    the same signer DID; run twice, the second time through the verify cache;
 *  - keys: private JWKs the SDK made; the C side signs with each one (several
 *    times for secp256k1, each signature must be low-S) and verifies its own
 *    signatures, then generates fresh Ed25519 and secp256k1 keys, makes their
 *    did:key, resolves it and signs with it.
 * OUT.json gets {dids: [{did, document}], signed: [{name, kid, crv,
 * payloadText, jws}]} for `dwn-jws.mjs verify`.  Exit 0 when everything
 * matched, 1 otherwise (each mismatch printed).
 */
#include <errno.h>
#include <openssl/bn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dwn/auth.h"
#include "dwn/did.h"
#include "dwn/jwk.h"
#include "dwn/jws.h"
#include "err.h"
#include "multibase.h"

static int failures;

#define CHECK(cond, ...)             \
  do {                               \
    if (!(cond)) {                   \
      failures++;                    \
      printf("MISMATCH: " __VA_ARGS__); \
      printf("\n");                  \
    }                                \
  } while (0)

static int fake_fetch(void *ctx, const char *url, buf_t *body) {
  json_t *doc = json_object_get((json_t *)ctx, url);
  if (!doc) return -ENOENT;
  char *text = json_dumps(doc, JSON_COMPACT);
  if (!text) return -ENOMEM;
  int rc = buf_append(body, text, strlen(text));
  free(text);
  return rc;
}

static char *dump(const json_t *v) { return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY); }

static void check_dids(did_resolver_t *r, json_t *dids) {
  size_t i;
  json_t *d;
  json_array_foreach(dids, i, d) {
    const char *did = json_string_value(json_object_get(d, "did"));
    json_t *want = json_object_get(d, "document");
    json_t *got = NULL;
    int rc = did_resolve(r, did, &got);
    if (json_is_null(want)) {
      CHECK(rc != 0, "%s: resolved, @web5/dids says %s", did,
            json_string_value(json_object_get(d, "error")));
    } else if (rc != 0) {
      CHECK(0, "%s: %s", did, err_msg(rc));
    } else {
      char *a = dump(got), *b = dump(want);
      CHECK(strcmp(a, b) == 0, "%s: documents differ\n  C  %s\n  JS %s", did, a, b);
      free(a);
      free(b);
    }
    json_decref(got);
  }
}

/* Every JWS the SDK accepts carries this descriptorCid (its structure check compares it). */
static const char *descriptor_cid;

static void check_jws(auth_t *auth, json_t *list, int pass) {
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v) {
    const char *name = json_string_value(json_object_get(v, "name"));
    json_t *expect = json_object_get(v, "expect");
    int want_status = (int)json_integer_value(json_object_get(expect, "status"));
    const char *want_code = json_string_value(json_object_get(expect, "code"));
    dwn_status_t st = {0};
    auth_signature_t sig;
    int rc = auth_check_signature(auth, json_object_get(v, "jws"), &st, &sig);
    if (want_status == 200) {
      const char *signer = json_string_value(json_object_get(expect, "signer"));
      CHECK(rc == 0, "pass %d %s: C rejects (%d %s), SDK accepts", pass, name, st.code, st.detail);
      if (rc == 0) {
        CHECK(strcmp((const char *)sig.signer.data, signer) == 0, "%s: signer %s, want %s", name,
              (const char *)sig.signer.data, signer);
        const char *cid = json_string_value(json_object_get(sig.payload, "descriptorCid"));
        CHECK(cid && strcmp(cid, descriptor_cid) == 0, "%s: payload descriptorCid %s", name, cid ? cid : "(none)");
      }
    } else {
      CHECK(rc != 0 && st.code == want_status, "pass %d %s: C %d (%s), SDK %d (%s)", pass, name,
            rc == 0 ? 200 : st.code, rc == 0 ? "accepted" : st.detail, want_status,
            json_string_value(json_object_get(expect, "detail")));
      if (rc != 0 && want_code) {
        size_t n = strlen(want_code);
        CHECK(strncmp(st.detail, want_code, n) == 0 && st.detail[n] == ':', "pass %d %s: C detail \"%s\", SDK code %s",
              pass, name, st.detail, want_code);
      }
    }
    if (rc == 0) auth_signature_release(&sig);
  }
}

/* s of a compact secp256k1 signature <= n/2 */
static int is_low_s(const char *signature_b64) {
  uint8_t sig[128];
  int n = mbase_decode_to(MBASE_BASE64URL, signature_b64, strlen(signature_b64), sig, sizeof sig);
  if (n != 64) return 0;
  BIGNUM *s = BN_bin2bn(sig + 32, 32, NULL), *half = NULL;
  BN_hex2bn(&half, "7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0");
  int low = s && half && BN_cmp(s, half) <= 0;
  BN_free(s);
  BN_free(half);
  return low;
}

/* Signs payload_text with jwk as kid; verifies it here; appends to signed. */
static void sign_one(auth_t *auth, json_t *signed_list, const char *name, const json_t *jwk, const char *kid,
                     const char *payload_text) {
  json_t *jws = NULL;
  int rc = jws_sign(jwk, kid, payload_text, strlen(payload_text), &jws);
  CHECK(rc == 0, "%s: jws_sign: %s", name, err_msg(rc));
  if (rc != 0) return;
  dwn_status_t st = {0};
  auth_signature_t sig;
  rc = auth_check_signature(auth, jws, &st, &sig);
  CHECK(rc == 0, "%s: C does not verify its own signature: %s", name, st.detail);
  if (rc == 0) auth_signature_release(&sig);
  jwk_crv_t crv = jwk_crv(jwk);
  json_t *entry = json_array_get(json_object_get(jws, "signatures"), 0);
  if (crv == JWK_CRV_SECP256K1)
    CHECK(is_low_s(json_string_value(json_object_get(entry, "signature"))), "%s: high S emitted", name);
  json_array_append_new(signed_list, json_pack("{s:s, s:s, s:s, s:s, s:o}", "name", name, "kid", kid, "crv",
                                               jwk_crv_name(crv), "payloadText", payload_text, "jws", jws));
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s VECTORS.json OUT.json\n", argv[0]);
    return 2;
  }
  json_error_t jerr;
  json_t *vectors = json_load_file(argv[1], 0, &jerr);
  if (!vectors) {
    fprintf(stderr, "%s: %s\n", argv[1], jerr.text);
    return 2;
  }
  did_resolver_config_t rc_config = {.fetch = fake_fetch, .fetch_ctx = json_object_get(vectors, "web")};
  did_resolver_t *resolver = NULL;
  auth_t *auth = NULL;
  if (did_resolver_new(&rc_config, &resolver) != 0 ||
      auth_new(&(auth_config_t){.resolver = resolver}, &auth) != 0) {
    fprintf(stderr, "setup failed\n");
    return 2;
  }
  json_t *dids = json_object_get(vectors, "dids"), *jws = json_object_get(vectors, "jws");
  descriptor_cid = json_string_value(json_object_get(vectors, "descriptorCid"));
  check_dids(resolver, dids);
  check_dids(resolver, dids); /* through the resolver cache */
  check_jws(auth, jws, 1);
  check_jws(auth, jws, 2); /* through the verify cache */
  printf("checked %zu DIDs and %zu JWS twice\n", json_array_size(dids), json_array_size(jws));

  json_t *signed_list = json_array(), *made = json_array();
  char payload[256];
  snprintf(payload, sizeof payload, "{\"descriptorCid\":\"%s\"}",
           json_string_value(json_object_get(vectors, "descriptorCid")));
  size_t i;
  json_t *k;
  json_array_foreach(json_object_get(vectors, "keys"), i, k) {
    const char *name = json_string_value(json_object_get(k, "name"));
    const char *kid = json_string_value(json_object_get(k, "kid"));
    json_t *jwk = json_object_get(k, "privateJwk");
    int times = jwk_crv(jwk) == JWK_CRV_SECP256K1 ? 16 : 1;
    for (int t = 0; t < times; t++) {
      char label[128];
      snprintf(label, sizeof label, "%s #%d", name, t);
      sign_one(auth, signed_list, label, jwk, kid, payload);
    }
  }
  const jwk_crv_t fresh[] = {JWK_CRV_ED25519, JWK_CRV_SECP256K1};
  for (size_t f = 0; f < 2; f++) {
    json_t *priv = NULL, *pub = NULL, *doc = NULL;
    buf_t did = {0}, kid = {0};
    int rc = jwk_generate(fresh[f], &priv, &pub);
    if (rc == 0) rc = did_key_from_jwk(pub, &did);
    if (rc == 0) rc = buf_printf(&kid, "%s#%s", (const char *)did.data, (const char *)did.data + 8);
    if (rc == 0) rc = did_resolve(resolver, (const char *)did.data, &doc);
    CHECK(rc == 0, "fresh %s key: %s", jwk_crv_name(fresh[f]), err_msg(rc));
    if (rc == 0) {
      json_array_append_new(made, json_pack("{s:s, s:O}", "did", (const char *)did.data, "document", doc));
      char label[64];
      snprintf(label, sizeof label, "C-made did:key %s", jwk_crv_name(fresh[f]));
      sign_one(auth, signed_list, label, priv, buf_cstr(&kid), payload);
    }
    json_decref(doc);
    json_decref(priv);
    json_decref(pub);
    buf_free(&did);
    buf_free(&kid);
  }
  json_t *out = json_pack("{s:o, s:o}", "dids", made, "signed", signed_list);
  if (json_dump_file(out, argv[2], JSON_INDENT(1)) != 0) {
    fprintf(stderr, "cannot write %s\n", argv[2]);
    failures++;
  }
  printf("C signed %zu JWS\n", json_array_size(signed_list));
  json_decref(out);
  auth_free(auth);
  did_resolver_free(resolver);
  json_decref(vectors);
  if (failures) printf("%d mismatches\n", failures);
  return failures ? 1 : 0;
}
