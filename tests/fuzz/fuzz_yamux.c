/*
 * fuzz_yamux: two modes, chosen by the first byte.
 *
 * Raw (even first byte): one session (client or server) gets arbitrary wire
 * bytes interleaved with the application's calls (open, write, consume,
 * close, reset, ping, go away) taken from the input.  Properties: no crash
 * or sanitizer report; every frame the session queues is well formed
 * (version 0, a known type, Data payload ≤ YAMUX_FRAME_PAYLOAD_BYTES_MAX);
 * once input failed it keeps failing with -EPROTO; stream counts stay
 * within the limits.
 *
 * Pair (odd first byte): a client and a server back to back, the input
 * choosing the calls and how the bytes between them are split.  Properties:
 * no protocol error ever; every stream's bytes arrive in order and intact
 * (each byte is a function of stream, direction and offset); nobody writes
 * past the window.  A violated property aborts.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "yamux.h"

#define OPS_MAX 4096
#define IDS_MAX 64

static uint8_t source[256 * 1024]; /* what writes send (pair mode fills in the pattern) */

typedef struct cursor {
  const uint8_t *data;
  size_t len, pos;
} cursor_t;

static uint8_t next_byte(cursor_t *c) { return c->pos < c->len ? c->data[c->pos++] : 0; }

static uint8_t pattern(uint32_t id, bool from_client, uint64_t offset) {
  return (uint8_t)(offset * 31u + id * 7u + (offset >> 9) + (from_client ? 101u : 0u));
}

/* Every frame in out is well formed. */
static void check_output(const buf_t *out) {
  size_t pos = 0;
  while (pos < out->len) {
    if (out->len - pos < YAMUX_HEADER_BYTES) abort();
    const uint8_t *h = out->data + pos;
    if (h[0] != 0 || h[1] > 3) abort();
    uint32_t id = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
    uint32_t length = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 | (uint32_t)h[10] << 8 | h[11];
    pos += YAMUX_HEADER_BYTES;
    if (h[1] >= 2 && id != 0) abort();
    if (h[1] < 2 && id == 0) abort();
    if (h[1] == 0) {
      if (length > YAMUX_FRAME_PAYLOAD_BYTES_MAX || length > out->len - pos) abort();
      pos += length;
    }
  }
}

/* ---- raw mode ------------------------------------------------------------ */

typedef struct raw {
  yamux_t *y;
  uint32_t ids[IDS_MAX]; /* ids seen, a ring */
  size_t id_count;
  uint64_t sink;
} raw_t;

static void raw_remember(raw_t *r, uint32_t id) { r->ids[r->id_count++ % IDS_MAX] = id; }
static uint32_t raw_pick(raw_t *r, uint8_t b) {
  size_t known = r->id_count < IDS_MAX ? r->id_count : IDS_MAX;
  return known ? r->ids[b % known] : b;
}
static int raw_opened(void *ctx, uint32_t id) {
  raw_remember(ctx, id);
  return (id & 6) == 6 ? -1 : 0;
}
static void raw_data(void *ctx, uint32_t id, const uint8_t *data, size_t len) {
  raw_t *r = ctx;
  if (len == 0) abort();
  r->sink += data[0] + data[len - 1];
  if ((data[0] & 0x3f) == 0x3f) yamux_consumed(r->y, id, len);
  if (data[0] == 0xee) (void)yamux_reset(r->y, id);
}
static void raw_fin(void *ctx, uint32_t id) {
  raw_t *r = ctx;
  if (id & 8) (void)yamux_close(r->y, id);
}
static void raw_reset(void *ctx, uint32_t id) { ((raw_t *)ctx)->sink += id; }
static void raw_writable(void *ctx, uint32_t id) {
  raw_t *r = ctx;
  if (id & 16) (void)yamux_write(r->y, id, source, 100);
}
static void raw_pong(void *ctx, uint32_t opaque) { ((raw_t *)ctx)->sink += opaque; }
static void raw_go_away(void *ctx, uint32_t code) { ((raw_t *)ctx)->sink += code; }

static void run_raw(bool client, cursor_t *in) {
  static const yamux_events_t ev = {raw_opened, raw_data, raw_fin, raw_reset, raw_writable, raw_pong, raw_go_away};
  raw_t r = {0};
  if (yamux_new(client, &ev, &r, &r.y) != 0) abort();
  bool failed = false;
  for (int op = 0; op < OPS_MAX && in->pos < in->len; op++) {
    uint8_t code = next_byte(in);
    uint32_t id;
    switch (code & 7) {
    case 0:
    case 1: { /* wire bytes: most of the input */
      size_t n = (size_t)next_byte(in) * 4 + (code >> 3);
      if (n > in->len - in->pos) n = in->len - in->pos;
      int rc = yamux_input(r.y, in->data + in->pos, n);
      in->pos += n;
      if (failed && rc != -EPROTO) abort();
      if (rc != 0 && rc != -EPROTO) abort();
      if (rc == -EPROTO) failed = true;
      break;
    }
    case 2:
      if (yamux_open(r.y, &id) == 0) raw_remember(&r, id);
      break;
    case 3: {
      uint32_t pick = raw_pick(&r, next_byte(in));
      size_t len = (size_t)next_byte(in) * 257;
      size_t window = yamux_send_window(r.y, pick);
      ssize_t n = yamux_write(r.y, pick, source, len);
      if (n > 0 && ((size_t)n > len || (size_t)n > window)) abort();
      break;
    }
    case 4:
      yamux_consumed(r.y, raw_pick(&r, next_byte(in)), (size_t)next_byte(in) * 1024);
      break;
    case 5:
      (void)((code & 8) ? yamux_reset(r.y, raw_pick(&r, next_byte(in))) : yamux_close(r.y, raw_pick(&r, next_byte(in))));
      break;
    case 6:
      (void)yamux_ping(r.y, next_byte(in));
      break;
    case 7:
      if (code & 8) (void)yamux_go_away(r.y, YAMUX_GOAWAY_NORMAL);
      check_output(yamux_output(r.y));
      buf_reset(yamux_output(r.y));
      break;
    }
    if (yamux_stream_count(r.y) > 2 * YAMUX_STREAMS_MAX) abort();
  }
  check_output(yamux_output(r.y));
  yamux_free(r.y);
}

/* ---- pair mode ----------------------------------------------------------- */

typedef struct track {
  uint32_t id;
  uint64_t written;    /* bytes this side wrote */
  uint64_t received;   /* bytes this side received */
  uint64_t unconsumed; /* received, not yet consumed */
  bool used;
} track_t;

typedef struct side {
  yamux_t *y;
  bool client;
  track_t tracks[2 * IDS_MAX]; /* by id: ids stay below 2 × IDS_MAX here */
  cursor_t *in;
  int opens; /* streams this side opened */
} side_t;

static track_t *track_of(side_t *s, uint32_t id) {
  if (id >= 2 * IDS_MAX) abort();
  track_t *t = &s->tracks[id];
  if (!t->used) {
    memset(t, 0, sizeof *t);
    t->used = true;
    t->id = id;
  }
  return t;
}

static int pair_opened(void *ctx, uint32_t id) {
  side_t *s = ctx;
  track_of(s, id);
  return 0;
}
static void pair_data(void *ctx, uint32_t id, const uint8_t *data, size_t len) {
  side_t *s = ctx;
  track_t *t = track_of(s, id);
  for (size_t i = 0; i < len; i++)
    if (data[i] != pattern(id, !s->client, t->received + i)) abort();
  t->received += len;
  t->unconsumed += len;
}
static void pair_fin(void *ctx, uint32_t id) { (void)ctx, (void)id; }
static void pair_reset(void *ctx, uint32_t id) {
  side_t *s = ctx;
  s->tracks[id].used = false;
}
static void pair_writable(void *ctx, uint32_t id) { (void)ctx, (void)id; }
static void pair_pong(void *ctx, uint32_t opaque) { (void)ctx, (void)opaque; }
static void pair_go_away(void *ctx, uint32_t code) { (void)ctx, (void)code; }

/* Moves from's output to to in pieces sized by the input. */
static void pair_move(side_t *from, side_t *to, cursor_t *in) {
  buf_t *out = yamux_output(from->y);
  check_output(out);
  buf_t bytes = *out;
  *out = (buf_t){0};
  size_t pos = 0;
  for (int pieces = 0; pos < bytes.len; pieces++) {
    size_t piece = pieces < 64 ? 1 + (size_t)next_byte(in) * 97 : bytes.len - pos;
    if (piece > bytes.len - pos) piece = bytes.len - pos;
    if (yamux_input(to->y, bytes.data + pos, piece) != 0) abort();
    pos += piece;
  }
  buf_free(&bytes);
}

static void side_write(side_t *s, uint32_t id, size_t len) {
  track_t *t = track_of(s, id);
  if (len > sizeof source) len = sizeof source;
  for (size_t i = 0; i < len; i++) source[i] = pattern(id, s->client, t->written + i);
  size_t window = yamux_send_window(s->y, id);
  ssize_t n = yamux_write(s->y, id, source, len);
  if (n < 0) return; /* closed or gone */
  if ((size_t)n > window || (size_t)n > len) abort();
  t->written += (uint64_t)n;
}

static void run_pair(cursor_t *in) {
  static const yamux_events_t ev = {pair_opened, pair_data, pair_fin, pair_reset, pair_writable, pair_pong,
                                    pair_go_away};
  side_t c = {.client = true, .in = in}, s = {.client = false, .in = in};
  if (yamux_new(true, &ev, &c, &c.y) != 0 || yamux_new(false, &ev, &s, &s.y) != 0) abort();
  for (int op = 0; op < OPS_MAX && in->pos < in->len; op++) {
    uint8_t code = next_byte(in);
    side_t *me = (code & 8) ? &s : &c;
    uint32_t id;
    uint32_t pick = (uint32_t)next_byte(in) % (2 * IDS_MAX);
    switch (code & 7) {
    case 0:
      pair_move(&c, &s, in);
      pair_move(&s, &c, in);
      break;
    case 1:
      if (me->opens < IDS_MAX - 1 && yamux_open(me->y, &id) == 0) { /* ids stay below 2 × IDS_MAX */
        me->opens++;
        track_of(me, id);
      }
      break;
    case 2:
      side_write(me, pick, (size_t)next_byte(in) * 61);
      break;
    case 3: {
      track_t *t = &me->tracks[pick];
      if (!t->used) break;
      uint64_t n = (uint64_t)next_byte(in) * 2048;
      if (n > t->unconsumed) n = t->unconsumed;
      t->unconsumed -= n;
      yamux_consumed(me->y, pick, (size_t)n);
      break;
    }
    case 4:
      (void)yamux_close(me->y, pick);
      break;
    case 5:
      if (yamux_reset(me->y, pick) == 0) me->tracks[pick].used = false;
      break;
    case 6:
      (void)yamux_ping(me->y, pick);
      break;
    case 7:
      if (code & 16) (void)yamux_go_away(me->y, YAMUX_GOAWAY_NORMAL);
      break;
    }
  }
  pair_move(&c, &s, in);
  pair_move(&s, &c, in);
  yamux_free(c.y);
  yamux_free(s.y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  cursor_t in = {data, size, 1};
  if (data[0] & 1)
    run_pair(&in);
  else
    run_raw((data[0] & 2) != 0, &in);
  return 0;
}
