/* dwn/data_schema: see data_schema.h.  The registry is a small array of
 * (uri, compiled schema) behind a read-write lock, mirrored by one file per
 * URI under <dir>/schemas/. */
#include "dwn/data_schema.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "buf.h"
#include "dwn/handlers.h"
#include "dwn/jsonschema.h"
#include "dwn/url.h"
#include "err.h"
#include "exporter.h"

#define SCHEMAS_SUBDIR "schemas"
#define FILE_NAME_BYTES (SHA256_DIGEST_LENGTH * 2 + sizeof ".json")

typedef struct entry {
  char *uri;
  jsonschema_t *schema;
} entry_t;

struct dwn_data_schemas {
  char *dir;                 /* <dwn dir>/schemas */
  pthread_rwlock_t lock;
  entry_t *entries;          /* DWN_DATA_SCHEMAS_MAX slots */
  size_t len;
};

static void file_name(const char *uri, char out[FILE_NAME_BYTES]) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256((const uint8_t *)uri, strlen(uri), digest);
  for (size_t i = 0; i < sizeof digest; i++) snprintf(out + 2 * i, 3, "%02x", digest[i]);
  strcpy(out + 2 * SHA256_DIGEST_LENGTH, ".json");
}

static entry_t *find(dwn_data_schemas_t *s, const char *uri) {
  for (size_t i = 0; i < s->len; i++)
    if (strcmp(s->entries[i].uri, uri) == 0) return &s->entries[i];
  return NULL;
}

/* Puts (uri, schema) in memory, replacing an entry of the same uri; takes schema. */
static int put(dwn_data_schemas_t *s, const char *uri, jsonschema_t *schema) {
  entry_t *e = find(s, uri);
  if (e) {
    jsonschema_free(e->schema);
    e->schema = schema;
    return 0;
  }
  if (s->len >= DWN_DATA_SCHEMAS_MAX) {
    jsonschema_free(schema);
    return err_set(-E2BIG, "more than %d data schemas", DWN_DATA_SCHEMAS_MAX);
  }
  char *copy = strdup(uri);
  if (!copy) {
    jsonschema_free(schema);
    return -ENOMEM;
  }
  s->entries[s->len++] = (entry_t){copy, schema};
  return 0;
}

static int check_uri(const char *uri) {
  size_t len = uri ? strlen(uri) : 0;
  if (len == 0 || len > DWN_DATA_SCHEMA_URI_BYTES_MAX)
    return err_set(-EINVAL, "schema URI empty or longer than %d bytes", DWN_DATA_SCHEMA_URI_BYTES_MAX);
  if (!dwn_url_is_normalized(uri, len)) return err_set(-EINVAL, "schema URI '%s' is not normalised", uri);
  return 0;
}

/* Reads and compiles one registry file. */
static int load_file(dwn_data_schemas_t *s, const char *name) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", s->dir, name);
  struct stat st;
  if (stat(path, &st) != 0) return err_set(-errno, "%s: %s", path, strerror(errno));
  if (st.st_size > (off_t)DWN_DATA_SCHEMA_DOC_BYTES_MAX)
    return err_set(-E2BIG, "%s: more than %u bytes", path, DWN_DATA_SCHEMA_DOC_BYTES_MAX);
  json_error_t error;
  json_t *file = json_load_file(path, JSON_DECODE_INT_AS_REAL, &error);
  if (!file) return err_set(-EINVAL, "%s: %s", path, error.text);
  const char *uri = json_string_value(json_object_get(file, "uri"));
  const json_t *document = json_object_get(file, "schema");
  char expected[FILE_NAME_BYTES];
  int rc = 0;
  if (!uri || !document) rc = err_set(-EINVAL, "%s: not {uri, schema}", path);
  if (!rc && (rc = check_uri(uri))) rc = err_set(rc, "%s: %s", path, err_msg(rc));
  if (!rc) {
    file_name(uri, expected);
    if (strcmp(expected, name) != 0) rc = err_set(-EINVAL, "%s: named for another URI than %s", path, uri);
  }
  jsonschema_t *schema = NULL;
  if (!rc && (rc = jsonschema_compile(document, &schema))) rc = err_set(rc, "%s: %s", path, err_msg(rc));
  if (!rc) rc = put(s, uri, schema);
  json_decref(file);
  return rc;
}

int dwn_data_schemas_open(const char *dir, dwn_data_schemas_t **out) {
  assert(dir && out);
  *out = NULL;
  dwn_data_schemas_t *s = calloc(1, sizeof *s);
  if (!s) return -ENOMEM;
  pthread_rwlock_init(&s->lock, NULL);
  int rc = 0;
  buf_t path = {0};
  if (buf_printf(&path, "%s/" SCHEMAS_SUBDIR, dir) || !(s->entries = calloc(DWN_DATA_SCHEMAS_MAX, sizeof *s->entries)))
    rc = -ENOMEM;
  s->dir = (char *)path.data;
  DIR *d = rc ? NULL : opendir(s->dir);
  if (!rc && !d && errno != ENOENT) rc = err_set(-errno, "%s: %s", s->dir, strerror(errno));
  size_t files = 0;
  for (struct dirent *ent; !rc && d && (ent = readdir(d));) {
    size_t len = strlen(ent->d_name);
    if (len != FILE_NAME_BYTES - 1 || strcmp(ent->d_name + len - 5, ".json") != 0) continue; /* temporaries, . .. */
    if (++files > DWN_DATA_SCHEMAS_MAX) rc = err_set(-E2BIG, "%s: more than %d schemas", s->dir, DWN_DATA_SCHEMAS_MAX);
    else rc = load_file(s, ent->d_name);
  }
  if (d) closedir(d);
  if (rc) {
    dwn_data_schemas_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

void dwn_data_schemas_close(dwn_data_schemas_t *s) {
  if (!s) return;
  for (size_t i = 0; i < s->len; i++) {
    free(s->entries[i].uri);
    jsonschema_free(s->entries[i].schema);
  }
  free(s->entries);
  free(s->dir);
  pthread_rwlock_destroy(&s->lock);
  free(s);
}

static int fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return err_set(-errno, "%s: %s", dir, strerror(errno));
  int rc = fsync(fd) ? err_set(-errno, "fsync %s: %s", dir, strerror(errno)) : 0;
  close(fd);
  return rc;
}

/* mkdir -p of the registry directory (and the DWN directory above it). */
static int make_dirs(const char *dir) {
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s", dir);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) {
    *slash = '\0';
    if (mkdir(parent, 0755) != 0 && errno != EEXIST) return err_set(-errno, "%s: %s", parent, strerror(errno));
  }
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) return err_set(-errno, "%s: %s", dir, strerror(errno));
  return 0;
}

static int write_atomic(const char *dir, const char *name, const char *text) {
  char path[PATH_MAX], tmp[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(tmp, sizeof tmp, "%s/.%s.%ld.tmp", dir, name, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return err_set(-errno, "%s: %s", tmp, strerror(errno));
  size_t len = strlen(text), done = 0;
  int rc = 0;
  while (!rc && done < len) {
    ssize_t n = write(fd, text + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) rc = err_set(n < 0 ? -errno : -EIO, "%s: write failed", tmp);
    else done += (size_t)n;
  }
  if (!rc && fsync(fd) != 0) rc = err_set(-errno, "fsync %s: %s", tmp, strerror(errno));
  if (close(fd) != 0 && !rc) rc = err_set(-errno, "%s: %s", tmp, strerror(errno));
  if (!rc && rename(tmp, path) != 0) rc = err_set(-errno, "rename %s: %s", path, strerror(errno));
  if (rc) unlink(tmp);
  return rc ? rc : fsync_dir(dir);
}

int dwn_data_schema_add(dwn_data_schemas_t *s, const char *uri, const json_t *document) {
  assert(s && document);
  int rc = check_uri(uri);
  if (rc) return rc;
  jsonschema_t *schema = NULL;
  if ((rc = jsonschema_compile(document, &schema))) return rc;
  json_t *file = json_pack("{s:s,s:O}", "uri", uri, "schema", document);
  char *text = file ? json_dumps(file, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(file);
  if (!text) rc = -ENOMEM;
  else if (strlen(text) > DWN_DATA_SCHEMA_DOC_BYTES_MAX)
    rc = err_set(-E2BIG, "schema of %s: more than %u bytes", uri, DWN_DATA_SCHEMA_DOC_BYTES_MAX);
  char name[FILE_NAME_BYTES];
  file_name(uri, name);
  pthread_rwlock_wrlock(&s->lock);
  if (!rc && !find(s, uri) && s->len >= DWN_DATA_SCHEMAS_MAX)
    rc = err_set(-E2BIG, "more than %d data schemas", DWN_DATA_SCHEMAS_MAX);
  if (!rc) rc = make_dirs(s->dir);
  if (!rc) rc = write_atomic(s->dir, name, text);
  if (!rc) {
    rc = put(s, uri, schema);
    schema = NULL;
  }
  pthread_rwlock_unlock(&s->lock);
  jsonschema_free(schema);
  free(text);
  return rc;
}

int dwn_data_schema_remove(dwn_data_schemas_t *s, const char *uri) {
  assert(s && uri);
  pthread_rwlock_wrlock(&s->lock);
  entry_t *e = find(s, uri);
  int rc = e ? 0 : err_set(-ENOENT, "no data schema registered for %s", uri);
  if (!rc) {
    char name[FILE_NAME_BYTES], path[PATH_MAX];
    file_name(uri, name);
    snprintf(path, sizeof path, "%s/%s", s->dir, name);
    if (unlink(path) != 0 && errno != ENOENT) rc = err_set(-errno, "%s: %s", path, strerror(errno));
    if (!rc) rc = fsync_dir(s->dir);
  }
  if (!rc) {
    free(e->uri);
    jsonschema_free(e->schema);
    *e = s->entries[--s->len];
  }
  pthread_rwlock_unlock(&s->lock);
  return rc;
}

static int by_text(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int dwn_data_schema_list(dwn_data_schemas_t *s, json_t **out) {
  assert(s && out);
  pthread_rwlock_rdlock(&s->lock);
  const char **uris = calloc(s->len + 1, sizeof *uris);
  size_t n = s->len;
  for (size_t i = 0; uris && i < n; i++) uris[i] = s->entries[i].uri;
  if (uris) qsort(uris, n, sizeof *uris, by_text);
  json_t *list = uris ? json_array() : NULL;
  for (size_t i = 0; list && i < n; i++)
    if (json_array_append_new(list, json_string(uris[i]))) {
      json_decref(list);
      list = NULL;
    }
  pthread_rwlock_unlock(&s->lock);
  free(uris);
  *out = list;
  return list ? 0 : -ENOMEM;
}

int dwn_data_schema_validate(dwn_data_schemas_t *s, const char *uri, const json_t *data, char *detail,
                             size_t detail_bytes) {
  assert(s && uri && data);
  pthread_rwlock_rdlock(&s->lock);
  entry_t *e = find(s, uri);
  int rc = e ? jsonschema_validate(e->schema, data, detail, detail_bytes) : -ENOENT;
  pthread_rwlock_unlock(&s->lock);
  return rc;
}

static bool is_registered(dwn_data_schemas_t *s, const char *uri) {
  pthread_rwlock_rdlock(&s->lock);
  bool found = find(s, uri) != NULL;
  pthread_rwlock_unlock(&s->lock);
  return found;
}

/* The stored DAG's bytes (at most DWN_DATA_SCHEMA_BYTES_MAX + 1, to tell "too large"). */
static int read_stored(dwn_t *d, const cid_t *cid, buf_t *out) {
  if (!d->bs) return err_set(-EINVAL, "data schema check: record data in a block store the engine does not have");
  block_source_t src = bs_source(d->bs);
  exp_file_t *f;
  int rc = exp_open(&src, cid, &f);
  if (rc) return rc;
  uint64_t size = exp_size(f);
  size_t want = size > DWN_DATA_SCHEMA_BYTES_MAX ? DWN_DATA_SCHEMA_BYTES_MAX + 1 : (size_t)size;
  rc = buf_reserve(out, want);
  if (!rc) {
    ssize_t n = exp_pread(f, out->data, want, 0);
    if (n < 0) rc = (int)n;
    else out->len = (size_t)n;
  }
  exp_close(f);
  return rc;
}

int dwn_data_schema_check(struct dwn *d, const json_t *write, const uint8_t *inline_data, size_t inline_len,
                          const cid_t *stored_cid, dwn_status_t *st) {
  assert(d && write);
  dwn_data_schemas_t *s = d->schemas;
  const json_t *descriptor = json_object_get(write, "descriptor");
  const char *uri = json_string_value(json_object_get(descriptor, "schema"));
  const char *format = json_string_value(json_object_get(descriptor, "dataFormat"));
  if (!s || !uri || !format || strcmp(format, "application/json") != 0 || !is_registered(s, uri)) return 0;
  if (!inline_data && !stored_cid) return 0;
  buf_t stored = {0};
  int rc = 0;
  if (!inline_data) {
    if ((rc = read_stored(d, stored_cid, &stored))) {
      buf_free(&stored);
      return rc;
    }
    inline_data = stored.data;
    inline_len = stored.len;
  }
  if (inline_len > DWN_DATA_SCHEMA_BYTES_MAX) {
    buf_free(&stored);
    return dwn_status_fail(st, 400, "AnyaDataSchemaInvalid", "(root): data larger than %u bytes cannot be validated",
                           DWN_DATA_SCHEMA_BYTES_MAX);
  }
  json_error_t error;
  json_t *data = json_loadb((const char *)inline_data, inline_len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &error);
  buf_free(&stored);
  if (!data) return dwn_status_fail(st, 400, "AnyaDataSchemaInvalid", "(root): data is not JSON: %s", error.text);
  char detail[JSONSCHEMA_DETAIL_BYTES_MAX];
  rc = dwn_data_schema_validate(s, uri, data, detail, sizeof detail);
  json_decref(data);
  if (rc == 1) return dwn_status_fail(st, 400, "AnyaDataSchemaInvalid", "%s", detail);
  return rc == -ENOENT ? 0 : rc; /* removed meanwhile: nothing to check */
}
