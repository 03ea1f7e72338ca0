/*
 * fuzz_toml: toml_parse over arbitrary bytes, then config_load_text over the
 * same bytes (and the pin policies, policy_load).  Properties: on failure the output is NULL and the message
 * names "<name>:line:column"; on success the tree is well formed (keys unique
 * within each table, strings NUL-terminated at their length), and writing it
 * back as TOML (tables as inline tables) parses to an equal tree whenever the
 * rewrite stays within the parser's limits.  A violated property aborts.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "policy.h"
#include "toml.h"

static void check_tree(const toml_value_t *v, int depth) {
  if (depth > 4 * TOML_DEPTH_MAX * TOML_DEPTH_MAX) abort();
  switch (v->type) {
    case TOML_TABLE:
      for (size_t i = 0; i < v->len; i++) {
        if (!v->items[i]->key) abort();
        for (size_t j = 0; j < i; j++)
          if (strcmp(v->items[i]->key, v->items[j]->key) == 0) abort();
        check_tree(v->items[i], depth + 1);
      }
      break;
    case TOML_ARRAY:
      for (size_t i = 0; i < v->len; i++) {
        if (v->items[i]->key) abort();
        check_tree(v->items[i], depth + 1);
      }
      break;
    case TOML_STRING:
    case TOML_DATETIME:
      if (!v->string || v->string[v->string_len] != '\0') abort();
      break;
    default:
      break;
  }
}

static int write_value(buf_t *out, const toml_value_t *v) {
  int rc = 0;
  switch (v->type) {
    case TOML_TABLE:
      rc = buf_append_byte(out, '{');
      for (size_t i = 0; !rc && i < v->len; i++) {
        if (i) rc = buf_append(out, ", ", 2);
        if (!rc) rc = toml_write_key(out, v->items[i]->key);
        if (!rc) rc = buf_append(out, " = ", 3);
        if (!rc) rc = write_value(out, v->items[i]);
      }
      return rc ? rc : buf_append_byte(out, '}');
    case TOML_ARRAY:
      rc = buf_append_byte(out, '[');
      for (size_t i = 0; !rc && i < v->len; i++) {
        if (i) rc = buf_append(out, ", ", 2);
        if (!rc) rc = write_value(out, v->items[i]);
      }
      return rc ? rc : buf_append_byte(out, ']');
    case TOML_STRING: return toml_write_string(out, v->string, v->string_len);
    case TOML_DATETIME: return buf_append(out, v->string, v->string_len);
    case TOML_INTEGER: return buf_printf(out, "%lld", (long long)v->integer);
    case TOML_BOOL: return buf_printf(out, "%s", v->boolean ? "true" : "false");
    case TOML_FLOAT: {
      if (isnan(v->floating)) return buf_printf(out, "nan");
      if (isinf(v->floating)) return buf_printf(out, "%sinf", v->floating < 0 ? "-" : "");
      char text[64];
      snprintf(text, sizeof text, "%.17g", v->floating);
      if (!strpbrk(text, ".e")) strcat(text, ".0");
      return buf_printf(out, "%s", text);
    }
  }
  return -EINVAL;
}

static bool equal(const toml_value_t *a, const toml_value_t *b) {
  if (a->type != b->type) return false;
  if ((a->key == NULL) != (b->key == NULL) || (a->key && strcmp(a->key, b->key) != 0)) return false;
  switch (a->type) {
    case TOML_TABLE:
    case TOML_ARRAY:
      if (a->len != b->len) return false;
      for (size_t i = 0; i < a->len; i++)
        if (!equal(a->items[i], b->items[i])) return false;
      return true;
    case TOML_STRING:
    case TOML_DATETIME:
      return a->string_len == b->string_len && memcmp(a->string, b->string, a->string_len) == 0;
    case TOML_INTEGER: return a->integer == b->integer;
    case TOML_BOOL: return a->boolean == b->boolean;
    case TOML_FLOAT:
      if (isnan(a->floating)) return isnan(b->floating);
      return memcmp(&a->floating, &b->floating, sizeof a->floating) == 0;
  }
  return false;
}

static void check_message(int rc) {
  const char *msg = err_msg(rc);
  if (rc == -ENOMEM) return;
  if (strncmp(msg, "f.toml:", 7) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  toml_value_t *root = (toml_value_t *)(uintptr_t)1;
  err_clear();
  int rc = toml_parse((const char *)data, size, "f.toml", &root);
  if (rc) {
    if (root) abort();
    if (rc != -EINVAL && rc != -E2BIG && rc != -ENOMEM) abort();
    check_message(rc);
  } else {
    check_tree(root, 0);
    buf_t text = {0};
    for (size_t i = 0; i < root->len; i++) {
      if (toml_write_key(&text, root->items[i]->key) || buf_append(&text, " = ", 3) ||
          write_value(&text, root->items[i]) || buf_append_byte(&text, '\n'))
        abort();
    }
    toml_value_t *again = NULL;
    int rc2 = toml_parse((const char *)text.data, text.len, "f.toml", &again);
    if (rc2 == 0) {
      if (!equal(root, again)) abort();
      toml_free(again);
    } else if (rc2 != -E2BIG) {
      abort(); /* only the nesting limit may refuse the rewrite */
    }
    buf_free(&text);
    toml_free(root);
  }

  config_t *cfg = NULL;
  if (config_new(&cfg)) return 0;
  err_clear();
  rc = config_load_text(cfg, (const char *)data, size, "f.toml");
  if (rc) check_message(rc);
  policy_set_t policies; /* the pin policies' own checks: accepted or -EINVAL, nothing else */
  int prc = policy_load(cfg, &policies);
  if (prc && prc != -EINVAL && prc != -ENOMEM) abort();
  policy_free(&policies);
  buf_t shown = {0};
  if (config_write_toml(cfg, &shown, false, true)) abort();
  /* what `config show` prints loads back (secrets masked, so not compared) */
  config_t *again = NULL;
  if (config_new(&again)) abort();
  if (config_load_text(again, (const char *)shown.data, shown.len, "show") != 0) abort();
  config_free(again);
  buf_free(&shown);
  config_free(cfg);
  return 0;
}
