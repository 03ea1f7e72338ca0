/*
 * repo_gc: `anya repo gc` and `anya repo compact` (called from cmd_repo).
 *
 *   repo gc       deletes expired pins (pins_expire), so they stop being
 *                 roots, applies every pin policy's keep_last (policy.h),
 *                 then marks everything reachable from the pin set (pins.h:
 *                 pins_reachable, as a gc.h root provider), and from the
 *                 DWN message store's data and the writable tree's files
 *                 (<repo>/files, fsmeta_gc_roots) when they exist, sweeps every
 *                 other block, printing `removed <cid>` per block as Kubo
 *                 does, then compacts.  The engine keys blocks by multihash
 *                 and does not know the codec they were added under, so the
 *                 CID printed is the CIDv1 raw (base32, "bafkrei...") of the
 *                 removed multihash.  Without a pin set it refuses to run
 *                 rather than collect everything.
 *   automatic gc  the same collection without the `removed` lines, after
 *                 `add`, `block put` and `car import` once the store's bytes
 *                 on disk pass storage.gc_watermark_percent of storage.max
 *                 (storage.gc_auto); one summary line on stderr when it ran.
 *   repo compact  rewrites mostly-dead segments only (bs_compact), and prints
 *                 what it did.
 * Both compact segments at least storage.compact_dead_percent dead.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "dwn/msgstore.h"
#include "config.h"
#include "err.h"
#include "fsmeta.h"
#include "gc.h"
#include "log.h"
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

/* <repo>/gc.last: the store's bytes on disk right after the last collection.
 * A hint, not state that must survive: losing it costs one extra collection. */
static int gc_last_path(const repo_t *r, char out[REPO_PATH_BYTES_MAX + 16]) {
  int n = snprintf(out, REPO_PATH_BYTES_MAX + 16, "%s/gc.last", r->path);
  return n > 0 && n < REPO_PATH_BYTES_MAX + 16 ? 0 : -ENAMETOOLONG;
}

static bool gc_last_read(const repo_t *r, uint64_t *bytes) {
  char path[REPO_PATH_BYTES_MAX + 16];
  if (gc_last_path(r, path)) return false;
  FILE *f = fopen(path, "r");
  if (!f) return false;
  unsigned long long v;
  bool ok = fscanf(f, "%llu", &v) == 1;
  fclose(f);
  if (ok) *bytes = v;
  return ok;
}

static void gc_last_write(repo_t *r) {
  bs_stat_t st;
  char path[REPO_PATH_BYTES_MAX + 16];
  if (bs_stat(r->bs, &st) || gc_last_path(r, path)) return;
  FILE *f = fopen(path, "w");
  if (!f) return;
  fprintf(f, "%llu\n", (unsigned long long)st.disk_bytes);
  fclose(f);
}

int repo_gc_run(repo_t *r, bool quiet, gc_result_t *res) {
  if (!r->pins) return err_set(-ENODATA, "no pin set yet; refusing to collect everything");
  int rc = pins_expire(r->pins, NULL, NULL, NULL);
  /* the policies' keep_last, in case the config lowered one since the last pin */
  for (size_t i = 0; !rc && i < r->policies.len; i++) rc = policy_enforce(&r->policies.rules[i], r->pins, NULL, NULL, NULL);
  if (rc) return rc;
  gc_t *gc;
  rc = gc_new(r->bs, &gc);
  if (rc) return rc;
  rc = gc_add_root_provider(gc, pins_roots, r->pins);
  /* DWN record data lives in the block engine too: the message store's data
   * references are roots (dwn/msgstore.h) */
  char dwn_dir[REPO_PATH_BYTES_MAX + 8];
  struct stat st;
  msgstore_t *dwn = NULL;
  snprintf(dwn_dir, sizeof dwn_dir, "%s/dwn", r->path);
  if (!rc && stat(dwn_dir, &st) == 0) {
    rc = msgstore_open(dwn_dir, NULL, &dwn);
    if (!rc) rc = gc_add_root_provider(gc, msgstore_gc_roots, dwn);
  }
  /* the writable tree's files (fsmeta.h): every regular file's content CID,
   * unlinked-but-open ones included, is a root */
  char files_dir[REPO_PATH_BYTES_MAX + 8];
  fsmeta_t *files = NULL;
  snprintf(files_dir, sizeof files_dir, "%s/files", r->path);
  if (!rc && stat(files_dir, &st) == 0) {
    rc = fsmeta_open(files_dir, getuid(), getgid(), &files);
    if (!rc) rc = gc_add_root_provider(gc, fsmeta_gc_roots, files);
  }
  gc_options_t go;
  gc_options_default(&go);
  go.require_providers = true;
  go.compact_options.dead_ratio_min = (double)config_int(r->config, "storage.compact_dead_percent") / 100.0;
  if (!quiet) go.removed = print_removed;
  gc_result_t result;
  if (!rc) rc = gc_run(gc, &go, &result);
  gc_free(gc);
  if (dwn) msgstore_close(dwn);
  fsmeta_close(files);
  fflush(stdout);
  if (!rc) gc_last_write(r);
  if (!rc && res) *res = result;
  return rc;
}

int repo_gc_auto(repo_t *r) {
  if (!config_bool(r->config, "storage.gc_auto")) return 0;
  uint64_t max = config_size(r->config, "storage.max");
  uint64_t percent = (uint64_t)config_int(r->config, "storage.gc_watermark_percent");
  bs_stat_t st;
  int rc = bs_stat(r->bs, &st);
  if (rc) return rc;
  /* used > max * percent / 100, without overflow for any max */
  unsigned __int128 used = st.disk_bytes, limit = (unsigned __int128)max * percent;
  if (used * 100 <= limit) return 0;
  /* Over the watermark but just collected: what is left is live, and marking
   * it again frees nothing.  Run again only once the store has grown by half
   * the space between the watermark and storage.max since the last run. */
  uint64_t last;
  unsigned __int128 step = (unsigned __int128)max * (100 - (percent < 100 ? percent : 100)) / 200;
  if (gc_last_read(r, &last) && used < (unsigned __int128)last + step) return 0;
  gc_result_t res;
  rc = repo_gc_run(r, true, &res);
  if (rc) return err_set(rc, "automatic gc: %s", err_msg(rc));
  log_kv(LOG_LEVEL_DEBUG, "gc",
         ((log_kv_t[]){LOG_INT("used_bytes", st.disk_bytes), LOG_INT("max_bytes", max),
                       LOG_INT("watermark_percent", percent), LOG_INT("mark_ms", res.mark_ms),
                       LOG_INT("sweep_ms", res.sweep_ms), LOG_INT("compact_ms", res.compact_ms)}),
         "automatic gc done");
  fprintf(stderr, "anya: automatic gc: removed %llu blocks, freed %llu bytes\n",
          (unsigned long long)res.swept, (unsigned long long)res.swept_bytes);
  return 0;
}

int repo_compact_run(repo_t *r) {
  bs_compact_result_t res;
  bs_compact_options_t co = {.dead_ratio_min = (double)config_int(r->config, "storage.compact_dead_percent") / 100.0};
  int rc = bs_compact(r->bs, &co, &res);
  if (!rc)
    printf("compacted %llu segments: %llu blocks copied (%llu bytes), %llu bytes freed\n",
           (unsigned long long)res.segments_compacted, (unsigned long long)res.blocks_copied,
           (unsigned long long)res.bytes_copied, (unsigned long long)res.bytes_freed);
  return rc;
}
