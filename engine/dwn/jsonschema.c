/* dwn/jsonschema: see jsonschema.h.  The document is compiled into a tree of
 * nodes (one per subschema, allocated from one array); $ref nodes point at
 * the compiled $defs entry, so cycles are possible and evaluation depth bounds
 * them. */
#include "dwn/jsonschema.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

enum {
  T_NULL = 1, T_BOOLEAN = 2, T_OBJECT = 4, T_ARRAY = 8, T_NUMBER = 16, T_STRING = 32, T_INTEGER = 64,
};
enum fmt { FMT_NONE, FMT_DATE_TIME, FMT_URI };
enum { LIST_ALL, LIST_ANY, LIST_ONE, LIST_PREFIX, LISTS };

#define SCHEMA_PATH_BYTES 256
#define INSTANCE_PATH_BYTES 200

typedef struct node node_t;

typedef struct prop {
  const char *name;
  node_t *schema;
} prop_t;

struct node {
  bool is_bool, bool_value;
  unsigned types;              /* T_* mask; 0 = any */
  const json_t *enum_values;   /* array, borrowed */
  const json_t *const_value;   /* borrowed; NULL none */
  prop_t *props;
  size_t props_len;
  const char **required;
  size_t required_len;
  node_t *additional;          /* NULL: any */
  node_t *items;
  node_t **lists[LISTS];
  size_t lists_len[LISTS];
  node_t *not_schema;
  node_t *ref;                 /* resolved $ref */
  const char *ref_name;        /* until resolved */
  double min_items, max_items, min_length, max_length; /* -1 unset */
  bool unique_items;
  regex_t *pattern;
  const char *pattern_text;
  enum fmt format;
  bool has_min, has_max, has_xmin, has_xmax, has_multiple;
  double minimum, maximum, xminimum, xmaximum, multiple;
};

typedef struct def {
  const char *name;
  node_t *schema;
} def_t;

struct jsonschema {
  json_t *document;
  node_t *nodes;
  size_t nodes_len;
  def_t *defs;
  size_t defs_len;
  node_t *root;
};

/* ---- compile ------------------------------------------------------------ */

typedef struct compiler {
  jsonschema_t *s;
  char path[SCHEMA_PATH_BYTES];
} compiler_t;

static int cfail(compiler_t *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cfail(compiler_t *c, int code, const char *fmt, ...) {
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return err_set(code, "JSON Schema %s: %s", c->path[0] ? c->path : "(root)", what);
}

static size_t path_push(compiler_t *c, const char *a, const char *b) {
  size_t len = strlen(c->path);
  snprintf(c->path + len, sizeof c->path - len, b ? "/%s/%s" : "/%s", a, b);
  return len;
}

static bool is_nonneg_int(const json_t *v) {
  if (!json_is_number(v)) return false;
  double x = json_number_value(v);
  return isfinite(x) && x >= 0 && floor(x) == x && x <= 9007199254740992.0;
}

static int compile_node(compiler_t *c, const json_t *v, unsigned depth, node_t **out);

static int compile_sub(compiler_t *c, const json_t *v, unsigned depth, const char *a, const char *b, node_t **out) {
  size_t len = path_push(c, a, b);
  int rc = compile_node(c, v, depth + 1, out);
  if (!rc) c->path[len] = '\0';
  return rc;
}

static int compile_list(compiler_t *c, node_t *n, int which, const char *key, const json_t *v, unsigned depth) {
  if (!json_is_array(v) || json_array_size(v) == 0) return cfail(c, -EINVAL, "%s must be a non-empty array", key);
  size_t count = json_array_size(v);
  if (count > JSONSCHEMA_NODES_MAX) return cfail(c, -E2BIG, "%s has too many schemas", key);
  if (!(n->lists[which] = calloc(count, sizeof *n->lists[which]))) return -ENOMEM;
  n->lists_len[which] = count;
  for (size_t i = 0; i < count; i++) {
    char index[24];
    snprintf(index, sizeof index, "%zu", i);
    int rc = compile_sub(c, json_array_get(v, i), depth, key, index, &n->lists[which][i]);
    if (rc) return rc;
  }
  return 0;
}

static int type_bit(const char *name) {
  static const char *const names[] = {"null", "boolean", "object", "array", "number", "string", "integer"};
  for (int i = 0; i < 7; i++)
    if (strcmp(name, names[i]) == 0) return 1 << i;
  return 0;
}

/* The ECMA pattern as POSIX ERE text (see the header for what is accepted).
 * Also bounds what regcomp will build: glibc expands x+ and x{n,m} by copying
 * x's tree, so nested counted repetitions grow multiplicatively.  The cost
 * model counts atoms times the copies their enclosing quantifiers make; a
 * pattern over JSONSCHEMA_PATTERN_COST_MAX is refused. */
typedef struct pattern_frame {
  double total; /* cost of this group so far */
  double last;  /* cost of the last atom (0: nothing a quantifier may follow) */
  bool quantified;
} pattern_frame_t;

static int pattern_translate(compiler_t *c, const char *src, char *out, size_t out_bytes) {
  size_t o = 0, depth = 0;
  bool in_class = false;
  pattern_frame_t stack[JSONSCHEMA_PATTERN_BYTES_MAX + 1] = {{0}};
  pattern_frame_t *f = &stack[0];
#define EMIT(str)                                                            \
  do {                                                                       \
    size_t l_ = strlen(str);                                                 \
    if (o + l_ >= out_bytes) return cfail(c, -E2BIG, "pattern too long");    \
    memcpy(out + o, str, l_);                                                \
    o += l_;                                                                 \
  } while (0)
#define ATOM(cost) (f->last = (cost), f->total += f->last, f->quantified = false)
  for (const char *p = src; *p; p++) {
    char one[2] = {*p, 0};
    if (in_class) {
      if (*p == '\\') return cfail(c, -EINVAL, "pattern: escapes inside [...] are not supported");
      if (*p == '[' && p[1] && strchr(":=.", p[1])) return cfail(c, -EINVAL, "pattern: [: [= [. inside [...]");
      if (*p == ']' && !(p[-1] == '[' || (p[-1] == '^' && p[-2] == '['))) {
        in_class = false;
        ATOM(1);
      }
      EMIT(one);
      continue;
    }
    if (*p == '\\') {
      char e = p[1];
      if (e == 'd') EMIT("[0-9]");
      else if (e == 'D') EMIT("[^0-9]");
      else if (e == 'w' || e == 'W' || e == 's' || e == 'S') {
        char esc[3] = {'\\', e, 0};
        EMIT(esc);
      } else if (e && strchr("^$\\.*+?()[]{}|/-", e)) {
        char esc[3] = {'\\', e, 0};
        if (e == '/' || e == '-') esc[0] = e, esc[1] = 0;
        EMIT(esc);
      } else {
        return cfail(c, -EINVAL, "pattern: escape \\%c is not supported", e ? e : ' ');
      }
      ATOM(1);
      p++;
      continue;
    }
    double copies = 0;
    switch (*p) {
      case '(':
        if (p[1] == '?') return cfail(c, -EINVAL, "pattern: (? groups are not supported");
        assert(depth < JSONSCHEMA_PATTERN_BYTES_MAX);
        f = &stack[++depth];
        *f = (pattern_frame_t){0};
        break;
      case ')': {
        if (depth == 0) return cfail(c, -EINVAL, "pattern: unmatched )");
        double cost = f->total > 1 ? f->total : 1;
        f = &stack[--depth];
        ATOM(cost);
        break;
      }
      case '|':
      case '^':
      case '$':
        f->last = 0;
        break;
      case '[':
        in_class = true;
        break;
      case '*':
      case '?':
        copies = 1;
        break;
      case '+':
        copies = 2;
        break;
      case '{': {
        char *end;
        unsigned long n = strtoul(p + 1, &end, 10), m = n;
        if (end == p + 1 || !(*end == '}' || *end == ',')) return cfail(c, -EINVAL, "pattern: { is not a {n,m} quantifier");
        if (*end == ',') {
          const char *mstart = end + 1;
          m = *mstart == '}' ? n + 1 : strtoul(mstart, &end, 10);
          if (*mstart != '}' && (end == mstart || *end != '}')) return cfail(c, -EINVAL, "pattern: { is not a {n,m} quantifier");
          if (*mstart == '}') end = (char *)mstart;
        }
        if (n > JSONSCHEMA_PATTERN_COST_MAX || m > JSONSCHEMA_PATTERN_COST_MAX || m < n)
          return cfail(c, -EINVAL, "pattern: repetition {%lu,%lu} out of order or over %d", n, m, JSONSCHEMA_PATTERN_COST_MAX);
        copies = m > 1 ? (double)m : 1;
        size_t len = (size_t)(end - p) + 1;
        if (o + len >= out_bytes) return cfail(c, -E2BIG, "pattern too long");
        memcpy(out + o, p, len);
        o += len;
        p = end;
        break;
      }
      default:
        ATOM(1);
    }
    if (copies > 0) {
      if (f->quantified && *p == '?') return cfail(c, -EINVAL, "pattern: lazy quantifiers are not supported");
      if (f->last == 0 || f->quantified) return cfail(c, -EINVAL, "pattern: nothing to repeat before '%c'", one[0]);
      f->total += f->last * (copies - 1);
      f->last *= copies;
      f->quantified = true;
      if (f->total > JSONSCHEMA_PATTERN_COST_MAX)
        return cfail(c, -E2BIG, "pattern: repetitions expand beyond %d atoms", JSONSCHEMA_PATTERN_COST_MAX);
      if (one[0] == '{') continue; /* emitted above */
    }
    EMIT(one);
  }
#undef ATOM
#undef EMIT
  if (in_class) return cfail(c, -EINVAL, "pattern: unterminated [");
  if (depth) return cfail(c, -EINVAL, "pattern: unmatched (");
  out[o] = '\0';
  return 0;
}

static int compile_pattern(compiler_t *c, node_t *n, const json_t *v) {
  if (!json_is_string(v)) return cfail(c, -EINVAL, "pattern must be a string");
  const char *src = json_string_value(v);
  if (json_string_length(v) > JSONSCHEMA_PATTERN_BYTES_MAX || strlen(src) != json_string_length(v))
    return cfail(c, -E2BIG, "pattern longer than %d bytes or with NUL", JSONSCHEMA_PATTERN_BYTES_MAX);
  char ere[JSONSCHEMA_PATTERN_BYTES_MAX * 6 + 1];
  int rc = pattern_translate(c, src, ere, sizeof ere);
  if (rc) return rc;
  if (!(n->pattern = calloc(1, sizeof *n->pattern))) return -ENOMEM;
  int prc = regcomp(n->pattern, ere, REG_EXTENDED | REG_NOSUB);
  if (prc) {
    char why[128];
    regerror(prc, n->pattern, why, sizeof why);
    free(n->pattern);
    n->pattern = NULL;
    return cfail(c, -EINVAL, "pattern: %s", why);
  }
  n->pattern_text = src;
  return 0;
}

static int compile_number(compiler_t *c, const char *key, const json_t *v, bool *has, double *out) {
  if (!json_is_number(v) || !isfinite(json_number_value(v))) return cfail(c, -EINVAL, "%s must be a number", key);
  *has = true;
  *out = json_number_value(v);
  return 0;
}

static int compile_count(compiler_t *c, const char *key, const json_t *v, double *out) {
  if (!is_nonneg_int(v)) return cfail(c, -EINVAL, "%s must be a non-negative integer", key);
  *out = json_number_value(v);
  return 0;
}

static bool annotation(const char *key) {
  static const char *const names[] = {"$comment", "title",    "description", "default",
                                      "examples", "deprecated", "readOnly",  "writeOnly"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(key, names[i]) == 0) return true;
  return false;
}

static int prop_order(const void *a, const void *b) {
  return strcmp(((const prop_t *)a)->name, ((const prop_t *)b)->name);
}

static int compile_keyword(compiler_t *c, node_t *n, const char *key, const json_t *v, unsigned depth) {
  if (strcmp(key, "type") == 0) {
    if (json_is_string(v)) {
      if (!(n->types = (unsigned)type_bit(json_string_value(v))))
        return cfail(c, -EINVAL, "unknown type '%s'", json_string_value(v));
      return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0) return cfail(c, -EINVAL, "type must be a string or array");
    size_t i;
    json_t *t;
    json_array_foreach(v, i, t) {
      int bit = json_is_string(t) ? type_bit(json_string_value(t)) : 0;
      if (!bit || (n->types & (unsigned)bit)) return cfail(c, -EINVAL, "type[%zu] unknown or repeated", i);
      n->types |= (unsigned)bit;
    }
    return 0;
  }
  if (strcmp(key, "enum") == 0) {
    if (!json_is_array(v)) return cfail(c, -EINVAL, "enum must be an array");
    n->enum_values = v;
    return 0;
  }
  if (strcmp(key, "const") == 0) return (n->const_value = v), 0;
  if (strcmp(key, "properties") == 0) {
    if (!json_is_object(v)) return cfail(c, -EINVAL, "properties must be an object");
    size_t count = json_object_size(v);
    if (count > JSONSCHEMA_NODES_MAX) return cfail(c, -E2BIG, "too many properties");
    if (count && !(n->props = calloc(count, sizeof *n->props))) return -ENOMEM;
    const char *name;
    json_t *sub;
    json_object_foreach((json_t *)v, name, sub) {
      prop_t *p = &n->props[n->props_len++];
      p->name = name;
      int rc = compile_sub(c, sub, depth, "properties", name, &p->schema);
      if (rc) return rc;
    }
    if (n->props_len) qsort(n->props, n->props_len, sizeof *n->props, prop_order); /* for bsearch */
    return 0;
  }
  if (strcmp(key, "required") == 0) {
    if (!json_is_array(v)) return cfail(c, -EINVAL, "required must be an array");
    size_t count = json_array_size(v);
    if (count && !(n->required = calloc(count, sizeof *n->required))) return -ENOMEM;
    size_t i;
    json_t *name;
    json_array_foreach(v, i, name) {
      if (!json_is_string(name)) return cfail(c, -EINVAL, "required[%zu] must be a string", i);
      n->required[n->required_len++] = json_string_value(name);
    }
    return 0;
  }
  if (strcmp(key, "additionalProperties") == 0) return compile_sub(c, v, depth, key, NULL, &n->additional);
  if (strcmp(key, "items") == 0) {
    if (json_is_array(v)) return cfail(c, -EINVAL, "items must be a schema (use prefixItems for tuples)");
    return compile_sub(c, v, depth, key, NULL, &n->items);
  }
  if (strcmp(key, "not") == 0) return compile_sub(c, v, depth, key, NULL, &n->not_schema);
  if (strcmp(key, "allOf") == 0) return compile_list(c, n, LIST_ALL, key, v, depth);
  if (strcmp(key, "anyOf") == 0) return compile_list(c, n, LIST_ANY, key, v, depth);
  if (strcmp(key, "oneOf") == 0) return compile_list(c, n, LIST_ONE, key, v, depth);
  if (strcmp(key, "prefixItems") == 0) return compile_list(c, n, LIST_PREFIX, key, v, depth);
  if (strcmp(key, "minItems") == 0) return compile_count(c, key, v, &n->min_items);
  if (strcmp(key, "maxItems") == 0) return compile_count(c, key, v, &n->max_items);
  if (strcmp(key, "minLength") == 0) return compile_count(c, key, v, &n->min_length);
  if (strcmp(key, "maxLength") == 0) return compile_count(c, key, v, &n->max_length);
  if (strcmp(key, "uniqueItems") == 0) {
    if (!json_is_boolean(v)) return cfail(c, -EINVAL, "uniqueItems must be a boolean");
    n->unique_items = json_is_true(v);
    return 0;
  }
  if (strcmp(key, "pattern") == 0) return compile_pattern(c, n, v);
  if (strcmp(key, "format") == 0) {
    const char *f = json_string_value(v);
    if (f && strcmp(f, "date-time") == 0) n->format = FMT_DATE_TIME;
    else if (f && strcmp(f, "uri") == 0) n->format = FMT_URI;
    else return cfail(c, -EINVAL, "format '%s' is not supported (date-time, uri)", f ? f : "?");
    return 0;
  }
  if (strcmp(key, "minimum") == 0) return compile_number(c, key, v, &n->has_min, &n->minimum);
  if (strcmp(key, "maximum") == 0) return compile_number(c, key, v, &n->has_max, &n->maximum);
  if (strcmp(key, "exclusiveMinimum") == 0) return compile_number(c, key, v, &n->has_xmin, &n->xminimum);
  if (strcmp(key, "exclusiveMaximum") == 0) return compile_number(c, key, v, &n->has_xmax, &n->xmaximum);
  if (strcmp(key, "multipleOf") == 0) {
    int rc = compile_number(c, key, v, &n->has_multiple, &n->multiple);
    if (!rc && n->multiple <= 0) rc = cfail(c, -EINVAL, "multipleOf must be > 0");
    return rc;
  }
  if (strcmp(key, "$ref") == 0) {
    const char *ref = json_string_value(v);
    if (!ref || strncmp(ref, "#/$defs/", 8) != 0 || !ref[8] || strchr(ref + 8, '/') || strchr(ref + 8, '~') ||
        strchr(ref + 8, '%'))
      return cfail(c, -EINVAL, "$ref must be \"#/$defs/NAME\"");
    n->ref_name = ref + 8;
    return 0;
  }
  if (strcmp(key, "$schema") == 0 || strcmp(key, "$id") == 0 || strcmp(key, "$defs") == 0) {
    if (depth != 0) return cfail(c, -EINVAL, "%s only at the root", key);
    if (strcmp(key, "$schema") == 0 && (!json_is_string(v) || strcmp(json_string_value(v), JSONSCHEMA_DRAFT_URI) != 0))
      return cfail(c, -EINVAL, "$schema must be " JSONSCHEMA_DRAFT_URI);
    if (strcmp(key, "$id") == 0 && !json_is_string(v)) return cfail(c, -EINVAL, "$id must be a string");
    return 0; /* $defs compiled by jsonschema_compile */
  }
  if (annotation(key)) return 0;
  return cfail(c, -EINVAL, "unknown keyword '%s'", key);
}

static int compile_node(compiler_t *c, const json_t *v, unsigned depth, node_t **out) {
  jsonschema_t *s = c->s;
  if (depth > JSONSCHEMA_DEPTH_MAX) return cfail(c, -E2BIG, "nested deeper than %d", JSONSCHEMA_DEPTH_MAX);
  if (s->nodes_len >= JSONSCHEMA_NODES_MAX) return cfail(c, -E2BIG, "more than %d subschemas", JSONSCHEMA_NODES_MAX);
  if (!json_is_object(v) && !json_is_boolean(v)) return cfail(c, -EINVAL, "a schema must be an object or a boolean");
  node_t *n = &s->nodes[s->nodes_len++];
  n->min_items = n->max_items = n->min_length = n->max_length = -1;
  *out = n;
  if (json_is_boolean(v)) {
    n->is_bool = true;
    n->bool_value = json_is_true(v);
    return 0;
  }
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)v, key, value) {
    int rc = compile_keyword(c, n, key, value, depth);
    if (rc) return rc;
  }
  return 0;
}

void jsonschema_free(jsonschema_t *s) {
  if (!s) return;
  for (size_t i = 0; s->nodes && i < s->nodes_len; i++) {
    node_t *n = &s->nodes[i];
    free(n->props);
    free(n->required);
    for (int l = 0; l < LISTS; l++) free(n->lists[l]);
    if (n->pattern) regfree(n->pattern);
    free(n->pattern);
  }
  free(s->nodes);
  free(s->defs);
  json_decref(s->document);
  free(s);
}

int jsonschema_compile(const json_t *document, jsonschema_t **out) {
  assert(document && out);
  *out = NULL;
  jsonschema_t *s = calloc(1, sizeof *s);
  if (!s) return -ENOMEM;
  s->document = json_incref((json_t *)document);
  compiler_t c = {.s = s};
  int rc = 0;
  if (!(s->nodes = calloc(JSONSCHEMA_NODES_MAX, sizeof *s->nodes))) rc = -ENOMEM;
  const json_t *defs = json_is_object(document) ? json_object_get(document, "$defs") : NULL;
  if (!rc && defs) {
    size_t count = json_object_size(defs);
    if (!json_is_object(defs)) rc = cfail(&c, -EINVAL, "$defs must be an object");
    else if (count > JSONSCHEMA_NODES_MAX) rc = cfail(&c, -E2BIG, "too many $defs");
    else if (count && !(s->defs = calloc(count, sizeof *s->defs))) rc = -ENOMEM;
    const char *name;
    json_t *sub;
    if (!rc) json_object_foreach((json_t *)defs, name, sub) {
        def_t *d = &s->defs[s->defs_len++];
        d->name = name;
        if ((rc = compile_sub(&c, sub, 0, "$defs", name, &d->schema))) break;
      }
  }
  if (!rc) rc = compile_node(&c, document, 0, &s->root);
  for (size_t i = 0; !rc && i < s->nodes_len; i++) {
    node_t *n = &s->nodes[i];
    if (!n->ref_name) continue;
    for (size_t j = 0; j < s->defs_len && !n->ref; j++)
      if (strcmp(s->defs[j].name, n->ref_name) == 0) n->ref = s->defs[j].schema;
    if (!n->ref) rc = err_set(-EINVAL, "JSON Schema: $ref to an undefined $defs entry '%s'", n->ref_name);
  }
  if (rc) {
    jsonschema_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

/* ---- validate ----------------------------------------------------------- */

typedef struct eval {
  char path[INSTANCE_PATH_BYTES];
  char *detail;        /* NULL: quiet (inside anyOf/oneOf/not) */
  size_t detail_bytes;
  bool too_deep;       /* the depth bound was hit: the instance fails, whatever anyOf/not say */
  char deep_path[INSTANCE_PATH_BYTES];
} eval_t;

static int efail(eval_t *e, const char *keyword, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int efail(eval_t *e, const char *keyword, const char *fmt, ...) {
  if (!e->detail) return 1;
  char what[JSONSCHEMA_DETAIL_BYTES_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  snprintf(e->detail, e->detail_bytes, "%s: %s: %s", e->path[0] ? e->path : "(root)", keyword, what);
  return 1;
}

/* Appends "/" + the escaped token to the path; returns the old length. */
static size_t epath_push(eval_t *e, const char *token, size_t index, bool is_index) {
  size_t len = strlen(e->path), o = len;
  char num[24];
  if (is_index) snprintf(num, sizeof num, "%zu", index), token = num;
  if (o + 1 < sizeof e->path) e->path[o++] = '/';
  for (const char *p = token; *p && o + 3 < sizeof e->path; p++) {
    if (*p == '~' || *p == '/') {
      e->path[o++] = '~';
      e->path[o++] = *p == '~' ? '0' : '1';
    } else {
      e->path[o++] = *p;
    }
  }
  e->path[o] = '\0';
  return len;
}

static bool js_equal(const json_t *a, const json_t *b, unsigned depth) {
  if (depth > JSONSCHEMA_EVAL_DEPTH_MAX) return false;
  if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
  if (json_typeof(a) != json_typeof(b)) return false;
  switch (json_typeof(a)) {
    case JSON_STRING:
      return json_string_length(a) == json_string_length(b) &&
             memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY: {
      if (json_array_size(a) != json_array_size(b)) return false;
      for (size_t i = 0; i < json_array_size(a); i++)
        if (!js_equal(json_array_get(a, i), json_array_get(b, i), depth + 1)) return false;
      return true;
    }
    case JSON_OBJECT: {
      if (json_object_size(a) != json_object_size(b)) return false;
      const char *k;
      json_t *va;
      json_object_foreach((json_t *)a, k, va) {
        const json_t *vb = json_object_get(b, k);
        if (!vb || !js_equal(va, vb, depth + 1)) return false;
      }
      return true;
    }
    default:
      return true; /* true, false, null: same type */
  }
}

static unsigned type_of(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_NULL: return T_NULL;
    case JSON_TRUE:
    case JSON_FALSE: return T_BOOLEAN;
    case JSON_OBJECT: return T_OBJECT;
    case JSON_ARRAY: return T_ARRAY;
    case JSON_STRING: return T_STRING;
    default: {
      double x = json_number_value(v);
      return T_NUMBER | (isfinite(x) && floor(x) == x ? T_INTEGER : 0);
    }
  }
}

static size_t utf8_chars(const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) n += ((uint8_t)s[i] & 0xC0) != 0x80;
  return n;
}

static bool digits(const char *s, int n) {
  for (int i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

static int num(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
  return v;
}

/* RFC 3339 date-time. */
static bool is_date_time(const char *s, size_t len) {
  if (len < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2)) return false;
  if (s[10] != 'T' && s[10] != 't') return false;
  if (!digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2)) return false;
  int year = num(s, 4), month = num(s + 5, 2), day = num(s + 8, 2);
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1) return false;
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > days[month - 1] + (month == 2 && leap)) return false;
  if (num(s + 11, 2) > 23 || num(s + 14, 2) > 59 || num(s + 17, 2) > 60) return false;
  size_t i = 19;
  if (s[i] == '.') {
    size_t start = ++i;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++;
    if (i == start) return false;
  }
  if (i < len && (s[i] == 'Z' || s[i] == 'z')) return i + 1 == len;
  if (i + 6 != len || (s[i] != '+' && s[i] != '-')) return false;
  const char *o = s + i + 1;
  return digits(o, 2) && o[2] == ':' && digits(o + 3, 2) && num(o, 2) <= 23 && num(o + 3, 2) <= 59;
}

static bool is_hex(char ch) { return (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f'); }

/* RFC 3986 absolute URI (scheme ":" hier-part, characters only). */
static bool is_uri(const char *s, size_t len) {
  size_t i = 0;
  if (len == 0 || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z')) return false;
  while (i < len && s[i] != ':') {
    char ch = s[i];
    if (!(((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') || (ch >= '0' && ch <= '9') || ch == '+' || ch == '-' ||
          ch == '.'))
      return false;
    i++;
  }
  if (i == len) return false;
  for (i++; i < len; i++) {
    char ch = s[i];
    if (ch == '%') {
      if (i + 2 >= len || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
      i += 2;
    } else if (!(((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') || (ch >= '0' && ch <= '9') ||
                 strchr("-._~:/?#[]@!$&'()*+,;=", ch))) {
      return false;
    }
  }
  return true;
}

static const char *type_name(unsigned t) {
  if (t & T_INTEGER) return "integer";
  if (t & T_NUMBER) return "number";
  if (t & T_STRING) return "string";
  if (t & T_OBJECT) return "object";
  if (t & T_ARRAY) return "array";
  if (t & T_BOOLEAN) return "boolean";
  return "null";
}

static int eval_node(const node_t *n, const json_t *v, eval_t *e, unsigned depth);

static int eval_quiet(const node_t *n, const json_t *v, eval_t *e, unsigned depth) {
  char *saved = e->detail;
  e->detail = NULL;
  int rc = eval_node(n, v, e, depth);
  e->detail = saved;
  return rc;
}

static int eval_string(const node_t *n, const json_t *v, eval_t *e) {
  const char *s = json_string_value(v);
  size_t len = json_string_length(v);
  if (n->min_length >= 0 || n->max_length >= 0) {
    double chars = (double)utf8_chars(s, len);
    if (n->min_length >= 0 && chars < n->min_length)
      return efail(e, "minLength", "shorter than %.0f characters", n->min_length);
    if (n->max_length >= 0 && chars > n->max_length)
      return efail(e, "maxLength", "longer than %.0f characters", n->max_length);
  }
  if (n->pattern) {
    regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)len};
    if (regexec(n->pattern, s, 1, &m, REG_STARTEND) != 0)
      return efail(e, "pattern", "does not match %s", n->pattern_text);
  }
  if (n->format == FMT_DATE_TIME && !is_date_time(s, len)) return efail(e, "format", "not a date-time");
  if (n->format == FMT_URI && !is_uri(s, len)) return efail(e, "format", "not a uri");
  return 0;
}

static int eval_number(const node_t *n, const json_t *v, eval_t *e) {
  double x = json_number_value(v);
  if (n->has_min && !(x >= n->minimum)) return efail(e, "minimum", "%.17g < %.17g", x, n->minimum);
  if (n->has_max && !(x <= n->maximum)) return efail(e, "maximum", "%.17g > %.17g", x, n->maximum);
  if (n->has_xmin && !(x > n->xminimum)) return efail(e, "exclusiveMinimum", "%.17g <= %.17g", x, n->xminimum);
  if (n->has_xmax && !(x < n->xmaximum)) return efail(e, "exclusiveMaximum", "%.17g >= %.17g", x, n->xmaximum);
  if (n->has_multiple) {
    double q = x / n->multiple;
    if (!isfinite(q) || fabs(q - nearbyint(q)) > 1e-9 * fmax(1.0, fabs(q)))
      return efail(e, "multipleOf", "%.17g is not a multiple of %.17g", x, n->multiple);
  }
  return 0;
}

static int eval_object(const node_t *n, const json_t *v, eval_t *e, unsigned depth) {
  for (size_t i = 0; i < n->required_len; i++)
    if (!json_object_get(v, n->required[i]))
      return efail(e, "required", "property '%s' is missing", n->required[i]);
  const char *key;
  json_t *member;
  json_object_foreach((json_t *)v, key, member) {
    const node_t *sub = n->additional;
    prop_t want = {.name = key};
    const prop_t *named = n->props_len ? bsearch(&want, n->props, n->props_len, sizeof *n->props, prop_order) : NULL;
    if (named) sub = named->schema;
    if (!sub) continue;
    size_t len = epath_push(e, key, 0, false);
    int rc = sub == n->additional && sub->is_bool && !sub->bool_value
                 ? efail(e, "additionalProperties", "property not allowed")
                 : eval_node(sub, member, e, depth + 1);
    e->path[len] = '\0';
    if (rc) return rc;
  }
  return 0;
}

static int eval_array(const node_t *n, const json_t *v, eval_t *e, unsigned depth) {
  size_t count = json_array_size(v);
  if (n->min_items >= 0 && (double)count < n->min_items)
    return efail(e, "minItems", "fewer than %.0f items", n->min_items);
  if (n->max_items >= 0 && (double)count > n->max_items)
    return efail(e, "maxItems", "more than %.0f items", n->max_items);
  if (n->unique_items) {
    if (count > JSONSCHEMA_UNIQUE_ITEMS_MAX)
      return efail(e, "uniqueItems", "more than %d items to compare", JSONSCHEMA_UNIQUE_ITEMS_MAX);
    for (size_t i = 0; i < count; i++)
      for (size_t j = i + 1; j < count; j++)
        if (js_equal(json_array_get(v, i), json_array_get(v, j), depth))
          return efail(e, "uniqueItems", "items %zu and %zu are equal", i, j);
  }
  for (size_t i = 0; i < count; i++) {
    const node_t *sub = i < n->lists_len[LIST_PREFIX] ? n->lists[LIST_PREFIX][i] : n->items;
    if (!sub) continue;
    size_t len = epath_push(e, NULL, i, true);
    int rc = eval_node(sub, json_array_get(v, i), e, depth + 1);
    e->path[len] = '\0';
    if (rc) return rc;
  }
  return 0;
}

static int eval_node(const node_t *n, const json_t *v, eval_t *e, unsigned depth) {
  if (e->too_deep) return 1;
  if (depth > JSONSCHEMA_EVAL_DEPTH_MAX) {
    e->too_deep = true;
    memcpy(e->deep_path, e->path, sizeof e->path);
    return 1;
  }
  if (n->is_bool) return n->bool_value ? 0 : efail(e, "false", "no value is allowed");
  unsigned t = type_of(v);
  if (n->types && !(n->types & t)) return efail(e, "type", "must be %s", type_name(n->types));
  if (n->const_value && !js_equal(n->const_value, v, 0)) return efail(e, "const", "not the constant value");
  if (n->enum_values) {
    bool found = false;
    for (size_t i = 0; !found && i < json_array_size(n->enum_values); i++)
      found = js_equal(json_array_get(n->enum_values, i), v, 0);
    if (!found) return efail(e, "enum", "not one of the allowed values");
  }
  int rc = 0;
  if (t & T_STRING) rc = eval_string(n, v, e);
  else if (t & T_NUMBER) rc = eval_number(n, v, e);
  else if (t & T_OBJECT) rc = eval_object(n, v, e, depth);
  else if (t & T_ARRAY) rc = eval_array(n, v, e, depth);
  if (rc) return rc;
  if (n->ref && (rc = eval_node(n->ref, v, e, depth + 1))) return rc;
  for (size_t i = 0; i < n->lists_len[LIST_ALL]; i++)
    if ((rc = eval_node(n->lists[LIST_ALL][i], v, e, depth + 1))) return rc;
  if (n->lists_len[LIST_ANY]) {
    bool any = false;
    for (size_t i = 0; !any && i < n->lists_len[LIST_ANY]; i++)
      any = eval_quiet(n->lists[LIST_ANY][i], v, e, depth + 1) == 0;
    if (!any) return efail(e, "anyOf", "matches none of %zu schemas", n->lists_len[LIST_ANY]);
  }
  if (n->lists_len[LIST_ONE]) {
    size_t matched = 0;
    for (size_t i = 0; matched < 2 && i < n->lists_len[LIST_ONE]; i++)
      matched += eval_quiet(n->lists[LIST_ONE][i], v, e, depth + 1) == 0;
    if (matched != 1)
      return efail(e, "oneOf", "matches %s of %zu schemas", matched ? "more than one" : "none",
                   n->lists_len[LIST_ONE]);
  }
  if (n->not_schema && eval_quiet(n->not_schema, v, e, depth + 1) == 0)
    return efail(e, "not", "matches the schema it must not");
  return 0;
}

int jsonschema_validate(const jsonschema_t *s, const json_t *instance, char *detail, size_t detail_bytes) {
  assert(s && instance);
  eval_t e = {.detail = detail_bytes ? detail : NULL, .detail_bytes = detail_bytes};
  if (e.detail) e.detail[0] = '\0';
  int rc = eval_node(s->root, instance, &e, 0);
  if (e.too_deep) {
    memcpy(e.path, e.deep_path, sizeof e.path);
    rc = efail(&e, "depth", "deeper than %d (instance nesting and $ref hops)", JSONSCHEMA_EVAL_DEPTH_MAX);
  }
  return rc;
}
