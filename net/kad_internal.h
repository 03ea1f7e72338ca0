/*
 * kad_internal: the parts of the DHT that need no network, shared by kad.c,
 * the unit tests and the fuzz target.
 *
 *   kad_msg_*     the Message codec over protoc-c's kad.pb-c.h, with limits
 *   kad_table_*   the routing table: 256 buckets by common-prefix length
 *   kad_store_*   provider and value records in LevelDB (<repo>/dht/)
 *   kad_region_*  the reprovider's grouping of keys by keyspace region
 *
 * None of these lock: kad.c serialises access to its table with its mutex;
 * the store is LevelDB's (thread-safe) plus a sweep that may run beside readers.
 */
#ifndef ANYA_NET_KAD_INTERNAL_H
#define ANYA_NET_KAD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "multiaddr.h"
#include "peer.h"

#define KAD_HASH_BYTES 32                      /* sha256: the keyspace */
#define KAD_BUCKETS (KAD_HASH_BYTES * 8)       /* common-prefix lengths 0..255 (256 = self) */
#define KAD_BUCKET_PEERS 20                    /* k */
#define KAD_MSG_BYTES_MAX (4u * 1024 * 1024)   /* a message on the wire, like go */
#define KAD_MSG_PEERS_MAX 100                  /* closer/provider peers decoded per list; more are dropped */
#define KAD_MSG_ADDRS_MAX 16                   /* addresses kept per peer; more (and unparsable ones) dropped */
#define KAD_KEY_BYTES_MAX 1024                 /* a message or record key */
#define KAD_VALUE_BYTES_MAX (64u * 1024)       /* a record value (IPNS records are ≤ 10 KiB) */
#define KAD_TIME_TEXT_BYTES_MAX 64             /* Record.timeReceived */

enum kad_msg_type {
  KAD_PUT_VALUE = 0,
  KAD_GET_VALUE = 1,
  KAD_ADD_PROVIDER = 2,
  KAD_GET_PROVIDERS = 3,
  KAD_FIND_NODE = 4,
  KAD_PING = 5,
};

typedef struct kad_msg_peer {
  peer_id_t id;
  multiaddr_t addrs[KAD_MSG_ADDRS_MAX];
  uint8_t addr_count;
  uint8_t connection;                          /* ConnectionType, 0..3 */
} kad_msg_peer_t;

/* A decoded (or to-be-encoded) Message.  Owns key, record_key,
 * record_value and the two peer arrays; kad_msg_free releases them. */
typedef struct kad_msg {
  enum kad_msg_type type;
  int32_t cluster_level;
  buf_t key;
  bool has_record;
  buf_t record_key;
  buf_t record_value;
  char time_received[KAD_TIME_TEXT_BYTES_MAX]; /* RFC 3339, "" when absent */
  kad_msg_peer_t *closer;                      /* closer_count entries (heap) */
  size_t closer_count;
  kad_msg_peer_t *providers;                   /* provider_count entries (heap) */
  size_t provider_count;
} kad_msg_t;

/* Decodes one message.  Malformed protobuf, an unknown type, a key or value
 * past its limit: -EBADMSG (err_set says which).  Peers with invalid IDs and
 * addresses that do not parse are skipped, lists are cut at their maxima.
 * On failure *out is left empty (nothing to free). */
int kad_msg_decode(const uint8_t *data, size_t len, kad_msg_t *out);
/* Appends the encoding of m to out.  -EMSGSIZE past KAD_MSG_BYTES_MAX. */
int kad_msg_encode(const kad_msg_t *m, buf_t *out);
/* Appends a peer to the closer (providers = false) or provider list. -ENOMEM. */
int kad_msg_add_peer(kad_msg_t *m, bool providers, const peer_id_t *id, const multiaddr_t *addrs, size_t n,
                     uint8_t connection);
void kad_msg_free(kad_msg_t *m);

/* sha256 of key bytes: a point of the keyspace. */
void kad_hash(const uint8_t *key, size_t len, uint8_t out[KAD_HASH_BYTES]);
/* Leading bits a and b share (0..256). */
unsigned kad_cpl(const uint8_t a[KAD_HASH_BYTES], const uint8_t b[KAD_HASH_BYTES]);
/* <0, 0, >0 as a is closer to, as close as, farther from target than b (XOR metric). */
int kad_distance_cmp(const uint8_t target[KAD_HASH_BYTES], const uint8_t a[KAD_HASH_BYTES],
                     const uint8_t b[KAD_HASH_BYTES]);

/* ---- routing table ---------------------------------------------------- */

/* A bucket holds at most k peers.  A full bucket takes a new peer only in
 * place of its least recently useful member, and only when that one has not
 * been useful for KAD_TABLE_USEFUL_GRACE_MS (go's replacement rule, without
 * its pinging); a peer that fails a query is removed by the caller. */
#define KAD_TABLE_USEFUL_GRACE_MS (60u * 60 * 1000)

typedef struct kad_table_entry {
  peer_id_t id;
  uint8_t hash[KAD_HASH_BYTES];
  uint64_t added_ms;         /* monotonic clock */
  uint64_t useful_ms;        /* last answer that helped a lookup (added_ms at first) */
} kad_table_entry_t;

typedef struct kad_table {
  uint8_t self[KAD_HASH_BYTES];
  peer_id_t self_id;
  kad_table_entry_t *buckets[KAD_BUCKETS];     /* each NULL or KAD_BUCKET_PEERS slots */
  uint8_t counts[KAD_BUCKETS];
  size_t size;
} kad_table_t;

void kad_table_init(kad_table_t *t, const peer_id_t *self);
void kad_table_free(kad_table_t *t);
/* 1 added (or replaced the stale member *evicted, when non-NULL and one
 * was), 0 already present (kept), -ENOSPC bucket full of useful peers,
 * -EINVAL self, -ENOMEM. */
int kad_table_add(kad_table_t *t, const peer_id_t *id, uint64_t now_ms, peer_id_t *evicted);
/* 1 removed, 0 absent. */
int kad_table_remove(kad_table_t *t, const peer_id_t *id);
bool kad_table_has(const kad_table_t *t, const peer_id_t *id);
void kad_table_mark_useful(kad_table_t *t, const peer_id_t *id, uint64_t now_ms);
/* Up to n peers closest to target, nearest first; returns how many. */
size_t kad_table_closest(const kad_table_t *t, const uint8_t target[KAD_HASH_BYTES], peer_id_t *out, size_t n);
/* Network size estimated from the first bucket not full: a bucket at cpl b
 * covers 2^-(b+1) of the keyspace. At least size + 1 (ourselves). */
uint64_t kad_table_estimate(const kad_table_t *t);

/* ---- store ------------------------------------------------------------ */

/* LevelDB layout (all integers big-endian):
 *   'p' ‖ u8 len ‖ multihash ‖ provider peer-ID bytes  ->  u64 expires_ms ‖ u8 n ‖ n × (u16 len ‖ multiaddr)
 *   'v' ‖ record key                                   ->  u64 expires_ms ‖ u64 received_ms ‖ value
 * so the providers of a multihash are one prefix scan.  Times are wall clock
 * (ms since the epoch; kad_store_open takes the clock, tests move it).  An
 * expired record is invisible to reads at once and deleted by the sweep. */
#define KAD_PROVIDER_TTL_MS (48ull * 60 * 60 * 1000)
#define KAD_VALUE_TTL_MS (48ull * 60 * 60 * 1000)
#define KAD_STORE_PROVIDERS_MAX 100  /* read per multihash */

typedef struct kad_store kad_store_t;
typedef uint64_t (*kad_clock_fn)(void *ctx);

int kad_store_open(const char *dir, kad_clock_fn clock, void *clock_ctx, kad_store_t **out);
void kad_store_close(kad_store_t *s);
uint64_t kad_store_now_ms(kad_store_t *s);
/* Adds or refreshes (expiry = now + KAD_PROVIDER_TTL_MS) provider for mh. */
int kad_store_add_provider(kad_store_t *s, const uint8_t *mh, size_t mh_len, const peer_id_t *provider,
                           const multiaddr_t *addrs, size_t n);
/* fn per unexpired provider of mh (at most KAD_STORE_PROVIDERS_MAX); nonzero from fn stops
 * and is returned.  Else the count. */
typedef int (*kad_store_provider_fn)(void *ctx, const peer_id_t *provider, const multiaddr_t *addrs, size_t n);
int kad_store_providers(kad_store_t *s, const uint8_t *mh, size_t mh_len, kad_store_provider_fn fn, void *ctx);
/* Stores value under key (replacing what is there; expiry = now + KAD_VALUE_TTL_MS). */
int kad_store_put_value(kad_store_t *s, const uint8_t *key, size_t key_len, const uint8_t *value, size_t len);
/* The unexpired value into out (replaced).  -ENOENT. */
int kad_store_get_value(kad_store_t *s, const uint8_t *key, size_t key_len, buf_t *out);
/* Deletes every expired record; *removed (may be NULL) gets how many. */
int kad_store_sweep(kad_store_t *s, uint64_t *removed);

/* ---- reprovider regions ---------------------------------------------- */

/* A key to reprovide: its place in the keyspace and where its multihash
 * sits in the caller's arena (a buf_t of all the multihashes, 40 + ~34 bytes
 * a key in all). */
typedef struct kad_region_key {
  uint8_t hash[KAD_HASH_BYTES];
  uint32_t mh_offset;                          /* into the arena */
  uint32_t mh_len;
} kad_region_key_t;

/* Prefix bits of a region for a network of n peers: the largest p with
 * n / 2^p ≥ k, so a region holds about k peers (its k closest). */
unsigned kad_region_bits(uint64_t network_size);
/* Sorts keys by hash, then calls fn once per region (keys[start..end) sharing
 * their first `bits` bits), in keyspace order; nonzero from fn stops and is
 * returned. */
typedef int (*kad_region_fn)(void *ctx, const kad_region_key_t *keys, size_t count);
int kad_regions(kad_region_key_t *keys, size_t n, unsigned bits, kad_region_fn fn, void *ctx);

/* ---- serving ----------------------------------------------------------- */

struct kad;
/* The server side of one request from peer `from` (NULL: unknown sender,
 * ADD_PROVIDER then takes nothing): *reply tells whether out holds an answer
 * to send (out is always to be kad_msg_free'd).  -EBADMSG / -EINVAL a request
 * to refuse (err_set says why), -EIO the store. */
int kad_handle_message(struct kad *k, const peer_id_t *from, const kad_msg_t *in, kad_msg_t *out, bool *reply);
/* One routing-table refresh now (what the background thread does every 10 min). */
void kad_refresh(struct kad *k);
/* One request to one peer; reply (may be NULL: nothing read back) to be
 * kad_msg_free'd on success.  A peer that fails leaves the routing table. */
int kad_request(struct kad *k, const peer_id_t *peer, const kad_msg_t *req, kad_msg_t *reply, uint32_t timeout_ms);

#endif
