/*
 * segment: encoding, decoding and scanning of segment files (segment.h).
 */
#include "segment.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

#define SEG_HEADER_CRC_OFFSET 60u /* header checksum covers bytes [0, 60) */

static void put_le16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get_le32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t get_le64(const uint8_t *p) { return (uint64_t)get_le32(p) | ((uint64_t)get_le32(p + 4) << 32); }

size_t seg_name(uint32_t segment_id, char out[SEG_NAME_BYTES_MAX]) {
  int n = snprintf(out, SEG_NAME_BYTES_MAX, "%08x.seg", segment_id);
  assert(n > 0 && n < SEG_NAME_BYTES_MAX);
  return (size_t)n;
}

int seg_parse_name(const char *name, uint32_t *segment_id) {
  if (strlen(name) != 12 || strcmp(name + 8, ".seg") != 0) return -EINVAL;
  uint32_t id = 0;
  for (int i = 0; i < 8; i++) {
    char c = name[i];
    uint32_t digit;
    if (c >= '0' && c <= '9') digit = (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f') digit = (uint32_t)(c - 'a' + 10);
    else return -EINVAL;
    id = id << 4 | digit;
  }
  if (id == 0 || id > SEG_ID_MAX) return -EINVAL;
  *segment_id = id;
  return 0;
}

/* Header layout: magic[8] version u32, header_bytes u32, segment_id u32,
 * flags u32, reserved to 60, crc32c u32 at 60, zeros to SEG_HEADER_BYTES. */
void seg_header_encode(uint8_t out[SEG_HEADER_BYTES], uint32_t segment_id) {
  assert(segment_id >= 1 && segment_id <= SEG_ID_MAX);
  memset(out, 0, SEG_HEADER_BYTES);
  memcpy(out, SEG_MAGIC, 8);
  put_le32(out + 8, SEG_FORMAT_VERSION);
  put_le32(out + 12, SEG_HEADER_BYTES);
  put_le32(out + 16, segment_id);
  put_le32(out + 20, 0);
  put_le32(out + SEG_HEADER_CRC_OFFSET, crc32c(0, out, SEG_HEADER_CRC_OFFSET));
}

int seg_header_decode(const uint8_t *in, size_t len, uint32_t *segment_id) {
  if (len < SEG_HEADER_BYTES) return -EBADMSG; /* a file cut inside its header never became durable */
  if (memcmp(in, SEG_MAGIC, 8) != 0) return -EBADMSG;
  if (get_le32(in + SEG_HEADER_CRC_OFFSET) != crc32c(0, in, SEG_HEADER_CRC_OFFSET)) return -EBADMSG;
  if (get_le32(in + 8) != SEG_FORMAT_VERSION) return -EPROTONOSUPPORT;
  if (get_le32(in + 12) != SEG_HEADER_BYTES) return -EBADMSG;
  uint32_t id = get_le32(in + 16);
  if (id == 0 || id > SEG_ID_MAX) return -EBADMSG;
  *segment_id = id;
  return 0;
}

static bool record_lengths_ok(uint8_t kind, size_t mh_len, size_t data_len) {
  if (mh_len == 0 || mh_len > MH_BYTES_MAX) return false;
  if (kind == SEG_KIND_BLOCK) return data_len <= BLOCK_BYTES_MAX;
  if (kind == SEG_KIND_TOMBSTONE) return data_len == SEG_TOMBSTONE_BYTES;
  return false;
}

size_t seg_record_encode(uint8_t *out, uint8_t kind, const uint8_t *mh, size_t mh_len,
                         const void *data, size_t data_len) {
  assert(out && mh && (data || data_len == 0));
  assert(record_lengths_ok(kind, mh_len, data_len));
  memcpy(out + SEG_RECORD_HEADER_BYTES, mh, mh_len);
  if (data_len) memcpy(out + SEG_RECORD_HEADER_BYTES + mh_len, data, data_len);
  uint32_t body_crc = crc32c(0, out + SEG_RECORD_HEADER_BYTES, mh_len + data_len);
  put_le32(out, SEG_RECORD_MAGIC);
  out[4] = kind;
  out[5] = 0;
  put_le16(out + 6, (uint16_t)mh_len);
  put_le32(out + 8, (uint32_t)data_len);
  put_le32(out + 12, body_crc);
  put_le32(out + 16, crc32c(0, out, 16));
  return seg_record_bytes(mh_len, data_len);
}

int seg_record_header_decode(const uint8_t in[SEG_RECORD_HEADER_BYTES], seg_record_t *out) {
  if (get_le32(in) != SEG_RECORD_MAGIC) return -EBADMSG;
  if (get_le32(in + 16) != crc32c(0, in, 16)) return -EBADMSG;
  uint8_t kind = in[4];
  uint16_t mh_len = get_le16(in + 6);
  uint32_t data_len = get_le32(in + 8);
  if (in[5] != 0 || !record_lengths_ok(kind, mh_len, data_len)) return -EBADMSG;
  out->kind = kind;
  out->mh_len = mh_len;
  out->data_len = data_len;
  out->body_crc = get_le32(in + 12);
  out->mh = out->data = NULL;
  out->body_ok = false;
  return 0;
}

bool seg_record_body_check(const seg_record_t *rec, const uint8_t *mh, const uint8_t *data) {
  uint32_t crc = crc32c(0, mh, rec->mh_len);
  crc = crc32c(crc, data, rec->data_len);
  return crc == rec->body_crc;
}

void seg_tombstone_encode(uint8_t out[SEG_TOMBSTONE_BYTES], uint32_t segment_id, uint64_t offset) {
  put_le32(out, segment_id);
  put_le32(out + 4, 0);
  put_le64(out + 8, offset);
}

int seg_tombstone_decode(const uint8_t *in, size_t len, uint32_t *segment_id, uint64_t *offset) {
  if (len != SEG_TOMBSTONE_BYTES || get_le32(in + 4) != 0) return -EBADMSG;
  *segment_id = get_le32(in);
  *offset = get_le64(in + 8);
  return 0;
}

/* ---- scanning ---- */

int seg_scan_open_fd(seg_scan_t *s, const io_backend_t *io, int fd, uint64_t start, uint64_t end) {
  assert(s && io && fd >= 0);
  memset(s, 0, sizeof *s);
  s->window_owned = malloc(SEG_SCAN_WINDOW_BYTES);
  if (!s->window_owned) return -ENOMEM;
  s->io = io;
  s->fd = fd;
  s->end = end;
  s->offset = start;
  s->window = s->window_owned;
  s->window_offset = start;
  s->window_len = 0;
  return 0;
}

void seg_scan_open_mem(seg_scan_t *s, const uint8_t *bytes, uint64_t start, uint64_t end) {
  assert(s && (bytes || end == 0));
  memset(s, 0, sizeof *s);
  s->fd = -1;
  s->end = end;
  s->offset = start;
  s->window = bytes;
  s->window_offset = 0;
  s->window_len = (size_t)end;
}

void seg_scan_close(seg_scan_t *s) {
  if (!s) return;
  free(s->window_owned);
  s->window_owned = NULL;
  s->window = NULL;
}

/* Makes [offset, offset + len) available in the window; 0, -EAGAIN past the
 * end, or an I/O error.  len <= SEG_RECORD_BYTES_MAX. */
static int scan_need(seg_scan_t *s, uint64_t offset, size_t len) {
  assert(len <= SEG_RECORD_BYTES_MAX);
  if (offset > s->end || s->end - offset < len) return -EAGAIN;
  if (offset >= s->window_offset && offset + len <= s->window_offset + s->window_len) return 0;
  if (!s->io) return -EAGAIN; /* memory: the window is everything */
  uint64_t want = s->end - offset;
  if (want > SEG_SCAN_WINDOW_BYTES) want = SEG_SCAN_WINDOW_BYTES;
  ssize_t n = io_pread(s->io, s->fd, s->window_owned, (size_t)want, offset);
  if (n < 0) return (int)n;
  s->window_offset = offset;
  s->window_len = (size_t)n;
  if ((size_t)n < len) return -EAGAIN; /* the file shrank under us */
  return 0;
}

int seg_scan_next(seg_scan_t *s, seg_record_t *rec) {
  assert(s && rec);
  memset(rec, 0, sizeof *rec);
  rec->offset = s->offset;
  if (s->offset == s->end) return 0;
  if (s->offset > s->end) return -EAGAIN;
  int rc = scan_need(s, s->offset, SEG_RECORD_HEADER_BYTES);
  if (rc) return rc;
  const uint8_t *head = s->window + (s->offset - s->window_offset);
  rc = seg_record_header_decode(head, rec);
  if (rc) return rc;
  rec->offset = s->offset;
  size_t total = seg_record_bytes(rec->mh_len, rec->data_len);
  rc = scan_need(s, s->offset, total);
  if (rc) return rc;
  head = s->window + (s->offset - s->window_offset);
  rec->mh = head + SEG_RECORD_HEADER_BYTES;
  rec->data = rec->mh + rec->mh_len;
  rec->body_ok = seg_record_body_check(rec, rec->mh, rec->data);
  s->offset += total;
  return 1;
}
