/*
 * fuzz_peer_id: the input read as peer ID text, as multihash bytes and as a
 * PublicKey protobuf.  An accepted peer ID formats (base58btc and base36
 * CIDv1) to text that parses back to the same ID; an identity ID's inline key
 * gives back the same ID; a key that gives a peer ID gives a valid one, and
 * verifying a signature with it never crashes and answers only the
 * documented codes.  A violated property aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"

static void check_id(const peer_id_t *id) {
  if (id->len < 2 || id->len > PEER_ID_BYTES_MAX) abort();
  char text[PEER_ID_TEXT_BYTES_MAX];
  peer_id_t back;
  if (peer_id_format(id, text) != 0) abort();
  if (peer_id_parse(text, &back) != 0 || !peer_id_equal(&back, id)) abort();
  if (peer_id_format_base36(id, text) != 0) abort();
  if (text[0] != 'k') abort();
  if (peer_id_parse(text, &back) != 0 || !peer_id_equal(&back, id)) abort();
  const uint8_t *pb;
  size_t pb_len;
  int rc = peer_id_pubkey(id, &pb, &pb_len);
  if (rc == 0) {
    if (peer_id_from_pubkey(pb, pb_len, &back) != 0 || !peer_id_equal(&back, id)) abort();
  } else if (rc != -ENOENT || id->bytes[0] != 0x12) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  peer_id_t id;
  int rc = peer_id_from_bytes(data, size, &id);
  if (rc == 0) check_id(&id);
  else if (rc != -EINVAL) abort();

  if (size < PEER_ID_TEXT_BYTES_MAX + 8) {
    char text[PEER_ID_TEXT_BYTES_MAX + 8];
    memcpy(text, data, size);
    text[size] = '\0';
    rc = peer_id_parse(text, &id);
    if (rc == 0) check_id(&id);
    else if (rc != -EINVAL) abort();
  }

  rc = peer_id_from_pubkey(data, size, &id);
  if (rc == 0) {
    peer_id_t again;
    if (peer_id_from_bytes(id.bytes, id.len, &again) != 0 || !peer_id_equal(&again, &id)) abort();
    check_id(&id);
    static const uint8_t sig[64];
    rc = peer_verify(data, size, "m", 1, sig, sizeof sig);
    if (rc != -EBADMSG && rc != -ENOTSUP && rc != -EINVAL) abort();
  } else if (rc != -EINVAL) {
    abort();
  }
  return 0;
}
