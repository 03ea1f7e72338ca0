/*
 * gateway_server REPO: the gateway listener alone on 127.0.0.1:0 over an
 * opened repository, for tests/integration/gateway.sh until anyad serves it
 * (then the tests use anyad and this program goes).  Prints "port N" on
 * stdout once serving; stops on SIGTERM or SIGINT, exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "gateway.h"
#include "http.h"
#include "repo.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: gateway_server REPO\n");
    return 2;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL); /* the server's threads inherit the mask */
  repo_t *repo = NULL;
  int rc = repo_open(argv[1], "gateway_server", NULL, &repo);
  if (rc) {
    fprintf(stderr, "gateway_server: %s\n", err_msg(rc));
    return 1;
  }
  gateway_t *gw = NULL;
  http_server_t *srv = NULL;
  rc = gateway_new(repo, &gw);
  http_server_opts_t so = {0};
  if (!rc) rc = http_server_new(&so, &srv);
  http_listener_opts_t lo = {
      .name = "gateway",
      .address = "127.0.0.1:0",
      .handler = gateway_handle,
      .inline_fn = gateway_inline,
      .ctx = gw,
      .limits = {.header_bytes_max = 16384, .body_bytes_max = 1 << 20, .connections_max = 4096,
                 .idle_timeout_ms = 60000, .request_timeout_ms = 10000},
  };
  if (!rc) rc = http_server_listen(srv, &lo);
  if (!rc) rc = http_server_start(srv);
  if (rc) {
    fprintf(stderr, "gateway_server: %s\n", err_msg(rc));
    http_server_free(srv);
    gateway_free(gw);
    repo_close(repo);
    return 1;
  }
  printf("port %u\n", (unsigned)http_server_port(srv, "gateway"));
  fflush(stdout);
  int sig;
  sigwait(&set, &sig);
  http_server_free(srv);
  gateway_free(gw);
  repo_close(repo);
  return 0;
}
