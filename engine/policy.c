/* policy: pin policies (see policy.h). */
#include "policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "err.h"

#define KEY "pinning.policy"

static const char *const source_names[] = {"pin", "add", "files", "dwn"};

const char *policy_source_name(policy_source_t source) { return source_names[source]; }

static bool valid_name(const char *s) {
  if (!*s || strlen(s) > POLICY_NAME_BYTES_MAX) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || strchr("._-", *s)))
      return false;
  return true;
}

static int copy_text(const char *where, const char *field, const char *from, char *to, size_t cap) {
  if (strlen(from) >= cap) return err_set(-EINVAL, "%s: %s is longer than %zu bytes", where, field, cap - 1);
  memcpy(to, from, strlen(from) + 1);
  return 0;
}

static int load_rule(const config_t *cfg, size_t i, policy_rule_t *r, const policy_set_t *set) {
  const char *where = config_table_origin(cfg, KEY, i);
  const char *name = config_field_string(cfg, KEY, i, "name");
  if (!valid_name(name))
    return err_set(-EINVAL, "%s: pinning.policy name '%s' must be 1 to %d letters, digits, '.', '_' or '-'", where, name,
                   POLICY_NAME_BYTES_MAX);
  for (size_t j = 0; j < set->len; j++)
    if (strcmp(set->rules[j].name, name) == 0)
      return err_set(-EINVAL, "%s: a pinning.policy named '%s' is already defined", where, name);
  memcpy(r->name, name, strlen(name) + 1);
  const char *source = config_field_string(cfg, KEY, i, "source");
  for (size_t s = 0; s < sizeof source_names / sizeof source_names[0]; s++)
    if (strcmp(source, source_names[s]) == 0) r->source = (policy_source_t)s;
  int rc = copy_text(where, "path_prefix", config_field_string(cfg, KEY, i, "path_prefix"), r->path_prefix,
                     sizeof r->path_prefix);
  if (!rc) rc = copy_text(where, "dwn_protocol", config_field_string(cfg, KEY, i, "dwn_protocol"), r->dwn_protocol,
                          sizeof r->dwn_protocol);
  if (rc) return rc;
  if (r->source == POLICY_SOURCE_FILES) {
    size_t n = strlen(r->path_prefix);
    if (r->path_prefix[0] != '/' || (n > 1 && r->path_prefix[n - 1] == '/'))
      return err_set(-EINVAL, "%s: policy '%s' (source \"files\") needs path_prefix, an absolute path in files/ "
                     "without a trailing '/', such as \"/backups\"", where, name);
  } else if (r->path_prefix[0]) {
    return err_set(-EINVAL, "%s: policy '%s': path_prefix is only for source \"files\"", where, name);
  }
  if (r->source == POLICY_SOURCE_DWN && !r->dwn_protocol[0])
    return err_set(-EINVAL, "%s: policy '%s' (source \"dwn\") needs dwn_protocol", where, name);
  if (r->source != POLICY_SOURCE_DWN && r->dwn_protocol[0])
    return err_set(-EINVAL, "%s: policy '%s': dwn_protocol is only for source \"dwn\"", where, name);
  r->min_size = config_field_size(cfg, KEY, i, "min_size");
  r->max_size = config_field_size(cfg, KEY, i, "max_size");
  if (r->max_size && r->min_size > r->max_size)
    return err_set(-EINVAL, "%s: policy '%s': min_size is above max_size", where, name);
  r->pin = config_field_bool(cfg, KEY, i, "pin");
  r->expire_after_ms = config_field_duration_ms(cfg, KEY, i, "expire_after");
  r->keep_last = (uint32_t)config_field_int(cfg, KEY, i, "keep_last");
  const char *const *services, *const *known;
  size_t n = config_field_strings(cfg, KEY, i, "replicate", &services);
  size_t known_len = config_strings(cfg, "pinning.remote_services", &known);
  if (n > POLICY_REPLICATE_MAX)
    return err_set(-EINVAL, "%s: policy '%s': more than %d replicate targets", where, name, POLICY_REPLICATE_MAX);
  for (size_t s = 0; s < n; s++) {
    bool listed = false;
    for (size_t k = 0; k < known_len; k++) listed |= strcmp(services[s], known[k]) == 0;
    if (!listed || !valid_name(services[s]))
      return err_set(-EINVAL, "%s: policy '%s': replicate target '%s' is not in pinning.remote_services", where, name,
                     services[s]);
    memcpy(r->replicate[s], services[s], strlen(services[s]) + 1);
  }
  r->replicate_len = n;
  return 0;
}

int policy_load(const config_t *cfg, policy_set_t *out) {
  memset(out, 0, sizeof *out);
  size_t n = config_tables(cfg, KEY);
  if (n == 0) return 0;
  policy_set_t set = {calloc(n, sizeof *set.rules), 0};
  if (!set.rules) return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    int rc = load_rule(cfg, i, &set.rules[i], &set);
    if (rc) {
      policy_free(&set);
      return rc;
    }
    set.len++;
  }
  *out = set;
  return 0;
}

void policy_free(policy_set_t *set) {
  free(set->rules);
  memset(set, 0, sizeof *set);
}

static bool under(const char *path, const char *prefix) {
  size_t n = strlen(prefix);
  if (n == 1) return path[0] == '/'; /* "/" holds everything */
  return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

const policy_rule_t *policy_match(const policy_set_t *set, const policy_event_t *ev) {
  for (size_t i = 0; i < set->len; i++) {
    const policy_rule_t *r = &set->rules[i];
    if (r->source != ev->source) continue;
    if (r->source == POLICY_SOURCE_FILES && (!ev->path || !under(ev->path, r->path_prefix))) continue;
    if (r->source == POLICY_SOURCE_DWN && (!ev->dwn_protocol || strcmp(ev->dwn_protocol, r->dwn_protocol) != 0))
      continue;
    if (ev->size < r->min_size || (r->max_size && ev->size > r->max_size)) continue;
    return r;
  }
  return NULL;
}

const policy_rule_t *policy_for_pin_name(const policy_set_t *set, const char *pin_name) {
  for (size_t i = 0; i < set->len; i++) {
    size_t n = strlen(set->rules[i].name);
    if (strncmp(pin_name, set->rules[i].name, n) == 0 && pin_name[n] == '/') return &set->rules[i];
  }
  return NULL;
}

void policy_pin_name(const policy_rule_t *rule, const char *label, char out[PINS_NAME_BYTES_MAX + 1]) {
  snprintf(out, PINS_NAME_BYTES_MAX + 1, "%s/%s", rule->name, label);
}

uint64_t policy_expiry(const policy_rule_t *rule, uint64_t now_ms) {
  return rule->expire_after_ms ? now_ms + rule->expire_after_ms : 0;
}

typedef struct holdings {
  const policy_rule_t *rule;
  pin_info_t *pins;
  size_t len, cap;
} holdings_t;

static int collect(void *ctx, const pin_info_t *pin) {
  holdings_t *h = ctx;
  size_t n = strlen(h->rule->name);
  if (strncmp(pin->name, h->rule->name, n) != 0 || pin->name[n] != '/') return 0;
  if (h->len == POLICY_HOLD_MAX) return err_set(-E2BIG, "policy '%s' holds more than %d pins", h->rule->name, POLICY_HOLD_MAX);
  if (h->len == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 64;
    pin_info_t *pins = realloc(h->pins, cap * sizeof *pins);
    if (!pins) return -ENOMEM;
    h->pins = pins, h->cap = cap;
  }
  h->pins[h->len++] = *pin;
  return 0;
}

static int newest_first(const void *a, const void *b) {
  const pin_info_t *x = a, *y = b;
  if (x->created_ms != y->created_ms) return x->created_ms > y->created_ms ? -1 : 1;
  return -strcmp(x->name, y->name);
}

static int gather(const policy_rule_t *rule, pins_t *pins, holdings_t *h) {
  *h = (holdings_t){.rule = rule};
  int rc = pins_ls(pins, PIN_RECURSIVE | PIN_DIRECT, collect, h);
  if (rc) {
    free(h->pins);
    return rc;
  }
  if (h->len) qsort(h->pins, h->len, sizeof *h->pins, newest_first);
  return 0;
}

int policy_holdings(const policy_rule_t *rule, pins_t *pins, pins_ls_fn fn, void *ctx) {
  holdings_t h;
  int rc = gather(rule, pins, &h);
  for (size_t i = 0; !rc && i < h.len; i++) rc = fn(ctx, &h.pins[i]);
  free(h.pins);
  return rc;
}

int policy_enforce(const policy_rule_t *rule, pins_t *pins, uint64_t *removed, pins_ls_fn fn, void *ctx) {
  if (removed) *removed = 0;
  if (rule->keep_last == 0) return 0;
  holdings_t h;
  int rc = gather(rule, pins, &h);
  for (size_t i = rule->keep_last; !rc && i < h.len; i++) {
    rc = pins_rm(pins, &h.pins[i].cid);
    if (rc == -ENOENT) rc = 0; /* gone meanwhile */
    else if (!rc && removed) ++*removed;
    if (!rc && fn) rc = fn(ctx, &h.pins[i]);
  }
  free(h.pins);
  return rc;
}

int policy_apply(const policy_set_t *set, const policy_event_t *ev, pins_t *pins, const char *label,
                 const cid_t *cid, const policy_rule_t **matched) {
  const policy_rule_t *rule = policy_match(set, ev);
  if (matched) *matched = NULL;
  if (!rule || !rule->pin) return 0;
  char name[PINS_NAME_BYTES_MAX + 1];
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  uint64_t now_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
  policy_pin_name(rule, label, name);
  int rc = pins_add_written(pins, cid, name, policy_expiry(rule, now_ms));
  if (!rc) rc = policy_enforce(rule, pins, NULL, NULL, NULL);
  if (!rc && matched) *matched = rule;
  return rc;
}
