/*
 * Fuzz target: links_of over arbitrary bytes as dag-cbor and as dag-pb.
 * Properties: no crash; on success every link is a CID that round-trips
 * through its binary form, and a dag-cbor scan never yields more links than
 * the block could hold (a link takes at least 5 bytes).
 */
#include <stdint.h>
#include <stdlib.h>

#include "links.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint64_t codecs[] = {CODEC_DAG_CBOR, CODEC_DAG_PB};
  buf_t links = {0};
  for (size_t k = 0; k < 2; k++) {
    cid_t parent = {.version = 1, .codec = codecs[k], .hash = {.code = MH_SHA2_256, .digest_len = 32}};
    if (links_of(&parent, data, size, &links) != 0) continue;
    size_t n = links.len / sizeof(cid_t);
    if (n > size / 5 + 1) abort();
    for (size_t i = 0; i < n; i++) {
      const cid_t *c = (const cid_t *)links.data + i;
      uint8_t bytes[CID_BYTES_MAX];
      size_t len = cid_to_bytes(c, bytes);
      cid_t back;
      if (cid_from_bytes(&back, bytes, len) != (int)len || !cid_equal(&back, c)) abort();
    }
  }
  buf_free(&links);
  return 0;
}
