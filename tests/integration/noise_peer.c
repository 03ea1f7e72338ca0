/*
 * noise_peer: one side of a Noise handshake over stdin/stdout, for
 * tests/interop/noise-js.sh (the other side is @chainsafe/libp2p-noise).
 *
 *   noise_peer initiator|responder SEED_BYTE MUXERS [EXPECTED_PEER_ID]
 *
 * SEED_BYTE (0..255) fills the 32-byte Ed25519 seed; MUXERS is a comma list
 * or "-" for none.  Messages are framed as on the wire (uint16 BE length).
 * After the handshake it sends one transport frame "peer=<remote id>
 * muxer=<chosen>", then echoes every frame it receives, until EOF (exit 0).
 * Exit 3 when the handshake fails with -EACCES, 2 on any other failure; the
 * reason goes to stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "noise.h"
#include "peer.h"

#define FRAMES_MAX 100000 /* bound on echoed frames */

static int read_all(uint8_t *p, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = read(0, p + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return done == 0 ? 1 : -EIO; /* 1: clean EOF before the frame */
    done += (size_t)r;
  }
  return 0;
}

static int write_all(const uint8_t *p, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = write(1, p + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -EIO;
    done += (size_t)w;
  }
  return 0;
}

/* One frame into msg (NOISE_MSG_BYTES_MAX); returns its length, -1 at EOF, -EIO. */
static long read_frame(uint8_t *msg) {
  uint8_t len[2];
  int rc = read_all(len, 2);
  if (rc) return rc == 1 ? -1 : rc;
  size_t n = (size_t)len[0] << 8 | len[1];
  rc = read_all(msg, n);
  return rc ? -EIO : (long)n;
}

static int write_frame(const uint8_t *msg, size_t n) {
  uint8_t len[2] = {(uint8_t)(n >> 8), (uint8_t)n};
  int rc = write_all(len, 2);
  return rc ? rc : write_all(msg, n);
}

static int die(int rc, const char *what) {
  fprintf(stderr, "noise_peer: %s: %s\n", what, err_msg(rc));
  return rc == -EACCES ? 3 : 2;
}

int main(int argc, char **argv) {
  if (argc < 4 || (strcmp(argv[1], "initiator") != 0 && strcmp(argv[1], "responder") != 0)) {
    fprintf(stderr, "usage: noise_peer initiator|responder SEED_BYTE MUXERS [EXPECTED_PEER_ID]\n");
    return 2;
  }
  bool initiator = strcmp(argv[1], "initiator") == 0;
  uint8_t seed[32];
  memset(seed, atoi(argv[2]) & 0xff, sizeof seed);
  peer_key_t key;
  int rc = peer_key_from_seed(seed, &key);
  if (rc) return die(rc, "key");
  char list[512];
  snprintf(list, sizeof list, "%s", strcmp(argv[3], "-") == 0 ? "" : argv[3]);
  const char *muxers[NOISE_MUXERS_MAX];
  size_t count = 0;
  for (char *save = NULL, *m = strtok_r(list, ",", &save); m && count < NOISE_MUXERS_MAX;
       m = strtok_r(NULL, ",", &save))
    muxers[count++] = m;
  peer_id_t expected;
  if (argc > 4 && (rc = peer_id_parse(argv[4], &expected)) != 0) return die(rc, "expected peer ID");
  noise_hs_t *hs;
  rc = noise_hs_new(initiator, &key, muxers, count, argc > 4 ? &expected : NULL, &hs);
  if (rc) return die(rc, "noise_hs_new");
  static uint8_t msg[NOISE_MSG_BYTES_MAX];
  buf_t out = {0};
  for (int i = 0; i < 3 && rc == 0; i++) {
    if (noise_hs_my_turn(hs)) {
      buf_reset(&out);
      rc = noise_hs_write(hs, &out);
      if (rc == 0) rc = write_frame(out.data, out.len);
    } else {
      long n = read_frame(msg);
      rc = n < 0 ? err_set(-EIO, "connection closed during the handshake") : noise_hs_read(hs, msg, (size_t)n);
    }
  }
  noise_cipher_t *send = NULL, *recv = NULL;
  peer_id_t remote;
  char muxer[64];
  if (rc == 0) rc = noise_hs_finish(hs, &send, &recv, &remote, muxer);
  noise_hs_free(hs);
  if (rc) {
    buf_free(&out);
    return die(rc, "handshake");
  }
  char id[PEER_ID_TEXT_BYTES_MAX];
  peer_id_format(&remote, id);
  char hello[256];
  int len = snprintf(hello, sizeof hello, "peer=%s muxer=%s", id, muxer);
  buf_reset(&out);
  rc = noise_encrypt_frame(send, (const uint8_t *)hello, (size_t)len, &out);
  if (rc == 0) rc = write_all(out.data, out.len);
  for (int frames = 0; rc == 0 && frames < FRAMES_MAX; frames++) {
    long n = read_frame(msg);
    if (n == -1) break; /* EOF: done */
    if (n < 0) {
      rc = (int)n;
      break;
    }
    int plain = noise_decrypt(recv, msg, (size_t)n, msg);
    if (plain < 0) {
      rc = plain;
      break;
    }
    buf_reset(&out);
    rc = noise_encrypt_frame(send, msg, (size_t)plain, &out);
    if (rc == 0) rc = write_all(out.data, out.len);
  }
  buf_free(&out);
  noise_cipher_free(send);
  noise_cipher_free(recv);
  return rc ? die(rc, "transport") : 0;
}
