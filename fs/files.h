/*
 * files: the mount's writable tree, files/: an ordinary POSIX tree whose
 * metadata lives in LevelDB (engine/fsmeta.h) and whose file content is a
 * UnixFS DAG in the block engine, so every file and directory has the CID
 * `anya add` (-r -H) gives for the same bytes (docs/filesystem.md).
 *
 * Content of a regular file, per inode, one of three states:
 *   clean    the DAG named by the inode's CID; reads go through the exporter.
 *   stream   a file being written from offset 0 in order (cp, rsync, tar,
 *            dd): the bytes go straight through the chunker (imp_file_*)
 *            into the block engine; nothing is written twice.
 *   staged   any other write (random offsets, appends to existing content,
 *            truncate to a non-zero size, fallocate): the content lives in a
 *            staging file <repo>/files-staging/<ino> (sparse; copied from the
 *            DAG on the first such write) until it is re-chunked.
 * A stream is finished, and a staged file re-chunked, when its last open
 * file is closed (flush: close(2) returns after the content and the inode
 * are durable), when its CID is asked for, and at unmount.  fsync of a stream
 * finishes it; fsync of a staged file makes the staging file durable and
 * records that in the inode (FSMETA_STAGED), so a database's frequent
 * fsyncs do not re-chunk it: a restart after a crash re-chunks such files
 * before serving.  Staging files not recorded are discarded at start (their
 * writes were never made durable).  The inode's CID always names blocks the
 * block engine has synced.
 *
 * Inode numbers: files/ itself is FS_INO_FILES; inode n of fsmeta is
 * FILES_INO_BASE + n for the kernel.  A node table holds what the kernel
 * holds (lookup counts, `forget` exact) plus open and dirty state; nothing is
 * held per inode once the kernel forgets it and it is clean.  An unlinked
 * inode (nlink 0) stays readable through its open files and is reaped when
 * the kernel forgets it.
 *
 * Permissions: the kernel checks them (default_permissions), including the
 * sticky bit; this module applies what the kernel leaves to filesystems:
 * setgid directories (new entries take the directory's group, new
 * directories the setgid bit), and ownership of new entries from the caller.
 *
 * Extended attributes: any namespace is stored (user.*, trusted.*,
 * security.*, system.posix_acl_* which the kernel enforces with
 * FUSE_CAP_POSIX_ACL); user.anya.cid is computed on demand (dirty content is
 * flushed first) and cannot be set.
 *
 * Threads: the FUSE loop's worker threads call the ops concurrently; each
 * node's content has its own mutex, the node table one, fsmeta its own.
 */
#ifndef ANYA_FS_FILES_H
#define ANYA_FS_FILES_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif
#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "gc.h"
#include "repo.h"

#define FILES_INO_BASE (1ull << 48) /* kernel inode = base + fsmeta inode */
#define FILES_TIMEOUT_S 1.0         /* entry and attribute cache */

/* Opens <repo>/files (creating it, files/ owned by uid/gid), recovers staged
 * files and clears stale staging files.  files_ino is the kernel inode of
 * files/ (FS_INO_FILES).  0 or a negative errno (err_set). */
int files_open(repo_t *repo, uid_t uid, gid_t gid, uint64_t files_ino);

/* Finishes every dirty file (durably) and closes the store.  0 or the first
 * error. */
int files_close(void);

/* The GC roots of files/ (fsmeta_gc_roots over the open store), a gc.h root
 * provider for the daemon's `repo gc` (net/rpc.h files_roots); -ENODEV
 * when files/ is not open (nothing must then be collected). */
int files_gc_roots(void *ctx, gc_marker_t *m);

/* Whether a kernel inode belongs to files/. */
bool files_owns(uint64_t ino);

/* The attributes of files/ itself (for the root directory's listing). */
int files_root_attr(struct stat *st);

/* The FUSE lowlevel operations for inodes that files_owns (parent inodes for
 * lookup/create/mkdir/...); the daemon's ops dispatch to these. */
void files_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void files_forget(fuse_ino_t ino, uint64_t nlookup);
void files_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void files_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi);
void files_readlink(fuse_req_t req, fuse_ino_t ino);
void files_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void files_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void files_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void files_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void files_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void files_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
                  unsigned int flags);
void files_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void files_open_file(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void files_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi);
void files_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void files_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi);
void files_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void files_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void files_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void files_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void files_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi, bool plus);
void files_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void files_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void files_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags);
void files_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void files_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void files_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
void files_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length, struct fuse_file_info *fi);
void files_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi);

#endif
