/*
 * yamux: the session state machine (see yamux.h for the wire and the rules).
 *
 * Streams live in an open-addressing table keyed by id (linear probing,
 * backward-shift deletion, doubling at load 1/2 from 16 slots up to 4096 for
 * the 2 × YAMUX_STREAMS_MAX streams that can exist), so every frame finds
 * its stream in O(1) and an idle session stays small.  Input is parsed
 * in place: a header is copied only when it arrives split, and Data payload
 * goes from the caller's bytes straight to the data event.  Output frames are
 * appended to one buf_t the host drains, so a steady transfer allocates
 * nothing per frame once the buffer has grown.
 *
 * Receive flow control, per stream:
 *   recv_window = recv_avail + recv_unconsumed + recv_consumed
 * recv_avail is what the remote may still send, recv_unconsumed what was
 * delivered but not yet consumed, recv_consumed what was consumed and not
 * yet granted back.  A Window Update grants recv_consumed (plus the growth
 * when the window doubles) once recv_consumed ≥ recv_window / 2.
 */
#include "yamux.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "log.h"

enum frame_type { TYPE_DATA = 0, TYPE_WINDOW_UPDATE = 1, TYPE_PING = 2, TYPE_GO_AWAY = 3 };
enum frame_flag { FLAG_SYN = 1, FLAG_ACK = 2, FLAG_FIN = 4, FLAG_RST = 8 };

#define TABLE_SLOTS_MIN 16u   /* the table's first size; it doubles at load 1/2 */
#define TABLE_SLOTS_MAX 4096u /* enough for 2 × YAMUX_STREAMS_MAX at load 1/2 */
_Static_assert(TABLE_SLOTS_MAX >= 4u * YAMUX_STREAMS_MAX, "stream table load must stay ≤ 1/2");
_Static_assert((TABLE_SLOTS_MAX & (TABLE_SLOTS_MAX - 1)) == 0, "stream table size is a power of two");
#define GROWTH_RTTS 4 /* the window doubles when a grant was used within this many round trips */

typedef struct stream {
  uint32_t id;
  bool local_closed;  /* we sent FIN */
  bool remote_closed; /* the remote sent FIN */
  bool acked;         /* outbound: the remote's ACK (or any reply) arrived */
  uint64_t send_window;     /* bytes we may still send, ≤ UINT32_MAX */
  uint32_t recv_window;     /* the current receive window size, bytes */
  uint32_t recv_avail;      /* bytes the remote may still send */
  uint32_t recv_unconsumed; /* delivered, not yet consumed */
  uint32_t recv_consumed;   /* consumed, not yet granted back */
  uint64_t epoch_start_us;  /* when the current grant began (growth decision) */
} stream_t;

struct yamux {
  bool client;
  yamux_events_t events;
  void *ctx;
  buf_t out;

  stream_t **table;             /* table_slots entries, NULL = empty slot; owned */
  size_t table_slots;           /* a power of two, TABLE_SLOTS_MIN..TABLE_SLOTS_MAX */
  size_t streams_inbound;       /* open streams the remote opened */
  size_t streams_outbound;      /* open streams we opened */
  size_t streams_unacked;       /* outbound streams without the remote's reply */
  uint32_t next_id;             /* our next stream id (0 when exhausted) */
  uint32_t remote_max_id;       /* the highest id the remote sent SYN on */

  bool local_go_away;  /* we sent Go Away */
  bool remote_go_away; /* the remote sent Go Away */
  bool failed;         /* a protocol error was found: input refused from now on */

  /* input parser */
  uint8_t header[YAMUX_HEADER_BYTES];
  size_t header_len;      /* bytes of a split header collected so far */
  uint32_t payload_left;  /* Data payload bytes of the current frame still to come */
  uint32_t payload_id;    /* its stream */
  uint16_t payload_flags; /* its flags: FIN and RST apply after the payload */
  bool payload_deliver;   /* false: dropped (stream gone or closed) */

  /* round trip, from our last ping */
  uint32_t ping_opaque;
  uint64_t ping_sent_us;
  bool ping_outstanding;
  uint64_t rtt_us;
  bool rtt_known;
  uint64_t (*now_us)(void *);
  void *clock_ctx;
};

static uint64_t monotonic_us(void *unused) {
  (void)unused;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- the stream table ---------------------------------------------------- */

/* Fibonacci hashing: the top bits of id × 2^32/φ, as many as the table needs. */
static size_t slot_of(const yamux_t *y, uint32_t id) {
  return (size_t)((id * 2654435761u) >> 12) & (y->table_slots - 1);
}

static stream_t *stream_find(const yamux_t *y, uint32_t id) {
  if (id == 0 || !y->table) return NULL;
  size_t mask = y->table_slots - 1, slot = slot_of(y, id);
  for (size_t probes = 0; probes < y->table_slots; probes++) {
    stream_t *s = y->table[slot];
    if (!s) return NULL;
    if (s->id == id) return s;
    slot = (slot + 1) & mask;
  }
  return NULL;
}

static void table_place(yamux_t *y, stream_t *s) {
  size_t mask = y->table_slots - 1, slot = slot_of(y, s->id);
  for (size_t probes = 0; probes < y->table_slots; probes++) {
    assert(!y->table[slot] || y->table[slot]->id != s->id);
    if (!y->table[slot]) {
      y->table[slot] = s;
      return;
    }
    slot = (slot + 1) & mask;
  }
  assert(!"stream table full");
}

/* Room for one more stream at load ≤ 1/2 (the table doubles when needed). */
static int table_reserve(yamux_t *y) {
  size_t count = y->streams_inbound + y->streams_outbound;
  if (y->table && (count + 1) * 2 <= y->table_slots) return 0;
  size_t slots = y->table ? y->table_slots * 2 : TABLE_SLOTS_MIN;
  assert(slots <= TABLE_SLOTS_MAX);
  stream_t **grown = calloc(slots, sizeof *grown);
  if (!grown) return -ENOMEM;
  stream_t **old = y->table;
  size_t old_slots = y->table_slots;
  y->table = grown;
  y->table_slots = slots;
  for (size_t i = 0; i < old_slots; i++)
    if (old[i]) table_place(y, old[i]);
  free(old);
  return 0;
}

static bool inbound(const yamux_t *y, uint32_t id) { return (id & 1u) != (y->client ? 1u : 0u); }

/* Removes s from the table (backward-shift deletion keeps probe chains whole) and frees it. */
static void stream_free(yamux_t *y, stream_t *s) {
  size_t mask = y->table_slots - 1, hole = slot_of(y, s->id);
  size_t probes = 0;
  while (y->table[hole] != s) {
    hole = (hole + 1) & mask;
    assert(++probes < y->table_slots);
  }
  y->table[hole] = NULL;
  size_t next = (hole + 1) & mask;
  for (probes = 0; probes < y->table_slots && y->table[next]; probes++) {
    size_t home = slot_of(y, y->table[next]->id);
    /* move the entry back when its home is not within (hole, next] */
    bool stays = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
    if (!stays) {
      y->table[hole] = y->table[next];
      y->table[next] = NULL;
      hole = next;
    }
    next = (next + 1) & mask;
  }
  if (inbound(y, s->id)) {
    assert(y->streams_inbound > 0);
    y->streams_inbound--;
  } else {
    assert(y->streams_outbound > 0);
    y->streams_outbound--;
    if (!s->acked) {
      assert(y->streams_unacked > 0);
      y->streams_unacked--;
    }
  }
  free(s);
}

static stream_t *stream_new(yamux_t *y, uint32_t id) {
  if (table_reserve(y) < 0) return NULL;
  stream_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->id = id;
  s->send_window = YAMUX_WINDOW_BYTES_INITIAL;
  s->recv_window = YAMUX_WINDOW_BYTES_INITIAL;
  s->recv_avail = YAMUX_WINDOW_BYTES_INITIAL;
  s->epoch_start_us = y->now_us(y->clock_ctx);
  table_place(y, s);
  if (inbound(y, id)) {
    y->streams_inbound++;
    s->acked = true;
  } else {
    y->streams_outbound++;
    y->streams_unacked++;
  }
  return s;
}

/* ---- output -------------------------------------------------------------- */

static void header_encode(uint8_t *h, uint8_t type, uint16_t flags, uint32_t id, uint32_t length) {
  h[0] = 0;
  h[1] = type;
  h[2] = (uint8_t)(flags >> 8);
  h[3] = (uint8_t)flags;
  h[4] = (uint8_t)(id >> 24);
  h[5] = (uint8_t)(id >> 16);
  h[6] = (uint8_t)(id >> 8);
  h[7] = (uint8_t)id;
  h[8] = (uint8_t)(length >> 24);
  h[9] = (uint8_t)(length >> 16);
  h[10] = (uint8_t)(length >> 8);
  h[11] = (uint8_t)length;
}

static int send_frame(yamux_t *y, uint8_t type, uint16_t flags, uint32_t id, uint32_t length) {
  int rc = buf_reserve(&y->out, YAMUX_HEADER_BYTES);
  if (rc < 0) return err_set(rc, "yamux: out of memory queueing a frame");
  header_encode(y->out.data + y->out.len, type, flags, id, length);
  y->out.len += YAMUX_HEADER_BYTES;
  return 0;
}

/* A protocol error: Go Away (1) queued once, the session refuses input from now on. */
static int protocol_error(yamux_t *y, const char *what, uint32_t id) {
  if (!y->failed) {
    y->failed = true;
    if (!y->local_go_away) {
      y->local_go_away = true;
      (void)send_frame(y, TYPE_GO_AWAY, 0, 0, YAMUX_GOAWAY_PROTOCOL);
    }
  }
  return err_set(-EPROTO, "yamux: %s (stream %u)", what, id);
}

/* ---- lifecycle ----------------------------------------------------------- */

int yamux_new(bool client, const yamux_events_t *events, void *ctx, yamux_t **out) {
  if (!events || !out) return err_set(-EINVAL, "yamux: no events or no result pointer");
  yamux_t *y = calloc(1, sizeof *y);
  if (!y) return err_set(-ENOMEM, "yamux: out of memory");
  y->client = client;
  y->events = *events;
  y->ctx = ctx;
  y->next_id = client ? 1 : 2;
  y->now_us = monotonic_us;
  *out = y;
  return 0;
}

void yamux_free(yamux_t *y) {
  if (!y) return;
  for (size_t i = 0; i < y->table_slots; i++) free(y->table[i]);
  free(y->table);
  buf_free(&y->out);
  free(y);
}

buf_t *yamux_output(yamux_t *y) { return &y->out; }

void yamux_set_clock(yamux_t *y, uint64_t (*now_us)(void *clock_ctx), void *clock_ctx) {
  y->now_us = now_us ? now_us : monotonic_us;
  y->clock_ctx = now_us ? clock_ctx : NULL;
}

uint64_t yamux_rtt_us(const yamux_t *y) { return y->rtt_known ? y->rtt_us : 0; }

size_t yamux_stream_count(const yamux_t *y) { return y->streams_inbound + y->streams_outbound; }

/* ---- receive window ------------------------------------------------------ */

/* Grants consumed bytes back once half the window is consumed, doubling the
 * window when the last grant was used up within GROWTH_RTTS round trips. */
static int grant_if_due(yamux_t *y, stream_t *s) {
  if (s->remote_closed || s->recv_consumed < s->recv_window / 2) return 0;
  uint64_t now = y->now_us(y->clock_ctx);
  uint32_t growth = 0;
  if (y->rtt_known && now - s->epoch_start_us < GROWTH_RTTS * y->rtt_us && s->recv_window < YAMUX_WINDOW_BYTES_MAX) {
    uint32_t grown = s->recv_window * 2 > YAMUX_WINDOW_BYTES_MAX ? YAMUX_WINDOW_BYTES_MAX : s->recv_window * 2;
    growth = grown - s->recv_window;
  }
  uint32_t delta = s->recv_consumed + growth;
  int rc = send_frame(y, TYPE_WINDOW_UPDATE, 0, s->id, delta);
  if (rc < 0) return rc;
  s->recv_window += growth;
  s->recv_avail += delta;
  s->recv_consumed = 0;
  s->epoch_start_us = now;
  assert(s->recv_avail + s->recv_unconsumed + s->recv_consumed == s->recv_window);
  return 0;
}

void yamux_consumed(yamux_t *y, uint32_t id, size_t n) {
  stream_t *s = stream_find(y, id);
  if (!s || n == 0) return;
  if (n > s->recv_unconsumed) n = s->recv_unconsumed; /* a caller's miscount must not inflate the window */
  s->recv_unconsumed -= (uint32_t)n;
  s->recv_consumed += (uint32_t)n;
  if (!y->failed) (void)grant_if_due(y, s);
}

/* ---- the application's side ---------------------------------------------- */

int yamux_open(yamux_t *y, uint32_t *id) {
  if (y->failed || y->local_go_away || y->remote_go_away)
    return err_set(-EPIPE, "yamux: session going away, no new streams");
  if (y->next_id == 0) return err_set(-EPIPE, "yamux: stream ids exhausted");
  if (y->streams_outbound >= YAMUX_STREAMS_MAX)
    return err_set(-EAGAIN, "yamux: %d outbound streams open", YAMUX_STREAMS_MAX);
  if (y->streams_unacked >= YAMUX_STREAMS_UNACKED_MAX)
    return err_set(-EAGAIN, "yamux: %d outbound streams not yet acknowledged", YAMUX_STREAMS_UNACKED_MAX);
  int rc = buf_reserve(&y->out, YAMUX_HEADER_BYTES);
  if (rc < 0) return err_set(rc, "yamux: out of memory");
  uint32_t new_id = y->next_id;
  stream_t *s = stream_new(y, new_id);
  if (!s) return err_set(-ENOMEM, "yamux: out of memory");
  y->next_id = new_id > UINT32_MAX - 2 ? 0 : new_id + 2;
  rc = send_frame(y, TYPE_WINDOW_UPDATE, FLAG_SYN, new_id, 0);
  assert(rc == 0); /* reserved above */
  *id = new_id;
  return 0;
}

ssize_t yamux_write(yamux_t *y, uint32_t id, const uint8_t *data, size_t len) {
  stream_t *s = stream_find(y, id);
  if (!s) return err_set(-EPIPE, "yamux: stream %u is gone", id);
  if (s->local_closed) return err_set(-EPIPE, "yamux: stream %u is closed for writing", id);
  if (y->failed) return err_set(-EPIPE, "yamux: session failed");
  size_t take = len < s->send_window ? len : (size_t)s->send_window;
  if (take == 0) return 0;
  size_t frames = (take + YAMUX_FRAME_PAYLOAD_BYTES_MAX - 1) / YAMUX_FRAME_PAYLOAD_BYTES_MAX;
  int rc = buf_reserve(&y->out, take + frames * YAMUX_HEADER_BYTES);
  if (rc < 0) return err_set(rc, "yamux: out of memory queueing %zu bytes", take);
  uint8_t *p = y->out.data + y->out.len;
  size_t left = take;
  for (size_t f = 0; f < frames; f++) {
    size_t chunk = left < YAMUX_FRAME_PAYLOAD_BYTES_MAX ? left : YAMUX_FRAME_PAYLOAD_BYTES_MAX;
    header_encode(p, TYPE_DATA, 0, id, (uint32_t)chunk);
    memcpy(p + YAMUX_HEADER_BYTES, data, chunk);
    p += YAMUX_HEADER_BYTES + chunk;
    data += chunk;
    left -= chunk;
  }
  assert(left == 0);
  y->out.len = (size_t)(p - y->out.data);
  s->send_window -= take;
  return (ssize_t)take;
}

size_t yamux_send_window(const yamux_t *y, uint32_t id) {
  const stream_t *s = stream_find(y, id);
  if (!s || s->local_closed || y->failed) return 0;
  return (size_t)s->send_window;
}

int yamux_close(yamux_t *y, uint32_t id) {
  stream_t *s = stream_find(y, id);
  if (!s) return err_set(-ENOENT, "yamux: no stream %u", id);
  if (s->local_closed) return 0;
  int rc = send_frame(y, TYPE_WINDOW_UPDATE, FLAG_FIN, id, 0);
  if (rc < 0) return rc;
  s->local_closed = true;
  if (s->remote_closed) stream_free(y, s);
  return 0;
}

int yamux_reset(yamux_t *y, uint32_t id) {
  stream_t *s = stream_find(y, id);
  if (!s) return err_set(-ENOENT, "yamux: no stream %u", id);
  int rc = send_frame(y, TYPE_WINDOW_UPDATE, FLAG_RST, id, 0);
  stream_free(y, s); /* forgotten even when the RST could not be queued */
  return rc;
}

int yamux_ping(yamux_t *y, uint32_t opaque) {
  if (y->failed) return err_set(-EPIPE, "yamux: session failed");
  int rc = send_frame(y, TYPE_PING, FLAG_SYN, 0, opaque);
  if (rc < 0) return rc;
  y->ping_opaque = opaque;
  y->ping_sent_us = y->now_us(y->clock_ctx);
  y->ping_outstanding = true;
  return 0;
}

int yamux_go_away(yamux_t *y, enum yamux_goaway code) {
  if (y->local_go_away) return 0;
  int rc = send_frame(y, TYPE_GO_AWAY, 0, 0, (uint32_t)code);
  if (rc < 0) return rc;
  y->local_go_away = true;
  return 0;
}

/* ---- input --------------------------------------------------------------- */

static int handle_session_frame(yamux_t *y, uint8_t type, uint16_t flags, uint32_t length) {
  if (type == TYPE_PING) {
    if (flags & FLAG_SYN) return send_frame(y, TYPE_PING, FLAG_ACK, 0, length);
    if (y->ping_outstanding && length == y->ping_opaque) {
      y->rtt_us = y->now_us(y->clock_ctx) - y->ping_sent_us;
      y->rtt_known = true;
      y->ping_outstanding = false;
    }
    if (y->events.pong) y->events.pong(y->ctx, length);
    return 0;
  }
  assert(type == TYPE_GO_AWAY);
  y->remote_go_away = true;
  if (y->events.go_away) y->events.go_away(y->ctx, length);
  return 0;
}

/* A SYN on id: a new inbound stream, accepted (ACK) or refused (RST).  Sets
 * *out to the stream, or NULL when it was refused. */
static int accept_stream(yamux_t *y, uint32_t id, stream_t **out) {
  *out = NULL;
  if (!inbound(y, id)) return protocol_error(y, "SYN on an id of our own parity", id);
  if (stream_find(y, id)) return protocol_error(y, "second SYN on an open stream", id);
  if (id > y->remote_max_id) y->remote_max_id = id;
  if (y->local_go_away || y->streams_inbound >= YAMUX_STREAMS_MAX) {
    log_debug("yamux", "refusing stream %u (%s)", id, y->local_go_away ? "going away" : "stream limit");
    return send_frame(y, TYPE_WINDOW_UPDATE, FLAG_RST, id, 0);
  }
  int rc = buf_reserve(&y->out, YAMUX_HEADER_BYTES);
  if (rc < 0) return err_set(rc, "yamux: out of memory");
  stream_t *s = stream_new(y, id);
  if (!s) return err_set(-ENOMEM, "yamux: out of memory for stream %u", id);
  /* ACK before the event, so anything the host writes from it follows the ACK */
  rc = send_frame(y, TYPE_WINDOW_UPDATE, FLAG_ACK, id, 0);
  assert(rc == 0); /* reserved above */
  if (y->events.opened && y->events.opened(y->ctx, id) < 0) {
    if (stream_find(y, id)) return yamux_reset(y, id); /* unless the event reset it already */
    return 0;
  }
  *out = stream_find(y, id); /* NULL when reset from inside the event */
  return 0;
}

/* Handles one header of a Data or Window Update frame; for Data it sets up
 * the payload that follows. */
static int handle_stream_frame(yamux_t *y, uint8_t type, uint16_t flags, uint32_t id, uint32_t length) {
  stream_t *s = NULL;
  int rc;
  if (flags & FLAG_SYN) {
    rc = accept_stream(y, id, &s);
    if (rc < 0) return rc;
  } else {
    s = stream_find(y, id);
    if (!s) {
      bool never_opened = inbound(y, id) ? id > y->remote_max_id : (y->next_id != 0 && id >= y->next_id);
      if (never_opened) return protocol_error(y, "frame on a stream never opened", id);
    }
  }
  if (type == TYPE_DATA) {
    y->payload_left = length;
    y->payload_id = id;
    y->payload_deliver = false;
  }
  if (!s) return 0; /* gone (reset, closed, refused): dropped, as go/js do */

  if ((flags & FLAG_ACK) && !s->acked) {
    s->acked = true;
    assert(y->streams_unacked > 0);
    y->streams_unacked--;
  }
  if (type == TYPE_DATA) {
    if (length > s->recv_avail) return protocol_error(y, "data past the receive window", id);
    if (!s->remote_closed && length > 0) {
      s->recv_avail -= length;
      s->recv_unconsumed += length;
      y->payload_deliver = true;
    }
  } else if (length > 0) {
    uint64_t grown = s->send_window + length;
    s->send_window = grown > UINT32_MAX ? UINT32_MAX : grown;
    if (!s->local_closed && y->events.writable) {
      y->events.writable(y->ctx, id);
      s = stream_find(y, id); /* the event may have reset it */
      if (!s) return 0;
    }
  }
  return 0;
}

/* FIN/RST flags, applied once the frame (payload included) is through. */
static void apply_close_flags(yamux_t *y, uint16_t flags, uint32_t id) {
  if (!(flags & (FLAG_FIN | FLAG_RST))) return;
  stream_t *s = stream_find(y, id);
  if (!s) return;
  if (flags & FLAG_RST) {
    stream_free(y, s);
    if (y->events.reset) y->events.reset(y->ctx, id);
    return;
  }
  if (s->remote_closed) return;
  s->remote_closed = true;
  bool gone = s->local_closed;
  if (gone) stream_free(y, s);
  if (y->events.fin) y->events.fin(y->ctx, id);
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* One whole header: validated, then dispatched. */
static int handle_header(yamux_t *y, const uint8_t *h) {
  uint8_t version = h[0], type = h[1];
  uint16_t flags = (uint16_t)(h[2] << 8 | h[3]);
  uint32_t id = be32(h + 4), length = be32(h + 8);
  if (version != 0) return protocol_error(y, "bad version", id);
  if (type > TYPE_GO_AWAY) return protocol_error(y, "bad frame type", id);
  if (type == TYPE_PING || type == TYPE_GO_AWAY) {
    if (id != 0) return protocol_error(y, "ping or go away on a stream", id);
    return handle_session_frame(y, type, flags, length);
  }
  if (id == 0) return protocol_error(y, "data or window update on stream 0", id);
  int rc = handle_stream_frame(y, type, flags, id, length);
  if (rc < 0) return rc;
  if (type == TYPE_DATA && length > 0) {
    y->payload_flags = flags;
    return 0;
  }
  apply_close_flags(y, flags, id);
  return 0;
}

int yamux_input(yamux_t *y, const uint8_t *data, size_t len) {
  if (y->failed) return err_set(-EPROTO, "yamux: session failed earlier");
  size_t pos = 0;
  /* every pass consumes at least one byte, or ends */
  while (pos < len) {
    if (y->payload_left > 0) {
      size_t take = len - pos < y->payload_left ? len - pos : y->payload_left;
      y->payload_left -= (uint32_t)take;
      if (y->payload_deliver && y->events.data) {
        /* the stream may be gone by now (reset from an event): look it up */
        if (stream_find(y, y->payload_id)) y->events.data(y->ctx, y->payload_id, data + pos, take);
      }
      pos += take;
      if (y->payload_left == 0) apply_close_flags(y, y->payload_flags, y->payload_id);
      if (y->failed) return -EPROTO;
      continue;
    }
    int rc;
    if (y->header_len == 0 && len - pos >= YAMUX_HEADER_BYTES) {
      rc = handle_header(y, data + pos);
      pos += YAMUX_HEADER_BYTES;
    } else {
      size_t take = YAMUX_HEADER_BYTES - y->header_len;
      if (take > len - pos) take = len - pos;
      memcpy(y->header + y->header_len, data + pos, take);
      y->header_len += take;
      pos += take;
      if (y->header_len < YAMUX_HEADER_BYTES) break;
      y->header_len = 0;
      rc = handle_header(y, y->header);
    }
    if (rc < 0) {
      if (rc != -EPROTO) y->failed = true; /* out of memory mid-frame: the parser can't resume */
      return rc;
    }
    if (y->failed) return err_set(-EPROTO, "yamux: session failed");
  }
  return 0;
}
