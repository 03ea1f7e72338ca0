/*
 * http_internal: the structures shared by the parts of the HTTP server
 * (http.c: server, loops, workers, the request and response API; http_h1.c:
 * HTTP/1.1 connections).  Not for the server's users: they see http.h only.
 *
 * Ownership and locking.  A connection (http_conn_t) belongs to its loop
 * thread: the bufferevent, the parser, the timers and every field marked
 * "loop" are touched there only.  Fields marked "mu" are shared with the
 * worker running the connection's request and are read and written under
 * conn->mu.  The connection's memory is reference-counted (refs, under mu):
 * one reference for the loop until it closes the socket, one while a worker
 * runs the request's handler, one for a WebSocket until its on_close has run
 * plus one per http_ws_ref; whoever drops the last frees it.  Lock order: conn->mu, then libevent's base lock
 * (event_active is called under conn->mu); the loop never holds a libevent
 * lock while it takes conn->mu, because callbacks run unlocked.
 */
#ifndef ANYA_NET_HTTP_INTERNAL_H
#define ANYA_NET_HTTP_INTERNAL_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <http_parser.h>
#include <nghttp2/nghttp2.h>
#include <wslay/wslay.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>

#include "buf.h"
#include "http.h"
#include "metrics.h"

#define HTTP_FEED_BYTES_MAX (16u * 1024)         /* bytes handed to the parser at once */
#define HTTP_INPUT_HIGH_BYTES (64u * 1024)       /* socket reads stop above this much unparsed input */
#define HTTP_LINGER_MS 1000                      /* reading (and dropping) after our FIN before close */
#define HTTP_RUN_ROUNDS_MAX 64                   /* requests served per connection per wakeup */
#define HTTP_REJECTING_MAX 64                    /* 503-answering connections at once per listener */
#define HTTP_RATE_BUCKETS 4096                   /* hash buckets of the per-address rate table */
#define HTTP_RATE_ENTRIES_MAX 65536              /* addresses tracked at once */
#define HTTP_STATUS_CODES 600                    /* metric children cached per status code */
#define HTTP_PEER_BYTES 64
#define HTTP_ACCEPT_PAUSE_MS 100                 /* after an accept error (EMFILE): no busy loop */
#define HTTP_WS_SEND_BYTES_MAX (16u * 1024 * 1024) /* queued toward one WebSocket client */
#define HTTP_WS_PING_MS 30000

enum http_reject_reason {
  HTTP_REJECT_HEADERS = 0, /* 431 */
  HTTP_REJECT_BODY,        /* 413 */
  HTTP_REJECT_CONNECTIONS, /* 503 */
  HTTP_REJECT_TIMEOUT,     /* 408, and connections closed for no progress */
  HTTP_REJECT_RATE,        /* 429 */
  HTTP_REJECT_BAD,         /* 400: malformed request */
  HTTP_REJECT_COUNT,
};

typedef struct http_listener http_listener_t;
typedef struct http_loop http_loop_t;
typedef struct http_conn http_conn_t;

/* Work for the worker pool, embedded in what it runs. */
typedef struct http_job {
  void (*run)(struct http_job *job);
  struct http_job *next;
} http_job_t;

struct http_listener {
  http_server_t *srv;
  char name[32];
  http_handler_fn handler;
  http_inline_fn inline_fn;
  void *ctx;
  http_limits_t limits;
  int fd;
  uint16_t port;
  struct evconnlistener *evl; /* on loop 0 */
  struct event *ev_resume;    /* loop 0: re-enables accepting after an accept error */
  atomic_uint conns;          /* open connections that count against connections_max */
  atomic_uint rejecting;      /* connections being answered 503 */
  metrics_gauge_t *m_conns;
  metrics_counter_t *m_received, *m_sent;
  metrics_histogram_t *m_duration;
  metrics_counter_t *m_rejected[HTTP_REJECT_COUNT];
  metrics_family_t *f_requests;
  metrics_counter_t *_Atomic m_codes[HTTP_STATUS_CODES];
};

typedef struct http_handoff { /* an accepted socket on its way to its loop */
  int fd;
  http_listener_t *l;
  struct sockaddr_storage addr;
  struct http_handoff *next;
} http_handoff_t;

struct http_loop {
  http_server_t *srv;
  unsigned index;
  struct event_base *base;
  pthread_t thread;
  bool running;
  struct event *ev_wake;     /* handoffs and calls from other threads */
  pthread_mutex_t mu;        /* guards handoffs, call */
  http_handoff_t *handoffs;  /* mu */
  void (*call_fn)(http_loop_t *loop, void *arg); /* mu: a call to run on the loop */
  void *call_arg;
  bool call_done;            /* mu */
  pthread_cond_t call_cond;
  http_conn_t *conns;        /* loop: open connections */
};

typedef struct http_rate_entry {
  struct http_rate_entry *next;
  uint64_t last_ns;
  double tokens;
  char key[HTTP_PEER_BYTES];
} http_rate_entry_t;

struct http_server {
  unsigned loop_count;
  http_loop_t *loops;
  unsigned worker_count;
  pthread_t *workers;
  unsigned workers_started;
  http_listener_t listeners[HTTP_LISTENERS_MAX];
  unsigned listener_count;
  pthread_mutex_t jobs_mu;
  pthread_cond_t jobs_cond;
  http_job_t *jobs_head, *jobs_tail; /* jobs_mu */
  bool jobs_stop;                    /* jobs_mu */
  atomic_uint next_loop;
  bool started;
  atomic_bool stopping;
  pthread_mutex_t rate_mu;
  http_rate_entry_t **rate_table; /* rate_mu */
  size_t rate_count;              /* rate_mu */
  void *ssl_ctx;                  /* SSL_CTX *, NULL for plain HTTP */
  uint64_t ws_ping_ms;
};

/* A request.  The head fields are written by the loop before the request is
 * handed over and read-only afterwards; "mu" fields are shared. */
struct http_req {
  http_conn_t *c;
  http_listener_t *l;
  http_job_t job;
  /* head */
  buf_t head;                   /* target\0path\0query\0name\0value\0... */
  struct http_hdr { uint32_t name, value; } *hdrs;
  size_t hdr_count, hdr_cap;
  uint32_t target_off, path_off, query_off;
  const char *method;
  int version;                  /* 10, 11, 20 */
  int64_t content_length;       /* -1 when not given */
  bool chunked;
  bool is_head;
  bool keep_alive;              /* the client allows another request */
  bool expect_continue;
  bool inline_mode;             /* answered on the loop thread */
  uint64_t start_ns;
  /* body in (mu) */
  struct evbuffer *in;
  uint64_t body_max;
  uint64_t body_received;       /* bytes queued by the loop */
  uint64_t body_read;           /* bytes taken by the handler */
  bool body_eof;
  int body_err;                 /* -EFBIG, -ECONNRESET */
  bool read_started;
  bool body_too_big;
  bool reader_waiting, writer_waiting;
  bool need_continue;           /* the loop should send 100 Continue */
  /* response (the handler's until handler_done; out and flags under mu) */
  struct evbuffer *out;         /* HTTP/1.1: framed bytes */
  buf_t resp_headers;           /* "Name: value\r\n"... */
  bool started, ended;
  int status;
  int64_t resp_length;
  uint64_t resp_sent;           /* body bytes the handler wrote */
  bool resp_chunked;
  bool resp_bodiless;
  bool resp_close;              /* close the connection after this response */
  bool in_worker;               /* mu */
  bool handler_done;            /* mu */
  bool out_end;                 /* mu: http_resp_end was called (HTTP/2: END_STREAM after out) */
  pthread_cond_t cond;          /* with c->mu */
  /* HTTP/2 stream (h2 true) */
  bool h2;
  int32_t stream_id;
  bool reset;                   /* mu: the stream is gone (reads and writes fail) */
  bool stream_closed;           /* mu: nghttp2 closed it; the worker frees the request */
  bool h2_head_ready;           /* mu: status and headers wait to be submitted */
  bool h2_head_submitted;       /* loop */
  bool h2_deferred;             /* loop: the data provider waits for out */
  bool h2_too_big;              /* loop: the header list passed header_bytes_max */
  bool h2_counted;              /* loop: counted in the metrics */
  uint32_t method_off;          /* HTTP/2: the method lives in head */
  size_t h2_head_bytes;         /* loop */
  uint64_t h2_opened_ms;        /* loop: when its HEADERS began (request_timeout_ms) */
  uint64_t h2_consumed;         /* loop: body bytes given back to the flow-control window */
  http_req_t *h2_prev, *h2_next; /* loop: the connection's open streams */
};

enum http_h1_state {
  H1_IDLE = 0, /* between requests */
  H1_HEAD,     /* request line and headers arriving */
  H1_ACTIVE,   /* headers complete: dispatched, body maybe arriving, answering */
  H1_CLOSING,  /* flushing the last bytes, then linger */
  H1_LINGER,   /* our side shut down; dropping input until EOF or timeout */
};

enum http_timer_kind {
  TIMER_IDLE = 0,
  TIMER_REQUEST,
  TIMER_PROGRESS,
  TIMER_LINGER,
  TIMER_WS_PING,
  TIMER_H2,
};

typedef struct http_ws_msg {
  struct http_ws_msg *next;
  bool text;
  size_t len;
  uint8_t data[];
} http_ws_msg_t;

/* A WebSocket, embedded in its connection (its references are the
 * connection's). */
struct http_ws {
  http_conn_t *c;
  http_ws_ops_t ops;
  void *ctx;
  http_job_t job;               /* delivers messages, then on_close */
  /* mu */
  bool accepted;                /* 101 queued; the loop switches when the handler is done */
  bool send_closed;             /* http_ws_close called: sends fail */
  bool close_requested;
  uint16_t close_code;
  bool overflow;                /* sends passed HTTP_WS_SEND_BYTES_MAX: drop the socket */
  http_ws_msg_t *out_head, *out_tail; /* to send */
  size_t out_bytes;
  size_t loop_queued_bytes;     /* what the loop still holds (wslay queue and buffers) */
  http_ws_msg_t *in_head, *in_tail;   /* to deliver */
  size_t in_bytes;
  bool in_paused;               /* the loop stopped reading: in_bytes is at its bound */
  bool job_active;
  bool close_delivered;
  /* loop */
  bool active;                  /* frames flow (after the switch) */
  wslay_event_context_ptr wslay;
  bool ping_outstanding;
  bool pong_seen;
};

struct http_conn {
  http_server_t *srv;
  http_loop_t *loop;
  http_listener_t *l;
  http_conn_t *prev, *next;   /* loop->conns */
  struct bufferevent *bev;    /* loop; NULL once closed */
  int fd;
  struct event *ev_timer;     /* loop */
  struct event *ev_notify;    /* activated by workers under mu */
  struct evbuffer *wbuf;      /* loop: bytes to send, before they meet the bufferevent */
  char peer[HTTP_PEER_BYTES];
  bool tls;
  bool counted;               /* counts against connections_max */
  bool rejecting;             /* answering 503 */
  pthread_mutex_t mu;
  bool closed;                /* mu */
  int close_reason;           /* mu: -ECONNRESET, -ETIMEDOUT */
  bool notify_pending;        /* mu */
  int refs;                   /* mu */
  bool in_stalled;            /* mu: the body queue is full; parsing waits */
  /* loop */
  enum http_h1_state st;
  http_parser parser;
  enum { CB_NONE, CB_FIELD, CB_VALUE } last_cb;
  size_t head_bytes;
  int err_status;             /* a parser callback's verdict (431, 400) */
  bool dispatched;
  bool body_done;             /* the request's message is complete */
  bool body_broken;           /* parsing stopped inside a body */
  bool peer_eof;
  bool preface_checked;       /* the first bytes were not HTTP/2's preface */
  enum http_timer_kind timer_kind;
  uint64_t last_progress_ms;
  size_t last_out_len;
  http_req_t req;             /* the one HTTP/1.1 request at a time */
  http_ws_t ws;               /* after a WebSocket upgrade */
  nghttp2_session *h2;        /* loop: after the HTTP/2 preface, h2c upgrade or ALPN h2 */
  http_req_t *h2_streams;     /* loop: open streams */
  unsigned h2_stream_count;
  size_t h2_last_out_len;
  bool h2_idle_tick;          /* loop: no stream during the last timer period */
};

/* http.c */
uint64_t http_now_ms(void);
void http_jobs_push(http_server_t *srv, http_job_t *job);
void http_conn_notify_locked(http_conn_t *c);
void http_req_init(http_req_t *req, http_conn_t *c);
void http_req_reset(http_req_t *req);
void http_req_destroy(http_req_t *req);
void http_req_job_run(http_job_t *job);
void http_req_finish_inline(http_req_t *req);
void http_count_rejected(http_listener_t *l, enum http_reject_reason reason);
void http_count_request(http_req_t *req);
bool http_rate_allow(http_server_t *srv, const char *key, uint32_t rate_per_s, unsigned *retry_s);
/* Past the client's rate: answers 429 with Retry-After (inline) and returns true. */
bool http_req_rate_limited(http_req_t *req);
const char *http_reason(int status);
int http_req_split_target(http_req_t *req); /* appends path and query after the head; -1 ENOMEM */
bool http_header_has_token(const char *value, const char *token);
size_t http_date(char *out, size_t cap);

/* http_h1.c */
void http_h1_conn_new(http_loop_t *loop, http_listener_t *l, int fd, const struct sockaddr *sa);
void http_h1_notify_cb(evutil_socket_t fd, short what, void *arg);
/* The request parsing of HTTP/1.1 without sockets, for the fuzz target: feeds
 * data (in small fragments) through the same parser callbacks, calls on_head
 * at each request's end of headers and starts the next request after each
 * complete one.  The requests parsed, or -status of the error answer (-400,
 * -431). */
int http_h1_parse_for_fuzz(const uint8_t *data, size_t len, size_t header_bytes_max,
                           void (*on_head)(const http_req_t *req, void *arg), void *arg);
void http_conn_close(http_conn_t *c, int reason);
void http_conn_release(http_conn_t *c); /* drops one reference (takes mu) */
void http_conn_free(http_conn_t *c);
size_t http_conn_out_len(http_conn_t *c);
bool http_conn_flush(http_conn_t *c);    /* false: the connection closed */
void http_conn_timer_arm(http_conn_t *c, enum http_timer_kind kind, uint64_t ms);

/* http_h2.c */
#define HTTP_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define HTTP_H2_PREFACE_BYTES 24
#define HTTP_H2_STREAMS_MAX 100
/* Starts HTTP/2 on the connection: after the client's preface (upgrade NULL)
 * or after answering 101 to an h2c upgrade of c->req (settings from
 * HTTP2-Settings, decoded).  False when the connection closed. */
bool http_h2_begin(http_conn_t *c, const uint8_t *settings, size_t settings_len, bool upgrade);
bool http_h2_run(http_conn_t *c);        /* false: closed */
void http_h2_tick(http_conn_t *c);
void http_h2_closed(http_conn_t *c);     /* loop, from http_conn_close: fail every stream */
int http_h2_resp_start(http_req_t *req); /* status and headers are in req */
void http_req_free_stream(http_req_t *req);

/* http_tls.c */
int http_tls_init(http_server_t *srv, const char *cert, const char *key);
void http_tls_free(http_server_t *srv);
struct bufferevent *http_tls_bufferevent(http_server_t *srv, struct event_base *base, int fd);

/* http_ws.c */
void http_ws_begin(http_conn_t *c);     /* loop: the 101 is out, frames from now on */
bool http_ws_run(http_conn_t *c);       /* loop: move frames both ways; false: closed */
void http_ws_ping_tick(http_conn_t *c); /* loop: the ping timer fired */
void http_ws_closed(http_conn_t *c);    /* loop, under mu: the socket is gone */
void http_ws_free_queues(http_ws_t *ws);

#endif
