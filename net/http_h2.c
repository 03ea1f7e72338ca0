/*
 * http_h2: HTTP/2 connections with libnghttp2: h2c with prior knowledge (the
 * client's preface on a plain connection), h2c by upgrade from an HTTP/1.1
 * request, and h2 by ALPN under TLS.  The session lives on the loop thread;
 * each stream is an http_req_t of its own, handled like an HTTP/1.1 request
 * (inline or on a worker) with the same API.
 *
 * Flow control follows the handler: the stream window starts at
 * HTTP_QUEUE_BYTES and automatic WINDOW_UPDATEs are off, so the loop gives
 * bytes back (nghttp2_session_consume) only as the handler reads them; a
 * client can never have more than one queue's worth in flight per stream.
 * Body bytes nobody will read (the handler is done, or past the maximum) are
 * given back at once, and what is left at the stream's close goes back to
 * the connection window.
 *
 * Responses: http_resp_start marks the head ready; the loop submits it with
 * a data provider that takes bytes from the request's out queue and defers
 * (NGHTTP2_ERR_DEFERRED) while the queue is empty and the handler has not
 * ended; the worker's next write or end wakes the loop, which resumes it.
 *
 * A request's memory goes with the later of its stream's close (loop) and its
 * handler's return (worker).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "http_internal.h"
#include "log.h"

#define MOD "http"
#define H2_CONNECTION_WINDOW_BYTES (4u * 1024 * 1024)

static void stream_unlink(http_conn_t *c, http_req_t *req) {
  if (req->h2_prev)
    req->h2_prev->h2_next = req->h2_next;
  else
    c->h2_streams = req->h2_next;
  if (req->h2_next) req->h2_next->h2_prev = req->h2_prev;
  req->h2_prev = req->h2_next = NULL;
  c->h2_stream_count--;
}

void http_req_free_stream(http_req_t *req) {
  http_req_destroy(req);
  free(req);
}

static http_req_t *stream_new(http_conn_t *c, int32_t stream_id) {
  http_req_t *req = malloc(sizeof *req);
  if (!req) return NULL;
  http_req_init(req, c);
  if (!req->in || !req->out) {
    http_req_free_stream(req);
    return NULL;
  }
  req->h2 = true;
  req->stream_id = stream_id;
  req->version = 20;
  req->keep_alive = true;
  req->method = "";
  req->target_off = req->method_off = UINT32_MAX;
  req->h2_opened_ms = http_now_ms();
  req->h2_next = c->h2_streams;
  if (c->h2_streams) c->h2_streams->h2_prev = req;
  c->h2_streams = req;
  c->h2_stream_count++;
  return req;
}

/* Closes the stream's request on the loop: reads and writes fail from now on;
 * freed now unless a worker holds it. */
static void stream_gone(http_conn_t *c, http_req_t *req) {
  stream_unlink(c, req);
  pthread_mutex_lock(&c->mu);
  req->reset = true;
  req->stream_closed = true;
  pthread_cond_broadcast(&req->cond);
  bool free_now = !req->in_worker;
  pthread_mutex_unlock(&c->mu);
  if (free_now) http_req_free_stream(req);
}

/* ---- the request head ------------------------------------------------------------ */

static int head_add(http_req_t *req, uint32_t *off, const uint8_t *v, size_t n) {
  *off = (uint32_t)req->head.len;
  if (buf_append(&req->head, v, n) != 0 || buf_append_byte(&req->head, 0) != 0) return -1;
  return 0;
}

static int header_add(http_req_t *req, const uint8_t *name, size_t nl, const uint8_t *value,
                      size_t vl) {
  if (req->hdr_count == req->hdr_cap) {
    size_t cap = req->hdr_cap ? req->hdr_cap * 2 : 16;
    struct http_hdr *grown = realloc(req->hdrs, cap * sizeof *grown);
    if (!grown) return -1;
    req->hdrs = grown;
    req->hdr_cap = cap;
  }
  struct http_hdr *h = &req->hdrs[req->hdr_count];
  if (head_add(req, &h->name, name, nl) < 0 || head_add(req, &h->value, value, vl) < 0) return -1;
  req->hdr_count++;
  return 0;
}

/* After the request's HEADERS: path, query, method, length. */
static int head_finish(http_req_t *req, bool end_stream) {
  if (req->target_off == UINT32_MAX || req->method_off == UINT32_MAX) return -1;
  if (http_req_split_target(req) < 0) return -1;
  req->method = (const char *)req->head.data + req->method_off;
  const char *length = http_req_header(req, "content-length");
  if (length) {
    char *end;
    unsigned long long v = strtoull(length, &end, 10);
    if (*end || end == length) return -1;
    req->content_length = (int64_t)v;
  }
  req->chunked = !end_stream && req->content_length < 0; /* a body of unknown length */
  if (end_stream) req->body_eof = true;
  req->is_head = strcmp(req->method, "HEAD") == 0;
  return 0;
}

/* ---- handing streams over ------------------------------------------------------------- */

static void h2_dispatch(http_conn_t *c, http_req_t *req) {
  http_listener_t *l = c->l;
  req->start_ns = metrics_now_ns();
  if (req->h2_too_big) {
    http_count_rejected(l, HTTP_REJECT_HEADERS);
    req->inline_mode = true;
    http_respond_error(req, 431, "request headers too large");
    http_req_finish_inline(req);
    return;
  }
  if (http_req_rate_limited(req)) return;
  if (l->inline_fn && !http_req_has_body(req)) {
    req->inline_mode = true;
    bool handled = l->inline_fn(req, l->ctx);
    if (handled || req->started) {
      http_req_finish_inline(req);
      return;
    }
    req->inline_mode = false;
  }
  pthread_mutex_lock(&c->mu);
  req->in_worker = true;
  c->refs++;
  pthread_mutex_unlock(&c->mu);
  http_jobs_push(c->srv, &req->job);
}

/* ---- nghttp2 callbacks --------------------------------------------------------------- */

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *frame, void *user) {
  http_conn_t *c = user;
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  http_req_t *req = stream_new(c, frame->hd.stream_id);
  if (!req) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  nghttp2_session_set_stream_user_data(s, frame->hd.stream_id, req);
  return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                     size_t nl, const uint8_t *value, size_t vl, uint8_t flags, void *user) {
  (void)flags;
  http_conn_t *c = user;
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  http_req_t *req = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
  if (!req || req->h2_too_big) return 0;
  req->h2_head_bytes += nl + vl + 32; /* RFC 9113's header list size */
  if (req->h2_head_bytes > c->l->limits.header_bytes_max) {
    req->h2_too_big = true;
    return 0;
  }
  int rc = 0;
  if (nl > 0 && name[0] == ':') {
    if (nl == 7 && memcmp(name, ":method", 7) == 0)
      rc = head_add(req, &req->method_off, value, vl);
    else if (nl == 5 && memcmp(name, ":path", 5) == 0)
      rc = head_add(req, &req->target_off, value, vl);
    else if (nl == 10 && memcmp(name, ":authority", 10) == 0)
      rc = header_add(req, (const uint8_t *)"host", 4, value, vl);
  } else {
    rc = header_add(req, name, nl, value, vl);
  }
  return rc < 0 ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
}

static void body_end(http_conn_t *c, http_req_t *req) {
  pthread_mutex_lock(&c->mu);
  req->body_eof = true;
  if (req->reader_waiting) pthread_cond_signal(&req->cond);
  pthread_mutex_unlock(&c->mu);
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *user) {
  http_conn_t *c = user;
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  http_req_t *req = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
  if (!req) return 0;
  bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    if (head_finish(req, end_stream) < 0) {
      nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_PROTOCOL_ERROR);
      return 0;
    }
    h2_dispatch(c, req);
  } else if (end_stream) {
    body_end(c, req);
  }
  return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data,
                         size_t len, void *user) {
  (void)flags;
  http_conn_t *c = user;
  http_req_t *req = nghttp2_session_get_stream_user_data(s, stream_id);
  if (!req) {
    nghttp2_session_consume(s, stream_id, len);
    return 0;
  }
  bool discard = false;
  pthread_mutex_lock(&c->mu);
  if (req->handler_done || req->body_err) {
    discard = true;
  } else if (req->read_started && req->body_received + len > req->body_max) {
    req->body_err = -EFBIG;
    discard = true;
    pthread_cond_broadcast(&req->cond);
  } else {
    evbuffer_add(req->in, data, len);
    req->body_received += len;
    if (req->reader_waiting) pthread_cond_signal(&req->cond);
  }
  pthread_mutex_unlock(&c->mu);
  if (discard) {
    if (req->body_err == -EFBIG) http_count_rejected(c->l, HTTP_REJECT_BODY);
    nghttp2_session_consume(s, stream_id, len);
  }
  return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *user) {
  (void)error_code;
  http_conn_t *c = user;
  http_req_t *req = nghttp2_session_get_stream_user_data(s, stream_id);
  if (!req) return 0;
  nghttp2_session_set_stream_user_data(s, stream_id, NULL);
  if (req->h2_head_submitted && !req->h2_counted) {
    req->h2_counted = true;
    http_count_request(req);
  }
  uint64_t unconsumed = req->body_received - req->h2_consumed;
  if (unconsumed) nghttp2_session_consume_connection(s, (size_t)unconsumed);
  stream_gone(c, req);
  return 0;
}

static ssize_t data_read(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *user) {
  (void)s, (void)stream_id;
  http_conn_t *c = user;
  http_req_t *req = source->ptr;
  pthread_mutex_lock(&c->mu);
  int n = evbuffer_remove(req->out, buf, length);
  if (n < 0) n = 0;
  if (n > 0 && req->writer_waiting) pthread_cond_signal(&req->cond);
  bool end = req->out_end && evbuffer_get_length(req->out) == 0;
  bool cut = end && req->resp_close; /* shorter than its Content-Length */
  pthread_mutex_unlock(&c->mu);
  if (cut && n == 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM */
  if (end && !cut) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  if (n == 0 && !end) {
    req->h2_deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  return n;
}

/* ---- responses ------------------------------------------------------------------------ */

int http_h2_resp_start(http_req_t *req) {
  http_conn_t *c = req->c;
  if (req->inline_mode) {
    req->h2_head_ready = true;
    return 0;
  }
  pthread_mutex_lock(&c->mu);
  int rc = c->closed || req->reset ? -ECONNRESET : 0;
  req->h2_head_ready = true;
  http_conn_notify_locked(c);
  pthread_mutex_unlock(&c->mu);
  return rc;
}

static bool connection_specific(const char *name, size_t n) {
  static const char *const names[] = {"connection", "keep-alive", "proxy-connection",
                                      "transfer-encoding", "upgrade"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strlen(names[i]) == n && strncasecmp(names[i], name, n) == 0) return true;
  return false;
}

#define H2_NV_MAX 64

static void submit_head(http_conn_t *c, http_req_t *req) {
  req->h2_head_submitted = true;
  nghttp2_nv nva[H2_NV_MAX];
  size_t n = 0;
  char status[8], length[24], date[40];
  snprintf(status, sizeof status, "%d", req->status);
  http_date(date, sizeof date);
#define NV(k, v, vl) \
  nva[n++] = (nghttp2_nv){(uint8_t *)(k), (uint8_t *)(v), strlen(k), (vl), NGHTTP2_NV_FLAG_NONE}
  NV(":status", status, strlen(status));
  NV("server", "anya", 4);
  NV("date", date, strlen(date));
  bool no_body_status = req->status == 204 || req->status == 304;
  if (req->resp_length >= 0 && !no_body_status) {
    snprintf(length, sizeof length, "%lld", (long long)req->resp_length);
    NV("content-length", length, strlen(length));
  }
  /* the handler's headers, names lower-cased (HTTP/2 wants them so) */
  char *lowered = malloc(req->resp_headers.len + 1);
  if (lowered && req->resp_headers.len) {
    memcpy(lowered, req->resp_headers.data, req->resp_headers.len);
    lowered[req->resp_headers.len] = 0;
    char *p = lowered;
    while (*p && n < H2_NV_MAX) {
      char *colon = strstr(p, ": ");
      char *eol = strstr(p, "\r\n");
      if (!colon || !eol || colon > eol) break;
      for (char *q = p; q < colon; q++)
        if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
      if (!connection_specific(p, (size_t)(colon - p)))
        nva[n++] = (nghttp2_nv){(uint8_t *)p, (uint8_t *)colon + 2, (size_t)(colon - p),
                                (size_t)(eol - colon - 2), NGHTTP2_NV_FLAG_NONE};
      p = eol + 2;
    }
  }
#undef NV
  nghttp2_data_provider provider = {.source.ptr = req, .read_callback = data_read};
  int rc = nghttp2_submit_response(c->h2, req->stream_id, nva, n,
                                   req->resp_bodiless ? NULL : &provider);
  free(lowered);
  if (rc != 0) {
    log_debug(MOD, "%s: stream %d: %s", c->l->name, req->stream_id, nghttp2_strerror(rc));
    nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, req->stream_id, NGHTTP2_INTERNAL_ERROR);
  }
}

/* ---- the connection ----------------------------------------------------------------------- */

static int h2_fail(http_conn_t *c, const char *what, int rc) {
  log_debug(MOD, "%s: HTTP/2 with %s: %s: %s", c->l->name, c->peer, what,
            nghttp2_strerror(rc));
  http_conn_close(c, -ECONNRESET);
  return 0;
}

bool http_h2_run(http_conn_t *c) {
  nghttp2_session *s = c->h2;
  if (!c->bev || !s) return false;
  struct evbuffer *in = bufferevent_get_input(c->bev);
  while (evbuffer_get_length(in) > 0) {
    struct evbuffer_iovec v;
    if (evbuffer_peek(in, -1, NULL, &v, 1) < 1) break;
    ssize_t n = nghttp2_session_mem_recv(s, v.iov_base, v.iov_len);
    if (n < 0) return h2_fail(c, "receiving", (int)n);
    evbuffer_drain(in, (size_t)n);
    metrics_counter_add(c->l->m_received, (uint64_t)n);
  }
  for (http_req_t *req = c->h2_streams; req; req = req->h2_next) {
    pthread_mutex_lock(&c->mu);
    bool head = req->h2_head_ready && !req->h2_head_submitted;
    uint64_t read = req->body_read;
    bool resume = req->h2_deferred && (evbuffer_get_length(req->out) > 0 || req->out_end);
    pthread_mutex_unlock(&c->mu);
    if (read > req->h2_consumed) {
      nghttp2_session_consume(s, req->stream_id, (size_t)(read - req->h2_consumed));
      req->h2_consumed = read;
    }
    if (head) submit_head(c, req);
    if (resume) {
      req->h2_deferred = false;
      nghttp2_session_resume_data(s, req->stream_id);
    }
  }
  while (http_conn_out_len(c) < HTTP_QUEUE_BYTES) {
    const uint8_t *data;
    ssize_t n = nghttp2_session_mem_send(s, &data);
    if (n < 0) return h2_fail(c, "sending", (int)n);
    if (n == 0) break;
    evbuffer_add(c->wbuf, data, (size_t)n);
  }
  if (!http_conn_flush(c)) return false;
  if (!nghttp2_session_want_read(s) && !nghttp2_session_want_write(s) &&
      http_conn_out_len(c) == 0) {
    http_conn_close(c, 0);
    return false;
  }
  return true;
}

static uint64_t tick_ms(http_conn_t *c) {
  uint64_t idle_ms = c->l->limits.idle_timeout_ms, request_ms = c->l->limits.request_timeout_ms;
  uint64_t ms = (idle_ms < request_ms ? idle_ms : request_ms) / 2;
  return ms ? ms : 1;
}

void http_h2_tick(http_conn_t *c) {
  uint64_t idle_ms = c->l->limits.idle_timeout_ms;
  uint64_t now = http_now_ms();
  for (http_req_t *req = c->h2_streams; req; req = req->h2_next)
    if (!req->start_ns && now - req->h2_opened_ms >= c->l->limits.request_timeout_ms) {
      /* headers begun and never finished (slow loris): the connection goes */
      http_count_rejected(c->l, HTTP_REJECT_TIMEOUT);
      http_conn_close(c, -ETIMEDOUT);
      return;
    }
  size_t pending = http_conn_out_len(c);
  if (pending != c->h2_last_out_len) {
    c->h2_last_out_len = pending;
    c->last_progress_ms = now;
  }
  if (now - c->last_progress_ms >= idle_ms && (pending > 0 || c->h2_stream_count == 0)) {
    /* a client that takes nothing, or an idle connection */
    if (pending > 0) http_count_rejected(c->l, HTTP_REJECT_TIMEOUT);
    http_conn_close(c, -ETIMEDOUT);
    return;
  }
  http_conn_timer_arm(c, TIMER_H2, tick_ms(c));
}

void http_h2_closed(http_conn_t *c) {
  while (c->h2_streams) stream_gone(c, c->h2_streams);
  if (c->h2) nghttp2_session_del(c->h2);
  c->h2 = NULL;
}

bool http_h2_begin(http_conn_t *c, const uint8_t *settings, size_t settings_len, bool upgrade) {
  nghttp2_session_callbacks *cbs;
  nghttp2_option *opt;
  if (nghttp2_session_callbacks_new(&cbs) != 0) return h2_fail(c, "setup", NGHTTP2_ERR_NOMEM);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cbs);
    return h2_fail(c, "setup", NGHTTP2_ERR_NOMEM);
  }
  nghttp2_option_set_no_auto_window_update(opt, 1);
  int rc = nghttp2_session_server_new2(&c->h2, cbs, c, opt);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_option_del(opt);
  if (rc != 0) return h2_fail(c, "setup", rc);
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, HTTP_H2_STREAMS_MAX},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, HTTP_QUEUE_BYTES},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)c->l->limits.header_bytes_max},
  };
  if ((rc = nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0])) != 0 ||
      (rc = nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0,
                                                  H2_CONNECTION_WINDOW_BYTES)) != 0)
    return h2_fail(c, "settings", rc);
  if (upgrade) { /* the HTTP/1.1 request becomes stream 1, its response goes out as HTTP/2 */
    http_req_t *old = &c->req;
    http_req_t *req = stream_new(c, 1);
    if (!req) return h2_fail(c, "upgrade", NGHTTP2_ERR_NOMEM);
    if (buf_append(&req->head, old->head.data, old->head.len) != 0 ||
        !(req->hdrs = malloc((old->hdr_count + 1) * sizeof *req->hdrs)))
      return h2_fail(c, "upgrade", NGHTTP2_ERR_NOMEM);
    memcpy(req->hdrs, old->hdrs, old->hdr_count * sizeof *req->hdrs);
    req->hdr_count = old->hdr_count;
    req->hdr_cap = old->hdr_count + 1;
    req->target_off = old->target_off;
    req->path_off = old->path_off;
    req->query_off = old->query_off;
    req->method = old->method;
    req->content_length = old->content_length;
    req->is_head = old->is_head;
    req->body_eof = true;
    rc = nghttp2_session_upgrade2(c->h2, settings, settings_len, req->is_head, req);
    if (rc != 0) return h2_fail(c, "upgrade", rc);
    h2_dispatch(c, req);
  }
  c->last_progress_ms = http_now_ms();
  http_conn_timer_arm(c, TIMER_H2, tick_ms(c));
  return http_h2_run(c);
}
