/*
 * multihash: see multihash.h.
 *
 * sha2-256 is on the hot path (every block imported, every block read is
 * verified), so the EVP_MD is fetched from the provider once per process and
 * every thread keeps one EVP_MD_CTX that it re-initialises per digest: the
 * one-shot helpers (EVP_Digest, SHA256()) would allocate and free a context,
 * and in OpenSSL 3 may re-fetch the algorithm, on every call.
 */
#include "multihash.h"

#include <assert.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "varint.h"

static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;            /* fetched once, never freed (lives as long as the process) */
static pthread_key_t sha256_ctx_key; /* per-thread EVP_MD_CTX, freed at thread exit */
static bool sha256_key_ok;

static void sha256_ctx_destroy(void *ctx) { EVP_MD_CTX_free(ctx); }

static void sha256_init_once(void) {
  sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
  sha256_key_ok = pthread_key_create(&sha256_ctx_key, sha256_ctx_destroy) == 0;
}

/* The calling thread's context, created on first use; NULL only when out of memory. */
static EVP_MD_CTX *sha256_ctx(void) {
  if (!sha256_key_ok) return NULL;
  EVP_MD_CTX *ctx = pthread_getspecific(sha256_ctx_key);
  if (ctx) return ctx;
  ctx = EVP_MD_CTX_new();
  if (!ctx) return NULL;
  if (pthread_setspecific(sha256_ctx_key, ctx) != 0) {
    EVP_MD_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

void mh_sha256_raw(const void *data, size_t len, uint8_t out[MH_SHA2_256_BYTES]) {
  assert(data != NULL || len == 0);
  assert(out != NULL);
  pthread_once(&sha256_once, sha256_init_once);
  /* The default provider always has SHA256; failing to fetch it means a broken install. */
  if (!sha256_md) abort();
  static const uint8_t empty[1];
  if (len == 0) data = empty;
  EVP_MD_CTX *ctx = sha256_ctx();
  unsigned int written = 0;
  int ok;
  if (ctx) {
    ok = EVP_DigestInit_ex2(ctx, sha256_md, NULL) && EVP_DigestUpdate(ctx, data, len) &&
         EVP_DigestFinal_ex(ctx, out, &written);
  } else {
    ok = EVP_Digest(data, len, out, &written, sha256_md, NULL); /* slower path, allocates */
  }
  /* A digest cannot fail once the algorithm exists, except on allocation failure,
   * and this function has no error return: a wrong hash must never be used. */
  if (!ok || written != MH_SHA2_256_BYTES) abort();
}

int mh_sum(uint64_t code, const void *data, size_t len, mh_t *out) {
  assert(out != NULL);
  assert(data != NULL || len == 0);
  switch (code) {
  case MH_SHA2_256:
    out->code = MH_SHA2_256;
    out->digest_len = MH_SHA2_256_BYTES;
    mh_sha256_raw(data, len, out->digest);
    return 0;
  case MH_IDENTITY:
    if (len > MH_IDENTITY_BYTES_MAX)
      return err_set(-E2BIG, "multihash: identity data of %zu bytes exceeds %d", len, MH_IDENTITY_BYTES_MAX);
    out->code = MH_IDENTITY;
    out->digest_len = (uint32_t)len;
    if (len) memcpy(out->digest, data, len);
    return 0;
  default:
    return err_set(-ENOTSUP, "multihash: unsupported hash function 0x%llx", (unsigned long long)code);
  }
}

size_t mh_encode(const mh_t *mh, uint8_t *out) {
  assert(mh != NULL && out != NULL);
  assert(mh->digest_len <= MH_DIGEST_BYTES_MAX);
  size_t n = varint_encode(mh->code, out);
  n += varint_encode(mh->digest_len, out + n);
  memcpy(out + n, mh->digest, mh->digest_len);
  n += mh->digest_len;
  assert(n <= MH_BYTES_MAX);
  return n;
}

int mh_decode(const uint8_t *in, size_t len, mh_t *out) {
  assert(in != NULL || len == 0);
  assert(out != NULL);
  uint64_t code, digest_len;
  int rc = varint_decode(in, len, &code);
  if (rc < 0) return rc == -EAGAIN ? err_set(rc, "multihash: truncated hash code") : rc;
  size_t pos = (size_t)rc;
  rc = varint_decode(in + pos, len - pos, &digest_len);
  if (rc < 0) return rc == -EAGAIN ? err_set(rc, "multihash: truncated digest length") : rc;
  pos += (size_t)rc;
  if (code == MH_SHA2_256 && digest_len != MH_SHA2_256_BYTES)
    return err_set(-EINVAL, "multihash: sha2-256 digest of %llu bytes (must be 32)",
                   (unsigned long long)digest_len);
  if (code == MH_IDENTITY && digest_len > MH_IDENTITY_BYTES_MAX)
    return err_set(-EINVAL, "multihash: identity digest of %llu bytes exceeds %d",
                   (unsigned long long)digest_len, MH_IDENTITY_BYTES_MAX);
  if (digest_len > MH_DIGEST_BYTES_MAX)
    return err_set(-EINVAL, "multihash: digest of %llu bytes exceeds %d", (unsigned long long)digest_len,
                   MH_DIGEST_BYTES_MAX);
  if (len - pos < digest_len)
    return err_set(-EAGAIN, "multihash: digest truncated (%zu of %llu bytes)", len - pos,
                   (unsigned long long)digest_len);
  out->code = code;
  out->digest_len = (uint32_t)digest_len;
  memcpy(out->digest, in + pos, (size_t)digest_len);
  pos += (size_t)digest_len;
  assert(pos <= MH_BYTES_MAX);
  return (int)pos;
}

int mh_verify(const mh_t *mh, const void *data, size_t len) {
  assert(mh != NULL);
  assert(data != NULL || len == 0);
  switch (mh->code) {
  case MH_SHA2_256: {
    if (mh->digest_len != MH_SHA2_256_BYTES) return 0;
    uint8_t digest[MH_SHA2_256_BYTES];
    mh_sha256_raw(data, len, digest);
    return memcmp(digest, mh->digest, MH_SHA2_256_BYTES) == 0;
  }
  case MH_IDENTITY:
    return mh->digest_len == len && (len == 0 || memcmp(mh->digest, data, len) == 0);
  default:
    return err_set(-ENOTSUP, "multihash: cannot verify hash function 0x%llx", (unsigned long long)mh->code);
  }
}

bool mh_equal(const mh_t *a, const mh_t *b) {
  assert(a != NULL && b != NULL);
  return a->code == b->code && a->digest_len == b->digest_len &&
         memcmp(a->digest, b->digest, a->digest_len) == 0;
}
