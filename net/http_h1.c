/*
 * http_h1: HTTP/1.1 (and 1.0) connections on a loop thread, with
 * http-parser.
 *
 * One request at a time per connection: the parser pauses at the end of each
 * request message, so a pipelined next request stays unparsed in the input
 * buffer (bounded by HTTP_INPUT_HIGH_BYTES: libevent stops reading above it)
 * until the response before it is complete; responses thus go out in
 * request order.  A request body streams into the request's in queue; when
 * the queue holds HTTP_QUEUE_BYTES the loop stops feeding the parser (and,
 * the input buffer filling up, stops reading the socket) until the handler
 * has read half of it.
 *
 * All the connection's work happens in h1_run, called from every event (bytes
 * in, bytes out, a worker's notification): pull the worker's response bytes,
 * finish the request when its handler is done, parse more, dispatch a new
 * request; then flush.  The write buffer is written to the socket directly
 * when libevent's output is empty, so a small response costs one writev and
 * no poll for writability.
 *
 * One timer per connection, by state: idle (between requests), request
 * (first byte to end of headers: 408), progress (while a request is active:
 * a client that neither sends the body nor takes the response for
 * idle_timeout_ms is dropped), linger (after our FIN).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "http_internal.h"
#include "log.h"

#define MOD "http"

static void h1_run(http_conn_t *c);

void http_conn_timer_arm(http_conn_t *c, enum http_timer_kind kind, uint64_t ms) {
  c->timer_kind = kind;
  struct timeval tv = {.tv_sec = (time_t)(ms / 1000u), .tv_usec = (suseconds_t)(ms % 1000u) * 1000};
  event_add(c->ev_timer, &tv);
}

size_t http_conn_out_len(http_conn_t *c) {
  return evbuffer_get_length(c->wbuf) + evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* ---- closing --------------------------------------------------------------------- */

void http_conn_free(http_conn_t *c) {
  http_req_destroy(&c->req);
  http_ws_free_queues(&c->ws);
  if (c->wbuf) evbuffer_free(c->wbuf);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

void http_conn_release(http_conn_t *c) {
  pthread_mutex_lock(&c->mu);
  bool last = --c->refs == 0;
  pthread_mutex_unlock(&c->mu);
  if (last) http_conn_free(c);
}

/* Drops the socket now (loop thread).  The memory goes with the last
 * reference. */
void http_conn_close(http_conn_t *c, int reason) {
  if (!c->bev) return;
  if (c->h2) http_h2_closed(c);
  if (c->prev)
    c->prev->next = c->next;
  else
    c->loop->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
  bufferevent_free(c->bev);
  c->bev = NULL;
  event_free(c->ev_timer);
  c->ev_timer = NULL;
  if (c->ws.wslay) {
    wslay_event_context_free(c->ws.wslay);
    c->ws.wslay = NULL;
  }
  if (c->counted) {
    atomic_fetch_sub(&c->l->conns, 1);
    metrics_gauge_add(c->l->m_conns, -1);
  }
  if (c->rejecting) atomic_fetch_sub(&c->l->rejecting, 1);
  pthread_mutex_lock(&c->mu);
  c->closed = true;
  c->close_reason = reason ? reason : -ECONNRESET;
  event_free(c->ev_notify);
  c->ev_notify = NULL;
  pthread_cond_broadcast(&c->req.cond);
  if (c->ws.accepted) http_ws_closed(c);
  bool last = --c->refs == 0;
  pthread_mutex_unlock(&c->mu);
  if (last) http_conn_free(c);
}

/* Our response is out: shut our side and drop what the client still sends
 * for a moment, so that unread input does not turn our FIN into a reset that
 * destroys the response in flight. */
static void h1_linger(http_conn_t *c) {
  c->st = H1_LINGER;
  shutdown(c->fd, SHUT_WR);
  struct evbuffer *in = bufferevent_get_input(c->bev);
  evbuffer_drain(in, evbuffer_get_length(in));
  bufferevent_enable(c->bev, EV_READ);
  http_conn_timer_arm(c, TIMER_LINGER, HTTP_LINGER_MS);
}

/* ---- responses the server makes itself ------------------------------------------ */

/* Answers the current (possibly half-parsed) request with an error and
 * closes the connection after it. */
static void h1_fail(http_conn_t *c, int status, const char *msg) {
  http_req_t *req = &c->req;
  if (c->st == H1_ACTIVE && c->dispatched) {
    /* the handler owns the request: its reads fail, the connection closes after it */
    c->body_broken = true;
    pthread_mutex_lock(&c->mu);
    if (!req->body_err) req->body_err = -ECONNRESET;
    pthread_cond_broadcast(&req->cond);
    pthread_mutex_unlock(&c->mu);
    return;
  }
  c->st = H1_ACTIVE;
  c->dispatched = true;
  c->body_broken = true;
  req->inline_mode = true;
  req->keep_alive = false;
  req->start_ns = metrics_now_ns();
  http_respond_error(req, status, "%s", msg);
  http_req_finish_inline(req);
}

/* ---- parser callbacks --------------------------------------------------------------- */

static int head_grow(http_conn_t *c, size_t n) {
  c->head_bytes += n;
  if (c->head_bytes > c->l->limits.header_bytes_max) {
    c->err_status = 431;
    return -1;
  }
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  http_conn_t *c = p->data;
  if (head_grow(c, len) < 0) return -1;
  if (buf_append(&c->req.head, at, len) != 0) {
    c->err_status = 503;
    return -1;
  }
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  http_conn_t *c = p->data;
  http_req_t *req = &c->req;
  if (c->st != H1_HEAD) return 0; /* trailers: dropped (the handler may be reading the head) */
  if (head_grow(c, len + (c->last_cb != CB_FIELD ? 4 : 0)) < 0) return -1;
  if (c->last_cb != CB_FIELD) {
    if (req->hdr_count == req->hdr_cap) {
      size_t cap = req->hdr_cap ? req->hdr_cap * 2 : 16;
      struct http_hdr *grown = realloc(req->hdrs, cap * sizeof *grown);
      if (!grown) {
        c->err_status = 503;
        return -1;
      }
      req->hdrs = grown;
      req->hdr_cap = cap;
    }
    if (buf_append_byte(&req->head, 0) != 0) { /* ends the target or the previous value */
      c->err_status = 503;
      return -1;
    }
    req->hdrs[req->hdr_count].name = (uint32_t)req->head.len;
    req->hdrs[req->hdr_count].value = 0;
    req->hdr_count++;
  }
  c->last_cb = CB_FIELD;
  if (buf_append(&req->head, at, len) != 0) {
    c->err_status = 503;
    return -1;
  }
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  http_conn_t *c = p->data;
  http_req_t *req = &c->req;
  if (c->st != H1_HEAD) return 0;
  if (head_grow(c, len) < 0) return -1;
  if (c->last_cb != CB_VALUE) {
    if (c->last_cb != CB_FIELD || buf_append_byte(&req->head, 0) != 0) {
      c->err_status = c->last_cb != CB_FIELD ? 400 : 503;
      return -1;
    }
    req->hdrs[req->hdr_count - 1].value = (uint32_t)req->head.len;
  }
  c->last_cb = CB_VALUE;
  if (buf_append(&req->head, at, len) != 0) {
    c->err_status = 503;
    return -1;
  }
  return 0;
}

static int on_headers_complete(http_parser *p) {
  http_conn_t *c = p->data;
  http_req_t *req = &c->req;
  if (c->last_cb == CB_FIELD) { /* a name without a value: give it "" */
    if (buf_append_byte(&req->head, 0) != 0) return -1;
    req->hdrs[req->hdr_count - 1].value = (uint32_t)req->head.len;
  }
  if (buf_append_byte(&req->head, 0) != 0) {
    c->err_status = 503;
    return -1;
  }
  char *base = (char *)req->head.data;
  for (size_t i = 0; i < req->hdr_count; i++) { /* values lose trailing blanks */
    char *v = base + req->hdrs[i].value;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) v[--n] = 0;
  }
  req->target_off = 0;
  if (http_req_split_target(req) < 0) {
    c->err_status = 503;
    return -1;
  }
  req->method = http_method_str((enum http_method)p->method);
  req->version = p->http_major == 1 && p->http_minor == 0 ? 10 : 11;
  req->content_length = (p->flags & F_CONTENTLENGTH) ? (int64_t)p->content_length : -1;
  req->chunked = (p->flags & F_CHUNKED) != 0;
  req->is_head = p->method == HTTP_HEAD;
  req->keep_alive = http_should_keep_alive(p) != 0;
  const char *expect = http_req_header(req, "expect");
  req->expect_continue = expect && strcasecmp(expect, "100-continue") == 0;
  c->st = H1_ACTIVE;
  c->dispatched = false;
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  http_conn_t *c = p->data;
  http_req_t *req = &c->req;
  pthread_mutex_lock(&c->mu);
  if (req->read_started && req->body_received + len > req->body_max) {
    req->body_err = -EFBIG;
    c->body_broken = true;
    pthread_cond_broadcast(&req->cond);
    pthread_mutex_unlock(&c->mu);
    http_count_rejected(c->l, HTTP_REJECT_BODY);
    http_parser_pause(p, 1);
    return 0;
  }
  evbuffer_add(req->in, at, len);
  req->body_received += len;
  if (req->reader_waiting) pthread_cond_signal(&req->cond);
  pthread_mutex_unlock(&c->mu);
  return 0;
}

static int on_message_complete(http_parser *p) {
  http_conn_t *c = p->data;
  http_req_t *req = &c->req;
  c->body_done = true;
  pthread_mutex_lock(&c->mu);
  req->body_eof = true;
  if (req->reader_waiting) pthread_cond_signal(&req->cond);
  pthread_mutex_unlock(&c->mu);
  http_parser_pause(p, 1); /* the next request waits for this one's response */
  return 0;
}

static const http_parser_settings h1_settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- the connection's work --------------------------------------------------------- */

/* Parses one slice of input.  True when something changed. */
static bool h1_parse(http_conn_t *c) {
  struct evbuffer *in = bufferevent_get_input(c->bev);
  if (evbuffer_get_length(in) == 0) return false;
  http_req_t *req = &c->req;
  switch (c->st) {
  case H1_IDLE:
    if (http_conn_out_len(c) >= HTTP_QUEUE_BYTES) return false; /* the client reads our answers first */
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->st = H1_HEAD;
    c->head_bytes = 0;
    c->last_cb = CB_NONE;
    c->err_status = 0;
    http_conn_timer_arm(c, TIMER_REQUEST, c->l->limits.request_timeout_ms);
    break;
  case H1_HEAD:
    break;
  case H1_ACTIVE: {
    if (c->body_done || c->body_broken) return false;
    pthread_mutex_lock(&c->mu);
    bool full = evbuffer_get_length(req->in) >= HTTP_QUEUE_BYTES;
    c->in_stalled = full;
    pthread_mutex_unlock(&c->mu);
    if (full) return false;
    break;
  }
  default:
    return false;
  }
  struct evbuffer_iovec v;
  if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0) return false;
  size_t len = v.iov_len < HTTP_FEED_BYTES_MAX ? v.iov_len : HTTP_FEED_BYTES_MAX;
  size_t n = http_parser_execute(&c->parser, &h1_settings, v.iov_base, len);
  evbuffer_drain(in, n);
  metrics_counter_add(c->l->m_received, n);
  enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
  if (e != HPE_OK && e != HPE_PAUSED) {
    int status = c->err_status ? c->err_status : e == HPE_HEADER_OVERFLOW ? 431 : 400;
    if (status == 431) {
      http_count_rejected(c->l, HTTP_REJECT_HEADERS);
      h1_fail(c, 431, "request headers too large");
    } else if (status == 503) {
      h1_fail(c, 503, "out of memory");
    } else {
      http_count_rejected(c->l, HTTP_REJECT_BAD);
      char msg[128];
      snprintf(msg, sizeof msg, "malformed request: %s", http_errno_description(e));
      h1_fail(c, 400, msg);
    }
  }
  return true;
}

/* Base64url (padding optional) into out; its length, or -1. */
static ssize_t base64url_decode(const char *in, uint8_t *out, size_t cap) {
  uint32_t acc = 0;
  int bits = 0;
  size_t n = 0;
  for (; *in && *in != '='; in++) {
    int v;
    char ch = *in;
    if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
    else if (ch == '-' || ch == '+') v = 62;
    else if (ch == '_' || ch == '/') v = 63;
    else return -1;
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (n == cap) return -1;
      out[n++] = (uint8_t)(acc >> bits);
    }
  }
  return (ssize_t)n;
}

/* An h2c upgrade of a bodiless request: answers 101 and goes on in HTTP/2.
 * True when it did (the connection may be closed then). */
static bool h1_upgrade_h2c(http_conn_t *c) {
  http_req_t *req = &c->req;
  const char *upgrade = http_req_header(req, "upgrade");
  const char *settings = http_req_header(req, "http2-settings");
  if (!upgrade || !settings || http_req_has_body(req) || !http_header_has_token(upgrade, "h2c"))
    return false;
  uint8_t payload[512];
  ssize_t n = base64url_decode(settings, payload, sizeof payload);
  if (n < 0 || n % 6 != 0) return false; /* a bad HTTP2-Settings: answer in HTTP/1.1 */
  static const char switching[] =
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
  evbuffer_add(c->wbuf, switching, sizeof switching - 1);
  (void)http_h2_begin(c, payload, (size_t)n, true);
  return true;
}

/* True when the connection changed protocol (stop looking at it as HTTP/1.1). */
static bool h1_dispatch(http_conn_t *c) {
  http_req_t *req = &c->req;
  http_listener_t *l = c->l;
  c->dispatched = true;
  if (h1_upgrade_h2c(c)) return true;
  req->start_ns = metrics_now_ns();
  c->last_progress_ms = http_now_ms();
  c->last_out_len = http_conn_out_len(c);
  http_conn_timer_arm(c, TIMER_PROGRESS, l->limits.idle_timeout_ms);
  if (http_req_rate_limited(req)) return false;
  if (l->inline_fn && !http_req_has_body(req)) {
    req->inline_mode = true;
    bool handled = l->inline_fn(req, l->ctx);
    if (handled || req->started) {
      http_req_finish_inline(req);
      return false;
    }
    req->inline_mode = false;
  }
  pthread_mutex_lock(&c->mu);
  req->in_worker = true;
  c->refs++;
  pthread_mutex_unlock(&c->mu);
  http_jobs_push(c->srv, &req->job);
  return false;
}

/* 0: not HTTP/2's preface, 1: too few bytes to tell, 2: the preface. */
static int h1_preface(http_conn_t *c) {
  struct evbuffer *in = bufferevent_get_input(c->bev);
  size_t avail = evbuffer_get_length(in);
  if (avail == 0) return 1;
  char head[HTTP_H2_PREFACE_BYTES];
  size_t k = avail < sizeof head ? avail : sizeof head;
  evbuffer_copyout(in, head, k);
  if (memcmp(head, HTTP_H2_PREFACE, k) != 0) return 0;
  return k < sizeof head ? 1 : 2;
}

/* Moves a worker's response bytes toward the socket.  True when parsing may
 * resume (the body queue drained). */
static bool h1_pull(http_conn_t *c, bool *done) {
  http_req_t *req = &c->req;
  if (req->inline_mode) {
    *done = req->handler_done;
    return false;
  }
  bool resumed = false;
  pthread_mutex_lock(&c->mu);
  if (req->need_continue) {
    req->need_continue = false;
    if (!req->started) evbuffer_add(c->wbuf, "HTTP/1.1 100 Continue\r\n\r\n", 25);
  }
  size_t queued = evbuffer_get_length(req->out);
  if (queued && http_conn_out_len(c) < HTTP_QUEUE_BYTES) {
    evbuffer_add_buffer(c->wbuf, req->out);
    if (req->writer_waiting) pthread_cond_signal(&req->cond);
  }
  if (c->in_stalled && evbuffer_get_length(req->in) < HTTP_QUEUE_BYTES / 2) {
    c->in_stalled = false;
    resumed = true;
  }
  *done = req->handler_done && evbuffer_get_length(req->out) == 0;
  pthread_mutex_unlock(&c->mu);
  return resumed;
}

static void h1_finish(http_conn_t *c) {
  http_req_t *req = &c->req;
  http_count_request(req);
  bool keep = req->keep_alive && !req->resp_close && c->body_done && !c->body_broken &&
              !atomic_load(&c->srv->stopping);
  if (!keep) {
    c->st = H1_CLOSING;
    c->last_progress_ms = http_now_ms();
    http_conn_timer_arm(c, TIMER_PROGRESS, c->l->limits.idle_timeout_ms);
    return;
  }
  http_req_reset(req);
  pthread_mutex_lock(&c->mu);
  c->in_stalled = false;
  pthread_mutex_unlock(&c->mu);
  c->dispatched = false;
  c->body_done = false;
  c->body_broken = false;
  c->st = H1_IDLE;
  http_conn_timer_arm(c, TIMER_IDLE, c->l->limits.idle_timeout_ms);
}

/* Hands the write buffer to the socket.  False when the connection closed. */
bool http_conn_flush(http_conn_t *c) {
  size_t n = evbuffer_get_length(c->wbuf);
  if (n == 0) return true;
  metrics_counter_add(c->l->m_sent, n);
  struct evbuffer *out = bufferevent_get_output(c->bev);
  if (evbuffer_get_length(out) == 0 && !c->tls) { /* plain: try the socket at once */
    int w = evbuffer_write(c->wbuf, c->fd);
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      http_conn_close(c, -ECONNRESET);
      return false;
    }
  }
  if (evbuffer_get_length(c->wbuf)) evbuffer_add_buffer(out, c->wbuf);
  return true;
}

static void h1_run(http_conn_t *c) {
  if (!c->bev || c->st == H1_LINGER) return;
  if (c->ws.active) {
    (void)http_ws_run(c);
    return;
  }
  if (c->h2) {
    (void)http_h2_run(c);
    return;
  }
  if (!c->preface_checked && c->st == H1_IDLE &&
      evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
    int preface = h1_preface(c);
    if (preface == 1) { /* a prefix of the preface so far: wait for more, unless that was all */
      if (c->peer_eof) http_conn_close(c, -ECONNRESET);
      return;
    }
    c->preface_checked = true;
    if (preface == 2) {
      (void)http_h2_begin(c, NULL, 0, false);
      return;
    }
  }
  unsigned finished = 0;
  bool more = false;
  for (unsigned round = 0;; round++) {
    bool progress = false;
    if (c->st == H1_ACTIVE) {
      if (!c->dispatched) {
        if (h1_dispatch(c)) return; /* now HTTP/2 */
        progress = true;
      }
      bool done = false;
      if (h1_pull(c, &done)) progress = true;
      if (done && c->ws.accepted) { /* the 101 is out: frames from here on */
        http_count_request(&c->req);
        http_ws_begin(c);
        return;
      }
      if (done) {
        h1_finish(c);
        if (++finished >= HTTP_RUN_ROUNDS_MAX) {
          more = true;
          break;
        }
        continue;
      }
    }
    if (h1_parse(c)) progress = true;
    if (!progress) break;
    if (round > HTTP_RUN_ROUNDS_MAX * 64) {
      more = true;
      break;
    }
  }
  if (!http_conn_flush(c)) return;
  if (more) {
    pthread_mutex_lock(&c->mu);
    http_conn_notify_locked(c);
    pthread_mutex_unlock(&c->mu);
    return;
  }
  if (c->st == H1_CLOSING && http_conn_out_len(c) == 0) {
    if (c->peer_eof) {
      http_conn_close(c, -ECONNRESET);
      return;
    }
    h1_linger(c);
  } else if (c->peer_eof && (c->st == H1_IDLE || c->st == H1_HEAD) &&
             evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
    http_conn_close(c, -ECONNRESET);
  }
}

/* ---- events ------------------------------------------------------------------------------- */

static void h1_readcb(struct bufferevent *bev, void *arg) {
  http_conn_t *c = arg;
  c->last_progress_ms = http_now_ms();
  if (c->st == H1_LINGER) {
    struct evbuffer *in = bufferevent_get_input(bev);
    evbuffer_drain(in, evbuffer_get_length(in));
    return;
  }
  h1_run(c);
}

static void h1_writecb(struct bufferevent *bev, void *arg) {
  (void)bev;
  http_conn_t *c = arg;
  c->last_progress_ms = http_now_ms();
  h1_run(c);
}

static void h1_eventcb(struct bufferevent *bev, short what, void *arg) {
  (void)bev;
  http_conn_t *c = arg;
  if (what & BEV_EVENT_CONNECTED) return; /* the TLS handshake is done */
  if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && c->st != H1_LINGER &&
      !c->ws.active && !c->h2) {
    /* the client finished sending: answer what it asked, then close */
    c->peer_eof = true;
    if (c->st == H1_ACTIVE && !c->body_done && !c->body_broken) {
      http_conn_close(c, -ECONNRESET);
      return;
    }
    h1_run(c);
    return;
  }
  http_conn_close(c, -ECONNRESET);
}

static void h1_timer_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  http_conn_t *c = arg;
  uint64_t idle_ms = c->l->limits.idle_timeout_ms;
  switch (c->timer_kind) {
  case TIMER_IDLE:
    http_conn_close(c, -ETIMEDOUT);
    return;
  case TIMER_REQUEST:
    if (c->st != H1_HEAD) return;
    http_count_rejected(c->l, HTTP_REJECT_TIMEOUT);
    h1_fail(c, 408, "request headers not complete in time");
    h1_run(c);
    return;
  case TIMER_PROGRESS: {
    uint64_t now = http_now_ms();
    size_t pending = http_conn_out_len(c);
    if (pending != c->last_out_len) {
      c->last_out_len = pending;
      c->last_progress_ms = now;
    }
    pthread_mutex_lock(&c->mu);
    bool stalled = c->in_stalled;
    pthread_mutex_unlock(&c->mu);
    bool waiting_for_client =
        pending > 0 || (c->st == H1_ACTIVE && !c->body_done && !c->body_broken && !stalled);
    uint64_t quiet_ms = now - c->last_progress_ms;
    if (waiting_for_client && quiet_ms >= idle_ms) {
      http_count_rejected(c->l, HTTP_REJECT_TIMEOUT);
      http_conn_close(c, -ETIMEDOUT);
      return;
    }
    http_conn_timer_arm(c, TIMER_PROGRESS, waiting_for_client ? idle_ms - quiet_ms : idle_ms);
    return;
  }
  case TIMER_LINGER:
    http_conn_close(c, -ECONNRESET);
    return;
  case TIMER_WS_PING:
    http_ws_ping_tick(c);
    return;
  case TIMER_H2:
    http_h2_tick(c);
    return;
  }
}

void http_h1_notify_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  http_conn_t *c = arg;
  pthread_mutex_lock(&c->mu);
  c->notify_pending = false;
  pthread_mutex_unlock(&c->mu);
  h1_run(c);
}

/* ---- accepting ------------------------------------------------------------------------------ */

static void peer_string(const struct sockaddr *sa, char *out, size_t cap) {
  out[0] = 0;
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
  } else if (sa->sa_family == AF_INET6) {
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a))
      inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)cap);
    else
      inet_ntop(AF_INET6, a, out, (socklen_t)cap);
  }
  if (!out[0]) snprintf(out, cap, "unknown");
}

void http_h1_conn_new(http_loop_t *loop, http_listener_t *l, int fd, const struct sockaddr *sa) {
  bool reject = false;
  unsigned open_now = atomic_fetch_add(&l->conns, 1) + 1;
  if (l->limits.connections_max && open_now > l->limits.connections_max) {
    atomic_fetch_sub(&l->conns, 1);
    http_count_rejected(l, HTTP_REJECT_CONNECTIONS);
    if (atomic_fetch_add(&l->rejecting, 1) >= HTTP_REJECTING_MAX) {
      atomic_fetch_sub(&l->rejecting, 1);
      close(fd);
      return;
    }
    reject = true;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  http_conn_t *c = calloc(1, sizeof *c);
  if (c) {
    c->srv = loop->srv;
    c->loop = loop;
    c->l = l;
    c->fd = fd;
    c->counted = !reject;
    c->refs = 1;
    c->ws.c = c;
    c->rejecting = reject;
    pthread_mutex_init(&c->mu, NULL);
    peer_string(sa, c->peer, sizeof c->peer);
    http_req_init(&c->req, c);
    c->wbuf = evbuffer_new();
    c->tls = c->srv->ssl_ctx != NULL;
    c->bev = c->tls ? http_tls_bufferevent(c->srv, loop->base, fd)
                    : bufferevent_socket_new(loop->base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->ev_timer = evtimer_new(loop->base, h1_timer_cb, c);
    c->ev_notify = event_new(loop->base, -1, 0, http_h1_notify_cb, c);
  }
  if (!c || !c->wbuf || !c->bev || !c->ev_timer || !c->ev_notify || !c->req.in || !c->req.out) {
    if (reject)
      atomic_fetch_sub(&l->rejecting, 1);
    else
      atomic_fetch_sub(&l->conns, 1);
    if (c) {
      if (c->bev)
        bufferevent_free(c->bev);
      else
        close(fd);
      if (c->ev_timer) event_free(c->ev_timer);
      if (c->ev_notify) event_free(c->ev_notify);
      http_conn_free(c);
    } else {
      close(fd);
    }
    log_warn(MOD, "%s: out of memory for a connection", l->name);
    return;
  }
  if (!reject) metrics_gauge_add(l->m_conns, 1);
  c->next = loop->conns;
  if (loop->conns) loop->conns->prev = c;
  loop->conns = c;
  bufferevent_setcb(c->bev, h1_readcb, h1_writecb, h1_eventcb, c);
  bufferevent_setwatermark(c->bev, EV_READ, 0, HTTP_INPUT_HIGH_BYTES);
  bufferevent_setwatermark(c->bev, EV_WRITE, HTTP_QUEUE_BYTES / 2, 0);
  bufferevent_set_max_single_read(c->bev, 64 * 1024);
  bufferevent_enable(c->bev, EV_READ);
  if (reject) {
    h1_fail(c, 503, "too many connections");
    h1_run(c);
    return;
  }
  http_conn_timer_arm(c, TIMER_IDLE, l->limits.idle_timeout_ms);
}

/* ---- fuzzing ----------------------------------------------------------------------------- */

int http_h1_parse_for_fuzz(const uint8_t *data, size_t len, size_t header_bytes_max,
                           void (*on_head)(const http_req_t *req, void *arg), void *arg) {
  http_server_t srv = {0};
  http_listener_t l = {.srv = &srv};
  l.limits.header_bytes_max = header_bytes_max;
  l.limits.body_bytes_max = UINT64_MAX;
  http_conn_t *c = calloc(1, sizeof *c);
  if (!c) return -ENOMEM;
  c->srv = &srv;
  c->l = &l;
  c->refs = 1;
  pthread_mutex_init(&c->mu, NULL);
  http_req_init(&c->req, c);
  int requests = 0, rc = 0;
  size_t off = 0;
  bool begin = true, reported = false;
  while (off < len && c->req.in) {
    if (begin) {
      http_req_reset(&c->req);
      http_parser_init(&c->parser, HTTP_REQUEST);
      c->parser.data = c;
      c->st = H1_HEAD;
      c->head_bytes = 0;
      c->last_cb = CB_NONE;
      c->err_status = 0;
      c->body_done = c->body_broken = false;
      begin = reported = false;
    }
    size_t chunk = 1 + (off * 7 + len) % 23; /* fragments of 1..23 bytes, from the input */
    if (chunk > len - off) chunk = len - off;
    size_t n = http_parser_execute(&c->parser, &h1_settings, (const char *)data + off, chunk);
    off += n;
    evbuffer_drain(c->req.in, evbuffer_get_length(c->req.in));
    if (c->st == H1_ACTIVE && !reported) {
      reported = true;
      if (on_head) on_head(&c->req, arg);
    }
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
      requests++;
      begin = true;
      if (c->parser.upgrade) break; /* the rest is another protocol */
      continue;
    }
    if (e != HPE_OK) {
      rc = -(c->err_status ? c->err_status : e == HPE_HEADER_OVERFLOW ? 431 : 400);
      break;
    }
    if (n < chunk) break; /* an upgrade stops the parser without a pause */
  }
  http_req_destroy(&c->req);
  pthread_mutex_destroy(&c->mu);
  free(c);
  return rc < 0 ? rc : requests;
}
