/*
 * gateway: the IPFS HTTP gateway listener (`--gateway`, default
 * 127.0.0.1:8080), over the block engine of the repository.
 *
 *   GET|HEAD /ipfs/<cid>[/path]   path gateway: UnixFS files (Content-Type by
 *                                 name and magic bytes, Range, ETag,
 *                                 If-None-Match, immutable caching),
 *                                 directories (301 to the slash form,
 *                                 index.html, else an HTML listing), raw and
 *                                 dag-pb blocks
 *   ?format=raw|car, Accept: application/vnd.ipld.raw|car
 *                                 trustless responses (dag-scope, order=dfs,
 *                                 dups=n, entity-bytes)
 *   /ipns/<name>[/path]           the name resolved (ipns.h, on a worker), then served
 *                                 as the /ipfs/ path it names; X-Ipfs-Path keeps
 *                                 the /ipns/ path; Cache-Control max-age=60; an
 *                                 unknown name 404, a bad one 400, the DHT too
 *                                 slow 504 (JSON bodies)
 *   <cidv1>.ipfs.<host>, <name>.ipns.<host>  subdomain requests (Host header)
 * Bad CID or path: 400 with a plain explanation; content not in the store:
 * 404 (the network issue adds fetching).  Follows the IPFS HTTP gateway
 * specifications (ipfs-reference.md §16-17).
 *
 * /health and /metrics are the server's (net/server.c), not this module's.
 *
 * gateway_inline answers on the event loop what is quick (errors, redirects,
 * files whose answer is at most 64 KiB, bodies of up to 1 MiB already in the
 * gateway's bounded body cache) and returns false for the rest (CAR streams,
 * listings, large files), which gateway_handle then serves on a worker.
 * Both are thread-safe.  Full description: docs/gateway.md.
 */
#ifndef ANYA_NET_GATEWAY_H
#define ANYA_NET_GATEWAY_H

#include <stdbool.h>

#include "http.h"
#include "ipns.h"
#include "repo.h"

typedef struct gateway gateway_t;

/* repo is borrowed and must outlive the gateway. */
int gateway_new(repo_t *repo, gateway_t **out);
void gateway_free(gateway_t *gw);
/* The resolver of /ipns/ names (borrowed; before the listener serves).
 * Without one, /ipns/ answers 404. */
void gateway_set_ipns(gateway_t *gw, ipns_t *ipns);
/* The listener's handlers (ctx = the gateway_t). */
void gateway_handle(http_req_t *req, void *ctx);
bool gateway_inline(http_req_t *req, void *ctx);

#endif
