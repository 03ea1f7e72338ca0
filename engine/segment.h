/*
 * segment: the append-only segment file format of the block engine
 * (docs/format.md is the specification; this is its code).
 *
 * A segment file is a SEG_HEADER_BYTES header (magic, format version,
 * segment id, header checksum) followed by records, back to back, no padding:
 *
 *   offset  size  field
 *   0       4     magic "ARec" (0x63655241 little-endian)
 *   4       1     kind: SEG_KIND_BLOCK or SEG_KIND_TOMBSTONE
 *   5       1     flags: 0 (reserved)
 *   6       2     mh_len: multihash bytes, 1..MH_BYTES_MAX
 *   8       4     data_len: block bytes (<= BLOCK_BYTES_MAX), or 16 for a tombstone
 *   12      4     body_crc: crc32c(mh || data)
 *   16      4     header_crc: crc32c(bytes 0..15)
 *   20      mh_len    the multihash (the index key)
 *   20+mh_len data_len the block bytes, or the tombstone body
 *
 * All integers little-endian.  A tombstone's body names the record it
 * deletes: u32 segment id, u32 zero, u64 record offset.
 *
 * The header checksum makes lengths trustworthy on their own, so a scanner
 * can step over a record whose body is corrupt (fsck reports it and goes on)
 * and tell it apart from bytes that are no record at all (a torn tail).
 *
 * Nothing here allocates except seg_scan_open_fd (its window, freed by
 * seg_scan_close).
 */
#ifndef ANYA_SEGMENT_H
#define ANYA_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "io.h"
#include "multihash.h"

#define SEG_FORMAT_VERSION 1
#define SEG_MAGIC "ANYASEG"                /* 8 bytes with its NUL */
#define SEG_HEADER_BYTES 4096u             /* the file header; records start here */
#define SEG_RECORD_MAGIC 0x63655241u       /* "ARec" */
#define SEG_RECORD_HEADER_BYTES 20u
#define SEG_KIND_BLOCK 1
#define SEG_KIND_TOMBSTONE 2
#define SEG_TOMBSTONE_BYTES 16u            /* tombstone body */
#define SEG_RECORD_BYTES_MAX (SEG_RECORD_HEADER_BYTES + MH_BYTES_MAX + BLOCK_BYTES_MAX)
#define SEG_SCAN_WINDOW_BYTES (2 * SEG_RECORD_BYTES_MAX) /* read-ahead of seg_scan_open_fd */
#define SEG_NAME_BYTES_MAX 32              /* "%08x.seg" and NUL, with room */
#define SEG_ID_MAX 0xfffffffeu             /* segment ids are 1..SEG_ID_MAX */

/* One record as parsed.  mh and data point into the scanner's window (or the
 * caller's bytes) and stay valid until the next scanner call. */
typedef struct seg_record {
  uint64_t offset;        /* record start, bytes from the start of the file */
  uint8_t kind;           /* SEG_KIND_* */
  uint16_t mh_len;        /* multihash bytes */
  uint32_t data_len;      /* body bytes after the multihash */
  uint32_t body_crc;      /* as stored */
  const uint8_t *mh;      /* the multihash (NULL until the body is read) */
  const uint8_t *data;    /* the body */
  bool body_ok;           /* body_crc matches mh || data */
} seg_record_t;

/* File names: "%08x.seg" of the segment id.  seg_name returns the length. */
size_t seg_name(uint32_t segment_id, char out[SEG_NAME_BYTES_MAX]);
/* 0 and *segment_id when name is a segment file name, else -EINVAL. */
int seg_parse_name(const char *name, uint32_t *segment_id);

/* The file header.  decode: 0, -EBADMSG (shorter than SEG_HEADER_BYTES, bad
 * magic, bad checksum),
 * -EPROTONOSUPPORT (another format version). */
void seg_header_encode(uint8_t out[SEG_HEADER_BYTES], uint32_t segment_id);
int seg_header_decode(const uint8_t *in, size_t len, uint32_t *segment_id);

/* Bytes a record takes on disk. */
static inline size_t seg_record_bytes(size_t mh_len, size_t data_len) {
  return SEG_RECORD_HEADER_BYTES + mh_len + data_len;
}

/* Writes a whole record to out (seg_record_bytes() long).  Returns its length.
 * kind/mh_len/data_len must be valid (asserted). */
size_t seg_record_encode(uint8_t *out, uint8_t kind, const uint8_t *mh, size_t mh_len,
                         const void *data, size_t data_len);

/* Parses and checks a record header (magic, header checksum, kind, flags,
 * length bounds).  Fills everything but mh/data/body_ok.  0 or -EBADMSG. */
int seg_record_header_decode(const uint8_t in[SEG_RECORD_HEADER_BYTES], seg_record_t *out);

/* Checks the body checksum of a decoded header against mh/data. */
bool seg_record_body_check(const seg_record_t *rec, const uint8_t *mh, const uint8_t *data);

/* Tombstone body: which record is deleted. */
void seg_tombstone_encode(uint8_t out[SEG_TOMBSTONE_BYTES], uint32_t segment_id, uint64_t offset);
int seg_tombstone_decode(const uint8_t *in, size_t len, uint32_t *segment_id, uint64_t *offset);

/* Sequential scanner over records in [start, end) of a file or of memory. */
typedef struct seg_scan {
  const io_backend_t *io;  /* file source, or NULL for memory */
  int fd;                  /* file source */
  uint64_t end;            /* scan limit (the file size) */
  uint64_t offset;         /* next record offset */
  const uint8_t *window;   /* bytes [window_offset, window_offset + window_len) */
  uint8_t *window_owned;   /* heap window of a file scanner, SEG_SCAN_WINDOW_BYTES */
  uint64_t window_offset;  /* file offset of window[0] */
  size_t window_len;       /* valid bytes in window */
} seg_scan_t;

/* A file scanner (reads through io in SEG_SCAN_WINDOW_BYTES windows).  0 or -ENOMEM. */
int seg_scan_open_fd(seg_scan_t *s, const io_backend_t *io, int fd, uint64_t start, uint64_t end);
/* A memory scanner over bytes[0..end) starting at start (no allocation). */
void seg_scan_open_mem(seg_scan_t *s, const uint8_t *bytes, uint64_t start, uint64_t end);
/* Next record:
 *   1        a record with a valid header in rec (check rec->body_ok); the scanner moved past it
 *   0        clean end: offset == end
 *   -EAGAIN  a record starts at rec->offset but the file ends inside it (torn tail)
 *   -EBADMSG the bytes at rec->offset are not a record header
 *   other    an I/O error from the backend
 * After a negative result the scanner stays where it is (further calls repeat it). */
int seg_scan_next(seg_scan_t *s, seg_record_t *rec);
void seg_scan_close(seg_scan_t *s);

#endif
