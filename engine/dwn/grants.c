/* dwn/grants: see grants.h.  Not built yet: every entry answers 501 so the
 * handlers' grant paths are visible in the differential replay. */
#include "dwn/grants.h"

#include <string.h>

void dwn_grant_release(dwn_grant_t *g) {
  json_decref(g->message);
  json_decref(g->data);
  memset(g, 0, sizeof *g);
}

int dwn_grant_fetch(dwn_t *d, const char *tenant, const char *grant_id, dwn_grant_t *out, dwn_status_t *st) {
  memset(out, 0, sizeof *out);
  return dwn_not_implemented(st, "permission grants");
}

int dwn_grant_parse(const json_t *grant_message, dwn_grant_t *out, dwn_status_t *st) {
  memset(out, 0, sizeof *out);
  return dwn_not_implemented(st, "delegated grants");
}

int dwn_grant_check_delegation_integrity(const json_t *message, const json_t *payload, const json_t *owner_payload,
                                         dwn_status_t *st) {
  const json_t *a = json_object_get(message, "authorization");
  if (json_object_get(a, "authorDelegatedGrant") || json_object_get(a, "ownerDelegatedGrant") ||
      json_object_get(payload, "delegatedGrantId") || json_object_get(owner_payload, "delegatedGrantId"))
    return dwn_not_implemented(st, "delegated grants");
  return 0;
}

json_t *dwn_grant_permissions_definition(void) { return NULL; }

int dwn_grant_check_core_write(dwn_t *d, const char *tenant, const json_t *message, const uint8_t *data, size_t len,
                               dwn_status_t *st) {
  const char *protocol = json_string_value(json_object_get(json_object_get(message, "descriptor"), "protocol"));
  if (protocol && strcmp(protocol, DWN_PERMISSIONS_PROTOCOL) == 0) return dwn_not_implemented(st, "permission records");
  return 0;
}

#define NOT_YET return dwn_not_implemented(st, "permission grants")
int dwn_grant_authorize_records_write(dwn_t *d, const char *tenant, const json_t *message, const char *grantor,
                                      const char *grantee, const dwn_grant_t *g, dwn_status_t *st) { NOT_YET; }
int dwn_grant_authorize_records_read(dwn_t *d, const char *tenant, const json_t *message, const json_t *record,
                                     const char *grantor, const char *grantee, const dwn_grant_t *g, dwn_status_t *st) { NOT_YET; }
int dwn_grant_authorize_records_query(dwn_t *d, const char *tenant, const json_t *message, const char *grantor,
                                      const char *grantee, const dwn_grant_t *g, dwn_status_t *st) { NOT_YET; }
int dwn_grant_authorize_records_delete(dwn_t *d, const char *tenant, const json_t *message, const json_t *record,
                                       const char *grantor, const char *grantee, const dwn_grant_t *g,
                                       dwn_status_t *st) { NOT_YET; }
int dwn_grant_authorize_protocols_configure(dwn_t *d, const char *tenant, const json_t *message, const char *grantor,
                                            const char *grantee, const dwn_grant_t *g, dwn_status_t *st) { NOT_YET; }
int dwn_grant_authorize_protocols_query(dwn_t *d, const char *tenant, const json_t *message, const char *grantor,
                                        const char *grantee, const dwn_grant_t *g, dwn_status_t *st) { NOT_YET; }
int dwn_grant_authorize_messages_read(dwn_t *d, const char *tenant, const json_t *message, const json_t *read,
                                      const char *grantor, const char *grantee, const dwn_grant_t *g,
                                      dwn_status_t *st) { NOT_YET; }
int dwn_grant_authorize_messages_query(dwn_t *d, const char *tenant, const json_t *message, const char *grantor,
                                       const char *grantee, const dwn_grant_t *g, dwn_status_t *st) { NOT_YET; }
