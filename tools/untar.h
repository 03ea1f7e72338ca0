/*
 * untar: a streaming reader of the tar stream `anya get` receives from the
 * daemon (net/rpc.c writes it: ustar headers, PAX 'x' records for long
 * paths, link targets and sizes past 8 GiB).  Bytes are fed in pieces of
 * any size; each entry's header goes to begin, its content to data as it
 * arrives, then end.  What the reader accepts: regular files ('0' or NUL),
 * directories ('5'), symlinks ('2'), PAX extended headers ('x', applying to
 * the next entry; 'g' global ones are skipped); a header whose checksum
 * does not match, another type, a base-256 size or a PAX block over
 * UNTAR_PAX_BYTES_MAX is -EINVAL (err_set says which).  The stream ends at a
 * zero block; untar_finish fails unless it was seen.  Paths are handed over
 * as written: judging them (no "..", no absolute paths) is the caller's job.
 * A callback's negative return stops the parse and sticks.
 */
#ifndef ANYA_UNTAR_H
#define ANYA_UNTAR_H

#include <stddef.h>
#include <stdint.h>

#define UNTAR_PATH_BYTES_MAX 4096
#define UNTAR_PAX_BYTES_MAX 65536

typedef struct untar_entry {
  char path[UNTAR_PATH_BYTES_MAX];
  char type;       /* '0' file, '5' directory, '2' symlink */
  uint32_t mode;   /* permission bits */
  uint64_t size;   /* content bytes (files) */
  char link[UNTAR_PATH_BYTES_MAX]; /* symlink target */
} untar_entry_t;

typedef struct untar_ops {
  int (*begin)(void *ctx, const untar_entry_t *entry);
  int (*data)(void *ctx, const uint8_t *data, size_t len);
  int (*end)(void *ctx);
  void *ctx;
} untar_ops_t;

typedef struct untar untar_t;
int untar_new(const untar_ops_t *ops, untar_t **out);
int untar_feed(untar_t *u, const void *data, size_t len);
int untar_finish(untar_t *u);
void untar_free(untar_t *u);

#endif
