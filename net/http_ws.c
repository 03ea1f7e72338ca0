/*
 * http_ws: WebSocket connections (RFC 6455) over wslay.  Not built yet: this
 * file gives the http.h entry points so their users link; http_ws_accept
 * answers 501 and fails with -ENOTSUP until the real one lands.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "http_internal.h"

/* True when a comma-separated header value holds token (case-insensitive). */
static bool header_has_token(const char *value, const char *token) {
  size_t n = strlen(token);
  const char *p = value;
  while (p && *p) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (strncasecmp(p, token, n) == 0 && (p[n] == 0 || p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
      return true;
    p = strchr(p, ',');
  }
  return false;
}

bool http_req_is_websocket(const http_req_t *req) {
  if (req->version != 11 || strcmp(req->method, "GET") != 0) return false;
  const char *upgrade = http_req_header(req, "upgrade");
  const char *connection = http_req_header(req, "connection");
  return upgrade && connection && header_has_token(upgrade, "websocket") &&
         header_has_token(connection, "upgrade");
}

int http_ws_accept(http_req_t *req, const http_ws_ops_t *ops, void *ctx, http_ws_t **out) {
  (void)ops, (void)ctx;
  if (out) *out = NULL;
  http_respond_error(req, 501, "WebSocket is not supported yet");
  return err_set(-ENOTSUP, "WebSocket is not supported yet");
}

int http_ws_send(http_ws_t *ws, bool text, const void *data, size_t len) {
  (void)ws, (void)text, (void)data, (void)len;
  return -EPIPE;
}

void http_ws_close(http_ws_t *ws, uint16_t code) { (void)ws, (void)code; }
void http_ws_ref(http_ws_t *ws) { (void)ws; }
void http_ws_unref(http_ws_t *ws) { (void)ws; }
const char *http_ws_peer(const http_ws_t *ws) { (void)ws; return ""; }
