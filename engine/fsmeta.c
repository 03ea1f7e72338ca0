/*
 * fsmeta: the writable tree's metadata in LevelDB (see fsmeta.h and
 * docs/format.md, "The writable tree (files/)").
 *
 * Every mutation runs under m->lock: it reads what it needs straight from the
 * database (all writes are under the same lock, so those reads are current),
 * builds one write batch and writes it.  The next inode number and the inode
 * count live in memory too (loaded at open); the "n" record is rewritten in
 * every create batch so a crash can never hand out a number twice.
 *
 * A mutation touches at most four inodes (rename: both parents, the moved
 * inode and the replaced one).  They are loaded once into an op_t, possibly
 * aliased (same parent twice), changed in memory and written once each.
 */
#include "fsmeta.h"

#include <assert.h>
#include <errno.h>
#include <leveldb/c.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "err.h"

#define KEY_BYTES_MAX (1 + 8 + FSMETA_NAME_BYTES_MAX + 1)
#define DIRENT_VALUE_BYTES 9 /* be64 ino, u8 type */
#define OP_INODES_MAX 4
#define EMPTY_BLOCK_BYTES_MAX 64 /* the empty file's node (6 bytes with imp defaults) */
#define CACHE_BYTES 8388608u
#define WRITE_BUFFER_BYTES 4194304u

struct fsmeta {
  leveldb_t *db;
  leveldb_options_t *options;
  leveldb_filterpolicy_t *filter;
  leveldb_cache_t *cache;
  leveldb_readoptions_t *read;
  leveldb_writeoptions_t *write;      /* unsynced */
  leveldb_writeoptions_t *write_sync; /* synced */
  pthread_mutex_t lock;               /* serialises every mutation */
  uint64_t next_ino;                  /* under lock */
  uint64_t inodes;                    /* atomic reads; changed under lock */
  cid_t empty_cid;                    /* the empty file, imp defaults */
  uint64_t empty_tsize;
  uint8_t empty_block[EMPTY_BLOCK_BYTES_MAX];
  size_t empty_block_len;
};

struct fsmeta_dir {
  fsmeta_t *m;
  const leveldb_snapshot_t *snap;
  leveldb_readoptions_t *ro;
  leveldb_iterator_t *it;
  uint8_t prefix[9];
  uint64_t pos;                          /* index of the entry the iterator is at */
  char name[FSMETA_NAME_BYTES_MAX + 1];  /* the last entry returned */
};

/* ---- encoding -------------------------------------------------------------- */

static void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_le32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
  return v;
}
static uint64_t get_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}
static void put_be64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (56 - 8 * i));
}
static uint64_t get_be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

/* A zeroed cid_t means none (fsmeta_inode_has_cid). */
static bool cid_present(const cid_t *c) { return !(c->version == 0 && c->codec == 0); }

static bool type_known(uint32_t mode) {
  switch (mode & S_IFMT) {
  case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFIFO: case S_IFSOCK: case S_IFCHR: case S_IFBLK: return true;
  }
  return false;
}

size_t fsmeta_inode_encode(const fsmeta_inode_t *in, uint8_t out[FSMETA_RECORD_BYTES_MAX]) {
  uint8_t cid_bytes[CID_BYTES_MAX];
  size_t cid_len = cid_present(&in->cid) ? cid_to_bytes(&in->cid, cid_bytes) : 0;
  assert(cid_len <= UINT8_MAX);
  out[0] = FSMETA_RECORD_VERSION;
  out[1] = (uint8_t)cid_len;
  out[2] = out[3] = 0;
  put_le32(out + 4, in->mode);
  put_le32(out + 8, in->uid);
  put_le32(out + 12, in->gid);
  put_le32(out + 16, in->nlink);
  put_le32(out + 20, in->flags);
  put_le64(out + 24, in->rdev);
  put_le64(out + 32, in->size);
  put_le64(out + 40, in->parent);
  const struct timespec *ts[3] = {&in->atime, &in->mtime, &in->ctime};
  for (int i = 0; i < 3; i++) {
    put_le64(out + 48 + 12 * i, (uint64_t)(int64_t)ts[i]->tv_sec);
    put_le32(out + 56 + 12 * i, (uint32_t)ts[i]->tv_nsec);
  }
  put_le64(out + 84, in->tsize);
  memcpy(out + FSMETA_RECORD_FIXED_BYTES, cid_bytes, cid_len);
  return FSMETA_RECORD_FIXED_BYTES + cid_len;
}

int fsmeta_inode_decode(uint64_t ino, const uint8_t *p, size_t len, fsmeta_inode_t *out) {
  if (len < FSMETA_RECORD_FIXED_BYTES || p[0] != FSMETA_RECORD_VERSION || p[2] || p[3]) return -EINVAL;
  size_t cid_len = p[1];
  if (len != FSMETA_RECORD_FIXED_BYTES + cid_len) return -EINVAL;
  fsmeta_inode_t r;
  memset(&r, 0, sizeof r);
  r.ino = ino;
  r.mode = get_le32(p + 4);
  r.uid = get_le32(p + 8);
  r.gid = get_le32(p + 12);
  r.nlink = get_le32(p + 16);
  r.flags = get_le32(p + 20);
  r.rdev = get_le64(p + 24);
  r.size = get_le64(p + 32);
  r.parent = get_le64(p + 40);
  struct timespec *ts[3] = {&r.atime, &r.mtime, &r.ctime};
  for (int i = 0; i < 3; i++) {
    uint32_t nsec = get_le32(p + 56 + 12 * i);
    if (nsec >= 1000000000u) return -EINVAL;
    ts[i]->tv_sec = (time_t)(int64_t)get_le64(p + 48 + 12 * i);
    ts[i]->tv_nsec = nsec;
  }
  r.tsize = get_le64(p + 84);
  if (!type_known(r.mode)) return -EINVAL;
  if (cid_len > 0) {
    if ((r.mode & S_IFMT) != S_IFREG) return -EINVAL;
    int used = cid_from_bytes(&r.cid, p + FSMETA_RECORD_FIXED_BYTES, cid_len);
    if (used != (int)cid_len || !cid_present(&r.cid)) return -EINVAL;
  }
  *out = r;
  return 0;
}

/* ---- keys ------------------------------------------------------------------ */

static size_t key_ino(uint8_t *k, char tag, uint64_t ino) {
  k[0] = (uint8_t)tag;
  put_be64(k + 1, ino);
  return 9;
}
static size_t key_name(uint8_t *k, char tag, uint64_t ino, const char *name, size_t name_len) {
  key_ino(k, tag, ino);
  memcpy(k + 9, name, name_len);
  return 9 + name_len;
}

/* An entry name: -EINVAL (empty, ".", "..", '/'), -ENAMETOOLONG. */
static int check_name(const char *name, size_t *len) {
  size_t n = strnlen(name, FSMETA_NAME_BYTES_MAX + 1);
  if (n > FSMETA_NAME_BYTES_MAX) return -ENAMETOOLONG;
  if (n == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || memchr(name, '/', n)) return -EINVAL;
  *len = n;
  return 0;
}

static void now(struct timespec *ts) { clock_gettime(CLOCK_REALTIME, ts); }

/* ---- database access -------------------------------------------------------- */

/* 1 found (*value leveldb_free'd by the caller), 0 absent, -EIO. */
static int db_get(fsmeta_t *m, const leveldb_readoptions_t *ro, const uint8_t *key, size_t key_len, char **value,
                  size_t *value_len) {
  char *error = NULL;
  *value = leveldb_get(m->db, ro ? ro : m->read, (const char *)key, key_len, value_len, &error);
  if (error) {
    int rc = err_set(-EIO, "files metadata: read: %s", error);
    leveldb_free(error);
    leveldb_free(*value);
    *value = NULL;
    return rc;
  }
  return *value ? 1 : 0;
}

static int db_write(fsmeta_t *m, leveldb_writebatch_t *b, bool sync) {
  char *error = NULL;
  leveldb_write(m->db, sync ? m->write_sync : m->write, b, &error);
  if (error) {
    int rc = err_set(-EIO, "files metadata: write: %s", error);
    leveldb_free(error);
    return rc;
  }
  return 0;
}

static int get_inode(fsmeta_t *m, const leveldb_readoptions_t *ro, uint64_t ino, fsmeta_inode_t *out) {
  uint8_t key[9];
  char *value;
  size_t len;
  int rc = db_get(m, ro, key, key_ino(key, 'i', ino), &value, &len);
  if (rc <= 0) return rc == 0 ? -ENOENT : rc;
  rc = fsmeta_inode_decode(ino, (const uint8_t *)value, len, out);
  leveldb_free(value);
  if (rc) return err_set(-EIO, "files metadata: inode %llu: bad record", (unsigned long long)ino);
  return 0;
}

static void batch_inode(leveldb_writebatch_t *b, const fsmeta_inode_t *in) {
  uint8_t key[9], rec[FSMETA_RECORD_BYTES_MAX];
  size_t n = fsmeta_inode_encode(in, rec);
  leveldb_writebatch_put(b, (const char *)key, key_ino(key, 'i', in->ino), (const char *)rec, n);
}

static void batch_dirent(leveldb_writebatch_t *b, uint64_t parent, const char *name, size_t name_len,
                         uint64_t ino, uint32_t mode) {
  uint8_t key[KEY_BYTES_MAX], value[DIRENT_VALUE_BYTES];
  put_be64(value, ino);
  value[8] = (uint8_t)(mode >> 12);
  leveldb_writebatch_put(b, (const char *)key, key_name(key, 'd', parent, name, name_len), (const char *)value,
                         sizeof value);
}

static void batch_dirent_delete(leveldb_writebatch_t *b, uint64_t parent, const char *name, size_t name_len) {
  uint8_t key[KEY_BYTES_MAX];
  leveldb_writebatch_delete(b, (const char *)key, key_name(key, 'd', parent, name, name_len));
}

static void batch_orphan(leveldb_writebatch_t *b, uint64_t ino) {
  uint8_t key[9];
  leveldb_writebatch_put(b, (const char *)key, key_ino(key, 'o', ino), "", 0);
}

/* The entry parent/name: 1 with *ino and *type_mode, 0 absent, -EIO. */
static int get_dirent(fsmeta_t *m, const leveldb_readoptions_t *ro, uint64_t parent, const char *name,
                      size_t name_len, uint64_t *ino, uint32_t *type_mode) {
  uint8_t key[KEY_BYTES_MAX];
  char *value;
  size_t len;
  int rc = db_get(m, ro, key, key_name(key, 'd', parent, name, name_len), &value, &len);
  if (rc <= 0) return rc;
  if (len != DIRENT_VALUE_BYTES) {
    leveldb_free(value);
    return err_set(-EIO, "files metadata: bad entry in directory %llu", (unsigned long long)parent);
  }
  *ino = get_be64((const uint8_t *)value);
  *type_mode = (uint32_t)(uint8_t)value[8] << 12;
  leveldb_free(value);
  return 1;
}

/* ---- one mutation's inodes ---------------------------------------------------- */

typedef struct op {
  fsmeta_inode_t in[OP_INODES_MAX];
  bool dirty[OP_INODES_MAX];
  size_t len;
} op_t;

/* The inode ino, loaded once per op (aliases share a slot). */
static int op_load(fsmeta_t *m, op_t *op, uint64_t ino, fsmeta_inode_t **out) {
  for (size_t i = 0; i < op->len; i++)
    if (op->in[i].ino == ino) { *out = &op->in[i]; return 0; }
  assert(op->len < OP_INODES_MAX);
  int rc = get_inode(m, NULL, ino, &op->in[op->len]);
  if (rc) return rc;
  op->dirty[op->len] = false;
  *out = &op->in[op->len++];
  return 0;
}

static void op_dirty(op_t *op, const fsmeta_inode_t *in) {
  size_t i = (size_t)(in - op->in);
  assert(i < op->len);
  op->dirty[i] = true;
}

static void op_batch(const op_t *op, leveldb_writebatch_t *b) {
  for (size_t i = 0; i < op->len; i++)
    if (op->dirty[i]) batch_inode(b, &op->in[i]);
}

static int op_load_dir(fsmeta_t *m, op_t *op, uint64_t ino, fsmeta_inode_t **out) {
  int rc = op_load(m, op, ino, out);
  if (rc) return rc;
  return S_ISDIR((*out)->mode) ? 0 : -ENOTDIR;
}

/* Drops one link of in (an entry naming it is going away); a directory goes
 * to 0 at once and its parent loses the link its ".." held. */
static void op_drop_link(op_t *op, fsmeta_inode_t *in, fsmeta_inode_t *parent, const struct timespec *t,
                         leveldb_writebatch_t *b) {
  if (S_ISDIR(in->mode)) {
    in->nlink = 0;
    assert(parent->nlink > 2);
    parent->nlink--;
    op_dirty(op, parent);
  } else {
    assert(in->nlink > 0);
    in->nlink--;
  }
  in->ctime = *t;
  op_dirty(op, in);
  if (in->nlink == 0) batch_orphan(b, in->ino);
}

/* ---- open / close ------------------------------------------------------------- */

typedef struct capture {
  uint8_t *data;
  size_t *len;
} capture_t;

static int capture_put(void *ctx, const cid_t *cid, const uint8_t *data, size_t len) {
  (void)cid;
  capture_t *c = ctx;
  if (len > EMPTY_BLOCK_BYTES_MAX) return -E2BIG;
  memcpy(c->data, data, len);
  *c->len = len;
  return 0;
}

/* The empty file's CID, tsize and node, as the importer makes them. */
static int empty_file(fsmeta_t *m) {
  int fd = memfd_create("anya-empty", MFD_CLOEXEC);
  if (fd < 0) return err_set(-errno, "files metadata: memfd_create: %s", strerror(errno));
  imp_options_t opts;
  imp_options_default(&opts);
  capture_t cap = {m->empty_block, &m->empty_block_len};
  block_sink_t sink = {capture_put, &cap};
  imp_callbacks_t cb = {0};
  int rc = imp_add_fd(&opts, &sink, fd, &cb, &m->empty_cid, &m->empty_tsize);
  close(fd);
  if (rc) return err_set(rc, "files metadata: the empty file's CID: %s", err_msg(rc));
  return 0;
}

static void fsmeta_free(fsmeta_t *m) {
  if (m->db) leveldb_close(m->db);
  if (m->options) leveldb_options_destroy(m->options);
  if (m->filter) leveldb_filterpolicy_destroy(m->filter);
  if (m->cache) leveldb_cache_destroy(m->cache);
  if (m->read) leveldb_readoptions_destroy(m->read);
  if (m->write) leveldb_writeoptions_destroy(m->write);
  if (m->write_sync) leveldb_writeoptions_destroy(m->write_sync);
  pthread_mutex_destroy(&m->lock);
  free(m);
}

/* Loads the counter and the inode count; creates the root in a new store. */
static int load(fsmeta_t *m, uid_t uid, gid_t gid) {
  uint8_t nkey[1] = {'n'};
  char *value;
  size_t len;
  int rc = db_get(m, NULL, nkey, 1, &value, &len);
  if (rc < 0) return rc;
  if (rc == 0) {
    fsmeta_inode_t root;
    memset(&root, 0, sizeof root);
    root.ino = FSMETA_INO_ROOT;
    root.mode = S_IFDIR | 0755;
    root.uid = uid, root.gid = gid;
    root.nlink = 2;
    root.parent = FSMETA_INO_ROOT;
    now(&root.atime);
    root.mtime = root.ctime = root.atime;
    uint8_t next[8];
    put_be64(next, FSMETA_INO_ROOT + 1);
    leveldb_writebatch_t *b = leveldb_writebatch_create();
    batch_inode(b, &root);
    leveldb_writebatch_put(b, "n", 1, (const char *)next, 8);
    rc = db_write(m, b, true);
    leveldb_writebatch_destroy(b);
    if (rc) return rc;
    m->next_ino = FSMETA_INO_ROOT + 1;
  } else {
    bool ok = len == 8;
    if (ok) m->next_ino = get_be64((const uint8_t *)value);
    leveldb_free(value);
    if (!ok || m->next_ino <= FSMETA_INO_ROOT) return err_set(-EIO, "files metadata: bad inode counter");
  }
  /* the inode count */
  leveldb_iterator_t *it = leveldb_create_iterator(m->db, m->read);
  uint64_t count = 0;
  for (leveldb_iter_seek(it, "i", 1); leveldb_iter_valid(it); leveldb_iter_next(it)) {
    size_t klen;
    const char *k = leveldb_iter_key(it, &klen);
    if (klen == 0 || k[0] != 'i') break;
    count++;
  }
  char *error = NULL;
  leveldb_iter_get_error(it, &error);
  leveldb_iter_destroy(it);
  if (error) {
    rc = err_set(-EIO, "files metadata: %s", error);
    leveldb_free(error);
    return rc;
  }
  __atomic_store_n(&m->inodes, count, __ATOMIC_RELAXED);
  return 0;
}

/* Reaps every orphan (left by a crash or a close with open files). */
static int reap_all(fsmeta_t *m) {
  for (;;) {
    /* one orphan at a time from a fresh iterator: reaping deletes keys */
    leveldb_iterator_t *it = leveldb_create_iterator(m->db, m->read);
    leveldb_iter_seek(it, "o", 1);
    uint64_t ino = 0;
    bool found = false;
    if (leveldb_iter_valid(it)) {
      size_t klen;
      const char *k = leveldb_iter_key(it, &klen);
      if (klen == 9 && k[0] == 'o') ino = get_be64((const uint8_t *)k + 1), found = true;
    }
    char *error = NULL;
    leveldb_iter_get_error(it, &error);
    leveldb_iter_destroy(it);
    if (error) {
      int rc = err_set(-EIO, "files metadata: %s", error);
      leveldb_free(error);
      return rc;
    }
    if (!found) return 0;
    int rc = fsmeta_reap(m, ino);
    if (rc) return rc;
  }
}

int fsmeta_open(const char *dir, uid_t uid, gid_t gid, fsmeta_t **out) {
  *out = NULL;
  fsmeta_t *m = calloc(1, sizeof *m);
  if (!m) return -ENOMEM;
  pthread_mutex_init(&m->lock, NULL);
  int rc = empty_file(m);
  if (rc) {
    fsmeta_free(m);
    return rc;
  }
  m->options = leveldb_options_create();
  m->filter = leveldb_filterpolicy_create_bloom(10);
  m->cache = leveldb_cache_create_lru(CACHE_BYTES);
  m->read = leveldb_readoptions_create();
  m->write = leveldb_writeoptions_create();
  m->write_sync = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(m->write_sync, 1);
  leveldb_options_set_create_if_missing(m->options, 1);
  leveldb_options_set_filter_policy(m->options, m->filter);
  leveldb_options_set_cache(m->options, m->cache);
  leveldb_options_set_write_buffer_size(m->options, WRITE_BUFFER_BYTES);
  leveldb_options_set_max_open_files(m->options, 64);
  char *error = NULL;
  m->db = leveldb_open(m->options, dir, &error);
  if (error) {
    rc = err_set(-EIO, "files metadata %s: %s", dir, error);
    leveldb_free(error);
    m->db = NULL;
    fsmeta_free(m);
    return rc;
  }
  rc = load(m, uid, gid);
  if (!rc) rc = reap_all(m);
  if (rc) {
    fsmeta_free(m);
    return rc;
  }
  *out = m;
  return 0;
}

void fsmeta_close(fsmeta_t *m) {
  if (m) fsmeta_free(m);
}

/* ---- reads ------------------------------------------------------------------- */

int fsmeta_get(fsmeta_t *m, uint64_t ino, fsmeta_inode_t *out) { return get_inode(m, NULL, ino, out); }

int fsmeta_lookup(fsmeta_t *m, uint64_t parent, const char *name, fsmeta_inode_t *out) {
  size_t n = strnlen(name, FSMETA_NAME_BYTES_MAX + 1);
  if (n > FSMETA_NAME_BYTES_MAX) return -ENAMETOOLONG;
  /* one snapshot: the entry and the inode it names agree */
  const leveldb_snapshot_t *snap = leveldb_create_snapshot(m->db);
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_readoptions_set_snapshot(ro, snap);
  fsmeta_inode_t dir;
  int rc = get_inode(m, ro, parent, &dir);
  if (!rc && !S_ISDIR(dir.mode)) rc = -ENOTDIR;
  if (!rc) {
    if (strcmp(name, ".") == 0) {
      *out = dir;
    } else if (strcmp(name, "..") == 0) {
      rc = get_inode(m, ro, dir.parent, out);
    } else {
      uint64_t ino;
      uint32_t type;
      rc = n == 0 || memchr(name, '/', n) ? 0 : get_dirent(m, ro, parent, name, n, &ino, &type);
      if (rc == 0) rc = -ENOENT;
      else if (rc == 1) {
        rc = get_inode(m, ro, ino, out);
        if (rc == -ENOENT) rc = err_set(-EIO, "files metadata: entry %s names a missing inode", name);
      }
    }
  }
  leveldb_readoptions_destroy(ro);
  leveldb_release_snapshot(m->db, snap);
  return rc;
}

int fsmeta_readlink(fsmeta_t *m, uint64_t ino, buf_t *out) {
  buf_reset(out);
  fsmeta_inode_t in;
  int rc = get_inode(m, NULL, ino, &in);
  if (rc) return rc;
  if (!S_ISLNK(in.mode)) return -EINVAL;
  uint8_t key[9];
  char *value;
  size_t len;
  rc = db_get(m, NULL, key, key_ino(key, 'l', ino), &value, &len);
  if (rc == 0) return err_set(-EIO, "files metadata: symlink %llu without target", (unsigned long long)ino);
  if (rc < 0) return rc;
  rc = buf_append(out, value, len);
  leveldb_free(value);
  return rc;
}

int fsmeta_count(fsmeta_t *m, uint64_t *inodes) {
  *inodes = __atomic_load_n(&m->inodes, __ATOMIC_RELAXED);
  return 0;
}

/* ---- create / link / unlink ------------------------------------------------------ */

int fsmeta_create(fsmeta_t *m, uint64_t parent, const char *name, uint32_t mode, uint32_t uid, uint32_t gid,
                  uint64_t rdev, const char *target, fsmeta_inode_t *out) {
  size_t name_len, target_len = 0;
  int rc = check_name(name, &name_len);
  if (rc) return rc;
  if (!type_known(mode)) return -EINVAL;
  if (S_ISLNK(mode)) {
    if (!target) return -EINVAL;
    target_len = strnlen(target, FSMETA_TARGET_BYTES_MAX + 1);
    if (target_len > FSMETA_TARGET_BYTES_MAX) return -ENAMETOOLONG;
    if (target_len == 0) return -ENOENT; /* symlink(2) with an empty target */
  }
  pthread_mutex_lock(&m->lock);
  op_t op = {.len = 0};
  fsmeta_inode_t *dir;
  uint64_t old;
  uint32_t old_type;
  if ((rc = op_load_dir(m, &op, parent, &dir))) goto out;
  if (dir->nlink == 0) { rc = -ENOENT; goto out; } /* a removed directory */
  if ((rc = get_dirent(m, NULL, parent, name, name_len, &old, &old_type)) != 0) {
    if (rc > 0) rc = -EEXIST;
    goto out;
  }
  if (S_ISDIR(mode) && dir->nlink >= FSMETA_LINK_MAX) { rc = -EMLINK; goto out; }
  fsmeta_inode_t in;
  memset(&in, 0, sizeof in);
  in.ino = m->next_ino;
  in.mode = mode;
  in.uid = uid, in.gid = gid;
  in.nlink = S_ISDIR(mode) ? 2 : 1;
  in.rdev = S_ISCHR(mode) || S_ISBLK(mode) ? rdev : 0;
  in.size = target_len;
  in.parent = S_ISDIR(mode) ? parent : 0;
  now(&in.atime);
  in.mtime = in.ctime = in.atime;
  if (S_ISREG(mode)) in.cid = m->empty_cid, in.tsize = m->empty_tsize;
  dir->size++;
  if (S_ISDIR(mode)) dir->nlink++;
  dir->mtime = dir->ctime = in.atime;
  op_dirty(&op, dir);
  uint8_t next[8], key[9];
  put_be64(next, in.ino + 1);
  leveldb_writebatch_t *b = leveldb_writebatch_create();
  op_batch(&op, b);
  batch_inode(b, &in);
  batch_dirent(b, parent, name, name_len, in.ino, mode);
  if (S_ISLNK(mode)) leveldb_writebatch_put(b, (const char *)key, key_ino(key, 'l', in.ino), target, target_len);
  leveldb_writebatch_put(b, "n", 1, (const char *)next, 8);
  rc = db_write(m, b, false);
  leveldb_writebatch_destroy(b);
  if (!rc) {
    m->next_ino++;
    __atomic_add_fetch(&m->inodes, 1, __ATOMIC_RELAXED);
    if (out) *out = in;
  }
out:
  pthread_mutex_unlock(&m->lock);
  return rc < 0 ? rc : 0;
}

int fsmeta_link(fsmeta_t *m, uint64_t ino, uint64_t newparent, const char *newname, fsmeta_inode_t *out) {
  size_t name_len;
  int rc = check_name(newname, &name_len);
  if (rc) return rc;
  pthread_mutex_lock(&m->lock);
  op_t op = {.len = 0};
  fsmeta_inode_t *in, *dir;
  uint64_t old;
  uint32_t old_type;
  if ((rc = op_load(m, &op, ino, &in))) goto out;
  if (S_ISDIR(in->mode)) { rc = -EPERM; goto out; }
  if (in->nlink == 0) { rc = -ENOENT; goto out; }
  if ((rc = op_load_dir(m, &op, newparent, &dir))) goto out;
  if (dir->nlink == 0) { rc = -ENOENT; goto out; }
  if ((rc = get_dirent(m, NULL, newparent, newname, name_len, &old, &old_type)) != 0) {
    if (rc > 0) rc = -EEXIST;
    goto out;
  }
  if (in->nlink >= FSMETA_LINK_MAX) { rc = -EMLINK; goto out; }
  struct timespec t;
  now(&t);
  in->nlink++;
  in->ctime = t;
  dir->size++;
  dir->mtime = dir->ctime = t;
  op_dirty(&op, in);
  op_dirty(&op, dir);
  leveldb_writebatch_t *b = leveldb_writebatch_create();
  op_batch(&op, b);
  batch_dirent(b, newparent, newname, name_len, ino, in->mode);
  rc = db_write(m, b, false);
  leveldb_writebatch_destroy(b);
  if (!rc && out) *out = *in;
out:
  pthread_mutex_unlock(&m->lock);
  return rc;
}

int fsmeta_unlink(fsmeta_t *m, uint64_t parent, const char *name, bool dir_wanted, fsmeta_inode_t *out) {
  size_t name_len;
  int rc = check_name(name, &name_len);
  if (rc) return rc;
  pthread_mutex_lock(&m->lock);
  op_t op = {.len = 0};
  fsmeta_inode_t *dir, *in;
  uint64_t ino;
  uint32_t type;
  if ((rc = op_load_dir(m, &op, parent, &dir))) goto out;
  if ((rc = get_dirent(m, NULL, parent, name, name_len, &ino, &type)) <= 0) {
    if (rc == 0) rc = -ENOENT;
    goto out;
  }
  if ((rc = op_load(m, &op, ino, &in))) goto out;
  if (dir_wanted && !S_ISDIR(in->mode)) { rc = -ENOTDIR; goto out; }
  if (!dir_wanted && S_ISDIR(in->mode)) { rc = -EISDIR; goto out; }
  if (dir_wanted && in->size > 0) { rc = -ENOTEMPTY; goto out; }
  struct timespec t;
  now(&t);
  leveldb_writebatch_t *b = leveldb_writebatch_create();
  op_drop_link(&op, in, dir, &t, b);
  dir->size--;
  dir->mtime = dir->ctime = t;
  op_dirty(&op, dir);
  op_batch(&op, b);
  batch_dirent_delete(b, parent, name, name_len);
  rc = db_write(m, b, false);
  leveldb_writebatch_destroy(b);
  if (!rc && out) *out = *in;
out:
  pthread_mutex_unlock(&m->lock);
  return rc;
}

/* ---- rename ------------------------------------------------------------------- */

/* Whether dir is ino or below it (walks parent pointers up to the root). */
static int is_under(fsmeta_t *m, uint64_t dir, uint64_t ino, bool *under) {
  uint64_t steps_max = __atomic_load_n(&m->inodes, __ATOMIC_RELAXED) + 1;
  for (uint64_t step = 0; step <= steps_max; step++) {
    if (dir == ino) { *under = true; return 0; }
    if (dir == FSMETA_INO_ROOT) { *under = false; return 0; }
    fsmeta_inode_t in;
    int rc = get_inode(m, NULL, dir, &in);
    if (rc) return rc == -ENOENT ? err_set(-EIO, "files metadata: broken parent chain") : rc;
    dir = in.parent;
  }
  return err_set(-EIO, "files metadata: a cycle in the parent chain");
}

/* A directory in moves from parent from to parent to. */
static void op_move_dir(op_t *op, fsmeta_inode_t *in, fsmeta_inode_t *from, fsmeta_inode_t *to) {
  if (!S_ISDIR(in->mode) || from == to) return;
  assert(from->nlink > 2);
  from->nlink--;
  to->nlink++;
  in->parent = to->ino;
  op_dirty(op, from);
  op_dirty(op, to);
  op_dirty(op, in);
}

int fsmeta_rename(fsmeta_t *m, uint64_t oldparent, const char *oldname, uint64_t newparent, const char *newname,
                  unsigned flags, fsmeta_inode_t *replaced) {
  if (replaced) memset(replaced, 0, sizeof *replaced);
  size_t old_len, new_len;
  int rc = check_name(oldname, &old_len);
  if (!rc) rc = check_name(newname, &new_len);
  if (rc) return rc;
  if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) return -EINVAL;
  if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) return -EINVAL;
  pthread_mutex_lock(&m->lock);
  op_t op = {.len = 0};
  fsmeta_inode_t *from, *to, *src, *dst = NULL;
  uint64_t src_ino, dst_ino = 0;
  uint32_t type;
  leveldb_writebatch_t *b = NULL;
  if ((rc = op_load_dir(m, &op, oldparent, &from))) goto out;
  if ((rc = op_load_dir(m, &op, newparent, &to))) goto out;
  if ((rc = get_dirent(m, NULL, oldparent, oldname, old_len, &src_ino, &type)) <= 0) {
    if (rc == 0) rc = -ENOENT;
    goto out;
  }
  if ((rc = get_dirent(m, NULL, newparent, newname, new_len, &dst_ino, &type)) < 0) goto out;
  if (rc == 0) {
    dst_ino = 0;
    if (flags & RENAME_EXCHANGE) { rc = -ENOENT; goto out; }
  } else if (flags & RENAME_NOREPLACE) {
    rc = -EEXIST;
    goto out;
  }
  rc = 0;
  if (dst_ino == src_ino) goto out; /* the same inode (or the same entry): nothing to do */
  if ((rc = op_load(m, &op, src_ino, &src))) goto out;
  if (dst_ino && (rc = op_load(m, &op, dst_ino, &dst))) goto out;
  if (to->nlink == 0) { rc = -ENOENT; goto out; }
  /* a directory must not move into itself or below */
  bool under = false;
  if (S_ISDIR(src->mode) && oldparent != newparent) {
    if ((rc = is_under(m, newparent, src_ino, &under))) goto out;
    if (under) { rc = -EINVAL; goto out; }
  }
  if ((flags & RENAME_EXCHANGE) && S_ISDIR(dst->mode) && oldparent != newparent) {
    if ((rc = is_under(m, oldparent, dst_ino, &under))) goto out;
    if (under) { rc = -EINVAL; goto out; }
  }
  if (dst && !(flags & RENAME_EXCHANGE)) {
    if (S_ISDIR(src->mode) && !S_ISDIR(dst->mode)) { rc = -ENOTDIR; goto out; }
    if (!S_ISDIR(src->mode) && S_ISDIR(dst->mode)) { rc = -EISDIR; goto out; }
    if (S_ISDIR(dst->mode) && dst->size > 0) { rc = -ENOTEMPTY; goto out; }
  }
  /* nlink limits: a directory arriving in another parent */
  if (oldparent != newparent) {
    bool src_dir = S_ISDIR(src->mode), dst_dir = dst && (flags & RENAME_EXCHANGE) && S_ISDIR(dst->mode);
    bool dst_gone_dir = dst && !(flags & RENAME_EXCHANGE) && S_ISDIR(dst->mode);
    if (src_dir && !dst_dir && !dst_gone_dir && to->nlink >= FSMETA_LINK_MAX) { rc = -EMLINK; goto out; }
    if (dst_dir && !src_dir && from->nlink >= FSMETA_LINK_MAX) { rc = -EMLINK; goto out; }
  }
  struct timespec t;
  now(&t);
  b = leveldb_writebatch_create();
  if (flags & RENAME_EXCHANGE) {
    batch_dirent(b, oldparent, oldname, old_len, dst_ino, dst->mode);
    batch_dirent(b, newparent, newname, new_len, src_ino, src->mode);
    op_move_dir(&op, src, from, to);
    op_move_dir(&op, dst, to, from);
    dst->ctime = t;
    op_dirty(&op, dst);
  } else {
    if (dst) {
      op_drop_link(&op, dst, to, &t, b);
      if (replaced) *replaced = *dst; /* final values copied below */
    } else {
      to->size++;
    }
    from->size--;
    batch_dirent_delete(b, oldparent, oldname, old_len);
    batch_dirent(b, newparent, newname, new_len, src_ino, src->mode);
    op_move_dir(&op, src, from, to);
  }
  src->ctime = t;
  from->mtime = from->ctime = t;
  to->mtime = to->ctime = t;
  op_dirty(&op, src);
  op_dirty(&op, from);
  op_dirty(&op, to);
  op_batch(&op, b);
  rc = db_write(m, b, false);
  if (!rc && replaced && dst && !(flags & RENAME_EXCHANGE)) *replaced = *dst;
out:
  if (b) leveldb_writebatch_destroy(b);
  pthread_mutex_unlock(&m->lock);
  if (rc && replaced) memset(replaced, 0, sizeof *replaced);
  return rc;
}

/* ---- update / sync ---------------------------------------------------------------- */

int fsmeta_update(fsmeta_t *m, uint64_t ino, fsmeta_update_fn fn, void *ctx, bool sync, fsmeta_inode_t *out) {
  pthread_mutex_lock(&m->lock);
  fsmeta_inode_t in, was;
  int rc = get_inode(m, NULL, ino, &in);
  if (rc) goto out;
  was = in;
  if ((rc = fn(ctx, &in))) goto out;
  if (in.ino != was.ino || (in.mode & S_IFMT) != (was.mode & S_IFMT) || in.nlink != was.nlink ||
      (!S_ISREG(in.mode) && cid_present(&in.cid)) || (S_ISDIR(in.mode) && in.parent != was.parent)) {
    rc = err_set(-EINVAL, "fsmeta_update: the callback changed ino, type, nlink or parent, or gave a "
                          "non-file a CID");
    goto out;
  }
  if (in.atime.tv_nsec < 0 || in.atime.tv_nsec >= 1000000000 || in.mtime.tv_nsec < 0 ||
      in.mtime.tv_nsec >= 1000000000 || in.ctime.tv_nsec < 0 || in.ctime.tv_nsec >= 1000000000) {
    rc = -EINVAL;
    goto out;
  }
  leveldb_writebatch_t *b = leveldb_writebatch_create();
  batch_inode(b, &in);
  rc = db_write(m, b, sync);
  leveldb_writebatch_destroy(b);
  if (!rc && out) *out = in;
out:
  pthread_mutex_unlock(&m->lock);
  return rc;
}

int fsmeta_sync(fsmeta_t *m) {
  leveldb_writebatch_t *b = leveldb_writebatch_create();
  int rc = db_write(m, b, true);
  leveldb_writebatch_destroy(b);
  return rc;
}

/* ---- xattrs ---------------------------------------------------------------------- */

/* A name as Linux filesystems take it: 1..255 bytes (-ERANGE), in one of the
 * four namespaces (-EOPNOTSUPP), not the bare prefix (-EINVAL).  system.* is
 * accepted: with POSIX ACLs on, the kernel stores system.posix_acl_* here and
 * needs -ENODATA, not an error, when there is none. */
static int check_xattr_name(const char *name, size_t *len) {
  static const char *const prefixes[] = {"user.", "trusted.", "security.", "system."};
  size_t n = strnlen(name, FSMETA_XATTR_NAME_BYTES_MAX + 1);
  if (n > FSMETA_XATTR_NAME_BYTES_MAX || n == 0) return -ERANGE;
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
    size_t p = strlen(prefixes[i]);
    if (n >= p && memcmp(name, prefixes[i], p) == 0) {
      if (n == p) return -EINVAL;
      *len = n;
      return 0;
    }
  }
  return -EOPNOTSUPP;
}

/* Σ(name + NUL) of ino's xattrs (the walk stops past the list limit). */
static int xattr_list_bytes(fsmeta_t *m, uint64_t ino, uint64_t *total) {
  uint8_t prefix[9];
  key_ino(prefix, 'x', ino);
  leveldb_iterator_t *it = leveldb_create_iterator(m->db, m->read);
  uint64_t sum = 0;
  for (leveldb_iter_seek(it, (const char *)prefix, 9); leveldb_iter_valid(it); leveldb_iter_next(it)) {
    size_t klen;
    const char *k = leveldb_iter_key(it, &klen);
    if (klen < 9 || memcmp(k, prefix, 9) != 0) break;
    sum += klen - 9 + 1;
    if (sum > FSMETA_XATTR_LIST_BYTES_MAX) break;
  }
  char *error = NULL;
  leveldb_iter_get_error(it, &error);
  leveldb_iter_destroy(it);
  if (error) {
    int rc = err_set(-EIO, "files metadata: %s", error);
    leveldb_free(error);
    return rc;
  }
  *total = sum;
  return 0;
}

int fsmeta_xattr_set(fsmeta_t *m, uint64_t ino, const char *name, const void *value, size_t len, int flags) {
  size_t name_len;
  int rc = check_xattr_name(name, &name_len);
  if (rc) return rc;
  if (len > FSMETA_XATTR_VALUE_BYTES_MAX) return -E2BIG;
  if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) return -EINVAL;
  pthread_mutex_lock(&m->lock);
  uint8_t key[1 + 8 + FSMETA_XATTR_NAME_BYTES_MAX];
  size_t key_len = key_name(key, 'x', ino, name, name_len);
  fsmeta_inode_t in;
  char *old;
  size_t old_len;
  uint64_t total = 0;
  if ((rc = get_inode(m, NULL, ino, &in))) goto out;
  if ((rc = db_get(m, NULL, key, key_len, &old, &old_len)) < 0) goto out;
  leveldb_free(old);
  if (rc == 1 && (flags & XATTR_CREATE)) { rc = -EEXIST; goto out; }
  if (rc == 0 && (flags & XATTR_REPLACE)) { rc = -ENODATA; goto out; }
  if (rc == 0) {
    if ((rc = xattr_list_bytes(m, ino, &total))) goto out;
    if (total + name_len + 1 > FSMETA_XATTR_LIST_BYTES_MAX) { rc = -ENOSPC; goto out; }
  }
  now(&in.ctime);
  leveldb_writebatch_t *b = leveldb_writebatch_create();
  batch_inode(b, &in);
  leveldb_writebatch_put(b, (const char *)key, key_len, value ? value : "", len);
  rc = db_write(m, b, false);
  leveldb_writebatch_destroy(b);
out:
  pthread_mutex_unlock(&m->lock);
  return rc;
}

int fsmeta_xattr_get(fsmeta_t *m, uint64_t ino, const char *name, buf_t *out) {
  buf_reset(out);
  size_t name_len;
  int rc = check_xattr_name(name, &name_len);
  if (rc) return rc;
  uint8_t key[1 + 8 + FSMETA_XATTR_NAME_BYTES_MAX];
  char *value;
  size_t len;
  rc = db_get(m, NULL, key, key_name(key, 'x', ino, name, name_len), &value, &len);
  if (rc < 0) return rc;
  if (rc == 0) {
    fsmeta_inode_t in;
    rc = get_inode(m, NULL, ino, &in);
    return rc ? rc : -ENODATA;
  }
  rc = buf_append(out, value, len);
  leveldb_free(value);
  return rc;
}

int fsmeta_xattr_list(fsmeta_t *m, uint64_t ino, buf_t *out) {
  buf_reset(out);
  const leveldb_snapshot_t *snap = leveldb_create_snapshot(m->db);
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_readoptions_set_snapshot(ro, snap);
  fsmeta_inode_t in;
  int rc = get_inode(m, ro, ino, &in);
  if (!rc) {
    uint8_t prefix[9];
    key_ino(prefix, 'x', ino);
    leveldb_iterator_t *it = leveldb_create_iterator(m->db, ro);
    for (leveldb_iter_seek(it, (const char *)prefix, 9); !rc && leveldb_iter_valid(it); leveldb_iter_next(it)) {
      size_t klen;
      const char *k = leveldb_iter_key(it, &klen);
      if (klen < 9 || memcmp(k, prefix, 9) != 0) break;
      if (out->len + klen - 9 + 1 > FSMETA_XATTR_LIST_BYTES_MAX) { rc = err_set(-EIO, "xattr list too long"); break; }
      rc = buf_append(out, k + 9, klen - 9);
      if (!rc) rc = buf_append_byte(out, 0);
    }
    char *error = NULL;
    leveldb_iter_get_error(it, &error);
    leveldb_iter_destroy(it);
    if (error) {
      rc = err_set(-EIO, "files metadata: %s", error);
      leveldb_free(error);
    }
  }
  leveldb_readoptions_destroy(ro);
  leveldb_release_snapshot(m->db, snap);
  return rc;
}

int fsmeta_xattr_remove(fsmeta_t *m, uint64_t ino, const char *name) {
  size_t name_len;
  int rc = check_xattr_name(name, &name_len);
  if (rc) return rc;
  pthread_mutex_lock(&m->lock);
  uint8_t key[1 + 8 + FSMETA_XATTR_NAME_BYTES_MAX];
  size_t key_len = key_name(key, 'x', ino, name, name_len);
  fsmeta_inode_t in;
  char *old;
  size_t old_len;
  if ((rc = get_inode(m, NULL, ino, &in))) goto out;
  if ((rc = db_get(m, NULL, key, key_len, &old, &old_len)) <= 0) {
    if (rc == 0) rc = -ENODATA;
    goto out;
  }
  leveldb_free(old);
  now(&in.ctime);
  leveldb_writebatch_t *b = leveldb_writebatch_create();
  batch_inode(b, &in);
  leveldb_writebatch_delete(b, (const char *)key, key_len);
  rc = db_write(m, b, false);
  leveldb_writebatch_destroy(b);
out:
  pthread_mutex_unlock(&m->lock);
  return rc;
}

/* ---- reap ------------------------------------------------------------------------ */

int fsmeta_reap(fsmeta_t *m, uint64_t ino) {
  pthread_mutex_lock(&m->lock);
  uint8_t okey[9], key[9];
  key_ino(okey, 'o', ino);
  char *value;
  size_t len;
  int rc = db_get(m, NULL, okey, 9, &value, &len);
  if (rc <= 0) goto out;
  leveldb_free(value);
  leveldb_writebatch_t *b = leveldb_writebatch_create();
  fsmeta_inode_t in;
  bool had_inode = get_inode(m, NULL, ino, &in) == 0;
  leveldb_writebatch_delete(b, (const char *)okey, 9);
  leveldb_writebatch_delete(b, (const char *)key, key_ino(key, 'i', ino));
  leveldb_writebatch_delete(b, (const char *)key, key_ino(key, 'l', ino));
  /* the xattrs: bounded by the list limit (at most 32768 one-byte names) */
  uint8_t prefix[9];
  key_ino(prefix, 'x', ino);
  leveldb_iterator_t *it = leveldb_create_iterator(m->db, m->read);
  for (leveldb_iter_seek(it, (const char *)prefix, 9); leveldb_iter_valid(it); leveldb_iter_next(it)) {
    size_t klen;
    const char *k = leveldb_iter_key(it, &klen);
    if (klen < 9 || memcmp(k, prefix, 9) != 0) break;
    leveldb_writebatch_delete(b, k, klen);
  }
  char *error = NULL;
  leveldb_iter_get_error(it, &error);
  leveldb_iter_destroy(it);
  if (error) {
    rc = err_set(-EIO, "files metadata: %s", error);
    leveldb_free(error);
  } else {
    rc = db_write(m, b, false);
  }
  leveldb_writebatch_destroy(b);
  if (!rc && had_inode) __atomic_sub_fetch(&m->inodes, 1, __ATOMIC_RELAXED);
out:
  pthread_mutex_unlock(&m->lock);
  return rc < 0 ? rc : 0;
}

/* ---- directory listing ------------------------------------------------------------- */

int fsmeta_dir_open(fsmeta_t *m, uint64_t ino, fsmeta_dir_t **out) {
  *out = NULL;
  fsmeta_dir_t *d = calloc(1, sizeof *d);
  if (!d) return -ENOMEM;
  d->m = m;
  d->snap = leveldb_create_snapshot(m->db);
  d->ro = leveldb_readoptions_create();
  leveldb_readoptions_set_snapshot(d->ro, d->snap);
  leveldb_readoptions_set_fill_cache(d->ro, 0);
  fsmeta_inode_t in;
  int rc = get_inode(m, d->ro, ino, &in);
  if (!rc && !S_ISDIR(in.mode)) rc = -ENOTDIR;
  if (rc) {
    fsmeta_dir_close(d);
    return rc;
  }
  key_ino(d->prefix, 'd', ino);
  d->it = leveldb_create_iterator(m->db, d->ro);
  leveldb_iter_seek(d->it, (const char *)d->prefix, sizeof d->prefix);
  d->pos = 0;
  *out = d;
  return 0;
}

/* Whether the iterator is at an entry of the directory. */
static bool dir_at_entry(fsmeta_dir_t *d) {
  if (!leveldb_iter_valid(d->it)) return false;
  size_t klen;
  const char *k = leveldb_iter_key(d->it, &klen);
  return klen > sizeof d->prefix && memcmp(k, d->prefix, sizeof d->prefix) == 0;
}

static int dir_error(fsmeta_dir_t *d) {
  char *error = NULL;
  leveldb_iter_get_error(d->it, &error);
  if (!error) return 0;
  int rc = err_set(-EIO, "files metadata: %s", error);
  leveldb_free(error);
  return rc;
}

int fsmeta_dir_seek(fsmeta_dir_t *d, uint64_t k) {
  if (k < d->pos) {
    leveldb_iter_seek(d->it, (const char *)d->prefix, sizeof d->prefix);
    d->pos = 0;
  }
  while (d->pos < k && dir_at_entry(d)) {
    leveldb_iter_next(d->it);
    d->pos++;
  }
  /* past the end: stay at the end, counting as if there (next gives 0) */
  if (d->pos < k) d->pos = k;
  return dir_error(d);
}

int fsmeta_dir_next(fsmeta_dir_t *d, const char **name, uint64_t *ino, uint32_t *type_mode) {
  if (!dir_at_entry(d)) return dir_error(d);
  size_t klen, vlen;
  const char *k = leveldb_iter_key(d->it, &klen);
  const char *v = leveldb_iter_value(d->it, &vlen);
  size_t name_len = klen - sizeof d->prefix;
  if (name_len > FSMETA_NAME_BYTES_MAX || vlen != DIRENT_VALUE_BYTES)
    return err_set(-EIO, "files metadata: bad directory entry");
  memcpy(d->name, k + sizeof d->prefix, name_len);
  d->name[name_len] = '\0';
  *name = d->name;
  if (ino) *ino = get_be64((const uint8_t *)v);
  if (type_mode) *type_mode = (uint32_t)(uint8_t)v[8] << 12;
  leveldb_iter_next(d->it);
  d->pos++;
  return 1;
}

void fsmeta_dir_close(fsmeta_dir_t *d) {
  if (!d) return;
  if (d->it) leveldb_iter_destroy(d->it);
  leveldb_readoptions_destroy(d->ro);
  leveldb_release_snapshot(d->m->db, d->snap);
  free(d);
}

/* ---- walks over every inode ----------------------------------------------------------- */

typedef int (*inode_fn)(void *ctx, const fsmeta_inode_t *in);

/* Calls fn for every inode in one snapshot. */
static int each_inode(fsmeta_t *m, inode_fn fn, void *ctx) {
  const leveldb_snapshot_t *snap = leveldb_create_snapshot(m->db);
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_readoptions_set_snapshot(ro, snap);
  leveldb_readoptions_set_fill_cache(ro, 0);
  leveldb_iterator_t *it = leveldb_create_iterator(m->db, ro);
  int rc = 0;
  for (leveldb_iter_seek(it, "i", 1); !rc && leveldb_iter_valid(it); leveldb_iter_next(it)) {
    size_t klen, vlen;
    const char *k = leveldb_iter_key(it, &klen);
    if (klen == 0 || k[0] != 'i') break;
    const char *v = leveldb_iter_value(it, &vlen);
    fsmeta_inode_t in;
    if (klen != 9 || fsmeta_inode_decode(get_be64((const uint8_t *)k + 1), (const uint8_t *)v, vlen, &in))
      rc = err_set(-EIO, "files metadata: bad inode record");
    else
      rc = fn(ctx, &in);
  }
  char *error = NULL;
  leveldb_iter_get_error(it, &error);
  leveldb_iter_destroy(it);
  leveldb_readoptions_destroy(ro);
  leveldb_release_snapshot(m->db, snap);
  if (error) {
    if (!rc) rc = err_set(-EIO, "files metadata: %s", error);
    leveldb_free(error);
  }
  return rc;
}

typedef struct staged_ctx {
  int (*fn)(void *ctx, const fsmeta_inode_t *inode);
  void *ctx;
} staged_ctx_t;

static int staged_one(void *ctx, const fsmeta_inode_t *in) {
  staged_ctx_t *s = ctx;
  return (in->flags & FSMETA_STAGED) ? s->fn(s->ctx, in) : 0;
}

int fsmeta_each_staged(fsmeta_t *m, int (*fn)(void *ctx, const fsmeta_inode_t *inode), void *ctx) {
  staged_ctx_t s = {fn, ctx};
  return each_inode(m, staged_one, &s);
}

typedef struct roots_ctx {
  fsmeta_t *m;
  gc_marker_t *marker;
} roots_ctx_t;

static int root_one(void *ctx, const fsmeta_inode_t *in) {
  roots_ctx_t *r = ctx;
  if (!S_ISREG(in->mode) || !cid_present(&in->cid)) return 0;
  if (cid_equal(&in->cid, &r->m->empty_cid)) {
    /* the empty file's node may never have been put (fsmeta_cid puts it):
     * keep it if present, without requiring it */
    uint8_t mh[MH_BYTES_MAX];
    size_t n = cid_mh_bytes(&in->cid, mh);
    return gc_mark_block(r->marker, mh, n);
  }
  return gc_mark_root(r->marker, &in->cid);
}

int fsmeta_gc_roots(void *ctx, gc_marker_t *marker) {
  roots_ctx_t r = {ctx, marker};
  return each_inode(ctx, root_one, &r);
}

/* ---- the tree's CID ----------------------------------------------------------------- */

typedef struct cid_walk {
  fsmeta_t *m;
  const leveldb_readoptions_t *ro; /* one snapshot for the whole walk */
  const block_sink_t *sink;
  imp_options_t opts;
  buf_t target;
} cid_walk_t;

static int cid_of(cid_walk_t *w, uint64_t ino, unsigned depth, cid_t *cid, uint64_t *tsize, bool *skip);

static int cid_of_dir(cid_walk_t *w, uint64_t ino, unsigned depth, cid_t *cid, uint64_t *tsize) {
  if (depth >= IMP_DEPTH_MAX)
    return err_set(-ELOOP, "files: directories nested deeper than %d", IMP_DEPTH_MAX);
  imp_dir_t *d;
  int rc = imp_dir_new(&w->opts, &d);
  if (rc) return rc;
  uint8_t prefix[9];
  key_ino(prefix, 'd', ino);
  leveldb_iterator_t *it = leveldb_create_iterator(w->m->db, w->ro);
  for (leveldb_iter_seek(it, (const char *)prefix, 9); !rc && leveldb_iter_valid(it); leveldb_iter_next(it)) {
    size_t klen, vlen;
    const char *k = leveldb_iter_key(it, &klen);
    if (klen <= 9 || memcmp(k, prefix, 9) != 0) break;
    const char *v = leveldb_iter_value(it, &vlen);
    if (klen - 9 > FSMETA_NAME_BYTES_MAX || vlen != DIRENT_VALUE_BYTES) {
      rc = err_set(-EIO, "files metadata: bad directory entry");
      break;
    }
    char name[FSMETA_NAME_BYTES_MAX + 1];
    memcpy(name, k + 9, klen - 9);
    name[klen - 9] = '\0';
    cid_t child;
    uint64_t child_tsize;
    bool skip = false;
    rc = cid_of(w, get_be64((const uint8_t *)v), depth + 1, &child, &child_tsize, &skip);
    if (!rc && !skip) rc = imp_dir_add(d, name, &child, child_tsize);
  }
  char *error = NULL;
  leveldb_iter_get_error(it, &error);
  leveldb_iter_destroy(it);
  if (error) {
    if (!rc) rc = err_set(-EIO, "files metadata: %s", error);
    leveldb_free(error);
  }
  if (rc) {
    imp_dir_abort(d);
    return rc;
  }
  return imp_dir_finish(d, w->sink, cid, tsize);
}

static int cid_of(cid_walk_t *w, uint64_t ino, unsigned depth, cid_t *cid, uint64_t *tsize, bool *skip) {
  fsmeta_inode_t in;
  int rc = get_inode(w->m, w->ro, ino, &in);
  if (rc) return rc;
  *skip = false;
  switch (in.mode & S_IFMT) {
  case S_IFDIR: return cid_of_dir(w, ino, depth, cid, tsize);
  case S_IFREG:
    if (!cid_present(&in.cid))
      return err_set(-EIO, "files: inode %llu has no content CID", (unsigned long long)ino);
    if (cid_equal(&in.cid, &w->m->empty_cid) &&
        (rc = w->sink->put(w->sink->ctx, &in.cid, w->m->empty_block, w->m->empty_block_len)))
      return rc;
    *cid = in.cid;
    *tsize = in.tsize;
    return 0;
  case S_IFLNK: {
    uint8_t key[9];
    char *value;
    size_t len;
    rc = db_get(w->m, w->ro, key, key_ino(key, 'l', ino), &value, &len);
    if (rc == 0) return err_set(-EIO, "files metadata: symlink %llu without target", (unsigned long long)ino);
    if (rc < 0) return rc;
    buf_reset(&w->target);
    rc = buf_append(&w->target, value, len);
    leveldb_free(value);
    if (!rc && !buf_cstr(&w->target)) rc = -ENOMEM;
    if (rc) return rc;
    return imp_symlink(&w->opts, w->sink, (const char *)w->target.data, cid, tsize);
  }
  default: *skip = true; return 0; /* FIFOs, sockets, devices: not addable */
  }
}

int fsmeta_cid(fsmeta_t *m, uint64_t ino, const block_sink_t *sink, cid_t *cid, uint64_t *tsize) {
  const leveldb_snapshot_t *snap = leveldb_create_snapshot(m->db);
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_readoptions_set_snapshot(ro, snap);
  cid_walk_t w = {.m = m, .ro = ro, .sink = sink};
  imp_options_default(&w.opts);
  w.opts.hidden = true;
  uint64_t size = 0;
  bool skip = false;
  int rc = cid_of(&w, ino, 0, cid, &size, &skip);
  if (!rc && skip) rc = err_set(-EINVAL, "files: inode %llu is a special file", (unsigned long long)ino);
  if (!rc && tsize) *tsize = size;
  buf_free(&w.target);
  leveldb_readoptions_destroy(ro);
  leveldb_release_snapshot(m->db, snap);
  return rc;
}
