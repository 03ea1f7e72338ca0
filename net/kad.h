/*
 * kad: the Kademlia DHT (/ipfs/kad/1.0.0, libp2p/specs kad-dht), over the
 * host's streams (p2p.h).  k = 20, α = 10, β = 3; XOR distance of sha256
 * of the key bytes.  Server mode registers the protocol (peers then add us
 * to their tables); client mode only asks.  Provider records live in
 * LevelDB (<repo>/dht/), valid 48 h; the reprovider announces every key the
 * reprovide source yields within the interval, batched by keyspace region.
 * Value records (/ipns/, /pk/) are checked by the validator registered for
 * their namespace before they are stored or returned.
 *
 * (Contract of the cross-module API; the helper that builds kad.c completes
 * this header: message limits, routing-table refresh, store layout, figures.)
 */
#ifndef ANYA_NET_KAD_H
#define ANYA_NET_KAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "multiaddr.h"
#include "p2p.h"
#include "peer.h"

#define KAD_PROTOCOL "/ipfs/kad/1.0.0"
#define KAD_K 20
#define KAD_ALPHA 10

typedef struct kad kad_t;

/* Value validation for one key namespace ("ipns" for "/ipns/..."): validate
 * returns 0 when value is acceptable for key; select returns the index of
 * the best of n values (all already valid). */
typedef struct kad_validator {
  const char *namespace_name;
  int (*validate)(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len);
  size_t (*select)(void *ctx, const uint8_t *key, size_t key_len, const buf_t *values, size_t n);
  void *ctx;
} kad_validator_t;

/* The keys to reprovide: calls fn for each multihash (returns nonzero to stop). */
typedef int (*kad_key_fn)(void *ctx, const uint8_t *mh, size_t len);
typedef int (*kad_reprovide_source_fn)(void *ctx, kad_key_fn fn, void *fn_ctx);

typedef struct kad_opts {
  p2p_t *host;                       /* borrowed */
  const char *store_path;            /* LevelDB directory for providers and values */
  bool server;                       /* register /ipfs/kad/1.0.0 and answer */
  const char *protocol;              /* NULL = KAD_PROTOCOL */
  const multiaddr_t *bootstrap;      /* with /p2p/ */
  size_t bootstrap_count;
  uint64_t reprovide_interval_ms;    /* 0 = 22 h */
  kad_reprovide_source_fn reprovide_source; /* NULL: no reprovider */
  void *reprovide_ctx;
} kad_opts_t;

/* Before p2p_start (it registers the handler and a peer-event callback). */
int kad_new(const kad_opts_t *opts, kad_t **out);
/* After p2p_start: bootstrap, periodic refresh, the reprovider. */
int kad_start(kad_t *k);
void kad_free(kad_t *k);
int kad_add_validator(kad_t *k, const kad_validator_t *v);

/* Routing table size, for /health and metrics. */
size_t kad_table_size(kad_t *k);
/* Lookup of peer's addresses (FIND_NODE walk).  -ENOENT not found. */
int kad_find_peer(kad_t *k, const peer_id_t *peer, p2p_peer_info_t *out, uint32_t timeout_ms);
/* Announce that we provide mh (multihash bytes) to the k closest peers; also
 * stores it locally.  Returns the number of peers that took it (≥ 0). */
int kad_provide(kad_t *k, const uint8_t *mh, size_t len, uint32_t timeout_ms);
/* Providers of mh, local store first, then the network: fn per provider
 * (addresses added to the peer store first); fn returns nonzero to stop.
 * Returns how many were reported, or -ETIMEDOUT when none in time. */
typedef int (*kad_provider_fn)(void *ctx, const peer_id_t *peer, const multiaddr_t *addrs, size_t n);
int kad_find_providers(kad_t *k, const uint8_t *mh, size_t len, size_t max, uint32_t timeout_ms,
                       kad_provider_fn fn, void *ctx);
/* PUT_VALUE to the k closest (and locally); returns how many took it. */
int kad_put_value(kad_t *k, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len,
                  uint32_t timeout_ms);
/* The best valid value for key (local and network, β answers or timeout).  -ENOENT. */
int kad_get_value(kad_t *k, const uint8_t *key, size_t key_len, buf_t *out, uint32_t timeout_ms);

#endif
