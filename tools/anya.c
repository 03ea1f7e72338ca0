/*
 * anya: the command-line tool (Kubo-shaped; docs/cli.md and shared
 * interfaces.md are the contract).  Each subcommand parses its options with
 * the small table-driven parser below, opens the repository when it needs
 * one, calls into libanya, and reports failures as one `anya: ` line on
 * stderr with a non-zero exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bs.h"
#include "car.h"
#include "cid.h"
#include "err.h"
#include "exporter.h"
#include "importer.h"
#include "repo.h"
#include "repo_gc.h"
#include "cli.h"
#include "remote.h"

#define IO_CHUNK_BYTES (1u << 20)

static uint64_t walk_total;
static int walk_fn(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  if (type == FTW_F && S_ISREG(st->st_mode)) walk_total += (uint64_t)st->st_size;
  return 0;
}

/* ---- add -------------------------------------------------------------------- */

typedef struct add_root {
  cid_t cid;
  char label[NAME_MAX + 1]; /* the name `added` printed for it (a pin policy names the pin after it) */
  uint64_t size_bytes;      /* cumulative DAG size */
} add_root_t;

typedef struct add_ctx {
  progress_t *progress;
  bool quiet;          /* -q: CIDs only */
  bool quieter;        /* -Q: only the final root */
  add_root_t tops[ARGS_MAX]; /* each path's root (pinned, like Kubo) */
  size_t tops_len;
} add_ctx_t;

static void added_cb(void *ctx, const cid_t *cid, const char *path, uint64_t size_bytes) {
  add_ctx_t *a = ctx;
  if (*path && !strchr(path, '/') && a->tops_len < ARGS_MAX) {
    add_root_t *t = &a->tops[a->tops_len++];
    t->cid = *cid;
    t->size_bytes = size_bytes;
    snprintf(t->label, sizeof t->label, "%s", path);
  }
  if (a->quieter) return;
  char text[CID_TEXT_BYTES_MAX];
  if (cid_format_default(cid, text) < 0) return;
  print_added(a->progress, text, path, a->quiet);
}

static void progress_cb(void *ctx, uint64_t done) {
  add_ctx_t *a = ctx;
  if (a->progress->enabled) progress_draw(a->progress, done, false);
}

static int discard_put(void *ctx, const cid_t *cid, const uint8_t *data, size_t len) { return 0; }

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Pins what `anya add` stored: --pin=true|false decides when given, else the
 * first matching pin policy (source "add", policy.h), else pinning.pin_on_add.
 * A pin made under a policy is named "<policy>/<label>", expires as the policy
 * says, and the policy's keep_last is applied after it. */
static int add_pin_roots(repo_t *r, const add_root_t *roots, size_t len, const char *pin_flag) {
  int rc = 0;
  for (size_t i = 0; i < len && !rc; i++) {
    policy_event_t ev = {.source = POLICY_SOURCE_ADD, .size = roots[i].size_bytes};
    const policy_rule_t *rule = policy_match(&r->policies, &ev);
    bool pin = pin_flag ? strcmp(pin_flag, "true") == 0
                        : rule ? rule->pin : config_bool(r->config, "pinning.pin_on_add");
    if (!pin) continue;
    if (!rule || !rule->pin) {
      rc = pins_add_written(r->pins, &roots[i].cid, NULL, 0);
      continue;
    }
    char name[PINS_NAME_BYTES_MAX + 1];
    policy_pin_name(rule, roots[i].label, name);
    rc = pins_add_written(r->pins, &roots[i].cid, name, policy_expiry(rule, wall_ms()));
    if (!rc) rc = policy_enforce(rule, r->pins, NULL, NULL, NULL);
  }
  return rc;
}

static const opt_spec_t add_specs[] = {
    {"recursive", 'r', OPT_FLAG},  {"hidden", 'H', OPT_FLAG},       {"quieter", 'Q', OPT_FLAG},
    {"quiet", 'q', OPT_FLAG},      {"only-hash", 'n', OPT_FLAG},    {"cid-version", 0, OPT_VALUE},
    {"raw-leaves", 0, OPT_BOOL},   {"chunker", 's', OPT_VALUE},     {"trickle", 't', OPT_FLAG},
    {"pin", 0, OPT_BOOL},          {"progress", 'p', OPT_BOOL},     {"wrap-with-directory", 'w', OPT_FLAG},
};

int cmd_add(int argc, char **argv) {
  opts_t o = {0};
  PARSE(&o, argc, argv, add_specs);
  imp_options_t io;
  imp_options_default(&io);
  const char *v;
  uint64_t n;
  if ((v = opt_get(&o, "cid-version"))) {
    if (parse_u64(v, 1, &n)) return usage_error("--cid-version must be 0 or 1, not '%s'", v);
    io.cid_version = (uint32_t)n;
  }
  if ((v = opt_get(&o, "raw-leaves"))) io.raw_leaves = strcmp(v, "true") == 0;
  if ((v = opt_get(&o, "chunker"))) {
    if (strncmp(v, "size-", 5) != 0 || parse_u64(v + 5, IMP_CHUNK_BYTES_MAX, &n) || n == 0)
      return usage_error("--chunker must be size-N with 1 <= N <= 2096896, not '%s'", v);
    io.chunk_bytes = (uint32_t)n;
  }
  io.trickle = opt_true(&o, "trickle");
  io.hidden = opt_true(&o, "hidden");
  io.wrap = opt_true(&o, "wrap-with-directory");
  int rc = imp_options_check(&io);
  if (rc) return die(rc);

  bool recursive = opt_true(&o, "recursive");
  bool from_stdin = o.args_len == 0 || (o.args_len == 1 && strcmp(o.args[0], "-") == 0);
  progress_t progress = {.enabled = isatty(2)};
  if ((v = opt_get(&o, "progress"))) progress.enabled = strcmp(v, "true") == 0;
  if (opt_true(&o, "quieter")) progress.enabled = progress.enabled && opt_get(&o, "progress");
  if (!from_stdin) {
    for (size_t i = 0; i < o.args_len; i++) {
      struct stat st;
      if (strcmp(o.args[i], "-") == 0) return usage_error("'-' (stdin) cannot be mixed with paths%s", "");
      if (lstat(o.args[i], &st) != 0)
        return die(err_set(-errno, "%s: %s", o.args[i], strerror(errno)));
      if (S_ISDIR(st.st_mode) && !recursive)
        return die(err_set(-EISDIR, "%s is a directory, use -r to add directories", o.args[i]));
      if (progress.enabled) {
        if (S_ISDIR(st.st_mode)) nftw(o.args[i], walk_fn, 16, FTW_PHYS);
        else if (S_ISREG(st.st_mode)) walk_total += (uint64_t)st.st_size;
      }
    }
    progress.total_bytes = walk_total;
  }

  if (!opt_true(&o, "only-hash") && remote_active()) { /* a daemon holds the repository */
    remote_add_opts_t ro = {&io, from_stdin ? NULL : o.args, from_stdin ? 0 : o.args_len, opt_true(&o, "quiet"),
                            opt_true(&o, "quieter"), opt_get(&o, "pin"), &progress};
    if ((rc = remote_add(&ro))) return die(rc);
    return fflush(stdout) == 0 ? 0 : 1;
  }
  repo_t *r = NULL;
  block_sink_t sink = {discard_put, NULL};
  if (!opt_true(&o, "only-hash")) {
    if ((rc = open_repo("anya add", &r))) return die(rc);
    sink = bs_sink(r->bs);
  }
  add_ctx_t ctx = {.progress = &progress, .quiet = opt_true(&o, "quiet"), .quieter = opt_true(&o, "quieter")};
  imp_callbacks_t cb = {.added = added_cb, .progress = progress_cb, .ctx = &ctx};
  cid_t root;
  uint64_t tsize = 0;
  if (from_stdin) {
    rc = imp_add_fd(&io, &sink, 0, &cb, &root, &tsize);
    if (!rc && !ctx.quieter) {
      char text[CID_TEXT_BYTES_MAX];
      cid_format_default(&root, text);
      print_added(&progress, text, text, ctx.quiet);
    }
  } else {
    rc = imp_add_paths(&io, &sink, o.args, o.args_len, &cb, &root);
  }
  if (!rc && r) rc = bs_sync(r->bs); /* blocks durable first, then the pins */
  if (!rc && r) {
    /* What gets pinned: each path's root like Kubo (stdin and -w: the one root) */
    if (from_stdin || io.wrap || ctx.tops_len == 0) {
      uint64_t total = tsize;
      for (size_t i = 0; i < ctx.tops_len; i++) total += ctx.tops[i].size_bytes;
      if (from_stdin || ctx.tops_len == 0) snprintf(ctx.tops[0].label, sizeof ctx.tops[0].label, "stdin");
      ctx.tops[0].cid = root; /* -w: the wrapper, labelled after the first path */
      ctx.tops[0].size_bytes = total;
      ctx.tops_len = 1;
    }
    rc = add_pin_roots(r, ctx.tops, ctx.tops_len, opt_get(&o, "pin"));
  }
  if (!rc && r) rc = repo_gc_auto(r); /* after the pins: what was just added and pinned stays */
  if (r) rc = close_repo(r, rc); /* group commit: everything durable before we report the root */
  if (progress.enabled && progress.drawn) fputs("\r\033[K", stderr);
  if (rc) return die(rc);
  if (ctx.quieter) {
    char text[CID_TEXT_BYTES_MAX];
    cid_format_default(&root, text);
    printf("%s\n", text);
  }
  return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- cat, get, ls ---------------------------------------------------------- */

static int copy_file_out(const block_source_t *src, const cid_t *cid, int fd, uint64_t offset,
                         uint64_t length) {
  exp_file_t *f;
  int rc = exp_open(src, cid, &f);
  if (rc) return rc;
  uint8_t *chunk = malloc(IO_CHUNK_BYTES);
  if (!chunk) { exp_close(f); return -ENOMEM; }
  uint64_t end = exp_size(f);
  if (length != UINT64_MAX && offset + length < end) end = offset + length;
  for (uint64_t pos = offset; pos < end && !rc;) {
    size_t want = end - pos < IO_CHUNK_BYTES ? (size_t)(end - pos) : IO_CHUNK_BYTES;
    ssize_t n = exp_pread(f, chunk, want, pos);
    if (n < 0) rc = (int)n;
    else if (n == 0) rc = err_set(-EIO, "file ended early at byte %llu", (unsigned long long)pos);
    else {
      rc = write_all(fd, chunk, (size_t)n);
      pos += (uint64_t)n;
    }
  }
  free(chunk);
  exp_close(f);
  return rc;
}

static const opt_spec_t cat_specs[] = {{"offset", 'o', OPT_VALUE}, {"length", 'l', OPT_VALUE}};

int cmd_cat(int argc, char **argv) {
  opts_t o = {0};
  PARSE(&o, argc, argv, cat_specs);
  if (o.args_len == 0) return usage_error("cat needs a CID%s", "");
  uint64_t offset = 0, length = UINT64_MAX;
  const char *v;
  if ((v = opt_get(&o, "offset")) && parse_u64(v, UINT64_MAX, &offset))
    return usage_error("bad --offset '%s'", v);
  if ((v = opt_get(&o, "length")) && parse_u64(v, UINT64_MAX, &length))
    return usage_error("bad --length '%s'", v);
  if (remote_active()) {
    int rrc = remote_cat(o.args, o.args_len, offset, length);
    return rrc ? die(rrc) : 0;
  }
  repo_t *r;
  int rc = open_repo("anya cat", &r);
  if (rc) return die(rc);
  block_source_t src = bs_source(r->bs);
  for (size_t i = 0; i < o.args_len && !rc; i++) {
    cid_t cid;
    rc = resolve_arg(r, o.args[i], &cid);
    if (!rc) rc = copy_file_out(&src, &cid, 1, offset, length);
    if (rc == -EISDIR) rc = err_set(rc, "%s is a directory", o.args[i]);
  }
  rc = close_repo(r, rc);
  return rc ? die(rc) : 0;
}

typedef struct child_walk {
  const block_source_t *src;
  const char *dir; /* the directory being filled */
  int depth;       /* its nesting depth */
} child_walk_t;

static int get_child(void *ctx, const char *name, const cid_t *ccid, uint64_t tsize);

/* Writes the node at cid to `out` (which must not exist). */
static int get_node(const block_source_t *src, const cid_t *cid, const char *out, int depth) {
  if (depth > IMP_DEPTH_MAX) return err_set(-ELOOP, "directory nesting deeper than %d", IMP_DEPTH_MAX);
  exp_stat_t st;
  int rc = exp_stat(src, cid, &st);
  if (rc) return rc;
  if (st.kind == EXP_SYMLINK) {
    buf_t target = {0};
    rc = exp_readlink(src, cid, &target);
    if (!rc && !buf_cstr(&target)) rc = -ENOMEM;
    if (!rc && symlink((char *)target.data, out) != 0)
      rc = err_set(-errno, "cannot create symlink %s: %s", out, strerror(errno));
    buf_free(&target);
    return rc;
  }
  if (st.kind == EXP_DIRECTORY) {
    if (mkdir(out, st.has_mode ? (st.mode & 07777) : 0755) != 0)
      return err_set(-errno, "cannot create %s: %s", out, strerror(errno));
    child_walk_t w = {src, out, depth};
    return exp_readdir(src, cid, get_child, &w);
  }
  int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.has_mode ? (st.mode & 07777) : 0644);
  if (fd < 0) return err_set(-errno, "cannot create %s: %s", out, strerror(errno));
  rc = copy_file_out(src, cid, fd, 0, UINT64_MAX);
  if (close(fd) != 0 && !rc) rc = err_set(-errno, "cannot close %s: %s", out, strerror(errno));
  return rc;
}

static int get_child(void *ctx, const char *name, const cid_t *ccid, uint64_t tsize) {
  child_walk_t *w = ctx;
  if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return err_set(-EINVAL, "refusing unsafe entry name '%s' in %s", name, w->dir);
  char path[PATH_MAX];
  if ((size_t)snprintf(path, sizeof path, "%s/%s", w->dir, name) >= sizeof path)
    return err_set(-ENAMETOOLONG, "path too long under %s", w->dir);
  return get_node(w->src, ccid, path, w->depth + 1);
}

static int remove_tree_fn(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  remove(path); /* best effort: clean-up after a failure already being reported */
  return 0;
}

static const opt_spec_t get_specs[] = {{"output", 'o', OPT_VALUE}};

int cmd_get(int argc, char **argv) {
  opts_t o = {0};
  PARSE(&o, argc, argv, get_specs);
  if (o.args_len != 1) return usage_error("get needs one CID[/path]%s", "");
  const char *out = opt_get(&o, "output");
  char default_out[PATH_MAX];
  if (!out) { /* like Kubo: the last path segment, or the CID */
    const char *a = o.args[0];
    if (strncmp(a, "/ipfs/", 6) == 0) a += 6;
    const char *base = strrchr(a, '/');
    snprintf(default_out, sizeof default_out, "%s", base && base[1] ? base + 1 : a);
    default_out[strcspn(default_out, "/")] = '\0';
    out = default_out;
  }
  struct stat st;
  if (lstat(out, &st) == 0) return die(err_set(-EEXIST, "%s already exists", out));
  char tmp[PATH_MAX];
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.anya-partial-%ld", out, (long)getpid()) >= sizeof tmp)
    return die(err_set(-ENAMETOOLONG, "output path too long"));
  if (remote_active()) {
    int rrc = remote_get(o.args[0], tmp);
    if (!rrc && rename(tmp, out) != 0) rrc = err_set(-errno, "cannot rename to %s: %s", out, strerror(errno));
    if (rrc) nftw(tmp, remove_tree_fn, 16, FTW_DEPTH | FTW_PHYS);
    return rrc ? die(rrc) : 0;
  }
  repo_t *r;
  int rc = open_repo("anya get", &r);
  if (rc) return die(rc);
  cid_t cid;
  rc = resolve_arg(r, o.args[0], &cid);
  block_source_t src = bs_source(r->bs);
  if (!rc) rc = get_node(&src, &cid, tmp, 0);
  if (!rc && rename(tmp, out) != 0) rc = err_set(-errno, "cannot rename to %s: %s", out, strerror(errno));
  if (rc) nftw(tmp, remove_tree_fn, 16, FTW_DEPTH | FTW_PHYS); /* nothing half-written left behind */
  rc = close_repo(r, rc);
  return rc ? die(rc) : 0;
}

typedef struct ls_ctx { const block_source_t *src; } ls_ctx_t;

static int ls_entry(void *ctx, const char *name, const cid_t *cid, uint64_t tsize) {
  ls_ctx_t *l = ctx;
  char text[CID_TEXT_BYTES_MAX];
  exp_stat_t st;
  int rc = exp_stat(l->src, cid, &st);
  if (rc) return rc;
  cid_format_default(cid, text);
  print_ls_entry(text, st.kind == EXP_DIRECTORY, st.size_bytes, name);
  return 0;
}

int cmd_ls(int argc, char **argv) {
  opts_t o = {0};
  static const opt_spec_t none[] = {{"", 0, OPT_FLAG}};
  PARSE(&o, argc, argv, none);
  if (o.args_len == 0) return usage_error("ls needs a CID[/path]%s", "");
  if (remote_active()) {
    int rrc = remote_ls(o.args, o.args_len);
    return rrc ? die(rrc) : 0;
  }
  repo_t *r;
  int rc = open_repo("anya ls", &r);
  if (rc) return die(rc);
  block_source_t src = bs_source(r->bs);
  ls_ctx_t l = {&src};
  for (size_t i = 0; i < o.args_len && !rc; i++) {
    cid_t cid;
    rc = resolve_arg(r, o.args[i], &cid);
    if (!rc) rc = exp_readdir(&src, &cid, ls_entry, &l);
    if (rc == -ENOTDIR) rc = err_set(rc, "%s is not a directory", o.args[i]);
  }
  rc = close_repo(r, rc);
  return rc ? die(rc) : 0;
}

/* ---- block ------------------------------------------------------------------ */

static const opt_spec_t block_specs[] = {{"cid-codec", 0, OPT_VALUE}, {"format", 'f', OPT_VALUE}, {"pin", 0, OPT_BOOL}};

int cmd_block(int argc, char **argv) {
  if (argc < 1) return usage_error("block needs get, put, stat or rm%s", "");
  const char *sub = argv[0];
  opts_t o = {0};
  PARSE(&o, argc - 1, argv + 1, block_specs);
  bool put = strcmp(sub, "put") == 0;
  if (!put && strcmp(sub, "get") && strcmp(sub, "stat") && strcmp(sub, "rm"))
    return usage_error("unknown block command '%s'", sub);
  if (!put && o.args_len == 0) return usage_error("block %s needs a CID", sub);
  buf_t data = {0};
  cid_t cid;
  int rc = 0;
  if (put) {
    uint64_t codec = CODEC_RAW;
    uint32_t version = 1;
    const char *c = opt_get(&o, "cid-codec");
    if (!c) c = opt_get(&o, "format");
    if (c && strcmp(c, "raw") == 0) codec = CODEC_RAW;
    else if (c && strcmp(c, "dag-pb") == 0) codec = CODEC_DAG_PB;
    else if (c && strcmp(c, "v0") == 0) codec = CODEC_DAG_PB, version = 0;
    else if (c && strcmp(c, "dag-cbor") == 0) codec = CODEC_DAG_CBOR;
    else if (c) return usage_error("unknown --cid-codec '%s' (raw, dag-pb, dag-cbor, v0)", c);
    int fd = 0;
    if (o.args_len > 0 && strcmp(o.args[0], "-") != 0) {
      fd = open(o.args[0], O_RDONLY | O_CLOEXEC);
      if (fd < 0) return die(err_set(-errno, "%s: %s", o.args[0], strerror(errno)));
    }
    if (remote_active()) {
      rc = remote_block_put(fd, c, opt_get(&o, "pin"));
      if (fd) close(fd);
      return rc ? die(rc) : 0;
    }
    rc = read_all_fd(fd, &data, BLOCK_BYTES_MAX);
    if (fd) close(fd);
    if (!rc) rc = cid_make(&cid, version, codec, MH_SHA2_256, data.data, data.len);
    if (rc) { buf_free(&data); return die(rc); }
  }
  if (!put && remote_active()) {
    if (strcmp(sub, "rm") == 0) rc = remote_block_rm(o.args, o.args_len);
    for (size_t i = 0; strcmp(sub, "rm") != 0 && i < o.args_len && !rc; i++)
      rc = strcmp(sub, "get") == 0 ? remote_block_get(o.args[i]) : remote_block_stat(o.args[i]);
    return rc ? die(rc) : 0;
  }
  repo_t *r;
  rc = open_repo(put ? "anya block put" : "anya block", &r);
  if (rc) { buf_free(&data); return die(rc); }
  char text[CID_TEXT_BYTES_MAX];
  if (put) {
    rc = bs_put(r->bs, &cid, data.data, data.len);
    if (rc > 0) rc = 0;
    if (!rc) rc = bs_sync(r->bs);
    const char *pin = opt_get(&o, "pin"); /* Kubo: --pin, off by default */
    if (!rc && pin && strcmp(pin, "true") == 0) rc = pins_add(r->pins, &cid, true, NULL, 0);
    if (!rc) cid_format_default(&cid, text), printf("%s\n", text);
    if (!rc) rc = repo_gc_auto(r);
  }
  for (size_t i = 0; !put && i < o.args_len && !rc; i++) {
    if ((rc = cid_parse(&cid, o.args[i]))) {
      rc = err_set(rc, "invalid CID '%s': %s", o.args[i], err_msg(rc));
      break;
    }
    cid_format_default(&cid, text);
    if (strcmp(sub, "get") == 0) {
      rc = bs_get(r->bs, &cid, &data);
      if (!rc) rc = write_all(1, data.data, data.len);
    } else if (strcmp(sub, "stat") == 0) {
      uint64_t size;
      rc = bs_has(r->bs, &cid, &size);
      if (rc == 1) print_block_stat(text, size), rc = 0;
      else if (rc == 0) rc = -ENOENT;
    } else {
      rc = bs_delete(r->bs, &cid);
      if (!rc) printf("removed %s\n", text);
    }
    if (rc == -ENOENT) rc = err_set(rc, "block %s not found", text);
  }
  buf_free(&data);
  rc = close_repo(r, rc);
  return rc ? die(rc) : 0;
}

/* ---- car -------------------------------------------------------------------- */

static int fd_write(void *ctx, const void *data, size_t len) { return write_all(*(int *)ctx, data, len); }

static ssize_t fd_read(void *ctx, void *data, size_t len) {
  for (;;) {
    ssize_t n = read(*(int *)ctx, data, len);
    if (n < 0 && errno == EINTR) continue;
    return n < 0 ? err_set(-errno, "read failed: %s", strerror(errno)) : n;
  }
}

typedef struct car_roots {
  cid_t cids[ARGS_MAX]; /* the roots of the CARs imported, pinned at the end */
  size_t len;
} car_roots_t;

static void print_root(void *ctx, const cid_t *root) {
  car_roots_t *roots = ctx;
  char text[CID_TEXT_BYTES_MAX];
  cid_format_default(root, text);
  printf("root %s\n", text);
  if (roots->len < ARGS_MAX) roots->cids[roots->len++] = *root;
}

static const opt_spec_t car_specs[] = {{"output", 'o', OPT_VALUE}, {"pin-roots", 0, OPT_BOOL}};

static void remote_root(void *ctx, const char *cid) {
  car_roots_t *roots = ctx;
  printf("root %s\n", cid);
  if (roots->len < ARGS_MAX && cid_parse(&roots->cids[roots->len], cid) == 0) roots->len++;
}

/* `car export|import` through the daemon: the same checks, lines and files
 * as below. */
static int remote_car(const opts_t *o, bool export) {
  int rc = 0;
  if (export) {
    cid_t root;
    const char *path;
    const char *out = opt_get(o, "output");
    char tmp[PATH_MAX];
    int fd = 1;
    rc = exp_split_arg(o->args[0], &root, &path);
    if (!rc && *path) rc = err_set(-EINVAL, "car export takes a CID, not a path");
    if (!rc && out) {
      snprintf(tmp, sizeof tmp, "%s.anya-partial-%ld", out, (long)getpid());
      fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd < 0) rc = err_set(-errno, "cannot create %s: %s", tmp, strerror(errno));
    }
    char text[CID_TEXT_BYTES_MAX];
    if (!rc) cid_format_default(&root, text), rc = remote_dag_export(text, fd);
    if (out && fd >= 0) {
      if (!rc && fsync(fd) != 0) rc = err_set(-errno, "cannot sync %s: %s", out, strerror(errno));
      close(fd);
      if (!rc && rename(tmp, out) != 0) rc = err_set(-errno, "cannot rename to %s: %s", out, strerror(errno));
      if (rc) unlink(tmp);
    }
    return rc ? die(rc) : 0;
  }
  static car_roots_t roots; /* static: ARGS_MAX CIDs are too big for the stack */
  roots.len = 0;
  for (size_t i = 0; i < o->args_len && !rc; i++) {
    int fd = 0;
    if (strcmp(o->args[i], "-") != 0) {
      fd = open(o->args[i], O_RDONLY | O_CLOEXEC);
      if (fd < 0) { rc = err_set(-errno, "%s: %s", o->args[i], strerror(errno)); break; }
    }
    uint64_t blocks = 0;
    rc = remote_dag_import(fd, &blocks, remote_root, &roots);
    if (fd) close(fd);
    if (rc) rc = err_set(rc, "%s: %s", o->args[i], err_msg(rc));
    else printf("imported %llu blocks from %s\n", (unsigned long long)blocks, o->args[i]);
  }
  const char *pin_roots = opt_get(o, "pin-roots");
  for (size_t i = 0; !rc && (!pin_roots || strcmp(pin_roots, "true") == 0) && i < roots.len; i++) {
    char text[CID_TEXT_BYTES_MAX];
    cid_format_default(&roots.cids[i], text);
    rc = remote_pin_root(text);
    if (rc) rc = err_set(rc, "cannot pin root %s: %s", text, err_msg(rc));
    else printf("pinned root %s\n", text);
  }
  fflush(stdout);
  return rc ? die(rc) : 0;
}

int cmd_car(int argc, char **argv) {
  if (argc < 1) return usage_error("car needs export or import%s", "");
  const char *sub = argv[0];
  opts_t o = {0};
  PARSE(&o, argc - 1, argv + 1, car_specs);
  bool export = strcmp(sub, "export") == 0;
  if (!export && strcmp(sub, "import") != 0) return usage_error("unknown car command '%s'", sub);
  if (export && o.args_len != 1) return usage_error("car export needs one CID%s", "");
  if (!export && o.args_len == 0) return usage_error("car import needs a FILE (or -)%s", "");
  if (remote_active()) return remote_car(&o, export);
  repo_t *r;
  int rc = open_repo(export ? "anya car export" : "anya car import", &r);
  if (rc) return die(rc);
  if (export) {
    cid_t root;
    const char *path;
    const char *out = opt_get(&o, "output");
    char tmp[PATH_MAX];
    int fd = 1;
    rc = exp_split_arg(o.args[0], &root, &path);
    if (!rc && *path) rc = err_set(-EINVAL, "car export takes a CID, not a path");
    if (!rc && out) {
      snprintf(tmp, sizeof tmp, "%s.anya-partial-%ld", out, (long)getpid());
      fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd < 0) rc = err_set(-errno, "cannot create %s: %s", tmp, strerror(errno));
    }
    block_source_t src = bs_source(r->bs);
    if (!rc) rc = car_export(&src, &root, fd_write, &fd);
    if (out && fd >= 0) {
      if (!rc && fsync(fd) != 0) rc = err_set(-errno, "cannot sync %s: %s", out, strerror(errno));
      close(fd);
      if (!rc && rename(tmp, out) != 0) rc = err_set(-errno, "cannot rename to %s: %s", out, strerror(errno));
      if (rc) unlink(tmp);
    }
  } else {
    block_sink_t sink = bs_sink(r->bs);
    static car_roots_t roots; /* static: ARGS_MAX CIDs are too big for the stack */
    roots.len = 0;
    for (size_t i = 0; i < o.args_len && !rc; i++) {
      int fd = 0;
      if (strcmp(o.args[i], "-") != 0) {
        fd = open(o.args[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) { rc = err_set(-errno, "%s: %s", o.args[i], strerror(errno)); break; }
      }
      uint64_t blocks = 0;
      rc = car_import(fd_read, &fd, &sink, print_root, &roots, &blocks);
      if (fd) close(fd);
      if (!rc) rc = bs_sync(r->bs);
      if (rc) rc = err_set(rc, "%s: %s", o.args[i], err_msg(rc));
      else printf("imported %llu blocks from %s\n", (unsigned long long)blocks, o.args[i]);
    }
    /* Like Kubo's `dag import`: the roots are pinned recursively (--pin-roots=false
     * to skip); a root whose DAG the CARs did not hold in full fails, naming the
     * missing block, and the blocks stay (unpinned) for the next gc to judge. */
    const char *pin_roots = opt_get(&o, "pin-roots");
    for (size_t i = 0; !rc && (!pin_roots || strcmp(pin_roots, "true") == 0) && i < roots.len; i++) {
      char text[CID_TEXT_BYTES_MAX];
      cid_format_default(&roots.cids[i], text);
      rc = pins_add(r->pins, &roots.cids[i], true, NULL, 0);
      if (rc) rc = err_set(rc, "cannot pin root %s: %s", text, err_msg(rc));
      else printf("pinned root %s\n", text);
    }
    if (!rc) fflush(stdout), rc = repo_gc_auto(r);
  }
  rc = close_repo(r, rc);
  return rc ? die(rc) : 0;
}

/* ---- repo, init, version ------------------------------------------------------ */

static void fsck_problem(void *ctx, const char *problem) {
  printf("%s\n", problem);
  ++*(int *)ctx;
}

int cmd_repo(int argc, char **argv) {
  if (argc < 1) return usage_error("repo needs stat, fsck, gc or compact%s", "");
  const char *sub = argv[0];
  opts_t o = {0};
  static const opt_spec_t none[] = {{"", 0, OPT_FLAG}};
  PARSE(&o, argc - 1, argv + 1, none);
  static const char *const subs[] = {"stat", "fsck", "gc", "compact"};
  static const char *const holders[] = {"anya repo stat", "anya repo fsck", "anya repo gc", "anya repo compact"};
  size_t which = 0;
  while (which < 4 && strcmp(sub, subs[which]) != 0) which++;
  if (which == 4) return usage_error("unknown repo command '%s'", sub);
  if ((which == 0 || which == 2) && remote_active()) { /* stat, gc */
    int rrc = which == 0 ? remote_repo_stat() : remote_repo_gc();
    return rrc ? die(rrc) : 0;
  }
  repo_t *r;
  int rc = open_repo(holders[which], &r);
  if (rc) return die(rc);
  if (which == 2) {
    rc = repo_gc_run(r, false, NULL);
  } else if (which == 3) {
    rc = repo_compact_run(r);
  } else if (strcmp(sub, "stat") == 0) {
    bs_stat_t st;
    rc = bs_stat(r->bs, &st);
    char version[32];
    snprintf(version, sizeof version, "anya-repo@%d", REPO_FORMAT_VERSION);
    repo_stat_out_t out = {st.blocks, st.disk_bytes, st.block_bytes, st.segments, st.reclaimable_bytes,
                           config_size(r->config, "storage.max"), r->path, version};
    if (!rc) print_repo_stat(&out);
  } else {
    int problems = 0;
    rc = bs_fsck(r->bs, fsck_problem, &problems);
    if (rc > 0) rc = err_set(-EIO, "repo fsck found %d problem%s", rc, rc == 1 ? "" : "s");
    else if (!rc) {
      bs_stat_t st;
      if (bs_stat(r->bs, &st) == 0) printf("repo fsck: ok, %llu blocks\n", (unsigned long long)st.blocks);
    }
  }
  rc = close_repo(r, rc);
  return rc ? die(rc) : 0;
}

int cmd_init(int argc, char **argv) {
  opts_t o = {0};
  static const opt_spec_t specs[] = {{"profile", 0, OPT_VALUE}};
  PARSE(&o, argc, argv, specs);
  if (o.args_len) return usage_error("init takes no arguments (use --repo DIR), got '%s'", o.args[0]);
  char path[REPO_PATH_BYTES_MAX], peer_id[64];
  int rc = repo_default_path(global_repo, path);
  if (!rc) rc = repo_init(path, opt_get(&o, "profile"), peer_id);
  if (rc) return die(rc);
  printf("initialized Anya repository at %s\npeer identity: %s\n", path, peer_id);
  return 0;
}

int cmd_id(int argc, char **argv) {
  opts_t o = {0};
  static const opt_spec_t none[] = {{"", 0, OPT_FLAG}};
  PARSE(&o, argc, argv, none);
  if (o.args_len > 1) return usage_error("id takes at most one peer ID, got '%s' too", o.args[1]);
  if (remote_active()) {
    int rrc = remote_id(o.args_len ? o.args[0] : NULL);
    return rrc ? die(rrc) : 0;
  }
  if (o.args_len) return die(err_set(-ENOTCONN, "id PEER needs the running daemon (anyad)"));
  repo_t *r;
  int rc = open_repo("anya id", &r);
  if (rc) return die(rc);
  char agent[64];
  snprintf(agent, sizeof agent, "anya/%s", ANYA_VERSION);
  print_id(r->peer_id, NULL, 0, agent); /* no daemon: nothing listens */
  rc = close_repo(r, 0);
  return rc ? die(rc) : 0;
}

/* swarm connect MULTIADDR... / swarm peers: the daemon's libp2p connections. */
static int cmd_swarm(int argc, char **argv) {
  if (argc < 1) return usage_error("swarm needs connect or peers%s", "");
  const char *sub = argv[0];
  opts_t o = {0};
  static const opt_spec_t none[] = {{"", 0, OPT_FLAG}};
  PARSE(&o, argc - 1, argv + 1, none);
  bool connect = strcmp(sub, "connect") == 0;
  if (!connect && strcmp(sub, "peers") != 0) return usage_error("unknown swarm command '%s'", sub);
  if (connect && o.args_len == 0) return usage_error("swarm connect needs a MULTIADDR%s", "");
  if (!connect && o.args_len) return usage_error("swarm peers takes no arguments, got '%s'", o.args[0]);
  if (!remote_active()) return die(err_set(-ENOTCONN, "swarm %s needs the running daemon (anyad)", sub));
  int rc = connect ? remote_swarm_connect(o.args, o.args_len) : remote_swarm_peers();
  return rc ? die(rc) : 0;
}

/* ping [-n COUNT] PEER: round trips through the daemon's libp2p host. */
static int cmd_ping(int argc, char **argv) {
  opts_t o = {0};
  static const opt_spec_t specs[] = {{"count", 'n', OPT_VALUE}};
  PARSE(&o, argc, argv, specs);
  if (o.args_len != 1) return usage_error("ping needs one peer ID or /p2p/ multiaddr%s", "");
  uint64_t count = 10;
  if (opt_get(&o, "count") && parse_u64(opt_get(&o, "count"), 100, &count) != 0)
    return usage_error("--count takes 1..100, got '%s'", opt_get(&o, "count"));
  if (count == 0) return usage_error("--count takes 1..100, got '%s'", "0");
  if (!remote_active()) return die(err_set(-ENOTCONN, "ping needs the running daemon (anyad)"));
  int rc = remote_ping(o.args[0], (unsigned)count);
  return rc ? die(rc) : 0;
}

/* `name publish|resolve`: IPNS needs the node, so only through the daemon. */
int cmd_name(int argc, char **argv) {
  const char *sub = argc > 0 ? argv[0] : "";
  bool publish = strcmp(sub, "publish") == 0;
  if (!publish && strcmp(sub, "resolve") != 0) return usage_error("name: publish or resolve, not '%s'", sub);
  opts_t o = {0};
  static const opt_spec_t specs[] = {{"lifetime", 0, OPT_VALUE}, {"ttl", 0, OPT_VALUE}, {"resolve", 0, OPT_BOOL},
                                     {"key", 'k', OPT_VALUE},     {"dht-timeout", 0, OPT_VALUE}};
  PARSE(&o, argc - 1, argv + 1, specs);
  if (publish && o.args_len != 1) return usage_error("name publish takes one path (/ipfs/<cid>[/path] or <cid>)%s", "");
  if (!publish && o.args_len > 1) return usage_error("name resolve takes one name%s", "");
  const char *key = opt_get(&o, "key");
  if (key && strcmp(key, "self") != 0) return usage_error("name: only the node's own key publishes ('self', not '%s')", key);
  if (!remote_active())
    return die(err_set(-ENOTCONN, "name %s needs the running daemon (anyad): IPNS records travel over its DHT", sub));
  int rc;
  if (publish) {
    const char *resolve = opt_get(&o, "resolve");
    rc = remote_name_publish(o.args[0], opt_get(&o, "lifetime"), opt_get(&o, "ttl"),
                             resolve ? (opt_true(&o, "resolve") ? "true" : "false") : NULL);
  } else {
    rc = remote_name_resolve(o.args_len ? o.args[0] : NULL, opt_get(&o, "dht-timeout"));
  }
  return rc ? die(rc) : 0;
}

static void usage(FILE *f) {
  fputs("usage: anya [--repo DIR] COMMAND [ARGS]\n"
        "  init [--profile dev|prod]       create the repository\n"
        "  add [-r] [-H] [-Q] [-q] [-n] [-w] [-t] [--cid-version 0|1] [--raw-leaves[=bool]]\n"
        "      [--chunker size-N] [--progress[=bool]] PATH...|-   add files\n"
        "  cat CID[/path] [--offset N] [--length N]\n"
        "  get CID[/path] [-o OUT]\n"
        "  ls CID[/path]\n"
        "  block get|stat|rm CID... / block put [--cid-codec raw|dag-pb|dag-cbor] [FILE]\n"
        "  car export CID [-o FILE] / car import FILE...\n"
        "  pin add [--recursive=bool] [--name N] [--expire-in DURATION] CID... / pin rm CID...\n"
        "  pin ls [--type direct|recursive|indirect|all] [-q] / pin verify / pin update OLD NEW\n"
        "  repo stat|fsck|gc\n"
        "  config show [--defaults] / config docs\n"
        "  routing provide CID / routing findprovs [-n N] CID / routing findpeer PEER   (daemon)\n"
        "  name publish [--lifetime 48h] [--ttl 5m] [--resolve=bool] /ipfs/CID[/path]|CID\n"
        "  name resolve [--dht-timeout 1m] [NAME]   (through the daemon)\n"
        "  id [PEER]                       this node (or a connected peer, through the daemon)\n"
        "  swarm connect MULTIADDR... / swarm peers   libp2p connections (through the daemon)\n"
        "  ping [-n COUNT] PEER            libp2p ping (through the daemon)\n"
        "  version\n",
        f);
}

int main(int argc, char **argv) {
  int i = 1;
  while (i < argc && strncmp(argv[i], "--repo", 6) == 0) { /* global option before the command */
    if (argv[i][6] == '=') global_repo = argv[i] + 7, i++;
    else if (argv[i][6] == '\0' && i + 1 < argc) global_repo = argv[i + 1], i += 2;
    else break;
  }
  if (i >= argc) { usage(stderr); return 2; }
  const char *cmd = argv[i];
  static const struct { const char *name; int (*fn)(int, char **); } commands[] = {
      {"init", cmd_init}, {"add", cmd_add},     {"cat", cmd_cat},   {"get", cmd_get}, {"ls", cmd_ls},
      {"block", cmd_block}, {"car", cmd_car}, {"repo", cmd_repo}, {"id", cmd_id},
      {"config", cmd_config}, {"swarm", cmd_swarm}, {"ping", cmd_ping}, {"routing", cmd_routing},
      {"pin", cmd_pin},     {"dwn", cmd_dwn},     {"name", cmd_name},
  };
  for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++)
    if (strcmp(cmd, commands[c].name) == 0) return commands[c].fn(argc - i - 1, argv + i + 1);
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    if (remote_active()) { /* the daemon's version */
      int rc = remote_version();
      return rc ? die(rc) : 0;
    }
    printf("anya version %s\n", ANYA_VERSION);
    return 0;
  }
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "anya: unknown command '%s' (try 'anya help')\n", cmd);
  return 2;
}
