/*
 * dwn_repo: the repository's DWN, opened the same way by every process that
 * holds the repository (`anya dwn ...` in tools/dwn.c, anyad for its DWN
 * listener and the mount's dwn/ tree).
 *
 *   <repo>/dwn/            the message store and event log (dwn/dwn.h)
 *   <repo>/dwn/tenants     the tenant allow-list: one DID a line, rewritten
 *                          atomically (temp file, fsync, rename, fsync of the
 *                          directory); absent or empty leaves the gate open
 *
 * dwn_open_repo opens the engine over the repository's block engine with
 * that allow-list and the pin policies' hook: record data above the inline
 * limit stored under a protocol that a pin policy with source "dwn" matches
 * is pinned as "<policy>/<recordId>" (policy.h).  A failing pin is logged,
 * never fails the write.
 *
 * The allow-list is read once, at open: a running engine does not see later
 * `anya dwn tenant` changes (those need the repository, which the daemon
 * holds, so they are made while it is stopped).
 */
#ifndef ANYA_DWN_REPO_H
#define ANYA_DWN_REPO_H

#include <stddef.h>

#include "buf.h"
#include "dwn/dwn.h"
#include "repo.h"

#define DWN_REPO_DIR_BYTES (REPO_PATH_BYTES_MAX + 8)
#define DWN_REPO_TENANTS_FILE_BYTES_MAX (DWN_TENANTS_MAX * 2048u)

/* The tenant allow-list as read from <repo>/dwn/tenants. */
typedef struct dwn_tenants {
  buf_t text;                        /* the file, NUL-separated after parsing; owned */
  const char *dids[DWN_TENANTS_MAX]; /* into text, or caller strings added after loading */
  size_t len;
} dwn_tenants_t;

/* "<repo>/dwn". */
void dwn_repo_dir(const repo_t *r, char out[DWN_REPO_DIR_BYTES]);

/* Loads the allow-list (an absent file is an empty list).  0, -E2BIG (more
 * than DWN_TENANTS_MAX), or the errno of reading it.  Release with
 * dwn_tenants_free. */
int dwn_tenants_load(const repo_t *r, dwn_tenants_t *t);
/* Writes t->dids[0..len) atomically (creates <repo>/dwn if needed). */
int dwn_tenants_save(const repo_t *r, const dwn_tenants_t *t);
void dwn_tenants_free(dwn_tenants_t *t);

/* Opens the repository's DWN engine (see the top).  r must stay open while
 * the engine is; close it with dwn_close.  0 or negative errno (err_set). */
int dwn_open_repo(repo_t *r, dwn_t **out);

#endif
