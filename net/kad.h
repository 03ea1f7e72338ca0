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
 * Wire (kad_internal.h has the codec): one unsigned-varint-prefixed Message
 * per request, at most 4 MiB (like go); decoded lists keep at most 100 peers
 * and 16 addresses a peer (the rest, and addresses we cannot parse, are
 * dropped); keys ≤ 1 KiB, record values ≤ 64 KiB.  A request opens a stream,
 * writes one message and (except ADD_PROVIDER) reads one reply.  Inbound
 * streams serve requests until the remote closes, 60 s pass without one, or
 * one is malformed (the peer is then scored down).  ADD_PROVIDER takes only
 * the provider records whose peer ID is the sender's.  PUT_VALUE is refused
 * for a namespace without a validator; a stored record is replaced only by
 * one its validator's select prefers.  "pk" is built in: /pk/<mh> must hold
 * the PublicKey protobuf whose peer ID is <mh>.
 *
 * Routing table: 256 buckets by common-prefix length with our hash, k each.
 * Only peers whose identify lists our kad protocol enter (p2p_on_peer); a
 * full bucket replaces its least recently useful member only when that one
 * has not answered usefully for an hour; a peer that fails a request leaves.
 * Refresh every 10 min: a lookup of our own ID and one of a random key in
 * each non-empty bucket up to common-prefix length 15 (like go).
 *
 * Lookups: seeded with the k closest of the table, α worker threads each ask
 * the nearest not-yet-asked peer among the k nearest that have not failed;
 * the lookup ends when those k have all answered (or failed), when its
 * reply hook says so (enough providers, β values, the peer found), or at its
 * timeout.  Each request has at most 10 s.
 *
 * Store (<repo>/dht/, kad_internal.h for the layout): providers keyed by
 * multihash then provider (a prefix scan a multihash), expiring 48 h after
 * their last announcement; values expire after 48 h; a sweep every hour
 * deletes expired records (reads already ignore them).
 *
 * Reprovider: 30 s after kad_start and then every reprovide_interval_ms
 * (22 h), the source's keys (at most 4 Mi a pass) are sorted by sha256 and
 * cut into regions sharing their first p bits, p chosen so that a region
 * holds about k peers of the estimated network (kad_table_estimate); each
 * region costs one lookup (towards its middle key) and each of the region's
 * k closest peers gets all of the region's ADD_PROVIDERs over one stream,
 * 8 peers at a time.  node.c's source: every pinned CID and every block
 * under a recursive pin (pins_reachable, the walk GC marks with).
 *
 * Modes: node.c maps network.dht_mode "server" and "auto" to server mode
 * (auto would need AutoNAT to learn reachability, which we do not run; an
 * appliance is meant to be reachable) and "client" to client mode.
 *
 * Bootstrap: kad_start dials the bootstrap multiaddrs that this node can
 * dial (/ip4|ip6/../tcp/../p2p/..); the others (/dnsaddr/, QUIC) are skipped
 * with one log line.  Then a refresh.
 *
 * Threads: every function is thread-safe.  Lifecycle: kad_new before
 * p2p_start; kad_start after it; kad_stop before p2p_free (it ends the
 * background thread and makes inbound streams close); kad_free after
 * p2p_free (handlers may run until the host is gone).
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
  uint64_t (*clock)(void *ctx);      /* wall clock for record expiry, ms since the epoch; NULL = real (tests) */
  void *clock_ctx;
} kad_opts_t;

/* Before p2p_start (it registers the handler and a peer-event callback).
 * host NULL gives a DHT without network (it only answers messages handed to
 * kad_handle_message, kad_internal.h: the fuzz target and tests). */
int kad_new(const kad_opts_t *opts, kad_t **out);
/* After p2p_start: bootstrap, periodic refresh, the reprovider. */
int kad_start(kad_t *k);
/* Ends the background thread and outbound work; before p2p_free.  NULL ok. */
void kad_stop(kad_t *k);
/* After p2p_free (stops first if needed).  NULL ok. */
void kad_free(kad_t *k);
int kad_add_validator(kad_t *k, const kad_validator_t *v);

/* Routing table size, for /health and metrics. */
size_t kad_table_size(kad_t *k);
/* The routing table's peers (up to cap); returns how many there are. */
int kad_table_peers(kad_t *k, peer_id_t *out, size_t cap);
bool kad_is_server(const kad_t *k);
/* Lookup of peer's addresses (FIND_NODE walk).  -ENOENT not found. */
int kad_find_peer(kad_t *k, const peer_id_t *peer, p2p_peer_info_t *out, uint32_t timeout_ms);
/* Announce that we provide mh (multihash bytes) to the k closest peers; also
 * stores it locally.  Returns the number of peers that took it (≥ 0; 0 with
 * an empty routing table). */
int kad_provide(kad_t *k, const uint8_t *mh, size_t len, uint32_t timeout_ms);
/* The same, telling fn each peer that took it (after all were sent; nonzero stops the telling). */
typedef int (*kad_peer_fn)(void *ctx, const peer_id_t *peer);
int kad_provide_report(kad_t *k, const uint8_t *mh, size_t len, uint32_t timeout_ms, kad_peer_fn fn, void *ctx);
/* Providers of mh, local store first, then the network: fn per provider
 * (addresses added to the peer store first); fn returns nonzero to stop.
 * Returns how many were reported (max 0 = 20): 0 when the lookup ended
 * without any, -ETIMEDOUT when the time ran out without any.  fn runs on the
 * caller's thread for the local store's providers and on one of the lookup's
 * threads for the network's, one call at a time, all before the return. */
typedef int (*kad_provider_fn)(void *ctx, const peer_id_t *peer, const multiaddr_t *addrs, size_t n);
int kad_find_providers(kad_t *k, const uint8_t *mh, size_t len, size_t max, uint32_t timeout_ms,
                       kad_provider_fn fn, void *ctx);
/* PUT_VALUE to the k closest (and locally); returns how many took it. */
int kad_put_value(kad_t *k, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len,
                  uint32_t timeout_ms);
/* One reprovide pass now (the background thread runs the same on its
 * schedule); blocks until done.  -ENOENT without a source. */
typedef struct kad_reprovide_stat {
  uint64_t keys;            /* keys announced */
  uint64_t regions;         /* lookups made */
  uint64_t announcements;   /* (key, peer) records written to peers */
  unsigned prefix_bits;     /* region width used */
  uint64_t elapsed_ms;
} kad_reprovide_stat_t;
int kad_reprovide(kad_t *k, kad_reprovide_stat_t *stat);
/* The best valid value for key (local and network, β answers or timeout).  -ENOENT. */
int kad_get_value(kad_t *k, const uint8_t *key, size_t key_len, buf_t *out, uint32_t timeout_ms);

/* The reprovide source node.c uses (ctx = a pins_t *): every block reachable
 * from a pin (pins_reachable: direct pins' blocks, every block of every
 * recursive pin's DAG).  When that walk fails (a block under a recursive pin
 * is missing or corrupt) it logs why and falls back to the pinned CIDs
 * themselves. */
int kad_pins_source(void *pins, kad_key_fn fn, void *fn_ctx);

#endif
