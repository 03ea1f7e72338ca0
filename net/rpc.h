/*
 * rpc: the Kubo RPC subset under /api/v0/ (`--rpc`, default 127.0.0.1:5001),
 * POST only like Kubo (anything else 405), answers in Kubo's JSON shapes so
 * that kubo-rpc-client works unchanged.  docs/rpc.md lists each command's
 * arguments and answers, and the differences from Kubo.
 *
 *   add (multipart, streaming; cid-version, raw-leaves, chunker, pin,
 *   wrap-with-directory, progress, only-hash, trickle, hash=sha2-256), cat
 *   (offset, length), get (tar), ls, block get|put|stat|rm, pin
 *   add|rm|ls|verify, repo stat|gc, id, version, dag export|import (CAR),
 *   name publish|resolve (IPNS, ipns.h), swarm connect|peers, ping,
 *   routing provide|findprovs|findpeer (the DHT, kad.h), and anya's dwn/process.
 *
 * Answers: one JSON object and a newline, or a stream of them (one a line);
 * byte answers (cat, get, block get, dag export) declare their Content-Length first, so
 * a failure half-way cuts the body short of it.
 *
 * Errors: Kubo's shape, {"Message": "...", "Code": 0, "Type": "error"}:
 * 400 (Code 1) for bad arguments or a body that is not multipart, 500 for
 * failures, 404 for an unknown command, 405 for a method other than POST,
 * 413 for a body past the limit; in a stream already started, the same
 * object as its last line.
 *
 * Auth: with a token set, every request needs "Authorization: Bearer
 * <token>" (401 otherwise); net/server.c refuses to start an RPC listener off
 * loopback without a token.
 *
 * Threads: rpc_handle runs on the HTTP workers, any number at once (the
 * engine is thread-safe); `repo gc` runs one at a time.
 *
 * /health and /metrics are the server's (net/server.c), not this module's.
 */
#ifndef ANYA_NET_RPC_H
#define ANYA_NET_RPC_H

#include "dwn/dwn.h"
#include "gc.h"
#include "http.h"
#include "node.h"
#include "ipns.h"
#include "repo.h"

#define RPC_VERSION "0.1.0"  /* the agent's version (anya's ANYA_VERSION) */

typedef struct rpc rpc_t;

typedef struct rpc_opts {
  repo_t *repo;      /* borrowed */
  dwn_t *dwn;        /* borrowed; may be NULL */
  const char *token; /* required bearer token, or NULL/"" for none */
  /* `repo gc` roots of the writable tree when the daemon has it open
   * (fsmeta_gc_roots over its fsmeta); NULL: rpc opens <repo>/files itself
   * when it exists (and refuses to collect if it cannot). */
  gc_root_fn files_roots;
  void *files_ctx;
  node_t *node;      /* borrowed; NULL when libp2p is off (id has no addresses, swarm fails) */
  ipns_t *ipns;      /* borrowed; name/publish and name/resolve; NULL: they answer 500 */
} rpc_opts_t;

int rpc_new(const rpc_opts_t *opts, rpc_t **out);
void rpc_free(rpc_t *rpc);
/* The listener's handler (ctx = the rpc_t). */
void rpc_handle(http_req_t *req, void *ctx);

#endif
