/*
 * node: anyad's IPFS peer, composed from the host (p2p.h), the DHT (kad.h),
 * Bitswap (bitswap.h) and IPNS (ipns.h), configured from [network]
 * (p2p, bootstrap_peers, max_connections, dht_mode, fetch_timeout) and the
 * repo's key.  net_start creates it when the p2p listener is not "off", and
 * hands it to the RPC (id, swarm, routing, name) and the gateway (/ipns/).
 */
#ifndef ANYA_NET_NODE_H
#define ANYA_NET_NODE_H

#include "bitswap.h"
#include "kad.h"
#include "p2p.h"
#include "repo.h"

typedef struct node {
  repo_t *repo;        /* borrowed */
  peer_key_t key;      /* the repo's identity */
  p2p_t *host;
  kad_t *kad;
  bitswap_t *bitswap;
} node_t;

/* p2p_addr: the listen multiaddr, NULL = network.p2p; "off" gives -ENOENT
 * (no node).  Starts everything; failures name the cause (err_set). */
int node_start(repo_t *repo, const char *p2p_addr, node_t **out);
void node_stop(node_t *n);

#endif
