/*
 * kad_store: provider and value records in LevelDB (layout in
 * kad_internal.h).  Writes are not synced: records are soft state that the
 * network re-announces (providers every 22 h), so a crash losing the last
 * few is harmless.
 */
#include <errno.h>
#include <leveldb/c.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "kad_internal.h"

struct kad_store {
  leveldb_t *db;
  leveldb_options_t *options;
  leveldb_readoptions_t *read;
  leveldb_writeoptions_t *write;
  kad_clock_fn clock;
  void *clock_ctx;
};

#define STORE_SWEEP_BATCH 1024 /* deletes per write batch during a sweep */

static uint64_t wall_ms(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) p[7 - i] = (uint8_t)(v >> (i * 8));
}

static uint64_t get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

static int db_error(char *error, const char *what) {
  int rc = err_set(-EIO, "dht store: %s: %s", what, error);
  leveldb_free(error);
  return rc;
}

int kad_store_open(const char *dir, kad_clock_fn clock, void *clock_ctx, kad_store_t **out) {
  kad_store_t *s = calloc(1, sizeof *s);
  if (!s) return -ENOMEM;
  s->clock = clock ? clock : wall_ms;
  s->clock_ctx = clock_ctx;
  s->options = leveldb_options_create();
  leveldb_options_set_create_if_missing(s->options, 1);
  leveldb_options_set_max_open_files(s->options, 16);
  s->read = leveldb_readoptions_create();
  s->write = leveldb_writeoptions_create();
  char *error = NULL;
  s->db = leveldb_open(s->options, dir, &error);
  if (error) {
    int rc = err_set(-EIO, "dht store %s: %s", dir, error);
    leveldb_free(error);
    kad_store_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

void kad_store_close(kad_store_t *s) {
  if (!s) return;
  if (s->db) leveldb_close(s->db);
  leveldb_options_destroy(s->options);
  leveldb_readoptions_destroy(s->read);
  leveldb_writeoptions_destroy(s->write);
  free(s);
}

uint64_t kad_store_now_ms(kad_store_t *s) { return s->clock(s->clock_ctx); }

/* 'p' ‖ u8 len ‖ mh, the prefix of mh's providers; returns its length. */
static size_t provider_prefix(const uint8_t *mh, size_t mh_len, uint8_t *out) {
  out[0] = 'p';
  out[1] = (uint8_t)mh_len;
  memcpy(out + 2, mh, mh_len);
  return 2 + mh_len;
}

int kad_store_add_provider(kad_store_t *s, const uint8_t *mh, size_t mh_len, const peer_id_t *provider,
                           const multiaddr_t *addrs, size_t n) {
  if (!mh_len || mh_len > 255) return err_set(-EINVAL, "dht store: provider key of %zu bytes", mh_len);
  uint8_t key[2 + 255 + PEER_ID_BYTES_MAX];
  size_t key_len = provider_prefix(mh, mh_len, key);
  memcpy(key + key_len, provider->bytes, provider->len);
  key_len += provider->len;
  if (n > KAD_MSG_ADDRS_MAX) n = KAD_MSG_ADDRS_MAX;
  uint8_t value[9 + KAD_MSG_ADDRS_MAX * (2 + MA_BYTES_MAX)];
  put_u64(value, kad_store_now_ms(s) + KAD_PROVIDER_TTL_MS);
  value[8] = (uint8_t)n;
  size_t len = 9;
  for (size_t i = 0; i < n; i++) {
    value[len] = (uint8_t)(addrs[i].len >> 8);
    value[len + 1] = (uint8_t)addrs[i].len;
    memcpy(value + len + 2, addrs[i].bytes, addrs[i].len);
    len += 2 + addrs[i].len;
  }
  char *error = NULL;
  leveldb_put(s->db, s->write, (const char *)key, key_len, (const char *)value, len, &error);
  return error ? db_error(error, "write failed") : 0;
}

/* Decodes a provider value; false when malformed. */
static bool provider_value(const uint8_t *v, size_t len, uint64_t *expires_ms, multiaddr_t *addrs, size_t *n) {
  if (len < 9) return false;
  *expires_ms = get_u64(v);
  size_t count = v[8], pos = 9;
  *n = 0;
  for (size_t i = 0; i < count && i < KAD_MSG_ADDRS_MAX; i++) {
    if (pos + 2 > len) return false;
    size_t a = (size_t)v[pos] << 8 | v[pos + 1];
    if (pos + 2 + a > len) return false;
    if (ma_from_bytes(v + pos + 2, a, &addrs[*n]) == 0) ++*n;
    pos += 2 + a;
  }
  return true;
}

int kad_store_providers(kad_store_t *s, const uint8_t *mh, size_t mh_len, kad_store_provider_fn fn, void *ctx) {
  if (!mh_len || mh_len > 255) return err_set(-EINVAL, "dht store: provider key of %zu bytes", mh_len);
  uint8_t prefix[2 + 255];
  size_t prefix_len = provider_prefix(mh, mh_len, prefix);
  uint64_t now = kad_store_now_ms(s);
  leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->read);
  int rc = 0, count = 0;
  multiaddr_t *addrs = malloc(KAD_MSG_ADDRS_MAX * sizeof *addrs);
  if (!addrs) rc = -ENOMEM;
  for (leveldb_iter_seek(it, (const char *)prefix, prefix_len); !rc && leveldb_iter_valid(it);
       leveldb_iter_next(it)) {
    size_t klen, vlen;
    const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &klen);
    if (klen <= prefix_len || memcmp(k, prefix, prefix_len) != 0) break;
    if (count >= KAD_STORE_PROVIDERS_MAX) break;
    const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vlen);
    uint64_t expires;
    size_t n;
    peer_id_t id;
    if (!provider_value(v, vlen, &expires, addrs, &n) || expires <= now) continue;
    if (peer_id_from_bytes(k + prefix_len, klen - prefix_len, &id) < 0) continue;
    count++;
    rc = fn ? fn(ctx, &id, addrs, n) : 0;
  }
  char *error = NULL;
  leveldb_iter_get_error(it, &error);
  leveldb_iter_destroy(it);
  free(addrs);
  if (error) return db_error(error, "read failed");
  return rc ? rc : count;
}

int kad_store_put_value(kad_store_t *s, const uint8_t *key, size_t key_len, const uint8_t *value, size_t len) {
  if (!key_len || key_len > KAD_KEY_BYTES_MAX || len > KAD_VALUE_BYTES_MAX)
    return err_set(-EINVAL, "dht store: record key of %zu or value of %zu bytes", key_len, len);
  uint8_t k[1 + KAD_KEY_BYTES_MAX];
  k[0] = 'v';
  memcpy(k + 1, key, key_len);
  uint8_t *v = malloc(16 + len);
  if (!v) return -ENOMEM;
  uint64_t now = kad_store_now_ms(s);
  put_u64(v, now + KAD_VALUE_TTL_MS);
  put_u64(v + 8, now);
  if (len) memcpy(v + 16, value, len);
  char *error = NULL;
  leveldb_put(s->db, s->write, (const char *)k, 1 + key_len, (const char *)v, 16 + len, &error);
  free(v);
  return error ? db_error(error, "write failed") : 0;
}

int kad_store_get_value(kad_store_t *s, const uint8_t *key, size_t key_len, buf_t *out) {
  if (!key_len || key_len > KAD_KEY_BYTES_MAX) return -ENOENT;
  uint8_t k[1 + KAD_KEY_BYTES_MAX];
  k[0] = 'v';
  memcpy(k + 1, key, key_len);
  size_t len = 0;
  char *error = NULL;
  char *v = leveldb_get(s->db, s->read, (const char *)k, 1 + key_len, &len, &error);
  if (error) {
    leveldb_free(v);
    return db_error(error, "read failed");
  }
  int rc = -ENOENT;
  if (v && len >= 16 && get_u64((const uint8_t *)v) > kad_store_now_ms(s)) {
    buf_reset(out);
    rc = buf_append(out, v + 16, len - 16);
  }
  leveldb_free(v);
  return rc;
}

int kad_store_sweep(kad_store_t *s, uint64_t *removed) {
  uint64_t now = kad_store_now_ms(s), gone = 0;
  leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->read);
  leveldb_writebatch_t *batch = leveldb_writebatch_create();
  size_t pending = 0;
  char *error = NULL;
  for (leveldb_iter_seek_to_first(it); leveldb_iter_valid(it) && !error; leveldb_iter_next(it)) {
    size_t klen, vlen;
    const char *k = leveldb_iter_key(it, &klen);
    const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vlen);
    bool expired = klen == 0 || vlen < 8 || get_u64(v) <= now || (k[0] != 'p' && k[0] != 'v');
    if (!expired) continue;
    leveldb_writebatch_delete(batch, k, klen);
    gone++;
    if (++pending == STORE_SWEEP_BATCH) {
      leveldb_write(s->db, s->write, batch, &error);
      leveldb_writebatch_clear(batch);
      pending = 0;
    }
  }
  if (!error) leveldb_iter_get_error(it, &error);
  if (!error && pending) leveldb_write(s->db, s->write, batch, &error);
  leveldb_writebatch_destroy(batch);
  leveldb_iter_destroy(it);
  if (error) return db_error(error, "sweep failed");
  if (removed) *removed = gone;
  return 0;
}
