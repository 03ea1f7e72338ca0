/*
 * http_tls: TLS for the HTTP server with OpenSSL, through libevent's OpenSSL
 * bufferevents.  One SSL_CTX per server (tls_cert: a PEM chain, tls_key: its
 * key), TLS 1.2 and later, ALPN offering h2 then http/1.1.  After the
 * handshake the connection is the same as a plain one: HTTP/2 is recognised
 * by the client's preface, which an ALPN h2 client sends first.
 */
#include <errno.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>

#include "err.h"
#include "http_internal.h"

static const unsigned char alpn_protos[] = "\x02h2\x08http/1.1";

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *out_len,
                       const unsigned char *in, unsigned int in_len, void *arg) {
  (void)ssl, (void)arg;
  if (SSL_select_next_proto((unsigned char **)out, out_len, alpn_protos, sizeof alpn_protos - 1,
                            in, in_len) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK; /* no common protocol: go on without ALPN (HTTP/1.1) */
  return SSL_TLSEXT_ERR_OK;
}

static int tls_fail(SSL_CTX *ctx, const char *what, const char *path) {
  char detail[256];
  ERR_error_string_n(ERR_get_error(), detail, sizeof detail);
  ERR_clear_error();
  SSL_CTX_free(ctx);
  return err_set(-EINVAL, "%s %s: %s", what, path, detail);
}

int http_tls_init(http_server_t *srv, const char *cert, const char *key) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return err_set(-ENOMEM, "cannot create a TLS context");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
    return tls_fail(ctx, "tls_cert", cert);
  if (!key || !key[0]) key = cert;
  if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
    return tls_fail(ctx, "tls_key", key);
  if (SSL_CTX_check_private_key(ctx) != 1) return tls_fail(ctx, "tls_key does not match", cert);
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
  srv->ssl_ctx = ctx;
  return 0;
}

void http_tls_free(http_server_t *srv) {
  if (srv->ssl_ctx) SSL_CTX_free(srv->ssl_ctx);
  srv->ssl_ctx = NULL;
}

struct bufferevent *http_tls_bufferevent(http_server_t *srv, struct event_base *base, int fd) {
  SSL *ssl = SSL_new(srv->ssl_ctx);
  if (!ssl) return NULL;
  struct bufferevent *bev =
      bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
  if (!bev) {
    SSL_free(ssl);
    return NULL;
  }
  bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
  return bev;
}
