/*
 * fuzz_kad: the Kademlia Message decoder and the server side of a request.
 * Properties: a decoded message re-encodes, and that encoding decodes to a
 * message that encodes to the same bytes (the codec is a fixed point after
 * one pass); handling it against a store (a DHT without network, its LevelDB
 * in a temporary directory) never crashes, and any reply encodes within the
 * 4 MiB limit.  The sender is the first provider peer of the message when
 * there is one, so ADD_PROVIDER stores records.  A violated property aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/testdir.h"
#include "kad.h"
#include "kad_internal.h"

static kad_t *dht;
static char dir[256];

static void cleanup(void) {
  kad_free(dht);
  testdir_remove(dir);
}

/* "/t/..." values must start with 'v'; the longest wins. */
static int t_validate(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value, size_t len) {
  (void)ctx, (void)key, (void)key_len;
  return len > 0 && value[0] == 'v' ? 0 : -1;
}

static size_t t_select(void *ctx, const uint8_t *key, size_t key_len, const buf_t *values, size_t n) {
  (void)ctx, (void)key, (void)key_len;
  size_t best = 0;
  for (size_t i = 1; i < n; i++)
    if (values[i].len > values[best].len) best = i;
  return best;
}

static void setup(void) {
  if (dht) return;
  if (testdir_make(dir, sizeof dir, "fuzz-kad") < 0) abort();
  kad_opts_t o = {.store_path = dir, .server = true};
  if (kad_new(&o, &dht) < 0) abort();
  kad_validator_t t = {.namespace_name = "t", .validate = t_validate, .select = t_select};
  if (kad_add_validator(dht, &t) < 0) abort();
  atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  kad_msg_t m;
  if (kad_msg_decode(data, size, &m) < 0) return 0;
  buf_t once = {0}, twice = {0};
  if (kad_msg_encode(&m, &once) < 0) abort();
  kad_msg_t again;
  if (kad_msg_decode(once.data, once.len, &again) < 0) abort();
  if (kad_msg_encode(&again, &twice) < 0) abort();
  if (once.len != twice.len || memcmp(once.data, twice.data, once.len) != 0) abort();
  kad_msg_free(&again);

  peer_id_t from = {.len = 0};
  bool have_from = m.provider_count > 0;
  if (have_from) from = m.providers[0].id;
  kad_msg_t reply;
  bool has_reply = false;
  int rc = kad_handle_message(dht, have_from ? &from : NULL, &m, &reply, &has_reply);
  if (rc < 0 && has_reply) abort();
  if (has_reply) {
    buf_reset(&twice);
    if (kad_msg_encode(&reply, &twice) < 0) abort();
    kad_msg_t back;
    if (kad_msg_decode(twice.data, twice.len, &back) < 0) abort();
    if (back.type != m.type) abort();
    kad_msg_free(&back);
  }
  kad_msg_free(&reply);
  kad_msg_free(&m);
  buf_free(&once);
  buf_free(&twice);
  return 0;
}
