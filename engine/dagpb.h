/*
 * dagpb: the dag-pb codec (ipld specs/codecs/dag-pb).
 *
 *   PBLink { bytes Hash = 1; string Name = 2; uint64 Tsize = 3; }
 *   PBNode { repeated PBLink Links = 2; bytes Data = 1; }
 *
 * Encoding is canonical: all Links first, then Data; inside a link Hash, Name,
 * Tsize.  Like Kubo we always write Name (even empty) and Tsize when has_* says so
 * (the importer sets both).  Decoding is strict: no unknown fields or wire types,
 * no duplicate Data, link fields in order, Hash must be a binary CID, varints
 * minimal-length as protobuf allows; Data may come before or after Links (old
 * blocks exist both ways).  Links are NOT re-sorted on decode.
 */
#ifndef ANYA_DAGPB_H
#define ANYA_DAGPB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cid.h"

#define DAGPB_LINKS_MAX 65536 /* decoder bound on links in one node */

typedef struct dagpb_link {
  cid_t cid;          /* Hash */
  const char *name;   /* Name bytes (not NUL-terminated); borrowed */
  size_t name_len;    /* bytes in name */
  bool has_name;      /* Name present */
  uint64_t tsize;     /* Tsize: cumulative bytes of the child DAG */
  bool has_tsize;     /* Tsize present */
} dagpb_link_t;

typedef struct dagpb_node {
  dagpb_link_t *links;  /* decode: heap array owned by the node (dagpb_node_free) */
  size_t links_len;     /* number of links */
  const uint8_t *data;  /* Data bytes; on decode points into the input block */
  size_t data_len;      /* bytes in data */
  bool has_data;        /* Data present */
} dagpb_node_t;

/* Appends the canonical encoding of node to out.  Links must already be in
 * canonical order (sorted by Name bytes, absent name = "", stable), as the
 * importer builds them; the encoder checks rather than re-sorts.  A link whose
 * has_name is false must have name_len 0.  Nothing is appended on error.
 * 0, -EINVAL (link without a valid CID, links out of order, name without
 * has_name), -ENOMEM. */
int dagpb_encode(const dagpb_node_t *node, buf_t *out);

/* Decodes block[0..len) into *node.  Names and data point into `block`, which
 * must outlive the node.  0, -EINVAL (err_set says what), -E2BIG too many links,
 * -ENOMEM. */
int dagpb_decode(const uint8_t *block, size_t len, dagpb_node_t *node);

/* Frees what dagpb_decode allocated; the node is zeroed. */
void dagpb_node_free(dagpb_node_t *node);

/* Byte-wise comparison of link names as dag-pb orders them (memcmp, then the
 * shorter first).  <0, 0, >0. */
int dagpb_name_cmp(const char *a, size_t a_len, const char *b, size_t b_len);

/* Protobuf wire helpers shared with unixfs.c.
 * dagpb_pb_varint_decode reads one protobuf varint from in[0..len): at most 10
 * bytes, the 10th carrying only the top bit of a uint64, and minimal (no
 * trailing 0x80 .. 0x00 padding: the codecs here are canonical).  Returns the
 * bytes consumed (1..10) or -EINVAL (truncated, overlong or non-minimal). */
int dagpb_pb_varint_decode(const uint8_t *in, size_t len, uint64_t *value);
/* Appends a protobuf varint (any uint64; 1..10 bytes). 0 or -ENOMEM. */
int dagpb_pb_varint_append(buf_t *out, uint64_t value);

#endif
