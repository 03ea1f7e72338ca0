/*
 * noise: the libp2p Noise handshake (Noise_XX_25519_ChaChaPoly_SHA256, empty
 * prologue) and the transport ciphers after it, on OpenSSL (X25519,
 * ChaCha20-Poly1305, SHA-256, HKDF by HMAC).  Sans-IO: the host moves the
 * bytes; this module only turns messages into messages.
 *
 *   XX:  -> e
 *        <- e, ee, s, es, payload
 *        -> s, se, payload
 *
 * The payload (net/proto/noise.proto NoiseHandshakePayload) carries our
 * PublicKey protobuf and the signature of "noise-libp2p-static-key:" ‖ our
 * static X25519 public key; extensions (stream_muxers) go in messages 2 and
 * 3 only.  The remote's payload is verified (peer.h) and gives its peer ID;
 * when the dialer expects a peer ID, a different one fails the handshake.
 * Static X25519 keys are fresh per handshake, never stored.
 *
 * Wire framing (done by the host, not here): uint16 big-endian length ‖
 * message, ≤ NOISE_MSG_BYTES_MAX, so ≤ NOISE_PLAINTEXT_BYTES_MAX plaintext
 * bytes a transport frame.
 */
#ifndef ANYA_NET_NOISE_H
#define ANYA_NET_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "peer.h"

#define NOISE_PROTOCOL "/noise"
#define NOISE_MSG_BYTES_MAX 65535
#define NOISE_TAG_BYTES 16
#define NOISE_PLAINTEXT_BYTES_MAX (NOISE_MSG_BYTES_MAX - NOISE_TAG_BYTES)
#define NOISE_MUXERS_MAX 8

typedef struct noise_hs noise_hs_t;
typedef struct noise_cipher noise_cipher_t; /* one direction's CipherState; owns an EVP context */

/* A handshake as initiator (dialer) or responder.  muxers: the stream muxers
 * we offer in the extensions, in preference order (e.g. {"/yamux/1.0.0"}),
 * may be empty.  expected: the peer ID the dialer wants, or NULL. */
int noise_hs_new(bool initiator, const peer_key_t *identity, const char *const *muxers, size_t muxer_count,
                 const peer_id_t *expected, noise_hs_t **out);
void noise_hs_free(noise_hs_t *hs);
/* True when the next message is ours to write. */
bool noise_hs_my_turn(const noise_hs_t *hs);
/* True after all three messages. */
bool noise_hs_done(const noise_hs_t *hs);
/* Appends our next handshake message (without the length prefix).  -EPROTO out of turn. */
int noise_hs_write(noise_hs_t *hs, buf_t *out);
/* Reads the remote's next handshake message (without the length prefix).
 * -EBADMSG undecryptable or malformed payload, -EACCES bad identity
 * signature or an unexpected peer ID, -ENOTSUP a key type we can't verify,
 * -EPROTO out of turn.  Each failure sets an err_set message. */
int noise_hs_read(noise_hs_t *hs, const uint8_t *msg, size_t len);
/* After noise_hs_done: the two transport ciphers (caller frees), the remote
 * peer ID, and the muxer chosen inside Noise ("" when the extension was
 * absent on either side or nothing overlaps: then the host falls back to
 * multistream-select of /yamux/1.0.0). */
int noise_hs_finish(noise_hs_t *hs, noise_cipher_t **send, noise_cipher_t **recv, peer_id_t *remote,
                    char muxer[64]);

/* Encrypts len ≤ NOISE_PLAINTEXT_BYTES_MAX bytes and appends one whole wire
 * frame (length ‖ ciphertext ‖ tag) to out. -E2BIG, -EOVERFLOW at nonce 2^64-1. */
int noise_encrypt_frame(noise_cipher_t *c, const uint8_t *plaintext, size_t len, buf_t *out);
/* The same frame written at out, which has room for NOISE_FRAME_BYTES(len)
 * bytes: returns that count, or -E2BIG, -EOVERFLOW. */
#define NOISE_FRAME_BYTES(len) (2 + (len) + NOISE_TAG_BYTES)
int noise_encrypt_frame_to(noise_cipher_t *c, const uint8_t *plaintext, size_t len, uint8_t *out);
/* Decrypts one frame body (ciphertext ‖ tag, without the length) into out
 * (may equal in); returns the plaintext length or -EBADMSG. */
int noise_decrypt(noise_cipher_t *c, const uint8_t *in, size_t len, uint8_t *out);
void noise_cipher_free(noise_cipher_t *c);

/* The handshake payload codec, exposed for its fuzz target: decodes and
 * verifies a payload against the remote static key. */
int noise_payload_check(const uint8_t *payload, size_t len, const uint8_t remote_static[32], peer_id_t *remote,
                        char muxers[NOISE_MUXERS_MAX][64], size_t *muxer_count);

#endif
