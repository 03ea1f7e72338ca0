/* dwn/validate: see validate.h.  The schema tables (facts read from the
 * dwn-sdk-js 0.5.2 JSON schemas) are at the bottom, the evaluator on top. */
#include "dwn/validate.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- schema nodes ---------------------------------------------------------- */

enum {
  VT_NULL = 1,
  VT_BOOL = 2,
  VT_NUM = 4,
  VT_STR = 8,
  VT_ARR = 16,
  VT_OBJ = 32,
};

typedef bool (*match_fn)(const char *s, size_t len);
typedef struct node node_t;

typedef struct prop {
  const char *name;
  const node_t *schema;
} prop_t;

typedef struct pattern_prop {
  match_fn match;
  const node_t *schema;
} pattern_prop_t;

typedef struct dep {
  const char *name;
  const char *const *required; /* property dependency, or */
  const node_t *schema;        /* schema dependency */
} dep_t;

struct node {
  bool always;                 /* {} : always valid */
  unsigned type;               /* VT_* bits, 0 = any */
  const char *type_text;       /* message text for several types: "string,number" */
  const node_t *ref;           /* $ref */
  const char *konst;           /* const (a string) */
  const char *const *enums;    /* enum of strings, NULL-terminated */
  int enum_bool;               /* enum [true] = 1, [false] = 2 */
  const node_t *not_;
  const node_t *const *any_of; /* NULL-terminated */
  const node_t *const *one_of;
  const node_t *const *all_of;
  bool has_minimum;
  double minimum;
  match_fn pattern;
  const char *pattern_text;
  int min_items, max_items;    /* 0 = absent */
  const node_t *items;
  int min_props, max_props;    /* 0 = absent */
  const char *const *required;
  bool no_additional;          /* additionalProperties: false */
  const node_t *additional;    /* additionalProperties: schema */
  const dep_t *deps;           /* terminated by name NULL */
  const prop_t *props;         /* terminated by name NULL */
  const pattern_prop_t *pattern_props; /* terminated by match NULL */
  bool no_unevaluated;         /* unevaluatedProperties: false */
};

/* ---- evaluation ------------------------------------------------------------ */

enum { ERR_NONE, ERR_FAILURE, ERR_ADDITIONAL, ERR_UNEVALUATED, ERR_DEPTH };

typedef struct ctx {
  char path[DWN_VALIDATE_PATH_BYTES_MAX];
  size_t path_len;
  int depth;
  bool oom;
  /* the first error recorded since the last reset */
  int err_kind;
  char err_path[DWN_VALIDATE_PATH_BYTES_MAX];
  char err_msg[400];
  char err_key[160];
} ctx_t;

static void record(ctx_t *c, int kind, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void record(ctx_t *c, int kind, const char *key, const char *fmt, ...) {
  if (c->err_kind != ERR_NONE) return; /* ajv appends; the first one is reported */
  c->err_kind = kind;
  memcpy(c->err_path, c->path, c->path_len + 1);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err_msg, sizeof c->err_msg, fmt, ap);
  va_end(ap);
  snprintf(c->err_key, sizeof c->err_key, "%s", key ? key : "");
}

/* Appends "/" + the JSON-pointer escape of key; returns the length to restore. */
static size_t path_push(ctx_t *c, const char *key) {
  size_t old = c->path_len, n = old;
  size_t cap = sizeof c->path - 1;
  if (n < cap) c->path[n++] = '/';
  for (const char *p = key; *p && n < cap; p++) {
    if (*p == '~' || *p == '/') {
      if (n + 2 > cap) break;
      c->path[n++] = '~';
      c->path[n++] = *p == '~' ? '0' : '1';
    } else {
      c->path[n++] = *p;
    }
  }
  c->path[n] = '\0';
  c->path_len = n;
  return old;
}

static size_t path_push_index(ctx_t *c, size_t i) {
  char key[24];
  snprintf(key, sizeof key, "%zu", i);
  return path_push(c, key);
}

static void path_pop(ctx_t *c, size_t old) {
  c->path_len = old;
  c->path[old] = '\0';
}

static unsigned data_type(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_OBJECT: return VT_OBJ;
    case JSON_ARRAY: return VT_ARR;
    case JSON_STRING: return VT_STR;
    case JSON_INTEGER:
    case JSON_REAL: return VT_NUM;
    case JSON_TRUE:
    case JSON_FALSE: return VT_BOOL;
    default: return VT_NULL;
  }
}

static const char *type_name(unsigned t) {
  switch (t) {
    case VT_OBJ: return "object";
    case VT_ARR: return "array";
    case VT_STR: return "string";
    case VT_NUM: return "number";
    case VT_BOOL: return "boolean";
    default: return "null";
  }
}

static double number_of(const json_t *v) {
  return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

/* Does the schema have keywords of the group of data type t? (ajv's
 * schemaHasRulesForType, deciding where the type check goes) */
static bool has_rules_for(const node_t *n, unsigned t) {
  switch (t) {
    case VT_NUM: return n->has_minimum;
    case VT_STR: return n->pattern != NULL;
    case VT_ARR: return n->min_items || n->max_items || n->items;
    case VT_OBJ:
      return n->min_props || n->max_props || n->required || n->no_additional || n->additional ||
             n->deps || n->props || n->pattern_props || n->no_unevaluated;
    default: return false;
  }
}

static bool has_rules_but_ref(const node_t *n) {
  return n->type || n->konst || n->enums || n->enum_bool || n->not_ || n->any_of || n->one_of ||
         n->all_of || has_rules_for(n, VT_NUM) || has_rules_for(n, VT_STR) ||
         has_rules_for(n, VT_ARR) || has_rules_for(n, VT_OBJ);
}

/* Object keys in JavaScript's for-in order: canonical array indices
 * (0 .. 2^32-2) ascending, then the others in insertion order. */
typedef struct keys {
  const char **list;
  size_t count;
  const char *stack[32];
} keys_t;

static bool is_index_key(const char *k, unsigned long long *value) {
  if (k[0] == '\0' || (k[0] == '0' && k[1] != '\0')) return false;
  unsigned long long v = 0;
  for (const char *p = k; *p; p++) {
    if (*p < '0' || *p > '9') return false;
    v = v * 10 + (unsigned long long)(*p - '0');
    if (v > 4294967294ULL) return false;
  }
  *value = v;
  return true;
}

static int index_cmp(const void *a, const void *b) {
  unsigned long long x = 0, y = 0;
  is_index_key(*(const char *const *)a, &x);
  is_index_key(*(const char *const *)b, &y);
  return x < y ? -1 : x > y;
}

static bool keys_get(ctx_t *c, const json_t *obj, keys_t *k) {
  size_t n = json_object_size(obj);
  k->count = 0;
  k->list = n <= 32 ? k->stack : malloc(n * sizeof *k->list);
  if (!k->list) {
    c->oom = true;
    return false;
  }
  const char *key;
  const json_t *value;
  unsigned long long ignored;
  size_t indices = 0;
  json_object_foreach((json_t *)obj, key, value) {
    if (is_index_key(key, &ignored)) k->list[k->count++] = key, indices++;
  }
  if (indices > 1) qsort(k->list, indices, sizeof *k->list, index_cmp);
  json_object_foreach((json_t *)obj, key, value) {
    if (!is_index_key(key, &ignored)) k->list[k->count++] = key;
  }
  assert(k->count == n);
  return true;
}

static void keys_free(keys_t *k) {
  if (k->list != k->stack) free(k->list);
}

static bool validate(const node_t *n, const json_t *v, ctx_t *c);

static bool fail(ctx_t *c, const char *msg) {
  record(c, ERR_FAILURE, NULL, "%s", msg);
  return false;
}

static bool fail_type(const node_t *n, ctx_t *c) {
  record(c, ERR_FAILURE, NULL, "must be %s", n->type_text ? n->type_text : type_name(n->type));
  return false;
}

static bool declared_prop(const node_t *n, const char *key) {
  if (n->props)
    for (const prop_t *p = n->props; p->name; p++)
      if (strcmp(p->name, key) == 0) return true;
  if (n->pattern_props)
    for (const pattern_prop_t *p = n->pattern_props; p->match; p++)
      if (p->match(key, strlen(key))) return true;
  return false;
}

/* Runs n on v without keeping what it records (a composite's probe). */
static bool probe(const node_t *n, const json_t *v, ctx_t *c) {
  int kind = c->err_kind;
  bool ok = validate(n, v, c);
  c->err_kind = kind; /* later errors never overwrite an earlier one */
  return ok;
}

/* Was key of object v evaluated by n or its in-place applicators that pass? */
static bool covers(const node_t *n, const json_t *v, const char *key, ctx_t *c) {
  if (declared_prop(n, key) || n->no_additional || n->additional) return true;
  if (n->ref && covers(n->ref, v, key, c)) return true;
  if (n->all_of)
    for (const node_t *const *s = n->all_of; *s; s++)
      if (covers(*s, v, key, c)) return true;
  const node_t *const *lists[2] = {n->any_of, n->one_of};
  for (int l = 0; l < 2; l++)
    if (lists[l])
      for (const node_t *const *s = lists[l]; *s; s++)
        if (probe(*s, v, c) && covers(*s, v, key, c)) return true;
  if (n->deps)
    for (const dep_t *d = n->deps; d->name; d++)
      if (d->schema && json_object_get(v, d->name) && covers(d->schema, v, key, c)) return true;
  return false;
}

static bool validate_number(const node_t *n, const json_t *v, ctx_t *c) {
  if (n->has_minimum && !(number_of(v) >= n->minimum)) {
    record(c, ERR_FAILURE, NULL, "must be >= %g", n->minimum);
    return false;
  }
  return true;
}

static bool validate_string(const node_t *n, const json_t *v, ctx_t *c) {
  if (n->pattern && !n->pattern(json_string_value(v), json_string_length(v))) {
    record(c, ERR_FAILURE, NULL, "must match pattern \"%s\"", n->pattern_text);
    return false;
  }
  return true;
}

static bool validate_array(const node_t *n, const json_t *v, ctx_t *c) {
  size_t size = json_array_size(v);
  if (n->max_items && size > (size_t)n->max_items) {
    record(c, ERR_FAILURE, NULL, "must NOT have more than %d items", n->max_items);
    return false;
  }
  if (n->min_items && size < (size_t)n->min_items) {
    record(c, ERR_FAILURE, NULL, "must NOT have fewer than %d items", n->min_items);
    return false;
  }
  if (n->items) {
    for (size_t i = 0; i < size; i++) {
      size_t old = path_push_index(c, i);
      bool ok = validate(n->items, json_array_get(v, i), c);
      path_pop(c, old);
      if (!ok) return false;
    }
  }
  return true;
}

static bool validate_object(const node_t *n, const json_t *v, ctx_t *c) {
  size_t size = json_object_size(v);
  if (n->max_props && size > (size_t)n->max_props) {
    record(c, ERR_FAILURE, NULL, "must NOT have more than %d properties", n->max_props);
    return false;
  }
  if (n->min_props && size < (size_t)n->min_props) {
    record(c, ERR_FAILURE, NULL, "must NOT have fewer than %d properties", n->min_props);
    return false;
  }
  if (n->required)
    for (const char *const *r = n->required; *r; r++)
      if (!json_object_get(v, *r)) {
        record(c, ERR_FAILURE, NULL, "must have required property '%s'", *r);
        return false;
      }
  if (n->no_additional || n->additional) {
    keys_t k;
    if (!keys_get(c, v, &k)) return false;
    bool ok = true;
    for (size_t i = 0; i < k.count && ok; i++) {
      if (declared_prop(n, k.list[i])) continue;
      if (n->no_additional) {
        record(c, ERR_ADDITIONAL, k.list[i], "must NOT have additional properties");
        ok = false;
      } else {
        size_t old = path_push(c, k.list[i]);
        ok = validate(n->additional, json_object_get(v, k.list[i]), c);
        path_pop(c, old);
      }
    }
    keys_free(&k);
    if (!ok || c->oom) return false;
  }
  if (n->deps) {
    for (const dep_t *d = n->deps; d->name; d++) {
      if (!d->required || !json_object_get(v, d->name)) continue;
      size_t count = 0;
      char list[160] = "";
      const char *missing = NULL;
      for (const char *const *r = d->required; *r; r++, count++) {
        if (!missing && !json_object_get(v, *r)) missing = *r;
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", count ? ", " : "", *r);
      }
      if (missing) {
        record(c, ERR_FAILURE, NULL, "must have %s %s when property %s is present",
               count == 1 ? "property" : "properties", list, d->name);
        return false;
      }
    }
    for (const dep_t *d = n->deps; d->name; d++)
      if (d->schema && json_object_get(v, d->name) && !validate(d->schema, v, c)) return false;
  }
  if (n->props) {
    for (const prop_t *p = n->props; p->name; p++) {
      const json_t *child = json_object_get(v, p->name);
      if (!child || p->schema->always) continue;
      size_t old = path_push(c, p->name);
      bool ok = validate(p->schema, child, c);
      path_pop(c, old);
      if (!ok) return false;
    }
  }
  if (n->pattern_props) {
    keys_t k;
    if (!keys_get(c, v, &k)) return false;
    bool ok = true;
    for (const pattern_prop_t *p = n->pattern_props; p->match && ok; p++) {
      if (p->schema->always) continue;
      for (size_t i = 0; i < k.count && ok; i++) {
        if (!p->match(k.list[i], strlen(k.list[i]))) continue;
        size_t old = path_push(c, k.list[i]);
        ok = validate(p->schema, json_object_get(v, k.list[i]), c);
        path_pop(c, old);
      }
    }
    keys_free(&k);
    if (!ok || c->oom) return false;
  }
  if (n->no_unevaluated) {
    keys_t k;
    if (!keys_get(c, v, &k)) return false;
    bool ok = true;
    for (size_t i = 0; i < k.count && ok; i++) {
      if (covers(n, v, k.list[i], c)) continue;
      record(c, ERR_UNEVALUATED, k.list[i], "must NOT have unevaluated properties");
      ok = false;
    }
    keys_free(&k);
    if (!ok || c->oom) return false;
  }
  return true;
}

static bool validate_node(const node_t *n, const json_t *v, ctx_t *c) {
  if (n->always) return true;
  if (n->ref && !has_rules_but_ref(n)) return validate(n->ref, v, c);
  unsigned t = data_type(v);
  /* one declared type with keywords of its own: checked where those run */
  bool single = n->type && (n->type & (n->type - 1)) == 0;
  bool deferred = single && has_rules_for(n, n->type);
  if (n->type && !deferred && !(n->type & t)) return fail_type(n, c);

  if (n->ref && !validate(n->ref, v, c)) return false;
  if (n->konst && !(t == VT_STR && strcmp(json_string_value(v), n->konst) == 0))
    return fail(c, "must be equal to constant");
  if (n->enums) {
    bool found = false;
    for (const char *const *e = n->enums; *e && !found; e++)
      found = t == VT_STR && strcmp(json_string_value(v), *e) == 0;
    if (!found) return fail(c, "must be equal to one of the allowed values");
  }
  if (n->enum_bool && !(n->enum_bool == 1 ? json_is_true(v) : json_is_false(v)))
    return fail(c, "must be equal to one of the allowed values");
  if (n->not_ && probe(n->not_, v, c)) return fail(c, "must NOT be valid");
  if (n->any_of) {
    int kind = c->err_kind;
    bool ok = false;
    for (const node_t *const *s = n->any_of; *s && !ok; s++) ok = validate(*s, v, c);
    if (c->oom) return false;
    if (!ok) return fail(c, "must match a schema in anyOf");
    c->err_kind = kind;
  }
  if (n->one_of) {
    int kind = c->err_kind;
    int passing = 0;
    /* ajv stops at the second passing branch */
    for (const node_t *const *s = n->one_of; *s && passing < 2; s++) passing += validate(*s, v, c);
    if (c->oom) return false;
    if (passing != 1) return fail(c, "must match exactly one schema in oneOf");
    c->err_kind = kind;
  }
  if (n->all_of)
    for (const node_t *const *s = n->all_of; *s; s++)
      if (!validate(*s, v, c)) return false;

  static const unsigned groups[4] = {VT_NUM, VT_STR, VT_ARR, VT_OBJ};
  for (int g = 0; g < 4; g++) {
    if (t == groups[g]) {
      bool ok = true;
      switch (t) {
        case VT_NUM: ok = validate_number(n, v, c); break;
        case VT_STR: ok = validate_string(n, v, c); break;
        case VT_ARR: ok = validate_array(n, v, c); break;
        default: ok = validate_object(n, v, c); break;
      }
      if (!ok) return false;
    } else if (deferred && n->type == groups[g]) {
      return fail_type(n, c);
    }
  }
  /* a deferred type outside the four groups cannot happen: only number,
   * string, array and object have keywords */
  return true;
}

static bool validate(const node_t *n, const json_t *v, ctx_t *c) {
  assert(n && v);
  if (c->oom) return false;
  if (c->depth >= DWN_VALIDATE_DEPTH_MAX) {
    record(c, ERR_DEPTH, NULL, "nesting too deep");
    return false;
  }
  c->depth++;
  bool ok = validate_node(n, v, c);
  c->depth--;
  return ok;
}

/* ---- patterns (JavaScript regular expressions with the 'u' flag) ---------- */

static bool is_alpha(unsigned char ch) { return (ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'; }
static bool is_digit(unsigned char ch) { return ch >= '0' && ch <= '9'; }
static bool is_alnum(unsigned char ch) { return is_alpha(ch) || is_digit(ch); }
static bool is_hex(unsigned char ch) {
  return is_digit(ch) || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f');
}

/* The bytes of a JS line terminator (\n, \r, U+2028, U+2029) at s[i]? */
static size_t line_terminator(const char *s, size_t len, size_t i) {
  unsigned char ch = (unsigned char)s[i];
  if (ch == '\n' || ch == '\r') return 1;
  if (ch == 0xe2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
      ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9))
    return 3;
  return 0;
}

/* `.*$` from i: no line terminator up to the end */
static bool dot_star_to_end(const char *s, size_t len, size_t i) {
  for (; i < len; i++)
    if (line_terminator(s, len, i)) return false;
  return true;
}

/* ^[A-Za-z0-9_-]+$ */
bool dwn_validate_is_base64url(const char *s, size_t len) {
  if (len == 0) return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (!is_alnum(ch) && ch != '_' && ch != '-') return false;
  }
  return true;
}

static bool did_idchar(unsigned char ch) {
  return is_alnum(ch) || ch == '.' || ch == '_' || ch == '-';
}

static bool did_paramchar(unsigned char ch) {
  return is_alnum(ch) || ch == '_' || ch == '.' || ch == ':' || ch == '%' || ch == '-';
}

/* ^did:([a-z0-9]+):((?:(?:[a-zA-Z0-9._-]|(?:%[0-9a-fA-F]{2}))*:)*((?:[a-zA-Z0-9._-]|
 * (?:%[0-9a-fA-F]{2}))+))((;[a-zA-Z0-9_.:%-]+=[a-zA-Z0-9_.:%-]*)*)(\/[^#?]*)?([?][^#]*)?(#.*)?$
 * Every part starts with a character the previous one cannot contain, so one
 * left-to-right pass decides. */
bool dwn_validate_is_did(const char *s, size_t len) {
  if (len < 4 || memcmp(s, "did:", 4) != 0) return false;
  size_t i = 4, start = i;
  while (i < len && (is_digit((unsigned char)s[i]) || (s[i] >= 'a' && s[i] <= 'z'))) i++;
  if (i == start || i >= len || s[i] != ':') return false;
  i++;
  /* method-specific id: (idchar | %XX | ':')*, ending in idchar or %XX */
  start = i;
  bool last_colon = true;
  while (i < len) {
    unsigned char ch = (unsigned char)s[i];
    if (did_idchar(ch)) {
      i++, last_colon = false;
    } else if (ch == ':') {
      i++, last_colon = true;
    } else if (ch == '%' && i + 2 < len + 0 && is_hex((unsigned char)s[i + 1]) &&
               is_hex((unsigned char)s[i + 2])) {
      i += 3, last_colon = false;
    } else {
      break;
    }
  }
  if (i == start || last_colon) return false;
  while (i < len && s[i] == ';') { /* parameters */
    i++;
    start = i;
    while (i < len && did_paramchar((unsigned char)s[i])) i++;
    if (i == start || i >= len || s[i] != '=') return false;
    i++;
    while (i < len && did_paramchar((unsigned char)s[i])) i++;
  }
  if (i < len && s[i] == '/')
    while (i < len && s[i] != '#' && s[i] != '?') i++;
  if (i < len && s[i] == '?')
    while (i < len && s[i] != '#') i++;
  if (i < len && s[i] == '#') return dot_star_to_end(s, len, i + 1);
  return i == len;
}

static bool match_did(const char *s, size_t len) { return dwn_validate_is_did(s, len); }
static bool match_b64u(const char *s, size_t len) { return dwn_validate_is_base64url(s, len); }

/* ^\d{4}-[0-1]\d-[0-3]\dT(?:[0-2]\d:[0-5]\d:[0-5]\d|23:59:60)\.\d{6}Z$ */
static bool match_date_time(const char *s, size_t len) {
  if (len != 27) return false;
  const char *shape = "dddd-1d-3dT2d:5d:5d.ddddddZ";
  bool clock = true;
  for (size_t i = 0; i < 27; i++) {
    char want = shape[i], ch = s[i];
    bool ok;
    switch (want) {
      case 'd': ok = is_digit((unsigned char)ch); break;
      case '1': ok = ch == '0' || ch == '1'; break;
      case '2': ok = ch >= '0' && ch <= '2'; break;
      case '3': ok = ch >= '0' && ch <= '3'; break;
      case '5': ok = ch >= '0' && ch <= '5'; break;
      default: ok = ch == want; break;
    }
    if (!ok && i >= 11 && i <= 18) {
      clock = false;
      continue;
    }
    if (!ok) return false;
  }
  return clock || memcmp(s + 11, "23:59:60", 8) == 0;
}

/* ^[a-zA-Z0-9]+(\/[a-zA-Z0-9]+)*$ and ^[a-zA-Z]+(\/[a-zA-Z]+)*$ */
static bool segments(const char *s, size_t len, bool (*ok)(unsigned char)) {
  if (len == 0) return false;
  bool empty = true;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '/') {
      if (empty) return false;
      empty = true;
    } else if (ok(ch)) {
      empty = false;
    } else {
      return false;
    }
  }
  return !empty;
}

static bool match_context_id(const char *s, size_t len) { return segments(s, len, is_alnum); }
static bool match_protocol_path(const char *s, size_t len) { return segments(s, len, is_alpha); }

/* .* (unanchored: matches every string) */
static bool match_any(const char *s, size_t len) {
  (void)s, (void)len;
  return true;
}

/* ^[^$].*$ : a first code point other than '$', then no line terminator */
static bool match_not_dollar(const char *s, size_t len) {
  if (len == 0 || s[0] == '$') return false;
  size_t first = 1;
  unsigned char ch = (unsigned char)s[0];
  if (ch >= 0xc0) first = ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 : 2;
  if (first > len) return false;
  return dot_star_to_end(s, len, first);
}

/* ^(?!\$requiredTags$|\$allowUndefinedTags$).*$ */
static bool match_tag_name(const char *s, size_t len) {
  if ((len == 13 && memcmp(s, "$requiredTags", 13) == 0) ||
      (len == 19 && memcmp(s, "$allowUndefinedTags", 19) == 0))
    return false;
  return dot_star_to_end(s, len, 0);
}

/* ^(enum|minimum|maximum|exclusiveMinimum|exclusiveMaximum|minLength|maxLength|
 *   minItems|maxItems|uniqueItems|minContains|maxContains)$ */
static bool match_tag_keyword(const char *s, size_t len) {
  static const char *const words[] = {"enum",      "minimum",     "maximum",     "exclusiveMinimum",
                                      "exclusiveMaximum", "minLength", "maxLength", "minItems",
                                      "maxItems",  "uniqueItems", "minContains", "maxContains"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strlen(words[i]) == len && memcmp(words[i], s, len) == 0) return true;
  return false;
}

/* ---- the schemas ----------------------------------------------------------- */

#define STRS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NODES(...) ((const node_t *const[]){__VA_ARGS__, NULL})
#define PROPS(...) ((const prop_t[]){__VA_ARGS__, {NULL, NULL}})
#define N(...) (&(const node_t){__VA_ARGS__})
#define T(t) N(.type = (t))

static const node_t ALWAYS = {.always = true};
static const node_t S_b64u = {.type = VT_STR, .pattern = match_b64u,
                              .pattern_text = "^[A-Za-z0-9_-]+$"};
static const node_t S_did = {
    .type = VT_STR, .pattern = match_did,
    .pattern_text = "^did:([a-z0-9]+):((?:(?:[a-zA-Z0-9._-]|(?:%[0-9a-fA-F]{2}))*:)*((?:[a-zA-Z0-9._-]|"
                    "(?:%[0-9a-fA-F]{2}))+))((;[a-zA-Z0-9_.:%-]+=[a-zA-Z0-9_.:%-]*)*)(/[^#?]*)?"
                    "([?][^#]*)?(#.*)?$"};
static const node_t S_date_time = {
    .type = VT_STR, .pattern = match_date_time,
    .pattern_text = "^\\d{4}-[0-1]\\d-[0-3]\\dT(?:[0-2]\\d:[0-5]\\d:[0-5]\\d|23:59:60)\\.\\d{6}Z$"};

#define STR T(VT_STR)
#define NUM T(VT_NUM)
#define BOOL T(VT_BOOL)
#define STR_ENUM(...) N(.type = VT_STR, .enums = STRS(__VA_ARGS__))
#define CONST(s) N(.konst = (s))
#define REQ(...) N(.required = STRS(__VA_ARGS__))

static const node_t S_object = {.type = VT_OBJ};

static const node_t S_general_jws = {
    .type = VT_OBJ, .no_additional = true,
    .props = PROPS({"payload", &S_b64u},
                   {"signatures", N(.type = VT_ARR, .min_items = 1,
                                    .items = N(.type = VT_OBJ,
                                               .props = PROPS({"protected", &S_b64u},
                                                              {"signature", &S_b64u})))})};

static const node_t S_general_jwk = {
    .type = VT_OBJ, .required = STRS("kty"),
    .props = PROPS({"alg", STR}, {"kid", STR}, {"kty", N(.enums = STRS("EC", "RSA", "oct", "OKP"))},
                   {"crv", STR}, {"use", STR}, {"key_ops", STR}, {"x5u", STR}, {"x5c", STR},
                   {"x5t", STR}, {"x5t#S256", STR}),
    .one_of = NODES(
        N(.props = PROPS({"kty", CONST("EC")}, {"crv", STR}, {"x", STR}, {"y", STR}, {"d", STR}),
          .required = STRS("crv", "x")),
        N(.props = PROPS({"kty", CONST("OKP")}, {"crv", STR}, {"x", STR}, {"d", STR}),
          .required = STRS("crv", "x")),
        N(.props = PROPS({"kty", CONST("RSA")}, {"n", STR}, {"e", STR}, {"d", STR}, {"p", STR},
                         {"q", STR}, {"dp", STR}, {"dq", STR}, {"qi", STR}, {"oth", &S_object}),
          .required = STRS("n", "e")),
        N(.props = PROPS({"kty", CONST("oct")}, {"k", STR}), .required = STRS("k")))};

static const node_t S_public_jwk = {
    .ref = &S_general_jwk,
    .not_ = N(.any_of = NODES(
                  N(.type = VT_OBJ, .props = PROPS({"kty", CONST("EC")}), .any_of = NODES(REQ("d"))),
                  N(.type = VT_OBJ, .props = PROPS({"kty", CONST("OKP")}), .any_of = NODES(REQ("d"))),
                  N(.type = VT_OBJ, .props = PROPS({"kty", CONST("RSA")}, {"oth", &S_object}),
                    .any_of = NODES(REQ("d"), REQ("p"), REQ("q"), REQ("dp"), REQ("dq"), REQ("qi"),
                                    REQ("oth")))))};

static const node_t S_jwk_verification_method = {
    .type = VT_OBJ, .no_additional = true,
    .required = STRS("id", "type", "controller", "publicKeyJwk"),
    .props = PROPS({"id", STR}, {"type", N(.enums = STRS("JsonWebKey", "JsonWebKey2020"))},
                   {"controller", &S_did}, {"publicKeyJwk", &S_public_jwk})};

static const node_t S_authorization = {
    .type = VT_OBJ, .no_additional = true, .props = PROPS({"signature", &S_general_jws})};

static const node_t S_records_write_data_encoded;

static const node_t S_authorization_delegated_grant = {
    .type = VT_OBJ, .no_additional = true,
    .props = PROPS({"signature", &S_general_jws},
                   {"authorDelegatedGrant", &S_records_write_data_encoded})};

static const node_t S_authorization_owner = {
    .type = VT_OBJ, .no_additional = true,
    .props = PROPS({"signature", &S_general_jws},
                   {"authorDelegatedGrant", &S_records_write_data_encoded},
                   {"ownerSignature", &S_general_jws},
                   {"ownerDelegatedGrant", &S_records_write_data_encoded}),
    .deps = (const dep_t[]){{"ownerSignature", STRS("signature"), NULL}, {NULL, NULL, NULL}}};

static const node_t S_encryption = {
    .type = VT_OBJ, .no_additional = true,
    .required = STRS("algorithm", "initializationVector", "keyEncryption"),
    .props = PROPS(
        {"algorithm", STR_ENUM("A256CTR")}, {"initializationVector", &S_b64u},
        {"keyEncryption",
         N(.type = VT_ARR, .min_items = 1,
           .items = N(.type = VT_OBJ, .no_additional = true,
                      .required = STRS("rootKeyId", "derivationScheme", "algorithm", "encryptedKey",
                                       "initializationVector", "ephemeralPublicKey",
                                       "messageAuthenticationCode"),
                      .props = PROPS({"rootKeyId", STR},
                                     {"derivationScheme", STR_ENUM("dataFormats", "protocolContext",
                                                                   "protocolPath", "schemas")},
                                     {"derivedPublicKey", &S_public_jwk},
                                     {"algorithm", STR_ENUM("ECIES-ES256K")},
                                     {"encryptedKey", &S_b64u}, {"initializationVector", &S_b64u},
                                     {"ephemeralPublicKey", &S_public_jwk},
                                     {"messageAuthenticationCode", &S_b64u})))})};

static const node_t S_records_write_descriptor = {
    .type = VT_OBJ, .no_additional = true,
    .required = STRS("interface", "method", "dataCid", "dataSize", "dateCreated", "messageTimestamp",
                     "dataFormat"),
    .props = PROPS(
        {"interface", STR_ENUM("Records")}, {"method", STR_ENUM("Write")}, {"recipient", &S_did},
        {"protocol", STR},
        {"protocolPath", N(.type = VT_STR, .pattern = match_protocol_path,
                           .pattern_text = "^[a-zA-Z]+(/[a-zA-Z]+)*$")},
        {"schema", STR},
        {"tags", N(.type = VT_OBJ, .min_props = 1, .max_props = 10,
                   .additional = N(.one_of = NODES(STR, NUM, BOOL,
                                                   N(.type = VT_ARR, .min_items = 1,
                                                     .max_items = 10, .items = STR),
                                                   N(.type = VT_ARR, .min_items = 1,
                                                     .max_items = 10, .items = NUM))))},
        {"parentId", STR}, {"dataCid", STR}, {"dataSize", NUM}, {"dateCreated", &S_date_time},
        {"messageTimestamp", &S_date_time}, {"published", BOOL}, {"datePublished", &S_date_time},
        {"dataFormat", STR}),
    .deps = (const dep_t[]){{"parentId", STRS("protocol"), NULL}, {NULL, NULL, NULL}},
    /* published / datePublished */
    .all_of = NODES(N(.any_of = NODES(
        N(.props = PROPS({"published", N(.type = VT_BOOL, .enum_bool = 1)}),
          .required = STRS("published", "datePublished")),
        N(.props = PROPS({"published", N(.type = VT_BOOL, .enum_bool = 2)}),
          .not_ = REQ("datePublished")),
        N(.all_of = NODES(N(.not_ = REQ("published")), N(.not_ = REQ("datePublished")))))))};

static const node_t S_records_write_unidentified = {
    .type = VT_OBJ, .required = STRS("descriptor"),
    .props = PROPS({"recordId", STR},
                   {"contextId", N(.type = VT_STR, .pattern = match_context_id,
                                   .pattern_text = "^[a-zA-Z0-9]+(/[a-zA-Z0-9]+)*$")},
                   {"attestation", &S_general_jws}, {"authorization", &S_authorization_owner},
                   {"encryption", &S_encryption}, {"descriptor", &S_records_write_descriptor}),
    /* contextId present iff protocol and protocolPath */
    .any_of = NODES(
        N(.props = PROPS({"descriptor",
                          N(.type = VT_OBJ, .required = STRS("protocol", "protocolPath"))}),
          .required = STRS("contextId")),
        N(.all_of = NODES(
              N(.not_ = REQ("contextId")),
              N(.props = PROPS({"descriptor", N(.type = VT_OBJ, .not_ = REQ("protocol"))})),
              N(.props = PROPS({"descriptor", N(.type = VT_OBJ, .not_ = REQ("protocolPath"))}))))) };

static const node_t S_records_write = {
    .ref = &S_records_write_unidentified, .no_unevaluated = true, .type = VT_OBJ,
    .required = STRS("recordId", "authorization")};

static const node_t S_records_write_data_encoded = {
    .ref = &S_records_write_unidentified, .no_unevaluated = true, .type = VT_OBJ,
    .required = STRS("recordId", "authorization", "encodedData"),
    .props = PROPS({"encodedData", STR})};

#define RANGE_DEPS                                                                        \
  (const dep_t[]) {                                                                       \
    {"gt", NULL, N(.not_ = REQ("gte"))}, {"gte", NULL, N(.not_ = REQ("gt"))},             \
        {"lt", NULL, N(.not_ = REQ("lte"))}, {"lte", NULL, N(.not_ = REQ("lt"))},         \
    {                                                                                     \
      NULL, NULL, NULL                                                                    \
    }                                                                                     \
  }

static const node_t S_number_range_filter = {
    .type = VT_OBJ, .min_props = 1, .no_additional = true,
    .props = PROPS({"gt", NUM}, {"gte", NUM}, {"lt", NUM}, {"lte", NUM}), .deps = RANGE_DEPS};

static const node_t S_string_range_filter = {
    .type = VT_OBJ, .min_props = 1, .no_additional = true,
    .props = PROPS({"gt", STR}, {"gte", STR}, {"lt", STR}, {"lte", STR}), .deps = RANGE_DEPS};

static const node_t S_pagination_cursor = {
    .type = VT_OBJ, .min_props = 1, .no_additional = true,
    .required = STRS("messageCid", "value"),
    .props = PROPS({"messageCid", STR},
                   {"value", N(.type = VT_STR | VT_NUM, .type_text = "string,number")})};

static const node_t S_date_range = {
    .type = VT_OBJ, .min_props = 1, .no_additional = true,
    .props = PROPS({"from", &S_date_time}, {"to", &S_date_time})};

static const node_t S_did_or_dids = {
    .one_of = NODES(&S_did, N(.type = VT_ARR, .items = &S_did))};

static const node_t S_records_filter = {
    .type = VT_OBJ, .min_props = 1, .no_additional = true,
    .props = PROPS(
        {"protocol", STR}, {"protocolPath", STR}, {"author", &S_did_or_dids}, {"attester", &S_did},
        {"recipient", &S_did_or_dids}, {"contextId", STR}, {"schema", STR},
        {"tags", N(.type = VT_OBJ, .min_props = 1,
                   .additional = N(.one_of = NODES(
                                       STR, NUM, BOOL,
                                       N(.type = VT_OBJ, .min_props = 1, .no_additional = true,
                                         .props = PROPS({"startsWith", STR})),
                                       &S_string_range_filter, &S_number_range_filter)))},
        {"recordId", STR}, {"parentId", STR}, {"published", BOOL}, {"dataFormat", STR},
        {"dataSize", &S_number_range_filter}, {"dataCid", STR}, {"dateCreated", &S_date_range},
        {"datePublished", &S_date_range}, {"dateUpdated", &S_date_range}),
    .deps = (const dep_t[]){
        {"datePublished", NULL,
         N(.one_of = NODES(N(.props = PROPS({"published", N(.enum_bool = 1)}),
                             .required = STRS("published")),
                           N(.not_ = REQ("published"))))},
        {NULL, NULL, NULL}}};

static const node_t S_messages_filter = {
    .type = VT_OBJ, .no_additional = true, .min_props = 1,
    .props = PROPS({"interface", STR_ENUM("Protocols", "Records")},
                   {"method", STR_ENUM("Configure", "Delete", "Write")}, {"protocol", STR},
                   {"messageTimestamp", &S_date_range})};

/* A message: {authorization?, descriptor} with its descriptor's fields. */
#define MESSAGE(auth, req, interface, method, ...)                                             \
  {                                                                                            \
    .type = VT_OBJ, .no_additional = true, .required = req,                                    \
    .props = PROPS({"authorization", auth},                                                    \
                   {"descriptor", N(.type = VT_OBJ, .no_additional = true, __VA_ARGS__)})     \
  }
#define IM(i, m) {"interface", STR_ENUM(i)}, {"method", STR_ENUM(m)}

static const node_t S_messages_query = MESSAGE(
    &S_authorization, STRS("authorization", "descriptor"), "Messages", "Query",
    .required = STRS("interface", "method", "messageTimestamp", "filters"),
    .props = PROPS(IM("Messages", "Query"), {"messageTimestamp", &S_date_time},
                   {"filters", N(.type = VT_ARR, .items = &S_messages_filter)},
                   {"cursor", &S_pagination_cursor}));

static const node_t S_messages_read = MESSAGE(
    &S_authorization, STRS("authorization", "descriptor"), "Messages", "Read",
    .required = STRS("interface", "method", "messageTimestamp"),
    .props = PROPS(IM("Messages", "Read"), {"messageTimestamp", &S_date_time},
                   {"messageCid", STR}));

static const node_t S_messages_subscribe = MESSAGE(
    &S_authorization, STRS("descriptor", "authorization"), "Messages", "Subscribe",
    .required = STRS("interface", "method", "messageTimestamp", "filters"),
    .props = PROPS(IM("Messages", "Subscribe"), {"messageTimestamp", STR},
                   {"filters", N(.type = VT_ARR, .items = &S_messages_filter)}));

static const node_t S_records_delete = MESSAGE(
    &S_authorization_delegated_grant, STRS("authorization", "descriptor"), "Records", "Delete",
    .required = STRS("interface", "method", "messageTimestamp", "recordId", "prune"),
    .props = PROPS(IM("Records", "Delete"), {"messageTimestamp", &S_date_time}, {"recordId", STR},
                   {"prune", BOOL}));

static const node_t S_records_query = MESSAGE(
    &S_authorization_delegated_grant, STRS("descriptor"), "Records", "Query",
    .required = STRS("interface", "method", "messageTimestamp", "filter"),
    .props = PROPS(IM("Records", "Query"), {"messageTimestamp", &S_date_time},
                   {"filter", &S_records_filter},
                   {"pagination",
                    N(.type = VT_OBJ, .no_additional = true,
                      .props = PROPS({"limit", N(.type = VT_NUM, .has_minimum = true, .minimum = 1)},
                                     {"cursor", &S_pagination_cursor}))},
                   {"dateSort", STR_ENUM("createdAscending", "createdDescending",
                                         "publishedAscending", "publishedDescending")}));

static const node_t S_records_read = MESSAGE(
    &S_authorization_delegated_grant, STRS("descriptor"), "Records", "Read",
    .required = STRS("interface", "method", "messageTimestamp", "filter"),
    .props = PROPS(IM("Records", "Read"), {"messageTimestamp", &S_date_time},
                   {"filter", &S_records_filter}));

static const node_t S_records_subscribe = MESSAGE(
    &S_authorization_delegated_grant, STRS("descriptor"), "Records", "Subscribe",
    .required = STRS("interface", "method", "messageTimestamp", "filter"),
    .props = PROPS(IM("Records", "Subscribe"), {"messageTimestamp", &S_date_time},
                   {"filter", &S_records_filter}));

/* protocol definitions (§9.1) */
static const node_t S_protocol_rule_set;

static const node_t S_tag_items = {
    .type = VT_OBJ, .props = PROPS({"type", N(.enums = STRS("string", "number", "integer"))})};

static const node_t S_protocol_tags = {
    .type = VT_OBJ, .min_props = 1,
    .props = PROPS({"$requiredTags", N(.type = VT_ARR, .items = STR)},
                   {"$allowUndefinedTags", BOOL}),
    .pattern_props = (const pattern_prop_t[]){
        {match_tag_name,
         N(.type = VT_OBJ, .no_additional = true,
           .props = PROPS({"type", N(.enums = STRS("string", "number", "integer", "boolean",
                                                   "array"))},
                          {"items", &S_tag_items}, {"contains", &S_tag_items}),
           .pattern_props = (const pattern_prop_t[]){{match_tag_keyword, &ALWAYS}, {NULL, NULL}})},
        {NULL, NULL}}};

static const node_t S_action_who = {
    .required = STRS("who", "can"), .no_additional = true,
    .props = PROPS({"who", STR_ENUM("anyone", "author", "recipient")}, {"of", STR},
                   {"can", N(.type = VT_ARR, .min_items = 1,
                             .items = STR_ENUM("co-delete", "co-prune", "co-update", "create",
                                               "delete", "prune", "read", "update"))})};

static const node_t S_action_role = {
    .required = STRS("role", "can"),
    .props = PROPS({"role", STR},
                   {"can", N(.type = VT_ARR, .min_items = 1,
                             .items = STR_ENUM("co-delete", "co-update", "create", "delete",
                                               "query", "subscribe", "read", "update"))})};

static const node_t S_actions = {
    .type = VT_ARR, .min_items = 1,
    .items = N(.type = VT_OBJ, .one_of = NODES(&S_action_who, &S_action_role))};

static const node_t S_protocol_rule_set = {
    .type = VT_OBJ, .no_additional = true,
    .props = PROPS(
        {"$encryption", N(.type = VT_OBJ, .no_additional = true,
                          .props = PROPS({"rootKeyId", STR}, {"publicKeyJwk", &S_public_jwk}),
                          .required = STRS("rootKeyId", "publicKeyJwk"))},
        {"$actions", &S_actions},
        {"$role", BOOL},
        {"$size", N(.type = VT_OBJ, .no_additional = true,
                    .props = PROPS({"min", N(.type = VT_NUM, .has_minimum = true, .minimum = 0)},
                                   {"max", N(.type = VT_NUM, .has_minimum = true, .minimum = 0)}))},
        {"$tags", &S_protocol_tags}),
    .pattern_props = (const pattern_prop_t[]){{match_not_dollar, &S_protocol_rule_set},
                                              {NULL, NULL}}};

static const node_t S_protocol_definition = {
    .type = VT_OBJ, .no_additional = true,
    .required = STRS("protocol", "published", "types", "structure"),
    .props = PROPS(
        {"protocol", STR}, {"published", BOOL},
        {"types", N(.type = VT_OBJ,
                    .pattern_props = (const pattern_prop_t[]){
                        {match_any,
                         N(.type = VT_OBJ, .no_additional = true,
                           .props = PROPS({"schema", STR},
                                          {"dataFormats",
                                           N(.type = VT_ARR, .min_items = 1, .items = STR)}))},
                        {NULL, NULL}})},
        {"structure", N(.type = VT_OBJ,
                        .pattern_props = (const pattern_prop_t[]){
                            {match_any, &S_protocol_rule_set}, {NULL, NULL}})})};

static const node_t S_protocols_configure = MESSAGE(
    &S_authorization_delegated_grant, STRS("authorization", "descriptor"), "Protocols",
    "Configure", .required = STRS("interface", "method", "messageTimestamp", "definition"),
    .props = PROPS(IM("Protocols", "Configure"), {"messageTimestamp", &S_date_time},
                   {"definition", &S_protocol_definition}));

static const node_t S_protocols_query = MESSAGE(
    &S_authorization, STRS("descriptor"), "Protocols", "Query",
    .required = STRS("interface", "method", "messageTimestamp"),
    .props = PROPS(IM("Protocols", "Query"), {"messageTimestamp", &S_date_time},
                   {"filter", N(.type = VT_OBJ, .min_props = 1, .no_additional = true,
                                .props = PROPS({"protocol", STR}, {"recipient", &S_did}))}));

/* permissions (§10) */
#define SCOPE(i, m)                                                                       \
  N(.type = VT_OBJ, .no_additional = true, .required = STRS("interface", "method"),       \
    .props = PROPS({"interface", CONST(i)}, {"method", CONST(m)}, {"protocol", STR}))
#define RECORDS_SCOPE(m)                                                                  \
  N(.type = VT_OBJ, .no_additional = true, .required = STRS("interface", "method"),       \
    .props = PROPS({"interface", CONST("Records")}, {"method", CONST(m)}, {"protocol", STR}, \
                   {"contextId", STR}, {"protocolPath", STR}))

static const node_t S_permission_scope = {
    .one_of = NODES(SCOPE("Messages", "Query"), SCOPE("Messages", "Read"),
                    SCOPE("Messages", "Subscribe"), SCOPE("Protocols", "Configure"),
                    SCOPE("Protocols", "Query"), RECORDS_SCOPE("Read"), RECORDS_SCOPE("Delete"),
                    RECORDS_SCOPE("Write"), RECORDS_SCOPE("Query"), RECORDS_SCOPE("Subscribe"))};

static const node_t S_permission_conditions = {
    .type = VT_OBJ, .no_additional = true,
    .props = PROPS({"publication", STR_ENUM("Required", "Prohibited")})};

static const node_t S_permission_grant_data = {
    .type = VT_OBJ, .no_additional = true, .required = STRS("dateExpires", "scope"),
    .props = PROPS({"description", STR}, {"dateExpires", &S_date_time}, {"requestId", STR},
                   {"delegated", BOOL}, {"scope", &S_permission_scope},
                   {"conditions", &S_permission_conditions})};

static const node_t S_permission_request_data = {
    .type = VT_OBJ, .no_additional = true, .required = STRS("delegated", "scope"),
    .props = PROPS({"description", STR}, {"delegated", BOOL}, {"scope", &S_permission_scope},
                   {"conditions", &S_permission_conditions})};

static const node_t S_permission_revocation_data = {
    .type = VT_OBJ, .no_additional = true, .props = PROPS({"description", STR})};

/* signature payloads (§4.2) */
static const node_t S_generic_signature_payload = {
    .type = VT_OBJ, .no_additional = true, .required = STRS("descriptorCid"),
    .props = PROPS({"descriptorCid", STR}, {"delegatedGrantId", STR}, {"permissionGrantId", STR},
                   {"protocolRole", STR})};

static const node_t S_records_write_signature_payload = {
    .type = VT_OBJ, .no_additional = true, .required = STRS("descriptorCid", "recordId"),
    .props = PROPS({"descriptorCid", STR}, {"recordId", STR}, {"contextId", STR},
                   {"attestationCid", STR}, {"encryptionCid", STR}, {"delegatedGrantId", STR},
                   {"permissionGrantId", STR}, {"protocolRole", STR})};

static const struct {
  const char *name;
  const node_t *node;
} schemas[DWN_SCHEMA_COUNT] = {
    [DWN_SCHEMA_AUTHORIZATION] = {"Authorization", &S_authorization},
    [DWN_SCHEMA_AUTHORIZATION_DELEGATED_GRANT] = {"AuthorizationDelegatedGrant",
                                                  &S_authorization_delegated_grant},
    [DWN_SCHEMA_AUTHORIZATION_OWNER] = {"AuthorizationOwner", &S_authorization_owner},
    [DWN_SCHEMA_RECORDS_DELETE] = {"RecordsDelete", &S_records_delete},
    [DWN_SCHEMA_RECORDS_QUERY] = {"RecordsQuery", &S_records_query},
    [DWN_SCHEMA_RECORDS_SUBSCRIBE] = {"RecordsSubscribe", &S_records_subscribe},
    [DWN_SCHEMA_RECORDS_WRITE] = {"RecordsWrite", &S_records_write},
    [DWN_SCHEMA_RECORDS_WRITE_DATA_ENCODED] = {"RecordsWriteDataEncoded",
                                               &S_records_write_data_encoded},
    [DWN_SCHEMA_RECORDS_WRITE_UNIDENTIFIED] = {"RecordsWriteUnidentified",
                                               &S_records_write_unidentified},
    [DWN_SCHEMA_DEFINITIONS] = {"Definitions", &S_object},
    [DWN_SCHEMA_GENERAL_JWK] = {"GeneralJwk", &S_general_jwk},
    [DWN_SCHEMA_GENERAL_JWS] = {"GeneralJws", &S_general_jws},
    [DWN_SCHEMA_JWK_VERIFICATION_METHOD] = {"JwkVerificationMethod", &S_jwk_verification_method},
    [DWN_SCHEMA_MESSAGES_FILTER] = {"MessagesFilter", &S_messages_filter},
    [DWN_SCHEMA_MESSAGES_QUERY] = {"MessagesQuery", &S_messages_query},
    [DWN_SCHEMA_MESSAGES_READ] = {"MessagesRead", &S_messages_read},
    [DWN_SCHEMA_MESSAGES_SUBSCRIBE] = {"MessagesSubscribe", &S_messages_subscribe},
    [DWN_SCHEMA_NUMBER_RANGE_FILTER] = {"NumberRangeFilter", &S_number_range_filter},
    [DWN_SCHEMA_PAGINATION_CURSOR] = {"PaginationCursor", &S_pagination_cursor},
    [DWN_SCHEMA_PERMISSION_GRANT_DATA] = {"PermissionGrantData", &S_permission_grant_data},
    [DWN_SCHEMA_PERMISSION_REQUEST_DATA] = {"PermissionRequestData", &S_permission_request_data},
    [DWN_SCHEMA_PERMISSION_REVOCATION_DATA] = {"PermissionRevocationData",
                                               &S_permission_revocation_data},
    [DWN_SCHEMA_PERMISSIONS_DEFINITIONS] = {"PermissionsDefinitions", &S_object},
    [DWN_SCHEMA_PERMISSIONS_SCOPES] = {"PermissionsScopes", &S_object},
    [DWN_SCHEMA_PROTOCOL_DEFINITION] = {"ProtocolDefinition", &S_protocol_definition},
    [DWN_SCHEMA_PROTOCOL_RULE_SET] = {"ProtocolRuleSet", &S_protocol_rule_set},
    [DWN_SCHEMA_PROTOCOLS_CONFIGURE] = {"ProtocolsConfigure", &S_protocols_configure},
    [DWN_SCHEMA_PROTOCOLS_QUERY] = {"ProtocolsQuery", &S_protocols_query},
    [DWN_SCHEMA_RECORDS_READ] = {"RecordsRead", &S_records_read},
    [DWN_SCHEMA_RECORDS_FILTER] = {"RecordsFilter", &S_records_filter},
    [DWN_SCHEMA_PUBLIC_JWK] = {"PublicJwk", &S_public_jwk},
    [DWN_SCHEMA_GENERIC_SIGNATURE_PAYLOAD] = {"GenericSignaturePayload",
                                              &S_generic_signature_payload},
    [DWN_SCHEMA_RECORDS_WRITE_SIGNATURE_PAYLOAD] = {"RecordsWriteSignaturePayload",
                                                    &S_records_write_signature_payload},
    [DWN_SCHEMA_STRING_RANGE_FILTER] = {"StringRangeFilter", &S_string_range_filter},
};

/* ---- entry points ---------------------------------------------------------- */

const char *dwn_validate_schema_name(dwn_schema_t schema) {
  assert(schema >= 0 && schema < DWN_SCHEMA_COUNT);
  return schemas[schema].name;
}

int dwn_validate_schema_lookup(const char *name, dwn_schema_t *schema) {
  for (int i = 0; i < DWN_SCHEMA_COUNT; i++)
    if (strcmp(schemas[i].name, name) == 0) {
      if (schema) *schema = (dwn_schema_t)i;
      return 0;
    }
  return -ENOENT;
}

static int run(const node_t *n, const char *root_name, const json_t *value, const char *root_path,
               dwn_status_t *st) {
  ctx_t *c = calloc(1, sizeof *c);
  if (!c) return -ENOMEM;
  snprintf(c->path, sizeof c->path, "%s", root_path);
  c->path_len = strlen(c->path);
  bool ok = validate(n, value, c);
  int rc = 0;
  if (c->oom) {
    rc = -ENOMEM;
  } else if (!ok) {
    assert(c->err_kind != ERR_NONE);
    const char *where = c->err_path[0] ? c->err_path : root_name;
    switch (c->err_kind) {
      case ERR_ADDITIONAL:
        rc = dwn_status_fail(st, 400, "SchemaValidatorAdditionalPropertyNotAllowed", "%s: %s: %s",
                             c->err_msg, where, c->err_key);
        break;
      case ERR_UNEVALUATED:
        rc = dwn_status_fail(st, 400, "SchemaValidatorUnevaluatedPropertyNotAllowed",
                             "%s: %s: %s", c->err_msg, where, c->err_key);
        break;
      default:
        rc = dwn_status_fail(st, 400, "SchemaValidatorFailure", "%s: %s", where, c->err_msg);
        break;
    }
  }
  free(c);
  return rc;
}

int dwn_validate_schema_at(dwn_schema_t schema, const json_t *value, const char *root_path,
                           dwn_status_t *st) {
  assert(schema >= 0 && schema < DWN_SCHEMA_COUNT && value && root_path);
  return run(schemas[schema].node, schemas[schema].name, value, root_path, st);
}

int dwn_validate_schema(dwn_schema_t schema, const json_t *value, dwn_status_t *st) {
  return dwn_validate_schema_at(schema, value, "", st);
}

/* JavaScript's Number.prototype.toString() for a finite double. */
static void js_number(double d, char *out, size_t out_size) {
  if (d == 0) {
    snprintf(out, out_size, "0");
    return;
  }
  char digits[32];
  int exponent = 0;
  for (int precision = 1; precision <= 17; precision++) {
    char buf[40];
    snprintf(buf, sizeof buf, "%.*e", precision - 1, d);
    if (strtod(buf, NULL) == d || precision == 17) {
      /* buf: [-]d[.ddd]e[+-]xx */
      size_t k = 0;
      for (const char *p = buf; *p && *p != 'e'; p++)
        if (is_digit((unsigned char)*p)) digits[k++] = *p;
      digits[k] = '\0';
      exponent = atoi(strchr(buf, 'e') + 1);
      break;
    }
  }
  size_t k = strlen(digits);
  while (k > 1 && digits[k - 1] == '0') digits[--k] = '\0';
  int n = exponent + 1; /* value = 0.digits * 10^n */
  const char *sign = d < 0 ? "-" : "";
  if ((int)k <= n && n <= 21) {
    snprintf(out, out_size, "%s%s%0*d", sign, digits, n - (int)k, 0);
    if (n == (int)k) snprintf(out, out_size, "%s%s", sign, digits);
  } else if (0 < n && n <= 21) {
    snprintf(out, out_size, "%s%.*s.%s", sign, n, digits, digits + n);
  } else if (-6 < n && n <= 0) {
    snprintf(out, out_size, "%s0.%0*d%s", sign, -n, 0, digits);
    if (n == 0) snprintf(out, out_size, "%s0.%s", sign, digits);
  } else {
    int e = n - 1;
    if (k == 1)
      snprintf(out, out_size, "%s%se%c%d", sign, digits, e < 0 ? '-' : '+', abs(e));
    else
      snprintf(out, out_size, "%s%c.%se%c%d", sign, digits[0], digits + 1, e < 0 ? '-' : '+',
               abs(e));
  }
}

static void js_string_into(const json_t *v, char *out, size_t out_size, int depth) {
  size_t used = strlen(out);
  if (used + 1 >= out_size) return;
  char *at = out + used;
  size_t room = out_size - used;
  switch (json_typeof(v)) {
    case JSON_STRING: snprintf(at, room, "%s", json_string_value(v)); break;
    case JSON_INTEGER: /* beyond 2^53 JavaScript shows the nearest double */
      if (json_integer_value(v) > (1LL << 53) || json_integer_value(v) < -(1LL << 53))
        js_number((double)json_integer_value(v), at, room);
      else
        snprintf(at, room, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
      break;
    case JSON_REAL: js_number(json_real_value(v), at, room); break;
    case JSON_TRUE: snprintf(at, room, "true"); break;
    case JSON_FALSE: snprintf(at, room, "false"); break;
    case JSON_NULL: snprintf(at, room, "null"); break;
    case JSON_OBJECT: snprintf(at, room, "[object Object]"); break;
    case JSON_ARRAY:
      /* Array.prototype.join(","): null elements are empty; cycles cannot occur */
      if (depth >= 32) break;
      for (size_t i = 0; i < json_array_size(v); i++) {
        if (i) {
          used = strlen(out);
          if (used + 1 < out_size) out[used] = ',', out[used + 1] = '\0';
        }
        const json_t *e = json_array_get(v, i);
        if (!json_is_null(e)) js_string_into(e, out, out_size, depth + 1);
      }
      break;
  }
}

char *dwn_validate_js_string(const json_t *v, char *out, size_t out_size) {
  assert(out && out_size > 0);
  out[0] = '\0';
  js_string_into(v, out, out_size, 0);
  return out;
}

static double js_to_number(const json_t *v) {
  if (json_is_number(v)) return json_number_value(v);
  return json_is_true(v) ? 1 : 0; /* false, null */
}

/* §1 step 2 reads rawMessage?.descriptor?.interface: only an object's own
 * property counts. */
static const json_t *descriptor_field(const json_t *msg, const char *name) {
  const json_t *d = json_is_object(msg) ? json_object_get(msg, "descriptor") : NULL;
  return json_is_object(d) ? json_object_get(d, name) : NULL;
}

int dwn_validate_message_schema(const json_t *msg, dwn_schema_t *schema, dwn_status_t *st) {
  const json_t *interface = descriptor_field(msg, "interface");
  const json_t *method = descriptor_field(msg, "method");
  char a[DWN_DETAIL_BYTES_MAX], b[DWN_DETAIL_BYTES_MAX]; /* details are cut there anyway */
  if (!interface || !method) {
    return dwn_status_fail(st, 400, NULL,
                           "Both interface and method must be present, interface: %s, method: %s",
                           interface ? dwn_validate_js_string(interface, a, sizeof a) : "undefined",
                           method ? dwn_validate_js_string(method, b, sizeof b) : "undefined");
  }
  char name[2 * DWN_DETAIL_BYTES_MAX];
  /* JS `+`: string concatenation when either side becomes a string (arrays
   * and objects do), else numeric addition (true + false is 1) */
  bool numeric = !json_is_string(interface) && !json_is_array(interface) &&
                 !json_is_object(interface) && !json_is_string(method) &&
                 !json_is_array(method) && !json_is_object(method);
  if (numeric)
    js_number(js_to_number(interface) + js_to_number(method), name, sizeof name);
  else
    snprintf(name, sizeof name, "%s%s", dwn_validate_js_string(interface, a, sizeof a),
             dwn_validate_js_string(method, b, sizeof b));
  dwn_schema_t found;
  if (dwn_validate_schema_lookup(name, &found) != 0)
    return dwn_status_fail(st, 400, "SchemaValidatorSchemaNotFound", "schema for %s not found.",
                           name);
  if (schema) *schema = found;
  return dwn_validate_schema(found, msg, st);
}

int dwn_validate_message(const json_t *msg, dwn_status_t *st) {
  return dwn_validate_message_schema(msg, NULL, st);
}

int dwn_validate_protocol_definition(const json_t *def, dwn_status_t *st) {
  return dwn_validate_schema(DWN_SCHEMA_PROTOCOL_DEFINITION, def, st);
}
int dwn_validate_permission_grant_data(const json_t *data, dwn_status_t *st) {
  return dwn_validate_schema(DWN_SCHEMA_PERMISSION_GRANT_DATA, data, st);
}
int dwn_validate_permission_request_data(const json_t *data, dwn_status_t *st) {
  return dwn_validate_schema(DWN_SCHEMA_PERMISSION_REQUEST_DATA, data, st);
}
int dwn_validate_permission_revocation_data(const json_t *data, dwn_status_t *st) {
  return dwn_validate_schema(DWN_SCHEMA_PERMISSION_REVOCATION_DATA, data, st);
}
int dwn_validate_generic_signature_payload(const json_t *payload, dwn_status_t *st) {
  return dwn_validate_schema(DWN_SCHEMA_GENERIC_SIGNATURE_PAYLOAD, payload, st);
}
int dwn_validate_records_write_signature_payload(const json_t *payload, dwn_status_t *st) {
  return dwn_validate_schema(DWN_SCHEMA_RECORDS_WRITE_SIGNATURE_PAYLOAD, payload, st);
}
int dwn_validate_jwk_verification_method(const json_t *method, dwn_status_t *st) {
  return dwn_validate_schema(DWN_SCHEMA_JWK_VERIFICATION_METHOD, method, st);
}
int dwn_validate_records_write_data_encoded(const json_t *grant, dwn_status_t *st) {
  return dwn_validate_schema(DWN_SCHEMA_RECORDS_WRITE_DATA_ENCODED, grant, st);
}
int dwn_validate_encryption(const json_t *encryption, dwn_status_t *st) {
  assert(encryption);
  return run(&S_encryption, "RecordsWrite", encryption, "/encryption", st);
}
