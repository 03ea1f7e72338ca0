/*
 * unixfs: the UnixFS Data message carried in PBNode.Data (ipfs/specs unixfs.md).
 *
 *   Data { DataType Type = 1; bytes Data = 2; uint64 filesize = 3;
 *          repeated uint64 blocksizes = 4; uint64 hashType = 5; uint64 fanout = 6;
 *          uint32 mode = 7; UnixTime mtime = 8; }
 *   UnixTime { int64 Seconds = 1; fixed32 FractionalNanoseconds = 2; }
 *
 * Encoding writes fields in tag order, blocksizes unpacked (one `20 <varint>`
 * each), exactly as Kubo does.  Decoding is strict (Type required, no unknown
 * fields, each non-repeated field at most once) and accepts packed blocksizes.
 *
 * Proto2 semantics: a field is written when its has_* flag is set, even when
 * zero (the empty file is `08 02 18 00`); Type, and Seconds inside mtime, are
 * always written.  Both directions refuse what the spec calls invalid: a Type
 * outside 0..5 and FractionalNanoseconds outside 1..999999999 (an encoder
 * caller wanting "no fraction" clears has_mtime_nanos); decoding also refuses
 * an mtime without Seconds, a mode that does not fit 32 bits, wrong wire
 * types, non-minimal varints and lengths past the end.  Fields may arrive in any order; re-encoding a
 * decoded message gives the canonical bytes.  Checks on meaning (blocksizes
 * matching links, HAMT fanout) belong to the exporter, not to this codec.
 */
#ifndef ANYA_UNIXFS_H
#define ANYA_UNIXFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum unixfs_type {
  UNIXFS_RAW = 0,
  UNIXFS_DIRECTORY = 1,
  UNIXFS_FILE = 2,
  UNIXFS_METADATA = 3,
  UNIXFS_SYMLINK = 4,
  UNIXFS_HAMT_SHARD = 5,
};

#define UNIXFS_BLOCKSIZES_MAX 65536 /* decoder bound */

typedef struct unixfs_data {
  uint32_t type;           /* enum unixfs_type */
  const uint8_t *data;     /* Data bytes (file chunk, symlink target, HAMT bitfield); borrowed */
  size_t data_len;         /* bytes in data */
  bool has_data;
  uint64_t filesize;       /* bytes of file content under this node */
  bool has_filesize;
  uint64_t *blocksizes;    /* content bytes under each link; decode: heap, owned (unixfs_data_free) */
  size_t blocksizes_len;
  uint64_t hash_type;      /* HAMT hash function (0x22 murmur3-x64-64) */
  bool has_hash_type;
  uint64_t fanout;         /* HAMT fanout (256) */
  bool has_fanout;
  uint32_t mode;           /* POSIX mode bits (low 12 bits used) */
  bool has_mode;
  int64_t mtime_seconds;   /* mtime, seconds since the epoch */
  uint32_t mtime_nanos;    /* FractionalNanoseconds, 1..999999999 when present */
  bool has_mtime;
  bool has_mtime_nanos;
} unixfs_data_t;

/* Appends the encoding to out (nothing on error). 0, -EINVAL, -ENOMEM. */
int unixfs_encode(const unixfs_data_t *d, buf_t *out);

/* Decodes in[0..len) into *d (data points into `in`, which must outlive d).
 * 0, -EINVAL (err_set says what), -E2BIG more than UNIXFS_BLOCKSIZES_MAX
 * blocksizes, -ENOMEM.  On error *d is zeroed and owns nothing. */
int unixfs_decode(const uint8_t *in, size_t len, unixfs_data_t *d);

/* Frees what unixfs_decode allocated; *d is zeroed. */
void unixfs_data_free(unixfs_data_t *d);

#endif
