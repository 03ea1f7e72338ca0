/*
 * bitswap: block exchange (/ipfs/bitswap/1.2.0, 1.1.0, 1.0.0, /ipfs/bitswap;
 * ipfs/specs bitswap-protocol).  Server: per-peer ledgers of wants, answered
 * from the block store with fairness limits.  Client: sessions that spread
 * want-have/want-block over several peers, re-route when one stalls, and
 * verify every block against its CID before storing or returning it (a
 * wrong block scores its sender down, p2p_peer_penalize).
 *
 * Fetch on miss: bitswap_new installs itself as the block engine's fetcher
 * (bs_set_fetcher), so every block_source from bs_source (the mount's ipfs/,
 * the gateway, the RPC's cat/get/ls/...) asks the network for a block the
 * store lacks: connected peers first, then providers from the DHT, until
 * network.fetch_timeout (-ETIMEDOUT: EIO/ETIMEDOUT on the mount, 504 at the
 * gateway, one line from the CLI).
 *
 * (Contract of the cross-module API; the helper that builds bitswap.c
 * completes this header.)
 */
#ifndef ANYA_NET_BITSWAP_H
#define ANYA_NET_BITSWAP_H

#include <stdint.h>

#include "bs.h"
#include "buf.h"
#include "cid.h"
#include "kad.h"
#include "p2p.h"

#define BITSWAP_PROTOCOL_120 "/ipfs/bitswap/1.2.0"

typedef struct bitswap bitswap_t;

typedef struct bitswap_opts {
  p2p_t *host;                /* borrowed */
  bs_t *bs;                   /* borrowed: served from, fetched into */
  kad_t *kad;                 /* borrowed, may be NULL: providers from the DHT */
  uint32_t fetch_timeout_ms;  /* network.fetch_timeout */
} bitswap_opts_t;

/* Before p2p_start: registers the protocols and the fetcher. */
int bitswap_new(const bitswap_opts_t *opts, bitswap_t **out);
void bitswap_free(bitswap_t *b);
/* One block from the network, verified and stored.  -ETIMEDOUT. */
int bitswap_get(bitswap_t *b, const cid_t *cid, buf_t *out, uint32_t timeout_ms);

#endif
