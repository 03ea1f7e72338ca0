/*
 * block: the two small interfaces through which importers, exporters and CAR
 * code reach blocks without knowing where they live.  The block engine (bs.h)
 * provides both; tests use in-memory implementations; `anya add -n` uses a
 * sink that discards.
 */
#ifndef ANYA_BLOCK_H
#define ANYA_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cid.h"

#define BLOCK_BYTES_MAX (2u * 1024 * 1024) /* largest block accepted anywhere (Bitswap's limit) */

typedef struct block_sink {
  /* Stores a block whose CID the caller computed. The bytes are only borrowed
   * for the call.  Returns 0 (stored or already present) or a negative errno. */
  int (*put)(void *ctx, const cid_t *cid, const uint8_t *data, size_t len);
  void *ctx;
} block_sink_t;

typedef struct block_source {
  /* Replaces out's contents with the block's bytes (buf_reset then append).
   * Returns 0, -ENOENT when absent, -EIO/-EBADMSG when stored bytes are corrupt. */
  int (*get)(void *ctx, const cid_t *cid, buf_t *out);
  void *ctx;
} block_source_t;

#endif
