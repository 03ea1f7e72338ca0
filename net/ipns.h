/*
 * ipns: IPNS records (ipfs/specs ipns/ipns-record): created, encoded,
 * validated and compared here; published and resolved through the DHT
 * (kad_put_value/kad_get_value with this module's validator for the "ipns"
 * namespace).  DHT key: "/ipns/" ‖ the name's multihash.
 *
 *   IpnsEntry pb (net/proto/ipns.proto): data (DAG-CBOR {TTL, Value,
 *   Sequence, Validity, ValidityType}) + signatureV2 over "ipns-signature:" ‖
 *   data, plus the V1 fields and signatureV1 for old readers.
 *
 * (Contract of the cross-module API; the helper that builds ipns.c
 * completes this header.)
 */
#ifndef ANYA_NET_IPNS_H
#define ANYA_NET_IPNS_H

#include <stdint.h>

#include "buf.h"
#include "kad.h"
#include "peer.h"

#define IPNS_RECORD_BYTES_MAX (10u * 1024)
#define IPNS_VALUE_BYTES_MAX 1024

typedef struct ipns_entry {
  char value[IPNS_VALUE_BYTES_MAX + 1]; /* "/ipfs/<cid>[/path]" or "/ipns/..." */
  uint64_t sequence;
  int64_t validity_ms;                  /* EOL, ms since the epoch */
  uint64_t ttl_ns;
} ipns_entry_t;

/* A signed record for key's name. */
int ipns_record_create(const peer_key_t *key, const char *value, uint64_t sequence, int64_t validity_ms,
                       uint64_t ttl_ns, buf_t *out);
/* Validates a record for name at now_ms (signature, size, V1/V2
 * agreement, not expired).  -EBADMSG malformed, -EACCES bad signature,
 * -ETIME expired, -E2BIG too large. */
int ipns_record_validate(const peer_id_t *name, const uint8_t *record, size_t len, int64_t now_ms,
                         ipns_entry_t *out);
/* >0 when a is the better record (higher sequence, then later validity). */
int ipns_entry_compare(const ipns_entry_t *a, const ipns_entry_t *b);
/* The DHT key for name into out; returns its length. */
size_t ipns_dht_key(const peer_id_t *name, uint8_t out[6 + PEER_ID_BYTES_MAX]);
/* The kad validator for "ipns". */
extern const kad_validator_t ipns_kad_validator;

#endif
