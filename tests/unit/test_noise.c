/*
 * noise: full XX handshakes in memory between two peer keys, transport
 * frames both ways, the in-Noise muxer negotiation, the expected peer ID,
 * tampered handshake messages and frames, forged and unverifiable identity
 * signatures, nonce ordering, turn-taking and the size limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "noise.h"
#include "noise.pb-c.h"

#define YAMUX "/yamux/1.0.0"
#define MPLEX "/mplex/6.7.0"
#define SIG_PREFIX "noise-libp2p-static-key:"

typedef struct pair {
  peer_key_t ik, rk;           /* initiator's and responder's identities */
  noise_hs_t *init, *resp;
  buf_t msg[3];                /* the three handshake messages as written */
} pair_t;

static void keys(pair_t *p) {
  uint8_t seed[32] = {0};
  assert_int_equal(peer_key_from_seed(seed, &p->ik), 0);
  seed[0] = 1;
  assert_int_equal(peer_key_from_seed(seed, &p->rk), 0);
}

static void pair_new(pair_t *p, const char *const *im, size_t in, const char *const *rm, size_t rn,
                     const peer_id_t *expected) {
  memset(p, 0, sizeof *p);
  keys(p);
  assert_int_equal(noise_hs_new(true, &p->ik, im, in, expected, &p->init), 0);
  assert_int_equal(noise_hs_new(false, &p->rk, rm, rn, NULL, &p->resp), 0);
}

static void pair_free(pair_t *p) {
  noise_hs_free(p->init);
  noise_hs_free(p->resp);
  for (int i = 0; i < 3; i++) buf_free(&p->msg[i]);
}

/* Writes message i (0..2) from the side whose turn it is. */
static noise_hs_t *write_msg(pair_t *p, int i) {
  noise_hs_t *from = i % 2 == 0 ? p->init : p->resp;
  noise_hs_t *to = i % 2 == 0 ? p->resp : p->init;
  assert_true(noise_hs_my_turn(from));
  assert_false(noise_hs_my_turn(to));
  assert_int_equal(noise_hs_write(from, &p->msg[i]), 0);
  return to;
}

static void run_handshake(pair_t *p) {
  for (int i = 0; i < 3; i++) {
    noise_hs_t *to = write_msg(p, i);
    int rc = noise_hs_read(to, p->msg[i].data, p->msg[i].len);
    if (rc) fail_msg("message %d: %d %s", i + 1, rc, err_msg(rc));
  }
  assert_true(noise_hs_done(p->init));
  assert_true(noise_hs_done(p->resp));
  assert_false(noise_hs_my_turn(p->init));
  assert_false(noise_hs_my_turn(p->resp));
}

static void finish(pair_t *p, noise_cipher_t **is, noise_cipher_t **ir, noise_cipher_t **rs, noise_cipher_t **rr,
                   char im[64], char rm[64]) {
  peer_id_t iremote, rremote;
  assert_int_equal(noise_hs_finish(p->init, is, ir, &iremote, im), 0);
  assert_int_equal(noise_hs_finish(p->resp, rs, rr, &rremote, rm), 0);
  assert_true(peer_id_equal(&iremote, &p->rk.id));
  assert_true(peer_id_equal(&rremote, &p->ik.id));
  assert_string_equal(im, rm);
}

/* Sends len bytes through a frame from -> to and checks they arrive. */
static void frame_through(noise_cipher_t *from, noise_cipher_t *to, size_t len, uint8_t fill) {
  uint8_t *data = malloc(len ? len : 1);
  assert_non_null(data);
  memset(data, fill, len);
  buf_t wire = {0};
  assert_int_equal(noise_encrypt_frame(from, data, len, &wire), 0);
  assert_int_equal(wire.len, 2 + len + NOISE_TAG_BYTES);
  assert_int_equal((size_t)wire.data[0] << 8 | wire.data[1], len + NOISE_TAG_BYTES);
  if (len >= 16) assert_memory_not_equal(wire.data + 2, data, 16); /* encrypted */
  int n = noise_decrypt(to, wire.data + 2, wire.len - 2, wire.data + 2); /* in place */
  assert_int_equal(n, (int)len);
  if (len) assert_memory_equal(wire.data + 2, data, len);
  buf_free(&wire);
  free(data);
}

static void test_handshake_and_frames(void **state) {
  (void)state;
  static const char *const mux[] = {YAMUX};
  pair_t p;
  pair_new(&p, mux, 1, mux, 1, NULL);
  run_handshake(&p);
  assert_int_equal(p.msg[0].len, 32); /* e, empty payload */
  noise_cipher_t *is, *ir, *rs, *rr;
  char im[64], rm[64];
  finish(&p, &is, &ir, &rs, &rr, im, rm);
  assert_string_equal(im, YAMUX);
  /* finish hands the keys out once */
  noise_cipher_t *x, *y;
  peer_id_t id;
  char m[64];
  assert_int_equal(noise_hs_finish(p.init, &x, &y, &id, m), -EPROTO);
  for (int round = 0; round < 3; round++) {
    frame_through(is, rr, 0, 0);
    frame_through(is, rr, 1000, 0xa5);
    frame_through(rs, ir, 1, 0x5a);
    frame_through(rs, ir, NOISE_PLAINTEXT_BYTES_MAX, 0x11);
  }
  /* a cipher does not decrypt its own direction's frames with the other key */
  buf_t wire = {0};
  assert_int_equal(noise_encrypt_frame(is, (const uint8_t *)"abc", 3, &wire), 0);
  uint8_t out[64];
  assert_int_equal(noise_decrypt(ir, wire.data + 2, wire.len - 2, out), -EBADMSG);
  assert_int_equal(noise_decrypt(rr, wire.data + 2, wire.len - 2, out), 3);
  /* a frame written in place: the same layout, the next nonce, exactly NOISE_FRAME_BYTES */
  uint8_t at[NOISE_FRAME_BYTES(5) + 1];
  at[NOISE_FRAME_BYTES(5)] = 0xee;
  assert_int_equal(noise_encrypt_frame_to(is, (const uint8_t *)"hello", 5, at), NOISE_FRAME_BYTES(5));
  assert_int_equal(at[NOISE_FRAME_BYTES(5)], 0xee);
  assert_int_equal((size_t)at[0] << 8 | at[1], 5 + NOISE_TAG_BYTES);
  assert_int_equal(noise_decrypt(rr, at + 2, 5 + NOISE_TAG_BYTES, out), 5);
  assert_memory_equal(out, "hello", 5);
  assert_int_equal(noise_encrypt_frame_to(is, at, NOISE_PLAINTEXT_BYTES_MAX + 1, at), -E2BIG);
  /* too much for one frame */
  uint8_t *big = calloc(1, NOISE_PLAINTEXT_BYTES_MAX + 1);
  assert_non_null(big);
  size_t before = wire.len;
  assert_int_equal(noise_encrypt_frame(is, big, NOISE_PLAINTEXT_BYTES_MAX + 1, &wire), -E2BIG);
  assert_int_equal(wire.len, before);
  free(big);
  /* frames shorter than a tag or longer than the maximum */
  assert_int_equal(noise_decrypt(rr, wire.data + 2, NOISE_TAG_BYTES - 1, out), -EBADMSG);
  buf_free(&wire);
  noise_cipher_free(is);
  noise_cipher_free(ir);
  noise_cipher_free(rs);
  noise_cipher_free(rr);
  pair_free(&p);
}

static void negotiate(const char *const *im, size_t in, const char *const *rm, size_t rn, const char *want) {
  pair_t p;
  pair_new(&p, im, in, rm, rn, NULL);
  run_handshake(&p);
  noise_cipher_t *is, *ir, *rs, *rr;
  char imux[64], rmux[64];
  finish(&p, &is, &ir, &rs, &rr, imux, rmux);
  assert_string_equal(imux, want);
  frame_through(is, rr, 10, 1);
  noise_cipher_free(is);
  noise_cipher_free(ir);
  noise_cipher_free(rs);
  noise_cipher_free(rr);
  pair_free(&p);
}

static void test_muxer_negotiation(void **state) {
  (void)state;
  static const char *const yamux[] = {YAMUX};
  static const char *const mplex_first[] = {MPLEX, YAMUX};
  static const char *const yamux_first[] = {YAMUX, MPLEX};
  static const char *const mplex[] = {MPLEX};
  negotiate(yamux, 1, yamux, 1, YAMUX);
  negotiate(mplex_first, 2, yamux_first, 2, MPLEX); /* the initiator's preference wins */
  negotiate(yamux_first, 2, mplex_first, 2, YAMUX);
  negotiate(mplex_first, 2, yamux, 1, YAMUX);
  negotiate(yamux, 1, NULL, 0, "");  /* responder sends no extension */
  negotiate(NULL, 0, yamux, 1, "");  /* initiator sends no extension */
  negotiate(NULL, 0, NULL, 0, "");
  negotiate(mplex, 1, yamux, 1, ""); /* nothing overlaps: multistream-select decides */
}

static void test_expected_peer(void **state) {
  (void)state;
  pair_t p;
  keys(&p);
  /* the right expectation passes */
  peer_id_t want = p.rk.id;
  pair_new(&p, NULL, 0, NULL, 0, &want);
  run_handshake(&p);
  pair_free(&p);
  /* a different one fails message 2 with -EACCES, and the handshake stays failed */
  peer_id_t other = p.ik.id;
  pair_new(&p, NULL, 0, NULL, 0, &other);
  noise_hs_t *to = write_msg(&p, 0);
  assert_int_equal(noise_hs_read(to, p.msg[0].data, p.msg[0].len), 0);
  to = write_msg(&p, 1);
  err_clear();
  assert_int_equal(noise_hs_read(to, p.msg[1].data, p.msg[1].len), -EACCES);
  assert_non_null(strstr(err_msg(-EACCES), "expected"));
  assert_false(noise_hs_my_turn(p.init));
  assert_false(noise_hs_done(p.init));
  buf_t out = {0};
  assert_int_equal(noise_hs_write(p.init, &out), -EPROTO);
  assert_int_equal(out.len, 0);
  pair_free(&p);
}

/* Runs a handshake with byte `at` of message `which` (0..2) flipped; returns the reader's rc. */
static int tampered(int which, size_t at) {
  pair_t p;
  pair_new(&p, NULL, 0, NULL, 0, NULL);
  int rc = 0;
  for (int i = 0; i < 3; i++) {
    noise_hs_t *to = write_msg(&p, i);
    if (i == which) {
      assert_true(at < p.msg[i].len);
      p.msg[i].data[at] ^= 0x01;
    }
    rc = noise_hs_read(to, p.msg[i].data, p.msg[i].len);
    if (rc) break;
  }
  if (rc == 0) { /* a flipped message 1 only surfaces as mismatched transport keys */
    noise_cipher_t *is, *ir, *rs, *rr;
    peer_id_t a;
    char m[64];
    assert_int_equal(noise_hs_finish(p.init, &is, &ir, &a, m), 0);
    assert_int_equal(noise_hs_finish(p.resp, &rs, &rr, &a, m), 0);
    buf_t wire = {0};
    assert_int_equal(noise_encrypt_frame(is, (const uint8_t *)"x", 1, &wire), 0);
    uint8_t out[32];
    rc = noise_decrypt(rr, wire.data + 2, wire.len - 2, out);
    buf_free(&wire);
    noise_cipher_free(is);
    noise_cipher_free(ir);
    noise_cipher_free(rs);
    noise_cipher_free(rr);
  }
  pair_free(&p);
  return rc;
}

static void test_tampered_handshake(void **state) {
  (void)state;
  /* message 1: e is hashed, so the responder's message 2 no longer decrypts */
  assert_int_equal(tampered(0, 5), -EBADMSG);
  /* message 2: e, encrypted s, encrypted payload, tag */
  assert_int_equal(tampered(1, 0), -EBADMSG);
  assert_int_equal(tampered(1, 40), -EBADMSG);
  assert_int_equal(tampered(1, 90), -EBADMSG);
  /* message 3: encrypted s, payload */
  assert_int_equal(tampered(2, 3), -EBADMSG);
  assert_int_equal(tampered(2, 60), -EBADMSG);
  /* truncated messages */
  pair_t p;
  pair_new(&p, NULL, 0, NULL, 0, NULL);
  noise_hs_t *to = write_msg(&p, 0);
  assert_int_equal(noise_hs_read(to, p.msg[0].data, 31), -EBADMSG);
  pair_free(&p);
  pair_new(&p, NULL, 0, NULL, 0, NULL);
  to = write_msg(&p, 0);
  assert_int_equal(noise_hs_read(to, p.msg[0].data, p.msg[0].len), 0);
  to = write_msg(&p, 1);
  assert_int_equal(noise_hs_read(to, p.msg[1].data, 95), -EBADMSG);
  pair_free(&p);
  pair_new(&p, NULL, 0, NULL, 0, NULL);
  for (int i = 0; i < 2; i++) {
    to = write_msg(&p, i);
    assert_int_equal(noise_hs_read(to, p.msg[i].data, p.msg[i].len), 0);
  }
  to = write_msg(&p, 2);
  assert_int_equal(noise_hs_read(to, p.msg[2].data, p.msg[2].len - 1), -EBADMSG);
  pair_free(&p);
}

static void test_turns(void **state) {
  (void)state;
  pair_t p;
  pair_new(&p, NULL, 0, NULL, 0, NULL);
  buf_t out = {0};
  assert_true(noise_hs_my_turn(p.init));
  assert_false(noise_hs_my_turn(p.resp));
  assert_int_equal(noise_hs_write(p.resp, &out), -EPROTO);
  assert_int_equal(noise_hs_read(p.init, (const uint8_t *)"x", 1), -EPROTO);
  noise_cipher_t *a, *b;
  peer_id_t id;
  char m[64];
  assert_int_equal(noise_hs_finish(p.init, &a, &b, &id, m), -EPROTO);
  run_handshake(&p);
  assert_int_equal(noise_hs_write(p.init, &out), -EPROTO);
  assert_int_equal(noise_hs_read(p.resp, (const uint8_t *)"x", 1), -EPROTO);
  buf_free(&out);
  pair_free(&p);
  /* bad muxer lists */
  noise_hs_t *hs;
  peer_key_t k;
  keys(&p);
  k = p.ik;
  static const char *const empty[] = {""};
  assert_int_equal(noise_hs_new(true, &k, empty, 1, NULL, &hs), -EINVAL);
  static const char *const many[NOISE_MUXERS_MAX + 1] = {YAMUX, YAMUX, YAMUX, YAMUX, YAMUX, YAMUX, YAMUX, YAMUX, YAMUX};
  assert_int_equal(noise_hs_new(true, &k, many, NOISE_MUXERS_MAX + 1, NULL, &hs), -EINVAL);
  assert_int_equal(noise_hs_new(true, &k, many, NOISE_MUXERS_MAX, NULL, &hs), 0);
  noise_hs_free(hs);
}

/* A payload as a remote would send it, signed by `signer` over `signed_static`. */
static size_t payload(const uint8_t *key_pb, size_t key_len, const peer_key_t *signer, const uint8_t signed_static[32],
                      const char *const *muxers, size_t n, uint8_t *out) {
  uint8_t msg[sizeof SIG_PREFIX - 1 + 32];
  memcpy(msg, SIG_PREFIX, sizeof SIG_PREFIX - 1);
  memcpy(msg + sizeof SIG_PREFIX - 1, signed_static, 32);
  uint8_t sig[64];
  assert_int_equal(peer_sign(signer, msg, sizeof msg, sig), 0);
  P2p__NoiseHandshakePayload p = P2P__NOISE_HANDSHAKE_PAYLOAD__INIT;
  P2p__NoiseExtensions ext = P2P__NOISE_EXTENSIONS__INIT;
  p.has_identity_key = 1;
  p.identity_key.data = (uint8_t *)key_pb;
  p.identity_key.len = key_len;
  p.has_identity_sig = 1;
  p.identity_sig.data = sig;
  p.identity_sig.len = 64;
  if (n) {
    ext.n_stream_muxers = n;
    ext.stream_muxers = (char **)muxers;
    p.extensions = &ext;
  }
  return p2p__noise_handshake_payload__pack(&p, out);
}

static void test_payload_check(void **state) {
  (void)state;
  pair_t p;
  keys(&p);
  uint8_t st[32], other_st[32];
  memset(st, 7, sizeof st);
  memset(other_st, 8, sizeof other_st);
  uint8_t buf[4096];
  peer_id_t remote;
  char muxers[NOISE_MUXERS_MAX][64];
  size_t count = 99;
  static const char *const mux[] = {YAMUX, MPLEX};
  size_t n = payload(p.rk.pub_pb, 36, &p.rk, st, mux, 2, buf);
  assert_int_equal(noise_payload_check(buf, n, st, &remote, muxers, &count), 0);
  assert_true(peer_id_equal(&remote, &p.rk.id));
  assert_int_equal(count, 2);
  assert_string_equal(muxers[0], YAMUX);
  assert_string_equal(muxers[1], MPLEX);
  /* forged: signed over another static key, or by another identity */
  assert_int_equal(noise_payload_check(buf, n, other_st, &remote, muxers, &count), -EACCES);
  n = payload(p.rk.pub_pb, 36, &p.ik, st, NULL, 0, buf);
  assert_int_equal(noise_payload_check(buf, n, st, &remote, muxers, &count), -EACCES);
  /* an RSA key that is not PKIX DER */
  static const uint8_t rsa[] = {0x08, 0x00, 0x12, 0x03, 1, 2, 3};
  n = payload(rsa, sizeof rsa, &p.rk, st, NULL, 0, buf);
  assert_int_equal(noise_payload_check(buf, n, st, &remote, muxers, &count), -EBADMSG);
  /* malformed key, no key, garbage, empty */
  n = payload(p.rk.pub_pb, 20, &p.rk, st, NULL, 0, buf);
  assert_int_equal(noise_payload_check(buf, n, st, &remote, muxers, &count), -EBADMSG);
  P2p__NoiseHandshakePayload empty = P2P__NOISE_HANDSHAKE_PAYLOAD__INIT;
  n = p2p__noise_handshake_payload__pack(&empty, buf);
  assert_int_equal(noise_payload_check(buf, n, st, &remote, muxers, &count), -EBADMSG);
  static const uint8_t garbage[] = {0x0a, 0xff, 0x01};
  assert_int_equal(noise_payload_check(garbage, sizeof garbage, st, &remote, muxers, &count), -EBADMSG);
  /* more muxers than we keep, and ids too long, are skipped */
  char longid[100];
  memset(longid, 'a', sizeof longid - 1);
  longid[sizeof longid - 1] = '\0';
  const char *lots[12];
  for (int i = 0; i < 12; i++) lots[i] = i == 0 ? longid : YAMUX;
  n = payload(p.rk.pub_pb, 36, &p.rk, st, lots, 12, buf);
  assert_int_equal(noise_payload_check(buf, n, st, &remote, muxers, &count), 0);
  assert_int_equal(count, NOISE_MUXERS_MAX);
  assert_string_equal(muxers[0], YAMUX);
}

static void test_tampered_frames_and_nonces(void **state) {
  (void)state;
  pair_t p;
  pair_new(&p, NULL, 0, NULL, 0, NULL);
  run_handshake(&p);
  noise_cipher_t *is, *ir, *rs, *rr;
  char im[64], rm[64];
  finish(&p, &is, &ir, &rs, &rr, im, rm);
  assert_string_equal(im, "");
  buf_t f1 = {0}, f2 = {0};
  assert_int_equal(noise_encrypt_frame(is, (const uint8_t *)"first", 5, &f1), 0);
  assert_int_equal(noise_encrypt_frame(is, (const uint8_t *)"second", 6, &f2), 0);
  uint8_t out[64];
  /* every flipped byte (ciphertext or tag) fails, and does not advance the nonce */
  for (size_t i = 2; i < f1.len; i++) {
    f1.data[i] ^= 0x80;
    assert_int_equal(noise_decrypt(rr, f1.data + 2, f1.len - 2, out), -EBADMSG);
    f1.data[i] ^= 0x80;
  }
  /* out of order: the second frame does not decrypt under the first nonce */
  assert_int_equal(noise_decrypt(rr, f2.data + 2, f2.len - 2, out), -EBADMSG);
  assert_int_equal(noise_decrypt(rr, f1.data + 2, f1.len - 2, out), 5);
  assert_memory_equal(out, "first", 5);
  /* a replay of the first fails under the second nonce */
  assert_int_equal(noise_decrypt(rr, f1.data + 2, f1.len - 2, out), -EBADMSG);
  assert_int_equal(noise_decrypt(rr, f2.data + 2, f2.len - 2, out), 6);
  assert_memory_equal(out, "second", 6);
  /* the same plaintext encrypts differently under successive nonces */
  buf_t a = {0}, b = {0};
  assert_int_equal(noise_encrypt_frame(rs, (const uint8_t *)"same", 4, &a), 0);
  assert_int_equal(noise_encrypt_frame(rs, (const uint8_t *)"same", 4, &b), 0);
  assert_memory_not_equal(a.data, b.data, a.len);
  buf_free(&a);
  buf_free(&b);
  buf_free(&f1);
  buf_free(&f2);
  noise_cipher_free(is);
  noise_cipher_free(ir);
  noise_cipher_free(rs);
  noise_cipher_free(rr);
  pair_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handshake_and_frames), cmocka_unit_test(test_muxer_negotiation),
      cmocka_unit_test(test_expected_peer),        cmocka_unit_test(test_tampered_handshake),
      cmocka_unit_test(test_turns),                cmocka_unit_test(test_payload_check),
      cmocka_unit_test(test_tampered_frames_and_nonces),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
