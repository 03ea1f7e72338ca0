/* readers: parallel reads of one immutable DAG (see readers.h). */
#include "readers.h"

#include <errno.h>
#include <string.h>

void readers_init(readers_t *r, const block_source_t *src) {
  memset(r, 0, sizeof *r);
  pthread_mutex_init(&r->lock, NULL);
  pthread_cond_init(&r->freed, NULL);
  r->src = *src;
}

void readers_set_zero(readers_t *r, const cid_t *zero) {
  r->zero = *zero;
  r->has_zero = true;
}

void readers_reset(readers_t *r, const cid_t *cid) {
  for (int i = 0; i < READERS_MAX; i++) {
    if (r->f[i]) exp_close(r->f[i]);
    r->f[i] = NULL;
    r->busy[i] = false;
  }
  r->has_cid = cid != NULL;
  if (cid) r->cid = *cid;
}

void readers_destroy(readers_t *r) {
  readers_reset(r, NULL);
  pthread_cond_destroy(&r->freed);
  pthread_mutex_destroy(&r->lock);
}

ssize_t readers_pread(readers_t *r, void *buf, size_t len, uint64_t off) {
  if (!r->has_cid) return -EINVAL;
  int slot = -1;
  pthread_mutex_lock(&r->lock);
  for (;;) {
    for (int i = 0; i < READERS_MAX && slot < 0; i++)
      if (!r->busy[i]) slot = i, r->busy[i] = true;
    if (slot >= 0) break;
    pthread_cond_wait(&r->freed, &r->lock);
  }
  pthread_mutex_unlock(&r->lock);
  ssize_t got = 0;
  if (!r->f[slot]) got = exp_open(&r->src, &r->cid, &r->f[slot]);
  if (!got && r->has_zero) exp_set_zero(r->f[slot], &r->zero);
  if (!got) got = exp_pread(r->f[slot], buf, len, off);
  pthread_mutex_lock(&r->lock);
  r->busy[slot] = false;
  pthread_cond_signal(&r->freed);
  pthread_mutex_unlock(&r->lock);
  return got;
}
