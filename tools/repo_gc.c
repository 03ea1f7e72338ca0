/*
 * repo_gc: `anya repo gc` and `anya repo compact` (called from cmd_repo).
 *
 *   repo gc       marks everything reachable from the pin set (pins.h:
 *                 pins_reachable, as a gc.h root provider), sweeps every
 *                 other block, printing `removed <cid>` per block as Kubo
 *                 does, then compacts.  The engine keys blocks by multihash
 *                 and does not know the codec they were added under, so the
 *                 CID printed is the CIDv1 raw (base32, "bafkrei...") of the
 *                 removed multihash.  Without a pin set it refuses to run
 *                 rather than collect everything.
 *   repo compact  rewrites mostly-dead segments only (bs_compact), and prints
 *                 what it did.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "err.h"
#include "gc.h"
#include "multihash.h"
#include "pins.h"
#include "repo_gc.h"

static int pins_roots(void *ctx, gc_marker_t *m) { return pins_reachable(ctx, gc_mark_block, m); }

static void print_removed(void *ctx, const uint8_t *mh_bytes, size_t mh_len, uint64_t size_bytes) {
  (void)ctx, (void)size_bytes;
  mh_t mh;
  cid_t cid;
  char text[CID_TEXT_BYTES_MAX];
  if (mh_decode(mh_bytes, mh_len, &mh) != (int)mh_len || cid_from_mh(&cid, 1, CODEC_RAW, &mh) ||
      cid_format_default(&cid, text) < 0)
    return;
  printf("removed %s\n", text);
}

int repo_gc_run(repo_t *r) {
  if (!r->pins) return err_set(-ENODATA, "no pin set yet; refusing to collect everything");
  gc_t *gc;
  int rc = gc_new(r->bs, &gc);
  if (rc) return rc;
  rc = gc_add_root_provider(gc, pins_roots, r->pins);
  gc_options_t go;
  gc_options_default(&go);
  go.require_providers = true;
  go.removed = print_removed;
  gc_result_t res;
  if (!rc) rc = gc_run(gc, &go, &res);
  gc_free(gc);
  fflush(stdout);
  return rc;
}

int repo_compact_run(repo_t *r) {
  bs_compact_result_t res;
  int rc = bs_compact(r->bs, NULL, &res);
  if (!rc)
    printf("compacted %llu segments: %llu blocks copied (%llu bytes), %llu bytes freed\n",
           (unsigned long long)res.segments_compacted, (unsigned long long)res.blocks_copied,
           (unsigned long long)res.bytes_copied, (unsigned long long)res.bytes_freed);
  return rc;
}
