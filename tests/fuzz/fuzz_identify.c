/*
 * fuzz_identify: identify_parse (net/p2p_peers.c) over arbitrary bytes, as
 * the host reads a peer's /ipfs/id/1.0.0 answer or push.  Properties: the
 * result is 0 or -EPROTO; on success every field is within its bounds
 * (NUL-terminated strings, counts within the arrays, each address a
 * multiaddr that formats); on failure nothing is marked identified.  The
 * peer is the Ed25519 test key (seed of zeros), so a publicKey field decides
 * between match and mismatch.  A violated property aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "p2p_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static peer_key_t key;
  static int have_key;
  if (!have_key) {
    uint8_t seed[PEER_ED25519_BYTES] = {0};
    if (peer_key_from_seed(seed, &key) != 0) abort();
    have_key = 1;
  }
  p2p_peer_info_t *info = malloc(sizeof *info);
  if (!info) abort();
  unsigned present = 0;
  int rc = identify_parse(data, size, &key.id, info, &present);
  if (rc != 0 && rc != -EPROTO) abort();
  if (rc != 0 && info->identified) abort();
  if (rc == 0) {
    if (!info->identified || !peer_id_equal(&info->id, &key.id)) abort();
    if (info->addr_count > P2P_ADDRS_MAX || info->protocol_count > P2P_PROTOCOLS_MAX) abort();
    if (!memchr(info->agent, 0, sizeof info->agent) || !memchr(info->protocol_version, 0, sizeof info->protocol_version))
      abort();
    for (size_t i = 0; i < info->protocol_count; i++)
      if (!memchr(info->protocols[i], 0, sizeof info->protocols[i])) abort();
    char text[MA_TEXT_BYTES_MAX];
    for (size_t i = 0; i < info->addr_count; i++)
      if (ma_format(&info->addrs[i], text) != 0) abort();
    if (present & ~(IDENTIFY_HAS_AGENT | IDENTIFY_HAS_PROTOCOL_VERSION | IDENTIFY_HAS_PROTOCOLS)) abort();
  }
  free(info);
  return 0;
}
