/*
 * car: Content Addressable aRchives (ipld specs/transport/car).
 *
 * Export writes CARv1: varint-prefixed DAG-CBOR header {"roots":[cid],"version":1}
 * then varint(len) CID block sections, depth-first, each block once, identity
 * CIDs skipped.  Import reads CARv1 and CARv2 (pragma, header, inner v1
 * payload; the index is ignored), verifies every block against its CID before
 * handing it to the sink, and rejects malformed input with -EINVAL (err_set
 * says where).  Sections larger than BLOCK_BYTES_MAX are rejected.
 *
 * Export order is the pre-order depth-first walk (a block, then each of its
 * links in order, each subtree completely), which is what trustless gateways
 * call `order=dfs; dups=n`; "each block once" is by CID, so the same bytes
 * under two CIDs (v0 and v1) appear under both.  Links are followed in dag-pb
 * (PBLink.Hash) and dag-cbor (every tag 42) blocks; raw and other codecs are
 * leaves.  Identity CIDs are never written, but links inside an identity
 * dag-pb/dag-cbor node are followed.  The header is written byte-exactly as
 * DAG-CBOR would: `a2 65 "roots" 81 d8 2a 58 <n> 00 <cid> 67 "version" 01`.
 *
 * Import is strict: the header must be DAG-CBOR-shaped (a definite map of
 * "roots" then "version" with minimal-length heads, roots as tag 42 over
 * 0x00 ‖ binary CID, nothing after the map); version 1, or the CARv2 pragma
 * {"version": 2} followed by its 40-byte header (data offset >= 51, index
 * offset 0 or past the data) and an inner CARv1 that must end exactly at
 * data offset + data size.  Section lengths are minimal varints, non-zero,
 * at most CID_BYTES_MAX + BLOCK_BYTES_MAX.  Zero roots and zero blocks are
 * accepted (the JS reader accepts both).
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
#define CAR_V2_PRAGMA_BYTES 11          /* 0a a1 67 "version" 02 */
#define CAR_V2_HEADER_BYTES 40          /* characteristics, data offset, data size, index offset */
#define CAR_EXPORT_DEPTH_MAX 4096       /* bound on DAG depth walked by car_export */
#define CAR_EXPORT_PENDING_BYTES_MAX (256u << 20) /* bound on the DFS stack (CID bytes queued) */

/* Byte output for export: returns 0 or a negative errno. */
typedef int (*car_write_fn)(void *ctx, const void *data, size_t len);
/* Byte input for import: returns bytes read (0 = EOF) or a negative errno. */
typedef ssize_t (*car_read_fn)(void *ctx, void *data, size_t len);

/* The pieces of a CARv1 stream, for writers that choose their own blocks (the
 * gateway's dag-scope CARs): the header naming root (minimal DAG-CBOR), and
 * one block's section (varint length, CID, bytes).  Each returns the number
 * of bytes written, or the write callback's negative errno. */
ssize_t car_write_header(const cid_t *root, car_write_fn write, void *ctx);
ssize_t car_write_section(const cid_t *cid, const uint8_t *data, size_t len, car_write_fn write, void *ctx);

/* Writes the DAG under root (dag-pb and raw; dag-cbor links are followed too) as CARv1.
 * 0; -ENOENT a block is missing (err_set names it); -EIO a dag-pb/dag-cbor block
 * does not decode; -E2BIG deeper than CAR_EXPORT_DEPTH_MAX or too many pending
 * links; the write callback's error; -ENOMEM.  Output already written stays
 * written: callers streaming to a client end the stream on error. */
int car_export(const block_source_t *src, const cid_t *root, car_write_fn write, void *ctx);

/* Reads a CARv1/v2 stream, putting each verified block into sink.  Roots are
 * reported through on_root (may be NULL) once the header has been validated,
 * before any block.  *blocks_out (if non-NULL) counts blocks handed to the
 * sink (identity-CID sections are verified but not stored, and not counted);
 * it is set on error too.  0; -EINVAL malformed, truncated, or a block that
 * does not match its CID; -E2BIG header, roots or a section over its limit;
 * -ENOTSUP a CID whose hash function cannot be verified; the read callback's
 * or the sink's error; -ENOMEM.  Blocks before an error stay in the sink. */
int car_import(car_read_fn read, void *read_ctx, const block_sink_t *sink,
               void (*on_root)(void *ctx, const cid_t *root), void *root_ctx,
               uint64_t *blocks_out);

#endif
