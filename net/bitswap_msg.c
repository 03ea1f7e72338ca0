/*
 * bitswap_msg: the Bitswap message codec over protoc-c's generated code and
 * the server's per-peer ledger rules (bitswap.h).  No threads, no host: the
 * unit tests and the fuzz target drive these directly.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bitswap.h"
#include "bitswap.pb-c.h"
#include "err.h"
#include "varint.h"

typedef P2p__BitswapMessage pb_msg_t;
typedef P2p__BitswapMessage__Wantlist pb_wantlist_t;
typedef P2p__BitswapMessage__Wantlist__Entry pb_entry_t;
typedef P2p__BitswapMessage__Block pb_block_t;
typedef P2p__BitswapMessage__BlockPresence pb_presence_t;

int bitswap_version_of(const char *protocol, bitswap_version_t *out) {
  assert(protocol && out);
  if (!strcmp(protocol, BITSWAP_PROTOCOL_120)) *out = BITSWAP_V120;
  else if (!strcmp(protocol, BITSWAP_PROTOCOL_110)) *out = BITSWAP_V110;
  else if (!strcmp(protocol, BITSWAP_PROTOCOL_100) || !strcmp(protocol, BITSWAP_PROTOCOL_LEGACY))
    *out = BITSWAP_V100;
  else return err_set(-EPROTONOSUPPORT, "not a bitswap protocol: %.64s", protocol);
  return 0;
}

/* ---- prefix ---- */

int bitswap_cid_from_prefix(const uint8_t *prefix, size_t prefix_len, const uint8_t *data, size_t len,
                            cid_t *out) {
  assert(out && (data || len == 0));
  if (!prefix || prefix_len == 0) return err_set(-EINVAL, "bitswap: a block without a prefix");
  uint64_t v[4];
  size_t off = 0;
  for (int i = 0; i < 4; i++) {
    int n = varint_decode(prefix + off, prefix_len - off, &v[i]);
    if (n <= 0) return err_set(-EINVAL, "bitswap: malformed block prefix");
    off += (size_t)n;
  }
  if (off != prefix_len) return err_set(-EINVAL, "bitswap: trailing bytes after the block prefix");
  uint64_t version = v[0], codec = v[1], hash_code = v[2], digest_len = v[3];
  if (version > 1) return err_set(-EINVAL, "bitswap: CID version %llu in a block prefix", (unsigned long long)version);
  if (hash_code != MH_SHA2_256 && hash_code != MH_IDENTITY)
    return err_set(-ENOTSUP, "bitswap: block hash function 0x%llx not supported", (unsigned long long)hash_code);
  if (hash_code == MH_SHA2_256 && digest_len != MH_SHA2_256_BYTES)
    return err_set(-EINVAL, "bitswap: sha2-256 prefix with a %llu-byte digest", (unsigned long long)digest_len);
  if (hash_code == MH_IDENTITY && digest_len != len)
    return err_set(-EINVAL, "bitswap: identity prefix length differs from the block");
  mh_t mh;
  int rc = mh_sum(hash_code, data, len, &mh);
  if (rc < 0) return rc;
  return cid_from_mh(out, (uint32_t)version, codec, &mh) < 0
             ? err_set(-EINVAL, "bitswap: a CIDv0 prefix must be dag-pb sha2-256")
             : 0;
}

/* ---- the arena ---- */

#define ARENA_ALIGN 16
#define ARENA_SLACK_BYTES (64u * 1024) /* beyond the message: structs and pointer arrays */

static void arena_reset(bitswap_arena_t *a) {
  for (size_t i = 0; i < a->extra_len; i++) free(a->extra[i]);
  a->extra_len = 0;
  a->used = 0;
}

void bitswap_arena_free(bitswap_arena_t *a) {
  if (!a) return;
  assert(!a->busy);
  arena_reset(a);
  free(a->extra);
  free(a->data);
  memset(a, 0, sizeof *a);
}

static void *arena_alloc(void *ctx, size_t size) {
  bitswap_arena_t *a = ctx;
  size_t at = (a->used + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  if (at <= a->cap && size <= a->cap - at) {
    a->used = at + size;
    return a->data + at;
  }
  if (a->extra_len == a->extra_cap) {
    size_t cap = a->extra_cap ? a->extra_cap * 2 : 16;
    void **grown = realloc(a->extra, cap * sizeof *grown);
    if (!grown) return NULL;
    a->extra = grown;
    a->extra_cap = cap;
  }
  void *p = malloc(size ? size : 1);
  if (p) a->extra[a->extra_len++] = p;
  return p;
}

static void arena_free_noop(void *ctx, void *p) { (void)ctx, (void)p; }

/* ---- decode ---- */

void bitswap_msg_free(bitswap_msg_t *m) {
  if (!m) return;
  if (m->pb) {
    if (m->arena) {
      m->arena->busy = false; /* its memory is reused by the next decode */
    } else {
      p2p__bitswap_message__free_unpacked(m->pb, NULL);
    }
    free(m->entries);
    free(m->blocks);
    free(m->presences);
  }
  memset(m, 0, sizeof *m);
}

int bitswap_msg_decode(const uint8_t *in, size_t len, bitswap_msg_t *out) {
  return bitswap_msg_decode_arena(in, len, out, NULL);
}

int bitswap_msg_decode_arena(const uint8_t *in, size_t len, bitswap_msg_t *out, bitswap_arena_t *arena) {
  assert(out && (in || len == 0));
  memset(out, 0, sizeof *out);
  if (len > BITSWAP_MESSAGE_BYTES_MAX)
    return err_set(-EMSGSIZE, "bitswap: message of %zu bytes (limit %u)", len, BITSWAP_MESSAGE_BYTES_MAX);
  ProtobufCAllocator allocator = {.alloc = arena_alloc, .free = arena_free_noop, .allocator_data = arena};
  if (arena) {
    assert(!arena->busy);
    arena_reset(arena);
    if (arena->cap < len + ARENA_SLACK_BYTES) {
      size_t cap = len + ARENA_SLACK_BYTES;
      uint8_t *grown = malloc(cap);
      if (!grown) return -ENOMEM;
      free(arena->data);
      arena->data = grown;
      arena->cap = cap;
    }
  }
  pb_msg_t *pb = p2p__bitswap_message__unpack(arena ? &allocator : NULL, len, in);
  if (!pb) return err_set(-EBADMSG, "bitswap: not a bitswap message");
  if (arena) {
    arena->busy = true;
    out->arena = arena;
  }
  size_t n_entries = pb->wantlist ? pb->wantlist->n_entries : 0;
  size_t n_blocks = pb->n_blocks + pb->n_payload;
  size_t n_presences = pb->n_blockpresences;
  if (n_entries + n_blocks + n_presences > BITSWAP_MESSAGE_ITEMS_MAX) {
    out->pb = pb;
    bitswap_msg_free(out);
    return err_set(-EMSGSIZE, "bitswap: %zu items in one message (limit %u)", n_entries + n_blocks + n_presences,
                   BITSWAP_MESSAGE_ITEMS_MAX);
  }
  out->pb = pb;
  out->entries = n_entries ? calloc(n_entries, sizeof *out->entries) : NULL;
  out->blocks = n_blocks ? calloc(n_blocks, sizeof *out->blocks) : NULL;
  out->presences = n_presences ? calloc(n_presences, sizeof *out->presences) : NULL;
  if ((n_entries && !out->entries) || (n_blocks && !out->blocks) || (n_presences && !out->presences)) {
    bitswap_msg_free(out);
    return -ENOMEM;
  }
  out->pending_bytes = pb->pendingbytes;
  if (pb->wantlist) {
    out->has_wantlist = true;
    out->full = pb->wantlist->full;
    for (size_t i = 0; i < n_entries; i++) {
      const pb_entry_t *e = pb->wantlist->entries[i];
      bitswap_entry_t *d = &out->entries[out->entries_len];
      int n = cid_from_bytes(&d->cid, e->block.data, e->block.len);
      if (n < 0 || (size_t)n != e->block.len) {
        out->bad_entries++;
        continue;
      }
      d->priority = e->priority;
      d->cancel = e->cancel;
      d->want_have = e->wanttype == P2P__BITSWAP_MESSAGE__WANTLIST__WANT_TYPE__Have;
      d->send_dont_have = e->senddonthave;
      out->entries_len++;
    }
  }
  /* 1.0.0: bare bytes, implicitly CIDv0 (sha2-256 dag-pb). */
  for (size_t i = 0; i < pb->n_blocks; i++) {
    const ProtobufCBinaryData *b = &pb->blocks[i];
    bitswap_block_t *d = &out->blocks[out->blocks_len];
    if (b->len > BITSWAP_BLOCK_BYTES_MAX || cid_make(&d->cid, 0, CODEC_DAG_PB, MH_SHA2_256, b->data, b->len) < 0) {
      out->bad_blocks++;
      continue;
    }
    d->data = b->data;
    d->len = b->len;
    out->blocks_len++;
  }
  for (size_t i = 0; i < pb->n_payload; i++) {
    const pb_block_t *b = pb->payload[i];
    bitswap_block_t *d = &out->blocks[out->blocks_len];
    if (b->data.len > BITSWAP_BLOCK_BYTES_MAX ||
        bitswap_cid_from_prefix(b->prefix.data, b->prefix.len, b->data.data, b->data.len, &d->cid) < 0) {
      out->bad_blocks++;
      continue;
    }
    d->data = b->data.data;
    d->len = b->data.len;
    out->blocks_len++;
  }
  for (size_t i = 0; i < n_presences; i++) {
    const pb_presence_t *p = pb->blockpresences[i];
    bitswap_presence_t *d = &out->presences[out->presences_len];
    int n = cid_from_bytes(&d->cid, p->cid.data, p->cid.len);
    if (n < 0 || (size_t)n != p->cid.len ||
        (p->type != P2P__BITSWAP_MESSAGE__BLOCK_PRESENCE_TYPE__Have &&
         p->type != P2P__BITSWAP_MESSAGE__BLOCK_PRESENCE_TYPE__DontHave)) {
      out->bad_entries++;
      continue;
    }
    d->have = p->type == P2P__BITSWAP_MESSAGE__BLOCK_PRESENCE_TYPE__Have;
    out->presences_len++;
  }
  err_clear();
  return 0;
}

/* ---- encode ---- */

/* The protobuf-c structures point at caller data; the CIDs and prefixes are
 * written into one scratch array. */
typedef struct enc_scratch {
  uint8_t cid[CID_BYTES_MAX];
} enc_scratch_t;

int bitswap_msg_encode(const bitswap_msg_t *m, bitswap_version_t v, buf_t *out) {
  assert(m && out);
  size_t n_entries = m->entries_len, n_blocks = m->blocks_len;
  size_t n_presences = v >= BITSWAP_V120 ? m->presences_len : 0;
  if (n_entries + n_blocks + n_presences > BITSWAP_MESSAGE_ITEMS_MAX)
    return err_set(-EMSGSIZE, "bitswap: %zu items in one message", n_entries + n_blocks + n_presences);
  for (size_t i = 0; i < n_blocks; i++)
    if (m->blocks[i].len > BITSWAP_BLOCK_BYTES_MAX)
      return err_set(-EINVAL, "bitswap: block of %zu bytes (limit %u)", m->blocks[i].len, BITSWAP_BLOCK_BYTES_MAX);

  int rc = -ENOMEM;
  size_t n_scratch = n_entries + n_blocks + n_presences;
  enc_scratch_t *scratch = n_scratch ? malloc(n_scratch * sizeof *scratch) : NULL;
  pb_entry_t *entries = n_entries ? malloc(n_entries * sizeof *entries) : NULL;
  pb_entry_t **entry_ptrs = n_entries ? malloc(n_entries * sizeof *entry_ptrs) : NULL;
  pb_block_t *blocks = n_blocks ? malloc(n_blocks * sizeof *blocks) : NULL;
  pb_block_t **block_ptrs = n_blocks ? malloc(n_blocks * sizeof *block_ptrs) : NULL;
  ProtobufCBinaryData *raw = n_blocks ? malloc(n_blocks * sizeof *raw) : NULL;
  pb_presence_t *presences = n_presences ? malloc(n_presences * sizeof *presences) : NULL;
  pb_presence_t **presence_ptrs = n_presences ? malloc(n_presences * sizeof *presence_ptrs) : NULL;
  if ((n_scratch && !scratch) || (n_entries && (!entries || !entry_ptrs)) ||
      (n_blocks && (!blocks || !block_ptrs || !raw)) || (n_presences && (!presences || !presence_ptrs)))
    goto done;

  pb_msg_t pb = P2P__BITSWAP_MESSAGE__INIT;
  pb_wantlist_t wl = P2P__BITSWAP_MESSAGE__WANTLIST__INIT;
  size_t s = 0;
  if (m->has_wantlist || n_entries) {
    wl.full = m->full;
    for (size_t i = 0; i < n_entries; i++) {
      const bitswap_entry_t *e = &m->entries[i];
      pb_entry_t *d = &entries[i];
      p2p__bitswap_message__wantlist__entry__init(d);
      d->block.len = cid_to_bytes(&e->cid, scratch[s].cid);
      d->block.data = scratch[s++].cid;
      d->priority = e->priority;
      d->cancel = e->cancel;
      bool have = e->want_have && v >= BITSWAP_V120 && !e->cancel;
      d->wanttype = have ? P2P__BITSWAP_MESSAGE__WANTLIST__WANT_TYPE__Have
                         : P2P__BITSWAP_MESSAGE__WANTLIST__WANT_TYPE__Block;
      d->senddonthave = v >= BITSWAP_V120 && e->send_dont_have && !e->cancel;
      entry_ptrs[i] = d;
    }
    wl.n_entries = n_entries;
    wl.entries = entry_ptrs;
    pb.wantlist = &wl;
  }
  if (v == BITSWAP_V100) {
    for (size_t i = 0; i < n_blocks; i++) {
      raw[i].data = (uint8_t *)m->blocks[i].data;
      raw[i].len = m->blocks[i].len;
    }
    pb.n_blocks = n_blocks;
    pb.blocks = raw;
  } else {
    for (size_t i = 0; i < n_blocks; i++) {
      pb_block_t *d = &blocks[i];
      p2p__bitswap_message__block__init(d);
      d->prefix.len = cid_prefix_bytes(&m->blocks[i].cid, scratch[s].cid);
      d->prefix.data = scratch[s++].cid;
      d->data.data = (uint8_t *)m->blocks[i].data;
      d->data.len = m->blocks[i].len;
      block_ptrs[i] = d;
    }
    pb.n_payload = n_blocks;
    pb.payload = block_ptrs;
  }
  for (size_t i = 0; i < n_presences; i++) {
    pb_presence_t *d = &presences[i];
    p2p__bitswap_message__block_presence__init(d);
    d->cid.len = cid_to_bytes(&m->presences[i].cid, scratch[s].cid);
    d->cid.data = scratch[s++].cid;
    d->type = m->presences[i].have ? P2P__BITSWAP_MESSAGE__BLOCK_PRESENCE_TYPE__Have
                                   : P2P__BITSWAP_MESSAGE__BLOCK_PRESENCE_TYPE__DontHave;
    presence_ptrs[i] = d;
  }
  pb.n_blockpresences = n_presences;
  pb.blockpresences = presence_ptrs;
  pb.pendingbytes = m->pending_bytes;
  assert(s <= n_scratch);

  size_t size = p2p__bitswap_message__get_packed_size(&pb);
  if (size > BITSWAP_MESSAGE_BYTES_MAX) {
    rc = err_set(-EMSGSIZE, "bitswap: message of %zu bytes (limit %u)", size, BITSWAP_MESSAGE_BYTES_MAX);
    goto done;
  }
  if (buf_reserve(out, size) < 0) goto done;
  size_t packed = p2p__bitswap_message__pack(&pb, out->data + out->len);
  assert(packed == size);
  out->len += packed;
  rc = 0;
done:
  free(scratch);
  free(entries);
  free(entry_ptrs);
  free(blocks);
  free(block_ptrs);
  free(raw);
  free(presences);
  free(presence_ptrs);
  return rc;
}

/* ---- ledger ---- */

int bitswap_ledger_find(const bitswap_ledger_t *l, const cid_t *cid) {
  assert(l && cid);
  for (size_t i = 0; i < l->len; i++)
    if (cid_equal(&l->wants[i].cid, cid)) return (int)i;
  return -ENOENT;
}

static void ledger_remove_at(bitswap_ledger_t *l, size_t i) {
  assert(i < l->len);
  if (l->wants[i].pending) {
    assert(l->pending > 0);
    l->pending--;
  }
  memmove(&l->wants[i], &l->wants[i + 1], (l->len - i - 1) * sizeof *l->wants);
  l->len--;
}

int bitswap_ledger_remove(bitswap_ledger_t *l, const cid_t *cid) {
  int i = bitswap_ledger_find(l, cid);
  if (i < 0) return i;
  ledger_remove_at(l, (size_t)i);
  return 0;
}

static void ledger_clear(bitswap_ledger_t *l) {
  l->len = 0;
  l->pending = 0;
}

int bitswap_ledger_apply(bitswap_ledger_t *l, const bitswap_msg_t *m) {
  assert(l && m);
  if (!m->has_wantlist) return 0;
  if (m->full) ledger_clear(l);
  for (size_t i = 0; i < m->entries_len; i++) {
    const bitswap_entry_t *e = &m->entries[i];
    int at = bitswap_ledger_find(l, &e->cid);
    if (e->cancel) {
      if (at >= 0) ledger_remove_at(l, (size_t)at);
      continue;
    }
    if (at >= 0) {
      bitswap_want_t *w = &l->wants[at];
      w->priority = e->priority;
      /* A want-block is never downgraded by a later want-have (boxo). */
      if (!e->want_have) w->want_have = false;
      w->send_dont_have = e->send_dont_have;
      if (!w->pending) l->pending++;
      w->pending = true;
      continue;
    }
    if (l->len >= BITSWAP_LEDGER_ENTRIES_MAX) {
      l->refused++;
      continue;
    }
    if (l->len == l->cap) {
      size_t cap = l->cap ? l->cap * 2 : 16;
      if (cap > BITSWAP_LEDGER_ENTRIES_MAX) cap = BITSWAP_LEDGER_ENTRIES_MAX;
      bitswap_want_t *grown = realloc(l->wants, cap * sizeof *grown);
      if (!grown) return -ENOMEM;
      l->wants = grown;
      l->cap = cap;
    }
    l->wants[l->len++] = (bitswap_want_t){.cid = e->cid,
                                          .priority = e->priority,
                                          .want_have = e->want_have,
                                          .send_dont_have = e->send_dont_have,
                                          .pending = true,
                                          .seq = l->next_seq++};
    l->pending++;
  }
  assert(l->len <= BITSWAP_LEDGER_ENTRIES_MAX && l->pending <= l->len);
  return 0;
}

size_t bitswap_ledger_take(bitswap_ledger_t *l, bitswap_want_t *out, size_t cap) {
  assert(l && (out || cap == 0));
  size_t n = 0;
  /* Selection by (priority desc, seq asc); cap and the ledger are small. */
  while (n < cap && l->pending > 0) {
    size_t best = l->len;
    for (size_t i = 0; i < l->len; i++) {
      const bitswap_want_t *w = &l->wants[i];
      if (!w->pending) continue;
      if (best == l->len || w->priority > l->wants[best].priority) best = i;
    }
    assert(best < l->len);
    l->wants[best].pending = false;
    l->pending--;
    out[n++] = l->wants[best];
  }
  return n;
}

size_t bitswap_ledger_requeue(bitswap_ledger_t *l, const cid_t *cid) {
  assert(l && cid);
  size_t n = 0;
  for (size_t i = 0; i < l->len; i++) {
    bitswap_want_t *w = &l->wants[i];
    if (!mh_equal(&w->cid.hash, &cid->hash)) continue;
    if (!w->pending) {
      w->pending = true;
      l->pending++;
    }
    n++;
  }
  return n;
}

void bitswap_ledger_free(bitswap_ledger_t *l) {
  if (!l) return;
  free(l->wants);
  memset(l, 0, sizeof *l);
}
