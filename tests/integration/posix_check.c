/*
 * posix_check: a POSIX semantics suite for a directory tree (the mount's
 * files/ and, as the oracle that proves the suite, a native ext4/tmpfs
 * directory).  Written for this project; it covers the ground pjdfstest covers
 * (chmod, chown, link, mkdir, mkfifo, open, rename, rmdir, symlink, truncate,
 * unlink, utimensat, xattrs) plus what backup tools lean on: sparse files and
 * SEEK_DATA/SEEK_HOLE, fallocate, shared writable mmap, random pread/pwrite
 * against a model, a file past 4 GiB, statfs, timestamps, and permission
 * checks made by unprivileged users (forked children that switch uid/gid).
 *
 *   posix_check DIR                    run every check under DIR (created if missing)
 *   posix_check DIR --only SUBSTRING   run the checks whose name contains SUBSTRING
 *   posix_check DIR --verify-persist   check the fixture a full run left in DIR/persist
 *
 * Output is TAP: "1..N", then "ok N - name" or "not ok N - name: detail" per
 * check; "# note: ..." lines report what the suite observes but cannot call
 * wrong (optional semantics).  Exit status 0 when every check passed, 1 when
 * one failed, 2 on bad usage, 77 when not run as root (chown and the uid
 * switches need it).
 *
 * Each check runs in its own forked process (a crash or a hang costs one
 * check, not the run; CHECK_TIMEOUT_S bounds it) with its own subdirectory
 * DIR/NN-name as the working directory; every path inside is relative, so the
 * unprivileged children need no search permission on DIR's ancestors.  A
 * failing check writes its detail into a shared page the parent prints.
 *
 * Within a check the first failed assertion ends it, except the SOFT_ ones
 * (independent facts), which are all reported.  Checks: mkdir rmdir readdir
 * readdir-big readdir-rewind names dirfd chmod chown link unlink unlink-open
 * mkfifo open rename rename2 symlink truncate utimensat timestamps
 * mtime-after-write xattr xattr-names acl seek-hole fallocate mmap random-io
 * rewrite copy 4gib statfs fsync concurrent rename-storm locks exec perm-files
 * perm-chown perm-sticky perm-setgid perm-killpriv persist (the fixture:
 * DIR/persist).
 *
 * Users: U1 (65534), U2 (65533), U3 (65532); groups G1 (65534), G2 (65533),
 * GS (65530, "shared").  None needs to exist in /etc/passwd.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define DETAIL_BYTES 4096       /* one failure's message */
#define CHECK_TIMEOUT_S 120     /* one check, wall clock */
#define PATH_BYTES 4096
#define U1 65534
#define U2 65533
#define U3 65532
#define G1 65534
#define G2 65533
#define GS 65530
#define NO_GROUP ((gid_t)-1)
#define MIB (1024L * 1024L)
#define GIB (1024L * MIB)

static char *g_detail;     /* shared page: the failing check's message */
static bool g_child;       /* in an unprivileged child: a failure exits */

static void set_detail(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_detail(int line, const char *fmt, ...)
{
  /* appends: soft failures before a hard one are kept */
  size_t used = strnlen(g_detail, DETAIL_BYTES - 1);
  int n = snprintf(g_detail + used, DETAIL_BYTES - used, "%sline %d%s: ", used ? "; " : "", line, g_child ? " (as user)" : "");
  if (n < 0 || (size_t)n >= DETAIL_BYTES - used) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_detail + used + (size_t)n, DETAIL_BYTES - used - (size_t)n, fmt, ap);
  va_end(ap);
}

static const char *ename(int e)
{
  const char *s = strerrorname_np(e);
  return s ? s : "E?";
}

/* A failure records its detail; the check returns -1 (a user child exits 1). */
#define FAILF(...) do { set_detail(__LINE__, __VA_ARGS__); if (g_child) _exit(1); return -1; } while (0)
#define CHECK(cond, ...) do { if (!(cond)) FAILF(__VA_ARGS__); } while (0)
#define TRY(call) do { errno = 0; if ((long)(call) < 0) FAILF("%s: %s", #call, ename(errno)); } while (0)
/* TRYV(var, call): var = call, failing on -1 */
#define TRYV(var, call) do { errno = 0; (var) = (call); if ((long)(var) < 0) FAILF("%s: %s", #call, ename(errno)); } while (0)
#define EXPECT_ERR(call, e) do { errno = 0; long r_ = (long)(call); \
    if (r_ != -1 || errno != (e)) FAILF("%s: want %s, got %s", #call, ename(e), r_ == -1 ? ename(errno) : "success"); } while (0)
/* either of two errnos is allowed by POSIX */
#define EXPECT_ERR2(call, e1, e2) do { errno = 0; long r_ = (long)(call); \
    if (r_ != -1 || (errno != (e1) && errno != (e2))) FAILF("%s: want %s or %s, got %s", #call, ename(e1), ename(e2), r_ == -1 ? ename(errno) : "success"); } while (0)

/* Soft assertions record a failure and go on (for independent facts, so one
 * failure does not hide the next); SOFT_END fails the check if any did. */
static int g_soft;
#define SOFT_CHECK(cond, ...) do { if (!(cond)) { set_detail(__LINE__, __VA_ARGS__); g_soft++; } } while (0)
#define SOFT_ERR(call, e) do { errno = 0; long r_ = (long)(call); \
    SOFT_CHECK(r_ == -1 && errno == (e), "%s: want %s, got %s", #call, ename(e), r_ == -1 ? ename(errno) : "success"); } while (0)
#define SOFT_END() do { if (g_soft) { if (g_child) _exit(1); return -1; } } while (0)

#define note(...) do { printf("# note: " __VA_ARGS__); printf("\n"); fflush(stdout); } while (0)

/* ---- helpers ---------------------------------------------------------- */

static int ts_cmp(struct timespec a, struct timespec b)
{
  if (a.tv_sec != b.tv_sec) return a.tv_sec < b.tv_sec ? -1 : 1;
  if (a.tv_nsec != b.tv_nsec) return a.tv_nsec < b.tv_nsec ? -1 : 1;
  return 0;
}

/* Lets the clock move on so a changed ctime is visible (coarse clocks). */
static void tick(void)
{
  struct timespec d = {0, 30 * 1000 * 1000};
  nanosleep(&d, NULL);
}

static int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0) return -1;
  ssize_t w = write(fd, data, len);
  int e = errno;
  close(fd);
  if (w != (ssize_t)len) { errno = w < 0 ? e : EIO; return -1; }
  return 0;
}

/* Reads up to cap bytes of path into buf; returns the count or -1. */
static ssize_t read_file(const char *path, void *buf, size_t cap)
{
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  size_t got = 0;
  for (;;) {
    ssize_t r = read(fd, (char *)buf + got, cap - got);
    if (r < 0) { int e = errno; close(fd); errno = e; return -1; }
    if (r == 0 || got + (size_t)r == cap) { got += (size_t)r; break; }
    got += (size_t)r;
  }
  close(fd);
  return (ssize_t)got;
}

static ssize_t pread_full(int fd, void *buf, size_t len, off_t off)
{
  size_t got = 0;
  while (got < len) {
    ssize_t r = pread(fd, (char *)buf + got, len - got, off + (off_t)got);
    if (r < 0) return -1;
    if (r == 0) break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

static ssize_t pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
  size_t done = 0;
  while (done < len) {
    ssize_t w = pwrite(fd, (const char *)buf + done, len - done, off + (off_t)done);
    if (w <= 0) return -1;
    done += (size_t)w;
  }
  return (ssize_t)done;
}

static bool all_zero(const unsigned char *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (p[i]) return false;
  return true;
}

/* Does directory path list name? 1 yes, 0 no, -1 error. */
static int dir_has(const char *path, const char *name)
{
  DIR *d = opendir(path);
  if (!d) return -1;
  int found = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (!strcmp(e->d_name, name)) found = 1;
  closedir(d);
  return found;
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}

/* Forks a child that drops to uid/gid (plus one supplementary group, or
 * NO_GROUP).  Returns 0 in the child, the pid in the parent, -1 on error. */
static pid_t user_fork(uid_t uid, gid_t gid, gid_t extra)
{
  fflush(stdout);
  pid_t p = fork();
  if (p != 0) return p;
  g_child = true;
  gid_t groups[2] = {gid, extra};
  if (setgroups(extra == NO_GROUP ? 1 : 2, groups) < 0) FAILF("setgroups: %s", ename(errno));
  if (setresgid(gid, gid, gid) < 0) FAILF("setresgid: %s", ename(errno));
  if (setresuid(uid, uid, uid) < 0) FAILF("setresuid: %s", ename(errno));
  return 0;
}

/* Waits for a user_fork child; 0 when it exited 0 (its failure detail is
 * already in g_detail otherwise). */
static int user_wait(pid_t p)
{
  int status;
  if (p < 0) { snprintf(g_detail, DETAIL_BYTES, "fork: %s", ename(errno)); return -1; }
  if (waitpid(p, &status, 0) < 0) { snprintf(g_detail, DETAIL_BYTES, "waitpid: %s", ename(errno)); return -1; }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  if (!g_detail[0]) snprintf(g_detail, DETAIL_BYTES, "user child died (status 0x%x)", status);
  return -1;
}
#define AS_USER_END(p) do { if (p == 0) _exit(0); if (user_wait(p) < 0) return -1; } while (0)

/* ---- mkdir, rmdir, readdir --------------------------------------------- */

static int check_mkdir(void)
{
  struct stat st, pst0, pst1;
  TRY(stat(".", &pst0));
  tick();
  TRY(mkdir("d", 0751));
  TRY(stat("d", &st));
  CHECK(S_ISDIR(st.st_mode), "not a directory: 0%o", st.st_mode);
  CHECK((st.st_mode & 07777) == 0751, "mode 0%o, want 0751", st.st_mode & 07777);
  CHECK(st.st_uid == 0 && st.st_gid == 0, "owner %u:%u, want 0:0", st.st_uid, st.st_gid);
  TRY(stat(".", &pst1));
  CHECK(ts_cmp(pst1.st_mtim, pst0.st_mtim) > 0, "parent mtime unchanged by mkdir");
  CHECK(ts_cmp(pst1.st_ctim, pst0.st_ctim) > 0, "parent ctime unchanged by mkdir");
  if (st.st_nlink != 2 || pst1.st_nlink != pst0.st_nlink + 1)
    note("directory link counts: new dir %ju (ext4: 2), parent %ju -> %ju (ext4: +1)",
         (uintmax_t)st.st_nlink, (uintmax_t)pst0.st_nlink, (uintmax_t)pst1.st_nlink);
  TRY(mkdir("sticky", 01777));
  TRY(stat("sticky", &st));
  CHECK((st.st_mode & 07777) == 01777, "mode 0%o, want 01777 (sticky kept)", st.st_mode & 07777);
  umask(027);
  TRY(mkdir("masked", 0777));
  umask(0);
  TRY(stat("masked", &st));
  CHECK((st.st_mode & 07777) == 0750, "umask 027: mode 0%o, want 0750", st.st_mode & 07777);
  EXPECT_ERR(mkdir("d", 0755), EEXIST);
  EXPECT_ERR(mkdir("missing/d", 0755), ENOENT);
  TRY(write_file("f", "x", 1, 0644));
  EXPECT_ERR(mkdir("f", 0755), EEXIST);
  EXPECT_ERR(mkdir("f/d", 0755), ENOTDIR);
  TRY(symlink("nowhere", "dangling"));
  EXPECT_ERR(mkdir("dangling", 0755), EEXIST);
  char longname[300];
  memset(longname, 'n', 256);
  longname[256] = 0;
  EXPECT_ERR(mkdir(longname, 0755), ENAMETOOLONG);
  longname[255] = 0;
  TRY(mkdir(longname, 0755));
  TRY(stat(longname, &st));
  CHECK(dir_has(".", longname) == 1, "255-byte name not listed");
  /* nested and the .. entry */
  TRY(mkdir("d/e", 0755));
  struct stat d, dotdot;
  TRY(stat("d", &d));
  TRY(stat("d/e/..", &dotdot));
  CHECK(d.st_ino == dotdot.st_ino, "d/e/.. is not d");
  return 0;
}

static int check_rmdir(void)
{
  struct stat st, p0, p1;
  TRY(mkdir("d", 0755));
  TRY(mkdir("full", 0755));
  TRY(write_file("full/f", "x", 1, 0644));
  TRY(write_file("file", "x", 1, 0644));
  TRY(stat(".", &p0));
  tick();
  TRY(rmdir("d"));
  EXPECT_ERR(stat("d", &st), ENOENT);
  TRY(stat(".", &p1));
  CHECK(ts_cmp(p1.st_mtim, p0.st_mtim) > 0, "parent mtime unchanged by rmdir");
  if (p1.st_nlink != p0.st_nlink - 1)
    note("rmdir: parent nlink %ju -> %ju (ext4: -1)", (uintmax_t)p0.st_nlink, (uintmax_t)p1.st_nlink);
  CHECK(dir_has(".", "d") == 0, "removed dir still listed");
  EXPECT_ERR2(rmdir("full"), ENOTEMPTY, EEXIST);
  EXPECT_ERR(rmdir("file"), ENOTDIR);
  EXPECT_ERR(rmdir("nothing"), ENOENT);
  EXPECT_ERR(rmdir("full/."), EINVAL);
  EXPECT_ERR2(rmdir("full/.."), ENOTEMPTY, EEXIST);
  TRY(symlink("full", "link"));
  EXPECT_ERR(rmdir("link"), ENOTDIR);
  /* a directory removed while it is the cwd of a process */
  TRY(mkdir("cwd", 0755));
  pid_t p = fork();
  if (p == 0) {
    if (chdir("cwd") < 0) _exit(2);
    if (rmdir("../cwd") < 0) _exit(3);
    errno = 0;
    int fd = open("new", O_CREAT | O_WRONLY, 0644);
    _exit(fd < 0 && errno == ENOENT ? 0 : 4);
  }
  int status;
  TRY(waitpid(p, &status, 0));
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "rmdir of a process's cwd then create inside: child step %d failed (want ENOENT on create)",
        WEXITSTATUS(status));
  return 0;
}

static int check_readdir(void)
{
  enum { N = 300 };
  char name[64];
  TRY(mkdir("d", 0755));
  for (int i = 0; i < N; i++) {
    snprintf(name, sizeof name, "d/entry-%03d%s", i, i % 3 == 0 ? "-dir" : "");
    if (i % 3 == 0) TRY(mkdir(name, 0755));
    else if (i % 3 == 1) TRY(write_file(name, "x", 1, 0644));
    else TRY(symlink("target", name));
  }
  static unsigned char seen[N];
  int dots = 0, count = 0;
  DIR *d = opendir("d");
  CHECK(d, "opendir: %s", ename(errno));
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) { dots++; continue; }
    int i;
    char suffix[8] = "";
    if (sscanf(e->d_name, "entry-%3d%7s", &i, suffix) < 1 || i < 0 || i >= N) {
      closedir(d);
      FAILF("unexpected entry %s", e->d_name);
    }
    if (seen[i]++) { closedir(d); FAILF("entry %s listed twice", e->d_name); }
    count++;
    char path[300];
    snprintf(path, sizeof path, "d/%s", e->d_name);
    struct stat st;
    if (lstat(path, &st) < 0) { closedir(d); FAILF("lstat %s: %s", path, ename(errno)); }
    if (e->d_ino != st.st_ino) { closedir(d); FAILF("%s: d_ino %ju, st_ino %ju", path, (uintmax_t)e->d_ino, (uintmax_t)st.st_ino); }
    unsigned want = i % 3 == 0 ? DT_DIR : i % 3 == 1 ? DT_REG : DT_LNK;
    if (e->d_type != DT_UNKNOWN && e->d_type != want) { closedir(d); FAILF("%s: d_type %u, want %u", path, e->d_type, want); }
    if (e->d_type == DT_UNKNOWN) note("readdir gives DT_UNKNOWN for %s", path);
  }
  closedir(d);
  CHECK(dots == 2, ". and .. listed %d times, want 2", dots);
  CHECK(count == N, "listed %d entries, want %d", count, N);
  return 0;
}

/* ---- chmod, chown ------------------------------------------------------- */

static int check_chmod(void)
{
  struct stat st, st0;
  TRY(write_file("f", "x", 1, 0644));
  TRY(stat("f", &st0));
  tick();
  TRY(chmod("f", 0600));
  TRY(stat("f", &st));
  CHECK((st.st_mode & 07777) == 0600, "mode 0%o, want 0600", st.st_mode & 07777);
  CHECK(ts_cmp(st.st_ctim, st0.st_ctim) > 0, "ctime unchanged by chmod");
  CHECK(ts_cmp(st.st_mtim, st0.st_mtim) == 0, "mtime changed by chmod");
  static const mode_t modes[] = {0, 07777, 04755, 02755, 01644, 0444, 0111};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    TRY(chmod("f", modes[i]));
    TRY(stat("f", &st));
    CHECK((st.st_mode & 07777) == modes[i], "chmod 0%o: mode 0%o", modes[i], st.st_mode & 07777);
    CHECK(S_ISREG(st.st_mode), "file type lost by chmod 0%o", modes[i]);
  }
  TRY(mkdir("d", 0755));
  TRY(chmod("d", 03770));
  TRY(stat("d", &st));
  CHECK((st.st_mode & 07777) == 03770 && S_ISDIR(st.st_mode), "dir chmod: mode 0%o", st.st_mode);
  /* through a symlink: the target changes, the link does not */
  TRY(symlink("f", "link"));
  struct stat lst0, lst1;
  TRY(lstat("link", &lst0));
  TRY(chmod("link", 0640));
  TRY(stat("f", &st));
  TRY(lstat("link", &lst1));
  CHECK((st.st_mode & 07777) == 0640, "chmod via symlink: target mode 0%o", st.st_mode & 07777);
  CHECK(lst0.st_mode == lst1.st_mode, "chmod via symlink changed the link's mode");
  int fd;
  TRYV(fd, open("f", O_RDONLY));
  TRY(fchmod(fd, 0604));
  TRY(fstat(fd, &st));
  close(fd);
  CHECK((st.st_mode & 07777) == 0604, "fchmod: mode 0%o", st.st_mode & 07777);
  EXPECT_ERR(chmod("missing", 0644), ENOENT);
  EXPECT_ERR(chmod("f/x", 0644), ENOTDIR);
  /* the mode persists through a fresh lookup */
  TRY(stat("./f", &st));
  CHECK((st.st_mode & 07777) == 0604, "mode after re-lookup 0%o", st.st_mode & 07777);
  return 0;
}

static int check_chown(void)
{
  struct stat st, st0;
  TRY(write_file("f", "x", 1, 0644));
  TRY(stat("f", &st0));
  tick();
  TRY(chown("f", U1, G2));
  TRY(stat("f", &st));
  CHECK(st.st_uid == U1 && st.st_gid == G2, "owner %u:%u, want %u:%u", st.st_uid, st.st_gid, U1, G2);
  CHECK(ts_cmp(st.st_ctim, st0.st_ctim) > 0, "ctime unchanged by chown");
  TRY(chown("f", (uid_t)-1, GS));
  TRY(stat("f", &st));
  CHECK(st.st_uid == U1 && st.st_gid == GS, "chown -1:GS: owner %u:%u", st.st_uid, st.st_gid);
  TRY(chown("f", U2, (gid_t)-1));
  TRY(stat("f", &st));
  CHECK(st.st_uid == U2 && st.st_gid == GS, "chown U2:-1: owner %u:%u", st.st_uid, st.st_gid);
  /* a root chown of a regular file clears set-user-ID, and set-group-ID when
   * the group may execute (Linux; ext4 and tmpfs alike) */
  TRY(chmod("f", 06755));
  TRY(chown("f", U1, G1));
  TRY(stat("f", &st));
  CHECK((st.st_mode & 07777) == 0755, "root chown of a 06755 file: mode 0%o, want 0755", st.st_mode & 07777);
  TRY(chmod("f", 02745));
  TRY(chown("f", U2, G2));
  TRY(stat("f", &st));
  CHECK((st.st_mode & 07777) == 02745, "chown of a 02745 file (no group exec): mode 0%o, want 02745", st.st_mode & 07777);
  /* directories keep their bits */
  TRY(mkdir("d", 06755));
  TRY(chmod("d", 06755));
  TRY(chown("d", U1, G1));
  TRY(stat("d", &st));
  CHECK((st.st_mode & 07777) == 06755, "chown of a 06755 dir: mode 0%o", st.st_mode & 07777);
  /* lchown changes the link, chown follows it */
  TRY(write_file("t", "x", 1, 0644));
  TRY(symlink("t", "link"));
  TRY(lchown("link", U1, G1));
  struct stat lst;
  TRY(lstat("link", &lst));
  TRY(stat("t", &st));
  CHECK(lst.st_uid == U1 && lst.st_gid == G1, "lchown: link owner %u:%u", lst.st_uid, lst.st_gid);
  CHECK(st.st_uid == 0 && st.st_gid == 0, "lchown changed the target: %u:%u", st.st_uid, st.st_gid);
  TRY(chown("link", U2, G2));
  TRY(stat("t", &st));
  TRY(lstat("link", &lst));
  CHECK(st.st_uid == U2 && st.st_gid == G2, "chown via link: target %u:%u", st.st_uid, st.st_gid);
  CHECK(lst.st_uid == U1, "chown via link changed the link's owner to %u", lst.st_uid);
  int fd;
  TRYV(fd, open("t", O_RDONLY));
  TRY(fchown(fd, U3, GS));
  TRY(fstat(fd, &st));
  close(fd);
  CHECK(st.st_uid == U3 && st.st_gid == GS, "fchown: %u:%u", st.st_uid, st.st_gid);
  EXPECT_ERR(chown("missing", 0, 0), ENOENT);
  return 0;
}

/* ---- link, unlink -------------------------------------------------------- */

static int check_link(void)
{
  struct stat a, b, a0;
  TRY(write_file("a", "hello", 5, 0644));
  TRY(stat("a", &a0));
  CHECK(a0.st_nlink == 1, "new file nlink %ju", (uintmax_t)a0.st_nlink);
  struct stat p0, p1;
  TRY(stat(".", &p0));
  tick();
  TRY(link("a", "b"));
  TRY(stat("a", &a));
  TRY(stat("b", &b));
  TRY(stat(".", &p1));
  CHECK(a.st_ino == b.st_ino, "hard link has another inode %ju vs %ju", (uintmax_t)a.st_ino, (uintmax_t)b.st_ino);
  CHECK(a.st_nlink == 2 && b.st_nlink == 2, "nlink %ju/%ju, want 2", (uintmax_t)a.st_nlink, (uintmax_t)b.st_nlink);
  CHECK(ts_cmp(a.st_ctim, a0.st_ctim) > 0, "ctime unchanged by link");
  CHECK(ts_cmp(p1.st_mtim, p0.st_mtim) > 0, "parent mtime unchanged by link");
  TRY(mkdir("sub", 0755));
  TRY(link("b", "sub/c"));
  TRY(stat("a", &a));
  CHECK(a.st_nlink == 3, "nlink %ju after a third name, want 3", (uintmax_t)a.st_nlink);
  /* a write through one name shows through the others */
  int fd;
  TRYV(fd, open("sub/c", O_WRONLY | O_APPEND));
  TRY(write(fd, " world", 6));
  close(fd);
  char buf[64] = {0};
  CHECK(read_file("a", buf, sizeof buf) == 11 && !memcmp(buf, "hello world", 11), "content via a: '%s'", buf);
  TRY(chmod("b", 0600));
  TRY(stat("sub/c", &b));
  CHECK((b.st_mode & 07777) == 0600, "chmod through b not seen through sub/c: 0%o", b.st_mode & 07777);
  TRY(unlink("a"));
  TRY(stat("b", &b));
  CHECK(b.st_nlink == 2, "nlink %ju after unlink, want 2", (uintmax_t)b.st_nlink);
  memset(buf, 0, sizeof buf);
  CHECK(read_file("b", buf, sizeof buf) == 11 && !memcmp(buf, "hello world", 11), "content after unlink: '%s'", buf);
  EXPECT_ERR(link("b", "sub/c"), EEXIST);
  EXPECT_ERR(link("missing", "x"), ENOENT);
  EXPECT_ERR(link("b", "missing/x"), ENOENT);
  EXPECT_ERR(link("sub", "subdir-link"), EPERM);
  TRY(symlink("b", "sym"));
  EXPECT_ERR(link("b", "sym"), EEXIST);
  /* link(2) on Linux links the symlink itself; AT_SYMLINK_FOLLOW the target */
  TRY(linkat(AT_FDCWD, "sym", AT_FDCWD, "sym2", 0));
  struct stat s1, s2;
  TRY(lstat("sym", &s1));
  TRY(lstat("sym2", &s2));
  CHECK(S_ISLNK(s2.st_mode) && s1.st_ino == s2.st_ino && s2.st_nlink == 2, "linkat of a symlink: not the same symlink inode (nlink %ju)", (uintmax_t)s2.st_nlink);
  TRY(linkat(AT_FDCWD, "sym", AT_FDCWD, "followed", AT_SYMLINK_FOLLOW));
  TRY(lstat("followed", &s2));
  TRY(stat("b", &b));
  CHECK(S_ISREG(s2.st_mode) && s2.st_ino == b.st_ino && b.st_nlink == 3, "AT_SYMLINK_FOLLOW: not linked to the target");
  TRY(mkfifo("fifo", 0644));
  TRY(link("fifo", "fifo2"));
  TRY(lstat("fifo2", &s2));
  CHECK(S_ISFIFO(s2.st_mode) && s2.st_nlink == 2, "hard link of a fifo");
  /* rename of one name over another name of the same inode does nothing */
  TRY(rename("b", "followed"));
  TRY(stat("b", &b));
  TRY(stat("followed", &s2));
  CHECK(b.st_nlink == 3, "rename between names of one inode: nlink %ju, want 3", (uintmax_t)b.st_nlink);
  return 0;
}

static int check_unlink(void)
{
  struct stat st, p0, p1;
  TRY(write_file("f", "x", 1, 0644));
  TRY(stat(".", &p0));
  tick();
  TRY(unlink("f"));
  EXPECT_ERR(stat("f", &st), ENOENT);
  TRY(stat(".", &p1));
  CHECK(ts_cmp(p1.st_mtim, p0.st_mtim) > 0, "parent mtime unchanged by unlink");
  CHECK(ts_cmp(p1.st_ctim, p0.st_ctim) > 0, "parent ctime unchanged by unlink");
  EXPECT_ERR(unlink("f"), ENOENT);
  TRY(mkdir("d", 0755));
  EXPECT_ERR(unlink("d"), EISDIR);
  TRY(write_file("t", "target", 6, 0644));
  TRY(symlink("t", "link"));
  TRY(unlink("link"));
  TRY(stat("t", &st));
  CHECK(st.st_size == 6, "unlink of a symlink hurt its target");
  EXPECT_ERR(unlink("t/x"), ENOTDIR);
  TRY(mkfifo("fifo", 0644));
  TRY(unlink("fifo"));
  /* ctime of a file that keeps another name */
  TRY(link("t", "t2"));
  struct stat t0;
  TRY(stat("t", &t0));
  tick();
  TRY(unlink("t2"));
  TRY(stat("t", &st));
  CHECK(st.st_nlink == 1, "nlink %ju", (uintmax_t)st.st_nlink);
  CHECK(ts_cmp(st.st_ctim, t0.st_ctim) > 0, "ctime unchanged by unlink of another name");
  return 0;
}

static int check_unlink_open(void)
{
  int fd, fd2;
  TRYV(fd, open("f", O_RDWR | O_CREAT, 0644));
  TRY(pwrite_full(fd, "hello", 5, 0));
  TRYV(fd2, open("f", O_RDONLY));
  TRY(unlink("f"));
  struct stat st;
  EXPECT_ERR(stat("f", &st), ENOENT);
  CHECK(dir_has(".", "f") == 0, "unlinked file still listed");
  TRY(fstat(fd, &st));
  CHECK(st.st_nlink == 0, "fstat of the unlinked file: nlink %ju, want 0", (uintmax_t)st.st_nlink);
  char buf[64] = {0};
  CHECK(pread(fd, buf, sizeof buf, 0) == 5 && !memcmp(buf, "hello", 5), "read back: '%s'", buf);
  TRY(pwrite_full(fd, " world", 6, 5));
  memset(buf, 0, sizeof buf);
  CHECK(pread(fd2, buf, sizeof buf, 0) == 11 && !memcmp(buf, "hello world", 11), "second fd reads '%s'", buf);
  TRY(ftruncate(fd, 3));
  TRY(fstat(fd2, &st));
  CHECK(st.st_size == 3, "size %jd after ftruncate of the unlinked file", (intmax_t)st.st_size);
  TRY(fchmod(fd, 0600));
  TRY(fstat(fd, &st));
  CHECK((st.st_mode & 07777) == 0600, "fchmod of an unlinked file: 0%o", st.st_mode & 07777);
  /* a new file of the same name is another file */
  TRY(write_file("f", "new", 3, 0644));
  memset(buf, 0, sizeof buf);
  CHECK(pread(fd, buf, sizeof buf, 0) == 3 && !memcmp(buf, "hel", 3), "old fd sees '%s'", buf);
  memset(buf, 0, sizeof buf);
  CHECK(read_file("f", buf, sizeof buf) == 3 && !memcmp(buf, "new", 3), "new file has '%s'", buf);
  TRY(fsync(fd));
  close(fd);
  memset(buf, 0, sizeof buf);
  CHECK(pread(fd2, buf, sizeof buf, 0) == 3 && !memcmp(buf, "hel", 3), "after the first close, second fd sees '%s'", buf);
  close(fd2);
  memset(buf, 0, sizeof buf);
  CHECK(read_file("f", buf, sizeof buf) == 3 && !memcmp(buf, "new", 3), "after close, new file has '%s'", buf);
  /* an unlinked directory kept open */
  TRY(mkdir("d", 0755));
  int dfd;
  TRYV(dfd, open("d", O_RDONLY | O_DIRECTORY));
  TRY(rmdir("d"));
  TRY(fstat(dfd, &st));
  CHECK(S_ISDIR(st.st_mode), "fstat of a removed dir");
  EXPECT_ERR(openat(dfd, "x", O_CREAT | O_WRONLY, 0644), ENOENT);
  close(dfd);
  return 0;
}

/* ---- mkfifo, mknod ------------------------------------------------------- */

static int check_mkfifo(void)
{
  struct stat st, p0, p1;
  TRY(stat(".", &p0));
  tick();
  TRY(mkfifo("fifo", 0640));
  TRY(lstat("fifo", &st));
  TRY(stat(".", &p1));
  CHECK(S_ISFIFO(st.st_mode), "not a fifo: 0%o", st.st_mode);
  CHECK((st.st_mode & 07777) == 0640, "mode 0%o, want 0640", st.st_mode & 07777);
  CHECK(st.st_size == 0, "fifo size %jd", (intmax_t)st.st_size);
  CHECK(ts_cmp(p1.st_mtim, p0.st_mtim) > 0, "parent mtime unchanged by mkfifo");
  EXPECT_ERR(mkfifo("fifo", 0644), EEXIST);
  EXPECT_ERR(mkfifo("missing/fifo", 0644), ENOENT);
  int fd;
  TRYV(fd, open("fifo", O_RDWR | O_NONBLOCK));
  TRY(write(fd, "ping", 4));
  char buf[8] = {0};
  CHECK(read(fd, buf, sizeof buf) == 4 && !memcmp(buf, "ping", 4), "fifo read '%s'", buf);
  close(fd);
  TRY(mknod("fifo2", S_IFIFO | 0600, 0));
  TRY(lstat("fifo2", &st));
  CHECK(S_ISFIFO(st.st_mode) && (st.st_mode & 07777) == 0600, "mknod S_IFIFO: 0%o", st.st_mode);
  umask(022);
  TRY(mkfifo("masked", 0666));
  umask(0);
  TRY(lstat("masked", &st));
  CHECK((st.st_mode & 07777) == 0644, "umask 022: fifo mode 0%o", st.st_mode & 07777);
  /* optional on a FUSE tree: report what happens */
  if (mknod("reg", S_IFREG | 0644, 0) < 0) note("mknod S_IFREG: %s", ename(errno));
  else if (lstat("reg", &st) < 0 || !S_ISREG(st.st_mode)) note("mknod S_IFREG did not make a regular file");
  if (mknod("chr", S_IFCHR | 0600, makedev(1, 3)) < 0) note("mknod S_IFCHR (as root; rsync -a and tar restore device nodes): %s", ename(errno));
  else if (lstat("chr", &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != (dev_t)makedev(1, 3)) note("mknod S_IFCHR: wrong type or rdev");
  if (mknod("sock", S_IFSOCK | 0600, 0) < 0) note("mknod S_IFSOCK: %s", ename(errno));
  return 0;
}

/* ---- open ---------------------------------------------------------------- */

static int check_open(void)
{
  struct stat st;
  int fd;
  TRYV(fd, open("f", O_CREAT | O_EXCL | O_WRONLY, 0640));
  TRY(fstat(fd, &st));
  CHECK(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0640, "created mode 0%o", st.st_mode);
  CHECK(st.st_size == 0 && st.st_nlink == 1, "new file size %jd nlink %ju", (intmax_t)st.st_size, (uintmax_t)st.st_nlink);
  TRY(write(fd, "0123456789", 10));
  close(fd);
  EXPECT_ERR(open("f", O_CREAT | O_EXCL | O_WRONLY, 0640), EEXIST);
  TRY(symlink("nowhere", "dangling"));
  EXPECT_ERR(open("dangling", O_CREAT | O_EXCL | O_WRONLY, 0640), EEXIST);
  /* O_CREAT without O_EXCL opens the existing file untouched */
  TRYV(fd, open("f", O_CREAT | O_RDWR, 0600));
  TRY(fstat(fd, &st));
  close(fd);
  CHECK(st.st_size == 10 && (st.st_mode & 07777) == 0640, "O_CREAT of an existing file: size %jd mode 0%o", (intmax_t)st.st_size, st.st_mode & 07777);
  /* O_CREAT through a dangling symlink creates its target */
  TRY(symlink("made", "via"));
  TRYV(fd, open("via", O_CREAT | O_WRONLY, 0600));
  close(fd);
  TRY(lstat("made", &st));
  CHECK(S_ISREG(st.st_mode), "O_CREAT via a dangling symlink did not create the target");
  /* umask */
  umask(077);
  TRYV(fd, open("masked", O_CREAT | O_WRONLY, 0666));
  umask(0);
  TRY(fstat(fd, &st));
  close(fd);
  CHECK((st.st_mode & 07777) == 0600, "umask 077: mode 0%o", st.st_mode & 07777);
  /* a mode without write permission still gives the creator a writable fd */
  TRYV(fd, open("ro", O_CREAT | O_RDWR, 0444));
  TRY(write(fd, "w", 1));
  close(fd);
  /* O_APPEND */
  TRYV(fd, open("f", O_WRONLY | O_APPEND));
  TRY(lseek(fd, 0, SEEK_SET));
  TRY(write(fd, "AB", 2));
  off_t pos = lseek(fd, 0, SEEK_CUR);
  close(fd);
  CHECK(pos == 12, "offset after an O_APPEND write: %jd, want 12", (intmax_t)pos);
  char buf[64] = {0};
  CHECK(read_file("f", buf, sizeof buf) == 12 && !memcmp(buf, "0123456789AB", 12), "O_APPEND: content '%s'", buf);
  int a1, a2;
  TRYV(a1, open("f", O_WRONLY | O_APPEND));
  TRYV(a2, open("f", O_WRONLY | O_APPEND));
  for (int i = 0; i < 20; i++) {
    TRY(write(i % 2 ? a2 : a1, i % 2 ? "y" : "x", 1));
  }
  close(a1);
  close(a2);
  memset(buf, 0, sizeof buf);
  CHECK(read_file("f", buf, sizeof buf) == 32 && !memcmp(buf + 12, "xyxyxyxyxyxyxyxyxyxy", 20), "two O_APPEND fds: '%s'", buf);
  /* O_TRUNC */
  struct stat st0;
  TRY(stat("f", &st0));
  tick();
  TRYV(fd, open("f", O_WRONLY | O_TRUNC));
  TRY(fstat(fd, &st));
  close(fd);
  CHECK(st.st_size == 0, "O_TRUNC: size %jd", (intmax_t)st.st_size);
  CHECK(ts_cmp(st.st_mtim, st0.st_mtim) > 0 && ts_cmp(st.st_ctim, st0.st_ctim) > 0, "O_TRUNC did not update mtime and ctime");
  CHECK(read_file("f", buf, sizeof buf) == 0, "O_TRUNC: content remains");
  /* O_DIRECTORY */
  TRY(mkdir("d", 0755));
  TRYV(fd, open("d", O_RDONLY | O_DIRECTORY));
  close(fd);
  EXPECT_ERR(open("f", O_RDONLY | O_DIRECTORY), ENOTDIR);
  TRY(symlink("d", "dlink"));
  TRYV(fd, open("dlink", O_RDONLY | O_DIRECTORY));
  close(fd);
  EXPECT_ERR(open("d", O_WRONLY), EISDIR);
  EXPECT_ERR(open("d", O_RDWR), EISDIR);
  EXPECT_ERR(open("d", O_CREAT | O_WRONLY, 0644), EISDIR);
  /* O_NOFOLLOW */
  TRY(symlink("f", "flink"));
  EXPECT_ERR(open("flink", O_RDONLY | O_NOFOLLOW), ELOOP);
  EXPECT_ERR(open("dangling", O_RDONLY | O_NOFOLLOW), ELOOP);
  EXPECT_ERR(open("flink", O_CREAT | O_WRONLY | O_NOFOLLOW, 0644), ELOOP);
  TRYV(fd, open("dlink/../f", O_RDONLY | O_NOFOLLOW)); /* only the last component */
  close(fd);
  TRYV(fd, open("flink", O_PATH | O_NOFOLLOW));
  TRY(fstat(fd, &st));
  close(fd);
  CHECK(S_ISLNK(st.st_mode), "O_PATH|O_NOFOLLOW: not the symlink");
  /* paths */
  EXPECT_ERR(open("missing", O_RDONLY), ENOENT);
  EXPECT_ERR(open("missing/x", O_CREAT | O_WRONLY, 0644), ENOENT);
  EXPECT_ERR(open("f/x", O_RDONLY), ENOTDIR);
  EXPECT_ERR(open("f/", O_RDONLY), ENOTDIR);
  EXPECT_ERR(open("new/", O_CREAT | O_WRONLY, 0644), EISDIR);
  char longname[300];
  memset(longname, 'n', 256);
  longname[256] = 0;
  EXPECT_ERR(open(longname, O_CREAT | O_WRONLY, 0644), ENAMETOOLONG);
  /* O_TMPFILE is optional for a FUSE tree */
  fd = open(".", O_TMPFILE | O_RDWR, 0600);
  if (fd < 0) note("O_TMPFILE: %s", ename(errno));
  else close(fd);
  return 0;
}

/* ---- rename -------------------------------------------------------------- */

static int check_rename(void)
{
  struct stat st, old, tgt;
  char buf[64];
  /* a file to a new name */
  TRY(write_file("a", "AAA", 3, 0644));
  TRY(stat("a", &old));
  struct stat p0, p1;
  TRY(stat(".", &p0));
  tick();
  TRY(rename("a", "b"));
  EXPECT_ERR(stat("a", &st), ENOENT);
  TRY(stat("b", &st));
  TRY(stat(".", &p1));
  CHECK(st.st_ino == old.st_ino, "rename changed the inode number");
  CHECK(ts_cmp(p1.st_mtim, p0.st_mtim) > 0, "parent mtime unchanged by rename");
  if (ts_cmp(st.st_ctim, old.st_ctim) <= 0) note("rename did not update the file's ctime (ext4 does; POSIX allows either)");
  CHECK(dir_has(".", "a") == 0 && dir_has(".", "b") == 1, "listing after rename");
  /* replacing: the old target goes, an fd on it still reads it */
  TRY(write_file("c", "CCCC", 4, 0644));
  TRY(link("c", "c2"));
  int fd;
  TRYV(fd, open("c", O_RDONLY));
  TRY(stat("b", &old));
  TRY(rename("b", "c"));
  TRY(stat("c", &st));
  CHECK(st.st_ino == old.st_ino, "replace: c is not the renamed b");
  memset(buf, 0, sizeof buf);
  CHECK(read_file("c", buf, sizeof buf) == 3 && !memcmp(buf, "AAA", 3), "replace: c has '%s'", buf);
  TRY(stat("c2", &tgt));
  CHECK(tgt.st_nlink == 1, "replaced target's other name: nlink %ju, want 1", (uintmax_t)tgt.st_nlink);
  memset(buf, 0, sizeof buf);
  CHECK(pread(fd, buf, sizeof buf, 0) == 4 && !memcmp(buf, "CCCC", 4), "fd on the replaced file reads '%s'", buf);
  close(fd);
  /* across directories */
  TRY(mkdir("d1", 0755));
  TRY(mkdir("d2", 0755));
  TRY(write_file("d1/f", "F", 1, 0644));
  TRY(rename("d1/f", "d2/g"));
  CHECK(dir_has("d1", "f") == 0 && dir_has("d2", "g") == 1, "rename across directories: listings");
  /* a directory: across parents, .. follows, nlink moves */
  TRY(mkdir("d1/sub", 0755));
  TRY(write_file("d1/sub/inner", "I", 1, 0644));
  struct stat d1a, d2a, d1b, d2b, dd;
  TRY(stat("d1", &d1a));
  TRY(stat("d2", &d2a));
  TRY(rename("d1/sub", "d2/moved"));
  TRY(stat("d1", &d1b));
  TRY(stat("d2", &d2b));
  TRY(stat("d2/moved/..", &dd));
  CHECK(dd.st_ino == d2b.st_ino, "moved dir's .. is not its new parent");
  memset(buf, 0, sizeof buf);
  CHECK(read_file("d2/moved/inner", buf, sizeof buf) == 1 && buf[0] == 'I', "content under a moved dir");
  if (d1b.st_nlink != d1a.st_nlink - 1 || d2b.st_nlink != d2a.st_nlink + 1)
    note("rename of a dir: parent nlinks %ju->%ju and %ju->%ju (ext4: -1 and +1)",
         (uintmax_t)d1a.st_nlink, (uintmax_t)d1b.st_nlink, (uintmax_t)d2a.st_nlink, (uintmax_t)d2b.st_nlink);
  /* dir over an empty dir replaces it; over a non-empty one fails */
  TRY(mkdir("empty", 0755));
  TRY(mkdir("src", 0755));
  TRY(write_file("src/x", "x", 1, 0644));
  TRY(rename("src", "empty"));
  TRY(stat("empty/x", &st));
  TRY(mkdir("src", 0755));
  EXPECT_ERR(rename("src", "empty"), ENOTEMPTY); /* POSIX allows EEXIST too; Linux says ENOTEMPTY */
  TRY(stat("src", &st));
  /* type mismatches */
  TRY(write_file("file", "f", 1, 0644));
  EXPECT_ERR(rename("file", "src"), EISDIR);
  EXPECT_ERR(rename("src", "file"), ENOTDIR);
  /* into its own subtree */
  TRY(mkdir("src/deep", 0755));
  EXPECT_ERR(rename("src", "src/deep/src"), EINVAL);
  EXPECT_ERR(rename("src", "src/inside"), EINVAL);
  /* errors */
  EXPECT_ERR(rename("missing", "x"), ENOENT);
  EXPECT_ERR(rename("file", "missing/x"), ENOENT);
  EXPECT_ERR(rename("file/x", "y"), ENOTDIR);
  EXPECT_ERR2(rename(".", "dot"), EINVAL, EBUSY);
  EXPECT_ERR2(rename("src/..", "dotdot"), EINVAL, EBUSY);
  /* a symlink is renamed, not its target */
  TRY(symlink("file", "sl"));
  TRY(rename("sl", "sl2"));
  TRY(lstat("sl2", &st));
  CHECK(S_ISLNK(st.st_mode), "renamed symlink is not a symlink");
  TRY(stat("file", &st));
  /* rename to itself */
  TRY(rename("file", "file"));
  TRY(stat("file", &st));
  /* an open file renamed keeps working */
  TRYV(fd, open("file", O_RDWR));
  TRY(rename("file", "d2/renamed-open"));
  TRY(pwrite_full(fd, "Z", 1, 1));
  close(fd);
  memset(buf, 0, sizeof buf);
  CHECK(read_file("d2/renamed-open", buf, sizeof buf) == 2 && !memcmp(buf, "fZ", 2), "write after rename of an open file: '%s'", buf);
  return 0;
}

static int check_rename2(void)
{
  struct stat a, b, st;
  char buf[16];
  TRY(write_file("a", "A", 1, 0644));
  TRY(write_file("b", "B", 1, 0644));
  EXPECT_ERR(renameat2(AT_FDCWD, "a", AT_FDCWD, "b", RENAME_NOREPLACE), EEXIST);
  memset(buf, 0, sizeof buf);
  CHECK(read_file("b", buf, sizeof buf) == 1 && buf[0] == 'B', "RENAME_NOREPLACE changed the target");
  TRY(renameat2(AT_FDCWD, "a", AT_FDCWD, "c", RENAME_NOREPLACE));
  TRY(stat("c", &st));
  EXPECT_ERR(stat("a", &st), ENOENT);
  TRY(stat("c", &a));
  TRY(stat("b", &b));
  TRY(renameat2(AT_FDCWD, "c", AT_FDCWD, "b", RENAME_EXCHANGE));
  struct stat a2, b2;
  TRY(stat("c", &b2));
  TRY(stat("b", &a2));
  CHECK(a2.st_ino == a.st_ino && b2.st_ino == b.st_ino, "RENAME_EXCHANGE: inodes not swapped");
  memset(buf, 0, sizeof buf);
  CHECK(read_file("b", buf, sizeof buf) == 1 && buf[0] == 'A', "RENAME_EXCHANGE: b has '%s'", buf);
  memset(buf, 0, sizeof buf);
  CHECK(read_file("c", buf, sizeof buf) == 1 && buf[0] == 'B', "RENAME_EXCHANGE: c has '%s'", buf);
  EXPECT_ERR(renameat2(AT_FDCWD, "b", AT_FDCWD, "missing", RENAME_EXCHANGE), ENOENT);
  EXPECT_ERR(renameat2(AT_FDCWD, "b", AT_FDCWD, "c", RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL);
  /* a file with a directory in another directory */
  TRY(mkdir("dir", 0755));
  TRY(write_file("dir/in", "in", 2, 0644));
  TRY(mkdir("other", 0755));
  TRY(write_file("other/file", "file", 4, 0644));
  TRY(renameat2(AT_FDCWD, "dir", AT_FDCWD, "other/file", RENAME_EXCHANGE));
  TRY(lstat("dir", &st));
  CHECK(S_ISREG(st.st_mode), "exchanged: dir is not the file now");
  TRY(lstat("other/file", &st));
  CHECK(S_ISDIR(st.st_mode), "exchanged: other/file is not the dir now");
  struct stat o, dd;
  TRY(stat("other", &o));
  TRY(stat("other/file/..", &dd));
  CHECK(dd.st_ino == o.st_ino, "exchanged dir's .. is not its new parent");
  memset(buf, 0, sizeof buf);
  CHECK(read_file("other/file/in", buf, sizeof buf) == 2, "exchanged dir lost its entry");
  memset(buf, 0, sizeof buf);
  CHECK(read_file("dir", buf, sizeof buf) == 4 && !memcmp(buf, "file", 4), "exchanged file has '%s'", buf);
  /* into its own subtree with exchange */
  TRY(mkdir("x", 0755));
  TRY(mkdir("x/y", 0755));
  EXPECT_ERR(renameat2(AT_FDCWD, "x", AT_FDCWD, "x/y", RENAME_EXCHANGE), EINVAL);
  return 0;
}

/* ---- symlink, readlink --------------------------------------------------- */

static int check_symlink(void)
{
  struct stat st;
  char buf[PATH_BYTES];
  static const char *targets[] = {"plain", "../up/and/down", "/absolute/path", "with space", "ünïcødé", "a//b/./c/"};
  for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
    char name[32];
    snprintf(name, sizeof name, "l%zu", i);
    TRY(symlink(targets[i], name));
    TRY(lstat(name, &st));
    CHECK(S_ISLNK(st.st_mode), "%s is not a symlink", name);
    CHECK(st.st_size == (off_t)strlen(targets[i]), "%s: size %jd, want %zu", name, (intmax_t)st.st_size, strlen(targets[i]));
    ssize_t n = readlink(name, buf, sizeof buf);
    CHECK(n == (ssize_t)strlen(targets[i]) && !memcmp(buf, targets[i], (size_t)n), "readlink %s: '%.*s'", name, (int)(n > 0 ? n : 0), buf);
    /* a short buffer truncates, no NUL */
    memset(buf, '#', 8);
    n = readlink(name, buf, 3);
    CHECK(n == 3 && !memcmp(buf, targets[i], 3) && buf[3] == '#', "readlink into 3 bytes: %zd", n);
  }
  /* long targets up to PATH_MAX - 1 */
  static char longt[PATH_BYTES];
  memset(longt, 'p', PATH_BYTES - 1);
  for (int i = 100; i < PATH_BYTES - 1; i += 101) longt[i] = '/';
  longt[PATH_BYTES - 1] = 0;
  TRY(symlink(longt, "long"));
  ssize_t n = readlink("long", buf, sizeof buf);
  CHECK(n == PATH_BYTES - 1 && !memcmp(buf, longt, PATH_BYTES - 1), "readlink of a 4095-byte target: %zd bytes", n);
  /* resolution */
  TRY(mkdir("d", 0755));
  TRY(write_file("d/f", "content", 7, 0644));
  TRY(symlink("d", "dl"));
  TRY(symlink("dl/f", "fl"));
  memset(buf, 0, sizeof buf);
  CHECK(read_file("fl", buf, sizeof buf) == 7 && !memcmp(buf, "content", 7), "read through two symlinks: '%s'", buf);
  TRY(symlink("../d/f", "d/rel"));
  memset(buf, 0, sizeof buf);
  CHECK(read_file("d/rel", buf, sizeof buf) == 7, "relative symlink resolves from its own directory");
  TRY(stat("dl/f", &st));
  /* dangling, loops, errors */
  TRY(symlink("nowhere", "dangling"));
  EXPECT_ERR(stat("dangling", &st), ENOENT);
  TRY(lstat("dangling", &st));
  TRY(symlink("loop2", "loop1"));
  TRY(symlink("loop1", "loop2"));
  EXPECT_ERR(stat("loop1", &st), ELOOP);
  EXPECT_ERR(symlink("x", "dangling"), EEXIST);
  EXPECT_ERR(symlink("x", "d"), EEXIST);
  EXPECT_ERR(symlink("x", "missing/l"), ENOENT);
  EXPECT_ERR(symlink("", "empty"), ENOENT);
  EXPECT_ERR(readlink("d/f", buf, sizeof buf), EINVAL);
  EXPECT_ERR(readlink("missing", buf, sizeof buf), ENOENT);
  TRY(lstat("l0", &st));
  CHECK((st.st_mode & 0777) == 0777, "symlink mode 0%o, want 0777", st.st_mode & 0777);
  return 0;
}

/* ---- truncate ------------------------------------------------------------ */

static int check_truncate(void)
{
  enum { SIZE = 200000 };
  static unsigned char data[SIZE], back[3 * SIZE];
  for (size_t i = 0; i < SIZE; i++) data[i] = (unsigned char)(i * 7 + 1) | 1;
  TRY(write_file("f", data, SIZE, 0644));
  struct stat st, st0;
  TRY(stat("f", &st0));
  tick();
  /* down into the middle of a block, then up: the old bytes must not return */
  TRY(truncate("f", 5000));
  TRY(stat("f", &st));
  CHECK(st.st_size == 5000, "size %jd, want 5000", (intmax_t)st.st_size);
  CHECK(ts_cmp(st.st_mtim, st0.st_mtim) > 0 && ts_cmp(st.st_ctim, st0.st_ctim) > 0, "truncate did not update mtime/ctime");
  TRY(truncate("f", 3 * SIZE));
  TRY(stat("f", &st));
  CHECK(st.st_size == 3 * SIZE, "size %jd, want %d", (intmax_t)st.st_size, 3 * SIZE);
  ssize_t n = read_file("f", back, sizeof back);
  CHECK(n == 3 * SIZE, "read %zd bytes", n);
  CHECK(!memcmp(back, data, 5000), "kept bytes changed");
  CHECK(all_zero(back + 5000, 3 * SIZE - 5000), "bytes after a shrink and a grow are not zero");
  /* the same through ftruncate, with a cached fd and reads in between */
  int fd;
  TRYV(fd, open("f", O_RDWR));
  TRY(pwrite_full(fd, data, SIZE, 0));
  CHECK(pread_full(fd, back, 10, SIZE - 10) == 10, "pread");
  TRY(ftruncate(fd, 1));
  TRY(ftruncate(fd, SIZE));
  CHECK(pread_full(fd, back, SIZE, 0) == SIZE, "pread after ftruncate");
  CHECK(back[0] == data[0] && all_zero(back + 1, SIZE - 1), "ftruncate 1 then up: stale bytes");
  TRY(ftruncate(fd, 0));
  TRY(fstat(fd, &st));
  CHECK(st.st_size == 0, "ftruncate 0: size %jd", (intmax_t)st.st_size);
  /* writing past the end after a shrink leaves zeros in the gap */
  TRY(pwrite_full(fd, "end", 3, 100000));
  CHECK(pread_full(fd, back, 100003, 0) == 100003, "pread");
  CHECK(all_zero(back, 100000) && !memcmp(back + 100000, "end", 3), "gap before a write past EOF is not zero");
  /* a grow to a large size reads zeros at the end */
  TRY(ftruncate(fd, 64 * MIB + 3));
  TRY(fstat(fd, &st));
  CHECK(st.st_size == 64 * MIB + 3, "size %jd", (intmax_t)st.st_size);
  CHECK(pread_full(fd, back, 4096, 64 * MIB + 3 - 4096) == 4096 && all_zero(back, 4096), "end of a grown file");
  CHECK(pread(fd, back, 10, 64 * MIB + 3) == 0, "read at EOF returned data");
  EXPECT_ERR(ftruncate(fd, -1), EINVAL);
  close(fd);
  TRYV(fd, open("f", O_RDONLY));
  EXPECT_ERR2(ftruncate(fd, 0), EINVAL, EBADF);
  close(fd);
  TRY(mkdir("d", 0755));
  EXPECT_ERR(truncate("d", 0), EISDIR);
  EXPECT_ERR(truncate("missing", 0), ENOENT);
  EXPECT_ERR(truncate("f", -1), EINVAL);
  TRY(symlink("f", "link"));
  TRY(truncate("link", 7));
  TRY(stat("f", &st));
  CHECK(st.st_size == 7, "truncate through a symlink: size %jd", (intmax_t)st.st_size);
  return 0;
}

/* ---- utimensat, timestamps ---------------------------------------------- */

static int check_utimens(void)
{
  struct stat st, st0;
  TRY(write_file("f", "x", 1, 0644));
  struct timespec t[2] = {{1000000000, 123456789}, {1200000000, 987654321}};
  TRY(stat("f", &st0));
  tick();
  TRY(utimensat(AT_FDCWD, "f", t, 0));
  TRY(stat("f", &st));
  CHECK(st.st_atim.tv_sec == t[0].tv_sec && st.st_atim.tv_nsec == t[0].tv_nsec, "atime %jd.%09ld", (intmax_t)st.st_atim.tv_sec, st.st_atim.tv_nsec);
  CHECK(st.st_mtim.tv_sec == t[1].tv_sec && st.st_mtim.tv_nsec == t[1].tv_nsec, "mtime %jd.%09ld, want %jd.%09ld", (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (intmax_t)t[1].tv_sec, t[1].tv_nsec);
  CHECK(ts_cmp(st.st_ctim, st0.st_ctim) > 0, "ctime unchanged by utimensat");
  /* UTIME_OMIT keeps, UTIME_NOW sets the clock */
  struct timespec now0;
  clock_gettime(CLOCK_REALTIME, &now0);
  struct timespec u[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  TRY(utimensat(AT_FDCWD, "f", u, 0));
  struct timespec now1;
  clock_gettime(CLOCK_REALTIME, &now1);
  TRY(stat("f", &st));
  CHECK(st.st_atim.tv_sec == t[0].tv_sec && st.st_atim.tv_nsec == t[0].tv_nsec, "UTIME_OMIT changed atime");
  CHECK(st.st_mtim.tv_sec >= now0.tv_sec - 1 && st.st_mtim.tv_sec <= now1.tv_sec + 1, "UTIME_NOW: mtime %jd, now %jd", (intmax_t)st.st_mtim.tv_sec, (intmax_t)now1.tv_sec);
  struct timespec v[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  struct timespec m_before = st.st_mtim;
  TRY(utimensat(AT_FDCWD, "f", v, 0));
  TRY(stat("f", &st));
  CHECK(ts_cmp(st.st_mtim, m_before) == 0, "UTIME_OMIT changed mtime");
  CHECK(st.st_atim.tv_sec >= now0.tv_sec - 1, "UTIME_NOW: atime %jd", (intmax_t)st.st_atim.tv_sec);
  /* both omitted: nothing changes, not even ctime */
  struct stat s1;
  TRY(stat("f", &st0));
  tick();
  struct timespec o[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  TRY(utimensat(AT_FDCWD, "f", o, 0));
  TRY(stat("f", &s1));
  CHECK(ts_cmp(s1.st_ctim, st0.st_ctim) == 0 && ts_cmp(s1.st_mtim, st0.st_mtim) == 0, "UTIME_OMIT twice changed a time");
  /* NULL: both to now */
  TRY(utimensat(AT_FDCWD, "f", NULL, 0));
  TRY(stat("f", &st));
  CHECK(st.st_mtim.tv_sec >= now0.tv_sec - 1 && st.st_atim.tv_sec >= now0.tv_sec - 1, "utimensat NULL did not set now");
  /* times before 1970 and far ahead */
  struct timespec w[2] = {{-1000000, 5}, {4102444800, 999999999}};
  TRY(utimensat(AT_FDCWD, "f", w, 0));
  TRY(stat("f", &st));
  CHECK(st.st_atim.tv_sec == -1000000 && st.st_atim.tv_nsec == 5, "atime before 1970: %jd.%09ld", (intmax_t)st.st_atim.tv_sec, st.st_atim.tv_nsec);
  CHECK(st.st_mtim.tv_sec == 4102444800 && st.st_mtim.tv_nsec == 999999999, "mtime in 2100: %jd.%09ld", (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  /* futimens, directories, symlinks themselves */
  int fd;
  TRYV(fd, open("f", O_RDONLY));
  TRY(futimens(fd, t));
  TRY(fstat(fd, &st));
  close(fd);
  CHECK(ts_cmp(st.st_mtim, t[1]) == 0, "futimens: mtime %jd.%09ld", (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  TRY(mkdir("d", 0755));
  TRY(utimensat(AT_FDCWD, "d", t, 0));
  TRY(stat("d", &st));
  CHECK(ts_cmp(st.st_mtim, t[1]) == 0, "dir mtime %jd.%09ld", (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  TRY(write_file("target", "x", 1, 0644));
  TRY(symlink("target", "link"));
  struct timespec lt[2] = {{1300000000, 1}, {1300000000, 2}};
  TRY(utimensat(AT_FDCWD, "link", lt, AT_SYMLINK_NOFOLLOW));
  TRY(lstat("link", &st));
  CHECK(ts_cmp(st.st_mtim, lt[1]) == 0, "AT_SYMLINK_NOFOLLOW: link mtime %jd.%09ld", (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  TRY(stat("target", &st));
  CHECK(ts_cmp(st.st_mtim, lt[1]) != 0, "AT_SYMLINK_NOFOLLOW changed the target");
  TRY(utimensat(AT_FDCWD, "link", lt, 0));
  TRY(stat("target", &st));
  CHECK(ts_cmp(st.st_mtim, lt[1]) == 0, "utimensat through a symlink: target mtime %jd.%09ld", (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
  EXPECT_ERR(utimensat(AT_FDCWD, "f", bad, 0), EINVAL);
  EXPECT_ERR(utimensat(AT_FDCWD, "missing", t, 0), ENOENT);
  return 0;
}

/* mtime/ctime as POSIX marks them: write, truncate, chmod, chown, link, xattr. */
static int check_timestamps(void)
{
  struct stat st, st0;
  struct timespec past[2] = {{1000000000, 0}, {1000000000, 0}};
  int fd;
  TRYV(fd, open("f", O_RDWR | O_CREAT, 0644));
  TRY(futimens(fd, past));
  TRY(fstat(fd, &st0));
  tick();
  TRY(write(fd, "data", 4));
  TRY(fstat(fd, &st));
  CHECK(ts_cmp(st.st_mtim, st0.st_mtim) > 0, "write: mtime unchanged (fstat on the writing fd)");
  CHECK(ts_cmp(st.st_ctim, st0.st_ctim) > 0, "write: ctime unchanged");
  close(fd);
  TRY(stat("f", &st));
  CHECK(st.st_mtim.tv_sec > 1000000000, "write: mtime unchanged after close");
  /* a read does not touch mtime or ctime */
  TRY(utimensat(AT_FDCWD, "f", past, 0));
  TRY(stat("f", &st0));
  tick();
  char buf[8];
  TRY(read_file("f", buf, sizeof buf));
  TRY(stat("f", &st));
  CHECK(ts_cmp(st.st_mtim, st0.st_mtim) == 0 && ts_cmp(st.st_ctim, st0.st_ctim) == 0, "read changed mtime or ctime");
  if (ts_cmp(st.st_atim, st0.st_atim) == 0) note("read of a file with atime in 2001 left atime unchanged (relatime updates it; noatime does not)");
  /* pwrite, writev through another fd */
  TRY(utimensat(AT_FDCWD, "f", past, 0));
  TRYV(fd, open("f", O_WRONLY));
  TRY(pwrite(fd, "X", 1, 100));
  close(fd);
  TRY(stat("f", &st));
  CHECK(st.st_mtim.tv_sec > 1000000000, "pwrite: mtime unchanged");
  /* ftruncate to the same size: Linux still marks mtime (POSIX: "if the size changed") */
  TRY(utimensat(AT_FDCWD, "f", past, 0));
  TRY(truncate("f", 50));
  TRY(stat("f", &st));
  CHECK(st.st_mtim.tv_sec > 1000000000, "truncate: mtime unchanged");
  /* chmod, chown, setxattr, link: ctime only */
  struct { const char *what; int op; } ops[] = {{"chmod", 0}, {"chown", 1}, {"link", 2}, {"setxattr", 3}, {"rename", 4}};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    TRY(utimensat(AT_FDCWD, "f", past, 0));
    TRY(stat("f", &st0));
    tick();
    int r = 0;
    switch (ops[i].op) {
    case 0: r = chmod("f", 0600 + (mode_t)i); break;
    case 1: r = chown("f", U1, G1); break;
    case 2: r = link("f", "f2"); break;
    case 3: r = setxattr("f", "user.t", "v", 1, 0); break;
    case 4: r = rename("f", "g") || rename("g", "f"); break;
    }
    TRY(r);
    TRY(stat("f", &st));
    CHECK(ts_cmp(st.st_mtim, st0.st_mtim) == 0, "%s changed mtime", ops[i].what);
    if (ops[i].op == 4) {
      if (ts_cmp(st.st_ctim, st0.st_ctim) <= 0) note("rename did not update ctime (optional)");
    } else
      CHECK(ts_cmp(st.st_ctim, st0.st_ctim) > 0, "%s did not change ctime", ops[i].what);
  }
  /* creating and removing entries marks the directory */
  TRY(mkdir("d", 0755));
  TRY(utimensat(AT_FDCWD, "d", past, 0));
  TRY(stat("d", &st0));
  tick();
  TRY(write_file("d/new", "", 0, 0644));
  TRY(stat("d", &st));
  CHECK(ts_cmp(st.st_mtim, st0.st_mtim) > 0 && ts_cmp(st.st_ctim, st0.st_ctim) > 0, "create did not mark the directory");
  TRY(utimensat(AT_FDCWD, "d", past, 0));
  TRY(rename("d/new", "moved"));
  TRY(stat("d", &st));
  CHECK(st.st_mtim.tv_sec > 1000000000, "rename out of a directory did not mark it");
  TRY(utimensat(AT_FDCWD, "d", past, 0));
  TRY(symlink("x", "d/sym"));
  TRY(stat("d", &st));
  CHECK(st.st_mtim.tv_sec > 1000000000, "symlink did not mark the directory");
  /* a new file's times are all now */
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  TRY(write_file("fresh", "", 0, 0644));
  TRY(stat("fresh", &st));
  CHECK(st.st_mtim.tv_sec >= now.tv_sec - 2 && st.st_ctim.tv_sec >= now.tv_sec - 2 && st.st_atim.tv_sec >= now.tv_sec - 2, "new file times not now");
  return 0;
}

/* What tar and rsync do: write the data, set the times, close.  Data still
 * cached by the kernel must not move mtime past the time that was set. */
static int check_mtime_after_write(void)
{
  static unsigned char buf[1 << 20];
  memset(buf, 'w', sizeof buf);
  const struct timespec t[2] = {{1100000000, 1}, {1100000000, 2}};
  struct stat st;
  int fd;
  /* futimens on the writing fd, then close */
  TRYV(fd, open("a", O_WRONLY | O_CREAT, 0644));
  TRY(pwrite_full(fd, buf, sizeof buf, 0));
  TRY(futimens(fd, t));
  close(fd);
  TRY(stat("a", &st));
  SOFT_CHECK(ts_cmp(st.st_mtim, t[1]) == 0, "write, futimens, close: mtime %jd.%09ld, want %jd.%09ld", (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (intmax_t)t[1].tv_sec, t[1].tv_nsec);
  /* utimensat by path while another fd still holds dirty data */
  TRYV(fd, open("b", O_WRONLY | O_CREAT, 0644));
  TRY(pwrite_full(fd, buf, sizeof buf, 0));
  TRY(utimensat(AT_FDCWD, "b", t, 0));
  TRY(fsync(fd));
  close(fd);
  TRY(stat("b", &st));
  SOFT_CHECK(ts_cmp(st.st_mtim, t[1]) == 0, "write, utimensat, fsync, close: mtime %jd.%09ld, want %jd.%09ld", (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (intmax_t)t[1].tv_sec, t[1].tv_nsec);
  /* through a mapping: msync, then set the time, then unmap */
  TRYV(fd, open("c", O_RDWR | O_CREAT, 0644));
  TRY(ftruncate(fd, 65536));
  unsigned char *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED, "mmap: %s", ename(errno));
  memset(m, 'm', 65536);
  TRY(msync(m, 65536, MS_SYNC));
  TRY(futimens(fd, t));
  TRY(munmap(m, 65536));
  close(fd);
  TRY(stat("c", &st));
  SOFT_CHECK(ts_cmp(st.st_mtim, t[1]) == 0, "mapped write, msync, futimens, munmap: mtime %jd.%09ld", (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  /* and the size and bytes are all there */
  TRY(stat("a", &st));
  CHECK(st.st_size == (off_t)sizeof buf, "size %jd", (intmax_t)st.st_size);
  SOFT_END();
  return 0;
}

/* ---- xattrs -------------------------------------------------------------- */

static bool list_has(const char *list, ssize_t len, const char *name)
{
  for (ssize_t i = 0; i < len; i += (ssize_t)strlen(list + i) + 1)
    if (!strcmp(list + i, name)) return true;
  return false;
}

static int check_xattr(void)
{
  char buf[8192], list[4096];
  TRY(write_file("f", "x", 1, 0644));
  TRY(setxattr("f", "user.one", "value1", 6, 0));
  ssize_t n = getxattr("f", "user.one", buf, sizeof buf);
  CHECK(n == 6 && !memcmp(buf, "value1", 6), "getxattr: %zd", n);
  CHECK(getxattr("f", "user.one", NULL, 0) == 6, "size query");
  EXPECT_ERR(getxattr("f", "user.one", buf, 3), ERANGE);
  EXPECT_ERR(getxattr("f", "user.none", buf, sizeof buf), ENODATA);
  EXPECT_ERR(setxattr("f", "user.one", "v", 1, XATTR_CREATE), EEXIST);
  EXPECT_ERR(setxattr("f", "user.two", "v", 1, XATTR_REPLACE), ENODATA);
  TRY(setxattr("f", "user.one", "replaced", 8, XATTR_REPLACE));
  n = getxattr("f", "user.one", buf, sizeof buf);
  CHECK(n == 8 && !memcmp(buf, "replaced", 8), "after XATTR_REPLACE: %zd", n);
  TRY(setxattr("f", "user.two", "", 0, XATTR_CREATE));
  CHECK(getxattr("f", "user.two", buf, sizeof buf) == 0, "empty value");
  unsigned char bin[1500]; /* ext4 keeps all of a file's xattrs in one 4 KiB block */
  for (size_t i = 0; i < sizeof bin; i++) bin[i] = (unsigned char)(i * 13);
  TRY(setxattr("f", "user.binary", bin, sizeof bin, 0));
  n = getxattr("f", "user.binary", buf, sizeof buf);
  CHECK(n == (ssize_t)sizeof bin && !memcmp(buf, bin, sizeof bin), "binary value: %zd bytes back", n);
  n = listxattr("f", list, sizeof list);
  CHECK(n > 0, "listxattr: %s", ename(errno));
  CHECK(list_has(list, n, "user.one") && list_has(list, n, "user.two") && list_has(list, n, "user.binary"), "listxattr misses a name");
  CHECK(listxattr("f", NULL, 0) == n, "listxattr size query differs");
  EXPECT_ERR(listxattr("f", list, 1), ERANGE);
  for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
    if (strncmp(list + i, "user.one", 9) && strncmp(list + i, "user.two", 9) && strncmp(list + i, "user.binary", 12) &&
        strncmp(list + i, "security.", 9) && strncmp(list + i, "system.", 7))
      note("listxattr shows an extra name: %s", list + i);
  TRY(removexattr("f", "user.one"));
  EXPECT_ERR(getxattr("f", "user.one", buf, sizeof buf), ENODATA);
  EXPECT_ERR(removexattr("f", "user.one"), ENODATA);
  n = listxattr("f", list, sizeof list);
  CHECK(n >= 0 && !list_has(list, n, "user.one") && list_has(list, n, "user.two"), "listxattr after remove");
  /* through fds, on directories, hard links share them, symlinks refuse user.* */
  int fd;
  TRYV(fd, open("f", O_RDONLY));
  TRY(fsetxattr(fd, "user.fd", "via fd", 6, 0));
  CHECK(fgetxattr(fd, "user.fd", buf, sizeof buf) == 6, "fgetxattr");
  TRY(fremovexattr(fd, "user.fd"));
  close(fd);
  TRY(mkdir("d", 0755));
  TRY(setxattr("d", "user.dir", "D", 1, 0));
  CHECK(getxattr("d", "user.dir", buf, sizeof buf) == 1 && buf[0] == 'D', "xattr on a directory");
  TRY(link("f", "f2"));
  CHECK(getxattr("f2", "user.binary", buf, sizeof buf) == (ssize_t)sizeof bin, "hard link does not share xattrs");
  TRY(symlink("f", "link"));
  CHECK(getxattr("link", "user.two", buf, sizeof buf) == 0, "getxattr through a symlink");
  EXPECT_ERR(lsetxattr("link", "user.x", "v", 1, 0), EPERM);
  EXPECT_ERR(lgetxattr("link", "user.two", buf, sizeof buf), ENODATA);
  TRY(mkfifo("fifo", 0644));
  EXPECT_ERR(setxattr("fifo", "user.x", "v", 1, 0), EPERM);
  EXPECT_ERR(getxattr("missing", "user.one", buf, sizeof buf), ENOENT);
  /* many names */
  for (int i = 0; i < 50; i++) {
    char name[32];
    snprintf(name, sizeof name, "user.many%02d", i);
    TRY(setxattr("d", name, name, strlen(name), 0));
  }
  n = listxattr("d", list, sizeof list);
  for (int i = 0; i < 50; i++) {
    char name[32];
    snprintf(name, sizeof name, "user.many%02d", i);
    CHECK(list_has(list, n, name), "%s not listed among 51 names", name);
  }
  return 0;
}

/* Names: lengths, namespaces the kernel leaves to the filesystem, sizes. */
static int check_xattr_names(void)
{
  char buf[8192];
  TRY(write_file("f", "x", 1, 0644));
  char longname[300] = "user.";
  memset(longname + 5, 'x', 251);
  longname[256] = 0;
  EXPECT_ERR(setxattr("f", longname, "v", 1, 0), ERANGE);
  longname[255] = 0;
  TRY(setxattr("f", longname, "v", 1, 0));
  CHECK(getxattr("f", longname, buf, sizeof buf) == 1, "255-byte xattr name");
  /* a name outside every namespace: ext4 and tmpfs say EOPNOTSUPP (a FUSE
   * server sees such names: the kernel passes them through) */
  SOFT_ERR(setxattr("f", "nonamespace", "v", 1, 0), EOPNOTSUPP);
  SOFT_ERR(getxattr("f", "nonamespace", buf, sizeof buf), EOPNOTSUPP);
  SOFT_ERR(setxattr("f", "bogus.name", "v", 1, 0), EOPNOTSUPP);
  /* trusted.* is root's namespace: optional on a FUSE tree */
  if (setxattr("f", "trusted.t", "T", 1, 0) < 0) note("trusted.* xattr as root: %s", ename(errno));
  else CHECK(getxattr("f", "trusted.t", buf, sizeof buf) == 1, "trusted.t reads back wrong");
  /* values: ext4 keeps them in one block, so 64 KiB is reported, not required */
  static unsigned char big[65537];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 31 + 7);
  TRY(write_file("g", "x", 1, 0644));
  if (setxattr("g", "user.big", big, 65536, 0) < 0) note("a 64 KiB user.* xattr value: %s", ename(errno));
  else {
    static unsigned char back[65536];
    CHECK(getxattr("g", "user.big", back, sizeof back) == (ssize_t)sizeof back && !memcmp(back, big, sizeof back), "64 KiB value reads back wrong");
  }
  SOFT_ERR(setxattr("g", "user.toobig", big, 65537, 0), E2BIG);
  /* an empty name after the prefix */
  SOFT_ERR(setxattr("f", "user.", "v", 1, 0), EINVAL);
  SOFT_END();
  return 0;
}

/* Names with every byte a filesystem must keep (all but '/' and NUL). */
static int check_names(void)
{
  static const char *names[] = {
    "with space", " leading", "trailing ", "tab\there", "new\nline", "back\\slash", "quote\"'`",
    "-dash", "...", "..a", ".hidden", "ünïcødé ☃", "\x01\x7f\xff\xfe", "*?[]{}$;&|<>()#!~",
    "UPPER", "upper", "a.b.c.d", "x=y,z:w@v%u+t^s",
  };
  size_t count = sizeof names / sizeof names[0];
  for (size_t i = 0; i < count; i++) {
    char content[16];
    int len = snprintf(content, sizeof content, "%zu", i);
    if (write_file(names[i], content, (size_t)len, 0644) < 0) FAILF("create '%s': %s", names[i], ename(errno));
  }
  char n255[256];
  memset(n255, 'L', 255);
  n255[255] = 0;
  TRY(write_file(n255, "255", 3, 0644));
  int seen = 0;
  DIR *d = opendir(".");
  CHECK(d, "opendir: %s", ename(errno));
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    bool known = !strcmp(e->d_name, n255);
    for (size_t i = 0; i < count; i++) known = known || !strcmp(e->d_name, names[i]);
    if (!known) { closedir(d); FAILF("listing has an unknown name '%s'", e->d_name); }
    seen++;
  }
  closedir(d);
  CHECK(seen == (int)count + 1, "listed %d names, want %zu", seen, count + 1);
  for (size_t i = 0; i < count; i++) {
    char content[16] = {0}, want[16];
    snprintf(want, sizeof want, "%zu", i);
    ssize_t n = read_file(names[i], content, sizeof content - 1);
    CHECK(n > 0 && !strcmp(content, want), "'%s' reads '%s', want '%s'", names[i], content, want);
  }
  /* case matters */
  struct stat a, b;
  TRY(stat("UPPER", &a));
  TRY(stat("upper", &b));
  CHECK(a.st_ino != b.st_ino, "UPPER and upper are one file");
  /* deep nesting: 120 levels, then a path longer than PATH_MAX through fds */
  int fd;
  TRYV(fd, open(".", O_RDONLY | O_DIRECTORY));
  char level[64];
  memset(level, 'd', 60);
  level[60] = 0;
  for (int i = 0; i < 120; i++) {
    if (mkdirat(fd, level, 0755) < 0) FAILF("mkdirat at depth %d: %s", i, ename(errno));
    int next = openat(fd, level, O_RDONLY | O_DIRECTORY);
    if (next < 0) FAILF("openat at depth %d: %s", i, ename(errno));
    close(fd);
    fd = next;
  }
  int f;
  TRYV(f, openat(fd, "bottom", O_CREAT | O_WRONLY, 0644));
  TRY(write(f, "deep", 4));
  close(f);
  close(fd);
  /* walk down again from the top by name (each step relative) */
  TRYV(fd, open(".", O_RDONLY | O_DIRECTORY));
  for (int i = 0; i < 120; i++) {
    int next = openat(fd, level, O_RDONLY | O_DIRECTORY);
    if (next < 0) FAILF("walking down at depth %d: %s", i, ename(errno));
    close(fd);
    fd = next;
  }
  char buf[8] = {0};
  TRYV(f, openat(fd, "bottom", O_RDONLY));
  CHECK(read(f, buf, sizeof buf) == 4 && !memcmp(buf, "deep", 4), "file at depth 120 reads '%s'", buf);
  close(f);
  close(fd);
  return 0;
}

/* The *at calls against a directory fd whose directory moved. */
static int check_dirfd(void)
{
  int dfd;
  TRY(mkdir("d", 0755));
  TRYV(dfd, open("d", O_RDONLY | O_DIRECTORY));
  TRY(rename("d", "moved"));
  int f;
  TRYV(f, openat(dfd, "f", O_CREAT | O_WRONLY, 0644));
  TRY(write(f, "x", 1));
  close(f);
  struct stat st;
  TRY(stat("moved/f", &st));
  TRY(mkdirat(dfd, "sub", 0700));
  TRY(symlinkat("f", dfd, "sl"));
  TRY(linkat(dfd, "f", dfd, "f2", 0));
  TRY(renameat(dfd, "f2", dfd, "f3"));
  TRY(fchmodat(dfd, "f3", 0600, 0));
  TRY(fchownat(dfd, "sl", U1, G1, AT_SYMLINK_NOFOLLOW));
  TRY(fstatat(dfd, "sl", &st, AT_SYMLINK_NOFOLLOW));
  CHECK(S_ISLNK(st.st_mode) && st.st_uid == U1, "fchownat AT_SYMLINK_NOFOLLOW: %u", st.st_uid);
  TRY(stat("moved/f3", &st));
  CHECK((st.st_mode & 07777) == 0600 && st.st_nlink == 2, "fchmodat/linkat: mode 0%o nlink %ju", st.st_mode & 07777, (uintmax_t)st.st_nlink);
  TRY(unlinkat(dfd, "f3", 0));
  TRY(unlinkat(dfd, "sub", AT_REMOVEDIR));
  EXPECT_ERR(unlinkat(dfd, "f", AT_REMOVEDIR), ENOTDIR);
  EXPECT_ERR(stat("d", &st), ENOENT);
  TRY(faccessat(dfd, "f", W_OK, 0));
  close(dfd);
  CHECK(dir_has("moved", "f") == 1 && dir_has("moved", "sl") == 1 && dir_has("moved", "f3") == 0, "listing of the moved dir");
  return 0;
}

/* Large directories: several getdents calls, removing while listing (what
 * rm -rf does), telldir/seekdir, rewinddir. */
static int check_readdir_big(void)
{
  enum { N = 3000 };
  char name[64];
  TRY(mkdir("d", 0755));
  for (int i = 0; i < N; i++) {
    snprintf(name, sizeof name, "d/a-rather-long-entry-name-to-fill-buffers-%05d", i);
    TRY(write_file(name, "", 0, 0644));
  }
  static unsigned char seen[N];
  DIR *d = opendir("d");
  CHECK(d, "opendir: %s", ename(errno));
  int count = 0;
  long mark = -1;
  char mark_name[256] = "";
  struct dirent *e;
  while ((e = readdir(d))) {
    int i;
    if (e->d_name[0] == '.') continue;
    if (sscanf(e->d_name, "a-rather-long-entry-name-to-fill-buffers-%5d", &i) != 1 || i < 0 || i >= N) { closedir(d); FAILF("unexpected entry '%s'", e->d_name); }
    if (seen[i]++) { closedir(d); FAILF("'%s' listed twice", e->d_name); }
    count++;
    if (count == N / 2) { mark = telldir(d); }
    if (count == N / 2 + 1) snprintf(mark_name, sizeof mark_name, "%s", e->d_name);
  }
  CHECK(count == N, "listed %d of %d", count, N);
  seekdir(d, mark);
  e = readdir(d);
  CHECK(e && !strcmp(e->d_name, mark_name), "seekdir to a telldir mark: '%s', want '%s'", e ? e->d_name : "(end)", mark_name);
  closedir(d);
  /* one pass that unlinks each entry as it is listed empties the directory */
  int fd;
  TRYV(fd, open("d", O_RDONLY | O_DIRECTORY));
  d = fdopendir(fd);
  CHECK(d, "fdopendir: %s", ename(errno));
  int removed = 0;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (unlinkat(dirfd(d), e->d_name, 0) < 0) { closedir(d); FAILF("unlinkat '%s' while listing: %s", e->d_name, ename(errno)); }
    removed++;
  }
  closedir(d);
  CHECK(removed == N, "one listing pass removed %d of %d entries (entries skipped while removing)", removed, N);
  TRY(rmdir("d"));
  return 0;
}

/* rewinddir starts a fresh listing: entries added or removed before it show
 * (POSIX leaves only changes after the last opendir/rewinddir unspecified). */
static int check_readdir_rewind(void)
{
  enum { N = 500 };
  char name[64];
  TRY(mkdir("d", 0755));
  for (int i = 0; i < N; i++) {
    snprintf(name, sizeof name, "d/entry-%04d", i);
    TRY(write_file(name, "", 0, 0644));
  }
  DIR *d = opendir("d");
  CHECK(d, "opendir: %s", ename(errno));
  struct dirent *e;
  int count = 0;
  while ((e = readdir(d)) && count < N / 2) count++;
  TRY(write_file("d/zz-late", "", 0, 0644));
  TRY(unlink("d/entry-0000"));
  rewinddir(d);
  int late = 0, gone = 0, others = 0;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, "zz-late")) late++;
    else if (!strcmp(e->d_name, "entry-0000")) gone++;
    else if (e->d_name[0] != '.') others++;
  }
  closedir(d);
  SOFT_CHECK(late == 1, "an entry created before rewinddir is listed %d times after it, want once", late);
  SOFT_CHECK(gone == 0, "an entry removed before rewinddir is still listed after it");
  SOFT_CHECK(others == N - 1, "after rewinddir %d other entries, want %d", others, N - 1);
  /* the same through a fresh opendir */
  TRY(write_file("d/zz-later", "", 0, 0644));
  CHECK(dir_has("d", "zz-later") == 1, "a new entry is missing from a fresh listing");
  SOFT_END();
  return 0;
}

/* Several processes at once: private files and disjoint regions of one file. */
static int check_concurrent(void)
{
  enum { WRITERS = 4, REGION = 1 << 20, BLOCK = 4096 };
  int fd;
  TRYV(fd, open("shared", O_RDWR | O_CREAT, 0644));
  close(fd);
  TRY(mkdir("dir", 0755));
  pid_t pids[WRITERS];
  for (int w = 0; w < WRITERS; w++) {
    fflush(stdout);
    pids[w] = fork();
    if (pids[w] < 0) FAILF("fork: %s", ename(errno));
    if (pids[w] == 0) {
      g_child = true;
      unsigned char block[BLOCK];
      int sfd = open("shared", O_WRONLY);
      if (sfd < 0) FAILF("writer %d: open shared: %s", w, ename(errno));
      /* blocks written in a scattered order into this writer's region */
      for (int b = 0; b < REGION / BLOCK; b++) {
        int k = (b * 37) % (REGION / BLOCK);
        memset(block, 'A' + w, BLOCK);
        memcpy(block, &k, sizeof k);
        if (pwrite_full(sfd, block, BLOCK, (off_t)w * REGION + (off_t)k * BLOCK) != BLOCK) FAILF("writer %d: pwrite: %s", w, ename(errno));
      }
      close(sfd);
      /* and many small files, created, renamed, some removed */
      for (int i = 0; i < 200; i++) {
        char n1[64], n2[64];
        snprintf(n1, sizeof n1, "dir/w%d-%d.tmp", w, i);
        snprintf(n2, sizeof n2, "dir/w%d-%d", w, i);
        if (write_file(n1, n2, strlen(n2), 0644) < 0) FAILF("writer %d: create %s: %s", w, n1, ename(errno));
        if (rename(n1, n2) < 0) FAILF("writer %d: rename %s: %s", w, n1, ename(errno));
        if (i % 4 == 3 && unlink(n2) < 0) FAILF("writer %d: unlink %s: %s", w, n2, ename(errno));
      }
      _exit(0);
    }
  }
  int failed = 0;
  for (int w = 0; w < WRITERS; w++) {
    int status;
    TRY(waitpid(pids[w], &status, 0));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
  }
  if (failed) {
    if (!g_detail[0]) snprintf(g_detail, DETAIL_BYTES, "%d writer(s) died", failed);
    return -1;
  }
  struct stat st;
  TRY(stat("shared", &st));
  CHECK(st.st_size == (off_t)WRITERS * REGION, "shared size %jd", (intmax_t)st.st_size);
  TRYV(fd, open("shared", O_RDONLY));
  unsigned char block[BLOCK];
  for (int w = 0; w < WRITERS; w++)
    for (int k = 0; k < REGION / BLOCK; k++) {
      int got = -1;
      if (pread_full(fd, block, BLOCK, (off_t)w * REGION + (off_t)k * BLOCK) != BLOCK) { close(fd); FAILF("short read"); }
      memcpy(&got, block, sizeof got);
      if (got != k || block[BLOCK - 1] != 'A' + w) { close(fd); FAILF("writer %d block %d: tag %d byte '%c'", w, k, got, block[BLOCK - 1]); }
    }
  close(fd);
  int files = 0;
  DIR *d = opendir("dir");
  CHECK(d, "opendir: %s", ename(errno));
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    CHECK(!strstr(e->d_name, ".tmp"), "a renamed-away name remains: %s", e->d_name);
    char path[300], content[64] = {0};
    snprintf(path, sizeof path, "dir/%s", e->d_name);
    CHECK(read_file(path, content, sizeof content - 1) > 0 && !strcmp(content, path), "%s has '%s'", path, content);
    files++;
  }
  closedir(d);
  CHECK(files == WRITERS * 150, "%d files remain, want %d", files, WRITERS * 150);
  return 0;
}

/* POSIX ACLs as the xattrs rsync -A and tar --acls write (the kernel's
 * system.posix_acl_* format: a version word, then tag/perm/id entries sorted
 * by tag and id).  Stored, shown in the mode's group bits (the mask),
 * enforced, inherited from a default ACL, and updated by chmod. */
#define ACL_VERSION 2
enum { T_USER_OBJ = 0x01, T_USER = 0x02, T_GROUP_OBJ = 0x04, T_GROUP = 0x08, T_MASK = 0x10, T_OTHER = 0x20 };
struct acl_entry { uint16_t tag, perm; uint32_t id; };
static size_t acl_build(unsigned char *out, const struct acl_entry *e, size_t n)
{
  uint32_t version = ACL_VERSION;
  memcpy(out, &version, 4);
  for (size_t i = 0; i < n; i++) memcpy(out + 4 + 8 * i, &e[i], 8);
  return 4 + 8 * n;
}
/* the perm of the entry with tag (and id for named ones), or -1 */
static int acl_perm(const unsigned char *acl, ssize_t len, uint16_t tag, uint32_t id)
{
  for (ssize_t off = 4; off + 8 <= len; off += 8) {
    struct acl_entry e;
    memcpy(&e, acl + off, 8);
    if (e.tag == tag && (tag != T_USER && tag != T_GROUP ? true : e.id == id)) return e.perm;
  }
  return -1;
}

static int check_acl(void)
{
  unsigned char acl[256], back[256];
  const uint32_t none = 0xffffffffu;
  struct stat st;
  TRY(write_file("f", "acl", 3, 0600));
  const struct acl_entry fe[] = {{T_USER_OBJ, 6, none}, {T_USER, 6, U2}, {T_GROUP_OBJ, 0, none}, {T_MASK, 6, none}, {T_OTHER, 0, none}};
  size_t len = acl_build(acl, fe, 5);
  if (setxattr("f", "system.posix_acl_access", acl, len, 0) < 0) FAILF("setxattr system.posix_acl_access: %s (rsync -A and tar --acls need it)", ename(errno));
  ssize_t n = getxattr("f", "system.posix_acl_access", back, sizeof back);
  CHECK(n == (ssize_t)len && acl_perm(back, n, T_USER, U2) == 6, "ACL reads back %zd bytes, user %u perm %d", n, U2, n > 0 ? acl_perm(back, n, T_USER, U2) : -1);
  TRY(stat("f", &st));
  SOFT_CHECK((st.st_mode & 0777) == 0660, "mode after an ACL with mask rw-: 0%o, want 0660", st.st_mode & 0777);
  /* enforced: U2 is named, U1 falls to other; a group member of the owning
   * group gets group_obj (---) */
  TRY(chown("f", 0, GS));
  pid_t p = user_fork(U2, G2, NO_GROUP);
  if (p == 0) {
    int fd = open("f", O_RDWR);
    SOFT_CHECK(fd >= 0, "a user named in the ACL (rw) cannot open O_RDWR: %s", ename(errno));
    if (fd >= 0) close(fd);
    SOFT_END();
    AS_USER_END(p);
  }
  if (user_wait(p) < 0) g_soft++;
  p = user_fork(U1, G1, GS);
  if (p == 0) {
    SOFT_ERR(open("f", O_RDONLY), EACCES);
    SOFT_END();
    AS_USER_END(p);
  }
  if (user_wait(p) < 0) g_soft++;
  /* chmod rewrites the mask */
  TRY(chmod("f", 0640));
  n = getxattr("f", "system.posix_acl_access", back, sizeof back);
  SOFT_CHECK(n > 0 && acl_perm(back, n, T_MASK, none) == 4 && acl_perm(back, n, T_USER, U2) == 6, "after chmod 0640 the ACL mask is %d, want 4 (r)", n > 0 ? acl_perm(back, n, T_MASK, none) : -1);
  p = user_fork(U2, G2, NO_GROUP);
  if (p == 0) {
    SOFT_ERR(open("f", O_WRONLY), EACCES); /* the mask now limits U2 to r */
    SOFT_END();
    AS_USER_END(p);
  }
  if (user_wait(p) < 0) g_soft++;
  /* a default ACL is inherited; the umask is not applied under it */
  TRY(mkdir("d", 0755));
  const struct acl_entry de[] = {{T_USER_OBJ, 7, none}, {T_USER, 7, U2}, {T_GROUP_OBJ, 5, none}, {T_MASK, 7, none}, {T_OTHER, 0, none}};
  len = acl_build(acl, de, 5);
  if (setxattr("d", "system.posix_acl_default", acl, len, 0) < 0) {
    set_detail(__LINE__, "setxattr system.posix_acl_default: %s", ename(errno));
    return -1;
  }
  umask(022);
  int fd = open("d/new", O_CREAT | O_WRONLY, 0666);
  umask(0);
  TRY(fd);
  close(fd);
  TRY(stat("d/new", &st));
  SOFT_CHECK((st.st_mode & 0777) == 0660, "file under a default ACL: mode 0%o, want 0660 (mask rw-, umask ignored)", st.st_mode & 0777);
  n = getxattr("d/new", "system.posix_acl_access", back, sizeof back);
  SOFT_CHECK(n > 0 && acl_perm(back, n, T_USER, U2) == 7, "file under a default ACL: inherited user %u entry %d", U2, n > 0 ? acl_perm(back, n, T_USER, U2) : -1);
  TRY(mkdir("d/sub", 0777));
  n = getxattr("d/sub", "system.posix_acl_default", back, sizeof back);
  SOFT_CHECK(n == (ssize_t)len, "a subdirectory does not inherit the default ACL (%zd bytes)", n);
  /* removing the ACL leaves the mode */
  TRY(removexattr("f", "system.posix_acl_access"));
  EXPECT_ERR(getxattr("f", "system.posix_acl_access", back, sizeof back), ENODATA);
  SOFT_END();
  return 0;
}

/* ---- sparse files, SEEK_DATA / SEEK_HOLE, fallocate ---------------------- */

static int check_seek_hole(void)
{
  static unsigned char buf[4 * MIB];
  int fd;
  const off_t far = 8 * MIB, size = 8 * MIB + 4096;
  memset(buf, 'A', 4096);
  TRYV(fd, open("sparse", O_RDWR | O_CREAT, 0644));
  TRY(pwrite_full(fd, buf, 4096, 0));
  TRY(pwrite_full(fd, buf, 4096, far));
  TRY(fsync(fd));
  struct stat st;
  TRY(fstat(fd, &st));
  CHECK(st.st_size == size, "size %jd", (intmax_t)st.st_size);
  if (st.st_blocks * 512 >= size) note("a file with 8 KiB of data in 8 MiB uses %jd bytes of blocks (not stored sparsely)", (intmax_t)st.st_blocks * 512);
  off_t d;
  TRYV(d, lseek(fd, 0, SEEK_DATA));
  CHECK(d == 0, "SEEK_DATA 0: %jd", (intmax_t)d);
  off_t h;
  TRYV(h, lseek(fd, 0, SEEK_HOLE));
  CHECK(h >= 4096 && h <= size, "SEEK_HOLE 0: %jd", (intmax_t)h);
  if (h == size) note("SEEK_HOLE finds no hole in a sparse file (whole file is data: allowed)");
  else {
    off_t d2;
    TRYV(d2, lseek(fd, h, SEEK_DATA));
    CHECK(d2 > h && d2 <= far, "SEEK_DATA after the hole at %jd: %jd", (intmax_t)h, (intmax_t)d2);
    for (off_t o = h; o < d2; o += (off_t)sizeof buf) {
      size_t len = (size_t)(d2 - o < (off_t)sizeof buf ? d2 - o : (off_t)sizeof buf);
      CHECK(pread_full(fd, buf, len, o) == (ssize_t)len && all_zero(buf, len), "reported hole at %jd is not zero", (intmax_t)o);
    }
  }
  TRYV(d, lseek(fd, 4 * MIB, SEEK_DATA));
  CHECK(d >= 4 * MIB && d <= far, "SEEK_DATA 4 MiB: %jd", (intmax_t)d);
  TRYV(d, lseek(fd, far, SEEK_DATA));
  CHECK(d == far, "SEEK_DATA at data: %jd, want %jd", (intmax_t)d, (intmax_t)far);
  TRYV(h, lseek(fd, size - 1, SEEK_HOLE));
  CHECK(h == size, "SEEK_HOLE in the last data: %jd, want EOF %jd", (intmax_t)h, (intmax_t)size);
  EXPECT_ERR(lseek(fd, size, SEEK_DATA), ENXIO);
  EXPECT_ERR(lseek(fd, size, SEEK_HOLE), ENXIO);
  EXPECT_ERR(lseek(fd, size + 100, SEEK_DATA), ENXIO);
  /* the hole reads as zeros */
  CHECK(pread_full(fd, buf, sizeof buf, 4096) == (ssize_t)sizeof buf && all_zero(buf, sizeof buf), "hole reads non-zero");
  /* a file that is all hole */
  int fd2;
  TRYV(fd2, open("empty-sparse", O_RDWR | O_CREAT, 0644));
  TRY(ftruncate(fd2, 1 * MIB));
  off_t e = lseek(fd2, 0, SEEK_DATA);
  CHECK((e == -1 && errno == ENXIO) || e == 0, "SEEK_DATA in an all-hole file: %jd (%s)", (intmax_t)e, ename(errno));
  TRYV(h, lseek(fd2, 0, SEEK_HOLE));
  CHECK(h == 0 || h == 1 * MIB, "SEEK_HOLE in an all-hole file: %jd", (intmax_t)h);
  close(fd2);
  close(fd);
  return 0;
}

static int check_fallocate(void)
{
  static unsigned char buf[MIB];
  int fd;
  struct stat st;
  TRYV(fd, open("f", O_RDWR | O_CREAT, 0644));
  if (fallocate(fd, 0, 0, MIB) < 0) FAILF("fallocate mode 0: %s (finding: glibc's posix_fallocate would fall back to writing zeros)", ename(errno));
  TRY(fstat(fd, &st));
  CHECK(st.st_size == MIB, "fallocate mode 0: size %jd, want %ld", (intmax_t)st.st_size, MIB);
  CHECK(pread_full(fd, buf, MIB, 0) == MIB && all_zero(buf, MIB), "allocated range is not zero");
  TRY(pwrite_full(fd, "data", 4, 10));
  TRY(fallocate(fd, 0, 0, 4096));
  CHECK(pread_full(fd, buf, 4, 10) == 4 && !memcmp(buf, "data", 4), "fallocate over data changed it");
  TRY(fstat(fd, &st));
  CHECK(st.st_size == MIB, "fallocate inside the file changed the size to %jd", (intmax_t)st.st_size);
  TRY(fallocate(fd, 0, MIB - 10, 20));
  TRY(fstat(fd, &st));
  CHECK(st.st_size == MIB + 10, "fallocate across EOF: size %jd", (intmax_t)st.st_size);
  if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 2 * MIB, MIB) < 0) FAILF("FALLOC_FL_KEEP_SIZE: %s", ename(errno));
  TRY(fstat(fd, &st));
  CHECK(st.st_size == MIB + 10, "KEEP_SIZE changed the size to %jd", (intmax_t)st.st_size);
  TRY(pwrite_full(fd, "tail", 4, 2 * MIB + 100));
  TRY(fstat(fd, &st));
  CHECK(st.st_size == 2 * MIB + 104, "write into a KEEP_SIZE range: size %jd", (intmax_t)st.st_size);
  CHECK(pread_full(fd, buf, MIB, MIB + 10) == MIB && all_zero(buf, MIB), "gap before the KEEP_SIZE write is not zero");
  CHECK(pread_full(fd, buf, 4, 2 * MIB + 100) == 4 && !memcmp(buf, "tail", 4), "KEEP_SIZE range write");
  /* optional modes */
  TRY(pwrite_full(fd, "XXXXXXXX", 8, 4096));
  if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 4096) < 0) note("FALLOC_FL_PUNCH_HOLE: %s", ename(errno));
  else {
    CHECK(pread_full(fd, buf, 8, 4096) == 8 && all_zero(buf, 8), "punched range is not zero");
    TRY(fstat(fd, &st));
    CHECK(st.st_size == 2 * MIB + 104, "PUNCH_HOLE changed the size");
  }
  TRY(pwrite_full(fd, "YYYYYYYY", 8, 8192));
  if (fallocate(fd, FALLOC_FL_ZERO_RANGE, 8192, 4) < 0) note("FALLOC_FL_ZERO_RANGE: %s", ename(errno));
  else CHECK(pread_full(fd, buf, 8, 8192) == 8 && all_zero(buf, 4) && !memcmp(buf + 4, "YYYY", 4), "zeroed range wrong");
  EXPECT_ERR(fallocate(fd, 0, 0, 0), EINVAL);
  EXPECT_ERR(fallocate(fd, 0, -1, 10), EINVAL);
  close(fd);
  TRYV(fd, open("f", O_RDONLY));
  EXPECT_ERR(fallocate(fd, 0, 0, 10), EBADF);
  close(fd);
  /* posix_fallocate works whatever the filesystem offers */
  TRYV(fd, open("g", O_RDWR | O_CREAT, 0644));
  int r = posix_fallocate(fd, 0, 100000);
  CHECK(r == 0, "posix_fallocate: %s", ename(r));
  TRY(fstat(fd, &st));
  CHECK(st.st_size == 100000, "posix_fallocate: size %jd", (intmax_t)st.st_size);
  close(fd);
  return 0;
}

/* ---- mmap ---------------------------------------------------------------- */

static int check_mmap(void)
{
  long page = sysconf(_SC_PAGESIZE);
  size_t size = (size_t)(3 * page + 100);
  int fd, fd2;
  struct stat st0, st;
  TRYV(fd, open("f", O_RDWR | O_CREAT, 0644));
  TRY(ftruncate(fd, (off_t)size));
  struct timespec past[2] = {{1000000000, 0}, {1000000000, 0}};
  TRY(futimens(fd, past));
  TRY(fstat(fd, &st0));
  unsigned char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED, "mmap MAP_SHARED: %s", ename(errno));
  CHECK(all_zero(m, size), "a fresh mapping is not zero");
  for (size_t i = 0; i < size; i++) m[i] = (unsigned char)(i % 251 + 1);
  /* coherent with read() through another fd before msync */
  static unsigned char back[65536];
  TRYV(fd2, open("f", O_RDONLY));
  CHECK(pread_full(fd2, back, size, 0) == (ssize_t)size, "pread");
  for (size_t i = 0; i < size; i++)
    if (back[i] != m[i]) { note("read() before msync does not see the mapped write at byte %zu", i); break; }
  TRY(msync(m, size, MS_SYNC));
  TRY(munmap(m, size));
  TRY(fstat(fd, &st));
  /* POSIX marks mtime between a write through the map and the next msync;
   * ext4 does, tmpfs (a native oracle where /tmp is tmpfs) does not */
  struct statfs sf;
  TRY(fstatfs(fd, &sf));
  if (sf.f_type == TMPFS_MAGIC) {
    if (ts_cmp(st.st_mtim, st0.st_mtim) <= 0) note("tmpfs: mtime unchanged after a mapped write and msync (not checked on tmpfs)");
  } else
    CHECK(ts_cmp(st.st_mtim, st0.st_mtim) > 0, "mtime unchanged after a mapped write and msync");
  close(fd2);
  close(fd);
  TRYV(fd, open("f", O_RDONLY));
  memset(back, 0, sizeof back);
  CHECK(pread_full(fd, back, size + 10, 0) == (ssize_t)size, "size after reopen");
  close(fd);
  for (size_t i = 0; i < size; i++)
    CHECK(back[i] == (unsigned char)(i % 251 + 1), "byte %zu after msync, close, reopen: %u", i, back[i]);
  /* write() then a new mapping sees it */
  TRYV(fd, open("f", O_RDWR));
  TRY(pwrite_full(fd, "written", 7, (off_t)page));
  m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED, "mmap: %s", ename(errno));
  CHECK(!memcmp(m + page, "written", 7), "mapping does not see a write()");
  TRY(munmap(m, size));
  /* MAP_PRIVATE writes stay private */
  m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(m != MAP_FAILED, "mmap MAP_PRIVATE: %s", ename(errno));
  memcpy(m, "private", 7);
  TRY(munmap(m, size));
  CHECK(pread_full(fd, back, 7, 0) == 7 && memcmp(back, "private", 7), "MAP_PRIVATE write reached the file");
  /* a mapping kept past close, written after close, synced by munmap */
  m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED, "mmap: %s", ename(errno));
  close(fd);
  memcpy(m + 2 * page, "after close", 11);
  TRY(msync(m, size, MS_SYNC));
  TRY(munmap(m, size));
  memset(back, 0, sizeof back);
  CHECK(read_file("f", back, sizeof back) == (ssize_t)size && !memcmp(back + 2 * page, "after close", 11), "mapped write after close lost");
  /* a bigger file, several MiB, written only through the map */
  size_t big = 8 * MIB;
  TRYV(fd, open("big", O_RDWR | O_CREAT, 0644));
  TRY(ftruncate(fd, (off_t)big));
  m = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED, "mmap 8 MiB: %s", ename(errno));
  for (size_t i = 0; i < big; i += 512) memcpy(m + i, &i, sizeof i);
  TRY(msync(m, big, MS_SYNC));
  TRY(munmap(m, big));
  close(fd);
  TRYV(fd, open("big", O_RDONLY));
  for (size_t i = 0; i < big; i += 512) {
    size_t v = 0;
    if (pread(fd, &v, sizeof v, (off_t)i) != sizeof v || v != i) { close(fd); FAILF("8 MiB mapped file: word at %zu is %zu", i, v); }
  }
  close(fd);
  return 0;
}

/* ---- random pread/pwrite against a model --------------------------------- */

static int compare_model(int fd, const unsigned char *model, size_t size, unsigned char *back, const char *when)
{
  struct stat st;
  TRY(fstat(fd, &st));
  CHECK(st.st_size == (off_t)size, "%s: size %jd, model %zu", when, (intmax_t)st.st_size, size);
  ssize_t n = pread_full(fd, back, size + 1, 0);
  CHECK(n == (ssize_t)size, "%s: read %zd bytes, model %zu", when, n, size);
  for (size_t i = 0; i < size; i++)
    CHECK(back[i] == model[i], "%s: byte %zu is 0x%02x, model 0x%02x", when, i, back[i], model[i]);
  return 0;
}

static int check_random_io(void)
{
  enum { SIZE_MAX_BYTES = 6 * 1024 * 1024, OPS = 4000, LEN_MAX = 200000 };
  unsigned char *model = calloc(SIZE_MAX_BYTES + 1, 1), *back = malloc(SIZE_MAX_BYTES + 1), *chunk = malloc(LEN_MAX);
  CHECK(model && back && chunk, "out of memory");
  g_rng = 0x5eed1234abcdull;
  size_t size = 0;
  int fd, rfd;
  TRYV(fd, open("f", O_RDWR | O_CREAT, 0644));
  TRYV(rfd, open("f", O_RDONLY));
  for (int op = 0; op < OPS; op++) {
    uint64_t r = rnd();
    if (r % 50 == 0) {
      size_t ns = (size_t)(rnd() % SIZE_MAX_BYTES);
      if (ns > size) memset(model + size, 0, ns - size);
      TRY(ftruncate(fd, (off_t)ns));
      size = ns;
      continue;
    }
    size_t len = (size_t)(rnd() % (r % 4 == 0 ? LEN_MAX : 5000)) + 1;
    size_t off = (size_t)(rnd() % (SIZE_MAX_BYTES - len));
    if (r % 3 == 0) {
      size_t want = off < size ? (size - off < len ? size - off : len) : 0;
      ssize_t n = pread_full(r % 6 == 0 ? rfd : fd, chunk, len, (off_t)off);
      CHECK(n == (ssize_t)want, "op %d: pread %zu at %zu returned %zd, want %zu", op, len, off, n, want);
      CHECK(!memcmp(chunk, model + off, want), "op %d: pread %zu at %zu differs from the model", op, len, off);
      continue;
    }
    for (size_t i = 0; i < len; i++) chunk[i] = (unsigned char)(rnd() >> 56);
    if (off > size) memset(model + size, 0, off - size);
    memcpy(model + off, chunk, len);
    if (off + len > size) size = off + len;
    CHECK(pwrite_full(fd, chunk, len, (off_t)off) == (ssize_t)len, "op %d: pwrite %zu at %zu: %s", op, len, off, ename(errno));
    if (op % 1000 == 999 && compare_model(rfd, model, size, back, "periodic compare") < 0) return -1;
    if (op % 1500 == 0) TRY(fsync(fd));
  }
  if (compare_model(fd, model, size, back, "before close") < 0) return -1;
  close(fd);
  close(rfd);
  TRYV(fd, open("f", O_RDONLY));
  if (compare_model(fd, model, size, back, "after close and reopen") < 0) return -1;
  close(fd);
  free(model);
  free(back);
  free(chunk);
  return 0;
}

/* A file written sequentially (the chunker's path), closed, then changed in
 * place, appended to and truncated: each close must keep every byte. */
static int reopen_compare(const char *path, const unsigned char *model, size_t size, unsigned char *back, const char *when)
{
  int fd;
  TRYV(fd, open(path, O_RDONLY));
  int r = compare_model(fd, model, size, back, when);
  close(fd);
  return r;
}

static int check_rewrite(void)
{
  enum { SIZE = 5 * 1024 * 1024, STEP = 65537 };
  unsigned char *model = malloc(SIZE + 200000), *back = malloc(SIZE + 200001);
  CHECK(model && back, "out of memory");
  g_rng = 0xfeedbeef12345ull;
  for (size_t i = 0; i < SIZE + 200000; i++) model[i] = (unsigned char)(rnd() >> 56);
  int fd;
  TRYV(fd, open("f", O_WRONLY | O_CREAT | O_TRUNC, 0644));
  for (size_t off = 0; off < SIZE; off += STEP) {
    size_t len = SIZE - off < STEP ? SIZE - off : STEP;
    CHECK(write(fd, model + off, len) == (ssize_t)len, "sequential write at %zu: %s", off, ename(errno));
  }
  close(fd);
  if (reopen_compare("f", model, SIZE, back, "after the sequential write") < 0) return -1;
  /* small changes in place, one across a 256 KiB boundary, one at the very start */
  TRYV(fd, open("f", O_RDWR));
  static const struct { size_t off, len; } edits[] = {{1536 * 1024, 10}, {4 * 1024 * 1024 - 1000, 3000}, {0, 1}, {SIZE - 1, 1}};
  for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
    for (size_t k = 0; k < edits[e].len; k++) model[edits[e].off + k] = (unsigned char)~model[edits[e].off + k];
    TRY(pwrite_full(fd, model + edits[e].off, edits[e].len, (off_t)edits[e].off));
  }
  close(fd);
  if (reopen_compare("f", model, SIZE, back, "after edits in place") < 0) return -1;
  TRYV(fd, open("f", O_WRONLY | O_APPEND));
  TRY(write(fd, model + SIZE, 100000));
  close(fd);
  if (reopen_compare("f", model, SIZE + 100000, back, "after an append") < 0) return -1;
  TRY(truncate("f", 3 * 1024 * 1024 + 5));
  if (reopen_compare("f", model, 3 * 1024 * 1024 + 5, back, "after truncate") < 0) return -1;
  /* overwrite everything from the start with O_TRUNC and a short content */
  TRYV(fd, open("f", O_WRONLY | O_TRUNC));
  TRY(write(fd, model + 7, 1000));
  close(fd);
  if (reopen_compare("f", model + 7, 1000, back, "after O_TRUNC and a short write") < 0) return -1;
  free(model);
  free(back);
  return 0;
}

/* The copy paths cp and friends take: copy_file_range, sendfile, splice
 * through a pipe; a clone ioctl is reported only.  Unsupported calls may say
 * EXDEV/EOPNOTSUPP/ENOSYS (callers fall back), but a copy must be exact. */
static int check_copy(void)
{
  enum { SIZE = 3 * 1024 * 1024 + 777 };
  unsigned char *data = malloc(SIZE), *back = malloc(SIZE + 1);
  CHECK(data && back, "out of memory");
  g_rng = 0xc0ffee;
  for (size_t i = 0; i < SIZE; i++) data[i] = (unsigned char)(rnd() >> 56);
  TRY(write_file("src", data, SIZE, 0644));
  int in, out;
  TRYV(in, open("src", O_RDONLY));
  TRYV(out, open("cfr", O_WRONLY | O_CREAT | O_TRUNC, 0644));
  loff_t ioff = 0, ooff = 0;
  size_t done = 0;
  bool cfr_ok = true;
  while (done < SIZE) {
    ssize_t r = copy_file_range(in, &ioff, out, &ooff, SIZE - done, 0);
    if (r < 0 && (errno == EXDEV || errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL) && done == 0) {
      note("copy_file_range: %s (callers fall back to read/write)", ename(errno));
      cfr_ok = false;
      break;
    }
    CHECK(r > 0, "copy_file_range after %zu bytes: %s", done, r < 0 ? ename(errno) : "returned 0");
    done += (size_t)r;
  }
  close(out);
  if (cfr_ok) {
    CHECK(read_file("cfr", back, SIZE + 1) == SIZE && !memcmp(back, data, SIZE), "copy_file_range copy differs");
    /* a range into the middle of an existing file */
    TRYV(out, open("cfr", O_WRONLY));
    ioff = 1000;
    ooff = 2 * 1024 * 1024;
    ssize_t r = copy_file_range(in, &ioff, out, &ooff, 5000, 0);
    close(out);
    CHECK(r == 5000, "copy_file_range of a range: %zd (%s)", r, ename(errno));
    memcpy(data + 2 * 1024 * 1024, data + 1000, 5000); /* data is now the expected cfr */
    CHECK(read_file("cfr", back, SIZE + 1) == SIZE && !memcmp(back, data, SIZE), "copy_file_range of a range: content differs");
    TRY(pread_full(in, data, SIZE, 0)); /* data back to src */
  }
  /* sendfile */
  TRYV(out, open("sf", O_WRONLY | O_CREAT | O_TRUNC, 0644));
  off_t soff = 0;
  done = 0;
  while (done < SIZE) {
    ssize_t r = sendfile(out, in, &soff, SIZE - done);
    CHECK(r > 0, "sendfile after %zu bytes: %s", done, r < 0 ? ename(errno) : "returned 0");
    done += (size_t)r;
  }
  close(out);
  CHECK(read_file("sf", back, SIZE + 1) == SIZE && !memcmp(back, data, SIZE), "sendfile copy differs");
  /* splice through a pipe, both ways */
  int pp[2];
  TRY(pipe(pp));
  TRYV(out, open("spl", O_WRONLY | O_CREAT | O_TRUNC, 0644));
  loff_t sin = 0;
  done = 0;
  while (done < SIZE) {
    ssize_t r = splice(in, &sin, pp[1], NULL, 65536, 0);
    CHECK(r > 0, "splice from the file: %s", r < 0 ? ename(errno) : "returned 0");
    ssize_t moved = 0;
    while (moved < r) {
      ssize_t w = splice(pp[0], NULL, out, NULL, (size_t)(r - moved), 0);
      CHECK(w > 0, "splice into the file: %s", w < 0 ? ename(errno) : "returned 0");
      moved += w;
    }
    done += (size_t)r;
  }
  close(out);
  close(pp[0]);
  close(pp[1]);
  CHECK(read_file("spl", back, SIZE + 1) == SIZE && !memcmp(back, data, SIZE), "splice copy differs");
  /* clone: reported only */
  TRYV(out, open("clone", O_WRONLY | O_CREAT | O_TRUNC, 0644));
  if (ioctl(out, FICLONE, in) < 0) note("FICLONE: %s", ename(errno));
  close(out);
  close(in);
  /* O_DIRECT: reported only (FUSE servers may refuse it) */
  int d = open("direct", O_RDWR | O_CREAT | O_DIRECT, 0644);
  if (d < 0) note("O_DIRECT open: %s", ename(errno));
  else {
    void *al = NULL;
    CHECK(posix_memalign(&al, 4096, 8192) == 0, "posix_memalign");
    memset(al, 'D', 8192);
    ssize_t w = pwrite(d, al, 8192, 0);
    memset(al, 0, 8192);
    ssize_t r = pread(d, al, 8192, 0);
    if (w != 8192 || r != 8192) note("O_DIRECT I/O: write %zd read %zd (%s)", w, r, ename(errno));
    else CHECK(((unsigned char *)al)[8191] == 'D', "O_DIRECT read back differs");
    free(al);
    close(d);
    CHECK(read_file("direct", back, 8193) == 8192 && back[0] == 'D', "O_DIRECT write not seen by a buffered read");
  }
  free(data);
  free(back);
  return 0;
}

/* ---- past 4 GiB ----------------------------------------------------------- */

static int check_4gib(void)
{
  int fd;
  const off_t g4 = 4 * GIB;
  TRYV(fd, open("big", O_RDWR | O_CREAT, 0644));
  TRY(pwrite_full(fd, "head", 4, 0));
  TRY(pwrite_full(fd, "Z", 1, g4));
  TRY(pwrite_full(fd, "edge", 4, g4 - 3)); /* across the 4 GiB boundary */
  struct stat st;
  TRY(fstat(fd, &st));
  CHECK(st.st_size == g4 + 1, "size %jd, want %jd", (intmax_t)st.st_size, (intmax_t)(g4 + 1));
  close(fd);
  TRYV(fd, open("big", O_RDONLY));
  TRY(fstat(fd, &st));
  CHECK(st.st_size == g4 + 1, "size after reopen %jd", (intmax_t)st.st_size);
  char buf[16] = {0};
  CHECK(pread_full(fd, buf, 16, g4 - 3) == 4 && !memcmp(buf, "edge", 4), "last 4 bytes: '%.4s'", buf);
  CHECK(pread_full(fd, buf, 4, 0) == 4 && !memcmp(buf, "head", 4), "first bytes");
  static unsigned char mid[65536];
  CHECK(pread_full(fd, mid, sizeof mid, 2 * GIB) == (ssize_t)sizeof mid && all_zero(mid, sizeof mid), "hole at 2 GiB not zero");
  CHECK(pread_full(fd, mid, sizeof mid, g4 - 3 - (off_t)sizeof mid) == (ssize_t)sizeof mid && all_zero(mid, sizeof mid), "hole before the edge not zero");
  off_t end;
  TRYV(end, lseek(fd, 0, SEEK_END));
  CHECK(end == g4 + 1, "SEEK_END %jd", (intmax_t)end);
  close(fd);
  /* truncate down past 4 GiB and back */
  TRY(truncate("big", g4 - 2));
  TRYV(fd, open("big", O_RDONLY));
  CHECK(pread_full(fd, buf, 16, g4 - 3) == 1 && buf[0] == 'e', "after truncate to 4 GiB - 2");
  close(fd);
  TRY(unlink("big"));
  return 0;
}

/* ---- statfs, fsync -------------------------------------------------------- */

static int check_statfs(void)
{
  struct statvfs v;
  struct statfs s;
  TRY(statvfs(".", &v));
  TRY(statfs(".", &s));
  CHECK(v.f_bsize > 0 && v.f_frsize > 0, "f_bsize %lu f_frsize %lu", v.f_bsize, v.f_frsize);
  CHECK(v.f_blocks > 0, "f_blocks 0");
  CHECK(v.f_bfree <= v.f_blocks && v.f_bavail <= v.f_blocks, "free %ju / avail %ju > total %ju", (uintmax_t)v.f_bfree, (uintmax_t)v.f_bavail, (uintmax_t)v.f_blocks);
  CHECK((double)v.f_blocks * (double)v.f_frsize >= 64.0 * MIB, "total %ju blocks of %lu bytes is under 64 MiB", (uintmax_t)v.f_blocks, v.f_frsize);
  CHECK(v.f_bavail > 0, "no space available");
  CHECK(v.f_namemax >= 255, "f_namemax %lu", v.f_namemax);
  CHECK(v.f_ffree <= v.f_files, "f_ffree %ju > f_files %ju", (uintmax_t)v.f_ffree, (uintmax_t)v.f_files);
  if (v.f_files == 0) note("statfs reports f_files 0 (no inode figures)");
  int fd;
  TRYV(fd, open(".", O_RDONLY | O_DIRECTORY));
  struct statvfs fv;
  TRY(fstatvfs(fd, &fv));
  close(fd);
  CHECK(fv.f_blocks == v.f_blocks, "fstatvfs disagrees with statvfs");
  printf("# statfs: %ju blocks of %lu bytes, %ju free, %ju available, %ju/%ju inodes free, namemax %lu\n",
         (uintmax_t)v.f_blocks, v.f_frsize, (uintmax_t)v.f_bfree, (uintmax_t)v.f_bavail,
         (uintmax_t)v.f_ffree, (uintmax_t)v.f_files, v.f_namemax);
  return 0;
}

static int check_fsync(void)
{
  int fd;
  TRYV(fd, open("f", O_RDWR | O_CREAT, 0644));
  TRY(write(fd, "x", 1));
  TRY(fsync(fd));
  TRY(fdatasync(fd));
  TRY(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER));
  close(fd);
  TRYV(fd, open(".", O_RDONLY | O_DIRECTORY));
  TRY(fsync(fd));
  close(fd);
  TRYV(fd, open("f", O_RDONLY));
  TRY(fsync(fd)); /* fsync of a read-only fd is allowed */
  close(fd);
  TRYV(fd, open("f", O_RDONLY));
  TRY(syncfs(fd));
  close(fd);
  return 0;
}

/* Renames in opposite directions at once (lock ordering in the server),
 * directory moves among them, and a lister; bounded by the check timeout. */
static int check_rename_storm(void)
{
  enum { FILES = 200, ROUNDS = 3 };
  TRY(mkdir("d1", 0755));
  TRY(mkdir("d2", 0755));
  char a[64], b[64];
  for (int i = 0; i < FILES; i++) {
    snprintf(a, sizeof a, "d1/x%d", i);
    TRY(write_file(a, a, strlen(a), 0644));
    snprintf(a, sizeof a, "d2/y%d", i);
    TRY(write_file(a, a, strlen(a), 0644));
  }
  TRY(mkdir("d1/sub1", 0755));
  TRY(mkdir("d2/sub2", 0755));
  pid_t pids[3];
  for (int w = 0; w < 3; w++) {
    fflush(stdout);
    pids[w] = fork();
    if (pids[w] < 0) FAILF("fork: %s", ename(errno));
    if (pids[w] == 0) {
      g_child = true;
      for (int r = 0; r < ROUNDS; r++) {
        const char *from = (w == 0) == (r % 2 == 0) ? "d1" : "d2", *to = from[1] == '1' ? "d2" : "d1";
        if (w == 2) { /* the lister */
          DIR *d = opendir(r % 2 ? "d1" : "d2");
          if (!d) FAILF("lister: opendir: %s", ename(errno));
          while (readdir(d)) {}
          closedir(d);
          continue;
        }
        for (int i = 0; i < FILES; i++) {
          snprintf(a, sizeof a, "%s/%c%d", from, w == 0 ? 'x' : 'y', i);
          snprintf(b, sizeof b, "%s/%c%d", to, w == 0 ? 'x' : 'y', i);
          if (rename(a, b) < 0) FAILF("writer %d round %d: rename %s %s: %s", w, r, a, b, ename(errno));
        }
        snprintf(a, sizeof a, "%s/sub%d", from, w + 1);
        snprintf(b, sizeof b, "%s/sub%d", to, w + 1);
        if (rename(a, b) < 0) FAILF("writer %d: rename dir %s %s: %s", w, a, b, ename(errno));
      }
      _exit(0);
    }
  }
  int failed = 0;
  for (int w = 0; w < 3; w++) {
    int status;
    TRY(waitpid(pids[w], &status, 0));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
  }
  if (failed) {
    if (!g_detail[0]) snprintf(g_detail, DETAIL_BYTES, "%d renamer(s) died", failed);
    return -1;
  }
  /* odd rounds: x ends in d2, y in d1 */
  for (int i = 0; i < FILES; i++) {
    char content[64] = {0};
    snprintf(a, sizeof a, "d2/x%d", i);
    snprintf(b, sizeof b, "d1/x%d", i);
    CHECK(read_file(a, content, sizeof content - 1) > 0 && !strcmp(content, b), "%s has '%s'", a, content);
    memset(content, 0, sizeof content);
    snprintf(a, sizeof a, "d1/y%d", i);
    snprintf(b, sizeof b, "d2/y%d", i);
    CHECK(read_file(a, content, sizeof content - 1) > 0 && !strcmp(content, b), "%s has '%s'", a, content);
  }
  struct stat st, p;
  TRY(stat("d2/sub1", &st));
  TRY(stat("d2/sub1/..", &p));
  struct stat d2;
  TRY(stat("d2", &d2));
  CHECK(p.st_ino == d2.st_ino, "d2/sub1/.. is not d2");
  TRY(stat("d1/sub2", &st));
  return 0;
}

/* Advisory locks (sqlite, git and backup tools take them): fcntl record
 * locks between processes, OFD locks and flock between open file descriptions. */
static int check_locks(void)
{
  int fd;
  TRYV(fd, open("f", O_RDWR | O_CREAT, 0644));
  TRY(ftruncate(fd, 1000));
  struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 50};
  TRY(fcntl(fd, F_SETLK, &l));
  int pipefd[2];
  TRY(pipe(pipefd));
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    g_child = true;
    close(pipefd[0]);
    int cfd = open("f", O_RDWR);
    if (cfd < 0) FAILF("child open: %s", ename(errno));
    struct flock c = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 120, .l_len = 10};
    EXPECT_ERR2(fcntl(cfd, F_SETLK, &c), EAGAIN, EACCES);
    struct flock q = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    TRY(fcntl(cfd, F_GETLK, &q));
    CHECK(q.l_type == F_WRLCK && q.l_pid == getppid() && q.l_start == 100 && q.l_len == 50,
          "F_GETLK: type %d pid %d start %jd len %jd", q.l_type, q.l_pid, (intmax_t)q.l_start, (intmax_t)q.l_len);
    struct flock other = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 200, .l_len = 10};
    TRY(fcntl(cfd, F_SETLK, &other)); /* a disjoint range is free */
    if (write(pipefd[1], "r", 1) != 1) _exit(1);
    /* then wait for the parent's lock to go */
    struct flock w = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 50};
    TRY(fcntl(cfd, F_SETLKW, &w));
    _exit(0);
  }
  close(pipefd[1]);
  char c;
  CHECK(read(pipefd[0], &c, 1) == 1, "the locking child failed before it was ready");
  close(pipefd[0]);
  tick();
  l.l_type = F_UNLCK;
  TRY(fcntl(fd, F_SETLK, &l));
  if (user_wait(p) < 0) return -1;
  /* flock: another open file description conflicts, the same one does not */
  int fd2;
  TRYV(fd2, open("f", O_RDONLY));
  TRY(flock(fd, LOCK_EX | LOCK_NB));
  EXPECT_ERR(flock(fd2, LOCK_SH | LOCK_NB), EWOULDBLOCK);
  TRY(flock(fd, LOCK_SH | LOCK_NB)); /* converts */
  TRY(flock(fd2, LOCK_SH | LOCK_NB));
  TRY(flock(fd, LOCK_UN));
  TRY(flock(fd2, LOCK_UN));
  /* OFD locks */
  struct flock o = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
  TRY(fcntl(fd, F_OFD_SETLK, &o));
  o.l_type = F_RDLCK;
  EXPECT_ERR(fcntl(fd2, F_OFD_SETLK, &o), EAGAIN);
  close(fd);
  TRY(fcntl(fd2, F_OFD_SETLK, &o)); /* freed by the close */
  close(fd2);
  return 0;
}

/* Programs stored in the tree run: a copied ELF binary and a #! script. */
static int check_exec(void)
{
  static unsigned char bin[4 * MIB];
  struct statvfs v;
  TRY(statvfs(".", &v));
  if (v.f_flag & ST_NOEXEC) {
    note("mounted noexec: exec not checked");
    return 0;
  }
  const char *src = access("/bin/echo", X_OK) == 0 ? "/bin/echo" : "/usr/bin/echo";
  ssize_t n = read_file(src, bin, sizeof bin);
  CHECK(n > 0 && n < (ssize_t)sizeof bin, "reading %s: %s", src, ename(errno));
  TRY(write_file("echo", bin, (size_t)n, 0755));
  static const char script[] = "#!/bin/sh\necho script \"$1\"\n";
  TRY(write_file("script.sh", script, sizeof script - 1, 0755));
  TRY(write_file("noexec.sh", script, sizeof script - 1, 0644));
  const char *runs[][3] = {{"./echo", "hello", "hello\n"}, {"./script.sh", "arg", "script arg\n"}};
  for (int i = 0; i < 2; i++) {
    int out[2];
    TRY(pipe(out));
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
      dup2(out[1], 1);
      execl(runs[i][0], runs[i][0], runs[i][1], (char *)NULL);
      _exit(127);
    }
    close(out[1]);
    char got[64] = {0};
    ssize_t r = read(out[0], got, sizeof got - 1);
    close(out[0]);
    int status;
    TRY(waitpid(p, &status, 0));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s exited 0x%x", runs[i][0], status);
    CHECK(r > 0 && !strcmp(got, runs[i][2]), "%s printed '%s'", runs[i][0], got);
  }
  pid_t p = user_fork(U1, G1, NO_GROUP);
  if (p == 0) {
    EXPECT_ERR(execl("./noexec.sh", "noexec.sh", (char *)NULL), EACCES);
    AS_USER_END(p);
  }
  AS_USER_END(p);
  return 0;
}

/* ---- permissions as unprivileged users ----------------------------------- */

static int check_perm_files(void)
{
  struct stat st;
  TRY(write_file("root644", "root", 4, 0644));
  TRY(write_file("root600", "secret", 6, 0600));
  TRY(mkdir("rootdir", 0755));
  TRY(write_file("rootdir/f", "x", 1, 0644));
  TRY(write_file("group", "g", 1, 0640));
  TRY(chown("group", 0, GS));
  TRY(write_file("gw", "g", 1, 0664));
  TRY(chown("gw", 0, GS));
  TRY(mkdir("mine", 0755));
  TRY(chown("mine", U1, G1));
  TRY(write_file("u1own", "u", 1, 0644));
  TRY(chown("u1own", U1, G1));
  TRY(chmod(".", 0755));
  int protected_hardlinks = 0;
  FILE *ph = fopen("/proc/sys/fs/protected_hardlinks", "r");
  if (ph) {
    if (fscanf(ph, "%d", &protected_hardlinks) != 1) protected_hardlinks = 0;
    fclose(ph);
  }
  pid_t p = user_fork(U1, G1, NO_GROUP);
  if (p == 0) {
    char buf[16];
    CHECK(read_file("root644", buf, sizeof buf) == 4, "reading a 0644 file: %s", ename(errno));
    EXPECT_ERR(open("root644", O_WRONLY), EACCES);
    EXPECT_ERR(open("root644", O_RDWR), EACCES);
    EXPECT_ERR(open("root644", O_WRONLY | O_TRUNC), EACCES);
    EXPECT_ERR(open("root644", O_WRONLY | O_APPEND), EACCES);
    EXPECT_ERR(truncate("root644", 0), EACCES);
    EXPECT_ERR(open("root600", O_RDONLY), EACCES);
    EXPECT_ERR(open("group", O_RDONLY), EACCES);
    EXPECT_ERR(open("rootdir/new", O_CREAT | O_WRONLY, 0644), EACCES);
    EXPECT_ERR(mkdir("rootdir/newdir", 0755), EACCES);
    EXPECT_ERR(symlink("x", "rootdir/sl"), EACCES);
    EXPECT_ERR(mkfifo("rootdir/fifo", 0644), EACCES);
    EXPECT_ERR(link("u1own", "rootdir/l"), EACCES);
    if (protected_hardlinks == 1) EXPECT_ERR(link("root600", "mine/l"), EPERM); /* fs.protected_hardlinks */
    TRY(link("u1own", "mine/l"));
    EXPECT_ERR(unlink("rootdir/f"), EACCES);
    EXPECT_ERR(rename("rootdir/f", "mine/f"), EACCES);
    EXPECT_ERR(access("root644", W_OK), EACCES);
    TRY(access("root644", R_OK));
    EXPECT_ERR(access("root600", R_OK), EACCES);
    EXPECT_ERR(access("rootdir", W_OK), EACCES);
    EXPECT_ERR(access("root644", X_OK), EACCES);
    EXPECT_ERR(chmod("root644", 0666), EPERM);
    EXPECT_ERR(chown("root644", U1, G1), EPERM);
    EXPECT_ERR(chown("root644", (uid_t)-1, G1), EPERM);
    EXPECT_ERR(setxattr("root644", "user.x", "v", 1, 0), EACCES);
    struct timespec t[2] = {{1, 0}, {1, 0}};
    EXPECT_ERR(utimensat(AT_FDCWD, "root644", t, 0), EPERM);
    EXPECT_ERR(utimensat(AT_FDCWD, "root644", NULL, 0), EACCES);
    /* the own directory: create, and the new entries are ours */
    int fd;
    TRYV(fd, open("mine/f", O_CREAT | O_RDWR, 0444));
    TRY(write(fd, "w", 1)); /* the creator writes through a mode without write */
    TRY(fstat(fd, &st));
    close(fd);
    CHECK(st.st_uid == U1 && st.st_gid == G1, "created file owner %u:%u, want %u:%u", st.st_uid, st.st_gid, U1, G1);
    EXPECT_ERR(open("mine/f", O_WRONLY), EACCES);
    TRY(mkdir("mine/d", 0700));
    TRY(stat("mine/d", &st));
    CHECK(st.st_uid == U1 && st.st_gid == G1, "created dir owner %u:%u", st.st_uid, st.st_gid);
    TRY(symlink("f", "mine/sl"));
    TRY(lstat("mine/sl", &st));
    CHECK(st.st_uid == U1 && st.st_gid == G1, "created symlink owner %u:%u", st.st_uid, st.st_gid);
    TRY(mkfifo("mine/fifo", 0600));
    TRY(lstat("mine/fifo", &st));
    CHECK(st.st_uid == U1, "created fifo owner %u", st.st_uid);
    /* an owner may chmod and utimens explicitly; not chown to another user */
    TRY(chmod("mine/f", 0600));
    TRY(utimensat(AT_FDCWD, "mine/f", t, 0));
    EXPECT_ERR(chown("mine/f", U2, (gid_t)-1), EPERM);
    EXPECT_ERR(chown("mine/f", (uid_t)-1, G2), EPERM); /* not a member of G2 */
    TRY(chown("mine/f", U1, G1));                     /* a no-op change is allowed */
    /* an owner without permission bits is refused like anyone */
    TRY(chmod("mine/f", 0));
    EXPECT_ERR(open("mine/f", O_RDONLY), EACCES);
    TRY(chmod("mine/f", 0200));
    TRY(fd = open("mine/f", O_WRONLY));
    close(fd);
    EXPECT_ERR(open("mine/f", O_RDONLY), EACCES);
    /* permission is checked at open: an fd keeps working after chmod 0 */
    int held;
    TRYV(held, open("mine/held", O_CREAT | O_RDWR, 0644));
    TRY(write(held, "abc", 3));
    TRY(chmod("mine/held", 0));
    TRY(pwrite_full(held, "def", 3, 3));
    char hb[8] = {0};
    CHECK(pread(held, hb, sizeof hb, 0) == 6 && !memcmp(hb, "abcdef", 6), "fd after chmod 0 reads '%s'", hb);
    TRY(ftruncate(held, 4));
    EXPECT_ERR(truncate("mine/held", 2), EACCES);
    TRY(fsync(held));
    close(held);
    EXPECT_ERR(open("mine/held", O_RDONLY), EACCES);
    EXPECT_ERR(fchmod(open("root644", O_RDONLY), 0777), EPERM);
    /* directory bits: no x stops lookup, no r stops listing, no w stops creating */
    TRY(write_file("mine/d/inner", "i", 1, 0644));
    TRY(chmod("mine/d", 0600));
    EXPECT_ERR(stat("mine/d/inner", &st), EACCES);
    EXPECT_ERR(open("mine/d/new", O_CREAT | O_WRONLY, 0644), EACCES);
    TRY(chmod("mine/d", 0300));
    EXPECT_ERR(open("mine/d", O_RDONLY | O_DIRECTORY), EACCES);
    TRY(stat("mine/d/inner", &st));
    TRY(chmod("mine/d", 0500));
    EXPECT_ERR(open("mine/d/new", O_CREAT | O_WRONLY, 0644), EACCES);
    EXPECT_ERR(unlink("mine/d/inner"), EACCES);
    TRY(chmod("mine/d", 0700));
    TRY(unlink("mine/d/inner"));
    AS_USER_END(p);
  }
  AS_USER_END(p);
  /* group permissions: a member of GS reads "group" and writes "gw" */
  p = user_fork(U2, G2, GS);
  if (p == 0) {
    char buf[4];
    CHECK(read_file("group", buf, sizeof buf) == 1, "group member reading a 0640 file: %s", ename(errno));
    EXPECT_ERR(open("group", O_WRONLY), EACCES);
    int fd;
    TRYV(fd, open("gw", O_WRONLY));
    close(fd);
    /* not the owner but may write: UTIME_NOW is allowed, explicit times are not */
    TRY(utimensat(AT_FDCWD, "gw", NULL, 0));
    struct timespec t[2] = {{1, 0}, {1, 0}};
    EXPECT_ERR(utimensat(AT_FDCWD, "gw", t, 0), EPERM);
    TRY(setxattr("gw", "user.by-group", "v", 1, 0));
    AS_USER_END(p);
  }
  AS_USER_END(p);
  TRY(stat("mine/f", &st));
  CHECK(st.st_uid == U1, "file owner seen by root: %u", st.st_uid);
  return 0;
}

static int check_perm_chown(void)
{
  struct stat st;
  TRY(chmod(".", 0777));
  TRY(write_file("f", "x", 1, 0644));
  TRY(chown("f", U1, G1));
  TRY(write_file("suid", "x", 1, 0644));
  TRY(chown("suid", U1, G1));
  TRY(chmod("suid", 06755));
  TRY(write_file("sgid-noexec", "x", 1, 0644));
  TRY(chown("sgid-noexec", U1, G1));
  TRY(chmod("sgid-noexec", 02745));
  pid_t p = user_fork(U1, G1, G2);
  if (p == 0) {
    /* chgrp to a group the owner is in works; to others or another user not */
    TRY(chown("f", (uid_t)-1, G2));
    TRY(stat("f", &st));
    CHECK(st.st_gid == G2, "chgrp to a member group: gid %u", st.st_gid);
    EXPECT_ERR(chown("f", (uid_t)-1, GS), EPERM);
    EXPECT_ERR(chown("f", (uid_t)-1, 0), EPERM);
    EXPECT_ERR(chown("f", U2, (gid_t)-1), EPERM);
    EXPECT_ERR(chown("f", 0, (gid_t)-1), EPERM);
    /* chgrp by the owner clears set-user-ID and (group exec) set-group-ID */
    TRY(chown("suid", (uid_t)-1, G2));
    TRY(stat("suid", &st));
    CHECK((st.st_mode & 07777) == 0755, "chgrp of a 06755 file by its owner: mode 0%o, want 0755", st.st_mode & 07777);
    TRY(chown("sgid-noexec", (uid_t)-1, G2));
    TRY(stat("sgid-noexec", &st));
    CHECK((st.st_mode & 07777) == 02745, "chgrp of a 02745 file (no group exec): mode 0%o, want 02745", st.st_mode & 07777);
    /* chmod g+s on a file whose group the caller is not in drops the bit */
    TRY(chown("f", (uid_t)-1, G2));
    AS_USER_END(p);
  }
  AS_USER_END(p);
  TRY(chown("f", U1, GS));
  p = user_fork(U1, G1, NO_GROUP);
  if (p == 0) {
    TRY(chmod("f", 02755));
    TRY(stat("f", &st));
    CHECK((st.st_mode & 07777) == 0755, "chmod 02755 by an owner not in the file's group: mode 0%o, want 0755", st.st_mode & 07777);
    TRY(chmod("f", 04755));
    TRY(stat("f", &st));
    CHECK((st.st_mode & 07777) == 04755, "chmod 04755 by the owner: mode 0%o", st.st_mode & 07777);
    AS_USER_END(p);
  }
  AS_USER_END(p);
  p = user_fork(U2, G2, NO_GROUP);
  if (p == 0) {
    EXPECT_ERR(chmod("f", 0777), EPERM);
    EXPECT_ERR(chown("f", U2, G2), EPERM);
    EXPECT_ERR(chown("f", (uid_t)-1, G2), EPERM);
    EXPECT_ERR(lchown("f", U2, (gid_t)-1), EPERM);
    AS_USER_END(p);
  }
  AS_USER_END(p);
  return 0;
}

static int check_perm_sticky(void)
{
  struct stat st;
  /* a 1777 directory owned by U3: U1's file may go only by U1, U3 or root */
  TRY(mkdir("tmp", 01777));
  TRY(chmod("tmp", 01777));
  TRY(chown("tmp", U3, U3));
  TRY(chmod(".", 0755));
  pid_t p = user_fork(U1, G1, NO_GROUP);
  if (p == 0) {
    TRY(write_file("tmp/u1-a", "a", 1, 0666));
    TRY(write_file("tmp/u1-b", "b", 1, 0666));
    TRY(write_file("tmp/u1-c", "c", 1, 0666));
    TRY(mkdir("tmp/u1-dir", 0777));
    AS_USER_END(p);
  }
  AS_USER_END(p);
  p = user_fork(U2, G2, NO_GROUP);
  if (p == 0) {
    EXPECT_ERR(unlink("tmp/u1-a"), EPERM);
    EXPECT_ERR(rename("tmp/u1-a", "tmp/u2-stolen"), EPERM);
    EXPECT_ERR(rmdir("tmp/u1-dir"), EPERM);
    TRY(write_file("tmp/u2-own", "x", 1, 0644));
    EXPECT_ERR(rename("tmp/u2-own", "tmp/u1-b"), EPERM); /* replacing U1's file */
    EXPECT_ERR(setxattr("tmp", "user.x", "v", 1, 0), EPERM); /* user.* on a sticky dir: owner only */
    int fd;
    TRYV(fd, open("tmp/u1-c", O_WRONLY)); /* 0666: writing is not removing */
    close(fd);
    TRY(unlink("tmp/u2-own"));
    AS_USER_END(p);
  }
  AS_USER_END(p);
  p = user_fork(U3, U3, NO_GROUP);
  if (p == 0) {
    TRY(unlink("tmp/u1-a")); /* the directory's owner may */
    TRY(rmdir("tmp/u1-dir"));
    AS_USER_END(p);
  }
  AS_USER_END(p);
  p = user_fork(U1, G1, NO_GROUP);
  if (p == 0) {
    TRY(rename("tmp/u1-b", "tmp/u1-renamed")); /* and the file's owner */
    TRY(unlink("tmp/u1-renamed"));
    AS_USER_END(p);
  }
  AS_USER_END(p);
  EXPECT_ERR(stat("tmp/u1-a", &st), ENOENT);
  TRY(unlink("tmp/u1-c")); /* and root */
  /* without the sticky bit anyone with write permission may */
  TRY(mkdir("open", 0777));
  TRY(chmod("open", 0777));
  p = user_fork(U1, G1, NO_GROUP);
  if (p == 0) {
    TRY(write_file("open/u1", "a", 1, 0644));
    AS_USER_END(p);
  }
  AS_USER_END(p);
  p = user_fork(U2, G2, NO_GROUP);
  if (p == 0) {
    TRY(unlink("open/u1"));
    AS_USER_END(p);
  }
  AS_USER_END(p);
  /* a directory moved to another parent needs write permission on itself (its ..) */
  TRY(mkdir("movable", 0777));
  TRY(chmod("movable", 0777));
  TRY(mkdir("movable/dir", 0755));
  TRY(chown("movable/dir", U3, U3));
  TRY(mkdir("movable/to", 0777));
  TRY(chmod("movable/to", 0777));
  p = user_fork(U2, G2, NO_GROUP);
  if (p == 0) {
    EXPECT_ERR(rename("movable/dir", "movable/to/dir"), EACCES);
    TRY(rename("movable/dir", "movable/dir2")); /* same parent: allowed */
    AS_USER_END(p);
  }
  AS_USER_END(p);
  return 0;
}

static int check_perm_setgid(void)
{
  struct stat st;
  TRY(chmod(".", 0755));
  TRY(mkdir("sg", 0777));
  TRY(chown("sg", 0, GS));
  TRY(chmod("sg", 02777));
  TRY(stat("sg", &st));
  CHECK((st.st_mode & 07777) == 02777, "setgid dir mode 0%o", st.st_mode & 07777);
  /* root's new entries take the directory's group; subdirectories the bit too */
  TRY(write_file("sg/rootfile", "x", 1, 0644));
  TRY(stat("sg/rootfile", &st));
  CHECK(st.st_gid == GS, "file in a setgid dir: gid %u, want %u", st.st_gid, GS);
  CHECK(!(st.st_mode & S_ISGID), "file in a setgid dir got S_ISGID");
  TRY(mkdir("sg/rootdir", 0755));
  TRY(stat("sg/rootdir", &st));
  CHECK(st.st_gid == GS, "subdir of a setgid dir: gid %u", st.st_gid);
  CHECK(st.st_mode & S_ISGID, "subdir of a setgid dir lacks S_ISGID: 0%o", st.st_mode & 07777);
  TRY(mkdir("sg/rootdir/deeper", 0755));
  TRY(stat("sg/rootdir/deeper", &st));
  CHECK(st.st_gid == GS && (st.st_mode & S_ISGID), "grandchild dir: gid %u mode 0%o", st.st_gid, st.st_mode & 07777);
  TRY(symlink("x", "sg/rootlink"));
  TRY(lstat("sg/rootlink", &st));
  CHECK(st.st_gid == GS, "symlink in a setgid dir: gid %u", st.st_gid);
  TRY(mkfifo("sg/rootfifo", 0644));
  TRY(lstat("sg/rootfifo", &st));
  CHECK(st.st_gid == GS, "fifo in a setgid dir: gid %u", st.st_gid);
  /* a user not in the group: still inherits it */
  pid_t p = user_fork(U1, G1, NO_GROUP);
  if (p == 0) {
    TRY(write_file("sg/u1file", "x", 1, 0644));
    TRY(stat("sg/u1file", &st));
    CHECK(st.st_uid == U1 && st.st_gid == GS, "non-member's file: %u:%u, want %u:%u", st.st_uid, st.st_gid, U1, GS);
    TRY(mkdir("sg/u1dir", 0755));
    TRY(stat("sg/u1dir", &st));
    CHECK(st.st_gid == GS && (st.st_mode & S_ISGID), "non-member's subdir: gid %u mode 0%o", st.st_gid, st.st_mode & 07777);
    /* creating with S_ISGID|S_IXGRP outside the group drops S_ISGID */
    int fd;
    TRYV(fd, open("sg/u1-sgid", O_CREAT | O_WRONLY, 02755));
    TRY(fstat(fd, &st));
    close(fd);
    CHECK(!(st.st_mode & S_ISGID), "non-member created a file keeping S_ISGID: 0%o", st.st_mode & 07777);
    TRY(mkdir("sg/u1dir/sub", 0700));
    TRY(stat("sg/u1dir/sub", &st));
    CHECK(st.st_gid == GS && (st.st_mode & S_ISGID), "non-member's sub-subdir: gid %u mode 0%o", st.st_gid, st.st_mode & 07777);
    AS_USER_END(p);
  }
  AS_USER_END(p);
  /* a member creating with S_ISGID keeps it */
  p = user_fork(U2, G2, GS);
  if (p == 0) {
    int fd;
    TRYV(fd, open("sg/u2-sgid", O_CREAT | O_WRONLY, 02755));
    TRY(fstat(fd, &st));
    close(fd);
    CHECK((st.st_mode & 07777) == 02755 && st.st_gid == GS, "member created 02755: mode 0%o gid %u", st.st_mode & 07777, st.st_gid);
    AS_USER_END(p);
  }
  AS_USER_END(p);
  /* a dir that is not setgid: the creator's group */
  TRY(mkdir("plain", 0777));
  TRY(chown("plain", 0, GS));
  TRY(chmod("plain", 0777));
  p = user_fork(U1, G1, NO_GROUP);
  if (p == 0) {
    TRY(mkdir("plain/d", 0755));
    TRY(stat("plain/d", &st));
    CHECK(st.st_gid == G1 && !(st.st_mode & S_ISGID), "plain dir: gid %u mode 0%o", st.st_gid, st.st_mode & 07777);
    AS_USER_END(p);
  }
  AS_USER_END(p);
  /* a setgid dir moved elsewhere keeps its bit and group */
  TRY(rename("sg/rootdir", "moved"));
  TRY(stat("moved", &st));
  CHECK(st.st_gid == GS && (st.st_mode & S_ISGID), "moved setgid dir: gid %u mode 0%o", st.st_gid, st.st_mode & 07777);
  return 0;
}

/* Writes by an unprivileged user clear set-user-ID, and set-group-ID when the
 * group may execute (Linux's file_remove_privs); root's writes do not. */
static int check_perm_killpriv(void)
{
  struct stat st;
  TRY(chmod(".", 0755));
  static const char *names[] = {"suid", "sgid", "sgid-noexec", "both", "root-writes", "trunc"};
  static const mode_t modes[] = {04777, 02777, 02767, 06777, 06777, 06777};
  for (size_t i = 0; i < 6; i++) {
    TRY(write_file(names[i], "0123456789", 10, 0644));
    TRY(chown(names[i], U1, GS));
    TRY(chmod(names[i], modes[i]));
  }
  TRY(chmod("sgid-noexec", 02767));
  int fd;
  TRYV(fd, open("root-writes", O_WRONLY));
  TRY(write(fd, "r", 1));
  close(fd);
  TRY(stat("root-writes", &st));
  CHECK((st.st_mode & 07777) == 06777, "root's write changed the mode to 0%o", st.st_mode & 07777);
  /* U2 writes others' files (0777 so it may) */
  pid_t p = user_fork(U2, G2, GS);
  if (p == 0) {
    int wfd;
    TRYV(wfd, open("suid", O_WRONLY));
    TRY(write(wfd, "w", 1));
    close(wfd);
    TRY(stat("suid", &st));
    CHECK((st.st_mode & 07777) == 0777, "write by another user to a 04777 file: mode 0%o, want 0777", st.st_mode & 07777);
    TRYV(wfd, open("sgid", O_WRONLY));
    TRY(pwrite(wfd, "w", 1, 5));
    close(wfd);
    TRY(stat("sgid", &st));
    CHECK((st.st_mode & 07777) == 0777, "write by a group member to a 02777 file: mode 0%o, want 0777", st.st_mode & 07777);
    TRYV(wfd, open("sgid-noexec", O_WRONLY));
    TRY(write(wfd, "w", 1));
    close(wfd);
    TRY(stat("sgid-noexec", &st));
    CHECK((st.st_mode & 07777) == 02767, "write to a 02767 file (no group exec): mode 0%o, want 02767", st.st_mode & 07777);
    TRY(truncate("trunc", 3));
    TRY(stat("trunc", &st));
    CHECK((st.st_mode & 07777) == 0777, "truncate by another user of a 06777 file: mode 0%o, want 0777", st.st_mode & 07777);
    AS_USER_END(p);
  }
  AS_USER_END(p);
  /* the owner's own write clears them too (no CAP_FSETID) */
  p = user_fork(U1, G1, NO_GROUP);
  if (p == 0) {
    int wfd;
    TRYV(wfd, open("both", O_WRONLY | O_APPEND));
    TRY(write(wfd, "o", 1));
    close(wfd);
    TRY(stat("both", &st));
    CHECK((st.st_mode & 07777) == 0777, "owner's write to a 06777 file: mode 0%o, want 0777", st.st_mode & 07777);
    AS_USER_END(p);
  }
  AS_USER_END(p);
  return 0;
}

/* ---- the persistence fixture ----------------------------------------------- */

#define PERSIST_BYTES 300000
static void persist_pattern(unsigned char *buf)
{
  for (size_t i = 0; i < PERSIST_BYTES; i++) buf[i] = (unsigned char)((i * 2654435761u) >> 13);
}
#define PERSIST_RANDOM_BYTES 2000000
#define PERSIST_RANDOM_OPS 400
#define PERSIST_SEED 0x1234567887654321ull
static const char want_trunc_src[] = "0123456789abcdefghij";
#define PERSIST_SEQ_BYTES (24 * 1024 * 1024)
/* The content of "seq": written sequentially, then "EDITED" in the middle. */
static void persist_seq_model(unsigned char *seq)
{
  g_rng = PERSIST_SEED ^ 0xabcdef;
  for (size_t k = 0; k < PERSIST_SEQ_BYTES; k++) seq[k] = (unsigned char)(rnd() >> 56);
  memcpy(seq + PERSIST_SEQ_BYTES / 2, "EDITED", 6);
}
/* The content of "random": PERSIST_RANDOM_OPS writes of the seeded generator. */
static void persist_random_model(unsigned char *model)
{
  memset(model, 0, PERSIST_RANDOM_BYTES);
  g_rng = PERSIST_SEED;
  for (int op = 0; op < PERSIST_RANDOM_OPS; op++) {
    size_t len = (size_t)(rnd() % 9000) + 1, off = (size_t)(rnd() % (PERSIST_RANDOM_BYTES - len));
    for (size_t k = 0; k < len; k++) model[off + k] = (unsigned char)(rnd() >> 56);
  }
}
static const struct timespec persist_times[2] = {{1234567890, 111111111}, {1500000000, 123456789}};

static int check_persist_fixture(void)
{
  /* runs in DIR/persist, not a numbered dir: --verify-persist looks there */
  static unsigned char buf[PERSIST_BYTES];
  persist_pattern(buf);
  TRY(write_file("data", buf, PERSIST_BYTES, 0640));
  TRY(chown("data", U1, G2));
  TRY(chmod("data", 0640));
  TRY(setxattr("data", "user.persist", "kept value", 10, 0));
  TRY(link("data", "data-link"));
  TRY(symlink("data", "symlink"));
  TRY(mkdir("sub", 0750));
  TRY(chown("sub", 0, GS));
  TRY(chmod("sub", 02750));
  TRY(mkfifo("sub/fifo", 0604));
  int fd;
  TRYV(fd, open("sub/sparse", O_RDWR | O_CREAT, 0600));
  TRY(pwrite_full(fd, "end", 3, 5 * MIB));
  TRY(fsync(fd));
  close(fd);
  TRY(write_file("empty", "", 0, 0444));
  TRY(utimensat(AT_FDCWD, "data", persist_times, 0));
  /* content made by random writes (the staging path), by a mapping, by
   * truncation; a RENAME_EXCHANGE; a removed file */
  static unsigned char model[PERSIST_RANDOM_BYTES];
  persist_random_model(model);
  TRYV(fd, open("random", O_RDWR | O_CREAT, 0644));
  g_rng = PERSIST_SEED;
  for (int op = 0; op < PERSIST_RANDOM_OPS; op++) {
    size_t len = (size_t)(rnd() % 9000) + 1, off = (size_t)(rnd() % (PERSIST_RANDOM_BYTES - len));
    unsigned char chunk[9001];
    for (size_t k = 0; k < len; k++) chunk[k] = (unsigned char)(rnd() >> 56);
    TRY(pwrite_full(fd, chunk, len, (off_t)off));
  }
  TRY(ftruncate(fd, PERSIST_RANDOM_BYTES));
  close(fd);
  TRYV(fd, open("mapped", O_RDWR | O_CREAT, 0644));
  TRY(ftruncate(fd, 100000));
  unsigned char *m = mmap(NULL, 100000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED, "mmap: %s", ename(errno));
  for (size_t k = 0; k < 100000; k++) m[k] = (unsigned char)(k % 253);
  TRY(msync(m, 100000, MS_SYNC));
  TRY(munmap(m, 100000));
  close(fd);
  TRY(write_file("truncated", want_trunc_src, sizeof want_trunc_src - 1, 0644));
  TRY(truncate("truncated", 5));
  TRY(truncate("truncated", 20));
  TRY(mkdir("ex-a", 0755));
  TRY(write_file("ex-a/in-a", "a", 1, 0644));
  TRY(write_file("ex-b", "b", 1, 0644));
  TRY(renameat2(AT_FDCWD, "ex-a", AT_FDCWD, "ex-b", RENAME_EXCHANGE));
  static unsigned char seq[PERSIST_SEQ_BYTES];
  persist_seq_model(seq);
  TRYV(fd, open("seq", O_WRONLY | O_CREAT, 0644));
  for (size_t off = 0; off < PERSIST_SEQ_BYTES; off += 65537) {
    size_t len = PERSIST_SEQ_BYTES - off < 65537 ? PERSIST_SEQ_BYTES - off : 65537;
    CHECK(write(fd, seq + off, len) == (ssize_t)len, "seq write: %s", ename(errno));
  }
  close(fd);
  TRYV(fd, open("seq", O_WRONLY));
  TRY(pwrite_full(fd, "EDITED", 6, PERSIST_SEQ_BYTES / 2));
  close(fd);
  TRY(write_file("removed", "x", 1, 0644));
  TRY(unlink("removed"));
  TRY(setxattr("data", "user.removed", "x", 1, 0));
  TRY(removexattr("data", "user.removed"));
  return 0;
}

static int verify_persist(void)
{
  static unsigned char want[PERSIST_BYTES], got[PERSIST_BYTES + 1];
  persist_pattern(want);
  struct stat st, l;
  TRY(lstat("data", &st));
  CHECK(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0640, "data mode 0%o", st.st_mode);
  CHECK(st.st_uid == U1 && st.st_gid == G2, "data owner %u:%u", st.st_uid, st.st_gid);
  CHECK(st.st_size == PERSIST_BYTES, "data size %jd", (intmax_t)st.st_size);
  CHECK(st.st_nlink == 2, "data nlink %ju", (uintmax_t)st.st_nlink);
  CHECK(ts_cmp(st.st_mtim, persist_times[1]) == 0, "data mtime %jd.%09ld", (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  CHECK(ts_cmp(st.st_atim, persist_times[0]) == 0 || st.st_atim.tv_sec > persist_times[0].tv_sec, "data atime went back: %jd.%09ld", (intmax_t)st.st_atim.tv_sec, st.st_atim.tv_nsec);
  TRY(lstat("data-link", &l));
  CHECK(l.st_ino == st.st_ino, "data-link is not the same inode");
  CHECK(read_file("data", got, sizeof got) == PERSIST_BYTES && !memcmp(got, want, PERSIST_BYTES), "data content differs");
  char x[32] = {0};
  CHECK(getxattr("data", "user.persist", x, sizeof x) == 10 && !memcmp(x, "kept value", 10), "xattr user.persist: '%s' (%s)", x, ename(errno));
  char target[32] = {0};
  CHECK(readlink("symlink", target, sizeof target) == 4 && !memcmp(target, "data", 4), "symlink target '%s'", target);
  TRY(stat("sub", &st));
  CHECK(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 02750 && st.st_gid == GS, "sub: mode 0%o gid %u", st.st_mode & 07777, st.st_gid);
  TRY(lstat("sub/fifo", &st));
  CHECK(S_ISFIFO(st.st_mode) && (st.st_mode & 07777) == 0604 && st.st_gid == GS, "sub/fifo: mode 0%o gid %u", st.st_mode, st.st_gid);
  TRY(stat("sub/sparse", &st));
  CHECK(st.st_size == 5 * MIB + 3, "sub/sparse size %jd", (intmax_t)st.st_size);
  int fd;
  TRYV(fd, open("sub/sparse", O_RDONLY));
  memset(x, 0, sizeof x);
  CHECK(pread_full(fd, x, 8, 5 * MIB - 5) == 8 && all_zero((unsigned char *)x, 5) && !memcmp(x + 5, "end", 3), "sub/sparse tail");
  close(fd);
  TRY(stat("empty", &st));
  CHECK(st.st_size == 0 && (st.st_mode & 07777) == 0444, "empty: size %jd mode 0%o", (intmax_t)st.st_size, st.st_mode & 07777);
  static unsigned char model[PERSIST_RANDOM_BYTES], back[PERSIST_RANDOM_BYTES + 1];
  persist_random_model(model);
  ssize_t n2 = read_file("random", back, sizeof back);
  CHECK(n2 == PERSIST_RANDOM_BYTES, "random: %zd bytes", n2);
  for (size_t k = 0; k < PERSIST_RANDOM_BYTES; k++)
    CHECK(back[k] == model[k], "random: byte %zu is 0x%02x, want 0x%02x", k, back[k], model[k]);
  static unsigned char seq[PERSIST_SEQ_BYTES], seqback[PERSIST_SEQ_BYTES + 1];
  persist_seq_model(seq);
  n2 = read_file("seq", seqback, sizeof seqback);
  CHECK(n2 == PERSIST_SEQ_BYTES, "seq: %zd bytes", n2);
  for (size_t k = 0; k < PERSIST_SEQ_BYTES; k++)
    CHECK(seqback[k] == seq[k], "seq: byte %zu is 0x%02x, want 0x%02x", k, seqback[k], seq[k]);
  n2 = read_file("mapped", back, sizeof back);
  CHECK(n2 == 100000, "mapped: %zd bytes", n2);
  for (size_t k = 0; k < 100000; k++)
    CHECK(back[k] == (unsigned char)(k % 253), "mapped: byte %zu is %u", k, back[k]);
  n2 = read_file("truncated", back, sizeof back);
  CHECK(n2 == 20 && !memcmp(back, want_trunc_src, 5) && all_zero(back + 5, 15), "truncated: %zd bytes", n2);
  TRY(lstat("ex-b", &st));
  CHECK(S_ISDIR(st.st_mode), "ex-b is not the exchanged directory");
  TRY(lstat("ex-b/in-a", &st));
  TRY(lstat("ex-a", &st));
  CHECK(S_ISREG(st.st_mode) && st.st_size == 1, "ex-a is not the exchanged file");
  EXPECT_ERR(lstat("removed", &st), ENOENT);
  EXPECT_ERR(getxattr("data", "user.removed", x, sizeof x), ENODATA);
  int n = 0;
  DIR *d = opendir(".");
  CHECK(d, "opendir: %s", ename(errno));
  struct dirent *e;
  while ((e = readdir(d))) n++;
  closedir(d);
  CHECK(n == 13, "persist/ lists %d entries, want 13 (. .. data data-link symlink sub empty random mapped truncated ex-a ex-b seq)", n);
  return 0;
}

/* ---- the runner ------------------------------------------------------------ */

struct check {
  const char *name;
  int (*fn)(void);
};

static const struct check checks[] = {
  {"mkdir", check_mkdir},
  {"rmdir", check_rmdir},
  {"readdir", check_readdir},
  {"readdir-big", check_readdir_big},
  {"readdir-rewind", check_readdir_rewind},
  {"names", check_names},
  {"dirfd", check_dirfd},
  {"chmod", check_chmod},
  {"chown", check_chown},
  {"link", check_link},
  {"unlink", check_unlink},
  {"unlink-open", check_unlink_open},
  {"mkfifo", check_mkfifo},
  {"open", check_open},
  {"rename", check_rename},
  {"rename2", check_rename2},
  {"symlink", check_symlink},
  {"truncate", check_truncate},
  {"utimensat", check_utimens},
  {"timestamps", check_timestamps},
  {"mtime-after-write", check_mtime_after_write},
  {"xattr", check_xattr},
  {"xattr-names", check_xattr_names},
  {"acl", check_acl},
  {"seek-hole", check_seek_hole},
  {"fallocate", check_fallocate},
  {"mmap", check_mmap},
  {"random-io", check_random_io},
  {"rewrite", check_rewrite},
  {"copy", check_copy},
  {"4gib", check_4gib},
  {"statfs", check_statfs},
  {"fsync", check_fsync},
  {"concurrent", check_concurrent},
  {"rename-storm", check_rename_storm},
  {"locks", check_locks},
  {"exec", check_exec},
  {"perm-files", check_perm_files},
  {"perm-chown", check_perm_chown},
  {"perm-sticky", check_perm_sticky},
  {"perm-setgid", check_perm_setgid},
  {"perm-killpriv", check_perm_killpriv},
  {"persist", check_persist_fixture},
};
#define CHECKS_COUNT (sizeof checks / sizeof checks[0])

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st; (void)ftw;
  return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Runs fn in a forked process inside dir; 0 passed, -1 failed (detail set). */
static int run_isolated(const char *dir, int (*fn)(void))
{
  memset(g_detail, 0, DETAIL_BYTES);
  fflush(stdout);
  pid_t p = fork();
  if (p < 0) { snprintf(g_detail, DETAIL_BYTES, "fork: %s", ename(errno)); return -1; }
  if (p == 0) {
    if (chdir(dir) < 0) { snprintf(g_detail, DETAIL_BYTES, "chdir %s: %s", dir, ename(errno)); _exit(1); }
    umask(0);
    int r = fn();
    fflush(stdout);
    _exit(r == 0 ? 0 : 1);
  }
  int status = 0;
  for (long waited_ms = 0;; waited_ms += 10) {
    pid_t w = waitpid(p, &status, WNOHANG);
    if (w == p) break;
    if (w < 0) { snprintf(g_detail, DETAIL_BYTES, "waitpid: %s", ename(errno)); return -1; }
    if (waited_ms >= CHECK_TIMEOUT_S * 1000L) {
      kill(p, SIGKILL);
      waitpid(p, &status, 0);
      snprintf(g_detail, DETAIL_BYTES, "timed out after %d s", CHECK_TIMEOUT_S);
      return -1;
    }
    struct timespec d = {0, 10 * 1000 * 1000};
    nanosleep(&d, NULL);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  if (!g_detail[0]) {
    if (WIFSIGNALED(status)) snprintf(g_detail, DETAIL_BYTES, "killed by signal %d", WTERMSIG(status));
    else snprintf(g_detail, DETAIL_BYTES, "exit status %d", WEXITSTATUS(status));
  }
  return -1;
}

static int make_fresh_dir(const char *path)
{
  struct stat st;
  if (lstat(path, &st) == 0 && nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0) return -1;
  if (mkdir(path, 0755) < 0) return -1;
  return chmod(path, 0755);
}

int main(int argc, char **argv)
{
  const char *base = NULL, *only = NULL;
  bool verify = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--verify-persist")) verify = true;
    else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
    else if (!base && argv[i][0] != '-') base = argv[i];
    else base = NULL, i = argc;
  }
  if (!base) {
    fprintf(stderr, "usage: posix_check DIR [--only SUBSTRING] [--verify-persist]\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (geteuid() != 0) {
    printf("1..0 # SKIP needs root (chown and uid switches)\n");
    return 77;
  }
  g_detail = mmap(NULL, DETAIL_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (g_detail == MAP_FAILED) { perror("mmap"); return 1; }
  char path[PATH_BYTES];
  if (verify) {
    snprintf(path, sizeof path, "%s/persist", base);
    printf("1..1\n");
    if (run_isolated(path, verify_persist) == 0) { printf("ok 1 - persist fixture intact\n"); return 0; }
    printf("not ok 1 - persist fixture intact: %s\n", g_detail);
    return 1;
  }
  if (mkdir(base, 0755) < 0 && errno != EEXIST) { printf("Bail out! mkdir %s: %s\n", base, ename(errno)); return 1; }
  if (chmod(base, 0755) < 0) { printf("Bail out! chmod %s: %s\n", base, ename(errno)); return 1; }
  size_t planned = 0;
  for (size_t i = 0; i < CHECKS_COUNT; i++)
    if (!only || strstr(checks[i].name, only)) planned++;
  printf("1..%zu\n", planned);
  int failed = 0, n = 0;
  for (size_t i = 0; i < CHECKS_COUNT; i++) {
    if (only && !strstr(checks[i].name, only)) continue;
    n++;
    if (!strcmp(checks[i].name, "persist")) snprintf(path, sizeof path, "%s/persist", base);
    else snprintf(path, sizeof path, "%s/%02zu-%s", base, i + 1, checks[i].name);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r;
    if (make_fresh_dir(path) < 0) {
      snprintf(g_detail, DETAIL_BYTES, "making the check directory: %s", ename(errno));
      r = -1;
    } else
      r = run_isolated(path, checks[i].fn);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (r == 0) printf("ok %d - %s (%.2f s)\n", n, checks[i].name, secs);
    else {
      printf("not ok %d - %s: %s\n", n, checks[i].name, g_detail);
      failed++;
    }
  }
  if (failed) printf("# %d of %d checks failed\n", failed, n);
  return failed ? 1 : 0;
}
