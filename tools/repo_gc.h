/*
 * repo_gc: the garbage-collection commands of `anya repo` (repo_gc.c).
 * Each takes an open repository and returns 0 or a negative errno (err_set
 * says why); output goes to stdout.
 */
#ifndef ANYA_REPO_GC_H
#define ANYA_REPO_GC_H

#include "repo.h"

/* `anya repo gc`: mark from the pins, sweep (`removed <cid>` lines), compact. */
int repo_gc_run(repo_t *r);
/* `anya repo compact`: bs_compact with the default threshold, one summary line. */
int repo_compact_run(repo_t *r);

#endif
