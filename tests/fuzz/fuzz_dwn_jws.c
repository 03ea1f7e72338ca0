/*
 * fuzz_dwn_jws: the input read three ways, with no network (the resolver
 * has no fetch callback, so did:web is "not supported"):
 *  - as JSON: a General JWS through jws_parse, header and payload decoding,
 *    and the authentication entry (parse phase, then verification with
 *    did:key / did:jwk resolution); as a JWK through the key conversions and
 *    the thumbprint; and a {"doc":..., "kid":...} object through kid -> key;
 *  - as a DID string through the syntax check, the did:web URL mapping and
 *    the resolver.
 * Properties (a violation aborts): the parsers agree with each other; every
 * failure has a 400/401 status naming a code; a resolved document is an
 * object with that DID as id and one verification method; a did:web URL
 * starts with https:// and keeps no fragment, query or backslash.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dwn/auth.h"
#include "dwn/did.h"
#include "dwn/jwk.h"
#include "dwn/jws.h"

#define INPUT_BYTES_MAX 65536

static did_resolver_t *resolver;
static auth_t *auth;

static void setup(void) {
  if (resolver) return;
  did_resolver_config_t rc = {.cache_entries_max = 64};
  if (did_resolver_new(&rc, &resolver) != 0) abort();
  auth_config_t ac = {.resolver = resolver, .cache_entries_max = 64};
  if (auth_new(&ac, &auth) != 0) abort();
}

static void check_status(const dwn_status_t *st, int rc) {
  if (rc == -ENOMEM) return;
  if (!((st->code == 400 && rc == -EINVAL) || (st->code == 401 && rc == -EACCES))) abort();
  if (st->detail[0] == '\0') abort();
}

static void check_jws(const json_t *v) {
  jws_general_t g;
  int rc = jws_parse(v, &g);
  if (rc == 0) {
    if (g.signature_count < 1 || g.signature_count > JWS_SIGNATURES_MAX || !g.payload_b64) abort();
    for (size_t i = 0; i < g.signature_count; i++) {
      json_t *h = NULL;
      const char *kid = NULL;
      if (jws_decode_header(g.signatures[i].protected_b64, &h, &kid, NULL) == 0) {
        if (!kid || !*kid) abort();
        buf_t did = {0};
        if (jws_signer_did(kid, &did) == 0 && (did.len == 0 || memchr(did.data, '#', did.len))) abort();
        buf_free(&did);
        json_decref(h);
      }
    }
    json_t *p = NULL;
    if (jws_decode_payload(g.payload_b64, &p) == 0) {
      if (!json_is_object(p)) abort();
      json_decref(p);
    }
  } else if (rc != -EINVAL && rc != -ENOMEM) {
    abort();
  }
  dwn_status_t st = {0};
  json_t *payload = NULL;
  rc = auth_parse_signature(v, &st, &payload);
  if (rc == 0) {
    if (jws_parse(v, &g) != 0 || g.signature_count != 1 || !json_is_object(payload)) abort();
    json_decref(payload);
    auth_signature_t sig = {0};
    rc = auth_verify(auth, v, &st, &sig);
    if (rc == 0) {
      if (sig.signer.len == 0 ||
          strncmp((const char *)sig.kid.data, (const char *)sig.signer.data, sig.signer.len) != 0)
        abort();
    } else {
      check_status(&st, rc);
    }
    auth_signature_release(&sig);
  } else {
    check_status(&st, rc);
    if (st.code != 400) abort();
  }
}

static void check_jwk(const json_t *v) {
  EVP_PKEY *pkey = NULL;
  int rc = jwk_to_public_pkey(v, &pkey);
  if (rc == 0) {
    if (json_object_get(v, "d") || jwk_crv(v) == JWK_CRV_UNKNOWN || !jwk_kty_matches(v)) abort();
    EVP_PKEY_free(pkey);
    uint8_t raw[JWK_EC_COMPRESSED_BYTES];
    int n = jwk_public_bytes(v, raw);
    if (n <= 0) abort();
    json_t *back = NULL;
    /* every accepted key converts back to the same coordinates (an Ed25519
     * key need not decode to a point: only did:key checks that) */
    if (jwk_from_public_bytes(jwk_crv(v), raw, (size_t)n, &back) == 0) {
      if (!json_equal(json_object_get(back, "x"), json_object_get(v, "x"))) abort();
      json_decref(back);
    } else if (jwk_crv(v) != JWK_CRV_ED25519) {
      abort();
    }
    buf_t did = {0};
    if (jwk_crv(v) != JWK_CRV_P256 && did_key_from_jwk(v, &did) != 0) abort();
    buf_free(&did);
  }
  pkey = NULL;
  if (jwk_to_private_pkey(v, &pkey) == 0) EVP_PKEY_free(pkey);
  char tp[JWK_THUMBPRINT_TEXT_BYTES];
  if (jwk_thumbprint(v, tp) == 0 && strlen(tp) != JWK_THUMBPRINT_TEXT_BYTES - 1) abort();
}

static void check_find_key(const json_t *v) {
  const char *kid = json_string_value(json_object_get(v, "kid"));
  json_t *doc = json_object_get(v, "doc");
  if (!kid || !doc) return;
  dwn_status_t st = {0};
  const json_t *jwk = NULL;
  int rc = did_find_key(doc, kid, &st, &jwk);
  if (rc == 0) {
    if (!json_is_object(jwk) || json_object_get(jwk, "d")) abort();
  } else if (rc != -EACCES || st.code != 401) {
    abort();
  }
}

static void check_did(const char *did) {
  bool valid = did_is_valid(did);
  buf_t url = {0};
  int rc = did_web_url(did, &url);
  if (rc == 0) {
    if (!valid || strncmp((const char *)url.data, "https://", 8) != 0) abort();
    if (strpbrk((const char *)url.data, "#?\\ ")) abort();
  }
  buf_free(&url);
  json_t *doc = NULL;
  rc = did_resolve(resolver, did, &doc);
  if (rc == 0) {
    if (!valid || !json_is_object(doc)) abort();
    if (strcmp(json_string_value(json_object_get(doc, "id")), did) != 0) abort();
    json_t *vms = json_object_get(doc, "verificationMethod");
    if (json_array_size(vms) != 1) abort();
    const char *vm_id = json_string_value(json_object_get(json_array_get(vms, 0), "id"));
    dwn_status_t st = {0};
    const json_t *jwk = NULL;
    /* a did:key method's own id finds it, and it is a valid
     * JwkVerificationMethod (a did:jwk carries whatever JWK it was given) */
    if (strncmp(did, "did:key:", 8) == 0 && did_find_key(doc, vm_id, &st, &jwk) != 0) abort();
    json_decref(doc);
  } else if (valid && rc != -EINVAL && rc != -ENOTSUP && rc != -ENOENT && rc != -ENOMEM) {
    abort();
  } else if (!valid && rc != -EINVAL) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > INPUT_BYTES_MAX) return 0;
  setup();
  json_error_t jerr;
  json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if (v) {
    check_jws(v);
    check_jwk(v);
    check_find_key(v);
    json_decref(v);
  }
  char *did = malloc(size + 1);
  if (!did) return 0;
  memcpy(did, data, size);
  did[size] = '\0';
  check_did(did);
  free(did);
  return 0;
}
