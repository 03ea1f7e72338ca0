/*
 * dwn/data_schema: JSON Schema validation of record DATA (the seed's ask;
 * not a dwn-sdk-js behaviour, so it is off unless a schema is registered).
 *
 * A registry maps a schema URI (a protocol type's `schema`, or a flat
 * record's descriptor.schema) to a JSON Schema document registered locally
 * (the Anya protocols in packaging/ ship theirs).  When a RecordsWrite with
 * data names a registered schema and its dataFormat is application/json, the
 * data must parse as JSON and validate, else 400 with detail
 * "AnyaDataSchemaInvalid: <instance path>: <what>".  Unregistered schemas and
 * other data formats pass untouched, so replies stay those of dwn-sdk-js.
 *
 * The registry lives in the DWN directory (dwn_options_t.dir) and is opened
 * with the engine (dwn_data_schemas_open/close are called by dwn_open/close).
 * Layout: <dir>/schemas/<sha2-256 hex of the URI>.json, each file
 * {"uri": URI, "schema": <the JSON Schema document>}, written to a temporary
 * file, fsynced, renamed into place and the directory fsynced (a crash leaves
 * the old entry or the new one).  The files are read and compiled once, at
 * open: a process that registers a schema (`anya dwn schema add`, `anya dwn
 * protocol install`) changes what that handle checks at once, and what
 * another process's engine checks at its next open.  A stored file that no
 * longer reads or compiles makes open fail (-EINVAL with the file named),
 * rather than silently checking less.
 *
 * Documents are compiled by jsonschema.h, which refuses keywords it does not
 * evaluate; its header lists the subset.  The detail of a failed check is
 * "AnyaDataSchemaInvalid: " + jsonschema_validate's detail, e.g.
 * "AnyaDataSchemaInvalid: /ticker: pattern: does not match ^[A-Z]{3,8}$", or
 * "AnyaDataSchemaInvalid: (root): data is not JSON: ..." / "... larger than
 * N bytes".
 *
 * Threads: a registry handle may be used from any number of threads (checks
 * share a read lock; add/remove take it exclusively).
 */
#ifndef ANYA_DWN_DATA_SCHEMA_H
#define ANYA_DWN_DATA_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cid.h"
#include "dwn/status.h"

#define DWN_DATA_SCHEMA_BYTES_MAX (1u << 20) /* data validated at most; larger JSON data: 400 */
#define DWN_DATA_SCHEMAS_MAX 1024              /* registered schemas */
#define DWN_DATA_SCHEMA_DOC_BYTES_MAX (64u << 10) /* a stored registry file (URI + document) */
#define DWN_DATA_SCHEMA_URI_BYTES_MAX 2048     /* a schema URI */

typedef struct dwn_data_schemas dwn_data_schemas_t;
struct dwn;

/* Opens the registry of the DWN directory dir (creating nothing until a
 * schema is registered).  0 or negative errno. */
int dwn_data_schemas_open(const char *dir, dwn_data_schemas_t **out);
void dwn_data_schemas_close(dwn_data_schemas_t *s);

/* Registers (or replaces) the JSON Schema document of uri, which must be a
 * normalised URL (url.h: dwn_url_is_normalized) of at most
 * DWN_DATA_SCHEMA_URI_BYTES_MAX bytes.  The document is compiled first
 * (jsonschema_compile: -EINVAL/-E2BIG with its message), then persisted
 * (above), then used.  0, -EINVAL, -E2BIG (document over
 * DWN_DATA_SCHEMA_DOC_BYTES_MAX, or DWN_DATA_SCHEMAS_MAX reached), -ENOMEM,
 * I/O errors.  The document is borrowed (the registry keeps a reference). */
int dwn_data_schema_add(dwn_data_schemas_t *s, const char *uri, const json_t *document);

/* Forgets uri (its file is removed).  0 or -ENOENT, I/O errors. */
int dwn_data_schema_remove(dwn_data_schemas_t *s, const char *uri);

/* *out = a new array of the registered URIs, sorted bytewise.  0 or -ENOMEM. */
int dwn_data_schema_list(dwn_data_schemas_t *s, json_t **out);

/* Validates the JSON value data against the schema of uri, without a write
 * around it.  0 valid, 1 invalid (detail as jsonschema_validate), -ENOENT
 * nothing registered for uri. */
int dwn_data_schema_validate(dwn_data_schemas_t *s, const char *uri, const json_t *data, char *detail,
                             size_t detail_bytes);

/* Checks a RecordsWrite's data against the schema registered for its schema
 * URI, if any.  The data is inline_data[0..inline_len) or, when inline_data
 * is NULL, the DAG stored_cid in the engine's block store (both NULL: a write
 * without data, nothing to check).  Data is parsed as JSON.parse would
 * (numbers as doubles, any JSON value at the top).  0 (valid, or nothing to
 * check), the negative errno of a 400 with st set (dwn_status_fail), or an
 * internal errno (reading the stored DAG). */
int dwn_data_schema_check(struct dwn *d, const json_t *write, const uint8_t *inline_data, size_t inline_len,
                          const cid_t *stored_cid, dwn_status_t *st);

#endif
