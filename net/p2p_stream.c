/*
 * p2p_stream: yamux streams as blocking byte streams (p2p.h), their
 * receive queues, and multistream-select of each stream's protocol (the
 * dialer sends the header and its first proposal in one write; the
 * responder answers header and verdict in one write, or its header at once
 * when nothing has arrived yet).
 *
 * A stream's receive queue holds what yamux delivered and the application
 * has not read; it is bounded by the stream's receive window, because
 * window is granted back (yamux_consumed) only as the application reads.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "p2p_internal.h"
#include "varint.h"

#define MOD "p2p"
#define STREAM_NEGOTIATE_MS 10000u /* an inbound stream's multistream-select */
#define RX_COMPACT_BYTES (64u * 1024)
#define RX_KEEP_BYTES_MAX (4u * 1024 * 1024) /* a drained receive queue bigger than this is freed */

/* ---- the stream map (c->mu held) ------------------------------------------------------------- */

static p2p_stream_t *map_find(p2p_conn_t *c, uint32_t id) {
  for (p2p_stream_t *s = c->stream_map[id % P2P_STREAM_BUCKETS]; s; s = s->next)
    if (s->id == id) return s;
  return NULL;
}

static void map_add(p2p_conn_t *c, p2p_stream_t *s) {
  p2p_stream_t **head = &c->stream_map[s->id % P2P_STREAM_BUCKETS];
  s->next = *head;
  *head = s;
  s->registered = true;
  atomic_fetch_add(&c->streams, 1);
}

static void map_remove(p2p_conn_t *c, p2p_stream_t *s) {
  if (s->wake_pending) { /* no wake-up for a stream about to go */
    for (size_t i = 0; i < c->wake_count; i++)
      if (c->wake[i] == s) {
        c->wake[i] = c->wake[--c->wake_count];
        break;
      }
    s->wake_pending = false;
    pthread_cond_broadcast(&s->cond);
  }
  if (!s->registered) return;
  for (p2p_stream_t **pp = &c->stream_map[s->id % P2P_STREAM_BUCKETS]; *pp; pp = &(*pp)->next)
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  s->next = NULL;
  s->registered = false;
  atomic_fetch_sub(&c->streams, 1);
}

static p2p_stream_t *stream_alloc(p2p_conn_t *c, uint32_t id, bool inbound) {
  p2p_stream_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->p = c->p;
  s->c = c;
  s->id = id;
  s->inbound = inbound;
  s->peer = c->peer;
  p2p_cond_init(&s->cond);
  conn_ref(c);
  return s;
}

/* ---- yamux events (loop thread, c->mu held) ------------------------------------------------ */

static void inbound_job(p2p_t *p, void *arg);
static void inbound_cancel(p2p_t *p, void *arg);

int stream_on_opened(p2p_conn_t *c, uint32_t id) {
  if (atomic_load(&c->p->stopping)) return -ESHUTDOWN;
  /* one peer cannot take the whole handler pool */
  if (atomic_load(&c->inbound_active) >= P2P_CONN_INBOUND_MAX) {
    log_debug(MOD, "inbound stream refused: %d of this connection's streams are being handled", P2P_CONN_INBOUND_MAX);
    return -EAGAIN;
  }
  p2p_stream_t *s = stream_alloc(c, id, true);
  if (!s) return -ENOMEM;
  map_add(c, s);
  atomic_fetch_add(&c->inbound_active, 1);
  int rc = p2p_job_post(c->p, inbound_job, inbound_cancel, s);
  if (rc) {
    log_debug(MOD, "inbound stream refused: every handler thread is busy");
    atomic_fetch_sub(&c->inbound_active, 1);
    map_remove(c, s);
    pthread_cond_destroy(&s->cond);
    conn_unref(c); /* never the last: the loop holds one */
    free(s);
  }
  return rc;
}

void stream_on_data(p2p_conn_t *c, uint32_t id, const uint8_t *data, size_t len) {
  p2p_stream_t *s = map_find(c, id);
  if (!s) { /* freed by its owner: drop, but keep the window open until the remote ends it */
    for (size_t i = 0; i < c->discard_count; i++)
      if (c->discard[i].id == id) {
        c->discard[i].n += len;
        return;
      }
    if (c->discard_count < P2P_DISCARD_MAX) {
      c->discard[c->discard_count].id = id;
      c->discard[c->discard_count].n = len;
      c->discard_count++;
    }
    return;
  }
  if (s->direct && s->rx_off == s->rx.len && s->direct_len < s->direct_cap) { /* into the reader's buffer */
    size_t n = len < s->direct_cap - s->direct_len ? len : s->direct_cap - s->direct_len;
    memcpy(s->direct + s->direct_len, data, n);
    s->direct_len += n;
    data += n;
    len -= n;
  }
  if (len == 0) {
  } else if (s->rx_off == s->rx.len) {
    buf_reset(&s->rx);
    s->rx_off = 0;
  } else if (s->rx_off >= RX_COMPACT_BYTES && s->rx_off >= s->rx.len - s->rx_off) {
    memmove(s->rx.data, s->rx.data + s->rx_off, s->rx.len - s->rx_off);
    s->rx.len -= s->rx_off;
    s->rx_off = 0;
  }
  if (len && buf_append(&s->rx, data, len) != 0) {
    log_warn(MOD, "out of memory: a stream's %zu bytes dropped, the stream reset", len);
    s->rst = true; /* the reader sees the reset; the owner's free resets yamux's side */
  }
  /* one wake-up per input batch, not one per frame */
  if (s->wake_pending) return;
  if (c->in_input && c->wake_count < P2P_WAKE_MAX) {
    s->wake_pending = true;
    c->wake[c->wake_count++] = s;
  } else {
    pthread_cond_broadcast(&s->cond);
  }
}

void stream_wake_pending(p2p_conn_t *c) {
  for (size_t i = 0; i < c->wake_count; i++) {
    c->wake[i]->wake_pending = false;
    pthread_cond_broadcast(&c->wake[i]->cond);
  }
  c->wake_count = 0;
}

void stream_on_fin(p2p_conn_t *c, uint32_t id) {
  p2p_stream_t *s = map_find(c, id);
  if (!s) return;
  s->fin = true;
  pthread_cond_broadcast(&s->cond);
}

void stream_on_reset(p2p_conn_t *c, uint32_t id) {
  p2p_stream_t *s = map_find(c, id);
  if (!s) return;
  s->rst = true;
  map_remove(c, s);
  pthread_cond_broadcast(&s->cond);
}

void stream_on_writable(p2p_conn_t *c, uint32_t id) {
  p2p_stream_t *s = map_find(c, id);
  if (s) pthread_cond_broadcast(&s->cond);
}

void stream_conn_dead(p2p_conn_t *c) {
  for (size_t b = 0; b < P2P_STREAM_BUCKETS; b++)
    while (c->stream_map[b]) {
      p2p_stream_t *s = c->stream_map[b];
      s->rst = true;
      map_remove(c, s);
      pthread_cond_broadcast(&s->cond);
    }
}

/* ---- reading and writing --------------------------------------------------------------------- */

/* Up to len bytes: >0, 0 at FIN, <0 (c->mu taken here). */
static ssize_t stream_read_dl(p2p_stream_t *s, void *data, size_t len, const struct timespec *deadline) {
  p2p_conn_t *c = s->c;
  if (len == 0) return 0;
  pthread_mutex_lock(&c->mu);
  /* Waiting on an empty queue, the reader lends its buffer: data that comes
   * is copied there once instead of into the queue and out again. */
  bool direct = false;
  bool timed_out = false;
  while (s->rx_off == s->rx.len && !s->fin && !s->rst && !c->dead && !(direct && s->direct_len)) {
    if (!s->direct) {
      s->direct = data;
      s->direct_cap = len;
      s->direct_len = 0;
      direct = true;
    }
    if (p2p_cond_wait(&s->cond, &c->mu, deadline) == ETIMEDOUT) {
      timed_out = true;
      break;
    }
  }
  size_t n = 0;
  if (direct) {
    n = s->direct_len;
    s->direct = NULL;
    s->direct_cap = s->direct_len = 0;
  }
  if (n == 0) {
    size_t avail = s->rx.len - s->rx_off;
    if (avail == 0) {
      bool fin = s->fin && !s->rst && !c->dead;
      pthread_mutex_unlock(&c->mu);
      if (timed_out) return err_set(-ETIMEDOUT, "stream read timed out");
      return fin ? 0 : err_set(-ECONNRESET, "stream reset");
    }
    n = avail < len ? avail : len;
    memcpy(data, s->rx.data + s->rx_off, n);
    s->rx_off += n;
    if (s->rx_off == s->rx.len) { /* drained: keep a small buffer, not a burst's */
      if (s->rx.cap > RX_KEEP_BYTES_MAX) buf_free(&s->rx);
      else buf_reset(&s->rx);
      s->rx_off = 0;
    }
  }
  bool kick = false;
  if (s->registered && c->y) {
    yamux_consumed(c->y, s->id, n);
    kick = yamux_output(c->y)->len > 0;
  }
  pthread_mutex_unlock(&c->mu);
  if (kick) conn_kick(c);
  return (ssize_t)n;
}

/* Exactly len bytes unless FIN comes first: the count read, or <0. */
static ssize_t stream_read_full(p2p_stream_t *s, void *data, size_t len, const struct timespec *deadline) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = stream_read_dl(s, (uint8_t *)data + got, len - got, deadline);
    if (n < 0) return n;
    if (n == 0) break;
    got += (size_t)n;
  }
  return (ssize_t)got;
}

/* Writes the segments whole (c->mu taken here). */
static int stream_write_dl(p2p_stream_t *s, const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
                           const struct timespec *deadline) {
  p2p_conn_t *c = s->c;
  const uint8_t *seg[2] = {a, b};
  size_t seg_len[2] = {a_len, b_len};
  int rc = 0;
  pthread_mutex_lock(&c->mu);
  for (int i = 0; i < 2 && !rc; i++) {
    size_t off = 0;
    while (off < seg_len[i]) {
      if (s->rst || c->dead || !s->registered || !c->y) {
        rc = err_set(-ECONNRESET, "stream reset");
        break;
      }
      if (s->write_closed) {
        rc = err_set(-EPIPE, "stream closed for writing");
        break;
      }
      ssize_t n = yamux_write(c->y, s->id, seg[i] + off, seg_len[i] - off);
      if (n < 0) {
        rc = err_set(-EPIPE, "stream closed for writing");
        break;
      }
      off += (size_t)n;
      if (off < seg_len[i]) {
        conn_kick(c); /* what fits goes out while we wait for window */
        if (p2p_cond_wait(&s->cond, &c->mu, deadline) == ETIMEDOUT) {
          rc = err_set(-ETIMEDOUT, "stream write timed out (the remote's window stayed shut)");
          break;
        }
      }
    }
  }
  pthread_mutex_unlock(&c->mu);
  conn_kick(c);
  return rc;
}

static const struct timespec *deadline_for(struct timespec *ts, uint32_t timeout_ms) {
  if (!timeout_ms) return NULL;
  p2p_deadline(ts, timeout_ms);
  return ts;
}

ssize_t p2p_stream_read(p2p_stream_t *s, void *data, size_t len, uint32_t timeout_ms) {
  struct timespec ts;
  return stream_read_dl(s, data, len, deadline_for(&ts, timeout_ms));
}

int p2p_stream_write(p2p_stream_t *s, const void *data, size_t len, uint32_t timeout_ms) {
  struct timespec ts;
  return stream_write_dl(s, data, len, NULL, 0, deadline_for(&ts, timeout_ms));
}

static int read_msg_dl(p2p_stream_t *s, buf_t *out, size_t max_bytes, const struct timespec *deadline) {
  uint8_t prefix[VARINT_BYTES_MAX];
  uint64_t len = 0;
  size_t have = 0;
  for (;;) {
    ssize_t n = stream_read_dl(s, &prefix[have], 1, deadline);
    if (n < 0) return (int)n;
    if (n == 0) return have == 0 ? err_set(-ENODATA, "the stream ended") : err_set(-EPROTO, "the stream ended inside a length prefix");
    have++;
    int rc = varint_decode(prefix, have, &len);
    if (rc > 0) break;
    if (rc != -EAGAIN || have == VARINT_BYTES_MAX) return err_set(-EPROTO, "a bad length prefix");
  }
  if (len > max_bytes) {
    p2p_stream_reset(s);
    return err_set(-EMSGSIZE, "a message of %llu bytes (limit %zu)", (unsigned long long)len, max_bytes);
  }
  buf_reset(out);
  if (buf_reserve(out, (size_t)len)) return -ENOMEM;
  ssize_t got = stream_read_full(s, out->data, (size_t)len, deadline);
  if (got < 0) return (int)got;
  if ((uint64_t)got < len) return err_set(-EPROTO, "the stream ended inside a message");
  out->len = (size_t)len;
  return 0;
}

int p2p_stream_read_msg(p2p_stream_t *s, buf_t *out, size_t max_bytes, uint32_t timeout_ms) {
  struct timespec ts;
  return read_msg_dl(s, out, max_bytes, deadline_for(&ts, timeout_ms));
}

int p2p_stream_write_msg(p2p_stream_t *s, const void *data, size_t len, uint32_t timeout_ms) {
  uint8_t prefix[VARINT_BYTES_MAX];
  size_t n = varint_encode(len, prefix);
  struct timespec ts;
  return stream_write_dl(s, prefix, n, data, len, deadline_for(&ts, timeout_ms));
}

int p2p_stream_close_write(p2p_stream_t *s) {
  p2p_conn_t *c = s->c;
  int rc = 0;
  pthread_mutex_lock(&c->mu);
  if (s->rst || c->dead || !s->registered || !c->y) rc = err_set(-ECONNRESET, "stream reset");
  else if (!s->write_closed) {
    s->write_closed = true;
    rc = yamux_close(c->y, s->id);
  }
  pthread_mutex_unlock(&c->mu);
  conn_kick(c);
  return rc;
}

void p2p_stream_reset(p2p_stream_t *s) {
  p2p_conn_t *c = s->c;
  pthread_mutex_lock(&c->mu);
  if (s->registered && c->y) (void)yamux_reset(c->y, s->id);
  map_remove(c, s);
  s->rst = true;
  s->rx_off = s->rx.len; /* what was not read is gone with the stream */
  s->direct_len = 0;
  pthread_cond_broadcast(&s->cond); /* another thread blocked on the stream fails at once */
  pthread_mutex_unlock(&c->mu);
  conn_kick(c);
}

void p2p_stream_free(p2p_stream_t *s) {
  if (!s) return;
  p2p_conn_t *c = s->c;
  pthread_mutex_lock(&c->mu);
  if (s->registered && c->y) {
    if (s->rst) (void)yamux_reset(c->y, s->id);
    else if (!s->write_closed) (void)yamux_close(c->y, s->id);
    /* bytes still unread, and any that come, are given back as window */
    if (!s->rst && s->rx.len > s->rx_off) yamux_consumed(c->y, s->id, s->rx.len - s->rx_off);
  }
  map_remove(c, s);
  pthread_mutex_unlock(&c->mu);
  if (s->inbound) atomic_fetch_sub(&c->inbound_active, 1);
  conn_kick(c);
  buf_free(&s->rx);
  pthread_cond_destroy(&s->cond);
  conn_unref(c);
  free(s);
}

const char *p2p_stream_protocol(const p2p_stream_t *s) { return s->protocol; }
const peer_id_t *p2p_stream_peer(const p2p_stream_t *s) { return &s->peer; }

/* ---- multistream-select per stream ----------------------------------------------------------- */

/* One message into text; -ECONNRESET at FIN, -EPROTO malformed. */
static int read_mss(p2p_stream_t *s, char text[MSS_PROTOCOL_BYTES_MAX + 1], const struct timespec *deadline) {
  uint8_t msg[MSS_PROTOCOL_BYTES_MAX + 8];
  size_t have = 0;
  uint64_t len = 0;
  for (;;) {
    ssize_t n = stream_read_dl(s, &msg[have], 1, deadline);
    if (n < 0) return (int)n;
    if (n == 0) return err_set(-ECONNRESET, "the stream ended during multistream-select");
    have++;
    int rc = varint_decode(msg, have, &len);
    if (rc > 0) break;
    if (rc != -EAGAIN || have >= 3) return err_set(-EPROTO, "a bad multistream-select length");
  }
  if (len == 0 || len > MSS_PROTOCOL_BYTES_MAX + 1) return err_set(-EPROTO, "a multistream-select message of %llu bytes", (unsigned long long)len);
  ssize_t got = stream_read_full(s, msg + have, (size_t)len, deadline);
  if (got < 0) return (int)got;
  if ((uint64_t)got < len) return err_set(-ECONNRESET, "the stream ended during multistream-select");
  int rc = mss_decode(msg, have + (size_t)len, text);
  if (rc <= 0) return err_set(-EPROTO, "a malformed multistream-select message");
  return 0;
}

static int write_mss(p2p_stream_t *s, const char *a, const char *b, const struct timespec *deadline) {
  buf_t m = {0};
  int rc = 0;
  if (a) rc = mss_encode(&m, a);
  if (!rc && b) rc = mss_encode(&m, b);
  if (!rc) rc = stream_write_dl(s, m.data, m.len, NULL, 0, deadline);
  buf_free(&m);
  return rc;
}

int stream_open_on(p2p_conn_t *c, const char *const *protocols, size_t count, uint32_t timeout_ms,
                   p2p_stream_t **out) {
  *out = NULL;
  if (count == 0) return err_set(-EINVAL, "no protocol to open");
  for (size_t i = 0; i < count; i++)
    if (!protocols[i] || !protocols[i][0] || strlen(protocols[i]) > MSS_PROTOCOL_BYTES_MAX)
      return err_set(-EINVAL, "bad protocol id");
  struct timespec ts;
  const struct timespec *deadline = deadline_for(&ts, timeout_ms ? timeout_ms : c->p->opts.dial_timeout_ms);
  pthread_mutex_lock(&c->mu);
  if (c->dead || !c->y) {
    pthread_mutex_unlock(&c->mu);
    return err_set(-ECONNRESET, "the connection closed");
  }
  uint32_t id;
  int rc = yamux_open(c->y, &id);
  p2p_stream_t *s = rc ? NULL : stream_alloc(c, id, false);
  if (s) map_add(c, s);
  else if (!rc) {
    (void)yamux_reset(c->y, id);
    rc = -ENOMEM;
  }
  pthread_mutex_unlock(&c->mu);
  if (rc) return rc == -EPIPE ? err_set(-ECONNRESET, "the connection is going away") : err_set(rc, "cannot open a stream: %s", err_msg(rc));
  char text[MSS_PROTOCOL_BYTES_MAX + 1];
  rc = write_mss(s, MSS_HEADER, protocols[0], deadline);
  if (!rc) rc = read_mss(s, text, deadline);
  if (!rc && strcmp(text, MSS_HEADER) != 0) rc = err_set(-EPROTO, "expected %s, got \"%.64s\"", MSS_HEADER, text);
  for (size_t i = 0; !rc; i++) {
    rc = read_mss(s, text, deadline);
    if (rc) break;
    if (strcmp(text, protocols[i]) == 0) {
      snprintf(s->protocol, sizeof s->protocol, "%s", protocols[i]);
      *out = s;
      return 0;
    }
    if (strcmp(text, MSS_NA) != 0) {
      rc = err_set(-EPROTO, "the remote answered \"%.64s\" to %s", text, protocols[i]);
      break;
    }
    if (i + 1 == count) {
      rc = err_set(-EPROTONOSUPPORT, "the peer supports none of the %zu protocols offered (first %s)", count, protocols[0]);
      break;
    }
    rc = write_mss(s, NULL, protocols[i + 1], deadline);
  }
  int keep = rc;
  p2p_stream_reset(s);
  p2p_stream_free(s);
  return keep;
}

int p2p_stream_open(p2p_t *p, const peer_id_t *peer, const char *const *protocols, size_t count,
                    uint32_t timeout_ms, p2p_stream_t **out) {
  *out = NULL;
  uint64_t start = p2p_now_ms();
  int rc = p2p_connect_peer(p, peer, timeout_ms);
  if (rc) return rc;
  p2p_conn_t *c = p2p_conn_for(p, peer);
  if (!c) return err_set(-ECONNRESET, "the connection closed");
  uint32_t left = 0;
  if (timeout_ms) {
    uint64_t spent = p2p_now_ms() - start;
    left = spent >= timeout_ms ? 1 : (uint32_t)(timeout_ms - spent);
  }
  rc = stream_open_on(c, protocols, count, left, out);
  conn_unref(c);
  return rc;
}

/* ---- inbound streams: negotiate, then the handler (on a pool thread) --------------------- */

static void inbound_cancel(p2p_t *p, void *arg) {
  (void)p;
  p2p_stream_t *s = arg;
  p2p_stream_reset(s);
  p2p_stream_free(s);
}

static void inbound_job(p2p_t *p, void *arg) {
  p2p_stream_t *s = arg;
  p2p_conn_t *c = s->c;
  struct timespec ts;
  const struct timespec *deadline = deadline_for(&ts, STREAM_NEGOTIATE_MS);
  pthread_mutex_lock(&c->mu);
  bool waiting = s->rx_off == s->rx.len;
  pthread_mutex_unlock(&c->mu);
  bool header_sent = false;
  int rc = 0;
  if (waiting) { /* the dialer may wait for our header */
    rc = write_mss(s, MSS_HEADER, NULL, deadline);
    header_sent = true;
  }
  char text[MSS_PROTOCOL_BYTES_MAX + 1];
  if (!rc) rc = read_mss(s, text, deadline);
  if (!rc && strcmp(text, MSS_HEADER) != 0) rc = err_set(-EPROTO, "expected %s", MSS_HEADER);
  for (unsigned attempt = 0; !rc && attempt < P2P_MSS_ATTEMPTS_MAX; attempt++) {
    rc = read_mss(s, text, deadline);
    if (rc) break;
    const p2p_handler_t *h = p2p_handler_find(p, text);
    rc = write_mss(s, header_sent ? NULL : MSS_HEADER, h ? text : MSS_NA, deadline);
    header_sent = true;
    if (rc) break;
    if (h) {
      snprintf(s->protocol, sizeof s->protocol, "%s", text);
      h->fn(s, h->ctx);
      return;
    }
  }
  if (rc && rc != -ECONNRESET) {
    char who[PEER_ID_TEXT_BYTES_MAX] = "?";
    (void)peer_id_format(&s->peer, who);
    log_debug(MOD, "inbound stream from %s: %s", who, err_msg(rc));
  }
  p2p_stream_reset(s);
  p2p_stream_free(s);
}
