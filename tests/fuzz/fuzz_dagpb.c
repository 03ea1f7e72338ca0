/*
 * fuzz_dagpb: dagpb_decode on arbitrary bytes must never crash; whatever it
 * accepts must re-encode, and a block already in canonical form (Links before
 * Data, links sorted) must re-encode byte-identically.  Violations abort().
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dagpb.h"

static bool links_sorted(const dagpb_node_t *n) {
  for (size_t i = 1; i < n->links_len; i++)
    if (dagpb_name_cmp(n->links[i - 1].name, n->links[i - 1].name_len, n->links[i].name,
                       n->links[i].name_len) > 0)
      return false;
  return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dagpb_node_t node;
  if (dagpb_decode(data, size, &node) != 0) {
    if (node.links || node.links_len || node.has_data) abort(); /* zeroed on error */
    return 0;
  }
  buf_t out = {0};
  int rc = dagpb_encode(&node, &out);
  if (!links_sorted(&node)) {
    if (rc != -EINVAL || out.len != 0) abort();
    dagpb_node_free(&node);
    return 0;
  }
  if (rc != 0) abort();
  bool data_first = node.has_data && node.links_len > 0 && size > 0 && data[0] == 0x0a;
  if (!data_first && (out.len != size || (size && memcmp(out.data, data, size) != 0))) abort();
  if (out.len != size) abort(); /* reordering never changes the length */
  /* the canonical form is a fixed point */
  dagpb_node_t again;
  if (dagpb_decode(out.data, out.len, &again) != 0) abort();
  if (again.links_len != node.links_len || again.has_data != node.has_data ||
      again.data_len != node.data_len)
    abort();
  for (size_t i = 0; i < node.links_len; i++) {
    const dagpb_link_t *a = &node.links[i], *b = &again.links[i];
    if (!cid_equal(&a->cid, &b->cid) || a->tsize != b->tsize || a->has_tsize != b->has_tsize ||
        a->has_name != b->has_name || a->name_len != b->name_len ||
        (a->name_len && memcmp(a->name, b->name, a->name_len) != 0))
      abort();
  }
  buf_t out2 = {0};
  if (dagpb_encode(&again, &out2) != 0 || out2.len != out.len ||
      (out.len && memcmp(out2.data, out.data, out.len) != 0))
    abort();
  buf_free(&out2);
  dagpb_node_free(&again);
  buf_free(&out);
  dagpb_node_free(&node);
  return 0;
}
