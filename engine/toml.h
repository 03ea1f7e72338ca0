/*
 * toml: a strict TOML 1.0 parser producing a tree (for config.h).
 *
 * Written here because Debian has no well-kept C library for it.  It accepts
 * what TOML 1.0 accepts and rejects what it rejects, with these deliberate
 * limits:
 *   - input at most TOML_INPUT_BYTES_MAX bytes, valid UTF-8 (a leading BOM is
 *     skipped);
 *   - tables and arrays nested at most TOML_DEPTH_MAX deep (key parts of a
 *     header or dotted key count as depth too);
 *   - a key part at most TOML_KEY_BYTES_MAX bytes and without U+0000;
 *   - at most TOML_TABLE_ENTRIES_MAX keys in one table and
 *     TOML_ARRAY_ITEMS_MAX items in one array;
 *   - dates and times (offset date-time, local date-time, local date, local
 *     time) are validated (field ranges, leap years) and kept as their text
 *     (TOML_DATETIME), not converted.
 *
 * Strings: basic (escapes \b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX, the latter
 * two Unicode scalar values only), literal, and both multi-line forms (the
 * newline right after the opening delimiter is dropped; a line-ending
 * backslash trims the following whitespace).  Integers: decimal with sign,
 * 0x/0o/0b without sign, underscores only between digits, no leading zeros,
 * int64 range.  Floats: fraction and/or exponent, inf, nan.  Duplicate keys,
 * a table defined twice, a [table] header over a table made by dotted keys,
 * dotted keys into a [table]-defined table, [[array]] onto a static array, and
 * any change to an inline table are rejected, as TOML requires.
 *
 * Errors: -EINVAL (syntax or semantics), -E2BIG (a limit), -ENOMEM, each with
 * an err_set message "NAME:LINE:COLUMN: what (key 'a.b')" where NAME is the
 * name given to toml_parse (a file name), LINE and COLUMN count from 1 and
 * COLUMN counts characters, and the key is named when one is involved.
 *
 * Memory: toml_parse returns a tree owned by the caller; toml_free releases it
 * whole.  Every pointer into the tree lives as long as the tree.  Tables keep
 * their keys in definition order.
 */
#ifndef ANYA_TOML_H
#define ANYA_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOML_INPUT_BYTES_MAX (1u << 20)
#define TOML_DEPTH_MAX 32
#define TOML_KEY_BYTES_MAX 256
#define TOML_TABLE_ENTRIES_MAX 1024
#define TOML_ARRAY_ITEMS_MAX 65536

typedef enum toml_type {
  TOML_TABLE,
  TOML_ARRAY,
  TOML_STRING,
  TOML_INTEGER,
  TOML_FLOAT,
  TOML_BOOL,
  TOML_DATETIME, /* kept as text in `string` */
} toml_type_t;

typedef struct toml_value toml_value_t;
struct toml_value {
  toml_type_t type;
  char *key;        /* this value's key in its table; NULL for array items and the root */
  uint32_t line;    /* where the value (or the table's header/key) starts, from 1 */
  uint32_t column;  /* characters, from 1 */
  uint32_t key_line;   /* where the key that names it starts (= line/column */
  uint32_t key_column; /* for array items and tables made by a header) */
  uint8_t flags;    /* parser bookkeeping (TOML_F_*) */
  union {
    struct {
      char *string;       /* NUL-terminated; may contain NULs from \u0000 */
      size_t string_len;  /* bytes, without the terminating NUL */
    };
    int64_t integer;
    double floating;
    bool boolean;
    struct {
      toml_value_t **items; /* table entries (in definition order) or array items */
      size_t len;
      size_t cap;
    };
  };
};

/* flags (read-only for users) */
#define TOML_F_DEFINED 0x01  /* table: defined by a [header] */
#define TOML_F_IMPLICIT 0x02 /* table: created as a parent of a [header] */
#define TOML_F_DOTTED 0x04   /* table: created by a dotted key */
#define TOML_F_INLINE 0x08   /* table/array: an inline table or static array; closed */
#define TOML_F_AOT 0x10      /* array: made by [[header]] */

/* Parses `len` bytes of `text` (need not be NUL-terminated); `name` (a file
 * name, or NULL for "<input>") prefixes error messages.  *out gets the root
 * table.  0 or a negative errno (see the file comment). */
int toml_parse(const char *text, size_t len, const char *name, toml_value_t **out);

/* Reads and parses a file (at most TOML_INPUT_BYTES_MAX bytes). */
int toml_parse_file(const char *path, toml_value_t **out);

/* Releases a tree (NULL is fine). */
void toml_free(toml_value_t *root);

/* The entry `key` of a table (a single key, no dot splitting), or NULL. */
const toml_value_t *toml_table_get(const toml_value_t *table, const char *key);

/* Looks up a dotted path of bare key parts ("storage.max") from a table;
 * NULL when any part is missing or not a table on the way. */
const toml_value_t *toml_get(const toml_value_t *root, const char *path);

/* Typed lookups by path: 0, -ENOENT (absent; no message) or -EINVAL (present
 * with another type; message names the key and both types). */
int toml_get_string(const toml_value_t *root, const char *path, const char **out);
int toml_get_int(const toml_value_t *root, const char *path, int64_t *out);
int toml_get_float(const toml_value_t *root, const char *path, double *out);
int toml_get_bool(const toml_value_t *root, const char *path, bool *out);

/* "table", "array", "string", "integer", "float", "boolean", "datetime". */
const char *toml_type_name(toml_type_t type);

/* Appends `s` (n bytes) as a TOML basic string with quotes and escapes. */
struct buf;
int toml_write_string(struct buf *out, const char *s, size_t n);
/* Appends a key part: bare when it can be, else quoted. */
int toml_write_key(struct buf *out, const char *key);

#endif
