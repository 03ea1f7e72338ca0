/* dwn/url: see url.h.  Section names below are the WHATWG URL standard's. */
#include "dwn/url.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct out {
  char *buf;
  size_t len, cap;
  bool overflow;
} out_t;

static void put(out_t *o, char ch) {
  if (o->len + 1 >= o->cap) {
    o->overflow = true;
    return;
  }
  o->buf[o->len++] = ch;
  o->buf[o->len] = '\0';
}

static void puts_n(out_t *o, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) put(o, s[i]);
}

static void put_str(out_t *o, const char *s) { puts_n(o, s, strlen(s)); }

static void put_pct(out_t *o, unsigned char ch) {
  static const char hex[] = "0123456789ABCDEF";
  put(o, '%');
  put(o, hex[ch >> 4]);
  put(o, hex[ch & 15]);
}

static bool alpha(unsigned char ch) { return (ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'; }
static bool digit(unsigned char ch) { return ch >= '0' && ch <= '9'; }
static bool hexdig(unsigned char ch) { return digit(ch) || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f'); }
static int hexval(unsigned char ch) { return digit(ch) ? ch - '0' : (ch | 0x20) - 'a' + 10; }
static char lower(char ch) { return ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch; }

/* percent-encode sets */
static bool c0_set(unsigned char ch) { return ch < 0x20 || ch > 0x7e; }
static bool path_set(unsigned char ch) {
  return c0_set(ch) || ch == ' ' || ch == '"' || ch == '#' || ch == '<' || ch == '>' || ch == '?' ||
         ch == '`' || ch == '{' || ch == '}';
}
static bool userinfo_set(unsigned char ch) {
  return path_set(ch) || ch == '/' || ch == ':' || ch == ';' || ch == '=' || ch == '@' ||
         (ch >= '[' && ch <= '^') || ch == '|';
}

static void put_encoded(out_t *o, const char *s, size_t n, bool (*set)(unsigned char)) {
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (set(ch)) put_pct(o, ch);
    else put(o, (char)ch);
  }
}

static bool forbidden_host(unsigned char ch) {
  return ch == 0 || ch == '\t' || ch == '\n' || ch == '\r' || ch == ' ' || ch == '#' || ch == '/' ||
         ch == ':' || ch == '<' || ch == '>' || ch == '?' || ch == '@' || ch == '[' || ch == '\\' ||
         ch == ']' || ch == '^' || ch == '|';
}
static bool forbidden_domain(unsigned char ch) {
  return forbidden_host(ch) || ch < 0x20 || ch == '%' || ch == 0x7f;
}

/* ---- IPv6 ---------------------------------------------------------------- */

static int ipv6_parse(const char *s, size_t n, uint16_t a[8]) {
  memset(a, 0, 8 * sizeof a[0]);
  int piece = 0, compress = -1;
  size_t i = 0;
  if (i < n && s[i] == ':') {
    if (i + 1 >= n || s[i + 1] != ':') return -EINVAL;
    i += 2;
    compress = ++piece;
  }
  while (i < n) {
    if (piece == 8) return -EINVAL;
    if (s[i] == ':') {
      if (compress >= 0) return -EINVAL;
      i++;
      compress = ++piece;
      continue;
    }
    unsigned value = 0, length = 0;
    while (length < 4 && i < n && hexdig((unsigned char)s[i])) {
      value = value * 16 + (unsigned)hexval((unsigned char)s[i]);
      i++, length++;
    }
    if (i < n && s[i] == '.') {
      if (length == 0) return -EINVAL;
      i -= length;
      if (piece > 6) return -EINVAL;
      int seen = 0;
      while (i < n) {
        int v4 = -1;
        if (seen > 0) {
          if (s[i] == '.' && seen < 4) i++;
          else return -EINVAL;
        }
        if (i >= n || !digit((unsigned char)s[i])) return -EINVAL;
        while (i < n && digit((unsigned char)s[i])) {
          int d = s[i] - '0';
          if (v4 == -1) v4 = d;
          else if (v4 == 0) return -EINVAL;
          else v4 = v4 * 10 + d;
          if (v4 > 255) return -EINVAL;
          i++;
        }
        a[piece] = (uint16_t)(a[piece] * 0x100 + v4);
        seen++;
        if (seen == 2 || seen == 4) piece++;
      }
      if (seen != 4) return -EINVAL;
      break;
    } else if (i < n && s[i] == ':') {
      i++;
      if (i >= n) return -EINVAL;
    } else if (i < n) {
      return -EINVAL;
    }
    a[piece++] = (uint16_t)value;
  }
  if (compress >= 0) {
    int swaps = piece - compress;
    piece = 7;
    while (piece != 0 && swaps > 0) {
      uint16_t t = a[piece];
      a[piece] = a[compress + swaps - 1];
      a[compress + swaps - 1] = t;
      piece--, swaps--;
    }
  } else if (piece != 8) {
    return -EINVAL;
  }
  return 0;
}

static void ipv6_put(out_t *o, const uint16_t a[8]) {
  int best = -1, best_len = 1;
  for (int i = 0; i < 8;) {
    int j = i;
    while (j < 8 && a[j] == 0) j++;
    if (j - i > best_len) best = i, best_len = j - i;
    i = j == i ? i + 1 : j;
  }
  put(o, '[');
  bool ignore0 = false;
  for (int i = 0; i < 8; i++) {
    if (ignore0 && a[i] == 0) continue;
    ignore0 = false;
    if (best == i) {
      put_str(o, i == 0 ? "::" : ":");
      ignore0 = true;
      continue;
    }
    char piece[8];
    snprintf(piece, sizeof piece, "%x", a[i]);
    put_str(o, piece);
    if (i != 7) put(o, ':');
  }
  put(o, ']');
}

/* ---- IPv4 ---------------------------------------------------------------- */

/* WHATWG "IPv4 number parser": -1 on failure */
static int64_t ipv4_number(const char *s, size_t n) {
  if (n == 0) return -1;
  int radix = 10;
  if (n >= 2 && s[0] == '0' && (s[1] | 0x20) == 'x') s += 2, n -= 2, radix = 16;
  else if (n >= 2 && s[0] == '0') s += 1, n -= 1, radix = 8;
  if (n == 0) return 0;
  int64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    int d;
    if (radix == 16 && hexdig(ch)) d = hexval(ch);
    else if (digit(ch) && ch - '0' < radix) d = ch - '0';
    else return -1;
    v = v * radix + d;
    if (v > (int64_t)1 << 40) v = (int64_t)1 << 40; /* too big either way */
  }
  return v;
}

static bool ends_in_number(const char *s, size_t n) {
  if (n > 0 && s[n - 1] == '.') {
    if (memchr(s, '.', n - 1) == NULL && n - 1 == 0) return false;
    n--;
  }
  size_t start = n;
  while (start > 0 && s[start - 1] != '.') start--;
  const char *last = s + start;
  size_t len = n - start;
  if (len == 0) return false;
  bool all_digits = true;
  for (size_t i = 0; i < len; i++) all_digits &= digit((unsigned char)last[i]);
  if (all_digits) return true;
  return ipv4_number(last, len) >= 0 && len >= 2 && last[0] == '0' && (last[1] | 0x20) == 'x';
}

static int ipv4_parse(const char *s, size_t n, uint32_t *addr) {
  if (n > 0 && s[n - 1] == '.') n--; /* one trailing empty part is dropped */
  int64_t parts[4];
  int count = 0;
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && s[i] != '.') continue;
    if (count == 4) return -EINVAL;
    parts[count] = ipv4_number(s + start, i - start);
    if (parts[count] < 0) return -EINVAL;
    count++;
    start = i + 1;
  }
  for (int i = 0; i < count - 1; i++)
    if (parts[i] > 255) return -EINVAL;
  if (parts[count - 1] >= ((int64_t)1 << (8 * (5 - count)))) return -EINVAL;
  uint64_t v = (uint64_t)parts[count - 1];
  for (int i = 0; i < count - 1; i++) v += (uint64_t)parts[i] << (8 * (3 - i));
  *addr = (uint32_t)v;
  return 0;
}

/* ---- hosts --------------------------------------------------------------- */

/* A non-ASCII host needs IDNA (UTS 46), which is not implemented; but some
 * code points fail it for sure: C1 controls, the spaces UTS 46 maps to ' '
 * (then a forbidden code point), line/paragraph separators, noncharacters
 * and invalid UTF-8.  s points at the first byte >= 0x80. */
static bool idna_refuses(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  uint32_t cp;
  size_t len;
  if (u[0] >= 0xc2 && u[0] <= 0xdf) cp = u[0] & 0x1fu, len = 2;
  else if (u[0] >= 0xe0 && u[0] <= 0xef) cp = u[0] & 0x0fu, len = 3;
  else if (u[0] >= 0xf0 && u[0] <= 0xf4) cp = u[0] & 0x07u, len = 4;
  else return true;
  if (len > n) return true;
  for (size_t k = 1; k < len; k++) {
    if ((u[k] & 0xc0) != 0x80) return true;
    cp = cp << 6 | (u[k] & 0x3fu);
  }
  return cp <= 0xa0 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202f || cp == 0x205f || cp == 0x3000 || (cp >= 0xfff9 && cp <= 0xffff);
}

/* Does s[0..n) decode as RFC 3492 punycode to a non-empty label?  (What
 * UTS 46 then checks on the decoded label is not implemented.) */
static bool punycode_valid(const char *s, size_t n) {
  enum { BASE = 36, TMIN = 1, TMAX = 26, SKEW = 38, DAMP = 700 };
  if (n == 0) return false;
  size_t basic = 0;
  for (size_t k = 0; k < n; k++)
    if (s[k] == '-') basic = k;
  size_t out = basic, in = basic > 0 ? basic + 1 : 0;
  uint64_t code = 128, i = 0, bias = 72;
  while (in < n) {
    uint64_t old = i, w = 1;
    for (uint64_t k = BASE;; k += BASE) {
      if (in >= n) return false;
      unsigned char ch = (unsigned char)s[in++];
      uint64_t digit_value;
      if (ch >= '0' && ch <= '9') digit_value = ch - '0' + 26u;
      else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') digit_value = (ch | 0x20) - 'a';
      else return false;
      i += digit_value * w;
      if (i > 0x10ffffULL * 64) return false;
      uint64_t t = k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias;
      if (digit_value < t) break;
      w *= BASE - t;
      if (w > 0x10ffffULL * 64) return false;
    }
    out++;
    uint64_t delta = old == 0 ? (i - old) / DAMP : (i - old) / 2;
    delta += delta / out;
    uint64_t k = 0;
    while (delta > ((BASE - TMIN) * TMAX) / 2) delta /= BASE - TMIN, k += BASE;
    bias = k + (BASE - TMIN + 1) * delta / (delta + SKEW);
    code += i / out;
    i %= out;
    if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i++;
  }
  return out > 0;
}

static int host_put(out_t *o, const char *s, size_t n, bool special) {
  if (n > 0 && s[0] == '[') {
    if (s[n - 1] != ']') return -EINVAL;
    uint16_t a[8];
    if (ipv6_parse(s + 1, n - 2, a) != 0) return -EINVAL;
    ipv6_put(o, a);
    return 0;
  }
  if (!special) { /* opaque host */
    for (size_t i = 0; i < n; i++)
      if (forbidden_host((unsigned char)s[i])) return -EINVAL;
    put_encoded(o, s, n, c0_set);
    return 0;
  }
  if (n == 0) return -EINVAL;
  char *domain = malloc(n + 1);
  if (!domain) return -ENOMEM;
  size_t d = 0;
  int rc = 0;
  for (size_t i = 0; i < n; i++) { /* percent-decode, ASCII lower-case */
    unsigned char ch = (unsigned char)s[i];
    if (ch == '%' && i + 2 < n + 0 && hexdig((unsigned char)s[i + 1]) && hexdig((unsigned char)s[i + 2])) {
      ch = (unsigned char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
      i += 2;
    }
    domain[d++] = lower((char)ch);
  }
  domain[d] = '\0';
  for (size_t i = 0; i < d && rc == 0; i++)
    if ((unsigned char)domain[i] >= 0x80) rc = idna_refuses(domain + i, d - i) ? -EINVAL : -ENOTSUP;
  for (size_t i = 0; i < d && rc == 0; i++)
    if (forbidden_domain((unsigned char)domain[i])) rc = -EINVAL;
  for (size_t i = 0; i < d && rc == 0; i++) /* an "xn--" label needs IDNA checks */
    if ((i == 0 || domain[i - 1] == '.') && strncmp(domain + i, "xn--", 4) == 0) {
      size_t end = i + 4;
      while (end < d && domain[end] != '.') end++;
      rc = punycode_valid(domain + i + 4, end - i - 4) ? -ENOTSUP : -EINVAL;
    }
  if (rc == 0 && d == 0) rc = -EINVAL;
  if (rc == 0 && ends_in_number(domain, d)) {
    uint32_t addr;
    rc = ipv4_parse(domain, d, &addr);
    if (rc == 0) {
      char text[20];
      snprintf(text, sizeof text, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 255, (addr >> 8) & 255,
               addr & 255);
      put_str(o, text);
    }
  } else if (rc == 0) {
    puts_n(o, domain, d);
  }
  free(domain);
  return rc;
}

/* ---- the URL -------------------------------------------------------------- */

static int default_port(const char *scheme) {
  if (!strcmp(scheme, "http") || !strcmp(scheme, "ws")) return 80;
  if (!strcmp(scheme, "https") || !strcmp(scheme, "wss")) return 443;
  if (!strcmp(scheme, "ftp")) return 21;
  return -1;
}

static bool is_special(const char *scheme) {
  return default_port(scheme) > 0 || !strcmp(scheme, "file");
}

static bool single_dot(const char *s, size_t n) {
  return (n == 1 && s[0] == '.') || (n == 3 && s[0] == '%' && s[1] == '2' && (s[2] | 0x20) == 'e');
}

static bool double_dot(const char *s, size_t n) {
  if (n == 2) return s[0] == '.' && s[1] == '.';
  if (n == 4) return (single_dot(s, 1) && single_dot(s + 1, 3)) || (single_dot(s, 3) && single_dot(s + 3, 1));
  if (n == 6) return single_dot(s, 3) && single_dot(s + 3, 3);
  return false;
}

/* The path state over s[0..n): segments separated by '/' (and '\' when special),
 * percent-encoded and dot-resolved; written after `o->len` = path_start. */
static void path_put(out_t *o, const char *s, size_t n, bool special) {
  size_t path_start = o->len;
  size_t i = 0;
  /* path start state: a leading separator begins the first segment */
  if (i < n && (s[i] == '/' || (special && s[i] == '\\'))) i++;
  for (;;) {
    size_t start = i;
    while (i < n && s[i] != '/' && !(special && s[i] == '\\')) i++;
    const char *seg = s + start;
    size_t len = i - start;
    bool last = i >= n;
    if (double_dot(seg, len)) {
      /* shorten: drop the last "/segment" */
      while (o->len > path_start && o->buf[o->len - 1] != '/') o->len--;
      if (o->len > path_start) o->len--;
      o->buf[o->len] = '\0';
      if (last) put(o, '/');
    } else if (single_dot(seg, len)) {
      if (last) put(o, '/');
    } else {
      put(o, '/');
      put_encoded(o, seg, len, path_set);
    }
    if (last) break;
    i++;
  }
}

static int parse(const char *in, size_t len, out_t *o) {
  /* trim C0 controls and spaces, drop tabs and newlines */
  while (len > 0 && (unsigned char)in[0] <= 0x20) in++, len--;
  while (len > 0 && (unsigned char)in[len - 1] <= 0x20) len--;
  char *s = malloc(len + 1);
  if (!s) return -ENOMEM;
  size_t n = 0;
  for (size_t i = 0; i < len; i++)
    if (in[i] != '\t' && in[i] != '\n' && in[i] != '\r') s[n++] = in[i];
  s[n] = '\0';
  int rc = 0;
  /* scheme */
  size_t i = 0;
  if (n == 0 || !alpha((unsigned char)s[0])) rc = -EINVAL;
  while (rc == 0 && i < n && s[i] != ':') {
    unsigned char ch = (unsigned char)s[i];
    if (!alpha(ch) && !digit(ch) && ch != '+' && ch != '-' && ch != '.') rc = -EINVAL;
    i++;
  }
  if (rc == 0 && i >= n) rc = -EINVAL; /* no scheme and no base URL */
  if (rc != 0) {
    free(s);
    return rc;
  }
  char scheme[64];
  if (i >= sizeof scheme) {
    /* a long scheme is valid; it is just never special */
    snprintf(scheme, sizeof scheme, "%s", "x-long");
  } else {
    for (size_t k = 0; k < i; k++) scheme[k] = lower(s[k]);
    scheme[i] = '\0';
  }
  for (size_t k = 0; k < i; k++) put(o, lower(s[k]));
  put(o, ':');
  bool special = is_special(scheme);
  size_t rest = i + 1;
  /* everything from the first '?' or '#' is dropped */
  size_t end = rest;
  while (end < n && s[end] != '?' && s[end] != '#') end++;
  bool file = !strcmp(scheme, "file");
  bool authority = false;
  size_t p = rest;
  if (special) {
    if (file) {
      if (p + 1 < end && (s[p] == '/' || s[p] == '\\') && (s[p + 1] == '/' || s[p + 1] == '\\')) {
        p += 2;
        authority = true;
      }
    } else {
      while (p < end && (s[p] == '/' || s[p] == '\\')) p++;
      authority = true;
    }
  } else if (p + 1 < end && s[p] == '/' && s[p + 1] == '/') {
    p += 2;
    authority = true;
  }
  if (authority) {
    put_str(o, "//");
    size_t a_end = p;
    while (a_end < end && s[a_end] != '/' && !(special && s[a_end] == '\\')) a_end++;
    size_t host_start = p;
    /* userinfo up to the last '@' (file: URLs have none: '@' is then a
     * forbidden host code point) */
    for (size_t k = a_end; k > p && !file; k--)
      if (s[k - 1] == '@') {
        host_start = k;
        break;
      }
    if (host_start > p) {
      if (host_start == a_end) rc = -EINVAL; /* credentials without a host */
      size_t u_end = host_start - 1, colon = p;
      while (colon < u_end && s[colon] != ':') colon++;
      size_t mark = o->len;
      put_encoded(o, s + p, colon - p, userinfo_set);
      size_t user_len = o->len - mark;
      if (colon < u_end && colon + 1 < u_end) {
        put(o, ':');
        put_encoded(o, s + colon + 1, u_end - colon - 1, userinfo_set);
      }
      if (o->len > mark) put(o, '@');
      (void)user_len;
    }
    /* host, then port after a ':' outside brackets */
    size_t h_end = host_start;
    bool bracket = false;
    while (h_end < a_end && (s[h_end] != ':' || bracket)) {
      if (s[h_end] == '[') bracket = true;
      if (s[h_end] == ']') bracket = false;
      h_end++;
    }
    if (rc == 0) {
      if (file) {
        size_t hl = a_end - host_start;
        h_end = a_end; /* no port either: ':' is a forbidden host code point */
        if (!(hl == 9 && strncasecmp(s + host_start, "localhost", 9) == 0) && hl > 0)
          rc = host_put(o, s + host_start, hl, true);
      } else if (special || h_end > host_start) {
        rc = host_put(o, s + host_start, h_end - host_start, special);
      } else if (h_end < a_end || host_start > p) {
        rc = -EINVAL; /* port or credentials without a host */
      }
    }
    if (rc == 0 && h_end < a_end) { /* port */
      long port = 0;
      size_t k = h_end + 1;
      for (; k < a_end && rc == 0; k++) {
        if (!digit((unsigned char)s[k])) rc = -EINVAL;
        else if ((port = port * 10 + (s[k] - '0')) > 65535) rc = -EINVAL;
      }
      if (rc == 0 && a_end > h_end + 1 && port != default_port(scheme)) {
        char text[24];
        snprintf(text, sizeof text, ":%ld", port);
        put_str(o, text);
      }
    }
    p = a_end;
    if (rc == 0 && (special || p < end)) path_put(o, s + p, end - p, special);
  } else if (special) { /* file: without a host */
    put_str(o, "//");
    path_put(o, s + p, end - p, true);
  } else if (p < end && s[p] == '/') {
    path_put(o, s + p, end - p, false);
  } else { /* opaque path; trailing spaces go with the query and fragment */
    size_t e = end;
    while (e > p && s[e - 1] == ' ') e--;
    put_encoded(o, s + p, e - p, c0_set);
  }
  free(s);
  return rc;
}

/* the regular expression ^[^:]+:(\/{2})?[^\/].* of the SDK */
static bool looks_like_url(const char *s, size_t len) {
  const char *colon = memchr(s, ':', len);
  if (!colon || colon == s) return false;
  size_t c = (size_t)(colon - s);
  if (c + 1 < len && s[c + 1] != '/') return true;
  return c + 3 < len && s[c + 1] == '/' && s[c + 2] == '/' && s[c + 3] != '/';
}

int dwn_url_normalize(const char *in, size_t len, char *out, size_t out_size) {
  assert(in && out && out_size > 0);
  if (len > DWN_URL_BYTES_MAX) return -E2BIG;
  size_t full_len = len + 7;
  char *full = malloc(full_len + 1);
  if (!full) return -ENOMEM;
  if (looks_like_url(in, len)) {
    memcpy(full, in, len);
    full_len = len;
  } else {
    memcpy(full, "http://", 7);
    memcpy(full + 7, in, len);
  }
  full[full_len] = '\0';
  out[0] = '\0';
  out_t o = {.buf = out, .len = 0, .cap = out_size};
  int rc = parse(full, full_len, &o);
  free(full);
  if (rc != 0) return rc;
  if (o.overflow) return -ERANGE;
  if (o.len > 0 && out[o.len - 1] == '/') out[--o.len] = '\0';
  return 0;
}

bool dwn_url_is_normalized(const char *in, size_t len) {
  if (len > DWN_URL_BYTES_MAX) return false;
  size_t cap = 3 * len + 16;
  char *out = malloc(cap);
  if (!out) return false;
  bool same = dwn_url_normalize(in, len, out, cap) == 0 && strlen(out) == len && memcmp(out, in, len) == 0;
  free(out);
  return same;
}
