/* dwn/build: signed DWN message builders (see build.h). */
#include "dwn/build.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "dwn/ids.h"
#include "dwn/jws.h"
#include "dwn/timestamp.h"
#include "dwn/url.h"

void dwn_build_write_init(dwn_build_write_t *w) {
  assert(w != NULL);
  memset(w, 0, sizeof *w);
  w->data_fd = -1;
}

/* ---- small helpers --------------------------------------------------------- */

/* obj[key] = string s (when s != NULL).  0 or -ENOMEM. */
static int set_str(json_t *obj, const char *key, const char *s) {
  if (s == NULL) return 0;
  json_t *v = json_string(s);
  if (v == NULL || json_object_set_new(obj, key, v) != 0)
    return err_set(-ENOMEM, "building a DWN message: out of memory (or %s is not UTF-8)", key);
  return 0;
}

static int set_new(json_t *obj, const char *key, json_t *v) {
  if (v == NULL || json_object_set_new(obj, key, v) != 0)
    return err_set(-ENOMEM, "building a DWN message: out of memory");
  return 0;
}

static int check_time(const char *what, const char *t) {
  if (t != NULL && !dwn_time_is_wellformed(t, strlen(t)))
    return err_set(-EINVAL, "%s \"%s\" is not a DWN timestamp", what, t);
  return 0;
}

/* The option's timestamp, or now (into buf). */
static int time_or_now(const char *what, const char *t, char buf[DWN_TIME_TEXT_BYTES],
                       const char **out) {
  if (t != NULL) {
    int rc = check_time(what, t);
    if (rc < 0) return rc;
    *out = t;
    return 0;
  }
  int rc = dwn_time_now(buf);
  if (rc < 0) return err_set(rc, "the clock is outside the DWN timestamp range");
  *out = buf;
  return 0;
}

/* Normalised URL into a fresh string member obj[key]. */
static int set_url(json_t *obj, const char *key, const char *url) {
  if (url == NULL) return 0;
  size_t len = strlen(url);
  if (len > DWN_URL_BYTES_MAX) return err_set(-E2BIG, "%s URL of %zu bytes is too long", key, len);
  size_t cap = 3 * len + 16;
  char *out = malloc(cap);
  if (out == NULL) return err_set(-ENOMEM, "building a DWN message: out of memory");
  int rc = dwn_url_normalize(url, len, out, cap);
  if (rc < 0) {
    free(out);
    return err_set(rc, "%s \"%s\" is not a URL the SDK accepts", key, url);
  }
  rc = set_str(obj, key, out);
  free(out);
  return rc;
}

/* Replaces obj[key] (a string) by its normalisation, when present. */
static int normalize_member(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  if (v == NULL) return 0;
  if (!json_is_string(v)) return err_set(-EINVAL, "%s is not a string", key);
  /* copy first: set_url replaces the member the text belongs to */
  char *copy = strdup(json_string_value(v));
  if (copy == NULL) return err_set(-ENOMEM, "building a DWN message: out of memory");
  int rc = set_url(obj, key, copy);
  free(copy);
  return rc;
}

/* A deep copy of a Records filter with protocol and schema normalised. */
static int records_filter_copy(const json_t *filter, json_t **out) {
  if (!json_is_object(filter)) return err_set(-EINVAL, "a records filter must be an object");
  json_t *f = json_deep_copy(filter);
  if (f == NULL) return err_set(-ENOMEM, "building a DWN message: out of memory");
  int rc = normalize_member(f, "protocol");
  if (rc == 0) rc = normalize_member(f, "schema");
  if (rc < 0) {
    json_decref(f);
    return rc;
  }
  *out = f;
  return 0;
}

static json_t *descriptor_new(const char *interface, const char *method) {
  json_t *d = json_object();
  if (d == NULL) return NULL;
  if (set_str(d, "interface", interface) < 0 || set_str(d, "method", method) < 0) {
    json_decref(d);
    return NULL;
  }
  return d;
}

/* Signs payload (an object, borrowed) and sets message.authorization.signature
 * (creating authorization when absent, keeping its other members). */
static int sign_into(json_t *message, json_t *payload, const dwn_build_signer_t *signer) {
  if (signer == NULL || signer->private_jwk == NULL || signer->kid == NULL)
    return err_set(-EINVAL, "this DWN message needs a signer (private JWK and kid)");
  char *text = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
  if (text == NULL) return err_set(-ENOMEM, "building a DWN message: out of memory");
  json_t *jws = NULL;
  int rc = jws_sign(signer->private_jwk, signer->kid, text, strlen(text), &jws);
  free(text);
  if (rc < 0) return rc;
  json_t *auth = json_object_get(message, "authorization");
  if (!json_is_object(auth)) {
    auth = json_object();
    if (auth == NULL || json_object_set_new(message, "authorization", auth) != 0) {
      json_decref(jws);
      return err_set(-ENOMEM, "building a DWN message: out of memory");
    }
  }
  return set_new(auth, "signature", jws);
}

/* The generic signature payload {descriptorCid, permissionGrantId?, protocolRole?}. */
static int sign_generic(json_t *message, const dwn_build_common_t *common,
                        const dwn_build_signer_t *signer) {
  char dcid[DWN_CID_TEXT_BYTES];
  cid_t c;
  int rc = dwn_descriptor_cid(message, &c);
  if (rc == 0) rc = dwn_cid_text(&c, dcid);
  if (rc < 0) return rc;
  json_t *payload = json_object();
  if (payload == NULL) return err_set(-ENOMEM, "building a DWN message: out of memory");
  rc = set_str(payload, "descriptorCid", dcid);
  if (rc == 0 && common != NULL) rc = set_str(payload, "permissionGrantId", common->permission_grant_id);
  if (rc == 0 && common != NULL) rc = set_str(payload, "protocolRole", common->protocol_role);
  if (rc == 0) rc = sign_into(message, payload, signer);
  json_decref(payload);
  return rc;
}

/* Wraps descriptor (stolen) into a message, signs it when signer != NULL
 * (required says whether it must be). */
static int finish_generic(json_t *descriptor, const dwn_build_common_t *common,
                          const dwn_build_signer_t *signer, bool required, json_t **message_out) {
  if (descriptor == NULL) return err_set(-ENOMEM, "building a DWN message: out of memory");
  json_t *m = json_object();
  int rc = m == NULL ? err_set(-ENOMEM, "building a DWN message: out of memory")
                     : set_new(m, "descriptor", descriptor);
  if (m == NULL) json_decref(descriptor);
  if (rc == 0 && (signer != NULL || required)) rc = sign_generic(m, common, signer);
  if (rc < 0) {
    json_decref(m);
    return rc;
  }
  *message_out = m;
  return 0;
}

/* messageTimestamp into d. */
static int set_timestamp(json_t *d, const dwn_build_common_t *common) {
  char now[DWN_TIME_TEXT_BYTES];
  const char *ts = NULL;
  int rc = time_or_now("messageTimestamp", common ? common->message_timestamp : NULL, now, &ts);
  if (rc == 0) rc = set_str(d, "messageTimestamp", ts);
  return rc;
}

/* ---- RecordsWrite ------------------------------------------------------- */

/* dataCid/dataSize from the data option; *given false when none was given. */
static int write_data(const dwn_build_write_t *o, json_t *d, bool *given) {
  int kinds = (o->has_data ? 1 : 0) + (o->data_fd >= 0 ? 1 : 0) + (o->data_cid != NULL ? 1 : 0);
  if (kinds > 1) return err_set(-EINVAL, "RecordsWrite: give data, data_fd or data_cid, not several");
  *given = kinds == 1;
  if (kinds == 0) return 0;
  char text[DWN_DATA_CID_TEXT_BYTES];
  uint64_t size = 0;
  if (o->data_cid != NULL) {
    if (strlen(o->data_cid) >= sizeof text) return err_set(-EINVAL, "RecordsWrite: dataCid is too long");
    strcpy(text, o->data_cid);
    size = o->data_size;
  } else {
    cid_t c;
    int rc;
    if (o->has_data) {
      if (o->data == NULL && o->data_len != 0) return err_set(-EINVAL, "RecordsWrite: data is NULL");
      rc = dwn_data_cid_mem(o->data, o->data_len, NULL, &c);
      size = o->data_len;
    } else {
      rc = dwn_data_cid_fd(o->data_fd, NULL, &c, &size);
    }
    if (rc == 0) rc = dwn_cid_text(&c, text);
    if (rc < 0) return rc;
  }
  if (size > (1ull << 53)) return err_set(-EINVAL, "RecordsWrite: dataSize beyond 2^53");
  int rc = set_str(d, "dataCid", text);
  if (rc == 0) rc = set_new(d, "dataSize", json_integer((json_int_t)size));
  return rc;
}

/* The last '/'-separated non-empty segment of a contextId (getRecordIdFromContextId). */
static int last_segment(const char *context_id, buf_t *out) {
  size_t len = strlen(context_id);
  while (len > 0 && context_id[len - 1] == '/') len--;
  size_t start = len;
  while (start > 0 && context_id[start - 1] != '/') start--;
  if (start == len) return err_set(-EINVAL, "contextId \"%s\" has no segment", context_id);
  int rc = buf_append(out, context_id + start, len - start);
  if (rc == 0 && buf_cstr(out) == NULL) rc = -ENOMEM;
  return rc < 0 ? err_set(rc, "building a DWN message: out of memory") : 0;
}

/* Finishes a RecordsWrite whose descriptor is complete: recordId, contextId,
 * signature.  descriptor is stolen. */
static int write_finish(json_t *descriptor, const char *record_id, const char *parent_context_id,
                        const char *protocol_role, const char *permission_grant_id,
                        const dwn_build_signer_t *signer, json_t **message_out) {
  json_t *m = json_object();
  json_t *payload = json_object();
  buf_t signer_did = {0}, ctx = {0};
  char rid[DWN_CID_TEXT_BYTES], dcid[DWN_CID_TEXT_BYTES];
  int rc = 0;
  if (m == NULL || payload == NULL) {
    json_decref(descriptor);
    rc = err_set(-ENOMEM, "building a DWN message: out of memory");
    goto out;
  }
  if (signer == NULL || signer->private_jwk == NULL || signer->kid == NULL) {
    json_decref(descriptor);
    rc = err_set(-EINVAL, "RecordsWrite needs a signer (private JWK and kid)");
    goto out;
  }
  cid_t c;
  rc = dwn_compute_cid(descriptor, &c);
  if (rc == 0) rc = dwn_cid_text(&c, dcid);
  if (rc == 0 && record_id == NULL) {
    rc = jws_signer_did(signer->kid, &signer_did);
    if (rc == 0) rc = dwn_entry_id(descriptor, (const char *)signer_did.data, &c);
    if (rc == 0) rc = dwn_cid_text(&c, rid);
    record_id = rid;
  }
  if (rc < 0) {
    json_decref(descriptor);
    goto out;
  }
  rc = set_str(m, "recordId", record_id);
  if (rc == 0) rc = set_new(m, "descriptor", descriptor);
  else json_decref(descriptor);
  if (rc < 0) goto out;
  const char *context_id = NULL;
  if (json_object_get(descriptor, "protocol") != NULL) {
    if (parent_context_id == NULL || parent_context_id[0] == '\0') {
      context_id = record_id;
    } else {
      if (strlen(parent_context_id) + 1 + strlen(record_id) >= DWN_BUILD_CONTEXT_ID_BYTES_MAX) {
        rc = err_set(-EINVAL, "contextId longer than %u bytes", DWN_BUILD_CONTEXT_ID_BYTES_MAX);
        goto out;
      }
      rc = buf_printf(&ctx, "%s/%s", parent_context_id, record_id);
      if (rc == 0 && buf_cstr(&ctx) == NULL) rc = -ENOMEM;
      if (rc < 0) {
        rc = err_set(rc, "building a DWN message: out of memory");
        goto out;
      }
      context_id = (const char *)ctx.data;
    }
    rc = set_str(m, "contextId", context_id);
    if (rc < 0) goto out;
  }
  rc = set_str(payload, "recordId", record_id);
  if (rc == 0) rc = set_str(payload, "descriptorCid", dcid);
  if (rc == 0) rc = set_str(payload, "contextId", context_id);
  if (rc == 0) rc = set_str(payload, "permissionGrantId", permission_grant_id);
  if (rc == 0) rc = set_str(payload, "protocolRole", protocol_role);
  if (rc == 0) rc = sign_into(m, payload, signer);
out:
  json_decref(payload);
  buf_free(&signer_did);
  buf_free(&ctx);
  if (rc < 0) {
    json_decref(m);
    return rc;
  }
  *message_out = m;
  return 0;
}

int dwn_build_records_write(const dwn_build_write_t *o, const dwn_build_signer_t *signer,
                            json_t **message_out) {
  assert(o != NULL && message_out != NULL);
  if (o->data_format == NULL) return err_set(-EINVAL, "RecordsWrite needs a dataFormat");
  if ((o->protocol == NULL) != (o->protocol_path == NULL))
    return err_set(-EINVAL, "RecordsWrite: protocol and protocolPath go together");
  if (o->parent_context_id != NULL && o->protocol == NULL)
    return err_set(-EINVAL, "RecordsWrite: a parent context needs a protocol");
  if (o->tags != NULL && !json_is_object(o->tags)) return err_set(-EINVAL, "RecordsWrite: tags must be an object");
  int rc = check_time("dateCreated", o->date_created);
  if (rc == 0) rc = check_time("datePublished", o->date_published);
  if (rc < 0) return rc;
  char now[DWN_TIME_TEXT_BYTES];
  rc = dwn_time_now(now);
  if (rc < 0) return err_set(rc, "the clock is outside the DWN timestamp range");
  const char *ts = o->message_timestamp ? o->message_timestamp : now;
  rc = check_time("messageTimestamp", ts);
  if (rc < 0) return rc;

  json_t *d = descriptor_new("Records", "Write");
  if (d == NULL) return err_set(-ENOMEM, "building a DWN message: out of memory");
  buf_t parent = {0};
  bool given = false;
  rc = set_url(d, "protocol", o->protocol);
  if (rc == 0) rc = set_str(d, "protocolPath", o->protocol_path);
  if (rc == 0) rc = set_str(d, "recipient", o->recipient);
  if (rc == 0) rc = set_url(d, "schema", o->schema);
  if (rc == 0 && o->tags != NULL) rc = set_new(d, "tags", json_deep_copy(o->tags));
  if (rc == 0 && o->parent_context_id != NULL && o->parent_context_id[0] != '\0') {
    rc = last_segment(o->parent_context_id, &parent);
    if (rc == 0) rc = set_str(d, "parentId", (const char *)parent.data);
  }
  if (rc == 0) rc = write_data(o, d, &given);
  if (rc == 0 && !given) rc = err_set(-EINVAL, "RecordsWrite.create needs data, data_fd or data_cid");
  if (rc == 0) rc = set_str(d, "dateCreated", o->date_created ? o->date_created : ts);
  if (rc == 0) rc = set_str(d, "messageTimestamp", ts);
  if (rc == 0 && o->published != DWN_BUILD_UNSET)
    rc = set_new(d, "published", json_boolean(o->published == DWN_BUILD_TRUE));
  if (rc == 0) {
    const char *dp = o->date_published;
    if (dp == NULL && o->published == DWN_BUILD_TRUE) dp = now;
    rc = set_str(d, "datePublished", dp);
  }
  if (rc == 0) rc = set_str(d, "dataFormat", o->data_format);
  buf_free(&parent);
  if (rc < 0) {
    json_decref(d);
    return rc;
  }
  return write_finish(d, o->record_id, o->parent_context_id, o->protocol_role, o->permission_grant_id,
                      signer, message_out);
}

static const char *str_member(const json_t *obj, const char *key) {
  return json_string_value(json_object_get(obj, key));
}

int dwn_build_records_write_from(const json_t *source, const dwn_build_write_t *o,
                                 const dwn_build_signer_t *signer, json_t **message_out) {
  assert(o != NULL && message_out != NULL);
  const json_t *sd = json_object_get(source, "descriptor");
  if (!json_is_object(sd) || json_is_null(sd) ||
      strcmp(str_member(sd, "interface") ? str_member(sd, "interface") : "", "Records") != 0 ||
      strcmp(str_member(sd, "method") ? str_member(sd, "method") : "", "Write") != 0 ||
      str_member(source, "recordId") == NULL)
    return err_set(-EINVAL, "createFrom: the source is not a RecordsWrite");
  if (o->tags != NULL && !json_is_object(o->tags)) return err_set(-EINVAL, "RecordsWrite: tags must be an object");
  int rc = check_time("datePublished", o->date_published);
  if (rc < 0) return rc;
  char now[DWN_TIME_TEXT_BYTES];
  rc = dwn_time_now(now);
  if (rc < 0) return err_set(rc, "the clock is outside the DWN timestamp range");
  const char *ts = o->message_timestamp ? o->message_timestamp : now;
  rc = check_time("messageTimestamp", ts);
  if (rc < 0) return rc;

  /* published: the option, else true when datePublished is given, else the source's */
  const json_t *src_pub = json_object_get(sd, "published");
  bool src_published = json_is_true(src_pub);
  int published; /* -1 unset, 0, 1 */
  if (o->published != DWN_BUILD_UNSET) published = o->published == DWN_BUILD_TRUE;
  else if (o->date_published != NULL) published = 1;
  else published = src_pub == NULL ? -1 : src_published;
  const char *date_published = NULL;
  if (o->date_published != NULL) date_published = o->date_published;
  else if (published == 1) date_published = src_published ? str_member(sd, "datePublished") : now;

  /* the source's protocolRole, when the option does not give one */
  const char *role = o->protocol_role;
  json_t *src_payload = NULL;
  if (role == NULL) {
    const json_t *sig = json_object_get(json_object_get(source, "authorization"), "signature");
    const char *p = str_member(sig, "payload");
    if (p != NULL && jws_decode_payload(p, &src_payload) == 0) role = str_member(src_payload, "protocolRole");
  }

  /* the parent context: contextId without its last segment */
  buf_t parent = {0};
  const char *src_ctx = str_member(source, "contextId");
  if (src_ctx != NULL) {
    const char *slash = strrchr(src_ctx, '/');
    if (slash != NULL) {
      rc = buf_append(&parent, src_ctx, (size_t)(slash - src_ctx));
      if (rc == 0 && buf_cstr(&parent) == NULL) rc = -ENOMEM;
      if (rc < 0) {
        json_decref(src_payload);
        return err_set(rc, "building a DWN message: out of memory");
      }
    }
  }

  json_t *d = descriptor_new("Records", "Write");
  if (d == NULL) rc = err_set(-ENOMEM, "building a DWN message: out of memory");
  bool given = false;
  static const char *const immutable[] = {"protocol", "protocolPath", "recipient", "schema", "parentId"};
  for (size_t i = 0; rc == 0 && i < sizeof immutable / sizeof immutable[0]; i++) {
    json_t *v = json_object_get(sd, immutable[i]);
    if (v != NULL) rc = set_new(d, immutable[i], json_deep_copy(v));
  }
  if (rc == 0 && o->tags != NULL) rc = set_new(d, "tags", json_deep_copy(o->tags));
  if (rc == 0) rc = write_data(o, d, &given);
  if (rc == 0 && !given) {
    json_t *cid = json_object_get(sd, "dataCid"), *size = json_object_get(sd, "dataSize");
    if (cid == NULL || size == NULL) rc = err_set(-EINVAL, "createFrom: the source has no dataCid/dataSize");
    if (rc == 0) rc = set_new(d, "dataCid", json_deep_copy(cid));
    if (rc == 0) rc = set_new(d, "dataSize", json_deep_copy(size));
  }
  json_t *dc = json_object_get(sd, "dateCreated");
  if (rc == 0 && dc == NULL) rc = err_set(-EINVAL, "createFrom: the source has no dateCreated");
  if (rc == 0) rc = set_new(d, "dateCreated", json_deep_copy(dc));
  if (rc == 0) rc = set_str(d, "messageTimestamp", ts);
  if (rc == 0 && published >= 0) rc = set_new(d, "published", json_boolean(published == 1));
  if (rc == 0) rc = set_str(d, "datePublished", date_published);
  if (rc == 0) {
    const char *fmt = o->data_format ? o->data_format : str_member(sd, "dataFormat");
    if (fmt == NULL) rc = err_set(-EINVAL, "createFrom: the source has no dataFormat");
    else rc = set_str(d, "dataFormat", fmt);
  }
  char *role_copy = NULL;
  if (rc == 0 && role != NULL && (role_copy = strdup(role)) == NULL)
    rc = err_set(-ENOMEM, "building a DWN message: out of memory");
  json_decref(src_payload);
  if (rc < 0) {
    json_decref(d);
    buf_free(&parent);
    free(role_copy);
    return rc;
  }
  rc = write_finish(d, str_member(source, "recordId"), parent.len ? (const char *)parent.data : NULL,
                    role_copy, o->permission_grant_id, signer, message_out);
  buf_free(&parent);
  free(role_copy);
  return rc;
}

/* ---- the other methods ------------------------------------------------------ */

int dwn_build_protocols_configure(const json_t *definition, const dwn_build_common_t *common,
                                  const dwn_build_signer_t *signer, json_t **message_out) {
  assert(message_out != NULL);
  if (!json_is_object(definition)) return err_set(-EINVAL, "ProtocolsConfigure: the definition must be an object");
  json_t *def = json_deep_copy(definition);
  if (def == NULL) return err_set(-ENOMEM, "building a DWN message: out of memory");
  int rc = normalize_member(def, "protocol");
  json_t *types = json_object_get(def, "types");
  const char *name;
  json_t *type;
  if (rc == 0 && json_is_object(types)) {
    json_object_foreach(types, name, type) {
      if (json_is_object(type)) rc = normalize_member(type, "schema");
      if (rc < 0) break;
    }
  }
  json_t *d = rc == 0 ? descriptor_new("Protocols", "Configure") : NULL;
  if (rc == 0 && d == NULL) rc = err_set(-ENOMEM, "building a DWN message: out of memory");
  if (rc == 0) rc = set_timestamp(d, common);
  if (rc == 0) {
    rc = set_new(d, "definition", def);
    def = NULL;
  }
  json_decref(def);
  if (rc < 0) {
    json_decref(d);
    return rc;
  }
  return finish_generic(d, common, signer, true, message_out);
}

int dwn_build_protocols_query(const json_t *filter, const dwn_build_common_t *common,
                              const dwn_build_signer_t *signer, json_t **message_out) {
  assert(message_out != NULL);
  json_t *d = descriptor_new("Protocols", "Query");
  if (d == NULL) return err_set(-ENOMEM, "building a DWN message: out of memory");
  int rc = set_timestamp(d, common);
  if (rc == 0 && filter != NULL) {
    if (!json_is_object(filter)) rc = err_set(-EINVAL, "ProtocolsQuery: the filter must be an object");
    json_t *f = rc == 0 ? json_deep_copy(filter) : NULL;
    if (rc == 0) rc = set_new(d, "filter", f);
    if (rc == 0) rc = normalize_member(f, "protocol");
  }
  if (rc < 0) {
    json_decref(d);
    return rc;
  }
  return finish_generic(d, common, signer, false, message_out);
}

/* A Records descriptor of method with its timestamp and a normalised copy of
 * filter; *d_out is NULL on failure. */
static int records_filter_descriptor(const char *method, const json_t *filter, const dwn_build_common_t *common,
                                     json_t **d_out) {
  *d_out = NULL;
  json_t *f = NULL;
  int rc = records_filter_copy(filter, &f);
  if (rc < 0) return rc;
  json_t *d = descriptor_new("Records", method);
  if (d == NULL) rc = err_set(-ENOMEM, "building a DWN message: out of memory");
  if (rc == 0) rc = set_timestamp(d, common);
  if (rc == 0) {
    rc = set_new(d, "filter", f);
    f = NULL;
  }
  json_decref(f);
  if (rc < 0) json_decref(d);
  else *d_out = d;
  return rc;
}

int dwn_build_records_read(const json_t *filter, const dwn_build_common_t *common,
                           const dwn_build_signer_t *signer, json_t **message_out) {
  assert(message_out != NULL);
  json_t *d;
  int rc = records_filter_descriptor("Read", filter, common, &d);
  if (rc < 0) {
    json_decref(d);
    return rc;
  }
  return finish_generic(d, common, signer, false, message_out);
}

int dwn_build_records_query(const json_t *filter, const char *date_sort, const json_t *pagination,
                            const dwn_build_common_t *common, const dwn_build_signer_t *signer,
                            json_t **message_out) {
  assert(message_out != NULL);
  json_t *d;
  int rc = records_filter_descriptor("Query", filter, common, &d);
  if (rc < 0) return rc;
  rc = set_str(d, "dateSort", date_sort);
  if (rc == 0 && pagination != NULL) {
    if (!json_is_object(pagination)) rc = err_set(-EINVAL, "RecordsQuery: pagination must be an object");
    else rc = set_new(d, "pagination", json_deep_copy(pagination));
  }
  if (rc < 0) {
    json_decref(d);
    return rc;
  }
  return finish_generic(d, common, signer, false, message_out);
}

int dwn_build_records_delete(const char *record_id, bool prune, const dwn_build_common_t *common,
                             const dwn_build_signer_t *signer, json_t **message_out) {
  assert(message_out != NULL);
  if (record_id == NULL) return err_set(-EINVAL, "RecordsDelete needs a recordId");
  json_t *d = descriptor_new("Records", "Delete");
  if (d == NULL) return err_set(-ENOMEM, "building a DWN message: out of memory");
  int rc = set_timestamp(d, common);
  if (rc == 0) rc = set_str(d, "recordId", record_id);
  if (rc == 0) rc = set_new(d, "prune", json_boolean(prune));
  if (rc < 0) {
    json_decref(d);
    return rc;
  }
  return finish_generic(d, common, signer, true, message_out);
}

int dwn_build_messages_query(const json_t *filters, const json_t *cursor,
                             const dwn_build_common_t *common, const dwn_build_signer_t *signer,
                             json_t **message_out) {
  assert(message_out != NULL);
  if (filters != NULL && !json_is_array(filters)) return err_set(-EINVAL, "MessagesQuery: filters must be an array");
  json_t *fs = filters ? json_deep_copy(filters) : json_array();
  if (fs == NULL) return err_set(-ENOMEM, "building a DWN message: out of memory");
  int rc = 0;
  size_t i;
  json_t *f;
  json_array_foreach(fs, i, f) {
    if (json_is_object(f)) rc = normalize_member(f, "protocol");
    if (rc < 0) break;
  }
  json_t *d = rc == 0 ? descriptor_new("Messages", "Query") : NULL;
  if (rc == 0 && d == NULL) rc = err_set(-ENOMEM, "building a DWN message: out of memory");
  if (rc == 0) {
    rc = set_new(d, "filters", fs);
    fs = NULL;
  }
  json_decref(fs);
  if (rc == 0) rc = set_timestamp(d, common);
  if (rc == 0 && cursor != NULL) rc = set_new(d, "cursor", json_deep_copy(cursor));
  if (rc < 0) {
    json_decref(d);
    return rc;
  }
  return finish_generic(d, common, signer, true, message_out);
}

int dwn_build_messages_read(const char *message_cid, const dwn_build_common_t *common,
                            const dwn_build_signer_t *signer, json_t **message_out) {
  assert(message_out != NULL);
  if (message_cid == NULL) return err_set(-EINVAL, "MessagesRead needs a messageCid");
  json_t *d = descriptor_new("Messages", "Read");
  if (d == NULL) return err_set(-ENOMEM, "building a DWN message: out of memory");
  int rc = set_str(d, "messageCid", message_cid);
  if (rc == 0) rc = set_timestamp(d, common);
  if (rc < 0) {
    json_decref(d);
    return rc;
  }
  return finish_generic(d, common, signer, true, message_out);
}

int dwn_build_resign(json_t *message, const dwn_build_signer_t *signer) {
  if (!json_is_object(message)) return err_set(-EINVAL, "resign: the message is not an object");
  cid_t c;
  char dcid[DWN_CID_TEXT_BYTES];
  int rc = dwn_descriptor_cid(message, &c);
  if (rc == 0) rc = dwn_cid_text(&c, dcid);
  if (rc < 0) return rc;
  json_t *payload = NULL;
  const json_t *sig = json_object_get(json_object_get(message, "authorization"), "signature");
  const char *p = str_member(sig, "payload");
  if (p != NULL) {
    rc = jws_decode_payload(p, &payload);
    if (rc < 0) return rc;
  } else {
    payload = json_object();
    if (payload == NULL) return err_set(-ENOMEM, "building a DWN message: out of memory");
  }
  rc = set_str(payload, "descriptorCid", dcid);
  if (rc == 0) rc = sign_into(message, payload, signer);
  json_decref(payload);
  return rc;
}
