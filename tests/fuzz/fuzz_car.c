/*
 * fuzz_car: two properties, chosen by the first input byte.
 *
 * Even: the rest is a CAR stream, read in chunks of 1..16 bytes.  Import must
 * never crash, and every block it hands to the sink must hash to its CID.  If
 * it succeeds and the first root's DAG is complete, exporting that root and
 * importing the export must succeed, and exporting again from the copy must
 * give the same bytes.
 *
 * Odd: the rest is cut into raw blocks (first byte of each piece = its length)
 * which a directory links by name; export + import must round-trip every block.
 * Violations abort().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/memstore.h"
#include "car.h"
#include "dagpb.h"
#include "unixfs.h"

typedef struct reader {
  const uint8_t *data;
  size_t len, pos, chunk;
} reader_t;

static ssize_t rd(void *ctx, void *dst, size_t len) {
  reader_t *r = ctx;
  size_t n = r->len - r->pos;
  if (n > len) n = len;
  if (n > r->chunk) n = r->chunk;
  memcpy(dst, r->data + r->pos, n);
  r->pos += n;
  return (ssize_t)n;
}

static int wr(void *ctx, const void *data, size_t len) { return buf_append(ctx, data, len); }

static int checking_put(void *ctx, const cid_t *cid, const uint8_t *data, size_t len) {
  if (len > BLOCK_BYTES_MAX) abort();
  if (mh_verify(&cid->hash, data, len) != 1) abort();
  if (cid->hash.code == MH_IDENTITY) abort(); /* identity blocks are not stored */
  return memstore_put(ctx, cid, data, len);
}

typedef struct first_root {
  cid_t cid;
  size_t seen;
} first_root_t;

static void on_root(void *ctx, const cid_t *c) {
  first_root_t *f = ctx;
  if (f->seen++ == 0) f->cid = *c;
}

static int import_into(const uint8_t *data, size_t len, size_t chunk, memstore_t *ms,
                       first_root_t *root, uint64_t *blocks) {
  reader_t r = {data, len, 0, chunk};
  block_sink_t sink = {checking_put, ms};
  return car_import(rd, &r, &sink, on_root, root, blocks);
}

/* export root from `from`, import into a fresh store, export again: same bytes. */
static void round_trip(memstore_t *from, const cid_t *root, bool must_succeed) {
  block_source_t src = memstore_source(from);
  buf_t car = {0};
  int rc = car_export(&src, root, wr, &car);
  if (rc != 0) {
    if (must_succeed || (rc != -ENOENT && rc != -EIO && rc != -E2BIG)) abort();
    buf_free(&car);
    return;
  }
  memstore_t copy = {0};
  first_root_t fr = {0};
  uint64_t blocks = 0;
  if (import_into(car.data, car.len, 7, &copy, &fr, &blocks) != 0) abort();
  if (fr.seen != 1 || !cid_equal(&fr.cid, root)) abort();
  if (blocks != copy.puts || copy.len > from->len) abort(); /* each CID once */
  block_source_t src2 = memstore_source(&copy);
  buf_t again = {0};
  if (car_export(&src2, root, wr, &again) != 0) abort();
  if (again.len != car.len || memcmp(again.data, car.data, car.len) != 0) abort();
  buf_free(&again);
  memstore_free(&copy);
  buf_free(&car);
}

static void fuzz_import(const uint8_t *data, size_t size, size_t chunk) {
  memstore_t ms = {0};
  first_root_t fr = {0};
  uint64_t blocks = 0;
  int rc = import_into(data, size, chunk, &ms, &fr, &blocks);
  if (blocks != ms.puts) abort();
  if (rc == 0 && fr.seen > 0) round_trip(&ms, &fr.cid, false);
  memstore_free(&ms);
}

static void fuzz_build(const uint8_t *data, size_t size) {
  memstore_t ms = {0};
  dagpb_link_t links[64];
  char names[64][8];
  size_t n = 0, pos = 0;
  while (pos < size && n < 64) {
    size_t len = data[pos++];
    if (len > size - pos) len = size - pos;
    cid_t c;
    if (cid_make(&c, 1, CODEC_RAW, MH_SHA2_256, data + pos, len) != 0) abort();
    if (memstore_put(&ms, &c, data + pos, len) != 0) abort();
    snprintf(names[n], sizeof names[n], "%03zu", n);
    links[n] = (dagpb_link_t){.cid = c, .name = names[n], .name_len = 3, .has_name = true,
                              .tsize = len, .has_tsize = true};
    n++;
    pos += len;
  }
  unixfs_data_t fs = {.type = UNIXFS_DIRECTORY};
  buf_t d = {0}, block = {0};
  if (unixfs_encode(&fs, &d) != 0) abort();
  dagpb_node_t node = {.links = links, .links_len = n, .data = d.data, .data_len = d.len, .has_data = true};
  if (dagpb_encode(&node, &block) != 0) abort();
  cid_t root;
  if (cid_make(&root, 0, CODEC_DAG_PB, MH_SHA2_256, block.data, block.len) != 0) abort();
  if (memstore_put(&ms, &root, block.data, block.len) != 0) abort();
  round_trip(&ms, &root, true);
  buf_free(&d);
  buf_free(&block);
  memstore_free(&ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  if (data[0] & 1) fuzz_build(data + 1, size - 1);
  else fuzz_import(data + 1, size - 1, (size_t)(data[0] >> 1) % 16 + 1);
  return 0;
}
