/* dwn_http: the DWN listener on dwn-server 0.6.1's wire (see dwn_http.h). */
#include "dwn_http.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "dwn/build.h"
#include "dwn/rpc.h"
#include "err.h"
#include "log.h"
#include "multibase.h"

#ifndef ANYA_VERSION
#define ANYA_VERSION "0.1.0" /* tools/cli.h's; anyad's /info reports the same */
#endif

#define SDK_VERSION "0.5.2"          /* the dwn-sdk-js whose replies the engine reproduces */
#define BODY_REQUEST_BYTES_MAX (16u << 20) /* a JSON-RPC request sent as the body */
#define SMALL_DATA_BYTES 262144u     /* record data read whole (one UnixFS leaf) before processing */
#define FEED_CHUNK_BYTES 262144u     /* one UnixFS leaf */
#define PATH_PARAM_BYTES_MAX 8192    /* a decoded DID, record id or protocol path */
#define WS_SUBSCRIPTIONS_MAX 1024    /* per socket */

struct dwn_http {
  dwn_t *dwn;
  uint64_t max_data_bytes;
};

int dwn_http_new(const dwn_http_opts_t *opts, dwn_http_t **out) {
  *out = NULL;
  if (!opts || !opts->dwn) return err_set(-EINVAL, "dwn_http: no DWN engine");
  dwn_http_t *h = calloc(1, sizeof *h);
  if (!h) return -ENOMEM;
  h->dwn = opts->dwn;
  h->max_data_bytes = opts->max_data_bytes ? opts->max_data_bytes : UINT64_MAX;
  *out = h;
  return 0;
}

void dwn_http_free(dwn_http_t *h) { free(h); }

/* ---- responses -------------------------------------------------------------------- */

static void cors(http_req_t *req) {
  http_resp_header(req, "Access-Control-Allow-Origin", "*");
  http_resp_header(req, "Access-Control-Expose-Headers", "dwn-response");
}

/* A JSON document (stolen) as the whole response; NULL answers 500. */
static void respond_json(http_req_t *req, int status, json_t *doc) {
  char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  json_decref(doc);
  if (!text) {
    http_respond_error(req, 500, "out of memory");
    return;
  }
  http_respond(req, status, "application/json; charset=utf-8", text, strlen(text));
  free(text);
}

static void respond_rpc_error(http_req_t *req, int status, const json_t *id, int code, const char *message) {
  respond_json(req, status, dwn_rpc_error(id, code, message));
}

/* Express's sendStatus: the reason phrase as text/plain. */
static void respond_status(http_req_t *req, int status) {
  static const struct { int status; const char *text; } phrases[] = {
      {400, "Bad Request"}, {401, "Unauthorized"}, {404, "Not Found"}, {409, "Conflict"},
      {500, "Internal Server Error"}, {501, "Not Implemented"}};
  char line[64];
  snprintf(line, sizeof line, "%d", status);
  for (size_t i = 0; i < sizeof phrases / sizeof phrases[0]; i++)
    if (phrases[i].status == status) snprintf(line, sizeof line, "%s", phrases[i].text);
  http_respond(req, status, "text/plain; charset=utf-8", line, strlen(line));
}

static int data_sink(void *ctx, const void *data, size_t len) { return http_resp_write(ctx, data, len); }

/* 200 with the reply's data as the body and `header_json` in dwn-response. */
static void respond_data(dwn_http_t *h, http_req_t *req, const char *content_type, const json_t *header_json,
                         const dwn_reply_t *reply) {
  char *header = json_dumps(header_json, JSON_COMPACT | JSON_ENSURE_ASCII);
  if (!header) {
    http_respond_error(req, 500, "out of memory");
    return;
  }
  http_resp_header(req, "Content-Type", content_type && *content_type ? content_type : "application/octet-stream");
  http_resp_header(req, "dwn-response", header);
  free(header);
  int rc = http_resp_start(req, 200, (int64_t)reply->data_size);
  if (!rc) rc = dwn_reply_data_write(h->dwn, reply, data_sink, req);
  if (rc && rc != -ECONNRESET)
    log_kv(LOG_LEVEL_WARN, "dwn", ((log_kv_t[]){LOG_STR("error", err_msg(rc))}), "record data could not be sent whole");
  http_resp_end(req);
}

/* ---- record data into the engine ------------------------------------------------------ */

static int send_all(int fd, const void *data, size_t len) {
  const uint8_t *p = data;
  while (len) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    p += n, len -= (size_t)n;
  }
  return 0;
}

typedef struct process_job {
  dwn_http_t *h;
  const char *tenant;
  const json_t *message;
  int fd;
  dwn_reply_t *reply;
  int rc;
} process_job_t;

static void *process_main(void *arg) {
  process_job_t *j = arg;
  err_clear();
  j->rc = dwn_process(j->h->dwn, j->tenant, j->message, j->fd, j->reply);
  char *msg = j->rc ? strdup(err_msg(j->rc)) : NULL;
  close(j->fd); /* the feeder sees EPIPE if the engine stopped reading early */
  j->fd = -1;
  return msg;
}

/* The result of feeding the body: why it stopped early, if it did. */
typedef enum feed_end { FEED_OK, FEED_TOO_LARGE, FEED_FAILED } feed_end_t;

static int write_all_fd(int fd, const void *data, size_t len) {
  const uint8_t *p = data;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return err_set(-errno, "record data: %s", strerror(errno));
    p += n, len -= (size_t)n;
  }
  return 0;
}

/* Runs dwn_process with the request body as the data stream: a body known to
 * be small (Content-Length at most SMALL_DATA_BYTES) is read into an
 * anonymous memory file first, which the engine's importer then hashes on
 * this thread (a regular file of known small size needs no reader thread); a
 * larger one flows through a socket pair from this thread (the only one that
 * reads the request) to a thread running the engine, HTTP_QUEUE_BYTES and the
 * socket buffer at a time.  rc: the engine's; *end: whether the body ended
 * early (413 or a failed read). */
static int process_with_body(dwn_http_t *h, http_req_t *req, const char *tenant, const json_t *message,
                             dwn_reply_t *reply, feed_end_t *end, char **error_text) {
  *end = FEED_OK;
  *error_text = NULL;
  int64_t length = http_req_content_length(req);
  int rc = 0;
  if (length >= 0 && (uint64_t)length <= SMALL_DATA_BYTES) {
    int fd = memfd_create("dwn-data", MFD_CLOEXEC);
    if (fd < 0) return err_set(-errno, "memfd_create: %s", strerror(errno));
    uint8_t chunk[16384];
    size_t got = 0;
    while (!rc && got < (size_t)length) {
      size_t want = (size_t)length - got < sizeof chunk ? (size_t)length - got : sizeof chunk;
      ssize_t n = http_req_read(req, chunk, want);
      if (n < 0) *end = n == -EFBIG ? FEED_TOO_LARGE : FEED_FAILED, rc = (int)n;
      else if (n == 0) *end = FEED_FAILED, rc = -ECONNRESET;
      else rc = write_all_fd(fd, chunk, (size_t)n), got += (size_t)n;
    }
    if (!rc && lseek(fd, 0, SEEK_SET) != 0) rc = err_set(-errno, "memfd: %s", strerror(errno));
    if (!rc) rc = dwn_process(h->dwn, tenant, message, fd, reply);
    if (rc && *end == FEED_OK) *error_text = strdup(err_msg(rc));
    close(fd);
    return rc;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return err_set(-errno, "socketpair: %s", strerror(errno));
  process_job_t job = {.h = h, .tenant = tenant, .message = message, .fd = sv[0], .reply = reply};
  pthread_t thread;
  if (pthread_create(&thread, NULL, process_main, &job) != 0) {
    close(sv[0]);
    close(sv[1]);
    return err_set(-EAGAIN, "cannot start a thread for the record data");
  }
  uint8_t *chunk = malloc(FEED_CHUNK_BYTES);
  bool feeding = chunk != NULL;
  if (!chunk) *end = FEED_FAILED; /* the engine sees no data: nothing stored */
  while (feeding) {
    ssize_t n = http_req_read(req, chunk, FEED_CHUNK_BYTES);
    if (n == 0) break;
    if (n < 0) {
      *end = n == -EFBIG ? FEED_TOO_LARGE : FEED_FAILED;
      break;
    }
    if (send_all(sv[1], chunk, (size_t)n) != 0) feeding = false; /* the engine stopped reading */
  }
  free(chunk);
  /* A body cut short must not look complete: the engine sees the stream end
   * early, so the data's CID or size cannot match and nothing is stored. */
  close(sv[1]);
  void *msg = NULL;
  pthread_join(thread, &msg);
  *error_text = msg;
  rc = job.rc;
  return rc;
}

/* Why process_with_encoded did not run the engine. */
typedef enum encoded_problem { ENCODED_OK, ENCODED_TOO_LARGE, ENCODED_NOT_BASE64URL } encoded_problem_t;

/* Record data from base64url text (params.encodedData, our extension). */
static int process_with_encoded(dwn_http_t *h, const char *tenant, const json_t *message, const char *encoded,
                                dwn_reply_t *reply, encoded_problem_t *problem, char **error_text) {
  *problem = ENCODED_OK;
  *error_text = NULL;
  size_t len = strlen(encoded);
  if ((uint64_t)len / 4 * 3 > h->max_data_bytes + 2) {
    *problem = ENCODED_TOO_LARGE;
    return 0;
  }
  buf_t bytes = {0};
  int rc = mbase_decode(MBASE_BASE64URL, encoded, len, &bytes);
  if (rc) {
    *error_text = strdup(err_msg(rc));
    *problem = ENCODED_NOT_BASE64URL;
    return 0;
  }
  if (bytes.len > h->max_data_bytes) {
    buf_free(&bytes);
    *problem = ENCODED_TOO_LARGE;
    return 0;
  }
  int fd = memfd_create("dwn-data", MFD_CLOEXEC);
  if (fd < 0) rc = err_set(-errno, "memfd_create: %s", strerror(errno));
  if (!rc) rc = write_all_fd(fd, bytes.data, bytes.len);
  buf_free(&bytes);
  if (!rc && lseek(fd, 0, SEEK_SET) != 0) rc = err_set(-errno, "memfd: %s", strerror(errno));
  if (!rc) rc = dwn_process(h->dwn, tenant, message, fd, reply);
  if (rc) *error_text = strdup(err_msg(rc));
  if (fd >= 0) close(fd);
  return rc;
}

/* ---- POST / ---------------------------------------------------------------------------- */

static bool is_json_type(const char *ct) {
  if (!ct) return false;
  while (*ct == ' ') ct++;
  return strncasecmp(ct, "application/json", 16) == 0 && (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ');
}

static const char *descriptor_str(const json_t *message, const char *key) {
  return json_string_value(json_object_get(json_object_get(message, "descriptor"), key));
}

static bool is_records_write(const json_t *message) {
  const char *i = descriptor_str(message, "interface"), *m = descriptor_str(message, "method");
  return i && m && strcmp(i, "Records") == 0 && strcmp(m, "Write") == 0;
}

static bool is_subscribe(const json_t *message) {
  const char *m = descriptor_str(message, "method");
  return m && strcmp(m, "Subscribe") == 0;
}

static char too_large_text[] = "record data is larger than the maximum";

static void too_large(http_req_t *req, dwn_http_t *h, const json_t *id) {
  char text[160];
  snprintf(text, sizeof text, "%s (dwn.max_record_data_size = %llu bytes)", too_large_text,
           (unsigned long long)h->max_data_bytes);
  respond_rpc_error(req, 413, id, DWN_RPC_TOO_LARGE, text);
}

static void post_rpc(dwn_http_t *h, http_req_t *req) {
  const char *header = http_req_header(req, "dwn-request");
  bool body_is_request = false;
  dwn_rpc_req_t rpc;
  int rc;
  if (header) {
    rc = dwn_rpc_parse(header, strlen(header), &rpc);
  } else if (is_json_type(http_req_header(req, "content-type")) && http_req_has_body(req)) {
    /* beyond dwn-server: the request as the body */
    body_is_request = true;
    int64_t length = http_req_content_length(req);
    if (length > (int64_t)BODY_REQUEST_BYTES_MAX) {
      json_t *id = dwn_rpc_uuid();
      respond_rpc_error(req, 413, id, DWN_RPC_TOO_LARGE, "the JSON-RPC request body is larger than 16 MiB");
      json_decref(id);
      return;
    }
    http_req_set_body_max(req, BODY_REQUEST_BYTES_MAX);
    buf_t body = {0};
    uint8_t chunk[65536];
    ssize_t n;
    rc = 0;
    while (!rc && (n = http_req_read(req, chunk, sizeof chunk)) != 0) {
      if (n < 0) rc = (int)n;
      else rc = buf_append(&body, chunk, (size_t)n);
    }
    if (rc == -EFBIG) {
      buf_free(&body);
      json_t *id = dwn_rpc_uuid();
      respond_rpc_error(req, 413, id, DWN_RPC_TOO_LARGE, "the JSON-RPC request body is larger than 16 MiB");
      json_decref(id);
      return;
    }
    if (rc) {
      buf_free(&body);
      http_respond_error(req, 400, "the request body could not be read: %s", strerror(-rc));
      return;
    }
    rc = dwn_rpc_parse((const char *)body.data, body.len, &rpc);
    buf_free(&body);
  } else {
    json_t *id = dwn_rpc_uuid();
    respond_rpc_error(req, 400, id, DWN_RPC_BAD_REQUEST, "request payload required.");
    json_decref(id);
    return;
  }
  if (rc) {
    respond_rpc_error(req, 400, rpc.id, DWN_RPC_BAD_REQUEST, rc == -ENOMEM ? "out of memory" : err_msg(rc));
    dwn_rpc_release(&rpc);
    return;
  }
  const char *method = rpc.method;
  if (strcmp(method, "rpc.subscribe.close") == 0) {
    respond_rpc_error(req, 500, rpc.id, DWN_RPC_INVALID_REQUEST, "socket connection does not exist");
  } else if (strcmp(method, "dwn.processMessage") != 0 && strcmp(method, "rpc.subscribe.dwn.processMessage") != 0) {
    char text[256];
    snprintf(text, sizeof text, "method %.200s is not supported", method);
    respond_rpc_error(req, 500, rpc.id, DWN_RPC_METHOD_NOT_FOUND, text);
  } else if (!rpc.target || !rpc.message) {
    respond_rpc_error(req, 500, rpc.id, DWN_RPC_INVALID_PARAMS, "params.target (a DID) and params.message are required");
  } else if (is_subscribe(rpc.message)) {
    respond_rpc_error(req, 500, rpc.id, DWN_RPC_INVALID_REQUEST, "subscribe methods must contain a subscriptionRequest context");
  } else {
    dwn_reply_t reply = {0};
    char *error_text = NULL;
    feed_end_t end = FEED_OK;
    encoded_problem_t problem = ENCODED_OK;
    if (!body_is_request && http_req_has_body(req)) {
      int64_t length = http_req_content_length(req);
      if (length >= 0 && (uint64_t)length > h->max_data_bytes) {
        too_large(req, h, rpc.id);
        dwn_rpc_release(&rpc);
        return;
      }
      http_req_set_body_max(req, h->max_data_bytes);
      rc = process_with_body(h, req, rpc.target, rpc.message, &reply, &end, &error_text);
    } else if (body_is_request && rpc.encoded_data && is_records_write(rpc.message)) {
      rc = process_with_encoded(h, rpc.target, rpc.message, rpc.encoded_data, &reply, &problem, &error_text);
    } else {
      rc = dwn_process(h->dwn, rpc.target, rpc.message, -1, &reply);
      if (rc) error_text = strdup(err_msg(rc));
    }
    if (end == FEED_TOO_LARGE || problem == ENCODED_TOO_LARGE) {
      too_large(req, h, rpc.id);
    } else if (end == FEED_FAILED) {
      /* the client went away or stalled: nothing was stored (see process_with_body) */
      http_respond_error(req, 400, "the request body ended early");
    } else if (problem == ENCODED_NOT_BASE64URL) {
      char text[300];
      snprintf(text, sizeof text, "params.encodedData is not base64url: %.200s", error_text ? error_text : "");
      respond_rpc_error(req, 400, rpc.id, DWN_RPC_BAD_REQUEST, text);
    } else if (rc) {
      respond_rpc_error(req, 500, rpc.id, DWN_RPC_INTERNAL_ERROR, error_text ? error_text : "internal error");
    } else {
      json_t *response = dwn_rpc_result(rpc.id, json_pack("{s:O}", "reply", reply.body));
      if (response && reply.has_data) respond_data(h, req, "application/octet-stream", response, &reply);
      else respond_json(req, 200, json_incref(response));
      json_decref(response);
    }
    free(error_text);
    if (reply.body) dwn_reply_release(&reply);
  }
  dwn_rpc_release(&rpc);
}

/* ---- GET: the convenience reads --------------------------------------------------------------- */

/* The decoded path segments of path ("/a/b%3Ac/" -> "a", "b:c", ""). */
#define SEGMENTS_MAX 16
typedef struct segments {
  char *seg[SEGMENTS_MAX];
  size_t n;
  const char *raw[SEGMENTS_MAX]; /* where each starts in the raw path */
} segments_t;

static void segments_free(segments_t *s) {
  for (size_t i = 0; i < s->n; i++) free(s->seg[i]);
  s->n = 0;
}

static int split_path(const char *path, segments_t *s) {
  memset(s, 0, sizeof *s);
  if (*path != '/') return -EINVAL;
  for (const char *p = path + 1;;) {
    const char *slash = strchr(p, '/');
    size_t len = slash ? (size_t)(slash - p) : strlen(p);
    if (s->n == SEGMENTS_MAX) return -E2BIG;
    if (len >= PATH_PARAM_BYTES_MAX) return -E2BIG;
    char *out = malloc(len + 1);
    if (!out) return -ENOMEM;
    int rc = http_decode(p, len, false, out, len + 1);
    if (rc) {
      free(out);
      return rc;
    }
    s->raw[s->n] = p;
    s->seg[s->n++] = out;
    if (!slash) return 0;
    p = slash + 1;
  }
}

/* An unsigned message built by the server (the convenience reads), processed. */
static int process_built(dwn_http_t *h, http_req_t *req, int build_rc, json_t *message, const char *tenant,
                         dwn_reply_t *reply) {
  if (build_rc) {
    http_respond_error(req, 400, "%s", err_msg(build_rc));
    return build_rc;
  }
  int rc = dwn_process(h->dwn, tenant, message, -1, reply);
  json_decref(message);
  if (rc) http_respond_error(req, 500, "%s", err_msg(rc));
  return rc;
}

/* dwn-server's readReplyHandler. */
static void respond_read_reply(dwn_http_t *h, http_req_t *req, const dwn_reply_t *reply) {
  if (reply->code == 200) {
    if (reply->has_data) {
      const json_t *write = json_object_get(json_object_get(reply->body, "entry"), "recordsWrite");
      const char *format = json_string_value(json_object_get(json_object_get(write, "descriptor"), "dataFormat"));
      respond_data(h, req, format, reply->body, reply);
    } else {
      respond_status(req, 400);
    }
  } else if (reply->code == 401) {
    respond_status(req, 404);
  } else {
    respond_json(req, reply->code, json_incref(reply->body));
  }
}

static void read_record(dwn_http_t *h, http_req_t *req, const char *did, const char *record_id) {
  json_t *filter = json_pack("{s:s}", "recordId", record_id), *message = NULL;
  int rc = filter ? dwn_build_records_read(filter, NULL, NULL, &message) : -ENOMEM;
  json_decref(filter);
  dwn_reply_t reply = {0};
  if (process_built(h, req, rc, message, did, &reply) == 0) {
    respond_read_reply(h, req, &reply);
    dwn_reply_release(&reply);
  }
}

static int decode_protocol(const char *b64u, char *out, size_t cap) {
  buf_t bytes = {0};
  int rc = mbase_decode(MBASE_BASE64URL, b64u, strlen(b64u), &bytes);
  if (!rc && (bytes.len >= cap || memchr(bytes.data, 0, bytes.len))) rc = err_set(-EINVAL, "the protocol is too long");
  if (!rc) memcpy(out, bytes.data, bytes.len), out[bytes.len] = '\0';
  buf_free(&bytes);
  return rc;
}

/* GET /:did/read/protocols/:b64uProtocol/<protocolPath...>: the latest
 * published record at that path. */
static void read_protocol_path(dwn_http_t *h, http_req_t *req, const char *did, const char *b64u, const char *raw_rest) {
  char protocol[PATH_PARAM_BYTES_MAX], path[PATH_PARAM_BYTES_MAX];
  int rc = http_decode(raw_rest, strlen(raw_rest), false, path, sizeof path);
  size_t plen = rc ? 0 : strlen(path);
  /* the leading and trailing '/' of the rest, as dwn-server strips them (once) */
  char *p = path;
  if (!rc && path[0] == '/') p++;
  else if (!rc && plen && path[plen - 1] == '/') path[--plen] = '\0';
  if (!rc && !*p) {
    http_respond(req, 400, "text/html; charset=utf-8", "protocol path is required", 25);
    return;
  }
  if (!rc) rc = decode_protocol(b64u, protocol, sizeof protocol);
  json_t *options = NULL;
  if (!rc) rc = dwn_rpc_query_options(http_req_query(req), &options);
  if (rc) {
    json_decref(options);
    respond_status(req, 400);
    return;
  }
  json_t *filter = json_object_get(options, "filter");
  if (!json_is_object(filter)) {
    filter = json_object();
    json_object_set_new(options, "filter", filter);
  }
  json_object_set_new(filter, "protocol", json_string(protocol));
  json_object_set_new(filter, "protocolPath", json_string(p));
  json_t *pagination = json_pack("{s:i}", "limit", 1), *message = NULL;
  rc = dwn_build_records_query(filter, "publishedDescending", pagination, NULL, NULL, &message);
  json_decref(pagination);
  json_decref(options);
  if (rc) {
    respond_status(req, 400);
    return;
  }
  dwn_reply_t reply = {0};
  if (process_built(h, req, 0, message, did, &reply) != 0) return;
  if (reply.code == 200) {
    const char *record_id = json_string_value(json_object_get(json_array_get(json_object_get(reply.body, "entries"), 0), "recordId"));
    if (record_id) {
      char *id = strdup(record_id);
      dwn_reply_release(&reply);
      if (id) read_record(h, req, did, id);
      else http_respond_error(req, 500, "out of memory");
      free(id);
      return;
    }
    respond_status(req, 404);
  } else {
    respond_status(req, reply.code == 401 ? 404 : reply.code);
  }
  dwn_reply_release(&reply);
}

/* ProtocolsQuery, unsigned: filter NULL for every published definition. */
static void query_protocols(dwn_http_t *h, http_req_t *req, const char *did, const char *protocol) {
  json_t *filter = protocol ? json_pack("{s:s}", "protocol", protocol) : NULL, *message = NULL;
  int rc = protocol && !filter ? -ENOMEM : dwn_build_protocols_query(filter, NULL, NULL, &message);
  json_decref(filter);
  if (rc) {
    respond_status(req, 400);
    return;
  }
  dwn_reply_t reply = {0};
  if (process_built(h, req, 0, message, did, &reply) != 0) return;
  const json_t *entries = json_object_get(reply.body, "entries");
  if (reply.code == 200 && protocol) {
    if (json_array_size(entries)) respond_json(req, 200, json_incref(json_array_get(entries, 0)));
    else respond_status(req, 404);
  } else if (reply.code == 200) {
    respond_json(req, 200, entries ? json_incref((json_t *)entries) : json_array());
  } else {
    respond_status(req, reply.code == 401 ? 404 : reply.code);
  }
  dwn_reply_release(&reply);
}

/* GET /:did/query?filter.x=..: RecordsQuery, the reply as JSON. */
static void query_records(dwn_http_t *h, http_req_t *req, const char *did) {
  json_t *options = NULL, *message = NULL;
  int rc = dwn_rpc_query_options(http_req_query(req), &options);
  if (!rc) {
    json_t *date_sort = json_object_get(options, "dateSort");
    if (date_sort && !json_is_string(date_sort)) rc = err_set(-EINVAL, "dateSort must be one value");
    if (!rc)
      rc = dwn_build_records_query(json_object_get(options, "filter"), json_string_value(date_sort),
                                   json_object_get(options, "pagination"), NULL, NULL, &message);
  }
  json_decref(options);
  if (rc) {
    http_respond_error(req, 400, "%s", err_msg(rc));
    return;
  }
  dwn_reply_t reply = {0};
  if (process_built(h, req, 0, message, did, &reply) != 0) return;
  respond_json(req, 200, json_incref(reply.body));
  dwn_reply_release(&reply);
}

static void info(dwn_http_t *h, http_req_t *req) {
  const char *host = http_req_header(req, "host");
  char url[300];
  snprintf(url, sizeof url, "http://%.280s", host ? host : "localhost:3000");
  json_t *doc = json_pack("{s:s,s:s,s:I,s:[],s:s,s:s,s:b}", "url", url, "server", "anya", "maxFileSize",
                          (json_int_t)(h->max_data_bytes > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)h->max_data_bytes),
                          "registrationRequirements", "version", ANYA_VERSION, "sdkVersion", SDK_VERSION,
                          "webSocketSupport", 1);
  respond_json(req, 200, doc);
}

static void get(dwn_http_t *h, http_req_t *req) {
  const char *path = http_req_path(req);
  if (strcmp(path, "/") == 0) {
    static const char hint[] = "please use a web5 client, for example: https://github.com/TBD54566975/web5-js ";
    http_respond(req, 200, "text/plain; charset=utf-8", hint, sizeof hint - 1);
    return;
  }
  /* Express's routing: literal segments match in any case, one trailing '/' is optional */
  if (strcasecmp(path, "/info") == 0 || strcasecmp(path, "/info/") == 0) {
    info(h, req);
    return;
  }
  segments_t s;
  int rc = split_path(path, &s);
  if (rc) {
    segments_free(&s);
    http_respond_error(req, 400, "the path is not valid: %s", strerror(-rc));
    return;
  }
  char **g = s.seg;
  size_t n = s.n;
#define IS(i, word) (strcasecmp(g[i], word) == 0)
  bool protocol_path = n >= 5 && IS(1, "read") && IS(2, "protocols"); /* its '*' takes the rest, '/' included */
  if (!protocol_path && n > 1 && !*g[n - 1]) n--;
  bool did = n >= 2 && *g[0];
  if (did && n == 3 && IS(1, "records") && *g[2]) {
    read_record(h, req, g[0], g[2]);
  } else if (did && n == 4 && IS(1, "read") && IS(2, "records") && *g[3]) {
    read_record(h, req, g[0], g[3]);
  } else if (did && n == 4 && IS(1, "read") && IS(2, "protocols") && *g[3]) {
    char protocol[PATH_PARAM_BYTES_MAX];
    if (decode_protocol(g[3], protocol, sizeof protocol) != 0) respond_status(req, 400);
    else query_protocols(h, req, g[0], protocol);
  } else if (did && protocol_path && *g[3]) {
    read_protocol_path(h, req, g[0], g[3], s.raw[4]);
  } else if (did && n == 3 && IS(1, "query") && IS(2, "protocols")) {
    query_protocols(h, req, g[0], NULL);
  } else if (did && n == 2 && IS(1, "query")) {
    query_records(h, req, g[0]);
  } else {
    http_respond_error(req, 404, "no such DWN route: GET %.200s", path);
  }
#undef IS
  segments_free(&s);
}

/* ---- WebSocket ----------------------------------------------------------------------------- */

/* One live subscription of a socket: the engine calls on_event with it. */
typedef struct ws_sub {
  http_ws_t *ws;         /* a reference held while subscribed */
  json_t *rpc_id;        /* the JSON-RPC subscription id events carry */
  char *rpc_key;         /* its canonical text, for lookups */
  char *tenant;
  char *sub_id;          /* the engine's subscription id (the subscribe message's CID) */
} ws_sub_t;

typedef struct ws_conn {
  dwn_http_t *h;
  http_ws_t *ws;                        /* set by on_message */
  ws_sub_t *subs[WS_SUBSCRIPTIONS_MAX]; /* touched only by on_message / on_close: one at a time */
  size_t subs_len;
} ws_conn_t;

static void ws_send_json(http_ws_t *ws, json_t *doc) {
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  if (text) http_ws_send(ws, true, text, strlen(text));
  free(text);
}

/* On the writer's thread: queue the event, nothing else. */
static void on_event(void *ctx, const char *subscription_id, const json_t *event) {
  (void)subscription_id;
  ws_sub_t *s = ctx;
  ws_send_json(s->ws, dwn_rpc_result(s->rpc_id, json_pack("{s:O}", "event", (json_t *)event)));
}

static void sub_free(dwn_http_t *h, ws_sub_t *s) {
  /* only this socket's registration (another may hold the same message);
   * no event is in flight for it after the call */
  if (h && s->tenant && s->sub_id) dwn_unsubscribe_subscriber(h->dwn, s->tenant, s->sub_id, s);
  if (s->ws) http_ws_unref(s->ws);
  json_decref(s->rpc_id);
  free(s->rpc_key);
  free(s->tenant);
  free(s->sub_id);
  free(s);
}

static char *id_key(const json_t *id) { return json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY); }

/* An id as JS's template strings print it (dwn-server's messages): a string
 * bare, anything else as JSON. */
static void id_text(const json_t *id, char *out, size_t cap) {
  if (json_is_string(id)) {
    snprintf(out, cap, "%.200s", json_string_value(id));
    return;
  }
  char *key = id_key(id);
  snprintf(out, cap, "%.200s", key ? key : "?");
  free(key);
}

static ssize_t find_sub(ws_conn_t *c, const json_t *id) {
  char *key = id_key(id);
  ssize_t at = -1;
  for (size_t i = 0; key && i < c->subs_len; i++)
    if (strcmp(c->subs[i]->rpc_key, key) == 0) at = (ssize_t)i;
  free(key);
  return at;
}

static void ws_process(ws_conn_t *c, dwn_rpc_req_t *rpc) {
  dwn_http_t *h = c->h;
  bool subscribe_method = strcmp(rpc->method, "rpc.subscribe.dwn.processMessage") == 0;
  if (!rpc->target || !rpc->message) {
    ws_send_json(c->ws, dwn_rpc_error(rpc->id, DWN_RPC_INVALID_PARAMS, "params.target (a DID) and params.message are required"));
    return;
  }
  /* a subscription request: rpc.subscribe.* with a subscription object and a Subscribe message */
  bool subscription = subscribe_method && rpc->has_subscription && is_subscribe(rpc->message);
  if (is_subscribe(rpc->message) && !subscription) {
    ws_send_json(c->ws, dwn_rpc_error(rpc->id, DWN_RPC_INVALID_REQUEST, "subscribe methods must contain a subscriptionRequest context"));
    return;
  }
  if (subscription && find_sub(c, rpc->subscription_id) >= 0) {
    char id[204], text[300];
    id_text(rpc->subscription_id, id, sizeof id);
    snprintf(text, sizeof text, "the subscribe id: %s is in use by an active subscription", id);
    ws_send_json(c->ws, dwn_rpc_error(rpc->id, DWN_RPC_INVALID_PARAMS, text));
    return;
  }
  if (subscription && c->subs_len == WS_SUBSCRIPTIONS_MAX) {
    ws_send_json(c->ws, dwn_rpc_error(rpc->id, DWN_RPC_INVALID_PARAMS, "too many subscriptions on this socket"));
    return;
  }
  dwn_reply_t reply = {0};
  char *error_text = NULL;
  int rc;
  encoded_problem_t problem = ENCODED_OK;
  if (is_records_write(rpc->message) && rpc->encoded_data) {
    rc = process_with_encoded(h, rpc->target, rpc->message, rpc->encoded_data, &reply, &problem, &error_text);
  } else if (subscription) {
    ws_sub_t *s = calloc(1, sizeof *s);
    if (s) {
      s->ws = c->ws;
      http_ws_ref(c->ws);
      s->rpc_id = json_incref(rpc->subscription_id);
      s->rpc_key = id_key(rpc->subscription_id);
      s->tenant = strdup(rpc->target);
    }
    if (!s || !s->rpc_key || !s->tenant) {
      if (s) sub_free(NULL, s);
      rc = -ENOMEM;
      error_text = strdup("out of memory");
    } else {
      dwn_subscriber_t subscriber = {on_event, s};
      rc = dwn_process_subscribe(h->dwn, rpc->target, rpc->message, -1, &subscriber, &reply);
      const char *sub_id = rc ? NULL : json_string_value(json_object_get(json_object_get(reply.body, "subscription"), "id"));
      if (rc) error_text = strdup(err_msg(rc));
      if (sub_id && reply.code == 200 && (s->sub_id = strdup(sub_id))) {
        c->subs[c->subs_len++] = s;
      } else {
        if (sub_id && reply.code == 200) dwn_unsubscribe_subscriber(h->dwn, rpc->target, sub_id, s);
        sub_free(NULL, s);
      }
    }
  } else {
    rc = dwn_process(h->dwn, rpc->target, rpc->message, -1, &reply);
    if (rc) error_text = strdup(err_msg(rc));
  }
  if (problem == ENCODED_TOO_LARGE) {
    char text[160];
    snprintf(text, sizeof text, "%s (dwn.max_record_data_size = %llu bytes)", too_large_text, (unsigned long long)h->max_data_bytes);
    ws_send_json(c->ws, dwn_rpc_error(rpc->id, DWN_RPC_TOO_LARGE, text));
  } else if (problem == ENCODED_NOT_BASE64URL) {
    ws_send_json(c->ws, dwn_rpc_error(rpc->id, DWN_RPC_INVALID_PARAMS, "params.encodedData is not base64url"));
  } else if (rc) {
    ws_send_json(c->ws, dwn_rpc_error(rpc->id, DWN_RPC_INTERNAL_ERROR, error_text ? error_text : "internal error"));
  } else {
    /* A read's record data is not sent over a socket (as dwn-server: the
     * reply without entry.data); HTTP carries it. */
    ws_send_json(c->ws, dwn_rpc_result(rpc->id, json_pack("{s:O}", "reply", reply.body)));
  }
  free(error_text);
  if (reply.body) dwn_reply_release(&reply);
}

static void ws_close_sub(ws_conn_t *c, dwn_rpc_req_t *rpc) {
  if (!rpc->has_subscription) {
    ws_send_json(c->ws, dwn_rpc_error(rpc->id, DWN_RPC_INVALID_REQUEST, "subscribe options do not exist"));
    return;
  }
  ssize_t at = find_sub(c, rpc->subscription_id);
  if (at < 0) {
    char id[204], text[300];
    id_text(rpc->subscription_id, id, sizeof id);
    snprintf(text, sizeof text, "subscription %s does not exist.", id);
    ws_send_json(c->ws, dwn_rpc_error(rpc->id, DWN_RPC_INVALID_PARAMS, text));
    return;
  }
  sub_free(c->h, c->subs[at]);
  c->subs[at] = c->subs[--c->subs_len];
  ws_send_json(c->ws, dwn_rpc_result(rpc->id, json_pack("{s:{s:i,s:s}}", "reply", "status", 200, "detail", "Accepted")));
}

static void ws_on_message(http_ws_t *ws, bool text, const uint8_t *data, size_t len, void *ctx) {
  (void)text;
  ws_conn_t *c = ctx;
  c->ws = ws; /* (not from http_ws_accept's out: a message may come before it returns) */
  if (len == 0) {
    ws_send_json(ws, dwn_rpc_error(NULL, DWN_RPC_BAD_REQUEST, "request payload required."));
    return;
  }
  dwn_rpc_req_t rpc;
  int rc = dwn_rpc_parse((const char *)data, len, &rpc);
  if (rc) {
    ws_send_json(ws, dwn_rpc_error(rpc.id, DWN_RPC_BAD_REQUEST, rc == -ENOMEM ? "out of memory" : err_msg(rc)));
  } else if (strcmp(rpc.method, "dwn.processMessage") == 0 || strcmp(rpc.method, "rpc.subscribe.dwn.processMessage") == 0) {
    ws_process(c, &rpc);
  } else if (strcmp(rpc.method, "rpc.subscribe.close") == 0) {
    ws_close_sub(c, &rpc);
  } else {
    char text_buf[256];
    snprintf(text_buf, sizeof text_buf, "method %.200s is not supported", rpc.method);
    ws_send_json(ws, dwn_rpc_error(rpc.id, DWN_RPC_METHOD_NOT_FOUND, text_buf));
  }
  dwn_rpc_release(&rpc);
}

static void ws_on_close(http_ws_t *ws, void *ctx) {
  (void)ws;
  ws_conn_t *c = ctx;
  for (size_t i = 0; i < c->subs_len; i++) sub_free(c->h, c->subs[i]);
  free(c);
}

static const http_ws_ops_t ws_ops = {.on_message = ws_on_message, .on_close = ws_on_close};

static void ws_accept(dwn_http_t *h, http_req_t *req) {
  ws_conn_t *c = calloc(1, sizeof *c);
  if (!c) {
    http_respond_error(req, 503, "out of memory");
    return;
  }
  c->h = h;
  http_ws_t *ws = NULL; /* c->ws is set by on_message, which may run before this returns */
  if (http_ws_accept(req, &ws_ops, c, &ws) != 0) free(c);
}

/* ---- the handler ------------------------------------------------------------------------------ */

void dwn_http_handle(http_req_t *req, void *ctx) {
  dwn_http_t *h = ctx;
  if (http_req_is_websocket(req)) {
    ws_accept(h, req);
    return;
  }
  const char *method = http_req_method(req);
  cors(req);
  if (strcmp(method, "OPTIONS") == 0) {
    /* the cors package's preflight: 204, the methods, the asked-for headers reflected */
    const char *asked = http_req_header(req, "access-control-request-headers");
    http_resp_header(req, "Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE");
    if (asked) http_resp_header(req, "Access-Control-Allow-Headers", asked);
    http_resp_header(req, "Vary", "Access-Control-Request-Headers");
    http_respond(req, 204, NULL, NULL, 0);
  } else if (strcmp(method, "POST") == 0 && strcmp(http_req_path(req), "/") == 0) {
    post_rpc(h, req);
  } else if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
    get(h, req);
  } else {
    http_respond_error(req, 404, "no such DWN route: %.20s %.200s", method, http_req_path(req));
  }
}
