/*
 * exporter: UnixFS DAGs out as files, directories and symlinks, read through a
 * block_source.  Random access: exp_pread seeks to any byte offset using the
 * blocksizes of each node, reading only the blocks on the path to that offset.
 * Path resolution walks directory links and HAMT shards.
 */
#ifndef ANYA_EXPORTER_H
#define ANYA_EXPORTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "block.h"
#include "cid.h"

#define EXP_PATH_SEGMENTS_MAX 4096 /* bound on path depth */

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

/* Resolves root/path ("a/b/c", no leading slash needed; "" = root) to a CID. -ENOENT
 * missing name or block, -ENOTDIR pathing through a file. */
int exp_resolve(const block_source_t *src, const cid_t *root, const char *path, cid_t *out);

/* Kind and size of the node at cid. */
int exp_stat(const block_source_t *src, const cid_t *cid, exp_stat_t *st);

typedef struct exp_file exp_file_t;
/* Opens a file (UnixFS file or raw block) for random access; -EISDIR for a directory. */
int exp_open(const block_source_t *src, const cid_t *cid, exp_file_t **out);
/* Reads up to len bytes at offset; returns bytes read (0 at EOF) or a negative errno. */
ssize_t exp_pread(exp_file_t *f, void *buf, size_t len, uint64_t offset);
uint64_t exp_size(const exp_file_t *f);
void exp_close(exp_file_t *f);

/* Calls fn for each entry of the directory at cid (HAMT shards flattened), in
 * link order; a non-zero return from fn stops and is returned. -ENOTDIR if not a directory. */
typedef int (*exp_dirent_fn)(void *ctx, const char *name, const cid_t *cid, uint64_t tsize);
int exp_readdir(const block_source_t *src, const cid_t *cid, exp_dirent_fn fn, void *ctx);

/* Symlink target into out (replaced). -EINVAL if not a symlink. */
int exp_readlink(const block_source_t *src, const cid_t *cid, buf_t *out);

#endif
