/*
 * kad: the message codec (round trips, limits, bad input), the routing table
 * (insertion, replacement of stale peers, closest ordering against a
 * brute-force sort), the store (providers by prefix, values, expiry and the
 * sweep), the reprovider's regions, and a DHT of hosts on loopback in one
 * process (provide on one, find on another that never dialed it; put/get a
 * value with a test validator; FIND_NODE).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "kad.h"
#include "kad.pb-c.h"
#include "kad_internal.h"
#include "multihash.h"
#include "testdir.h"

/* A peer ID from a number: an identity multihash of a fake Ed25519 PublicKey pb. */
static peer_id_t test_peer(uint32_t n) {
  uint8_t mh[38] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
  testdir_fill(mh + 6, 32, n);
  peer_id_t id;
  assert_int_equal(peer_id_from_bytes(mh, sizeof mh, &id), 0);
  return id;
}

static multiaddr_t test_addr(uint16_t port) {
  char text[64];
  snprintf(text, sizeof text, "/ip4/127.0.0.1/tcp/%u", port);
  multiaddr_t ma;
  assert_int_equal(ma_parse(text, &ma), 0);
  return ma;
}

/* ---- codec ---- */

static void test_codec_roundtrip(void **state) {
  (void)state;
  kad_msg_t m = {0};
  m.type = KAD_GET_PROVIDERS;
  m.cluster_level = 3;
  assert_int_equal(buf_append(&m.key, "\x12\x20" "0123456789abcdef0123456789abcdef", 34), 0);
  m.has_record = true;
  assert_int_equal(buf_append(&m.record_key, "/pk/x", 5), 0);
  assert_int_equal(buf_append(&m.record_value, "value", 5), 0);
  strcpy(m.time_received, "2026-11-26T00:00:00Z");
  multiaddr_t addrs[2] = {test_addr(4001), test_addr(4002)};
  for (uint32_t i = 0; i < 5; i++) {
    peer_id_t id = test_peer(i);
    assert_int_equal(kad_msg_add_peer(&m, false, &id, addrs, i % 3, (uint8_t)(i % 4)), 0);
  }
  peer_id_t prov = test_peer(99);
  assert_int_equal(kad_msg_add_peer(&m, true, &prov, addrs, 2, 1), 0);
  buf_t wire = {0};
  assert_int_equal(kad_msg_encode(&m, &wire), 0);

  kad_msg_t d;
  assert_int_equal(kad_msg_decode(wire.data, wire.len, &d), 0);
  assert_int_equal(d.type, KAD_GET_PROVIDERS);
  assert_int_equal(d.cluster_level, 3);
  assert_int_equal(d.key.len, 34);
  assert_memory_equal(d.key.data, m.key.data, 34);
  assert_true(d.has_record);
  assert_int_equal(d.record_value.len, 5);
  assert_memory_equal(d.record_value.data, "value", 5);
  assert_string_equal(d.time_received, "2026-11-26T00:00:00Z");
  assert_int_equal(d.closer_count, 5);
  for (uint32_t i = 0; i < 5; i++) {
    peer_id_t id = test_peer(i);
    assert_true(peer_id_equal(&d.closer[i].id, &id));
    assert_int_equal(d.closer[i].addr_count, i % 3);
    assert_int_equal(d.closer[i].connection, i % 4);
    for (size_t a = 0; a < d.closer[i].addr_count; a++) assert_true(ma_equal(&d.closer[i].addrs[a], &addrs[a]));
  }
  assert_int_equal(d.provider_count, 1);
  assert_true(peer_id_equal(&d.providers[0].id, &prov));
  /* encoding the decoded message gives the same bytes */
  buf_t again = {0};
  assert_int_equal(kad_msg_encode(&d, &again), 0);
  assert_int_equal(again.len, wire.len);
  assert_memory_equal(again.data, wire.data, wire.len);
  kad_msg_free(&d);
  kad_msg_free(&m);
  buf_free(&wire);
  buf_free(&again);
}

/* A wire message built with the generated code directly (as a foreign peer would). */
static void pack(P2p__KadMessage *pb, buf_t *out) {
  buf_reset(out);
  size_t n = p2p__kad_message__get_packed_size(pb);
  assert_int_equal(buf_reserve(out, n), 0);
  out->len = p2p__kad_message__pack(pb, out->data);
}

static void test_codec_limits(void **state) {
  (void)state;
  kad_msg_t d;
  buf_t wire = {0};
  /* garbage */
  assert_int_equal(kad_msg_decode((const uint8_t *)"\xff\xff\xff", 3, &d), -EBADMSG);
  /* too long */
  uint8_t *big = calloc(1, KAD_MSG_BYTES_MAX + 1);
  assert_int_equal(kad_msg_decode(big, KAD_MSG_BYTES_MAX + 1, &d), -EBADMSG);
  free(big);
  /* unknown type */
  P2p__KadMessage pb = P2P__KAD_MESSAGE__INIT;
  pb.type = 9;
  pack(&pb, &wire);
  assert_int_equal(kad_msg_decode(wire.data, wire.len, &d), -EBADMSG);
  /* key past the limit */
  pb.type = P2P__KAD_MESSAGE__MESSAGE_TYPE__FIND_NODE;
  uint8_t key[KAD_KEY_BYTES_MAX + 1] = {0};
  pb.key.data = key;
  pb.key.len = sizeof key;
  pack(&pb, &wire);
  assert_int_equal(kad_msg_decode(wire.data, wire.len, &d), -EBADMSG);
  pb.key.len = KAD_KEY_BYTES_MAX;
  pack(&pb, &wire);
  assert_int_equal(kad_msg_decode(wire.data, wire.len, &d), 0);
  kad_msg_free(&d);
  /* 150 peers, each with 20 addresses of which one is junk and one a bad ID: cut to the maxima */
  size_t n = 150;
  P2p__KadMessage__Peer *peers = calloc(n, sizeof *peers), **ptrs = calloc(n, sizeof *ptrs);
  peer_id_t *ids = calloc(n, sizeof *ids);
  ProtobufCBinaryData addrs[20];
  multiaddr_t ma[20];
  for (int a = 0; a < 20; a++) {
    ma[a] = test_addr((uint16_t)(1000 + a));
    addrs[a].data = ma[a].bytes;
    addrs[a].len = ma[a].len;
  }
  addrs[0].data = (uint8_t *)"\xff\xff";
  addrs[0].len = 2;
  for (size_t i = 0; i < n; i++) {
    p2p__kad_message__peer__init(&peers[i]);
    ids[i] = test_peer((uint32_t)i);
    peers[i].id.data = ids[i].bytes;
    peers[i].id.len = i == 0 ? 3 : ids[i].len; /* peer 0: a bad ID */
    peers[i].n_addrs = 20;
    peers[i].addrs = addrs;
    ptrs[i] = &peers[i];
  }
  pb.key.len = 34;
  pb.n_closerpeers = n;
  pb.closerpeers = ptrs;
  pack(&pb, &wire);
  assert_int_equal(kad_msg_decode(wire.data, wire.len, &d), 0);
  assert_int_equal(d.closer_count, KAD_MSG_PEERS_MAX);
  assert_true(peer_id_equal(&d.closer[0].id, &ids[1]));
  assert_int_equal(d.closer[0].addr_count, KAD_MSG_ADDRS_MAX);
  assert_true(ma_equal(&d.closer[0].addrs[0], &ma[1]));
  kad_msg_free(&d);
  free(peers);
  free(ptrs);
  free(ids);
  /* an encoding past 4 MiB is refused */
  kad_msg_t m = {0};
  m.type = KAD_PUT_VALUE;
  m.has_record = true;
  uint8_t *huge = calloc(1, KAD_MSG_BYTES_MAX);
  assert_int_equal(buf_append(&m.record_value, huge, KAD_MSG_BYTES_MAX), 0);
  assert_int_equal(kad_msg_encode(&m, &wire), -EMSGSIZE);
  free(huge);
  kad_msg_free(&m);
  buf_free(&wire);
}

/* ---- table ---- */

static const uint8_t *sort_target;
static int by_distance(const void *a, const void *b) {
  uint8_t ha[32], hb[32];
  const peer_id_t *pa = a, *pb = b;
  kad_hash(pa->bytes, pa->len, ha);
  kad_hash(pb->bytes, pb->len, hb);
  return kad_distance_cmp(sort_target, ha, hb);
}

static void test_table(void **state) {
  (void)state;
  peer_id_t self = test_peer(1000000);
  kad_table_t t;
  kad_table_init(&t, &self);
  assert_int_equal(kad_table_add(&t, &self, 1, NULL), -EINVAL);
  /* 3000 peers: buckets 0.. fill to k, later ones are refused while useful */
  size_t n = 3000, accepted = 0, full = 0;
  peer_id_t *all = calloc(n, sizeof *all), *in = calloc(n, sizeof *in);
  for (uint32_t i = 0; i < n; i++) {
    all[i] = test_peer(i);
    int rc = kad_table_add(&t, &all[i], 1000, NULL);
    assert_true(rc == 1 || rc == -ENOSPC);
    if (rc == 1) in[accepted++] = all[i];
    else full++;
    assert_int_equal(kad_table_add(&t, &all[i], 1000, NULL), rc == 1 ? 0 : -ENOSPC);
  }
  assert_int_equal(t.size, accepted);
  assert_true(full > 0);
  for (unsigned b = 0; b < KAD_BUCKETS; b++) assert_true(t.counts[b] <= KAD_BUCKET_PEERS);
  assert_int_equal(t.counts[0], KAD_BUCKET_PEERS);
  /* closest: the same as sorting every member by distance */
  for (uint32_t trial = 0; trial < 20; trial++) {
    uint8_t target[32];
    testdir_fill(target, 32, 777 + trial);
    peer_id_t got[KAD_K];
    size_t have = kad_table_closest(&t, target, got, KAD_K);
    assert_int_equal(have, KAD_K);
    sort_target = target;
    qsort(in, accepted, sizeof *in, by_distance);
    for (size_t i = 0; i < have; i++) assert_true(peer_id_equal(&got[i], &in[i]));
  }
  /* a full bucket takes a newcomer only in place of a peer not useful for an hour */
  peer_id_t extra;
  uint32_t probe = (uint32_t)n;
  uint8_t h[32];
  do {
    extra = test_peer(probe++);
    kad_hash(extra.bytes, extra.len, h);
  } while (kad_cpl(t.self, h) != 0);
  assert_int_equal(kad_table_add(&t, &extra, 1000 + KAD_TABLE_USEFUL_GRACE_MS - 1, NULL), -ENOSPC);
  /* every bucket-0 member but one was useful lately */
  peer_id_t stale = t.buckets[0][7].id;
  for (unsigned i = 0; i < KAD_BUCKET_PEERS; i++)
    if (i != 7) kad_table_mark_useful(&t, &t.buckets[0][i].id, 1000 + KAD_TABLE_USEFUL_GRACE_MS);
  peer_id_t evicted;
  assert_int_equal(kad_table_add(&t, &extra, 1000 + KAD_TABLE_USEFUL_GRACE_MS + 5, &evicted), 1);
  assert_true(peer_id_equal(&evicted, &stale));
  assert_false(kad_table_has(&t, &stale));
  assert_true(kad_table_has(&t, &extra));
  assert_int_equal(t.size, accepted);
  /* remove */
  assert_int_equal(kad_table_remove(&t, &extra), 1);
  assert_int_equal(kad_table_remove(&t, &extra), 0);
  assert_int_equal(t.size, accepted - 1);
  /* the size estimate is in the right order of magnitude for 3000 peers */
  uint64_t est = kad_table_estimate(&t);
  assert_true(est >= 600 && est <= 15000);
  kad_table_free(&t);
  free(all);
  free(in);
}

static void test_table_small(void **state) {
  (void)state;
  peer_id_t self = test_peer(5000000);
  kad_table_t t;
  kad_table_init(&t, &self);
  uint8_t target[32] = {0};
  peer_id_t out[KAD_K];
  assert_int_equal(kad_table_closest(&t, target, out, KAD_K), 0);
  for (uint32_t i = 0; i < 19; i++) {
    peer_id_t id = test_peer(i);
    assert_int_equal(kad_table_add(&t, &id, 0, NULL), 1);
  }
  assert_int_equal(t.size, 19);
  assert_int_equal(kad_table_closest(&t, target, out, KAD_K), 19);
  uint64_t est = kad_table_estimate(&t);
  assert_true(est >= 10 && est <= 60);
  assert_int_equal(kad_region_bits(est < 40 ? est : 39), 0);
  kad_table_free(&t);
}

/* ---- store ---- */

static uint64_t fake_now = 1700000000000ull;
static uint64_t fake_clock(void *ctx) {
  (void)ctx;
  return fake_now;
}

typedef struct seen {
  peer_id_t ids[8];
  size_t addr_counts[8];
  size_t n;
} seen_t;

static int collect(void *ctx, const peer_id_t *p, const multiaddr_t *addrs, size_t n) {
  seen_t *s = ctx;
  (void)addrs;
  if (s->n < 8) {
    s->ids[s->n] = *p;
    s->addr_counts[s->n++] = n;
  }
  return 0;
}

static void test_store(void **state) {
  (void)state;
  char dir[256];
  assert_int_equal(testdir_make(dir, sizeof dir, "kad-store"), 0);
  kad_store_t *s;
  assert_int_equal(kad_store_open(dir, fake_clock, NULL, &s), 0);
  uint8_t mh1[34] = {0x12, 0x20, 1}, mh2[34] = {0x12, 0x20, 1, 1}, mh_short[33] = {0x12, 0x20, 1};
  peer_id_t a = test_peer(1), b = test_peer(2);
  multiaddr_t addrs[2] = {test_addr(1), test_addr(2)};
  assert_int_equal(kad_store_add_provider(s, mh1, 34, &a, addrs, 2), 0);
  fake_now += 1000;
  assert_int_equal(kad_store_add_provider(s, mh1, 34, &b, NULL, 0), 0);
  assert_int_equal(kad_store_add_provider(s, mh2, 34, &a, addrs, 1), 0);
  assert_int_equal(kad_store_add_provider(s, mh_short, 33, &b, addrs, 1), 0);
  seen_t seen = {0};
  assert_int_equal(kad_store_providers(s, mh1, 34, collect, &seen), 2);
  assert_int_equal(seen.n, 2);
  for (size_t i = 0; i < 2; i++) {
    bool is_a = peer_id_equal(&seen.ids[i], &a);
    assert_true(is_a || peer_id_equal(&seen.ids[i], &b));
    assert_int_equal(seen.addr_counts[i], is_a ? 2 : 0);
  }
  assert_int_equal(kad_store_providers(s, mh_short, 33, NULL, NULL), 1);
  /* values */
  buf_t v = {0};
  assert_int_equal(kad_store_get_value(s, (const uint8_t *)"/t/a", 4, &v), -ENOENT);
  assert_int_equal(kad_store_put_value(s, (const uint8_t *)"/t/a", 4, (const uint8_t *)"one", 3), 0);
  assert_int_equal(kad_store_get_value(s, (const uint8_t *)"/t/a", 4, &v), 0);
  assert_int_equal(v.len, 3);
  assert_memory_equal(v.data, "one", 3);
  /* expiry: a's record of mh1 (older by a second) expires first */
  fake_now += KAD_PROVIDER_TTL_MS - 1000;
  assert_int_equal(kad_store_providers(s, mh1, 34, NULL, NULL), 1);
  uint64_t removed = 0;
  assert_int_equal(kad_store_sweep(s, &removed), 0);
  assert_int_equal(removed, 1);
  fake_now += 1000;
  assert_int_equal(kad_store_providers(s, mh1, 34, NULL, NULL), 0);
  assert_int_equal(kad_store_get_value(s, (const uint8_t *)"/t/a", 4, &v), -ENOENT);
  assert_int_equal(kad_store_sweep(s, &removed), 0);
  assert_int_equal(removed, 4);
  assert_int_equal(kad_store_sweep(s, &removed), 0);
  assert_int_equal(removed, 0);
  /* refreshing keeps a record alive; reopening keeps what was stored */
  assert_int_equal(kad_store_add_provider(s, mh1, 34, &a, addrs, 2), 0);
  kad_store_close(s);
  assert_int_equal(kad_store_open(dir, fake_clock, NULL, &s), 0);
  assert_int_equal(kad_store_providers(s, mh1, 34, NULL, NULL), 1);
  kad_store_close(s);
  buf_free(&v);
  testdir_remove(dir);
}

/* ---- regions ---- */

typedef struct regions {
  size_t calls, keys;
  uint8_t last[32];
  unsigned bits;
} regions_t;

static int check_region(void *ctx, const kad_region_key_t *keys, size_t count) {
  regions_t *r = ctx;
  assert_true(count > 0);
  for (size_t i = 1; i < count; i++) {
    assert_true(memcmp(keys[i - 1].hash, keys[i].hash, 32) <= 0);
    assert_true(kad_cpl(keys[0].hash, keys[i].hash) >= r->bits);
  }
  if (r->calls) {
    assert_true(memcmp(r->last, keys[0].hash, 32) < 0);
    assert_true(kad_cpl(r->last, keys[0].hash) < r->bits); /* a new region starts a new prefix */
  }
  memcpy(r->last, keys[count - 1].hash, 32);
  r->calls++;
  r->keys += count;
  return 0;
}

static void test_regions(void **state) {
  (void)state;
  assert_int_equal(kad_region_bits(1), 0);
  assert_int_equal(kad_region_bits(20), 0);
  assert_int_equal(kad_region_bits(39), 0);
  assert_int_equal(kad_region_bits(40), 1);
  assert_int_equal(kad_region_bits(10000), 8);
  size_t n = 10000;
  kad_region_key_t *keys = calloc(n, sizeof *keys);
  for (uint32_t i = 0; i < n; i++) {
    uint8_t mh[34] = {0x12, 0x20};
    memcpy(mh + 2, &i, 4);
    kad_hash(mh, 34, keys[i].hash);
    keys[i].mh_offset = i * 34;
    keys[i].mh_len = 34;
  }
  for (unsigned bits = 0; bits <= 6; bits += 3) {
    regions_t r = {.bits = bits};
    assert_int_equal(kad_regions(keys, n, bits, check_region, &r), 0);
    assert_int_equal(r.keys, n);
    assert_int_equal(r.calls, 1u << bits); /* 10000 random keys fill every 3- or 6-bit prefix */
  }
  free(keys);
}


/* ---- a DHT of hosts on loopback ---- */

#define NET_NODES 8
#define WAIT_MS_MAX 20000

typedef struct net_node {
  p2p_t *host;
  kad_t *kad;
  multiaddr_t addr; /* with /p2p/ */
} net_node_t;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

/* Polls until node n's routing table holds at least want peers (bounded). */
static void wait_table(net_node_t *n, size_t want) {
  uint64_t until = now_ms() + WAIT_MS_MAX;
  while (kad_table_size(n->kad) < want && now_ms() < until) sleep_ms(10);
  assert_true(kad_table_size(n->kad) >= want);
}

static int t_validate(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value, size_t len) {
  (void)ctx, (void)key, (void)key_len;
  return len > 0 && value[0] == 'v' ? 0 : -EINVAL;
}

/* the greatest value wins */
static size_t t_select(void *ctx, const uint8_t *key, size_t key_len, const buf_t *values, size_t n) {
  (void)ctx, (void)key, (void)key_len;
  size_t best = 0;
  for (size_t i = 1; i < n; i++) {
    size_t m = values[i].len < values[best].len ? values[i].len : values[best].len;
    int c = memcmp(values[i].data, values[best].data, m);
    if (c > 0 || (c == 0 && values[i].len > values[best].len)) best = i;
  }
  return best;
}

#define SOURCE_KEYS 300

static void source_key(uint32_t i, uint8_t mh[34]) {
  mh[0] = 0x12, mh[1] = 0x20;
  char text[32];
  int len = snprintf(text, sizeof text, "reprovided %u", i);
  mh_sha256_raw(text, (size_t)len, mh + 2);
}

static int source(void *ctx, kad_key_fn fn, void *fn_ctx) {
  (void)ctx;
  for (uint32_t i = 0; i < SOURCE_KEYS; i++) {
    uint8_t mh[34];
    source_key(i, mh);
    int rc = fn(fn_ctx, mh, sizeof mh);
    if (rc) return rc;
  }
  return 0;
}

static void node_up(net_node_t *n, uint32_t i, const char *dir) {
  uint8_t seed[32];
  testdir_fill(seed, 32, 4000 + i);
  peer_key_t key;
  assert_int_equal(peer_key_from_seed(seed, &key), 0);
  const char *listen[] = {"/ip4/127.0.0.1/tcp/0"};
  p2p_opts_t po = {.key = &key, .listen = listen, .listen_count = 1, .agent_version = "anya-test", .threads = 1,
                   .connections_high = 100, .announce_private = true};
  assert_int_equal(p2p_new(&po, &n->host), 0);
  char path[512];
  snprintf(path, sizeof path, "%s/dht%u", dir, i);
  kad_opts_t ko = {.host = n->host, .store_path = path, .server = true, .reprovide_source = i == 6 ? source : NULL};
  assert_int_equal(kad_new(&ko, &n->kad), 0);
  kad_validator_t t = {.namespace_name = "t", .validate = t_validate, .select = t_select};
  assert_int_equal(kad_add_validator(n->kad, &t), 0);
  assert_int_equal(p2p_start(n->host), 0);
  multiaddr_t bound;
  assert_int_equal(p2p_listen_addrs(n->host, &bound, 1), 1);
  assert_int_equal(ma_with_peer(&bound, &key.id, &n->addr), 0);
}

static void node_down(net_node_t *n) {
  kad_stop(n->kad);
  p2p_free(n->host);
  kad_free(n->kad);
}

typedef struct found {
  peer_id_t ids[8];
  size_t n;
  size_t addrs;
} found_t;

static int on_provider(void *ctx, const peer_id_t *p, const multiaddr_t *addrs, size_t n) {
  found_t *f = ctx;
  if (f->n < 8) f->ids[f->n++] = *p;
  f->addrs += n;
  return 0;
}

static void test_network(void **state) {
  (void)state;
  char dir[256];
  assert_int_equal(testdir_make(dir, sizeof dir, "kad-net"), 0);
  net_node_t nodes[NET_NODES];
  memset(nodes, 0, sizeof nodes);
  for (uint32_t i = 0; i < NET_NODES; i++) node_up(&nodes[i], i, dir);
  /* nodes 0..6 form the network: a star around 0, then each walks towards
   * itself (what a refresh does), meeting the others */
  const uint32_t net = NET_NODES - 1, provider = 1, middle = 3, finder = NET_NODES - 1;
  for (uint32_t i = 1; i < net; i++) {
    assert_int_equal(p2p_connect(nodes[i].host, &nodes[0].addr, NULL, 5000), 0);
    wait_table(&nodes[i], 1);
  }
  wait_table(&nodes[0], net - 1);
  for (uint32_t i = 0; i < net; i++) kad_refresh(nodes[i].kad);
  for (uint32_t i = 0; i < net; i++) wait_table(&nodes[i], net - 1);

  /* provide on one: every other member takes the record (fewer than k peers) */
  uint8_t mh[34] = {0x12, 0x20};
  mh_sha256_raw("kad loopback", 12, mh + 2);
  assert_int_equal(kad_provide(nodes[provider].kad, mh, sizeof mh, 10000), (int)net - 1);
  /* a value put by another member, with the test validator; a bad one is refused */
  const uint8_t key[] = "/t/some-key";
  assert_int_equal(kad_put_value(nodes[5].kad, key, sizeof key - 1, (const uint8_t *)"x-bad", 5, 10000), -EINVAL);
  assert_int_equal(kad_put_value(nodes[5].kad, key, sizeof key - 1, (const uint8_t *)"v1", 2, 10000), (int)net - 1);
  assert_int_equal(kad_put_value(nodes[2].kad, key, sizeof key - 1, (const uint8_t *)"v2", 2, 10000), (int)net - 1);

  /* the finder knows only the middle node and never dials the provider */
  peer_id_t provider_id = p2p_key(nodes[provider].host)->id;
  assert_int_equal(p2p_connect(nodes[finder].host, &nodes[middle].addr, NULL, 5000), 0);
  wait_table(&nodes[finder], 1);
  assert_int_equal(kad_table_size(nodes[finder].kad), 1);
  found_t f = {0};
  assert_int_equal(kad_find_providers(nodes[finder].kad, mh, sizeof mh, 1, 10000, on_provider, &f), 1);
  assert_int_equal(f.n, 1);
  assert_true(peer_id_equal(&f.ids[0], &provider_id));
  assert_true(f.addrs >= 1);
  assert_false(p2p_is_connected(nodes[finder].host, &provider_id));
  /* its addresses came with the record: FIND_NODE answers them too */
  p2p_peer_info_t *info = malloc(sizeof *info);
  assert_int_equal(kad_find_peer(nodes[finder].kad, &provider_id, info, 10000), 0);
  assert_true(info->addr_count >= 1);
  free(info);
  /* an unknown key has no providers */
  uint8_t other[34] = {0x12, 0x20};
  mh_sha256_raw("nobody has this", 15, other + 2);
  f.n = 0;
  assert_int_equal(kad_find_providers(nodes[finder].kad, other, sizeof other, 5, 10000, on_provider, &f), 0);
  /* the value: the best of those held ("v2" over "v1") */
  buf_t v = {0};
  assert_int_equal(kad_get_value(nodes[finder].kad, key, sizeof key - 1, &v, 10000), 0);
  assert_int_equal(v.len, 2);
  assert_memory_equal(v.data, "v2", 2);
  assert_int_equal(kad_get_value(nodes[finder].kad, (const uint8_t *)"/t/none", 7, &v, 5000), -ENOENT);
  buf_free(&v);

  /* the reprovider: 300 keys from a source, announced region by region */
  kad_reprovide_stat_t st;
  assert_int_equal(kad_reprovide(nodes[provider].kad, &st), -ENOENT); /* no source */
  assert_int_equal(kad_reprovide(nodes[6].kad, &st), 0);
  assert_int_equal(st.keys, SOURCE_KEYS);
  assert_int_equal(st.prefix_bits, 0); /* 8 peers: one region */
  assert_int_equal(st.regions, 1);
  /* every key to every peer the region's lookup found: the network, and the finder if it met node 6 */
  assert_int_equal(st.announcements % SOURCE_KEYS, 0);
  assert_true(st.announcements / SOURCE_KEYS >= net - 1 && st.announcements / SOURCE_KEYS <= NET_NODES - 1);
  peer_id_t source_id = p2p_key(nodes[6].host)->id;
  for (uint32_t i = 0; i < SOURCE_KEYS; i += 37) {
    uint8_t k[34];
    source_key(i, k);
    f.n = 0;
    assert_int_equal(kad_find_providers(nodes[finder].kad, k, sizeof k, 1, 10000, on_provider, &f), 1);
    assert_true(peer_id_equal(&f.ids[0], &source_id));
  }
  for (uint32_t i = 0; i < NET_NODES; i++) node_down(&nodes[i]);
  testdir_remove(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_codec_roundtrip), cmocka_unit_test(test_codec_limits),
      cmocka_unit_test(test_table),           cmocka_unit_test(test_table_small),
      cmocka_unit_test(test_store),           cmocka_unit_test(test_regions),
      cmocka_unit_test(test_network),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
