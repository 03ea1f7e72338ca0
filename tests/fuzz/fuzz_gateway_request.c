/*
 * Fuzz target: the gateway's request parsers (net/gateway_parse.c, compiled
 * in here because fuzz targets link libanya only): the input is split at the
 * first two newlines into a URL path, a Host header and a query string.
 * Properties: no crash, no read past the NUL; a parsed target's path never
 * holds an empty, "." or ".." segment, and its segment count matches; a
 * subdomain root is one DNS label; decoding is bounded by its output.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_parse.c"

static void check_target(const gw_target_t *t) {
  if (strlen(t->root) == 0) abort();
  size_t segs = 0;
  const char *p = t->path;
  while (*p) {
    const char *s = strchr(p, '/');
    size_t len = s ? (size_t)(s - p) : strlen(p);
    if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) abort();
    segs++;
    p += len;
    if (*p == '/') p++;
  }
  if (segs != t->segments) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *in = malloc(size + 1);
  if (!in) return 0;
  memcpy(in, data, size);
  in[size] = '\0';
  char *host = strchr(in, '\n');
  char *query = NULL;
  if (host) {
    *host++ = '\0';
    query = strchr(host, '\n');
    if (query) *query++ = '\0';
  }
  gw_target_t *t = malloc(sizeof *t);
  if (gw_parse_target(in, t) == 0) check_target(t);
  gw_host_t h;
  if (host && gw_parse_host(host, &h) == 1) {
    if (strchr(h.root, '.') || !h.root[0]) abort();
    memset(t, 0, sizeof *t);
    t->ns = h.ns;
    strcpy(t->root, h.root);
    if (gw_parse_subpath(in, t) == 0) check_target(t);
  }
  if (query) {
    static const char *const names[] = {"format", "filename", "download", "dag-scope", "entity-bytes",
                                        "car-dups"};
    char v[64];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
      int n = gw_query_get(query, names[i], v, sizeof v);
      if (n >= 0 && ((size_t)n >= sizeof v || strlen(v) != (size_t)n)) abort();
    }
  }
  free(t);
  free(in);
  return 0;
}
