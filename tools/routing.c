/*
 * routing: `anya routing provide CID`, `anya routing findprovs CID` (the
 * DHT's provider records) and `anya routing findpeer PEER` (addresses).  Only through a running daemon (the DHT lives in
 * anyad's p2p node): without one they fail saying so.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "err.h"
#include "remote.h"

static const opt_spec_t findprovs_specs[] = {{"num-providers", 'n', OPT_VALUE}};
static const opt_spec_t provide_specs[] = {{"recursive", 'r', OPT_BOOL}};

int cmd_routing(int argc, char **argv) {
  if (argc < 1) return usage_error("routing needs a subcommand: provide or findprovs%s", "");
  const char *sub = argv[0];
  opts_t o = {0};
  if (strcmp(sub, "findpeer") == 0) {
    PARSE(&o, argc - 1, argv + 1, provide_specs);
    if (o.args_len != 1) return usage_error("routing findpeer takes one peer ID%s", "");
    if (!remote_active()) return die(err_set(-ENOTCONN, "routing needs the daemon (anyad) running: the DHT lives there"));
    int frc = remote_routing_findpeer(o.args[0]);
    return frc ? die(frc) : 0;
  }
  if (strcmp(sub, "provide") == 0) {
    PARSE(&o, argc - 1, argv + 1, provide_specs);
    if (opt_true(&o, "recursive")) return usage_error("routing provide: --recursive is not supported%s", "");
  } else if (strcmp(sub, "findprovs") == 0) {
    PARSE(&o, argc - 1, argv + 1, findprovs_specs);
  } else {
    return usage_error("unknown routing subcommand '%s' (provide, findprovs, findpeer)", sub);
  }
  if (o.args_len != 1) return usage_error("routing %s takes one CID", sub);
  cid_t cid;
  int rc = cid_parse(&cid, o.args[0]);
  if (rc) return die(err_set(rc, "invalid CID '%s': %s", o.args[0], err_msg(rc)));
  if (!remote_active()) return die(err_set(-ENOTCONN, "routing needs the daemon (anyad) running: the DHT lives there"));
  if (strcmp(sub, "provide") == 0) rc = remote_routing_provide(o.args[0]);
  else {
    uint64_t max = 20;
    const char *n = opt_get(&o, "num-providers");
    if (n && (parse_u64(n, 1000, &max) || max == 0)) return usage_error("--num-providers: '%s' is not 1..1000", n);
    rc = remote_routing_findprovs(o.args[0], (unsigned)max);
  }
  return rc ? die(rc) : 0;
}
