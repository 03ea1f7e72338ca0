/*
 * multiaddr: the worked examples of docs/ipfs-reference.md §4 both ways, ip6
 * text (RFC 5952), /p2p/ in both peer ID forms and the ipfs alias, every
 * value-less protocol, certhash, malformed binary of every kind (truncated
 * varint, unknown code, bad length, overlong) and text, the sockaddr
 * conversions and ma_is_private.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "multiaddr.h"

#define SEED0_PEER_ID "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"
#define SEED0_IPNS "k51qzi5uqu5dhnwe629wdlncpql6frppdpwnz4wtlcw816aysd5wwlk63g4wmh"
#define SEED0_MH "0024080112203b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"

static size_t hex_to_bytes(const char *hex, uint8_t *out) {
  size_t n = strlen(hex) / 2;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
    out[i] = (uint8_t)v;
  }
  return n;
}

/* text -> hex and back to the same text */
static void both_ways(const char *text, const char *hex) {
  multiaddr_t ma;
  int rc = ma_parse(text, &ma);
  if (rc != 0) fail_msg("\"%s\": rc %d (%s)", text, rc, err_msg(rc));
  uint8_t want[MA_BYTES_MAX];
  size_t n = hex_to_bytes(hex, want);
  assert_int_equal(ma.len, n);
  assert_memory_equal(ma.bytes, want, n);
  multiaddr_t back;
  assert_int_equal(ma_from_bytes(want, n, &back), 0);
  assert_true(ma_equal(&back, &ma));
  char out[MA_TEXT_BYTES_MAX];
  assert_int_equal(ma_format(&back, out), 0);
  assert_string_equal(out, text);
}

static void test_reference_examples(void **state) {
  (void)state;
  both_ways("/ip4/127.0.0.1/tcp/4001", "047f000001060fa1");
  both_ways("/ip6/::1/udp/4001/quic-v1", "2900000000000000000000000000000001" "91020fa1" "cd03");
  both_ways("/dns4/example.com/tcp/443", "360b6578616d706c652e636f6d0601bb");
  both_ways("/ip4/127.0.0.1/tcp/4001/p2p/" SEED0_PEER_ID, "047f000001060fa1a50326" SEED0_MH);
}

static void test_all_protocols(void **state) {
  (void)state;
  both_ways("/dns/a.b/tcp/1", "3503612e62060001");
  both_ways("/dns6/x/udp/65535", "370178" "9102ffff");
  both_ways("/dnsaddr/bootstrap.libp2p.io", "3813626f6f7473747261702e6c69627032702e696f");
  both_ways("/ip4/1.2.3.4/udp/0/quic", "0401020304" "91020000" "cc03");
  both_ways("/ip4/1.2.3.4/udp/9/quic-v1/webtransport", "0401020304" "91020009" "cd03" "d103");
  both_ways("/ip4/1.2.3.4/tcp/443/tls/sni/x.y/ws", "0401020304" "0601bb" "c003" "c103" "03782e79" "dd03");
  both_ways("/ip4/1.2.3.4/tcp/443/wss", "0401020304" "0601bb" "de03");
  both_ways("/p2p/" SEED0_PEER_ID "/p2p-circuit", "a50326" SEED0_MH "a202");
  /* certhash: multibase in, base64url out */
  both_ways("/certhash/uEiAAAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHw",
            "d203" "22" "1220000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  multiaddr_t a, b;
  assert_int_equal(ma_parse("/certhash/f1220000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", &a), 0);
  assert_int_equal(ma_parse("/certhash/uEiAAAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHw", &b), 0);
  assert_true(ma_equal(&a, &b));
}

static void test_ip6_forms(void **state) {
  (void)state;
  multiaddr_t ma;
  char out[MA_TEXT_BYTES_MAX];
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"/ip6/0:0:0:0:0:0:0:1/tcp/1", "/ip6/::1/tcp/1"},
      {"/ip6/2001:DB8:0:0:0:0:0:1/tcp/1", "/ip6/2001:db8::1/tcp/1"},
      {"/ip6/2001:db8:0:0:1:0:0:1/tcp/1", "/ip6/2001:db8::1:0:0:1/tcp/1"},
      {"/ip6/2001:0db8:0000:0001:0001:0001:0001:0001/tcp/1", "/ip6/2001:db8:0:1:1:1:1:1/tcp/1"},
      {"/ip6/::/tcp/1", "/ip6/::/tcp/1"},
      {"/ip6/fe80::1/tcp/1", "/ip6/fe80::1/tcp/1"},
      {"/ip6/::ffff:1.2.3.4/tcp/1", "/ip6/::ffff:1.2.3.4/tcp/1"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    assert_int_equal(ma_parse(cases[i].in, &ma), 0);
    assert_int_equal(ma.len, 1 + 16 + 3);
    assert_int_equal(ma_format(&ma, out), 0);
    assert_string_equal(out, cases[i].out);
  }
}

static void test_p2p(void **state) {
  (void)state;
  multiaddr_t ma, base36, alias, bare, again;
  assert_int_equal(ma_parse("/ip4/10.0.0.1/tcp/4001/p2p/" SEED0_PEER_ID, &ma), 0);
  assert_int_equal(ma_parse("/ip4/10.0.0.1/tcp/4001/p2p/" SEED0_IPNS, &base36), 0);
  assert_int_equal(ma_parse("/ip4/10.0.0.1/tcp/4001/ipfs/" SEED0_PEER_ID, &alias), 0);
  assert_true(ma_equal(&ma, &base36));
  assert_true(ma_equal(&ma, &alias));
  peer_id_t id, want;
  assert_int_equal(peer_id_parse(SEED0_PEER_ID, &want), 0);
  assert_int_equal(ma_peer_id(&ma, &id), 0);
  assert_true(peer_id_equal(&id, &want));
  ma_without_peer(&ma, &bare);
  char out[MA_TEXT_BYTES_MAX];
  assert_int_equal(ma_format(&bare, out), 0);
  assert_string_equal(out, "/ip4/10.0.0.1/tcp/4001");
  assert_int_equal(ma_peer_id(&bare, &id), -ENOENT);
  ma_without_peer(&bare, &again); /* nothing to remove */
  assert_true(ma_equal(&again, &bare));
  assert_int_equal(ma_with_peer(&bare, &want, &again), 0);
  assert_true(ma_equal(&again, &ma));
  assert_int_equal(ma_with_peer(&ma, &want, &again), 0); /* replaces, does not repeat */
  assert_true(ma_equal(&again, &ma));
  /* /p2p/ in the middle is not "trailing" */
  assert_int_equal(ma_parse("/p2p/" SEED0_PEER_ID "/p2p-circuit", &ma), 0);
  assert_int_equal(ma_peer_id(&ma, &id), -ENOENT);
  ma_without_peer(&ma, &again);
  assert_true(ma_equal(&again, &ma));
  /* a hashed peer ID */
  assert_int_equal(ma_parse("/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", &ma), 0);
  assert_int_equal(ma_format(&ma, out), 0);
  assert_string_equal(out, "/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N");
  /* no room: a near-full address */
  multiaddr_t big;
  memset(&big, 0, sizeof big);
  size_t n = 0;
  while (n + 8 <= MA_BYTES_MAX - 5) {
    static const uint8_t comp[] = {0x04, 1, 2, 3, 4, 0x06, 0x00, 0x01};
    memcpy(big.bytes + n, comp, 8);
    n += 8;
  }
  big.len = (uint16_t)n;
  assert_int_equal(ma_from_bytes(big.bytes, big.len, &again), 0);
  assert_int_equal(ma_with_peer(&big, &want, &again), -E2BIG);
}

static void expect_bytes_error(const char *hex) {
  uint8_t in[MA_BYTES_MAX + 16];
  size_t n = hex_to_bytes(hex, in);
  multiaddr_t ma;
  int rc = ma_from_bytes(in, n, &ma);
  if (rc != -EINVAL) fail_msg("bytes %s: rc %d, must be rejected", hex, rc);
  /* ma_format of the same bytes refuses too */
  memcpy(ma.bytes, in, n < MA_BYTES_MAX ? n : MA_BYTES_MAX);
  ma.len = (uint16_t)(n < MA_BYTES_MAX ? n : MA_BYTES_MAX);
  char out[MA_TEXT_BYTES_MAX];
  assert_int_not_equal(ma_format(&ma, out), 0);
}

static void test_bytes_malformed(void **state) {
  (void)state;
  expect_bytes_error("");                    /* empty */
  expect_bytes_error("a5");                  /* truncated code varint */
  expect_bytes_error("8000");                /* non-minimal varint */
  expect_bytes_error("2a");                  /* unknown code (ip6zone) */
  expect_bytes_error("ffff03");              /* unknown code */
  expect_bytes_error("047f0000");            /* ip4 truncated */
  expect_bytes_error("047f000001060f");      /* port truncated */
  expect_bytes_error("29000000");            /* ip6 truncated */
  expect_bytes_error("360b6578616d706c65");  /* dns4 length past the end */
  expect_bytes_error("36");                  /* dns4 without length */
  expect_bytes_error("3600");                /* empty name */
  expect_bytes_error("3603612f62");          /* '/' in a name */
  expect_bytes_error("3603610062");          /* NUL in a name */
  expect_bytes_error("a50326" "0024080112203b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da"); /* short */
  expect_bytes_error("a50304" "d5010200");   /* p2p: not identity/sha2-256 */
  expect_bytes_error("a50303" "000100");     /* p2p: identity but no key */
  expect_bytes_error("d20302" "1220");       /* certhash: truncated multihash */
  expect_bytes_error("a503ff03");            /* p2p: length 511 past the end */
  /* overlong: MA_BYTES_MAX + 1 bytes of valid components */
  char hex[2 * (MA_BYTES_MAX + 8) + 1];
  size_t at = 0;
  for (size_t i = 0; at < 2 * (MA_BYTES_MAX + 1); i++) at += (size_t)sprintf(hex + at, "dd03");
  hex[2 * (MA_BYTES_MAX + 2)] = '\0';
  uint8_t in[MA_BYTES_MAX + 16];
  size_t n = hex_to_bytes(hex, in);
  multiaddr_t ma;
  assert_int_equal(ma_from_bytes(in, n, &ma), -EINVAL);
  assert_int_equal(ma_from_bytes(in, MA_BYTES_MAX, &ma), 0); /* exactly the limit is fine */
}

static void expect_text_error(const char *text) {
  multiaddr_t ma;
  int rc = ma_parse(text, &ma);
  if (rc != -EINVAL) fail_msg("\"%s\": rc %d, must be rejected", text, rc);
}

static void test_text_malformed(void **state) {
  (void)state;
  expect_text_error("");
  expect_text_error("/");
  expect_text_error("ip4/1.2.3.4");
  expect_text_error("/ip4/1.2.3.4/");
  expect_text_error("/ip4//tcp/1");
  expect_text_error("/ip4");
  expect_text_error("/ip4/1.2.3");
  expect_text_error("/ip4/1.2.3.256");
  expect_text_error("/ip4/::1");
  expect_text_error("/ip6/1.2.3.4");
  expect_text_error("/ip6/::1::2");
  expect_text_error("/tcp/65536");
  expect_text_error("/tcp/-1");
  expect_text_error("/tcp/01");
  expect_text_error("/tcp/1x");
  expect_text_error("/tcp/");
  expect_text_error("/udp/123456");
  expect_text_error("/foo/1");
  expect_text_error("/ip6zone/eth0");
  expect_text_error("/dns4");
  expect_text_error("/p2p/notapeer");
  expect_text_error("/p2p/bafybeif7ztnhq65lumvvtr4ekcwd2ifwgm3awq4zfr3srh462rwyinlb4y");
  expect_text_error("/certhash/xyz");
  expect_text_error("/certhash/f1220");
  expect_text_error("/ip4/1.2.3.4//");
  char longtext[MA_TEXT_BYTES_MAX + 8];
  size_t at = 0;
  while (at + 4 < sizeof longtext - 1) at += (size_t)sprintf(longtext + at, "/ws");
  expect_text_error(longtext);
  /* under the text limit but over MA_BYTES_MAX in binary */
  at = 0;
  for (int i = 0; i < 50; i++) at += (size_t)sprintf(longtext + at, "/dns/abcd");
  expect_text_error(longtext);
}

static void test_sockaddr(void **state) {
  (void)state;
  multiaddr_t ma, back;
  struct sockaddr_storage ss;
  socklen_t len = 0;
  assert_int_equal(ma_parse("/ip4/127.0.0.1/tcp/4001/p2p/" SEED0_PEER_ID, &ma), 0);
  assert_int_equal(ma_to_sockaddr(&ma, &ss, &len), 0);
  assert_int_equal(len, sizeof(struct sockaddr_in));
  struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
  assert_int_equal(sin->sin_family, AF_INET);
  assert_int_equal(ntohs(sin->sin_port), 4001);
  assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
  assert_int_equal(ma_from_sockaddr((struct sockaddr *)&ss, &back), 0);
  char out[MA_TEXT_BYTES_MAX];
  assert_int_equal(ma_format(&back, out), 0);
  assert_string_equal(out, "/ip4/127.0.0.1/tcp/4001");

  assert_int_equal(ma_parse("/ip6/2001:db8::5/tcp/80", &ma), 0);
  assert_int_equal(ma_to_sockaddr(&ma, &ss, &len), 0);
  assert_int_equal(len, sizeof(struct sockaddr_in6));
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
  assert_int_equal(sin6->sin6_family, AF_INET6);
  assert_int_equal(ntohs(sin6->sin6_port), 80);
  assert_int_equal(sin6->sin6_addr.s6_addr[15], 5);
  assert_int_equal(ma_from_sockaddr((struct sockaddr *)&ss, &back), 0);
  assert_true(ma_equal(&back, &ma));
  /* a dual-stack socket's v4-mapped peer becomes /ip4 */
  inet_pton(AF_INET6, "::ffff:192.168.1.2", &sin6->sin6_addr);
  assert_int_equal(ma_from_sockaddr((struct sockaddr *)&ss, &back), 0);
  assert_int_equal(ma_format(&back, out), 0);
  assert_string_equal(out, "/ip4/192.168.1.2/tcp/80");

  static const char *const undialable[] = {
      "/ip4/1.2.3.4/udp/1",          "/ip4/1.2.3.4",         "/dns4/example.com/tcp/443",
      "/ip4/1.2.3.4/tcp/1/ws",       "/tcp/1",               "/ip4/1.2.3.4/tcp/1/p2p/" SEED0_PEER_ID "/p2p-circuit",
      "/ip4/1.2.3.4/ip4/1.2.3.4",
  };
  for (size_t i = 0; i < sizeof undialable / sizeof undialable[0]; i++) {
    assert_int_equal(ma_parse(undialable[i], &ma), 0);
    assert_int_equal(ma_to_sockaddr(&ma, &ss, &len), -EAFNOSUPPORT);
  }
  struct sockaddr un = {.sa_family = AF_UNIX};
  assert_int_equal(ma_from_sockaddr(&un, &back), -EAFNOSUPPORT);
}

static void test_is_private(void **state) {
  (void)state;
  static const struct {
    const char *text;
    bool private_;
  } cases[] = {
      {"/ip4/127.0.0.1/tcp/1", true},   {"/ip4/10.1.2.3/tcp/1", true},      {"/ip4/172.16.0.1/tcp/1", true},
      {"/ip4/172.31.255.255/tcp/1", true}, {"/ip4/172.32.0.1/tcp/1", false}, {"/ip4/192.168.0.1/tcp/1", true},
      {"/ip4/169.254.1.1/tcp/1", true}, {"/ip4/8.8.8.8/tcp/1", false},      {"/ip4/192.169.0.1/tcp/1", false},
      {"/ip6/::1/tcp/1", true},         {"/ip6/fd00::1/tcp/1", true},       {"/ip6/fc00::1/tcp/1", true},
      {"/ip6/fe80::1/tcp/1", true},     {"/ip6/2001:db8::1/tcp/1", false},  {"/ip6/::ffff:10.0.0.1/tcp/1", true},
      {"/ip6/::ffff:8.8.8.8/tcp/1", false}, {"/dns4/localhost/tcp/1", false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    multiaddr_t ma;
    assert_int_equal(ma_parse(cases[i].text, &ma), 0);
    if (ma_is_private(&ma) != cases[i].private_) fail_msg("%s: expected %d", cases[i].text, cases[i].private_);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reference_examples), cmocka_unit_test(test_all_protocols),
      cmocka_unit_test(test_ip6_forms),          cmocka_unit_test(test_p2p),
      cmocka_unit_test(test_bytes_malformed),    cmocka_unit_test(test_text_malformed),
      cmocka_unit_test(test_sockaddr),           cmocka_unit_test(test_is_private),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
