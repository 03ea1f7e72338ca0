/*
 * p2p: the host (p2p.h).  Event loops, listeners and dials, each
 * connection's upgrade (multistream-select /noise, Noise XX, yamux from
 * Noise's extension or multistream-select /yamux/1.0.0), the move of bytes
 * between the socket and yamux, the handler pool, and closing.
 * p2p_stream.c holds the streams, p2p_peers.c the peer store, identify,
 * ping and the connection manager; p2p_internal.h says who owns what.
 *
 * Data path.  In: the loop decrypts each complete Noise frame of a socket
 * read in place in libevent's input buffer and hands it straight to
 * yamux_input (c->mu held per frame), whose data events append to the
 * streams' queues; the streams are woken once per batch.  Out:
 * writers copy into yamux (yamux_write, under c->mu) and kick the loop
 * (one event_active per batch); the loop swaps yamux's whole output buffer
 * out under the lock, then encrypts it outside the lock into frames of up
 * to NOISE_PLAINTEXT_BYTES_MAX bytes, while the socket's output stays below
 * P2P_OUT_BYTES_HIGH (libevent's write watermark calls it back below half).
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "p2p_internal.h"

#define MOD "p2p"

/* ---- time and waiting ---------------------------------------------------------------------- */

uint64_t p2p_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void p2p_deadline(struct timespec *ts, uint32_t timeout_ms) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += (time_t)(timeout_ms / 1000u);
  ts->tv_nsec += (long)(timeout_ms % 1000u) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

void p2p_cond_init(pthread_cond_t *cond) {
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(cond, &attr);
  pthread_condattr_destroy(&attr);
}

int p2p_cond_wait(pthread_cond_t *cond, pthread_mutex_t *mu, const struct timespec *deadline) {
  if (!deadline) {
    pthread_cond_wait(cond, mu);
    return 0;
  }
  return pthread_cond_timedwait(cond, mu, deadline) == ETIMEDOUT ? ETIMEDOUT : 0;
}

/* ---- loops ----------------------------------------------------------------------------------- */

static void loop_wake_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  p2p_loop_t *loop = arg;
  pthread_mutex_lock(&loop->mu);
  loop_task_t *t = loop->tasks_head;
  loop->tasks_head = loop->tasks_tail = NULL;
  pthread_mutex_unlock(&loop->mu);
  while (t) {
    loop_task_t *next = t->next;
    t->fn(loop, t->arg);
    if (t->sync) {
      pthread_mutex_lock(&loop->mu);
      t->done = true;
      pthread_cond_broadcast(&loop->task_cond);
      pthread_mutex_unlock(&loop->mu);
    } else {
      free(t);
    }
    t = next;
  }
}

static void loop_enqueue(p2p_loop_t *loop, loop_task_t *t) {
  pthread_mutex_lock(&loop->mu);
  t->next = NULL;
  if (loop->tasks_tail) loop->tasks_tail->next = t;
  else loop->tasks_head = t;
  loop->tasks_tail = t;
  event_active(loop->ev_wake, EV_READ, 0);
  pthread_mutex_unlock(&loop->mu);
}

/* Runs fn on the loop later (directly now when the loop does not run). */
static int loop_post(p2p_loop_t *loop, void (*fn)(p2p_loop_t *, void *), void *arg) {
  if (!loop->running) {
    fn(loop, arg);
    return 0;
  }
  loop_task_t *t = calloc(1, sizeof *t);
  if (!t) return -ENOMEM;
  t->fn = fn;
  t->arg = arg;
  loop_enqueue(loop, t);
  return 0;
}

/* Runs fn on the loop and waits for it. */
static void loop_sync(p2p_loop_t *loop, void (*fn)(p2p_loop_t *, void *), void *arg) {
  if (!loop->running || pthread_equal(pthread_self(), loop->thread)) {
    fn(loop, arg);
    return;
  }
  loop_task_t t = {.fn = fn, .arg = arg, .sync = true};
  loop_enqueue(loop, &t);
  pthread_mutex_lock(&loop->mu);
  while (!t.done) pthread_cond_wait(&loop->task_cond, &loop->mu);
  pthread_mutex_unlock(&loop->mu);
}

static void *loop_main(void *arg) {
  p2p_loop_t *loop = arg;
  event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY);
  return NULL;
}

/* ---- the handler pool ------------------------------------------------------------------------ */

static void *worker_main(void *arg) {
  p2p_t *p = arg;
  pthread_mutex_lock(&p->jobs_mu);
  while (!p->jobs_stop) {
    p2p_job_t *job = p->jobs_head;
    if (!job) {
      p->workers_idle++;
      pthread_cond_wait(&p->jobs_cond, &p->jobs_mu);
      p->workers_idle--;
      continue;
    }
    p->jobs_head = job->next;
    if (!p->jobs_head) p->jobs_tail = NULL;
    p->jobs_queued--;
    pthread_mutex_unlock(&p->jobs_mu);
    err_clear();
    job->run(p, job->arg);
    free(job);
    pthread_mutex_lock(&p->jobs_mu);
  }
  pthread_mutex_unlock(&p->jobs_mu);
  return NULL;
}

int p2p_job_post(p2p_t *p, void (*run)(p2p_t *, void *), void (*cancel)(p2p_t *, void *), void *arg) {
  p2p_job_t *job = calloc(1, sizeof *job);
  if (!job) return -ENOMEM;
  job->run = run;
  job->cancel = cancel;
  job->arg = arg;
  pthread_mutex_lock(&p->jobs_mu);
  if (p->jobs_stop) {
    pthread_mutex_unlock(&p->jobs_mu);
    free(job);
    return -ESHUTDOWN;
  }
  if (p->workers_idle <= p->jobs_queued) { /* no thread free for this one */
    if (p->workers_total >= P2P_HANDLER_THREADS_MAX) {
      pthread_mutex_unlock(&p->jobs_mu);
      free(job);
      return -EAGAIN;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, P2P_HANDLER_STACK_BYTES);
    int rc = pthread_create(&p->workers[p->workers_total], &attr, worker_main, p);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      pthread_mutex_unlock(&p->jobs_mu);
      free(job);
      return -EAGAIN;
    }
    p->workers_total++;
  }
  if (p->jobs_tail) p->jobs_tail->next = job;
  else p->jobs_head = job;
  p->jobs_tail = job;
  p->jobs_queued++;
  pthread_cond_signal(&p->jobs_cond);
  pthread_mutex_unlock(&p->jobs_mu);
  return 0;
}

const p2p_handler_t *p2p_handler_find(const p2p_t *p, const char *protocol) {
  for (size_t i = 0; i < p->handler_count; i++)
    if (strcmp(p->handlers[i].protocol, protocol) == 0) return &p->handlers[i];
  return NULL;
}

void p2p_emit(p2p_t *p, enum p2p_event ev, const peer_id_t *peer) {
  for (size_t i = 0; i < p->event_count; i++) p->event_fn[i](p->event_ctx[i], ev, peer);
}

/* ---- connections: lifetime ------------------------------------------------------------------- */

void conn_ref(p2p_conn_t *c) { atomic_fetch_add(&c->refs, 1); }

void conn_unref(p2p_conn_t *c) {
  if (!c) return;
  int before = atomic_fetch_sub(&c->refs, 1);
  assert(before > 0);
  if (before != 1) return;
  assert(c->state == CONN_CLOSED || !c->bev);
  if (c->ev_flush) event_free(c->ev_flush);
  if (c->ev_timer) event_free(c->ev_timer);
  if (c->bev) bufferevent_free(c->bev);
  noise_hs_free(c->hs);
  noise_cipher_free(c->tx);
  noise_cipher_free(c->rx);
  yamux_free(c->y);
  buf_free(&c->plain);
  buf_free(&c->take);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

void conn_kick(p2p_conn_t *c) {
  if (!atomic_exchange(&c->flush_pending, true)) event_active(c->ev_flush, EV_WRITE, 0);
}

static void dial_finish_locked(p2p_t *p, p2p_conn_t *c, int rc, const char *reason) {
  p2p_dial_t *d = c->dial;
  if (!d) return;
  c->dial = NULL;
  d->done = true;
  d->rc = rc;
  d->peer = c->peer;
  if (reason) snprintf(d->err, sizeof d->err, "%s", reason);
  if (--d->refs == 0) free(d);
  pthread_cond_broadcast(&p->dial_cond);
}

static char *conn_describe(const p2p_conn_t *c, char *out, size_t cap) {
  char addr[MA_TEXT_BYTES_MAX] = "?";
  char id[PEER_ID_TEXT_BYTES_MAX] = "";
  if (c->remote_addr.len) (void)ma_format(&c->remote_addr, addr);
  if (c->have_peer) (void)peer_id_format(&c->peer, id);
  snprintf(out, cap, "%s%s%s", addr, id[0] ? "/p2p/" : "", id);
  return out;
}

/* Encrypts len plaintext bytes as frames straight into the socket's output
 * buffer (one contiguous reservation: no copy, no buffer of our own). */
static int conn_send_encrypted(p2p_conn_t *c, const uint8_t *data, size_t len) {
  if (len == 0) return 0;
  size_t frames = (len + NOISE_PLAINTEXT_BYTES_MAX - 1) / NOISE_PLAINTEXT_BYTES_MAX;
  size_t wire = NOISE_FRAME_BYTES(len) + (frames - 1) * NOISE_FRAME_BYTES(0);
  struct evbuffer *out = bufferevent_get_output(c->bev);
  struct evbuffer_iovec v;
  if (evbuffer_reserve_space(out, (ev_ssize_t)wire, &v, 1) != 1 || v.iov_len < wire) return -ENOMEM;
  uint8_t *p = v.iov_base;
  size_t at = 0;
  for (size_t off = 0; off < len;) {
    size_t n = len - off < NOISE_PLAINTEXT_BYTES_MAX ? len - off : NOISE_PLAINTEXT_BYTES_MAX;
    int rc = noise_encrypt_frame_to(c->tx, data + off, n, p + at);
    if (rc < 0) {
      evbuffer_commit_space(out, &v, 0);
      return rc;
    }
    at += (size_t)rc;
    off += n;
  }
  assert(at == wire);
  v.iov_len = wire;
  if (evbuffer_commit_space(out, &v, 1) != 0) return -ENOMEM;
  metrics_counter_add(c->p->m_sent, wire);
  return 0;
}

static void conn_close(p2p_conn_t *c, int code, const char *reason, int32_t penalty);

/* Moves yamux's output to the socket while the socket's queue is short (loop thread). */
static void conn_flush(p2p_conn_t *c) {
  if (c->state != CONN_READY) return;
  struct evbuffer *out = bufferevent_get_output(c->bev);
  for (unsigned guard = 0; guard < 64 && evbuffer_get_length(out) < P2P_OUT_BYTES_HIGH; guard++) {
    pthread_mutex_lock(&c->mu);
    buf_t *yo = c->y ? yamux_output(c->y) : NULL;
    if (!yo || yo->len == 0) {
      pthread_mutex_unlock(&c->mu);
      break;
    }
    buf_t swap = *yo;
    *yo = c->take;
    c->take = swap;
    pthread_mutex_unlock(&c->mu);
    int rc = conn_send_encrypted(c, c->take.data, c->take.len);
    buf_reset(&c->take);
    if (rc) {
      conn_close(c, rc, "cannot encrypt a frame", 0);
      return;
    }
  }
}

static void flush_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  p2p_conn_t *c = arg;
  atomic_store(&c->flush_pending, false);
  conn_flush(c);
}

/* Closes c (loop thread): Go Away when yamux runs, every stream fails,
 * waiters are told, the socket closes.  reason: logged once (warn with a
 * penalty, else debug). */
static void conn_close(p2p_conn_t *c, int code, const char *reason, int32_t penalty) {
  if (c->state == CONN_CLOSED) return;
  p2p_t *p = c->p;
  bool was_ready = c->state == CONN_READY;
  char who[MA_TEXT_BYTES_MAX + PEER_ID_TEXT_BYTES_MAX + 8];
  conn_describe(c, who, sizeof who);
  if (penalty > 0) metrics_counter_inc(p->m_misbehaviour);
  if (reason) {
    if (penalty > 0)
      log_kv(LOG_LEVEL_WARN, MOD, ((log_kv_t[]){LOG_STR("peer", who), LOG_STR("reason", reason)}),
             "connection closed for misbehaviour");
    else
      log_kv(LOG_LEVEL_DEBUG, MOD, ((log_kv_t[]){LOG_STR("peer", who), LOG_STR("reason", reason)}),
             "connection closed");
  }
  c->state = CONN_CLOSED;
  atomic_store(&c->ready, false);
  pthread_mutex_lock(&c->mu);
  if (c->y) {
    if (was_ready) {
      (void)yamux_go_away(c->y, code == -EPROTO ? YAMUX_GOAWAY_PROTOCOL : YAMUX_GOAWAY_NORMAL);
      buf_t *yo = yamux_output(c->y);
      if (yo->len) (void)conn_send_encrypted(c, yo->data, yo->len);
      buf_reset(yo);
    }
    stream_conn_dead(c);
    yamux_free(c->y);
    c->y = NULL;
  }
  c->dead = true;
  pthread_mutex_unlock(&c->mu);
  if (c->bev) { /* what is queued goes out if the socket takes it now; no lingering */
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (fd >= 0 && evbuffer_get_length(out)) (void)evbuffer_write(out, fd);
    bufferevent_free(c->bev);
    c->bev = NULL;
  }
  if (c->ev_timer) evtimer_del(c->ev_timer);
  noise_hs_free(c->hs);
  c->hs = NULL;
  if (penalty > 0 && c->have_peer) p2p_peer_penalize(p, &c->peer, penalty, reason ? reason : "misbehaviour");
  bool last = false;
  pthread_mutex_lock(&p->mu);
  if (c->pprev) {
    *c->pprev = c->next;
    if (c->next) c->next->pprev = c->pprev;
    c->pprev = NULL;
    c->next = NULL;
  }
  if (was_ready) {
    assert(p->conn_count > 0);
    p->conn_count--;
    metrics_gauge_add(p->m_connections, -1);
    p2p_peer_entry_t *e = peer_entry(p, &c->peer, false);
    if (e && e->connections > 0 && --e->connections == 0) {
      last = true;
      uint64_t now = p2p_now_ms();
      e->last_seen_ms = now;
      for (size_t i = 0; i < e->info.addr_count; i++)
        if (e->addrs[i].while_connected) e->addrs[i].expires_ms = now + P2P_ADDR_TTL_CONNECTED_MS;
    }
  }
  int dial_rc = code < 0 ? code : -ECONNRESET;
  if (dial_rc != -ECONNREFUSED && dial_rc != -ETIMEDOUT && dial_rc != -EACCES && dial_rc != -ECONNRESET &&
      dial_rc != -EHOSTUNREACH && dial_rc != -ENETUNREACH)
    dial_rc = -EPROTO;
  dial_finish_locked(p, c, dial_rc, reason);
  pthread_mutex_unlock(&p->mu);
  if (last) p2p_emit(p, P2P_PEER_DISCONNECTED, &c->peer);
  conn_unref(c); /* the loop's */
}

typedef struct close_task {
  p2p_conn_t *c;
  int code;
  int32_t penalty;
  char reason[P2P_CLOSE_LOG_REASON_BYTES];
} close_task_t;

static void close_task_run(p2p_loop_t *loop, void *arg) {
  (void)loop;
  close_task_t *t = arg;
  conn_close(t->c, t->code, t->reason[0] ? t->reason : NULL, t->penalty);
  conn_unref(t->c);
  free(t);
}

void conn_close_async(p2p_conn_t *c, int code, const char *reason, int32_t penalty) {
  close_task_t *t = calloc(1, sizeof *t);
  if (!t) return; /* the connection stays; its peer's next error closes it */
  conn_ref(c);
  t->c = c;
  t->code = code;
  t->penalty = penalty;
  if (reason) snprintf(t->reason, sizeof t->reason, "%s", reason);
  if (loop_post(c->loop, close_task_run, t) != 0) {
    conn_unref(c);
    free(t);
  }
}

/* ---- connections: the upgrade -------------------------------------------------------------- */

static const yamux_events_t conn_yamux_events;

static int write_mss_raw(p2p_conn_t *c, const char *a, const char *b) {
  buf_t m = {0};
  int rc = 0;
  if (a) rc = mss_encode(&m, a);
  if (!rc && b) rc = mss_encode(&m, b);
  if (!rc) {
    if (c->state == CONN_MSS_YAMUX) rc = conn_send_encrypted(c, m.data, m.len);
    else if (bufferevent_write(c->bev, m.data, m.len) != 0) rc = -ENOMEM;
  }
  buf_free(&m);
  return rc;
}

static int noise_send(p2p_conn_t *c) {
  buf_t m = {0};
  int rc = buf_append(&m, "\0\0", 2);
  if (!rc) rc = noise_hs_write(c->hs, &m);
  if (!rc && m.len - 2 > NOISE_MSG_BYTES_MAX) rc = -E2BIG;
  if (!rc) {
    m.data[0] = (uint8_t)((m.len - 2) >> 8);
    m.data[1] = (uint8_t)(m.len - 2);
    if (bufferevent_write(c->bev, m.data, m.len) != 0) rc = -ENOMEM;
  }
  buf_free(&m);
  return rc;
}

static const char *const our_muxers[] = {YAMUX_PROTOCOL};

static int noise_begin(p2p_conn_t *c) {
  c->state = CONN_NOISE;
  int rc = noise_hs_new(c->outbound, &c->p->key, our_muxers, 1, c->have_expected ? &c->expected : NULL, &c->hs);
  if (rc) return rc;
  if (c->outbound) return noise_send(c);
  return 0;
}

/* The connection is up (Noise and yamux): count it, identify, trim. */
static int conn_ready(p2p_conn_t *c) {
  p2p_t *p = c->p;
  pthread_mutex_lock(&c->mu);
  int rc = yamux_new(c->outbound, &conn_yamux_events, c, &c->y);
  if (!rc) rc = yamux_ping(c->y, ++c->pings_unanswered); /* the first round trip lets windows grow */
  pthread_mutex_unlock(&c->mu);
  if (rc) return rc;
  uint64_t now = p2p_now_ms();
  pthread_mutex_lock(&p->mu);
  p2p_peer_entry_t *e = peer_entry(p, &c->peer, true);
  size_t per_peer = p->opts.connections_per_peer_max;
  if (e && e->connections >= per_peer) {
    pthread_mutex_unlock(&p->mu);
    conn_close(c, -ECONNRESET, "per-peer connection limit", 0);
    return 1;
  }
  c->state = CONN_READY;
  atomic_store(&c->ready, true);
  p->conn_count++;
  metrics_gauge_add(p->m_connections, 1);
  if (e) {
    e->connections++;
    e->last_seen_ms = now;
    if (c->outbound) peer_add_addrs_locked(p, e, &c->dialed_addr, 1, 0, now);
  }
  pthread_mutex_unlock(&p->mu);
  struct timeval tv = {.tv_sec = P2P_KEEPALIVE_MS / 1000, .tv_usec = (P2P_KEEPALIVE_MS % 1000) * 1000};
  evtimer_add(c->ev_timer, &tv);
  char who[MA_TEXT_BYTES_MAX + PEER_ID_TEXT_BYTES_MAX + 8];
  log_kv(LOG_LEVEL_DEBUG, MOD,
         ((log_kv_t[]){LOG_STR("peer", conn_describe(c, who, sizeof who)),
                       LOG_STR("direction", c->outbound ? "outbound" : "inbound")}),
         "connected");
  conn_ref(c);
  if (p2p_job_post(p, identify_job, identify_cancel, c) != 0) {
    conn_unref(c);
    pthread_mutex_lock(&p->mu);
    dial_finish_locked(p, c, 0, NULL);
    pthread_mutex_unlock(&p->mu);
  }
  connmgr_trim(p, c);
  return 1;
}

static int handshake_done(p2p_conn_t *c) {
  p2p_t *p = c->p;
  char muxer[64] = "";
  int rc = noise_hs_finish(c->hs, &c->tx, &c->rx, &c->peer, muxer);
  noise_hs_free(c->hs);
  c->hs = NULL;
  if (rc) return rc;
  c->have_peer = true;
  pthread_mutex_lock(&p->mu);
  bool banned = peer_banned_locked(p, &c->peer, p2p_now_ms());
  pthread_mutex_unlock(&p->mu);
  if (banned) {
    conn_close(c, -EACCES, "peer is banned", 0);
    return 1;
  }
  if (peer_id_equal(&c->peer, &p->key.id)) {
    conn_close(c, -EACCES, "connected to ourselves", 0);
    return 1;
  }
  if (strcmp(muxer, YAMUX_PROTOCOL) == 0) return conn_ready(c);
  if (muxer[0]) return err_set(-EPROTO, "Noise chose muxer %s, which we did not offer", muxer);
  c->state = CONN_MSS_YAMUX;
  c->mss_header_seen = false;
  c->mss_attempts = 0;
  if (c->outbound) return write_mss_raw(c, MSS_HEADER, YAMUX_PROTOCOL);
  return 0;
}

/* One multistream-select message during the upgrade (raw /noise or inside
 * Noise /yamux/1.0.0).  1 progress, <0 failure (err_set). */
static int upgrade_mss_message(p2p_conn_t *c, const char *text) {
  const char *want = c->state == CONN_MSS_NOISE ? NOISE_PROTOCOL : YAMUX_PROTOCOL;
  if (!c->mss_header_seen) {
    if (strcmp(text, MSS_HEADER) != 0) return err_set(-EPROTO, "expected %s, got \"%.64s\"", MSS_HEADER, text);
    c->mss_header_seen = true;
    return 1;
  }
  if (c->outbound) {
    if (strcmp(text, want) != 0) return err_set(-EPROTO, "the remote refused %s (\"%.64s\")", want, text);
    return c->state == CONN_MSS_NOISE ? (noise_begin(c) ?: 1) : conn_ready(c);
  }
  bool first = c->mss_attempts == 0;
  if (strcmp(text, want) == 0) {
    int rc = write_mss_raw(c, first ? MSS_HEADER : NULL, want);
    if (rc) return rc;
    return c->state == CONN_MSS_NOISE ? (noise_begin(c) ?: 1) : conn_ready(c);
  }
  if (++c->mss_attempts > P2P_MSS_ATTEMPTS_MAX) return err_set(-EPROTO, "too many protocol proposals");
  return write_mss_raw(c, first ? MSS_HEADER : NULL, MSS_NA) ?: 1;
}

/* Decodes one multistream-select message from data: >0 consumed (the text
 * in text), 0 more needed, <0 malformed. */
static int upgrade_mss_decode(p2p_conn_t *c, const uint8_t *data, size_t len, char text[MSS_PROTOCOL_BYTES_MAX + 1]) {
  if (!c->mss_header_seen) { /* the first message can only be the header: fail at its first wrong byte */
    static const uint8_t header[] = "\x13" MSS_HEADER "\n";
    size_t n = len < sizeof header - 1 ? len : sizeof header - 1;
    if (memcmp(data, header, n) != 0) return err_set(-EPROTO, "not multistream-select (no %s)", MSS_HEADER);
  }
  int n = mss_decode(data, len, text);
  if (n < 0) return err_set(-EPROTO, "malformed multistream-select message");
  if (n == 0 && len >= MSS_PROTOCOL_BYTES_MAX + 8) return err_set(-EPROTO, "multistream-select message too long");
  return n;
}

static int step_mss_raw(p2p_conn_t *c, struct evbuffer *in) {
  size_t avail = evbuffer_get_length(in);
  if (!avail) return 0;
  size_t n = avail < MSS_PROTOCOL_BYTES_MAX + 8 ? avail : MSS_PROTOCOL_BYTES_MAX + 8;
  const uint8_t *d = evbuffer_pullup(in, (ssize_t)n);
  char text[MSS_PROTOCOL_BYTES_MAX + 1];
  int used = upgrade_mss_decode(c, d, n, text);
  if (used <= 0) return used;
  evbuffer_drain(in, (size_t)used); /* before the message runs: it may close c */
  return upgrade_mss_message(c, text);
}

static int step_noise(p2p_conn_t *c, struct evbuffer *in) {
  uint8_t hdr[2];
  size_t avail = evbuffer_get_length(in);
  if (avail < 2) return 0;
  evbuffer_copyout(in, hdr, 2);
  size_t len = (size_t)hdr[0] << 8 | hdr[1];
  if (avail < 2 + len) return 0;
  const uint8_t *d = evbuffer_pullup(in, (ssize_t)(2 + len));
  int rc = noise_hs_read(c->hs, d + 2, len);
  evbuffer_drain(in, 2 + len);
  if (rc) return rc;
  if (!noise_hs_done(c->hs) && noise_hs_my_turn(c->hs)) {
    rc = noise_send(c);
    if (rc) return rc;
  }
  if (noise_hs_done(c->hs)) return handshake_done(c);
  return 1;
}

/* Hands len decrypted bytes to yamux (c->mu taken here; wake-ups wait for
 * the end of the batch: c->in_input). */
static int conn_yamux_input(p2p_conn_t *c, const uint8_t *data, size_t len) {
  pthread_mutex_lock(&c->mu);
  c->discard_count = 0;
  int rc = c->y ? yamux_input(c->y, data, len) : -ECONNRESET;
  for (size_t i = 0; i < c->discard_count && c->y; i++) yamux_consumed(c->y, c->discard[i].id, c->discard[i].n);
  c->discard_count = 0;
  pthread_mutex_unlock(&c->mu);
  return rc;
}

/* Decrypted bytes before yamux runs: multistream-select of /yamux/1.0.0
 * through c->plain; what follows the agreement goes to yamux. */
static int conn_upgrade_input(p2p_conn_t *c, const uint8_t *data, size_t len) {
  if (buf_append(&c->plain, data, len)) return -ENOMEM;
  size_t off = 0;
  while (c->state == CONN_MSS_YAMUX && off < c->plain.len) {
    char text[MSS_PROTOCOL_BYTES_MAX + 1];
    int used = upgrade_mss_decode(c, c->plain.data + off, c->plain.len - off, text);
    if (used < 0) return used;
    if (used == 0) break;
    off += (size_t)used;
    int rc = upgrade_mss_message(c, text);
    if (rc < 0) return rc;
  }
  int rc = 0;
  if (c->state == CONN_READY && off < c->plain.len) {
    rc = conn_yamux_input(c, c->plain.data + off, c->plain.len - off);
    off = c->plain.len;
  }
  if (off == c->plain.len || rc < 0) {
    buf_reset(&c->plain);
  } else if (off) {
    memmove(c->plain.data, c->plain.data + off, c->plain.len - off);
    c->plain.len -= off;
  }
  return rc;
}

/* Every complete Noise frame, up to P2P_INPUT_BATCH_BYTES: decrypted in place
 * in the input buffer and handed on at once (to yamux straight from there),
 * the streams given data woken once at the end.  1: more frames wait. */
static int step_frames(p2p_conn_t *c, struct evbuffer *in) {
  pthread_mutex_lock(&c->mu);
  c->in_input = true;
  pthread_mutex_unlock(&c->mu);
  int rc = 0;
  for (size_t done = 0; rc == 0 && c->state != CONN_CLOSED;) {
    uint8_t hdr[2];
    size_t avail = evbuffer_get_length(in);
    if (avail < 2) break;
    evbuffer_copyout(in, hdr, 2);
    size_t len = (size_t)hdr[0] << 8 | hdr[1];
    if (len < NOISE_TAG_BYTES) {
      rc = err_set(-EPROTO, "a Noise frame of %zu bytes", len);
      break;
    }
    if (avail < 2 + len) break;
    if (done >= P2P_INPUT_BATCH_BYTES) {
      rc = 1; /* hand these on first */
      break;
    }
    uint8_t *d = evbuffer_pullup(in, (ssize_t)(2 + len));
    if (!d) {
      rc = -ENOMEM;
      break;
    }
    int n = noise_decrypt(c->rx, d + 2, len, d + 2);
    if (n < 0) {
      rc = err_set(-EPROTO, "a Noise frame does not decrypt");
      break;
    }
    if (c->state == CONN_READY && c->plain.len == 0) rc = n ? conn_yamux_input(c, d + 2, (size_t)n) : 0;
    else rc = conn_upgrade_input(c, d + 2, (size_t)n);
    evbuffer_drain(in, 2 + len);
    done += 2 + len;
  }
  pthread_mutex_lock(&c->mu);
  c->in_input = false;
  stream_wake_pending(c);
  pthread_mutex_unlock(&c->mu);
  return rc;
}

/* libevent 2.1 reads at most 4096 bytes per readiness event (EVBUFFER_MAX_READ),
 * so a bulk transfer would cost an epoll_wait, an ioctl and a readv every 4 KiB:
 * what else waits on the socket (FIONREAD, up to P2P_READ_BYTES_MAX) is read
 * here in one readv.  EOF and errors are left to libevent's next read. */
static void conn_read_more(p2p_conn_t *c, struct evbuffer *in) {
  evutil_socket_t fd = bufferevent_getfd(c->bev);
  int waiting = 0;
  if (fd < 0 || ioctl(fd, FIONREAD, &waiting) != 0 || waiting <= 0) return;
  size_t want = (size_t)waiting < P2P_READ_BYTES_MAX ? (size_t)waiting : P2P_READ_BYTES_MAX;
  struct evbuffer_iovec vec[2];
  evbuffer_unfreeze(in, 0); /* the bufferevent keeps its input's end frozen between its own reads */
  int nvec = evbuffer_reserve_space(in, (ev_ssize_t)want, vec, 2);
  if (nvec <= 0) {
    evbuffer_freeze(in, 0);
    return;
  }
  struct iovec iov[2];
  size_t room = 0;
  for (int i = 0; i < nvec; i++) {
    iov[i] = (struct iovec){.iov_base = vec[i].iov_base, .iov_len = vec[i].iov_len};
    room += vec[i].iov_len;
  }
  assert(room >= want);
  ssize_t n = readv(fd, iov, nvec);
  size_t left = n > 0 ? (size_t)n : 0;
  int used = 0;
  for (; used < nvec && left > 0; used++) {
    if (vec[used].iov_len > left) vec[used].iov_len = left;
    left -= vec[used].iov_len;
  }
  evbuffer_commit_space(in, vec, used);
  evbuffer_freeze(in, 0);
}

static void read_cb(struct bufferevent *bev, void *arg) {
  (void)bev;
  p2p_conn_t *c = arg;
  struct evbuffer *in = bufferevent_get_input(c->bev);
  conn_read_more(c, in);
  size_t arrived = evbuffer_get_length(in);
  if (arrived > c->input_counted) metrics_counter_add(c->p->m_received, arrived - c->input_counted);
  conn_ref(c);
  for (unsigned guard = 0; guard < 4096 && c->state != CONN_CLOSED; guard++) {
    enum conn_state before = c->state;
    int rc;
    err_clear();
    switch (c->state) {
    case CONN_MSS_NOISE: rc = step_mss_raw(c, in); break;
    case CONN_NOISE: rc = step_noise(c, in); break;
    default: rc = step_frames(c, in); break;
    }
    if (rc < 0 && c->state != CONN_CLOSED) {
      char reason[P2P_CLOSE_LOG_REASON_BYTES];
      const char *stage = before == CONN_MSS_NOISE ? "multistream-select"
                          : before == CONN_NOISE   ? "Noise handshake"
                          : before == CONN_MSS_YAMUX ? "multistream-select inside Noise"
                                                     : "yamux";
      snprintf(reason, sizeof reason, "%s: %s", stage, err_msg(rc));
      int code = rc == -EACCES ? -EACCES : -EPROTO;
      conn_close(c, code, reason, rc == -ENOMEM ? 0 : 20);
      break;
    }
    if (rc == 0) break;
  }
  if (c->state != CONN_CLOSED) {
    c->input_counted = evbuffer_get_length(in); /* what waits for the next read is counted already */
    conn_flush(c);
  }
  conn_unref(c);
}

static void write_cb(struct bufferevent *bev, void *arg) {
  (void)bev;
  conn_flush(arg);
}

static void event_cb(struct bufferevent *bev, short what, void *arg) {
  (void)bev;
  p2p_conn_t *c = arg;
  if (what & BEV_EVENT_CONNECTED) return;
  if (what & BEV_EVENT_EOF) {
    conn_close(c, -ECONNRESET, "closed by the remote", 0);
  } else if (what & BEV_EVENT_ERROR) {
    int e = EVUTIL_SOCKET_ERROR();
    char reason[128];
    snprintf(reason, sizeof reason, "socket: %s", strerror(e ? e : ECONNRESET));
    conn_close(c, e ? -e : -ECONNRESET, reason, 0);
  }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  p2p_conn_t *c = arg;
  if (c->state != CONN_READY) {
    conn_close(c, -ETIMEDOUT, "the upgrade timed out", 0);
    return;
  }
  if (c->pings_unanswered >= 3) {
    conn_close(c, -ETIMEDOUT, "keep-alive: three pings unanswered", 0);
    return;
  }
  /* a burst's buffers are not kept for an idle connection's life */
  buf_t *idle[] = {&c->plain, &c->take};
  for (size_t i = 0; i < sizeof idle / sizeof idle[0]; i++)
    if (idle[i]->len == 0 && idle[i]->cap > P2P_IDLE_BUFFER_BYTES_MAX) buf_free(idle[i]);
  pthread_mutex_lock(&c->mu);
  if (c->y) (void)yamux_ping(c->y, ++c->pings_unanswered);
  pthread_mutex_unlock(&c->mu);
  struct timeval tv = {.tv_sec = P2P_KEEPALIVE_MS / 1000, .tv_usec = (P2P_KEEPALIVE_MS % 1000) * 1000};
  evtimer_add(c->ev_timer, &tv);
  conn_flush(c);
}

/* ---- yamux events (loop thread, c->mu held) ------------------------------------------------ */

static int yx_opened(void *ctx, uint32_t id) { return stream_on_opened(ctx, id); }
static void yx_data(void *ctx, uint32_t id, const uint8_t *data, size_t len) { stream_on_data(ctx, id, data, len); }
static void yx_fin(void *ctx, uint32_t id) { stream_on_fin(ctx, id); }
static void yx_reset(void *ctx, uint32_t id) { stream_on_reset(ctx, id); }
static void yx_writable(void *ctx, uint32_t id) { stream_on_writable(ctx, id); }
static void yx_pong(void *ctx, uint32_t opaque) {
  (void)opaque;
  ((p2p_conn_t *)ctx)->pings_unanswered = 0;
}
static void yx_go_away(void *ctx, uint32_t code) {
  p2p_conn_t *c = ctx;
  char reason[64];
  snprintf(reason, sizeof reason, "the remote sent Go Away (code %u)", code);
  conn_close_async(c, -ECONNRESET, reason, 0);
}

static const yamux_events_t conn_yamux_events = {
    .opened = yx_opened, .data = yx_data, .fin = yx_fin, .reset = yx_reset,
    .writable = yx_writable, .pong = yx_pong, .go_away = yx_go_away,
};

/* ---- connections: creation ----------------------------------------------------------------- */

static p2p_conn_t *conn_alloc(p2p_t *p, bool outbound) {
  p2p_conn_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->p = p;
  c->outbound = outbound;
  c->state = CONN_MSS_NOISE;
  c->opened_ms = p2p_now_ms();
  atomic_init(&c->refs, 1); /* the loop's */
  pthread_mutex_init(&c->mu, NULL);
  unsigned index = atomic_fetch_add(&p->next_loop, 1) % p->loop_count;
  c->loop = &p->loops[index];
  return c;
}

typedef struct conn_start {
  p2p_conn_t *c;
  evutil_socket_t fd;
  struct sockaddr_storage addr;
  socklen_t addr_len;
} conn_start_t;

static void conn_start_run(p2p_loop_t *loop, void *arg) {
  conn_start_t *st = arg;
  p2p_conn_t *c = st->c;
  p2p_t *p = c->p;
  int rc = 0;
  if (atomic_load(&p->stopping)) rc = -ESHUTDOWN;
  if (!rc) {
    c->bev = bufferevent_socket_new(loop->base, st->fd, BEV_OPT_CLOSE_ON_FREE);
    c->ev_flush = event_new(loop->base, -1, 0, flush_cb, c);
    c->ev_timer = evtimer_new(loop->base, timer_cb, c);
    if (!c->bev || !c->ev_flush || !c->ev_timer) rc = -ENOMEM;
  }
  if (rc) {
    if (!c->bev) close(st->fd);
    c->state = CONN_CLOSED;
    pthread_mutex_lock(&p->mu);
    dial_finish_locked(p, c, rc, "the host is stopping");
    pthread_mutex_unlock(&p->mu);
    conn_unref(c);
    free(st);
    return;
  }
  pthread_mutex_lock(&p->mu);
  c->next = p->conns;
  if (p->conns) p->conns->pprev = &c->next;
  c->pprev = &p->conns;
  p->conns = c;
  pthread_mutex_unlock(&p->mu);
  bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
  bufferevent_set_max_single_read(c->bev, P2P_READ_BYTES_MAX);
  bufferevent_set_max_single_write(c->bev, P2P_OUT_BYTES_HIGH);
  bufferevent_setwatermark(c->bev, EV_WRITE, P2P_OUT_BYTES_HIGH / 2, 0);
  bufferevent_enable(c->bev, EV_READ | EV_WRITE);
  uint32_t timeout_ms = p->opts.dial_timeout_ms;
  struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
  evtimer_add(c->ev_timer, &tv);
  if (c->outbound) {
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&st->addr, (int)st->addr_len) != 0) {
      int e = EVUTIL_SOCKET_ERROR();
      free(st);
      conn_close(c, e ? -e : -ECONNREFUSED, "connect failed", 0);
      return;
    }
    rc = write_mss_raw(c, MSS_HEADER, NOISE_PROTOCOL);
    if (rc) conn_close(c, rc, "out of memory", 0);
  }
  free(st);
}

static void accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg) {
  (void)evl, (void)salen;
  p2p_t *p = arg;
  if (atomic_load(&p->stopping)) {
    close(fd);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  p2p_conn_t *c = conn_alloc(p, false);
  conn_start_t *st = calloc(1, sizeof *st);
  if (!c || !st) {
    free(c);
    free(st);
    close(fd);
    return;
  }
  (void)ma_from_sockaddr(sa, &c->remote_addr);
  st->c = c;
  st->fd = fd;
  if (loop_post(c->loop, conn_start_run, st) != 0) {
    close(fd);
    conn_unref(c);
    free(st);
  }
}

static void accept_error_cb(struct evconnlistener *evl, void *arg) {
  (void)arg;
  log_warn(MOD, "accept failed: %s", strerror(errno));
  (void)evl;
}

/* ---- host ------------------------------------------------------------------------------------ */

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static int evthread_rc;
static void evthread_init(void) {
  evthread_rc = evthread_use_pthreads();
  signal(SIGPIPE, SIG_IGN);
}

static int listen_on(p2p_t *p, const char *text) {
  if (p->listener_count >= P2P_LISTEN_MAX) return err_set(-ENOSPC, "more than %d p2p listen addresses", P2P_LISTEN_MAX);
  multiaddr_t ma;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (ma_parse(text, &ma) != 0) return err_set(-EINVAL, "%s: not a multiaddr", text);
  if (ma_to_sockaddr(&ma, &ss, &sl) != 0) return err_set(-EAFNOSUPPORT, "%s: only /ip4|ip6/../tcp/.. can be listened on", text);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return err_set(-errno, "%s: socket: %s", text, strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 1024) != 0) {
    int e = errno;
    close(fd);
    return err_set(-e, "%s: %s", text, e == EADDRINUSE ? "address in use" : strerror(e));
  }
  p2p_listener_t *l = &p->listeners[p->listener_count];
  sl = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 || ma_from_sockaddr((struct sockaddr *)&ss, &l->addr) != 0) {
    close(fd);
    return err_set(-EINVAL, "%s: cannot read the bound address", text);
  }
  l->fd = fd;
  l->evl = evconnlistener_new(p->loops[0].base, accept_cb, p, LEV_OPT_CLOSE_ON_FREE, -1, fd);
  if (!l->evl) {
    close(fd);
    return err_set(-ENOMEM, "%s: cannot watch the socket", text);
  }
  evconnlistener_set_error_cb(l->evl, accept_error_cb);
  p->listener_count++;
  return 0;
}

static int add_handler(p2p_t *p, const char *protocol, p2p_handler_fn fn, void *ctx) {
  if (!protocol || !fn || !protocol[0] || strlen(protocol) > MSS_PROTOCOL_BYTES_MAX || strchr(protocol, '\n'))
    return err_set(-EINVAL, "bad protocol id");
  if (p2p_handler_find(p, protocol)) return err_set(-EEXIST, "protocol %s has a handler already", protocol);
  if (p->handler_count >= P2P_PROTOCOLS_MAX) return err_set(-ENOSPC, "more than %d protocols", P2P_PROTOCOLS_MAX);
  p2p_handler_t *h = &p->handlers[p->handler_count++];
  snprintf(h->protocol, sizeof h->protocol, "%s", protocol);
  h->fn = fn;
  h->ctx = ctx;
  return 0;
}

int p2p_new(const p2p_opts_t *opts, p2p_t **out) {
  *out = NULL;
  if (!opts || !opts->key) return err_set(-EINVAL, "p2p_new needs a key");
  if (opts->listen_count > P2P_LISTEN_MAX) return err_set(-EINVAL, "more than %d listen addresses", P2P_LISTEN_MAX);
  pthread_once(&evthread_once, evthread_init);
  if (evthread_rc != 0) return err_set(-ENOSYS, "libevent has no pthreads support");
  p2p_t *p = calloc(1, sizeof *p);
  if (!p) return err_set(-ENOMEM, "out of memory");
  p->opts = *opts;
  p->opts.listen = NULL;
  p->key = *opts->key;
  p->opts.key = &p->key;
  snprintf(p->agent, sizeof p->agent, "%s", opts->agent_version ? opts->agent_version : "anya");
  p->opts.agent_version = p->agent;
  struct timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  p->record_seq = (uint64_t)wall.tv_sec * 1000u + (uint64_t)wall.tv_nsec / 1000000u;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  p->loop_count = opts->threads ? (unsigned)opts->threads : (cores > 0 ? (unsigned)cores : 1);
  if (p->loop_count > P2P_LOOPS_MAX) p->loop_count = P2P_LOOPS_MAX;
  if (!p->opts.connections_high) p->opts.connections_high = 900;
  if (!p->opts.connections_low) p->opts.connections_low = p->opts.connections_high * 3 / 4;
  if (p->opts.connections_low > p->opts.connections_high) p->opts.connections_low = p->opts.connections_high;
  if (!p->opts.connections_per_peer_max) p->opts.connections_per_peer_max = 2;
  if (!p->opts.dial_timeout_ms) p->opts.dial_timeout_ms = 10000;
  pthread_mutex_init(&p->mu, NULL);
  p2p_cond_init(&p->dial_cond);
  pthread_mutex_init(&p->jobs_mu, NULL);
  pthread_cond_init(&p->jobs_cond, NULL);
  for (unsigned i = 0; i < p->loop_count; i++) {
    p2p_loop_t *loop = &p->loops[i];
    loop->p = p;
    loop->index = i;
    pthread_mutex_init(&loop->mu, NULL);
    pthread_cond_init(&loop->task_cond, NULL);
    loop->base = event_base_new();
    if (loop->base) loop->ev_wake = event_new(loop->base, -1, 0, loop_wake_cb, loop);
    if (!loop->base || !loop->ev_wake) {
      p2p_free(p);
      return err_set(-ENOMEM, "cannot create an event loop");
    }
  }
  metrics_registry_t *reg = metrics_default();
  (void)metrics_gauge_register(reg, "anya_p2p_connections", "Open libp2p connections (upgraded)", &p->m_connections);
  (void)metrics_counter_register(reg, "anya_p2p_received_bytes_total", "Bytes received on libp2p connections",
                                 &p->m_received);
  (void)metrics_counter_register(reg, "anya_p2p_sent_bytes_total", "Bytes sent on libp2p connections", &p->m_sent);
  (void)metrics_counter_register(reg, "anya_p2p_misbehaviour_closes_total",
                                 "libp2p connections closed for a protocol error", &p->m_misbehaviour);
  (void)metrics_counter_register(reg, "anya_p2p_bans_total", "Peers banned for their score", &p->m_bans);
  int rc = 0;
  for (size_t i = 0; i < opts->listen_count && !rc; i++) rc = listen_on(p, opts->listen[i]);
  if (!rc) rc = add_handler(p, P2P_IDENTIFY_PROTOCOL, identify_serve, p);
  if (!rc) rc = add_handler(p, P2P_IDENTIFY_PUSH_PROTOCOL, identify_push_serve, p);
  if (!rc) rc = add_handler(p, P2P_PING_PROTOCOL, ping_serve, p);
  if (rc) {
    p2p_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

int p2p_start(p2p_t *p) {
  if (p->started) return err_set(-EALREADY, "the p2p host runs already");
  p->started = true;
  for (unsigned i = 0; i < p->loop_count; i++) {
    if (pthread_create(&p->loops[i].thread, NULL, loop_main, &p->loops[i]) != 0)
      return err_set(-EAGAIN, "cannot start the p2p event loops");
    p->loops[i].running = true;
  }
  return 0;
}

static void loop_close_all(p2p_loop_t *loop, void *arg) {
  (void)arg;
  p2p_t *p = loop->p;
  if (loop->index == 0)
    for (size_t i = 0; i < p->listener_count; i++)
      if (p->listeners[i].evl) {
        evconnlistener_free(p->listeners[i].evl);
        p->listeners[i].evl = NULL;
      }
  for (;;) {
    p2p_conn_t *victim = NULL;
    pthread_mutex_lock(&p->mu);
    for (p2p_conn_t *c = p->conns; c; c = c->next)
      if (c->loop == loop) {
        victim = c;
        break;
      }
    pthread_mutex_unlock(&p->mu);
    if (!victim) break;
    conn_close(victim, -ECONNRESET, "the host stops", 0);
  }
}

static void loop_break(p2p_loop_t *loop, void *arg) {
  (void)arg;
  event_base_loopbreak(loop->base);
}

void p2p_free(p2p_t *p) {
  if (!p) return;
  atomic_store(&p->stopping, true);
  for (unsigned i = 0; i < p->loop_count; i++)
    if (p->loops[i].base) loop_sync(&p->loops[i], loop_close_all, NULL);
  pthread_mutex_lock(&p->jobs_mu);
  p->jobs_stop = true;
  pthread_cond_broadcast(&p->jobs_cond);
  size_t workers = p->workers_total;
  pthread_mutex_unlock(&p->jobs_mu);
  for (size_t i = 0; i < workers; i++) pthread_join(p->workers[i], NULL);
  while (p->jobs_head) {
    p2p_job_t *job = p->jobs_head;
    p->jobs_head = job->next;
    if (job->cancel) job->cancel(p, job->arg);
    free(job);
  }
  /* tasks posted meanwhile (closes, starts) run before the loops stop */
  for (unsigned i = 0; i < p->loop_count; i++)
    if (p->loops[i].base) loop_sync(&p->loops[i], loop_close_all, NULL);
  for (unsigned i = 0; i < p->loop_count; i++) {
    p2p_loop_t *loop = &p->loops[i];
    if (loop->running) {
      loop_sync(loop, loop_break, NULL);
      pthread_join(loop->thread, NULL);
      loop->running = false;
    }
    loop_wake_cb(-1, 0, loop); /* what was still queued (runs inline now) */
  }
  for (size_t i = 0; i < p->listener_count; i++)
    if (p->listeners[i].evl) evconnlistener_free(p->listeners[i].evl);
  for (unsigned i = 0; i < p->loop_count; i++) {
    p2p_loop_t *loop = &p->loops[i];
    if (loop->ev_wake) event_free(loop->ev_wake);
    if (loop->base) event_base_free(loop->base);
    pthread_mutex_destroy(&loop->mu);
    pthread_cond_destroy(&loop->task_cond);
  }
  peers_free(p);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->dial_cond);
  pthread_mutex_destroy(&p->jobs_mu);
  pthread_cond_destroy(&p->jobs_cond);
  free(p);
}

const peer_key_t *p2p_key(const p2p_t *p) { return &p->key; }

size_t p2p_listen_addrs(const p2p_t *p, multiaddr_t *out, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < p->listener_count && n < cap; i++) out[n++] = p->listeners[i].addr;
  return n;
}

int p2p_handle(p2p_t *p, const char *protocol, p2p_handler_fn fn, void *ctx) {
  if (p->started) return err_set(-EBUSY, "handlers are registered before p2p_start");
  return add_handler(p, protocol, fn, ctx);
}

size_t p2p_protocols(const p2p_t *p, const char **out, size_t cap) {
  for (size_t i = 0; i < p->handler_count && i < cap; i++) out[i] = p->handlers[i].protocol;
  return p->handler_count;
}

int p2p_on_peer(p2p_t *p, p2p_event_fn fn, void *ctx) {
  if (p->started) return err_set(-EBUSY, "p2p_on_peer comes before p2p_start");
  if (p->event_count == P2P_EVENT_SUBSCRIBERS_MAX)
    return err_set(-ENOSPC, "more than %d p2p_on_peer subscribers", P2P_EVENT_SUBSCRIBERS_MAX);
  p->event_fn[p->event_count] = fn;
  p->event_ctx[p->event_count++] = ctx;
  return 0;
}

/* ---- dialing --------------------------------------------------------------------------------- */

p2p_conn_t *p2p_conn_for(p2p_t *p, const peer_id_t *peer) {
  p2p_conn_t *found = NULL;
  pthread_mutex_lock(&p->mu);
  for (p2p_conn_t *c = p->conns; c; c = c->next)
    if (atomic_load(&c->ready) && peer_id_equal(&c->peer, peer)) {
      found = c;
      break;
    }
  if (found) conn_ref(found);
  pthread_mutex_unlock(&p->mu);
  return found;
}

bool p2p_is_connected(p2p_t *p, const peer_id_t *peer) {
  p2p_conn_t *c = p2p_conn_for(p, peer);
  conn_unref(c);
  return c != NULL;
}

int p2p_connect(p2p_t *p, const multiaddr_t *addr, peer_id_t *remote, uint32_t timeout_ms) {
  if (!p->started || atomic_load(&p->stopping)) return err_set(-ESHUTDOWN, "the p2p host does not run");
  char text[MA_TEXT_BYTES_MAX] = "?";
  (void)ma_format(addr, text);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (ma_to_sockaddr(addr, &ss, &sl) != 0) return err_set(-EAFNOSUPPORT, "%s: only /ip4|ip6/../tcp/.. can be dialed", text);
  peer_id_t want;
  bool have_want = ma_peer_id(addr, &want) == 0;
  if (have_want) {
    if (peer_id_equal(&want, &p->key.id)) return err_set(-EINVAL, "%s: that is this node", text);
    pthread_mutex_lock(&p->mu);
    bool banned = peer_banned_locked(p, &want, p2p_now_ms());
    pthread_mutex_unlock(&p->mu);
    if (banned) return err_set(-EACCES, "%s: the peer is banned", text);
    if (p2p_is_connected(p, &want)) {
      if (remote) *remote = want;
      return 0;
    }
  }
  if (!timeout_ms) timeout_ms = p->opts.dial_timeout_ms;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return err_set(-errno, "%s: socket: %s", text, strerror(errno));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  p2p_conn_t *c = conn_alloc(p, true);
  conn_start_t *st = calloc(1, sizeof *st);
  p2p_dial_t *d = calloc(1, sizeof *d);
  if (!c || !st || !d) {
    close(fd);
    free(c);
    free(st);
    free(d);
    return err_set(-ENOMEM, "out of memory");
  }
  ma_without_peer(addr, &c->dialed_addr);
  c->remote_addr = c->dialed_addr;
  if (have_want) {
    c->expected = want;
    c->have_expected = true;
  }
  d->refs = 2;
  c->dial = d;
  st->c = c;
  st->fd = fd;
  st->addr = ss;
  st->addr_len = sl;
  struct timespec deadline;
  p2p_deadline(&deadline, timeout_ms);
  if (loop_post(c->loop, conn_start_run, st) != 0) {
    close(fd);
    conn_unref(c);
    free(st);
    free(d);
    return err_set(-ENOMEM, "out of memory");
  }
  pthread_mutex_lock(&p->mu);
  while (!d->done && p2p_cond_wait(&p->dial_cond, &p->mu, &deadline) == 0) {
  }
  int rc = d->done ? d->rc : -ETIMEDOUT;
  peer_id_t got = d->peer;
  char err[sizeof d->err];
  snprintf(err, sizeof err, "%s", d->err);
  if (--d->refs == 0) free(d);
  pthread_mutex_unlock(&p->mu);
  if (rc == -ETIMEDOUT) return err_set(rc, "%s: no connection within %u ms", text, timeout_ms);
  if (rc) return err_set(rc, "%s: %s", text, err[0] ? err : strerror(-rc));
  if (remote) *remote = got;
  return 0;
}

int p2p_connect_peer(p2p_t *p, const peer_id_t *peer, uint32_t timeout_ms) {
  if (p2p_is_connected(p, peer)) return 0;
  char id[PEER_ID_TEXT_BYTES_MAX] = "?";
  (void)peer_id_format(peer, id);
  p2p_peer_info_t *info = malloc(sizeof *info);
  if (!info) return -ENOMEM;
  int rc = p2p_peer_info(p, peer, info);
  if (rc || info->addr_count == 0) {
    free(info);
    return err_set(-EHOSTUNREACH, "no known address for peer %s", id);
  }
  if (!timeout_ms) timeout_ms = p->opts.dial_timeout_ms;
  uint64_t end = p2p_now_ms() + timeout_ms;
  rc = -EHOSTUNREACH;
  for (size_t i = 0; i < info->addr_count; i++) {
    uint64_t now = p2p_now_ms();
    if (now >= end) {
      rc = err_set(-ETIMEDOUT, "no connection to %s within %u ms", id, timeout_ms);
      break;
    }
    multiaddr_t ma;
    if (ma_with_peer(&info->addrs[i], peer, &ma) != 0) continue;
    rc = p2p_connect(p, &ma, NULL, (uint32_t)(end - now));
    if (rc == 0 || rc == -EACCES) break;
  }
  free(info);
  return rc;
}

void p2p_disconnect(p2p_t *p, const peer_id_t *peer) {
  enum { BATCH = 64 };
  p2p_conn_t *victims[BATCH];
  size_t n = 0;
  pthread_mutex_lock(&p->mu);
  for (p2p_conn_t *c = p->conns; c && n < BATCH; c = c->next)
    if (c->have_peer && peer_id_equal(&c->peer, peer)) {
      conn_ref(c);
      victims[n++] = c;
    }
  pthread_mutex_unlock(&p->mu);
  for (size_t i = 0; i < n; i++) {
    conn_close_async(victims[i], -ECONNRESET, "disconnected", 0);
    conn_unref(victims[i]);
  }
}

size_t p2p_connections(p2p_t *p, p2p_conn_info_t *out, size_t cap) {
  size_t n = 0;
  pthread_mutex_lock(&p->mu);
  for (p2p_conn_t *c = p->conns; c; c = c->next) {
    if (!atomic_load(&c->ready)) continue;
    if (n < cap)
      out[n] = (p2p_conn_info_t){.peer = c->peer, .remote_addr = c->remote_addr, .outbound = c->outbound,
                                 .opened_ms = c->opened_ms, .streams = atomic_load(&c->streams)};
    n++;
  }
  pthread_mutex_unlock(&p->mu);
  return n;
}
