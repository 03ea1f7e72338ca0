/* dwn_repo: the repository's DWN (see dwn_repo.h). */
#include "dwn_repo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "policy.h"

void dwn_repo_dir(const repo_t *r, char out[DWN_REPO_DIR_BYTES]) { snprintf(out, DWN_REPO_DIR_BYTES, "%s/dwn", r->path); }

static int read_file(int fd, buf_t *out, size_t max, const char *path) {
  uint8_t chunk[65536];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return err_set(-errno, "%s: %s", path, strerror(errno));
    if (n == 0) return 0;
    if (out->len + (size_t)n > max) return err_set(-E2BIG, "%s: larger than %zu bytes", path, max);
    int rc = buf_append(out, chunk, (size_t)n);
    if (rc) return rc;
  }
}

static int write_file(int fd, const void *data, size_t len, const char *path) {
  const uint8_t *p = data;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return err_set(-errno, "%s: %s", path, strerror(errno));
    p += n, len -= (size_t)n;
  }
  return 0;
}

int dwn_tenants_load(const repo_t *r, dwn_tenants_t *t) {
  char path[REPO_PATH_BYTES_MAX + 16];
  snprintf(path, sizeof path, "%s/dwn/tenants", r->path);
  memset(t, 0, sizeof *t);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : err_set(-errno, "%s: %s", path, strerror(errno));
  int rc = read_file(fd, &t->text, DWN_REPO_TENANTS_FILE_BYTES_MAX, path);
  close(fd);
  if (!rc) rc = buf_append_byte(&t->text, 0);
  for (char *line = (char *)t->text.data, *next; !rc && line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = '\0';
    if (!*line) continue;
    if (t->len == DWN_TENANTS_MAX) rc = err_set(-E2BIG, "%s: more than %d tenants", path, DWN_TENANTS_MAX);
    else t->dids[t->len++] = line;
  }
  return rc;
}

int dwn_tenants_save(const repo_t *r, const dwn_tenants_t *t) {
  char dir[DWN_REPO_DIR_BYTES], path[REPO_PATH_BYTES_MAX + 16], tmp[REPO_PATH_BYTES_MAX + 24];
  dwn_repo_dir(r, dir);
  snprintf(path, sizeof path, "%s/tenants", dir);
  snprintf(tmp, sizeof tmp, "%s/.tenants.tmp", dir);
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) return err_set(-errno, "%s: %s", dir, strerror(errno));
  buf_t text = {0};
  int rc = 0;
  for (size_t i = 0; !rc && i < t->len; i++) rc = buf_printf(&text, "%s\n", t->dids[i]);
  int fd = rc ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (!rc && fd < 0) rc = err_set(-errno, "%s: %s", tmp, strerror(errno));
  if (!rc) rc = write_file(fd, text.data, text.len, tmp);
  if (!rc && fsync(fd) != 0) rc = err_set(-errno, "fsync %s: %s", tmp, strerror(errno));
  if (fd >= 0 && close(fd) != 0 && !rc) rc = err_set(-errno, "%s: %s", tmp, strerror(errno));
  if (!rc && rename(tmp, path) != 0) rc = err_set(-errno, "%s: %s", path, strerror(errno));
  if (rc && fd >= 0) unlink(tmp);
  int dfd = rc ? -1 : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    if (fsync(dfd) != 0) rc = err_set(-errno, "fsync %s: %s", dir, strerror(errno));
    close(dfd);
  }
  buf_free(&text);
  return rc;
}

void dwn_tenants_free(dwn_tenants_t *t) {
  if (!t) return;
  buf_free(&t->text);
  t->len = 0;
}

/* Pin policies with source "dwn" (policy.h): large record data under a
 * matching protocol is pinned as "<policy>/<recordId>". */
static void pin_record_data(void *ctx, const char *tenant, const json_t *write, const cid_t *data_cid, uint64_t size) {
  (void)tenant;
  repo_t *r = ctx;
  const char *protocol = json_string_value(json_object_get(json_object_get(write, "descriptor"), "protocol"));
  policy_event_t ev = {.source = POLICY_SOURCE_DWN, .dwn_protocol = protocol, .size = size};
  int rc = policy_apply(&r->policies, &ev, r->pins, json_string_value(json_object_get(write, "recordId")), data_cid, NULL);
  if (rc)
    log_kv(LOG_LEVEL_WARN, "dwn", ((log_kv_t[]){LOG_STR("protocol", protocol ? protocol : ""), LOG_STR("error", err_msg(rc))}),
           "pin policy could not pin record data");
}

int dwn_open_repo(repo_t *r, dwn_t **out) {
  char dir[DWN_REPO_DIR_BYTES];
  dwn_repo_dir(r, dir);
  dwn_tenants_t *t = calloc(1, sizeof *t);
  if (!t) return -ENOMEM;
  int rc = dwn_tenants_load(r, t);
  dwn_options_t opts = {.dir = dir, .bs = r->bs, .tenants = t->dids, .tenants_len = t->len,
                        .data_stored = pin_record_data, .data_stored_ctx = r};
  if (!rc) rc = dwn_open(&opts, out);
  dwn_tenants_free(t);
  free(t);
  return rc;
}
