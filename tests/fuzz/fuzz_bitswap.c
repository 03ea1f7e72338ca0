/*
 * fuzz_bitswap: what a remote peer controls on the server side.  Arbitrary
 * bytes go through bitswap_msg_decode; an accepted message must re-encode
 * and decode to the same items (CIDs, flags, block bytes), half of them
 * decoded into an arena reused across inputs, and its
 * wantlist is applied to a ledger carried across inputs (so full/cancel/
 * cap interplay is explored), whose invariants are checked after every
 * update and a take.  Violations abort().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bitswap.h"

static bitswap_ledger_t ledger;
static bitswap_arena_t arena; /* reused across inputs, as a stream's reader does */

static void check_ledger(const bitswap_ledger_t *l) {
  if (l->len > BITSWAP_LEDGER_ENTRIES_MAX || l->len > l->cap || l->pending > l->len) abort();
  size_t pending = 0;
  for (size_t i = 0; i < l->len; i++) {
    pending += l->wants[i].pending;
    for (size_t j = i + 1; j < l->len && j < i + 64; j++)
      if (cid_equal(&l->wants[i].cid, &l->wants[j].cid)) abort(); /* one want per CID */
  }
  if (pending != l->pending) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bitswap_msg_t m;
  bool use_arena = size & 2;
  int rc = use_arena ? bitswap_msg_decode_arena(data, size, &m, &arena) : bitswap_msg_decode(data, size, &m);
  if (rc != 0) {
    if (m.pb || m.entries || m.blocks || m.presences) abort(); /* owns nothing on error */
    if (arena.busy) abort();
    return 0;
  }
  for (size_t i = 0; i < m.blocks_len; i++) {
    if (m.blocks[i].len > BITSWAP_BLOCK_BYTES_MAX) abort();
    if (mh_verify(&m.blocks[i].cid.hash, m.blocks[i].data, m.blocks[i].len) != 1) abort();
  }
  buf_t out = {0};
  if (bitswap_msg_encode(&m, BITSWAP_V120, &out) == 0) {
    bitswap_msg_t again;
    if (bitswap_msg_decode(out.data, out.len, &again) != 0) abort();
    if (again.entries_len != m.entries_len || again.blocks_len != m.blocks_len ||
        again.presences_len != m.presences_len || again.bad_blocks || again.bad_entries)
      abort();
    for (size_t i = 0; i < m.entries_len; i++)
      if (!cid_equal(&again.entries[i].cid, &m.entries[i].cid) || again.entries[i].cancel != m.entries[i].cancel)
        abort();
    for (size_t i = 0; i < m.blocks_len; i++)
      if (!cid_equal(&again.blocks[i].cid, &m.blocks[i].cid) || again.blocks[i].len != m.blocks[i].len ||
          (m.blocks[i].len && memcmp(again.blocks[i].data, m.blocks[i].data, m.blocks[i].len) != 0))
        abort();
    bitswap_msg_free(&again);
  }
  buf_free(&out);
  if (bitswap_ledger_apply(&ledger, &m) != 0) abort();
  check_ledger(&ledger);
  for (size_t i = 0; i < m.entries_len; i++) {
    int at = bitswap_ledger_find(&ledger, &m.entries[i].cid);
    if (m.entries[i].cancel && at >= 0) {
      /* only when a later entry of the same message wants it again */
      bool later = false;
      for (size_t j = i + 1; j < m.entries_len; j++)
        later |= !m.entries[j].cancel && cid_equal(&m.entries[j].cid, &m.entries[i].cid);
      if (!later) abort();
    }
  }
  bitswap_want_t taken[8];
  size_t n = bitswap_ledger_take(&ledger, taken, size % 9);
  for (size_t i = 0; i < n; i++) {
    if (bitswap_ledger_find(&ledger, &taken[i].cid) < 0) abort();
    if (size & 1) bitswap_ledger_remove(&ledger, &taken[i].cid);
    else bitswap_ledger_requeue(&ledger, &taken[i].cid);
  }
  check_ledger(&ledger);
  if (ledger.len == BITSWAP_LEDGER_ENTRIES_MAX && (size & 7) == 0) bitswap_ledger_free(&ledger);
  bitswap_msg_free(&m);
  return 0;
}
