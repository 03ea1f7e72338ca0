/*
 * cli: what every `anya` subcommand shares: a small table-driven option parser
 * (long options `--name[=value]`, bundled short flags `-rH`, `--repo DIR`
 * anywhere), the one error report (`anya: <message>` on stderr), opening the
 * repository, and CID[/path] arguments.  Each subcommand is `int cmd_NAME(int
 * argc, char **argv)` returning the process exit status (0, 1 failure, 2 usage).
 */
#ifndef ANYA_CLI_H
#define ANYA_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cid.h"
#include "repo.h"

#define ANYA_VERSION "0.1.0"
#define ARGS_MAX 256

enum opt_kind { OPT_FLAG, OPT_VALUE, OPT_BOOL /* --x, --x=true|false */ };

typedef struct opt_spec {
  const char *name; /* long name without dashes */
  char short_name;  /* 0 if none */
  enum opt_kind kind;
} opt_spec_t;

typedef struct opts {
  const opt_spec_t *specs;
  size_t specs_len;
  const char *values[32]; /* per spec: NULL unset, "true"/"false"/value */
  const char *args[ARGS_MAX];
  size_t args_len;
} opts_t;

extern const char *global_repo; /* --repo, accepted anywhere on the command line */

/* Prints `anya: <err_msg(rc)>` and returns exit status 1. */
int die(int rc);
/* Prints `anya: ` + fmt (with one %s for arg) and returns exit status 2. */
int usage_error(const char *fmt, const char *arg);
/* Parses argv into o (o->specs set first); 0 or exit status 2 after printing why. */
int parse_opts(opts_t *o, int argc, char **argv);
/* The value of an option (NULL unset), and whether a flag/bool option is true. */
const char *opt_get(const opts_t *o, const char *name);
bool opt_true(const opts_t *o, const char *name);
/* Decimal u64 <= max. 0 or -EINVAL. */
int parse_u64(const char *text, uint64_t max, uint64_t *out);

#define PARSE(o, argc, argv, table)                         \
  do {                                                      \
    (o)->specs = (table);                                   \
    (o)->specs_len = sizeof(table) / sizeof((table)[0]);    \
    int prc_ = parse_opts((o), (argc), (argv));             \
    if (prc_) return prc_;                                  \
  } while (0)

/* Opens the repository (--repo, $ANYA_REPO, ~/.anya), naming `holder` in its
 * lock, and configures logging from its logging.level / logging.format.
 * close_repo logs a `slow operation` warning when the command held the
 * repository for logging.slow_operation or longer. */
int open_repo(const char *holder, repo_t **out);
/* Closes it; returns rc if non-zero, else the close's result. */
int close_repo(repo_t *r, int rc);
/* Resolves a CID[/path] argument to the CID it names, with a message on failure. */
int resolve_arg(repo_t *r, const char *arg, cid_t *out);
/* write(2) until done. 0 or negative errno with a message. */
int write_all(int fd, const void *data, size_t len);
/* Appends everything readable from fd to out; -E2BIG past max bytes. */
int read_all_fd(int fd, buf_t *out, size_t max);

/* ---- output (output.c): what both the direct and the daemon path print ---- */

typedef struct progress {
  bool enabled;
  uint64_t total_bytes; /* 0 when unknown */
  uint64_t last_ms;
  bool drawn;
} progress_t;

/* The `add` progress bar on stderr (at most every 100 ms unless final). */
void progress_draw(progress_t *p, uint64_t done, bool final);
void progress_clear(progress_t *p);
/* `added <cid> <path>` (or the CID alone when quiet), clearing the bar. */
void print_added(progress_t *p, const char *cid, const char *path, bool quiet);
/* `ls`: `<cid> <size> <name>`, directories `<cid> - <name>/`. */
void print_ls_entry(const char *cid, bool is_dir, uint64_t size, const char *name);
void print_block_stat(const char *cid, uint64_t size);
typedef struct repo_stat_out {
  uint64_t blocks, disk_bytes, block_bytes, segments, reclaimable_bytes, storage_max;
  const char *path;
  const char *version; /* "anya-repo@1" */
} repo_stat_out_t;
void print_repo_stat(const repo_stat_out_t *s);
/* `pin ls`: `<cid> <type>[ <name>]`, or the CID alone when quiet. */
void print_pin(const char *cid, const char *type, const char *name, bool quiet);
/* A pin a policy's keep_last released. */
void print_released(const char *cid, const char *name, const char *policy, unsigned keep_last);
/* `anya id`: {"ID": ..., "Addresses": [...], "AgentVersion": ...} (addresses are multiaddr texts). */
void print_id(const char *peer_id, const char *const *addrs, size_t n, const char *agent);

/* The subcommands (tools/<name>.c or tools/anya.c). */
int cmd_init(int argc, char **argv);
int cmd_add(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_block(int argc, char **argv);
int cmd_car(int argc, char **argv);
int cmd_repo(int argc, char **argv);
int cmd_id(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_pin(int argc, char **argv);
int cmd_dwn(int argc, char **argv);
int cmd_routing(int argc, char **argv);
int cmd_name(int argc, char **argv);

#endif
