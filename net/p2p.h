/*
 * p2p: the libp2p host.  TCP listeners and dials on libevent loops (one
 * thread per core, each connection pinned to one loop), every connection
 * upgraded TCP → multistream-select /noise → Noise XX (noise.h) → yamux
 * (inside Noise's extension, else multistream-select /yamux/1.0.0) → yamux
 * streams (yamux.h), each stream opened with multistream-select of an
 * application protocol.  Built in: identify (/ipfs/id/1.0.0, push
 * /ipfs/id/push/1.0.0) run on every new connection, ping (/ipfs/ping/1.0.0),
 * a peer store (addresses, protocols and agent from identify, score), a
 * connection manager (low/high watermarks, per-peer limit) and peer scoring.
 *
 * Protocols are served by handlers registered before p2p_start; each inbound
 * stream runs its handler on a thread of its own (bounded by
 * P2P_HANDLER_THREADS_MAX; past it the stream is reset) with plain blocking
 * reads and writes.  Outbound streams are used the same way from any thread.
 * Streams are bounded queues both ways: a reader that stops reading stops
 * granting yamux window, so the remote stops sending; a writer blocks while
 * the send window is shut (up to its timeout).
 *
 * Errors: a malformed frame at any layer closes that connection (logged with
 * the peer and the reason, the peer scored down), never the daemon.
 *
 * Identify answers carry our signed peer record (net/proto/envelope.proto),
 * from which js-libp2p and go-libp2p keep our addresses.  Limits: see
 * p2p_internal.h (P2P_OUT_BYTES_HIGH, P2P_IDENTIFY_BYTES_MAX, P2P_PEERS_MAX,
 * P2P_KEEPALIVE_MS); streams are bounded by the yamux window.
 *
 * Threads: every function here is thread-safe.  Handlers and event callbacks
 * must not block a loop thread: callbacks (p2p_on_peer) run on the loop and
 * must return quickly.
 */
#ifndef ANYA_NET_P2P_H
#define ANYA_NET_P2P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "multiaddr.h"
#include "peer.h"

#define P2P_IDENTIFY_PROTOCOL "/ipfs/id/1.0.0"
#define P2P_IDENTIFY_PUSH_PROTOCOL "/ipfs/id/push/1.0.0"
#define P2P_PING_PROTOCOL "/ipfs/ping/1.0.0"
#define P2P_PROTOCOL_VERSION "ipfs/0.1.0"
#define P2P_HANDLER_THREADS_MAX 1024  /* inbound streams being handled at once */
#define P2P_MESSAGE_BYTES_MAX (4u * 1024 * 1024) /* a varint-prefixed message (Kad, Bitswap) */
#define P2P_LISTEN_MAX 8
#define P2P_PROTOCOLS_MAX 32
#define P2P_ADDRS_MAX 16              /* addresses kept per peer */

typedef struct p2p p2p_t;
typedef struct p2p_stream p2p_stream_t;

typedef struct p2p_opts {
  const peer_key_t *key;          /* our identity (copied) */
  const char *const *listen;      /* multiaddr texts, "/ip4/127.0.0.1/tcp/0" = any free port */
  size_t listen_count;            /* 0: dial only */
  const char *agent_version;      /* identify's agentVersion, e.g. "anya/0.1.0" */
  size_t threads;                 /* event loops; 0 = the number of cores */
  size_t connections_high;        /* past it, trim down to connections_low (network.max_connections) */
  size_t connections_low;         /* 0 = connections_high * 3 / 4 */
  size_t connections_per_peer_max;/* 0 = 2 */
  uint32_t dial_timeout_ms;       /* 0 = 10000: TCP connect plus the whole upgrade */
  bool announce_private;          /* advertise loopback/private listen addresses in identify (tests) */
} p2p_opts_t;

/* Creates the host and binds its listeners (a taken port fails here with an
 * err_set message naming the address).  Nothing is served until p2p_start. */
int p2p_new(const p2p_opts_t *opts, p2p_t **out);
/* Starts the loops: accepts connections, serves the registered protocols. */
int p2p_start(p2p_t *p);
/* Stops every loop, closes every connection (yamux Go Away), waits for
 * handlers to return (their streams fail with -ECONNRESET), frees.  NULL ok. */
void p2p_free(p2p_t *p);

const peer_key_t *p2p_key(const p2p_t *p);
/* Our listen addresses as bound (port 0 resolved), without /p2p/. */
size_t p2p_listen_addrs(const p2p_t *p, multiaddr_t *out, size_t cap);
/* The addresses we announce (identify, and for Kad's provider records):
 * the listen addresses with wildcards (0.0.0.0, ::) expanded to the
 * interfaces' addresses, private ones only with announce_private; up to
 * cap, returns how many were written. */
size_t p2p_announce_addrs(p2p_t *p, multiaddr_t *out, size_t cap);

/* ---- protocols ---- */

/* Runs fn(stream, ctx) on a thread for each inbound stream that selects
 * protocol (several ids may share a handler).  The handler owns the stream
 * and must p2p_stream_free it.  Before p2p_start only; listed in identify. */
typedef void (*p2p_handler_fn)(p2p_stream_t *s, void *ctx);
int p2p_handle(p2p_t *p, const char *protocol, p2p_handler_fn fn, void *ctx);

/* The protocols served (registered handlers, identify, ping) into out (up
 * to cap, pointers into the host, valid while it lives); returns how many. */
size_t p2p_protocols(const p2p_t *p, const char **out, size_t cap);

/* ---- connections ---- */

/* Dials addr (which may end in /p2p/<id>: the remote must then be that
 * peer) unless already connected to that peer; remote (may be NULL) gets
 * the peer ID.  Returns once the connection is up and our identify of the
 * peer has run (so p2p_peer_info/p2p_peer_supports answer from it).  Blocks
 * up to timeout_ms (0 = the host's dial timeout).  -ETIMEDOUT,
 * -ECONNREFUSED, -EACCES (identity mismatch, or the peer is banned),
 * -EPROTO (the upgrade failed), -ECONNRESET (closed during identify: the
 * remote refused us, or a limit). */
int p2p_connect(p2p_t *p, const multiaddr_t *addr, peer_id_t *remote, uint32_t timeout_ms);
/* Connects to a peer by ID using the peer store's addresses; 0 at once when connected. */
int p2p_connect_peer(p2p_t *p, const peer_id_t *peer, uint32_t timeout_ms);
/* Closes every connection to peer. */
void p2p_disconnect(p2p_t *p, const peer_id_t *peer);
bool p2p_is_connected(p2p_t *p, const peer_id_t *peer);

typedef struct p2p_conn_info {
  peer_id_t peer;
  multiaddr_t remote_addr;        /* /ip4/../tcp/.. */
  bool outbound;                  /* we dialed */
  uint64_t opened_ms;             /* CLOCK_MONOTONIC ms */
  uint32_t streams;
} p2p_conn_info_t;
/* Up to cap connections; returns how many there are (may exceed cap). */
size_t p2p_connections(p2p_t *p, p2p_conn_info_t *out, size_t cap);

/* ---- peer store ---- */

typedef struct p2p_peer_info {
  peer_id_t id;
  multiaddr_t addrs[P2P_ADDRS_MAX]; /* listen addresses known (identify, Kad, dials) */
  size_t addr_count;
  char agent[128];                  /* identify agentVersion, "" before identify */
  char protocol_version[64];
  char protocols[P2P_PROTOCOLS_MAX][128]; /* identify protocols */
  size_t protocol_count;
  int32_t score;                    /* starts at 0; see p2p_peer_penalize */
  bool identified;
} p2p_peer_info_t;

/* Adds addresses for peer (from Kad, the config, a dial); ttl_ms 0 = kept
 * while connected plus an hour. */
int p2p_peer_add_addrs(p2p_t *p, const peer_id_t *peer, const multiaddr_t *addrs, size_t n, uint64_t ttl_ms);
/* -ENOENT when the store has nothing on peer. */
int p2p_peer_info(p2p_t *p, const peer_id_t *peer, p2p_peer_info_t *out);
bool p2p_peer_supports(p2p_t *p, const peer_id_t *peer, const char *protocol);

/* Lowers peer's score by penalty (> 0) for reason (logged).  At or below
 * P2P_SCORE_BAN the peer is disconnected and refused (inbound and outbound)
 * for P2P_BAN_MS. */
#define P2P_SCORE_BAN (-100)
#define P2P_BAN_MS (10u * 60 * 1000)
void p2p_peer_penalize(p2p_t *p, const peer_id_t *peer, int32_t penalty, const char *reason);
bool p2p_peer_banned(p2p_t *p, const peer_id_t *peer);

/* Peer events, for Kad's routing table and Bitswap's wantlists: IDENTIFIED
 * once our identify of a new connection's peer succeeded (on a handler
 * thread), DISCONNECTED when its last connection closed (on a loop thread).
 * Keep it short, never block, never call back into p2p from it except
 * p2p_peer_info/p2p_peer_supports. */
enum p2p_event { P2P_PEER_IDENTIFIED, P2P_PEER_DISCONNECTED };
typedef void (*p2p_event_fn)(void *ctx, enum p2p_event event, const peer_id_t *peer);
#define P2P_EVENT_SUBSCRIBERS_MAX 4
/* Adds a subscriber (each gets every event, in the order added); before
 * p2p_start.  -ENOSPC past P2P_EVENT_SUBSCRIBERS_MAX. */
int p2p_on_peer(p2p_t *p, p2p_event_fn fn, void *ctx);

/* Round trip of one ping (32 bytes echoed) in microseconds, or <0 (-ETIMEDOUT, -EPROTO). */
int64_t p2p_ping(p2p_t *p, const peer_id_t *peer, uint32_t timeout_ms);

/* ---- streams ---- */

/* Opens a stream to peer (connecting first if needed) and selects the first
 * of protocols the peer accepts.  -EPROTONOSUPPORT when it accepts none,
 * -ETIMEDOUT, -ECONNRESET. */
int p2p_stream_open(p2p_t *p, const peer_id_t *peer, const char *const *protocols, size_t count,
                    uint32_t timeout_ms, p2p_stream_t **out);
const char *p2p_stream_protocol(const p2p_stream_t *s);
const peer_id_t *p2p_stream_peer(const p2p_stream_t *s);
/* Up to len bytes; 0 at the remote's FIN; -ETIMEDOUT (nothing read,
 * timeout_ms 0 = wait forever), -ECONNRESET (reset or connection gone). */
ssize_t p2p_stream_read(p2p_stream_t *s, void *data, size_t len, uint32_t timeout_ms);
/* All len bytes, blocking while the window is shut.  -ETIMEDOUT, -EPIPE, -ECONNRESET. */
int p2p_stream_write(p2p_stream_t *s, const void *data, size_t len, uint32_t timeout_ms);
/* One unsigned-varint-length-prefixed message into out (replaced).
 * -ENODATA at a clean FIN before any byte, -EMSGSIZE past max_bytes (the
 * stream is then reset), -EPROTO a bad varint or FIN mid-message. */
int p2p_stream_read_msg(p2p_stream_t *s, buf_t *out, size_t max_bytes, uint32_t timeout_ms);
int p2p_stream_write_msg(p2p_stream_t *s, const void *data, size_t len, uint32_t timeout_ms);
/* Half-close our side (FIN). */
int p2p_stream_close_write(p2p_stream_t *s);
/* Reset (RST); further calls fail. */
void p2p_stream_reset(p2p_stream_t *s);
/* Closes (FIN if still open) and frees.  NULL ok. */
void p2p_stream_free(p2p_stream_t *s);

#endif
