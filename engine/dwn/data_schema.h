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
 */
#ifndef ANYA_DWN_DATA_SCHEMA_H
#define ANYA_DWN_DATA_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cid.h"
#include "dwn/status.h"

#define DWN_DATA_SCHEMA_BYTES_MAX (1u << 20) /* data validated at most; larger JSON data: 400 */

typedef struct dwn_data_schemas dwn_data_schemas_t;
struct dwn;

/* Opens the registry of the DWN directory dir (creating nothing until a
 * schema is registered).  0 or negative errno. */
int dwn_data_schemas_open(const char *dir, dwn_data_schemas_t **out);
void dwn_data_schemas_close(dwn_data_schemas_t *s);

/* Checks a RecordsWrite's data against the schema registered for its schema
 * URI, if any.  The data is inline_data[0..inline_len) or, when inline_data
 * is NULL, the DAG stored_cid in the engine's block store.  0 (valid, or
 * nothing to check), 400 via st, or an internal errno. */
int dwn_data_schema_check(struct dwn *d, const json_t *write, const uint8_t *inline_data, size_t inline_len,
                          const cid_t *stored_cid, dwn_status_t *st);

#endif
