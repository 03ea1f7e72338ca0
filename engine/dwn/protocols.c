/*
 * dwn/protocols: Protocols.Configure and Protocols.Query (dwn-reference.md
 * §2.5, §5, §9.1), with the definition's structural checks of
 * ProtocolsConfigure.validateStructure (roles, $actions, $size, record types,
 * nesting depth), and the grant paths (grants.h): Configure by an
 * author-delegate or with a Protocols/Configure grant, Query with a
 * Protocols/Query grant (a protocol-scoped grant asked about another protocol
 * narrows to published definitions, as an unauthorised query does).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dwn/grants.h"
#include "dwn/handlers.h"
#include "dwn/stream.h"
#include "dwn/validate.h"
#include "err.h"

#define ROLES_MAX 256
#define PROTOCOL_DEPTH_MAX 10 /* record nesting levels */
#define SCOPE_MISMATCH "ProtocolsGrantAuthorizationQueryProtocolScopeMismatch"

typedef struct roles {
  char *paths[ROLES_MAX];
  size_t len;
} roles_t;

static void roles_free(roles_t *r) {
  for (size_t i = 0; i < r->len; i++) free(r->paths[i]);
}

static int child_path(const char *parent, const char *type, char **out) {
  size_t n = strlen(parent) + strlen(type) + 2;
  if (!(*out = malloc(n))) return -ENOMEM;
  snprintf(*out, n, parent[0] ? "%s/%s" : "%s%s", parent, type);
  return 0;
}

static size_t segments(const char *path) {
  size_t n = 1;
  for (; *path; path++) n += *path == '/';
  return n;
}

static int collect_roles(const char *path, const json_t *rule_set, roles_t *roles, dwn_status_t *st) {
  if (segments(path) > PROTOCOL_DEPTH_MAX)
    return dwn_status_fail(st, 400, "ProtocolsConfigureRecordNestingDepthExceeded", "Record nesting depth exceeded 10 levels.");
  const char *type;
  const json_t *child;
  json_object_foreach((json_t *)rule_set, type, child) {
    if (type[0] == '$') continue;
    char *child_p;
    int rc = child_path(path, type, &child_p);
    if (rc) return rc;
    if (json_is_true(json_object_get(child, "$role"))) {
      if (roles->len == ROLES_MAX) {
        free(child_p);
        return dwn_status_fail(st, 400, "ProtocolsConfigureRecordNestingDepthExceeded", "more than %d roles", ROLES_MAX);
      }
      roles->paths[roles->len++] = child_p;
    } else {
      rc = collect_roles(child_p, child, roles, st);
      free(child_p);
      if (rc) return rc;
    }
  }
  return 0;
}

static bool can_has(const json_t *can, const char *action) {
  size_t i;
  const json_t *a;
  json_array_foreach(can, i, a) if (json_is_string(a) && strcmp(json_string_value(a), action) == 0) return true;
  return false;
}

static bool same_string(const json_t *a, const json_t *b) {
  if (!a || !b) return a == b;
  return json_equal(a, b);
}

/* JSON.stringify of an action rule for messages (compact, insertion order). */
static void rule_text(const json_t *rule, char *out, size_t n) {
  char *s = json_dumps(rule, JSON_COMPACT | JSON_PRESERVE_ORDER);
  snprintf(out, n, "%s", s ? s : "{}");
  free(s);
}

/* ajv's validateSchema (JSON Schema 2020-12 meta-schema, first error) of a
 * $tags property schema, as far as the ProtocolRuleSet schema lets one
 * through: each tag schema is an object of `type` (already an allowed name),
 * `items` / `contains` (objects, checked the same way) and the keywords
 * enum, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength,
 * maxLength, minItems, maxItems, uniqueItems, minContains, maxContains with
 * any value.  The meta-schema checks the applicator vocabulary (items,
 * contains) before the validation vocabulary, each in its listing order.
 * On failure *at gets the failing keyword's instance path (below the tag)
 * and *message ajv's message; depth is bounded by TAG_SCHEMA_DEPTH_MAX. */
#define TAG_SCHEMA_DEPTH_MAX 16
#define TAG_PATH_BYTES_MAX 256

static bool js_integer(const json_t *v) {
  if (json_is_integer(v)) return true;
  if (!json_is_real(v)) return false;
  double x = json_real_value(v);
  if (x >= 9007199254740992.0 || x <= -9007199254740992.0) return true; /* beyond 2^53 every double is whole */
  return x == (double)(long long)x;
}

/* The value of a canonical array-index property name (0 .. 2^32-2), else -1. */
static long long js_array_index(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > 10 || (n > 1 && name[0] == '0')) return -1;
  long long v = 0;
  for (size_t i = 0; i < n; i++) {
    if (name[i] < '0' || name[i] > '9') return -1;
    v = v * 10 + (name[i] - '0');
  }
  return v <= 4294967294LL ? v : -1;
}

static bool tag_schema_error(const json_t *schema, char *at, size_t at_len, const char **message, int depth) {
  if (!json_is_object(schema)) {
    if (json_is_boolean(schema)) return false;
    *message = "must be object,boolean";
    return true;
  }
  if (depth >= TAG_SCHEMA_DEPTH_MAX) return false;
  static const char *const applicators[] = {"items", "contains"};
  for (size_t i = 0; i < 2; i++) {
    const json_t *sub = json_object_get(schema, applicators[i]);
    if (!sub) continue;
    size_t n = strlen(at);
    snprintf(at + n, at_len - n, "/%s", applicators[i]);
    if (tag_schema_error(sub, at, at_len, message, depth + 1)) return true;
    at[n] = '\0';
  }
  static const struct {
    const char *keyword;
    char kind; /* a: array, n: number, p: number > 0, i: non-negative integer, b: boolean */
  } checks[] = {{"enum", 'a'},          {"multipleOf", 'p'}, {"maximum", 'n'},  {"exclusiveMaximum", 'n'},
                {"minimum", 'n'},       {"exclusiveMinimum", 'n'}, {"maxLength", 'i'}, {"minLength", 'i'},
                {"maxItems", 'i'},      {"minItems", 'i'},   {"uniqueItems", 'b'}, {"maxContains", 'i'},
                {"minContains", 'i'},   {"maxProperties", 'i'}, {"minProperties", 'i'}};
  for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
    const json_t *v = json_object_get(schema, checks[i].keyword);
    if (!v) continue;
    const char *msg = NULL;
    switch (checks[i].kind) {
    case 'a': if (!json_is_array(v)) msg = "must be array"; break;
    case 'n': if (!json_is_number(v)) msg = "must be number"; break;
    case 'p':
      if (!json_is_number(v)) msg = "must be number";
      else if (!(json_number_value(v) > 0)) msg = "must be > 0";
      break;
    case 'i':
      if (!json_is_number(v) || !js_integer(v)) msg = "must be integer";
      else if (json_number_value(v) < 0) msg = "must be >= 0";
      break;
    case 'b': if (!json_is_boolean(v)) msg = "must be boolean"; break;
    }
    if (msg) {
      size_t n = strlen(at);
      snprintf(at + n, at_len - n, "/%s", checks[i].keyword);
      *message = msg;
      return true;
    }
  }
  return false;
}

static int check_rule_set(const json_t *rule_set, const char *path, const json_t *types, const roles_t *roles,
                          dwn_status_t *st) {
  const json_t *size = json_object_get(rule_set, "$size");
  if (size) {
    double min = json_is_number(json_object_get(size, "min")) ? json_number_value(json_object_get(size, "min")) : 0;
    const json_t *max = json_object_get(size, "max");
    if (max && json_number_value(max) < min)
      return dwn_status_fail(st, 400, "ProtocolsConfigureInvalidSize",
                             "Invalid size range found: max limit %g less than min limit %g at protocol path '%s'",
                             json_number_value(max), min, path);
  }
  /* `for (const tag in tagProperties)`: the first failing tag in JavaScript
   * key order (array-index names ascending, then insertion order) */
  const json_t *tags = json_object_get(rule_set, "$tags");
  const char *tag, *bad = NULL, *bad_message = NULL;
  char bad_at[TAG_PATH_BYTES_MAX] = "";
  long long bad_index = -1;
  const json_t *tag_schema;
  json_object_foreach((json_t *)tags, tag, tag_schema) {
    if (strcmp(tag, "$allowUndefinedTags") == 0 || strcmp(tag, "$requiredTags") == 0) continue;
    long long index = js_array_index(tag);
    if (bad && !(index >= 0 && (bad_index < 0 || index < bad_index))) continue;
    char at[TAG_PATH_BYTES_MAX] = "";
    const char *message = NULL;
    if (tag_schema_error(tag_schema, at, sizeof at, &message, 0)) {
      bad = tag, bad_message = message, bad_index = index;
      memcpy(bad_at, at, sizeof at);
    }
  }
  if (bad)
    return dwn_status_fail(st, 400, "ProtocolsConfigureInvalidTagSchema", "tags schema validation error: %s/$tags/%s%s %s",
                           path, bad, bad_at, bad_message);
  const json_t *actions = json_object_get(rule_set, "$actions");
  size_t count = json_array_size(actions);
  for (size_t i = 0; i < count; i++) {
    const json_t *rule = json_array_get(actions, i);
    const json_t *role = json_object_get(rule, "role"), *who = json_object_get(rule, "who"),
                 *of = json_object_get(rule, "of"), *can = json_object_get(rule, "can");
    char text[256];
    rule_text(rule, text, sizeof text);
    if (role) {
      bool exists = false;
      for (size_t r = 0; r < roles->len; r++) exists |= strcmp(roles->paths[r], json_string_value(role)) == 0;
      if (!exists)
        return dwn_status_fail(st, 400, "ProtocolsConfigureRoleDoesNotExistAtGivenPath",
                               "Role in action %s for rule set %s does not exist.", text, path);
      bool some = can_has(can, "read") || can_has(can, "query") || can_has(can, "subscribe");
      bool all = can_has(can, "read") && can_has(can, "query") && can_has(can, "subscribe");
      if (some && !all)
        return dwn_status_fail(st, 400, "ProtocolsConfigureRoleReadActionMissing",
                               "Role in action %s for rule set %s must contain all read actions (read, query, subscribe).",
                               text, path);
    }
    const char *w = json_string_value(who);
    if (w && strcmp(w, "anyone") == 0 && json_is_string(of) && json_string_length(of))
      return dwn_status_fail(st, 400, "ProtocolsConfigureInvalidActionOfNotAllowed",
                             "'of' is not allowed at rule set protocol path (%s)", path);
    if (w && strcmp(w, "recipient") == 0 && !of) {
      size_t k;
      const json_t *a;
      json_array_foreach(can, k, a) {
        const char *action = json_string_value(a);
        if (!action || (strcmp(action, "co-update") && strcmp(action, "co-delete") && strcmp(action, "co-prune")))
          return dwn_status_fail(st, 400, "ProtocolsConfigureInvalidRecipientOfAction",
                                 "Rules for `recipient` without `of` property must have `can` containing only "
                                 "`co-update`, `co-delete`, and `co-prune`.");
      }
    }
    if (w && strcmp(w, "author") == 0 && !(json_is_string(of) && json_string_length(of)))
      return dwn_status_fail(st, 400, "ProtocolsConfigureInvalidActionMissingOf",
                             "'of' is required when 'author' is specified as 'who'");
    if (can && can_has(can, "update") && !can_has(can, "create"))
      return dwn_status_fail(st, 400, "ProtocolsConfigureInvalidActionUpdateWithoutCreate",
                             "Action rule %s contains 'update' action but missing the required 'create' action.", text);
    if (can && can_has(can, "delete") && !can_has(can, "create"))
      return dwn_status_fail(st, 400, "ProtocolsConfigureInvalidActionDeleteWithoutCreate",
                             "Action rule %s contains 'delete' action but missing the required 'create' action.", text);
    for (size_t j = i + 1; j < count; j++) {
      const json_t *other = json_array_get(actions, j);
      if (who) {
        if (same_string(who, json_object_get(other, "who")) && same_string(of, json_object_get(other, "of")))
          return dwn_status_fail(st, 400, "ProtocolsConfigureDuplicateActorInRuleSet",
                                 "More than one action rule per actor %s of %s not allowed within a rule set: %s", w,
                                 of ? json_string_value(of) : "undefined", text);
      } else if (same_string(role, json_object_get(other, "role"))) {
        return dwn_status_fail(st, 400, "ProtocolsConfigureDuplicateRoleInRuleSet",
                               "More than one action rule per role %s not allowed within a rule set: %s",
                               role ? json_string_value(role) : "undefined", text);
      }
    }
  }
  const char *type;
  const json_t *child;
  json_object_foreach((json_t *)rule_set, type, child) {
    if (type[0] == '$') continue;
    if (!json_object_get(types, type))
      return dwn_status_fail(st, 400, "ProtocolsConfigureInvalidRuleSetRecordType",
                             "Rule set %s is not declared as an allowed type in the protocol definition.", type);
    char *child_p;
    int rc = child_path(path, type, &child_p);
    if (!rc) rc = check_rule_set(child, child_p, types, roles, st);
    free(child_p);
    if (rc) return rc;
  }
  return 0;
}

/* ProtocolsConfigure.validateProtocolDefinition (after the schema). */
static int check_definition(const json_t *definition, dwn_status_t *st) {
  int rc = dwn_check_protocol_url(json_string_value(json_object_get(definition, "protocol")), st);
  const json_t *types = json_object_get(definition, "types");
  const char *name;
  const json_t *type;
  json_object_foreach((json_t *)types, name, type) {
    const char *schema = json_string_value(json_object_get(type, "schema"));
    if (!rc && schema) rc = dwn_check_schema_url(schema, st);
  }
  if (rc) return rc;
  roles_t roles = {0};
  const json_t *structure = json_object_get(definition, "structure");
  rc = collect_roles("", structure, &roles, st);
  if (!rc) rc = check_rule_set(structure, "", types, &roles, st);
  roles_free(&roles);
  return rc;
}

static json_t *configure_indexes(const json_t *message, const char *author) {
  const json_t *descriptor = json_object_get(message, "descriptor");
  json_t *ix = json_object();
  const char *key;
  const json_t *v;
  json_object_foreach((json_t *)descriptor, key, v) if (strcmp(key, "definition") != 0) json_object_set(ix, key, (json_t *)v);
  const json_t *definition = json_object_get(descriptor, "definition");
  json_object_set_new(ix, "author", json_string(author));
  json_object_set(ix, "protocol", json_object_get(definition, "protocol"));
  json_object_set(ix, "published", json_object_get(definition, "published"));
  return ix;
}

/* ProtocolsConfigureHandler.authorizeProtocolsConfigure: an author-delegate
 * first proves its delegated grant (grantor: the logical author, grantee: the
 * signer), then the author must be the tenant or hold a Protocols/Configure
 * grant of the tenant. */
static int authorize_configure(dwn_t *d, const char *tenant, const dwn_msg_t *m, dwn_status_t *st) {
  const json_t *delegated = json_object_get(json_object_get(m->json, "authorization"), "authorDelegatedGrant");
  int rc = 0;
  if (delegated) {
    dwn_grant_t g;
    rc = dwn_grant_parse(delegated, &g, st);
    if (!rc) rc = dwn_grant_authorize_protocols_configure(d, tenant, m->json, m->author, m->signer, &g, st);
    dwn_grant_release(&g);
    if (rc) return rc;
  }
  if (strcmp(m->author, tenant) == 0) return 0;
  const char *grant_id = json_string_value(json_object_get(m->payload, "permissionGrantId"));
  if (m->author[0] && json_object_get(m->payload, "permissionGrantId")) {
    dwn_grant_t g;
    rc = dwn_grant_fetch(d, tenant, grant_id, &g, st);
    if (!rc) rc = dwn_grant_authorize_protocols_configure(d, tenant, m->json, tenant, m->author, &g, st);
    dwn_grant_release(&g);
    return rc;
  }
  return dwn_status_fail(st, 401, "ProtocolsConfigureAuthorizationFailed", "message failed authorization");
}

int dwn_protocols_configure(dwn_t *d, const char *tenant, const json_t *message, dwn_reply_t *reply) {
  dwn_status_t st = {0};
  dwn_msg_t m;
  const json_t *definition = json_object_get(json_object_get(message, "descriptor"), "definition");
  memset(&m, 0, sizeof m);
  int rc = check_definition(definition, &st);
  if (!rc) rc = dwn_msg_init(&m, message, false, &st);
  if (!rc) rc = dwn_check_timestamp(json_string_value(json_object_get(json_object_get(message, "descriptor"),
                                                                      "messageTimestamp")), &st);
  if (!rc) rc = dwn_authenticate(d, &m, &st);
  if (!rc) rc = authorize_configure(d, tenant, &m, &st);
  if (rc) {
    dwn_msg_release(&m);
    return dwn_finish(reply, &st, rc);
  }
  pthread_mutex_t *lock = dwn_write_lock(d, tenant, json_string_value(json_object_get(definition, "protocol")));
  pthread_mutex_lock(lock);
  json_t *filter = json_pack("{s:s,s:s,s:O}", "interface", "Protocols", "method", "Configure", "protocol",
                             json_object_get(definition, "protocol"));
  json_t *existing = NULL;
  rc = filter ? dwn_query(d, tenant, &filter, 1, NULL, NULL, &existing, NULL, &st) : -ENOMEM;
  json_decref(filter);
  const json_t *newest = rc ? NULL : dwn_newest(existing);
  bool incoming_newest = !newest || dwn_is_newer(message, newest);
  msgstore_txn_t *txn = NULL;
  json_t *ix = NULL;
  if (!rc) rc = msgstore_txn_begin(d->store, &txn);
  if (!rc && incoming_newest) {
    ix = configure_indexes(message, m.author);
    rc = ix ? dwn_put(d, txn, tenant, message, ix, true) : -ENOMEM;
    newest = message;
  }
  size_t i;
  const json_t *e;
  json_array_foreach(existing, i, e) if (!rc && dwn_is_newer(newest, e)) rc = dwn_delete(d, txn, tenant, e, true);
  if (!rc) rc = msgstore_txn_commit(txn);
  if (!rc && ix) dwn_stream_emit(d, tenant, message, NULL, ix);
  json_decref(ix);
  msgstore_txn_free(txn);
  pthread_mutex_unlock(lock);
  if (!rc) rc = incoming_newest ? dwn_reply_code(reply, 202, "Accepted") : dwn_reply_code(reply, 409, "Conflict");
  json_decref(existing);
  dwn_msg_release(&m);
  return dwn_finish(reply, &st, rc);
}

int dwn_protocols_query(dwn_t *d, const char *tenant, const json_t *message, dwn_reply_t *reply) {
  dwn_status_t st = {0};
  dwn_msg_t m;
  const json_t *descriptor = json_object_get(message, "descriptor");
  const json_t *filter = json_object_get(descriptor, "filter");
  int rc = dwn_msg_init(&m, message, false, &st);
  if (!rc && filter) {
    const json_t *protocol = json_object_get(filter, "protocol");
    /* validateProtocolUrlNormalized(undefined) compares "undefined" with its normal form */
    rc = dwn_check_protocol_url(protocol ? json_string_value(protocol) : "undefined", &st);
  }
  if (!rc) rc = dwn_check_timestamp(json_string_value(json_object_get(descriptor, "messageTimestamp")), &st);
  bool published_only = false;
  if (!rc) {
    rc = dwn_authenticate(d, &m, &st);
    if (rc == -EACCES && strncmp(st.detail, "AuthenticateJwsMissing", 22) == 0) rc = 0, published_only = true;
    else if (!rc && strcmp(m.author, tenant) != 0) {
      /* ProtocolsQuery.authorize: `permissionGrantId` is tested for truthiness */
      const char *grant_id = json_string_value(json_object_get(m.payload, "permissionGrantId"));
      const json_t *gid = json_object_get(m.payload, "permissionGrantId");
      if (m.author[0] && gid && !(json_is_string(gid) && json_string_length(gid) == 0)) {
        dwn_grant_t g;
        rc = dwn_grant_fetch(d, tenant, grant_id, &g, &st);
        if (!rc) rc = dwn_grant_authorize_protocols_query(d, tenant, message, tenant, m.author, &g, &st);
        dwn_grant_release(&g);
        if (rc == -EACCES && strncmp(st.detail, SCOPE_MISMATCH ":", sizeof SCOPE_MISMATCH) == 0)
          rc = 0, published_only = true;
      } else {
        published_only = true;
      }
    }
  }
  json_t *query = NULL, *found = NULL;
  if (!rc) {
    query = filter ? json_deep_copy(filter) : json_object();
    if (!query) rc = -ENOMEM;
    else {
      json_object_set_new(query, "interface", json_string("Protocols"));
      json_object_set_new(query, "method", json_string("Configure"));
      if (published_only) json_object_set_new(query, "published", json_true());
      rc = dwn_query(d, tenant, &query, 1, NULL, NULL, &found, NULL, &st);
    }
  }
  if (!rc) {
    reply->body = json_pack("{s:{s:i,s:s},s:O}", "status", "code", 200, "detail", "OK", "entries", found);
    reply->code = 200;
    if (!reply->body) rc = -ENOMEM;
  }
  json_decref(query);
  json_decref(found);
  dwn_msg_release(&m);
  return dwn_finish(reply, &st, rc);
}
