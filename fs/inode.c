/* inode: the inode table (see inode.h): two hash tables of chained nodes,
 * by inode number and by (kind, CID). */
#include "inode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "murmur3.h"

typedef struct entry {
  fs_node_t node;
  uint64_t nlookup;
  struct entry *next_ino;  /* chain in by_ino */
  struct entry *next_key;  /* chain in by_key */
} entry_t;

struct fs_table {
  pthread_mutex_t lock;
  entry_t **by_ino, **by_key;
  size_t buckets;          /* power of two */
  uint64_t count;
  uint64_t next_ino;
};

#define BUCKETS_INITIAL 1024u

static size_t ino_slot(const fs_table_t *t, uint64_t ino) { return (size_t)(ino * 0x9E3779B97F4A7C15ull >> 20) & (t->buckets - 1); }

static size_t key_slot(const fs_table_t *t, fs_kind_t kind, const cid_t *cid) {
  uint8_t bytes[CID_BYTES_MAX];
  size_t len = cid_to_bytes(cid, bytes);
  uint64_t h[2];
  murmur3_x64_128(bytes, len, h);
  return (size_t)(h[0] ^ (uint64_t)kind) & (t->buckets - 1);
}

int fs_table_new(fs_table_t **out) {
  fs_table_t *t = calloc(1, sizeof *t);
  if (!t) return -ENOMEM;
  t->buckets = BUCKETS_INITIAL;
  t->by_ino = calloc(t->buckets, sizeof *t->by_ino);
  t->by_key = calloc(t->buckets, sizeof *t->by_key);
  if (!t->by_ino || !t->by_key) {
    fs_table_free(t);
    return -ENOMEM;
  }
  t->next_ino = FS_INO_FIRST_DYNAMIC;
  pthread_mutex_init(&t->lock, NULL);
  *out = t;
  return 0;
}

void fs_table_free(fs_table_t *t) {
  if (!t) return;
  for (size_t i = 0; t->by_ino && i < t->buckets; i++)
    for (entry_t *e = t->by_ino[i], *next; e; e = next) next = e->next_ino, free(e);
  free(t->by_ino);
  free(t->by_key);
  pthread_mutex_destroy(&t->lock);
  free(t);
}

static int grow(fs_table_t *t) {
  size_t buckets = t->buckets * 2;
  entry_t **by_ino = calloc(buckets, sizeof *by_ino), **by_key = calloc(buckets, sizeof *by_key);
  if (!by_ino || !by_key) {
    free(by_ino);
    free(by_key);
    return -ENOMEM;
  }
  entry_t **old = t->by_ino;
  size_t old_buckets = t->buckets;
  free(t->by_key);
  t->by_ino = by_ino, t->by_key = by_key, t->buckets = buckets;
  for (size_t i = 0; i < old_buckets; i++)
    for (entry_t *e = old[i], *next; e; e = next) {
      next = e->next_ino;
      size_t s = ino_slot(t, e->node.ino), k = key_slot(t, e->node.kind, &e->node.cid);
      e->next_ino = t->by_ino[s], t->by_ino[s] = e;
      e->next_key = t->by_key[k], t->by_key[k] = e;
    }
  free(old);
  return 0;
}

static bool fixed(uint64_t ino) { return ino >= FS_INO_ROOT && ino <= FS_INO_DWN; }

int fs_table_get(fs_table_t *t, uint64_t ino, fs_node_t *out) {
  if (fixed(ino)) {
    memset(out, 0, sizeof *out);
    out->ino = ino, out->kind = FS_DIR_FIXED;
    return 0;
  }
  pthread_mutex_lock(&t->lock);
  entry_t *e = t->by_ino[ino_slot(t, ino)];
  while (e && e->node.ino != ino) e = e->next_ino;
  if (e) *out = e->node;
  pthread_mutex_unlock(&t->lock);
  return e ? 0 : -ENOENT;
}

int fs_table_lookup(fs_table_t *t, fs_kind_t kind, const cid_t *cid, const exp_stat_t *st, fs_node_t *out) {
  pthread_mutex_lock(&t->lock);
  size_t k = key_slot(t, kind, cid);
  entry_t *e = t->by_key[k];
  while (e && !(e->node.kind == kind && cid_equal(&e->node.cid, cid))) e = e->next_key;
  int rc = 0;
  if (!e) {
    if (t->count >= FS_NODES_MAX) rc = -ENFILE;
    else if (t->count >= t->buckets && (rc = grow(t)) == 0) k = key_slot(t, kind, cid);
    if (!rc && !(e = calloc(1, sizeof *e))) rc = -ENOMEM;
    if (!rc) {
      e->node.ino = t->next_ino++;
      e->node.kind = kind;
      e->node.cid = *cid;
      if (st) e->node.st = *st;
      size_t s = ino_slot(t, e->node.ino);
      e->next_ino = t->by_ino[s], t->by_ino[s] = e;
      e->next_key = t->by_key[k], t->by_key[k] = e;
      t->count++;
    }
  }
  if (!rc) {
    e->nlookup++;
    *out = e->node;
  }
  pthread_mutex_unlock(&t->lock);
  return rc;
}

void fs_table_forget(fs_table_t *t, uint64_t ino, uint64_t n) {
  if (fixed(ino)) return;
  pthread_mutex_lock(&t->lock);
  entry_t **p = &t->by_ino[ino_slot(t, ino)];
  while (*p && (*p)->node.ino != ino) p = &(*p)->next_ino;
  entry_t *e = *p;
  if (e && (e->nlookup -= n < e->nlookup ? n : e->nlookup) == 0) {
    *p = e->next_ino;
    entry_t **q = &t->by_key[key_slot(t, e->node.kind, &e->node.cid)];
    while (*q != e) q = &(*q)->next_key;
    *q = e->next_key;
    t->count--;
    free(e);
  }
  pthread_mutex_unlock(&t->lock);
}

uint64_t fs_table_count(fs_table_t *t) {
  pthread_mutex_lock(&t->lock);
  uint64_t n = t->count;
  pthread_mutex_unlock(&t->lock);
  return n;
}
