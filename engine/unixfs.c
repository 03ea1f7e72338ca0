/*
 * unixfs: encoder and strict decoder for the UnixFS Data message (see unixfs.h).
 *
 * The encoder writes exactly the bytes Kubo writes for the same fields: tag
 * order, blocksizes unpacked, proto2 semantics (a field is written when its
 * has_* flag says so, even when zero: the empty file's `18 00`).
 */
#include "unixfs.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dagpb.h"
#include "err.h"

#define WIRE_VARINT 0
#define WIRE_BYTES 2
#define WIRE_FIXED32 5

#define NANOS_MAX 999999999u

static int put_key(buf_t *out, uint32_t field, uint32_t wire) {
  return buf_append_byte(out, (uint8_t)(field << 3 | wire));
}

static int put_varint_field(buf_t *out, uint32_t field, uint64_t v) {
  int rc = put_key(out, field, WIRE_VARINT);
  return rc ? rc : dagpb_pb_varint_append(out, v);
}

static size_t pb_varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) { v >>= 7; n++; }
  return n;
}

int unixfs_encode(const unixfs_data_t *d, buf_t *out) {
  assert(d && out);
  assert(d->blocksizes_len == 0 || d->blocksizes);
  assert(!d->has_data || d->data_len == 0 || d->data);
  if (d->type > UNIXFS_HAMT_SHARD) return err_set(-EINVAL, "unixfs encode: unknown type %u", d->type);
  if (d->blocksizes_len > UNIXFS_BLOCKSIZES_MAX)
    return err_set(-EINVAL, "unixfs encode: %zu blocksizes (max %d)", d->blocksizes_len,
                   UNIXFS_BLOCKSIZES_MAX);
  if (d->has_mtime && d->has_mtime_nanos && (d->mtime_nanos < 1 || d->mtime_nanos > NANOS_MAX))
    return err_set(-EINVAL, "unixfs encode: mtime nanoseconds %u outside 1..%u", d->mtime_nanos,
                   NANOS_MAX);
  size_t start = out->len;
  int rc = put_varint_field(out, 1, d->type);
  if (!rc && d->has_data) {
    rc = put_key(out, 2, WIRE_BYTES);
    rc = rc ? rc : dagpb_pb_varint_append(out, d->data_len);
    rc = rc ? rc : buf_append(out, d->data, d->data_len);
  }
  if (!rc && d->has_filesize) rc = put_varint_field(out, 3, d->filesize);
  for (size_t i = 0; i < d->blocksizes_len && !rc; i++) rc = put_varint_field(out, 4, d->blocksizes[i]);
  if (!rc && d->has_hash_type) rc = put_varint_field(out, 5, d->hash_type);
  if (!rc && d->has_fanout) rc = put_varint_field(out, 6, d->fanout);
  if (!rc && d->has_mode) rc = put_varint_field(out, 7, d->mode);
  if (!rc && d->has_mtime) {
    uint64_t secs = (uint64_t)d->mtime_seconds; /* int64 on the wire: two's complement */
    size_t body = 1 + pb_varint_size(secs) + (d->has_mtime_nanos ? 5 : 0);
    rc = put_key(out, 8, WIRE_BYTES);
    rc = rc ? rc : dagpb_pb_varint_append(out, body);
    rc = rc ? rc : put_varint_field(out, 1, secs);
    if (!rc && d->has_mtime_nanos) {
      uint8_t le[4] = {(uint8_t)d->mtime_nanos, (uint8_t)(d->mtime_nanos >> 8),
                       (uint8_t)(d->mtime_nanos >> 16), (uint8_t)(d->mtime_nanos >> 24)};
      rc = put_key(out, 2, WIRE_FIXED32);
      rc = rc ? rc : buf_append(out, le, sizeof le);
    }
  }
  if (rc) out->len = start;
  return rc;
}

/* ---- decode ---- */

static int decode_mtime(const uint8_t *in, size_t len, unixfs_data_t *d) {
  size_t pos = 0;
  bool has_seconds = false;
  while (pos < len) {
    uint64_t key;
    int k = dagpb_pb_varint_decode(in + pos, len - pos, &key);
    if (k < 0) return err_set(-EINVAL, "unixfs: bad mtime field key");
    pos += (size_t)k;
    uint64_t field = key >> 3, wire = key & 7;
    if (field == 1) {
      if (wire != WIRE_VARINT) return err_set(-EINVAL, "unixfs: mtime Seconds has wire type %llu", (unsigned long long)wire);
      if (has_seconds) return err_set(-EINVAL, "unixfs: duplicate mtime Seconds");
      uint64_t v;
      k = dagpb_pb_varint_decode(in + pos, len - pos, &v);
      if (k < 0) return err_set(-EINVAL, "unixfs: bad mtime Seconds");
      pos += (size_t)k;
      d->mtime_seconds = (int64_t)v;
      has_seconds = true;
    } else if (field == 2) {
      if (wire != WIRE_FIXED32) return err_set(-EINVAL, "unixfs: mtime nanoseconds has wire type %llu", (unsigned long long)wire);
      if (d->has_mtime_nanos) return err_set(-EINVAL, "unixfs: duplicate mtime nanoseconds");
      if (len - pos < 4) return err_set(-EINVAL, "unixfs: truncated mtime nanoseconds");
      uint32_t v = (uint32_t)in[pos] | (uint32_t)in[pos + 1] << 8 | (uint32_t)in[pos + 2] << 16 |
                   (uint32_t)in[pos + 3] << 24;
      pos += 4;
      if (v < 1 || v > NANOS_MAX)
        return err_set(-EINVAL, "unixfs: mtime nanoseconds %u outside 1..%u", v, NANOS_MAX);
      d->mtime_nanos = v;
      d->has_mtime_nanos = true;
    } else {
      return err_set(-EINVAL, "unixfs: unknown mtime field %llu", (unsigned long long)field);
    }
  }
  if (!has_seconds) return err_set(-EINVAL, "unixfs: mtime without Seconds");
  d->has_mtime = true;
  return 0;
}

static int blocksizes_push(unixfs_data_t *d, size_t *cap, uint64_t v) {
  if (d->blocksizes_len == UNIXFS_BLOCKSIZES_MAX)
    return err_set(-E2BIG, "unixfs: more than %d blocksizes", UNIXFS_BLOCKSIZES_MAX);
  if (d->blocksizes_len == *cap) {
    size_t grown = *cap ? *cap * 2 : 8;
    if (grown > UNIXFS_BLOCKSIZES_MAX) grown = UNIXFS_BLOCKSIZES_MAX;
    uint64_t *b = realloc(d->blocksizes, grown * sizeof *b);
    if (!b) return -ENOMEM;
    d->blocksizes = b;
    *cap = grown;
  }
  d->blocksizes[d->blocksizes_len++] = v;
  return 0;
}

/* One field of the Data message at in[*pos..len); key already read. */
static int decode_field(const uint8_t *in, size_t len, size_t *pos, uint64_t field, uint64_t wire,
                        unixfs_data_t *d, size_t *bs_cap, bool *has_type) {
  static const char *const names[] = {"", "Type", "Data", "filesize", "blocksizes",
                                       "hashType", "fanout", "mode", "mtime"};
  if (field < 1 || field > 8)
    return err_set(-EINVAL, "unixfs: unknown field %llu", (unsigned long long)field);
  const char *name = names[field];
  bool bytes_field = field == 2 || field == 8 || (field == 4 && wire == WIRE_BYTES);
  if (!bytes_field && wire != WIRE_VARINT)
    return err_set(-EINVAL, "unixfs: %s has wire type %llu", name, (unsigned long long)wire);
  if ((field == 2 || field == 8) && wire != WIRE_BYTES)
    return err_set(-EINVAL, "unixfs: %s has wire type %llu", name, (unsigned long long)wire);
  bool *seen[] = {NULL, has_type, &d->has_data, &d->has_filesize, NULL,
                  &d->has_hash_type, &d->has_fanout, &d->has_mode, &d->has_mtime};
  if (seen[field] && *seen[field]) return err_set(-EINVAL, "unixfs: duplicate %s", name);

  if (bytes_field) {
    uint64_t n;
    int k = dagpb_pb_varint_decode(in + *pos, len - *pos, &n);
    if (k < 0) return err_set(-EINVAL, "unixfs: bad length of %s", name);
    *pos += (size_t)k;
    if (n > len - *pos) return err_set(-EINVAL, "unixfs: %s runs past the end", name);
    const uint8_t *body = in + *pos;
    *pos += (size_t)n;
    if (field == 2) {
      d->data = body;
      d->data_len = (size_t)n;
      d->has_data = true;
      return 0;
    }
    if (field == 8) return decode_mtime(body, (size_t)n, d);
    /* packed blocksizes */
    size_t p = 0;
    while (p < n) {
      uint64_t v;
      k = dagpb_pb_varint_decode(body + p, (size_t)n - p, &v);
      if (k < 0) return err_set(-EINVAL, "unixfs: bad packed blocksize");
      p += (size_t)k;
      int rc = blocksizes_push(d, bs_cap, v);
      if (rc) return rc;
    }
    return 0;
  }

  uint64_t v;
  int k = dagpb_pb_varint_decode(in + *pos, len - *pos, &v);
  if (k < 0) return err_set(-EINVAL, "unixfs: bad %s varint", name);
  *pos += (size_t)k;
  switch (field) {
  case 1:
    if (v > UNIXFS_HAMT_SHARD) return err_set(-EINVAL, "unixfs: unknown Type %llu", (unsigned long long)v);
    d->type = (uint32_t)v;
    *has_type = true;
    return 0;
  case 3: d->filesize = v; d->has_filesize = true; return 0;
  case 4: return blocksizes_push(d, bs_cap, v);
  case 5: d->hash_type = v; d->has_hash_type = true; return 0;
  case 6: d->fanout = v; d->has_fanout = true; return 0;
  case 7:
    if (v > UINT32_MAX) return err_set(-EINVAL, "unixfs: mode %llu does not fit uint32", (unsigned long long)v);
    d->mode = (uint32_t)v;
    d->has_mode = true;
    return 0;
  }
  assert(0 && "unreachable");
  return -EINVAL;
}

int unixfs_decode(const uint8_t *in, size_t len, unixfs_data_t *d) {
  assert(d);
  assert(in || len == 0);
  memset(d, 0, sizeof *d);
  size_t pos = 0, bs_cap = 0;
  bool has_type = false;
  int rc = 0;
  while (pos < len && rc == 0) {
    uint64_t key;
    int k = dagpb_pb_varint_decode(in + pos, len - pos, &key);
    if (k < 0) { rc = err_set(-EINVAL, "unixfs: bad field key at byte %zu", pos); break; }
    pos += (size_t)k;
    rc = decode_field(in, len, &pos, key >> 3, key & 7, d, &bs_cap, &has_type);
  }
  if (rc == 0 && !has_type) rc = err_set(-EINVAL, "unixfs: no Type");
  if (rc) unixfs_data_free(d);
  return rc;
}

void unixfs_data_free(unixfs_data_t *d) {
  if (!d) return;
  free(d->blocksizes);
  memset(d, 0, sizeof *d);
}
