/*
 * segment: file names, the file header, record encoding and checking,
 * tombstones, the scanner over memory and over files (records larger than
 * half the read window, cut at every byte), and the I/O layer underneath it
 * (io_write_all over the real backend and under each injected fault).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "crc32c.h"
#include "io.h"
#include "segment.h"

static const uint8_t mh_a[] = {0x12, 0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                               17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void test_names(void **state) {
  (void)state;
  char name[SEG_NAME_BYTES_MAX];
  assert_int_equal(seg_name(1, name), 12);
  assert_string_equal(name, "00000001.seg");
  uint32_t id = 0;
  assert_int_equal(seg_parse_name(name, &id), 0);
  assert_int_equal(id, 1);
  seg_name(0xabcdef12, name);
  assert_int_equal(seg_parse_name(name, &id), 0);
  assert_int_equal(id, 0xabcdef12);
  const char *bad[] = {"00000000.seg", "0000001.seg", "000000001.seg", "0000000G.seg", "00000001.se",
                       "00000001.segx", "ABCDEF12.seg", "ffffffff.seg", "", "index"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_int_equal(seg_parse_name(bad[i], &id), -EINVAL);
}

static void test_header(void **state) {
  (void)state;
  uint8_t h[SEG_HEADER_BYTES];
  seg_header_encode(h, 42);
  assert_memory_equal(h, "ANYASEG", 8);
  uint32_t id = 0;
  assert_int_equal(seg_header_decode(h, sizeof h, &id), 0);
  assert_int_equal(id, 42);
  assert_int_equal(seg_header_decode(h, 63, &id), -EBADMSG);
  assert_int_equal(seg_header_decode(h, SEG_HEADER_BYTES - 1, &id), -EBADMSG); /* cut inside */
  for (size_t i = 0; i < 64; i++) {
    uint8_t copy[SEG_HEADER_BYTES];
    memcpy(copy, h, sizeof copy);
    copy[i] ^= 0x40;
    assert_int_equal(seg_header_decode(copy, sizeof copy, &id), -EBADMSG);
  }
  /* a future version with a valid checksum is refused as such */
  h[8] = 2;
  uint32_t crc = crc32c(0, h, 60);
  memcpy(h + 60, &crc, 4); /* little-endian host */
  assert_int_equal(seg_header_decode(h, sizeof h, &id), -EPROTONOSUPPORT);
}

static void test_record_roundtrip_and_flips(void **state) {
  (void)state;
  uint8_t data[300];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7);
  uint8_t rec[SEG_RECORD_HEADER_BYTES + sizeof mh_a + sizeof data];
  size_t n = seg_record_encode(rec, SEG_KIND_BLOCK, mh_a, sizeof mh_a, data, sizeof data);
  assert_int_equal(n, sizeof rec);
  assert_int_equal(n, seg_record_bytes(sizeof mh_a, sizeof data));
  seg_record_t r;
  assert_int_equal(seg_record_header_decode(rec, &r), 0);
  assert_int_equal(r.kind, SEG_KIND_BLOCK);
  assert_int_equal(r.mh_len, sizeof mh_a);
  assert_int_equal(r.data_len, sizeof data);
  assert_true(seg_record_body_check(&r, rec + 20, rec + 20 + sizeof mh_a));
  /* every header byte is covered by the header checksum */
  for (size_t i = 0; i < SEG_RECORD_HEADER_BYTES; i++) {
    rec[i] ^= 1;
    assert_int_equal(seg_record_header_decode(rec, &r), -EBADMSG);
    rec[i] ^= 1;
  }
  /* every body byte by the body checksum */
  assert_int_equal(seg_record_header_decode(rec, &r), 0);
  for (size_t i = SEG_RECORD_HEADER_BYTES; i < n; i++) {
    rec[i] ^= 0x80;
    assert_false(seg_record_body_check(&r, rec + 20, rec + 20 + sizeof mh_a));
    rec[i] ^= 0x80;
  }
  /* empty block */
  uint8_t empty[SEG_RECORD_HEADER_BYTES + sizeof mh_a];
  assert_int_equal(seg_record_encode(empty, SEG_KIND_BLOCK, mh_a, sizeof mh_a, NULL, 0), sizeof empty);
  assert_int_equal(seg_record_header_decode(empty, &r), 0);
  assert_int_equal(r.data_len, 0);
}

static void test_tombstone(void **state) {
  (void)state;
  uint8_t body[SEG_TOMBSTONE_BYTES];
  seg_tombstone_encode(body, 7, 123456789012ull);
  uint32_t seg;
  uint64_t off;
  assert_int_equal(seg_tombstone_decode(body, sizeof body, &seg, &off), 0);
  assert_int_equal(seg, 7);
  assert_int_equal(off, 123456789012ull);
  assert_int_equal(seg_tombstone_decode(body, 15, &seg, &off), -EBADMSG);
  uint8_t rec[SEG_RECORD_HEADER_BYTES + sizeof mh_a + SEG_TOMBSTONE_BYTES];
  seg_record_encode(rec, SEG_KIND_TOMBSTONE, mh_a, sizeof mh_a, body, sizeof body);
  seg_record_t r;
  assert_int_equal(seg_record_header_decode(rec, &r), 0);
  assert_int_equal(r.kind, SEG_KIND_TOMBSTONE);
}

/* Builds header + records of the given lengths into a heap image. */
static uint8_t *build_image(const size_t *lens, size_t count, size_t *image_len, size_t *ends) {
  size_t total = SEG_HEADER_BYTES;
  for (size_t i = 0; i < count; i++) total += seg_record_bytes(sizeof mh_a, lens[i]);
  uint8_t *img = malloc(total);
  assert_non_null(img);
  seg_header_encode(img, 1);
  size_t pos = SEG_HEADER_BYTES;
  uint8_t *data = malloc(BLOCK_BYTES_MAX);
  assert_non_null(data);
  for (size_t i = 0; i < count; i++) {
    for (size_t k = 0; k < lens[i]; k++) data[k] = (uint8_t)(k + i);
    pos += seg_record_encode(img + pos, SEG_KIND_BLOCK, mh_a, sizeof mh_a, data, lens[i]);
    if (ends) ends[i] = pos;
  }
  free(data);
  *image_len = total;
  return img;
}

static void test_scan_memory_cut_everywhere(void **state) {
  (void)state;
  const size_t lens[] = {0, 1, 50, 200, 3};
  size_t ends[5], len;
  uint8_t *img = build_image(lens, 5, &len, ends);
  for (size_t cut = SEG_HEADER_BYTES; cut <= len; cut++) {
    seg_scan_t s;
    seg_scan_open_mem(&s, img, SEG_HEADER_BYTES, cut);
    size_t got = 0;
    seg_record_t r;
    int rc;
    while ((rc = seg_scan_next(&s, &r)) == 1) {
      assert_true(r.body_ok);
      assert_int_equal(r.data_len, lens[got]);
      got++;
    }
    size_t expect = 0;
    while (expect < 5 && ends[expect] <= cut) expect++;
    assert_int_equal(got, expect);
    bool boundary = cut == SEG_HEADER_BYTES || (expect > 0 && ends[expect - 1] == cut);
    assert_int_equal(rc, boundary ? 0 : -EAGAIN);
    assert_int_equal(r.offset, expect ? ends[expect - 1] : SEG_HEADER_BYTES);
    seg_scan_close(&s);
  }
  /* garbage after the last record is "not a record" */
  uint8_t *bigger = malloc(len + 64);
  memcpy(bigger, img, len);
  memset(bigger + len, 0, 64);
  seg_scan_t s;
  seg_scan_open_mem(&s, bigger, SEG_HEADER_BYTES, len + 64);
  seg_record_t r;
  int rc;
  while ((rc = seg_scan_next(&s, &r)) == 1) {
  }
  assert_int_equal(rc, -EBADMSG);
  assert_int_equal(r.offset, len);
  /* a body flip is reported and the scan goes on */
  bigger[ends[2] - 1] ^= 1;
  seg_scan_open_mem(&s, bigger, SEG_HEADER_BYTES, len);
  size_t bad = 0, total = 0;
  while ((rc = seg_scan_next(&s, &r)) == 1) {
    total++;
    if (!r.body_ok) bad++;
  }
  assert_int_equal(rc, 0);
  assert_int_equal(total, 5);
  assert_int_equal(bad, 1);
  free(bigger);
  free(img);
}

static void temp_path(char *out, size_t cap) {
  const char *tmp = getenv("TMPDIR");
  snprintf(out, cap, "%s/anya-seg-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  int fd = mkstemp(out);
  assert_true(fd >= 0);
  close(fd);
}

static void test_scan_file_big_records(void **state) {
  (void)state;
  /* Records near the maximum force window refills at odd offsets. */
  const size_t lens[] = {BLOCK_BYTES_MAX, 17, BLOCK_BYTES_MAX - 1, 1000000, BLOCK_BYTES_MAX, 0};
  size_t n = sizeof lens / sizeof lens[0], len;
  uint8_t *img = build_image(lens, n, &len, NULL);
  char path[256];
  temp_path(path, sizeof path);
  const io_backend_t *io = io_real();
  int fd = io_open(io, path, O_RDWR, 0);
  assert_true(fd >= 0);
  assert_int_equal(io_write_all(io, fd, img, len, 0), 0);
  uint64_t size = 0;
  assert_int_equal(io_size(io, fd, &size), 0);
  assert_int_equal(size, len);
  seg_scan_t s;
  assert_int_equal(seg_scan_open_fd(&s, io, fd, SEG_HEADER_BYTES, size), 0);
  seg_record_t r;
  size_t got = 0;
  int rc;
  while ((rc = seg_scan_next(&s, &r)) == 1) {
    assert_true(r.body_ok);
    assert_int_equal(r.data_len, lens[got]);
    if (r.data_len) assert_int_equal(r.data[r.data_len - 1], (uint8_t)(r.data_len - 1 + got));
    got++;
  }
  assert_int_equal(rc, 0);
  assert_int_equal(got, n);
  seg_scan_close(&s);
  /* cut inside the last (empty) record: the ones before it stay */
  assert_int_equal(io_ftruncate(io, fd, len - 10), 0);
  assert_int_equal(seg_scan_open_fd(&s, io, fd, SEG_HEADER_BYTES, len - 10), 0);
  got = 0;
  while ((rc = seg_scan_next(&s, &r)) == 1) got++;
  assert_int_equal(rc, -EAGAIN);
  assert_int_equal(got, n - 1);
  assert_int_equal(r.offset, len - seg_record_bytes(sizeof mh_a, 0));
  seg_scan_close(&s);
  io_close(io, fd);
  unlink(path);
  free(img);
}

/* ---- the I/O layer ---- */

static void pattern(uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 13 + 5);
}

static void test_io_write_all_faults(void **state) {
  (void)state;
  const size_t len = 3 * IO_WRITE_CHUNK_BYTES + 12345;
  uint8_t *data = malloc(len), *back = malloc(len);
  pattern(data, len);
  char path[256];
  temp_path(path, sizeof path);
  io_fault_t f;
  assert_int_equal(io_fault_init(&f, NULL), 0);
  const io_backend_t *io = &f.backend;

  /* pass-through counts */
  int fd = io_open(io, path, O_RDWR | O_TRUNC, 0);
  assert_true(fd >= 0);
  assert_int_equal(io_write_all(io, fd, data, len, 0), 0);
  assert_int_equal(f.calls[IO_OP_WRITE], 1);
  assert_int_equal(f.written_bytes, len);

  /* a short write is resumed transparently */
  io_fault_reset(&f);
  f.kind = IO_FAULT_SHORT_WRITE, f.op = IO_OP_WRITE, f.nth = 1;
  assert_int_equal(io_ftruncate(io, fd, 0), 0);
  assert_int_equal(io_write_all(io, fd, data, len, 0), 0);
  assert_int_equal(f.faults, 1);
  assert_true(f.calls[IO_OP_WRITE] >= 2);
  assert_int_equal(io_pread(io, fd, back, len, 0), (ssize_t)len);
  assert_memory_equal(back, data, len);

  /* EIO and ENOSPC come back; nothing lands */
  const io_fault_kind_t kinds[] = {IO_FAULT_EIO, IO_FAULT_ENOSPC};
  for (int k = 0; k < 2; k++) {
    io_fault_reset(&f);
    f.kind = kinds[k], f.op = IO_OP_WRITE, f.nth = 1;
    assert_int_equal(io_ftruncate(io, fd, 0), 0);
    assert_int_equal(io_write_all(io, fd, data, len, 0), kinds[k] == IO_FAULT_EIO ? -EIO : -ENOSPC);
    uint64_t size = 1;
    assert_int_equal(io_size(io, fd, &size), 0);
    assert_int_equal(size, 0);
    f.op = IO_OP_FDATASYNC;
    io_fault_reset(&f);
    assert_int_equal(io_fdatasync(io, fd), kinds[k] == IO_FAULT_EIO ? -EIO : -ENOSPC);
    assert_int_equal(io_fdatasync(io, fd), 0); /* only the nth call */
  }

  /* a crash lands exactly N bytes, then every mutating call fails */
  io_fault_reset(&f);
  f.kind = IO_FAULT_CRASH, f.nth = 0, f.crash_after_bytes = IO_WRITE_CHUNK_BYTES + 777;
  assert_int_equal(io_ftruncate(io, fd, 0), 0);
  assert_int_equal(io_write_all(io, fd, data, len, 0), -EIO);
  assert_true(f.crashed);
  assert_int_equal(io_fdatasync(io, fd), -EIO);
  assert_int_equal(io_ftruncate(io, fd, 0), -EIO);
  assert_int_equal(io_external(io, "index"), -EIO);
  uint64_t size = 0;
  assert_int_equal(io_size(io, fd, &size), 0); /* reads still work */
  assert_int_equal(size, IO_WRITE_CHUNK_BYTES + 777);
  assert_int_equal(io_pread(io, fd, back, len, 0), (ssize_t)size);
  assert_memory_equal(back, data, size);
  assert_int_equal(io_close(io, fd), 0);
  assert_string_equal(io_op_name(IO_OP_FDATASYNC), "fdatasync");
  io_fault_fini(&f);
  unlink(path);
  free(data);
  free(back);
}

static int count_entry(void *ctx, const char *name) {
  (void)name;
  (*(int *)ctx)++;
  return 0;
}

static void test_io_files(void **state) {
  (void)state;
  char dir[256];
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/anya-io-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  assert_non_null(mkdtemp(dir));
  const io_backend_t *io = io_real();
  char a[300], b[300];
  snprintf(a, sizeof a, "%s/a", dir);
  snprintf(b, sizeof b, "%s/b", dir);
  assert_int_equal(io_mkdir(io, dir, 0755), -EEXIST);
  int fd = io_open(io, a, O_RDWR | O_CREAT | O_EXCL, 0644);
  assert_true(fd >= 0);
  assert_int_equal(io_open(io, a, O_RDWR | O_CREAT | O_EXCL, 0644), -EEXIST);
  assert_int_equal(io_close(io, fd), 0);
  assert_int_equal(io_rename(io, a, b), 0);
  assert_int_equal(io_fsync_dir(io, dir), 0);
  int entries = 0;
  assert_int_equal(io_list(io, dir, count_entry, &entries), 0);
  assert_int_equal(entries, 1);
  assert_int_equal(io_unlink(io, b), 0);
  assert_int_equal(io_unlink(io, b), -ENOENT);
  assert_int_equal(io_open(io, b, O_RDONLY, 0), -ENOENT);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_header),
      cmocka_unit_test(test_record_roundtrip_and_flips),
      cmocka_unit_test(test_tombstone),
      cmocka_unit_test(test_scan_memory_cut_everywhere),
      cmocka_unit_test(test_scan_file_big_records),
      cmocka_unit_test(test_io_write_all_faults),
      cmocka_unit_test(test_io_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
