/*
 * pins: the pin set, Kubo's semantics, in its own LevelDB database
 * (<repo>/pins/; the block engine's LevelDB is private to bs.c).
 *
 *   direct     the block itself is kept
 *   recursive  the block and everything reachable from it are kept
 *   indirect   reachable from a recursive pin (not itself a recursive root);
 *              computed by walking the DAGs, never stored
 *
 * A stored pin carries the CID as it was added (so `pin ls` prints it back
 * unchanged), its type, an optional name (PINS_NAME_BYTES_MAX bytes), an
 * optional expiry (absolute wall-clock ms; 0 = never) and its creation time.
 * Pins are keyed by codec + multihash: the CIDv0 and the dag-pb CIDv1 of a
 * block are the same pin (the form stored is the last one added), while raw
 * and dag-pb CIDs of the same bytes are different pins (their DAGs differ).
 *
 * Expiry: a pin whose expiry is at or before "now" (pins_set_clock, default
 * the wall clock) is treated as absent by every reader here (get, ls,
 * reachable, verify, rm); pins_expire deletes such pins from the database.
 *
 * DAG walks.  Links come from dag-pb (dagpb_decode) and dag-cbor (CBOR tag 42,
 * decoded here without allocation); raw blocks and every other codec are
 * leaves.  Identity CIDs need no stored block (the block source returns the
 * digest, bs.h) and are never reported as reachable blocks, but their links,
 * if any, are followed.  A walk visits each multihash once (a hash set of
 * multihashes: 16-byte slots at most half full plus the key bytes, 70 to 100
 * bytes a block, so 4 M blocks take about 400 MiB), keeps an explicit stack
 * of binary CIDs (no recursion; bounded at 256 MiB, -ENOMEM past it), and
 * refuses DAGs deeper than PINS_DEPTH_MAX (-ELOOP).
 *
 * Measured (2 cores, page cache warm): `pin add` of a 1 GiB file already
 * present takes 0.4 s with CIDv0 (its 4096 dag-pb leaves are read and
 * crc-checked) and 0.05 s with CIDv1 raw leaves (only presence checks),
 * against 1.1 s / 0.85 s for `anya add -n` of the same file; `pin verify`
 * (everything re-hashed) takes 1.3 s.
 *
 * Speed ("pinning a DAG already present is fast"): pins_add does not re-hash.
 * It reads each block that can have links through the block source (bs_get
 * checks the record's crc32c, which is what guarantees the bytes are the ones
 * the engine verified on write) and only asks `has` (no read at all) for raw
 * blocks, which cannot have links.  pins_verify is the slow, thorough walk:
 * every block read and re-hashed (mh_verify).
 *
 * Threads: every function may be called from any thread; writers (add, rm,
 * update, expire) are serialised by a mutex, and readers see a consistent
 * snapshot of the pin set.  Every write is one synced LevelDB batch, so a
 * crash leaves the set either before or after an operation.
 *
 * Durability with respect to blocks: pins_add checks that the blocks are
 * present, not that they are durable; callers that just wrote the DAG call
 * bs_sync before pinning (the CLI does).
 *
 * Metrics: the anya_pins gauge (storage_metrics.h) is set to pins_count at
 * pins_open and after every successful add, rm, update and expire (a count of
 * the stored pins, so each write costs one scan of the pin records).
 *
 * Garbage collection uses pins_reachable (or pins_reachable_set) as its roots:
 * every multihash reachable from an unexpired pin.  A missing or unreadable
 * block under a recursive pin makes these fail (-ENOENT / -EBADMSG naming the
 * block): GC must then not sweep, since the blocks under the missing one
 * could not be marked.
 */
#ifndef ANYA_PINS_H
#define ANYA_PINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "bs.h"
#include "cid.h"
#include "mhset.h"

#define PINS_FORMAT_VERSION 1
#define PINS_NAME_BYTES_MAX 255 /* a pin's name, bytes (NUL not counted) */
#define PINS_DEPTH_MAX 4096     /* link depth below a root a walk accepts */

typedef struct pins pins_t;

/* Types, also usable as a bit mask for pins_ls. */
typedef enum pin_type {
  PIN_DIRECT = 1,
  PIN_RECURSIVE = 2,
  PIN_INDIRECT = 4,
  PIN_ALL = 7,
} pin_type_t;

/* "direct", "recursive", "indirect" (for PIN_ALL: "all"). */
const char *pins_type_name(pin_type_t type);
/* The reverse, also accepting "all". 0 or -EINVAL. */
int pins_type_from_name(const char *name, pin_type_t *out);

typedef struct pin_info {
  cid_t cid;                            /* as added (indirect: as linked) */
  pin_type_t type;                      /* PIN_DIRECT, PIN_RECURSIVE or PIN_INDIRECT */
  char name[PINS_NAME_BYTES_MAX + 1];   /* NUL-terminated, "" when none */
  uint64_t created_ms;                  /* wall clock, ms since the epoch (0 for indirect) */
  uint64_t expire_ms;                   /* wall clock, ms since the epoch; 0 = never */
} pin_info_t;

/* Where walks find blocks.  `source` is required; `has` is optional and lets
 * a walk check raw blocks (no links) without reading them. */
typedef struct pins_blocks {
  block_source_t source;
  int (*has)(void *ctx, const cid_t *cid); /* 1 present, 0 absent, negative errno */
  void *has_ctx;
} pins_blocks_t;

/* The block engine as pins_blocks_t (bs_get + bs_has). */
pins_blocks_t pins_blocks_bs(bs_t *bs);

/* Opens (creating if absent) the pin database in dir.  `blocks` is copied;
 * what it points at must outlive the pins_t.  0 or negative errno. */
int pins_open(const char *dir, const pins_blocks_t *blocks, pins_t **out);
/* Closes; 0 (NULL is fine). */
int pins_close(pins_t *p);

/* Tests: replaces the wall clock used for created_ms and expiry. */
void pins_set_clock(pins_t *p, uint64_t (*now_ms)(void *ctx), void *ctx);

/* Parses a duration "30s", "5m", "48h", "7d", "250ms" (a decimal integer then
 * one unit of ms, s, m, h, d, w; at most ten years) into milliseconds.
 * 0 or -EINVAL (message says why). */
int pins_parse_duration(const char *text, uint64_t *out_ms);

/* Pins cid.  recursive: first walks the whole DAG checking every block is
 * present (each once); the first missing block fails the call with -ENOENT
 * and a message naming it, and nothing is pinned.  name may be NULL;
 * expire_ms is absolute (0 = never).  Pinning again replaces name and expiry
 * and may turn a direct pin recursive; a direct pin of a recursively pinned
 * CID fails with -EEXIST ("already pinned recursively"), like Kubo.
 * 0, -ENOENT, -EBADMSG (a corrupt record), -EINVAL (name too long, a block
 * that does not decode), -ELOOP (too deep), -EIO. */
int pins_add(pins_t *p, const cid_t *cid, bool recursive, const char *name, uint64_t expire_ms);

/* Pins recursively a DAG the caller has just written in full through the
 * block engine (the importer in `anya add`), skipping the presence walk:
 * re-reading every block it just wrote would cost as much as the add.
 * name (may be NULL) and expire_ms as for pins_add. */
int pins_add_written(pins_t *p, const cid_t *cid, const char *name, uint64_t expire_ms);

/* Unpins cid (direct or recursive). 0, or -ENOENT "not pinned". */
int pins_rm(pins_t *p, const cid_t *cid);

/* The stored (direct or recursive) pin of cid. 0, -ENOENT. */
int pins_get(pins_t *p, const cid_t *cid, pin_info_t *out);

/* Calls fn for every pin whose type is in `types` (a mask of pin_type_t):
 * recursive pins, then direct, then indirect ones (each multihash once, under
 * its strongest type: a block both direct and indirect is listed as direct
 * when PIN_DIRECT is asked for, else as indirect).  Asking for PIN_INDIRECT
 * walks every recursive DAG (a missing block fails with -ENOENT).
 * Non-zero from fn stops the listing and is returned. */
typedef int (*pins_ls_fn)(void *ctx, const pin_info_t *pin);
int pins_ls(pins_t *p, unsigned types, pins_ls_fn fn, void *ctx);

/* Number of stored, unexpired pins. */
int pins_count(pins_t *p, uint64_t *out);

/* Kubo's `pin update`: old must be pinned recursively; pins new recursively
 * (walking it as pins_add does; its name and expiry are old's), then unpins
 * old when unpin_old, in one database write.  0, -ENOENT (old not pinned, or
 * a block of new missing), -EINVAL (old pinned only directly). */
int pins_update(pins_t *p, const cid_t *old_cid, const cid_t *new_cid, bool unpin_old);

/* Deletes every pin expired at the clock's now; *removed (may be NULL) gets
 * how many.  fn (may be NULL) is told each. 0 or negative errno. */
int pins_expire(pins_t *p, uint64_t *removed, pins_ls_fn fn, void *ctx);

/* Verification (also the health check): walks every unexpired pin (recursive:
 * the whole DAG; direct: the block), each block once, reading it and checking
 * its hash with mh_verify.  Each missing or corrupt block (or a block that
 * does not decode) is reported to fn (may be NULL) as a one-line message naming
 * the block and the pin it was reached from; the walk goes on below good
 * blocks only.  Returns the number of problems (0 = healthy) or a negative
 * errno for a failure of the walk itself.  st (may be NULL) gets the counts. */
typedef struct pins_verify_stat {
  uint64_t pins;    /* pins walked */
  uint64_t blocks;  /* distinct blocks checked (identity CIDs not counted) */
} pins_verify_stat_t;
typedef void (*pins_problem_fn)(void *ctx, const cid_t *block, const cid_t *pin, int error,
                                const char *problem);
int pins_verify(pins_t *p, pins_problem_fn fn, void *ctx, pins_verify_stat_t *st);

/* ---- reachability: the roots of garbage collection ------------------------ */

/* Calls fn once for every multihash reachable from an unexpired pin: direct
 * pins' blocks and every block of every recursive pin's DAG (identity
 * multihashes excepted: they are never stored).  The walk reads blocks that
 * can have links (crc-checked, not re-hashed).  Non-zero from fn stops and is
 * returned; a missing or unreadable block under a recursive pin fails the
 * walk (-ENOENT, -EBADMSG, -EINVAL; err_set names the block), and the caller
 * must then not collect anything. */
typedef int (*pins_reach_fn)(void *ctx, const uint8_t *mh, size_t mh_len);
int pins_reachable(pins_t *p, pins_reach_fn fn, void *ctx);
/* The same into a set (adding to what it holds). */
int pins_reachable_set(pins_t *p, mhset_t *set);

#endif
