/*
 * crc32c: the Castagnoli CRC (iSCSI polynomial 0x1EDC6F41, reflected 0x82F63B78)
 * that every segment record carries (docs/format.md).  Uses the SSE4.2 crc32
 * instruction (three interleaved streams) when the CPU has it, else a
 * slicing-by-8 table; both give identical results.
 *
 * crc32c(0, "123456789", 9) == 0xE3069283.  Incremental use:
 * crc = crc32c(crc32c(0, a, n), b, m) equals crc32c over a||b.
 */
#ifndef ANYA_CRC32C_H
#define ANYA_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) over data[0..len). */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

/* The portable table implementation (exposed so tests compare both paths). */
uint32_t crc32c_sw(uint32_t crc, const void *data, size_t len);

/* True when crc32c() uses the hardware instruction. */
bool crc32c_hw_available(void);

#endif
