/*
 * ipns: IPNS records (see ipns.h): the IpnsEntry protobuf by protoc-c, the
 * DAG-CBOR `data` map written and read by hand (five known keys; a reader
 * skips others, as the spec asks), RFC 3339 validity times, the
 * validation steps of the spec in their order, and the kad validator.
 */
#include "ipns.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "ipns.pb-c.h"

#define SIG_V2_PREFIX "ipns-signature:"
#define SIG_V2_PREFIX_BYTES (sizeof SIG_V2_PREFIX - 1)
#define CBOR_DEPTH_MAX 16       /* nesting of an unknown value we skip */
#define CBOR_MAP_PAIRS_MAX 64   /* keys in the data map */
#define CBOR_KEY_BYTES_MAX 64   /* a key we look at (longer ones are skipped as unknown) */

/* ---- RFC 3339 ----------------------------------------------------------------- */

static int digits(const char *s, size_t n, unsigned *out) {
  unsigned v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  *out = v;
  return 0;
}

int ipns_validity_parse(const char *text, size_t len, int64_t *ms_out) {
  /* YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM) */
  unsigned year, month, day, hour, minute, second, frac_ms = 0;
  if (len < 20 || len > 64 || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't') ||
      text[13] != ':' || text[16] != ':' || digits(text, 4, &year) || digits(text + 5, 2, &month) ||
      digits(text + 8, 2, &day) || digits(text + 11, 2, &hour) || digits(text + 14, 2, &minute) ||
      digits(text + 17, 2, &second))
    return err_set(-EBADMSG, "IPNS validity '%.*s' is not an RFC 3339 time", (int)(len > 64 ? 64 : len), text);
  size_t i = 19;
  if (i < len && text[i] == '.') {
    size_t start = ++i;
    while (i < len && text[i] >= '0' && text[i] <= '9') {
      if (i - start < 3) frac_ms = frac_ms * 10 + (unsigned)(text[i] - '0');
      i++;
    }
    if (i == start) return err_set(-EBADMSG, "IPNS validity: empty fraction of a second");
    for (size_t k = i - start; k < 3; k++) frac_ms *= 10;
  }
  int64_t offset_s = 0;
  if (i + 1 == len && (text[i] == 'Z' || text[i] == 'z')) {
    i++;
  } else if (i + 6 == len && (text[i] == '+' || text[i] == '-') && text[i + 3] == ':') {
    unsigned oh, om;
    if (digits(text + i + 1, 2, &oh) || digits(text + i + 4, 2, &om) || oh > 23 || om > 59)
      return err_set(-EBADMSG, "IPNS validity: bad time zone offset");
    offset_s = (int64_t)(oh * 3600 + om * 60) * (text[i] == '-' ? -1 : 1);
    i += 6;
  }
  if (i != len) return err_set(-EBADMSG, "IPNS validity '%.*s' is not an RFC 3339 time", (int)(len > 64 ? 64 : len), text);
  static const unsigned month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || day > month_days[month - 1] || hour > 23 || minute > 59 || second > 60)
    return err_set(-EBADMSG, "IPNS validity '%.*s': a field is out of range", (int)len, text);
  if (second == 60) second = 59; /* a leap second: the instant before is close enough */
  struct tm tm = {.tm_year = (int)year - 1900, .tm_mon = (int)month - 1, .tm_mday = (int)day,
                  .tm_hour = (int)hour, .tm_min = (int)minute, .tm_sec = (int)second};
  *ms_out = ((int64_t)timegm(&tm) - offset_s) * 1000 + frac_ms;
  return 0;
}

int ipns_validity_format(int64_t ms, char out[IPNS_VALIDITY_TEXT_BYTES]) {
  int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  int64_t frac = ms - s * 1000;
  time_t t = (time_t)s;
  struct tm tm;
  if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
    return err_set(-ERANGE, "IPNS validity out of the years 0000-9999");
  snprintf(out, IPNS_VALIDITY_TEXT_BYTES, "%04d-%02d-%02dT%02d:%02d:%02d.%03d000000Z", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
  return 0;
}

/* ---- DAG-CBOR data ---------------------------------------------------------------- */

static int cbor_head(buf_t *b, uint8_t major, uint64_t v) {
  uint8_t h[9];
  size_t n;
  if (v < 24) h[0] = (uint8_t)(major << 5 | v), n = 1;
  else if (v <= 0xff) h[0] = (uint8_t)(major << 5 | 24), h[1] = (uint8_t)v, n = 2;
  else if (v <= 0xffff) h[0] = (uint8_t)(major << 5 | 25), h[1] = (uint8_t)(v >> 8), h[2] = (uint8_t)v, n = 3;
  else if (v <= 0xffffffffu) {
    h[0] = (uint8_t)(major << 5 | 26), n = 5;
    for (int i = 0; i < 4; i++) h[1 + i] = (uint8_t)(v >> (24 - 8 * i));
  } else {
    h[0] = (uint8_t)(major << 5 | 27), n = 9;
    for (int i = 0; i < 8; i++) h[1 + i] = (uint8_t)(v >> (56 - 8 * i));
  }
  return buf_append(b, h, n);
}

static int cbor_key(buf_t *b, const char *key) {
  int rc = cbor_head(b, 3, strlen(key));
  return rc ? rc : buf_append(b, key, strlen(key));
}

static int cbor_bytes(buf_t *b, const void *data, size_t len) {
  int rc = cbor_head(b, 2, len);
  return rc ? rc : buf_append(b, data, len);
}

int ipns_data_encode(const char *value, const char *validity, uint64_t sequence, uint64_t ttl_ns, buf_t *out) {
  /* DAG-CBOR map keys: length first, then bytewise. */
  int rc = cbor_head(out, 5, 5);
  if (!rc) rc = cbor_key(out, "TTL");
  if (!rc) rc = cbor_head(out, 0, ttl_ns);
  if (!rc) rc = cbor_key(out, "Value");
  if (!rc) rc = cbor_bytes(out, value, strlen(value));
  if (!rc) rc = cbor_key(out, "Sequence");
  if (!rc) rc = cbor_head(out, 0, sequence);
  if (!rc) rc = cbor_key(out, "Validity");
  if (!rc) rc = cbor_bytes(out, validity, strlen(validity));
  if (!rc) rc = cbor_key(out, "ValidityType");
  if (!rc) rc = cbor_head(out, 0, 0);
  return rc;
}

typedef struct cbor_reader {
  const uint8_t *p;
  size_t left;
} cbor_reader_t;

/* One item's head: major type and argument (definite lengths only, as
 * DAG-CBOR).  For major 7 the argument is the simple value or float bits. */
static int cbor_read_head(cbor_reader_t *r, uint8_t *major, uint64_t *arg) {
  if (!r->left) return -EBADMSG;
  uint8_t ib = *r->p++;
  r->left--;
  *major = ib >> 5;
  uint8_t ai = ib & 31;
  if (ai < 24) {
    *arg = ai;
    return 0;
  }
  if (ai > 27) return -EBADMSG; /* reserved, or indefinite length */
  size_t n = (size_t)1 << (ai - 24);
  if (r->left < n) return -EBADMSG;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v = v << 8 | r->p[i];
  r->p += n, r->left -= n;
  *arg = v;
  return 0;
}

static int cbor_skip(cbor_reader_t *r, int depth) {
  if (depth > CBOR_DEPTH_MAX) return -EBADMSG;
  uint8_t major;
  uint64_t arg;
  int rc = cbor_read_head(r, &major, &arg);
  if (rc) return rc;
  switch (major) {
    case 0: case 1: case 7: return 0;
    case 2: case 3:
      if (arg > r->left) return -EBADMSG;
      r->p += arg, r->left -= arg;
      return 0;
    case 4: case 5: {
      if (arg > r->left) return -EBADMSG; /* every item takes at least a byte */
      uint64_t items = major == 5 ? arg * 2 : arg;
      for (uint64_t i = 0; i < items; i++)
        if ((rc = cbor_skip(r, depth + 1))) return rc;
      return 0;
    }
    default: /* 6: a tag, then its item */
      return cbor_skip(r, depth + 1);
  }
}

typedef struct ipns_data {
  const uint8_t *value;
  size_t value_len;
  const uint8_t *validity;
  size_t validity_len;
  uint64_t validity_type;
  uint64_t sequence;
  uint64_t ttl_ns;
  bool has_value, has_validity, has_validity_type, has_sequence, has_ttl;
} ipns_data_t;

static int data_fail(const char *what) { return err_set(-EBADMSG, "IPNS record data (DAG-CBOR): %s", what); }

static int data_decode(const uint8_t *data, size_t len, ipns_data_t *d) {
  memset(d, 0, sizeof *d);
  cbor_reader_t r = {data, len};
  uint8_t major;
  uint64_t pairs;
  if (cbor_read_head(&r, &major, &pairs) || major != 5) return data_fail("not a map");
  if (pairs > CBOR_MAP_PAIRS_MAX) return data_fail("too many keys");
  for (uint64_t i = 0; i < pairs; i++) {
    uint64_t klen, arg;
    if (cbor_read_head(&r, &major, &klen) || major != 3 || klen > r.left) return data_fail("a key is not a string");
    const char *key = (const char *)r.p;
    r.p += klen, r.left -= klen;
#define KEY_IS(k) (klen == sizeof k - 1 && memcmp(key, k, klen) == 0)
    bool *seen = KEY_IS("Value") ? &d->has_value
                 : KEY_IS("Validity") ? &d->has_validity
                 : KEY_IS("ValidityType") ? &d->has_validity_type
                 : KEY_IS("Sequence") ? &d->has_sequence
                 : KEY_IS("TTL") ? &d->has_ttl : NULL;
    if (!seen) {
      if (cbor_skip(&r, 1)) return data_fail("a value is malformed");
      continue;
    }
    if (*seen) return data_fail("a key appears twice");
    *seen = true;
    if (cbor_read_head(&r, &major, &arg)) return data_fail("truncated");
    if (KEY_IS("Value") || KEY_IS("Validity")) {
      if (major != 2 || arg > r.left) return data_fail("Value and Validity must be byte strings");
      if (KEY_IS("Value")) d->value = r.p, d->value_len = (size_t)arg;
      else d->validity = r.p, d->validity_len = (size_t)arg;
      r.p += arg, r.left -= arg;
    } else {
      if (major != 0) return data_fail("ValidityType, Sequence and TTL must be unsigned integers");
      if (KEY_IS("ValidityType")) d->validity_type = arg;
      else if (KEY_IS("Sequence")) d->sequence = arg;
      else d->ttl_ns = arg;
    }
#undef KEY_IS
  }
  if (r.left) return data_fail("bytes after the map");
  if (!d->has_value || !d->has_validity || !d->has_validity_type || !d->has_sequence)
    return data_fail("Value, Validity, ValidityType and Sequence are required");
  return 0;
}

/* ---- create ---------------------------------------------------------------------- */

int ipns_record_create(const peer_key_t *key, const char *value, uint64_t sequence, int64_t validity_ms,
                       uint64_t ttl_ns, buf_t *out) {
  assert(key && value && out);
  size_t value_len = strlen(value);
  if (!value_len || value_len > IPNS_VALUE_BYTES_MAX)
    return err_set(-EINVAL, "an IPNS value is 1 to %u bytes", IPNS_VALUE_BYTES_MAX);
  char validity[IPNS_VALIDITY_TEXT_BYTES];
  int rc = ipns_validity_format(validity_ms, validity);
  if (rc) return rc;
  buf_t data = {0}, signed_v2 = {0}, signed_v1 = {0};
  uint8_t sig_v2[64], sig_v1[64];
  rc = ipns_data_encode(value, validity, sequence, ttl_ns, &data);
  if (!rc) rc = buf_append(&signed_v2, SIG_V2_PREFIX, SIG_V2_PREFIX_BYTES);
  if (!rc) rc = buf_append(&signed_v2, data.data, data.len);
  if (!rc) rc = peer_sign(key, signed_v2.data, signed_v2.len, sig_v2);
  /* V1, for readers from before 2021: value ‖ validity ‖ "EOL". */
  if (!rc) rc = buf_append(&signed_v1, value, value_len);
  if (!rc) rc = buf_append(&signed_v1, validity, strlen(validity));
  if (!rc) rc = buf_append(&signed_v1, "EOL", 3);
  if (!rc) rc = peer_sign(key, signed_v1.data, signed_v1.len, sig_v1);
  if (!rc) {
    P2p__IpnsEntry e = P2P__IPNS_ENTRY__INIT;
    e.has_value = 1, e.value.data = (uint8_t *)value, e.value.len = value_len;
    e.has_signaturev1 = 1, e.signaturev1.data = sig_v1, e.signaturev1.len = sizeof sig_v1;
    e.has_validitytype = 1, e.validitytype = P2P__IPNS_ENTRY__VALIDITY_TYPE__EOL;
    e.has_validity = 1, e.validity.data = (uint8_t *)validity, e.validity.len = strlen(validity);
    e.has_sequence = 1, e.sequence = sequence;
    e.has_ttl = 1, e.ttl = ttl_ns;
    /* pubKey stays out: an Ed25519 key is inlined in the name (identity multihash). */
    e.has_signaturev2 = 1, e.signaturev2.data = sig_v2, e.signaturev2.len = sizeof sig_v2;
    e.has_data = 1, e.data.data = data.data, e.data.len = data.len;
    size_t size = p2p__ipns_entry__get_packed_size(&e);
    if (size > IPNS_RECORD_BYTES_MAX) rc = err_set(-E2BIG, "the IPNS record would be %zu bytes (limit %u)", size, IPNS_RECORD_BYTES_MAX);
    else if (!(rc = buf_reserve(out, size))) {
      size_t n = p2p__ipns_entry__pack(&e, out->data + out->len);
      assert(n == size);
      out->len += n;
    }
  }
  buf_free(&data);
  buf_free(&signed_v2);
  buf_free(&signed_v1);
  return rc;
}

/* ---- validate -------------------------------------------------------------------- */

static int v1_mismatch(const char *field) {
  return err_set(-EBADMSG, "IPNS record: the V1 field '%s' differs from the signed data", field);
}

int ipns_record_validate(const peer_id_t *name, const uint8_t *record, size_t len, int64_t now_ms,
                         ipns_entry_t *out) {
  assert(name && (record || !len));
  if (len > IPNS_RECORD_BYTES_MAX) return err_set(-E2BIG, "IPNS record of %zu bytes (limit %u)", len, IPNS_RECORD_BYTES_MAX);
  P2p__IpnsEntry *e = p2p__ipns_entry__unpack(NULL, len, record);
  if (!e) return err_set(-EBADMSG, "IPNS record: not an IpnsEntry protobuf");
  int rc = 0;
  buf_t signed_v2 = {0};
  ipns_data_t d;
  const uint8_t *pub = NULL;
  size_t pub_len = 0;
  if (!e->has_data || !e->data.len || !e->has_signaturev2 || !e->signaturev2.len) {
    rc = err_set(-EBADMSG, "IPNS record: data or signatureV2 is missing (a V1-only record)");
  } else if (e->has_pubkey && e->pubkey.len) {
    peer_id_t embedded;
    rc = peer_id_from_pubkey(e->pubkey.data, e->pubkey.len, &embedded);
    if (rc) rc = err_set(-EBADMSG, "IPNS record: the embedded public key is malformed");
    else if (!peer_id_equal(&embedded, name)) rc = err_set(-EACCES, "IPNS record: the embedded public key is not the name's");
    pub = e->pubkey.data, pub_len = e->pubkey.len;
  } else if (peer_id_pubkey(name, &pub, &pub_len) != 0) {
    rc = err_set(-EBADMSG, "IPNS record: no public key (the name is a hash and the record embeds none)");
  }
  if (!rc) rc = data_decode(e->data.data, e->data.len, &d);
  if (!rc) rc = buf_append(&signed_v2, SIG_V2_PREFIX, SIG_V2_PREFIX_BYTES);
  if (!rc) rc = buf_append(&signed_v2, e->data.data, e->data.len);
  if (!rc) {
    rc = peer_verify(pub, pub_len, signed_v2.data, signed_v2.len, e->signaturev2.data, e->signaturev2.len);
    if (rc == -EBADMSG) rc = err_set(-EACCES, "IPNS record: signatureV2 does not verify with the name's key");
    else if (rc == -EINVAL) rc = err_set(-EBADMSG, "IPNS record: the public key is malformed");
    else if (rc == -ENOTSUP) rc = err_set(-ENOTSUP, "IPNS record: a key type that cannot be verified");
  }
  /* The V1 copies, when present, must say what the signed data says. */
  if (!rc && (e->has_signaturev1 || e->has_value)) {
    if (!(e->value.len == d.value_len && (!d.value_len || memcmp(e->value.data, d.value, d.value_len) == 0)))
      rc = v1_mismatch("value");
    else if (!(e->validity.len == d.validity_len &&
               (!d.validity_len || memcmp(e->validity.data, d.validity, d.validity_len) == 0)))
      rc = v1_mismatch("validity");
    else if ((uint64_t)(e->has_validitytype ? e->validitytype : 0) != d.validity_type)
      rc = v1_mismatch("validityType");
    else if ((e->has_sequence ? e->sequence : 0) != d.sequence)
      rc = v1_mismatch("sequence");
    else if ((e->has_ttl ? e->ttl : 0) != d.ttl_ns)
      rc = v1_mismatch("ttl");
  }
  int64_t validity_ms = 0;
  if (!rc && d.validity_type != 0) rc = err_set(-EBADMSG, "IPNS record: unknown ValidityType %llu", (unsigned long long)d.validity_type);
  if (!rc) rc = ipns_validity_parse((const char *)d.validity, d.validity_len, &validity_ms);
  if (!rc && validity_ms <= now_ms) rc = err_set(-ETIME, "IPNS record expired at %.*s", (int)d.validity_len, (const char *)d.validity);
  if (!rc && (!d.value_len || d.value_len > IPNS_VALUE_BYTES_MAX || memchr(d.value, 0, d.value_len)))
    rc = err_set(-EBADMSG, "IPNS record: a Value of %zu bytes (1 to %u, no NUL)", d.value_len, IPNS_VALUE_BYTES_MAX);
  if (!rc && out) {
    memcpy(out->value, d.value, d.value_len);
    out->value[d.value_len] = 0;
    out->sequence = d.sequence;
    out->validity_ms = validity_ms;
    out->ttl_ns = d.has_ttl ? d.ttl_ns : 0;
  }
  buf_free(&signed_v2);
  p2p__ipns_entry__free_unpacked(e, NULL);
  return rc;
}

int ipns_entry_compare(const ipns_entry_t *a, const ipns_entry_t *b) {
  if (a->sequence != b->sequence) return a->sequence > b->sequence ? 1 : -1;
  if (a->validity_ms != b->validity_ms) return a->validity_ms > b->validity_ms ? 1 : -1;
  return 0;
}

size_t ipns_dht_key(const peer_id_t *name, uint8_t out[6 + PEER_ID_BYTES_MAX]) {
  assert(name->len <= PEER_ID_BYTES_MAX);
  memcpy(out, "/ipns/", 6);
  memcpy(out + 6, name->bytes, name->len);
  return 6 + (size_t)name->len;
}

int ipns_name_from_dht_key(const uint8_t *key, size_t key_len, peer_id_t *out) {
  if (key_len <= 6 || memcmp(key, "/ipns/", 6) != 0) return err_set(-EINVAL, "not an /ipns/ DHT key");
  return peer_id_from_bytes(key + 6, key_len - 6, out);
}

int64_t ipns_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the kad validator ------------------------------------------------------------ */

static int kad_validate(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len) {
  peer_id_t name;
  int rc = ipns_name_from_dht_key(key, key_len, &name);
  return rc ? rc : ipns_record_validate(&name, value, value_len, ipns_now_ms(), NULL);
}

static size_t kad_select(void *ctx, const uint8_t *key, size_t key_len, const buf_t *values, size_t n) {
  peer_id_t name;
  if (n == 0 || ipns_name_from_dht_key(key, key_len, &name)) return 0;
  int64_t now_ms = ipns_now_ms();
  size_t best = 0;
  bool have = false;
  ipns_entry_t best_entry, entry;
  for (size_t i = 0; i < n; i++) {
    if (ipns_record_validate(&name, values[i].data, values[i].len, now_ms, &entry)) continue;
    if (!have || ipns_entry_compare(&entry, &best_entry) > 0) best = i, best_entry = entry, have = true;
  }
  return best;
}

const kad_validator_t ipns_kad_validator = {
    .namespace_name = "ipns",
    .validate = kad_validate,
    .select = kad_select,
    .ctx = NULL,
};
