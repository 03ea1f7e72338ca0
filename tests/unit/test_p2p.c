/*
 * p2p: the libp2p host, several in one process on 127.0.0.1 (port 0).
 * Connect both ways with identify (agent, protocols, listen addresses,
 * protocol version) and its events, ping both ways, a handler echoing,
 * multistream-select falling back past "na" and -EPROTONOSUPPORT, a 64 MiB
 * stream byte-equal (SHA-256 both ends) with memory bounded, read_msg's
 * limits, a reader that stops reading stalling the writer by window without
 * memory growing, penalize → disconnected and refused both ways, the
 * connection manager trimming at its high watermark, and malformed input
 * at every layer from a raw socket (garbage for multistream-select, a bad
 * Noise message, a valid handshake then a bad yamux frame) closing that
 * connection while the host keeps serving; reads in small odd sizes
 * keeping the order (a waiting reader's buffer filled first, the rest queued).
 */
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "buf.h"
#include "err.h"
#include "metrics.h"
#include "msselect.h"
#include "noise.h"
#include "p2p.h"
#include "varint.h"
#include "yamux.h"

#define MIB (1024u * 1024u)
#define ECHO "/test/echo/1.0.0"
#define SINK "/test/sink/1.0.0"
#define MSGS "/test/msgs/1.0.0"
#define SLOW "/test/slow/1.0.0"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#else
#define UNDER_ASAN 0
#endif

static uint64_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  assert_non_null(f);
  unsigned long size = 0, resident = 0;
  assert_int_equal(fscanf(f, "%lu %lu", &size, &resident), 2);
  fclose(f);
  return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void sleep_ms(unsigned ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- handlers ------------------------------------------------------------------------------ */

static void echo_handler(p2p_stream_t *s, void *ctx) {
  (void)ctx;
  uint8_t *buf = malloc(64 * 1024);
  for (unsigned i = 0; buf && i < 1u << 20; i++) {
    ssize_t n = p2p_stream_read(s, buf, 64 * 1024, 10000);
    if (n <= 0) break;
    if (p2p_stream_write(s, buf, (size_t)n, 10000) != 0) break;
  }
  free(buf);
  (void)p2p_stream_close_write(s);
  p2p_stream_free(s);
}

/* Reads to FIN, answers the byte count (8 bytes) and the SHA-256 of what came. */
static void sink_handler(p2p_stream_t *s, void *ctx) {
  (void)ctx;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  uint8_t *buf = malloc(MIB);
  uint64_t total = 0;
  for (;;) {
    ssize_t n = p2p_stream_read(s, buf, MIB, 20000);
    if (n <= 0) break;
    EVP_DigestUpdate(md, buf, (size_t)n);
    total += (uint64_t)n;
  }
  uint8_t out[8 + 32];
  for (int i = 0; i < 8; i++) out[i] = (uint8_t)(total >> (56 - 8 * i));
  unsigned len = 32;
  EVP_DigestFinal_ex(md, out + 8, &len);
  (void)p2p_stream_write(s, out, sizeof out, 10000);
  (void)p2p_stream_close_write(s);
  EVP_MD_CTX_free(md);
  free(buf);
  p2p_stream_free(s);
}

/* Messages for read_msg: "ok" (5 bytes), one of 1000 bytes, a prefix claiming 10 MiB. */
static void msgs_handler(p2p_stream_t *s, void *ctx) {
  (void)ctx;
  uint8_t mode = 0;
  if (p2p_stream_read(s, &mode, 1, 10000) == 1) {
    if (mode == 'a') {
      (void)p2p_stream_write_msg(s, "hello", 5, 10000);
      uint8_t big[1000];
      memset(big, 'x', sizeof big);
      (void)p2p_stream_write_msg(s, big, sizeof big, 10000);
    } else if (mode == 'b') {
      uint8_t prefix[VARINT_BYTES_MAX];
      size_t n = varint_encode(10u * MIB, prefix);
      (void)p2p_stream_write(s, prefix, n, 10000);
      (void)p2p_stream_write(s, "abc", 3, 10000);
    } else if (mode == 'c') { /* a message cut short by FIN */
      uint8_t prefix[VARINT_BYTES_MAX];
      size_t n = varint_encode(100, prefix);
      (void)p2p_stream_write(s, prefix, n, 10000);
      (void)p2p_stream_write(s, "abc", 3, 10000);
    }
  }
  (void)p2p_stream_close_write(s);
  /* wait for the reader's end so our FIN is read before anything resets */
  uint8_t sink;
  (void)p2p_stream_read(s, &sink, 1, 5000);
  p2p_stream_free(s);
}

static atomic_bool slow_release;
static atomic_ullong slow_read_bytes;
static void slow_handler(p2p_stream_t *s, void *ctx) {
  (void)ctx;
  for (unsigned i = 0; i < 3000 && !atomic_load(&slow_release); i++) sleep_ms(10);
  uint8_t *buf = malloc(MIB);
  for (;;) {
    ssize_t n = p2p_stream_read(s, buf, MIB, 10000);
    if (n <= 0) break;
    atomic_fetch_add(&slow_read_bytes, (uint64_t)n);
  }
  free(buf);
  p2p_stream_free(s);
}

#define HOLD "/test/hold/1.0.0"
static atomic_bool hold_release;
static void hold_handler(p2p_stream_t *s, void *ctx) { /* keeps its thread until released */
  (void)ctx;
  for (unsigned i = 0; i < 3000 && !atomic_load(&hold_release); i++) sleep_ms(10);
  p2p_stream_free(s);
}

/* ---- hosts --------------------------------------------------------------------------------- */

typedef struct host {
  p2p_t *p;
  peer_key_t key;
  multiaddr_t addr; /* listen address with /p2p/ */
  atomic_int identified, disconnected;
} host_t;

static void on_peer(void *ctx, enum p2p_event ev, const peer_id_t *peer) {
  (void)peer;
  host_t *h = ctx;
  if (ev == P2P_PEER_IDENTIFIED) atomic_fetch_add(&h->identified, 1);
  else atomic_fetch_add(&h->disconnected, 1);
}

static host_t *host_new(uint8_t seed_byte, size_t high, size_t low) {
  host_t *h = calloc(1, sizeof *h);
  assert_non_null(h);
  uint8_t seed[PEER_ED25519_BYTES];
  memset(seed, seed_byte, sizeof seed);
  assert_int_equal(peer_key_from_seed(seed, &h->key), 0);
  const char *listen[] = {"/ip4/127.0.0.1/tcp/0"};
  char agent[32];
  snprintf(agent, sizeof agent, "anya-test/%u", seed_byte);
  p2p_opts_t o = {.key = &h->key, .listen = listen, .listen_count = 1, .agent_version = agent, .threads = 1,
                  .connections_high = high, .connections_low = low, .dial_timeout_ms = 5000,
                  .announce_private = true};
  int rc = p2p_new(&o, &h->p);
  if (rc) fprintf(stderr, "p2p_new: %s\n", err_msg(rc));
  assert_int_equal(rc, 0);
  assert_int_equal(p2p_handle(h->p, ECHO, echo_handler, NULL), 0);
  assert_int_equal(p2p_handle(h->p, SINK, sink_handler, NULL), 0);
  assert_int_equal(p2p_handle(h->p, MSGS, msgs_handler, NULL), 0);
  assert_int_equal(p2p_handle(h->p, SLOW, slow_handler, NULL), 0);
  assert_int_equal(p2p_handle(h->p, HOLD, hold_handler, NULL), 0);
  assert_int_equal(p2p_on_peer(h->p, on_peer, h), 0);
  assert_int_equal(p2p_start(h->p), 0);
  multiaddr_t bare;
  assert_int_equal(p2p_listen_addrs(h->p, &bare, 1), 1);
  assert_int_equal(ma_with_peer(&bare, &h->key.id, &h->addr), 0);
  return h;
}

static void host_free(host_t *h) {
  p2p_free(h->p);
  free(h);
}

static int connect_to(host_t *from, host_t *to) {
  peer_id_t remote;
  int rc = p2p_connect(from->p, &to->addr, &remote, 5000);
  if (rc) fprintf(stderr, "connect: %s\n", err_msg(rc));
  if (!rc) assert_true(peer_id_equal(&remote, &to->key.id));
  return rc;
}

/* Polls (bounded) until h knows peer as identified. */
static bool wait_identified(host_t *h, const peer_id_t *peer) {
  p2p_peer_info_t *info = malloc(sizeof *info);
  bool ok = false;
  for (int i = 0; i < 500 && !ok; i++) {
    ok = p2p_peer_info(h->p, peer, info) == 0 && info->identified;
    if (!ok) sleep_ms(10);
  }
  free(info);
  return ok;
}

static bool wait_disconnected(host_t *h, const peer_id_t *peer) {
  for (int i = 0; i < 500; i++) {
    if (!p2p_is_connected(h->p, peer)) return true;
    sleep_ms(10);
  }
  return false;
}

static bool has_protocol(const p2p_peer_info_t *info, const char *proto) {
  for (size_t i = 0; i < info->protocol_count; i++)
    if (strcmp(info->protocols[i], proto) == 0) return true;
  return false;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void check_identify(host_t *of, host_t *about, uint8_t seed_byte) {
  assert_true(wait_identified(of, &about->key.id));
  p2p_peer_info_t *info = malloc(sizeof *info);
  assert_int_equal(p2p_peer_info(of->p, &about->key.id, info), 0);
  char agent[32];
  snprintf(agent, sizeof agent, "anya-test/%u", seed_byte);
  assert_string_equal(info->agent, agent);
  assert_string_equal(info->protocol_version, P2P_PROTOCOL_VERSION);
  assert_true(has_protocol(info, ECHO));
  assert_true(has_protocol(info, P2P_IDENTIFY_PROTOCOL));
  assert_true(has_protocol(info, P2P_PING_PROTOCOL));
  assert_true(p2p_peer_supports(of->p, &about->key.id, SINK));
  assert_false(p2p_peer_supports(of->p, &about->key.id, "/not/there"));
  multiaddr_t bare;
  ma_without_peer(&about->addr, &bare);
  bool listed = false;
  for (size_t i = 0; i < info->addr_count; i++) listed |= ma_equal(&info->addrs[i], &bare);
  assert_true(listed);
  free(info);
}

static void test_connect_identify_ping(void **state) {
  (void)state;
  host_t *a = host_new(1, 0, 0), *b = host_new(2, 0, 0);
  multiaddr_t announced[4], bare_b;
  ma_without_peer(&b->addr, &bare_b);
  assert_int_equal(p2p_announce_addrs(b->p, announced, 4), 1); /* loopback, announce_private */
  assert_true(ma_equal(&announced[0], &bare_b));
  assert_int_equal(connect_to(a, b), 0);
  assert_true(p2p_is_connected(a->p, &b->key.id));
  check_identify(a, b, 2);
  check_identify(b, a, 1); /* the listener identified the dialer too */
  for (int i = 0; i < 200 && (atomic_load(&a->identified) < 1 || atomic_load(&b->identified) < 1); i++) sleep_ms(10);
  assert_true(atomic_load(&a->identified) >= 1);
  assert_true(atomic_load(&b->identified) >= 1);
  /* a second connect is a no-op on the same peer */
  assert_int_equal(connect_to(a, b), 0);
  p2p_conn_info_t conns[4];
  assert_int_equal(p2p_connections(a->p, conns, 4), 1);
  assert_true(conns[0].outbound);
  assert_true(peer_id_equal(&conns[0].peer, &b->key.id));
  int64_t rtt = p2p_ping(a->p, &b->key.id, 5000);
  assert_true(rtt >= 0);
  rtt = p2p_ping(b->p, &a->key.id, 5000); /* over the inbound connection */
  assert_true(rtt >= 0);
  assert_int_equal(p2p_connections(b->p, conns, 4), 1);
  assert_false(conns[0].outbound);
  /* the other direction dials too */
  p2p_disconnect(a->p, &b->key.id);
  assert_true(wait_disconnected(a, &b->key.id));
  assert_true(wait_disconnected(b, &a->key.id));
  for (int i = 0; i < 200 && atomic_load(&a->disconnected) < 1; i++) sleep_ms(10);
  assert_int_equal(atomic_load(&a->disconnected), 1);
  assert_int_equal(connect_to(b, a), 0);
  assert_true(p2p_ping(a->p, &b->key.id, 5000) >= 0);
  /* connect by peer id from the store's addresses */
  p2p_disconnect(b->p, &a->key.id);
  assert_true(wait_disconnected(b, &a->key.id));
  assert_true(wait_disconnected(a, &b->key.id));
  assert_int_equal(p2p_connect_peer(a->p, &b->key.id, 5000), 0);
  host_free(a);
  host_free(b);
}

static void test_echo_and_negotiation(void **state) {
  (void)state;
  host_t *a = host_new(3, 0, 0), *b = host_new(4, 0, 0);
  assert_int_equal(connect_to(a, b), 0);
  const char *protos[] = {"/nope/1.0.0", "/nope/2.0.0", ECHO};
  p2p_stream_t *s = NULL;
  assert_int_equal(p2p_stream_open(a->p, &b->key.id, protos, 3, 5000, &s), 0);
  assert_string_equal(p2p_stream_protocol(s), ECHO);
  assert_true(peer_id_equal(p2p_stream_peer(s), &b->key.id));
  assert_int_equal(p2p_stream_write(s, "hello, p2p", 10, 5000), 0);
  assert_int_equal(p2p_stream_close_write(s), 0);
  assert_int_equal(p2p_stream_write(s, "x", 1, 5000), -EPIPE);
  char got[32];
  size_t have = 0;
  for (;;) {
    ssize_t n = p2p_stream_read(s, got + have, sizeof got - have, 5000);
    assert_true(n >= 0);
    if (n == 0) break;
    have += (size_t)n;
  }
  assert_int_equal(have, 10);
  assert_memory_equal(got, "hello, p2p", 10);
  p2p_stream_free(s);
  const char *none[] = {"/nope/1.0.0"};
  assert_int_equal(p2p_stream_open(a->p, &b->key.id, none, 1, 5000, &s), -EPROTONOSUPPORT);
  assert_null(s);
  /* the connection still serves */
  assert_true(p2p_ping(a->p, &b->key.id, 5000) >= 0);
  host_free(a);
  host_free(b);
}

/* A reset from another thread wakes a reader blocked on the stream at once. */
typedef struct reset_arg {
  p2p_stream_t *s;
  ssize_t got;
} reset_arg_t;
static void *blocked_reader(void *arg) {
  reset_arg_t *r = arg;
  char byte;
  r->got = p2p_stream_read(r->s, &byte, 1, 20000);
  return NULL;
}
static void test_reset_wakes_reader(void **state) {
  (void)state;
  host_t *a = host_new(21, 0, 0), *b = host_new(22, 0, 0);
  assert_int_equal(connect_to(a, b), 0);
  atomic_store(&hold_release, false);
  const char *protos[] = {HOLD};
  reset_arg_t r = {0};
  assert_int_equal(p2p_stream_open(a->p, &b->key.id, protos, 1, 5000, &r.s), 0);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, blocked_reader, &r), 0);
  sleep_ms(200); /* the reader is waiting: the holder sends nothing */
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  p2p_stream_reset(r.s);
  pthread_join(t, NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_int_equal(r.got, -ECONNRESET);
  /* woken by the reset, not by its 20 s timeout */
  assert_true(t1.tv_sec - t0.tv_sec < 10);
  p2p_stream_free(r.s);
  atomic_store(&hold_release, true);
  host_free(a);
  host_free(b);
}

/* Reads in small odd sizes: a waiting reader's buffer gets what fits and
 * the rest waits in the stream's queue, in order; a read with nothing
 * coming times out; FIN after the data reads as 0. */
static void test_small_reads_keep_order(void **state) {
  (void)state;
  host_t *a = host_new(23, 0, 0), *b = host_new(24, 0, 0);
  assert_int_equal(connect_to(a, b), 0);
  const char *protos[] = {ECHO};
  p2p_stream_t *s = NULL;
  assert_int_equal(p2p_stream_open(a->p, &b->key.id, protos, 1, 5000, &s), 0);
  size_t total = 200 * 1024;
  uint8_t *sent = malloc(total), *got = malloc(total);
  assert_true(sent && got);
  for (size_t i = 0; i < total; i++) sent[i] = (uint8_t)(i * 7 + i / 251);
  static const size_t sizes[] = {1, 7, 1000, 4093, 65536, 3};
  size_t have = 0;
  for (size_t off = 0, round = 0; off < total; round++) { /* write a piece, read it back in small reads */
    size_t piece = total - off < 50000 ? total - off : 50000;
    assert_int_equal(p2p_stream_write(s, sent + off, piece, 10000), 0);
    off += piece;
    for (unsigned guard = 0; have < off && guard < 100000; guard++) {
      size_t want = sizes[(round + guard) % (sizeof sizes / sizeof sizes[0])];
      if (want > off - have) want = off - have;
      ssize_t n = p2p_stream_read(s, got + have, want, 10000);
      assert_true(n > 0 && (size_t)n <= want);
      have += (size_t)n;
    }
    assert_int_equal(have, off);
  }
  assert_memory_equal(got, sent, total);
  uint8_t one;
  assert_int_equal(p2p_stream_read(s, &one, 1, 100), -ETIMEDOUT);
  assert_int_equal(p2p_stream_close_write(s), 0);
  assert_int_equal(p2p_stream_read(s, &one, 1, 10000), 0);
  free(sent);
  free(got);
  p2p_stream_free(s);
  host_free(a);
  host_free(b);
}

static void test_64mib_stream(void **state) {
  (void)state;
  host_t *a = host_new(5, 0, 0), *b = host_new(6, 0, 0);
  assert_int_equal(connect_to(a, b), 0);
  const char *protos[] = {SINK};
  p2p_stream_t *s = NULL;
  assert_int_equal(p2p_stream_open(a->p, &b->key.id, protos, 1, 5000, &s), 0);
  size_t chunk = MIB, total = 64 * MIB;
  uint8_t *buf = malloc(chunk);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  uint64_t rss_before = rss_bytes(), rss_max = rss_before;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  uint32_t x = 12345;
  for (size_t off = 0; off < total; off += chunk) {
    for (size_t i = 0; i < chunk; i += 4) {
      x = x * 1103515245u + 12345u;
      memcpy(buf + i, &x, 4);
    }
    EVP_DigestUpdate(md, buf, chunk);
    assert_int_equal(p2p_stream_write(s, buf, chunk, 20000), 0);
    uint64_t rss = rss_bytes();
    if (rss > rss_max) rss_max = rss;
  }
  assert_int_equal(p2p_stream_close_write(s), 0);
  uint8_t answer[40];
  size_t have = 0;
  while (have < sizeof answer) {
    ssize_t n = p2p_stream_read(s, answer + have, sizeof answer - have, 20000);
    assert_true(n > 0);
    have += (size_t)n;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  uint64_t count = 0;
  for (int i = 0; i < 8; i++) count = count << 8 | answer[i];
  assert_int_equal(count, total);
  uint8_t digest[32];
  unsigned dl = 32;
  EVP_DigestFinal_ex(md, digest, &dl);
  assert_memory_equal(answer + 8, digest, 32);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  print_message("# 64 MiB in %.2f s (%.0f MB/s, informational); RSS grew %llu KiB\n", secs,
                (double)total / secs / 1e6, (unsigned long long)((rss_max - rss_before) / 1024));
  if (!UNDER_ASAN) assert_true(rss_max - rss_before < 48 * MIB);
  EVP_MD_CTX_free(md);
  free(buf);
  p2p_stream_free(s);
  host_free(a);
  host_free(b);
}

static p2p_stream_t *open_msgs(host_t *a, host_t *b, char mode) {
  const char *protos[] = {MSGS};
  p2p_stream_t *s = NULL;
  assert_int_equal(p2p_stream_open(a->p, &b->key.id, protos, 1, 5000, &s), 0);
  assert_int_equal(p2p_stream_write(s, &mode, 1, 5000), 0);
  return s;
}

static void test_read_msg_limits(void **state) {
  (void)state;
  host_t *a = host_new(7, 0, 0), *b = host_new(8, 0, 0);
  assert_int_equal(connect_to(a, b), 0);
  buf_t msg = {0};
  p2p_stream_t *s = open_msgs(a, b, 'a');
  assert_int_equal(p2p_stream_read_msg(s, &msg, 100, 5000), 0);
  assert_int_equal(msg.len, 5);
  assert_memory_equal(msg.data, "hello", 5);
  assert_int_equal(p2p_stream_read_msg(s, &msg, 999, 5000), -EMSGSIZE); /* 1000 > 999: reset */
  uint8_t byte;
  assert_int_equal(p2p_stream_read(s, &byte, 1, 1000), -ECONNRESET);
  p2p_stream_free(s);
  s = open_msgs(a, b, 'a');
  assert_int_equal(p2p_stream_read_msg(s, &msg, 1000, 5000), 0);
  assert_int_equal(p2p_stream_read_msg(s, &msg, 1000, 5000), 0); /* exactly at the limit */
  assert_int_equal(msg.len, 1000);
  assert_int_equal(p2p_stream_read_msg(s, &msg, 1000, 5000), -ENODATA); /* clean FIN */
  p2p_stream_free(s);
  s = open_msgs(a, b, 'b');
  assert_int_equal(p2p_stream_read_msg(s, &msg, P2P_MESSAGE_BYTES_MAX, 5000), -EMSGSIZE);
  p2p_stream_free(s);
  s = open_msgs(a, b, 'c');
  assert_int_equal(p2p_stream_read_msg(s, &msg, 1000, 5000), -EPROTO); /* FIN inside */
  p2p_stream_free(s);
  s = open_msgs(a, b, 'z'); /* an unknown mode: nothing but FIN */
  assert_int_equal(p2p_stream_read_msg(s, &msg, 1000, 5000), -ENODATA);
  p2p_stream_free(s);
  buf_free(&msg);
  assert_true(p2p_ping(a->p, &b->key.id, 5000) >= 0);
  host_free(a);
  host_free(b);
}

static void test_slow_reader_stalls_writer(void **state) {
  (void)state;
  host_t *a = host_new(9, 0, 0), *b = host_new(10, 0, 0);
  assert_int_equal(connect_to(a, b), 0);
  atomic_store(&slow_release, false);
  atomic_store(&slow_read_bytes, 0);
  const char *protos[] = {SLOW};
  p2p_stream_t *s = NULL;
  assert_int_equal(p2p_stream_open(a->p, &b->key.id, protos, 1, 5000, &s), 0);
  size_t chunk = 64 * 1024;
  uint8_t *buf = calloc(1, 4 * MIB);
  uint64_t rss_before = rss_bytes();
  size_t written = 0;
  int rc = 0;
  for (int i = 0; i < 1024 && rc == 0; i++) { /* at most 64 MiB; the window stops it long before */
    rc = p2p_stream_write(s, buf, chunk, 300);
    if (rc == 0) written += chunk;
  }
  assert_int_equal(rc, -ETIMEDOUT);
  uint64_t rss_after = rss_bytes();
  print_message("# writer stalled after %zu KiB; RSS grew %llu KiB\n", written / 1024,
                (unsigned long long)((rss_after - rss_before) / 1024));
  assert_true(written >= YAMUX_WINDOW_BYTES_INITIAL / 2);
  assert_true(written <= YAMUX_WINDOW_BYTES_MAX);
  if (!UNDER_ASAN) assert_true(rss_after - rss_before < 40 * MIB);
  /* the stream is still good: the reader resumes and everything arrives */
  atomic_store(&slow_release, true);
  assert_int_equal(p2p_stream_write(s, buf, 4 * MIB, 10000), 0);
  assert_int_equal(p2p_stream_close_write(s), 0);
  for (int i = 0; i < 1000 && atomic_load(&slow_read_bytes) < 4 * MIB; i++) sleep_ms(10);
  assert_true(atomic_load(&slow_read_bytes) >= 4 * MIB);
  free(buf);
  p2p_stream_free(s);
  host_free(a);
  host_free(b);
}

static void test_penalize_bans(void **state) {
  (void)state;
  host_t *a = host_new(11, 0, 0), *b = host_new(12, 0, 0);
  assert_int_equal(connect_to(a, b), 0);
  p2p_peer_penalize(a->p, &b->key.id, 30, "test: small");
  assert_false(p2p_peer_banned(a->p, &b->key.id));
  assert_true(p2p_is_connected(a->p, &b->key.id));
  p2p_peer_penalize(a->p, &b->key.id, 70, "test: enough for a ban");
  assert_true(p2p_peer_banned(a->p, &b->key.id));
  assert_true(wait_disconnected(a, &b->key.id));
  assert_true(wait_disconnected(b, &a->key.id));
  p2p_peer_info_t *info = malloc(sizeof *info);
  assert_int_equal(p2p_peer_info(a->p, &b->key.id, info), 0);
  assert_int_equal(info->score, -100);
  free(info);
  peer_id_t remote;
  assert_int_equal(p2p_connect(a->p, &b->addr, &remote, 5000), -EACCES); /* outbound refused */
  assert_int_not_equal(p2p_connect(b->p, &a->addr, &remote, 5000), 0); /* inbound refused */
  assert_false(p2p_is_connected(a->p, &b->key.id));
  host_free(a);
  host_free(b);
}

static void test_connection_manager_trims(void **state) {
  (void)state;
  host_t *h = host_new(13, 2, 1);
  host_t *others[3];
  for (int i = 0; i < 3; i++) {
    others[i] = host_new((uint8_t)(14 + i), 0, 0);
    assert_int_equal(connect_to(others[i], h), 0);
  }
  size_t n = 99;
  for (int i = 0; i < 500; i++) {
    n = p2p_connections(h->p, NULL, 0);
    if (n == 1) break;
    sleep_ms(10);
  }
  assert_int_equal(n, 1); /* above 2: trimmed to 1, the newest kept */
  assert_true(p2p_is_connected(h->p, &others[2]->key.id));
  for (int i = 0; i < 3; i++) host_free(others[i]);
  host_free(h);
}

static void test_dial_errors(void **state) {
  (void)state;
  host_t *a = host_new(30, 0, 0), *b = host_new(31, 0, 0);
  peer_id_t remote;
  multiaddr_t ma;
  /* a port nobody listens on */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
  assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
  socklen_t sl = sizeof sin;
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
  assert_int_equal(ma_from_sockaddr((struct sockaddr *)&sin, &ma), 0);
  assert_int_equal(p2p_connect(a->p, &ma, &remote, 5000), -ECONNREFUSED);
  /* a listener that never answers: the upgrade times out */
  assert_int_equal(listen(fd, 4), 0);
  assert_int_equal(p2p_connect(a->p, &ma, &remote, 300), -ETIMEDOUT);
  close(fd);
  /* b's address claiming to be another peer */
  multiaddr_t bare, wrong;
  ma_without_peer(&b->addr, &bare);
  assert_int_equal(ma_with_peer(&bare, &a->key.id, &wrong), 0); /* a's own id: refused before dialing */
  assert_int_equal(p2p_connect(a->p, &wrong, &remote, 5000), -EINVAL);
  peer_key_t other;
  uint8_t seed[32];
  memset(seed, 77, sizeof seed);
  assert_int_equal(peer_key_from_seed(seed, &other), 0);
  assert_int_equal(ma_with_peer(&bare, &other.id, &wrong), 0);
  assert_int_equal(p2p_connect(a->p, &wrong, &remote, 5000), -EACCES);
  assert_false(p2p_is_connected(a->p, &b->key.id));
  /* not TCP */
  assert_int_equal(ma_parse("/ip4/127.0.0.1/udp/4001/quic-v1", &ma), 0);
  assert_int_equal(p2p_connect(a->p, &ma, &remote, 5000), -EAFNOSUPPORT);
  /* a peer the store knows nothing about */
  assert_int_equal(p2p_connect_peer(a->p, &other.id, 1000), -EHOSTUNREACH);
  const char *protos[] = {ECHO};
  p2p_stream_t *s = NULL;
  assert_int_equal(p2p_stream_open(a->p, &other.id, protos, 1, 1000, &s), -EHOSTUNREACH);
  /* addresses added by hand are dialed by peer ID */
  assert_int_equal(p2p_peer_add_addrs(a->p, &b->key.id, &bare, 1, 60000), 0);
  assert_int_equal(p2p_stream_open(a->p, &b->key.id, protos, 1, 5000, &s), 0);
  p2p_stream_free(s);
  host_free(a);
  host_free(b);
}

/* One connection holds at most 256 handler threads; past them its new streams are reset. */
static void test_inbound_streams_bounded(void **state) {
  (void)state;
  host_t *a = host_new(32, 0, 0), *b = host_new(33, 0, 0);
  assert_int_equal(connect_to(a, b), 0);
  atomic_store(&hold_release, false);
  enum { HELD = 256 };
  p2p_stream_t **held = calloc(HELD, sizeof *held);
  const char *protos[] = {HOLD};
  for (int i = 0; i < HELD; i++) assert_int_equal(p2p_stream_open(a->p, &b->key.id, protos, 1, 5000, &held[i]), 0);
  p2p_stream_t *extra = NULL;
  assert_int_equal(p2p_stream_open(a->p, &b->key.id, protos, 1, 5000, &extra), -ECONNRESET);
  assert_true(p2p_is_connected(a->p, &b->key.id)); /* refused streams, not a closed connection */
  atomic_store(&hold_release, true);
  for (int i = 0; i < HELD; i++) p2p_stream_free(held[i]);
  free(held);
  /* freed handlers make room again */
  int rc = -1;
  for (int i = 0; i < 200 && rc != 0; i++) {
    rc = p2p_stream_open(a->p, &b->key.id, protos, 1, 5000, &extra);
    if (rc) sleep_ms(10);
  }
  assert_int_equal(rc, 0);
  p2p_stream_free(extra);
  host_free(a);
  host_free(b);
}

/* ---- malformed input from a raw socket --------------------------------------------------- */

static int raw_connect(host_t *h) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  assert_int_equal(ma_to_sockaddr(&h->addr, &ss, &sl), 0);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  assert_int_equal(connect(fd, (struct sockaddr *)&ss, sl), 0);
  return fd;
}

static void raw_send(int fd, const void *data, size_t len) {
  assert_int_equal(send(fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Exactly len bytes within 5 s, or false. */
static bool raw_recv(int fd, void *data, size_t len) {
  size_t have = 0;
  while (have < len) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, 5000) != 1) return false;
    ssize_t n = recv(fd, (uint8_t *)data + have, len - have, 0);
    if (n <= 0) return false;
    have += (size_t)n;
  }
  return true;
}

/* True when the host closes the socket within 5 s (whatever it sent before). */
static bool raw_closed(int fd) {
  uint8_t sink[4096];
  for (int i = 0; i < 1000; i++) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, 5000) != 1) return false;
    ssize_t n = recv(fd, sink, sizeof sink, 0);
    if (n <= 0) return true;
  }
  return false;
}

static void raw_mss_noise(int fd) {
  buf_t m = {0};
  assert_int_equal(mss_encode(&m, MSS_HEADER), 0);
  assert_int_equal(mss_encode(&m, NOISE_PROTOCOL), 0);
  raw_send(fd, m.data, m.len);
  uint8_t got[64];
  assert_true(raw_recv(fd, got, m.len)); /* header and echo */
  assert_memory_equal(got, m.data, m.len);
  buf_free(&m);
}

static void raw_noise_send(int fd, noise_hs_t *hs) {
  buf_t m = {0};
  assert_int_equal(buf_append(&m, "\0\0", 2), 0);
  assert_int_equal(noise_hs_write(hs, &m), 0);
  m.data[0] = (uint8_t)((m.len - 2) >> 8);
  m.data[1] = (uint8_t)(m.len - 2);
  raw_send(fd, m.data, m.len);
  buf_free(&m);
}

static void raw_noise_recv(int fd, noise_hs_t *hs) {
  uint8_t hdr[2];
  assert_true(raw_recv(fd, hdr, 2));
  size_t len = (size_t)hdr[0] << 8 | hdr[1];
  uint8_t *msg = malloc(len);
  assert_true(raw_recv(fd, msg, len));
  assert_int_equal(noise_hs_read(hs, msg, len), 0);
  free(msg);
}

/* A metric without labels from the process-wide registry's text; -1 when absent. */
static double metric(const char *name) {
  buf_t text = {0};
  assert_int_equal(metrics_write_text(metrics_default(), &text), 0);
  assert_non_null(buf_cstr(&text));
  double v = -1;
  size_t n = strlen(name);
  for (char *line = (char *)text.data; line && *line;) {
    char *end = strchr(line, '\n');
    if (strncmp(line, name, n) == 0 && line[n] == ' ') v = strtod(line + n + 1, NULL);
    line = end ? end + 1 : NULL;
  }
  buf_free(&text);
  return v;
}

static void test_malformed_input(void **state) {
  (void)state;
  host_t *a = host_new(20, 0, 0), *b = host_new(21, 0, 0);
  double bad_before = metric("anya_p2p_misbehaviour_closes_total");
  assert_true(bad_before >= 0);
  /* 1: an HTTP request instead of multistream-select */
  int fd = raw_connect(a);
  const char *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  raw_send(fd, http, strlen(http));
  assert_true(raw_closed(fd));
  close(fd);
  /* 2: a proposal that is not /noise is refused with na, then garbage */
  fd = raw_connect(a);
  buf_t m = {0};
  assert_int_equal(mss_encode(&m, MSS_HEADER), 0);
  assert_int_equal(mss_encode(&m, "/tls/1.0.0"), 0);
  raw_send(fd, m.data, m.len);
  buf_reset(&m);
  assert_int_equal(mss_encode(&m, MSS_HEADER), 0);
  assert_int_equal(mss_encode(&m, MSS_NA), 0);
  uint8_t got[64];
  assert_true(raw_recv(fd, got, m.len));
  assert_memory_equal(got, m.data, m.len);
  raw_send(fd, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 10);
  assert_true(raw_closed(fd));
  close(fd);
  /* 3: /noise, then a handshake message that is not one */
  fd = raw_connect(a);
  raw_mss_noise(fd);
  uint8_t junk[2 + 20] = {0, 20};
  memset(junk + 2, 0x5a, 20);
  raw_send(fd, junk, sizeof junk);
  assert_true(raw_closed(fd));
  close(fd);
  /* 4: a whole handshake, then a yamux frame with version 9 */
  fd = raw_connect(a);
  raw_mss_noise(fd);
  peer_key_t key;
  uint8_t seed[32];
  memset(seed, 99, sizeof seed);
  assert_int_equal(peer_key_from_seed(seed, &key), 0);
  const char *muxers[] = {YAMUX_PROTOCOL};
  noise_hs_t *hs = NULL;
  assert_int_equal(noise_hs_new(true, &key, muxers, 1, &a->key.id, &hs), 0);
  raw_noise_send(fd, hs);
  raw_noise_recv(fd, hs);
  raw_noise_send(fd, hs);
  assert_true(noise_hs_done(hs));
  noise_cipher_t *tx = NULL, *rx = NULL;
  peer_id_t remote;
  char muxer[64];
  assert_int_equal(noise_hs_finish(hs, &tx, &rx, &remote, muxer), 0);
  assert_true(peer_id_equal(&remote, &a->key.id));
  assert_string_equal(muxer, YAMUX_PROTOCOL);
  uint8_t frame[12] = {9, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
  buf_reset(&m);
  assert_int_equal(noise_encrypt_frame(tx, frame, sizeof frame, &m), 0);
  raw_send(fd, m.data, m.len);
  assert_true(raw_closed(fd));
  close(fd);
  /* the misbehaving identity was scored down */
  p2p_peer_info_t *info = malloc(sizeof *info);
  assert_int_equal(p2p_peer_info(a->p, &key.id, info), 0);
  assert_true(info->score < 0);
  free(info);
  noise_cipher_free(tx);
  noise_cipher_free(rx);
  noise_hs_free(hs);
  buf_free(&m);
  assert_true(metric("anya_p2p_misbehaviour_closes_total") >= bad_before + 4);
  /* the host still serves */
  assert_int_equal(connect_to(b, a), 0);
  assert_true(p2p_ping(b->p, &a->key.id, 5000) >= 0);
  assert_true(metric("anya_p2p_connections") >= 2); /* both ends of b's connection, in one process */
  assert_true(metric("anya_p2p_received_bytes_total") > 0 && metric("anya_p2p_sent_bytes_total") > 0);
  host_free(a);
  host_free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_connect_identify_ping),
      cmocka_unit_test(test_echo_and_negotiation),
      cmocka_unit_test(test_64mib_stream),
      cmocka_unit_test(test_read_msg_limits),
      cmocka_unit_test(test_slow_reader_stalls_writer),
      cmocka_unit_test(test_penalize_bans),
      cmocka_unit_test(test_connection_manager_trims),
      cmocka_unit_test(test_dial_errors),
      cmocka_unit_test(test_inbound_streams_bounded),
      cmocka_unit_test(test_malformed_input),
      cmocka_unit_test(test_reset_wakes_reader),
      cmocka_unit_test(test_small_reads_keep_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
