/*
 * bitswap: the engine on the host (bitswap.h has the behaviour; the codec
 * and the ledger rules are bitswap_msg.c).
 *
 * State, all under one mutex (b->mu), never held across the network, the
 * DHT or the block store:
 *   peers     a table of bpeer_t: our outbound stream (owned by the worker
 *             that holds the peer busy), the queue of our want entries to
 *             send, the remote's ledger, and client-side figures (blocks
 *             received, want-blocks in flight).
 *   ready     a ring of peers with something to send (each at most once);
 *             workers pop one, build and send one message, push it back if
 *             more is left: round-robin between peers.
 *   wants     the client's table of wanted blocks; bitswap_get waiters sleep
 *             on want_cond; prefetch wants have no waiter.
 *   prefetch  a deque of CIDs waiting for the prefetch window (links of a
 *             file node pushed at the front in order, so the next blocks of
 *             what is being read come first).
 *   recent    fingerprints of wants that ended, so their late blocks are
 *             duplicates rather than unwanted (no penalty).
 *
 * Peers are found by polling the host's connections from the manager thread
 * (every BITSWAP_TICK_MS) rather than by a p2p_on_peer callback, so nothing
 * of ours is called by the host after bitswap_free.  Inbound streams run on
 * the host's handler threads; bitswap_free resets them and waits.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bitswap.h"
#include "dagpb.h"
#include "err.h"
#include "log.h"
#include "unixfs.h"
#include "varint.h"

#define BITSWAP_TICK_MS 50             /* manager: stalls, prefetch, peers */
#define BITSWAP_ASK_MAX 16             /* peers asked per want */
#define BITSWAP_TAKE_MAX 64            /* ledger wants considered per reply message */
#define BITSWAP_KAD_QUEUE_MAX 64       /* DHT lookups waiting */
#define BITSWAP_CONN_POLL_MAX 1024     /* connections looked at per poll */
#define BITSWAP_FETCH_TIMEOUT_MS_DEFAULT 60000
#define BITSWAP_RETRY_MS 5000
#define BITSWAP_INSTANCES_MAX 64       /* bitswap_t alive at once in a process */
#define BITSWAP_POLL_MS 500            /* an idle inbound stream's read wakes to notice bitswap_free */          /* a peer whose stream failed is tried again after this */

static const char *const bitswap_protocols[] = {BITSWAP_PROTOCOL_120, BITSWAP_PROTOCOL_110,
                                                BITSWAP_PROTOCOL_100, BITSWAP_PROTOCOL_LEGACY};
#define BITSWAP_PROTOCOL_COUNT (sizeof bitswap_protocols / sizeof bitswap_protocols[0])

typedef struct bpeer {
  peer_id_t id;
  bool connected;             /* seen among the host's connections (or an inbound stream) */
  bool failed;                /* our stream could not be opened/written (retried after BITSWAP_RETRY_MS) */
  uint64_t failed_ms;         /* when */
  bool seen;                  /* poll mark */
  bool announce;              /* send it the whole wantlist (new peer) */
  bool busy;                  /* a worker owns out and is sending */
  bool queued;                /* on the ready ring */
  p2p_stream_t *out;          /* our stream to it (owned by the busy worker / the table) */
  bitswap_version_t version;  /* of out */
  bitswap_entry_t *outq;      /* our entries to send, FIFO */
  size_t outq_len, outq_cap;  /* <= BITSWAP_PEER_QUEUE_MAX */
  bitswap_ledger_t ledger;    /* its wants (server) */
  uint32_t inflight;          /* our want-blocks it has not answered */
  uint64_t blocks_from;       /* blocks it sent us */
  uint64_t haves_from;        /* HAVEs it sent us */
  uint32_t stalls;            /* want-blocks it let stall */
} bpeer_t;

enum ask_state { ASK_HAVE = 1, ASK_BLOCK, SAID_HAVE, SAID_DONT_HAVE, ASK_STALLED, ASK_FAILED };

typedef struct ask {
  bpeer_t *peer;
  uint8_t state;              /* enum ask_state */
} ask_t;

typedef struct bwant {
  cid_t cid;
  uint64_t seq;               /* priority order */
  uint64_t created_ms;
  uint64_t deadline_ms;       /* prefetch wants end here */
  uint32_t waiters;           /* bitswap_get callers sleeping on it */
  bool prefetch;              /* started by the prefetcher */
  bool follow;                /* want a file node's links when it arrives */
  bool done;                  /* stored */
  bool lookup;                /* a DHT lookup was queued */
  bpeer_t *block_peer;        /* want-block in flight to (NULL none) */
  uint64_t block_sent_ms;
  uint64_t routed_ms;         /* last (re)routing */
  ask_t asked[BITSWAP_ASK_MAX];
  size_t asked_len;
} bwant_t;

struct bitswap {
  bitswap_opts_t opts;
  uint64_t instance;          /* the handler's ctx: an id in the registry, not a pointer */
  uint32_t stall_ms;
  uint32_t fetch_timeout_ms;

  pthread_mutex_t mu;
  pthread_cond_t work_cond;   /* workers: ready ring not empty */
  pthread_cond_t want_cond;   /* waiters: a want finished */
  pthread_cond_t mgr_cond;    /* manager and kad thread: something to do, or stopping */
  pthread_cond_t idle_cond;   /* bitswap_free: handlers/fetches gone */
  bool stopping;

  bpeer_t *peers[BITSWAP_PEERS_MAX];
  size_t peers_len;
  bpeer_t *ready[BITSWAP_PEERS_MAX];
  size_t ready_head, ready_len;

  bwant_t *wants[BITSWAP_WANTS_MAX];
  size_t wants_len;
  uint64_t want_seq;
  size_t prefetch_active;     /* wants with prefetch and no waiter */

  cid_t *prefetch;            /* deque of BITSWAP_PREFETCH_QUEUE_MAX */
  size_t prefetch_head, prefetch_len;

  uint64_t recent[BITSWAP_RECENT_MAX];
  size_t recent_next;

  uint8_t kad_queue[BITSWAP_KAD_QUEUE_MAX][MH_BYTES_MAX];
  size_t kad_queue_len_bytes[BITSWAP_KAD_QUEUE_MAX];
  size_t kad_head, kad_len;

  p2p_stream_t *inbound[P2P_HANDLER_THREADS_MAX];
  size_t inbound_len;
  size_t handlers;            /* handler threads inside bitswap */
  size_t fetches;             /* fetcher calls inside bitswap */

  pthread_t workers[BITSWAP_WORKERS];
  size_t workers_started;
  pthread_t manager, kad_thread;
  bool manager_started, kad_started;

  bitswap_stats_t stats;
};

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void deadline_ts(uint64_t ms_from_now, struct timespec *ts) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += (time_t)(ms_from_now / 1000);
  ts->tv_nsec += (long)(ms_from_now % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) ts->tv_sec++, ts->tv_nsec -= 1000000000L;
}

static uint64_t mh_fingerprint(const mh_t *mh) {
  uint64_t h = 1469598103934665603ull ^ mh->code;
  for (uint32_t i = 0; i < mh->digest_len; i++) h = (h ^ mh->digest[i]) * 1099511628211ull;
  return h ? h : 1;
}

static const char *cid_text(const cid_t *c, char out[CID_TEXT_BYTES_MAX]) {
  if (cid_format_default(c, out) < 0) snprintf(out, CID_TEXT_BYTES_MAX, "(cid)");
  return out;
}

/* ---- the registry ----
 * The host keeps our handler registered until p2p_free, which may come
 * after bitswap_free: the handler's ctx is an instance id looked up here, so
 * a stream arriving for a freed instance is refused instead of touching
 * freed memory.  A handler counts itself in (b->handlers) under this lock,
 * and bitswap_free leaves the registry before it waits for them. */

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static bitswap_t *registry[BITSWAP_INSTANCES_MAX];
static uint64_t registry_next_id = 1;

static int registry_add(bitswap_t *b) {
  pthread_mutex_lock(&registry_mu);
  int rc = err_set(-EMFILE, "bitswap: more than %d instances", BITSWAP_INSTANCES_MAX);
  for (size_t i = 0; i < BITSWAP_INSTANCES_MAX; i++)
    if (!registry[i]) {
      registry[i] = b;
      b->instance = registry_next_id++;
      rc = 0;
      break;
    }
  pthread_mutex_unlock(&registry_mu);
  return rc;
}

static void registry_remove(bitswap_t *b) {
  pthread_mutex_lock(&registry_mu);
  for (size_t i = 0; i < BITSWAP_INSTANCES_MAX; i++)
    if (registry[i] == b) registry[i] = NULL;
  pthread_mutex_unlock(&registry_mu);
}

/* The live instance of id, counted in as a handler of stream s; NULL when gone. */
static bitswap_t *registry_enter(uint64_t id, p2p_stream_t *s) {
  bitswap_t *found = NULL;
  pthread_mutex_lock(&registry_mu);
  for (size_t i = 0; i < BITSWAP_INSTANCES_MAX && !found; i++)
    if (registry[i] && registry[i]->instance == id) found = registry[i];
  if (found) {
    pthread_mutex_lock(&found->mu);
    if (found->stopping || found->inbound_len >= P2P_HANDLER_THREADS_MAX) {
      found = (pthread_mutex_unlock(&found->mu), NULL);
    } else {
      found->inbound[found->inbound_len++] = s;
      found->handlers++;
      pthread_mutex_unlock(&found->mu);
    }
  }
  pthread_mutex_unlock(&registry_mu);
  return found;
}

/* ---- peers ---- */

static bpeer_t *peer_find_locked(bitswap_t *b, const peer_id_t *id) {
  for (size_t i = 0; i < b->peers_len; i++)
    if (peer_id_equal(&b->peers[i]->id, id)) return b->peers[i];
  return NULL;
}

static bpeer_t *peer_get_locked(bitswap_t *b, const peer_id_t *id) {
  bpeer_t *p = peer_find_locked(b, id);
  if (p || b->peers_len >= BITSWAP_PEERS_MAX) return p;
  p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->id = *id;
  p->announce = true;
  b->peers[b->peers_len++] = p;
  return p;
}

static void ready_push_locked(bitswap_t *b, bpeer_t *p) {
  if (p->queued || p->busy || b->stopping) return;
  assert(b->ready_len < BITSWAP_PEERS_MAX);
  b->ready[(b->ready_head + b->ready_len) % BITSWAP_PEERS_MAX] = p;
  b->ready_len++;
  p->queued = true;
  pthread_cond_signal(&b->work_cond);
}

static bool peer_has_work(const bpeer_t *p) { return p->outq_len > 0 || p->ledger.pending > 0; }

/* Queues one of our entries for p.  A full queue drops it (the stall timer
 * re-routes the want). */
static void peer_queue_locked(bitswap_t *b, bpeer_t *p, const bitswap_entry_t *e) {
  if (p->failed) return;
  if (p->outq_len == p->outq_cap) {
    if (p->outq_cap >= BITSWAP_PEER_QUEUE_MAX) return;
    size_t cap = p->outq_cap ? p->outq_cap * 2 : 64;
    if (cap > BITSWAP_PEER_QUEUE_MAX) cap = BITSWAP_PEER_QUEUE_MAX;
    bitswap_entry_t *grown = realloc(p->outq, cap * sizeof *grown);
    if (!grown) return;
    p->outq = grown;
    p->outq_cap = cap;
  }
  p->outq[p->outq_len++] = *e;
  ready_push_locked(b, p);
}

/* ---- wants ---- */

static int32_t want_priority(const bwant_t *w) {
  /* Earlier wants first; a reader's want before prefetch. */
  int32_t base = w->waiters ? (1 << 30) : 0;
  return base + (int32_t)((1u << 30) - 1 - (uint32_t)(w->seq & ((1u << 30) - 1)));
}

static ask_t *want_ask_locked(bwant_t *w, bpeer_t *p, bool add) {
  for (size_t i = 0; i < w->asked_len; i++)
    if (w->asked[i].peer == p) return &w->asked[i];
  if (!add || w->asked_len >= BITSWAP_ASK_MAX) return NULL;
  w->asked[w->asked_len] = (ask_t){.peer = p};
  return &w->asked[w->asked_len++];
}

static void send_want_locked(bitswap_t *b, bwant_t *w, bpeer_t *p, bool block) {
  ask_t *a = want_ask_locked(w, p, true);
  if (!a) return;
  bitswap_entry_t e = {.cid = w->cid, .priority = want_priority(w), .want_have = !block, .send_dont_have = true};
  /* Peers below 1.2.0 know only want-block. */
  if (!block && p->out && p->version < BITSWAP_V120) block = true, e.want_have = false;
  if (block) {
    a->state = ASK_BLOCK;
    w->block_peer = p;
    w->block_sent_ms = now_ms();
    p->inflight++;
  } else {
    a->state = ASK_HAVE;
  }
  peer_queue_locked(b, p, &e);
}

static bool peer_usable(const bpeer_t *p) { return p->connected && !p->failed; }

/* The peer to ask for the block: one that said HAVE (fewest in flight),
 * else (first_round) the responsive peer with fewest in flight among those
 * not yet asked. */
static bpeer_t *pick_block_peer_locked(bitswap_t *b, bwant_t *w, bool first_round) {
  bpeer_t *best = NULL;
  for (size_t i = 0; i < w->asked_len; i++) {
    ask_t *a = &w->asked[i];
    if (a->state != SAID_HAVE || !peer_usable(a->peer)) continue;
    if (!best || a->peer->inflight < best->inflight) best = a->peer;
  }
  if (best || !first_round) return best;
  for (size_t i = 0; i < b->peers_len; i++) {
    bpeer_t *p = b->peers[i];
    if (!peer_usable(p)) continue;
    if (!(p->blocks_from || p->haves_from)) continue;
    ask_t *a = want_ask_locked(w, p, false);
    if (a && a->state != ASK_HAVE) continue;
    if (!best || p->inflight + p->stalls < best->inflight + best->stalls) best = p;
  }
  return best;
}

/* A want's first round: want-block to the best peer, want-have to the rest. */
static void dispatch_want_locked(bitswap_t *b, bwant_t *w) {
  bpeer_t *best = pick_block_peer_locked(b, w, true);
  size_t asked = 0;
  if (best) {
    send_want_locked(b, w, best, true);
    asked++;
  }
  for (size_t i = 0; i < b->peers_len && asked < BITSWAP_ASK_MAX; i++) {
    bpeer_t *p = b->peers[i];
    if (p == best || !peer_usable(p) || want_ask_locked(w, p, false)) continue;
    /* Nobody has proven itself yet: the first peer gets the want-block. */
    send_want_locked(b, w, p, !w->block_peer);
    asked++;
  }
}

static bwant_t *want_find_locked(bitswap_t *b, const mh_t *mh) {
  for (size_t i = 0; i < b->wants_len; i++)
    if (mh_equal(&b->wants[i]->cid.hash, mh)) return b->wants[i];
  return NULL;
}

static bool recent_has_locked(bitswap_t *b, const mh_t *mh) {
  uint64_t f = mh_fingerprint(mh);
  for (size_t i = 0; i < BITSWAP_RECENT_MAX; i++)
    if (b->recent[i] == f) return true;
  return false;
}

/* Drops w from the table: cancels to the peers asked (unless done: then
 * only to those that did not send it), remembered as recent. */
static void want_remove_locked(bitswap_t *b, bwant_t *w) {
  for (size_t i = 0; i < w->asked_len; i++) {
    ask_t *a = &w->asked[i];
    if (a->peer == w->block_peer && a->peer->inflight) a->peer->inflight--;
    if (a->state == SAID_DONT_HAVE || a->state == ASK_FAILED || !peer_usable(a->peer)) continue;
    bitswap_entry_t e = {.cid = w->cid, .cancel = true};
    peer_queue_locked(b, a->peer, &e);
  }
  b->recent[b->recent_next] = mh_fingerprint(&w->cid.hash);
  b->recent_next = (b->recent_next + 1) % BITSWAP_RECENT_MAX;
  if (w->prefetch && !w->waiters) {
    assert(b->prefetch_active > 0);
    b->prefetch_active--;
  }
  for (size_t i = 0; i < b->wants_len; i++)
    if (b->wants[i] == w) {
      b->wants[i] = b->wants[--b->wants_len];
      break;
    }
  free(w);
  pthread_cond_signal(&b->mgr_cond); /* the prefetch window has room */
}

static bwant_t *want_new_locked(bitswap_t *b, const cid_t *cid, bool prefetch, bool follow) {
  if (b->wants_len >= BITSWAP_WANTS_MAX) return NULL;
  bwant_t *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->cid = *cid;
  w->seq = b->want_seq++;
  w->created_ms = now_ms();
  w->routed_ms = w->created_ms;
  w->deadline_ms = w->created_ms + b->fetch_timeout_ms;
  w->prefetch = prefetch;
  w->follow = follow;
  if (prefetch) b->prefetch_active++;
  b->wants[b->wants_len++] = w;
  dispatch_want_locked(b, w);
  return w;
}

/* Every want whose block peer left or stalled goes to another peer. */
static void reroute_locked(bitswap_t *b, bwant_t *w, uint8_t why) {
  bpeer_t *p = w->block_peer;
  w->routed_ms = now_ms();
  if (p) {
    ask_t *a = want_ask_locked(w, p, false);
    if (a && why) a->state = why;
    if (p->inflight) p->inflight--;
    w->block_peer = NULL;
  }
  bpeer_t *next = pick_block_peer_locked(b, w, false);
  if (next) {
    send_want_locked(b, w, next, true);
    return;
  }
  /* Nobody said HAVE: ask a peer not asked yet for the block, or one that
   * was only asked for HAVE and has not answered. */
  for (size_t i = 0; i < b->peers_len; i++) {
    bpeer_t *q = b->peers[i];
    if (!peer_usable(q) || q == p) continue;
    ask_t *a = want_ask_locked(w, q, false);
    if (!a || a->state == ASK_HAVE) {
      send_want_locked(b, w, q, true);
      return;
    }
  }
  /* Everyone was asked: ask again, for a want that stalled, the peer that
   * stalled least among those that did not say DONT_HAVE (it may have lost
   * the want, or the block on the way).  A cancel first, so a peer that
   * remembers having answered takes it as a new want. */
  if (why != ASK_STALLED) return;
  bpeer_t *again = NULL;
  for (size_t i = 0; i < w->asked_len; i++) {
    ask_t *a = &w->asked[i];
    if (!peer_usable(a->peer) || a->state == SAID_DONT_HAVE || a->state == ASK_FAILED) continue;
    if (!again || a->peer->stalls < again->stalls) again = a->peer;
  }
  if (!again) return;
  bitswap_entry_t cancel = {.cid = w->cid, .cancel = true};
  peer_queue_locked(b, again, &cancel);
  send_want_locked(b, w, again, true);
}

/* ---- receiving ---- */

static void prefetch_links(bitswap_t *b, const cid_t *cid, const uint8_t *data, size_t len);

/* A verified block from peer p (p may be NULL: not tracked). */
static void take_block(bitswap_t *b, const peer_id_t *from, const bitswap_block_t *blk) {
  pthread_mutex_lock(&b->mu);
  bwant_t *w = want_find_locked(b, &blk->cid.hash);
  bool wanted = w && !w->done;
  bool late = !w && recent_has_locked(b, &blk->cid.hash);
  bool follow = w && w->follow && !b->opts.no_prefetch;
  pthread_mutex_unlock(&b->mu);
  char t[CID_TEXT_BYTES_MAX];
  if (!wanted) {
    int has = bs_has(b->opts.bs, &blk->cid, NULL);
    pthread_mutex_lock(&b->mu);
    if (w || late || has == 1) {
      b->stats.blocks_duplicate++;
      pthread_mutex_unlock(&b->mu);
      return;
    }
    b->stats.blocks_rejected++;
    pthread_mutex_unlock(&b->mu);
    log_kv(LOG_LEVEL_WARN, "bitswap", ((log_kv_t[]){LOG_STR("cid", cid_text(&blk->cid, t))}),
           "a block nobody wanted (corrupt?) dropped, sender scored down");
    p2p_peer_penalize(b->opts.host, from, BITSWAP_PENALTY_BAD_BLOCK, "bitswap: block not wanted (corrupt?)");
    return;
  }
  /* Verified: decode hashed the bytes (bitswap_cid_from_prefix: mh_sum of
   * the data, never the sender's claim) and the want was found by that
   * multihash, so the block is the one asked for.  Hashing again here would
   * double the receiver's hashing for nothing. */
  assert(mh_equal(&w->cid.hash, &blk->cid.hash));
  int rc = bs_put(b->opts.bs, &blk->cid, blk->data, blk->len);
  if (rc < 0) {
    log_kv(LOG_LEVEL_ERROR, "bitswap", ((log_kv_t[]){LOG_STR("cid", cid_text(&blk->cid, t))}),
           "storing a fetched block failed: %s", err_msg(rc));
    return;
  }
  pthread_mutex_lock(&b->mu);
  bpeer_t *p = peer_find_locked(b, from); /* looked up again: peers come and go */
  w = want_find_locked(b, &blk->cid.hash);
  if (w && !w->done) {
    w->done = true;
    b->stats.blocks_received++;
    b->stats.bytes_received += blk->len;
    if (p) {
      p->blocks_from++;
      ask_t *a = want_ask_locked(w, p, false);
      if (a) a->state = SAID_DONT_HAVE; /* no cancel needed: it sent it */
    }
    if (w->block_peer && w->block_peer != p) {
      ask_t *a = want_ask_locked(w, w->block_peer, false);
      if (a) a->state = SAID_HAVE; /* gets a cancel */
    }
    pthread_cond_broadcast(&b->want_cond);
    if (!w->waiters) want_remove_locked(b, w);
    else if (w->block_peer) {
      if (w->block_peer->inflight) w->block_peer->inflight--;
      w->block_peer = NULL;
    }
  } else {
    b->stats.blocks_duplicate++;
    follow = false;
  }
  /* Peers that wanted it from us get it now. */
  for (size_t i = 0; i < b->peers_len; i++) {
    bpeer_t *q = b->peers[i];
    if (q->ledger.len && bitswap_ledger_requeue(&q->ledger, &blk->cid) && peer_has_work(q)) ready_push_locked(b, q);
  }
  pthread_mutex_unlock(&b->mu);
  if (follow) prefetch_links(b, &blk->cid, blk->data, blk->len);
}

static void take_presence(bitswap_t *b, bpeer_t *p, const bitswap_presence_t *pr) {
  bwant_t *w = want_find_locked(b, &pr->cid.hash);
  if (!w || w->done || !p) return;
  ask_t *a = want_ask_locked(w, p, true);
  if (!a) return;
  if (pr->have) {
    p->haves_from++;
    if (a->state != ASK_BLOCK) a->state = SAID_HAVE;
    if (!w->block_peer) send_want_locked(b, w, p, true);
  } else {
    bool was_block_peer = w->block_peer == p;
    a->state = SAID_DONT_HAVE;
    if (was_block_peer) {
      if (p->inflight) p->inflight--;
      w->block_peer = NULL;
      reroute_locked(b, w, SAID_DONT_HAVE);
    }
  }
}

/* One message from peer. */
static void take_message(bitswap_t *b, const peer_id_t *from, const bitswap_msg_t *m) {
  if (log_enabled(LOG_LEVEL_DEBUG)) {
    char id[PEER_ID_TEXT_BYTES_MAX];
    if (peer_id_format(from, id) < 0) snprintf(id, sizeof id, "?");
    log_kv(LOG_LEVEL_DEBUG, "bitswap",
           ((log_kv_t[]){LOG_STR("peer", id), LOG_INT("entries", m->entries_len), LOG_INT("full", m->full),
                         LOG_INT("blocks", m->blocks_len), LOG_INT("presences", m->presences_len)}),
           "received");
  }
  pthread_mutex_lock(&b->mu);
  b->stats.messages_received++;
  bpeer_t *p = peer_get_locked(b, from);
  if (p) p->connected = true;
  if (p && m->has_wantlist) {
    if (bitswap_ledger_apply(&p->ledger, m) < 0) log_warn("bitswap", "ledger update failed: out of memory");
    if (peer_has_work(p)) ready_push_locked(b, p);
  }
  for (size_t i = 0; i < m->presences_len; i++) take_presence(b, p, &m->presences[i]);
  pthread_mutex_unlock(&b->mu);
  for (size_t i = 0; i < m->blocks_len; i++) take_block(b, from, &m->blocks[i]);
  if (m->bad_blocks) {
    pthread_mutex_lock(&b->mu);
    b->stats.blocks_rejected += m->bad_blocks;
    pthread_mutex_unlock(&b->mu);
    p2p_peer_penalize(b->opts.host, from, BITSWAP_PENALTY_BAD_BLOCK, "bitswap: unusable block (prefix, hash or size)");
  }
}

static bool is_stopping(bitswap_t *b) { return __atomic_load_n(&b->stopping, __ATOMIC_ACQUIRE); }

/* One varint-length-prefixed message into out.  Reads wake every
 * BITSWAP_POLL_MS so a handler notices bitswap_free without depending on a
 * reset waking a blocked reader.  0, -ENODATA clean end, -ECANCELED
 * stopping, -EMSGSIZE, -EPROTO, or the stream's error. */
static int read_message(bitswap_t *b, p2p_stream_t *s, buf_t *out) {
  uint8_t prefix[10];
  size_t have = 0;
  uint64_t len = 0;
  for (;;) {
    ssize_t n = p2p_stream_read(s, &prefix[have], 1, BITSWAP_POLL_MS);
    if (n == -ETIMEDOUT) {
      if (is_stopping(b)) return -ECANCELED;
      continue;
    }
    if (n < 0) return (int)n;
    if (n == 0) return have ? -EPROTO : -ENODATA;
    have++;
    int rc = varint_decode(prefix, have, &len);
    if (rc > 0) break;
    if (rc != -EAGAIN || have == sizeof prefix) return -EPROTO;
  }
  if (len > BITSWAP_MESSAGE_BYTES_MAX) return -EMSGSIZE;
  buf_reset(out);
  if (buf_reserve(out, (size_t)len) < 0) return -ENOMEM;
  size_t got = 0;
  while (got < len) {
    ssize_t n = p2p_stream_read(s, out->data + got, (size_t)len - got, BITSWAP_POLL_MS);
    if (n == -ETIMEDOUT) {
      if (is_stopping(b)) return -ECANCELED;
      continue;
    }
    if (n < 0) return (int)n;
    if (n == 0) return -EPROTO;
    got += (size_t)n;
  }
  out->len = (size_t)len;
  return 0;
}

static void handle_stream(p2p_stream_t *s, void *ctx) {
  bitswap_t *b = registry_enter((uint64_t)(uintptr_t)ctx, s);
  if (!b) {
    p2p_stream_reset(s);
    p2p_stream_free(s);
    return;
  }

  peer_id_t from = *p2p_stream_peer(s);
  buf_t raw = {0};
  bitswap_arena_t arena = {0};
  for (;;) {
    int rc = read_message(b, s, &raw);
    if (rc < 0) {
      if (rc == -EMSGSIZE || rc == -EPROTO)
        p2p_peer_penalize(b->opts.host, &from, BITSWAP_PENALTY_BAD_MESSAGE, "bitswap: malformed stream");
      break;
    }
    bitswap_msg_t m;
    rc = bitswap_msg_decode_arena(raw.data, raw.len, &m, &arena);
    if (rc < 0) {
      p2p_peer_penalize(b->opts.host, &from, BITSWAP_PENALTY_BAD_MESSAGE, "bitswap: undecodable message");
      break;
    }
    take_message(b, &from, &m);
    bitswap_msg_free(&m);
  }
  buf_free(&raw);
  bitswap_arena_free(&arena);

  pthread_mutex_lock(&b->mu);
  for (size_t i = 0; i < b->inbound_len; i++)
    if (b->inbound[i] == s) {
      b->inbound[i] = b->inbound[--b->inbound_len];
      break;
    }
  b->handlers--;
  pthread_cond_broadcast(&b->idle_cond);
  pthread_mutex_unlock(&b->mu);
  p2p_stream_free(s);
}

/* ---- sending (workers) ---- */

typedef struct worker_scratch {
  bitswap_entry_t entries[BITSWAP_SEND_ENTRIES_MAX];
  bitswap_want_t taken[BITSWAP_TAKE_MAX];
  bool answered[BITSWAP_TAKE_MAX];     /* leaves the ledger */
  bool held[BITSWAP_TAKE_MAX];         /* not reached: back to pending */
  bitswap_block_t blocks[BITSWAP_TAKE_MAX];
  buf_t block_bufs[BITSWAP_TAKE_MAX];
  bitswap_presence_t presences[BITSWAP_TAKE_MAX];
  buf_t msg;
} worker_scratch_t;

/* Marks p failed (stream gone): its wants at us are forgotten, our wants at
 * it re-routed. */
static void peer_failed_locked(bitswap_t *b, bpeer_t *p) {
  p->failed = true;
  p->failed_ms = now_ms();
  p->outq_len = 0;
  bitswap_ledger_free(&p->ledger);
  for (size_t i = 0; i < b->wants_len; i++) {
    bwant_t *w = b->wants[i];
    ask_t *a = want_ask_locked(w, p, false);
    if (a) a->state = ASK_FAILED;
    if (w->block_peer == p && !w->done) reroute_locked(b, w, ASK_FAILED);
  }
  p->inflight = 0;
}

static int ensure_stream(bitswap_t *b, bpeer_t *p) {
  if (p->out) return 0;
  p2p_stream_t *s = NULL;
  int rc = p2p_stream_open(b->opts.host, &p->id, bitswap_protocols, BITSWAP_PROTOCOL_COUNT, BITSWAP_OPEN_TIMEOUT_MS,
                           &s);
  if (rc < 0) return rc;
  bitswap_version_t v = BITSWAP_V120;
  if (bitswap_version_of(p2p_stream_protocol(s), &v) < 0) {
    p2p_stream_reset(s);
    p2p_stream_free(s);
    return -EPROTONOSUPPORT;
  }
  pthread_mutex_lock(&b->mu);
  p->out = s;
  p->version = v;
  pthread_mutex_unlock(&b->mu);
  return 0;
}

/* Builds and sends one message to p (which this worker holds busy). */
static void serve_peer(bitswap_t *b, bpeer_t *p, worker_scratch_t *ws) {
  int rc = ensure_stream(b, p);
  if (rc < 0) {
    char id[PEER_ID_TEXT_BYTES_MAX];
    if (peer_id_format(&p->id, id) < 0) snprintf(id, sizeof id, "?");
    log_kv(LOG_LEVEL_DEBUG, "bitswap", ((log_kv_t[]){LOG_STR("peer", id)}), "no bitswap stream: %s",
           err_msg(rc));
    pthread_mutex_lock(&b->mu);
    peer_failed_locked(b, p);
    pthread_mutex_unlock(&b->mu);
    return;
  }
  pthread_mutex_lock(&b->mu);
  size_t n_entries = p->outq_len < BITSWAP_SEND_ENTRIES_MAX ? p->outq_len : BITSWAP_SEND_ENTRIES_MAX;
  if (n_entries) {
    memcpy(ws->entries, p->outq, n_entries * sizeof *ws->entries);
    memmove(p->outq, p->outq + n_entries, (p->outq_len - n_entries) * sizeof *p->outq);
    p->outq_len -= n_entries;
  }
  size_t n_taken = bitswap_ledger_take(&p->ledger, ws->taken, BITSWAP_TAKE_MAX);
  bitswap_version_t version = p->version;
  pthread_mutex_unlock(&b->mu);

  /* Answers from the store, without the lock. */
  size_t n_blocks = 0, n_pres = 0, block_bytes = 0, msg_bytes = 0;
  uint64_t haves = 0, dont_haves = 0;
  for (size_t i = 0; i < n_taken; i++) {
    bitswap_want_t *w = &ws->taken[i];
    ws->answered[i] = false;
    ws->held[i] = false;
    if (msg_bytes >= BITSWAP_MESSAGE_BLOCK_BYTES_MAX) {
      ws->held[i] = true; /* next message */
      continue;
    }
    uint64_t size = 0;
    int has = bs_has(b->opts.bs, &w->cid, &size);
    if (has == 1 && w->want_have && version >= BITSWAP_V120 && size > BITSWAP_HAVE_INLINE_BYTES_MAX) {
      ws->presences[n_pres++] = (bitswap_presence_t){.cid = w->cid, .have = true};
      ws->answered[i] = true;
      haves++;
      msg_bytes += 48;
      continue;
    }
    if (has == 1) {
      if (n_blocks > 0 && block_bytes + size > BITSWAP_MESSAGE_BLOCK_BYTES_MAX) {
        ws->held[i] = true;
        continue;
      }
      buf_t *bb = &ws->block_bufs[n_blocks];
      if (bs_get(b->opts.bs, &w->cid, bb) == 0) {
        ws->blocks[n_blocks++] = (bitswap_block_t){.cid = w->cid, .data = bb->data, .len = bb->len};
        block_bytes += bb->len;
        msg_bytes += bb->len;
        ws->answered[i] = true;
        continue;
      }
    }
    if (w->send_dont_have && version >= BITSWAP_V120) {
      ws->presences[n_pres++] = (bitswap_presence_t){.cid = w->cid, .have = false};
      dont_haves++;
      msg_bytes += 48;
    }
    /* Not held: the want stays (the block is sent if it arrives). */
  }

  bool sent = false;
  if (n_entries || n_blocks || n_pres) {
    bitswap_msg_t m = {.has_wantlist = n_entries > 0, .entries = ws->entries, .entries_len = n_entries,
                       .blocks = ws->blocks, .blocks_len = n_blocks, .presences = ws->presences,
                       .presences_len = n_pres};
    buf_reset(&ws->msg);
    rc = bitswap_msg_encode(&m, version, &ws->msg);
    if (rc == 0) {
      rc = p2p_stream_write_msg(p->out, ws->msg.data, ws->msg.len, BITSWAP_WRITE_TIMEOUT_MS);
      if (rc < 0 && rc != -ETIMEDOUT) {
        /* The stream died (the remote reset it): one retry on a new one. */
        p2p_stream_t *old = p->out;
        pthread_mutex_lock(&b->mu);
        p->out = NULL;
        pthread_mutex_unlock(&b->mu);
        p2p_stream_free(old);
        if (ensure_stream(b, p) == 0 && p->version == version)
          rc = p2p_stream_write_msg(p->out, ws->msg.data, ws->msg.len, BITSWAP_WRITE_TIMEOUT_MS);
      }
    } else {
      log_warn("bitswap", "encoding a reply failed: %s", err_msg(rc));
    }
    sent = rc == 0;
    if (log_enabled(LOG_LEVEL_DEBUG)) {
      char id[PEER_ID_TEXT_BYTES_MAX];
      if (peer_id_format(&p->id, id) < 0) snprintf(id, sizeof id, "?");
      log_kv(LOG_LEVEL_DEBUG, "bitswap",
             ((log_kv_t[]){LOG_STR("peer", id), LOG_INT("entries", n_entries), LOG_INT("blocks", n_blocks),
                           LOG_INT("presences", n_pres), LOG_INT("bytes", ws->msg.len), LOG_INT("rc", rc)}),
             "sent");
    }
  }
  for (size_t i = 0; i < n_blocks; i++)
    if (ws->block_bufs[i].cap > 4 * BITSWAP_MESSAGE_BLOCK_BYTES_MAX) buf_free(&ws->block_bufs[i]);

  pthread_mutex_lock(&b->mu);
  if (sent) {
    b->stats.messages_sent++;
    b->stats.blocks_sent += n_blocks;
    b->stats.bytes_sent += block_bytes;
    b->stats.haves_sent += haves;
    b->stats.dont_haves_sent += dont_haves;
    for (size_t i = 0; i < n_taken; i++) {
      if (ws->held[i]) {
        bitswap_ledger_requeue(&p->ledger, &ws->taken[i].cid);
        continue;
      }
      if (!ws->answered[i]) continue;
      int at = bitswap_ledger_find(&p->ledger, &ws->taken[i].cid);
      if (at >= 0 && !p->ledger.wants[at].pending) bitswap_ledger_remove(&p->ledger, &ws->taken[i].cid);
    }
  } else if (n_entries || n_blocks || n_pres) {
    peer_failed_locked(b, p);
  } else {
    for (size_t i = 0; i < n_taken; i++)
      if (ws->held[i]) bitswap_ledger_requeue(&p->ledger, &ws->taken[i].cid);
  }
  pthread_mutex_unlock(&b->mu);
}

static void *worker_main(void *arg) {
  bitswap_t *b = arg;
  worker_scratch_t *ws = calloc(1, sizeof *ws);
  pthread_mutex_lock(&b->mu);
  while (!b->stopping) {
    if (!ws || b->ready_len == 0) {
      pthread_cond_wait(&b->work_cond, &b->mu);
      continue;
    }
    bpeer_t *p = b->ready[b->ready_head];
    b->ready_head = (b->ready_head + 1) % BITSWAP_PEERS_MAX;
    b->ready_len--;
    p->queued = false;
    if (p->failed || !peer_has_work(p)) continue;
    p->busy = true;
    pthread_mutex_unlock(&b->mu);
    serve_peer(b, p, ws);
    pthread_mutex_lock(&b->mu);
    p->busy = false;
    if (!p->failed && peer_has_work(p)) ready_push_locked(b, p);
  }
  pthread_mutex_unlock(&b->mu);
  if (ws) {
    for (size_t i = 0; i < BITSWAP_TAKE_MAX; i++) buf_free(&ws->block_bufs[i]);
    buf_free(&ws->msg);
    free(ws);
  }
  return NULL;
}

/* ---- prefetch ---- */

/* Queues the links of a file node at the front of the prefetch deque. */
static void prefetch_links(bitswap_t *b, const cid_t *cid, const uint8_t *data, size_t len) {
  if (cid->codec != CODEC_DAG_PB) return;
  dagpb_node_t node;
  if (dagpb_decode(data, len, &node) < 0) return;
  unixfs_data_t fs;
  bool file = false;
  if (node.has_data && node.links_len && unixfs_decode(node.data, node.data_len, &fs) == 0) {
    file = fs.type == UNIXFS_FILE || fs.type == UNIXFS_RAW;
    unixfs_data_free(&fs);
  }
  if (file) {
    pthread_mutex_lock(&b->mu);
    /* Pushed front in reverse, so they come out in link order. */
    for (size_t i = node.links_len; i-- > 0;) {
      if (b->prefetch_len == BITSWAP_PREFETCH_QUEUE_MAX) b->prefetch_len--; /* drop the far end */
      b->prefetch_head = (b->prefetch_head + BITSWAP_PREFETCH_QUEUE_MAX - 1) % BITSWAP_PREFETCH_QUEUE_MAX;
      b->prefetch[b->prefetch_head] = node.links[i].cid;
      b->prefetch_len++;
    }
    pthread_cond_signal(&b->mgr_cond);
    pthread_mutex_unlock(&b->mu);
  }
  dagpb_node_free(&node);
}

/* Moves CIDs from the deque into the window (store checked without the lock). */
static void prefetch_fill(bitswap_t *b) {
  for (size_t round = 0; round < BITSWAP_PREFETCH_WINDOW * 4; round++) {
    pthread_mutex_lock(&b->mu);
    if (b->stopping || b->prefetch_len == 0 || b->prefetch_active >= BITSWAP_PREFETCH_WINDOW) {
      pthread_mutex_unlock(&b->mu);
      return;
    }
    cid_t c = b->prefetch[b->prefetch_head];
    b->prefetch_head = (b->prefetch_head + 1) % BITSWAP_PREFETCH_QUEUE_MAX;
    b->prefetch_len--;
    bool wanted = want_find_locked(b, &c.hash) != NULL;
    pthread_mutex_unlock(&b->mu);
    if (wanted) continue;
    uint64_t size;
    if (bs_has(b->opts.bs, &c, &size) != 0) {
      /* Held already: its own links may still be missing (a file node). */
      continue;
    }
    pthread_mutex_lock(&b->mu);
    bwant_t *w = want_find_locked(b, &c.hash) ? NULL : want_new_locked(b, &c, true, true);
    if (w) w->waiters++; /* held while the store is looked at again */
    pthread_mutex_unlock(&b->mu);
    if (!w) continue;
    /* As in bitswap_get: stored since the first look? */
    int has = bs_has(b->opts.bs, &c, &size);
    pthread_mutex_lock(&b->mu);
    w->waiters--;
    if (has == 1) w->done = true;
    if (w->done && !w->waiters) want_remove_locked(b, w);
    pthread_mutex_unlock(&b->mu);
  }
}

/* ---- manager ---- */

static void poll_peers(bitswap_t *b) {
  p2p_conn_info_t *conns = malloc(BITSWAP_CONN_POLL_MAX * sizeof *conns);
  if (!conns) return;
  size_t n = p2p_connections(b->opts.host, conns, BITSWAP_CONN_POLL_MAX);
  if (n > BITSWAP_CONN_POLL_MAX) n = BITSWAP_CONN_POLL_MAX;
  pthread_mutex_lock(&b->mu);
  for (size_t i = 0; i < b->peers_len; i++) b->peers[i]->seen = false;
  pthread_mutex_unlock(&b->mu);
  for (size_t i = 0; i < n; i++) {
    pthread_mutex_lock(&b->mu);
    bpeer_t *p = peer_find_locked(b, &conns[i].peer);
    pthread_mutex_unlock(&b->mu);
    if (!p) {
      bool ok = false;
      for (size_t k = 0; k < BITSWAP_PROTOCOL_COUNT && !ok; k++)
        ok = p2p_peer_supports(b->opts.host, &conns[i].peer, bitswap_protocols[k]);
      if (!ok) continue;
    }
    pthread_mutex_lock(&b->mu);
    p = peer_get_locked(b, &conns[i].peer);
    if (p) {
      p->seen = true;
      if (!p->connected) p->announce = true;
      p->connected = true;
      if (p->failed && !p->busy && now_ms() - p->failed_ms >= BITSWAP_RETRY_MS) {
        p->failed = false; /* try again */
        p->announce = true;
      }
    }
    pthread_mutex_unlock(&b->mu);
  }
  free(conns);
  pthread_mutex_lock(&b->mu);
  for (size_t i = 0; i < b->peers_len; i++) {
    bpeer_t *p = b->peers[i];
    if (!p->seen && p->connected) {
      p->connected = false;
      peer_failed_locked(b, p);
    }
  }
  pthread_mutex_unlock(&b->mu);
}

/* Frees peers that are gone and idle; returns their streams to free. */
static size_t reap_peers_locked(bitswap_t *b, p2p_stream_t **streams, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < b->peers_len && n < cap;) {
    bpeer_t *p = b->peers[i];
    if (p->connected || p->busy || p->queued) {
      i++;
      continue;
    }
    for (size_t k = 0; k < b->wants_len; k++) {
      bwant_t *w = b->wants[k];
      for (size_t j = 0; j < w->asked_len;)
        if (w->asked[j].peer == p) w->asked[j] = w->asked[--w->asked_len];
        else j++;
      if (w->block_peer == p) w->block_peer = NULL;
    }
    if (p->out) streams[n++] = p->out;
    bitswap_ledger_free(&p->ledger);
    free(p->outq);
    free(p);
    b->peers[i] = b->peers[--b->peers_len];
  }
  return n;
}

static void tick(bitswap_t *b) {
  poll_peers(b);
  uint64_t now = now_ms();
  p2p_stream_t *dead[16];
  pthread_mutex_lock(&b->mu);
  /* New peers get the whole wantlist. */
  for (size_t i = 0; i < b->peers_len; i++) {
    bpeer_t *p = b->peers[i];
    if (!p->announce || !peer_usable(p)) continue;
    p->announce = false;
    for (size_t k = 0; k < b->wants_len; k++) {
      bwant_t *w = b->wants[k];
      if (w->done || want_ask_locked(w, p, false)) continue;
      send_want_locked(b, w, p, !w->block_peer);
    }
  }
  for (size_t i = 0; i < b->wants_len; i++) {
    bwant_t *w = b->wants[i];
    if (w->done) continue;
    if (w->prefetch && !w->waiters && now >= w->deadline_ms) {
      want_remove_locked(b, w);
      i--;
      continue;
    }
    if (w->block_peer && (!peer_usable(w->block_peer) || now - w->block_sent_ms >= b->stall_ms)) {
      if (peer_usable(w->block_peer)) {
        w->block_peer->stalls++;
        b->stats.stalls++;
      }
      reroute_locked(b, w, ASK_STALLED);
    } else if (!w->block_peer && now - w->routed_ms >= b->stall_ms) {
      reroute_locked(b, w, 0);
    }
    bool anyone = false;
    for (size_t k = 0; k < w->asked_len; k++) anyone |= w->asked[k].state == SAID_HAVE || w->asked[k].state == ASK_BLOCK;
    if (b->opts.kad && !w->lookup && !w->prefetch && !anyone && now - w->created_ms >= BITSWAP_PROVIDER_DELAY_MS &&
        b->kad_len < BITSWAP_KAD_QUEUE_MAX) {
      w->lookup = true;
      size_t slot = (b->kad_head + b->kad_len) % BITSWAP_KAD_QUEUE_MAX;
      b->kad_queue_len_bytes[slot] = cid_mh_bytes(&w->cid, b->kad_queue[slot]);
      b->kad_len++;
      b->stats.provider_lookups++;
      pthread_cond_broadcast(&b->mgr_cond);
    }
  }
  size_t n_dead = reap_peers_locked(b, dead, 16);
  pthread_mutex_unlock(&b->mu);
  for (size_t i = 0; i < n_dead; i++) p2p_stream_free(dead[i]);
  prefetch_fill(b);
}

static void *manager_main(void *arg) {
  bitswap_t *b = arg;
  pthread_mutex_lock(&b->mu);
  while (!b->stopping) {
    struct timespec ts;
    deadline_ts(BITSWAP_TICK_MS, &ts);
    pthread_cond_timedwait(&b->mgr_cond, &b->mu, &ts);
    if (b->stopping) break;
    pthread_mutex_unlock(&b->mu);
    tick(b);
    pthread_mutex_lock(&b->mu);
  }
  pthread_mutex_unlock(&b->mu);
  return NULL;
}

/* ---- DHT lookups ---- */


typedef struct found {
  peer_id_t peers[BITSWAP_PROVIDERS_MAX];
  size_t n;
  const peer_key_t *self;
} found_t;

static int on_provider(void *ctx, const peer_id_t *peer, const multiaddr_t *addrs, size_t n) {
  found_t *f = ctx;
  if (peer_id_equal(peer, &f->self->id)) return 0;
  if (f->n < BITSWAP_PROVIDERS_MAX) f->peers[f->n++] = *peer;
  return f->n >= BITSWAP_PROVIDERS_MAX;
}

static void *kad_main(void *arg) {
  bitswap_t *b = arg;
  pthread_mutex_lock(&b->mu);
  while (!b->stopping) {
    if (b->kad_len == 0) {
      pthread_cond_wait(&b->mgr_cond, &b->mu);
      continue;
    }
    uint8_t mh[MH_BYTES_MAX];
    size_t len = b->kad_queue_len_bytes[b->kad_head];
    memcpy(mh, b->kad_queue[b->kad_head], len);
    b->kad_head = (b->kad_head + 1) % BITSWAP_KAD_QUEUE_MAX;
    b->kad_len--;
    pthread_mutex_unlock(&b->mu);
    found_t f = {.self = p2p_key(b->opts.host)};
    int rc = kad_find_providers(b->opts.kad, mh, len, BITSWAP_PROVIDERS_MAX, b->fetch_timeout_ms, on_provider, &f);
    log_debug("bitswap", "DHT providers: %d", rc);
    for (size_t i = 0; i < f.n; i++) {
      pthread_mutex_lock(&b->mu);
      bool stop = b->stopping;
      pthread_mutex_unlock(&b->mu);
      if (stop) break;
      if (p2p_connect_peer(b->opts.host, &f.peers[i], BITSWAP_OPEN_TIMEOUT_MS) == 0) {
        pthread_mutex_lock(&b->mu);
        bpeer_t *p = peer_get_locked(b, &f.peers[i]);
        if (p) {
          if (!p->connected || p->failed) p->announce = true;
          p->connected = true;
          p->failed = false;
        }
        pthread_cond_broadcast(&b->mgr_cond);
        pthread_mutex_unlock(&b->mu);
      }
    }
    pthread_mutex_lock(&b->mu);
  }
  pthread_mutex_unlock(&b->mu);
  return NULL;
}

/* ---- public ---- */

static int fetcher(void *ctx, const cid_t *cid, buf_t *out) {
  bitswap_t *b = ctx;
  return bitswap_get(b, cid, out, 0);
}

int bitswap_get(bitswap_t *b, const cid_t *cid, buf_t *out, uint32_t timeout_ms) {
  assert(b && cid && out);
  int rc = bs_get(b->opts.bs, cid, out);
  if (rc != -ENOENT) return rc;
  char t[CID_TEXT_BYTES_MAX];
  if (!b->opts.kad && p2p_connections(b->opts.host, NULL, 0) == 0)
    return err_set(-ENOENT, "block %s is not in the store and no peer is connected", cid_text(cid, t));
  if (timeout_ms == 0) timeout_ms = b->fetch_timeout_ms;

  pthread_mutex_lock(&b->mu);
  if (b->stopping) {
    pthread_mutex_unlock(&b->mu);
    return err_set(-ECANCELED, "bitswap is stopping");
  }
  b->fetches++;
  bwant_t *w = want_find_locked(b, &cid->hash);
  if (!w) {
    w = want_new_locked(b, cid, false, !b->opts.no_prefetch);
    if (!w) {
      b->fetches--;
      pthread_cond_broadcast(&b->idle_cond);
      pthread_mutex_unlock(&b->mu);
      return err_set(-EBUSY, "too many blocks wanted at once (%u)", BITSWAP_WANTS_MAX);
    }
    w->waiters++;
    pthread_mutex_unlock(&b->mu);
    /* The block may have landed between our first look and the want (a
     * prefetch finishing just then): a block stored before the want existed
     * is seen now; one stored after finds the want. */
    int has = bs_has(b->opts.bs, cid, NULL);
    pthread_mutex_lock(&b->mu);
    w->waiters--;
    if (has == 1) w->done = true;
  } else if (w->prefetch && !w->waiters) {
    /* A reader caught up with the prefetcher: its want now. */
    assert(b->prefetch_active > 0);
    b->prefetch_active--;
    w->prefetch = false;
  }
  w->waiters++;
  struct timespec ts;
  deadline_ts(timeout_ms, &ts);
  rc = 0;
  while (!w->done && !b->stopping && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&b->want_cond, &b->mu, &ts);
  bool done = w->done;
  w->waiters--;
  if (!w->waiters && (done || !w->prefetch)) want_remove_locked(b, w);
  bool stopping = b->stopping;
  b->fetches--;
  pthread_cond_broadcast(&b->idle_cond);
  pthread_mutex_unlock(&b->mu);
  if (done) {
    rc = bs_get(b->opts.bs, cid, out);
    return rc == -ENOENT ? err_set(-EIO, "block %s was fetched but is gone from the store", cid_text(cid, t)) : rc;
  }
  if (stopping) return err_set(-ECANCELED, "bitswap is stopping");
  return err_set(-ETIMEDOUT, "block %s: no peer sent it within %u ms", cid_text(cid, t), timeout_ms);
}

void bitswap_stats(bitswap_t *b, bitswap_stats_t *out) {
  assert(b && out);
  pthread_mutex_lock(&b->mu);
  *out = b->stats;
  out->wants = b->wants_len;
  out->peers = b->peers_len;
  pthread_mutex_unlock(&b->mu);
}

int bitswap_new(const bitswap_opts_t *opts, bitswap_t **out) {
  assert(opts && out);
  *out = NULL;
  if (!opts->host || !opts->bs) return err_set(-EINVAL, "bitswap: a host and a block store are required");
  bitswap_t *b = calloc(1, sizeof *b);
  if (!b) return -ENOMEM;
  b->prefetch = calloc(BITSWAP_PREFETCH_QUEUE_MAX, sizeof *b->prefetch);
  if (!b->prefetch) {
    free(b);
    return -ENOMEM;
  }
  b->opts = *opts;
  b->stall_ms = opts->stall_ms ? opts->stall_ms : BITSWAP_STALL_MS_DEFAULT;
  b->fetch_timeout_ms = opts->fetch_timeout_ms ? opts->fetch_timeout_ms : BITSWAP_FETCH_TIMEOUT_MS_DEFAULT;
  pthread_mutex_init(&b->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&b->work_cond, &ca);
  pthread_cond_init(&b->want_cond, &ca);
  pthread_cond_init(&b->mgr_cond, &ca);
  pthread_cond_init(&b->idle_cond, &ca);
  pthread_condattr_destroy(&ca);

  int rc = registry_add(b);
  for (size_t i = 0; i < BITSWAP_PROTOCOL_COUNT && rc == 0; i++)
    rc = p2p_handle(opts->host, bitswap_protocols[i], handle_stream, (void *)(uintptr_t)b->instance);
  for (size_t i = 0; i < BITSWAP_WORKERS && rc == 0; i++) {
    if (pthread_create(&b->workers[i], NULL, worker_main, b) != 0) rc = err_set(-EAGAIN, "bitswap: no thread");
    else b->workers_started++;
  }
  if (rc == 0) {
    if (pthread_create(&b->manager, NULL, manager_main, b) != 0) rc = err_set(-EAGAIN, "bitswap: no thread");
    else b->manager_started = true;
  }
  if (rc == 0 && opts->kad) {
    if (pthread_create(&b->kad_thread, NULL, kad_main, b) != 0) rc = err_set(-EAGAIN, "bitswap: no thread");
    else b->kad_started = true;
  }
  if (rc < 0) {
    bitswap_free(b);
    return rc;
  }
  if (!opts->no_fetcher) bs_set_fetcher(opts->bs, fetcher, b);
  *out = b;
  return 0;
}

void bitswap_free(bitswap_t *b) {
  if (!b) return;
  registry_remove(b); /* no handler enters from now on */
  pthread_mutex_lock(&b->mu);
  __atomic_store_n(&b->stopping, true, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&b->work_cond);
  pthread_cond_broadcast(&b->want_cond);
  pthread_cond_broadcast(&b->mgr_cond);
  /* Blocked reads and writes end now. */
  for (size_t i = 0; i < b->inbound_len; i++) p2p_stream_reset(b->inbound[i]);
  for (size_t i = 0; i < b->peers_len; i++)
    if (b->peers[i]->busy && b->peers[i]->out) p2p_stream_reset(b->peers[i]->out);
  while (b->handlers || b->fetches) pthread_cond_wait(&b->idle_cond, &b->mu);
  pthread_mutex_unlock(&b->mu);
  /* Fetches now fail at once (-ECANCELED); this waits for the last to return. */
  if (!b->opts.no_fetcher) bs_set_fetcher(b->opts.bs, NULL, NULL);
  for (size_t i = 0; i < b->workers_started; i++) pthread_join(b->workers[i], NULL);
  if (b->manager_started) pthread_join(b->manager, NULL);
  if (b->kad_started) pthread_join(b->kad_thread, NULL);
  for (size_t i = 0; i < b->peers_len; i++) {
    bpeer_t *p = b->peers[i];
    p2p_stream_free(p->out);
    bitswap_ledger_free(&p->ledger);
    free(p->outq);
    free(p);
  }
  for (size_t i = 0; i < b->wants_len; i++) free(b->wants[i]);
  free(b->prefetch);
  pthread_mutex_destroy(&b->mu);
  pthread_cond_destroy(&b->work_cond);
  pthread_cond_destroy(&b->want_cond);
  pthread_cond_destroy(&b->mgr_cond);
  pthread_cond_destroy(&b->idle_cond);
  free(b);
}
