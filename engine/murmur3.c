/*
 * murmur3: MurmurHash3 x64 128 (Austin Appleby's public-domain algorithm),
 * seed 0, as UnixFS HAMT shards need it.  Blocks are read little-endian
 * byte by byte so the result does not depend on host endianness or alignment.
 */
#include "murmur3.h"

#include <assert.h>

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

static inline uint64_t load_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

void murmur3_x64_128(const void *data, size_t len, uint64_t out[2]) {
  assert(data != NULL || len == 0);
  assert(out != NULL);
  const uint8_t *bytes = data;
  const uint64_t c1 = 0x87c37b91114253d5ULL;
  const uint64_t c2 = 0x4cf5ad432745937fULL;
  uint64_t h1 = 0, h2 = 0; /* seed 0 */
  size_t blocks = len / 16;

  for (size_t i = 0; i < blocks; i++) {
    uint64_t k1 = load_le64(bytes + i * 16);
    uint64_t k2 = load_le64(bytes + i * 16 + 8);
    k1 *= c1;
    k1 = rotl64(k1, 31);
    k1 *= c2;
    h1 ^= k1;
    h1 = rotl64(h1, 27);
    h1 += h2;
    h1 = h1 * 5 + 0x52dce729;
    k2 *= c2;
    k2 = rotl64(k2, 33);
    k2 *= c1;
    h2 ^= k2;
    h2 = rotl64(h2, 31);
    h2 += h1;
    h2 = h2 * 5 + 0x38495ab5;
  }

  const uint8_t *tail = bytes + blocks * 16;
  size_t rest = len & 15;
  uint64_t k1 = 0, k2 = 0;
  /* Tail bytes 8..14 feed k2 and 0..7 feed k1, each little-endian. */
  for (size_t i = rest; i > 8; i--) k2 = (k2 << 8) | tail[i - 1];
  for (size_t i = rest < 8 ? rest : 8; i > 0; i--) k1 = (k1 << 8) | tail[i - 1];
  if (rest > 8) {
    k2 *= c2;
    k2 = rotl64(k2, 33);
    k2 *= c1;
    h2 ^= k2;
  }
  if (rest > 0) {
    k1 *= c1;
    k1 = rotl64(k1, 31);
    k1 *= c2;
    h1 ^= k1;
  }

  h1 ^= (uint64_t)len;
  h2 ^= (uint64_t)len;
  h1 += h2;
  h2 += h1;
  h1 = fmix64(h1);
  h2 = fmix64(h2);
  h1 += h2;
  h2 += h1;
  out[0] = h1;
  out[1] = h2;
}

void murmur3_hamt_key(const void *name, size_t len, uint8_t out[8]) {
  uint64_t h[2];
  murmur3_x64_128(name, len, h);
  for (int i = 0; i < 8; i++) out[i] = (uint8_t)(h[0] >> (56 - 8 * i));
}
