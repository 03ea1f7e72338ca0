/* files: the mount's writable tree (see files.h). */
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "bs.h"
#include "err.h"
#include "exporter.h"
#include "fsmeta.h"
#include "importer.h"
#include "log.h"
#include "policy.h"
#include "readers.h"

#define BUCKETS 65536u              /* node table hash buckets */
#define COPY_BYTES (1u << 20)       /* staging copy unit */
#define XATTR_CID "user.anya.cid"
#define FILE_BYTES_MAX (16ull << 40) /* as ext4 with 4 KiB blocks: EFBIG past it */

enum { CLEAN, STREAM, STAGED };

typedef struct fnode {
  uint64_t ino;     /* fsmeta inode */
  uint64_t nlookup; /* the kernel's references */
  uint32_t opens;   /* open files */
  uint32_t refs;    /* operations in flight */
  bool unlinked;    /* nlink reached 0: reap when unused */
  pthread_rwlock_t lock; /* the content state below: reads shared, changes exclusive */
  int state;
  bool dirty;       /* content changed since it was last made durable */
  bool times_set;   /* mtime/ctime below are newer than the inode's */
  uint64_t size;    /* the content's size (valid once loaded) */
  bool loaded;      /* size and state read from the inode */
  struct timespec mtime;
  imp_file_t *stream;
  int stage_fd;
  readers_t rd;     /* clean reads (readers.h); its CID is set when needed */
  uint64_t parent;  /* where the kernel last found it (under the table lock): */
  char *name;       /* its path names pin policies' files rules */
  struct fnode *next;
} fnode_t;

static struct {
  repo_t *repo;
  fsmeta_t *meta;
  block_sink_t sink;
  block_source_t src;
  imp_options_t imp;
  uint64_t root_ino; /* the kernel's inode of files/ */
  bool policies;     /* some pin policy has source files */
  cid_t zero;        /* the leaf of a whole chunk of zeros (holes read without I/O) */
  cid_t empty;       /* the empty file (truncate to 0), and its tsize */
  uint64_t empty_tsize;
  char stage_dir[REPO_PATH_BYTES_MAX + 32];
  pthread_mutex_t table_lock;
  fnode_t **buckets;
} F;

/* ---- inode numbers, errors ---------------------------------------------------- */

bool files_owns(uint64_t ino) { return F.meta && (ino == F.root_ino || ino >= FILES_INO_BASE); }

static uint64_t to_meta(fuse_ino_t ino) { return ino == F.root_ino ? FSMETA_INO_ROOT : ino - FILES_INO_BASE; }
static fuse_ino_t to_kernel(uint64_t ino) { return ino == FSMETA_INO_ROOT ? F.root_ino : ino + FILES_INO_BASE; }

/* errno for the kernel; unexpected errors are logged as I/O errors. */
static int kerr(int rc) {
  switch (-rc) {
    case ENOENT: case ENOTDIR: case EISDIR: case EINVAL: case ENOMEM: case ENAMETOOLONG: case EEXIST:
    case EPERM: case EACCES: case ENOTEMPTY: case EMLINK: case ENODATA: case ERANGE: case E2BIG:
    case ENOSPC: case EXDEV: case EBADF: case ENXIO: case EOPNOTSUPP: case EFBIG: case ELOOP: case EDQUOT:
      return -rc;
  }
  log_kv(LOG_LEVEL_WARN, "files", ((log_kv_t[]){LOG_INT("errno", -rc), LOG_STR("error", err_msg(rc))}), "I/O error");
  return EIO;
}

static void reply_err(fuse_req_t req, int rc) { fuse_reply_err(req, rc ? kerr(rc) : 0); }

static struct timespec now(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return t;
}

/* ---- the node table -------------------------------------------------------------- */

static fnode_t **bucket(uint64_t ino) { return &F.buckets[(ino * 0x9E3779B97F4A7C15ull) >> 48 & (BUCKETS - 1)]; }

/* The node of ino with one operation reference, created if absent. */
static fnode_t *node_get(uint64_t ino) {
  pthread_mutex_lock(&F.table_lock);
  fnode_t *n = *bucket(ino);
  while (n && n->ino != ino) n = n->next;
  if (!n && (n = calloc(1, sizeof *n))) {
    n->ino = ino;
    n->stage_fd = -1;
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP); /* writes are not starved by reads */
    pthread_rwlock_init(&n->lock, &a);
    pthread_rwlockattr_destroy(&a);
    readers_init(&n->rd, &F.src);
    readers_set_zero(&n->rd, &F.zero);
    n->next = *bucket(ino);
    *bucket(ino) = n;
  }
  if (n) n->refs++;
  pthread_mutex_unlock(&F.table_lock);
  return n;
}

/* The node of ino if the table has it (with a reference), else NULL. */
static fnode_t *node_find(uint64_t ino) {
  pthread_mutex_lock(&F.table_lock);
  fnode_t *n = *bucket(ino);
  while (n && n->ino != ino) n = n->next;
  if (n) n->refs++;
  pthread_mutex_unlock(&F.table_lock);
  return n;
}

static void stage_path(uint64_t ino, char *out, size_t cap) { snprintf(out, cap, "%s/%" PRIu64, F.stage_dir, ino); }

static void stage_close(fnode_t *n);

/* Drops what a node holds (clean, unused): the exporter, a staging file. */
static void node_free(fnode_t *n) {
  readers_destroy(&n->rd);
  if (n->stream) imp_file_abort(n->stream);
  if (n->stage_fd >= 0 && n->unlinked) stage_close(n);
  if (n->stage_fd >= 0) close(n->stage_fd); /* a flush failed: recovered (or cleared) at the next start */
  if (n->unlinked) fsmeta_reap(F.meta, n->ino);
  free(n->name);
  pthread_rwlock_destroy(&n->lock);
  free(n);
}

static int flush_locked(fnode_t *n, bool final);

/* Releases an operation reference; frees the node once nothing uses it.  A
 * node left dirty with no user (a truncate(2) without an open file) is made
 * durable first. */
static void node_put(fnode_t *n) {
  pthread_mutex_lock(&F.table_lock);
  bool last = --n->refs == 0 && n->nlookup == 0 && n->opens == 0;
  pthread_mutex_unlock(&F.table_lock);
  if (!last) return;
  pthread_rwlock_wrlock(&n->lock);
  if (!n->unlinked && (n->dirty || n->state != CLEAN)) flush_locked(n, true);
  pthread_rwlock_unlock(&n->lock);
  pthread_mutex_lock(&F.table_lock);
  if (n->refs || n->nlookup || n->opens) { /* taken again meanwhile */
    pthread_mutex_unlock(&F.table_lock);
    return;
  }
  fnode_t **p = bucket(n->ino);
  while (*p != n) p = &(*p)->next;
  *p = n->next;
  pthread_mutex_unlock(&F.table_lock);
  node_free(n);
}

/* An inode whose nlink reached 0: reaped now if the kernel holds nothing of
 * it, else when the last use goes. */
static void orphaned(uint64_t ino) {
  fnode_t *n = node_find(ino);
  if (!n) {
    fsmeta_reap(F.meta, ino);
    return;
  }
  pthread_rwlock_wrlock(&n->lock);
  n->unlinked = true;
  pthread_rwlock_unlock(&n->lock);
  node_put(n);
}

/* Records where the kernel found n (for path-based pin policies). */
static void name_node(fnode_t *n, uint64_t parent, const char *name) {
  if (!F.policies || !name) return;
  char *copy = strdup(name);
  pthread_mutex_lock(&F.table_lock);
  free(n->name);
  n->name = copy, n->parent = parent;
  pthread_mutex_unlock(&F.table_lock);
}

/* The path of ino in files/ ("/a/b") from the names the kernel's lookups gave
 * its node and its directories' nodes (the kernel holds a file's parents
 * while it holds the file).  -ENOENT when a name is unknown. */
static int path_of(uint64_t ino, char *out, size_t cap) {
  char tmp[PATH_MAX];
  size_t at = sizeof tmp - 1;
  tmp[at] = '\0';
  int rc = 0;
  pthread_mutex_lock(&F.table_lock);
  for (int depth = 0; ino != FSMETA_INO_ROOT; depth++) {
    fnode_t *n = *bucket(ino);
    while (n && n->ino != ino) n = n->next;
    size_t len = n && n->name ? strlen(n->name) : 0;
    if (!len || depth > 1024 || len + 1 > at) {
      rc = -ENOENT;
      break;
    }
    at -= len;
    memcpy(tmp + at, n->name, len);
    tmp[--at] = '/';
    ino = n->parent;
  }
  pthread_mutex_unlock(&F.table_lock);
  if (!rc) snprintf(out, cap, "%s", tmp + at);
  return rc;
}

/* Content just recorded: the pin policies with source files decide whether
 * it is pinned (as "<rule>/<path without the leading />"). */
static void apply_policies(fnode_t *n, const cid_t *cid) {
  char path[PATH_MAX];
  if (!F.policies || path_of(n->ino, path, sizeof path) != 0) return;
  policy_event_t ev = {.source = POLICY_SOURCE_FILES, .path = path, .size = n->size};
  int rc = policy_apply(&F.repo->policies, &ev, F.repo->pins, path + 1, cid, NULL);
  if (rc)
    log_kv(LOG_LEVEL_WARN, "files", ((log_kv_t[]){LOG_STR("path", path), LOG_STR("error", err_msg(rc))}),
           "pin policy could not pin a file");
}

/* ---- attributes ------------------------------------------------------------------- */

static void to_stat(const fsmeta_inode_t *i, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = to_kernel(i->ino);
  st->st_mode = i->mode;
  st->st_nlink = i->nlink;
  st->st_uid = i->uid;
  st->st_gid = i->gid;
  st->st_rdev = i->rdev;
  st->st_size = (off_t)i->size;
  st->st_blksize = 262144;
  st->st_blocks = (st->st_size + 511) / 512;
  if (S_ISDIR(i->mode)) st->st_size = 4096, st->st_blocks = 8;
  st->st_atim = i->atime;
  st->st_mtim = i->mtime;
  st->st_ctim = i->ctime;
}

/* The inode with the node's unflushed size and times over it. */
static int inode_now(uint64_t ino, fsmeta_inode_t *out) {
  int rc = fsmeta_get(F.meta, ino, out);
  if (rc || !S_ISREG(out->mode)) return rc;
  fnode_t *n = node_find(ino);
  if (!n) return 0;
  pthread_rwlock_rdlock(&n->lock);
  if (n->loaded) out->size = n->size;
  if (n->times_set) out->mtime = out->ctime = n->mtime;
  pthread_rwlock_unlock(&n->lock);
  node_put(n);
  return 0;
}

int files_root_attr(struct stat *st) {
  fsmeta_inode_t i;
  int rc = fsmeta_get(F.meta, FSMETA_INO_ROOT, &i);
  if (!rc) to_stat(&i, st);
  return rc;
}

/* An entry reply for inode i (found as parent/name), counting the kernel's
 * new reference. */
static void reply_entry(fuse_req_t req, const fsmeta_inode_t *i, uint64_t parent, const char *name) {
  fnode_t *n = node_get(i->ino);
  if (!n) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  name_node(n, parent, name);
  struct fuse_entry_param e = {0};
  e.ino = to_kernel(i->ino);
  e.attr_timeout = e.entry_timeout = FILES_TIMEOUT_S;
  fsmeta_inode_t cur = *i;
  pthread_rwlock_rdlock(&n->lock);
  if (n->loaded && S_ISREG(cur.mode)) cur.size = n->size;
  if (n->times_set) cur.mtime = cur.ctime = n->mtime;
  pthread_rwlock_unlock(&n->lock);
  to_stat(&cur, &e.attr);
  pthread_mutex_lock(&F.table_lock);
  n->nlookup++;
  pthread_mutex_unlock(&F.table_lock);
  if (fuse_reply_entry(req, &e) != 0) files_forget(e.ino, 1); /* the kernel did not take it */
  node_put(n);
}

/* ---- content ------------------------------------------------------------------------ */

/* Reads the content state from the inode (first use of the node). */
static int load_locked(fnode_t *n) {
  if (n->loaded) return 0;
  fsmeta_inode_t i;
  int rc = fsmeta_get(F.meta, n->ino, &i);
  if (rc) return rc;
  n->size = i.size;
  n->loaded = true;
  return 0;
}

static void exp_drop(fnode_t *n) { readers_reset(&n->rd, NULL); }

/* A missing block under a file is an I/O error, not a missing file. */
static int content_err(int rc) { return rc == -ENOENT ? err_set(-EIO, "a block of a file's content is missing") : rc; }

static int exp_ready(fnode_t *n) {
  if (n->rd.has_cid) return 0;
  fsmeta_inode_t i;
  int rc = fsmeta_get(F.meta, n->ino, &i);
  if (!rc) readers_reset(&n->rd, &i.cid);
  return rc;
}

/* Records new content (cid, size) durably.  The blocks are synced first, so
 * an inode never names blocks a crash could lose. */
typedef struct content_update {
  const cid_t *cid;
  uint64_t size, tsize;
  bool times_set;
  struct timespec mtime;
  bool staged;
} content_update_t;

static int apply_content(void *ctx, fsmeta_inode_t *i) {
  content_update_t *u = ctx;
  if (u->cid) i->cid = *u->cid, i->tsize = u->tsize;
  i->size = u->size;
  if (u->times_set) i->mtime = i->ctime = u->mtime;
  if (u->staged) i->flags |= FSMETA_STAGED;
  else i->flags &= ~FSMETA_STAGED;
  return 0;
}

static int record_content(fnode_t *n, const cid_t *cid, uint64_t tsize, bool staged) {
  int rc = cid ? bs_sync(F.repo->bs) : 0;
  content_update_t u = {cid, n->size, tsize, n->times_set, n->mtime, staged};
  if (!rc) rc = fsmeta_update(F.meta, n->ino, apply_content, &u, true, NULL);
  if (!rc) n->times_set = false;
  if (!rc && cid && !staged && !n->unlinked) apply_policies(n, cid);
  return rc;
}

static void stage_close(fnode_t *n) {
  char path[sizeof F.stage_dir + 24];
  close(n->stage_fd);
  n->stage_fd = -1;
  stage_path(n->ino, path, sizeof path);
  unlink(path);
}

/* The DAG of a staging file's first size bytes.  Holes (SEEK_DATA/SEEK_HOLE)
 * are pushed as zeros without reading or hashing them, so a sparse file of
 * terabytes re-chunks in seconds. */
static int rechunk(int fd, uint64_t size, cid_t *cid, uint64_t *tsize) {
  imp_file_t *f;
  int rc = imp_file_new(&F.imp, &F.sink, &f);
  if (rc) return rc;
  char *buf = malloc(COPY_BYTES);
  if (!buf) rc = -ENOMEM;
  for (uint64_t off = 0; !rc && off < size;) {
    off_t data = lseek(fd, (off_t)off, SEEK_DATA);
    if (data < 0 && errno != ENXIO) rc = err_set(-errno, "staging file: %s", strerror(errno));
    uint64_t to = data < 0 || (uint64_t)data > size ? size : (uint64_t)data; /* ENXIO: a hole to the end */
    if (!rc && to > off) {
      rc = imp_file_write_zeros(f, to - off);
      off = to;
      continue;
    }
    off_t hole = rc ? 0 : lseek(fd, (off_t)off, SEEK_HOLE);
    uint64_t end = hole < 0 || (uint64_t)hole > size ? size : (uint64_t)hole;
    while (!rc && off < end) {
      size_t want = end - off < COPY_BYTES ? (size_t)(end - off) : COPY_BYTES;
      ssize_t got = pread(fd, buf, want, (off_t)off);
      if (got <= 0) rc = got < 0 ? err_set(-errno, "staging file: %s", strerror(errno)) : err_set(-EIO, "staging file shorter than its size");
      else rc = imp_file_write(f, buf, (size_t)got), off += (uint64_t)got;
    }
  }
  free(buf);
  if (rc) imp_file_abort(f);
  else rc = imp_file_finish(f, cid, tsize);
  return rc;
}

/* Makes the content durable.  final: a stream is finished and a staged file
 * re-chunked (the inode gets the CID); otherwise a staged file is only
 * synced and marked FSMETA_STAGED (fsync). */
static int flush_locked(fnode_t *n, bool final) {
  int rc = 0;
  cid_t cid;
  uint64_t tsize = 0;
  if (n->state == STREAM) {
    rc = imp_file_finish(n->stream, &cid, &tsize);
    n->stream = NULL;
    n->state = CLEAN;
    if (!rc) rc = record_content(n, &cid, tsize, false);
  } else if (n->state == STAGED && !final) {
    if (!n->dirty) return 0;
    rc = fdatasync(n->stage_fd) ? err_set(-errno, "staging file: %s", strerror(errno)) : 0;
    if (!rc) rc = record_content(n, NULL, 0, true);
  } else if (n->state == STAGED) {
    rc = rechunk(n->stage_fd, n->size, &cid, &tsize);
    if (!rc) rc = record_content(n, &cid, tsize, false);
    if (!rc) stage_close(n), n->state = CLEAN;
  } else if (n->dirty || n->times_set) {
    rc = record_content(n, NULL, 0, false);
  }
  if (!rc) n->dirty = false;
  exp_drop(n);
  return rc;
}

/* Moves the content into a staging file (copied from the DAG, sparse). */
static int to_staged(fnode_t *n) {
  if (n->state == STAGED) return 0;
  int rc = 0;
  if (n->state == STREAM) rc = flush_locked(n, true);
  char path[sizeof F.stage_dir + 24];
  stage_path(n->ino, path, sizeof path);
  int fd = rc ? -1 : open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (!rc && fd < 0) rc = err_set(-errno, "staging file %s: %s", path, strerror(errno));
  /* the copy skips holes: zero chunks are never read, all-zero reads never written */
  exp_file_t *ef = NULL;
  fsmeta_inode_t i;
  if (!rc && n->size && !(rc = fsmeta_get(F.meta, n->ino, &i)) && !(rc = content_err(exp_open(&F.src, &i.cid, &ef))))
    exp_set_zero(ef, &F.zero);
  char *buf = !rc && n->size ? malloc(COPY_BYTES) : NULL;
  if (!rc && n->size && !buf) rc = -ENOMEM;
  bool seek = true; /* look for the next data only after a hole, not on every read */
  for (uint64_t off = 0; !rc && off < n->size;) {
    uint64_t data = off;
    if (seek && ((rc = content_err(exp_next_data(ef, off, &data))) || data >= n->size)) break;
    ssize_t got = exp_pread(ef, buf, COPY_BYTES, data);
    if (got <= 0) {
      rc = got < 0 ? content_err((int)got) : err_set(-EIO, "content shorter than its size");
      break;
    }
    bool zero = buf[0] == 0 && memcmp(buf, buf + 1, (size_t)got - 1) == 0;
    if (!zero && pwrite(fd, buf, (size_t)got, (off_t)data) != got) rc = err_set(-errno, "staging file: %s", strerror(errno));
    off = data + (uint64_t)got;
    seek = zero;
  }
  exp_close(ef);
  free(buf);
  if (!rc && ftruncate(fd, (off_t)n->size) != 0) rc = err_set(-errno, "staging file: %s", strerror(errno));
  if (rc) {
    if (fd >= 0) close(fd), unlink(path);
    return rc;
  }
  exp_drop(n);
  n->stage_fd = fd;
  n->state = STAGED;
  return 0;
}

static void touch_locked(fnode_t *n) {
  n->mtime = now();
  n->times_set = true;
  n->dirty = true;
}

static int write_locked(fnode_t *n, const char *buf, size_t len, off_t off) {
  int rc = load_locked(n);
  if (rc) return rc;
  if ((uint64_t)off + len > FILE_BYTES_MAX) return -EFBIG;
  if (n->state == CLEAN && n->size == 0 && off == 0) {
    rc = imp_file_new(&F.imp, &F.sink, &n->stream);
    if (rc) return rc;
    n->state = STREAM;
  }
  if (n->state == STREAM && (uint64_t)off != n->size) rc = to_staged(n);
  if (!rc && n->state == CLEAN) rc = to_staged(n);
  if (rc) return rc;
  if (n->state == STREAM) {
    rc = imp_file_write(n->stream, buf, len);
    if (!rc) n->size += len;
  } else {
    size_t done = 0;
    while (done < len) {
      ssize_t w = pwrite(n->stage_fd, buf + done, len - done, off + (off_t)done);
      if (w < 0) return errno == ENOSPC || errno == EDQUOT || errno == EFBIG ? -errno : err_set(-errno, "staging file: %s", strerror(errno));
      done += (size_t)w;
    }
    if ((uint64_t)off + len > n->size) n->size = (uint64_t)off + len;
  }
  if (!rc) touch_locked(n);
  return rc;
}

/* Readiness for reads under the shared lock: loaded, not a stream (a stream
 * cannot be read back: it is finished), a clean file's CID in the readers. */
static bool read_ready(const fnode_t *n) { return n->loaded && n->state != STREAM && (n->state != CLEAN || n->rd.has_cid); }

static int read_prepare_locked(fnode_t *n) {
  int rc = load_locked(n);
  if (!rc && n->state == STREAM) rc = flush_locked(n, false);
  if (!rc && n->state == CLEAN) rc = exp_ready(n);
  return rc;
}

/* With the lock held shared (or exclusive) and read_ready. */
static ssize_t read_locked(fnode_t *n, char *buf, size_t len, off_t off) {
  if ((uint64_t)off >= n->size) return 0;
  if ((uint64_t)off + len > n->size) len = (size_t)(n->size - (uint64_t)off);
  if (n->state == STAGED) {
    ssize_t got = pread(n->stage_fd, buf, len, off);
    return got < 0 ? err_set(-errno, "staging file: %s", strerror(errno)) : got;
  }
  ssize_t got = readers_pread(&n->rd, buf, len, (uint64_t)off);
  return got < 0 ? content_err((int)got) : got;
}

static int truncate_locked(fnode_t *n, uint64_t size) {
  int rc = load_locked(n);
  if (rc) return rc;
  if (size > FILE_BYTES_MAX) return -EFBIG;
  if (size == n->size && n->state != STREAM) return 0;
  if (size == 0) { /* back to the empty file: the next writes stream again */
    if (n->stream) imp_file_abort(n->stream), n->stream = NULL;
    if (n->stage_fd >= 0) stage_close(n);
    exp_drop(n);
    n->state = CLEAN;
    n->size = 0;
    touch_locked(n);
    rc = record_content(n, &F.empty, F.empty_tsize, false);
    if (!rc) n->dirty = false;
    return rc;
  }
  rc = to_staged(n);
  if (!rc && ftruncate(n->stage_fd, (off_t)size) != 0) rc = err_set(-errno, "staging file: %s", strerror(errno));
  if (!rc) n->size = size, touch_locked(n);
  return rc;
}

/* ---- POSIX ACLs ------------------------------------------------------------------------------ */

/* POSIX ACLs (the kernel enforces them; the filesystem keeps the mode in
 * step, as fuse_set_acl expects): the xattr is a u32 version 2 then entries
 * of {u16 tag, u16 perm, u32 id}, little-endian.  The mode's bits come from
 * the owner, the mask (else the group) and the other entries; an ACL with no
 * named users, groups or mask says no more than the mode and is not stored. */
#define ACL_XATTR_ACCESS "system.posix_acl_access"
#define ACL_XATTR_DEFAULT "system.posix_acl_default"
enum { ACL_USER_OBJ = 1, ACL_USER = 2, ACL_GROUP_OBJ = 4, ACL_GROUP = 8, ACL_MASK = 16, ACL_OTHER = 32 };

static int acl_mode(const uint8_t *v, size_t len, uint32_t *bits, bool *extended) {
  if (len < 4 || (len - 4) % 8 || (v[0] | v[1] << 8 | v[2] << 16 | (uint32_t)v[3] << 24) != 2) return -EINVAL;
  unsigned seen = 0, owner = 0, group = 0, mask = 0, other = 0;
  for (size_t at = 4; at < len; at += 8) {
    unsigned tag = v[at] | v[at + 1] << 8, perm = v[at + 2] | v[at + 3] << 8;
    if (perm > 7) return -EINVAL;
    if (tag == ACL_USER_OBJ) owner = perm;
    else if (tag == ACL_GROUP_OBJ) group = perm;
    else if (tag == ACL_MASK) mask = perm;
    else if (tag == ACL_OTHER) other = perm;
    else if (tag != ACL_USER && tag != ACL_GROUP) return -EINVAL;
    seen |= tag;
  }
  if ((seen & (ACL_USER_OBJ | ACL_GROUP_OBJ | ACL_OTHER)) != (ACL_USER_OBJ | ACL_GROUP_OBJ | ACL_OTHER)) return -EINVAL;
  *extended = seen & (ACL_USER | ACL_GROUP | ACL_MASK);
  *bits = owner << 6 | ((seen & ACL_MASK) ? mask : group) << 3 | other;
  return 0;
}

static int apply_acl_mode(void *ctx, fsmeta_inode_t *i) {
  i->mode = (i->mode & ~0777u) | *(uint32_t *)ctx;
  clock_gettime(CLOCK_REALTIME, &i->ctime);
  return 0;
}

static int set_acl(uint64_t ino, const char *name, const char *value, size_t size, int flags) {
  fsmeta_inode_t i;
  int rc = fsmeta_get(F.meta, ino, &i);
  if (rc) return rc;
  if (strcmp(name, ACL_XATTR_DEFAULT) == 0) return S_ISDIR(i.mode) ? fsmeta_xattr_set(F.meta, ino, name, value, size, flags) : -EACCES;
  uint32_t bits;
  bool extended;
  if ((rc = acl_mode((const uint8_t *)value, size, &bits, &extended))) return rc;
  rc = fsmeta_update(F.meta, ino, apply_acl_mode, &bits, false, NULL);
  if (!rc && extended) rc = fsmeta_xattr_set(F.meta, ino, name, value, size, flags);
  if (!rc && !extended && (rc = fsmeta_xattr_remove(F.meta, ino, name)) == -ENODATA) rc = 0;
  return rc;
}

/* Applies mode's permission bits to an ACL: and=true is inheritance (each
 * of the owner, mask-or-group and other entries keeps only what mode allows,
 * as posix_acl_create), and=false is chmod (they become mode's bits, as
 * posix_acl_chmod).  The ACL was checked by acl_mode. */
static void acl_apply_mode(uint8_t *v, size_t len, uint32_t mode, bool and) {
  bool has_mask = false;
  for (size_t at = 4; at < len; at += 8) has_mask |= (v[at] | v[at + 1] << 8) == ACL_MASK;
  for (size_t at = 4; at < len; at += 8) {
    unsigned tag = v[at] | v[at + 1] << 8, bits;
    if (tag == ACL_USER_OBJ) bits = mode >> 6 & 7;
    else if (tag == (has_mask ? ACL_MASK : ACL_GROUP_OBJ)) bits = mode >> 3 & 7;
    else if (tag == ACL_OTHER) bits = mode & 7;
    else continue;
    unsigned perm = and ? (v[at + 2] & bits) : bits;
    v[at + 2] = (uint8_t)perm, v[at + 3] = 0;
  }
}

/* chmod of an inode with an extended access ACL: its entries follow the mode. */
static int acl_chmod(uint64_t ino, uint32_t mode) {
  buf_t acl = {0};
  int rc = fsmeta_xattr_get(F.meta, ino, ACL_XATTR_ACCESS, &acl);
  uint32_t bits;
  bool extended;
  if (!rc && acl_mode(acl.data, acl.len, &bits, &extended) == 0) {
    acl_apply_mode(acl.data, acl.len, mode, false);
    rc = fsmeta_xattr_set(F.meta, ino, ACL_XATTR_ACCESS, acl.data, acl.len, 0);
  }
  buf_free(&acl);
  return rc == -ENODATA ? 0 : rc;
}

/* A new entry under a directory with a default ACL inherits it (the umask
 * does not apply): its access ACL is the default masked by the requested
 * mode, and a directory also takes the default.  Without one the umask
 * applies.  *mode is updated; acl gets the access ACL to store (empty when
 * the mode says it all), dflt the default to store. */
static int acl_inherit(uint64_t parent, uint32_t *mode, uint32_t umask, buf_t *acl, buf_t *dflt) {
  if (S_ISLNK(*mode)) return 0;
  int rc = fsmeta_xattr_get(F.meta, parent, ACL_XATTR_DEFAULT, dflt);
  uint32_t bits;
  bool extended;
  if (rc == -ENODATA || (!rc && acl_mode(dflt->data, dflt->len, &bits, &extended) != 0)) {
    buf_reset(dflt);
    *mode &= ~(umask & 0777);
    return 0;
  }
  if (rc) return rc;
  if ((rc = buf_append(acl, dflt->data, dflt->len))) return rc;
  acl_apply_mode(acl->data, acl->len, *mode, true);
  acl_mode(acl->data, acl->len, &bits, &extended);
  *mode = (*mode & ~0777u) | bits;
  if (!extended) buf_reset(acl);
  if (!S_ISDIR(*mode)) buf_reset(dflt);
  return 0;
}

/* ---- lookup, forget, attributes ------------------------------------------------------- */

void files_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  fsmeta_inode_t i;
  int rc = fsmeta_lookup(F.meta, to_meta(parent), name, &i);
  if (rc == -ENOENT) { /* a negative entry the kernel may cache */
    struct fuse_entry_param e = {.ino = 0, .entry_timeout = FILES_TIMEOUT_S};
    fuse_reply_entry(req, &e);
  } else if (rc) {
    reply_err(req, rc);
  } else {
    reply_entry(req, &i, to_meta(parent), name);
  }
}

void files_forget(fuse_ino_t ino, uint64_t nlookup) {
  if (ino == F.root_ino) return;
  fnode_t *n = node_find(to_meta(ino));
  if (!n) return;
  pthread_mutex_lock(&F.table_lock);
  n->nlookup = nlookup > n->nlookup ? 0 : n->nlookup - nlookup;
  pthread_mutex_unlock(&F.table_lock);
  node_put(n);
}

/* The attributes of ino now (unflushed size and times included), or rc. */
static void reply_attr(fuse_req_t req, uint64_t ino, int rc) {
  fsmeta_inode_t i;
  if (!rc) rc = inode_now(ino, &i);
  if (rc) {
    reply_err(req, rc);
    return;
  }
  struct stat st;
  to_stat(&i, &st);
  fuse_reply_attr(req, &st, FILES_TIMEOUT_S);
}

void files_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) { reply_attr(req, to_meta(ino), 0); }

typedef struct attr_change {
  const struct stat *attr;
  int to_set;
  struct timespec now;
  fnode_t *node; /* a regular file's node (its unflushed times give way) */
} attr_change_t;

static int apply_attr(void *ctx, fsmeta_inode_t *i) {
  attr_change_t *c = ctx;
  if (c->to_set & FUSE_SET_ATTR_MODE) i->mode = (i->mode & S_IFMT) | (c->attr->st_mode & 07777);
  if (c->to_set & FUSE_SET_ATTR_UID) i->uid = c->attr->st_uid;
  if (c->to_set & FUSE_SET_ATTR_GID) i->gid = c->attr->st_gid;
  if (c->to_set & FUSE_SET_ATTR_ATIME_NOW) i->atime = c->now;
  else if (c->to_set & FUSE_SET_ATTR_ATIME) i->atime = c->attr->st_atim;
  if (c->node && c->node->times_set) i->mtime = c->node->mtime; /* writes before this change */
  if (c->to_set & FUSE_SET_ATTR_MTIME_NOW) i->mtime = c->now;
  else if (c->to_set & FUSE_SET_ATTR_MTIME) i->mtime = c->attr->st_mtim;
  i->ctime = (c->to_set & FUSE_SET_ATTR_CTIME) ? c->attr->st_ctim : c->now;
  if (c->node) {
    c->node->times_set = false;
    if (c->node->loaded) i->size = c->node->size;
  }
  return 0;
}

void files_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
  uint64_t m = to_meta(ino);
  fsmeta_inode_t i;
  int rc = fsmeta_get(F.meta, m, &i);
  fnode_t *n = NULL;
  if (!rc && S_ISREG(i.mode) && !(n = node_get(m))) rc = -ENOMEM;
  if (!rc && (to_set & FUSE_SET_ATTR_SIZE) && !S_ISREG(i.mode)) rc = S_ISDIR(i.mode) ? -EISDIR : -EINVAL;
  if (n) pthread_rwlock_wrlock(&n->lock);
  if (!rc && (to_set & FUSE_SET_ATTR_SIZE)) rc = truncate_locked(n, (uint64_t)attr->st_size);
  attr_change_t c = {attr, to_set, now(), n};
  if (!rc) rc = fsmeta_update(F.meta, m, apply_attr, &c, false, &i);
  if (!rc && (to_set & FUSE_SET_ATTR_MODE)) rc = acl_chmod(m, i.mode);
  /* truncate(2) without an open file: nothing will close it, so it is durable now */
  if (!rc && n && (to_set & FUSE_SET_ATTR_SIZE) && n->opens == 0) rc = flush_locked(n, true);
  if (n) pthread_rwlock_unlock(&n->lock);
  if (n) node_put(n);
  reply_attr(req, m, rc);
}

void files_readlink(fuse_req_t req, fuse_ino_t ino) {
  buf_t target = {0};
  int rc = fsmeta_readlink(F.meta, to_meta(ino), &target);
  if (!rc && !buf_cstr(&target)) rc = -ENOMEM;
  if (rc) reply_err(req, rc);
  else fuse_reply_readlink(req, (const char *)target.data);
  buf_free(&target);
}

/* ---- creating and removing entries ----------------------------------------------------- */

/* Creates parent/name for the caller: the owner is the caller, except that a
 * setgid directory gives its group (and its setgid bit to new directories). */
static int make_entry(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev,
                      const char *target, fsmeta_inode_t *out) {
  const struct fuse_ctx *ctx = fuse_req_ctx(req);
  fsmeta_inode_t p;
  int rc = fsmeta_get(F.meta, to_meta(parent), &p);
  if (rc) return rc;
  if (!S_ISDIR(p.mode)) return -ENOTDIR;
  uint32_t gid = ctx->gid, m = mode;
  if (p.mode & S_ISGID) {
    gid = p.gid;
    if (S_ISDIR(m)) m |= S_ISGID;
  }
  buf_t acl = {0}, dflt = {0};
  rc = acl_inherit(p.ino, &m, ctx->umask, &acl, &dflt);
  if (!rc) rc = fsmeta_create(F.meta, p.ino, name, m, ctx->uid, gid, rdev, target, out);
  if (!rc && acl.len) rc = fsmeta_xattr_set(F.meta, out->ino, ACL_XATTR_ACCESS, acl.data, acl.len, 0);
  if (!rc && dflt.len) rc = fsmeta_xattr_set(F.meta, out->ino, ACL_XATTR_DEFAULT, dflt.data, dflt.len, 0);
  buf_free(&acl);
  buf_free(&dflt);
  return rc;
}

void files_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  fsmeta_inode_t i;
  int rc = make_entry(req, parent, name, mode, rdev, NULL, &i);
  if (rc) reply_err(req, rc);
  else reply_entry(req, &i, to_meta(parent), name);
}

void files_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  files_mknod(req, parent, name, S_IFDIR | (mode & 07777), 0);
}

void files_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name) {
  fsmeta_inode_t i;
  int rc = strlen(link) > FSMETA_TARGET_BYTES_MAX ? -ENAMETOOLONG : make_entry(req, parent, name, S_IFLNK | 0777, 0, link, &i);
  if (rc) reply_err(req, rc);
  else reply_entry(req, &i, to_meta(parent), name);
}

static void remove_entry(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir) {
  fsmeta_inode_t i;
  int rc = fsmeta_unlink(F.meta, to_meta(parent), name, dir, &i);
  if (!rc && i.nlink == 0) orphaned(i.ino);
  reply_err(req, rc);
}

void files_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) { remove_entry(req, parent, name, false); }
void files_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name) { remove_entry(req, parent, name, true); }

void files_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
                  unsigned int flags) {
  if (!files_owns(newparent)) {
    fuse_reply_err(req, EXDEV);
    return;
  }
  fsmeta_inode_t replaced = {0};
  fsmeta_inode_t moved;
  bool named = F.policies && fsmeta_lookup(F.meta, to_meta(parent), name, &moved) == 0;
  int rc = fsmeta_rename(F.meta, to_meta(parent), name, to_meta(newparent), newname, flags, &replaced);
  if (!rc && replaced.ino && replaced.nlink == 0) orphaned(replaced.ino);
  fnode_t *n = !rc && named ? node_find(moved.ino) : NULL;
  if (n) name_node(n, to_meta(newparent), newname), node_put(n);
  reply_err(req, rc);
}

void files_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname) {
  if (!files_owns(newparent)) {
    fuse_reply_err(req, EXDEV);
    return;
  }
  fsmeta_inode_t i;
  int rc = fsmeta_link(F.meta, to_meta(ino), to_meta(newparent), newname, &i);
  if (rc) reply_err(req, rc);
  else reply_entry(req, &i, to_meta(newparent), newname);
}

/* ---- open files ---------------------------------------------------------------------------- */

static void opened(fnode_t *n, struct fuse_file_info *fi) {
  pthread_mutex_lock(&F.table_lock);
  n->opens++;
  n->refs++; /* the file handle's reference, dropped by release */
  pthread_mutex_unlock(&F.table_lock);
  fi->fh = (uint64_t)(uintptr_t)n;
  fi->keep_cache = 1; /* every change passes through the kernel */
}

void files_open_file(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  uint64_t m = to_meta(ino);
  fsmeta_inode_t i;
  int rc = fsmeta_get(F.meta, m, &i);
  if (!rc && S_ISDIR(i.mode)) rc = -EISDIR;
  fnode_t *n = rc ? NULL : node_get(m);
  if (!rc && !n) rc = -ENOMEM;
  if (!rc && (fi->flags & O_TRUNC)) {
    pthread_rwlock_wrlock(&n->lock);
    rc = truncate_locked(n, 0);
    pthread_rwlock_unlock(&n->lock);
  }
  if (!rc) opened(n, fi);
  if (n) node_put(n);
  if (rc) reply_err(req, rc);
  else fuse_reply_open(req, fi);
}

void files_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi) {
  fsmeta_inode_t i;
  int rc = make_entry(req, parent, name, S_IFREG | (mode & 07777), 0, NULL, &i);
  bool existed = rc == -EEXIST && !(fi->flags & O_EXCL);
  if (existed) { /* lost a race with another create: open what is there */
    rc = fsmeta_lookup(F.meta, to_meta(parent), name, &i);
    if (!rc && S_ISDIR(i.mode)) rc = -EISDIR;
  }
  fnode_t *n = rc ? NULL : node_get(i.ino);
  if (!rc && !n) rc = -ENOMEM;
  if (!rc) name_node(n, to_meta(parent), name);
  if (!rc && existed && (fi->flags & O_TRUNC)) {
    pthread_rwlock_wrlock(&n->lock);
    rc = truncate_locked(n, 0);
    pthread_rwlock_unlock(&n->lock);
    if (rc) node_put(n);
  }
  if (rc) {
    reply_err(req, rc);
    return;
  }
  opened(n, fi);
  struct fuse_entry_param e = {0};
  e.ino = to_kernel(i.ino);
  e.attr_timeout = e.entry_timeout = FILES_TIMEOUT_S;
  to_stat(&i, &e.attr);
  pthread_mutex_lock(&F.table_lock);
  n->nlookup++;
  pthread_mutex_unlock(&F.table_lock);
  if (fuse_reply_create(req, &e, fi) != 0) { /* the kernel took neither */
    files_forget(e.ino, 1);
    pthread_mutex_lock(&F.table_lock);
    n->opens--, n->refs--;
    pthread_mutex_unlock(&F.table_lock);
  }
  node_put(n);
}

void files_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  fnode_t *n = (fnode_t *)(uintptr_t)fi->fh;
  char *buf = malloc(size ? size : 1);
  if (!buf) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  ssize_t got = 0;
  pthread_rwlock_rdlock(&n->lock);
  if (!read_ready(n)) { /* prepare exclusively, then read exclusively (rare: the first read) */
    pthread_rwlock_unlock(&n->lock);
    pthread_rwlock_wrlock(&n->lock);
    got = read_prepare_locked(n);
  }
  if (!got) got = read_locked(n, buf, size, off);
  pthread_rwlock_unlock(&n->lock);
  if (got < 0) reply_err(req, (int)got);
  else fuse_reply_buf(req, buf, (size_t)got);
  free(buf);
}

void files_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  fnode_t *n = (fnode_t *)(uintptr_t)fi->fh;
  pthread_rwlock_wrlock(&n->lock);
  int rc = write_locked(n, buf, size, off);
  pthread_rwlock_unlock(&n->lock);
  if (rc) reply_err(req, rc);
  else fuse_reply_write(req, size);
}

/* close(2): the content is durable when it returns.  The last close
 * re-chunks a staged file; an earlier one (other opens remain) only syncs it. */
void files_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  fnode_t *n = (fnode_t *)(uintptr_t)fi->fh;
  pthread_rwlock_wrlock(&n->lock);
  int rc = n->dirty || n->state == STREAM ? flush_locked(n, n->opens <= 1) : 0;
  pthread_rwlock_unlock(&n->lock);
  reply_err(req, rc);
}

void files_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  fnode_t *n = (fnode_t *)(uintptr_t)fi->fh;
  pthread_mutex_lock(&F.table_lock);
  bool last = --n->opens == 0;
  pthread_mutex_unlock(&F.table_lock);
  int rc = 0;
  if (last) { /* shared mmap writes may come after the last flush */
    pthread_rwlock_wrlock(&n->lock);
    if (n->dirty || n->state != CLEAN) rc = flush_locked(n, true);
    pthread_rwlock_unlock(&n->lock);
  }
  node_put(n);
  reply_err(req, rc);
}

void files_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  fnode_t *n = (fnode_t *)(uintptr_t)fi->fh;
  pthread_rwlock_wrlock(&n->lock);
  int rc = flush_locked(n, false);
  pthread_rwlock_unlock(&n->lock);
  if (!rc) rc = fsmeta_sync(F.meta); /* the entries naming it */
  reply_err(req, rc);
}

void files_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length, struct fuse_file_info *fi) {
  fnode_t *n = (fnode_t *)(uintptr_t)fi->fh;
  pthread_rwlock_wrlock(&n->lock);
  int rc = load_locked(n);
  if (!rc && (uint64_t)offset + (uint64_t)length > FILE_BYTES_MAX) rc = -EFBIG;
  if (!rc) rc = to_staged(n);
  if (!rc && fallocate(n->stage_fd, mode, offset, length) != 0) rc = -errno;
  if (!rc && !(mode & FALLOC_FL_KEEP_SIZE) && (uint64_t)(offset + length) > n->size) n->size = (uint64_t)(offset + length);
  if (!rc) touch_locked(n);
  pthread_rwlock_unlock(&n->lock);
  reply_err(req, rc);
}

void files_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi) {
  fnode_t *n = (fnode_t *)(uintptr_t)fi->fh;
  pthread_rwlock_wrlock(&n->lock);
  int rc = load_locked(n);
  off_t pos = -1;
  if (!rc && (uint64_t)off >= n->size) rc = -ENXIO;
  else if (!rc && n->state == STAGED && (pos = lseek(n->stage_fd, off, whence)) < 0) rc = -errno;
  else if (!rc && n->state != STAGED) pos = whence == SEEK_DATA ? off : (off_t)n->size; /* a DAG is all data */
  pthread_rwlock_unlock(&n->lock);
  if (rc) reply_err(req, rc);
  else fuse_reply_lseek(req, pos);
}

/* ---- directories: a LevelDB snapshot per opendir, bounded memory ---------------------------- */

typedef struct dir_handle {
  pthread_mutex_t lock;
  fsmeta_dir_t *it;
  uint64_t next;        /* index of the entry the iterator gives next */
  bool pending;         /* an entry read but not sent (the reply was full) */
  uint64_t pending_ino;
  uint32_t pending_mode;
  char pending_name[FSMETA_NAME_BYTES_MAX + 1];
  uint64_t self, parent; /* kernel inodes of "." and ".." */
  bool started;          /* read from: a read at offset 0 is a rewinddir */
} dir_handle_t;

void files_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  fsmeta_inode_t i;
  int rc = fsmeta_get(F.meta, to_meta(ino), &i);
  if (!rc && !S_ISDIR(i.mode)) rc = -ENOTDIR;
  dir_handle_t *d = rc ? NULL : calloc(1, sizeof *d);
  if (!rc && !d) rc = -ENOMEM;
  if (!rc) rc = fsmeta_dir_open(F.meta, i.ino, &d->it);
  if (rc) {
    free(d);
    reply_err(req, rc);
    return;
  }
  pthread_mutex_init(&d->lock, NULL);
  d->self = ino;
  d->parent = i.ino == FSMETA_INO_ROOT ? FUSE_ROOT_ID : to_kernel(i.parent);
  fi->fh = (uint64_t)(uintptr_t)d;
  fuse_reply_open(req, fi);
}

/* Offsets: "." is 1, ".." 2, entry k (0-based) k + 3. */
void files_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi, bool plus) {
  dir_handle_t *d = (dir_handle_t *)(uintptr_t)fi->fh;
  char *buf = malloc(size);
  if (!buf) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  size_t used = 0;
  int rc = 0;
  pthread_mutex_lock(&d->lock);
  if (off == 0 && d->started) { /* rewinddir: entries changed since opendir are listed as they are now */
    fsmeta_dir_t *it;
    rc = fsmeta_dir_open(F.meta, to_meta(d->self), &it);
    if (!rc) fsmeta_dir_close(d->it), d->it = it, d->next = 0, d->pending = false;
  }
  d->started = true;
  for (off_t k = off; !rc && k < 2; k++) {
    struct fuse_entry_param e = {.attr = {.st_ino = k == 0 ? d->self : d->parent, .st_mode = S_IFDIR}};
    const char *name = k == 0 ? "." : "..";
    size_t need = plus ? fuse_add_direntry_plus(req, buf + used, size - used, name, &e, k + 1)
                       : fuse_add_direntry(req, buf + used, size - used, name, &e.attr, k + 1);
    if (need > size - used) goto done;
    used += need;
  }
  uint64_t want = off < 2 ? 0 : (uint64_t)off - 2;
  if (d->pending && d->next - 1 != want) d->pending = false;
  if (!rc && !d->pending && d->next != want) {
    rc = fsmeta_dir_seek(d->it, want);
    d->next = want;
  }
  while (!rc) {
    if (!d->pending) {
      const char *name;
      rc = fsmeta_dir_next(d->it, &name, &d->pending_ino, &d->pending_mode);
      if (rc <= 0) break;
      rc = 0;
      snprintf(d->pending_name, sizeof d->pending_name, "%s", name);
      d->pending = true;
      d->next++;
    }
    off_t next_off = (off_t)(d->next - 1) + 3;
    size_t need;
    if (plus) {
      if (fuse_add_direntry_plus(req, NULL, 0, d->pending_name, NULL, 0) > size - used) break;
      fsmeta_inode_t i;
      if (inode_now(d->pending_ino, &i) != 0) { /* gone since the snapshot */
        d->pending = false;
        continue;
      }
      fnode_t *n = node_get(i.ino);
      if (!n) {
        rc = -ENOMEM;
        break;
      }
      name_node(n, to_meta(d->self), d->pending_name);
      struct fuse_entry_param e = {.ino = to_kernel(i.ino), .attr_timeout = FILES_TIMEOUT_S,
                                   .entry_timeout = FILES_TIMEOUT_S};
      to_stat(&i, &e.attr);
      pthread_mutex_lock(&F.table_lock);
      n->nlookup++;
      pthread_mutex_unlock(&F.table_lock);
      node_put(n);
      need = fuse_add_direntry_plus(req, buf + used, size - used, d->pending_name, &e, next_off);
    } else {
      struct stat st = {.st_ino = to_kernel(d->pending_ino), .st_mode = d->pending_mode & S_IFMT};
      need = fuse_add_direntry(req, buf + used, size - used, d->pending_name, &st, next_off);
      if (need > size - used) break;
    }
    used += need;
    d->pending = false;
  }
done:
  pthread_mutex_unlock(&d->lock);
  if (rc < 0) reply_err(req, rc);
  else fuse_reply_buf(req, buf, used);
  free(buf);
}

void files_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  dir_handle_t *d = (dir_handle_t *)(uintptr_t)fi->fh;
  fsmeta_dir_close(d->it);
  pthread_mutex_destroy(&d->lock);
  free(d);
  fuse_reply_err(req, 0);
}

void files_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  reply_err(req, fsmeta_sync(F.meta));
}

/* ---- extended attributes ----------------------------------------------------------------------- */

/* Every dirty file made durable with its CID (before a directory's CID is computed). */
static int flush_all(void) {
  int rc = 0;
  for (uint32_t b = 0; b < BUCKETS; b++) {
    for (;;) { /* one node at a time: the table lock is not held while flushing */
      fnode_t *n = NULL;
      pthread_mutex_lock(&F.table_lock);
      for (fnode_t *x = F.buckets[b]; x && !n; x = x->next)
        if (!x->unlinked && (x->dirty || x->state != CLEAN)) n = x, n->refs++;
      pthread_mutex_unlock(&F.table_lock);
      if (!n) break;
      pthread_rwlock_wrlock(&n->lock);
      int frc = flush_locked(n, true);
      if (frc) n->dirty = false, n->state = n->state == STAGED ? STAGED : CLEAN; /* do not spin on it */
      pthread_rwlock_unlock(&n->lock);
      node_put(n);
      if (frc && !rc) rc = frc;
      if (frc) break;
    }
  }
  return rc;
}

static int cid_of(uint64_t ino, cid_t *cid) {
  fsmeta_inode_t i;
  int rc = fsmeta_get(F.meta, ino, &i);
  if (!rc && S_ISREG(i.mode)) {
    fnode_t *n = node_find(ino);
    if (n) {
      pthread_rwlock_wrlock(&n->lock);
      if (n->dirty || n->state != CLEAN) rc = flush_locked(n, true);
      pthread_rwlock_unlock(&n->lock);
      node_put(n);
    }
  } else if (!rc && S_ISDIR(i.mode)) {
    rc = flush_all();
  }
  if (!rc) rc = fsmeta_cid(F.meta, ino, &F.sink, cid, NULL);
  if (!rc && S_ISDIR(i.mode)) rc = bs_sync(F.repo->bs);
  return rc;
}

static void reply_value(fuse_req_t req, const void *value, size_t len, size_t size) {
  if (size == 0) fuse_reply_xattr(req, len);
  else if (size < len) fuse_reply_err(req, ERANGE);
  else fuse_reply_buf(req, value, len);
}

/* 0 for a name in a namespace Linux filesystems store, else what ext4 says:
 * -EINVAL for a bare prefix ("user."), -EOPNOTSUPP for other namespaces. */
static int xattr_name_check(const char *name) {
  static const char *const prefixes[] = {"user.", "trusted.", "security."};
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
    if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0) return name[strlen(prefixes[i])] ? 0 : -EINVAL;
  return strcmp(name, "system.posix_acl_access") == 0 || strcmp(name, "system.posix_acl_default") == 0 ? 0 : -EOPNOTSUPP;
}

void files_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
  int rc;
  if (strcmp(name, XATTR_CID) == 0) {
    cid_t cid;
    char text[CID_TEXT_BYTES_MAX];
    rc = cid_of(to_meta(ino), &cid);
    if (rc == -EINVAL) rc = -ENODATA; /* FIFOs, devices: no CID */
    if (!rc) rc = cid_format_default(&cid, text);
    if (rc) reply_err(req, rc);
    else reply_value(req, text, strlen(text), size);
    return;
  }
  buf_t v = {0};
  rc = xattr_name_check(name);
  if (!rc) rc = fsmeta_xattr_get(F.meta, to_meta(ino), name, &v);
  if (rc) reply_err(req, rc);
  else reply_value(req, v.data, v.len, size);
  buf_free(&v);
}

void files_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags) {
  int rc = strcmp(name, XATTR_CID) == 0 ? -EPERM : xattr_name_check(name);
  if (!rc && strncmp(name, "system.posix_acl_", 17) == 0) rc = set_acl(to_meta(ino), name, value, size, flags);
  else if (!rc) rc = fsmeta_xattr_set(F.meta, to_meta(ino), name, value, size, flags);
  reply_err(req, rc);
}

/* user.anya.cid is not listed: it is asked for by name.  Listed, backup
 * tools would copy it onto other files (and try to remove it here). */
void files_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  buf_t names = {0};
  int rc = fsmeta_xattr_list(F.meta, to_meta(ino), &names);
  if (rc) reply_err(req, rc);
  else reply_value(req, names.data, names.len, size);
  buf_free(&names);
}

void files_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name) {
  int rc = strcmp(name, XATTR_CID) == 0 ? -EPERM : xattr_name_check(name);
  reply_err(req, rc ? rc : fsmeta_xattr_remove(F.meta, to_meta(ino), name));
}

/* ---- start and stop ------------------------------------------------------------------------------ */

/* A staging file whose fsync was recorded: re-chunked before serving. */
static int recover_staged(void *ctx, const fsmeta_inode_t *i) {
  char path[sizeof F.stage_dir + 24];
  stage_path(i->ino, path, sizeof path);
  fnode_t n = {.ino = i->ino, .stage_fd = open(path, O_RDONLY | O_CLOEXEC), .state = STAGED, .loaded = true};
  if (n.stage_fd < 0) { /* lost with the disk's data: keep the last content, say so */
    log_kv(LOG_LEVEL_ERROR, "files", ((log_kv_t[]){LOG_INT("ino", (int64_t)i->ino), LOG_STR("error", strerror(errno))}),
           "the staging file of a synced file is missing; it keeps its previous content");
    n.size = i->size;
    return record_content(&n, NULL, 0, false);
  }
  struct stat st;
  int rc = fstat(n.stage_fd, &st) ? -errno : 0;
  n.size = (uint64_t)st.st_size;
  if (!rc) rc = flush_locked(&n, true);
  if (n.stage_fd >= 0) close(n.stage_fd);
  if (!rc) log_kv(LOG_LEVEL_INFO, "files", ((log_kv_t[]){LOG_INT("ino", (int64_t)i->ino)}), "recovered a staged file");
  return rc;
}

/* Removes staging files nobody recorded (their writes were never durable). */
static void clear_stage_dir(void) {
  DIR *dir = opendir(F.stage_dir);
  if (!dir) return;
  struct dirent *e;
  while ((e = readdir(dir)))
    if (e->d_name[0] != '.') unlinkat(dirfd(dir), e->d_name, 0);
  closedir(dir);
}

int files_open(repo_t *repo, uid_t uid, gid_t gid, uint64_t files_ino) {
  char dir[REPO_PATH_BYTES_MAX + 16];
  snprintf(dir, sizeof dir, "%s/files", repo->path);
  snprintf(F.stage_dir, sizeof F.stage_dir, "%s/files-staging", repo->path);
  if (mkdir(F.stage_dir, 0700) != 0 && errno != EEXIST)
    return err_set(-errno, "cannot create %s: %s", F.stage_dir, strerror(errno));
  F.repo = repo;
  F.root_ino = files_ino;
  F.sink = bs_sink(repo->bs);
  F.src = bs_source(repo->bs);
  imp_options_default(&F.imp);
  imp_file_t *zf, *ef;
  int zrc = imp_file_new(&F.imp, &F.sink, &zf);
  if (!zrc) { /* one chunk: the root is the leaf; finish frees on error too */
    int wrc = imp_file_write_zeros(zf, F.imp.chunk_bytes);
    zrc = imp_file_finish(zf, &F.zero, NULL);
    if (wrc) zrc = wrc;
  }
  if (!zrc) zrc = imp_file_new(&F.imp, &F.sink, &ef);
  if (!zrc) zrc = imp_file_finish(ef, &F.empty, &F.empty_tsize);
  if (zrc) return zrc;
  pthread_mutex_init(&F.table_lock, NULL);
  F.buckets = calloc(BUCKETS, sizeof *F.buckets);
  for (size_t r = 0; r < repo->policies.len; r++) F.policies |= repo->policies.rules[r].source == POLICY_SOURCE_FILES;
  if (!F.buckets) return -ENOMEM;
  fsmeta_t *m;
  int rc = fsmeta_open(dir, uid, gid, &m);
  if (!rc) {
    F.meta = m;
    rc = fsmeta_each_staged(m, recover_staged, NULL);
  }
  if (!rc) clear_stage_dir();
  if (rc) files_close();
  return rc;
}

int files_gc_roots(void *ctx, gc_marker_t *m) {
  (void)ctx;
  return F.meta ? fsmeta_gc_roots(F.meta, m) : err_set(-ENODEV, "files/ is not open");
}

int files_close(void) {
  if (!F.meta) return 0;
  int rc = flush_all();
  for (uint32_t b = 0; b < BUCKETS; b++)
    while (F.buckets[b]) {
      fnode_t *n = F.buckets[b];
      F.buckets[b] = n->next;
      node_free(n);
    }
  free(F.buckets);
  fsmeta_close(F.meta);
  F.meta = NULL;
  pthread_mutex_destroy(&F.table_lock);
  return rc;
}
