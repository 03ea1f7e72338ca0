/*
 * remote: `anya` through the daemon's RPC (remote.h).  One libcurl easy
 * handle per command; request bodies (add, block put) are curl MIME parts
 * streamed from the files (nothing is read into memory whole); answers are
 * read as they arrive: JSON lines handed to a per-command printer, bytes
 * written to stdout, or a tar stream unpacked (untar.h).
 */
#include "remote.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "err.h"
#include "untar.h"

#define REMOTE_URL_BYTES_MAX 512
#define REMOTE_TOKEN_BYTES_MAX 1024
#define REMOTE_ERROR_BYTES_MAX 65536
#define REMOTE_LINE_BYTES_MAX (16u << 20) /* one JSON line (an ls of a huge directory without stream) */
#define REMOTE_CONNECT_TIMEOUT_MS 2000

static struct {
  int active; /* -1 undecided, 0 direct, 1 through the daemon */
  char base[REMOTE_URL_BYTES_MAX];
  char token[REMOTE_TOKEN_BYTES_MAX];
} remote = {.active = -1};

/* ---- detection -------------------------------------------------------------- */

/* Whether host:port accepts a TCP connection within the timeout. */
static bool reachable(const char *host, const char *port) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
  if (getaddrinfo(host, port, &hints, &res) != 0) return false;
  bool ok = false;
  for (struct addrinfo *ai = res; ai && !ok; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      ok = true;
    } else if (errno == EINPROGRESS) {
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      int err = 0;
      socklen_t len = sizeof err;
      ok = poll(&p, 1, REMOTE_CONNECT_TIMEOUT_MS) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
           err == 0;
    }
    close(fd);
  }
  freeaddrinfo(res);
  return ok;
}

static void load_token(const char *repo) {
  const char *env = getenv("ANYA_RPC_TOKEN");
  if (env) {
    snprintf(remote.token, sizeof remote.token, "%s", env);
    return;
  }
  char path[REPO_PATH_BYTES_MAX + 16];
  snprintf(path, sizeof path, "%s/config.toml", repo);
  config_t *cfg;
  if (config_new(&cfg)) return;
  if (config_load_file(cfg, path) == 0) snprintf(remote.token, sizeof remote.token, "%s", config_string(cfg, "security.rpc_token"));
  config_free(cfg);
  err_clear();
}

bool remote_active(void) {
  if (remote.active >= 0) return remote.active == 1;
  remote.active = 0;
  char repo[REPO_PATH_BYTES_MAX], path[REPO_PATH_BYTES_MAX + 8];
  if (repo_default_path(global_repo, repo)) return false;
  snprintf(path, sizeof path, "%s/api", repo);
  FILE *f = fopen(path, "r");
  if (!f) return false;
  char line[REMOTE_URL_BYTES_MAX] = "";
  bool got = fgets(line, sizeof line, f) != NULL;
  fclose(f);
  line[strcspn(line, "\r\n")] = '\0';
  if (!got || strncmp(line, "http://", 7) != 0) return false;
  /* http://HOST:PORT or http://[V6]:PORT */
  char host[256], port[16];
  const char *h = line + 7, *end = h + strcspn(h, "/");
  const char *colon = *h == '[' ? strchr(h, ']') : memchr(h, ':', (size_t)(end - h));
  if (*h == '[' && colon) colon = colon[1] == ':' ? colon + 1 : NULL;
  if (!colon || colon >= end) return false;
  size_t hl = (size_t)(colon - h);
  if (*h == '[') h++, hl -= 2;
  if (hl == 0 || hl >= sizeof host || (size_t)(end - colon - 1) >= sizeof port) return false;
  memcpy(host, h, hl), host[hl] = '\0';
  memcpy(port, colon + 1, (size_t)(end - colon - 1)), port[end - colon - 1] = '\0';
  if (!reachable(host, port)) return false; /* stale: a crashed daemon's file */
  snprintf(remote.base, sizeof remote.base, "%.*s", (int)(end - line), line);
  load_token(repo);
  remote.active = 1;
  return true;
}

/* ---- one call ------------------------------------------------------------------ */

enum out_mode { OUT_LINES, OUT_FD, OUT_TAR, OUT_DWN /* a line to stdout, then bytes to a file */ };

typedef int (*line_fn)(void *ctx, json_t *o);

typedef struct call {
  CURL *curl;
  buf_t query;
  curl_mime *mime;
  enum out_mode mode;
  int fd;
  line_fn line;
  void *ctx;
  untar_t *tar;
  const char *out_path; /* OUT_DWN: where the bytes after the line go */
  bool line_done;
  long status;
  buf_t err;
  buf_t pending; /* a partial line */
  int rc;
} call_t;

static int call_init(call_t *c, enum out_mode mode) {
  memset(c, 0, sizeof *c);
  c->mode = mode;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  c->curl = curl_easy_init();
  return c->curl ? 0 : err_set(-ENOMEM, "cannot start libcurl");
}

static void call_free(call_t *c) {
  if (c->mime) curl_mime_free(c->mime);
  if (c->curl) curl_easy_cleanup(c->curl);
  buf_free(&c->query);
  buf_free(&c->err);
  buf_free(&c->pending);
}

static int q_add(call_t *c, const char *key, const char *value) {
  char *v = curl_easy_escape(c->curl, value, 0);
  if (!v) return -ENOMEM;
  int rc = buf_printf(&c->query, "%s%s=%s", c->query.len ? "&" : "", key, v);
  curl_free(v);
  return rc;
}

static int one_line(call_t *c, const char *text, size_t len) {
  if (len == 0) return 0;
  json_error_t jerr;
  json_t *o = json_loadb(text, len, 0, &jerr);
  if (!json_is_object(o)) {
    json_decref(o);
    return err_set(-EPROTO, "the daemon sent a malformed answer");
  }
  const char *type = json_string_value(json_object_get(o, "Type"));
  const char *message = json_string_value(json_object_get(o, "Message"));
  int rc = type && message && strcmp(type, "error") == 0 ? err_set(-EIO, "%s", message) : c->line ? c->line(c->ctx, o) : 0;
  json_decref(o);
  return rc;
}

static size_t on_write(char *data, size_t size, size_t n, void *ud) {
  call_t *c = ud;
  size_t len = size * n;
  if (c->rc) return 0;
  if (!c->status) curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
  if (c->status != 200) {
    if (c->err.len + len <= REMOTE_ERROR_BYTES_MAX) buf_append(&c->err, data, len);
    return len;
  }
  switch (c->mode) {
    case OUT_FD:
      c->rc = write_all(c->fd, data, len);
      break;
    case OUT_TAR:
      c->rc = untar_feed(c->tar, data, len);
      break;
    case OUT_DWN: {
      size_t i = 0;
      if (!c->line_done) {
        const char *nl = memchr(data, '\n', len);
        i = nl ? (size_t)(nl - data) + 1 : len;
        if (c->pending.len + i > REMOTE_LINE_BYTES_MAX) c->rc = err_set(-E2BIG, "the daemon's answer has a line too long");
        else c->rc = buf_append(&c->pending, data, i);
        if (!c->rc && nl) c->rc = write_all(1, c->pending.data, c->pending.len), c->line_done = true;
      }
      if (!c->rc && i < len && c->out_path) {
        if (c->fd < 0 && (c->fd = open(c->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
          c->rc = err_set(-errno, "%s: %s", c->out_path, strerror(errno));
        if (!c->rc) c->rc = write_all(c->fd, data + i, len - i);
      }
      break;
    }
    case OUT_LINES: {
      size_t start = 0;
      for (size_t i = 0; i < len && !c->rc; i++) {
        if (data[i] != '\n') continue;
        if (c->pending.len) {
          c->rc = buf_append(&c->pending, data + start, i - start);
          if (!c->rc) c->rc = one_line(c, (const char *)c->pending.data, c->pending.len);
          buf_reset(&c->pending);
        } else {
          c->rc = one_line(c, data + start, i - start);
        }
        start = i + 1;
      }
      if (!c->rc && start < len) {
        if (c->pending.len + len - start > REMOTE_LINE_BYTES_MAX) c->rc = err_set(-E2BIG, "the daemon's answer has a line too long");
        else c->rc = buf_append(&c->pending, data + start, len - start);
      }
      break;
    }
  }
  return c->rc ? 0 : len;
}

/* The message of a failed answer: Kubo's {"Message"} or the server's {"error"}. */
static int status_error(call_t *c) {
  json_t *o = json_loadb((const char *)c->err.data, c->err.len, 0, NULL);
  const char *m = json_string_value(json_object_get(o, "Message"));
  if (!m) m = json_string_value(json_object_get(o, "error"));
  int rc = m ? err_set(-EIO, "%s", m) : err_set(-EIO, "the daemon answered HTTP %ld", c->status);
  json_decref(o);
  return rc;
}

static int call_run(call_t *c, const char *cmd) {
  char *url;
  if (asprintf(&url, "%s/api/v0/%s%s%s", remote.base, cmd, c->query.len ? "?" : "",
               c->query.len ? (const char *)buf_cstr(&c->query) : "") < 0)
    return -ENOMEM;
  struct curl_slist *headers = NULL;
  char auth[REMOTE_TOKEN_BYTES_MAX + 32];
  if (remote.token[0]) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", remote.token);
    headers = curl_slist_append(headers, auth);
  }
  headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
  curl_easy_setopt(c->curl, CURLOPT_URL, url);
  curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
  curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "anya/" ANYA_VERSION);
  if (c->mime) curl_easy_setopt(c->curl, CURLOPT_MIMEPOST, c->mime);
  else curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, ""), curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, 0L);
  CURLcode res = curl_easy_perform(c->curl);
  curl_slist_free_all(headers);
  free(url);
  if (!c->status) curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
  if (c->rc) return c->rc;
  if (res == CURLE_OK && c->status != 200) return status_error(c);
  if (res != CURLE_OK)
    return err_set(-EIO, "the daemon at %s: %s", remote.base,
                   res == CURLE_PARTIAL_FILE ? "the answer ended early (see the daemon's log)" : curl_easy_strerror(res));
  if (c->mode == OUT_DWN && !c->line_done) return err_set(-EPROTO, "the daemon's DWN answer has no reply line");
  if (c->mode == OUT_LINES && c->pending.len) {
    int rc = one_line(c, (const char *)c->pending.data, c->pending.len);
    buf_reset(&c->pending);
    if (rc) return rc;
  }
  return 0;
}

static const char *jstr(json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "";
}

static uint64_t jnum(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (json_is_integer(v)) return (uint64_t)json_integer_value(v);
  if (json_is_string(v)) return strtoull(json_string_value(v), NULL, 10);
  return 0;
}

/* ---- add ---------------------------------------------------------------------------- */

typedef struct add_out {
  const remote_add_opts_t *o;
  char last[CID_TEXT_BYTES_MAX];
  char current[PATH_MAX]; /* the file whose Bytes came last */
  uint64_t done_before, current_bytes;
} add_out_t;

static int add_line(void *ctx, json_t *o) {
  add_out_t *a = ctx;
  if (json_object_get(o, "Bytes")) {
    if (!a->o->progress->enabled) return 0;
    const char *name = jstr(o, "Name");
    if (strcmp(name, a->current) != 0) {
      a->done_before += a->current_bytes;
      snprintf(a->current, sizeof a->current, "%s", name);
    }
    a->current_bytes = jnum(o, "Bytes");
    progress_draw(a->o->progress, a->done_before + a->current_bytes, false);
    return 0;
  }
  const char *hash = jstr(o, "Hash");
  if (!*hash) return err_set(-EPROTO, "the daemon's add answer has no Hash");
  snprintf(a->last, sizeof a->last, "%s", hash);
  if (!a->o->quieter) print_added(a->o->progress, hash, jstr(o, "Name"), a->o->quiet);
  return 0;
}

/* filename= for a path: %-encoded but for unreserved bytes and '/'. */
static char *encode_path(const char *path) {
  static const char hex[] = "0123456789ABCDEF";
  size_t len = strlen(path);
  char *out = malloc(len * 3 + 1), *w = out;
  if (!out) return NULL;
  for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-_.~/", *p)) {
      *w++ = (char)*p;
    } else {
      *w++ = '%', *w++ = hex[*p >> 4], *w++ = hex[*p & 15];
    }
  }
  *w = '\0';
  return out;
}

static size_t read_fd(char *buffer, size_t size, size_t n, void *arg) {
  int fd = *(int *)arg;
  for (;;) {
    ssize_t got = read(fd, buffer, size * n);
    if (got < 0 && errno == EINTR) continue;
    return got < 0 ? CURL_READFUNC_ABORT : (size_t)got;
  }
}

typedef struct walker {
  curl_mime *mime;
  bool hidden;
  char fspath[PATH_MAX];
  char display[PATH_MAX];
} walker_t;

static int part(walker_t *w, const char *type, const char *data, size_t data_len, bool from_file) {
  curl_mimepart *p = curl_mime_addpart(w->mime);
  char *name = encode_path(w->display);
  if (!p || !name) return free(name), -ENOMEM;
  CURLcode res = from_file ? curl_mime_filedata(p, w->fspath) : curl_mime_data(p, data, data_len);
  if (res == CURLE_OK) res = curl_mime_name(p, "file");
  if (res == CURLE_OK) res = curl_mime_filename(p, name);
  if (res == CURLE_OK) res = curl_mime_type(p, type);
  free(name);
  return res == CURLE_OK ? 0 : err_set(-EIO, "%s: %s", w->fspath, curl_easy_strerror(res));
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int walk(walker_t *w, int depth);

/* Adds the entry at w->fspath (named w->display) as a part; directories recursively. */
static int entry(walker_t *w, int depth, bool top) {
  struct stat st;
  if (lstat(w->fspath, &st) != 0) return err_set(-errno, "%s: %s", w->fspath, strerror(errno));
  if (S_ISDIR(st.st_mode)) {
    int rc = part(w, "application/x-directory", "", 0, false);
    return rc ? rc : walk(w, depth + 1);
  }
  if (S_ISLNK(st.st_mode)) {
    char target[65536];
    ssize_t n = readlink(w->fspath, target, sizeof target);
    if (n < 0) return err_set(-errno, "%s: %s", w->fspath, strerror(errno));
    if ((size_t)n == sizeof target) return err_set(-ENAMETOOLONG, "%s: symlink target too long", w->fspath);
    return part(w, "application/symlink", target, (size_t)n, false);
  }
  if (S_ISREG(st.st_mode) || (top && S_ISFIFO(st.st_mode))) return part(w, "application/octet-stream", NULL, 0, true);
  return err_set(-EINVAL, "%s: unrecognized file type (not a file, directory or symlink)", w->fspath);
}

static int walk(walker_t *w, int depth) {
  if (depth > IMP_DEPTH_MAX)
    return err_set(-ELOOP, "%s: directories nested deeper than %d", w->fspath, IMP_DEPTH_MAX);
  DIR *dir = opendir(w->fspath);
  if (!dir) return err_set(-errno, "%s: %s", w->fspath, strerror(errno));
  char **names = NULL;
  size_t len = 0, cap = 0;
  int rc = 0;
  struct dirent *de;
  while (!rc && (de = readdir(dir))) {
    const char *n = de->d_name;
    if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || (n[0] == '.' && !w->hidden)) continue;
    if (len == cap) {
      char **grown = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
      if (!grown) { rc = -ENOMEM; break; }
      names = grown;
    }
    if (!(names[len] = strdup(n))) rc = -ENOMEM;
    else len++;
  }
  closedir(dir);
  if (!rc && len > 1) qsort(names, len, sizeof *names, cmp_str);
  size_t fl = strlen(w->fspath), dl = strlen(w->display);
  for (size_t i = 0; i < len && !rc; i++) {
    if (fl + 1 + strlen(names[i]) >= sizeof w->fspath || dl + 1 + strlen(names[i]) >= sizeof w->display) {
      rc = err_set(-ENAMETOOLONG, "%s/%s: path too long", w->fspath, names[i]);
      break;
    }
    snprintf(w->fspath + fl, sizeof w->fspath - fl, "/%s", names[i]);
    snprintf(w->display + dl, sizeof w->display - dl, "/%s", names[i]);
    rc = entry(w, depth, false);
    w->fspath[fl] = '\0', w->display[dl] = '\0';
  }
  for (size_t i = 0; i < len; i++) free(names[i]);
  free(names);
  return rc;
}

typedef struct top {
  char *path;
  const char *base;
  size_t dir_len;
} top_t;

static int top_cmp(const void *a, const void *b) { return strcmp(((const top_t *)a)->base, ((const top_t *)b)->base); }

int remote_add(const remote_add_opts_t *o) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  if (rc) return rc;
  add_out_t out = {.o = o};
  c.line = add_line, c.ctx = &out;
  const imp_options_t *io = o->io;
  char num[24];
  snprintf(num, sizeof num, "%u", io->cid_version);
  rc = q_add(&c, "cid-version", num);
  if (!rc && io->raw_leaves >= 0) rc = q_add(&c, "raw-leaves", io->raw_leaves ? "true" : "false");
  snprintf(num, sizeof num, "size-%u", io->chunk_bytes);
  if (!rc) rc = q_add(&c, "chunker", num);
  if (!rc && io->trickle) rc = q_add(&c, "trickle", "true");
  if (!rc && io->wrap) rc = q_add(&c, "wrap-with-directory", "true");
  if (!rc && o->pin) rc = q_add(&c, "pin", o->pin);
  if (!rc && o->progress->enabled) rc = q_add(&c, "progress", "true");
  c.mime = curl_mime_init(c.curl);
  if (!rc && !c.mime) rc = -ENOMEM;
  int stdin_fd = 0;
  top_t *tops = calloc(o->paths_len ? o->paths_len : 1, sizeof *tops);
  size_t tops_len = 0;
  if (!rc && !tops) rc = -ENOMEM;
  if (!rc && o->paths_len == 0) {
    curl_mimepart *p = curl_mime_addpart(c.mime);
    if (!p || curl_mime_name(p, "file") || curl_mime_type(p, "application/octet-stream") ||
        curl_mime_data_cb(p, -1, read_fd, NULL, NULL, &stdin_fd))
      rc = -ENOMEM;
  }
  /* the arguments as the importer takes them: cleaned, named by their last
   * element, a name repeated from one directory once, sorted by name */
  for (size_t i = 0; i < o->paths_len && !rc; i++) {
    top_t t = {imp_clean_path(o->paths[i]), NULL, 0};
    if (!t.path) { rc = -ENOMEM; break; }
    if (strcmp(t.path, ".") == 0) {
      free(t.path);
      if (!(t.path = realpath(".", NULL))) { rc = err_set(-errno, ".: %s", strerror(errno)); break; }
    }
    char *slash = strrchr(t.path, '/');
    t.base = slash && slash[1] ? slash + 1 : t.path;
    t.dir_len = (size_t)(t.base - t.path);
    bool skip = false;
    for (size_t j = 0; j < tops_len && !rc; j++) {
      if (strcmp(tops[j].base, t.base) != 0) continue;
      if (tops[j].dir_len == t.dir_len && memcmp(tops[j].path, t.path, t.dir_len) == 0) skip = true;
      else
        rc = err_set(-EINVAL, "file name %s repeated under different import directories: %.*s and %.*s", t.base,
                     (int)t.dir_len, t.path, (int)tops[j].dir_len, tops[j].path);
    }
    if (skip || rc) free(t.path);
    else tops[tops_len++] = t;
  }
  if (!rc && tops_len > 1) qsort(tops, tops_len, sizeof *tops, top_cmp);
  walker_t *w = calloc(1, sizeof *w);
  if (!w) rc = rc ? rc : -ENOMEM;
  for (size_t i = 0; i < tops_len && !rc; i++) {
    w->mime = c.mime;
    w->hidden = io->hidden;
    if (strlen(tops[i].path) >= sizeof w->fspath) { rc = err_set(-ENAMETOOLONG, "%s: path too long", tops[i].path); break; }
    snprintf(w->fspath, sizeof w->fspath, "%s", tops[i].path);
    snprintf(w->display, sizeof w->display, "%s", tops[i].base);
    rc = entry(w, io->wrap ? 1 : 0, true);
  }
  free(w);
  if (!rc) rc = call_run(&c, "add");
  progress_clear(o->progress);
  if (!rc && o->quieter) printf("%s\n", out.last);
  for (size_t i = 0; i < tops_len; i++) free(tops[i].path);
  free(tops);
  call_free(&c);
  return rc;
}

/* ---- cat, get, ls --------------------------------------------------------------------- */

/* One request a path: a failure stops after the paths before it were
 * printed, as the direct path does. */
int remote_cat(const char *const *paths, size_t len, uint64_t offset, uint64_t length) {
  int rc = 0;
  for (size_t i = 0; i < len && !rc; i++) {
    call_t c;
    rc = call_init(&c, OUT_FD);
    c.fd = 1;
    char num[24];
    if (!rc) rc = q_add(&c, "arg", paths[i]);
    snprintf(num, sizeof num, "%llu", (unsigned long long)offset);
    if (!rc && offset) rc = q_add(&c, "offset", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)length);
    if (!rc && length != UINT64_MAX) rc = q_add(&c, "length", num);
    if (!rc) rc = call_run(&c, "cat");
    call_free(&c);
  }
  return rc;
}

typedef struct unpack {
  const char *out;   /* where the top entry goes */
  char top[UNTAR_PATH_BYTES_MAX];
  bool have_top;
  int fd;
  char path[PATH_MAX];
} unpack_t;

/* The local path of a tar entry: the first entry is the top (written at
 * out), every other one lies under it; no "", ".", ".." elements. */
static int unpack_path(unpack_t *u, const char *name, char *out, size_t cap) {
  char clean[UNTAR_PATH_BYTES_MAX];
  snprintf(clean, sizeof clean, "%s", name);
  size_t len = strlen(clean);
  while (len && clean[len - 1] == '/') clean[--len] = '\0';
  if (!len || clean[0] == '/') return err_set(-EINVAL, "refusing the tar entry '%s'", name);
  for (char *p = clean; *p;) {
    char *e = strchrnul(p, '/');
    size_t n = (size_t)(e - p);
    if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
      return err_set(-EINVAL, "refusing the unsafe tar entry '%s'", name);
    p = *e ? e + 1 : e;
  }
  if (!u->have_top) {
    if (strchr(clean, '/')) return err_set(-EINVAL, "the tar stream does not start with its top entry");
    snprintf(u->top, sizeof u->top, "%s", clean);
    u->have_top = true;
    return snprintf(out, cap, "%s", u->out) < (int)cap ? 0 : -ENAMETOOLONG;
  }
  size_t tl = strlen(u->top);
  if (strncmp(clean, u->top, tl) != 0 || clean[tl] != '/')
    return err_set(-EINVAL, "the tar entry '%s' is outside its top entry", name);
  return snprintf(out, cap, "%s%s", u->out, clean + tl) < (int)cap ? 0 : err_set(-ENAMETOOLONG, "path too long");
}

static int unpack_begin(void *ctx, const untar_entry_t *e) {
  unpack_t *u = ctx;
  int rc = unpack_path(u, e->path, u->path, sizeof u->path);
  if (rc) return rc;
  if (e->type == '5') {
    if (mkdir(u->path, e->mode) != 0) return err_set(-errno, "cannot create %s: %s", u->path, strerror(errno));
  } else if (e->type == '2') {
    if (symlink(e->link, u->path) != 0) return err_set(-errno, "cannot create symlink %s: %s", u->path, strerror(errno));
  } else {
    u->fd = open(u->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, e->mode);
    if (u->fd < 0) return err_set(-errno, "cannot create %s: %s", u->path, strerror(errno));
  }
  return 0;
}

static int unpack_data(void *ctx, const uint8_t *data, size_t len) {
  unpack_t *u = ctx;
  return u->fd >= 0 ? write_all(u->fd, data, len) : 0;
}

static int unpack_end(void *ctx) {
  unpack_t *u = ctx;
  if (u->fd < 0) return 0;
  int rc = close(u->fd) == 0 ? 0 : err_set(-errno, "cannot close %s: %s", u->path, strerror(errno));
  u->fd = -1;
  return rc;
}

int remote_get(const char *path, const char *out) {
  call_t c;
  int rc = call_init(&c, OUT_TAR);
  unpack_t u = {.out = out, .fd = -1};
  untar_ops_t ops = {unpack_begin, unpack_data, unpack_end, &u};
  if (!rc) rc = untar_new(&ops, &c.tar);
  if (!rc) rc = q_add(&c, "arg", path);
  if (!rc) rc = call_run(&c, "get");
  if (!rc) rc = untar_finish(c.tar);
  if (u.fd >= 0) close(u.fd);
  untar_free(c.tar);
  call_free(&c);
  return rc;
}

static int ls_line(void *ctx, json_t *o) {
  json_t *objects = json_object_get(o, "Objects");
  for (size_t i = 0; i < json_array_size(objects); i++) {
    json_t *links = json_object_get(json_array_get(objects, i), "Links");
    for (size_t k = 0; k < json_array_size(links); k++) {
      json_t *l = json_array_get(links, k);
      print_ls_entry(jstr(l, "Hash"), jnum(l, "Type") == 1, jnum(l, "Size"), jstr(l, "Name"));
    }
  }
  return 0;
}

int remote_ls(const char *const *paths, size_t len) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  c.line = ls_line;
  if (!rc) rc = q_add(&c, "stream", "true");
  for (size_t i = 0; i < len && !rc; i++) rc = q_add(&c, "arg", paths[i]);
  if (!rc) rc = call_run(&c, "ls");
  call_free(&c);
  return rc;
}

/* ---- block ---------------------------------------------------------------------------- */

int remote_block_get(const char *cid) {
  call_t c;
  int rc = call_init(&c, OUT_FD);
  c.fd = 1;
  if (!rc) rc = q_add(&c, "arg", cid);
  if (!rc) rc = call_run(&c, "block/get");
  call_free(&c);
  return rc;
}

static int stat_line(void *ctx, json_t *o) {
  print_block_stat(jstr(o, "Key"), jnum(o, "Size"));
  return 0;
}

int remote_block_stat(const char *cid) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  c.line = stat_line;
  if (!rc) rc = q_add(&c, "arg", cid);
  if (!rc) rc = call_run(&c, "block/stat");
  call_free(&c);
  return rc;
}

static int rm_line(void *ctx, json_t *o) {
  if (*jstr(o, "Error")) return err_set(-EIO, "%s", jstr(o, "Error"));
  printf("removed %s\n", jstr(o, "Hash"));
  return 0;
}

int remote_block_rm(const char *const *cids, size_t len) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  c.line = rm_line;
  for (size_t i = 0; i < len && !rc; i++) rc = q_add(&c, "arg", cids[i]);
  if (!rc) rc = call_run(&c, "block/rm");
  call_free(&c);
  return rc;
}

static int key_line(void *ctx, json_t *o) {
  printf("%s\n", jstr(o, "Key"));
  return 0;
}

int remote_block_put(int fd, const char *codec, const char *pin) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  c.line = key_line;
  if (!rc && codec) rc = strcmp(codec, "v0") == 0 ? q_add(&c, "format", "v0") : q_add(&c, "cid-codec", codec);
  if (!rc && pin) rc = q_add(&c, "pin", pin);
  if (!rc && !(c.mime = curl_mime_init(c.curl))) rc = -ENOMEM;
  curl_mimepart *p = rc ? NULL : curl_mime_addpart(c.mime);
  if (!rc && (!p || curl_mime_name(p, "file") || curl_mime_filename(p, "block") ||
              curl_mime_type(p, "application/octet-stream") || curl_mime_data_cb(p, -1, read_fd, NULL, NULL, &fd)))
    rc = -ENOMEM;
  if (!rc) rc = call_run(&c, "block/put");
  call_free(&c);
  return rc;
}

/* ---- pin -------------------------------------------------------------------------------- */

typedef struct pin_out {
  const char *const *args;
  size_t len;
  const char *done; /* "recursively", "directly", or NULL for rm */
} pin_out_t;

static int pin_line(void *ctx, json_t *o) {
  pin_out_t *p = ctx;
  for (size_t i = 0; i < p->len; i++) {
    if (p->done) printf("pinned %s %s\n", p->args[i], p->done);
    else printf("unpinned %s\n", p->args[i]);
  }
  json_t *released = json_object_get(o, "Released");
  for (size_t i = 0; i < json_array_size(released); i++) {
    json_t *r = json_array_get(released, i);
    print_released(jstr(r, "Cid"), jstr(r, "Name"), jstr(r, "Policy"), (unsigned)jnum(r, "KeepLast"));
  }
  return 0;
}

int remote_pin_add(const char *const *args, size_t len, bool recursive, const char *name, const char *expire_in) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  pin_out_t p = {args, len, recursive ? "recursively" : "directly"};
  c.line = pin_line, c.ctx = &p;
  for (size_t i = 0; i < len && !rc; i++) rc = q_add(&c, "arg", args[i]);
  if (!rc) rc = q_add(&c, "recursive", recursive ? "true" : "false");
  if (!rc && name) rc = q_add(&c, "name", name);
  if (!rc && expire_in) rc = q_add(&c, "expire-in", expire_in);
  if (!rc) rc = call_run(&c, "pin/add");
  call_free(&c);
  return rc;
}

int remote_pin_rm(const char *const *args, size_t len) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  pin_out_t p = {args, len, NULL};
  c.line = pin_line, c.ctx = &p;
  for (size_t i = 0; i < len && !rc; i++) rc = q_add(&c, "arg", args[i]);
  if (!rc) rc = call_run(&c, "pin/rm");
  call_free(&c);
  return rc;
}

static int pin_ls_line(void *ctx, json_t *o) {
  print_pin(jstr(o, "Cid"), jstr(o, "Type"), jstr(o, "Name"), *(bool *)ctx);
  return 0;
}

int remote_pin_ls(const char *const *args, size_t len, const char *type, bool quiet) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  c.line = pin_ls_line, c.ctx = &quiet;
  if (!rc) rc = q_add(&c, "stream", "true");
  if (!rc && type) rc = q_add(&c, "type", type);
  for (size_t i = 0; i < len && !rc; i++) rc = q_add(&c, "arg", args[i]);
  if (!rc) rc = call_run(&c, "pin/ls");
  call_free(&c);
  return rc;
}

static int verify_line(void *ctx, json_t *o) {
  json_t *bad = json_object_get(o, "BadNodes");
  for (size_t i = 0; i < json_array_size(bad); i++) printf("%s\n", jstr(json_array_get(bad, i), "Err"));
  if (!json_object_get(o, "Problems")) return 0;
  uint64_t problems = jnum(o, "Problems");
  if (problems) return err_set(-EIO, "pin verify found %d problem%s", (int)problems, problems == 1 ? "" : "s");
  printf("pin verify: ok, %llu pins, %llu blocks\n", (unsigned long long)jnum(o, "Pins"),
         (unsigned long long)jnum(o, "Blocks"));
  return 0;
}

int remote_pin_verify(void) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  c.line = verify_line;
  if (!rc) rc = call_run(&c, "pin/verify");
  fflush(stdout);
  call_free(&c);
  return rc;
}

/* ---- repo, id, version -------------------------------------------------------------------- */

static int repo_stat_line(void *ctx, json_t *o) {
  repo_stat_out_t s = {jnum(o, "NumObjects"), jnum(o, "RepoSize"), jnum(o, "BlockBytes"), jnum(o, "Segments"),
                       jnum(o, "ReclaimableBytes"), jnum(o, "StorageMax"), jstr(o, "RepoPath"), jstr(o, "Version")};
  print_repo_stat(&s);
  return 0;
}

int remote_repo_stat(void) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  c.line = repo_stat_line;
  if (!rc) rc = call_run(&c, "repo/stat");
  call_free(&c);
  return rc;
}

static int gc_line(void *ctx, json_t *o) {
  if (*jstr(o, "Error")) return err_set(-EIO, "%s", jstr(o, "Error"));
  printf("removed %s\n", jstr(json_object_get(o, "Key"), "/"));
  return 0;
}

int remote_repo_gc(void) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  c.line = gc_line;
  if (!rc) rc = call_run(&c, "repo/gc");
  fflush(stdout);
  call_free(&c);
  return rc;
}

static int id_line(void *ctx, json_t *o) {
  if (ctx) { /* a peer: the daemon's answer as it is */
    char *text = json_dumps(o, JSON_COMPACT);
    if (!text) return -ENOMEM;
    printf("%s\n", text);
    free(text);
    return 0;
  }
  json_t *arr = json_object_get(o, "Addresses");
  size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
  const char *addrs[64];
  if (n > 64) n = 64;
  for (size_t i = 0; i < n; i++) addrs[i] = json_string_value(json_array_get(arr, i)) ?: "";
  print_id(jstr(o, "ID"), addrs, n, jstr(o, "AgentVersion"));
  return 0;
}

int remote_id(const char *peer) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  c.line = id_line;
  c.ctx = (void *)peer;
  if (!rc && peer) rc = q_add(&c, "arg", peer);
  if (!rc) rc = call_run(&c, "id");
  call_free(&c);
  return rc;
}

/* ---- swarm -------------------------------------------------------------------------------- */

static int strings_line(void *ctx, json_t *o) {
  json_t *arr = json_object_get(o, "Strings");
  for (size_t i = 0; json_is_array(arr) && i < json_array_size(arr); i++)
    printf("%s\n", json_string_value(json_array_get(arr, i)) ?: "");
  return 0;
}

int remote_swarm_connect(const char *const *addrs, size_t n) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  c.line = strings_line;
  for (size_t i = 0; i < n && !rc; i++) rc = q_add(&c, "arg", addrs[i]);
  if (!rc) rc = call_run(&c, "swarm/connect");
  call_free(&c);
  return rc;
}

static int peers_line(void *ctx, json_t *o) {
  json_t *arr = json_object_get(o, "Peers");
  for (size_t i = 0; json_is_array(arr) && i < json_array_size(arr); i++) {
    json_t *p = json_array_get(arr, i);
    printf("%s/p2p/%s\n", jstr(p, "Addr"), jstr(p, "Peer"));
  }
  return 0;
}

static int ping_line(void *ctx, json_t *o) {
  const char *text = jstr(o, "Text");
  if (*text) printf("%s\n", text);
  else printf("Pong received: time=%.2f ms\n", (double)jnum(o, "Time") / 1e6);
  fflush(stdout);
  return 0;
}

int remote_ping(const char *peer, unsigned count) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  c.line = ping_line;
  char n[16];
  snprintf(n, sizeof n, "%u", count);
  if (!rc) rc = q_add(&c, "arg", peer);
  if (!rc) rc = q_add(&c, "count", n);
  if (!rc) rc = call_run(&c, "ping");
  call_free(&c);
  return rc;
}

int remote_swarm_peers(void) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  c.line = peers_line;
  if (!rc) rc = call_run(&c, "swarm/peers");
  call_free(&c);
  return rc;
}

static int version_line(void *ctx, json_t *o) {
  printf("anya version %s\n", jstr(o, "Version"));
  return 0;
}

int remote_version(void) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  c.line = version_line;
  if (!rc) rc = call_run(&c, "version");
  call_free(&c);
  return rc;
}

/* ---- name (IPNS) ---------------------------------------------------------------------------- */

static int name_published_line(void *ctx, json_t *o) {
  printf("Published to %s: %s\n", jstr(o, "Name"), jstr(o, "Value"));
  return 0;
}

int remote_name_publish(const char *path, const char *lifetime, const char *ttl, const char *resolve) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  c.line = name_published_line;
  if (!rc) rc = q_add(&c, "arg", path);
  if (!rc && lifetime) rc = q_add(&c, "lifetime", lifetime);
  if (!rc && ttl) rc = q_add(&c, "ttl", ttl);
  if (!rc && resolve) rc = q_add(&c, "resolve", resolve);
  if (!rc) rc = call_run(&c, "name/publish");
  call_free(&c);
  return rc;
}

static int name_path_line(void *ctx, json_t *o) {
  printf("%s\n", jstr(o, "Path"));
  return 0;
}

int remote_name_resolve(const char *name, const char *timeout) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  c.line = name_path_line;
  if (!rc && name) rc = q_add(&c, "arg", name);
  if (!rc && timeout) rc = q_add(&c, "dht-timeout", timeout);
  if (!rc) rc = call_run(&c, "name/resolve");
  call_free(&c);
  return rc;
}

/* ---- dwn ---------------------------------------------------------------------------------- */

int remote_dwn_process(const char *tenant, const buf_t *message, const char *data_path, const char *out_path) {
  call_t c;
  int rc = call_init(&c, OUT_DWN);
  c.fd = -1;
  c.out_path = out_path;
  if (!rc) rc = q_add(&c, "tenant", tenant);
  if (!rc && out_path) rc = q_add(&c, "output", "true");
  if (!rc && !(c.mime = curl_mime_init(c.curl))) rc = -ENOMEM;
  curl_mimepart *p = rc ? NULL : curl_mime_addpart(c.mime);
  if (!rc && (!p || curl_mime_name(p, "message") || curl_mime_type(p, "application/json") ||
              curl_mime_data(p, (const char *)message->data, message->len)))
    rc = -ENOMEM;
  if (!rc && data_path) {
    p = curl_mime_addpart(c.mime);
    CURLcode res = p ? curl_mime_filedata(p, data_path) : CURLE_OUT_OF_MEMORY;
    if (res == CURLE_OK) res = curl_mime_name(p, "data");
    if (res == CURLE_OK) res = curl_mime_type(p, "application/octet-stream");
    if (res != CURLE_OK) rc = err_set(-EIO, "%s: %s", data_path, curl_easy_strerror(res));
  }
  if (!rc) rc = call_run(&c, "dwn/process");
  if (c.fd >= 0 && close(c.fd) != 0 && !rc) rc = err_set(-errno, "%s: %s", out_path, strerror(errno));
  call_free(&c);
  return rc;
}

/* ---- car (dag export / import) ------------------------------------------------------------ */

int remote_dag_export(const char *cid, int fd) {
  call_t c;
  int rc = call_init(&c, OUT_FD);
  c.fd = fd;
  if (!rc) rc = q_add(&c, "arg", cid);
  if (!rc) rc = call_run(&c, "dag/export");
  call_free(&c);
  return rc;
}

typedef struct import_out {
  remote_root_fn on_root;
  void *ctx;
  uint64_t *blocks;
} import_out_t;

static int import_line(void *ctx, json_t *o) {
  import_out_t *out = ctx;
  json_t *root = json_object_get(o, "Root");
  if (root) out->on_root(out->ctx, jstr(json_object_get(root, "Cid"), "/"));
  json_t *stats = json_object_get(o, "Stats");
  if (stats) *out->blocks = jnum(stats, "BlockCount");
  return 0;
}

int remote_dag_import(int fd, uint64_t *blocks, remote_root_fn on_root, void *ctx) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  import_out_t out = {on_root, ctx, blocks};
  c.line = import_line, c.ctx = &out;
  if (!rc) rc = q_add(&c, "pin-roots", "false");
  if (!rc) rc = q_add(&c, "stats", "true");
  if (!rc && !(c.mime = curl_mime_init(c.curl))) rc = -ENOMEM;
  curl_mimepart *p = rc ? NULL : curl_mime_addpart(c.mime);
  if (!rc && (!p || curl_mime_name(p, "file") || curl_mime_filename(p, "car") ||
              curl_mime_type(p, "application/vnd.ipld.car") || curl_mime_data_cb(p, -1, read_fd, NULL, NULL, &fd)))
    rc = -ENOMEM;
  if (!rc) rc = call_run(&c, "dag/import");
  call_free(&c);
  return rc;
}

int remote_pin_root(const char *cid) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  if (!rc) rc = q_add(&c, "arg", cid);
  if (!rc) rc = q_add(&c, "recursive", "true");
  if (!rc) rc = call_run(&c, "pin/add");
  call_free(&c);
  return rc;
}

/* ---- routing ------------------------------------------------------------------------------ */

static int provide_line(void *ctx, json_t *o) {
  ++*(unsigned *)ctx;
  return 0;
}

int remote_routing_provide(const char *cid) {
  call_t c;
  unsigned peers = 0;
  int rc = call_init(&c, OUT_LINES);
  c.line = provide_line, c.ctx = &peers;
  if (!rc) rc = q_add(&c, "arg", cid);
  if (!rc) rc = call_run(&c, "routing/provide");
  call_free(&c);
  return rc;
}

static int findprovs_line(void *ctx, json_t *o) {
  if (jnum(o, "Type") != 4) return 0; /* Provider events only */
  json_t *responses = json_object_get(o, "Responses");
  for (size_t i = 0; i < json_array_size(responses); i++) printf("%s\n", jstr(json_array_get(responses, i), "ID"));
  fflush(stdout);
  return 0;
}

int remote_routing_findprovs(const char *cid, unsigned max) {
  call_t c;
  char n[16];
  snprintf(n, sizeof n, "%u", max);
  int rc = call_init(&c, OUT_LINES);
  c.line = findprovs_line;
  if (!rc) rc = q_add(&c, "arg", cid);
  if (!rc) rc = q_add(&c, "num-providers", n);
  if (!rc) rc = call_run(&c, "routing/findprovs");
  call_free(&c);
  return rc;
}

static int findpeer_line(void *ctx, json_t *o) {
  json_t *responses = json_object_get(o, "Responses");
  for (size_t i = 0; i < json_array_size(responses); i++) {
    json_t *addrs = json_object_get(json_array_get(responses, i), "Addrs");
    for (size_t j = 0; j < json_array_size(addrs); j++) printf("%s\n", json_string_value(json_array_get(addrs, j)));
  }
  return 0;
}

int remote_routing_findpeer(const char *peer) {
  call_t c;
  int rc = call_init(&c, OUT_LINES);
  c.line = findpeer_line;
  if (!rc) rc = q_add(&c, "arg", peer);
  if (!rc) rc = call_run(&c, "routing/findpeer");
  call_free(&c);
  return rc;
}
