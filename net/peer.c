/*
 * peer: libp2p identities on OpenSSL's Ed25519 (raw keys, RFC 8032 signing
 * with no pre-hash).  Key protobufs are decoded by protobuf-c (keys.proto);
 * our own Ed25519 PublicKey is the fixed deterministic form 08 01 12 20 <32>.
 */
#include "peer.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cid.h"
#include "err.h"
#include "keys.pb-c.h"
#include "multibase.h"
#include "multihash.h"
#include "varint.h"

#define PEER_INLINE_KEY_BYTES_MAX 42 /* PublicKey pb up to this size goes in an identity multihash */
#define PEER_ED25519_SIG_BYTES 64
#define PEER_KEY_FILE_BYTES_MAX 256 /* <repo>/keystore/self: 68 bytes (100 in the legacy form) */

/* --- keys --- */

static void fill_pub_pb(peer_key_t *k) {
  k->pub_pb[0] = 0x08; /* field 1 (Type), varint */
  k->pub_pb[1] = 0x01; /* Ed25519 */
  k->pub_pb[2] = 0x12; /* field 2 (Data), length-delimited */
  k->pub_pb[3] = PEER_ED25519_BYTES;
  memcpy(k->pub_pb + 4, k->pub, PEER_ED25519_BYTES);
}

int peer_key_from_seed(const uint8_t seed[PEER_ED25519_BYTES], peer_key_t *out) {
  assert(seed != NULL && out != NULL);
  EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, PEER_ED25519_BYTES);
  if (!pkey) return err_set(-EIO, "peer: OpenSSL cannot load an Ed25519 key");
  peer_key_t k;
  memset(&k, 0, sizeof k);
  size_t pub_len = sizeof k.pub;
  int ok = EVP_PKEY_get_raw_public_key(pkey, k.pub, &pub_len) == 1 && pub_len == PEER_ED25519_BYTES;
  EVP_PKEY_free(pkey);
  if (!ok) return err_set(-EIO, "peer: OpenSSL cannot derive the Ed25519 public key");
  memcpy(k.seed, seed, PEER_ED25519_BYTES);
  fill_pub_pb(&k);
  int rc = peer_id_from_pubkey(k.pub_pb, sizeof k.pub_pb, &k.id);
  assert(rc == 0);
  *out = k;
  OPENSSL_cleanse(&k, sizeof k);
  return rc;
}

int peer_key_generate(peer_key_t *out) {
  uint8_t seed[PEER_ED25519_BYTES];
  if (RAND_bytes(seed, sizeof seed) != 1) return err_set(-EIO, "peer: no random bytes for a key");
  int rc = peer_key_from_seed(seed, out);
  OPENSSL_cleanse(seed, sizeof seed);
  return rc;
}

int peer_key_load(const char *repo_path, peer_key_t *out) {
  assert(repo_path != NULL && out != NULL);
  char path[PATH_MAX];
  if ((size_t)snprintf(path, sizeof path, "%s/keystore/self", repo_path) >= sizeof path)
    return err_set(-ENAMETOOLONG, "peer: repository path too long");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return err_set(-e, "cannot read the peer key %s: %s", path, strerror(e));
  }
  uint8_t file[PEER_KEY_FILE_BYTES_MAX + 1];
  size_t len = 0;
  while (len < sizeof file) { /* bounded by the buffer */
    ssize_t n = read(fd, file + len, sizeof file - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return err_set(-e, "cannot read the peer key %s: %s", path, strerror(e));
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  close(fd);
  int rc = -EINVAL;
  if (len > PEER_KEY_FILE_BYTES_MAX) {
    rc = err_set(-EINVAL, "%s is too large for a peer key", path);
  } else {
    P2p__PrivateKey *pk = p2p__private_key__unpack(NULL, len, file);
    if (!pk) {
      rc = err_set(-EINVAL, "%s is not a PrivateKey protobuf", path);
    } else if (pk->type != P2P__KEY_TYPE__Ed25519) {
      rc = err_set(-EINVAL, "%s is not an Ed25519 private key (key type %d)", path, (int)pk->type);
    } else if (pk->data.len != 2 * PEER_ED25519_BYTES && pk->data.len != 3 * PEER_ED25519_BYTES) {
      rc = err_set(-EINVAL, "%s: an Ed25519 private key of %zu bytes (64 expected)", path, pk->data.len);
    } else if (pk->data.len == 3 * PEER_ED25519_BYTES &&
               memcmp(pk->data.data + PEER_ED25519_BYTES, pk->data.data + 2 * PEER_ED25519_BYTES,
                      PEER_ED25519_BYTES) != 0) {
      rc = err_set(-EINVAL, "%s: the legacy key's two public keys differ", path);
    } else {
      peer_key_t k;
      rc = peer_key_from_seed(pk->data.data, &k);
      if (rc == 0 && memcmp(k.pub, pk->data.data + PEER_ED25519_BYTES, PEER_ED25519_BYTES) != 0)
        rc = err_set(-EINVAL, "%s: the public key does not belong to the seed", path);
      if (rc == 0) *out = k;
      OPENSSL_cleanse(&k, sizeof k);
    }
    if (pk) {
      OPENSSL_cleanse(pk->data.data, pk->data.len);
      p2p__private_key__free_unpacked(pk, NULL);
    }
  }
  OPENSSL_cleanse(file, sizeof file);
  return rc;
}

int peer_sign(const peer_key_t *key, const void *msg, size_t len, uint8_t sig[64]) {
  assert(key != NULL && sig != NULL && (msg != NULL || len == 0));
  EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, key->seed, PEER_ED25519_BYTES);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  size_t sig_len = PEER_ED25519_SIG_BYTES;
  static const uint8_t empty[1];
  int ok = pkey && md && EVP_DigestSignInit(md, NULL, NULL, NULL, pkey) == 1 &&
           EVP_DigestSign(md, sig, &sig_len, len ? msg : empty, len) == 1 && sig_len == PEER_ED25519_SIG_BYTES;
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(pkey);
  return ok ? 0 : err_set(-EIO, "peer: Ed25519 signing failed");
}

/* Decodes a PublicKey pb: its type and data.  -EINVAL malformed. */
static int pubkey_decode(const uint8_t *pb, size_t pb_len, int *type, uint8_t ed25519[PEER_ED25519_BYTES],
                         uint8_t *data, size_t *data_len) {
  if (pb_len == 0 || pb_len > PEER_PUBKEY_PB_BYTES_MAX)
    return err_set(-EINVAL, "peer: a PublicKey of %zu bytes", pb_len);
  P2p__PublicKey *pk = p2p__public_key__unpack(NULL, pb_len, pb);
  if (!pk) return err_set(-EINVAL, "peer: malformed PublicKey protobuf");
  int rc = 0;
  *type = (int)pk->type;
  if (pk->type == P2P__KEY_TYPE__Ed25519) {
    if (pk->data.len != PEER_ED25519_BYTES)
      rc = err_set(-EINVAL, "peer: an Ed25519 public key of %zu bytes", pk->data.len);
    else if (ed25519)
      memcpy(ed25519, pk->data.data, PEER_ED25519_BYTES);
  } else if (pk->data.len == 0) {
    rc = err_set(-EINVAL, "peer: an empty public key");
  } else if (data) { /* shorter than the protobuf that holds it */
    memcpy(data, pk->data.data, pk->data.len);
    *data_len = pk->data.len;
  }
  p2p__public_key__free_unpacked(pk, NULL);
  return rc;
}

/* The OpenSSL key of a non-Ed25519 libp2p key (the peer-ids spec): RSA and
 * ECDSA keys are PKIX DER, secp256k1 a compressed (or plain) curve point.
 * RSA below PEER_RSA_BITS_MIN is refused like go-libp2p does.  NULL: malformed. */
static EVP_PKEY *pkey_other(int type, const uint8_t *data, size_t len) {
  EVP_PKEY *pkey = NULL;
  if (type == P2P__KEY_TYPE__RSA || type == P2P__KEY_TYPE__ECDSA) {
    const unsigned char *p = data;
    pkey = d2i_PUBKEY(NULL, &p, (long)len);
    int want = type == P2P__KEY_TYPE__RSA ? EVP_PKEY_RSA : EVP_PKEY_EC;
    if (pkey && (p != data + len || EVP_PKEY_get_base_id(pkey) != want ||
                 (want == EVP_PKEY_RSA && EVP_PKEY_get_bits(pkey) < PEER_RSA_BITS_MIN))) {
      EVP_PKEY_free(pkey);
      pkey = NULL;
    }
    return pkey;
  }
  /* secp256k1 */
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"secp256k1", 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)data, len),
      OSSL_PARAM_construct_end(),
  };
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
  if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    pkey = NULL;
  EVP_PKEY_CTX_free(ctx);
  return pkey;
}

int peer_verify(const uint8_t *pubkey_pb, size_t pb_len, const void *msg, size_t len, const uint8_t *sig,
                size_t sig_len) {
  assert(pubkey_pb != NULL || pb_len == 0);
  assert(msg != NULL || len == 0);
  int type;
  uint8_t pub[PEER_ED25519_BYTES];
  uint8_t data[PEER_PUBKEY_PB_BYTES_MAX];
  size_t data_len = 0;
  int rc = pubkey_decode(pubkey_pb, pb_len, &type, pub, data, &data_len);
  if (rc) return rc;
  EVP_PKEY *pkey;
  const EVP_MD *digest = NULL; /* Ed25519 hashes itself; the others sign SHA-256 */
  if (type == P2P__KEY_TYPE__Ed25519) {
    if (!sig || sig_len != PEER_ED25519_SIG_BYTES)
      return err_set(-EBADMSG, "peer: an Ed25519 signature of %zu bytes", sig_len);
    pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, sizeof pub);
    if (!pkey) return err_set(-EINVAL, "peer: OpenSSL rejects the Ed25519 public key");
  } else if (type == P2P__KEY_TYPE__RSA || type == P2P__KEY_TYPE__Secp256k1 || type == P2P__KEY_TYPE__ECDSA) {
    if (!sig || sig_len == 0 || sig_len > PEER_SIGNATURE_BYTES_MAX)
      return err_set(-EBADMSG, "peer: a signature of %zu bytes", sig_len);
    pkey = pkey_other(type, data, data_len);
    if (!pkey) return err_set(-EINVAL, "peer: a malformed or too weak public key of type %d", type);
    digest = EVP_sha256();
  } else {
    return err_set(-ENOTSUP, "peer: cannot verify key type %d", type);
  }
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  static const uint8_t empty[1];
  int ok = -1;
  if (md && EVP_DigestVerifyInit(md, NULL, digest, NULL, pkey) == 1)
    ok = EVP_DigestVerify(md, sig, sig_len, len ? msg : empty, len);
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(pkey);
  ERR_clear_error();
  return ok == 1 ? 0 : err_set(-EBADMSG, "peer: bad signature (key type %d)", type);
}

/* --- peer IDs --- */

int peer_id_from_pubkey(const uint8_t *pubkey_pb, size_t pb_len, peer_id_t *out) {
  assert(out != NULL);
  int type;
  int rc = pubkey_decode(pubkey_pb, pb_len, &type, NULL, NULL, NULL);
  if (rc) return rc;
  peer_id_t id;
  memset(&id, 0, sizeof id);
  if (pb_len <= PEER_INLINE_KEY_BYTES_MAX) {
    id.bytes[0] = MH_IDENTITY;
    id.bytes[1] = (uint8_t)pb_len; /* < 128: a one-byte varint */
    memcpy(id.bytes + 2, pubkey_pb, pb_len);
    id.len = (uint8_t)(2 + pb_len);
  } else {
    id.bytes[0] = MH_SHA2_256;
    id.bytes[1] = MH_SHA2_256_BYTES;
    mh_sha256_raw(pubkey_pb, pb_len, id.bytes + 2);
    id.len = 2 + MH_SHA2_256_BYTES;
  }
  *out = id;
  return 0;
}

int peer_id_pubkey(const peer_id_t *id, const uint8_t **pb, size_t *pb_len) {
  assert(id != NULL && pb != NULL && pb_len != NULL);
  if (id->len < 2 || id->bytes[0] != MH_IDENTITY) return -ENOENT;
  assert((size_t)id->bytes[1] + 2 == id->len);
  *pb = id->bytes + 2;
  *pb_len = id->bytes[1];
  return 0;
}

int peer_id_from_bytes(const uint8_t *mh, size_t len, peer_id_t *out) {
  assert(out != NULL && (mh != NULL || len == 0));
  if (len < 2 || len > PEER_ID_BYTES_MAX) return err_set(-EINVAL, "peer ID: a multihash of %zu bytes", len);
  uint64_t code, digest_len;
  int a = varint_decode(mh, len, &code);
  if (a < 0) return err_set(-EINVAL, "peer ID: bad multihash code");
  int b = varint_decode(mh + a, len - (size_t)a, &digest_len);
  if (b < 0) return err_set(-EINVAL, "peer ID: bad multihash length");
  if ((size_t)a + (size_t)b + digest_len != len)
    return err_set(-EINVAL, "peer ID: multihash length %llu does not match %zu bytes",
                   (unsigned long long)digest_len, len - (size_t)a - (size_t)b);
  if (code == MH_SHA2_256) {
    if (digest_len != MH_SHA2_256_BYTES) return err_set(-EINVAL, "peer ID: a sha2-256 digest must be 32 bytes");
  } else if (code == MH_IDENTITY) {
    if (digest_len == 0 || digest_len > PEER_INLINE_KEY_BYTES_MAX)
      return err_set(-EINVAL, "peer ID: an inline key of %llu bytes", (unsigned long long)digest_len);
    int type;
    int rc = pubkey_decode(mh + 2, (size_t)digest_len, &type, NULL, NULL, NULL);
    if (rc) return err_set(-EINVAL, "peer ID: the inline key is not a PublicKey");
  } else {
    return err_set(-EINVAL, "peer ID: multihash code 0x%llx (identity or sha2-256 expected)",
                   (unsigned long long)code);
  }
  peer_id_t id;
  memset(&id, 0, sizeof id);
  memcpy(id.bytes, mh, len);
  id.len = (uint8_t)len;
  *out = id;
  return 0;
}

int peer_id_parse(const char *text, peer_id_t *out) {
  assert(text != NULL && out != NULL);
  size_t len = strnlen(text, PEER_ID_TEXT_BYTES_MAX);
  if (len == 0) return err_set(-EINVAL, "peer ID: empty text");
  if (len >= PEER_ID_TEXT_BYTES_MAX) return err_set(-EINVAL, "peer ID: text too long");
  if (text[0] == '1' || (text[0] == 'Q' && text[1] == 'm')) { /* bare base58btc multihash */
    uint8_t bytes[PEER_ID_TEXT_BYTES_MAX + 1];
    int n = mbase_decode_to(MBASE_BASE58BTC, text, len, bytes, sizeof bytes);
    if (n < 0) return err_set(-EINVAL, "peer ID: \"%s\" is not base58btc", text);
    return peer_id_from_bytes(bytes, (size_t)n, out);
  }
  cid_t c;
  if (cid_parse(&c, text) != 0) return err_set(-EINVAL, "peer ID: \"%s\" is neither base58btc nor a CID", text);
  if (c.version != 1 || c.codec != CODEC_LIBP2P_KEY)
    return err_set(-EINVAL, "peer ID: \"%s\" is a CID but not libp2p-key", text);
  uint8_t mh[MH_BYTES_MAX];
  size_t n = cid_mh_bytes(&c, mh);
  return peer_id_from_bytes(mh, n, out);
}

int peer_id_format(const peer_id_t *id, char out[PEER_ID_TEXT_BYTES_MAX]) {
  assert(id != NULL && out != NULL);
  if (id->len == 0 || id->len > PEER_ID_BYTES_MAX) return err_set(-EINVAL, "peer ID: empty");
  int n = mbase_encode_to(MBASE_BASE58BTC, false, id->bytes, id->len, out, PEER_ID_TEXT_BYTES_MAX);
  return n < 0 ? n : 0;
}

int peer_id_format_base36(const peer_id_t *id, char out[PEER_ID_TEXT_BYTES_MAX]) {
  assert(id != NULL && out != NULL);
  if (id->len == 0 || id->len > PEER_ID_BYTES_MAX) return err_set(-EINVAL, "peer ID: empty");
  uint8_t cid[2 * VARINT_BYTES_MAX + PEER_ID_BYTES_MAX];
  size_t n = varint_encode(1, cid);
  n += varint_encode(CODEC_LIBP2P_KEY, cid + n);
  memcpy(cid + n, id->bytes, id->len);
  n += id->len;
  int rc = mbase_encode_to(MBASE_BASE36, true, cid, n, out, PEER_ID_TEXT_BYTES_MAX);
  return rc < 0 ? rc : 0;
}

bool peer_id_equal(const peer_id_t *a, const peer_id_t *b) {
  assert(a != NULL && b != NULL);
  return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}
