/* error.c — error reporting for libdinet. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dinet/dinet.h"

int dinet_error_set(dinet_error *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    /* one line: no newlines inside a message */
    for (char *p = err->message; *p; p++)
      if (*p == '\n' || *p == '\r')
        *p = ' ';
    err->code = code;
  }
  return code;
}

void dinet_error_clear(dinet_error *err) {
  if (err) {
    err->code = DINET_OK;
    err->message[0] = '\0';
  }
}

const char *dinet_status_name(int code) {
  switch (code) {
  case DINET_OK: return "ok";
  case DINET_ERR_IO: return "i/o error";
  case DINET_ERR_FORMAT: return "bad format";
  case DINET_ERR_NOMEM: return "out of memory";
  case DINET_ERR_INVALID: return "invalid argument";
  case DINET_ERR_LIMIT: return "limit exceeded";
  case DINET_ERR_CANCELLED: return "cancelled";
  case DINET_ERR_NUMERIC: return "non-finite number";
  default: return "unknown error";
  }
}
