/*
 * yamux: the stream multiplexer (/yamux/1.0.0, the hashicorp spec as libp2p
 * uses it).  Sans-IO: yamux_input takes the decrypted bytes from the
 * connection and calls back with events; frames to send accumulate in the
 * session's output buffer, which the host drains (yamux_output).
 *
 *   header: version u8 (0) | type u8 | flags u16 | stream id u32 | length u32, big-endian
 *   types:  0 Data, 1 Window Update, 2 Ping, 3 Go Away;  flags: SYN 1, ACK 2, FIN 4, RST 8
 *
 * Streams opened by the client (dialer) are odd, by the server even.  Every
 * stream starts with a 256 KiB window each way; the receive window is
 * granted back as the application consumes (yamux_consumed), and grows
 * (doubling, up to YAMUX_WINDOW_BYTES_MAX) when the application keeps up.
 * Data past the window, an unknown type, a bad version or a frame on a
 * stream that can't exist is a protocol error: yamux_input fails with
 * -EPROTO (err_set names it) and queues a Go Away (code 1); the host then
 * closes the connection.  Limits: YAMUX_STREAMS_MAX open streams each way
 * (a remote SYN past it is answered with RST), frames ≤ the window.
 *
 * Behaviour where the spec is silent follows go-yamux and js-yamux:
 *  - a stream is opened with a Window Update carrying SYN (sent by
 *    yamux_open), and accepted with a Window Update carrying ACK, queued
 *    before `opened` runs (so what the host writes from it follows the ACK);
 *    a refusal from `opened` then sends RST;
 *  - frames for a stream that existed but is gone (reset, or closed both
 *    ways) are dropped, data included, without a session error; a frame
 *    without SYN on an id that was never opened (the remote's parity above
 *    its highest SYN, or ours above our highest open) is a protocol error, as
 *    are a SYN with our parity, a second SYN on an open stream, Data or Window
 *    Update on stream 0 and Ping or Go Away on another stream;
 *  - data after the remote's FIN is dropped;
 *  - the receive window is granted back once half of it has been consumed,
 *    and doubles (up to YAMUX_WINDOW_BYTES_MAX) when the previous grant was
 *    used up within 4 round trips.  The round trip is measured from our own
 *    yamux_ping to its pong, so the host should ping once the session is up
 *    (js-yamux does): without a measurement windows stay at 256 KiB.
 *
 * Events run inside yamux_input; they may call any yamux_* function on the
 * same session (write, close, reset, consumed, ...) except yamux_free.  Data
 * is handed over without copying, possibly in several pieces per frame.
 * Not thread-safe: one session belongs to one thread at a time.
 */
#ifndef ANYA_NET_YAMUX_H
#define ANYA_NET_YAMUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

#define YAMUX_PROTOCOL "/yamux/1.0.0"
#define YAMUX_HEADER_BYTES 12
#define YAMUX_WINDOW_BYTES_INITIAL (256u * 1024)
#define YAMUX_WINDOW_BYTES_MAX (16u * 1024 * 1024)
#define YAMUX_STREAMS_MAX 1024
/* Data frames we send carry at most this much payload (a whole frame ≤ 64 KiB, as js-yamux sends). */
#define YAMUX_FRAME_PAYLOAD_BYTES_MAX (64u * 1024 - YAMUX_HEADER_BYTES)
/* Outbound streams not yet acknowledged by the remote (go-yamux's backlog): yamux_open gives -EAGAIN past it. */
#define YAMUX_STREAMS_UNACKED_MAX 256

enum yamux_goaway { YAMUX_GOAWAY_NORMAL = 0, YAMUX_GOAWAY_PROTOCOL = 1, YAMUX_GOAWAY_INTERNAL = 2 };

typedef struct yamux_events {
  /* The remote opened stream id.  Return 0 to accept, <0 to reset it. */
  int (*opened)(void *ctx, uint32_t id);
  /* Bytes arrived on a stream (counted against its receive window until consumed). */
  void (*data)(void *ctx, uint32_t id, const uint8_t *data, size_t len);
  /* The remote half-closed (FIN) or reset (RST) a stream; after reset the id is gone. */
  void (*fin)(void *ctx, uint32_t id);
  void (*reset)(void *ctx, uint32_t id);
  /* A stream's send window grew (writers waiting may go on): every Window
   * Update with a positive delta on a stream still open for writing. */
  void (*writable)(void *ctx, uint32_t id);
  /* The answer to our ping (rtt is the host's to measure), and Go Away. */
  void (*pong)(void *ctx, uint32_t opaque);
  void (*go_away)(void *ctx, uint32_t code);
} yamux_events_t;

typedef struct yamux yamux_t;

/* client: this side dialed (opens odd ids).  Any event may be NULL (opened
 * NULL accepts every stream).  0, -EINVAL or -ENOMEM. */
int yamux_new(bool client, const yamux_events_t *events, void *ctx, yamux_t **out);
void yamux_free(yamux_t *y);
/* Parses inbound bytes (any split), calling the events. -EPROTO as above
 * (and for every call after one failed), -ENOMEM when output can't be queued. */
int yamux_input(yamux_t *y, const uint8_t *data, size_t len);
/* The frames waiting to go out; the host copies them to the wire and buf_resets it. */
buf_t *yamux_output(yamux_t *y);
/* Opens a stream (SYN is sent with the first write or right away). -EAGAIN at YAMUX_STREAMS_MAX, -EPIPE after Go Away. */
int yamux_open(yamux_t *y, uint32_t *id);
/* Queues up to len bytes as Data frames within the send window: returns the
 * bytes taken (0 when the window is shut: wait for writable), -EPIPE when
 * the stream is closed for writing or reset. */
ssize_t yamux_write(yamux_t *y, uint32_t id, const uint8_t *data, size_t len);
/* Bytes yamux_write would take now (0 for an unknown or write-closed stream). */
size_t yamux_send_window(const yamux_t *y, uint32_t id);
/* The application read n bytes of the stream: grant window back when due.
 * Unknown ids (a stream already gone) are ignored. */
void yamux_consumed(yamux_t *y, uint32_t id, size_t n);
/* FIN our side (again: no-op); the stream is forgotten once both sides are
 * closed.  -ENOENT for an unknown id. */
int yamux_close(yamux_t *y, uint32_t id);
/* RST, forget the stream.  -ENOENT for an unknown id. */
int yamux_reset(yamux_t *y, uint32_t id);
/* Ping SYN with opaque; its pong also measures the round trip (yamux_rtt_us). -EPIPE after a failure. */
int yamux_ping(yamux_t *y, uint32_t opaque);
/* Go Away once (later calls do nothing): no new streams either way after it. */
int yamux_go_away(yamux_t *y, enum yamux_goaway code);
/* Open streams, both directions. */
size_t yamux_stream_count(const yamux_t *y);
/* The last round trip measured from yamux_ping to its pong, µs; 0 before. */
uint64_t yamux_rtt_us(const yamux_t *y);
/* The clock window growth uses: µs from any fixed origin (default
 * CLOCK_MONOTONIC); tests inject one to make growth deterministic. */
void yamux_set_clock(yamux_t *y, uint64_t (*now_us)(void *clock_ctx), void *clock_ctx);

#endif
