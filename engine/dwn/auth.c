/* dwn/auth: see auth.h. */
#include "dwn/auth.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dwn/jwk.h"
#include "multibase.h"
#include "err.h"

struct auth {
  did_resolver_t *resolver;
  jws_cache_t *verified; /* (protected, payload, signature) -> valid? */
};

int auth_new(const auth_config_t *config, auth_t **out) {
  if (!config || !config->resolver) return err_set(-EINVAL, "auth: a DID resolver is required");
  auth_t *a = calloc(1, sizeof *a);
  if (!a) return -ENOMEM;
  a->resolver = config->resolver;
  jws_cache_config_t cc = {
      .entries_max = config->cache_entries_max ? config->cache_entries_max : JWS_VERIFY_CACHE_ENTRIES,
      .ttl_ms = config->cache_ttl_ms ? config->cache_ttl_ms : JWS_VERIFY_CACHE_TTL_MS,
      .clock = config->clock,
      .clock_ctx = config->clock_ctx,
      .free_value = NULL,
  };
  int rc = jws_cache_new(&cc, &a->verified);
  if (rc != 0) {
    free(a);
    return rc;
  }
  *out = a;
  return 0;
}

void auth_free(auth_t *a) {
  if (!a) return;
  jws_cache_free(a->verified);
  free(a);
}

void auth_signature_release(auth_signature_t *sig) {
  json_decref(sig->payload);
  sig->payload = NULL;
  buf_free(&sig->kid);
  buf_free(&sig->signer);
}

int auth_parse_signature(const json_t *general_jws, dwn_status_t *st, json_t **payload_out) {
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)general_jws, key, value) {
    if (strcmp(key, "payload") != 0 && strcmp(key, "signatures") != 0)
      return dwn_status_fail(st, 400, "SchemaValidatorAdditionalPropertyNotAllowed",
                             "must NOT have additional properties: GeneralJws: %s", key);
  }
  json_t *sigs = json_object_get(general_jws, "signatures");
  if (json_is_array(sigs) && json_array_size(sigs) > JWS_SIGNATURES_MAX)
    return dwn_status_fail(st, 400, "AuthenticationMoreThanOneSignatureNotSupported",
                           "expected no more than 1 signature for authorization purpose");
  jws_general_t jws;
  int rc = jws_parse(general_jws, &jws);
  if (rc == -ENOMEM) return rc;
  if (rc != 0) return dwn_status_fail(st, 400, "SchemaValidatorFailure", "%s", err_msg(rc));
  if (jws.signature_count != 1)
    return dwn_status_fail(st, 400, "AuthenticationMoreThanOneSignatureNotSupported",
                           "expected no more than 1 signature for authorization purpose");
  json_t *payload = NULL;
  rc = jws_decode_payload(jws.payload_b64, &payload);
  if (rc == -ENOMEM) return rc;
  if (rc != 0)
    return dwn_status_fail(st, 400, "JwsDecodePlainObjectPayloadInvalid", "signed payload must be a plain object");
  *payload_out = payload;
  return 0;
}

/* The reference's per-curve key checks, after its crv dispatch. */
static int check_key_type(const json_t *jwk, dwn_status_t *st) {
  jwk_crv_t crv = jwk_crv(jwk);
  if (crv == JWK_CRV_UNKNOWN)
    return dwn_status_fail(st, 401, "JwsVerifySignatureUnsupportedCrv",
                           "unsupported crv. crv must be one of Ed25519,secp256k1,P-256");
  if (jwk_kty_matches(jwk)) return 0;
  switch (crv) {
    case JWK_CRV_ED25519:
      return dwn_status_fail(st, 401, "Ed25519InvalidJwk", "invalid jwk. kty MUST be OKP. crv MUST be Ed25519");
    case JWK_CRV_SECP256K1:
      return dwn_status_fail(st, 401, "Secp256k1KeyNotValid",
                             "Invalid SECP256K1 JWK: `kty` MUST be `EC`. `crv` MUST be `secp256k1`");
    default:
      return dwn_status_fail(st, 401, "Secp256r1KeyNotValid",
                             "Invalid SECP256R1 JWK: `kty` MUST be `EC`. `crv` MUST be `P-256`");
  }
}

int auth_verify(auth_t *a, const json_t *general_jws, dwn_status_t *st, auth_signature_t *out) {
  jws_general_t jws;
  int rc = jws_parse(general_jws, &jws);
  if (rc != 0) return rc == -ENOMEM ? rc : dwn_status_fail(st, 400, "SchemaValidatorFailure", "%s", err_msg(rc));
  const jws_signature_t *s = &jws.signatures[0];
  json_t *header = NULL;
  const char *kid = NULL;
  rc = jws_decode_header(s->protected_b64, &header, &kid, NULL);
  if (rc == -ENOMEM) return rc;
  if (rc != 0) return dwn_status_fail(st, 401, NULL, "%s", err_msg(rc)); /* the reference throws a plain Error */
  buf_reset(&out->kid);
  buf_reset(&out->signer);
  if (buf_append(&out->kid, kid, strlen(kid)) != 0 || !buf_cstr(&out->kid) ||
      jws_signer_did(kid, &out->signer) != 0) {
    json_decref(header);
    return -ENOMEM;
  }
  json_decref(header);
  kid = (const char *)out->kid.data;
  const char *signer = (const char *)out->signer.data;

  int verified = jws_cache_get_verified(a->verified, s->protected_b64, jws.payload_b64, s->signature_b64);
  if (verified == -ENOENT) {
    json_t *doc = NULL;
    rc = did_resolve(a->resolver, signer, &doc);
    if (rc == -ENOMEM) return rc;
    if (rc != 0)
      return dwn_status_fail(st, 401, "GeneralJwsVerifierGetPublicKeyNotFound",
                             "public key needed to verify signature not found in DID Document");
    const json_t *jwk = NULL;
    rc = did_find_key(doc, kid, st, &jwk);
    if (rc == 0) rc = check_key_type(jwk, st);
    if (rc == 0 && jwk_crv(jwk) == JWK_CRV_ED25519) {
      /* the reference's Ed25519 verify throws (uncached) on an R that does not decode */
      uint8_t sig[96];
      int n = mbase_decode_to(MBASE_BASE64URL, s->signature_b64, strlen(s->signature_b64), sig, sizeof sig);
      if (n == 64 && !jwk_ed25519_r_decodes(sig)) rc = dwn_status_fail(st, 401, NULL, "bad y coordinate 3");
    }
    if (rc == 0) {
      verified = jws_verify(jwk, s->protected_b64, jws.payload_b64, s->signature_b64);
      if (verified == -ENOMEM) rc = verified;
      else if (verified < 0) verified = 0; /* a malformed key verifies nothing (not cached) */
      else jws_cache_put_verified(a->verified, s->protected_b64, jws.payload_b64, s->signature_b64, verified == 1);
    }
    json_decref(doc);
    if (rc != 0) return rc;
  } else if (verified < 0) {
    return verified;
  }
  if (verified != 1)
    return dwn_status_fail(st, 401, "GeneralJwsVerifierInvalidSignature", "Signature verification failed for %s",
                           signer);
  return 0;
}

int auth_check_signature(auth_t *a, const json_t *general_jws, dwn_status_t *st, auth_signature_t *out) {
  memset(out, 0, sizeof *out);
  json_t *payload = NULL;
  int rc = auth_parse_signature(general_jws, st, &payload);
  if (rc != 0) return rc;
  rc = auth_verify(a, general_jws, st, out);
  if (rc != 0) {
    json_decref(payload);
    auth_signature_release(out);
    return rc;
  }
  out->payload = payload;
  return 0;
}
