/*
 * gateway: the parts of net/gateway that need no server (net/gateway_int.h):
 * content-path, Host, Accept, Range and entity-bytes parsing, content-type
 * sniffing, HTML/URL escaping, Content-Disposition, If-None-Match, and CAR
 * responses written into a buffer over a memstore and read back with
 * car_import (every block verified against its CID), per dag-scope.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "car.h"
#include "err.h"
#include "gateway_int.h"
#include "importer.h"
#include "memstore.h"

/* ---- parsing ---- */

static void test_decode_and_query(void **state) {
  (void)state;
  char out[64];
  assert_int_equal(gw_decode("a%20b+c", 7, false, out, sizeof out), 5);
  assert_string_equal(out, "a b+c");
  assert_int_equal(gw_decode("a%20b+c", 7, true, out, sizeof out), 5);
  assert_string_equal(out, "a b c");
  assert_int_equal(gw_decode("%4", 2, false, out, sizeof out), -EINVAL);
  assert_int_equal(gw_decode("%zz", 3, false, out, sizeof out), -EINVAL);
  assert_int_equal(gw_decode("%00", 3, false, out, sizeof out), -EINVAL);
  assert_int_equal(gw_decode("abcdef", 6, false, out, 4), -E2BIG);

  assert_int_equal(gw_query_get("format=car&dag-scope=entity", "dag-scope", out, sizeof out), 6);
  assert_string_equal(out, "entity");
  assert_int_equal(gw_query_get("download&x=1", "download", out, sizeof out), 0);
  assert_string_equal(out, "");
  assert_int_equal(gw_query_get("filename=a%20b.txt", "filename", out, sizeof out), 7);
  assert_string_equal(out, "a b.txt");
  assert_int_equal(gw_query_get("formatx=1", "format", out, sizeof out), -ENOENT);
  assert_int_equal(gw_query_get("", "format", out, sizeof out), -ENOENT);
  assert_int_equal(gw_query_get("a=%zz", "a", out, sizeof out), -EINVAL);
}

static void test_target(void **state) {
  (void)state;
  gw_target_t t;
  assert_int_equal(gw_parse_target("/ipfs/bafyabc/a/b%20c/", &t), 0);
  assert_int_equal(t.ns, GW_NS_IPFS);
  assert_string_equal(t.root, "bafyabc");
  assert_string_equal(t.path, "a/b c");
  assert_int_equal(t.segments, 2);
  assert_true(t.trailing_slash);
  assert_int_equal(gw_parse_target("/ipfs/Qmabc", &t), 0);
  assert_string_equal(t.path, "");
  assert_false(t.trailing_slash);
  assert_int_equal(gw_parse_target("/ipfs/Qmabc//x//", &t), 0);
  assert_string_equal(t.path, "x");
  assert_int_equal(gw_parse_target("/ipns/example.com/x", &t), 0);
  assert_int_equal(t.ns, GW_NS_IPNS);
  assert_string_equal(t.root, "example.com");
  assert_int_equal(gw_parse_target("/", &t), -ENOENT);
  assert_int_equal(gw_parse_target("/ipfsx/a", &t), -ENOENT);
  assert_int_equal(gw_parse_target("/ipfs/", &t), -EINVAL);
  assert_int_equal(gw_parse_target("/ipfs", &t), -EINVAL);
  assert_int_equal(gw_parse_target("/ipfs/x/a%2Fb", &t), -EINVAL);
  assert_int_equal(gw_parse_target("/ipfs/x/../y", &t), -EINVAL);
  assert_int_equal(gw_parse_target("/ipfs/x/%zz", &t), -EINVAL);
  char many[GW_SEGMENTS_MAX * 2 + 64] = "/ipfs/x";
  for (int i = 0; i <= GW_SEGMENTS_MAX; i++) strcat(many, "/a");
  assert_int_equal(gw_parse_target(many, &t), -E2BIG);
  memset(&t, 0, sizeof t);
  assert_int_equal(gw_parse_subpath("/", &t), 0);
  assert_true(t.trailing_slash);
  assert_int_equal(gw_parse_subpath("/d/f.txt", &t), 0);
  assert_string_equal(t.path, "d/f.txt");
  assert_false(t.trailing_slash);
}

static void test_host(void **state) {
  (void)state;
  gw_host_t h;
  assert_int_equal(gw_parse_host("bafyabc.ipfs.localhost:8080", &h), 1);
  assert_int_equal(h.ns, GW_NS_IPFS);
  assert_string_equal(h.root, "bafyabc");
  assert_string_equal(h.parent, "localhost:8080");
  assert_int_equal(gw_parse_host("k51abc.IPNS.example.com", &h), 1);
  assert_int_equal(h.ns, GW_NS_IPNS);
  assert_int_equal(gw_parse_host("localhost:8080", &h), 0);
  assert_int_equal(gw_parse_host("127.0.0.1:8080", &h), 0);
  assert_int_equal(gw_parse_host("[::1]:8080", &h), 0);
  assert_int_equal(gw_parse_host(NULL, &h), 0);
  assert_int_equal(gw_parse_host("a.b.ipfs.localhost", &h), 0);
  assert_int_equal(gw_parse_host("x.ipfs.", &h), -EINVAL);
  assert_int_equal(gw_parse_host("x_y.ipfs.localhost", &h), -EINVAL);
}

static void test_accept(void **state) {
  (void)state;
  gw_accept_t a;
  gw_parse_accept(NULL, &a);
  assert_int_equal(a.format, GW_FORMAT_DESERIALIZED);
  gw_parse_accept("application/vnd.ipld.raw", &a);
  assert_int_equal(a.format, GW_FORMAT_RAW);
  assert_true(a.explicit_format);
  gw_parse_accept("application/vnd.ipld.car; version=1; order=dfs; dups=y", &a);
  assert_int_equal(a.format, GW_FORMAT_CAR);
  assert_int_equal(a.car.version, 1);
  assert_int_equal(a.car.order, 'd');
  assert_int_equal(a.car.dups, 'y');
  gw_parse_accept("text/html,application/vnd.ipld.raw;q=0.9", &a);
  assert_int_equal(a.format, GW_FORMAT_DESERIALIZED);
  gw_parse_accept("text/html;q=0.5, application/vnd.ipld.raw", &a);
  assert_int_equal(a.format, GW_FORMAT_RAW);
  gw_parse_accept("application/x-tar", &a);
  assert_int_equal(a.format, GW_FORMAT_UNSUPPORTED);
  assert_string_equal(a.unsupported, "application/x-tar");
  gw_parse_accept("application/vnd.ipld.car;version=2", &a);
  assert_int_equal(a.format, GW_FORMAT_UNSUPPORTED);
  gw_parse_accept("application/vnd.ipld.car;version=2, application/vnd.ipld.car;q=0.5", &a);
  assert_int_equal(a.format, GW_FORMAT_CAR);
  gw_parse_accept("application/vnd.ipld.dag-json, */*;q=0.1", &a);
  assert_int_equal(a.format, GW_FORMAT_DESERIALIZED);
  gw_parse_accept("application/vnd.ipld.raw;q=0", &a);
  assert_int_equal(a.format, GW_FORMAT_DESERIALIZED);
  gw_parse_accept(",,;;,", &a);
  assert_int_equal(a.format, GW_FORMAT_DESERIALIZED);
  gw_format_t f;
  assert_int_equal(gw_format_from_query("raw", &f), 0);
  assert_int_equal(f, GW_FORMAT_RAW);
  assert_int_equal(gw_format_from_query("tar", &f), 0);
  assert_int_equal(f, GW_FORMAT_UNSUPPORTED);
  assert_int_equal(gw_format_from_query("zip", &f), -EINVAL);
}

static void test_range(void **state) {
  (void)state;
  uint64_t a, b;
  assert_int_equal(gw_parse_range("bytes=0-99", 1000, &a, &b), 0);
  assert_int_equal(a, 0);
  assert_int_equal(b, 99);
  assert_int_equal(gw_parse_range("bytes=-100", 1000, &a, &b), 0);
  assert_int_equal(a, 900);
  assert_int_equal(b, 999);
  assert_int_equal(gw_parse_range("bytes=-5000", 1000, &a, &b), 0);
  assert_int_equal(a, 0);
  assert_int_equal(gw_parse_range("bytes=100-", 1000, &a, &b), 0);
  assert_int_equal(a, 100);
  assert_int_equal(b, 999);
  assert_int_equal(gw_parse_range("bytes=990-2000", 1000, &a, &b), 0);
  assert_int_equal(b, 999);
  assert_int_equal(gw_parse_range("bytes=1000-", 1000, &a, &b), -ERANGE);
  assert_int_equal(gw_parse_range("bytes=-0", 1000, &a, &b), -ERANGE);
  assert_int_equal(gw_parse_range("bytes=0-0", 0, &a, &b), -ERANGE);
  assert_int_equal(gw_parse_range("bytes=5-1", 1000, &a, &b), 1);
  assert_int_equal(gw_parse_range("bytes=0-1,5-6", 1000, &a, &b), 1);
  assert_int_equal(gw_parse_range("items=0-1", 1000, &a, &b), 1);
  assert_int_equal(gw_parse_range("bytes=x-1", 1000, &a, &b), 1);
  assert_int_equal(gw_parse_range("bytes=99999999999999999999-", 1000, &a, &b), 1);
  assert_int_equal(gw_parse_range(NULL, 1000, &a, &b), 1);

  gw_entity_bytes_t e;
  assert_int_equal(gw_parse_entity_bytes("0:*", &e), 0);
  assert_true(e.to_end);
  assert_int_equal(gw_entity_range(&e, 1000, &a, &b), 0);
  assert_int_equal(a, 0);
  assert_int_equal(b, 999);
  assert_int_equal(gw_parse_entity_bytes("-1024:*", &e), 0);
  assert_int_equal(gw_entity_range(&e, 5000, &a, &b), 0);
  assert_int_equal(a, 5000 - 1024);
  assert_int_equal(gw_parse_entity_bytes("499:-1000", &e), 0);
  assert_int_equal(gw_entity_range(&e, 5000, &a, &b), 0);
  assert_int_equal(a, 499);
  assert_int_equal(b, 4000);
  assert_int_equal(gw_entity_range(&e, 1000, &a, &b), 1); /* zero-length */
  assert_int_equal(gw_parse_entity_bytes("6000:7000", &e), 0);
  assert_int_equal(gw_entity_range(&e, 5000, &a, &b), -ERANGE);
  assert_int_equal(gw_parse_entity_bytes("10:5", &e), -EINVAL);
  assert_int_equal(gw_parse_entity_bytes("10", &e), -EINVAL);
  assert_int_equal(gw_parse_entity_bytes("a:b", &e), -EINVAL);
}

static void test_types_and_text(void **state) {
  (void)state;
  assert_string_equal(gw_mime_by_name("a/b/index.HTML"), "text/html; charset=utf-8");
  assert_string_equal(gw_mime_by_name("x.png"), "image/png");
  assert_null(gw_mime_by_name("README"));
  assert_null(gw_mime_by_name(".bashrc"));
  assert_string_equal(gw_mime_sniff((const uint8_t *)"\x89PNG\r\n\x1a\n....", 12), "image/png");
  assert_string_equal(gw_mime_sniff((const uint8_t *)"\xff\xd8\xff\xe0", 4), "image/jpeg");
  assert_string_equal(gw_mime_sniff((const uint8_t *)"GIF89a", 6), "image/gif");
  assert_string_equal(gw_mime_sniff((const uint8_t *)"  <!DOCTYPE html><p>", 20), "text/html; charset=utf-8");
  assert_string_equal(gw_mime_sniff((const uint8_t *)"<?xml version=\"1.0\"?><svg>", 26), "image/svg+xml");
  assert_string_equal(gw_mime_sniff((const uint8_t *)"hello, w\xc3\xb6rld\n", 14), "text/plain; charset=utf-8");
  assert_string_equal(gw_mime_sniff((const uint8_t *)"ab\x00\x01", 4), "application/octet-stream");
  assert_string_equal(gw_mime_sniff((const uint8_t *)"\xc3", 1), "text/plain; charset=utf-8");

  buf_t b = {0};
  assert_int_equal(gw_html_escape(&b, "<a href=\"x\">&'</a>", 18), 0);
  assert_string_equal(buf_cstr(&b), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  buf_reset(&b);
  assert_int_equal(gw_url_escape(&b, "a b/c?d", 7), 0);
  assert_string_equal(buf_cstr(&b), "a%20b%2Fc%3Fd");
  buf_reset(&b);
  assert_int_equal(gw_content_disposition(&b, "inline", "test\xd1\x82\xd0\xb5\xd1\x81\xd1\x82.pdf"), 0);
  assert_string_equal(buf_cstr(&b), "inline; filename=\"test________.pdf\"; "
                                    "filename*=UTF-8''test%D1%82%D0%B5%D1%81%D1%82.pdf");
  buf_reset(&b);
  assert_int_equal(gw_content_disposition(&b, "attachment", "x.car"), 0);
  assert_string_equal(buf_cstr(&b), "attachment; filename=\"x.car\"");
  buf_free(&b);

  assert_true(gw_etag_match("\"abc\"", "\"abc\""));
  assert_true(gw_etag_match("W/\"abc\"", "\"abc\""));
  assert_true(gw_etag_match("\"x\", \"abc\"", "\"abc\""));
  assert_true(gw_etag_match("*", "\"abc\""));
  assert_false(gw_etag_match("\"abcd\"", "\"abc\""));
  assert_false(gw_etag_match(NULL, "\"abc\""));
  gw_scope_t s;
  assert_int_equal(gw_scope_parse("entity", &s), 0);
  assert_int_equal(s, GW_SCOPE_ENTITY);
  assert_int_equal(gw_scope_parse("everything", &s), -EINVAL);
}

/* ---- CAR responses ---- */

typedef struct fixture {
  memstore_t ms;
  cid_t file;        /* 10 chunks of 1000 bytes, 4 links a node: a two-level tree */
  uint64_t file_size;
  cid_t dir;         /* {big: file, small: one-chunk file} */
  cid_t small;
  uint8_t content[10000];
} fixture_t;

static void build(fixture_t *fx) {
  memset(fx, 0, sizeof *fx);
  imp_options_t o;
  imp_options_default(&o);
  o.cid_version = 1;
  o.raw_leaves = 1;
  o.chunk_bytes = 1000;
  o.links_max = 4;
  block_sink_t sink = memstore_sink(&fx->ms);
  for (size_t i = 0; i < sizeof fx->content; i++) fx->content[i] = (uint8_t)(i * 7 + i / 1000);
  imp_file_t *f;
  uint64_t tsize, small_tsize;
  assert_int_equal(imp_file_new(&o, &sink, &f), 0);
  assert_int_equal(imp_file_write(f, fx->content, sizeof fx->content), 0);
  assert_int_equal(imp_file_finish(f, &fx->file, &tsize), 0);
  fx->file_size = sizeof fx->content;
  assert_int_equal(imp_file_new(&o, &sink, &f), 0);
  assert_int_equal(imp_file_write(f, "hello\n", 6), 0);
  assert_int_equal(imp_file_finish(f, &fx->small, &small_tsize), 0);
  imp_dir_t *d;
  assert_int_equal(imp_dir_new(&o, &d), 0);
  assert_int_equal(imp_dir_add(d, "big", &fx->file, tsize), 0);
  assert_int_equal(imp_dir_add(d, "small", &fx->small, small_tsize), 0);
  uint64_t dir_tsize;
  assert_int_equal(imp_dir_finish(d, &sink, &fx->dir, &dir_tsize), 0);
}

static int to_buf(void *ctx, const void *data, size_t len) { return buf_append(ctx, data, len); }

typedef struct reader {
  const buf_t *b;
  size_t at;
} reader_t;

static ssize_t from_buf(void *ctx, void *data, size_t len) {
  reader_t *r = ctx;
  size_t n = r->b->len - r->at < len ? r->b->len - r->at : len;
  memcpy(data, r->b->data + r->at, n);
  r->at += n;
  return (ssize_t)n;
}

static cid_t seen_root;
static void on_root(void *ctx, const cid_t *root) { (void)ctx; seen_root = *root; }

/* Writes the CAR for req and reads it back (every block verified); returns the block count. */
static uint64_t car_roundtrip(fixture_t *fx, const gw_car_req_t *req, memstore_t *out) {
  block_source_t src = memstore_source(&fx->ms);
  buf_t car = {0};
  gw_car_stat_t st;
  assert_int_equal(gw_car_write(&src, req, to_buf, &car, &st), 0);
  assert_int_equal(st.bytes, car.len);
  reader_t r = {.b = &car};
  block_sink_t sink = memstore_sink(out);
  uint64_t blocks = 0;
  out->puts = 0;
  int rc = car_import(from_buf, &r, &sink, on_root, NULL, &blocks);
  if (rc) fprintf(stderr, "car_import: %s\n", err_msg(rc));
  assert_int_equal(rc, 0);
  assert_true(cid_equal(&seen_root, &req->root));
  assert_int_equal(blocks, st.blocks);
  buf_free(&car);
  return blocks;
}

static void test_car_scopes(void **state) {
  (void)state;
  fixture_t *fx = malloc(sizeof *fx);
  build(fx);
  /* 10 raw leaves, 3 level-1 nodes, 1 root: 14 blocks in the file; dir + small */
  memstore_t got = {0};
  gw_car_req_t req = {.root = fx->dir, .terminal = fx->dir, .scope = GW_SCOPE_ALL};
  assert_int_equal(car_roundtrip(fx, &req, &got), 16);
  assert_int_equal(got.len, fx->ms.len);
  memstore_free(&got);

  req.scope = GW_SCOPE_BLOCK;
  assert_int_equal(car_roundtrip(fx, &req, &got), 1);
  memstore_free(&got);
  req.scope = GW_SCOPE_ENTITY; /* a directory: its own node */
  assert_int_equal(car_roundtrip(fx, &req, &got), 1);
  memstore_free(&got);

  /* /dir/big: the dir block first, then the file */
  gw_car_req_t preq = {.root = fx->dir, .path_blocks = &fx->dir, .path_blocks_len = 1, .terminal = fx->file,
                       .scope = GW_SCOPE_ENTITY};
  assert_int_equal(car_roundtrip(fx, &preq, &got), 15);
  memstore_free(&got);
  preq.scope = GW_SCOPE_BLOCK;
  assert_int_equal(car_roundtrip(fx, &preq, &got), 2);
  memstore_free(&got);

  /* entity-bytes 2500..3499: root, the first level-1 node, leaves 2 and 3 */
  preq.scope = GW_SCOPE_ENTITY;
  preq.has_range = true;
  preq.range_first = 2500;
  preq.range_last = 3499;
  assert_int_equal(car_roundtrip(fx, &preq, &got), 1 + 1 + 1 + 2);
  memstore_free(&got);
  /* the last byte: root, last level-1 node, last leaf */
  preq.range_first = preq.range_last = 9999;
  assert_int_equal(car_roundtrip(fx, &preq, &got), 1 + 1 + 1 + 1);
  memstore_free(&got);
  preq.range_empty = true;
  assert_int_equal(car_roundtrip(fx, &preq, &got), 2);
  memstore_free(&got);

  /* a missing block: -ENOENT after the stream started */
  gw_car_req_t missing = {.root = fx->dir, .terminal = fx->dir, .scope = GW_SCOPE_ALL};
  memstore_t partial = {0};
  block_source_t psrc = memstore_source(&partial);
  memstore_put(&partial, &fx->dir, fx->ms.entries[fx->ms.len - 1].data, fx->ms.entries[fx->ms.len - 1].len);
  buf_t car = {0};
  assert_int_equal(gw_car_write(&psrc, &missing, to_buf, &car, NULL), -ENOENT);
  assert_true(car.len > 0);
  buf_free(&car);
  memstore_free(&partial);

  /* the identity probe: a header and no blocks */
  cid_t probe;
  assert_int_equal(cid_parse(&probe, "bafkqaaa"), 0);
  gw_car_req_t id = {.root = probe, .terminal = probe, .scope = GW_SCOPE_ALL};
  assert_int_equal(car_roundtrip(fx, &id, &got), 0);
  memstore_free(&got);
  memstore_free(&fx->ms);
  free(fx);
}

static void test_car_dups(void **state) {
  (void)state;
  /* a file of 4 identical chunks: one leaf linked 4 times */
  memstore_t ms = {0};
  imp_options_t o;
  imp_options_default(&o);
  o.cid_version = 1;
  o.raw_leaves = 1;
  o.chunk_bytes = 100;
  block_sink_t sink = memstore_sink(&ms);
  imp_file_t *f;
  uint8_t same[400];
  memset(same, 'x', sizeof same);
  cid_t root;
  uint64_t tsize;
  assert_int_equal(imp_file_new(&o, &sink, &f), 0);
  assert_int_equal(imp_file_write(f, same, sizeof same), 0);
  assert_int_equal(imp_file_finish(f, &root, &tsize), 0);
  block_source_t src = memstore_source(&ms);
  gw_car_req_t req = {.root = root, .terminal = root, .scope = GW_SCOPE_ALL};
  buf_t car = {0};
  gw_car_stat_t st;
  assert_int_equal(gw_car_write(&src, &req, to_buf, &car, &st), 0);
  assert_int_equal(st.blocks, 2);
  req.dups = true;
  buf_reset(&car);
  assert_int_equal(gw_car_write(&src, &req, to_buf, &car, &st), 0);
  assert_int_equal(st.blocks, 5);
  buf_free(&car);
  memstore_free(&ms);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode_and_query), cmocka_unit_test(test_target),
      cmocka_unit_test(test_host),             cmocka_unit_test(test_accept),
      cmocka_unit_test(test_range),            cmocka_unit_test(test_types_and_text),
      cmocka_unit_test(test_car_scopes),       cmocka_unit_test(test_car_dups),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
