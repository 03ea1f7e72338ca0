/*
 * importer: files and trees -> UnixFS DAGs with Kubo's CIDs (see importer.h).
 *
 * Files.  chunker.c turns the byte stream into hashed leaves (in parallel for
 * large files); this file only arranges them:
 *  - balanced (boxo importer/balanced): a stack of open levels.  Level 0
 *    collects leaves; a level holding links_max links becomes a node one level
 *    up.  At the end every partial level is closed bottom-up, except that a
 *    level holding a single link with nothing above it is the root.  This
 *    yields exactly boxo's tree (all leaves at one depth, every node full
 *    except along the right edge, a single chunk is its own root) while
 *    holding only links_max links per level.
 *  - trickle (boxo importer/trickle): the same recursion as boxo, pulling
 *    leaves on demand: a node takes up to links_max leaves, then for depth
 *    1, 2, ... (below its own limit) up to 4 subtrees of that depth.
 * Directories.  Walked depth first with entries in byte order of their names
 * (os.ReadDir), dot-files only with -H, symlinks kept.  A directory's entries
 * (name, binary CID, Tsize) are held until it is complete, then it becomes a
 * plain directory node or, when Σ(name + CID bytes) exceeds the threshold
 * (boxo's "links" estimate), a HAMT (hamt.c).
 * Push interfaces (the mount): the same balanced levels fed by leaves made on
 * the writer's thread from a chunk buffer, and the same directory frame and
 * dir_finish fed with known entries (sorted by name at the end).
 * Output order (Kubo's adder): files and symlinks as they complete, then the
 * directories children-first in the order the directory lists them (by name,
 * or by hash for a HAMT), the root last.
 */
#include "importer.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "chunker.h"
#include "dagpb.h"
#include "err.h"
#include "hamt.h"
#include "unixfs.h"

#define TRICKLE_REPEAT 4      /* boxo's depthRepeat */
#define TRICKLE_DEPTH_MAX 64  /* far beyond any real file (a depth-d subtree holds links_max * 5^(d-1) leaves) */
#define FILE_LEVELS_MAX 72    /* open file nodes: balanced levels or trickle frames */
#define DIR_FRAMES_MAX (IMP_DEPTH_MAX + 2)
#define SYMLINK_TARGET_BYTES_MAX 65536

typedef struct file_level {
  dagpb_link_t *links;   /* the node's links so far (names "", Tsize set) */
  uint64_t *blocksizes;  /* content bytes under each link */
  size_t len;            /* links used */
  size_t cap;            /* links allocated */
} file_level_t;

typedef struct dir_entry {
  size_t name_off;       /* name bytes in the frame's `bytes` */
  uint32_t name_len;
  size_t cid_off;        /* binary CID in the frame's `bytes` */
  uint32_t cid_len;
  uint64_t tsize;        /* cumulative size of the entry's DAG */
  int64_t record;        /* index of the entry's dir_record for subdirectories, else -1 */
} dir_entry_t;

typedef struct dir_frame {
  dir_entry_t *entries;  /* completed entries, in name order */
  size_t len, cap;
  buf_t bytes;           /* names and CIDs of the entries */
  buf_t names;           /* the listing being walked: NUL-terminated names */
  size_t *name_offs;     /* start of each listed name in `names` */
  size_t names_len, names_cap;
  uint64_t estimate_bytes; /* Σ(name + CID bytes): boxo's HAMT estimate */
} dir_frame_t;

typedef struct dir_record {  /* a finished directory, reported at the end */
  size_t path_off;       /* NUL-terminated path in record_paths */
  cid_t cid;
  uint64_t tsize;
  int64_t first_child;   /* subdirectories in listing order, chained by next_sibling */
  int64_t next_sibling;
} dir_record_t;

typedef struct imp_ctx {
  const imp_options_t *opts;
  bool raw_leaves;       /* effective --raw-leaves */
  const block_sink_t *sink;
  const imp_callbacks_t *cb;
  chunker_t *chunker;    /* created on the first file */
  uint64_t done_bytes;   /* content bytes consumed so far */
  buf_t unixfs;          /* scratch: a node's UnixFS Data */
  buf_t block;           /* scratch: an encoded node */
  file_level_t levels[FILE_LEVELS_MAX];
  dir_frame_t frames[DIR_FRAMES_MAX];
  dir_record_t *records;
  size_t records_len, records_cap;
  buf_t record_paths;
  buf_t fspath;          /* filesystem path of the current entry (error messages) */
  buf_t display;         /* the current entry's path as `ipfs add` prints it */
  hamt_entry_t *hamt;    /* scratch for sharded directories */
  size_t hamt_cap;
  dagpb_link_t *dir_links; /* scratch for plain directories */
  size_t dir_links_cap;
} imp_ctx_t;

/* ---- options ---- */

void imp_options_default(imp_options_t *opts) {
  assert(opts != NULL);
  memset(opts, 0, sizeof *opts);
  opts->cid_version = 0;
  opts->raw_leaves = -1;
  opts->chunk_bytes = IMP_CHUNK_BYTES_DEFAULT;
  opts->links_max = IMP_LINKS_MAX_DEFAULT;
  opts->hamt_threshold_bytes = IMP_HAMT_THRESHOLD_DEFAULT;
}

int imp_options_check(const imp_options_t *opts) {
  if (!opts) return err_set(-EINVAL, "import options missing");
  if (opts->cid_version > 1) return err_set(-EINVAL, "unknown CID version %u (0 or 1)", opts->cid_version);
  if (opts->raw_leaves < -1 || opts->raw_leaves > 1)
    return err_set(-EINVAL, "raw leaves must be -1 (default), 0 or 1, not %d", opts->raw_leaves);
  if (opts->chunk_bytes < 1 || opts->chunk_bytes > IMP_CHUNK_BYTES_MAX)
    return err_set(-EINVAL, "chunk size %u out of range 1..%u", opts->chunk_bytes, IMP_CHUNK_BYTES_MAX);
  if (opts->links_max < 2 || opts->links_max > IMP_LINKS_MAX_LIMIT)
    return err_set(-EINVAL, "links per node %u out of range 2..%u", opts->links_max, IMP_LINKS_MAX_LIMIT);
  return 0;
}

/* ---- context ---- */

static void ctx_init(imp_ctx_t *x, const imp_options_t *opts, const block_sink_t *sink,
                     const imp_callbacks_t *cb) {
  memset(x, 0, sizeof *x);
  x->opts = opts;
  x->raw_leaves = opts->raw_leaves < 0 ? opts->cid_version == 1 : opts->raw_leaves == 1;
  x->sink = sink;
  x->cb = cb;
}

static void ctx_free(imp_ctx_t *x) {
  chunker_free(x->chunker);
  buf_free(&x->unixfs);
  buf_free(&x->block);
  for (size_t i = 0; i < FILE_LEVELS_MAX; i++) {
    free(x->levels[i].links);
    free(x->levels[i].blocksizes);
  }
  for (size_t i = 0; i < DIR_FRAMES_MAX; i++) {
    dir_frame_t *f = &x->frames[i];
    free(f->entries);
    buf_free(&f->bytes);
    buf_free(&f->names);
    free(f->name_offs);
  }
  free(x->records);
  buf_free(&x->record_paths);
  buf_free(&x->fspath);
  buf_free(&x->display);
  free(x->hamt);
  free(x->dir_links);
  memset(x, 0, sizeof *x);
}

static int grow(void **array, size_t *cap, size_t need, size_t elem_bytes) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap : 16;
  while (n < need) n *= 2;
  void *p = realloc(*array, n * elem_bytes);
  if (!p) return -ENOMEM;
  *array = p;
  *cap = n;
  return 0;
}

/* Prefixes the current error message with `path` (the cause is already known). */
static int path_error(int rc, const char *path) {
  char msg[ERR_MSG_BYTES_MAX];
  snprintf(msg, sizeof msg, "%s", err_msg(rc));
  return err_set(rc, "%s: %s", path, msg);
}

static int errno_error(int e, const char *path, const char *what) {
  return err_set(-e, "%s: %s%s%s", path, what, *what ? ": " : "", strerror(e));
}

static int put_block(imp_ctx_t *x, const cid_t *cid, const uint8_t *data, size_t len) {
  int rc = x->sink->put(x->sink->ctx, cid, data, len);
  if (rc > 0) rc = -EIO;
  return rc;
}

/* ---- file nodes ---- */

static file_level_t *level_get(imp_ctx_t *x, size_t index) {
  if (index >= FILE_LEVELS_MAX) return NULL;
  file_level_t *lv = &x->levels[index];
  if (!lv->links) {
    size_t cap = (size_t)x->opts->links_max + TRICKLE_REPEAT * TRICKLE_DEPTH_MAX;
    lv->links = calloc(cap, sizeof *lv->links);
    lv->blocksizes = calloc(cap, sizeof *lv->blocksizes);
    if (!lv->links || !lv->blocksizes) {
      free(lv->links);
      free(lv->blocksizes);
      lv->links = NULL;
      lv->blocksizes = NULL;
      return NULL;
    }
    lv->cap = cap;
    lv->len = 0;
  }
  return lv;
}

static void level_push(file_level_t *lv, const cid_t *cid, uint64_t tsize, uint64_t filesize) {
  assert(lv->len < lv->cap);
  dagpb_link_t *l = &lv->links[lv->len];
  memset(l, 0, sizeof *l);
  l->cid = *cid;
  l->name = "";
  l->has_name = true;
  l->tsize = tsize;
  l->has_tsize = true;
  lv->blocksizes[lv->len] = filesize;
  lv->len++;
}

/* Encodes the open node `lv` as a UnixFS File node, stores it and empties lv. */
static int file_node_emit(imp_ctx_t *x, file_level_t *lv, cid_t *cid, uint64_t *tsize,
                          uint64_t *filesize) {
  uint64_t content = 0, below = 0;
  for (size_t i = 0; i < lv->len; i++) {
    content += lv->blocksizes[i];
    below += lv->links[i].tsize;
  }
  unixfs_data_t d = {
      .type = UNIXFS_FILE,
      .filesize = content,
      .has_filesize = true,
      .blocksizes = lv->blocksizes,
      .blocksizes_len = lv->len,
  };
  buf_reset(&x->unixfs);
  int rc = unixfs_encode(&d, &x->unixfs);
  if (rc) return rc;
  dagpb_node_t node = {
      .links = lv->links,
      .links_len = lv->len,
      .data = x->unixfs.data,
      .data_len = x->unixfs.len,
      .has_data = true,
  };
  buf_reset(&x->block);
  rc = dagpb_encode(&node, &x->block);
  if (rc) return rc;
  rc = cid_make(cid, x->opts->cid_version, CODEC_DAG_PB, MH_SHA2_256, x->block.data, x->block.len);
  if (rc) return rc;
  rc = put_block(x, cid, x->block.data, x->block.len);
  if (rc) return rc;
  *tsize = below + x->block.len;
  *filesize = content;
  lv->len = 0;
  return 0;
}

static int leaf_store(imp_ctx_t *x, const chunker_leaf_t *leaf) {
  int rc = put_block(x, &leaf->cid, leaf->block, leaf->block_bytes);
  if (rc) return rc;
  x->done_bytes += leaf->data_bytes;
  if (x->cb && x->cb->progress) x->cb->progress(x->cb->ctx, x->done_bytes);
  return 0;
}

/* Balanced: adds a link at `level`, closing full levels upwards. */
static int balanced_push(imp_ctx_t *x, size_t level, cid_t cid, uint64_t tsize, uint64_t filesize) {
  for (; level < FILE_LEVELS_MAX; level++) {
    file_level_t *lv = level_get(x, level);
    if (!lv) return -ENOMEM;
    level_push(lv, &cid, tsize, filesize);
    if (lv->len < x->opts->links_max) return 0;
    int rc = file_node_emit(x, lv, &cid, &tsize, &filesize);
    if (rc) return rc;
  }
  return err_set(-EOVERFLOW, "file DAG deeper than %d levels", FILE_LEVELS_MAX);
}

static bool levels_above_used(const imp_ctx_t *x, size_t level) {
  for (size_t i = level + 1; i < FILE_LEVELS_MAX; i++)
    if (x->levels[i].len > 0) return true;
  return false;
}

static int empty_file(imp_ctx_t *x, cid_t *root, uint64_t *tsize) {
  if (x->raw_leaves) { /* boxo: NewLeafNode(nil) with raw leaves is the empty raw block */
    static const uint8_t nothing[1];
    int rc = cid_make(root, 1, CODEC_RAW, MH_SHA2_256, nothing, 0);
    if (rc) return rc;
    *tsize = 0;
    return put_block(x, root, nothing, 0);
  }
  file_level_t *lv = level_get(x, 0);
  if (!lv) return -ENOMEM;
  lv->len = 0;
  uint64_t filesize;
  return file_node_emit(x, lv, root, tsize, &filesize); /* Data `08 02 18 00` */
}

/* Balanced: stores a leaf and links it at level 0. */
static int balanced_leaf(imp_ctx_t *x, const chunker_leaf_t *leaf) {
  int rc = leaf_store(x, leaf);
  return rc ? rc : balanced_push(x, 0, leaf->cid, leaf->block_bytes, leaf->data_bytes);
}

/* Balanced: closes the open levels after the last leaf, bottom-up; no leaf at
 * all is the empty file. */
static int balanced_close(imp_ctx_t *x, cid_t *root, uint64_t *tsize) {
  if (x->levels[0].len == 0 && !levels_above_used(x, 0)) return empty_file(x, root, tsize);
  for (size_t level = 0; level < FILE_LEVELS_MAX; level++) {
    file_level_t *lv = &x->levels[level];
    bool above = levels_above_used(x, level);
    if (lv->len == 0) {
      assert(above);
      continue;
    }
    if (lv->len == 1 && !above) { /* the root: the lone leaf, or the top node */
      *root = lv->links[0].cid;
      *tsize = lv->links[0].tsize;
      lv->len = 0;
      return 0;
    }
    cid_t cid;
    uint64_t node_tsize, filesize;
    int rc = file_node_emit(x, lv, &cid, &node_tsize, &filesize);
    if (rc) return rc;
    rc = balanced_push(x, level + 1, cid, node_tsize, filesize);
    if (rc) return rc;
  }
  return err_set(-EOVERFLOW, "file DAG deeper than %d levels", FILE_LEVELS_MAX);
}

static int file_balanced(imp_ctx_t *x, cid_t *root, uint64_t *tsize) {
  chunker_leaf_t leaf;
  int rc;
  while ((rc = chunker_next(x->chunker, &leaf)) == 1)
    if ((rc = balanced_leaf(x, &leaf))) return rc;
  return rc < 0 ? rc : balanced_close(x, root, tsize);
}

/* Trickle: fills the node at frame `frame` with leaves, then subtrees of
 * depth 1 .. max_depth-1 (max_depth < 0: unlimited, the root). */
static int trickle_fill(imp_ctx_t *x, size_t frame, int max_depth, cid_t *cid, uint64_t *tsize,
                        uint64_t *filesize) {
  file_level_t *lv = level_get(x, frame);
  if (!lv) return frame >= FILE_LEVELS_MAX ? err_set(-EOVERFLOW, "trickle DAG too deep") : -ENOMEM;
  lv->len = 0;
  int rc;
  while (lv->len < x->opts->links_max) {
    chunker_leaf_t leaf;
    rc = chunker_next(x->chunker, &leaf);
    if (rc < 0) return rc;
    if (rc == 0) break;
    rc = leaf_store(x, &leaf);
    if (rc) return rc;
    level_push(lv, &leaf.cid, leaf.block_bytes, leaf.data_bytes);
  }
  for (int depth = 1; max_depth < 0 || depth < max_depth; depth++) {
    if ((rc = chunker_more(x->chunker)) <= 0) {
      if (rc < 0) return rc;
      break;
    }
    if (depth > TRICKLE_DEPTH_MAX) return err_set(-EOVERFLOW, "trickle DAG too deep");
    for (int repeat = 0; repeat < TRICKLE_REPEAT; repeat++) {
      if ((rc = chunker_more(x->chunker)) <= 0) {
        if (rc < 0) return rc;
        break;
      }
      cid_t child;
      uint64_t child_tsize, child_filesize;
      rc = trickle_fill(x, frame + 1, depth, &child, &child_tsize, &child_filesize);
      if (rc) return rc;
      level_push(lv, &child, child_tsize, child_filesize);
    }
  }
  return file_node_emit(x, lv, cid, tsize, filesize);
}

/* Imports the stream on fd as one file. */
static int import_stream(imp_ctx_t *x, int fd, uint64_t size_hint_bytes, cid_t *root, uint64_t *tsize) {
  int rc;
  if (!x->chunker) {
    chunker_config_t cfg = {
        .chunk_bytes = x->opts->chunk_bytes,
        .leaf_kind = x->raw_leaves    ? CHUNKER_LEAF_RAW
                     : x->opts->trickle ? CHUNKER_LEAF_UNIXFS_RAW
                                        : CHUNKER_LEAF_UNIXFS_FILE,
        .cid_version = x->opts->cid_version,
    };
    if ((rc = chunker_new(&cfg, &x->chunker))) return rc;
  }
  for (size_t i = 0; i < FILE_LEVELS_MAX; i++) x->levels[i].len = 0;
  if ((rc = chunker_start(x->chunker, fd, size_hint_bytes))) return rc;
  if (x->opts->trickle) {
    uint64_t filesize;
    rc = trickle_fill(x, 0, -1, root, tsize, &filesize);
  } else {
    rc = file_balanced(x, root, tsize);
  }
  chunker_stop(x->chunker);
  return rc;
}

/* ---- symlinks, files, directories ---- */

static void report(imp_ctx_t *x, const cid_t *cid, const char *path, uint64_t tsize) {
  if (x->cb && x->cb->added) x->cb->added(x->cb->ctx, cid, path, tsize);
}

static int symlink_node(imp_ctx_t *x, const char *target, size_t len, cid_t *cid, uint64_t *tsize) {
  unixfs_data_t d = {.type = UNIXFS_SYMLINK, .data = (const uint8_t *)target, .data_len = len, .has_data = true};
  buf_reset(&x->unixfs);
  int rc = unixfs_encode(&d, &x->unixfs);
  if (rc) return rc;
  dagpb_node_t node = {.data = x->unixfs.data, .data_len = x->unixfs.len, .has_data = true};
  buf_reset(&x->block);
  if ((rc = dagpb_encode(&node, &x->block))) return rc;
  rc = cid_make(cid, x->opts->cid_version, CODEC_DAG_PB, MH_SHA2_256, x->block.data, x->block.len);
  if (rc) return rc;
  *tsize = x->block.len;
  return put_block(x, cid, x->block.data, x->block.len);
}

static int add_symlink_at(imp_ctx_t *x, int dirfd, const char *name, cid_t *cid, uint64_t *tsize) {
  const char *path = (const char *)x->fspath.data;
  char *target = malloc(SYMLINK_TARGET_BYTES_MAX);
  if (!target) return -ENOMEM;
  ssize_t n = readlinkat(dirfd, name, target, SYMLINK_TARGET_BYTES_MAX);
  int rc;
  if (n < 0) rc = errno_error(errno, path, "readlink");
  else if (n >= SYMLINK_TARGET_BYTES_MAX) rc = err_set(-ENAMETOOLONG, "%s: symlink target too long", path);
  else rc = symlink_node(x, target, (size_t)n, cid, tsize);
  free(target);
  if (rc) return rc;
  report(x, cid, (const char *)x->display.data, *tsize);
  return 0;
}

static int add_file_at(imp_ctx_t *x, int dirfd, const char *name, bool follow, cid_t *cid, uint64_t *tsize) {
  const char *path = (const char *)x->fspath.data;
  int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
  if (fd < 0) return errno_error(errno, path, "");
  struct stat st;
  uint64_t hint = UINT64_MAX;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    hint = (uint64_t)st.st_size;
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  int rc = import_stream(x, fd, hint, cid, tsize);
  close(fd);
  if (rc) return path_error(rc, path);
  report(x, cid, (const char *)x->display.data, *tsize);
  return 0;
}

/* Appends "/name" (or name when the buffer is empty) to a path buffer; returns the old length. */
static int path_push(buf_t *b, const char *name, size_t *old_len) {
  *old_len = b->len;
  int rc = b->len > 0 ? buf_append_byte(b, '/') : 0;
  rc = rc ? rc : buf_append(b, name, strlen(name));
  return rc ? rc : (buf_cstr(b) ? 0 : -ENOMEM);
}

static void path_pop(buf_t *b, size_t old_len) {
  b->len = old_len;
  if (b->data) b->data[b->len] = '\0';
}

static int dir_add_entry(dir_frame_t *f, const char *name, size_t name_len, const cid_t *cid,
                         uint64_t tsize, int64_t record) {
  uint8_t cid_bytes[CID_BYTES_MAX];
  size_t cid_len = cid_to_bytes(cid, cid_bytes);
  int rc = grow((void **)&f->entries, &f->cap, f->len + 1, sizeof *f->entries);
  if (rc) return rc;
  dir_entry_t *e = &f->entries[f->len];
  e->name_off = f->bytes.len;
  e->name_len = (uint32_t)name_len;
  if ((rc = buf_append(&f->bytes, name, name_len))) return rc;
  e->cid_off = f->bytes.len;
  e->cid_len = (uint32_t)cid_len;
  if ((rc = buf_append(&f->bytes, cid_bytes, cid_len))) return rc;
  e->tsize = tsize;
  e->record = record;
  f->estimate_bytes += name_len + cid_len;
  f->len++;
  return 0;
}

static void frame_reset(dir_frame_t *f) {
  f->len = 0;
  f->names_len = 0;
  f->estimate_bytes = 0;
  buf_reset(&f->bytes);
  buf_reset(&f->names);
}

static int record_new(imp_ctx_t *x, const char *path, const cid_t *cid, uint64_t tsize,
                      int64_t first_child, int64_t *index) {
  int rc = grow((void **)&x->records, &x->records_cap, x->records_len + 1, sizeof *x->records);
  if (rc) return rc;
  dir_record_t *r = &x->records[x->records_len];
  r->path_off = x->record_paths.len;
  if ((rc = buf_append(&x->record_paths, path, strlen(path) + 1))) return rc;
  r->cid = *cid;
  r->tsize = tsize;
  r->first_child = first_child;
  r->next_sibling = -1;
  *index = (int64_t)x->records_len++;
  return 0;
}

/* Chains the subdirectory records of a finished directory in listing order. */
static int64_t chain_children(imp_ctx_t *x, const int64_t *records, size_t len, size_t stride_bytes) {
  int64_t first = -1, prev = -1;
  for (size_t i = 0; i < len; i++) {
    int64_t r = *(const int64_t *)((const uint8_t *)records + i * stride_bytes);
    if (r < 0) continue;
    if (prev < 0) first = r;
    else x->records[prev].next_sibling = r;
    prev = r;
  }
  return first;
}

/* Turns a complete frame into a directory node (plain or HAMT). */
static int dir_finish(imp_ctx_t *x, dir_frame_t *f, cid_t *cid, uint64_t *tsize, int64_t *first_child) {
  const uint8_t *bytes = f->bytes.data;
  uint64_t threshold = x->opts->hamt_threshold_bytes;
  int rc;
  if (threshold > 0 && f->estimate_bytes > threshold && f->len > 0) {
    if ((rc = grow((void **)&x->hamt, &x->hamt_cap, f->len, sizeof *x->hamt))) return rc;
    for (size_t i = 0; i < f->len; i++) {
      const dir_entry_t *e = &f->entries[i];
      x->hamt[i] = (hamt_entry_t){
          .name = (const char *)bytes + e->name_off,
          .name_len = e->name_len,
          .cid_bytes = bytes + e->cid_off,
          .cid_len = e->cid_len,
          .tsize = e->tsize,
          .user = e->record,
      };
    }
    rc = hamt_build(x->hamt, f->len, x->opts->cid_version, x->sink, cid, tsize);
    if (rc) return rc;
    *first_child = chain_children(x, &x->hamt[0].user, f->len, sizeof *x->hamt);
    return 0;
  }
  if ((rc = grow((void **)&x->dir_links, &x->dir_links_cap, f->len, sizeof *x->dir_links))) return rc;
  uint64_t below = 0;
  for (size_t i = 0; i < f->len; i++) {
    const dir_entry_t *e = &f->entries[i];
    dagpb_link_t *l = &x->dir_links[i];
    memset(l, 0, sizeof *l);
    int k = cid_from_bytes(&l->cid, bytes + e->cid_off, e->cid_len);
    assert(k == (int)e->cid_len);
    if (k < 0) return k;
    l->name = (const char *)bytes + e->name_off;
    l->name_len = e->name_len;
    l->has_name = true;
    l->tsize = e->tsize;
    l->has_tsize = true;
    below += e->tsize;
  }
  static const uint8_t directory_data[] = {0x08, UNIXFS_DIRECTORY};
  dagpb_node_t node = {
      .links = x->dir_links,
      .links_len = f->len,
      .data = directory_data,
      .data_len = sizeof directory_data,
      .has_data = true,
  };
  buf_reset(&x->block);
  if ((rc = dagpb_encode(&node, &x->block))) return rc;
  rc = cid_make(cid, x->opts->cid_version, CODEC_DAG_PB, MH_SHA2_256, x->block.data, x->block.len);
  if (rc) return rc;
  if ((rc = put_block(x, cid, x->block.data, x->block.len))) return rc;
  *tsize = below + x->block.len;
  *first_child = f->len ? chain_children(x, &f->entries[0].record, f->len, sizeof *f->entries) : -1;
  return 0;
}

static int cmp_names(const void *a, const void *b, void *arg) {
  const char *names = arg;
  return strcmp(names + *(const size_t *)a, names + *(const size_t *)b);
}

static int add_dir_at(imp_ctx_t *x, int parent_fd, const char *name, uint32_t depth, cid_t *cid,
                      uint64_t *tsize, int64_t *record);

/* Adds the entry `name` of the directory open as parent_fd to its frame f. */
static int add_child(imp_ctx_t *x, int parent_fd, const char *name, uint32_t depth, dir_frame_t *f) {
  const char *path = (const char *)x->fspath.data;
  struct stat st;
  if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno_error(errno, path, "");
  cid_t cid;
  uint64_t tsize;
  int64_t record = -1;
  int rc;
  if (S_ISREG(st.st_mode)) rc = add_file_at(x, parent_fd, name, false, &cid, &tsize);
  else if (S_ISDIR(st.st_mode)) rc = add_dir_at(x, parent_fd, name, depth + 1, &cid, &tsize, &record);
  else if (S_ISLNK(st.st_mode)) rc = add_symlink_at(x, parent_fd, name, &cid, &tsize);
  else rc = err_set(-EINVAL, "%s: unrecognized file type (not a file, directory or symlink)", path);
  if (rc) return rc;
  return dir_add_entry(f, name, strlen(name), &cid, tsize, record);
}

static int add_dir_at(imp_ctx_t *x, int parent_fd, const char *name, uint32_t depth, cid_t *cid,
                      uint64_t *tsize, int64_t *record) {
  const char *path = (const char *)x->fspath.data;
  if (depth > IMP_DEPTH_MAX)
    return err_set(-ELOOP, "%s: directories nested deeper than %d", path, IMP_DEPTH_MAX);
  assert(depth < DIR_FRAMES_MAX);
  /* Below the arguments a symlink is never followed (it was lstat'ed as a directory). */
  int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (depth > 0 ? O_NOFOLLOW : 0));
  if (fd < 0) return errno_error(errno, path, "");
  DIR *dir = fdopendir(fd);
  if (!dir) {
    int e = errno;
    close(fd);
    return errno_error(e, path, "");
  }
  dir_frame_t *f = &x->frames[depth];
  frame_reset(f);
  int rc = 0;
  for (;;) {
    errno = 0;
    struct dirent *de = readdir(dir);
    if (!de) {
      if (errno) rc = errno_error(errno, path, "reading directory");
      break;
    }
    const char *n = de->d_name;
    if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0) continue;
    if (n[0] == '.' && !x->opts->hidden) continue; /* boxo's filter: dot-files only with -H */
    if ((rc = grow((void **)&f->name_offs, &f->names_cap, f->names_len + 1, sizeof *f->name_offs))) break;
    f->name_offs[f->names_len++] = f->names.len;
    if ((rc = buf_append(&f->names, n, strlen(n) + 1))) break;
  }
  if (!rc && f->names_len > 1)
    qsort_r(f->name_offs, f->names_len, sizeof *f->name_offs, cmp_names, f->names.data);
  for (size_t i = 0; i < f->names_len && !rc; i++) {
    const char *child = (const char *)f->names.data + f->name_offs[i];
    size_t fs_len, display_len;
    if ((rc = path_push(&x->fspath, child, &fs_len))) break;
    if ((rc = path_push(&x->display, child, &display_len))) break;
    rc = add_child(x, dirfd(dir), child, depth, f);
    path_pop(&x->fspath, fs_len);
    path_pop(&x->display, display_len);
  }
  closedir(dir);
  if (rc) return rc;
  int64_t first_child;
  path = (const char *)x->fspath.data; /* the buffer may have moved while children were added */
  if ((rc = dir_finish(x, f, cid, tsize, &first_child))) return path_error(rc, path);
  return record_new(x, (const char *)x->display.data, cid, *tsize, first_child, record);
}

/* Reports the directories of a finished tree: children first, in listing order. */
static void records_report(imp_ctx_t *x, int64_t index, uint32_t depth) {
  assert(depth <= DIR_FRAMES_MAX);
  const dir_record_t *r = &x->records[index];
  for (int64_t c = r->first_child; c >= 0; c = x->records[c].next_sibling) records_report(x, c, depth + 1);
  report(x, &r->cid, (const char *)x->record_paths.data + r->path_off, r->tsize);
}

/* ---- top level ---- */

typedef struct top_arg {
  char *path;        /* cleaned path (owned) */
  const char *base;  /* last element of path */
  size_t dir_len;    /* bytes of path before base (its directory, Go's filepath.Dir) */
} top_arg_t;

char *imp_clean_path(const char *in) {
  size_t n = strlen(in);
  char *out = malloc(n + 2);
  if (!out) return NULL;
  bool rooted = n > 0 && in[0] == '/';
  size_t w = 0, dotdot = 0; /* dotdot: where a leading ".." run ends (cannot be removed) */
  if (rooted) out[w++] = '/', dotdot = 1;
  for (size_t r = rooted; r < n;) {
    if (in[r] == '/') {
      r++;
    } else if (in[r] == '.' && (r + 1 == n || in[r + 1] == '/')) {
      r++;
    } else if (in[r] == '.' && in[r + 1] == '.' && (r + 2 == n || in[r + 2] == '/')) {
      r += 2;
      if (w > dotdot) { /* drop the last element */
        w--;
        while (w > dotdot && out[w] != '/') w--;
      } else if (!rooted) {
        if (w > 0) out[w++] = '/';
        out[w++] = '.';
        out[w++] = '.';
        dotdot = w;
      }
    } else {
      if ((rooted && w != 1) || (!rooted && w != 0)) out[w++] = '/';
      while (r < n && in[r] != '/') out[w++] = in[r++];
    }
  }
  if (w == 0) out[w++] = '.';
  out[w] = '\0';
  return out;
}

static int top_arg_cmp(const void *a, const void *b) {
  return strcmp(((const top_arg_t *)a)->base, ((const top_arg_t *)b)->base);
}

static int top_arg_prepare(const char *arg, top_arg_t *t) {
  char *p = imp_clean_path(arg);
  if (!p) return -ENOMEM;
  if (strcmp(p, ".") == 0) { /* Kubo names "." after the working directory */
    free(p);
    p = realpath(".", NULL);
    if (!p) return errno_error(errno, ".", "");
  }
  char *slash = strrchr(p, '/');
  t->path = p;
  t->base = slash && slash[1] ? slash + 1 : p;
  t->dir_len = (size_t)(t->base - p);
  return 0;
}

/* Adds one command-line path; with `wrapper`, as an entry of it. */
static int add_top(imp_ctx_t *x, const top_arg_t *t, dir_frame_t *wrapper, cid_t *cid, uint64_t *tsize,
                   int64_t *record) {
  buf_reset(&x->fspath);
  buf_reset(&x->display);
  int rc = buf_append(&x->fspath, t->path, strlen(t->path));
  rc = rc ? rc : buf_append(&x->display, t->base, strlen(t->base));
  if (rc || !buf_cstr(&x->fspath) || !buf_cstr(&x->display)) return -ENOMEM;
  struct stat st;
  if (lstat(t->path, &st) != 0) return errno_error(errno, t->path, "");
  *record = -1;
  uint32_t depth = wrapper ? 1 : 0;
  if (S_ISDIR(st.st_mode)) rc = add_dir_at(x, AT_FDCWD, t->path, depth, cid, tsize, record);
  else if (S_ISLNK(st.st_mode)) rc = add_symlink_at(x, AT_FDCWD, t->path, cid, tsize);
  else if (S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode)) rc = add_file_at(x, AT_FDCWD, t->path, false, cid, tsize);
  else rc = err_set(-EINVAL, "%s: unrecognized file type (not a file, directory or symlink)", t->path);
  if (rc) return rc;
  return wrapper ? dir_add_entry(wrapper, t->base, strlen(t->base), cid, *tsize, *record) : 0;
}

int imp_add_paths(const imp_options_t *opts, const block_sink_t *sink, const char *const *paths,
                  size_t paths_len, const imp_callbacks_t *cb, cid_t *root) {
  int rc = imp_options_check(opts);
  if (rc) return rc;
  assert(sink != NULL && sink->put != NULL && root != NULL);
  if (paths_len == 0) return err_set(-EINVAL, "nothing to add");
  top_arg_t *args = calloc(paths_len, sizeof *args);
  if (!args) return -ENOMEM;
  size_t args_len = 0;
  for (size_t i = 0; i < paths_len && !rc; i++) {
    top_arg_t t;
    if ((rc = top_arg_prepare(paths[i], &t))) break;
    bool skip = false;
    for (size_t j = 0; j < args_len && !rc; j++) {
      if (strcmp(args[j].base, t.base) != 0) continue;
      if (args[j].dir_len == t.dir_len && memcmp(args[j].path, t.path, t.dir_len) == 0) skip = true;
      else
        rc = err_set(-EINVAL, "file name %s repeated under different import directories: %.*s and %.*s",
                     t.base, (int)t.dir_len, t.path, (int)args[j].dir_len, args[j].path);
    }
    if (skip || rc) free(t.path);
    else args[args_len++] = t;
  }
  if (!rc) qsort(args, args_len, sizeof *args, top_arg_cmp); /* Kubo adds its arguments sorted by name */

  imp_ctx_t *x = calloc(1, sizeof *x);
  if (!x) rc = rc ? rc : -ENOMEM;
  if (!rc) {
    ctx_init(x, opts, sink, cb);
    dir_frame_t *wrapper = opts->wrap ? &x->frames[0] : NULL;
    if (wrapper) frame_reset(wrapper);
    for (size_t i = 0; i < args_len && !rc; i++) {
      cid_t cid;
      uint64_t tsize;
      int64_t record;
      x->records_len = wrapper ? x->records_len : 0;
      if (!wrapper) buf_reset(&x->record_paths);
      rc = add_top(x, &args[i], wrapper, &cid, &tsize, &record);
      if (!rc && !wrapper) {
        if (record >= 0) records_report(x, record, 0);
        *root = cid;
      }
    }
    if (!rc && wrapper) {
      cid_t cid;
      uint64_t tsize;
      int64_t first_child, record;
      rc = dir_finish(x, wrapper, &cid, &tsize, &first_child);
      if (!rc) rc = record_new(x, "", &cid, tsize, first_child, &record);
      if (!rc) {
        records_report(x, record, 0);
        *root = cid;
      }
    }
    ctx_free(x);
  }
  free(x);
  for (size_t i = 0; i < args_len; i++) free(args[i].path);
  free(args);
  return rc;
}

int imp_add_fd(const imp_options_t *opts, const block_sink_t *sink, int fd, const imp_callbacks_t *cb,
               cid_t *root, uint64_t *tsize) {
  int rc = imp_options_check(opts);
  if (rc) return rc;
  assert(sink != NULL && sink->put != NULL && root != NULL);
  if (fd < 0) return err_set(-EBADF, "import: bad file descriptor");
  imp_ctx_t *x = calloc(1, sizeof *x);
  if (!x) return -ENOMEM;
  ctx_init(x, opts, sink, cb);
  struct stat st;
  uint64_t hint = UINT64_MAX;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    off_t at = lseek(fd, 0, SEEK_CUR);
    hint = (uint64_t)st.st_size - (at > 0 && at <= st.st_size ? (uint64_t)at : 0);
  }
  uint64_t size;
  rc = import_stream(x, fd, hint, root, &size);
  if (!rc && tsize) *tsize = size;
  ctx_free(x);
  free(x);
  return rc;
}

/* ---- push interfaces ---- */

struct imp_file {
  imp_options_t opts;    /* the caller's options (x points here) */
  block_sink_t sink;
  imp_ctx_t x;           /* the open right edge lives in x.levels */
  uint8_t *mem;          /* CHUNKER_HEAD_BYTES + chunk + CHUNKER_TAIL_BYTES */
  uint32_t fill;         /* bytes of the current chunk so far */
  uint64_t size_bytes;   /* bytes written */
  int error;             /* first failure; every later call returns it */
  bool zero_ready;       /* zero_leaf describes a whole chunk of zeros (stored once) */
  cid_t zero_cid;
  size_t zero_block_bytes;
};

int imp_file_new(const imp_options_t *opts, const block_sink_t *sink, imp_file_t **out) {
  assert(sink != NULL && sink->put != NULL && out != NULL);
  *out = NULL;
  int rc = imp_options_check(opts);
  if (rc) return rc;
  if (opts->trickle) return err_set(-ENOTSUP, "pushed files are balanced only (no trickle layout)");
  imp_file_t *f = calloc(1, sizeof *f);
  if (!f) return -ENOMEM;
  f->mem = malloc((size_t)CHUNKER_HEAD_BYTES + opts->chunk_bytes + CHUNKER_TAIL_BYTES);
  if (!f->mem) {
    free(f);
    return -ENOMEM;
  }
  f->opts = *opts;
  f->sink = *sink;
  ctx_init(&f->x, &f->opts, &f->sink, NULL);
  *out = f;
  return 0;
}

/* The leaf the chunker makes for a chunk (raw, or dag-pb UnixFS File wrapped in
 * place: data needs CHUNKER_HEAD_BYTES before and CHUNKER_TAIL_BYTES after). */
static int chunk_leaf(const imp_ctx_t *x, uint8_t *data, uint32_t len, chunker_leaf_t *leaf) {
  uint8_t *block = data;
  size_t block_bytes = len;
  int rc;
  if (x->raw_leaves) {
    rc = cid_make(&leaf->cid, 1, CODEC_RAW, MH_SHA2_256, data, len);
  } else {
    chunker_wrap_leaf(data, len, UNIXFS_FILE, &block, &block_bytes);
    rc = cid_make(&leaf->cid, x->opts->cid_version, CODEC_DAG_PB, MH_SHA2_256, block, block_bytes);
  }
  leaf->block = block;
  leaf->block_bytes = block_bytes;
  leaf->data_bytes = len;
  return rc;
}

/* Turns the buffered chunk into a leaf of the tree. */
static int file_flush(imp_file_t *f) {
  chunker_leaf_t leaf;
  int rc = chunk_leaf(&f->x, f->mem + CHUNKER_HEAD_BYTES, f->fill, &leaf);
  f->fill = 0;
  return rc ? rc : balanced_leaf(&f->x, &leaf);
}

int imp_file_write(imp_file_t *f, const void *data, size_t len) {
  assert(f != NULL && (data != NULL || len == 0));
  if (f->error) return f->error;
  const uint8_t *p = data;
  const uint32_t chunk = f->opts.chunk_bytes;
  while (len > 0) { /* one chunk per turn */
    size_t n;
    int rc;
    if (f->fill == 0 && len >= chunk && f->x.raw_leaves) {
      /* a whole raw leaf straight from the caller's buffer (it is only read) */
      chunker_leaf_t leaf;
      n = chunk;
      rc = chunk_leaf(&f->x, (uint8_t *)p, chunk, &leaf);
      rc = rc ? rc : balanced_leaf(&f->x, &leaf);
    } else {
      n = chunk - f->fill < len ? chunk - f->fill : len;
      memcpy(f->mem + CHUNKER_HEAD_BYTES + f->fill, p, n);
      f->fill += (uint32_t)n;
      rc = f->fill == chunk ? file_flush(f) : 0;
    }
    if (rc) return f->error = rc;
    p += n;
    len -= n;
    f->size_bytes += n;
  }
  return 0;
}

int imp_file_write_zeros(imp_file_t *f, uint64_t len) {
  assert(f != NULL);
  static const uint8_t zeros[65536];
  const uint32_t chunk = f->opts.chunk_bytes;
  while (len > 0 && !f->error) {
    if (f->fill != 0 || len < chunk) { /* a partial chunk: ordinary bytes */
      size_t n = len < sizeof zeros ? (size_t)len : sizeof zeros;
      if (f->fill == 0 && n > chunk) n = chunk;
      if (f->fill != 0 && n > chunk - f->fill) n = chunk - f->fill;
      if (imp_file_write(f, zeros, n)) break;
      len -= n;
      continue;
    }
    int rc = 0;
    if (!f->zero_ready) { /* hash and store the zero chunk's leaf once */
      chunker_leaf_t leaf;
      memset(f->mem + CHUNKER_HEAD_BYTES, 0, chunk);
      rc = chunk_leaf(&f->x, f->mem + CHUNKER_HEAD_BYTES, chunk, &leaf);
      if (!rc) rc = put_block(&f->x, &leaf.cid, leaf.block, leaf.block_bytes);
      if (!rc) f->zero_cid = leaf.cid, f->zero_block_bytes = leaf.block_bytes, f->zero_ready = true;
    }
    if (!rc) rc = balanced_push(&f->x, 0, f->zero_cid, f->zero_block_bytes, chunk);
    if (rc) {
      f->error = rc;
      break;
    }
    f->x.done_bytes += chunk;
    f->size_bytes += chunk;
    len -= chunk;
  }
  return f->error;
}

uint64_t imp_file_size(const imp_file_t *f) {
  assert(f != NULL);
  return f->size_bytes;
}

int imp_file_finish(imp_file_t *f, cid_t *root, uint64_t *tsize) {
  assert(f != NULL && root != NULL);
  int rc = f->error;
  if (!rc && f->fill > 0) rc = file_flush(f);
  uint64_t size = 0;
  if (!rc) rc = balanced_close(&f->x, root, &size);
  if (!rc && tsize) *tsize = size;
  imp_file_abort(f);
  return rc;
}

void imp_file_abort(imp_file_t *f) {
  if (!f) return;
  ctx_free(&f->x);
  free(f->mem);
  free(f);
}

struct imp_dir {
  imp_options_t opts;
  imp_ctx_t x;           /* the entries are x.frames[0]; x.sink is set by imp_dir_finish */
  uint32_t *slots;       /* open-addressed name index: entry index + 1, 0 = free */
  size_t slots_cap;      /* a power of two, at least twice the entries */
};

int imp_dir_new(const imp_options_t *opts, imp_dir_t **out) {
  assert(out != NULL);
  *out = NULL;
  int rc = imp_options_check(opts);
  if (rc) return rc;
  imp_dir_t *d = calloc(1, sizeof *d);
  if (!d) return -ENOMEM;
  d->opts = *opts;
  ctx_init(&d->x, &d->opts, NULL, NULL);
  frame_reset(&d->x.frames[0]);
  *out = d;
  return 0;
}

static uint64_t name_hash(const char *name, size_t len) { /* FNV-1a */
  uint64_t h = 0xcbf29ce484222325u;
  for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)name[i]) * 0x100000001b3u;
  return h;
}

/* The slot holding `name`, or the free slot where it goes. */
static uint32_t *dir_slot(imp_dir_t *d, const char *name, size_t len) {
  const dir_frame_t *f = &d->x.frames[0];
  size_t mask = d->slots_cap - 1;
  for (size_t i = name_hash(name, len) & mask;; i = (i + 1) & mask) { /* ends: never full */
    uint32_t *s = &d->slots[i];
    if (*s == 0) return s;
    const dir_entry_t *e = &f->entries[*s - 1];
    if (e->name_len == len && memcmp(f->bytes.data + e->name_off, name, len) == 0) return s;
  }
}

/* Keeps the index at most half full. */
static int dir_index_grow(imp_dir_t *d, size_t entries) {
  if (2 * entries < d->slots_cap) return 0;
  if (entries >= UINT32_MAX / 4) return err_set(-EOVERFLOW, "directory has too many entries");
  size_t cap = d->slots_cap ? 2 * d->slots_cap : 64;
  free(d->slots);
  d->slots = calloc(cap, sizeof *d->slots);
  d->slots_cap = d->slots ? cap : 0;
  if (!d->slots) return -ENOMEM;
  const dir_frame_t *f = &d->x.frames[0];
  for (size_t i = 0; i < f->len; i++) {
    const dir_entry_t *e = &f->entries[i];
    *dir_slot(d, (const char *)f->bytes.data + e->name_off, e->name_len) = (uint32_t)i + 1;
  }
  return 0;
}

int imp_dir_add(imp_dir_t *d, const char *name, const cid_t *cid, uint64_t tsize) {
  assert(d != NULL && name != NULL && cid != NULL);
  size_t len = strlen(name);
  if (len == 0 || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return err_set(-EINVAL, "bad directory entry name \"%.64s\"", name);
  if (len > UINT32_MAX) return err_set(-EINVAL, "directory entry name too long");
  dir_frame_t *f = &d->x.frames[0];
  int rc = dir_index_grow(d, f->len + 1);
  if (rc) return rc;
  uint32_t *slot = dir_slot(d, name, len);
  if (*slot) return err_set(-EEXIST, "%.64s: name already in the directory", name);
  if ((rc = dir_add_entry(f, name, len, cid, tsize, -1))) return rc;
  *slot = (uint32_t)f->len;
  return 0;
}

static int cmp_entries(const void *a, const void *b, void *arg) {
  const uint8_t *bytes = arg;
  const dir_entry_t *x = a, *y = b;
  size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
  int c = memcmp(bytes + x->name_off, bytes + y->name_off, n);
  return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

int imp_dir_finish(imp_dir_t *d, const block_sink_t *sink, cid_t *root, uint64_t *tsize) {
  assert(d != NULL && sink != NULL && sink->put != NULL && root != NULL);
  dir_frame_t *f = &d->x.frames[0];
  /* the order imp_add_paths lists a directory in: names in byte order */
  if (f->len > 1) qsort_r(f->entries, f->len, sizeof *f->entries, cmp_entries, f->bytes.data);
  d->x.sink = sink;
  uint64_t size;
  int64_t first_child;
  int rc = dir_finish(&d->x, f, root, &size, &first_child);
  if (!rc && tsize) *tsize = size;
  imp_dir_abort(d);
  return rc;
}

void imp_dir_abort(imp_dir_t *d) {
  if (!d) return;
  ctx_free(&d->x);
  free(d->slots);
  free(d);
}

int imp_symlink(const imp_options_t *opts, const block_sink_t *sink, const char *target, cid_t *cid,
                uint64_t *tsize) {
  assert(sink != NULL && sink->put != NULL && target != NULL && cid != NULL);
  int rc = imp_options_check(opts);
  if (rc) return rc;
  size_t len = strlen(target);
  if (len >= SYMLINK_TARGET_BYTES_MAX) return err_set(-ENAMETOOLONG, "symlink target too long");
  imp_ctx_t *x = calloc(1, sizeof *x);
  if (!x) return -ENOMEM;
  ctx_init(x, opts, sink, NULL);
  uint64_t size;
  rc = symlink_node(x, target, len, cid, &size);
  if (!rc && tsize) *tsize = size;
  ctx_free(x);
  free(x);
  return rc;
}
