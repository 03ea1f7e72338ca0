/*
 * config: the key table and everything derived from it (see config.h).  A
 * config_t is an array of values parallel to the table; loading works on a
 * copy that replaces the original only when the whole document was accepted.
 */
#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "toml.h"

#define SIZE_ANY 0, 0
#define MS_DAY 86400000LL

/* The one table.  Sections appear in this order in every generated text. */
static const config_key_t keys[] = {
    {"repo.profile", CONFIG_STRING, "dev", 0, 0, "dev|prod", false,
     "The profile this configuration started from (`anya init --profile`)."},
    {"identity.peer_id", CONFIG_STRING, "", 0, 0, NULL, false,
     "The node's libp2p peer ID, written by `anya init` from `keystore/self` (informational: the key "
     "file is the identity)."},

    {"network.mount", CONFIG_PATH, "/mnt/anya", 0, 0, NULL, false,
     "Where `anyad` mounts the filesystem (`--mount`), or `off`."},
    {"network.dwn", CONFIG_ADDRESS, "127.0.0.1:3000", 0, 0, NULL, false,
     "The DWN JSON-RPC listener (`--dwn`), or `off`."},
    {"network.gateway", CONFIG_ADDRESS, "127.0.0.1:8080", 0, 0, NULL, false,
     "The IPFS HTTP gateway listener (`--gateway`), or `off`."},
    {"network.rpc", CONFIG_ADDRESS, "127.0.0.1:5001", 0, 0, NULL, false,
     "The Kubo RPC listener (`--rpc`), or `off`; off loopback it requires `security.rpc_token`."},
    {"network.p2p", CONFIG_MULTIADDR, "/ip4/127.0.0.1/tcp/4001", 0, 0, NULL, false,
     "The libp2p listen address (`--p2p`), or `off`."},
    {"network.bootstrap_peers", CONFIG_STRINGS, "", 0, 0, NULL, false,
     "Multiaddrs (with `/p2p/<id>`) the DHT bootstraps from."},
    {"network.max_connections", CONFIG_INT, "200", 1, 100000, NULL, false,
     "High watermark of the connection manager: past it the least useful peers are disconnected."},
    {"network.dht_mode", CONFIG_STRING, "auto", 0, 0, "auto|client|server", false,
     "Kademlia mode: `server` answers queries, `client` only asks; `auto` is `server` (anya runs no AutoNAT to test reachability, and an appliance is meant to be reachable)."},
    {"network.upstream_gateways", CONFIG_STRINGS, "", 0, 0, NULL, false,
     "Trustless HTTP gateways asked for blocks missing locally (after Bitswap); every block is verified."},
    {"network.fetch_timeout", CONFIG_DURATION, "60s", 1, 7 * MS_DAY, NULL, false,
     "How long a read waits for missing content from the network before failing."},

    {"storage.max", CONFIG_SIZE, "10GiB", 1 << 20, 0, NULL, false,
     "Space the block store may use (the seed's `local_storage_limit`); automatic GC keeps below it."},
    {"storage.gc_auto", CONFIG_BOOL, "true", 0, 0, NULL, false,
     "Run garbage collection automatically when usage reaches the watermark."},
    {"storage.gc_watermark_percent", CONFIG_INT, "90", 1, 100, NULL, false,
     "Usage, in percent of `storage.max`, at which automatic GC starts."},
    {"storage.gc_interval", CONFIG_DURATION, "1h", 1000, 30 * MS_DAY, NULL, false,
     "How often usage is checked against the watermark."},
    {"storage.compact_dead_percent", CONFIG_INT, "50", 1, 100, NULL, false,
     "A segment whose records are at least this percent dead is compacted (live records copied out)."},
    {"storage.segment_size", CONFIG_SIZE, "1GiB", 1 << 20, 1LL << 40, NULL, false,
     "Size at which the block engine starts a new segment file."},

    {"pinning.pin_on_add", CONFIG_BOOL, "true", 0, 0, NULL, false,
     "`anya add` pins what it adds recursively unless `--pin=false`."},
    {"pinning.verify_interval", CONFIG_DURATION, "24h", 0, 365 * MS_DAY, NULL, false,
     "How often every pinned DAG is verified (present and intact) in the background; `0` never."},
    {"pinning.remote_services", CONFIG_STRINGS, "", 0, 0, NULL, false,
     "Reserved for remote pinning services that pins are replicated to (names of later sections)."},
    {"pinning.policy", CONFIG_TABLES, "", 0, 0, NULL, false,
     "Pin policies, one `[[pinning.policy]]` table each (none by default): rules that pin "
     "automatically, expire pins and keep the last N of a series. The first rule whose `source` "
     "and selectors match decides; the `pinning.policy.*` fields below. `anya pin policy ls` shows "
     "them and the pins each holds."},
    {"pinning.policy.name", CONFIG_STRING, NULL, 0, 0, NULL, false,
     "Required, unique: letters, digits, `-`, `_`, `.`. The policy holds the pins named `<name>/...`."},
    {"pinning.policy.source", CONFIG_STRING, "pin", 0, 0, "pin|add|files|dwn", false,
     "What the rule applies to: `pin`, pins added by hand named `<name>/<label>` (a series, such "
     "as snapshots); `add`, content stored by `anya add`; `files`, files written under "
     "`path_prefix` in the mount's `files/` tree; `dwn`, data of DWN records under `dwn_protocol`."},
    {"pinning.policy.path_prefix", CONFIG_STRING, "", 0, 0, NULL, false,
     "For `source = \"files\"` (required there): a path in the writable tree such as `/backups`."},
    {"pinning.policy.dwn_protocol", CONFIG_STRING, "", 0, 0, NULL, false,
     "For `source = \"dwn\"` (required there): the protocol URI whose records' data is pinned."},
    {"pinning.policy.min_size", CONFIG_SIZE, "0", 0, 0, NULL, false,
     "The rule matches only content of at least this many bytes."},
    {"pinning.policy.max_size", CONFIG_SIZE, "0", 0, 0, NULL, false,
     "The rule matches only content of at most this many bytes; `0` means no limit."},
    {"pinning.policy.pin", CONFIG_BOOL, "true", 0, 0, NULL, false,
     "Whether matching content is pinned (`false` makes a rule that excludes, for example large adds)."},
    {"pinning.policy.expire_after", CONFIG_DURATION, "0", 0, 3650 * MS_DAY, NULL, false,
     "Pins made under the rule expire this long after they are made (unless `--expire-in` says "
     "otherwise); `0` never."},
    {"pinning.policy.keep_last", CONFIG_INT, "0", 0, 1000000, NULL, false,
     "Keep only the newest N pins of the policy, unpinning older ones as new ones come; `0` keeps all."},
    {"pinning.policy.replicate", CONFIG_STRINGS, "", 0, 0, NULL, false,
     "Remote pinning services (names from `pinning.remote_services`) the policy's pins are to be "
     "replicated to. Accepted and shown; replication itself comes with the remote pinning work."},

    {"logging.level", CONFIG_STRING, "info", 0, 0, "error|warn|info|debug|trace", false,
     "Least severe level written."},
    {"logging.format", CONFIG_STRING, "text", 0, 0, "text|json", false,
     "`text` lines for people or `json` objects (one a line) for collectors; both to stderr."},
    {"logging.slow_operation", CONFIG_DURATION, "1s", 0, MS_DAY, NULL, false,
     "Operations slower than this are logged at `warn`; `0` turns this off."},

    {"security.rpc_token", CONFIG_STRING, "", 0, 0, NULL, true,
     "Bearer token the RPC listener requires (always when it is not on loopback). Keep it out of the "
     "file with `\"${ANYA_RPC_TOKEN}\"`."},
    {"security.tls_cert", CONFIG_STRING, "", 0, 0, NULL, false,
     "PEM certificate chain for TLS on the HTTP listeners; empty for plain HTTP."},
    {"security.tls_key", CONFIG_STRING, "", 0, 0, NULL, false,
     "PEM private key file for `security.tls_cert`."},
    {"security.rate_limit", CONFIG_INT, "0", 0, 1000000, NULL, false,
     "Requests per second allowed per client address on the HTTP listeners; `0` unlimited."},

    {"http.threads", CONFIG_INT, "0", 0, 256, NULL, false,
     "Event-loop threads of the HTTP listeners (they parse and move bytes); `0` one per core."},
    {"http.workers", CONFIG_INT, "64", 1, 4096, NULL, false,
     "Threads that run HTTP request handlers, which may wait on the disk; a request waits for a free one."},
    {"http.header_bytes_max", CONFIG_SIZE, "64KiB", 1024, 16 << 20, NULL, false,
     "Largest request line plus headers; a larger request gets `431`."},
    {"http.body_bytes_max", CONFIG_SIZE, "64GiB", 1, 0, NULL, false,
     "Largest request body (uploads such as RPC `add`); a larger one gets `413`."},
    {"http.connections_max", CONFIG_INT, "1024", 1, 1000000, NULL, false,
     "Open connections per HTTP listener; past it a new connection gets `503` and is closed."},
    {"http.idle_timeout", CONFIG_DURATION, "60s", 100, MS_DAY, NULL, false,
     "An idle keep-alive connection, or a body or response that makes no progress, is closed after this."},
    {"http.request_timeout", CONFIG_DURATION, "10s", 100, MS_DAY, NULL, false,
     "A request's headers must arrive within this of its first byte (slow clients get `408`)."},
    {"dwn.max_record_data_size", CONFIG_SIZE, "1GiB", 1, 0, NULL, false,
     "Largest record data a RecordsWrite may carry over HTTP; larger gets `413` (reported in `/info` as `maxFileSize`)."},

    {"monitoring.metrics", CONFIG_BOOL, "true", 0, 0, NULL, false,
     "Serve Prometheus metrics at `/metrics` on the HTTP listeners."},
    {"monitoring.health_interval", CONFIG_DURATION, "30s", 1000, MS_DAY, NULL, false,
     "How often the background health checks behind `/health` run."},
};
#define KEYS_COUNT (sizeof keys / sizeof keys[0])

typedef struct profile_value {
  const char *profile;
  const char *key;
  const char *text;
} profile_value_t;

/* Profiles: dev is the defaults; prod opens the node to the network. */
static const profile_value_t profile_values[] = {
    {"prod", "network.p2p", "/ip4/0.0.0.0/tcp/4001"},
    {"prod", "network.bootstrap_peers",
     "/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN,"
     "/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa"},
    {"prod", "network.max_connections", "400"},
    {"prod", "network.dht_mode", "server"},
    {"prod", "network.upstream_gateways", "https://trustless-gateway.link"},
    {"prod", "storage.max", "500GiB"},
    {"prod", "logging.format", "json"},
    {"prod", "security.rate_limit", "100"},
};
static const char *const profiles[] = {"dev", "prod"};

typedef struct config_item config_item_t;

typedef struct config_value {
  char *text;      /* string-like types: the value; sizes/durations: as written */
  uint64_t number; /* integer (as int64 bits), boolean, size bytes, duration ms */
  char **list;     /* strings */
  size_t list_len;
  config_item_t *items; /* tables: one per [[table]] */
  size_t items_len;
} config_value_t;

/* One table of a CONFIG_TABLES key: its fields, parallel to the field keys. */
struct config_item {
  config_value_t fields[CONFIG_FIELDS_MAX];
  size_t fields_len;
  char *origin; /* "FILE:LINE:COLUMN" of its [[header]] */
};

struct config {
  config_value_t values[KEYS_COUNT];
};

/* ---- the table ------------------------------------------------------------------ */

const config_key_t *config_keys(size_t *count) {
  *count = KEYS_COUNT;
  return keys;
}

/* The CONFIG_TABLES key that keys[i] is a field of, or -1. */
static int parent_of(size_t i) {
  for (size_t t = i; t-- > 0;) {
    if (keys[t].type != CONFIG_TABLES) continue;
    size_t n = strlen(keys[t].name);
    return strncmp(keys[i].name, keys[t].name, n) == 0 && keys[i].name[n] == '.' ? (int)t : -1;
  }
  return -1;
}

/* How many field keys follow the CONFIG_TABLES key t. */
static size_t fields_count(size_t t) {
  size_t n = 0;
  while (t + 1 + n < KEYS_COUNT && parent_of(t + 1 + n) == (int)t) n++;
  assert(n <= CONFIG_FIELDS_MAX);
  return n;
}

static int key_index(const char *name) {
  for (size_t i = 0; i < KEYS_COUNT; i++)
    if (strcmp(keys[i].name, name) == 0) return (int)i;
  return -1;
}

const config_key_t *config_key_find(const char *name) {
  int i = key_index(name);
  return i < 0 ? NULL : &keys[i];
}

static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > CONFIG_NAME_BYTES_MAX * 2 || lb > CONFIG_NAME_BYTES_MAX * 2) return SIZE_MAX;
  size_t row[CONFIG_NAME_BYTES_MAX * 2 + 1];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diagonal = up;
    }
  }
  return row[lb];
}

const char *config_suggest(const char *name) {
  const char *best = NULL;
  size_t best_distance = SIZE_MAX;
  for (size_t i = 0; i < KEYS_COUNT; i++) {
    size_t d = edit_distance(name, keys[i].name);
    if (d < best_distance) best_distance = d, best = keys[i].name;
  }
  if (best && best_distance <= 2) return best; /* a typo */
  /* the same leaf in another section ("network.max" -> "storage.max") */
  const char *leaf = strrchr(name, '.');
  leaf = leaf ? leaf + 1 : name;
  for (size_t i = 0; i < KEYS_COUNT; i++)
    if (strcmp(strrchr(keys[i].name, '.') + 1, leaf) == 0) return keys[i].name;
  return best && best_distance <= strlen(name) / 3 ? best : NULL;
}

const char *config_type_name(config_type_t type) {
  switch (type) {
    case CONFIG_STRING: return "string";
    case CONFIG_INT: return "integer";
    case CONFIG_BOOL: return "boolean";
    case CONFIG_SIZE: return "size";
    case CONFIG_DURATION: return "duration";
    case CONFIG_ADDRESS: return "address";
    case CONFIG_MULTIADDR: return "multiaddr";
    case CONFIG_PATH: return "path";
    case CONFIG_STRINGS: return "strings";
    case CONFIG_TABLES: return "array of tables";
  }
  return "?";
}

static bool is_string_like(config_type_t type) {
  return type == CONFIG_STRING || type == CONFIG_ADDRESS || type == CONFIG_MULTIADDR ||
         type == CONFIG_PATH || type == CONFIG_SIZE || type == CONFIG_DURATION;
}

/* ---- helpers ---------------------------------------------------------------------- */

int config_parse_size(const char *text, uint64_t *bytes) {
  static const struct { const char *unit; uint64_t factor; } units[] = {
      {"", 1}, {"b", 1},
      {"kb", 1000ULL}, {"mb", 1000000ULL}, {"gb", 1000000000ULL}, {"tb", 1000000000000ULL},
      {"pb", 1000000000000000ULL}, {"eb", 1000000000000000000ULL},
      {"kib", 1ULL << 10}, {"mib", 1ULL << 20}, {"gib", 1ULL << 30}, {"tib", 1ULL << 40},
      {"pib", 1ULL << 50}, {"eib", 1ULL << 60},
  };
  const char *c = text;
  if (!isdigit((unsigned char)*c)) return err_set(-EINVAL, "invalid size '%s' (like \"10GiB\")", text);
  uint64_t whole = 0;
  for (; isdigit((unsigned char)*c); c++)
    if (__builtin_mul_overflow(whole, 10, &whole) || __builtin_add_overflow(whole, (uint64_t)(*c - '0'), &whole))
      return err_set(-EINVAL, "size '%s' is too large", text);
  uint64_t fraction = 0, scale = 1;
  if (*c == '.') {
    c++;
    if (!isdigit((unsigned char)*c)) return err_set(-EINVAL, "invalid size '%s' (like \"10GiB\")", text);
    for (; isdigit((unsigned char)*c); c++) {
      if (scale >= 1000000000000000000ULL) return err_set(-EINVAL, "size '%s' has too many decimals", text);
      fraction = fraction * 10 + (uint64_t)(*c - '0');
      scale *= 10;
    }
  }
  if (*c == ' ') c++;
  if (*c == ' ' || (c > text && c[-1] == ' ' && *c == '\0'))
    return err_set(-EINVAL, "invalid size '%s' (like \"10GiB\")", text);
  for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
    if (strcasecmp(c, units[u].unit) != 0) continue;
    if (scale > 1 && units[u].factor == 1)
      return err_set(-EINVAL, "size '%s': a byte count cannot have decimals", text);
    unsigned __int128 total = (unsigned __int128)whole * units[u].factor +
                              (unsigned __int128)fraction * units[u].factor / scale;
    if (total > UINT64_MAX) return err_set(-EINVAL, "size '%s' is too large", text);
    *bytes = (uint64_t)total;
    return 0;
  }
  return err_set(-EINVAL, "size '%s': unknown unit '%s' (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB, ...)", text, c);
}

int config_parse_duration(const char *text, uint64_t *ms) {
  static const struct { const char *unit; uint64_t factor; } units[] = {
      {"d", 86400000ULL}, {"h", 3600000ULL}, {"ms", 1}, {"m", 60000ULL}, {"s", 1000ULL}};
  static const int rank[] = {5, 4, 1, 3, 2}; /* largest first */
  if (strcmp(text, "0") == 0) {
    *ms = 0;
    return 0;
  }
  const char *c = text;
  uint64_t total = 0;
  int last_rank = 6;
  if (!*c) return err_set(-EINVAL, "empty duration (like \"30s\", \"1h30m\")");
  while (*c) {
    if (!isdigit((unsigned char)*c))
      return err_set(-EINVAL, "invalid duration '%s' (like \"30s\", \"1h30m\", \"250ms\")", text);
    uint64_t n = 0;
    for (; isdigit((unsigned char)*c); c++)
      if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, (uint64_t)(*c - '0'), &n))
        return err_set(-EINVAL, "duration '%s' is too long", text);
    size_t u = 0;
    for (; u < sizeof units / sizeof units[0]; u++) {
      size_t len = strlen(units[u].unit);
      if (strncmp(c, units[u].unit, len) == 0 && !isalpha((unsigned char)c[len])) break;
    }
    if (u == sizeof units / sizeof units[0])
      return err_set(-EINVAL, "duration '%s': unit missing or unknown (ms, s, m, h, d)", text);
    if (rank[u] >= last_rank)
      return err_set(-EINVAL, "duration '%s': units must go from the largest down, each once", text);
    last_rank = rank[u];
    c += strlen(units[u].unit);
    uint64_t part;
    if (__builtin_mul_overflow(n, units[u].factor, &part) || __builtin_add_overflow(total, part, &total))
      return err_set(-EINVAL, "duration '%s' is too long", text);
  }
  *ms = total;
  return 0;
}

void config_format_duration(uint64_t ms, char out[CONFIG_DURATION_TEXT_BYTES]) {
  static const struct { const char *unit; uint64_t ms; } units[] = {
      {"d", 86400000ULL}, {"h", 3600000ULL}, {"m", 60000ULL}, {"s", 1000ULL}, {"ms", 1}};
  size_t used = 0;
  out[0] = '\0';
  if (ms == 0) {
    snprintf(out, CONFIG_DURATION_TEXT_BYTES, "0");
    return;
  }
  for (size_t i = 0; i < sizeof units / sizeof units[0] && ms; i++) {
    if (ms < units[i].ms) continue;
    int n = snprintf(out + used, CONFIG_DURATION_TEXT_BYTES - used, "%llu%s", (unsigned long long)(ms / units[i].ms),
                     units[i].unit);
    if (n > 0) used += (size_t)n;
    ms %= units[i].ms;
  }
}

int config_expand_env(const char *in, buf_t *out) {
  for (const char *c = in; *c;) {
    if (c[0] == '$' && c[1] == '$') {
      if (buf_append_byte(out, '$')) return -ENOMEM;
      c += 2;
      continue;
    }
    if (c[0] == '$' && c[1] == '{') {
      const char *name = c + 2, *end = strchr(name, '}');
      if (!end) return err_set(-EINVAL, "unterminated '${' in \"%s\"", in);
      size_t n = (size_t)(end - name);
      bool valid = n > 0 && n < 256 && (isalpha((unsigned char)name[0]) || name[0] == '_');
      for (size_t i = 0; valid && i < n; i++)
        valid = isalnum((unsigned char)name[i]) || name[i] == '_';
      if (!valid) return err_set(-EINVAL, "invalid variable name '${%.*s}'", (int)(n > 64 ? 64 : n), name);
      char var[256];
      memcpy(var, name, n);
      var[n] = '\0';
      const char *value = getenv(var);
      if (!value) return err_set(-EINVAL, "environment variable %s is not set", var);
      if (buf_append(out, value, strlen(value))) return -ENOMEM;
      c = end + 1;
      continue;
    }
    if (buf_append_byte(out, (uint8_t)*c)) return -ENOMEM;
    c++;
  }
  return buf_cstr(out) ? 0 : -ENOMEM;
}

/* ---- values ----------------------------------------------------------------------- */

static void value_clear(config_value_t *v) {
  free(v->text);
  for (size_t i = 0; i < v->list_len; i++) free(v->list[i]);
  free(v->list);
  for (size_t i = 0; i < v->items_len; i++) {
    for (size_t f = 0; f < v->items[i].fields_len; f++) value_clear(&v->items[i].fields[f]);
    free(v->items[i].origin);
  }
  free(v->items);
  memset(v, 0, sizeof *v);
}

static bool valid_address(const char *s) {
  if (strcmp(s, "off") == 0) return true;
  const char *colon = strrchr(s, ':');
  if (!colon || colon == s) return false;
  if (s[0] == '[' && colon[-1] != ']') return false;
  if (s[0] != '[' && memchr(s, ':', (size_t)(colon - s))) return false; /* bare IPv6 */
  for (const char *h = s; h < colon; h++)
    if (!(isalnum((unsigned char)*h) || strchr(".-_[]:", *h))) return false;
  char *end;
  errno = 0;
  long port = strtol(colon + 1, &end, 10);
  return isdigit((unsigned char)colon[1]) && *end == '\0' && errno == 0 && port >= 1 && port <= 65535;
}

static bool in_choices(const char *choices, const char *s) {
  size_t n = strlen(s);
  for (const char *c = choices; c;) {
    const char *bar = strchr(c, '|');
    size_t len = bar ? (size_t)(bar - c) : strlen(c);
    if (len == n && memcmp(c, s, n) == 0) return true;
    c = bar ? bar + 1 : NULL;
  }
  return false;
}

/* Parses a scalar (everything but strings) from text into v.  No location in
 * the message: the caller adds it. */
static int parse_scalar(const config_key_t *k, const char *text, config_value_t *v) {
  uint64_t number = 0;
  switch (k->type) {
    case CONFIG_STRING:
      if (k->choices && !in_choices(k->choices, text))
        return err_set(-EINVAL, "'%s' is not one of %s", text, k->choices);
      break;
    case CONFIG_ADDRESS:
      if (!valid_address(text)) return err_set(-EINVAL, "'%s' is not HOST:PORT or off", text);
      break;
    case CONFIG_MULTIADDR:
      if (strcmp(text, "off") != 0 && text[0] != '/')
        return err_set(-EINVAL, "'%s' is not a multiaddr (/ip4/.../tcp/N) or off", text);
      break;
    case CONFIG_PATH:
      if (strcmp(text, "off") != 0 && text[0] != '/')
        return err_set(-EINVAL, "'%s' is not an absolute path or off", text);
      break;
    case CONFIG_INT: {
      char *end;
      errno = 0;
      long long n = strtoll(text, &end, 10);
      if (!*text || *end || errno || isspace((unsigned char)text[0]))
        return err_set(-EINVAL, "'%s' is not an integer", text);
      if (n < k->min || n > k->max)
        return err_set(-EINVAL, "%lld is out of range [%lld, %lld]", n, (long long)k->min, (long long)k->max);
      number = (uint64_t)n;
      break;
    }
    case CONFIG_BOOL:
      if (strcmp(text, "true") == 0) number = 1;
      else if (strcmp(text, "false") != 0) return err_set(-EINVAL, "'%s' is not true or false", text);
      break;
    case CONFIG_SIZE:
    case CONFIG_DURATION: {
      int rc = k->type == CONFIG_SIZE ? config_parse_size(text, &number) : config_parse_duration(text, &number);
      if (rc) return rc;
      const char *unit = k->type == CONFIG_SIZE ? " bytes" : " ms";
      if (number < (uint64_t)k->min)
        return err_set(-EINVAL, "'%s' is below the minimum of %lld%s", text, (long long)k->min, unit);
      if (k->max > 0 && number > (uint64_t)k->max)
        return err_set(-EINVAL, "'%s' is above the maximum of %lld%s", text, (long long)k->max, unit);
      break;
    }
    case CONFIG_STRINGS:
    case CONFIG_TABLES:
      assert(0);
  }
  if (is_string_like(k->type) && !(v->text = strdup(text))) return -ENOMEM;
  v->number = number;
  return 0;
}

static int list_push(config_value_t *v, const char *s, size_t n) {
  char **list = realloc(v->list, (v->list_len + 1) * sizeof *list);
  if (!list) return -ENOMEM;
  v->list = list;
  if (!(list[v->list_len] = strndup(s, n))) return -ENOMEM;
  v->list_len++;
  return 0;
}

/* Text syntax for any type (string arrays: comma-separated). */
static int parse_text(const config_key_t *k, const char *text, config_value_t *v) {
  if (k->type == CONFIG_TABLES) {
    if (*text) return err_set(-EINVAL, "[[%s]] tables can only be written in the config file", k->name);
    return 0;
  }
  if (k->type != CONFIG_STRINGS) return parse_scalar(k, text, v);
  for (const char *c = text; *c;) {
    while (*c == ' ') c++;
    const char *comma = strchr(c, ',');
    size_t n = comma ? (size_t)(comma - c) : strlen(c);
    while (n && c[n - 1] == ' ') n--;
    if (n == 0) return err_set(-EINVAL, "empty item in list '%s'", text);
    int rc = list_push(v, c, n);
    if (rc) return rc;
    if (!comma) break;
    c = comma + 1;
  }
  return 0;
}

/* ---- config_t --------------------------------------------------------------------- */

static int set_index(config_t *cfg, size_t i, const char *text) {
  config_value_t v = {0};
  int rc = parse_text(&keys[i], text, &v);
  if (rc) {
    value_clear(&v);
    return rc;
  }
  value_clear(&cfg->values[i]);
  cfg->values[i] = v;
  return 0;
}

int config_new(config_t **out) {
  config_t *cfg = calloc(1, sizeof *cfg);
  if (!cfg) return -ENOMEM;
  for (size_t i = 0; i < KEYS_COUNT; i++) {
    if (parent_of(i) >= 0) continue; /* fields live in the tables' items */
    int rc = set_index(cfg, i, keys[i].default_text);
    assert(rc != -EINVAL); /* the table's defaults are valid */
    if (rc) {
      config_free(cfg);
      return rc;
    }
  }
  *out = cfg;
  return 0;
}

void config_free(config_t *cfg) {
  if (!cfg) return;
  for (size_t i = 0; i < KEYS_COUNT; i++) value_clear(&cfg->values[i]);
  free(cfg);
}

static int value_copy(const config_value_t *a, config_value_t *b) {
  b->number = a->number;
  if (a->text && !(b->text = strdup(a->text))) return -ENOMEM;
  for (size_t j = 0; j < a->list_len; j++)
    if (list_push(b, a->list[j], strlen(a->list[j]))) return -ENOMEM;
  if (a->items_len && !(b->items = calloc(a->items_len, sizeof *b->items))) return -ENOMEM;
  for (size_t j = 0; j < a->items_len; j++) {
    b->items_len++;
    b->items[j].fields_len = a->items[j].fields_len;
    for (size_t f = 0; f < a->items[j].fields_len; f++)
      if (value_copy(&a->items[j].fields[f], &b->items[j].fields[f])) return -ENOMEM;
    if (a->items[j].origin && !(b->items[j].origin = strdup(a->items[j].origin))) return -ENOMEM;
  }
  return 0;
}

static int config_copy(const config_t *from, config_t **out) {
  config_t *cfg = calloc(1, sizeof *cfg);
  if (!cfg) return -ENOMEM;
  for (size_t i = 0; i < KEYS_COUNT; i++) {
    int rc = value_copy(&from->values[i], &cfg->values[i]);
    if (rc) {
      config_free(cfg);
      return rc;
    }
  }
  *out = cfg;
  return 0;
}

/* Moves `from`'s values into cfg and frees `from`. */
static void config_replace(config_t *cfg, config_t *from) {
  for (size_t i = 0; i < KEYS_COUNT; i++) {
    value_clear(&cfg->values[i]);
    cfg->values[i] = from->values[i];
  }
  free(from);
}

int config_apply_profile(config_t *cfg, const char *profile) {
  bool known = false;
  for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++) known |= strcmp(profile, profiles[i]) == 0;
  if (!known) return err_set(-EINVAL, "unknown profile '%s' (dev or prod)", profile);
  config_t *next;
  int rc = config_copy(cfg, &next);
  if (rc) return rc;
  rc = set_index(next, (size_t)key_index("repo.profile"), profile);
  for (size_t i = 0; !rc && i < sizeof profile_values / sizeof profile_values[0]; i++)
    if (strcmp(profile_values[i].profile, profile) == 0)
      rc = set_index(next, (size_t)key_index(profile_values[i].key), profile_values[i].text);
  if (rc) {
    config_free(next);
    return rc;
  }
  config_replace(cfg, next);
  return 0;
}

int config_set(config_t *cfg, const char *key, const char *value) {
  int i = key_index(key);
  if (i >= 0 && parent_of((size_t)i) >= 0)
    return err_set(-EINVAL, "%s is a field of [[%s]] tables: set it in the config file", key,
                   keys[parent_of((size_t)i)].name);
  if (i < 0) {
    const char *near = config_suggest(key);
    if (near) return err_set(-EINVAL, "unknown configuration key '%s' (did you mean '%s'?)", key, near);
    return err_set(-EINVAL, "unknown configuration key '%s'", key);
  }
  int rc = set_index(cfg, (size_t)i, value);
  if (rc == -EINVAL) {
    char why[ERR_MSG_BYTES_MAX];
    snprintf(why, sizeof why, "%s", err_msg(rc));
    return err_set(rc, "%s: %s", key, why);
  }
  return rc;
}

/* ---- loading a document ------------------------------------------------------------ */

typedef struct loader {
  config_t *cfg;
  const char *name;
} loader_t;

static int located(const loader_t *l, const toml_value_t *at, const char *key, int rc) {
  char why[ERR_MSG_BYTES_MAX];
  snprintf(why, sizeof why, "%s", err_msg(rc));
  return err_set(rc, "%s:%u:%u: %s: %s", l->name, at->line, at->column, key, why);
}

static int expand(const loader_t *l, const toml_value_t *v, const char *key, buf_t *out) {
  if (strlen(v->string) != v->string_len)
    return located(l, v, key, err_set(-EINVAL, "contains U+0000"));
  int rc = config_expand_env(v->string, out);
  return rc ? located(l, v, key, rc) : 0;
}

static int load_tables(const loader_t *l, size_t t, const toml_value_t *v, const char *key);

static int load_value(const loader_t *l, size_t i, const toml_value_t *v, const char *key, config_value_t *dst) {
  const config_key_t *k = &keys[i];
  if (k->type == CONFIG_TABLES) return load_tables(l, i, v, key);
  config_value_t value = {0};
  buf_t text = {0};
  int rc = 0;
  if (k->type == CONFIG_SIZE && v->type == TOML_INTEGER) {
    if (v->integer < 0) rc = located(l, v, key, err_set(-EINVAL, "a size cannot be negative"));
    else if (buf_printf(&text, "%lld", (long long)v->integer) || !buf_cstr(&text)) rc = -ENOMEM;
    if (!rc && (rc = parse_scalar(k, (char *)text.data, &value))) rc = located(l, v, key, rc);
  } else if (is_string_like(k->type)) {
    if (v->type != TOML_STRING)
      rc = located(l, v, key, err_set(-EINVAL, "expected a %s (a quoted string), got a %s",
                                      config_type_name(k->type), toml_type_name(v->type)));
    if (!rc) rc = expand(l, v, key, &text);
    if (!rc && (rc = parse_scalar(k, (char *)text.data, &value))) rc = located(l, v, key, rc);
  } else if (k->type == CONFIG_INT || k->type == CONFIG_BOOL) {
    toml_type_t want = k->type == CONFIG_INT ? TOML_INTEGER : TOML_BOOL;
    if (v->type != want) {
      rc = located(l, v, key, err_set(-EINVAL, "expected a%s %s, got a %s", k->type == CONFIG_INT ? "n" : "",
                                      toml_type_name(want), toml_type_name(v->type)));
    } else if (k->type == CONFIG_INT && (v->integer < k->min || v->integer > k->max)) {
      rc = located(l, v, key, err_set(-EINVAL, "%lld is out of range [%lld, %lld]", (long long)v->integer,
                                      (long long)k->min, (long long)k->max));
    } else {
      value.number = k->type == CONFIG_INT ? (uint64_t)v->integer : (uint64_t)v->boolean;
    }
  } else { /* CONFIG_STRINGS */
    if (v->type != TOML_ARRAY)
      rc = located(l, v, key, err_set(-EINVAL, "expected an array of strings, got a %s", toml_type_name(v->type)));
    for (size_t j = 0; !rc && j < v->len; j++) {
      const toml_value_t *item = v->items[j];
      if (item->type != TOML_STRING) {
        rc = located(l, item, key, err_set(-EINVAL, "expected an array of strings, found a %s", toml_type_name(item->type)));
        break;
      }
      buf_reset(&text);
      if (!(rc = expand(l, item, key, &text))) rc = list_push(&value, (char *)text.data, text.len);
    }
  }
  buf_free(&text);
  if (rc) {
    value_clear(&value);
    return rc;
  }
  value_clear(dst);
  *dst = value;
  return 0;
}

static int unknown_key(const loader_t *l, const toml_value_t *v, const char *name) {
  const char *near = config_suggest(name);
  if (near)
    return err_set(-EINVAL, "%s:%u:%u: unknown key '%s' (did you mean '%s'?)", l->name, v->key_line, v->key_column,
                   name, near);
  return err_set(-EINVAL, "%s:%u:%u: unknown key '%s'", l->name, v->key_line, v->key_column, name);
}

/* One table of the array: defaults first, then its entries, then the required fields. */
static int load_item(const loader_t *l, size_t t, const toml_value_t *table, const char *key, config_item_t *item) {
  size_t n = fields_count(t);
  item->fields_len = n;
  char origin[ERR_MSG_BYTES_MAX];
  snprintf(origin, sizeof origin, "%s:%u:%u", l->name, table->line, table->column);
  if (!(item->origin = strdup(origin))) return -ENOMEM;
  for (size_t f = 0; f < n; f++)
    if (keys[t + 1 + f].default_text) {
      int rc = parse_text(&keys[t + 1 + f], keys[t + 1 + f].default_text, &item->fields[f]);
      if (rc) return rc;
    }
  bool seen[CONFIG_FIELDS_MAX] = {false};
  for (size_t e = 0; e < table->len; e++) {
    const toml_value_t *v = table->items[e];
    char name[CONFIG_NAME_BYTES_MAX * 2];
    snprintf(name, sizeof name, "%s.%s", key, v->key);
    int i = key_index(name);
    if (i < 0 || parent_of((size_t)i) != (int)t || keys[i].type == CONFIG_TABLES) return unknown_key(l, v, name);
    int rc = load_value(l, (size_t)i, v, name, &item->fields[(size_t)i - t - 1]);
    if (rc) return rc;
    seen[(size_t)i - t - 1] = true;
  }
  for (size_t f = 0; f < n; f++)
    if (!keys[t + 1 + f].default_text && !seen[f])
      return err_set(-EINVAL, "%s: [[%s]] without the required key '%s'", origin, key,
                     keys[t + 1 + f].name + strlen(key) + 1);
  return 0;
}

static int load_tables(const loader_t *l, size_t t, const toml_value_t *v, const char *key) {
  if (v->type != TOML_ARRAY)
    return located(l, v, key, err_set(-EINVAL, "expected [[%s]] tables, got a %s", key, toml_type_name(v->type)));
  if (v->len > CONFIG_TABLES_MAX)
    return located(l, v, key, err_set(-E2BIG, "more than %d tables", CONFIG_TABLES_MAX));
  config_value_t value = {0};
  int rc = 0;
  if (v->len && !(value.items = calloc(v->len, sizeof *value.items))) rc = -ENOMEM;
  for (size_t j = 0; !rc && j < v->len; j++) {
    if (v->items[j]->type != TOML_TABLE) {
      rc = located(l, v->items[j], key, err_set(-EINVAL, "expected a table, got a %s", toml_type_name(v->items[j]->type)));
      break;
    }
    value.items_len++;
    rc = load_item(l, t, v->items[j], key, &value.items[j]);
  }
  if (rc) {
    value_clear(&value);
    return rc;
  }
  value_clear(&l->cfg->values[t]);
  l->cfg->values[t] = value;
  return 0;
}

static bool is_section(const char *path) {
  size_t n = strlen(path);
  for (size_t i = 0; i < KEYS_COUNT; i++)
    if (strncmp(keys[i].name, path, n) == 0 && keys[i].name[n] == '.') return true;
  return false;
}

static int load_table(const loader_t *l, const toml_value_t *table, const char *prefix) {
  for (size_t e = 0; e < table->len; e++) {
    const toml_value_t *v = table->items[e];
    buf_t path = {0};
    int rc = 0;
    if (*prefix && (buf_append(&path, prefix, strlen(prefix)) || buf_append_byte(&path, '.'))) rc = -ENOMEM;
    if (!rc && toml_write_key(&path, v->key)) rc = -ENOMEM;
    char *name = rc ? NULL : buf_cstr(&path);
    if (!rc && !name) rc = -ENOMEM;
    int i = rc ? -1 : key_index(name);
    if (i >= 0 && parent_of((size_t)i) >= 0) i = -1; /* a field only exists inside its tables */
    if (rc) {
    } else if (i >= 0) {
      rc = load_value(l, (size_t)i, v, name, &l->cfg->values[i]);
    } else if (v->type == TOML_TABLE && (is_section(name) || v->len > 0)) {
      /* a section, or an unknown table: its first key is reported, by full name */
      rc = load_table(l, v, name);
    } else {
      rc = unknown_key(l, v, name);
    }
    buf_free(&path);
    if (rc) return rc;
  }
  return 0;
}

int config_load_text(config_t *cfg, const char *text, size_t len, const char *name) {
  if (!name) name = "<config>";
  toml_value_t *root;
  int rc = toml_parse(text, len, name, &root);
  if (rc) return rc;
  config_t *next;
  rc = config_copy(cfg, &next);
  if (!rc) {
    loader_t l = {next, name};
    rc = load_table(&l, root, "");
    if (rc) config_free(next);
    else config_replace(cfg, next);
  }
  toml_free(root);
  return rc;
}

int config_load_file(config_t *cfg, const char *path) {
  toml_value_t *root;
  int rc = toml_parse_file(path, &root);
  if (rc) return rc;
  config_t *next;
  rc = config_copy(cfg, &next);
  if (!rc) {
    loader_t l = {next, path};
    rc = load_table(&l, root, "");
    if (rc) config_free(next);
    else config_replace(cfg, next);
  }
  toml_free(root);
  return rc;
}

/* ---- getters ---------------------------------------------------------------------- */

static const config_value_t *get(const config_t *cfg, const char *key, bool (*type_ok)(config_type_t)) {
  int i = key_index(key);
  assert(i >= 0 && type_ok(keys[i].type));
  if (i < 0 || !type_ok(keys[i].type)) abort();
  return &cfg->values[i];
}

static bool type_int(config_type_t t) { return t == CONFIG_INT; }
static bool type_bool(config_type_t t) { return t == CONFIG_BOOL; }
static bool type_size(config_type_t t) { return t == CONFIG_SIZE; }
static bool type_duration(config_type_t t) { return t == CONFIG_DURATION; }
static bool type_strings(config_type_t t) { return t == CONFIG_STRINGS; }

const char *config_string(const config_t *cfg, const char *key) { return get(cfg, key, is_string_like)->text; }
int64_t config_int(const config_t *cfg, const char *key) { return (int64_t)get(cfg, key, type_int)->number; }
bool config_bool(const config_t *cfg, const char *key) { return get(cfg, key, type_bool)->number != 0; }
uint64_t config_size(const config_t *cfg, const char *key) { return get(cfg, key, type_size)->number; }
uint64_t config_duration_ms(const config_t *cfg, const char *key) { return get(cfg, key, type_duration)->number; }

size_t config_strings(const config_t *cfg, const char *key, const char *const **out) {
  const config_value_t *v = get(cfg, key, type_strings);
  *out = (const char *const *)v->list;
  return v->list_len;
}

static bool type_tables(config_type_t t) { return t == CONFIG_TABLES; }

size_t config_tables(const config_t *cfg, const char *key) { return get(cfg, key, type_tables)->items_len; }

const char *config_table_origin(const config_t *cfg, const char *key, size_t index) {
  const config_value_t *v = get(cfg, key, type_tables);
  assert(index < v->items_len);
  return v->items[index].origin;
}

static const config_value_t *get_field(const config_t *cfg, const char *key, size_t index, const char *field,
                                       bool (*type_ok)(config_type_t)) {
  int t = key_index(key);
  char name[CONFIG_NAME_BYTES_MAX * 2];
  snprintf(name, sizeof name, "%s.%s", key, field);
  int i = key_index(name);
  if (t < 0 || i < 0 || parent_of((size_t)i) != t || !type_ok(keys[i].type) ||
      index >= cfg->values[t].items_len)
    abort(); /* a programming error, not input */
  return &cfg->values[t].items[index].fields[i - t - 1];
}

const char *config_field_string(const config_t *cfg, const char *key, size_t index, const char *field) {
  return get_field(cfg, key, index, field, is_string_like)->text;
}
int64_t config_field_int(const config_t *cfg, const char *key, size_t index, const char *field) {
  return (int64_t)get_field(cfg, key, index, field, type_int)->number;
}
bool config_field_bool(const config_t *cfg, const char *key, size_t index, const char *field) {
  return get_field(cfg, key, index, field, type_bool)->number != 0;
}
uint64_t config_field_size(const config_t *cfg, const char *key, size_t index, const char *field) {
  return get_field(cfg, key, index, field, type_size)->number;
}
uint64_t config_field_duration_ms(const config_t *cfg, const char *key, size_t index, const char *field) {
  return get_field(cfg, key, index, field, type_duration)->number;
}
size_t config_field_strings(const config_t *cfg, const char *key, size_t index, const char *field,
                            const char *const **out) {
  const config_value_t *v = get_field(cfg, key, index, field, type_strings);
  *out = (const char *const *)v->list;
  return v->list_len;
}

/* ---- writing ---------------------------------------------------------------------- */

/* A string as TOML, with "$" doubled so that loading it back does not expand anything. */
static int write_config_string(buf_t *out, const char *s) {
  buf_t escaped = {0};
  int rc = 0;
  for (const char *c = s; *c && !rc; c++) rc = *c == '$' ? buf_append(&escaped, "$$", 2) : buf_append_byte(&escaped, (uint8_t)*c);
  if (!rc) rc = toml_write_string(out, escaped.len ? (char *)escaped.data : "", escaped.len);
  buf_free(&escaped);
  return rc;
}

static int write_value(buf_t *out, const config_key_t *k, const config_value_t *v, bool mask) {
  switch (k->type) {
    case CONFIG_INT: return buf_printf(out, "%lld", (long long)(int64_t)v->number);
    case CONFIG_BOOL: return buf_printf(out, "%s", v->number ? "true" : "false");
    case CONFIG_STRINGS: {
      int rc = buf_append_byte(out, '[');
      for (size_t j = 0; !rc && j < v->list_len; j++) {
        if (j) rc = buf_append(out, ", ", 2);
        if (!rc) rc = write_config_string(out, v->list[j]);
      }
      return rc ? rc : buf_append_byte(out, ']');
    }
    default:
      if (mask && k->secret && v->text[0]) return toml_write_string(out, CONFIG_SECRET_MASK, strlen(CONFIG_SECRET_MASK));
      return write_config_string(out, v->text);
  }
}

static size_t section_len(const char *name) { return (size_t)(strchr(name, '.') - name); }

/* The [[tables]] of key t, after the plain keys of its section (TOML needs
 * them there): each field that differs from its default, and the required ones. */
static int write_tables(const config_t *cfg, size_t t, buf_t *out, bool comments, bool mask) {
  const config_value_t *v = &cfg->values[t];
  int rc = 0;
  if (comments)
    rc = buf_printf(out, "\n# [[%s]] tables (none by default): see docs/configuration.md\n", keys[t].name);
  size_t n = fields_count(t);
  for (size_t j = 0; j < v->items_len && !rc; j++) {
    rc = buf_printf(out, "\n[[%s]]\n", keys[t].name);
    for (size_t f = 0; f < n && !rc; f++) {
      const config_key_t *k = &keys[t + 1 + f];
      buf_t now = {0}, dflt = {0};
      config_value_t d = {0};
      rc = write_value(&now, k, &v->items[j].fields[f], mask);
      if (!rc && k->default_text) rc = parse_text(k, k->default_text, &d);
      if (!rc && k->default_text) rc = write_value(&dflt, k, &d, mask);
      bool same = k->default_text && now.len == dflt.len && memcmp(now.data, dflt.data, now.len) == 0;
      if (!rc && !same) rc = buf_printf(out, "%s = %.*s\n", k->name + strlen(keys[t].name) + 1, (int)now.len, (char *)now.data);
      value_clear(&d);
      buf_free(&now);
      buf_free(&dflt);
    }
  }
  return rc;
}

int config_write_toml(const config_t *cfg, buf_t *out, bool comments, bool mask_secrets) {
  int rc = 0;
  const char *section = NULL;
  size_t section_n = 0;
  size_t pending[KEYS_COUNT]; /* CONFIG_TABLES keys of the current section */
  size_t pending_len = 0;
  for (size_t i = 0; i <= KEYS_COUNT && !rc; i++) {
    const config_key_t *k = i < KEYS_COUNT ? &keys[i] : NULL;
    if (k && parent_of(i) >= 0) continue;
    if (k && strcmp(k->name, "identity.peer_id") == 0 && !cfg->values[i].text[0]) continue;
    size_t n = k ? section_len(k->name) : 0;
    if (!k || !section || n != section_n || strncmp(section, k->name, n) != 0) {
      for (size_t p = 0; p < pending_len && !rc; p++) rc = write_tables(cfg, pending[p], out, comments, mask_secrets);
      pending_len = 0;
      if (!k) break;
      if (!rc) rc = buf_printf(out, "%s[%.*s]\n", section ? "\n" : "", (int)n, k->name);
      section = k->name;
      section_n = n;
    }
    if (k->type == CONFIG_TABLES) {
      pending[pending_len++] = i;
      continue;
    }
    if (!rc && comments) rc = buf_printf(out, "# %s\n", k->doc);
    if (!rc) rc = buf_printf(out, "%s = ", k->name + n + 1);
    if (!rc) rc = write_value(out, k, &cfg->values[i], mask_secrets);
    if (!rc) rc = buf_append_byte(out, '\n');
  }
  return rc;
}

static int write_commented(buf_t *out, config_t *cfg, const char *title) {
  int rc = buf_printf(out,
                      "# %s\n"
                      "# Every key is listed with its description; docs/configuration.md has the syntax\n"
                      "# of sizes, durations and ${ENV_VAR} references.\n\n",
                      title);
  if (!rc) rc = config_write_toml(cfg, out, true, false);
  return rc;
}

int config_write_defaults(buf_t *out) {
  config_t *cfg;
  int rc = config_new(&cfg);
  if (rc) return rc;
  rc = write_commented(out, cfg, "Anya configuration: the embedded defaults.");
  config_free(cfg);
  return rc;
}

int config_write_profile(buf_t *out, const char *profile, const char *peer_id) {
  config_t *cfg;
  int rc = config_new(&cfg);
  if (rc) return rc;
  rc = config_apply_profile(cfg, profile);
  if (!rc && peer_id) rc = set_index(cfg, (size_t)key_index("identity.peer_id"), peer_id);
  char title[128];
  snprintf(title, sizeof title, "Anya configuration: the %s profile (anya init --profile %s).", profile, profile);
  if (!rc) rc = write_commented(out, cfg, title);
  config_free(cfg);
  return rc;
}

/* A default for the docs: the TOML text of the value. */
static int write_default_cell(buf_t *out, const config_key_t *k, const char *text) {
  config_value_t v = {0};
  int rc = parse_text(k, text, &v);
  if (!rc) rc = buf_append_byte(out, '`');
  if (!rc) rc = write_value(out, k, &v, false);
  if (!rc) rc = buf_append_byte(out, '`');
  value_clear(&v);
  return rc;
}

static const char *prod_text(const char *key) {
  for (size_t i = 0; i < sizeof profile_values / sizeof profile_values[0]; i++)
    if (strcmp(profile_values[i].profile, "prod") == 0 && strcmp(profile_values[i].key, key) == 0)
      return profile_values[i].text;
  return NULL;
}

int config_write_docs(buf_t *out) {
  int rc = buf_printf(
      out,
      "# Configuration\n"
      "\n"
      "<!-- Generated by config_write_docs() from the key table in engine/config.c\n"
      "     (`anya config docs`); a unit test fails when this file differs. -->\n"
      "\n"
      "Anya reads one TOML file: `<repo>/config.toml` for the `anya` tool, `/etc/anya/anya.toml`\n"
      "or `--config FILE` for `anyad`. Values are layered: the embedded defaults, then the file,\n"
      "then command-line flags (`--dwn`, `--gateway`, `--rpc`, `--p2p`, `--mount`). `anya init\n"
      "--profile dev|prod` writes a complete file from a profile (the same text as\n"
      "`packaging/anya-dev.toml` and `packaging/anya-prod.toml`). `anya config show` prints the\n"
      "effective configuration with secrets masked as `%s`; `anya config show --defaults`\n"
      "prints the embedded defaults.\n"
      "\n"
      "The parser is strict TOML 1.0 (engine/toml.h): an error names `file:line:column` and the\n"
      "key. Only the keys below are accepted; an unknown key is an error that suggests the\n"
      "nearest known one.\n"
      "\n"
      "## Value syntax\n"
      "\n"
      "| type | syntax |\n"
      "|---|---|\n"
      "| string | a TOML string; where choices are listed, one of them |\n"
      "| integer | a TOML integer within the key's range |\n"
      "| boolean | `true` or `false` |\n"
      "| size | `\"10GiB\"`, `\"512 MiB\"`, `\"100GB\"`, `\"1.5TB\"`, or bytes (`\"4096\"` or `4096`); "
      "units `B`, `kB`, `MB`, `GB`, `TB`, `PB`, `EB` (powers of 1000) and `KiB`, `MiB`, `GiB`, `TiB`, "
      "`PiB`, `EiB` (powers of 1024), case-insensitive |\n"
      "| duration | `\"250ms\"`, `\"30s\"`, `\"5m\"`, `\"48h\"`, `\"7d\"`, `\"1h30m\"` (largest unit first, each "
      "once), or `\"0\"` |\n"
      "| address | `\"HOST:PORT\"`, `\"[IPv6]:PORT\"`, or `\"off\"` |\n"
      "| multiaddr | a multiaddr such as `\"/ip4/127.0.0.1/tcp/4001\"`, or `\"off\"` |\n"
      "| path | an absolute path, or `\"off\"` |\n"
      "| strings | an array of strings (on the command line: comma-separated) |\n"
      "\n"
      "Every string value, including the items of string arrays, may refer to the environment:\n"
      "`\"${ANYA_RPC_TOKEN}\"` is replaced by that variable's value when the file is loaded; an unset\n"
      "variable is an error naming it; `$$` is a literal `$`.\n",
      CONFIG_SECRET_MASK);
  const char *section = NULL;
  size_t section_n = 0;
  for (size_t i = 0; i < KEYS_COUNT && !rc; i++) {
    const config_key_t *k = &keys[i];
    size_t n = section_len(k->name);
    if (!section || n != section_n || strncmp(section, k->name, n) != 0) {
      rc = buf_printf(out,
                      "\n## [%.*s]\n\n"
                      "| key | type | default | prod profile | description |\n"
                      "|---|---|---|---|---|\n",
                      (int)n, k->name);
      section = k->name;
      section_n = n;
    }
    if (!rc) rc = buf_printf(out, "| `%s` | %s", k->name, config_type_name(k->type));
    if (!rc && k->type == CONFIG_INT) rc = buf_printf(out, " (%lld to %lld)", (long long)k->min, (long long)k->max);
    if (!rc && k->choices) {
      rc = buf_printf(out, ": ");
      for (const char *c = k->choices; !rc && c;) {
        const char *bar = strchr(c, '|');
        int len = bar ? (int)(bar - c) : (int)strlen(c);
        rc = buf_printf(out, "%s`%.*s`", c == k->choices ? "" : ", ", len, c);
        c = bar ? bar + 1 : NULL;
      }
    }
    if (!rc && k->secret) rc = buf_printf(out, ", secret");
    if (!rc) rc = buf_printf(out, " | ");
    if (!rc && k->type == CONFIG_TABLES) rc = buf_printf(out, "none");
    else if (!rc && !k->default_text) rc = buf_printf(out, "required");
    else if (!rc) rc = write_default_cell(out, k, k->default_text);
    if (!rc) rc = buf_printf(out, " | ");
    const char *prod = strcmp(k->name, "repo.profile") == 0 ? "prod" : prod_text(k->name);
    if (!rc && prod) rc = write_default_cell(out, k, prod);
    if (!rc) rc = buf_printf(out, " | %s |\n", k->doc);
  }
  return rc;
}
