/*
 * cli: what every `anya` subcommand shares (see cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "exporter.h"
#include "log.h"

/* ---- option parsing ---------------------------------------------------- */

const char *global_repo;

int die(int rc) {
  fprintf(stderr, "anya: %s\n", err_msg(rc));
  return 1;
}

int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "anya: ");
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  return 2;
}

static int find_spec(const opts_t *o, const char *name, size_t len, char short_name) {
  for (size_t i = 0; i < o->specs_len; i++) {
    if (short_name && o->specs[i].short_name == short_name) return (int)i;
    if (!short_name && strlen(o->specs[i].name) == len && memcmp(o->specs[i].name, name, len) == 0)
      return (int)i;
  }
  return -1;
}

/* Returns 0 or an exit code (2) after printing the usage error. */
int parse_opts(opts_t *o, int argc, char **argv) {
  bool only_args = false;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (only_args || a[0] != '-' || strcmp(a, "-") == 0) {
      if (o->args_len == ARGS_MAX) return usage_error("too many arguments (at most %s)", "256");
      o->args[o->args_len++] = a;
      continue;
    }
    if (strcmp(a, "--") == 0) { only_args = true; continue; }
    if (a[1] == '-') {
      const char *name = a + 2, *eq = strchr(name, '=');
      size_t len = eq ? (size_t)(eq - name) : strlen(name);
      if (len == 4 && memcmp(name, "repo", 4) == 0) {
        if (eq) global_repo = eq + 1;
        else if (i + 1 < argc) global_repo = argv[++i];
        else return usage_error("--repo needs a directory", "");
        continue;
      }
      int s = find_spec(o, name, len, 0);
      if (s < 0) return usage_error("unknown option %s", a);
      switch (o->specs[s].kind) {
        case OPT_FLAG:
          if (eq) return usage_error("option %s takes no value", a);
          o->values[s] = "true";
          break;
        case OPT_BOOL:
          if (!eq) o->values[s] = "true";
          else if (strcmp(eq + 1, "true") == 0 || strcmp(eq + 1, "false") == 0) o->values[s] = eq + 1;
          else return usage_error("option %s wants true or false", a);
          break;
        case OPT_VALUE:
          if (eq) o->values[s] = eq + 1;
          else if (i + 1 < argc) o->values[s] = argv[++i];
          else return usage_error("option %s needs a value", a);
          break;
      }
      continue;
    }
    for (const char *c = a + 1; *c; c++) { /* bundled short flags: -rH */
      int s = find_spec(o, NULL, 0, *c);
      if (s < 0) {
        char bad[3] = {'-', *c, 0};
        return usage_error("unknown option %s", bad);
      }
      if (o->specs[s].kind == OPT_VALUE) {
        if (c[1]) o->values[s] = c + 1;
        else if (i + 1 < argc) o->values[s] = argv[++i];
        else return usage_error("option %s needs a value", a);
        break;
      }
      o->values[s] = "true";
    }
  }
  return 0;
}

const char *opt_get(const opts_t *o, const char *name) {
  int s = find_spec(o, name, strlen(name), 0);
  return s < 0 ? NULL : o->values[s];
}

bool opt_true(const opts_t *o, const char *name) {
  const char *v = opt_get(o, name);
  return v && strcmp(v, "false") != 0;
}

int parse_u64(const char *text, uint64_t max, uint64_t *out) {
  char *end;
  errno = 0;
  if (!text || !*text || *text == '-') return -EINVAL;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno || *end || v > max) return -EINVAL;
  *out = v;
  return 0;
}

/* ---- repository helpers ------------------------------------------------- */

static struct {
  const char *holder;   /* the command that opened the repository */
  struct timespec start; /* when (CLOCK_MONOTONIC) */
  uint64_t slow_ms;     /* logging.slow_operation; 0 = off */
} opened;

int open_repo(const char *holder, repo_t **out) {
  char path[REPO_PATH_BYTES_MAX];
  clock_gettime(CLOCK_MONOTONIC, &opened.start);
  opened.holder = holder;
  int rc = repo_default_path(global_repo, path);
  if (!rc) rc = repo_open(path, holder, NULL, out);
  if (rc) return rc;
  /* logging.level / logging.format: the config table restricts them to names
   * log.h knows, so a parse failure here would be a table bug. */
  log_level_t level;
  log_format_t format;
  if (log_level_parse(config_string((*out)->config, "logging.level"), &level) == 0 &&
      log_format_parse(config_string((*out)->config, "logging.format"), &format) == 0)
    log_configure(level, format);
  log_kv(LOG_LEVEL_DEBUG, "cli", ((log_kv_t[]){LOG_STR("path", path), LOG_STR("holder", holder)}),
         "repository opened");
  opened.slow_ms = config_duration_ms((*out)->config, "logging.slow_operation");
  return 0;
}

int close_repo(repo_t *r, int rc) {
  int crc = repo_close(r);
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int64_t ms = (int64_t)(now.tv_sec - opened.start.tv_sec) * 1000 + (now.tv_nsec - opened.start.tv_nsec) / 1000000;
  if (opened.slow_ms && ms >= 0 && (uint64_t)ms >= opened.slow_ms)
    log_kv(LOG_LEVEL_WARN, "cli",
           ((log_kv_t[]){LOG_STR("command", opened.holder), LOG_INT("ms", ms), LOG_INT("slow_ms", opened.slow_ms)}),
           "slow operation");
  return rc ? rc : crc;
}

int resolve_arg(repo_t *r, const char *arg, cid_t *out) {
  block_source_t src = bs_source(r->bs);
  return exp_resolve_arg(&src, arg, out);
}

int write_all(int fd, const void *data, size_t len) {
  const uint8_t *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return err_set(-errno, "write failed: %s", strerror(errno));
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int read_all_fd(int fd, buf_t *out, size_t max) {
  for (;;) {
    int rc = buf_reserve(out, 65536);
    if (rc) return rc;
    ssize_t n = read(fd, out->data + out->len, 65536);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return err_set(-errno, "read failed: %s", strerror(errno));
    if (n == 0) return 0;
    out->len += (size_t)n;
    if (out->len > max) return err_set(-E2BIG, "input is larger than %zu bytes", max);
  }
}
