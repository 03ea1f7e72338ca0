/*
 * hamt: builds the UnixFS HAMT (HAMTShard) tree of one directory from its
 * complete entry list, exactly as boxo's hamt.Shard lays it out for Kubo.
 *
 * Fanout 256: level n of the tree indexes buckets by byte n of an entry's
 * key, the first 8 bytes of murmur3-x64-128(name) (murmur3.h).  For insert-only
 * directories the trie is canonical: a bucket holding one entry links to it
 * directly under the name "XX<entry name>" (XX = bucket index, 2 upper-case hex
 * digits); a bucket holding several links to a child shard named "XX" alone.
 * A shard node is PBNode{Links (in bucket order), Data = UnixFS{Type=HAMTShard,
 * Data = bitfield, hashType = 0x22, fanout = 256}}, the bitfield being the
 * 256-bit set of used buckets as a big-endian integer with leading zero bytes
 * dropped (go-bitfield's Bytes(); bucket i is bit i%8 of byte 31-i/8).
 * Link Tsize is the child's cumulative size, as for any dag-pb link.
 *
 * Memory: a few KiB of scratch per level (at most 8 levels); nothing is held
 * after hamt_build returns.
 */
#ifndef ANYA_HAMT_H
#define ANYA_HAMT_H

#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "cid.h"

#define HAMT_FANOUT 256
#define HAMT_LEVELS_MAX 8 /* the 64-bit key gives 8 levels; deeper is an error, as in boxo */

typedef struct hamt_entry {
  const char *name;          /* entry name bytes (borrowed) */
  uint32_t name_len;
  const uint8_t *cid_bytes;  /* binary CID of the entry (borrowed) */
  uint32_t cid_len;
  uint64_t tsize;            /* the entry's cumulative DAG size (link Tsize) */
  uint64_t key;              /* set by hamt_build: murmur3 HAMT key as a big-endian integer */
  int64_t user;              /* caller's tag, carried along untouched */
} hamt_entry_t;

/* Builds the shard tree over entries[0..len) (len >= 1; names unique), putting
 * every shard block to sink.  The entries are reordered in place into trie
 * order (ascending key), which is the order boxo lists a sharded directory.
 * *root and *root_tsize (block size plus link Tsizes) describe the root shard.
 * 0, -EOVERFLOW (two names with the same 64-bit key: "sharded directory too
 * deep"), -EINVAL (bad CID bytes), -ENOMEM, or the sink's error. */
int hamt_build(hamt_entry_t *entries, size_t len, uint32_t cid_version, const block_sink_t *sink,
               cid_t *root, uint64_t *root_tsize);

#endif
