/*
 * multiaddr: one table of the protocols we know (code, name, value kind),
 * one component reader shared by every binary walk, and per-kind text
 * codecs.  Every value accepted in binary formats to text that parses back
 * to the same bytes (the fuzz target checks it), so string values may not
 * hold '/' or NUL and peer IDs / certhashes must be well-formed.
 */
#include "multiaddr.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "multibase.h"
#include "multihash.h"
#include "varint.h"

#define MA_COMPONENTS_MAX 64 /* components in one address (each takes ≥ 2 bytes of MA_BYTES_MAX) */
#define MA_STRING_BYTES_MAX 253 /* a DNS name / SNI value */

typedef enum ma_kind {
  MA_NONE,    /* no value */
  MA_IP4,     /* 4 bytes */
  MA_IP6,     /* 16 bytes */
  MA_PORT,    /* 2 bytes big-endian */
  MA_STRING,  /* varint length, UTF-8 text without '/' */
  MA_PEER,    /* varint length, peer ID multihash; text base58btc */
  MA_CERTHASH /* varint length, multihash; text multibase (base64url out) */
} ma_kind_t;

typedef struct ma_proto {
  uint32_t code;
  const char *name;
  ma_kind_t kind;
} ma_proto_t;

#define MA_IP4_CODE 4
#define MA_TCP_CODE 6
#define MA_IP6_CODE 41
#define MA_P2P_CODE 421

static const ma_proto_t protos[] = {
    {MA_IP4_CODE, "ip4", MA_IP4},    {MA_TCP_CODE, "tcp", MA_PORT},    {MA_IP6_CODE, "ip6", MA_IP6},
    {53, "dns", MA_STRING},          {54, "dns4", MA_STRING},          {55, "dns6", MA_STRING},
    {56, "dnsaddr", MA_STRING},      {273, "udp", MA_PORT},            {MA_P2P_CODE, "p2p", MA_PEER},
    {460, "quic", MA_NONE},          {461, "quic-v1", MA_NONE},        {465, "webtransport", MA_NONE},
    {466, "certhash", MA_CERTHASH},  {477, "ws", MA_NONE},             {478, "wss", MA_NONE},
    {448, "tls", MA_NONE},           {449, "sni", MA_STRING},          {290, "p2p-circuit", MA_NONE},
};
#define PROTO_COUNT (sizeof protos / sizeof protos[0])

static const ma_proto_t *proto_by_code(uint64_t code) {
  for (size_t i = 0; i < PROTO_COUNT; i++)
    if (protos[i].code == code) return &protos[i];
  return NULL;
}

static const ma_proto_t *proto_by_name(const char *name, size_t len) {
  if (len == 4 && memcmp(name, "ipfs", 4) == 0) return proto_by_code(MA_P2P_CODE);
  for (size_t i = 0; i < PROTO_COUNT; i++)
    if (strlen(protos[i].name) == len && memcmp(protos[i].name, name, len) == 0) return &protos[i];
  return NULL;
}

/* One component of a binary address. */
typedef struct ma_comp {
  const ma_proto_t *proto;
  size_t start;       /* offset of the component (its code) */
  size_t end;         /* offset just past it */
  const uint8_t *value; /* the value bytes (after any length prefix) */
  size_t value_len;
} ma_comp_t;

/* Checks a variable-length value of kind `kind`. */
static int check_value(const ma_proto_t *p, const uint8_t *v, size_t n) {
  if (p->kind == MA_STRING) {
    if (n == 0 || n > MA_STRING_BYTES_MAX) return err_set(-EINVAL, "multiaddr: /%s value of %zu bytes", p->name, n);
    for (size_t i = 0; i < n; i++)
      if (v[i] == '/' || v[i] == 0) return err_set(-EINVAL, "multiaddr: /%s value holds '/' or NUL", p->name);
    return 0;
  }
  if (p->kind == MA_PEER) {
    peer_id_t id;
    return peer_id_from_bytes(v, n, &id) == 0 ? 0 : err_set(-EINVAL, "multiaddr: /p2p value is not a peer ID");
  }
  assert(p->kind == MA_CERTHASH);
  mh_t mh;
  int rc = mh_decode(v, n, &mh);
  if (rc < 0 || (size_t)rc != n) return err_set(-EINVAL, "multiaddr: /certhash value is not a multihash");
  return 0;
}

/* Reads the component at *off of in[0..len).  0 and advances *off, or -EINVAL. */
static int comp_next(const uint8_t *in, size_t len, size_t *off, ma_comp_t *c) {
  size_t at = *off;
  assert(at < len);
  uint64_t code;
  int n = varint_decode(in + at, len - at, &code);
  if (n < 0) return err_set(-EINVAL, "multiaddr: bad protocol code varint at byte %zu", at);
  const ma_proto_t *p = proto_by_code(code);
  if (!p) return err_set(-EINVAL, "multiaddr: unknown protocol code %llu", (unsigned long long)code);
  size_t pos = at + (size_t)n;
  size_t value_len;
  switch (p->kind) {
    case MA_NONE: value_len = 0; break;
    case MA_IP4: value_len = 4; break;
    case MA_IP6: value_len = 16; break;
    case MA_PORT: value_len = 2; break;
    default: {
      uint64_t vl;
      int m = varint_decode(in + pos, len - pos, &vl);
      if (m < 0) return err_set(-EINVAL, "multiaddr: bad /%s length varint", p->name);
      pos += (size_t)m;
      if (vl > len - pos) return err_set(-EINVAL, "multiaddr: /%s value runs past the end", p->name);
      value_len = (size_t)vl;
      int rc = check_value(p, in + pos, value_len);
      if (rc) return rc;
    }
  }
  if (value_len > len - pos) return err_set(-EINVAL, "multiaddr: /%s value truncated", p->name);
  c->proto = p;
  c->start = at;
  c->end = pos + value_len;
  c->value = in + pos;
  c->value_len = value_len;
  *off = c->end;
  return 0;
}

int ma_from_bytes(const uint8_t *in, size_t len, multiaddr_t *out) {
  assert(out != NULL && (in != NULL || len == 0));
  if (len == 0) return err_set(-EINVAL, "multiaddr: empty");
  if (len > MA_BYTES_MAX) return err_set(-EINVAL, "multiaddr: %zu bytes (at most %d)", len, MA_BYTES_MAX);
  size_t off = 0;
  for (size_t i = 0; off < len; i++) {
    assert(i < MA_BYTES_MAX);
    ma_comp_t c;
    int rc = comp_next(in, len, &off, &c);
    if (rc) return rc;
  }
  memcpy(out->bytes, in, len);
  out->len = (uint16_t)len;
  return 0;
}

/* --- text --- */

static int parse_port(const ma_proto_t *p, const char *s, size_t n, uint8_t v[2]) {
  if (n == 0 || n > 5 || (n > 1 && s[0] == '0')) return err_set(-EINVAL, "multiaddr: bad /%s port", p->name);
  unsigned port = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return err_set(-EINVAL, "multiaddr: bad /%s port", p->name);
    port = port * 10 + (unsigned)(s[i] - '0');
  }
  if (port > 65535) return err_set(-EINVAL, "multiaddr: /%s port %u out of range", p->name, port);
  v[0] = (uint8_t)(port >> 8);
  v[1] = (uint8_t)port;
  return 0;
}

/* Appends the binary value of one component from its text. */
static int parse_value(const ma_proto_t *p, const char *s, size_t n, buf_t *b) {
  char tmp[MA_TEXT_BYTES_MAX];
  if (n >= sizeof tmp) return err_set(-EINVAL, "multiaddr: /%s value too long", p->name);
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  switch (p->kind) {
    case MA_NONE: assert(0); return -EINVAL;
    case MA_IP4: {
      uint8_t a[4];
      if (inet_pton(AF_INET, tmp, a) != 1) return err_set(-EINVAL, "multiaddr: bad ip4 address \"%s\"", tmp);
      return buf_append(b, a, sizeof a);
    }
    case MA_IP6: {
      uint8_t a[16];
      if (inet_pton(AF_INET6, tmp, a) != 1) return err_set(-EINVAL, "multiaddr: bad ip6 address \"%s\"", tmp);
      return buf_append(b, a, sizeof a);
    }
    case MA_PORT: {
      uint8_t v[2];
      int rc = parse_port(p, s, n, v);
      return rc ? rc : buf_append(b, v, sizeof v);
    }
    case MA_STRING: {
      int rc = check_value(p, (const uint8_t *)s, n);
      if (rc == 0) rc = buf_append_varint(b, n);
      return rc ? rc : buf_append(b, s, n);
    }
    case MA_PEER: {
      peer_id_t id;
      if (peer_id_parse(tmp, &id) != 0) return err_set(-EINVAL, "multiaddr: bad peer ID \"%s\"", tmp);
      int rc = buf_append_varint(b, id.len);
      return rc ? rc : buf_append(b, id.bytes, id.len);
    }
    case MA_CERTHASH: {
      buf_t mh = {0};
      int rc = mbase_decode_prefixed(tmp, n, &mh, NULL);
      if (rc == 0) rc = check_value(p, mh.data, mh.len);
      else rc = err_set(-EINVAL, "multiaddr: /certhash value is not multibase");
      if (rc == 0) rc = buf_append_varint(b, mh.len);
      if (rc == 0) rc = buf_append(b, mh.data, mh.len);
      buf_free(&mh);
      return rc;
    }
  }
  return -EINVAL;
}

int ma_parse(const char *text, multiaddr_t *out) {
  assert(text != NULL && out != NULL);
  size_t len = strnlen(text, MA_TEXT_BYTES_MAX);
  if (len >= MA_TEXT_BYTES_MAX) return err_set(-EINVAL, "multiaddr: text too long");
  if (len == 0 || text[0] != '/') return err_set(-EINVAL, "multiaddr: \"%s\" does not start with '/'", text);
  buf_t b = {0};
  int rc = 0;
  size_t pos = 1;
  for (size_t i = 0; rc == 0 && pos <= len; i++) {
    assert(i <= MA_TEXT_BYTES_MAX);
    const char *name = text + pos;
    size_t name_len = strcspn(name, "/");
    if (name_len == 0) {
      rc = err_set(-EINVAL, "multiaddr: empty protocol name in \"%s\"", text);
      break;
    }
    const ma_proto_t *p = proto_by_name(name, name_len);
    if (!p) {
      rc = err_set(-EINVAL, "multiaddr: unknown protocol \"%.*s\"", (int)name_len, name);
      break;
    }
    pos += name_len;
    rc = buf_append_varint(&b, p->code);
    if (rc == 0 && p->kind != MA_NONE) {
      if (pos >= len) {
        rc = err_set(-EINVAL, "multiaddr: /%s needs a value", p->name);
        break;
      }
      const char *value = text + pos + 1;
      size_t value_len = strcspn(value, "/");
      rc = parse_value(p, value, value_len, &b);
      pos += 1 + value_len;
    }
    if (pos == len) break;
    assert(text[pos] == '/');
    pos++;
    if (pos == len) rc = err_set(-EINVAL, "multiaddr: trailing '/' in \"%s\"", text);
  }
  if (rc == 0 && b.len > MA_BYTES_MAX) rc = err_set(-EINVAL, "multiaddr: %zu bytes (at most %d)", b.len, MA_BYTES_MAX);
  if (rc == 0) rc = ma_from_bytes(b.data, b.len, out);
  buf_free(&b);
  return rc;
}

int ma_format(const multiaddr_t *ma, char out[MA_TEXT_BYTES_MAX]) {
  assert(ma != NULL && out != NULL);
  if (ma->len == 0 || ma->len > MA_BYTES_MAX) return err_set(-EINVAL, "multiaddr: empty");
  size_t at = 0, off = 0;
  int rc = 0;
  for (size_t i = 0; rc == 0 && off < ma->len; i++) {
    assert(i < MA_BYTES_MAX);
    ma_comp_t c;
    rc = comp_next(ma->bytes, ma->len, &off, &c);
    if (rc) break;
    char value[MA_TEXT_BYTES_MAX];
    value[0] = '\0';
    switch (c.proto->kind) {
      case MA_NONE: break;
      case MA_IP4: inet_ntop(AF_INET, c.value, value, sizeof value); break;
      case MA_IP6: inet_ntop(AF_INET6, c.value, value, sizeof value); break;
      case MA_PORT: snprintf(value, sizeof value, "%u", (unsigned)c.value[0] << 8 | c.value[1]); break;
      case MA_STRING:
        memcpy(value, c.value, c.value_len);
        value[c.value_len] = '\0';
        break;
      case MA_PEER: {
        peer_id_t id;
        rc = peer_id_from_bytes(c.value, c.value_len, &id);
        if (rc == 0) rc = peer_id_format(&id, value);
        break;
      }
      case MA_CERTHASH: {
        int n = mbase_encode_to(MBASE_BASE64URL, true, c.value, c.value_len, value, sizeof value);
        rc = n < 0 ? n : 0;
        break;
      }
    }
    if (rc) break;
    int n = c.proto->kind == MA_NONE ? snprintf(out + at, MA_TEXT_BYTES_MAX - at, "/%s", c.proto->name)
                                     : snprintf(out + at, MA_TEXT_BYTES_MAX - at, "/%s/%s", c.proto->name, value);
    if (n < 0 || (size_t)n >= MA_TEXT_BYTES_MAX - at) rc = err_set(-EINVAL, "multiaddr: text form too long");
    else at += (size_t)n;
  }
  if (rc) out[0] = '\0';
  return rc;
}

/* --- peers --- */

/* The last component, or -EINVAL for a malformed address. */
static int last_comp(const multiaddr_t *ma, ma_comp_t *last) {
  if (ma->len == 0) return -ENOENT;
  size_t off = 0;
  for (size_t i = 0; off < ma->len; i++) {
    assert(i < MA_BYTES_MAX);
    int rc = comp_next(ma->bytes, ma->len, &off, last);
    if (rc) return rc;
  }
  return 0;
}

int ma_peer_id(const multiaddr_t *ma, peer_id_t *id) {
  assert(ma != NULL && id != NULL);
  ma_comp_t last;
  if (last_comp(ma, &last) != 0 || last.proto->code != MA_P2P_CODE) return -ENOENT;
  return peer_id_from_bytes(last.value, last.value_len, id) == 0 ? 0 : -ENOENT;
}

void ma_without_peer(const multiaddr_t *ma, multiaddr_t *out) {
  assert(ma != NULL && out != NULL);
  ma_comp_t last;
  if (out != ma) *out = *ma;
  if (last_comp(ma, &last) == 0 && last.proto->code == MA_P2P_CODE) {
    memset(out->bytes + last.start, 0, out->len - last.start);
    out->len = (uint16_t)last.start;
  }
}

int ma_with_peer(const multiaddr_t *ma, const peer_id_t *id, multiaddr_t *out) {
  assert(ma != NULL && id != NULL && out != NULL);
  multiaddr_t m;
  ma_without_peer(ma, &m);
  uint8_t tail[2 * VARINT_BYTES_MAX + PEER_ID_BYTES_MAX];
  size_t n = varint_encode(MA_P2P_CODE, tail);
  n += varint_encode(id->len, tail + n);
  memcpy(tail + n, id->bytes, id->len);
  n += id->len;
  if (m.len + n > MA_BYTES_MAX) return err_set(-E2BIG, "multiaddr: no room for /p2p");
  memcpy(m.bytes + m.len, tail, n);
  m.len = (uint16_t)(m.len + n);
  *out = m;
  return 0;
}

/* --- sockets --- */

int ma_to_sockaddr(const multiaddr_t *ma, struct sockaddr_storage *out, socklen_t *len) {
  assert(ma != NULL && out != NULL && len != NULL);
  ma_comp_t c[3];
  size_t count = 0, off = 0;
  while (off < ma->len) {
    if (count == 3) return err_set(-EAFNOSUPPORT, "multiaddr: not a /ip4|ip6/.../tcp/N address");
    int rc = comp_next(ma->bytes, ma->len, &off, &c[count]);
    if (rc) return rc;
    count++;
  }
  if (count < 2 || c[1].proto->code != MA_TCP_CODE || (count == 3 && c[2].proto->code != MA_P2P_CODE) ||
      (c[0].proto->code != MA_IP4_CODE && c[0].proto->code != MA_IP6_CODE))
    return err_set(-EAFNOSUPPORT, "multiaddr: not a /ip4|ip6/.../tcp/N address");
  uint16_t port = (uint16_t)(c[1].value[0] << 8 | c[1].value[1]);
  memset(out, 0, sizeof *out);
  if (c[0].proto->code == MA_IP4_CODE) {
    struct sockaddr_in *sin = (struct sockaddr_in *)out;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    memcpy(&sin->sin_addr, c[0].value, 4);
    *len = sizeof *sin;
  } else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    memcpy(&sin6->sin6_addr, c[0].value, 16);
    *len = sizeof *sin6;
  }
  return 0;
}

int ma_from_sockaddr(const struct sockaddr *sa, multiaddr_t *out) {
  assert(sa != NULL && out != NULL);
  multiaddr_t m;
  memset(&m, 0, sizeof m);
  const uint8_t *addr;
  uint16_t port;
  bool v4;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
    addr = (const uint8_t *)&sin->sin_addr;
    port = ntohs(sin->sin_port);
    v4 = true;
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
    addr = (const uint8_t *)&sin6->sin6_addr;
    port = ntohs(sin6->sin6_port);
    v4 = IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr); /* a dual-stack socket's IPv4 peer */
    if (v4) addr += 12;
  } else {
    return err_set(-EAFNOSUPPORT, "multiaddr: address family %d", (int)sa->sa_family);
  }
  size_t n = 0;
  m.bytes[n++] = v4 ? MA_IP4_CODE : MA_IP6_CODE;
  memcpy(m.bytes + n, addr, v4 ? 4 : 16);
  n += v4 ? 4 : 16;
  m.bytes[n++] = MA_TCP_CODE;
  m.bytes[n++] = (uint8_t)(port >> 8);
  m.bytes[n++] = (uint8_t)port;
  m.len = (uint16_t)n;
  *out = m;
  return 0;
}

static bool ip4_private(const uint8_t a[4]) {
  return a[0] == 127 || a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168) ||
         (a[0] == 169 && a[1] == 254);
}

bool ma_is_private(const multiaddr_t *ma) {
  assert(ma != NULL);
  if (ma->len == 0) return false;
  size_t off = 0;
  ma_comp_t c;
  if (comp_next(ma->bytes, ma->len, &off, &c) != 0) return false;
  if (c.proto->code == MA_IP4_CODE) return ip4_private(c.value);
  if (c.proto->code != MA_IP6_CODE) return false;
  const uint8_t *a = c.value;
  static const uint8_t loopback[16] = {[15] = 1};
  static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
  if (memcmp(a, loopback, 16) == 0) return true;
  if (memcmp(a, mapped, 12) == 0) return ip4_private(a + 12);
  return (a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80); /* fc00::/7, fe80::/10 */
}

bool ma_equal(const multiaddr_t *a, const multiaddr_t *b) {
  assert(a != NULL && b != NULL);
  return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}
