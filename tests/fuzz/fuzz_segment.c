/*
 * fuzz_segment: the segment scanner and record parser over arbitrary bytes,
 * read as a segment file image.  The image is scanned from offset 0 (so
 * short inputs reach the record parser without a 4 KiB header) and, when it
 * starts with a valid header, from SEG_HEADER_BYTES as recovery does.
 * Properties: every record returned lies inside the image and after the
 * previous one; a record whose body checks re-encodes to exactly its bytes;
 * the scanner stops (no loop) within len / SEG_RECORD_HEADER_BYTES steps; a
 * stop reports the offset where it stopped.  A violated property aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "segment.h"

static uint8_t reencoded[SEG_RECORD_BYTES_MAX];

static void scan_from(const uint8_t *data, size_t size, uint64_t start) {
  seg_scan_t s;
  seg_scan_open_mem(&s, data, start, size);
  uint64_t previous_end = start;
  size_t steps_max = size / SEG_RECORD_HEADER_BYTES + 2;
  for (size_t steps = 0;; steps++) {
    if (steps > steps_max) abort();
    seg_record_t rec;
    int rc = seg_scan_next(&s, &rec);
    if (rc == 0) {
      if (s.offset != size || rec.offset != size) abort();
      break;
    }
    if (rc < 0) {
      if (rc != -EAGAIN && rc != -EBADMSG) abort();
      if (rec.offset != previous_end || s.offset != previous_end) abort();
      /* a negative result is stable */
      seg_record_t again;
      if (seg_scan_next(&s, &again) != rc) abort();
      break;
    }
    if (rec.offset != previous_end) abort();
    size_t total = seg_record_bytes(rec.mh_len, rec.data_len);
    if (rec.offset + total > size || s.offset != rec.offset + total) abort();
    if (rec.mh != data + rec.offset + SEG_RECORD_HEADER_BYTES) abort();
    if (rec.data != rec.mh + rec.mh_len) abort();
    if (rec.kind != SEG_KIND_BLOCK && rec.kind != SEG_KIND_TOMBSTONE) abort();
    if (rec.body_ok) {
      size_t n = seg_record_encode(reencoded, rec.kind, rec.mh, rec.mh_len, rec.data, rec.data_len);
      if (n != total || memcmp(reencoded, data + rec.offset, n) != 0) abort();
      if (rec.kind == SEG_KIND_TOMBSTONE) {
        uint32_t segment_id;
        uint64_t offset;
        (void)seg_tombstone_decode(rec.data, rec.data_len, &segment_id, &offset);
      }
    }
    previous_end = s.offset;
  }
  seg_scan_close(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  scan_from(data, size, 0);
  uint32_t segment_id = 0;
  int rc = seg_header_decode(data, size, &segment_id);
  if (rc == 0) {
    if (segment_id == 0 || segment_id > SEG_ID_MAX) abort();
    uint8_t header[SEG_HEADER_BYTES];
    seg_header_encode(header, segment_id);
    if (memcmp(header, data, 64) != 0) abort(); /* the checksummed part is canonical */
    scan_from(data, size, SEG_HEADER_BYTES);
  } else if (rc != -EBADMSG && rc != -EPROTONOSUPPORT) {
    abort();
  }
  /* a single header at the start, checked on its own */
  if (size >= SEG_RECORD_HEADER_BYTES) {
    seg_record_t rec;
    if (seg_record_header_decode(data, &rec) == 0 &&
        (rec.mh_len == 0 || rec.mh_len > MH_BYTES_MAX || rec.data_len > BLOCK_BYTES_MAX))
      abort();
  }
  return 0;
}
