/*
 * check_ipns: our side of tests/interop/ipns-js.sh (net/ipns.h).
 *
 *   check_ipns create SEEDBYTE VALUE SEQ VALIDITY_MS TTL_NS
 *       a record for the key whose seed is 32 × SEEDBYTE, as hex on stdout
 *   check_ipns validate NAME HEX
 *       validates the record (hex) for NAME (any peer-ID text) now; prints
 *       {"value","sequence","validity_ms","ttl_ns"} as JSON and exits 0, or
 *       the error and exits 1
 *   check_ipns name SEEDBYTE
 *       the base36 name of that key
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "ipns.h"

static int key_of(const char *seed_text, peer_key_t *key) {
  uint8_t seed[PEER_ED25519_BYTES];
  memset(seed, atoi(seed_text), sizeof seed);
  return peer_key_from_seed(seed, key);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "name") == 0) {
    peer_key_t key;
    char text[PEER_ID_TEXT_BYTES_MAX];
    if (key_of(argv[2], &key) || peer_id_format_base36(&key.id, text)) return 1;
    printf("%s\n", text);
    return 0;
  }
  if (argc == 7 && strcmp(argv[1], "create") == 0) {
    peer_key_t key;
    buf_t rec = {0};
    int rc = key_of(argv[2], &key);
    if (!rc)
      rc = ipns_record_create(&key, argv[3], strtoull(argv[4], NULL, 10), strtoll(argv[5], NULL, 10),
                              strtoull(argv[6], NULL, 10), &rec);
    if (rc) {
      fprintf(stderr, "create: %s\n", err_msg(rc));
      return 1;
    }
    for (size_t i = 0; i < rec.len; i++) printf("%02x", rec.data[i]);
    printf("\n");
    buf_free(&rec);
    return 0;
  }
  if (argc == 4 && strcmp(argv[1], "validate") == 0) {
    peer_id_t name;
    if (peer_id_parse(argv[2], &name)) {
      fprintf(stderr, "validate: '%s' is not a name\n", argv[2]);
      return 1;
    }
    buf_t rec = {0};
    const char *hex = argv[3];
    for (size_t i = 0; hex[i] && hex[i + 1]; i += 2) {
      unsigned v;
      if (sscanf(hex + i, "%2x", &v) != 1) return 1;
      buf_append_byte(&rec, (uint8_t)v);
    }
    ipns_entry_t e;
    int rc = ipns_record_validate(&name, rec.data, rec.len, ipns_now_ms(), &e);
    buf_free(&rec);
    if (rc) {
      printf("{\"error\":%d}\n", rc);
      fprintf(stderr, "validate: %s\n", err_msg(rc));
      return 1;
    }
    /* values here are paths: no JSON escaping needed for the test's inputs */
    printf("{\"value\":\"%s\",\"sequence\":\"%" PRIu64 "\",\"validity_ms\":%" PRId64 ",\"ttl_ns\":\"%" PRIu64 "\"}\n",
           e.value, e.sequence, e.validity_ms, e.ttl_ns);
    return 0;
  }
  fprintf(stderr, "usage: check_ipns create SEED VALUE SEQ VALIDITY_MS TTL_NS | validate NAME HEX | name SEED\n");
  return 2;
}
