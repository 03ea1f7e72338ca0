/*
 * multipart: the streaming multipart/form-data parser (multipart.h).
 *
 * How it scans.  The delimiter is "CRLF--BOUNDARY"; the body is treated as if
 * it began with CRLF, so the first delimiter (which may open the body) needs
 * no special case.  Outside the headers, the parser is in the preamble
 * (bytes discarded) or a part's body (bytes emitted); in both it looks for
 * the delimiter with memchr on CR, and `match` counts the delimiter bytes
 * matched so far, possibly across mp_feed calls.  A boundary cannot contain
 * CR, so CR occurs in the delimiter only at its start: after a mismatch the
 * bytes matched so far cannot hold the start of another match, and they are
 * emitted as data (they are the delimiter's prefix, so nothing needs to be
 * kept of the caller's buffers).
 */
#include "multipart.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"

enum mp_state {
  MP_PREAMBLE,   /* before the first delimiter: discard */
  MP_AFTER,      /* just after a delimiter: "--", padding, or CR */
  MP_DASH,       /* after "-": the second "-" */
  MP_LF,         /* after CR: LF */
  MP_HEADERS,    /* a part's header block */
  MP_BODY,       /* a part's body: emit */
  MP_END,        /* after the closing delimiter: discard */
};

struct mp {
  mp_callbacks_t cb;
  char delim[4 + MP_BOUNDARY_BYTES_MAX]; /* "\r\n--" BOUNDARY */
  size_t delim_len;
  size_t match;        /* delimiter bytes matched (preamble and body) */
  enum mp_state state;
  int error;           /* sticky */
  uint64_t parts;
  size_t header_len;
  char header[MP_HEADER_BYTES_MAX + 1];
  mp_part_t part;
};

static bool bchar(char c) { /* RFC 2046 bcharsnospace plus space */
  return isalnum((unsigned char)c) || strchr("'()+_,-./:=? ", c) != NULL;
}

static int check_boundary(const char *b, size_t len) {
  if (len == 0 || len > MP_BOUNDARY_BYTES_MAX || b[len - 1] == ' ')
    return err_set(-EINVAL, "multipart boundary must be 1 to 70 characters, not ending in a space");
  for (size_t i = 0; i < len; i++)
    if (!bchar(b[i])) return err_set(-EINVAL, "multipart boundary has a character RFC 2046 does not allow");
  return 0;
}

/* ---- parameters: `; key=value` or `; key="quoted \" value"` ---------------- */

/* Parses the parameter at *s (after the ';'); key and value into the given
 * buffers (truncation is -E2BIG).  Advances *s past it. */
static int next_param(const char **s, char *key, size_t key_cap, char *value, size_t value_cap) {
  const char *p = *s;
  while (*p == ' ' || *p == '\t') p++;
  size_t k = 0;
  while (*p && *p != '=' && *p != ';' && *p != ' ' && *p != '\t') {
    if (k + 1 >= key_cap) return -E2BIG;
    key[k++] = *p++;
  }
  key[k] = '\0';
  while (*p == ' ' || *p == '\t') p++;
  size_t v = 0;
  value[0] = '\0';
  if (*p == '=') {
    p++;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '"') {
      p++;
      while (*p && *p != '"') {
        if (*p == '\\' && p[1]) p++;
        if (v + 1 >= value_cap) return -E2BIG;
        value[v++] = *p++;
      }
      if (*p != '"') return -EINVAL;
      p++;
    } else {
      while (*p && *p != ';' && *p != ' ' && *p != '\t') {
        if (v + 1 >= value_cap) return -E2BIG;
        value[v++] = *p++;
      }
    }
    value[v] = '\0';
  }
  while (*p == ' ' || *p == '\t') p++;
  if (*p && *p != ';') return -EINVAL;
  if (*p == ';') p++;
  *s = p;
  return 0;
}

int mp_boundary(const char *content_type, char out[MP_BOUNDARY_BYTES_MAX + 1]) {
  if (!content_type || strncasecmp(content_type, "multipart/", 10) != 0)
    return err_set(-EINVAL, "the body must be multipart/form-data");
  const char *p = strchr(content_type, ';');
  if (p) p++;
  while (p && *p) {
    char key[32], value[MP_BOUNDARY_BYTES_MAX + 2];
    int rc = next_param(&p, key, sizeof key, value, sizeof value);
    if (rc == -E2BIG) return err_set(-EINVAL, "multipart Content-Type parameter too long");
    if (rc) return err_set(-EINVAL, "malformed Content-Type parameters");
    if (strcasecmp(key, "boundary") == 0) {
      rc = check_boundary(value, strlen(value));
      if (rc) return rc;
      memcpy(out, value, strlen(value) + 1);
      return 0;
    }
  }
  return err_set(-EINVAL, "multipart Content-Type without a boundary");
}

int mp_new(const char *boundary, const mp_callbacks_t *cb, mp_t **out) {
  size_t len = strlen(boundary);
  int rc = check_boundary(boundary, len);
  if (rc) return rc;
  mp_t *p = calloc(1, sizeof *p);
  if (!p) return -ENOMEM;
  p->cb = *cb;
  memcpy(p->delim, "\r\n--", 4);
  memcpy(p->delim + 4, boundary, len);
  p->delim_len = 4 + len;
  p->state = MP_PREAMBLE;
  p->match = 2; /* the virtual CRLF before the body */
  *out = p;
  return 0;
}

void mp_free(mp_t *p) { free(p); }

uint64_t mp_parts(const mp_t *p) { return p->parts; }

/* ---- headers ----------------------------------------------------------------- */

static int copy_value(char *dst, size_t cap, const char *src, size_t len, const char *what) {
  if (len >= cap) return err_set(-E2BIG, "multipart %s longer than %zu bytes", what, cap - 1);
  memcpy(dst, src, len);
  dst[len] = '\0';
  return 0;
}

static int parse_disposition(mp_part_t *part, const char *v) {
  const char *p = v;
  while (*p && *p != ';') p++; /* the disposition type ("form-data", "file", "attachment") */
  if (*p) p++;
  while (*p) {
    char key[32], value[MP_FILENAME_BYTES_MAX + 1];
    int rc = next_param(&p, key, sizeof key, value, sizeof value);
    if (rc == -E2BIG) return err_set(-E2BIG, "multipart Content-Disposition parameter too long");
    if (rc) return err_set(-EINVAL, "malformed multipart Content-Disposition '%.200s'", v);
    if (strcasecmp(key, "name") == 0) {
      rc = copy_value(part->name, sizeof part->name, value, strlen(value), "part name");
    } else if (strcasecmp(key, "filename") == 0) {
      rc = copy_value(part->filename, sizeof part->filename, value, strlen(value), "filename");
      part->has_filename = true;
    }
    if (rc) return rc;
  }
  return 0;
}

/* The header block is complete (header[0..header_len) ends with an empty line). */
static int parse_headers(mp_t *p) {
  mp_part_t *part = &p->part;
  memset(part, 0, sizeof *part);
  p->header[p->header_len] = '\0';
  char *line = p->header;
  for (;;) {
    char *end = strstr(line, "\r\n");
    if (!end) return err_set(-EINVAL, "multipart header line without CRLF");
    if (end == line) break; /* the empty line */
    *end = '\0';
    if (memchr(line, '\n', (size_t)(end - line)) || memchr(line, '\r', (size_t)(end - line)))
      return err_set(-EINVAL, "multipart header with a bare CR or LF");
    if (*line == ' ' || *line == '\t') return err_set(-EINVAL, "folded multipart header lines are not accepted");
    char *colon = strchr(line, ':');
    if (!colon || colon == line) return err_set(-EINVAL, "multipart header line without a name");
    *colon = '\0';
    char *value = colon + 1;
    while (*value == ' ' || *value == '\t') value++;
    size_t vlen = strlen(value);
    while (vlen && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t')) value[--vlen] = '\0';
    int rc = 0;
    if (strcasecmp(line, "Content-Disposition") == 0) rc = parse_disposition(part, value);
    else if (strcasecmp(line, "Content-Type") == 0)
      rc = copy_value(part->content_type, sizeof part->content_type, value, vlen, "Content-Type");
    else if (strcasecmp(line, "Abspath") == 0)
      rc = copy_value(part->abspath, sizeof part->abspath, value, vlen, "Abspath");
    if (rc) return rc;
    line = end + 2;
  }
  return 0;
}

/* ---- the scanner ------------------------------------------------------------- */

static int emit(mp_t *p, const uint8_t *data, size_t len) {
  if (p->state != MP_BODY || len == 0 || !p->cb.part_data) return 0;
  return p->cb.part_data(p->cb.ctx, data, len);
}

/* Scans data for the delimiter in the preamble or a body; returns the bytes
 * consumed (up to and including a complete delimiter) or a negative errno. */
static ssize_t scan(mp_t *p, const uint8_t *data, size_t len) {
  size_t i = 0;
  while (i < len) {
    if (p->match == 0) {
      const uint8_t *cr = memchr(data + i, '\r', len - i);
      size_t stop = cr ? (size_t)(cr - data) : len;
      int rc = emit(p, data + i, stop - i);
      if (rc) return rc;
      i = stop;
      if (!cr) break;
      p->match = 1;
      i++;
      continue;
    }
    if (data[i] == (uint8_t)p->delim[p->match]) {
      i++;
      if (++p->match == p->delim_len) {
        p->match = 0;
        if (p->state == MP_BODY && p->cb.part_end) {
          int rc = p->cb.part_end(p->cb.ctx);
          if (rc) return rc;
        }
        p->state = MP_AFTER;
        return (ssize_t)i;
      }
      continue;
    }
    /* mismatch: what matched was data (re-examine data[i]) */
    int rc = emit(p, (const uint8_t *)p->delim, p->match);
    if (rc) return rc;
    p->match = 0;
  }
  return (ssize_t)i;
}

static int feed(mp_t *p, const uint8_t *data, size_t len) {
  size_t i = 0;
  while (i < len) {
    switch (p->state) {
      case MP_PREAMBLE:
      case MP_BODY: {
        ssize_t n = scan(p, data + i, len - i);
        if (n < 0) return (int)n;
        i += (size_t)n;
        break;
      }
      case MP_AFTER: {
        uint8_t c = data[i++];
        if (c == '-') p->state = MP_DASH;
        else if (c == '\r') p->state = MP_LF;
        else if (c != ' ' && c != '\t') return err_set(-EINVAL, "multipart delimiter followed by junk");
        break;
      }
      case MP_DASH:
        if (data[i++] != '-') return err_set(-EINVAL, "multipart delimiter followed by a single '-'");
        p->state = MP_END;
        break;
      case MP_LF:
        if (data[i++] != '\n') return err_set(-EINVAL, "multipart delimiter line without LF");
        p->state = MP_HEADERS;
        p->header_len = 0;
        break;
      case MP_HEADERS: {
        /* copy up to the end of the block: an empty line, so "\r\n" at the
         * start or "\r\n\r\n" */
        while (i < len) {
          if (p->header_len == MP_HEADER_BYTES_MAX)
            return err_set(-E2BIG, "multipart part headers longer than %u bytes", MP_HEADER_BYTES_MAX);
          p->header[p->header_len++] = (char)data[i++];
          size_t h = p->header_len;
          bool done = (h == 2 && memcmp(p->header, "\r\n", 2) == 0) ||
                      (h >= 4 && memcmp(p->header + h - 4, "\r\n\r\n", 4) == 0);
          if (!done) continue;
          int rc = parse_headers(p);
          if (rc) return rc;
          p->parts++;
          p->state = MP_BODY;
          if (p->cb.part_begin && (rc = p->cb.part_begin(p->cb.ctx, &p->part))) return rc;
          break;
        }
        break;
      }
      case MP_END:
        return 0; /* the epilogue */
    }
  }
  return 0;
}

int mp_feed(mp_t *p, const void *data, size_t len) {
  if (p->error) return p->error;
  int rc = feed(p, data, len);
  if (rc) p->error = rc;
  return rc;
}

int mp_finish(mp_t *p) {
  if (p->error) return p->error;
  if (p->state != MP_END) p->error = err_set(-EINVAL, "multipart body ended before its closing delimiter");
  return p->error;
}
