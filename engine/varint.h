/*
 * varint: the multiformats unsigned varint (little-endian base-128, 7 bits a
 * byte, high bit = more follows).  Minimal encodings only, at most 9 bytes
 * (63 bits), as multiformats/unsigned-varint requires.  Used for multicodec
 * codes, multihash headers, CID versions and every length prefix (CAR).
 */
#ifndef ANYA_VARINT_H
#define ANYA_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define VARINT_BYTES_MAX 9
#define VARINT_VALUE_MAX ((UINT64_C(1) << 63) - 1)

/* Writes value (must be <= VARINT_VALUE_MAX) to out (>= VARINT_BYTES_MAX bytes);
 * returns the byte count (1..9). */
size_t varint_encode(uint64_t value, uint8_t *out);

/* The encoded size of value, 1..9. */
size_t varint_size(uint64_t value);

/* Decodes one varint from in[0..len).  On success stores the value and returns
 * the bytes consumed (1..9).  Errors: -EAGAIN truncated input (more bytes
 * could complete it), -EINVAL non-minimal or longer than 9 bytes. */
int varint_decode(const uint8_t *in, size_t len, uint64_t *value);

#endif
