/*
 * cid: the vectors of docs/ipfs-reference.md (empty UnixFS file as CIDv0 and
 * CIDv1, the empty raw block, the empty identity CID bafkqaaa, the zero-length
 * dag-pb block, and the Ed25519 peer ID / IPNS name of §5 as a libp2p-key
 * CID in base36 and base32), every base, the binary form, the bitswap prefix,
 * v0 <-> v1, and every rejection of the parsers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "cid.h"
#include "err.h"
#include "varint.h"

#define EMPTY_FILE_V0 "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
#define EMPTY_FILE_V1 "bafybeif7ztnhq65lumvvtr4ekcwd2ifwgm3awq4zfr3srh462rwyinlb4y"
#define EMPTY_FILE_SHA256 "bfccda787baba32b59c78450ac3d20b633360b43992c77289f9ed46d843561e6"
#define EMPTY_RAW "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
#define EMPTY_PB_V0 "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n"
#define PEER_ID "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"
#define IPNS_NAME "k51qzi5uqu5dhnwe629wdlncpql6frppdpwnz4wtlcw816aysd5wwlk63g4wmh"
#define PUBKEY_PB "080112203b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"

static const uint8_t empty_file_block[] = {0x0a, 0x04, 0x08, 0x02, 0x18, 0x00};

static size_t hex_to_bytes(const char *hex, uint8_t *out) {
  size_t n = strlen(hex) / 2;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
    out[i] = (uint8_t)v;
  }
  return n;
}

static void expect_format(const cid_t *c, mbase_t base, const char *text) {
  char out[CID_TEXT_BYTES_MAX];
  assert_int_equal(cid_format(c, base, out), 0);
  assert_string_equal(out, text);
}

static void expect_parse_error(const char *text, const char *msg_part) {
  cid_t c;
  memset(&c, 0x5a, sizeof c);
  cid_t before = c;
  err_clear();
  int rc = cid_parse(&c, text);
  if (rc != -EINVAL) fail_msg("\"%s\" parsed (rc %d) but must be rejected", text, rc);
  assert_memory_equal(&c, &before, sizeof c); /* untouched on error */
  if (msg_part && !strstr(err_msg(rc), msg_part)) fail_msg("\"%s\": message \"%s\"", text, err_msg(rc));
}

/* Encodes raw bytes as prefixed multibase text (for building malformed CIDs). */
static void bytes_to_text(mbase_t base, const uint8_t *bytes, size_t len, char *out, size_t out_size) {
  assert_true(mbase_encode_to(base, true, bytes, len, out, out_size) > 0);
}

static void test_empty_file_v0_v1(void **state) {
  (void)state;
  cid_t v0, v1;
  assert_int_equal(cid_parse(&v0, EMPTY_FILE_V0), 0);
  assert_int_equal(v0.version, 0);
  assert_int_equal(v0.codec, CODEC_DAG_PB);
  assert_int_equal(v0.hash.code, MH_SHA2_256);
  assert_int_equal(v0.hash.digest_len, 32);
  uint8_t digest[32];
  hex_to_bytes(EMPTY_FILE_SHA256, digest);
  assert_memory_equal(v0.hash.digest, digest, 32);
  expect_format(&v0, MBASE_BASE32, EMPTY_FILE_V0); /* base ignored for v0 */
  char out[CID_TEXT_BYTES_MAX];
  assert_int_equal(cid_format_default(&v0, out), 0);
  assert_string_equal(out, EMPTY_FILE_V0);

  assert_int_equal(cid_parse(&v1, EMPTY_FILE_V1), 0);
  assert_int_equal(v1.version, 1);
  assert_int_equal(v1.codec, CODEC_DAG_PB);
  assert_false(cid_equal(&v0, &v1));
  assert_true(mh_equal(&v0.hash, &v1.hash));

  cid_t c = v0;
  cid_to_v1(&c);
  assert_true(cid_equal(&c, &v1));
  assert_int_equal(cid_format_default(&c, out), 0);
  assert_string_equal(out, EMPTY_FILE_V1);
  cid_to_v1(&c); /* idempotent */
  assert_true(cid_equal(&c, &v1));
  assert_int_equal(cid_to_v0(&c), 0);
  assert_true(cid_equal(&c, &v0));

  /* and from the block itself */
  assert_int_equal(cid_make(&c, 0, CODEC_DAG_PB, MH_SHA2_256, empty_file_block, sizeof empty_file_block), 0);
  assert_true(cid_equal(&c, &v0));
  assert_int_equal(cid_make(&c, 1, CODEC_DAG_PB, MH_SHA2_256, empty_file_block, sizeof empty_file_block), 0);
  assert_true(cid_equal(&c, &v1));
  assert_int_equal(mh_verify(&c.hash, empty_file_block, sizeof empty_file_block), 1);

  /* the zero-length dag-pb block */
  assert_int_equal(cid_make(&c, 0, CODEC_DAG_PB, MH_SHA2_256, NULL, 0), 0);
  expect_format(&c, MBASE_BASE58BTC, EMPTY_PB_V0);
}

static void test_empty_raw_and_identity(void **state) {
  (void)state;
  cid_t c, parsed;
  assert_int_equal(cid_make(&c, 1, CODEC_RAW, MH_SHA2_256, "", 0), 0);
  expect_format(&c, MBASE_BASE32, EMPTY_RAW);
  assert_int_equal(cid_parse(&parsed, EMPTY_RAW), 0);
  assert_true(cid_equal(&c, &parsed));
  assert_int_equal(cid_to_v0(&c), -EINVAL); /* raw has no v0 form */
  assert_int_equal(c.version, 1);

  assert_int_equal(cid_make(&c, 1, CODEC_RAW, MH_IDENTITY, "", 0), 0);
  expect_format(&c, MBASE_BASE32, "bafkqaaa");
  assert_int_equal(cid_parse(&parsed, "bafkqaaa"), 0);
  assert_true(cid_equal(&c, &parsed));
  assert_int_equal(parsed.hash.code, MH_IDENTITY);
  assert_int_equal(parsed.hash.digest_len, 0);
  uint8_t bytes[CID_BYTES_MAX];
  assert_int_equal(cid_to_bytes(&parsed, bytes), 4);
  assert_memory_equal(bytes, "\x01\x55\x00\x00", 4);

  /* inline data */
  assert_int_equal(cid_make(&c, 1, CODEC_RAW, MH_IDENTITY, "hello", 5), 0);
  char text[CID_TEXT_BYTES_MAX];
  assert_int_equal(cid_format_default(&c, text), 0);
  assert_int_equal(cid_parse(&parsed, text), 0);
  assert_int_equal(parsed.hash.digest_len, 5);
  assert_memory_equal(parsed.hash.digest, "hello", 5);
}

static void test_libp2p_key_ipns_name(void **state) {
  (void)state;
  cid_t c;
  assert_int_equal(cid_parse(&c, IPNS_NAME), 0);
  assert_int_equal(c.version, 1);
  assert_int_equal(c.codec, CODEC_LIBP2P_KEY);
  assert_string_equal(cid_codec_name(c.codec), "libp2p-key");
  assert_int_equal(c.hash.code, MH_IDENTITY);
  uint8_t key[36];
  assert_int_equal(hex_to_bytes(PUBKEY_PB, key), 36);
  assert_int_equal(c.hash.digest_len, 36);
  assert_memory_equal(c.hash.digest, key, 36);
  expect_format(&c, MBASE_BASE36, IPNS_NAME);

  /* the peer ID text is the same multihash in bare base58btc */
  uint8_t mh[MH_BYTES_MAX];
  size_t mh_len = cid_mh_bytes(&c, mh);
  assert_int_equal(mh_len, 38);
  buf_t peer = {0};
  assert_int_equal(mbase_encode(MBASE_BASE58BTC, mh, mh_len, &peer), 0);
  assert_string_equal(buf_cstr(&peer), PEER_ID);
  buf_free(&peer);

  /* base32 form starts bafzaa, upper-case base36 parses to the same CID */
  char text[CID_TEXT_BYTES_MAX];
  assert_int_equal(cid_format_default(&c, text), 0);
  assert_int_equal(strncmp(text, "bafzaa", 6), 0);
  cid_t back;
  assert_int_equal(cid_parse(&back, text), 0);
  assert_true(cid_equal(&back, &c));
  assert_int_equal(cid_format(&c, MBASE_BASE36_UPPER, text), 0);
  assert_int_equal(strncmp(text, "K51QZI5UQU5D", 12), 0);
  assert_int_equal(cid_parse(&back, text), 0);
  assert_true(cid_equal(&back, &c));
  /* and it can be built from the key bytes */
  assert_int_equal(cid_make(&back, 1, CODEC_LIBP2P_KEY, MH_IDENTITY, key, sizeof key), 0);
  assert_true(cid_equal(&back, &c));
}

static void test_every_base_round_trip(void **state) {
  (void)state;
  static const mbase_t bases[] = {MBASE_BASE32,    MBASE_BASE32_UPPER, MBASE_BASE58BTC,
                                  MBASE_BASE36,    MBASE_BASE36_UPPER, MBASE_BASE64,
                                  MBASE_BASE64URL, MBASE_BASE16,       MBASE_BASE16_UPPER};
  static const uint64_t codecs[] = {CODEC_RAW, CODEC_DAG_PB, CODEC_DAG_CBOR, CODEC_DAG_JSON, CODEC_LIBP2P_KEY,
                                    0x0300, VARINT_VALUE_MAX};
  for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
    for (size_t k = 0; k < sizeof codecs / sizeof codecs[0]; k++) {
      for (int identity = 0; identity < 2; identity++) {
        cid_t c, back;
        uint8_t data[MH_IDENTITY_BYTES_MAX];
        memset(data, (int)(b * 7 + k), sizeof data);
        assert_int_equal(cid_make(&c, 1, codecs[k], identity ? MH_IDENTITY : MH_SHA2_256, data, sizeof data), 0);
        char text[CID_TEXT_BYTES_MAX];
        assert_int_equal(cid_format(&c, bases[b], text), 0);
        assert_int_equal(text[0], (char)bases[b]);
        assert_true(strlen(text) < CID_TEXT_BYTES_MAX);
        assert_int_equal(cid_parse(&back, text), 0);
        assert_true(cid_equal(&back, &c));
      }
    }
  }
}

static void test_binary(void **state) {
  (void)state;
  cid_t v0, v1, back;
  assert_int_equal(cid_parse(&v0, EMPTY_FILE_V0), 0);
  uint8_t bytes[CID_BYTES_MAX + 8];
  size_t n = cid_to_bytes(&v0, bytes);
  assert_int_equal(n, 34);
  uint8_t expect[34];
  hex_to_bytes("1220" EMPTY_FILE_SHA256, expect);
  assert_memory_equal(bytes, expect, 34);
  assert_int_equal(cid_from_bytes(&back, bytes, n), 34);
  assert_true(cid_equal(&back, &v0));

  v1 = v0;
  cid_to_v1(&v1);
  n = cid_to_bytes(&v1, bytes);
  assert_int_equal(n, 36);
  assert_memory_equal(bytes, "\x01\x70\x12\x20", 4);
  /* a CAR section: the block follows the CID */
  memcpy(bytes + n, empty_file_block, sizeof empty_file_block);
  assert_int_equal(cid_from_bytes(&back, bytes, n + sizeof empty_file_block), 36);
  assert_true(cid_equal(&back, &v1));

  /* multi-byte codec varint: dag-json */
  cid_t j;
  assert_int_equal(cid_make(&j, 1, CODEC_DAG_JSON, MH_SHA2_256, "{}", 2), 0);
  n = cid_to_bytes(&j, bytes);
  assert_int_equal(n, 37);
  assert_memory_equal(bytes, "\x01\xa9\x02\x12\x20", 5);
  assert_int_equal(cid_from_bytes(&back, bytes, n), 37);
  assert_true(cid_equal(&back, &j));

  /* the multihash bytes are shared by v0 and v1 */
  uint8_t mh0[MH_BYTES_MAX], mh1[MH_BYTES_MAX];
  assert_int_equal(cid_mh_bytes(&v0, mh0), 34);
  assert_int_equal(cid_mh_bytes(&v1, mh1), 34);
  assert_memory_equal(mh0, mh1, 34);
}

static void test_binary_truncated(void **state) {
  (void)state;
  cid_t c, back;
  memset(&back, 0x5a, sizeof back);
  cid_t before = back;
  uint8_t bytes[CID_BYTES_MAX];
  /* v1 and v0 forms, and a long multi-byte codec */
  assert_int_equal(cid_make(&c, 1, 0x0300, MH_SHA2_256, "x", 1), 0);
  size_t n = cid_to_bytes(&c, bytes);
  for (size_t len = 0; len < n; len++) assert_int_equal(cid_from_bytes(&back, bytes, len), -EAGAIN);
  assert_int_equal(cid_make(&c, 0, CODEC_DAG_PB, MH_SHA2_256, "x", 1), 0);
  n = cid_to_bytes(&c, bytes);
  for (size_t len = 0; len < n; len++) assert_int_equal(cid_from_bytes(&back, bytes, len), -EAGAIN);
  assert_memory_equal(&back, &before, sizeof back);
}

static void test_binary_invalid(void **state) {
  (void)state;
  cid_t back;
  uint8_t b[64];
  memset(b, 0x33, sizeof b);
  /* unknown versions: 0 written explicitly, 2, 3, and a multi-byte one */
  memcpy(b, "\x00\x70\x12\x20", 4);
  assert_int_equal(cid_from_bytes(&back, b, 36), -EINVAL);
  memcpy(b, "\x02\x55\x12\x20", 4);
  assert_int_equal(cid_from_bytes(&back, b, 36), -EINVAL);
  memcpy(b, "\x03\x55\x12\x20", 4);
  assert_int_equal(cid_from_bytes(&back, b, 36), -EINVAL);
  memcpy(b, "\x81\x01\x55\x12\x20", 5);
  assert_int_equal(cid_from_bytes(&back, b, 37), -EINVAL);
  /* non-minimal version and codec varints */
  memcpy(b, "\x81\x00\x55\x12\x20", 5);
  assert_int_equal(cid_from_bytes(&back, b, 37), -EINVAL);
  memcpy(b, "\x01\xd5\x00\x12\x20", 5);
  assert_int_equal(cid_from_bytes(&back, b, 37), -EINVAL);
  /* v0 with a digest length other than 32 */
  memcpy(b, "\x12\x1f", 2);
  assert_int_equal(cid_from_bytes(&back, b, 33), -EINVAL);
  memcpy(b, "\x12\x21", 2);
  assert_int_equal(cid_from_bytes(&back, b, 35), -EINVAL);
  /* v1 sha2-256 with a digest length other than 32 */
  memcpy(b, "\x01\x55\x12\x1f", 4);
  assert_int_equal(cid_from_bytes(&back, b, 35), -EINVAL);
  /* v1 identity over MH_IDENTITY_BYTES_MAX (129 = 81 01) */
  uint8_t big[4 + 129];
  memset(big, 0x61, sizeof big);
  memcpy(big, "\x01\x55\x00\x81\x01", 5);
  assert_int_equal(cid_from_bytes(&back, big, sizeof big), -EINVAL);
  /* over-long codec varint */
  const uint8_t long_codec[] = {0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00};
  assert_int_equal(cid_from_bytes(&back, long_codec, sizeof long_codec), -EINVAL);
}

static void test_parse_v0_errors(void **state) {
  (void)state;
  expect_parse_error("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQ", "46");    /* 45 */
  expect_parse_error("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQHH", "46");  /* 47 */
  expect_parse_error("Qm", "46");
  expect_parse_error("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1Aw0H", "character"); /* '0' */
  expect_parse_error("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwlH", "character"); /* 'l' */
  /* 46 base58 characters starting Qm whose value is not 12 20 + 32 bytes */
  expect_parse_error("Qmzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", NULL);
  expect_parse_error("Qm1111111111111111111111111111111111111111111111", NULL); /* 48: length */
  expect_parse_error("Qm11111111111111111111111111111111111111111111", NULL);
  /* v0 multihash in a multibase prefix: the "CIDv18" case */
  expect_parse_error("z" EMPTY_FILE_V0, "CIDv18");
  cid_t v0;
  assert_int_equal(cid_parse(&v0, EMPTY_FILE_V0), 0);
  uint8_t bytes[CID_BYTES_MAX];
  size_t n = cid_to_bytes(&v0, bytes);
  char text[CID_TEXT_BYTES_MAX];
  bytes_to_text(MBASE_BASE32, bytes, n, text, sizeof text);
  expect_parse_error(text, "CIDv18");
  bytes_to_text(MBASE_BASE16, bytes, n, text, sizeof text);
  expect_parse_error(text, "CIDv18");
  /* a 0x12 first byte is CIDv18 even when the rest would not be a multihash */
  bytes_to_text(MBASE_BASE32, (const uint8_t *)"\x12\x00", 2, text, sizeof text);
  expect_parse_error(text, "CIDv18");
}

static void test_parse_v1_errors(void **state) {
  (void)state;
  char text[CID_TEXT_BYTES_MAX];
  expect_parse_error("", "empty");
  expect_parse_error("b", "no bytes");
  expect_parse_error("z", "no bytes");
  expect_parse_error("xafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "prefix");
  expect_parse_error("1afkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", NULL);
  expect_parse_error(" " EMPTY_RAW, NULL);
  expect_parse_error(EMPTY_RAW " ", "character");
  expect_parse_error("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvykU", "character");
  expect_parse_error("Bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "character");
  expect_parse_error("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyk1", "character");
  /* truncated: drop the last characters */
  char cut[80];
  for (size_t keep = 2; keep < strlen(EMPTY_RAW); keep += 5) {
    memcpy(cut, EMPTY_RAW, keep);
    cut[keep] = '\0';
    expect_parse_error(cut, NULL);
  }
  /* trailing bytes after a complete CID */
  uint8_t bytes[CID_BYTES_MAX + 1];
  cid_t c;
  assert_int_equal(cid_make(&c, 1, CODEC_RAW, MH_SHA2_256, "", 0), 0);
  size_t n = cid_to_bytes(&c, bytes);
  bytes[n] = 0x00;
  bytes_to_text(MBASE_BASE32, bytes, n + 1, text, sizeof text);
  expect_parse_error(text, "trailing");
  /* unknown versions in text */
  bytes[0] = 0x02;
  bytes_to_text(MBASE_BASE32, bytes, n, text, sizeof text);
  expect_parse_error(text, "version");
  bytes[0] = 0x00;
  bytes_to_text(MBASE_BASE32, bytes, n, text, sizeof text);
  expect_parse_error(text, "version");
  /* digest length mismatch: sha2-256 claiming 31 bytes */
  bytes[0] = 0x01;
  bytes[3] = 31;
  bytes_to_text(MBASE_BASE32, bytes, n - 1, text, sizeof text);
  expect_parse_error(text, "32");
  /* sha2-256 claiming 32 bytes but carrying 31 */
  bytes[3] = 32;
  bytes_to_text(MBASE_BASE32, bytes, n - 1, text, sizeof text);
  expect_parse_error(text, "truncated");
  /* identity too long: 129 bytes inline */
  uint8_t big[5 + 129];
  memset(big, 0x61, sizeof big);
  memcpy(big, "\x01\x55\x00\x81\x01", 5);
  bytes_to_text(MBASE_BASE32, big, sizeof big, text, sizeof text);
  expect_parse_error(text, "identity");
  /* text at and over the length bound */
  char *long_text = malloc(CID_TEXT_BYTES_MAX + 10);
  assert_non_null(long_text);
  long_text[0] = 'b';
  memset(long_text + 1, 'a', CID_TEXT_BYTES_MAX + 8);
  long_text[CID_TEXT_BYTES_MAX + 9] = '\0';
  expect_parse_error(long_text, "too long");
  long_text[CID_TEXT_BYTES_MAX] = '\0';
  expect_parse_error(long_text, "too long");
  free(long_text);
}

static void test_parse_len(void **state) {
  (void)state;
  const char *path = EMPTY_RAW "/some/path";
  cid_t c, expect;
  assert_int_equal(cid_parse(&expect, EMPTY_RAW), 0);
  assert_int_equal(cid_parse_len(&c, path, strlen(EMPTY_RAW)), 0);
  assert_true(cid_equal(&c, &expect));
  assert_int_equal(cid_parse(&c, path), -EINVAL);
  assert_int_equal(cid_parse_len(&c, EMPTY_FILE_V0 "/x", 46), 0);
  assert_int_equal(c.version, 0);
  assert_int_equal(cid_parse_len(&c, "bafkqaaa", 0), -EINVAL);
}

static void test_make_errors(void **state) {
  (void)state;
  cid_t c;
  memset(&c, 0x5a, sizeof c);
  cid_t before = c;
  assert_int_equal(cid_make(&c, 2, CODEC_RAW, MH_SHA2_256, "", 0), -EINVAL);
  assert_int_equal(cid_make(&c, 0, CODEC_RAW, MH_SHA2_256, "", 0), -EINVAL);
  assert_int_equal(cid_make(&c, 0, CODEC_DAG_PB, MH_IDENTITY, "", 0), -EINVAL);
  assert_int_equal(cid_make(&c, 1, CODEC_RAW, 0x13, "", 0), -ENOTSUP);
  uint8_t data[MH_IDENTITY_BYTES_MAX + 1] = {0};
  assert_int_equal(cid_make(&c, 1, CODEC_RAW, MH_IDENTITY, data, sizeof data), -E2BIG);
  assert_memory_equal(&c, &before, sizeof c);
  assert_int_equal(cid_make(&c, 1, CODEC_RAW, MH_IDENTITY, data, sizeof data - 1), 0);
}

static void test_from_mh(void **state) {
  (void)state;
  cid_t v0, c;
  assert_int_equal(cid_parse(&v0, EMPTY_FILE_V0), 0);
  assert_int_equal(cid_from_mh(&c, 0, CODEC_DAG_PB, &v0.hash), 0);
  assert_true(cid_equal(&c, &v0));
  assert_int_equal(cid_from_mh(&c, 1, CODEC_RAW, &v0.hash), 0);
  assert_int_equal(c.codec, CODEC_RAW);
  assert_int_equal(cid_from_mh(&c, 0, CODEC_RAW, &v0.hash), -EINVAL);
  assert_int_equal(cid_from_mh(&c, 2, CODEC_RAW, &v0.hash), -EINVAL);
  mh_t id;
  assert_int_equal(mh_sum(MH_IDENTITY, "a", 1, &id), 0);
  assert_int_equal(cid_from_mh(&c, 0, CODEC_DAG_PB, &id), -EINVAL);
  id.digest_len = MH_DIGEST_BYTES_MAX + 1;
  assert_int_equal(cid_from_mh(&c, 1, CODEC_RAW, &id), -EINVAL);
}

static void test_conversions(void **state) {
  (void)state;
  cid_t c;
  assert_int_equal(cid_make(&c, 1, CODEC_DAG_PB, MH_IDENTITY, "a", 1), 0);
  assert_int_equal(cid_to_v0(&c), -EINVAL); /* identity */
  assert_int_equal(cid_make(&c, 1, CODEC_DAG_CBOR, MH_SHA2_256, "a", 1), 0);
  assert_int_equal(cid_to_v0(&c), -EINVAL); /* dag-cbor */
  assert_int_equal(c.version, 1);
  assert_int_equal(cid_make(&c, 1, CODEC_DAG_PB, MH_SHA2_256, "a", 1), 0);
  assert_int_equal(cid_to_v0(&c), 0);
  assert_int_equal(cid_to_v0(&c), 0); /* idempotent */
  assert_int_equal(c.version, 0);
}

static void test_format_errors(void **state) {
  (void)state;
  cid_t c;
  char text[CID_TEXT_BYTES_MAX];
  assert_int_equal(cid_make(&c, 1, CODEC_RAW, MH_SHA2_256, "", 0), 0);
  assert_int_equal(cid_format(&c, (mbase_t)'x', text), -EINVAL);
  assert_int_equal(cid_format(&c, (mbase_t)'Z', text), -EINVAL);
  c.version = 0; /* raw cannot be v0 */
  assert_int_equal(cid_format(&c, MBASE_BASE32, text), -EINVAL);
  c.version = 2;
  assert_int_equal(cid_format(&c, MBASE_BASE32, text), -EINVAL);
}

static void test_prefix(void **state) {
  (void)state;
  cid_t c;
  uint8_t prefix[CID_PREFIX_BYTES_MAX];
  assert_int_equal(cid_parse(&c, EMPTY_FILE_V0), 0);
  assert_int_equal(cid_prefix_bytes(&c, prefix), 4);
  assert_memory_equal(prefix, "\x00\x70\x12\x20", 4);
  assert_int_equal(cid_parse(&c, EMPTY_RAW), 0);
  assert_int_equal(cid_prefix_bytes(&c, prefix), 4);
  assert_memory_equal(prefix, "\x01\x55\x12\x20", 4);
  assert_int_equal(cid_parse(&c, "bafkqaaa"), 0);
  assert_int_equal(cid_prefix_bytes(&c, prefix), 4);
  assert_memory_equal(prefix, "\x01\x55\x00\x00", 4);
}

static void test_codec_names(void **state) {
  (void)state;
  static const struct {
    uint64_t code;
    const char *name;
  } table[] = {
      {CODEC_IDENTITY, "identity"}, {CODEC_RAW, "raw"},           {CODEC_DAG_PB, "dag-pb"},
      {CODEC_DAG_CBOR, "dag-cbor"}, {CODEC_DAG_JSON, "dag-json"}, {CODEC_LIBP2P_KEY, "libp2p-key"},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    assert_string_equal(cid_codec_name(table[i].code), table[i].name);
    uint64_t code = 999;
    assert_int_equal(cid_codec_from_name(table[i].name, &code), 0);
    assert_int_equal(code, table[i].code);
  }
  assert_null(cid_codec_name(0x12));
  assert_null(cid_codec_name(0x0300));
  uint64_t code = 999;
  assert_int_equal(cid_codec_from_name("dag-jose", &code), -EINVAL);
  assert_int_equal(cid_codec_from_name("", &code), -EINVAL);
  assert_int_equal(code, 999);
  /* unknown codecs are still valid CIDs */
  cid_t c, back;
  assert_int_equal(cid_make(&c, 1, 0x85, MH_SHA2_256, "x", 1), 0); /* dag-jose */
  char text[CID_TEXT_BYTES_MAX];
  assert_int_equal(cid_format_default(&c, text), 0);
  assert_int_equal(cid_parse(&back, text), 0);
  assert_int_equal(back.codec, 0x85);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_file_v0_v1),   cmocka_unit_test(test_empty_raw_and_identity),
      cmocka_unit_test(test_libp2p_key_ipns_name), cmocka_unit_test(test_every_base_round_trip),
      cmocka_unit_test(test_binary),             cmocka_unit_test(test_binary_truncated),
      cmocka_unit_test(test_binary_invalid),     cmocka_unit_test(test_parse_v0_errors),
      cmocka_unit_test(test_parse_v1_errors),    cmocka_unit_test(test_parse_len),
      cmocka_unit_test(test_make_errors),        cmocka_unit_test(test_from_mh),
      cmocka_unit_test(test_conversions),        cmocka_unit_test(test_format_errors),
      cmocka_unit_test(test_prefix),             cmocka_unit_test(test_codec_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
