/*
 * gc_bench: garbage collection over N small blocks, half of them garbage,
 * with a concurrent reader (tests/bench/run parses its last line).
 *
 *   gc_bench DIR [N]     (N defaults to 1000000; DIR must not exist yet)
 *   GC_BENCH_YIELD=0     the GC without gc_options.yield_cpu (for comparison)
 *
 * Puts N raw blocks of 1 KiB (pseudo-random bytes); the even ones are live:
 * linked from dag-pb nodes of up to 1000 links, grouped under 4 dag-pb roots
 * pinned recursively (pins.h); the odd ones are unreferenced.  Then:
 *   1. a reader thread does bs_get of random live leaves in a loop for the
 *      baseline duration (no GC): its latencies are the reference;
 *   2. gc_run (roots from pins_reachable, compaction on, as `anya repo gc`)
 *      while the same reader runs; its latencies during the GC.
 * Prints one line:
 *   gc_bench blocks=N live=L swept=S gc_ms=T mark_ms= sweep_ms= compact_ms=
 *     base_reads= base_p99_us= gc_reads= gc_p99_us= base_p50_us= gc_p50_us=
 * Bounded: at most SAMPLES_MAX latencies are kept per phase, the baseline
 * lasts BASE_MS, the GC ends on its own.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bs.h"
#include "buf.h"
#include "cid.h"
#include "dagpb.h"
#include "err.h"
#include "gc.h"
#include "pins.h"

#define BLOCK_BYTES 1024
#define FANOUT 1000
#define ROOTS 4
#define SAMPLES_MAX (8u * 1000 * 1000)
#define BASE_MS 5000

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

typedef struct reader {
  bs_t *bs;
  const cid_t *live;
  size_t live_len;
  atomic_bool stop;
  uint32_t *lat_us; /* SAMPLES_MAX */
  size_t n;
  uint64_t errors;
} reader_t;

static void *reader_main(void *arg) {
  reader_t *r = arg;
  buf_t b = {0};
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  r->n = 0;
  r->errors = 0;
  while (!atomic_load(&r->stop) && r->n < SAMPLES_MAX) {
    const cid_t *c = &r->live[xorshift(&seed) % r->live_len];
    uint64_t t0 = now_ns();
    int rc = bs_get(r->bs, c, &b);
    uint64_t t1 = now_ns();
    if (rc) r->errors++;
    uint64_t us = (t1 - t0) / 1000;
    r->lat_us[r->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
  }
  buf_free(&b);
  return NULL;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static uint32_t pct(uint32_t *v, size_t n, double p) {
  if (!n) return 0;
  qsort(v, n, sizeof *v, cmp_u32);
  size_t i = (size_t)(p * (double)(n - 1));
  return v[i];
}

static int pins_roots(void *ctx, gc_marker_t *m) { return pins_reachable(ctx, gc_mark_block, m); }

static int die(const char *what, int rc) {
  fprintf(stderr, "gc_bench: %s: %s (%s)\n", what, strerror(-rc), err_msg(rc));
  return 1;
}

/* Encodes a dag-pb node linking links[0..n) and puts it; *out its CIDv1. */
static int put_node(bs_t *bs, const cid_t *links, size_t n, uint64_t child_tsize, cid_t *out) {
  dagpb_link_t *l = calloc(n, sizeof *l);
  if (!l) return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    l[i].cid = links[i];
    l[i].tsize = child_tsize;
    l[i].has_tsize = true;
  }
  dagpb_node_t node = {.links = l, .links_len = n};
  buf_t b = {0};
  int rc = dagpb_encode(&node, &b);
  if (!rc) rc = cid_make(out, 1, CODEC_DAG_PB, MH_SHA2_256, b.data, b.len);
  if (!rc) {
    rc = bs_put(bs, out, b.data, b.len);
    if (rc > 0) rc = 0;
  }
  buf_free(&b);
  free(l);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: gc_bench DIR [BLOCKS]\n");
    return 2;
  }
  const char *dir = argv[1];
  size_t nblocks = argc == 3 ? strtoull(argv[2], NULL, 10) : 1000000;
  if (nblocks < 2 || nblocks > 100000000) {
    fprintf(stderr, "gc_bench: BLOCKS must be 2..100000000\n");
    return 2;
  }
  if (mkdir(dir, 0755)) {
    perror(dir);
    return 1;
  }
  char path[4096];
  bs_options_t bo;
  bs_options_default(&bo);
  snprintf(path, sizeof path, "%s/blocks", dir);
  bs_t *bs;
  int rc = bs_open(path, &bo, &bs);
  if (rc) return die("bs_open", rc);
  pins_blocks_t pb = pins_blocks_bs(bs);
  snprintf(path, sizeof path, "%s/pins", dir);
  pins_t *pins;
  rc = pins_open(path, &pb, &pins);
  if (rc) return die("pins_open", rc);

  size_t live_len = (nblocks + 1) / 2;
  cid_t *live = calloc(live_len, sizeof *live);
  uint32_t *lat = malloc(SAMPLES_MAX * sizeof *lat);
  if (!live || !lat) return die("alloc", -ENOMEM);

  /* The blocks. */
  uint64_t t_fill = now_ns();
  uint64_t seed = 0x0123456789abcdefull;
  uint64_t data[BLOCK_BYTES / 8];
  for (size_t i = 0; i < nblocks; i++) {
    for (size_t w = 0; w < BLOCK_BYTES / 8; w++) data[w] = xorshift(&seed);
    cid_t c;
    rc = cid_make(&c, 1, CODEC_RAW, MH_SHA2_256, data, sizeof data);
    if (!rc) rc = bs_put(bs, &c, data, sizeof data);
    if (rc < 0) return die("bs_put", rc);
    if (i % 2 == 0) live[i / 2] = c;
  }
  /* Live leaves under dag-pb nodes, the nodes under ROOTS roots. */
  size_t nodes_len = (live_len + FANOUT - 1) / FANOUT;
  cid_t *nodes = calloc(nodes_len, sizeof *nodes);
  if (!nodes) return die("alloc", -ENOMEM);
  for (size_t k = 0; k < nodes_len; k++) {
    size_t first = k * FANOUT, n = live_len - first < FANOUT ? live_len - first : FANOUT;
    rc = put_node(bs, live + first, n, BLOCK_BYTES, &nodes[k]);
    if (rc) return die("node", rc);
  }
  size_t per_root = (nodes_len + ROOTS - 1) / ROOTS;
  cid_t roots[ROOTS];
  size_t roots_len = 0;
  for (size_t first = 0; first < nodes_len; first += per_root) {
    size_t n = nodes_len - first < per_root ? nodes_len - first : per_root;
    if (n > FANOUT * 60) return die("too many nodes for one root", -E2BIG);
    rc = put_node(bs, nodes + first, n, (uint64_t)FANOUT * BLOCK_BYTES, &roots[roots_len]);
    if (rc) return die("root", rc);
    roots_len++;
  }
  rc = bs_sync(bs);
  if (rc) return die("bs_sync", rc);
  for (size_t k = 0; k < roots_len; k++) {
    rc = pins_add(pins, &roots[k], true, "gc_bench", 0);
    if (rc) return die("pins_add", rc);
  }
  uint64_t fill_ms = (now_ns() - t_fill) / 1000000;
  fprintf(stderr, "gc_bench: %zu blocks, %zu nodes, %zu roots pinned in %llu ms\n", nblocks,
          nodes_len, roots_len, (unsigned long long)fill_ms);

  reader_t r = {.bs = bs, .live = live, .live_len = live_len, .lat_us = lat};
  pthread_t th;

  /* 1. Baseline: the reader alone. */
  atomic_store(&r.stop, false);
  if (pthread_create(&th, NULL, reader_main, &r)) return die("pthread_create", -EAGAIN);
  struct timespec base = {.tv_sec = BASE_MS / 1000, .tv_nsec = (BASE_MS % 1000) * 1000000L};
  nanosleep(&base, NULL);
  atomic_store(&r.stop, true);
  pthread_join(th, NULL);
  size_t base_n = r.n;
  uint64_t base_err = r.errors;
  uint32_t base_p50 = pct(lat, base_n, 0.50), base_p99 = pct(lat, base_n, 0.99);

  /* 2. GC with the reader. */
  gc_t *gc;
  rc = gc_new(bs, &gc);
  if (rc) return die("gc_new", rc);
  rc = gc_add_root_provider(gc, pins_roots, pins);
  if (rc) return die("gc_add_root_provider", rc);
  gc_options_t go;
  gc_options_default(&go);
  go.require_providers = true;
  const char *yield_env = getenv("GC_BENCH_YIELD"); /* 0: the GC does not yield the CPU */
  if (yield_env && strcmp(yield_env, "0") == 0) go.yield_cpu = go.compact_options.yield_cpu = false;
  gc_result_t res;
  atomic_store(&r.stop, false);
  if (pthread_create(&th, NULL, reader_main, &r)) return die("pthread_create", -EAGAIN);
  uint64_t t0 = now_ns();
  rc = gc_run(gc, &go, &res);
  uint64_t gc_ms = (now_ns() - t0) / 1000000;
  atomic_store(&r.stop, true);
  pthread_join(th, NULL);
  if (rc) return die("gc_run", rc);
  gc_free(gc);
  size_t gc_n = r.n;
  uint32_t gc_p50 = pct(lat, gc_n, 0.50), gc_p99 = pct(lat, gc_n, 0.99);
  if (base_err || r.errors) {
    fprintf(stderr, "gc_bench: reader errors: %llu baseline, %llu during gc\n",
            (unsigned long long)base_err, (unsigned long long)r.errors);
    return 1;
  }
  bool ok = res.swept == nblocks / 2;
  printf("gc_bench blocks=%zu live=%llu swept=%llu gc_ms=%llu mark_ms=%llu sweep_ms=%llu "
         "compact_ms=%llu freed_bytes=%llu base_reads=%zu base_p50_us=%u base_p99_us=%u "
         "gc_reads=%zu gc_p50_us=%u gc_p99_us=%u fill_ms=%llu\n",
         nblocks, (unsigned long long)res.marked, (unsigned long long)res.swept,
         (unsigned long long)gc_ms, (unsigned long long)res.mark_ms,
         (unsigned long long)res.sweep_ms, (unsigned long long)res.compact_ms,
         (unsigned long long)res.compact.bytes_freed, base_n, base_p50, base_p99, gc_n, gc_p50,
         gc_p99, (unsigned long long)fill_ms);
  if (!ok) fprintf(stderr, "gc_bench: swept %llu, expected %zu\n", (unsigned long long)res.swept, nblocks / 2);
  pins_close(pins);
  rc = bs_close(bs);
  free(nodes);
  free(live);
  free(lat);
  if (rc) return die("bs_close", rc);
  return ok ? 0 : 1;
}
