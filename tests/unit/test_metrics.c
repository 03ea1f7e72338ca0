/*
 * metrics: registration rules (names, labels, buckets, idempotent
 * re-registration, collisions), children (lookup, the bound on label sets,
 * hostile label values), histogram bucket edges, the exact exposition text of
 * a small registry (order, escaping, cumulative buckets, +Inf, _sum, _count),
 * several threads incrementing, observing, creating children and scraping at
 * once, the storage metrics, and the hot-path cost (printed as TAP comments).
 *
 * With ANYA_METRICS_OUT set, also writes the exposition of the process-wide
 * registry with the storage metrics registered and exercised to that file;
 * tests/integration/promtool.sh feeds it to `promtool check metrics`.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ftw.h>
#include <pthread.h>
#include <sys/stat.h>

#include "bs.h"
#include "buf.h"
#include "cid.h"
#include "err.h"
#include "metrics.h"
#include "storage_metrics.h"

#include "testdir.h"

static metrics_registry_t *registry_new(void) {
  metrics_registry_t *r;
  assert_int_equal(metrics_registry_new(&r), 0);
  return r;
}

/* The first n bytes of s as a string (static storage, for comparisons). */
static const char *strndup_tmp(const char *s, size_t n) {
  static char copy[256];
  assert_true(n < sizeof copy);
  snprintf(copy, sizeof copy, "%.*s", (int)n, s);
  return copy;
}

static char *expose(metrics_registry_t *r, buf_t *b) {
  buf_reset(b);
  assert_int_equal(metrics_write_text(r, b), 0);
  return buf_cstr(b);
}

static void test_register_rules(void **state) {
  (void)state;
  metrics_registry_t *r = registry_new();
  metrics_counter_t *c, *c2;
  assert_int_equal(metrics_counter_register(r, "a_total", "A.", &c), 0);
  assert_int_equal(metrics_counter_register(r, "a_total", "A.", &c2), 0);
  assert_ptr_equal(c, c2); /* same spec: the same family and child */
  metrics_gauge_t *g;
  assert_int_equal(metrics_gauge_register(r, "a_total", "A.", &g), -EEXIST);   /* other type */
  assert_int_equal(metrics_counter_register(r, "a_total", "B.", &c2), -EEXIST); /* other help */

  const double buckets[] = {1, 2};
  metrics_histogram_t *h;
  assert_int_equal(metrics_histogram_register(r, "x", "X.", buckets, 2, &h), 0);
  assert_int_equal(metrics_counter_register(r, "x_count", "", &c2), -EEXIST);
  assert_int_equal(metrics_gauge_register(r, "x_bucket", "", &g), -EEXIST);
  assert_int_equal(metrics_histogram_register(r, "x", "X.", buckets, 1, &h), -EEXIST);
  assert_int_equal(metrics_counter_register(r, "y_sum", "", &c2), 0);
  assert_int_equal(metrics_histogram_register(r, "y", "", buckets, 2, &h), -EEXIST);

  const char *bad_names[] = {"", "1abc", "a-b", "a b", "é", NULL};
  for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
    assert_int_equal(metrics_counter_register(r, bad_names[i], "", &c2), -EINVAL);
  assert_int_equal(metrics_counter_register(r, "ns:sub_total", "", &c2), 0); /* colons allowed */
  assert_int_equal(metrics_counter_register(r, "z_total", NULL, &c2), -EINVAL);
  assert_int_equal(metrics_counter_register(r, "z_total", "bad \xff help", &c2), -EINVAL);
  char long_name[METRICS_NAME_BYTES_MAX + 2];
  memset(long_name, 'n', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  assert_int_equal(metrics_counter_register(r, long_name, "", &c2), -EINVAL);

  metrics_family_t *f;
  const char *labels_bad[][2] = {{"ok", "ok"}, {"__reserved", "b"}, {"a:b", "c"}, {"9", "x"}};
  for (size_t i = 0; i < 4; i++)
    assert_int_equal(metrics_family_register(r,
                                             &(metrics_family_spec_t){.type = METRICS_COUNTER,
                                                                      .name = "l_total",
                                                                      .help = "",
                                                                      .label_names = labels_bad[i],
                                                                      .label_count = 2},
                                             &f),
                     -EINVAL);
  const char *le[] = {"le"};
  assert_int_equal(metrics_family_register(r,
                                           &(metrics_family_spec_t){.type = METRICS_HISTOGRAM,
                                                                    .name = "le_h",
                                                                    .help = "",
                                                                    .label_names = le,
                                                                    .label_count = 1,
                                                                    .buckets = buckets,
                                                                    .bucket_count = 2},
                                           &f),
                   -EINVAL);
  assert_int_equal(metrics_family_register(r,
                                           &(metrics_family_spec_t){.type = METRICS_GAUGE,
                                                                    .name = "le_g",
                                                                    .help = "",
                                                                    .label_names = le,
                                                                    .label_count = 1},
                                           &f),
                   0); /* "le" is only reserved on histograms */

  const double unordered[] = {1, 1}, infinite[] = {1, 1.0 / 0.0};
  assert_int_equal(metrics_histogram_register(r, "h1", "", unordered, 2, &h), -EINVAL);
  assert_int_equal(metrics_histogram_register(r, "h2", "", infinite, 2, &h), -EINVAL);
  assert_int_equal(metrics_histogram_register(r, "h3", "", buckets, 0, &h), -EINVAL);
  assert_int_equal(metrics_family_register(r,
                                           &(metrics_family_spec_t){.type = METRICS_COUNTER,
                                                                    .name = "b_total",
                                                                    .help = "",
                                                                    .buckets = buckets,
                                                                    .bucket_count = 2},
                                           &f),
                   -EINVAL);
  assert_int_equal(metrics_family_register(r, &(metrics_family_spec_t){.type = 0, .name = "t", .help = ""}, &f),
                   -EINVAL);
  metrics_registry_free(r);
}

static void test_children(void **state) {
  (void)state;
  metrics_registry_t *r = registry_new();
  const char *names[] = {"method", "code"};
  metrics_family_t *f;
  metrics_family_spec_t spec = {.type = METRICS_COUNTER,
                                .name = "req_total",
                                .help = "",
                                .label_names = names,
                                .label_count = 2,
                                .children_max = 3};
  assert_int_equal(metrics_family_register(r, &spec, &f), 0);
  metrics_counter_t *a, *b, *again;
  assert_int_equal(metrics_counter_child(f, (const char *[]){"get", "200"}, &a), 0);
  assert_int_equal(metrics_counter_child(f, (const char *[]){"get", "404"}, &b), 0);
  assert_ptr_not_equal(a, b);
  assert_int_equal(metrics_counter_child(f, (const char *[]){"get", "200"}, &again), 0);
  assert_ptr_equal(a, again);
  assert_int_equal(metrics_counter_child(f, (const char *[]){"", "\"\\\n"}, &again), 0);
  /* the bound: a fourth label set is refused; existing ones still resolve */
  assert_int_equal(metrics_counter_child(f, (const char *[]){"put", "200"}, &again), -ENOSPC);
  assert_int_equal(metrics_counter_child(f, (const char *[]){"get", "404"}, &again), 0);
  assert_ptr_equal(b, again);
  /* hostile values */
  assert_int_equal(metrics_counter_child(f, (const char *[]){"get", "\xff"}, &again), -EINVAL);
  assert_int_equal(metrics_counter_child(f, (const char *[]){"get", "\xed\xa0\x80"}, &again), -EINVAL);
  assert_int_equal(metrics_counter_child(f, (const char *[]){"get", NULL}, &again), -EINVAL);
  assert_int_equal(metrics_counter_child(f, NULL, &again), -EINVAL);
  char long_value[METRICS_LABEL_VALUE_BYTES_MAX + 2];
  memset(long_value, 'v', sizeof long_value - 1);
  long_value[sizeof long_value - 1] = '\0';
  assert_int_equal(metrics_counter_child(f, (const char *[]){"get", long_value}, &again), -EINVAL);
  /* wrong type */
  metrics_gauge_t *g;
  metrics_histogram_t *h;
  assert_int_equal(metrics_gauge_child(f, (const char *[]){"get", "200"}, &g), -EINVAL);
  assert_int_equal(metrics_histogram_child(f, (const char *[]){"get", "200"}, &h), -EINVAL);
  /* NULL metrics are no-ops */
  metrics_counter_add(NULL, 1);
  metrics_gauge_set(NULL, 1);
  metrics_gauge_add(NULL, 1);
  metrics_histogram_observe(NULL, 1);
  assert_int_equal(metrics_counter_value(NULL), 0);
  metrics_registry_free(r);
}

static void test_values_and_buckets(void **state) {
  (void)state;
  metrics_registry_t *r = registry_new();
  metrics_counter_t *c;
  metrics_gauge_t *g;
  metrics_histogram_t *h;
  assert_int_equal(metrics_counter_register(r, "c_total", "", &c), 0);
  metrics_counter_inc(c);
  metrics_counter_add(c, 41);
  assert_int_equal(metrics_counter_value(c), 42);
  assert_int_equal(metrics_gauge_register(r, "g", "", &g), 0);
  metrics_gauge_set(g, 2.5);
  metrics_gauge_add(g, -4);
  assert_true(metrics_gauge_value(g) == -1.5);
  const double bounds[] = {1, 2, 4};
  assert_int_equal(metrics_histogram_register(r, "h", "", bounds, 3, &h), 0);
  const double values[] = {-1, 0, 1, 1.5, 2, 4, 4.0001, 1e300, 0.0 / 0.0};
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) metrics_histogram_observe(h, values[i]);
  assert_int_equal(metrics_histogram_count(h), 8); /* NaN ignored */
  buf_t b = {0};
  char *text = expose(r, &b);
  /* empty help: no HELP line */
  assert_string_equal(strndup_tmp(text, 56), "# TYPE c_total counter\nc_total 42\n# TYPE g gauge\ng -1.5\n");
  assert_non_null(strstr(text, "h_bucket{le=\"1\"} 3\n"     /* -1, 0, 1 (le is inclusive) */
                               "h_bucket{le=\"2\"} 5\n"     /* 1.5, 2 */
                               "h_bucket{le=\"4\"} 6\n"     /* 4 */
                               "h_bucket{le=\"+Inf\"} 8\n"  /* 4.0001, 1e300 */
                               "h_sum 1e+300\n"
                               "h_count 8\n"));
  buf_free(&b);
  metrics_registry_free(r);
}

static void test_exposition_exact(void **state) {
  (void)state;
  metrics_registry_t *r = registry_new();
  const char *method_code[] = {"method", "code"};
  metrics_family_t *requests;
  assert_int_equal(metrics_family_register(r,
                                           &(metrics_family_spec_t){.type = METRICS_COUNTER,
                                                                    .name = "test_requests_total",
                                                                    .help = "Requests handled.",
                                                                    .label_names = method_code,
                                                                    .label_count = 2},
                                           &requests),
                   0);
  metrics_counter_t *c;
  /* created out of order: the output sorts them */
  assert_int_equal(metrics_counter_child(requests, (const char *[]){"put", "500"}, &c), 0);
  metrics_counter_add(c, 1);
  assert_int_equal(metrics_counter_child(requests, (const char *[]){"get", "404"}, &c), 0);
  metrics_counter_add(c, 2);
  assert_int_equal(metrics_counter_child(requests, (const char *[]){"get", "200"}, &c), 0);
  metrics_counter_add(c, 3);

  metrics_gauge_t *g;
  assert_int_equal(metrics_gauge_register(r, "test_temperature_celsius", "Temperature.", &g), 0);
  metrics_gauge_set(g, -1.5);

  const double bounds[] = {0.25, 1, 10};
  metrics_histogram_t *h;
  assert_int_equal(metrics_histogram_register(r, "test_latency_seconds", "Latency.", bounds, 3, &h), 0);
  metrics_histogram_observe(h, 0.125);
  metrics_histogram_observe(h, 0.25);
  metrics_histogram_observe(h, 0.5);
  metrics_histogram_observe(h, 20);

  const char *path[] = {"path"};
  metrics_family_t *escape;
  assert_int_equal(metrics_family_register(r,
                                           &(metrics_family_spec_t){.type = METRICS_GAUGE,
                                                                    .name = "test_escape_info",
                                                                    .help = "Line one\nback\\slash \"q\"",
                                                                    .label_names = path,
                                                                    .label_count = 1},
                                           &escape),
                   0);
  assert_int_equal(metrics_gauge_child(escape, (const char *[]){"a\"b\\c\nd\xc3\xa9"}, &g), 0);
  metrics_gauge_set(g, 1);
  metrics_family_t *unused;
  assert_int_equal(metrics_family_register(r,
                                           &(metrics_family_spec_t){.type = METRICS_COUNTER,
                                                                    .name = "test_unused_total",
                                                                    .help = "No children yet.",
                                                                    .label_names = path,
                                                                    .label_count = 1},
                                           &unused),
                   0);
  metrics_histogram_t *lh;
  metrics_family_t *lf;
  assert_int_equal(metrics_family_register(r,
                                           &(metrics_family_spec_t){.type = METRICS_HISTOGRAM,
                                                                    .name = "test_sizes_bytes",
                                                                    .help = "Sizes.",
                                                                    .label_names = path,
                                                                    .label_count = 1,
                                                                    .buckets = (const double[]){0.001, 1e6},
                                                                    .bucket_count = 2},
                                           &lf),
                   0);
  assert_int_equal(metrics_histogram_child(lf, (const char *[]){"/x"}, &lh), 0);
  metrics_histogram_observe(lh, 3);

  buf_t b = {0};
  assert_string_equal(expose(r, &b),
                      "# HELP test_escape_info Line one\\nback\\\\slash \"q\"\n"
                      "# TYPE test_escape_info gauge\n"
                      "test_escape_info{path=\"a\\\"b\\\\c\\nd\xc3\xa9\"} 1\n"
                      "# HELP test_latency_seconds Latency.\n"
                      "# TYPE test_latency_seconds histogram\n"
                      "test_latency_seconds_bucket{le=\"0.25\"} 2\n"
                      "test_latency_seconds_bucket{le=\"1\"} 3\n"
                      "test_latency_seconds_bucket{le=\"10\"} 3\n"
                      "test_latency_seconds_bucket{le=\"+Inf\"} 4\n"
                      "test_latency_seconds_sum 20.875\n"
                      "test_latency_seconds_count 4\n"
                      "# HELP test_requests_total Requests handled.\n"
                      "# TYPE test_requests_total counter\n"
                      "test_requests_total{method=\"get\",code=\"200\"} 3\n"
                      "test_requests_total{method=\"get\",code=\"404\"} 2\n"
                      "test_requests_total{method=\"put\",code=\"500\"} 1\n"
                      "# HELP test_sizes_bytes Sizes.\n"
                      "# TYPE test_sizes_bytes histogram\n"
                      "test_sizes_bytes_bucket{path=\"/x\",le=\"0.001\"} 0\n"
                      "test_sizes_bytes_bucket{path=\"/x\",le=\"1000000\"} 1\n"
                      "test_sizes_bytes_bucket{path=\"/x\",le=\"+Inf\"} 1\n"
                      "test_sizes_bytes_sum{path=\"/x\"} 3\n"
                      "test_sizes_bytes_count{path=\"/x\"} 1\n"
                      "# HELP test_temperature_celsius Temperature.\n"
                      "# TYPE test_temperature_celsius gauge\n"
                      "test_temperature_celsius -1.5\n");
  /* special gauge values */
  metrics_gauge_t *special;
  assert_int_equal(metrics_gauge_register(r, "test_z", "", &special), 0);
  metrics_gauge_set(special, 1.0 / 0.0);
  assert_non_null(strstr(expose(r, &b), "test_z +Inf\n"));
  metrics_gauge_set(special, -1.0 / 0.0);
  assert_non_null(strstr(expose(r, &b), "test_z -Inf\n"));
  metrics_gauge_set(special, 0.0 / 0.0);
  assert_non_null(strstr(expose(r, &b), "test_z NaN\n"));
  metrics_gauge_set(special, 0.1);
  assert_non_null(strstr(expose(r, &b), "test_z 0.1\n"));
  metrics_gauge_set(special, 1e-7);
  assert_non_null(strstr(expose(r, &b), "test_z 1e-07\n"));
  buf_free(&b);
  metrics_registry_free(r);
}

/* ---- concurrency ---- */

#define THREADS 4
#define OPS_PER_THREAD 200000

typedef struct shared {
  metrics_registry_t *registry;
  metrics_counter_t *counter;
  metrics_gauge_t *gauge;
  metrics_histogram_t *histogram;
  metrics_family_t *labelled;
  metrics_counter_t *children[THREADS][16];
  int stop_scraping;
} shared_t;

typedef struct worker {
  shared_t *shared;
  int id;
} worker_t;

static void *worker_main(void *arg) {
  worker_t *w = arg;
  shared_t *s = w->shared;
  for (int i = 0; i < OPS_PER_THREAD; i++) {
    metrics_counter_inc(s->counter);
    metrics_gauge_add(s->gauge, 1);
    metrics_histogram_observe(s->histogram, (double)(i % 4)); /* 0, 1, 2, 3: exact sums */
    if (i < 16 * 64) {
      /* every thread creates and looks up the same 16 label sets */
      char value[8];
      snprintf(value, sizeof value, "v%d", i % 16);
      metrics_counter_t *c;
      assert_int_equal(metrics_counter_child(s->labelled, (const char *[]){value}, &c), 0);
      metrics_counter_inc(c);
      if (i < 16) s->children[w->id][i] = c;
    }
  }
  return NULL;
}

static void *scraper_main(void *arg) {
  shared_t *s = arg;
  buf_t b = {0};
  while (!__atomic_load_n(&s->stop_scraping, __ATOMIC_ACQUIRE)) {
    buf_reset(&b);
    assert_int_equal(metrics_write_text(s->registry, &b), 0);
    /* _count is the +Inf bucket, whatever the writers are doing */
    char *text = buf_cstr(&b);
    const char *inf = strstr(text, "h_bucket{le=\"+Inf\"} ");
    const char *count = strstr(text, "h_count ");
    assert_non_null(inf);
    assert_non_null(count);
    assert_int_equal(strtoull(inf + strlen("h_bucket{le=\"+Inf\"} "), NULL, 10),
                     strtoull(count + strlen("h_count "), NULL, 10));
  }
  buf_free(&b);
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  shared_t s = {.registry = registry_new()};
  assert_int_equal(metrics_counter_register(s.registry, "c_total", "", &s.counter), 0);
  assert_int_equal(metrics_gauge_register(s.registry, "g", "", &s.gauge), 0);
  const double bounds[] = {0.5, 1.5, 2.5};
  assert_int_equal(metrics_histogram_register(s.registry, "h", "", bounds, 3, &s.histogram), 0);
  const char *label[] = {"v"};
  assert_int_equal(metrics_family_register(s.registry,
                                           &(metrics_family_spec_t){.type = METRICS_COUNTER,
                                                                    .name = "l_total",
                                                                    .help = "",
                                                                    .label_names = label,
                                                                    .label_count = 1,
                                                                    .children_max = 16},
                                           &s.labelled),
                   0);
  pthread_t threads[THREADS], scraper;
  worker_t workers[THREADS];
  assert_int_equal(pthread_create(&scraper, NULL, scraper_main, &s), 0);
  for (int t = 0; t < THREADS; t++) {
    workers[t] = (worker_t){.shared = &s, .id = t};
    assert_int_equal(pthread_create(&threads[t], NULL, worker_main, &workers[t]), 0);
  }
  for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
  __atomic_store_n(&s.stop_scraping, 1, __ATOMIC_RELEASE);
  pthread_join(scraper, NULL);

  uint64_t total = (uint64_t)THREADS * OPS_PER_THREAD;
  assert_int_equal(metrics_counter_value(s.counter), total);
  assert_true(metrics_gauge_value(s.gauge) == (double)total);
  assert_int_equal(metrics_histogram_count(s.histogram), total);
  assert_true(metrics_histogram_sum(s.histogram) == (double)(total / 4 * (0 + 1 + 2 + 3)));
  for (int i = 0; i < 16; i++) {
    for (int t = 1; t < THREADS; t++) assert_ptr_equal(s.children[t][i], s.children[0][i]);
    assert_int_equal(metrics_counter_value(s.children[0][i]), THREADS * 64);
  }
  buf_t b = {0};
  char *text = expose(s.registry, &b);
  assert_non_null(strstr(text, "h_bucket{le=\"0.5\"} 200000\n"
                               "h_bucket{le=\"1.5\"} 400000\n"
                               "h_bucket{le=\"2.5\"} 600000\n"
                               "h_bucket{le=\"+Inf\"} 800000\n"
                               "h_sum 1200000\n"
                               "h_count 800000\n"));
  buf_free(&b);
  metrics_registry_free(s.registry);
}

/* ---- hot-path cost ---- */

#define BENCH_OPS 5000000

typedef struct bench_arg {
  metrics_counter_t *counter;
  metrics_histogram_t *histogram;
  int histogram_mode;
} bench_arg_t;

static void *bench_main(void *arg) {
  bench_arg_t *a = arg;
  if (a->histogram_mode) {
    for (int i = 0; i < BENCH_OPS; i++) metrics_histogram_observe(a->histogram, (double)(i & 1023) * 1e-5);
  } else {
    for (int i = 0; i < BENCH_OPS; i++) metrics_counter_inc(a->counter);
  }
  return NULL;
}

static double bench_ns_per_op(bench_arg_t *arg, int threads) {
  pthread_t t[2];
  uint64_t start = metrics_now_ns();
  for (int i = 0; i < threads; i++) assert_int_equal(pthread_create(&t[i], NULL, bench_main, arg), 0);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  return (double)(metrics_now_ns() - start) / BENCH_OPS; /* per op, per thread */
}

static void test_hot_path_cost(void **state) {
  (void)state;
  metrics_registry_t *r = registry_new();
  metrics_storage_t m;
  assert_int_equal(metrics_storage_register(r, &m), 0);
  bench_arg_t counter = {.counter = m.read_bytes};
  bench_arg_t histogram = {.histogram = m.duration[METRICS_STORAGE_GET], .histogram_mode = 1};
  double c1 = bench_ns_per_op(&counter, 1), c2 = bench_ns_per_op(&counter, 2);
  double h1 = bench_ns_per_op(&histogram, 1), h2 = bench_ns_per_op(&histogram, 2);
  uint64_t start = metrics_now_ns();
  for (int i = 0; i < BENCH_OPS; i++) metrics_storage_done(&m, METRICS_STORAGE_GET, metrics_now_ns(), 0, 100);
  double done = (double)(metrics_now_ns() - start) / BENCH_OPS;
  printf("# metrics hot path: counter inc %.1f ns (1 thread), %.1f ns (2 threads, one counter); "
         "histogram observe %.1f ns (1 thread), %.1f ns (2 threads, one histogram); "
         "metrics_storage_done with clock reads %.1f ns\n",
         c1, c2, h1, h2, done);
  assert_int_equal(metrics_counter_value(m.read_bytes), 3ull * BENCH_OPS + 100ull * BENCH_OPS);
  assert_true(c1 < 1000 && h1 < 1000); /* generous: sanitizers and busy machines */
  metrics_registry_free(r);
}

/* ---- storage metrics ---- */

static void test_storage_metrics(void **state) {
  (void)state;
  metrics_registry_t *r = registry_new();
  metrics_storage_t m, again;
  assert_int_equal(metrics_storage_register(r, &m), 0);
  assert_int_equal(metrics_storage_register(r, &again), 0); /* idempotent */
  assert_memory_equal(&m, &again, sizeof m);
  uint64_t start = metrics_now_ns();
  metrics_storage_done(&m, METRICS_STORAGE_PUT, start, 0, 1000);
  metrics_storage_done(&m, METRICS_STORAGE_PUT, start, 1, 1000); /* already present: not written */
  metrics_storage_done(&m, METRICS_STORAGE_PUT, start, -EIO, 0);
  metrics_storage_done(&m, METRICS_STORAGE_GET, start, 0, 300);
  metrics_storage_done(&m, METRICS_STORAGE_GET, start, -ENOENT, 0);
  metrics_storage_done(&m, METRICS_STORAGE_GET, start, -EBADMSG, 0);
  metrics_storage_done(&m, METRICS_STORAGE_SYNC, start, 0, 0);
  metrics_storage_done(NULL, METRICS_STORAGE_SYNC, start, 0, 0);
  metrics_storage_done(&m, METRICS_STORAGE_OPS, start, 0, 0);
  assert_int_equal(metrics_counter_value(m.written_bytes), 1000);
  assert_int_equal(metrics_counter_value(m.read_bytes), 300);
  assert_int_equal(metrics_counter_value(m.cache_hits), 1);
  assert_int_equal(metrics_counter_value(m.cache_misses), 1);
  assert_int_equal(metrics_counter_value(m.errors[METRICS_STORAGE_PUT]), 1);
  assert_int_equal(metrics_counter_value(m.errors[METRICS_STORAGE_GET]), 1);
  assert_int_equal(metrics_histogram_count(m.duration[METRICS_STORAGE_PUT]), 3);
  assert_int_equal(metrics_histogram_count(m.duration[METRICS_STORAGE_GET]), 3);
  assert_int_equal(metrics_histogram_count(m.duration[METRICS_STORAGE_SYNC]), 1);
  assert_int_equal(metrics_histogram_count(m.duration[METRICS_STORAGE_HAS]), 0);
  assert_string_equal(metrics_storage_op_name(METRICS_STORAGE_DELETE), "delete");
  assert_string_equal(metrics_storage_op_name(METRICS_STORAGE_OPS), "?");
  buf_t b = {0};
  char *text = expose(r, &b);
  const char *expected[] = {
      "# TYPE anya_storage_operation_duration_seconds histogram\n",
      "anya_storage_operation_duration_seconds_bucket{operation=\"delete\",le=\"5e-06\"} 0\n",
      "anya_storage_operation_duration_seconds_count{operation=\"put\"} 3\n",
      "anya_storage_operation_errors_total{operation=\"get\"} 1\n",
      "anya_storage_operation_errors_total{operation=\"sync\"} 0\n",
      "# TYPE anya_storage_read_bytes_total counter\nanya_storage_read_bytes_total 300\n",
      "anya_storage_written_bytes_total 1000\n",
      "anya_storage_cache_hits_total 1\n",
      "anya_storage_cache_misses_total 1\n",
      "# TYPE anya_storage_used_bytes gauge\nanya_storage_used_bytes 0\n",
      "anya_storage_blocks 0\n",
      "# TYPE anya_pins gauge\nanya_pins 0\n",
  };
  for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
    if (!strstr(text, expected[i])) fail_msg("missing from the exposition: %s", expected[i]);
  }
  buf_free(&b);
  metrics_registry_free(r);
}

/* ---- the block store reports into the storage metrics ---- */

static void test_block_store_instrumented(void **state) {
  (void)state;
  const metrics_storage_t *m = metrics_storage();
  assert_non_null(m);
  char dir[512];
  assert_int_equal(testdir_make(dir, sizeof dir, "anya-metrics"), 0);
  char store[600];
  snprintf(store, sizeof store, "%s/blocks", dir);
  uint64_t written = metrics_counter_value(m->written_bytes), read = metrics_counter_value(m->read_bytes);
  uint64_t hits = metrics_counter_value(m->cache_hits), misses = metrics_counter_value(m->cache_misses);
  uint64_t count[METRICS_STORAGE_OPS];
  for (int op = 0; op < METRICS_STORAGE_OPS; op++) count[op] = metrics_histogram_count(m->duration[op]);

  bs_t *bs;
  assert_int_equal(bs_open(store, NULL, &bs), 0);
  uint8_t data[100], absent_data[1] = {1};
  memset(data, 7, sizeof data);
  cid_t cid, absent;
  assert_int_equal(cid_make(&cid, 1, CODEC_RAW, MH_SHA2_256, data, sizeof data), 0);
  assert_int_equal(cid_make(&absent, 1, CODEC_RAW, MH_SHA2_256, absent_data, 1), 0);
  assert_int_equal(bs_put(bs, &cid, data, sizeof data), 0);
  assert_int_equal(bs_put(bs, &cid, data, sizeof data), 1); /* duplicate: not written again */
  buf_t b = {0};
  assert_int_equal(bs_get(bs, &cid, &b), 0);
  assert_int_equal(bs_get(bs, &absent, &b), -ENOENT);
  assert_int_equal(bs_has(bs, &cid, NULL), 1);
  assert_int_equal(bs_sync(bs), 0);
  assert_int_equal(bs_delete(bs, &cid), 0);
  bs_stat_t st;
  assert_int_equal(bs_stat(bs, &st), 0);
  assert_int_equal(bs_close(bs), 0);
  buf_free(&b);
  testdir_remove(dir);

  assert_int_equal(metrics_counter_value(m->written_bytes) - written, sizeof data);
  assert_int_equal(metrics_counter_value(m->read_bytes) - read, sizeof data);
  assert_int_equal(metrics_counter_value(m->cache_hits) - hits, 1);
  assert_int_equal(metrics_counter_value(m->cache_misses) - misses, 1);
  assert_int_equal(metrics_histogram_count(m->duration[METRICS_STORAGE_PUT]) - count[METRICS_STORAGE_PUT], 2);
  assert_int_equal(metrics_histogram_count(m->duration[METRICS_STORAGE_GET]) - count[METRICS_STORAGE_GET], 2);
  assert_int_equal(metrics_histogram_count(m->duration[METRICS_STORAGE_HAS]) - count[METRICS_STORAGE_HAS], 1);
  assert_true(metrics_histogram_count(m->duration[METRICS_STORAGE_DELETE]) - count[METRICS_STORAGE_DELETE] >= 1);
  assert_true(metrics_histogram_count(m->duration[METRICS_STORAGE_SYNC]) - count[METRICS_STORAGE_SYNC] >= 1);
  assert_true(metrics_gauge_value(m->used_bytes) > 0);
  assert_true(metrics_gauge_value(m->blocks) == (double)st.blocks);
}

/* The process-wide registry as /metrics will serve it, for promtool. */
static void test_sample_exposition(void **state) {
  (void)state;
  const metrics_storage_t *m = metrics_storage();
  assert_non_null(m);
  assert_ptr_equal(metrics_storage(), m);
  uint64_t start = metrics_now_ns() - 1500000; /* 1.5 ms ago */
  for (int op = 0; op < METRICS_STORAGE_OPS; op++) metrics_storage_done(m, op, start, 0, 4096);
  metrics_storage_done(m, METRICS_STORAGE_GET, start, -ENOENT, 0);
  metrics_storage_done(m, METRICS_STORAGE_DELETE, start, -EIO, 0);
  metrics_gauge_set(m->used_bytes, 123456789);
  metrics_gauge_set(m->blocks, 42);
  metrics_gauge_set(m->pins, 3);
  buf_t b = {0};
  char *text = expose(metrics_default(), &b);
  assert_non_null(strstr(text, "anya_storage_operation_duration_seconds_bucket{operation=\"get\",le=\"0.001\"} "));
  assert_non_null(strstr(text, "anya_storage_operation_duration_seconds_bucket{operation=\"get\",le=\"+Inf\"} "));
  assert_non_null(strstr(text, "\nanya_pins 3\n"));
  const char *path = getenv("ANYA_METRICS_OUT");
  if (path && *path) {
    FILE *f = fopen(path, "w");
    if (!f) fail_msg("cannot write %s", path);
    assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
    assert_int_equal(fclose(f), 0);
  }
  buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_register_rules),
      cmocka_unit_test(test_children),
      cmocka_unit_test(test_values_and_buckets),
      cmocka_unit_test(test_exposition_exact),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_storage_metrics),
      cmocka_unit_test(test_block_store_instrumented),
      cmocka_unit_test(test_sample_exposition),
      cmocka_unit_test(test_hot_path_cost),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
