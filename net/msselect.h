/*
 * msselect: multistream-select 1.0 messages (multiformats/multistream-select).
 * Each message is varint(len) ‖ text ‖ '\n', len counting the newline;
 * "/multistream/1.0.0" opens each side, a protocol id proposes, the same id
 * accepts, "na" refuses.  Sans-IO: the host (p2p.c) drives the exchange.
 */
#ifndef ANYA_NET_MSSELECT_H
#define ANYA_NET_MSSELECT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define MSS_HEADER "/multistream/1.0.0"
#define MSS_NA "na"
#define MSS_PROTOCOL_BYTES_MAX 1024 /* js-libp2p's limit on a protocol id */

/* Appends one message carrying text. -EINVAL for an empty, too long or
 * newline-containing text. */
int mss_encode(buf_t *out, const char *text);
/* Decodes one message from the front of in: > 0 bytes consumed with the text
 * (NUL-terminated, without '\n') in out; 0 more bytes needed; -EPROTO a
 * malformed message (no trailing newline, bad varint, longer than
 * MSS_PROTOCOL_BYTES_MAX + 1). */
int mss_decode(const uint8_t *in, size_t len, char out[MSS_PROTOCOL_BYTES_MAX + 1]);

#endif
