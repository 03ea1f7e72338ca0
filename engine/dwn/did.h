/*
 * dwn/did: DID resolution for signature verification (dwn-reference.md §4.4).
 *
 * A did_resolver_t turns a DID into its DID document (a jansson object shaped
 * exactly as @web5/dids 1.2.0 produces it, member order included):
 *   did:key  `did:key:z<base58btc(varint(codec) || key)>`, codecs 0xed Ed25519
 *            (32 bytes, "z6Mk...", the point must decode), 0xe7 secp256k1
 *            (33-byte compressed point on the curve, "zQ3s...") and 0xec
 *            X25519 (32 bytes; resolves, but no signature verifies with it).
 *            P-256 (0x1200) is not registered in @web5/dids 1.2.0, so not
 *            here either (-ENOTSUP), nor any other codec.  One
 *            verification method `did#<multibase>`, type JsonWebKey2020,
 *            publicKeyJwk {kty, crv, x, (y), kid = RFC 7638 thumbprint};
 *   did:jwk  `did:jwk:<b64u(JSON of the public JWK)>`, one method `did#0`,
 *            type JsonWebKey, publicKeyJwk = the decoded JWK as is;
 *   did:web  fetched through the caller's callback (the network layer
 *            supplies HTTPS; tests serve documents from memory and from a
 *            loopback HTTP server, test_dwn_didweb.c), URL per the
 *            did:web spec (did_web_url).  The body must be a JSON object.
 * Other methods (did:dht, did:ion, ...) are not supported (-ENOTSUP).
 *
 * Successful resolutions are cached (bounded entries, 15 min TTL as the
 * reference's resolver cache, injectable clock); failures are not.  The
 * resolver is thread-safe as long as the fetch callback is.
 *
 * Errors: -EINVAL not a DID / malformed method-specific id, -ENOTSUP method
 * not supported (or did:web without a fetch callback), -ENOENT did:web
 * document not found (fetch failed, not a JSON object, too large), -ENOMEM.
 * A message is attached with err_set.
 */
#ifndef ANYA_DWN_DID_H
#define ANYA_DWN_DID_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "dwn/jws.h"
#include "dwn/status.h"

#define DID_BYTES_MAX 2048                     /* longest DID resolved */
#define DID_DOCUMENT_BYTES_MAX (256u << 10)    /* longest did:web document body */
#define DID_URL_BYTES_MAX (DID_BYTES_MAX + 64) /* did:web URL */
#define DID_CACHE_TTL_MS (15u * 60 * 1000)     /* the reference's DidResolverCacheLevel */
#define DID_CACHE_ENTRIES_DEFAULT 10000
#define DID_VERIFICATION_METHODS_MAX 256       /* verificationMethod[] entries examined */

/* Fetches url (https) into body_out (appending).  Returns 0 when the server
 * answered 200 with a body, a negative errno otherwise.  May stop reading
 * once body_out holds more than DID_DOCUMENT_BYTES_MAX bytes. */
typedef int (*did_fetch_fn)(void *ctx, const char *url, buf_t *body_out);

typedef struct did_resolver_config {
  did_fetch_fn fetch;       /* NULL: did:web is not supported */
  void *fetch_ctx;
  jws_clock_fn clock;       /* NULL: jws_clock_monotonic_ms */
  void *clock_ctx;
  size_t cache_entries_max; /* 0: DID_CACHE_ENTRIES_DEFAULT */
  uint64_t cache_ttl_ms;    /* 0: DID_CACHE_TTL_MS */
} did_resolver_config_t;

typedef struct did_resolver did_resolver_t;

/* config may be NULL (all defaults, no did:web).  0, -EINVAL, -ENOMEM. */
int did_resolver_new(const did_resolver_config_t *config, did_resolver_t **out);
void did_resolver_free(did_resolver_t *r);

/* Resolves a bare DID (no path, query or fragment) to its document; *doc_out
 * is a new reference (json_decref).  Errors above. */
int did_resolve(did_resolver_t *r, const char *did, json_t **doc_out);

/* True when did matches the DID syntax of @web5/dids (`did:<method>:<id>`,
 * method [a-z0-9]+, id of [A-Za-z0-9._-] and %XX with inner colons, not
 * ending in ':'), without path, query or fragment, within DID_BYTES_MAX. */
bool did_is_valid(const char *did);

/* The document of a did:key / did:jwk, without a resolver (no cache). */
int did_key_document(const char *did, json_t **doc_out);
int did_jwk_document(const char *did, json_t **doc_out);

/* The did:web document URL, appended to url_out (NUL-terminated):
 * did:web:example.com -> https://example.com/.well-known/did.json;
 * did:web:example.com:u:alice -> https://example.com/u/alice/did.json;
 * colons become '/', then %XX escapes are decoded (%3A gives a port).
 * -EINVAL not a did:web, a %XX that decodes to a control character, '/',
 * '?', '#' or '\\' (the result would point elsewhere), -ENOMEM. */
int did_web_url(const char *did, buf_t *url_out);

/* The did:key of a public (or private: only the public part is used) JWK:
 * "did:key:z6Mk..." for Ed25519, "did:key:zQ3s..." for secp256k1 (other
 * curves -ENOTSUP), appended to out (NUL-terminated). */
int did_key_from_jwk(const json_t *jwk, buf_t *out);

/* kid -> key, as dwn-sdk-js' GeneralJwsVerifier.getPublicKey: the first
 * verificationMethod whose `id` is a suffix of kid, which must then validate
 * as a JwkVerificationMethod (exactly id (string), type (JsonWebKey or
 * JsonWebKey2020), controller (a DID), publicKeyJwk (an object with kty and
 * no private member `d`)).  On success *jwk_out borrows the publicKeyJwk from
 * doc and 0 is returned.  Otherwise st is set to 401 with
 * GeneralJwsVerifierGetPublicKeyNotFound (no match) or the schema code
 * (SchemaValidatorFailure / SchemaValidatorAdditionalPropertyNotAllowed) and
 * -EACCES is returned. */
int did_find_key(const json_t *doc, const char *kid, dwn_status_t *st, const json_t **jwk_out);

#endif
