/* dwn/stream: live subscriptions (see stream.h): a list under a mutex. */
#include "dwn/stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dwn/handlers.h"

struct dwn_subscription {
  char *tenant;
  char *id;
  json_t *filters; /* array of SDK Filter objects */
  dwn_subscriber_t sub;
  struct dwn_subscription *next;
};

static void subscription_free(struct dwn_subscription *s) {
  free(s->tenant);
  free(s->id);
  json_decref(s->filters);
  free(s);
}

int dwn_stream_add(dwn_t *d, const char *tenant, const char *id, json_t *filters, const dwn_subscriber_t *sub) {
  struct dwn_subscription *s = calloc(1, sizeof *s);
  if (!s) return -ENOMEM;
  s->tenant = strdup(tenant), s->id = strdup(id), s->filters = json_incref(filters), s->sub = *sub;
  if (!s->tenant || !s->id) {
    subscription_free(s);
    return -ENOMEM;
  }
  pthread_mutex_lock(&d->stream_lock);
  int rc = 0;
  if (d->subscriptions_len >= DWN_SUBSCRIPTIONS_MAX) {
    rc = -E2BIG;
  } else {
    s->next = d->subscriptions, d->subscriptions = s, d->subscriptions_len++;
  }
  pthread_mutex_unlock(&d->stream_lock);
  if (rc) subscription_free(s);
  return rc;
}

int dwn_stream_subscribe(dwn_t *d, const char *tenant, const json_t *message, json_t *const *filters, size_t n,
                         const dwn_subscriber_t *sub, dwn_reply_t *reply) {
  json_t *list = json_array();
  int rc = list ? 0 : -ENOMEM;
  for (size_t i = 0; !rc && i < n; i++) rc = json_array_append(list, filters[i]) ? -ENOMEM : 0;
  char id[DWN_CID_TEXT_BYTES];
  if (!rc) rc = dwn_cid_of(message, id);
  if (!rc) rc = dwn_stream_add(d, tenant, id, list, sub);
  if (!rc) {
    reply->body = json_pack("{s:{s:i,s:s},s:{s:s}}", "status", "code", 200, "detail", "OK", "subscription", "id", id);
    reply->code = 200;
    if (!reply->body) rc = -ENOMEM;
  }
  json_decref(list);
  return rc;
}

/* Removes tenant's subscriptions with that id (and, when ctx is not NULL,
 * that subscriber context only). */
static int unsubscribe(dwn_t *d, const char *tenant, const char *id, const void *ctx) {
  int rc = -ENOENT;
  pthread_mutex_lock(&d->stream_lock);
  for (struct dwn_subscription **p = &d->subscriptions; *p;) {
    struct dwn_subscription *s = *p;
    if (strcmp(s->tenant, tenant) == 0 && strcmp(s->id, id) == 0 && (!ctx || s->sub.ctx == ctx)) {
      *p = s->next, d->subscriptions_len--, rc = 0;
      subscription_free(s);
    } else {
      p = &s->next;
    }
  }
  pthread_mutex_unlock(&d->stream_lock);
  return rc;
}

int dwn_unsubscribe(dwn_t *d, const char *tenant, const char *id) { return unsubscribe(d, tenant, id, NULL); }

int dwn_unsubscribe_subscriber(dwn_t *d, const char *tenant, const char *id, const void *ctx) {
  return unsubscribe(d, tenant, id, ctx);
}

void dwn_stream_emit(dwn_t *d, const char *tenant, const json_t *message, const json_t *initial_write,
                     const json_t *indexes) {
  json_t *event = NULL;
  msgstore_indexes_t ix; /* the event's index set, once for every subscription */
  if (dwn_indexes_from_json(indexes, &ix)) return; /* cannot be built (memory): nothing matches it */
  pthread_mutex_lock(&d->stream_lock);
  /* oldest subscription first: the list is newest first, so walk it backwards */
  size_t n = 0;
  for (struct dwn_subscription *s = d->subscriptions; s; s = s->next) n++;
  struct dwn_subscription **order = n ? malloc(n * sizeof *order) : NULL;
  size_t k = n;
  for (struct dwn_subscription *s = d->subscriptions; order && s; s = s->next) order[--k] = s;
  for (size_t i = 0; order && i < n; i++) {
    struct dwn_subscription *s = order[i];
    if (strcmp(s->tenant, tenant) != 0) continue;
    json_t **filters = NULL;
    size_t count = json_array_size(s->filters);
    if (count && !(filters = malloc(count * sizeof *filters))) continue;
    for (size_t f = 0; f < count; f++) filters[f] = json_array_get(s->filters, f);
    bool match = dwn_filters_match(filters, count, &ix);
    free(filters);
    if (!match) continue;
    if (!event) {
      event = json_pack("{s:O}", "message", message);
      if (event && initial_write) json_object_set(event, "initialWrite", (json_t *)initial_write);
    }
    if (event) s->sub.fn(s->sub.ctx, s->id, event);
  }
  pthread_mutex_unlock(&d->stream_lock);
  free(order);
  json_decref(event);
  msgstore_indexes_free(&ix);
}

void dwn_stream_clear(dwn_t *d) {
  pthread_mutex_lock(&d->stream_lock);
  while (d->subscriptions) {
    struct dwn_subscription *s = d->subscriptions;
    d->subscriptions = s->next;
    subscription_free(s);
  }
  d->subscriptions_len = 0;
  pthread_mutex_unlock(&d->stream_lock);
}
