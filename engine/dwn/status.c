/* dwn/status: see status.h. */
#include "dwn/status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int dwn_status_errno(int code) {
  switch (code) {
    case 400: return -EINVAL;
    case 401: return -EACCES;
    case 404: return -ENOENT;
    case 409: return -EEXIST;
    case 413: return -EFBIG;
    case 501: return -ENOSYS;
    default: return code >= 200 && code < 300 ? 0 : -EIO;
  }
}

int dwn_status_fail(dwn_status_t *st, int code, const char *error_code, const char *fmt, ...) {
  if (st) {
    st->code = code;
    size_t used = 0;
    if (error_code) {
      int n = snprintf(st->detail, sizeof st->detail, "%s: ", error_code);
      used = n < 0 ? 0 : ((size_t)n < sizeof st->detail ? (size_t)n : sizeof st->detail - 1);
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->detail + used, sizeof st->detail - used, fmt, ap);
    va_end(ap);
  }
  return dwn_status_errno(code);
}

int dwn_status_ok(dwn_status_t *st, int code) {
  if (st) {
    st->code = code;
    const char *d = code == 202 ? "Accepted" : code == 204 ? "No Content" : "OK";
    snprintf(st->detail, sizeof st->detail, "%s", d);
  }
  return 0;
}
