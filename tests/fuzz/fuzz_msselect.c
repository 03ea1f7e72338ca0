/*
 * fuzz_msselect: mss_decode over arbitrary bytes read as a stream of
 * messages (as the host reads a connection).  Properties: a decoded message
 * re-encodes to exactly the bytes consumed; 0 only for a proper prefix of a
 * message within the limit; a negative result is -EPROTO.  A violated
 * property aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "msselect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t pos = 0;
  buf_t again = {0};
  char text[MSS_PROTOCOL_BYTES_MAX + 1];
  for (int i = 0; i < 4096 && pos <= size; i++) {
    int rc = mss_decode(data + pos, size - pos, text);
    if (rc == 0) {
      /* every longer input completing it must decode or fail, never ask for more forever:
       * appending MSS_PROTOCOL_BYTES_MAX + 11 newlines must settle it */
      size_t rest = size - pos;
      size_t padded_len = rest + MSS_PROTOCOL_BYTES_MAX + 11;
      uint8_t *padded = malloc(padded_len);
      if (!padded) abort();
      memcpy(padded, data + pos, rest);
      memset(padded + rest, '\n', padded_len - rest);
      if (mss_decode(padded, padded_len, text) == 0) abort();
      free(padded);
      break;
    }
    if (rc < 0) {
      if (rc != -EPROTO) abort();
      break;
    }
    size_t n = strlen(text);
    buf_reset(&again);
    if (n == 0) {
      if (rc != 2 || data[pos] != 1 || data[pos + 1] != '\n') abort();
    } else {
      if (mss_encode(&again, text) != 0) abort();
      if (again.len != (size_t)rc || memcmp(again.data, data + pos, again.len) != 0) abort();
    }
    pos += (size_t)rc;
  }
  buf_free(&again);
  return 0;
}
