/*
 * ipns over the DHT: the republisher thread (over a routing store of the
 * test's own: nothing before a publish, the same record while it has
 * validity to spare, a re-signed one with the next sequence when it runs
 * low, a prompt stop) and publish/resolve through kad (three hosts on
 * loopback with the IPNS validator: a name published on one resolves on a
 * node that never dialed it, a higher sequence wins, a tampered or a
 * lower-sequence record is refused by PUT_VALUE).
 */
#include <setjmp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "ipns.h"
#include "ipns.pb-c.h"
#include "kad.h"
#include "testdir.h"

#define HOUR_MS (3600ll * 1000)
#define WAIT_MS_MAX 20000 /* a polled condition gives up after this */
#define DHT_TIMEOUT_MS 10000u

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

static void key_from_byte(uint8_t b, peer_key_t *key) {
  uint8_t seed[PEER_ED25519_BYTES];
  memset(seed, b, sizeof seed);
  assert_int_equal(peer_key_from_seed(seed, key), 0);
}

/* ---- the republisher over a store of our own -------------------------------------- */

/* One key's last value; puts come from the republisher thread. */
typedef struct store {
  pthread_mutex_t lock;
  buf_t value;
  int puts;
} store_t;

static int store_put(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len,
                     uint32_t timeout_ms) {
  (void)key, (void)key_len, (void)timeout_ms;
  store_t *s = ctx;
  pthread_mutex_lock(&s->lock);
  buf_reset(&s->value);
  int rc = buf_append(&s->value, value, value_len);
  s->puts++;
  pthread_mutex_unlock(&s->lock);
  return rc ? rc : 1;
}

static int store_get(void *ctx, const uint8_t *key, size_t key_len, buf_t *out, uint32_t timeout_ms) {
  (void)ctx, (void)key, (void)key_len, (void)out, (void)timeout_ms;
  return -ENOENT;
}

/* The store's record, validated at now_ms, and how many puts it has seen. */
static int store_entry(store_t *s, const peer_id_t *name, int64_t now_ms, ipns_entry_t *e) {
  pthread_mutex_lock(&s->lock);
  int puts = s->puts;
  if (puts) assert_int_equal(ipns_record_validate(name, s->value.data, s->value.len, now_ms, e), 0);
  pthread_mutex_unlock(&s->lock);
  return puts;
}

static _Atomic int64_t clock_ms = 1767225600000ll; /* 2026-01-01T00:00:00Z; the thread reads it */
static int64_t test_clock(void) { return atomic_load(&clock_ms); }

/* Polls until the republisher has made more than `after` passes (bounded). */
static uint64_t wait_passes(ipns_t *n, uint64_t after) {
  uint64_t until = mono_ms() + WAIT_MS_MAX;
  while (ipns_republish_passes(n) <= after && mono_ms() < until) sleep_ms(2);
  uint64_t passes = ipns_republish_passes(n);
  assert_true(passes > after);
  return passes;
}

static void test_republisher(void **state) {
  (void)state;
  char dir[256];
  assert_int_equal(testdir_make(dir, sizeof dir, "ipns-repub"), 0);
  peer_key_t self;
  key_from_byte(7, &self);
  store_t store = {.lock = PTHREAD_MUTEX_INITIALIZER};
  ipns_routing_t routing = {store_put, store_get, &store};
  ipns_opts_t opts = {.routing = &routing, .key = &self, .repo_path = dir, .now_ms = test_clock,
                      .republish_interval_ms = 5};
  ipns_t *n;
  assert_int_equal(ipns_new(&opts, &n), 0);
  /* never published: passes put nothing */
  uint64_t passes = wait_passes(n, 1);
  assert_int_equal(store_entry(&store, &self.id, test_clock(), NULL), 0);
  ipns_entry_t first, e;
  assert_int_equal(ipns_publish(n, "/ipfs/bafkqaaa", 0, 0, 10, &first), 1);
  assert_int_equal(first.sequence, 0);
  /* published: each pass puts the same record again (plenty of validity left) */
  int puts = store_entry(&store, &self.id, test_clock(), &e);
  passes = wait_passes(n, passes + 1);
  assert_true(store_entry(&store, &self.id, test_clock(), &e) >= puts + 1);
  assert_int_equal(e.sequence, 0);
  assert_int_equal(e.validity_ms, first.validity_ms);
  /* 25 h later less than a day is left: the next pass re-signs (sequence 1,
   * a new 48 h from now) and puts that */
  atomic_fetch_add(&clock_ms, 25 * HOUR_MS);
  passes = wait_passes(n, passes + 1);
  store_entry(&store, &self.id, test_clock(), &e);
  assert_int_equal(e.sequence, 1);
  assert_string_equal(e.value, "/ipfs/bafkqaaa");
  assert_int_equal(e.validity_ms, test_clock() + (int64_t)IPNS_LIFETIME_MS_DEFAULT);
  /* and the local record moved with it: a publish goes on from there */
  wait_passes(n, passes);
  assert_int_equal(ipns_publish(n, "/ipfs/bafkqaalb", 0, 0, 10, &e), 1);
  assert_int_equal(e.sequence, 2);
  ipns_free(n);

  /* a 4 h interval: ipns_free wakes the waiting thread (this would hang otherwise) */
  opts.republish_interval_ms = IPNS_REPUBLISH_INTERVAL_MS;
  assert_int_equal(ipns_new(&opts, &n), 0);
  assert_int_equal(ipns_republish_passes(n), 0);
  ipns_free(n);
  /* no routing: no thread even when asked */
  opts.routing = NULL;
  opts.republish_interval_ms = 1;
  assert_int_equal(ipns_new(&opts, &n), 0);
  sleep_ms(20);
  assert_int_equal(ipns_republish_passes(n), 0);
  ipns_free(n);
  buf_free(&store.value);
  testdir_remove(dir);
}

/* ---- ipns over kad on loopback ---------------------------------------------------- */

#define NODES 3

typedef struct node {
  p2p_t *host;
  kad_t *kad;
  ipns_t *ipns;
  peer_key_t key;
  multiaddr_t addr; /* with /p2p/ */
} node_t;

static void node_up(node_t *n, uint8_t i, const char *dir) {
  key_from_byte((uint8_t)(0x40 + i), &n->key);
  const char *listen[] = {"/ip4/127.0.0.1/tcp/0"};
  p2p_opts_t po = {.key = &n->key, .listen = listen, .listen_count = 1, .agent_version = "anya-test",
                   .threads = 1, .connections_high = 100, .announce_private = true};
  assert_int_equal(p2p_new(&po, &n->host), 0);
  char path[512];
  snprintf(path, sizeof path, "%s/dht%u", dir, i);
  kad_opts_t ko = {.host = n->host, .store_path = path, .server = true};
  assert_int_equal(kad_new(&ko, &n->kad), 0);
  assert_int_equal(kad_add_validator(n->kad, &ipns_kad_validator), 0);
  assert_int_equal(p2p_start(n->host), 0);
  multiaddr_t bound;
  assert_int_equal(p2p_listen_addrs(n->host, &bound, 1), 1);
  assert_int_equal(ma_with_peer(&bound, &n->key.id, &n->addr), 0);
  snprintf(path, sizeof path, "%s/repo%u", dir, i);
  assert_int_equal(mkdir(path, 0700), 0);
  ipns_routing_t r = ipns_kad_routing(n->kad);
  ipns_opts_t io = {.routing = &r, .key = &n->key, .repo_path = path};
  assert_int_equal(ipns_new(&io, &n->ipns), 0);
}

static void node_down(node_t *n) {
  kad_stop(n->kad);
  ipns_free(n->ipns);
  p2p_free(n->host);
  kad_free(n->kad);
}

static void wait_table(node_t *n, size_t want) {
  uint64_t until = mono_ms() + WAIT_MS_MAX;
  while (kad_table_size(n->kad) < want && mono_ms() < until) sleep_ms(10);
  assert_true(kad_table_size(n->kad) >= want);
}

static void flip_signature(P2p__IpnsEntry *e) {
  assert_true(e->has_signaturev2 && e->signaturev2.len > 0);
  e->signaturev2.data[0] ^= 1;
}

static void test_over_kad(void **state) {
  (void)state;
  char dir[256];
  assert_int_equal(testdir_make(dir, sizeof dir, "ipns-kad"), 0);
  node_t nodes[NODES];
  memset(nodes, 0, sizeof nodes);
  for (uint8_t i = 0; i < NODES; i++) node_up(&nodes[i], i, dir);
  /* a line: 0 - 1 - 2; the resolver (2) never dials the publisher (0) itself */
  assert_int_equal(p2p_connect(nodes[0].host, &nodes[1].addr, NULL, 5000), 0);
  assert_int_equal(p2p_connect(nodes[2].host, &nodes[1].addr, NULL, 5000), 0);
  wait_table(&nodes[0], 1), wait_table(&nodes[2], 1), wait_table(&nodes[1], 2);
  node_t *pub = &nodes[0], *res = &nodes[2];
  char name[PEER_ID_TEXT_BYTES_MAX], path[IPNS_PATH_BYTES_MAX];
  ipns_self_name(pub->ipns, name);
  assert_int_equal(ipns_resolve(res->ipns, name, 2000, path), -ENOENT);

  /* TTL 1 ns: never cached, so each resolve asks the DHT */
  ipns_entry_t e;
  assert_true(ipns_publish(pub->ipns, "/ipfs/bafkqaaa", 0, 1, DHT_TIMEOUT_MS, &e) >= 1);
  assert_int_equal(ipns_resolve(res->ipns, name, DHT_TIMEOUT_MS, path), 0);
  assert_string_equal(path, "/ipfs/bafkqaaa");
  /* the next sequence wins */
  assert_true(ipns_publish(pub->ipns, "/ipfs/bafkqaalb", 0, 1, DHT_TIMEOUT_MS, &e) >= 1);
  assert_int_equal(e.sequence, 1);
  assert_int_equal(ipns_resolve(res->ipns, name, DHT_TIMEOUT_MS, path), 0);
  assert_string_equal(path, "/ipfs/bafkqaalb");

  /* the resolver pushes records for the publisher's name itself */
  uint8_t key[6 + PEER_ID_BYTES_MAX];
  size_t key_len = ipns_dht_key(&pub->key.id, key);
  buf_t rec = {0}, bad = {0};
  /* tampered: the local validator refuses it before anything is sent, and so do the peers */
  assert_int_equal(ipns_record_create(&pub->key, "/ipfs/bafkqaalc", 9, ipns_now_ms() + 10 * HOUR_MS, 1, &rec), 0);
  P2p__IpnsEntry *pb = p2p__ipns_entry__unpack(NULL, rec.len, rec.data);
  assert_non_null(pb);
  flip_signature(pb);
  assert_int_equal(buf_reserve(&bad, p2p__ipns_entry__get_packed_size(pb)), 0);
  bad.len = p2p__ipns_entry__pack(pb, bad.data);
  p2p__ipns_entry__free_unpacked(pb, NULL);
  assert_true(kad_put_value(res->kad, key, key_len, bad.data, bad.len, DHT_TIMEOUT_MS) < 0);
  /* a record signed by another key for this name: refused */
  buf_reset(&rec);
  assert_int_equal(ipns_record_create(&res->key, "/ipfs/bafkqaalc", 9, ipns_now_ms() + 10 * HOUR_MS, 1, &rec), 0);
  assert_true(kad_put_value(res->kad, key, key_len, rec.data, rec.len, DHT_TIMEOUT_MS) < 0);
  /* a valid but older record (sequence 0): the holders keep sequence 1 */
  buf_reset(&rec);
  assert_int_equal(ipns_record_create(&pub->key, "/ipfs/bafkqaalc", 0, ipns_now_ms() + 10 * HOUR_MS, 1, &rec), 0);
  assert_true(kad_put_value(res->kad, key, key_len, rec.data, rec.len, DHT_TIMEOUT_MS) >= 0);
  assert_int_equal(ipns_resolve(res->ipns, name, DHT_TIMEOUT_MS, path), 0);
  assert_string_equal(path, "/ipfs/bafkqaalb");
  /* republish puts sequence 1 again: still the answer */
  assert_true(ipns_republish(pub->ipns, DHT_TIMEOUT_MS) >= 1);
  assert_int_equal(ipns_resolve(nodes[1].ipns, name, DHT_TIMEOUT_MS, path), 0);
  assert_string_equal(path, "/ipfs/bafkqaalb");
  buf_free(&rec);
  buf_free(&bad);
  for (int i = 0; i < NODES; i++) node_down(&nodes[i]);
  testdir_remove(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_republisher),
      cmocka_unit_test(test_over_kad),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
