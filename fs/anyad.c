/*
 * anyad: the daemon.  Opens the repository (holding its lock, so `anya`
 * commands say the daemon holds it) and mounts the FUSE filesystem with the
 * libfuse3 lowlevel API and its multithreaded loop.
 *
 *   anyad [--repo DIR] [--config FILE] [--mount DIR|off] [--dwn ADDR|off]
 *         [--gateway ADDR|off] [--rpc ADDR|off] [--p2p MULTIADDR|off] [--foreground]
 *
 * The tree (docs/filesystem.md):
 *   ipfs/<cid>[/path]  read-only content: files (random access), raw blocks as
 *                      files, directories (HAMT shards included), symlinks.
 *                      Any CID resolves on lookup; one not in the store is
 *                      ENOENT (the network issue fetches it).  readdir lists
 *                      the recursive pins.  Immutable: long kernel timeouts,
 *                      keep_cache.
 *   pins/<cid>         the recursive pins as symlinks to ../ipfs/<cid>;
 *                      `ln -s anything pins/<cid>` pins, `rm pins/<cid>` unpins.
 *   files/             the writable POSIX tree (files.h).
 *   ipns/<name>[/path] an IPNS name (k51…, 12D3…) resolved on lookup through
 *                      the resolver the daemon installs from its listeners'
 *                      ipns_t (net_ipns), then the ipfs/ node it names; the
 *                      entry is cached by the kernel for IPNS_ENTRY_TIMEOUT_S
 *                      only (the name may move), the content as under ipfs/.
 *                      readdir lists nothing (names are looked up, not listed).
 *   dwn/               an empty directory for now (its issue fills it).
 * Every content entry carries the xattr user.anya.cid.
 *
 * The HTTP listeners (--dwn, --gateway, --rpc; net/server.h) serve the DWN
 * (opened from the repository when its listener is on), the gateway and the
 * Kubo RPC subset, each with /health and /metrics; --p2p the IPFS node
 * (net/node.h: libp2p over TCP, Noise, Yamux with identify and ping).
 * --mount off serves the listeners alone.
 *
 * Start-up: the mountpoint is created if missing; a stale mount of a crashed
 * run (ENOTCONN) is detached first; a listener that cannot bind fails the
 * start (exit 1, the reason on stderr).  SIGTERM/SIGINT/SIGHUP stop the
 * listeners, unmount cleanly, and the daemon exits 0.  Without --foreground
 * it detaches at once and the starting command returns when everything
 * serves (exit 0) or start-up failed (exit 1).
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "exporter.h"
#include "files.h"
#include "inode.h"
#include "log.h"
#include "readers.h"
#include "pins.h"
#include "repo.h"
#include "dwn_repo.h"
#include "server.h"

#define VERSION "0.1.0"
#define CONTENT_TIMEOUT_S 86400.0 /* immutable: cache a day */
#define DIR_TIMEOUT_S 1.0
#define READ_BYTES_MAX (1u << 20)
#define IPNS_ENTRY_TIMEOUT_S 60.0      /* ipns/<name> may move: the kernel asks again after a minute */
#define IPNS_LOOKUP_TIMEOUT_MS 30000u  /* a name's resolution before ENOENT */

/* Resolves an IPNS name to "/ipfs/<cid>[/path]" (cap bytes): the hook the
 * daemon installs, so fs/ needs nothing of net/.  0 or -errno. */
typedef int (*ipns_resolve_fn)(void *ctx, const char *name, char *path, size_t cap);

typedef struct daemon_state {
  repo_t *repo;
  fs_table_t *table;
  block_source_t src;
  uid_t uid;
  gid_t gid;
  ipns_resolve_fn ipns_resolve; /* NULL: ipns/ is empty */
  void *ipns_ctx;
} daemon_state_t;

static daemon_state_t g;

static const struct {
  const char *name;
  uint64_t ino;
} fixed_dirs[] = {{"ipfs", FS_INO_IPFS}, {"ipns", FS_INO_IPNS}, {"files", FS_INO_FILES},
                  {"pins", FS_INO_PINS}, {"dwn", FS_INO_DWN}};
#define FIXED_COUNT (sizeof fixed_dirs / sizeof fixed_dirs[0])

/* ---- attributes -------------------------------------------------------------- */

static int pin_link_text(const cid_t *cid, char *out, size_t cap) {
  char text[CID_TEXT_BYTES_MAX];
  int rc = cid_format_default(cid, text);
  if (!rc) snprintf(out, cap, "../ipfs/%s", text);
  return rc;
}

static void node_attr(const fs_node_t *n, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = n->ino;
  st->st_uid = g.uid;
  st->st_gid = g.gid;
  st->st_blksize = 262144;
  switch (n->kind) {
    case FS_DIR_FIXED:
      if (n->ino == FS_INO_FILES && files_root_attr(st) == 0) return;
      st->st_mode = S_IFDIR | (n->ino == FS_INO_PINS ? 0755 : 0555);
      st->st_nlink = 2;
      break;
    case FS_PIN_LINK: {
      char target[CID_TEXT_BYTES_MAX + 16];
      pin_link_text(&n->cid, target, sizeof target);
      st->st_mode = S_IFLNK | 0777;
      st->st_nlink = 1;
      st->st_size = (off_t)strlen(target);
      break;
    }
    case FS_CONTENT:
      st->st_nlink = 1;
      if (n->st.kind == EXP_DIRECTORY) st->st_mode = S_IFDIR | 0555, st->st_nlink = 2;
      else if (n->st.kind == EXP_SYMLINK) st->st_mode = S_IFLNK | 0777;
      else st->st_mode = S_IFREG | 0444;
      st->st_size = (off_t)n->st.size_bytes;
      if (n->st.has_mtime) {
        st->st_mtim.tv_sec = n->st.mtime_seconds;
        st->st_mtim.tv_nsec = n->st.mtime_nanos;
        st->st_ctim = st->st_atim = st->st_mtim;
      }
      break;
  }
  st->st_blocks = (st->st_size + 511) / 512;
}

static int reply_node(fuse_req_t req, const fs_node_t *n) {
  struct fuse_entry_param e = {0};
  e.ino = n->ino;
  node_attr(n, &e.attr);
  e.attr_timeout = e.entry_timeout = n->kind == FS_CONTENT ? CONTENT_TIMEOUT_S : 0.0;
  return fuse_reply_entry(req, &e);
}

/* errno for the kernel from an engine error (err_set messages go to the log). */
static int kernel_errno(int rc) {
  if (rc == -ENOENT || rc == -ENOTDIR || rc == -EISDIR || rc == -EINVAL || rc == -ENOMEM || rc == -ENAMETOOLONG ||
      rc == -ENFILE || rc == -EEXIST || rc == -EPERM || rc == -EACCES || rc == -EROFS ||
      rc == -ETIMEDOUT) /* a block the network did not deliver in time (fetch on miss) */
    return -rc;
  log_kv(LOG_LEVEL_WARN, "fs", ((log_kv_t[]){LOG_INT("errno", -rc), LOG_STR("error", err_msg(rc))}), "I/O error");
  return EIO;
}

/* ---- lookup / getattr / forget ------------------------------------------------ */

static int content_node(const cid_t *cid, fs_node_t *out) {
  exp_stat_t st;
  int rc = exp_stat(&g.src, cid, &st);
  if (!rc) rc = fs_table_lookup(g.table, FS_CONTENT, cid, &st, out);
  return rc;
}

/* ipns/<name>: the content node the name points at. */
static int ipns_node(const char *name, fs_node_t *out) {
  if (!g.ipns_resolve) return -ENOENT;
  char *path = malloc(PATH_MAX);
  if (!path) return -ENOMEM;
  cid_t cid;
  int rc = g.ipns_resolve(g.ipns_ctx, name, path, PATH_MAX);
  if (!rc) rc = exp_resolve_arg(&g.src, path, &cid);
  if (!rc) rc = content_node(&cid, out);
  if (rc && rc != -ENOMEM) {
    log_kv(LOG_LEVEL_DEBUG, "fs", ((log_kv_t[]){LOG_STR("name", name), LOG_STR("error", err_msg(rc))}), "ipns lookup");
    if (rc != -ENOTDIR) rc = -ENOENT;
  }
  free(path);
  return rc;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  if (files_owns(parent)) {
    files_lookup(req, parent, name);
    return;
  }
  fs_node_t p, n;
  int rc = fs_table_get(g.table, parent, &p);
  if (rc) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  cid_t cid;
  if (parent == FS_INO_ROOT) {
    for (size_t i = 0; i < FIXED_COUNT; i++)
      if (strcmp(name, fixed_dirs[i].name) == 0) {
        fs_table_get(g.table, fixed_dirs[i].ino, &n);
        reply_node(req, &n);
        return;
      }
    rc = -ENOENT;
  } else if (parent == FS_INO_IPFS) {
    rc = cid_parse(&cid, name) ? -ENOENT : content_node(&cid, &n);
  } else if (parent == FS_INO_IPNS) {
    rc = ipns_node(name, &n);
    if (!rc) {
      struct fuse_entry_param e = {0};
      e.ino = n.ino;
      node_attr(&n, &e.attr);
      e.attr_timeout = CONTENT_TIMEOUT_S; /* the inode is a CID's: immutable */
      e.entry_timeout = IPNS_ENTRY_TIMEOUT_S;
      fuse_reply_entry(req, &e);
      return;
    }
  } else if (parent == FS_INO_PINS) {
    pin_info_t pin;
    rc = cid_parse(&cid, name) ? -ENOENT : pins_get(g.repo->pins, &cid, &pin);
    if (!rc && pin.type != PIN_RECURSIVE) rc = -ENOENT;
    if (!rc) rc = fs_table_lookup(g.table, FS_PIN_LINK, &cid, NULL, &n);
  } else if (p.kind == FS_CONTENT && p.st.kind == EXP_DIRECTORY) {
    rc = exp_resolve(&g.src, &p.cid, name, &cid);
    if (!rc) rc = content_node(&cid, &n);
  } else if (p.kind == FS_CONTENT) {
    rc = -ENOTDIR;
  } else {
    rc = -ENOENT; /* dwn/ is empty for now */
  }
  if (rc) fuse_reply_err(req, kernel_errno(rc));
  else reply_node(req, &n);
}

static void forget_one(fuse_ino_t ino, uint64_t nlookup) {
  if (files_owns(ino)) files_forget(ino, nlookup);
  else fs_table_forget(g.table, ino, nlookup);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  forget_one(ino, nlookup);
  fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
  for (size_t i = 0; i < count; i++) forget_one(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  if (files_owns(ino)) {
    files_getattr(req, ino, fi);
    return;
  }
  fs_node_t n;
  if (fs_table_get(g.table, ino, &n)) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  struct stat st;
  node_attr(&n, &st);
  fuse_reply_attr(req, &st, n.kind == FS_CONTENT ? CONTENT_TIMEOUT_S : DIR_TIMEOUT_S);
}

/* ---- directories: a snapshot of the listing per opendir ------------------------ */

typedef struct listing {
  buf_t names;    /* NUL-separated names */
  size_t count;
  uint64_t *inos; /* per entry: the inode if known (fixed dirs), else 0 */
  size_t cap;
  mode_t *modes;
} listing_t;

static int listing_add(listing_t *l, const char *name, uint64_t ino, mode_t mode) {
  if (l->count == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    uint64_t *inos = realloc(l->inos, cap * sizeof *inos);
    if (!inos) return -ENOMEM;
    l->inos = inos;
    mode_t *modes = realloc(l->modes, cap * sizeof *modes);
    if (!modes) return -ENOMEM;
    l->modes = modes, l->cap = cap;
  }
  int rc = buf_append(&l->names, name, strlen(name) + 1);
  if (rc) return rc;
  l->inos[l->count] = ino, l->modes[l->count] = mode, l->count++;
  return 0;
}

static void listing_free(listing_t *l) {
  if (!l) return;
  buf_free(&l->names);
  free(l->inos);
  free(l->modes);
  free(l);
}

static int list_pin(void *ctx, const pin_info_t *pin) {
  char text[CID_TEXT_BYTES_MAX];
  int rc = cid_format_default(&pin->cid, text);
  return rc ? rc : listing_add(ctx, text, 0, 0);
}

static int list_entry(void *ctx, const char *name, const cid_t *cid, uint64_t tsize) {
  return listing_add(ctx, name, 0, 0);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  if (files_owns(ino)) {
    files_opendir(req, ino, fi);
    return;
  }
  fs_node_t n;
  int rc = fs_table_get(g.table, ino, &n);
  listing_t *l = rc ? NULL : calloc(1, sizeof *l);
  if (!rc && !l) rc = -ENOMEM;
  if (!rc && n.kind == FS_CONTENT && n.st.kind != EXP_DIRECTORY) rc = -ENOTDIR;
  if (!rc) rc = listing_add(l, ".", ino, S_IFDIR);
  if (!rc) rc = listing_add(l, "..", ino == FS_INO_ROOT || n.kind == FS_DIR_FIXED ? FS_INO_ROOT : 0, S_IFDIR);
  if (!rc && ino == FS_INO_ROOT)
    for (size_t i = 0; !rc && i < FIXED_COUNT; i++) rc = listing_add(l, fixed_dirs[i].name, fixed_dirs[i].ino, S_IFDIR);
  if (!rc && (ino == FS_INO_IPFS || ino == FS_INO_PINS)) rc = pins_ls(g.repo->pins, PIN_RECURSIVE, list_pin, l);
  if (!rc && n.kind == FS_CONTENT) rc = exp_readdir(&g.src, &n.cid, list_entry, l);
  if (rc) {
    listing_free(l);
    fuse_reply_err(req, kernel_errno(rc));
    return;
  }
  fi->fh = (uint64_t)(uintptr_t)l;
  fi->cache_readdir = n.kind == FS_CONTENT;
  fi->keep_cache = n.kind == FS_CONTENT;
  fuse_reply_open(req, fi);
}

/* readdirplus here gives no attributes (ino 0): the kernel looks entries up. */
static void listing_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi, bool plus) {
  if (files_owns(ino)) {
    files_readdir(req, ino, size, off, fi, plus);
    return;
  }
  listing_t *l = (listing_t *)(uintptr_t)fi->fh;
  char *buf = malloc(size);
  if (!buf) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  size_t used = 0;
  const char *name = (const char *)l->names.data;
  for (size_t i = 0; i < l->count; i++, name += strlen(name) + 1) {
    if ((off_t)i < off) continue;
    struct fuse_entry_param e = {.attr = {.st_ino = l->inos[i] ? l->inos[i] : 0xffffffffu, .st_mode = l->modes[i]}};
    size_t need = plus ? fuse_add_direntry_plus(req, buf + used, size - used, name, &e, (off_t)i + 1)
                       : fuse_add_direntry(req, buf + used, size - used, name, &e.attr, (off_t)i + 1);
    if (need > size - used) break;
    used += need;
  }
  fuse_reply_buf(req, buf, used);
  free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  listing_readdir(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  listing_readdir(req, ino, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  if (files_owns(ino)) {
    files_releasedir(req, ino, fi);
    return;
  }
  listing_free((listing_t *)(uintptr_t)fi->fh);
  fuse_reply_err(req, 0);
}

/* ---- files --------------------------------------------------------------------- */

/* An open file: the kernel sends parallel reads of one handle (readahead),
 * served by a pool of exporter handles (readers.h). */
typedef struct open_file {
  readers_t rd;
} open_file_t;

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  if (files_owns(ino)) {
    files_open_file(req, ino, fi);
    return;
  }
  fs_node_t n;
  int rc = fs_table_get(g.table, ino, &n);
  if (!rc && (fi->flags & O_ACCMODE) != O_RDONLY) rc = n.kind == FS_CONTENT ? -EROFS : -EACCES;
  if (!rc && (n.kind != FS_CONTENT || n.st.kind == EXP_DIRECTORY)) rc = -EISDIR;
  open_file_t *of = rc ? NULL : calloc(1, sizeof *of);
  if (!rc && !of) rc = -ENOMEM;
  if (rc) {
    fuse_reply_err(req, kernel_errno(rc));
    return;
  }
  readers_init(&of->rd, &g.src);
  readers_reset(&of->rd, &n.cid);
  fi->fh = (uint64_t)(uintptr_t)of;
  fi->keep_cache = 1; /* immutable content */
  fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  if (files_owns(ino)) {
    files_read(req, ino, size > READ_BYTES_MAX ? READ_BYTES_MAX : size, off, fi);
    return;
  }
  open_file_t *of = (open_file_t *)(uintptr_t)fi->fh;
  if (size > READ_BYTES_MAX) size = READ_BYTES_MAX;
  char *buf = malloc(size ? size : 1);
  if (!buf) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  ssize_t n = readers_pread(&of->rd, buf, size, (uint64_t)off);
  if (n < 0) fuse_reply_err(req, kernel_errno((int)n));
  else fuse_reply_buf(req, buf, (size_t)n);
  free(buf);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  if (files_owns(ino)) {
    files_release(req, ino, fi);
    return;
  }
  open_file_t *of = (open_file_t *)(uintptr_t)fi->fh;
  readers_destroy(&of->rd);
  free(of);
  fuse_reply_err(req, 0);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino) {
  if (files_owns(ino)) {
    files_readlink(req, ino);
    return;
  }
  fs_node_t n;
  int rc = fs_table_get(g.table, ino, &n);
  buf_t target = {0};
  if (!rc && n.kind == FS_PIN_LINK) {
    char text[CID_TEXT_BYTES_MAX + 16];
    rc = pin_link_text(&n.cid, text, sizeof text);
    if (!rc) rc = buf_append(&target, text, strlen(text));
  } else if (!rc && n.kind == FS_CONTENT && n.st.kind == EXP_SYMLINK) {
    rc = exp_readlink(&g.src, &n.cid, &target);
  } else if (!rc) {
    rc = -EINVAL;
  }
  if (!rc && !buf_cstr(&target)) rc = -ENOMEM;
  if (rc) fuse_reply_err(req, kernel_errno(rc));
  else fuse_reply_readlink(req, (char *)target.data);
  buf_free(&target);
}

/* ---- pins/: ln -s pins, rm unpins ------------------------------------------------- */

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name) {
  if (files_owns(parent)) {
    files_symlink(req, link, parent, name);
    return;
  }
  cid_t cid;
  fs_node_t n;
  int rc = parent == FS_INO_PINS ? 0 : (parent == FS_INO_ROOT || parent == FS_INO_IPFS ? -EACCES : -EROFS);
  if (!rc && cid_parse(&cid, name)) rc = -EINVAL;
  if (!rc) rc = pins_add(g.repo->pins, &cid, true, NULL, 0);
  if (!rc) rc = fs_table_lookup(g.table, FS_PIN_LINK, &cid, NULL, &n);
  if (rc) fuse_reply_err(req, kernel_errno(rc));
  else reply_node(req, &n);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) {
  if (files_owns(parent)) {
    files_unlink(req, parent, name);
    return;
  }
  cid_t cid;
  int rc = parent == FS_INO_PINS ? 0 : -EACCES;
  if (!rc && cid_parse(&cid, name)) rc = -ENOENT;
  if (!rc) rc = pins_rm(g.repo->pins, &cid);
  fuse_reply_err(req, rc ? kernel_errno(rc) : 0);
}

/* ---- the writable tree: files/ (files.h); elsewhere these change nothing ---------------- */

/* The error for a change outside files/: EROFS under ipfs/ (content), EACCES
 * in the fixed directories and pins/. */
static int elsewhere(fuse_ino_t ino) {
  fs_node_t n;
  return fs_table_get(g.table, ino, &n) == 0 && n.kind == FS_CONTENT ? EROFS : EACCES;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
  if (files_owns(ino)) files_setattr(req, ino, attr, to_set, fi);
  else fuse_reply_err(req, elsewhere(ino));
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  if (files_owns(parent)) files_mknod(req, parent, name, mode, rdev);
  else fuse_reply_err(req, elsewhere(parent));
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  if (files_owns(parent)) files_mkdir(req, parent, name, mode);
  else fuse_reply_err(req, elsewhere(parent));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name) {
  if (files_owns(parent)) files_rmdir(req, parent, name);
  else fuse_reply_err(req, elsewhere(parent));
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
                      unsigned int flags) {
  if (files_owns(parent)) files_rename(req, parent, name, newparent, newname, flags);
  else fuse_reply_err(req, files_owns(newparent) ? EXDEV : elsewhere(parent));
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname) {
  if (files_owns(ino)) files_link(req, ino, newparent, newname);
  else fuse_reply_err(req, files_owns(newparent) ? EXDEV : elsewhere(newparent));
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi) {
  if (files_owns(parent)) files_create(req, parent, name, mode, fi);
  else fuse_reply_err(req, elsewhere(parent));
}

/* Only files/ opens files for writing. */
static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  if (files_owns(ino)) files_write(req, ino, buf, size, off, fi);
  else fuse_reply_err(req, EBADF);
}

/* Never ENOSYS for flush, fsync, lseek, fallocate, xattrs: the kernel would
 * stop sending them for every file of the mount. */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  if (files_owns(ino)) files_flush(req, ino, fi);
  else fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  if (files_owns(ino)) files_fsync(req, ino, datasync, fi);
  else fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  if (files_owns(ino)) files_fsyncdir(req, ino, datasync, fi);
  else fuse_reply_err(req, 0);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length, struct fuse_file_info *fi) {
  if (files_owns(ino)) files_fallocate(req, ino, mode, offset, length, fi);
  else fuse_reply_err(req, EBADF);
}

/* Content under ipfs/ is all data: SEEK_DATA stays, SEEK_HOLE goes to the end. */
static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi) {
  if (files_owns(ino)) {
    files_lseek(req, ino, off, whence, fi);
    return;
  }
  fs_node_t n;
  if (fs_table_get(g.table, ino, &n) != 0 || n.kind != FS_CONTENT) fuse_reply_err(req, EINVAL);
  else if ((uint64_t)off >= n.st.size_bytes) fuse_reply_err(req, ENXIO);
  else fuse_reply_lseek(req, whence == SEEK_DATA ? off : (off_t)n.st.size_bytes);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags) {
  if (files_owns(ino)) files_setxattr(req, ino, name, value, size, flags);
  else fuse_reply_err(req, elsewhere(ino) == EROFS ? EROFS : EPERM);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name) {
  if (files_owns(ino)) files_removexattr(req, ino, name);
  else fuse_reply_err(req, elsewhere(ino) == EROFS ? EROFS : EPERM);
}

/* ---- xattrs, statfs ----------------------------------------------------------------- */

#define XATTR_CID "user.anya.cid"

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
  if (files_owns(ino)) {
    files_getxattr(req, ino, name, size);
    return;
  }
  fs_node_t n;
  int rc = fs_table_get(g.table, ino, &n);
  char text[CID_TEXT_BYTES_MAX];
  if (!rc && (n.kind == FS_DIR_FIXED || strcmp(name, XATTR_CID) != 0)) rc = -ENODATA;
  if (!rc) rc = cid_format_default(&n.cid, text);
  if (rc) {
    fuse_reply_err(req, rc == -ENODATA ? ENODATA : kernel_errno(rc));
    return;
  }
  size_t len = strlen(text);
  if (size == 0) fuse_reply_xattr(req, len);
  else if (size < len) fuse_reply_err(req, ERANGE);
  else fuse_reply_buf(req, text, len);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  if (files_owns(ino)) {
    files_listxattr(req, ino, size);
    return;
  }
  /* user.anya.cid is asked for by name, not listed: copies (cp -a, rsync -X)
   * would carry it onto other files */
  fs_node_t n;
  if (fs_table_get(g.table, ino, &n)) fuse_reply_err(req, ENOENT);
  else if (size == 0) fuse_reply_xattr(req, 0);
  else fuse_reply_buf(req, NULL, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino) {
  struct statvfs sv;
  if (statvfs(g.repo->path, &sv) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  fuse_reply_statfs(req, &sv);
}

/* Larger requests: 1 MiB reads and writes (max_write also sets the kernel's
 * max_pages, which bounds reads) and readahead; the kernel may lower them. */
static void op_init(void *userdata, struct fuse_conn_info *conn) {
  conn->max_write = READ_BYTES_MAX;
  conn->max_readahead = READ_BYTES_MAX;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  /* the kernel enforces the ACLs files/ stores; files/ applies the umask or
   * a directory's default ACL to new entries */
  if ((conn->capable & FUSE_CAP_POSIX_ACL) && (conn->capable & FUSE_CAP_DONT_MASK))
    conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
  if (conn->capable & FUSE_CAP_READDIRPLUS_AUTO) conn->want |= FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO;
}

static const struct fuse_lowlevel_ops ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .readlink = op_readlink,
    .symlink = op_symlink,
    .unlink = op_unlink,
    .open = op_open,
    .read = op_read,
    .release = op_release,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .releasedir = op_releasedir,
    .statfs = op_statfs,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
    .setattr = op_setattr,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .rmdir = op_rmdir,
    .rename = op_rename,
    .link = op_link,
    .create = op_create,
    .write = op_write,
    .flush = op_flush,
    .fsync = op_fsync,
    .fsyncdir = op_fsyncdir,
    .fallocate = op_fallocate,
    .lseek = op_lseek,
    .setxattr = op_setxattr,
    .removexattr = op_removexattr,
    .readdirplus = op_readdirplus,
};

/* ---- main ------------------------------------------------------------------------ */

static int usage(const char *why) {
  fprintf(stderr,
          "anyad: %s\nusage: anyad [--repo DIR] [--config FILE] [--mount DIR|off] [--dwn ADDR|off] "
          "[--gateway ADDR|off] [--rpc ADDR|off] [--p2p MULTIADDR|off] [--foreground]\n",
          why);
  return 2;
}

static int die(int rc) {
  fprintf(stderr, "anyad: %s\n", err_msg(rc));
  return 1;
}

/* Detaches a mount left by a crashed run (its FUSE connection is gone). */
static int clear_stale_mount(const char *dir) {
  /* Opening the directory asks the filesystem (a cached stat may not): a FUSE
   * mount whose daemon died answers ENOTCONN.  Mounts stack, so clear them all. */
  for (int i = 0; i < 16; i++) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      close(fd);
      return 0;
    }
    if (errno != ENOTCONN) return 0; /* not ours to judge: the mount will say what is wrong */
    if (umount2(dir, MNT_DETACH) != 0) return err_set(-errno, "stale mount at %s: %s", dir, strerror(errno));
    log_kv(LOG_LEVEL_WARN, "fs", ((log_kv_t[]){LOG_STR("mount", dir)}), "cleared the stale mount of a crashed run");
  }
  return err_set(-EBUSY, "%s: more than 16 stale mounts stacked", dir);
}

/* Without --foreground the daemon detaches at once, before any thread
 * exists, and the starting terminal waits on a pipe: it exits 0 once
 * everything serves (ready), or 1 when start-up failed (the child's error
 * went to the same stderr). */
static int detach(int *ready_fd) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return err_set(-errno, "pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0) return err_set(-errno, "fork: %s", strerror(errno));
  if (pid > 0) {
    close(p[1]);
    char c;
    ssize_t n;
    while ((n = read(p[0], &c, 1)) < 0 && errno == EINTR) {
    }
    _exit(n == 1 && c == 0 ? 0 : 1);
  }
  close(p[0]);
  setsid();
  *ready_fd = p[1];
  return 0;
}

static void ready(int ready_fd) {
  if (ready_fd < 0) return;
  char c = 0;
  if (write(ready_fd, &c, 1) != 1) { /* the parent is gone: nothing to tell */
  }
  close(ready_fd);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, 0), dup2(null, 1), dup2(null, 2);
    close(null);
  }
}

static int resolve_name(void *ctx, const char *name, char *path, size_t cap) {
  char resolved[IPNS_PATH_BYTES_MAX];
  int rc = ipns_resolve(ctx, name, IPNS_LOOKUP_TIMEOUT_MS, resolved);
  if (!rc && (size_t)snprintf(path, cap, "%s", resolved) >= cap) rc = -ENAMETOOLONG;
  return rc;
}

static void install_ipns(net_t *net) {
  g.ipns_ctx = net_ipns(net);
  g.ipns_resolve = g.ipns_ctx ? resolve_name : NULL;
}

int main(int argc, char **argv) {
  const char *repo_flag = NULL, *config_file = NULL, *mount = NULL;
  bool foreground = false;
  static const char *const listeners[] = {"--dwn", "--gateway", "--rpc", "--p2p"};
  const char *listener_values[4] = {NULL};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--foreground") == 0 || strcmp(a, "-f") == 0) {
      foreground = true;
      continue;
    }
    if (strcmp(a, "--version") == 0) {
      printf("anyad %s\n", VERSION);
      return 0;
    }
    const char *eq = strchr(a, '=');
    size_t n = eq ? (size_t)(eq - a) : strlen(a);
    const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
    const char **slot = NULL;
    if (n == 6 && strncmp(a, "--repo", n) == 0) slot = &repo_flag;
    else if (n == 8 && strncmp(a, "--config", n) == 0) slot = &config_file;
    else if (n == 7 && strncmp(a, "--mount", n) == 0) slot = &mount;
    for (size_t l = 0; !slot && l < 4; l++)
      if (strlen(listeners[l]) == n && strncmp(a, listeners[l], n) == 0) slot = &listener_values[l];
    if (!slot) {
      char why[256];
      snprintf(why, sizeof why, "unknown option %s", a);
      return usage(why);
    }
    if (!value) return usage("an option needs a value");
    *slot = value;
    if (!eq) i++;
  }
  int ready_fd = -1;
  if (!foreground) {
    int drc = detach(&ready_fd);
    if (drc) return die(drc);
  }
  char path[REPO_PATH_BYTES_MAX];
  int rc = repo_default_path(repo_flag, path);
  if (rc) return die(rc);
  if (access(path, F_OK) != 0 && (rc = repo_init(path, "dev", NULL)) != 0) return die(rc);
  if ((rc = repo_open(path, "anyad", NULL, &g.repo))) return die(rc);
  if (config_file && (rc = config_load_file(g.repo->config, config_file))) return repo_close(g.repo), die(rc);
  log_level_t level;
  log_format_t format;
  if (log_level_parse(config_string(g.repo->config, "logging.level"), &level) == 0 &&
      log_format_parse(config_string(g.repo->config, "logging.format"), &format) == 0)
    log_configure(level, format);
  if (!mount) mount = config_string(g.repo->config, "network.mount");
  const char *dwn_addr = listener_values[0] ? listener_values[0] : config_string(g.repo->config, "network.dwn");
  dwn_t *dwn = NULL;
  if (strcmp(dwn_addr, "off") != 0 && (rc = dwn_open_repo(g.repo, &dwn))) return repo_close(g.repo), die(rc);
  g.src = bs_source(g.repo->bs);
  g.uid = getuid(), g.gid = getgid();
  if ((rc = fs_table_new(&g.table))) return dwn_close(dwn), repo_close(g.repo), die(rc);
  if (strcmp(mount, "off") != 0 && (rc = files_open(g.repo, g.uid, g.gid, FS_INO_FILES)))
    return fs_table_free(g.table), dwn_close(dwn), repo_close(g.repo), die(rc);
  net_opts_t nopts = {.repo = g.repo, .dwn = dwn, .dwn_addr = dwn_addr,
                      .gateway_addr = listener_values[1], .rpc_addr = listener_values[2],
                      .p2p_addr = listener_values[3],
                      .files_roots = strcmp(mount, "off") != 0 ? files_gc_roots : NULL};
  net_t *net = NULL;
  int status = 0;
  if (strcmp(mount, "off") == 0) { /* the listeners alone: serve until told to stop */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM), sigaddset(&set, SIGINT), sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    rc = net_start(&nopts, &net);
    if (!rc) {
      install_ipns(net);
      ready(ready_fd);
      int sig;
      sigwait(&set, &sig);
      log_kv(LOG_LEVEL_INFO, "anyad", ((log_kv_t[]){LOG_STR("signal", strsignal(sig))}), "stopping");
    }
    net_stop(net);
  } else {
    if (mkdir(mount, 0755) != 0 && errno != EEXIST && errno != ENOTCONN)
      rc = err_set(-errno, "cannot create the mountpoint %s: %s", mount, strerror(errno));
    if (!rc) rc = clear_stale_mount(mount);
    char *fuse_argv[] = {argv[0], "-o", "default_permissions,allow_other,fsname=anya,subtype=anya", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, fuse_argv);
    struct fuse_session *se = rc ? NULL : fuse_session_new(&args, &ops, sizeof ops, NULL);
    if (!rc && !se) rc = err_set(-EIO, "cannot create the FUSE session");
    if (!rc && fuse_set_signal_handlers(se) != 0) rc = err_set(-EIO, "cannot install signal handlers");
    if (!rc && fuse_session_mount(se, mount) != 0) rc = err_set(-EIO, "cannot mount %s (is /dev/fuse there, and are we root?)", mount);
    bool mounted = !rc;
    if (!rc) {
      /* The listeners' threads leave the stop signals to the FUSE loop's thread. */
      sigset_t set, old;
      sigemptyset(&set);
      sigaddset(&set, SIGTERM), sigaddset(&set, SIGINT), sigaddset(&set, SIGHUP);
      pthread_sigmask(SIG_BLOCK, &set, &old);
      rc = net_start(&nopts, &net);
      pthread_sigmask(SIG_SETMASK, &old, NULL);
      if (!rc) install_ipns(net); /* before the FUSE loop serves a lookup */
    }
    if (!rc) {
      log_kv(LOG_LEVEL_INFO, "anyad", ((log_kv_t[]){LOG_STR("mount", mount), LOG_STR("repo", path)}), "mounted");
      ready(ready_fd);
      struct fuse_loop_config *cfg = fuse_loop_cfg_create();
      fuse_loop_cfg_set_max_threads(cfg, 16);
      int loop = fuse_session_loop_mt(se, cfg);
      fuse_loop_cfg_destroy(cfg);
      if (loop < 0) rc = err_set(loop, "the FUSE loop failed");
    }
    net_stop(net);
    if (mounted) fuse_session_unmount(se);
    if (se) {
      fuse_remove_signal_handlers(se);
      fuse_session_destroy(se);
    }
    fuse_opt_free_args(&args);
    if (mounted && !rc) log_kv(LOG_LEVEL_INFO, "anyad", ((log_kv_t[]){LOG_STR("mount", mount)}), "unmounted");
  }
  int frc = files_close();
  if (!rc) rc = frc;
  fs_table_free(g.table);
  dwn_close(dwn);
  int crc = repo_close(g.repo);
  if (!rc) rc = crc;
  if (rc) status = die(rc);
  return status;
}
