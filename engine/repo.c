#include "repo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "multibase.h"

#define ED25519_BYTES 32
#define KEY_FILE_BYTES (4 + 2 * ED25519_BYTES) /* 08 01 12 40 seed||pub */

int repo_default_path(const char *flag, char out[REPO_PATH_BYTES_MAX]) {
  const char *p = flag;
  char tmp[REPO_PATH_BYTES_MAX];
  if (!p || !*p) p = getenv("ANYA_REPO");
  if (!p || !*p) {
    const char *home = getenv("HOME");
    if (!home || !*home) return err_set(-EINVAL, "no repository: set --repo, $ANYA_REPO or $HOME");
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/.anya", home) >= sizeof tmp)
      return err_set(-ENAMETOOLONG, "repository path too long");
    p = tmp;
  }
  if (strlen(p) >= REPO_PATH_BYTES_MAX) return err_set(-ENAMETOOLONG, "repository path too long");
  memmove(out, p, strlen(p) + 1);
  return 0;
}

static int join(char *out, const char *dir, const char *name) {
  if ((size_t)snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
    return err_set(-ENAMETOOLONG, "path too long: %s/%s", dir, name);
  return 0;
}

/* Writes a whole file durably: temp file, fsync, rename. */
static int write_file(const char *dir, const char *name, const void *data, size_t len, mode_t mode) {
  char path[PATH_MAX], tmp[PATH_MAX];
  int rc = join(path, dir, name);
  if (rc) return rc;
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) return -ENAMETOOLONG;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return err_set(-errno, "cannot create %s: %s", tmp, strerror(errno));
  const uint8_t *p = data;
  size_t done = 0;
  while (done < len) {
    ssize_t n = write(fd, p + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rc = err_set(-errno, "cannot write %s: %s", tmp, strerror(errno));
      close(fd);
      unlink(tmp);
      return rc;
    }
    done += (size_t)n;
  }
  if (fsync(fd) != 0) {
    rc = err_set(-errno, "cannot sync %s: %s", tmp, strerror(errno));
    close(fd);
    unlink(tmp);
    return rc;
  }
  close(fd);
  if (rename(tmp, path) != 0) {
    rc = err_set(-errno, "cannot rename %s: %s", tmp, strerror(errno));
    unlink(tmp);
    return rc;
  }
  return 0;
}

static int read_file(const char *dir, const char *name, uint8_t *out, size_t cap, size_t *len) {
  char path[PATH_MAX];
  int rc = join(path, dir, name);
  if (rc) return rc;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n = read(fd, out, cap);
  int e = errno;
  close(fd);
  if (n < 0) return err_set(-e, "cannot read %s: %s", path, strerror(e));
  *len = (size_t)n;
  return 0;
}

/* Peer ID = base58btc(identity multihash of PublicKey{Type=Ed25519, Data=pub}). */
static int peer_id_from_public(const uint8_t pub[ED25519_BYTES], char out[64]) {
  uint8_t mh[2 + 4 + ED25519_BYTES] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
  memcpy(mh + 6, pub, ED25519_BYTES);
  buf_t text = {0};
  int rc = mbase_encode(MBASE_BASE58BTC, mh, sizeof mh, &text);
  if (rc == 0) {
    if (text.len >= 64) rc = -EINVAL;
    else {
      memcpy(out, text.data, text.len);
      out[text.len] = '\0';
    }
  }
  buf_free(&text);
  return rc;
}

static int make_key(uint8_t key[KEY_FILE_BYTES]) {
  EVP_PKEY *pkey = NULL;
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
  int rc = -EIO;
  size_t seed_len = ED25519_BYTES, pub_len = ED25519_BYTES;
  if (ctx && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_keygen(ctx, &pkey) == 1 &&
      EVP_PKEY_get_raw_private_key(pkey, key + 4, &seed_len) == 1 &&
      EVP_PKEY_get_raw_public_key(pkey, key + 4 + ED25519_BYTES, &pub_len) == 1 &&
      seed_len == ED25519_BYTES && pub_len == ED25519_BYTES) {
    key[0] = 0x08, key[1] = 0x01, key[2] = 0x12, key[3] = 0x40;
    rc = 0;
  }
  EVP_PKEY_free(pkey);
  EVP_PKEY_CTX_free(ctx);
  return rc ? err_set(rc, "cannot generate the Ed25519 peer key") : 0;
}

static int load_peer_id(const char *path, char out[64]) {
  char dir[PATH_MAX];
  uint8_t key[KEY_FILE_BYTES + 1];
  size_t len = 0;
  int rc = join(dir, path, "keystore");
  if (rc) return rc;
  rc = read_file(dir, "self", key, sizeof key, &len);
  if (rc) return err_set(rc, "cannot read the peer key in %s/keystore: %s", path, strerror(-rc));
  if (len != KEY_FILE_BYTES || key[0] != 0x08 || key[1] != 0x01 || key[2] != 0x12 || key[3] != 0x40)
    return err_set(-EINVAL, "%s/keystore/self is not an Ed25519 private key", path);
  return peer_id_from_public(key + 4 + ED25519_BYTES, out);
}

static bool dir_is_empty(const char *path) {
  DIR *d = opendir(path);
  if (!d) return false;
  struct dirent *e;
  bool empty = true;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) { empty = false; break; }
  closedir(d);
  return empty;
}

static void remove_created(const char *path, bool remove_dir) {
  static const char *const files[] = {"keystore/self", "keystore/self.tmp", "config.toml",
                                      "config.toml.tmp", "version", "version.tmp", "repo.lock"};
  char p[PATH_MAX];
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    if (join(p, path, files[i]) == 0) unlink(p);
  if (join(p, path, "keystore") == 0) rmdir(p);
  if (remove_dir) rmdir(path);
}

int repo_init(const char *path, const char *profile, char *peer_id_out) {
  if (!profile) profile = "dev";
  if (strcmp(profile, "dev") != 0 && strcmp(profile, "prod") != 0)
    return err_set(-EINVAL, "unknown profile '%s' (dev or prod)", profile);
  char p[PATH_MAX];
  int rc = join(p, path, "version");
  if (rc) return rc;
  if (access(p, F_OK) == 0) return err_set(-EEXIST, "a repository already exists at %s", path);
  bool made_dir = false;
  if (mkdir(path, 0700) == 0) made_dir = true;
  else if (errno != EEXIST) return err_set(-errno, "cannot create %s: %s", path, strerror(errno));
  else if (!dir_is_empty(path))
    return err_set(-EEXIST, "%s exists and is not empty; refusing to create a repository there", path);

  uint8_t key[KEY_FILE_BYTES];
  char peer_id[64];
  char keystore[PATH_MAX];
  rc = join(keystore, path, "keystore");
  if (!rc && mkdir(keystore, 0700) != 0 && errno != EEXIST)
    rc = err_set(-errno, "cannot create %s: %s", keystore, strerror(errno));
  if (!rc) rc = make_key(key);
  if (!rc) rc = write_file(keystore, "self", key, sizeof key, 0600);
  if (!rc) rc = peer_id_from_public(key + 4 + ED25519_BYTES, peer_id);
  if (!rc) {
    buf_t cfg = {0};
    rc = config_write_profile(&cfg, profile, peer_id); /* the profile's full text */
    if (!rc) rc = write_file(path, "config.toml", cfg.data, cfg.len, 0600);
    buf_free(&cfg);
  }
  if (!rc) {
    /* Create the empty block store now, so a fresh repository is complete. */
    char blocks[PATH_MAX];
    bs_t *bs = NULL;
    rc = join(blocks, path, "blocks");
    if (!rc) rc = bs_open(blocks, NULL, &bs);
    if (!rc) rc = bs_close(bs);
  }
  if (!rc) { /* and the empty pin set (no walks here, so no block store behind it) */
    char pins_dir[PATH_MAX];
    pins_t *pins = NULL;
    pins_blocks_t none = pins_blocks_bs(NULL);
    rc = join(pins_dir, path, "pins");
    if (!rc) rc = pins_open(pins_dir, &none, &pins);
    pins_close(pins);
  }
  if (!rc) {
    char text[16];
    int n = snprintf(text, sizeof text, "%d\n", REPO_FORMAT_VERSION);
    rc = write_file(path, "version", text, (size_t)n, 0644); /* last: marks the repo complete */
  }
  OPENSSL_cleanse(key, sizeof key);
  if (rc) {
    remove_created(path, made_dir);
    return rc;
  }
  if (peer_id_out) memcpy(peer_id_out, peer_id, strlen(peer_id) + 1);
  return 0;
}

/* Takes repo.lock without waiting; on contention reports the holder. */
static int take_lock(const char *path, const char *holder, int *fd_out) {
  char p[PATH_MAX];
  int rc = join(p, path, "repo.lock");
  if (rc) return rc;
  int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return err_set(-errno, "cannot open %s: %s", p, strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    char who[256] = "";
    ssize_t n = pread(fd, who, sizeof who - 1, 0);
    close(fd);
    if (e != EWOULDBLOCK) return err_set(-e, "cannot lock %s: %s", p, strerror(e));
    if (n > 0) {
      who[n] = '\0';
      who[strcspn(who, "\n")] = '\0';
    }
    if (n > 0 && strstr(who, "(anyad)"))
      return err_set(-EBUSY, "repository %s is held by the daemon: %s; stop it to use anya directly "
                             "(anya will go through its RPC listener once that exists)", path, who);
    return err_set(-EBUSY, "repository %s is in use by %s", path, n > 0 ? who : "another process");
  }
  char text[256];
  int n = snprintf(text, sizeof text, "pid %ld (%s)\n", (long)getpid(), holder ? holder : "anya");
  if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
    rc = err_set(-errno, "cannot write %s: %s", p, strerror(errno));
    close(fd);
    return rc;
  }
  *fd_out = fd;
  return 0;
}

int repo_open(const char *path, const char *holder, const bs_options_t *bs_opts, repo_t **out) {
  char p[PATH_MAX];
  uint8_t version[16];
  size_t len = 0;
  if (strlen(path) >= REPO_PATH_BYTES_MAX) return err_set(-ENAMETOOLONG, "repository path too long");
  int rc = read_file(path, "version", version, sizeof version - 1, &len);
  if (rc == -ENOENT || rc == -ENOTDIR)
    return err_set(-ENOENT, "no repository at %s (run 'anya init')", path);
  if (rc) return rc;
  version[len] = '\0';
  if (atoi((char *)version) != REPO_FORMAT_VERSION)
    return err_set(-EINVAL, "repository %s has format version %.8s; this anya reads %d", path,
                   (char *)version, REPO_FORMAT_VERSION);
  repo_t *r = calloc(1, sizeof *r);
  if (!r) return -ENOMEM;
  memcpy(r->path, path, strlen(path) + 1);
  r->lock_fd = -1;
  rc = config_new(&r->config);
  if (!rc) rc = join(p, path, "config.toml");
  if (!rc && access(p, F_OK) == 0) rc = config_load_file(r->config, p); /* before the lock: a bad file touches nothing */
  if (!rc) rc = policy_load(r->config, &r->policies);
  bs_options_t opts;
  if (!rc && !bs_opts) { /* the config's: storage.segment_size (the environment's test knob wins, bs.h) */
    bs_options_default(&opts);
    if (!getenv("ANYA_SEGMENT_BYTES_MAX")) opts.segment_bytes_max = config_size(r->config, "storage.segment_size");
    bs_opts = &opts;
  }
  if (!rc) rc = take_lock(path, holder, &r->lock_fd);
  if (!rc) rc = load_peer_id(path, r->peer_id);
  if (!rc) rc = join(p, path, "blocks");
  if (!rc) rc = bs_open(p, bs_opts, &r->bs);
  if (!rc) rc = join(p, path, "pins");
  if (!rc) {
    pins_blocks_t blocks = pins_blocks_bs(r->bs);
    rc = pins_open(p, &blocks, &r->pins);
  }
  if (rc) {
    if (r->bs) bs_close(r->bs);
    if (r->lock_fd >= 0) close(r->lock_fd);
    policy_free(&r->policies);
    config_free(r->config);
    free(r);
    return rc;
  }
  *out = r;
  return 0;
}

int repo_close(repo_t *r) {
  if (!r) return 0;
  pins_close(r->pins);
  int rc = r->bs ? bs_close(r->bs) : 0;
  if (r->lock_fd >= 0) close(r->lock_fd); /* releases the flock */
  policy_free(&r->policies);
  config_free(r->config);
  free(r);
  return rc;
}
