/*
 * metrics: registry, lock-free children, text exposition (metrics.h).
 *
 * Every metric value lives on cache lines of its own (aligned_alloc(64)), so
 * two threads bumping two different counters do not fight over one line.
 * Gauge values and histogram sums are doubles stored as their bit patterns in
 * 64-bit atomics; adding to them is a compare-and-swap loop.
 *
 * A family's child table has children_max slots allocated at registration and
 * never moves: a creator (under the family's mutex) fills slot n, then
 * publishes n + 1 with a release store; lookups scan the published prefix
 * after an acquire load, without the mutex.
 */
#include "metrics.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

#define METRICS_LINE_BYTES 64 /* cache line: the unit of allocation for values */

struct metrics_counter {
  _Atomic uint64_t value;
};

struct metrics_gauge {
  _Atomic uint64_t bits; /* a double */
};

struct metrics_histogram {
  _Atomic uint64_t sum_bits;  /* a double: the sum of observations */
  const double *bounds;       /* the family's upper bounds */
  size_t bound_count;         /* without +Inf */
  _Atomic uint64_t counts[];  /* bound_count + 1, not cumulative; the last is +Inf */
};

typedef struct metrics_child {
  char **label_values; /* label_count strings, owned */
  void *metric;        /* metrics_counter_t, metrics_gauge_t or metrics_histogram_t, owned */
} metrics_child_t;

struct metrics_family {
  metrics_type_t type;
  char *name;
  char *help;
  char **label_names;
  size_t label_count;
  double *buckets;
  size_t bucket_count;
  size_t children_max;
  pthread_mutex_t mutex;        /* serialises child creation */
  _Atomic size_t children_len;  /* published children */
  metrics_child_t *children;    /* children_max slots */
};

struct metrics_registry {
  pthread_mutex_t mutex;        /* registration and exposition */
  metrics_family_t **families;  /* sorted by name */
  size_t families_len;
  size_t families_cap;
};

/* ---- values ---- */

static uint64_t double_bits(double v) {
  uint64_t b;
  memcpy(&b, &v, sizeof b);
  return b;
}

static double bits_double(uint64_t b) {
  double v;
  memcpy(&v, &b, sizeof v);
  return v;
}

static void atomic_add_double(_Atomic uint64_t *slot, double delta) {
  uint64_t old = atomic_load_explicit(slot, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(slot, &old, double_bits(bits_double(old) + delta),
                                                memory_order_relaxed, memory_order_relaxed)) {
  }
}

void metrics_counter_add(metrics_counter_t *c, uint64_t n) {
  if (c) atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

void metrics_gauge_set(metrics_gauge_t *g, double v) {
  if (g) atomic_store_explicit(&g->bits, double_bits(v), memory_order_relaxed);
}

void metrics_gauge_add(metrics_gauge_t *g, double delta) {
  if (g) atomic_add_double(&g->bits, delta);
}

void metrics_histogram_observe(metrics_histogram_t *h, double v) {
  if (!h || isnan(v)) return;
  size_t lo = 0, hi = h->bound_count; /* first bound >= v; bound_count means +Inf */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (v <= h->bounds[mid]) hi = mid;
    else lo = mid + 1;
  }
  atomic_fetch_add_explicit(&h->counts[lo], 1, memory_order_relaxed);
  atomic_add_double(&h->sum_bits, v);
}

uint64_t metrics_counter_value(const metrics_counter_t *c) {
  return c ? atomic_load_explicit(&((metrics_counter_t *)c)->value, memory_order_relaxed) : 0;
}

double metrics_gauge_value(const metrics_gauge_t *g) {
  return g ? bits_double(atomic_load_explicit(&((metrics_gauge_t *)g)->bits, memory_order_relaxed))
           : 0.0;
}

uint64_t metrics_histogram_count(const metrics_histogram_t *h) {
  if (!h) return 0;
  metrics_histogram_t *m = (metrics_histogram_t *)h;
  uint64_t total = 0;
  for (size_t i = 0; i <= m->bound_count; i++)
    total += atomic_load_explicit(&m->counts[i], memory_order_relaxed);
  return total;
}

double metrics_histogram_sum(const metrics_histogram_t *h) {
  if (!h) return 0.0;
  metrics_histogram_t *m = (metrics_histogram_t *)h;
  return bits_double(atomic_load_explicit(&m->sum_bits, memory_order_relaxed));
}

/* ---- validation ---- */

static bool name_char_ok(char c, bool first, bool colon_ok) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (c == ':' && colon_ok) return true;
  return !first && c >= '0' && c <= '9';
}

static bool name_ok(const char *s, bool colon_ok) {
  if (!s || !*s) return false;
  size_t n = strnlen(s, METRICS_NAME_BYTES_MAX + 1);
  if (n > METRICS_NAME_BYTES_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if (!name_char_ok(s[i], i == 0, colon_ok)) return false;
  return true;
}

static bool utf8_ok(const char *s, size_t n) {
  const uint8_t *p = (const uint8_t *)s;
  for (size_t i = 0; i < n;) {
    size_t step = log_utf8_char_bytes(p + i, n - i);
    if (step == 0) return false;
    i += step;
  }
  return true;
}

static int spec_check(const metrics_family_spec_t *spec) {
  if (spec->type != METRICS_COUNTER && spec->type != METRICS_GAUGE && spec->type != METRICS_HISTOGRAM)
    return err_set(-EINVAL, "metrics: unknown metric type %d", (int)spec->type);
  if (!name_ok(spec->name, true))
    return err_set(-EINVAL, "metrics: bad metric name \"%.*s\"", METRICS_NAME_BYTES_MAX,
                   spec->name ? spec->name : "");
  if (!spec->help) return err_set(-EINVAL, "metrics %s: help text missing", spec->name);
  size_t help_len = strnlen(spec->help, METRICS_HELP_BYTES_MAX + 1);
  if (help_len > METRICS_HELP_BYTES_MAX || !utf8_ok(spec->help, help_len))
    return err_set(-EINVAL, "metrics %s: help text too long or not UTF-8", spec->name);
  if (spec->label_count > METRICS_LABELS_MAX || (spec->label_count && !spec->label_names))
    return err_set(-EINVAL, "metrics %s: bad label names (at most %d)", spec->name,
                   METRICS_LABELS_MAX);
  for (size_t i = 0; i < spec->label_count; i++) {
    const char *l = spec->label_names[i];
    if (!name_ok(l, false) || strncmp(l, "__", 2) == 0 ||
        (spec->type == METRICS_HISTOGRAM && strcmp(l, "le") == 0))
      return err_set(-EINVAL, "metrics %s: bad label name \"%.*s\"", spec->name,
                     METRICS_NAME_BYTES_MAX, l ? l : "");
    for (size_t j = 0; j < i; j++)
      if (strcmp(l, spec->label_names[j]) == 0)
        return err_set(-EINVAL, "metrics %s: label \"%s\" twice", spec->name, l);
  }
  if (spec->type == METRICS_HISTOGRAM) {
    if (spec->bucket_count == 0 || spec->bucket_count > METRICS_BUCKETS_MAX || !spec->buckets)
      return err_set(-EINVAL, "metrics %s: a histogram needs 1..%d bucket bounds", spec->name,
                     METRICS_BUCKETS_MAX);
    for (size_t i = 0; i < spec->bucket_count; i++) {
      if (!isfinite(spec->buckets[i]) || (i > 0 && !(spec->buckets[i] > spec->buckets[i - 1])))
        return err_set(-EINVAL, "metrics %s: bucket bounds must be finite and increasing",
                       spec->name);
    }
  } else if (spec->bucket_count != 0) {
    return err_set(-EINVAL, "metrics %s: buckets on a non-histogram", spec->name);
  }
  if (spec->children_max > METRICS_CHILDREN_MAX)
    return err_set(-EINVAL, "metrics %s: children_max over %d", spec->name, METRICS_CHILDREN_MAX);
  return 0;
}

static size_t children_max_of(const metrics_family_spec_t *spec) {
  if (spec->label_count == 0) return 1;
  return spec->children_max ? spec->children_max : METRICS_CHILDREN_DEFAULT;
}

static bool spec_same(const metrics_family_t *f, const metrics_family_spec_t *spec) {
  if (f->type != spec->type || strcmp(f->help, spec->help) != 0 ||
      f->label_count != spec->label_count || f->bucket_count != spec->bucket_count ||
      f->children_max != children_max_of(spec))
    return false;
  for (size_t i = 0; i < f->label_count; i++)
    if (strcmp(f->label_names[i], spec->label_names[i]) != 0) return false;
  for (size_t i = 0; i < f->bucket_count; i++)
    if (f->buckets[i] != spec->buckets[i]) return false;
  return true;
}

/* Whether the series names of (name_a, type_a) and (name_b, type_b) overlap:
 * a histogram also writes name_bucket, name_sum and name_count. */
static bool names_collide(const char *a, metrics_type_t type_a, const char *b, metrics_type_t type_b) {
  static const char *const suffixes[] = {"", "_bucket", "_sum", "_count"};
  size_t na = type_a == METRICS_HISTOGRAM ? 4 : 1, nb = type_b == METRICS_HISTOGRAM ? 4 : 1;
  size_t la = strlen(a), lb = strlen(b);
  for (size_t i = 0; i < na; i++) {
    for (size_t j = 0; j < nb; j++) {
      size_t si = strlen(suffixes[i]), sj = strlen(suffixes[j]);
      if (la + si != lb + sj) continue;
      char x[METRICS_NAME_BYTES_MAX + 8], y[METRICS_NAME_BYTES_MAX + 8];
      snprintf(x, sizeof x, "%s%s", a, suffixes[i]);
      snprintf(y, sizeof y, "%s%s", b, suffixes[j]);
      if (strcmp(x, y) == 0) return true;
    }
  }
  return false;
}

/* ---- registry ---- */

int metrics_registry_new(metrics_registry_t **out) {
  metrics_registry_t *r = calloc(1, sizeof *r);
  if (!r) return err_set(-ENOMEM, "metrics: out of memory");
  pthread_mutex_init(&r->mutex, NULL);
  *out = r;
  return 0;
}

static void *value_alloc(size_t bytes) {
  size_t rounded = (bytes + METRICS_LINE_BYTES - 1) / METRICS_LINE_BYTES * METRICS_LINE_BYTES;
  void *p = aligned_alloc(METRICS_LINE_BYTES, rounded);
  if (p) memset(p, 0, rounded);
  return p;
}

static void strings_free(char **s, size_t n) {
  if (!s) return;
  for (size_t i = 0; i < n; i++) free(s[i]);
  free(s);
}

static char **strings_dup(const char *const *s, size_t n) {
  char **out = calloc(n ? n : 1, sizeof *out);
  if (!out) return NULL;
  for (size_t i = 0; i < n; i++) {
    out[i] = strdup(s[i]);
    if (!out[i]) {
      strings_free(out, i);
      return NULL;
    }
  }
  return out;
}

static void family_free(metrics_family_t *f) {
  if (!f) return;
  size_t n = atomic_load(&f->children_len);
  for (size_t i = 0; i < n; i++) {
    strings_free(f->children[i].label_values, f->label_count);
    free(f->children[i].metric);
  }
  free(f->children);
  strings_free(f->label_names, f->label_count);
  free(f->buckets);
  free(f->name);
  free(f->help);
  pthread_mutex_destroy(&f->mutex);
  free(f);
}

void metrics_registry_free(metrics_registry_t *r) {
  if (!r) return;
  for (size_t i = 0; i < r->families_len; i++) family_free(r->families[i]);
  free(r->families);
  pthread_mutex_destroy(&r->mutex);
  free(r);
}

static metrics_registry_t *default_registry;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_init(void) {
  if (metrics_registry_new(&default_registry) < 0) default_registry = NULL;
}

metrics_registry_t *metrics_default(void) {
  pthread_once(&default_once, default_init);
  return default_registry;
}

static void *metric_new(const metrics_family_t *f) {
  if (f->type == METRICS_HISTOGRAM) {
    metrics_histogram_t *h =
        value_alloc(sizeof *h + (f->bucket_count + 1) * sizeof(_Atomic uint64_t));
    if (h) {
      h->bounds = f->buckets;
      h->bound_count = f->bucket_count;
    }
    return h;
  }
  if (f->type == METRICS_GAUGE) return value_alloc(sizeof(metrics_gauge_t));
  return value_alloc(sizeof(metrics_counter_t));
}

static int family_new(const metrics_family_spec_t *spec, metrics_family_t **out) {
  metrics_family_t *f = calloc(1, sizeof *f);
  if (!f) return -ENOMEM;
  pthread_mutex_init(&f->mutex, NULL);
  f->type = spec->type;
  f->label_count = spec->label_count;
  f->bucket_count = spec->bucket_count;
  f->children_max = children_max_of(spec);
  f->name = strdup(spec->name);
  f->help = strdup(spec->help);
  f->label_names = strings_dup(spec->label_names, spec->label_count);
  f->children = calloc(f->children_max, sizeof *f->children);
  if (spec->bucket_count) {
    f->buckets = malloc(spec->bucket_count * sizeof *f->buckets);
    if (f->buckets) memcpy(f->buckets, spec->buckets, spec->bucket_count * sizeof *f->buckets);
  }
  if (!f->name || !f->help || !f->label_names || !f->children ||
      (spec->bucket_count && !f->buckets)) {
    f->label_count = f->label_names ? f->label_count : 0;
    family_free(f);
    return -ENOMEM;
  }
  if (f->label_count == 0) { /* the one child, created up front */
    f->children[0].label_values = strings_dup(NULL, 0);
    f->children[0].metric = metric_new(f);
    if (!f->children[0].label_values || !f->children[0].metric) {
      free(f->children[0].label_values);
      free(f->children[0].metric);
      family_free(f);
      return -ENOMEM;
    }
    atomic_store_explicit(&f->children_len, 1, memory_order_release);
  }
  *out = f;
  return 0;
}

int metrics_family_register(metrics_registry_t *r, const metrics_family_spec_t *spec,
                            metrics_family_t **out) {
  assert(r && spec && out);
  int rc = spec_check(spec);
  if (rc < 0) return rc;
  pthread_mutex_lock(&r->mutex);
  size_t at = r->families_len; /* insertion point keeping the names sorted */
  for (size_t i = 0; i < r->families_len; i++) {
    metrics_family_t *f = r->families[i];
    int cmp = strcmp(f->name, spec->name);
    if (cmp == 0) {
      bool same = spec_same(f, spec);
      pthread_mutex_unlock(&r->mutex);
      if (!same)
        return err_set(-EEXIST, "metrics %s: registered before with another type, help, labels or buckets",
                       spec->name);
      *out = f;
      return 0;
    }
    if (names_collide(f->name, f->type, spec->name, spec->type)) {
      pthread_mutex_unlock(&r->mutex);
      return err_set(-EEXIST, "metrics %s: its series collide with those of %s", spec->name, f->name);
    }
    if (cmp > 0 && at == r->families_len) at = i;
  }
  if (r->families_len == METRICS_FAMILIES_MAX) {
    pthread_mutex_unlock(&r->mutex);
    return err_set(-ENOSPC, "metrics: more than %d families", METRICS_FAMILIES_MAX);
  }
  if (r->families_len == r->families_cap) {
    size_t cap = r->families_cap ? 2 * r->families_cap : 16;
    metrics_family_t **families = realloc(r->families, cap * sizeof *families);
    if (!families) {
      pthread_mutex_unlock(&r->mutex);
      return err_set(-ENOMEM, "metrics: out of memory");
    }
    r->families = families;
    r->families_cap = cap;
  }
  metrics_family_t *f;
  rc = family_new(spec, &f);
  if (rc < 0) {
    pthread_mutex_unlock(&r->mutex);
    return err_set(rc, "metrics: out of memory");
  }
  memmove(r->families + at + 1, r->families + at, (r->families_len - at) * sizeof *r->families);
  r->families[at] = f;
  r->families_len++;
  pthread_mutex_unlock(&r->mutex);
  *out = f;
  return 0;
}

/* ---- children ---- */

static bool values_equal(const metrics_family_t *f, char *const *a, const char *const *b) {
  for (size_t i = 0; i < f->label_count; i++)
    if (strcmp(a[i], b[i]) != 0) return false;
  return true;
}

static void *child_find(metrics_family_t *f, size_t n, const char *const *values) {
  for (size_t i = 0; i < n; i++)
    if (values_equal(f, f->children[i].label_values, values)) return f->children[i].metric;
  return NULL;
}

static int child_get(metrics_family_t *f, metrics_type_t type, const char *const *values, void **out) {
  assert(f && out);
  if (f->type != type) return err_set(-EINVAL, "metrics %s: not of the type asked for", f->name);
  if (f->label_count == 0) {
    *out = f->children[0].metric;
    return 0;
  }
  if (!values) return err_set(-EINVAL, "metrics %s: label values missing", f->name);
  for (size_t i = 0; i < f->label_count; i++) {
    if (!values[i]) return err_set(-EINVAL, "metrics %s: label value missing", f->name);
    size_t n = strnlen(values[i], METRICS_LABEL_VALUE_BYTES_MAX + 1);
    if (n > METRICS_LABEL_VALUE_BYTES_MAX)
      return err_set(-EINVAL, "metrics %s: label %s value longer than %d bytes", f->name,
                     f->label_names[i], METRICS_LABEL_VALUE_BYTES_MAX);
    if (!utf8_ok(values[i], n))
      return err_set(-EINVAL, "metrics %s: label %s value is not UTF-8", f->name, f->label_names[i]);
  }
  void *m = child_find(f, atomic_load_explicit(&f->children_len, memory_order_acquire), values);
  if (m) {
    *out = m;
    return 0;
  }
  pthread_mutex_lock(&f->mutex);
  size_t n = atomic_load_explicit(&f->children_len, memory_order_relaxed);
  m = child_find(f, n, values); /* another thread may have created it meanwhile */
  int rc = 0;
  if (!m) {
    if (n == f->children_max) {
      rc = err_set(-ENOSPC, "metrics %s: more than %zu label sets", f->name, f->children_max);
    } else {
      char **copy = strings_dup(values, f->label_count);
      m = copy ? metric_new(f) : NULL;
      if (!m) {
        strings_free(copy, f->label_count);
        rc = err_set(-ENOMEM, "metrics: out of memory");
      } else {
        f->children[n] = (metrics_child_t){.label_values = copy, .metric = m};
        atomic_store_explicit(&f->children_len, n + 1, memory_order_release);
      }
    }
  }
  pthread_mutex_unlock(&f->mutex);
  if (rc == 0) *out = m;
  return rc;
}

int metrics_counter_child(metrics_family_t *f, const char *const *label_values,
                          metrics_counter_t **out) {
  void *m;
  int rc = child_get(f, METRICS_COUNTER, label_values, &m);
  if (rc == 0) *out = m;
  return rc;
}

int metrics_gauge_child(metrics_family_t *f, const char *const *label_values, metrics_gauge_t **out) {
  void *m;
  int rc = child_get(f, METRICS_GAUGE, label_values, &m);
  if (rc == 0) *out = m;
  return rc;
}

int metrics_histogram_child(metrics_family_t *f, const char *const *label_values,
                            metrics_histogram_t **out) {
  void *m;
  int rc = child_get(f, METRICS_HISTOGRAM, label_values, &m);
  if (rc == 0) *out = m;
  return rc;
}

int metrics_counter_register(metrics_registry_t *r, const char *name, const char *help,
                             metrics_counter_t **out) {
  metrics_family_t *f;
  int rc = metrics_family_register(
      r, &(metrics_family_spec_t){.type = METRICS_COUNTER, .name = name, .help = help}, &f);
  return rc < 0 ? rc : metrics_counter_child(f, NULL, out);
}

int metrics_gauge_register(metrics_registry_t *r, const char *name, const char *help,
                           metrics_gauge_t **out) {
  metrics_family_t *f;
  int rc = metrics_family_register(
      r, &(metrics_family_spec_t){.type = METRICS_GAUGE, .name = name, .help = help}, &f);
  return rc < 0 ? rc : metrics_gauge_child(f, NULL, out);
}

int metrics_histogram_register(metrics_registry_t *r, const char *name, const char *help,
                               const double *buckets, size_t bucket_count,
                               metrics_histogram_t **out) {
  metrics_family_t *f;
  int rc = metrics_family_register(r,
                                   &(metrics_family_spec_t){.type = METRICS_HISTOGRAM,
                                                            .name = name,
                                                            .help = help,
                                                            .buckets = buckets,
                                                            .bucket_count = bucket_count},
                                   &f);
  return rc < 0 ? rc : metrics_histogram_child(f, NULL, out);
}

/* ---- exposition ---- */

/* Integers below 2^53 in full ("123456789"), other values in the shortest
 * "%.*g" text that reads back as the same double; +Inf, -Inf, NaN as
 * Prometheus spells them. */
static void format_double(char out[32], double v) {
  if (isnan(v)) {
    strcpy(out, "NaN");
  } else if (isinf(v)) {
    strcpy(out, v > 0 ? "+Inf" : "-Inf");
  } else if (v > -9007199254740992.0 && v < 9007199254740992.0 && (double)(int64_t)v == v) {
    snprintf(out, 32, "%" PRId64, (int64_t)v);
  } else {
    for (int precision = 1; precision <= 17; precision++) {
      snprintf(out, 32, "%.*g", precision, v);
      if (strtod(out, NULL) == v) return;
    }
  }
}

/* Appends s with '\\', newline and (when quotes) '"' escaped. */
static int put_escaped(buf_t *out, const char *s, bool quotes) {
  size_t start = 0, i = 0;
  for (; s[i]; i++) {
    const char *esc = NULL;
    if (s[i] == '\\') esc = "\\\\";
    else if (s[i] == '\n') esc = "\\n";
    else if (s[i] == '"' && quotes) esc = "\\\"";
    if (!esc) continue;
    int rc = buf_append(out, s + start, i - start);
    if (rc == 0) rc = buf_append(out, esc, 2);
    if (rc) return rc;
    start = i + 1;
  }
  return buf_append(out, s + start, i - start);
}

/* Appends {a="x",b="y"[,le="bound"]}; nothing when there are no labels. */
static int put_labels(buf_t *out, const metrics_family_t *f, char *const *values, const char *le) {
  if (f->label_count == 0 && !le) return 0;
  int rc = buf_append_byte(out, '{');
  for (size_t i = 0; rc == 0 && i < f->label_count; i++) {
    rc = buf_printf(out, "%s%s=\"", i ? "," : "", f->label_names[i]);
    if (rc == 0) rc = put_escaped(out, values[i], true);
    if (rc == 0) rc = buf_append_byte(out, '"');
  }
  if (rc == 0 && le) rc = buf_printf(out, "%sle=\"%s\"", f->label_count ? "," : "", le);
  if (rc == 0) rc = buf_append_byte(out, '}');
  return rc;
}

static int put_child(buf_t *out, const metrics_family_t *f, const metrics_child_t *c) {
  char number[32];
  int rc = 0;
  switch (f->type) {
  case METRICS_COUNTER:
    rc = buf_append(out, f->name, strlen(f->name));
    if (rc == 0) rc = put_labels(out, f, c->label_values, NULL);
    if (rc == 0) rc = buf_printf(out, " %" PRIu64 "\n", metrics_counter_value(c->metric));
    break;
  case METRICS_GAUGE:
    format_double(number, metrics_gauge_value(c->metric));
    rc = buf_append(out, f->name, strlen(f->name));
    if (rc == 0) rc = put_labels(out, f, c->label_values, NULL);
    if (rc == 0) rc = buf_printf(out, " %s\n", number);
    break;
  case METRICS_HISTOGRAM: {
    metrics_histogram_t *h = c->metric;
    uint64_t cumulative = 0;
    for (size_t i = 0; rc == 0 && i <= f->bucket_count; i++) {
      cumulative += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
      if (i < f->bucket_count) format_double(number, f->buckets[i]);
      else strcpy(number, "+Inf");
      rc = buf_printf(out, "%s_bucket", f->name);
      if (rc == 0) rc = put_labels(out, f, c->label_values, number);
      if (rc == 0) rc = buf_printf(out, " %" PRIu64 "\n", cumulative);
    }
    format_double(number, metrics_histogram_sum(h));
    if (rc == 0) rc = buf_printf(out, "%s_sum", f->name);
    if (rc == 0) rc = put_labels(out, f, c->label_values, NULL);
    if (rc == 0) rc = buf_printf(out, " %s\n", number);
    if (rc == 0) rc = buf_printf(out, "%s_count", f->name);
    if (rc == 0) rc = put_labels(out, f, c->label_values, NULL);
    if (rc == 0) rc = buf_printf(out, " %" PRIu64 "\n", cumulative);
    break;
  }
  }
  return rc;
}

static int child_compare(const void *a, const void *b, void *ctx) {
  const metrics_child_t *x = *(metrics_child_t *const *)a, *y = *(metrics_child_t *const *)b;
  size_t label_count = *(const size_t *)ctx;
  for (size_t i = 0; i < label_count; i++) {
    int cmp = strcmp(x->label_values[i], y->label_values[i]);
    if (cmp) return cmp;
  }
  return 0;
}

static const char *type_name(metrics_type_t type) {
  return type == METRICS_COUNTER ? "counter" : type == METRICS_GAUGE ? "gauge" : "histogram";
}

int metrics_write_text(metrics_registry_t *r, buf_t *out) {
  assert(r && out);
  pthread_mutex_lock(&r->mutex);
  int rc = 0;
  const metrics_child_t **order = NULL;
  size_t order_cap = 0;
  for (size_t i = 0; rc == 0 && i < r->families_len; i++) {
    metrics_family_t *f = r->families[i];
    size_t n = atomic_load_explicit(&f->children_len, memory_order_acquire);
    if (n == 0) continue; /* a labelled family nobody has used yet */
    if (n > order_cap) {
      const metrics_child_t **grown = realloc(order, n * sizeof *order);
      if (!grown) {
        rc = -ENOMEM;
        break;
      }
      order = grown;
      order_cap = n;
    }
    for (size_t j = 0; j < n; j++) order[j] = &f->children[j];
    qsort_r(order, n, sizeof *order, child_compare, &f->label_count);
    if (f->help[0]) { /* an empty help gets no HELP line rather than a dangling one */
      rc = buf_printf(out, "# HELP %s ", f->name);
      if (rc == 0) rc = put_escaped(out, f->help, false);
      if (rc == 0) rc = buf_append_byte(out, '\n');
    }
    if (rc == 0) rc = buf_printf(out, "# TYPE %s %s\n", f->name, type_name(f->type));
    for (size_t j = 0; rc == 0 && j < n; j++) rc = put_child(out, f, order[j]);
  }
  pthread_mutex_unlock(&r->mutex);
  free(order);
  return rc < 0 ? err_set(rc, "metrics: out of memory") : 0;
}
