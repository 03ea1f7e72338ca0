/*
 * http_ws: WebSocket connections (RFC 6455) over wslay, after an HTTP/1.1
 * upgrade.
 *
 * http_ws_accept (on the handler's thread) checks the handshake, queues the
 * 101 and marks the connection; when the handler has returned and the 101 is
 * out, the loop switches the connection to frames (http_ws_begin) with a
 * wslay server context.  wslay joins fragments, answers pings and closes,
 * and enforces the message maximum (the listener's body_bytes_max; past it
 * it sends 1009 and stops reading).
 *
 * Inbound: each complete text or binary message is copied into the socket's
 * in list; one job per socket delivers them to on_message on a worker, one
 * at a time and in order, then on_close once the socket is gone.  The loop
 * stops reading while HTTP_QUEUE_BYTES of messages wait for delivery.
 * Outbound: http_ws_send copies the message into the out list under the
 * connection's mutex and wakes the loop, which hands it to wslay; a socket
 * whose queued bytes pass HTTP_WS_SEND_BYTES_MAX is dropped.  Text messages
 * that are not UTF-8 close the socket with 1007.
 *
 * Liveness: every ping interval the loop pings; a socket that has not
 * answered the previous ping by the next tick is closed.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "http_internal.h"
#include "log.h"

#define MOD "http"
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

bool http_req_is_websocket(const http_req_t *req) {
  if (req->version != 11 || strcmp(req->method, "GET") != 0) return false;
  const char *upgrade = http_req_header(req, "upgrade");
  const char *connection = http_req_header(req, "connection");
  return upgrade && connection && http_header_has_token(upgrade, "websocket") &&
         http_header_has_token(connection, "upgrade");
}

static bool utf8_valid(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    size_t k = log_utf8_char_bytes(p + i, n - i);
    if (k == 0) return false;
    i += k;
  }
  return true;
}

void http_ws_free_queues(http_ws_t *ws) {
  for (http_ws_msg_t *m = ws->out_head, *next; m; m = next) {
    next = m->next;
    free(m);
  }
  for (http_ws_msg_t *m = ws->in_head, *next; m; m = next) {
    next = m->next;
    free(m);
  }
  ws->out_head = ws->out_tail = ws->in_head = ws->in_tail = NULL;
  ws->out_bytes = ws->in_bytes = 0;
}

/* ---- delivery on workers ------------------------------------------------------ */

static void ws_job_run(http_job_t *job) {
  http_ws_t *ws = (http_ws_t *)((char *)job - offsetof(http_ws_t, job));
  http_conn_t *c = ws->c;
  for (;;) {
    pthread_mutex_lock(&c->mu);
    http_ws_msg_t *m = ws->in_head;
    if (m) {
      ws->in_head = m->next;
      if (!ws->in_head) ws->in_tail = NULL;
      ws->in_bytes -= m->len;
      if (ws->in_paused && ws->in_bytes < HTTP_QUEUE_BYTES / 2) http_conn_notify_locked(c);
      pthread_mutex_unlock(&c->mu);
      if (ws->ops.on_message) ws->ops.on_message(ws, m->text, m->data, m->len, ws->ctx);
      free(m);
      continue;
    }
    if (c->closed && !ws->close_delivered) {
      ws->close_delivered = true;
      pthread_mutex_unlock(&c->mu);
      if (ws->ops.on_close) ws->ops.on_close(ws, ws->ctx);
      pthread_mutex_lock(&c->mu);
      ws->job_active = false;
      bool last = --c->refs == 0; /* the server's reference ends after on_close */
      pthread_mutex_unlock(&c->mu);
      if (last) http_conn_free(c);
      return;
    }
    ws->job_active = false;
    pthread_mutex_unlock(&c->mu);
    return;
  }
}

/* Under mu. */
static void ws_schedule_locked(http_ws_t *ws) {
  if (ws->job_active) return;
  ws->job_active = true;
  http_jobs_push(ws->c->srv, &ws->job);
}

void http_ws_closed(http_conn_t *c) {
  if (!c->ws.close_delivered) ws_schedule_locked(&c->ws);
}

/* ---- wslay callbacks (loop) ----------------------------------------------------- */

static ssize_t ws_recv_cb(wslay_event_context_ptr wctx, uint8_t *buf, size_t len, int flags,
                          void *user) {
  (void)flags;
  http_conn_t *c = user;
  struct evbuffer *in = bufferevent_get_input(c->bev);
  pthread_mutex_lock(&c->mu);
  bool paused = c->ws.in_paused;
  pthread_mutex_unlock(&c->mu);
  if (paused || evbuffer_get_length(in) == 0) {
    wslay_event_set_error(wctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  int n = evbuffer_remove(in, buf, len);
  if (n <= 0) {
    wslay_event_set_error(wctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  metrics_counter_add(c->l->m_received, (uint64_t)n);
  return n;
}

static ssize_t ws_send_cb(wslay_event_context_ptr wctx, const uint8_t *data, size_t len,
                          int flags, void *user) {
  (void)flags;
  http_conn_t *c = user;
  if (http_conn_out_len(c) >= HTTP_QUEUE_BYTES) {
    wslay_event_set_error(wctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  evbuffer_add(c->wbuf, data, len);
  return (ssize_t)len;
}

static void ws_on_msg(wslay_event_context_ptr wctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *user) {
  http_conn_t *c = user;
  http_ws_t *ws = &c->ws;
  if (arg->opcode == WSLAY_PONG) {
    ws->pong_seen = true;
    return;
  }
  if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME) return;
  bool text = arg->opcode == WSLAY_TEXT_FRAME;
  if (text && !utf8_valid(arg->msg, arg->msg_length)) {
    wslay_event_queue_close(wctx, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA, NULL, 0);
    wslay_event_shutdown_read(wctx);
    return;
  }
  http_ws_msg_t *m = malloc(sizeof *m + arg->msg_length + 1);
  if (!m) {
    wslay_event_queue_close(wctx, WSLAY_CODE_INTERNAL_SERVER_ERROR, NULL, 0);
    wslay_event_shutdown_read(wctx);
    return;
  }
  m->next = NULL;
  m->text = text;
  m->len = arg->msg_length;
  if (arg->msg_length) memcpy(m->data, arg->msg, arg->msg_length);
  m->data[arg->msg_length] = 0; /* a NUL after the message, for text parsers */
  pthread_mutex_lock(&c->mu);
  if (ws->in_tail)
    ws->in_tail->next = m;
  else
    ws->in_head = m;
  ws->in_tail = m;
  ws->in_bytes += m->len;
  if (ws->in_bytes >= HTTP_QUEUE_BYTES) ws->in_paused = true;
  ws_schedule_locked(ws);
  pthread_mutex_unlock(&c->mu);
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = ws_recv_cb,
    .send_callback = ws_send_cb,
    .on_msg_recv_callback = ws_on_msg,
};

/* ---- the loop's side -------------------------------------------------------------- */

void http_ws_begin(http_conn_t *c) {
  http_ws_t *ws = &c->ws;
  if (wslay_event_context_server_init(&ws->wslay, &ws_callbacks, c) != 0) {
    http_conn_close(c, -ENOMEM);
    return;
  }
  wslay_event_config_set_max_recv_msg_length(ws->wslay, c->l->limits.body_bytes_max);
  ws->active = true;
  ws->pong_seen = true;
  ws->ping_outstanding = false;
  /* the connection no longer counts toward request time-outs */
  http_conn_timer_arm(c, TIMER_WS_PING, c->srv->ws_ping_ms);
  if (!http_ws_run(c)) return;
  if (c->peer_eof) http_conn_close(c, -ECONNRESET); /* the client left during the handshake */
}

/* False when the connection closed (c may be gone then). */
bool http_ws_run(http_conn_t *c) {
  http_ws_t *ws = &c->ws;
  if (!c->bev || !ws->wslay) return false;
  pthread_mutex_lock(&c->mu);
  http_ws_msg_t *out = ws->out_head;
  ws->out_head = ws->out_tail = NULL;
  ws->out_bytes = 0;
  bool close_requested = ws->close_requested;
  uint16_t close_code = ws->close_code;
  ws->close_requested = false;
  bool overflow = ws->overflow;
  bool in_paused = ws->in_paused && ws->in_bytes >= HTTP_QUEUE_BYTES / 2;
  ws->in_paused = in_paused;
  pthread_mutex_unlock(&c->mu);
  if (overflow) {
    for (http_ws_msg_t *m = out, *next; m; m = next) {
      next = m->next;
      free(m);
    }
    log_warn(MOD, "%s: WebSocket client %s does not read: closed", c->l->name, c->peer);
    http_conn_close(c, -ECONNRESET);
    return false;
  }
  for (http_ws_msg_t *m = out, *next; m; m = next) {
    next = m->next;
    struct wslay_event_msg msg = {.opcode = m->text ? WSLAY_TEXT_FRAME : WSLAY_BINARY_FRAME,
                                  .msg = m->data, .msg_length = m->len};
    (void)wslay_event_queue_msg(ws->wslay, &msg); /* after a close: dropped */
    free(m);
  }
  if (close_requested) (void)wslay_event_queue_close(ws->wslay, close_code, NULL, 0);
  /* also without new input: wslay may hold read bytes from before a pause */
  if (!in_paused && wslay_event_want_read(ws->wslay)) {
    if (wslay_event_recv(ws->wslay) != 0) {
      http_conn_close(c, -ECONNRESET);
      return false;
    }
  }
  if (wslay_event_want_write(ws->wslay)) {
    if (wslay_event_send(ws->wslay) != 0) {
      http_conn_close(c, -ECONNRESET);
      return false;
    }
  }
  if (!http_conn_flush(c)) return false;
  size_t held = http_conn_out_len(c) + wslay_event_get_queued_msg_length(ws->wslay);
  pthread_mutex_lock(&c->mu);
  ws->loop_queued_bytes = held;
  pthread_mutex_unlock(&c->mu);
  if (!wslay_event_want_read(ws->wslay) && !wslay_event_want_write(ws->wslay) &&
      http_conn_out_len(c) == 0) {
    http_conn_close(c, 0); /* closing handshake done (or reading failed and the close is out) */
    return false;
  }
  return true;
}

void http_ws_ping_tick(http_conn_t *c) {
  http_ws_t *ws = &c->ws;
  if (ws->ping_outstanding && !ws->pong_seen) {
    log_debug(MOD, "%s: WebSocket client %s missed a ping: closed", c->l->name, c->peer);
    http_conn_close(c, -ETIMEDOUT);
    return;
  }
  struct wslay_event_msg ping = {.opcode = WSLAY_PING, .msg = (const uint8_t *)"", .msg_length = 0};
  if (wslay_event_queue_msg(ws->wslay, &ping) == 0) {
    ws->ping_outstanding = true;
    ws->pong_seen = false;
  } else {
    ws->ping_outstanding = true; /* closing: no pings, the next tick ends it */
    ws->pong_seen = false;
  }
  http_conn_timer_arm(c, TIMER_WS_PING, c->srv->ws_ping_ms);
  (void)http_ws_run(c);
}

/* ---- the API ------------------------------------------------------------------------ */

int http_ws_accept(http_req_t *req, const http_ws_ops_t *ops, void *ctx, http_ws_t **out) {
  if (out) *out = NULL;
  http_conn_t *c = req->c;
  const char *key = http_req_header(req, "sec-websocket-key");
  const char *version = http_req_header(req, "sec-websocket-version");
  if (!http_req_is_websocket(req) || !key || strlen(key) != 24) {
    http_respond_error(req, 400, "not a WebSocket handshake");
    return err_set(-EINVAL, "not a WebSocket handshake");
  }
  if (!version || strcmp(version, "13") != 0) {
    http_resp_header(req, "Sec-WebSocket-Version", "13");
    http_respond_error(req, 400, "WebSocket version 13 only");
    return err_set(-EINVAL, "WebSocket version 13 only");
  }
  if (req->started) return err_set(-EINVAL, "the response started already");
  char joined[64];
  snprintf(joined, sizeof joined, "%s%s", key, WS_GUID);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (!EVP_Digest(joined, strlen(joined), digest, &digest_len, EVP_sha1(), NULL)) {
    http_respond_error(req, 500, "SHA-1 failed");
    return err_set(-EIO, "SHA-1 failed");
  }
  char accept[64];
  EVP_EncodeBlock((unsigned char *)accept, digest, (int)digest_len);
  http_ws_t *ws = &c->ws;
  pthread_mutex_lock(&c->mu);
  if (c->closed) {
    pthread_mutex_unlock(&c->mu);
    req->started = req->ended = true;
    return err_set(-ECONNRESET, "the client is gone");
  }
  ws->ops = *ops;
  ws->ctx = ctx;
  ws->job.run = ws_job_run;
  ws->accepted = true;
  c->refs++; /* the server's, until on_close has run */
  pthread_mutex_unlock(&c->mu);
  req->started = true;
  req->status = 101;
  char head[256];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n",
                   accept);
  buf_t *extra = &req->resp_headers;
  /* the bytes go out as one piece, so the upgrade is atomic for the loop */
  buf_t all = {0};
  if (buf_append(&all, head, (size_t)n) == 0 && buf_append(&all, extra->data, extra->len) == 0 &&
      buf_append(&all, "\r\n", 2) == 0) {
    struct evbuffer *target = req->inline_mode ? c->wbuf : req->out;
    if (req->inline_mode) {
      evbuffer_add(target, all.data, all.len);
    } else {
      pthread_mutex_lock(&c->mu);
      if (!c->closed) {
        evbuffer_add(target, all.data, all.len);
        http_conn_notify_locked(c);
      }
      pthread_mutex_unlock(&c->mu);
    }
  }
  buf_free(&all);
  req->ended = true;
  if (out) *out = ws;
  return 0;
}

int http_ws_send(http_ws_t *ws, bool text, const void *data, size_t len) {
  http_conn_t *c = ws->c;
  http_ws_msg_t *m = malloc(sizeof *m + len);
  if (!m) return err_set(-ENOMEM, "out of memory");
  m->next = NULL;
  m->text = text;
  m->len = len;
  if (len) memcpy(m->data, data, len);
  pthread_mutex_lock(&c->mu);
  if (c->closed || ws->send_closed || ws->overflow) {
    pthread_mutex_unlock(&c->mu);
    free(m);
    return -EPIPE;
  }
  if (ws->out_bytes + ws->loop_queued_bytes + len > HTTP_WS_SEND_BYTES_MAX) {
    ws->overflow = true;
    http_conn_notify_locked(c);
    pthread_mutex_unlock(&c->mu);
    free(m);
    return -EPIPE;
  }
  if (ws->out_tail)
    ws->out_tail->next = m;
  else
    ws->out_head = m;
  ws->out_tail = m;
  ws->out_bytes += len;
  http_conn_notify_locked(c);
  pthread_mutex_unlock(&c->mu);
  return 0;
}

void http_ws_close(http_ws_t *ws, uint16_t code) {
  http_conn_t *c = ws->c;
  pthread_mutex_lock(&c->mu);
  if (!c->closed && !ws->send_closed) {
    ws->send_closed = true;
    ws->close_requested = true;
    ws->close_code = code;
    http_conn_notify_locked(c);
  }
  pthread_mutex_unlock(&c->mu);
}

void http_ws_ref(http_ws_t *ws) {
  pthread_mutex_lock(&ws->c->mu);
  ws->c->refs++;
  pthread_mutex_unlock(&ws->c->mu);
}

void http_ws_unref(http_ws_t *ws) { http_conn_release(ws->c); }

const char *http_ws_peer(const http_ws_t *ws) { return ws->c->peer; }
