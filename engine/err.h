/*
 * err: the one error convention of libanya.
 *
 * Every fallible function returns 0 (or a non-negative count) on success and a
 * negative errno-style code (-EINVAL, -ENOENT, -EIO, ...) on failure.  Where the
 * cause is known, the function also attaches a human-readable message with
 * err_set(), which stores it in a thread-local slot; the caller at the top
 * (the CLI, later the daemon) reads it with err_msg() and prints it once.
 * Library code never prints and never exits.
 */
#ifndef ANYA_ERR_H
#define ANYA_ERR_H

#include <errno.h>

#define ERR_MSG_BYTES_MAX 512

/* Records a printf-style message for this thread and returns `code` (a negative
 * errno) so that call sites can write `return err_set(-EINVAL, "bad varint");`. */
int err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last message set on this thread, or strerror(-code) when none was set
 * since the last err_clear(). Never NULL. */
const char *err_msg(int code);

/* Forgets this thread's message. */
void err_clear(void);

#endif
