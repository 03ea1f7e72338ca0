/* dwn/jws: see jws.h. */
#include "dwn/jws.h"

#include <assert.h>
#include <errno.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dwn/jwk.h"
#include "err.h"
#include "multibase.h"

/* ---- parsing ---------------------------------------------------------------- */

static bool is_b64u(const char *s, size_t len) {
  if (len > MBASE_LINEAR_TEXT_BYTES_MAX) return false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_'))
      return false;
  }
  /* a length of 1 mod 4 cannot come from an encoder; trailing bits are
   * checked when the text is decoded */
  return len % 4 != 1;
}

static const char *b64u_member(const json_t *obj, const char *name, bool allow_empty) {
  /* the reference's schema: ^[A-Za-z0-9_-]+$ (so never empty) */
  json_t *v = json_object_get(obj, name);
  const char *s = json_string_value(v);
  if (!s) return NULL;
  size_t len = json_string_length(v);
  if ((!allow_empty && len == 0) || strlen(s) != len || !is_b64u(s, len)) return NULL;
  return s;
}

int jws_parse(const json_t *jws, jws_general_t *out) {
  assert(out);
  if (!json_is_object(jws)) return err_set(-EINVAL, "jws: not a JSON object");
  if (json_object_size(jws) != 2) return err_set(-EINVAL, "jws: members must be payload and signatures");
  out->payload_b64 = b64u_member(jws, "payload", false);
  if (!out->payload_b64) return err_set(-EINVAL, "jws: payload is not a base64url string");
  json_t *sigs = json_object_get(jws, "signatures");
  if (!json_is_array(sigs)) return err_set(-EINVAL, "jws: signatures is not an array");
  size_t n = json_array_size(sigs);
  if (n == 0) return err_set(-EINVAL, "jws: no signature");
  if (n > JWS_SIGNATURES_MAX) return err_set(-EINVAL, "jws: more than %d signatures", JWS_SIGNATURES_MAX);
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(sigs, i);
    if (!json_is_object(e)) return err_set(-EINVAL, "jws: signature %zu is not an object", i);
    out->signatures[i].protected_b64 = b64u_member(e, "protected", false);
    out->signatures[i].signature_b64 = b64u_member(e, "signature", false);
    if (!out->signatures[i].protected_b64 || !out->signatures[i].signature_b64)
      return err_set(-EINVAL, "jws: signature %zu: protected/signature not base64url strings", i);
  }
  out->signature_count = n;
  return 0;
}

/* Decodes base64url text into a new buf, at most bytes_max bytes. */
static int decode_b64u(const char *text, size_t bytes_max, buf_t *out) {
  size_t len = strlen(text);
  if (len / 4 * 3 > bytes_max + 3) return err_set(-EINVAL, "jws: base64url text too long");
  int rc = mbase_decode(MBASE_BASE64URL, text, len, out);
  if (rc != 0) return rc;
  if (out->len > bytes_max) return err_set(-EINVAL, "jws: decoded value over %zu bytes", bytes_max);
  return 0;
}

static int decode_json_object(const char *b64, size_t bytes_max, const char *what, json_t **out) {
  buf_t b = {0};
  int rc = decode_b64u(b64, bytes_max, &b);
  if (rc != 0) {
    buf_free(&b);
    return err_set(-EINVAL, "jws: %s is not base64url", what);
  }
  json_error_t jerr;
  json_t *v = json_loadb(b.len ? (const char *)b.data : "", b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  buf_free(&b);
  if (!v) return err_set(-EINVAL, "jws: %s is not JSON: %s", what, jerr.text);
  if (!json_is_object(v)) {
    json_decref(v);
    return err_set(-EINVAL, "jws: %s must be a JSON object", what);
  }
  *out = v;
  return 0;
}

int jws_decode_header(const char *protected_b64, json_t **header_out, const char **kid_out,
                      const char **alg_out) {
  json_t *h = NULL;
  int rc = decode_json_object(protected_b64, JWS_HEADER_BYTES_MAX, "protected header", &h);
  if (rc != 0) return rc;
  json_t *kid = json_object_get(h, "kid"), *alg = json_object_get(h, "alg");
  if (!json_is_string(kid) || json_string_length(kid) == 0 ||
      strlen(json_string_value(kid)) != json_string_length(kid)) {
    json_decref(h);
    return err_set(-EINVAL, "jws: protected header has no kid string");
  }
  if (alg && !json_is_string(alg)) {
    json_decref(h);
    return err_set(-EINVAL, "jws: protected header alg is not a string");
  }
  if (kid_out) *kid_out = json_string_value(kid);
  if (alg_out) *alg_out = json_string_value(alg);
  *header_out = h;
  return 0;
}

int jws_decode_payload(const char *payload_b64, json_t **payload_out) {
  return decode_json_object(payload_b64, JWS_PAYLOAD_BYTES_MAX, "payload", payload_out);
}

int jws_signer_did(const char *kid, buf_t *out) {
  size_t n = strcspn(kid, "#");
  if (n == 0) return err_set(-EINVAL, "jws: kid has no DID");
  size_t before = out->len;
  if (buf_append(out, kid, n) != 0 || !buf_cstr(out)) {
    out->len = before;
    return -ENOMEM;
  }
  return 0;
}

/* ---- signatures --------------------------------------------------------------- */

static const char SECP256K1_ORDER_HEX[] =
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141";

/* signing input = protected "." payload */
static int signing_input(const char *protected_b64, const char *payload_b64, buf_t *out) {
  if (buf_append(out, protected_b64, strlen(protected_b64)) != 0 || buf_append_byte(out, '.') != 0 ||
      buf_append(out, payload_b64, strlen(payload_b64)) != 0)
    return -ENOMEM;
  return 0;
}

/* r||s (64 bytes) -> DER; *der_out from OpenSSL (OPENSSL_free). */
static int compact_to_der(const uint8_t *sig, uint8_t **der_out, int *der_len) {
  ECDSA_SIG *es = ECDSA_SIG_new();
  BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
  if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return -ENOMEM;
  }
  *der_out = NULL;
  *der_len = i2d_ECDSA_SIG(es, der_out);
  ECDSA_SIG_free(es);
  return *der_len > 0 ? 0 : -ENOMEM;
}

/* A strict DER ECDSA signature: parses and re-encodes to the same bytes. */
static bool der_is_strict(const uint8_t *sig, size_t len) {
  const uint8_t *p = sig;
  ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
  if (!es) return false;
  bool ok = (size_t)(p - sig) == len;
  uint8_t *again = NULL;
  int n = ok ? i2d_ECDSA_SIG(es, &again) : 0;
  ok = ok && n > 0 && (size_t)n == len && memcmp(again, sig, len) == 0;
  OPENSSL_free(again);
  ECDSA_SIG_free(es);
  return ok;
}

int jws_verify(const json_t *public_jwk, const char *protected_b64, const char *payload_b64,
               const char *signature_b64) {
  jwk_crv_t crv = jwk_crv(public_jwk);
  EVP_PKEY *pkey = NULL;
  int rc = jwk_to_public_pkey(public_jwk, &pkey);
  if (rc != 0) return rc;
  buf_t sig = {0}, input = {0};
  uint8_t *der = NULL;
  int der_len = 0;
  EVP_MD_CTX *md = NULL;
  if (decode_b64u(signature_b64, JWS_SIGNATURE_BYTES_MAX, &sig) != 0) {
    rc = 0; /* not a signature at all: invalid */
    goto out;
  }
  if ((rc = signing_input(protected_b64, payload_b64, &input)) != 0) goto out;
  const uint8_t *sig_bytes = sig.data;
  size_t sig_len = sig.len;
  if (crv == JWK_CRV_ED25519) {
    if (sig_len != JWS_ED25519_SIGNATURE_BYTES) {
      rc = 0;
      goto out;
    }
  } else if (sig_len == JWS_ECDSA_SIGNATURE_BYTES) {
    if ((rc = compact_to_der(sig.data, &der, &der_len)) != 0) goto out;
    sig_bytes = der;
    sig_len = (size_t)der_len;
  } else if (crv != JWK_CRV_P256 || !der_is_strict(sig.data, sig.len)) {
    rc = 0; /* secp256k1 takes only r||s; P-256 also DER */
    goto out;
  }
  md = EVP_MD_CTX_new();
  if (!md) {
    rc = -ENOMEM;
    goto out;
  }
  if (EVP_DigestVerifyInit(md, NULL, crv == JWK_CRV_ED25519 ? NULL : EVP_sha256(), NULL, pkey) != 1) {
    rc = err_set(-EIO, "jws: EVP_DigestVerifyInit failed");
    goto out;
  }
  rc = EVP_DigestVerify(md, sig_bytes, sig_len, input.data, input.len) == 1 ? 1 : 0;
out:
  ERR_clear_error();
  EVP_MD_CTX_free(md);
  OPENSSL_free(der);
  buf_free(&sig);
  buf_free(&input);
  EVP_PKEY_free(pkey);
  return rc;
}

/* Signs input with pkey on crv; writes the JOSE signature bytes to out (64). */
static int sign_bytes(EVP_PKEY *pkey, jwk_crv_t crv, const buf_t *input, uint8_t out[64]) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (!md) return -ENOMEM;
  int rc = -EIO;
  uint8_t der[JWS_SIGNATURE_BYTES_MAX];
  size_t der_len = sizeof der;
  ECDSA_SIG *es = NULL;
  BIGNUM *order = NULL, *low = NULL;
  if (EVP_DigestSignInit(md, NULL, crv == JWK_CRV_ED25519 ? NULL : EVP_sha256(), NULL, pkey) != 1 ||
      EVP_DigestSign(md, der, &der_len, input->data, input->len) != 1)
    goto out;
  if (crv == JWK_CRV_ED25519) {
    if (der_len != JWS_ED25519_SIGNATURE_BYTES) goto out;
    memcpy(out, der, JWS_ED25519_SIGNATURE_BYTES);
    rc = 0;
    goto out;
  }
  const uint8_t *p = der;
  es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
  if (!es) goto out;
  const BIGNUM *r = ECDSA_SIG_get0_r(es), *s = ECDSA_SIG_get0_s(es);
  if (crv == JWK_CRV_SECP256K1) {
    /* low S: s > n/2 becomes n - s (the same signature, the canonical form) */
    BIGNUM *half = BN_new();
    low = BN_new();
    if (!half || !low || !BN_hex2bn(&order, SECP256K1_ORDER_HEX) || !BN_rshift1(half, order)) {
      BN_free(half);
      goto out;
    }
    if (BN_cmp(s, half) > 0) {
      if (!BN_sub(low, order, s)) {
        BN_free(half);
        goto out;
      }
      s = low;
    }
    BN_free(half);
  }
  if (BN_bn2binpad(r, out, 32) != 32 || BN_bn2binpad(s, out + 32, 32) != 32) goto out;
  rc = 0;
out:
  ERR_clear_error();
  BN_free(order);
  BN_free(low);
  ECDSA_SIG_free(es);
  EVP_MD_CTX_free(md);
  return rc == -EIO ? err_set(-EIO, "jws: signing failed") : rc;
}

/* {protected, signature} for payload_b64, signed with private_jwk. */
static int sign_entry(const json_t *private_jwk, const char *kid, const char *payload_b64, json_t **entry_out) {
  if (!kid || !*kid) return err_set(-EINVAL, "jws: empty kid");
  jwk_crv_t crv = jwk_crv(private_jwk);
  EVP_PKEY *pkey = NULL;
  int rc = jwk_to_private_pkey(private_jwk, &pkey);
  if (rc != 0) return rc;
  json_t *header = json_object();
  char *header_text = NULL;
  buf_t prot = {0}, input = {0};
  char sig_text[JWS_ECDSA_SIGNATURE_BYTES * 2];
  rc = -ENOMEM;
  if (!header || json_object_set_new(header, "kid", json_string(kid)) != 0 ||
      json_object_set_new(header, "alg", json_string(jwk_crv_alg(crv))) != 0)
    goto out;
  header_text = json_dumps(header, JSON_COMPACT | JSON_PRESERVE_ORDER);
  if (!header_text) goto out;
  if ((rc = mbase_encode(MBASE_BASE64URL, (const uint8_t *)header_text, strlen(header_text), &prot)) != 0 ||
      (rc = signing_input(buf_cstr(&prot), payload_b64, &input)) != 0)
    goto out;
  uint8_t sig[64];
  if ((rc = sign_bytes(pkey, crv, &input, sig)) != 0) goto out;
  rc = mbase_encode_to(MBASE_BASE64URL, false, sig, sizeof sig, sig_text, sizeof sig_text);
  if (rc < 0) goto out;
  json_t *entry = json_object();
  if (!entry || json_object_set_new(entry, "protected", json_string(buf_cstr(&prot))) != 0 ||
      json_object_set_new(entry, "signature", json_string(sig_text)) != 0) {
    json_decref(entry);
    rc = -ENOMEM;
    goto out;
  }
  *entry_out = entry;
  rc = 0;
out:
  free(header_text);
  json_decref(header);
  buf_free(&prot);
  buf_free(&input);
  EVP_PKEY_free(pkey);
  return rc;
}

int jws_sign(const json_t *private_jwk, const char *kid, const char *payload_json, size_t len,
             json_t **jws_out) {
  if (len > JWS_PAYLOAD_BYTES_MAX) return err_set(-EINVAL, "jws: payload over %u bytes", JWS_PAYLOAD_BYTES_MAX);
  buf_t payload = {0};
  int rc = mbase_encode(MBASE_BASE64URL, (const uint8_t *)payload_json, len, &payload);
  if (rc != 0) return rc;
  if (!buf_cstr(&payload)) {
    buf_free(&payload);
    return -ENOMEM;
  }
  json_t *entry = NULL;
  rc = sign_entry(private_jwk, kid, (const char *)payload.data, &entry);
  if (rc == 0) {
    json_t *jws = json_object(), *sigs = json_array();
    if (!jws || !sigs || json_array_append_new(sigs, entry) != 0) {
      json_decref(entry);
      json_decref(sigs);
      json_decref(jws);
      rc = -ENOMEM;
    } else if (json_object_set_new(jws, "payload", json_string((const char *)payload.data)) != 0 ||
               json_object_set_new(jws, "signatures", sigs) != 0) {
      json_decref(jws);
      rc = -ENOMEM;
    } else {
      *jws_out = jws;
    }
  }
  buf_free(&payload);
  return rc;
}

int jws_sign_append(json_t *jws, const json_t *private_jwk, const char *kid) {
  const char *payload = json_string_value(json_object_get(jws, "payload"));
  json_t *sigs = json_object_get(jws, "signatures");
  if (!payload || !json_is_array(sigs)) return err_set(-EINVAL, "jws: not a General JWS");
  json_t *entry = NULL;
  int rc = sign_entry(private_jwk, kid, payload, &entry);
  if (rc != 0) return rc;
  return json_array_append_new(sigs, entry) == 0 ? 0 : -ENOMEM;
}

/* ---- TTL cache ------------------------------------------------------------------ */

#define NONE UINT32_MAX

typedef struct cache_entry {
  uint8_t key[JWS_CACHE_KEY_BYTES];
  uint64_t expires_ms;
  void *value;
  uint32_t next; /* bucket chain */
  bool used;
} cache_entry_t;

struct jws_cache {
  pthread_mutex_t lock;
  jws_cache_config_t config;
  cache_entry_t *entries; /* config.entries_max, filled in FIFO order */
  uint32_t *buckets;      /* heads of the chains, bucket_count of them */
  size_t bucket_count;    /* power of two */
  size_t next_slot;       /* FIFO eviction position */
  size_t used;
};

uint64_t jws_clock_monotonic_ms(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int jws_cache_new(const jws_cache_config_t *config, jws_cache_t **out) {
  if (config->entries_max == 0 || config->entries_max > JWS_CACHE_ENTRIES_MAX)
    return err_set(-EINVAL, "jws_cache: entries_max must be 1..%u", JWS_CACHE_ENTRIES_MAX);
  jws_cache_t *c = calloc(1, sizeof *c);
  if (!c) return -ENOMEM;
  c->config = *config;
  if (!c->config.clock) c->config.clock = jws_clock_monotonic_ms;
  c->bucket_count = 1;
  while (c->bucket_count < 2 * config->entries_max) c->bucket_count <<= 1;
  c->entries = calloc(config->entries_max, sizeof *c->entries);
  c->buckets = malloc(c->bucket_count * sizeof *c->buckets);
  if (!c->entries || !c->buckets) {
    free(c->entries);
    free(c->buckets);
    free(c);
    return -ENOMEM;
  }
  for (size_t i = 0; i < c->bucket_count; i++) c->buckets[i] = NONE;
  pthread_mutex_init(&c->lock, NULL);
  *out = c;
  return 0;
}

static void drop_value(jws_cache_t *c, cache_entry_t *e) {
  if (c->config.free_value && e->value) c->config.free_value(e->value);
  e->value = NULL;
}

void jws_cache_free(jws_cache_t *c) {
  if (!c) return;
  for (size_t i = 0; i < c->config.entries_max; i++)
    if (c->entries[i].used) drop_value(c, &c->entries[i]);
  pthread_mutex_destroy(&c->lock);
  free(c->entries);
  free(c->buckets);
  free(c);
}

static size_t bucket_of(const jws_cache_t *c, const uint8_t *digest) {
  uint64_t h;
  memcpy(&h, digest, sizeof h);
  return (size_t)(h & (c->bucket_count - 1));
}

/* Unlinks entry index idx from its chain and frees its value. */
static void remove_entry(jws_cache_t *c, uint32_t idx) {
  cache_entry_t *e = &c->entries[idx];
  assert(e->used);
  uint32_t *link = &c->buckets[bucket_of(c, e->key)];
  for (size_t steps = 0; *link != NONE && steps < c->config.entries_max; steps++) {
    if (*link == idx) {
      *link = e->next;
      break;
    }
    link = &c->entries[*link].next;
  }
  drop_value(c, e);
  e->used = false;
  c->used--;
}

static uint32_t find(jws_cache_t *c, const uint8_t *digest) {
  uint32_t i = c->buckets[bucket_of(c, digest)];
  for (size_t steps = 0; i != NONE && steps < c->config.entries_max; steps++) {
    if (memcmp(c->entries[i].key, digest, JWS_CACHE_KEY_BYTES) == 0) return i;
    i = c->entries[i].next;
  }
  return NONE;
}

int jws_cache_get(jws_cache_t *c, const void *key, size_t key_len, void (*copy)(void *value, void *ctx),
                  void *copy_ctx) {
  uint8_t digest[JWS_CACHE_KEY_BYTES];
  SHA256(key, key_len, digest);
  uint64_t now = c->config.clock(c->config.clock_ctx);
  int found = 0;
  pthread_mutex_lock(&c->lock);
  uint32_t i = find(c, digest);
  if (i != NONE) {
    if (now >= c->entries[i].expires_ms) {
      remove_entry(c, i);
    } else {
      if (copy) copy(c->entries[i].value, copy_ctx);
      found = 1;
    }
  }
  pthread_mutex_unlock(&c->lock);
  return found;
}

void jws_cache_put(jws_cache_t *c, const void *key, size_t key_len, void *value) {
  uint8_t digest[JWS_CACHE_KEY_BYTES];
  SHA256(key, key_len, digest);
  uint64_t now = c->config.clock(c->config.clock_ctx);
  pthread_mutex_lock(&c->lock);
  uint32_t old = find(c, digest);
  if (old != NONE) remove_entry(c, old);
  uint32_t slot = (uint32_t)c->next_slot;
  c->next_slot = (c->next_slot + 1) % c->config.entries_max;
  if (c->entries[slot].used) remove_entry(c, slot);
  cache_entry_t *e = &c->entries[slot];
  memcpy(e->key, digest, sizeof digest);
  e->expires_ms = now + c->config.ttl_ms;
  e->value = value;
  e->used = true;
  size_t b = bucket_of(c, digest);
  e->next = c->buckets[b];
  c->buckets[b] = slot;
  c->used++;
  pthread_mutex_unlock(&c->lock);
}

size_t jws_cache_size(jws_cache_t *c) {
  pthread_mutex_lock(&c->lock);
  size_t n = c->used;
  pthread_mutex_unlock(&c->lock);
  return n;
}

/* The verification cache stores the result in the value pointer itself. */
static int verified_key(const char *p, const char *payload, const char *s, buf_t *key) {
  return buf_printf(key, "%s.%s.%s", p, payload, s);
}

static void copy_flag(void *value, void *ctx) { *(int *)ctx = value ? 1 : 0; }

int jws_cache_get_verified(jws_cache_t *c, const char *protected_b64, const char *payload_b64,
                           const char *signature_b64) {
  buf_t key = {0};
  if (verified_key(protected_b64, payload_b64, signature_b64, &key) != 0) return -ENOMEM;
  int flag = 0;
  int found = jws_cache_get(c, key.data, key.len, copy_flag, &flag);
  buf_free(&key);
  return found ? flag : -ENOENT;
}

void jws_cache_put_verified(jws_cache_t *c, const char *protected_b64, const char *payload_b64,
                            const char *signature_b64, bool verified) {
  buf_t key = {0};
  if (verified_key(protected_b64, payload_b64, signature_b64, &key) != 0) return; /* not cached */
  jws_cache_put(c, key.data, key.len, verified ? (void *)1 : NULL);
  buf_free(&key);
}
