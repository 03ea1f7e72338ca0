/*
 * rpc_server: the RPC listener alone, for the RPC tests until anyad serves
 * it.  Opens the repository (holding its lock, as anyad does) and its DWN
 * engine, serves
 * net/rpc.c on ADDR (port 0: a free one), writes <repo>/api and prints the
 * port on stdout, and stops on SIGTERM/SIGINT (removing the api file).
 *
 *   rpc_server REPO ADDR [TOKEN]
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dwn_repo.h"
#include "err.h"
#include "http.h"
#include "repo.h"
#include "rpc.h"

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: rpc_server REPO ADDR [TOKEN]\n");
    return 2;
  }
  repo_t *repo;
  int rc = repo_open(argv[1], "rpc_server", NULL, &repo);
  if (rc) {
    fprintf(stderr, "rpc_server: %s\n", err_msg(rc));
    return 1;
  }
  dwn_t *dwn = NULL;
  if ((rc = dwn_open_repo(repo, &dwn))) {
    fprintf(stderr, "rpc_server: %s\n", err_msg(rc));
    repo_close(repo);
    return 1;
  }
  rpc_opts_t ro = {.repo = repo, .dwn = dwn, .token = argc > 3 ? argv[3] : NULL};
  rpc_t *rpc = NULL;
  http_server_t *srv = NULL;
  http_server_opts_t so = {0};
  http_listener_opts_t lo = {.name = "rpc", .address = argv[2], .handler = rpc_handle,
                             .limits = {.header_bytes_max = 65536, .body_bytes_max = 1u << 20,
                                        .connections_max = 256, .idle_timeout_ms = 60000,
                                        .request_timeout_ms = 10000}};
  rc = rpc_new(&ro, &rpc);
  lo.ctx = rpc;
  if (!rc) rc = http_server_new(&so, &srv);
  if (!rc) rc = http_server_listen(srv, &lo);
  if (!rc) rc = http_server_start(srv);
  char api[REPO_PATH_BYTES_MAX + 8];
  snprintf(api, sizeof api, "%s/api", argv[1]);
  if (!rc) {
    uint16_t port = http_server_port(srv, "rpc");
    FILE *f = fopen(api, "w");
    if (f) fprintf(f, "http://127.0.0.1:%u\n", port), fclose(f);
    printf("%u\n", port);
    fflush(stdout);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM), sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sig;
    sigwait(&set, &sig);
    unlink(api);
  } else {
    fprintf(stderr, "rpc_server: %s\n", err_msg(rc));
  }
  http_server_free(srv);
  rpc_free(rpc);
  dwn_close(dwn);
  int crc = repo_close(repo);
  return rc || crc ? 1 : 0;
}
