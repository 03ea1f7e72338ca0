/*
 * exporter: UnixFS DAGs out as files, directories and symlinks, read through a
 * block_source.  Random access: exp_pread seeks to any byte offset using the
 * blocksizes of each node, reading only the blocks on the path to that offset.
 * Path resolution walks directory links and HAMT shards.
 *
 * What counts as what:
 *   - a raw-codec block (or any codec other than dag-pb) is a file whose bytes
 *     are the block (EXP_RAW);
 *   - a dag-pb block is read as UnixFS: File and Raw types are files,
 *     Directory and HAMTShard are directories, Symlink is a symlink;
 *   - identity CIDs are answered from the CID itself, without the source.
 * The DAG is checked as it is read: a file node's links must match its
 * blocksizes one for one, carry no names, and each child must hold exactly
 * the bytes its parent's blocksizes entry promises; HAMT shards must use
 * murmur3-x64-64 and a power-of-two fanout 8..1024, the same at every level.
 * A DAG that breaks these rules (or is not UnixFS at all) gives -EIO with an
 * err_set() message naming the CID; a block the source lacks gives -ENOENT.
 * Depth is bounded (EXP_DEPTH_MAX) so a hostile DAG cannot exhaust the stack.
 */
#ifndef ANYA_EXPORTER_H
#define ANYA_EXPORTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "block.h"
#include "cid.h"

#define EXP_PATH_SEGMENTS_MAX 4096 /* bound on path depth */
#define EXP_DEPTH_MAX 64           /* bound on file tree depth and HAMT levels */

enum exp_kind { EXP_FILE, EXP_DIRECTORY, EXP_SYMLINK, EXP_RAW /* raw block: a file */ };

typedef struct exp_stat {
  enum exp_kind kind;
  uint64_t size_bytes;   /* file content bytes; 0 for directories */
  uint32_t mode;         /* UnixFS mode if present, else 0 */
  bool has_mode;
  int64_t mtime_seconds; /* UnixFS mtime if present */
  uint32_t mtime_nanos;
  bool has_mtime;
} exp_stat_t;

/* Resolves root/path ("a/b/c", no leading slash needed; "" = root) to a CID.
 * Empty segments ("a//b", a trailing "/") are skipped; every other segment is
 * a literal entry name.  The final CID is not fetched.  -ENOENT missing name or
 * block, -ENOTDIR pathing through a file or symlink (symlinks are not followed),
 * -ENAMETOOLONG more than EXP_PATH_SEGMENTS_MAX segments, -EIO malformed DAG. */
int exp_resolve(const block_source_t *src, const cid_t *root, const char *path, cid_t *out);
/* A command's "CID[/path]" or "/ipfs/CID[/path]" argument: the root CID and
 * the path after it (*path points into arg; "" for none).  -EINVAL naming
 * the bad CID. */
int exp_split_arg(const char *arg, cid_t *root, const char **path);
/* exp_split_arg then exp_resolve, with messages naming arg ("...: not found
 * in the local store", "...: a path component is not a directory"). */
int exp_resolve_arg(const block_source_t *src, const char *arg, cid_t *out);

/* Kind and size of the node at cid (for a symlink: the target's length). */
int exp_stat(const block_source_t *src, const cid_t *cid, exp_stat_t *st);

typedef struct exp_file exp_file_t;
/* Opens a file (UnixFS file or raw block) for random access; -EISDIR for a
 * directory, -EINVAL for a symlink.  The handle keeps the root block and the
 * last leaf read, so sequential reads fetch each block once.  *out is owned by
 * the caller (exp_close).  A handle is not safe for concurrent use; open one
 * per reader (they are cheap: one block). */
int exp_open(const block_source_t *src, const cid_t *cid, exp_file_t **out);
/* Reads up to len bytes at offset; returns bytes read (0 at EOF) or a negative
 * errno.  The read is complete (short only at EOF). */
ssize_t exp_pread(exp_file_t *f, void *buf, size_t len, uint64_t offset);
uint64_t exp_size(const exp_file_t *f);
/* Declares zero, a block holding only zeros (a whole chunk of zeros as the
 * importer makes it): reads of a child linked by that CID are zero-filled
 * without fetching it, so a sparse file's holes cost no I/O.  The caller
 * vouches for the CID; a wrong one returns zeros where the content is not. */
void exp_set_zero(exp_file_t *f, const cid_t *zero);
/* SEEK_DATA over the DAG: *data gets the first offset >= offset outside the
 * zero chunks (exp_set_zero), or the file's size when only holes follow.
 * Loads internal nodes only down to the first data, never a zero chunk. */
int exp_next_data(exp_file_t *f, uint64_t offset, uint64_t *data);
void exp_close(exp_file_t *f);

/* Calls fn for each entry of the directory at cid (HAMT shards flattened), in
 * link order; a non-zero return from fn stops and is returned. -ENOTDIR if not
 * a directory.  `name` is NUL-terminated and valid only during the call.
 * Entries whose names cannot be POSIX file names (empty, ".", "..", or
 * containing '/' or NUL) are skipped. */
typedef int (*exp_dirent_fn)(void *ctx, const char *name, const cid_t *cid, uint64_t tsize);
int exp_readdir(const block_source_t *src, const cid_t *cid, exp_dirent_fn fn, void *ctx);

/* Symlink target into out (replaced). -EINVAL if not a symlink. */
int exp_readlink(const block_source_t *src, const cid_t *cid, buf_t *out);

#endif
