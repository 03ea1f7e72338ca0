/*
 * ipns_name: publishing our name and resolving any name (see ipns.h):
 * the local record under <repo>/ipns/, the DHT through kad, and a small
 * cache that honours the records' TTLs.
 */
#include "ipns.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cid.h"
#include "err.h"
#include "log.h"

#define REPUBLISH_REMAINING_MS_MIN (24ull * 3600 * 1000) /* re-sign when less validity than this is left */

typedef struct cache_entry {
  peer_id_t name;
  char *value;          /* owned */
  int64_t expires_ms;   /* wall clock */
} cache_entry_t;

struct ipns {
  ipns_routing_t routing; /* put/get NULL: no DHT */
  peer_key_t key;
  char self_name[PEER_ID_TEXT_BYTES_MAX]; /* base36 */
  char dir[PATH_MAX];                     /* <repo>/ipns */
  char record_path[PATH_MAX];             /* <repo>/ipns/<base36 name> */
  int64_t (*now_ms)(void);
  pthread_mutex_t publish_lock;           /* one publish at a time: sequences never repeat */
  pthread_mutex_t cache_lock;
  cache_entry_t *cache;                   /* IPNS_CACHE_ENTRIES_MAX slots, allocated with the ipns_t */
  size_t cache_len;
  /* the republisher (ipns_opts_t.republish_interval_ms) */
  uint64_t republish_interval_ms;         /* 0: none */
  pthread_t republisher;
  bool republisher_running;
  pthread_mutex_t republish_lock;         /* guards stopping and republish_passes */
  pthread_cond_t republish_wake;          /* CLOCK_MONOTONIC; signalled by ipns_free */
  bool stopping;
  uint64_t republish_passes;              /* ipns_republish calls made by the thread */
};

static void *republisher_main(void *arg);

int ipns_new(const ipns_opts_t *opts, ipns_t **out) {
  if (!opts || !opts->key || !opts->repo_path) return err_set(-EINVAL, "ipns needs a key and a repository");
  ipns_t *n = calloc(1, sizeof *n);
  if (!n || !(n->cache = calloc(IPNS_CACHE_ENTRIES_MAX, sizeof *n->cache))) {
    if (n) free(n);
    return -ENOMEM;
  }
  if (opts->routing) n->routing = *opts->routing;
  n->key = *opts->key;
  n->now_ms = opts->now_ms ? opts->now_ms : ipns_now_ms;
  int rc = peer_id_format_base36(&n->key.id, n->self_name);
  if (!rc && ((size_t)snprintf(n->dir, sizeof n->dir, "%s/ipns", opts->repo_path) >= sizeof n->dir ||
              (size_t)snprintf(n->record_path, sizeof n->record_path, "%s/%s", n->dir, n->self_name) >=
                  sizeof n->record_path))
    rc = err_set(-ENAMETOOLONG, "repository path too long for %s/ipns", opts->repo_path);
  if (rc) {
    free(n->cache);
    free(n);
    return rc;
  }
  pthread_mutex_init(&n->publish_lock, NULL);
  pthread_mutex_init(&n->cache_lock, NULL);
  pthread_mutex_init(&n->republish_lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&n->republish_wake, &attr);
  pthread_condattr_destroy(&attr);
  n->republish_interval_ms = n->routing.put ? opts->republish_interval_ms : 0;
  if (n->republish_interval_ms) {
    int prc = pthread_create(&n->republisher, NULL, republisher_main, n);
    if (prc) {
      ipns_free(n);
      return err_set(-prc, "ipns: cannot start the republisher thread");
    }
    n->republisher_running = true;
  }
  *out = n;
  return 0;
}

void ipns_free(ipns_t *n) {
  if (!n) return;
  pthread_mutex_lock(&n->republish_lock);
  n->stopping = true;
  pthread_cond_broadcast(&n->republish_wake);
  pthread_mutex_unlock(&n->republish_lock);
  if (n->republisher_running) pthread_join(n->republisher, NULL);
  pthread_cond_destroy(&n->republish_wake);
  pthread_mutex_destroy(&n->republish_lock);
  for (size_t i = 0; i < n->cache_len; i++) free(n->cache[i].value);
  free(n->cache);
  pthread_mutex_destroy(&n->publish_lock);
  pthread_mutex_destroy(&n->cache_lock);
  free(n);
}

int ipns_self_name(const ipns_t *n, char out[PEER_ID_TEXT_BYTES_MAX]) {
  memcpy(out, n->self_name, sizeof n->self_name);
  return 0;
}

/* ---- the local record --------------------------------------------------------- */

/* Our last record into rec and e (whatever its validity).  -ENOENT none. */
static int local_load(ipns_t *n, buf_t *rec, ipns_entry_t *e) {
  int fd = open(n->record_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? -ENOENT : err_set(-errno, "cannot open %s: %s", n->record_path, strerror(errno));
  int rc = buf_reserve(rec, IPNS_RECORD_BYTES_MAX + 1);
  ssize_t got = 0;
  while (!rc && rec->len <= IPNS_RECORD_BYTES_MAX) {
    got = read(fd, rec->data + rec->len, IPNS_RECORD_BYTES_MAX + 1 - rec->len);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) rc = err_set(-errno, "cannot read %s: %s", n->record_path, strerror(errno));
    if (got <= 0) break;
    rec->len += (size_t)got;
  }
  close(fd);
  /* INT64_MIN as "now": an expired record still gives its sequence. */
  if (!rc) rc = ipns_record_validate(&n->key.id, rec->data, rec->len, INT64_MIN, e);
  if (rc && rc != -ENOMEM) rc = err_set(-EBADMSG, "%s: %s", n->record_path, err_msg(rc));
  return rc;
}

static int local_store(ipns_t *n, const buf_t *rec) {
  char tmp[PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", n->record_path);
  if (mkdir(n->dir, 0700) != 0 && errno != EEXIST) return err_set(-errno, "cannot create %s: %s", n->dir, strerror(errno));
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return err_set(-errno, "cannot create %s: %s", tmp, strerror(errno));
  int rc = 0;
  for (size_t done = 0; !rc && done < rec->len;) {
    ssize_t w = write(fd, rec->data + done, rec->len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) rc = err_set(-errno, "cannot write %s: %s", tmp, strerror(errno));
    else done += (size_t)w;
  }
  if (!rc && fsync(fd) != 0) rc = err_set(-errno, "cannot fsync %s: %s", tmp, strerror(errno));
  close(fd);
  if (!rc && rename(tmp, n->record_path) != 0) rc = err_set(-errno, "cannot rename %s: %s", tmp, strerror(errno));
  if (rc) {
    unlink(tmp);
    return rc;
  }
  int dfd = open(n->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    if (fsync(dfd) != 0) rc = err_set(-errno, "cannot fsync %s: %s", n->dir, strerror(errno));
    close(dfd);
  }
  return rc;
}

/* ---- publish ------------------------------------------------------------------- */

/* value in its published form: "/ipfs/<cid in default text>[/path]" or
 * "/ipns/<base36 name>[/path]". */
static int normalize_value(const char *value, char out[IPNS_VALUE_BYTES_MAX + 1]) {
  bool ipns = false;
  if (strncmp(value, "/ipfs/", 6) == 0) value += 6;
  else if (strncmp(value, "/ipns/", 6) == 0) value += 6, ipns = true;
  const char *slash = strchr(value, '/');
  size_t len = slash ? (size_t)(slash - value) : strlen(value);
  const char *rest = slash ? slash : "";
  char text[PEER_ID_TEXT_BYTES_MAX > CID_TEXT_BYTES_MAX ? PEER_ID_TEXT_BYTES_MAX : CID_TEXT_BYTES_MAX];
  if (len == 0 || len >= sizeof text) return err_set(-EINVAL, "'%.100s' is not /ipfs/<cid>[/path] or /ipns/<name>", value);
  if (ipns) {
    char name[PEER_ID_TEXT_BYTES_MAX];
    peer_id_t id;
    memcpy(name, value, len), name[len] = 0;
    if (peer_id_parse(name, &id) || peer_id_format_base36(&id, text))
      return err_set(-EINVAL, "'%s' is not an IPNS name", name);
  } else {
    cid_t cid;
    if (cid_parse_len(&cid, value, len) || cid_format_default(&cid, text))
      return err_set(-EINVAL, "'%.*s' is not a CID", (int)len, value);
  }
  int w = snprintf(out, IPNS_VALUE_BYTES_MAX + 1, "/%s/%s%s", ipns ? "ipns" : "ipfs", text, rest);
  if (w < 0 || w > IPNS_VALUE_BYTES_MAX) return err_set(-EINVAL, "an IPNS value is at most %u bytes", IPNS_VALUE_BYTES_MAX);
  return 0;
}

static int dht_put(ipns_t *n, const buf_t *rec, uint32_t timeout_ms) {
  if (!n->routing.put) return 0;
  uint8_t key[6 + PEER_ID_BYTES_MAX];
  size_t key_len = ipns_dht_key(&n->key.id, key);
  return n->routing.put(n->routing.ctx, key, key_len, rec->data, rec->len, timeout_ms);
}

/* Signs and stores a record for value with the sequence after prev's. */
static int publish_locked(ipns_t *n, const char *value, uint64_t sequence, uint64_t lifetime_ms, uint64_t ttl_ns,
                          buf_t *rec, ipns_entry_t *out) {
  int64_t validity_ms = n->now_ms() + (int64_t)(lifetime_ms ? lifetime_ms : IPNS_LIFETIME_MS_DEFAULT);
  int rc = ipns_record_create(&n->key, value, sequence, validity_ms, ttl_ns ? ttl_ns : IPNS_TTL_NS_DEFAULT, rec);
  if (!rc) rc = local_store(n, rec);
  if (!rc && out) rc = ipns_record_validate(&n->key.id, rec->data, rec->len, INT64_MIN, out);
  return rc;
}

int ipns_publish(ipns_t *n, const char *value, uint64_t lifetime_ms, uint64_t ttl_ns, uint32_t timeout_ms,
                 ipns_entry_t *out) {
  char normal[IPNS_VALUE_BYTES_MAX + 1];
  int rc = normalize_value(value, normal);
  if (rc) return rc;
  if (lifetime_ms > (uint64_t)INT64_MAX / 2) return err_set(-EINVAL, "IPNS lifetime too long");
  buf_t prev = {0}, rec = {0};
  ipns_entry_t last;
  pthread_mutex_lock(&n->publish_lock);
  rc = local_load(n, &prev, &last);
  uint64_t sequence = 0;
  if (rc == 0) sequence = last.sequence + 1;
  else if (rc == -ENOENT || rc == -EBADMSG) rc = 0; /* none, or unreadable: start over (logged) */
  if (!rc) rc = publish_locked(n, normal, sequence, lifetime_ms, ttl_ns, &rec, out);
  pthread_mutex_unlock(&n->publish_lock);
  if (!rc) {
    log_kv(LOG_LEVEL_INFO, "ipns",
           ((log_kv_t[]){LOG_STR("name", n->self_name), LOG_STR("value", normal), LOG_INT("sequence", sequence)}),
           "published");
    rc = dht_put(n, &rec, timeout_ms);
  }
  buf_free(&prev);
  buf_free(&rec);
  return rc;
}

int ipns_republish(ipns_t *n, uint32_t timeout_ms) {
  buf_t rec = {0}, fresh = {0};
  ipns_entry_t last;
  pthread_mutex_lock(&n->publish_lock);
  int rc = local_load(n, &rec, &last);
  if (!rc && last.validity_ms - n->now_ms() < (int64_t)REPUBLISH_REMAINING_MS_MIN) {
    rc = publish_locked(n, last.value, last.sequence + 1, 0, last.ttl_ns, &fresh, NULL);
    if (!rc) {
      buf_t t = rec;
      rec = fresh, fresh = t;
    }
  }
  pthread_mutex_unlock(&n->publish_lock);
  if (!rc) rc = dht_put(n, &rec, timeout_ms);
  buf_free(&rec);
  buf_free(&fresh);
  return rc;
}

/* Waits until ms have passed on the monotonic clock or ipns_free says stop;
 * true when stopping. */
static bool republisher_wait(ipns_t *n, uint64_t ms) {
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += (time_t)(ms / 1000);
  until.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
  pthread_mutex_lock(&n->republish_lock);
  /* bounded: each pass either times out (then we return) or is a wake-up
   * (stop, or spurious: the deadline is unchanged) */
  while (!n->stopping && pthread_cond_timedwait(&n->republish_wake, &n->republish_lock, &until) != ETIMEDOUT) {
  }
  bool stop = n->stopping;
  pthread_mutex_unlock(&n->republish_lock);
  return stop;
}

/* The republisher: the first pass after min(interval, IPNS_REPUBLISH_FIRST_MS),
 * then one every interval, until ipns_free.  A pass that finds no record
 * (never published) does nothing; failures are logged and retried at the
 * next pass. */
static void *republisher_main(void *arg) {
  ipns_t *n = arg;
  uint64_t wait_ms = n->republish_interval_ms < IPNS_REPUBLISH_FIRST_MS ? n->republish_interval_ms
                                                                       : IPNS_REPUBLISH_FIRST_MS;
  while (!republisher_wait(n, wait_ms)) {
    int rc = ipns_republish(n, IPNS_REPUBLISH_TIMEOUT_MS);
    if (rc >= 0)
      log_kv(LOG_LEVEL_INFO, "ipns", ((log_kv_t[]){LOG_STR("name", n->self_name), LOG_INT("peers", rc)}),
             "republished");
    else if (rc != -ENOENT)
      log_kv(LOG_LEVEL_WARN, "ipns", ((log_kv_t[]){LOG_STR("name", n->self_name), LOG_STR("error", err_msg(rc))}),
             "republish failed");
    pthread_mutex_lock(&n->republish_lock);
    n->republish_passes++;
    pthread_mutex_unlock(&n->republish_lock);
    wait_ms = n->republish_interval_ms;
  }
  return NULL;
}

uint64_t ipns_republish_passes(ipns_t *n) {
  pthread_mutex_lock(&n->republish_lock);
  uint64_t passes = n->republish_passes;
  pthread_mutex_unlock(&n->republish_lock);
  return passes;
}

/* ---- the cache ------------------------------------------------------------------ */

static bool cache_get(ipns_t *n, const peer_id_t *name, int64_t now_ms, char out[IPNS_VALUE_BYTES_MAX + 1]) {
  bool hit = false;
  pthread_mutex_lock(&n->cache_lock);
  for (size_t i = 0; i < n->cache_len && !hit; i++)
    if (peer_id_equal(&n->cache[i].name, name) && n->cache[i].expires_ms > now_ms) {
      snprintf(out, IPNS_VALUE_BYTES_MAX + 1, "%s", n->cache[i].value);
      hit = true;
    }
  pthread_mutex_unlock(&n->cache_lock);
  return hit;
}

static void cache_put(ipns_t *n, const peer_id_t *name, const ipns_entry_t *e, int64_t now_ms) {
  uint64_t ttl_ms = e->ttl_ns / 1000000;
  if (ttl_ms > IPNS_CACHE_TTL_MS_MAX) ttl_ms = IPNS_CACHE_TTL_MS_MAX;
  int64_t expires_ms = now_ms + (int64_t)ttl_ms;
  if (expires_ms > e->validity_ms) expires_ms = e->validity_ms;
  if (ttl_ms == 0 || expires_ms <= now_ms) return;
  char *value = strdup(e->value);
  if (!value) return; /* a cache miss later, nothing worse */
  pthread_mutex_lock(&n->cache_lock);
  size_t slot = n->cache_len;
  for (size_t i = 0; i < n->cache_len; i++)
    if (peer_id_equal(&n->cache[i].name, name)) slot = i;
  if (slot == n->cache_len && n->cache_len == IPNS_CACHE_ENTRIES_MAX) {
    slot = 0; /* full: the entry that expires first goes */
    for (size_t i = 1; i < n->cache_len; i++)
      if (n->cache[i].expires_ms < n->cache[slot].expires_ms) slot = i;
  }
  if (slot == n->cache_len) n->cache_len++;
  else free(n->cache[slot].value);
  n->cache[slot] = (cache_entry_t){.name = *name, .value = value, .expires_ms = expires_ms};
  pthread_mutex_unlock(&n->cache_lock);
}

/* ---- resolve ------------------------------------------------------------------- */

/* The value of one name: ours from the local record, else cache, else DHT. */
static int resolve_one(ipns_t *n, const peer_id_t *name, const char *text, uint32_t timeout_ms,
                       char value[IPNS_VALUE_BYTES_MAX + 1]) {
  int64_t now_ms = n->now_ms();
  ipns_entry_t *e = malloc(sizeof *e);
  if (!e) return -ENOMEM;
  buf_t rec = {0};
  int rc;
  if (peer_id_equal(name, &n->key.id)) {
    rc = local_load(n, &rec, e);
    if (!rc && e->validity_ms <= now_ms) rc = err_set(-ENOENT, "our IPNS record for %s expired", text);
    if (rc == -ENOENT && n->routing.get) goto dht; /* never published here: maybe from another node with our key */
    if (rc == -ENOENT) rc = err_set(-ENOENT, "no IPNS record for %s (never published)", text);
    goto done;
  }
  if (cache_get(n, name, now_ms, value)) {
    rc = 0;
    goto done_cached;
  }
  if (!n->routing.get) {
    rc = err_set(-ENOENT, "no IPNS record for %s (the DHT is off: p2p listener off)", text);
    goto done;
  }
dht : {
  uint8_t key[6 + PEER_ID_BYTES_MAX];
  size_t key_len = ipns_dht_key(name, key);
  buf_reset(&rec);
  rc = n->routing.get(n->routing.ctx, key, key_len, &rec, timeout_ms);
  if (rc == -ENOENT) rc = err_set(-ENOENT, "no IPNS record for %s in the DHT", text);
  else if (rc == -ETIMEDOUT) rc = err_set(-ETIMEDOUT, "no IPNS record for %s within %u ms", text, timeout_ms);
  if (!rc) rc = ipns_record_validate(name, rec.data, rec.len, now_ms, e);
  if (!rc) cache_put(n, name, e, now_ms);
}
done:
  if (!rc) snprintf(value, IPNS_VALUE_BYTES_MAX + 1, "%s", e->value);
done_cached:
  buf_free(&rec);
  free(e);
  return rc;
}

int ipns_resolve(ipns_t *n, const char *name, uint32_t timeout_ms, char out[IPNS_PATH_BYTES_MAX]) {
  char path[IPNS_PATH_BYTES_MAX];
  if (strncmp(name, "/ipns/", 6) == 0) name += 6;
  if ((size_t)snprintf(path, sizeof path, "/ipns/%s", name) >= sizeof path)
    return err_set(-ENAMETOOLONG, "IPNS path longer than %d bytes", IPNS_PATH_BYTES_MAX);
  char value[IPNS_VALUE_BYTES_MAX + 1];
  for (int depth = 0; depth < IPNS_RESOLVE_DEPTH_MAX; depth++) {
    assert(strncmp(path, "/ipns/", 6) == 0);
    const char *start = path + 6;
    const char *slash = strchr(start, '/');
    size_t len = slash ? (size_t)(slash - start) : strlen(start);
    char text[PEER_ID_TEXT_BYTES_MAX];
    peer_id_t id;
    if (len == 0 || len >= sizeof text) return err_set(-EINVAL, "'%.100s' is not an IPNS name", start);
    memcpy(text, start, len), text[len] = 0;
    if (peer_id_parse(text, &id))
      return err_set(-EINVAL, "'%s' is not an IPNS name (a k51… or 12D3… key; DNSLink names are not resolved)", text);
    int rc = resolve_one(n, &id, text, timeout_ms, value);
    if (rc) return rc;
    if (strncmp(value, "/ipfs/", 6) != 0 && strncmp(value, "/ipns/", 6) != 0)
      return err_set(-EBADMSG, "the IPNS record of %s holds '%.100s', not a /ipfs/ or /ipns/ path", text, value);
    char next[IPNS_PATH_BYTES_MAX];
    const char *rest = slash ? slash : "";
    size_t vlen = strlen(value);
    while (vlen > 6 && value[vlen - 1] == '/' && *rest == '/') vlen--; /* no "//" at the join */
    if ((size_t)snprintf(next, sizeof next, "%.*s%s", (int)vlen, value, rest) >= sizeof next)
      return err_set(-ENAMETOOLONG, "resolved IPNS path longer than %d bytes", IPNS_PATH_BYTES_MAX);
    memcpy(path, next, sizeof path);
    if (strncmp(path, "/ipfs/", 6) == 0) {
      memcpy(out, path, IPNS_PATH_BYTES_MAX);
      return 0;
    }
  }
  return err_set(-ELOOP, "IPNS name %.100s: more than %d names deep", name, IPNS_RESOLVE_DEPTH_MAX);
}
