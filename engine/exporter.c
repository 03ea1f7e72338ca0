/*
 * exporter: reading UnixFS DAGs (see exporter.h).
 *
 * Every block is loaded into an exp_node (its bytes plus, for dag-pb, the
 * decoded PBNode and UnixFS Data, which point into those bytes).  Reads walk
 * down from the root choosing children by the running sum of blocksizes, so
 * a read at offset N touches one block per level plus the leaves it covers.
 * Recursion is bounded by EXP_DEPTH_MAX everywhere.
 */
#include "exporter.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dagpb.h"
#include "err.h"
#include "murmur3.h"
#include "unixfs.h"

#define HAMT_FANOUT_MIN 8
#define HAMT_FANOUT_MAX 1024
#define HAMT_KEY_BITS 64

typedef struct exp_node {
  cid_t cid;
  buf_t block;       /* the block's bytes (owned) */
  bool is_pb;        /* dag-pb: pb and fs below are valid */
  dagpb_node_t pb;   /* decoded PBNode; points into block */
  unixfs_data_t fs;  /* decoded UnixFS Data; points into block */
} exp_node_t;

struct exp_file {
  block_source_t src;
  exp_node_t root;
  uint64_t size_bytes;
  /* The last leaf read, kept so reads inside one leaf fetch it once. */
  buf_t leaf_block;          /* the leaf's bytes (owned) */
  size_t leaf_content_at;    /* where its content starts in leaf_block */
  size_t leaf_content_len;   /* content bytes */
  uint64_t leaf_offset;      /* file offset of the content's first byte */
  bool leaf_valid;
  cid_t zero;                /* a child known to hold only zeros (exp_set_zero) */
  bool has_zero;
};

static const char *cid_text(const cid_t *c, char buf[CID_TEXT_BYTES_MAX]) {
  if (cid_format_default(c, buf) != 0) snprintf(buf, CID_TEXT_BYTES_MAX, "(unprintable CID)");
  return buf;
}

static int malformed(const cid_t *c, const char *why) {
  char t[CID_TEXT_BYTES_MAX];
  return err_set(-EIO, "malformed UnixFS node %s: %s", cid_text(c, t), why);
}

static void node_free(exp_node_t *n) {
  if (n->is_pb) {
    dagpb_node_free(&n->pb);
    unixfs_data_free(&n->fs);
  }
  buf_free(&n->block);
  n->is_pb = false;
}

/* Fetches the block for cid into n->block (identity CIDs inline). */
static int fetch(const block_source_t *src, const cid_t *cid, buf_t *out) {
  if (cid->hash.code == MH_IDENTITY) {
    buf_reset(out);
    return buf_append(out, cid->hash.digest, cid->hash.digest_len);
  }
  int rc = src->get(src->ctx, cid, out);
  if (rc == -ENOENT) {
    char t[CID_TEXT_BYTES_MAX];
    return err_set(-ENOENT, "block %s not found", cid_text(cid, t));
  }
  return rc;
}

/* Loads and decodes the node at cid.  On error n is left empty. */
static int node_load(const block_source_t *src, const cid_t *cid, exp_node_t *n) {
  memset(n, 0, sizeof *n);
  n->cid = *cid;
  int rc = fetch(src, cid, &n->block);
  if (rc) { buf_free(&n->block); return rc; }
  if (cid->codec != CODEC_DAG_PB) return 0;
  rc = dagpb_decode(n->block.data, n->block.len, &n->pb);
  if (rc) { buf_free(&n->block); return rc == -ENOMEM ? rc : malformed(cid, "not dag-pb"); }
  if (!n->pb.has_data) {
    dagpb_node_free(&n->pb);
    buf_free(&n->block);
    return malformed(cid, "dag-pb node without UnixFS Data");
  }
  rc = unixfs_decode(n->pb.data, n->pb.data_len, &n->fs);
  if (rc) {
    dagpb_node_free(&n->pb);
    buf_free(&n->block);
    return rc == -ENOMEM ? rc : malformed(cid, "bad UnixFS Data");
  }
  n->is_pb = true;
  return 0;
}

static bool node_is_file(const exp_node_t *n) {
  return !n->is_pb || n->fs.type == UNIXFS_FILE || n->fs.type == UNIXFS_RAW;
}

static bool node_is_dir(const exp_node_t *n) {
  return n->is_pb && (n->fs.type == UNIXFS_DIRECTORY || n->fs.type == UNIXFS_HAMT_SHARD);
}

/* Checks a file node's shape and computes its content size. */
static int file_size(const exp_node_t *n, uint64_t *size) {
  if (!n->is_pb) { *size = n->block.len; return 0; }
  assert(node_is_file(n));
  const unixfs_data_t *fs = &n->fs;
  if (fs->blocksizes_len != n->pb.links_len) return malformed(&n->cid, "links and blocksizes differ in number");
  uint64_t total = fs->data_len;
  for (size_t i = 0; i < fs->blocksizes_len; i++) {
    if (n->pb.links[i].name_len) return malformed(&n->cid, "named link in a file");
    if (total + fs->blocksizes[i] < total) return malformed(&n->cid, "blocksizes overflow");
    total += fs->blocksizes[i];
  }
  if (fs->has_filesize && fs->filesize != total) return malformed(&n->cid, "filesize disagrees with content");
  *size = total;
  return 0;
}

/* ---- HAMT ---- */

typedef struct hamt_shape {
  unsigned bits;       /* log2(fanout): hash bits per level */
  unsigned pad;        /* hex digits in a bucket prefix (Go: len("%X" of fanout-1)) */
  uint64_t fanout;
} hamt_shape_t;

static int hamt_shape(const exp_node_t *n, hamt_shape_t *shape) {
  const unixfs_data_t *fs = &n->fs;
  if (!fs->has_hash_type || fs->hash_type != MURMUR3_X64_64) return malformed(&n->cid, "HAMT hash is not murmur3-x64-64");
  if (!fs->has_fanout || fs->fanout < HAMT_FANOUT_MIN || fs->fanout > HAMT_FANOUT_MAX ||
      (fs->fanout & (fs->fanout - 1)) != 0)
    return malformed(&n->cid, "HAMT fanout is not a power of two in 8..1024");
  shape->fanout = fs->fanout;
  shape->bits = 0;
  while ((UINT64_C(1) << shape->bits) < fs->fanout) shape->bits++;
  shape->pad = 0;
  for (uint64_t v = fs->fanout - 1; v; v >>= 4) shape->pad++;
  return 0;
}

/* Loads a child shard and checks it matches its parent's shape. */
static int hamt_child(const block_source_t *src, const cid_t *cid, const hamt_shape_t *parent,
                      exp_node_t *child) {
  int rc = node_load(src, cid, child);
  if (rc) return rc;
  hamt_shape_t shape;
  if (!child->is_pb || child->fs.type != UNIXFS_HAMT_SHARD) rc = malformed(cid, "HAMT bucket link is not a shard");
  else if ((rc = hamt_shape(child, &shape)) == 0 && shape.fanout != parent->fanout)
    rc = malformed(cid, "HAMT fanout changes between levels");
  if (rc) node_free(child);
  return rc;
}

static int hamt_lookup(const block_source_t *src, const exp_node_t *root, const char *name,
                       size_t name_len, cid_t *out) {
  hamt_shape_t shape;
  int rc = hamt_shape(root, &shape);
  if (rc) return rc;
  uint8_t key_bytes[8];
  murmur3_hamt_key(name, name_len, key_bytes);
  uint64_t key = 0;
  for (int i = 0; i < 8; i++) key = key << 8 | key_bytes[i];

  exp_node_t level_node = {0};
  const exp_node_t *cur = root;
  rc = -ENOENT;
  for (unsigned level = 0; level < EXP_DEPTH_MAX; level++) {
    unsigned shift = level * shape.bits;
    if (shift + shape.bits > HAMT_KEY_BITS) { rc = malformed(&cur->cid, "HAMT deeper than its hash"); break; }
    uint64_t bucket = (key >> (HAMT_KEY_BITS - shift - shape.bits)) & (shape.fanout - 1);
    char prefix[8];
    snprintf(prefix, sizeof prefix, "%0*llX", (int)shape.pad, (unsigned long long)bucket);
    const dagpb_link_t *shard = NULL, *value = NULL;
    for (size_t i = 0; i < cur->pb.links_len; i++) {
      const dagpb_link_t *l = &cur->pb.links[i];
      if (l->name_len < shape.pad || memcmp(l->name, prefix, shape.pad) != 0) continue;
      if (l->name_len == shape.pad) shard = l;
      else if (l->name_len - shape.pad == name_len && memcmp(l->name + shape.pad, name, name_len) == 0)
        value = l;
    }
    if (value) { *out = value->cid; rc = 0; break; }
    if (!shard) { rc = -ENOENT; break; }
    exp_node_t next;
    rc = hamt_child(src, &shard->cid, &shape, &next);
    if (rc) break;
    node_free(&level_node);
    level_node = next;
    cur = &level_node;
    rc = -ENOENT;
  }
  node_free(&level_node);
  return rc;
}

/* ---- resolve ---- */

static int dir_lookup(const block_source_t *src, const exp_node_t *dir, const char *name,
                      size_t name_len, cid_t *out) {
  if (dir->fs.type == UNIXFS_HAMT_SHARD) return hamt_lookup(src, dir, name, name_len, out);
  for (size_t i = 0; i < dir->pb.links_len; i++) {
    const dagpb_link_t *l = &dir->pb.links[i];
    if (l->name_len == name_len && memcmp(l->name, name, name_len) == 0) {
      *out = l->cid;
      return 0;
    }
  }
  return -ENOENT;
}

int exp_resolve(const block_source_t *src, const cid_t *root, const char *path, cid_t *out) {
  assert(src && root && path && out);
  size_t segments = 0;
  for (const char *s = path; *s; s++)
    if (*s != '/' && (s == path || s[-1] == '/')) segments++;
  if (segments > EXP_PATH_SEGMENTS_MAX)
    return err_set(-ENAMETOOLONG, "path has more than %d segments", EXP_PATH_SEGMENTS_MAX);
  cid_t cur = *root;
  const char *p = path;
  while (*p) {
    while (*p == '/') p++;
    if (!*p) break;
    const char *end = strchr(p, '/');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    exp_node_t dir;
    int rc = node_load(src, &cur, &dir);
    if (rc) return rc;
    if (!node_is_dir(&dir)) {
      node_free(&dir);
      return err_set(-ENOTDIR, "'%.*s': parent is not a directory", (int)len, p);
    }
    rc = dir_lookup(src, &dir, p, len, &cur);
    node_free(&dir);
    if (rc == -ENOENT) return err_set(-ENOENT, "'%.*s' not found", (int)len, p);
    if (rc) return rc;
    p += len;
  }
  *out = cur;
  return 0;
}

/* ---- stat, readlink ---- */

int exp_stat(const block_source_t *src, const cid_t *cid, exp_stat_t *st) {
  assert(src && cid && st);
  exp_node_t n;
  int rc = node_load(src, cid, &n);
  if (rc) return rc;
  memset(st, 0, sizeof *st);
  if (!n.is_pb) {
    st->kind = EXP_RAW;
    st->size_bytes = n.block.len;
  } else {
    switch (n.fs.type) {
    case UNIXFS_FILE:
    case UNIXFS_RAW:
      st->kind = EXP_FILE;
      rc = file_size(&n, &st->size_bytes);
      break;
    case UNIXFS_DIRECTORY: st->kind = EXP_DIRECTORY; break;
    case UNIXFS_HAMT_SHARD: {
      hamt_shape_t shape;
      st->kind = EXP_DIRECTORY;
      rc = hamt_shape(&n, &shape);
      break;
    }
    case UNIXFS_SYMLINK:
      st->kind = EXP_SYMLINK;
      st->size_bytes = n.fs.data_len;
      break;
    default: rc = malformed(cid, "unsupported UnixFS type"); break;
    }
    st->mode = n.fs.mode;
    st->has_mode = n.fs.has_mode;
    st->mtime_seconds = n.fs.mtime_seconds;
    st->mtime_nanos = n.fs.mtime_nanos;
    st->has_mtime = n.fs.has_mtime;
  }
  node_free(&n);
  return rc;
}

int exp_readlink(const block_source_t *src, const cid_t *cid, buf_t *out) {
  assert(src && cid && out);
  exp_node_t n;
  int rc = node_load(src, cid, &n);
  if (rc) return rc;
  if (!n.is_pb || n.fs.type != UNIXFS_SYMLINK) {
    rc = err_set(-EINVAL, "not a symlink");
  } else if (n.pb.links_len) {
    rc = malformed(cid, "symlink with links");
  } else {
    buf_reset(out);
    rc = buf_append(out, n.fs.data, n.fs.data_len);
  }
  node_free(&n);
  return rc;
}

/* ---- readdir ---- */

static bool posix_name(const char *name, size_t len) {
  if (len == 0 || (len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
    return false;
  return memchr(name, '/', len) == NULL && memchr(name, '\0', len) == NULL;
}

static int emit(exp_dirent_fn fn, void *ctx, buf_t *name_buf, const char *name, size_t len,
                const dagpb_link_t *l) {
  if (!posix_name(name, len)) return 0;
  buf_reset(name_buf);
  int rc = buf_append(name_buf, name, len);
  if (rc) return rc;
  char *cname = buf_cstr(name_buf);
  if (!cname) return -ENOMEM;
  return fn(ctx, cname, &l->cid, l->tsize);
}

/* The shards one readdir has visited, by multihash.  A valid HAMT never
 * links the same shard twice (each name lives in exactly one bucket), so a
 * repeat means a "HAMT bomb": a few blocks linking each other many times over,
 * whose flattened listing would be exponentially long. */
typedef struct shard_set {
  uint64_t *hashes; /* 0 = empty slot */
  size_t cap;       /* power of two */
  size_t len;
} shard_set_t;

/* 1 when added, 0 when already there, -ENOMEM.  Keys are the multihash
 * bytes folded to 64 bits; the digests are cryptographic, so a false repeat
 * would need a hash collision, and the cost of one is a spurious -EIO. */
static int shard_set_add(shard_set_t *set, const cid_t *c) {
  uint8_t mh[MH_BYTES_MAX];
  size_t n = cid_mh_bytes(c, mh);
  uint64_t key = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) { key ^= mh[i]; key *= 0x100000001b3ULL; }
  if (key == 0) key = 1;
  if ((set->len + 1) * 2 > set->cap) {
    size_t cap = set->cap ? set->cap * 2 : 64;
    uint64_t *hashes = calloc(cap, sizeof *hashes);
    if (!hashes) return -ENOMEM;
    for (size_t i = 0; i < set->cap; i++) {
      if (!set->hashes[i]) continue;
      size_t j = set->hashes[i] & (cap - 1);
      while (hashes[j]) j = (j + 1) & (cap - 1);
      hashes[j] = set->hashes[i];
    }
    free(set->hashes);
    set->hashes = hashes;
    set->cap = cap;
  }
  size_t j = key & (set->cap - 1);
  for (; set->hashes[j]; j = (j + 1) & (set->cap - 1))
    if (set->hashes[j] == key) return 0;
  set->hashes[j] = key;
  set->len++;
  return 1;
}

typedef struct walk {
  const block_source_t *src;
  const hamt_shape_t *shape;
  exp_dirent_fn fn;
  void *ctx;
  buf_t name_buf;
  shard_set_t visited;
} walk_t;

static int hamt_walk(walk_t *w, const exp_node_t *shard, unsigned level) {
  const hamt_shape_t *shape = w->shape;
  if ((level + 1) * shape->bits > HAMT_KEY_BITS || level >= EXP_DEPTH_MAX)
    return malformed(&shard->cid, "HAMT deeper than its hash");
  int rc = shard_set_add(&w->visited, &shard->cid);
  if (rc < 0) return rc;
  if (rc == 0) return malformed(&shard->cid, "HAMT links the same shard twice");
  for (size_t i = 0; i < shard->pb.links_len; i++) {
    const dagpb_link_t *l = &shard->pb.links[i];
    if (l->name_len < shape->pad) return malformed(&shard->cid, "HAMT link name shorter than its prefix");
    if (l->name_len == shape->pad) {
      exp_node_t child;
      rc = hamt_child(w->src, &l->cid, shape, &child);
      if (rc) return rc;
      rc = hamt_walk(w, &child, level + 1);
      node_free(&child);
    } else {
      rc = emit(w->fn, w->ctx, &w->name_buf, l->name + shape->pad, l->name_len - shape->pad, l);
    }
    if (rc) return rc;
  }
  return 0;
}

int exp_readdir(const block_source_t *src, const cid_t *cid, exp_dirent_fn fn, void *ctx) {
  assert(src && cid && fn);
  exp_node_t n;
  int rc = node_load(src, cid, &n);
  if (rc) return rc;
  buf_t name_buf = {0};
  if (!node_is_dir(&n)) {
    rc = err_set(-ENOTDIR, "not a directory");
  } else if (n.fs.type == UNIXFS_HAMT_SHARD) {
    hamt_shape_t shape;
    rc = hamt_shape(&n, &shape);
    if (rc == 0) {
      walk_t w = {.src = src, .shape = &shape, .fn = fn, .ctx = ctx};
      rc = hamt_walk(&w, &n, 0);
      buf_free(&w.name_buf);
      free(w.visited.hashes);
    }
  } else {
    for (size_t i = 0; i < n.pb.links_len && rc == 0; i++) {
      const dagpb_link_t *l = &n.pb.links[i];
      rc = emit(fn, ctx, &name_buf, l->name, l->name_len, l);
    }
  }
  buf_free(&name_buf);
  node_free(&n);
  return rc;
}

/* ---- files ---- */

int exp_open(const block_source_t *src, const cid_t *cid, exp_file_t **out) {
  assert(src && cid && out);
  *out = NULL;
  exp_file_t *f = calloc(1, sizeof *f);
  if (!f) return -ENOMEM;
  f->src = *src;
  int rc = node_load(src, cid, &f->root);
  if (rc) { free(f); return rc; }
  if (node_is_dir(&f->root)) rc = err_set(-EISDIR, "is a directory");
  else if (f->root.is_pb && f->root.fs.type == UNIXFS_SYMLINK) rc = err_set(-EINVAL, "is a symlink");
  else if (!node_is_file(&f->root)) rc = malformed(cid, "unsupported UnixFS type");
  else rc = file_size(&f->root, &f->size_bytes);
  if (rc) {
    node_free(&f->root);
    free(f);
    return rc;
  }
  *out = f;
  return 0;
}

uint64_t exp_size(const exp_file_t *f) { return f->size_bytes; }

void exp_set_zero(exp_file_t *f, const cid_t *zero) {
  f->zero = *zero;
  f->has_zero = true;
}

void exp_close(exp_file_t *f) {
  if (!f) return;
  node_free(&f->root);
  buf_free(&f->leaf_block);
  free(f);
}

/* Copies the part of content [content_offset, +content_len) that overlaps the
 * wanted range [want, want_end) into dst (dst[0] is file offset `want`). */
static void copy_overlap(uint8_t *dst, uint64_t want, uint64_t want_end, const uint8_t *content,
                         uint64_t content_offset, uint64_t content_len) {
  uint64_t lo = want > content_offset ? want : content_offset;
  uint64_t content_end = content_offset + content_len;
  uint64_t hi = want_end < content_end ? want_end : content_end;
  if (lo >= hi) return;
  memcpy(dst + (lo - want), content + (lo - content_offset), (size_t)(hi - lo));
}

/* Keeps a leaf's block as the handle's cached leaf (swapping buffers, no copy). */
static void cache_leaf(exp_file_t *f, exp_node_t *leaf, uint64_t offset) {
  const uint8_t *content = leaf->is_pb ? leaf->fs.data : leaf->block.data;
  size_t len = leaf->is_pb ? leaf->fs.data_len : leaf->block.len;
  size_t at = content ? (size_t)(content - leaf->block.data) : 0;
  buf_t old = f->leaf_block;
  f->leaf_block = leaf->block;
  leaf->block = old;
  f->leaf_content_at = at;
  f->leaf_content_len = len;
  f->leaf_offset = offset;
  f->leaf_valid = true;
}

/* Reads [want, want_end) of the content under node n, whose content starts at
 * file offset `base`, into dst.  Children are fetched only when they overlap. */
static int read_node(exp_file_t *f, exp_node_t *n, uint64_t base, uint64_t want, uint64_t want_end,
                     uint8_t *dst, unsigned depth) {
  if (!n->is_pb) {
    copy_overlap(dst, want, want_end, n->block.data, base, n->block.len);
    if (depth > 0) cache_leaf(f, n, base);
    return 0;
  }
  copy_overlap(dst, want, want_end, n->fs.data, base, n->fs.data_len);
  if (n->pb.links_len == 0) {
    if (depth > 0) cache_leaf(f, n, base);
    return 0;
  }
  if (depth >= EXP_DEPTH_MAX) return malformed(&n->cid, "file tree too deep");
  uint64_t child_base = base + n->fs.data_len;
  for (size_t i = 0; i < n->pb.links_len && child_base < want_end; i++) {
    uint64_t child_len = n->fs.blocksizes[i];
    uint64_t child_end = child_base + child_len;
    if (child_end > want && child_len > 0 && f->has_zero && cid_equal(&n->pb.links[i].cid, &f->zero)) {
      uint64_t lo = want > child_base ? want : child_base, hi = want_end < child_end ? want_end : child_end;
      memset(dst + (lo - want), 0, (size_t)(hi - lo)); /* a hole: nothing to fetch */
    } else if (child_end > want && child_len > 0) {
      exp_node_t child;
      int rc = node_load(&f->src, &n->pb.links[i].cid, &child);
      if (rc) return rc;
      uint64_t actual;
      if (!node_is_file(&child)) rc = malformed(&child.cid, "file child is not a file");
      else rc = file_size(&child, &actual);
      if (rc == 0 && actual != child_len) rc = malformed(&child.cid, "size differs from parent's blocksizes");
      if (rc == 0) rc = read_node(f, &child, child_base, want, want_end, dst, depth + 1);
      node_free(&child);
      if (rc) return rc;
    }
    child_base = child_end;
  }
  return 0;
}

/* exp_next_data under node n (content from file offset base): the first
 * offset >= off in a child that is not the zero chunk, or UINT64_MAX. */
static int next_data(exp_file_t *f, exp_node_t *n, uint64_t base, uint64_t off, uint64_t *out, unsigned depth) {
  *out = UINT64_MAX;
  uint64_t data_len = n->is_pb ? n->fs.data_len : n->block.len;
  if (base + data_len > off && data_len > 0) { /* the node's own bytes */
    *out = off > base ? off : base;
    return 0;
  }
  if (!n->is_pb || n->pb.links_len == 0) return 0;
  if (depth >= EXP_DEPTH_MAX) return malformed(&n->cid, "file tree too deep");
  uint64_t child_base = base + data_len;
  for (size_t i = 0; i < n->pb.links_len; i++) {
    uint64_t child_len = n->fs.blocksizes[i], child_end = child_base + child_len;
    if (child_end > off && child_len > 0 && !(f->has_zero && cid_equal(&n->pb.links[i].cid, &f->zero))) {
      exp_node_t child;
      int rc = node_load(&f->src, &n->pb.links[i].cid, &child);
      if (rc == 0 && !node_is_file(&child)) rc = malformed(&child.cid, "file child is not a file");
      if (rc == 0) rc = next_data(f, &child, child_base, off, out, depth + 1);
      node_free(&child);
      if (rc || *out != UINT64_MAX) return rc;
    }
    child_base = child_end;
  }
  return 0;
}

int exp_next_data(exp_file_t *f, uint64_t offset, uint64_t *data) {
  assert(f && data);
  int rc = offset >= f->size_bytes ? 0 : next_data(f, &f->root, 0, offset, data, 0);
  if (offset >= f->size_bytes || (!rc && *data > f->size_bytes)) *data = f->size_bytes;
  return rc;
}

ssize_t exp_pread(exp_file_t *f, void *buf, size_t len, uint64_t offset) {
  assert(f && (buf || len == 0));
  if (offset >= f->size_bytes || len == 0) return 0;
  uint64_t avail = f->size_bytes - offset;
  if (len > avail) len = (size_t)avail;
  if (len > SSIZE_MAX) len = SSIZE_MAX;
  uint8_t *dst = buf;
  uint64_t want = offset, want_end = offset + len;
  /* Serve what the cached leaf holds at the start of the range. */
  if (f->leaf_valid && want >= f->leaf_offset && want < f->leaf_offset + f->leaf_content_len) {
    copy_overlap(dst, want, want_end, f->leaf_block.data + f->leaf_content_at, f->leaf_offset,
                 f->leaf_content_len);
    uint64_t served = f->leaf_offset + f->leaf_content_len - want;
    if (served >= len) return (ssize_t)len;
    dst += served;
    want += served;
  }
  int rc = read_node(f, &f->root, 0, want, want_end, dst, 0);
  if (rc) return rc;
  return (ssize_t)len;
}

int exp_split_arg(const char *arg, cid_t *root, const char **path) {
  if (strncmp(arg, "/ipfs/", 6) == 0) arg += 6;
  const char *slash = strchr(arg, '/');
  size_t len = slash ? (size_t)(slash - arg) : strlen(arg);
  char text[CID_TEXT_BYTES_MAX];
  if (len == 0 || len >= sizeof text) return err_set(-EINVAL, "invalid CID '%s'", arg);
  memcpy(text, arg, len);
  text[len] = '\0';
  int rc = cid_parse(root, text);
  if (rc) return err_set(rc, "invalid CID '%s': %s", text, err_msg(rc));
  *path = slash ? slash + 1 : "";
  return 0;
}

int exp_resolve_arg(const block_source_t *src, const char *arg, cid_t *out) {
  cid_t root;
  const char *path;
  int rc = exp_split_arg(arg, &root, &path);
  if (rc) return rc;
  rc = exp_resolve(src, &root, path, out);
  if (rc == -ENOENT) return err_set(rc, "%s: not found in the local store", arg);
  if (rc == -ENOTDIR) return err_set(rc, "%s: a path component is not a directory", arg);
  return rc;
}
