/*
 * config: Anya's configuration, defined by ONE table of keys (config.c).
 *
 * Every key has a dotted name ("storage.max"), a type, a default, a one-line
 * description and a secret flag.  Everything else comes from that table:
 *   - the embedded defaults (config_new) and the default config text
 *     (config_write_defaults);
 *   - the dev and prod profiles that `anya init --profile` writes
 *     (config_write_profile; packaging/anya-{dev,prod}.toml are its output);
 *   - `anya config show` (config_write_toml, secrets masked as "********");
 *   - docs/configuration.md (config_write_docs; a unit test keeps the file
 *     equal to the generated text).
 *
 * Loading: config_new gives the defaults; config_load_file / config_load_text
 * overlay a TOML document (toml.h); config_set overlays one value given as
 * text (command-line flags).  Later layers win.  A document may only hold the
 * keys of the table: an unknown key is rejected with the nearest known key
 * suggested (edit distance).  String values (and the strings of string arrays,
 * sizes, durations, addresses) go through ${ENV_VAR} expansion first: an unset
 * variable is an error naming it, "$$" is a literal "$", and a "$" followed by
 * anything else stays as written.  A failed load or set changes nothing.
 *
 * Value syntax, per type (TOML in files, text for config_set and defaults):
 *   string     any text (choices, where listed, restrict it)
 *   integer    TOML integer / decimal text, within the key's range
 *   boolean    true | false
 *   size       "10GiB", "512 MiB", "100GB", "1.5TB", "4096" (bytes; TOML
 *              integers too): units B, kB/KB, MB, GB, TB, PB, EB (powers of
 *              1000) and KiB, MiB, GiB, TiB, PiB, EiB (powers of 1024),
 *              case-insensitive, at most one space before the unit
 *   duration   "250ms", "30s", "5m", "48h", "7d", "1h30m" (units from the
 *              largest down, each once) or "0"; kept in milliseconds
 *   address    "HOST:PORT" ("[v6]:PORT" for IPv6) or "off"
 *   multiaddr  "/ip4/.../tcp/N"-style text starting with "/", or "off"
 *   path       an absolute path, or "off"
 *   strings    TOML array of strings / comma-separated text
 *   tables     an array of tables, `[[pinning.policy]]` (files only): its
 *              fields are the keys named "<key>.<field>" right after it in the
 *              table, each with its own type and default; a field whose
 *              default_text is NULL is required.  Fields exist only inside
 *              their tables (config_set refuses them); read them with
 *              config_tables and config_field_*.
 *
 * Errors: -EINVAL (bad value, unknown key, unset variable; the message names
 * file:line:column where there is a file, and the key), -E2BIG, -ENOMEM,
 * or the errno of reading the file.
 *
 * Memory: a config_t is owned by whoever called config_new and released with
 * config_free; strings returned by the getters live until the next change of
 * that key or config_free.  Getters abort on a key name that is not in the
 * table or has another type (a programming error, not input).
 */
#ifndef ANYA_CONFIG_H
#define ANYA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define CONFIG_SECRET_MASK "********"
#define CONFIG_NAME_BYTES_MAX 64
#define CONFIG_DURATION_TEXT_BYTES 48
#define CONFIG_FIELDS_MAX 16    /* fields of one kind of table */
#define CONFIG_TABLES_MAX 256   /* tables in one array of tables */

typedef enum config_type {
  CONFIG_STRING,
  CONFIG_INT,
  CONFIG_BOOL,
  CONFIG_SIZE,
  CONFIG_DURATION,
  CONFIG_ADDRESS,
  CONFIG_MULTIADDR,
  CONFIG_PATH,
  CONFIG_STRINGS,
  CONFIG_TABLES,
} config_type_t;

typedef struct config_key {
  const char *name;         /* "section.key" */
  config_type_t type;
  const char *default_text; /* the default, in config_set's text syntax; NULL: a required field */
  int64_t min, max;         /* range for integers; sizes (bytes) and durations (ms) when max > 0 */
  const char *choices;      /* "a|b|c": the allowed strings, or NULL */
  bool secret;              /* masked by `config show` */
  const char *doc;          /* one sentence or two, Markdown */
} config_key_t;

typedef struct config config_t;

/* The table, in document order; *count gets its length. */
const config_key_t *config_keys(size_t *count);
/* The key named `name`, or NULL. */
const config_key_t *config_key_find(const char *name);
/* The known key nearest to an unknown name (edit distance), or NULL if none is close. */
const char *config_suggest(const char *name);
/* "string", "integer", "boolean", "size", "duration", "address", "multiaddr", "path", "strings",
 * "array of tables". */
const char *config_type_name(config_type_t type);

/* A configuration holding the defaults.  0 or -ENOMEM. */
int config_new(config_t **out);
void config_free(config_t *cfg);

/* Overlays a profile's values ("dev" or "prod"; sets repo.profile).  -EINVAL unknown. */
int config_apply_profile(config_t *cfg, const char *profile);
/* Overlays a TOML document; `name` names it in messages. */
int config_load_text(config_t *cfg, const char *text, size_t len, const char *name);
/* Reads and overlays a TOML file. */
int config_load_file(config_t *cfg, const char *path);
/* Overlays one key from text (no ${} expansion: the shell has done it). */
int config_set(config_t *cfg, const char *key, const char *value);

/* Typed values.  config_string serves every string-like type (string,
 * address, multiaddr, path, and the text of sizes and durations). */
const char *config_string(const config_t *cfg, const char *key);
int64_t config_int(const config_t *cfg, const char *key);
bool config_bool(const config_t *cfg, const char *key);
uint64_t config_size(const config_t *cfg, const char *key);        /* bytes */
uint64_t config_duration_ms(const config_t *cfg, const char *key); /* milliseconds */
/* The strings of a string array; returns how many. */
size_t config_strings(const config_t *cfg, const char *key, const char *const **out);

/* Arrays of tables: how many tables key holds, where table `index` was
 * written ("FILE:LINE:COLUMN", for messages of modules that check the values
 * further), and its fields by short name ("name" of "pinning.policy.name").
 * A field a table leaves out has its default. */
size_t config_tables(const config_t *cfg, const char *key);
const char *config_table_origin(const config_t *cfg, const char *key, size_t index);
const char *config_field_string(const config_t *cfg, const char *key, size_t index, const char *field);
int64_t config_field_int(const config_t *cfg, const char *key, size_t index, const char *field);
bool config_field_bool(const config_t *cfg, const char *key, size_t index, const char *field);
uint64_t config_field_size(const config_t *cfg, const char *key, size_t index, const char *field);
uint64_t config_field_duration_ms(const config_t *cfg, const char *key, size_t index, const char *field);
size_t config_field_strings(const config_t *cfg, const char *key, size_t index, const char *field,
                            const char *const **out);

/* Appends the configuration as TOML, every key, section by section.  With
 * `comments`, each key is preceded by its description; with `mask_secrets`,
 * non-empty secrets are written as "********".  identity.peer_id is written
 * only when set. */
int config_write_toml(const config_t *cfg, buf_t *out, bool comments, bool mask_secrets);
/* The embedded default configuration as commented TOML. */
int config_write_defaults(buf_t *out);
/* A profile as commented TOML (what `anya init --profile` writes); peer_id,
 * when non-NULL, fills [identity]. */
int config_write_profile(buf_t *out, const char *profile, const char *peer_id);
/* docs/configuration.md. */
int config_write_docs(buf_t *out);

/* Helpers, also used by other modules for their own flags. */
int config_parse_size(const char *text, uint64_t *bytes);
int config_parse_duration(const char *text, uint64_t *ms);
/* The shortest text config_parse_duration reads back as ms ("30d", "1h30m",
 * "250ms", "0"). */
void config_format_duration(uint64_t ms, char out[CONFIG_DURATION_TEXT_BYTES]);
/* Appends `in` with ${NAME} replaced by the environment's value. */
int config_expand_env(const char *in, buf_t *out);

#endif
