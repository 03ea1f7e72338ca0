/*
 * did:web end to end over a loopback HTTP server: a thread serves a DID
 * document on 127.0.0.1 (an ephemeral port); the resolver's fetch callback
 * (what the network side supplies: here a plain socket GET that sends the
 * https URL's path to the loopback server) loads it; a JWS signed with the
 * document's key authenticates (auth.h), a tampered one does not, an
 * unknown path is "key not found", and a second resolution comes from the
 * cache (the server counts its requests).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "dwn/auth.h"
#include "dwn/did.h"
#include "dwn/jwk.h"
#include "dwn/jws.h"

#define REQUESTS_MAX 8 /* the server thread stops after this many, or when told */

typedef struct server {
  int listen_fd;
  uint16_t port;
  char document[4096]; /* served at /.well-known/did.json */
  int requests;        /* served so far */
  pthread_t thread;
} server_t;

static void *serve(void *arg) {
  server_t *s = arg;
  for (int i = 0; i < REQUESTS_MAX; i++) {
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0) break;
    char req[2048];
    ssize_t n = read(fd, req, sizeof req - 1);
    req[n > 0 ? n : 0] = '\0';
    if (strncmp(req, "QUIT", 4) == 0) {
      close(fd);
      break;
    }
    s->requests++;
    char head[256];
    if (strncmp(req, "GET /.well-known/did.json ", 26) == 0) {
      snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
               strlen(s->document));
      if (write(fd, head, strlen(head)) < 0 || write(fd, s->document, strlen(s->document)) < 0) break;
    } else {
      snprintf(head, sizeof head, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
      if (write(fd, head, strlen(head)) < 0) break;
    }
    close(fd);
  }
  return NULL;
}

/* The fetch callback: https://localhost%3APORT/path -> GET path from 127.0.0.1:PORT. */
static int loopback_fetch(void *ctx, const char *url, buf_t *body_out) {
  server_t *s = ctx;
  const char *path = strchr(url + strlen("https://"), '/');
  if (strncmp(url, "https://localhost:", 18) != 0 || !path) return -EINVAL;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(s->port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return -ECONNREFUSED;
  char req[1024];
  snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
  int rc = write(fd, req, strlen(req)) < 0 ? -EIO : 0;
  buf_t resp = {0};
  char chunk[4096];
  ssize_t n;
  while (!rc && (n = read(fd, chunk, sizeof chunk)) > 0) rc = buf_append(&resp, chunk, (size_t)n);
  close(fd);
  const char *text = rc ? NULL : buf_cstr(&resp);
  const char *body = text ? strstr(text, "\r\n\r\n") : NULL;
  if (!rc && (!body || strncmp(text, "HTTP/1.1 200", 12) != 0)) rc = -ENOENT;
  if (!rc) rc = buf_append(body_out, body + 4, strlen(body + 4));
  buf_free(&resp);
  return rc;
}

static void start(server_t *s) {
  s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(s->listen_fd, 4), 0);
  assert_int_equal(getsockname(s->listen_fd, (struct sockaddr *)&a, &len), 0);
  s->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void stop(server_t *s) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(s->port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) assert_true(write(fd, "QUIT", 4) == 4);
  if (fd >= 0) close(fd);
  pthread_join(s->thread, NULL);
  close(s->listen_fd);
}

static void test_did_web_over_loopback(void **state) {
  (void)state;
  server_t s = {0};
  start(&s);
  json_t *priv, *pub;
  assert_int_equal(jwk_generate(JWK_CRV_ED25519, &priv, &pub), 0);
  char did[64], kid[96];
  snprintf(did, sizeof did, "did:web:localhost%%3A%u", s.port);
  snprintf(kid, sizeof kid, "%s#key-1", did);
  json_t *doc = json_pack("{s:s,s:[{s:s,s:s,s:s,s:O}]}", "id", did, "verificationMethod", "id", kid, "type",
                          "JsonWebKey2020", "controller", did, "publicKeyJwk", pub);
  char *text = json_dumps(doc, JSON_COMPACT);
  snprintf(s.document, sizeof s.document, "%s", text);
  free(text);

  did_resolver_config_t rcfg = {.fetch = loopback_fetch, .fetch_ctx = &s};
  did_resolver_t *r;
  assert_int_equal(did_resolver_new(&rcfg, &r), 0);
  auth_config_t acfg = {.resolver = r};
  auth_t *a;
  assert_int_equal(auth_new(&acfg, &a), 0);

  static const char payload[] = "{\"descriptorCid\":\"bafyreigfzkrmoz6gdwpbcjd5ss2ljzzi7u6qrb36skfgxkwjrgeyqmflbi\"}";
  json_t *jws;
  assert_int_equal(jws_sign(priv, kid, payload, strlen(payload), &jws), 0);
  dwn_status_t st = {0};
  auth_signature_t sig = {0};
  assert_int_equal(auth_check_signature(a, jws, &st, &sig), 0);
  assert_string_equal((char *)sig.signer.data, did);
  auth_signature_release(&sig);
  assert_int_equal(s.requests, 1);

  /* the document is cached: another message, no new request */
  static const char payload2[] = "{\"descriptorCid\":\"bafyreibuwa4clnr4qntuvybsmgtgfbhx2dt7k4gcp5mfagwx3ndlxvdaqm\"}";
  json_t *jws2;
  assert_int_equal(jws_sign(priv, kid, payload2, strlen(payload2), &jws2), 0);
  assert_int_equal(auth_check_signature(a, jws2, &st, &sig), 0);
  auth_signature_release(&sig);
  assert_int_equal(s.requests, 1);

  /* tampered payload (signature of the first message on the second payload) */
  json_object_set(jws2, "signatures", json_object_get(jws, "signatures"));
  assert_int_equal(auth_check_signature(a, jws2, &st, &sig), -EACCES);
  assert_int_equal(st.code, 401);
  assert_memory_equal(st.detail, "GeneralJwsVerifierInvalidSignature", 34);

  /* a did:web whose document is not there: key not found */
  char other[96];
  snprintf(other, sizeof other, "did:web:localhost%%3A%u:nobody#key-1", s.port);
  json_t *jws3;
  assert_int_equal(jws_sign(priv, other, payload, strlen(payload), &jws3), 0);
  assert_int_equal(auth_check_signature(a, jws3, &st, &sig), -EACCES);
  assert_memory_equal(st.detail, "GeneralJwsVerifierGetPublicKeyNotFound", 38);
  assert_int_equal(s.requests, 2);

  json_decref(jws);
  json_decref(jws2);
  json_decref(jws3);
  json_decref(doc);
  json_decref(priv);
  json_decref(pub);
  auth_free(a);
  did_resolver_free(r);
  stop(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_did_web_over_loopback)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
