/*
 * kad_bench: the reprovider on a loopback DHT of real processes.
 *
 *   kad_bench DIR NODES KEYS NAIVE_KEYS
 *
 * Forks NODES-1 DHT server nodes (one process each: a host on
 * 127.0.0.1:0, its store under DIR/n<i>, real TCP between them), joins them
 * into one network, then in this process (also a server) times:
 *   - kad_reprovide of KEYS synthetic multihashes (batched by region: one
 *     lookup per region, each peer all of a region's records on one stream),
 *     until the peers of the last region have stored its last record (asked
 *     with GET_PROVIDERS: a stream is handled in order, so all before it are in);
 *   - kad_provide of NAIVE_KEYS other keys one by one (one lookup per key,
 *     the naive way), extrapolated to KEYS for the ratio.
 * Prints key=value lines: keys, regions, announcements, reprovide_s,
 * reprovide_keys_per_s, naive_keys, naive_s, naive_keys_per_s, ratio,
 * table_size.  Exit 1 on failure (message on stderr).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "kad.h"
#include "kad_internal.h"
#include "multihash.h"

#define NODES_MAX 64
#define JOIN_MS_MAX 30000

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void key_at(uint32_t i, uint8_t mh[34]) {
  char text[32];
  int n = snprintf(text, sizeof text, "bench key %u", i);
  mh[0] = 0x12, mh[1] = 0x20;
  mh_sha256_raw(text, (size_t)n, mh + 2);
}

static uint32_t source_keys;
static int source(void *ctx, kad_key_fn fn, void *fn_ctx) {
  (void)ctx;
  for (uint32_t i = 0; i < source_keys; i++) {
    uint8_t mh[34];
    key_at(i, mh);
    int rc = fn(fn_ctx, mh, sizeof mh);
    if (rc) return rc;
  }
  return 0;
}

typedef struct node {
  p2p_t *host;
  kad_t *kad;
  char addr[MA_TEXT_BYTES_MAX];
} node_t;

static int node_up(const char *dir, uint32_t i, bool with_source, node_t *n) {
  peer_key_t key;
  uint8_t seed[32] = {0};
  memcpy(seed, &i, sizeof i);
  seed[31] = 0x5a;
  int rc = peer_key_from_seed(seed, &key);
  const char *listen[] = {"/ip4/127.0.0.1/tcp/0"};
  p2p_opts_t po = {.key = &key, .listen = listen, .listen_count = 1, .agent_version = "anya-bench", .threads = 1,
                   .connections_high = 200, .announce_private = true};
  if (!rc) rc = p2p_new(&po, &n->host);
  char path[512];
  snprintf(path, sizeof path, "%s/n%u", dir, i);
  kad_opts_t ko = {.host = n->host, .store_path = path, .server = true,
                   .reprovide_source = with_source ? source : NULL};
  if (!rc) rc = kad_new(&ko, &n->kad);
  if (!rc) rc = p2p_start(n->host);
  multiaddr_t bound, full;
  if (!rc && p2p_listen_addrs(n->host, &bound, 1) != 1) rc = -EADDRNOTAVAIL;
  if (!rc) rc = ma_with_peer(&bound, &key.id, &full);
  if (!rc) rc = ma_format(&full, n->addr);
  return rc;
}

static int hash_cmp(const void *a, const void *b) { return memcmp(a, b, KAD_HASH_BYTES); }

static const uint8_t *dist_target;
static int peer_dist_cmp(const void *a, const void *b) {
  uint8_t ha[KAD_HASH_BYTES], hb[KAD_HASH_BYTES];
  kad_hash(((const peer_id_t *)a)->bytes, ((const peer_id_t *)a)->len, ha);
  kad_hash(((const peer_id_t *)b)->bytes, ((const peer_id_t *)b)->len, hb);
  return kad_distance_cmp(dist_target, ha, hb);
}

/* Polls the peers that got the last region (the k closest of our table to
 * its middle key, which is what the region's lookup finds in a network we
 * fully know) until each lists us as a provider of the key written last: a
 * stream is handled in order, so everything before it is stored. */
static int wait_stored(node_t *self, unsigned bits) {
  typedef struct { uint8_t hash[KAD_HASH_BYTES]; uint32_t i; } hk_t;
  hk_t *keys = malloc((size_t)source_keys * sizeof *keys);
  if (!keys || !source_keys) return free(keys), source_keys ? -ENOMEM : 0;
  for (uint32_t i = 0; i < source_keys; i++) {
    uint8_t mh[34];
    key_at(i, mh);
    kad_hash(mh, sizeof mh, keys[i].hash);
    keys[i].i = i;
  }
  qsort(keys, source_keys, sizeof *keys, hash_cmp);
  size_t first = source_keys - 1; /* the last region's first key */
  while (first > 0 && kad_cpl(keys[first - 1].hash, keys[source_keys - 1].hash) >= bits) first--;
  uint8_t target[KAD_HASH_BYTES], last[34];
  memcpy(target, keys[first + (source_keys - first) / 2].hash, KAD_HASH_BYTES);
  key_at(keys[source_keys - 1].i, last);
  free(keys);
  peer_id_t peers[NODES_MAX];
  int n = kad_table_peers(self->kad, peers, NODES_MAX);
  if (n > NODES_MAX) n = NODES_MAX;
  dist_target = target;
  qsort(peers, (size_t)n, sizeof *peers, peer_dist_cmp);
  if (n > KAD_K) n = KAD_K;
  const peer_id_t *me = &p2p_key(self->host)->id;
  kad_msg_t req = {0};
  req.type = KAD_GET_PROVIDERS;
  if (buf_append(&req.key, last, sizeof last)) return -ENOMEM;
  int rc = 0;
  for (int i = 0; i < n && !rc; i++) {
    bool stored = false;
    for (int attempt = 0; attempt < 6000 && !stored; attempt++) { /* 60 s at most */
      kad_msg_t reply;
      if (kad_request(self->kad, &peers[i], &req, &reply, 10000) == 0) {
        for (size_t p = 0; p < reply.provider_count; p++)
          if (peer_id_equal(&reply.providers[p].id, me)) stored = true;
        kad_msg_free(&reply);
      }
      if (!stored) usleep(10000);
    }
    if (!stored) rc = err_set(-ETIMEDOUT, "a peer never stored the last record");
  }
  kad_msg_free(&req);
  return rc;
}

static void node_down(node_t *n) {
  kad_stop(n->kad);
  p2p_free(n->host);
  kad_free(n->kad);
}

static int join(node_t *n, const char *addr) {
  multiaddr_t ma;
  int rc = ma_parse(addr, &ma);
  if (!rc) rc = p2p_connect(n->host, &ma, NULL, 10000);
  for (int i = 0; !rc && i < 1000 && kad_table_size(n->kad) == 0; i++) usleep(10000);
  if (!rc) kad_refresh(n->kad);
  return rc;
}

/* A child: up, address to the parent, the address to join from it, join, then wait for EOF. */
static int child(const char *dir, uint32_t i, int to_parent, int from_parent) {
  node_t n = {0};
  int rc = node_up(dir, i, false, &n);
  if (rc) {
    fprintf(stderr, "node %u: %s\n", i, err_msg(rc));
    return 1;
  }
  dprintf(to_parent, "%s\n", n.addr);
  close(to_parent);
  char line[MA_TEXT_BYTES_MAX];
  FILE *in = fdopen(from_parent, "r");
  if (in && fgets(line, sizeof line, in)) {
    line[strcspn(line, "\n")] = 0;
    if ((rc = join(&n, line))) fprintf(stderr, "node %u: join: %s\n", i, err_msg(rc));
  }
  while (in && fgets(line, sizeof line, in)) { /* until the parent closes */
  }
  node_down(&n);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: kad_bench DIR NODES KEYS NAIVE_KEYS\n");
    return 2;
  }
  const char *dir = argv[1];
  uint32_t nodes = (uint32_t)atoi(argv[2]), naive = (uint32_t)atoi(argv[4]);
  source_keys = (uint32_t)atoi(argv[3]);
  if (nodes < 2 || nodes > NODES_MAX) return fprintf(stderr, "NODES: 2..%d\n", NODES_MAX), 2;
  mkdir(dir, 0755);
  signal(SIGPIPE, SIG_IGN);
  pid_t pids[NODES_MAX];
  int up[NODES_MAX], down[NODES_MAX];
  for (uint32_t i = 1; i < nodes; i++) {
    int a[2], b[2];
    if (pipe(a) || pipe(b)) return perror("pipe"), 1;
    pid_t pid = fork();
    if (pid < 0) return perror("fork"), 1;
    if (pid == 0) {
      for (uint32_t j = 1; j < i; j++) close(up[j]), close(down[j]);
      close(a[0]), close(b[1]);
      _exit(child(dir, i, a[1], b[0]));
    }
    close(a[1]), close(b[0]);
    pids[i] = pid, up[i] = a[0], down[i] = b[1];
  }
  char addrs[NODES_MAX][MA_TEXT_BYTES_MAX];
  int rc = 0;
  for (uint32_t i = 1; i < nodes && !rc; i++) {
    FILE *f = fdopen(up[i], "r");
    if (!f || !fgets(addrs[i], sizeof addrs[i], f)) {
      fprintf(stderr, "node %u did not start\n", i);
      rc = -EIO;
    } else {
      addrs[i][strcspn(addrs[i], "\n")] = 0;
    }
  }
  node_t self = {0};
  if (!rc && (rc = node_up(dir, 0, true, &self))) fprintf(stderr, "node 0: %s\n", err_msg(rc));
  /* everyone joins through node 1 (node 1 through node 2), one after the other's refresh */
  for (uint32_t i = 1; i < nodes && !rc; i++) dprintf(down[i], "%s\n", addrs[i == 1 ? 2 % nodes : 1]);
  if (!rc && (rc = join(&self, addrs[1]))) fprintf(stderr, "node 0: join: %s\n", err_msg(rc));
  double until = now_s() + JOIN_MS_MAX / 1000.0;
  while (!rc && kad_table_size(self.kad) < nodes - 1 && now_s() < until) {
    usleep(200000);
    kad_refresh(self.kad);
  }
  if (!rc) {
    size_t table = kad_table_size(self.kad);
    kad_reprovide_stat_t st;
    double t0 = now_s();
    rc = kad_reprovide(self.kad, &st);
    if (!rc) rc = wait_stored(&self, st.prefix_bits);
    double t1 = now_s();
    if (rc) fprintf(stderr, "reprovide: %s\n", err_msg(rc));
    double naive_s = 0;
    for (uint32_t i = 0; !rc && i < naive; i++) {
      uint8_t mh[34];
      key_at(source_keys + 1 + i, mh);
      int took = kad_provide(self.kad, mh, sizeof mh, 30000);
      if (took < 0) rc = took, fprintf(stderr, "provide: %s\n", err_msg(took));
    }
    naive_s = now_s() - t1;
    if (!rc) {
      double rs = t1 - t0, naive_rate = naive ? naive / naive_s : 0, rate = source_keys / rs;
      printf("keys=%u regions=%llu announcements=%llu prefix_bits=%u reprovide_s=%.2f reprovide_keys_per_s=%.0f "
             "naive_keys=%u naive_s=%.2f naive_keys_per_s=%.1f ratio=%.0f table_size=%zu nodes=%u\n",
             source_keys, (unsigned long long)st.regions, (unsigned long long)st.announcements, st.prefix_bits, rs,
             rate, naive, naive_s, naive_rate, naive_rate > 0 ? rate / naive_rate : 0, table, nodes);
    }
  }
  for (uint32_t i = 1; i < nodes; i++) close(down[i]);
  if (self.host) node_down(&self);
  for (uint32_t i = 1; i < nodes; i++) waitpid(pids[i], NULL, 0);
  return rc ? 1 : 0;
}
