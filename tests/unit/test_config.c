/*
 * config: the key table and what comes from it.  The table is well formed;
 * defaults, profiles, files and command-line values layer in order; sizes,
 * durations and ${ENV} expansion accept exactly their syntax with overflow
 * checks; unknown keys are rejected with the nearest key suggested and the
 * file:line:column; a failed load changes nothing; secrets are masked; the
 * generated texts load back; packaging/anya-{dev,prod}.toml and
 * docs/configuration.md are exactly what the table generates; `anya init`'s
 * config.toml loads.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "repo.h"

static config_t *fresh(void) {
  config_t *cfg = NULL;
  assert_int_equal(config_new(&cfg), 0);
  return cfg;
}

static void load_ok(config_t *cfg, const char *text) {
  int rc = config_load_text(cfg, text, strlen(text), "t.toml");
  if (rc) fail_msg("[%s]: %s", text, err_msg(rc));
}

static void load_bad(const char *text, const char *message) {
  config_t *cfg = fresh();
  err_clear();
  int rc = config_load_text(cfg, text, strlen(text), "t.toml");
  if (rc != -EINVAL) fail_msg("[%s]: expected -EINVAL, got %d", text, rc);
  if (strcmp(err_msg(rc), message) != 0) fail_msg("[%s]: message\n  '%s'\nwanted\n  '%s'", text, err_msg(rc), message);
  config_free(cfg);
}

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s (tests run from the repository root)", path);
  buf_t b = {0};
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_append(&b, chunk, n);
  fclose(f);
  return buf_cstr(&b);
}

/* ---- arrays of tables ---------------------------------------------------------------- */

static void test_tables_load_and_write_back(void **state) {
  (void)state;
  config_t *cfg = fresh();
  assert_int_equal(config_tables(cfg, "pinning.policy"), 0);
  setenv("ANYA_TEST_PREFIX", "/backups", 1);
  load_ok(cfg, "[pinning]\npin_on_add = false\n\n"
               "[[pinning.policy]]\nname = \"snap\"\nkeep_last = 7\nexpire_after = \"30d\"\n\n"
               "[[pinning.policy]]\nname = \"b\"\nsource = \"files\"\npath_prefix = \"${ANYA_TEST_PREFIX}\"\n"
               "max_size = \"1GiB\"\nreplicate = [\"x\"]\n");
  assert_false(config_bool(cfg, "pinning.pin_on_add"));
  assert_int_equal(config_tables(cfg, "pinning.policy"), 2);
  assert_string_equal(config_field_string(cfg, "pinning.policy", 0, "name"), "snap");
  assert_string_equal(config_field_string(cfg, "pinning.policy", 0, "source"), "pin"); /* default */
  assert_int_equal(config_field_int(cfg, "pinning.policy", 0, "keep_last"), 7);
  assert_int_equal(config_field_duration_ms(cfg, "pinning.policy", 0, "expire_after"), 30ULL * 86400000);
  assert_true(config_field_bool(cfg, "pinning.policy", 0, "pin"));
  assert_string_equal(config_field_string(cfg, "pinning.policy", 1, "path_prefix"), "/backups");
  assert_int_equal(config_field_size(cfg, "pinning.policy", 1, "max_size"), 1ULL << 30);
  const char *const *list;
  assert_int_equal(config_field_strings(cfg, "pinning.policy", 1, "replicate", &list), 1);
  assert_string_equal(list[0], "x");
  assert_string_equal(config_table_origin(cfg, "pinning.policy", 1), "t.toml:9:1");
  /* a later layer replaces the whole array */
  load_ok(cfg, "[[pinning.policy]]\nname = \"only\"\n");
  assert_int_equal(config_tables(cfg, "pinning.policy"), 1);
  assert_string_equal(config_field_string(cfg, "pinning.policy", 0, "name"), "only");
  /* written back (what `config show` prints) and loaded again: the same */
  load_ok(cfg, "[[pinning.policy]]\nname = \"a\"\nsource = \"dwn\"\ndwn_protocol = \"https://p/x\"\n"
               "[[pinning.policy]]\nname = \"c\"\nmin_size = 10\npin = false\n");
  buf_t a = {0}, b = {0};
  assert_int_equal(config_write_toml(cfg, &a, false, false), 0);
  assert_non_null(strstr(buf_cstr(&a), "[[pinning.policy]]\nname = \"c\"\nmin_size = \"10\"\npin = false\n"));
  config_t *again = fresh();
  load_ok(again, buf_cstr(&a));
  assert_int_equal(config_write_toml(again, &b, false, false), 0);
  assert_string_equal(buf_cstr(&a), buf_cstr(&b));
  assert_int_equal(config_tables(again, "pinning.policy"), 2);
  assert_string_equal(config_field_string(again, "pinning.policy", 0, "dwn_protocol"), "https://p/x");
  buf_free(&a);
  buf_free(&b);
  config_free(again);
  config_free(cfg);
}

static void test_format_duration(void **state) {
  (void)state;
  static const struct { uint64_t ms; const char *text; } cases[] = {
      {0, "0"}, {1, "1ms"}, {1000, "1s"}, {90000, "1m30s"}, {5400000, "1h30m"}, {2592000000ULL, "30d"},
      {86400000ULL + 1, "1d1ms"}, {3650ULL * 86400000 + 3723004, "3650d1h2m3s4ms"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char text[CONFIG_DURATION_TEXT_BYTES];
    config_format_duration(cases[i].ms, text);
    assert_string_equal(text, cases[i].text);
    uint64_t back;
    assert_int_equal(config_parse_duration(text, &back), 0);
    assert_int_equal(back, cases[i].ms);
  }
}

static void test_tables_errors(void **state) {
  (void)state;
  load_bad("[[pinning.policy]]\nkeep_last = 1\n", "t.toml:1:1: [[pinning.policy]] without the required key 'name'");
  load_bad("[[pinning.policy]]\nname = \"a\"\nkeep_lst = 1\n",
           "t.toml:3:1: unknown key 'pinning.policy.keep_lst' (did you mean 'pinning.policy.keep_last'?)");
  load_bad("[[pinning.policy]]\nname = \"a\"\nsource = \"web\"\n",
           "t.toml:3:10: pinning.policy.source: 'web' is not one of pin|add|files|dwn");
  load_bad("[[pinning.policy]]\nname = \"a\"\nkeep_last = -1\n",
           "t.toml:3:13: pinning.policy.keep_last: -1 is out of range [0, 1000000]");
  load_bad("[pinning.policy]\nname = \"a\"\n", "t.toml:1:1: pinning.policy: expected [[pinning.policy]] tables, got a table");
  load_bad("[pinning]\nname = \"a\"\n", "t.toml:2:1: unknown key 'pinning.name' (did you mean 'pinning.policy.name'?)");
  /* a field is not a key of its own */
  config_t *cfg = fresh();
  assert_int_equal(config_set(cfg, "pinning.policy.name", "x"), -EINVAL);
  assert_int_equal(config_set(cfg, "pinning.policy", "x"), -EINVAL);
  config_free(cfg);
}

/* ---- the table ---------------------------------------------------------------------- */

static void test_table_is_well_formed(void **state) {
  (void)state;
  size_t n;
  const config_key_t *keys = config_keys(&n);
  assert_true(n >= 25);
  static const char *const sections[] = {"repo", "identity", "network", "storage", "pinning",
                                         "logging", "security", "http", "dwn", "monitoring"};
  size_t next_section = 0;
  for (size_t i = 0; i < n; i++) {
    const config_key_t *k = &keys[i];
    assert_true(strlen(k->name) < CONFIG_NAME_BYTES_MAX);
    const char *dot = strchr(k->name, '.');
    assert_non_null(dot);
    /* "section.key", or "section.tables.field" right after its CONFIG_TABLES key */
    const char *second = strchr(dot + 1, '.');
    if (second) {
      assert_null(strchr(second + 1, '.'));
      size_t t = i;
      while (t > 0 && keys[t].type != CONFIG_TABLES) t--;
      assert_int_equal(keys[t].type, CONFIG_TABLES);
      assert_memory_equal(keys[t].name, k->name, (size_t)(second - k->name));
      assert_int_equal(strlen(keys[t].name), (size_t)(second - k->name));
    }
    assert_true(strlen(k->doc) > 10);
    assert_ptr_equal(config_key_find(k->name), k);
    for (size_t j = 0; j < i; j++) assert_string_not_equal(keys[j].name, k->name);
    /* sections are contiguous, in the documented order */
    size_t len = (size_t)(dot - k->name);
    if (strncmp(k->name, sections[next_section], len) != 0 || sections[next_section][len]) {
      next_section++;
      assert_true(next_section < sizeof sections / sizeof sections[0]);
      assert_memory_equal(k->name, sections[next_section], len);
    }
    if (k->choices) {
      char bar[80];
      snprintf(bar, sizeof bar, "|%s|", k->choices);
      char want[80];
      snprintf(want, sizeof want, "|%s|", k->default_text ? k->default_text : "");
      assert_non_null(strstr(bar, want));
    }
    if (k->type == CONFIG_INT) assert_true(k->min <= k->max);
  }
  assert_int_equal(next_section, 9);
  assert_non_null(config_key_find("identity.peer_id"));
  assert_non_null(config_key_find("security.rpc_token"));
  assert_true(config_key_find("security.rpc_token")->secret);
  assert_null(config_key_find("storage"));
  assert_null(config_key_find("storage.maxx"));
  assert_string_equal(config_type_name(CONFIG_DURATION), "duration");
}

static void test_defaults(void **state) {
  (void)state;
  config_t *cfg = fresh();
  assert_string_equal(config_string(cfg, "repo.profile"), "dev");
  assert_string_equal(config_string(cfg, "network.mount"), "/mnt/anya");
  assert_string_equal(config_string(cfg, "network.dwn"), "127.0.0.1:3000");
  assert_string_equal(config_string(cfg, "network.gateway"), "127.0.0.1:8080");
  assert_string_equal(config_string(cfg, "network.rpc"), "127.0.0.1:5001");
  assert_string_equal(config_string(cfg, "network.p2p"), "/ip4/127.0.0.1/tcp/4001");
  const char *const *list;
  assert_int_equal(config_strings(cfg, "network.bootstrap_peers", &list), 0);
  assert_int_equal(config_int(cfg, "network.max_connections"), 200);
  assert_true(config_size(cfg, "storage.max") == 10ULL << 30);
  assert_string_equal(config_string(cfg, "storage.max"), "10GiB");
  assert_int_equal(config_int(cfg, "storage.gc_watermark_percent"), 90);
  assert_true(config_bool(cfg, "storage.gc_auto"));
  assert_int_equal(config_duration_ms(cfg, "storage.gc_interval"), 3600000);
  assert_int_equal(config_duration_ms(cfg, "network.fetch_timeout"), 60000);
  assert_string_equal(config_string(cfg, "logging.level"), "info");
  assert_string_equal(config_string(cfg, "logging.format"), "text");
  assert_string_equal(config_string(cfg, "security.rpc_token"), "");
  assert_true(config_bool(cfg, "monitoring.metrics"));
  config_free(cfg);
  config_free(NULL);
}

/* ---- helpers ------------------------------------------------------------------------- */

static void test_sizes(void **state) {
  (void)state;
  static const struct { const char *text; uint64_t bytes; } good[] = {
      {"100GB", 100000000000ULL}, {"1GiB", 1ULL << 30}, {"512MiB", 512ULL << 20}, {"10 MB", 10000000ULL},
      {"0", 0}, {"4096", 4096}, {"4096B", 4096}, {"1kB", 1000}, {"1KB", 1000}, {"1kib", 1024},
      {"1.5GiB", 3ULL << 29}, {"1.5TB", 1500000000000ULL}, {"2.25 KiB", 2304}, {"1TiB", 1ULL << 40},
      {"1PB", 1000000000000000ULL}, {"1EiB", 1ULL << 60}, {"15EiB", 15ULL << 60},
      {"18446744073709551615", UINT64_MAX}, {"0.0001KiB", 0}, {"18EB", 18000000000000000000ULL},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    uint64_t bytes = 1;
    int rc = config_parse_size(good[i].text, &bytes);
    if (rc) fail_msg("%s: %s", good[i].text, err_msg(rc));
    if (bytes != good[i].bytes) fail_msg("%s: %llu", good[i].text, (unsigned long long)bytes);
  }
  static const struct { const char *text, *why; } bad[] = {
      {"", "invalid size"}, {"GiB", "invalid size"}, {"-1", "invalid size"}, {" 10MB", "invalid size"},
      {"10  MB", "invalid size"}, {"10 MB ", "unknown unit"}, {"10 ", "invalid size"}, {"1.", "invalid size"},
      {"1.5", "cannot have decimals"}, {"1.5B", "cannot have decimals"}, {"1XB", "unknown unit 'XB'"},
      {"1G", "unknown unit"}, {"1 gibibyte", "unknown unit"}, {"16EiB", "too large"}, {"19EB", "too large"},
      {"18446744073709551616", "too large"}, {"0x10", "unknown unit"},
      {"1.0000000000000000001GB", "too many decimals"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint64_t bytes = 7;
    int rc = config_parse_size(bad[i].text, &bytes);
    if (rc != -EINVAL) fail_msg("'%s' accepted", bad[i].text);
    if (!strstr(err_msg(rc), bad[i].why)) fail_msg("'%s': %s", bad[i].text, err_msg(rc));
    assert_int_equal(bytes, 7);
  }
}

static void test_durations(void **state) {
  (void)state;
  static const struct { const char *text; uint64_t ms; } good[] = {
      {"30s", 30000}, {"5m", 300000}, {"48h", 172800000}, {"1h30m", 5400000}, {"250ms", 250},
      {"7d", 604800000}, {"0", 0}, {"0s", 0}, {"1d2h3m4s5ms", 93784005}, {"90m", 5400000},
      {"1m500ms", 60500}, {"18446744073709551615ms", UINT64_MAX},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    uint64_t ms = 1;
    int rc = config_parse_duration(good[i].text, &ms);
    if (rc) fail_msg("%s: %s", good[i].text, err_msg(rc));
    if (ms != good[i].ms) fail_msg("%s: %llu", good[i].text, (unsigned long long)ms);
  }
  static const struct { const char *text, *why; } bad[] = {
      {"", "empty duration"}, {"30", "unit missing"}, {"1x", "unknown"}, {"30m1h", "largest down"},
      {"1h1h", "largest down"}, {"1.5h", "unit missing"}, {"-1s", "invalid duration"}, {" 1s", "invalid duration"},
      {"1s ", "invalid duration"}, {"5min", "unknown"}, {"1us", "unknown"}, {"s", "invalid duration"},
      {"18446744073709551616ms", "too long"}, {"18446744073709551615s", "too long"},
      {"213503982334602d", "too long"}, {"18446744073709551615ms1ms", "largest down"},
      {"1h18446744073709551615ms", "too long"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint64_t ms = 7;
    int rc = config_parse_duration(bad[i].text, &ms);
    if (rc != -EINVAL) fail_msg("'%s' accepted", bad[i].text);
    if (!strstr(err_msg(rc), bad[i].why)) fail_msg("'%s': %s", bad[i].text, err_msg(rc));
    assert_int_equal(ms, 7);
  }
}

static void test_env_expansion(void **state) {
  (void)state;
  setenv("ANYA_TEST_TOKEN", "s3cret", 1);
  setenv("ANYA_TEST_EMPTY", "", 1);
  unsetenv("ANYA_TEST_UNSET");
  static const struct { const char *in, *out; } good[] = {
      {"${ANYA_TEST_TOKEN}", "s3cret"}, {"a${ANYA_TEST_TOKEN}b${ANYA_TEST_TOKEN}", "as3cretbs3cret"},
      {"x${ANYA_TEST_EMPTY}y", "xy"}, {"a$$b", "a$b"}, {"$${ANYA_TEST_UNSET}", "${ANYA_TEST_UNSET}"},
      {"$x $ {}", "$x $ {}"}, {"end$", "end$"}, {"", ""}, {"$$$$", "$$"},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    buf_t b = {0};
    int rc = config_expand_env(good[i].in, &b);
    if (rc) fail_msg("%s: %s", good[i].in, err_msg(rc));
    assert_string_equal(buf_cstr(&b), good[i].out);
    buf_free(&b);
  }
  static const struct { const char *in, *why; } bad[] = {
      {"${ANYA_TEST_UNSET}", "environment variable ANYA_TEST_UNSET is not set"},
      {"abc${ANYA_TEST_TOKEN", "unterminated '${'"}, {"${}", "invalid variable name '${}'"},
      {"${1A}", "invalid variable name '${1A}'"}, {"${A-B}", "invalid variable name"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    buf_t b = {0};
    int rc = config_expand_env(bad[i].in, &b);
    assert_int_equal(rc, -EINVAL);
    if (!strstr(err_msg(rc), bad[i].why)) fail_msg("'%s': %s", bad[i].in, err_msg(rc));
    buf_free(&b);
  }
  /* in a document: strings, string arrays, sizes; errors name the place and the key */
  setenv("ANYA_TEST_MAX", "2GiB", 1);
  config_t *cfg = fresh();
  load_ok(cfg,
          "[security]\nrpc_token = \"${ANYA_TEST_TOKEN}\"\n"
          "[storage]\nmax = \"${ANYA_TEST_MAX}\"\n"
          "[network]\nbootstrap_peers = [\"/ip4/1.2.3.4/tcp/1/p2p/${ANYA_TEST_TOKEN}\", \"/dns/$$x\"]\n");
  assert_string_equal(config_string(cfg, "security.rpc_token"), "s3cret");
  assert_true(config_size(cfg, "storage.max") == 2ULL << 30);
  const char *const *list;
  assert_int_equal(config_strings(cfg, "network.bootstrap_peers", &list), 2);
  assert_string_equal(list[0], "/ip4/1.2.3.4/tcp/1/p2p/s3cret");
  assert_string_equal(list[1], "/dns/$x");
  config_free(cfg);
  load_bad("\n[security]\n  rpc_token = \"${ANYA_TEST_UNSET}\"",
           "t.toml:3:15: security.rpc_token: environment variable ANYA_TEST_UNSET is not set");
  load_bad("network.bootstrap_peers = [\"/a\",\n  \"${ANYA_TEST_UNSET}\"]",
           "t.toml:2:3: network.bootstrap_peers: environment variable ANYA_TEST_UNSET is not set");
  unsetenv("ANYA_TEST_TOKEN");
  unsetenv("ANYA_TEST_EMPTY");
  unsetenv("ANYA_TEST_MAX");
}

/* ---- loading ------------------------------------------------------------------------- */

static void test_load_document(void **state) {
  (void)state;
  config_t *cfg = fresh();
  load_ok(cfg,
          "# a comment\n"
          "[network]\nrpc = \"0.0.0.0:5002\"\ndwn = \"off\"\ngateway = \"[::1]:8081\"\np2p = \"off\"\n"
          "max_connections = 50\nupstream_gateways = [\"https://gw.example\"]\n"
          "[storage]\nmax = \"512 MiB\"\ngc_interval = \"1h30m\"\nsegment_size = 268435456\ngc_auto = false\n"
          "[logging]\nlevel = \"debug\"\nformat = \"json\"\n"
          "[identity]\npeer_id = \"12D3KooWTest\"\n");
  assert_string_equal(config_string(cfg, "network.rpc"), "0.0.0.0:5002");
  assert_string_equal(config_string(cfg, "network.dwn"), "off");
  assert_string_equal(config_string(cfg, "network.gateway"), "[::1]:8081");
  assert_int_equal(config_int(cfg, "network.max_connections"), 50);
  assert_true(config_size(cfg, "storage.max") == 512ULL << 20);
  assert_int_equal(config_duration_ms(cfg, "storage.gc_interval"), 5400000);
  assert_int_equal(config_size(cfg, "storage.segment_size"), 268435456);
  assert_false(config_bool(cfg, "storage.gc_auto"));
  assert_string_equal(config_string(cfg, "logging.format"), "json");
  assert_string_equal(config_string(cfg, "identity.peer_id"), "12D3KooWTest");
  /* untouched keys keep their defaults */
  assert_string_equal(config_string(cfg, "network.mount"), "/mnt/anya");
  /* dotted keys and quoted keys name the same keys */
  load_ok(cfg, "storage.max = \"1GiB\"\n\"logging\".'level' = \"warn\"\n");
  assert_true(config_size(cfg, "storage.max") == 1ULL << 30);
  assert_string_equal(config_string(cfg, "logging.level"), "warn");
  /* the repository config written by the foundation's anya init still loads */
  load_ok(cfg, "# Anya repository configuration (see docs/configuration.md)\n"
               "[repo]\nprofile = \"dev\"\n\n[identity]\npeer_id = \"12D3KooWOld\"\n");
  assert_string_equal(config_string(cfg, "identity.peer_id"), "12D3KooWOld");
  config_free(cfg);
}

static void test_unknown_keys_and_bad_values(void **state) {
  (void)state;
  load_bad("[storage]\nmaxx = \"10GiB\"", "t.toml:2:1: unknown key 'storage.maxx' (did you mean 'storage.max'?)");
  load_bad("[storag]\nmax = \"10GiB\"", "t.toml:2:1: unknown key 'storag.max' (did you mean 'storage.max'?)");
  load_bad("[network]\nmax_conections = 5", "t.toml:2:1: unknown key 'network.max_conections' (did you mean 'network.max_connections'?)");
  load_bad("network.max = 1", "t.toml:1:1: unknown key 'network.max' (did you mean 'storage.max'?)");
  load_bad("[logging]\n  levle = \"info\"", "t.toml:2:3: unknown key 'logging.levle' (did you mean 'logging.level'?)");
  load_bad("completely_unrelated_thing = 1", "t.toml:1:1: unknown key 'completely_unrelated_thing'");
  load_bad("[storage.max]\nx = 1", "t.toml:1:1: storage.max: expected a size (a quoted string), got a table");
  load_bad("storage = 1", "t.toml:1:1: unknown key 'storage'");
  load_bad("[[storage]]\nmax = \"1GiB\"", "t.toml:1:1: unknown key 'storage'");
  load_bad("storage.max = true", "t.toml:1:15: storage.max: expected a size (a quoted string), got a boolean");
  load_bad("storage.max = -1", "t.toml:1:15: storage.max: a size cannot be negative");
  load_bad("storage.max = \"10 GB\"\nstorage.segment_size = \"1KiB\"",
           "t.toml:2:24: storage.segment_size: '1KiB' is below the minimum of 1048576 bytes");
  load_bad("storage.max = \"lots\"", "t.toml:1:15: storage.max: invalid size 'lots' (like \"10GiB\")");
  load_bad("storage.gc_interval = 3600", "t.toml:1:23: storage.gc_interval: expected a duration (a quoted string), got a integer");
  load_bad("storage.gc_interval = \"1\"", "t.toml:1:23: storage.gc_interval: duration '1': unit missing or unknown (ms, s, m, h, d)");
  load_bad("storage.gc_interval = \"0\"", "t.toml:1:23: storage.gc_interval: '0' is below the minimum of 1000 ms");
  load_bad("network.fetch_timeout = \"8d\"", "t.toml:1:25: network.fetch_timeout: '8d' is above the maximum of 604800000 ms");
  load_bad("storage.gc_watermark_percent = 101", "t.toml:1:32: storage.gc_watermark_percent: 101 is out of range [1, 100]");
  load_bad("storage.gc_watermark_percent = \"90\"", "t.toml:1:32: storage.gc_watermark_percent: expected an integer, got a string");
  load_bad("storage.gc_auto = \"yes\"", "t.toml:1:19: storage.gc_auto: expected a boolean, got a string");
  load_bad("logging.level = \"loud\"", "t.toml:1:17: logging.level: 'loud' is not one of error|warn|info|debug|trace");
  load_bad("network.rpc = \"localhost\"", "t.toml:1:15: network.rpc: 'localhost' is not HOST:PORT or off");
  load_bad("network.rpc = \"host:0\"", "t.toml:1:15: network.rpc: 'host:0' is not HOST:PORT or off");
  load_bad("network.rpc = \"host:65536\"", "t.toml:1:15: network.rpc: 'host:65536' is not HOST:PORT or off");
  load_bad("network.rpc = \"::1:80\"", "t.toml:1:15: network.rpc: '::1:80' is not HOST:PORT or off");
  load_bad("network.p2p = \"ip4/1.2.3.4\"", "t.toml:1:15: network.p2p: 'ip4/1.2.3.4' is not a multiaddr (/ip4/.../tcp/N) or off");
  load_bad("network.mount = \"mnt\"", "t.toml:1:17: network.mount: 'mnt' is not an absolute path or off");
  load_bad("network.bootstrap_peers = \"/ip4\"", "t.toml:1:27: network.bootstrap_peers: expected an array of strings, got a string");
  load_bad("network.bootstrap_peers = [\"/a\", 1]", "t.toml:1:34: network.bootstrap_peers: expected an array of strings, found a integer");
  load_bad("security.rpc_token = \"a\\u0000b\"", "t.toml:1:22: security.rpc_token: contains U+0000");
  load_bad("repo.profile = \"staging\"", "t.toml:1:16: repo.profile: 'staging' is not one of dev|prod");
  /* TOML errors come through with their position */
  load_bad("[storage]\nmax = \"1GiB\"\nmax = \"2GiB\"", "t.toml:3:1: duplicate key (key 'storage.max')");
  assert_string_equal(config_suggest("storage.maxx"), "storage.max");
  assert_string_equal(config_suggest("Storage.Max"), "storage.max");
  assert_null(config_suggest("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"));
}

static void test_failed_load_changes_nothing(void **state) {
  (void)state;
  config_t *cfg = fresh();
  const char *doc = "[storage]\nmax = \"1GiB\"\n[logging]\nlevel = \"debug\"\nformat = \"yaml\"\n";
  assert_int_equal(config_load_text(cfg, doc, strlen(doc), "t.toml"), -EINVAL);
  assert_true(config_size(cfg, "storage.max") == 10ULL << 30);
  assert_string_equal(config_string(cfg, "logging.level"), "info");
  assert_int_equal(config_set(cfg, "storage.max", "nonsense"), -EINVAL);
  assert_true(config_size(cfg, "storage.max") == 10ULL << 30);
  config_free(cfg);
}

static void test_layers_and_set(void **state) {
  (void)state;
  char dir[] = "/tmp/test_config_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[64];
  snprintf(path, sizeof path, "%s/anya.toml", dir);
  FILE *f = fopen(path, "w");
  fputs("[storage]\nmax = \"100GB\"\n[network]\nrpc = \"127.0.0.1:6001\"\n", f);
  fclose(f);
  config_t *cfg = fresh();
  assert_int_equal(config_load_file(cfg, path), 0);
  assert_true(config_size(cfg, "storage.max") == 100000000000ULL);
  assert_int_equal(config_set(cfg, "storage.max", "5GiB"), 0); /* a flag beats the file */
  assert_true(config_size(cfg, "storage.max") == 5ULL << 30);
  assert_string_equal(config_string(cfg, "network.rpc"), "127.0.0.1:6001");
  assert_int_equal(config_set(cfg, "network.rpc", "off"), 0);
  assert_string_equal(config_string(cfg, "network.rpc"), "off");
  assert_int_equal(config_set(cfg, "network.bootstrap_peers", "/ip4/1.1.1.1/tcp/1, /ip4/2.2.2.2/tcp/2"), 0);
  const char *const *list;
  assert_int_equal(config_strings(cfg, "network.bootstrap_peers", &list), 2);
  assert_string_equal(list[1], "/ip4/2.2.2.2/tcp/2");
  assert_int_equal(config_set(cfg, "network.bootstrap_peers", ""), 0);
  assert_int_equal(config_strings(cfg, "network.bootstrap_peers", &list), 0);
  assert_int_equal(config_set(cfg, "network.bootstrap_peers", "a,,b"), -EINVAL);
  assert_string_equal(err_msg(-EINVAL), "network.bootstrap_peers: empty item in list 'a,,b'");
  assert_int_equal(config_set(cfg, "network.max_connections", "1000"), 0);
  assert_int_equal(config_int(cfg, "network.max_connections"), 1000);
  assert_int_equal(config_set(cfg, "network.max_connections", "12x"), -EINVAL);
  assert_string_equal(err_msg(-EINVAL), "network.max_connections: '12x' is not an integer");
  assert_int_equal(config_set(cfg, "storage.gc_auto", "false"), 0);
  assert_false(config_bool(cfg, "storage.gc_auto"));
  assert_int_equal(config_set(cfg, "storage.gc_auto", "no"), -EINVAL);
  assert_int_equal(config_set(cfg, "security.rpc_token", "${NOT_EXPANDED}"), 0);
  assert_string_equal(config_string(cfg, "security.rpc_token"), "${NOT_EXPANDED}");
  assert_int_equal(config_set(cfg, "storage.mxa", "1GiB"), -EINVAL);
  assert_string_equal(err_msg(-EINVAL), "unknown configuration key 'storage.mxa' (did you mean 'storage.max'?)");
  config_free(cfg);

  /* a file's errors name the file */
  f = fopen(path, "w");
  fputs("[storage]\n\nmax = 10GiB\n", f);
  fclose(f);
  cfg = fresh();
  assert_int_equal(config_load_file(cfg, path), -EINVAL);
  char want[160];
  snprintf(want, sizeof want, "%s:3:7: invalid number '10GiB' (strings need quotes) (key 'storage.max')", path);
  assert_string_equal(err_msg(-EINVAL), want);
  unlink(path);
  assert_int_equal(config_load_file(cfg, path), -ENOENT);
  config_free(cfg);
  rmdir(dir);
}

/* ---- output -------------------------------------------------------------------------- */

static void test_show_masks_secrets_and_round_trips(void **state) {
  (void)state;
  config_t *cfg = fresh();
  buf_t out = {0};
  assert_int_equal(config_write_toml(cfg, &out, false, true), 0);
  assert_non_null(strstr(buf_cstr(&out), "\n[security]\nrpc_token = \"\"\n")); /* nothing to hide */
  assert_null(strstr(buf_cstr(&out), "[identity]"));                           /* unset: left out */
  assert_int_equal(config_set(cfg, "security.rpc_token", "hunter2"), 0);
  assert_int_equal(config_set(cfg, "identity.peer_id", "12D3KooWX"), 0);
  assert_int_equal(config_set(cfg, "network.upstream_gateways", "https://a$b"), 0);
  buf_reset(&out);
  assert_int_equal(config_write_toml(cfg, &out, false, true), 0);
  const char *text = buf_cstr(&out);
  assert_non_null(strstr(text, "rpc_token = \"********\"\n"));
  assert_null(strstr(text, "hunter2"));
  assert_non_null(strstr(text, "[identity]\npeer_id = \"12D3KooWX\"\n"));
  assert_non_null(strstr(text, "upstream_gateways = [\"https://a$$b\"]\n"));
  assert_null(strstr(text, "# ")); /* no comments in show */
  /* unmasked, the text loads back to the same values */
  buf_reset(&out);
  assert_int_equal(config_write_toml(cfg, &out, true, false), 0);
  assert_non_null(strstr(buf_cstr(&out), "rpc_token = \"hunter2\"\n"));
  config_t *again = fresh();
  load_ok(again, buf_cstr(&out));
  buf_t second = {0};
  assert_int_equal(config_write_toml(again, &second, true, false), 0);
  assert_string_equal(buf_cstr(&second), buf_cstr(&out));
  const char *const *list;
  assert_int_equal(config_strings(again, "network.upstream_gateways", &list), 1);
  assert_string_equal(list[0], "https://a$b");
  config_free(again);
  config_free(cfg);
  buf_free(&second);

  /* the embedded default text is the defaults */
  buf_reset(&out);
  assert_int_equal(config_write_defaults(&out), 0);
  cfg = fresh();
  load_ok(cfg, buf_cstr(&out));
  buf_reset(&out);
  config_t *defaults = fresh();
  buf_t want = {0};
  assert_int_equal(config_write_toml(defaults, &want, false, false), 0);
  assert_int_equal(config_write_toml(cfg, &out, false, false), 0);
  assert_string_equal(buf_cstr(&out), buf_cstr(&want));
  config_free(defaults);
  config_free(cfg);
  buf_free(&want);
  buf_free(&out);
}

static void test_profiles(void **state) {
  (void)state;
  static const char *const names[] = {"dev", "prod"};
  for (size_t i = 0; i < 2; i++) {
    buf_t out = {0};
    assert_int_equal(config_write_profile(&out, names[i], NULL), 0);
    char path[64];
    snprintf(path, sizeof path, "packaging/anya-%s.toml", names[i]);
    char *file = read_text(path);
    if (strcmp(file, buf_cstr(&out)) != 0)
      fail_msg("%s differs from config_write_profile(\"%s\"); regenerate it", path, names[i]);
    free(file);
    config_t *cfg = fresh();
    int rc = config_load_file(cfg, path);
    if (rc) fail_msg("%s: %s", path, err_msg(rc));
    assert_string_equal(config_string(cfg, "repo.profile"), names[i]);
    config_t *direct = fresh();
    assert_int_equal(config_apply_profile(direct, names[i]), 0);
    buf_t a = {0}, b = {0};
    config_write_toml(cfg, &a, false, false);
    config_write_toml(direct, &b, false, false);
    assert_string_equal(buf_cstr(&a), buf_cstr(&b));
    buf_free(&a);
    buf_free(&b);
    config_free(direct);
    if (i == 1) {
      assert_true(config_size(cfg, "storage.max") == 500ULL << 30);
      assert_string_equal(config_string(cfg, "logging.format"), "json");
      assert_string_equal(config_string(cfg, "network.dht_mode"), "server");
      const char *const *list;
      assert_int_equal(config_strings(cfg, "network.bootstrap_peers", &list), 2);
      assert_non_null(strstr(config_string(cfg, "network.rpc"), "127.0.0.1")); /* RPC stays on loopback */
    }
    config_free(cfg);
    buf_free(&out);
  }
  config_t *cfg = fresh();
  assert_int_equal(config_apply_profile(cfg, "staging"), -EINVAL);
  assert_string_equal(err_msg(-EINVAL), "unknown profile 'staging' (dev or prod)");
  config_free(cfg);
  buf_t out = {0};
  assert_int_equal(config_write_profile(&out, "prod", "12D3KooWPeer"), 0);
  assert_non_null(strstr(buf_cstr(&out), "[identity]\n# "));
  assert_non_null(strstr(buf_cstr(&out), "peer_id = \"12D3KooWPeer\"\n"));
  buf_free(&out);
}

static void test_docs_are_up_to_date(void **state) {
  (void)state;
  buf_t out = {0};
  assert_int_equal(config_write_docs(&out), 0);
  char *file = read_text("docs/configuration.md");
  if (strcmp(file, buf_cstr(&out)) != 0)
    fail_msg("docs/configuration.md differs from config_write_docs(); regenerate it with `anya config docs`");
  /* every key is documented */
  size_t n;
  const config_key_t *keys = config_keys(&n);
  for (size_t i = 0; i < n; i++) {
    char cell[96];
    snprintf(cell, sizeof cell, "| `%s` |", keys[i].name);
    assert_non_null(strstr(file, cell));
  }
  free(file);
  buf_free(&out);
}

static void test_init_writes_a_loadable_profile(void **state) {
  (void)state;
  char dir[] = "/tmp/test_config_repo_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char repo[96], path[128], peer_id[64];
  snprintf(repo, sizeof repo, "%s/r", dir);
  int rc = repo_init(repo, "prod", peer_id);
  if (rc) fail_msg("repo_init: %s", err_msg(rc));
  snprintf(path, sizeof path, "%s/config.toml", repo);
  config_t *cfg = fresh();
  rc = config_load_file(cfg, path);
  if (rc) fail_msg("%s: %s", path, err_msg(rc));
  assert_string_equal(config_string(cfg, "repo.profile"), "prod");
  assert_string_equal(config_string(cfg, "identity.peer_id"), peer_id);
  assert_string_equal(config_string(cfg, "logging.format"), "json");
  config_free(cfg);
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

/* repo_open loads <repo>/config.toml over the defaults into repo_t.config;
 * a bad file fails the open with file:line:column and takes no lock. */
static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
}

static void test_repo_open_loads_config(void **state) {
  (void)state;
  char dir[] = "/tmp/test_config_open_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char repo[96], path[128];
  snprintf(repo, sizeof repo, "%s/r", dir);
  snprintf(path, sizeof path, "%s/config.toml", repo);
  int rc = repo_init(repo, "dev", NULL);
  if (rc) fail_msg("repo_init: %s", err_msg(rc));
  repo_t *r = NULL;
  rc = repo_open(repo, "test", NULL, &r);
  if (rc) fail_msg("repo_open: %s", err_msg(rc));
  assert_string_equal(config_string(r->config, "repo.profile"), "dev");
  assert_int_equal(config_size(r->config, "storage.max"), 10ull << 30);
  assert_int_equal(repo_close(r), 0);

  write_text(path, "[storage]\nmax = \"2MiB\"\ngc_watermark_percent = 50\n");
  assert_int_equal(repo_open(repo, "test", NULL, &r), 0);
  assert_int_equal(config_size(r->config, "storage.max"), 2u << 20);
  assert_int_equal(config_int(r->config, "storage.gc_watermark_percent"), 50);
  assert_true(config_bool(r->config, "storage.gc_auto")); /* the rest: defaults */
  assert_int_equal(repo_close(r), 0);

  write_text(path, "[storage]\nmaxx = \"2MiB\"\n");
  r = NULL;
  assert_int_equal(repo_open(repo, "test", NULL, &r), -EINVAL);
  assert_null(r);
  assert_non_null(strstr(err_msg(-EINVAL), "config.toml:2:1: unknown key 'storage.maxx'"));

  unlink(path); /* no file: the defaults */
  assert_int_equal(repo_open(repo, "test", NULL, &r), 0);
  assert_int_equal(config_size(r->config, "storage.max"), 10ull << 30);
  assert_int_equal(repo_close(r), 0);
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table_is_well_formed),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_sizes),
      cmocka_unit_test(test_durations),
      cmocka_unit_test(test_env_expansion),
      cmocka_unit_test(test_load_document),
      cmocka_unit_test(test_unknown_keys_and_bad_values),
      cmocka_unit_test(test_failed_load_changes_nothing),
      cmocka_unit_test(test_layers_and_set),
      cmocka_unit_test(test_show_masks_secrets_and_round_trips),
      cmocka_unit_test(test_profiles),
      cmocka_unit_test(test_docs_are_up_to_date),
      cmocka_unit_test(test_tables_load_and_write_back),
      cmocka_unit_test(test_tables_errors),
      cmocka_unit_test(test_format_duration),
      cmocka_unit_test(test_init_writes_a_loadable_profile),
      cmocka_unit_test(test_repo_open_loads_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
