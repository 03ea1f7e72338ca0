/*
 * kad_table: the keyspace (sha256, XOR), the routing table and the
 * reprovider's regions (kad_internal.h).
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kad_internal.h"
#include "multihash.h"

void kad_hash(const uint8_t *key, size_t len, uint8_t out[KAD_HASH_BYTES]) { mh_sha256_raw(key, len, out); }

unsigned kad_cpl(const uint8_t a[KAD_HASH_BYTES], const uint8_t b[KAD_HASH_BYTES]) {
  for (unsigned i = 0; i < KAD_HASH_BYTES; i++) {
    uint8_t x = a[i] ^ b[i];
    if (x) return i * 8 + (unsigned)__builtin_clz(x) - 24;
  }
  return KAD_BUCKETS;
}

int kad_distance_cmp(const uint8_t target[KAD_HASH_BYTES], const uint8_t a[KAD_HASH_BYTES],
                     const uint8_t b[KAD_HASH_BYTES]) {
  for (unsigned i = 0; i < KAD_HASH_BYTES; i++) {
    uint8_t da = a[i] ^ target[i], db = b[i] ^ target[i];
    if (da != db) return da < db ? -1 : 1;
  }
  return 0;
}

void kad_table_init(kad_table_t *t, const peer_id_t *self) {
  memset(t, 0, sizeof *t);
  t->self_id = *self;
  kad_hash(self->bytes, self->len, t->self);
}

void kad_table_free(kad_table_t *t) {
  for (unsigned b = 0; b < KAD_BUCKETS; b++) free(t->buckets[b]);
  memset(t, 0, sizeof *t);
}

static int find_in(const kad_table_t *t, unsigned b, const peer_id_t *id) {
  for (unsigned i = 0; i < t->counts[b]; i++)
    if (peer_id_equal(&t->buckets[b][i].id, id)) return (int)i;
  return -1;
}

int kad_table_add(kad_table_t *t, const peer_id_t *id, uint64_t now_ms, peer_id_t *evicted) {
  uint8_t h[KAD_HASH_BYTES];
  kad_hash(id->bytes, id->len, h);
  unsigned b = kad_cpl(t->self, h);
  if (b == KAD_BUCKETS || peer_id_equal(id, &t->self_id)) return -EINVAL;
  if (find_in(t, b, id) >= 0) return 0;
  if (!t->buckets[b]) {
    t->buckets[b] = calloc(KAD_BUCKET_PEERS, sizeof(kad_table_entry_t));
    if (!t->buckets[b]) return -ENOMEM;
  }
  kad_table_entry_t *slot;
  if (t->counts[b] < KAD_BUCKET_PEERS) {
    slot = &t->buckets[b][t->counts[b]++];
    t->size++;
  } else {
    slot = &t->buckets[b][0];
    for (unsigned i = 1; i < KAD_BUCKET_PEERS; i++)
      if (t->buckets[b][i].useful_ms < slot->useful_ms) slot = &t->buckets[b][i];
    if (now_ms - slot->useful_ms < KAD_TABLE_USEFUL_GRACE_MS || now_ms < slot->useful_ms) return -ENOSPC;
    if (evicted) *evicted = slot->id;
  }
  slot->id = *id;
  memcpy(slot->hash, h, KAD_HASH_BYTES);
  slot->added_ms = slot->useful_ms = now_ms;
  return 1;
}

int kad_table_remove(kad_table_t *t, const peer_id_t *id) {
  uint8_t h[KAD_HASH_BYTES];
  kad_hash(id->bytes, id->len, h);
  unsigned b = kad_cpl(t->self, h);
  if (b == KAD_BUCKETS) return 0;
  int i = find_in(t, b, id);
  if (i < 0) return 0;
  t->buckets[b][i] = t->buckets[b][--t->counts[b]];
  assert(t->size > 0);
  t->size--;
  return 1;
}

bool kad_table_has(const kad_table_t *t, const peer_id_t *id) {
  uint8_t h[KAD_HASH_BYTES];
  kad_hash(id->bytes, id->len, h);
  unsigned b = kad_cpl(t->self, h);
  return b < KAD_BUCKETS && find_in(t, b, id) >= 0;
}

void kad_table_mark_useful(kad_table_t *t, const peer_id_t *id, uint64_t now_ms) {
  uint8_t h[KAD_HASH_BYTES];
  kad_hash(id->bytes, id->len, h);
  unsigned b = kad_cpl(t->self, h);
  if (b == KAD_BUCKETS) return;
  int i = find_in(t, b, id);
  if (i >= 0) t->buckets[b][i].useful_ms = now_ms;
}

size_t kad_table_closest(const kad_table_t *t, const uint8_t target[KAD_HASH_BYTES], peer_id_t *out, size_t n) {
  /* At most KAD_BUCKETS * k entries: an insertion into a sorted list of n. */
  if (!n) return 0;
  const kad_table_entry_t **best = malloc(n * sizeof *best);
  if (!best) return 0;
  size_t have = 0;
  for (unsigned b = 0; b < KAD_BUCKETS; b++)
    for (unsigned i = 0; i < t->counts[b]; i++) {
      const kad_table_entry_t *e = &t->buckets[b][i];
      if (have == n && kad_distance_cmp(target, e->hash, best[n - 1]->hash) >= 0) continue;
      size_t at = have < n ? have++ : n - 1;
      while (at > 0 && kad_distance_cmp(target, e->hash, best[at - 1]->hash) < 0) {
        best[at] = best[at - 1];
        at--;
      }
      best[at] = e;
    }
  for (size_t i = 0; i < have; i++) out[i] = best[i]->id;
  free(best);
  return have;
}

uint64_t kad_table_estimate(const kad_table_t *t) {
  /* n peers spread evenly: the k-th closest to us lies at about k/n of the
   * keyspace.  The buckets near us are the complete ones, so this uses them. */
  if (t->size < KAD_BUCKET_PEERS) return t->size + 1;
  peer_id_t near[KAD_BUCKET_PEERS];
  size_t have = kad_table_closest(t, t->self, near, KAD_BUCKET_PEERS);
  if (have < KAD_BUCKET_PEERS) return t->size + 1;
  uint8_t h[KAD_HASH_BYTES];
  kad_hash(near[have - 1].bytes, near[have - 1].len, h);
  uint64_t d = 0;
  for (int i = 0; i < 8; i++) d = d << 8 | (uint8_t)(h[i] ^ t->self[i]);
  double fraction = ((double)d + 1.0) / 18446744073709551616.0;
  double n = (double)have / fraction;
  if (n < (double)t->size + 1) return t->size + 1;
  return n > 1e15 ? (uint64_t)1e15 : (uint64_t)n;
}

unsigned kad_region_bits(uint64_t network_size) {
  unsigned p = 0;
  while (p < 63 && (network_size >> (p + 1)) >= KAD_BUCKET_PEERS) p++;
  return p;
}

static int key_cmp(const void *a, const void *b) {
  return memcmp(((const kad_region_key_t *)a)->hash, ((const kad_region_key_t *)b)->hash, KAD_HASH_BYTES);
}

/* Whether a and b share their first bits bits. */
static bool same_prefix(const uint8_t *a, const uint8_t *b, unsigned bits) {
  unsigned whole = bits / 8, rest = bits % 8;
  if (memcmp(a, b, whole) != 0) return false;
  if (!rest) return true;
  uint8_t mask = (uint8_t)(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

int kad_regions(kad_region_key_t *keys, size_t n, unsigned bits, kad_region_fn fn, void *ctx) {
  if (bits > KAD_BUCKETS) bits = KAD_BUCKETS;
  qsort(keys, n, sizeof *keys, key_cmp);
  size_t start = 0;
  while (start < n) {
    size_t end = start + 1;
    while (end < n && same_prefix(keys[start].hash, keys[end].hash, bits)) end++;
    int rc = fn(ctx, keys + start, end - start);
    if (rc) return rc;
    start = end;
  }
  return 0;
}
