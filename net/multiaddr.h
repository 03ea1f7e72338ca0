/*
 * multiaddr: self-describing network addresses (multiformats/multiaddr).
 * Binary = concatenation of varint(protocol code) ‖ value; text =
 * "/proto/value/...".  Understood: ip4 ip6 tcp udp dns dns4 dns6 dnsaddr p2p
 * (alias ipfs) quic quic-v1 webtransport certhash ws wss tls sni p2p-circuit.
 * Unknown protocol codes or names fail with -EINVAL (we can't know their
 * value sizes); every length is bounded by MA_BYTES_MAX.
 *
 * Only /ip4|ip6/.../tcp/N[/p2p/ID] can be dialed by this node (ma_to_sockaddr).
 */
#ifndef ANYA_NET_MULTIADDR_H
#define ANYA_NET_MULTIADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "peer.h"

#define MA_BYTES_MAX 256
/* Text bound (NUL included): every valid binary address formats within it
 * (worst case 128 two-byte components such as /webtransport, 13 characters each). */
#define MA_TEXT_BYTES_MAX 2048

typedef struct multiaddr {
  uint8_t bytes[MA_BYTES_MAX];
  uint16_t len;
} multiaddr_t;

/* Text to binary.  -EINVAL (unknown protocol, bad value, too long). */
int ma_parse(const char *text, multiaddr_t *out);
/* Binary (checked fully) into out.  -EINVAL. */
int ma_from_bytes(const uint8_t *in, size_t len, multiaddr_t *out);
/* Binary to text.  -EINVAL for a malformed address. */
int ma_format(const multiaddr_t *ma, char out[MA_TEXT_BYTES_MAX]);

/* The trailing /p2p/<id>, if any: 0 and *id, or -ENOENT. */
int ma_peer_id(const multiaddr_t *ma, peer_id_t *id);
/* ma without a trailing /p2p/<id> (a copy; ma itself when it has none). */
void ma_without_peer(const multiaddr_t *ma, multiaddr_t *out);
/* ma with /p2p/<id> appended (after removing any there).  -E2BIG. */
int ma_with_peer(const multiaddr_t *ma, const peer_id_t *id, multiaddr_t *out);

/* /ip4|ip6/A/tcp/P[/p2p/..] to a sockaddr (sockaddr_in or sockaddr_in6).
 * -EAFNOSUPPORT for anything else. */
int ma_to_sockaddr(const multiaddr_t *ma, struct sockaddr_storage *out, socklen_t *len);
/* The /ip4|ip6/A/tcp/P of a sockaddr. */
int ma_from_sockaddr(const struct sockaddr *sa, multiaddr_t *out);
/* True when the address is loopback, private (RFC 1918, fc00::/7) or link-local. */
bool ma_is_private(const multiaddr_t *ma);
bool ma_equal(const multiaddr_t *a, const multiaddr_t *b);

#endif
