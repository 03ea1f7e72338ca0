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
 * The record (ipns.c).  `data` is written in DAG-CBOR's key order (length
 * first, then bytewise), byte for byte what js `ipns` (Helia) writes:
 *
 *   a5 63 "TTL" <uint ns> 65 "Value" <bytes> 68 "Sequence" <uint>
 *      68 "Validity" <bytes: RFC 3339, 9 fraction digits, Z> 6c "ValidityType" 00
 *
 * A record we create also carries the V1 copies (value=1, validityType=3,
 * validity=4, sequence=5, ttl=6) and signatureV1 over value ‖ validity ‖
 * "EOL" (as boxo and js do by default); pubKey is left out (Ed25519 keys are
 * inlined in the name).  Validation follows the spec's steps in order and
 * stops at the first failure: size (≤ IPNS_RECORD_BYTES_MAX), protobuf,
 * data and signatureV2 present (a V1-only record is refused), the key
 * (pubKey, which must hash to the name, else the one inlined in the name),
 * the data map (unknown keys skipped; Value, Validity, ValidityType,
 * Sequence required; TTL optional, 0), signatureV2, the V1 copies equal to
 * the signed values when signatureV1 or value is present, ValidityType 0
 * (EOL), Validity later than now.  signatureV1 is never checked.
 *
 * Publishing and resolving (ipns_name.c), an ipns_t per node:
 *   publish   our last record lives in <repo>/ipns/<base36 name> (written
 *             atomically: temp file, fsync, rename, fsync of the directory),
 *             so the sequence is the previous one + 1 across restarts; the
 *             new record is stored there first, then PUT to the DHT.
 *   resolve   "[/ipns/]<name>[/path]" (name: k51…, 12D3…, bafz…, Qm…):
 *             our own name from the local record; others from the cache,
 *             else kad_get_value (validated, the best of the answers).  A
 *             value that is itself /ipns/… is followed, at most
 *             IPNS_RESOLVE_DEPTH_MAX names deep.  The result is the value
 *             with the rest of the path appended ("/ipfs/<cid>/path").
 *   cache     name → value for the record's TTL (capped by
 *             IPNS_CACHE_TTL_MS_MAX and the record's validity), at most
 *             IPNS_CACHE_ENTRIES_MAX names (the oldest entry goes first).
 *   republish a thread (ipns_opts_t.republish_interval_ms; the node uses
 *             IPNS_REPUBLISH_INTERVAL_MS, 4 h, like Kubo) puts our last
 *             record to the DHT again: first after
 *             min(interval, IPNS_REPUBLISH_FIRST_MS), then every interval,
 *             each put waiting at most IPNS_REPUBLISH_TIMEOUT_MS.  A record
 *             with less than 24 h of its validity left is re-signed first
 *             (same value, next sequence, a new 48 h lifetime), so a name
 *             published with the default lifetime never lapses while the
 *             daemon runs.  ipns_free stops it (waiting for a put in
 *             progress: stop the DHT's lookups first, kad_stop, to cut it short).
 * Without a DHT (no routing: p2p off) publish keeps the record locally and
 * resolve answers our own name only; there is no republisher.
 *
 * Threads: the record functions are pure; an ipns_t is thread-safe (one
 * lock for the cache, one that serialises publishes, one for the
 * republisher's stop flag).
 */
#ifndef ANYA_NET_IPNS_H
#define ANYA_NET_IPNS_H

#include <stdint.h>

#include "buf.h"
#include "kad.h"
#include "peer.h"

#define IPNS_RECORD_BYTES_MAX (10u * 1024)
#define IPNS_VALUE_BYTES_MAX 1024
#define IPNS_VALIDITY_TEXT_BYTES 40   /* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" and its NUL, with room */
#define IPNS_LIFETIME_MS_DEFAULT (48ull * 3600 * 1000)   /* boxo's DefaultRecordLifetime */
#define IPNS_TTL_NS_DEFAULT (5ull * 60 * 1000000000)     /* boxo's DefaultRecordTTL */
#define IPNS_RESOLVE_DEPTH_MAX 8      /* /ipns/ values followed in one resolve */
#define IPNS_CACHE_ENTRIES_MAX 1024   /* names cached */
#define IPNS_CACHE_TTL_MS_MAX (60ull * 60 * 1000) /* a record's TTL is honoured up to an hour */
#define IPNS_PATH_BYTES_MAX 4096      /* a resolved path: value and the rest of the request's path */
#define IPNS_REPUBLISH_INTERVAL_MS (4ull * 3600 * 1000) /* Kubo's DefaultRebroadcastInterval */
#define IPNS_REPUBLISH_FIRST_MS (60ull * 1000)          /* the first pass after start (Kubo's initial delay) */
#define IPNS_REPUBLISH_TIMEOUT_MS 60000u                /* one republish's DHT put */

typedef struct ipns_entry {
  char value[IPNS_VALUE_BYTES_MAX + 1]; /* "/ipfs/<cid>[/path]" or "/ipns/..." */
  uint64_t sequence;
  int64_t validity_ms;                  /* EOL, ms since the epoch */
  uint64_t ttl_ns;
} ipns_entry_t;

/* ---- the record ---------------------------------------------------------------- */

/* A signed record for key's name (value: 1 to IPNS_VALUE_BYTES_MAX bytes),
 * appended to out.  -EINVAL bad value, -ERANGE validity past year 9999. */
int ipns_record_create(const peer_key_t *key, const char *value, uint64_t sequence, int64_t validity_ms,
                       uint64_t ttl_ns, buf_t *out);
/* Validates a record for name at now_ms (signature, size, V1/V2
 * agreement, not expired); out may be NULL.  -EBADMSG malformed (also: V1
 * copies that differ from the signed data, no usable key, an unknown
 * validity type), -EACCES bad signature or a key that is not the name's,
 * -ETIME expired, -E2BIG too large, -ENOTSUP a key type other than Ed25519. */
int ipns_record_validate(const peer_id_t *name, const uint8_t *record, size_t len, int64_t now_ms,
                         ipns_entry_t *out);
/* >0 when a is the better record (higher sequence, then later validity),
 * <0 when b is, 0 when they tie. */
int ipns_entry_compare(const ipns_entry_t *a, const ipns_entry_t *b);
/* The DHT key for name into out; returns its length. */
size_t ipns_dht_key(const peer_id_t *name, uint8_t out[6 + PEER_ID_BYTES_MAX]);
/* The name of a DHT key "/ipns/<mh>".  -EINVAL. */
int ipns_name_from_dht_key(const uint8_t *key, size_t key_len, peer_id_t *out);
/* The kad validator for "ipns" (wall clock). */
extern const kad_validator_t ipns_kad_validator;

/* The DAG-CBOR `data` map (appended to out). */
int ipns_data_encode(const char *value, const char *validity, uint64_t sequence, uint64_t ttl_ns, buf_t *out);
/* RFC 3339 text → ms since the epoch (fraction cut to ms; Z or ±HH:MM).  -EBADMSG. */
int ipns_validity_parse(const char *text, size_t len, int64_t *ms_out);
/* ms since the epoch → "YYYY-MM-DDTHH:MM:SS.mmm000000Z".  -ERANGE outside years 0-9999. */
int ipns_validity_format(int64_t ms, char out[IPNS_VALIDITY_TEXT_BYTES]);
/* The wall clock in ms since the epoch. */
int64_t ipns_now_ms(void);

/* ---- publishing and resolving ----------------------------------------------------- */

typedef struct ipns ipns_t;

/* Where records go and come from: the node installs kad_put_value and
 * kad_get_value (ctx = its kad_t) so this module does not link the DHT;
 * tests install a store of their own. */
typedef struct ipns_routing {
  /* Returns how many peers took it (≥ 0) or -errno. */
  int (*put)(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len, uint32_t timeout_ms);
  /* The best valid value for key into out: 0, -ENOENT, -ETIMEDOUT. */
  int (*get)(void *ctx, const uint8_t *key, size_t key_len, buf_t *out, uint32_t timeout_ms);
  void *ctx;
} ipns_routing_t;

/* The routing over the node's DHT: ipns_kad_routing(kad) (inline, so this
 * module links no DHT code unless a caller uses it). */
static inline int ipns_kad_put(void *kad, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len,
                               uint32_t timeout_ms) {
  return kad_put_value(kad, key, key_len, value, value_len, timeout_ms);
}
static inline int ipns_kad_get(void *kad, const uint8_t *key, size_t key_len, buf_t *out, uint32_t timeout_ms) {
  return kad_get_value(kad, key, key_len, out, timeout_ms);
}
static inline ipns_routing_t ipns_kad_routing(kad_t *kad) {
  return (ipns_routing_t){.put = ipns_kad_put, .get = ipns_kad_get, .ctx = kad};
}

typedef struct ipns_opts {
  const ipns_routing_t *routing; /* copied; NULL (or NULL functions): no DHT, local records only */
  const peer_key_t *key;    /* copied: the node's key, whose name we publish */
  const char *repo_path;    /* the repository; records under <repo>/ipns/ */
  int64_t (*now_ms)(void);  /* NULL = ipns_now_ms (tests inject a clock) */
  uint64_t republish_interval_ms; /* > 0 with routing: run the republisher thread at this
                                   * interval (IPNS_REPUBLISH_INTERVAL_MS); 0: none */
} ipns_opts_t;

int ipns_new(const ipns_opts_t *opts, ipns_t **out);
void ipns_free(ipns_t *ipns);

/* Publishes value for our name: "/ipfs/<cid>[/path]", "<cid>[/path]" (taken
 * as /ipfs/) or "/ipns/<name>[/path]"; the CID is checked and written in its
 * default text form.  Sequence = the last record's + 1; validity now +
 * lifetime_ms (0 = IPNS_LIFETIME_MS_DEFAULT); ttl_ns (0 =
 * IPNS_TTL_NS_DEFAULT).  The record is stored locally, then put to the DHT
 * (waiting up to timeout_ms); out (may be NULL) gets the entry.  Returns
 * how many DHT peers took it (0 without a DHT); -EINVAL a bad value. */
int ipns_publish(ipns_t *ipns, const char *value, uint64_t lifetime_ms, uint64_t ttl_ns, uint32_t timeout_ms,
                 ipns_entry_t *out);
/* Resolves "[/ipns/]<name>[/path]" to "/ipfs/<cid>[/path]" in out.  -EINVAL
 * not a name (DNSLink names are not resolved), -ENOENT no record found,
 * -ETIMEDOUT the DHT gave no record in time, -ELOOP deeper than
 * IPNS_RESOLVE_DEPTH_MAX, -ENAMETOOLONG the path would pass
 * IPNS_PATH_BYTES_MAX. */
int ipns_resolve(ipns_t *ipns, const char *name, uint32_t timeout_ms, char out[IPNS_PATH_BYTES_MAX]);
/* Our name in base36 ("k51…"). */
int ipns_self_name(const ipns_t *ipns, char out[PEER_ID_TEXT_BYTES_MAX]);
/* Puts our last record to the DHT again (the republisher thread calls this
 * every republish_interval_ms); a record with less than 24 h of validity
 * left is re-signed first with the same value and the next sequence.  -ENOENT when we never
 * published.  Returns how many peers took it. */
int ipns_republish(ipns_t *ipns, uint32_t timeout_ms);
/* How many passes the republisher thread has finished (for tests and metrics). */
uint64_t ipns_republish_passes(ipns_t *ipns);

#endif
