#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_message[ERR_MSG_BYTES_MAX];

int err_set(int code, const char *fmt, ...) {
  /* Format into a scratch buffer first: an argument may be err_msg() itself
   * (a caller adding context to the message below it). */
  char message[ERR_MSG_BYTES_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  memcpy(err_message, message, sizeof message);
  return code;
}

const char *err_msg(int code) {
  if (err_message[0] != '\0') return err_message;
  return strerror(code < 0 ? -code : code);
}

void err_clear(void) { err_message[0] = '\0'; }
