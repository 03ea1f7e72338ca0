/*
 * p2p_peers: the host's peer store (addresses with expiry, identify's
 * protocols and agent, score and bans), identify (/ipfs/id/1.0.0 asked on
 * every new connection, answered to anyone; push received), ping
 * (/ipfs/ping/1.0.0) and the connection manager (p2p.h).
 */
#include <assert.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "err.h"
#include "envelope.pb-c.h"
#include "identify.pb-c.h"
#include "log.h"
#include "p2p_internal.h"

#define MOD "p2p"
#define IDENTIFY_TIMEOUT_MS 10000u
#define PING_SERVE_TIMEOUT_MS 60000u /* an idle ping stream is closed after this */
#define PING_BYTES 32
#define PING_ROUNDS_MAX 100000u      /* pings answered on one stream */
#define IDENTIFY_PENALTY 20

/* ---- the store (p->mu held) ------------------------------------------------------------------ */

static uint32_t peer_hash(const peer_id_t *id) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < id->len; i++) h = (h ^ id->bytes[i]) * 16777619u;
  return h;
}

/* Drops the entry longest unseen with no connection and no ban; false when none. */
static bool peer_evict(p2p_t *p, uint64_t now) {
  p2p_peer_entry_t **victim = NULL;
  for (size_t b = 0; b < P2P_PEER_BUCKETS; b++)
    for (p2p_peer_entry_t **pp = &p->peers[b]; *pp; pp = &(*pp)->next) {
      p2p_peer_entry_t *e = *pp;
      if (e->connections || e->banned_until_ms > now) continue;
      if (!victim || e->last_seen_ms < (*victim)->last_seen_ms) victim = pp;
    }
  if (!victim) return false;
  p2p_peer_entry_t *e = *victim;
  *victim = e->next;
  free(e);
  p->peer_count--;
  return true;
}

p2p_peer_entry_t *peer_entry(p2p_t *p, const peer_id_t *peer, bool create) {
  uint32_t b = peer_hash(peer) % P2P_PEER_BUCKETS;
  for (p2p_peer_entry_t *e = p->peers[b]; e; e = e->next)
    if (peer_id_equal(&e->info.id, peer)) return e;
  if (!create) return NULL;
  uint64_t now = p2p_now_ms();
  if (p->peer_count >= P2P_PEERS_MAX && !peer_evict(p, now)) return NULL;
  p2p_peer_entry_t *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->info.id = *peer;
  e->last_seen_ms = now;
  e->next = p->peers[b];
  p->peers[b] = e;
  p->peer_count++;
  return e;
}

void peers_free(p2p_t *p) {
  for (size_t b = 0; b < P2P_PEER_BUCKETS; b++)
    while (p->peers[b]) {
      p2p_peer_entry_t *e = p->peers[b];
      p->peers[b] = e->next;
      free(e);
    }
  p->peer_count = 0;
}

bool peer_banned_locked(p2p_t *p, const peer_id_t *peer, uint64_t now_ms) {
  p2p_peer_entry_t *e = peer_entry(p, peer, false);
  return e && e->banned_until_ms > now_ms;
}

static bool addr_live(const p2p_peer_entry_t *e, const p2p_addr_entry_t *a, uint64_t now) {
  return (a->while_connected && e->connections > 0) || a->expires_ms > now;
}

void peer_add_addrs_locked(p2p_t *p, p2p_peer_entry_t *e, const multiaddr_t *addrs, size_t n, uint64_t ttl_ms,
                           uint64_t now_ms) {
  (void)p;
  uint64_t expires = now_ms + (ttl_ms ? ttl_ms : P2P_ADDR_TTL_CONNECTED_MS);
  for (size_t i = 0; i < n; i++) {
    multiaddr_t bare;
    ma_without_peer(&addrs[i], &bare);
    if (bare.len == 0) continue;
    p2p_addr_entry_t *slot = NULL;
    for (size_t j = 0; j < e->info.addr_count; j++)
      if (ma_equal(&e->addrs[j].addr, &bare)) slot = &e->addrs[j];
    if (slot) {
      if (expires > slot->expires_ms) slot->expires_ms = expires;
      if (!ttl_ms) slot->while_connected = true;
      continue;
    }
    if (e->info.addr_count < P2P_ADDRS_MAX) {
      slot = &e->addrs[e->info.addr_count++];
    } else { /* full: the one expiring first (a dead one first) goes */
      slot = &e->addrs[0];
      for (size_t j = 1; j < e->info.addr_count; j++) {
        bool live_j = addr_live(e, &e->addrs[j], now_ms), live_s = addr_live(e, slot, now_ms);
        if ((!live_j && live_s) || (live_j == live_s && e->addrs[j].expires_ms < slot->expires_ms)) slot = &e->addrs[j];
      }
    }
    slot->addr = bare;
    slot->expires_ms = expires;
    slot->while_connected = ttl_ms == 0;
  }
}

int p2p_peer_add_addrs(p2p_t *p, const peer_id_t *peer, const multiaddr_t *addrs, size_t n, uint64_t ttl_ms) {
  if (!peer || (n && !addrs)) return err_set(-EINVAL, "no peer");
  if (peer_id_equal(peer, &p->key.id)) return 0;
  pthread_mutex_lock(&p->mu);
  p2p_peer_entry_t *e = peer_entry(p, peer, true);
  if (e) peer_add_addrs_locked(p, e, addrs, n, ttl_ms, p2p_now_ms());
  pthread_mutex_unlock(&p->mu);
  return e ? 0 : err_set(-ENOSPC, "the peer store is full");
}

int p2p_peer_info(p2p_t *p, const peer_id_t *peer, p2p_peer_info_t *out) {
  uint64_t now = p2p_now_ms();
  pthread_mutex_lock(&p->mu);
  p2p_peer_entry_t *e = peer_entry(p, peer, false);
  if (!e) {
    pthread_mutex_unlock(&p->mu);
    return -ENOENT;
  }
  *out = e->info;
  out->addr_count = 0;
  for (size_t i = 0; i < e->info.addr_count; i++)
    if (addr_live(e, &e->addrs[i], now)) out->addrs[out->addr_count++] = e->addrs[i].addr;
  pthread_mutex_unlock(&p->mu);
  return 0;
}

bool p2p_peer_supports(p2p_t *p, const peer_id_t *peer, const char *protocol) {
  bool yes = false;
  pthread_mutex_lock(&p->mu);
  p2p_peer_entry_t *e = peer_entry(p, peer, false);
  for (size_t i = 0; e && i < e->info.protocol_count && !yes; i++) yes = strcmp(e->info.protocols[i], protocol) == 0;
  pthread_mutex_unlock(&p->mu);
  return yes;
}

void p2p_peer_penalize(p2p_t *p, const peer_id_t *peer, int32_t penalty, const char *reason) {
  if (penalty <= 0) return;
  char id[PEER_ID_TEXT_BYTES_MAX] = "?";
  (void)peer_id_format(peer, id);
  uint64_t now = p2p_now_ms();
  bool ban = false;
  int32_t score = 0;
  pthread_mutex_lock(&p->mu);
  p2p_peer_entry_t *e = peer_entry(p, peer, true);
  if (e) {
    e->info.score = e->info.score < INT32_MIN + penalty ? INT32_MIN : e->info.score - penalty;
    score = e->info.score;
    if (score <= P2P_SCORE_BAN && e->banned_until_ms <= now) {
      e->banned_until_ms = now + P2P_BAN_MS;
      ban = true;
    }
  }
  pthread_mutex_unlock(&p->mu);
  log_kv(LOG_LEVEL_INFO, MOD,
         ((log_kv_t[]){LOG_STR("peer", id), LOG_INT("penalty", penalty), LOG_INT("score", score),
                       LOG_STR("reason", reason ? reason : "")}),
         "peer penalized");
  if (ban) {
    metrics_counter_inc(p->m_bans);
    log_kv(LOG_LEVEL_WARN, MOD, ((log_kv_t[]){LOG_STR("peer", id), LOG_INT("minutes", P2P_BAN_MS / 60000)}),
           "peer banned");
    p2p_disconnect(p, peer);
  }
}

bool p2p_peer_banned(p2p_t *p, const peer_id_t *peer) {
  pthread_mutex_lock(&p->mu);
  bool banned = peer_banned_locked(p, peer, p2p_now_ms());
  pthread_mutex_unlock(&p->mu);
  return banned;
}

/* ---- the connection manager ------------------------------------------------------------------ */

typedef struct trim_candidate {
  p2p_conn_t *c;
  uint32_t streams;
  uint64_t opened_ms;
} trim_candidate_t;

static int trim_order(const void *a, const void *b) {
  const trim_candidate_t *x = a, *y = b;
  if (x->streams != y->streams) return x->streams < y->streams ? -1 : 1;
  if (x->opened_ms != y->opened_ms) return x->opened_ms < y->opened_ms ? -1 : 1;
  return 0;
}

void connmgr_trim(p2p_t *p, p2p_conn_t *keep) {
  pthread_mutex_lock(&p->mu);
  if (p->conn_count <= p->opts.connections_high) {
    pthread_mutex_unlock(&p->mu);
    return;
  }
  size_t excess = p->conn_count - p->opts.connections_low;
  trim_candidate_t *cand = calloc(p->conn_count, sizeof *cand);
  size_t n = 0;
  for (p2p_conn_t *c = p->conns; cand && c && n < p->conn_count; c = c->next)
    if (c != keep && atomic_load(&c->ready))
      cand[n++] = (trim_candidate_t){c, atomic_load(&c->streams), c->opened_ms};
  if (cand) {
    qsort(cand, n, sizeof *cand, trim_order); /* least used, then oldest, first */
    if (excess > n) excess = n;
    for (size_t i = 0; i < excess; i++) conn_ref(cand[i].c);
  }
  pthread_mutex_unlock(&p->mu);
  if (!cand) return;
  log_info(MOD, "connection manager: %zu connections above the high watermark %zu, closing %zu", n + 1,
           p->opts.connections_high, excess);
  for (size_t i = 0; i < excess; i++) {
    conn_close_async(cand[i].c, -ECONNRESET, "connection manager: above the high watermark", 0);
    conn_unref(cand[i].c);
  }
  free(cand);
}

/* ---- identify -------------------------------------------------------------------------------- */

static bool ma_unspecified(const multiaddr_t *ma) {
  static const uint8_t zero[16];
  if (ma->len >= 5 && ma->bytes[0] == 0x04) return memcmp(ma->bytes + 1, zero, 4) == 0;
  if (ma->len >= 17 && ma->bytes[0] == 0x29) return memcmp(ma->bytes + 1, zero, 16) == 0;
  return false;
}

size_t p2p_announce_addrs(p2p_t *p, multiaddr_t *out, size_t cap) {
  size_t n = 0;
  struct ifaddrs *ifs = NULL;
  bool have_ifs = false;
  for (size_t i = 0; i < p->listener_count && n < cap; i++) {
    const multiaddr_t *l = &p->listeners[i].addr;
    if (!ma_unspecified(l)) {
      if (p->opts.announce_private || !ma_is_private(l)) out[n++] = *l;
      continue;
    }
    if (!have_ifs) have_ifs = getifaddrs(&ifs) == 0;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (!have_ifs || ma_to_sockaddr(l, &ss, &sl) != 0) continue;
    for (struct ifaddrs *ifa = ifs; ifa && n < cap; ifa = ifa->ifa_next) {
      if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != ss.ss_family) continue;
      struct sockaddr_storage one;
      memset(&one, 0, sizeof one);
      if (ss.ss_family == AF_INET) {
        memcpy(&one, ifa->ifa_addr, sizeof(struct sockaddr_in));
        ((struct sockaddr_in *)&one)->sin_port = ((struct sockaddr_in *)&ss)->sin_port;
      } else {
        memcpy(&one, ifa->ifa_addr, sizeof(struct sockaddr_in6));
        ((struct sockaddr_in6 *)&one)->sin6_port = ((struct sockaddr_in6 *)&ss)->sin6_port;
      }
      multiaddr_t ma;
      if (ma_from_sockaddr((struct sockaddr *)&one, &ma) != 0) continue;
      if (!p->opts.announce_private && ma_is_private(&ma)) continue;
      out[n++] = ma;
    }
  }
  if (ifs) freeifaddrs(ifs);
  return n;
}

#define PEER_RECORD_DOMAIN "libp2p-peer-record"
static const uint8_t peer_record_type[] = {0x03, 0x01}; /* multicodec libp2p-peer-record */

/* Our addresses as a signed PeerRecord envelope (js and go keep a peer's
 * addresses from it); into out, replaced.  seq: the record's version. */
static int signed_peer_record(p2p_t *p, const multiaddr_t *addrs, size_t n, uint64_t seq, buf_t *out) {
  P2p__PeerRecord__AddressInfo infos[P2P_ADDRS_MAX], *info_ptrs[P2P_ADDRS_MAX];
  for (size_t i = 0; i < n && i < P2P_ADDRS_MAX; i++) {
    p2p__peer_record__address_info__init(&infos[i]);
    infos[i].has_multiaddr = true;
    infos[i].multiaddr = (ProtobufCBinaryData){addrs[i].len, (uint8_t *)addrs[i].bytes};
    info_ptrs[i] = &infos[i];
  }
  P2p__PeerRecord rec = P2P__PEER_RECORD__INIT;
  rec.has_peer_id = true;
  rec.peer_id = (ProtobufCBinaryData){p->key.id.len, p->key.id.bytes};
  rec.has_seq = true;
  rec.seq = seq;
  rec.n_addresses = n;
  rec.addresses = info_ptrs;
  buf_t payload = {0}, signed_data = {0};
  int rc = buf_reserve(&payload, p2p__peer_record__get_packed_size(&rec));
  if (!rc) payload.len = p2p__peer_record__pack(&rec, payload.data);
  /* signed: varint-prefixed domain, payload type and payload */
  if (!rc) rc = buf_append_varint(&signed_data, sizeof PEER_RECORD_DOMAIN - 1);
  if (!rc) rc = buf_append(&signed_data, PEER_RECORD_DOMAIN, sizeof PEER_RECORD_DOMAIN - 1);
  if (!rc) rc = buf_append_varint(&signed_data, sizeof peer_record_type);
  if (!rc) rc = buf_append(&signed_data, peer_record_type, sizeof peer_record_type);
  if (!rc) rc = buf_append_varint(&signed_data, payload.len);
  if (!rc) rc = buf_append(&signed_data, payload.data, payload.len);
  uint8_t sig[64];
  if (!rc) rc = peer_sign(&p->key, signed_data.data, signed_data.len, sig);
  if (!rc) {
    P2p__Envelope env = P2P__ENVELOPE__INIT;
    env.has_public_key = env.has_payload_type = env.has_payload = env.has_signature = true;
    env.public_key = (ProtobufCBinaryData){sizeof p->key.pub_pb, p->key.pub_pb};
    env.payload_type = (ProtobufCBinaryData){sizeof peer_record_type, (uint8_t *)peer_record_type};
    env.payload = (ProtobufCBinaryData){payload.len, payload.data};
    env.signature = (ProtobufCBinaryData){sizeof sig, sig};
    buf_reset(out);
    rc = buf_reserve(out, p2p__envelope__get_packed_size(&env));
    if (!rc) out->len = p2p__envelope__pack(&env, out->data);
  }
  buf_free(&payload);
  buf_free(&signed_data);
  return rc;
}

void identify_serve(p2p_stream_t *s, void *ctx) {
  p2p_t *p = ctx;
  multiaddr_t addrs[P2P_ADDRS_MAX];
  size_t na = p2p_announce_addrs(p, addrs, P2P_ADDRS_MAX);
  ProtobufCBinaryData listen[P2P_ADDRS_MAX];
  for (size_t i = 0; i < na; i++) listen[i] = (ProtobufCBinaryData){addrs[i].len, addrs[i].bytes};
  char *protocols[P2P_PROTOCOLS_MAX];
  for (size_t i = 0; i < p->handler_count; i++) protocols[i] = p->handlers[i].protocol;
  P2p__Identify msg = P2P__IDENTIFY__INIT;
  msg.has_publickey = true;
  msg.publickey = (ProtobufCBinaryData){sizeof p->key.pub_pb, p->key.pub_pb};
  msg.n_listenaddrs = na;
  msg.listenaddrs = listen;
  msg.n_protocols = p->handler_count;
  msg.protocols = protocols;
  if (s->c->remote_addr.len) {
    msg.has_observedaddr = true;
    msg.observedaddr = (ProtobufCBinaryData){s->c->remote_addr.len, s->c->remote_addr.bytes};
  }
  msg.protocolversion = (char *)P2P_PROTOCOL_VERSION;
  msg.agentversion = p->agent;
  buf_t record = {0};
  if (signed_peer_record(p, addrs, na, p->record_seq, &record) == 0) {
    msg.has_signedpeerrecord = true;
    msg.signedpeerrecord = (ProtobufCBinaryData){record.len, record.data};
  }
  size_t len = p2p__identify__get_packed_size(&msg);
  uint8_t *out = malloc(len ? len : 1);
  if (out) {
    p2p__identify__pack(&msg, out);
    if (p2p_stream_write_msg(s, out, len, IDENTIFY_TIMEOUT_MS) == 0) (void)p2p_stream_close_write(s);
    free(out);
  }
  buf_free(&record);
  p2p_stream_free(s);
}

int identify_parse(const uint8_t *data, size_t len, const peer_id_t *peer, p2p_peer_info_t *out, unsigned *present) {
  memset(out, 0, sizeof *out);
  *present = 0;
  P2p__Identify *msg = p2p__identify__unpack(NULL, len, data);
  if (!msg) return err_set(-EPROTO, "an identify message that does not parse");
  int rc = 0;
  out->id = *peer;
  if (msg->has_publickey) {
    peer_id_t id;
    if (peer_id_from_pubkey(msg->publickey.data, msg->publickey.len, &id) != 0 || !peer_id_equal(&id, peer))
      rc = err_set(-EPROTO, "identify's public key is not the peer's");
  }
  for (size_t i = 0; !rc && i < msg->n_listenaddrs && out->addr_count < P2P_ADDRS_MAX; i++)
    if (ma_from_bytes(msg->listenaddrs[i].data, msg->listenaddrs[i].len, &out->addrs[out->addr_count]) == 0)
      out->addr_count++;
  if (!rc && msg->agentversion) {
    snprintf(out->agent, sizeof out->agent, "%s", msg->agentversion);
    *present |= IDENTIFY_HAS_AGENT;
  }
  if (!rc && msg->protocolversion) {
    snprintf(out->protocol_version, sizeof out->protocol_version, "%s", msg->protocolversion);
    *present |= IDENTIFY_HAS_PROTOCOL_VERSION;
  }
  if (!rc && msg->n_protocols) *present |= IDENTIFY_HAS_PROTOCOLS;
  for (size_t i = 0; !rc && i < msg->n_protocols && out->protocol_count < P2P_PROTOCOLS_MAX; i++)
    if (strlen(msg->protocols[i]) < sizeof out->protocols[0])
      snprintf(out->protocols[out->protocol_count++], sizeof out->protocols[0], "%s", msg->protocols[i]);
  out->identified = rc == 0;
  p2p__identify__free_unpacked(msg, NULL);
  return rc;
}

/* Stores an identify message about c's peer (push: only the fields it
 * carries replace ours).  <0: the message is bad (err_set). */
static int identify_apply(p2p_t *p, p2p_conn_t *c, const uint8_t *data, size_t len, bool push) {
  p2p_peer_info_t *got = malloc(sizeof *got);
  if (!got) return -ENOMEM;
  unsigned present = 0;
  int rc = identify_parse(data, len, &c->peer, got, &present);
  if (!rc) {
    pthread_mutex_lock(&p->mu);
    p2p_peer_entry_t *e = peer_entry(p, &c->peer, true);
    if (e) {
      p2p_peer_info_t *info = &e->info;
      if (!push || (present & IDENTIFY_HAS_AGENT)) memcpy(info->agent, got->agent, sizeof info->agent);
      if (!push || (present & IDENTIFY_HAS_PROTOCOL_VERSION))
        memcpy(info->protocol_version, got->protocol_version, sizeof info->protocol_version);
      if (!push || (present & IDENTIFY_HAS_PROTOCOLS)) {
        memcpy(info->protocols, got->protocols, sizeof info->protocols);
        info->protocol_count = got->protocol_count;
      }
      peer_add_addrs_locked(p, e, got->addrs, got->addr_count, 0, p2p_now_ms());
      info->identified = true;
    }
    pthread_mutex_unlock(&p->mu);
  }
  free(got);
  return rc;
}

void identify_cancel(p2p_t *p, void *arg) {
  p2p_conn_t *c = arg;
  pthread_mutex_lock(&p->mu);
  c->identified = true;
  pthread_mutex_unlock(&p->mu);
  conn_unref(c);
}

/* Finishes a dial waiting on c (p->mu held); p2p.c's dial_finish_locked for the identify path. */
static void identify_done_locked(p2p_t *p, p2p_conn_t *c) {
  c->identified = true;
  p2p_dial_t *d = c->dial;
  if (!d) return;
  c->dial = NULL;
  d->done = true;
  d->rc = atomic_load(&c->ready) ? 0 : -ECONNRESET; /* closed meanwhile (a ban, a limit) */
  if (d->rc) snprintf(d->err, sizeof d->err, "the connection closed during identify");
  d->peer = c->peer;
  if (--d->refs == 0) free(d);
  pthread_cond_broadcast(&p->dial_cond);
}

void identify_job(p2p_t *p, void *arg) {
  p2p_conn_t *c = arg;
  static const char *const proto[] = {P2P_IDENTIFY_PROTOCOL};
  p2p_stream_t *s = NULL;
  buf_t msg = {0};
  bool ok = false;
  int rc = stream_open_on(c, proto, 1, IDENTIFY_TIMEOUT_MS, &s);
  if (!rc) rc = p2p_stream_read_msg(s, &msg, P2P_IDENTIFY_BYTES_MAX, IDENTIFY_TIMEOUT_MS);
  if (!rc) {
    rc = identify_apply(p, c, msg.data, msg.len, false);
    if (rc) conn_close_async(c, -EPROTO, err_msg(rc), IDENTIFY_PENALTY);
    else ok = true;
  } else if (rc == -EMSGSIZE || rc == -EPROTO) {
    conn_close_async(c, -EPROTO, err_msg(rc), IDENTIFY_PENALTY);
  }
  p2p_stream_free(s);
  buf_free(&msg);
  pthread_mutex_lock(&p->mu);
  identify_done_locked(p, c);
  pthread_mutex_unlock(&p->mu);
  if (ok && atomic_load(&c->ready)) p2p_emit(p, P2P_PEER_IDENTIFIED, &c->peer);
  conn_unref(c);
}

void identify_push_serve(p2p_stream_t *s, void *ctx) {
  p2p_t *p = ctx;
  buf_t msg = {0};
  int rc = p2p_stream_read_msg(s, &msg, P2P_IDENTIFY_BYTES_MAX, IDENTIFY_TIMEOUT_MS);
  if (!rc) rc = identify_apply(p, s->c, msg.data, msg.len, true);
  if (rc == -EPROTO || rc == -EMSGSIZE) conn_close_async(s->c, -EPROTO, err_msg(rc), IDENTIFY_PENALTY);
  buf_free(&msg);
  p2p_stream_free(s);
}

/* ---- ping ------------------------------------------------------------------------------------ */

void ping_serve(p2p_stream_t *s, void *ctx) {
  (void)ctx;
  for (unsigned round = 0; round < PING_ROUNDS_MAX; round++) {
    uint8_t data[PING_BYTES];
    size_t got = 0;
    while (got < PING_BYTES) {
      ssize_t n = p2p_stream_read(s, data + got, PING_BYTES - got, PING_SERVE_TIMEOUT_MS);
      if (n <= 0) goto done;
      got += (size_t)n;
    }
    if (p2p_stream_write(s, data, PING_BYTES, PING_SERVE_TIMEOUT_MS) != 0) break;
  }
done:
  p2p_stream_free(s);
}

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t p2p_ping(p2p_t *p, const peer_id_t *peer, uint32_t timeout_ms) {
  static const char *const proto[] = {P2P_PING_PROTOCOL};
  if (!timeout_ms) timeout_ms = p->opts.dial_timeout_ms;
  p2p_stream_t *s = NULL;
  int rc = p2p_stream_open(p, peer, proto, 1, timeout_ms, &s);
  if (rc) return rc;
  uint8_t sent[PING_BYTES], got[PING_BYTES];
  if (getrandom(sent, sizeof sent, 0) != (ssize_t)sizeof sent) {
    p2p_stream_free(s);
    return err_set(-EIO, "no random bytes");
  }
  uint64_t t0 = now_us();
  rc = p2p_stream_write(s, sent, sizeof sent, timeout_ms);
  size_t have = 0;
  while (!rc && have < sizeof got) {
    ssize_t n = p2p_stream_read(s, got + have, sizeof got - have, timeout_ms);
    if (n < 0) rc = (int)n;
    else if (n == 0) rc = err_set(-EPROTO, "the peer closed the ping stream");
    else have += (size_t)n;
  }
  uint64_t t1 = now_us();
  if (!rc && memcmp(sent, got, sizeof sent) != 0) rc = err_set(-EPROTO, "the ping came back different");
  if (!rc) (void)p2p_stream_close_write(s);
  p2p_stream_free(s);
  return rc ? rc : (int64_t)(t1 - t0);
}
