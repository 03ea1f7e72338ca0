/*
 * peer: libp2p identities.  Ed25519 keys (the repo's <repo>/keystore/self),
 * the PublicKey protobuf, peer IDs and their text forms, and libp2p-key
 * signatures (plain RFC 8032 Ed25519 over the message).
 *
 *   PublicKey pb (Ed25519)   08 01 12 20 <32 bytes>            (36 bytes)
 *   peer ID (multihash)      00 24 <PublicKey pb>              identity mh (38 bytes)
 *                            12 20 <sha256(PublicKey pb)>      when the pb is > 42 bytes (RSA)
 *   text                     base58btc of the multihash ("12D3KooW...", "Qm...");
 *                            also accepted: CIDv1 with codec libp2p-key (0x72), any
 *                            multibase ("bafzaa...", "k51...")
 *
 * Our own keys are Ed25519.  peer_verify also checks the other libp2p key
 * types, so that peers with them (go-libp2p's RSA bootstrap nodes, older
 * Kubo) can connect: RSA (PKIX DER, ≥ PEER_RSA_BITS_MIN bits, PKCS#1 v1.5
 * over SHA-256), secp256k1 (a curve point, ECDSA over SHA-256, DER
 * signature) and ECDSA (PKIX DER, over SHA-256, DER signature).
 * Test vector (seed = 32 zero bytes): 12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN.
 */
#ifndef ANYA_NET_PEER_H
#define ANYA_NET_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PEER_ID_BYTES_MAX 64     /* a peer ID multihash (identity ≤ 44, sha256 34) */
#define PEER_ID_TEXT_BYTES_MAX 128
#define PEER_PUBKEY_PB_BYTES_MAX 1024 /* a PublicKey protobuf we accept (RSA-4096 fits) */
#define PEER_ED25519_BYTES 32
#define PEER_SIGNATURE_BYTES_MAX 1024
#define PEER_RSA_BITS_MIN 2048      /* weaker RSA keys are refused (go-libp2p's rule) */

typedef struct peer_id {
  uint8_t bytes[PEER_ID_BYTES_MAX]; /* the multihash */
  uint8_t len;
} peer_id_t;

typedef struct peer_key {
  uint8_t seed[PEER_ED25519_BYTES];   /* Ed25519 private seed */
  uint8_t pub[PEER_ED25519_BYTES];    /* Ed25519 public key */
  uint8_t pub_pb[4 + PEER_ED25519_BYTES]; /* the PublicKey protobuf (36 bytes) */
  peer_id_t id;
} peer_key_t;

/* Loads <repo>/keystore/self (PrivateKey pb, Ed25519, 64-byte seed||pub; the
 * legacy 96-byte form only when its two public copies match).  -ENOENT,
 * -EINVAL with an err_set message naming the file. */
int peer_key_load(const char *repo_path, peer_key_t *out);
/* A key from a 32-byte seed (tests, deterministic nodes). */
int peer_key_from_seed(const uint8_t seed[PEER_ED25519_BYTES], peer_key_t *out);
/* A fresh random key. */
int peer_key_generate(peer_key_t *out);
/* Ed25519 signature (64 bytes) of msg. */
int peer_sign(const peer_key_t *key, const void *msg, size_t len, uint8_t sig[64]);

/* Verifies sig over msg with a PublicKey protobuf.  0 valid, -EBADMSG bad
 * signature, -EINVAL malformed (or RSA too weak) key, -ENOTSUP an unknown key type. */
int peer_verify(const uint8_t *pubkey_pb, size_t pb_len, const void *msg, size_t len, const uint8_t *sig,
                size_t sig_len);

/* The peer ID of a PublicKey protobuf (identity mh when ≤ 42 bytes, else sha2-256).  -EINVAL. */
int peer_id_from_pubkey(const uint8_t *pubkey_pb, size_t pb_len, peer_id_t *out);
/* The PublicKey protobuf inlined in an identity-multihash peer ID; -ENOENT for a hashed ID. */
int peer_id_pubkey(const peer_id_t *id, const uint8_t **pb, size_t *pb_len);
/* A peer ID from its multihash bytes (checked: identity or sha2-256 multihash). -EINVAL. */
int peer_id_from_bytes(const uint8_t *mh, size_t len, peer_id_t *out);
/* Text (base58btc or CIDv1 libp2p-key in any multibase) to a peer ID.  -EINVAL. */
int peer_id_parse(const char *text, peer_id_t *out);
/* base58btc text. */
int peer_id_format(const peer_id_t *id, char out[PEER_ID_TEXT_BYTES_MAX]);
/* CIDv1 libp2p-key in base36 ("k51..."), the IPNS name form. */
int peer_id_format_base36(const peer_id_t *id, char out[PEER_ID_TEXT_BYTES_MAX]);
bool peer_id_equal(const peer_id_t *a, const peer_id_t *b);

#endif
