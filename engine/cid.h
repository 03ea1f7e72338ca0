/*
 * cid: content identifiers (multiformats/cid).
 *
 * CIDv0: a bare sha2-256 multihash (34 bytes, `12 20 ...`), implicitly dag-pb,
 * always written as base58btc without prefix ("Qm...", 46 chars).
 * CIDv1: varint(1) varint(codec) multihash, written with a multibase prefix,
 * base32 lower by default ("bafy...").
 *
 * A cid_t is a plain value (no heap); copy it with `=`, compare with cid_equal.
 */
#ifndef ANYA_CID_H
#define ANYA_CID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "multibase.h"
#include "multihash.h"

/* multicodec codes */
#define CODEC_IDENTITY 0x00
#define CODEC_RAW 0x55
#define CODEC_DAG_PB 0x70
#define CODEC_DAG_CBOR 0x71
#define CODEC_LIBP2P_KEY 0x72
#define CODEC_DAG_JSON 0x0129

#define CID_BYTES_MAX (2 * 9 + MH_BYTES_MAX) /* binary form bound */
#define CID_TEXT_BYTES_MAX 512               /* text form bound, NUL included */
#define CID_PREFIX_BYTES_MAX (4 * 9)         /* bitswap CID prefix bound */

typedef struct cid {
  uint32_t version; /* 0 or 1 */
  uint64_t codec;   /* multicodec (CODEC_*); always CODEC_DAG_PB for v0 */
  mh_t hash;        /* the multihash */
} cid_t;

/* Name of a codec in the table (identity, raw, dag-pb, dag-cbor, dag-json,
 * libp2p-key) or NULL if unknown.  Unknown codecs are still valid in CIDs. */
const char *cid_codec_name(uint64_t codec);
/* The reverse: *codec for a name of that table. 0 or -EINVAL. */
int cid_codec_from_name(const char *name, uint64_t *codec);

/* Builds a CID over data: hash with sha2-256 (identity when hash_code is
 * MH_IDENTITY).  version 0 requires codec dag-pb and sha2-256.
 * 0, -EINVAL (version/codec), -ENOTSUP other hash_code, -E2BIG identity data
 * over MH_IDENTITY_BYTES_MAX.  *out is untouched on error. */
int cid_make(cid_t *out, uint32_t version, uint64_t codec, uint64_t hash_code,
             const void *data, size_t len);
/* Builds a CID from an existing multihash (e.g. a CAR index or bitswap
 * prefix); v0 requires dag-pb and a 32-byte sha2-256. 0 or -EINVAL. */
int cid_from_mh(cid_t *out, uint32_t version, uint64_t codec, const mh_t *hash);

/* Binary form.  cid_to_bytes writes to out (>= CID_BYTES_MAX), returns length. */
size_t cid_to_bytes(const cid_t *c, uint8_t *out);
/* Parses a binary CID at the start of in[0..len) (v0 when it starts 0x12,
 * which must be followed by `20` and 32 bytes); returns bytes consumed (the
 * rest of in may follow, as in a CAR section), -EAGAIN truncated, -EINVAL
 * malformed (version other than 1 in v1 form, v0 not sha2-256/32, bad or
 * non-minimal varints, digest length over the multihash.h bounds). */
int cid_from_bytes(cid_t *out, const uint8_t *in, size_t len);

/* Text form.  cid_parse accepts v0 ("Qm", 46 chars) and v1 in any base of
 * multibase.h; the whole string must be one CID (no trailing bytes), at most
 * CID_TEXT_BYTES_MAX - 1 characters.  0 or -EINVAL (err_set names why).
 * *out is untouched on error. */
int cid_parse(cid_t *out, const char *text);
/* Same over text[0..len) (need not be NUL-terminated), e.g. a path segment. */
int cid_parse_len(cid_t *out, const char *text, size_t len);
/* Writes the text form: v0 in base58btc without prefix (base ignored), v1 in
 * `base` with its prefix.  cid_format_default uses base32 for v1.
 * `out` holds CID_TEXT_BYTES_MAX. 0 or -EINVAL. */
int cid_format(const cid_t *c, mbase_t base, char out[CID_TEXT_BYTES_MAX]);
int cid_format_default(const cid_t *c, char out[CID_TEXT_BYTES_MAX]);

/* Conversions: v0 -> v1 always works; v1 -> v0 only for dag-pb sha2-256 (-EINVAL otherwise). */
void cid_to_v1(cid_t *c);
int cid_to_v0(cid_t *c);

/* The multihash bytes (the block engine's key: v0 and v1 of the same block share it).
 * out holds MH_BYTES_MAX; returns the length. */
size_t cid_mh_bytes(const cid_t *c, uint8_t *out);

/* The bitswap "CID prefix": varint(version) varint(codec) varint(hash code)
 * varint(digest length), e.g. `00 70 12 20` for v0.  out holds
 * CID_PREFIX_BYTES_MAX; returns the length. */
size_t cid_prefix_bytes(const cid_t *c, uint8_t *out);

bool cid_equal(const cid_t *a, const cid_t *b);

#endif
