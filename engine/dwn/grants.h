/*
 * dwn/grants: permissions as records of the built-in permissions protocol
 * (dwn-reference.md §10; dwn-sdk-js 0.5.2 protocols/permissions.ts,
 * core/grant-authorization.ts, core/records-grant-authorization.ts,
 * core/protocols-grant-authorization.ts, core/messages-grant-authorization.ts,
 * utils/records.ts validateDelegatedGrantReferentialIntegrity,
 * the interfaces' authorizeDelegate / authorizeOwnerDelegate).
 *
 * The handlers (records.c, protocols.c, messages.c) call these at the points
 * where the reference consults a grant; each returns 0 when authorised, else
 * sets st with the reference's code (401 for authorisation, 400 for the
 * parse-phase integrity checks) and returns its errno (status.h).  Internal
 * errors (store, memory) return their errno with st untouched.
 *
 * A grant is the RecordsWrite with protocolPath "grant" stored in the
 * tenant's message store (with its encodedData: permission records are at
 * most 10000 bytes, always inline) or, for delegated grants, the one carried
 * in the message's authorization (authorDelegatedGrant / ownerDelegatedGrant,
 * with encodedData).
 *
 * Where the reference throws an exception it does not map to a reply (a grant
 * or request whose data is not JSON, a scope protocol that is not normalised,
 * an unparsable dateExpires, a revocation of a missing grant: dwn-server
 * answers HTTP 500), st gets code 500 with detail "unhandled: <what>" and
 * the errno is -EIO.
 *
 * Memory: inputs are borrowed; a dwn_grant_t owns a deep copy of its message
 * and its decoded data until dwn_grant_release.  Every function may run
 * concurrently with others on the same dwn_t (reads of the store only).
 * Bounded work: one store query for the grant, one for its revocations, one
 * for a record's newest write (Messages.Read), linear in the message's filters.
 */
#ifndef ANYA_DWN_GRANTS_H
#define ANYA_DWN_GRANTS_H

#include <stdbool.h>

#include <jansson.h>

#include "dwn/handlers.h"

#define DWN_PERMISSIONS_PROTOCOL "https://tbd.website/dwn/permissions"

/* A parsed grant (PermissionGrant.parse): owns its JSON. */
typedef struct dwn_grant {
  json_t *message;        /* the grant RecordsWrite (with encodedData) */
  json_t *data;           /* its decoded data: {dateExpires, scope, delegated?, conditions?, ...} */
  const char *id;         /* recordId (borrowed from message) */
  char grantor[DWN_DID_BYTES_MAX];  /* the grant's author */
  const char *grantee;    /* descriptor.recipient */
  const char *date_granted;  /* descriptor.dateCreated */
} dwn_grant_t;

void dwn_grant_release(dwn_grant_t *g);

/* PermissionsProtocol.fetchGrant: the grant recordId in tenant's store
 * (GrantAuthorizationGrantMissing when absent). */
int dwn_grant_fetch(dwn_t *d, const char *tenant, const char *grant_id, dwn_grant_t *out, dwn_status_t *st);
/* PermissionGrant.parse of a grant message carried in an authorization. */
int dwn_grant_parse(const json_t *grant_message, dwn_grant_t *out, dwn_status_t *st);

/* Parse phase (400): Records.validateDelegatedGrantReferentialIntegrity of
 * message with its signature payload (and ownerSignature payload, may be
 * NULL), for the author then the owner side: delegatedGrantId present iff
 * the delegated grant is (Records{Author,Owner}DelegatedGrantAndIdExistenceMismatch),
 * the grant's data says delegated:true (...NotADelegatedGrant), its recipient
 * is the signer of the signature / ownerSignature
 * (...GrantedToAndOwnerSignatureMismatch), delegatedGrantId is its
 * messageCid (...CidMismatch).  0 when the message carries no delegated grant
 * and no delegatedGrantId. */
int dwn_grant_check_delegation_integrity(const json_t *message, const json_t *payload, const json_t *owner_payload,
                                         dwn_status_t *st);

/* The built-in permissions protocol definition (§10; never configured, always
 * published), for protocol authorisation of request / grant / revocation
 * records.  A new reference (NULL when out of memory). */
json_t *dwn_grant_permissions_definition(void);
/* RecordsWriteHandler.preProcessingForCoreRecordsWrite and
 * validateSchemaForCoreRecordsWrite for a record of the permissions
 * protocol: its data (inline bytes, NULL when the write carries none) against
 * the request / grant / revocation data schema, a scope's protocol tag, a
 * revocation's protocol tag against its grant.  0 for any other record. */
int dwn_grant_check_core_write(dwn_t *d, const char *tenant, const json_t *message, const uint8_t *data, size_t len,
                               dwn_status_t *st);

/* RecordsGrantAuthorization.authorizeWrite / authorizeRead /
 * authorizeQueryOrSubscribe / authorizeDelete: the grant g lets grantee act
 * on tenant's records as message asks (record: the write being read or
 * deleted).  Each runs dwn_grant_base_validation first; write: scope and
 * conditions of the incoming write; read: scope of the record read; query
 * (also Records.Subscribe, same descriptor.filter): a protocol-scoped grant
 * needs filter.protocol equal; delete: a protocol-scoped grant needs the
 * record's protocol equal.  Store lookups run in grantor's store (the
 * reference's grantedFor). */
int dwn_grant_authorize_records_write(dwn_t *d, const char *tenant, const json_t *message, const char *grantor,
                                      const char *grantee, const dwn_grant_t *g, dwn_status_t *st);
int dwn_grant_authorize_records_read(dwn_t *d, const char *tenant, const json_t *message, const json_t *record,
                                     const char *grantor, const char *grantee, const dwn_grant_t *g, dwn_status_t *st);
int dwn_grant_authorize_records_query(dwn_t *d, const char *tenant, const json_t *message, const char *grantor,
                                      const char *grantee, const dwn_grant_t *g, dwn_status_t *st);
int dwn_grant_authorize_records_delete(dwn_t *d, const char *tenant, const json_t *message, const json_t *record,
                                       const char *grantor, const char *grantee, const dwn_grant_t *g,
                                       dwn_status_t *st);
/* GrantAuthorization.performBaseValidation: grantee (NotGrantedToAuthor),
 * grantor (NotGrantedForTenant), dateGranted <= messageTimestamp <
 * dateExpires (GrantNotYetActive / GrantExpired), no revocation (child
 * "grant/revocation" of the grant in grantor's store) at or before the
 * message's timestamp (GrantRevoked), scope interface and method equal to
 * the message's (InterfaceMismatch / MethodMismatch).  All 401. */
int dwn_grant_base_validation(dwn_t *d, const json_t *message, const char *grantor, const char *grantee,
                              const dwn_grant_t *g, dwn_status_t *st);
/* RecordsGrantAuthorization.verifyScope of a RecordsWrite (record): protocol
 * equal (both may be absent), contextId prefix, protocolPath equal. */
int dwn_grant_records_scope(const json_t *record, const dwn_grant_t *g, dwn_status_t *st);
/* RecordsGrantAuthorization.verifyConditions: publication Required /
 * Prohibited against the write's descriptor.published. */
int dwn_grant_records_conditions(const json_t *write, const dwn_grant_t *g, dwn_status_t *st);

/* ProtocolsGrantAuthorization.authorizeConfigure / authorizeQuery.  A
 * protocol-scoped grant used with another (or no) filter protocol fails
 * authorizeQuery with ProtocolsGrantAuthorizationQueryProtocolScopeMismatch,
 * which the handler turns into "published only". */
int dwn_grant_authorize_protocols_configure(dwn_t *d, const char *tenant, const json_t *message, const char *grantor,
                                            const char *grantee, const dwn_grant_t *g, dwn_status_t *st);
int dwn_grant_authorize_protocols_query(dwn_t *d, const char *tenant, const json_t *message, const char *grantor,
                                        const char *grantee, const dwn_grant_t *g, dwn_status_t *st);
/* MessagesGrantAuthorization.authorizeMessagesRead (read: the stored message
 * being read, with its encodedData) / authorizeQueryOrSubscribe.  A
 * protocol-scoped read admits records of the protocol (a RecordsDelete by
 * its record's newest write), its configure, and permission records whose
 * scope (a revocation: its grant's) names the protocol; else
 * MessagesReadVerifyScopeFailed.  A protocol-scoped query needs every filter
 * to name the protocol (EventsGrantAuthorizationMismatchedProtocol), so an
 * empty filter list passes and returns every event, as in the reference. */
int dwn_grant_authorize_messages_read(dwn_t *d, const char *tenant, const json_t *message, const json_t *read,
                                      const char *grantor, const char *grantee, const dwn_grant_t *g,
                                      dwn_status_t *st);
int dwn_grant_authorize_messages_query(dwn_t *d, const char *tenant, const json_t *message, const char *grantor,
                                       const char *grantee, const dwn_grant_t *g, dwn_status_t *st);

#endif
