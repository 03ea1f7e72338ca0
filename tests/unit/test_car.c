/*
 * car: export then import round trips (byte-exact header, DFS order, no
 * duplicates, no identity blocks), CARv2 wrapping, the ipld/specs fixtures
 * carv1-basic and carv2-basic (embedded below as test vectors: our export of
 * their roots reproduces their bytes), and every import error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "car.h"
#include "dagpb.h"
#include "err.h"
#include "memstore.h"
#include "unixfs.h"
#include "varint.h"

/* ipld/specs transport/car/fixture/carv1-basic/carv1-basic.car (715 bytes):
 * roots [bafyreihyrpef..., bafyreidj5idu...], 8 blocks, dag-cbor + dag-pb + raw. */
static const uint8_t carv1_basic[715] = {
    0x63, 0xa2, 0x65, 0x72, 0x6f, 0x6f, 0x74, 0x73, 0x82, 0xd8, 0x2a, 0x58, 0x25, 0x00, 0x01, 0x71,
    0x12, 0x20, 0xf8, 0x8b, 0xc8, 0x53, 0x80, 0x4c, 0xf2, 0x94, 0xfe, 0x41, 0x7e, 0x4f, 0xa8, 0x30,
    0x28, 0x68, 0x9f, 0xcd, 0xb1, 0xb1, 0x59, 0x2c, 0x51, 0x02, 0xe1, 0x47, 0x4d, 0xbc, 0x20, 0x0f,
    0xab, 0x8b, 0xd8, 0x2a, 0x58, 0x25, 0x00, 0x01, 0x71, 0x12, 0x20, 0x69, 0xea, 0x07, 0x40, 0xf9,
    0x80, 0x7a, 0x28, 0xf4, 0xd9, 0x32, 0xc6, 0x2e, 0x7c, 0x1c, 0x83, 0xbe, 0x05, 0x5e, 0x55, 0x07,
    0x2c, 0x90, 0x26, 0x6a, 0xb3, 0xe7, 0x9d, 0xf6, 0x3a, 0x36, 0x5b, 0x67, 0x76, 0x65, 0x72, 0x73,
    0x69, 0x6f, 0x6e, 0x01, 0x5b, 0x01, 0x71, 0x12, 0x20, 0xf8, 0x8b, 0xc8, 0x53, 0x80, 0x4c, 0xf2,
    0x94, 0xfe, 0x41, 0x7e, 0x4f, 0xa8, 0x30, 0x28, 0x68, 0x9f, 0xcd, 0xb1, 0xb1, 0x59, 0x2c, 0x51,
    0x02, 0xe1, 0x47, 0x4d, 0xbc, 0x20, 0x0f, 0xab, 0x8b, 0xa2, 0x64, 0x6c, 0x69, 0x6e, 0x6b, 0xd8,
    0x2a, 0x58, 0x23, 0x00, 0x12, 0x20, 0x02, 0xac, 0xec, 0xc5, 0xde, 0x24, 0x38, 0xea, 0x41, 0x26,
    0xa3, 0x01, 0x0e, 0xcb, 0x1f, 0x8a, 0x59, 0x9c, 0x8e, 0xff, 0x22, 0xff, 0xf1, 0xa1, 0xdc, 0xff,
    0xe9, 0x99, 0xb2, 0x7f, 0xd3, 0xde, 0x64, 0x6e, 0x61, 0x6d, 0x65, 0x64, 0x62, 0x6c, 0x69, 0x70,
    0x83, 0x01, 0x12, 0x20, 0x02, 0xac, 0xec, 0xc5, 0xde, 0x24, 0x38, 0xea, 0x41, 0x26, 0xa3, 0x01,
    0x0e, 0xcb, 0x1f, 0x8a, 0x59, 0x9c, 0x8e, 0xff, 0x22, 0xff, 0xf1, 0xa1, 0xdc, 0xff, 0xe9, 0x99,
    0xb2, 0x7f, 0xd3, 0xde, 0x12, 0x2e, 0x0a, 0x24, 0x01, 0x55, 0x12, 0x20, 0xb6, 0xfb, 0xd6, 0x75,
    0xf9, 0x8e, 0x2a, 0xbd, 0x22, 0xd4, 0xed, 0x29, 0xfd, 0xc8, 0x31, 0x50, 0xfe, 0xdc, 0x48, 0x59,
    0x7e, 0x92, 0xdd, 0x1a, 0x7a, 0x24, 0x38, 0x1d, 0x44, 0xa2, 0x74, 0x51, 0x12, 0x04, 0x62, 0x65,
    0x61, 0x72, 0x18, 0x04, 0x12, 0x2f, 0x0a, 0x22, 0x12, 0x20, 0x79, 0xa9, 0x82, 0xde, 0x3c, 0x99,
    0x07, 0x95, 0x3d, 0x4d, 0x32, 0x3c, 0xee, 0x1d, 0x0f, 0xb1, 0xed, 0x8f, 0x45, 0xf8, 0xef, 0x02,
    0x87, 0x0c, 0x0c, 0xb9, 0xe0, 0x92, 0x46, 0xbd, 0x53, 0x0a, 0x12, 0x06, 0x73, 0x65, 0x63, 0x6f,
    0x6e, 0x64, 0x18, 0x95, 0x01, 0x28, 0x01, 0x55, 0x12, 0x20, 0xb6, 0xfb, 0xd6, 0x75, 0xf9, 0x8e,
    0x2a, 0xbd, 0x22, 0xd4, 0xed, 0x29, 0xfd, 0xc8, 0x31, 0x50, 0xfe, 0xdc, 0x48, 0x59, 0x7e, 0x92,
    0xdd, 0x1a, 0x7a, 0x24, 0x38, 0x1d, 0x44, 0xa2, 0x74, 0x51, 0x63, 0x63, 0x63, 0x63, 0x80, 0x01,
    0x12, 0x20, 0x79, 0xa9, 0x82, 0xde, 0x3c, 0x99, 0x07, 0x95, 0x3d, 0x4d, 0x32, 0x3c, 0xee, 0x1d,
    0x0f, 0xb1, 0xed, 0x8f, 0x45, 0xf8, 0xef, 0x02, 0x87, 0x0c, 0x0c, 0xb9, 0xe0, 0x92, 0x46, 0xbd,
    0x53, 0x0a, 0x12, 0x2d, 0x0a, 0x24, 0x01, 0x55, 0x12, 0x20, 0x81, 0xcc, 0x5b, 0x17, 0x01, 0x86,
    0x74, 0xb4, 0x01, 0xb4, 0x2f, 0x35, 0xba, 0x07, 0xbb, 0x79, 0xe2, 0x11, 0x23, 0x9c, 0x23, 0xbf,
    0xfe, 0x65, 0x8d, 0xa1, 0x57, 0x7e, 0x3e, 0x64, 0x68, 0x77, 0x12, 0x03, 0x64, 0x6f, 0x67, 0x18,
    0x04, 0x12, 0x2d, 0x0a, 0x22, 0x12, 0x20, 0xe7, 0xdc, 0x48, 0x6e, 0x97, 0xe6, 0xeb, 0xe5, 0xcd,
    0xab, 0xab, 0x3e, 0x39, 0x2b, 0xda, 0xd1, 0x28, 0xb6, 0xe0, 0x9a, 0xcc, 0x94, 0xbb, 0x4e, 0x2a,
    0xa2, 0xaf, 0x7b, 0x98, 0x6d, 0x24, 0xd0, 0x12, 0x05, 0x66, 0x69, 0x72, 0x73, 0x74, 0x18, 0x33,
    0x28, 0x01, 0x55, 0x12, 0x20, 0x81, 0xcc, 0x5b, 0x17, 0x01, 0x86, 0x74, 0xb4, 0x01, 0xb4, 0x2f,
    0x35, 0xba, 0x07, 0xbb, 0x79, 0xe2, 0x11, 0x23, 0x9c, 0x23, 0xbf, 0xfe, 0x65, 0x8d, 0xa1, 0x57,
    0x7e, 0x3e, 0x64, 0x68, 0x77, 0x62, 0x62, 0x62, 0x62, 0x51, 0x12, 0x20, 0xe7, 0xdc, 0x48, 0x6e,
    0x97, 0xe6, 0xeb, 0xe5, 0xcd, 0xab, 0xab, 0x3e, 0x39, 0x2b, 0xda, 0xd1, 0x28, 0xb6, 0xe0, 0x9a,
    0xcc, 0x94, 0xbb, 0x4e, 0x2a, 0xa2, 0xaf, 0x7b, 0x98, 0x6d, 0x24, 0xd0, 0x12, 0x2d, 0x0a, 0x24,
    0x01, 0x55, 0x12, 0x20, 0x61, 0xbe, 0x55, 0xa8, 0xe2, 0xf6, 0xb4, 0xe1, 0x72, 0x33, 0x8b, 0xdd,
    0xf1, 0x84, 0xd6, 0xdb, 0xee, 0x29, 0xc9, 0x88, 0x53, 0xe0, 0xa0, 0x48, 0x5e, 0xce, 0xe7, 0xf2,
    0x7b, 0x9a, 0xf0, 0xb4, 0x12, 0x03, 0x63, 0x61, 0x74, 0x18, 0x04, 0x28, 0x01, 0x55, 0x12, 0x20,
    0x61, 0xbe, 0x55, 0xa8, 0xe2, 0xf6, 0xb4, 0xe1, 0x72, 0x33, 0x8b, 0xdd, 0xf1, 0x84, 0xd6, 0xdb,
    0xee, 0x29, 0xc9, 0x88, 0x53, 0xe0, 0xa0, 0x48, 0x5e, 0xce, 0xe7, 0xf2, 0x7b, 0x9a, 0xf0, 0xb4,
    0x61, 0x61, 0x61, 0x61, 0x36, 0x01, 0x71, 0x12, 0x20, 0x69, 0xea, 0x07, 0x40, 0xf9, 0x80, 0x7a,
    0x28, 0xf4, 0xd9, 0x32, 0xc6, 0x2e, 0x7c, 0x1c, 0x83, 0xbe, 0x05, 0x5e, 0x55, 0x07, 0x2c, 0x90,
    0x26, 0x6a, 0xb3, 0xe7, 0x9d, 0xf6, 0x3a, 0x36, 0x5b, 0xa2, 0x64, 0x6c, 0x69, 0x6e, 0x6b, 0xf6,
    0x64, 0x6e, 0x61, 0x6d, 0x65, 0x65, 0x6c, 0x69, 0x6d, 0x62, 0x6f,
};

/* ipld/specs transport/car/fixture/carv2-basic/carv2-basic.car (715 bytes):
 * root QmfEoLyB..., data offset 51, data size 448, index offset 499 (IndexSorted). */
static const uint8_t carv2_basic[715] = {
    0x0a, 0xa1, 0x67, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x33, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0xc0, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf3, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x38, 0xa2, 0x65, 0x72, 0x6f, 0x6f, 0x74, 0x73, 0x81, 0xd8, 0x2a, 0x58, 0x23,
    0x00, 0x12, 0x20, 0xfb, 0x16, 0xf5, 0x08, 0x34, 0x12, 0xef, 0x13, 0x71, 0xd0, 0x31, 0xed, 0x4a,
    0xa2, 0x39, 0x90, 0x3d, 0x84, 0xef, 0xda, 0xdf, 0x1b, 0xa3, 0xcd, 0x67, 0x8e, 0x64, 0x75, 0xb1,
    0xa2, 0x32, 0xf8, 0x67, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x01, 0x51, 0x12, 0x20, 0xfb,
    0x16, 0xf5, 0x08, 0x34, 0x12, 0xef, 0x13, 0x71, 0xd0, 0x31, 0xed, 0x4a, 0xa2, 0x39, 0x90, 0x3d,
    0x84, 0xef, 0xda, 0xdf, 0x1b, 0xa3, 0xcd, 0x67, 0x8e, 0x64, 0x75, 0xb1, 0xa2, 0x32, 0xf8, 0x12,
    0x2d, 0x0a, 0x22, 0x12, 0x20, 0xd9, 0xc0, 0xd5, 0x37, 0x6d, 0x26, 0xf1, 0x93, 0x1f, 0x7a, 0xd5,
    0x2d, 0x7a, 0xcc, 0x00, 0xfc, 0x10, 0x90, 0xd2, 0xed, 0xb0, 0x80, 0x8b, 0xf6, 0x1e, 0xeb, 0x0a,
    0x15, 0x28, 0x26, 0xf6, 0x26, 0x12, 0x04, 0xf0, 0x9f, 0x8d, 0xa4, 0x18, 0xa4, 0x01, 0x85, 0x01,
    0x12, 0x20, 0xd9, 0xc0, 0xd5, 0x37, 0x6d, 0x26, 0xf1, 0x93, 0x1f, 0x7a, 0xd5, 0x2d, 0x7a, 0xcc,
    0x00, 0xfc, 0x10, 0x90, 0xd2, 0xed, 0xb0, 0x80, 0x8b, 0xf6, 0x1e, 0xeb, 0x0a, 0x15, 0x28, 0x26,
    0xf6, 0x26, 0x12, 0x31, 0x0a, 0x22, 0x12, 0x20, 0xd7, 0x45, 0xb7, 0x75, 0x7f, 0x5b, 0x45, 0x93,
    0xee, 0xab, 0x78, 0x20, 0x30, 0x6c, 0x7b, 0xc6, 0x4e, 0xb4, 0x96, 0xa7, 0x41, 0x0a, 0x0d, 0x07,
    0xdf, 0x7a, 0x34, 0xff, 0xec, 0x4b, 0x97, 0xf1, 0x12, 0x09, 0x62, 0x61, 0x72, 0x72, 0x65, 0x6c,
    0x65, 0x79, 0x65, 0x18, 0x3a, 0x12, 0x2e, 0x0a, 0x24, 0x01, 0x55, 0x12, 0x20, 0xa2, 0xe1, 0xc4,
    0x0d, 0xa1, 0xae, 0x33, 0x5d, 0x4d, 0xff, 0xe7, 0x29, 0xeb, 0x4d, 0x5c, 0xa2, 0x3b, 0x74, 0xb9,
    0xe5, 0x1f, 0xc5, 0x35, 0xf4, 0xa8, 0x04, 0xa2, 0x61, 0x08, 0x0c, 0x29, 0x4d, 0x12, 0x04, 0xf0,
    0x9f, 0x90, 0xa1, 0x18, 0x07, 0x58, 0x12, 0x20, 0xd7, 0x45, 0xb7, 0x75, 0x7f, 0x5b, 0x45, 0x93,
    0xee, 0xab, 0x78, 0x20, 0x30, 0x6c, 0x7b, 0xc6, 0x4e, 0xb4, 0x96, 0xa7, 0x41, 0x0a, 0x0d, 0x07,
    0xdf, 0x7a, 0x34, 0xff, 0xec, 0x4b, 0x97, 0xf1, 0x12, 0x34, 0x0a, 0x24, 0x01, 0x55, 0x12, 0x20,
    0xb4, 0x74, 0xa9, 0x9a, 0x27, 0x05, 0xe2, 0x3c, 0xf9, 0x05, 0xa4, 0x84, 0xec, 0x6d, 0x14, 0xef,
    0x58, 0xb5, 0x6b, 0xbe, 0x62, 0xe9, 0x29, 0x27, 0x83, 0x46, 0x6e, 0xc3, 0x63, 0xb5, 0x07, 0x2d,
    0x12, 0x0a, 0x66, 0x69, 0x73, 0x68, 0x6d, 0x6f, 0x6e, 0x67, 0x65, 0x72, 0x18, 0x04, 0x28, 0x01,
    0x55, 0x12, 0x20, 0xb4, 0x74, 0xa9, 0x9a, 0x27, 0x05, 0xe2, 0x3c, 0xf9, 0x05, 0xa4, 0x84, 0xec,
    0x6d, 0x14, 0xef, 0x58, 0xb5, 0x6b, 0xbe, 0x62, 0xe9, 0x29, 0x27, 0x83, 0x46, 0x6e, 0xc3, 0x63,
    0xb5, 0x07, 0x2d, 0x66, 0x69, 0x73, 0x68, 0x2b, 0x01, 0x55, 0x12, 0x20, 0xa2, 0xe1, 0xc4, 0x0d,
    0xa1, 0xae, 0x33, 0x5d, 0x4d, 0xff, 0xe7, 0x29, 0xeb, 0x4d, 0x5c, 0xa2, 0x3b, 0x74, 0xb9, 0xe5,
    0x1f, 0xc5, 0x35, 0xf4, 0xa8, 0x04, 0xa2, 0x61, 0x08, 0x0c, 0x29, 0x4d, 0x6c, 0x6f, 0x62, 0x73,
    0x74, 0x65, 0x72, 0x01, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0xc8, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0xa2, 0xe1, 0xc4, 0x0d, 0xa1, 0xae, 0x33, 0x5d, 0x4d, 0xff, 0xe7, 0x29, 0xeb,
    0x4d, 0x5c, 0xa2, 0x3b, 0x74, 0xb9, 0xe5, 0x1f, 0xc5, 0x35, 0xf4, 0xa8, 0x04, 0xa2, 0x61, 0x08,
    0x0c, 0x29, 0x4d, 0x94, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xb4, 0x74, 0xa9, 0x9a, 0x27,
    0x05, 0xe2, 0x3c, 0xf9, 0x05, 0xa4, 0x84, 0xec, 0x6d, 0x14, 0xef, 0x58, 0xb5, 0x6b, 0xbe, 0x62,
    0xe9, 0x29, 0x27, 0x83, 0x46, 0x6e, 0xc3, 0x63, 0xb5, 0x07, 0x2d, 0x6b, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0xd7, 0x45, 0xb7, 0x75, 0x7f, 0x5b, 0x45, 0x93, 0xee, 0xab, 0x78, 0x20, 0x30,
    0x6c, 0x7b, 0xc6, 0x4e, 0xb4, 0x96, 0xa7, 0x41, 0x0a, 0x0d, 0x07, 0xdf, 0x7a, 0x34, 0xff, 0xec,
    0x4b, 0x97, 0xf1, 0x12, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd9, 0xc0, 0xd5, 0x37, 0x6d,
    0x26, 0xf1, 0x93, 0x1f, 0x7a, 0xd5, 0x2d, 0x7a, 0xcc, 0x00, 0xfc, 0x10, 0x90, 0xd2, 0xed, 0xb0,
    0x80, 0x8b, 0xf6, 0x1e, 0xeb, 0x0a, 0x15, 0x28, 0x26, 0xf6, 0x26, 0x8b, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0xfb, 0x16, 0xf5, 0x08, 0x34, 0x12, 0xef, 0x13, 0x71, 0xd0, 0x31, 0xed, 0x4a,
    0xa2, 0x39, 0x90, 0x3d, 0x84, 0xef, 0xda, 0xdf, 0x1b, 0xa3, 0xcd, 0x67, 0x8e, 0x64, 0x75, 0xb1,
    0xa2, 0x32, 0xf8, 0x39, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* ---- helpers ---- */

typedef struct mem_reader {
  const uint8_t *data;
  size_t len, pos;
  size_t chunk;    /* max bytes per read call (0 = all) */
  int fail_at;     /* return -EIO once pos reaches this (-1 = never) */
} mem_reader_t;

static ssize_t mem_read(void *ctx, void *dst, size_t len) {
  mem_reader_t *r = ctx;
  if (r->fail_at >= 0 && r->pos >= (size_t)r->fail_at) return -EIO;
  size_t n = r->len - r->pos;
  if (n > len) n = len;
  if (r->chunk && n > r->chunk) n = r->chunk;
  memcpy(dst, r->data + r->pos, n);
  r->pos += n;
  return (ssize_t)n;
}

static int buf_write(void *ctx, const void *data, size_t len) { return buf_append(ctx, data, len); }

typedef struct roots {
  cid_t cids[8];
  size_t len;
} roots_t;

static void on_root(void *ctx, const cid_t *c) {
  roots_t *r = ctx;
  assert_true(r->len < 8);
  r->cids[r->len++] = *c;
}

static int import_bytes(const uint8_t *data, size_t len, memstore_t *ms, roots_t *roots,
                        uint64_t *blocks, size_t chunk) {
  mem_reader_t r = {.data = data, .len = len, .chunk = chunk, .fail_at = -1};
  block_sink_t sink = memstore_sink(ms);
  if (roots) memset(roots, 0, sizeof *roots);
  return car_import(mem_read, &r, &sink, roots ? on_root : NULL, roots, blocks);
}

static void assert_cid_is(const cid_t *c, const char *text) {
  char t[CID_TEXT_BYTES_MAX];
  assert_int_equal(cid_format_default(c, t), 0);
  assert_string_equal(t, text);
}

static cid_t put(memstore_t *ms, uint32_t version, uint64_t codec, const void *data, size_t len) {
  cid_t c;
  assert_int_equal(cid_make(&c, version, codec, MH_SHA2_256, data, len), 0);
  assert_int_equal(memstore_put(ms, &c, data, len), 0);
  return c;
}

static cid_t put_pb(memstore_t *ms, dagpb_link_t *links, size_t n, uint32_t type) {
  unixfs_data_t fs = {.type = type};
  buf_t data = {0}, block = {0};
  assert_int_equal(unixfs_encode(&fs, &data), 0);
  dagpb_node_t node = {.links = links, .links_len = n, .data = data.data, .data_len = data.len,
                       .has_data = true};
  assert_int_equal(dagpb_encode(&node, &block), 0);
  cid_t c = put(ms, 0, CODEC_DAG_PB, block.data, block.len);
  buf_free(&data);
  buf_free(&block);
  return c;
}

static dagpb_link_t named(const char *name, cid_t c) {
  return (dagpb_link_t){.cid = c, .name = name, .name_len = strlen(name), .has_name = true,
                        .tsize = 1, .has_tsize = true};
}

/* Parses a CARv1 in memory (trusting it) into section offsets, for assertions. */
typedef struct layout {
  size_t header_end;
  size_t starts[64];   /* section start offsets */
  cid_t cids[64];
  size_t len;
} layout_t;

static void layout_of(const uint8_t *car, size_t len, layout_t *l) {
  memset(l, 0, sizeof *l);
  uint64_t v;
  int n = varint_decode(car, len, &v);
  assert_true(n > 0);
  size_t pos = (size_t)n + (size_t)v;
  l->header_end = pos;
  while (pos < len) {
    assert_true(l->len < 64);
    l->starts[l->len] = pos;
    n = varint_decode(car + pos, len - pos, &v);
    assert_true(n > 0);
    assert_true(cid_from_bytes(&l->cids[l->len], car + pos + n, len - pos - (size_t)n) > 0);
    pos += (size_t)n + (size_t)v;
    l->len++;
  }
  assert_int_equal(pos, len);
}

/* A small DAG: dir { a: file(raw x, raw y), b: raw x again (duplicate),
 * c: identity raw, d: sub-dir { e: file(raw y) } }. */
typedef struct dag {
  cid_t root, file_a, x, y, ident, sub, file_e;
} dag_t;

static dag_t build_dag(memstore_t *ms) {
  dag_t d;
  d.x = put(ms, 1, CODEC_RAW, "xxxx", 4);
  d.y = put(ms, 1, CODEC_RAW, "yyyyyy", 6);
  assert_int_equal(cid_make(&d.ident, 1, CODEC_RAW, MH_IDENTITY, "inline!", 7), 0);
  dagpb_link_t fl[2] = {{.cid = d.x, .has_name = true, .tsize = 4, .has_tsize = true},
                        {.cid = d.y, .has_name = true, .tsize = 6, .has_tsize = true}};
  d.file_a = put_pb(ms, fl, 2, UNIXFS_FILE);
  dagpb_link_t el[1] = {{.cid = d.y, .has_name = true, .tsize = 6, .has_tsize = true}};
  d.file_e = put_pb(ms, el, 1, UNIXFS_FILE);
  dagpb_link_t sl[1] = {named("e", d.file_e)};
  d.sub = put_pb(ms, sl, 1, UNIXFS_DIRECTORY);
  dagpb_link_t rl[4] = {named("a", d.file_a), named("b", d.x), named("c", d.ident), named("d", d.sub)};
  d.root = put_pb(ms, rl, 4, UNIXFS_DIRECTORY);
  return d;
}

/* ---- export and round trip ---- */

static void test_export_import_round_trip(void **state) {
  (void)state;
  memstore_t a = {0};
  dag_t d = build_dag(&a);
  block_source_t src = memstore_source(&a);
  buf_t car = {0};
  assert_int_equal(car_export(&src, &d.root, buf_write, &car), 0);

  /* header bytes, exactly */
  uint8_t root_bytes[CID_BYTES_MAX];
  size_t rn = cid_to_bytes(&d.root, root_bytes);
  assert_int_equal(rn, 34);
  uint8_t want[1 + 56];
  size_t k = 0;
  want[k++] = 56;
  memcpy(want + k, "\xa2\x65roots\x81\xd8\x2a\x58\x23\x00", 13); k += 13;
  memcpy(want + k, root_bytes, 34); k += 34;
  memcpy(want + k, "\x67version\x01", 9); k += 9;
  assert_int_equal(k, sizeof want);
  assert_memory_equal(car.data, want, sizeof want);

  /* DFS pre-order, each block once, no identity block */
  layout_t l;
  layout_of(car.data, car.len, &l);
  const cid_t order[] = {d.root, d.file_a, d.x, d.y, d.sub, d.file_e};
  assert_int_equal(l.len, 6);
  for (size_t i = 0; i < 6; i++) assert_true(cid_equal(&l.cids[i], &order[i]));

  /* import into a fresh store, in one go and one byte per read */
  for (size_t chunk = 0; chunk <= 1; chunk++) {
    memstore_t b = {0};
    roots_t roots;
    uint64_t blocks = 99;
    assert_int_equal(import_bytes(car.data, car.len, &b, &roots, &blocks, chunk), 0);
    assert_int_equal(blocks, 6);
    assert_int_equal(roots.len, 1);
    assert_true(cid_equal(&roots.cids[0], &d.root));
    for (size_t i = 0; i < 6; i++) {
      memstore_entry_t *e = memstore_find(&b, &order[i]);
      assert_non_null(e);
      memstore_entry_t *orig = memstore_find(&a, &order[i]);
      assert_int_equal(e->len, orig->len);
      assert_memory_equal(e->data, orig->data, e->len);
    }
    /* and exporting again from the copy gives the same bytes */
    block_source_t src_b = memstore_source(&b);
    buf_t again = {0};
    assert_int_equal(car_export(&src_b, &d.root, buf_write, &again), 0);
    assert_int_equal(again.len, car.len);
    assert_memory_equal(again.data, car.data, car.len);
    buf_free(&again);
    memstore_free(&b);
  }

  /* every strict prefix fails unless it ends on a section boundary */
  for (size_t cut = 0; cut < car.len; cut++) {
    bool boundary = cut == l.header_end;
    for (size_t i = 0; i < l.len; i++) boundary |= cut == l.starts[i];
    memstore_t b = {0};
    int rc = import_bytes(car.data, cut, &b, NULL, NULL, 0);
    if (boundary) assert_int_equal(rc, 0);
    else assert_int_equal(rc, -EINVAL);
    memstore_free(&b);
  }
  buf_free(&car);
  memstore_free(&a);
}

static void test_export_identity_root_and_errors(void **state) {
  (void)state;
  memstore_t ms = {0};
  block_source_t src = memstore_source(&ms);
  buf_t car = {0};
  /* an identity root: header only */
  cid_t id;
  assert_int_equal(cid_make(&id, 1, CODEC_RAW, MH_IDENTITY, "", 0), 0);
  assert_cid_is(&id, "bafkqaaa");
  assert_int_equal(car_export(&src, &id, buf_write, &car), 0);
  layout_t l;
  layout_of(car.data, car.len, &l);
  assert_int_equal(l.len, 0);
  roots_t roots;
  assert_int_equal(import_bytes(car.data, car.len, &ms, &roots, NULL, 0), 0);
  assert_int_equal(roots.len, 1);
  assert_true(cid_equal(&roots.cids[0], &id));

  /* missing block */
  cid_t missing;
  assert_int_equal(cid_make(&missing, 0, CODEC_DAG_PB, MH_SHA2_256, "nope", 4), 0);
  buf_reset(&car);
  assert_int_equal(car_export(&src, &missing, buf_write, &car), -ENOENT);
  /* a dag-pb block that does not decode */
  cid_t junk = put(&ms, 0, CODEC_DAG_PB, "\xff\xff", 2);
  assert_int_equal(car_export(&src, &junk, buf_write, &car), -EIO);
  /* a dag-cbor block that does not decode */
  static const char *const bad_cbor[] = {
      "\x5f\xff",          /* indefinite byte string */
      "\x82\x01",          /* array missing an item */
      "\x01\x02",          /* two items */
      "\x9b\xff\xff\xff\xff\xff\xff\xff\xff", /* absurd array */
      "\xd8\x2a\x41\x01", /* tag 42 over a non-CID */
      "\xd8\x2a\x01",     /* tag 42 over an int */
      "\xff",               /* a lone break */
  };
  static const size_t bad_cbor_len[] = {2, 2, 2, 9, 4, 3, 1};
  for (size_t i = 0; i < sizeof bad_cbor / sizeof bad_cbor[0]; i++) {
    cid_t junk2 = put(&ms, 1, CODEC_DAG_CBOR, bad_cbor[i], bad_cbor_len[i]);
    assert_int_equal(car_export(&src, &junk2, buf_write, &car), -EIO);
  }
  /* well-formed dag-cbor: links found at any depth, other tags passed over */
  cid_t leaf = put(&ms, 1, CODEC_RAW, "leaf", 4);
  uint8_t lb[CID_BYTES_MAX];
  size_t ln = cid_to_bytes(&leaf, lb);
  buf_t cb = {0};
  buf_append(&cb, "\xa2\x61" "a\x82\xc1\x01\xd8\x2a\x58", 9);
  buf_append_byte(&cb, (uint8_t)(ln + 1));
  buf_append_byte(&cb, 0);
  buf_append(&cb, lb, ln);
  buf_append(&cb, "\x61" "b\xf6", 3);
  cid_t node = put(&ms, 1, CODEC_DAG_CBOR, cb.data, cb.len);
  buf_reset(&car);
  assert_int_equal(car_export(&src, &node, buf_write, &car), 0);
  layout_t lay;
  layout_of(car.data, car.len, &lay);
  assert_int_equal(lay.len, 2);
  assert_true(cid_equal(&lay.cids[1], &leaf));
  buf_free(&cb);
  /* a missing child, found after the parent was written */
  dagpb_link_t ml[1] = {named("m", missing)};
  cid_t parent = put_pb(&ms, ml, 1, UNIXFS_DIRECTORY);
  assert_int_equal(car_export(&src, &parent, buf_write, &car), -ENOENT);
  buf_free(&car);
  memstore_free(&ms);
}

static int failing_write(void *ctx, const void *data, size_t len) {
  size_t *budget = ctx;
  if (len > *budget) return -ENOSPC;
  *budget -= len;
  return 0;
}

static void test_export_write_error_and_depth(void **state) {
  (void)state;
  memstore_t ms = {0};
  dag_t d = build_dag(&ms);
  block_source_t src = memstore_source(&ms);
  for (size_t budget = 0; budget < 200; budget += 7) {
    size_t b = budget;
    assert_int_equal(car_export(&src, &d.root, failing_write, &b), -ENOSPC);
  }
  /* a chain deeper than CAR_EXPORT_DEPTH_MAX */
  memstore_t deep = {0};
  block_source_t dsrc = memstore_source(&deep);
  cid_t cur = put(&deep, 1, CODEC_RAW, "leaf", 4);
  for (int i = 0; i <= CAR_EXPORT_DEPTH_MAX; i++) {
    dagpb_link_t l[1] = {{.cid = cur}};
    cur = put_pb(&deep, l, 1, UNIXFS_FILE);
  }
  buf_t car = {0};
  assert_int_equal(car_export(&dsrc, &cur, buf_write, &car), -E2BIG);
  buf_free(&car);
  memstore_free(&deep);
  memstore_free(&ms);
}

/* ---- the spec fixtures ---- */

static void test_fixture_carv1_basic(void **state) {
  (void)state;
  memstore_t ms = {0};
  roots_t roots;
  uint64_t blocks;
  assert_int_equal(import_bytes(carv1_basic, sizeof carv1_basic, &ms, &roots, &blocks, 0), 0);
  assert_int_equal(blocks, 8);
  assert_int_equal(roots.len, 2);
  assert_cid_is(&roots.cids[0], "bafyreihyrpefhacm6kkp4ql6j6udakdit7g3dmkzfriqfykhjw6cad5lrm");
  assert_cid_is(&roots.cids[1], "bafyreidj5idub6mapiupjwjsyyxhyhedxycv4vihfsicm2vt46o7morwlm");
  /* Exporting the first root walks dag-cbor -> dag-pb -> raw in the fixture's
   * own order: our sections are the fixture's bytes 100..660 (all but "limbo"). */
  block_source_t src = memstore_source(&ms);
  buf_t car = {0};
  assert_int_equal(car_export(&src, &roots.cids[0], buf_write, &car), 0);
  layout_t l;
  layout_of(car.data, car.len, &l);
  assert_int_equal(l.len, 7);
  assert_int_equal(car.len - l.header_end, 660 - 100);
  assert_memory_equal(car.data + l.header_end, carv1_basic + 100, 560);
  /* the second root is a dag-cbor block with a null link: a leaf */
  buf_reset(&car);
  assert_int_equal(car_export(&src, &roots.cids[1], buf_write, &car), 0);
  layout_of(car.data, car.len, &l);
  assert_int_equal(l.len, 1);
  assert_memory_equal(car.data + l.header_end, carv1_basic + 660, 55);
  buf_free(&car);
  memstore_free(&ms);
}

static void test_fixture_carv2_basic(void **state) {
  (void)state;
  memstore_t ms = {0};
  roots_t roots;
  uint64_t blocks;
  assert_int_equal(import_bytes(carv2_basic, sizeof carv2_basic, &ms, &roots, &blocks, 0), 0);
  assert_int_equal(blocks, 5);
  assert_int_equal(roots.len, 1);
  assert_cid_is(&roots.cids[0], "QmfEoLyB5NndqeKieExd1rtJzTduQUPEV8TwAYcUiy3H5Z");
  /* the header facts: data offset 51, data size 448, index offset 499 */
  assert_memory_equal(carv2_basic, "\x0a\xa1\x67version\x02", 11);
  assert_int_equal(carv2_basic[11 + 16], 51);
  assert_int_equal(carv2_basic[11 + 24], 0xc0);
  assert_int_equal(carv2_basic[11 + 25], 0x01);
  assert_int_equal(carv2_basic[11 + 32], 0xf3);
  assert_int_equal(carv2_basic[11 + 33], 0x01);
  /* What the index really holds (the reference asked us to check): no
   * multicodec varint in this fixture; a uint32 LE bucket count (1), then per
   * bucket uint32 LE width 40 (32-byte digest + 8-byte offset) and a uint64 LE
   * that is the BYTE length of the entries (200 = 5 x 40), not an entry count;
   * the entries end exactly at the end of the file. */
  assert_memory_equal(carv2_basic + 499, "\x01\x00\x00\x00\x28\x00\x00\x00\xc8\x00\x00\x00\x00\x00\x00\x00", 16);
  assert_int_equal(499 + 16 + 200, sizeof carv2_basic);
  /* the first entry: lobster's digest (a2e1c40d...) at payload offset 404 = 455 - 51 */
  assert_int_equal(carv2_basic[515], 0xa2);
  assert_int_equal(carv2_basic[515 + 32], 0x94);
  assert_int_equal(carv2_basic[515 + 33], 0x01);
  /* our export of that root is the fixture's inner CARv1, byte for byte */
  block_source_t src = memstore_source(&ms);
  buf_t car = {0};
  assert_int_equal(car_export(&src, &roots.cids[0], buf_write, &car), 0);
  assert_int_equal(car.len, 448);
  assert_memory_equal(car.data, carv2_basic + 51, 448);
  buf_free(&car);
  memstore_free(&ms);
}

/* ---- CARv2 wrapping ---- */

static void put_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* pragma + header + pad zero bytes + v1 + tail bytes (an "index") */
static void wrap_v2(const buf_t *v1, size_t pad, uint64_t data_size, uint64_t index_offset,
                    const uint8_t *tail, size_t tail_len, buf_t *out) {
  buf_reset(out);
  buf_append(out, "\x0a\xa1\x67version\x02", 11);
  uint8_t h[40] = {0};
  put_le64(h + 16, 51 + pad);
  put_le64(h + 24, data_size);
  put_le64(h + 32, index_offset);
  buf_append(out, h, 40);
  for (size_t i = 0; i < pad; i++) buf_append_byte(out, 0);
  buf_append(out, v1->data, v1->len);
  buf_append(out, tail, tail_len);
}

static void test_v2_wrapping(void **state) {
  (void)state;
  memstore_t a = {0};
  dag_t d = build_dag(&a);
  block_source_t src = memstore_source(&a);
  buf_t v1 = {0}, v2 = {0};
  assert_int_equal(car_export(&src, &d.root, buf_write, &v1), 0);
  static const uint8_t junk_index[] = {0x80, 0x08, 0xde, 0xad};
  for (size_t pad = 0; pad < 3; pad++) {
    wrap_v2(&v1, pad, v1.len, 51 + pad + v1.len, junk_index, sizeof junk_index, &v2);
    memstore_t b = {0};
    roots_t roots;
    uint64_t blocks;
    assert_int_equal(import_bytes(v2.data, v2.len, &b, &roots, &blocks, pad == 1 ? 3 : 0), 0);
    assert_int_equal(blocks, 6);
    assert_true(cid_equal(&roots.cids[0], &d.root));
    memstore_free(&b);
  }
  layout_t l;
  layout_of(v1.data, v1.len, &l);
  memstore_t b = {0};
  /* no index */
  wrap_v2(&v1, 0, v1.len, 0, NULL, 0, &v2);
  assert_int_equal(import_bytes(v2.data, v2.len, &b, NULL, NULL, 0), 0);
  /* data size ending on a section boundary: fewer blocks, fine */
  wrap_v2(&v1, 0, l.starts[3], 0, NULL, 0, &v2);
  uint64_t blocks;
  assert_int_equal(import_bytes(v2.data, v2.len, &b, NULL, &blocks, 0), 0);
  assert_int_equal(blocks, 3);
  /* data size ending inside a section */
  wrap_v2(&v1, 0, l.starts[3] + 2, 0, NULL, 0, &v2);
  assert_int_equal(import_bytes(v2.data, v2.len, &b, NULL, NULL, 0), -EINVAL);
  /* data size ending inside the inner header */
  wrap_v2(&v1, 0, 10, 0, NULL, 0, &v2);
  assert_int_equal(import_bytes(v2.data, v2.len, &b, NULL, NULL, 0), -EINVAL);
  /* data size past the end of the input */
  wrap_v2(&v1, 0, v1.len + 1, 0, NULL, 0, &v2);
  assert_int_equal(import_bytes(v2.data, v2.len, &b, NULL, NULL, 0), -EINVAL);
  /* zero data size */
  wrap_v2(&v1, 0, 0, 0, NULL, 0, &v2);
  assert_int_equal(import_bytes(v2.data, v2.len, &b, NULL, NULL, 0), -EINVAL);
  /* index overlapping the data */
  wrap_v2(&v1, 0, v1.len, 51 + v1.len - 1, NULL, 0, &v2);
  assert_int_equal(import_bytes(v2.data, v2.len, &b, NULL, NULL, 0), -EINVAL);
  /* data offset inside the v2 header */
  wrap_v2(&v1, 0, v1.len, 0, NULL, 0, &v2);
  put_le64(v2.data + 11 + 16, 50);
  assert_int_equal(import_bytes(v2.data, v2.len, &b, NULL, NULL, 0), -EINVAL);
  /* data offset + size overflowing */
  wrap_v2(&v1, 0, UINT64_MAX - 10, 0, NULL, 0, &v2);
  assert_int_equal(import_bytes(v2.data, v2.len, &b, NULL, NULL, 0), -EINVAL);
  /* the v2 header cut short */
  wrap_v2(&v1, 0, v1.len, 0, NULL, 0, &v2);
  assert_int_equal(import_bytes(v2.data, 30, &b, NULL, NULL, 0), -EINVAL);
  /* a v2 inside a v2 */
  buf_t nested = {0};
  wrap_v2(&v1, 0, v1.len, 0, NULL, 0, &nested);
  wrap_v2(&nested, 0, nested.len, 0, NULL, 0, &v2);
  assert_int_equal(import_bytes(v2.data, v2.len, &b, NULL, NULL, 0), -EINVAL);
  buf_free(&nested);
  memstore_free(&b);
  buf_free(&v1);
  buf_free(&v2);
  memstore_free(&a);
}

/* ---- import errors ---- */

static void expect_import(const uint8_t *data, size_t len, int code) {
  memstore_t ms = {0};
  err_clear();
  int rc = import_bytes(data, len, &ms, NULL, NULL, 0);
  assert_int_equal(rc, code);
  if (code) assert_string_not_equal(err_msg(rc), strerror(-code));
  memstore_free(&ms);
}

/* A CARv1 with the given header bytes and one valid raw section. */
static void car_with_header(const void *header, size_t header_len, buf_t *out) {
  buf_reset(out);
  buf_append_varint(out, header_len);
  buf_append(out, header, header_len);
  cid_t c;
  assert_int_equal(cid_make(&c, 1, CODEC_RAW, MH_SHA2_256, "abc", 3), 0);
  uint8_t cb[CID_BYTES_MAX];
  size_t n = cid_to_bytes(&c, cb);
  buf_append_varint(out, n + 3);
  buf_append(out, cb, n);
  buf_append(out, "abc", 3);
}

#define ROOT_CBOR "\xd8\x2a\x58\x25\x00\x01\x55\x12\x20" \
  "\xba\x78\x16\xbf\x8f\x01\xcf\xea\x41\x41\x40\xde\x5d\xae\x22\x23" \
  "\xb0\x03\x61\xa3\x96\x17\x7a\x9c\xb4\x10\xff\x61\xf2\x00\x15\xad"

static void header_case(const char *h, size_t len, int code) {
  buf_t car = {0};
  car_with_header(h, len, &car);
  expect_import(car.data, car.len, code);
  buf_free(&car);
}
#define HEADER(lit, code) header_case(lit, sizeof lit - 1, code)

static void test_bad_headers(void **state) {
  (void)state;
  /* the well-formed baseline, and zero roots (accepted like the JS reader) */
  HEADER("\xa2\x65roots\x81" ROOT_CBOR "\x67version\x01", 0);
  HEADER("\xa2\x65roots\x80\x67version\x01", 0);
  HEADER("\x82\x01\x02", -EINVAL);                                     /* not a map */
  HEADER("\xbf\x65roots\x80\x67version\x01\xff", -EINVAL);             /* indefinite map */
  HEADER("\xa0", -EINVAL);                                             /* empty map */
  HEADER("\xa3\x65roots\x80\x67version\x01\x61x\x01", -EINVAL);        /* three entries */
  HEADER("\xa2\x67version\x01\x65roots\x80", -EINVAL);                 /* key order */
  HEADER("\xa2\x65roots\x80\x65roots\x80", -EINVAL);                   /* duplicate key */
  HEADER("\xa2\x65roots\x80\x66versio\x01", -EINVAL);                  /* unknown key */
  HEADER("\xa2\x45roots\x80\x67version\x01", -EINVAL);                 /* key as bytes */
  HEADER("\xa2\x78\x05roots\x80\x67version\x01", -EINVAL);             /* non-minimal key */
  HEADER("\xa2\x65roots\x80\x67version\x18\x01", -EINVAL);             /* non-minimal version */
  HEADER("\xa2\x65roots\x80\x67version\x20", -EINVAL);                 /* negative version */
  HEADER("\xa2\x65roots\x80\x67version\x03", -EINVAL);                 /* version 3 */
  HEADER("\xa2\x65roots\x80\x67version\x00", -EINVAL);                 /* version 0 */
  HEADER("\xa1\x65roots\x80", -EINVAL);                                /* no version */
  HEADER("\xa1\x67version\x01", -EINVAL);                              /* v1 without roots */
  HEADER("\xa2\x65roots\x80\x67version\x02", -EINVAL);                 /* v2 pragma with roots */
  HEADER("\xa2\x65roots\xa0\x67version\x01", -EINVAL);                 /* roots not an array */
  HEADER("\xa2\x65roots\x9f\xff\x67version\x01", -EINVAL);             /* indefinite roots */
  HEADER("\xa2\x65roots\x98\x00\x67version\x01", -EINVAL);             /* non-minimal array */
  HEADER("\xa2\x65roots\x81\x58\x25\x00\x01\x55\x12\x20"
         "\xba\x78\x16\xbf\x8f\x01\xcf\xea\x41\x41\x40\xde\x5d\xae\x22\x23"
         "\xb0\x03\x61\xa3\x96\x17\x7a\x9c\xb4\x10\xff\x61\xf2\x00\x15\xad"
         "\x67version\x01", -EINVAL);                                  /* root without tag */
  HEADER("\xa2\x65roots\x81\xd8\x2b\x41\x00\x67version\x01", -EINVAL); /* tag 43 */
  HEADER("\xa2\x65roots\x81\xd8\x2a\x44\x01\x55\x00\x00\x67version\x01", -EINVAL); /* no 00 prefix */
  HEADER("\xa2\x65roots\x81\xd8\x2a\x45\x00\x01\x55\x00\x01\x67version\x01", -EINVAL); /* short CID */
  HEADER("\xa2\x65roots\x81\xd8\x2a\x46\x00\x01\x55\x00\x00\x00\x67version\x01", -EINVAL); /* extra byte */
  HEADER("\xa2\x65roots\x81\xd8\x2a\x65\x00\x01\x55\x00\x00\x67version\x01", -EINVAL); /* text, not bytes */
  HEADER("\xa2\x65roots\x81\xd8\x2a\x45\x00\x01\x55\x00\x00\x67version\x01\x00", -EINVAL); /* trailing */
  HEADER("\xa2\x65roots\x81\xd8\x2a\x45\x00\x01\x55\x00\x00\x67version", -EINVAL); /* truncated */
  /* an identity root: bafkqaaa */
  HEADER("\xa2\x65roots\x81\xd8\x2a\x45\x00\x01\x55\x00\x00\x67version\x01", 0);

  /* too many roots: declared, and refused before any allocation for them */
  HEADER("\xa2\x65roots\x99\x04\x01\x67version\x01", -E2BIG);
  HEADER("\xa2\x65roots\x9b\xff\xff\xff\xff\xff\xff\xff\xff", -E2BIG);

  /* framing of the header itself */
  expect_import((const uint8_t *)"", 0, -EINVAL);           /* empty */
  expect_import((const uint8_t *)"\x00", 1, -EINVAL);       /* length 0 */
  expect_import((const uint8_t *)"\x80", 1, -EINVAL);       /* truncated varint */
  expect_import((const uint8_t *)"\x80\x00", 2, -EINVAL);   /* non-minimal varint */
  expect_import((const uint8_t *)"\x32\xa2\x65", 3, -EINVAL); /* truncated header */
  expect_import((const uint8_t *)"\x81\x80\x40", 3, -E2BIG);  /* 1 MiB + 1 */
  expect_import((const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 9, -E2BIG);
  expect_import((const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10, -EINVAL); /* > 9 bytes */
}

static void test_bad_sections(void **state) {
  (void)state;
  memstore_t a = {0};
  cid_t c = put(&a, 1, CODEC_RAW, "hello", 5);
  block_source_t src = memstore_source(&a);
  buf_t car = {0};
  assert_int_equal(car_export(&src, &c, buf_write, &car), 0);
  layout_t l;
  layout_of(car.data, car.len, &l);
  size_t hs = l.header_end;
  buf_t bad = {0};

  /* block not matching its CID */
  buf_append(&bad, car.data, car.len);
  bad.data[bad.len - 1] ^= 1;
  expect_import(bad.data, bad.len, -EINVAL);

  /* zero-length section */
  buf_reset(&bad);
  buf_append(&bad, car.data, hs);
  buf_append_byte(&bad, 0x00);
  expect_import(bad.data, bad.len, -EINVAL);

  /* non-minimal section length */
  buf_reset(&bad);
  buf_append(&bad, car.data, hs);
  uint8_t nm[2] = {(uint8_t)(0x80 | car.data[hs]), 0x00};
  buf_append(&bad, nm, 2);
  buf_append(&bad, car.data + hs + 1, car.len - hs - 1);
  expect_import(bad.data, bad.len, -EINVAL);

  /* oversize section: refused from its length alone */
  buf_reset(&bad);
  buf_append(&bad, car.data, hs);
  buf_append_varint(&bad, (uint64_t)CID_BYTES_MAX + BLOCK_BYTES_MAX + 1);
  expect_import(bad.data, bad.len, -E2BIG);
  buf_reset(&bad);
  buf_append(&bad, car.data, hs);
  buf_append_varint(&bad, VARINT_VALUE_MAX);
  expect_import(bad.data, bad.len, -E2BIG);

  /* a block over BLOCK_BYTES_MAX inside a section that is not */
  buf_reset(&bad);
  buf_append(&bad, car.data, hs);
  buf_append_varint(&bad, 4 + (uint64_t)BLOCK_BYTES_MAX + 1);
  buf_append(&bad, "\x01\x55\x00\x00", 4); /* identity CID, claims empty */
  uint8_t *zeros = calloc(BLOCK_BYTES_MAX + 1, 1);
  buf_append(&bad, zeros, BLOCK_BYTES_MAX + 1);
  free(zeros);
  expect_import(bad.data, bad.len, -E2BIG);

  /* a section whose CID does not parse; one that is only part of a CID */
  buf_reset(&bad);
  buf_append(&bad, car.data, hs);
  buf_append(&bad, "\x03\x02\x55\x00", 4);
  expect_import(bad.data, bad.len, -EINVAL);
  buf_reset(&bad);
  buf_append(&bad, car.data, hs);
  buf_append(&bad, "\x03\x01\x55\x12", 4);
  expect_import(bad.data, bad.len, -EINVAL);

  /* identity sections: verified, not stored */
  buf_reset(&bad);
  buf_append(&bad, car.data, hs);
  buf_append(&bad, "\x0a\x01\x55\x00\x03" "abcabc", 11);
  memstore_t b = {0};
  uint64_t blocks = 7;
  assert_int_equal(import_bytes(bad.data, bad.len, &b, NULL, &blocks, 0), 0);
  assert_int_equal(blocks, 0);
  assert_int_equal(b.puts, 0);
  bad.data[bad.len - 1] = 'x';
  expect_import(bad.data, bad.len, -EINVAL);

  /* a hash function we cannot verify (sha2-512) */
  buf_reset(&bad);
  buf_append(&bad, car.data, hs);
  uint8_t sha512[4 + 64 + 1] = {0x01, 0x55, 0x13, 0x40};
  buf_append_varint(&bad, sizeof sha512);
  buf_append(&bad, sha512, sizeof sha512);
  expect_import(bad.data, bad.len, -ENOTSUP);

  /* a block after a good one: the good one stays, the count says so */
  buf_reset(&bad);
  buf_append(&bad, car.data, car.len);
  buf_append(&bad, car.data + hs, car.len - hs);
  bad.data[bad.len - 1] ^= 1;
  memstore_t s = {0};
  assert_int_equal(import_bytes(bad.data, bad.len, &s, NULL, &blocks, 0), -EINVAL);
  assert_int_equal(blocks, 1);
  assert_int_equal(s.len, 1);
  memstore_free(&s);

  memstore_free(&b);
  buf_free(&bad);
  buf_free(&car);
  memstore_free(&a);
}

static int refusing_put(void *ctx, const cid_t *cid, const uint8_t *data, size_t len) {
  (void)ctx; (void)cid; (void)data; (void)len;
  return -ENOSPC;
}

static void test_callback_errors(void **state) {
  (void)state;
  memstore_t a = {0};
  dag_t d = build_dag(&a);
  block_source_t src = memstore_source(&a);
  buf_t car = {0};
  assert_int_equal(car_export(&src, &d.root, buf_write, &car), 0);
  /* read errors surface as they are */
  for (int at = 0; at < (int)car.len; at += 13) {
    mem_reader_t r = {.data = car.data, .len = car.len, .chunk = 5, .fail_at = at};
    memstore_t b = {0};
    block_sink_t sink = memstore_sink(&b);
    assert_int_equal(car_import(mem_read, &r, &sink, NULL, NULL, NULL), -EIO);
    memstore_free(&b);
  }
  /* sink errors too */
  mem_reader_t r = {.data = car.data, .len = car.len, .fail_at = -1};
  block_sink_t sink = {refusing_put, NULL};
  uint64_t blocks = 5;
  assert_int_equal(car_import(mem_read, &r, &sink, NULL, NULL, &blocks), -ENOSPC);
  assert_int_equal(blocks, 0);
  buf_free(&car);
  memstore_free(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_export_import_round_trip),
      cmocka_unit_test(test_export_identity_root_and_errors),
      cmocka_unit_test(test_export_write_error_and_depth),
      cmocka_unit_test(test_fixture_carv1_basic),
      cmocka_unit_test(test_fixture_carv2_basic),
      cmocka_unit_test(test_v2_wrapping),
      cmocka_unit_test(test_bad_headers),
      cmocka_unit_test(test_bad_sections),
      cmocka_unit_test(test_callback_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
