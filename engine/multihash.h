/*
 * multihash: varint(code) varint(digest length) digest.  Hash functions
 * computed here: sha2-256 (OpenSSL EVP, SHA-NI where the CPU has it) and
 * identity (the digest is the data itself, at most MH_IDENTITY_BYTES_MAX).
 */
#ifndef ANYA_MULTIHASH_H
#define ANYA_MULTIHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MH_IDENTITY 0x00
#define MH_SHA2_256 0x12
#define MH_SHA2_256_BYTES 32
#define MH_IDENTITY_BYTES_MAX 128 /* inline (identity) CIDs longer than this are rejected */
#define MH_DIGEST_BYTES_MAX 128
#define MH_BYTES_MAX (MH_DIGEST_BYTES_MAX + 2 * 9)

typedef struct mh {
  uint64_t code;                        /* multicodec of the hash function */
  uint32_t digest_len;                  /* bytes used in digest */
  uint8_t digest[MH_DIGEST_BYTES_MAX];  /* the digest */
} mh_t;

/* sha2-256 of data into out (32 bytes).  Thread-safe; each thread keeps one
 * reusable OpenSSL context (freed at thread exit), so no allocation per call
 * after the first.  Aborts only if OpenSSL itself is broken (no SHA256). */
void mh_sha256_raw(const void *data, size_t len, uint8_t out[MH_SHA2_256_BYTES]);

/* Fills *out with the multihash of data under `code` (MH_SHA2_256 or MH_IDENTITY).
 * 0, -ENOTSUP unknown code, -E2BIG identity input too long. */
int mh_sum(uint64_t code, const void *data, size_t len, mh_t *out);

/* Serialises to out (>= MH_BYTES_MAX); returns the byte count. */
size_t mh_encode(const mh_t *mh, uint8_t *out);

/* Parses a multihash from the start of in[0..len); returns bytes consumed or
 * -EINVAL / -EAGAIN (truncated).  Digest length must fit MH_DIGEST_BYTES_MAX,
 * sha2-256 digests must be 32 bytes, identity digests at most
 * MH_IDENTITY_BYTES_MAX.  Other hash codes are accepted (not computed). */
int mh_decode(const uint8_t *in, size_t len, mh_t *out);

/* 1 when data hashes to mh (sha2-256 or identity), 0 when not, -ENOTSUP unknown code. */
int mh_verify(const mh_t *mh, const void *data, size_t len);

/* Same code, length and digest bytes. */
bool mh_equal(const mh_t *a, const mh_t *b);

#endif
