/*
 * dwn_fixture: what the DWN unit tests that run a real engine share (include
 * after cmocka.h): an identity (a fresh key, its did:key and kid, a signer
 * for engine/dwn/build.h), and an engine over a block store in a temporary
 * directory.
 */
#ifndef ANYA_TEST_DWN_FIXTURE_H
#define ANYA_TEST_DWN_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "bs.h"
#include "buf.h"
#include "dwn/build.h"
#include "dwn/did.h"
#include "dwn/dwn.h"
#include "dwn/jwk.h"
#include "testdir.h"

typedef struct dwn_test_ident {
  json_t *priv;   /* the private JWK (owned) */
  char did[256];
  char kid[512];  /* did#<multibase>, the did:key verification method */
  dwn_build_signer_t signer;
} dwn_test_ident_t;

static inline void dwn_test_ident_make(dwn_test_ident_t *id, jwk_crv_t crv) {
  json_t *pub = NULL;
  assert_int_equal(jwk_generate(crv, &id->priv, &pub), 0);
  buf_t did = {0};
  assert_int_equal(did_key_from_jwk(pub, &did), 0);
  json_decref(pub);
  snprintf(id->did, sizeof id->did, "%s", (const char *)did.data);
  snprintf(id->kid, sizeof id->kid, "%s#%s", id->did, id->did + strlen("did:key:"));
  buf_free(&did);
  id->signer.private_jwk = id->priv;
  id->signer.kid = id->kid;
}

/* A temporary directory (dir, cap bytes) holding blocks/ and dwn/, both open. */
static inline void dwn_test_engine_open(char *dir, size_t cap, const char *prefix, bs_t **bs, dwn_t **dwn) {
  assert_int_equal(testdir_make(dir, cap, prefix), 0);
  char path[1024];
  snprintf(path, sizeof path, "%s/blocks", dir);
  assert_int_equal(bs_open(path, NULL, bs), 0);
  snprintf(path, sizeof path, "%s/dwn", dir);
  dwn_options_t opts = {.dir = path, .bs = *bs};
  assert_int_equal(dwn_open(&opts, dwn), 0);
}

static inline void dwn_test_engine_close(const char *dir, bs_t *bs, dwn_t *dwn) {
  dwn_close(dwn);
  bs_close(bs);
  testdir_remove(dir);
}

#endif
