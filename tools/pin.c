/*
 * pin: `anya pin add|rm|ls|verify|update` over the repository's pin set
 * (engine/pins.h), with Kubo's output lines.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "err.h"
#include "pins.h"
#include "remote.h"

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int parse_cid_arg(const char *arg, cid_t *out) {
  int rc = cid_parse(out, arg);
  return rc ? err_set(rc, "invalid CID '%s': %s", arg, err_msg(rc)) : 0;
}

static int released_line(void *ctx, const pin_info_t *pin) {
  const policy_rule_t *rule = ctx;
  char text[CID_TEXT_BYTES_MAX];
  int rc = cid_format_default(&pin->cid, text);
  if (!rc) print_released(text, pin->name, rule->name, rule->keep_last);
  return rc;
}

static const opt_spec_t add_specs[] = {
    {"recursive", 'r', OPT_BOOL}, {"name", 0, OPT_VALUE}, {"expire-in", 0, OPT_VALUE}, {"progress", 0, OPT_BOOL}};

static int pin_add(int argc, char **argv) {
  opts_t o = {0};
  PARSE(&o, argc, argv, add_specs);
  if (o.args_len == 0) return usage_error("pin add needs a CID%s", "");
  const char *v = opt_get(&o, "recursive");
  bool recursive = !v || strcmp(v, "true") == 0;
  const char *name = opt_get(&o, "name");
  if (name && strlen(name) > PINS_NAME_BYTES_MAX) return usage_error("--name is too long (at most 255 bytes)%s", "");
  uint64_t expire_ms = 0;
  bool expire_given = opt_get(&o, "expire-in") != NULL;
  if ((v = opt_get(&o, "expire-in"))) {
    uint64_t duration_ms;
    if (pins_parse_duration(v, &duration_ms)) return usage_error("%s", err_msg(-EINVAL));
    expire_ms = wall_ms() + duration_ms;
  }
  cid_t cids[ARGS_MAX];
  for (size_t i = 0; i < o.args_len; i++)
    if (parse_cid_arg(o.args[i], &cids[i])) return die(-EINVAL);
  if (remote_active()) {
    int rrc = remote_pin_add(o.args, o.args_len, recursive, name, opt_get(&o, "expire-in"));
    return rrc ? die(rrc) : 0;
  }
  repo_t *r;
  int rc = open_repo("anya pin add", &r);
  if (rc) return die(rc);
  /* A name "<policy>/<label>" puts the pin in that policy's series: its
   * expiry unless --expire-in says otherwise, and its keep_last. */
  const policy_rule_t *rule = name ? policy_for_pin_name(&r->policies, name) : NULL;
  if (rule && !expire_given) expire_ms = policy_expiry(rule, wall_ms());
  for (size_t i = 0; i < o.args_len && !rc; i++) {
    rc = pins_add(r->pins, &cids[i], recursive, name, expire_ms);
    if (!rc) printf("pinned %s %s\n", o.args[i], recursive ? "recursively" : "directly");
  }
  if (!rc && rule) rc = policy_enforce(rule, r->pins, NULL, released_line, (void *)rule);
  rc = close_repo(r, rc);
  return rc ? die(rc) : 0;
}

static int pin_rm(int argc, char **argv) {
  opts_t o = {0};
  static const opt_spec_t specs[] = {{"recursive", 'r', OPT_BOOL}};
  PARSE(&o, argc, argv, specs);
  if (o.args_len == 0) return usage_error("pin rm needs a CID%s", "");
  cid_t cids[ARGS_MAX];
  for (size_t i = 0; i < o.args_len; i++)
    if (parse_cid_arg(o.args[i], &cids[i])) return die(-EINVAL);
  if (remote_active()) {
    int rrc = remote_pin_rm(o.args, o.args_len);
    return rrc ? die(rrc) : 0;
  }
  repo_t *r;
  int rc = open_repo("anya pin rm", &r);
  if (rc) return die(rc);
  for (size_t i = 0; i < o.args_len && !rc; i++) {
    rc = pins_rm(r->pins, &cids[i]);
    if (!rc) printf("unpinned %s\n", o.args[i]);
  }
  rc = close_repo(r, rc);
  return rc ? die(rc) : 0;
}

typedef struct ls_ctx {
  bool quiet;
} ls_ctx_t;

static int ls_line(void *ctx, const pin_info_t *pin) {
  ls_ctx_t *l = ctx;
  char text[CID_TEXT_BYTES_MAX];
  int rc = cid_format_default(&pin->cid, text);
  if (rc) return rc;
  print_pin(text, pins_type_name(pin->type), pin->name, l->quiet);
  return 0;
}

static int pin_ls(int argc, char **argv) {
  opts_t o = {0};
  static const opt_spec_t specs[] = {{"type", 't', OPT_VALUE}, {"quiet", 'q', OPT_FLAG}};
  PARSE(&o, argc, argv, specs);
  pin_type_t type = PIN_ALL;
  const char *v = opt_get(&o, "type");
  if (v && pins_type_from_name(v, &type)) return usage_error("--type must be direct, recursive, indirect or all, not '%s'", v);
  ls_ctx_t l = {.quiet = opt_true(&o, "quiet")};
  if (remote_active()) {
    int rrc = remote_pin_ls(o.args, o.args_len, v, l.quiet);
    return rrc ? die(rrc) : 0;
  }
  repo_t *r;
  int rc = open_repo("anya pin ls", &r);
  if (rc) return die(rc);
  if (o.args_len == 0) {
    rc = pins_ls(r->pins, type, ls_line, &l);
  } else { /* CIDs given: how each is pinned (stored pins only, as `pin ls CID` in Kubo's fast path) */
    for (size_t i = 0; i < o.args_len && !rc; i++) {
      cid_t cid;
      pin_info_t pin;
      rc = parse_cid_arg(o.args[i], &cid);
      if (!rc) rc = pins_get(r->pins, &cid, &pin);
      if (!rc && (pin.type & type)) rc = ls_line(&l, &pin);
      else if (!rc) rc = err_set(-ENOENT, "%s is not pinned as %s", o.args[i], pins_type_name(type));
    }
  }
  rc = close_repo(r, rc);
  return rc ? die(rc) : 0;
}

static void verify_problem(void *ctx, const cid_t *block, const cid_t *pin, int error, const char *problem) {
  printf("%s\n", problem);
}

static int pin_verify(int argc, char **argv) {
  opts_t o = {0};
  static const opt_spec_t none[] = {{"", 0, OPT_FLAG}};
  PARSE(&o, argc, argv, none);
  if (o.args_len) return usage_error("pin verify takes no arguments, got '%s'", o.args[0]);
  if (remote_active()) {
    int rrc = remote_pin_verify();
    return rrc ? die(rrc) : 0;
  }
  repo_t *r;
  int rc = open_repo("anya pin verify", &r);
  if (rc) return die(rc);
  pins_verify_stat_t st = {0};
  rc = pins_verify(r->pins, verify_problem, NULL, &st);
  if (rc > 0) rc = err_set(-EIO, "pin verify found %d problem%s", rc, rc == 1 ? "" : "s");
  else if (rc == 0)
    printf("pin verify: ok, %llu pins, %llu blocks\n", (unsigned long long)st.pins, (unsigned long long)st.blocks);
  fflush(stdout);
  rc = close_repo(r, rc);
  return rc ? die(rc) : 0;
}

static int pin_update(int argc, char **argv) {
  opts_t o = {0};
  static const opt_spec_t specs[] = {{"unpin", 0, OPT_BOOL}};
  PARSE(&o, argc, argv, specs);
  if (o.args_len != 2) return usage_error("pin update needs OLD and NEW CIDs%s", "");
  const char *v = opt_get(&o, "unpin");
  bool unpin = !v || strcmp(v, "true") == 0;
  cid_t old_cid, new_cid;
  if (parse_cid_arg(o.args[0], &old_cid) || parse_cid_arg(o.args[1], &new_cid)) return die(-EINVAL);
  repo_t *r;
  int rc = open_repo("anya pin update", &r);
  if (rc) return die(rc);
  rc = pins_update(r->pins, &old_cid, &new_cid, unpin);
  if (!rc) printf("updated %s to %s\n", o.args[0], o.args[1]);
  rc = close_repo(r, rc);
  return rc ? die(rc) : 0;
}

/* ---- pin policy ls ----------------------------------------------------------- */

static void print_rule(const policy_rule_t *p) {
  printf("%s source=%s", p->name, policy_source_name(p->source));
  if (p->path_prefix[0]) printf(" path_prefix=%s", p->path_prefix);
  if (p->dwn_protocol[0]) printf(" dwn_protocol=%s", p->dwn_protocol);
  if (p->min_size) printf(" min_size=%llu", (unsigned long long)p->min_size);
  if (p->max_size) printf(" max_size=%llu", (unsigned long long)p->max_size);
  printf(" pin=%s", p->pin ? "true" : "false");
  char text[CONFIG_DURATION_TEXT_BYTES];
  config_format_duration(p->expire_after_ms, text);
  if (p->expire_after_ms) printf(" expire_after=%s", text);
  if (p->keep_last) printf(" keep_last=%u", p->keep_last);
  for (size_t i = 0; i < p->replicate_len; i++) printf("%s%s", i ? "," : " replicate=", p->replicate[i]);
}

typedef struct held {
  size_t count;
  bool quiet;
} held_t;

static int print_held(void *ctx, const pin_info_t *pin) {
  held_t *h = ctx;
  h->count++;
  if (h->quiet) return 0;
  char text[CID_TEXT_BYTES_MAX], when[32] = "never";
  int rc = cid_format_default(&pin->cid, text);
  if (pin->expire_ms) {
    time_t t = (time_t)(pin->expire_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  }
  if (!rc) printf("  %s %s %s expires %s\n", text, pins_type_name(pin->type), pin->name, when);
  return rc;
}

/* One line per policy (its rule, then how many pins it holds), then its pins
 * newest first: "  <cid> <type> <name> expires <time|never>". */
static int pin_policy(int argc, char **argv) {
  if (argc < 1 || strcmp(argv[0], "ls") != 0) return usage_error("pin policy needs ls%s", "");
  opts_t o = {0};
  static const opt_spec_t specs[] = {{"quiet", 'q', OPT_FLAG}};
  PARSE(&o, argc - 1, argv + 1, specs);
  if (o.args_len) return usage_error("pin policy ls takes no arguments, got '%s'", o.args[0]);
  repo_t *r;
  int rc = open_repo("anya pin policy ls", &r);
  if (rc) return die(rc);
  for (size_t i = 0; i < r->policies.len && !rc; i++) {
    const policy_rule_t *p = &r->policies.rules[i];
    held_t h = {.quiet = true};
    rc = policy_holdings(p, r->pins, print_held, &h); /* count first: the header says it */
    if (rc) break;
    print_rule(p);
    printf(": %zu pin%s\n", h.count, h.count == 1 ? "" : "s");
    h = (held_t){0};
    if (!opt_true(&o, "quiet")) rc = policy_holdings(p, r->pins, print_held, &h);
  }
  fflush(stdout);
  rc = close_repo(r, rc);
  return rc ? die(rc) : 0;
}

int cmd_pin(int argc, char **argv) {
  if (argc < 1) return usage_error("pin needs add, rm, ls, verify, update or policy%s", "");
  if (strcmp(argv[0], "policy") == 0) return pin_policy(argc - 1, argv + 1);
  const char *sub = argv[0];
  if (strcmp(sub, "add") == 0) return pin_add(argc - 1, argv + 1);
  if (strcmp(sub, "rm") == 0) return pin_rm(argc - 1, argv + 1);
  if (strcmp(sub, "ls") == 0) return pin_ls(argc - 1, argv + 1);
  if (strcmp(sub, "verify") == 0) return pin_verify(argc - 1, argv + 1);
  if (strcmp(sub, "update") == 0) return pin_update(argc - 1, argv + 1);
  return usage_error("unknown pin command '%s'", sub);
}
