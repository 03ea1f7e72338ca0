/*
 * gateway_parse: the gateway's parsers and text helpers (gateway_int.h).
 * Depends on libanya only (err.h, buf.h) so fuzz targets can build it in.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "gateway_int.h"

/* ---- percent-decoding and the query ------------------------------------------- */

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int gw_decode(const char *src, size_t len, bool plus_is_space, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char c = src[i];
    if (c == '%') {
      if (i + 2 >= len) return err_set(-EINVAL, "truncated %%-escape");
      int h = hexval(src[i + 1]), l = h < 0 ? -1 : hexval(src[i + 2]);
      if (h < 0 || l < 0) return err_set(-EINVAL, "bad %%-escape");
      c = (char)(h << 4 | l);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return err_set(-EINVAL, "encoded NUL byte");
    if (o + 1 >= cap) return err_set(-E2BIG, "value too long");
    out[o++] = c;
  }
  if (cap == 0) return err_set(-E2BIG, "value too long");
  out[o] = '\0';
  return (int)o;
}

int gw_query_get(const char *query, const char *name, char *out, size_t cap) {
  size_t name_len = strlen(name);
  const char *p = query ? query : "";
  while (*p) {
    const char *end = strchr(p, '&');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    size_t key_len = eq ? (size_t)(eq - p) : len;
    char key[64];
    int k = key_len < sizeof key ? gw_decode(p, key_len, true, key, sizeof key) : -E2BIG;
    if (k >= 0 && (size_t)k == name_len && memcmp(key, name, name_len) == 0) {
      if (!eq) {
        if (cap == 0) return -E2BIG;
        out[0] = '\0';
        return 0;
      }
      return gw_decode(eq + 1, len - key_len - 1, true, out, cap);
    }
    p += len;
    if (*p == '&') p++;
  }
  return -ENOENT;
}

/* ---- content paths ------------------------------------------------------------- */

/* Appends the decoded segments of url_path[0..len) to out->path. */
static int add_segments(const char *p, size_t len, gw_target_t *out) {
  size_t used = strlen(out->path);
  size_t i = 0;
  while (i < len) {
    while (i < len && p[i] == '/') i++;
    if (i >= len) break;
    size_t start = i;
    while (i < len && p[i] != '/') i++;
    char seg[GW_PATH_BYTES_MAX];
    int n = gw_decode(p + start, i - start, false, seg, sizeof seg);
    if (n == -E2BIG) return err_set(-E2BIG, "path too long");
    if (n < 0) return err_set(-EINVAL, "bad %%-escape in the path");
    if (memchr(seg, '/', (size_t)n)) return err_set(-EINVAL, "a path segment holds an encoded '/'");
    if (strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0)
      return err_set(-EINVAL, "'.' and '..' are not allowed in a content path");
    if (n == 0) continue;
    if (out->segments >= GW_SEGMENTS_MAX)
      return err_set(-E2BIG, "more than %d path segments", GW_SEGMENTS_MAX);
    size_t need = used + (used ? 1 : 0) + (size_t)n + 1;
    if (need > sizeof out->path) return err_set(-E2BIG, "path too long");
    if (used) out->path[used++] = '/';
    memcpy(out->path + used, seg, (size_t)n + 1);
    used += (size_t)n;
    out->segments++;
  }
  out->trailing_slash = len > 0 && p[len - 1] == '/';
  return 0;
}

int gw_parse_target(const char *url_path, gw_target_t *out) {
  memset(out, 0, sizeof *out);
  const char *p = url_path;
  if (strncmp(p, "/ipfs/", 6) == 0 || strcmp(p, "/ipfs") == 0) {
    out->ns = GW_NS_IPFS;
  } else if (strncmp(p, "/ipns/", 6) == 0 || strcmp(p, "/ipns") == 0) {
    out->ns = GW_NS_IPNS;
  } else {
    return err_set(-ENOENT, "not a content path: use /ipfs/<cid>[/path] or /ipns/<name>[/path]");
  }
  p += 5;
  while (*p == '/') p++;
  const char *end = strchr(p, '/');
  size_t len = end ? (size_t)(end - p) : strlen(p);
  if (len == 0) return err_set(-EINVAL, "no CID after /%s/", out->ns == GW_NS_IPFS ? "ipfs" : "ipns");
  int n = gw_decode(p, len, false, out->root, sizeof out->root);
  if (n == -E2BIG) return err_set(-EINVAL, "the CID or name is too long");
  if (n < 0) return err_set(-EINVAL, "bad %%-escape in the CID or name");
  p += len;
  return add_segments(p, strlen(p), out);
}

int gw_parse_subpath(const char *url_path, gw_target_t *out) {
  out->path[0] = '\0';
  out->segments = 0;
  int rc = add_segments(url_path, strlen(url_path), out);
  if (rc == 0 && out->segments == 0) out->trailing_slash = true; /* "" and "/" are the root */
  return rc;
}

int gw_parse_host(const char *host, gw_host_t *out) {
  memset(out, 0, sizeof out->parent);
  if (!host) return 0;
  size_t len = strlen(host);
  if (len == 0) return 0;
  if (host[0] == '[') return 0; /* an IPv6 literal: never a subdomain gateway */
  const char *dot = strchr(host, '.');
  if (!dot) return 0;
  const char *ns = dot + 1;
  gw_ns_t which;
  if (strncasecmp(ns, "ipfs.", 5) == 0) which = GW_NS_IPFS;
  else if (strncasecmp(ns, "ipns.", 5) == 0) which = GW_NS_IPNS;
  else return 0;
  const char *parent = ns + 5;
  size_t label_len = (size_t)(dot - host);
  if (label_len == 0 || *parent == '\0' || *parent == ':' || *parent == '.')
    return err_set(-EINVAL, "bad subdomain gateway host");
  if (label_len >= sizeof out->root || strlen(parent) >= sizeof out->parent)
    return err_set(-EINVAL, "subdomain gateway host too long");
  for (size_t i = 0; i < label_len; i++)
    if (!isalnum((unsigned char)host[i]) && host[i] != '-')
      return err_set(-EINVAL, "bad character in the subdomain label");
  out->ns = which;
  memcpy(out->root, host, label_len);
  out->root[label_len] = '\0';
  snprintf(out->parent, sizeof out->parent, "%s", parent);
  return 1;
}

/* ---- format negotiation ---------------------------------------------------------- */

typedef struct accept_item {
  char type[96];
  int q;               /* 0..1000 */
  size_t order;
  gw_car_params_t car;
} accept_item_t;

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  return p;
}

static void trim(const char **s, const char **e) {
  while (*s < *e && (**s == ' ' || **s == '\t')) (*s)++;
  while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t')) (*e)--;
}

static bool token_eq(const char *s, const char *e, const char *word) {
  size_t n = strlen(word);
  return (size_t)(e - s) == n && strncasecmp(s, word, n) == 0;
}

/* Parses "q=0.5" into thousandths; -1 on a malformed value. */
static int parse_q(const char *s, const char *e) {
  if (s >= e) return -1;
  int whole = 0;
  if (*s == '0') whole = 0;
  else if (*s == '1') whole = 1;
  else return -1;
  s++;
  int frac = 0, digits = 0;
  if (s < e) {
    if (*s != '.') return -1;
    s++;
    while (s < e && digits < 3) {
      if (!isdigit((unsigned char)*s)) return -1;
      frac = frac * 10 + (*s - '0');
      digits++;
      s++;
    }
    if (s != e) return -1;
  }
  while (digits < 3) { frac *= 10; digits++; }
  int q = whole * 1000 + frac;
  return q > 1000 ? -1 : q;
}

static void parse_item(const char *s, const char *e, accept_item_t *it) {
  memset(it, 0, sizeof *it);
  it->q = 1000;
  const char *semi = memchr(s, ';', (size_t)(e - s));
  const char *te = semi ? semi : e;
  const char *ts = s;
  trim(&ts, &te);
  size_t tl = (size_t)(te - ts);
  if (tl >= sizeof it->type) tl = sizeof it->type - 1;
  for (size_t i = 0; i < tl; i++) it->type[i] = (char)tolower((unsigned char)ts[i]);
  it->type[tl] = '\0';
  const char *p = semi;
  while (p && p < e) {
    p++;
    if (p >= e) break;
    const char *next = memchr(p, ';', (size_t)(e - p));
    const char *pe = next ? next : e;
    const char *eq = memchr(p, '=', (size_t)(pe - p));
    if (eq) {
      const char *ks = p, *ke = eq, *vs = eq + 1, *ve = pe;
      trim(&ks, &ke);
      trim(&vs, &ve);
      if (ve - vs >= 2 && *vs == '"' && ve[-1] == '"') { vs++; ve--; }
      if (token_eq(ks, ke, "q")) {
        int q = parse_q(vs, ve);
        it->q = q < 0 ? 0 : q;
      } else if (token_eq(ks, ke, "version")) {
        if (token_eq(vs, ve, "1")) it->car.version = 1;
        else { it->car.version = 2; it->car.bad = true; }
      } else if (token_eq(ks, ke, "order")) {
        if (token_eq(vs, ve, "dfs")) it->car.order = 'd';
        else if (token_eq(vs, ve, "unk")) it->car.order = 'u';
        else it->car.bad = true;
      } else if (token_eq(ks, ke, "dups")) {
        if (token_eq(vs, ve, "y")) it->car.dups = 'y';
        else if (token_eq(vs, ve, "n")) it->car.dups = 'n';
        else it->car.bad = true;
      }
    }
    p = next;
  }
}

/* Media types naming a specific IPLD/IPFS serialisation we do not produce. */
static bool specific_unsupported(const char *type) {
  static const char *const list[] = {
      "application/x-tar",          "application/vnd.ipld.dag-json", "application/vnd.ipld.dag-cbor",
      "application/json",           "application/cbor",              "application/vnd.ipfs.ipns-record",
  };
  for (size_t i = 0; i < sizeof list / sizeof list[0]; i++)
    if (strcmp(type, list[i]) == 0) return true;
  return strncmp(type, "application/vnd.ipld.", 21) == 0 || strncmp(type, "application/vnd.ipfs.", 21) == 0;
}

int gw_parse_accept(const char *accept, gw_accept_t *out) {
  memset(out, 0, sizeof *out);
  out->format = GW_FORMAT_DESERIALIZED;
  if (!accept || !*accept) return 0;
  accept_item_t items[GW_ACCEPT_ITEMS_MAX];
  size_t n = 0;
  const char *p = accept, *end = accept + strlen(accept);
  while (p < end && n < GW_ACCEPT_ITEMS_MAX) {
    p = skip_ws(p, end);
    if (p >= end) break;
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *ie = comma ? comma : end;
    if (ie > p) {
      parse_item(p, ie, &items[n]);
      items[n].order = n;
      if (items[n].type[0] && items[n].q > 0) n++;
    }
    p = comma ? comma + 1 : end;
  }
  if (n == 0) return 0;
  /* stable sort by q, highest first (insertion sort: n is small) */
  for (size_t i = 1; i < n; i++) {
    accept_item_t t = items[i];
    size_t j = i;
    while (j > 0 && items[j - 1].q < t.q) { items[j] = items[j - 1]; j--; }
    items[j] = t;
  }
  const char *refused = NULL;
  for (size_t i = 0; i < n; i++) {
    const char *t = items[i].type;
    if (strcmp(t, "application/vnd.ipld.raw") == 0) {
      out->format = GW_FORMAT_RAW;
      out->explicit_format = true;
      return 0;
    }
    if (strcmp(t, "application/vnd.ipld.car") == 0) {
      if (items[i].car.bad) { if (!refused) refused = t; continue; }
      out->format = GW_FORMAT_CAR;
      out->car = items[i].car;
      out->explicit_format = true;
      return 0;
    }
    if (specific_unsupported(t)) { if (!refused) refused = t; continue; }
    out->format = GW_FORMAT_DESERIALIZED;
    return 0;
  }
  out->format = GW_FORMAT_UNSUPPORTED;
  snprintf(out->unsupported, sizeof out->unsupported, "%.63s", refused ? refused : "?");
  return 0;
}

int gw_format_from_query(const char *value, gw_format_t *out) {
  if (strcmp(value, "raw") == 0) { *out = GW_FORMAT_RAW; return 0; }
  if (strcmp(value, "car") == 0) { *out = GW_FORMAT_CAR; return 0; }
  static const char *const later[] = {"tar", "dag-json", "dag-cbor", "json", "cbor", "ipns-record"};
  for (size_t i = 0; i < sizeof later / sizeof later[0]; i++)
    if (strcmp(value, later[i]) == 0) { *out = GW_FORMAT_UNSUPPORTED; return 0; }
  return err_set(-EINVAL, "unknown format '%.64s' (raw and car are served)", value);
}

/* ---- Range and entity-bytes ------------------------------------------------------ */

/* Parses a decimal uint64 from s[0..e); false on overflow or no digits. */
static bool parse_u64(const char *s, const char *e, uint64_t *out) {
  if (s >= e) return false;
  uint64_t v = 0;
  for (; s < e; s++) {
    if (!isdigit((unsigned char)*s)) return false;
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

int gw_parse_range(const char *header, uint64_t size, uint64_t *first, uint64_t *last) {
  if (!header) return 1;
  const char *p = header;
  while (*p == ' ') p++;
  if (strncasecmp(p, "bytes", 5) != 0) return 1;
  p += 5;
  while (*p == ' ') p++;
  if (*p != '=') return 1;
  p++;
  while (*p == ' ') p++;
  const char *end = p + strlen(p);
  while (end > p && end[-1] == ' ') end--;
  if (memchr(p, ',', (size_t)(end - p))) return 1; /* several ranges: serve the whole entity */
  const char *dash = memchr(p, '-', (size_t)(end - p));
  if (!dash) return 1;
  uint64_t a = 0, b = 0;
  if (dash == p) { /* suffix: the last b bytes */
    if (!parse_u64(dash + 1, end, &b)) return 1;
    if (b == 0 || size == 0) return -ERANGE;
    *first = b >= size ? 0 : size - b;
    *last = size - 1;
    return 0;
  }
  if (!parse_u64(p, dash, &a)) return 1;
  bool open = dash + 1 == end;
  if (!open && !parse_u64(dash + 1, end, &b)) return 1;
  if (!open && b < a) return 1; /* invalid range-spec: ignored (RFC 9110 14.1.1) */
  if (a >= size) return -ERANGE;
  *first = a;
  *last = open || b >= size ? size - 1 : b;
  return 0;
}

static bool parse_i64(const char *s, const char *e, int64_t *out) {
  bool neg = s < e && *s == '-';
  if (neg) s++;
  uint64_t v;
  if (!parse_u64(s, e, &v) || v > (uint64_t)INT64_MAX) return false;
  *out = neg ? -(int64_t)v : (int64_t)v;
  return true;
}

int gw_parse_entity_bytes(const char *text, gw_entity_bytes_t *out) {
  memset(out, 0, sizeof *out);
  const char *colon = strchr(text, ':');
  if (!colon) return err_set(-EINVAL, "entity-bytes must be from:to");
  const char *end = text + strlen(text);
  if (!parse_i64(text, colon, &out->from)) return err_set(-EINVAL, "entity-bytes: bad 'from'");
  if (colon + 2 == end && colon[1] == '*') {
    out->to_end = true;
  } else if (!parse_i64(colon + 1, end, &out->to)) {
    return err_set(-EINVAL, "entity-bytes: bad 'to'");
  }
  if (!out->to_end && out->from >= 0 && out->to >= 0 && out->to < out->from)
    return err_set(-EINVAL, "entity-bytes: 'to' is before 'from'");
  return 0;
}

int gw_entity_range(const gw_entity_bytes_t *eb, uint64_t size, uint64_t *first, uint64_t *last) {
  int64_t s = (int64_t)(size > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : size);
  int64_t from = eb->from < 0 ? s + eb->from : eb->from;
  if (from < 0) from = 0;
  int64_t to = eb->to_end ? s - 1 : eb->to < 0 ? s + eb->to : eb->to;
  if (from >= s && s > 0) return -ERANGE;
  if (to >= s) to = s - 1;
  if (s == 0 || to < from) return 1;
  *first = (uint64_t)from;
  *last = (uint64_t)to;
  return 0;
}

/* ---- content types -------------------------------------------------------------- */

static const struct { const char *ext, *type; } mime_table[] = {
    {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
    {"txt", "text/plain; charset=utf-8"}, {"md", "text/markdown; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},   {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"}, {"json", "application/json"},
    {"xml", "application/xml"},           {"svg", "image/svg+xml"},
    {"png", "image/png"},                 {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},               {"gif", "image/gif"},
    {"webp", "image/webp"},               {"avif", "image/avif"},
    {"ico", "image/x-icon"},              {"bmp", "image/bmp"},
    {"pdf", "application/pdf"},           {"zip", "application/zip"},
    {"gz", "application/gzip"},           {"tar", "application/x-tar"},
    {"wasm", "application/wasm"},         {"mp4", "video/mp4"},
    {"webm", "video/webm"},               {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},                 {"wav", "audio/wav"},
    {"woff", "font/woff"},                {"woff2", "font/woff2"},
    {"csv", "text/csv; charset=utf-8"},   {"car", "application/vnd.ipld.car"},
    {"bin", "application/octet-stream"},
};

const char *gw_mime_by_name(const char *name) {
  if (!name) return NULL;
  const char *slash = strrchr(name, '/');
  if (slash) name = slash + 1;
  const char *dot = strrchr(name, '.');
  if (!dot || dot == name || !dot[1]) return NULL;
  for (size_t i = 0; i < sizeof mime_table / sizeof mime_table[0]; i++)
    if (strcasecmp(dot + 1, mime_table[i].ext) == 0) return mime_table[i].type;
  return NULL;
}

static bool starts(const uint8_t *d, size_t len, const char *magic, size_t n) {
  return len >= n && memcmp(d, magic, n) == 0;
}

/* Case-insensitive prefix test after leading whitespace. */
static bool starts_ci(const uint8_t *d, size_t len, const char *word) {
  size_t n = strlen(word);
  return len >= n && strncasecmp((const char *)d, word, n) == 0;
}

/* Valid UTF-8 without control characters other than \t \n \r \f (a cut
 * sequence at the very end is allowed: only a prefix was read). */
static bool looks_text(const uint8_t *d, size_t len) {
  size_t i = 0;
  while (i < len) {
    uint8_t c = d[i];
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') return false;
      if (c == 0x7f) return false;
      i++;
      continue;
    }
    size_t n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || c == 0xc0 || c == 0xc1 || c > 0xf4) return false;
    for (size_t k = 1; k < n; k++) {
      if (i + k >= len) return true; /* cut at the end of the sniffed prefix */
      if ((d[i + k] & 0xc0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

const char *gw_mime_sniff(const uint8_t *data, size_t len) {
  if (len > GW_SNIFF_BYTES) len = GW_SNIFF_BYTES;
  if (starts(data, len, "\x89PNG\r\n\x1a\n", 8)) return "image/png";
  if (starts(data, len, "\xff\xd8\xff", 3)) return "image/jpeg";
  if (starts(data, len, "GIF87a", 6) || starts(data, len, "GIF89a", 6)) return "image/gif";
  if (len >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0) return "image/webp";
  if (starts(data, len, "%PDF-", 5)) return "application/pdf";
  if (starts(data, len, "PK\x03\x04", 4)) return "application/zip";
  if (starts(data, len, "\x1f\x8b\x08", 3)) return "application/gzip";
  if (starts(data, len, "\0asm", 4)) return "application/wasm";
  if (len >= 12 && memcmp(data + 4, "ftyp", 4) == 0) return "video/mp4";
  if (starts(data, len, "ID3", 3)) return "audio/mpeg";
  if (starts(data, len, "OggS", 4)) return "audio/ogg";
  if (starts(data, len, "\x1a\x45\xdf\xa3", 4)) return "video/webm";
  if (starts(data, len, "wOFF", 4)) return "font/woff";
  if (starts(data, len, "wOF2", 4)) return "font/woff2";
  size_t skip = 0;
  if (starts(data, len, "\xef\xbb\xbf", 3)) skip = 3;
  while (skip < len && (data[skip] == ' ' || data[skip] == '\t' || data[skip] == '\n' || data[skip] == '\r'))
    skip++;
  const uint8_t *t = data + skip;
  size_t tl = len - skip;
  if (starts_ci(t, tl, "<!doctype html") || starts_ci(t, tl, "<html") || starts_ci(t, tl, "<head") ||
      starts_ci(t, tl, "<body") || starts_ci(t, tl, "<script") || starts_ci(t, tl, "<title") ||
      starts_ci(t, tl, "<!--"))
    return "text/html; charset=utf-8";
  if (starts_ci(t, tl, "<svg")) return "image/svg+xml";
  if (starts_ci(t, tl, "<?xml")) {
    /* an SVG declares itself in its first bytes */
    for (size_t i = 0; i + 4 <= tl; i++)
      if (strncasecmp((const char *)t + i, "<svg", 4) == 0) return "image/svg+xml";
    return "text/xml; charset=utf-8";
  }
  if (looks_text(data, len)) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

/* ---- HTML and URLs ---------------------------------------------------------------- */

int gw_html_escape(buf_t *out, const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    const char *rep = NULL;
    switch (s[i]) {
      case '&': rep = "&amp;"; break;
      case '<': rep = "&lt;"; break;
      case '>': rep = "&gt;"; break;
      case '"': rep = "&quot;"; break;
      case '\'': rep = "&#39;"; break;
      default: break;
    }
    int rc = rep ? buf_append(out, rep, strlen(rep)) : buf_append_byte(out, (uint8_t)s[i]);
    if (rc) return rc;
  }
  return 0;
}

static bool unreserved(unsigned char c) {
  return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

int gw_url_escape(buf_t *out, const char *s, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    int rc;
    if (unreserved(c)) {
      rc = buf_append_byte(out, c);
    } else {
      char e[3] = {'%', hex[c >> 4], hex[c & 15]};
      rc = buf_append(out, e, 3);
    }
    if (rc) return rc;
  }
  return 0;
}

int gw_content_disposition(buf_t *out, const char *kind, const char *filename) {
  int rc = buf_printf(out, "%s; filename=\"", kind);
  bool plain = true;
  for (const char *p = filename; !rc && *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c >= 0x80) plain = false;
    char r = c >= 0x80 || c < 0x20 || c == 0x7f || c == '"' || c == '\\' ? '_' : (char)c;
    rc = buf_append_byte(out, (uint8_t)r);
  }
  if (!rc) rc = buf_append_byte(out, '"');
  if (!rc && !plain) {
    rc = buf_printf(out, "; filename*=UTF-8''");
    if (!rc) rc = gw_url_escape(out, filename, strlen(filename));
  }
  return rc;
}

bool gw_etag_match(const char *if_none_match, const char *etag) {
  if (!if_none_match) return false;
  const char *want = etag;
  if (strncmp(want, "W/", 2) == 0) want += 2;
  size_t want_len = strlen(want);
  const char *p = if_none_match;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (!*p) break;
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *s = p, *e = p + len;
    trim(&s, &e);
    if (e - s == 1 && *s == '*') return true;
    if (e - s >= 2 && s[0] == 'W' && s[1] == '/') s += 2;
    if ((size_t)(e - s) == want_len && memcmp(s, want, want_len) == 0) return true;
    p += len;
  }
  return false;
}

int gw_scope_parse(const char *text, gw_scope_t *out) {
  if (strcmp(text, "all") == 0) *out = GW_SCOPE_ALL;
  else if (strcmp(text, "entity") == 0) *out = GW_SCOPE_ENTITY;
  else if (strcmp(text, "block") == 0) *out = GW_SCOPE_BLOCK;
  else return err_set(-EINVAL, "dag-scope must be all, entity or block");
  return 0;
}
