/*
 * p2p_stream_bench: Noise + Yamux stream throughput between two libp2p hosts
 * (net/p2p.h) in one process over loopback TCP.  Host A opens a stream to
 * B's sink protocol and writes MIB MiB in 1 MiB writes; B's handler reads
 * and discards, then answers one byte after the writer's FIN.  The time is
 * from the first write to that byte.  Each host runs one event loop, so the
 * sender's encryption and the receiver's decryption run on their own cores.
 *   p2p_stream_bench [MIB] [RUNS]     (256, 3)
 * Prints: "mib=N runs=R best_mb_per_s=X median_mb_per_s=Y".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "p2p.h"

#define SINK "/anya/bench/sink/1.0.0"
#define CHUNK_BYTES (1024u * 1024u)

static void sink(p2p_stream_t *s, void *ctx) {
  (void)ctx;
  uint8_t *buf = malloc(CHUNK_BYTES);
  for (;;) {
    ssize_t n = buf ? p2p_stream_read(s, buf, CHUNK_BYTES, 30000) : -ENOMEM;
    if (n <= 0) break;
  }
  (void)p2p_stream_write(s, "k", 1, 10000);
  (void)p2p_stream_close_write(s);
  free(buf);
  p2p_stream_free(s);
}

static p2p_t *host(uint8_t seed_byte, peer_key_t *key) {
  uint8_t seed[PEER_ED25519_BYTES];
  memset(seed, seed_byte, sizeof seed);
  if (peer_key_from_seed(seed, key)) return NULL;
  const char *listen[] = {"/ip4/127.0.0.1/tcp/0"};
  p2p_opts_t o = {.key = key, .listen = listen, .listen_count = 1, .agent_version = "anya-bench",
                  .threads = 1, .announce_private = true};
  p2p_t *p = NULL;
  int rc = p2p_new(&o, &p);
  if (!rc) rc = p2p_handle(p, SINK, sink, NULL);
  if (!rc) rc = p2p_start(p);
  if (rc) {
    fprintf(stderr, "p2p_stream_bench: host: %s\n", err_msg(rc));
    p2p_free(p);
    return NULL;
  }
  return p;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  unsigned mib = argc > 1 ? (unsigned)atoi(argv[1]) : 256;
  unsigned runs = argc > 2 ? (unsigned)atoi(argv[2]) : 3;
  if (mib == 0 || mib > 65536 || runs == 0 || runs > 100) {
    fprintf(stderr, "usage: p2p_stream_bench [MIB 1..65536] [RUNS 1..100]\n");
    return 2;
  }
  peer_key_t ka, kb;
  p2p_t *a = host(1, &ka), *b = host(2, &kb);
  if (!a || !b) return 1;
  multiaddr_t addr, full;
  p2p_listen_addrs(b, &addr, 1);
  if (ma_with_peer(&addr, &kb.id, &full) || p2p_connect(a, &full, NULL, 10000)) {
    fprintf(stderr, "p2p_stream_bench: connect: %s\n", err_msg(-EIO));
    return 1;
  }
  uint8_t *buf = malloc(CHUNK_BYTES);
  for (size_t i = 0; i < CHUNK_BYTES; i++) buf[i] = (uint8_t)(i * 131u + 7u);
  double *mbps = calloc(runs, sizeof *mbps);
  int rc = 0;
  for (unsigned r = 0; r < runs && !rc; r++) {
    const char *protos[] = {SINK};
    p2p_stream_t *s = NULL;
    rc = p2p_stream_open(a, &kb.id, protos, 1, 10000, &s);
    double t0 = now_s();
    for (unsigned i = 0; i < mib && !rc; i++) rc = p2p_stream_write(s, buf, CHUNK_BYTES, 30000);
    if (!rc) rc = p2p_stream_close_write(s);
    uint8_t k = 0;
    if (!rc && p2p_stream_read(s, &k, 1, 30000) != 1) rc = -EIO;
    double t1 = now_s();
    if (rc) fprintf(stderr, "p2p_stream_bench: run %u: %s\n", r, err_msg(rc));
    mbps[r] = (double)mib * CHUNK_BYTES / (t1 - t0) / 1e6;
    p2p_stream_free(s);
  }
  if (!rc) {
    qsort(mbps, runs, sizeof *mbps, cmp_double);
    printf("mib=%u runs=%u best_mb_per_s=%.0f median_mb_per_s=%.0f\n", mib, runs, mbps[runs - 1],
           mbps[(runs - 1) / 2]);
  }
  free(mbps);
  free(buf);
  p2p_free(a);
  p2p_free(b);
  return rc ? 1 : 0;
}
