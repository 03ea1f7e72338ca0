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
 * gateway, one line from the CLI).  With no peer connected and no DHT the
 * miss stays -ENOENT at once (a node alone does not wait for nobody).
 *
 * The module has two layers:
 *
 *   bitswap_msg.c   the message codec (over protoc-c's "bitswap.pb-c.h") and
 *                   the server's per-peer ledger rules: pure functions, no
 *                   threads, no host (unit tests and the fuzz target).
 *   bitswap.c       the engine on the host (p2p.h).
 *
 * Wire (a message is varint-length-prefixed on a stream, several may follow):
 *   Message { Wantlist wantlist = 1; repeated bytes blocks = 2 (1.0.0);
 *             repeated Block payload = 3 (1.1.0+); repeated BlockPresence
 *             blockPresences = 4 (1.2.0); int32 pendingBytes = 5; }
 *   Block { bytes prefix = 1; bytes data = 2; }  prefix = varint(version)
 *           varint(codec) varint(hash code) varint(digest length) (cid.h's
 *           cid_prefix_bytes); the receiver rebuilds the CID by hashing data,
 *           so a block's CID always matches its bytes and a corrupt block
 *           shows up as one nobody asked for.
 *
 * Server (boxo engine's behaviour): the remote's wants live in its ledger
 * (at most BITSWAP_LEDGER_ENTRIES_MAX; full=true replaces it, cancel removes
 * an entry, a repeated want updates it, a want-block is never downgraded to
 * a want-have).  A want-block for a held block gets the block; a want-have
 * gets HAVE, except blocks of at most BITSWAP_HAVE_INLINE_BYTES_MAX, sent
 * whole; a block not held gets DONT_HAVE when sendDontHave is set and the
 * want stays in the ledger: the block is sent when this node gets it later.
 * Answered wants leave the ledger.  Replies go on one outbound stream per
 * peer that we open and reuse (also carrying our own wants).  Workers
 * (BITSWAP_WORKERS) take peers with work round-robin, one message at a time
 * per peer: a message gathers answers until BITSWAP_MESSAGE_TARGET_BYTES
 * and holds at most BITSWAP_MESSAGE_BLOCK_BYTES_MAX of blocks (one bigger
 * block travels alone), so each peer has at most one message outstanding
 * and a slow peer never holds a worker from the others for long.
 *
 * Client: every wanted block is a want in one table (at most
 * BITSWAP_WANTS_MAX) with the waiters of bitswap_get on it.  A new want goes
 * as want-block to the peer that served us best recently (fewest blocks in
 * flight among those that sent us blocks) and as want-have+sendDontHave to
 * the other connected peers; a HAVE is answered with a want-block when no
 * peer has one in flight; a want-block unanswered for stall_ms re-routes
 * to another peer that said HAVE (else asks everyone again).  Peers that
 * connect later get the whole wantlist.  When no peer says HAVE within
 * BITSWAP_PROVIDER_DELAY_MS (or none is connected) and a DHT is set, a
 * lookup (kad_find_providers) connects to the providers it finds.  A
 * received block is taken only when some want (or a recently cancelled
 * one) names its CID: then it is stored (bs_put) and every peer we asked is
 * sent a cancel.  Any other block scores its sender down
 * (BITSWAP_PENALTY_BAD_BLOCK) and is dropped.
 *
 * Prefetch: a fetched dag-pb block that is a UnixFS file node has its
 * links wanted too, at most BITSWAP_PREFETCH_WINDOW at once (the rest wait
 * in a FIFO of BITSWAP_PREFETCH_QUEUE_MAX), recursively, so a reader of a
 * large file finds the next blocks already stored instead of paying a round
 * trip per block.  Directories are not prefetched.
 *
 * Threads: every function is thread-safe.  bitswap_new starts the workers
 * and one manager thread (stalls, timeouts, prefetch, DHT lookups); inbound
 * streams run on the host's handler threads.  No lock is held across the
 * network, the DHT or the block store.
 */
#ifndef ANYA_NET_BITSWAP_H
#define ANYA_NET_BITSWAP_H

#include <stdbool.h>
#include <stdint.h>

#include "block.h"
#include "bs.h"
#include "buf.h"
#include "cid.h"
#include "kad.h"
#include "p2p.h"

#define BITSWAP_PROTOCOL_120 "/ipfs/bitswap/1.2.0"
#define BITSWAP_PROTOCOL_110 "/ipfs/bitswap/1.1.0"
#define BITSWAP_PROTOCOL_100 "/ipfs/bitswap/1.0.0"
#define BITSWAP_PROTOCOL_LEGACY "/ipfs/bitswap" /* = 1.0.0 */

/* ---- limits (one place) ---- */
#define BITSWAP_MESSAGE_BYTES_MAX (4u * 1024 * 1024)  /* a message, read or written */
#define BITSWAP_BLOCK_BYTES_MAX BLOCK_BYTES_MAX       /* a block (2 MiB) */
#define BITSWAP_MESSAGE_ITEMS_MAX 16384               /* entries + blocks + presences decoded from one message */
#define BITSWAP_LEDGER_ENTRIES_MAX 1024               /* a peer's wants kept by the server */
#define BITSWAP_HAVE_INLINE_BYTES_MAX 1024            /* want-have of a block this small gets the block */
#define BITSWAP_MESSAGE_TARGET_BYTES (16u * 1024)     /* a reply is sent once it reaches this */
#define BITSWAP_MESSAGE_BLOCK_BYTES_MAX (1024u * 1024) /* block bytes in one reply (a bigger block goes alone) */
#define BITSWAP_SEND_ENTRIES_MAX 1024                 /* our want entries in one message */
#define BITSWAP_PEER_QUEUE_MAX 8192                   /* our want entries queued for one peer */
#define BITSWAP_PEERS_MAX 1024                        /* peers tracked (ledgers, queues) */
#define BITSWAP_WANTS_MAX 4096                        /* blocks wanted at once (client) */
#define BITSWAP_PREFETCH_WINDOW 64                    /* prefetch wants in flight */
#define BITSWAP_PREFETCH_QUEUE_MAX 8192               /* prefetch CIDs waiting for the window */
#define BITSWAP_RECENT_MAX 4096                       /* cancelled wants whose late blocks are still taken */
#define BITSWAP_WORKERS 4                             /* sender threads */
#define BITSWAP_STALL_MS_DEFAULT 3000                 /* want-block unanswered this long: re-route */
#define BITSWAP_PROVIDER_DELAY_MS 1000                /* no HAVE this long: ask the DHT */
#define BITSWAP_PROVIDERS_MAX 8                       /* providers connected per lookup */
#define BITSWAP_WRITE_TIMEOUT_MS 30000                /* one message written to a peer */
#define BITSWAP_OPEN_TIMEOUT_MS 10000                 /* opening our stream to a peer */
#define BITSWAP_PENALTY_BAD_BLOCK 25                  /* p2p_peer_penalize for a block nobody wanted */
#define BITSWAP_PENALTY_BAD_MESSAGE 10                /* an undecodable message */

/* ---- messages (bitswap_msg.c) ---- */

typedef enum bitswap_version {
  BITSWAP_V100 = 0, /* 1.0.0 and /ipfs/bitswap: blocks as bare bytes (CIDv0), want-block only */
  BITSWAP_V110 = 1, /* payload with prefixes, want-block only */
  BITSWAP_V120 = 2, /* want-have, block presences, sendDontHave */
} bitswap_version_t;

/* The version of a protocol id (BITSWAP_PROTOCOL_*); -EPROTONOSUPPORT. */
int bitswap_version_of(const char *protocol, bitswap_version_t *out);

typedef struct bitswap_entry {
  cid_t cid;            /* the block wanted (Entry.block, a binary CID) */
  int32_t priority;     /* higher first */
  bool cancel;          /* remove this want */
  bool want_have;       /* WantType Have (else Block) */
  bool send_dont_have;  /* answer DONT_HAVE when not held */
} bitswap_entry_t;

typedef struct bitswap_block {
  cid_t cid;            /* decode: rebuilt from the prefix and the hash of data */
  const uint8_t *data;  /* borrowed: decode points into the message's protobuf */
  size_t len;           /* bytes, <= BITSWAP_BLOCK_BYTES_MAX */
} bitswap_block_t;

typedef struct bitswap_presence {
  cid_t cid;
  bool have;            /* HAVE, else DONT_HAVE */
} bitswap_presence_t;

typedef struct bitswap_msg {
  bool has_wantlist;            /* a Wantlist was present */
  bool full;                    /* Wantlist.full: replaces the ledger */
  bitswap_entry_t *entries;     /* decode: heap, owned by the message */
  size_t entries_len;
  bitswap_block_t *blocks;
  size_t blocks_len;
  bitswap_presence_t *presences;
  size_t presences_len;
  int32_t pending_bytes;        /* pendingBytes (informational) */
  size_t bad_entries;           /* decode: entries/presences skipped (malformed CID) */
  size_t bad_blocks;            /* decode: blocks skipped (bad prefix, unknown hash, over the size limit) */
  void *pb;                     /* decode: the unpacked protobuf blocks point into */
  struct bitswap_arena *arena;  /* decode_arena: where pb lives */
} bitswap_msg_t;

/* Memory for decoded messages that a reader reuses from one message to the
 * next, so a stream of large messages does not map, fault in and unmap a
 * fresh region per block (glibc serves allocations over 128 KiB with mmap).
 * Zero-initialise; bitswap_arena_free releases.  One message at a time: the
 * previous message must be freed before the next decode. */
typedef struct bitswap_arena {
  uint8_t *data;          /* heap, cap bytes */
  size_t cap, used;       /* bytes allocated / handed out for the current message */
  void **extra;           /* allocations that did not fit (freed at the next reset) */
  size_t extra_len, extra_cap;
  bool busy;              /* a decoded message uses it */
} bitswap_arena_t;
void bitswap_arena_free(bitswap_arena_t *a);

/* Decodes one message (without its length prefix).  Items that cannot be
 * used are skipped and counted (bad_entries, bad_blocks), the rest kept.
 * 0, -EMSGSIZE over BITSWAP_MESSAGE_BYTES_MAX or BITSWAP_MESSAGE_ITEMS_MAX
 * items, -EBADMSG not a Bitswap protobuf, -ENOMEM.  *out owns memory on
 * success only (bitswap_msg_free). */
int bitswap_msg_decode(const uint8_t *in, size_t len, bitswap_msg_t *out);
/* The same with the protobuf's memory from arena (reused; see above). */
int bitswap_msg_decode_arena(const uint8_t *in, size_t len, bitswap_msg_t *out, bitswap_arena_t *arena);
/* Frees what decode allocated (no-op for a caller-built message's arrays: it
 * frees only when pb is set); the message is zeroed. */
void bitswap_msg_free(bitswap_msg_t *m);
/* Appends the encoding of m for a peer speaking version v to out (no length
 * prefix).  Below 1.2.0 presences are left out and want-have entries become
 * want-block without sendDontHave; 1.0.0 carries blocks as bare bytes.
 * 0, -EMSGSIZE past BITSWAP_MESSAGE_BYTES_MAX, -EINVAL a block over the
 * limit, -ENOMEM.  Nothing is appended on error. */
int bitswap_msg_encode(const bitswap_msg_t *m, bitswap_version_t v, buf_t *out);

/* The CID of a block from a Bitswap prefix and the block's bytes (hashed
 * here: sha2-256 or identity).  0, -EINVAL malformed prefix (or a v0 prefix
 * other than dag-pb sha2-256/32), -ENOTSUP a hash function not computed
 * here, -E2BIG identity data too long. */
int bitswap_cid_from_prefix(const uint8_t *prefix, size_t prefix_len, const uint8_t *data, size_t len,
                            cid_t *out);

/* ---- the server's ledger of one peer's wants (bitswap_msg.c) ---- */

typedef struct bitswap_want {
  cid_t cid;
  int32_t priority;
  bool want_have;       /* Have (else Block) */
  bool send_dont_have;
  bool pending;         /* not answered since it (re)arrived or the block came in */
  uint64_t seq;         /* arrival order (ties of priority) */
} bitswap_want_t;

typedef struct bitswap_ledger {
  bitswap_want_t *wants;  /* heap, arrival order */
  size_t len;             /* <= BITSWAP_LEDGER_ENTRIES_MAX */
  size_t cap;
  size_t pending;         /* wants with pending set */
  uint64_t next_seq;
  uint64_t refused;       /* entries refused because the ledger was full (counter) */
} bitswap_ledger_t;

/* Applies the wantlist of m: full replaces, cancel removes, a want is added
 * or updated (and made pending).  Entries past the cap are refused
 * (counted).  0 or -ENOMEM (the ledger stays consistent). */
int bitswap_ledger_apply(bitswap_ledger_t *l, const bitswap_msg_t *m);
/* Copies up to cap pending wants, highest priority first then oldest, into
 * out and clears their pending flag.  Returns how many. */
size_t bitswap_ledger_take(bitswap_ledger_t *l, bitswap_want_t *out, size_t cap);
/* Marks the wants of cid pending again (a want taken but not answered, or
 * a block that just arrived; matched by multihash).  Returns how many. */
size_t bitswap_ledger_requeue(bitswap_ledger_t *l, const cid_t *cid);
/* Removes the want of cid (answered).  0 or -ENOENT. */
int bitswap_ledger_remove(bitswap_ledger_t *l, const cid_t *cid);
/* Index of the want of cid (exact CID), or -ENOENT. */
int bitswap_ledger_find(const bitswap_ledger_t *l, const cid_t *cid);
void bitswap_ledger_free(bitswap_ledger_t *l);

/* ---- the engine (bitswap.c) ---- */

typedef struct bitswap bitswap_t;

typedef struct bitswap_opts {
  p2p_t *host;                /* borrowed */
  bs_t *bs;                   /* borrowed: served from, fetched into */
  kad_t *kad;                 /* borrowed, may be NULL: providers from the DHT */
  uint32_t fetch_timeout_ms;  /* network.fetch_timeout: the fetcher's wait (0 = 60000) */
  uint32_t stall_ms;          /* a want-block unanswered this long re-routes (0 = BITSWAP_STALL_MS_DEFAULT) */
  bool no_fetcher;            /* do not install the block engine's fetcher (tests) */
  bool no_prefetch;           /* do not want a file node's links (tests) */
} bitswap_opts_t;

/* Before p2p_start: registers the protocols and the fetcher. */
int bitswap_new(const bitswap_opts_t *opts, bitswap_t **out);
/* Removes the fetcher, waits for fetches in progress (they fail
 * -ECANCELED), resets the inbound streams being handled and waits for their
 * handlers, closes our streams, stops the threads.  NULL ok.  Call it before
 * p2p_free (it frees streams of the host); a bitswap stream that arrives
 * after it is reset (the handler's ctx is an instance id, not a pointer). */
void bitswap_free(bitswap_t *b);
/* One block from the network, verified and stored (already stored: read
 * locally).  -ETIMEDOUT after timeout_ms (0 = fetch_timeout_ms), -ENOENT
 * at once when no peer is connected and no DHT is set, -ECANCELED when
 * bitswap_free runs, -ENOMEM/-EBUSY past BITSWAP_WANTS_MAX. */
int bitswap_get(bitswap_t *b, const cid_t *cid, buf_t *out, uint32_t timeout_ms);

typedef struct bitswap_stats {
  uint64_t blocks_received;   /* verified blocks stored from the network */
  uint64_t blocks_duplicate;  /* wanted blocks that arrived again (already stored) */
  uint64_t blocks_rejected;   /* blocks nobody wanted, or bad (sender scored down) */
  uint64_t blocks_sent;       /* blocks served */
  uint64_t bytes_received;    /* block bytes stored from the network */
  uint64_t bytes_sent;        /* block bytes served */
  uint64_t haves_sent, dont_haves_sent;
  uint64_t messages_received, messages_sent;
  uint64_t stalls;            /* want-blocks re-routed after stall_ms */
  uint64_t provider_lookups;  /* DHT lookups started */
  uint64_t wants;             /* wants in the table now */
  uint64_t peers;             /* peers tracked now */
} bitswap_stats_t;
void bitswap_stats(bitswap_t *b, bitswap_stats_t *out);

#endif
