/*
 * toml: a recursive-descent TOML 1.0 parser over a byte range.  The whole input
 * is checked as UTF-8 first, so the rest of the parser only has to look at
 * ASCII structure and copy other bytes through.  Positions (line, column in
 * characters) are tracked as bytes are consumed, so every error can name
 * where it happened.  The table rules of TOML (what may be defined twice, what
 * may be extended from where) are kept with a few flags on each table, see
 * toml.h.
 */
#include "toml.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"

#define KEY_CONTEXT_BYTES 256
#define NUMBER_TOKEN_BYTES_MAX 128

typedef struct parser {
  const char *s;
  size_t len;
  size_t pos;
  uint32_t line, column;
  const char *name;
  toml_value_t *root;
  toml_value_t *current;              /* the table key/value lines go into */
  char table_path[KEY_CONTEXT_BYTES]; /* the current [header], for messages */
  char key[KEY_CONTEXT_BYTES];        /* the key being parsed, for messages */
} parser_t;

/* ---- errors ------------------------------------------------------------------ */

static int perr_at(parser_t *p, uint32_t line, uint32_t column, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int perr_at(parser_t *p, uint32_t line, uint32_t column, int code, const char *fmt, ...) {
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  if (p->key[0])
    return err_set(code, "%s:%u:%u: %s (key '%s')", p->name, line, column, what, p->key);
  return err_set(code, "%s:%u:%u: %s", p->name, line, column, what);
}

#define perr(p, code, ...) perr_at((p), (p)->line, (p)->column, (code), __VA_ARGS__)

/* ---- input ------------------------------------------------------------------- */

static int peek(const parser_t *p, size_t ahead) {
  return p->pos + ahead < p->len ? (unsigned char)p->s[p->pos + ahead] : -1;
}

static void advance(parser_t *p) {
  assert(p->pos < p->len);
  unsigned char c = (unsigned char)p->s[p->pos++];
  if (c == '\n') {
    p->line++;
    p->column = 1;
  } else if ((c & 0xC0) != 0x80) {
    p->column++;
  }
}

static void advance_n(parser_t *p, size_t n) {
  while (n--) advance(p);
}

static bool is_bare_key_char(int c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

static bool is_digit(int c) { return c >= '0' && c <= '9'; }

/* A control character that no string or comment may hold (tab is allowed). */
static bool is_forbidden_control(int c) { return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f; }

/* 1 for LF, 2 for CRLF, 0 otherwise (a lone CR is caught by the callers). */
static int newline_at(const parser_t *p) {
  if (peek(p, 0) == '\n') return 1;
  if (peek(p, 0) == '\r' && peek(p, 1) == '\n') return 2;
  return 0;
}

static void skip_ws(parser_t *p) {
  while (peek(p, 0) == ' ' || peek(p, 0) == '\t') advance(p);
}

/* A comment, if one starts here, up to (not including) the newline. */
static int skip_comment(parser_t *p) {
  if (peek(p, 0) != '#') return 0;
  advance(p);
  for (;;) {
    int c = peek(p, 0);
    if (c < 0 || c == '\n' || (c == '\r' && peek(p, 1) == '\n')) return 0;
    if (is_forbidden_control(c)) return perr(p, -EINVAL, "control character 0x%02x in comment", c);
    advance(p);
  }
}

/* Whitespace, newlines and comments (inside arrays). */
static int skip_ws_newlines_comments(parser_t *p) {
  for (;;) {
    skip_ws(p);
    int rc = skip_comment(p);
    if (rc) return rc;
    int n = newline_at(p);
    if (!n) return 0;
    advance_n(p, (size_t)n);
  }
}

/* After a key/value pair or a header: whitespace, a comment, then a newline or the end. */
static int expect_line_end(parser_t *p, const char *after) {
  skip_ws(p);
  int rc = skip_comment(p);
  if (rc) return rc;
  if (p->pos == p->len) return 0;
  int n = newline_at(p);
  if (!n) return perr(p, -EINVAL, "expected the end of the line after %s", after);
  advance_n(p, (size_t)n);
  return 0;
}

/* Checks UTF-8 (no overlongs, surrogates or values past U+10FFFF); reports the
 * first bad byte's position. */
static int check_utf8(parser_t *p) {
  uint32_t line = 1, column = 1;
  const unsigned char *s = (const unsigned char *)p->s;
  for (size_t i = 0; i < p->len;) {
    unsigned char c = s[i];
    size_t n;
    uint32_t min, cp;
    if (c < 0x80) n = 1, cp = c, min = 0;
    else if ((c & 0xE0) == 0xC0) n = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0) n = 4, cp = c & 0x07, min = 0x10000;
    else return perr_at(p, line, column, -EINVAL, "invalid UTF-8");
    if (n > p->len - i) return perr_at(p, line, column, -EINVAL, "truncated UTF-8 sequence");
    for (size_t k = 1; k < n; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return perr_at(p, line, column, -EINVAL, "invalid UTF-8");
      cp = cp << 6 | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return perr_at(p, line, column, -EINVAL, "invalid UTF-8");
    if (c == '\n') line++, column = 1;
    else column++;
    i += n;
  }
  return 0;
}

/* ---- tree -------------------------------------------------------------------- */

static toml_value_t *value_new(toml_type_t type, uint32_t line, uint32_t column) {
  toml_value_t *v = calloc(1, sizeof *v);
  if (!v) return NULL;
  v->type = type;
  v->line = v->key_line = line;
  v->column = v->key_column = column;
  return v;
}

void toml_free(toml_value_t *v) {
  if (!v) return;
  if (v->type == TOML_TABLE || v->type == TOML_ARRAY) {
    for (size_t i = 0; i < v->len; i++) toml_free(v->items[i]);
    free(v->items);
  } else if (v->type == TOML_STRING || v->type == TOML_DATETIME) {
    free(v->string);
  }
  free(v->key);
  free(v);
}

/* Appends child to a table or array; -E2BIG past the limits. */
static int append_child(parser_t *p, toml_value_t *parent, toml_value_t *child) {
  size_t max = parent->type == TOML_TABLE ? TOML_TABLE_ENTRIES_MAX : TOML_ARRAY_ITEMS_MAX;
  if (parent->len >= max)
    return perr(p, -E2BIG, "more than %zu %s", max, parent->type == TOML_TABLE ? "keys in one table" : "items in one array");
  if (parent->len == parent->cap) {
    size_t cap = parent->cap ? parent->cap * 2 : 8;
    toml_value_t **items = realloc(parent->items, cap * sizeof *items);
    if (!items) return -ENOMEM;
    parent->items = items;
    parent->cap = cap;
  }
  parent->items[parent->len++] = child;
  return 0;
}

static toml_value_t *table_find(const toml_value_t *table, const char *key) {
  for (size_t i = 0; i < table->len; i++)
    if (strcmp(table->items[i]->key, key) == 0) return table->items[i];
  return NULL;
}

/* Creates a table under `parent` named `key` (copied). */
static int table_add_table(parser_t *p, toml_value_t *parent, const char *key, uint8_t flags,
                           uint32_t line, uint32_t column, toml_value_t **out) {
  toml_value_t *t = value_new(TOML_TABLE, line, column);
  if (!t || !(t->key = strdup(key))) {
    free(t);
    return -ENOMEM;
  }
  t->flags = flags;
  int rc = append_child(p, parent, t);
  if (rc) {
    toml_free(t);
    return rc;
  }
  *out = t;
  return 0;
}

static void freeze(toml_value_t *v) {
  if (v->type != TOML_TABLE && v->type != TOML_ARRAY) return;
  v->flags |= TOML_F_INLINE;
  for (size_t i = 0; i < v->len; i++) freeze(v->items[i]);
}

/* ---- key context for messages -------------------------------------------------- */

static bool key_is_bare(const char *key) {
  if (!*key) return false;
  for (const char *c = key; *c; c++)
    if (!is_bare_key_char((unsigned char)*c)) return false;
  return true;
}

/* Appends ".part" (or "part" at the start) to a bounded context string. */
static void context_append(char *ctx, const char *part) {
  size_t used = strlen(ctx);
  if (used + 1 >= KEY_CONTEXT_BYTES) return;
  snprintf(ctx + used, KEY_CONTEXT_BYTES - used, key_is_bare(part) ? "%s%s" : "%s\"%s\"",
           used ? "." : "", part);
}

/* ---- strings ------------------------------------------------------------------- */

static int hex_value(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int append_utf8(buf_t *b, uint32_t cp) {
  uint8_t out[4];
  size_t n;
  if (cp < 0x80) out[0] = (uint8_t)cp, n = 1;
  else if (cp < 0x800) out[0] = (uint8_t)(0xC0 | cp >> 6), out[1] = (uint8_t)(0x80 | (cp & 0x3F)), n = 2;
  else if (cp < 0x10000)
    out[0] = (uint8_t)(0xE0 | cp >> 12), out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)),
    out[2] = (uint8_t)(0x80 | (cp & 0x3F)), n = 3;
  else
    out[0] = (uint8_t)(0xF0 | cp >> 18), out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F)),
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)), out[3] = (uint8_t)(0x80 | (cp & 0x3F)), n = 4;
  return buf_append(b, out, n);
}

/* At the backslash of an escape sequence (not a line-ending one). */
static int parse_escape(parser_t *p, buf_t *b) {
  uint32_t line = p->line, column = p->column;
  advance(p);
  int c = peek(p, 0);
  const char *simple = "b\bt\tn\nf\fr\r\"\"\\\\";
  for (const char *s = simple; *s; s += 2)
    if (c == *s) {
      advance(p);
      return buf_append_byte(b, (uint8_t)s[1]);
    }
  if (c == 'u' || c == 'U') {
    int digits = c == 'u' ? 4 : 8;
    advance(p);
    uint32_t cp = 0;
    for (int i = 0; i < digits; i++) {
      int h = hex_value(peek(p, 0));
      if (h < 0) return perr_at(p, line, column, -EINVAL, "\\%c escape needs %d hex digits", c, digits);
      cp = cp << 4 | (uint32_t)h;
      advance(p);
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return perr_at(p, line, column, -EINVAL, "escape \\%c%0*X is not a Unicode scalar value", c, digits, cp);
    return append_utf8(b, cp);
  }
  if (c < 0) return perr_at(p, line, column, -EINVAL, "unterminated string");
  if (c >= 0x20 && c < 0x7f) return perr_at(p, line, column, -EINVAL, "invalid escape '\\%c'", c);
  return perr_at(p, line, column, -EINVAL, "invalid escape");
}

/* At the opening quote(s).  Basic strings when quote is '"', literal when '\''. */
static int parse_string(parser_t *p, buf_t *b, bool allow_multiline) {
  int quote = peek(p, 0);
  bool basic = quote == '"';
  uint32_t line = p->line, column = p->column;
  bool multi = peek(p, 1) == quote && peek(p, 2) == quote;
  if (multi && !allow_multiline) return perr(p, -EINVAL, "a key cannot be a multi-line string");
  if (!multi) {
    advance(p);
    for (;;) {
      int c = peek(p, 0);
      if (c < 0 || c == '\n' || c == '\r') return perr_at(p, line, column, -EINVAL, "unterminated string");
      if (c == quote) {
        advance(p);
        return 0;
      }
      if (basic && c == '\\') {
        int rc = parse_escape(p, b);
        if (rc) return rc;
        continue;
      }
      if (is_forbidden_control(c)) return perr(p, -EINVAL, "control character 0x%02x in string", c);
      int rc = buf_append_byte(b, (uint8_t)c);
      if (rc) return rc;
      advance(p);
    }
  }
  advance_n(p, 3);
  int n = newline_at(p);
  if (n) advance_n(p, (size_t)n); /* the newline right after the delimiter is dropped */
  for (;;) {
    int c = peek(p, 0);
    if (c < 0) return perr_at(p, line, column, -EINVAL, "unterminated multi-line string");
    if (c == quote) {
      size_t q = 0;
      while (peek(p, q) == quote) q++;
      if (q >= 3) {
        if (q > 5) return perr(p, -EINVAL, "too many quotes at the end of a multi-line string");
        for (size_t i = 0; i < q - 3; i++)
          if (buf_append_byte(b, (uint8_t)quote)) return -ENOMEM;
        advance_n(p, q);
        return 0;
      }
      for (size_t i = 0; i < q; i++)
        if (buf_append_byte(b, (uint8_t)quote)) return -ENOMEM;
      advance_n(p, q);
      continue;
    }
    if ((n = newline_at(p))) {
      if (buf_append_byte(b, '\n')) return -ENOMEM;
      advance_n(p, (size_t)n);
      continue;
    }
    if (basic && c == '\\') {
      /* a line-ending backslash: only whitespace may follow it on its line */
      size_t k = 1;
      while (peek(p, k) == ' ' || peek(p, k) == '\t') k++;
      if (peek(p, k) == '\n' || (peek(p, k) == '\r' && peek(p, k + 1) == '\n')) {
        advance_n(p, k);
        for (;;) {
          skip_ws(p);
          if (!(n = newline_at(p))) break;
          advance_n(p, (size_t)n);
        }
        continue;
      }
      int rc = parse_escape(p, b);
      if (rc) return rc;
      continue;
    }
    if (is_forbidden_control(c)) return perr(p, -EINVAL, "control character 0x%02x in string", c);
    if (buf_append_byte(b, (uint8_t)c)) return -ENOMEM;
    advance(p);
  }
}

/* ---- keys ---------------------------------------------------------------------- */

typedef struct key_parts {
  char *part[TOML_DEPTH_MAX];
  size_t len;
  uint32_t line, column; /* where the key starts */
} key_parts_t;

static void key_parts_free(key_parts_t *k) {
  for (size_t i = 0; i < k->len; i++) free(k->part[i]);
  k->len = 0;
}

static int parse_simple_key(parser_t *p, char **out) {
  buf_t b = {0};
  uint32_t line = p->line, column = p->column;
  int c = peek(p, 0), rc = 0;
  if (c == '"' || c == '\'') {
    rc = parse_string(p, &b, false);
  } else if (is_bare_key_char(c)) {
    while (is_bare_key_char(peek(p, 0))) {
      if ((rc = buf_append_byte(&b, (uint8_t)peek(p, 0)))) break;
      advance(p);
    }
  } else if (c < 0 || newline_at(p) || c == '\r') {
    rc = perr(p, -EINVAL, "expected a key");
  } else if (c >= 0x20 && c < 0x7f) {
    rc = perr(p, -EINVAL, "unexpected '%c' where a key should be", c);
  } else {
    rc = perr(p, -EINVAL, "unexpected character where a key should be");
  }
  if (!rc && b.len > TOML_KEY_BYTES_MAX)
    rc = perr_at(p, line, column, -E2BIG, "key longer than %d bytes", TOML_KEY_BYTES_MAX);
  if (!rc && b.len && memchr(b.data, 0, b.len)) rc = perr_at(p, line, column, -EINVAL, "key contains U+0000");
  char *s = rc ? NULL : buf_cstr(&b);
  if (!rc && !s) rc = -ENOMEM;
  if (rc) {
    buf_free(&b);
    return rc;
  }
  *out = s;
  return 0;
}

/* A possibly dotted key; stops before whatever follows it (after whitespace). */
static int parse_key(parser_t *p, key_parts_t *k) {
  k->len = 0;
  k->line = p->line;
  k->column = p->column;
  for (;;) {
    if (k->len == TOML_DEPTH_MAX) return perr(p, -E2BIG, "key has more than %d parts", TOML_DEPTH_MAX);
    int rc = parse_simple_key(p, &k->part[k->len]);
    if (rc) return rc;
    k->len++;
    skip_ws(p);
    if (peek(p, 0) != '.') return 0;
    advance(p);
    skip_ws(p);
  }
}

/* ---- numbers and dates ----------------------------------------------------------- */

/* Digits of `base` with underscores only between digits; from t[*i]. */
static bool scan_digits(const char *t, size_t *i, int base, buf_t *clean) {
  size_t start = *i;
  for (;;) {
    int c = (unsigned char)t[*i];
    int v = hex_value(c);
    if (v >= 0 && v < base) {
      if (clean && buf_append_byte(clean, (uint8_t)c)) return false;
      (*i)++;
      continue;
    }
    if (c == '_' && *i > start && hex_value((unsigned char)t[*i - 1]) >= 0) {
      int next = hex_value((unsigned char)t[*i + 1]);
      if (next >= 0 && next < base) {
        (*i)++;
        continue;
      }
    }
    break;
  }
  return *i > start;
}

static int parse_number(parser_t *p, const char *t, toml_value_t *v, uint32_t line, uint32_t column) {
  size_t i = 0;
  bool negative = false, has_sign = false;
  if (t[0] == '+' || t[0] == '-') negative = t[0] == '-', has_sign = true, i = 1;
  if (strcmp(t + i, "inf") == 0 || strcmp(t + i, "nan") == 0) {
    v->type = TOML_FLOAT;
    v->floating = t[i] == 'i' ? __builtin_inf() : __builtin_nan("");
    if (negative) v->floating = -v->floating;
    return 0;
  }
  if (t[i] == '0' && (t[i + 1] == 'x' || t[i + 1] == 'o' || t[i + 1] == 'b')) {
    int base = t[i + 1] == 'x' ? 16 : t[i + 1] == 'o' ? 8 : 2;
    if (has_sign) return perr_at(p, line, column, -EINVAL, "a sign is not allowed on a 0%c integer", t[i + 1]);
    i += 2;
    size_t start = i;
    if (!scan_digits(t, &i, base, NULL) || t[i])
      return perr_at(p, line, column, -EINVAL, "invalid integer '%s'", t);
    uint64_t value = 0;
    for (size_t k = start; t[k]; k++) {
      if (t[k] == '_') continue;
      if (value > (uint64_t)INT64_MAX / (uint64_t)base) goto overflow;
      value = value * (uint64_t)base + (uint64_t)hex_value((unsigned char)t[k]);
      if (value > (uint64_t)INT64_MAX) goto overflow;
    }
    v->type = TOML_INTEGER;
    v->integer = (int64_t)value;
    return 0;
  }
  buf_t clean = {0};
  int rc = 0;
  if (has_sign) rc = buf_append_byte(&clean, (uint8_t)t[0]);
  size_t int_start = i;
  bool is_float = false;
  if (!rc && !scan_digits(t, &i, 10, &clean)) goto invalid;
  if (t[int_start] == '0' && i - int_start > 1) {
    buf_free(&clean);
    return perr_at(p, line, column, -EINVAL, "leading zeros are not allowed in '%s'", t);
  }
  if (t[i] == '.') {
    is_float = true;
    i++;
    if (buf_append_byte(&clean, '.') || !scan_digits(t, &i, 10, &clean)) goto invalid;
  }
  if (t[i] == 'e' || t[i] == 'E') {
    is_float = true;
    i++;
    if (buf_append_byte(&clean, 'e')) goto invalid;
    if (t[i] == '+' || t[i] == '-') {
      if (buf_append_byte(&clean, (uint8_t)t[i])) goto invalid;
      i++;
    }
    if (!scan_digits(t, &i, 10, &clean)) goto invalid;
  }
  if (t[i]) goto invalid;
  char *text = buf_cstr(&clean);
  if (!text) {
    buf_free(&clean);
    return -ENOMEM;
  }
  if (is_float) {
    v->type = TOML_FLOAT;
    v->floating = strtod(text, NULL);
    buf_free(&clean);
    return 0;
  }
  uint64_t value = 0, limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (const char *c = text + (has_sign ? 1 : 0); *c; c++) {
    if (value > (limit - (uint64_t)(*c - '0')) / 10) {
      buf_free(&clean);
      goto overflow;
    }
    value = value * 10 + (uint64_t)(*c - '0');
  }
  buf_free(&clean);
  v->type = TOML_INTEGER;
  v->integer = negative ? (int64_t)(0 - value) : (int64_t)value;
  return 0;
invalid:
  buf_free(&clean);
  return perr_at(p, line, column, -EINVAL, "invalid number '%s'%s", t,
                 strpbrk(t, "abcdfghijklmnopqrstuvwxyzABCDFGHIJKLMNOPQRSTUVWXYZ") ? " (strings need quotes)" : "");
overflow:
  return perr_at(p, line, column, -EINVAL, "integer '%s' is out of the 64-bit range", t);
}

/* n decimal digits at t[*i] into *out. */
static bool take_digits(const char *t, size_t *i, int n, int *out) {
  int v = 0;
  for (int k = 0; k < n; k++) {
    if (!is_digit((unsigned char)t[*i])) return false;
    v = v * 10 + (t[(*i)++] - '0');
  }
  *out = v;
  return true;
}

static bool scan_time(const char *t, size_t *i) {
  int hour, minute, second;
  if (!take_digits(t, i, 2, &hour) || t[(*i)++] != ':' || !take_digits(t, i, 2, &minute) ||
      t[(*i)++] != ':' || !take_digits(t, i, 2, &second))
    return false;
  if (hour > 23 || minute > 59 || second > 60) return false;
  if (t[*i] == '.') {
    (*i)++;
    if (!is_digit((unsigned char)t[*i])) return false;
    while (is_digit((unsigned char)t[*i])) (*i)++;
  }
  return true;
}

static bool valid_datetime(const char *t) {
  size_t i = 0;
  if (is_digit((unsigned char)t[0]) && is_digit((unsigned char)t[1]) && t[2] == ':')
    return scan_time(t, &i) && t[i] == '\0';
  int year, month, day;
  if (!take_digits(t, &i, 4, &year) || t[i++] != '-' || !take_digits(t, &i, 2, &month) ||
      t[i++] != '-' || !take_digits(t, &i, 2, &day))
    return false;
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1) return false;
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > days[month - 1] + (month == 2 && leap ? 1 : 0)) return false;
  if (t[i] == '\0') return true;
  if (t[i] != 'T' && t[i] != 't' && t[i] != ' ') return false;
  i++;
  if (!scan_time(t, &i)) return false;
  if (t[i] == 'Z' || t[i] == 'z') return t[i + 1] == '\0';
  if (t[i] == '+' || t[i] == '-') {
    int oh, om;
    i++;
    if (!take_digits(t, &i, 2, &oh) || t[i++] != ':' || !take_digits(t, &i, 2, &om)) return false;
    return oh <= 23 && om <= 59 && t[i] == '\0';
  }
  return t[i] == '\0';
}

static bool is_token_char(int c) {
  return is_bare_key_char(c) || c == '+' || c == '.' || c == ':';
}

static int parse_number_or_date(parser_t *p, toml_value_t *v) {
  char t[NUMBER_TOKEN_BYTES_MAX + 1];
  size_t n = 0;
  uint32_t line = p->line, column = p->column;
  while (is_token_char(peek(p, 0))) {
    if (n == NUMBER_TOKEN_BYTES_MAX) return perr_at(p, line, column, -EINVAL, "value too long");
    t[n++] = (char)peek(p, 0);
    advance(p);
    /* a date followed by a space and a time is one value */
    if (n == 10 && t[4] == '-' && t[7] == '-' && peek(p, 0) == ' ' && is_digit(peek(p, 1)) &&
        is_digit(peek(p, 2)) && peek(p, 3) == ':') {
      t[n++] = ' ';
      advance(p);
    }
  }
  t[n] = '\0';
  if (n == 0) {
    int c = peek(p, 0);
    if (c < 0 || newline_at(p)) return perr(p, -EINVAL, "expected a value");
    if (c >= 0x20 && c < 0x7f) return perr(p, -EINVAL, "unexpected '%c' where a value should be", c);
    return perr(p, -EINVAL, "unexpected character where a value should be");
  }
  bool date_like = n >= 5 && is_digit((unsigned char)t[0]) && is_digit((unsigned char)t[1]) &&
                   (t[2] == ':' || (is_digit((unsigned char)t[2]) && is_digit((unsigned char)t[3]) && t[4] == '-'));
  if (date_like) {
    if (!valid_datetime(t)) return perr_at(p, line, column, -EINVAL, "invalid date or time '%s'", t);
    v->type = TOML_DATETIME;
    v->string = strdup(t);
    if (!v->string) return -ENOMEM;
    v->string_len = n;
    return 0;
  }
  if (t[0] == 't' || t[0] == 'f') {
    if (strcmp(t, "true") == 0 || strcmp(t, "false") == 0) {
      v->type = TOML_BOOL;
      v->boolean = t[0] == 't';
      return 0;
    }
  }
  if (!(is_digit((unsigned char)t[0]) || t[0] == '+' || t[0] == '-' || strcmp(t, "inf") == 0 ||
        strcmp(t, "nan") == 0))
    return perr_at(p, line, column, -EINVAL, "invalid value '%s' (strings need quotes)", t);
  return parse_number(p, t, v, line, column);
}

/* ---- values ---------------------------------------------------------------------- */

static int parse_value(parser_t *p, int depth, toml_value_t **out);
static int insert_keyval(parser_t *p, toml_value_t *table, key_parts_t *k, toml_value_t *v,
                         uint8_t new_table_flags);

static int parse_array(parser_t *p, int depth, toml_value_t *a) {
  advance(p); /* [ */
  for (;;) {
    int rc = skip_ws_newlines_comments(p);
    if (rc) return rc;
    if (peek(p, 0) == ']') {
      advance(p);
      return 0;
    }
    toml_value_t *item;
    if ((rc = parse_value(p, depth + 1, &item))) return rc;
    if ((rc = append_child(p, a, item))) {
      toml_free(item);
      return rc;
    }
    if ((rc = skip_ws_newlines_comments(p))) return rc;
    int c = peek(p, 0);
    if (c == ',') {
      advance(p);
      continue;
    }
    if (c == ']') {
      advance(p);
      return 0;
    }
    if (c < 0) return perr(p, -EINVAL, "unterminated array");
    return perr(p, -EINVAL, "expected ',' or ']' in array");
  }
}

static int parse_inline_table(parser_t *p, int depth, toml_value_t *t) {
  advance(p); /* { */
  skip_ws(p);
  if (peek(p, 0) == '}') {
    advance(p);
    return 0;
  }
  for (;;) {
    key_parts_t k;
    int rc = parse_key(p, &k);
    if (rc) {
      key_parts_free(&k);
      return rc;
    }
    if (peek(p, 0) != '=') {
      key_parts_free(&k);
      return perr(p, -EINVAL, "expected '=' after a key");
    }
    advance(p);
    skip_ws(p);
    toml_value_t *v;
    if ((rc = parse_value(p, depth + 1, &v))) {
      key_parts_free(&k);
      return rc;
    }
    rc = insert_keyval(p, t, &k, v, TOML_F_DOTTED);
    key_parts_free(&k);
    if (rc) return rc;
    skip_ws(p);
    int c = peek(p, 0);
    if (c == '}') {
      advance(p);
      return 0;
    }
    if (c != ',') {
      if (c < 0 || newline_at(p) || c == '\r') return perr(p, -EINVAL, "inline table must close on its line");
      return perr(p, -EINVAL, "expected ',' or '}' in inline table");
    }
    advance(p);
    skip_ws(p);
    if (peek(p, 0) == '}') return perr(p, -EINVAL, "trailing comma in inline table");
  }
}

static int parse_value(parser_t *p, int depth, toml_value_t **out) {
  if (depth > TOML_DEPTH_MAX) return perr(p, -E2BIG, "values nested more than %d deep", TOML_DEPTH_MAX);
  int c = peek(p, 0);
  toml_value_t *v = value_new(TOML_STRING, p->line, p->column);
  if (!v) return -ENOMEM;
  int rc;
  if (c == '"' || c == '\'') {
    buf_t b = {0};
    rc = parse_string(p, &b, true);
    if (!rc) {
      v->string_len = b.len;
      v->string = b.data ? buf_cstr(&b) : strdup("");
      if (!v->string) rc = -ENOMEM;
    }
    if (rc) buf_free(&b);
  } else if (c == '[') {
    v->type = TOML_ARRAY;
    v->flags = TOML_F_INLINE;
    rc = parse_array(p, depth, v);
  } else if (c == '{') {
    v->type = TOML_TABLE;
    rc = parse_inline_table(p, depth, v);
    if (!rc) freeze(v);
  } else {
    rc = parse_number_or_date(p, v);
  }
  if (rc) {
    toml_free(v);
    return rc;
  }
  *out = v;
  return 0;
}

/* Puts v at the dotted key k inside table; intermediate tables are made with
 * new_table_flags (TOML_F_DOTTED).  Takes v (frees it on failure). */
static int insert_keyval(parser_t *p, toml_value_t *table, key_parts_t *k, toml_value_t *v,
                         uint8_t new_table_flags) {
  int rc = 0;
  for (size_t i = 0; i + 1 < k->len && !rc; i++) {
    toml_value_t *child = table_find(table, k->part[i]);
    if (!child) {
      rc = table_add_table(p, table, k->part[i], new_table_flags, k->line, k->column, &child);
    } else if (child->type != TOML_TABLE) {
      rc = perr_at(p, k->line, k->column, -EINVAL, "'%s' is already a value of type %s, not a table", k->part[i],
                   toml_type_name(child->type));
    } else if (child->flags & TOML_F_INLINE) {
      rc = perr_at(p, k->line, k->column, -EINVAL, "inline table '%s' cannot be extended", k->part[i]);
    } else if (!(child->flags & TOML_F_DOTTED)) {
      rc = perr_at(p, k->line, k->column, -EINVAL,
                   "table '%s' was defined by a [header]; dotted keys cannot add to it", k->part[i]);
    }
    table = child;
  }
  const char *last = k->part[k->len - 1];
  if (!rc && table_find(table, last)) rc = perr_at(p, k->line, k->column, -EINVAL, "duplicate key");
  if (!rc && !(v->key = strdup(last))) rc = -ENOMEM;
  if (!rc) {
    v->key_line = k->line;
    v->key_column = k->column;
    rc = append_child(p, table, v);
  }
  if (rc) toml_free(v);
  return rc;
}

/* ---- lines ----------------------------------------------------------------------- */

static void set_key_context(parser_t *p, const char *base, const key_parts_t *k) {
  snprintf(p->key, sizeof p->key, "%s", base);
  for (size_t i = 0; i < k->len; i++) context_append(p->key, k->part[i]);
}

/* [a.b] or [[a.b]] */
static int parse_header(parser_t *p) {
  bool aot = peek(p, 1) == '[';
  uint32_t line = p->line, column = p->column;
  advance_n(p, aot ? 2 : 1);
  skip_ws(p);
  key_parts_t k;
  int rc = parse_key(p, &k);
  if (rc) goto out;
  p->key[0] = '\0';
  set_key_context(p, "", &k);
  if (peek(p, 0) != ']' || (aot && peek(p, 1) != ']')) {
    rc = perr(p, -EINVAL, aot ? "expected ']]' to close the array-of-tables header" : "expected ']' to close the table header");
    goto out;
  }
  advance_n(p, aot ? 2 : 1);
  toml_value_t *t = p->root;
  for (size_t i = 0; i + 1 < k.len; i++) {
    toml_value_t *child = table_find(t, k.part[i]);
    if (!child) {
      if ((rc = table_add_table(p, t, k.part[i], TOML_F_IMPLICIT, line, column, &child))) goto out;
    } else if (child->type == TOML_ARRAY && (child->flags & TOML_F_AOT)) {
      child = child->items[child->len - 1];
    } else if (child->type == TOML_ARRAY) {
      rc = perr_at(p, line, column, -EINVAL, "'%s' is a static array; a header cannot extend it", k.part[i]);
      goto out;
    } else if (child->type != TOML_TABLE) {
      rc = perr_at(p, line, column, -EINVAL, "'%s' is already a value of type %s, not a table", k.part[i],
                   toml_type_name(child->type));
      goto out;
    }
    if (child->flags & TOML_F_INLINE) {
      rc = perr_at(p, line, column, -EINVAL, "inline table '%s' cannot be extended", k.part[i]);
      goto out;
    }
    t = child;
  }
  const char *last = k.part[k.len - 1];
  toml_value_t *child = table_find(t, last);
  if (aot) {
    if (!child) {
      child = value_new(TOML_ARRAY, line, column);
      if (!child || !(child->key = strdup(last))) {
        toml_free(child);
        rc = -ENOMEM;
        goto out;
      }
      child->flags = TOML_F_AOT;
      if ((rc = append_child(p, t, child))) {
        toml_free(child);
        goto out;
      }
    } else if (child->type != TOML_ARRAY || !(child->flags & TOML_F_AOT)) {
      rc = perr_at(p, line, column, -EINVAL, "'%s' is already a value of type %s, not an array of tables", last,
                   child->type == TOML_ARRAY ? "static array" : toml_type_name(child->type));
      goto out;
    }
    toml_value_t *element = value_new(TOML_TABLE, line, column);
    if (!element) {
      rc = -ENOMEM;
      goto out;
    }
    element->flags = TOML_F_DEFINED;
    if ((rc = append_child(p, child, element))) {
      toml_free(element);
      goto out;
    }
    p->current = element;
  } else {
    if (!child) {
      if ((rc = table_add_table(p, t, last, TOML_F_DEFINED, line, column, &child))) goto out;
    } else if (child->type != TOML_TABLE) {
      rc = perr_at(p, line, column, -EINVAL, "'%s' is already a value of type %s, not a table", last,
                   child->type == TOML_ARRAY && (child->flags & TOML_F_AOT) ? "array of tables" : toml_type_name(child->type));
      goto out;
    } else if (child->flags & TOML_F_INLINE) {
      rc = perr_at(p, line, column, -EINVAL, "inline table cannot be extended");
      goto out;
    } else if (child->flags & TOML_F_DEFINED) {
      rc = perr_at(p, line, column, -EINVAL, "table defined twice");
      goto out;
    } else if (child->flags & TOML_F_DOTTED) {
      rc = perr_at(p, line, column, -EINVAL, "table was already defined by dotted keys");
      goto out;
    } else {
      child->flags = (uint8_t)((child->flags & ~TOML_F_IMPLICIT) | TOML_F_DEFINED);
      child->line = child->key_line = line;
      child->column = child->key_column = column;
    }
    p->current = child;
  }
  snprintf(p->table_path, sizeof p->table_path, "%s", p->key);
  rc = expect_line_end(p, "a table header");
out:
  key_parts_free(&k);
  return rc;
}

static int parse_keyval_line(parser_t *p) {
  key_parts_t k;
  int rc = parse_key(p, &k);
  if (!rc) {
    set_key_context(p, p->table_path, &k);
    if (peek(p, 0) != '=') rc = perr(p, -EINVAL, "expected '=' after the key");
  }
  toml_value_t *v = NULL;
  if (!rc) {
    advance(p);
    skip_ws(p);
    rc = parse_value(p, 1, &v);
  }
  if (!rc) rc = insert_keyval(p, p->current, &k, v, TOML_F_DOTTED);
  if (!rc) rc = expect_line_end(p, "a value");
  key_parts_free(&k);
  return rc;
}

int toml_parse(const char *text, size_t len, const char *name, toml_value_t **out) {
  parser_t p = {.s = text, .len = len, .line = 1, .column = 1, .name = name ? name : "<input>"};
  *out = NULL;
  if (len > TOML_INPUT_BYTES_MAX)
    return err_set(-E2BIG, "%s: larger than %u bytes", p.name, TOML_INPUT_BYTES_MAX);
  int rc = check_utf8(&p);
  if (rc) return rc;
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) p.pos = 3; /* BOM */
  p.root = p.current = value_new(TOML_TABLE, 1, 1);
  if (!p.root) return -ENOMEM;
  p.root->flags = TOML_F_DEFINED;
  while (p.pos < p.len) {
    p.key[0] = '\0';
    skip_ws(&p);
    if ((rc = skip_comment(&p))) break;
    int n = newline_at(&p);
    if (n) {
      advance_n(&p, (size_t)n);
      continue;
    }
    if (p.pos == p.len) break;
    if (peek(&p, 0) == '\r') {
      rc = perr(&p, -EINVAL, "carriage return without a line feed");
      break;
    }
    rc = peek(&p, 0) == '[' ? parse_header(&p) : parse_keyval_line(&p);
    if (rc) break;
  }
  if (rc) {
    toml_free(p.root);
    return rc;
  }
  *out = p.root;
  return 0;
}

int toml_parse_file(const char *path, toml_value_t **out) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return err_set(-errno, "cannot open %s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return err_set(-e, "cannot stat %s: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return err_set(-EINVAL, "%s is not a regular file", path);
  }
  if (st.st_size > (off_t)TOML_INPUT_BYTES_MAX) {
    close(fd);
    return err_set(-E2BIG, "%s: larger than %u bytes", path, TOML_INPUT_BYTES_MAX);
  }
  buf_t b = {0};
  int rc = 0;
  for (;;) {
    if ((rc = buf_reserve(&b, 65536))) break;
    ssize_t n = read(fd, b.data + b.len, 65536);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rc = err_set(-errno, "cannot read %s: %s", path, strerror(errno));
      break;
    }
    if (n == 0) break;
    b.len += (size_t)n;
    if (b.len > TOML_INPUT_BYTES_MAX) {
      rc = err_set(-E2BIG, "%s: larger than %u bytes", path, TOML_INPUT_BYTES_MAX);
      break;
    }
  }
  close(fd);
  if (!rc) rc = toml_parse((const char *)b.data, b.len, path, out);
  buf_free(&b);
  return rc;
}

/* ---- lookups ---------------------------------------------------------------------- */

const toml_value_t *toml_table_get(const toml_value_t *table, const char *key) {
  if (!table || table->type != TOML_TABLE) return NULL;
  return table_find(table, key);
}

const toml_value_t *toml_get(const toml_value_t *root, const char *path) {
  const toml_value_t *v = root;
  char part[TOML_KEY_BYTES_MAX + 1];
  while (v && *path) {
    size_t n = strcspn(path, ".");
    if (n > TOML_KEY_BYTES_MAX) return NULL;
    memcpy(part, path, n);
    part[n] = '\0';
    v = toml_table_get(v, part);
    path += n;
    if (*path == '.') path++;
  }
  return v;
}

static int typed(const toml_value_t *root, const char *path, toml_type_t type, const toml_value_t **out) {
  const toml_value_t *v = toml_get(root, path);
  if (!v) return -ENOENT;
  if (v->type != type)
    return err_set(-EINVAL, "%u:%u: key '%s' has type %s, expected %s", v->line, v->column, path,
                   toml_type_name(v->type), toml_type_name(type));
  *out = v;
  return 0;
}

int toml_get_string(const toml_value_t *root, const char *path, const char **out) {
  const toml_value_t *v = NULL;
  int rc = typed(root, path, TOML_STRING, &v);
  if (!rc) *out = v->string;
  return rc;
}

int toml_get_int(const toml_value_t *root, const char *path, int64_t *out) {
  const toml_value_t *v = NULL;
  int rc = typed(root, path, TOML_INTEGER, &v);
  if (!rc) *out = v->integer;
  return rc;
}

int toml_get_float(const toml_value_t *root, const char *path, double *out) {
  const toml_value_t *v = NULL;
  int rc = typed(root, path, TOML_FLOAT, &v);
  if (!rc) *out = v->floating;
  return rc;
}

int toml_get_bool(const toml_value_t *root, const char *path, bool *out) {
  const toml_value_t *v = NULL;
  int rc = typed(root, path, TOML_BOOL, &v);
  if (!rc) *out = v->boolean;
  return rc;
}

const char *toml_type_name(toml_type_t type) {
  switch (type) {
    case TOML_TABLE: return "table";
    case TOML_ARRAY: return "array";
    case TOML_STRING: return "string";
    case TOML_INTEGER: return "integer";
    case TOML_FLOAT: return "float";
    case TOML_BOOL: return "boolean";
    case TOML_DATETIME: return "datetime";
  }
  return "?";
}

/* ---- writing ---------------------------------------------------------------------- */

int toml_write_string(buf_t *out, const char *s, size_t n) {
  int rc = buf_append_byte(out, '"');
  for (size_t i = 0; i < n && !rc; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
      case '"': rc = buf_append(out, "\\\"", 2); break;
      case '\\': rc = buf_append(out, "\\\\", 2); break;
      case '\n': rc = buf_append(out, "\\n", 2); break;
      case '\t': rc = buf_append(out, "\\t", 2); break;
      case '\r': rc = buf_append(out, "\\r", 2); break;
      default:
        if (c < 0x20 || c == 0x7f) rc = buf_printf(out, "\\u%04X", c);
        else rc = buf_append_byte(out, c);
    }
  }
  if (!rc) rc = buf_append_byte(out, '"');
  return rc;
}

int toml_write_key(buf_t *out, const char *key) {
  if (key_is_bare(key)) return buf_append(out, key, strlen(key));
  return toml_write_string(out, key, strlen(key));
}
