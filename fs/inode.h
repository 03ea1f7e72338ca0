/*
 * inode: the daemon's inode table (as libfuse's passthrough_ll keeps one):
 * every inode the kernel knows about, with its lookup count, so `forget`
 * is exact and nothing is held per inode once the kernel drops it.
 *
 * Inodes 1-6 are the fixed directories (root, ipfs/, ipns/, files/, pins/,
 * dwn/) and never go away.  Every other inode names content: a node under
 * ipfs/ (a CID, immutable, so one inode per CID wherever it appears) or a
 * pin link under pins/ (one per pinned CID).  A node is created by the first
 * lookup that returns it, counted by each lookup, and freed when `forget`
 * brings its count to zero.  No file descriptor or block is held per inode:
 * a node is its CID and the stat of its root block.
 *
 * Threads: every function takes the table's mutex; nodes returned are
 * copies, so callers never hold a pointer into the table.
 */
#ifndef ANYA_FS_INODE_H
#define ANYA_FS_INODE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cid.h"
#include "exporter.h"

#define FS_INO_ROOT 1
#define FS_INO_IPFS 2
#define FS_INO_IPNS 3
#define FS_INO_FILES 4
#define FS_INO_PINS 5
#define FS_INO_DWN 6
#define FS_INO_FIRST_DYNAMIC 16
#define FS_NODES_MAX (1u << 24) /* inodes the kernel may hold at once */

typedef enum fs_kind {
  FS_DIR_FIXED = 1, /* one of the fixed directories */
  FS_CONTENT,       /* a CID under ipfs/ (file, directory, symlink or raw block) */
  FS_PIN_LINK,      /* pins/<cid>: a symlink to ../ipfs/<cid> */
} fs_kind_t;

typedef struct fs_node {
  uint64_t ino;
  fs_kind_t kind;
  cid_t cid;          /* FS_CONTENT, FS_PIN_LINK */
  exp_stat_t st;      /* FS_CONTENT: the stat of its root block */
} fs_node_t;

typedef struct fs_table fs_table_t;

/* 0 or -ENOMEM. */
int fs_table_new(fs_table_t **out);
void fs_table_free(fs_table_t *t);

/* The node of ino into *out: 0, or -ENOENT (the kernel sent an inode it was
 * never given, or one it forgot). */
int fs_table_get(fs_table_t *t, uint64_t ino, fs_node_t *out);

/* The node of (kind, cid), created if absent (st stored on creation), with
 * its lookup count raised by one: the entry a lookup/symlink reply hands to
 * the kernel.  0, -ENOMEM, -ENFILE (FS_NODES_MAX). */
int fs_table_lookup(fs_table_t *t, fs_kind_t kind, const cid_t *cid, const exp_stat_t *st, fs_node_t *out);

/* `forget`: lowers ino's count by n, freeing the node at zero.  Fixed
 * inodes and unknown inodes are ignored. */
void fs_table_forget(fs_table_t *t, uint64_t ino, uint64_t n);

/* Nodes held (tests). */
uint64_t fs_table_count(fs_table_t *t);

#endif
