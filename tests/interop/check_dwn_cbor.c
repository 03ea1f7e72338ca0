/*
 * check_dwn_cbor: checks the vectors of tests/interop/dwn-cbor.mjs (dwn-sdk-js
 * 0.5.2 and @ipld/dag-cbor 9.0.3) against dwn/dagcbor and dwn/ids, byte for
 * byte.  Reads one JSON object a line from the file named by argv[1] (or
 * stdin); the line kinds are described at the top of the .mjs.
 *
 * For every value and message: our dag-cbor equals the oracle's hex, our CID
 * equals Cid.computeCid, the oracle's bytes decode (strictly) to a value equal
 * to the input that re-encodes to the same bytes.  Messages also check
 * descriptorCid, messageCid (Message.getCid), and for RecordsWrite the entryId
 * (RecordsWrite.getEntryId), that it equals recordId exactly on initial writes,
 * and the dataCid/dataSize of the record's data.  Decorated messages check
 * dwn_message_cid (strips encodedData and initialWrite) and dwn_message_cid_sdk
 * (Message.getCid's own rule).  Data vectors check dataCid from memory and
 * streamed through a pipe, and the byte count.
 *
 * Prints "checked N vectors (...)" and exits 0, or stops at the first mismatch
 * with the line number and both values, exit 1.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "dwn/dagcbor.h"
#include "dwn/ids.h"
#include "err.h"
#include "multihash.h"

#define LINE_BYTES_MAX ((size_t)64 << 20)
#define DATA_BYTES_MAX ((size_t)256 << 20)

static size_t line_number;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "MISMATCH at vector line %zu: ", line_number);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static const char *str_field(const json_t *o, const char *name) {
  const char *s = json_string_value(json_object_get(o, name));
  if (!s) die("field \"%s\" missing or not a string", name);
  return s;
}

static char *hex_of(const buf_t *b) {
  char *s = malloc(b->len * 2 + 1);
  if (!s) die("out of memory");
  for (size_t i = 0; i < b->len; i++) sprintf(s + 2 * i, "%02x", b->data[i]);
  s[b->len * 2] = '\0';
  return s;
}

static void hex_to(const char *hex, buf_t *out) {
  size_t n = strlen(hex);
  if (n % 2) die("odd hex length");
  buf_reset(out);
  for (size_t i = 0; i < n; i += 2) {
    unsigned v;
    if (sscanf(hex + i, "%2x", &v) != 1) die("bad hex");
    if (buf_append_byte(out, (uint8_t)v)) die("out of memory");
  }
}

static void expect_cid(const char *what, int rc, const cid_t *cid, const char *want) {
  if (rc) die("%s: error %d (%s)", what, rc, err_msg(rc));
  char text[DWN_CID_TEXT_BYTES];
  if (dwn_cid_text(cid, text)) die("%s: cannot format", what);
  if (strcmp(text, want) != 0) die("%s: ours %s, oracle %s", what, text, want);
}

/* value <-> cbor <-> cid, both directions */
static void check_encoding(const json_t *value, const char *want_hex, const char *want_cid) {
  buf_t ours = {0};
  int rc = dagcbor_encode(value, &ours);
  if (rc) die("encode failed: %d (%s)", rc, err_msg(rc));
  char *hex = hex_of(&ours);
  if (strcmp(hex, want_hex) != 0) {
    char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    die("dag-cbor differs for %s\n  ours   %s\n  oracle %s", text ? text : "?", hex, want_hex);
  }
  free(hex);
  cid_t cid;
  expect_cid("computeCid", dwn_compute_cid(value, &cid), &cid, want_cid);
  char text[DWN_CID_TEXT_BYTES];
  if (dwn_compute_cid_text(value, text) || strcmp(text, want_cid) != 0) die("dwn_compute_cid_text differs");
  /* the oracle's bytes decode strictly and round-trip */
  buf_t theirs = {0};
  hex_to(want_hex, &theirs);
  json_t *back = NULL;
  rc = dagcbor_decode(theirs.data, theirs.len, &back);
  if (rc) die("decoding the oracle's bytes failed: %d (%s)", rc, err_msg(rc));
  if (!dagcbor_json_equal(back, value)) die("decoded value differs from the input");
  buf_t again = {0};
  if (dagcbor_encode(back, &again) || again.len != theirs.len ||
      memcmp(again.data, theirs.data, theirs.len) != 0)
    die("decode -> encode does not give back the bytes");
  json_decref(back);
  buf_free(&theirs);
  buf_free(&again);
  buf_free(&ours);
}

/* data(S, N): the first N bytes of SHA-256(S || be64(0)) || SHA-256(S || be64(1)) || ... */
static uint8_t *data_bytes(const char *seed, size_t size) {
  uint8_t *out = malloc(size ? size : 1);
  if (!out) die("out of memory for %zu data bytes", size);
  size_t seed_len = strlen(seed);
  uint8_t *input = malloc(seed_len + 8);
  if (!input) die("out of memory");
  memcpy(input, seed, seed_len);
  for (uint64_t i = 0, at = 0; at < size; i++, at += 32) {
    for (int k = 0; k < 8; k++) input[seed_len + (size_t)k] = (uint8_t)(i >> (8 * (7 - k)));
    uint8_t block[MH_SHA2_256_BYTES];
    mh_sha256_raw(input, seed_len + 8, block);
    size_t n = size - at < 32 ? size - at : 32;
    memcpy(out + at, block, n);
  }
  free(input);
  return out;
}

typedef struct feeder {
  int fd;
  const uint8_t *data;
  size_t len;
} feeder_t;

static void *feed(void *arg) {
  feeder_t *f = arg;
  size_t at = 0;
  while (at < f->len) {
    size_t n = f->len - at < 65536 ? f->len - at : 65536; /* like a socket: small pieces */
    ssize_t w = write(f->fd, f->data + at, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    at += (size_t)w;
  }
  close(f->fd);
  return NULL;
}

/* Blocks the importer hands out while computing a dataCid from memory. */
typedef struct sink_count {
  size_t blocks;
  uint64_t raw_bytes;
} sink_count_t;

static int count_put(void *ctx, const cid_t *cid, const uint8_t *data, size_t len) {
  sink_count_t *c = ctx;
  if (mh_verify(&cid->hash, data, len) != 1) return -EBADMSG; /* every block matches its CID */
  c->blocks++;
  if (cid->codec == CODEC_RAW) c->raw_bytes += len;
  return 0;
}

static void check_data(const char *seed, size_t size, const char *want) {
  if (size > DATA_BYTES_MAX) die("data size %zu over the checker's bound", size);
  uint8_t *data = data_bytes(seed, size);
  sink_count_t count = {0};
  block_sink_t sink = {.put = count_put, .ctx = &count};
  cid_t cid;
  expect_cid("dataCid (memory)", dwn_data_cid_mem(data, size, &sink, &cid), &cid, want);
  if (count.raw_bytes != size) die("dataCid (memory): raw leaves hold %llu bytes, want %zu",
                                   (unsigned long long)count.raw_bytes, size);
  int fds[2];
  if (pipe(fds)) die("pipe: %s", strerror(errno));
  feeder_t f = {.fd = fds[1], .data = data, .len = size};
  pthread_t t;
  if (pthread_create(&t, NULL, feed, &f)) die("pthread_create");
  uint64_t counted = 0;
  int rc = dwn_data_cid_fd(fds[0], NULL, &cid, &counted);
  close(fds[0]);
  pthread_join(t, NULL);
  expect_cid("dataCid (stream)", rc, &cid, want);
  if (counted != size) die("dataSize (stream): %llu, want %zu", (unsigned long long)counted, size);
  free(data);
}

static void check_message(const json_t *line) {
  const json_t *message = json_object_get(line, "message");
  if (!json_is_object(message)) die("message is not an object");
  check_encoding(message, str_field(line, "cbor"), str_field(line, "cid"));
  cid_t cid;
  expect_cid("descriptorCid", dwn_descriptor_cid(message, &cid), &cid, str_field(line, "descriptorCid"));
  expect_cid("messageCid", dwn_message_cid(message, &cid), &cid, str_field(line, "messageCid"));
  expect_cid("messageCid (sdk rule)", dwn_message_cid_sdk(message, &cid), &cid, str_field(line, "messageCid"));
  if (strcmp(str_field(line, "type"), "RecordsWrite") != 0) return;
  const json_t *descriptor = json_object_get(message, "descriptor");
  const char *entry_want = str_field(line, "entryId");
  expect_cid("entryId", dwn_entry_id(descriptor, str_field(line, "author"), &cid), &cid, entry_want);
  char entry[DWN_CID_TEXT_BYTES];
  dwn_cid_text(&cid, entry);
  bool initial = strcmp(entry, str_field(message, "recordId")) == 0;
  if (initial != json_is_true(json_object_get(line, "initial")))
    die("entryId == recordId is %d, oracle says initial = %d", initial, !initial);
  json_int_t size = (json_int_t)json_number_value(json_object_get(line, "dataSize"));
  if (size < 0) return; /* data not reproducible here (a grant's JSON) */
  if ((json_int_t)json_number_value(json_object_get(descriptor, "dataSize")) != size)
    die("descriptor dataSize differs from the generated data size");
  check_data(str_field(line, "dataSeed"), (size_t)size, str_field(descriptor, "dataCid"));
}

static void check_decorated(const json_t *line) {
  const json_t *message = json_object_get(line, "message");
  cid_t cid;
  expect_cid("messageCid of a decorated message", dwn_message_cid(message, &cid), &cid,
             str_field(line, "strippedCid"));
  expect_cid("Message.getCid of a decorated message", dwn_message_cid_sdk(message, &cid), &cid,
             str_field(line, "sdkMessageCid"));
}

int main(int argc, char **argv) {
  FILE *in = argc > 1 ? fopen(argv[1], "r") : stdin;
  if (!in) { perror(argv[1]); return 2; }
  char *text = NULL;
  size_t cap = 0;
  size_t values = 0, messages = 0, decorated = 0, data = 0, min_values = 0;
  if (argc > 2) min_values = strtoul(argv[2], NULL, 10);
  ssize_t n;
  while ((n = getline(&text, &cap, in)) > 0) {
    line_number++;
    if ((size_t)n > LINE_BYTES_MAX) die("line over %zu bytes", LINE_BYTES_MAX);
    json_error_t error;
    json_t *line = json_loadb(text, (size_t)n, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &error);
    if (!line) die("unparsable vector line: %s", error.text);
    const char *kind = str_field(line, "kind");
    if (strcmp(kind, "value") == 0) {
      check_encoding(json_object_get(line, "value"), str_field(line, "cbor"), str_field(line, "cid"));
      values++;
    } else if (strcmp(kind, "message") == 0) {
      check_message(line);
      messages++;
    } else if (strcmp(kind, "decorated") == 0) {
      check_decorated(line);
      decorated++;
    } else if (strcmp(kind, "data") == 0) {
      check_data(str_field(line, "seed"), (size_t)json_number_value(json_object_get(line, "size")),
                 str_field(line, "dataCid"));
      data++;
    } else {
      die("unknown kind %s", kind);
    }
    json_decref(line);
  }
  free(text);
  if (in != stdin) fclose(in);
  size_t total = values + messages + decorated + data;
  printf("checked %zu vectors (%zu values, %zu messages, %zu decorated messages, %zu data CIDs)\n", total,
         values, messages, decorated, data);
  if (values < min_values || messages == 0 || decorated == 0 || data == 0) {
    fprintf(stderr, "too few vectors: want at least %zu values and some of every other kind\n", min_values);
    return 1;
  }
  return 0;
}
