/*
 * dwn_server: the DWN listener (net/dwn_http.h) alone over a repository, for
 * the DWN HTTP tests until anyad serves it (then this program goes away).
 *
 * Usage: dwn_server REPO HOST:PORT
 * Opens the repository (`anya init` made it) and its DWN (engine/dwn_repo.h),
 * listens with the limits of its config (http.*, dwn.max_record_data_size),
 * answers GET /health with {"ok":true} as net/server.c does, prints
 * "port N" on stdout once serving, and stops on SIGTERM or SIGINT.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "dwn_http.h"
#include "dwn_repo.h"
#include "err.h"
#include "http.h"
#include "repo.h"

static dwn_http_t *dwn_listener;

static void handle(http_req_t *req, void *ctx) {
  (void)ctx;
  if (strcmp(http_req_path(req), "/health") == 0 && !http_req_is_websocket(req)) {
    http_respond(req, 200, "application/json", "{\"ok\":true}", 11);
    return;
  }
  dwn_http_handle(req, dwn_listener);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: dwn_server REPO HOST:PORT\n");
    return 64;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread started below inherits it */
  signal(SIGPIPE, SIG_IGN);
  repo_t *r = NULL;
  dwn_t *d = NULL;
  http_server_t *srv = NULL;
  int rc = repo_open(argv[1], "dwn_server", NULL, &r);
  if (!rc) rc = dwn_open_repo(r, &d);
  const config_t *cfg = rc ? NULL : r->config;
  dwn_http_opts_t o = {.dwn = d, .max_data_bytes = cfg ? config_size(cfg, "dwn.max_record_data_size") : 0};
  if (!rc) rc = dwn_http_new(&o, &dwn_listener);
  http_server_opts_t so = {.threads = cfg ? (unsigned)config_int(cfg, "http.threads") : 0,
                           .workers = cfg ? (unsigned)config_int(cfg, "http.workers") : 0};
  if (!rc) rc = http_server_new(&so, &srv);
  http_listener_opts_t lo = {
      .name = "dwn",
      .address = argv[2],
      .handler = handle,
      .limits = {.header_bytes_max = cfg ? (size_t)config_size(cfg, "http.header_bytes_max") : 0,
                 .body_bytes_max = cfg ? config_size(cfg, "http.body_bytes_max") : 0,
                 .connections_max = cfg ? (unsigned)config_int(cfg, "http.connections_max") : 0,
                 .idle_timeout_ms = cfg ? config_duration_ms(cfg, "http.idle_timeout") : 0,
                 .request_timeout_ms = cfg ? config_duration_ms(cfg, "http.request_timeout") : 0}};
  if (!rc) rc = http_server_listen(srv, &lo);
  if (!rc) rc = http_server_start(srv);
  if (rc) {
    fprintf(stderr, "dwn_server: %s\n", err_msg(rc));
  } else {
    printf("port %u\n", (unsigned)http_server_port(srv, "dwn"));
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
  }
  http_server_free(srv);
  dwn_http_free(dwn_listener);
  dwn_close(d);
  if (r) repo_close(r);
  return rc ? 1 : 0;
}
