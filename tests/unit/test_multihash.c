/*
 * multihash: sha2-256 against FIPS 180-2 vectors ("", "abc", the two-block
 * message, a million 'a'), the empty UnixFS file block of ipfs-reference §7,
 * identity, the wire form, concurrent hashing from several threads (each has
 * its own OpenSSL context), and every rejection of mh_decode.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "multihash.h"

static void hex_to_bytes(const char *hex, uint8_t *out) {
  size_t n = strlen(hex) / 2;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
    out[i] = (uint8_t)v;
  }
}

typedef struct sha_vector {
  const char *data;
  size_t repeat; /* data is repeated this many times */
  const char *digest_hex;
} sha_vector_t;

static const sha_vector_t sha_vectors[] = {
    {"", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {"a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    /* empty UnixFS file (PBNode Data 08 02 18 00), QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH */
    {"\x0a\x04\x08\x02\x18\x00", 1, "bfccda787baba32b59c78450ac3d20b633360b43992c77289f9ed46d843561e6"},
};

static uint8_t *repeat_data(const sha_vector_t *v, size_t *len) {
  size_t one = strlen(v->data);
  if (v == &sha_vectors[4]) one = 6; /* contains NUL */
  *len = one * v->repeat;
  uint8_t *data = malloc(*len ? *len : 1);
  assert_non_null(data);
  for (size_t i = 0; i < v->repeat; i++) memcpy(data + i * one, v->data, one);
  return data;
}

static void test_sha256_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof sha_vectors / sizeof sha_vectors[0]; i++) {
    size_t len;
    uint8_t *data = repeat_data(&sha_vectors[i], &len);
    uint8_t expect[32], got[32];
    hex_to_bytes(sha_vectors[i].digest_hex, expect);
    mh_sha256_raw(data, len, got);
    assert_memory_equal(got, expect, 32);
    mh_t mh;
    assert_int_equal(mh_sum(MH_SHA2_256, data, len, &mh), 0);
    assert_int_equal(mh.code, MH_SHA2_256);
    assert_int_equal(mh.digest_len, 32);
    assert_memory_equal(mh.digest, expect, 32);
    assert_int_equal(mh_verify(&mh, data, len), 1);
    if (len) {
      data[len - 1] ^= 1;
      assert_int_equal(mh_verify(&mh, data, len), 0);
    }
    free(data);
  }
  uint8_t got[32], expect[32];
  hex_to_bytes(sha_vectors[0].digest_hex, expect);
  mh_sha256_raw(NULL, 0, got); /* NULL is fine for empty input */
  assert_memory_equal(got, expect, 32);
}

static void test_encode_sha256(void **state) {
  (void)state;
  mh_t mh;
  assert_int_equal(mh_sum(MH_SHA2_256, "", 0, &mh), 0);
  uint8_t out[MH_BYTES_MAX];
  size_t n = mh_encode(&mh, out);
  assert_int_equal(n, 34);
  uint8_t expect[34];
  hex_to_bytes("1220e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", expect);
  assert_memory_equal(out, expect, 34);
  mh_t back;
  assert_int_equal(mh_decode(out, n, &back), 34);
  assert_true(mh_equal(&back, &mh));
}

static void test_identity(void **state) {
  (void)state;
  mh_t mh;
  assert_int_equal(mh_sum(MH_IDENTITY, "", 0, &mh), 0);
  uint8_t out[MH_BYTES_MAX];
  assert_int_equal(mh_encode(&mh, out), 2);
  assert_memory_equal(out, "\x00\x00", 2);
  assert_int_equal(mh_verify(&mh, "", 0), 1);
  assert_int_equal(mh_verify(&mh, "x", 1), 0);

  uint8_t data[MH_IDENTITY_BYTES_MAX + 1];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)i;
  assert_int_equal(mh_sum(MH_IDENTITY, data, MH_IDENTITY_BYTES_MAX, &mh), 0);
  assert_int_equal(mh.digest_len, MH_IDENTITY_BYTES_MAX);
  size_t n = mh_encode(&mh, out);
  assert_int_equal(n, 3 + MH_IDENTITY_BYTES_MAX); /* 00, varint(128) = 80 01, data */
  assert_memory_equal(out, "\x00\x80\x01", 3);
  mh_t back;
  assert_int_equal(mh_decode(out, n, &back), (int)n);
  assert_true(mh_equal(&back, &mh));
  assert_int_equal(mh_verify(&back, data, MH_IDENTITY_BYTES_MAX), 1);
  assert_int_equal(mh_verify(&back, data, MH_IDENTITY_BYTES_MAX - 1), 0);

  /* Ed25519 peer ID: identity over the 36-byte PublicKey protobuf (ipfs-reference §5) */
  uint8_t key[36];
  hex_to_bytes("080112203b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29", key);
  assert_int_equal(mh_sum(MH_IDENTITY, key, sizeof key, &mh), 0);
  n = mh_encode(&mh, out);
  assert_int_equal(n, 38);
  assert_memory_equal(out, "\x00\x24\x08\x01\x12\x20", 6);

  mh.digest_len = 0xdead;
  assert_int_equal(mh_sum(MH_IDENTITY, data, MH_IDENTITY_BYTES_MAX + 1, &mh), -E2BIG);
  assert_int_equal(mh.digest_len, 0xdead); /* untouched */
}

static void test_unsupported(void **state) {
  (void)state;
  mh_t mh;
  assert_int_equal(mh_sum(0x13 /* sha2-512 */, "abc", 3, &mh), -ENOTSUP);
  assert_int_equal(mh_sum(0x1e /* blake3 */, "abc", 3, &mh), -ENOTSUP);
  /* decoding an unknown hash is fine (it is only carried), verifying is not */
  uint8_t wire[2 + 64];
  wire[0] = 0x13;
  wire[1] = 64;
  memset(wire + 2, 0xab, 64);
  assert_int_equal(mh_decode(wire, sizeof wire, &mh), (int)sizeof wire);
  assert_int_equal(mh.code, 0x13);
  assert_int_equal(mh.digest_len, 64);
  assert_int_equal(mh_verify(&mh, "abc", 3), -ENOTSUP);
  /* a multi-byte code (murmur3-x64-64 is 0x22; try 0xb220 blake2b-256: varint a0 e4 02) */
  uint8_t wire2[] = {0xa0, 0xe4, 0x02, 0x02, 0xaa, 0xbb};
  assert_int_equal(mh_decode(wire2, sizeof wire2, &mh), 6);
  assert_int_equal(mh.code, 0xb220);
  uint8_t out[MH_BYTES_MAX];
  assert_int_equal(mh_encode(&mh, out), 6);
  assert_memory_equal(out, wire2, 6);
}

static void test_decode_truncated(void **state) {
  (void)state;
  mh_t mh, good;
  assert_int_equal(mh_sum(MH_SHA2_256, "abc", 3, &good), 0);
  uint8_t wire[MH_BYTES_MAX];
  size_t n = mh_encode(&good, wire);
  for (size_t len = 0; len < n; len++) assert_int_equal(mh_decode(wire, len, &mh), -EAGAIN);
  assert_int_equal(mh_decode(wire, n, &mh), (int)n);
  /* extra bytes after a multihash are not consumed */
  wire[n] = 0x99;
  assert_int_equal(mh_decode(wire, n + 1, &mh), (int)n);
  /* truncated multi-byte code and length varints */
  const uint8_t code_cut[] = {0xa0};
  assert_int_equal(mh_decode(code_cut, 1, &mh), -EAGAIN);
  const uint8_t len_cut[] = {0x00, 0x80};
  assert_int_equal(mh_decode(len_cut, 2, &mh), -EAGAIN);
}

static void test_decode_invalid(void **state) {
  (void)state;
  mh_t mh;
  mh.code = 777;
  uint8_t wire[4 + 200];
  memset(wire, 0x11, sizeof wire);
  /* sha2-256 with a digest length other than 32 */
  wire[0] = 0x12;
  wire[1] = 31;
  assert_int_equal(mh_decode(wire, 2 + 31, &mh), -EINVAL);
  wire[1] = 33;
  assert_int_equal(mh_decode(wire, 2 + 33, &mh), -EINVAL);
  wire[1] = 0;
  assert_int_equal(mh_decode(wire, 2, &mh), -EINVAL);
  /* identity longer than MH_IDENTITY_BYTES_MAX (129 = 81 01) */
  wire[0] = 0x00;
  wire[1] = 0x81;
  wire[2] = 0x01;
  err_clear();
  assert_int_equal(mh_decode(wire, 3 + 129, &mh), -EINVAL);
  assert_non_null(strstr(err_msg(-EINVAL), "identity"));
  /* any digest over MH_DIGEST_BYTES_MAX */
  wire[0] = 0x13;
  assert_int_equal(mh_decode(wire, 3 + 129, &mh), -EINVAL);
  /* ... even when the input is too short to hold it: invalid beats truncated */
  assert_int_equal(mh_decode(wire, 3, &mh), -EINVAL);
  /* non-minimal varints in the code and in the length */
  const uint8_t code_padded[] = {0x92, 0x00, 0x20};
  assert_int_equal(mh_decode(code_padded, sizeof code_padded, &mh), -EINVAL);
  const uint8_t len_padded[] = {0x12, 0xa0, 0x00};
  assert_int_equal(mh_decode(len_padded, sizeof len_padded, &mh), -EINVAL);
  /* over-long length varint */
  const uint8_t len_long[] = {0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  assert_int_equal(mh_decode(len_long, sizeof len_long, &mh), -EINVAL);
  assert_int_equal(mh.code, 777); /* untouched on error */
}

static void test_equal(void **state) {
  (void)state;
  mh_t a, b;
  assert_int_equal(mh_sum(MH_SHA2_256, "abc", 3, &a), 0);
  b = a;
  assert_true(mh_equal(&a, &b));
  b.digest[31] ^= 1;
  assert_false(mh_equal(&a, &b));
  b = a;
  b.code = 0x13;
  assert_false(mh_equal(&a, &b));
  assert_int_equal(mh_sum(MH_IDENTITY, "abc", 3, &a), 0);
  assert_int_equal(mh_sum(MH_IDENTITY, "abcd", 4, &b), 0);
  assert_false(mh_equal(&a, &b));
  b.digest_len = 3;
  assert_true(mh_equal(&a, &b));
  /* wrong length sha2-256 never verifies */
  assert_int_equal(mh_sum(MH_SHA2_256, "abc", 3, &a), 0);
  a.digest_len = 31;
  assert_int_equal(mh_verify(&a, "abc", 3), 0);
}

#define THREADS 4
#define THREAD_ROUNDS 2000

static void *hash_worker(void *arg) {
  uintptr_t id = (uintptr_t)arg;
  uint8_t data[1000], expect[32], got[32];
  memset(data, (int)id, sizeof data);
  mh_sha256_raw(data, sizeof data, expect);
  for (int i = 0; i < THREAD_ROUNDS; i++) {
    mh_sha256_raw(data, sizeof data - (size_t)(i % 2), got);
    if (i % 2 == 0 && memcmp(got, expect, 32) != 0) return (void *)1;
  }
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  pthread_t threads[THREADS];
  for (uintptr_t i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&threads[i], NULL, hash_worker, (void *)i), 0);
  for (int i = 0; i < THREADS; i++) {
    void *result = (void *)1;
    assert_int_equal(pthread_join(threads[i], &result), 0);
    assert_null(result);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha256_vectors), cmocka_unit_test(test_encode_sha256),
      cmocka_unit_test(test_identity),       cmocka_unit_test(test_unsupported),
      cmocka_unit_test(test_decode_truncated), cmocka_unit_test(test_decode_invalid),
      cmocka_unit_test(test_equal),          cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
