/*
 * readers: parallel reads of one immutable DAG.  The exporter's file handle
 * (exporter.h) serves one read at a time, and the kernel sends a file's
 * readahead as several concurrent requests; a pool of up to READERS_MAX
 * handles over the same CID lets them run side by side (more reads in flight
 * on the disk).  Handles are opened on demand and kept until readers_reset.
 *
 * Threads: readers_pread from any number of threads; readers_reset and
 * readers_destroy only while no readers_pread runs (the caller excludes them,
 * e.g. with a rwlock: reads shared, changes exclusive).
 */
#ifndef ANYA_FS_READERS_H
#define ANYA_FS_READERS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "block.h"
#include "cid.h"
#include "exporter.h"

#define READERS_MAX 4

typedef struct readers {
  pthread_mutex_t lock; /* the slots below */
  pthread_cond_t freed; /* a slot became free */
  block_source_t src;
  cid_t cid;
  bool has_cid;
  exp_file_t *f[READERS_MAX];
  bool busy[READERS_MAX];
  cid_t zero;           /* exp_set_zero for every handle, when has_zero */
  bool has_zero;
} readers_t;

void readers_init(readers_t *r, const block_source_t *src);
/* Closes every handle; later reads open cid (NULL: none until the next reset). */
void readers_reset(readers_t *r, const cid_t *cid);
void readers_destroy(readers_t *r);
/* The zero chunk's CID for every handle (exp_set_zero): holes read as memset. */
void readers_set_zero(readers_t *r, const cid_t *zero);
/* exp_pread on a free handle (waiting for one when all are busy: at most the
 * kernel's readahead window of requests wait).  Bytes read,
 * or a negative errno (-EINVAL without a CID). */
ssize_t readers_pread(readers_t *r, void *buf, size_t len, uint64_t off);

#endif
