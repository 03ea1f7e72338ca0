/*
 * dwn/ids: message and data identifiers (see ids.h).
 */
#include "dwn/ids.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dwn/dagcbor.h"
#include "err.h"
#include "importer.h"

/* Top-level members that replies and the message store add to a message;
 * they are not part of what its CID covers (dwn-reference.md §3.2). */
static const char *const message_decorations[] = {"encodedData", "initialWrite"};

static int cid_of_encoding(const buf_t *b, cid_t *out) {
  return cid_make(out, 1, CODEC_DAG_CBOR, MH_SHA2_256, b->data ? b->data : (const uint8_t *)"", b->len);
}

int dwn_compute_cid(const json_t *v, cid_t *out) {
  assert(out != NULL);
  buf_t b = {0};
  int rc = dagcbor_encode(v, &b);
  if (rc == 0) rc = cid_of_encoding(&b, out);
  buf_free(&b);
  return rc;
}

int dwn_cid_text(const cid_t *cid, char out[DWN_CID_TEXT_BYTES]) {
  char text[CID_TEXT_BYTES_MAX];
  int rc = cid_format(cid, MBASE_BASE32, text);
  if (rc) return rc;
  size_t n = strlen(text);
  if (n >= DWN_CID_TEXT_BYTES) return err_set(-EINVAL, "CID text of %zu characters is not a DWN CID", n);
  memcpy(out, text, n + 1);
  return 0;
}

int dwn_compute_cid_text(const json_t *v, char out[DWN_CID_TEXT_BYTES]) {
  cid_t cid;
  int rc = dwn_compute_cid(v, &cid);
  return rc ? rc : dwn_cid_text(&cid, out);
}

int dwn_descriptor_cid(const json_t *message, cid_t *out) {
  const json_t *descriptor = json_is_object(message) ? json_object_get(message, "descriptor") : NULL;
  if (!json_is_object(descriptor)) return err_set(-EINVAL, "DWN message has no descriptor object");
  return dwn_compute_cid(descriptor, out);
}

static int cid_of_edited(const json_t *object, const dagcbor_edit_t *edit, cid_t *out) {
  buf_t b = {0};
  int rc = dagcbor_encode_edited(object, edit, &b);
  if (rc == 0) rc = cid_of_encoding(&b, out);
  buf_free(&b);
  return rc;
}

int dwn_message_cid(const json_t *message, cid_t *out) {
  assert(out != NULL);
  if (!json_is_object(message)) return err_set(-EINVAL, "DWN message is not a JSON object");
  dagcbor_edit_t edit = {
      .omit = message_decorations,
      .omit_len = sizeof message_decorations / sizeof message_decorations[0],
  };
  return cid_of_edited(message, &edit, out);
}

/* JavaScript truthiness of a JSON value (false, null, 0 and "" are falsy). */
static bool js_truthy(const json_t *v) {
  if (json_is_false(v) || json_is_null(v)) return false;
  if (json_is_string(v)) return json_string_length(v) > 0;
  if (json_is_number(v)) return json_number_value(v) != 0;
  return true;
}

int dwn_message_cid_sdk(const json_t *message, cid_t *out) {
  assert(out != NULL);
  if (!json_is_object(message)) return err_set(-EINVAL, "DWN message is not a JSON object");
  const json_t *encoded = json_object_get(message, "encodedData");
  static const char *const omit[] = {"encodedData"};
  dagcbor_edit_t edit = {.omit = omit, .omit_len = encoded && js_truthy(encoded) ? 1 : 0};
  return cid_of_edited(message, &edit, out);
}

int dwn_entry_id(const json_t *descriptor, const char *author, cid_t *out) {
  assert(author != NULL && out != NULL);
  if (!json_is_object(descriptor)) return err_set(-EINVAL, "RecordsWrite descriptor is not a JSON object");
  json_t *author_json = json_string(author);
  if (!author_json) return err_set(-EINVAL, "author DID is not valid UTF-8");
  dagcbor_edit_t edit = {.add_key = "author", .add_value = author_json};
  int rc = cid_of_edited(descriptor, &edit, out);
  json_decref(author_json);
  return rc;
}

int dwn_message_cid_parse(const char *text, cid_t *out) {
  cid_t c;
  int rc = cid_parse(&c, text);
  if (rc) return rc;
  if (c.version != 1 || c.codec != CODEC_DAG_CBOR || c.hash.code != MH_SHA2_256)
    return err_set(-EINVAL, "%s is not a dag-cbor sha2-256 CIDv1", text);
  *out = c;
  return 0;
}

/* ---- dataCid ---- */

static int discard_put(void *ctx, const cid_t *cid, const uint8_t *data, size_t len) {
  (void)ctx, (void)cid, (void)data, (void)len;
  return 0;
}

static const block_sink_t discard_sink = {.put = discard_put, .ctx = NULL};

static void count_bytes(void *ctx, uint64_t bytes_done) { *(uint64_t *)ctx = bytes_done; }

int dwn_data_cid_fd(int fd, const block_sink_t *sink, cid_t *out, uint64_t *size_bytes) {
  assert(out != NULL);
  imp_options_t opts;
  imp_options_default(&opts);
  opts.cid_version = 1;
  opts.raw_leaves = 1;
  opts.chunk_bytes = DWN_DATA_CHUNK_BYTES;
  opts.links_max = DWN_DATA_LINKS_MAX;
  opts.trickle = false;
  uint64_t done = 0;
  imp_callbacks_t cb = {.progress = count_bytes, .ctx = &done};
  cid_t root;
  int rc = imp_add_fd(&opts, sink ? sink : &discard_sink, fd, &cb, &root, NULL);
  if (rc) return rc;
  *out = root;
  if (size_bytes) *size_bytes = done;
  return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return err_set(-errno, "dataCid: writing the memory file: %s", strerror(errno));
    }
    assert(n > 0 && (size_t)n <= len);
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int dwn_data_cid_mem(const void *data, size_t len, const block_sink_t *sink, cid_t *out) {
  assert(out != NULL);
  assert(data != NULL || len == 0);
  const uint8_t *bytes = len ? data : (const uint8_t *)"";
  if (len <= DWN_DATA_CHUNK_BYTES) { /* one chunk (or none): the raw leaf is the root */
    cid_t cid;
    int rc = cid_make(&cid, 1, CODEC_RAW, MH_SHA2_256, bytes, len);
    if (rc) return rc;
    if (sink && (rc = sink->put(sink->ctx, &cid, bytes, len))) return rc;
    *out = cid;
    return 0;
  }
  int fd = memfd_create("anya-dwn-data", MFD_CLOEXEC);
  if (fd < 0) return err_set(-errno, "dataCid: memfd_create: %s", strerror(errno));
  int rc = write_all(fd, bytes, len);
  if (rc == 0 && lseek(fd, 0, SEEK_SET) != 0) rc = err_set(-errno, "dataCid: lseek: %s", strerror(errno));
  uint64_t size = 0;
  if (rc == 0) rc = dwn_data_cid_fd(fd, sink, out, &size);
  assert(rc != 0 || size == len);
  close(fd);
  return rc;
}
