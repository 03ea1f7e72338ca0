/*
 * server: anyad's HTTP listeners.  One http_server_t (http.h) carries the
 * DWN (dwn_http.h), gateway (gateway.h) and RPC (rpc.h) listeners that the
 * configuration and flags enable, and answers on each of them:
 *
 *   GET /health   JSON {"ok": bool, "checks": {name: {"ok": bool, "detail": "..."}}}
 *                 (storage backend, DHT, gateway, pinning services, key);
 *                 503 when a required check fails
 *   GET /metrics  the Prometheus registry (metrics_default()), when
 *                 monitoring.metrics is on
 *
 * While it runs, <repo>/api holds the RPC listener's base URL
 * ("http://127.0.0.1:5001\n") so `anya` commands go through it; removed at
 * stop.  An RPC listener off loopback without security.rpc_token is refused.
 *
 * Unless p2p is "off", net_start also starts the IPFS node (node.h) first,
 * logs "listening listener=p2p address=<multiaddr>/p2p/<id>" once, and hands
 * the node to the RPC (id, swarm).
 */
#ifndef ANYA_NET_SERVER_H
#define ANYA_NET_SERVER_H

#include "dwn/dwn.h"
#include "gc.h"
#include "node.h"
#include "ipns.h"
#include "repo.h"

#define NET_API_FILE "api"

typedef struct net net_t;

typedef struct net_opts {
  repo_t *repo;             /* borrowed; its config gives limits and defaults */
  dwn_t *dwn;               /* borrowed; NULL: no DWN listener */
  const char *dwn_addr;     /* "HOST:PORT" or "off"; NULL = network.dwn */
  const char *gateway_addr; /* NULL = network.gateway */
  const char *rpc_addr;     /* NULL = network.rpc */
  const char *p2p_addr;     /* libp2p listen multiaddr or "off"; NULL = network.p2p */
  gc_root_fn files_roots;   /* the mounted files/ tree's GC roots for the RPC's repo gc (rpc.h); may be NULL */
  void *files_ctx;
  const ipns_routing_t *ipns_routing; /* where IPNS records go (copied); NULL: the node's DHT, or our own records only with p2p off */
} net_opts_t;

/* Binds every enabled listener and starts serving. */
int net_start(const net_opts_t *opts, net_t **out);
/* The IPNS resolver and publisher the listeners use (the daemon gives it
 * to the mount's ipns/); valid until net_stop. */
ipns_t *net_ipns(net_t *n);
/* Stops serving, removes <repo>/api, frees.  NULL is a no-op. */
void net_stop(net_t *n);
/* The node, or NULL when p2p is off. */
node_t *net_node(net_t *n);

#endif
