/*
 * dwn/stream: live subscriptions, the reference's EventEmitterStream in
 * process (dwn-reference.md §13.2; RecordsSubscribe / MessagesSubscribe).
 *
 * A subscription is (tenant, id, filters, subscriber): id is the messageCid
 * of the subscribe message, filters are the SDK Filter objects its handler
 * built (OR-ed).  The write handlers call dwn_stream_emit after their message
 * committed with the message's index object: every subscription of that
 * tenant whose filters match the indexes gets the event {message,
 * initialWrite?} through its callback, on the writer's thread, in commit
 * order per record.  A callback must be quick and must not call back into
 * the engine (the transport queues the event and returns).
 *
 * Emitted: a RecordsWrite that became the latest state (with its initial
 * write when it is an update; not a 204 data-less initial write), a
 * RecordsDelete (with the initial write), a ProtocolsConfigure.
 */
#ifndef ANYA_DWN_STREAM_H
#define ANYA_DWN_STREAM_H

#include <jansson.h>

#include "dwn/dwn.h"

#define DWN_SUBSCRIPTIONS_MAX 65536 /* live subscriptions per engine */

/* Registers a subscription (filters: an array of Filter objects, a new
 * reference is taken).  0, -ENOMEM, -E2BIG (DWN_SUBSCRIPTIONS_MAX). */
int dwn_stream_add(dwn_t *d, const char *tenant, const char *id, json_t *filters, const dwn_subscriber_t *sub);

/* The end of a Subscribe handler: registers filters[0..n) for tenant under
 * the subscribe message's CID and fills reply with {status 200, subscription:
 * {id}}.  0 or negative errno. */
int dwn_stream_subscribe(dwn_t *d, const char *tenant, const json_t *message, json_t *const *filters, size_t n,
                         const dwn_subscriber_t *sub, dwn_reply_t *reply);

/* Delivers an event to the tenant's matching subscriptions. */
void dwn_stream_emit(dwn_t *d, const char *tenant, const json_t *message, const json_t *initial_write,
                     const json_t *indexes);

/* Drops every subscription (dwn_close). */
void dwn_stream_clear(dwn_t *d);

#endif
