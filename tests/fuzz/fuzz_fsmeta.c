/*
 * fuzz_fsmeta: the inode record codec (fsmeta_inode_decode/encode).
 *  - the input as a record: an accepted record is canonical (encoding the
 *    decoded inode gives back exactly the input), carries the given ino,
 *    and every truncation of it is rejected;
 *  - the input as field values: an inode built from them (a known type, nsec
 *    below 1e9, a CID only on a regular file) encodes to a record that
 *    decodes to the same fields.
 * A violated property aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsmeta.h"

static void check_record(const uint8_t *data, size_t size) {
  fsmeta_inode_t in;
  int rc = fsmeta_inode_decode(77, data, size, &in);
  if (rc == -EINVAL) return;
  if (rc != 0 || in.ino != 77) abort();
  uint8_t again[FSMETA_RECORD_BYTES_MAX];
  size_t n = fsmeta_inode_encode(&in, again);
  if (n != size || memcmp(again, data, n) != 0) abort();
  fsmeta_inode_t cut;
  for (size_t len = 0; len < size; len++)
    if (fsmeta_inode_decode(77, data, len, &cut) != -EINVAL) abort();
}

static uint64_t take(const uint8_t **p, size_t *left, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes && *left > 0; i++, (*p)++, (*left)--) v |= (uint64_t)**p << (8 * i);
  return v;
}

static void check_fields(const uint8_t *data, size_t size) {
  static const uint32_t types[] = {S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK};
  const uint8_t *p = data;
  size_t left = size;
  fsmeta_inode_t in;
  memset(&in, 0, sizeof in);
  in.ino = take(&p, &left, 8);
  in.mode = types[take(&p, &left, 1) % 7] | (uint32_t)(take(&p, &left, 2) & 07777);
  in.uid = (uint32_t)take(&p, &left, 4);
  in.gid = (uint32_t)take(&p, &left, 4);
  in.nlink = (uint32_t)take(&p, &left, 4);
  in.flags = (uint32_t)take(&p, &left, 4);
  in.rdev = take(&p, &left, 8);
  in.size = take(&p, &left, 8);
  in.parent = take(&p, &left, 8);
  struct timespec *ts[3] = {&in.atime, &in.mtime, &in.ctime};
  for (int i = 0; i < 3; i++) {
    ts[i]->tv_sec = (time_t)(int64_t)take(&p, &left, 8);
    ts[i]->tv_nsec = (long)(take(&p, &left, 4) % 1000000000u);
  }
  in.tsize = take(&p, &left, 8);
  if (S_ISREG(in.mode) && left > 0 && cid_from_bytes(&in.cid, p, left) <= 0) memset(&in.cid, 0, sizeof in.cid);
  uint8_t rec[FSMETA_RECORD_BYTES_MAX];
  size_t n = fsmeta_inode_encode(&in, rec);
  if (n < FSMETA_RECORD_FIXED_BYTES || n > FSMETA_RECORD_BYTES_MAX) abort();
  fsmeta_inode_t out;
  if (fsmeta_inode_decode(in.ino, rec, n, &out) != 0) abort();
  if (out.ino != in.ino || out.mode != in.mode || out.uid != in.uid || out.gid != in.gid ||
      out.nlink != in.nlink || out.flags != in.flags || out.rdev != in.rdev || out.size != in.size ||
      out.parent != in.parent || out.tsize != in.tsize)
    abort();
  for (int i = 0; i < 3; i++) {
    const struct timespec *a = ts[i], *b = i == 0 ? &out.atime : i == 1 ? &out.mtime : &out.ctime;
    if (a->tv_sec != b->tv_sec || a->tv_nsec != b->tv_nsec) abort();
  }
  if (n > FSMETA_RECORD_FIXED_BYTES && !cid_equal(&out.cid, &in.cid)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_record(data, size);
  check_fields(data, size);
  return 0;
}
