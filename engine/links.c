#include "links.h"

#include <errno.h>

#include "dagpb.h"
#include "err.h"

#define CBOR_TAG_CID 42

bool links_codec_may_link(uint64_t codec) { return codec == CODEC_DAG_PB || codec == CODEC_DAG_CBOR; }

/* One CBOR head at in[*pos..len): major type and argument.  Indefinite lengths
 * and reserved additional-info values are not dag-cbor. */
static int cbor_head(const uint8_t *in, size_t len, size_t *pos, unsigned *major, uint64_t *arg) {
  if (*pos >= len) return -EINVAL;
  uint8_t b = in[(*pos)++];
  unsigned info = b & 31;
  *major = b >> 5;
  if (info < 24) {
    *arg = info;
    return 0;
  }
  if (info > 27) return -EINVAL;
  size_t n = (size_t)1 << (info - 24);
  if (len - *pos < n) return -EINVAL;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v = v << 8 | in[(*pos)++];
  *arg = v;
  return 0;
}

/* A counter of items still owed replaces recursion; it can never exceed the
 * bytes left, since every item takes at least one. */
static int cbor_links(const uint8_t *block, size_t len, buf_t *links) {
  size_t pos = 0;
  uint64_t owed = 1;
  while (owed > 0) {
    if (owed > len - pos) return -EINVAL;
    unsigned major;
    uint64_t arg;
    if (cbor_head(block, len, &pos, &major, &arg)) return -EINVAL;
    owed--;
    switch (major) {
      case 2:
      case 3: /* byte and text strings */
        if (arg > len - pos) return -EINVAL;
        pos += (size_t)arg;
        break;
      case 4: /* array */
        if (arg > len) return -EINVAL;
        owed += arg;
        break;
      case 5: /* map: keys and values */
        if (arg > len) return -EINVAL;
        owed += 2 * arg;
        break;
      case 6: { /* tag: 42 is a link, any other tag wraps one item */
        if (arg != CBOR_TAG_CID) {
          owed++;
          break;
        }
        if (cbor_head(block, len, &pos, &major, &arg) || major != 2 || arg < 2 || arg > len - pos ||
            block[pos] != 0x00)
          return -EINVAL;
        cid_t link;
        int used = cid_from_bytes(&link, block + pos + 1, (size_t)arg - 1);
        if (used < 0 || (uint64_t)used != arg - 1) return -EINVAL;
        pos += (size_t)arg;
        if (buf_append(links, &link, sizeof link)) return -ENOMEM;
        break;
      }
      default: /* 0, 1 integers; 7 simple values and floats (argument already read) */
        break;
    }
  }
  return pos == len ? 0 : -EINVAL;
}

int links_of(const cid_t *cid, const uint8_t *data, size_t len, buf_t *links) {
  buf_reset(links);
  if (cid->codec == CODEC_DAG_PB) {
    dagpb_node_t node;
    int rc = dagpb_decode(data, len, &node);
    if (rc == -ENOMEM) return rc;
    if (rc) return err_set(-EINVAL, "not a valid dag-pb block: %s", err_msg(rc));
    for (size_t i = 0; i < node.links_len && rc == 0; i++)
      rc = buf_append(links, &node.links[i].cid, sizeof node.links[i].cid);
    dagpb_node_free(&node);
    return rc ? -ENOMEM : 0;
  }
  if (cid->codec == CODEC_DAG_CBOR) {
    int rc = cbor_links(data, len, links);
    if (rc == -EINVAL) return err_set(rc, "not a valid dag-cbor block");
    return rc;
  }
  return 0;
}
