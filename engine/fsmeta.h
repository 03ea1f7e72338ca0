/*
 * fsmeta: the metadata of the writable tree (the mount's files/): inodes,
 * directory entries, symlink targets and extended attributes, in one LevelDB
 * at <repo>/files.  File content is a UnixFS DAG in the block engine; an inode
 * holds its root CID.  The FUSE layer (fs/files.h) owns open files, dirty
 * content and the kernel's lookup counts; this module owns what is on disk.
 *
 * Records (docs/format.md, "The writable tree (files/)"):
 *   "i" ino(be64)            -> inode (versioned binary record)
 *   "d" parent(be64) name    -> child ino(be64), type (mode >> 12)
 *   "l" ino(be64)            -> symlink target
 *   "x" ino(be64) name       -> xattr value
 *   "o" ino(be64)            -> "" : an orphan (nlink 0, kept while open)
 *   "n"                      -> the next inode number (be64)
 * Every operation is one LevelDB batch, so a crash never leaves half a
 * rename.  Writes are unsynced unless `sync` is set (fsync, close of written
 * data); a synced write also makes every earlier write durable.
 *
 * Inode numbers: FSMETA_INO_ROOT is the tree's root (a directory created by
 * fsmeta_open, mode 0755, owned by the opener's uid/gid); numbers are never
 * reused.
 *
 * Unlink and orphans: when an unlink, rmdir or replacing rename drops an
 * inode's nlink to 0, the inode is kept and marked orphan; the caller reaps it
 * (fsmeta_reap) once nothing uses it (the kernel forgot it and no file is
 * open).  fsmeta_open reaps every orphan left by a crash.
 *
 * Errors: 0 or a negative errno with the POSIX meaning the FUSE reply needs
 * (-ENOENT, -EEXIST, -ENOTDIR, -EISDIR, -ENOTEMPTY, -EINVAL, -EMLINK,
 * -ENAMETOOLONG, -ENODATA, -ERANGE, -E2BIG, -EIO with err_set for store
 * failures).  Permission checks are the caller's (the kernel's
 * default_permissions, plus the sticky-bit rule the caller applies).
 *
 * Threads: every function may be called from any thread; mutations are
 * serialised by one mutex inside, reads go to LevelDB directly.
 */
#ifndef ANYA_FSMETA_H
#define ANYA_FSMETA_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "block.h"
#include "buf.h"
#include "cid.h"
#include "gc.h"
#include "importer.h"

#define FSMETA_INO_ROOT 1u
#define FSMETA_NAME_BYTES_MAX 255u
#define FSMETA_TARGET_BYTES_MAX 4095u     /* symlink target (PATH_MAX - 1) */
#define FSMETA_XATTR_NAME_BYTES_MAX 255u
#define FSMETA_XATTR_VALUE_BYTES_MAX 65536u
#define FSMETA_XATTR_LIST_BYTES_MAX 65536u /* Σ(name + NUL) per inode (-E2BIG / -ENOSPC past it) */
#define FSMETA_LINK_MAX 65000u            /* nlink (-EMLINK) */

/* flags */
#define FSMETA_STAGED 1u /* the content is in the caller's staging file (fsync'ed); cid is stale */

typedef struct fsmeta_inode {
  uint64_t ino;
  uint32_t mode; /* S_IFMT type and permission bits (incl. setuid/setgid/sticky) */
  uint32_t uid, gid;
  uint32_t nlink;
  uint32_t flags;
  uint64_t rdev;
  uint64_t size;    /* regular files: bytes; symlinks: target length; directories: entries */
  uint64_t parent;  /* directories: the parent's ino (the root: itself); others 0 */
  struct timespec atime, mtime, ctime;
  cid_t cid;        /* regular files: the content's root CID (imp defaults; the empty file's
                       CID when size is 0); zeroed for anything else (version 0 with
                       codec 0, which no valid CID has) */
  uint64_t tsize;   /* regular files: the cumulative DAG size of cid (imp_add_fd's / imp_file_finish's
                       tsize; what a directory link to the file carries), set by whoever sets cid;
                       0 for anything else */
} fsmeta_inode_t;

/* Whether in carries a content CID (regular files do, from creation on). */
static inline bool fsmeta_inode_has_cid(const fsmeta_inode_t *in) {
  return !(in->cid.version == 0 && in->cid.codec == 0);
}

typedef struct fsmeta fsmeta_t;

/* Opens (creating) the store at dir.  uid/gid own a newly created root.
 * Reaps orphans (their blocks become garbage), counts the inodes (one scan of
 * the "i" keys) and computes the empty file's CID with the importer.  LevelDB
 * locks the directory: one fsmeta_t per store per process, and a second
 * process gets -EIO.  0, or -EIO/-ENOMEM (err_set). */
int fsmeta_open(const char *dir, uid_t uid, gid_t gid, fsmeta_t **out);
void fsmeta_close(fsmeta_t *m);

/* An inode by number: 0 or -ENOENT. */
int fsmeta_get(fsmeta_t *m, uint64_t ino, fsmeta_inode_t *out);

/* The entry name in directory parent ("." is parent itself, ".." its parent
 * pointer): 0, -ENOENT, -ENOTDIR (parent is not a directory), -ENAMETOOLONG.
 * The entry and the inode are read from one snapshot. */
int fsmeta_lookup(fsmeta_t *m, uint64_t parent, const char *name, fsmeta_inode_t *out);

/* Creates name in parent: a regular file, directory, symlink (target), FIFO,
 * socket or device (rdev) by mode's type, with the given owner and mode (the
 * caller applied umask and setgid-directory inheritance).  Sets the new
 * inode's times to now, its nlink (2 for a directory, whose parent's nlink
 * rises by one), the parent's mtime/ctime, and for a regular file the empty
 * file's CID and tsize.  -EEXIST, -ENOENT/-ENOTDIR (parent; -ENOENT also for a
 * removed directory), -ENAMETOOLONG (name, or a target over
 * FSMETA_TARGET_BYTES_MAX), -EMLINK, -EINVAL (a name that is empty, ".", ".."
 * or holds '/'; an unknown type; a symlink without target), -ENOENT for an
 * empty target (as symlink(2)). */
int fsmeta_create(fsmeta_t *m, uint64_t parent, const char *name, uint32_t mode, uint32_t uid, uint32_t gid,
                  uint64_t rdev, const char *target, fsmeta_inode_t *out);

/* A hard link newparent/newname to ino (not a directory: -EPERM); nlink+1,
 * ctime now.  -EEXIST, -EMLINK, -ENOENT (ino unknown or an orphan: nlink 0),
 * -ENOTDIR (newparent).  *out (may be NULL) is ino's updated inode. */
int fsmeta_link(fsmeta_t *m, uint64_t ino, uint64_t newparent, const char *newname, fsmeta_inode_t *out);

/* Removes parent/name: dir false is unlink (-EISDIR on a directory), dir true
 * is rmdir (-ENOTDIR on a non-directory, -ENOTEMPTY).  Drops nlink (a removed
 * directory: to 0, and its parent's by one); at 0 the inode becomes an
 * orphan.  *out (may be NULL) is the removed entry's inode after the change. */
int fsmeta_unlink(fsmeta_t *m, uint64_t parent, const char *name, bool dir, fsmeta_inode_t *out);

/* rename(2)/renameat2: flags 0, RENAME_NOREPLACE (-EEXIST) or RENAME_EXCHANGE
 * (both must exist).  A replaced target is unlinked as fsmeta_unlink does (a
 * directory only by an empty directory, -ENOTEMPTY; types must agree:
 * -EISDIR/-ENOTDIR); moving a directory into itself or below is -EINVAL;
 * renaming onto the same inode does nothing.  Directory nlinks and parent
 * pointers follow.  *replaced (may be NULL) gets the replaced inode (ino 0
 * when none). */
int fsmeta_rename(fsmeta_t *m, uint64_t oldparent, const char *oldname, uint64_t newparent, const char *newname,
                  unsigned flags, fsmeta_inode_t *replaced);

/* Read-modify-write of one inode under the store's mutex: fn changes *inode
 * (it must not change ino, type, nlink or a directory's parent, nor give a
 * non-file a CID: -EINVAL; timestamps' tv_nsec must be < 1e9); returning
 * non-zero aborts with that error.  fn runs under the mutex: it must not call
 * back into this store.  sync makes the write durable.  *out (may be NULL) is
 * the result.  -ENOENT for an unknown ino. */
typedef int (*fsmeta_update_fn)(void *ctx, fsmeta_inode_t *inode);
int fsmeta_update(fsmeta_t *m, uint64_t ino, fsmeta_update_fn fn, void *ctx, bool sync, fsmeta_inode_t *out);

/* Makes every earlier write durable (one synced empty batch). */
int fsmeta_sync(fsmeta_t *m);

/* The symlink target into out (buf_reset first).  -EINVAL on a non-symlink. */
int fsmeta_readlink(fsmeta_t *m, uint64_t ino, buf_t *out);

/* Extended attributes.  set: flags 0, XATTR_CREATE (-EEXIST) or XATTR_REPLACE
 * (-ENODATA); sets ctime.  get: the value into out, -ENODATA.  list: the names,
 * each with its NUL, into out, in name byte order.  remove: -ENODATA; sets
 * ctime.  Names are in the user., trusted., security. or system. namespace
 * (-EOPNOTSUPP otherwise; -EINVAL for the bare prefix).  system.posix_acl_*
 * are stored like any other (the kernel interprets them when the mount has
 * POSIX ACLs on).
 * Limits above (-ERANGE for an empty or long name, -E2BIG for a large value,
 * -ENOSPC past the list limit).  -ENOENT for an unknown ino.  Which inode
 * types may hold user.* names is the kernel's rule (VFS), not checked here. */
int fsmeta_xattr_set(fsmeta_t *m, uint64_t ino, const char *name, const void *value, size_t len, int flags);
int fsmeta_xattr_get(fsmeta_t *m, uint64_t ino, const char *name, buf_t *out);
int fsmeta_xattr_list(fsmeta_t *m, uint64_t ino, buf_t *out);
int fsmeta_xattr_remove(fsmeta_t *m, uint64_t ino, const char *name);

/* Deletes an orphan (its inode, target, xattrs, mark); an inode that is not
 * an orphan is left alone (0). */
int fsmeta_reap(fsmeta_t *m, uint64_t ino);

/* A directory listing in bounded memory: an iterator over one LevelDB
 * snapshot, so a listing is consistent while entries change.  Entries come in
 * name byte order; "." and ".." are not included.  fsmeta_dir_seek(it, k)
 * positions before the k-th entry (0-based; re-walks from the start when k is
 * behind the cursor; past the end, next gives 0).  next: 1 with an entry (name
 * valid until the next call), 0 at the end, or a negative errno.  ino and
 * type_mode (S_IFMT bits) may be NULL.  A handle is used by one thread at a
 * time; it pins its snapshot (LevelDB keeps what it sees) until closed. */
typedef struct fsmeta_dir fsmeta_dir_t;
int fsmeta_dir_open(fsmeta_t *m, uint64_t ino, fsmeta_dir_t **out); /* -ENOTDIR, -ENOENT */
int fsmeta_dir_seek(fsmeta_dir_t *it, uint64_t k);
int fsmeta_dir_next(fsmeta_dir_t *it, const char **name, uint64_t *ino, uint32_t *type_mode);
void fsmeta_dir_close(fsmeta_dir_t *it);

/* Each inode flagged FSMETA_STAGED (start-up recovery of fsync'ed staging
 * files).  fn's non-zero return stops the walk and is returned. */
int fsmeta_each_staged(fsmeta_t *m, int (*fn)(void *ctx, const fsmeta_inode_t *inode), void *ctx);

/* The CID of ino as `anya add -r -H` gives it (imp_options_default): a
 * regular file's stored cid (the caller flushed dirty content first), a
 * symlink's node, a directory built from its entries' CIDs recursively
 * (imp_dir_*; FIFOs, sockets and devices are left out, as they cannot be
 * added).  Nodes are put to sink, the empty file's node included (files hold
 * its CID from creation, before any block of theirs was stored).  The walk
 * reads one snapshot; nesting deeper than IMP_DEPTH_MAX is -ELOOP; a FIFO,
 * socket or device as ino itself is -EINVAL.  tsize may be NULL. */
int fsmeta_cid(fsmeta_t *m, uint64_t ino, const block_sink_t *sink, cid_t *cid, uint64_t *tsize);

/* gc root provider (gc.h): every regular file's content CID, including
 * orphans (still readable through open files).  ctx is the fsmeta_t. */
int fsmeta_gc_roots(void *ctx, gc_marker_t *m);

/* Entry and inode counts (statfs, tests): the inodes stored, orphans included
 * (kept in memory: O(1)). */
int fsmeta_count(fsmeta_t *m, uint64_t *inodes);

/* ---- record codec ------------------------------------------------------------
 *
 * The inode record ("i" ino -> value), little-endian, docs/format.md:
 *   u8 version (1), u8 cid_len, u16 0, u32 mode, u32 uid, u32 gid, u32 nlink,
 *   u32 flags, u64 rdev, u64 size, u64 parent, 3 x (i64 sec, u32 nsec) for
 *   atime/mtime/ctime, u64 tsize, then cid_len bytes of binary CID.
 * The ino is the key's, not the value's.  decode accepts only canonical
 * records (encode of the result gives the same bytes): a known version, zero
 * padding, nsec < 1e9, a known file type, a CID (exactly cid_len bytes, a
 * regular file's only) that cid_from_bytes accepts whole.  0 or -EINVAL. */
#define FSMETA_RECORD_VERSION 1u
#define FSMETA_RECORD_FIXED_BYTES 92u
#define FSMETA_RECORD_BYTES_MAX (FSMETA_RECORD_FIXED_BYTES + CID_BYTES_MAX)
size_t fsmeta_inode_encode(const fsmeta_inode_t *inode, uint8_t out[FSMETA_RECORD_BYTES_MAX]);
int fsmeta_inode_decode(uint64_t ino, const uint8_t *data, size_t len, fsmeta_inode_t *out);

#endif
