/*
 * dwn_http: the DWN listener (`--dwn`, default 127.0.0.1:3000) on the wire of
 * @web5/dwn-server 0.6.1 (dwn-reference.md §13; docs/dwn-http.md is the full
 * description):
 *
 *   POST /                 JSON-RPC 2.0 dwn.processMessage; the request in the
 *                          dwn-request header (or, beyond dwn-server, in the
 *                          body when there is no such header and the body is
 *                          application/json; a RecordsWrite's data then rides
 *                          in params.encodedData, base64url), record data as
 *                          the body; data replies stream back with a
 *                          dwn-response header; record data above
 *                          dwn.max_record_data_size answers 413 (JSON-RPC
 *                          -50413), from Content-Length or while streaming
 *   WebSocket (any path)   dwn.processMessage (RecordsWrite too, beyond
 *                          dwn-server, its data in params.encodedData),
 *                          rpc.subscribe.dwn.processMessage,
 *                          rpc.subscribe.close
 *   GET /info              {url, server, maxFileSize, registrationRequirements,
 *                          version, sdkVersion, webSocketSupport}
 *   GET /:did/records/:id, /:did/read/records/:id,
 *   /:did/read/protocols/..., /:did/query/protocols, /:did/query
 *                          the unsigned convenience reads of published data
 *   GET /                  a plain-text hint
 *   OPTIONS                the CORS preflight; every answer carries
 *                          Access-Control-Allow-Origin: * and exposes
 *                          dwn-response
 *
 * /health and /metrics are the server's (net/server.c), not this module's.
 *
 * Errors keep dwn-server's JSON-RPC codes and HTTP statuses: -50400 (no or
 * unparsable request) 400; -32600 (Subscribe over HTTP), -32601 (unknown
 * method, where dwn-server hangs), -32602, -32603 (the engine failed) 500.
 * DWN outcomes, errors included, are HTTP 200 with the reply in
 * result.reply.
 *
 * Threads and memory.  dwn_http_handle runs on an HTTP worker thread and
 * blocks in the engine.  Record data is never whole in memory: a body of at
 * most 256 KiB (Content-Length) is read into an anonymous memory file the
 * engine hashes on this thread, a larger one flows from this thread into a
 * socket pair read by a thread running dwn_process; data replies stream from the block engine (dwn_reply_data_write).
 * A WebSocket's subscriptions hold a reference on the socket (http_ws_ref);
 * events are queued with http_ws_send on the writer's thread, and closing the
 * socket ends its subscriptions (dwn_unsubscribe_subscriber: only its own
 * registrations of a subscribe message).
 */
#ifndef ANYA_NET_DWN_HTTP_H
#define ANYA_NET_DWN_HTTP_H

#include <stdint.h>

#include "dwn/dwn.h"
#include "http.h"

typedef struct dwn_http dwn_http_t;

typedef struct dwn_http_opts {
  dwn_t *dwn;               /* borrowed */
  uint64_t max_data_bytes;  /* dwn.max_record_data_size; 0: no limit */
} dwn_http_opts_t;

int dwn_http_new(const dwn_http_opts_t *opts, dwn_http_t **out);
void dwn_http_free(dwn_http_t *h);
/* The listener's handler (ctx = the dwn_http_t). */
void dwn_http_handle(http_req_t *req, void *ctx);

#endif
