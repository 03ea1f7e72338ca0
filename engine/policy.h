/*
 * policy: pin policies, the `[[pinning.policy]]` tables of the configuration
 * (config.h; docs/configuration.md lists the fields).
 *
 * A policy is a named rule.  It holds the pins named "<name>/<label>" (pins.h
 * names), so what a policy holds is always visible in `anya pin ls` and needs
 * no second index.  Its `source` says which events it applies to:
 *   pin    pins added by hand with a name "<name>/<label>": a series, such as
 *          nightly snapshots; the rule gives them an expiry and keeps the last N
 *   add    content stored by `anya add` (and the RPC add): the first matching
 *          rule decides whether it is pinned, under "<name>/<file name>"
 *   files  files written under path_prefix in the mount's files/ tree (the
 *          FUSE daemon will ask policy_match with the path once files/ is
 *          writable: the FUSE issue)
 *   dwn    data of DWN records under dwn_protocol: record data above the
 *          inline limit (in the block engine) is pinned as "<name>/<recordId>"
 *          when it is stored (dwn_options_t.data_stored, wired in engine/dwn_repo.c)
 * Selectors AND together: the source, path_prefix (files), dwn_protocol (dwn),
 * and the content size range [min_size, max_size] (max 0 = unbounded).  Rules
 * are tried in the order written; the first match decides.  Actions: pin or
 * not, expire_after (relative expiry of the pins made), keep_last (the policy's
 * pins beyond the newest N are unpinned whenever one is added), replicate (the
 * remote pinning services the pins go to; kept and shown here, acted on by the
 * remote pinning work).
 *
 * Validation (policy_load): names unique and made of [A-Za-z0-9._-]; files
 * needs path_prefix (absolute, no trailing '/'), dwn needs dwn_protocol, and
 * neither may be set for another source; min_size <= max_size when max is set;
 * replicate names must be listed in pinning.remote_services.  Errors name the
 * table's place in the file and the field: -EINVAL.
 *
 * Memory: a policy_set_t owns its rules; policy_free releases them.
 */
#ifndef ANYA_POLICY_H
#define ANYA_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "pins.h"

#define POLICY_NAME_BYTES_MAX 64      /* a policy's name */
#define POLICY_TEXT_BYTES_MAX 1024    /* path_prefix, dwn_protocol */
#define POLICY_REPLICATE_MAX 16       /* remote services one policy names */
#define POLICY_HOLD_MAX 1000000       /* pins one policy can enumerate for keep_last */

typedef enum policy_source {
  POLICY_SOURCE_PIN,
  POLICY_SOURCE_ADD,
  POLICY_SOURCE_FILES,
  POLICY_SOURCE_DWN,
} policy_source_t;

typedef struct policy_rule {
  char name[POLICY_NAME_BYTES_MAX + 1];
  policy_source_t source;
  char path_prefix[POLICY_TEXT_BYTES_MAX];   /* files: "/backups" ("" otherwise) */
  char dwn_protocol[POLICY_TEXT_BYTES_MAX];  /* dwn: the protocol URI ("" otherwise) */
  uint64_t min_size;                         /* bytes */
  uint64_t max_size;                         /* bytes; 0 = unbounded */
  bool pin;                                  /* pin what matches */
  uint64_t expire_after_ms;                  /* 0 = the pins never expire */
  uint32_t keep_last;                        /* 0 = keep all */
  size_t replicate_len;
  char replicate[POLICY_REPLICATE_MAX][POLICY_NAME_BYTES_MAX + 1];
} policy_rule_t;

typedef struct policy_set {
  policy_rule_t *rules;  /* in the order written */
  size_t len;
} policy_set_t;

/* "pin", "add", "files", "dwn". */
const char *policy_source_name(policy_source_t source);

/* Reads and checks the rules of cfg.  0, -EINVAL (message names the table and
 * the field), -ENOMEM.  On failure *out is empty. */
int policy_load(const config_t *cfg, policy_set_t *out);
void policy_free(policy_set_t *set);

/* Something that may be pinned: where it comes from and how big it is. */
typedef struct policy_event {
  policy_source_t source;
  const char *path;          /* files: the path in the writable tree ("/a/b") */
  const char *dwn_protocol;  /* dwn: the record's protocol, or NULL */
  uint64_t size;             /* bytes of content */
} policy_event_t;

/* The first rule that matches the event, or NULL (then the caller's default
 * applies: `anya add` pins per pinning.pin_on_add). */
const policy_rule_t *policy_match(const policy_set_t *set, const policy_event_t *ev);

/* The rule of the series a pin name belongs to ("<name>/<label>", source pin
 * or any other source: every rule owns its name space), or NULL. */
const policy_rule_t *policy_for_pin_name(const policy_set_t *set, const char *pin_name);

/* The name of a pin made under rule: "<rule>/<label>", the label cut to fit
 * PINS_NAME_BYTES_MAX.  label "" gives "<rule>/". */
void policy_pin_name(const policy_rule_t *rule, const char *label, char out[PINS_NAME_BYTES_MAX + 1]);

/* The expiry (absolute ms) of a pin made under rule at now_ms: 0 when the rule
 * has none. */
uint64_t policy_expiry(const policy_rule_t *rule, uint64_t now_ms);

/* Calls fn for each unexpired recursive or direct pin the rule holds, newest
 * first (created_ms, then name, descending).  Non-zero from fn stops and is
 * returned.  -E2BIG beyond POLICY_HOLD_MAX pins. */
int policy_holdings(const policy_rule_t *rule, pins_t *pins, pins_ls_fn fn, void *ctx);

/* keep_last: unpins the rule's pins beyond the newest keep_last; fn (may be
 * NULL) is told each pin removed.  *removed (may be NULL) gets the count.
 * 0 or negative errno.  A rule without keep_last does nothing. */
int policy_enforce(const policy_rule_t *rule, pins_t *pins, uint64_t *removed, pins_ls_fn fn, void *ctx);

/* What the DWN and files/ hooks do with content just written (its blocks
 * synced): the first rule matching ev, if it says pin, pins cid as
 * "<rule>/<label>" (pins_add_written) with the rule's expiry and enforces its
 * keep_last.  *matched (may be NULL) gets that rule, or NULL when nothing was
 * pinned.  0 or the pin store's error. */
int policy_apply(const policy_set_t *set, const policy_event_t *ev, pins_t *pins, const char *label,
                 const cid_t *cid, const policy_rule_t **matched);

#endif
