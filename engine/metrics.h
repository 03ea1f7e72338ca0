/*
 * metrics: a registry of counters, gauges and histograms, written out in the
 * Prometheus text exposition format (version 0.0.4) for /metrics.
 *
 * A registry holds families.  A family has a name, a help text, a type and
 * zero or more label names; its children are the time series, one per set of
 * label values ({operation="put"}), created on first lookup up to the
 * family's children_max (label sets are bounded: a lookup past the bound
 * fails with -ENOSPC instead of growing memory without end).  A family
 * without labels has exactly one child, created with the family.
 *
 * Hot path: code looks its children up once (at open) and keeps the
 * pointers; an increment is then one relaxed atomic add on a cache line of
 * its own, an observation a bucket search plus two atomic operations (the
 * bucket's count and a compare-and-swap on the sum).  No lock, no allocation.
 * Lookups are lock-free too (a scan of the published children); only
 * creating a child takes the family's mutex.
 *
 * Histograms have fixed upper bounds chosen at registration (strictly
 * increasing, finite; the +Inf bucket is implied).  A value v falls into the
 * first bucket whose bound b has v <= b ("le").  NaN observations are
 * ignored.  The writer makes the buckets cumulative and takes _count from the
 * +Inf bucket, so _count always equals the +Inf bucket even while other
 * threads observe.
 *
 * Exposition is deterministic: families in name order, children in order of
 * their label values (compared bytewise, label by label), histogram buckets in
 * bound order; a family whose help text is empty gets no HELP line, and one
 * with labels but no children yet is left out.  Help texts escape '\' and
 * newline; label values escape '\', '"' and newline.  Label values are
 * untrusted input: any UTF-8 string up to METRICS_LABEL_VALUE_BYTES_MAX bytes
 * is accepted; anything else is refused (-EINVAL), so the output is always
 * valid UTF-8 and two different values never print alike.  Names follow
 * Prometheus' rules (metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names
 * [a-zA-Z_][a-zA-Z0-9_]*, not "__*", and "le" is taken on histograms); a name
 * whose series would collide with another family's (a histogram "x" and a
 * counter "x_count") is refused.
 *
 * Ownership: the registry owns its families and children; pointers stay
 * valid until metrics_registry_free.  metrics_default() is the process-wide
 * registry (created on first use, never freed) that /metrics serves.
 */
#ifndef ANYA_METRICS_H
#define ANYA_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

#define METRICS_NAME_BYTES_MAX 128         /* metric and label names */
#define METRICS_HELP_BYTES_MAX 1024
#define METRICS_LABELS_MAX 8               /* label names per family */
#define METRICS_LABEL_VALUE_BYTES_MAX 256
#define METRICS_CHILDREN_DEFAULT 64        /* label sets per family when children_max is 0 */
#define METRICS_CHILDREN_MAX 10000         /* the most children_max may ask for */
#define METRICS_BUCKETS_MAX 64             /* histogram bounds, +Inf not counted */
#define METRICS_FAMILIES_MAX 4096          /* families per registry */

typedef struct metrics_registry metrics_registry_t;
typedef struct metrics_family metrics_family_t;
typedef struct metrics_counter metrics_counter_t;     /* monotonic, integer */
typedef struct metrics_gauge metrics_gauge_t;         /* any double, up and down */
typedef struct metrics_histogram metrics_histogram_t; /* fixed buckets, sum, count */

typedef enum metrics_type {
  METRICS_COUNTER = 1,
  METRICS_GAUGE,
  METRICS_HISTOGRAM,
} metrics_type_t;

typedef struct metrics_family_spec {
  metrics_type_t type;
  const char *name;                /* e.g. "anya_storage_read_bytes_total" */
  const char *help;                /* one line of documentation (may be "") */
  const char *const *label_names;  /* label_count names, or NULL when 0 */
  size_t label_count;              /* <= METRICS_LABELS_MAX */
  const double *buckets;           /* histograms: upper bounds, strictly increasing, finite */
  size_t bucket_count;             /* histograms: 1..METRICS_BUCKETS_MAX; otherwise 0 */
  size_t children_max;             /* label sets allowed; 0 = METRICS_CHILDREN_DEFAULT
                                      (ignored without labels: one child) */
} metrics_family_spec_t;

/* Creates an empty registry (*out owned by the caller). 0 or -ENOMEM. */
int metrics_registry_new(metrics_registry_t **out);
/* Frees the registry, its families and children. NULL is a no-op. */
void metrics_registry_free(metrics_registry_t *r);
/* The process-wide registry; NULL only if its allocation failed. */
metrics_registry_t *metrics_default(void);

/* Registers a family.  Registering the same name again with an identical
 * spec returns the existing family (so modules may register at every open);
 * a different spec under a taken name, or a colliding name, is -EEXIST.
 * -EINVAL for a bad spec, -ENOSPC past METRICS_FAMILIES_MAX, -ENOMEM. */
int metrics_family_register(metrics_registry_t *r, const metrics_family_spec_t *spec,
                            metrics_family_t **out);

/* The child for these label values (label_count strings; NULL when the family
 * has no labels), created on first use.  0, -EINVAL (wrong type for the
 * family, bad value), -ENOSPC (children_max reached), -ENOMEM. */
int metrics_counter_child(metrics_family_t *f, const char *const *label_values,
                          metrics_counter_t **out);
int metrics_gauge_child(metrics_family_t *f, const char *const *label_values,
                        metrics_gauge_t **out);
int metrics_histogram_child(metrics_family_t *f, const char *const *label_values,
                            metrics_histogram_t **out);

/* Shorthands for families without labels: register and return the child. */
int metrics_counter_register(metrics_registry_t *r, const char *name, const char *help,
                             metrics_counter_t **out);
int metrics_gauge_register(metrics_registry_t *r, const char *name, const char *help,
                           metrics_gauge_t **out);
int metrics_histogram_register(metrics_registry_t *r, const char *name, const char *help,
                               const double *buckets, size_t bucket_count,
                               metrics_histogram_t **out);

/* The hot path.  All are thread-safe and lock-free; a NULL metric is a no-op
 * (so instrumentation need not check whether registration succeeded). */
void metrics_counter_add(metrics_counter_t *c, uint64_t n);
static inline void metrics_counter_inc(metrics_counter_t *c) { metrics_counter_add(c, 1); }
void metrics_gauge_set(metrics_gauge_t *g, double v);
void metrics_gauge_add(metrics_gauge_t *g, double delta);
void metrics_histogram_observe(metrics_histogram_t *h, double v);

/* Current values (for tests and health checks). */
uint64_t metrics_counter_value(const metrics_counter_t *c);
double metrics_gauge_value(const metrics_gauge_t *g);
/* Total observations, and their sum. */
uint64_t metrics_histogram_count(const metrics_histogram_t *h);
double metrics_histogram_sum(const metrics_histogram_t *h);

/* Appends the registry in the text exposition format to out.  0 or -ENOMEM
 * (out then holds a partial text; reset it). */
int metrics_write_text(metrics_registry_t *r, buf_t *out);

/* Monotonic time in nanoseconds, for timing operations. */
static inline uint64_t metrics_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
