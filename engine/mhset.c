/* mhset: see mhset.h. */
#include "mhset.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "multihash.h"

static uint32_t mhset_hash(const uint8_t *mh, size_t len) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a over the key; digests are uniform already */
  for (size_t i = 0; i < len; i++) h = (h ^ mh[i]) * 1099511628211ull;
  return (uint32_t)(h ^ (h >> 32));
}

static bool slot_matches(const mhset_t *s, const mhset_slot_t *slot, uint32_t hash, const uint8_t *mh,
                         size_t mh_len) {
  if (slot->hash != hash) return false;
  const uint8_t *key = s->arena + (slot->offset_plus1 - 1);
  return key[0] == mh_len && memcmp(key + 1, mh, mh_len) == 0;
}

static int grow(mhset_t *s) {
  size_t cap = s->cap ? s->cap * 2 : 1024;
  mhset_slot_t *slots = calloc(cap, sizeof *slots);
  if (!slots) return -ENOMEM;
  for (size_t i = 0; i < s->cap; i++) {
    if (!s->slots[i].offset_plus1) continue;
    size_t j = s->slots[i].hash & (cap - 1);
    for (size_t steps = 0; slots[j].offset_plus1; steps++, j = (j + 1) & (cap - 1)) assert(steps < cap);
    slots[j] = s->slots[i];
  }
  free(s->slots);
  s->slots = slots;
  s->cap = cap;
  return 0;
}

int mhset_add(mhset_t *s, const uint8_t *mh, size_t mh_len) {
  assert(s && mh);
  if (mh_len == 0 || mh_len > MH_BYTES_MAX || mh_len > 255) return -EINVAL;
  uint32_t hash = mhset_hash(mh, mh_len);
  if (mhset_has(s, mh, mh_len)) return 0;
  if (s->len >= MHSET_KEYS_MAX) return -ENOSPC;
  if ((s->len + 1) * 2 > s->cap) {
    int rc = grow(s);
    if (rc) return rc;
  }
  if (s->arena_len + 1 + mh_len > s->arena_cap) {
    size_t cap = s->arena_cap ? s->arena_cap * 2 : 64 * 1024;
    uint8_t *grown = realloc(s->arena, cap);
    if (!grown) return -ENOMEM;
    s->arena = grown;
    s->arena_cap = cap;
  }
  size_t offset = s->arena_len;
  s->arena[offset] = (uint8_t)mh_len;
  memcpy(s->arena + offset + 1, mh, mh_len);
  s->arena_len += 1 + mh_len;
  size_t j = hash & (s->cap - 1);
  for (size_t steps = 0; s->slots[j].offset_plus1; steps++, j = (j + 1) & (s->cap - 1)) assert(steps < s->cap);
  s->slots[j] = (mhset_slot_t){.offset_plus1 = offset + 1, .hash = hash};
  s->len++;
  return 1;
}

bool mhset_has(const mhset_t *s, const uint8_t *mh, size_t mh_len) {
  assert(s && mh);
  if (!s->cap || mh_len == 0 || mh_len > 255) return false;
  uint32_t hash = mhset_hash(mh, mh_len);
  size_t j = hash & (s->cap - 1);
  for (size_t steps = 0; steps < s->cap && s->slots[j].offset_plus1; steps++, j = (j + 1) & (s->cap - 1))
    if (slot_matches(s, &s->slots[j], hash, mh, mh_len)) return true;
  return false;
}

int mhset_each(const mhset_t *s, int (*fn)(void *ctx, const uint8_t *mh, size_t mh_len), void *ctx) {
  assert(s && fn);
  for (size_t offset = 0; offset < s->arena_len;) {
    size_t len = s->arena[offset];
    int rc = fn(ctx, s->arena + offset + 1, len);
    if (rc) return rc;
    offset += 1 + len;
  }
  return 0;
}

void mhset_free(mhset_t *s) {
  if (!s) return;
  free(s->slots);
  free(s->arena);
  memset(s, 0, sizeof *s);
}
