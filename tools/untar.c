/*
 * untar: the streaming tar reader (untar.h).  A 512-byte block buffer for
 * headers, a PAX buffer of at most UNTAR_PAX_BYTES_MAX; file content is
 * passed through in slices of the fed buffers.
 */
#include "untar.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define BLOCK 512

enum state { ST_HEADER, ST_PAX, ST_DATA, ST_PAD, ST_END };

struct untar {
  untar_ops_t ops;
  enum state state;
  int error;
  uint8_t block[BLOCK];
  size_t block_len;
  uint64_t left;          /* content (or PAX) bytes left in the entry */
  uint64_t pad;           /* padding bytes left */
  bool pax_global;        /* the PAX block being read is a 'g' one (ignored) */
  char *pax;              /* UNTAR_PAX_BYTES_MAX */
  size_t pax_len;
  /* the next entry's PAX overrides */
  bool has_path, has_link, has_size;
  untar_entry_t entry;
};

int untar_new(const untar_ops_t *ops, untar_t **out) {
  untar_t *u = calloc(1, sizeof *u);
  if (!u || !(u->pax = malloc(UNTAR_PAX_BYTES_MAX))) {
    free(u);
    return -ENOMEM;
  }
  u->ops = *ops;
  *out = u;
  return 0;
}

void untar_free(untar_t *u) {
  if (!u) return;
  free(u->pax);
  free(u);
}

static int octal_field(const uint8_t *f, size_t width, uint64_t *out) {
  if (f[0] & 0x80) return err_set(-EINVAL, "tar: base-256 numbers are not accepted");
  uint64_t v = 0;
  size_t i = 0;
  while (i < width && f[i] == ' ') i++;
  for (; i < width && f[i] >= '0' && f[i] <= '7'; i++) {
    if (v >> 61) return err_set(-EINVAL, "tar: number too large");
    v = v * 8 + (uint64_t)(f[i] - '0');
  }
  for (; i < width; i++)
    if (f[i] != ' ' && f[i] != '\0') return err_set(-EINVAL, "tar: bad octal number");
  *out = v;
  return 0;
}

/* Parses "LEN key=value\n" records. */
static int pax_parse(untar_t *u) {
  size_t pos = 0;
  while (pos < u->pax_len) {
    size_t len = 0, i = pos;
    while (i < u->pax_len && u->pax[i] >= '0' && u->pax[i] <= '9' && len < UNTAR_PAX_BYTES_MAX)
      len = len * 10 + (size_t)(u->pax[i++] - '0');
    if (i == pos || i >= u->pax_len || u->pax[i] != ' ' || len <= i - pos + 1 || pos + len > u->pax_len ||
        u->pax[pos + len - 1] != '\n')
      return err_set(-EINVAL, "tar: malformed PAX record");
    const char *key = u->pax + i + 1, *end = u->pax + pos + len - 1;
    const char *eq = memchr(key, '=', (size_t)(end - key));
    if (!eq) return err_set(-EINVAL, "tar: PAX record without '='");
    size_t klen = (size_t)(eq - key), vlen = (size_t)(end - eq - 1);
    const char *value = eq + 1;
    char *dst = NULL;
    if (klen == 4 && memcmp(key, "path", 4) == 0) dst = u->entry.path, u->has_path = true;
    else if (klen == 8 && memcmp(key, "linkpath", 8) == 0) dst = u->entry.link, u->has_link = true;
    if (dst) {
      if (vlen >= UNTAR_PATH_BYTES_MAX || memchr(value, '\0', vlen)) return err_set(-EINVAL, "tar: PAX path too long");
      memcpy(dst, value, vlen);
      dst[vlen] = '\0';
    } else if (klen == 4 && memcmp(key, "size", 4) == 0) {
      uint64_t v = 0;
      if (vlen == 0 || vlen > 19) return err_set(-EINVAL, "tar: bad PAX size");
      for (size_t k = 0; k < vlen; k++) {
        if (value[k] < '0' || value[k] > '9') return err_set(-EINVAL, "tar: bad PAX size");
        v = v * 10 + (uint64_t)(value[k] - '0');
      }
      u->entry.size = v;
      u->has_size = true;
    }
    pos += len;
  }
  return 0;
}

static int header(untar_t *u) {
  const uint8_t *h = u->block;
  bool zero = true;
  for (size_t i = 0; i < BLOCK && zero; i++) zero = h[i] == 0;
  if (zero) {
    u->state = ST_END;
    return 0;
  }
  uint64_t sum;
  int rc = octal_field(h + 148, 8, &sum);
  if (rc) return rc;
  uint64_t want = 0;
  for (size_t i = 0; i < BLOCK; i++) want += (i >= 148 && i < 156) ? ' ' : h[i];
  if (sum != want) return err_set(-EINVAL, "tar: header checksum mismatch");
  uint64_t mode, size;
  if ((rc = octal_field(h + 100, 8, &mode)) || (rc = octal_field(h + 124, 12, &size))) return rc;
  char type = (char)h[156];
  if (type == 'x' || type == 'g') {
    if (size > UNTAR_PAX_BYTES_MAX) return err_set(-EINVAL, "tar: PAX header larger than %d bytes", UNTAR_PAX_BYTES_MAX);
    u->pax_global = type == 'g';
    u->pax_len = 0;
    u->left = size;
    u->pad = (BLOCK - size % BLOCK) % BLOCK;
    u->state = ST_PAX;
    return 0;
  }
  if (type == '\0') type = '0';
  if (type != '0' && type != '5' && type != '2') return err_set(-EINVAL, "tar: unsupported entry type '%c'", type);
  untar_entry_t *e = &u->entry;
  if (!u->has_path) {
    char name[101], prefix[156];
    memcpy(name, h, 100), name[100] = '\0';
    memcpy(prefix, h + 345, 155), prefix[155] = '\0';
    bool ustar = memcmp(h + 257, "ustar", 5) == 0;
    if (ustar && prefix[0]) snprintf(e->path, sizeof e->path, "%s/%s", prefix, name);
    else snprintf(e->path, sizeof e->path, "%s", name);
  }
  if (!u->has_link) memcpy(e->link, h + 157, 100), e->link[100] = '\0';
  if (!u->has_size) e->size = size;
  e->type = type;
  e->mode = (uint32_t)(mode & 07777);
  if (type != '0') e->size = 0;
  u->has_path = u->has_link = u->has_size = false;
  if (u->ops.begin && (rc = u->ops.begin(u->ops.ctx, e))) return rc;
  u->left = e->size;
  u->pad = (BLOCK - e->size % BLOCK) % BLOCK;
  u->state = ST_DATA;
  if (u->left == 0) {
    if (u->ops.end && (rc = u->ops.end(u->ops.ctx))) return rc;
    u->state = ST_PAD;
  }
  return 0;
}

static int feed(untar_t *u, const uint8_t *p, size_t len) {
  int rc;
  while (len) {
    switch (u->state) {
      case ST_HEADER: {
        size_t n = BLOCK - u->block_len < len ? BLOCK - u->block_len : len;
        memcpy(u->block + u->block_len, p, n);
        u->block_len += n, p += n, len -= n;
        if (u->block_len < BLOCK) break;
        u->block_len = 0;
        if ((rc = header(u))) return rc;
        break;
      }
      case ST_PAX: {
        size_t n = u->left < len ? (size_t)u->left : len;
        memcpy(u->pax + u->pax_len, p, n);
        u->pax_len += n, u->left -= n, p += n, len -= n;
        if (u->left) break;
        if (!u->pax_global && (rc = pax_parse(u))) return rc;
        u->state = ST_PAD;
        break;
      }
      case ST_DATA: {
        size_t n = u->left < len ? (size_t)u->left : len;
        if (u->ops.data && (rc = u->ops.data(u->ops.ctx, p, n))) return rc;
        u->left -= n, p += n, len -= n;
        if (u->left) break;
        if (u->ops.end && (rc = u->ops.end(u->ops.ctx))) return rc;
        u->state = ST_PAD;
        break;
      }
      case ST_PAD: {
        size_t n = u->pad < len ? (size_t)u->pad : len;
        u->pad -= n, p += n, len -= n;
        if (!u->pad) u->state = ST_HEADER;
        break;
      }
      case ST_END:
        return 0;
    }
    if (u->state == ST_PAD && !u->pad) u->state = ST_HEADER;
  }
  if (u->state == ST_PAD && !u->pad) u->state = ST_HEADER;
  return 0;
}

int untar_feed(untar_t *u, const void *data, size_t len) {
  if (u->error) return u->error;
  int rc = feed(u, data, len);
  if (rc) u->error = rc;
  return rc;
}

int untar_finish(untar_t *u) {
  if (u->error) return u->error;
  if (u->state != ST_END) u->error = err_set(-EINVAL, "tar stream ended early");
  return u->error;
}
