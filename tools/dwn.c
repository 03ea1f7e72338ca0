/*
 * dwn: `anya dwn ...` — the DWN engine (engine/dwn/dwn.h) for operators and
 * tests, over the repository's message store (<repo>/dwn) and block engine.
 *
 *   anya dwn process --tenant DID [--data FILE] [-o DATA_OUT]
 *       reads one message (JSON) on stdin, prints the reply JSON on stdout
 *       (exit 0 whatever the DWN status: the status is in the reply); record
 *       data streamed back by a read goes to DATA_OUT (without -o it is left
 *       out, and the reply says how many bytes there were).
 *   anya dwn key new [--curve Ed25519|secp256k1] -o FILE
 *       a fresh key: the private JWK is written to FILE (mode 0600, refused if
 *       it exists) and its did:key printed.
 *   anya dwn protocol install NAME --tenant DID --key FILE [--packaging DIR]
 *       the Anya protocol NAME (packaging/dwn/NAME.json, its types' JSON
 *       Schemas packaging/dwn/NAME.TYPE.schema.json): the schemas are compiled,
 *       a ProtocolsConfigure is built and signed with the key (kid = the
 *       did:key's verification method), processed for the tenant, and, when
 *       the reply is 202, the schemas are registered (data_schema.h); prints
 *       the reply.  The packaging directory: --packaging DIR, else
 *       $ANYA_PACKAGING_DIR, else the first of <exe dir>/../share/anya/dwn and
 *       <ancestor of the exe dir, up to 4 levels>/packaging/dwn holding NAME.json.
 *   anya dwn schema add URI FILE | schema rm URI | schema ls
 *       the registry of record-data JSON Schemas (URI normalised first).
 *   anya dwn tenant add DID | tenant rm DID | tenant ls
 *       the tenant allow-list, <repo>/dwn/tenants (one DID a line, rewritten
 *       atomically); every engine this repository opens gets it as
 *       dwn_options_t.tenants, and an empty list leaves the gate open.
 * The repository's engine is opened by dwn_open_repo (engine/dwn_repo.h),
 * as anyad opens it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "dwn/build.h"
#include "dwn/data_schema.h"
#include "dwn/did.h"
#include "dwn/dwn.h"
#include "dwn/jsonschema.h"
#include "dwn/jwk.h"
#include "dwn/url.h"
#include "dwn_repo.h"
#include "err.h"
#include "log.h"
#include "remote.h"

#define DEFINITION_BYTES_MAX (1u << 20)
#define DWN_MESSAGE_TEXT_BYTES_MAX (4u << 20) /* a message on stdin (the daemon takes as much) */
#define PACKAGING_UP_MAX 4
#define DWN_DID_KID_BYTES_MAX 2048

static int dwn_process_cmd(int argc, char **argv) {
  opts_t o = {0};
  static const opt_spec_t specs[] = {{"tenant", 0, OPT_VALUE}, {"data", 0, OPT_VALUE}, {"output", 'o', OPT_VALUE}};
  PARSE(&o, argc, argv, specs);
  const char *tenant = opt_get(&o, "tenant");
  if (!tenant) return usage_error("dwn process needs --tenant DID%s", "");
  if (o.args_len) return usage_error("dwn process reads the message on stdin, not '%s'", o.args[0]);
  json_error_t error;
  buf_t input = {0};
  int trc = read_all_fd(0, &input, DWN_MESSAGE_TEXT_BYTES_MAX);
  if (trc) return buf_free(&input), die(trc);
  json_t *message = json_loadb((const char *)input.data, input.len, JSON_DECODE_INT_AS_REAL, &error);
  if (!message) return buf_free(&input), die(err_set(-EINVAL, "message on stdin: line %d: %s", error.line, error.text));
  const char *data = opt_get(&o, "data");
  if (remote_active()) { /* the daemon holds the repository: its engine processes the message */
    if (data && access(data, R_OK) != 0) trc = err_set(-errno, "%s: %s", data, strerror(errno));
    if (!trc) trc = remote_dwn_process(tenant, &input, data, opt_get(&o, "output"));
    buf_free(&input);
    json_decref(message);
    return trc ? die(trc) : 0;
  }
  buf_free(&input);
  int data_fd = -1;
  if (data && (data_fd = open(data, O_RDONLY | O_CLOEXEC)) < 0) {
    json_decref(message);
    return die(err_set(-errno, "%s: %s", data, strerror(errno)));
  }
  repo_t *r = NULL;
  int rc = open_repo("anya dwn process", &r);
  dwn_t *d = NULL;
  if (!rc) rc = dwn_open_repo(r, &d);
  dwn_reply_t reply = {0};
  if (!rc) rc = dwn_process(d, tenant, message, data_fd, &reply);
  const char *out = opt_get(&o, "output");
  if (!rc && reply.has_data && out) {
    buf_t bytes = {0};
    rc = dwn_reply_data(d, &reply, &bytes);
    int fd = rc ? -1 : open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (!rc && fd < 0) rc = err_set(-errno, "%s: %s", out, strerror(errno));
    if (!rc) rc = write_all(fd, bytes.data, bytes.len);
    if (fd >= 0) close(fd);
    buf_free(&bytes);
  }
  if (!rc) {
    if (reply.has_data && !out) json_object_set_new(reply.body, "dataBytes", json_integer((json_int_t)reply.data_size));
    char *text = json_dumps(reply.body, JSON_COMPACT);
    if (text) printf("%s\n", text);
    free(text);
  }
  dwn_reply_release(&reply);
  dwn_close(d);
  if (data_fd >= 0) close(data_fd);
  json_decref(message);
  if (r) rc = close_repo(r, rc);
  return rc ? die(rc) : 0;
}

static int dwn_key_cmd(int argc, char **argv) {
  if (argc < 1 || strcmp(argv[0], "new") != 0) return usage_error("dwn key needs new%s", "");
  opts_t o = {0};
  static const opt_spec_t specs[] = {{"curve", 0, OPT_VALUE}, {"output", 'o', OPT_VALUE}};
  PARSE(&o, argc - 1, argv + 1, specs);
  const char *out = opt_get(&o, "output");
  if (!out) return usage_error("dwn key new needs -o FILE for the private key%s", "");
  const char *curve = opt_get(&o, "curve");
  jwk_crv_t crv;
  if (!curve || strcmp(curve, "Ed25519") == 0) crv = JWK_CRV_ED25519;
  else if (strcmp(curve, "secp256k1") == 0) crv = JWK_CRV_SECP256K1;
  else return usage_error("--curve must be Ed25519 or secp256k1, not '%s'", curve);
  json_t *priv = NULL, *pub = NULL;
  buf_t did = {0};
  int rc = jwk_generate(crv, &priv, &pub);
  if (!rc) rc = did_key_from_jwk(pub, &did);
  char *text = rc ? NULL : json_dumps(priv, JSON_COMPACT);
  if (!rc && !text) rc = -ENOMEM;
  int fd = rc ? -1 : open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (!rc && fd < 0) rc = err_set(-errno, "%s: %s", out, strerror(errno));
  if (!rc) rc = write_all(fd, text, strlen(text));
  if (fd >= 0 && close(fd) != 0 && !rc) rc = err_set(-errno, "%s: %s", out, strerror(errno));
  if (!rc) printf("%s\n", (char *)did.data);
  free(text);
  buf_free(&did);
  json_decref(priv);
  json_decref(pub);
  return rc ? die(rc) : 0;
}

/* ---- tenant add|rm|ls ---------------------------------------------------- */

static int dwn_tenant_cmd(int argc, char **argv) {
  if (argc < 1) return usage_error("dwn tenant needs add, rm or ls%s", "");
  const char *sub = argv[0];
  bool ls = strcmp(sub, "ls") == 0, add = strcmp(sub, "add") == 0, rm = strcmp(sub, "rm") == 0;
  if (!ls && !add && !rm) return usage_error("unknown dwn tenant command '%s'", sub);
  if (ls ? argc != 1 : argc != 2) return usage_error(ls ? "dwn tenant ls takes no argument%s" : "dwn tenant %s needs one DID", sub);
  const char *did = ls ? NULL : argv[1];
  if (did && (strncmp(did, "did:", 4) != 0 || strlen(did) >= 2048 || strpbrk(did, " \t\r\n")))
    return usage_error("'%s' is not a DID", did);
  repo_t *r = NULL;
  int rc = open_repo("anya dwn tenant", &r);
  dwn_tenants_t *t = rc ? NULL : calloc(1, sizeof *t);
  if (!rc && !t) rc = -ENOMEM;
  if (!rc) rc = dwn_tenants_load(r, t);
  size_t at = t ? t->len : 0;
  for (size_t i = 0; !rc && did && i < t->len; i++)
    if (strcmp(t->dids[i], did) == 0) at = i;
  if (!rc && ls) {
    for (size_t i = 0; i < t->len; i++) printf("%s\n", t->dids[i]);
  } else if (!rc && add) {
    if (at == t->len && t->len == DWN_TENANTS_MAX) rc = err_set(-E2BIG, "more than %d tenants", DWN_TENANTS_MAX);
    if (!rc && at == t->len) {
      t->dids[t->len++] = did;
      rc = dwn_tenants_save(r, t);
    }
    if (!rc) printf("tenant %s\n", did);
  } else if (!rc) {
    if (at == t->len) rc = err_set(-ENOENT, "%s is not in the tenant list", did);
    if (!rc) {
      memmove(&t->dids[at], &t->dids[at + 1], (t->len - at - 1) * sizeof t->dids[0]);
      t->len--;
      rc = dwn_tenants_save(r, t);
    }
    if (!rc) printf("removed tenant %s%s\n", did, t->len ? "" : " (the list is empty: every DID is a tenant)");
  }
  dwn_tenants_free(t);
  free(t);
  if (r) rc = close_repo(r, rc);
  return rc ? die(rc) : 0;
}

/* ---- schema add|rm|ls ---------------------------------------------------- */

static json_t *load_json_file(const char *path, size_t bytes_max, int *rc) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *rc = err_set(-errno, "%s: %s", path, strerror(errno));
    return NULL;
  }
  buf_t text = {0};
  *rc = read_all_fd(fd, &text, bytes_max);
  close(fd);
  json_error_t error;
  json_t *v = *rc ? NULL : json_loadb((const char *)text.data, text.len, JSON_DECODE_INT_AS_REAL, &error);
  if (!*rc && !v) *rc = err_set(-EINVAL, "%s: line %d: %s", path, error.line, error.text);
  buf_free(&text);
  return v;
}

static int open_registry(repo_t *r, dwn_data_schemas_t **out) {
  char dir[DWN_REPO_DIR_BYTES];
  dwn_repo_dir(r, dir);
  return dwn_data_schemas_open(dir, out);
}

static int dwn_schema_cmd(int argc, char **argv) {
  if (argc < 1) return usage_error("dwn schema needs add, rm or ls%s", "");
  const char *sub = argv[0];
  bool ls = strcmp(sub, "ls") == 0, add = strcmp(sub, "add") == 0, rm = strcmp(sub, "rm") == 0;
  if (!ls && !add && !rm) return usage_error("unknown dwn schema command '%s'", sub);
  if (argc != (ls ? 1 : add ? 3 : 2)) return usage_error("usage: anya dwn schema add URI FILE | rm URI | ls%s", "");
  char uri[DWN_DATA_SCHEMA_URI_BYTES_MAX * 3 + 16] = "";
  int rc = 0;
  if (!ls && (rc = dwn_url_normalize(argv[1], strlen(argv[1]), uri, sizeof uri)))
    return die(err_set(rc, "'%s' is not a URL the DWN accepts", argv[1]));
  json_t *document = add ? load_json_file(argv[2], DWN_DATA_SCHEMA_DOC_BYTES_MAX, &rc) : NULL;
  if (rc) return die(rc);
  repo_t *r = NULL;
  dwn_data_schemas_t *s = NULL;
  rc = open_repo("anya dwn schema", &r);
  if (!rc) rc = open_registry(r, &s);
  if (!rc && add && !(rc = dwn_data_schema_add(s, uri, document))) printf("schema %s\n", uri);
  if (!rc && rm && !(rc = dwn_data_schema_remove(s, uri))) printf("removed schema %s\n", uri);
  json_t *list = NULL;
  if (!rc && ls && !(rc = dwn_data_schema_list(s, &list))) {
    size_t i;
    json_t *u;
    json_array_foreach(list, i, u) printf("%s\n", json_string_value(u));
  }
  json_decref(list);
  json_decref(document);
  dwn_data_schemas_close(s);
  if (r) rc = close_repo(r, rc);
  return rc ? die(rc) : 0;
}

/* ---- protocol install ------------------------------------------------------ */

static bool file_exists(const char *path) { return access(path, R_OK) == 0; }

/* The packaging/dwn directory holding NAME.json (see the top). */
static int packaging_dir(const char *flag, const char *name, char out[PATH_MAX]) {
  char probe[PATH_MAX + 64];
  const char *env = getenv("ANYA_PACKAGING_DIR");
  if (flag || (env && *env)) {
    snprintf(out, PATH_MAX, "%s", flag ? flag : env);
    return 0;
  }
  char exe[PATH_MAX / 2];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return err_set(-ENOENT, "cannot find the executable's directory; use --packaging DIR");
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (slash) *slash = '\0';
  snprintf(out, PATH_MAX, "%s/../share/anya/dwn", exe);
  snprintf(probe, sizeof probe, "%s/%s.json", out, name);
  if (file_exists(probe)) return 0;
  char up[8 * PACKAGING_UP_MAX] = "";
  for (int level = 0; level <= PACKAGING_UP_MAX; level++) {
    size_t len = strlen(up);
    snprintf(out, PATH_MAX, "%s%s/packaging/dwn", exe, up);
    snprintf(probe, sizeof probe, "%s/%s.json", out, name);
    if (file_exists(probe)) return 0;
    snprintf(up + len, sizeof up - len, "/..");
  }
  return err_set(-ENOENT, "no packaging/dwn/%s.json near %s; use --packaging DIR or $ANYA_PACKAGING_DIR", name, exe);
}

/* The signer of a private JWK file: its did:key and kid "<did>#<multibase key>". */
static int load_signer(const char *path, json_t **jwk_out, char kid[2 * DWN_DID_KID_BYTES_MAX]) {
  int rc = 0;
  json_t *jwk = load_json_file(path, 65536, &rc);
  if (rc) return rc;
  json_t *pub = json_is_object(jwk) && json_object_get(jwk, "d") ? json_deep_copy(jwk) : NULL;
  if (!pub) rc = err_set(-EINVAL, "%s: not a private JWK", path);
  if (!rc) json_object_del(pub, "d");
  buf_t did = {0};
  if (!rc) rc = did_key_from_jwk(pub, &did);
  if (!rc && did.len + 1 > DWN_DID_KID_BYTES_MAX) rc = err_set(-E2BIG, "%s: DID too long", path);
  if (!rc) snprintf(kid, 2 * DWN_DID_KID_BYTES_MAX, "%s#%s", (char *)did.data, (char *)did.data + strlen("did:key:"));
  buf_free(&did);
  json_decref(pub);
  if (rc) json_decref(jwk);
  else *jwk_out = jwk;
  return rc;
}

typedef struct type_schema {
  const char *uri;       /* borrowed from the definition */
  json_t *document;
  jsonschema_t *compiled;
} type_schema_t;

#define PROTOCOL_TYPES_MAX 64

static int dwn_protocol_cmd(int argc, char **argv) {
  if (argc < 1 || strcmp(argv[0], "install") != 0) return usage_error("dwn protocol needs install%s", "");
  opts_t o = {0};
  static const opt_spec_t specs[] = {{"tenant", 0, OPT_VALUE}, {"key", 0, OPT_VALUE}, {"packaging", 0, OPT_VALUE}};
  PARSE(&o, argc - 1, argv + 1, specs);
  const char *tenant = opt_get(&o, "tenant"), *key = opt_get(&o, "key");
  if (o.args_len != 1 || !tenant || !key) return usage_error("usage: anya dwn protocol install NAME --tenant DID --key FILE%s", "");
  const char *name = o.args[0];
  if (!*name || strlen(name) > 64 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(name))
    return usage_error("protocol name '%s' is not [a-z0-9-]+", name);
  char dir[PATH_MAX], path[PATH_MAX + 256];
  int rc = packaging_dir(opt_get(&o, "packaging"), name, dir);
  if (rc) return die(rc);
  snprintf(path, sizeof path, "%s/%s.json", dir, name);
  json_t *definition = load_json_file(path, DEFINITION_BYTES_MAX, &rc);
  if (rc) return die(rc);
  type_schema_t types[PROTOCOL_TYPES_MAX] = {{0}};
  size_t types_len = 0;
  const json_t *type_map = json_object_get(definition, "types");
  if (!json_is_object(type_map)) rc = err_set(-EINVAL, "%s: no types", path);
  const char *type_name;
  json_t *type;
  if (!rc) json_object_foreach((json_t *)type_map, type_name, type) {
      const char *uri = json_string_value(json_object_get(type, "schema"));
      if (!uri) continue;
      if (types_len == PROTOCOL_TYPES_MAX) {
        rc = err_set(-E2BIG, "%s: more than %d types with a schema", path, PROTOCOL_TYPES_MAX);
        break;
      }
      type_schema_t *ts = &types[types_len++];
      ts->uri = uri;
      snprintf(path, sizeof path, "%s/%s.%s.schema.json", dir, name, type_name);
      if (!(ts->document = load_json_file(path, DWN_DATA_SCHEMA_DOC_BYTES_MAX, &rc))) break;
      const char *id = json_string_value(json_object_get(ts->document, "$id"));
      if (id && strcmp(id, uri) != 0) rc = err_set(-EINVAL, "%s: $id %s is not the type's schema %s", path, id, uri);
      if (!rc && (rc = jsonschema_compile(ts->document, &ts->compiled))) rc = err_set(rc, "%s: %s", path, err_msg(rc));
      if (rc) break;
    }
  json_t *signing_key = NULL, *message = NULL;
  char kid[2 * DWN_DID_KID_BYTES_MAX];
  if (!rc) rc = load_signer(key, &signing_key, kid);
  dwn_build_signer_t signer = {.private_jwk = signing_key, .kid = kid};
  if (!rc) rc = dwn_build_protocols_configure(definition, NULL, &signer, &message);
  repo_t *r = NULL;
  dwn_t *d = NULL;
  dwn_reply_t reply = {0};
  if (!rc) rc = open_repo("anya dwn protocol install", &r);
  if (!rc) rc = dwn_open_repo(r, &d);
  if (!rc) rc = dwn_process(d, tenant, message, -1, &reply);
  dwn_close(d);
  dwn_data_schemas_t *registry = NULL;
  if (!rc && reply.code == 202 && types_len) rc = open_registry(r, &registry);
  for (size_t i = 0; !rc && registry && i < types_len; i++) rc = dwn_data_schema_add(registry, types[i].uri, types[i].document);
  dwn_data_schemas_close(registry);
  if (!rc) {
    char *text = json_dumps(reply.body, JSON_COMPACT);
    if (text) printf("%s\n", text);
    free(text);
  }
  dwn_reply_release(&reply);
  if (r) rc = close_repo(r, rc);
  for (size_t i = 0; i < types_len; i++) {
    json_decref(types[i].document);
    jsonschema_free(types[i].compiled);
  }
  json_decref(message);
  json_decref(signing_key);
  json_decref(definition);
  return rc ? die(rc) : 0;
}

int cmd_dwn(int argc, char **argv) {
  if (argc < 1) return usage_error("dwn needs process, key, protocol, schema or tenant%s", "");
  if (strcmp(argv[0], "process") == 0) return dwn_process_cmd(argc - 1, argv + 1);
  if (strcmp(argv[0], "key") == 0) return dwn_key_cmd(argc - 1, argv + 1);
  if (strcmp(argv[0], "protocol") == 0) return dwn_protocol_cmd(argc - 1, argv + 1);
  if (strcmp(argv[0], "schema") == 0) return dwn_schema_cmd(argc - 1, argv + 1);
  if (strcmp(argv[0], "tenant") == 0) return dwn_tenant_cmd(argc - 1, argv + 1);
  return usage_error("unknown dwn command '%s'", argv[0]);
}
