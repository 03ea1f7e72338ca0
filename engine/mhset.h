/*
 * mhset: a set of multihashes (byte strings of 1..MH_BYTES_MAX bytes), used
 * by garbage collection: the marked (reachable) set and the block engine's
 * "touched during this GC" set.
 *
 * Open addressing with linear probing over a power-of-two table of slots
 * (hash + offset into one byte arena, no allocation per key); grows at 1/2
 * load.  Memory: about 16 bytes per slot plus mh_len + 1 bytes per key.
 * Not thread-safe: the owner serialises access (the engine under its mutex).
 * The set owns its memory; mhset_free releases it.
 */
#ifndef ANYA_MHSET_H
#define ANYA_MHSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MHSET_KEYS_MAX (64u * 1024 * 1024) /* keys per set: adds past this fail -ENOSPC */

typedef struct mhset_slot {
  uint64_t offset_plus1;   /* arena offset of the key + 1; 0 = empty slot */
  uint32_t hash;           /* full hash of the key */
  uint32_t reserved;
} mhset_slot_t;

typedef struct mhset {
  mhset_slot_t *slots;     /* cap entries (power of two), owned */
  size_t cap;              /* slots */
  size_t len;              /* keys */
  uint8_t *arena;          /* keys: u8 length, then the bytes; owned */
  size_t arena_len;        /* bytes used */
  size_t arena_cap;        /* bytes allocated */
} mhset_t;

/* An empty set is all zeros (no allocation until the first add). */
/* 1 added, 0 already present, -ENOMEM, -ENOSPC (MHSET_KEYS_MAX), -EINVAL (bad length). */
int mhset_add(mhset_t *s, const uint8_t *mh, size_t mh_len);
bool mhset_has(const mhset_t *s, const uint8_t *mh, size_t mh_len);
/* Calls fn for every key (in no particular order); non-zero from fn stops and is returned. */
int mhset_each(const mhset_t *s, int (*fn)(void *ctx, const uint8_t *mh, size_t mh_len), void *ctx);
void mhset_free(mhset_t *s);

#endif
