/*
 * dwn/status: the one way DWN code reports an outcome to a client.
 *
 * A DWN reply carries `status: {code, detail}` (dwn-reference.md §14).  When an
 * error is built from a dwn-sdk-js DwnErrorCode, detail is
 * "<ErrorCode>: <message>"; the differential tests compare the code before the
 * first ':' exactly, so every failure path names its DwnErrorCode string.
 *
 * Functions that can fail at the DWN level take a dwn_status_t *st, set it with
 * dwn_status_fail() and return the negative errno that function maps the HTTP-like
 * code to (400 -EINVAL, 401 -EACCES, 404 -ENOENT, 409 -EEXIST, 413 -EFBIG,
 * 501 -ENOSYS, anything else -EIO), so C callers can branch on the errno and the
 * reply builder copies st as is.  Internal failures (I/O, out of memory) return
 * their own errno with err_set() and leave st untouched.
 */
#ifndef ANYA_DWN_STATUS_H
#define ANYA_DWN_STATUS_H

#define DWN_DETAIL_BYTES_MAX 512      /* detail text, truncated beyond */

typedef struct dwn_status {
  int code;                           /* 200, 202, 204, 400, 401, 404, 409, 413, 501 */
  char detail[DWN_DETAIL_BYTES_MAX];  /* "Accepted", "OK", or "<ErrorCode>: <message>" */
} dwn_status_t;

/* Sets st to {code, "<error_code>: <formatted message>"} (just the message when
 * error_code is NULL: the few plain-text details of §1 and §14) and returns the
 * errno mapped from code (negative).  st may be NULL (then only the errno). */
int dwn_status_fail(dwn_status_t *st, int code, const char *error_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Sets a success status with the detail used by dwn-sdk-js: 200 "OK",
 * 202 "Accepted", 204 "No Content".  Returns 0. */
int dwn_status_ok(dwn_status_t *st, int code);

/* The negative errno for an HTTP-like DWN status code (see the top). */
int dwn_status_errno(int code);

#endif
