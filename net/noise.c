/*
 * noise: Noise_XX_25519_ChaChaPoly_SHA256 (noiseprotocol.org rev 34) with
 * the libp2p handshake payload.
 *
 * The handshake's SymmetricState is (h, ck) plus one CipherState (k, n); the
 * handshake cipher is keyed afresh for every message (a few per connection),
 * while a transport noise_cipher_t keeps one EVP context initialised with its
 * key and direction, so a frame costs only the IV set, one update and the tag.
 * Nonces: 4 zero bytes ‖ 64-bit little-endian counter (RFC 8439 layout).
 */
#include "noise.h"

#include <assert.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "noise.pb-c.h"

#define NOISE_PROTOCOL_NAME "Noise_XX_25519_ChaChaPoly_SHA256" /* exactly HASHLEN (32) bytes */
#define NOISE_HASH_BYTES 32
#define NOISE_KEY_BYTES 32
#define NOISE_DH_BYTES 32
#define NOISE_NONCE_BYTES 12
#define NOISE_NONCE_MAX UINT64_MAX /* reserved: never used to encrypt */
#define NOISE_SIG_PREFIX "noise-libp2p-static-key:"
#define NOISE_MUXER_BYTES_MAX 64 /* a muxer protocol id, NUL included */

struct noise_cipher {
  EVP_CIPHER_CTX *ctx; /* keyed once; per message only the IV changes */
  uint64_t n;          /* the next nonce */
  bool encrypt;        /* direction the context was initialised for */
};

enum { HS_FAILED = -1 };

struct noise_hs {
  bool initiator;
  int step;                 /* messages done, 0..3; HS_FAILED after an error; 4 after finish */
  uint8_t h[NOISE_HASH_BYTES];  /* handshake hash */
  uint8_t ck[NOISE_HASH_BYTES]; /* chaining key */
  uint8_t k[NOISE_KEY_BYTES];   /* the handshake CipherState's key, valid when has_k */
  bool has_k;
  uint64_t n;               /* the handshake CipherState's nonce */
  EVP_CIPHER_CTX *ctx;      /* for the handshake's AEAD operations */
  EVP_PKEY *e, *s;          /* our ephemeral and static X25519 keys */
  uint8_t e_pub[NOISE_DH_BYTES], s_pub[NOISE_DH_BYTES];
  uint8_t re[NOISE_DH_BYTES], rs[NOISE_DH_BYTES]; /* the remote's ephemeral and static keys */
  peer_key_t identity;      /* our libp2p identity (signs the static key) */
  char muxers[NOISE_MUXERS_MAX][NOISE_MUXER_BYTES_MAX]; /* ours, preference order */
  size_t muxer_count;
  char remote_muxers[NOISE_MUXERS_MAX][NOISE_MUXER_BYTES_MAX];
  size_t remote_muxer_count;
  peer_id_t expected;       /* valid when has_expected */
  bool has_expected;
  peer_id_t remote;         /* set when the remote's payload verified */
};

/* --- primitives --- */

static void sha256_2(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len, uint8_t out[32]) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  unsigned len = 0;
  int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(md, a, a_len) == 1 &&
           (b_len == 0 || EVP_DigestUpdate(md, b, b_len) == 1) && EVP_DigestFinal_ex(md, out, &len) == 1;
  EVP_MD_CTX_free(md);
  if (!ok || len != 32) abort(); /* OpenSSL without SHA-256 is not a state we can run in */
}

static void hmac_sha256(const uint8_t key[32], const uint8_t *data, size_t len, uint8_t out[32]) {
  unsigned out_len = 0;
  static const uint8_t empty[1];
  if (!HMAC(EVP_sha256(), key, NOISE_HASH_BYTES, len ? data : empty, len, out, &out_len) || out_len != 32)
    abort();
}

/* HKDF(ck, ikm) with two or three outputs (Noise §4.3). */
static void hkdf(const uint8_t ck[32], const uint8_t *ikm, size_t ikm_len, uint8_t out1[32], uint8_t out2[32],
                 uint8_t *out3) {
  uint8_t temp[32], in[33];
  hmac_sha256(ck, ikm, ikm_len, temp);
  in[0] = 0x01;
  hmac_sha256(temp, in, 1, out1);
  memcpy(in, out1, 32);
  in[32] = 0x02;
  hmac_sha256(temp, in, 33, out2);
  if (out3) {
    memcpy(in, out2, 32);
    in[32] = 0x03;
    hmac_sha256(temp, in, 33, out3);
  }
  OPENSSL_cleanse(temp, sizeof temp);
  OPENSSL_cleanse(in, sizeof in);
}

static void nonce_bytes(uint64_t n, uint8_t iv[NOISE_NONCE_BYTES]) {
  memset(iv, 0, 4);
  for (int i = 0; i < 8; i++) iv[4 + i] = (uint8_t)(n >> (8 * i));
}

/* One AEAD operation on a context already holding the key.  Encrypt: out
 * gets len bytes ‖ tag.  Decrypt: in is len bytes ‖ tag, out len bytes.
 * same_direction: the context was last used (or initialised) for this
 * direction, so the IV set keeps it (the cheaper init, measured ~2x per small
 * frame on OpenSSL 3.0).  0, or -EBADMSG (authentication failed), -EIO. */
static int aead(EVP_CIPHER_CTX *ctx, bool encrypt, bool same_direction, uint64_t n, const uint8_t *ad,
                size_t ad_len, const uint8_t *in, size_t len, uint8_t *out) {
  uint8_t iv[NOISE_NONCE_BYTES];
  nonce_bytes(n, iv);
  int outl = 0;
  if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, same_direction ? -1 : encrypt ? 1 : 0) != 1) return -EIO;
  if (ad_len && EVP_CipherUpdate(ctx, NULL, &outl, ad, (int)ad_len) != 1) return -EIO;
  if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, NOISE_TAG_BYTES, (void *)(in + len)) != 1)
    return -EIO;
  if (len && EVP_CipherUpdate(ctx, out, &outl, in, (int)len) != 1) return -EIO;
  if (EVP_CipherFinal_ex(ctx, out + len, &outl) != 1) return encrypt ? -EIO : -EBADMSG;
  if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, NOISE_TAG_BYTES, out + len) != 1) return -EIO;
  return 0;
}

static EVP_PKEY *x25519_generate(uint8_t pub[32]) {
  EVP_PKEY *key = NULL;
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
  size_t len = 32;
  if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &key) != 1 ||
      EVP_PKEY_get_raw_public_key(key, pub, &len) != 1 || len != 32) {
    EVP_PKEY_free(key);
    key = NULL;
  }
  EVP_PKEY_CTX_free(ctx);
  return key;
}

/* DH(ours, theirs) into out.  -EBADMSG for a remote key OpenSSL refuses (a
 * low-order point gives an all-zero secret, which OpenSSL rejects). */
static int x25519_dh(EVP_PKEY *ours, const uint8_t theirs[32], uint8_t out[32]) {
  EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, theirs, 32);
  EVP_PKEY_CTX *ctx = peer ? EVP_PKEY_CTX_new(ours, NULL) : NULL;
  size_t len = 32;
  int ok = ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
           EVP_PKEY_derive(ctx, out, &len) == 1 && len == 32;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(peer);
  return ok ? 0 : err_set(-EBADMSG, "noise: X25519 with the remote's key failed");
}

/* --- symmetric state --- */

static void mix_hash(noise_hs_t *hs, const uint8_t *data, size_t len) {
  sha256_2(hs->h, sizeof hs->h, data, len, hs->h);
}

static int mix_key_dh(noise_hs_t *hs, EVP_PKEY *ours, const uint8_t theirs[32]) {
  uint8_t dh[32];
  int rc = x25519_dh(ours, theirs, dh);
  if (rc) return rc;
  hkdf(hs->ck, dh, sizeof dh, hs->ck, hs->k, NULL);
  OPENSSL_cleanse(dh, sizeof dh);
  hs->has_k = true;
  hs->n = 0;
  if (EVP_CipherInit_ex(hs->ctx, EVP_chacha20_poly1305(), NULL, hs->k, NULL, -1) != 1)
    return err_set(-EIO, "noise: OpenSSL cannot key ChaCha20-Poly1305");
  return 0;
}

/* EncryptAndHash: appends ciphertext (‖ tag once keyed) of in to out. */
static int encrypt_and_hash(noise_hs_t *hs, const uint8_t *in, size_t len, buf_t *out) {
  size_t total = len + (hs->has_k ? NOISE_TAG_BYTES : 0);
  int rc = buf_reserve(out, total);
  if (rc) return rc;
  uint8_t *c = out->data + out->len;
  if (!hs->has_k) {
    if (len) memcpy(c, in, len);
  } else {
    rc = aead(hs->ctx, true, false, hs->n, hs->h, sizeof hs->h, in, len, c);
    if (rc) return err_set(rc, "noise: handshake encryption failed");
    hs->n++;
  }
  mix_hash(hs, c, total);
  out->len += total;
  return 0;
}

/* DecryptAndHash: in is len bytes (with tag once keyed); plaintext to out. */
static int decrypt_and_hash(noise_hs_t *hs, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len) {
  if (!hs->has_k) {
    if (len) memcpy(out, in, len);
    *out_len = len;
  } else {
    if (len < NOISE_TAG_BYTES) return err_set(-EBADMSG, "noise: handshake message too short");
    int rc = aead(hs->ctx, false, false, hs->n, hs->h, sizeof hs->h, in, len - NOISE_TAG_BYTES, out);
    if (rc) return err_set(-EBADMSG, "noise: handshake message does not decrypt");
    hs->n++;
    *out_len = len - NOISE_TAG_BYTES;
  }
  mix_hash(hs, in, len);
  return 0;
}

/* --- payload --- */

static int payload_build(noise_hs_t *hs, buf_t *out) {
  uint8_t msg[sizeof NOISE_SIG_PREFIX - 1 + NOISE_DH_BYTES];
  memcpy(msg, NOISE_SIG_PREFIX, sizeof NOISE_SIG_PREFIX - 1);
  memcpy(msg + sizeof NOISE_SIG_PREFIX - 1, hs->s_pub, NOISE_DH_BYTES);
  uint8_t sig[64];
  int rc = peer_sign(&hs->identity, msg, sizeof msg, sig);
  if (rc) return rc;
  P2p__NoiseHandshakePayload p = P2P__NOISE_HANDSHAKE_PAYLOAD__INIT;
  P2p__NoiseExtensions ext = P2P__NOISE_EXTENSIONS__INIT;
  char *names[NOISE_MUXERS_MAX];
  p.has_identity_key = 1;
  p.identity_key.data = hs->identity.pub_pb;
  p.identity_key.len = sizeof hs->identity.pub_pb;
  p.has_identity_sig = 1;
  p.identity_sig.data = sig;
  p.identity_sig.len = sizeof sig;
  if (hs->muxer_count > 0) {
    for (size_t i = 0; i < hs->muxer_count; i++) names[i] = hs->muxers[i];
    ext.n_stream_muxers = hs->muxer_count;
    ext.stream_muxers = names;
    p.extensions = &ext;
  }
  size_t len = p2p__noise_handshake_payload__get_packed_size(&p);
  rc = buf_reserve(out, len);
  if (rc) return rc;
  size_t packed = p2p__noise_handshake_payload__pack(&p, out->data + out->len);
  assert(packed == len);
  out->len += packed;
  return 0;
}

int noise_payload_check(const uint8_t *payload, size_t len, const uint8_t remote_static[32], peer_id_t *remote,
                        char muxers[NOISE_MUXERS_MAX][64], size_t *muxer_count) {
  assert(remote_static != NULL && remote != NULL && muxers != NULL && muxer_count != NULL);
  assert(payload != NULL || len == 0);
  *muxer_count = 0;
  P2p__NoiseHandshakePayload *p = p2p__noise_handshake_payload__unpack(NULL, len, payload);
  if (!p) return err_set(-EBADMSG, "noise: malformed handshake payload");
  int rc = 0;
  if (!p->has_identity_key || !p->has_identity_sig || p->identity_key.len == 0) {
    rc = err_set(-EBADMSG, "noise: handshake payload without identity key or signature");
  } else {
    peer_id_t id;
    rc = peer_id_from_pubkey(p->identity_key.data, p->identity_key.len, &id);
    if (rc) rc = err_set(-EBADMSG, "noise: the remote's identity key is malformed");
    uint8_t msg[sizeof NOISE_SIG_PREFIX - 1 + NOISE_DH_BYTES];
    memcpy(msg, NOISE_SIG_PREFIX, sizeof NOISE_SIG_PREFIX - 1);
    memcpy(msg + sizeof NOISE_SIG_PREFIX - 1, remote_static, NOISE_DH_BYTES);
    if (rc == 0) {
      rc = peer_verify(p->identity_key.data, p->identity_key.len, msg, sizeof msg, p->identity_sig.data,
                       p->identity_sig.len);
      if (rc == -EBADMSG) rc = err_set(-EACCES, "noise: the remote's signature of its static key is wrong");
      else if (rc == -EINVAL) rc = err_set(-EBADMSG, "noise: the remote's identity key is malformed");
      else if (rc == -ENOTSUP) rc = err_set(-ENOTSUP, "noise: the remote's key type cannot be verified");
    }
    if (rc == 0) *remote = id;
  }
  if (rc == 0 && p->extensions) {
    /* offers beyond our bounds are ignored, not fatal: they only widen the choice */
    for (size_t i = 0; i < p->extensions->n_stream_muxers && *muxer_count < NOISE_MUXERS_MAX; i++) {
      const char *m = p->extensions->stream_muxers[i];
      size_t m_len = strlen(m);
      if (m_len == 0 || m_len >= NOISE_MUXER_BYTES_MAX) continue;
      memcpy(muxers[*muxer_count], m, m_len + 1);
      (*muxer_count)++;
    }
  }
  p2p__noise_handshake_payload__free_unpacked(p, NULL);
  return rc;
}

/* --- handshake --- */

int noise_hs_new(bool initiator, const peer_key_t *identity, const char *const *muxers, size_t muxer_count,
                 const peer_id_t *expected, noise_hs_t **out) {
  assert(identity != NULL && out != NULL && (muxers != NULL || muxer_count == 0));
  if (muxer_count > NOISE_MUXERS_MAX) return err_set(-EINVAL, "noise: %zu muxers (at most %d)", muxer_count, NOISE_MUXERS_MAX);
  for (size_t i = 0; i < muxer_count; i++) {
    size_t len = strlen(muxers[i]);
    if (len == 0 || len >= NOISE_MUXER_BYTES_MAX) return err_set(-EINVAL, "noise: bad muxer id \"%s\"", muxers[i]);
  }
  noise_hs_t *hs = calloc(1, sizeof *hs);
  if (!hs) return -ENOMEM;
  hs->initiator = initiator;
  hs->identity = *identity;
  for (size_t i = 0; i < muxer_count; i++) memcpy(hs->muxers[i], muxers[i], strlen(muxers[i]) + 1);
  hs->muxer_count = muxer_count;
  if (expected) {
    hs->expected = *expected;
    hs->has_expected = true;
  }
  /* InitializeSymmetric: the name is exactly HASHLEN bytes, so h = name; ck = h; MixHash(empty prologue) */
  static_assert(sizeof NOISE_PROTOCOL_NAME - 1 == NOISE_HASH_BYTES, "protocol name is HASHLEN bytes");
  memcpy(hs->h, NOISE_PROTOCOL_NAME, NOISE_HASH_BYTES);
  memcpy(hs->ck, hs->h, NOISE_HASH_BYTES);
  mix_hash(hs, NULL, 0);
  hs->ctx = EVP_CIPHER_CTX_new();
  hs->s = x25519_generate(hs->s_pub);
  if (!hs->ctx || !hs->s ||
      EVP_CipherInit_ex(hs->ctx, EVP_chacha20_poly1305(), NULL, NULL, NULL, 1) != 1) {
    noise_hs_free(hs);
    return err_set(-EIO, "noise: OpenSSL cannot set up X25519 / ChaCha20-Poly1305");
  }
  *out = hs;
  return 0;
}

void noise_hs_free(noise_hs_t *hs) {
  if (!hs) return;
  EVP_CIPHER_CTX_free(hs->ctx);
  EVP_PKEY_free(hs->e);
  EVP_PKEY_free(hs->s);
  OPENSSL_cleanse(hs, sizeof *hs);
  free(hs);
}

bool noise_hs_my_turn(const noise_hs_t *hs) {
  assert(hs != NULL);
  if (hs->step < 0 || hs->step >= 3) return false;
  /* the initiator writes messages 1 and 3 (steps 0 and 2) */
  return hs->initiator == (hs->step % 2 == 0);
}

bool noise_hs_done(const noise_hs_t *hs) {
  assert(hs != NULL);
  return hs->step == 3;
}

static int fail(noise_hs_t *hs, int rc) {
  assert(rc < 0);
  hs->step = HS_FAILED;
  return rc;
}

int noise_hs_write(noise_hs_t *hs, buf_t *out) {
  assert(hs != NULL && out != NULL);
  if (!noise_hs_my_turn(hs)) return err_set(-EPROTO, "noise: not our turn to write a handshake message");
  size_t start = out->len;
  int rc = 0;
  buf_t payload = {0};
  if (hs->step == 0) { /* -> e */
    hs->e = x25519_generate(hs->e_pub);
    if (!hs->e) return fail(hs, err_set(-EIO, "noise: cannot generate an X25519 key"));
    rc = buf_append(out, hs->e_pub, sizeof hs->e_pub);
    if (rc == 0) mix_hash(hs, hs->e_pub, sizeof hs->e_pub);
    if (rc == 0) rc = encrypt_and_hash(hs, NULL, 0, out); /* empty payload */
  } else if (hs->step == 1) { /* <- e, ee, s, es, payload */
    hs->e = x25519_generate(hs->e_pub);
    if (!hs->e) return fail(hs, err_set(-EIO, "noise: cannot generate an X25519 key"));
    rc = buf_append(out, hs->e_pub, sizeof hs->e_pub);
    if (rc == 0) mix_hash(hs, hs->e_pub, sizeof hs->e_pub);
    if (rc == 0) rc = mix_key_dh(hs, hs->e, hs->re);
    if (rc == 0) rc = encrypt_and_hash(hs, hs->s_pub, sizeof hs->s_pub, out);
    if (rc == 0) rc = mix_key_dh(hs, hs->s, hs->re);
    if (rc == 0) rc = payload_build(hs, &payload);
    if (rc == 0) rc = encrypt_and_hash(hs, payload.data, payload.len, out);
  } else { /* -> s, se, payload */
    assert(hs->step == 2);
    rc = encrypt_and_hash(hs, hs->s_pub, sizeof hs->s_pub, out);
    if (rc == 0) rc = mix_key_dh(hs, hs->s, hs->re);
    if (rc == 0) rc = payload_build(hs, &payload);
    if (rc == 0) rc = encrypt_and_hash(hs, payload.data, payload.len, out);
  }
  buf_free(&payload);
  if (rc == 0 && out->len - start > NOISE_MSG_BYTES_MAX)
    rc = err_set(-E2BIG, "noise: handshake message of %zu bytes", out->len - start);
  if (rc) {
    out->len = start;
    return fail(hs, rc);
  }
  hs->step++;
  return 0;
}

/* Decrypts and checks the remote's payload (messages 2 and 3). */
static int read_payload(noise_hs_t *hs, const uint8_t *in, size_t len) {
  uint8_t *plain = malloc(len ? len : 1);
  if (!plain) return -ENOMEM;
  size_t plain_len = 0;
  int rc = decrypt_and_hash(hs, in, len, plain, &plain_len);
  if (rc == 0)
    rc = noise_payload_check(plain, plain_len, hs->rs, &hs->remote, hs->remote_muxers, &hs->remote_muxer_count);
  free(plain);
  if (rc == 0 && hs->has_expected && !peer_id_equal(&hs->remote, &hs->expected)) {
    char got[PEER_ID_TEXT_BYTES_MAX] = "?", want[PEER_ID_TEXT_BYTES_MAX] = "?";
    peer_id_format(&hs->remote, got);
    peer_id_format(&hs->expected, want);
    rc = err_set(-EACCES, "noise: the remote is %s, not the expected %s", got, want);
  }
  return rc;
}

int noise_hs_read(noise_hs_t *hs, const uint8_t *msg, size_t len) {
  assert(hs != NULL && (msg != NULL || len == 0));
  if (hs->step < 0 || hs->step >= 3 || noise_hs_my_turn(hs))
    return err_set(-EPROTO, "noise: not expecting a handshake message");
  if (len > NOISE_MSG_BYTES_MAX) return fail(hs, err_set(-EBADMSG, "noise: handshake message too long"));
  int rc = 0;
  if (hs->step == 0) { /* -> e (the responder reads) */
    if (len < NOISE_DH_BYTES) return fail(hs, err_set(-EBADMSG, "noise: first handshake message too short"));
    memcpy(hs->re, msg, NOISE_DH_BYTES);
    mix_hash(hs, hs->re, NOISE_DH_BYTES);
    /* the payload of message 1 is unencrypted and carries nothing for libp2p; it is hashed */
    mix_hash(hs, msg + NOISE_DH_BYTES, len - NOISE_DH_BYTES);
  } else if (hs->step == 1) { /* <- e, ee, s, es, payload (the initiator reads) */
    if (len < NOISE_DH_BYTES + NOISE_DH_BYTES + 2 * NOISE_TAG_BYTES)
      return fail(hs, err_set(-EBADMSG, "noise: second handshake message too short"));
    memcpy(hs->re, msg, NOISE_DH_BYTES);
    mix_hash(hs, hs->re, NOISE_DH_BYTES);
    rc = mix_key_dh(hs, hs->e, hs->re);
    size_t rs_len = 0;
    if (rc == 0) rc = decrypt_and_hash(hs, msg + NOISE_DH_BYTES, NOISE_DH_BYTES + NOISE_TAG_BYTES, hs->rs, &rs_len);
    if (rc == 0) rc = mix_key_dh(hs, hs->e, hs->rs);
    size_t used = 2 * NOISE_DH_BYTES + NOISE_TAG_BYTES;
    if (rc == 0) rc = read_payload(hs, msg + used, len - used);
  } else { /* -> s, se, payload (the responder reads) */
    assert(hs->step == 2);
    if (len < NOISE_DH_BYTES + 2 * NOISE_TAG_BYTES)
      return fail(hs, err_set(-EBADMSG, "noise: third handshake message too short"));
    size_t rs_len = 0;
    rc = decrypt_and_hash(hs, msg, NOISE_DH_BYTES + NOISE_TAG_BYTES, hs->rs, &rs_len);
    if (rc == 0) rc = mix_key_dh(hs, hs->e, hs->rs);
    size_t used = NOISE_DH_BYTES + NOISE_TAG_BYTES;
    if (rc == 0) rc = read_payload(hs, msg + used, len - used);
  }
  if (rc) return fail(hs, rc);
  hs->step++;
  return 0;
}

static noise_cipher_t *cipher_new(const uint8_t key[32], bool encrypt) {
  noise_cipher_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->ctx = EVP_CIPHER_CTX_new();
  c->encrypt = encrypt;
  if (!c->ctx || EVP_CipherInit_ex(c->ctx, EVP_chacha20_poly1305(), NULL, key, NULL, encrypt ? 1 : 0) != 1) {
    noise_cipher_free(c);
    return NULL;
  }
  return c;
}

int noise_hs_finish(noise_hs_t *hs, noise_cipher_t **send, noise_cipher_t **recv, peer_id_t *remote,
                    char muxer[64]) {
  assert(hs != NULL && send != NULL && recv != NULL && remote != NULL && muxer != NULL);
  if (!noise_hs_done(hs)) return err_set(-EPROTO, "noise: the handshake is not complete");
  /* Split: k1 encrypts initiator -> responder, k2 responder -> initiator */
  uint8_t k1[32], k2[32];
  hkdf(hs->ck, NULL, 0, k1, k2, NULL);
  noise_cipher_t *c1 = cipher_new(k1, hs->initiator);
  noise_cipher_t *c2 = cipher_new(k2, !hs->initiator);
  OPENSSL_cleanse(k1, sizeof k1);
  OPENSSL_cleanse(k2, sizeof k2);
  if (!c1 || !c2) {
    noise_cipher_free(c1);
    noise_cipher_free(c2);
    return err_set(-ENOMEM, "noise: cannot create the transport ciphers");
  }
  *send = hs->initiator ? c1 : c2;
  *recv = hs->initiator ? c2 : c1;
  *remote = hs->remote;
  /* the first muxer of the initiator's list that the responder also offers */
  muxer[0] = '\0';
  const char(*first)[NOISE_MUXER_BYTES_MAX] = hs->initiator ? hs->muxers : hs->remote_muxers;
  const char(*second)[NOISE_MUXER_BYTES_MAX] = hs->initiator ? hs->remote_muxers : hs->muxers;
  size_t first_count = hs->initiator ? hs->muxer_count : hs->remote_muxer_count;
  size_t second_count = hs->initiator ? hs->remote_muxer_count : hs->muxer_count;
  for (size_t i = 0; i < first_count && !muxer[0]; i++)
    for (size_t j = 0; j < second_count; j++)
      if (strcmp(first[i], second[j]) == 0) {
        memcpy(muxer, first[i], strlen(first[i]) + 1);
        break;
      }
  hs->step = 4; /* finished: the keys are handed out once */
  OPENSSL_cleanse(hs->ck, sizeof hs->ck);
  return 0;
}

/* --- transport --- */

int noise_encrypt_frame_to(noise_cipher_t *c, const uint8_t *plaintext, size_t len, uint8_t *out) {
  assert(c != NULL && c->encrypt && out != NULL && (plaintext != NULL || len == 0));
  if (len > NOISE_PLAINTEXT_BYTES_MAX)
    return err_set(-E2BIG, "noise: %zu bytes in one frame (at most %d)", len, NOISE_PLAINTEXT_BYTES_MAX);
  if (c->n == NOISE_NONCE_MAX) return err_set(-EOVERFLOW, "noise: nonces exhausted");
  size_t body = len + NOISE_TAG_BYTES;
  out[0] = (uint8_t)(body >> 8);
  out[1] = (uint8_t)body;
  int rc = aead(c->ctx, true, true, c->n, NULL, 0, plaintext, len, out + 2);
  if (rc) return err_set(rc, "noise: encryption failed");
  c->n++;
  return (int)(2 + body);
}

int noise_encrypt_frame(noise_cipher_t *c, const uint8_t *plaintext, size_t len, buf_t *out) {
  assert(out != NULL);
  if (len > NOISE_PLAINTEXT_BYTES_MAX)
    return err_set(-E2BIG, "noise: %zu bytes in one frame (at most %d)", len, NOISE_PLAINTEXT_BYTES_MAX);
  int rc = buf_reserve(out, 2 + len + NOISE_TAG_BYTES);
  if (rc) return rc;
  rc = noise_encrypt_frame_to(c, plaintext, len, out->data + out->len);
  if (rc < 0) return rc;
  out->len += (size_t)rc;
  return 0;
}

int noise_decrypt(noise_cipher_t *c, const uint8_t *in, size_t len, uint8_t *out) {
  assert(c != NULL && !c->encrypt && out != NULL && (in != NULL || len == 0));
  if (len < NOISE_TAG_BYTES || len > NOISE_MSG_BYTES_MAX)
    return err_set(-EBADMSG, "noise: a frame of %zu bytes", len);
  if (c->n == NOISE_NONCE_MAX) return err_set(-EBADMSG, "noise: nonces exhausted");
  int rc = aead(c->ctx, false, true, c->n, NULL, 0, in, len - NOISE_TAG_BYTES, out);
  if (rc) return err_set(-EBADMSG, "noise: frame does not decrypt");
  c->n++;
  return (int)(len - NOISE_TAG_BYTES);
}

void noise_cipher_free(noise_cipher_t *c) {
  if (!c) return;
  EVP_CIPHER_CTX_free(c->ctx);
  free(c);
}
