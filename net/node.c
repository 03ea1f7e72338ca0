/*
 * node: anyad's IPFS peer (node.h).  The host (p2p.h) with identify,
 * ping and the DHT (kad.h); Bitswap joins at the marked places: their
 * constructors register protocols and peer events, so they run between
 * p2p_new and p2p_start, and their background work starts after it.
 */
#include "node.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "ipns.h"
#include "kad.h"
#include "log.h"
#include "rpc.h"

#define MOD "node"
#define NODE_BOOTSTRAP_MAX 64 /* network.bootstrap_peers entries used */

/* The DHT: <repo>/dht, server unless network.dht_mode is "client" ("auto"
 * is server: we run no AutoNAT to learn reachability, and an appliance is
 * meant to be reachable), bootstrap_peers (unparsable entries skipped with a
 * log line; undialable ones, /dnsaddr/, are kad's to skip), the pins as the
 * reprovide source, and the "ipns" validator beside kad's own "pk". */
static int kad_up(node_t *n) {
  const config_t *cfg = n->repo->config;
  const char *const *boot;
  size_t count = config_strings(cfg, "network.bootstrap_peers", &boot), used = 0;
  if (count > NODE_BOOTSTRAP_MAX) {
    log_warn(MOD, "network.bootstrap_peers: using the first %d of %zu", NODE_BOOTSTRAP_MAX, count);
    count = NODE_BOOTSTRAP_MAX;
  }
  multiaddr_t *addrs = calloc(count ? count : 1, sizeof *addrs);
  if (!addrs) return err_set(-ENOMEM, "out of memory");
  for (size_t i = 0; i < count; i++) {
    if (ma_parse(boot[i], &addrs[used]) == 0) used++;
    else log_warn(MOD, "network.bootstrap_peers: %s is not a multiaddr; skipped", boot[i]);
  }
  char path[REPO_PATH_BYTES_MAX + 8];
  snprintf(path, sizeof path, "%s/dht", n->repo->path);
  kad_opts_t o = {
      .host = n->host,
      .store_path = path,
      .server = strcmp(config_string(cfg, "network.dht_mode"), "client") != 0,
      .bootstrap = addrs,
      .bootstrap_count = used,
      .reprovide_source = kad_pins_source,
      .reprovide_ctx = n->repo->pins,
  };
  int rc = kad_new(&o, &n->kad);
  free(addrs);
  if (!rc) rc = kad_add_validator(n->kad, &ipns_kad_validator);
  return rc;
}

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
   * the DHT first (Bitswap asks it for providers). */
  if (!rc) rc = kad_up(n);
  if (!rc) {
    bitswap_opts_t bo = {.host = n->host, .bs = repo->bs, .kad = n->kad,
                         .fetch_timeout_ms = (uint32_t)config_duration_ms(cfg, "network.fetch_timeout")};
    rc = bitswap_new(&bo, &n->bitswap);
  }
  if (!rc) rc = p2p_start(n->host);
  /* ---- after p2p_start: background work ---- */
  if (!rc) rc = kad_start(n->kad);
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
  kad_stop(n->kad);
  bitswap_free(n->bitswap); /* before the host: it frees streams of the host */
  p2p_free(n->host);
  kad_free(n->kad);
  free(n);
}
