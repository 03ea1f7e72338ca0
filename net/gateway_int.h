/*
 * gateway_int: the gateway's pieces that need no server, so that unit tests
 * (tests/unit/test_gateway.c) and fuzz targets (tests/fuzz/fuzz_gateway_*.c)
 * reach them directly.  gateway_parse.c holds the parsers and text helpers
 * (it depends on libanya only, so a fuzz target may compile it in);
 * gateway_car.c writes the CAR responses over a block source.
 *
 * Parsers take untrusted text from the request (target, query, headers) and
 * never read past a NUL or write past their output's capacity.
 */
#ifndef ANYA_NET_GATEWAY_INT_H
#define ANYA_NET_GATEWAY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "buf.h"
#include "car.h"
#include "cid.h"

#define GW_ROOT_BYTES_MAX 512   /* the CID or IPNS name of a content path, NUL included */
#define GW_PATH_BYTES_MAX 4096  /* the decoded path below the root, NUL included */
#define GW_SEGMENTS_MAX 256     /* path segments below the root */
#define GW_QUERY_VALUE_MAX 1024 /* one decoded query value, NUL included */
#define GW_ACCEPT_ITEMS_MAX 32  /* media ranges of Accept looked at */
#define GW_SNIFF_BYTES 512      /* bytes looked at for a content type */

/* ---- percent-decoding and the query ---------------------------------------- */

/* Percent-decodes src[0..len) into out (NUL-terminated, cap bytes); '+' is a
 * space when plus_is_space.  Returns the decoded length, -EINVAL a bad escape
 * or a decoded NUL, -E2BIG it does not fit. */
int gw_decode(const char *src, size_t len, bool plus_is_space, char *out, size_t cap);
/* The decoded value of the first query parameter `name` in query ("a=1&b=2",
 * no '?'; '+' is a space; a key without '=' has the value "").  Returns the
 * value's length, -ENOENT absent, -EINVAL bad escape, -E2BIG too long. */
int gw_query_get(const char *query, const char *name, char *out, size_t cap);

/* ---- content paths ---------------------------------------------------------- */

typedef enum gw_ns { GW_NS_IPFS = 0, GW_NS_IPNS } gw_ns_t;

typedef struct gw_target {
  gw_ns_t ns;
  char root[GW_ROOT_BYTES_MAX];   /* the CID (or IPNS name) text, decoded */
  char path[GW_PATH_BYTES_MAX];   /* decoded segments below root joined by '/', "" for none */
  size_t segments;                /* segments in path */
  bool trailing_slash;            /* the URL path ended in '/' (or is the root of a subdomain) */
} gw_target_t;

/* Parses a request's URL path (not decoded, without the query) as
 * /ipfs/<cid>[/path] or /ipns/<name>[/path].  Segments are percent-decoded
 * one by one; empty segments are skipped.  Returns 0; -ENOENT not under
 * /ipfs/ or /ipns/ (err_set says so); -EINVAL a bad escape, an encoded '/'
 * or NUL in a segment, a "." or ".." segment, no root; -E2BIG too long or
 * more than GW_SEGMENTS_MAX segments. */
int gw_parse_target(const char *url_path, gw_target_t *out);

/* The same for a subdomain request: ns and root given (from the Host), the
 * URL path is the path below the root. */
int gw_parse_subpath(const char *url_path, gw_target_t *out);

/* A subdomain gateway Host: "<root>.ipfs.<gateway host>[:port]" (or .ipns.).
 * Returns 1 and fills the fields when host has that shape, 0 when not
 * (a plain host: path requests), -EINVAL when the label is empty or the
 * host is too long.  Labels are compared case-insensitively; root keeps its
 * case (a base32 CID is lower case anyway). */
typedef struct gw_host {
  gw_ns_t ns;
  char root[GW_ROOT_BYTES_MAX]; /* the first label */
  char parent[256];             /* "<gateway host>[:port]", e.g. "localhost:8080" */
} gw_host_t;
int gw_parse_host(const char *host, gw_host_t *out);

/* ---- response format negotiation ------------------------------------------------ */

typedef enum gw_format {
  GW_FORMAT_DESERIALIZED = 0, /* files, directories: the path gateway */
  GW_FORMAT_RAW,              /* application/vnd.ipld.raw */
  GW_FORMAT_CAR,              /* application/vnd.ipld.car */
  GW_FORMAT_UNSUPPORTED,      /* a format this gateway does not produce (tar, dag-json, ...) */
} gw_format_t;

typedef struct gw_car_params {
  int version;    /* 1; 0 = not asked (1 is used) */
  char order;     /* 'd' dfs, 'u' unk, 0 not asked */
  char dups;      /* 'y', 'n', 0 not asked */
  bool bad;       /* a parameter we cannot honour (version 2, unknown order) */
} gw_car_params_t;

typedef struct gw_accept {
  gw_format_t format;     /* the best acceptable choice */
  gw_car_params_t car;    /* its CAR parameters when format is CAR */
  bool explicit_format;   /* Accept named raw or car (Content-Location is due) */
  char unsupported[64];   /* the media type refused, when format is UNSUPPORTED */
} gw_accept_t;

/* Parses an Accept header (NULL or "" = deserialized): media ranges by
 * q-value, ties by order.  The first acceptable range decides: raw, car (with
 * parameters we can honour), or anything else that is not a specific IPLD/IPFS
 * format (text/html, * / *, image/png: the deserialized response).  When only
 * formats we do not produce were listed, format is UNSUPPORTED (406).
 * Always 0 (a malformed header is treated as absent). */
int gw_parse_accept(const char *accept, gw_accept_t *out);

/* ?format= value to a format: "raw", "car" (0); tar, dag-json, dag-cbor, json,
 * cbor, ipns-record give UNSUPPORTED (0); anything else -EINVAL. */
int gw_format_from_query(const char *value, gw_format_t *out);

/* ---- Range and entity-bytes ---------------------------------------------------- */

/* A single "bytes=" range over an entity of size bytes: 0 and [*first, *last]
 * (inclusive); 1 the header is to be ignored (malformed, not "bytes", or
 * several ranges: the whole entity is served); -ERANGE unsatisfiable (416). */
int gw_parse_range(const char *header, uint64_t size, uint64_t *first, uint64_t *last);

/* entity-bytes=from:to (to may be '*'; either may be negative, from the end). */
typedef struct gw_entity_bytes {
  int64_t from;
  int64_t to;
  bool to_end;   /* to was '*' */
} gw_entity_bytes_t;
/* 0 or -EINVAL (err_set says why). */
int gw_parse_entity_bytes(const char *text, gw_entity_bytes_t *out);
/* Resolves against the entity's size: 0 and [*first, *last]; 1 a zero-length
 * range (the response is dag-scope=block); -ERANGE entirely outside. */
int gw_entity_range(const gw_entity_bytes_t *eb, uint64_t size, uint64_t *first, uint64_t *last);

/* ---- content types and HTML -------------------------------------------------- */

/* The media type for a file name by its extension, NULL when unknown. */
const char *gw_mime_by_name(const char *name);
/* The media type of content by its first bytes (up to GW_SNIFF_BYTES of them):
 * images, PDF, archives, wasm, HTML, XML/SVG, JSON-looking text, UTF-8
 * text ("text/plain; charset=utf-8"), else application/octet-stream. */
const char *gw_mime_sniff(const uint8_t *data, size_t len);

/* HTML-escapes s[0..len) (& < > " ') onto out. 0 or -ENOMEM. */
int gw_html_escape(buf_t *out, const char *s, size_t len);
/* Percent-encodes s[0..len) as one URL path segment onto out (unreserved
 * characters stay). 0 or -ENOMEM. */
int gw_url_escape(buf_t *out, const char *s, size_t len);
/* Content-Disposition value: "<kind>; filename=\"<ascii>\"" plus
 * "; filename*=UTF-8''<pct>" when the name is not plain ASCII.  kind is
 * "inline" or "attachment". 0 or -ENOMEM. */
int gw_content_disposition(buf_t *out, const char *kind, const char *filename);
/* Whether an If-None-Match value matches etag (a quoted strong etag): "*",
 * or a list with etag in it (weak "W/" forms compare equal, weakly). */
bool gw_etag_match(const char *if_none_match, const char *etag);

/* ---- CAR responses ---------------------------------------------------------------- */

typedef enum gw_scope { GW_SCOPE_ALL = 0, GW_SCOPE_ENTITY, GW_SCOPE_BLOCK } gw_scope_t;

/* "all", "entity", "block"; 0 or -EINVAL. */
int gw_scope_parse(const char *text, gw_scope_t *out);

#define GW_CAR_BLOCKS_MAX (16u << 20) /* blocks one CAR response may carry (dups=y bound) */

typedef struct gw_car_req {
  cid_t root;                /* the CAR header's root */
  const cid_t *path_blocks;  /* blocks that verify the path, in walk order (root first) */
  size_t path_blocks_len;
  cid_t terminal;            /* the CID at the end of the path */
  gw_scope_t scope;
  bool has_range;            /* entity-bytes given (implies entity) */
  uint64_t range_first;      /* inclusive bounds, already resolved against the size */
  uint64_t range_last;
  bool range_empty;          /* entity-bytes resolved to nothing: block scope */
  bool dups;                 /* dups=y: a block each time it is reached */
} gw_car_req_t;

typedef struct gw_car_stat {
  uint64_t blocks;           /* sections written */
  uint64_t bytes;            /* bytes written, header included */
} gw_car_stat_t;

/* Writes a CARv1 for req: the header (roots = [req->root]), the path blocks,
 * then the terminal's blocks for the scope, depth-first in link order,
 * identity CIDs never written, each block once unless dups.  Blocks come from
 * src and are written as stored.  0; -ENOENT a block missing (err_set names
 * it); -EIO a block that does not decode; -E2BIG over GW_CAR_BLOCKS_MAX or a
 * too deep walk; the write callback's error; -ENOMEM.  Output already written
 * stays written (a streamed response just ends). st may be NULL. */
int gw_car_write(const block_source_t *src, const gw_car_req_t *req, car_write_fn write, void *ctx,
                 gw_car_stat_t *st);

#endif
