/*
 * dwn/dagcbor: canonical dag-cbor of JSON values (see dagcbor.h).
 *
 * Both directions are hand-written rather than built on libcbor: the encoder
 * needs exact control of the number rules and key order, and the decoder has
 * to refuse every form the encoder cannot produce, which is easier to state
 * head by head than to recover from a general-purpose parser.
 */
#include "dwn/dagcbor.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define SAFE_INT_MAX ((uint64_t)DAGCBOR_SAFE_INT_MAX)
#define SORT_STACK_MEMBERS 32 /* objects up to this size sort without allocating */

enum { MAJOR_UINT = 0, MAJOR_NEGINT = 1, MAJOR_BYTES = 2, MAJOR_TEXT = 3,
       MAJOR_ARRAY = 4, MAJOR_MAP = 5, MAJOR_TAG = 6, MAJOR_SIMPLE = 7 };

enum { SIMPLE_FALSE = 20, SIMPLE_TRUE = 21, SIMPLE_NULL = 22, SIMPLE_UNDEFINED = 23,
       INFO_UINT8 = 24, INFO_UINT16 = 25, INFO_UINT32 = 26, INFO_UINT64 = 27,
       INFO_INDEFINITE = 31 };

bool dagcbor_double_is_int(double v) {
  return isfinite(v) && v == trunc(v) && fabs(v) <= (double)DAGCBOR_SAFE_INT_MAX;
}

/* Length of the valid UTF-8 sequence starting at s[0] (1..4), or 0 when the
 * bytes there are not one (overlong, surrogate, above U+10FFFF, truncated). */
static size_t utf8_sequence(const uint8_t *s, size_t len) {
  uint8_t c = s[0];
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp, min;
  if (c >= 0xc2 && c <= 0xdf) { n = 2; cp = c & 0x1fu; min = 0x80; }
  else if (c >= 0xe0 && c <= 0xef) { n = 3; cp = c & 0x0fu; min = 0x800; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 4; cp = c & 0x07u; min = 0x10000; }
  else return 0;
  if (n > len) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3fu);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

/* Offset of the first byte that does not start valid UTF-8, or len when all is valid. */
static size_t utf8_invalid_at(const uint8_t *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    if (s[i] < 0x80) { i++; continue; }
    size_t n = utf8_sequence(s + i, len - i);
    if (n == 0) return i;
    i += n;
  }
  return len;
}

/* Canonical key order: shorter first, then bytewise. */
static int key_compare(const char *a, size_t a_len, const char *b, size_t b_len) {
  if (a_len != b_len) return a_len < b_len ? -1 : 1;
  return memcmp(a, b, a_len);
}

/* ---- encoder ---- */

typedef struct enc {
  buf_t *out;
  size_t start; /* out->len when encoding began: the encoding is out[start..] */
} enc_t;

typedef struct member {
  const char *key;
  size_t key_len;
  const json_t *value;
} member_t;

static int enc_room(enc_t *e, size_t more) {
  size_t used = e->out->len - e->start;
  if (more > DAGCBOR_BYTES_MAX - used)
    return err_set(-E2BIG, "dag-cbor encoding over %zu bytes", (size_t)DAGCBOR_BYTES_MAX);
  return 0;
}

static int enc_head(enc_t *e, unsigned major, uint64_t arg) {
  uint8_t head[9];
  size_t n;
  uint8_t m = (uint8_t)(major << 5);
  if (arg < 24) {
    head[0] = (uint8_t)(m | arg);
    n = 1;
  } else if (arg <= UINT8_MAX) {
    head[0] = m | INFO_UINT8;
    head[1] = (uint8_t)arg;
    n = 2;
  } else if (arg <= UINT16_MAX) {
    head[0] = m | INFO_UINT16;
    for (int i = 0; i < 2; i++) head[1 + i] = (uint8_t)(arg >> (8 * (1 - i)));
    n = 3;
  } else if (arg <= UINT32_MAX) {
    head[0] = m | INFO_UINT32;
    for (int i = 0; i < 4; i++) head[1 + i] = (uint8_t)(arg >> (8 * (3 - i)));
    n = 5;
  } else {
    head[0] = m | INFO_UINT64;
    for (int i = 0; i < 8; i++) head[1 + i] = (uint8_t)(arg >> (8 * (7 - i)));
    n = 9;
  }
  int rc = enc_room(e, n);
  if (rc) return rc;
  return buf_append(e->out, head, n);
}

static int enc_float64(enc_t *e, double v) {
  if (!isfinite(v)) return err_set(-EINVAL, "dag-cbor cannot encode NaN or infinity");
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  uint8_t b[9];
  b[0] = (MAJOR_SIMPLE << 5) | INFO_UINT64;
  for (int i = 0; i < 8; i++) b[1 + i] = (uint8_t)(bits >> (8 * (7 - i)));
  int rc = enc_room(e, sizeof b);
  if (rc) return rc;
  return buf_append(e->out, b, sizeof b);
}

static int enc_int(enc_t *e, int64_t v) {
  assert(v >= -DAGCBOR_SAFE_INT_MAX && v <= DAGCBOR_SAFE_INT_MAX);
  if (v >= 0) return enc_head(e, MAJOR_UINT, (uint64_t)v);
  return enc_head(e, MAJOR_NEGINT, (uint64_t)(-1 - v));
}

static int enc_text(enc_t *e, const char *s, size_t len) {
  size_t bad = utf8_invalid_at((const uint8_t *)s, len);
  if (bad != len) return err_set(-EINVAL, "dag-cbor: string is not valid UTF-8 at byte %zu", bad);
  int rc = enc_room(e, len);
  if (rc) return rc;
  if ((rc = enc_head(e, MAJOR_TEXT, len))) return rc;
  return enc_room(e, len) ? -E2BIG : buf_append(e->out, s, len);
}

static int member_cmp(const void *a, const void *b) {
  const member_t *x = a, *y = b;
  return key_compare(x->key, x->key_len, y->key, y->key_len);
}

static bool omitted(const dagcbor_edit_t *edit, const char *key, size_t key_len) {
  if (!edit) return false;
  for (size_t i = 0; i < edit->omit_len; i++)
    if (strlen(edit->omit[i]) == key_len && memcmp(edit->omit[i], key, key_len) == 0) return true;
  if (edit->add_key && strlen(edit->add_key) == key_len && memcmp(edit->add_key, key, key_len) == 0)
    return true; /* replaced by the added member */
  return false;
}

static int enc_value(enc_t *e, const json_t *v, unsigned depth);

static int enc_object(enc_t *e, const json_t *obj, unsigned depth, const dagcbor_edit_t *edit) {
  size_t size = json_object_size(obj) + (edit && edit->add_key ? 1 : 0);
  /* every member takes at least two bytes: refuse absurd sizes before allocating */
  if (size > DAGCBOR_BYTES_MAX / 2)
    return err_set(-E2BIG, "dag-cbor encoding over %zu bytes", (size_t)DAGCBOR_BYTES_MAX);
  member_t stack[SORT_STACK_MEMBERS];
  member_t *members = stack;
  if (size > SORT_STACK_MEMBERS) {
    members = malloc(size * sizeof *members);
    if (!members) return -ENOMEM;
  }
  size_t n = 0;
  for (void *it = json_object_iter((json_t *)obj); it; it = json_object_iter_next((json_t *)obj, it)) {
    const char *key = json_object_iter_key(it);
    size_t key_len = json_object_iter_key_len(it);
    if (omitted(edit, key, key_len)) continue;
    assert(n < size);
    members[n++] = (member_t){key, key_len, json_object_iter_value(it)};
  }
  if (edit && edit->add_key) {
    assert(n < size);
    members[n++] = (member_t){edit->add_key, strlen(edit->add_key), edit->add_value};
  }
  qsort(members, n, sizeof *members, member_cmp);
  int rc = enc_head(e, MAJOR_MAP, n);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    rc = enc_text(e, members[i].key, members[i].key_len);
    if (rc == 0) rc = enc_value(e, members[i].value, depth + 1);
  }
  if (members != stack) free(members);
  return rc;
}

static int enc_value(enc_t *e, const json_t *v, unsigned depth) {
  if (!v) return err_set(-EINVAL, "dag-cbor: no value");
  switch (json_typeof(v)) {
    case JSON_OBJECT:
    case JSON_ARRAY:
      if (depth > DAGCBOR_DEPTH_MAX)
        return err_set(-ELOOP, "dag-cbor: nesting deeper than %d", DAGCBOR_DEPTH_MAX);
      if (json_is_object(v)) return enc_object(e, v, depth, NULL);
      {
        size_t n = json_array_size(v);
        if (n > DAGCBOR_BYTES_MAX)
          return err_set(-E2BIG, "dag-cbor encoding over %zu bytes", (size_t)DAGCBOR_BYTES_MAX);
        int rc = enc_head(e, MAJOR_ARRAY, n);
        for (size_t i = 0; rc == 0 && i < n; i++) rc = enc_value(e, json_array_get(v, i), depth + 1);
        return rc;
      }
    case JSON_STRING:
      return enc_text(e, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: {
      json_int_t i = json_integer_value(v);
      if (i >= -DAGCBOR_SAFE_INT_MAX && i <= DAGCBOR_SAFE_INT_MAX) return enc_int(e, (int64_t)i);
      return enc_float64(e, (double)i); /* the double JSON.parse would have made */
    }
    case JSON_REAL: {
      double d = json_real_value(v);
      if (dagcbor_double_is_int(d)) return enc_int(e, (int64_t)d); /* -0.0 -> 0 */
      return enc_float64(e, d);
    }
    case JSON_TRUE: {
      int rc = enc_room(e, 1);
      return rc ? rc : buf_append_byte(e->out, (MAJOR_SIMPLE << 5) | SIMPLE_TRUE);
    }
    case JSON_FALSE: {
      int rc = enc_room(e, 1);
      return rc ? rc : buf_append_byte(e->out, (MAJOR_SIMPLE << 5) | SIMPLE_FALSE);
    }
    case JSON_NULL: {
      int rc = enc_room(e, 1);
      return rc ? rc : buf_append_byte(e->out, (MAJOR_SIMPLE << 5) | SIMPLE_NULL);
    }
  }
  return err_set(-EINVAL, "dag-cbor: unknown json type");
}

static int encode(const json_t *v, const dagcbor_edit_t *edit, buf_t *out) {
  assert(out != NULL);
  enc_t e = {.out = out, .start = out->len};
  int rc;
  if (edit) {
    assert(edit->omit_len == 0 || edit->omit != NULL);
    assert(edit->add_key == NULL || edit->add_value != NULL);
    if (!json_is_object(v)) return err_set(-EINVAL, "dag-cbor: an edited value must be an object");
    rc = enc_object(&e, v, 1, edit);
  } else {
    rc = enc_value(&e, v, 1);
  }
  if (rc) out->len = e.start;
  assert(rc != 0 || out->len - e.start <= DAGCBOR_BYTES_MAX);
  return rc;
}

int dagcbor_encode(const json_t *v, buf_t *out) { return encode(v, NULL, out); }

int dagcbor_encode_edited(const json_t *object, const dagcbor_edit_t *edit, buf_t *out) {
  assert(edit != NULL);
  return encode(object, edit, out);
}

/* ---- decoder ---- */

typedef struct dec {
  const uint8_t *in;
  size_t len;
  size_t pos;
} dec_t;

static int dec_error(const dec_t *d, size_t at, const char *what) {
  (void)d;
  return err_set(-EINVAL, "not canonical dag-cbor: %s at byte %zu", what, at);
}

/* Reads a head of major 0-6 with a minimal definite argument. */
static int dec_head(dec_t *d, unsigned *major, uint64_t *arg) {
  size_t at = d->pos;
  if (d->pos >= d->len) return dec_error(d, at, "truncated");
  uint8_t b = d->in[d->pos++];
  *major = b >> 5;
  unsigned info = b & 31u;
  if (*major == MAJOR_SIMPLE) { /* handled by the caller; report the byte to it */
    *arg = info;
    return 0;
  }
  if (info < 24) {
    *arg = info;
    return 0;
  }
  if (info == INFO_INDEFINITE) return dec_error(d, at, "indefinite length");
  if (info > INFO_UINT64) return dec_error(d, at, "reserved additional information");
  size_t n = (size_t)1 << (info - INFO_UINT8);
  if (n > d->len - d->pos) return dec_error(d, at, "truncated");
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v = (v << 8) | d->in[d->pos++];
  static const uint64_t min_for[4] = {24, 0x100, 0x10000, 0x100000000ull};
  if (v < min_for[info - INFO_UINT8]) return dec_error(d, at, "non-minimal integer or length");
  *arg = v;
  return 0;
}

static int dec_value(dec_t *d, unsigned depth, json_t **out);

static int dec_simple(dec_t *d, size_t at, unsigned info, json_t **out) {
  switch (info) {
    case SIMPLE_FALSE: *out = json_false(); return 0;
    case SIMPLE_TRUE: *out = json_true(); return 0;
    case SIMPLE_NULL: *out = json_null(); return 0;
    case SIMPLE_UNDEFINED: return dec_error(d, at, "undefined");
    case INFO_UINT16: return dec_error(d, at, "half-precision float");
    case INFO_UINT32: return dec_error(d, at, "single-precision float");
    case INFO_UINT64: break;
    case INFO_INDEFINITE: return dec_error(d, at, "break outside an indefinite item");
    default: return dec_error(d, at, "simple value other than false, true, null");
  }
  if (8 > d->len - d->pos) return dec_error(d, at, "truncated");
  uint64_t bits = 0;
  for (int i = 0; i < 8; i++) bits = (bits << 8) | d->in[d->pos++];
  double v;
  memcpy(&v, &bits, sizeof v);
  if (!isfinite(v)) return dec_error(d, at, "NaN or infinite float");
  if (dagcbor_double_is_int(v)) return dec_error(d, at, "float holding a safe integer");
  json_t *r = json_real(v);
  if (!r) return -ENOMEM;
  *out = r;
  return 0;
}

/* Reads a text string head and body; the bytes stay in the input. */
static int dec_text(dec_t *d, uint64_t len, size_t at, const char **s) {
  if (len > d->len - d->pos) return dec_error(d, at, "truncated");
  const uint8_t *p = d->in + d->pos;
  size_t bad = utf8_invalid_at(p, (size_t)len);
  if (bad != len) return dec_error(d, d->pos + bad, "invalid UTF-8");
  d->pos += (size_t)len;
  *s = (const char *)p;
  return 0;
}

static int dec_array(dec_t *d, uint64_t n, unsigned depth, size_t at, json_t **out) {
  if (n > d->len - d->pos) return dec_error(d, at, "truncated"); /* each item takes a byte */
  json_t *a = json_array();
  if (!a) return -ENOMEM;
  for (uint64_t i = 0; i < n; i++) {
    json_t *item;
    int rc = dec_value(d, depth + 1, &item);
    if (rc) { json_decref(a); return rc; }
    if (json_array_append_new(a, item)) { json_decref(a); return -ENOMEM; }
  }
  *out = a;
  return 0;
}

static int dec_map(dec_t *d, uint64_t n, unsigned depth, size_t at, json_t **out) {
  if (n > (d->len - d->pos) / 2) return dec_error(d, at, "truncated"); /* key + value >= 2 bytes */
  json_t *o = json_object();
  if (!o) return -ENOMEM;
  const char *prev = NULL;
  size_t prev_len = 0;
  for (uint64_t i = 0; i < n; i++) {
    size_t key_at = d->pos;
    unsigned major;
    uint64_t key_len;
    const char *key;
    int rc = dec_head(d, &major, &key_len);
    if (rc == 0 && major != MAJOR_TEXT) rc = dec_error(d, key_at, "map key is not a text string");
    if (rc == 0) rc = dec_text(d, key_len, key_at, &key);
    if (rc == 0 && prev) {
      int c = key_compare(prev, prev_len, key, (size_t)key_len);
      if (c == 0) rc = dec_error(d, key_at, "duplicate map key");
      else if (c > 0) rc = dec_error(d, key_at, "map keys out of canonical order");
    }
    json_t *value = NULL;
    if (rc == 0) rc = dec_value(d, depth + 1, &value);
    if (rc) { json_decref(o); return rc; }
    if (json_object_setn_new(o, key, (size_t)key_len, value)) { json_decref(o); return -ENOMEM; }
    prev = key;
    prev_len = (size_t)key_len;
  }
  *out = o;
  return 0;
}

static int dec_value(dec_t *d, unsigned depth, json_t **out) {
  size_t at = d->pos;
  unsigned major;
  uint64_t arg;
  int rc = dec_head(d, &major, &arg);
  if (rc) return rc;
  switch (major) {
    case MAJOR_UINT:
    case MAJOR_NEGINT: {
      /* -(2^53 - 1) = -1 - (2^53 - 2) */
      if (arg > (major == MAJOR_UINT ? SAFE_INT_MAX : SAFE_INT_MAX - 1))
        return dec_error(d, at, "integer beyond 2^53 - 1");
      json_int_t v = major == MAJOR_UINT ? (json_int_t)arg : -1 - (json_int_t)arg;
      json_t *r = json_integer(v);
      if (!r) return -ENOMEM;
      *out = r;
      return 0;
    }
    case MAJOR_BYTES: return dec_error(d, at, "byte string");
    case MAJOR_TEXT: {
      const char *s;
      if ((rc = dec_text(d, arg, at, &s))) return rc;
      json_t *r = json_stringn(s, (size_t)arg);
      if (!r) return -ENOMEM;
      *out = r;
      return 0;
    }
    case MAJOR_ARRAY:
    case MAJOR_MAP:
      if (depth > DAGCBOR_DEPTH_MAX)
        return err_set(-ELOOP, "dag-cbor: nesting deeper than %d at byte %zu", DAGCBOR_DEPTH_MAX, at);
      return major == MAJOR_ARRAY ? dec_array(d, arg, depth, at, out) : dec_map(d, arg, depth, at, out);
    case MAJOR_TAG: return dec_error(d, at, "tag");
    default: return dec_simple(d, at, (unsigned)arg, out);
  }
}

int dagcbor_decode(const uint8_t *data, size_t len, json_t **out) {
  assert(out != NULL);
  assert(data != NULL || len == 0);
  if (len > DAGCBOR_BYTES_MAX)
    return err_set(-E2BIG, "dag-cbor input of %zu bytes over %zu", len, (size_t)DAGCBOR_BYTES_MAX);
  dec_t d = {.in = data, .len = len, .pos = 0};
  json_t *v = NULL;
  int rc = dec_value(&d, 1, &v);
  if (rc) return rc;
  if (d.pos != len) {
    json_decref(v);
    return dec_error(&d, d.pos, "bytes after the value");
  }
  *out = v;
  return 0;
}

/* ---- equality as the encoder sees it ---- */

typedef struct number {
  bool is_int;
  int64_t i;
  double d;
} number_t;

static number_t number_of(const json_t *v) {
  number_t n = {0};
  if (json_is_integer(v)) {
    json_int_t i = json_integer_value(v);
    if (i >= -DAGCBOR_SAFE_INT_MAX && i <= DAGCBOR_SAFE_INT_MAX) {
      n.is_int = true;
      n.i = (int64_t)i;
    } else {
      n.d = (double)i;
    }
  } else {
    double d = json_real_value(v);
    if (dagcbor_double_is_int(d)) {
      n.is_int = true;
      n.i = (int64_t)d;
    } else {
      n.d = d;
    }
  }
  return n;
}

static bool equal(const json_t *a, const json_t *b, unsigned depth) {
  if (!a || !b) return false;
  if (json_is_number(a) && json_is_number(b)) {
    number_t x = number_of(a), y = number_of(b);
    if (x.is_int != y.is_int) return false;
    return x.is_int ? x.i == y.i : x.d == y.d;
  }
  if (json_typeof(a) != json_typeof(b)) return false;
  switch (json_typeof(a)) {
    case JSON_STRING:
      return json_string_length(a) == json_string_length(b) &&
             memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY: {
      if (depth > DAGCBOR_DEPTH_MAX || json_array_size(a) != json_array_size(b)) return false;
      for (size_t i = 0; i < json_array_size(a); i++)
        if (!equal(json_array_get(a, i), json_array_get(b, i), depth + 1)) return false;
      return true;
    }
    case JSON_OBJECT: {
      if (depth > DAGCBOR_DEPTH_MAX || json_object_size(a) != json_object_size(b)) return false;
      for (void *it = json_object_iter((json_t *)a); it; it = json_object_iter_next((json_t *)a, it)) {
        const json_t *other = json_object_getn(b, json_object_iter_key(it), json_object_iter_key_len(it));
        if (!equal(json_object_iter_value(it), other, depth + 1)) return false;
      }
      return true;
    }
    default:
      return true; /* true, false, null: same type */
  }
}

bool dagcbor_json_equal(const json_t *a, const json_t *b) { return equal(a, b, 1); }
