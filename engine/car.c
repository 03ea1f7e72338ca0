/*
 * car: CARv1 export and CARv1/v2 import (see car.h).
 *
 * CBOR is read with libcbor's streaming decoder one data item at a time: it
 * allocates nothing, so a hostile header cannot make us reserve memory for a
 * declared-but-absent array, and nesting costs no recursion.  The few items a
 * CAR header may contain are checked against the DAG-CBOR shape here.  The
 * export header is small and fixed in shape, so it is written by hand.
 */
#include "car.h"

#include <assert.h>
#include <cbor.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "links.h"
#include "varint.h"

#define CBOR_TAG_CID 42
#define READ_BUF_BYTES 65536
#define SECTION_BYTES_MAX ((uint64_t)CID_BYTES_MAX + BLOCK_BYTES_MAX)
#define V2_DATA_OFFSET_MIN (CAR_V2_PRAGMA_BYTES + CAR_V2_HEADER_BYTES)


static const char *cid_text(const cid_t *c, char buf[CID_TEXT_BYTES_MAX]) {
  if (cid_format_default(c, buf) != 0) snprintf(buf, CID_TEXT_BYTES_MAX, "(unprintable CID)");
  return buf;
}

/* ---- one CBOR data item at a time ---- */

enum item_kind {
  ITEM_NONE, ITEM_UINT, ITEM_NEGINT, ITEM_BYTES, ITEM_TEXT, ITEM_ARRAY, ITEM_MAP, ITEM_TAG,
  ITEM_INDEFINITE, /* start of an indefinite string, array or map (not DAG-CBOR) */
  ITEM_BREAK, ITEM_FLOAT, ITEM_SIMPLE,
};

typedef struct item {
  enum item_kind kind;
  uint64_t value;        /* uint/negint argument, array/map size, tag number */
  const uint8_t *bytes;  /* bytes/text payload */
  size_t len;            /* payload bytes */
} item_t;

static void cb_u8(void *c, uint8_t v) { item_t *i = c; i->kind = ITEM_UINT; i->value = v; }
static void cb_u16(void *c, uint16_t v) { item_t *i = c; i->kind = ITEM_UINT; i->value = v; }
static void cb_u32(void *c, uint32_t v) { item_t *i = c; i->kind = ITEM_UINT; i->value = v; }
static void cb_u64(void *c, uint64_t v) { item_t *i = c; i->kind = ITEM_UINT; i->value = v; }
static void cb_n8(void *c, uint8_t v) { item_t *i = c; i->kind = ITEM_NEGINT; i->value = v; }
static void cb_n16(void *c, uint16_t v) { item_t *i = c; i->kind = ITEM_NEGINT; i->value = v; }
static void cb_n32(void *c, uint32_t v) { item_t *i = c; i->kind = ITEM_NEGINT; i->value = v; }
static void cb_n64(void *c, uint64_t v) { item_t *i = c; i->kind = ITEM_NEGINT; i->value = v; }
static void cb_bytes(void *c, cbor_data d, size_t n) { item_t *i = c; i->kind = ITEM_BYTES; i->bytes = d; i->len = n; }
static void cb_text(void *c, cbor_data d, size_t n) { item_t *i = c; i->kind = ITEM_TEXT; i->bytes = d; i->len = n; }
static void cb_indef(void *c) { item_t *i = c; i->kind = ITEM_INDEFINITE; }
static void cb_array(void *c, size_t n) { item_t *i = c; i->kind = ITEM_ARRAY; i->value = n; }
static void cb_map(void *c, size_t n) { item_t *i = c; i->kind = ITEM_MAP; i->value = n; }
static void cb_tag(void *c, uint64_t v) { item_t *i = c; i->kind = ITEM_TAG; i->value = v; }
static void cb_f4(void *c, float v) { item_t *i = c; (void)v; i->kind = ITEM_FLOAT; }
static void cb_f8(void *c, double v) { item_t *i = c; (void)v; i->kind = ITEM_FLOAT; }
static void cb_simple(void *c) { item_t *i = c; i->kind = ITEM_SIMPLE; }
static void cb_bool(void *c, bool v) { item_t *i = c; (void)v; i->kind = ITEM_SIMPLE; }
static void cb_break(void *c) { item_t *i = c; i->kind = ITEM_BREAK; }

static const struct cbor_callbacks item_callbacks = {
    .uint8 = cb_u8, .uint16 = cb_u16, .uint32 = cb_u32, .uint64 = cb_u64,
    .negint8 = cb_n8, .negint16 = cb_n16, .negint32 = cb_n32, .negint64 = cb_n64,
    .byte_string = cb_bytes, .byte_string_start = cb_indef,
    .string = cb_text, .string_start = cb_indef,
    .array_start = cb_array, .indef_array_start = cb_indef,
    .map_start = cb_map, .indef_map_start = cb_indef,
    .tag = cb_tag,
    .float2 = cb_f4, .float4 = cb_f4, .float8 = cb_f8,
    .undefined = cb_simple, .null = cb_simple, .boolean = cb_bool,
    .indef_break = cb_break,
};

/* Bytes a CBOR head with argument v takes when minimal. */
static size_t head_bytes(uint64_t v) {
  return v < 24 ? 1 : v <= UINT8_MAX ? 2 : v <= UINT16_MAX ? 3 : v <= UINT32_MAX ? 5 : 9;
}

/* Decodes the item at in[*pos..len).  *minimal says whether its head used the
 * shortest form (only meaningful for ints, strings, arrays, maps and tags).
 * 0, or -EINVAL when the bytes are not a complete CBOR item head. */
static int next_item(const uint8_t *in, size_t len, size_t *pos, item_t *it, bool *minimal) {
  memset(it, 0, sizeof *it);
  if (*pos >= len) return -EINVAL;
  struct cbor_decoder_result r = cbor_stream_decode(in + *pos, len - *pos, &item_callbacks, it);
  if (r.status != CBOR_DECODER_FINISHED || r.read == 0 || it->kind == ITEM_NONE) return -EINVAL;
  size_t expect = 0;
  switch (it->kind) {
  case ITEM_UINT: case ITEM_NEGINT: case ITEM_ARRAY: case ITEM_MAP: case ITEM_TAG:
    expect = head_bytes(it->value);
    break;
  case ITEM_BYTES: case ITEM_TEXT:
    expect = head_bytes(it->len) + it->len;
    break;
  default:
    expect = r.read;
    break;
  }
  *minimal = expect == r.read;
  *pos += r.read;
  return 0;
}

/* ---- the header ---- */

typedef struct header {
  uint64_t version;
  bool has_roots;
  cid_t *roots;      /* heap, roots_len entries */
  size_t roots_len;
} header_t;

static int parse_cid_item(const item_t *it, cid_t *out) {
  if (it->kind != ITEM_BYTES || it->len < 2 || it->bytes[0] != 0x00) return -EINVAL;
  int used = cid_from_bytes(out, it->bytes + 1, it->len - 1);
  if (used < 0 || (size_t)used != it->len - 1) return -EINVAL;
  return 0;
}

static int parse_header(const uint8_t *in, size_t len, header_t *h) {
  memset(h, 0, sizeof *h);
  size_t pos = 0;
  item_t it;
  bool minimal;
#define BAD(...) err_set(-EINVAL, "CAR header: " __VA_ARGS__)
  if (next_item(in, len, &pos, &it, &minimal) || it.kind != ITEM_MAP)
    return BAD("not a definite-length CBOR map");
  if (!minimal) return BAD("non-minimal map length");
  if (it.value < 1 || it.value > 2) return BAD("map has %llu entries", (unsigned long long)it.value);
  size_t entries = (size_t)it.value;
  bool has_version = false;
  for (size_t e = 0; e < entries; e++) {
    if (next_item(in, len, &pos, &it, &minimal) || it.kind != ITEM_TEXT || !minimal)
      return BAD("map key is not a definite text string");
    bool is_roots = it.len == 5 && memcmp(it.bytes, "roots", 5) == 0;
    bool is_version = it.len == 7 && memcmp(it.bytes, "version", 7) == 0;
    if (!is_roots && !is_version) return BAD("unknown key '%.*s'", (int)(it.len > 32 ? 32 : it.len), it.bytes);
    if ((is_roots && h->has_roots) || (is_version && has_version)) return BAD("duplicate key");
    if (is_roots && has_version) return BAD("keys not in DAG-CBOR order (\"roots\" first)");
    if (is_version) {
      if (next_item(in, len, &pos, &it, &minimal) || it.kind != ITEM_UINT || !minimal)
        return BAD("version is not a minimal unsigned integer");
      h->version = it.value;
      has_version = true;
      continue;
    }
    if (next_item(in, len, &pos, &it, &minimal) || it.kind != ITEM_ARRAY || !minimal)
      return BAD("roots is not a definite-length array");
    if (it.value > CAR_ROOTS_MAX)
      return err_set(-E2BIG, "CAR header: %llu roots (max %d)", (unsigned long long)it.value, CAR_ROOTS_MAX);
    h->has_roots = true;
    h->roots_len = (size_t)it.value;
    if (h->roots_len) {
      h->roots = calloc(h->roots_len, sizeof *h->roots);
      if (!h->roots) return -ENOMEM;
    }
    for (size_t i = 0; i < h->roots_len; i++) {
      if (next_item(in, len, &pos, &it, &minimal) || it.kind != ITEM_TAG || !minimal ||
          it.value != CBOR_TAG_CID)
        return BAD("root %zu is not a tag-42 link", i);
      if (next_item(in, len, &pos, &it, &minimal) || !minimal || parse_cid_item(&it, &h->roots[i]))
        return BAD("root %zu is not 0x00 followed by a binary CID", i);
    }
  }
  if (pos != len) return BAD("%zu bytes after the map", len - pos);
  if (!has_version) return BAD("no version");
#undef BAD
  return 0;
}

/* ---- buffered reading ---- */

typedef struct reader {
  car_read_fn read;
  void *ctx;
  uint64_t offset;  /* bytes consumed so far (for messages and CARv2 bounds) */
  size_t pos, len;  /* window into buf */
  bool eof;
  uint8_t buf[READ_BUF_BYTES];
} reader_t;

/* Makes at least one byte available; 1, 0 at EOF, or the read error. */
static int rd_fill(reader_t *r) {
  if (r->pos < r->len) return 1;
  if (r->eof) return 0;
  ssize_t n = r->read(r->ctx, r->buf, sizeof r->buf);
  if (n < 0) return (int)n;
  if ((size_t)n > sizeof r->buf) return err_set(-EIO, "CAR read callback returned too much");
  r->pos = 0;
  r->len = (size_t)n;
  if (n == 0) r->eof = true;
  return n > 0;
}

static int rd_exact(reader_t *r, void *dst, size_t n, const char *what) {
  uint8_t *out = dst;
  while (n) {
    int rc = rd_fill(r);
    if (rc < 0) return rc;
    if (rc == 0) return err_set(-EINVAL, "CAR truncated in %s at byte %llu", what, (unsigned long long)r->offset);
    size_t take = r->len - r->pos < n ? r->len - r->pos : n;
    if (out) {
      memcpy(out, r->buf + r->pos, take);
      out += take;
    }
    r->pos += take;
    r->offset += take;
    n -= take;
  }
  return 0;
}

/* Reads a multiformats varint.  *at_eof is set (and 0 returned) when the
 * input ends cleanly before its first byte. */
static int rd_varint(reader_t *r, uint64_t *v, bool *at_eof, const char *what) {
  uint8_t tmp[VARINT_BYTES_MAX];
  size_t n = 0;
  *at_eof = false;
  uint64_t start = r->offset;
  for (;;) {
    int rc = rd_fill(r);
    if (rc < 0) return rc;
    if (rc == 0) {
      if (n == 0) { *at_eof = true; return 0; }
      return err_set(-EINVAL, "CAR truncated in %s at byte %llu", what, (unsigned long long)start);
    }
    tmp[n++] = r->buf[r->pos++];
    r->offset++;
    if ((tmp[n - 1] & 0x80) == 0) break;
    if (n == VARINT_BYTES_MAX)
      return err_set(-EINVAL, "CAR %s at byte %llu: varint too long", what, (unsigned long long)start);
  }
  int used = varint_decode(tmp, n, v);
  if (used < 0 || (size_t)used != n)
    return err_set(-EINVAL, "CAR %s at byte %llu: non-minimal varint", what, (unsigned long long)start);
  return 0;
}

/* Reads a varint-prefixed CARv1 header into *h (and its bytes into scratch). */
static int read_header(reader_t *r, buf_t *scratch, header_t *h) {
  uint64_t len;
  bool at_eof;
  int rc = rd_varint(r, &len, &at_eof, "header length");
  if (rc) return rc;
  if (at_eof) return err_set(-EINVAL, "CAR is empty");
  if (len == 0) return err_set(-EINVAL, "CAR header length is 0");
  if (len > CAR_HEADER_BYTES_MAX)
    return err_set(-E2BIG, "CAR header of %llu bytes (max %u)", (unsigned long long)len, CAR_HEADER_BYTES_MAX);
  buf_reset(scratch);
  rc = buf_reserve(scratch, (size_t)len);
  if (rc) return rc;
  rc = rd_exact(r, scratch->data, (size_t)len, "header");
  if (rc) return rc;
  scratch->len = (size_t)len;
  return parse_header(scratch->data, scratch->len, h);
}

static uint64_t le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* Reads sections until EOF (v1) or until `end` bytes have been consumed (v2). */
static int read_sections(reader_t *r, bool bounded, uint64_t end, buf_t *scratch,
                         const block_sink_t *sink, uint64_t *blocks) {
  for (;;) {
    if (bounded && r->offset == end) return 0;
    uint64_t at = r->offset;
    uint64_t len;
    bool at_eof;
    int rc = rd_varint(r, &len, &at_eof, "section length");
    if (rc) return rc;
    if (at_eof) {
      if (bounded) return err_set(-EINVAL, "CARv2 data payload truncated at byte %llu", (unsigned long long)at);
      return 0;
    }
    if (len == 0) return err_set(-EINVAL, "CAR section at byte %llu has length 0", (unsigned long long)at);
    if (len > SECTION_BYTES_MAX)
      return err_set(-E2BIG, "CAR section at byte %llu is %llu bytes (max %llu)", (unsigned long long)at,
                     (unsigned long long)len, (unsigned long long)SECTION_BYTES_MAX);
    if (bounded && (r->offset > end || len > end - r->offset))
      return err_set(-EINVAL, "CAR section at byte %llu crosses the end of the CARv2 data payload",
                     (unsigned long long)at);
    buf_reset(scratch);
    rc = buf_reserve(scratch, (size_t)len);
    if (rc) return rc;
    rc = rd_exact(r, scratch->data, (size_t)len, "section");
    if (rc) return rc;
    scratch->len = (size_t)len;
    cid_t cid;
    int used = cid_from_bytes(&cid, scratch->data, scratch->len);
    if (used < 0) return err_set(-EINVAL, "CAR section at byte %llu: bad CID", (unsigned long long)at);
    const uint8_t *data = scratch->data + used;
    size_t data_len = scratch->len - (size_t)used;
    if (data_len > BLOCK_BYTES_MAX)
      return err_set(-E2BIG, "CAR section at byte %llu: block of %zu bytes (max %u)", (unsigned long long)at,
                     data_len, BLOCK_BYTES_MAX);
    char t[CID_TEXT_BYTES_MAX];
    int ok = mh_verify(&cid.hash, data, data_len);
    if (ok == -ENOTSUP)
      return err_set(-ENOTSUP, "CAR section at byte %llu: cannot verify hash 0x%llx of %s",
                     (unsigned long long)at, (unsigned long long)cid.hash.code, cid_text(&cid, t));
    if (ok != 1)
      return err_set(-EINVAL, "CAR section at byte %llu: block does not match its CID %s",
                     (unsigned long long)at, cid_text(&cid, t));
    if (cid.hash.code == MH_IDENTITY) continue; /* verified; nothing to store */
    rc = sink->put(sink->ctx, &cid, data, data_len);
    if (rc) return rc;
    (*blocks)++;
  }
}

int car_import(car_read_fn read, void *read_ctx, const block_sink_t *sink,
               void (*on_root)(void *ctx, const cid_t *root), void *root_ctx,
               uint64_t *blocks_out) {
  assert(read && sink && sink->put);
  uint64_t blocks = 0;
  if (blocks_out) *blocks_out = 0;
  reader_t *r = calloc(1, sizeof *r);
  if (!r) return -ENOMEM;
  r->read = read;
  r->ctx = read_ctx;
  buf_t scratch = {0};
  header_t h = {0};
  bool bounded = false;
  uint64_t end = 0;
  int rc = read_header(r, &scratch, &h);
  if (rc == 0 && h.version == 2) {
    /* CARv2: the pragma was {"version": 2} (the strict parse above admits only
     * its one encoding, 0a a1 67 "version" 02); then the fixed header,
     * padding, a CARv1. */
    if (h.has_roots) rc = err_set(-EINVAL, "CARv2 pragma with roots");
    uint8_t v2[CAR_V2_HEADER_BYTES] = {0};
    if (rc == 0) rc = rd_exact(r, v2, sizeof v2, "CARv2 header");
    uint64_t data_offset = le64(v2 + 16), data_size = le64(v2 + 24), index_offset = le64(v2 + 32);
    if (rc == 0) {
      if (data_offset < V2_DATA_OFFSET_MIN)
        rc = err_set(-EINVAL, "CARv2 data offset %llu inside the header", (unsigned long long)data_offset);
      else if (data_size == 0 || data_offset + data_size < data_offset)
        rc = err_set(-EINVAL, "CARv2 data size %llu invalid", (unsigned long long)data_size);
      else if (index_offset != 0 && index_offset < data_offset + data_size)
        rc = err_set(-EINVAL, "CARv2 index offset %llu overlaps the data", (unsigned long long)index_offset);
    }
    if (rc == 0) rc = rd_exact(r, NULL, data_offset - V2_DATA_OFFSET_MIN, "CARv2 padding");
    if (rc == 0) {
      free(h.roots);
      memset(&h, 0, sizeof h);
      bounded = true;
      end = data_offset + data_size;
      rc = read_header(r, &scratch, &h);
      if (rc == 0 && r->offset > end) rc = err_set(-EINVAL, "CARv2 inner header crosses the end of the data");
      if (rc == 0 && h.version != 1)
        rc = err_set(-EINVAL, "CARv2 payload has version %llu, not 1", (unsigned long long)h.version);
    }
  } else if (rc == 0 && h.version != 1) {
    rc = err_set(-EINVAL, "unsupported CAR version %llu", (unsigned long long)h.version);
  }
  if (rc == 0 && !h.has_roots) rc = err_set(-EINVAL, "CAR header: no roots");
  if (rc == 0 && on_root)
    for (size_t i = 0; i < h.roots_len; i++) on_root(root_ctx, &h.roots[i]);
  if (rc == 0) rc = read_sections(r, bounded, end, &scratch, sink, &blocks);
  if (blocks_out) *blocks_out = blocks;
  free(h.roots);
  buf_free(&scratch);
  free(r);
  return rc;
}

/* ---- export ---- */

/* The set of CIDs already written: open addressing over their binary forms,
 * which live in an arena. */
typedef struct seen {
  uint64_t *slots;  /* 0 = empty, else arena offset + 1 */
  size_t cap;       /* power of two */
  size_t len;
  buf_t arena;      /* [len byte][cid bytes]... */
} seen_t;

static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ULL; }
  return h;
}

/* 1 when added, 0 when already present, -ENOMEM. */
static int seen_add(seen_t *s, const uint8_t *cid, size_t n) {
  assert(n > 0 && n <= UINT8_MAX);
  if ((s->len + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 1024;
    uint64_t *slots = calloc(cap, sizeof *slots);
    if (!slots) return -ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
      if (!s->slots[i]) continue;
      const uint8_t *e = s->arena.data + s->slots[i] - 1;
      size_t j = fnv1a(e + 1, e[0]) & (cap - 1);
      while (slots[j]) j = (j + 1) & (cap - 1);
      slots[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
  }
  size_t j = fnv1a(cid, n) & (s->cap - 1);
  for (; s->slots[j]; j = (j + 1) & (s->cap - 1)) {
    const uint8_t *e = s->arena.data + s->slots[j] - 1;
    if (e[0] == n && memcmp(e + 1, cid, n) == 0) return 0;
  }
  uint64_t off = s->arena.len;
  int rc = buf_append_byte(&s->arena, (uint8_t)n);
  if (rc == 0) rc = buf_append(&s->arena, cid, n);
  if (rc) return rc;
  s->slots[j] = off + 1;
  s->len++;
  return 1;
}

static void seen_free(seen_t *s) {
  free(s->slots);
  buf_free(&s->arena);
  memset(s, 0, sizeof *s);
}

/* The DFS stack: entries [cid bytes][depth u16 LE][cid length u8], popped from the end. */
typedef struct stack {
  buf_t bytes;
} dfs_stack_t;

static int stack_push(dfs_stack_t *st, const cid_t *c, unsigned depth) {
  if (depth > CAR_EXPORT_DEPTH_MAX)
    return err_set(-E2BIG, "CAR export: DAG deeper than %d", CAR_EXPORT_DEPTH_MAX);
  uint8_t tmp[CID_BYTES_MAX + 3];
  size_t n = cid_to_bytes(c, tmp);
  assert(n > 0 && n <= UINT8_MAX);
  tmp[n] = (uint8_t)depth;
  tmp[n + 1] = (uint8_t)(depth >> 8);
  tmp[n + 2] = (uint8_t)n;
  if (st->bytes.len + n + 3 > CAR_EXPORT_PENDING_BYTES_MAX)
    return err_set(-E2BIG, "CAR export: more than %u bytes of pending links", CAR_EXPORT_PENDING_BYTES_MAX);
  return buf_append(&st->bytes, tmp, n + 3);
}

/* Pops into cid_bytes/len/depth; false when empty. */
static bool stack_pop(dfs_stack_t *st, uint8_t *cid_bytes, size_t *len, unsigned *depth) {
  if (st->bytes.len == 0) return false;
  const uint8_t *top = st->bytes.data + st->bytes.len;
  size_t n = top[-1];
  assert(st->bytes.len >= n + 3);
  *depth = (unsigned)top[-3] | (unsigned)top[-2] << 8;
  memcpy(cid_bytes, top - 3 - n, n);
  *len = n;
  st->bytes.len -= n + 3;
  return true;
}

/* The links of a block (links.h); a block that does not decode as its codec
 * is a broken DAG here: -EIO naming it. */
static int block_links(const cid_t *c, const uint8_t *block, size_t len, buf_t *links) {
  int rc = links_of(c, block, len, links);
  if (rc == -EINVAL) {
    char t[CID_TEXT_BYTES_MAX];
    return err_set(-EIO, "CAR export: block %s: %s", cid_text(c, t), err_msg(rc));
  }
  return rc;
}

ssize_t car_write_header(const cid_t *root, car_write_fn write, void *ctx) {
  uint8_t cid_bytes[CID_BYTES_MAX];
  size_t n = cid_to_bytes(root, cid_bytes);
  uint8_t h[32 + CID_BYTES_MAX];
  size_t k = 0;
  h[k++] = 0xa2; /* map(2) */
  h[k++] = 0x65; memcpy(h + k, "roots", 5); k += 5;
  h[k++] = 0x81; /* array(1) */
  h[k++] = 0xd8; h[k++] = CBOR_TAG_CID;
  size_t blen = n + 1; /* 0x00 multibase-identity prefix + CID */
  if (blen < 24) {
    h[k++] = (uint8_t)(0x40 | blen);
  } else {
    assert(blen <= UINT8_MAX);
    h[k++] = 0x58;
    h[k++] = (uint8_t)blen;
  }
  h[k++] = 0x00;
  memcpy(h + k, cid_bytes, n); k += n;
  h[k++] = 0x67; memcpy(h + k, "version", 7); k += 7;
  h[k++] = 0x01;
  assert(k <= sizeof h);
  uint8_t prefix[VARINT_BYTES_MAX];
  size_t p = varint_encode(k, prefix);
  int rc = write(ctx, prefix, p);
  if (!rc) rc = write(ctx, h, k);
  return rc ? rc : (ssize_t)(p + k);
}

ssize_t car_write_section(const cid_t *cid, const uint8_t *data, size_t len, car_write_fn write, void *ctx) {
  uint8_t cid_bytes[CID_BYTES_MAX], prefix[VARINT_BYTES_MAX];
  size_t cn = cid_to_bytes(cid, cid_bytes);
  size_t p = varint_encode(cn + len, prefix);
  int rc = write(ctx, prefix, p);
  if (!rc) rc = write(ctx, cid_bytes, cn);
  if (!rc && len) rc = write(ctx, data, len);
  return rc ? rc : (ssize_t)(p + cn + len);
}

int car_export(const block_source_t *src, const cid_t *root, car_write_fn write, void *ctx) {
  assert(src && src->get && root && write);
  seen_t seen = {0};
  dfs_stack_t stack = {0};
  buf_t block = {0}, links = {0};
  int rc = (int)car_write_header(root, write, ctx);
  if (rc > 0) rc = 0;
  if (rc == 0) rc = stack_push(&stack, root, 0);
  uint8_t cid_bytes[CID_BYTES_MAX];
  size_t cid_len;
  unsigned depth;
  while (rc == 0 && stack_pop(&stack, cid_bytes, &cid_len, &depth)) {
    rc = seen_add(&seen, cid_bytes, cid_len);
    if (rc <= 0) continue; /* 0: already written */
    rc = 0;
    cid_t c;
    int used = cid_from_bytes(&c, cid_bytes, cid_len);
    assert(used == (int)cid_len);
    (void)used;
    bool identity = c.hash.code == MH_IDENTITY;
    if (identity) {
      buf_reset(&block);
      rc = buf_append(&block, c.hash.digest, c.hash.digest_len);
    } else {
      rc = src->get(src->ctx, &c, &block);
      if (rc == -ENOENT) {
        char t[CID_TEXT_BYTES_MAX];
        rc = err_set(-ENOENT, "CAR export: block %s not found", cid_text(&c, t));
      }
    }
    if (rc) break;
    if (!identity) {
      ssize_t w = car_write_section(&c, block.data, block.len, write, ctx);
      if (w < 0) {
        rc = (int)w;
        break;
      }
    }
    rc = block_links(&c, block.data, block.len, &links);
    if (rc) break;
    const cid_t *l = (const cid_t *)links.data;
    size_t count = links.len / sizeof *l;
    for (size_t i = count; i-- > 0 && rc == 0;) rc = stack_push(&stack, &l[i], depth + 1);
  }
  seen_free(&seen);
  buf_free(&stack.bytes);
  buf_free(&block);
  buf_free(&links);
  return rc;
}
