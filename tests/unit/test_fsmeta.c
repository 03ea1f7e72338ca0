/*
 * fsmeta: the writable tree's metadata.  Every function and error code of
 * fsmeta.h: create of each type, lookup, nlink bookkeeping, links, unlink and
 * orphans (kept until reaped, reaped on reopen), rmdir, every rename case,
 * update, xattrs and their limits, a 100000-entry listing with seeks that
 * stays consistent while the directory changes, the staged walk, the gc
 * roots against a real block engine, persistence, concurrent creates, and the
 * tree's CID against the importer's imp_add_paths over the same tree on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "bs.h"
#include "fsmeta.h"
#include "gc.h"
#include "importer.h"
#include "memstore.h"
#include "testdir.h"

#define EMPTY_FILE_CID "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH" /* Kubo: `ipfs add` of zero bytes */

typedef struct fixture {
  char dir[512];  /* the test's temp dir */
  char meta[600]; /* <dir>/files */
  fsmeta_t *m;
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  if (!f || testdir_make(f->dir, sizeof f->dir, "anya-fsmeta")) return -1;
  snprintf(f->meta, sizeof f->meta, "%s/files", f->dir);
  if (fsmeta_open(f->meta, 1000, 1000, &f->m)) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  fsmeta_close(f->m);
  testdir_remove(f->dir);
  free(f);
  return 0;
}

static void reopen(fixture_t *f) {
  fsmeta_close(f->m);
  f->m = NULL;
  assert_int_equal(fsmeta_open(f->meta, 1000, 1000, &f->m), 0);
}

static fsmeta_inode_t get(fsmeta_t *m, uint64_t ino) {
  fsmeta_inode_t in;
  assert_int_equal(fsmeta_get(m, ino, &in), 0);
  return in;
}

static fsmeta_inode_t mk(fsmeta_t *m, uint64_t parent, const char *name, uint32_t mode) {
  fsmeta_inode_t in;
  assert_int_equal(fsmeta_create(m, parent, name, mode, 1000, 1000, 0, S_ISLNK(mode) ? "target" : NULL, &in), 0);
  return in;
}

static uint64_t lookup_ino(fsmeta_t *m, uint64_t parent, const char *name) {
  fsmeta_inode_t in;
  int rc = fsmeta_lookup(m, parent, name, &in);
  return rc == 0 ? in.ino : 0;
}

static bool is_orphan_gettable(fsmeta_t *m, uint64_t ino) {
  fsmeta_inode_t in;
  return fsmeta_get(m, ino, &in) == 0 && in.nlink == 0;
}

/* ---- create / lookup ---- */

static void test_create_each_type(void **state) {
  fixture_t *f = *state;
  fsmeta_t *m = f->m;
  fsmeta_inode_t root = get(m, FSMETA_INO_ROOT);
  assert_true(S_ISDIR(root.mode));
  assert_int_equal(root.mode & 07777, 0755);
  assert_int_equal(root.uid, 1000);
  assert_int_equal(root.nlink, 2);
  assert_int_equal(root.parent, FSMETA_INO_ROOT);
  assert_int_equal(root.size, 0);

  cid_t empty;
  assert_int_equal(cid_parse(&empty, EMPTY_FILE_CID), 0);
  fsmeta_inode_t file = mk(m, FSMETA_INO_ROOT, "file", S_IFREG | 0644);
  assert_true(file.ino > FSMETA_INO_ROOT);
  assert_true(cid_equal(&file.cid, &empty));
  assert_int_equal(file.tsize, 6); /* the empty file's node: 0a 04 08 02 18 00 */
  assert_int_equal(file.nlink, 1);
  assert_int_equal(file.size, 0);
  assert_int_equal(file.parent, 0);
  assert_true(file.mtime.tv_sec > 1700000000);

  fsmeta_inode_t dir = mk(m, FSMETA_INO_ROOT, "dir", S_IFDIR | 0700);
  assert_int_equal(dir.nlink, 2);
  assert_int_equal(dir.parent, FSMETA_INO_ROOT);
  assert_int_equal(get(m, FSMETA_INO_ROOT).nlink, 3);
  mk(m, dir.ino, "sub", S_IFDIR | 0700);
  assert_int_equal(get(m, dir.ino).nlink, 3);
  assert_int_equal(get(m, FSMETA_INO_ROOT).nlink, 3);

  fsmeta_inode_t link;
  assert_int_equal(fsmeta_create(m, FSMETA_INO_ROOT, "link", S_IFLNK | 0777, 1, 2, 0, "../some/where", &link), 0);
  assert_int_equal(link.size, 13);
  assert_int_equal(link.uid, 1);
  assert_int_equal(link.gid, 2);
  buf_t target = {0};
  assert_int_equal(fsmeta_readlink(m, link.ino, &target), 0);
  assert_int_equal(target.len, 13);
  assert_memory_equal(target.data, "../some/where", 13);
  assert_int_equal(fsmeta_readlink(m, file.ino, &target), -EINVAL);
  assert_int_equal(fsmeta_readlink(m, 999999, &target), -ENOENT);
  buf_free(&target);

  fsmeta_inode_t fifo = mk(m, FSMETA_INO_ROOT, "fifo", S_IFIFO | 0600);
  fsmeta_inode_t sock = mk(m, FSMETA_INO_ROOT, "sock", S_IFSOCK | 0600);
  fsmeta_inode_t chr;
  assert_int_equal(fsmeta_create(m, FSMETA_INO_ROOT, "null", S_IFCHR | 0666, 0, 0, makedev(1, 3), NULL, &chr), 0);
  assert_int_equal(chr.rdev, makedev(1, 3));
  fsmeta_inode_t blk;
  assert_int_equal(fsmeta_create(m, FSMETA_INO_ROOT, "blk", S_IFBLK | 0660, 0, 0, makedev(8, 1), NULL, &blk), 0);
  assert_true(S_ISFIFO(fifo.mode) && S_ISSOCK(sock.mode) && S_ISBLK(blk.mode));
  assert_false(fsmeta_inode_has_cid(&fifo));
  assert_false(fsmeta_inode_has_cid(&dir));
  assert_true(fsmeta_inode_has_cid(&file));

  /* lookups */
  fsmeta_inode_t in;
  assert_int_equal(fsmeta_lookup(m, FSMETA_INO_ROOT, "file", &in), 0);
  assert_int_equal(in.ino, file.ino);
  assert_true(cid_equal(&in.cid, &empty));
  assert_int_equal(fsmeta_lookup(m, FSMETA_INO_ROOT, "null", &in), 0);
  assert_int_equal(in.rdev, makedev(1, 3));
  assert_int_equal(fsmeta_lookup(m, FSMETA_INO_ROOT, "nothing", &in), -ENOENT);
  assert_int_equal(fsmeta_lookup(m, file.ino, "x", &in), -ENOTDIR);
  assert_int_equal(fsmeta_lookup(m, 999999, "x", &in), -ENOENT);
  char longname[FSMETA_NAME_BYTES_MAX + 2];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  assert_int_equal(fsmeta_lookup(m, FSMETA_INO_ROOT, longname, &in), -ENAMETOOLONG);
  assert_int_equal(fsmeta_lookup(m, dir.ino, "..", &in), 0);
  assert_int_equal(in.ino, FSMETA_INO_ROOT);
  assert_int_equal(fsmeta_lookup(m, dir.ino, ".", &in), 0);
  assert_int_equal(in.ino, dir.ino);

  /* errors */
  assert_int_equal(fsmeta_create(m, FSMETA_INO_ROOT, "file", S_IFREG | 0644, 0, 0, 0, NULL, &in), -EEXIST);
  assert_int_equal(fsmeta_create(m, FSMETA_INO_ROOT, "dir", S_IFDIR | 0755, 0, 0, 0, NULL, &in), -EEXIST);
  assert_int_equal(fsmeta_create(m, FSMETA_INO_ROOT, longname, S_IFREG | 0644, 0, 0, 0, NULL, &in), -ENAMETOOLONG);
  longname[FSMETA_NAME_BYTES_MAX] = '\0'; /* exactly the limit is fine */
  assert_int_equal(fsmeta_create(m, FSMETA_INO_ROOT, longname, S_IFREG | 0644, 0, 0, 0, NULL, &in), 0);
  assert_int_equal(fsmeta_create(m, FSMETA_INO_ROOT, "", S_IFREG | 0644, 0, 0, 0, NULL, &in), -EINVAL);
  assert_int_equal(fsmeta_create(m, FSMETA_INO_ROOT, "a/b", S_IFREG | 0644, 0, 0, 0, NULL, &in), -EINVAL);
  assert_int_equal(fsmeta_create(m, FSMETA_INO_ROOT, "..", S_IFDIR | 0755, 0, 0, 0, NULL, &in), -EINVAL);
  assert_int_equal(fsmeta_create(m, 999999, "x", S_IFREG | 0644, 0, 0, 0, NULL, &in), -ENOENT);
  assert_int_equal(fsmeta_create(m, file.ino, "x", S_IFREG | 0644, 0, 0, 0, NULL, &in), -ENOTDIR);
  assert_int_equal(fsmeta_create(m, FSMETA_INO_ROOT, "bad", 0170000 | 0644, 0, 0, 0, NULL, &in), -EINVAL);
  char longtarget[FSMETA_TARGET_BYTES_MAX + 2];
  memset(longtarget, 't', sizeof longtarget - 1);
  longtarget[sizeof longtarget - 1] = '\0';
  assert_int_equal(fsmeta_create(m, FSMETA_INO_ROOT, "l2", S_IFLNK | 0777, 0, 0, 0, longtarget, &in), -ENAMETOOLONG);
  assert_int_equal(fsmeta_create(m, FSMETA_INO_ROOT, "l2", S_IFLNK | 0777, 0, 0, 0, "", &in), -ENOENT);
  assert_int_equal(fsmeta_create(m, FSMETA_INO_ROOT, "l2", S_IFLNK | 0777, 0, 0, 0, NULL, &in), -EINVAL);

  /* sizes count entries; numbers are never reused */
  assert_int_equal(get(m, FSMETA_INO_ROOT).size, 8);
  assert_int_equal(get(m, dir.ino).size, 1);
  uint64_t count;
  assert_int_equal(fsmeta_count(m, &count), 0);
  assert_int_equal(count, 10);
}

/* ---- links, unlink, orphans ---- */

static void test_link_unlink_orphans(void **state) {
  fixture_t *f = *state;
  fsmeta_t *m = f->m;
  fsmeta_inode_t a = mk(m, FSMETA_INO_ROOT, "a", S_IFDIR | 0755);
  fsmeta_inode_t file = mk(m, FSMETA_INO_ROOT, "file", S_IFREG | 0644);
  fsmeta_inode_t in;
  assert_int_equal(fsmeta_link(m, file.ino, a.ino, "again", &in), 0);
  assert_int_equal(in.nlink, 2);
  assert_int_equal(get(m, a.ino).size, 1);
  assert_int_equal(lookup_ino(m, a.ino, "again"), file.ino);
  assert_int_equal(fsmeta_link(m, file.ino, a.ino, "again", &in), -EEXIST);
  assert_int_equal(fsmeta_link(m, a.ino, FSMETA_INO_ROOT, "dirlink", &in), -EPERM);
  assert_int_equal(fsmeta_link(m, file.ino, file.ino, "x", &in), -ENOTDIR);
  assert_int_equal(fsmeta_link(m, 999999, a.ino, "x", &in), -ENOENT);

  /* unlink / rmdir type errors */
  assert_int_equal(fsmeta_unlink(m, FSMETA_INO_ROOT, "a", false, &in), -EISDIR);
  assert_int_equal(fsmeta_unlink(m, FSMETA_INO_ROOT, "file", true, &in), -ENOTDIR);
  assert_int_equal(fsmeta_unlink(m, FSMETA_INO_ROOT, "a", true, &in), -ENOTEMPTY);
  assert_int_equal(fsmeta_unlink(m, FSMETA_INO_ROOT, "none", false, &in), -ENOENT);
  assert_int_equal(fsmeta_unlink(m, file.ino, "x", false, &in), -ENOTDIR);

  /* dropping the links: the last makes an orphan, still readable */
  assert_int_equal(fsmeta_unlink(m, FSMETA_INO_ROOT, "file", false, &in), 0);
  assert_int_equal(in.nlink, 1);
  assert_int_equal(fsmeta_reap(m, file.ino), 0); /* not an orphan: left alone */
  assert_int_equal(get(m, file.ino).nlink, 1);
  assert_int_equal(fsmeta_xattr_set(m, file.ino, "user.k", "v", 1, 0), 0);
  assert_int_equal(fsmeta_unlink(m, a.ino, "again", false, NULL), 0);
  assert_true(is_orphan_gettable(m, file.ino));
  assert_int_equal(lookup_ino(m, a.ino, "again"), 0);
  assert_int_equal(get(m, a.ino).size, 0);
  assert_int_equal(fsmeta_link(m, file.ino, a.ino, "back", &in), -ENOENT); /* no linking an orphan */
  uint64_t count;
  assert_int_equal(fsmeta_count(m, &count), 0);
  assert_int_equal(count, 3);
  assert_int_equal(fsmeta_reap(m, file.ino), 0);
  assert_int_equal(fsmeta_get(m, file.ino, &in), -ENOENT);
  buf_t b = {0};
  assert_int_equal(fsmeta_xattr_get(m, file.ino, "user.k", &b), -ENOENT);
  assert_int_equal(fsmeta_count(m, &count), 0);
  assert_int_equal(count, 2);

  /* rmdir: the parent's nlink drops; the directory is an orphan until reaped */
  assert_int_equal(get(m, FSMETA_INO_ROOT).nlink, 3);
  assert_int_equal(fsmeta_unlink(m, FSMETA_INO_ROOT, "a", true, &in), 0);
  assert_int_equal(in.nlink, 0);
  assert_int_equal(get(m, FSMETA_INO_ROOT).nlink, 2);
  assert_int_equal(get(m, FSMETA_INO_ROOT).size, 0);
  assert_true(is_orphan_gettable(m, a.ino));
  assert_int_equal(fsmeta_create(m, a.ino, "x", S_IFREG | 0644, 0, 0, 0, NULL, &in), -ENOENT);

  /* orphans left at close are reaped on open, target and xattrs with them */
  fsmeta_inode_t l = mk(m, FSMETA_INO_ROOT, "l", S_IFLNK | 0777);
  assert_int_equal(fsmeta_xattr_set(m, l.ino, "user.a", "1", 1, 0), 0);
  assert_int_equal(fsmeta_unlink(m, FSMETA_INO_ROOT, "l", false, NULL), 0);
  fsmeta_inode_t keep = mk(m, FSMETA_INO_ROOT, "keep", S_IFREG | 0644);
  reopen(f);
  m = f->m;
  assert_int_equal(fsmeta_get(m, a.ino, &in), -ENOENT);
  assert_int_equal(fsmeta_get(m, l.ino, &in), -ENOENT);
  assert_int_equal(fsmeta_xattr_list(m, l.ino, &b), -ENOENT);
  assert_int_equal(get(m, keep.ino).nlink, 1);
  assert_int_equal(fsmeta_count(m, &count), 0);
  assert_int_equal(count, 2);
  buf_free(&b);
}

static void test_link_max(void **state) {
  fixture_t *f = *state;
  fsmeta_t *m = f->m;
  fsmeta_inode_t d = mk(m, FSMETA_INO_ROOT, "d", S_IFDIR | 0755);
  fsmeta_inode_t file = mk(m, d.ino, "f0", S_IFREG | 0644);
  char name[32];
  fsmeta_inode_t in;
  for (unsigned i = 1; i < FSMETA_LINK_MAX; i++) {
    snprintf(name, sizeof name, "f%u", i);
    assert_int_equal(fsmeta_link(m, file.ino, d.ino, name, &in), 0);
  }
  assert_int_equal(in.nlink, FSMETA_LINK_MAX);
  assert_int_equal(fsmeta_link(m, file.ino, d.ino, "one-more", &in), -EMLINK);
  /* subdirectories: a directory's nlink is 2 + its subdirectories */
  fsmeta_inode_t p = mk(m, FSMETA_INO_ROOT, "p", S_IFDIR | 0755);
  for (unsigned i = 2; i < FSMETA_LINK_MAX; i++) {
    snprintf(name, sizeof name, "s%u", i);
    assert_int_equal(fsmeta_create(m, p.ino, name, S_IFDIR | 0755, 0, 0, 0, NULL, &in), 0);
  }
  assert_int_equal(get(m, p.ino).nlink, FSMETA_LINK_MAX);
  assert_int_equal(fsmeta_create(m, p.ino, "more", S_IFDIR | 0755, 0, 0, 0, NULL, &in), -EMLINK);
  assert_int_equal(fsmeta_create(m, p.ino, "file", S_IFREG | 0644, 0, 0, 0, NULL, &in), 0); /* files are fine */
  fsmeta_inode_t q = mk(m, FSMETA_INO_ROOT, "q", S_IFDIR | 0755);
  mk(m, q.ino, "sub", S_IFDIR | 0755);
  assert_int_equal(fsmeta_rename(m, q.ino, "sub", p.ino, "sub", 0, NULL), -EMLINK);
  assert_int_equal(fsmeta_rename(m, q.ino, "sub", p.ino, "s2", 0, NULL), 0); /* replaces one: no new link */
  assert_int_equal(get(m, p.ino).nlink, FSMETA_LINK_MAX);
}

/* ---- rename ---- */

static void test_rename_simple_and_replace(void **state) {
  fixture_t *f = *state;
  fsmeta_t *m = f->m;
  fsmeta_inode_t a = mk(m, FSMETA_INO_ROOT, "a", S_IFREG | 0644);
  fsmeta_inode_t b = mk(m, FSMETA_INO_ROOT, "b", S_IFREG | 0644);
  fsmeta_inode_t d = mk(m, FSMETA_INO_ROOT, "d", S_IFDIR | 0755);
  fsmeta_inode_t rep;
  /* simple */
  assert_int_equal(fsmeta_rename(m, FSMETA_INO_ROOT, "a", FSMETA_INO_ROOT, "a2", 0, &rep), 0);
  assert_int_equal(rep.ino, 0);
  assert_int_equal(lookup_ino(m, FSMETA_INO_ROOT, "a"), 0);
  assert_int_equal(lookup_ino(m, FSMETA_INO_ROOT, "a2"), a.ino);
  assert_int_equal(get(m, FSMETA_INO_ROOT).size, 3);
  assert_int_equal(fsmeta_rename(m, FSMETA_INO_ROOT, "none", FSMETA_INO_ROOT, "x", 0, &rep), -ENOENT);
  /* replace: the old b becomes an orphan */
  assert_int_equal(fsmeta_rename(m, FSMETA_INO_ROOT, "a2", FSMETA_INO_ROOT, "b", 0, &rep), 0);
  assert_int_equal(rep.ino, b.ino);
  assert_int_equal(rep.nlink, 0);
  assert_true(is_orphan_gettable(m, b.ino));
  assert_int_equal(lookup_ino(m, FSMETA_INO_ROOT, "b"), a.ino);
  assert_int_equal(get(m, FSMETA_INO_ROOT).size, 2);
  assert_int_equal(get(m, a.ino).nlink, 1);
  /* replacing one of two links of an inode drops one */
  fsmeta_inode_t c = mk(m, FSMETA_INO_ROOT, "c", S_IFREG | 0644);
  assert_int_equal(fsmeta_link(m, c.ino, d.ino, "c-link", NULL), 0);
  assert_int_equal(fsmeta_rename(m, FSMETA_INO_ROOT, "b", FSMETA_INO_ROOT, "c", 0, &rep), 0);
  assert_int_equal(rep.ino, c.ino);
  assert_int_equal(rep.nlink, 1);
  assert_int_equal(get(m, c.ino).nlink, 1);
  /* across directories */
  assert_int_equal(fsmeta_rename(m, FSMETA_INO_ROOT, "c", d.ino, "moved", 0, NULL), 0);
  assert_int_equal(lookup_ino(m, d.ino, "moved"), a.ino);
  assert_int_equal(get(m, d.ino).size, 2);
  assert_int_equal(get(m, FSMETA_INO_ROOT).size, 1);
  assert_int_equal(get(m, FSMETA_INO_ROOT).nlink, 3); /* files do not count */
  /* same inode (two links): nothing happens */
  assert_int_equal(fsmeta_link(m, a.ino, FSMETA_INO_ROOT, "a-link", NULL), 0);
  assert_int_equal(fsmeta_rename(m, FSMETA_INO_ROOT, "a-link", d.ino, "moved", 0, &rep), 0);
  assert_int_equal(rep.ino, 0);
  assert_int_equal(lookup_ino(m, FSMETA_INO_ROOT, "a-link"), a.ino);
  assert_int_equal(lookup_ino(m, d.ino, "moved"), a.ino);
  assert_int_equal(get(m, a.ino).nlink, 2);
  /* onto itself */
  assert_int_equal(fsmeta_rename(m, d.ino, "moved", d.ino, "moved", 0, &rep), 0);
  assert_int_equal(lookup_ino(m, d.ino, "moved"), a.ino);
  /* NOREPLACE */
  fsmeta_inode_t e = mk(m, FSMETA_INO_ROOT, "e", S_IFREG | 0644);
  assert_int_equal(fsmeta_rename(m, FSMETA_INO_ROOT, "e", FSMETA_INO_ROOT, "a-link", RENAME_NOREPLACE, &rep), -EEXIST);
  assert_int_equal(lookup_ino(m, FSMETA_INO_ROOT, "e"), e.ino);
  assert_int_equal(fsmeta_rename(m, FSMETA_INO_ROOT, "e", FSMETA_INO_ROOT, "e2", RENAME_NOREPLACE, &rep), 0);
  assert_int_equal(lookup_ino(m, FSMETA_INO_ROOT, "e2"), e.ino);
  /* bad flags, bad names */
  assert_int_equal(fsmeta_rename(m, FSMETA_INO_ROOT, "e2", FSMETA_INO_ROOT, "x", RENAME_NOREPLACE | RENAME_EXCHANGE, NULL),
                   -EINVAL);
  assert_int_equal(fsmeta_rename(m, FSMETA_INO_ROOT, "e2", FSMETA_INO_ROOT, "", 0, NULL), -EINVAL);
  assert_int_equal(fsmeta_rename(m, FSMETA_INO_ROOT, "e2", e.ino, "x", 0, NULL), -ENOTDIR);
}

static void test_rename_directories(void **state) {
  fixture_t *f = *state;
  fsmeta_t *m = f->m;
  fsmeta_inode_t p1 = mk(m, FSMETA_INO_ROOT, "p1", S_IFDIR | 0755);
  fsmeta_inode_t p2 = mk(m, FSMETA_INO_ROOT, "p2", S_IFDIR | 0755);
  fsmeta_inode_t d = mk(m, p1.ino, "d", S_IFDIR | 0755);
  fsmeta_inode_t dd = mk(m, d.ino, "dd", S_IFDIR | 0755);
  fsmeta_inode_t file = mk(m, p1.ino, "file", S_IFREG | 0644);
  assert_int_equal(get(m, p1.ino).nlink, 3);
  /* a directory moves: parent pointer and both parents' nlink */
  assert_int_equal(fsmeta_rename(m, p1.ino, "d", p2.ino, "d", 0, NULL), 0);
  assert_int_equal(get(m, d.ino).parent, p2.ino);
  assert_int_equal(get(m, p1.ino).nlink, 2);
  assert_int_equal(get(m, p2.ino).nlink, 3);
  assert_int_equal(get(m, d.ino).nlink, 3);
  fsmeta_inode_t in;
  assert_int_equal(fsmeta_lookup(m, d.ino, "..", &in), 0);
  assert_int_equal(in.ino, p2.ino);
  /* into its own subtree: -EINVAL (itself, a child, a grandchild) */
  assert_int_equal(fsmeta_rename(m, p2.ino, "d", d.ino, "x", 0, NULL), -EINVAL);
  assert_int_equal(fsmeta_rename(m, p2.ino, "d", dd.ino, "x", 0, NULL), -EINVAL);
  assert_int_equal(fsmeta_rename(m, FSMETA_INO_ROOT, "p2", dd.ino, "x", 0, NULL), -EINVAL);
  /* dir over an empty dir */
  fsmeta_inode_t empty = mk(m, p1.ino, "empty", S_IFDIR | 0755);
  assert_int_equal(get(m, p1.ino).nlink, 3);
  fsmeta_inode_t rep;
  assert_int_equal(fsmeta_rename(m, p2.ino, "d", p1.ino, "empty", 0, &rep), 0);
  assert_int_equal(rep.ino, empty.ino);
  assert_int_equal(rep.nlink, 0);
  assert_true(is_orphan_gettable(m, empty.ino));
  assert_int_equal(get(m, p1.ino).nlink, 3); /* lost empty, gained d */
  assert_int_equal(get(m, p2.ino).nlink, 2);
  assert_int_equal(get(m, d.ino).parent, p1.ino);
  assert_int_equal(get(m, p1.ino).size, 2);
  assert_int_equal(get(m, p2.ino).size, 0);
  /* dir over a non-empty dir, file over dir, dir over file */
  mk(m, p2.ino, "full", S_IFDIR | 0755);
  mk(m, lookup_ino(m, p2.ino, "full"), "x", S_IFREG | 0644);
  assert_int_equal(fsmeta_rename(m, p1.ino, "empty", p2.ino, "full", 0, &rep), -ENOTEMPTY);
  assert_int_equal(rep.ino, 0);
  assert_int_equal(fsmeta_rename(m, p1.ino, "file", p2.ino, "full", 0, &rep), -EISDIR);
  assert_int_equal(fsmeta_rename(m, p2.ino, "full", p1.ino, "file", 0, &rep), -ENOTDIR);
  assert_int_equal(lookup_ino(m, p1.ino, "file"), file.ino);
  /* RENAME_EXCHANGE of a file and a directory across parents */
  fsmeta_inode_t full;
  assert_int_equal(fsmeta_lookup(m, p2.ino, "full", &full), 0);
  assert_int_equal(get(m, p1.ino).nlink, 3);
  assert_int_equal(get(m, p2.ino).nlink, 3);
  assert_int_equal(fsmeta_rename(m, p1.ino, "file", p2.ino, "full", RENAME_EXCHANGE, &rep), 0);
  assert_int_equal(rep.ino, 0);
  assert_int_equal(lookup_ino(m, p1.ino, "file"), full.ino);
  assert_int_equal(lookup_ino(m, p2.ino, "full"), file.ino);
  assert_int_equal(get(m, full.ino).parent, p1.ino);
  assert_int_equal(get(m, p1.ino).nlink, 4);
  assert_int_equal(get(m, p2.ino).nlink, 2);
  assert_int_equal(get(m, file.ino).nlink, 1);
  assert_int_equal(get(m, full.ino).nlink, 2);
  assert_int_equal(get(m, p1.ino).size, 2);
  assert_int_equal(get(m, p2.ino).size, 1);
  /* exchange needs both; exchanging into the other's subtree is -EINVAL */
  assert_int_equal(fsmeta_rename(m, p1.ino, "file", p2.ino, "nothing", RENAME_EXCHANGE, NULL), -ENOENT);
  assert_int_equal(fsmeta_rename(m, p1.ino, "empty", dd.ino, "n", RENAME_EXCHANGE, NULL), -ENOENT);
  mk(m, dd.ino, "leaf", S_IFREG | 0644);
  assert_int_equal(fsmeta_rename(m, dd.ino, "leaf", p1.ino, "empty", RENAME_EXCHANGE, NULL), -EINVAL);
  assert_int_equal(lookup_ino(m, p1.ino, "empty"), d.ino);
  /* exchange within one parent: a file and a directory swap names, counts stay */
  fsmeta_inode_t f2 = mk(m, p1.ino, "f2", S_IFREG | 0644);
  assert_int_equal(fsmeta_rename(m, p1.ino, "f2", p1.ino, "empty", RENAME_EXCHANGE, NULL), 0);
  assert_int_equal(lookup_ino(m, p1.ino, "empty"), f2.ino);
  assert_int_equal(lookup_ino(m, p1.ino, "f2"), d.ino);
  assert_int_equal(get(m, p1.ino).nlink, 4);
  assert_int_equal(fsmeta_rename(m, p1.ino, "f2", p1.ino, "empty", RENAME_EXCHANGE, NULL), 0);
  assert_int_equal(fsmeta_unlink(m, p1.ino, "f2", false, NULL), 0);
  /* a directory renamed within its parent keeps the counts */
  assert_int_equal(fsmeta_rename(m, p1.ino, "empty", p1.ino, "d2", 0, NULL), 0);
  assert_int_equal(lookup_ino(m, p1.ino, "d2"), d.ino);
  assert_int_equal(get(m, p1.ino).nlink, 4);
  assert_int_equal(get(m, d.ino).parent, p1.ino);
  /* the root count of subdirectories held throughout */
  assert_int_equal(get(m, FSMETA_INO_ROOT).nlink, 4);
}

/* ---- update / sync ---- */

typedef struct set_cid {
  cid_t cid;
  uint64_t size, tsize;
} set_cid_t;

static int update_cid(void *ctx, fsmeta_inode_t *in) {
  set_cid_t *s = ctx;
  in->cid = s->cid;
  in->size = s->size;
  in->tsize = s->tsize;
  in->flags |= FSMETA_STAGED;
  in->mode = (in->mode & S_IFMT) | 0600;
  return 0;
}
static int update_type(void *ctx, fsmeta_inode_t *in) {
  (void)ctx;
  in->mode = S_IFDIR | 0755;
  return 0;
}
static int update_nlink(void *ctx, fsmeta_inode_t *in) {
  (void)ctx;
  in->nlink = 7;
  return 0;
}
static int update_fail(void *ctx, fsmeta_inode_t *in) {
  (void)ctx;
  in->size = 12345;
  return -EDQUOT;
}

static void test_update_sync(void **state) {
  fixture_t *f = *state;
  fsmeta_t *m = f->m;
  fsmeta_inode_t file = mk(m, FSMETA_INO_ROOT, "f", S_IFREG | 0644);
  set_cid_t s = {.size = 5, .tsize = 13};
  assert_int_equal(cid_make(&s.cid, 1, CODEC_RAW, MH_SHA2_256, "hello", 5), 0);
  fsmeta_inode_t out;
  assert_int_equal(fsmeta_update(m, file.ino, update_cid, &s, true, &out), 0);
  assert_true(cid_equal(&out.cid, &s.cid));
  assert_int_equal(out.mode, S_IFREG | 0600);
  assert_int_equal(fsmeta_update(m, file.ino, update_type, NULL, false, &out), -EINVAL);
  assert_int_equal(fsmeta_update(m, file.ino, update_nlink, NULL, false, &out), -EINVAL);
  assert_int_equal(fsmeta_update(m, file.ino, update_fail, NULL, false, &out), -EDQUOT);
  assert_int_equal(fsmeta_update(m, 999999, update_cid, &s, false, &out), -ENOENT);
  fsmeta_inode_t dir = mk(m, FSMETA_INO_ROOT, "d", S_IFDIR | 0755);
  assert_int_equal(fsmeta_update(m, dir.ino, update_cid, &s, false, &out), -EINVAL); /* a CID on a dir */
  assert_int_equal(fsmeta_sync(m), 0);
  reopen(f);
  fsmeta_inode_t back = get(f->m, file.ino);
  assert_true(cid_equal(&back.cid, &s.cid));
  assert_int_equal(back.size, 5);
  assert_int_equal(back.tsize, 13);
  assert_int_equal(back.flags, FSMETA_STAGED);
  assert_int_equal(back.mode, S_IFREG | 0600);
}

/* ---- xattrs ---- */

static void test_xattrs(void **state) {
  fixture_t *f = *state;
  fsmeta_t *m = f->m;
  fsmeta_inode_t file = mk(m, FSMETA_INO_ROOT, "f", S_IFREG | 0644);
  fsmeta_inode_t other = mk(m, FSMETA_INO_ROOT, "g", S_IFREG | 0644);
  buf_t b = {0};
  assert_int_equal(fsmeta_xattr_list(m, file.ino, &b), 0);
  assert_int_equal(b.len, 0);
  assert_int_equal(fsmeta_xattr_get(m, file.ino, "user.a", &b), -ENODATA);
  assert_int_equal(fsmeta_xattr_set(m, file.ino, "user.b", "two", 3, XATTR_REPLACE), -ENODATA);
  assert_int_equal(fsmeta_xattr_set(m, file.ino, "user.b", "two", 3, XATTR_CREATE), 0);
  assert_int_equal(fsmeta_xattr_set(m, file.ino, "user.b", "2", 1, XATTR_CREATE), -EEXIST);
  assert_int_equal(fsmeta_xattr_set(m, file.ino, "user.a", "", 0, 0), 0);
  assert_int_equal(fsmeta_xattr_set(m, other.ino, "user.other", "x", 1, 0), 0);
  assert_int_equal(fsmeta_xattr_get(m, file.ino, "user.b", &b), 0);
  assert_int_equal(b.len, 3);
  assert_memory_equal(b.data, "two", 3);
  assert_int_equal(fsmeta_xattr_set(m, file.ino, "user.b", "TWO!", 4, XATTR_REPLACE), 0);
  assert_int_equal(fsmeta_xattr_get(m, file.ino, "user.b", &b), 0);
  assert_int_equal(b.len, 4);
  assert_memory_equal(b.data, "TWO!", 4);
  assert_int_equal(fsmeta_xattr_get(m, file.ino, "user.a", &b), 0);
  assert_int_equal(b.len, 0);
  assert_int_equal(fsmeta_xattr_list(m, file.ino, &b), 0);
  assert_int_equal(b.len, 14);
  assert_memory_equal(b.data, "user.a\0user.b\0", 14);
  assert_true(get(m, file.ino).ctime.tv_sec >= file.ctime.tv_sec);
  assert_int_equal(fsmeta_xattr_remove(m, file.ino, "user.a"), 0);
  assert_int_equal(fsmeta_xattr_remove(m, file.ino, "user.a"), -ENODATA);
  assert_int_equal(fsmeta_xattr_list(m, file.ino, &b), 0);
  assert_int_equal(b.len, 7);
  /* unknown inode */
  assert_int_equal(fsmeta_xattr_set(m, 999999, "user.a", "", 0, 0), -ENOENT);
  assert_int_equal(fsmeta_xattr_get(m, 999999, "user.a", &b), -ENOENT);
  assert_int_equal(fsmeta_xattr_remove(m, 999999, "user.a"), -ENOENT);
  /* names: a known namespace and something after it */
  assert_int_equal(fsmeta_xattr_set(m, file.ino, "nonamespace", "v", 1, 0), -EOPNOTSUPP);
  assert_int_equal(fsmeta_xattr_get(m, file.ino, "system.posix_acl_access", &b), -ENODATA);
  assert_int_equal(fsmeta_xattr_set(m, file.ino, "system.", "v", 1, 0), -EINVAL);
  assert_int_equal(fsmeta_xattr_get(m, file.ino, "nonamespace", &b), -EOPNOTSUPP);
  assert_int_equal(fsmeta_xattr_remove(m, file.ino, "other.x"), -EOPNOTSUPP);
  assert_int_equal(fsmeta_xattr_set(m, file.ino, "user.", "v", 1, 0), -EINVAL);
  assert_int_equal(fsmeta_xattr_set(m, file.ino, "", "v", 1, 0), -ERANGE);
  assert_int_equal(fsmeta_xattr_set(m, file.ino, "trusted.t", "T", 1, 0), 0);
  assert_int_equal(fsmeta_xattr_set(m, file.ino, "security.s", "S", 1, 0), 0);
  assert_int_equal(fsmeta_xattr_list(m, file.ino, &b), 0);
  assert_int_equal(b.len, 7 + 11 + 10);
  assert_memory_equal(b.data, "security.s\0trusted.t\0user.b\0", b.len);
  assert_int_equal(fsmeta_xattr_remove(m, file.ino, "trusted.t"), 0);
  assert_int_equal(fsmeta_xattr_remove(m, file.ino, "security.s"), 0);
  /* limits */
  char name[FSMETA_XATTR_NAME_BYTES_MAX + 2];
  memcpy(name, "user.", 5);
  memset(name + 5, 'n', sizeof name - 6);
  name[sizeof name - 1] = '\0';
  assert_int_equal(fsmeta_xattr_set(m, file.ino, name, "", 0, 0), -ERANGE);
  assert_int_equal(fsmeta_xattr_get(m, file.ino, name, &b), -ERANGE);
  name[FSMETA_XATTR_NAME_BYTES_MAX] = '\0';
  assert_int_equal(fsmeta_xattr_set(m, file.ino, name, "", 0, 0), 0);
  static uint8_t big[FSMETA_XATTR_VALUE_BYTES_MAX + 1];
  testdir_fill(big, sizeof big, 7);
  assert_int_equal(fsmeta_xattr_set(m, file.ino, "user.big", big, sizeof big, 0), -E2BIG);
  assert_int_equal(fsmeta_xattr_set(m, file.ino, "user.big", big, sizeof big - 1, 0), 0);
  assert_int_equal(fsmeta_xattr_get(m, file.ino, "user.big", &b), 0);
  assert_int_equal(b.len, sizeof big - 1);
  assert_memory_equal(b.data, big, sizeof big - 1);
  /* the list limit: fill with 255-byte names until -ENOSPC */
  fsmeta_inode_t many = mk(m, FSMETA_INO_ROOT, "many", S_IFREG | 0644);
  size_t used = 0;
  unsigned i;
  for (i = 0; i < 1000; i++) {
    snprintf(name, sizeof name, "user.%0250u", i);
    int rc = fsmeta_xattr_set(m, many.ino, name, "v", 1, 0);
    if (rc == -ENOSPC) break;
    assert_int_equal(rc, 0);
    used += strlen(name) + 1;
  }
  assert_true(i < 1000);
  assert_true(used <= FSMETA_XATTR_LIST_BYTES_MAX && used + 256 > FSMETA_XATTR_LIST_BYTES_MAX);
  /* replacing an existing one is still fine at the limit */
  snprintf(name, sizeof name, "user.%0250u", 0u);
  assert_int_equal(fsmeta_xattr_set(m, many.ino, name, "w", 1, 0), 0);
  assert_int_equal(fsmeta_xattr_list(m, many.ino, &b), 0);
  assert_int_equal(b.len, used);
  buf_free(&b);
}

/* ---- directory listings ---- */

static void test_readdir_large(void **state) {
  fixture_t *f = *state;
  fsmeta_t *m = f->m;
  enum { N = 100000 };
  fsmeta_inode_t d = mk(m, FSMETA_INO_ROOT, "big", S_IFDIR | 0755);
  char name[32];
  /* insert in a scrambled order; names sort as their numbers */
  for (uint32_t i = 0; i < N; i++) {
    uint32_t k = (uint32_t)(((uint64_t)i * 7919u) % N);
    snprintf(name, sizeof name, "e%06u", k);
    fsmeta_inode_t in;
    assert_int_equal(fsmeta_create(m, d.ino, name, (k % 10 == 0 ? S_IFDIR : S_IFREG) | 0644, 0, 0, 0, NULL, &in), 0);
  }
  assert_int_equal(get(m, d.ino).size, N);
  assert_int_equal(get(m, d.ino).nlink, 2 + N / 10);

  fsmeta_dir_t *it;
  assert_int_equal(fsmeta_dir_open(m, d.ino, &it), 0);
  const char *n;
  uint64_t ino;
  uint32_t type;
  /* a first page, then changes while the listing is open */
  for (uint32_t k = 0; k < 1000; k++) {
    assert_int_equal(fsmeta_dir_next(it, &n, &ino, &type), 1);
    snprintf(name, sizeof name, "e%06u", k);
    assert_string_equal(n, name);
  }
  for (uint32_t k = 0; k < 2000; k += 2) {
    snprintf(name, sizeof name, "e%06u", 50000 + k);
    assert_int_equal(fsmeta_unlink(m, d.ino, name, (k % 10) == 0, NULL), 0);
    snprintf(name, sizeof name, "e%06ua", 50000 + k);
    mk(m, d.ino, name, S_IFREG | 0644);
  }
  uint32_t seen = 1000;
  for (uint32_t k = 1000; k < N; k++) {
    assert_int_equal(fsmeta_dir_next(it, &n, &ino, &type), 1);
    snprintf(name, sizeof name, "e%06u", k);
    assert_string_equal(n, name);
    assert_int_equal(type, k % 10 == 0 ? S_IFDIR : S_IFREG);
    seen++;
  }
  assert_int_equal(fsmeta_dir_next(it, &n, &ino, &type), 0);
  assert_int_equal(seen, N);
  /* seek back and forward */
  assert_int_equal(fsmeta_dir_seek(it, 5), 0);
  assert_int_equal(fsmeta_dir_next(it, &n, &ino, &type), 1);
  assert_string_equal(n, "e000005");
  fsmeta_inode_t five;
  assert_int_equal(fsmeta_get(m, ino, &five), 0);
  assert_int_equal(fsmeta_dir_seek(it, 77777), 0);
  assert_int_equal(fsmeta_dir_next(it, &n, &ino, &type), 1);
  assert_string_equal(n, "e077777");
  assert_int_equal(fsmeta_dir_seek(it, 77778), 0); /* the cursor itself */
  assert_int_equal(fsmeta_dir_next(it, &n, &ino, &type), 1);
  assert_string_equal(n, "e077778");
  assert_int_equal(fsmeta_dir_seek(it, 0), 0);
  assert_int_equal(fsmeta_dir_next(it, &n, &ino, &type), 1);
  assert_string_equal(n, "e000000");
  assert_int_equal(fsmeta_dir_seek(it, N + 5), 0);
  assert_int_equal(fsmeta_dir_next(it, &n, &ino, &type), 0);
  fsmeta_dir_close(it);

  /* a new listing sees the changes */
  assert_int_equal(fsmeta_dir_open(m, d.ino, &it), 0);
  assert_int_equal(fsmeta_dir_seek(it, 50000), 0);
  const char *expect[] = {"e050000a", "e050001", "e050002a", "e050003"};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(fsmeta_dir_next(it, &n, &ino, &type), 1);
    assert_string_equal(n, expect[i]);
  }
  fsmeta_dir_close(it);
  fsmeta_inode_t file = mk(m, FSMETA_INO_ROOT, "plain", S_IFREG | 0644);
  assert_int_equal(fsmeta_dir_open(m, file.ino, &it), -ENOTDIR);
  assert_int_equal(fsmeta_dir_open(m, 999999999, &it), -ENOENT);
  /* an empty directory */
  fsmeta_inode_t e = mk(m, FSMETA_INO_ROOT, "empty", S_IFDIR | 0755);
  assert_int_equal(fsmeta_dir_open(m, e.ino, &it), 0);
  assert_int_equal(fsmeta_dir_next(it, &n, &ino, &type), 0);
  fsmeta_dir_close(it);
}

/* ---- staged walk ---- */

typedef struct staged {
  uint64_t inos[8];
  size_t len;
  int stop_with;
} staged_t;

static int collect_staged(void *ctx, const fsmeta_inode_t *in) {
  staged_t *s = ctx;
  assert_true(in->flags & FSMETA_STAGED);
  assert_true(s->len < 8);
  s->inos[s->len++] = in->ino;
  return s->stop_with;
}

static int set_staged(void *ctx, fsmeta_inode_t *in) {
  (void)ctx;
  in->flags |= FSMETA_STAGED;
  return 0;
}

static void test_each_staged(void **state) {
  fixture_t *f = *state;
  fsmeta_t *m = f->m;
  staged_t s = {0};
  assert_int_equal(fsmeta_each_staged(m, collect_staged, &s), 0);
  assert_int_equal(s.len, 0);
  mk(m, FSMETA_INO_ROOT, "a", S_IFREG | 0644);
  fsmeta_inode_t b = mk(m, FSMETA_INO_ROOT, "b", S_IFREG | 0644);
  mk(m, FSMETA_INO_ROOT, "c", S_IFREG | 0644);
  fsmeta_inode_t d = mk(m, FSMETA_INO_ROOT, "d", S_IFREG | 0644);
  assert_int_equal(fsmeta_update(m, b.ino, set_staged, NULL, true, NULL), 0);
  assert_int_equal(fsmeta_update(m, d.ino, set_staged, NULL, true, NULL), 0);
  reopen(f);
  assert_int_equal(fsmeta_each_staged(f->m, collect_staged, &s), 0);
  assert_int_equal(s.len, 2);
  assert_int_equal(s.inos[0], b.ino);
  assert_int_equal(s.inos[1], d.ino);
  staged_t stop = {.stop_with = -ECANCELED};
  assert_int_equal(fsmeta_each_staged(f->m, collect_staged, &stop), -ECANCELED);
  assert_int_equal(stop.len, 1);
}

/* ---- gc roots ---- */

typedef struct file_cid {
  cid_t cid;
  uint64_t tsize, size;
} file_cid_t;

static int store_cid(void *ctx, fsmeta_inode_t *in) {
  const file_cid_t *fc = ctx;
  in->cid = fc->cid;
  in->tsize = fc->tsize;
  in->size = fc->size;
  return 0;
}

/* Imports len seeded bytes into sink; *fc gets CID, tsize, size. */
static void import_bytes(const block_sink_t *sink, size_t len, uint32_t seed, file_cid_t *fc, const char *path) {
  uint8_t *data = malloc(len ? len : 1);
  assert_non_null(data);
  testdir_fill(data, len, seed);
  int fd = path ? open(path, O_RDWR | O_CREAT | O_TRUNC, 0644) : memfd_create("t", 0);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, data, len), (ssize_t)len);
  assert_int_equal(lseek(fd, 0, SEEK_SET), 0); /* imp_add_fd reads from the offset */
  imp_options_t o;
  imp_options_default(&o);
  imp_callbacks_t cb = {0};
  assert_int_equal(imp_add_fd(&o, sink, fd, &cb, &fc->cid, &fc->tsize), 0);
  fc->size = len;
  close(fd);
  free(data);
}

typedef struct counting_sink {
  bs_t *bs;
  uint64_t puts;
} counting_sink_t;

static int counting_put(void *ctx, const cid_t *cid, const uint8_t *data, size_t len) {
  counting_sink_t *c = ctx;
  c->puts++;
  int rc = bs_put(c->bs, cid, data, len);
  return rc < 0 ? rc : 0;
}

static void test_gc_roots(void **state) {
  fixture_t *f = *state;
  fsmeta_t *m = f->m;
  char bsdir[600];
  snprintf(bsdir, sizeof bsdir, "%s/blocks", f->dir);
  assert_int_equal(mkdir(bsdir, 0700), 0);
  bs_options_t o;
  bs_options_default(&o);
  bs_t *bs;
  assert_int_equal(bs_open(bsdir, &o, &bs), 0);
  counting_sink_t cs = {bs, 0};
  block_sink_t sink = {counting_put, &cs};
  /* three files: one kept by its entry, one by being an orphan, one multi-block;
   * one file's content replaced: its old DAG is garbage */
  file_cid_t a, b, big, old;
  import_bytes(&sink, 1000, 1, &a, NULL);
  import_bytes(&sink, 2000, 2, &b, NULL);
  uint64_t before = cs.puts;
  import_bytes(&sink, 3 * IMP_CHUNK_BYTES_DEFAULT + 5, 3, &big, NULL);
  uint64_t big_blocks = cs.puts - before;
  assert_int_equal(big_blocks, 5); /* four leaves and the root */
  import_bytes(&sink, 700, 4, &old, NULL);
  assert_int_equal(bs_sync(bs), 0);
  fsmeta_inode_t fa = mk(m, FSMETA_INO_ROOT, "a", S_IFREG | 0644);
  fsmeta_inode_t fb = mk(m, FSMETA_INO_ROOT, "b", S_IFREG | 0644);
  fsmeta_inode_t fbig = mk(m, FSMETA_INO_ROOT, "big", S_IFREG | 0644);
  mk(m, FSMETA_INO_ROOT, "empty", S_IFREG | 0644); /* the empty file's node is in no store */
  mk(m, FSMETA_INO_ROOT, "dir", S_IFDIR | 0755);
  assert_int_equal(fsmeta_update(m, fa.ino, store_cid, &old, false, NULL), 0);
  assert_int_equal(fsmeta_update(m, fa.ino, store_cid, &a, false, NULL), 0);
  assert_int_equal(fsmeta_update(m, fb.ino, store_cid, &b, false, NULL), 0);
  assert_int_equal(fsmeta_update(m, fbig.ino, store_cid, &big, false, NULL), 0);
  assert_int_equal(fsmeta_unlink(m, FSMETA_INO_ROOT, "b", false, NULL), 0); /* an orphan: still a root */

  gc_t *gc;
  assert_int_equal(gc_new(bs, &gc), 0);
  assert_int_equal(gc_add_root_provider(gc, fsmeta_gc_roots, m), 0);
  gc_options_t go;
  gc_options_default(&go);
  go.compact = false;
  gc_result_t res;
  assert_int_equal(gc_run(gc, &go, &res), 0);
  assert_int_equal(res.marked, 1 + 1 + big_blocks + 1); /* a, b, big's DAG, the empty file's multihash */
  assert_int_equal(res.swept, 1);                       /* old */
  gc_free(gc);
  assert_int_equal(bs_has(bs, &a.cid, NULL), 1);
  assert_int_equal(bs_has(bs, &b.cid, NULL), 1);
  assert_int_equal(bs_has(bs, &big.cid, NULL), 1);
  assert_int_equal(bs_has(bs, &old.cid, NULL), 0);
  /* once reaped, the orphan's content goes too */
  assert_int_equal(fsmeta_reap(m, fb.ino), 0);
  assert_int_equal(gc_new(bs, &gc), 0);
  assert_int_equal(gc_add_root_provider(gc, fsmeta_gc_roots, m), 0);
  assert_int_equal(gc_run(gc, &go, &res), 0);
  assert_int_equal(res.swept, 1);
  gc_free(gc);
  assert_int_equal(bs_has(bs, &b.cid, NULL), 0);
  assert_int_equal(bs_close(bs), 0);
}

/* ---- persistence ---- */

static void test_persistence(void **state) {
  fixture_t *f = *state;
  fsmeta_inode_t d = mk(f->m, FSMETA_INO_ROOT, "d", S_IFDIR | 0750);
  fsmeta_inode_t l;
  assert_int_equal(fsmeta_create(f->m, d.ino, "l", S_IFLNK | 0777, 5, 6, 0, "/abs/target", &l), 0);
  fsmeta_inode_t file = mk(f->m, d.ino, "f", S_IFREG | 0640);
  assert_int_equal(fsmeta_xattr_set(f->m, file.ino, "user.x", "val", 3, 0), 0);
  assert_int_equal(fsmeta_link(f->m, file.ino, FSMETA_INO_ROOT, "f2", NULL), 0);
  fsmeta_inode_t before = get(f->m, file.ino);
  reopen(f);
  fsmeta_t *m = f->m;
  fsmeta_inode_t after = get(m, file.ino);
  assert_memory_equal(&before, &after, offsetof(fsmeta_inode_t, atime));
  assert_int_equal(after.mtime.tv_sec, before.mtime.tv_sec);
  assert_int_equal(after.mtime.tv_nsec, before.mtime.tv_nsec);
  assert_true(cid_equal(&after.cid, &before.cid));
  assert_int_equal(after.tsize, before.tsize);
  assert_int_equal(after.nlink, 2);
  assert_int_equal(lookup_ino(m, d.ino, "l"), l.ino);
  buf_t b = {0};
  assert_int_equal(fsmeta_readlink(m, l.ino, &b), 0);
  assert_int_equal(b.len, 11);
  assert_int_equal(fsmeta_xattr_get(m, file.ino, "user.x", &b), 0);
  assert_memory_equal(b.data, "val", 3);
  buf_free(&b);
  assert_int_equal(get(m, d.ino).mode, S_IFDIR | 0750);
  assert_int_equal(get(m, FSMETA_INO_ROOT).nlink, 3);
  /* the counter continues: no number is reused */
  fsmeta_inode_t next = mk(m, FSMETA_INO_ROOT, "next", S_IFREG | 0644);
  assert_true(next.ino > file.ino && next.ino > l.ino);
  uint64_t count;
  assert_int_equal(fsmeta_count(m, &count), 0);
  assert_int_equal(count, 5);
  /* LevelDB's lock: a second open of the same store fails */
  fsmeta_t *twice = NULL;
  assert_int_equal(fsmeta_open(f->meta, 0, 0, &twice), -EIO);
  assert_null(twice);
  /* the owner given to a later open does not touch the existing root */
  fsmeta_close(f->m);
  assert_int_equal(fsmeta_open(f->meta, 1, 1, &f->m), 0);
  assert_int_equal(get(f->m, FSMETA_INO_ROOT).uid, 1000);
}

/* ---- concurrency ---- */

enum { THREADS = 4, PER_THREAD = 500 };

typedef struct worker {
  fsmeta_t *m;
  uint64_t dir;
  unsigned id;
  uint64_t inos[PER_THREAD];
  int rc;
} worker_t;

static void *create_many(void *arg) {
  worker_t *w = arg;
  char name[32];
  for (unsigned i = 0; i < PER_THREAD && !w->rc; i++) {
    snprintf(name, sizeof name, "t%u-%u", w->id, i);
    fsmeta_inode_t in;
    w->rc = fsmeta_create(w->m, w->dir, name, S_IFREG | 0644, 0, 0, 0, NULL, &in);
    w->inos[i] = in.ino;
    /* readers run lock-free alongside */
    if (!w->rc && lookup_ino(w->m, w->dir, name) != in.ino) w->rc = -EIO;
  }
  return NULL;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void test_concurrent_creates(void **state) {
  fixture_t *f = *state;
  fsmeta_t *m = f->m;
  fsmeta_inode_t d = mk(m, FSMETA_INO_ROOT, "d", S_IFDIR | 0755);
  static worker_t w[THREADS];
  pthread_t t[THREADS];
  for (unsigned i = 0; i < THREADS; i++) {
    w[i] = (worker_t){.m = m, .dir = d.ino, .id = i};
    assert_int_equal(pthread_create(&t[i], NULL, create_many, &w[i]), 0);
  }
  for (unsigned i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(w[i].rc, 0);
  }
  static uint64_t all[THREADS * PER_THREAD];
  for (unsigned i = 0; i < THREADS; i++) memcpy(all + i * PER_THREAD, w[i].inos, sizeof w[i].inos);
  qsort(all, THREADS * PER_THREAD, sizeof all[0], cmp_u64);
  for (size_t i = 1; i < THREADS * PER_THREAD; i++) assert_true(all[i] > all[i - 1]);
  assert_int_equal(get(m, d.ino).size, THREADS * PER_THREAD);
  char name[32];
  for (unsigned i = 0; i < THREADS; i++)
    for (unsigned j = 0; j < PER_THREAD; j++) {
      snprintf(name, sizeof name, "t%u-%u", i, j);
      assert_int_equal(lookup_ino(m, d.ino, name), w[i].inos[j]);
    }
  uint64_t count;
  assert_int_equal(fsmeta_count(m, &count), 0);
  assert_int_equal(count, 2 + THREADS * PER_THREAD);
}

/* ---- the tree's CID ---- */

typedef struct last_added {
  cid_t cid;
  uint64_t size;
  unsigned calls;
} last_added_t;

static void on_added(void *ctx, const cid_t *cid, const char *path, uint64_t size_bytes) {
  (void)path;
  last_added_t *l = ctx;
  l->cid = *cid;
  l->size = size_bytes;
  l->calls++;
}

/* A file both on disk (under root) and in fsmeta (under parent). */
static void both_file(fsmeta_t *m, memstore_t *ms, const char *root, const char *rel, uint64_t parent,
                      const char *name, size_t len, uint32_t seed) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  block_sink_t sink = memstore_sink(ms);
  file_cid_t fc;
  import_bytes(&sink, len, seed, &fc, path);
  fsmeta_inode_t in = mk(m, parent, name, S_IFREG | 0644);
  if (len > 0) assert_int_equal(fsmeta_update(m, in.ino, store_cid, &fc, false, NULL), 0);
  else assert_true(cid_equal(&in.cid, &fc.cid) && in.tsize == fc.tsize); /* create's empty file */
}

static void both_dir(fsmeta_t *m, const char *root, const char *rel, uint64_t parent, const char *name,
                     uint64_t *ino) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  assert_int_equal(mkdir(path, 0755), 0);
  *ino = mk(m, parent, name, S_IFDIR | 0755).ino;
}

static void both_symlink(fsmeta_t *m, const char *root, const char *rel, uint64_t parent, const char *name,
                         const char *target) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  assert_int_equal(symlink(target, path), 0);
  fsmeta_inode_t in;
  assert_int_equal(fsmeta_create(m, parent, name, S_IFLNK | 0777, 0, 0, 0, target, &in), 0);
}

static void test_cid_matches_importer(void **state) {
  fixture_t *f = *state;
  fsmeta_t *m = f->m;
  memstore_t ms = {0};
  char root[600];
  snprintf(root, sizeof root, "%s/tree", f->dir);
  uint64_t top, sub, deep, emptydir;
  both_dir(m, f->dir, "tree", FSMETA_INO_ROOT, "tree", &top);
  both_file(m, &ms, root, "small", top, "small", 100, 1);
  both_file(m, &ms, root, "empty", top, "empty", 0, 2);
  both_file(m, &ms, root, ".hidden", top, ".hidden", 5000, 3);
  both_file(m, &ms, root, "large", top, "large", 2 * IMP_CHUNK_BYTES_DEFAULT + 17, 4);
  both_symlink(m, root, "link", top, "link", "small");
  both_symlink(m, root, "dangling", top, "dangling", "../nowhere/at/all");
  both_dir(m, root, "sub", top, "sub", &sub);
  both_file(m, &ms, root, "sub/a", sub, "a", 1, 5);
  both_dir(m, root, "sub/deep", sub, "deep", &deep);
  both_file(m, &ms, root, "sub/deep/z", deep, "z", 300, 6);
  both_dir(m, root, "emptydir", top, "emptydir", &emptydir);
  /* FIFOs, sockets and devices are left out (they cannot be added) */
  mk(m, top, "fifo", S_IFIFO | 0644);
  mk(m, sub, "sock", S_IFSOCK | 0644);

  imp_options_t o;
  imp_options_default(&o);
  o.hidden = true;
  memstore_t ref = {0};
  block_sink_t ref_sink = memstore_sink(&ref);
  last_added_t la = {0};
  imp_callbacks_t cb = {.added = on_added, .ctx = &la};
  const char *paths[] = {root};
  cid_t want;
  assert_int_equal(imp_add_paths(&o, &ref_sink, paths, 1, &cb, &want), 0);
  assert_true(cid_equal(&la.cid, &want));

  block_sink_t sink = memstore_sink(&ms);
  cid_t got;
  uint64_t tsize;
  assert_int_equal(fsmeta_cid(m, top, &sink, &got, &tsize), 0);
  char a[CID_TEXT_BYTES_MAX], b[CID_TEXT_BYTES_MAX];
  assert_int_equal(cid_format_default(&want, a), 0);
  assert_int_equal(cid_format_default(&got, b), 0);
  assert_string_equal(b, a);
  assert_int_equal(tsize, la.size);
  /* every block the importer wrote is in our sink too (nodes were put) */
  for (size_t i = 0; i < ref.len; i++) {
    bool found = false;
    for (size_t j = 0; j < ms.len && !found; j++)
      found = ms.entries[j].mh_len == ref.entries[i].mh_len &&
              memcmp(ms.entries[j].mh, ref.entries[i].mh, ms.entries[j].mh_len) == 0;
    assert_true(found);
  }
  /* a regular file's CID is its stored one; a symlink's is its node */
  fsmeta_inode_t small;
  assert_int_equal(fsmeta_lookup(m, top, "small", &small), 0);
  assert_int_equal(fsmeta_cid(m, small.ino, &sink, &got, NULL), 0);
  assert_true(cid_equal(&got, &small.cid));
  fsmeta_inode_t fifo;
  assert_int_equal(fsmeta_lookup(m, top, "fifo", &fifo), 0);
  assert_int_equal(fsmeta_cid(m, fifo.ino, &sink, &got, NULL), -EINVAL);
  assert_int_equal(fsmeta_cid(m, 999999, &sink, &got, NULL), -ENOENT);
  /* a change below changes the root */
  assert_int_equal(fsmeta_unlink(m, deep, "z", false, NULL), 0);
  cid_t changed;
  assert_int_equal(fsmeta_cid(m, top, &sink, &changed, NULL), 0);
  assert_false(cid_equal(&changed, &want));
  memstore_free(&ms);
  memstore_free(&ref);
}

/* A directory large enough to be a HAMT: the same CID as the importer's. */
static void test_cid_sharded_directory(void **state) {
  fixture_t *f = *state;
  fsmeta_t *m = f->m;
  memstore_t ms = {0};
  char root[600], name[64];
  snprintf(root, sizeof root, "%s/wide", f->dir);
  uint64_t top;
  both_dir(m, f->dir, "wide", FSMETA_INO_ROOT, "wide", &top);
  /* Σ(name + CID bytes) past 256 KiB: 4000 x (40 + 34) */
  enum { ENTRIES = 4000 };
  for (unsigned i = 0; i < ENTRIES; i++) {
    snprintf(name, sizeof name, "entry-%034u", i);
    both_file(m, &ms, root, name, top, name, 1 + i % 64, i);
  }
  imp_options_t o;
  imp_options_default(&o);
  o.hidden = true;
  memstore_t ref = {0};
  block_sink_t ref_sink = memstore_sink(&ref);
  last_added_t la = {0};
  imp_callbacks_t cb = {.added = on_added, .ctx = &la};
  const char *paths[] = {root};
  cid_t want, got;
  assert_int_equal(imp_add_paths(&o, &ref_sink, paths, 1, &cb, &want), 0);
  block_sink_t sink = memstore_sink(&ms);
  uint64_t tsize;
  assert_int_equal(fsmeta_cid(m, top, &sink, &got, &tsize), 0);
  assert_true(cid_equal(&got, &want));
  assert_int_equal(tsize, la.size);
  /* sharded: the root node is not a plain directory of ENTRIES links */
  buf_t node = {0};
  assert_int_equal(memstore_get(&ms, &got, &node), 0);
  assert_true(node.len < (size_t)ENTRIES * 40);
  buf_free(&node);
  memstore_free(&ms);
  memstore_free(&ref);
}

/* ---- crash consistency ---- */

/* Link counts found by walking the tree, indexed by ino. */
typedef struct tally {
  uint32_t *links;
  size_t cap;
  uint64_t inodes; /* distinct inodes reached */
} tally_t;

static void tally_add(tally_t *t, uint64_t ino) {
  if (ino >= t->cap) {
    size_t cap = t->cap ? t->cap : 1024;
    while (cap <= ino) cap *= 2;
    t->links = realloc(t->links, cap * sizeof *t->links);
    assert_non_null(t->links);
    memset(t->links + t->cap, 0, (cap - t->cap) * sizeof *t->links);
    t->cap = cap;
  }
  if (t->links[ino]++ == 0) t->inodes++;
}

/* Checks one directory and everything below: entries name live inodes of the
 * entry's type, a directory is reached once, its parent pointer, nlink
 * (2 + subdirectories) and size (entries) agree with what is there. */
static void check_dir(fsmeta_t *m, uint64_t dir, uint64_t parent, tally_t *t, unsigned depth) {
  assert_true(depth < 200);
  fsmeta_inode_t d = get(m, dir);
  assert_true(S_ISDIR(d.mode));
  assert_int_equal(d.parent, parent);
  fsmeta_dir_t *it;
  assert_int_equal(fsmeta_dir_open(m, dir, &it), 0);
  const char *name;
  uint64_t ino, entries = 0, subdirs = 0;
  uint32_t type;
  int rc;
  while ((rc = fsmeta_dir_next(it, &name, &ino, &type)) == 1) {
    fsmeta_inode_t in = get(m, ino);
    assert_int_equal(in.mode & S_IFMT, type);
    entries++;
    tally_add(t, ino);
    if (S_ISDIR(in.mode)) {
      subdirs++;
      assert_int_equal(t->links[ino], 1);
      check_dir(m, ino, dir, t, depth + 1);
    }
  }
  assert_int_equal(rc, 0);
  fsmeta_dir_close(it);
  assert_int_equal(d.size, entries);
  assert_int_equal(d.nlink, 2 + subdirs);
}

static void check_tree(fsmeta_t *m) {
  tally_t t = {0};
  tally_add(&t, FSMETA_INO_ROOT);
  check_dir(m, FSMETA_INO_ROOT, FSMETA_INO_ROOT, &t, 0);
  for (uint64_t ino = 2; ino < t.cap; ino++) {
    if (!t.links[ino]) continue;
    fsmeta_inode_t in = get(m, ino);
    if (!S_ISDIR(in.mode)) assert_int_equal(in.nlink, t.links[ino]);
  }
  uint64_t count;
  assert_int_equal(fsmeta_count(m, &count), 0);
  assert_int_equal(count, t.inodes); /* no orphan survived the open, nothing unreachable */
  free(t.links);
}

/* The child: random operations on a small namespace until killed. */
static void churn(const char *dir, uint64_t seed) {
  fsmeta_t *m;
  if (fsmeta_open(dir, 0, 0, &m)) _exit(2);
  uint64_t dirs[64] = {FSMETA_INO_ROOT};
  size_t ndirs = 1;
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  char a[8], b[8];
  for (unsigned op = 0; op < 10000000; op++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    uint64_t p = dirs[x % ndirs], q = dirs[(x >> 8) % ndirs];
    snprintf(a, sizeof a, "n%u", (unsigned)(x >> 16) % 12);
    snprintf(b, sizeof b, "n%u", (unsigned)(x >> 24) % 12);
    fsmeta_inode_t in;
    int rc = 0;
    switch ((x >> 32) % 8) {
    case 0: case 1: rc = fsmeta_create(m, p, a, S_IFREG | 0644, 0, 0, 0, NULL, &in); break;
    case 2:
      rc = fsmeta_create(m, p, a, S_IFDIR | 0755, 0, 0, 0, NULL, &in);
      if (!rc && ndirs < 64) dirs[ndirs++] = in.ino;
      break;
    case 3:
      rc = fsmeta_unlink(m, p, a, (x >> 40) & 1, &in);
      if (!rc && in.nlink == 0 && ((x >> 41) & 1)) rc = fsmeta_reap(m, in.ino); /* else left for open */
      break;
    case 4: case 5: {
      static const unsigned flags[] = {0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE};
      rc = fsmeta_rename(m, p, a, q, b, flags[(x >> 44) % 4], &in);
      break;
    }
    case 6:
      if (fsmeta_lookup(m, p, a, &in) == 0) rc = fsmeta_link(m, in.ino, q, b, NULL);
      break;
    default:
      if (fsmeta_lookup(m, p, a, &in) == 0) rc = fsmeta_xattr_set(m, in.ino, "user.k", b, 2, 0);
      break;
    }
    if (rc == -EIO || rc == -ENOMEM) _exit(3); /* the expected errors are the POSIX ones */
  }
  fsmeta_close(m);
  _exit(0);
}

static void test_crash_consistency(void **state) {
  fixture_t *f = *state;
  fsmeta_close(f->m);
  f->m = NULL;
  for (uint64_t round = 1; round <= 4; round++) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) churn(f->meta, round);
    struct timespec nap = {0, 150000000 + 50000000 * (long)round};
    nanosleep(&nap, NULL);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL); /* it was still working */
    assert_int_equal(fsmeta_open(f->meta, 0, 0, &f->m), 0);
    check_tree(f->m);
    fsmeta_close(f->m);
    f->m = NULL;
  }
  assert_int_equal(fsmeta_open(f->meta, 0, 0, &f->m), 0);
}

/* ---- record codec ---- */

static void test_record_codec(void **state) {
  (void)state;
  fsmeta_inode_t in;
  memset(&in, 0, sizeof in);
  in.ino = 42;
  in.mode = S_IFREG | 04755;
  in.uid = 0xdeadbeef;
  in.gid = 7;
  in.nlink = 3;
  in.flags = FSMETA_STAGED;
  in.size = 1ull << 40;
  in.atime = (struct timespec){-5, 999999999};
  in.mtime = (struct timespec){1700000000, 1};
  in.ctime = (struct timespec){1700000001, 0};
  in.tsize = 99;
  assert_int_equal(cid_parse(&in.cid, EMPTY_FILE_CID), 0);
  uint8_t rec[FSMETA_RECORD_BYTES_MAX], again[FSMETA_RECORD_BYTES_MAX];
  size_t n = fsmeta_inode_encode(&in, rec);
  assert_int_equal(n, FSMETA_RECORD_FIXED_BYTES + 34);
  assert_int_equal(rec[0], FSMETA_RECORD_VERSION);
  fsmeta_inode_t out;
  assert_int_equal(fsmeta_inode_decode(42, rec, n, &out), 0);
  assert_int_equal(fsmeta_inode_encode(&out, again), n);
  assert_memory_equal(again, rec, n);
  assert_int_equal(out.atime.tv_sec, -5);
  assert_int_equal(out.uid, 0xdeadbeef);
  assert_true(cid_equal(&out.cid, &in.cid));
  /* rejections */
  assert_int_equal(fsmeta_inode_decode(42, rec, n - 1, &out), -EINVAL);
  rec[0] = 2;
  assert_int_equal(fsmeta_inode_decode(42, rec, n, &out), -EINVAL);
  rec[0] = 1, rec[2] = 1;
  assert_int_equal(fsmeta_inode_decode(42, rec, n, &out), -EINVAL);
  rec[2] = 0;
  rec[56 + 3] = 0x40; /* atime nsec >= 1e9 */
  assert_int_equal(fsmeta_inode_decode(42, rec, n, &out), -EINVAL);
  fsmeta_inode_encode(&in, rec);
  rec[5] = 0xf0; /* mode's type 0170000 */
  assert_int_equal(fsmeta_inode_decode(42, rec, n, &out), -EINVAL);
  in.mode = S_IFDIR | 0755; /* a CID on a directory */
  n = fsmeta_inode_encode(&in, rec);
  assert_int_equal(fsmeta_inode_decode(42, rec, n, &out), -EINVAL);
  memset(&in.cid, 0, sizeof in.cid);
  n = fsmeta_inode_encode(&in, rec);
  assert_int_equal(n, FSMETA_RECORD_FIXED_BYTES);
  assert_int_equal(fsmeta_inode_decode(42, rec, n, &out), 0);
}

/* ---- many entries ---- */

static void test_many_create_lookup_unlink(void **state) {
  fixture_t *f = *state;
  fsmeta_t *m = f->m;
  enum { N = 20000 };
  fsmeta_inode_t d = mk(m, FSMETA_INO_ROOT, "d", S_IFDIR | 0755);
  char name[32];
  for (unsigned i = 0; i < N; i++) {
    snprintf(name, sizeof name, "file-%u", i);
    fsmeta_inode_t in;
    assert_int_equal(fsmeta_create(m, d.ino, name, S_IFREG | 0644, 0, 0, 0, NULL, &in), 0);
  }
  for (unsigned i = 0; i < N; i++) {
    snprintf(name, sizeof name, "file-%u", i);
    assert_true(lookup_ino(m, d.ino, name) != 0);
  }
  for (unsigned i = 0; i < N; i++) {
    snprintf(name, sizeof name, "file-%u", i);
    fsmeta_inode_t in;
    assert_int_equal(fsmeta_unlink(m, d.ino, name, false, &in), 0);
    assert_int_equal(fsmeta_reap(m, in.ino), 0);
  }
  assert_int_equal(get(m, d.ino).size, 0);
  uint64_t count;
  assert_int_equal(fsmeta_count(m, &count), 0);
  assert_int_equal(count, 2);
  assert_int_equal(fsmeta_unlink(m, FSMETA_INO_ROOT, "d", true, NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_record_codec),
      cmocka_unit_test_setup_teardown(test_create_each_type, setup, teardown),
      cmocka_unit_test_setup_teardown(test_link_unlink_orphans, setup, teardown),
      cmocka_unit_test_setup_teardown(test_link_max, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rename_simple_and_replace, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rename_directories, setup, teardown),
      cmocka_unit_test_setup_teardown(test_update_sync, setup, teardown),
      cmocka_unit_test_setup_teardown(test_xattrs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_readdir_large, setup, teardown),
      cmocka_unit_test_setup_teardown(test_each_staged, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gc_roots, setup, teardown),
      cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_creates, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cid_matches_importer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cid_sharded_directory, setup, teardown),
      cmocka_unit_test_setup_teardown(test_crash_consistency, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_create_lookup_unlink, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
