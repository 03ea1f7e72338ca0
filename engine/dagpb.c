/*
 * dagpb: canonical encoder and strict decoder for dag-pb (see dagpb.h).
 *
 * The protobuf is parsed by hand: there are only five fields, the canonical
 * form (Links before Data) is not what a generic protobuf encoder writes, and
 * the strictness rules (field order inside a link, no duplicates, minimal
 * varints) are easier to state here than to bolt onto a generator.
 */
#include "dagpb.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define PB_VARINT_BYTES_MAX 10
#define PB_WIRE_VARINT 0
#define PB_WIRE_BYTES 2

/* Tag bytes (field << 3 | wire type). */
#define TAG_NODE_DATA 0x0a  /* PBNode.Data = 1, bytes */
#define TAG_NODE_LINKS 0x12 /* PBNode.Links = 2, bytes */
#define TAG_LINK_HASH 0x0a  /* PBLink.Hash = 1, bytes */
#define TAG_LINK_NAME 0x12  /* PBLink.Name = 2, bytes */
#define TAG_LINK_TSIZE 0x18 /* PBLink.Tsize = 3, varint */

int dagpb_pb_varint_decode(const uint8_t *in, size_t len, uint64_t *value) {
  uint64_t v = 0;
  for (size_t i = 0; i < PB_VARINT_BYTES_MAX; i++) {
    if (i >= len) return -EINVAL; /* truncated */
    uint8_t byte = in[i];
    if (i == PB_VARINT_BYTES_MAX - 1 && byte > 1) return -EINVAL; /* beyond 64 bits */
    v |= (uint64_t)(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      if (byte == 0 && i > 0) return -EINVAL; /* non-minimal */
      *value = v;
      return (int)(i + 1);
    }
  }
  return -EINVAL; /* continuation bit on the 10th byte */
}

int dagpb_pb_varint_append(buf_t *out, uint64_t value) {
  uint8_t tmp[PB_VARINT_BYTES_MAX];
  size_t n = 0;
  do {
    assert(n < sizeof tmp);
    uint8_t byte = (uint8_t)(value & 0x7f);
    value >>= 7;
    tmp[n++] = (uint8_t)(byte | (value ? 0x80 : 0));
  } while (value);
  return buf_append(out, tmp, n);
}

int dagpb_name_cmp(const char *a, size_t a_len, const char *b, size_t b_len) {
  size_t n = a_len < b_len ? a_len : b_len;
  int c = n ? memcmp(a, b, n) : 0;
  if (c) return c;
  return a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}

/* ---- encode ---- */

static size_t varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) { v >>= 7; n++; }
  return n;
}

static int encode_link(const dagpb_link_t *l, buf_t *out) {
  const cid_t *c = &l->cid;
  bool v0_ok = c->codec == CODEC_DAG_PB && c->hash.code == MH_SHA2_256 &&
               c->hash.digest_len == MH_SHA2_256_BYTES;
  if (c->version > 1 || (c->version == 0 && !v0_ok) || c->hash.digest_len > MH_DIGEST_BYTES_MAX)
    return err_set(-EINVAL, "dag-pb encode: link has no valid CID");
  uint8_t cid_bytes[CID_BYTES_MAX];
  size_t cid_len = cid_to_bytes(c, cid_bytes);
  if (cid_len == 0) return err_set(-EINVAL, "dag-pb encode: link has no valid CID");
  size_t body = 1 + varint_len(cid_len) + cid_len;
  if (l->has_name) body += 1 + varint_len(l->name_len) + l->name_len;
  if (l->has_tsize) body += 1 + varint_len(l->tsize);
  int rc = 0;
  rc = rc ? rc : buf_append_byte(out, TAG_NODE_LINKS);
  rc = rc ? rc : dagpb_pb_varint_append(out, body);
  rc = rc ? rc : buf_append_byte(out, TAG_LINK_HASH);
  rc = rc ? rc : dagpb_pb_varint_append(out, cid_len);
  rc = rc ? rc : buf_append(out, cid_bytes, cid_len);
  if (l->has_name) {
    rc = rc ? rc : buf_append_byte(out, TAG_LINK_NAME);
    rc = rc ? rc : dagpb_pb_varint_append(out, l->name_len);
    rc = rc ? rc : buf_append(out, l->name, l->name_len);
  }
  if (l->has_tsize) {
    rc = rc ? rc : buf_append_byte(out, TAG_LINK_TSIZE);
    rc = rc ? rc : dagpb_pb_varint_append(out, l->tsize);
  }
  return rc;
}

int dagpb_encode(const dagpb_node_t *node, buf_t *out) {
  assert(node && out);
  assert(node->links_len == 0 || node->links);
  assert(!node->has_data || node->data_len == 0 || node->data);
  if (node->links_len > DAGPB_LINKS_MAX)
    return err_set(-EINVAL, "dag-pb encode: %zu links (max %d)", node->links_len, DAGPB_LINKS_MAX);
  for (size_t i = 0; i < node->links_len; i++) {
    const dagpb_link_t *l = &node->links[i];
    if (!l->has_name && l->name_len)
      return err_set(-EINVAL, "dag-pb encode: link %zu has a name but has_name is false", i);
    if (l->name_len && !l->name) return err_set(-EINVAL, "dag-pb encode: link %zu name is NULL", i);
    if (i > 0) {
      const dagpb_link_t *p = &node->links[i - 1];
      if (dagpb_name_cmp(p->name, p->name_len, l->name, l->name_len) > 0)
        return err_set(-EINVAL, "dag-pb encode: links not sorted by name at %zu", i);
    }
  }
  size_t start = out->len;
  int rc = 0;
  for (size_t i = 0; i < node->links_len && rc == 0; i++) rc = encode_link(&node->links[i], out);
  if (rc == 0 && node->has_data) {
    rc = buf_append_byte(out, TAG_NODE_DATA);
    rc = rc ? rc : dagpb_pb_varint_append(out, node->data_len);
    rc = rc ? rc : buf_append(out, node->data, node->data_len);
  }
  if (rc) out->len = start;
  return rc;
}

/* ---- decode ---- */

/* Reads a length-delimited field body at in[*pos..len): its length varint,
 * then checks the body fits.  On success body and body_len describe it and
 * *pos is past it. */
static int read_bytes_field(const uint8_t *in, size_t len, size_t *pos, const char *what,
                            const uint8_t **body, size_t *body_len) {
  uint64_t n;
  int k = dagpb_pb_varint_decode(in + *pos, len - *pos, &n);
  if (k < 0) return err_set(-EINVAL, "dag-pb: bad length of %s at byte %zu", what, *pos);
  *pos += (size_t)k;
  if (n > len - *pos)
    return err_set(-EINVAL, "dag-pb: %s length %llu runs past the end at byte %zu", what,
                   (unsigned long long)n, *pos);
  *body = in + *pos;
  *body_len = (size_t)n;
  *pos += (size_t)n;
  return 0;
}

static int decode_link(const uint8_t *in, size_t len, size_t base, dagpb_link_t *l) {
  memset(l, 0, sizeof *l);
  size_t pos = 0;
  int last_field = 0; /* fields must come in increasing order, each once */
  bool has_hash = false;
  while (pos < len) {
    uint64_t key;
    int k = dagpb_pb_varint_decode(in + pos, len - pos, &key);
    if (k < 0) return err_set(-EINVAL, "dag-pb: bad link field key at byte %zu", base + pos);
    size_t key_at = base + pos;
    pos += (size_t)k;
    uint64_t field = key >> 3, wire = key & 7;
    if (field < 1 || field > 3)
      return err_set(-EINVAL, "dag-pb: unknown link field %llu at byte %zu",
                     (unsigned long long)field, key_at);
    if ((int)field == last_field)
      return err_set(-EINVAL, "dag-pb: duplicate link field %llu at byte %zu",
                     (unsigned long long)field, key_at);
    if ((int)field < last_field)
      return err_set(-EINVAL, "dag-pb: link field %llu out of order at byte %zu",
                     (unsigned long long)field, key_at);
    last_field = (int)field;
    if (field == 3) {
      if (wire != PB_WIRE_VARINT)
        return err_set(-EINVAL, "dag-pb: link Tsize has wire type %llu at byte %zu",
                       (unsigned long long)wire, key_at);
      k = dagpb_pb_varint_decode(in + pos, len - pos, &l->tsize);
      if (k < 0) return err_set(-EINVAL, "dag-pb: bad link Tsize at byte %zu", base + pos);
      pos += (size_t)k;
      l->has_tsize = true;
      continue;
    }
    if (wire != PB_WIRE_BYTES)
      return err_set(-EINVAL, "dag-pb: link %s has wire type %llu at byte %zu",
                     field == 1 ? "Hash" : "Name", (unsigned long long)wire, key_at);
    const uint8_t *body;
    size_t body_len;
    size_t body_pos = pos;
    int rc = read_bytes_field(in, len, &pos, field == 1 ? "link Hash" : "link Name", &body,
                              &body_len);
    if (rc) return rc;
    if (field == 1) {
      int used = cid_from_bytes(&l->cid, body, body_len);
      if (used < 0 || (size_t)used != body_len)
        return err_set(-EINVAL, "dag-pb: link Hash at byte %zu is not a binary CID",
                       base + body_pos);
      has_hash = true;
    } else {
      l->name = (const char *)body;
      l->name_len = body_len;
      l->has_name = true;
    }
  }
  if (!has_hash) return err_set(-EINVAL, "dag-pb: link at byte %zu has no Hash", base);
  return 0;
}

static int links_push(dagpb_node_t *node, size_t *cap, const dagpb_link_t *l) {
  if (node->links_len == *cap) {
    size_t grown = *cap ? *cap * 2 : 8;
    if (grown > DAGPB_LINKS_MAX) grown = DAGPB_LINKS_MAX;
    dagpb_link_t *links = realloc(node->links, grown * sizeof *links);
    if (!links) return -ENOMEM;
    node->links = links;
    *cap = grown;
  }
  node->links[node->links_len++] = *l;
  return 0;
}

int dagpb_decode(const uint8_t *block, size_t len, dagpb_node_t *node) {
  assert(node);
  assert(block || len == 0);
  memset(node, 0, sizeof *node);
  size_t pos = 0, cap = 0;
  bool links_done = false; /* a Links run ended (Data seen after links) */
  int rc = 0;
  while (pos < len) {
    uint64_t key;
    int k = dagpb_pb_varint_decode(block + pos, len - pos, &key);
    if (k < 0) { rc = err_set(-EINVAL, "dag-pb: bad field key at byte %zu", pos); break; }
    size_t key_at = pos;
    pos += (size_t)k;
    uint64_t field = key >> 3, wire = key & 7;
    if (field != 1 && field != 2) {
      rc = err_set(-EINVAL, "dag-pb: unknown node field %llu at byte %zu",
                   (unsigned long long)field, key_at);
      break;
    }
    if (wire != PB_WIRE_BYTES) {
      rc = err_set(-EINVAL, "dag-pb: node %s has wire type %llu at byte %zu",
                   field == 1 ? "Data" : "Links", (unsigned long long)wire, key_at);
      break;
    }
    const uint8_t *body;
    size_t body_len;
    size_t body_pos = pos;
    rc = read_bytes_field(block, len, &pos, field == 1 ? "Data" : "Links", &body, &body_len);
    if (rc) break;
    if (field == 1) {
      if (node->has_data) { rc = err_set(-EINVAL, "dag-pb: duplicate Data at byte %zu", key_at); break; }
      node->data = body;
      node->data_len = body_len;
      node->has_data = true;
      if (node->links_len) links_done = true;
      continue;
    }
    if (links_done) {
      rc = err_set(-EINVAL, "dag-pb: Links on both sides of Data at byte %zu", key_at);
      break;
    }
    if (node->links_len == DAGPB_LINKS_MAX) {
      rc = err_set(-E2BIG, "dag-pb: more than %d links", DAGPB_LINKS_MAX);
      break;
    }
    dagpb_link_t l;
    rc = decode_link(body, body_len, body_pos, &l);
    if (rc) break;
    rc = links_push(node, &cap, &l);
    if (rc) break;
  }
  if (rc) dagpb_node_free(node);
  return rc;
}

void dagpb_node_free(dagpb_node_t *node) {
  if (!node) return;
  free(node->links);
  memset(node, 0, sizeof *node);
}
