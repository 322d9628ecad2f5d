/* json.h — libdinet's internal JSON pull parser (not installed).
 *
 * A cursor walks over a bounded buffer (no NUL terminator needed) and the
 * caller asks for what it expects next: an object, a key, an array item, a
 * string, an integer, a number. Nothing is built in memory besides the
 * strings the caller asks for, so a hostile 64 MiB document costs no more
 * than its own bytes. Nesting is limited to DINET__JSON_MAX_DEPTH; there is
 * no recursion. Strings are checked to be valid UTF-8 (no overlong forms,
 * no surrogates, nothing above U+10FFFF, no raw control characters) and
 * their escapes, \u surrogate pairs included, are decoded to UTF-8.
 *
 * Every call returns a negative dinet_status on error; the first error
 * sticks (later calls fail with it too) and its message, which names the
 * byte offset, is in dinet__json_error().
 */
#ifndef DINET_JSON_INTERNAL_H
#define DINET_JSON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define DINET__JSON_MAX_DEPTH 64
#define DINET__JSON_MSG_MAX 160

typedef enum dinet__json_type {
  DINET__JSON_ERROR = -1, /* cursor is in error, or an unexpected byte */
  DINET__JSON_END = 0,    /* only whitespace is left */
  DINET__JSON_NULL,
  DINET__JSON_BOOL,
  DINET__JSON_NUMBER,
  DINET__JSON_STRING,
  DINET__JSON_ARRAY,
  DINET__JSON_OBJECT,
} dinet__json_type;

typedef struct dinet__json {
  const unsigned char *start, *p, *end;
  int depth;
  unsigned char kind[DINET__JSON_MAX_DEPTH];  /* '[' or '{' per open level */
  unsigned char first[DINET__JSON_MAX_DEPTH]; /* no item read yet at level */
  int status;                                 /* 0 or the sticky error */
  char msg[DINET__JSON_MSG_MAX];
} dinet__json;

/* Starts a cursor over text[0..len). */
void dinet__json_init(dinet__json *j, const char *text, size_t len);
/* Type of the next value (after whitespace), without consuming it. */
dinet__json_type dinet__json_peek(dinet__json *j);
/* Consumes '{'. */
int dinet__json_begin_object(dinet__json *j);
/* Reads the next key of the innermost object and the ':' after it: returns
 * 1 (the value is next; *key gets a malloc'd NUL-terminated copy and *len
 * its length when key is not NULL), 0 when the object's '}' was consumed,
 * or a negative status. */
int dinet__json_next_key(dinet__json *j, char **key, size_t *len);
/* Consumes '['. */
int dinet__json_begin_array(dinet__json *j);
/* 1 when an item of the innermost array is next, 0 when its ']' was
 * consumed, or a negative status. */
int dinet__json_next_item(dinet__json *j);
/* Reads a string; with out NULL it is only validated. *out is malloc'd,
 * NUL-terminated; *len (when not NULL) is its length, which may be more
 * than strlen() when the text had \u0000. */
int dinet__json_read_string(dinet__json *j, char **out, size_t *len);
/* Reads a number written as an integer (no fraction, no exponent) that
 * fits in int64_t. */
int dinet__json_read_int64(dinet__json *j, int64_t *out);
/* Reads any number (locale-independent). */
int dinet__json_read_double(dinet__json *j, double *out);
/* Reads true, false or null; *out gets 1, 0 or -1. */
int dinet__json_read_literal(dinet__json *j, int *out);
/* Skips one complete value of any type, checking it. */
int dinet__json_skip(dinet__json *j);
/* Checks that only whitespace remains. */
int dinet__json_finish(dinet__json *j);
/* Records an error at the current offset (printf-like) and returns
 * DINET_ERR_FORMAT; for callers that find the JSON valid but wrong. */
int dinet__json_fail(dinet__json *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The first error's message ("" when none). */
const char *dinet__json_error(const dinet__json *j);
/* Byte offset of the cursor. */
size_t dinet__json_offset(const dinet__json *j);

/* Checks that s[0..len) is valid UTF-8 (as above). Returns 1 or 0. */
int dinet__utf8_valid(const char *s, size_t len);

#endif
