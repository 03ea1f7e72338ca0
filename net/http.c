/*
 * http: the server, its event loops and worker pool, the request and
 * response API handlers use, and the helpers (http_decode,
 * http_query_get).  The protocol engines live beside it: http_h1.c
 * (HTTP/1.1).  See http.h for the design and http_internal.h for who owns
 * what.
 *
 * The response path of a worker: http_resp_* frame bytes into the request's
 * out queue (at most HTTP_QUEUE_BYTES, the writer waits beyond) and wake the
 * loop with one event_active per batch (notify_pending); the loop moves the
 * queue into the socket's buffer without copying (evbuffer_add_buffer).  An
 * inline handler's bytes go straight to the connection's write buffer.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "http_internal.h"
#include "log.h"

#define MOD "http"

uint64_t http_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void deadline_after_ms(struct timespec *ts, uint64_t ms) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += (time_t)(ms / 1000u);
  ts->tv_nsec += (long)(ms % 1000u) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

/* ---- metrics ----------------------------------------------------------------- */

static const char *const reject_names[HTTP_REJECT_COUNT] = {
    [HTTP_REJECT_HEADERS] = "headers",         [HTTP_REJECT_BODY] = "body",
    [HTTP_REJECT_CONNECTIONS] = "connections", [HTTP_REJECT_TIMEOUT] = "timeout",
    [HTTP_REJECT_RATE] = "rate",               [HTTP_REJECT_BAD] = "malformed",
};

static void listener_metrics(http_listener_t *l) {
  metrics_registry_t *r = metrics_default();
  if (!r) return;
  static const char *const one[] = {"listener"};
  static const char *const code[] = {"listener", "code"};
  static const char *const reason[] = {"listener", "reason"};
  static const double buckets[] = {0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120};
  const char *name[] = {l->name};
  metrics_family_t *f;
  if (metrics_family_register(r,
                              &(metrics_family_spec_t){METRICS_COUNTER, "anya_http_requests_total",
                                                       "HTTP requests answered, by status code",
                                                       code, 2, NULL, 0, 2000},
                              &f) == 0)
    l->f_requests = f;
  if (metrics_family_register(
          r,
          &(metrics_family_spec_t){METRICS_HISTOGRAM, "anya_http_request_duration_seconds",
                                   "Time from the end of the request headers to the end of the "
                                   "response",
                                   one, 1, buckets, sizeof buckets / sizeof buckets[0], 64},
          &f) == 0)
    (void)metrics_histogram_child(f, name, &l->m_duration);
  if (metrics_family_register(r,
                              &(metrics_family_spec_t){METRICS_GAUGE, "anya_http_connections",
                                                       "Open HTTP connections", one, 1, NULL, 0,
                                                       64},
                              &f) == 0)
    (void)metrics_gauge_child(f, name, &l->m_conns);
  if (metrics_family_register(r,
                              &(metrics_family_spec_t){METRICS_COUNTER,
                                                       "anya_http_received_bytes_total",
                                                       "Bytes received from HTTP clients", one, 1,
                                                       NULL, 0, 64},
                              &f) == 0)
    (void)metrics_counter_child(f, name, &l->m_received);
  if (metrics_family_register(r,
                              &(metrics_family_spec_t){METRICS_COUNTER,
                                                       "anya_http_sent_bytes_total",
                                                       "Bytes sent to HTTP clients", one, 1, NULL,
                                                       0, 64},
                              &f) == 0)
    (void)metrics_counter_child(f, name, &l->m_sent);
  if (metrics_family_register(
          r,
          &(metrics_family_spec_t){METRICS_COUNTER, "anya_http_rejected_total",
                                   "Requests and connections refused by a limit", reason, 2, NULL,
                                   0, 512},
          &f) == 0)
    for (int i = 0; i < HTTP_REJECT_COUNT; i++)
      (void)metrics_counter_child(f, (const char *[]){l->name, reject_names[i]},
                                  &l->m_rejected[i]);
}

void http_count_rejected(http_listener_t *l, enum http_reject_reason reason) {
  metrics_counter_inc(l->m_rejected[reason]);
}

void http_count_request(http_req_t *req) {
  http_listener_t *l = req->l;
  int status = req->status;
  if (status < 100 || status >= HTTP_STATUS_CODES) status = 0;
  metrics_counter_t *ctr = atomic_load_explicit(&l->m_codes[status], memory_order_acquire);
  if (!ctr && l->f_requests) {
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    if (metrics_counter_child(l->f_requests, (const char *[]){l->name, code}, &ctr) == 0)
      atomic_store_explicit(&l->m_codes[status], ctr, memory_order_release);
  }
  metrics_counter_inc(ctr);
  if (req->start_ns)
    metrics_histogram_observe(l->m_duration, (double)(metrics_now_ns() - req->start_ns) / 1e9);
}

/* ---- rate limit ---------------------------------------------------------------- */

static uint32_t hash_key(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

/* Drops entries whose bucket has refilled (they carry no state worth keeping). */
static void rate_sweep(http_server_t *srv, uint64_t now_ns, uint32_t rate_per_s) {
  uint64_t full_ns = 1000000000ull * 2;
  (void)rate_per_s;
  for (size_t i = 0; i < HTTP_RATE_BUCKETS; i++) {
    http_rate_entry_t **pp = &srv->rate_table[i];
    while (*pp) {
      http_rate_entry_t *e = *pp;
      if (now_ns - e->last_ns > full_ns) {
        *pp = e->next;
        free(e);
        srv->rate_count--;
      } else {
        pp = &e->next;
      }
    }
  }
}

bool http_req_rate_limited(http_req_t *req) {
  http_conn_t *c = req->c;
  http_listener_t *l = req->l;
  unsigned retry_s = 1;
  if (http_rate_allow(c->srv, c->peer, l->limits.rate_per_s, &retry_s)) return false;
  http_count_rejected(l, HTTP_REJECT_RATE);
  char value[16];
  snprintf(value, sizeof value, "%u", retry_s);
  req->inline_mode = true;
  http_resp_header(req, "Retry-After", value);
  http_respond_error(req, 429, "too many requests from %s; retry in %u s", c->peer, retry_s);
  http_req_finish_inline(req);
  return true;
}

bool http_rate_allow(http_server_t *srv, const char *key, uint32_t rate_per_s, unsigned *retry_s) {
  if (rate_per_s == 0) return true;
  uint64_t now = metrics_now_ns();
  bool allow = true;
  pthread_mutex_lock(&srv->rate_mu);
  uint32_t slot = hash_key(key) % HTTP_RATE_BUCKETS;
  http_rate_entry_t *e = srv->rate_table[slot];
  while (e && strcmp(e->key, key) != 0) e = e->next;
  if (!e) {
    if (srv->rate_count >= HTTP_RATE_ENTRIES_MAX) rate_sweep(srv, now, rate_per_s);
    if (srv->rate_count < HTTP_RATE_ENTRIES_MAX && (e = calloc(1, sizeof *e))) {
      snprintf(e->key, sizeof e->key, "%s", key);
      e->tokens = rate_per_s;
      e->last_ns = now;
      e->next = srv->rate_table[slot];
      srv->rate_table[slot] = e;
      srv->rate_count++;
    }
  }
  if (e) { /* without an entry (table full of active clients) the request passes */
    double elapsed_s = (double)(now - e->last_ns) / 1e9;
    e->tokens += elapsed_s * rate_per_s;
    if (e->tokens > rate_per_s) e->tokens = rate_per_s;
    e->last_ns = now;
    if (e->tokens >= 1.0) {
      e->tokens -= 1.0;
    } else {
      allow = false;
      double wait_s = (1.0 - e->tokens) / rate_per_s;
      *retry_s = (unsigned)ceil(wait_s);
      if (*retry_s == 0) *retry_s = 1;
    }
  }
  pthread_mutex_unlock(&srv->rate_mu);
  return allow;
}

/* ---- workers ----------------------------------------------------------------------- */

void http_jobs_push(http_server_t *srv, http_job_t *job) {
  job->next = NULL;
  pthread_mutex_lock(&srv->jobs_mu);
  if (srv->jobs_tail)
    srv->jobs_tail->next = job;
  else
    srv->jobs_head = job;
  srv->jobs_tail = job;
  pthread_cond_signal(&srv->jobs_cond);
  pthread_mutex_unlock(&srv->jobs_mu);
}

static void *worker_main(void *arg) {
  http_server_t *srv = arg;
  for (;;) {
    pthread_mutex_lock(&srv->jobs_mu);
    while (!srv->jobs_head && !srv->jobs_stop) pthread_cond_wait(&srv->jobs_cond, &srv->jobs_mu);
    http_job_t *job = srv->jobs_head;
    if (!job) {
      pthread_mutex_unlock(&srv->jobs_mu);
      break;
    }
    srv->jobs_head = job->next;
    if (!srv->jobs_head) srv->jobs_tail = NULL;
    pthread_mutex_unlock(&srv->jobs_mu);
    job->run(job);
  }
  return NULL;
}

/* ---- loops ------------------------------------------------------------------------------ */

static void loop_wake_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  http_loop_t *loop = arg;
  pthread_mutex_lock(&loop->mu);
  http_handoff_t *h = loop->handoffs;
  loop->handoffs = NULL;
  void (*fn)(http_loop_t *, void *) = loop->call_fn;
  void *fn_arg = loop->call_arg;
  loop->call_fn = NULL;
  pthread_mutex_unlock(&loop->mu);
  while (h) {
    http_handoff_t *next = h->next;
    if (atomic_load(&loop->srv->stopping))
      close(h->fd);
    else
      http_h1_conn_new(loop, h->l, h->fd, (struct sockaddr *)&h->addr);
    free(h);
    h = next;
  }
  if (fn) {
    fn(loop, fn_arg);
    pthread_mutex_lock(&loop->mu);
    loop->call_done = true;
    pthread_cond_broadcast(&loop->call_cond);
    pthread_mutex_unlock(&loop->mu);
  }
}

/* Runs fn on the loop's thread and waits for it (directly when the loop does
 * not run). */
static void loop_call(http_loop_t *loop, void (*fn)(http_loop_t *, void *), void *arg) {
  if (!loop->running) {
    fn(loop, arg);
    return;
  }
  pthread_mutex_lock(&loop->mu);
  loop->call_fn = fn;
  loop->call_arg = arg;
  loop->call_done = false;
  event_active(loop->ev_wake, EV_READ, 0);
  while (!loop->call_done) pthread_cond_wait(&loop->call_cond, &loop->mu);
  pthread_mutex_unlock(&loop->mu);
}

static void *loop_main(void *arg) {
  http_loop_t *loop = arg;
  event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY);
  return NULL;
}

static void accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg) {
  (void)evl;
  http_listener_t *l = arg;
  http_server_t *srv = l->srv;
  if (atomic_load(&srv->stopping)) {
    close(fd);
    return;
  }
  unsigned index = atomic_fetch_add(&srv->next_loop, 1) % srv->loop_count;
  http_loop_t *loop = &srv->loops[index];
  if (index == 0) { /* the listener's own loop */
    http_h1_conn_new(loop, l, fd, sa);
    return;
  }
  http_handoff_t *h = calloc(1, sizeof *h);
  if (!h) {
    close(fd);
    return;
  }
  h->fd = fd;
  h->l = l;
  memcpy(&h->addr, sa, (size_t)salen < sizeof h->addr ? (size_t)salen : sizeof h->addr);
  pthread_mutex_lock(&loop->mu);
  h->next = loop->handoffs;
  loop->handoffs = h;
  event_active(loop->ev_wake, EV_READ, 0);
  pthread_mutex_unlock(&loop->mu);
}

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  http_listener_t *l = arg;
  if (l->evl) evconnlistener_enable(l->evl);
}

/* Out of descriptors (or memory): the pending connection stays in the
 * backlog and would wake us at once, so accepting pauses a moment. */
static void accept_error_cb(struct evconnlistener *evl, void *arg) {
  http_listener_t *l = arg;
  int e = errno;
  log_warn(MOD, "%s: accept failed: %s; pausing %d ms", l->name, strerror(e),
           HTTP_ACCEPT_PAUSE_MS);
  evconnlistener_disable(evl);
  struct timeval tv = {.tv_sec = 0, .tv_usec = HTTP_ACCEPT_PAUSE_MS * 1000};
  if (l->ev_resume) event_add(l->ev_resume, &tv);
}

/* ---- server -------------------------------------------------------------------------------- */

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static int evthread_rc;
static void evthread_init(void) {
  evthread_rc = evthread_use_pthreads();
  signal(SIGPIPE, SIG_IGN);
}

int http_server_new(const http_server_opts_t *opts, http_server_t **out) {
  *out = NULL;
  pthread_once(&evthread_once, evthread_init);
  if (evthread_rc != 0) return err_set(-ENOSYS, "libevent has no pthreads support");
  http_server_t *srv = calloc(1, sizeof *srv);
  if (!srv) return err_set(-ENOMEM, "out of memory");
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  srv->loop_count = opts && opts->threads ? opts->threads : (cores > 0 ? (unsigned)cores : 1);
  if (srv->loop_count > 256) srv->loop_count = 256;
  srv->worker_count = opts && opts->workers ? opts->workers : 64;
  srv->ws_ping_ms = HTTP_WS_PING_MS;
  if (srv->worker_count > 4096) srv->worker_count = 4096;
  pthread_mutex_init(&srv->jobs_mu, NULL);
  pthread_cond_init(&srv->jobs_cond, NULL);
  pthread_mutex_init(&srv->rate_mu, NULL);
  srv->rate_table = calloc(HTTP_RATE_BUCKETS, sizeof *srv->rate_table);
  srv->loops = calloc(srv->loop_count, sizeof *srv->loops);
  srv->workers = calloc(srv->worker_count, sizeof *srv->workers);
  if (!srv->rate_table || !srv->loops || !srv->workers) {
    http_server_free(srv);
    return err_set(-ENOMEM, "out of memory");
  }
  for (unsigned i = 0; i < srv->loop_count; i++) {
    http_loop_t *loop = &srv->loops[i];
    loop->srv = srv;
    loop->index = i;
    pthread_mutex_init(&loop->mu, NULL);
    pthread_cond_init(&loop->call_cond, NULL);
    loop->base = event_base_new();
    if (loop->base) loop->ev_wake = event_new(loop->base, -1, 0, loop_wake_cb, loop);
    if (!loop->base || !loop->ev_wake) {
      http_server_free(srv);
      return err_set(-ENOMEM, "cannot create an event loop");
    }
  }
  if (opts && opts->tls_cert && opts->tls_cert[0]) {
    int rc = http_tls_init(srv, opts->tls_cert, opts->tls_key);
    if (rc < 0) {
      http_server_free(srv);
      return rc;
    }
  }
  *out = srv;
  return 0;
}

/* "HOST:PORT" or "[V6]:PORT" into host and port strings. */
static int split_address(const char *address, char *host, size_t host_cap, char *port,
                         size_t port_cap) {
  const char *colon;
  if (address[0] == '[') {
    const char *end = strchr(address, ']');
    if (!end || end[1] != ':') return -EINVAL;
    if ((size_t)(end - address - 1) >= host_cap) return -EINVAL;
    memcpy(host, address + 1, (size_t)(end - address - 1));
    host[end - address - 1] = 0;
    colon = end + 1;
  } else {
    colon = strrchr(address, ':');
    if (!colon || (size_t)(colon - address) >= host_cap) return -EINVAL;
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = 0;
  }
  if (strlen(colon + 1) == 0 || strlen(colon + 1) >= port_cap) return -EINVAL;
  for (const char *p = colon + 1; *p; p++)
    if (*p < '0' || *p > '9') return -EINVAL;
  strcpy(port, colon + 1);
  return 0;
}

int http_server_listen(http_server_t *srv, const http_listener_opts_t *opts) {
  if (!opts || !opts->name || !opts->address || !opts->handler)
    return err_set(-EINVAL, "a listener needs a name, an address and a handler");
  if (srv->listener_count >= HTTP_LISTENERS_MAX)
    return err_set(-ENOSPC, "%s: more than %d listeners", opts->name, HTTP_LISTENERS_MAX);
  if (strlen(opts->name) >= sizeof srv->listeners[0].name)
    return err_set(-EINVAL, "listener name too long: %s", opts->name);
  for (unsigned i = 0; i < srv->listener_count; i++)
    if (strcmp(srv->listeners[i].name, opts->name) == 0)
      return err_set(-EEXIST, "listener %s exists", opts->name);
  char host[256], port[8];
  if (split_address(opts->address, host, sizeof host, port, sizeof port) != 0)
    return err_set(-EINVAL, "%s: not HOST:PORT", opts->address);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *ai = NULL;
  int g = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
  if (g != 0) return err_set(-EINVAL, "%s: %s", opts->address, gai_strerror(g));
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    freeaddrinfo(ai);
    return err_set(-e, "%s: socket: %s", opts->address, strerror(e));
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
    int e = errno;
    freeaddrinfo(ai);
    close(fd);
    return err_set(-e, "%s: %s", opts->address,
                   e == EADDRINUSE ? "address in use" : strerror(e));
  }
  freeaddrinfo(ai);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  uint16_t bound = 0;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
    bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
  http_listener_t *l = &srv->listeners[srv->listener_count];
  memset(l, 0, sizeof *l);
  l->srv = srv;
  snprintf(l->name, sizeof l->name, "%s", opts->name);
  l->handler = opts->handler;
  l->inline_fn = opts->inline_fn;
  l->ctx = opts->ctx;
  l->limits = opts->limits;
  if (!l->limits.header_bytes_max) l->limits.header_bytes_max = 16 * 1024;
  if (!l->limits.body_bytes_max) l->limits.body_bytes_max = 1ull << 40;
  if (!l->limits.idle_timeout_ms) l->limits.idle_timeout_ms = 60000;
  if (!l->limits.request_timeout_ms) l->limits.request_timeout_ms = 30000;
  l->fd = fd;
  l->port = bound;
  l->evl = evconnlistener_new(srv->loops[0].base, accept_cb, l, LEV_OPT_CLOSE_ON_FREE, -1, fd);
  if (!l->evl) {
    close(fd);
    return err_set(-ENOMEM, "%s: cannot watch the socket", opts->address);
  }
  evconnlistener_set_error_cb(l->evl, accept_error_cb);
  l->ev_resume = evtimer_new(srv->loops[0].base, accept_resume_cb, l);
  listener_metrics(l);
  srv->listener_count++;
  return 0; /* the caller logs the listener (net/server.c names the bound port) */
}

void http_server_set_ws_ping_ms(http_server_t *srv, uint64_t interval_ms) {
  srv->ws_ping_ms = interval_ms ? interval_ms : HTTP_WS_PING_MS;
}

uint16_t http_server_port(const http_server_t *srv, const char *name) {
  if (!srv || !name) return 0;
  for (unsigned i = 0; i < srv->listener_count; i++)
    if (strcmp(srv->listeners[i].name, name) == 0) return srv->listeners[i].port;
  return 0;
}

int http_server_start(http_server_t *srv) {
  if (srv->started) return err_set(-EALREADY, "the HTTP server runs already");
  srv->started = true;
  for (unsigned i = 0; i < srv->worker_count; i++) {
    if (pthread_create(&srv->workers[i], NULL, worker_main, srv) != 0)
      return err_set(-EAGAIN, "cannot start HTTP worker threads");
    srv->workers_started++;
  }
  for (unsigned i = 0; i < srv->loop_count; i++) {
    if (pthread_create(&srv->loops[i].thread, NULL, loop_main, &srv->loops[i]) != 0)
      return err_set(-EAGAIN, "cannot start HTTP event loops");
    srv->loops[i].running = true;
  }
  return 0;
}

static void loop_close_all(http_loop_t *loop, void *arg) {
  (void)arg;
  http_server_t *srv = loop->srv;
  if (loop->index == 0)
    for (unsigned i = 0; i < srv->listener_count; i++) {
      if (srv->listeners[i].evl) {
        evconnlistener_free(srv->listeners[i].evl);
        srv->listeners[i].evl = NULL;
      }
      if (srv->listeners[i].ev_resume) {
        event_free(srv->listeners[i].ev_resume);
        srv->listeners[i].ev_resume = NULL;
      }
    }
  pthread_mutex_lock(&loop->mu);
  http_handoff_t *h = loop->handoffs;
  loop->handoffs = NULL;
  pthread_mutex_unlock(&loop->mu);
  while (h) {
    http_handoff_t *next = h->next;
    close(h->fd);
    free(h);
    h = next;
  }
  while (loop->conns) http_conn_close(loop->conns, -ECONNRESET);
}

static void loop_break(http_loop_t *loop, void *arg) {
  (void)arg;
  event_base_loopbreak(loop->base);
}

void http_server_free(http_server_t *srv) {
  if (!srv) return;
  atomic_store(&srv->stopping, true);
  if (srv->loops)
    for (unsigned i = 0; i < srv->loop_count; i++)
      if (srv->loops[i].base) loop_call(&srv->loops[i], loop_close_all, NULL);
  pthread_mutex_lock(&srv->jobs_mu);
  srv->jobs_stop = true;
  pthread_cond_broadcast(&srv->jobs_cond);
  pthread_mutex_unlock(&srv->jobs_mu);
  for (unsigned i = 0; i < srv->workers_started; i++) pthread_join(srv->workers[i], NULL);
  /* Jobs nobody ran (the server never started): finish them without handlers. */
  while (srv->jobs_head) {
    http_job_t *job = srv->jobs_head;
    srv->jobs_head = job->next;
    job->run(job);
  }
  if (srv->loops)
    for (unsigned i = 0; i < srv->loop_count; i++) {
      http_loop_t *loop = &srv->loops[i];
      if (loop->running) {
        loop_call(loop, loop_break, NULL);
        pthread_join(loop->thread, NULL);
        loop->running = false;
      }
      if (loop->ev_wake) event_free(loop->ev_wake);
      if (loop->base) event_base_free(loop->base);
      pthread_mutex_destroy(&loop->mu);
      pthread_cond_destroy(&loop->call_cond);
    }
  for (unsigned i = 0; i < srv->listener_count; i++)
    if (srv->listeners[i].evl) evconnlistener_free(srv->listeners[i].evl);
  if (srv->rate_table) {
    for (size_t i = 0; i < HTTP_RATE_BUCKETS; i++)
      while (srv->rate_table[i]) {
        http_rate_entry_t *e = srv->rate_table[i];
        srv->rate_table[i] = e->next;
        free(e);
      }
    free(srv->rate_table);
  }
  http_tls_free(srv);
  pthread_mutex_destroy(&srv->jobs_mu);
  pthread_cond_destroy(&srv->jobs_cond);
  pthread_mutex_destroy(&srv->rate_mu);
  free(srv->loops);
  free(srv->workers);
  free(srv);
}

/* ---- requests: life cycle -------------------------------------------------------------------- */

void http_req_init(http_req_t *req, http_conn_t *c) {
  memset(req, 0, sizeof *req);
  req->c = c;
  req->l = c->l;
  req->in = evbuffer_new();
  req->out = evbuffer_new();
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&req->cond, &attr);
  pthread_condattr_destroy(&attr);
  req->job.run = http_req_job_run;
  http_req_reset(req);
}

/* Ready for the next request; keeps the allocations. */
void http_req_reset(http_req_t *req) {
  buf_reset(&req->head);
  buf_reset(&req->resp_headers);
  req->hdr_count = 0;
  req->target_off = req->path_off = req->query_off = 0;
  req->method = "GET";
  req->version = 11;
  req->content_length = -1;
  req->chunked = req->is_head = req->keep_alive = req->expect_continue = false;
  req->inline_mode = false;
  req->start_ns = 0;
  if (req->in) evbuffer_drain(req->in, evbuffer_get_length(req->in));
  if (req->out) evbuffer_drain(req->out, evbuffer_get_length(req->out));
  req->body_max = req->l ? req->l->limits.body_bytes_max : UINT64_MAX;
  req->body_received = req->body_read = 0;
  req->body_eof = false;
  req->body_err = 0;
  req->read_started = req->body_too_big = false;
  req->reader_waiting = req->writer_waiting = req->need_continue = false;
  req->started = req->ended = false;
  req->status = 0;
  req->resp_length = -1;
  req->resp_sent = 0;
  req->resp_chunked = req->resp_bodiless = req->resp_close = false;
  req->in_worker = req->handler_done = false;
  req->out_end = false;
}

void http_req_destroy(http_req_t *req) {
  buf_free(&req->head);
  buf_free(&req->resp_headers);
  free(req->hdrs);
  req->hdrs = NULL;
  if (req->in) evbuffer_free(req->in);
  if (req->out) evbuffer_free(req->out);
  req->in = req->out = NULL;
  pthread_cond_destroy(&req->cond);
}

void http_conn_notify_locked(http_conn_t *c) {
  if (!c->notify_pending && !c->closed) {
    c->notify_pending = true;
    event_active(c->ev_notify, EV_READ, 0);
  }
}

/* What a handler left open when it returned. */
static void req_complete(http_req_t *req) {
  if (req->ended) return;
  if (!req->started) {
    if (req->body_too_big)
      http_respond_error(req, 413, "request body too large");
    else
      http_respond_error(req, 500, "the handler did not answer");
  } else {
    http_resp_end(req);
  }
}

void http_req_job_run(http_job_t *job) {
  http_req_t *req = (http_req_t *)((char *)job - offsetof(http_req_t, job));
  http_conn_t *c = req->c;
  if (!atomic_load(&c->srv->stopping)) req->l->handler(req, req->l->ctx);
  req_complete(req);
  pthread_mutex_lock(&c->mu);
  req->handler_done = true;
  req->in_worker = false;
  http_conn_notify_locked(c);
  bool free_stream = req->h2 && req->stream_closed;
  bool last = --c->refs == 0;
  pthread_mutex_unlock(&c->mu);
  if (free_stream) http_req_free_stream(req);
  if (last) http_conn_free(c);
}

void http_req_finish_inline(http_req_t *req) {
  req_complete(req);
  req->handler_done = true;
}

/* The target (at target_off, NUL-terminated) into path and query, stored
 * after what the head holds; an absolute-form target loses its scheme and
 * authority. */
int http_req_split_target(http_req_t *req) {
  size_t target_off = req->target_off;
  const char *base = (const char *)req->head.data;
  size_t target_len = strlen(base + target_off);
  const char *target = base + target_off;
  size_t path_start = 0;
  if (target_len && target[0] != '/' && target[0] != '*') {
    const char *scheme_end = strstr(target, "://");
    if (scheme_end) { /* the authority ends at the first '/', '?' or '#' (RFC 3986) */
      size_t authority = (size_t)(scheme_end + 3 - target);
      path_start = authority + strcspn(target + authority, "/?#");
    }
  }
  const char *q = memchr(target + path_start, '?', target_len - path_start);
  size_t path_end = q ? (size_t)(q - target) : target_len;
  size_t path_len = path_end - path_start;
  size_t query_start = q ? path_end + 1 : target_len;
  size_t query_len = target_len - query_start;
  if (buf_reserve(&req->head, path_len + query_len + 3) != 0) return -1;
  base = (const char *)req->head.data; /* may have moved */
  req->path_off = (uint32_t)req->head.len;
  if (path_len == 0)
    buf_append(&req->head, "/", 1);
  else
    buf_append(&req->head, base + target_off + path_start, path_len);
  buf_append_byte(&req->head, 0);
  req->query_off = (uint32_t)req->head.len;
  buf_append(&req->head, base + target_off + query_start, query_len);
  buf_append_byte(&req->head, 0);
  return 0;
}

/* True when a comma-separated header value holds token (case-insensitive). */
bool http_header_has_token(const char *value, const char *token) {
  size_t n = strlen(token);
  const char *p = value;
  while (p && *p) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (strncasecmp(p, token, n) == 0 && (p[n] == 0 || p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
      return true;
    p = strchr(p, ',');
  }
  return false;
}

/* ---- requests: accessors -------------------------------------------------------------------- */

const char *http_req_method(const http_req_t *req) { return req->method; }
const char *http_req_target(const http_req_t *req) {
  return req->head.data ? (const char *)req->head.data + req->target_off : "/";
}
const char *http_req_path(const http_req_t *req) {
  return req->head.data ? (const char *)req->head.data + req->path_off : "/";
}
const char *http_req_query(const http_req_t *req) {
  return req->head.data ? (const char *)req->head.data + req->query_off : "";
}

const char *http_req_header(const http_req_t *req, const char *name) {
  for (size_t i = 0; i < req->hdr_count; i++)
    if (strcasecmp((const char *)req->head.data + req->hdrs[i].name, name) == 0)
      return (const char *)req->head.data + req->hdrs[i].value;
  return NULL;
}

size_t http_req_header_count(const http_req_t *req) { return req->hdr_count; }

void http_req_header_at(const http_req_t *req, size_t i, const char **name, const char **value) {
  if (i >= req->hdr_count) {
    *name = *value = NULL;
    return;
  }
  *name = (const char *)req->head.data + req->hdrs[i].name;
  *value = (const char *)req->head.data + req->hdrs[i].value;
}

const char *http_req_peer(const http_req_t *req) { return req->c->peer; }
const char *http_req_listener(const http_req_t *req) { return req->l->name; }
int http_req_version(const http_req_t *req) { return req->version; }
int64_t http_req_content_length(const http_req_t *req) { return req->content_length; }
bool http_req_has_body(const http_req_t *req) {
  return req->content_length > 0 || req->chunked;
}

void http_req_set_body_max(http_req_t *req, uint64_t max) {
  http_conn_t *c = req->c;
  pthread_mutex_lock(&c->mu);
  if (!req->read_started) req->body_max = max;
  pthread_mutex_unlock(&c->mu);
}

ssize_t http_req_read(http_req_t *req, void *buf, size_t n) {
  if (n == 0) return 0;
  if (req->inline_mode) return 0; /* inline requests have no body */
  http_conn_t *c = req->c;
  ssize_t rc;
  pthread_mutex_lock(&c->mu);
  if (!req->read_started) {
    req->read_started = true;
    if ((req->content_length >= 0 && (uint64_t)req->content_length > req->body_max) ||
        req->body_received > req->body_max) {
      req->body_too_big = true;
      rc = -EFBIG;
      goto out;
    }
    if (req->expect_continue && !req->started && !req->body_eof) {
      req->need_continue = true;
      http_conn_notify_locked(c);
    }
  }
  if (req->body_too_big) {
    rc = -EFBIG;
    goto out;
  }
  uint64_t idle_ms = req->l->limits.idle_timeout_ms;
  for (;;) {
    size_t avail = evbuffer_get_length(req->in);
    if (avail) {
      int got = evbuffer_remove(req->in, buf, n);
      if (got < 0) {
        rc = -EIO;
        goto out;
      }
      req->body_read += (size_t)got;
      if (req->h2 || (c->in_stalled && evbuffer_get_length(req->in) < HTTP_QUEUE_BYTES / 2))
        http_conn_notify_locked(c); /* HTTP/2: the window opens by what was read */
      rc = got;
      goto out;
    }
    if (req->body_err) {
      if (req->body_err == -EFBIG) req->body_too_big = true;
      rc = req->body_err;
      goto out;
    }
    if (req->body_eof) {
      rc = 0;
      goto out;
    }
    if (c->closed || req->reset) {
      rc = c->closed && c->close_reason ? c->close_reason : -ECONNRESET;
      goto out;
    }
    struct timespec deadline;
    deadline_after_ms(&deadline, idle_ms);
    req->reader_waiting = true;
    int w = pthread_cond_timedwait(&req->cond, &c->mu, &deadline);
    req->reader_waiting = false;
    if (w == ETIMEDOUT && !evbuffer_get_length(req->in) && !req->body_eof && !req->body_err &&
        !c->closed) {
      rc = -ETIMEDOUT;
      goto out;
    }
  }
out:
  pthread_mutex_unlock(&c->mu);
  return rc;
}

/* ---- responses ------------------------------------------------------------------------------- */

const char *http_reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 406: return "Not Acceptable";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 411: return "Length Required";
  case 412: return "Precondition Failed";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 416: return "Range Not Satisfiable";
  case 422: return "Unprocessable Content";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Unknown";
  }
}

/* "Wed, 25 Nov 2026 15:31:50 GMT", formatted once a second per thread. */
size_t http_date(char *out, size_t cap) {
  static __thread time_t cached_s;
  static __thread char cached[40];
  static __thread size_t cached_len;
  time_t now = time(NULL);
  if (now != cached_s || !cached_len) {
    struct tm tm;
    gmtime_r(&now, &tm);
    cached_len = strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_s = now;
  }
  size_t n = cached_len < cap ? cached_len : cap - 1;
  memcpy(out, cached, n);
  out[n] = 0;
  return n;
}

/* Queues framed bytes (with data and/or a prefix/suffix) toward the client:
 * inline, into the connection's write buffer; from a worker, into the
 * request's out queue, waiting while it is full.  0 or -ECONNRESET. */
static int emit(http_req_t *req, const void *pre, size_t pre_len, const void *data, size_t len,
                const void *post, size_t post_len) {
  http_conn_t *c = req->c;
  if (req->inline_mode && req->h2) { /* the loop takes it from out after the handler */
    if (len) evbuffer_add(req->out, data, len);
    return 0;
  }
  if (req->inline_mode) {
    if (!c->bev) return -ECONNRESET;
    if (pre_len) evbuffer_add(c->wbuf, pre, pre_len);
    if (len) evbuffer_add(c->wbuf, data, len);
    if (post_len) evbuffer_add(c->wbuf, post, post_len);
    return 0;
  }
  int rc = 0;
  pthread_mutex_lock(&c->mu);
  uint64_t wait_ms = req->l->limits.idle_timeout_ms * 2;
  while (!c->closed && !req->reset && evbuffer_get_length(req->out) >= HTTP_QUEUE_BYTES) {
    struct timespec deadline;
    deadline_after_ms(&deadline, wait_ms);
    req->writer_waiting = true;
    int w = pthread_cond_timedwait(&req->cond, &c->mu, &deadline);
    req->writer_waiting = false;
    if (w == ETIMEDOUT && !c->closed && !req->reset &&
        evbuffer_get_length(req->out) >= HTTP_QUEUE_BYTES) {
      rc = -ETIMEDOUT;
      break;
    }
  }
  if (c->closed || req->reset) rc = -ECONNRESET;
  if (rc == 0) {
    if (pre_len) evbuffer_add(req->out, pre, pre_len);
    if (len) evbuffer_add(req->out, data, len);
    if (post_len) evbuffer_add(req->out, post, post_len);
    http_conn_notify_locked(c);
  }
  pthread_mutex_unlock(&c->mu);
  return rc;
}

static bool header_name_ok(const char *s) {
  if (!*s) return false;
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch <= 32 || ch >= 127 || strchr("()<>@,;:\\\"/[]?={}", ch)) return false;
  }
  return true;
}

static bool header_value_ok(const char *s) {
  for (; *s; s++)
    if (*s == '\r' || *s == '\n') return false;
  return true;
}

int http_resp_header(http_req_t *req, const char *name, const char *value) {
  if (req->started) return err_set(-EINVAL, "response headers after the response started");
  if (!header_name_ok(name) || !header_value_ok(value))
    return err_set(-EINVAL, "bad response header %s", name);
  if (buf_printf(&req->resp_headers, "%s: %s\r\n", name, value) != 0)
    return err_set(-ENOMEM, "out of memory");
  return 0;
}

int http_resp_start(http_req_t *req, int status, int64_t content_length) {
  if (req->started) return err_set(-EINVAL, "the response started already");
  if (status < 200 || status > 999) return err_set(-EINVAL, "bad status %d", status);
  req->started = true;
  req->status = status;
  bool no_body_status = status == 204 || status == 304;
  req->resp_bodiless = req->is_head || no_body_status;
  req->resp_length = no_body_status ? 0 : content_length;
  if (req->h2) return http_h2_resp_start(req);
  if (content_length < 0 && !no_body_status) {
    if (req->version >= 11)
      req->resp_chunked = true;
    else
      req->resp_close = true; /* HTTP/1.0: the end of the body is the end of the connection */
  }
  bool keep = req->keep_alive && !req->resp_close && !atomic_load(&req->c->srv->stopping);
  if (!keep) req->resp_close = true;
  char head[512];
  char date[40];
  http_date(date, sizeof date);
  int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nServer: anya\r\nDate: %s\r\n", status,
                   http_reason(status), date);
  if (!no_body_status) {
    if (content_length >= 0)
      n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %lld\r\n",
                    (long long)content_length);
    else if (req->resp_chunked)
      n += snprintf(head + n, sizeof head - (size_t)n, "Transfer-Encoding: chunked\r\n");
  }
  if (!keep)
    n += snprintf(head + n, sizeof head - (size_t)n, "Connection: close\r\n");
  else if (req->version == 10)
    n += snprintf(head + n, sizeof head - (size_t)n, "Connection: keep-alive\r\n");
  return emit(req, head, (size_t)n, req->resp_headers.data, req->resp_headers.len, "\r\n", 2);
}

int http_resp_write(http_req_t *req, const void *data, size_t n) {
  if (!req->started || req->ended) return err_set(-EINVAL, "no open response");
  if (req->resp_length >= 0 && req->resp_sent + n > (uint64_t)req->resp_length)
    return err_set(-EINVAL, "more body than the declared Content-Length");
  if (n == 0) return 0;
  if (req->resp_bodiless) {
    req->resp_sent += n;
    if (req->inline_mode) return 0;
    pthread_mutex_lock(&req->c->mu);
    bool gone = req->c->closed || req->reset;
    pthread_mutex_unlock(&req->c->mu);
    return gone ? -ECONNRESET : 0;
  }
  const uint8_t *p = data;
  while (n > 0) {
    size_t piece = n < HTTP_QUEUE_BYTES ? n : HTTP_QUEUE_BYTES;
    int rc;
    if (req->resp_chunked) {
      char size_line[24];
      int sl = snprintf(size_line, sizeof size_line, "%zx\r\n", piece);
      rc = emit(req, size_line, (size_t)sl, p, piece, "\r\n", 2);
    } else {
      rc = emit(req, NULL, 0, p, piece, NULL, 0);
    }
    if (rc < 0) return rc;
    req->resp_sent += piece;
    p += piece;
    n -= piece;
  }
  return 0;
}

static int resp_finish(http_req_t *req, bool abort) {
  if (!req->started || req->ended) return err_set(-EINVAL, "no open response");
  int rc = 0;
  if (abort || (req->resp_length >= 0 && req->resp_sent < (uint64_t)req->resp_length))
    req->resp_close = true; /* the client sees a short body and the connection end */
  if (req->resp_chunked && !req->resp_bodiless && !abort) rc = emit(req, "0\r\n\r\n", 5, NULL, 0, NULL, 0);
  req->ended = true;
  http_conn_t *c = req->c;
  if (req->inline_mode) {
    req->out_end = true;
  } else {
    pthread_mutex_lock(&c->mu);
    req->out_end = true;
    http_conn_notify_locked(c);
    pthread_mutex_unlock(&c->mu);
  }
  return rc;
}

int http_resp_end(http_req_t *req) { return resp_finish(req, false); }
int http_resp_abort(http_req_t *req) { return resp_finish(req, true); }

int http_respond(http_req_t *req, int status, const char *content_type, const void *body,
                 size_t len) {
  int rc;
  if (content_type && (rc = http_resp_header(req, "Content-Type", content_type)) < 0) return rc;
  if ((rc = http_resp_start(req, status, (int64_t)len)) < 0) return rc;
  if (len && (rc = http_resp_write(req, body, len)) < 0) {
    req->ended = true;
    req->resp_close = true;
    return rc;
  }
  return http_resp_end(req);
}

int http_respond_error(http_req_t *req, int status, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  char body[1200];
  size_t n = 0;
  n += (size_t)snprintf(body, sizeof body, "{\"error\":\"");
  for (const char *s = msg; *s && n < sizeof body - 16; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') {
      body[n++] = '\\';
      body[n++] = (char)ch;
    } else if (ch < 0x20) {
      n += (size_t)snprintf(body + n, sizeof body - n, "\\u%04x", ch);
    } else {
      body[n++] = (char)ch;
    }
  }
  n += (size_t)snprintf(body + n, sizeof body - n, "\"}");
  return http_respond(req, status, "application/json", body, n);
}

/* ---- helpers ---------------------------------------------------------------------------------- */

static int hex_value(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

int http_decode(const char *src, size_t len, bool plus_is_space, char *out, size_t cap) {
  if (cap == 0) return -E2BIG;
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char ch = src[i];
    if (ch == '%') {
      if (i + 2 >= len) return -EINVAL;
      int hi = hex_value(src[i + 1]), lo = hex_value(src[i + 2]);
      if (hi < 0 || lo < 0) return -EINVAL;
      ch = (char)(hi << 4 | lo);
      i += 2;
    } else if (ch == '+' && plus_is_space) {
      ch = ' ';
    }
    if (ch == 0) return -EINVAL;
    if (o + 1 >= cap) return -E2BIG;
    out[o++] = ch;
  }
  out[o] = 0;
  return 0;
}

int http_query_get(const char *query, const char *name, char *out, size_t cap) {
  if (!query) return -ENOENT;
  size_t name_len = strlen(name);
  const char *p = query;
  while (*p) {
    const char *end = strchr(p, '&');
    size_t part = end ? (size_t)(end - p) : strlen(p);
    if (part == 0) { /* "a=1&&b=2": nothing between */
      if (!end) break;
      p = end + 1;
      continue;
    }
    const char *eq = memchr(p, '=', part);
    size_t key_len = eq ? (size_t)(eq - p) : part;
    /* keys are compared decoded, so "a%62=1" matches "ab" */
    char key[256];
    int rc = http_decode(p, key_len, true, key, sizeof key);
    if (rc == 0 && strlen(key) == name_len && memcmp(key, name, name_len) == 0) {
      if (!eq) {
        if (cap == 0) return -E2BIG;
        out[0] = 0;
        return 0;
      }
      return http_decode(eq + 1, part - key_len - 1, true, out, cap);
    }
    if (!end) break;
    p = end + 1;
  }
  return -ENOENT;
}
