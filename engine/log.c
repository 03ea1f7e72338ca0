/*
 * log: records formatted into a stack buffer, one sink call per line (log.h).
 *
 * The line is built by a bounded writer: the body may use LOG_LINE_BYTES_MAX
 * minus a small reserve, and the reserve always has room for what closes the
 * line (the message's closing quote, truncated=true, "}" and the newline), so
 * a cut line is still one well-formed record.  Formatting happens outside the
 * mutex; only the sink call is serialised.
 */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_TAIL_RESERVE_BYTES 32 /* '"' + ",\"truncated\":true" + "}\n", with room to spare */

_Atomic int log_level_enabled_max = LOG_LEVEL_WARN;
static _Atomic int log_format_current = LOG_FORMAT_TEXT;
static _Atomic int log_fd = 2;
static log_clock_fn log_clock; /* accessed with __atomic builtins */

static pthread_mutex_t log_sink_mutex = PTHREAD_MUTEX_INITIALIZER;
static log_sink_fn log_sink; /* under log_sink_mutex; NULL = the fd sink */
static void *log_sink_ctx;

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};
static const char *const level_labels[] = {"ERROR", "WARN ", "INFO ", "DEBUG", "TRACE"};

/* ---- configuration ---- */

int log_configure(log_level_t level, log_format_t format) {
  if ((int)level < LOG_LEVEL_ERROR || level > LOG_LEVEL_TRACE) return -EINVAL;
  if ((int)format < LOG_FORMAT_TEXT || format > LOG_FORMAT_JSON) return -EINVAL;
  atomic_store(&log_format_current, (int)format);
  atomic_store(&log_level_enabled_max, (int)level);
  return 0;
}

int log_level_parse(const char *name, log_level_t *out) {
  if (!name) return -EINVAL;
  for (int i = LOG_LEVEL_ERROR; i <= LOG_LEVEL_TRACE; i++) {
    if (strcmp(name, level_names[i]) == 0) {
      *out = (log_level_t)i;
      return 0;
    }
  }
  if (strcmp(name, "warning") == 0) {
    *out = LOG_LEVEL_WARN;
    return 0;
  }
  return -EINVAL;
}

int log_format_parse(const char *name, log_format_t *out) {
  if (!name) return -EINVAL;
  if (strcmp(name, "text") == 0) {
    *out = LOG_FORMAT_TEXT;
  } else if (strcmp(name, "json") == 0) {
    *out = LOG_FORMAT_JSON;
  } else {
    return -EINVAL;
  }
  return 0;
}

const char *log_level_name(log_level_t level) {
  if ((int)level < LOG_LEVEL_ERROR || level > LOG_LEVEL_TRACE) return "?";
  return level_names[level];
}

void log_set_sink(log_sink_fn fn, void *ctx) {
  pthread_mutex_lock(&log_sink_mutex);
  log_sink = fn;
  log_sink_ctx = ctx;
  pthread_mutex_unlock(&log_sink_mutex);
}

void log_set_fd(int fd) { atomic_store(&log_fd, fd); }

void log_set_clock(log_clock_fn fn) { __atomic_store_n(&log_clock, fn, __ATOMIC_RELEASE); }

/* ---- UTF-8 ---- */

size_t log_utf8_char_bytes(const uint8_t *p, size_t n) {
  if (n == 0) return 0;
  uint8_t c = p[0];
  if (c < 0x80) return 1;
  size_t len;
  uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;      /* overlong */
    else if (c == 0xed) hi = 0x9f; /* surrogates */
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90;      /* overlong */
    else if (c == 0xf4) hi = 0x8f; /* past U+10FFFF */
  } else {
    return 0;
  }
  if (n < len) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if (p[i] < 0x80 || p[i] > 0xbf) return 0;
  return len;
}

/* ---- the bounded line writer ---- */

typedef struct line {
  char data[LOG_LINE_BYTES_MAX];
  size_t len;
  size_t body_max; /* what the body may use; the rest is the tail reserve */
  bool truncated;  /* something did not fit */
} line_t;

/* Appends n bytes whole or not at all (then marks the line truncated). */
static bool put(line_t *l, const char *s, size_t n) {
  if (l->truncated || n > l->body_max - l->len) {
    l->truncated = true;
    return false;
  }
  memcpy(l->data + l->len, s, n);
  l->len += n;
  return true;
}

static bool put_str(line_t *l, const char *s) { return put(l, s, strlen(s)); }

/* Appends into the tail reserve (closing characters only). */
static void put_tail(line_t *l, const char *s) {
  size_t n = strlen(s);
  if (n > sizeof l->data - l->len) n = sizeof l->data - l->len; /* cannot happen: reserve sized for it */
  memcpy(l->data + l->len, s, n);
  l->len += n;
}

/* Appends s escaped for a JSON string (without the quotes). */
static bool put_json_escaped(line_t *l, const char *s, size_t n) {
  const uint8_t *p = (const uint8_t *)s;
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    char esc[8];
    const char *out = esc;
    size_t out_len;
    size_t step = 1;
    if (c == '"' || c == '\\') {
      esc[0] = '\\', esc[1] = (char)c, out_len = 2;
    } else if (c == '\n') {
      out = "\\n", out_len = 2;
    } else if (c == '\t') {
      out = "\\t", out_len = 2;
    } else if (c == '\r') {
      out = "\\r", out_len = 2;
    } else if (c < 0x20 || c == 0x7f) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      out_len = 6;
    } else if (c < 0x80) {
      out = (const char *)p + i, out_len = 1;
    } else {
      step = log_utf8_char_bytes(p + i, n - i);
      if (step == 0) {
        out = "\\ufffd", out_len = 6, step = 1;
      } else {
        out = (const char *)p + i, out_len = step;
      }
    }
    if (!put(l, out, out_len)) return false;
    i += step;
  }
  return true;
}

/* Appends s for a text line: control characters escaped, the rest as is. */
static bool put_text_escaped(line_t *l, const char *s, size_t n, bool quote_specials) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    size_t out_len;
    if (c == '\n') {
      memcpy(esc, "\\n", 2), out_len = 2;
    } else if (c == '\t') {
      memcpy(esc, "\\t", 2), out_len = 2;
    } else if (c == '\r') {
      memcpy(esc, "\\r", 2), out_len = 2;
    } else if (c < 0x20 || c == 0x7f) {
      snprintf(esc, sizeof esc, "\\x%02x", c);
      out_len = 4;
    } else if (quote_specials && (c == '"' || c == '\\')) {
      esc[0] = '\\', esc[1] = (char)c, out_len = 2;
    } else {
      esc[0] = (char)c, out_len = 1;
    }
    if (!put(l, esc, out_len)) return false;
  }
  return true;
}

/* Whether a text value needs quotes to read back unambiguously. */
static bool text_needs_quotes(const char *s) {
  if (*s == '\0') return true;
  for (; *s; s++)
    if ((unsigned char)*s <= ' ' || *s == '"' || *s == '=' || *s == '\\' || *s == 0x7f) return true;
  return false;
}

/* ---- records ---- */

static int64_t real_clock_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void format_ts(char out[32], int64_t ms) {
  int64_t sec = ms / 1000, milli = ms % 1000;
  if (milli < 0) milli += 1000, sec -= 1;
  time_t t = (time_t)sec;
  struct tm tm;
  if (!gmtime_r(&t, &tm)) memset(&tm, 0, sizeof tm);
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03dZ", (int)milli);
}

static void write_fd(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return; /* nowhere left to report it */
    }
    s += w, n -= (size_t)w;
  }
}

static void build_json(line_t *l, const char *ts, log_level_t level, const char *module,
                       const char *msg, size_t msg_len, const log_kv_t *kv, size_t kv_count) {
  put_str(l, "{\"ts\":\"");
  put_str(l, ts);
  put_str(l, "\",\"level\":\"");
  put_str(l, level_names[level]);
  put_str(l, "\",\"module\":\"");
  put_json_escaped(l, module, strnlen(module, LOG_MODULE_BYTES_MAX));
  put_str(l, "\",\"msg\":\"");
  put_json_escaped(l, msg, msg_len);
  bool cut = l->truncated;
  l->truncated = false;
  if (!put_str(l, "\"")) put_tail(l, "\"");
  for (size_t i = 0; i < kv_count && !cut; i++) {
    size_t mark = l->len;
    put_str(l, ",\"");
    put_json_escaped(l, kv[i].key ? kv[i].key : "", kv[i].key ? strlen(kv[i].key) : 0);
    put_str(l, "\":");
    if (kv[i].is_int) {
      char num[24];
      snprintf(num, sizeof num, "%" PRId64, kv[i].num);
      put_str(l, num);
    } else if (!kv[i].str) {
      put_str(l, "null");
    } else {
      put_str(l, "\"");
      put_json_escaped(l, kv[i].str, strlen(kv[i].str));
      put_str(l, "\"");
    }
    if (l->truncated) l->len = mark, cut = true; /* drop this pair whole */
  }
  if (cut) put_tail(l, ",\"truncated\":true");
  put_tail(l, "}\n");
}

static void build_text(line_t *l, const char *ts, log_level_t level, const char *module,
                       const char *msg, size_t msg_len, const log_kv_t *kv, size_t kv_count) {
  put_str(l, ts);
  put_str(l, " ");
  put_str(l, level_labels[level]);
  put_str(l, " ");
  put_text_escaped(l, module, strnlen(module, LOG_MODULE_BYTES_MAX), false);
  put_str(l, ": ");
  put_text_escaped(l, msg, msg_len, false);
  bool cut = l->truncated;
  l->truncated = false;
  for (size_t i = 0; i < kv_count && !cut; i++) {
    size_t mark = l->len;
    put_str(l, " ");
    if (kv[i].key) put_text_escaped(l, kv[i].key, strlen(kv[i].key), false);
    put_str(l, "=");
    if (kv[i].is_int) {
      char num[24];
      snprintf(num, sizeof num, "%" PRId64, kv[i].num);
      put_str(l, num);
    } else if (!kv[i].str) {
      put_str(l, "-");
    } else if (text_needs_quotes(kv[i].str)) {
      put_str(l, "\"");
      put_text_escaped(l, kv[i].str, strlen(kv[i].str), true);
      put_str(l, "\"");
    } else {
      put_text_escaped(l, kv[i].str, strlen(kv[i].str), false);
    }
    if (l->truncated) l->len = mark, cut = true;
  }
  if (cut) put_tail(l, " truncated=true");
  put_tail(l, "\n");
}

void log_emit(log_level_t level, const char *module, const log_kv_t *kv, size_t kv_count,
              const char *fmt, ...) {
  if ((int)level < LOG_LEVEL_ERROR || level > LOG_LEVEL_TRACE || !log_enabled(level)) return;
  int saved_errno = errno; /* logging must not disturb the caller's errno */
  if (!module) module = "-";
  if (!kv) kv_count = 0;

  char msg[LOG_LINE_BYTES_MAX];
  va_list ap;
  va_start(ap, fmt);
  int n = 0;
  if (fmt) n = vsnprintf(msg, sizeof msg, fmt, ap);
  else msg[0] = '\0';
  va_end(ap);
  size_t msg_len = n < 0 ? 0 : (size_t)n;
  if (msg_len >= sizeof msg) msg_len = sizeof msg - 1; /* longer than any line: the writer cuts it */

  log_clock_fn clock_fn = __atomic_load_n(&log_clock, __ATOMIC_ACQUIRE);
  char ts[32];
  format_ts(ts, clock_fn ? clock_fn() : real_clock_ms());

  line_t l;
  l.len = 0;
  l.body_max = sizeof l.data - LOG_TAIL_RESERVE_BYTES;
  l.truncated = false;
  if (atomic_load_explicit(&log_format_current, memory_order_relaxed) == LOG_FORMAT_JSON)
    build_json(&l, ts, level, module, msg, msg_len, kv, kv_count);
  else
    build_text(&l, ts, level, module, msg, msg_len, kv, kv_count);

  pthread_mutex_lock(&log_sink_mutex);
  if (log_sink)
    log_sink(log_sink_ctx, l.data, l.len);
  else
    write_fd(atomic_load(&log_fd), l.data, l.len);
  pthread_mutex_unlock(&log_sink_mutex);
  errno = saved_errno;
}
