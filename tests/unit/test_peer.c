/*
 * peer: the seed-0 vector of docs/ipfs-reference.md §5 (public key, PublicKey
 * protobuf, peer ID in base58btc, IPNS name in base36), sign/verify with a
 * flipped bit failing, both text forms parsed, hashed (RSA-style) IDs, the
 * keystore file written by `anya init` (and the legacy and bad forms), and
 * every rejection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"
#include "multibase.h"
#include "peer.h"
#include "repo.h"
#include "testdir.h"

#define SEED0_PEER_ID "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"
#define SEED0_IPNS "k51qzi5uqu5dhnwe629wdlncpql6frppdpwnz4wtlcw816aysd5wwlk63g4wmh"
#define SEED0_PUB "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"
#define RSA_PEER_ID "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"

static size_t hex_to_bytes(const char *hex, uint8_t *out) {
  size_t n = strlen(hex) / 2;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
    out[i] = (uint8_t)v;
  }
  return n;
}

static void seed0(peer_key_t *k) {
  static const uint8_t zero[PEER_ED25519_BYTES];
  assert_int_equal(peer_key_from_seed(zero, k), 0);
}

static void test_seed0_vector(void **state) {
  (void)state;
  peer_key_t k;
  seed0(&k);
  uint8_t pub[32];
  hex_to_bytes(SEED0_PUB, pub);
  assert_memory_equal(k.pub, pub, 32);
  static const uint8_t pb_head[4] = {0x08, 0x01, 0x12, 0x20};
  assert_memory_equal(k.pub_pb, pb_head, 4);
  assert_memory_equal(k.pub_pb + 4, pub, 32);
  assert_int_equal(k.id.len, 38);
  assert_int_equal(k.id.bytes[0], 0x00);
  assert_int_equal(k.id.bytes[1], 0x24);
  assert_memory_equal(k.id.bytes + 2, k.pub_pb, 36);
  char text[PEER_ID_TEXT_BYTES_MAX];
  assert_int_equal(peer_id_format(&k.id, text), 0);
  assert_string_equal(text, SEED0_PEER_ID);
  assert_int_equal(peer_id_format_base36(&k.id, text), 0);
  assert_string_equal(text, SEED0_IPNS);
  const uint8_t *pb;
  size_t pb_len;
  assert_int_equal(peer_id_pubkey(&k.id, &pb, &pb_len), 0);
  assert_int_equal(pb_len, 36);
  assert_memory_equal(pb, k.pub_pb, 36);
  peer_id_t id;
  assert_int_equal(peer_id_from_pubkey(k.pub_pb, sizeof k.pub_pb, &id), 0);
  assert_true(peer_id_equal(&id, &k.id));
}

static void test_sign_verify(void **state) {
  (void)state;
  peer_key_t k;
  seed0(&k);
  static const char msg[] = "noise-libp2p-static-key:0123456789abcdef0123456789abcdef";
  uint8_t sig[64];
  assert_int_equal(peer_sign(&k, msg, sizeof msg - 1, sig), 0);
  assert_int_equal(peer_verify(k.pub_pb, sizeof k.pub_pb, msg, sizeof msg - 1, sig, 64), 0);
  /* Ed25519 is deterministic */
  uint8_t again[64];
  assert_int_equal(peer_sign(&k, msg, sizeof msg - 1, again), 0);
  assert_memory_equal(sig, again, 64);
  /* a flipped bit anywhere in the signature or the message fails */
  for (size_t bit = 0; bit < 64 * 8; bit += 37) {
    sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    assert_int_equal(peer_verify(k.pub_pb, sizeof k.pub_pb, msg, sizeof msg - 1, sig, 64), -EBADMSG);
    sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
  char bad[sizeof msg];
  memcpy(bad, msg, sizeof msg);
  bad[3] ^= 1;
  assert_int_equal(peer_verify(k.pub_pb, sizeof k.pub_pb, bad, sizeof msg - 1, sig, 64), -EBADMSG);
  /* truncated signature, another key */
  assert_int_equal(peer_verify(k.pub_pb, sizeof k.pub_pb, msg, sizeof msg - 1, sig, 63), -EBADMSG);
  peer_key_t other;
  assert_int_equal(peer_key_generate(&other), 0);
  assert_false(peer_id_equal(&other.id, &k.id));
  assert_int_equal(peer_verify(other.pub_pb, sizeof other.pub_pb, msg, sizeof msg - 1, sig, 64), -EBADMSG);
  /* the empty message signs too */
  assert_int_equal(peer_sign(&k, NULL, 0, sig), 0);
  assert_int_equal(peer_verify(k.pub_pb, sizeof k.pub_pb, NULL, 0, sig, 64), 0);
}

static void test_verify_key_errors(void **state) {
  (void)state;
  uint8_t sig[64] = {0};
  /* an RSA (type 0) key that is not PKIX DER */
  static const uint8_t rsa[] = {0x08, 0x00, 0x12, 0x03, 0x01, 0x02, 0x03};
  assert_int_equal(peer_verify(rsa, sizeof rsa, "x", 1, sig, 64), -EINVAL);
  /* Ed25519 of the wrong size, truncated, empty, garbage */
  static const uint8_t short_ed[] = {0x08, 0x01, 0x12, 0x03, 0x01, 0x02, 0x03};
  assert_int_equal(peer_verify(short_ed, sizeof short_ed, "x", 1, sig, 64), -EINVAL);
  peer_key_t k;
  seed0(&k);
  assert_int_equal(peer_verify(k.pub_pb, 30, "x", 1, sig, 64), -EINVAL);
  assert_int_equal(peer_verify(k.pub_pb, 0, "x", 1, sig, 64), -EINVAL);
  static const uint8_t garbage[] = {0xff, 0xff, 0xff};
  assert_int_equal(peer_verify(garbage, sizeof garbage, "x", 1, sig, 64), -EINVAL);
  /* missing Data (required) */
  static const uint8_t no_data[] = {0x08, 0x01};
  assert_int_equal(peer_verify(no_data, sizeof no_data, "x", 1, sig, 64), -EINVAL);
}

/* A PublicKey protobuf of type with data (the length a 1- or 2-byte varint). */
static size_t pb_of(int type, const uint8_t *data, size_t len, uint8_t *out) {
  size_t n = 0;
  out[n++] = 0x08, out[n++] = (uint8_t)type, out[n++] = 0x12;
  if (len < 128) out[n++] = (uint8_t)len;
  else out[n++] = (uint8_t)(0x80 | (len & 0x7f)), out[n++] = (uint8_t)(len >> 7);
  memcpy(out + n, data, len);
  return n + len;
}

/* Signs msg with OpenSSL as libp2p's other key types do (SHA-256), then
 * checks peer_verify accepts it, refuses a flipped bit, and derives a hashed
 * peer ID (these keys are longer than 42 bytes, but secp256k1's). */
static void check_other_key(EVP_PKEY *key, int type, const uint8_t *data, size_t len) {
  uint8_t pb[PEER_PUBKEY_PB_BYTES_MAX];
  size_t pb_len = pb_of(type, data, len, pb);
  static const char msg[] = "noise-libp2p-static-key:0123456789abcdef0123456789abcdef";
  uint8_t sig[PEER_SIGNATURE_BYTES_MAX];
  size_t sig_len = sizeof sig;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  assert_non_null(md);
  assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
  assert_int_equal(EVP_DigestSign(md, sig, &sig_len, (const uint8_t *)msg, sizeof msg - 1), 1);
  EVP_MD_CTX_free(md);
  assert_int_equal(peer_verify(pb, pb_len, msg, sizeof msg - 1, sig, sig_len), 0);
  sig[sig_len / 2] ^= 0x10;
  assert_int_equal(peer_verify(pb, pb_len, msg, sizeof msg - 1, sig, sig_len), -EBADMSG);
  sig[sig_len / 2] ^= 0x10;
  assert_int_equal(peer_verify(pb, pb_len, "other", 5, sig, sig_len), -EBADMSG);
  peer_id_t id;
  assert_int_equal(peer_id_from_pubkey(pb, pb_len, &id), 0);
  assert_int_equal(id.bytes[0], pb_len <= 42 ? 0x00 : 0x12);
}

static size_t pkix_der(EVP_PKEY *key, uint8_t *out, size_t cap) {
  int n = i2d_PUBKEY(key, NULL);
  assert_true(n > 0 && (size_t)n <= cap);
  uint8_t *p = out;
  assert_int_equal(i2d_PUBKEY(key, &p), n);
  return (size_t)n;
}

static void test_other_key_types(void **state) {
  (void)state;
  uint8_t data[PEER_PUBKEY_PB_BYTES_MAX];
  /* RSA 2048: PKIX DER, PKCS#1 v1.5 */
  EVP_PKEY *rsa = EVP_RSA_gen(2048);
  assert_non_null(rsa);
  check_other_key(rsa, 0, data, pkix_der(rsa, data, 900));
  EVP_PKEY_free(rsa);
  /* RSA 1024 is refused */
  EVP_PKEY *weak = EVP_RSA_gen(1024);
  assert_non_null(weak);
  uint8_t pb[PEER_PUBKEY_PB_BYTES_MAX], sig[64] = {0};
  size_t pb_len = pb_of(0, data, pkix_der(weak, data, 900), pb);
  assert_int_equal(peer_verify(pb, pb_len, "x", 1, sig, sizeof sig), -EINVAL);
  EVP_PKEY_free(weak);
  /* ECDSA P-256: PKIX DER, DER signature */
  EVP_PKEY *p256 = EVP_EC_gen("P-256");
  assert_non_null(p256);
  check_other_key(p256, 3, data, pkix_der(p256, data, 900));
  /* a P-256 key labelled RSA is refused */
  pb_len = pb_of(0, data, pkix_der(p256, data, 900), pb);
  assert_int_equal(peer_verify(pb, pb_len, "x", 1, sig, sizeof sig), -EINVAL);
  EVP_PKEY_free(p256);
  /* secp256k1: the 33-byte compressed point */
  EVP_PKEY *k1 = EVP_EC_gen("secp256k1");
  assert_non_null(k1);
  assert_int_equal(EVP_PKEY_set_utf8_string_param(k1, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"), 1);
  size_t point_len = 0;
  assert_int_equal(EVP_PKEY_get_octet_string_param(k1, OSSL_PKEY_PARAM_PUB_KEY, data, sizeof data, &point_len), 1);
  assert_int_equal(point_len, 33);
  check_other_key(k1, 2, data, point_len);
  /* a point off the curve is refused */
  data[5] ^= 0xff;
  pb_len = pb_of(2, data, point_len, pb);
  int rc = peer_verify(pb, pb_len, "x", 1, sig, sizeof sig);
  assert_true(rc == -EINVAL || rc == -EBADMSG);
  EVP_PKEY_free(k1);
}

static void test_parse_both_forms(void **state) {
  (void)state;
  peer_key_t k;
  seed0(&k);
  peer_id_t id;
  assert_int_equal(peer_id_parse(SEED0_PEER_ID, &id), 0);
  assert_true(peer_id_equal(&id, &k.id));
  memset(&id, 0, sizeof id);
  assert_int_equal(peer_id_parse(SEED0_IPNS, &id), 0);
  assert_true(peer_id_equal(&id, &k.id));
  /* a hashed (RSA) peer ID round trips */
  assert_int_equal(peer_id_parse(RSA_PEER_ID, &id), 0);
  assert_int_equal(id.len, 34);
  assert_int_equal(id.bytes[0], 0x12);
  const uint8_t *pb;
  size_t pb_len;
  assert_int_equal(peer_id_pubkey(&id, &pb, &pb_len), -ENOENT);
  char text[PEER_ID_TEXT_BYTES_MAX];
  assert_int_equal(peer_id_format(&id, text), 0);
  assert_string_equal(text, RSA_PEER_ID);
}

static void test_base32_cid_form(void **state) {
  (void)state;
  /* the CIDv1 base32 form is produced from the peer ID bytes: 01 72 <mh> */
  peer_key_t k;
  seed0(&k);
  uint8_t cid[2 + PEER_ID_BYTES_MAX] = {0x01, 0x72};
  memcpy(cid + 2, k.id.bytes, k.id.len);
  char text[PEER_ID_TEXT_BYTES_MAX];
  assert_true(mbase_encode_to(MBASE_BASE32, true, cid, 2u + k.id.len, text, sizeof text) > 0);
  assert_memory_equal(text, "bafzaa", 6);
  peer_id_t id;
  assert_int_equal(peer_id_parse(text, &id), 0);
  assert_true(peer_id_equal(&id, &k.id));
}

static void test_hashed_id_for_large_key(void **state) {
  (void)state;
  uint8_t pb[300];
  pb[0] = 0x08, pb[1] = 0x00, pb[2] = 0x12, pb[3] = 0xa7, pb[4] = 0x02; /* RSA, 295 bytes */
  for (size_t i = 5; i < sizeof pb; i++) pb[i] = (uint8_t)i;
  peer_id_t id;
  assert_int_equal(peer_id_from_pubkey(pb, sizeof pb, &id), 0);
  assert_int_equal(id.len, 34);
  assert_int_equal(id.bytes[0], 0x12);
  assert_int_equal(id.bytes[1], 0x20);
  char text[PEER_ID_TEXT_BYTES_MAX];
  assert_int_equal(peer_id_format(&id, text), 0);
  assert_memory_equal(text, "Qm", 2);
  /* a 42-byte key is still inline, 43 bytes hashed */
  uint8_t k42[42] = {0x08, 0x02, 0x12, 38};
  assert_int_equal(peer_id_from_pubkey(k42, 42, &id), 0);
  assert_int_equal(id.bytes[0], 0x00);
  assert_int_equal(id.len, 44);
  uint8_t k43[43] = {0x08, 0x02, 0x12, 39};
  assert_int_equal(peer_id_from_pubkey(k43, 43, &id), 0);
  assert_int_equal(id.bytes[0], 0x12);
  assert_int_equal(peer_id_from_pubkey(pb, 10, &id), -EINVAL); /* truncated */
}

static void expect_parse_error(const char *text) {
  peer_id_t id;
  memset(&id, 0x5a, sizeof id);
  peer_id_t before = id;
  err_clear();
  int rc = peer_id_parse(text, &id);
  if (rc != -EINVAL) fail_msg("\"%s\" parsed (rc %d) but must be rejected", text, rc);
  assert_memory_equal(&id, &before, sizeof id);
}

static void test_parse_errors(void **state) {
  (void)state;
  expect_parse_error("");
  expect_parse_error("12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXT");   /* one short */
  expect_parse_error("12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTNN"); /* one long */
  expect_parse_error("12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXT0");  /* not base58 */
  expect_parse_error("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5");        /* short hash */
  expect_parse_error("bafybeif7ztnhq65lumvvtr4ekcwd2ifwgm3awq4zfr3srh462rwyinlb4y"); /* dag-pb CID */
  expect_parse_error("k51qzi5uqu5dhnwe629wdlncpql6frppdpwnz4wtlcw816aysd5wwlk63g4wm"); /* one short */
  expect_parse_error("zzzz");
  expect_parse_error("/ip4/1.2.3.4");
  char longtext[300];
  memset(longtext, '1', sizeof longtext - 1);
  longtext[sizeof longtext - 1] = '\0';
  expect_parse_error(longtext);
  /* bytes: wrong code, length mismatch, identity holding no key */
  peer_id_t id;
  static const uint8_t md5ish[] = {0xd5, 0x01, 0x02, 0x00, 0x00};
  assert_int_equal(peer_id_from_bytes(md5ish, sizeof md5ish, &id), -EINVAL);
  static const uint8_t mismatch[] = {0x00, 0x05, 0x08, 0x01};
  assert_int_equal(peer_id_from_bytes(mismatch, sizeof mismatch, &id), -EINVAL);
  static const uint8_t not_key[] = {0x00, 0x03, 0xff, 0xff, 0xff};
  assert_int_equal(peer_id_from_bytes(not_key, sizeof not_key, &id), -EINVAL);
  assert_int_equal(peer_id_from_bytes(not_key, 0, &id), -EINVAL);
  static const uint8_t sha_short[] = {0x12, 0x02, 0x00, 0x00};
  assert_int_equal(peer_id_from_bytes(sha_short, sizeof sha_short, &id), -EINVAL);
}

static void write_key_file(const char *dir, const uint8_t *data, size_t len) {
  char path[4200];
  snprintf(path, sizeof path, "%s/keystore", dir);
  mkdir(path, 0700);
  snprintf(path, sizeof path, "%s/keystore/self", dir);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  fclose(f);
}

static void test_key_load(void **state) {
  (void)state;
  char dir[4096];
  assert_int_equal(testdir_make(dir, sizeof dir, "anya-peer"), 0);
  char repo[4200];
  snprintf(repo, sizeof repo, "%s/repo", dir);
  char init_id[64];
  assert_int_equal(repo_init(repo, "dev", init_id), 0);
  peer_key_t k;
  assert_int_equal(peer_key_load(repo, &k), 0);
  char text[PEER_ID_TEXT_BYTES_MAX];
  assert_int_equal(peer_id_format(&k.id, text), 0);
  assert_string_equal(text, init_id);
  /* the loaded key signs for its ID */
  uint8_t sig[64];
  assert_int_equal(peer_sign(&k, "m", 1, sig), 0);
  assert_int_equal(peer_verify(k.pub_pb, sizeof k.pub_pb, "m", 1, sig, 64), 0);

  /* the seed-0 key by hand: current form, legacy form, bad forms */
  peer_key_t z;
  seed0(&z);
  uint8_t file[4 + 96] = {0x08, 0x01, 0x12, 0x40};
  memcpy(file + 4, z.seed, 32);
  memcpy(file + 36, z.pub, 32);
  char d2[4200];
  snprintf(d2, sizeof d2, "%s/hand", dir);
  mkdir(d2, 0700);
  write_key_file(d2, file, 68);
  assert_int_equal(peer_key_load(d2, &k), 0);
  assert_true(peer_id_equal(&k.id, &z.id));
  file[3] = 0x60;
  memcpy(file + 68, z.pub, 32);
  write_key_file(d2, file, 100);
  assert_int_equal(peer_key_load(d2, &k), 0);
  assert_true(peer_id_equal(&k.id, &z.id));
  file[99] ^= 1; /* the two public copies differ */
  write_key_file(d2, file, 100);
  assert_int_equal(peer_key_load(d2, &k), -EINVAL);
  assert_non_null(strstr(err_msg(-EINVAL), "keystore/self"));
  file[3] = 0x40;
  file[67] ^= 1; /* public key not of this seed */
  write_key_file(d2, file, 68);
  assert_int_equal(peer_key_load(d2, &k), -EINVAL);
  file[67] ^= 1;
  file[1] = 0x02; /* secp256k1 */
  write_key_file(d2, file, 68);
  assert_int_equal(peer_key_load(d2, &k), -EINVAL);
  write_key_file(d2, file, 10); /* truncated */
  assert_int_equal(peer_key_load(d2, &k), -EINVAL);
  write_key_file(d2, file, 0);
  assert_int_equal(peer_key_load(d2, &k), -EINVAL);
  char missing[4300];
  snprintf(missing, sizeof missing, "%s/none", dir);
  assert_int_equal(peer_key_load(missing, &k), -ENOENT);
  testdir_remove(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seed0_vector),    cmocka_unit_test(test_sign_verify),
      cmocka_unit_test(test_verify_key_errors), cmocka_unit_test(test_other_key_types), cmocka_unit_test(test_parse_both_forms),
      cmocka_unit_test(test_base32_cid_form), cmocka_unit_test(test_hashed_id_for_large_key),
      cmocka_unit_test(test_parse_errors),    cmocka_unit_test(test_key_load),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
