#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "varint.h"

int buf_reserve(buf_t *b, size_t extra) {
  if (b->cap - b->len > extra) return 0; /* keep one spare byte for buf_cstr */
  size_t need = b->len + extra + 1;
  if (need < b->len) return -ENOMEM;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) {
    if (cap > SIZE_MAX / 2) return -ENOMEM;
    cap *= 2;
  }
  uint8_t *data = realloc(b->data, cap);
  if (!data) return -ENOMEM;
  b->data = data;
  b->cap = cap;
  return 0;
}

int buf_append(buf_t *b, const void *data, size_t n) {
  if (n == 0) return 0;
  int rc = buf_reserve(b, n);
  if (rc) return rc;
  memcpy(b->data + b->len, data, n);
  b->len += n;
  return 0;
}

int buf_append_byte(buf_t *b, uint8_t byte) { return buf_append(b, &byte, 1); }

int buf_append_varint(buf_t *b, uint64_t value) {
  uint8_t tmp[VARINT_BYTES_MAX + 1];
  size_t n = varint_encode(value, tmp);
  return buf_append(b, tmp, n);
}

int buf_printf(buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return -EINVAL;
  int rc = buf_reserve(b, (size_t)n + 1);
  if (rc) return rc;
  va_start(ap, fmt);
  vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

char *buf_cstr(buf_t *b) {
  if (buf_reserve(b, 1)) return NULL;
  b->data[b->len] = '\0';
  return (char *)b->data;
}

void buf_reset(buf_t *b) { b->len = 0; }

void buf_free(buf_t *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
