/*
 * Fuzz target: the gateway's header and parameter parsers and text helpers
 * (net/gateway_parse.c, compiled in: fuzz targets link libanya only).  The
 * whole input is given to each of Accept, Range (over several entity sizes),
 * entity-bytes, If-None-Match, the content sniffer, the HTML and URL
 * escapers and Content-Disposition.
 * Properties: no crash; a satisfiable range lies inside the entity; an
 * entity-bytes range lies inside the entity; escaped HTML holds no '<', '>'
 * or '"'; a URL-escaped segment holds no '/'; Content-Disposition is one
 * line of printable ASCII.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_parse.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *in = malloc(size + 1);
  if (!in) return 0;
  memcpy(in, data, size);
  in[size] = '\0';
  gw_accept_t a;
  gw_parse_accept(in, &a);
  if (a.format > GW_FORMAT_UNSUPPORTED) abort();
  static const uint64_t sizes[] = {0, 1, 100, 1u << 20, UINT64_MAX};
  gw_entity_bytes_t eb;
  bool eb_ok = gw_parse_entity_bytes(in, &eb) == 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    uint64_t first, last;
    if (gw_parse_range(in, sizes[i], &first, &last) == 0 && (first > last || last >= sizes[i])) abort();
    if (eb_ok && gw_entity_range(&eb, sizes[i], &first, &last) == 0 && (first > last || last >= sizes[i]))
      abort();
  }
  (void)gw_etag_match(in, "\"bafkqaaa\"");
  (void)gw_mime_sniff((const uint8_t *)data, size);
  (void)gw_mime_by_name(in);
  gw_scope_t scope;
  (void)gw_scope_parse(in, &scope);
  gw_format_t format;
  (void)gw_format_from_query(in, &format);
  size_t len = strlen(in);
  buf_t b = {0};
  if (gw_html_escape(&b, in, len) == 0 && (memchr(b.data, '<', b.len) || memchr(b.data, '>', b.len) ||
                                           memchr(b.data, '"', b.len)))
    abort();
  buf_reset(&b);
  if (gw_url_escape(&b, in, len) == 0 && memchr(b.data, '/', b.len)) abort();
  buf_reset(&b);
  if (gw_content_disposition(&b, "inline", in) == 0)
    for (size_t i = 0; i < b.len; i++)
      if (b.data[i] < 0x20 || b.data[i] >= 0x7f) abort();
  buf_free(&b);
  free(in);
  return 0;
}
