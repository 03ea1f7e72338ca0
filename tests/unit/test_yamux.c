/*
 * yamux: two sessions (client and server) wired back to back in memory, the
 * output of one fed to the other in random split sizes.  Streams open and
 * accept, data both ways, a 10 MB transfer through window updates (with and
 * without window growth), the send window respected, FIN in both orders,
 * RST, ping, Go Away, the stream limits, and every protocol error giving
 * -EPROTO with a Go Away (1) queued.  Raw frames are written by hand where a
 * well-behaved session would never send them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "yamux.h"

#define RECORDS_MAX 2100
#define PUMP_ROUNDS_MAX 10000

typedef struct record {
  uint32_t id;
  buf_t data;        /* every byte the data event delivered */
  size_t unconsumed; /* delivered, not yet passed to yamux_consumed */
  int opened, fin, reset, writable;
} record_t;

typedef struct peer {
  yamux_t *y;
  record_t *records; /* RECORDS_MAX, by arrival */
  size_t record_count;
  int refuse;            /* opened returns -ECONNREFUSED */
  int greet_in_opened;   /* opened writes "hi" on the new stream */
  int consume_in_event;  /* data event calls yamux_consumed right away */
  int reset_in_event;    /* data event resets the stream */
  uint32_t pongs[16];
  size_t pong_count;
  uint32_t go_away_code;
  int go_aways;
} peer_t;

static uint64_t fake_now_us;
static uint64_t fake_clock(void *ctx) {
  (void)ctx;
  return fake_now_us;
}

static uint32_t rng_state = 12345;
static uint32_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static record_t *rec(peer_t *p, uint32_t id) {
  for (size_t i = 0; i < p->record_count; i++)
    if (p->records[i].id == id) return &p->records[i];
  assert_true(p->record_count < RECORDS_MAX);
  record_t *r = &p->records[p->record_count++];
  memset(r, 0, sizeof *r);
  r->id = id;
  return r;
}

static int ev_opened(void *ctx, uint32_t id) {
  peer_t *p = ctx;
  rec(p, id)->opened++;
  if (p->greet_in_opened) assert_int_equal(yamux_write(p->y, id, (const uint8_t *)"hi", 2), 2);
  return p->refuse ? -ECONNREFUSED : 0;
}
static void ev_data(void *ctx, uint32_t id, const uint8_t *data, size_t len) {
  peer_t *p = ctx;
  record_t *r = rec(p, id);
  assert_true(len > 0);
  assert_int_equal(buf_append(&r->data, data, len), 0);
  if (p->reset_in_event) {
    assert_int_equal(yamux_reset(p->y, id), 0);
    return;
  }
  if (p->consume_in_event)
    yamux_consumed(p->y, id, len);
  else
    r->unconsumed += len;
}
static void ev_fin(void *ctx, uint32_t id) { rec(ctx, id)->fin++; }
static void ev_reset(void *ctx, uint32_t id) { rec(ctx, id)->reset++; }
static void ev_writable(void *ctx, uint32_t id) { rec(ctx, id)->writable++; }
static void ev_pong(void *ctx, uint32_t opaque) {
  peer_t *p = ctx;
  assert_true(p->pong_count < 16);
  p->pongs[p->pong_count++] = opaque;
}
static void ev_go_away(void *ctx, uint32_t code) {
  peer_t *p = ctx;
  p->go_aways++;
  p->go_away_code = code;
}

static const yamux_events_t events = {ev_opened, ev_data, ev_fin, ev_reset, ev_writable, ev_pong, ev_go_away};

static void peer_init(peer_t *p, bool client) {
  memset(p, 0, sizeof *p);
  p->records = calloc(RECORDS_MAX, sizeof *p->records);
  assert_non_null(p->records);
  assert_int_equal(yamux_new(client, &events, p, &p->y), 0);
  yamux_set_clock(p->y, fake_clock, NULL);
}

static void peer_fini(peer_t *p) {
  yamux_free(p->y);
  for (size_t i = 0; i < p->record_count; i++) buf_free(&p->records[i].data);
  free(p->records);
}

/* Moves from's output into to's input in random pieces; returns bytes moved. */
static size_t transfer(peer_t *from, peer_t *to) {
  buf_t *out = yamux_output(from->y);
  if (out->len == 0) return 0;
  buf_t copy = *out;
  *out = (buf_t){0}; /* take the bytes: to's events may make from queue more */
  size_t pos = 0;
  while (pos < copy.len) {
    size_t piece = 1 + rng() % (rng() % 4 == 0 ? 16 : 70000);
    if (piece > copy.len - pos) piece = copy.len - pos;
    int rc = yamux_input(to->y, copy.data + pos, piece);
    if (rc != 0) fail_msg("yamux_input: %d %s", rc, err_msg(rc));
    pos += piece;
  }
  buf_free(&copy);
  return pos;
}

static void pump(peer_t *a, peer_t *b) {
  for (int round = 0; round < PUMP_ROUNDS_MAX; round++)
    if (transfer(a, b) + transfer(b, a) == 0) return;
  fail_msg("pump did not settle");
}

static void consume_all(peer_t *p) {
  for (size_t i = 0; i < p->record_count; i++) {
    record_t *r = &p->records[i];
    if (r->unconsumed) yamux_consumed(p->y, r->id, r->unconsumed);
    r->unconsumed = 0;
  }
}

/* A raw frame for the error cases. */
static size_t frame(uint8_t *out, uint8_t version, uint8_t type, uint16_t flags, uint32_t id, uint32_t length) {
  out[0] = version;
  out[1] = type;
  out[2] = (uint8_t)(flags >> 8);
  out[3] = (uint8_t)flags;
  for (int i = 0; i < 4; i++) out[4 + i] = (uint8_t)(id >> (24 - 8 * i));
  for (int i = 0; i < 4; i++) out[8 + i] = (uint8_t)(length >> (24 - 8 * i));
  return YAMUX_HEADER_BYTES;
}

/* The last frame queued in y's output is a Go Away with code. */
static void assert_go_away_queued(yamux_t *y, uint32_t code) {
  buf_t *out = yamux_output(y);
  assert_true(out->len >= YAMUX_HEADER_BYTES);
  uint8_t want[YAMUX_HEADER_BYTES];
  frame(want, 0, 3, 0, 0, code);
  assert_memory_equal(out->data + out->len - YAMUX_HEADER_BYTES, want, YAMUX_HEADER_BYTES);
}

static void test_open_accept_data_both_ways(void **state) {
  (void)state;
  peer_t c, s;
  peer_init(&c, true);
  peer_init(&s, false);
  uint32_t id1 = 0, id2 = 0, sid = 0;
  assert_int_equal(yamux_open(c.y, &id1), 0);
  assert_int_equal(yamux_open(c.y, &id2), 0);
  assert_int_equal(id1, 1);
  assert_int_equal(id2, 3);
  assert_int_equal(yamux_open(s.y, &sid), 0);
  assert_int_equal(sid, 2);
  assert_int_equal(yamux_write(c.y, id1, (const uint8_t *)"hello", 5), 5);
  assert_int_equal(yamux_write(c.y, id2, (const uint8_t *)"second", 6), 6);
  assert_int_equal(yamux_write(s.y, sid, (const uint8_t *)"from server", 11), 11);
  pump(&c, &s);
  assert_int_equal(rec(&s, 1)->opened, 1);
  assert_int_equal(rec(&s, 3)->opened, 1);
  assert_int_equal(rec(&c, 2)->opened, 1);
  assert_int_equal(rec(&s, 1)->data.len, 5);
  assert_memory_equal(rec(&s, 1)->data.data, "hello", 5);
  assert_memory_equal(rec(&s, 3)->data.data, "second", 6);
  assert_memory_equal(rec(&c, 2)->data.data, "from server", 11);
  assert_int_equal(yamux_write(s.y, 1, (const uint8_t *)"reply", 5), 5);
  pump(&c, &s);
  assert_memory_equal(rec(&c, 1)->data.data, "reply", 5);
  assert_int_equal(yamux_stream_count(c.y), 3);
  assert_int_equal(yamux_stream_count(s.y), 3);
  /* a write from inside the opened event follows the ACK on the wire */
  s.greet_in_opened = 1;
  uint32_t id4;
  assert_int_equal(yamux_open(c.y, &id4), 0);
  buf_reset(yamux_output(s.y));
  transfer(&c, &s);
  uint8_t ack[YAMUX_HEADER_BYTES], greeting[YAMUX_HEADER_BYTES];
  frame(ack, 0, 1, 2, id4, 0);
  frame(greeting, 0, 0, 0, id4, 2);
  assert_int_equal(yamux_output(s.y)->len, 2 * YAMUX_HEADER_BYTES + 2);
  assert_memory_equal(yamux_output(s.y)->data, ack, YAMUX_HEADER_BYTES);
  assert_memory_equal(yamux_output(s.y)->data + YAMUX_HEADER_BYTES, greeting, YAMUX_HEADER_BYTES);
  pump(&c, &s);
  assert_memory_equal(rec(&c, id4)->data.data, "hi", 2);
  /* the wire form of an open: Window Update, SYN, id 1, delta 0 */
  peer_t c2;
  peer_init(&c2, true);
  assert_int_equal(yamux_open(c2.y, &id1), 0);
  uint8_t want[YAMUX_HEADER_BYTES];
  frame(want, 0, 1, 1, 1, 0);
  assert_int_equal(yamux_output(c2.y)->len, YAMUX_HEADER_BYTES);
  assert_memory_equal(yamux_output(c2.y)->data, want, YAMUX_HEADER_BYTES);
  peer_fini(&c2);
  peer_fini(&c);
  peer_fini(&s);
}

/* 10 MB client → server and 10 MB back on the same stream, the receivers
 * consuming as they go (one in the event, one after each pump). */
static void transfer_10mb(bool with_rtt, size_t *max_send_window) {
  peer_t c, s;
  peer_init(&c, true);
  peer_init(&s, false);
  fake_now_us = 1000;
  if (with_rtt) {
    assert_int_equal(yamux_ping(c.y, 7), 0);
    assert_int_equal(yamux_ping(s.y, 8), 0);
    fake_now_us += 500;
    pump(&c, &s);
    assert_int_equal(yamux_rtt_us(c.y), 500);
    assert_int_equal(yamux_rtt_us(s.y), 500);
  }
  s.consume_in_event = 1;
  const size_t total = 10u * 1000 * 1000;
  uint8_t *pattern = malloc(total);
  assert_non_null(pattern);
  for (size_t i = 0; i < total; i++) pattern[i] = (uint8_t)(i * 7 + (i >> 13));
  uint32_t id;
  assert_int_equal(yamux_open(c.y, &id), 0);
  pump(&c, &s);
  size_t sent_up = 0, sent_down = 0;
  *max_send_window = 0;
  for (int round = 0; round < 100000 && (sent_up < total || sent_down < total); round++) {
    size_t w = yamux_send_window(c.y, id);
    if (w > *max_send_window) *max_send_window = w;
    size_t want = 1 + rng() % (512 * 1024);
    if (want > total - sent_up) want = total - sent_up;
    ssize_t n = yamux_write(c.y, id, pattern + sent_up, want);
    assert_true(n >= 0 && (size_t)n <= want && (size_t)n <= w);
    sent_up += (size_t)n;
    want = 1 + rng() % (512 * 1024);
    if (want > total - sent_down) want = total - sent_down;
    n = yamux_write(s.y, id, pattern + sent_down, want);
    assert_true(n >= 0);
    sent_down += (size_t)n;
    pump(&c, &s);
    consume_all(&c);
    fake_now_us += 10;
  }
  pump(&c, &s);
  assert_int_equal(sent_up, total);
  assert_int_equal(sent_down, total);
  assert_int_equal(rec(&s, id)->data.len, total);
  assert_int_equal(rec(&c, id)->data.len, total);
  assert_memory_equal(rec(&s, id)->data.data, pattern, total);
  assert_memory_equal(rec(&c, id)->data.data, pattern, total);
  assert_true(rec(&c, id)->writable > 0);
  free(pattern);
  peer_fini(&c);
  peer_fini(&s);
}

static void test_transfer_10mb_window_grows(void **state) {
  (void)state;
  size_t max_window = 0;
  transfer_10mb(true, &max_window);
  /* consumed within 4 round trips: the window doubled at least once, never past 16 MiB */
  assert_true(max_window > YAMUX_WINDOW_BYTES_INITIAL);
  assert_true(max_window <= YAMUX_WINDOW_BYTES_MAX);
}

static void test_transfer_10mb_no_rtt(void **state) {
  (void)state;
  size_t max_window = 0;
  transfer_10mb(false, &max_window);
  assert_true(max_window <= YAMUX_WINDOW_BYTES_INITIAL);
}

static void test_window_respected(void **state) {
  (void)state;
  peer_t c, s;
  peer_init(&c, true);
  peer_init(&s, false);
  uint32_t id;
  assert_int_equal(yamux_open(c.y, &id), 0);
  size_t big = 1024 * 1024;
  uint8_t *data = calloc(1, big);
  assert_non_null(data);
  assert_int_equal(yamux_send_window(c.y, id), YAMUX_WINDOW_BYTES_INITIAL);
  assert_int_equal(yamux_write(c.y, id, data, big), YAMUX_WINDOW_BYTES_INITIAL);
  assert_int_equal(yamux_write(c.y, id, data, big), 0);
  assert_int_equal(yamux_send_window(c.y, id), 0);
  /* frames are at most 64 KiB each */
  buf_t *out = yamux_output(c.y);
  size_t frames = (YAMUX_WINDOW_BYTES_INITIAL + YAMUX_FRAME_PAYLOAD_BYTES_MAX - 1) / YAMUX_FRAME_PAYLOAD_BYTES_MAX;
  assert_int_equal(out->len, YAMUX_HEADER_BYTES + YAMUX_WINDOW_BYTES_INITIAL + frames * YAMUX_HEADER_BYTES);
  pump(&c, &s);
  assert_int_equal(rec(&s, id)->data.len, YAMUX_WINDOW_BYTES_INITIAL);
  assert_int_equal(yamux_write(c.y, id, data, big), 0);
  assert_int_equal(rec(&c, id)->writable, 0);
  /* less than half consumed: no update */
  yamux_consumed(s.y, id, 100 * 1024);
  pump(&c, &s);
  assert_int_equal(rec(&c, id)->writable, 0);
  assert_int_equal(yamux_send_window(c.y, id), 0);
  /* half: the consumed bytes come back */
  yamux_consumed(s.y, id, 28 * 1024);
  pump(&c, &s);
  assert_int_equal(rec(&c, id)->writable, 1);
  assert_int_equal(yamux_send_window(c.y, id), 128 * 1024);
  /* consuming more than was delivered grants no more than was delivered */
  yamux_consumed(s.y, id, 10 * 1024 * 1024);
  pump(&c, &s);
  assert_int_equal(yamux_send_window(c.y, id), YAMUX_WINDOW_BYTES_INITIAL);
  free(data);
  peer_fini(&c);
  peer_fini(&s);
}

static void half_close(bool client_first) {
  peer_t c, s;
  peer_init(&c, true);
  peer_init(&s, false);
  uint32_t id;
  assert_int_equal(yamux_open(c.y, &id), 0);
  assert_int_equal(yamux_write(c.y, id, (const uint8_t *)"ask", 3), 3);
  pump(&c, &s);
  peer_t *first = client_first ? &c : &s, *second = client_first ? &s : &c;
  size_t first_had = rec(first, id)->data.len;
  assert_int_equal(yamux_close(first->y, id), 0);
  assert_int_equal(yamux_close(first->y, id), 0); /* again: nothing */
  assert_int_equal(yamux_write(first->y, id, (const uint8_t *)"x", 1), -EPIPE);
  assert_int_equal(yamux_send_window(first->y, id), 0);
  pump(&c, &s);
  assert_int_equal(rec(second, id)->fin, 1);
  assert_int_equal(rec(first, id)->fin, 0);
  /* the other direction still flows */
  assert_int_equal(yamux_write(second->y, id, (const uint8_t *)"answer", 6), 6);
  pump(&c, &s);
  assert_int_equal(rec(first, id)->data.len, first_had + 6);
  assert_int_equal(yamux_stream_count(c.y), 1);
  assert_int_equal(yamux_stream_count(s.y), 1);
  assert_int_equal(yamux_close(second->y, id), 0);
  assert_int_equal(yamux_stream_count(second->y), 0); /* both closed: forgotten */
  pump(&c, &s);
  assert_int_equal(rec(first, id)->fin, 1);
  assert_int_equal(yamux_stream_count(c.y), 0);
  assert_int_equal(yamux_stream_count(s.y), 0);
  assert_int_equal(yamux_close(c.y, id), -ENOENT);
  peer_fini(&c);
  peer_fini(&s);
}

static void test_half_close_client_first(void **state) {
  (void)state;
  half_close(true);
}
static void test_half_close_server_first(void **state) {
  (void)state;
  half_close(false);
}

static void test_reset(void **state) {
  (void)state;
  peer_t c, s;
  peer_init(&c, true);
  peer_init(&s, false);
  uint32_t id;
  assert_int_equal(yamux_open(c.y, &id), 0);
  pump(&c, &s);
  /* the server writes while the client's RST is in flight: the data is dropped quietly */
  assert_int_equal(yamux_reset(c.y, id), 0);
  assert_int_equal(yamux_stream_count(c.y), 0);
  assert_int_equal(yamux_write(s.y, id, (const uint8_t *)"late", 4), 4);
  assert_int_equal(yamux_close(s.y, id), 0);
  pump(&c, &s);
  assert_int_equal(rec(&s, id)->reset, 1);
  assert_int_equal(rec(&c, id)->data.len, 0);
  assert_int_equal(yamux_stream_count(s.y), 0);
  assert_int_equal(yamux_write(s.y, id, (const uint8_t *)"x", 1), -EPIPE);
  assert_int_equal(yamux_reset(s.y, id), -ENOENT);
  /* a stream refused by the accepting side is reset on the opener's side */
  s.refuse = 1;
  assert_int_equal(yamux_open(c.y, &id), 0);
  assert_int_equal(yamux_write(c.y, id, (const uint8_t *)"data", 4), 4);
  pump(&c, &s);
  assert_int_equal(rec(&s, id)->opened, 1);
  assert_int_equal(rec(&s, id)->data.len, 0);
  assert_int_equal(rec(&c, id)->reset, 1);
  assert_int_equal(yamux_stream_count(c.y), 0);
  assert_int_equal(yamux_stream_count(s.y), 0);
  /* reset from inside the data event: the rest of the frame is dropped */
  s.refuse = 0;
  s.reset_in_event = 1;
  assert_int_equal(yamux_open(c.y, &id), 0);
  uint8_t many[200000];
  memset(many, 'm', sizeof many);
  assert_int_equal(yamux_write(c.y, id, many, sizeof many), sizeof many);
  pump(&c, &s);
  assert_true(rec(&s, id)->data.len > 0 && rec(&s, id)->data.len < sizeof many);
  assert_int_equal(rec(&c, id)->reset, 1);
  assert_int_equal(yamux_stream_count(s.y), 0);
  assert_int_equal(yamux_stream_count(c.y), 0);
  peer_fini(&c);
  peer_fini(&s);
}

static void test_ping(void **state) {
  (void)state;
  peer_t c, s;
  peer_init(&c, true);
  peer_init(&s, false);
  fake_now_us = 5000;
  assert_int_equal(yamux_ping(c.y, 0xdeadbeef), 0);
  uint8_t want[YAMUX_HEADER_BYTES];
  frame(want, 0, 2, 1, 0, 0xdeadbeef);
  assert_memory_equal(yamux_output(c.y)->data, want, YAMUX_HEADER_BYTES);
  transfer(&c, &s);
  /* answered automatically: ACK with the same opaque */
  frame(want, 0, 2, 2, 0, 0xdeadbeef);
  assert_int_equal(yamux_output(s.y)->len, YAMUX_HEADER_BYTES);
  assert_memory_equal(yamux_output(s.y)->data, want, YAMUX_HEADER_BYTES);
  fake_now_us = 5250;
  transfer(&s, &c);
  assert_int_equal(c.pong_count, 1);
  assert_int_equal(c.pongs[0], 0xdeadbeef);
  assert_int_equal(s.pong_count, 0);
  assert_int_equal(yamux_rtt_us(c.y), 250);
  assert_int_equal(yamux_rtt_us(s.y), 0);
  peer_fini(&c);
  peer_fini(&s);
}

static void test_go_away(void **state) {
  (void)state;
  peer_t c, s;
  peer_init(&c, true);
  peer_init(&s, false);
  uint32_t id, late;
  assert_int_equal(yamux_open(c.y, &id), 0);
  pump(&c, &s);
  /* the client opens a stream while the server's Go Away is on its way */
  assert_int_equal(yamux_go_away(s.y, YAMUX_GOAWAY_NORMAL), 0);
  assert_int_equal(yamux_go_away(s.y, YAMUX_GOAWAY_INTERNAL), 0); /* once only */
  assert_int_equal(yamux_open(s.y, &late), -EPIPE);
  assert_int_equal(yamux_open(c.y, &late), 0);
  pump(&c, &s);
  assert_int_equal(c.go_aways, 1);
  assert_int_equal(c.go_away_code, YAMUX_GOAWAY_NORMAL);
  assert_int_equal(rec(&c, late)->reset, 1); /* refused: the server is going away */
  assert_int_equal(rec(&s, late)->opened, 0);
  assert_int_equal(yamux_open(c.y, &late), -EPIPE);
  /* streams already open go on */
  assert_int_equal(yamux_write(c.y, id, (const uint8_t *)"still", 5), 5);
  assert_int_equal(yamux_write(s.y, id, (const uint8_t *)"here", 4), 4);
  pump(&c, &s);
  assert_int_equal(rec(&s, id)->data.len, 5);
  assert_int_equal(rec(&c, id)->data.len, 4);
  peer_fini(&c);
  peer_fini(&s);
}

static void test_stream_limits(void **state) {
  (void)state;
  peer_t c, s;
  peer_init(&c, true);
  peer_init(&s, false);
  uint32_t id;
  /* unacknowledged opens are capped */
  for (int i = 0; i < YAMUX_STREAMS_UNACKED_MAX; i++) assert_int_equal(yamux_open(c.y, &id), 0);
  assert_int_equal(yamux_open(c.y, &id), -EAGAIN);
  pump(&c, &s);
  for (int i = YAMUX_STREAMS_UNACKED_MAX; i < YAMUX_STREAMS_MAX; i++) {
    assert_int_equal(yamux_open(c.y, &id), 0);
    if (i % 200 == 0) pump(&c, &s);
  }
  pump(&c, &s);
  assert_int_equal(yamux_open(c.y, &id), -EAGAIN);
  assert_int_equal(yamux_stream_count(c.y), YAMUX_STREAMS_MAX);
  assert_int_equal(yamux_stream_count(s.y), YAMUX_STREAMS_MAX);
  /* the server can still open its own */
  uint32_t sid;
  assert_int_equal(yamux_open(s.y, &sid), 0);
  pump(&c, &s);
  assert_int_equal(yamux_stream_count(s.y), YAMUX_STREAMS_MAX + 1);
  /* a SYN past the inbound limit (a peer ignoring its own limit) is answered with RST */
  uint8_t raw[2 * YAMUX_HEADER_BYTES + 3];
  uint32_t excess = 4001;
  frame(raw, 0, 0, 1, excess, 3);
  memcpy(raw + YAMUX_HEADER_BYTES, "abc", 3);
  frame(raw + YAMUX_HEADER_BYTES + 3, 0, 1, 0, excess, 1000); /* then tolerated as a gone stream */
  buf_reset(yamux_output(s.y));
  assert_int_equal(yamux_input(s.y, raw, sizeof raw), 0);
  uint8_t want[YAMUX_HEADER_BYTES];
  frame(want, 0, 1, 8, excess, 0);
  assert_int_equal(yamux_output(s.y)->len, YAMUX_HEADER_BYTES);
  assert_memory_equal(yamux_output(s.y)->data, want, YAMUX_HEADER_BYTES);
  assert_int_equal(rec(&s, excess)->opened, 0);
  assert_int_equal(yamux_stream_count(s.y), YAMUX_STREAMS_MAX + 1);
  buf_reset(yamux_output(s.y)); /* the client never opened 4001: its RST would be a protocol error there */
  /* closing one makes room again */
  assert_int_equal(yamux_reset(c.y, 1), 0);
  pump(&c, &s);
  assert_int_equal(yamux_open(c.y, &id), 0);
  pump(&c, &s);
  assert_int_equal(rec(&s, id)->opened, 1);
  peer_fini(&c);
  peer_fini(&s);
}

typedef struct bad_case {
  const char *name;
  bool client;      /* the session under test */
  bool open_first;  /* it opened stream (1 or 2) before */
  uint8_t bytes[64];
  size_t len;
  const char *message; /* in err_msg */
} bad_case_t;

static void test_protocol_errors(void **state) {
  (void)state;
  bad_case_t cases[16];
  size_t n = 0;
  /* one frame, sent to a client or server session that opened a stream first or not */
#define CASE(nm, cl, op, msg, ver, type, flags, id, length)                                              \
  do {                                                                                                   \
    cases[n] = (bad_case_t){.name = nm, .client = cl, .open_first = op, .message = msg};                 \
    cases[n].len = frame(cases[n].bytes, ver, type, flags, id, length);                                   \
    n++;                                                                                                 \
  } while (0)
  CASE("bad version", false, false, "bad version", 1, 2, 1, 0, 0);
  CASE("bad type", false, false, "bad frame type", 0, 4, 0, 0, 0);
  CASE("data on stream 0", false, false, "stream 0", 0, 0, 1, 0, 0);
  CASE("window update on stream 0", true, false, "stream 0", 0, 1, 0, 0, 5);
  CASE("ping on a stream", false, false, "ping or go away", 0, 2, 1, 5, 0);
  CASE("go away on a stream", false, false, "ping or go away", 0, 3, 0, 1, 0);
  CASE("data past the window", false, false, "receive window", 0, 0, 1, 1, YAMUX_WINDOW_BYTES_INITIAL + 1);
  CASE("data on a never-opened even id sent to the client", true, false, "never opened", 0, 0, 0, 2, 1);
  CASE("data on a never-opened odd id sent to the server", false, false, "never opened", 0, 0, 0, 3, 1);
  CASE("window update on the server's own unopened id", false, true, "never opened", 0, 1, 0, 4, 1);
  CASE("SYN with the receiver's parity", true, false, "own parity", 0, 1, 1, 1, 0);
  CASE("second SYN on an open stream", false, false, "second SYN", 0, 1, 1, 1, 0);
  cases[n - 1].len += frame(cases[n - 1].bytes + YAMUX_HEADER_BYTES, 0, 1, 1, 1, 0);
#undef CASE
  for (size_t i = 0; i < n; i++) {
    peer_t p;
    peer_init(&p, cases[i].client);
    if (cases[i].open_first) {
      uint32_t id;
      assert_int_equal(yamux_open(p.y, &id), 0);
    }
    buf_reset(yamux_output(p.y));
    /* byte by byte: the error comes with the frame's last header byte */
    int rc = 0;
    size_t fed = 0;
    while (fed < cases[i].len && rc == 0) rc = yamux_input(p.y, cases[i].bytes + fed++, 1);
    if (rc != -EPROTO) fail_msg("%s: rc %d", cases[i].name, rc);
    if (!strstr(err_msg(rc), cases[i].message)) fail_msg("%s: message %s", cases[i].name, err_msg(rc));
    assert_int_equal(fed % YAMUX_HEADER_BYTES, 0);
    assert_go_away_queued(p.y, YAMUX_GOAWAY_PROTOCOL);
    size_t out_len = yamux_output(p.y)->len;
    /* refused from now on, and no second Go Away */
    uint8_t ping[YAMUX_HEADER_BYTES];
    frame(ping, 0, 2, 1, 0, 1);
    assert_int_equal(yamux_input(p.y, ping, sizeof ping), -EPROTO);
    assert_int_equal(yamux_output(p.y)->len, out_len);
    uint32_t id;
    assert_int_equal(yamux_open(p.y, &id), -EPIPE);
    peer_fini(&p);
  }
}

/* What go-yamux and js-yamux tolerate: frames on streams that are gone. */
static void test_gone_streams_tolerated(void **state) {
  (void)state;
  peer_t c, s;
  peer_init(&c, true);
  peer_init(&s, false);
  uint32_t id;
  assert_int_equal(yamux_open(c.y, &id), 0);
  pump(&c, &s);
  assert_int_equal(yamux_reset(s.y, id), 0);
  buf_reset(yamux_output(s.y));
  uint8_t raw[5 * YAMUX_HEADER_BYTES + 4];
  size_t len = frame(raw, 0, 0, 0, id, 4);
  memcpy(raw + len, "gone", 4);
  len += 4;
  len += frame(raw + len, 0, 1, 0, id, 4096);
  len += frame(raw + len, 0, 1, 4, id, 0);
  len += frame(raw + len, 0, 1, 8, id, 0);
  len += frame(raw + len, 0, 2, 2, 0, 99); /* a pong nobody asked for */
  assert_int_equal(yamux_input(s.y, raw, len), 0);
  assert_int_equal(yamux_output(s.y)->len, 0);
  assert_int_equal(rec(&s, id)->data.len, 0);
  assert_int_equal(s.pong_count, 1);
  /* data after the remote's FIN is dropped */
  assert_int_equal(yamux_open(c.y, &id), 0);
  assert_int_equal(yamux_write(c.y, id, (const uint8_t *)"ok", 2), 2);
  assert_int_equal(yamux_close(c.y, id), 0);
  pump(&c, &s);
  len = frame(raw, 0, 0, 0, id, 4);
  memcpy(raw + len, "late", 4);
  assert_int_equal(yamux_input(s.y, raw, len + 4), 0);
  assert_int_equal(rec(&s, id)->data.len, 2);
  assert_int_equal(rec(&s, id)->fin, 1);
  peer_fini(&c);
  peer_fini(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open_accept_data_both_ways),
      cmocka_unit_test(test_transfer_10mb_window_grows),
      cmocka_unit_test(test_transfer_10mb_no_rtt),
      cmocka_unit_test(test_window_respected),
      cmocka_unit_test(test_half_close_client_first),
      cmocka_unit_test(test_half_close_server_first),
      cmocka_unit_test(test_reset),
      cmocka_unit_test(test_ping),
      cmocka_unit_test(test_go_away),
      cmocka_unit_test(test_stream_limits),
      cmocka_unit_test(test_protocol_errors),
      cmocka_unit_test(test_gone_streams_tolerated),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
