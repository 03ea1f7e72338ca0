/*
 * dwn/protocol_auth: ProtocolAuthorization of dwn-sdk-js 0.5.2 (see the header).
 */
#include "dwn/protocol_auth.h"

#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dwn/grants.h"

#define PATTERN_BYTES_MAX 1024  /* a tag pattern's length */
#define PATTERN_GROUPS_MAX 32   /* nested groups of a tag pattern */
#define PATTERN_REPEAT_MAX 1000 /* a {n,m} bound */
#define PATTERN_NODES_MAX 4096  /* estimated regex nodes after repetition */

static const char *dstr(const json_t *message, const char *key) {
  return json_string_value(json_object_get(json_object_get(message, "descriptor"), key));
}

static const char *mstr(const json_t *message, const char *key) {
  return json_string_value(json_object_get(message, key));
}

static bool streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* {gte: prefix, lt: prefix + U+FFFF} (FilterUtility.constructPrefixFilterAsRangeFilter) */
static json_t *prefix_range(const char *prefix, size_t n) {
  char *lower = malloc(n + 1), *upper = malloc(n + 4);
  json_t *r = NULL;
  if (lower && upper) {
    memcpy(lower, prefix, n);
    lower[n] = 0;
    memcpy(upper, prefix, n);
    memcpy(upper + n, "\xef\xbf\xbf", 4);
    r = json_pack("{s:s,s:s}", "gte", lower, "lt", upper);
  }
  free(lower);
  free(upper);
  return r;
}

/* ---- definition, rule sets, record chain ---------------------------------------- */

int dwn_protocol_fetch_definition(dwn_t *d, const char *tenant, const char *protocol, int code,
                                  json_t **definition_out, dwn_status_t *st) {
  *definition_out = NULL;
  if (protocol && strcmp(protocol, DWN_PERMISSIONS_PROTOCOL) == 0) {
    json_t *def = dwn_grant_permissions_definition();
    if (!def) return dwn_not_implemented(st, "permissions protocol definition");
    *definition_out = def;
    return 0;
  }
  json_t *f = protocol ? json_pack("{s:s,s:s,s:s}", "interface", "Protocols", "method", "Configure", "protocol",
                                   protocol)
                       : NULL;
  json_t *found = NULL;
  int rc = protocol ? (f ? dwn_query(d, tenant, &f, 1, NULL, NULL, &found, NULL, st) : -ENOMEM) : 0;
  json_decref(f);
  if (rc) return rc;
  const json_t *def = json_object_get(json_object_get(json_array_get(found, 0), "descriptor"), "definition");
  if (!def) rc = dwn_status_fail(st, code, "ProtocolAuthorizationProtocolNotFound",
                                 "unable to find protocol definition for %s", protocol ? protocol : "undefined");
  else *definition_out = json_incref((json_t *)def);
  json_decref(found);
  return rc;
}

const json_t *dwn_protocol_rule_set(const json_t *definition, const char *protocol_path) {
  const json_t *rs = json_object_get(definition, "structure");
  if (!protocol_path) return NULL;
  const char *p = protocol_path;
  for (size_t depth = 0; rs; depth++) {
    if (depth > DWN_PROTOCOL_CHAIN_MAX) return NULL;
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    char name[DWN_PROTOCOL_PATH_BYTES_MAX];
    if (n >= sizeof name) return NULL;
    memcpy(name, p, n);
    name[n] = 0;
    rs = json_object_get(rs, name);
    if (!slash) return json_is_object(rs) ? rs : NULL;
    p = slash + 1;
  }
  return NULL;
}

static int rule_set_or_fail(const json_t *definition, const char *path, int code, const json_t **out,
                            dwn_status_t *st) {
  *out = dwn_protocol_rule_set(definition, path);
  if (*out) return 0;
  return dwn_status_fail(st, code, "ProtocolAuthorizationMissingRuleSet", "No rule set defined for protocolPath %s",
                         path ? path : "undefined");
}

/* fetchInitialWrite: the initial RecordsWrite of record_id (new reference) or NULL. */
static int fetch_initial_write(dwn_t *d, const char *tenant, const char *record_id, json_t **out, dwn_status_t *st) {
  *out = NULL;
  json_t *f = json_pack("{s:s,s:s,s:s}", "interface", "Records", "method", "Write", "recordId", record_id);
  json_t *found = NULL;
  int rc = f ? dwn_query(d, tenant, &f, 1, NULL, NULL, &found, NULL, st) : -ENOMEM;
  json_decref(f);
  size_t i;
  json_t *e;
  json_array_foreach(found, i, e) {
    if (rc) break;
    if (dwn_records_is_initial_write(e)) {
      *out = json_incref(e);
      break;
    }
  }
  json_decref(found);
  return rc;
}

/* constructRecordChain: initial writes from the root down to record_id (a new
 * array; empty when record_id is NULL). */
static int record_chain(dwn_t *d, const char *tenant, const char *record_id, int code, json_t **out,
                        dwn_status_t *st) {
  json_t *chain = json_array();
  if (!chain) return -ENOMEM;
  int rc = 0;
  char current[DWN_PROTOCOL_PATH_BYTES_MAX];
  bool more = record_id != NULL;
  if (more) snprintf(current, sizeof current, "%s", record_id);
  for (size_t n = 0; more && !rc; n++) {
    if (n >= DWN_PROTOCOL_CHAIN_MAX) {
      rc = dwn_status_fail(st, code, "ProtocolAuthorizationParentNotFoundConstructingRecordChain",
                           "record chain longer than %d", DWN_PROTOCOL_CHAIN_MAX);
      break;
    }
    json_t *w = NULL;
    rc = fetch_initial_write(d, tenant, current, &w, st);
    if (rc) break;
    if (!w) {
      rc = dwn_status_fail(st, code, "ProtocolAuthorizationParentNotFoundConstructingRecordChain",
                           "Unexpected error that should never trigger: no parent found with ID %s when constructing "
                           "record chain.",
                           current);
      break;
    }
    if (json_array_insert_new(chain, 0, w)) rc = -ENOMEM;
    const char *parent = dstr(w, "parentId");
    more = parent != NULL;
    if (more) snprintf(current, sizeof current, "%s", parent);
  }
  if (rc) json_decref(chain);
  else *out = chain;
  return rc;
}

/* ---- referential integrity (400) -------------------------------------------------- */

static const char *type_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

static int verify_type(const json_t *message, const json_t *types, dwn_status_t *st) {
  const char *path = dstr(message, "protocolPath");
  if (!path) /* the schema pairs protocol with protocolPath: defensive */
    return dwn_status_fail(st, 400, "ProtocolAuthorizationInvalidType", "record without a protocolPath");
  const char *name = type_name(path);
  const json_t *type = json_object_get(types, name);
  if (!type)
    return dwn_status_fail(st, 400, "ProtocolAuthorizationInvalidType", "record with type %s not allowed in protocol",
                           name);
  const json_t *schema = json_object_get(type, "schema");
  const char *given = dstr(message, "schema");
  if (schema && !streq(json_string_value(schema), given))
    return dwn_status_fail(st, 400, "ProtocolAuthorizationInvalidSchema", "type '%s' must have schema '%s', instead has '%s'",
                           name, json_string_value(schema) ? json_string_value(schema) : "", given ? given : "undefined");
  const json_t *formats = json_object_get(type, "dataFormats");
  if (formats) {
    const char *format = dstr(message, "dataFormat");
    bool found = false;
    size_t i;
    const json_t *f;
    json_array_foreach(formats, i, f) found |= streq(json_string_value(f), format);
    if (!found)
      return dwn_status_fail(st, 400, "ProtocolAuthorizationIncorrectDataFormat",
                             "type '%s' must have data format in the type's dataFormats, instead has '%s'", name,
                             format ? format : "undefined");
  }
  return 0;
}

static int verify_path_and_context(dwn_t *d, const char *tenant, const json_t *message, dwn_status_t *st) {
  const char *path = dstr(message, "protocolPath");
  const char *name = type_name(path);
  const char *parent_id = dstr(message, "parentId");
  if (!parent_id) {
    if (strcmp(path, name) != 0)
      return dwn_status_fail(st, 400, "ProtocolAuthorizationParentlessIncorrectProtocolPath",
                             "Declared protocol path '%s' is not valid for records with no parent'.", path);
    return 0;
  }
  json_t *f = json_pack("{s:b,s:s,s:s,s:s,s:s}", "isLatestBaseState", 1, "interface", "Records", "method", "Write",
                        "protocol", dstr(message, "protocol"), "recordId", parent_id);
  json_t *found = NULL;
  int rc = f ? dwn_query(d, tenant, &f, 1, NULL, NULL, &found, NULL, st) : -ENOMEM;
  json_decref(f);
  if (rc) return rc;
  const json_t *parent = json_array_get(found, 0);
  const char *parent_path = parent ? dstr(parent, "protocolPath") : NULL;
  char expected[2 * DWN_PROTOCOL_PATH_BYTES_MAX];
  snprintf(expected, sizeof expected, "%s/%s", parent_path ? parent_path : "undefined", name);
  if (strcmp(expected, path) != 0) {
    rc = dwn_status_fail(st, 400, "ProtocolAuthorizationIncorrectProtocolPath",
                         "Could not find matching parent record to verify declared protocol path '%s'.", path);
  } else {
    const char *parent_context = mstr(parent, "contextId"), *context = mstr(message, "contextId");
    const char *record_id = mstr(message, "recordId");
    snprintf(expected, sizeof expected, "%s/%s", parent_context ? parent_context : "undefined",
             record_id ? record_id : "undefined");
    if (!streq(context, expected))
      rc = dwn_status_fail(st, 400, "ProtocolAuthorizationIncorrectContextId",
                           "Declared contextId '%s' is not the same as expected: '%s'.", context ? context : "undefined",
                           expected);
  }
  json_decref(found);
  return rc;
}

static int verify_role_record(dwn_t *d, const char *tenant, const json_t *message, const json_t *rule_set,
                              dwn_status_t *st) {
  const json_t *role = json_object_get(rule_set, "$role");
  if (!json_is_true(role)) return 0;
  const char *recipient = dstr(message, "recipient");
  if (!recipient)
    return dwn_status_fail(st, 400, "ProtocolAuthorizationRoleMissingRecipient", "Role records must have a recipient");
  const char *path = dstr(message, "protocolPath");
  json_t *f = json_pack("{s:s,s:s,s:b,s:s,s:s,s:s}", "interface", "Records", "method", "Write", "isLatestBaseState", 1,
                        "protocol", dstr(message, "protocol"), "protocolPath", path, "recipient", recipient);
  const char *context = mstr(message, "contextId");
  const char *slash = context ? strrchr(context, '/') : NULL;
  size_t parent_len = slash ? (size_t)(slash - context) : 0;
  if (f && context && parent_len > 0) {
    json_t *r = prefix_range(context, parent_len);
    if (!r || json_object_set_new(f, "contextId", r)) json_decref(f), f = NULL;
  }
  json_t *found = NULL;
  int rc = f ? dwn_query(d, tenant, &f, 1, NULL, NULL, &found, NULL, st) : -ENOMEM;
  json_decref(f);
  const char *record_id = mstr(message, "recordId");
  size_t i;
  const json_t *e;
  json_array_foreach(found, i, e) {
    if (rc) break;
    if (streq(mstr(e, "recordId"), record_id)) continue;
    rc = dwn_status_fail(st, 400, "ProtocolAuthorizationDuplicateRoleRecipient",
                         "DID '%s' is already recipient of a role record at protocol path '%s under the parent "
                         "context %.*s.",
                         recipient, path, (int)parent_len, context ? context : "");
  }
  json_decref(found);
  return rc;
}

static int verify_size(const json_t *message, const json_t *rule_set, dwn_status_t *st) {
  const json_t *size = json_object_get(rule_set, "$size");
  double data_size = json_number_value(json_object_get(json_object_get(message, "descriptor"), "dataSize"));
  const json_t *min = json_object_get(size, "min"), *max = json_object_get(size, "max");
  double lo = min ? json_number_value(min) : 0;
  if (data_size < lo)
    return dwn_status_fail(st, 400, "ProtocolAuthorizationMinSizeInvalid", "data size %.17g is less than allowed %.17g",
                           data_size, lo);
  if (max && data_size > json_number_value(max))
    return dwn_status_fail(st, 400, "ProtocolAuthorizationMaxSizeInvalid", "data size %.17g is more than allowed %.17g",
                           data_size, json_number_value(max));
  return 0;
}

int dwn_protocol_validate_write(dwn_t *d, const char *tenant, const dwn_msg_t *m, dwn_status_t *st) {
  const json_t *message = m->json;
  json_t *definition = NULL;
  int rc = dwn_protocol_fetch_definition(d, tenant, dstr(message, "protocol"), 400, &definition, st);
  if (rc) return rc;
  const json_t *rule_set = NULL;
  const char *path = dstr(message, "protocolPath");
  if (!(rc = verify_type(message, json_object_get(definition, "types"), st)) &&
      !(rc = verify_path_and_context(d, tenant, message, st)) &&
      !(rc = rule_set_or_fail(definition, path, 400, &rule_set, st)) &&
      !(rc = verify_role_record(d, tenant, message, rule_set, st)) && !(rc = verify_size(message, rule_set, st))) {
    const json_t *tags_rule = json_object_get(rule_set, "$tags");
    if (tags_rule)
      rc = dwn_protocol_check_tags(tags_rule, json_object_get(m->descriptor, "tags"), dstr(message, "protocol"), path,
                                   st);
  }
  json_decref(definition);
  return rc;
}

/* ---- authorisation (401) ------------------------------------------------------- */

/* verifyInvokedRole */
static int verify_invoked_role(dwn_t *d, const char *tenant, const dwn_msg_t *m, const char *protocol,
                               const char *context, const json_t *definition, dwn_status_t *st) {
  const char *role = json_string_value(json_object_get(m->payload, "protocolRole"));
  if (!role) return 0;
  const json_t *role_rules = dwn_protocol_rule_set(definition, role);
  if (!role_rules || !json_is_true(json_object_get(role_rules, "$role")))
    return dwn_status_fail(st, 401, "ProtocolAuthorizationNotARole", "Protocol path %s does not match role record type.",
                           role);
  size_t ancestors = 0;
  for (const char *p = role; *p; p++) ancestors += *p == '/';
  if (!context && ancestors > 0)
    return dwn_status_fail(st, 401, "ProtocolAuthorizationMissingContextId",
                           "Could not verify role because contextId is missing.");
  json_t *f = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}", "interface", "Records", "method", "Write", "protocol",
                        protocol ? protocol : "", "protocolPath", role, "recipient", m->author, "isLatestBaseState", 1);
  if (f && ancestors > 0) {
    size_t n = 0, seen = 0;
    for (; context[n]; n++)
      if (context[n] == '/' && ++seen == ancestors) break;
    json_t *r = prefix_range(context, n);
    if (!r || json_object_set_new(f, "contextId", r)) json_decref(f), f = NULL;
  }
  json_t *found = NULL;
  int rc = f ? dwn_query(d, tenant, &f, 1, NULL, NULL, &found, NULL, st) : -ENOMEM;
  json_decref(f);
  if (!rc && json_array_size(found) == 0)
    rc = dwn_status_fail(st, 401, "ProtocolAuthorizationMatchingRoleRecordNotFound",
                         "No matching role record found for protocol path %s", role);
  json_decref(found);
  return rc;
}

enum { ACTIONS_MAX = 2 };

typedef struct actions {
  const char *names[ACTIONS_MAX];
  size_t len;
} actions_t;

/* getActionsSeekingARuleMatch */
static int actions_sought(dwn_t *d, const char *tenant, const dwn_msg_t *m, actions_t *a, dwn_status_t *st) {
  a->len = 0;
  const char *method = m->method ? m->method : "";
  if (strcmp(method, "Query") == 0) a->names[a->len++] = "query";
  else if (strcmp(method, "Read") == 0) a->names[a->len++] = "read";
  else if (strcmp(method, "Subscribe") == 0) a->names[a->len++] = "subscribe";
  else if (strcmp(method, "Write") == 0 && dwn_records_is_initial_write(m->json)) a->names[a->len++] = "create";
  else if (strcmp(method, "Write") == 0 || strcmp(method, "Delete") == 0) {
    bool del = strcmp(method, "Delete") == 0;
    const char *record_id = del ? dstr(m->json, "recordId") : mstr(m->json, "recordId");
    json_t *initial = NULL;
    int rc = record_id ? fetch_initial_write(d, tenant, record_id, &initial, st) : 0;
    if (rc) return rc;
    if (!initial) return 0;
    char initial_author[DWN_DID_BYTES_MAX];
    dwn_author_of(initial, initial_author);
    json_decref(initial);
    bool same = m->author[0] && strcmp(m->author, initial_author) == 0;
    bool prune = del && json_is_true(json_object_get(m->descriptor, "prune"));
    if (!del) {
      a->names[a->len++] = "co-update";
      if (same) a->names[a->len++] = "update";
    } else {
      a->names[a->len++] = prune ? "co-prune" : "co-delete";
      if (same) a->names[a->len++] = prune ? "prune" : "delete";
    }
  }
  return 0;
}

/* checkActor: the ancestor at rule.of has author / recipient == author. */
static bool check_actor(const char *author, const json_t *rule, const json_t *chain) {
  const char *of = json_string_value(json_object_get(rule, "of"));
  const char *who = json_string_value(json_object_get(rule, "who"));
  size_t i;
  const json_t *w;
  json_array_foreach(chain, i, w) {
    if (!of || !streq(dstr(w, "protocolPath"), of)) continue;
    if (streq(who, "recipient")) return streq(author, dstr(w, "recipient"));
    char ancestor_author[DWN_DID_BYTES_MAX];
    dwn_author_of(w, ancestor_author);
    return strcmp(author, ancestor_author) == 0;
  }
  return false;
}

/* authorizeAgainstAllowedActions */
static int authorize_actions(dwn_t *d, const char *tenant, const dwn_msg_t *m, const json_t *rule_set,
                             const json_t *chain, dwn_status_t *st) {
  actions_t sought;
  int rc = actions_sought(d, tenant, m, &sought, st);
  if (rc) return rc;
  const char *method = m->method ? m->method : "";
  const json_t *rules = json_object_get(rule_set, "$actions");
  const char *author = m->author[0] ? m->author : NULL;
  if (!rules)
    return dwn_status_fail(st, 401, "ProtocolAuthorizationActionRulesNotFound",
                           "no action rule defined for Records%s, %s is unauthorized", method,
                           author ? author : "undefined");
  const char *invoked_role = json_string_value(json_object_get(m->payload, "protocolRole"));
  size_t i;
  const json_t *rule;
  json_array_foreach(rules, i, rule) {
    bool matches = false;
    size_t k;
    const json_t *can;
    json_array_foreach(json_object_get(rule, "can"), k, can) {
      for (size_t j = 0; j < sought.len; j++) matches |= streq(json_string_value(can), sought.names[j]);
    }
    if (!matches) continue;
    const char *who = json_string_value(json_object_get(rule, "who"));
    if (streq(who, "anyone")) return 0;
    if (!author) continue;
    if (invoked_role) {
      if (streq(json_string_value(json_object_get(rule, "role")), invoked_role)) return 0;
      continue;
    }
    if (streq(who, "recipient") && !json_object_get(rule, "of")) {
      const json_t *target = strcmp(method, "Write") == 0 ? m->json
                                                          : json_array_get(chain, json_array_size(chain) - 1);
      if (target && streq(dstr(target, "recipient"), author)) return 0;
      continue;
    }
    if (check_actor(author, rule, chain)) return 0;
  }
  return dwn_status_fail(st, 401, "ProtocolAuthorizationActionNotAllowed",
                         "Inbound message action Records%s by author %s not allowed.", method,
                         author ? author : "undefined");
}

/* The shared tail of the authorize* functions: definition, rule set, invoked
 * role, actions. */
static int authorize(dwn_t *d, const char *tenant, const dwn_msg_t *m, const char *protocol, const char *path,
                     const char *context, const json_t *chain, dwn_status_t *st) {
  json_t *definition = NULL;
  int rc = dwn_protocol_fetch_definition(d, tenant, protocol, 401, &definition, st);
  if (rc) return rc;
  const json_t *rule_set = NULL;
  if (!(rc = rule_set_or_fail(definition, path, 401, &rule_set, st)) &&
      !(rc = verify_invoked_role(d, tenant, m, protocol, context, definition, st)))
    rc = authorize_actions(d, tenant, m, rule_set, chain, st);
  json_decref(definition);
  return rc;
}

int dwn_protocol_authorize_write(dwn_t *d, const char *tenant, const dwn_msg_t *m, dwn_status_t *st) {
  const json_t *message = m->json;
  json_t *initial = NULL, *chain = NULL;
  int rc = fetch_initial_write(d, tenant, mstr(message, "recordId"), &initial, st);
  if (!rc)
    rc = record_chain(d, tenant, initial ? mstr(message, "recordId") : dstr(message, "parentId"), 401, &chain, st);
  if (!rc)
    rc = authorize(d, tenant, m, dstr(message, "protocol"), dstr(message, "protocolPath"), mstr(message, "contextId"),
                   chain, st);
  json_decref(initial);
  json_decref(chain);
  return rc;
}

int dwn_protocol_authorize_read(dwn_t *d, const char *tenant, const dwn_msg_t *m, const json_t *write,
                                dwn_status_t *st) {
  json_t *chain = NULL;
  int rc = record_chain(d, tenant, mstr(write, "recordId"), 401, &chain, st);
  if (!rc)
    rc = authorize(d, tenant, m, dstr(write, "protocol"), dstr(write, "protocolPath"), mstr(write, "contextId"), chain,
                   st);
  json_decref(chain);
  return rc;
}

int dwn_protocol_authorize_query(dwn_t *d, const char *tenant, const dwn_msg_t *m, dwn_status_t *st) {
  const json_t *filter = json_object_get(m->descriptor, "filter");
  json_t *chain = json_array();
  if (!chain) return -ENOMEM;
  int rc = authorize(d, tenant, m, json_string_value(json_object_get(filter, "protocol")),
                     json_string_value(json_object_get(filter, "protocolPath")),
                     json_string_value(json_object_get(filter, "contextId")), chain, st);
  json_decref(chain);
  return rc;
}

int dwn_protocol_authorize_delete(dwn_t *d, const char *tenant, const dwn_msg_t *m, const json_t *write,
                                  dwn_status_t *st) {
  json_t *chain = NULL;
  int rc = record_chain(d, tenant, dstr(m->json, "recordId"), 401, &chain, st);
  if (!rc)
    rc = authorize(d, tenant, m, dstr(write, "protocol"), dstr(write, "protocolPath"), mstr(write, "contextId"), chain,
                   st);
  json_decref(chain);
  return rc;
}

/* ---- $tags: a JSON Schema subset --------------------------------------------------- */

static bool why_set(char *why, size_t why_bytes, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool why_set(char *why, size_t why_bytes, const char *fmt, ...) {
  if (why && why_bytes) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_bytes, fmt, ap);
    va_end(ap);
  }
  return false;
}

/* fast-deep-equal on JSON values: numbers by value. */
static bool js_equal(const json_t *a, const json_t *b) {
  if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
  if (json_is_array(a) && json_is_array(b)) {
    if (json_array_size(a) != json_array_size(b)) return false;
    for (size_t i = 0; i < json_array_size(a); i++)
      if (!js_equal(json_array_get(a, i), json_array_get(b, i))) return false;
    return true;
  }
  if (json_is_object(a) && json_is_object(b)) {
    if (json_object_size(a) != json_object_size(b)) return false;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)a, k, v) if (!js_equal(v, json_object_get(b, k))) return false;
    return true;
  }
  return json_equal((json_t *)a, (json_t *)b);
}

static bool is_type(const json_t *v, const char *type) {
  if (!type) return false;
  if (strcmp(type, "string") == 0) return json_is_string(v);
  if (strcmp(type, "number") == 0) return json_is_number(v);
  if (strcmp(type, "integer") == 0) {
    if (json_is_integer(v)) return true;
    double x = json_number_value(v);
    return json_is_real(v) && isfinite(x) && floor(x) == x;
  }
  if (strcmp(type, "boolean") == 0) return json_is_boolean(v);
  if (strcmp(type, "array") == 0) return json_is_array(v);
  if (strcmp(type, "object") == 0) return json_is_object(v);
  if (strcmp(type, "null") == 0) return json_is_null(v);
  return false;
}

/* Code points of UTF-8 text (ajv's ucs2length counts a surrogate pair once). */
static size_t code_points(const char *s, size_t n) {
  size_t count = 0;
  for (size_t i = 0; i < n; i++) count += ((unsigned char)s[i] & 0xc0) != 0x80;
  return count;
}

/* A JS pattern as POSIX ERE: the class escapes \d \w \s (and negations)
 * become bracket expressions, other escapes of punctuation stay escaped.
 * false when it does not fit. */
static bool pattern_to_ere(const char *js, char *out, size_t out_bytes) {
  size_t o = 0;
  bool in_bracket = false;
  for (const char *p = js; *p; p++) {
    const char *add = NULL;
    char one[3] = {0};
    if (*p == '\\' && p[1]) {
      char c = *++p;
      static const char *const outside[][2] = {{"d", "[0-9]"}, {"D", "[^0-9]"}, {"w", "[A-Za-z0-9_]"},
                                                {"W", "[^A-Za-z0-9_]"}, {"s", "[[:space:]]"}, {"S", "[^[:space:]]"}};
      static const char *const inside[][2] = {{"d", "0-9"}, {"w", "A-Za-z0-9_"}, {"s", "[:space:]"}};
      if (in_bracket) {
        for (size_t i = 0; i < sizeof inside / sizeof inside[0] && !add; i++)
          if (c == inside[i][0][0]) add = inside[i][1];
        if (!add) one[0] = c, add = one; /* a bracket takes its members literally */
      } else {
        for (size_t i = 0; i < sizeof outside / sizeof outside[0] && !add; i++)
          if (c == outside[i][0][0]) add = outside[i][1];
        if (!add) one[0] = '\\', one[1] = c, add = one;
      }
    } else {
      if (*p == '[' && !in_bracket) in_bracket = true;
      else if (*p == ']' && in_bracket) in_bracket = false;
      one[0] = *p;
      add = one;
    }
    size_t n = strlen(add);
    if (o + n + 1 > out_bytes) return false;
    memcpy(out + o, add, n);
    o += n;
  }
  out[o] = 0;
  return true;
}

/* Bounds what regcomp will build: it copies a repeated sub-expression once
 * per repetition ({n,m} n-1 or m-1 times, + once), so nested repetitions grow
 * geometrically.  The estimate sums atoms per group and multiplies by the
 * repetitions; a quantifier right after a quantifier (other than the lazy
 * '?', which JS accepts) is refused as JS refuses it ("nothing to repeat"),
 * and so are back-references (their matching time has no bound). */
static bool pattern_size_ok(const char *p) {
  double size[PATTERN_GROUPS_MAX + 1], last[PATTERN_GROUPS_MAX + 1];
  int top = 0;
  size[0] = last[0] = 0;
  bool after_quantifier = false, after_lazy = false;
  for (; *p; p++) {
    char c = *p;
    bool quantifier = c == '*' || c == '+' || c == '?' || c == '{';
    if (quantifier) {
      if (after_lazy || (after_quantifier && c != '?')) return false;
      if (after_quantifier && c == '?') { /* lazy marker */
        after_lazy = true;
        continue;
      }
      double times = 1;
      if (c == '+') times = 2;
      else if (c == '{') {
        char *end;
        unsigned long lo = strtoul(p + 1, &end, 10), hi = lo;
        if (end == p + 1) return false;
        if (*end == ',') {
          const char *q = end + 1;
          hi = strtoul(q, &end, 10);
          if (end == q) hi = lo + 1; /* {n,}: like n copies and a star */
        }
        if (*end != '}' || hi < lo || hi > PATTERN_REPEAT_MAX) return false;
        times = (double)(hi > 0 ? hi : 1);
        p = end;
      }
      size[top] += last[top] * (times - 1);
      last[top] *= times;
      after_quantifier = true;
    } else {
      after_quantifier = after_lazy = false;
      double atom = 1;
      if (c == '\\') {
        if (p[1] >= '1' && p[1] <= '9') return false; /* back-references: matching time unbounded */
        if (p[1]) p++;
      } else if (c == '[') {
        const char *q = p + 1;
        if (*q == '^') q++;
        if (*q == ']') q++;
        while (*q && *q != ']') q += (*q == '\\' && q[1]) ? 2 : 1;
        if (!*q) return false;
        p = q;
      } else if (c == '(') {
        if (top == PATTERN_GROUPS_MAX) return false;
        top++;
        size[top] = last[top] = 0;
        continue;
      } else if (c == ')') {
        if (top == 0) return false;
        atom = size[top--];
      } else if (c == '|' || c == '^' || c == '$') {
        atom = 0;
      }
      size[top] += atom;
      last[top] = atom;
    }
    if (size[top] > PATTERN_NODES_MAX) return false;
  }
  return top == 0;
}

static bool pattern_matches(const char *pattern, const char *s, bool *ok) {
  regex_t re;
  char ere[2 * PATTERN_BYTES_MAX];
  *ok = strlen(pattern) < PATTERN_BYTES_MAX && pattern_size_ok(pattern) && pattern_to_ere(pattern, ere, sizeof ere) &&
        regcomp(&re, ere, REG_EXTENDED | REG_NOSUB) == 0;
  if (!*ok) return false;
  bool match = regexec(&re, s, 0, NULL, 0) == 0;
  regfree(&re);
  return match;
}

static bool schema_valid(const json_t *schema, const json_t *value, char *why, size_t why_bytes, int depth) {
  if (depth > 8) return why_set(why, why_bytes, "schema: nested too deep");
  if (json_is_boolean(schema)) return json_is_true(schema) ? true : why_set(why, why_bytes, "false schema");
  if (!json_is_object(schema)) return true;
  const json_t *type = json_object_get(schema, "type");
  if (type) {
    bool ok = false;
    if (json_is_string(type)) ok = is_type(value, json_string_value(type));
    size_t i;
    const json_t *t;
    json_array_foreach(type, i, t) ok |= is_type(value, json_string_value(t));
    if (!ok) return why_set(why, why_bytes, "type: must be %s", json_is_string(type) ? json_string_value(type) : "of the listed types");
  }
  const json_t *e = json_object_get(schema, "enum");
  if (json_is_array(e)) {
    bool found = false;
    size_t i;
    const json_t *item;
    json_array_foreach(e, i, item) found |= js_equal(item, value);
    if (!found) return why_set(why, why_bytes, "enum: must be equal to one of the allowed values");
  }
  const json_t *c = json_object_get(schema, "const");
  if (c && !js_equal(c, value)) return why_set(why, why_bytes, "const: must be equal to constant");
  if (json_is_number(value)) {
    double x = json_number_value(value);
    const json_t *k;
    if ((k = json_object_get(schema, "minimum")) && json_is_number(k) && !(x >= json_number_value(k)))
      return why_set(why, why_bytes, "minimum: must be >= %.17g", json_number_value(k));
    if ((k = json_object_get(schema, "maximum")) && json_is_number(k) && !(x <= json_number_value(k)))
      return why_set(why, why_bytes, "maximum: must be <= %.17g", json_number_value(k));
    if ((k = json_object_get(schema, "exclusiveMinimum")) && json_is_number(k) && !(x > json_number_value(k)))
      return why_set(why, why_bytes, "exclusiveMinimum: must be > %.17g", json_number_value(k));
    if ((k = json_object_get(schema, "exclusiveMaximum")) && json_is_number(k) && !(x < json_number_value(k)))
      return why_set(why, why_bytes, "exclusiveMaximum: must be < %.17g", json_number_value(k));
    if ((k = json_object_get(schema, "multipleOf")) && json_is_number(k) && json_number_value(k) > 0) {
      double q = x / json_number_value(k);
      if (!isfinite(q) || floor(q) != q) return why_set(why, why_bytes, "multipleOf: must be multiple of %.17g", json_number_value(k));
    }
  }
  if (json_is_string(value)) {
    size_t n = code_points(json_string_value(value), json_string_length(value));
    const json_t *k;
    if ((k = json_object_get(schema, "minLength")) && json_is_number(k) && (double)n < json_number_value(k))
      return why_set(why, why_bytes, "minLength: must NOT have fewer than %.17g characters", json_number_value(k));
    if ((k = json_object_get(schema, "maxLength")) && json_is_number(k) && (double)n > json_number_value(k))
      return why_set(why, why_bytes, "maxLength: must NOT have more than %.17g characters", json_number_value(k));
    const char *pattern = json_string_value(json_object_get(schema, "pattern"));
    bool ok = true;
    if (pattern && !pattern_matches(pattern, json_string_value(value), &ok))
      return why_set(why, why_bytes, ok ? "pattern: must match pattern \"%s\"" : "pattern: cannot evaluate \"%s\"",
                     pattern);
  }
  if (json_is_array(value)) {
    size_t n = json_array_size(value);
    const json_t *k;
    if ((k = json_object_get(schema, "minItems")) && json_is_number(k) && (double)n < json_number_value(k))
      return why_set(why, why_bytes, "minItems: must NOT have fewer than %.17g items", json_number_value(k));
    if ((k = json_object_get(schema, "maxItems")) && json_is_number(k) && (double)n > json_number_value(k))
      return why_set(why, why_bytes, "maxItems: must NOT have more than %.17g items", json_number_value(k));
    if (json_is_true(json_object_get(schema, "uniqueItems")))
      for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
          if (js_equal(json_array_get(value, i), json_array_get(value, j)))
            return why_set(why, why_bytes, "uniqueItems: must NOT have duplicate items (items ## %zu and %zu are identical)", j, i);
    const json_t *items = json_object_get(schema, "items");
    if (items)
      for (size_t i = 0; i < n; i++)
        if (!schema_valid(items, json_array_get(value, i), why, why_bytes, depth + 1)) return false;
    const json_t *contains = json_object_get(schema, "contains");
    if (contains) {
      size_t hits = 0;
      for (size_t i = 0; i < n; i++) hits += schema_valid(contains, json_array_get(value, i), NULL, 0, depth + 1);
      const json_t *lo = json_object_get(schema, "minContains"), *hi = json_object_get(schema, "maxContains");
      double min = json_is_number(lo) ? json_number_value(lo) : 1;
      if ((double)hits < min) return why_set(why, why_bytes, "contains: must contain at least %.17g valid item(s)", min);
      if (json_is_number(hi) && (double)hits > json_number_value(hi))
        return why_set(why, why_bytes, "contains: must contain at most %.17g valid item(s)", json_number_value(hi));
    }
  }
  return true;
}

bool dwn_protocol_tag_schema_valid(const json_t *schema, const json_t *value, char *why, size_t why_bytes) {
  if (why && why_bytes) why[0] = 0;
  return schema_valid(schema, value, why, why_bytes, 0);
}

int dwn_protocol_check_tags(const json_t *tags_rule, const json_t *tags, const char *protocol,
                            const char *protocol_path, dwn_status_t *st) {
  const char *p = protocol ? protocol : "undefined", *pp = protocol_path ? protocol_path : "undefined";
  bool allow_undefined = json_is_true(json_object_get(tags_rule, "$allowUndefinedTags"));
  const json_t *required = json_object_get(tags_rule, "$requiredTags");
  size_t i;
  const json_t *r;
  json_array_foreach(required, i, r) {
    const char *name = json_string_value(r);
    if (name && !json_object_get(tags, name))
      return dwn_status_fail(st, 400, "ProtocolAuthorizationTagsInvalidSchema",
                             "tags schema validation error: %s/%s/$tags must have required property '%s'", p, pp, name);
  }
  const char *key;
  const json_t *v;
  json_object_foreach((json_t *)tags, key, v) {
    const json_t *schema = key[0] == '$' && (strcmp(key, "$requiredTags") == 0 || strcmp(key, "$allowUndefinedTags") == 0)
                               ? NULL
                               : json_object_get(tags_rule, key);
    if (!schema) {
      if (allow_undefined) continue;
      return dwn_status_fail(st, 400, "ProtocolAuthorizationTagsInvalidSchema",
                             "tags schema validation error: %s/%s/$tags must NOT have additional properties", p, pp);
    }
    char why[256];
    if (!dwn_protocol_tag_schema_valid(schema, v, why, sizeof why))
      return dwn_status_fail(st, 400, "ProtocolAuthorizationTagsInvalidSchema",
                             "tags schema validation error: %s/%s/$tags/%s %s", p, pp, key, why);
  }
  return 0;
}
