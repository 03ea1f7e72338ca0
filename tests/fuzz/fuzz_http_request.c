/*
 * fuzz_http_request: the HTTP/1.1 request path of net/http_h1.c (http-parser
 * and our callbacks: header collection, the header byte limit, the target's
 * split into path and query, pipelined requests, bodies) over arbitrary
 * bytes, in small fragments.  The first input byte picks header_bytes_max
 * (64..16384).  Properties, at each request's end of headers: method, target,
 * path and query are C strings inside the head buffer; the path is not empty;
 * the query is what follows the first '?' of the target (or ""); every
 * header name is found again by http_req_header (case-insensitively); values
 * carry no trailing blank and no CR/LF; the header bytes seen stay within the
 * limit; a Content-Length header given once agrees with
 * http_req_content_length.  The parse ends in a count of requests or in
 * -400/-431.  A violated property aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_internal.h"

static void on_head(const http_req_t *req, void *arg) {
  size_t max = *(size_t *)arg;
  const char *base = (const char *)req->head.data;
  size_t head_len = req->head.len;
  const char *strings[] = {http_req_method(req), http_req_target(req), http_req_path(req),
                           http_req_query(req)};
  for (size_t i = 1; i < 4; i++) {
    const char *s = strings[i];
    if (s < base || s >= base + head_len) abort();
    if (!memchr(s, 0, head_len - (size_t)(s - base))) abort();
  }
  if (!strings[0] || !strings[0][0]) abort();
  if (!strings[2][0]) abort();
  const char *target = strings[1], *q = strchr(target, '?');
  if (strcmp(strings[3], q ? q + 1 : "") != 0) abort();
  size_t count = http_req_header_count(req), length_headers = 0;
  const char *length = NULL;
  for (size_t i = 0; i < count; i++) {
    const char *name, *value;
    http_req_header_at(req, i, &name, &value);
    if (!name || !value) abort();
    if (!http_req_header(req, name)) abort();
    size_t n = strlen(value);
    if (n && (value[n - 1] == ' ' || value[n - 1] == '\t')) abort();
    if (strpbrk(value, "\r\n")) abort();
    if (strcasecmp(name, "content-length") == 0) {
      length_headers++;
      length = value;
    }
  }
  if (req->c->head_bytes > max) abort();
  if (length_headers == 1 && !req->chunked) {
    char *end;
    long long v = strtoll(length, &end, 10);
    if (*end == 0 && v >= 0 && v != http_req_content_length(req)) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t max = 64 + (size_t)data[0] * 64;
  int rc = http_h1_parse_for_fuzz(data + 1, size - 1, max, on_head, &max);
  if (rc < 0 && rc != -400 && rc != -431) abort();
  return 0;
}
