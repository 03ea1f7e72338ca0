/*
 * crash_writer: one writer of the files/ crash test (tests/integration/fs-crash.sh).
 *
 *   crash_writer BASE REL JOURNAL SEED
 *
 * Creates the directory BASE/REL (each missing component made and fsynced with its parent)
 * and BASE/REL/sub, then loops until an operation fails (the daemon was killed under it) or
 * OPS_MAX operations are done, on files of its own under those two directories:
 *   create   pseudo-random bytes of 0 .. SIZE_BYTES_MAX, written one of four ways:
 *            sequential pieces, O_APPEND pieces (reopened between some), whole then
 *            random overwrites in the middle, pieces in reverse order (holes filled later)
 *   modify   of a journaled file: read back (and compared with what was journaled), then
 *            random overwrites, appends, or truncation down or up
 *   rename   of a journaled file, within its directory or across to the other one
 *   unlink   of a journaled file
 * Every file is fsynced, then its directory, and only then is the result journaled.
 *
 * The journal (outside the mount; one write(2) per line, so a killed writer leaves whole
 * lines) says what must hold after a crash of the daemon; paths are relative to BASE:
 *   W path size sha256   the file is durable with these bytes
 *   M path               the file is being modified: it exists, its content is not known
 *   U path               it is being unlinked: absent, or as last journaled
 *   D path               unlink (or rename away) and the directory fsync returned: absent
 *   R old new            rename in flight: exactly one of the two exists, as last journaled;
 *                        "W new ..." then "D old" end it
 * A read-back that differs from the journal prints "crash_writer: MISMATCH ..." and exits 2;
 * any failing system call prints it and exits 1 (expected once the daemon is gone).
 *
 * Standalone on purpose (built with no libraries): SHA-256 (FIPS 180-4) and the generator
 * (splitmix64) are written here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIZE_BYTES_MAX (3u << 20)   /* a created file */
#define GROWN_BYTES_MAX (4u << 20)  /* a file after modifications */
#define PIECE_BYTES_MAX (1u << 20)  /* one write(2) */
#define LIVE_MAX 128                /* journaled files a writer keeps */
#define OPS_MAX 1000000             /* bounds the loop when nobody kills us */
#define PATH_BYTES_MAX 512

/* ---- SHA-256 ---- */

struct sha256 {
  uint32_t state[8];
  uint64_t length_bytes;
  uint8_t block[64];
  size_t block_used;
};

static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha256_compress(struct sha256 *s, const uint8_t *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = s->state[0], b = s->state[1], c = s->state[2], d = s->state[3];
  uint32_t e = s->state[4], f = s->state[5], g = s->state[6], h = s->state[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
    uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  s->state[0] += a; s->state[1] += b; s->state[2] += c; s->state[3] += d;
  s->state[4] += e; s->state[5] += f; s->state[6] += g; s->state[7] += h;
}

static void sha256_digest(const uint8_t *data, size_t size, uint8_t out[32]) {
  struct sha256 s = {.state = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c,
                               0x1f83d9ab, 0x5be0cd19}};
  size_t off = 0;
  for (; off + 64 <= size; off += 64) sha256_compress(&s, data + off);
  s.length_bytes = size;
  s.block_used = size - off;
  memcpy(s.block, data + off, s.block_used);
  s.block[s.block_used++] = 0x80;
  if (s.block_used > 56) {
    memset(s.block + s.block_used, 0, 64 - s.block_used);
    sha256_compress(&s, s.block);
    s.block_used = 0;
  }
  memset(s.block + s.block_used, 0, 56 - s.block_used);
  uint64_t bits = s.length_bytes * 8;
  for (int i = 0; i < 8; i++) s.block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
  sha256_compress(&s, s.block);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(s.state[i] >> 24); out[4 * i + 1] = (uint8_t)(s.state[i] >> 16);
    out[4 * i + 2] = (uint8_t)(s.state[i] >> 8); out[4 * i + 3] = (uint8_t)s.state[i];
  }
}

static void sha256_hex(const uint8_t *data, size_t size, char hex[65]) {
  uint8_t d[32];
  sha256_digest(data, size, d);
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* ---- generator ---- */

static uint64_t rng_state;
static uint64_t rng_next(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
/* uniform in [0, n) (n > 0; the bias is irrelevant here) */
static size_t rng_below(size_t n) { return (size_t)(rng_next() % n); }
static void rng_fill(uint8_t *p, size_t size) {
  for (size_t i = 0; i < size; i += 8) {
    uint64_t v = rng_next();
    memcpy(p + i, &v, size - i < 8 ? size - i : 8);
  }
}
/* most files small, some up to SIZE_BYTES_MAX */
static size_t rng_file_size(void) {
  size_t tier = rng_below(20);
  if (tier == 0) return 0;
  if (tier < 12) return rng_below(64 << 10);
  if (tier < 19) return rng_below(512 << 10);
  return rng_below(SIZE_BYTES_MAX + 1);
}

/* ---- state ---- */

struct live_file {
  char path[PATH_BYTES_MAX]; /* relative to BASE */
  size_t size_bytes;
  char sha[65];
};

static const char *base_dir;
static const char *rel_dir;
static int journal_fd = -1;
static struct live_file live[LIVE_MAX];
static size_t live_count;
static uint8_t *content;   /* GROWN_BYTES_MAX: the file being written */
static uint8_t *readback;  /* GROWN_BYTES_MAX: a file read back */
static unsigned long name_seq;

static void die(const char *what, const char *path) {
  fprintf(stderr, "crash_writer: %s %s: %s\n", what, path, strerror(errno));
  exit(1);
}

static void journal(const char *fmt, ...) {
  char line[2 * PATH_BYTES_MAX + 128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n <= 0 || (size_t)n >= sizeof line) { fprintf(stderr, "crash_writer: journal line too long\n"); exit(1); }
  if (write(journal_fd, line, (size_t)n) != n) die("journal write", "");
}

static void full_path(char *out, const char *rel) {
  int n = snprintf(out, PATH_BYTES_MAX, "%s/%s", base_dir, rel);
  if (n <= 0 || n >= PATH_BYTES_MAX) { fprintf(stderr, "crash_writer: path too long\n"); exit(1); }
}

static void fsync_dir_of(const char *rel) {
  char path[PATH_BYTES_MAX];
  full_path(path, rel);
  char *slash = strrchr(path, '/');
  if (!slash) { fprintf(stderr, "crash_writer: no directory in %s\n", path); exit(1); }
  *slash = 0;
  int fd = open(path, O_RDONLY | O_DIRECTORY);
  if (fd < 0) die("open dir", path);
  if (fsync(fd) != 0) die("fsync dir", path);
  close(fd);
}

static void write_all(int fd, const uint8_t *p, size_t size, const char *path) {
  while (size > 0) {
    ssize_t n = write(fd, p, size);
    if (n <= 0) die("write", path);
    p += n;
    size -= (size_t)n;
  }
}

static void pwrite_all(int fd, const uint8_t *p, size_t size, size_t off, const char *path) {
  while (size > 0) {
    ssize_t n = pwrite(fd, p, size, (off_t)off);
    if (n <= 0) die("pwrite", path);
    p += n;
    size -= (size_t)n;
    off += (size_t)n;
  }
}

static size_t piece(size_t left) {
  size_t max = left < PIECE_BYTES_MAX ? left : PIECE_BYTES_MAX;
  return 1 + rng_below(max);
}

/* overwrite 1..4 random ranges inside [0, size) with new bytes, in memory and in the file */
static void overwrite_middle(int fd, size_t size, const char *path) {
  if (size == 0) return;
  size_t ranges = 1 + rng_below(4);
  for (size_t r = 0; r < ranges; r++) {
    size_t off = rng_below(size);
    size_t len = 1 + rng_below(size - off < 300000 ? size - off : 300000);
    rng_fill(content + off, len);
    pwrite_all(fd, content + off, len, off, path);
  }
}

static void sync_close(int fd, const char *path) {
  if (fsync(fd) != 0) die("fsync", path);
  if (close(fd) != 0) die("close", path);
}

static void remember(const char *rel, size_t size) {
  struct live_file *f = &live[live_count++];
  snprintf(f->path, sizeof f->path, "%s", rel);
  f->size_bytes = size;
  sha256_hex(content, size, f->sha);
  journal("W %s %zu %s\n", f->path, f->size_bytes, f->sha);
}

static void op_create(void) {
  char rel[PATH_BYTES_MAX], path[PATH_BYTES_MAX];
  snprintf(rel, sizeof rel, "%s/%sf%lu", rel_dir, rng_below(3) == 0 ? "sub/" : "", name_seq++);
  full_path(path, rel);
  size_t size = rng_file_size();
  rng_fill(content, size);
  int how = (int)rng_below(4);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | (how == 1 ? O_APPEND : 0), 0644);
  if (fd < 0) die("create", path);
  size_t done = 0;
  switch (how) {
  case 0: /* sequential pieces */
    while (done < size) { size_t n = piece(size - done); write_all(fd, content + done, n, path); done += n; }
    break;
  case 1: /* appended in pieces, reopened between some, fsynced between some */
    while (done < size) {
      size_t n = piece(size - done);
      write_all(fd, content + done, n, path);
      done += n;
      if (rng_below(3) == 0) {
        if (rng_below(2) == 0 && fsync(fd) != 0) die("fsync", path);
        if (close(fd) != 0) die("close", path);
        fd = open(path, O_WRONLY | O_APPEND);
        if (fd < 0) die("reopen", path);
      }
    }
    break;
  case 2: /* whole, then random overwrites in the middle */
    write_all(fd, content, size, path);
    overwrite_middle(fd, size, path);
    break;
  default: { /* pieces from the end backwards: holes until the earlier pieces land */
    size_t end = size;
    while (end > 0) {
      size_t n = piece(end);
      pwrite_all(fd, content + end - n, n, end - n, path);
      end -= n;
    }
  }
  }
  sync_close(fd, path);
  fsync_dir_of(rel);
  remember(rel, size);
}

/* read a journaled file back; it must be as journaled (the daemon has not crashed under us) */
static void read_back(const struct live_file *f) {
  char path[PATH_BYTES_MAX];
  full_path(path, f->path);
  int fd = open(path, O_RDONLY);
  if (fd < 0) die("open", path);
  size_t got = 0;
  for (;;) {
    if (got == GROWN_BYTES_MAX) break;
    ssize_t n = read(fd, readback + got, GROWN_BYTES_MAX - got);
    if (n < 0) die("read", path);
    if (n == 0) break;
    got += (size_t)n;
  }
  close(fd);
  char sha[65];
  sha256_hex(readback, got, sha);
  if (got != f->size_bytes || strcmp(sha, f->sha) != 0) {
    fprintf(stderr, "crash_writer: MISMATCH %s: read back %zu bytes sha256 %s, journaled %zu %s\n", f->path, got,
            sha, f->size_bytes, f->sha);
    exit(2);
  }
  memcpy(content, readback, got);
}

static void op_modify(size_t i) {
  struct live_file *f = &live[i];
  char path[PATH_BYTES_MAX];
  full_path(path, f->path);
  read_back(f);
  journal("M %s\n", f->path);
  size_t size = f->size_bytes;
  int how = (int)rng_below(3);
  int fd = open(path, O_WRONLY | (how == 1 ? O_APPEND : 0));
  if (fd < 0) die("open", path);
  if (how == 0) {
    overwrite_middle(fd, size, path);
  } else if (how == 1) {
    size_t room = GROWN_BYTES_MAX - size;
    size_t n = room ? rng_below(room < 600000 ? room : 600000) : 0;
    rng_fill(content + size, n);
    write_all(fd, content + size, n, path);
    size += n;
  } else {
    size_t to = rng_below(size + 1);
    if (rng_below(2) == 0) to = size + rng_below(GROWN_BYTES_MAX - size + 1); /* up: zeros */
    if (to > size) memset(content + size, 0, to - size);
    if (ftruncate(fd, (off_t)to) != 0) die("ftruncate", path);
    size = to;
  }
  sync_close(fd, path);
  f->size_bytes = size;
  sha256_hex(content, size, f->sha);
  journal("W %s %zu %s\n", f->path, f->size_bytes, f->sha);
}

static void op_rename(size_t i) {
  struct live_file *f = &live[i];
  char rel[PATH_BYTES_MAX], from[PATH_BYTES_MAX], to[PATH_BYTES_MAX];
  int into_sub = (int)rng_below(2);
  snprintf(rel, sizeof rel, "%s/%sr%lu", rel_dir, into_sub ? "sub/" : "", name_seq++);
  full_path(from, f->path);
  full_path(to, rel);
  journal("R %s %s\n", f->path, rel);
  if (rename(from, to) != 0) die("rename", from);
  fsync_dir_of(rel);
  fsync_dir_of(f->path);
  journal("W %s %zu %s\n", rel, f->size_bytes, f->sha);
  journal("D %s\n", f->path);
  snprintf(f->path, sizeof f->path, "%s", rel);
}

static void op_unlink(size_t i) {
  struct live_file *f = &live[i];
  char path[PATH_BYTES_MAX];
  full_path(path, f->path);
  journal("U %s\n", f->path);
  if (unlink(path) != 0) die("unlink", path);
  fsync_dir_of(f->path);
  journal("D %s\n", f->path);
  live[i] = live[--live_count];
}

/* mkdir + fsync of it and of its parent, for BASE/REL and each missing ancestor below BASE */
static void make_dirs(const char *rel) {
  char sub[PATH_BYTES_MAX], path[PATH_BYTES_MAX];
  size_t len = strlen(rel);
  for (size_t i = 1; i <= len; i++) {
    if (i < len && rel[i] != '/') continue;
    snprintf(sub, sizeof sub, "%.*s", (int)i, rel);
    full_path(path, sub);
    if (mkdir(path, 0755) != 0) {
      if (errno != EEXIST) die("mkdir", path);
      continue;
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) die("open dir", path);
    if (fsync(fd) != 0) die("fsync dir", path);
    close(fd);
    fsync_dir_of(sub);
  }
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: crash_writer BASE REL JOURNAL SEED\n");
    return 64;
  }
  base_dir = argv[1];
  rel_dir = argv[2];
  rng_state = strtoull(argv[4], NULL, 10) * 0x2545f4914f6cdd1dull + 1;
  journal_fd = open(argv[3], O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (journal_fd < 0) die("open journal", argv[3]);
  content = malloc(GROWN_BYTES_MAX + 8);
  readback = malloc(GROWN_BYTES_MAX + 8);
  if (!content || !readback) { fprintf(stderr, "crash_writer: out of memory\n"); return 1; }
  char sub[PATH_BYTES_MAX];
  snprintf(sub, sizeof sub, "%s/sub", rel_dir);
  make_dirs(sub);
  for (unsigned long op = 0; op < OPS_MAX; op++) {
    size_t pick = rng_below(100);
    if (live_count == 0 || (pick < 55 && live_count < LIVE_MAX)) op_create();
    else if (pick < 70) op_modify(rng_below(live_count));
    else if (pick < 85) op_rename(rng_below(live_count));
    else op_unlink(rng_below(live_count));
  }
  return 0;
}
