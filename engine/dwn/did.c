/* dwn/did: see did.h. */
#include "dwn/did.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dwn/jwk.h"
#include "err.h"
#include "multibase.h"
#include "varint.h"

#define CODEC_ED25519_PUB 0xed
#define CODEC_X25519_PUB 0xec
#define CODEC_SECP256K1_PUB 0xe7

static const char CONTEXT_DID_V1[] = "https://www.w3.org/ns/did/v1";
static const char CONTEXT_JWS_2020[] = "https://w3id.org/security/suites/jws-2020/v1";

struct did_resolver {
  did_resolver_config_t config;
  jws_cache_t *cache; /* DID text -> json_t document */
};

/* ---- syntax ----------------------------------------------------------------------- */

static bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool did_is_valid(const char *did) {
  size_t len = strnlen(did, DID_BYTES_MAX + 1);
  if (len > DID_BYTES_MAX || strncmp(did, "did:", 4) != 0) return false;
  const char *p = did + 4;
  const char *method = p;
  while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) p++;
  if (p == method || *p != ':') return false;
  p++;
  if (!*p) return false;
  char last = ':';
  for (; *p; p++) {
    if (*p == '%') {
      if (!is_hex(p[1]) || !is_hex(p[2])) return false;
      p += 2;
      last = 'x';
    } else if (*p == ':' || is_id_char(*p)) {
      last = *p;
    } else {
      return false;
    }
  }
  return last != ':';
}

/* ---- document building ----------------------------------------------------------------- */

static json_t *string_array1(const char *s) {
  json_t *a = json_array();
  if (a && json_array_append_new(a, json_string(s)) != 0) {
    json_decref(a);
    return NULL;
  }
  return a;
}

static int set(json_t *obj, const char *key, json_t *value) {
  return value && json_object_set_new(obj, key, value) == 0 ? 0 : -ENOMEM;
}

/* One verification method {id, type, controller, publicKeyJwk}. */
static json_t *make_vm(const char *vm_id, const char *type, const char *did, json_t *jwk /* stolen */) {
  json_t *vm = json_object();
  if (!vm || set(vm, "id", json_string(vm_id)) != 0 || set(vm, "type", json_string(type)) != 0 ||
      set(vm, "controller", json_string(did)) != 0 || set(vm, "publicKeyJwk", jwk) != 0) {
    json_decref(vm);
    return NULL;
  }
  return vm;
}

/* The relationship members in @web5/dids order. */
static int add_relationships(json_t *doc, const char *vm_id, bool sig, bool enc) {
  static const char *const sig_rel[] = {"authentication", "assertionMethod", "capabilityInvocation",
                                        "capabilityDelegation"};
  if (sig)
    for (size_t i = 0; i < 4; i++)
      if (set(doc, sig_rel[i], string_array1(vm_id)) != 0) return -ENOMEM;
  if (enc && set(doc, "keyAgreement", string_array1(vm_id)) != 0) return -ENOMEM;
  return 0;
}

/* X25519 public JWK {kty, crv, x} (did:key 0xec: not validated, as @web5/dids). */
static int x25519_jwk(const uint8_t *key, json_t **out) {
  char x[JWK_MEMBER_TEXT_BYTES_MAX + 1];
  if (mbase_encode_to(MBASE_BASE64URL, false, key, JWK_COORD_BYTES, x, sizeof x) < 0) return -EINVAL;
  json_t *jwk = json_object();
  if (!jwk || set(jwk, "kty", json_string("OKP")) != 0 || set(jwk, "crv", json_string("X25519")) != 0 ||
      set(jwk, "x", json_string(x)) != 0) {
    json_decref(jwk);
    return -ENOMEM;
  }
  *out = jwk;
  return 0;
}

int did_key_document(const char *did, json_t **doc_out) {
  if (!did_is_valid(did) || strncmp(did, "did:key:", 8) != 0) return err_set(-EINVAL, "did: not a did:key");
  const char *mb = did + 8;
  if (mb[0] != 'z' || strchr(mb, ':') || strchr(mb, '%')) return err_set(-EINVAL, "did:key: not base58btc");
  buf_t bytes = {0};
  int rc = mbase_decode_prefixed(mb, strlen(mb), &bytes, NULL);
  if (rc != 0) {
    buf_free(&bytes);
    return err_set(-EINVAL, "did:key: not base58btc");
  }
  uint64_t codec = 0;
  int n = varint_decode(bytes.data, bytes.len, &codec);
  json_t *jwk = NULL;
  if (n <= 0) {
    rc = err_set(-EINVAL, "did:key: no multicodec");
  } else {
    const uint8_t *key = bytes.data + n;
    size_t key_len = bytes.len - (size_t)n;
    size_t want = codec == CODEC_SECP256K1_PUB ? JWK_EC_COMPRESSED_BYTES : JWK_COORD_BYTES;
    if (codec != CODEC_ED25519_PUB && codec != CODEC_SECP256K1_PUB && codec != CODEC_X25519_PUB)
      rc = err_set(-ENOTSUP, "did:key: multicodec 0x%llx not supported", (unsigned long long)codec);
    else if (key_len != want)
      rc = err_set(-EINVAL, "did:key: public key of %zu bytes, want %zu", key_len, want);
    else if (codec == CODEC_X25519_PUB)
      rc = x25519_jwk(key, &jwk);
    else
      rc = jwk_from_public_bytes(codec == CODEC_ED25519_PUB ? JWK_CRV_ED25519 : JWK_CRV_SECP256K1, key,
                                 key_len, &jwk);
  }
  buf_free(&bytes);
  if (rc != 0) return rc;
  char kid[JWK_THUMBPRINT_TEXT_BYTES];
  buf_t vm_id = {0};
  json_t *doc = json_object(), *vms = json_array(), *ctx = json_array();
  rc = -ENOMEM;
  if (jwk_thumbprint(jwk, kid) != 0 || set(jwk, "kid", json_string(kid)) != 0 ||
      buf_printf(&vm_id, "%s#%s", did, mb) != 0 || !doc || !vms || !ctx)
    goto fail;
  json_t *vm = make_vm((const char *)vm_id.data, "JsonWebKey2020", did, jwk);
  jwk = NULL;
  if (!vm || json_array_append_new(vms, vm) != 0) goto fail;
  if (set(doc, "id", json_string(did)) != 0) goto fail;
  rc = set(doc, "verificationMethod", vms);
  vms = NULL;
  if (rc != 0 || (rc = add_relationships(doc, (const char *)vm_id.data, true, false)) != 0) goto fail;
  if (json_array_append_new(ctx, json_string(CONTEXT_DID_V1)) != 0 ||
      json_array_append_new(ctx, json_string(CONTEXT_JWS_2020)) != 0) {
    rc = -ENOMEM;
    goto fail;
  }
  rc = set(doc, "@context", ctx);
  ctx = NULL;
  if (rc != 0) goto fail;
  buf_free(&vm_id);
  *doc_out = doc;
  return 0;
fail:
  buf_free(&vm_id);
  json_decref(jwk);
  json_decref(vms);
  json_decref(ctx);
  json_decref(doc);
  return rc;
}

int did_jwk_document(const char *did, json_t **doc_out) {
  if (!did_is_valid(did) || strncmp(did, "did:jwk:", 8) != 0) return err_set(-EINVAL, "did: not a did:jwk");
  const char *id = did + 8;
  buf_t bytes = {0};
  int rc = mbase_decode(MBASE_BASE64URL, id, strlen(id), &bytes);
  json_t *jwk = NULL;
  if (rc == 0) {
    json_error_t jerr;
    jwk = json_loadb(bytes.len ? (const char *)bytes.data : "", bytes.len, 0, &jerr);
  }
  buf_free(&bytes);
  if (!json_is_object(jwk)) {
    json_decref(jwk);
    return err_set(-EINVAL, "did:jwk: not a base64url JSON object");
  }
  const char *use = json_string_value(json_object_get(jwk, "use"));
  bool sig = !use || strcmp(use, "enc") != 0, enc = !use || strcmp(use, "sig") != 0;
  buf_t vm_id = {0};
  json_t *doc = json_object(), *ctx = string_array1(CONTEXT_DID_V1), *vms = json_array();
  rc = -ENOMEM;
  if (!doc || !vms || buf_printf(&vm_id, "%s#0", did) != 0) goto fail;
  rc = set(doc, "@context", ctx);
  ctx = NULL;
  if (rc != 0 || (rc = set(doc, "id", json_string(did))) != 0) goto fail;
  json_t *vm = make_vm((const char *)vm_id.data, "JsonWebKey", did, jwk);
  jwk = NULL;
  if (!vm || json_array_append_new(vms, vm) != 0) {
    rc = -ENOMEM;
    goto fail;
  }
  rc = set(doc, "verificationMethod", vms);
  vms = NULL;
  if (rc != 0 || (rc = add_relationships(doc, (const char *)vm_id.data, sig, enc)) != 0) goto fail;
  buf_free(&vm_id);
  *doc_out = doc;
  return 0;
fail:
  buf_free(&vm_id);
  json_decref(jwk);
  json_decref(vms);
  json_decref(ctx);
  json_decref(doc);
  return rc;
}

static int hex_value(char c) {
  return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

int did_web_url(const char *did, buf_t *url_out) {
  if (!did_is_valid(did) || strncmp(did, "did:web:", 8) != 0) return err_set(-EINVAL, "did: not a did:web");
  const char *id = did + 8;
  size_t before = url_out->len;
  int rc = buf_append(url_out, "https://", 8);
  bool has_path = strchr(id, ':') != NULL;
  for (const char *p = id; rc == 0 && *p; p++) {
    char c = *p;
    if (c == ':') {
      c = '/';
    } else if (c == '%') {
      c = (char)(hex_value(p[1]) << 4 | hex_value(p[2]));
      p += 2;
      if ((unsigned char)c < 0x21 || c == 0x7f || c == '/' || c == '?' || c == '#' || c == '\\' || c == '@') {
        url_out->len = before;
        return err_set(-EINVAL, "did:web: escape %%%02X not allowed in the host or path", (unsigned char)c);
      }
    }
    rc = buf_append_byte(url_out, (uint8_t)c);
  }
  if (rc == 0) rc = has_path ? buf_printf(url_out, "/did.json") : buf_printf(url_out, "/.well-known/did.json");
  if (rc != 0 || !buf_cstr(url_out)) {
    url_out->len = before;
    return -ENOMEM;
  }
  return 0;
}

static int did_web_document(did_resolver_t *r, const char *did, json_t **doc_out) {
  if (!r->config.fetch) return err_set(-ENOTSUP, "did:web: no fetcher configured");
  buf_t url = {0}, body = {0};
  int rc = did_web_url(did, &url);
  if (rc != 0) return rc;
  rc = r->config.fetch(r->config.fetch_ctx, (const char *)url.data, &body);
  if (rc != 0) {
    rc = err_set(-ENOENT, "did:web: fetching %s failed (%d)", (const char *)url.data, rc);
  } else if (body.len > DID_DOCUMENT_BYTES_MAX) {
    rc = err_set(-ENOENT, "did:web: document over %u bytes", DID_DOCUMENT_BYTES_MAX);
  } else {
    json_error_t jerr;
    json_t *doc = json_loadb(body.len ? (const char *)body.data : "", body.len, 0, &jerr);
    if (!json_is_object(doc)) {
      json_decref(doc);
      rc = err_set(-ENOENT, "did:web: %s is not a JSON object", (const char *)url.data);
    } else {
      *doc_out = doc;
    }
  }
  buf_free(&url);
  buf_free(&body);
  return rc;
}

/* ---- resolver ---------------------------------------------------------------------------------- */

static void free_doc(void *value) { json_decref(value); }

int did_resolver_new(const did_resolver_config_t *config, did_resolver_t **out) {
  did_resolver_t *r = calloc(1, sizeof *r);
  if (!r) return -ENOMEM;
  if (config) r->config = *config;
  if (!r->config.cache_entries_max) r->config.cache_entries_max = DID_CACHE_ENTRIES_DEFAULT;
  if (!r->config.cache_ttl_ms) r->config.cache_ttl_ms = DID_CACHE_TTL_MS;
  jws_cache_config_t cc = {
      .entries_max = r->config.cache_entries_max,
      .ttl_ms = r->config.cache_ttl_ms,
      .clock = r->config.clock,
      .clock_ctx = r->config.clock_ctx,
      .free_value = free_doc,
  };
  int rc = jws_cache_new(&cc, &r->cache);
  if (rc != 0) {
    free(r);
    return rc;
  }
  *out = r;
  return 0;
}

void did_resolver_free(did_resolver_t *r) {
  if (!r) return;
  jws_cache_free(r->cache);
  free(r);
}

static void copy_doc(void *value, void *ctx) {
  *(json_t **)ctx = json_incref(value);
}

int did_resolve(did_resolver_t *r, const char *did, json_t **doc_out) {
  if (!did_is_valid(did)) return err_set(-EINVAL, "did: not a DID: %.64s", did);
  size_t len = strlen(did);
  json_t *doc = NULL;
  if (jws_cache_get(r->cache, did, len, copy_doc, &doc) == 1) {
    *doc_out = doc;
    return 0;
  }
  int rc;
  if (strncmp(did, "did:key:", 8) == 0)
    rc = did_key_document(did, &doc);
  else if (strncmp(did, "did:jwk:", 8) == 0)
    rc = did_jwk_document(did, &doc);
  else if (strncmp(did, "did:web:", 8) == 0)
    rc = did_web_document(r, did, &doc);
  else
    rc = err_set(-ENOTSUP, "did: method of %.64s not supported", did);
  if (rc != 0) return rc;
  jws_cache_put(r->cache, did, len, json_incref(doc));
  *doc_out = doc;
  return 0;
}

int did_key_from_jwk(const json_t *jwk, buf_t *out) {
  jwk_crv_t crv = jwk_crv(jwk);
  uint64_t codec = crv == JWK_CRV_ED25519     ? CODEC_ED25519_PUB
                   : crv == JWK_CRV_SECP256K1 ? CODEC_SECP256K1_PUB
                                              : 0;
  if (!codec) return err_set(-ENOTSUP, "did:key: unsupported crv");
  uint8_t bytes[VARINT_BYTES_MAX + JWK_EC_COMPRESSED_BYTES];
  size_t n = varint_encode(codec, bytes);
  int key_len = jwk_public_bytes(jwk, bytes + n);
  if (key_len < 0) return key_len;
  size_t before = out->len;
  int rc = buf_printf(out, "did:key:");
  if (rc == 0) rc = mbase_encode_prefixed(MBASE_BASE58BTC, bytes, n + (size_t)key_len, out);
  if (rc != 0) out->len = before;
  return rc;
}

/* ---- kid -> key -------------------------------------------------------------------------------- */

static const char VM_SCHEMA[] = "JwkVerificationMethod";

static int schema_fail(dwn_status_t *st, const char *path, const char *message) {
  return dwn_status_fail(st, 401, "SchemaValidatorFailure", "%s: %s", path, message);
}

/* JwkVerificationMethod (dwn-sdk-js json-schemas), the checks in ajv's order:
 * required, additionalProperties, then each property. */
static int validate_vm(const json_t *vm, dwn_status_t *st) {
  static const char *const required[] = {"id", "type", "controller", "publicKeyJwk"};
  if (!json_is_object(vm)) return schema_fail(st, VM_SCHEMA, "must be object");
  for (size_t i = 0; i < 4; i++)
    if (!json_object_get(vm, required[i]))
      return dwn_status_fail(st, 401, "SchemaValidatorFailure", "%s: must have required property '%s'",
                             VM_SCHEMA, required[i]);
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)vm, key, value) {
    bool known = false;
    for (size_t i = 0; i < 4; i++) known = known || strcmp(key, required[i]) == 0;
    if (!known)
      return dwn_status_fail(st, 401, "SchemaValidatorAdditionalPropertyNotAllowed",
                             "must NOT have additional properties: %s: %s", VM_SCHEMA, key);
  }
  if (!json_is_string(json_object_get(vm, "id"))) return schema_fail(st, "/id", "must be string");
  const char *type = json_string_value(json_object_get(vm, "type"));
  if (!type || (strcmp(type, "JsonWebKey") != 0 && strcmp(type, "JsonWebKey2020") != 0))
    return schema_fail(st, "/type", "must be equal to one of the allowed values");
  const char *controller = json_string_value(json_object_get(vm, "controller"));
  if (!controller) return schema_fail(st, "/controller", "must be string");
  if (!did_is_valid(controller)) return schema_fail(st, "/controller", "must match the DID pattern");
  const json_t *jwk = json_object_get(vm, "publicKeyJwk");
  if (!json_is_object(jwk)) return schema_fail(st, "/publicKeyJwk", "must be object");
  json_t *kty = json_object_get(jwk, "kty");
  if (!kty) return schema_fail(st, "/publicKeyJwk", "must have required property 'kty'");
  const char *kty_s = json_string_value(kty);
  if (!kty_s || (strcmp(kty_s, "EC") != 0 && strcmp(kty_s, "RSA") != 0 && strcmp(kty_s, "oct") != 0 &&
                 strcmp(kty_s, "OKP") != 0))
    return schema_fail(st, "/publicKeyJwk/kty", "must be equal to one of the allowed values");
  static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth"};
  size_t private_count = strcmp(kty_s, "RSA") == 0 ? 7 : 1;
  for (size_t i = 0; i < private_count; i++)
    if (json_object_get(jwk, private_members[i])) return schema_fail(st, "/publicKeyJwk", "must NOT be valid");
  return 0;
}

int did_find_key(const json_t *doc, const char *kid, dwn_status_t *st, const json_t **jwk_out) {
  size_t kid_len = strlen(kid);
  json_t *vms = json_object_get(doc, "verificationMethod");
  size_t n = json_array_size(vms);
  if (n > DID_VERIFICATION_METHODS_MAX) n = DID_VERIFICATION_METHODS_MAX;
  for (size_t i = 0; i < n; i++) {
    json_t *vm = json_array_get(vms, i);
    json_t *id = json_object_get(vm, "id");
    if (!json_is_string(id)) continue;
    size_t id_len = json_string_length(id);
    if (id_len > kid_len || memcmp(kid + kid_len - id_len, json_string_value(id), id_len) != 0) continue;
    int rc = validate_vm(vm, st);
    if (rc != 0) return rc;
    *jwk_out = json_object_get(vm, "publicKeyJwk");
    return 0;
  }
  return dwn_status_fail(st, 401, "GeneralJwsVerifierGetPublicKeyNotFound",
                         "public key needed to verify signature not found in DID Document");
}
