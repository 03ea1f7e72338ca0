/*
 * io: the one layer through which the block engine touches the disk.
 *
 * An io_backend_t is a table of operations plus the backend's state.  Two
 * backends exist:
 *
 *   io_real()        the real one: batched writes go to the kernel through
 *                    io_uring (one ring per calling thread, created on first
 *                    use, all SQEs of a batch handed over with one
 *                    io_uring_submit_and_wait); reads are pread/preadv (one
 *                    syscall either way, and safe from any thread); the rest
 *                    are the plain syscalls.
 *   io_fault_*()     a wrapper around another backend that counts every call
 *                    per operation and injects one fault: EIO or ENOSPC at the
 *                    nth call of an operation, a short write, or a "crash"
 *                    after N bytes have been written in total (the write that
 *                    crosses N lands only up to N, and from then on every
 *                    mutating call fails with EIO without reaching the disk,
 *                    as if the process had died there; optionally as if the
 *                    power had failed: unsynced bytes and unsynced directory
 *                    entries are lost too).
 *
 * Conventions: every operation returns 0 (or a count / fd) on success and a
 * negative errno on failure; nothing prints.  Paths are ordinary C strings
 * (absolute or relative to the working directory).
 *
 * Short writes are part of the contract: io_write_batch reports, per write,
 * how many bytes landed; io_write_all (built on it) resubmits remainders and
 * is what the engine calls.
 *
 * LevelDB does its own I/O.  The engine announces each LevelDB write with
 * io_external() first, so the fault backend can fail it (or refuse it after a
 * crash) like any other call site.
 */
#ifndef ANYA_IO_H
#define ANYA_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define IO_RING_DEPTH 64                        /* SQEs per ring (per thread) */
#define IO_WRITE_CHUNK_BYTES (1024u * 1024u)    /* io_write_all splits writes into SQEs of this size */
#define IO_WRITE_ROUNDS_MAX 64                  /* resubmission rounds before io_write_all gives up */
#define IO_IOV_COUNT_MAX 64                     /* iovec entries in one io_preadv */
#define IO_BATCH_WRITES_MAX 256                 /* writes in one io_write_batch call */

/* One write of a batch.  `result` is filled in: bytes written (may be short)
 * or a negative errno. */
typedef struct io_write {
  int fd;              /* open file */
  const void *data;    /* bytes to write (borrowed for the call) */
  size_t len_bytes;    /* how many, <= UINT32_MAX */
  uint64_t offset;     /* file offset */
  ssize_t result;      /* out: bytes written or -errno */
} io_write_t;

/* Operations of a backend, numbered for the fault backend's counters. */
typedef enum io_op {
  IO_OP_OPEN,        /* open (creating or not) */
  IO_OP_CLOSE,
  IO_OP_READ,        /* pread/preadv */
  IO_OP_WRITE,       /* one io_write_batch call */
  IO_OP_FDATASYNC,
  IO_OP_FSYNC,       /* fsync (directories) */
  IO_OP_TRUNCATE,
  IO_OP_SIZE,        /* fstat size */
  IO_OP_UNLINK,
  IO_OP_RENAME,
  IO_OP_MKDIR,
  IO_OP_LIST,        /* directory listing */
  IO_OP_EXTERNAL,    /* announced I/O outside the layer (LevelDB writes) */
  IO_OP_COUNT
} io_op_t;

/* Called per directory entry name ("." and ".." skipped); non-zero stops the listing
 * and becomes its result. */
typedef int (*io_list_fn)(void *ctx, const char *name);

typedef struct io_backend io_backend_t;
struct io_backend {
  const char *name;  /* "io_uring", "fault" */
  void *state;       /* backend-private (the fault backend's io_fault_t) */
  int (*open)(const io_backend_t *io, const char *path, int flags, unsigned mode);
  int (*close)(const io_backend_t *io, int fd);
  ssize_t (*preadv)(const io_backend_t *io, int fd, const struct iovec *iov, int iov_count,
                    uint64_t offset);
  int (*write_batch)(const io_backend_t *io, io_write_t *writes, size_t count);
  int (*fdatasync)(const io_backend_t *io, int fd);
  int (*fsync)(const io_backend_t *io, int fd);
  int (*ftruncate)(const io_backend_t *io, int fd, uint64_t size_bytes);
  int (*size)(const io_backend_t *io, int fd, uint64_t *size_bytes);
  int (*unlink)(const io_backend_t *io, const char *path);
  int (*rename)(const io_backend_t *io, const char *from, const char *to);
  int (*mkdir)(const io_backend_t *io, const char *path, unsigned mode);
  int (*list)(const io_backend_t *io, const char *dir, io_list_fn fn, void *ctx);
  int (*external)(const io_backend_t *io, const char *what);
};

/* The real backend (static, never freed). */
const io_backend_t *io_real(void);

/* Thin wrappers: each asserts its arguments and calls through the table. */
int io_open(const io_backend_t *io, const char *path, int flags, unsigned mode); /* fd or -errno */
int io_close(const io_backend_t *io, int fd);
/* Reads until len bytes or end of file; returns bytes read (short only at EOF) or -errno. */
ssize_t io_pread(const io_backend_t *io, int fd, void *buf, size_t len, uint64_t offset);
/* Same with a vector (at most IO_IOV_COUNT_MAX entries); short only at EOF. */
ssize_t io_preadv(const io_backend_t *io, int fd, const struct iovec *iov, int iov_count,
                  uint64_t offset);
/* Submits count (<= IO_BATCH_WRITES_MAX) writes together; fills each result.
 * Returns 0 when every write was attempted (check results), negative errno
 * when the batch could not be submitted. */
int io_write_batch(const io_backend_t *io, io_write_t *writes, size_t count);
/* Writes len bytes at offset completely: splits into IO_WRITE_CHUNK_BYTES SQEs
 * submitted together, resubmits short remainders (at most IO_WRITE_ROUNDS_MAX
 * rounds).  0 or negative errno (then any prefix of each chunk may have landed). */
int io_write_all(const io_backend_t *io, int fd, const void *data, size_t len, uint64_t offset);
int io_fdatasync(const io_backend_t *io, int fd);
int io_fsync(const io_backend_t *io, int fd);
int io_ftruncate(const io_backend_t *io, int fd, uint64_t size_bytes);
int io_size(const io_backend_t *io, int fd, uint64_t *size_bytes);
int io_unlink(const io_backend_t *io, const char *path);
int io_rename(const io_backend_t *io, const char *from, const char *to);
/* 0, or -EEXIST when it already exists. */
int io_mkdir(const io_backend_t *io, const char *path, unsigned mode);
int io_list(const io_backend_t *io, const char *dir, io_list_fn fn, void *ctx);
/* Opens dir and fsyncs it (makes creations/renames/unlinks in it durable). */
int io_fsync_dir(const io_backend_t *io, const char *dir);
/* Announces an I/O done elsewhere (what: a short site name).  0 or the injected fault. */
int io_external(const io_backend_t *io, const char *what);

/* ---- the fault-injecting backend ---- */

typedef enum io_fault_kind {
  IO_FAULT_NONE,         /* count calls only */
  IO_FAULT_EIO,          /* the chosen call fails with EIO (writes: nothing lands) */
  IO_FAULT_ENOSPC,       /* the chosen call fails with ENOSPC (writes: nothing lands) */
  IO_FAULT_SHORT_WRITE,  /* the chosen write batch: its first write lands only half (>= 1 byte short) */
  IO_FAULT_CRASH,        /* after crash_after_bytes written in total, the process "dies" */
} io_fault_kind_t;

#define IO_FAULT_FILES_MAX 64    /* files the power-loss model tracks */
#define IO_FAULT_PATH_BYTES_MAX 512

/* A file opened for writing through the fault backend (power-loss model). */
typedef struct io_fault_file {
  char path[IO_FAULT_PATH_BYTES_MAX]; /* as opened */
  int fd;                        /* -1 once closed */
  uint64_t synced_bytes;         /* size at open or at the last successful fdatasync */
  bool created;                  /* opened with O_CREAT|O_EXCL */
  bool dir_synced;               /* a directory fsync followed its creation */
} io_fault_file_t;

typedef struct io_fault {
  io_backend_t backend;          /* pass &f->backend as the engine's io */
  const io_backend_t *inner;     /* where calls go when not faulted */
  io_fault_kind_t kind;          /* the fault to inject */
  io_op_t op;                    /* EIO/ENOSPC/SHORT: which operation ... */
  uint64_t nth;                  /* ... and which call of it (1-based; 0 = never) */
  uint64_t crash_after_bytes;    /* CRASH: bytes allowed to land before the crash */
  bool crash_loses_unsynced;     /* CRASH as power loss: at the crash every written file
                                    is cut back to its last fdatasync'd size, and files
                                    created without a later directory fsync are removed */
  io_fault_file_t files[IO_FAULT_FILES_MAX]; /* tracked for the power-loss model */
  size_t files_len;
  /* counters (under mutex) */
  uint64_t calls[IO_OP_COUNT];   /* calls seen per operation */
  uint64_t written_bytes;        /* bytes that reached the inner backend */
  uint64_t faults;               /* faults injected so far */
  bool crashed;                  /* CRASH reached: mutating calls now fail */
  void *mutex;                   /* pthread_mutex_t, owned */
} io_fault_t;

/* Sets up f as a pass-through counter over inner (NULL = io_real()).  Then set
 * kind/op/nth/crash_after_bytes before handing &f->backend to the engine.
 * 0 or -ENOMEM.  io_fault_fini releases. */
int io_fault_init(io_fault_t *f, const io_backend_t *inner);
void io_fault_fini(io_fault_t *f);
/* Counts and clears the fault state (counters to zero, crashed = false). */
void io_fault_reset(io_fault_t *f);
/* A name for an operation ("write", "fdatasync", ...), for test messages. */
const char *io_op_name(io_op_t op);

#endif
