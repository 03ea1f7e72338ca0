/*
 * config: `anya config show [--defaults]` prints the effective configuration
 * of the repository (<repo>/config.toml over the embedded defaults, secrets
 * masked); `anya config docs` prints docs/configuration.md as generated from
 * the key table (engine/config.h).  Neither needs the repository lock: they
 * only read the config file.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "err.h"

static int print_buf(buf_t *b, int rc) {
  if (!rc) rc = write_all(1, b->data, b->len);
  buf_free(b);
  return rc ? die(rc) : 0;
}

int cmd_config(int argc, char **argv) {
  if (argc < 1) return usage_error("config needs show or docs%s", "");
  const char *sub = argv[0];
  opts_t o = {0};
  static const opt_spec_t specs[] = {{"defaults", 0, OPT_FLAG}};
  PARSE(&o, argc - 1, argv + 1, specs);
  if (o.args_len) return usage_error("config takes no arguments, got '%s'", o.args[0]);
  buf_t out = {0};
  if (strcmp(sub, "docs") == 0) {
    if (opt_true(&o, "defaults")) return usage_error("--defaults is for 'config show'%s", "");
    return print_buf(&out, config_write_docs(&out));
  }
  if (strcmp(sub, "show") != 0) return usage_error("unknown config command '%s' (show or docs)", sub);
  if (opt_true(&o, "defaults")) return print_buf(&out, config_write_defaults(&out));
  char repo[REPO_PATH_BYTES_MAX], path[REPO_PATH_BYTES_MAX + 16];
  int rc = repo_default_path(global_repo, repo);
  if (rc) return die(rc);
  snprintf(path, sizeof path, "%s/config.toml", repo);
  config_t *cfg;
  if ((rc = config_new(&cfg))) return die(rc);
  rc = config_load_file(cfg, path);
  if (rc == -ENOENT) rc = err_set(rc, "no configuration at %s (run 'anya init')", path);
  if (!rc) rc = config_write_toml(cfg, &out, false, true);
  config_free(cfg);
  return print_buf(&out, rc);
}
