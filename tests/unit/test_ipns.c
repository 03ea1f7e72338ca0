/*
 * ipns: records (create → validate round trip, the exact bytes of `data`
 * against a record js `ipns` made, every rejection, compare, RFC 3339
 * times, the kad validator) and the publish/resolve service over a
 * routing store of the test's own (sequence across restarts, the cache and
 * its TTL on an injected clock, /ipns/ chains, loops).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "ipns.h"
#include "ipns.pb-c.h"
#include "testdir.h"

#define HOUR_MS (3600ll * 1000)
#define NOW_MS 1767225600000ll /* 2026-01-01T00:00:00Z */

static void key_from_byte(uint8_t b, peer_key_t *key) {
  uint8_t seed[PEER_ED25519_BYTES];
  memset(seed, b, sizeof seed);
  assert_int_equal(peer_key_from_seed(seed, key), 0);
}

static void hex_to(const char *hex, buf_t *out) {
  size_t n = strlen(hex) / 2;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
    assert_int_equal(buf_append_byte(out, (uint8_t)v), 0);
  }
}

/* Edits a record through its protobuf: fn changes the unpacked entry, the
 * result is packed into out. */
static void edit_record(const buf_t *in, void (*fn)(P2p__IpnsEntry *e, void *ctx), void *ctx, buf_t *out) {
  P2p__IpnsEntry *e = p2p__ipns_entry__unpack(NULL, in->len, in->data);
  assert_non_null(e);
  P2p__IpnsEntry saved = *e; /* fn may point fields elsewhere: free what was unpacked */
  fn(e, ctx);
  size_t size = p2p__ipns_entry__get_packed_size(e);
  assert_int_equal(buf_reserve(out, size), 0);
  out->len = p2p__ipns_entry__pack(e, out->data);
  *e = saved;
  p2p__ipns_entry__free_unpacked(e, NULL);
}

/* ---- record ------------------------------------------------------------------- */

static void test_round_trip(void **state) {
  peer_key_t key;
  key_from_byte(0, &key);
  buf_t rec = {0};
  assert_int_equal(ipns_record_create(&key, "/ipfs/bafkqaaa", 7, NOW_MS + HOUR_MS, IPNS_TTL_NS_DEFAULT, &rec), 0);
  assert_true(rec.len < IPNS_RECORD_BYTES_MAX);
  ipns_entry_t e;
  assert_int_equal(ipns_record_validate(&key.id, rec.data, rec.len, NOW_MS, &e), 0);
  assert_string_equal(e.value, "/ipfs/bafkqaaa");
  assert_int_equal(e.sequence, 7);
  assert_int_equal(e.validity_ms, NOW_MS + HOUR_MS);
  assert_int_equal(e.ttl_ns, IPNS_TTL_NS_DEFAULT);
  /* V1 fields are written for old readers; pubKey is not (Ed25519 is inlined). */
  P2p__IpnsEntry *pb = p2p__ipns_entry__unpack(NULL, rec.len, rec.data);
  assert_non_null(pb);
  assert_true(pb->has_value && pb->has_signaturev1 && pb->has_validity && pb->has_validitytype && pb->has_sequence &&
              pb->has_ttl && pb->has_signaturev2 && pb->has_data);
  assert_false(pb->has_pubkey);
  assert_int_equal(pb->signaturev1.len, 64);
  /* signatureV1 is over value ‖ validity ‖ "EOL". */
  buf_t v1 = {0};
  buf_append(&v1, pb->value.data, pb->value.len);
  buf_append(&v1, pb->validity.data, pb->validity.len);
  buf_append(&v1, "EOL", 3);
  assert_int_equal(peer_verify(key.pub_pb, sizeof key.pub_pb, v1.data, v1.len, pb->signaturev1.data, 64), 0);
  buf_free(&v1);
  p2p__ipns_entry__free_unpacked(pb, NULL);
  buf_free(&rec);
}

/* A record js `ipns` 10 (createIPNSRecord, v1Compatible) made for the key
 * with seed 32 × 0x00, value /ipfs/bafkqaaa, sequence 3, validity
 * 2030-01-02T03:04:05.678000000Z, TTL 5 min (tests/interop/ipns-js.sh
 * prints it as "vector"): our record from the same inputs is the same bytes. */
static const char js_vector_hex[] =
    "0a0e2f697066732f6261666b716161611240cebcfddc0847816a679a9e71ad0b0c11d45ffb4c16ee2ca2c244f1d6decb"
    "5a99bb8ecbca72c7f07abc0ea6c052433b395961256249fbe07cab707ca455387f0e1800221e323033302d30312d3032"
    "5430333a30343a30352e3637383030303030305a28033080f092cbdd08424038f99788be36b6f667ce0514aceadfcc79"
    "fe6789f5c5f8f45a05f45d618cec3dbbac9ece4d1c79c0ad0e09f57ad5457dda6577c33a61a488de3048b8462677064a"
    "64a56354544c1b00000045d964b8006556616c75654e2f697066732f6261666b716161616853657175656e6365036856"
    "616c6964697479581e323033302d30312d30325430333a30343a30352e3637383030303030305a6c56616c6964697479"
    "5479706500";

static void test_js_vector(void **state) {
  peer_key_t key;
  key_from_byte(0, &key);
  buf_t js = {0}, ours = {0};
  hex_to(js_vector_hex, &js);
  ipns_entry_t e;
  assert_int_equal(ipns_record_validate(&key.id, js.data, js.len, NOW_MS, &e), 0);
  assert_string_equal(e.value, "/ipfs/bafkqaaa");
  assert_int_equal(e.sequence, 3);
  int64_t validity_ms;
  assert_int_equal(ipns_validity_parse("2030-01-02T03:04:05.678000000Z", 30, &validity_ms), 0);
  assert_int_equal(e.validity_ms, validity_ms);
  assert_int_equal(ipns_record_create(&key, e.value, e.sequence, e.validity_ms, e.ttl_ns, &ours), 0);
  assert_int_equal(ours.len, js.len);
  assert_memory_equal(ours.data, js.data, js.len);
  buf_free(&js);
  buf_free(&ours);
}

static void test_data_bytes(void **state) {
  buf_t data = {0}, want = {0};
  assert_int_equal(ipns_data_encode("/ipfs/bafkqaaa", "2030-01-02T03:04:05.678000000Z", 3, 300000000000ull, &data), 0);
  hex_to("a5"
         "63" "54544c" "1b00000045d964b800"                                    /* TTL */
         "65" "56616c7565" "4e" "2f697066732f6261666b71616161"                /* Value */
         "68" "53657175656e6365" "03"                                          /* Sequence */
         "68" "56616c6964697479" "581e" "323033302d30312d30325430333a30343a30352e3637383030303030305a" /* Validity */
         "6c" "56616c696469747954797065" "00",                                 /* ValidityType */
         &want);
  assert_int_equal(data.len, want.len);
  assert_memory_equal(data.data, want.data, want.len);
  buf_free(&data);
  buf_free(&want);
}

static void set_value(P2p__IpnsEntry *e, void *ctx) {
  e->value.data = (uint8_t *)ctx, e->value.len = strlen(ctx);
}
static void set_sequence(P2p__IpnsEntry *e, void *ctx) { e->sequence++; }
static void set_ttl(P2p__IpnsEntry *e, void *ctx) { e->ttl = 1; }
static void set_validity(P2p__IpnsEntry *e, void *ctx) {
  e->validity.data = (uint8_t *)ctx, e->validity.len = strlen(ctx);
}
static void flip_sig_v2(P2p__IpnsEntry *e, void *ctx) { e->signaturev2.data[5] ^= 1; }
static void flip_data(P2p__IpnsEntry *e, void *ctx) { e->data.data[e->data.len - 1] ^= 1; }
static void drop_v2(P2p__IpnsEntry *e, void *ctx) { e->has_data = 0, e->has_signaturev2 = 0; }
static void drop_v1(P2p__IpnsEntry *e, void *ctx) {
  e->has_value = e->has_signaturev1 = e->has_validity = e->has_validitytype = e->has_sequence = e->has_ttl = 0;
}
static void set_pubkey(P2p__IpnsEntry *e, void *ctx) {
  const peer_key_t *k = ctx;
  e->has_pubkey = 1, e->pubkey.data = (uint8_t *)k->pub_pb, e->pubkey.len = sizeof k->pub_pb;
}

static void test_rejections(void **state) {
  peer_key_t key, other;
  key_from_byte(0, &key);
  key_from_byte(1, &other);
  buf_t rec = {0}, bad = {0};
  assert_int_equal(ipns_record_create(&key, "/ipfs/bafkqaaa", 1, NOW_MS + HOUR_MS, IPNS_TTL_NS_DEFAULT, &rec), 0);
  /* wrong name: another key's name */
  assert_int_equal(ipns_record_validate(&other.id, rec.data, rec.len, NOW_MS, NULL), -EACCES);
  /* bad signature; tampered data */
  edit_record(&rec, flip_sig_v2, NULL, &bad);
  assert_int_equal(ipns_record_validate(&key.id, bad.data, bad.len, NOW_MS, NULL), -EACCES);
  buf_reset(&bad);
  edit_record(&rec, flip_data, NULL, &bad);
  int rc = ipns_record_validate(&key.id, bad.data, bad.len, NOW_MS, NULL);
  assert_true(rc == -EACCES || rc == -EBADMSG);
  /* expired: at its validity and after */
  assert_int_equal(ipns_record_validate(&key.id, rec.data, rec.len, NOW_MS + HOUR_MS, NULL), -ETIME);
  assert_int_equal(ipns_record_validate(&key.id, rec.data, rec.len, NOW_MS + 2 * HOUR_MS, NULL), -ETIME);
  assert_int_equal(ipns_record_validate(&key.id, rec.data, rec.len, NOW_MS + HOUR_MS - 1, NULL), 0);
  /* V1 copies that differ from the signed data */
  void (*const mismatches[])(P2p__IpnsEntry *, void *) = {set_value, set_sequence, set_ttl, set_validity};
  void *ctxs[] = {"/ipfs/bafkqaab", NULL, NULL, "2099-01-01T00:00:00.000000000Z"};
  for (size_t i = 0; i < 4; i++) {
    buf_reset(&bad);
    edit_record(&rec, mismatches[i], ctxs[i], &bad);
    assert_int_equal(ipns_record_validate(&key.id, bad.data, bad.len, NOW_MS, NULL), -EBADMSG);
  }
  /* V1-only (no data, no signatureV2) is refused; V2-only is fine */
  buf_reset(&bad);
  edit_record(&rec, drop_v2, NULL, &bad);
  assert_int_equal(ipns_record_validate(&key.id, bad.data, bad.len, NOW_MS, NULL), -EBADMSG);
  buf_reset(&bad);
  edit_record(&rec, drop_v1, NULL, &bad);
  ipns_entry_t e;
  assert_int_equal(ipns_record_validate(&key.id, bad.data, bad.len, NOW_MS, &e), 0);
  assert_string_equal(e.value, "/ipfs/bafkqaaa");
  /* an embedded pubKey: ours is accepted, another's is not the name's */
  buf_reset(&bad);
  edit_record(&rec, set_pubkey, &key, &bad);
  assert_int_equal(ipns_record_validate(&key.id, bad.data, bad.len, NOW_MS, NULL), 0);
  buf_reset(&bad);
  edit_record(&rec, set_pubkey, &other, &bad);
  assert_int_equal(ipns_record_validate(&key.id, bad.data, bad.len, NOW_MS, NULL), -EACCES);
  /* oversize, before anything is parsed */
  buf_reset(&bad);
  buf_append(&bad, rec.data, rec.len);
  while (bad.len <= IPNS_RECORD_BYTES_MAX) buf_append_byte(&bad, 0);
  assert_int_equal(ipns_record_validate(&key.id, bad.data, bad.len, NOW_MS, NULL), -E2BIG);
  /* not a protobuf; empty */
  static const uint8_t junk[] = {0xff, 0xff, 0xff};
  assert_int_equal(ipns_record_validate(&key.id, junk, sizeof junk, NOW_MS, NULL), -EBADMSG);
  assert_int_equal(ipns_record_validate(&key.id, NULL, 0, NOW_MS, NULL), -EBADMSG);
  /* a hashed (RSA-style) name with no embedded key: no key to check with */
  peer_id_t hashed = {.len = 34};
  hashed.bytes[0] = 0x12, hashed.bytes[1] = 0x20;
  assert_int_equal(ipns_record_validate(&hashed, rec.data, rec.len, NOW_MS, NULL), -EBADMSG);
  /* creation refuses empty and oversized values */
  char big[IPNS_VALUE_BYTES_MAX + 2];
  memset(big, 'a', sizeof big - 1), big[sizeof big - 1] = 0;
  assert_int_equal(ipns_record_create(&key, "", 1, NOW_MS, 1, &bad), -EINVAL);
  assert_int_equal(ipns_record_create(&key, big, 1, NOW_MS, 1, &bad), -EINVAL);
  buf_free(&rec);
  buf_free(&bad);
}

static void test_compare(void **state) {
  ipns_entry_t a = {.sequence = 2, .validity_ms = 10}, b = {.sequence = 1, .validity_ms = 20};
  assert_true(ipns_entry_compare(&a, &b) > 0);
  assert_true(ipns_entry_compare(&b, &a) < 0);
  b.sequence = 2;
  assert_true(ipns_entry_compare(&b, &a) > 0);
  b.validity_ms = 10;
  assert_int_equal(ipns_entry_compare(&a, &b), 0);
}

static void test_validity_text(void **state) {
  char text[IPNS_VALIDITY_TEXT_BYTES];
  assert_int_equal(ipns_validity_format(NOW_MS + 123, text), 0);
  assert_string_equal(text, "2026-01-01T00:00:00.123000000Z");
  assert_int_equal(ipns_validity_format(0, text), 0);
  assert_string_equal(text, "1970-01-01T00:00:00.000000000Z");
  int64_t ms;
  assert_int_equal(ipns_validity_parse("2026-01-01T00:00:00.123456789Z", 30, &ms), 0);
  assert_int_equal(ms, NOW_MS + 123);
  assert_int_equal(ipns_validity_parse("2026-01-01T00:00:00Z", 20, &ms), 0);
  assert_int_equal(ms, NOW_MS);
  assert_int_equal(ipns_validity_parse("2026-01-01T02:00:00.5+02:00", 27, &ms), 0);
  assert_int_equal(ms, NOW_MS + 500);
  assert_int_equal(ipns_validity_parse("2000-02-29T12:00:00Z", 20, &ms), 0);
  assert_int_equal(ipns_validity_format(ms, text), 0);
  assert_string_equal(text, "2000-02-29T12:00:00.000000000Z");
  static const char *const bad[] = {"2026-01-01 00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00",
                                    "2026-01-01T00:00:00.Z", "2026-01-01T24:00:00Z", "x026-01-01T00:00:00Z", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(ipns_validity_parse(bad[i], strlen(bad[i]), &ms), -EBADMSG);
}

static void test_kad_validator(void **state) {
  peer_key_t key;
  key_from_byte(0, &key);
  uint8_t dht_key[6 + PEER_ID_BYTES_MAX];
  size_t key_len = ipns_dht_key(&key.id, dht_key);
  assert_int_equal(key_len, 6 + 38);
  assert_memory_equal(dht_key, "/ipns/\x00\x24\x08\x01\x12\x20", 12);
  int64_t now = ipns_now_ms();
  buf_t recs[3] = {{0}};
  assert_int_equal(ipns_record_create(&key, "/ipfs/bafkqaaa", 1, now + HOUR_MS, 1, &recs[0]), 0);
  assert_int_equal(ipns_record_create(&key, "/ipfs/bafkqaab", 3, now + HOUR_MS, 1, &recs[1]), 0);
  assert_int_equal(ipns_record_create(&key, "/ipfs/bafkqaac", 3, now + 2 * HOUR_MS, 1, &recs[2]), 0);
  const kad_validator_t *v = &ipns_kad_validator;
  assert_string_equal(v->namespace_name, "ipns");
  assert_int_equal(v->validate(v->ctx, dht_key, key_len, recs[0].data, recs[0].len), 0);
  assert_int_not_equal(v->validate(v->ctx, (const uint8_t *)"/pk/x", 5, recs[0].data, recs[0].len), 0);
  assert_int_equal(v->select(v->ctx, dht_key, key_len, recs, 3), 2);
  assert_int_equal(v->select(v->ctx, dht_key, key_len, recs, 2), 1);
  for (int i = 0; i < 3; i++) buf_free(&recs[i]);
}

/* ---- the service ---------------------------------------------------------------- */

#define STORE_MAX 8
typedef struct store {
  buf_t key[STORE_MAX], value[STORE_MAX];
  size_t len;
  int puts, gets;
} store_t;

static int store_put(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len,
                     uint32_t timeout_ms) {
  store_t *s = ctx;
  size_t i = 0;
  while (i < s->len && !(s->key[i].len == key_len && memcmp(s->key[i].data, key, key_len) == 0)) i++;
  if (i == STORE_MAX) return -ENOSPC;
  if (i == s->len) buf_append(&s->key[s->len++], key, key_len);
  buf_reset(&s->value[i]);
  buf_append(&s->value[i], value, value_len);
  s->puts++;
  return 1;
}

static int store_get(void *ctx, const uint8_t *key, size_t key_len, buf_t *out, uint32_t timeout_ms) {
  store_t *s = ctx;
  s->gets++;
  for (size_t i = 0; i < s->len; i++)
    if (s->key[i].len == key_len && memcmp(s->key[i].data, key, key_len) == 0)
      return buf_append(out, s->value[i].data, s->value[i].len);
  return -ENOENT;
}

static void store_free(store_t *s) {
  for (size_t i = 0; i < s->len; i++) buf_free(&s->key[i]), buf_free(&s->value[i]);
}

static int64_t clock_ms = NOW_MS;
static int64_t test_clock(void) { return clock_ms; }

/* Puts a record of key's name for value into the store (as another node would). */
static void put_other(store_t *s, const peer_key_t *key, const char *value, uint64_t seq, uint64_t ttl_ns) {
  buf_t rec = {0};
  uint8_t dk[6 + PEER_ID_BYTES_MAX];
  assert_int_equal(ipns_record_create(key, value, seq, clock_ms + 10 * HOUR_MS, ttl_ns, &rec), 0);
  assert_int_equal(store_put(s, dk, ipns_dht_key(&key->id, dk), rec.data, rec.len, 0), 1);
  buf_free(&rec);
}

static void test_publish_resolve(void **state) {
  char dir[256];
  assert_int_equal(testdir_make(dir, sizeof dir, "ipns"), 0);
  peer_key_t self, b, c;
  key_from_byte(0, &self), key_from_byte(2, &b), key_from_byte(3, &c);
  store_t store = {0};
  ipns_routing_t routing = {store_put, store_get, &store};
  ipns_opts_t opts = {.routing = &routing, .key = &self, .repo_path = dir, .now_ms = test_clock};
  ipns_t *n;
  assert_int_equal(ipns_new(&opts, &n), 0);
  char self_name[PEER_ID_TEXT_BYTES_MAX], path[IPNS_PATH_BYTES_MAX];
  ipns_self_name(n, self_name);
  assert_string_equal(self_name, "k51qzi5uqu5dhnwe629wdlncpql6frppdpwnz4wtlcw816aysd5wwlk63g4wmh");
  assert_int_equal(ipns_resolve(n, self_name, 10, path), -ENOENT);
  ipns_entry_t e;
  /* a CIDv0 given bare is published as /ipfs/<it>; sequences count up */
  assert_int_equal(ipns_publish(n, "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH", 0, 0, 10, &e), 1);
  assert_string_equal(e.value, "/ipfs/QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH");
  assert_int_equal(e.sequence, 0);
  assert_int_equal(e.validity_ms, NOW_MS + (int64_t)IPNS_LIFETIME_MS_DEFAULT);
  assert_int_equal(ipns_publish(n, "/ipfs/bafkqaaa/a/b", 0, 0, 10, &e), 1);
  assert_int_equal(e.sequence, 1);
  assert_int_equal(store.puts, 2);
  assert_int_equal(ipns_publish(n, "/ipfs/not-a-cid", 0, 0, 10, &e), -EINVAL);
  assert_int_equal(ipns_publish(n, "/ipns/nope", 0, 0, 10, &e), -EINVAL);
  /* our name resolves from the local record, with the rest of the path */
  assert_int_equal(ipns_resolve(n, self_name, 10, path), 0);
  assert_string_equal(path, "/ipfs/bafkqaaa/a/b");
  assert_int_equal(ipns_resolve(n, "/ipns/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/c", 10, path), 0);
  assert_string_equal(path, "/ipfs/bafkqaaa/a/b/c");
  ipns_free(n);
  /* a restart: the sequence goes on from the stored record */
  assert_int_equal(ipns_new(&opts, &n), 0);
  assert_int_equal(ipns_publish(n, "/ipfs/bafkqaalb", 0, 0, 10, &e), 1);
  assert_int_equal(e.sequence, 2);
  /* another name through the routing store, cached for its TTL (1 s) */
  put_other(&store, &b, "/ipfs/bafkqaalc", 5, 1000000000ull);
  char b_name[PEER_ID_TEXT_BYTES_MAX];
  peer_id_format_base36(&b.id, b_name);
  assert_int_equal(ipns_resolve(n, b_name, 10, path), 0);
  assert_string_equal(path, "/ipfs/bafkqaalc");
  put_other(&store, &b, "/ipfs/bafkqaald", 6, 1000000000ull);
  int gets = store.gets;
  clock_ms += 999;
  assert_int_equal(ipns_resolve(n, b_name, 10, path), 0);
  assert_string_equal(path, "/ipfs/bafkqaalc"); /* cached */
  assert_int_equal(store.gets, gets);
  clock_ms += 1;
  assert_int_equal(ipns_resolve(n, b_name, 10, path), 0);
  assert_string_equal(path, "/ipfs/bafkqaald"); /* the TTL passed */
  /* a chain: c → /ipns/b/x → /ipfs/…/x/y; and a loop b ↔ c */
  char value[256];
  snprintf(value, sizeof value, "/ipns/%s/x", b_name);
  put_other(&store, &c, value, 1, 0);
  char c_name[PEER_ID_TEXT_BYTES_MAX];
  peer_id_format(&c.id, c_name);
  snprintf(value, sizeof value, "%s/y", c_name);
  assert_int_equal(ipns_resolve(n, value, 10, path), 0);
  assert_string_equal(path, "/ipfs/bafkqaald/x/y");
  clock_ms += 2000;
  snprintf(value, sizeof value, "/ipns/%s", c_name);
  put_other(&store, &b, value, 7, 0);
  assert_int_equal(ipns_resolve(n, c_name, 10, path), -ELOOP);
  /* not names; unknown names */
  assert_int_equal(ipns_resolve(n, "example.com", 10, path), -EINVAL);
  assert_int_equal(ipns_resolve(n, "", 10, path), -EINVAL);
  char d_name[PEER_ID_TEXT_BYTES_MAX];
  peer_key_t d;
  key_from_byte(4, &d);
  peer_id_format(&d.id, d_name);
  assert_int_equal(ipns_resolve(n, d_name, 10, path), -ENOENT);
  /* an invalid record in the routing store is not believed */
  uint8_t dk[6 + PEER_ID_BYTES_MAX];
  store_put(&store, dk, ipns_dht_key(&d.id, dk), (const uint8_t *)"junk", 4, 0);
  assert_int_equal(ipns_resolve(n, d_name, 10, path), -EBADMSG);
  ipns_free(n);
  /* without routing: our own name only */
  opts.routing = NULL;
  assert_int_equal(ipns_new(&opts, &n), 0);
  assert_int_equal(ipns_publish(n, "/ipfs/bafkqaale", 0, 0, 10, &e), 0);
  assert_int_equal(e.sequence, 3);
  assert_int_equal(ipns_resolve(n, self_name, 10, path), 0);
  assert_string_equal(path, "/ipfs/bafkqaale");
  assert_int_equal(ipns_resolve(n, b_name, 10, path), -ENOENT);
  /* our record expires: re-signed by republish with the next sequence */
  clock_ms += 47 * HOUR_MS;
  assert_int_equal(ipns_republish(n, 10), 0);
  clock_ms += 2 * HOUR_MS;
  assert_int_equal(ipns_resolve(n, self_name, 10, path), 0);
  ipns_free(n);
  store_free(&store);
  testdir_remove(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_js_vector),
      cmocka_unit_test(test_data_bytes),     cmocka_unit_test(test_rejections),
      cmocka_unit_test(test_compare),        cmocka_unit_test(test_validity_text),
      cmocka_unit_test(test_kad_validator),  cmocka_unit_test(test_publish_resolve),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
