/*
 * p2p_internal: the structures p2p.c (host, loops, connections and their
 * upgrade), p2p_stream.c (streams, multistream-select per stream) and
 * p2p_peers.c (peer store, identify, ping, scoring) share, with who owns
 * which field.  Not a public API: net/p2p.h is.
 *
 * Locks (never nested with each other, so there is no order to keep):
 *   p->mu        the connection list, the peer store, dials, the handlers
 *   p->jobs_mu   the handler pool's queue (a leaf: taken anywhere)
 *   c->mu        one connection's yamux session and its streams' queues
 * A loop thread owns its connections' sockets, Noise ciphers and upgrade
 * state; other threads reach a connection only through c->mu (yamux, stream
 * queues) and wake its loop with conn_kick.
 */
#ifndef ANYA_NET_P2P_INTERNAL_H
#define ANYA_NET_P2P_INTERNAL_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <pthread.h>
#include <stdatomic.h>

#include "metrics.h"
#include "msselect.h"
#include "noise.h"
#include "p2p.h"
#include "yamux.h"

#define P2P_LOOPS_MAX 64
#define P2P_OUT_BYTES_HIGH (4u * 1024 * 1024)   /* socket output queued before yamux output waits */
#define P2P_READ_BYTES_MAX (1u * 1024 * 1024)   /* one socket read */
#define P2P_INPUT_BATCH_BYTES (4u * 1024 * 1024) /* Noise frames handed on before the streams are woken */
#define P2P_KEEPALIVE_MS 30000u                 /* yamux ping interval */
#define P2P_IDLE_BUFFER_BYTES_MAX (1u * 1024 * 1024) /* empty buffers above this are freed at each keep-alive */
#define P2P_IDENTIFY_BYTES_MAX (64u * 1024)     /* an identify message we accept */
#define P2P_PEERS_MAX 2048                      /* peer store entries */
#define P2P_PEER_BUCKETS 256
#define P2P_STREAM_BUCKETS 64
#define P2P_CONN_INBOUND_MAX 256                /* inbound streams of one connection held by handlers at once */
#define P2P_MSS_ATTEMPTS_MAX 16                 /* proposals a responder answers "na" before giving up */
#define P2P_WAKE_MAX 64                         /* streams woken once per input batch; more are woken at once */
#define P2P_DISCARD_MAX 16                      /* orphan stream ids whose bytes are dropped per input */
#define P2P_ADDR_TTL_CONNECTED_MS (60u * 60 * 1000) /* ttl 0 addresses: while connected plus this */
#define P2P_HANDLER_STACK_BYTES (1u * 1024 * 1024)
#define P2P_CLOSE_LOG_REASON_BYTES 200

typedef struct p2p_conn p2p_conn_t;
typedef struct p2p_loop p2p_loop_t;

typedef struct loop_task {
  void (*fn)(p2p_loop_t *loop, void *arg);
  void *arg;
  bool sync;          /* a waiter sleeps on loop->task_cond until done */
  bool done;
  struct loop_task *next;
} loop_task_t;

struct p2p_loop {
  p2p_t *p;
  unsigned index;
  struct event_base *base;
  struct event *ev_wake;      /* runs the queued tasks */
  pthread_t thread;
  bool running;
  pthread_mutex_t mu;         /* guards tasks */
  pthread_cond_t task_cond;
  loop_task_t *tasks_head, *tasks_tail;
};

enum conn_state {
  CONN_MSS_NOISE,  /* multistream-select of /noise on the raw socket */
  CONN_NOISE,      /* the XX handshake */
  CONN_MSS_YAMUX,  /* multistream-select of /yamux/1.0.0 inside Noise */
  CONN_READY,      /* yamux runs */
  CONN_CLOSED,
};

/* A dial someone waits for in p2p_connect (refs: the dialer and the connection; under p->mu). */
typedef struct p2p_dial {
  int refs;
  bool done;
  int rc;
  peer_id_t peer;
  char err[256];
} p2p_dial_t;

typedef struct p2p_listener {
  int fd;
  struct evconnlistener *evl; /* on loop 0 */
  multiaddr_t addr;           /* as bound */
} p2p_listener_t;

typedef struct p2p_handler {
  char protocol[MSS_PROTOCOL_BYTES_MAX + 1];
  p2p_handler_fn fn;
  void *ctx;
} p2p_handler_t;

typedef struct p2p_job {
  void (*run)(p2p_t *p, void *arg);
  void (*cancel)(p2p_t *p, void *arg); /* the host stops before the job ran */
  void *arg;
  struct p2p_job *next;
} p2p_job_t;

typedef struct p2p_addr_entry {
  multiaddr_t addr;
  uint64_t expires_ms;  /* CLOCK_MONOTONIC ms */
  bool while_connected; /* ttl 0: never expires while a connection is up */
} p2p_addr_entry_t;

typedef struct p2p_peer_entry {
  p2p_peer_info_t info;
  p2p_addr_entry_t addrs[P2P_ADDRS_MAX]; /* info.addrs is filled from these on read */
  uint64_t banned_until_ms;
  uint64_t last_seen_ms;
  uint32_t connections;                  /* ready connections */
  struct p2p_peer_entry *next;           /* bucket chain */
} p2p_peer_entry_t;

struct p2p {
  p2p_opts_t opts;                       /* pointers inside are not kept */
  peer_key_t key;
  char agent[128];
  uint64_t record_seq;                   /* our signed peer record's seq: creation time, ms since 1970 */
  p2p_loop_t loops[P2P_LOOPS_MAX];
  unsigned loop_count;
  atomic_uint next_loop;
  p2p_listener_t listeners[P2P_LISTEN_MAX];
  size_t listener_count;
  p2p_handler_t handlers[P2P_PROTOCOLS_MAX];
  size_t handler_count;
  p2p_event_fn event_fn[P2P_EVENT_SUBSCRIBERS_MAX]; /* p2p_on_peer's, in order */
  void *event_ctx[P2P_EVENT_SUBSCRIBERS_MAX];
  size_t event_count;
  bool started;
  atomic_bool stopping;

  pthread_mutex_t mu;                    /* conns, peers, dials */
  pthread_cond_t dial_cond;              /* a dial finished (any) */
  p2p_conn_t *conns;                     /* every connection, any state */
  size_t conn_count;                     /* ready ones */
  p2p_peer_entry_t *peers[P2P_PEER_BUCKETS];
  size_t peer_count;

  pthread_mutex_t jobs_mu;               /* the handler pool */
  pthread_cond_t jobs_cond;
  p2p_job_t *jobs_head, *jobs_tail;
  size_t jobs_queued;
  size_t workers_idle;
  size_t workers_total;
  bool jobs_stop;
  pthread_t workers[P2P_HANDLER_THREADS_MAX];

  /* metrics (process-wide families: several hosts in one process add up) */
  metrics_gauge_t *m_connections;        /* anya_p2p_connections */
  metrics_counter_t *m_received;         /* anya_p2p_received_bytes_total (socket bytes) */
  metrics_counter_t *m_sent;             /* anya_p2p_sent_bytes_total */
  metrics_counter_t *m_misbehaviour;     /* anya_p2p_misbehaviour_closes_total */
  metrics_counter_t *m_bans;             /* anya_p2p_bans_total */
};

/* A stream (owned by its user: the handler, or whoever opened it). */
struct p2p_stream {
  p2p_t *p;
  p2p_conn_t *c;                 /* a reference held until p2p_stream_free */
  uint32_t id;
  bool inbound;
  char protocol[MSS_PROTOCOL_BYTES_MAX + 1];
  peer_id_t peer;
  /* under c->mu */
  buf_t rx;                      /* received, not yet read: rx.data[rx_off..rx.len) */
  size_t rx_off;
  uint8_t *direct;               /* a reader waiting on an empty rx lends its buffer: data goes there first */
  size_t direct_cap, direct_len; /* its size, bytes put there */
  bool fin;                      /* the remote half-closed */
  bool rst;                      /* reset by either side, or the connection closed */
  bool write_closed;             /* we sent FIN */
  bool registered;               /* in c->streams (the loop delivers to it) */
  bool wake_pending;             /* in c->wake */
  pthread_cond_t cond;           /* readers and writers wait here */
  struct p2p_stream *next;       /* c->streams bucket chain */
};

struct p2p_conn {
  p2p_t *p;
  p2p_loop_t *loop;
  atomic_int refs;               /* the loop's while open, one a stream, one a task in flight */

  /* loop thread only */
  struct bufferevent *bev;
  enum conn_state state;
  bool outbound;
  bool mss_header_seen;          /* the remote's /multistream/1.0.0 arrived */
  unsigned mss_attempts;
  noise_hs_t *hs;
  noise_cipher_t *tx, *rx;
  buf_t plain;                   /* decrypted bytes not yet given to mss (before yamux runs) */
  buf_t take;                    /* yamux output swapped out for encryption */
  struct event *ev_flush;        /* conn_kick activates it from any thread */
  struct event *ev_timer;        /* upgrade deadline, then keep-alive */
  p2p_dial_t *dial;              /* the dialer waiting (outbound), else NULL (p->mu) */
  bool identified;               /* our identify of the remote finished (p->mu) */
  uint32_t pings_unanswered;
  size_t input_counted;          /* input bytes already counted in m_received */
  atomic_bool flush_pending;

  /* set before CONN_READY, constant after */
  peer_id_t peer;
  bool have_peer;
  peer_id_t expected;            /* the dialer's expected peer */
  bool have_expected;
  multiaddr_t remote_addr;       /* /ip4/../tcp/.. */
  multiaddr_t dialed_addr;       /* outbound: what we dialed */
  uint64_t opened_ms;
  atomic_bool ready;             /* state reached CONN_READY and not closed */
  atomic_uint streams;           /* registered streams (for the connection manager) */
  atomic_uint inbound_active;    /* inbound streams not yet freed (P2P_CONN_INBOUND_MAX) */

  /* under c->mu */
  pthread_mutex_t mu;
  yamux_t *y;                    /* NULL once closed */
  bool dead;
  p2p_stream_t *stream_map[P2P_STREAM_BUCKETS];
  struct { uint32_t id; size_t n; } discard[P2P_DISCARD_MAX]; /* bytes to consume after yamux_input */
  size_t discard_count;
  p2p_stream_t *wake[P2P_WAKE_MAX];  /* streams given data during one yamux_input: woken once after it */
  size_t wake_count;
  bool in_input;                 /* the loop hands a batch to yamux (wake-ups wait for its end) */

  /* under p->mu */
  p2p_conn_t *next;
  p2p_conn_t **pprev;
};

/* ---- p2p.c ---- */
uint64_t p2p_now_ms(void);
void p2p_deadline(struct timespec *ts, uint32_t timeout_ms); /* CLOCK_MONOTONIC, for p2p_cond_wait */
/* Waits on cond (a CLOCK_MONOTONIC condvar); deadline NULL = forever.  ETIMEDOUT or 0. */
int p2p_cond_wait(pthread_cond_t *cond, pthread_mutex_t *mu, const struct timespec *deadline);
void p2p_cond_init(pthread_cond_t *cond);
/* Wakes c's loop to move yamux output to the socket. */
void conn_kick(p2p_conn_t *c);
void conn_ref(p2p_conn_t *c);
void conn_unref(p2p_conn_t *c);
/* Posts close of c to its loop (any thread); reason is logged, penalty > 0 scores the peer. */
void conn_close_async(p2p_conn_t *c, int code, const char *reason, int32_t penalty);
/* A ready connection to peer (a reference the caller unrefs), or NULL. */
p2p_conn_t *p2p_conn_for(p2p_t *p, const peer_id_t *peer);
/* Queues a job for the handler pool; -EAGAIN when every thread is busy and the pool is full. */
int p2p_job_post(p2p_t *p, void (*run)(p2p_t *, void *), void (*cancel)(p2p_t *, void *), void *arg);
/* The registered handler for protocol, or NULL. */
const p2p_handler_t *p2p_handler_find(const p2p_t *p, const char *protocol);
void p2p_emit(p2p_t *p, enum p2p_event ev, const peer_id_t *peer);

/* ---- p2p_stream.c ---- */
/* yamux callbacks' work (loop thread, c->mu held). */
int stream_on_opened(p2p_conn_t *c, uint32_t id);
void stream_on_data(p2p_conn_t *c, uint32_t id, const uint8_t *data, size_t len);
void stream_on_fin(p2p_conn_t *c, uint32_t id);
void stream_on_reset(p2p_conn_t *c, uint32_t id);
void stream_on_writable(p2p_conn_t *c, uint32_t id);
/* Wakes the readers of the streams yamux_input gave data (c->mu held). */
void stream_wake_pending(p2p_conn_t *c);
/* The connection is gone: every stream fails (c->mu held). */
void stream_conn_dead(p2p_conn_t *c);
/* Opens a stream on c and selects the first protocol the remote accepts. */
int stream_open_on(p2p_conn_t *c, const char *const *protocols, size_t count, uint32_t timeout_ms,
                   p2p_stream_t **out);

/* ---- p2p_peers.c ---- */
void peers_free(p2p_t *p);
/* The entry for peer, created when create (p->mu held); NULL when full or absent. */
p2p_peer_entry_t *peer_entry(p2p_t *p, const peer_id_t *peer, bool create);
bool peer_banned_locked(p2p_t *p, const peer_id_t *peer, uint64_t now_ms);
void peer_add_addrs_locked(p2p_t *p, p2p_peer_entry_t *e, const multiaddr_t *addrs, size_t n, uint64_t ttl_ms,
                           uint64_t now_ms);
/* Decodes an identify message from peer into out (agent, protocol version,
 * protocols, listen addresses that parse; identified set) and which fields
 * it carried (IDENTIFY_HAS_*).  -EPROTO: not an Identify protobuf, or a
 * publicKey that is not peer's (err_set).  For fuzz_identify too. */
#define IDENTIFY_HAS_AGENT 1u
#define IDENTIFY_HAS_PROTOCOL_VERSION 2u
#define IDENTIFY_HAS_PROTOCOLS 4u
int identify_parse(const uint8_t *data, size_t len, const peer_id_t *peer, p2p_peer_info_t *out, unsigned *present);
/* Runs identify on a new ready connection (a job; arg = c with a reference). */
void identify_job(p2p_t *p, void *arg);
void identify_cancel(p2p_t *p, void *arg);
/* Built-in handlers. */
void identify_serve(p2p_stream_t *s, void *ctx);
void identify_push_serve(p2p_stream_t *s, void *ctx);
void ping_serve(p2p_stream_t *s, void *ctx);
/* The connection manager (p->mu not held): trims when above the high watermark. */
void connmgr_trim(p2p_t *p, p2p_conn_t *keep);

#endif
