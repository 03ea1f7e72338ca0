/*
 * fs_bench: metadata workloads of the files/ benchmark (tests/bench/fs-files.bash), run the
 * same way on the mount and on a native directory.
 *
 *   fs_bench cycle DIR N       creates N empty files in DIR (O_CREAT|O_EXCL), then stats each,
 *                              then unlinks each; prints one line
 *                              "fs_bench files=N create_s= stat_s= unlink_s= total_s="
 *   fs_bench touch DIR N       N empty files in DIR (the ls -l figure)
 *   fs_bench tree DIR N SEED   N files of 0 .. TREE_FILE_BYTES_MAX pseudo-random bytes in
 *                              subdirectories of TREE_DIR_FILES files (the cp -r figure)
 * DIR must exist.  N is at most FILES_MAX.  Exits 1 with a message on the first failing call.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FILES_MAX 10000000
#define TREE_FILE_BYTES_MAX (64 << 10)
#define TREE_DIR_FILES 100
#define PATH_BYTES_MAX 4096

static void die(const char *what, const char *path) {
  fprintf(stderr, "fs_bench: %s %s: %s\n", what, path, strerror(errno));
  exit(1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void name(char *out, const char *dir, long i) {
  int n = snprintf(out, PATH_BYTES_MAX, "%s/f%07ld", dir, i);
  if (n < 0 || n >= PATH_BYTES_MAX) { fprintf(stderr, "fs_bench: path too long under %s\n", dir); exit(1); }
}

static void touch_all(const char *dir, long n) {
  char path[PATH_BYTES_MAX];
  for (long i = 0; i < n; i++) {
    name(path, dir, i);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) die("create", path);
    if (close(fd) != 0) die("close", path);
  }
}

static int cycle(const char *dir, long n) {
  char path[PATH_BYTES_MAX];
  struct stat st;
  double t0 = now_s();
  touch_all(dir, n);
  double t1 = now_s();
  for (long i = 0; i < n; i++) {
    name(path, dir, i);
    if (stat(path, &st) != 0) die("stat", path);
    if (st.st_size != 0) { fprintf(stderr, "fs_bench: %s: size %lld, expected 0\n", path, (long long)st.st_size); return 1; }
  }
  double t2 = now_s();
  for (long i = 0; i < n; i++) {
    name(path, dir, i);
    if (unlink(path) != 0) die("unlink", path);
  }
  double t3 = now_s();
  printf("fs_bench files=%ld create_s=%.3f stat_s=%.3f unlink_s=%.3f total_s=%.3f\n", n, t1 - t0, t2 - t1, t3 - t2,
         t3 - t0);
  return 0;
}

static uint64_t rng_state;
static uint64_t rng_next(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static int tree(const char *dir, long n, uint64_t seed) {
  static uint8_t data[TREE_FILE_BYTES_MAX + 8];
  char sub[PATH_BYTES_MAX], path[PATH_BYTES_MAX];
  rng_state = seed;
  for (long i = 0; i < n; i++) {
    int len = snprintf(sub, sizeof sub, "%s/d%05ld", dir, i / TREE_DIR_FILES);
    if (len < 0 || len >= (int)sizeof sub) { fprintf(stderr, "fs_bench: path too long under %s\n", dir); return 1; }
    if (i % TREE_DIR_FILES == 0 && mkdir(sub, 0755) != 0) die("mkdir", sub);
    name(path, sub, i);
    size_t size = (size_t)(rng_next() % (TREE_FILE_BYTES_MAX + 1));
    for (size_t b = 0; b < size; b += 8) {
      uint64_t v = rng_next();
      memcpy(data + b, &v, 8);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) die("create", path);
    if (write(fd, data, size) != (ssize_t)size) die("write", path);
    if (close(fd) != 0) die("close", path);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: fs_bench cycle|touch DIR N | fs_bench tree DIR N SEED\n");
    return 64;
  }
  long n = strtol(argv[3], NULL, 10);
  if (n <= 0 || n > FILES_MAX) { fprintf(stderr, "fs_bench: N must be 1..%d\n", FILES_MAX); return 64; }
  if (strcmp(argv[1], "cycle") == 0) return cycle(argv[2], n);
  if (strcmp(argv[1], "touch") == 0) { touch_all(argv[2], n); return 0; }
  if (strcmp(argv[1], "tree") == 0 && argc == 5) return tree(argv[2], n, strtoull(argv[4], NULL, 10));
  fprintf(stderr, "fs_bench: unknown mode %s\n", argv[1]);
  return 64;
}
