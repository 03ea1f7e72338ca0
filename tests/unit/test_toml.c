/*
 * toml: the TOML 1.0 parser.  Valid documents built from the facts of the
 * specification (every string form and escape, integers in every base, floats,
 * booleans, the four date/time forms, arrays, tables, dotted keys, inline
 * tables, arrays of tables, comments, CRLF, BOM) parse to the right tree; every
 * invalid form the specification names is rejected with its file:line:column
 * and, where one is involved, the key; every limit is enforced at its edge.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "toml.h"

static toml_value_t *parse_ok(const char *text) {
  toml_value_t *root = NULL;
  int rc = toml_parse(text, strlen(text), "t.toml", &root);
  if (rc) fail_msg("parse failed for [%s]: %s", text, err_msg(rc));
  assert_non_null(root);
  return root;
}

/* Fails unless parsing gives `code` and a message starting with `where` and containing `what`. */
static void parse_bad_n(const char *text, size_t len, int code, const char *where, const char *what) {
  toml_value_t *root = (toml_value_t *)(uintptr_t)1;
  err_clear();
  int rc = toml_parse(text, len, "t.toml", &root);
  if (rc != code) fail_msg("[%s]: expected %d, got %d (%s)", text, code, rc, rc ? err_msg(rc) : "ok");
  assert_null(root);
  const char *msg = err_msg(rc);
  if (strncmp(msg, where, strlen(where)) != 0 || !strstr(msg, what))
    fail_msg("[%s]: message '%s' lacks '%s' ... '%s'", text, msg, where, what);
}

static void parse_bad(const char *text, const char *where, const char *what) {
  parse_bad_n(text, strlen(text), -EINVAL, where, what);
}

static const char *str(const toml_value_t *root, const char *path) {
  const char *s = NULL;
  int rc = toml_get_string(root, path, &s);
  if (rc) fail_msg("%s: %d %s", path, rc, err_msg(rc));
  return s;
}

static int64_t integer(const toml_value_t *root, const char *path) {
  int64_t v = 0;
  int rc = toml_get_int(root, path, &v);
  if (rc) fail_msg("%s: %d %s", path, rc, err_msg(rc));
  return v;
}

static double flt(const toml_value_t *root, const char *path) {
  double v = 0;
  int rc = toml_get_float(root, path, &v);
  if (rc) fail_msg("%s: %d %s", path, rc, err_msg(rc));
  return v;
}

/* ---- valid documents ------------------------------------------------------------- */

static void test_basic_strings_and_escapes(void **state) {
  (void)state;
  toml_value_t *r = parse_ok(
      "str = \"I'm a string. \\\"You can quote me\\\". Name\\tJos\\u00E9\\nLocation\\tSF.\"\n"
      "all = \"\\b\\t\\n\\f\\r\\\"\\\\\"\n"
      "big = \"\\U0001F600\"\n"
      "nul = \"a\\u0000b\"\n"
      "empty = \"\"\n"
      "tab = \"a\tb\"\n");
  assert_string_equal(str(r, "str"), "I'm a string. \"You can quote me\". Name\tJos\xC3\xA9\nLocation\tSF.");
  assert_string_equal(str(r, "all"), "\b\t\n\f\r\"\\");
  assert_string_equal(str(r, "big"), "\xF0\x9F\x98\x80");
  const toml_value_t *nul = toml_get(r, "nul");
  assert_int_equal(nul->string_len, 3);
  assert_memory_equal(nul->string, "a\0b", 3);
  assert_string_equal(str(r, "empty"), "");
  assert_string_equal(str(r, "tab"), "a\tb");
  toml_free(r);
}

static void test_multiline_basic_strings(void **state) {
  (void)state;
  toml_value_t *r = parse_ok(
      "str1 = \"\"\"\nRoses are red\nViolets are blue\"\"\"\n"
      "str2 = \"\"\"\nThe quick brown \\\n\n\n  fox jumps over \\\n    the lazy dog.\"\"\"\n"
      "str3 = \"\"\"\\\n       The quick brown \\\n       fox jumps over \\\n       the lazy dog.\\\n       \"\"\"\n"
      "str4 = \"\"\"Here are two quotation marks: \"\". Simple enough.\"\"\"\n"
      "str5 = \"\"\"Here are three quotation marks: \"\"\\\".\"\"\"\n"
      "str6 = \"\"\"\"This,\" she said, \"is just a pointless statement.\"\"\"\"\n"
      "str7 = \"\"\"a\"\"\"\"\"\n"
      "crlf = \"\"\"\r\none\r\ntwo\"\"\"\n"
      "ws = \"\"\"a \\  \t\n  b\"\"\"\n");
  assert_string_equal(str(r, "str1"), "Roses are red\nViolets are blue");
  assert_string_equal(str(r, "str2"), "The quick brown fox jumps over the lazy dog.");
  assert_string_equal(str(r, "str3"), "The quick brown fox jumps over the lazy dog.");
  assert_string_equal(str(r, "str4"), "Here are two quotation marks: \"\". Simple enough.");
  assert_string_equal(str(r, "str5"), "Here are three quotation marks: \"\"\".");
  assert_string_equal(str(r, "str6"), "\"This,\" she said, \"is just a pointless statement.\"");
  assert_string_equal(str(r, "str7"), "a\"\"");
  assert_string_equal(str(r, "crlf"), "one\ntwo");
  assert_string_equal(str(r, "ws"), "a b");
  toml_free(r);
}

static void test_literal_strings(void **state) {
  (void)state;
  toml_value_t *r = parse_ok(
      "winpath = 'C:\\Users\\nodejs\\templates'\n"
      "quoted = 'Tom \"Dubs\" Preston-Werner'\n"
      "regex = '<\\i\\c*\\s*>'\n"
      "regex2 = '''I [dw]on't need \\d{2} apples'''\n"
      "lines = '''\nThe first newline is\ntrimmed in raw strings.\n   All other whitespace\n   is preserved.\n'''\n"
      "quot15 = '''Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\"'''\n"
      "apos15 = \"Here are fifteen apostrophes: '''''''''''''''\"\n"
      "str = ''''That,' she said, 'is still pointless.''''\n"
      "empty = ''\n");
  assert_string_equal(str(r, "winpath"), "C:\\Users\\nodejs\\templates");
  assert_string_equal(str(r, "quoted"), "Tom \"Dubs\" Preston-Werner");
  assert_string_equal(str(r, "regex"), "<\\i\\c*\\s*>");
  assert_string_equal(str(r, "regex2"), "I [dw]on't need \\d{2} apples");
  assert_string_equal(str(r, "lines"),
                      "The first newline is\ntrimmed in raw strings.\n   All other whitespace\n   is preserved.\n");
  assert_string_equal(str(r, "quot15"), "Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\"");
  assert_string_equal(str(r, "apos15"), "Here are fifteen apostrophes: '''''''''''''''");
  assert_string_equal(str(r, "str"), "'That,' she said, 'is still pointless.'");
  assert_string_equal(str(r, "empty"), "");
  toml_free(r);
}

static void test_integers(void **state) {
  (void)state;
  toml_value_t *r = parse_ok(
      "int1 = +99\nint2 = 42\nint3 = 0\nint4 = -17\nint5 = 1_000\nint6 = 5_349_221\nint7 = 53_49_221\n"
      "int8 = 1_2_3_4_5\nhex1 = 0xDEADBEEF\nhex2 = 0xdeadbeef\nhex3 = 0xdead_beef\noct1 = 0o01234567\n"
      "oct2 = 0o755\nbin1 = 0b11010110\nmax = 9223372036854775807\nmin = -9223372036854775808\n"
      "pz = +0\nnz = -0\nhexmax = 0x7FFFFFFFFFFFFFFF\nlead = 0x0001\n");
  assert_int_equal(integer(r, "int1"), 99);
  assert_int_equal(integer(r, "int2"), 42);
  assert_int_equal(integer(r, "int3"), 0);
  assert_int_equal(integer(r, "int4"), -17);
  assert_int_equal(integer(r, "int5"), 1000);
  assert_int_equal(integer(r, "int6"), 5349221);
  assert_int_equal(integer(r, "int7"), 5349221);
  assert_int_equal(integer(r, "int8"), 12345);
  assert_int_equal(integer(r, "hex1"), 0xDEADBEEF);
  assert_int_equal(integer(r, "hex2"), 0xDEADBEEF);
  assert_int_equal(integer(r, "hex3"), 0xDEADBEEF);
  assert_int_equal(integer(r, "oct1"), 01234567);
  assert_int_equal(integer(r, "oct2"), 0755);
  assert_int_equal(integer(r, "bin1"), 214);
  assert_true(integer(r, "max") == INT64_MAX);
  assert_true(integer(r, "min") == INT64_MIN);
  assert_int_equal(integer(r, "pz"), 0);
  assert_int_equal(integer(r, "nz"), 0);
  assert_true(integer(r, "hexmax") == INT64_MAX);
  assert_int_equal(integer(r, "lead"), 1);
  toml_free(r);
}

static void test_floats(void **state) {
  (void)state;
  toml_value_t *r = parse_ok(
      "flt1 = +1.0\nflt2 = 3.1415\nflt3 = -0.01\nflt4 = 5e+22\nflt5 = 1e06\nflt6 = -2E-2\n"
      "flt7 = 6.626e-34\nflt8 = 224_617.445_991_228\nsf1 = inf\nsf2 = +inf\nsf3 = -inf\n"
      "sf4 = nan\nsf5 = +nan\nsf6 = -nan\nnz = -0.0\npz = +0.0\nz = 0e0\n");
  assert_true(flt(r, "flt1") == 1.0);
  assert_true(flt(r, "flt2") == 3.1415);
  assert_true(flt(r, "flt3") == -0.01);
  assert_true(flt(r, "flt4") == 5e22);
  assert_true(flt(r, "flt5") == 1e6);
  assert_true(flt(r, "flt6") == -2e-2);
  assert_true(flt(r, "flt7") == 6.626e-34);
  assert_true(flt(r, "flt8") == 224617.445991228);
  assert_true(__builtin_isinf(flt(r, "sf1")) && flt(r, "sf1") > 0);
  assert_true(__builtin_isinf(flt(r, "sf2")) && flt(r, "sf2") > 0);
  assert_true(__builtin_isinf(flt(r, "sf3")) && flt(r, "sf3") < 0);
  assert_true(__builtin_isnan(flt(r, "sf4")));
  assert_true(__builtin_isnan(flt(r, "sf5")));
  assert_true(__builtin_isnan(flt(r, "sf6")));
  assert_true(flt(r, "nz") == 0.0 && __builtin_signbit(flt(r, "nz")));
  assert_true(flt(r, "pz") == 0.0 && !__builtin_signbit(flt(r, "pz")));
  assert_true(flt(r, "z") == 0.0);
  toml_free(r);
}

static void test_booleans_and_dates(void **state) {
  (void)state;
  toml_value_t *r = parse_ok(
      "t = true\nf = false\n"
      "odt1 = 1979-05-27T07:32:00Z\nodt2 = 1979-05-27T00:32:00-07:00\n"
      "odt3 = 1979-05-27T00:32:00.999999-07:00\nodt4 = 1979-05-27 07:32:00Z\n"
      "odt5 = 1979-05-27t07:32:00z\nldt1 = 1979-05-27T07:32:00\nldt2 = 1979-05-27T00:32:00.999999\n"
      "ld1 = 1979-05-27\nlt1 = 07:32:00\nlt2 = 00:32:00.999999\nleap = 2000-02-29\nsec60 = 23:59:60\n"
      "arr = [1979-05-27, 07:32:00]\nafter = 1979-05-27 # a comment, not a time\n");
  bool b = false;
  assert_int_equal(toml_get_bool(r, "t", &b), 0);
  assert_true(b);
  assert_int_equal(toml_get_bool(r, "f", &b), 0);
  assert_false(b);
  static const char *const dates[][2] = {
      {"odt1", "1979-05-27T07:32:00Z"}, {"odt2", "1979-05-27T00:32:00-07:00"},
      {"odt3", "1979-05-27T00:32:00.999999-07:00"}, {"odt4", "1979-05-27 07:32:00Z"},
      {"odt5", "1979-05-27t07:32:00z"}, {"ldt1", "1979-05-27T07:32:00"}, {"ldt2", "1979-05-27T00:32:00.999999"},
      {"ld1", "1979-05-27"}, {"lt1", "07:32:00"}, {"lt2", "00:32:00.999999"}, {"leap", "2000-02-29"},
      {"sec60", "23:59:60"}, {"after", "1979-05-27"}};
  for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
    const toml_value_t *v = toml_get(r, dates[i][0]);
    assert_non_null(v);
    assert_int_equal(v->type, TOML_DATETIME);
    assert_string_equal(v->string, dates[i][1]);
  }
  const toml_value_t *arr = toml_get(r, "arr");
  assert_int_equal(arr->len, 2);
  assert_string_equal(arr->items[1]->string, "07:32:00");
  toml_free(r);
}

static void test_arrays(void **state) {
  (void)state;
  toml_value_t *r = parse_ok(
      "integers = [ 1, 2, 3 ]\ncolors = [ \"red\", \"yellow\", \"green\" ]\n"
      "nested_arrays_of_ints = [ [ 1, 2 ], [3, 4, 5] ]\n"
      "nested_mixed_array = [ [ 1, 2 ], [\"a\", \"b\", \"c\"] ]\n"
      "string_array = [ \"all\", 'strings', \"\"\"are the same\"\"\", '''type''' ]\n"
      "numbers = [ 0.1, 0.2, 0.5, 1, 2, 5 ]\n"
      "contributors = [\n  \"Foo Bar <foo@example.com>\",\n  { name = \"Baz Qux\", email = \"bazqux@example.com\" }\n]\n"
      "integers2 = [\n  1, 2, 3\n]\n"
      "integers3 = [\n  1,\n  2, # this is ok\n]\n"
      "empty = []\nempty2 = [ # c\n\n]\n");
  const toml_value_t *a = toml_get(r, "integers");
  assert_int_equal(a->type, TOML_ARRAY);
  assert_int_equal(a->len, 3);
  assert_int_equal(a->items[2]->integer, 3);
  assert_int_equal(toml_get(r, "colors")->len, 3);
  a = toml_get(r, "nested_arrays_of_ints");
  assert_int_equal(a->items[1]->len, 3);
  assert_int_equal(a->items[1]->items[2]->integer, 5);
  a = toml_get(r, "nested_mixed_array");
  assert_string_equal(a->items[1]->items[0]->string, "a");
  a = toml_get(r, "string_array");
  assert_string_equal(a->items[2]->string, "are the same");
  a = toml_get(r, "numbers");
  assert_int_equal(a->items[3]->type, TOML_INTEGER);
  assert_int_equal(a->items[0]->type, TOML_FLOAT);
  a = toml_get(r, "contributors");
  assert_int_equal(a->items[1]->type, TOML_TABLE);
  assert_string_equal(str(a->items[1], "email"), "bazqux@example.com");
  assert_int_equal(toml_get(r, "integers2")->len, 3);
  assert_int_equal(toml_get(r, "integers3")->len, 2);
  assert_int_equal(toml_get(r, "empty")->len, 0);
  assert_int_equal(toml_get(r, "empty2")->len, 0);
  toml_free(r);
}

static void test_keys(void **state) {
  (void)state;
  toml_value_t *r = parse_ok(
      "key = \"value\"\nbare_key = 1\nbare-key = 2\n1234 = 3\n"
      "\"127.0.0.1\" = \"value\"\n\"character encoding\" = \"value\"\n\"\xCA\x8E\xC7\x9D\xCA\x9E\" = \"value\"\n"
      "'key2' = \"value\"\n'quoted \"value\"' = \"value\"\n\"\" = \"blank\"\n"
      "name = \"Orange\"\nphysical.color = \"orange\"\nphysical.shape = \"round\"\nsite.\"google.com\" = true\n"
      "fruit.name = \"banana\"\nfruit. color = \"yellow\"\nfruit . flavor = \"banana\"\n"
      "3.14159 = \"pi\"\n");
  assert_int_equal(integer(r, "bare-key"), 2);
  assert_int_equal(integer(r, "1234"), 3);
  assert_non_null(toml_table_get(r, "127.0.0.1"));
  assert_non_null(toml_table_get(r, "character encoding"));
  assert_non_null(toml_table_get(r, "\xCA\x8E\xC7\x9D\xCA\x9E"));
  assert_non_null(toml_table_get(r, "quoted \"value\""));
  assert_string_equal(toml_table_get(r, "")->string, "blank");
  assert_string_equal(str(r, "physical.shape"), "round");
  bool b = false;
  assert_int_equal(toml_get_bool(toml_get(r, "site"), "google", &b), -ENOENT);
  assert_true(toml_table_get(toml_get(r, "site"), "google.com")->boolean);
  assert_string_equal(str(r, "fruit.color"), "yellow");
  assert_string_equal(str(r, "fruit.flavor"), "banana");
  assert_string_equal(str(r, "3.14159"), "pi");
  /* order of definition is kept */
  assert_string_equal(r->items[0]->key, "key");
  assert_string_equal(r->items[1]->key, "bare_key");
  toml_free(r);
}

static void test_tables(void **state) {
  (void)state;
  toml_value_t *r = parse_ok(
      "top = 0\n"
      "[table-1]\nkey1 = \"some string\"\nkey2 = 123\n\n"
      "[table-2]\nkey1 = \"another string\"\nkey2 = 456\n"
      "[dog.\"tater.man\"]\ntype.name = \"pug\"\n"
      "[a.b.c]\n[ d.e.f ]\n[ g .  h  . i ]\n[ j . \"\xCA\x9E\" . 'l' ]\n"
      "[x.y.z.w]\n[x]\n"
      "[fruit]\napple.color = \"red\"\napple.taste.sweet = true\n[fruit.apple.texture]\nsmooth = true\n"
      "[empty]\n");
  assert_int_equal(integer(r, "table-2.key2"), 456);
  const toml_value_t *dog = toml_table_get(toml_get(r, "dog"), "tater.man");
  assert_non_null(dog);
  assert_string_equal(str(dog, "type.name"), "pug");
  assert_int_equal(toml_get(r, "a.b.c")->type, TOML_TABLE);
  assert_int_equal(toml_get(r, "g.h.i")->type, TOML_TABLE);
  assert_non_null(toml_table_get(toml_table_get(toml_get(r, "j"), "\xCA\x9E"), "l"));
  assert_non_null(toml_get(r, "x.y.z.w"));
  assert_true(toml_get(r, "fruit.apple.taste.sweet")->boolean);
  assert_true(toml_get(r, "fruit.apple.texture.smooth")->boolean);
  assert_int_equal(toml_get(r, "empty")->len, 0);
  assert_int_equal(toml_get(r, "empty")->line, 22);
  assert_int_equal(toml_get(r, "empty")->column, 1);
  toml_free(r);
}

static void test_inline_tables(void **state) {
  (void)state;
  toml_value_t *r = parse_ok(
      "name = { first = \"Tom\", last = \"Preston-Werner\" }\npoint = { x = 1, y = 2 }\n"
      "animal = { type.name = \"pug\" }\nempty = {}\nnested = { a = { b = [ { c = 1 } ] } }\n"
      "sp = {   k   =   1   ,   j = 2   }\n");
  assert_string_equal(str(r, "name.last"), "Preston-Werner");
  assert_int_equal(integer(r, "point.y"), 2);
  assert_string_equal(str(r, "animal.type.name"), "pug");
  assert_int_equal(toml_get(r, "empty")->len, 0);
  assert_int_equal(toml_get(r, "nested.a.b")->items[0]->items[0]->integer, 1);
  assert_int_equal(integer(r, "sp.j"), 2);
  toml_free(r);
}

static void test_arrays_of_tables(void **state) {
  (void)state;
  toml_value_t *r = parse_ok(
      "[[products]]\nname = \"Hammer\"\nsku = 738594937\n\n[[products]]  # empty table within the array\n\n"
      "[[products]]\nname = \"Nail\"\nsku = 284758393\ncolor = \"gray\"\n"
      "[[fruits]]\nname = \"apple\"\n[fruits.physical]\ncolor = \"red\"\nshape = \"round\"\n"
      "[[fruits.varieties]]\nname = \"red delicious\"\n[[fruits.varieties]]\nname = \"granny smith\"\n"
      "[[fruits]]\nname = \"banana\"\n[[fruits.varieties]]\nname = \"plantain\"\n"
      "points = [ { x = 1, y = 2, z = 3 },\n           { x = 7, y = 8, z = 9 },\n           { x = 2, y = 4, z = 8 } ]\n");
  const toml_value_t *p = toml_get(r, "products");
  assert_int_equal(p->type, TOML_ARRAY);
  assert_int_equal(p->len, 3);
  assert_int_equal(p->items[1]->len, 0);
  assert_string_equal(str(p->items[2], "color"), "gray");
  const toml_value_t *f = toml_get(r, "fruits");
  assert_int_equal(f->len, 2);
  assert_string_equal(str(f->items[0], "physical.color"), "red");
  assert_int_equal(toml_get(f->items[0], "varieties")->len, 2);
  assert_string_equal(str(toml_get(f->items[1], "varieties")->items[0], "name"), "plantain");
  /* "points" belongs to the last [[fruits.varieties]] element */
  const toml_value_t *last = toml_get(f->items[1], "varieties")->items[0];
  assert_int_equal(toml_get(last, "points")->len, 3);
  toml_free(r);
}

static void test_comments_whitespace_crlf_bom(void **state) {
  (void)state;
  toml_value_t *r = parse_ok("");
  assert_int_equal(r->len, 0);
  toml_free(r);
  r = parse_ok("# only a comment\n\n   \t\n# \xC3\xA9 unicode is fine in comments");
  assert_int_equal(r->len, 0);
  toml_free(r);
  r = parse_ok("\xEF\xBB\xBF" "a = 1 # trailing\r\n\t[t] # c\r\n\tb = \"x\" # \"\"\" not a string\r\nc = 3");
  assert_int_equal(integer(r, "a"), 1);
  assert_string_equal(str(r, "t.b"), "x");
  assert_int_equal(integer(r, "t.c"), 3);
  toml_free(r);
}

/* ---- invalid documents, each with its position ----------------------------------- */

static void test_invalid_syntax(void **state) {
  (void)state;
  parse_bad("key = # INVALID", "t.toml:1:7: ", "unexpected '#' where a value should be (key 'key')");
  parse_bad("key =", "t.toml:1:6: ", "expected a value");
  parse_bad("key", "t.toml:1:4: ", "expected '=' after the key");
  parse_bad("first = \"Tom\" last = \"Preston-Werner\"", "t.toml:1:15: ", "expected the end of the line after a value");
  parse_bad("= \"no key name\"", "t.toml:1:1: ", "unexpected '='");
  parse_bad("\"\"\"key\"\"\" = \"not allowed\"", "t.toml:1:1: ", "multi-line string");
  parse_bad("a = hello", "t.toml:1:5: ", "invalid value 'hello' (strings need quotes)");
  parse_bad("a = True", "t.toml:1:5: ", "invalid value 'True'");
  parse_bad("a = truee", "t.toml:1:5: ", "invalid value 'truee'");
  parse_bad("a.b. = 1", "t.toml:1:6: ", "unexpected '=' where a key should be");
  parse_bad("a. b = 1\n\n  c d = 2", "t.toml:3:5: ", "expected '=' after the key (key 'c')");
  parse_bad("[a]b = 1", "t.toml:1:4: ", "expected the end of the line after a table header (key 'a')");
  parse_bad("[a", "t.toml:1:3: ", "expected ']' to close the table header");
  parse_bad("[[a]", "t.toml:1:4: ", "expected ']]'");
  parse_bad("[[a] ]", "t.toml:1:4: ", "expected ']]'");
  parse_bad("[]", "t.toml:1:2: ", "unexpected ']' where a key should be");
  parse_bad("[a.]", "t.toml:1:4: ", "unexpected ']'");
  parse_bad("\n\n[a]\nx = 1\n[b\n", "t.toml:5:3: ", "expected ']'");
  parse_bad("a = 1\rb = 2", "t.toml:1:6: ", "expected the end of the line");
  parse_bad("\r", "t.toml:1:1: ", "carriage return without a line feed");
  parse_bad("# bad \x01 comment", "t.toml:1:7: ", "control character 0x01 in comment");
  parse_bad("# bad \x7f", "t.toml:1:7: ", "control character 0x7f in comment");
  parse_bad("# lone cr \r in comment", "t.toml:1:11: ", "control character 0x0d");
  parse_bad("a = \"\xff\"", "t.toml:1:6: ", "invalid UTF-8");
  parse_bad("x = 1\n# \xc0\xaf overlong", "t.toml:2:3: ", "invalid UTF-8");
  parse_bad("# \xed\xa0\x80 surrogate", "t.toml:1:3: ", "invalid UTF-8");
  parse_bad("# \xf4\x90\x80\x80 too big", "t.toml:1:3: ", "invalid UTF-8");
  parse_bad("# \xe2\x82", "t.toml:1:3: ", "truncated UTF-8");
  parse_bad("\xc3\xa9 = 1", "t.toml:1:1: ", "unexpected character where a key should be");
}

static void test_invalid_strings(void **state) {
  (void)state;
  parse_bad("a = \"abc", "t.toml:1:5: ", "unterminated string (key 'a')");
  parse_bad("a = \"abc\nb = 1", "t.toml:1:5: ", "unterminated string");
  parse_bad("a = 'abc", "t.toml:1:5: ", "unterminated string");
  parse_bad("a = \"a\\qb\"", "t.toml:1:7: ", "invalid escape '\\q'");
  parse_bad("a = \"\\x41\"", "t.toml:1:6: ", "invalid escape '\\x'");
  parse_bad("a = \"\\uD800\"", "t.toml:1:6: ", "not a Unicode scalar value");
  parse_bad("a = \"\\U00110000\"", "t.toml:1:6: ", "not a Unicode scalar value");
  parse_bad("a = \"\\u12\"", "t.toml:1:6: ", "\\u escape needs 4 hex digits");
  parse_bad("a = \"x\x01y\"", "t.toml:1:7: ", "control character 0x01 in string");
  parse_bad("a = 'x\x7fy'", "t.toml:1:7: ", "control character 0x7f in string");
  parse_bad("a = \"\"\"abc", "t.toml:1:5: ", "unterminated multi-line string");
  parse_bad("a = '''abc\n\n", "t.toml:1:5: ", "unterminated multi-line string");
  parse_bad("a = '''x''''''", "t.toml:1:9: ", "too many quotes");
  parse_bad("a = \"\"\"x\\ y\"\"\"", "t.toml:1:9: ", "invalid escape '\\ '");
  parse_bad("a = \"\"\"x\ry\"\"\"", "t.toml:1:9: ", "control character 0x0d in string");
  parse_bad("\"a\\u0000b\" = 1", "t.toml:1:1: ", "key contains U+0000");
  parse_bad("a = \"\\", "t.toml:1:6: ", "unterminated string");
}

static void test_invalid_numbers_and_dates(void **state) {
  (void)state;
  parse_bad("a = +0x10", "t.toml:1:5: ", "a sign is not allowed on a 0x integer");
  parse_bad("a = 0123", "t.toml:1:5: ", "leading zeros are not allowed in '0123'");
  parse_bad("a = -012", "t.toml:1:5: ", "leading zeros");
  parse_bad("a = 1__2", "t.toml:1:5: ", "invalid number '1__2'");
  parse_bad("a = 1_", "t.toml:1:5: ", "invalid number");
  parse_bad("a = _1", "t.toml:1:5: ", "invalid value '_1'");
  parse_bad("a = 0X1F", "t.toml:1:5: ", "invalid number");
  parse_bad("a = 0x", "t.toml:1:5: ", "invalid integer '0x'");
  parse_bad("a = 0xG", "t.toml:1:5: ", "invalid integer");
  parse_bad("a = 0b102", "t.toml:1:5: ", "invalid integer");
  parse_bad("a = 0o8", "t.toml:1:5: ", "invalid integer");
  parse_bad("a = 0x_1", "t.toml:1:5: ", "invalid integer");
  parse_bad("a = 9223372036854775808", "t.toml:1:5: ", "out of the 64-bit range");
  parse_bad("a = -9223372036854775809", "t.toml:1:5: ", "out of the 64-bit range");
  parse_bad("a = 0x8000000000000000", "t.toml:1:5: ", "out of the 64-bit range");
  parse_bad("a = 99999999999999999999999", "t.toml:1:5: ", "out of the 64-bit range");
  parse_bad("a = .7", "t.toml:1:5: ", "invalid value '.7'");
  parse_bad("a = 7.", "t.toml:1:5: ", "invalid number '7.'");
  parse_bad("a = 3.e+20", "t.toml:1:5: ", "invalid number");
  parse_bad("a = 1e", "t.toml:1:5: ", "invalid number");
  parse_bad("a = 1e_5", "t.toml:1:5: ", "invalid number");
  parse_bad("a = 03.14", "t.toml:1:5: ", "leading zeros");
  parse_bad("a = 1._5", "t.toml:1:5: ", "invalid number");
  parse_bad("a = 1.5.", "t.toml:1:5: ", "invalid number");
  parse_bad("a = Inf", "t.toml:1:5: ", "invalid value 'Inf'");
  parse_bad("a = ++1", "t.toml:1:5: ", "invalid number");
  parse_bad("a = 1979-02-30", "t.toml:1:5: ", "invalid date or time '1979-02-30'");
  parse_bad("a = 1979-13-01", "t.toml:1:5: ", "invalid date");
  parse_bad("a = 2001-02-29", "t.toml:1:5: ", "invalid date");
  parse_bad("a = 1900-02-29", "t.toml:1:5: ", "invalid date");
  parse_bad("a = 1979-05-27T", "t.toml:1:5: ", "invalid date");
  parse_bad("a = 07:32", "t.toml:1:5: ", "invalid date or time '07:32'");
  parse_bad("a = 24:00:00", "t.toml:1:5: ", "invalid date");
  parse_bad("a = 07:60:00", "t.toml:1:5: ", "invalid date");
  parse_bad("a = 07:32:00Z", "t.toml:1:5: ", "invalid date");
  parse_bad("a = 07:32:00.", "t.toml:1:5: ", "invalid date");
  parse_bad("a = 1979-05-27T07:32:00+25:00", "t.toml:1:5: ", "invalid date");
  parse_bad("a = 1979-05-27T07:32:00+07", "t.toml:1:5: ", "invalid date");
  parse_bad("a = 1979-5-27", "t.toml:1:5: ", "invalid date or time");
  parse_bad("a = 1979-05-27 07:32", "t.toml:1:5: ", "invalid date");
}

static void test_invalid_arrays_and_inline_tables(void **state) {
  (void)state;
  parse_bad("a = [1 2]", "t.toml:1:8: ", "expected ',' or ']' in array (key 'a')");
  parse_bad("a = [1,,2]", "t.toml:1:8: ", "unexpected ','");
  parse_bad("a = [1", "t.toml:1:7: ", "unterminated array");
  parse_bad("a = [\n1,\n# c\n", "t.toml:4:1: ", "expected a value");
  parse_bad("a = {x = 1,}", "t.toml:1:12: ", "trailing comma in inline table");
  parse_bad("a = {x = 1\n}", "t.toml:1:11: ", "inline table must close on its line");
  parse_bad("a = {\nx = 1}", "t.toml:1:6: ", "expected a key");
  parse_bad("a = {x = 1 y = 2}", "t.toml:1:12: ", "expected ',' or '}' in inline table");
  parse_bad("a = {x = 1, x = 2}", "t.toml:1:13: ", "duplicate key");
  parse_bad("a = {x.y = 1, x = 2}", "t.toml:1:15: ", "duplicate key");
  parse_bad("a = {b = {c = 1}, b.d = 2}", "t.toml:1:19: ", "inline table 'b' cannot be extended");
  parse_bad("a = {x 1}", "t.toml:1:8: ", "expected '=' after a key");
}

static void test_invalid_tables_and_keys(void **state) {
  (void)state;
  parse_bad("name = \"Tom\"\nname = \"Pradyun\"", "t.toml:2:1: ", "duplicate key (key 'name')");
  parse_bad("spelling = \"favorite\"\n\"spelling\" = \"favourite\"", "t.toml:2:1: ", "duplicate key");
  parse_bad("[t]\nx.y = 1\n  x.y = 2", "t.toml:3:3: ", "duplicate key (key 't.x.y')");
  parse_bad("fruit.apple = 1\nfruit.apple.smooth = true", "t.toml:2:1: ",
            "'apple' is already a value of type integer, not a table");
  parse_bad("a.b = 1\na = 2", "t.toml:2:1: ", "duplicate key (key 'a')");
  parse_bad("[fruit]\napple = \"red\"\n\n[fruit]\norange = \"orange\"", "t.toml:4:1: ", "table defined twice (key 'fruit')");
  parse_bad("[a]\n[a]", "t.toml:2:1: ", "table defined twice");
  parse_bad("[a.b]\n[a]\n[a.b]", "t.toml:3:1: ", "table defined twice (key 'a.b')");
  parse_bad("[fruit]\napple = \"red\"\n\n[fruit.apple]\ntexture = \"smooth\"", "t.toml:4:1: ",
            "'apple' is already a value of type string, not a table");
  parse_bad("[fruit]\napple.color = \"red\"\napple.taste.sweet = true\n[fruit.apple]", "t.toml:4:1: ",
            "table was already defined by dotted keys (key 'fruit.apple')");
  parse_bad("a.b.c = 1\n[a]", "t.toml:2:1: ", "table was already defined by dotted keys");
  parse_bad("[fruit.apple]\ncolor = 1\n[fruit]\napple.x = 1", "t.toml:4:1: ",
            "table 'apple' was defined by a [header]; dotted keys cannot add to it");
  parse_bad("[a.b.c]\nz = 9\n[a]\nb.c.t = 1", "t.toml:4:1: ", "table 'b' was defined by a [header]");
  parse_bad("a = {}\n[a.b]", "t.toml:2:1: ", "inline table 'a' cannot be extended");
  parse_bad("a = {}\n[a]", "t.toml:2:1: ", "inline table cannot be extended");
  parse_bad("type = { name = \"Nail\" }\ntype.edible = false", "t.toml:2:1: ", "inline table 'type' cannot be extended");
  parse_bad("[product]\ntype.name = \"Nail\"\ntype = { edible = false }", "t.toml:3:1: ", "duplicate key (key 'product.type')");
  parse_bad("fruits = []\n[[fruits]]", "t.toml:2:1: ", "is already a value of type static array, not an array of tables");
  parse_bad("a = [{b = 1}]\n[a.c]", "t.toml:2:1: ", "'a' is a static array");
  parse_bad("[[fruits]]\nname = \"apple\"\n[[fruits.varieties]]\nname = \"red delicious\"\n[fruits.varieties]\nname = \"granny smith\"",
            "t.toml:5:1: ", "'varieties' is already a value of type array of tables, not a table");
  parse_bad("[[fruits]]\n[fruits.physical]\ncolor = \"red\"\n[[fruits.physical]]", "t.toml:4:1: ",
            "'physical' is already a value of type table, not an array of tables");
  parse_bad("a = 1\n[a.b]", "t.toml:2:1: ", "'a' is already a value of type integer, not a table");
  parse_bad("a = 1\n[[a]]", "t.toml:2:1: ", "not an array of tables");
  parse_bad("[a]\nb = 1\n[a.b]", "t.toml:3:1: ", "'b' is already a value of type integer");
  parse_bad("[[a]]\nb = 1\n[a.b.c]", "t.toml:3:1: ", "'b' is already a value of type integer, not a table");
}

/* ---- limits ---------------------------------------------------------------------- */

static void test_limits(void **state) {
  (void)state;
  buf_t b = {0};
  /* nesting: TOML_DEPTH_MAX arrays are fine, one more is not */
  buf_printf(&b, "a = ");
  for (int i = 0; i < TOML_DEPTH_MAX; i++) buf_append_byte(&b, '[');
  for (int i = 0; i < TOML_DEPTH_MAX; i++) buf_append_byte(&b, ']');
  toml_value_t *r = parse_ok(buf_cstr(&b));
  toml_free(r);
  buf_reset(&b);
  buf_printf(&b, "a = ");
  for (int i = 0; i <= TOML_DEPTH_MAX; i++) buf_append_byte(&b, '[');
  for (int i = 0; i <= TOML_DEPTH_MAX; i++) buf_append_byte(&b, ']');
  parse_bad_n((char *)b.data, b.len, -E2BIG, "t.toml:1:37: ", "nested more than 32 deep (key 'a')");
  buf_reset(&b);
  buf_printf(&b, "a = ");
  for (int i = 0; i <= TOML_DEPTH_MAX; i++) buf_printf(&b, "{b=");
  parse_bad_n((char *)b.data, b.len, -E2BIG, "t.toml:1:", "nested more than 32 deep");
  /* dotted keys: 32 parts fine, 33 not */
  buf_reset(&b);
  for (int i = 0; i < TOML_DEPTH_MAX; i++) buf_printf(&b, "%sk", i ? "." : "");
  buf_printf(&b, " = 1");
  r = parse_ok(buf_cstr(&b));
  toml_free(r);
  buf_reset(&b);
  buf_printf(&b, "[");
  for (int i = 0; i <= TOML_DEPTH_MAX; i++) buf_printf(&b, "%sk", i ? "." : "");
  buf_printf(&b, "]");
  parse_bad_n((char *)b.data, b.len, -E2BIG, "t.toml:1:", "key has more than 32 parts");
  /* key length */
  buf_reset(&b);
  for (int i = 0; i < TOML_KEY_BYTES_MAX; i++) buf_append_byte(&b, 'k');
  buf_printf(&b, " = 1");
  r = parse_ok(buf_cstr(&b));
  toml_free(r);
  buf_reset(&b);
  buf_printf(&b, "x = 1\n\"");
  for (int i = 0; i <= TOML_KEY_BYTES_MAX; i++) buf_append_byte(&b, 'k');
  buf_printf(&b, "\" = 1");
  parse_bad_n((char *)b.data, b.len, -E2BIG, "t.toml:2:1: ", "key longer than 256 bytes");
  /* keys in one table */
  buf_reset(&b);
  for (int i = 0; i < TOML_TABLE_ENTRIES_MAX; i++) buf_printf(&b, "k%d = %d\n", i, i);
  r = parse_ok(buf_cstr(&b));
  assert_int_equal(r->len, TOML_TABLE_ENTRIES_MAX);
  toml_free(r);
  buf_printf(&b, "one_more = 1\n");
  parse_bad_n((char *)b.data, b.len, -E2BIG, "t.toml:1025:", "more than 1024 keys in one table");
  /* input size */
  buf_reset(&b);
  buf_printf(&b, "# ");
  while (b.len < TOML_INPUT_BYTES_MAX) buf_append_byte(&b, 'x');
  r = parse_ok(buf_cstr(&b));
  toml_free(r);
  buf_append_byte(&b, 'x');
  parse_bad_n((char *)b.data, b.len, -E2BIG, "t.toml: ", "larger than 1048576 bytes");
  /* value token length */
  buf_reset(&b);
  buf_printf(&b, "a = 1");
  for (int i = 0; i < 200; i++) buf_append_byte(&b, '0');
  parse_bad_n((char *)b.data, b.len, -EINVAL, "t.toml:1:5: ", "value too long");
  buf_free(&b);
}

/* ---- the tree API ------------------------------------------------------------------- */

static void test_getters_and_files(void **state) {
  (void)state;
  toml_value_t *r = parse_ok("[s]\nname = \"x\"\nn = 3\nf = 1.5\nb = true\nsub.k = 'v'\n");
  const char *s;
  int64_t n;
  double f;
  bool b;
  assert_int_equal(toml_get_string(r, "s.name", &s), 0);
  assert_string_equal(s, "x");
  assert_int_equal(toml_get_int(r, "s.n", &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(toml_get_float(r, "s.f", &f), 0);
  assert_true(f == 1.5);
  assert_int_equal(toml_get_bool(r, "s.b", &b), 0);
  assert_true(b);
  assert_string_equal(str(r, "s.sub.k"), "v");
  assert_int_equal(toml_get_string(r, "s.missing", &s), -ENOENT);
  assert_int_equal(toml_get_string(r, "nope.name", &s), -ENOENT);
  assert_int_equal(toml_get_string(r, "s.name.deeper", &s), -ENOENT);
  assert_int_equal(toml_get_int(r, "s.name", &n), -EINVAL);
  assert_non_null(strstr(err_msg(-EINVAL), "2:8: key 's.name' has type string, expected integer"));
  assert_int_equal(toml_get_bool(r, "s", &b), -EINVAL);
  assert_null(toml_table_get(toml_get(r, "s.n"), "x")); /* not a table */
  assert_string_equal(toml_type_name(TOML_DATETIME), "datetime");
  toml_free(r);
  toml_free(NULL);

  char dir[] = "/tmp/test_toml_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[64];
  snprintf(path, sizeof path, "%s/c.toml", dir);
  FILE *fp = fopen(path, "w");
  fputs("ok = 1\n\nbad = [1,\n  2 3]\n", fp);
  fclose(fp);
  assert_int_equal(toml_parse_file(path, &r), -EINVAL);
  assert_null(r);
  char want[160];
  snprintf(want, sizeof want, "%s:4:5: expected ',' or ']' in array (key 'bad')", path);
  assert_string_equal(err_msg(-EINVAL), want);
  fp = fopen(path, "w");
  fputs("ok = 1\n", fp);
  fclose(fp);
  assert_int_equal(toml_parse_file(path, &r), 0);
  assert_int_equal(integer(r, "ok"), 1);
  toml_free(r);
  unlink(path);
  assert_int_equal(toml_parse_file(path, &r), -ENOENT);
  assert_int_equal(toml_parse_file(dir, &r), -EINVAL);
  rmdir(dir);
}

static void test_write_string_and_key(void **state) {
  (void)state;
  buf_t b = {0};
  const char *raw = "a\"b\\c\nd\te\x01" "\xC3\xA9";
  assert_int_equal(toml_write_string(&b, raw, strlen(raw)), 0);
  assert_string_equal(buf_cstr(&b), "\"a\\\"b\\\\c\\nd\\te\\u0001\xC3\xA9\"");
  /* what is written parses back to the same bytes */
  buf_t doc = {0};
  buf_printf(&doc, "k = %s\n", buf_cstr(&b));
  toml_value_t *r = parse_ok(buf_cstr(&doc));
  assert_string_equal(str(r, "k"), "a\"b\\c\nd\te\x01\xC3\xA9");
  toml_free(r);
  buf_reset(&b);
  assert_int_equal(toml_write_key(&b, "bare_key-1"), 0);
  assert_int_equal(toml_write_key(&b, "."), 0);
  assert_int_equal(toml_write_key(&b, ""), 0);
  assert_string_equal(buf_cstr(&b), "bare_key-1\".\"\"\"");
  buf_free(&b);
  buf_free(&doc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_basic_strings_and_escapes),
      cmocka_unit_test(test_multiline_basic_strings),
      cmocka_unit_test(test_literal_strings),
      cmocka_unit_test(test_integers),
      cmocka_unit_test(test_floats),
      cmocka_unit_test(test_booleans_and_dates),
      cmocka_unit_test(test_arrays),
      cmocka_unit_test(test_keys),
      cmocka_unit_test(test_tables),
      cmocka_unit_test(test_inline_tables),
      cmocka_unit_test(test_arrays_of_tables),
      cmocka_unit_test(test_comments_whitespace_crlf_bom),
      cmocka_unit_test(test_invalid_syntax),
      cmocka_unit_test(test_invalid_strings),
      cmocka_unit_test(test_invalid_numbers_and_dates),
      cmocka_unit_test(test_invalid_arrays_and_inline_tables),
      cmocka_unit_test(test_invalid_tables_and_keys),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_getters_and_files),
      cmocka_unit_test(test_write_string_and_key),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
