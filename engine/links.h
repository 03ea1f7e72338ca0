/*
 * links: the child CIDs of a block, by its codec — the one place that knows
 * which codecs link and how.  dag-pb: each PBLink's Hash, in link order.
 * dag-cbor: every tag-42 link (a byte string 0x00 + binary CID), in document
 * order.  raw and every other codec: no links.  Used by every DAG walk: CAR
 * export, pin checks and verification, GC marking.
 */
#ifndef ANYA_LINKS_H
#define ANYA_LINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cid.h"

/* Whether blocks of this codec can have links (a walk must read them). */
bool links_codec_may_link(uint64_t codec);

/* Replaces links' contents with the block's child CIDs (an array of cid_t:
 * links->len / sizeof(cid_t) of them).  No recursion: a dag-cbor block is
 * scanned with a counter of items still owed, bounded by the bytes left.
 * 0, -EINVAL (the block does not decode as its codec; err_set says which),
 * -ENOMEM. */
int links_of(const cid_t *cid, const uint8_t *data, size_t len, buf_t *links);

#endif
