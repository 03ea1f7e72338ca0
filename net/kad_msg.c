/*
 * kad_msg: the Kademlia Message codec (kad_internal.h) over protoc-c's
 * generated code; this file only converts between the generated structs and
 * kad_msg_t, and enforces the limits.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kad.pb-c.h"
#include "kad_internal.h"

void kad_msg_free(kad_msg_t *m) {
  if (!m) return;
  buf_free(&m->key);
  buf_free(&m->record_key);
  buf_free(&m->record_value);
  free(m->closer);
  free(m->providers);
  memset(m, 0, sizeof *m);
}

int kad_msg_add_peer(kad_msg_t *m, bool providers, const peer_id_t *id, const multiaddr_t *addrs, size_t n,
                     uint8_t connection) {
  kad_msg_peer_t **list = providers ? &m->providers : &m->closer;
  size_t *count = providers ? &m->provider_count : &m->closer_count;
  if (*count >= KAD_MSG_PEERS_MAX) return -ENOSPC;
  kad_msg_peer_t *grown = realloc(*list, (*count + 1) * sizeof **list);
  if (!grown) return -ENOMEM;
  *list = grown;
  kad_msg_peer_t *p = &grown[*count];
  memset(p, 0, sizeof *p);
  p->id = *id;
  if (n > KAD_MSG_ADDRS_MAX) n = KAD_MSG_ADDRS_MAX;
  for (size_t i = 0; i < n; i++) p->addrs[i] = addrs[i];
  p->addr_count = (uint8_t)n;
  p->connection = connection <= 3 ? connection : 0;
  ++*count;
  return 0;
}

static int decode_peers(P2p__KadMessage__Peer **in, size_t n, kad_msg_t *m, bool providers) {
  for (size_t i = 0; i < n; i++) {
    size_t count = providers ? m->provider_count : m->closer_count;
    if (count >= KAD_MSG_PEERS_MAX) break;
    peer_id_t id;
    if (!in[i] || peer_id_from_bytes(in[i]->id.data, in[i]->id.len, &id) < 0) continue;
    multiaddr_t addrs[KAD_MSG_ADDRS_MAX];
    size_t kept = 0;
    for (size_t a = 0; a < in[i]->n_addrs && kept < KAD_MSG_ADDRS_MAX; a++)
      if (ma_from_bytes(in[i]->addrs[a].data, in[i]->addrs[a].len, &addrs[kept]) == 0) kept++;
    int c = (int)in[i]->connection;
    int rc = kad_msg_add_peer(m, providers, &id, addrs, kept, (uint8_t)(c >= 0 && c <= 3 ? c : 0));
    if (rc < 0) return rc;
  }
  return 0;
}

int kad_msg_decode(const uint8_t *data, size_t len, kad_msg_t *out) {
  memset(out, 0, sizeof *out);
  if (len > KAD_MSG_BYTES_MAX)
    return err_set(-EBADMSG, "kad message of %zu bytes (limit %u)", len, KAD_MSG_BYTES_MAX);
  P2p__KadMessage *pb = p2p__kad_message__unpack(NULL, len, data);
  if (!pb) return err_set(-EBADMSG, "kad message: malformed protobuf");
  int rc = 0;
  if ((int)pb->type < KAD_PUT_VALUE || (int)pb->type > KAD_PING) {
    rc = err_set(-EBADMSG, "kad message: unknown type %d", (int)pb->type);
    goto done;
  }
  out->type = (enum kad_msg_type)pb->type;
  out->cluster_level = pb->clusterlevelraw;
  if (pb->key.len > KAD_KEY_BYTES_MAX) {
    rc = err_set(-EBADMSG, "kad message: key of %zu bytes (limit %u)", pb->key.len, KAD_KEY_BYTES_MAX);
    goto done;
  }
  if (pb->key.len && (rc = buf_append(&out->key, pb->key.data, pb->key.len)) < 0) goto done;
  if (pb->record) {
    P2p__KadRecord *r = pb->record;
    if (r->key.len > KAD_KEY_BYTES_MAX || r->value.len > KAD_VALUE_BYTES_MAX) {
      rc = err_set(-EBADMSG, "kad record: key of %zu or value of %zu bytes past the limits", r->key.len,
                   r->value.len);
      goto done;
    }
    out->has_record = true;
    if (r->key.len && (rc = buf_append(&out->record_key, r->key.data, r->key.len)) < 0) goto done;
    if (r->value.len && (rc = buf_append(&out->record_value, r->value.data, r->value.len)) < 0) goto done;
    if (r->timereceived && strlen(r->timereceived) < sizeof out->time_received)
      strcpy(out->time_received, r->timereceived);
  }
  if ((rc = decode_peers(pb->closerpeers, pb->n_closerpeers, out, false)) < 0) goto done;
  rc = decode_peers(pb->providerpeers, pb->n_providerpeers, out, true);
done:
  p2p__kad_message__free_unpacked(pb, NULL);
  if (rc < 0) kad_msg_free(out);
  return rc < 0 ? rc : 0;
}

/* The generated Peer structs for a list, pointing into m (nothing copied). */
typedef struct pb_peers {
  P2p__KadMessage__Peer *peers;
  P2p__KadMessage__Peer **ptrs;
  ProtobufCBinaryData *addrs;
} pb_peers_t;

static int pb_peers_make(const kad_msg_peer_t *in, size_t n, pb_peers_t *out) {
  memset(out, 0, sizeof *out);
  if (!n) return 0;
  out->peers = calloc(n, sizeof *out->peers);
  out->ptrs = calloc(n, sizeof *out->ptrs);
  out->addrs = calloc(n * KAD_MSG_ADDRS_MAX, sizeof *out->addrs);
  if (!out->peers || !out->ptrs || !out->addrs) return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    P2p__KadMessage__Peer *p = &out->peers[i];
    p2p__kad_message__peer__init(p);
    p->id.data = (uint8_t *)in[i].id.bytes;
    p->id.len = in[i].id.len;
    ProtobufCBinaryData *a = &out->addrs[i * KAD_MSG_ADDRS_MAX];
    assert(in[i].addr_count <= KAD_MSG_ADDRS_MAX);
    for (size_t j = 0; j < in[i].addr_count; j++) {
      a[j].data = (uint8_t *)in[i].addrs[j].bytes;
      a[j].len = in[i].addrs[j].len;
    }
    p->n_addrs = in[i].addr_count;
    p->addrs = p->n_addrs ? a : NULL;
    p->connection = (P2p__KadMessage__ConnectionType)in[i].connection;
    out->ptrs[i] = p;
  }
  return 0;
}

static void pb_peers_free(pb_peers_t *p) {
  free(p->peers);
  free(p->ptrs);
  free(p->addrs);
}

int kad_msg_encode(const kad_msg_t *m, buf_t *out) {
  P2p__KadMessage pb;
  p2p__kad_message__init(&pb);
  P2p__KadRecord record;
  pb.type = (P2p__KadMessage__MessageType)m->type;
  pb.clusterlevelraw = m->cluster_level;
  pb.key.data = m->key.data;
  pb.key.len = m->key.len;
  if (m->has_record) {
    p2p__kad_record__init(&record);
    record.key.data = m->record_key.data;
    record.key.len = m->record_key.len;
    record.value.data = m->record_value.data;
    record.value.len = m->record_value.len;
    record.timereceived = (char *)m->time_received;
    pb.record = &record;
  }
  pb_peers_t closer, providers;
  int rc = pb_peers_make(m->closer, m->closer_count, &closer);
  if (!rc) rc = pb_peers_make(m->providers, m->provider_count, &providers);
  else memset(&providers, 0, sizeof providers);
  if (!rc) {
    pb.n_closerpeers = m->closer_count;
    pb.closerpeers = closer.ptrs;
    pb.n_providerpeers = m->provider_count;
    pb.providerpeers = providers.ptrs;
    size_t size = p2p__kad_message__get_packed_size(&pb);
    if (size > KAD_MSG_BYTES_MAX)
      rc = err_set(-EMSGSIZE, "kad message of %zu bytes (limit %u)", size, KAD_MSG_BYTES_MAX);
    else if (!(rc = buf_reserve(out, size + 1))) {
      size_t wrote = p2p__kad_message__pack(&pb, out->data + out->len);
      assert(wrote == size);
      out->len += wrote;
    }
  }
  pb_peers_free(&closer);
  pb_peers_free(&providers);
  return rc;
}
