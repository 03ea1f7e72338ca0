/*
 * storage_metrics: registration of the block store's metrics and the one call
 * that records an operation (storage_metrics.h).
 */
#include "storage_metrics.h"

#include <errno.h>
#include <pthread.h>

static const char *const op_names[METRICS_STORAGE_OPS] = {"put", "get", "has", "delete", "sync"};

/* 5 us .. 10 s: a page-cache hit is a few microseconds, a group commit on a
 * slow disk tens of milliseconds, a stalled device seconds. */
static const double duration_buckets_s[] = {0.000005, 0.00001, 0.000025, 0.00005, 0.0001,
                                            0.00025,  0.0005,  0.001,    0.0025,  0.005,
                                            0.01,     0.025,   0.05,     0.1,     0.25,
                                            0.5,      1,       2.5,      5,       10};

const char *metrics_storage_op_name(metrics_storage_op_t op) {
  return (unsigned)op < METRICS_STORAGE_OPS ? op_names[op] : "?";
}

int metrics_storage_register(metrics_registry_t *r, metrics_storage_t *out) {
  static const char *const op_label[] = {"operation"};
  metrics_family_t *duration, *errors;
  int rc = metrics_family_register(
      r,
      &(metrics_family_spec_t){
          .type = METRICS_HISTOGRAM,
          .name = "anya_storage_operation_duration_seconds",
          .help = "Latency of block store operations (put, get, has, delete, sync).",
          .label_names = op_label,
          .label_count = 1,
          .buckets = duration_buckets_s,
          .bucket_count = sizeof duration_buckets_s / sizeof duration_buckets_s[0],
          .children_max = METRICS_STORAGE_OPS,
      },
      &duration);
  if (rc == 0)
    rc = metrics_family_register(r,
                                 &(metrics_family_spec_t){
                                     .type = METRICS_COUNTER,
                                     .name = "anya_storage_operation_errors_total",
                                     .help = "Block store operations that failed, by operation "
                                             "(not found is not a failure).",
                                     .label_names = op_label,
                                     .label_count = 1,
                                     .children_max = METRICS_STORAGE_OPS,
                                 },
                                 &errors);
  for (int op = 0; rc == 0 && op < METRICS_STORAGE_OPS; op++) {
    const char *value[] = {op_names[op]};
    rc = metrics_histogram_child(duration, value, &out->duration[op]);
    if (rc == 0) rc = metrics_counter_child(errors, value, &out->errors[op]);
  }
  if (rc == 0)
    rc = metrics_counter_register(r, "anya_storage_read_bytes_total",
                                  "Block bytes read from the block store.", &out->read_bytes);
  if (rc == 0)
    rc = metrics_counter_register(r, "anya_storage_written_bytes_total",
                                  "Block bytes newly written to the block store (duplicates not counted).",
                                  &out->written_bytes);
  if (rc == 0)
    rc = metrics_counter_register(r, "anya_storage_cache_hits_total",
                                  "Block reads answered from local storage.", &out->cache_hits);
  if (rc == 0)
    rc = metrics_counter_register(r, "anya_storage_cache_misses_total",
                                  "Block reads for blocks absent from local storage.",
                                  &out->cache_misses);
  if (rc == 0)
    rc = metrics_gauge_register(r, "anya_storage_used_bytes",
                                "Bytes on disk used by the block store (segments and index).",
                                &out->used_bytes);
  if (rc == 0)
    rc = metrics_gauge_register(r, "anya_storage_blocks", "Live blocks in the block store.",
                                &out->blocks);
  if (rc == 0)
    rc = metrics_gauge_register(r, "anya_pins", "Pinned roots, direct and recursive.", &out->pins);
  return rc;
}

static metrics_storage_t default_set;
static const metrics_storage_t *default_ptr;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_init(void) {
  metrics_registry_t *r = metrics_default();
  if (r && metrics_storage_register(r, &default_set) == 0) default_ptr = &default_set;
}

const metrics_storage_t *metrics_storage(void) {
  pthread_once(&default_once, default_init);
  return default_ptr;
}

void metrics_storage_done(const metrics_storage_t *m, metrics_storage_op_t op, uint64_t start_ns,
                          int rc, uint64_t bytes) {
  if (!m || (unsigned)op >= METRICS_STORAGE_OPS) return;
  uint64_t now_ns = metrics_now_ns();
  metrics_histogram_observe(m->duration[op], (double)(now_ns - start_ns) * 1e-9);
  if (rc < 0 && rc != -ENOENT) metrics_counter_inc(m->errors[op]);
  if (op == METRICS_STORAGE_GET) {
    if (rc == 0) {
      metrics_counter_inc(m->cache_hits);
      metrics_counter_add(m->read_bytes, bytes);
    } else if (rc == -ENOENT) {
      metrics_counter_inc(m->cache_misses);
    }
  } else if (op == METRICS_STORAGE_PUT && rc == 0) {
    metrics_counter_add(m->written_bytes, bytes);
  }
}
