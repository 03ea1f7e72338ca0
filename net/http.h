/*
 * http: Anya's HTTP server, shared by the DWN, gateway and RPC listeners.
 *
 * Threads.  `threads` libevent event loops (default: one per core) own the
 * sockets; each accepted connection is pinned to one loop.  The loops parse
 * (HTTP/1.1 with http-parser; HTTP/2 with libnghttp2: h2c prior knowledge,
 * h2c upgrade, h2 by ALPN under TLS; WebSocket frames with wslay) and move
 * bytes, nothing else.  A request's handler runs on one of `workers` worker
 * threads, where it may block (LevelDB, fsync, io_uring): handlers are plain
 * sequential code that reads the request body and writes the response with
 * the blocking calls below.  The bridge is a bounded queue each way per
 * request (HTTP_QUEUE_BYTES): a handler that writes faster than the client
 * reads waits, and a client that uploads faster than the handler reads is
 * not read from (HTTP/1.1: the socket; HTTP/2: the stream's window), so a
 * 1 GiB upload or download never sits whole in memory.
 *
 * A listener may also give an inline handler: called on the loop thread for
 * a request without a body, before any worker is involved; it may answer
 * (small, non-blocking work only: e.g. a block already in memory) and return
 * true, or return false to pass the request to the worker handler.  In an
 * inline handler the http_resp_* calls never wait.
 *
 * Limits (http_limits_t, from the config), each answered at its edge:
 *   - request line + headers above header_bytes_max: 431, connection closed;
 *   - a body above the route's maximum (http_req_set_body_max, default the
 *     listener's body_bytes_max): 413 when Content-Length says so before any
 *     byte is read, else http_req_read returns -EFBIG;
 *   - connections above connections_max: the new connection gets a 503 and
 *     is closed;
 *   - headers not complete within request_timeout_ms of the first byte (slow
 *     loris): 408, closed; a keep-alive connection idle for idle_timeout_ms,
 *     or a body that makes no progress for that long: closed;
 *   - rate_per_s requests per second per client address (token bucket, burst
 *     = rate, shared by all listeners of a server): 429 with Retry-After and
 *     a JSON body.
 * Errors produced by the server itself carry a JSON body
 * {"error":"<plain explanation>"}.
 *
 * HEAD: handlers answer HEAD like GET; the server sends the headers
 * (Content-Length included) and drops the body bytes.
 *
 * Metrics (metrics_default()): anya_http_requests_total{listener,code},
 * anya_http_request_duration_seconds{listener}, anya_http_connections{listener},
 * anya_http_received_bytes_total{listener}, anya_http_sent_bytes_total{listener},
 * anya_http_rejected_total{listener,reason} (limits, rate).
 *
 * Errors: functions return 0 or a negative errno with err_set (err.h) saying
 * why ("127.0.0.1:8080: address in use").
 *
 * The process ignores SIGPIPE once a server exists (a client that leaves
 * mid-response is an -ECONNRESET, not a signal).
 *
 * Files: net/http.c (server, loops, workers, the API), net/http_h1.c
 * (HTTP/1.x), net/http_h2.c (HTTP/2), net/http_ws.c (WebSocket),
 * net/http_tls.c (TLS; ALPN offers h2 and http/1.1).
 */
#ifndef ANYA_NET_HTTP_H
#define ANYA_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_QUEUE_BYTES (256u * 1024) /* per request and direction */
#define HTTP_LISTENERS_MAX 8

typedef struct http_server http_server_t;
typedef struct http_req http_req_t;
typedef struct http_ws http_ws_t;

/* A zero field takes its default: header_bytes_max 16 KiB, body_bytes_max
 * 1 TiB, idle_timeout_ms 60 s, request_timeout_ms 30 s; connections_max and
 * rate_per_s 0 mean unlimited. */
typedef struct http_limits {
  size_t header_bytes_max;     /* request line + headers (HTTP/2: decoded header list) */
  uint64_t body_bytes_max;     /* default per-request body maximum */
  unsigned connections_max;    /* open connections on the listener */
  uint64_t idle_timeout_ms;    /* keep-alive idle, and body/response progress */
  uint64_t request_timeout_ms; /* first byte to end of headers */
  uint32_t rate_per_s;         /* per client address; 0 = unlimited */
} http_limits_t;

/* Handlers.  ctx is the listener's. */
typedef void (*http_handler_fn)(http_req_t *req, void *ctx);
typedef bool (*http_inline_fn)(http_req_t *req, void *ctx);

typedef struct http_listener_opts {
  const char *name;         /* "dwn", "gateway", "rpc": logs and metric labels */
  const char *address;      /* "HOST:PORT" ("[v6]:PORT"); port 0 picks a free port */
  http_handler_fn handler;  /* on a worker thread */
  http_inline_fn inline_fn; /* optional, on the loop thread */
  void *ctx;
  http_limits_t limits;
} http_listener_opts_t;

typedef struct http_server_opts {
  unsigned threads;     /* event loops; 0 = the number of cores */
  unsigned workers;     /* handler threads; 0 = 64 */
  const char *tls_cert; /* PEM chain file, or NULL/"" for plain HTTP */
  const char *tls_key;  /* PEM key file */
} http_server_opts_t;

/* ---- server ---------------------------------------------------------------- */

int http_server_new(const http_server_opts_t *opts, http_server_t **out);
/* Binds a listener now (before start) so a taken port fails here. */
int http_server_listen(http_server_t *srv, const http_listener_opts_t *opts);
/* The port a listener bound (useful with port 0); 0 if no such listener. */
uint16_t http_server_port(const http_server_t *srv, const char *name);
/* The WebSocket ping interval (default 30 s; tests shorten it).  Before
 * http_server_start. */
void http_server_set_ws_ping_ms(http_server_t *srv, uint64_t interval_ms);
/* Starts the loops and workers. */
int http_server_start(http_server_t *srv);
/* Stops accepting, closes every connection (running handlers see their reads
 * and writes fail with -ECONNRESET and return), joins the threads, frees.
 * NULL is a no-op. */
void http_server_free(http_server_t *srv);

/* ---- the request ------------------------------------------------------------- */

const char *http_req_method(const http_req_t *req);  /* "GET" */
const char *http_req_target(const http_req_t *req);  /* raw request target, "/ipfs/x?y=1" */
const char *http_req_path(const http_req_t *req);    /* the target's path, not decoded */
const char *http_req_query(const http_req_t *req);   /* after '?', not decoded; "" if none */
/* HTTP/2 ":authority" is reported as "host". */
const char *http_req_header(const http_req_t *req, const char *name); /* case-insensitive; NULL */
size_t http_req_header_count(const http_req_t *req);
void http_req_header_at(const http_req_t *req, size_t i, const char **name, const char **value);
const char *http_req_peer(const http_req_t *req);     /* client address, "127.0.0.1" */
const char *http_req_listener(const http_req_t *req); /* the listener's name */
int http_req_version(const http_req_t *req);          /* 10, 11 or 20 */
int64_t http_req_content_length(const http_req_t *req); /* -1 when not given */
bool http_req_has_body(const http_req_t *req); /* Content-Length > 0, chunked, or an HTTP/2 body */

/* The body maximum for this request (call before the first read).  A
 * handler that returns without answering after a read failed with -EFBIG
 * gets a 413 from the server (otherwise a 500). */
void http_req_set_body_max(http_req_t *req, uint64_t max);
/* Reads up to n body bytes, waiting for them: > 0 bytes, 0 at the end,
 * -EFBIG past the maximum, -ETIMEDOUT no progress, -ECONNRESET client gone. */
ssize_t http_req_read(http_req_t *req, void *buf, size_t n);

/* ---- the response -------------------------------------------------------------- */

/* Adds a response header (before http_resp_start).  Date, Server,
 * Content-Length / Transfer-Encoding and Connection are the server's. */
int http_resp_header(http_req_t *req, const char *name, const char *value);
/* Sends the status line and headers.  content_length -1: length unknown
 * (HTTP/1.1 chunked, HTTP/1.0 close-delimited, HTTP/2 DATA to END_STREAM). */
int http_resp_start(http_req_t *req, int status, int64_t content_length);
/* Writes body bytes, waiting while the queue is full.  -ECONNRESET: the
 * client is gone (stop producing); -ETIMEDOUT: the queue stayed full for
 * twice idle_timeout_ms.  Writing more than a given content_length is
 * -EINVAL. */
int http_resp_write(http_req_t *req, const void *data, size_t n);
/* Ends the response.  After it (or after the handler returns, which ends a
 * response left open: 500 if nothing was started, else the connection is
 * closed when a declared length was not met; HTTP/2: the stream is reset)
 * req is gone. */
int http_resp_end(http_req_t *req);
/* Ends a started response as failed, so the client can tell it is cut short:
 * HTTP/1.1 closes the connection without the final chunk (or short of the
 * Content-Length), HTTP/2 resets the stream.  For a failure after the status
 * went out (a block missing in the middle of a CAR).  req is gone after it. */
int http_resp_abort(http_req_t *req);

/* Whole responses in one call: headers added before stay. */
int http_respond(http_req_t *req, int status, const char *content_type, const void *body, size_t len);
/* {"error":"<message>"} as application/json. */
int http_respond_error(http_req_t *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- helpers ------------------------------------------------------------------------ */

/* Percent-decodes src[0..len) into out (NUL-terminated, cap bytes); '+' stays
 * '+' unless plus_is_space.  -EINVAL on a bad escape or an embedded NUL,
 * -E2BIG if it does not fit. */
int http_decode(const char *src, size_t len, bool plus_is_space, char *out, size_t cap);
/* The decoded value of query parameter name ("a=1&b=2"; '+' is space).
 * 0 found (a key without '=' gives ""), -ENOENT, -EINVAL, -E2BIG. */
int http_query_get(const char *query, const char *name, char *out, size_t cap);

/* ---- WebSocket (RFC 6455, text and binary messages, ping/pong) ---------------------- */

typedef struct http_ws_ops {
  /* A complete message (fragments joined, up to the listener's
   * body_bytes_max; past it the socket is closed with 1009).  On a worker
   * thread, one message at a time per socket, in order.  data[len] is a NUL
   * (not part of the message), so text can be parsed as a C string. */
  void (*on_message)(http_ws_t *ws, bool text, const uint8_t *data, size_t len, void *ctx);
  /* The socket closed (either side, or the server stopping); called once, on
   * a worker thread, after the last on_message.  Sends after it fail. */
  void (*on_close)(http_ws_t *ws, void *ctx);
} http_ws_ops_t;

/* True for a GET with Upgrade: websocket (HTTP/1.1). */
bool http_req_is_websocket(const http_req_t *req);
/* Answers 101 and turns the connection into a WebSocket; req is gone after
 * it (also on failure, when a 400 was sent).  The server pings every 30 s
 * and closes sockets that did not answer the previous ping. */
int http_ws_accept(http_req_t *req, const http_ws_ops_t *ops, void *ctx, http_ws_t **out);
/* Queues a message; from any thread, never waits (a socket whose queue
 * passes 16 MiB is closed: a reader that does not read).  -EPIPE closed. */
int http_ws_send(http_ws_t *ws, bool text, const void *data, size_t len);
/* Starts the closing handshake with code (1000 normal). */
void http_ws_close(http_ws_t *ws, uint16_t code);
/* The socket lives until its last reference is dropped: the server holds
 * one until after on_close; take one to send from elsewhere (subscriptions). */
void http_ws_ref(http_ws_t *ws);
void http_ws_unref(http_ws_t *ws);
const char *http_ws_peer(const http_ws_t *ws);

#endif
