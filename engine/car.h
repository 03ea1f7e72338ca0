/*
 * car: Content Addressable aRchives (ipld specs/transport/car).
 *
 * Export writes CARv1: varint-prefixed DAG-CBOR header {"roots":[cid],"version":1}
 * then varint(len) CID block sections, depth-first, each block once, identity
 * CIDs skipped.  Import reads CARv1 and CARv2 (pragma, header, inner v1
 * payload; the index is ignored), verifies every block against its CID before
 * handing it to the sink, and rejects malformed input with -EINVAL (err_set
 * says where).  Sections larger than BLOCK_BYTES_MAX are rejected.
 */
#ifndef ANYA_CAR_H
#define ANYA_CAR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "block.h"
#include "cid.h"

#define CAR_HEADER_BYTES_MAX (1u << 20) /* bound on the CBOR header */
#define CAR_ROOTS_MAX 1024

/* Byte output for export: returns 0 or a negative errno. */
typedef int (*car_write_fn)(void *ctx, const void *data, size_t len);
/* Byte input for import: returns bytes read (0 = EOF) or a negative errno. */
typedef ssize_t (*car_read_fn)(void *ctx, void *data, size_t len);

/* Writes the DAG under root (dag-pb and raw; dag-cbor links are followed too) as CARv1. */
int car_export(const block_source_t *src, const cid_t *root, car_write_fn write, void *ctx);

/* Reads a CARv1/v2 stream, putting each verified block into sink.  Roots are
 * reported through on_root (may be NULL).  *blocks_out (if non-NULL) counts blocks. */
int car_import(car_read_fn read, void *read_ctx, const block_sink_t *sink,
               void (*on_root)(void *ctx, const cid_t *root), void *root_ctx,
               uint64_t *blocks_out);

#endif
