/*
 * dwn/jws: General JWS JSON serialization as DWN messages carry it
 * (dwn-reference.md §4): `{"payload": b64u, "signatures": [{"protected":
 * b64u, "signature": b64u}]}`, protected header `{"kid": ..., "alg": ...}`,
 * signing input = the ASCII `protected + "." + payload` as sent.
 *
 * The algorithm is chosen by the *key's* curve, never by the `alg` header
 * (as dwn-sdk-js does):
 *   Ed25519    RFC 8032 over the signing input, 64-byte signature;
 *   secp256k1  ECDSA over SHA-256(input), 64-byte r||s; high S accepted;
 *              our signer emits low S (s <= n/2);
 *   P-256      ECDSA over SHA-256(input), 64-byte r||s, or DER when the
 *              signature is not 64 bytes long.
 * (OpenSSL's ECDSA nonces are random, not RFC 6979: signatures differ from
 * run to run; any of them verifies.)
 *
 * Also here: jws_cache, the bounded TTL cache shared by the signature
 * verifier (600 s, dwn-sdk-js' GeneralJwsVerifier) and the DID resolver
 * (15 min, did.h), with an injectable millisecond clock so tests replay.
 *
 * Errors: -EINVAL malformed input (message with err_set), -ENOTSUP key on an
 * unsupported curve or wrong kty, -ENOMEM, -EIO OpenSSL failure.  The DWN
 * error codes are attached one level up, in auth.h.
 */
#ifndef ANYA_DWN_JWS_H
#define ANYA_DWN_JWS_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define JWS_SIGNATURES_MAX 16                 /* signatures[] entries parsed */
#define JWS_HEADER_BYTES_MAX 4096             /* decoded protected header */
#define JWS_PAYLOAD_BYTES_MAX (1u << 20)      /* decoded payload (1 MiB) */
#define JWS_SIGNATURE_BYTES_MAX 256           /* decoded signature (DER P-256 is <= 72) */
#define JWS_ED25519_SIGNATURE_BYTES 64
#define JWS_ECDSA_SIGNATURE_BYTES 64          /* r || s, 32 bytes each */
#define JWS_VERIFY_CACHE_TTL_MS (600u * 1000) /* dwn-sdk-js MemoryCache(600) */
#define JWS_VERIFY_CACHE_ENTRIES 100000       /* dwn-sdk-js LRU max */

/* One signatures[] entry, borrowed from the JWS json_t it was parsed from
 * (valid while that object is alive and unchanged). */
typedef struct jws_signature {
  const char *protected_b64; /* protected header as sent */
  const char *signature_b64; /* signature as sent */
} jws_signature_t;

/* A parsed General JWS; strings borrowed from the json_t. */
typedef struct jws_general {
  const char *payload_b64;                       /* payload as sent */
  size_t signature_count;                        /* 1..JWS_SIGNATURES_MAX */
  jws_signature_t signatures[JWS_SIGNATURES_MAX];
} jws_general_t;

/* Checks the shape of a General JWS as the reference's GeneralJws schema
 * does, plus what verification needs: an object with exactly `payload` and
 * `signatures` (array of 1..JWS_SIGNATURES_MAX objects with the string
 * members `protected` and `signature`; other members of an entry are
 * ignored, as the schema allows them), every string non-empty strict
 * base64url without padding.  0 or -EINVAL. */
int jws_parse(const json_t *jws, jws_general_t *out);

/* Decodes a protected header: a JSON object whose `kid` is a non-empty
 * string and whose `alg`, when present, is a string.  *header_out is a new
 * reference; *kid_out and *alg_out (NULL when absent) borrow from it.  Either
 * out pointer for kid/alg may be NULL.  0 or -EINVAL. */
int jws_decode_header(const char *protected_b64, json_t **header_out, const char **kid_out,
                      const char **alg_out);

/* Decodes the payload (base64url, then JSON) and requires a JSON object
 * (dwn-sdk-js "plain object").  *payload_out is a new reference.  0 or -EINVAL. */
int jws_decode_payload(const char *payload_b64, json_t **payload_out);

/* The signer DID of a kid: the text up to the first '#' (all of it when
 * there is none), appended to out (NUL-terminated).  0, -EINVAL empty,
 * -ENOMEM. */
int jws_signer_did(const char *kid, buf_t *out);

/* Verifies signature_b64 over `protected_b64 "." payload_b64` with the public
 * JWK, by the JWK's crv (above).  Returns 1 valid, 0 invalid (also a
 * signature that is not base64url or has the wrong length), -ENOTSUP crv not
 * supported or kty does not match it, -EINVAL malformed key, -ENOMEM/-EIO. */
int jws_verify(const json_t *public_jwk, const char *protected_b64, const char *payload_b64,
               const char *signature_b64);

/* Signs payload_json[0..len) (the UTF-8 JSON text, placed base64url-encoded
 * as the payload) with the private JWK; header `{"kid": kid, "alg": <alg of
 * the crv>}` in that order.  *jws_out is a new General JWS object with one
 * signature.  0, -EINVAL, -ENOTSUP, -ENOMEM, -EIO. */
int jws_sign(const json_t *private_jwk, const char *kid, const char *payload_json, size_t len,
             json_t **jws_out);

/* Adds one more signature (same payload) to a General JWS built by jws_sign.
 * Only for building multi-signature inputs (tests); DWN messages have one. */
int jws_sign_append(json_t *jws, const json_t *private_jwk, const char *kid);

/* ---- bounded TTL cache ---------------------------------------------------- */

/* Milliseconds from an arbitrary origin, monotonic. */
typedef uint64_t (*jws_clock_fn)(void *ctx);
/* CLOCK_MONOTONIC in milliseconds (the default clock). */
uint64_t jws_clock_monotonic_ms(void *ctx);

#define JWS_CACHE_KEY_BYTES 32        /* keys are SHA-256 digests of the caller's key text */
#define JWS_CACHE_ENTRIES_MAX (1u << 24) /* largest capacity accepted */

/* Frees a cached value (called on eviction, replacement and cache free). */
typedef void (*jws_cache_free_fn)(void *value);

/* A fixed-capacity map from a key text to a value, each entry expiring
 * ttl_ms after it was put.  When full, the oldest entry is evicted (FIFO).
 * Thread-safe (one mutex).  Memory: about 64 bytes an entry, allocated once. */
typedef struct jws_cache jws_cache_t;

typedef struct jws_cache_config {
  size_t entries_max;       /* capacity, >= 1 */
  uint64_t ttl_ms;          /* entry lifetime */
  jws_clock_fn clock;       /* NULL: jws_clock_monotonic_ms */
  void *clock_ctx;
  jws_cache_free_fn free_value; /* NULL: values are not owned */
} jws_cache_config_t;

/* 0, -EINVAL (entries_max 0 or over JWS_CACHE_ENTRIES_MAX), -ENOMEM. */
int jws_cache_new(const jws_cache_config_t *config, jws_cache_t **out);
void jws_cache_free(jws_cache_t *cache);

/* Looks key[0..key_len) up.  A live entry: calls copy(value, copy_ctx) under
 * the lock (so the value cannot be freed meanwhile) and returns 1; 0 when
 * absent or expired (an expired entry is dropped). */
int jws_cache_get(jws_cache_t *cache, const void *key, size_t key_len,
                  void (*copy)(void *value, void *copy_ctx), void *copy_ctx);

/* Stores value under key (replacing an entry with the same key), taking
 * ownership of value (freed by free_value when evicted or replaced).  Cannot
 * fail: the storage is allocated by jws_cache_new. */
void jws_cache_put(jws_cache_t *cache, const void *key, size_t key_len, void *value);

/* Live entries (expired ones not yet dropped are counted too). */
size_t jws_cache_size(jws_cache_t *cache);

/* The verification cache of dwn-sdk-js' GeneralJwsVerifier: results of
 * jws_verify keyed by (protected, payload, signature), stored in the value
 * pointer itself (so the cache must have free_value NULL).  get: 1/0 the
 * cached result, -ENOENT not cached, -ENOMEM. */
int jws_cache_get_verified(jws_cache_t *cache, const char *protected_b64, const char *payload_b64,
                           const char *signature_b64);
void jws_cache_put_verified(jws_cache_t *cache, const char *protected_b64, const char *payload_b64,
                            const char *signature_b64, bool verified);

#endif
