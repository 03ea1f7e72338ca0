/*
 * check_dwn_replay: replays the differential scenarios recorded from
 * dwn-sdk-js 0.5.2 (tests/interop/dwn/gen.mjs; format in docs/dwn-scenarios.md)
 * against the C engine (engine/dwn/dwn.h) and compares every reply: status
 * code, the detail's error code (the text before the first ':'), entries in
 * order (as canonical JSON), cursor, entry and the returned data (sha256 and
 * size).  Each scenario runs on a fresh engine in WORKDIR/<n>.
 *
 * Usage: check_dwn_replay SCENARIOS.json WORKDIR PASSING.txt [NAME-SUBSTRING]
 * (DWN_REPLAY_VERBOSE set in the environment: every differing step to stderr.)
 * Prints one line per scenario (PASS, or FAIL with the first difference),
 * then "replay: P of N scenarios match (S of T steps)".  PASSING.txt lists
 * the scenarios that must match (one name a line, '#' comments): the exit
 * status is 1 when one of them does not, and scenarios that match but are not
 * listed are printed so the list can grow.
 *
 * A step with `cursorFrom: N` carries a cursor minted by the SDK's event log:
 * its message gets the C engine's own reply cursor of step N instead, the
 * descriptorCid recomputed and the signature made again with the private key
 * of the identity whose kid signed it (dwn_build_resign).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "bs.h"
#include "buf.h"
#include "dwn/build.h"
#include "dwn/dagcbor.h"
#include "dwn/dwn.h"
#include "dwn/ids.h"
#include "dwn/jws.h"
#include "err.h"
#include "multibase.h"

#define NAMES_MAX 4096

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

/* The generator's data: chunk i = SHA-256(seed || uint32be(i)), first size bytes. */
static int make_data(const char *seed, uint64_t size) {
  int fd = memfd_create("dwn-data", MFD_CLOEXEC);
  if (fd < 0) return -errno;
  size_t seed_len = strlen(seed);
  uint8_t *in = malloc(seed_len + 4);
  uint8_t chunk[SHA256_DIGEST_LENGTH];
  uint8_t buffer[65536];
  size_t fill = 0;
  memcpy(in, seed, seed_len);
  for (uint64_t done = 0, i = 0; done < size; i++) {
    in[seed_len] = (uint8_t)(i >> 24), in[seed_len + 1] = (uint8_t)(i >> 16);
    in[seed_len + 2] = (uint8_t)(i >> 8), in[seed_len + 3] = (uint8_t)i;
    SHA256(in, seed_len + 4, chunk);
    size_t take = size - done < sizeof chunk ? (size_t)(size - done) : sizeof chunk;
    memcpy(buffer + fill, chunk, take);
    fill += take, done += take;
    if (fill > sizeof buffer - sizeof chunk || done == size) {
      if (write(fd, buffer, fill) != (ssize_t)fill) {
        free(in);
        close(fd);
        return -EIO;
      }
      fill = 0;
    }
  }
  free(in);
  lseek(fd, 0, SEEK_SET);
  return fd;
}

static int inline_data(const char *b64, uint64_t size) {
  int fd = memfd_create("dwn-data", MFD_CLOEXEC);
  if (fd < 0) return -errno;
  buf_t bytes = {0};
  if (size && mbase_decode(MBASE_BASE64URL, b64, strlen(b64), &bytes) == 0 &&
      write(fd, bytes.data, bytes.len) != (ssize_t)bytes.len) {
    buf_free(&bytes);
    close(fd);
    return -EIO;
  }
  buf_free(&bytes);
  lseek(fd, 0, SEEK_SET);
  return fd;
}

static size_t code_len(const char *detail) {
  const char *colon = strchr(detail, ':');
  return colon ? (size_t)(colon - detail) : strlen(detail);
}

static bool nondeterministic(const json_t *step, const char *path) {
  size_t i;
  const json_t *p;
  json_array_foreach(json_object_get(step, "nondeterministic"), i, p) if (strcmp(json_string_value(p), path) == 0) return true;
  return false;
}

static char *dump(const json_t *v) {
  char *s = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : strdup("(absent)");
  if (s && strlen(s) > 400) strcpy(s + 397, "...");
  return s;
}

static bool same(const json_t *want, const json_t *got, const char *what, char *why, size_t why_len) {
  if (!want && !got) return true;
  if (want && got && dagcbor_json_equal(want, got)) return true;
  char *a = dump(want), *b = dump(got);
  snprintf(why, why_len, "%s differs:\n      want %s\n      got  %s", what, a, b);
  free(a);
  free(b);
  return false;
}

/* Compares one reply; false with why filled on the first difference. */
static bool compare(dwn_t *d, const json_t *step, const dwn_reply_t *reply, char *why, size_t why_len) {
  const json_t *want = json_object_get(step, "reply");
  const json_t *got = reply->body;
  int want_code = (int)json_number_value(json_object_get(json_object_get(want, "status"), "code"));
  const char *want_detail = json_string_value(json_object_get(json_object_get(want, "status"), "detail"));
  const char *got_detail = json_string_value(json_object_get(json_object_get(got, "status"), "detail"));
  if (!want_detail) want_detail = "";
  if (!got_detail) got_detail = "";
  if (want_code != reply->code || code_len(want_detail) != code_len(got_detail) ||
      strncmp(want_detail, got_detail, code_len(want_detail)) != 0) {
    snprintf(why, why_len, "status: want %d \"%.200s\", got %d \"%.200s\"", want_code, want_detail, reply->code, got_detail);
    return false;
  }
  if (!same(json_object_get(want, "entries"), json_object_get(got, "entries"), "entries", why, why_len)) return false;
  const json_t *want_cursor = json_object_get(want, "cursor"), *got_cursor = json_object_get(got, "cursor");
  if (nondeterministic(step, "reply.cursor.value") || nondeterministic(step, "reply.cursor")) {
    if (!want_cursor != !got_cursor) return same(want_cursor, got_cursor, "cursor (presence)", why, why_len);
    if (want_cursor && !same(json_object_get(want_cursor, "messageCid"), json_object_get(got_cursor, "messageCid"),
                             "cursor.messageCid", why, why_len))
      return false;
  } else if (!same(want_cursor, got_cursor, "cursor", why, why_len)) {
    return false;
  }
  const json_t *want_entry = json_object_get(want, "entry");
  if (want_entry || json_object_get(got, "entry")) {
    json_t *w = want_entry ? json_deep_copy(want_entry) : NULL;
    const json_t *want_data = json_object_get(w, "data");
    json_t *want_data_copy = want_data ? json_incref((json_t *)want_data) : NULL;
    if (w) json_object_del(w, "data");
    bool ok = same(w, json_object_get(got, "entry"), "entry", why, why_len);
    json_decref(w);
    if (ok && want_data_copy) {
      buf_t data = {0};
      int rc = reply->has_data ? dwn_reply_data(d, reply, &data) : -ENODATA;
      uint8_t digest[SHA256_DIGEST_LENGTH];
      char hex[2 * SHA256_DIGEST_LENGTH + 1];
      SHA256(data.data ? data.data : (const uint8_t *)"", data.len, digest);
      for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
      const char *want_sha = json_string_value(json_object_get(want_data_copy, "sha256"));
      if (rc || !want_sha || strcmp(want_sha, hex) != 0) {
        snprintf(why, why_len, "data: want sha256 %s, got %s (%zu bytes, rc %d)", want_sha ? want_sha : "?", hex,
                 data.len, rc);
        ok = false;
      }
      buf_free(&data);
    } else if (ok && reply->has_data && !want_data_copy) {
      snprintf(why, why_len, "data: the reference returned none, the engine some");
      ok = false;
    }
    json_decref(want_data_copy);
    if (!ok) return false;
  }
  return true;
}

/* The step's message with the engine's cursor of step `cursorFrom` and a new
 * signature by the identity whose kid signed it; NULL with why filled. */
static json_t *with_engine_cursor(const json_t *scenario, const json_t *step, const json_t *cursors, char *why,
                                  size_t why_len) {
  size_t from = (size_t)json_number_value(json_object_get(step, "cursorFrom"));
  const json_t *cursor = json_array_get(cursors, from);
  if (!json_is_object(cursor)) {
    snprintf(why, why_len, "cursorFrom %zu: the engine's reply of that step has no cursor", from);
    return NULL;
  }
  json_t *m = json_deep_copy(json_object_get(step, "message"));
  json_t *header = NULL;
  const char *kid = NULL;
  const json_t *sig = json_object_get(json_object_get(m, "authorization"), "signature");
  const char *protected_b64 =
      json_string_value(json_object_get(json_array_get(json_object_get(sig, "signatures"), 0), "protected"));
  if (!m || !protected_b64 || jws_decode_header(protected_b64, &header, &kid, NULL) != 0) {
    snprintf(why, why_len, "cursorFrom: the message has no readable signature");
    json_decref(m);
    return NULL;
  }
  const json_t *jwk = NULL;
  const char *label;
  const json_t *identity;
  json_object_foreach(json_object_get(scenario, "identities"), label, identity) {
    const char *ikid = json_string_value(json_object_get(identity, "kid"));
    if (ikid && strcmp(ikid, kid) == 0) jwk = json_object_get(identity, "privateJwk");
  }
  dwn_build_signer_t signer = {.private_jwk = jwk, .kid = kid};
  int rc = jwk ? json_object_set_new(json_object_get(m, "descriptor"), "cursor", json_deep_copy(cursor)) : -ENOENT;
  if (rc == 0) rc = dwn_build_resign(m, &signer);
  if (rc != 0) {
    snprintf(why, why_len, "cursorFrom: cannot re-sign with %s: %s", kid, jwk ? err_msg(rc) : "no such identity");
    json_decref(m);
    m = NULL;
  }
  json_decref(header);
  return m;
}

/* Events delivered to the scenario's subscriptions while one step runs, in the
 * corpus's form {subscriptionStep, messageCid, initialWriteCid?}. */
typedef struct events {
  json_t *ids;       /* subscription id -> the step that opened it */
  json_t *received;  /* during the current step */
} events_t;

static void on_event(void *ctx, const char *subscription_id, const json_t *event) {
  events_t *e = ctx;
  char cid[DWN_CID_TEXT_BYTES] = "", initial[DWN_CID_TEXT_BYTES] = "";
  cid_t c;
  if (dwn_message_cid_sdk(json_object_get(event, "message"), &c) == 0) dwn_cid_text(&c, cid);
  json_t *record = json_pack("{s:O,s:s}", "subscriptionStep", json_object_get(e->ids, subscription_id), "messageCid", cid);
  const json_t *iw = json_object_get(event, "initialWrite");
  if (record && iw && dwn_message_cid_sdk(iw, &c) == 0 && dwn_cid_text(&c, initial) == 0)
    json_object_set_new(record, "initialWriteCid", json_string(initial));
  if (record) json_array_append_new(e->received, record);
}

static int run_scenario(const json_t *scenario, const char *dir, size_t *steps_ok, size_t *steps, char *why,
                        size_t why_len) {
  char path[4200];
  snprintf(path, sizeof path, "%.4096s/blocks", dir);
  bs_t *bs = NULL;
  dwn_t *d = NULL;
  int rc = bs_open(path, NULL, &bs);
  snprintf(path, sizeof path, "%.4096s/dwn", dir);
  dwn_options_t opts = {.dir = path, .bs = bs};
  if (!rc) rc = dwn_open(&opts, &d);
  if (rc) {
    snprintf(why, why_len, "cannot open the engine: %s", err_msg(rc));
    if (bs) bs_close(bs);
    return -1;
  }
  bool ok = true;
  size_t i;
  const json_t *step;
  json_t *cursors = json_array(); /* the engine's reply cursor of every step (null: none) */
  events_t events = {json_object(), NULL};
  dwn_subscriber_t subscriber = {on_event, &events};
  bool stream = json_is_true(json_object_get(scenario, "eventStream"));
  json_array_foreach(json_object_get(scenario, "steps"), i, step) {
    const json_t *data = json_object_get(step, "data");
    int fd = -1;
    if (data && json_object_get(data, "seed"))
      fd = make_data(json_string_value(json_object_get(data, "seed")), (uint64_t)json_number_value(json_object_get(data, "size")));
    else if (data)
      fd = inline_data(json_string_value(json_object_get(data, "base64url")), (uint64_t)json_number_value(json_object_get(data, "size")));
    dwn_reply_t reply = {0};
    err_clear();
    (*steps)++;
    char step_why[2048];
    json_t *message = json_incref(json_object_get(step, "message"));
    if (json_object_get(step, "cursorFrom")) {
      json_decref(message);
      message = with_engine_cursor(scenario, step, cursors, step_why, sizeof step_why);
    }
    events.received = json_array();
    rc = message ? dwn_process_subscribe(d, json_string_value(json_object_get(step, "tenant")), message, fd,
                                         stream ? &subscriber : NULL, &reply)
                 : 1;
    const char *sub_id = rc ? NULL : json_string_value(json_object_get(json_object_get(reply.body, "subscription"), "id"));
    if (sub_id) json_object_set_new(events.ids, sub_id, json_integer((json_int_t)i));
    json_decref(message);
    if (fd >= 0) close(fd);
    const json_t *cursor = rc ? NULL : json_object_get(reply.body, "cursor");
    json_array_append_new(cursors, cursor ? json_deep_copy(cursor) : json_null());
    if (rc == 1) {
      /* step_why says why there is no message */
    } else if (rc) {
      snprintf(step_why, sizeof step_why, "internal error %d: %s", rc, err_msg(rc));
    } else if (!compare(d, step, &reply, step_why, sizeof step_why)) {
      rc = 1;
    } else {
      json_t *want = json_object_get(step, "events");
      json_t *none = json_array();
      if (!dagcbor_json_equal(want ? want : none, events.received)) {
        char *a = json_dumps(want ? want : none, JSON_COMPACT), *b = json_dumps(events.received, JSON_COMPACT);
        snprintf(step_why, sizeof step_why, "events differ:\n      want %.700s\n      got  %.700s", a ? a : "?", b ? b : "?");
        free(a), free(b);
        rc = 1;
      } else {
        (*steps_ok)++;
      }
      json_decref(none);
    }
    json_decref(events.received);
    events.received = NULL;
    if (rc && getenv("DWN_REPLAY_VERBOSE")) fprintf(stderr, "  step %zu: %s\n", i, step_why);
    if (rc && ok) {
      snprintf(why, why_len, "step %zu%s%s: %s", i, json_object_get(step, "note") ? " " : "",
               json_object_get(step, "note") ? json_string_value(json_object_get(step, "note")) : "", step_why);
      ok = false;
    }
    if (!rc) dwn_reply_release(&reply);
    else if (reply.body) dwn_reply_release(&reply);
  }
  json_decref(cursors);
  dwn_close(d);
  json_decref(events.ids);
  bs_close(bs);
  return ok ? 0 : 1;
}

static size_t load_names(const char *path, char **names) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[1024];
  size_t n = 0;
  while (n < NAMES_MAX && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0] || line[0] == '#') continue;
    names[n++] = strdup(line);
  }
  fclose(f);
  return n;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s SCENARIOS.json WORKDIR PASSING.txt [NAME-SUBSTRING]\n", argv[0]);
    return 2;
  }
  json_error_t error;
  json_t *doc = json_load_file(argv[1], JSON_DECODE_INT_AS_REAL, &error);
  if (!doc) {
    fprintf(stderr, "check_dwn_replay: %s:%d: %s\n", argv[1], error.line, error.text);
    return 2;
  }
  static char *must[NAMES_MAX];
  size_t must_len = load_names(argv[3], must);
  bool *must_seen = calloc(must_len + 1, sizeof *must_seen);
  size_t passed = 0, total = 0, steps_ok = 0, steps = 0, required_failed = 0;
  size_t i;
  const json_t *scenario;
  json_array_foreach(json_object_get(doc, "scenarios"), i, scenario) {
    const char *name = json_string_value(json_object_get(scenario, "name"));
    if (argc > 4 && !strstr(name, argv[4])) continue;
    char dir[4096];
    snprintf(dir, sizeof dir, "%.4000s/%zu", argv[2], i);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (mkdir(dir, 0700) != 0) {
      fprintf(stderr, "check_dwn_replay: cannot create %s\n", dir);
      return 2;
    }
    char why[4096] = "";
    int rc = run_scenario(scenario, dir, &steps_ok, &steps, why, sizeof why);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    total++;
    bool required = false;
    for (size_t k = 0; k < must_len; k++)
      if (strcmp(must[k], name) == 0) required = true, must_seen[k] = true;
    if (rc == 0) {
      passed++;
      printf("PASS %s%s\n", name, required ? "" : "   (new: not yet in the passing list)");
    } else {
      printf("FAIL %s%s\n    %s\n", name, required ? "   (REQUIRED)" : "", why);
      if (required) required_failed++;
    }
  }
  for (size_t k = 0; k < must_len && argc <= 4; k++)
    if (!must_seen[k]) printf("FAIL %s   (REQUIRED, but no such scenario)\n", must[k]), required_failed++;
  printf("replay: %zu of %zu scenarios match (%zu of %zu steps)\n", passed, total, steps_ok, steps);
  json_decref(doc);
  for (size_t k = 0; k < must_len; k++) free(must[k]);
  free(must_seen);
  return required_failed ? 1 : 0;
}
