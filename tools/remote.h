/*
 * remote: `anya` commands through a running daemon's RPC listener (the Kubo
 * RPC subset, net/rpc.h), used instead of opening the repository when a
 * daemon holds it.
 *
 * Detection: <repo>/api (written by anyad while it serves RPC) names the
 * base URL ("http://127.0.0.1:5001").  When the file exists and its address
 * accepts a TCP connection, commands go through it; a stale file (nothing
 * listening: a crashed daemon) is ignored and the repository is opened
 * directly (which then fails with the holder's name if a process holds it
 * without serving RPC).
 *
 * Token: $ANYA_RPC_TOKEN, else security.rpc_token of <repo>/config.toml
 * (read without taking the repository lock); sent as Authorization: Bearer.
 *
 * Output: each remote_* prints exactly what the direct command prints
 * (output.c), from the daemon's JSON.  Errors: the daemon's Message is the
 * error (err_set), so the caller's die() prints `anya: <Message>`.
 * Each returns 0 or a negative errno.
 */
#ifndef ANYA_REMOTE_H
#define ANYA_REMOTE_H

#include <stdbool.h>

#include "cli.h"
#include "importer.h"

/* True when the commands should go through the daemon (decided once). */
bool remote_active(void);

typedef struct remote_add_opts {
  const imp_options_t *io;
  const char *const *paths; /* NULL/0: stdin */
  size_t paths_len;
  bool quiet, quieter;
  const char *pin;          /* "true"/"false" or NULL (the daemon's policies and config decide) */
  progress_t *progress;
} remote_add_opts_t;

int remote_add(const remote_add_opts_t *o);
int remote_cat(const char *const *paths, size_t len, uint64_t offset, uint64_t length);
/* Fetches the tar of path and unpacks it at `out` (which must not exist). */
int remote_get(const char *path, const char *out);
int remote_ls(const char *const *paths, size_t len);
int remote_block_get(const char *cid);
int remote_block_stat(const char *cid);
int remote_block_rm(const char *const *cids, size_t len);
/* codec: raw, dag-pb, dag-cbor, v0 (NULL: raw); data from fd. */
int remote_block_put(int fd, const char *codec, const char *pin);
int remote_pin_add(const char *const *args, size_t len, bool recursive, const char *name, const char *expire_in);
int remote_pin_rm(const char *const *args, size_t len);
int remote_pin_ls(const char *const *args, size_t len, const char *type, bool quiet);
int remote_pin_verify(void);
int remote_repo_stat(void);
int remote_repo_gc(void);
/* `id` of the daemon's node, or (peer non-NULL) what it learned of a peer by identify:
 * the daemon's JSON (ID, PublicKey, Addresses, AgentVersion, ProtocolVersion, Protocols). */
int remote_id(const char *peer);
/* `swarm connect`: one "connect <id> success" line an address. */
int remote_swarm_connect(const char *const *addrs, size_t n);
/* `swarm peers`: one "<multiaddr>/p2p/<id>" line a connection. */
int remote_swarm_peers(void);
/* `ping PEER`: "Pong received: time=<ms> ms" a pong, then "Average latency: <ms>ms". */
int remote_ping(const char *peer, unsigned count);
/* `routing provide`: quiet on success (like ipfs without -v). */
int remote_routing_provide(const char *cid);
/* `routing findprovs`: one provider peer ID a line. */
int remote_routing_findprovs(const char *cid, unsigned max);
/* `routing findpeer`: the peer's addresses, one a line. */
int remote_routing_findpeer(const char *peer);
int remote_version(void);
/* `car export`: the CAR of cid written to fd. */
int remote_dag_export(const char *cid, int fd);
/* `car import` of one CAR read from fd, nothing pinned: on_root per root in
 * the order the CAR names them, *blocks the blocks it held. */
typedef void (*remote_root_fn)(void *ctx, const char *cid);
int remote_dag_import(int fd, uint64_t *blocks, remote_root_fn on_root, void *ctx);
/* `name publish`: "Published to <name>: <value>"; lifetime, ttl (Go
 * durations) and resolve ("true"/"false") may be NULL (the daemon's defaults). */
int remote_name_publish(const char *path, const char *lifetime, const char *ttl, const char *resolve);
/* `name resolve`: the /ipfs/ path; name NULL = our own; timeout a Go duration or NULL. */
int remote_name_resolve(const char *name, const char *timeout);
/* Pins cid recursively, printing nothing. */
int remote_pin_root(const char *cid);
/* `dwn process`: message (the JSON text as read), data_path (may be NULL)
 * for a RecordsWrite, out_path (may be NULL) for a read's data. */
int remote_dwn_process(const char *tenant, const buf_t *message, const char *data_path, const char *out_path);

#endif
