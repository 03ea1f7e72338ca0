/* server: anyad's HTTP listeners, /health and /metrics (server.h). */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "dwn_http.h"
#include "err.h"
#include "gateway.h"
#include "http.h"
#include "ipns.h"
#include "log.h"
#include "metrics.h"
#include "rpc.h"

/* The checks behind /health, in output order. */
enum { CHECK_STORAGE, CHECK_KEY, CHECK_GATEWAY, CHECK_DHT, CHECK_PINNING, CHECKS };
static const char *const check_names[CHECKS] = {"storage", "key", "gateway", "dht", "pinning_services"};
static const bool check_required[CHECKS] = {true, true, false, false, false};

typedef struct check {
  const char *status; /* "ok", "fail" or "off" (not configured / not built) */
  char detail[256];
} check_t;

typedef struct listener {
  struct net *net;
  const char *name;
  http_handler_fn fn;
  http_inline_fn inline_fn;
  void *ctx;
} listener_t;

struct net {
  repo_t *repo;
  http_server_t *http;
  gateway_t *gateway;
  rpc_t *rpc;
  dwn_http_t *dwn;
  node_t *node;             /* NULL when p2p is off */
  ipns_t *ipns;           /* the node's names (gateway /ipns/, RPC name, the mount's ipns/) */
  listener_t listeners[3];
  char gateway_addr[128]; /* "" when off */
  bool metrics;
  bool api_written;
  /* health: checked by a background thread every monitoring.health_interval */
  pthread_t checker;
  bool checker_running;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  bool stopping;
  check_t checks[CHECKS];
  metrics_gauge_t *check_gauges[CHECKS];
  metrics_gauge_t *uptime;
  uint64_t started_ns;
};

/* ---- health ------------------------------------------------------------------ */

static void set_check(check_t *c, const char *status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_check(check_t *c, const char *status, const char *fmt, ...) {
  c->status = status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->detail, sizeof c->detail, fmt, ap);
  va_end(ap);
}

/* Runs every check once (no lock held while checking). */
static void run_checks(net_t *n) {
  check_t now[CHECKS];
  memset(now, 0, sizeof now);
  bs_stat_t st;
  struct statvfs vfs;
  char path[REPO_PATH_BYTES_MAX + 32];
  snprintf(path, sizeof path, "%s/blocks", n->repo->path);
  int rc = bs_stat(n->repo->bs, &st); /* also refreshes anya_storage_used_bytes */
  if (rc) set_check(&now[CHECK_STORAGE], "fail", "block engine: %s", err_msg(rc));
  else if (statvfs(path, &vfs) != 0) set_check(&now[CHECK_STORAGE], "fail", "%s: %s", path, strerror(errno));
  else if (access(path, W_OK) != 0) set_check(&now[CHECK_STORAGE], "fail", "%s is not writable: %s", path, strerror(errno));
  else if ((uint64_t)vfs.f_bavail * vfs.f_frsize < (64u << 20))
    set_check(&now[CHECK_STORAGE], "fail", "less than 64 MiB free on the disk of %s", path);
  else
    set_check(&now[CHECK_STORAGE], "ok", "%llu blocks, %llu bytes on disk, %llu bytes free",
              (unsigned long long)st.blocks, (unsigned long long)st.disk_bytes,
              (unsigned long long)vfs.f_bavail * vfs.f_frsize);
  snprintf(path, sizeof path, "%s/keystore/self", n->repo->path);
  struct stat ks;
  if (stat(path, &ks) != 0) set_check(&now[CHECK_KEY], "fail", "%s: %s", path, strerror(errno));
  else if (access(path, R_OK) != 0) set_check(&now[CHECK_KEY], "fail", "%s is not readable", path);
  else if (ks.st_mode & 077) set_check(&now[CHECK_KEY], "fail", "%s is readable by others (mode %03o)", path, ks.st_mode & 0777);
  else set_check(&now[CHECK_KEY], "ok", "peer %s", n->repo->peer_id);
  if (n->gateway_addr[0]) set_check(&now[CHECK_GATEWAY], "ok", "serving on %s", n->gateway_addr);
  else set_check(&now[CHECK_GATEWAY], "off", "the gateway listener is off");
  if (n->node) {
    size_t conns = p2p_connections(n->node->host, NULL, 0);
    size_t table = kad_table_size(n->node->kad);
    set_check(&now[CHECK_DHT], "ok", "%s mode, %zu peers in the routing table, %zu connections",
              kad_is_server(n->node->kad) ? "server" : "client", table, conns);
  } else {
    set_check(&now[CHECK_DHT], "off", "libp2p is off");
  }
  const char *const *services;
  size_t ns = config_strings(n->repo->config, "pinning.remote_services", &services);
  if (ns) set_check(&now[CHECK_PINNING], "off", "%zu remote services configured; replication is not built yet", ns);
  else set_check(&now[CHECK_PINNING], "off", "no remote pinning services configured");
  pthread_mutex_lock(&n->lock);
  memcpy(n->checks, now, sizeof now);
  pthread_mutex_unlock(&n->lock);
  for (int i = 0; i < CHECKS; i++) metrics_gauge_set(n->check_gauges[i], strcmp(now[i].status, "fail") != 0);
}

static void *checker_main(void *arg) {
  net_t *n = arg;
  uint64_t interval_ms = config_duration_ms(n->repo->config, "monitoring.health_interval");
  pthread_mutex_lock(&n->lock);
  while (!n->stopping) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(interval_ms / 1000);
    until.tv_nsec += (long)(interval_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    while (!n->stopping && pthread_cond_timedwait(&n->wake, &n->lock, &until) != ETIMEDOUT) {
    }
    if (n->stopping) break;
    pthread_mutex_unlock(&n->lock);
    run_checks(n);
    pthread_mutex_lock(&n->lock);
  }
  pthread_mutex_unlock(&n->lock);
  return NULL;
}

static void serve_health(net_t *n, http_req_t *req) {
  json_t *checks = json_object();
  bool ok = true;
  pthread_mutex_lock(&n->lock);
  for (int i = 0; i < CHECKS; i++) {
    const check_t *c = &n->checks[i];
    if (check_required[i] && strcmp(c->status, "ok") != 0) ok = false;
    json_object_set_new(checks, check_names[i],
                        json_pack("{s:s, s:b, s:s}", "status", c->status, "required", check_required[i], "detail", c->detail));
  }
  pthread_mutex_unlock(&n->lock);
  json_t *body = json_pack("{s:b, s:o}", "ok", ok, "checks", checks);
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  if (!text) {
    http_respond_error(req, 500, "out of memory");
    return;
  }
  http_resp_header(req, "Cache-Control", "no-store");
  http_respond(req, ok ? 200 : 503, "application/json", text, strlen(text));
  free(text);
}

static void serve_metrics(net_t *n, http_req_t *req) {
  metrics_gauge_set(n->uptime, (double)(metrics_now_ns() - n->started_ns) / 1e9);
  buf_t out = {0};
  int rc = metrics_write_text(metrics_default(), &out);
  if (rc) http_respond_error(req, 500, "cannot write the metrics: %s", err_msg(rc));
  else http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
  buf_free(&out);
}

/* /health and /metrics on every listener, GET and HEAD only. */
static bool is_common(http_req_t *req) {
  const char *p = http_req_path(req);
  return strcmp(p, "/health") == 0 || strcmp(p, "/metrics") == 0;
}

static void handle(http_req_t *req, void *ctx) {
  listener_t *l = ctx;
  if (is_common(req)) {
    const char *m = http_req_method(req);
    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
      http_resp_header(req, "Allow", "GET, HEAD");
      http_respond_error(req, 405, "%s takes GET or HEAD", http_req_path(req));
    } else if (strcmp(http_req_path(req), "/health") == 0) {
      serve_health(l->net, req);
    } else if (l->net->metrics) {
      serve_metrics(l->net, req);
    } else {
      http_respond_error(req, 404, "metrics are off (monitoring.metrics = false)");
    }
    return;
  }
  l->fn(req, l->ctx);
}

static bool handle_inline(http_req_t *req, void *ctx) {
  listener_t *l = ctx;
  return !is_common(req) && l->inline_fn && l->inline_fn(req, l->ctx);
}

/* ---- listeners --------------------------------------------------------------- */

static bool is_off(const char *addr) { return !addr || !*addr || strcmp(addr, "off") == 0; }

/* True when the HOST of "HOST:PORT" / "[v6]:PORT" is a loopback address. */
static bool is_loopback(const char *addr) {
  char host[128];
  const char *colon = strrchr(addr, ':');
  size_t len = colon ? (size_t)(colon - addr) : strlen(addr);
  if (len >= sizeof host) return false;
  memcpy(host, addr, len);
  host[len] = 0;
  if (host[0] == '[' && len >= 2 && host[len - 1] == ']') {
    memmove(host, host + 1, len - 2);
    host[len - 2] = 0;
  }
  if (strcmp(host, "localhost") == 0) return true;
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, host, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
  return false;
}

static http_limits_t limits_from(const config_t *cfg) {
  return (http_limits_t){
      .header_bytes_max = (size_t)config_size(cfg, "http.header_bytes_max"),
      .body_bytes_max = config_size(cfg, "http.body_bytes_max"),
      .connections_max = (unsigned)config_int(cfg, "http.connections_max"),
      .idle_timeout_ms = config_duration_ms(cfg, "http.idle_timeout"),
      .request_timeout_ms = config_duration_ms(cfg, "http.request_timeout"),
      .rate_per_s = (uint32_t)config_int(cfg, "security.rate_limit"),
  };
}

static int add_listener(net_t *n, size_t i, const char *name, const char *addr, http_handler_fn fn,
                        http_inline_fn inline_fn, void *ctx) {
  listener_t *l = &n->listeners[i];
  *l = (listener_t){.net = n, .name = name, .fn = fn, .inline_fn = inline_fn, .ctx = ctx};
  http_listener_opts_t o = {.name = name, .address = addr, .handler = handle,
                            .inline_fn = handle_inline, .ctx = l, .limits = limits_from(n->repo->config)};
  int rc = http_server_listen(n->http, &o);
  if (rc) return rc;
  /* the bound port, which port 0 leaves to the kernel */
  char bound[160];
  const char *colon = strrchr(addr, ':');
  snprintf(bound, sizeof bound, "%.*s:%u", colon ? (int)(colon - addr) : 0, addr, (unsigned)http_server_port(n->http, name));
  log_kv(LOG_LEVEL_INFO, "net", ((log_kv_t[]){LOG_STR("listener", name), LOG_STR("address", bound)}), "listening");
  return 0;
}

/* "listening listener=p2p address=<multiaddr>/p2p/<id>", once per bound address. */
static int log_p2p_listeners(node_t *node) {
  multiaddr_t addrs[P2P_LISTEN_MAX];
  size_t count = p2p_listen_addrs(node->host, addrs, P2P_LISTEN_MAX);
  for (size_t i = 0; i < count; i++) {
    multiaddr_t full;
    char text[MA_TEXT_BYTES_MAX];
    if (ma_with_peer(&addrs[i], &node->key.id, &full) != 0 || ma_format(&full, text) != 0)
      return err_set(-EINVAL, "cannot format the p2p listen address");
    log_kv(LOG_LEVEL_INFO, "net", ((log_kv_t[]){LOG_STR("listener", "p2p"), LOG_STR("address", text)}), "listening");
  }
  return 0;
}

/* <repo>/api: the RPC listener's base URL, written atomically. */
static int write_api_file(net_t *n, const char *addr) {
  uint16_t port = http_server_port(n->http, "rpc");
  char host[128];
  const char *colon = strrchr(addr, ':');
  size_t len = colon ? (size_t)(colon - addr) : 0;
  if (len == 0 || len >= sizeof host) return err_set(-EINVAL, "bad RPC address %s", addr);
  memcpy(host, addr, len);
  host[len] = 0;
  /* a wildcard bind is reached on loopback */
  if (strcmp(host, "0.0.0.0") == 0) snprintf(host, sizeof host, "127.0.0.1");
  else if (strcmp(host, "[::]") == 0) snprintf(host, sizeof host, "[::1]");
  char path[REPO_PATH_BYTES_MAX + 16], tmp[REPO_PATH_BYTES_MAX + 24], text[192];
  snprintf(path, sizeof path, "%s/%s", n->repo->path, NET_API_FILE);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int tl = snprintf(text, sizeof text, "http://%s:%u\n", host, (unsigned)port);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return err_set(-errno, "%s: %s", tmp, strerror(errno));
  int rc = write(fd, text, (size_t)tl) == tl ? 0 : err_set(-EIO, "%s: short write", tmp);
  close(fd);
  if (!rc && rename(tmp, path) != 0) rc = err_set(-errno, "%s: %s", path, strerror(errno));
  if (rc) unlink(tmp);
  else n->api_written = true;
  return rc;
}

/* IPNS for the listeners and the mount: over opts->ipns_routing when given,
 * else the node's DHT when the node runs, else our own records only.  With
 * routing, our record is republished every IPNS_REPUBLISH_INTERVAL_MS. */
static int start_ipns(net_t *n, const net_opts_t *opts) {
  peer_key_t key;
  int rc = peer_key_load(opts->repo->path, &key);
  if (rc) return rc;
  ipns_routing_t dht;
  const ipns_routing_t *routing = opts->ipns_routing;
  if (!routing && n->node && n->node->kad) {
    dht = ipns_kad_routing(n->node->kad);
    routing = &dht;
  }
  ipns_opts_t o = {.routing = routing, .key = &key, .repo_path = opts->repo->path,
                   .republish_interval_ms = routing ? IPNS_REPUBLISH_INTERVAL_MS : 0};
  rc = ipns_new(&o, &n->ipns);
  explicit_bzero(&key, sizeof key);
  return rc;
}

int net_start(const net_opts_t *opts, net_t **out) {
  *out = NULL;
  const config_t *cfg = opts->repo->config;
  const char *dwn_addr = opts->dwn_addr ? opts->dwn_addr : config_string(cfg, "network.dwn");
  const char *gw_addr = opts->gateway_addr ? opts->gateway_addr : config_string(cfg, "network.gateway");
  const char *rpc_addr = opts->rpc_addr ? opts->rpc_addr : config_string(cfg, "network.rpc");
  const char *p2p_addr = opts->p2p_addr ? opts->p2p_addr : config_string(cfg, "network.p2p");
  const char *token = config_string(cfg, "security.rpc_token");
  if (!opts->dwn) dwn_addr = "off";
  if (!is_off(rpc_addr) && !is_loopback(rpc_addr) && !*token)
    return err_set(-EPERM, "the RPC listener on %s is off loopback: set security.rpc_token (a bearer token it will require)",
                   rpc_addr);
  net_t *n = calloc(1, sizeof *n);
  if (!n) return -ENOMEM;
  n->repo = opts->repo;
  n->metrics = config_bool(cfg, "monitoring.metrics");
  n->started_ns = metrics_now_ns();
  pthread_mutex_init(&n->lock, NULL);
  pthread_cond_init(&n->wake, NULL);
  metrics_registry_t *reg = metrics_default();
  static const char *const check_label[] = {"check"};
  metrics_family_spec_t spec = {.type = METRICS_GAUGE, .name = "anya_health_check_ok",
                                .help = "1 while a /health check passes (or is off), 0 while it fails",
                                .label_names = check_label, .label_count = 1};
  metrics_family_t *fam = NULL;
  if (metrics_family_register(reg, &spec, &fam) == 0)
    for (int i = 0; i < CHECKS; i++) metrics_gauge_child(fam, &check_names[i], &n->check_gauges[i]);
  metrics_gauge_register(reg, "anya_uptime_seconds", "Seconds since the daemon started serving", &n->uptime);
  http_server_opts_t so = {.threads = (unsigned)config_int(cfg, "http.threads"),
                           .workers = (unsigned)config_int(cfg, "http.workers"),
                           .tls_cert = config_string(cfg, "security.tls_cert"),
                           .tls_key = config_string(cfg, "security.tls_key")};
  int rc = http_server_new(&so, &n->http);
  if (!rc && !is_off(p2p_addr)) { /* first: IPNS goes over its DHT */
    rc = node_start(opts->repo, p2p_addr, &n->node);
    if (!rc) rc = log_p2p_listeners(n->node);
  }
  if (!rc) rc = start_ipns(n, opts);
  size_t nl = 0;
  if (!rc && !is_off(dwn_addr)) {
    dwn_http_opts_t o = {.dwn = opts->dwn, .max_data_bytes = config_size(cfg, "dwn.max_record_data_size")};
    rc = dwn_http_new(&o, &n->dwn);
    if (!rc) rc = add_listener(n, nl++, "dwn", dwn_addr, dwn_http_handle, NULL, n->dwn);
  }
  if (!rc && !is_off(gw_addr)) {
    rc = gateway_new(opts->repo, &n->gateway);
    if (!rc) gateway_set_ipns(n->gateway, n->ipns);
    if (!rc) rc = add_listener(n, nl++, "gateway", gw_addr, gateway_handle, gateway_inline, n->gateway);
    if (!rc) snprintf(n->gateway_addr, sizeof n->gateway_addr, "%s", gw_addr);
  }
  if (!rc && !is_off(rpc_addr)) {
    rpc_opts_t o = {.repo = opts->repo, .dwn = opts->dwn, .token = token, .files_roots = opts->files_roots,
                    .files_ctx = opts->files_ctx, .node = n->node, .ipns = n->ipns};
    rc = rpc_new(&o, &n->rpc);
    if (!rc) rc = add_listener(n, nl++, "rpc", rpc_addr, rpc_handle, NULL, n->rpc);
  }
  if (!rc) run_checks(n); /* /health answers from the first request */
  if (!rc) rc = http_server_start(n->http);
  if (!rc && !is_off(rpc_addr)) rc = write_api_file(n, rpc_addr);
  if (!rc) {
    if (pthread_create(&n->checker, NULL, checker_main, n) == 0) n->checker_running = true;
    else rc = err_set(-EAGAIN, "cannot start the health checker thread");
  }
  if (rc) {
    net_stop(n);
    return rc;
  }
  *out = n;
  return 0;
}

ipns_t *net_ipns(net_t *n) { return n ? n->ipns : NULL; }

void net_stop(net_t *n) {
  if (!n) return;
  pthread_mutex_lock(&n->lock);
  n->stopping = true;
  pthread_cond_broadcast(&n->wake);
  pthread_mutex_unlock(&n->lock);
  if (n->checker_running) pthread_join(n->checker, NULL);
  if (n->api_written) {
    char path[REPO_PATH_BYTES_MAX + 16];
    snprintf(path, sizeof path, "%s/%s", n->repo->path, NET_API_FILE);
    unlink(path);
  }
  http_server_free(n->http); /* handlers have returned: the modules can go */
  dwn_http_free(n->dwn);
  gateway_free(n->gateway);
  rpc_free(n->rpc);
  if (n->node) kad_stop(n->node->kad); /* cuts a republish in progress short */
  ipns_free(n->ipns);
  node_stop(n->node);
  pthread_cond_destroy(&n->wake);
  pthread_mutex_destroy(&n->lock);
  free(n);
}

node_t *net_node(net_t *n) { return n ? n->node : NULL; }
