#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_message[ERR_MSG_BYTES_MAX];

int err_set(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err_message, sizeof err_message, fmt, ap);
  va_end(ap);
  return code;
}

const char *err_msg(int code) {
  if (err_message[0] != '\0') return err_message;
  return strerror(code < 0 ? -code : code);
}

void err_clear(void) { err_message[0] = '\0'; }
