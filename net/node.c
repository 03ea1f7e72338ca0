/*
 * node: anyad's IPFS peer (node.h).  Today the host (p2p.h) with identify
 * and ping; the DHT, Bitswap and IPNS join at the marked places: their
 * constructors register protocols and peer events, so they run between
 * p2p_new and p2p_start, and their background work starts after it.
 */
#include "node.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "rpc.h"

#define MOD "node"

int node_start(repo_t *repo, const char *p2p_addr, node_t **out) {
  *out = NULL;
  const config_t *cfg = repo->config;
  const char *addr = p2p_addr ? p2p_addr : config_string(cfg, "network.p2p");
  if (!addr || !*addr || strcmp(addr, "off") == 0) return -ENOENT;
  multiaddr_t listen_ma;
  if (ma_parse(addr, &listen_ma) != 0) return err_set(-EINVAL, "p2p listen address %s: not a multiaddr", addr);
  node_t *n = calloc(1, sizeof *n);
  if (!n) return err_set(-ENOMEM, "out of memory");
  n->repo = repo;
  int rc = peer_key_load(repo->path, &n->key);
  if (rc) {
    free(n);
    return rc;
  }
  const char *listen[] = {addr};
  p2p_opts_t o = {
      .key = &n->key,
      .listen = listen,
      .listen_count = 1,
      .agent_version = "anya/" RPC_VERSION,
      .connections_high = (size_t)config_int(cfg, "network.max_connections"),
      /* a node that listens only on a private address (loopback in tests, a LAN)
       * has nothing else to announce */
      .announce_private = ma_is_private(&listen_ma),
  };
  rc = p2p_new(&o, &n->host);
  /* ---- before p2p_start: modules that register protocols and peer events ----
   * kad_new (network.dht_mode, network.bootstrap_peers, <repo>/dht),
   * bitswap_new (repo->bs, network.fetch_timeout), the IPNS validator. */
  if (!rc) {
    bitswap_opts_t bo = {.host = n->host, .bs = repo->bs, .kad = n->kad,
                         .fetch_timeout_ms = (uint32_t)config_duration_ms(cfg, "network.fetch_timeout")};
    rc = bitswap_new(&bo, &n->bitswap);
  }
  if (!rc) rc = p2p_start(n->host);
  /* ---- after p2p_start: background work (kad_start: bootstrap, refresh, reprovide) ---- */
  if (rc) {
    node_stop(n);
    return rc;
  }
  *out = n;
  return 0;
}

void node_stop(node_t *n) {
  if (!n) return;
  /* ---- the modules stop first (their handlers end when the host closes their streams) ----
   * bitswap_free, kad_free: after p2p_free when they only own handler state. */
  bitswap_free(n->bitswap); /* before the host: it frees streams of the host */
  p2p_free(n->host);
  free(n);
}
