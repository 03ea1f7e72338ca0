/*
 * log: the one logging API of libanya and its programs.
 *
 * A record has a level, a module name ("bs", "pins", "cli"), a printf-style
 * message and optional key/values.  It becomes exactly one line handed to the
 * sink in one call; the default sink writes it to a file descriptor (stderr)
 * with one write(2), so lines from several threads or processes never mix.
 *
 *   text:  2026-11-25T15:31:50.123Z WARN  bs: segment cut short segment=7 bytes=4096
 *   json:  {"ts":"2026-11-25T15:31:50.123Z","level":"warn","module":"bs",
 *           "msg":"segment cut short","segment":7,"bytes":4096}        (one line)
 *
 * The timestamp is UTC, RFC 3339 with milliseconds.  JSON lines are valid
 * JSON and valid UTF-8 (bad bytes become U+FFFD, control characters are
 * escaped); text lines escape control characters so a record stays one line,
 * and quote values holding spaces, quotes or '=' (logfmt style).  A line is at
 * most LOG_LINE_BYTES_MAX bytes: a longer message is cut at a character
 * boundary, key/values that no longer fit are dropped whole, and the line
 * then ends with truncated=true.
 *
 * Library code logs only through this module and only what the program
 * configured: until the program calls log_configure the level is warn and the
 * format text, on stderr.  Checking whether a level is enabled is one relaxed
 * atomic load (log_enabled), done by the macros before any formatting, so a
 * disabled log_debug costs a load and a compare.
 *
 * Thread-safe: configuration, sink and clock may change while other threads
 * log.  Sink calls are serialised by a mutex, so a sink sees whole lines one
 * at a time; a sink must not log itself.
 */
#ifndef ANYA_LOG_H
#define ANYA_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_LINE_BYTES_MAX 4096 /* one record, newline included (PIPE_BUF: atomic on pipes) */
#define LOG_MODULE_BYTES_MAX 32 /* longer module names are cut */

/* Ordered from the most to the least severe: a configured level enables
 * itself and everything above it. */
typedef enum log_level {
  LOG_LEVEL_ERROR = 0, /* an operation failed; someone should look */
  LOG_LEVEL_WARN,      /* something unexpected was handled (a torn tail cut) */
  LOG_LEVEL_INFO,      /* lifecycle: opened, recovered, compacted */
  LOG_LEVEL_DEBUG,     /* what a developer needs to follow a request */
  LOG_LEVEL_TRACE,     /* per block, per frame */
} log_level_t;

typedef enum log_format {
  LOG_FORMAT_TEXT = 0, /* human-readable, one line per record */
  LOG_FORMAT_JSON,     /* one JSON object per line */
} log_format_t;

/* One key/value attached to a record; build them with LOG_STR / LOG_INT.
 * Keys are constant identifiers chosen by the programmer (not "ts", "level",
 * "module" or "msg"); string values may be anything (they are escaped). */
typedef struct log_kv {
  const char *key;
  const char *str; /* the value when !is_int (NULL prints as null / -) */
  int64_t num;     /* the value when is_int */
  bool is_int;
} log_kv_t;

#define LOG_STR(k, v) ((log_kv_t){.key = (k), .str = (v)})
#define LOG_INT(k, v) ((log_kv_t){.key = (k), .num = (int64_t)(v), .is_int = true})

/* Sets the level and format.  0, or -EINVAL for a value outside the enums
 * (nothing changes then). */
int log_configure(log_level_t level, log_format_t format);
/* "error", "warn" (or "warning"), "info", "debug", "trace" -> level; 0 or -EINVAL. */
int log_level_parse(const char *name, log_level_t *out);
/* "text", "json" -> format; 0 or -EINVAL. */
int log_format_parse(const char *name, log_format_t *out);
/* The lower-case name of a level ("warn"); "?" outside the enum. */
const char *log_level_name(log_level_t level);

/* Where lines go.  fn gets one whole line (ending in '\n', not NUL-terminated)
 * per record.  fn == NULL restores the default sink (writes to the fd set by
 * log_set_fd, stderr unless changed). */
typedef void (*log_sink_fn)(void *ctx, const char *line, size_t len);
void log_set_sink(log_sink_fn fn, void *ctx);
/* The default sink's file descriptor (2 unless changed). */
void log_set_fd(int fd);
/* Time source in milliseconds since the Unix epoch (for tests that need
 * exact lines); NULL restores the real clock. */
typedef int64_t (*log_clock_fn)(void);
void log_set_clock(log_clock_fn fn);

/* The most verbose level enabled; read with log_enabled. */
extern _Atomic int log_level_enabled_max;

static inline bool log_enabled(log_level_t level) {
  return (int)level <= atomic_load_explicit(&log_level_enabled_max, memory_order_relaxed);
}

/* Formats and emits one record if `level` is enabled (checked again here, so
 * calling it directly is safe).  kv may be NULL when kv_count is 0. */
void log_emit(log_level_t level, const char *module, const log_kv_t *kv, size_t kv_count,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The usual entry points: log_warn("bs", "segment %08x cut at %llu", id, off); */
#define log_at(level, module, ...)                                \
  do {                                                            \
    if (log_enabled(level)) log_emit(level, module, NULL, 0, __VA_ARGS__); \
  } while (0)
#define log_error(module, ...) log_at(LOG_LEVEL_ERROR, module, __VA_ARGS__)
#define log_warn(module, ...) log_at(LOG_LEVEL_WARN, module, __VA_ARGS__)
#define log_info(module, ...) log_at(LOG_LEVEL_INFO, module, __VA_ARGS__)
#define log_debug(module, ...) log_at(LOG_LEVEL_DEBUG, module, __VA_ARGS__)
#define log_trace(module, ...) log_at(LOG_LEVEL_TRACE, module, __VA_ARGS__)

/* With key/values given as an array literal (parenthesised):
 *   log_kv(LOG_LEVEL_INFO, "bs", ((log_kv_t[]){LOG_INT("segment", id), LOG_STR("dir", dir)}),
 *          "recovered %u records", n);                                              */
#define log_kv(level, module, kvs, ...)                                             \
  do {                                                                              \
    if (log_enabled(level)) log_emit(level, module, (kvs), LOG_COUNT_OF(kvs), __VA_ARGS__); \
  } while (0)
/* Elements of an array; does not compile for a pointer (whose size would lie). */
#define LOG_COUNT_OF(a)                                                                  \
  (sizeof(a) / sizeof((a)[0]) +                                                          \
   0 * sizeof(char[1 - 2 * __builtin_types_compatible_p(__typeof__(a), __typeof__(&(a)[0]))]))

/* Length of the well-formed UTF-8 character at p (1..4), or 0 when the bytes
 * at p (n of them available, n > 0) do not start one: overlong forms,
 * surrogates, values past U+10FFFF and cut-short sequences are all 0.
 * Shared with metrics.c, which rejects label values that are not UTF-8. */
size_t log_utf8_char_bytes(const uint8_t *p, size_t n);

#endif
