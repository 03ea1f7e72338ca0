/*
 * io: the real io_uring backend, the fault-injecting wrapper, and the helpers
 * the engine calls (io_write_all's split-and-resubmit loop lives here, above
 * the backends, so short writes from either backend take the same path).
 */
#include "io.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- real backend ---- */

/* One ring per thread: no locking, and in the engine only the flusher thread
 * writes, so there is exactly one ring in practice.  The key's destructor
 * tears the ring down when the thread exits. */
static _Thread_local struct io_uring real_ring;
static _Thread_local int real_ring_state; /* 0 untried, 1 ready, -1 unavailable (fall back to pwrite) */
static pthread_key_t real_ring_key;
static pthread_once_t real_ring_once = PTHREAD_ONCE_INIT;

static void real_ring_destroy(void *ring) { io_uring_queue_exit(ring); }
static void real_ring_key_create(void) { (void)pthread_key_create(&real_ring_key, real_ring_destroy); }

static struct io_uring *real_ring_get(void) {
  if (real_ring_state == 0) {
    pthread_once(&real_ring_once, real_ring_key_create);
    if (io_uring_queue_init(IO_RING_DEPTH, &real_ring, 0) == 0) {
      real_ring_state = 1;
      (void)pthread_setspecific(real_ring_key, &real_ring);
    } else {
      real_ring_state = -1;
    }
  }
  return real_ring_state == 1 ? &real_ring : NULL;
}

static int real_open(const io_backend_t *io, const char *path, int flags, unsigned mode) {
  int fd = open(path, flags | O_CLOEXEC, (mode_t)mode);
  return fd < 0 ? -errno : fd;
}

static int real_close(const io_backend_t *io, int fd) { return close(fd) ? -errno : 0; }

static ssize_t real_preadv(const io_backend_t *io, int fd, const struct iovec *iov, int iov_count,
                           uint64_t offset) {
  ssize_t n;
  do n = preadv(fd, iov, iov_count, (off_t)offset);
  while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : n;
}

static int real_write_batch_pwrite(io_write_t *writes, size_t count) {
  for (size_t i = 0; i < count; i++) {
    ssize_t n;
    do n = pwrite(writes[i].fd, writes[i].data, writes[i].len_bytes, (off_t)writes[i].offset);
    while (n < 0 && errno == EINTR);
    writes[i].result = n < 0 ? -errno : n;
  }
  return 0;
}

static int real_write_batch(const io_backend_t *io, io_write_t *writes, size_t count) {
  struct io_uring *ring = real_ring_get();
  if (!ring) return real_write_batch_pwrite(writes, count);
  size_t done = 0;
  while (done < count) { /* bounded: each round consumes up to IO_RING_DEPTH writes */
    size_t round = count - done < IO_RING_DEPTH ? count - done : IO_RING_DEPTH;
    for (size_t i = 0; i < round; i++) {
      io_write_t *w = &writes[done + i];
      struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
      assert(sqe); /* the ring is empty at the start of each round */
      io_uring_prep_write(sqe, w->fd, w->data, (unsigned)w->len_bytes, w->offset);
      io_uring_sqe_set_data64(sqe, done + i);
    }
    size_t submitted = 0;
    int submit_error = 0;
    for (int attempt = 0; submitted < round && attempt < IO_WRITE_ROUNDS_MAX; attempt++) {
      int rc = io_uring_submit_and_wait(ring, (unsigned)(round - submitted));
      if (rc == -EINTR) continue;
      if (rc < 0) {
        submit_error = rc;
        break;
      }
      submitted += (size_t)rc;
    }
    if (submitted < round && !submit_error) submit_error = -EIO;
    size_t reaped = 0;
    while (reaped < submitted) {
      struct io_uring_cqe *cqe;
      int rc = io_uring_wait_cqe(ring, &cqe);
      if (rc == -EINTR) continue;
      if (rc < 0) return rc; /* ring broken: results undefined */
      uint64_t index = io_uring_cqe_get_data64(cqe);
      assert(index < count);
      writes[index].result = cqe->res;
      io_uring_cqe_seen(ring, cqe);
      reaped++;
    }
    if (submit_error) {
      /* SQEs the kernel did not take cannot be withdrawn from the SQ ring;
       * drop them with the ring (a new one is made on next use). */
      for (size_t i = 0; i < round; i++)
        if (writes[done + i].result == -ECANCELED) writes[done + i].result = submit_error;
      io_uring_queue_exit(ring);
      real_ring_state = 0;
      (void)pthread_setspecific(real_ring_key, NULL);
      return 0;
    }
    done += round;
  }
  return 0;
}

static int real_fdatasync(const io_backend_t *io, int fd) { return fdatasync(fd) ? -errno : 0; }
static int real_fsync(const io_backend_t *io, int fd) { return fsync(fd) ? -errno : 0; }
static int real_ftruncate(const io_backend_t *io, int fd, uint64_t size_bytes) {
  return ftruncate(fd, (off_t)size_bytes) ? -errno : 0;
}
static int real_size(const io_backend_t *io, int fd, uint64_t *size_bytes) {
  struct stat st;
  if (fstat(fd, &st)) return -errno;
  *size_bytes = (uint64_t)st.st_size;
  return 0;
}
static int real_unlink(const io_backend_t *io, const char *path) { return unlink(path) ? -errno : 0; }
static int real_rename(const io_backend_t *io, const char *from, const char *to) {
  return rename(from, to) ? -errno : 0;
}
static int real_mkdir(const io_backend_t *io, const char *path, unsigned mode) {
  return mkdir(path, (mode_t)mode) ? -errno : 0;
}
static int real_list(const io_backend_t *io, const char *dir, io_list_fn fn, void *ctx) {
  DIR *d = opendir(dir);
  if (!d) return -errno;
  int rc = 0;
  struct dirent *e;
  errno = 0;
  while (rc == 0 && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    rc = fn(ctx, e->d_name);
  }
  if (rc == 0 && errno) rc = -errno;
  closedir(d);
  return rc;
}
static int real_external(const io_backend_t *io, const char *what) { return 0; }

static const io_backend_t io_real_backend = {
    .name = "io_uring",
    .state = NULL,
    .open = real_open,
    .close = real_close,
    .preadv = real_preadv,
    .write_batch = real_write_batch,
    .fdatasync = real_fdatasync,
    .fsync = real_fsync,
    .ftruncate = real_ftruncate,
    .size = real_size,
    .unlink = real_unlink,
    .rename = real_rename,
    .mkdir = real_mkdir,
    .list = real_list,
    .external = real_external,
};

const io_backend_t *io_real(void) { return &io_real_backend; }

/* ---- wrappers ---- */

int io_open(const io_backend_t *io, const char *path, int flags, unsigned mode) {
  assert(io && path);
  return io->open(io, path, flags, mode);
}

int io_close(const io_backend_t *io, int fd) {
  assert(io && fd >= 0);
  return io->close(io, fd);
}

ssize_t io_preadv(const io_backend_t *io, int fd, const struct iovec *iov, int iov_count,
                  uint64_t offset) {
  assert(io && fd >= 0 && iov && iov_count > 0 && iov_count <= IO_IOV_COUNT_MAX);
  size_t want = 0;
  for (int i = 0; i < iov_count; i++) want += iov[i].iov_len;
  struct iovec local[8];
  const struct iovec *cur = iov;
  int cur_count = iov_count;
  size_t got = 0;
  /* Short reads before EOF are rare (signals); resume them, bounded by progress. */
  for (int round = 0; round < IO_WRITE_ROUNDS_MAX && got < want; round++) {
    ssize_t n = io->preadv(io, fd, cur, cur_count, offset + got);
    if (n < 0) return n;
    if (n == 0) break; /* EOF */
    got += (size_t)n;
    if (got == want) break;
    if (iov_count > (int)(sizeof local / sizeof local[0])) return -EIO;
    /* rebuild the remaining vector */
    size_t skip = got;
    int k = 0;
    for (int i = 0; i < iov_count; i++) {
      if (skip >= iov[i].iov_len) {
        skip -= iov[i].iov_len;
        continue;
      }
      local[k].iov_base = (uint8_t *)iov[i].iov_base + skip;
      local[k].iov_len = iov[i].iov_len - skip;
      skip = 0;
      k++;
    }
    cur = local;
    cur_count = k;
  }
  return (ssize_t)got;
}

ssize_t io_pread(const io_backend_t *io, int fd, void *buf, size_t len, uint64_t offset) {
  struct iovec iov = {.iov_base = buf, .iov_len = len};
  if (len == 0) return 0;
  return io_preadv(io, fd, &iov, 1, offset);
}

int io_write_batch(const io_backend_t *io, io_write_t *writes, size_t count) {
  assert(io && writes && count <= IO_BATCH_WRITES_MAX);
  for (size_t i = 0; i < count; i++) {
    assert(writes[i].fd >= 0 && writes[i].len_bytes <= UINT32_MAX);
    writes[i].result = -ECANCELED;
  }
  return count ? io->write_batch(io, writes, count) : 0;
}

int io_write_all(const io_backend_t *io, int fd, const void *data, size_t len, uint64_t offset) {
  assert(io && fd >= 0 && (data || len == 0));
  io_write_t writes[64];
  const size_t writes_max = sizeof writes / sizeof writes[0];
  const uint8_t *bytes = data;
  size_t done = 0;        /* bytes known written, a prefix of data */
  int rounds = 0;
  while (done < len) {
    if (++rounds > IO_WRITE_ROUNDS_MAX) return -EIO;
    /* Chunks from `done`; a short chunk ends the contiguous prefix of this
     * round, so only the prefix up to the first short chunk counts. */
    size_t count = 0, pos = done;
    while (pos < len && count < writes_max) {
      size_t n = len - pos < IO_WRITE_CHUNK_BYTES ? len - pos : IO_WRITE_CHUNK_BYTES;
      writes[count++] = (io_write_t){.fd = fd, .data = bytes + pos, .len_bytes = n, .offset = offset + pos};
      pos += n;
    }
    int rc = io_write_batch(io, writes, count);
    if (rc < 0) return rc;
    size_t progress = 0;
    int error = 0;
    bool prefix = true;
    for (size_t i = 0; i < count; i++) {
      if (writes[i].result < 0) {
        if (!error) error = (int)writes[i].result;
        prefix = false;
        continue;
      }
      if (prefix) progress += (size_t)writes[i].result;
      if ((size_t)writes[i].result < writes[i].len_bytes) prefix = false;
    }
    if (error) return error;
    if (progress == 0 && rounds > 1) return -EIO; /* no progress twice in a row */
    done += progress;
  }
  return 0;
}

int io_fdatasync(const io_backend_t *io, int fd) {
  assert(io && fd >= 0);
  return io->fdatasync(io, fd);
}

int io_fsync(const io_backend_t *io, int fd) {
  assert(io && fd >= 0);
  return io->fsync(io, fd);
}

int io_ftruncate(const io_backend_t *io, int fd, uint64_t size_bytes) {
  assert(io && fd >= 0);
  return io->ftruncate(io, fd, size_bytes);
}

int io_size(const io_backend_t *io, int fd, uint64_t *size_bytes) {
  assert(io && fd >= 0 && size_bytes);
  return io->size(io, fd, size_bytes);
}

int io_unlink(const io_backend_t *io, const char *path) {
  assert(io && path);
  return io->unlink(io, path);
}

int io_rename(const io_backend_t *io, const char *from, const char *to) {
  assert(io && from && to);
  return io->rename(io, from, to);
}

int io_mkdir(const io_backend_t *io, const char *path, unsigned mode) {
  assert(io && path);
  return io->mkdir(io, path, mode);
}

int io_list(const io_backend_t *io, const char *dir, io_list_fn fn, void *ctx) {
  assert(io && dir && fn);
  return io->list(io, dir, fn, ctx);
}

int io_fsync_dir(const io_backend_t *io, const char *dir) {
  int fd = io_open(io, dir, O_RDONLY | O_DIRECTORY, 0);
  if (fd < 0) return fd;
  int rc = io_fsync(io, fd);
  (void)io_close(io, fd);
  return rc;
}

int io_external(const io_backend_t *io, const char *what) {
  assert(io && what);
  return io->external(io, what);
}

/* ---- fault backend ---- */

static const char *const io_op_names[IO_OP_COUNT] = {
    [IO_OP_OPEN] = "open",         [IO_OP_CLOSE] = "close",         [IO_OP_READ] = "read",
    [IO_OP_WRITE] = "write",       [IO_OP_FDATASYNC] = "fdatasync", [IO_OP_FSYNC] = "fsync",
    [IO_OP_TRUNCATE] = "truncate", [IO_OP_SIZE] = "size",           [IO_OP_UNLINK] = "unlink",
    [IO_OP_RENAME] = "rename",     [IO_OP_MKDIR] = "mkdir",         [IO_OP_LIST] = "list",
    [IO_OP_EXTERNAL] = "external",
};

const char *io_op_name(io_op_t op) { return op < IO_OP_COUNT ? io_op_names[op] : "?"; }

static io_fault_t *fault_of(const io_backend_t *io) { return io->state; }

/* Counts the call; returns 0 to pass it on, or the errno to fail it with. */
static int fault_enter(io_fault_t *f, io_op_t op, bool mutating) {
  pthread_mutex_lock(f->mutex);
  uint64_t n = ++f->calls[op];
  int rc = 0;
  if (f->crashed && mutating) {
    rc = -EIO;
  } else if (f->nth && n == f->nth && op == f->op &&
             (f->kind == IO_FAULT_EIO || f->kind == IO_FAULT_ENOSPC)) {
    rc = f->kind == IO_FAULT_EIO ? -EIO : -ENOSPC;
    f->faults++;
  }
  pthread_mutex_unlock(f->mutex);
  return rc;
}

static io_fault_file_t *fault_file(io_fault_t *f, int fd) {
  for (size_t i = 0; i < f->files_len; i++)
    if (f->files[i].fd == fd) return &f->files[i];
  return NULL;
}

/* Power loss: what was not synced is gone.  Mutex held; uses the inner backend. */
static void fault_lose_unsynced(io_fault_t *f) {
  const io_backend_t *in = f->inner;
  for (size_t i = 0; i < f->files_len; i++) {
    io_fault_file_t *file = &f->files[i];
    if (file->created && !file->dir_synced) {
      (void)in->unlink(in, file->path);
      continue;
    }
    int fd = in->open(in, file->path, O_WRONLY, 0);
    if (fd < 0) continue;
    uint64_t size = 0;
    if (in->size(in, fd, &size) == 0 && size > file->synced_bytes) (void)in->ftruncate(in, fd, file->synced_bytes);
    (void)in->close(in, fd);
  }
}

static int fault_open(const io_backend_t *io, const char *path, int flags, unsigned mode) {
  io_fault_t *f = fault_of(io);
  bool mutating = (flags & (O_CREAT | O_TRUNC | O_WRONLY | O_RDWR)) != 0;
  int rc = fault_enter(f, IO_OP_OPEN, mutating);
  if (rc) return rc;
  int fd = f->inner->open(f->inner, path, flags, mode);
  if (fd >= 0 && (flags & (O_WRONLY | O_RDWR)) && !(flags & O_DIRECTORY)) {
    pthread_mutex_lock(f->mutex);
    if (f->files_len < IO_FAULT_FILES_MAX && strlen(path) < IO_FAULT_PATH_BYTES_MAX) {
      io_fault_file_t *file = &f->files[f->files_len++];
      snprintf(file->path, sizeof file->path, "%s", path);
      file->fd = fd;
      file->synced_bytes = 0;
      (void)f->inner->size(f->inner, fd, &file->synced_bytes);
      file->created = (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL);
      file->dir_synced = false;
    }
    pthread_mutex_unlock(f->mutex);
  }
  return fd;
}

static int fault_close(const io_backend_t *io, int fd) {
  io_fault_t *f = fault_of(io);
  (void)fault_enter(f, IO_OP_CLOSE, false); /* closing always works: it frees the fd */
  pthread_mutex_lock(f->mutex);
  io_fault_file_t *file = fault_file(f, fd);
  if (file) file->fd = -1;
  pthread_mutex_unlock(f->mutex);
  return f->inner->close(f->inner, fd);
}

static ssize_t fault_preadv(const io_backend_t *io, int fd, const struct iovec *iov, int iov_count,
                            uint64_t offset) {
  io_fault_t *f = fault_of(io);
  int rc = fault_enter(f, IO_OP_READ, false);
  return rc ? rc : f->inner->preadv(f->inner, fd, iov, iov_count, offset);
}

static int fault_write_batch(const io_backend_t *io, io_write_t *writes, size_t count) {
  io_fault_t *f = fault_of(io);
  int rc = fault_enter(f, IO_OP_WRITE, true);
  if (rc) {
    for (size_t i = 0; i < count; i++) writes[i].result = rc;
    return 0;
  }
  /* Trim the batch per the fault, pass the trimmed copy on, map results back. */
  io_write_t trimmed[IO_BATCH_WRITES_MAX];
  ssize_t forced[IO_BATCH_WRITES_MAX]; /* 1 = pass through, else the result to report */
  pthread_mutex_lock(f->mutex);
  bool short_now = f->kind == IO_FAULT_SHORT_WRITE && f->op == IO_OP_WRITE && f->nth &&
                   f->calls[IO_OP_WRITE] == f->nth;
  if (short_now) f->faults++;
  uint64_t budget = UINT64_MAX;
  if (f->kind == IO_FAULT_CRASH)
    budget = f->crash_after_bytes > f->written_bytes ? f->crash_after_bytes - f->written_bytes : 0;
  bool crash_now = false;
  for (size_t i = 0; i < count; i++) {
    trimmed[i] = writes[i];
    forced[i] = 1;
    size_t len = writes[i].len_bytes;
    if (short_now && i == 0) len = len / 2;
    if (crash_now) {
      trimmed[i].len_bytes = 0;
      forced[i] = -EIO;
      continue;
    }
    if (len > budget) {
      len = (size_t)budget;
      crash_now = true;
      forced[i] = -EIO;
    }
    budget -= len;
    trimmed[i].len_bytes = len;
  }
  bool lose_after = false;
  if (crash_now) {
    f->crashed = true;
    f->faults++;
    lose_after = f->crash_loses_unsynced;
  }
  pthread_mutex_unlock(f->mutex);
  /* Pass on every non-empty write (the crossing one lands as a prefix). */
  io_write_t pass[IO_BATCH_WRITES_MAX];
  size_t pass_index[IO_BATCH_WRITES_MAX];
  size_t pass_count = 0;
  for (size_t i = 0; i < count; i++) {
    if (trimmed[i].len_bytes == 0) continue;
    pass_index[pass_count] = i;
    pass[pass_count++] = trimmed[i];
  }
  for (size_t i = 0; i < count; i++) writes[i].result = 0;
  if (pass_count) {
    rc = f->inner->write_batch(f->inner, pass, pass_count);
    if (rc < 0) return rc;
    for (size_t k = 0; k < pass_count; k++) writes[pass_index[k]].result = pass[k].result;
  }
  uint64_t landed = 0;
  for (size_t i = 0; i < count; i++) {
    if (writes[i].result > 0) landed += (uint64_t)writes[i].result;
    if (forced[i] != 1) writes[i].result = forced[i];
  }
  pthread_mutex_lock(f->mutex);
  f->written_bytes += landed;
  if (lose_after) fault_lose_unsynced(f);
  pthread_mutex_unlock(f->mutex);
  return 0;
}

static int fault_fdatasync(const io_backend_t *io, int fd) {
  io_fault_t *f = fault_of(io);
  int rc = fault_enter(f, IO_OP_FDATASYNC, true);
  if (rc) return rc;
  rc = f->inner->fdatasync(f->inner, fd);
  if (rc == 0) {
    pthread_mutex_lock(f->mutex);
    io_fault_file_t *file = fault_file(f, fd);
    if (file) (void)f->inner->size(f->inner, fd, &file->synced_bytes);
    pthread_mutex_unlock(f->mutex);
  }
  return rc;
}

/* Only directories are fsync'd (io_fsync_dir): it makes every tracked
 * creation durable (the engine keeps all its files in one directory). */
static int fault_fsync(const io_backend_t *io, int fd) {
  io_fault_t *f = fault_of(io);
  int rc = fault_enter(f, IO_OP_FSYNC, true);
  if (rc) return rc;
  rc = f->inner->fsync(f->inner, fd);
  if (rc == 0) {
    pthread_mutex_lock(f->mutex);
    for (size_t i = 0; i < f->files_len; i++) f->files[i].dir_synced = true;
    pthread_mutex_unlock(f->mutex);
  }
  return rc;
}

static int fault_ftruncate(const io_backend_t *io, int fd, uint64_t size_bytes) {
  io_fault_t *f = fault_of(io);
  int rc = fault_enter(f, IO_OP_TRUNCATE, true);
  if (rc) return rc;
  rc = f->inner->ftruncate(f->inner, fd, size_bytes);
  if (rc == 0) {
    /* a shrink is metadata: durable only at the next fdatasync, but it never
     * grows what a crash can leave, so keep synced_bytes as the bound */
    pthread_mutex_lock(f->mutex);
    io_fault_file_t *file = fault_file(f, fd);
    if (file && file->synced_bytes > size_bytes) file->synced_bytes = size_bytes;
    pthread_mutex_unlock(f->mutex);
  }
  return rc;
}

static int fault_size(const io_backend_t *io, int fd, uint64_t *size_bytes) {
  io_fault_t *f = fault_of(io);
  int rc = fault_enter(f, IO_OP_SIZE, false);
  return rc ? rc : f->inner->size(f->inner, fd, size_bytes);
}

static int fault_unlink(const io_backend_t *io, const char *path) {
  io_fault_t *f = fault_of(io);
  int rc = fault_enter(f, IO_OP_UNLINK, true);
  return rc ? rc : f->inner->unlink(f->inner, path);
}

static int fault_rename(const io_backend_t *io, const char *from, const char *to) {
  io_fault_t *f = fault_of(io);
  int rc = fault_enter(f, IO_OP_RENAME, true);
  return rc ? rc : f->inner->rename(f->inner, from, to);
}

static int fault_mkdir(const io_backend_t *io, const char *path, unsigned mode) {
  io_fault_t *f = fault_of(io);
  int rc = fault_enter(f, IO_OP_MKDIR, true);
  return rc ? rc : f->inner->mkdir(f->inner, path, mode);
}

static int fault_list(const io_backend_t *io, const char *dir, io_list_fn fn, void *ctx) {
  io_fault_t *f = fault_of(io);
  int rc = fault_enter(f, IO_OP_LIST, false);
  return rc ? rc : f->inner->list(f->inner, dir, fn, ctx);
}

static int fault_external(const io_backend_t *io, const char *what) {
  io_fault_t *f = fault_of(io);
  int rc = fault_enter(f, IO_OP_EXTERNAL, true);
  return rc ? rc : f->inner->external(f->inner, what);
}

int io_fault_init(io_fault_t *f, const io_backend_t *inner) {
  assert(f);
  memset(f, 0, sizeof *f);
  pthread_mutex_t *mutex = malloc(sizeof *mutex);
  if (!mutex) return -ENOMEM;
  pthread_mutex_init(mutex, NULL);
  f->mutex = mutex;
  f->inner = inner ? inner : io_real();
  f->kind = IO_FAULT_NONE;
  f->backend = (io_backend_t){
      .name = "fault",
      .state = f,
      .open = fault_open,
      .close = fault_close,
      .preadv = fault_preadv,
      .write_batch = fault_write_batch,
      .fdatasync = fault_fdatasync,
      .fsync = fault_fsync,
      .ftruncate = fault_ftruncate,
      .size = fault_size,
      .unlink = fault_unlink,
      .rename = fault_rename,
      .mkdir = fault_mkdir,
      .list = fault_list,
      .external = fault_external,
  };
  return 0;
}

void io_fault_reset(io_fault_t *f) {
  pthread_mutex_lock(f->mutex);
  memset(f->calls, 0, sizeof f->calls);
  f->files_len = 0;
  f->written_bytes = 0;
  f->faults = 0;
  f->crashed = false;
  pthread_mutex_unlock(f->mutex);
}

void io_fault_fini(io_fault_t *f) {
  if (!f || !f->mutex) return;
  pthread_mutex_destroy(f->mutex);
  free(f->mutex);
  f->mutex = NULL;
}
