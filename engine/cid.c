/*
 * cid: see cid.h.
 *
 * The text rules follow multiformats/cid "Decoding Algorithm": a 46-character
 * string starting "Qm" is a bare base58btc CIDv0; anything else is multibase,
 * and its decoded bytes must be a CIDv1 (a leading 0x12 would be a CIDv0
 * multihash dressed in a multibase prefix, the so-called "CIDv18", which go-cid
 * and js-multiformats reject).  In binary, a leading `12 20` is a CIDv0.
 */
#include "cid.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "err.h"
#include "varint.h"

#define CID_V0_TEXT_LEN 46
#define CID_V0_BYTES (2 + MH_SHA2_256_BYTES)

static const struct {
  uint64_t code;
  const char *name;
} cid_codecs[] = {
    {CODEC_IDENTITY, "identity"}, {CODEC_RAW, "raw"},             {CODEC_DAG_PB, "dag-pb"},
    {CODEC_DAG_CBOR, "dag-cbor"}, {CODEC_LIBP2P_KEY, "libp2p-key"}, {CODEC_DAG_JSON, "dag-json"},
};
#define CID_CODEC_COUNT (sizeof cid_codecs / sizeof cid_codecs[0])

const char *cid_codec_name(uint64_t codec) {
  for (size_t i = 0; i < CID_CODEC_COUNT; i++)
    if (cid_codecs[i].code == codec) return cid_codecs[i].name;
  return NULL;
}

int cid_codec_from_name(const char *name, uint64_t *codec) {
  assert(name != NULL && codec != NULL);
  for (size_t i = 0; i < CID_CODEC_COUNT; i++) {
    if (strcmp(cid_codecs[i].name, name) == 0) {
      *codec = cid_codecs[i].code;
      return 0;
    }
  }
  return err_set(-EINVAL, "cid: unknown codec \"%.64s\"", name);
}

static bool cid_v0_compatible(uint64_t codec, const mh_t *hash) {
  return codec == CODEC_DAG_PB && hash->code == MH_SHA2_256 && hash->digest_len == MH_SHA2_256_BYTES;
}

int cid_make(cid_t *out, uint32_t version, uint64_t codec, uint64_t hash_code, const void *data, size_t len) {
  assert(out != NULL);
  assert(data != NULL || len == 0);
  if (version > 1) return err_set(-EINVAL, "cid: unknown version %u", version);
  if (codec > VARINT_VALUE_MAX) return err_set(-EINVAL, "cid: codec does not fit a varint");
  if (version == 0 && (codec != CODEC_DAG_PB || hash_code != MH_SHA2_256))
    return err_set(-EINVAL, "cid: version 0 needs dag-pb and sha2-256");
  cid_t c;
  c.version = version;
  c.codec = codec;
  int rc = mh_sum(hash_code, data, len, &c.hash);
  if (rc) return rc;
  *out = c;
  return 0;
}

int cid_from_mh(cid_t *out, uint32_t version, uint64_t codec, const mh_t *hash) {
  assert(out != NULL && hash != NULL);
  if (version > 1) return err_set(-EINVAL, "cid: unknown version %u", version);
  if (codec > VARINT_VALUE_MAX) return err_set(-EINVAL, "cid: codec does not fit a varint");
  if (hash->digest_len > MH_DIGEST_BYTES_MAX || hash->code > VARINT_VALUE_MAX)
    return err_set(-EINVAL, "cid: malformed multihash");
  if (version == 0 && !cid_v0_compatible(codec, hash))
    return err_set(-EINVAL, "cid: version 0 needs dag-pb and a 32-byte sha2-256");
  out->version = version;
  out->codec = codec;
  out->hash = *hash;
  return 0;
}

size_t cid_to_bytes(const cid_t *c, uint8_t *out) {
  assert(c != NULL && out != NULL);
  assert(c->version <= 1);
  assert(c->version == 1 || cid_v0_compatible(c->codec, &c->hash));
  size_t n = 0;
  if (c->version == 1) {
    n += varint_encode(1, out);
    n += varint_encode(c->codec, out + n);
  }
  n += mh_encode(&c->hash, out + n);
  assert(n <= CID_BYTES_MAX);
  return n;
}

int cid_from_bytes(cid_t *out, const uint8_t *in, size_t len) {
  assert(out != NULL);
  assert(in != NULL || len == 0);
  if (len == 0) return err_set(-EAGAIN, "cid: empty input");
  cid_t c;
  int rc;
  if (in[0] == MH_SHA2_256) {
    /* CIDv0: the multihash alone; mh_decode insists on the 32-byte digest. */
    rc = mh_decode(in, len, &c.hash);
    if (rc < 0) return rc;
    assert(rc == CID_V0_BYTES);
    c.version = 0;
    c.codec = CODEC_DAG_PB;
    *out = c;
    return rc;
  }
  uint64_t version;
  rc = varint_decode(in, len, &version);
  if (rc < 0) return rc;
  if (version != 1) return err_set(-EINVAL, "cid: unknown version %llu", (unsigned long long)version);
  size_t pos = (size_t)rc;
  rc = varint_decode(in + pos, len - pos, &c.codec);
  if (rc < 0) return rc;
  pos += (size_t)rc;
  rc = mh_decode(in + pos, len - pos, &c.hash);
  if (rc < 0) return rc;
  pos += (size_t)rc;
  c.version = 1;
  assert(pos <= CID_BYTES_MAX);
  *out = c;
  return (int)pos;
}

int cid_parse_len(cid_t *out, const char *text, size_t len) {
  assert(out != NULL);
  assert(text != NULL || len == 0);
  if (len == 0) return err_set(-EINVAL, "cid: empty string");
  if (len >= CID_TEXT_BYTES_MAX) return err_set(-EINVAL, "cid: text of %zu characters is too long", len);
  uint8_t bytes[CID_TEXT_BYTES_MAX + 1]; /* mbase_decoded_len_max(any, len) <= len + 1 */
  int n;
  bool v0 = len >= 2 && text[0] == 'Q' && text[1] == 'm';
  if (v0) {
    if (len != CID_V0_TEXT_LEN)
      return err_set(-EINVAL, "cid: CIDv0 text must be %d characters, not %zu", CID_V0_TEXT_LEN, len);
    n = mbase_decode_to(MBASE_BASE58BTC, text, len, bytes, sizeof bytes);
  } else {
    /* mbase_decode_to rejects an unknown prefix as an unknown base */
    n = mbase_decode_to((mbase_t)(uint8_t)text[0], text + 1, len - 1, bytes, sizeof bytes);
  }
  if (n < 0) return n == -ENOSPC ? err_set(-EINVAL, "cid: decoded text too long") : n;
  if (n == 0) return err_set(-EINVAL, "cid: no bytes after the multibase prefix");
  if (!v0 && bytes[0] == MH_SHA2_256)
    return err_set(-EINVAL, "cid: multibase text decodes to a bare multihash (invalid \"CIDv18\")");
  cid_t c;
  int rc = cid_from_bytes(&c, bytes, (size_t)n);
  if (rc == -EAGAIN) return err_set(-EINVAL, "cid: truncated binary CID in text");
  if (rc < 0) return rc;
  if (rc != n) return err_set(-EINVAL, "cid: %d trailing bytes after the CID", n - rc);
  if (v0 && c.version != 0) return err_set(-EINVAL, "cid: \"Qm\" text is not a CIDv0");
  *out = c;
  return 0;
}

int cid_parse(cid_t *out, const char *text) {
  assert(text != NULL);
  return cid_parse_len(out, text, strnlen(text, CID_TEXT_BYTES_MAX));
}

int cid_format(const cid_t *c, mbase_t base, char out[CID_TEXT_BYTES_MAX]) {
  assert(c != NULL && out != NULL);
  if (c->version > 1 || (c->version == 0 && !cid_v0_compatible(c->codec, &c->hash)))
    return err_set(-EINVAL, "cid: malformed CID value");
  uint8_t bytes[CID_BYTES_MAX];
  size_t n = cid_to_bytes(c, bytes);
  int rc;
  if (c->version == 0)
    rc = mbase_encode_to(MBASE_BASE58BTC, false, bytes, n, out, CID_TEXT_BYTES_MAX);
  else
    rc = mbase_encode_to(base, true, bytes, n, out, CID_TEXT_BYTES_MAX);
  return rc < 0 ? rc : 0;
}

int cid_format_default(const cid_t *c, char out[CID_TEXT_BYTES_MAX]) {
  return cid_format(c, MBASE_BASE32, out);
}

void cid_to_v1(cid_t *c) {
  assert(c != NULL);
  assert(c->version <= 1);
  c->version = 1;
}

int cid_to_v0(cid_t *c) {
  assert(c != NULL);
  if (!cid_v0_compatible(c->codec, &c->hash))
    return err_set(-EINVAL, "cid: only dag-pb sha2-256 CIDs have a version 0 form");
  c->version = 0;
  return 0;
}

size_t cid_mh_bytes(const cid_t *c, uint8_t *out) {
  assert(c != NULL && out != NULL);
  return mh_encode(&c->hash, out);
}

size_t cid_prefix_bytes(const cid_t *c, uint8_t *out) {
  assert(c != NULL && out != NULL);
  size_t n = varint_encode(c->version, out);
  n += varint_encode(c->codec, out + n);
  n += varint_encode(c->hash.code, out + n);
  n += varint_encode(c->hash.digest_len, out + n);
  assert(n <= CID_PREFIX_BYTES_MAX);
  return n;
}

bool cid_equal(const cid_t *a, const cid_t *b) {
  assert(a != NULL && b != NULL);
  return a->version == b->version && a->codec == b->codec && mh_equal(&a->hash, &b->hash);
}
