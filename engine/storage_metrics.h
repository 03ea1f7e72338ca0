/*
 * storage_metrics: the block store's metrics (the seed's "storage metrics"),
 * registered in a metrics registry (metrics.h) and exposed on /metrics.
 *
 *   anya_storage_operation_duration_seconds{operation}  histogram of bs_put,
 *       bs_get, bs_has, bs_delete and bs_sync latency, 5 us .. 10 s
 *   anya_storage_operation_errors_total{operation}      calls that failed
 *       ("not found" is an answer, not an error)
 *   anya_storage_read_bytes_total                       block bytes returned by bs_get
 *   anya_storage_written_bytes_total                    block bytes newly stored by bs_put
 *                                                       (deduplicated puts not counted)
 *   anya_storage_cache_hits_total                       bs_get calls answered locally
 *   anya_storage_cache_misses_total                     bs_get calls for absent blocks
 *                                                       (what the network must fetch); the
 *                                                       hit rate is hits / (hits + misses)
 *   anya_storage_used_bytes                             bytes on disk (segments + index),
 *                                                       refreshed by bs_stat
 *   anya_storage_blocks                                 live blocks, refreshed by bs_stat
 *   anya_pins                                           pinned roots (direct + recursive),
 *                                                       set by the pin store
 *
 * All stores of a process share one set (the numbers add up across them).
 * Children are looked up at registration, so instrumentation is a few
 * atomic operations: metrics_storage_done() after each operation.
 */
#ifndef ANYA_STORAGE_METRICS_H
#define ANYA_STORAGE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

typedef enum metrics_storage_op {
  METRICS_STORAGE_PUT = 0,
  METRICS_STORAGE_GET,
  METRICS_STORAGE_HAS,
  METRICS_STORAGE_DELETE,
  METRICS_STORAGE_SYNC,
  METRICS_STORAGE_OPS, /* how many */
} metrics_storage_op_t;

typedef struct metrics_storage {
  metrics_histogram_t *duration[METRICS_STORAGE_OPS]; /* seconds, by operation */
  metrics_counter_t *errors[METRICS_STORAGE_OPS];     /* failed calls, by operation */
  metrics_counter_t *read_bytes;
  metrics_counter_t *written_bytes;
  metrics_counter_t *cache_hits;
  metrics_counter_t *cache_misses;
  metrics_gauge_t *used_bytes;
  metrics_gauge_t *blocks;
  metrics_gauge_t *pins;
} metrics_storage_t;

/* The operation's label value ("put", "get", "has", "delete", "sync"). */
const char *metrics_storage_op_name(metrics_storage_op_t op);

/* Registers the storage families in r (idempotent) and fills *out with their
 * children.  0 or negative errno (err_set says why). */
int metrics_storage_register(metrics_registry_t *r, metrics_storage_t *out);

/* The set registered in metrics_default(), registered on first call; NULL if
 * that failed (instrumentation then does nothing). */
const metrics_storage_t *metrics_storage(void);

/* Records one finished operation: its duration since start_ns
 * (metrics_now_ns()), an error when rc < 0 and rc != -ENOENT, and for puts
 * and gets the bytes moved (pass 0 when nothing moved).  m may be NULL. */
void metrics_storage_done(const metrics_storage_t *m, metrics_storage_op_t op, uint64_t start_ns,
                          int rc, uint64_t bytes);

#endif
