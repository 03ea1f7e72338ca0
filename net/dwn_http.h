/*
 * dwn_http: the DWN listener (`--dwn`, default 127.0.0.1:3000) on the wire of
 * @web5/dwn-server 0.6.1 (dwn-reference.md §13):
 *
 *   POST /                 JSON-RPC 2.0 dwn.processMessage; the request in the
 *                          dwn-request header (or, beyond dwn-server, in the
 *                          body when there is no such header and the body is
 *                          application/json), record data as the body;
 *                          data replies stream back with a dwn-response
 *                          header; record data above
 *                          dwn.max_record_data_size answers 413
 *   WebSocket (any path)   dwn.processMessage (RecordsWrite too, beyond
 *                          dwn-server), rpc.subscribe.dwn.processMessage,
 *                          rpc.subscribe.close
 *   GET /info              {url, server, maxFileSize, registrationRequirements,
 *                          version, sdkVersion, webSocketSupport}
 *   GET /:did/records/:id, /:did/read/records/:id,
 *   /:did/read/protocols/..., /:did/query/protocols, /:did/query
 *                          the unsigned convenience reads of published data
 *   GET /                  a plain-text hint
 *
 * /health and /metrics are the server's (net/server.c), not this module's.
 */
#ifndef ANYA_NET_DWN_HTTP_H
#define ANYA_NET_DWN_HTTP_H

#include <stdint.h>

#include "dwn/dwn.h"
#include "http.h"

typedef struct dwn_http dwn_http_t;

typedef struct dwn_http_opts {
  dwn_t *dwn;               /* borrowed */
  uint64_t max_data_bytes;  /* dwn.max_record_data_size */
} dwn_http_opts_t;

int dwn_http_new(const dwn_http_opts_t *opts, dwn_http_t **out);
void dwn_http_free(dwn_http_t *h);
/* The listener's handler (ctx = the dwn_http_t). */
void dwn_http_handle(http_req_t *req, void *ctx);

#endif
