/*
 * log: the default configuration (warn, text, stderr), level filtering, the
 * exact text and JSON lines (fixed clock), escaping of hostile messages and
 * values, every JSON line checked by a small validator (objects of strings,
 * integers and literals; UTF-8), truncation at LOG_LINE_BYTES_MAX, the fd sink
 * with several threads (each line whole), parsing of level and format names,
 * and errno left alone.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>

#include "buf.h"
#include "log.h"

/* ---- capture ---- */

static buf_t captured;
static int captured_lines;

static void capture(void *ctx, const char *line, size_t len) {
  (void)ctx;
  assert_true(len > 0 && len <= LOG_LINE_BYTES_MAX);
  assert_int_equal(line[len - 1], '\n');
  assert_null(memchr(line, '\n', len - 1)); /* exactly one line */
  assert_int_equal(buf_append(&captured, line, len), 0);
  captured_lines++;
}

static int64_t fixed_clock(void) { return 1764084710123; /* 2025-11-25T15:31:50.123Z */ }

static int setup(void **state) {
  (void)state;
  buf_reset(&captured);
  captured_lines = 0;
  log_set_sink(capture, NULL);
  log_set_clock(fixed_clock);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  log_set_sink(NULL, NULL);
  log_set_clock(NULL);
  log_configure(LOG_LEVEL_WARN, LOG_FORMAT_TEXT);
  buf_free(&captured);
  return 0;
}

static const char *text(void) { return buf_cstr(&captured); }

/* ---- a minimal JSON checker: one object whose values are strings, integers,
 * true, false or null; strings with valid escapes; all of it UTF-8 ---- */

static const char *json_string(const char *p) {
  if (*p++ != '"') return NULL;
  while (*p != '"') {
    unsigned char c = (unsigned char)*p;
    if (c == '\0' || c < 0x20) return NULL;
    if (c == '\\') {
      p++;
      if (*p == 'u') {
        for (int i = 1; i <= 4; i++)
          if (!strchr("0123456789abcdefABCDEF", p[i]) || p[i] == '\0') return NULL;
        p += 5;
      } else if (*p && strchr("\"\\/bfnrt", *p)) {
        p++;
      } else {
        return NULL;
      }
    } else if (c >= 0x80) {
      size_t n = log_utf8_char_bytes((const uint8_t *)p, strlen(p));
      if (n == 0) return NULL;
      p += n;
    } else {
      p++;
    }
  }
  return p + 1;
}

static const char *json_value(const char *p) {
  if (*p == '"') return json_string(p);
  if (strncmp(p, "true", 4) == 0) return p + 4;
  if (strncmp(p, "false", 5) == 0) return p + 5;
  if (strncmp(p, "null", 4) == 0) return p + 4;
  if (*p == '-') p++;
  if (*p < '0' || *p > '9') return NULL;
  if (*p == '0' && p[1] >= '0' && p[1] <= '9') return NULL;
  while (*p >= '0' && *p <= '9') p++;
  return p;
}

/* Checks one line "{...}\n"; returns how many members it has, -1 if invalid. */
static int json_line_members(const char *line, size_t len) {
  char *copy = strndup(line, len);
  assert_non_null(copy);
  const char *p = copy;
  int members = -1;
  if (len < 3 || copy[len - 1] != '\n' || *p++ != '{') goto out;
  int n = 0;
  while (*p != '}') {
    if (n > 0 && *p++ != ',') goto out;
    if (!(p = json_string(p)) || *p++ != ':' || !(p = json_value(p))) goto out;
    n++;
  }
  if (strcmp(p, "}\n") == 0) members = n;
out:
  free(copy);
  return members;
}

/* ---- tests ---- */

static void test_default_is_warn_text_on_stderr(void **state) {
  (void)state; /* runs before anything configures */
  assert_true(log_enabled(LOG_LEVEL_ERROR));
  assert_true(log_enabled(LOG_LEVEL_WARN));
  assert_false(log_enabled(LOG_LEVEL_INFO));
  assert_false(log_enabled(LOG_LEVEL_TRACE));
  log_info("test", "not shown");
  log_warn("test", "shown %d", 1);
  assert_int_equal(captured_lines, 1);
  assert_string_equal(text(), "2025-11-25T15:31:50.123Z WARN  test: shown 1\n");
}

static void test_levels_filter(void **state) {
  (void)state;
  assert_int_equal(log_configure(LOG_LEVEL_INFO, LOG_FORMAT_TEXT), 0);
  log_error("m", "e");
  log_warn("m", "w");
  log_info("m", "i");
  log_debug("m", "d");
  log_trace("m", "t");
  assert_string_equal(text(), "2025-11-25T15:31:50.123Z ERROR m: e\n"
                              "2025-11-25T15:31:50.123Z WARN  m: w\n"
                              "2025-11-25T15:31:50.123Z INFO  m: i\n");
  buf_reset(&captured);
  assert_int_equal(log_configure(LOG_LEVEL_TRACE, LOG_FORMAT_TEXT), 0);
  log_trace("m", "t");
  log_debug("m", "d");
  assert_string_equal(text(), "2025-11-25T15:31:50.123Z TRACE m: t\n"
                              "2025-11-25T15:31:50.123Z DEBUG m: d\n");
  buf_reset(&captured);
  assert_int_equal(log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT), 0);
  log_warn("m", "w");
  log_emit(LOG_LEVEL_INFO, "m", NULL, 0, "direct calls are filtered too");
  assert_int_equal(captured.len, 0);
  assert_int_equal(captured_lines, 5);
  /* bad values change nothing */
  assert_int_equal(log_configure((log_level_t)7, LOG_FORMAT_TEXT), -EINVAL);
  assert_int_equal(log_configure(LOG_LEVEL_INFO, (log_format_t)9), -EINVAL);
  assert_false(log_enabled(LOG_LEVEL_WARN));
}

static void test_text_key_values(void **state) {
  (void)state;
  log_configure(LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
  log_kv(LOG_LEVEL_INFO, "bs", ((log_kv_t[]){LOG_INT("segment", 7), LOG_INT("delta", -3),
                                             LOG_STR("dir", "/var/lib/anya"),
                                             LOG_STR("why", "two words"), LOG_STR("empty", ""),
                                             LOG_STR("q", "a\"b=c"), LOG_STR("none", NULL)}),
         "recovered %u records", 12u);
  assert_string_equal(text(), "2025-11-25T15:31:50.123Z INFO  bs: recovered 12 records segment=7 "
                              "delta=-3 dir=/var/lib/anya why=\"two words\" empty=\"\" "
                              "q=\"a\\\"b=c\" none=-\n");
}

static void test_text_escapes_control_characters(void **state) {
  (void)state;
  log_warn("mod\nule", "line one\nline two\ttab\r\x01 end");
  assert_int_equal(captured_lines, 1);
  assert_string_equal(text(),
                      "2025-11-25T15:31:50.123Z WARN  mod\\nule: line one\\nline two\\ttab\\r\\x01 end\n");
}

static void test_json_exact(void **state) {
  (void)state;
  log_configure(LOG_LEVEL_DEBUG, LOG_FORMAT_JSON);
  log_kv(LOG_LEVEL_DEBUG, "bs", ((log_kv_t[]){LOG_INT("segment", 7), LOG_STR("dir", "/x y")}),
         "segment %s", "cut");
  log_error("cli", "plain");
  assert_string_equal(text(),
                      "{\"ts\":\"2025-11-25T15:31:50.123Z\",\"level\":\"debug\",\"module\":\"bs\","
                      "\"msg\":\"segment cut\",\"segment\":7,\"dir\":\"/x y\"}\n"
                      "{\"ts\":\"2025-11-25T15:31:50.123Z\",\"level\":\"error\",\"module\":\"cli\","
                      "\"msg\":\"plain\"}\n");
}

static void test_json_escapes_hostile_input(void **state) {
  (void)state;
  log_configure(LOG_LEVEL_TRACE, LOG_FORMAT_JSON);
  const char *hostile[] = {
      "quote \" backslash \\ slash /",
      "newline\ncr\rtab\tbell\x07 del\x7f",
      "bad utf-8 \xff\xfe, overlong \xc0\xaf, surrogate \xed\xa0\x80, cut \xe2\x82",
      "fine: h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80",
      "",
  };
  for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
    buf_reset(&captured);
    log_kv(LOG_LEVEL_INFO, hostile[i], ((log_kv_t[]){LOG_STR("value", hostile[i]), LOG_STR("k\"ey", "v"),
                                                     LOG_STR("null", NULL)}),
           "%s", hostile[i]);
    assert_int_equal(json_line_members((const char *)captured.data, captured.len), 7);
  }
  buf_reset(&captured);
  log_info("m", "a\xff" "b\x01");
  assert_string_equal(text(), "{\"ts\":\"2025-11-25T15:31:50.123Z\",\"level\":\"info\",\"module\":\"m\","
                              "\"msg\":\"a\\ufffdb\\u0001\"}\n");
  buf_reset(&captured);
  log_info("m", "h\xc3\xa9");
  assert_non_null(strstr(text(), "\"msg\":\"h\xc3\xa9\"")); /* valid UTF-8 passes through */
}

static void test_truncation(void **state) {
  (void)state;
  size_t big = 3 * LOG_LINE_BYTES_MAX;
  char *msg = malloc(big + 1);
  assert_non_null(msg);
  for (size_t i = 0; i < big; i++) msg[i] = (char)("\"\\\xc3\xa9x"[i % 5]); /* escapes and 2-byte chars */
  msg[big] = '\0';
  for (int format = LOG_FORMAT_TEXT; format <= LOG_FORMAT_JSON; format++) {
    log_configure(LOG_LEVEL_INFO, (log_format_t)format);
    buf_reset(&captured);
    log_kv(LOG_LEVEL_INFO, "m", ((log_kv_t[]){LOG_INT("n", 1)}), "%s", msg);
    assert_int_equal(captured_lines, format + 1);
    assert_true(captured.len <= LOG_LINE_BYTES_MAX);
    assert_true(captured.len > LOG_LINE_BYTES_MAX - 64);
    const char *line = text();
    if (format == LOG_FORMAT_JSON) {
      assert_int_equal(json_line_members(line, captured.len), 5); /* ts level module msg truncated */
      assert_non_null(strstr(line, ",\"truncated\":true}\n"));
    } else {
      assert_non_null(strstr(line, " truncated=true\n"));
    }
    assert_null(strstr(line, "\"n\":1"));
  }
  /* a message that fits, then a value that does not: the pair is dropped whole */
  log_configure(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
  buf_reset(&captured);
  msg[LOG_LINE_BYTES_MAX - 200] = '\0';
  memset(msg, 'a', LOG_LINE_BYTES_MAX - 200);
  char *value = malloc(400);
  assert_non_null(value);
  memset(value, 'v', 399);
  value[399] = '\0';
  log_kv(LOG_LEVEL_INFO, "m", ((log_kv_t[]){LOG_INT("small", 1), LOG_STR("large", value)}), "%s", msg);
  assert_int_equal(json_line_members(text(), captured.len), 6);
  assert_non_null(strstr(text(), ",\"small\":1,\"truncated\":true}\n"));
  free(value);
  free(msg);
}

static void test_module_name_cut(void **state) {
  (void)state;
  char module[100];
  memset(module, 'm', sizeof module - 1);
  module[sizeof module - 1] = '\0';
  log_warn(module, "x");
  char want[200];
  snprintf(want, sizeof want, "2025-11-25T15:31:50.123Z WARN  %.*s: x\n", LOG_MODULE_BYTES_MAX, module);
  assert_string_equal(text(), want);
  buf_reset(&captured);
  log_emit(LOG_LEVEL_ERROR, NULL, NULL, 0, "no module");
  assert_string_equal(text(), "2025-11-25T15:31:50.123Z ERROR -: no module\n");
}

static void test_clock_formats(void **state) {
  (void)state;
  log_set_clock(NULL); /* the real clock: shape only */
  log_warn("m", "now");
  const char *line = text();
  assert_true(strlen(line) > 24);
  for (int i = 0; i < 24; i++) {
    char c = line[i];
    switch (i) {
    case 4: case 7: assert_int_equal(c, '-'); break;
    case 10: assert_int_equal(c, 'T'); break;
    case 13: case 16: assert_int_equal(c, ':'); break;
    case 19: assert_int_equal(c, '.'); break;
    case 23: assert_int_equal(c, 'Z'); break;
    default: assert_true(c >= '0' && c <= '9');
    }
  }
}

typedef struct writer_arg {
  int id;
} writer_arg_t;

#define THREADS 4
#define LINES_PER_THREAD 2000

static void *writer(void *arg) {
  writer_arg_t *w = arg;
  for (int i = 0; i < LINES_PER_THREAD; i++)
    log_kv(LOG_LEVEL_WARN, "thread", ((log_kv_t[]){LOG_INT("id", w->id), LOG_INT("i", i)}),
           "%0*d", 50 + w->id * 50, 0);
  return NULL;
}

static void test_fd_sink_threads_whole_lines(void **state) {
  (void)state;
  FILE *tmp = tmpfile();
  assert_non_null(tmp);
  log_set_sink(NULL, NULL);
  log_set_fd(fileno(tmp));
  log_configure(LOG_LEVEL_WARN, LOG_FORMAT_JSON);
  pthread_t threads[THREADS];
  writer_arg_t args[THREADS];
  for (int t = 0; t < THREADS; t++) {
    args[t].id = t;
    assert_int_equal(pthread_create(&threads[t], NULL, writer, &args[t]), 0);
  }
  for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
  log_set_fd(2);
  rewind(tmp);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int count[THREADS] = {0};
  while ((n = getline(&line, &cap, tmp)) > 0) {
    assert_int_equal(json_line_members(line, (size_t)n), 6);
    const char *id = strstr(line, "\"id\":");
    assert_non_null(id);
    int t = id[5] - '0';
    assert_true(t >= 0 && t < THREADS);
    /* the message length tells the thread too: a mixed line would disagree */
    const char *msg = strstr(line, "\"msg\":\"");
    assert_int_equal(strchr(msg + 7, '"') - (msg + 7), 50 + t * 50);
    count[t]++;
  }
  for (int t = 0; t < THREADS; t++) assert_int_equal(count[t], LINES_PER_THREAD);
  free(line);
  fclose(tmp);
}

static void test_names_parse(void **state) {
  (void)state;
  log_level_t level;
  log_format_t format;
  const char *names[] = {"error", "warn", "info", "debug", "trace"};
  for (int i = 0; i < 5; i++) {
    assert_int_equal(log_level_parse(names[i], &level), 0);
    assert_int_equal(level, i);
    assert_string_equal(log_level_name(level), names[i]);
  }
  assert_int_equal(log_level_parse("warning", &level), 0);
  assert_int_equal(level, LOG_LEVEL_WARN);
  assert_int_equal(log_level_parse("WARN", &level), -EINVAL);
  assert_int_equal(log_level_parse("", &level), -EINVAL);
  assert_int_equal(log_level_parse(NULL, &level), -EINVAL);
  assert_string_equal(log_level_name((log_level_t)42), "?");
  assert_int_equal(log_format_parse("text", &format), 0);
  assert_int_equal(format, LOG_FORMAT_TEXT);
  assert_int_equal(log_format_parse("json", &format), 0);
  assert_int_equal(format, LOG_FORMAT_JSON);
  assert_int_equal(log_format_parse("xml", &format), -EINVAL);
}

static void test_errno_preserved(void **state) {
  (void)state;
  log_set_sink(NULL, NULL);
  log_set_fd(-1); /* write fails with EBADF: swallowed */
  errno = ENOSPC;
  log_error("m", "x");
  assert_int_equal(errno, ENOSPC);
  log_set_fd(2);
}

static void test_utf8_char_bytes(void **state) {
  (void)state;
  struct {
    const char *s;
    size_t want;
  } cases[] = {
      {"a", 1},           {"\xc3\xa9", 2},         {"\xe2\x82\xac", 3}, {"\xf0\x9f\x98\x80", 4},
      {"\xc0\xaf", 0},    {"\xc1\xbf", 0},         {"\xe0\x80\xaf", 0}, {"\xed\xa0\x80", 0},
      {"\xf4\x90\x80\x80", 0}, {"\xf5\x80\x80\x80", 0}, {"\x80", 0},     {"\xe2\x82", 0},
      {"\xef\xbf\xbf", 3}, {"\xf4\x8f\xbf\xbf", 4},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    assert_int_equal(log_utf8_char_bytes((const uint8_t *)cases[i].s, strlen(cases[i].s)), cases[i].want);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_default_is_warn_text_on_stderr, setup, teardown),
      cmocka_unit_test_setup_teardown(test_levels_filter, setup, teardown),
      cmocka_unit_test_setup_teardown(test_text_key_values, setup, teardown),
      cmocka_unit_test_setup_teardown(test_text_escapes_control_characters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_json_exact, setup, teardown),
      cmocka_unit_test_setup_teardown(test_json_escapes_hostile_input, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_module_name_cut, setup, teardown),
      cmocka_unit_test_setup_teardown(test_clock_formats, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fd_sink_threads_whole_lines, setup, teardown),
      cmocka_unit_test_setup_teardown(test_names_parse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_errno_preserved, setup, teardown),
      cmocka_unit_test(test_utf8_char_bytes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
