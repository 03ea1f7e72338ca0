/*
 * importer: bytes and trees in, UnixFS DAGs out, with exactly Kubo's CIDs
 * (`ipfs add` defaults and flags; facts in shared ipfs-reference.md §6-7).
 *
 * Streaming in constant memory: a file is read chunk by chunk; only the open
 * right edge of the tree is held (links_max links per level).  Blocks go to a
 * block_sink as soon as they are complete, always from the calling thread and
 * in DAG order (leaves before their parents).  Files larger than 1 MiB (and
 * pipes) are read into a fixed ring (16 MiB) and their leaves hashed by one
 * worker per core (chunker.h); smaller files run on the caller's thread.  Directories hold their entries (name, CID, size) until
 * they are complete; a directory whose entries exceed the HAMT threshold is
 * written as a HAMT (hamt.h).
 *
 * Verified against Kubo's own pinned CIDs (test/cli/cid_profiles_test.go) and,
 * flag by flag, against ipfs-unixfs-importer set up as Kubo
 * (tests/interop/unixfs-diff.sh).
 */
#ifndef ANYA_IMPORTER_H
#define ANYA_IMPORTER_H

#include <stdbool.h>
#include <stdint.h>

#include "block.h"
#include "cid.h"

#define IMP_CHUNK_BYTES_DEFAULT 262144u
#define IMP_CHUNK_BYTES_MAX 2096896u  /* Kubo's limit: 2 MiB - 256 */
#define IMP_LINKS_MAX_DEFAULT 174u
#define IMP_LINKS_MAX_LIMIT 16384u    /* largest links_max accepted (keeps nodes well under 2 MiB) */
#define IMP_HAMT_THRESHOLD_DEFAULT 262144u
#define IMP_DEPTH_MAX 64              /* directory recursion bound */

typedef struct imp_options {
  uint32_t cid_version;          /* 0 (default) or 1 */
  int raw_leaves;                /* -1 default (on iff cid_version 1), 0 off, 1 on */
  uint32_t chunk_bytes;          /* fixed chunker size, 1..IMP_CHUNK_BYTES_MAX */
  bool trickle;                  /* trickle layout instead of balanced */
  bool hidden;                   /* -H: include dot-files when adding directories */
  bool wrap;                     /* -w: wrap the added paths in a directory */
  uint32_t links_max;            /* links per file node (174) */
  uint64_t hamt_threshold_bytes; /* shard a directory when Σ(name + CID bytes) of its
                                    entries exceeds this (Kubo's "links" estimate); 0 = never */
} imp_options_t;

typedef struct imp_callbacks {
  /* Called once per file, directory and symlink added, children before their
   * parent, root last; `path` is as `ipfs add` prints it. May be NULL. */
  void (*added)(void *ctx, const cid_t *cid, const char *path, uint64_t size_bytes);
  /* Called as content bytes are consumed (cumulative over the whole add). May be NULL. */
  void (*progress)(void *ctx, uint64_t bytes_done);
  void *ctx;
} imp_callbacks_t;

/* Kubo's defaults. */
void imp_options_default(imp_options_t *opts);

/* Checks option values (chunk size range, 2 <= links_max <= IMP_LINKS_MAX_LIMIT,
 * version 0/1, raw_leaves -1/0/1). 0 or -EINVAL. */
int imp_options_check(const imp_options_t *opts);

/* Imports the whole stream readable from fd (from its current offset; a
 * regular file is read with pread, so its offset does not move) as one
 * file.  *root gets the root CID, *tsize (if non-NULL) the cumulative DAG size.
 * cb->added is NOT called: the caller names the stream (Kubo prints stdin with
 * its CID as the name: `added <cid> <cid>`); cb->progress is. */
int imp_add_fd(const imp_options_t *opts, const block_sink_t *sink, int fd,
               const imp_callbacks_t *cb, cid_t *root, uint64_t *tsize);

/* A path argument cleaned lexically with Go's filepath.Clean rules, as
 * imp_add_paths cleans its arguments ("a//b/../c/" -> "a/c", "" -> ".").
 * Malloc'd; NULL without memory. */
char *imp_clean_path(const char *in);

/* Imports `paths` (files, directories recursively, symlinks as UnixFS
 * symlinks) as `ipfs add -r` would; with opts->wrap they are wrapped in one
 * directory.  *root gets the last root (the wrapper with -w). Errors name the
 * offending path (err_set).
 *
 * As Kubo's CLI does: each path is cleaned lexically ("." becomes the working
 * directory) and named by its last element; the paths are added in byte order
 * of those names; a name given twice from the same directory is added once,
 * from two directories is an error (-EINVAL).  FIFOs named directly are read as
 * files; inside directories only files, directories and symlinks are accepted
 * (anything else is -EINVAL).  Refusing a directory without -r is the caller's
 * job.  Directory nesting is limited to IMP_DEPTH_MAX (-ELOOP).
 *
 * cb->added order and paths (Kubo's adder): files and symlinks as they complete,
 * named "<name>/<sub>/<file>" ("<name>" alone for a path that is a file); then,
 * per path (once for all with -w), its directories children-first in the order
 * their parent lists them (by name; by hash inside a HAMT), the path itself
 * last; with -w finally the wrapper with the empty path "".  size_bytes is the
 * entry's cumulative DAG size (Kubo's AddEvent Size). */
int imp_add_paths(const imp_options_t *opts, const block_sink_t *sink,
                  const char *const *paths, size_t paths_len,
                  const imp_callbacks_t *cb, cid_t *root);

/* ---- push interfaces (the mount's files/ tree) ------------------------------
 *
 * A file whose bytes arrive in pieces (FUSE writes): imp_file_new, then
 * imp_file_write any number of times with the bytes in order (any split gives
 * the same DAG), then imp_file_finish, which gives exactly the CID and tsize
 * imp_add_fd gives for the same bytes and options, and frees the handle
 * (also when it fails).  Blocks go to the sink as they complete, from the
 * writing thread, in the same order imp_add_fd puts them; leaves are hashed
 * on that thread one whole chunk at a time (a write is copied into the chunk
 * buffer; with raw leaves a whole chunk at a chunk boundary is hashed and put
 * straight from the caller's buffer).  Memory: one chunk plus the open right
 * edge of the tree (links_max links per level).  Balanced layout only:
 * opts->trickle is -ENOTSUP; bad options -EINVAL.  The first failure (the
 * sink's error, -ENOMEM) sticks: every later write and the finish return it.
 * imp_file_abort frees a handle without finishing (NULL is a no-op; blocks
 * already put stay in the sink; the block engine's GC reclaims them).  A
 * handle is used by one thread at a time. */
typedef struct imp_file imp_file_t;
int imp_file_new(const imp_options_t *opts, const block_sink_t *sink, imp_file_t **out);
int imp_file_write(imp_file_t *f, const void *data, size_t len);
/* imp_file_write of len zero bytes (a sparse file's hole): whole chunks of
 * zeros reuse one leaf, hashed and put once per handle, so a hole costs a
 * link per chunk, not hashing. */
int imp_file_write_zeros(imp_file_t *f, uint64_t len);
uint64_t imp_file_size(const imp_file_t *f); /* bytes written so far */
int imp_file_finish(imp_file_t *f, cid_t *root, uint64_t *tsize);
void imp_file_abort(imp_file_t *f);

/* A directory built from entries whose CIDs are already known: the same
 * directory node (or HAMT, past opts->hamt_threshold_bytes) imp_add_paths
 * writes for a directory holding those entries (byte order of names, as
 * imp_add_paths lists a directory; opts->hidden does not apply: every entry
 * given is kept).  tsize is each entry's cumulative DAG size (what its parent
 * link carries, the size_bytes imp_add_paths reports).  Names are added in
 * any order and must be unique (-EEXIST, found through a hash index: no scan),
 * non-empty, without '/', not "." or ".." (-EINVAL).  imp_dir_finish puts the
 * node(s) to the sink, gives the CID and tsize, and frees the handle (also
 * when it fails); imp_dir_abort frees without building (NULL is a no-op).
 * Memory: the entries (names and binary CIDs) and their index. */
typedef struct imp_dir imp_dir_t;
int imp_dir_new(const imp_options_t *opts, imp_dir_t **out);
int imp_dir_add(imp_dir_t *d, const char *name, const cid_t *cid, uint64_t tsize);
int imp_dir_finish(imp_dir_t *d, const block_sink_t *sink, cid_t *root, uint64_t *tsize);
void imp_dir_abort(imp_dir_t *d);

/* The UnixFS symlink node imp_add_paths writes for a symlink to target
 * (put to the sink); *tsize (if non-NULL) is its block size.  Targets of
 * 64 KiB or more are -ENAMETOOLONG, as imp_add_paths' readlink limit. */
int imp_symlink(const imp_options_t *opts, const block_sink_t *sink, const char *target,
                cid_t *cid, uint64_t *tsize);

#endif
