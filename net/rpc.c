/*
 * rpc: the Kubo RPC subset (rpc.h; docs/rpc.md lists every command, its
 * arguments and answers).
 *
 * Every request runs on an HTTP worker thread (http.h) as plain blocking
 * code: arguments come from the query string (repeated arg=), bodies are
 * read with http_req_read and answers written with http_resp_*.
 *
 * Answers.  One JSON value: the object and a newline.  Streams (add, pin ls
 * with stream, ls with stream, block rm, repo gc, pin verify): one object a
 * line (X-Chunked-Output: 1).  A failure before anything was sent is Kubo's
 * error object with its status; after the answer has started (only where a
 * command streams as it works: add with progress, repo gc, pin verify) it is
 * the same error object as the stream's last line.  Byte answers (cat,
 * block get, get) declare their Content-Length up front, so a failure in
 * the middle closes the connection short of it and the client sees a
 * truncated body, never a silently short one.
 *
 * add.  The multipart body (multipart.h) is parsed as it arrives: each file
 * part's bytes go straight to the importer's push interface (imp_file_*,
 * balanced) or, for trickle, through a socket pair to imp_add_fd on a
 * thread, so a 1 GiB file costs one chunk of memory.  Directories are
 * built from the parts' paths ("dir/sub/file", percent-decoded;
 * application/x-directory parts, or implied by their files) with imp_dir_*.
 * Output order is `anya add`'s: files as they complete, then a top-level
 * directory's directories children first (in the order their parent lists
 * them: by name, by hash in a HAMT), itself last, when the next top-level
 * entry starts (with wrap-with-directory: all at the end,
 * then the wrapper, named "").  An unnamed top-level file (stdin) is named
 * by its CID.  Bad paths ("..", deeper than IMP_DEPTH_MAX, a name twice, a
 * top-level entry's parts not sent together) are 400s.  Pinning is `anya add`'s: the pin argument, else the first
 * matching pin policy (source "add"), else pinning.pin_on_add.
 */
#include "rpc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "car.h"
#include "dwn/msgstore.h"
#include "err.h"
#include "exporter.h"
#include "fsmeta.h"
#include "importer.h"
#include "kad.h"
#include "ipns.h"
#include "log.h"
#include "multibase.h"
#include "multihash.h"
#include "multipart.h"
#include "pins.h"
#include "policy.h"
#include "yamux.h"

#define RPC_ARGS_MAX 256            /* query parameters a request may carry */
#define RPC_VALUE_BYTES_MAX 8192    /* one decoded parameter */
#define RPC_IO_BYTES (256u * 1024)  /* body reads and answer writes */
#define RPC_SYMLINK_BYTES_MAX 65535 /* a symlink part's target */
#define RPC_PROGRESS_STEP_BYTES (1u << 20) /* add: one Bytes event per MiB per file */
#define RPC_ERROR_BODY_BYTES_MAX 4096

struct rpc {
  repo_t *repo;
  dwn_t *dwn;
  char *token; /* NULL: none required */
  gc_root_fn files_roots;
  void *files_ctx;
  node_t *node;            /* NULL: libp2p is off */
  pthread_mutex_t gc_lock; /* one repo gc at a time */
  ipns_t *ipns;            /* NULL: the name commands answer that IPNS is off */
};

/* ---- arguments ---------------------------------------------------------------- */

typedef struct args {
  size_t len;
  char *key[RPC_ARGS_MAX];
  char *value[RPC_ARGS_MAX];
} args_t;

static void args_free(args_t *a) {
  for (size_t i = 0; i < a->len; i++) free(a->key[i]), free(a->value[i]);
  a->len = 0;
}

static char *decode_dup(const char *s, size_t len) {
  if (len > RPC_VALUE_BYTES_MAX) return NULL;
  char *out = malloc(len + 1);
  if (out && http_decode(s, len, true, out, len + 1) != 0) free(out), out = NULL;
  return out;
}

static int args_parse(const char *query, args_t *a) {
  a->len = 0;
  const char *p = query;
  while (*p) {
    const char *amp = strchr(p, '&');
    size_t len = amp ? (size_t)(amp - p) : strlen(p);
    if (len) {
      if (a->len == RPC_ARGS_MAX) return err_set(-E2BIG, "more than %d query parameters", RPC_ARGS_MAX);
      const char *eq = memchr(p, '=', len);
      size_t klen = eq ? (size_t)(eq - p) : len;
      char *k = decode_dup(p, klen);
      char *v = eq ? decode_dup(eq + 1, len - klen - 1) : strdup("");
      if (!k || !v) {
        free(k), free(v);
        return err_set(-EINVAL, "bad query parameter (a bad %%-escape, or longer than %d bytes)", RPC_VALUE_BYTES_MAX);
      }
      a->key[a->len] = k, a->value[a->len] = v, a->len++;
    }
    p += len + (amp ? 1 : 0);
  }
  return 0;
}

static const char *arg_get(const args_t *a, const char *key) {
  for (size_t i = 0; i < a->len; i++)
    if (strcmp(a->key[i], key) == 0) return a->value[i];
  return NULL;
}

/* The values of the repeated positional argument "arg" (the first cap of
 * them); returns how many there are. */
static size_t arg_list(const args_t *a, const char **out, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < a->len; i++)
    if (strcmp(a->key[i], "arg") == 0) {
      if (n < cap) out[n] = a->value[i];
      n++;
    }
  return n;
}

/* Go's strconv.ParseBool, and "" (a bare ?flag) as true.  1 true, 0 false,
 * -1 absent, -EINVAL malformed. */
static int arg_bool(const args_t *a, const char *key) {
  const char *v = arg_get(a, key);
  if (!v) return -1;
  static const char *const yes[] = {"", "1", "t", "T", "true", "TRUE", "True"};
  static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
    if (strcmp(v, yes[i]) == 0) return 1;
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
    if (strcmp(v, no[i]) == 0) return 0;
  return err_set(-EINVAL, "option '%s': '%s' is not a boolean", key, v);
}

static int arg_u64(const args_t *a, const char *key, uint64_t *out) {
  const char *v = arg_get(a, key);
  if (!v) return 0;
  char *end;
  errno = 0;
  unsigned long long n = strtoull(v, &end, 10);
  if (!*v || *v == '-' || *end || errno) return err_set(-EINVAL, "option '%s': '%s' is not a number", key, v);
  *out = n;
  return 0;
}

/* ---- answers ------------------------------------------------------------------ */

static int status_for(int rc) { return rc == -EINVAL || rc == -E2BIG || rc == -ENAMETOOLONG ? 400 : 500; }

static void reply_error(http_req_t *req, int status, const char *message) {
  json_t *o = json_pack("{s:s,s:i,s:s}", "Message", message, "Code", status < 500 ? 1 : 0, "Type", "error");
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  buf_t body = {0};
  if (!text || buf_printf(&body, "%s\n", text)) {
    http_respond(req, 500, "application/json", "{\"Message\":\"out of memory\",\"Code\":0,\"Type\":\"error\"}\n", 52);
  } else {
    http_resp_header(req, "X-Content-Type-Options", "nosniff");
    http_respond(req, status, "application/json", body.data, body.len);
  }
  free(text);
  buf_free(&body);
}

static void reply_rc(http_req_t *req, int rc) { reply_error(req, status_for(rc), err_msg(rc)); }

/* One JSON value (steals o). */
static void reply_json(http_req_t *req, json_t *o) {
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  buf_t body = {0};
  if (!text || buf_printf(&body, "%s\n", text)) reply_error(req, 500, "out of memory");
  else http_respond(req, 200, "application/json", body.data, body.len);
  free(text);
  buf_free(&body);
}

/* A stream of JSON lines: buffered until stream_end (so a failure is a
 * proper error answer), or sent as produced when `live`. */
typedef struct stream {
  http_req_t *req;
  bool live;
  bool started;
  int rc;      /* the first write failure (client gone) */
  int status;  /* a failure's HTTP status (0: from the errno) */
  buf_t pending;
} stream_t;

static int stream_start(stream_t *s) {
  if (s->started) return 0;
  s->started = true;
  http_resp_header(s->req, "X-Chunked-Output", "1");
  http_resp_header(s->req, "X-Content-Type-Options", "nosniff");
  http_resp_header(s->req, "Content-Type", "application/json");
  int rc = http_resp_start(s->req, 200, -1);
  if (!rc && s->pending.len) rc = http_resp_write(s->req, s->pending.data, s->pending.len);
  buf_reset(&s->pending);
  return rc;
}

/* Appends o (stolen) as a line. */
static int stream_line(stream_t *s, json_t *o) {
  if (s->rc) return json_decref(o), s->rc;
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (!text) return s->rc = -ENOMEM;
  int rc = buf_printf(&s->pending, "%s\n", text);
  free(text);
  if (!rc && s->live) {
    rc = stream_start(s);
    if (!rc && s->pending.len) rc = http_resp_write(s->req, s->pending.data, s->pending.len);
    buf_reset(&s->pending);
  }
  if (rc) s->rc = rc;
  return rc;
}

/* Ends the stream: rc 0 sends what is pending; else the error (as the answer
 * when nothing was sent yet, else as the last line). */
static void stream_end(stream_t *s, int rc) {
  if (rc && s->rc && rc == s->rc) { /* the client is gone */
    buf_free(&s->pending);
    return;
  }
  if (rc && !s->started) {
    reply_error(s->req, s->status > 0 && s->status != 500 ? s->status : status_for(rc), err_msg(rc));
  } else {
    if (rc) {
      buf_reset(&s->pending);
      json_t *o = json_pack("{s:s,s:i,s:s}", "Message", err_msg(rc), "Code", 0, "Type", "error");
      s->live = false;
      stream_line(s, o);
    }
    if (!stream_start(s) && s->pending.len) http_resp_write(s->req, s->pending.data, s->pending.len);
    http_resp_end(s->req);
  }
  buf_free(&s->pending);
}

/* ---- shared helpers ------------------------------------------------------------ */

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int parse_cid(const char *text, cid_t *out) {
  int rc = cid_parse(out, text);
  return rc ? err_set(-EINVAL, "invalid CID '%s': %s", text, err_msg(rc)) : 0;
}

/* "CID[/path]" or "/ipfs/CID[/path]" -> the CID it names (exporter.h). */
static int resolve(rpc_t *rpc, const char *arg, cid_t *out) {
  block_source_t src = bs_source(rpc->repo->bs);
  return exp_resolve_arg(&src, arg, out);
}

static json_t *cid_json(const cid_t *cid) {
  char text[CID_TEXT_BYTES_MAX];
  if (cid_format_default(cid, text) < 0) return NULL;
  return json_string(text);
}

/* ---- add ------------------------------------------------------------------------ */

typedef struct add_dir add_dir_t;
struct add_dir {
  char *name;          /* entry name */
  char *path;          /* as `add` prints it */
  imp_dir_t *dir;      /* files, symlinks and finished subdirectories */
  add_dir_t **kids;    /* subdirectories, finished with their parent */
  size_t kids_len, kids_cap;
};

typedef struct add_top {
  cid_t cid;
  char label[NAME_MAX + 1];
  uint64_t size_bytes;
} add_top_t;

enum part_kind { PART_NONE, PART_FILE, PART_SYMLINK, PART_DIR, PART_SKIP };

/* A pull-style consumer (imp_add_fd for trickle files, car_import) fed from
 * a multipart part: it runs on its own thread reading one end of a socket
 * pair while the handler sends the part's bytes into the other, so the part
 * streams through without being held. */
typedef struct pump pump_t;
typedef int (*pump_fn)(pump_t *p, int fd);
struct pump {
  pump_fn fn;
  void *arg;
  int fd_read, fd_write;
  pthread_t thread;
  int rc;
  char msg[ERR_MSG_BYTES_MAX]; /* err_msg of the pump thread's failure */
  cid_t cid;                   /* trickle: the file's root */
  uint64_t tsize;
};

typedef struct add_job {
  rpc_t *rpc;
  imp_options_t io;
  block_sink_t sink;
  bool wrap, progress;
  bool silent;             /* Kubo's silent: no event lines */
  stream_t out;
  int status;              /* HTTP status of a failure: 400 the client's fault */
  add_dir_t *top_dir;      /* the top-level directory being filled (not wrapping) */
  add_dir_t wrapper;       /* with wrap: the wrapper; else its dir indexes the top-level names seen */
  cid_t placeholder;       /* the CID the top-level names are indexed with (not wrapping) */
  add_top_t *tops;         /* roots to pin, as `anya add` collects them */
  size_t tops_len, tops_cap;
  bool from_stdin;
  uint64_t stdin_tsize;
  /* the current part */
  enum part_kind kind;
  char *path;              /* decoded, cleaned ("" for an unnamed file) */
  add_dir_t *parent;       /* NULL: top level */
  const char *name;        /* last element of path */
  imp_file_t *file;
  pump_t *trickle;         /* the current trickle file's importer */
  buf_t symlink;
  uint64_t part_bytes, progress_at;
  uint64_t parts;
  cid_t last_root;         /* the last top-level entry's CID */
} add_job_t;

static void add_dir_free(add_dir_t *d) {
  if (!d) return;
  for (size_t i = 0; i < d->kids_len; i++) add_dir_free(d->kids[i]);
  free(d->kids);
  imp_dir_abort(d->dir);
  free(d->name);
  free(d->path);
  free(d);
}

static int grow(void **items, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap * 2 : 8;
  while (n < need) n *= 2;
  void *p = realloc(*items, n * size);
  if (!p) return -ENOMEM;
  *items = p;
  *cap = n;
  return 0;
}

/* An event line {"Name","Hash","Size"}; tops are recorded as `anya add` does. */
static int add_event(add_job_t *j, const cid_t *cid, const char *path, uint64_t tsize, bool unnamed) {
  char text[CID_TEXT_BYTES_MAX], size[24];
  if (cid_format_default(cid, text) < 0) return -EINVAL;
  if (unnamed || (*path && !strchr(path, '/'))) j->last_root = *cid;
  if (!unnamed && *path && !strchr(path, '/')) {
    if (grow((void **)&j->tops, &j->tops_cap, j->tops_len + 1, sizeof *j->tops)) return -ENOMEM;
    add_top_t *t = &j->tops[j->tops_len++];
    t->cid = *cid;
    t->size_bytes = tsize;
    snprintf(t->label, sizeof t->label, "%s", path);
  }
  if (j->silent) return 0;
  snprintf(size, sizeof size, "%llu", (unsigned long long)tsize);
  return stream_line(&j->out, json_pack("{s:s,s:s,s:s}", "Name", unnamed ? text : path, "Hash", text, "Size", size));
}

static int dir_new(const imp_options_t *io, const char *name, const char *path, add_dir_t **out) {
  add_dir_t *d = calloc(1, sizeof *d);
  if (!d) return -ENOMEM;
  d->name = strdup(name);
  d->path = strdup(path);
  int rc = d->name && d->path ? imp_dir_new(io, &d->dir) : -ENOMEM;
  if (rc) {
    add_dir_free(d);
    return rc;
  }
  *out = d;
  return 0;
}

static int kid_cmp(const void *a, const void *b) {
  return strcmp((*(add_dir_t *const *)a)->name, (*(add_dir_t *const *)b)->name);
}

/* Directory events of a finished subtree, in the order `anya add` reports
 * them: a directory's subdirectories (each with its own subtree first) in
 * the order the directory lists them, then the directory itself. */
typedef struct dir_event {
  cid_t cid;
  uint64_t tsize;
  char *path;
} dir_event_t;

typedef struct dir_events {
  dir_event_t *items;
  size_t len, cap;
} dir_events_t;

static void events_free(dir_events_t *e) {
  for (size_t i = 0; i < e->len; i++) free(e->items[i].path);
  free(e->items);
  *e = (dir_events_t){0};
}

static int events_push(dir_events_t *e, const cid_t *cid, uint64_t tsize, const char *path) {
  if (grow((void **)&e->items, &e->cap, e->len + 1, sizeof *e->items)) return -ENOMEM;
  char *p = strdup(path);
  if (!p) return -ENOMEM;
  e->items[e->len++] = (dir_event_t){*cid, tsize, p};
  return 0;
}

/* Moves src's events to the end of dst. */
static int events_move(dir_events_t *dst, dir_events_t *src) {
  if (grow((void **)&dst->items, &dst->cap, dst->len + src->len, sizeof *dst->items)) return -ENOMEM;
  if (src->len) memcpy(dst->items + dst->len, src->items, src->len * sizeof *src->items);
  dst->len += src->len;
  free(src->items);
  *src = (dir_events_t){0};
  return 0;
}

/* The blocks one imp_dir_finish puts (the directory node, or a HAMT's
 * shards), kept to list the directory in its own order (by hash in a
 * HAMT) without asking the store, which an only-hash add does not fill. */
typedef struct dir_blocks {
  const block_sink_t *inner;
  struct {
    cid_t cid;
    uint8_t *data;
    size_t len;
  } *items;
  size_t len, cap;
} dir_blocks_t;

static int capture_put(void *ctx, const cid_t *cid, const uint8_t *data, size_t len) {
  dir_blocks_t *b = ctx;
  int rc = b->inner->put(b->inner->ctx, cid, data, len);
  if (rc) return rc;
  if (grow((void **)&b->items, &b->cap, b->len + 1, sizeof *b->items)) return -ENOMEM;
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) return -ENOMEM;
  memcpy(copy, data, len);
  b->items[b->len].cid = *cid, b->items[b->len].data = copy, b->items[b->len].len = len;
  b->len++;
  return 0;
}

static int capture_get(void *ctx, const cid_t *cid, buf_t *out) {
  dir_blocks_t *b = ctx;
  for (size_t i = 0; i < b->len; i++)
    if (cid_equal(&b->items[i].cid, cid)) {
      buf_reset(out);
      return buf_append(out, b->items[i].data, b->items[i].len);
    }
  return -ENOENT;
}

typedef struct order_walk {
  add_dir_t *d;        /* kids sorted by name */
  dir_events_t *kids;  /* each kid's events */
  dir_events_t *out;
} order_walk_t;

static int order_entry(void *ctx, const char *name, const cid_t *cid, uint64_t tsize) {
  order_walk_t *w = ctx;
  size_t lo = 0, hi = w->d->kids_len;
  while (lo < hi) { /* bsearch the kids by name */
    size_t mid = (lo + hi) / 2;
    int c = strcmp(w->d->kids[mid]->name, name);
    if (c == 0) return events_move(w->out, &w->kids[mid]);
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return 0; /* a file or symlink */
}

/* Finishes d's subdirectories (children first) into d, then d itself;
 * their events (and d's when report) go to out in `anya add`'s order.  d
 * stays the caller's to free. */
static int dir_finish(add_job_t *j, add_dir_t *d, bool report, cid_t *cid, uint64_t *tsize, dir_events_t *out) {
  int rc = 0;
  if (d->kids_len > 1) qsort(d->kids, d->kids_len, sizeof *d->kids, kid_cmp);
  dir_events_t *kids = calloc(d->kids_len ? d->kids_len : 1, sizeof *kids);
  if (!kids) rc = -ENOMEM;
  for (size_t i = 0; i < d->kids_len && !rc; i++) {
    cid_t kc;
    uint64_t kt;
    rc = dir_finish(j, d->kids[i], true, &kc, &kt, &kids[i]);
    if (!rc) rc = imp_dir_add(d->dir, d->kids[i]->name, &kc, kt);
    if (rc == -EEXIST) rc = err_set(-EINVAL, "%s: added twice", d->kids[i]->path), j->status = 400;
  }
  imp_dir_t *dir = d->dir;
  d->dir = NULL;
  dir_blocks_t blocks = {.inner = &j->sink};
  block_sink_t sink = d->kids_len > 1 ? (block_sink_t){capture_put, &blocks} : j->sink;
  if (!rc) rc = imp_dir_finish(dir, &sink, cid, tsize);
  else imp_dir_abort(dir);
  if (!rc && d->kids_len > 1) { /* the subdirectories' events in the directory's own order */
    block_source_t src = {capture_get, &blocks};
    order_walk_t w = {d, kids, out};
    rc = exp_readdir(&src, cid, order_entry, &w);
  }
  for (size_t i = 0; i < d->kids_len && !rc; i++) rc = events_move(out, &kids[i]); /* (one kid: here) */
  if (!rc && report) rc = events_push(out, cid, *tsize, d->path);
  for (size_t i = 0; kids && i < d->kids_len; i++) events_free(&kids[i]);
  free(kids);
  for (size_t i = 0; i < blocks.len; i++) free(blocks.items[i].data);
  free(blocks.items);
  return rc;
}

/* Reports a finished tree's directory events. */
static int events_report(add_job_t *j, dir_events_t *e) {
  int rc = 0;
  for (size_t i = 0; i < e->len && !rc; i++) rc = add_event(j, &e->items[i].cid, e->items[i].path, e->items[i].tsize, false);
  events_free(e);
  return rc;
}

/* Finishes the current top-level directory (not wrapping). */
static int top_finish(add_job_t *j) {
  add_dir_t *d = j->top_dir;
  if (!d) return 0;
  j->top_dir = NULL;
  cid_t cid;
  uint64_t tsize;
  dir_events_t e = {0};
  int rc = dir_finish(j, d, true, &cid, &tsize, &e);
  if (!rc) rc = events_report(j, &e);
  events_free(&e);
  add_dir_free(d);
  return rc;
}

static void *pump_main(void *arg) {
  pump_t *p = arg;
  p->rc = p->fn(p, p->fd_read);
  if (p->rc) snprintf(p->msg, sizeof p->msg, "%s", err_msg(p->rc));
  close(p->fd_read);
  p->fd_read = -1;
  return NULL;
}

static int pump_start(pump_fn fn, void *arg, pump_t **out) {
  pump_t *p = calloc(1, sizeof *p);
  if (!p) return -ENOMEM;
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    free(p);
    return err_set(-errno, "socketpair: %s", strerror(errno));
  }
  p->fn = fn, p->arg = arg, p->fd_read = fds[0], p->fd_write = fds[1];
  if (pthread_create(&p->thread, NULL, pump_main, p) != 0) {
    close(fds[0]), close(fds[1]), free(p);
    return err_set(-EAGAIN, "cannot start a thread");
  }
  *out = p;
  return 0;
}

static int pump_write(pump_t *p, const uint8_t *data, size_t len) {
  while (len) {
    ssize_t n = send(p->fd_write, data, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -EPIPE; /* the consumer stopped: its error is reported by pump_end */
    data += n, len -= (size_t)n;
  }
  return 0;
}

/* EOF to the consumer, waits for it: its result (with its message).  The
 * caller frees p. */
static int pump_end(pump_t *p) {
  close(p->fd_write);
  p->fd_write = -1;
  pthread_join(p->thread, NULL);
  return p->rc ? err_set(p->rc, "%s", p->msg) : 0;
}

static int trickle_fn(pump_t *p, int fd) {
  add_job_t *j = p->arg;
  return imp_add_fd(&j->io, &j->sink, fd, NULL, &p->cid, &p->tsize);
}

/* Ends the trickle import (EOF); 0 with *cid, or its error. */
static int trickle_end(add_job_t *j, cid_t *cid, uint64_t *tsize) {
  pump_t *p = j->trickle;
  if (!p) return 0;
  j->trickle = NULL;
  int rc = pump_end(p);
  if (!rc) *cid = p->cid, *tsize = p->tsize;
  free(p);
  return rc;
}

/* Percent-decodes and cleans a part's filename: no leading '/' or "./",
 * no empty, "." or ".." elements. */
static int clean_part_path(const char *filename, char **out) {
  size_t len = strlen(filename);
  char *decoded = malloc(len + 1);
  if (!decoded) return -ENOMEM;
  if (http_decode(filename, len, true, decoded, len + 1) != 0) {
    free(decoded);
    return err_set(-EINVAL, "bad %%-escape in the multipart filename '%.200s'", filename);
  }
  char *w = decoded;
  for (char *r = decoded; *r;) {
    while (*r == '/') r++;
    char *e = strchrnul(r, '/');
    size_t n = (size_t)(e - r);
    if (n == 1 && r[0] == '.') { r = e; continue; }
    if (n == 0) break;
    if (n == 2 && r[0] == '.' && r[1] == '.') {
      free(decoded);
      return err_set(-EINVAL, "multipart filename '%.200s' climbs out with '..'", filename);
    }
    if (n > NAME_MAX) {
      free(decoded);
      return err_set(-EINVAL, "multipart filename '%.200s' has an element longer than %d bytes", filename, NAME_MAX);
    }
    if (w != decoded) *w++ = '/';
    memmove(w, r, n);
    w += n;
    r = e;
  }
  *w = '\0';
  *out = decoded;
  return 0;
}

/* The directory node that holds path's last element, created as needed
 * (NULL: the top level).  Starts a new top-level directory when path leaves
 * the current one. */
static int find_parent(add_job_t *j, char *path, add_dir_t **out) {
  int depth = 0;
  for (const char *p = path; *p; p++) depth += *p == '/';
  if (depth > IMP_DEPTH_MAX) /* as `anya add` (and a bound on dir_finish's recursion) */
    return j->status = 400, err_set(-ELOOP, "%.200s: directories nested deeper than %d", path, IMP_DEPTH_MAX);
  char *slash = strchr(path, '/');
  if (!j->wrap) {
    size_t top_len = slash ? (size_t)(slash - path) : strlen(path);
    bool same = j->top_dir && strlen(j->top_dir->name) == top_len && memcmp(j->top_dir->name, path, top_len) == 0;
    if (same && !slash && j->kind != PART_DIR)
      return j->status = 400, err_set(-EINVAL, "%s: added twice", path);
    if (!same) {
      int rc = top_finish(j);
      if (rc) return rc;
      /* the top-level names seen, in the (otherwise unused) wrapper's index:
       * a name again means its parts were not sent together */
      char *name = strndup(path, top_len);
      if (!name) return -ENOMEM;
      rc = imp_dir_add(j->wrapper.dir, name, &j->placeholder, 0);
      if (rc == -EEXIST)
        rc = j->status = 400, err_set(-EINVAL, "%s: the parts of a top-level entry must be sent together", name);
      if (!rc && (slash || j->kind == PART_DIR)) rc = dir_new(&j->io, name, name, &j->top_dir);
      free(name);
      if (rc) return rc;
    }
  }
  if (!slash) {
    *out = NULL;
    return 0;
  }
  add_dir_t *d = j->wrap ? &j->wrapper : NULL;
  char *p = path;
  if (!j->wrap) { /* the top-level directory is j->top_dir */
    d = j->top_dir;
    p = slash + 1;
  }
  for (;;) {
    char *s = strchr(p, '/');
    if (!s) break;
    *s = '\0';
    add_dir_t *next = NULL;
    for (size_t i = 0; i < d->kids_len && !next; i++)
      if (strcmp(d->kids[i]->name, p) == 0) next = d->kids[i];
    int rc = 0;
    if (!next) {
      if (grow((void **)&d->kids, &d->kids_cap, d->kids_len + 1, sizeof *d->kids)) rc = -ENOMEM;
      if (!rc) rc = dir_new(&j->io, p, path, &next);
      if (!rc) d->kids[d->kids_len++] = next;
    }
    *s = '/';
    if (rc) return rc;
    d = next;
    p = s + 1;
  }
  *out = d;
  return 0;
}

static int add_part_begin(void *ctx, const mp_part_t *part) {
  add_job_t *j = ctx;
  j->parts++;
  free(j->path);
  j->path = NULL;
  j->part_bytes = j->progress_at = 0;
  buf_reset(&j->symlink);
  bool is_dir = strcmp(part->content_type, "application/x-directory") == 0 || strcmp(part->name, "dir") == 0 ||
                strncmp(part->name, "dir-", 4) == 0;
  j->kind = is_dir ? PART_DIR : strcmp(part->content_type, "application/symlink") == 0 ? PART_SYMLINK : PART_FILE;
  int rc = clean_part_path(part->filename, &j->path);
  if (rc) return j->status = 400, rc;
  if (!*j->path) {
    if (j->kind != PART_FILE || j->wrap || j->parts > 1)
      return j->status = 400, err_set(-EINVAL, "a multipart part without a filename must be the only one, a file, not wrapped");
    j->from_stdin = true;
    j->parent = NULL;
    j->name = "";
  } else {
    if (j->from_stdin) return j->status = 400, err_set(-EINVAL, "an unnamed part must be the only one");
    if ((rc = find_parent(j, j->path, &j->parent))) return rc;
    const char *slash = strrchr(j->path, '/');
    j->name = slash ? slash + 1 : j->path;
  }
  if (j->kind == PART_DIR) {
    if (!j->parent && j->wrap) { /* a top-level directory under the wrapper */
      for (size_t i = 0; i < j->wrapper.kids_len; i++)
        if (strcmp(j->wrapper.kids[i]->name, j->name) == 0) return 0;
      add_dir_t *d;
      if (grow((void **)&j->wrapper.kids, &j->wrapper.kids_cap, j->wrapper.kids_len + 1, sizeof *j->wrapper.kids))
        return -ENOMEM;
      if ((rc = dir_new(&j->io, j->name, j->path, &d))) return rc;
      j->wrapper.kids[j->wrapper.kids_len++] = d;
    } else if (j->parent) {
      add_dir_t *d = j->parent;
      for (size_t i = 0; i < d->kids_len; i++)
        if (strcmp(d->kids[i]->name, j->name) == 0) return 0;
      add_dir_t *k;
      if (grow((void **)&d->kids, &d->kids_cap, d->kids_len + 1, sizeof *d->kids)) return -ENOMEM;
      if ((rc = dir_new(&j->io, j->name, j->path, &k))) return rc;
      d->kids[d->kids_len++] = k;
    }
    return 0; /* a top-level directory (not wrapping) was made by find_parent */
  }
  if (j->kind == PART_SYMLINK) return 0;
  if (j->io.trickle) return pump_start(trickle_fn, j, &j->trickle);
  return imp_file_new(&j->io, &j->sink, &j->file);
}

static int add_progress(add_job_t *j, bool final) {
  if (!j->progress) return 0;
  if (!final && j->part_bytes - j->progress_at < RPC_PROGRESS_STEP_BYTES) return 0;
  j->progress_at = j->part_bytes;
  return stream_line(&j->out, json_pack("{s:s,s:I}", "Name", j->path, "Bytes", (json_int_t)j->part_bytes));
}

static int add_part_data(void *ctx, const uint8_t *data, size_t len) {
  add_job_t *j = ctx;
  int rc = 0;
  switch (j->kind) {
    case PART_FILE:
      rc = j->trickle ? pump_write(j->trickle, data, len) : imp_file_write(j->file, data, len);
      if (rc == -EPIPE && j->trickle) { /* the importer stopped: its own error */
        cid_t c;
        uint64_t t;
        rc = trickle_end(j, &c, &t);
        if (!rc) rc = err_set(-EIO, "the trickle importer stopped early");
      }
      j->part_bytes += len;
      if (!rc) rc = add_progress(j, false);
      return rc;
    case PART_SYMLINK:
      if (j->symlink.len + len > RPC_SYMLINK_BYTES_MAX)
        return j->status = 400, err_set(-ENAMETOOLONG, "%s: symlink target longer than %u bytes", j->path,
                                        RPC_SYMLINK_BYTES_MAX);
      return buf_append(&j->symlink, data, len);
    default:
      return 0; /* a directory part's body carries nothing */
  }
}

/* Puts an entry (file or symlink) where it belongs. */
static int add_entry(add_job_t *j, const cid_t *cid, uint64_t tsize) {
  add_dir_t *d = j->parent ? j->parent : j->wrap ? &j->wrapper : NULL;
  if (!d) return 0; /* a top-level file: its own root */
  int rc = imp_dir_add(d->dir, j->name, cid, tsize);
  if (rc == -EEXIST) rc = err_set(-EINVAL, "%s: added twice", j->path), j->status = 400;
  return rc;
}

static int add_part_end(void *ctx) {
  add_job_t *j = ctx;
  cid_t cid;
  uint64_t tsize = 0;
  int rc = 0;
  if (j->kind == PART_FILE) {
    if (j->trickle) {
      rc = trickle_end(j, &cid, &tsize);
    } else {
      imp_file_t *f = j->file;
      j->file = NULL;
      rc = imp_file_finish(f, &cid, &tsize);
    }
    if (!rc) rc = add_progress(j, true);
  } else if (j->kind == PART_SYMLINK) {
    if (!buf_cstr(&j->symlink)) return -ENOMEM;
    rc = imp_symlink(&j->io, &j->sink, (const char *)j->symlink.data, &cid, &tsize);
  } else {
    return 0;
  }
  j->kind = PART_NONE;
  if (rc) return rc;
  if (j->from_stdin) j->stdin_tsize = tsize;
  rc = add_event(j, &cid, j->path, tsize, j->from_stdin);
  if (!rc) rc = add_entry(j, &cid, tsize);
  return rc;
}

/* `anya add`'s pins: each top-level root (stdin and wrap: the one root). */
static int add_pin(add_job_t *j, const cid_t *root, int pin_flag) {
  repo_t *r = j->rpc->repo;
  if (j->from_stdin || j->wrap || j->tops_len == 0) {
    uint64_t total = j->stdin_tsize;
    for (size_t i = 0; i < j->tops_len; i++) total += j->tops[i].size_bytes;
    if (grow((void **)&j->tops, &j->tops_cap, 1, sizeof *j->tops)) return -ENOMEM;
    if (j->from_stdin || j->tops_len == 0) snprintf(j->tops[0].label, sizeof j->tops[0].label, "stdin");
    j->tops[0].cid = *root;
    j->tops[0].size_bytes = total;
    j->tops_len = 1;
  }
  int rc = 0;
  for (size_t i = 0; i < j->tops_len && !rc; i++) {
    policy_event_t ev = {.source = POLICY_SOURCE_ADD, .size = j->tops[i].size_bytes};
    const policy_rule_t *rule = policy_match(&r->policies, &ev);
    bool pin = pin_flag >= 0 ? pin_flag == 1 : rule ? rule->pin : config_bool(r->config, "pinning.pin_on_add");
    if (!pin) continue;
    if (!rule || !rule->pin) {
      rc = pins_add_written(r->pins, &j->tops[i].cid, NULL, 0);
      continue;
    }
    char name[PINS_NAME_BYTES_MAX + 1];
    policy_pin_name(rule, j->tops[i].label, name);
    rc = pins_add_written(r->pins, &j->tops[i].cid, name, policy_expiry(rule, wall_ms()));
    if (!rc) rc = policy_enforce(rule, r->pins, NULL, NULL, NULL);
  }
  return rc;
}

static int discard_put(void *ctx, const cid_t *cid, const uint8_t *data, size_t len) { return 0; }

/* The caller's callbacks, recording their own failures so that the
 * parser's (a malformed body: the client's fault) can be told apart. */
typedef struct mp_wrap {
  const mp_callbacks_t *cb;
  int rc;
} mp_wrap_t;

static int wrap_begin(void *ctx, const mp_part_t *part) {
  mp_wrap_t *w = ctx;
  return w->rc = w->cb->part_begin ? w->cb->part_begin(w->cb->ctx, part) : 0;
}

static int wrap_data(void *ctx, const uint8_t *data, size_t len) {
  mp_wrap_t *w = ctx;
  return w->rc = w->cb->part_data ? w->cb->part_data(w->cb->ctx, data, len) : 0;
}

static int wrap_end(void *ctx) {
  mp_wrap_t *w = ctx;
  return w->rc = w->cb->part_end ? w->cb->part_end(w->cb->ctx) : 0;
}

/* Reads the multipart body through the parser into cb.  *status becomes
 * 400 for a body that is not (well-formed) multipart, 413 past the limit;
 * a callback's failure keeps the status it set. */
static int read_multipart(http_req_t *req, const mp_callbacks_t *cb, int *status) {
  char boundary[MP_BOUNDARY_BYTES_MAX + 1];
  int rc = mp_boundary(http_req_header(req, "content-type"), boundary);
  if (rc) return *status = 400, rc;
  mp_wrap_t w = {cb, 0};
  mp_callbacks_t wrapped = {wrap_begin, wrap_data, wrap_end, &w};
  mp_t *mp;
  if ((rc = mp_new(boundary, &wrapped, &mp))) return rc;
  uint8_t *chunk = malloc(RPC_IO_BYTES);
  if (!chunk) rc = -ENOMEM;
  bool transport = false;
  while (!rc) {
    ssize_t n = http_req_read(req, chunk, RPC_IO_BYTES);
    if (n < 0) {
      transport = true;
      rc = (int)n == -EFBIG ? (*status = 413, err_set(-EFBIG, "request body too large")) : (int)n;
    }
    if (n <= 0) break;
    rc = mp_feed(mp, chunk, (size_t)n);
  }
  if (!rc) rc = mp_finish(mp);
  if (rc && !transport && rc != w.rc) *status = 400; /* the parser's: a malformed body */
  free(chunk);
  mp_free(mp);
  return rc;
}

static void cmd_add(rpc_t *rpc, http_req_t *req, const args_t *a) {
  add_job_t *j = calloc(1, sizeof *j);
  if (!j) return reply_error(req, 500, "out of memory");
  j->rpc = rpc;
  j->status = 500;
  j->out.req = req;
  imp_options_default(&j->io);
  int rc = 0;
  uint64_t n;
  const char *v;
  int b;
  if (arg_get(a, "cid-version")) {
    n = 2;
    rc = arg_u64(a, "cid-version", &n);
    if (!rc && n > 1) rc = err_set(-EINVAL, "cid-version must be 0 or 1");
    j->io.cid_version = (uint32_t)n;
  }
  if (!rc && (b = arg_bool(a, "raw-leaves")) != -1) rc = b < 0 ? b : (j->io.raw_leaves = b, 0);
  if (!rc && (v = arg_get(a, "chunker")) && strcmp(v, "") != 0) {
    if (strncmp(v, "size-", 5) != 0 || !(n = strtoull(v + 5, NULL, 10)) || n > IMP_CHUNK_BYTES_MAX ||
        strspn(v + 5, "0123456789") != strlen(v + 5))
      rc = err_set(-EINVAL, "chunker must be size-N with 1 <= N <= %u, not '%s'", IMP_CHUNK_BYTES_MAX, v);
    else j->io.chunk_bytes = (uint32_t)n;
  }
  if (!rc && (v = arg_get(a, "hash")) && strcmp(v, "sha2-256") != 0)
    rc = err_set(-EINVAL, "hash '%s' is not supported (only sha2-256)", v);
  if (!rc && (b = arg_bool(a, "trickle")) != -1) rc = b < 0 ? b : (j->io.trickle = b == 1, 0);
  if (!rc && (b = arg_bool(a, "wrap-with-directory")) != -1) rc = b < 0 ? b : (j->wrap = j->io.wrap = b == 1, 0);
  if (!rc && (b = arg_bool(a, "progress")) != -1) rc = b < 0 ? b : (j->progress = b == 1, 0);
  if (!rc && (b = arg_bool(a, "silent")) != -1) rc = b < 0 ? b : (j->silent = b == 1, 0);
  int only_hash = arg_bool(a, "only-hash");
  int pin = arg_bool(a, "pin");
  if (!rc && only_hash < -1) rc = only_hash;
  if (!rc && pin < -1) rc = pin;
  if (!rc) rc = imp_options_check(&j->io);
  if (!rc) rc = imp_dir_new(&j->io, &j->wrapper.dir);
  if (!rc) rc = cid_make(&j->placeholder, 1, CODEC_RAW, MH_SHA2_256, (const uint8_t *)"", 0);
  j->wrapper.name = "", j->wrapper.path = "";
  if (rc) {
    reply_error(req, status_for(rc), err_msg(rc));
    imp_dir_abort(j->wrapper.dir);
    free(j);
    return;
  }
  j->sink = only_hash == 1 ? (block_sink_t){discard_put, NULL} : bs_sink(rpc->repo->bs);
  j->out.live = j->progress;
  http_req_set_body_max(req, UINT64_MAX);
  mp_callbacks_t cb = {add_part_begin, add_part_data, add_part_end, j};
  rc = read_multipart(req, &cb, &j->status);
  if (!rc && j->parts == 0) rc = err_set(-EINVAL, "add needs a file (no multipart part given)"), j->status = 400;
  if (!rc && !j->wrap) rc = top_finish(j);
  cid_t root = j->last_root; /* the last top-level root (stdin: the file) */
  if (!rc && j->wrap) {
    uint64_t tsize;
    dir_events_t e = {0};
    rc = dir_finish(j, &j->wrapper, true, &root, &tsize, &e);
    if (!rc) rc = events_report(j, &e);
    events_free(&e);
  }
  if (!rc && only_hash != 1) rc = bs_sync(rpc->repo->bs); /* blocks durable first, then the pins */
  if (!rc && only_hash != 1) rc = add_pin(j, &root, pin);
  j->out.status = j->status;
  stream_end(&j->out, rc);
  /* clean-up */
  if (j->file) imp_file_abort(j->file);
  if (j->trickle) {
    cid_t c;
    uint64_t t;
    trickle_end(j, &c, &t);
  }
  add_dir_free(j->top_dir);
  for (size_t i = 0; i < j->wrapper.kids_len; i++) add_dir_free(j->wrapper.kids[i]);
  free(j->wrapper.kids);
  imp_dir_abort(j->wrapper.dir);
  free(j->tops);
  free(j->path);
  buf_free(&j->symlink);
  free(j);
}

/* ---- cat ------------------------------------------------------------------------ */

#define RPC_CAT_ARGS_MAX 64

static void cmd_cat(rpc_t *rpc, http_req_t *req, const args_t *a) {
  const char *paths[RPC_CAT_ARGS_MAX];
  size_t n = arg_list(a, paths, RPC_CAT_ARGS_MAX);
  uint64_t offset = 0, length = UINT64_MAX;
  int rc = arg_u64(a, "offset", &offset);
  if (!rc) rc = arg_u64(a, "length", &length);
  if (!rc && n == 0) rc = err_set(-EINVAL, "argument \"ipfs-path\" is required");
  if (!rc && n > RPC_CAT_ARGS_MAX) rc = err_set(-EINVAL, "cat takes at most %d paths", RPC_CAT_ARGS_MAX);
  if (n > RPC_CAT_ARGS_MAX) n = 0; /* nothing opened */
  exp_file_t *files[RPC_CAT_ARGS_MAX] = {0};
  uint64_t start[RPC_CAT_ARGS_MAX], end[RPC_CAT_ARGS_MAX], total = 0;
  block_source_t src = bs_source(rpc->repo->bs);
  for (size_t i = 0; i < n && !rc; i++) {
    cid_t cid;
    rc = resolve(rpc, paths[i], &cid);
    if (!rc) rc = exp_open(&src, &cid, &files[i]);
    if (rc == -EISDIR) rc = err_set(rc, "%s is a directory", paths[i]);
    if (rc) break;
    uint64_t size = exp_size(files[i]);
    start[i] = offset < size ? offset : size;
    end[i] = length != UINT64_MAX && start[i] + length < size ? start[i] + length : size;
    total += end[i] - start[i];
  }
  if (rc) {
    reply_rc(req, rc);
  } else {
    char len_text[24];
    snprintf(len_text, sizeof len_text, "%llu", (unsigned long long)total);
    http_resp_header(req, "X-Stream-Output", "1");
    http_resp_header(req, "X-Content-Length", len_text);
    http_resp_header(req, "Content-Type", "text/plain");
    uint8_t *chunk = malloc(RPC_IO_BYTES);
    rc = chunk ? http_resp_start(req, 200, (int64_t)total) : -ENOMEM;
    for (size_t i = 0; i < n && !rc; i++) {
      for (uint64_t pos = start[i]; pos < end[i] && !rc;) {
        size_t want = end[i] - pos < RPC_IO_BYTES ? (size_t)(end[i] - pos) : RPC_IO_BYTES;
        ssize_t got = exp_pread(files[i], chunk, want, pos);
        if (got <= 0) rc = got < 0 ? (int)got : -EIO;
        else rc = http_resp_write(req, chunk, (size_t)got), pos += (uint64_t)got;
      }
    }
    if (rc && rc != -ECONNRESET)
      log_kv(LOG_LEVEL_WARN, "rpc", ((log_kv_t[]){LOG_STR("error", err_msg(rc))}), "cat stopped short");
    if (!rc) http_resp_end(req); /* else: closed short of Content-Length */
    free(chunk);
  }
  for (size_t i = 0; i < n; i++) exp_close(files[i]);
}

/* ---- ls ------------------------------------------------------------------------- */

typedef struct ls_walk {
  const block_source_t *src;
  const char *arg;
  json_t *links; /* buffered */
  stream_t *stream; /* non-NULL: one line per link */
} ls_walk_t;

/* UnixFS type numbers as Kubo's ls reports them. */
enum { LS_TYPE_DIRECTORY = 1, LS_TYPE_FILE = 2, LS_TYPE_SYMLINK = 4 };

static int ls_entry(void *ctx, const char *name, const cid_t *cid, uint64_t tsize) {
  ls_walk_t *w = ctx;
  exp_stat_t st;
  int rc = exp_stat(w->src, cid, &st);
  if (rc) return rc;
  int type = st.kind == EXP_DIRECTORY ? LS_TYPE_DIRECTORY : st.kind == EXP_SYMLINK ? LS_TYPE_SYMLINK : LS_TYPE_FILE;
  buf_t target = {0};
  if (st.kind == EXP_SYMLINK && ((rc = exp_readlink(w->src, cid, &target)) || !buf_cstr(&target)))
    return buf_free(&target), rc ? rc : -ENOMEM;
  json_t *link = json_pack("{s:s,s:o,s:I,s:i,s:s}", "Name", name, "Hash", cid_json(cid), "Size",
                           (json_int_t)st.size_bytes, "Type", type, "Target",
                           target.data ? (const char *)target.data : "");
  buf_free(&target);
  if (!link) return -ENOMEM;
  if (w->stream)
    return stream_line(w->stream, json_pack("{s:[{s:s,s:[o]}]}", "Objects", "Hash", w->arg, "Links", link));
  return json_array_append_new(w->links, link) ? -ENOMEM : 0;
}

static void cmd_ls(rpc_t *rpc, http_req_t *req, const args_t *a) {
  const char *paths[RPC_ARGS_MAX];
  size_t n = arg_list(a, paths, RPC_ARGS_MAX);
  int stream = arg_bool(a, "stream");
  int rc = stream < -1 ? stream : 0;
  if (!rc && n == 0) rc = err_set(-EINVAL, "argument \"ipfs-path\" is required");
  stream_t out = {.req = req, .live = stream == 1};
  json_t *objects = json_array();
  block_source_t src = bs_source(rpc->repo->bs);
  for (size_t i = 0; i < n && !rc; i++) {
    cid_t cid;
    rc = resolve(rpc, paths[i], &cid);
    ls_walk_t w = {&src, paths[i], json_array(), stream == 1 ? &out : NULL};
    if (!rc) rc = exp_readdir(&src, &cid, ls_entry, &w);
    if (rc == -ENOTDIR) rc = err_set(rc, "%s is not a directory", paths[i]);
    if (!rc && stream != 1) rc = json_array_append_new(objects, json_pack("{s:s,s:O}", "Hash", paths[i], "Links", w.links));
    json_decref(w.links);
  }
  if (!rc && stream != 1) rc = stream_line(&out, json_pack("{s:O}", "Objects", objects));
  json_decref(objects);
  stream_end(&out, rc);
}

/* ---- block ------------------------------------------------------------------------ */

static void cmd_block_get(rpc_t *rpc, http_req_t *req, const args_t *a) {
  const char *arg = arg_get(a, "arg");
  cid_t cid;
  buf_t data = {0};
  int rc = arg ? parse_cid(arg, &cid) : err_set(-EINVAL, "argument \"cid\" is required");
  char text[CID_TEXT_BYTES_MAX];
  block_source_t src = bs_source(rpc->repo->bs); /* fetched from the network on a miss */
  if (!rc) cid_format_default(&cid, text), rc = src.get(src.ctx, &cid, &data);
  if (rc == -ENOENT) rc = err_set(rc, "block %s not found", text);
  if (rc) reply_rc(req, rc);
  else http_respond(req, 200, "application/octet-stream", data.data, data.len);
  buf_free(&data);
}

static void cmd_block_stat(rpc_t *rpc, http_req_t *req, const args_t *a) {
  const char *arg = arg_get(a, "arg");
  cid_t cid;
  uint64_t size = 0;
  int rc = arg ? parse_cid(arg, &cid) : err_set(-EINVAL, "argument \"cid\" is required");
  char text[CID_TEXT_BYTES_MAX];
  if (!rc) {
    cid_format_default(&cid, text);
    rc = bs_has(rpc->repo->bs, &cid, &size);
    rc = rc == 1 ? 0 : rc == 0 ? err_set(-ENOENT, "block %s not found", text) : rc;
  }
  if (rc) reply_rc(req, rc);
  else reply_json(req, json_pack("{s:s,s:I}", "Key", text, "Size", (json_int_t)size));
}

/* Stops at the first failure (Kubo goes on and reports each). */
static void cmd_block_rm(rpc_t *rpc, http_req_t *req, const args_t *a) {
  const char *cids[RPC_ARGS_MAX];
  size_t n = arg_list(a, cids, RPC_ARGS_MAX);
  stream_t out = {.req = req};
  int rc = n ? 0 : err_set(-EINVAL, "argument \"cid\" is required");
  for (size_t i = 0; i < n && !rc; i++) {
    cid_t cid;
    char text[CID_TEXT_BYTES_MAX];
    rc = parse_cid(cids[i], &cid);
    if (rc) break;
    cid_format_default(&cid, text);
    rc = bs_delete(rpc->repo->bs, &cid);
    if (rc == -ENOENT) rc = err_set(rc, "block %s not found", text);
    if (!rc) rc = stream_line(&out, json_pack("{s:s}", "Hash", text)); /* Kubo omits an empty Error */
  }
  stream_end(&out, rc);
}

typedef struct block_put {
  buf_t data;
  uint32_t version;
  uint64_t codec;
  json_t *keys; /* [{Key, Size}] */
  cid_t first;
  size_t count;
  bs_t *bs;
  int status;
} block_put_t;

static int put_begin(void *ctx, const mp_part_t *part) {
  block_put_t *p = ctx;
  buf_reset(&p->data);
  return 0;
}

static int put_data(void *ctx, const uint8_t *data, size_t len) {
  block_put_t *p = ctx;
  if (p->data.len + len > BLOCK_BYTES_MAX)
    return p->status = 400, err_set(-E2BIG, "block larger than %u bytes", BLOCK_BYTES_MAX);
  return buf_append(&p->data, data, len);
}

static int put_end(void *ctx) {
  block_put_t *p = ctx;
  cid_t cid;
  int rc = cid_make(&cid, p->version, p->codec, MH_SHA2_256, p->data.data, p->data.len);
  if (!rc && (rc = bs_put(p->bs, &cid, p->data.data, p->data.len)) > 0) rc = 0;
  if (rc) return rc;
  if (p->count++ == 0) p->first = cid;
  char text[CID_TEXT_BYTES_MAX];
  cid_format_default(&cid, text);
  return json_array_append_new(p->keys, json_pack("{s:s,s:I}", "Key", text, "Size", (json_int_t)p->data.len))
             ? -ENOMEM
             : 0;
}

static void cmd_block_put(rpc_t *rpc, http_req_t *req, const args_t *a) {
  block_put_t p = {.version = 1, .codec = CODEC_RAW, .keys = json_array(), .bs = rpc->repo->bs, .status = 500};
  const char *codec = arg_get(a, "cid-codec"), *format = arg_get(a, "format"), *mh = arg_get(a, "mhtype");
  int rc = 0;
  if (codec && *codec) {
    if (strcmp(codec, "raw") == 0) p.codec = CODEC_RAW;
    else if (strcmp(codec, "dag-pb") == 0) p.codec = CODEC_DAG_PB;
    else if (strcmp(codec, "dag-cbor") == 0) p.codec = CODEC_DAG_CBOR;
    else rc = err_set(-EINVAL, "unknown cid-codec '%s' (raw, dag-pb, dag-cbor)", codec);
  } else if (format && *format) {
    if (strcmp(format, "v0") == 0) p.codec = CODEC_DAG_PB, p.version = 0;
    else if (strcmp(format, "dag-pb") == 0 || strcmp(format, "protobuf") == 0) p.codec = CODEC_DAG_PB;
    else if (strcmp(format, "raw") == 0) p.codec = CODEC_RAW;
    else if (strcmp(format, "dag-cbor") == 0 || strcmp(format, "cbor") == 0) p.codec = CODEC_DAG_CBOR;
    else rc = err_set(-EINVAL, "unknown format '%s' (v0, dag-pb, raw, dag-cbor)", format);
  }
  if (!rc && mh && *mh && strcmp(mh, "sha2-256") != 0)
    rc = err_set(-EINVAL, "mhtype '%s' is not supported (only sha2-256)", mh);
  int pin = arg_bool(a, "pin");
  if (!rc && pin < -1) rc = pin;
  if (rc) p.status = 400;
  if (!rc) {
    http_req_set_body_max(req, BLOCK_BYTES_MAX + 65536);
    mp_callbacks_t cb = {put_begin, put_data, put_end, &p};
    rc = read_multipart(req, &cb, &p.status);
  }
  if (!rc && p.count == 0) rc = err_set(-EINVAL, "block put needs a file"), p.status = 400;
  if (!rc) rc = bs_sync(rpc->repo->bs);
  for (size_t i = 0; !rc && pin == 1 && i < json_array_size(p.keys); i++) {
    cid_t cid;
    rc = cid_parse(&cid, json_string_value(json_object_get(json_array_get(p.keys, i), "Key")));
    if (!rc) rc = pins_add(rpc->repo->pins, &cid, true, NULL, 0);
  }
  stream_t out = {.req = req, .status = p.status};
  for (size_t i = 0; !rc && i < json_array_size(p.keys); i++) rc = stream_line(&out, json_incref(json_array_get(p.keys, i)));
  stream_end(&out, rc);
  json_decref(p.keys);
  buf_free(&p.data);
}

/* ---- pin -------------------------------------------------------------------------- */

/* A pin argument: a CID, or a path resolved to one. */
static int pin_arg(rpc_t *rpc, const char *arg, cid_t *cid) {
  if (strchr(arg, '/')) return resolve(rpc, arg, cid);
  return parse_cid(arg, cid);
}

typedef struct released {
  json_t *list;
  const policy_rule_t *rule;
} released_t;

static int note_released(void *ctx, const pin_info_t *pin) {
  released_t *r = ctx;
  return json_array_append_new(r->list, json_pack("{s:o,s:s,s:s,s:i}", "Cid", cid_json(&pin->cid), "Name", pin->name,
                                                  "Policy", r->rule->name, "KeepLast", (int)r->rule->keep_last))
             ? -ENOMEM
             : 0;
}

static void cmd_pin_add(rpc_t *rpc, http_req_t *req, const args_t *a) {
  const char *paths[RPC_ARGS_MAX];
  size_t n = arg_list(a, paths, RPC_ARGS_MAX);
  int recursive = arg_bool(a, "recursive");
  int rc = recursive < -1 ? recursive : 0;
  const char *name = arg_get(a, "name"), *expire_in = arg_get(a, "expire-in");
  if (name && !*name) name = NULL;
  if (!rc && n == 0) rc = err_set(-EINVAL, "argument \"ipfs-path\" is required");
  if (!rc && name && strlen(name) > PINS_NAME_BYTES_MAX) rc = err_set(-EINVAL, "name is too long (at most 255 bytes)");
  uint64_t expire_ms = 0;
  if (!rc && expire_in && *expire_in) {
    uint64_t duration_ms;
    rc = pins_parse_duration(expire_in, &duration_ms);
    expire_ms = wall_ms() + duration_ms;
  }
  cid_t *cids = calloc(n ? n : 1, sizeof *cids);
  if (!cids) rc = -ENOMEM;
  for (size_t i = 0; i < n && !rc; i++) rc = pin_arg(rpc, paths[i], &cids[i]);
  const policy_rule_t *rule = !rc && name ? policy_for_pin_name(&rpc->repo->policies, name) : NULL;
  if (rule && !(expire_in && *expire_in)) expire_ms = policy_expiry(rule, wall_ms());
  json_t *pins = json_array();
  for (size_t i = 0; i < n && !rc; i++) {
    rc = pins_add(rpc->repo->pins, &cids[i], recursive != 0, name, expire_ms);
    if (!rc) json_array_append_new(pins, cid_json(&cids[i]));
  }
  released_t rel = {json_array(), rule};
  if (!rc && rule) rc = policy_enforce(rule, rpc->repo->pins, NULL, note_released, &rel);
  if (rc) reply_rc(req, rc);
  else if (json_array_size(rel.list)) reply_json(req, json_pack("{s:O,s:O}", "Pins", pins, "Released", rel.list));
  else reply_json(req, json_pack("{s:O}", "Pins", pins));
  json_decref(pins);
  json_decref(rel.list);
  free(cids);
}

static void cmd_pin_rm(rpc_t *rpc, http_req_t *req, const args_t *a) {
  const char *paths[RPC_ARGS_MAX];
  size_t n = arg_list(a, paths, RPC_ARGS_MAX);
  int rc = n ? 0 : err_set(-EINVAL, "argument \"ipfs-path\" is required");
  cid_t *cids = calloc(n ? n : 1, sizeof *cids);
  if (!cids) rc = -ENOMEM;
  for (size_t i = 0; i < n && !rc; i++) rc = pin_arg(rpc, paths[i], &cids[i]);
  json_t *pins = json_array();
  for (size_t i = 0; i < n && !rc; i++) {
    rc = pins_rm(rpc->repo->pins, &cids[i]);
    if (!rc) json_array_append_new(pins, cid_json(&cids[i]));
  }
  if (rc) reply_rc(req, rc);
  else reply_json(req, json_pack("{s:O}", "Pins", pins));
  json_decref(pins);
  free(cids);
}

typedef struct pin_list {
  stream_t *out;
  json_t *keys; /* NULL when streaming */
} pin_list_t;

static int pin_entry(void *ctx, const pin_info_t *pin) {
  pin_list_t *l = ctx;
  char text[CID_TEXT_BYTES_MAX];
  int rc = cid_format_default(&pin->cid, text);
  if (rc < 0) return rc;
  const char *type = pins_type_name(pin->type);
  if (!l->keys) return stream_line(l->out, json_pack("{s:s,s:s,s:s}", "Cid", text, "Type", type, "Name", pin->name));
  return json_object_set_new(l->keys, text, json_pack("{s:s,s:s}", "Type", type, "Name", pin->name)) ? -ENOMEM : 0;
}

static void cmd_pin_ls(rpc_t *rpc, http_req_t *req, const args_t *a) {
  const char *paths[RPC_ARGS_MAX];
  size_t n = arg_list(a, paths, RPC_ARGS_MAX);
  int stream = arg_bool(a, "stream");
  int rc = stream < -1 ? stream : 0;
  pin_type_t type = PIN_ALL;
  const char *t = arg_get(a, "type");
  if (!rc && t && *t && pins_type_from_name(t, &type))
    rc = err_set(-EINVAL, "type must be direct, recursive, indirect or all, not '%s'", t);
  stream_t out = {.req = req, .live = stream == 1};
  pin_list_t l = {&out, stream == 1 ? NULL : json_object()};
  if (!rc && n == 0) rc = pins_ls(rpc->repo->pins, type, pin_entry, &l);
  for (size_t i = 0; i < n && !rc; i++) {
    cid_t cid;
    pin_info_t pin;
    rc = pin_arg(rpc, paths[i], &cid);
    if (!rc) rc = pins_get(rpc->repo->pins, &cid, &pin);
    if (!rc && (pin.type & type)) rc = pin_entry(&l, &pin);
    else if (!rc) rc = err_set(-ENOENT, "%s is not pinned as %s", paths[i], pins_type_name(type));
  }
  if (!rc && l.keys) rc = stream_line(&out, json_pack("{s:O}", "Keys", l.keys));
  json_decref(l.keys);
  stream_end(&out, rc);
}

typedef struct verify_out {
  stream_t *out;
  int rc;
} verify_out_t;

static void verify_problem(void *ctx, const cid_t *block, const cid_t *pin, int error, const char *problem) {
  verify_out_t *v = ctx;
  if (v->rc) return;
  v->rc = stream_line(v->out, json_pack("{s:o,s:b,s:[{s:o,s:s}]}", "Cid", cid_json(pin), "Ok", 0, "BadNodes", "Cid",
                                        cid_json(block), "Err", problem));
}

/* anya's verify: a line per problem in Kubo's PinVerifyRes shape, then
 * {"Pins": n, "Blocks": n, "Problems": n}. */
static void cmd_pin_verify(rpc_t *rpc, http_req_t *req, const args_t *a) {
  stream_t out = {.req = req, .live = true};
  verify_out_t v = {&out, 0};
  pins_verify_stat_t st = {0};
  int rc = pins_verify(rpc->repo->pins, verify_problem, &v, &st);
  if (rc >= 0 && v.rc) rc = v.rc;
  if (rc >= 0)
    rc = stream_line(&out, json_pack("{s:I,s:I,s:i}", "Pins", (json_int_t)st.pins, "Blocks", (json_int_t)st.blocks,
                                     "Problems", rc));
  stream_end(&out, rc > 0 ? 0 : rc);
}

/* ---- repo ------------------------------------------------------------------------- */

static void cmd_repo_stat(rpc_t *rpc, http_req_t *req, const args_t *a) {
  bs_stat_t st;
  int rc = bs_stat(rpc->repo->bs, &st);
  if (rc) return reply_rc(req, rc);
  char version[32];
  snprintf(version, sizeof version, "anya-repo@%d", REPO_FORMAT_VERSION);
  reply_json(req, json_pack("{s:I,s:I,s:I,s:s,s:s,s:I,s:I,s:I}", "RepoSize", (json_int_t)st.disk_bytes, "StorageMax",
                            (json_int_t)config_size(rpc->repo->config, "storage.max"), "NumObjects",
                            (json_int_t)st.blocks, "RepoPath", rpc->repo->path, "Version", version, "BlockBytes",
                            (json_int_t)st.block_bytes, "Segments", (json_int_t)st.segments, "ReclaimableBytes",
                            (json_int_t)st.reclaimable_bytes));
}

static int pins_roots(void *ctx, gc_marker_t *m) { return pins_reachable(ctx, gc_mark_block, m); }

typedef struct gc_out {
  stream_t *out;
  int rc;
} gc_out_t;

static void gc_removed(void *ctx, const uint8_t *mh_bytes, size_t mh_len, uint64_t size_bytes) {
  gc_out_t *g = ctx;
  mh_t mh;
  cid_t cid;
  char text[CID_TEXT_BYTES_MAX];
  if (g->rc || mh_decode(mh_bytes, mh_len, &mh) != (int)mh_len || cid_from_mh(&cid, 1, CODEC_RAW, &mh) ||
      cid_format_default(&cid, text) < 0)
    return;
  g->rc = stream_line(g->out, json_pack("{s:{s:s}}", "Key", "/", text));
}

/* `anya repo gc` (tools/repo_gc.c) in the daemon: expired pins and the
 * policies' keep_last first, then mark from the pins, the DWN message store
 * and the writable tree, sweep (a {"Key": {"/": cid}} line per block, the
 * CIDv1 raw of its multihash), compact. */
static int repo_gc(rpc_t *rpc, stream_t *out) {
  repo_t *r = rpc->repo;
  if (!r->pins) return err_set(-ENODATA, "no pin set yet; refusing to collect everything");
  int rc = pins_expire(r->pins, NULL, NULL, NULL);
  for (size_t i = 0; !rc && i < r->policies.len; i++) rc = policy_enforce(&r->policies.rules[i], r->pins, NULL, NULL, NULL);
  if (rc) return rc;
  gc_t *gc;
  if ((rc = gc_new(r->bs, &gc))) return rc;
  rc = gc_add_root_provider(gc, pins_roots, r->pins);
  char dir[REPO_PATH_BYTES_MAX + 8];
  struct stat st;
  msgstore_t *dwn = NULL;
  fsmeta_t *files = NULL;
  snprintf(dir, sizeof dir, "%s/dwn", r->path);
  if (!rc && rpc->dwn) rc = gc_add_root_provider(gc, msgstore_gc_roots, dwn_store(rpc->dwn));
  else if (!rc && stat(dir, &st) == 0) {
    rc = msgstore_open(dir, NULL, &dwn);
    if (rc) rc = err_set(rc, "cannot read the DWN store's roots, not collecting: %s", err_msg(rc));
    else rc = gc_add_root_provider(gc, msgstore_gc_roots, dwn);
  }
  snprintf(dir, sizeof dir, "%s/files", r->path);
  if (!rc && rpc->files_roots) rc = gc_add_root_provider(gc, rpc->files_roots, rpc->files_ctx);
  else if (!rc && stat(dir, &st) == 0) {
    rc = fsmeta_open(dir, getuid(), getgid(), &files);
    if (rc) rc = err_set(rc, "cannot read the files/ tree's roots, not collecting: %s", err_msg(rc));
    else rc = gc_add_root_provider(gc, fsmeta_gc_roots, files);
  }
  gc_options_t go;
  gc_options_default(&go);
  go.require_providers = true;
  go.compact_options.dead_ratio_min = (double)config_int(r->config, "storage.compact_dead_percent") / 100.0;
  gc_out_t g = {out, 0};
  go.removed = gc_removed;
  go.removed_ctx = &g;
  gc_result_t result;
  if (!rc) rc = gc_run(gc, &go, &result);
  gc_free(gc);
  if (dwn) msgstore_close(dwn);
  if (files) fsmeta_close(files);
  if (!rc && g.rc) rc = g.rc;
  if (!rc) { /* gc.last: the store's size after this run (repo_gc.h, automatic gc) */
    bs_stat_t bst;
    char path[REPO_PATH_BYTES_MAX + 16];
    snprintf(path, sizeof path, "%s/gc.last", r->path);
    FILE *f = bs_stat(r->bs, &bst) == 0 ? fopen(path, "w") : NULL;
    if (f) fprintf(f, "%llu\n", (unsigned long long)bst.disk_bytes), fclose(f);
  }
  return rc;
}

static void cmd_repo_gc(rpc_t *rpc, http_req_t *req, const args_t *a) {
  stream_t out = {.req = req, .live = true};
  pthread_mutex_lock(&rpc->gc_lock);
  int rc = repo_gc(rpc, &out);
  pthread_mutex_unlock(&rpc->gc_lock);
  stream_end(&out, rc);
}

/* ---- id, version ---------------------------------------------------------------------- */

/* "<multiaddr>/p2p/<id>" texts of addrs into arr. */
static void add_addrs(json_t *arr, const multiaddr_t *addrs, size_t n, const peer_id_t *id) {
  for (size_t i = 0; i < n; i++) {
    multiaddr_t full;
    char text[MA_TEXT_BYTES_MAX];
    if (ma_with_peer(&addrs[i], id, &full) == 0 && ma_format(&full, text) == 0) json_array_append_new(arr, json_string(text));
  }
}

/* Kubo's `id [peer]`: ours, or what identify told us about a peer. */
static void cmd_id(rpc_t *rpc, http_req_t *req, const args_t *a) {
  const char *arg = arg_get(a, "arg");
  char agent[64];
  snprintf(agent, sizeof agent, "anya/%s", RPC_VERSION);
  json_t *addrs = json_array(), *protocols = json_array();
  char key64[PEER_PUBKEY_PB_BYTES_MAX * 2] = "";
  if (arg && *arg) {
    peer_id_t peer;
    if (peer_id_parse(arg, &peer) != 0) {
      json_decref(addrs), json_decref(protocols);
      return reply_error(req, 400, "argument \"peer\": not a peer ID");
    }
    if (!rpc->node) {
      json_decref(addrs), json_decref(protocols);
      return reply_error(req, 500, "libp2p is off (--p2p off): no peers known");
    }
    p2p_peer_info_t *info = malloc(sizeof *info);
    int rc = info ? p2p_peer_info(rpc->node->host, &peer, info) : -ENOMEM;
    if (rc || !info->identified) {
      free(info);
      json_decref(addrs), json_decref(protocols);
      return reply_error(req, 500, rc == -ENOMEM ? "out of memory" : "peer not identified: connect to it first (swarm connect)");
    }
    const uint8_t *pb;
    size_t pb_len;
    if (peer_id_pubkey(&peer, &pb, &pb_len) == 0) EVP_EncodeBlock((unsigned char *)key64, pb, (int)pb_len);
    add_addrs(addrs, info->addrs, info->addr_count, &peer);
    for (size_t i = 0; i < info->protocol_count; i++) json_array_append_new(protocols, json_string(info->protocols[i]));
    char id[PEER_ID_TEXT_BYTES_MAX];
    (void)peer_id_format(&peer, id);
    reply_json(req, json_pack("{s:s,s:s,s:o,s:s,s:s,s:o}", "ID", id, "PublicKey", key64, "Addresses", addrs,
                              "AgentVersion", info->agent, "ProtocolVersion", info->protocol_version, "Protocols",
                              protocols));
    free(info);
    return;
  }
  /* An Ed25519 peer id is the identity multihash of the protobuf public key. */
  uint8_t mh[128];
  const char *id = rpc->repo->peer_id;
  int n = mbase_decode_to(MBASE_BASE58BTC, id, strlen(id), mh, sizeof mh);
  if (n > 2 && mh[0] == 0x00 && mh[1] == n - 2) EVP_EncodeBlock((unsigned char *)key64, mh + 2, n - 2);
  if (rpc->node) {
    const p2p_t *host = rpc->node->host;
    multiaddr_t listen[P2P_LISTEN_MAX];
    size_t nl = p2p_listen_addrs(host, listen, P2P_LISTEN_MAX);
    add_addrs(addrs, listen, nl, &p2p_key(host)->id);
    const char *names[P2P_PROTOCOLS_MAX];
    size_t np = p2p_protocols(host, names, P2P_PROTOCOLS_MAX);
    for (size_t i = 0; i < np; i++) json_array_append_new(protocols, json_string(names[i]));
  }
  reply_json(req, json_pack("{s:s,s:s,s:o,s:s,s:s,s:o}", "ID", id, "PublicKey", key64, "Addresses", addrs,
                            "AgentVersion", agent, "ProtocolVersion", P2P_PROTOCOL_VERSION, "Protocols", protocols));
}

/* ---- swarm ------------------------------------------------------------------------------ */

#define SWARM_CONNECT_MAX 16 /* addresses one swarm/connect takes */

static void cmd_swarm_connect(rpc_t *rpc, http_req_t *req, const args_t *a) {
  if (!rpc->node) return reply_error(req, 500, "libp2p is off (--p2p off)");
  const char *args[SWARM_CONNECT_MAX];
  size_t n = arg_list(a, args, SWARM_CONNECT_MAX);
  if (n == 0) return reply_error(req, 400, "argument \"address\" is required");
  if (n > SWARM_CONNECT_MAX) return reply_error(req, 400, "too many addresses in one swarm/connect");
  json_t *strings = json_array();
  for (size_t i = 0; i < n; i++) {
    multiaddr_t ma;
    peer_id_t peer;
    if (ma_parse(args[i], &ma) != 0) {
      json_decref(strings);
      return reply_error(req, 400, "invalid multiaddr");
    }
    int rc = p2p_connect(rpc->node->host, &ma, &peer, 0);
    if (rc) {
      char msg[ERR_MSG_BYTES_MAX + 64];
      snprintf(msg, sizeof msg, "connect %s failure: %s", args[i], err_msg(rc));
      json_decref(strings);
      return reply_error(req, 500, msg);
    }
    char id[PEER_ID_TEXT_BYTES_MAX], line[PEER_ID_TEXT_BYTES_MAX + 32];
    (void)peer_id_format(&peer, id);
    snprintf(line, sizeof line, "connect %s success", id);
    json_array_append_new(strings, json_string(line));
  }
  reply_json(req, json_pack("{s:o}", "Strings", strings));
}

#define PING_COUNT_MAX 100

/* Kubo's ping: arg=<peer ID or multiaddr with /p2p/>, count (default 10);
 * a line per pong {"Success":true,"Time":<ns>,"Text":""}, then the average. */
static void cmd_ping(rpc_t *rpc, http_req_t *req, const args_t *a) {
  if (!rpc->node) return reply_error(req, 500, "libp2p is off (--p2p off)");
  const char *arg = arg_get(a, "arg");
  if (!arg || !*arg) return reply_error(req, 400, "argument \"peer ID\" is required");
  uint64_t count = 10;
  int rc = arg_u64(a, "count", &count);
  if (rc) return reply_rc(req, rc);
  if (count == 0 || count > PING_COUNT_MAX) return reply_error(req, 400, "count must be 1..100");
  p2p_t *host = rpc->node->host;
  peer_id_t peer;
  if (arg[0] == '/') {
    multiaddr_t ma;
    if (ma_parse(arg, &ma) != 0) return reply_error(req, 400, "invalid multiaddr");
    rc = p2p_connect(host, &ma, &peer, 0);
    if (rc) return reply_rc(req, rc);
  } else if (peer_id_parse(arg, &peer) != 0) {
    return reply_error(req, 400, "argument \"peer ID\": not a peer ID or multiaddr");
  }
  stream_t out = {.req = req, .live = true};
  int64_t total_us = 0;
  uint64_t got = 0;
  rc = 0;
  for (uint64_t i = 0; i < count && !rc; i++) {
    int64_t us = p2p_ping(host, &peer, 10000);
    if (us < 0) {
      rc = (int)us;
      break;
    }
    total_us += us;
    got++;
    rc = stream_line(&out, json_pack("{s:b,s:I,s:s}", "Success", 1, "Time", (json_int_t)us * 1000, "Text", ""));
  }
  if (!rc) {
    char text[64];
    snprintf(text, sizeof text, "Average latency: %.2fms", got ? (double)total_us / (double)got / 1000.0 : 0.0);
    rc = stream_line(&out, json_pack("{s:b,s:i,s:s}", "Success", 1, "Time", 0, "Text", text));
  }
  stream_end(&out, rc);
}

static void cmd_swarm_peers(rpc_t *rpc, http_req_t *req, const args_t *a) {
  if (!rpc->node) return reply_error(req, 500, "libp2p is off (--p2p off)");
  p2p_t *host = rpc->node->host;
  size_t cap = p2p_connections(host, NULL, 0) + 8; /* a few more may come meanwhile */
  p2p_conn_info_t *conns = calloc(cap, sizeof *conns);
  if (!conns) return reply_error(req, 500, "out of memory");
  size_t n = p2p_connections(host, conns, cap);
  if (n > cap) n = cap;
  json_t *peers = json_array();
  for (size_t i = 0; i < n; i++) {
    char addr[MA_TEXT_BYTES_MAX] = "", id[PEER_ID_TEXT_BYTES_MAX] = "";
    (void)ma_format(&conns[i].remote_addr, addr);
    (void)peer_id_format(&conns[i].peer, id);
    /* Direction as Kubo's network.Direction: 1 inbound, 2 outbound */
    json_array_append_new(peers, json_pack("{s:s,s:s,s:s,s:s,s:i,s:n}", "Addr", addr, "Peer", id, "Latency", "",
                                           "Muxer", YAMUX_PROTOCOL, "Direction", conns[i].outbound ? 2 : 1,
                                           "Streams"));
  }
  free(conns);
  reply_json(req, json_pack("{s:o}", "Peers", peers));
}

static void cmd_version(rpc_t *rpc, http_req_t *req, const args_t *a) {
  struct utsname u;
  char system[128] = "unknown";
  if (uname(&u) == 0) {
    const char *arch = strcmp(u.machine, "x86_64") == 0 ? "amd64" : strcmp(u.machine, "aarch64") == 0 ? "arm64" : u.machine;
    snprintf(system, sizeof system, "%s/linux", arch);
  }
  char repo[16];
  snprintf(repo, sizeof repo, "%d", REPO_FORMAT_VERSION);
  reply_json(req, json_pack("{s:s,s:s,s:s,s:s,s:s}", "Version", RPC_VERSION, "Commit", "", "Repo", repo, "System",
                            system, "Golang", "none (C11)"));
}

/* ---- get: a tar stream -------------------------------------------------------------- */

#define TAR_BLOCK 512
#define TAR_DEPTH_MAX 64 /* as `anya get` (IMP_DEPTH_MAX) */

typedef struct tar_out {
  http_req_t *req;      /* NULL: only count */
  uint64_t bytes;
  const block_source_t *src;
  uint8_t *chunk;       /* RPC_IO_BYTES */
} tar_out_t;

static int tar_emit(tar_out_t *t, const void *data, size_t len) {
  t->bytes += len;
  return t->req && len ? http_resp_write(t->req, data, len) : 0;
}

static int tar_pad(tar_out_t *t, uint64_t len) {
  static const uint8_t zeros[TAR_BLOCK];
  size_t pad = (size_t)((TAR_BLOCK - len % TAR_BLOCK) % TAR_BLOCK);
  return tar_emit(t, zeros, pad);
}

/* width - 1 octal digits and a NUL (values are range-checked by the caller) */
static void octal(char *field, size_t width, uint64_t value) {
  char text[32];
  snprintf(text, sizeof text, "%0*llo", (int)width - 1, (unsigned long long)value);
  memcpy(field, text + strlen(text) - (width - 1), width - 1);
  field[width - 1] = '\0';
}

/* A PAX record "LEN key=value\n" (LEN counts itself). */
static int pax_record(buf_t *b, const char *key, const char *value) {
  size_t body = 1 + strlen(key) + 1 + strlen(value) + 1, len = body + 1;
  while (snprintf(NULL, 0, "%zu", len) + body != len) len++;
  return buf_printf(b, "%zu %s=%s\n", len, key, value);
}

static int tar_header(tar_out_t *t, const char *name, char type, uint32_t mode, uint64_t size, int64_t mtime,
                      const char *link) {
  uint8_t h[TAR_BLOCK];
  buf_t pax = {0};
  int rc = 0;
  if (strlen(name) >= 100) rc = pax_record(&pax, "path", name);
  if (!rc && link && strlen(link) >= 100) rc = pax_record(&pax, "linkpath", link);
  if (!rc && size >= (UINT64_C(1) << 33)) {
    char text[24];
    snprintf(text, sizeof text, "%llu", (unsigned long long)size);
    rc = pax_record(&pax, "size", text);
  }
  if (!rc && pax.len) rc = tar_header(t, "PaxHeaders/entry", 'x', 0644, pax.len, mtime, NULL);
  if (!rc && pax.len) rc = tar_emit(t, pax.data, pax.len);
  if (!rc && pax.len) rc = tar_pad(t, pax.len);
  buf_free(&pax);
  if (rc) return rc;
  memset(h, 0, sizeof h);
  memcpy(h, name, strnlen(name, 99));
  octal((char *)h + 100, 8, mode & 07777);
  octal((char *)h + 108, 8, 0);
  octal((char *)h + 116, 8, 0);
  octal((char *)h + 124, 12, size < (UINT64_C(1) << 33) ? size : 0);
  octal((char *)h + 136, 12, mtime > 0 ? (uint64_t)mtime : 0);
  memset(h + 148, ' ', 8);
  h[156] = (uint8_t)type;
  if (link) memcpy(h + 157, link, strnlen(link, 99));
  memcpy(h + 257, "ustar", 6);
  memcpy(h + 263, "00", 2);
  unsigned sum = 0;
  for (size_t i = 0; i < TAR_BLOCK; i++) sum += h[i];
  snprintf((char *)h + 148, 8, "%06o", sum);
  return tar_emit(t, h, TAR_BLOCK);
}

typedef struct tar_dir {
  tar_out_t *t;
  const char *path;
  int depth;
} tar_dir_t;

static int tar_node(tar_out_t *t, const cid_t *cid, const char *path, int depth);

static int tar_child(void *ctx, const char *name, const cid_t *cid, uint64_t tsize) {
  tar_dir_t *d = ctx;
  if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return err_set(-EINVAL, "refusing unsafe entry name '%s' in %s", name, d->path);
  char *path;
  if (asprintf(&path, "%s/%s", d->path, name) < 0) return -ENOMEM;
  int rc = tar_node(d->t, cid, path, d->depth + 1);
  free(path);
  return rc;
}

static int tar_node(tar_out_t *t, const cid_t *cid, const char *path, int depth) {
  if (depth > TAR_DEPTH_MAX) return err_set(-ELOOP, "directory nesting deeper than %d", TAR_DEPTH_MAX);
  exp_stat_t st;
  int rc = exp_stat(t->src, cid, &st);
  if (rc) return rc;
  int64_t mtime = st.has_mtime ? st.mtime_seconds : 0;
  if (st.kind == EXP_SYMLINK) {
    buf_t target = {0};
    rc = exp_readlink(t->src, cid, &target);
    if (!rc && !buf_cstr(&target)) rc = -ENOMEM;
    if (!rc) rc = tar_header(t, path, '2', st.has_mode ? st.mode : 0777, 0, mtime, (const char *)target.data);
    buf_free(&target);
    return rc;
  }
  if (st.kind == EXP_DIRECTORY) {
    char *dir_name;
    if (asprintf(&dir_name, "%s/", path) < 0) return -ENOMEM;
    rc = tar_header(t, dir_name, '5', st.has_mode ? st.mode : 0755, 0, mtime, NULL);
    free(dir_name);
    tar_dir_t d = {t, path, depth};
    return rc ? rc : exp_readdir(t->src, cid, tar_child, &d);
  }
  if ((rc = tar_header(t, path, '0', st.has_mode ? st.mode : 0644, st.size_bytes, mtime, NULL))) return rc;
  if (!t->req) {
    t->bytes += st.size_bytes;
    return tar_pad(t, st.size_bytes);
  }
  exp_file_t *f;
  if ((rc = exp_open(t->src, cid, &f))) return rc;
  uint64_t size = exp_size(f);
  if (size != st.size_bytes) rc = err_set(-EIO, "%s: size changed while reading", path);
  for (uint64_t pos = 0; pos < size && !rc;) {
    size_t want = size - pos < RPC_IO_BYTES ? (size_t)(size - pos) : RPC_IO_BYTES;
    ssize_t got = exp_pread(f, t->chunk, want, pos);
    if (got <= 0) rc = got < 0 ? (int)got : -EIO;
    else rc = tar_emit(t, t->chunk, (size_t)got), pos += (uint64_t)got;
  }
  exp_close(f);
  return rc ? rc : tar_pad(t, size);
}

/* The top entry's name: the last path segment, or the CID (as `anya get`). */
static void get_name(const char *arg, char *out, size_t cap) {
  const char *a = strncmp(arg, "/ipfs/", 6) == 0 ? arg + 6 : arg;
  size_t len = strlen(a);
  while (len > 1 && a[len - 1] == '/') len--;
  const char *base = memrchr(a, '/', len);
  base = base ? base + 1 : a;
  snprintf(out, cap, "%.*s", (int)(a + len - base), base);
}

static void cmd_get(rpc_t *rpc, http_req_t *req, const args_t *a) {
  const char *arg = arg_get(a, "arg");
  cid_t cid;
  int rc = arg ? resolve(rpc, arg, &cid) : err_set(-EINVAL, "argument \"ipfs-path\" is required");
  int archive = arg_bool(a, "archive"), compress = arg_bool(a, "compress");
  if (!rc && (archive < -1 || compress < -1)) rc = archive < -1 ? archive : compress;
  if (!rc && compress == 1) rc = err_set(-EINVAL, "compress is not supported");
  char name[NAME_MAX + 1];
  block_source_t src = bs_source(rpc->repo->bs);
  tar_out_t count = {.src = &src};
  if (!rc) {
    get_name(arg, name, sizeof name);
    rc = tar_node(&count, &cid, name, 0);
  }
  if (rc) return reply_rc(req, rc);
  uint64_t total = count.bytes + 2 * TAR_BLOCK;
  tar_out_t out = {.req = req, .src = &src, .chunk = malloc(RPC_IO_BYTES)};
  http_resp_header(req, "X-Stream-Output", "1");
  http_resp_header(req, "Content-Type", "application/x-tar");
  rc = out.chunk ? http_resp_start(req, 200, (int64_t)total) : -ENOMEM;
  if (!rc) rc = tar_node(&out, &cid, name, 0);
  static const uint8_t end[2 * TAR_BLOCK];
  if (!rc && out.bytes + sizeof end != total) rc = err_set(-EIO, "the DAG changed while it was sent");
  if (!rc) rc = tar_emit(&out, end, sizeof end);
  if (!rc) http_resp_end(req); /* else: closed short of Content-Length */
  else if (rc != -ECONNRESET)
    log_kv(LOG_LEVEL_WARN, "rpc", ((log_kv_t[]){LOG_STR("error", err_msg(rc))}), "get stopped short");
  free(out.chunk);
}

/* ---- dag export / import (CAR) ------------------------------------------------------ */

static int count_bytes(void *ctx, const void *data, size_t len) {
  *(uint64_t *)ctx += len;
  return 0;
}

static int http_write(void *ctx, const void *data, size_t len) { return http_resp_write(ctx, data, len); }

/* CARv1 of the DAG under arg: walked twice, once to count, so the answer
 * declares its Content-Length (a failure half-way then cuts it short). */
static void cmd_dag_export(rpc_t *rpc, http_req_t *req, const args_t *a) {
  const char *arg = arg_get(a, "arg");
  cid_t root;
  int rc = arg ? (strchr(arg, '/') ? resolve(rpc, arg, &root) : parse_cid(arg, &root))
               : err_set(-EINVAL, "argument \"root\" is required");
  block_source_t src = bs_source(rpc->repo->bs);
  uint64_t total = 0;
  if (!rc) rc = car_export(&src, &root, count_bytes, &total);
  if (rc) return reply_rc(req, rc);
  http_resp_header(req, "X-Stream-Output", "1");
  http_resp_header(req, "Content-Type", "application/vnd.ipld.car");
  rc = http_resp_start(req, 200, (int64_t)total);
  if (!rc) rc = car_export(&src, &root, http_write, req);
  if (!rc) http_resp_end(req);
  else if (rc != -ECONNRESET)
    log_kv(LOG_LEVEL_WARN, "rpc", ((log_kv_t[]){LOG_STR("error", err_msg(rc))}), "dag export stopped short");
}

typedef struct car_job {
  rpc_t *rpc;
  pump_t *pump;      /* the current part's car_import */
  cid_t *roots;      /* in the order met, all parts */
  size_t roots_len, roots_cap;
  size_t part_roots; /* roots of the current part so far (filled on its thread) */
  uint64_t blocks, block_bytes;
  uint64_t part_blocks;
  int status;
} car_job_t;

static void car_root(void *ctx, const cid_t *root) {
  car_job_t *c = ctx;
  if (!grow((void **)&c->roots, &c->roots_cap, c->roots_len + 1, sizeof *c->roots)) c->roots[c->roots_len++] = *root;
}

static ssize_t fd_read(void *ctx, void *data, size_t len) {
  for (;;) {
    ssize_t n = read(*(int *)ctx, data, len);
    if (n < 0 && errno == EINTR) continue;
    return n < 0 ? err_set(-errno, "read failed: %s", strerror(errno)) : n;
  }
}

static int car_fn(pump_t *p, int fd) {
  car_job_t *c = p->arg;
  block_sink_t sink = bs_sink(c->rpc->repo->bs);
  return car_import(fd_read, &fd, &sink, car_root, c, &c->part_blocks);
}

static int car_begin(void *ctx, const mp_part_t *part) {
  car_job_t *c = ctx;
  c->part_blocks = 0;
  return pump_start(car_fn, c, &c->pump);
}

static int car_data(void *ctx, const uint8_t *data, size_t len) {
  car_job_t *c = ctx;
  int rc = pump_write(c->pump, data, len);
  if (rc == -EPIPE) { /* the reader stopped: its own error */
    rc = pump_end(c->pump);
    free(c->pump);
    c->pump = NULL;
    if (!rc) rc = err_set(-EINVAL, "data after the end of the CAR");
    c->status = 400;
  }
  return rc;
}

static int car_end(void *ctx) {
  car_job_t *c = ctx;
  int rc = pump_end(c->pump);
  free(c->pump);
  c->pump = NULL;
  if (rc == -EINVAL || rc == -EBADMSG) c->status = 400;
  c->blocks += c->part_blocks;
  return rc;
}

/* Kubo's `dag import`: the CAR parts' blocks (each verified) are stored,
 * then each root is pinned recursively (pin-roots, default true).  A line
 * per root {"Root": {"Cid": {"/": cid}, "PinErrorMsg": ""}} in the order
 * the CARs name them, and with stats {"Stats": {"BlockCount": n}}. */
static void cmd_dag_import(rpc_t *rpc, http_req_t *req, const args_t *a) {
  car_job_t c = {.rpc = rpc, .status = 500};
  int pin = arg_bool(a, "pin-roots"), stats = arg_bool(a, "stats");
  int rc = pin < -1 ? pin : stats < -1 ? stats : 0;
  if (rc) c.status = 400;
  if (!rc) {
    http_req_set_body_max(req, UINT64_MAX);
    mp_callbacks_t cb = {car_begin, car_data, car_end, &c};
    rc = read_multipart(req, &cb, &c.status);
  }
  if (c.pump) { /* the body ended inside a part */
    pump_end(c.pump);
    free(c.pump);
  }
  if (!rc) rc = bs_sync(rpc->repo->bs);
  stream_t out = {.req = req, .status = c.status};
  for (size_t i = 0; !rc && i < c.roots_len; i++) {
    const char *pin_error = "";
    int prc = pin != 0 ? pins_add(rpc->repo->pins, &c.roots[i], true, NULL, 0) : 0;
    if (prc) pin_error = err_msg(prc);
    rc = stream_line(&out, json_pack("{s:{s:{s:o},s:s}}", "Root", "Cid", "/", cid_json(&c.roots[i]), "PinErrorMsg", pin_error));
  }
  if (!rc && stats == 1) rc = stream_line(&out, json_pack("{s:{s:I}}", "Stats", "BlockCount", (json_int_t)c.blocks));
  stream_end(&out, rc);
  free(c.roots);
}

/* ---- dwn process ---------------------------------------------------------------------- */

#define RPC_DWN_MESSAGE_BYTES_MAX (4u << 20)

typedef struct dwn_body {
  enum { DWN_PART_NONE, DWN_PART_MESSAGE, DWN_PART_DATA } part;
  buf_t message;
  int data_fd;    /* an unlinked file in the repository, or -1 */
  const char *dir;
  int status;
} dwn_body_t;

static int dwn_begin(void *ctx, const mp_part_t *part) {
  dwn_body_t *b = ctx;
  b->part = strcmp(part->name, "message") == 0 ? DWN_PART_MESSAGE : strcmp(part->name, "data") == 0 ? DWN_PART_DATA
                                                                                                       : DWN_PART_NONE;
  if (b->part == DWN_PART_DATA && b->data_fd < 0) {
    b->data_fd = open(b->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (b->data_fd < 0) return err_set(-errno, "cannot spool the record data: %s", strerror(errno));
  }
  return 0;
}

static int dwn_data(void *ctx, const uint8_t *data, size_t len) {
  dwn_body_t *b = ctx;
  if (b->part == DWN_PART_MESSAGE) {
    if (b->message.len + len > RPC_DWN_MESSAGE_BYTES_MAX)
      return b->status = 400, err_set(-E2BIG, "DWN message larger than %u bytes", RPC_DWN_MESSAGE_BYTES_MAX);
    return buf_append(&b->message, data, len);
  }
  if (b->part != DWN_PART_DATA) return 0;
  while (len) {
    ssize_t n = write(b->data_fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return err_set(-errno, "cannot spool the record data: %s", strerror(errno));
    data += n, len -= (size_t)n;
  }
  return 0;
}

/* `anya dwn process` in the daemon: body parts "message" (the JSON) and
 * "data" (a RecordsWrite's data, spooled to an unlinked file); tenant=DID;
 * output=true sends a read's data after the reply line.  The answer is the
 * reply JSON and a newline (with "dataBytes" when data was not asked for),
 * then the data bytes, if any. */
static void cmd_dwn_process(rpc_t *rpc, http_req_t *req, const args_t *a) {
  const char *tenant = arg_get(a, "tenant");
  int output = arg_bool(a, "output");
  dwn_body_t b = {.data_fd = -1, .dir = rpc->repo->path, .status = 500};
  int rc = !tenant || !*tenant ? err_set(-EINVAL, "dwn process needs tenant=DID") : output < -1 ? output : 0;
  if (rc) b.status = 400;
  if (!rc && !rpc->dwn) rc = err_set(-ENOTSUP, "this daemon has no DWN engine open");
  if (!rc) {
    http_req_set_body_max(req, UINT64_MAX);
    mp_callbacks_t cb = {dwn_begin, dwn_data, NULL, &b};
    rc = read_multipart(req, &cb, &b.status);
  }
  json_t *message = NULL;
  if (!rc) {
    json_error_t error;
    message = json_loadb((const char *)b.message.data, b.message.len, JSON_DECODE_INT_AS_REAL, &error);
    if (!message) rc = err_set(-EINVAL, "message: line %d: %s", error.line, error.text), b.status = 400;
  }
  if (!rc && b.data_fd >= 0 && lseek(b.data_fd, 0, SEEK_SET) != 0) rc = err_set(-errno, "cannot rewind the data");
  dwn_reply_t reply = {0};
  if (!rc) rc = dwn_process(rpc->dwn, tenant, message, b.data_fd, &reply);
  buf_t out = {0}, bytes = {0};
  if (!rc && reply.has_data && output == 1) rc = dwn_reply_data(rpc->dwn, &reply, &bytes);
  if (!rc) {
    if (reply.has_data && output != 1) json_object_set_new(reply.body, "dataBytes", json_integer((json_int_t)reply.data_size));
    char *text = json_dumps(reply.body, JSON_COMPACT);
    rc = !text || buf_printf(&out, "%s\n", text) || buf_append(&out, bytes.data, bytes.len) ? -ENOMEM : 0;
    free(text);
  }
  if (rc) reply_error(req, b.status != 500 ? b.status : status_for(rc), err_msg(rc));
  else http_respond(req, 200, bytes.len ? "application/octet-stream" : "application/json", out.data, out.len);
  dwn_reply_release(&reply);
  json_decref(message);
  buf_free(&out);
  buf_free(&bytes);
  buf_free(&b.message);
  if (b.data_fd >= 0) close(b.data_fd);
}

/* ---- routing: the DHT ------------------------------------------------------------ */

/* The node's DHT; NULL with --p2p off. */
static kad_t *rpc_kad(const rpc_t *rpc) { return rpc->node ? rpc->node->kad : NULL; }

#define RPC_ROUTING_TIMEOUT_MS 60000u      /* a provide or findprovs walk */
#define RPC_FINDPROVS_MAX 1000             /* num-providers accepted */

/* Kubo's routing.QueryEvent types */
enum { QUERY_FINAL_PEER = 2, QUERY_PROVIDER = 4 };

static int routing_cid(rpc_t *rpc, http_req_t *req, const args_t *a, cid_t *cid) {
  if (!rpc_kad(rpc)) {
    reply_error(req, 500, "the DHT is off (the daemon runs without its p2p node)");
    return -1;
  }
  const char *arg[2];
  size_t n = arg_list(a, arg, 2);
  if (n != 1) {
    reply_error(req, 400, n ? "routing takes one CID" : "argument \"key\" is required");
    return -1;
  }
  int rc = parse_cid(arg[0], cid);
  if (rc) {
    reply_rc(req, rc);
    return -1;
  }
  return 0;
}

static int provided_to(void *ctx, const peer_id_t *peer) {
  char id[PEER_ID_TEXT_BYTES_MAX];
  if (peer_id_format(peer, id) < 0) return 0;
  return stream_line(ctx, json_pack("{s:s,s:s,s:n,s:i}", "Extra", "", "ID", id, "Responses", "Type",
                                    QUERY_FINAL_PEER)) ? 1 : 0;
}

/* routing/provide: announces that we have the block (which must be here),
 * one FinalPeer event a peer that took the record. */
static void cmd_routing_provide(rpc_t *rpc, http_req_t *req, const args_t *a) {
  cid_t cid;
  if (routing_cid(rpc, req, a, &cid)) return;
  int rc = arg_bool(a, "recursive"); /* -1: not given */
  if (rc < -1) return reply_rc(req, rc);
  if (rc == 1) return reply_error(req, 400, "recursive provide is not supported; provide each CID");
  uint64_t size;
  if (bs_has(rpc->repo->bs, &cid, &size) != 1) return reply_error(req, 500, "block not found locally, cannot provide");
  if (kad_table_size(rpc_kad(rpc)) == 0) return reply_error(req, 500, "cannot provide, no connected peers");
  uint8_t mh[MH_BYTES_MAX];
  size_t len = cid_mh_bytes(&cid, mh);
  stream_t out = {.req = req, .live = true};
  rc = kad_provide_report(rpc_kad(rpc), mh, len, RPC_ROUTING_TIMEOUT_MS, provided_to, &out);
  if (rc == 0) rc = err_set(-EHOSTUNREACH, "no peer took the provider record");
  stream_end(&out, rc < 0 ? rc : 0);
}

static int found_provider(void *ctx, const peer_id_t *peer, const multiaddr_t *addrs, size_t n) {
  char id[PEER_ID_TEXT_BYTES_MAX], text[MA_TEXT_BYTES_MAX];
  if (peer_id_format(peer, id) < 0) return 0;
  json_t *list = json_array();
  for (size_t i = 0; i < n && list; i++)
    if (ma_format(&addrs[i], text) == 0) json_array_append_new(list, json_string(text));
  json_t *resp = json_pack("[{s:s,s:o}]", "ID", id, "Addrs", list ? list : json_array());
  return stream_line(ctx, json_pack("{s:s,s:s,s:o,s:i}", "Extra", "", "ID", "", "Responses", resp, "Type",
                                    QUERY_PROVIDER)) ? 1 : 0;
}

/* routing/findprovs: one Provider event a provider, up to num-providers (20). */
static void cmd_routing_findprovs(rpc_t *rpc, http_req_t *req, const args_t *a) {
  cid_t cid;
  if (routing_cid(rpc, req, a, &cid)) return;
  uint64_t max = KAD_K;
  int rc = arg_u64(a, "num-providers", &max);
  if (rc) return reply_rc(req, rc);
  if (max < 1 || max > RPC_FINDPROVS_MAX) return reply_error(req, 400, "num-providers must be between 1 and 1000");
  uint8_t mh[MH_BYTES_MAX];
  size_t len = cid_mh_bytes(&cid, mh);
  stream_t out = {.req = req, .live = true};
  rc = kad_find_providers(rpc_kad(rpc), mh, len, (size_t)max, RPC_ROUTING_TIMEOUT_MS, found_provider, &out);
  stream_end(&out, rc == -ETIMEDOUT || rc >= 0 ? 0 : rc);
}

/* routing/findpeer: the addresses of a peer (a FIND_NODE walk unless connected),
 * one FinalPeer event {"Responses":[{"ID","Addrs"}]}. */
static void cmd_routing_findpeer(rpc_t *rpc, http_req_t *req, const args_t *a) {
  if (!rpc_kad(rpc)) return reply_error(req, 500, "the DHT is off (the daemon runs without its p2p node)");
  const char *arg[2];
  size_t n = arg_list(a, arg, 2);
  if (n != 1) return reply_error(req, 400, n ? "routing findpeer takes one peer ID" : "argument \"peerID\" is required");
  peer_id_t id;
  if (peer_id_parse(arg[0], &id) < 0) return reply_error(req, 400, "invalid peer ID");
  p2p_peer_info_t *info = malloc(sizeof *info);
  if (!info) return reply_rc(req, -ENOMEM);
  int rc = kad_find_peer(rpc_kad(rpc), &id, info, RPC_ROUTING_TIMEOUT_MS);
  if (rc) {
    free(info);
    return reply_error(req, 500, rc == -ENOENT ? "routing: not found" : err_msg(rc));
  }
  char text[MA_TEXT_BYTES_MAX];
  json_t *list = json_array();
  for (size_t i = 0; i < info->addr_count && list; i++)
    if (ma_format(&info->addrs[i], text) == 0) json_array_append_new(list, json_string(text));
  free(info);
  reply_json(req, json_pack("{s:s,s:s,s:[{s:s,s:o}],s:i}", "Extra", "", "ID", "", "Responses", "ID", arg[0], "Addrs",
                            list ? list : json_array(), "Type", QUERY_FINAL_PEER));
}

/* ---- name: IPNS (ipns.h) ---------------------------------------------------------------- */

#define RPC_NAME_TIMEOUT_MS 60000u /* a DHT put or get, unless dht-timeout says */

/* A Go duration ("48h", "5m", "1h30m", "300s", "250ms") in ms.  -EINVAL. */
static int parse_duration_ms(const char *key, const char *text, uint64_t *out) {
  static const struct {
    const char *unit;
    uint64_t ms;
  } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
  uint64_t total = 0;
  const char *p = text;
  if (!*p) return err_set(-EINVAL, "option '%s': empty duration", key);
  for (int parts = 0; *p; parts++) {
    if (parts == 8 || *p < '0' || *p > '9') return err_set(-EINVAL, "option '%s': '%s' is not a duration like 48h or 5m", key, text);
    char *end;
    errno = 0;
    unsigned long long n = strtoull(p, &end, 10);
    size_t i = 0;
    while (i < sizeof units / sizeof units[0] && strncmp(end, units[i].unit, strlen(units[i].unit)) != 0) i++;
    if (errno || i == sizeof units / sizeof units[0] || n > UINT64_MAX / units[i].ms / 2)
      return err_set(-EINVAL, "option '%s': '%s' is not a duration like 48h or 5m", key, text);
    total += n * units[i].ms;
    p = end + strlen(units[i].unit);
  }
  *out = total;
  return 0;
}

static void cmd_name_publish(rpc_t *rpc, http_req_t *req, const args_t *a) {
  const char *argv[2];
  size_t argc = arg_list(a, argv, 2);
  if (argc != 1) return reply_error(req, 400, argc ? "name/publish takes one path" : "argument \"ipfs-path\" is required");
  if (!rpc->ipns) return reply_error(req, 500, "IPNS is not available: the daemon runs without its node");
  const char *key = arg_get(a, "key");
  if (key && strcmp(key, "self") != 0) return reply_error(req, 400, "only the node's own key (\"self\") publishes here");
  uint64_t lifetime_ms = IPNS_LIFETIME_MS_DEFAULT, ttl_ms = IPNS_TTL_NS_DEFAULT / 1000000, timeout_ms = RPC_NAME_TIMEOUT_MS;
  const char *v;
  int rc = 0;
  if ((v = arg_get(a, "lifetime"))) rc = parse_duration_ms("lifetime", v, &lifetime_ms);
  if (!rc && (v = arg_get(a, "ttl"))) rc = parse_duration_ms("ttl", v, &ttl_ms);
  if (!rc && (v = arg_get(a, "dht-timeout"))) rc = parse_duration_ms("dht-timeout", v, &timeout_ms);
  int check = rc ? 0 : arg_bool(a, "resolve");
  if (!rc && check < 0 && check != -1) rc = check;
  if (!rc && (!lifetime_ms || !ttl_ms)) rc = err_set(-EINVAL, "lifetime and ttl must be more than zero");
  if (rc) return reply_rc(req, rc);
  if (timeout_ms > UINT32_MAX) timeout_ms = UINT32_MAX;
  /* Like Kubo (resolve=true): a /ipfs/ path must lead somewhere before it is published. */
  cid_t cid;
  if (check != 0 && strncmp(argv[0], "/ipns/", 6) != 0) {
    exp_stat_t st;
    block_source_t src = bs_source(rpc->repo->bs);
    rc = resolve(rpc, argv[0], &cid);
    if (!rc && (rc = exp_stat(&src, &cid, &st)) == -ENOENT)
      rc = err_set(-ENOENT, "%s: not in this node's store (resolve=false publishes it anyway)", argv[0]);
    if (rc) return reply_error(req, rc == -ENOENT ? 500 : status_for(rc), err_msg(rc));
  }
  ipns_entry_t *e = malloc(sizeof *e);
  if (!e) return reply_error(req, 500, "out of memory");
  rc = ipns_publish(rpc->ipns, argv[0], lifetime_ms, ttl_ms * 1000000, (uint32_t)timeout_ms, e);
  char name[PEER_ID_TEXT_BYTES_MAX];
  if (rc >= 0) ipns_self_name(rpc->ipns, name);
  if (rc < 0) reply_rc(req, rc);
  else reply_json(req, json_pack("{s:s,s:s}", "Name", name, "Value", e->value));
  free(e);
}

static void cmd_name_resolve(rpc_t *rpc, http_req_t *req, const args_t *a) {
  const char *argv[2];
  size_t argc = arg_list(a, argv, 2);
  if (argc > 1) return reply_error(req, 400, "name/resolve takes one name");
  if (!rpc->ipns) return reply_error(req, 500, "IPNS is not available: the daemon runs without its node");
  char self[PEER_ID_TEXT_BYTES_MAX];
  ipns_self_name(rpc->ipns, self);
  uint64_t timeout_ms = RPC_NAME_TIMEOUT_MS;
  const char *v = arg_get(a, "dht-timeout");
  int rc = v ? parse_duration_ms("dht-timeout", v, &timeout_ms) : 0;
  if (rc) return reply_rc(req, rc);
  if (timeout_ms > UINT32_MAX || timeout_ms == 0) timeout_ms = UINT32_MAX;
  char *path = malloc(IPNS_PATH_BYTES_MAX);
  if (!path) return reply_error(req, 500, "out of memory");
  rc = ipns_resolve(rpc->ipns, argc ? argv[0] : self, (uint32_t)timeout_ms, path);
  if (rc) reply_error(req, rc == -EINVAL ? 400 : 500, err_msg(rc));
  else reply_json(req, json_pack("{s:s}", "Path", path));
  free(path);
}

/* ---- dispatch ------------------------------------------------------------------------- */

typedef void (*rpc_cmd_fn)(rpc_t *rpc, http_req_t *req, const args_t *a);

static const struct {
  const char *name;
  rpc_cmd_fn fn;
} commands[] = {
    {"add", cmd_add},           {"cat", cmd_cat},             {"get", cmd_get},
    {"ls", cmd_ls},             {"block/get", cmd_block_get}, {"block/put", cmd_block_put},
    {"block/stat", cmd_block_stat}, {"block/rm", cmd_block_rm}, {"pin/add", cmd_pin_add},
    {"pin/rm", cmd_pin_rm},     {"pin/ls", cmd_pin_ls},       {"pin/verify", cmd_pin_verify},
    {"repo/stat", cmd_repo_stat}, {"repo/gc", cmd_repo_gc},   {"id", cmd_id},
    {"version", cmd_version},   {"dwn/process", cmd_dwn_process}, {"dag/export", cmd_dag_export},
    {"dag/import", cmd_dag_import}, {"swarm/connect", cmd_swarm_connect}, {"swarm/peers", cmd_swarm_peers},
    {"ping", cmd_ping}, {"name/publish", cmd_name_publish}, {"name/resolve", cmd_name_resolve},
    {"routing/provide", cmd_routing_provide}, {"routing/findpeer", cmd_routing_findpeer},
    {"routing/findprovs", cmd_routing_findprovs},
};

int rpc_new(const rpc_opts_t *opts, rpc_t **out) {
  if (!opts || !opts->repo) return err_set(-EINVAL, "rpc needs a repository");
  rpc_t *rpc = calloc(1, sizeof *rpc);
  if (!rpc) return -ENOMEM;
  rpc->repo = opts->repo;
  rpc->dwn = opts->dwn;
  rpc->files_roots = opts->files_roots;
  rpc->files_ctx = opts->files_ctx;
  rpc->node = opts->node;
  rpc->ipns = opts->ipns;
  if (opts->token && *opts->token && !(rpc->token = strdup(opts->token))) {
    free(rpc);
    return -ENOMEM;
  }
  pthread_mutex_init(&rpc->gc_lock, NULL);
  *out = rpc;
  return 0;
}

void rpc_free(rpc_t *rpc) {
  if (!rpc) return;
  pthread_mutex_destroy(&rpc->gc_lock);
  if (rpc->token) OPENSSL_cleanse(rpc->token, strlen(rpc->token));
  free(rpc->token);
  free(rpc);
}

static bool token_ok(const rpc_t *rpc, http_req_t *req) {
  if (!rpc->token) return true;
  const char *h = http_req_header(req, "authorization");
  if (!h || strncasecmp(h, "Bearer ", 7) != 0) return false;
  h += 7;
  size_t len = strlen(rpc->token);
  return strlen(h) == len && CRYPTO_memcmp(h, rpc->token, len) == 0;
}

void rpc_handle(http_req_t *req, void *ctx) {
  rpc_t *rpc = ctx;
  const char *path = http_req_path(req);
  if (!token_ok(rpc, req)) {
    http_resp_header(req, "WWW-Authenticate", "Bearer");
    return reply_error(req, 401, "missing or wrong bearer token (Authorization: Bearer <security.rpc_token>)");
  }
  if (strncmp(path, "/api/v0/", 8) != 0) return reply_error(req, 404, "not found: the RPC API is under /api/v0/");
  const char *name = path + 8;
  size_t len = strlen(name);
  while (len && name[len - 1] == '/') len--;
  rpc_cmd_fn fn = NULL;
  for (size_t i = 0; i < sizeof commands / sizeof commands[0] && !fn; i++)
    if (strlen(commands[i].name) == len && memcmp(commands[i].name, name, len) == 0) fn = commands[i].fn;
  if (strcmp(http_req_method(req), "POST") != 0) {
    http_resp_header(req, "Allow", "POST");
    return reply_error(req, 405, "405 - Method Not Allowed: the RPC API takes POST only");
  }
  if (!fn) return reply_error(req, 404, "unknown command: see docs/rpc.md for the commands served");
  args_t *a = calloc(1, sizeof *a);
  if (!a) return reply_error(req, 500, "out of memory");
  int rc = args_parse(http_req_query(req), a);
  if (rc) reply_error(req, 400, err_msg(rc));
  else fn(rpc, req, a);
  args_free(a);
  free(a);
}
