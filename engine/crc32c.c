/*
 * crc32c: software slicing-by-8 plus an SSE4.2 path that runs three
 * independent crc32 streams over adjacent 4 KiB stripes (the instruction has
 * a 3-cycle latency and 1-cycle throughput) and joins them with a
 * precomputed "advance by one stripe" operator.  Everything here works on the
 * raw (non-inverted) register; crc32c() applies the pre/post inversion.
 */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define CRC32C_X86 1
#endif

#define CRC32C_POLY 0x82F63B78u
#define CRC32C_STRIPE_BYTES 4096u /* per stream, per round of the 3-way loop */

static uint32_t crc32c_table[8][256];  /* slicing-by-8 tables */
static uint32_t crc32c_shift[4][256];  /* raw state -> state after STRIPE zero bytes, per byte */
static bool crc32c_hw;                 /* SSE4.2 present */
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static uint32_t sw_raw(uint32_t crc, const uint8_t *p, size_t len) {
  while (len && ((uintptr_t)p & 7)) {
    crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    len--;
  }
  while (len >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    uint32_t lo = (uint32_t)v ^ crc, hi = (uint32_t)(v >> 32);
    crc = crc32c_table[7][lo & 0xff] ^ crc32c_table[6][(lo >> 8) & 0xff] ^
          crc32c_table[5][(lo >> 16) & 0xff] ^ crc32c_table[4][lo >> 24] ^
          crc32c_table[3][hi & 0xff] ^ crc32c_table[2][(hi >> 8) & 0xff] ^
          crc32c_table[1][(hi >> 16) & 0xff] ^ crc32c_table[0][hi >> 24];
    p += 8;
    len -= 8;
  }
  while (len--) crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return crc;
}

/* Advances the raw register over `len` zero bytes, one bit at a time (init only). */
static uint32_t zeros_raw(uint32_t crc, size_t len) {
  for (size_t i = 0; i < len * 8; i++) crc = (crc >> 1) ^ (CRC32C_POLY & (0u - (crc & 1)));
  return crc;
}

static uint32_t shift_stripe(uint32_t crc) {
  return crc32c_shift[0][crc & 0xff] ^ crc32c_shift[1][(crc >> 8) & 0xff] ^
         crc32c_shift[2][(crc >> 16) & 0xff] ^ crc32c_shift[3][crc >> 24];
}

static void crc32c_init(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1)));
    crc32c_table[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++)
    for (int t = 1; t < 8; t++)
      crc32c_table[t][n] = (crc32c_table[t - 1][n] >> 8) ^ crc32c_table[0][crc32c_table[t - 1][n] & 0xff];
  /* The zero-advance operator is linear: build it from its 32 basis images. */
  uint32_t basis[32];
  for (int bit = 0; bit < 32; bit++) basis[bit] = zeros_raw(1u << bit, CRC32C_STRIPE_BYTES);
  for (int byte = 0; byte < 4; byte++)
    for (uint32_t n = 0; n < 256; n++) {
      uint32_t image = 0;
      for (int bit = 0; bit < 8; bit++)
        if (n & (1u << bit)) image ^= basis[byte * 8 + bit];
      crc32c_shift[byte][n] = image;
    }
#if CRC32C_X86
  __builtin_cpu_init();
  crc32c_hw = __builtin_cpu_supports("sse4.2");
#endif
}

#if CRC32C_X86
__attribute__((target("sse4.2"))) static uint32_t hw_raw(uint32_t crc, const uint8_t *p, size_t len) {
  while (len && ((uintptr_t)p & 7)) {
    crc = _mm_crc32_u8(crc, *p++);
    len--;
  }
  uint64_t c0 = crc;
  while (len >= 3 * CRC32C_STRIPE_BYTES) {
    const uint8_t *a = p, *b = p + CRC32C_STRIPE_BYTES, *c = p + 2 * CRC32C_STRIPE_BYTES;
    uint64_t c1 = 0, c2 = 0;
    for (size_t i = 0; i < CRC32C_STRIPE_BYTES; i += 8) {
      uint64_t va, vb, vc;
      memcpy(&va, a + i, 8);
      memcpy(&vb, b + i, 8);
      memcpy(&vc, c + i, 8);
      c0 = _mm_crc32_u64(c0, va);
      c1 = _mm_crc32_u64(c1, vb);
      c2 = _mm_crc32_u64(c2, vc);
    }
    /* state(A||B||C) = S(S(a) ^ b) ^ c, S = advance over one stripe of zeros */
    c0 = shift_stripe(shift_stripe((uint32_t)c0) ^ (uint32_t)c1) ^ (uint32_t)c2;
    p += 3 * CRC32C_STRIPE_BYTES;
    len -= 3 * CRC32C_STRIPE_BYTES;
  }
  while (len >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c0 = _mm_crc32_u64(c0, v);
    p += 8;
    len -= 8;
  }
  crc = (uint32_t)c0;
  while (len--) crc = _mm_crc32_u8(crc, *p++);
  return crc;
}
#endif

uint32_t crc32c_sw(uint32_t crc, const void *data, size_t len) {
  pthread_once(&crc32c_once, crc32c_init);
  return ~sw_raw(~crc, data, len);
}

uint32_t crc32c(uint32_t crc, const void *data, size_t len) {
  pthread_once(&crc32c_once, crc32c_init);
#if CRC32C_X86
  if (crc32c_hw) return ~hw_raw(~crc, data, len);
#endif
  return ~sw_raw(~crc, data, len);
}

bool crc32c_hw_available(void) {
  pthread_once(&crc32c_once, crc32c_init);
  return crc32c_hw;
}
