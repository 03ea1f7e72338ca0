/*
 * repo_gc: the garbage-collection commands of `anya repo` (repo_gc.c).
 * Each takes an open repository and returns 0 or a negative errno (err_set
 * says why); output goes to stdout.
 */
#ifndef ANYA_REPO_GC_H
#define ANYA_REPO_GC_H

#include <stdbool.h>

#include "gc.h"
#include "repo.h"

/* `anya repo gc`: delete expired pins (pins_expire), mark from the pins,
 * sweep (`removed <cid>` lines on stdout unless quiet), compact.  res (may be
 * NULL) gets gc_run's result. */
int repo_gc_run(repo_t *r, bool quiet, gc_result_t *res);

/* Automatic GC at the high watermark, run by the commands that store data
 * once their blocks are synced and pinned: when storage.gc_auto is true and
 * the store's bytes on disk (bs_stat disk_bytes) exceed
 * storage.gc_watermark_percent of storage.max, runs repo_gc_run quietly and
 * prints `anya: automatic gc: removed N blocks, freed B bytes` on stderr.
 * After any collection (automatic or `repo gc`) it waits until the store has
 * grown by half the space between the watermark and storage.max (the size
 * after the last run is kept in <repo>/gc.last), so a store whose live data
 * sits above the watermark is not re-marked on every command.
 * 0 (also when nothing was due) or a negative errno. */
int repo_gc_auto(repo_t *r);
/* `anya repo compact`: bs_compact with the default threshold, one summary line. */
int repo_compact_run(repo_t *r);

#endif
