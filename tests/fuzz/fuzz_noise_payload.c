/*
 * fuzz_noise_payload: noise_payload_check over arbitrary bytes, with the
 * remote static key fixed at 32 bytes of 0x07 (the seed corpus holds payloads
 * signed over it, so mutations reach the signature and extension paths).
 * Properties: only the documented codes; on success the peer ID is valid and
 * formats, and the muxer list is bounded with NUL-terminated short ids.
 * A violated property aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t remote_static[32];
  memset(remote_static, 0x07, sizeof remote_static);
  peer_id_t remote;
  char muxers[NOISE_MUXERS_MAX][64];
  size_t count = 12345;
  int rc = noise_payload_check(data, size, remote_static, &remote, muxers, &count);
  if (rc == 0) {
    if (count > NOISE_MUXERS_MAX) abort();
    for (size_t i = 0; i < count; i++) {
      size_t len = strnlen(muxers[i], 64);
      if (len == 0 || len >= 64) abort();
    }
    char text[PEER_ID_TEXT_BYTES_MAX];
    if (peer_id_format(&remote, text) != 0) abort();
    peer_id_t again;
    if (peer_id_from_bytes(remote.bytes, remote.len, &again) != 0) abort();
  } else if (rc != -EBADMSG && rc != -EACCES && rc != -ENOTSUP) {
    abort();
  } else if (count != 0) {
    abort();
  }
  return 0;
}
