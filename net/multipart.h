/*
 * multipart: a streaming multipart/form-data parser (RFC 7578 over RFC 2046's
 * multipart syntax), the body format of Kubo's RPC `add` and `block put`.
 *
 * The body is fed in pieces of any size (mp_feed); the parser hands each
 * part's headers to part_begin, its bytes to part_data as they arrive (in
 * slices of the fed buffers, never gathered: a 1 GiB part costs no memory)
 * and calls part_end when the part's delimiter is seen.  Any split of the
 * same body gives the same parts and the same bytes.
 *
 * Syntax accepted: a preamble (ignored), then "--BOUNDARY" followed by
 * optional spaces or tabs and CRLF, the part's header lines (CRLF each, an
 * empty line ending them), its body up to "CRLF--BOUNDARY", and so on until
 * "--BOUNDARY--" (what follows it, the epilogue, is ignored).  Header lines
 * are "Name: value"; folded lines and bare LFs are refused.  Headers known:
 * Content-Disposition (its name= and filename= parameters, quoted or
 * token, "\" escapes in quotes; filename is kept as sent: Kubo's clients
 * percent-encode it), Content-Type, and Abspath (Kubo's nocopy header);
 * others are skipped.
 *
 * Limits: one part's header block at most MP_HEADER_BYTES_MAX (-E2BIG);
 * a boundary 1..70 characters (RFC 2046).
 *
 * Errors: mp_feed and mp_finish return 0 or a negative errno with err_set
 * (-EINVAL malformed, -E2BIG headers too large, or a callback's own negative
 * return, passed through untouched).  The first error sticks: later calls
 * return it without parsing.  mp_finish fails (-EINVAL) unless the closing
 * delimiter was seen.
 */
#ifndef ANYA_NET_MULTIPART_H
#define ANYA_NET_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MP_BOUNDARY_BYTES_MAX 70
#define MP_HEADER_BYTES_MAX 16384   /* one part's header block, CRLFs included */
#define MP_NAME_BYTES_MAX 255       /* name= */
#define MP_FILENAME_BYTES_MAX 4095  /* filename=, Abspath */
#define MP_TYPE_BYTES_MAX 255       /* Content-Type */

typedef struct mp_part {
  char name[MP_NAME_BYTES_MAX + 1];          /* Content-Disposition name=, "" if none */
  char filename[MP_FILENAME_BYTES_MAX + 1];  /* filename= as sent, "" if none */
  bool has_filename;                         /* filename= was present (maybe empty) */
  char content_type[MP_TYPE_BYTES_MAX + 1];  /* "" when absent */
  char abspath[MP_FILENAME_BYTES_MAX + 1];   /* Abspath header, "" when absent */
} mp_part_t;

typedef struct mp_callbacks {
  /* A part's headers are complete; part is valid during the call only. */
  int (*part_begin)(void *ctx, const mp_part_t *part);
  /* Body bytes of the current part, in order (len > 0). */
  int (*part_data)(void *ctx, const uint8_t *data, size_t len);
  /* The current part ended (its delimiter was seen). */
  int (*part_end)(void *ctx);
  void *ctx;
} mp_callbacks_t;

typedef struct mp mp_t;

/* The boundary of a Content-Type header value ("multipart/form-data;
 * boundary=xyz", the value quoted or not) into out (NUL-terminated).
 * -EINVAL (message says why) when it is not multipart or has no valid
 * boundary. */
int mp_boundary(const char *content_type, char out[MP_BOUNDARY_BYTES_MAX + 1]);

/* A parser for boundary; cb is copied.  0, -EINVAL (bad boundary), -ENOMEM. */
int mp_new(const char *boundary, const mp_callbacks_t *cb, mp_t **out);
/* Parses the next len bytes of the body. */
int mp_feed(mp_t *p, const void *data, size_t len);
/* The body ended: 0 when the closing delimiter was seen. */
int mp_finish(mp_t *p);
/* Parts begun so far. */
uint64_t mp_parts(const mp_t *p);
void mp_free(mp_t *p);

#endif
