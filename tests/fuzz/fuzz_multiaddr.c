/*
 * fuzz_multiaddr: the input read as a binary multiaddr and as text.
 *  - binary: an accepted address formats to text that parses back to the
 *    same bytes; the /p2p/ helpers agree (without_peer + with_peer restores a
 *    trailing peer ID); a dialable address converts to a sockaddr and back to
 *    the same sockaddr;
 *  - text: an accepted string formats and re-parses to the same bytes (the
 *    text may change: ipfs -> p2p, RFC 5952 ip6, base58btc peer IDs), and its
 *    formatted text is a fixed point.
 * A violated property aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "multiaddr.h"

static void check_sockaddr(const multiaddr_t *ma) {
  struct sockaddr_storage ss, ss2;
  socklen_t len = 0, len2 = 0;
  int rc = ma_to_sockaddr(ma, &ss, &len);
  if (rc == -EAFNOSUPPORT || rc == -EINVAL) return;
  if (rc != 0) abort();
  multiaddr_t back;
  if (ma_from_sockaddr((struct sockaddr *)&ss, &back) != 0) abort();
  if (ma_to_sockaddr(&back, &ss2, &len2) != 0) abort();
  /* a v4-mapped ip6 comes back as ip4, so compare the family-independent parts only when equal families */
  if (len == len2 && memcmp(&ss, &ss2, len) != 0) abort();
}

static void check_valid(const multiaddr_t *ma) {
  char text[MA_TEXT_BYTES_MAX];
  if (ma_format(ma, text) != 0) abort();
  if (strlen(text) == 0 || text[0] != '/') abort();
  multiaddr_t back;
  if (ma_parse(text, &back) != 0) abort();
  if (!ma_equal(&back, ma)) abort();
  char again[MA_TEXT_BYTES_MAX];
  if (ma_format(&back, again) != 0 || strcmp(again, text) != 0) abort();
  peer_id_t id;
  multiaddr_t bare, with;
  ma_without_peer(ma, &bare);
  if (bare.len > ma->len) abort();
  if (ma_peer_id(ma, &id) == 0) {
    if (bare.len >= ma->len) abort();
    /* replacing the peer ID with itself changes nothing */
    if (ma_with_peer(ma, &id, &with) != 0 || !ma_equal(&with, ma)) abort();
    peer_id_t inner;
    if (ma_peer_id(&bare, &inner) != 0) { /* unless bare still ends in /p2p/ (a doubled /p2p/) */
      if (ma_with_peer(&bare, &id, &with) != 0 || !ma_equal(&with, ma)) abort();
    }
  } else if (!ma_equal(&bare, ma)) {
    abort();
  }
  if (bare.len > 0 && ma_from_bytes(bare.bytes, bare.len, &with) != 0) abort();
  (void)ma_is_private(ma);
  check_sockaddr(ma);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  multiaddr_t ma;
  int rc = ma_from_bytes(data, size, &ma);
  if (rc == 0) check_valid(&ma);
  else if (rc != -EINVAL) abort();

  if (size < MA_TEXT_BYTES_MAX + 8) {
    char text[MA_TEXT_BYTES_MAX + 8];
    memcpy(text, data, size);
    text[size] = '\0';
    rc = ma_parse(text, &ma);
    if (rc == 0) check_valid(&ma);
    else if (rc != -EINVAL) abort();
  }
  return 0;
}
