/*
 * output: the lines `anya` prints, shared by the direct path (the command
 * opens the repository) and the daemon path (remote.c: the same command
 * through the daemon's RPC), so both print exactly the same bytes.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void progress_draw(progress_t *p, uint64_t done, bool final) {
  uint64_t t = now_ms();
  if (!final && t - p->last_ms < 100) return;
  p->last_ms = t;
  p->drawn = true;
  double mib = (double)done / (1024.0 * 1024.0);
  if (p->total_bytes) {
    unsigned pct = (unsigned)(done * 100 / p->total_bytes);
    if (pct > 100) pct = 100;
    char bar[41];
    unsigned fill = pct * 40 / 100;
    for (unsigned i = 0; i < 40; i++) bar[i] = i < fill ? '=' : ' ';
    bar[40] = '\0';
    fprintf(stderr, "\r %9.1f MiB / %.1f MiB [%s] %3u%%", mib,
            (double)p->total_bytes / (1024.0 * 1024.0), bar, pct);
  } else {
    fprintf(stderr, "\r %9.1f MiB", mib);
  }
}

void progress_clear(progress_t *p) {
  if (p->enabled && p->drawn) fputs("\r\033[K", stderr);
}

void print_added(progress_t *p, const char *cid, const char *path, bool quiet) {
  progress_clear(p);
  if (quiet) printf("%s\n", cid);
  else printf("added %s %s\n", cid, path);
}

void print_ls_entry(const char *cid, bool is_dir, uint64_t size, const char *name) {
  if (is_dir) printf("%s - %s/\n", cid, name);
  else printf("%s %llu %s\n", cid, (unsigned long long)size, name);
}

void print_block_stat(const char *cid, uint64_t size) {
  printf("Key: %s\nSize: %llu\n", cid, (unsigned long long)size);
}

void print_repo_stat(const repo_stat_out_t *s) {
  printf("NumObjects: %llu\nRepoSize: %llu\nBlockBytes: %llu\nSegments: %llu\nReclaimableBytes: %llu\n"
         "StorageMax: %llu\nRepoPath: %s\nVersion: %s\n",
         (unsigned long long)s->blocks, (unsigned long long)s->disk_bytes, (unsigned long long)s->block_bytes,
         (unsigned long long)s->segments, (unsigned long long)s->reclaimable_bytes,
         (unsigned long long)s->storage_max, s->path, s->version);
}

void print_pin(const char *cid, const char *type, const char *name, bool quiet) {
  if (quiet) printf("%s\n", cid);
  else if (name && name[0]) printf("%s %s %s\n", cid, type, name);
  else printf("%s %s\n", cid, type);
}

void print_released(const char *cid, const char *name, const char *policy, unsigned keep_last) {
  printf("unpinned %s %s (policy %s keeps the last %u)\n", cid, name, policy, keep_last);
}

void print_id(const char *peer_id, const char *const *addrs, size_t n, const char *agent) {
  printf("{\"ID\": \"%s\", \"Addresses\": [", peer_id);
  for (size_t i = 0; i < n; i++) printf("%s\"%s\"", i ? ", " : "", addrs[i]);
  printf("], \"AgentVersion\": \"%s\"}\n", agent);
}
