/*
 * murmur3: MurmurHash3 x64 128-bit with seed 0, of which UnixFS HAMT shards
 * use the first 64-bit half read big-endian (Go's murmur3.New64 Sum; multicodec
 * murmur3-x64-64 = 0x22).  Bucket selection consumes the 8 bytes of
 * murmur3_hamt_key() MSB-first, log2(fanout) bits per level.
 */
#ifndef ANYA_MURMUR3_H
#define ANYA_MURMUR3_H

#include <stddef.h>
#include <stdint.h>

#define MURMUR3_X64_64 0x22

/* The two 64-bit halves (h1, h2) of MurmurHash3_x64_128(data, len, seed 0). */
void murmur3_x64_128(const void *data, size_t len, uint64_t out[2]);

/* The 8 HAMT key bytes for a name: h1 as big-endian bytes. */
void murmur3_hamt_key(const void *name, size_t len, uint8_t out[8]);

#endif
