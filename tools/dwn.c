/*
 * dwn: `anya dwn process|key` — the DWN engine (engine/dwn/dwn.h) for
 * operators and tests, over the repository's message store (<repo>/dwn) and
 * block engine.
 *
 *   anya dwn process --tenant DID [--data FILE] [-o DATA_OUT]
 *       reads one message (JSON) on stdin, prints the reply JSON on stdout
 *       (exit 0 whatever the DWN status: the status is in the reply); record
 *       data streamed back by a read goes to DATA_OUT (without -o it is left
 *       out, and the reply says how many bytes there were).
 *   anya dwn key new [--curve Ed25519|secp256k1] -o FILE
 *       a fresh key: the private JWK is written to FILE (mode 0600, refused if
 *       it exists) and its did:key printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "dwn/did.h"
#include "dwn/dwn.h"
#include "dwn/jwk.h"
#include "err.h"

int dwn_open_repo(repo_t *r, dwn_t **out) {
  char dir[REPO_PATH_BYTES_MAX + 8];
  snprintf(dir, sizeof dir, "%s/dwn", r->path);
  dwn_options_t opts = {.dir = dir, .bs = r->bs};
  return dwn_open(&opts, out);
}

static int dwn_process_cmd(int argc, char **argv) {
  opts_t o = {0};
  static const opt_spec_t specs[] = {{"tenant", 0, OPT_VALUE}, {"data", 0, OPT_VALUE}, {"output", 'o', OPT_VALUE}};
  PARSE(&o, argc, argv, specs);
  const char *tenant = opt_get(&o, "tenant");
  if (!tenant) return usage_error("dwn process needs --tenant DID%s", "");
  if (o.args_len) return usage_error("dwn process reads the message on stdin, not '%s'", o.args[0]);
  json_error_t error;
  json_t *message = json_loadf(stdin, JSON_DECODE_INT_AS_REAL, &error);
  if (!message) return die(err_set(-EINVAL, "message on stdin: line %d: %s", error.line, error.text));
  int data_fd = -1;
  const char *data = opt_get(&o, "data");
  if (data && (data_fd = open(data, O_RDONLY | O_CLOEXEC)) < 0) {
    json_decref(message);
    return die(err_set(-errno, "%s: %s", data, strerror(errno)));
  }
  repo_t *r;
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

int cmd_dwn(int argc, char **argv) {
  if (argc < 1) return usage_error("dwn needs process or key%s", "");
  if (strcmp(argv[0], "process") == 0) return dwn_process_cmd(argc - 1, argv + 1);
  if (strcmp(argv[0], "key") == 0) return dwn_key_cmd(argc - 1, argv + 1);
  return usage_error("unknown dwn command '%s'", argv[0]);
}
