/*
 * msselect: multistream-select 1.0 message framing (see msselect.h).
 * A message is varint(len) ‖ text ‖ '\n'; the decoder rejects a length
 * prefix that promises more than MSS_PROTOCOL_BYTES_MAX + 1 bytes as soon as
 * the prefix is readable, so a peer can't make us buffer more than that.
 */
#include "msselect.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "err.h"
#include "varint.h"

int mss_encode(buf_t *out, const char *text) {
  assert(out && text);
  size_t text_len = strnlen(text, MSS_PROTOCOL_BYTES_MAX + 1);
  if (text_len == 0) return err_set(-EINVAL, "multistream-select: empty message");
  if (text_len > MSS_PROTOCOL_BYTES_MAX)
    return err_set(-EINVAL, "multistream-select: message longer than %d bytes", MSS_PROTOCOL_BYTES_MAX);
  if (memchr(text, '\n', text_len))
    return err_set(-EINVAL, "multistream-select: message contains a newline");
  size_t message_len = text_len + 1;
  /* reserve first so a failure leaves out unchanged */
  int rc = buf_reserve(out, varint_size(message_len) + message_len);
  if (rc < 0) return err_set(rc, "multistream-select: out of memory");
  uint8_t prefix[VARINT_BYTES_MAX];
  size_t prefix_len = varint_encode(message_len, prefix);
  memcpy(out->data + out->len, prefix, prefix_len);
  memcpy(out->data + out->len + prefix_len, text, text_len);
  out->data[out->len + prefix_len + text_len] = '\n';
  out->len += prefix_len + message_len;
  return 0;
}

int mss_decode(const uint8_t *in, size_t len, char out[MSS_PROTOCOL_BYTES_MAX + 1]) {
  assert(in || len == 0);
  assert(out);
  uint64_t message_len = 0;
  int prefix_len = varint_decode(in, len, &message_len);
  if (prefix_len == -EAGAIN) return 0;
  if (prefix_len < 0) return err_set(-EPROTO, "multistream-select: bad length prefix");
  if (message_len == 0) return err_set(-EPROTO, "multistream-select: empty message");
  if (message_len > MSS_PROTOCOL_BYTES_MAX + 1)
    return err_set(-EPROTO, "multistream-select: message of %llu bytes (limit %d)",
                   (unsigned long long)message_len, MSS_PROTOCOL_BYTES_MAX + 1);
  if (len - (size_t)prefix_len < message_len) return 0;
  const uint8_t *text = in + prefix_len;
  size_t text_len = (size_t)message_len - 1;
  if (text[text_len] != '\n') return err_set(-EPROTO, "multistream-select: message without trailing newline");
  /* The text becomes a C string: an embedded NUL or newline would make it
   * mean something other than what was sent. */
  if (memchr(text, '\0', text_len) || memchr(text, '\n', text_len))
    return err_set(-EPROTO, "multistream-select: message with an embedded NUL or newline");
  memcpy(out, text, text_len);
  out[text_len] = '\0';
  return prefix_len + (int)message_len;
}
