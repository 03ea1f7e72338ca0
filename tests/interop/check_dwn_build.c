/*
 * check_dwn_build: messages built and signed in C (engine/dwn/build.h) by two
 * fresh did:key identities (alice Ed25519, carol secp256k1) are processed by
 * the C engine, and the run is written out for dwn-build.mjs, which sends the
 * same messages (same data) to dwn-sdk-js 0.5.2 and requires the same
 * replies (tests/interop/dwn-build.sh).
 *
 * Usage: check_dwn_build OUT.json WORKDIR
 * Each step carries the status the C engine must give (`expect`); a step the
 * engine answers differently fails the run here (exit 1).  A step marked
 * `engine501ok` (none at present) would exercise something the engine does
 * not implement yet: the engine may answer 501 there, the SDK must still give
 * `expect`.  Output:
 *   {"steps": [{"name", "tenant", "message", "data"?: base64url, "expect",
 *               "engine501ok"?, "reply": the C engine's reply body, with
 *               entry.data = {"sha256", "size"} of the returned data}]}
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "bs.h"
#include "buf.h"
#include "dwn/build.h"
#include "dwn/did.h"
#include "dwn/dwn.h"
#include "dwn/jwk.h"
#include "err.h"
#include "multibase.h"

#define STEPS_MAX 64

typedef struct ident {
  json_t *priv;
  char did[256];
  char kid[512];
  dwn_build_signer_t signer;
} ident_t;

static dwn_t *engine;
static json_t *steps;
static int failures;

static void die(const char *what, int rc) {
  fprintf(stderr, "check_dwn_build: %s: %s\n", what, err_msg(rc));
  exit(2);
}

static void ident_make(ident_t *id, jwk_crv_t crv) {
  json_t *pub = NULL;
  int rc = jwk_generate(crv, &id->priv, &pub);
  buf_t did = {0};
  if (rc == 0) rc = did_key_from_jwk(pub, &did);
  if (rc) die("key", rc);
  json_decref(pub);
  snprintf(id->did, sizeof id->did, "%s", (const char *)did.data);
  snprintf(id->kid, sizeof id->kid, "%s#%s", id->did, id->did + strlen("did:key:"));
  buf_free(&did);
  id->signer.private_jwk = id->priv;
  id->signer.kid = id->kid;
}

/* Processes message (stolen) for tenant, records the step; returns the reply body (borrowed from steps). */
static json_t *step(const char *name, const ident_t *tenant, json_t *message, const void *data, size_t len,
                    int expect, bool engine501ok) {
  if (message == NULL) die(name, -EINVAL);
  if (json_array_size(steps) >= STEPS_MAX) die("too many steps", -E2BIG);
  int fd = -1;
  if (data) {
    fd = memfd_create("dwn-build", MFD_CLOEXEC);
    if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len) || lseek(fd, 0, SEEK_SET) != 0) die("memfd", -EIO);
  }
  dwn_reply_t reply;
  int rc = dwn_process(engine, tenant->did, message, fd, &reply);
  if (fd >= 0) close(fd);
  if (rc) die(name, rc);
  json_t *body = json_deep_copy(reply.body);
  json_t *entry = json_object_get(body, "entry");
  if (reply.has_data && entry) {
    buf_t bytes = {0};
    if (dwn_reply_data(engine, &reply, &bytes) != 0) die("reply data", -EIO);
    uint8_t digest[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    SHA256(bytes.data ? bytes.data : (const uint8_t *)"", bytes.len, digest);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    json_object_set_new(entry, "data", json_pack("{s:s,s:I}", "sha256", hex, "size", (json_int_t)bytes.len));
    buf_free(&bytes);
  }
  if (reply.code != expect && !(engine501ok && reply.code == 501)) {
    const char *detail = json_string_value(json_object_get(json_object_get(body, "status"), "detail"));
    fprintf(stderr, "FAIL %s: the C engine answered %d (%s), want %d\n", name, reply.code, detail ? detail : "",
            expect);
    failures++;
  }
  dwn_reply_release(&reply);
  json_t *s = json_pack("{s:s,s:s,s:o,s:i,s:b,s:o}", "name", name, "tenant", tenant->did, "message", message,
                        "expect", expect, "engine501ok", engine501ok, "reply", body);
  if (data) {
    buf_t b64 = {0};
    if (mbase_encode(MBASE_BASE64URL, data, len, &b64) != 0 || buf_cstr(&b64) == NULL) die("base64url", -ENOMEM);
    json_object_set_new(s, "data", json_string((const char *)b64.data));
    buf_free(&b64);
  }
  json_array_append_new(steps, s);
  return body;
}

/* The built message (*m, read after the builder ran), or exit. */
static json_t *must(int rc, json_t **m, const char *what) {
  if (rc) die(what, rc);
  json_t *out = *m;
  *m = NULL;
  return out;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s OUT.json WORKDIR\n", argv[0]);
    return 2;
  }
  char path[4200];
  snprintf(path, sizeof path, "%.4096s/blocks", argv[2]);
  bs_t *bs = NULL;
  int rc = bs_open(path, NULL, &bs);
  snprintf(path, sizeof path, "%.4096s/dwn", argv[2]);
  dwn_options_t opts = {.dir = path, .bs = bs};
  if (!rc) rc = dwn_open(&opts, &engine);
  if (rc) die("open", rc);
  steps = json_array();
  ident_t alice, carol;
  ident_make(&alice, JWK_CRV_ED25519);
  ident_make(&carol, JWK_CRV_SECP256K1);
  json_t *m = NULL;
  dwn_build_common_t c = {0};

  /* a published protocol */
  json_t *def = json_loads("{\"protocol\": \"example.com/chat/\", \"published\": true,"
                           " \"types\": {\"thread\": {\"schema\": \"example.com/thread\"}, \"message\": {}},"
                           " \"structure\": {\"thread\": {\"$actions\": [{\"who\": \"anyone\", \"can\": [\"create\"]}],"
                           " \"message\": {\"$actions\": [{\"who\": \"anyone\", \"can\": [\"create\"]}]}}}}",
                           0, NULL);
  c.message_timestamp = "2024-03-01T00:00:00.000000Z";
  step("protocols-configure", &alice, must(dwn_build_protocols_configure(def, &c, &alice.signer, &m), &m, "pc"),
       NULL, 0, 202, false);
  json_decref(def);

  /* flat records: inline with tags, large, data-less */
  const char *note = "a note written by the C builder";
  dwn_build_write_t w;
  dwn_build_write_init(&w);
  w.data_format = "text/plain";
  w.schema = "example.com/note";
  w.has_data = true;
  w.data = note;
  w.data_len = strlen(note);
  w.message_timestamp = "2024-03-01T00:00:01.000000Z";
  json_t *tags = json_pack("{s:s,s:i,s:[s,s]}", "kind", "memo", "rank", 7, "labels", "a", "b");
  w.tags = tags;
  json_t *note1 = must(dwn_build_records_write(&w, &alice.signer, &m), &m, "write");
  json_incref(note1);
  step("write-inline", &alice, note1, note, strlen(note), 202, false);
  json_decref(tags);

  size_t big_len = 100000;
  uint8_t *big = malloc(big_len);
  for (size_t i = 0; i < big_len; i++) big[i] = (uint8_t)(i * 2654435761u >> 13);
  dwn_build_write_init(&w);
  w.data_format = "application/octet-stream";
  w.schema = "example.com/note";
  w.has_data = true;
  w.data = big;
  w.data_len = big_len;
  w.message_timestamp = "2024-03-01T00:00:02.000000Z";
  w.published = DWN_BUILD_TRUE;
  w.date_published = "2024-03-01T00:00:02.500000Z";
  json_t *bigw = must(dwn_build_records_write(&w, &alice.signer, &m), &m, "write big");
  json_incref(bigw);
  step("write-large", &alice, bigw, big, big_len, 202, false);

  dwn_build_write_init(&w);
  w.data_format = "text/plain";
  w.data_cid = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
  w.data_size = 0;
  w.message_timestamp = "2024-03-01T00:00:03.000000Z";
  step("write-no-data", &alice, must(dwn_build_records_write(&w, &alice.signer, &m), &m, "write no data"), NULL, 0,
       204, false);

  /* createFrom: new data, published */
  const char *note2 = "the note, updated";
  dwn_build_write_init(&w);
  w.has_data = true;
  w.data = note2;
  w.data_len = strlen(note2);
  w.published = DWN_BUILD_TRUE;
  w.message_timestamp = "2024-03-01T00:00:04.000000Z";
  w.date_published = "2024-03-01T00:00:04.000000Z";
  json_t *note1b = must(dwn_build_records_write_from(note1, &w, &alice.signer, &m), &m, "update");
  json_incref(note1b);
  step("update", &alice, note1b, note2, strlen(note2), 202, false);

  /* queries and reads */
  json_t *filter = json_pack("{s:s}", "schema", "example.com/note");
  c.message_timestamp = "2024-03-01T00:00:05.000000Z";
  step("query-owner", &alice, must(dwn_build_records_query(filter, "createdDescending", NULL, &c, &alice.signer, &m), &m, "q"),
       NULL, 0, 200, false);
  json_t *pagination = json_pack("{s:i}", "limit", 1);
  step("query-anonymous-limit", &alice, must(dwn_build_records_query(filter, NULL, pagination, &c, NULL, &m), &m, "q"),
       NULL, 0, 200, false);
  json_decref(pagination);
  json_decref(filter);
  filter = json_pack("{s:s}", "recordId", json_string_value(json_object_get(bigw, "recordId")));
  step("read-large", &alice, must(dwn_build_records_read(filter, &c, &alice.signer, &m), &m, "read"), NULL, 0, 200, false);
  json_decref(filter);
  filter = json_pack("{s:s}", "recordId", json_string_value(json_object_get(note1, "recordId")));
  step("read-updated", &alice, must(dwn_build_records_read(filter, &c, NULL, &m), &m, "read"), NULL, 0, 200, false);

  /* carol (secp256k1): her own DWN, and alice's (not the owner: 401) */
  const char *cnote = "carol's record";
  dwn_build_write_init(&w);
  w.data_format = "text/plain";
  w.recipient = alice.did;
  w.has_data = true;
  w.data = cnote;
  w.data_len = strlen(cnote);
  w.message_timestamp = "2024-03-01T00:00:06.000000Z";
  json_t *cw = must(dwn_build_records_write(&w, &carol.signer, &m), &m, "carol write");
  json_incref(cw);
  step("secp256k1-write", &carol, cw, cnote, strlen(cnote), 202, false);
  json_incref(cw);
  step("secp256k1-write-not-owner", &alice, cw, cnote, strlen(cnote), 401, false);
  dwn_build_write_init(&w);
  w.message_timestamp = "2024-03-01T00:00:07.000000Z";
  step("secp256k1-update-data-less", &carol, must(dwn_build_records_write_from(cw, &w, &carol.signer, &m), &m, "carol update"),
       NULL, 0, 202, false);
  json_t *cf = json_pack("{s:s}", "recipient", alice.did);
  c.message_timestamp = "2024-03-01T00:00:08.000000Z";
  step("secp256k1-query", &carol, must(dwn_build_records_query(cf, NULL, NULL, &c, &carol.signer, &m), &m, "carol q"),
       NULL, 0, 200, false);
  json_decref(cf);

  /* protocol records: the owner's root, a child by anyone ($actions) */
  dwn_build_write_init(&w);
  w.protocol = "example.com/chat";
  w.protocol_path = "thread";
  w.schema = "example.com/thread";
  w.data_format = "application/json";
  w.has_data = true;
  w.data = "{\"title\":\"t\"}";
  w.data_len = strlen(w.data);
  w.message_timestamp = "2024-03-01T00:00:09.000000Z";
  json_t *root = must(dwn_build_records_write(&w, &alice.signer, &m), &m, "root");
  json_incref(root);
  step("protocol-root-owner", &alice, root, w.data, w.data_len, 202, false);
  dwn_build_write_init(&w);
  w.protocol = "example.com/chat";
  w.protocol_path = "thread/message";
  w.parent_context_id = json_string_value(json_object_get(root, "contextId"));
  w.data_format = "text/plain";
  w.has_data = true;
  w.data = "hello";
  w.data_len = 5;
  w.message_timestamp = "2024-03-01T00:00:10.000000Z";
  step("protocol-child-carol", &alice, must(dwn_build_records_write(&w, &carol.signer, &m), &m, "child"), "hello", 5,
       202, false);

  /* delete, read after delete */
  c.message_timestamp = "2024-03-01T00:00:11.000000Z";
  step("delete", &alice,
       must(dwn_build_records_delete(json_string_value(json_object_get(note1, "recordId")), false, &c, &alice.signer, &m), &m, "del"),
       NULL, 0, 202, false);
  c.message_timestamp = "2024-03-01T00:00:12.000000Z";
  step("read-deleted", &alice, must(dwn_build_records_read(filter, &c, &alice.signer, &m), &m, "read"), NULL, 0, 404, false);
  json_decref(filter);

  /* protocols query (anonymous), messages query and read */
  json_t *pf = json_pack("{s:s}", "protocol", "example.com/chat");
  step("protocols-query-anonymous", &alice, must(dwn_build_protocols_query(pf, &c, NULL, &m), &m, "pq"), NULL, 0, 200, false);
  json_decref(pf);
  json_t *mf = json_pack("[{s:s},{s:s}]", "interface", "Protocols", "method", "Delete");
  json_t *body = step("messages-query", &alice, must(dwn_build_messages_query(mf, NULL, &c, &alice.signer, &m), &m, "mq"),
                      NULL, 0, 200, false);
  json_decref(mf);
  const char *first = json_string_value(json_array_get(json_object_get(body, "entries"), 0));
  if (first) {
    step("messages-read", &alice, must(dwn_build_messages_read(first, &c, &alice.signer, &m), &m, "mr"), NULL, 0, 200,
         false);
  } else {
    fprintf(stderr, "FAIL messages-query: no entries\n");
    failures++;
  }
  if (first) {
    step("messages-read-not-owner", &alice, must(dwn_build_messages_read(first, &c, &carol.signer, &m), &m, "mr"), NULL, 0,
         401, false);
  }

  size_t built = json_array_size(steps);
  json_t *doc = json_pack("{s:o}", "steps", steps);
  if (json_dump_file(doc, argv[1], JSON_COMPACT) != 0) die("write output", -EIO);
  json_decref(doc);
  json_decref(note1);
  json_decref(note1b);
  json_decref(bigw);
  json_decref(cw);
  json_decref(root);
  free(big);
  json_decref(alice.priv);
  json_decref(carol.priv);
  dwn_close(engine);
  bs_close(bs);
  printf("check_dwn_build: %zu messages built; the C engine gave %s\n", built,
         failures ? "unexpected replies" : "the expected replies");
  return failures ? 1 : 0;
}
