/*
 * dwn/auth: the one entry the message handlers call to check an
 * `authorization.signature` (and `ownerSignature`, the signature of a
 * delegated grant, an `attestation`): a General JWS with exactly one
 * signature whose kid resolves to a key that verifies it
 * (dwn-reference.md §4, §5; dwn-sdk-js Message.validateSignatureStructure
 * and GeneralJwsVerifier).
 *
 * dwn-sdk-js checks in two phases and the status code depends on which
 * fails, so there are two calls (and one doing both):
 *   auth_parse_signature   parse phase, 400: shape, one signature only
 *                          (AuthenticationMoreThanOneSignatureNotSupported),
 *                          payload a JSON object (JwsDecodePlainObjectPayloadInvalid).
 *                          The handler then checks descriptorCid etc. (400).
 *   auth_verify            authentication, 401: protected header and kid,
 *                          DID resolution + kid -> key
 *                          (GeneralJwsVerifierGetPublicKeyNotFound, schema
 *                          codes of the verification method), key curve
 *                          (JwsVerifySignatureUnsupportedCrv, Ed25519InvalidJwk,
 *                          Secp256k1KeyNotValid, Secp256r1KeyNotValid),
 *                          signature (GeneralJwsVerifierInvalidSignature).
 * Verification results (valid or not) are cached per (protected, payload,
 * signature) for JWS_VERIFY_CACHE_TTL_MS, as the reference does; a cached
 * result skips DID resolution.
 *
 * Every failure sets st (dwn/status.h) and returns its errno (-EINVAL for
 * 400, -EACCES for 401); -ENOMEM leaves st alone.
 */
#ifndef ANYA_DWN_AUTH_H
#define ANYA_DWN_AUTH_H

#include <jansson.h>

#include "buf.h"
#include "dwn/did.h"
#include "dwn/jws.h"
#include "dwn/status.h"

typedef struct auth_config {
  did_resolver_t *resolver; /* borrowed; must outlive the auth_t */
  size_t cache_entries_max; /* 0: JWS_VERIFY_CACHE_ENTRIES */
  uint64_t cache_ttl_ms;    /* 0: JWS_VERIFY_CACHE_TTL_MS */
  jws_clock_fn clock;       /* NULL: jws_clock_monotonic_ms */
  void *clock_ctx;
} auth_config_t;

typedef struct auth auth_t;

/* 0, -EINVAL (no resolver), -ENOMEM. */
int auth_new(const auth_config_t *config, auth_t **out);
void auth_free(auth_t *a);

/* What a verified signature tells: who signed and what. */
typedef struct auth_signature {
  json_t *payload; /* owned: the decoded payload object */
  buf_t kid;       /* owned, NUL-terminated: the protected header's kid */
  buf_t signer;    /* owned, NUL-terminated: the signer DID (kid up to '#') */
} auth_signature_t;

/* Releases what an auth_signature_t owns (safe on a zeroed one). */
void auth_signature_release(auth_signature_t *sig);

/* Parse phase (400).  On success *payload_out is a new reference to the
 * payload object. */
int auth_parse_signature(const json_t *general_jws, dwn_status_t *st, json_t **payload_out);

/* Authentication (401) of a JWS that passed auth_parse_signature: fills
 * out->kid and out->signer (out->payload untouched). */
int auth_verify(auth_t *a, const json_t *general_jws, dwn_status_t *st, auth_signature_t *out);

/* Both, in order: on success out holds payload, kid and signer (release
 * with auth_signature_release); on failure out is left zeroed. */
int auth_check_signature(auth_t *a, const json_t *general_jws, dwn_status_t *st, auth_signature_t *out);

#endif
