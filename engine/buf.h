/*
 * buf: the one growable byte buffer of libanya (like git's strbuf).
 *
 * A buf_t owns `data` (heap, NULL while cap == 0).  `len` bytes are in use;
 * `cap` bytes are allocated.  The bytes after `len` are unspecified, except
 * that buf_cstr() NUL-terminates.  Zero-initialise (`buf_t b = {0};`) to create;
 * buf_free() releases.  Growth is geometric, so appends are amortised O(1).
 */
#ifndef ANYA_BUF_H
#define ANYA_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
  uint8_t *data; /* owned; NULL when cap == 0 */
  size_t len;    /* bytes in use */
  size_t cap;    /* bytes allocated */
} buf_t;

/* Ensures room for `extra` more bytes after len. 0 or -ENOMEM. */
int buf_reserve(buf_t *b, size_t extra);
/* Appends `n` bytes. 0 or -ENOMEM. */
int buf_append(buf_t *b, const void *data, size_t n);
/* Appends one byte. 0 or -ENOMEM. */
int buf_append_byte(buf_t *b, uint8_t byte);
/* Appends an unsigned varint (multiformats encoding, see varint.h). 0 or -ENOMEM. */
int buf_append_varint(buf_t *b, uint64_t value);
/* Appends printf-formatted text (without its NUL). 0 or -ENOMEM. */
int buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* NUL-terminates (not counted in len) and returns data as a C string; NULL on ENOMEM. */
char *buf_cstr(buf_t *b);
/* Sets len to 0, keeps the allocation. */
void buf_reset(buf_t *b);
/* Releases the allocation; the buf is empty and reusable afterwards. */
void buf_free(buf_t *b);

#endif
