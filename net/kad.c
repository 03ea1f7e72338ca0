/*
 * kad: the DHT over the host (kad.h).  The codec, table, store and regions
 * live in kad_msg.c, kad_table.c, kad_store.c (kad_internal.h); this file
 * holds the protocol handler, the iterative lookup, the public operations
 * and the background thread (bootstrap, refresh, sweep, reprovide).
 *
 * Locks: k->mu guards the routing table, the validators and the stop flag;
 * a lookup has its own mutex.  No lock is held across network I/O.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "kad.h"
#include "kad_internal.h"
#include "log.h"
#include "multihash.h"
#include "pins.h"

#define KAD_VALIDATORS_MAX 8
#define KAD_NAMESPACE_BYTES_MAX 64
#define KAD_LOOKUP_PEERS_MAX 400           /* candidates a lookup keeps (nearest first) */
#define KAD_QUERY_TIMEOUT_MS 10000u        /* one request/reply to one peer */
#define KAD_STREAM_IDLE_MS 60000u          /* an inbound stream with no message closes */
#define KAD_STREAM_MESSAGES_MAX (1u << 22) /* messages served on one inbound stream */
#define KAD_FANOUT_THREADS_MAX 8           /* peers written to at once (provide, put, reprovide) */
#define KAD_REFRESH_MS (10u * 60 * 1000)
#define KAD_REFRESH_CPL_MAX 15             /* buckets deeper than this are not refreshed (like go) */
#define KAD_SWEEP_MS (60u * 60 * 1000)
#define KAD_REPROVIDE_DEFAULT_MS (22ull * 60 * 60 * 1000)
#define KAD_REPROVIDE_FIRST_MS 30000u      /* the first pass, after start */
#define KAD_REPROVIDE_KEYS_MAX (1u << 22)  /* keys one pass announces (about 300 MiB of RAM at most) */
#define KAD_LOOKUP_TIMEOUT_MS 60000u       /* background lookups (refresh, reprovide regions) */
#define KAD_BOOTSTRAP_DIAL_MS 10000u

struct kad {
  p2p_t *host;                      /* NULL: message handling only (tests, fuzz) */
  peer_id_t self;
  char protocol[128];
  bool server;
  kad_store_t *store;
  pthread_mutex_t mu;
  pthread_cond_t cond;              /* the background thread's sleep */
  kad_table_t table;
  kad_validator_t validators[KAD_VALIDATORS_MAX];
  char validator_names[KAD_VALIDATORS_MAX][KAD_NAMESPACE_BYTES_MAX];
  size_t validator_count;
  multiaddr_t *bootstrap;
  size_t bootstrap_count;
  uint64_t reprovide_interval_ms;
  kad_reprovide_source_fn reprovide_source;
  void *reprovide_ctx;
  pthread_t thread;
  bool thread_running;
  bool stopping;                    /* kad_stop was called */
  atomic_uint handlers;             /* inbound streams being served */
};

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool stopping(kad_t *k) {
  pthread_mutex_lock(&k->mu);
  bool s = k->stopping;
  pthread_mutex_unlock(&k->mu);
  return s;
}

/* ---- validators -------------------------------------------------------- */

/* "/ns/rest" -> ns; false when the key has no namespace. */
static bool key_namespace(const uint8_t *key, size_t len, char out[KAD_NAMESPACE_BYTES_MAX]) {
  if (len < 3 || key[0] != '/') return false;
  size_t i = 1;
  while (i < len && key[i] != '/') i++;
  if (i == len || i - 1 == 0 || i - 1 >= KAD_NAMESPACE_BYTES_MAX) return false;
  memcpy(out, key + 1, i - 1);
  out[i - 1] = 0;
  return true;
}

/* A copy of the validator of key's namespace; -ENOENT when none. */
static int validator_for(kad_t *k, const uint8_t *key, size_t len, kad_validator_t *out) {
  char ns[KAD_NAMESPACE_BYTES_MAX];
  if (!key_namespace(key, len, ns)) return -ENOENT;
  int rc = -ENOENT;
  pthread_mutex_lock(&k->mu);
  for (size_t i = 0; i < k->validator_count; i++)
    if (strcmp(k->validator_names[i], ns) == 0) {
      *out = k->validators[i];
      rc = 0;
    }
  pthread_mutex_unlock(&k->mu);
  return rc;
}

static int validate_record(kad_t *k, const uint8_t *key, size_t key_len, const uint8_t *value, size_t len) {
  kad_validator_t v;
  if (validator_for(k, key, key_len, &v) < 0) return err_set(-EINVAL, "dht: no validator for this key's namespace");
  return v.validate(v.ctx, key, key_len, value, len) == 0 ? 0 : err_set(-EINVAL, "dht: record rejected by its validator");
}

/* Index of the best of values[0..n) under key's validator (0 without one). */
static size_t select_record(kad_t *k, const uint8_t *key, size_t key_len, const buf_t *values, size_t n) {
  kad_validator_t v;
  if (n <= 1 || validator_for(k, key, key_len, &v) < 0 || !v.select) return 0;
  size_t best = v.select(v.ctx, key, key_len, values, n);
  return best < n ? best : 0;
}

/* "pk": /pk/<mh> holds the PublicKey protobuf whose peer ID is <mh>. */
static int pk_validate(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value, size_t len) {
  (void)ctx;
  if (key_len <= 4 || memcmp(key, "/pk/", 4) != 0) return -EINVAL;
  peer_id_t id;
  if (peer_id_from_pubkey(value, len, &id) < 0) return -EINVAL;
  return id.len == key_len - 4 && memcmp(id.bytes, key + 4, id.len) == 0 ? 0 : -EINVAL;
}

static size_t pk_select(void *ctx, const uint8_t *key, size_t key_len, const buf_t *values, size_t n) {
  (void)ctx, (void)key, (void)key_len, (void)values, (void)n;
  return 0;
}

int kad_add_validator(kad_t *k, const kad_validator_t *v) {
  if (!v || !v->namespace_name || !v->validate || strlen(v->namespace_name) == 0 ||
      strlen(v->namespace_name) >= KAD_NAMESPACE_BYTES_MAX || strchr(v->namespace_name, '/'))
    return err_set(-EINVAL, "dht: a validator needs a namespace name (no '/') and a validate function");
  int rc = 0;
  pthread_mutex_lock(&k->mu);
  size_t i = 0;
  while (i < k->validator_count && strcmp(k->validator_names[i], v->namespace_name) != 0) i++;
  if (i == KAD_VALIDATORS_MAX) rc = err_set(-ENOSPC, "dht: more than %d validators", KAD_VALIDATORS_MAX);
  else {
    k->validators[i] = *v;
    snprintf(k->validator_names[i], KAD_NAMESPACE_BYTES_MAX, "%s", v->namespace_name);
    k->validators[i].namespace_name = k->validator_names[i];
    if (i == k->validator_count) k->validator_count++;
  }
  pthread_mutex_unlock(&k->mu);
  return rc;
}

/* ---- peers in messages ------------------------------------------------- */

/* An unspecified address (0.0.0.0, ::): a wildcard listener, not dialable. */
static bool unspecified(const multiaddr_t *ma) {
  static const uint8_t zeros[16] = {0};
  if (ma->len >= 5 && ma->bytes[0] == 0x04) return memcmp(ma->bytes + 1, zeros, 4) == 0;
  if (ma->len >= 17 && ma->bytes[0] == 0x29) return memcmp(ma->bytes + 1, zeros, 16) == 0;
  return false;
}

/* Our addresses for records we hand out: identify's (wildcards expanded,
 * private ones only when the host announces them); never an unspecified one. */
static size_t own_addrs(kad_t *k, multiaddr_t *out, size_t cap) {
  if (!k->host) return 0;
  multiaddr_t all[KAD_MSG_ADDRS_MAX];
  size_t n = p2p_announce_addrs(k->host, all, KAD_MSG_ADDRS_MAX), kept = 0;
  for (size_t i = 0; i < n && i < KAD_MSG_ADDRS_MAX && kept < cap; i++)
    if (!unspecified(&all[i])) out[kept++] = all[i];
  return kept;
}

/* Appends peer with its known addresses.  Closer peers without any are left
 * out (nobody could dial them); providers are listed anyway (the asker can
 * look their addresses up). */
static int add_peer_with_addrs(kad_t *k, kad_msg_t *m, bool providers, const peer_id_t *id,
                               const multiaddr_t *known, size_t known_n) {
  if (peer_id_equal(id, &k->self)) {
    multiaddr_t addrs[KAD_MSG_ADDRS_MAX];
    size_t n = own_addrs(k, addrs, KAD_MSG_ADDRS_MAX);
    return kad_msg_add_peer(m, providers, id, addrs, n, 1);
  }
  if (!k->host) return known_n || providers ? kad_msg_add_peer(m, providers, id, known, known_n, 0) : 0;
  p2p_peer_info_t *info = malloc(sizeof *info);
  if (!info) return -ENOMEM;
  int rc = 0;
  const multiaddr_t *addrs = known;
  size_t n = known_n;
  if (p2p_peer_info(k->host, id, info) == 0 && info->addr_count > 0) {
    addrs = info->addrs;
    n = info->addr_count;
  }
  if (n || providers) rc = kad_msg_add_peer(m, providers, id, addrs, n, p2p_is_connected(k->host, id) ? 1 : 0);
  free(info);
  return rc;
}

static int add_closer_peers(kad_t *k, kad_msg_t *reply, const uint8_t *key, size_t key_len, const peer_id_t *from) {
  uint8_t target[KAD_HASH_BYTES];
  kad_hash(key, key_len, target);
  peer_id_t closest[KAD_K + 1];
  pthread_mutex_lock(&k->mu);
  size_t n = kad_table_closest(&k->table, target, closest, KAD_K + 1);
  pthread_mutex_unlock(&k->mu);
  size_t added = 0;
  for (size_t i = 0; i < n && added < KAD_K; i++) {
    if (from && peer_id_equal(&closest[i], from)) continue;
    int rc = add_peer_with_addrs(k, reply, false, &closest[i], NULL, 0);
    if (rc < 0) return rc;
    added++;
  }
  return 0;
}

/* ---- serving ----------------------------------------------------------- */

typedef struct provider_reply {
  kad_t *k;
  kad_msg_t *reply;
} provider_reply_t;

static int reply_provider(void *ctx, const peer_id_t *p, const multiaddr_t *addrs, size_t n) {
  provider_reply_t *r = ctx;
  return add_peer_with_addrs(r->k, r->reply, true, p, addrs, n) == -ENOMEM ? -ENOMEM : 0;
}

static void rfc3339_now(char out[KAD_TIME_TEXT_BYTES_MAX]) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(out, KAD_TIME_TEXT_BYTES_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
}

int kad_handle_message(kad_t *k, const peer_id_t *from, const kad_msg_t *in, kad_msg_t *out, bool *reply) {
  memset(out, 0, sizeof *out);
  *reply = false;
  out->type = in->type;
  out->cluster_level = in->cluster_level;
  int rc = 0;
  switch (in->type) {
  case KAD_FIND_NODE:
    if (!in->key.len) return err_set(-EBADMSG, "FIND_NODE without a key");
    if ((rc = buf_append(&out->key, in->key.data, in->key.len)) < 0) break;
    if (in->key.len == k->self.len && memcmp(in->key.data, k->self.bytes, k->self.len) == 0)
      rc = add_peer_with_addrs(k, out, false, &k->self, NULL, 0);
    else
      rc = add_closer_peers(k, out, in->key.data, in->key.len, from);
    *reply = rc == 0;
    break;
  case KAD_GET_PROVIDERS: {
    mh_t mh;
    if (!in->key.len || in->key.len > 255 || mh_decode(in->key.data, in->key.len, &mh) != (int)in->key.len)
      return err_set(-EBADMSG, "GET_PROVIDERS: the key is not a multihash");
    if ((rc = buf_append(&out->key, in->key.data, in->key.len)) < 0) break;
    provider_reply_t r = {k, out};
    rc = kad_store_providers(k->store, in->key.data, in->key.len, reply_provider, &r);
    if (rc >= 0) rc = add_closer_peers(k, out, in->key.data, in->key.len, from);
    *reply = rc >= 0;
    break;
  }
  case KAD_ADD_PROVIDER: {
    mh_t mh;
    if (!in->key.len || in->key.len > 255 || mh_decode(in->key.data, in->key.len, &mh) != (int)in->key.len)
      return err_set(-EBADMSG, "ADD_PROVIDER: the key is not a multihash");
    size_t taken = 0;
    for (size_t i = 0; i < in->provider_count && rc == 0; i++) {
      const kad_msg_peer_t *p = &in->providers[i];
      if (!from || !peer_id_equal(&p->id, from)) continue; /* only the sender may announce itself */
      if (k->host && p->addr_count) p2p_peer_add_addrs(k->host, &p->id, p->addrs, p->addr_count, KAD_PROVIDER_TTL_MS / 2);
      rc = kad_store_add_provider(k->store, in->key.data, in->key.len, &p->id, p->addrs, p->addr_count);
      taken++;
    }
    if (!rc && !taken) return err_set(-EBADMSG, "ADD_PROVIDER: no provider record of the sender");
    break;
  }
  case KAD_GET_VALUE: {
    if (!in->key.len) return err_set(-EBADMSG, "GET_VALUE without a key");
    if ((rc = buf_append(&out->key, in->key.data, in->key.len)) < 0) break;
    buf_t value = {0};
    if (kad_store_get_value(k->store, in->key.data, in->key.len, &value) == 0) {
      out->has_record = true;
      rc = buf_append(&out->record_key, in->key.data, in->key.len);
      if (!rc && value.len) rc = buf_append(&out->record_value, value.data, value.len);
      rfc3339_now(out->time_received);
    }
    buf_free(&value);
    if (!rc) rc = add_closer_peers(k, out, in->key.data, in->key.len, from);
    *reply = rc == 0;
    break;
  }
  case KAD_PUT_VALUE: {
    if (!in->has_record || !in->key.len || in->record_key.len != in->key.len ||
        memcmp(in->record_key.data, in->key.data, in->key.len) != 0)
      return err_set(-EBADMSG, "PUT_VALUE: the record's key differs from the message's");
    if ((rc = validate_record(k, in->key.data, in->key.len, in->record_value.data, in->record_value.len)) < 0)
      return rc;
    buf_t values[2] = {{0}, {0}};
    bool replace = true;
    if (kad_store_get_value(k->store, in->key.data, in->key.len, &values[0]) == 0 &&
        validate_record(k, in->key.data, in->key.len, values[0].data, values[0].len) == 0) {
      rc = buf_append(&values[1], in->record_value.data, in->record_value.len);
      replace = !rc && select_record(k, in->key.data, in->key.len, values, 2) == 1;
      if (!rc && !replace && values[0].len == values[1].len &&
          memcmp(values[0].data, values[1].data, values[0].len) == 0)
        replace = true; /* the same record again: refresh its expiry */
    }
    if (!rc && replace)
      rc = kad_store_put_value(k->store, in->key.data, in->key.len, in->record_value.data, in->record_value.len);
    buf_free(&values[0]);
    buf_free(&values[1]);
    if (rc < 0) break;
    /* the reply echoes the request, like go and js */
    out->has_record = true;
    rc = buf_append(&out->key, in->key.data, in->key.len);
    if (!rc) rc = buf_append(&out->record_key, in->key.data, in->key.len);
    if (!rc && in->record_value.len) rc = buf_append(&out->record_value, in->record_value.data, in->record_value.len);
    memcpy(out->time_received, in->time_received, sizeof out->time_received);
    *reply = rc == 0;
    break;
  }
  case KAD_PING:
    *reply = true;
    break;
  }
  if (rc < 0) {
    kad_msg_free(out);
    *reply = false;
  }
  return rc < 0 ? rc : 0;
}

static void handle_stream(p2p_stream_t *s, void *ctx) {
  kad_t *k = ctx;
  atomic_fetch_add(&k->handlers, 1);
  peer_id_t from = *p2p_stream_peer(s);
  buf_t in = {0}, wire = {0};
  for (uint32_t n = 0; n < KAD_STREAM_MESSAGES_MAX && !stopping(k); n++) {
    int rc = p2p_stream_read_msg(s, &in, KAD_MSG_BYTES_MAX, KAD_STREAM_IDLE_MS);
    if (rc < 0) break;
    kad_msg_t msg, reply;
    bool has_reply = false;
    if ((rc = kad_msg_decode(in.data, in.len, &msg)) < 0) {
      p2p_peer_penalize(k->host, &from, 10, "malformed kad message");
      break;
    }
    rc = kad_handle_message(k, &from, &msg, &reply, &has_reply);
    kad_msg_free(&msg);
    if (rc == -EBADMSG || rc == -EINVAL) {
      log_debug("kad", "request refused: %s", err_msg(rc));
      p2p_peer_penalize(k->host, &from, 5, "bad kad request");
      break;
    }
    if (rc < 0) break;
    if (has_reply) {
      buf_reset(&wire);
      rc = kad_msg_encode(&reply, &wire);
      if (!rc) rc = p2p_stream_write_msg(s, wire.data, wire.len, KAD_QUERY_TIMEOUT_MS);
    }
    kad_msg_free(&reply);
    if (rc < 0) break;
  }
  buf_free(&in);
  buf_free(&wire);
  p2p_stream_free(s);
  atomic_fetch_sub(&k->handlers, 1);
}

static void on_peer(void *ctx, enum p2p_event event, const peer_id_t *peer) {
  kad_t *k = ctx;
  if (event != P2P_PEER_IDENTIFIED) return; /* disconnected peers stay until a query to them fails (go) */
  bool supports = p2p_peer_supports(k->host, peer, k->protocol);
  int rc = 0;
  pthread_mutex_lock(&k->mu);
  if (!k->stopping) {
    if (supports) rc = kad_table_add(&k->table, peer, mono_ms(), NULL);
    else kad_table_remove(&k->table, peer);
  }
  size_t size = k->table.size;
  pthread_mutex_unlock(&k->mu);
  if (log_enabled(LOG_LEVEL_DEBUG)) {
    char id[PEER_ID_TEXT_BYTES_MAX] = "?";
    peer_id_format(peer, id);
    log_debug("kad", "peer %s identified: %s (%d), routing table %zu", id, supports ? "a DHT server" : "not a DHT server",
              rc, size);
  }
}

/* ---- requests ---------------------------------------------------------- */

/* One request to peer; when reply is non-NULL, one message back.  Peers
 * that fail are dropped from the routing table. */
static int request(kad_t *k, const peer_id_t *peer, const kad_msg_t *req, kad_msg_t *reply, uint32_t timeout_ms) {
  buf_t wire = {0};
  int rc = kad_msg_encode(req, &wire);
  if (rc < 0) return rc;
  const char *protocols[] = {k->protocol};
  p2p_stream_t *s = NULL;
  rc = p2p_stream_open(k->host, peer, protocols, 1, timeout_ms, &s);
  if (!rc) rc = p2p_stream_write_msg(s, wire.data, wire.len, timeout_ms);
  if (!rc && reply) {
    rc = p2p_stream_read_msg(s, &wire, KAD_MSG_BYTES_MAX, timeout_ms);
    if (!rc) rc = kad_msg_decode(wire.data, wire.len, reply);
  }
  if (!rc && !reply) rc = p2p_stream_close_write(s);
  p2p_stream_free(s);
  buf_free(&wire);
  pthread_mutex_lock(&k->mu);
  if (rc < 0) kad_table_remove(&k->table, peer);
  else kad_table_mark_useful(&k->table, peer, mono_ms());
  pthread_mutex_unlock(&k->mu);
  return rc;
}

int kad_request(kad_t *k, const peer_id_t *peer, const kad_msg_t *req, kad_msg_t *reply, uint32_t timeout_ms) {
  if (!k->host) return -ENOTCONN;
  return request(k, peer, req, reply, timeout_ms);
}

/* ---- the iterative lookup ---------------------------------------------- */

enum { LK_HEARD, LK_WAITING, LK_QUERIED, LK_FAILED };

typedef struct lk_peer {
  peer_id_t id;
  uint8_t hash[KAD_HASH_BYTES];
  uint8_t state;
} lk_peer_t;

typedef struct lookup lookup_t;
/* Told each reply (serialised); nonzero ends the lookup. */
typedef int (*lookup_reply_fn)(lookup_t *l, const peer_id_t *from, const kad_msg_t *reply);

struct lookup {
  kad_t *k;
  kad_msg_t req;
  uint8_t target[KAD_HASH_BYTES];
  lk_peer_t peers[KAD_LOOKUP_PEERS_MAX]; /* nearest first */
  size_t count;
  unsigned waiting;
  bool done;
  bool stopped;                          /* on_reply asked to end */
  uint64_t deadline_ms;                  /* monotonic */
  pthread_mutex_t mu;
  pthread_cond_t cond;
  pthread_mutex_t reply_mu;
  lookup_reply_fn on_reply;
  void *ctx;
  size_t queried;                        /* answers, for the log */
};

/* Inserts id in distance order unless known, self, or past the farthest of a full list. */
static void lookup_add(lookup_t *l, const peer_id_t *id) {
  if (peer_id_equal(id, &l->k->self)) return;
  uint8_t h[KAD_HASH_BYTES];
  kad_hash(id->bytes, id->len, h);
  size_t at = l->count;
  while (at > 0 && kad_distance_cmp(l->target, h, l->peers[at - 1].hash) < 0) at--;
  for (size_t i = 0; i < l->count; i++)
    if (peer_id_equal(&l->peers[i].id, id)) return;
  if (at == KAD_LOOKUP_PEERS_MAX) return;
  if (l->count == KAD_LOOKUP_PEERS_MAX) l->count--;
  memmove(&l->peers[at + 1], &l->peers[at], (l->count - at) * sizeof l->peers[0]);
  l->peers[at].id = *id;
  memcpy(l->peers[at].hash, h, KAD_HASH_BYTES);
  l->peers[at].state = LK_HEARD;
  l->count++;
}

static lk_peer_t *lookup_find(lookup_t *l, const peer_id_t *id) {
  for (size_t i = 0; i < l->count; i++)
    if (peer_id_equal(&l->peers[i].id, id)) return &l->peers[i];
  return NULL;
}

/* The next peer to ask: the nearest heard one among the k nearest not failed. */
static lk_peer_t *lookup_next(lookup_t *l) {
  size_t live = 0;
  for (size_t i = 0; i < l->count && live < KAD_K; i++) {
    if (l->peers[i].state == LK_FAILED) continue;
    live++;
    if (l->peers[i].state == LK_HEARD) return &l->peers[i];
  }
  return NULL;
}

static void *lookup_worker(void *arg) {
  lookup_t *l = arg;
  kad_t *k = l->k;
  pthread_mutex_lock(&l->mu);
  for (;;) {
    uint64_t now = mono_ms();
    if (l->done || l->stopped || now >= l->deadline_ms || stopping(k)) break;
    lk_peer_t *p = lookup_next(l);
    if (!p) {
      if (!l->waiting) {
        l->done = true; /* the k nearest all answered (or failed): go's stop rule */
        pthread_cond_broadcast(&l->cond);
        break;
      }
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      uint64_t wait_ms = l->deadline_ms - now < 1000 ? l->deadline_ms - now : 1000;
      ts.tv_sec += (time_t)(wait_ms / 1000);
      ts.tv_nsec += (long)(wait_ms % 1000) * 1000000;
      if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
      pthread_cond_timedwait(&l->cond, &l->mu, &ts);
      continue;
    }
    p->state = LK_WAITING;
    l->waiting++;
    peer_id_t id = p->id;
    uint64_t left = l->deadline_ms - now;
    uint32_t timeout = left < KAD_QUERY_TIMEOUT_MS ? (uint32_t)left : KAD_QUERY_TIMEOUT_MS;
    pthread_mutex_unlock(&l->mu);

    kad_msg_t reply;
    int rc = request(k, &id, &l->req, &reply, timeout);
    if (rc == 0) {
      for (size_t i = 0; i < reply.closer_count; i++)
        if (reply.closer[i].addr_count && !peer_id_equal(&reply.closer[i].id, &k->self))
          p2p_peer_add_addrs(k->host, &reply.closer[i].id, reply.closer[i].addrs, reply.closer[i].addr_count, 0);
      int stop = 0;
      if (l->on_reply) {
        pthread_mutex_lock(&l->reply_mu);
        stop = l->on_reply(l, &id, &reply);
        pthread_mutex_unlock(&l->reply_mu);
      }
      pthread_mutex_lock(&l->mu);
      for (size_t i = 0; i < reply.closer_count; i++)
        if (reply.closer[i].addr_count) lookup_add(l, &reply.closer[i].id);
      if (stop) l->stopped = true;
      l->queried++;
      kad_msg_free(&reply);
    } else {
      if (log_enabled(LOG_LEVEL_DEBUG)) {
        char text[PEER_ID_TEXT_BYTES_MAX] = "?";
        peer_id_format(&id, text);
        log_debug("kad", "request type=%d to %s failed: %s", (int)l->req.type, text, err_msg(rc));
      }
      pthread_mutex_lock(&l->mu);
    }
    lk_peer_t *again = lookup_find(l, &id);
    if (again) again->state = rc == 0 ? LK_QUERIED : LK_FAILED;
    l->waiting--;
    pthread_cond_broadcast(&l->cond);
  }
  pthread_cond_broadcast(&l->cond);
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

/* Walks towards sha256(req->key) with α workers; closest (may be NULL) gets
 * the k nearest peers that answered.  Returns how many, or -ENOENT with an
 * empty routing table. */
static int lookup_run(kad_t *k, lookup_t *l, uint32_t timeout_ms, peer_id_t *closest, size_t cap) {
  assert(k->host);
  l->k = k;
  kad_hash(l->req.key.data, l->req.key.len, l->target);
  l->deadline_ms = mono_ms() + (timeout_ms ? timeout_ms : KAD_LOOKUP_TIMEOUT_MS);
  pthread_mutex_init(&l->mu, NULL);
  pthread_mutex_init(&l->reply_mu, NULL);
  pthread_cond_init(&l->cond, NULL);
  peer_id_t seeds[KAD_K];
  pthread_mutex_lock(&k->mu);
  size_t n = kad_table_closest(&k->table, l->target, seeds, KAD_K);
  pthread_mutex_unlock(&k->mu);
  for (size_t i = 0; i < n; i++) lookup_add(l, &seeds[i]);
  int rc = 0;
  if (!l->count) {
    rc = -ENOENT;
  } else {
    pthread_t threads[KAD_ALPHA];
    size_t started = 0;
    for (size_t i = 0; i < KAD_ALPHA && i < l->count; i++)
      if (pthread_create(&threads[started], NULL, lookup_worker, l) == 0) started++;
    if (!started) lookup_worker(l);
    for (size_t i = 0; i < started; i++) pthread_join(threads[i], NULL);
    size_t out = 0;
    for (size_t i = 0; i < l->count && out < KAD_K; i++)
      if (l->peers[i].state == LK_QUERIED) {
        if (closest && out < cap) closest[out] = l->peers[i].id;
        out++;
      }
    rc = (int)(out < cap || !closest ? out : cap);
    log_debug("kad", "lookup type=%d: %zu answers, %zu candidates, %s", (int)l->req.type, l->queried, l->count,
              l->stopped ? "stopped" : l->done ? "converged" : "timed out");
  }
  pthread_cond_destroy(&l->cond);
  pthread_mutex_destroy(&l->mu);
  pthread_mutex_destroy(&l->reply_mu);
  return rc;
}

static lookup_t *lookup_new(enum kad_msg_type type, const uint8_t *key, size_t len) {
  lookup_t *l = calloc(1, sizeof *l);
  if (!l) return NULL;
  l->req.type = type;
  if (buf_append(&l->req.key, key, len) < 0) {
    free(l);
    return NULL;
  }
  return l;
}

static void lookup_free(lookup_t *l) {
  if (!l) return;
  kad_msg_free(&l->req);
  free(l);
}

/* The k nearest peers to key that answered; *n gets how many. */
static int closest_peers(kad_t *k, const uint8_t *key, size_t len, uint32_t timeout_ms, peer_id_t out[KAD_K]) {
  lookup_t *l = lookup_new(KAD_FIND_NODE, key, len);
  if (!l) return -ENOMEM;
  int rc = lookup_run(k, l, timeout_ms, out, KAD_K);
  lookup_free(l);
  return rc;
}

/* ---- fan-out: the same job for several peers, a few threads at a time -- */

typedef struct fanout {
  kad_t *k;
  const peer_id_t *peers;
  size_t count;
  size_t next;
  size_t ok;
  pthread_mutex_t mu;
  int (*job)(struct fanout *f, const peer_id_t *peer);
  void *ctx;
  uint32_t timeout_ms;
  bool *succeeded;                     /* NULL, or count flags: which peers' jobs succeeded */
} fanout_t;

static void *fanout_worker(void *arg) {
  fanout_t *f = arg;
  for (;;) {
    pthread_mutex_lock(&f->mu);
    size_t i = f->next < f->count ? f->next++ : f->count;
    pthread_mutex_unlock(&f->mu);
    if (i == f->count || stopping(f->k)) break;
    int rc = f->job(f, &f->peers[i]);
    pthread_mutex_lock(&f->mu);
    if (rc == 0) f->ok++;
    if (rc == 0 && f->succeeded) f->succeeded[i] = true;
    pthread_mutex_unlock(&f->mu);
  }
  return NULL;
}

/* Runs job for every peer; returns how many succeeded. */
static size_t fanout_run(fanout_t *f) {
  pthread_mutex_init(&f->mu, NULL);
  pthread_t threads[KAD_FANOUT_THREADS_MAX];
  size_t started = 0;
  for (size_t i = 0; i < KAD_FANOUT_THREADS_MAX && i < f->count; i++)
    if (pthread_create(&threads[started], NULL, fanout_worker, f) == 0) started++;
  if (!started) fanout_worker(f);
  for (size_t i = 0; i < started; i++) pthread_join(threads[i], NULL);
  pthread_mutex_destroy(&f->mu);
  return f->ok;
}

/* ---- providing --------------------------------------------------------- */

/* The ADD_PROVIDER messages for some keys, written over one stream. */
typedef struct provide_batch {
  const uint8_t *arena;                /* multihashes */
  const kad_region_key_t *keys;
  size_t count;
  const uint8_t *single;               /* or one multihash */
  size_t single_len;
} provide_batch_t;

static int add_provider_msg(kad_t *k, const uint8_t *mh, size_t len, buf_t *wire) {
  kad_msg_t m = {0};
  m.type = KAD_ADD_PROVIDER;
  int rc = buf_append(&m.key, mh, len);
  multiaddr_t addrs[KAD_MSG_ADDRS_MAX];
  size_t n = own_addrs(k, addrs, KAD_MSG_ADDRS_MAX);
  if (!rc) rc = kad_msg_add_peer(&m, true, &k->self, addrs, n, 1);
  if (!rc) rc = kad_msg_encode(&m, wire);
  kad_msg_free(&m);
  return rc;
}

static int provide_job(fanout_t *f, const peer_id_t *peer) {
  kad_t *k = f->k;
  const provide_batch_t *b = f->ctx;
  const char *protocols[] = {k->protocol};
  p2p_stream_t *s = NULL;
  int rc = p2p_stream_open(k->host, peer, protocols, 1, f->timeout_ms, &s);
  buf_t wire = {0};
  size_t total = b->single ? 1 : b->count;
  for (size_t i = 0; !rc && i < total; i++) {
    buf_reset(&wire);
    if (b->single) rc = add_provider_msg(k, b->single, b->single_len, &wire);
    else rc = add_provider_msg(k, b->arena + b->keys[i].mh_offset, b->keys[i].mh_len, &wire);
    if (!rc) rc = p2p_stream_write_msg(s, wire.data, wire.len, KAD_QUERY_TIMEOUT_MS);
  }
  if (!rc) rc = p2p_stream_close_write(s);
  p2p_stream_free(s);
  buf_free(&wire);
  if (rc < 0) log_debug("kad", "ADD_PROVIDER to a peer failed: %s", err_msg(rc));
  return rc;
}

static int store_self(kad_t *k, const uint8_t *mh, size_t len) {
  multiaddr_t addrs[KAD_MSG_ADDRS_MAX];
  size_t n = own_addrs(k, addrs, KAD_MSG_ADDRS_MAX);
  return kad_store_add_provider(k->store, mh, len, &k->self, addrs, n);
}

int kad_provide(kad_t *k, const uint8_t *mh, size_t len, uint32_t timeout_ms) {
  return kad_provide_report(k, mh, len, timeout_ms, NULL, NULL);
}

int kad_provide_report(kad_t *k, const uint8_t *mh, size_t len, uint32_t timeout_ms, kad_peer_fn fn, void *ctx) {
  mh_t parsed;
  if (!len || len > 255 || mh_decode(mh, len, &parsed) != (int)len)
    return err_set(-EINVAL, "provide: not a multihash");
  int rc = store_self(k, mh, len);
  if (rc < 0) return rc;
  if (!k->host) return 0;
  peer_id_t peers[KAD_K];
  rc = closest_peers(k, mh, len, timeout_ms, peers);
  if (rc == -ENOENT) return 0; /* no peers: stored locally only */
  if (rc < 0) return rc;
  provide_batch_t b = {.single = mh, .single_len = len};
  bool took[KAD_K] = {false};
  fanout_t f = {.k = k, .peers = peers, .count = (size_t)rc, .job = provide_job, .ctx = &b,
                .timeout_ms = KAD_QUERY_TIMEOUT_MS, .succeeded = took};
  size_t ok = fanout_run(&f);
  for (size_t i = 0; fn && i < (size_t)rc; i++)
    if (took[i] && fn(ctx, &peers[i])) break;
  return (int)ok;
}

/* ---- finding providers ------------------------------------------------- */

#define FOUND_MAX 1024

typedef struct find_providers {
  kad_t *k;
  kad_provider_fn fn;
  void *ctx;
  size_t max;
  size_t found;
  peer_id_t seen[FOUND_MAX];
  bool stop;
} find_providers_t;

static int report_provider(find_providers_t *fp, const peer_id_t *p, const multiaddr_t *addrs, size_t n) {
  for (size_t i = 0; i < fp->found && i < FOUND_MAX; i++)
    if (peer_id_equal(&fp->seen[i], p)) return 0;
  if (fp->found >= fp->max || fp->found >= FOUND_MAX) return 1;
  fp->seen[fp->found++] = *p;
  if (fp->k->host && n && !peer_id_equal(p, &fp->k->self)) p2p_peer_add_addrs(fp->k->host, p, addrs, n, 0);
  if (fp->fn && fp->fn(fp->ctx, p, addrs, n)) fp->stop = true;
  return fp->stop || fp->found >= fp->max;
}

static int local_provider(void *ctx, const peer_id_t *p, const multiaddr_t *addrs, size_t n) {
  find_providers_t *fp = ctx;
  if (peer_id_equal(p, &fp->k->self)) {
    multiaddr_t own[KAD_MSG_ADDRS_MAX];
    size_t m = own_addrs(fp->k, own, KAD_MSG_ADDRS_MAX);
    return report_provider(fp, p, own, m);
  }
  return report_provider(fp, p, addrs, n);
}

static int providers_reply(lookup_t *l, const peer_id_t *from, const kad_msg_t *reply) {
  find_providers_t *fp = l->ctx;
  (void)from;
  int stop = 0;
  for (size_t i = 0; i < reply->provider_count && !stop; i++)
    stop = report_provider(fp, &reply->providers[i].id, reply->providers[i].addrs, reply->providers[i].addr_count);
  return stop;
}

int kad_find_providers(kad_t *k, const uint8_t *mh, size_t len, size_t max, uint32_t timeout_ms,
                       kad_provider_fn fn, void *ctx) {
  mh_t parsed;
  if (!len || len > 255 || mh_decode(mh, len, &parsed) != (int)len)
    return err_set(-EINVAL, "findprovs: not a multihash");
  find_providers_t *fp = calloc(1, sizeof *fp);
  if (!fp) return -ENOMEM;
  *fp = (find_providers_t){.k = k, .fn = fn, .ctx = ctx, .max = max ? max : KAD_K};
  int rc = kad_store_providers(k->store, mh, len, local_provider, fp);
  if (rc >= 0) rc = 0;
  uint64_t start = mono_ms();
  bool timed_out = false;
  if (!rc && !fp->stop && fp->found < fp->max && k->host) {
    lookup_t *l = lookup_new(KAD_GET_PROVIDERS, mh, len);
    if (!l) rc = -ENOMEM;
    else {
      l->on_reply = providers_reply;
      l->ctx = fp;
      int lr = lookup_run(k, l, timeout_ms, NULL, 0);
      timed_out = !l->done && !l->stopped && lr != -ENOENT;
      (void)start;
      lookup_free(l);
    }
  }
  if (!rc) rc = fp->found ? (int)fp->found : timed_out ? -ETIMEDOUT : 0;
  if (rc == -ETIMEDOUT) err_set(rc, "no providers found in time");
  free(fp);
  return rc;
}

/* ---- values ------------------------------------------------------------ */

typedef struct put_job {
  kad_msg_t msg;
} put_job_t;

static int put_job(fanout_t *f, const peer_id_t *peer) {
  put_job_t *p = f->ctx;
  kad_msg_t reply;
  int rc = request(f->k, peer, &p->msg, &reply, f->timeout_ms);
  if (rc == 0) kad_msg_free(&reply);
  return rc;
}

int kad_put_value(kad_t *k, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len,
                  uint32_t timeout_ms) {
  if (!key_len || key_len > KAD_KEY_BYTES_MAX || value_len > KAD_VALUE_BYTES_MAX)
    return err_set(-EINVAL, "put: key of %zu or value of %zu bytes past the limits", key_len, value_len);
  int rc = validate_record(k, key, key_len, value, value_len);
  if (rc < 0) return rc;
  if ((rc = kad_store_put_value(k->store, key, key_len, value, value_len)) < 0) return rc;
  if (!k->host) return 0;
  peer_id_t peers[KAD_K];
  rc = closest_peers(k, key, key_len, timeout_ms, peers);
  if (rc == -ENOENT) return 0;
  if (rc < 0) return rc;
  put_job_t p = {{0}};
  p.msg.type = KAD_PUT_VALUE;
  p.msg.has_record = true;
  rfc3339_now(p.msg.time_received);
  int brc = buf_append(&p.msg.key, key, key_len);
  if (!brc) brc = buf_append(&p.msg.record_key, key, key_len);
  if (!brc && value_len) brc = buf_append(&p.msg.record_value, value, value_len);
  if (brc) {
    kad_msg_free(&p.msg);
    return brc;
  }
  fanout_t f = {.k = k, .peers = peers, .count = (size_t)rc, .job = put_job, .ctx = &p,
                .timeout_ms = KAD_QUERY_TIMEOUT_MS};
  size_t ok = fanout_run(&f);
  kad_msg_free(&p.msg);
  return (int)ok;
}

#define KAD_BETA 3
#define VALUES_MAX 16

typedef struct get_values {
  kad_t *k;
  const uint8_t *key;
  size_t key_len;
  buf_t values[VALUES_MAX];
  size_t count;
  size_t from_network;
} get_values_t;

static int values_reply(lookup_t *l, const peer_id_t *from, const kad_msg_t *reply) {
  get_values_t *g = l->ctx;
  (void)from;
  if (!reply->has_record || reply->record_key.len != g->key_len ||
      memcmp(reply->record_key.data, g->key, g->key_len) != 0)
    return 0;
  if (validate_record(g->k, g->key, g->key_len, reply->record_value.data, reply->record_value.len) < 0) return 0;
  if (g->count < VALUES_MAX) {
    buf_reset(&g->values[g->count]);
    if (buf_append(&g->values[g->count], reply->record_value.data, reply->record_value.len) == 0) g->count++;
  }
  return ++g->from_network >= KAD_BETA;
}

int kad_get_value(kad_t *k, const uint8_t *key, size_t key_len, buf_t *out, uint32_t timeout_ms) {
  if (!key_len || key_len > KAD_KEY_BYTES_MAX) return err_set(-EINVAL, "get: key of %zu bytes", key_len);
  get_values_t *g = calloc(1, sizeof *g);
  if (!g) return -ENOMEM;
  g->k = k;
  g->key = key;
  g->key_len = key_len;
  if (kad_store_get_value(k->store, key, key_len, &g->values[0]) == 0 &&
      validate_record(k, key, key_len, g->values[0].data, g->values[0].len) == 0)
    g->count = 1;
  int rc = 0;
  if (k->host) {
    lookup_t *l = lookup_new(KAD_GET_VALUE, key, key_len);
    if (!l) rc = -ENOMEM;
    else {
      l->on_reply = values_reply;
      l->ctx = g;
      lookup_run(k, l, timeout_ms, NULL, 0);
      lookup_free(l);
    }
  }
  if (!rc && !g->count) rc = err_set(-ENOENT, "no value found for this key");
  if (!rc) {
    size_t best = select_record(k, key, key_len, g->values, g->count);
    buf_reset(out);
    rc = buf_append(out, g->values[best].data, g->values[best].len);
  }
  for (size_t i = 0; i < VALUES_MAX; i++) buf_free(&g->values[i]);
  free(g);
  return rc;
}

/* ---- finding peers ----------------------------------------------------- */

typedef struct find_peer {
  const peer_id_t *target;
  bool found;
} find_peer_t;

static int peer_reply(lookup_t *l, const peer_id_t *from, const kad_msg_t *reply) {
  find_peer_t *fp = l->ctx;
  if (peer_id_equal(from, fp->target)) fp->found = true;
  for (size_t i = 0; i < reply->closer_count; i++)
    if (peer_id_equal(&reply->closer[i].id, fp->target) && reply->closer[i].addr_count) fp->found = true;
  return fp->found;
}

int kad_find_peer(kad_t *k, const peer_id_t *peer, p2p_peer_info_t *out, uint32_t timeout_ms) {
  if (!k->host) return -ENOENT;
  if (p2p_peer_info(k->host, peer, out) == 0 && out->addr_count && p2p_is_connected(k->host, peer)) return 0;
  find_peer_t fp = {.target = peer};
  lookup_t *l = lookup_new(KAD_FIND_NODE, peer->bytes, peer->len);
  if (!l) return -ENOMEM;
  l->on_reply = peer_reply;
  l->ctx = &fp;
  lookup_run(k, l, timeout_ms, NULL, 0);
  lookup_free(l);
  if (fp.found && p2p_peer_info(k->host, peer, out) == 0 && out->addr_count) return 0;
  return err_set(-ENOENT, "peer not found in the DHT");
}

/* ---- the reprovider ---------------------------------------------------- */

typedef struct reprovide {
  kad_t *k;
  kad_region_key_t *keys;
  size_t count;
  size_t cap;
  buf_t arena;
  bool truncated;
  uint64_t regions;
  uint64_t sent;              /* (key, peer) announcements written */
} reprovide_t;

static int collect_key(void *ctx, const uint8_t *mh, size_t len) {
  reprovide_t *r = ctx;
  if (!len || len > 255) return 0;
  if (r->count == KAD_REPROVIDE_KEYS_MAX) {
    r->truncated = true;
    return 1;
  }
  if (r->count == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 1024;
    kad_region_key_t *grown = realloc(r->keys, cap * sizeof *grown);
    if (!grown) return -ENOMEM;
    r->keys = grown;
    r->cap = cap;
  }
  if (r->arena.len + len > UINT32_MAX) {
    r->truncated = true;
    return 1;
  }
  kad_region_key_t *key = &r->keys[r->count];
  kad_hash(mh, len, key->hash);
  key->mh_offset = (uint32_t)r->arena.len;
  key->mh_len = (uint32_t)len;
  if (buf_append(&r->arena, mh, len) < 0) return -ENOMEM;
  r->count++;
  return 0;
}

static int reprovide_region(void *ctx, const kad_region_key_t *keys, size_t count) {
  reprovide_t *r = ctx;
  kad_t *k = r->k;
  if (stopping(k)) return -ECANCELED;
  r->regions++;
  for (size_t i = 0; i < count; i++) {
    int rc = store_self(k, r->arena.data + keys[i].mh_offset, keys[i].mh_len);
    if (rc < 0) return rc;
  }
  if (!k->host) return 0;
  /* one lookup for the region: towards its middle key */
  const kad_region_key_t *mid = &keys[count / 2];
  peer_id_t peers[KAD_K];
  int rc = closest_peers(k, r->arena.data + mid->mh_offset, mid->mh_len, KAD_LOOKUP_TIMEOUT_MS, peers);
  if (rc <= 0) return 0; /* nobody to tell; keep going */
  provide_batch_t b = {.arena = r->arena.data, .keys = keys, .count = count};
  fanout_t f = {.k = k, .peers = peers, .count = (size_t)rc, .job = provide_job, .ctx = &b,
                .timeout_ms = KAD_QUERY_TIMEOUT_MS};
  r->sent += fanout_run(&f) * count;
  return 0;
}

int kad_reprovide(kad_t *k, kad_reprovide_stat_t *stat) {
  if (!k->reprovide_source) return err_set(-ENOENT, "no reprovide source");
  reprovide_t r = {.k = k};
  uint64_t start = mono_ms();
  int rc = k->reprovide_source(k->reprovide_ctx, collect_key, &r);
  if (rc > 0) rc = 0;
  if (!rc && r.truncated)
    log_warn("kad", "reprovide: more than %u keys; the rest wait for the next pass", KAD_REPROVIDE_KEYS_MAX);
  unsigned bits = 0;
  if (!rc) {
    pthread_mutex_lock(&k->mu);
    bits = kad_region_bits(kad_table_estimate(&k->table));
    pthread_mutex_unlock(&k->mu);
    rc = kad_regions(r.keys, r.count, bits, reprovide_region, &r);
  }
  if (stat) {
    stat->keys = r.count;
    stat->regions = r.regions;
    stat->announcements = r.sent;
    stat->prefix_bits = bits;
    stat->elapsed_ms = mono_ms() - start;
  }
  if (!rc)
    log_info("kad", "reprovided %zu keys in %llu regions (%llu announcements) in %llu ms", r.count,
             (unsigned long long)r.regions, (unsigned long long)r.sent,
             (unsigned long long)(mono_ms() - start));
  free(r.keys);
  buf_free(&r.arena);
  return rc;
}

typedef struct pin_roots {
  kad_key_fn fn;
  void *ctx;
} pin_roots_t;

static int pin_root(void *ctx, const pin_info_t *pin) {
  pin_roots_t *r = ctx;
  uint8_t mh[MH_BYTES_MAX];
  size_t len = cid_mh_bytes(&pin->cid, mh);
  return len ? r->fn(r->ctx, mh, len) : 0;
}

int kad_pins_source(void *pins, kad_key_fn fn, void *fn_ctx) {
  int rc = pins_reachable(pins, fn, fn_ctx);
  if (rc >= 0 || rc == -ENOMEM) return rc;
  log_warn("kad", "reprovide: walking the pinned DAGs failed (%s); announcing the pinned CIDs only", err_msg(rc));
  pin_roots_t r = {fn, fn_ctx};
  return pins_ls(pins, PIN_DIRECT | PIN_RECURSIVE, pin_root, &r);
}

/* ---- background: bootstrap, refresh, sweep, reprovide -------------------- */

static void bootstrap(kad_t *k) {
  size_t skipped = 0;
  char first[MA_TEXT_BYTES_MAX] = "";
  for (size_t i = 0; i < k->bootstrap_count && !stopping(k); i++) {
    peer_id_t id;
    struct sockaddr_storage sa;
    socklen_t sa_len;
    if (ma_peer_id(&k->bootstrap[i], &id) < 0 || ma_to_sockaddr(&k->bootstrap[i], &sa, &sa_len) < 0) {
      if (!skipped++) ma_format(&k->bootstrap[i], first);
      continue;
    }
    int rc = p2p_connect(k->host, &k->bootstrap[i], NULL, KAD_BOOTSTRAP_DIAL_MS);
    if (rc < 0) {
      char text[MA_TEXT_BYTES_MAX] = "";
      ma_format(&k->bootstrap[i], text);
      log_info("kad", "bootstrap peer %s: %s", text, err_msg(rc));
    }
  }
  if (skipped)
    log_info("kad", "bootstrap: skipped %zu peer(s) this node cannot dial (only /ip4|ip6/../tcp/../p2p/..), e.g. %s",
             skipped, first);
}

/* A key whose hash shares exactly cpl leading bits with ours (random below). */
static void random_key_at(kad_t *k, unsigned cpl, uint8_t key[32]) {
  uint8_t h[KAD_HASH_BYTES];
  for (uint32_t tries = 0; tries < (1u << 22); tries++) {
    for (int i = 0; i < 32; i += 4) {
      uint32_t r = (uint32_t)random();
      memcpy(key + i, &r, 4);
    }
    kad_hash(key, 32, h);
    if (kad_cpl(k->table.self, h) == cpl) return;
  }
}

void kad_refresh(kad_t *k) {
  peer_id_t peers[KAD_K];
  closest_peers(k, k->self.bytes, k->self.len, KAD_LOOKUP_TIMEOUT_MS, peers);
  for (unsigned cpl = 0; cpl <= KAD_REFRESH_CPL_MAX && !stopping(k); cpl++) {
    pthread_mutex_lock(&k->mu);
    bool empty = k->table.counts[cpl] == 0;
    pthread_mutex_unlock(&k->mu);
    if (empty) continue;
    uint8_t key[32];
    random_key_at(k, cpl, key);
    closest_peers(k, key, sizeof key, KAD_LOOKUP_TIMEOUT_MS, peers);
  }
  log_debug("kad", "routing table refreshed: %zu peers", kad_table_size(k));
}

static void *background(void *arg) {
  kad_t *k = arg;
  bootstrap(k);
  if (!stopping(k)) kad_refresh(k);
  uint64_t now = mono_ms();
  uint64_t next_refresh = now + KAD_REFRESH_MS, next_sweep = now + KAD_SWEEP_MS;
  uint64_t next_reprovide = k->reprovide_source ? now + KAD_REPROVIDE_FIRST_MS : UINT64_MAX;
  pthread_mutex_lock(&k->mu);
  while (!k->stopping) {
    now = mono_ms();
    uint64_t next = next_refresh < next_sweep ? next_refresh : next_sweep;
    if (next_reprovide < next) next = next_reprovide;
    if (now < next) {
      uint64_t wait_ms = next - now;
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += (time_t)(wait_ms / 1000);
      ts.tv_nsec += (long)(wait_ms % 1000) * 1000000;
      if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
      pthread_cond_timedwait(&k->cond, &k->mu, &ts);
      continue;
    }
    pthread_mutex_unlock(&k->mu);
    if (now >= next_refresh) {
      kad_refresh(k);
      next_refresh = mono_ms() + KAD_REFRESH_MS;
    }
    if (now >= next_sweep) {
      uint64_t removed = 0;
      int rc = kad_store_sweep(k->store, &removed);
      if (rc < 0) log_warn("kad", "store sweep: %s", err_msg(rc));
      else if (removed) log_info("kad", "store sweep removed %llu expired records", (unsigned long long)removed);
      next_sweep = mono_ms() + KAD_SWEEP_MS;
    }
    if (now >= next_reprovide) {
      int rc = kad_reprovide(k, NULL);
      if (rc < 0 && rc != -ECANCELED) log_warn("kad", "reprovide: %s", err_msg(rc));
      next_reprovide = mono_ms() + k->reprovide_interval_ms;
    }
    pthread_mutex_lock(&k->mu);
  }
  pthread_mutex_unlock(&k->mu);
  return NULL;
}

/* ---- lifecycle ---------------------------------------------------------- */

int kad_new(const kad_opts_t *opts, kad_t **out) {
  if (!opts || !opts->store_path) return err_set(-EINVAL, "dht: a store path is required");
  kad_t *k = calloc(1, sizeof *k);
  if (!k) return -ENOMEM;
  k->host = opts->host;
  if (k->host) {
    k->self = p2p_key(k->host)->id;
  } else {
    peer_key_t key;
    uint8_t seed[PEER_ED25519_BYTES] = {0};
    peer_key_from_seed(seed, &key);
    k->self = key.id;
  }
  snprintf(k->protocol, sizeof k->protocol, "%s", opts->protocol ? opts->protocol : KAD_PROTOCOL);
  k->server = opts->server;
  k->reprovide_interval_ms = opts->reprovide_interval_ms ? opts->reprovide_interval_ms : KAD_REPROVIDE_DEFAULT_MS;
  k->reprovide_source = opts->reprovide_source;
  k->reprovide_ctx = opts->reprovide_ctx;
  pthread_mutex_init(&k->mu, NULL);
  pthread_cond_init(&k->cond, NULL);
  kad_table_init(&k->table, &k->self);
  int rc = 0;
  if (opts->bootstrap_count) {
    k->bootstrap = calloc(opts->bootstrap_count, sizeof *k->bootstrap);
    if (!k->bootstrap) rc = -ENOMEM;
    else {
      memcpy(k->bootstrap, opts->bootstrap, opts->bootstrap_count * sizeof *k->bootstrap);
      k->bootstrap_count = opts->bootstrap_count;
    }
  }
  if (!rc) rc = kad_store_open(opts->store_path, opts->clock, opts->clock_ctx, &k->store);
  kad_validator_t pk = {.namespace_name = "pk", .validate = pk_validate, .select = pk_select};
  if (!rc) rc = kad_add_validator(k, &pk);
  if (!rc && k->host && k->server) rc = p2p_handle(k->host, k->protocol, handle_stream, k);
  if (!rc && k->host) rc = p2p_on_peer(k->host, on_peer, k);
  if (rc < 0) {
    kad_free(k);
    return rc;
  }
  *out = k;
  return 0;
}

int kad_start(kad_t *k) {
  if (!k->host) return 0;
  if (k->thread_running) return -EALREADY;
  int rc = pthread_create(&k->thread, NULL, background, k);
  if (rc) return err_set(-rc, "dht: cannot start its thread");
  k->thread_running = true;
  return 0;
}

void kad_stop(kad_t *k) {
  if (!k) return;
  pthread_mutex_lock(&k->mu);
  k->stopping = true;
  pthread_cond_broadcast(&k->cond);
  pthread_mutex_unlock(&k->mu);
  if (k->thread_running) {
    pthread_join(k->thread, NULL);
    k->thread_running = false;
  }
}

void kad_free(kad_t *k) {
  if (!k) return;
  kad_stop(k);
  /* the host is gone (p2p_free waited for our handlers) or never had any */
  assert(atomic_load(&k->handlers) == 0);
  kad_store_close(k->store);
  kad_table_free(&k->table);
  free(k->bootstrap);
  pthread_cond_destroy(&k->cond);
  pthread_mutex_destroy(&k->mu);
  free(k);
}

size_t kad_table_size(kad_t *k) {
  pthread_mutex_lock(&k->mu);
  size_t n = k->table.size;
  pthread_mutex_unlock(&k->mu);
  return n;
}

bool kad_is_server(const kad_t *k) { return k->server; }

int kad_table_peers(kad_t *k, peer_id_t *out, size_t cap) {
  pthread_mutex_lock(&k->mu);
  size_t n = 0;
  for (unsigned b = 0; b < KAD_BUCKETS; b++)
    for (unsigned i = 0; i < k->table.counts[b]; i++, n++)
      if (n < cap) out[n] = k->table.buckets[b][i].id;
  pthread_mutex_unlock(&k->mu);
  return (int)n;
}
