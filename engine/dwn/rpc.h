/*
 * dwn/rpc: the request side of @web5/dwn-server 0.6.1's JSON-RPC transport
 * (dwn-reference.md §13), without sockets: the HTTP/WebSocket listener
 * (net/dwn_http.c) reads bytes, these functions make sense of them.
 *
 * dwn_rpc_parse reads one JSON-RPC 2.0 request:
 *   {"jsonrpc":"2.0", "id"?: string|number|null, "method": string,
 *    "params"?: {"target": DID, "message": {...}, "encodedData"?: b64u},
 *    "subscription"?: {"id": string|number}}
 * The message is decoded the way the engine expects (JSON integers as reals,
 * JSON_DECODE_INT_AS_REAL, so dag-cbor sees JS numbers); the request id and
 * subscription id are given back with integral numbers as integers (so a
 * reply echoes `1`, not `1.0`).  A request without an id (or with null) gets
 * a fresh UUID v4 string, as dwn-server does.  Only the shape of the
 * envelope is checked here (an object with a string method); what the
 * method needs (params.target, params.message) is the caller's to check,
 * because dwn-server answers those with JSON-RPC errors, not as bad input.
 *
 * dwn_rpc_query_options turns a URL query in dwn-server's dot notation
 * ("filter.protocol=x&filter.dataSize.gte=10&pagination.limit=5") into the
 * nested options object its convenience reads build a RecordsQuery from
 * ({filter:{protocol:"x",dataSize:{gte:10}},pagination:{limit:5}}).  Values
 * are percent-decoded ('+' is a space); a key given twice becomes an array
 * (as Express's query parser makes it).  Beyond dwn-server, which passes
 * every value as a string (so its schema refuses a numeric limit), values of
 * the members the RecordsQuery schema types as numbers or booleans are
 * converted: pagination.limit, filter.dataSize.{gt,gte,lt,lte} (numbers) and
 * filter.published (true/false).  Bounded: DWN_RPC_QUERY_PARAMS_MAX
 * parameters, DWN_RPC_QUERY_DEPTH_MAX levels.
 *
 * Errors: 0 or -EINVAL with err_set (the JSON error, or what is wrong with
 * the envelope or the query), -ENOMEM.
 */
#ifndef ANYA_DWN_RPC_H
#define ANYA_DWN_RPC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define DWN_RPC_QUERY_PARAMS_MAX 64
#define DWN_RPC_QUERY_DEPTH_MAX 6
#define DWN_RPC_QUERY_BYTES_MAX 16384

/* JSON-RPC error codes dwn-server uses (its JsonRpcErrorCodes), and ours. */
enum {
  DWN_RPC_INVALID_REQUEST = -32600,
  DWN_RPC_METHOD_NOT_FOUND = -32601,
  DWN_RPC_INVALID_PARAMS = -32602,
  DWN_RPC_INTERNAL_ERROR = -32603,
  DWN_RPC_PARSE_ERROR = -32700,
  DWN_RPC_BAD_REQUEST = -50400,   /* dwn-server: "equivalent to HTTP status 400" */
  DWN_RPC_TOO_LARGE = -50413,     /* ours, in the same scheme: record data above the maximum */
};

typedef struct dwn_rpc_req {
  json_t *root;             /* the parsed request; owned */
  json_t *id;               /* owned: the request id, or a fresh UUID string */
  const char *method;       /* into root */
  const char *target;       /* params.target, NULL when absent or not a string */
  const json_t *message;    /* params.message, NULL when absent or not an object */
  const char *encoded_data; /* params.encodedData, NULL when absent or not a string */
  json_t *subscription_id;  /* owned: subscription.id, NULL without a subscription object */
  bool has_subscription;    /* a "subscription" object was given */
} dwn_rpc_req_t;

/* Parses text[0..len).  On error *out is empty (nothing to release) and
 * out->id still holds a fresh UUID for the error reply. */
int dwn_rpc_parse(const char *text, size_t len, dwn_rpc_req_t *out);
void dwn_rpc_release(dwn_rpc_req_t *r);

/* {"jsonrpc":"2.0","id":id,"result":result} (result stolen) and
 * {"jsonrpc":"2.0","id":id,"error":{"code","message"}}.  id borrowed; NULL:
 * a fresh UUID.  NULL on memory exhaustion. */
json_t *dwn_rpc_result(const json_t *id, json_t *result);
json_t *dwn_rpc_error(const json_t *id, int code, const char *message);

/* A random UUID v4 string ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"). */
json_t *dwn_rpc_uuid(void);

/* The options object of a query string (see the top); *out owned. */
int dwn_rpc_query_options(const char *query, json_t **out);

#endif
