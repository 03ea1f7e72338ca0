/*
 * dwn/ids: computeCid vectors and a real RecordsWrite (descriptorCid,
 * messageCid, entryId) made by dwn-sdk-js 0.5.2; messageCid ignores the reply
 * decorations and never changes the caller's object; Message.getCid's own
 * rule (dwn_message_cid_sdk); message CID parsing; dataCid vectors from
 * Cid.computeDagPbCidFromBytes (empty, "abc", zeros around one chunk, a
 * two-level 45 613 057-byte DAG), agreement with the importer set up as
 * `anya add --cid-version 1` at 262143 / 262144 / 262145 / 1048577 bytes, the
 * blocks handed to the sink, streaming from a pipe, and sink errors.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "dwn/dagcbor.h"
#include "dwn/ids.h"
#include "err.h"
#include "importer.h"
#include "testdir.h"

#define EMPTY_DATA_CID "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"

/* A RecordsWrite built by RecordsWrite.create (dwn-sdk-js 0.5.2, did:key Ed25519
 * author) with the identifiers the SDK computed for it. */
static const char records_write[] =
    "{\"recordId\": \"bafyreiarb3jchcy34p4j6yqzwmusosav7ozvpi5cfbjc6abjovbcoq6tpq\", \"descriptor\": "
    "{\"interface\": \"Records\", \"method\": \"Write\", \"recipient\": "
    "\"did:key:z6Mkvh5XQrusMukTGE5XS2zVbkkzrgjnL5PuBaEuYJW37N94\", \"schema\": \"https://example.com/schema/1\", "
    "\"tags\": {\"lang\": \"en\", \"score\": 0.75, \"count\": 3, \"flags\": [\"a\", \"b\"], \"big\": "
    "9007199254740992, \"neg\": -2.5}, \"dataCid\": "
    "\"bafkreidoh6xr4j6ul7fhai2k5d3pbjzumiwp7ctovaslp5qnh75puksgkq\", \"dataSize\": 1, \"dateCreated\": "
    "\"2024-05-01T10:04:12.048891Z\", \"messageTimestamp\": \"2024-05-01T10:04:12.048891Z\", \"published\": "
    "false, \"dataFormat\": \"application/json\"}, \"authorization\": {\"signature\": {\"payload\": "
    "\"eyJyZWNvcmRJZCI6ImJhZnlyZWlhcmIzamNoY3kzNHA0ajZ5cXp3bXVzb3NhdjdvenZwaTVjZmJqYzZhYmpvdmJjb3E2dHBxIiwiZG"
    "VzY3JpcHRvckNpZCI6ImJhZnlyZWlmdnVhaDR2ZWtqenNpMmVuM3JoN3hoM2RwYzNidWtpampxd2Jjc3d5Y3lpNWFpbW9pbmx1In0\", "
    "\"signatures\": [{\"protected\": "
    "\"eyJraWQiOiJkaWQ6a2V5Ono2TWtxc0pUd3RoUmQzcHZ6ajdHOFNqSHgybnZNenU2eVVXYTZKTFBWQmN3d3F5NyN6Nk1rcXNKVHd0aFJkM3B"
    "2emo3RzhTakh4Mm52TXp1NnlVV2E2SkxQVkJjd3dxeTciLCJhbGciOiJFZERTQSJ9\", \"signature\": "
    "\"WOKThHN9w0ZNgKj7QrVfnCKJG2cV4AxRR-jnm_iqbq0uHRUyBN659VZC-sl0-s0JffHkxNetmNdPGu9-0P0NDA\"}]}}}";
#define RW_DESCRIPTOR_CID "bafyreifvuah4vekjzsi2en3rh7xh3dpc3bukijjqwbcswycyi5aimoinlu"
#define RW_MESSAGE_CID "bafyreih2pjjh7kxc6hswr3fmpjru2lg5reqhyofrpagrnnstn6uufc7tg4"
#define RW_AUTHOR "did:key:z6MkqsJTwthRd3pvzj7G8SjHx2nvMzu6yUWa6JLPVBcwwqy7"
#define RW_ENTRY_ID "bafyreiarb3jchcy34p4j6yqzwmusosav7ozvpi5cfbjc6abjovbcoq6tpq"

static json_t *parse(const char *text) {
  json_error_t error;
  json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &error);
  if (!v) fail_msg("bad test JSON: %s", error.text);
  return v;
}

static void expect_cid(int rc, const cid_t *cid, const char *want) {
  if (rc) fail_msg("error %d: %s", rc, err_msg(rc));
  char text[DWN_CID_TEXT_BYTES];
  assert_int_equal(dwn_cid_text(cid, text), 0);
  if (strcmp(text, want) != 0) fail_msg("CID %s, want %s", text, want);
}

static void test_compute_cid_vectors(void **state) {
  (void)state;
  static const struct { const char *json, *cid; } cases[] = {
      {"{}", "bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua"},
      {"[]", "bafyreidwx2fvfdiaox32v2mnn6sxu3j4qoxeqcuenhtgrv5qv6litfnmoe"},
      {"null", "bafyreifqwkmiw256ojf2zws6tzjeonw6bpd5vza4i22ccpcq4hjv2ts7cm"},
      {"{\"a\":1}", "bafyreihltcnuuyqp2jm24aqydpnlj7b6w3ogwrplomrjtg5rifv44mmjey"},
      {"{\"a\":1.0}", "bafyreihltcnuuyqp2jm24aqydpnlj7b6w3ogwrplomrjtg5rifv44mmjey"},
      {"{\"descriptor\":{\"method\":\"Query\",\"interface\":\"Records\"}}",
       "bafyreiab4nyhwodixrrefu2kxmjkylrjviyk4mbkm6dtmle4bpkvst2vai"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *v = parse(cases[i].json);
    cid_t cid;
    expect_cid(dwn_compute_cid(v, &cid), &cid, cases[i].cid);
    assert_int_equal(cid.version, 1);
    assert_int_equal(cid.codec, CODEC_DAG_CBOR);
    char text[DWN_CID_TEXT_BYTES];
    assert_int_equal(dwn_compute_cid_text(v, text), 0);
    assert_string_equal(text, cases[i].cid);
    assert_int_equal(strlen(text), DWN_CID_TEXT_BYTES - 1);
    json_decref(v);
  }
  /* encoder errors come through */
  json_t *deep = json_null();
  for (int i = 0; i <= DAGCBOR_DEPTH_MAX; i++) {
    json_t *a = json_array();
    json_array_append_new(a, deep);
    deep = a;
  }
  cid_t cid;
  assert_int_equal(dwn_compute_cid(deep, &cid), -ELOOP);
  json_decref(deep);
}

static void test_records_write_ids(void **state) {
  (void)state;
  json_t *m = parse(records_write);
  char *before = json_dumps(m, 0);
  cid_t cid;
  expect_cid(dwn_descriptor_cid(m, &cid), &cid, RW_DESCRIPTOR_CID);
  expect_cid(dwn_message_cid(m, &cid), &cid, RW_MESSAGE_CID);
  expect_cid(dwn_message_cid_sdk(m, &cid), &cid, RW_MESSAGE_CID);
  const json_t *descriptor = json_object_get(m, "descriptor");
  expect_cid(dwn_entry_id(descriptor, RW_AUTHOR, &cid), &cid, RW_ENTRY_ID);
  /* the initial write: recordId is the entryId; another author gives another id */
  assert_string_equal(json_string_value(json_object_get(m, "recordId")), RW_ENTRY_ID);
  cid_t other;
  assert_int_equal(dwn_entry_id(descriptor, "did:example:bob", &other), 0);
  assert_false(cid_equal(&cid, &other));
  /* an `author` already in the descriptor is replaced, as {...descriptor, author} does */
  json_t *d2 = json_deep_copy(descriptor);
  json_object_set_new(d2, "author", json_string("did:example:mallory"));
  expect_cid(dwn_entry_id(d2, RW_AUTHOR, &cid), &cid, RW_ENTRY_ID);
  json_decref(d2);
  /* the same message with the reply decorations has the same messageCid */
  json_t *decorated = json_copy(m);
  json_object_set_new(decorated, "encodedData", json_string("aGVsbG8"));
  json_object_set_new(decorated, "initialWrite", json_deep_copy(m));
  expect_cid(dwn_message_cid(decorated, &cid), &cid, RW_MESSAGE_CID);
  /* nothing the functions saw was changed */
  char *after = json_dumps(m, 0);
  assert_string_equal(before, after);
  assert_non_null(json_object_get(decorated, "encodedData"));
  assert_non_null(json_object_get(decorated, "initialWrite"));
  free(before);
  free(after);
  json_decref(decorated);
  json_decref(m);
}

/* Message.getCid drops encodedData only when truthy and keeps initialWrite. */
static void test_message_cid_sdk_rule(void **state) {
  (void)state;
  json_t *m = parse(records_write);
  cid_t sdk, ours, plain;
  assert_int_equal(dwn_message_cid(m, &plain), 0);
  static const char *const truthy[] = {"\"x\"", "1", "true", "{}", "[]", "0.5"};
  static const char *const falsy[] = {"\"\"", "0", "false", "null", "-0.0"};
  for (size_t i = 0; i < sizeof truthy / sizeof truthy[0]; i++) {
    json_t *d = json_copy(m);
    json_object_set_new(d, "encodedData", parse(truthy[i]));
    assert_int_equal(dwn_message_cid_sdk(d, &sdk), 0);
    assert_true(cid_equal(&sdk, &plain));
    json_decref(d);
  }
  for (size_t i = 0; i < sizeof falsy / sizeof falsy[0]; i++) {
    json_t *d = json_copy(m);
    json_object_set_new(d, "encodedData", parse(falsy[i]));
    assert_int_equal(dwn_message_cid_sdk(d, &sdk), 0);
    assert_int_equal(dwn_compute_cid(d, &ours), 0);
    assert_true(cid_equal(&sdk, &ours)); /* kept, hashed with the message */
    assert_false(cid_equal(&sdk, &plain));
    assert_int_equal(dwn_message_cid(d, &ours), 0);
    assert_true(cid_equal(&ours, &plain));
    json_decref(d);
  }
  json_t *d = json_copy(m);
  json_object_set_new(d, "initialWrite", json_object());
  assert_int_equal(dwn_message_cid_sdk(d, &sdk), 0);
  assert_false(cid_equal(&sdk, &plain));
  json_decref(d);
  json_decref(m);
}

static void test_errors(void **state) {
  (void)state;
  cid_t cid;
  json_t *arr = parse("[1]");
  json_t *nodesc = parse("{\"descriptor\":\"x\"}");
  json_t *empty = parse("{}");
  assert_int_equal(dwn_descriptor_cid(arr, &cid), -EINVAL);
  assert_int_equal(dwn_descriptor_cid(nodesc, &cid), -EINVAL);
  assert_int_equal(dwn_descriptor_cid(empty, &cid), -EINVAL);
  assert_int_equal(dwn_descriptor_cid(NULL, &cid), -EINVAL);
  assert_int_equal(dwn_message_cid(arr, &cid), -EINVAL);
  assert_int_equal(dwn_message_cid_sdk(arr, &cid), -EINVAL);
  assert_int_equal(dwn_entry_id(arr, "did:example:a", &cid), -EINVAL);
  assert_int_equal(dwn_entry_id(empty, "\xc0\xaf", &cid), -EINVAL);
  expect_cid(dwn_message_cid(empty, &cid), &cid, "bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua");
  json_decref(arr);
  json_decref(nodesc);
  json_decref(empty);
}

static void test_message_cid_parse(void **state) {
  (void)state;
  cid_t cid;
  assert_int_equal(dwn_message_cid_parse(RW_MESSAGE_CID, &cid), 0);
  char text[DWN_CID_TEXT_BYTES];
  assert_int_equal(dwn_cid_text(&cid, text), 0);
  assert_string_equal(text, RW_MESSAGE_CID);
  /* another base of the same CID is accepted too (CID.parse does) */
  char b58[CID_TEXT_BYTES_MAX];
  assert_int_equal(cid_format(&cid, MBASE_BASE58BTC, b58), 0);
  cid_t again;
  assert_int_equal(dwn_message_cid_parse(b58, &again), 0);
  assert_true(cid_equal(&cid, &again));
  assert_int_equal(dwn_message_cid_parse(EMPTY_DATA_CID, &cid), -EINVAL);                  /* raw */
  assert_int_equal(dwn_message_cid_parse("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH", &cid), -EINVAL);
  assert_int_equal(dwn_message_cid_parse("bafyreih2pjjh7kxc6hswr3fmpjru2lg5reqhyofrpagrnnstn6uufc7tg", &cid),
                   -EINVAL);
  assert_int_equal(dwn_message_cid_parse("", &cid), -EINVAL);
  assert_int_equal(dwn_message_cid_parse("not a cid", &cid), -EINVAL);
}

/* ---- dataCid ---- */

#define BLOCKS_MAX 512

typedef struct collected {
  size_t blocks;
  size_t raw_blocks;
  uint64_t raw_bytes;
  cid_t cids[BLOCKS_MAX];
  int fail_after; /* 0: never; n: the n-th put fails with -ENOSPC */
} collected_t;

static int collect_put(void *ctx, const cid_t *cid, const uint8_t *data, size_t len) {
  collected_t *c = ctx;
  if (c->fail_after && (int)c->blocks + 1 >= c->fail_after) return -ENOSPC;
  assert_int_equal(mh_verify(&cid->hash, data, len), 1);
  assert_int_equal(cid->version, 1);
  assert_true(len <= BLOCK_BYTES_MAX);
  if (c->blocks < BLOCKS_MAX) c->cids[c->blocks] = *cid;
  c->blocks++;
  if (cid->codec == CODEC_RAW) {
    c->raw_blocks++;
    c->raw_bytes += len;
    assert_true(len <= DWN_DATA_CHUNK_BYTES);
  } else {
    assert_int_equal(cid->codec, CODEC_DAG_PB);
  }
  return 0;
}

static void test_data_cid_vectors(void **state) {
  (void)state;
  static const struct { size_t size; int byte; const char *cid; } cases[] = {
      {0, 0, EMPTY_DATA_CID},
      {1, 0, "bafkreidogqfzz75tpkmjzjke425xqcrmpcib2p5tg44hnbirumdbpl5adu"},
      {262143, 0, "bafkreic6iqyxuiad5dem4bzgyy336yoi6tegdqa4e5vt24gq3btool5cra"},
      {262144, 0, "bafkreiekhhjkxu4ztk3tyng3er3ijhg56mb44oe3gwbgquhzu4afrg2ksa"},
      {262145, 0, "bafybeigllfqgfpqydppr6cmv56g7ax4wyhruzswvcefv6j5kj77nzttfki"},
      {1048577, 0, "bafybeihhq4imxfkfucfxjbnqvrvzdknmfbzvxaivz7jzdnumfkabdbq3yq"},
      {45613056, 0, "bafybeibxsa3ioclowpaq7b6gxl65gzqneopfr3fnhedak6sqr4bjz5lnyq"}, /* 174 leaves */
      {45613057, 0, "bafybeihqwzd3o6q6v3pmwhzjy22vokhr767burokmqemg63hptx2nqd7ym"}, /* two levels */
  };
  uint8_t *data = calloc(45613057, 1);
  assert_non_null(data);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    collected_t c = {0};
    block_sink_t sink = {.put = collect_put, .ctx = &c};
    cid_t cid;
    expect_cid(dwn_data_cid_mem(data, cases[i].size, &sink, &cid), &cid, cases[i].cid);
    assert_int_equal(c.raw_bytes, cases[i].size);
    /* without a sink the same CID */
    cid_t bare;
    expect_cid(dwn_data_cid_mem(data, cases[i].size, NULL, &bare), &bare, cases[i].cid);
    size_t leaves = (cases[i].size + DWN_DATA_CHUNK_BYTES - 1) / DWN_DATA_CHUNK_BYTES;
    if (cases[i].size <= DWN_DATA_CHUNK_BYTES) {
      assert_int_equal(c.blocks, 1); /* the raw leaf is the root */
      assert_int_equal(cid.codec, CODEC_RAW);
    } else {
      assert_int_equal(c.raw_blocks, leaves);
      assert_int_equal(cid.codec, CODEC_DAG_PB);
      /* one node per 174 leaves, then the root above them when there are several */
      size_t nodes = (leaves + DWN_DATA_LINKS_MAX - 1) / DWN_DATA_LINKS_MAX;
      if (nodes > 1) nodes += 1;
      assert_int_equal(c.blocks - c.raw_blocks, nodes);
      assert_true(c.blocks <= BLOCKS_MAX);
      assert_true(cid_equal(&c.cids[c.blocks - 1], &cid)); /* the root comes last */
    }
  }
  /* "abc", and the null pointer for no data */
  cid_t cid;
  expect_cid(dwn_data_cid_mem("abc", 3, NULL, &cid), &cid, "bafkreif2pall7dybz7vecqka3zo24irdwabwdi4wc55jznaq75q7eaavvu");
  expect_cid(dwn_data_cid_mem(NULL, 0, NULL, &cid), &cid, EMPTY_DATA_CID);
  free(data);
}

/* The importer configured as `anya add --cid-version 1` gives the same roots. */
static void test_data_cid_matches_importer(void **state) {
  (void)state;
  static const size_t sizes[] = {0, 1, 262143, 262144, 262145, 524288, 1048577};
  uint8_t *data = malloc(1048577);
  assert_non_null(data);
  testdir_fill(data, 1048577, 6);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    int fd = memfd_create("test-dwn-ids", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, sizes[i]), (ssize_t)sizes[i]);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    imp_options_t o;
    imp_options_default(&o);
    o.cid_version = 1; /* --cid-version 1 implies --raw-leaves */
    collected_t c = {0};
    block_sink_t sink = {.put = collect_put, .ctx = &c};
    cid_t want, mem, from_fd;
    assert_int_equal(imp_add_fd(&o, &sink, fd, NULL, &want, NULL), 0);
    assert_int_equal(dwn_data_cid_mem(data, sizes[i], NULL, &mem), 0);
    assert_true(cid_equal(&mem, &want));
    /* from the fd, with the byte count */
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    uint64_t size = 12345;
    assert_int_equal(dwn_data_cid_fd(fd, NULL, &from_fd, &size), 0);
    assert_true(cid_equal(&from_fd, &want));
    assert_int_equal(size, sizes[i]);
    char text[DWN_DATA_CID_TEXT_BYTES];
    assert_int_equal(dwn_cid_text(&want, text), 0);
    assert_int_equal(strncmp(text, sizes[i] <= 262144 ? "bafkrei" : "bafybei", 7), 0);
    close(fd);
  }
  /* the fd is read from its current offset */
  int fd = memfd_create("test-dwn-ids", MFD_CLOEXEC);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, data, 300000), 300000);
  assert_int_equal(lseek(fd, 1000, SEEK_SET), 1000);
  cid_t from_offset, want;
  uint64_t size = 0;
  assert_int_equal(dwn_data_cid_fd(fd, NULL, &from_offset, &size), 0);
  assert_int_equal(size, 299000);
  assert_int_equal(dwn_data_cid_mem(data + 1000, 299000, NULL, &want), 0);
  assert_true(cid_equal(&from_offset, &want));
  close(fd);
  free(data);
}

typedef struct feeder {
  int fd;
  const uint8_t *data;
  size_t len;
} feeder_t;

static void *feed(void *arg) {
  feeder_t *f = arg;
  for (size_t at = 0; at < f->len;) {
    size_t n = f->len - at < 1000 ? f->len - at : 1000; /* small, uneven pieces */
    ssize_t w = write(f->fd, f->data + at, n);
    if (w <= 0) break;
    at += (size_t)w;
  }
  close(f->fd);
  return NULL;
}

static void test_data_cid_stream(void **state) {
  (void)state;
  static const size_t sizes[] = {0, 30000, 262145, 1048577};
  uint8_t *data = malloc(1048577);
  assert_non_null(data);
  testdir_fill(data, 1048577, 9);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    feeder_t f = {.fd = fds[1], .data = data, .len = sizes[i]};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, feed, &f), 0);
    collected_t c = {0};
    block_sink_t sink = {.put = collect_put, .ctx = &c};
    cid_t streamed, mem;
    uint64_t size = 0;
    assert_int_equal(dwn_data_cid_fd(fds[0], &sink, &streamed, &size), 0);
    pthread_join(t, NULL);
    close(fds[0]);
    assert_int_equal(size, sizes[i]);
    assert_int_equal(c.raw_bytes, sizes[i]);
    assert_int_equal(dwn_data_cid_mem(data, sizes[i], NULL, &mem), 0);
    assert_true(cid_equal(&streamed, &mem));
  }
  free(data);
}

static void test_data_cid_sink_error(void **state) {
  (void)state;
  uint8_t *data = calloc(600000, 1);
  assert_non_null(data);
  static const size_t sizes[] = {10, 600000};
  for (size_t i = 0; i < 2; i++) {
    collected_t c = {.fail_after = 1};
    block_sink_t sink = {.put = collect_put, .ctx = &c};
    cid_t cid;
    memset(&cid, 0x5a, sizeof cid);
    cid_t before = cid;
    assert_int_equal(dwn_data_cid_mem(data, sizes[i], &sink, &cid), -ENOSPC);
    assert_memory_equal(&cid, &before, sizeof cid); /* untouched */
  }
  assert_int_equal(dwn_data_cid_fd(-1, NULL, &(cid_t){0}, NULL), -EBADF);
  free(data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_compute_cid_vectors),
      cmocka_unit_test(test_records_write_ids),
      cmocka_unit_test(test_message_cid_sdk_rule),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_message_cid_parse),
      cmocka_unit_test(test_data_cid_vectors),
      cmocka_unit_test(test_data_cid_matches_importer),
      cmocka_unit_test(test_data_cid_stream),
      cmocka_unit_test(test_data_cid_sink_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
