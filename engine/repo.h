/*
 * repo: the repository directory that `anya init` creates and every command
 * opens.
 *
 *   <repo>/version        repository format version ("1\n")
 *   <repo>/config.toml    configuration (config.h): repo_open loads it over the
 *                         defaults into repo_t.config; a bad file fails the open
 *   <repo>/keystore/self  the node's libp2p Ed25519 private key (protobuf
 *                         PrivateKey, mode 0600)
 *   <repo>/blocks/        the block engine (bs.h, docs/format.md)
 *   <repo>/pins/          the pin set (pins.h), its own LevelDB
 *   <repo>/repo.lock      advisory lock held (flock) by the process using the
 *                         repository; its text names the holder
 *
 * One process holds a repository at a time: repo_open takes the lock without
 * waiting and, when another process has it, fails with -EBUSY and a message
 * naming the holder's pid and command.
 */
#ifndef ANYA_REPO_H
#define ANYA_REPO_H

#include <stdbool.h>
#include <stdint.h>

#include "bs.h"
#include "buf.h"
#include "config.h"
#include "pins.h"
#include "policy.h"

#define REPO_FORMAT_VERSION 1
#define REPO_PATH_BYTES_MAX 4096

typedef struct repo {
  char path[REPO_PATH_BYTES_MAX]; /* the repository directory */
  int lock_fd;                    /* the held repo.lock, or -1 */
  bs_t *bs;                       /* the block engine, open while the repo is */
  pins_t *pins;                   /* the pin set over bs, open while the repo is */
  char peer_id[64];               /* base58btc peer ID ("12D3KooW...") */
  config_t *config;               /* the defaults overlaid with <repo>/config.toml; owned */
  policy_set_t policies;          /* config's [[pinning.policy]] rules, checked (policy.h) */
} repo_t;

/* Resolves the repository path: `flag` if non-NULL, else $ANYA_REPO, else
 * $HOME/.anya.  0 or -EINVAL (no HOME). */
int repo_default_path(const char *flag, char out[REPO_PATH_BYTES_MAX]);

/* Creates a repository at path ("dev" or "prod" profile): directory, version,
 * config, a fresh Ed25519 peer key, an empty block store.  -EEXIST when a
 * repository (or a non-empty directory) is already there; on failure removes
 * what it created.  peer_id_out (if non-NULL, 64 bytes) gets the new peer ID. */
int repo_init(const char *path, const char *profile, char *peer_id_out);

/* Opens and locks the repository (`holder` names the command in the lock
 * file) and loads its configuration: the defaults, then <repo>/config.toml
 * when present (a repository without one runs on the defaults).  -ENOENT no
 * repository (message says to run `anya init`), -EBUSY held by another
 * process (message names it), -EINVAL a bad config.toml (message names
 * file:line:column and the key, config.h; pin policies are checked too,
 * policy.h), or the errno of reading it.  bs_opts NULL: the block engine's
 * defaults with storage.segment_size from the config. */
int repo_open(const char *path, const char *holder, const bs_options_t *bs_opts, repo_t **out);

/* Closes the pin set, syncs and closes the block engine, frees the config,
 * releases the lock.  Returns the sync result. */
int repo_close(repo_t *r);

#endif
