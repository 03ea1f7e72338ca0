/*
 * gateway_car: CAR responses of the trustless gateway (gateway_int.h).
 *
 * Unlike car_export (a whole DAG), a gateway CAR is shaped by the request:
 * the blocks that verify the path first, then the terminal's blocks for the
 * dag-scope (block: itself; entity: a whole UnixFS file, or the blocks of
 * its entity-bytes range, or a directory's own node(s), HAMT shards
 * included; all: the whole sub-DAG), in pre-order depth-first link order.
 * The walk keeps an explicit stack (no recursion) bounded in bytes and depth.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dagpb.h"
#include "err.h"
#include "gateway_int.h"
#include "links.h"
#include "mhset.h"
#include "unixfs.h"
#include "varint.h"

#define WALK_STACK_BYTES_MAX (256u << 20)
#define WALK_DEPTH_MAX 4096
#define HAMT_PREFIX_CHARS_MAX 3 /* fanout up to 1024: 3 hex digits */

typedef struct frame {
  cid_t cid;
  uint64_t base;   /* file offset of this node's first content byte (file walks) */
  uint32_t depth;
} frame_t;

typedef struct walk {
  const block_source_t *src;
  car_write_fn write;
  void *ctx;
  bool dups;
  mhset_t seen;      /* blocks written (dups=n), keyed by codec ‖ multihash */
  buf_t block;       /* the block being handled */
  buf_t links;       /* its links (cid_t array) */
  buf_t stack;       /* frame_t array */
  gw_car_stat_t st;
} walk_t;

static const char *cid_str(const cid_t *c, char t[CID_TEXT_BYTES_MAX]) {
  if (cid_format_default(c, t) != 0) strcpy(t, "(unprintable CID)");
  return t;
}

/* The seen-set key; 0 when the CID is too long to key (never deduplicated). */
static size_t seen_key(const cid_t *c, uint8_t key[MH_BYTES_MAX]) {
  uint8_t mh[MH_BYTES_MAX];
  size_t n = cid_mh_bytes(c, mh);
  uint8_t codec[10];
  size_t cn = varint_encode(c->codec, codec);
  if (cn + n > MH_BYTES_MAX) return 0;
  memcpy(key, codec, cn);
  memcpy(key + cn, mh, n);
  return cn + n;
}

/* Fetches cid into w->block (identity CIDs from the CID itself). */
static int fetch(walk_t *w, const cid_t *cid) {
  if (cid->hash.code == MH_IDENTITY) {
    buf_reset(&w->block);
    return buf_append(&w->block, cid->hash.digest, cid->hash.digest_len);
  }
  int rc = w->src->get(w->src->ctx, cid, &w->block);
  if (rc == -ENOENT) {
    char t[CID_TEXT_BYTES_MAX];
    return err_set(-ENOENT, "block %s not found", cid_str(cid, t));
  }
  return rc;
}

/* Fetches cid into w->block and writes its section unless it is an identity
 * CID or (dups=n) already written.  *fresh tells whether it was written now
 * (or is identity), false for an already written one.  The block is loaded
 * in every case. */
static int emit(walk_t *w, const cid_t *cid, bool *fresh) {
  *fresh = true;
  int rc = fetch(w, cid);
  if (rc) return rc;
  if (cid->hash.code == MH_IDENTITY) return 0;
  if (!w->dups) {
    uint8_t key[MH_BYTES_MAX];
    size_t kn = seen_key(cid, key);
    if (kn) {
      rc = mhset_add(&w->seen, key, kn);
      if (rc < 0) return rc;
      if (rc == 0) { *fresh = false; return 0; }
    }
  }
  if (w->st.blocks >= GW_CAR_BLOCKS_MAX)
    return err_set(-E2BIG, "CAR response over %u blocks", GW_CAR_BLOCKS_MAX);
  ssize_t n = car_write_section(cid, w->block.data, w->block.len, w->write, w->ctx);
  if (n < 0) return (int)n;
  w->st.blocks++;
  w->st.bytes += (uint64_t)n;
  return 0;
}

static int write_header(walk_t *w, const cid_t *root) {
  ssize_t n = car_write_header(root, w->write, w->ctx);
  if (n < 0) return (int)n;
  w->st.bytes += (uint64_t)n;
  return 0;
}

static int push(walk_t *w, const cid_t *cid, uint64_t base, uint32_t depth) {
  if (depth > WALK_DEPTH_MAX) return err_set(-E2BIG, "DAG deeper than %d links", WALK_DEPTH_MAX);
  if (w->stack.len + sizeof(frame_t) > WALK_STACK_BYTES_MAX)
    return err_set(-E2BIG, "too many pending links in the DAG walk");
  frame_t f = {.cid = *cid, .base = base, .depth = depth};
  return buf_append(&w->stack, &f, sizeof f);
}

static bool pop(walk_t *w, frame_t *f) {
  if (w->stack.len < sizeof *f) return false;
  w->stack.len -= sizeof *f;
  memcpy(f, w->stack.data + w->stack.len, sizeof *f);
  return true;
}

/* The whole sub-DAG under cid, following links of every codec links.h knows. */
static int walk_all(walk_t *w, const cid_t *start) {
  w->stack.len = 0;
  int rc = push(w, start, 0, 0);
  frame_t f;
  while (!rc && pop(w, &f)) {
    bool fresh;
    if ((rc = emit(w, &f.cid, &fresh)) != 0) break;
    if (!fresh || !links_codec_may_link(f.cid.codec)) continue;
    if ((rc = links_of(&f.cid, w->block.data, w->block.len, &w->links)) != 0) {
      char t[CID_TEXT_BYTES_MAX];
      rc = err_set(-EIO, "block %s does not decode", cid_str(&f.cid, t));
      break;
    }
    size_t n = w->links.len / sizeof(cid_t);
    for (size_t i = n; i-- > 0 && !rc;) {
      cid_t c;
      memcpy(&c, w->links.data + i * sizeof c, sizeof c);
      rc = push(w, &c, 0, f.depth + 1);
    }
  }
  return rc;
}

typedef struct pbnode {
  dagpb_node_t pb;
  unixfs_data_t fs;
  bool ok;
} pbnode_t;

static void pbnode_free(pbnode_t *n) {
  if (n->ok) {
    dagpb_node_free(&n->pb);
    unixfs_data_free(&n->fs);
  }
  n->ok = false;
}

/* Decodes w->block as dag-pb + UnixFS; -EIO when it is not. */
static int pbnode_decode(walk_t *w, const cid_t *cid, pbnode_t *n) {
  memset(n, 0, sizeof *n);
  char t[CID_TEXT_BYTES_MAX];
  if (dagpb_decode(w->block.data, w->block.len, &n->pb) != 0)
    return err_set(-EIO, "block %s is not dag-pb", cid_str(cid, t));
  if (!n->pb.has_data || unixfs_decode(n->pb.data, n->pb.data_len, &n->fs) != 0) {
    dagpb_node_free(&n->pb);
    return err_set(-EIO, "block %s has no UnixFS data", cid_str(cid, t));
  }
  n->ok = true;
  return 0;
}

/* A UnixFS file's blocks covering [first, last], pre-order. */
static int walk_file(walk_t *w, const cid_t *start, uint64_t first, uint64_t last) {
  w->stack.len = 0;
  int rc = push(w, start, 0, 0);
  frame_t f;
  while (!rc && pop(w, &f)) {
    bool fresh;
    if ((rc = emit(w, &f.cid, &fresh)) != 0) break;
    if (f.cid.codec != CODEC_DAG_PB) continue; /* a raw leaf */
    pbnode_t n;
    if ((rc = pbnode_decode(w, &f.cid, &n)) != 0) break;
    if (n.fs.blocksizes_len != n.pb.links_len) {
      char t[CID_TEXT_BYTES_MAX];
      rc = err_set(-EIO, "file node %s: links and blocksizes differ", cid_str(&f.cid, t));
      pbnode_free(&n);
      break;
    }
    /* children's offsets, then push in reverse so the first pops first */
    uint64_t off = f.base + n.fs.data_len;
    size_t count = n.pb.links_len;
    uint64_t *starts = count ? malloc(count * sizeof *starts) : NULL;
    if (count && !starts) { pbnode_free(&n); rc = -ENOMEM; break; }
    for (size_t i = 0; i < count; i++) {
      starts[i] = off;
      off += n.fs.blocksizes[i];
    }
    for (size_t i = count; i-- > 0 && !rc;) {
      uint64_t s = starts[i], size = n.fs.blocksizes[i];
      if (size == 0 || s > last || s + size - 1 < first) continue;
      rc = push(w, &n.pb.links[i].cid, s, f.depth + 1);
    }
    free(starts);
    pbnode_free(&n);
  }
  return rc;
}

/* A HAMT directory's shard nodes (not the entries they point at). */
static int walk_hamt(walk_t *w, const cid_t *start, size_t prefix_chars) {
  w->stack.len = 0;
  int rc = push(w, start, 0, 0);
  frame_t f;
  while (!rc && pop(w, &f)) {
    bool fresh;
    if ((rc = emit(w, &f.cid, &fresh)) != 0) break;
    if (!fresh) continue;
    pbnode_t n;
    if ((rc = pbnode_decode(w, &f.cid, &n)) != 0) break;
    for (size_t i = n.pb.links_len; i-- > 0 && !rc;) {
      const dagpb_link_t *l = &n.pb.links[i];
      if (l->name_len == prefix_chars) rc = push(w, &l->cid, 0, f.depth + 1);
    }
    pbnode_free(&n);
  }
  return rc;
}

static int walk_entity(walk_t *w, const gw_car_req_t *req) {
  const cid_t *t = &req->terminal;
  if (t->codec != CODEC_DAG_PB) {
    bool fresh;
    return emit(w, t, &fresh); /* raw: a file of one block; other codecs: entity = block */
  }
  int rc = fetch(w, t);
  if (rc) return rc;
  pbnode_t n;
  if ((rc = pbnode_decode(w, t, &n)) != 0) return rc;
  uint32_t type = n.fs.type;
  uint64_t fanout = n.fs.has_fanout ? n.fs.fanout : 256;
  pbnode_free(&n);
  if (type == UNIXFS_FILE || type == UNIXFS_RAW) {
    uint64_t first = req->has_range ? req->range_first : 0;
    uint64_t last = req->has_range ? req->range_last : UINT64_MAX;
    return walk_file(w, t, first, last);
  }
  if (type == UNIXFS_HAMT_SHARD) {
    size_t pad = 0;
    for (uint64_t v = fanout - 1; v; v >>= 4) pad++;
    if (pad == 0 || pad > HAMT_PREFIX_CHARS_MAX) {
      char s[CID_TEXT_BYTES_MAX];
      return err_set(-EIO, "HAMT shard %s has a bad fanout", cid_str(t, s));
    }
    return walk_hamt(w, t, pad);
  }
  bool fresh;
  return emit(w, t, &fresh); /* a plain directory, a symlink, metadata */
}

int gw_car_write(const block_source_t *src, const gw_car_req_t *req, car_write_fn write, void *ctx,
                 gw_car_stat_t *st) {
  walk_t w = {.src = src, .write = write, .ctx = ctx, .dups = req->dups};
  int rc = write_header(&w, &req->root);
  for (size_t i = 0; !rc && i < req->path_blocks_len; i++) {
    bool fresh;
    rc = emit(&w, &req->path_blocks[i], &fresh);
  }
  if (!rc) {
    gw_scope_t scope = req->scope;
    if (req->has_range && scope == GW_SCOPE_ALL) scope = GW_SCOPE_ENTITY;
    if (req->range_empty) scope = GW_SCOPE_BLOCK;
    if (scope == GW_SCOPE_BLOCK) {
      bool fresh;
      rc = emit(&w, &req->terminal, &fresh);
    } else if (scope == GW_SCOPE_ENTITY) {
      rc = walk_entity(&w, req);
    } else {
      rc = walk_all(&w, &req->terminal);
    }
  }
  if (st) *st = w.st;
  mhset_free(&w.seen);
  buf_free(&w.block);
  buf_free(&w.links);
  buf_free(&w.stack);
  return rc;
}
