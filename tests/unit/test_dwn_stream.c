/*
 * dwn/stream: two registrations of the same subscribe message (two sockets
 * sending it, as the DWN listener may see) each get every event;
 * dwn_unsubscribe_subscriber ends only the one with that subscriber context,
 * dwn_unsubscribe ends every registration of the message.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dwn/stream.h"
#include "dwn/timestamp.h"
#include "dwn_fixture.h"

typedef struct counter {
  int events;
} counter_t;

static void on_event(void *ctx, const char *id, const json_t *event) {
  (void)id;
  assert_non_null(json_object_get(event, "message"));
  ((counter_t *)ctx)->events++;
}

static void write_record(dwn_t *d, dwn_test_ident_t *alice, int i) {
  dwn_build_write_t w;
  dwn_build_write_init(&w);
  char text[32];
  snprintf(text, sizeof text, "record %d", i);
  w.data = text, w.data_len = strlen(text), w.has_data = true;
  w.data_format = "text/plain";
  w.schema = "http://example.com/live";
  json_t *m = NULL;
  assert_int_equal(dwn_build_records_write(&w, &alice->signer, &m), 0);
  int fd = memfd_create("data", 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  lseek(fd, 0, SEEK_SET);
  dwn_reply_t r = {0};
  assert_int_equal(dwn_process(d, alice->did, m, fd, &r), 0);
  assert_int_equal(r.code, 202);
  dwn_reply_release(&r);
  close(fd);
  json_decref(m);
}

static void test_same_message_twice(void **state) {
  (void)state;
  char dir[512];
  bs_t *bs;
  dwn_t *d;
  dwn_test_engine_open(dir, sizeof dir, "dwn-stream", &bs, &d);
  dwn_test_ident_t alice;
  dwn_test_ident_make(&alice, JWK_CRV_ED25519);
  char now[DWN_TIME_TEXT_BYTES];
  assert_int_equal(dwn_time_now(now), 0);
  json_t *sub = json_pack("{s:{s:s,s:s,s:s,s:{s:s}}}", "descriptor", "interface", "Records", "method", "Subscribe",
                          "messageTimestamp", now, "filter", "schema", "http://example.com/live");
  assert_int_equal(dwn_build_resign(sub, &alice.signer), 0);
  counter_t a = {0}, b = {0};
  dwn_subscriber_t sa = {on_event, &a}, sb = {on_event, &b};
  dwn_reply_t ra = {0}, rb = {0};
  assert_int_equal(dwn_process_subscribe(d, alice.did, sub, -1, &sa, &ra), 0);
  assert_int_equal(dwn_process_subscribe(d, alice.did, sub, -1, &sb, &rb), 0);
  assert_int_equal(ra.code, 200);
  assert_int_equal(rb.code, 200);
  const char *first = json_string_value(json_object_get(json_object_get(ra.body, "subscription"), "id"));
  assert_non_null(first);
  char id[128];
  snprintf(id, sizeof id, "%s", first);
  assert_string_equal(id, json_string_value(json_object_get(json_object_get(rb.body, "subscription"), "id")));
  write_record(d, &alice, 1);
  assert_int_equal(a.events, 1);
  assert_int_equal(b.events, 1);
  assert_int_equal(dwn_unsubscribe_subscriber(d, alice.did, id, &a), 0);
  assert_int_equal(dwn_unsubscribe_subscriber(d, alice.did, id, &a), -ENOENT);
  write_record(d, &alice, 2);
  assert_int_equal(a.events, 1);
  assert_int_equal(b.events, 2);
  dwn_reply_release(&ra);
  assert_int_equal(dwn_process_subscribe(d, alice.did, sub, -1, &sa, &ra), 0);
  assert_int_equal(dwn_unsubscribe(d, alice.did, id), 0); /* both */
  write_record(d, &alice, 3);
  assert_int_equal(a.events, 1);
  assert_int_equal(b.events, 2);
  assert_int_equal(dwn_unsubscribe(d, alice.did, id), -ENOENT);
  dwn_reply_release(&ra);
  dwn_reply_release(&rb);
  json_decref(sub);
  json_decref(alice.priv);
  dwn_test_engine_close(dir, bs, d);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_same_message_twice)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
