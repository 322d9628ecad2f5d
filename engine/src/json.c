/* json.c — a small, strict JSON pull parser for safetensors headers and
 * metadata values, and the public JSON helpers of safetensors.h.
 *
 * Hostile input is expected: every read is bounds-checked against the end
 * of the buffer, nesting is limited (no recursion anywhere), strings must be
 * valid UTF-8 and numbers follow the JSON grammar exactly. See json.h. */
#include "json.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dinet/dinet.h"

/* Longest number text accepted by dinet__json_read_double. */
#define JSON_NUMBER_MAX 1024

/* Length (1..4) of the valid UTF-8 sequence at p (p < end), 0 if invalid:
 * overlong forms, UTF-16 surrogates and code points above U+10FFFF are
 * refused. */
static int utf8_seq(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0];
  size_t avail = (size_t)(end - p);
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    return (avail >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
      return 0;
    if (c == 0xE0 && p[1] < 0xA0) /* overlong */
      return 0;
    if (c == 0xED && p[1] >= 0xA0) /* U+D800..U+DFFF */
      return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
        (p[3] & 0xC0) != 0x80)
      return 0;
    if (c == 0xF0 && p[1] < 0x90) /* overlong */
      return 0;
    if (c == 0xF4 && p[1] >= 0x90) /* above U+10FFFF */
      return 0;
    return 4;
  }
  return 0;
}

/* Checks that s[0..len) is valid UTF-8. */
int dinet__utf8_valid(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  while (p < end) {
    int n = utf8_seq(p, end);
    if (!n)
      return 0;
    p += n;
  }
  return 1;
}

/* Encodes code point cp (<= 0x10FFFF, not a surrogate) as UTF-8 into out
 * (when not NULL); returns the number of bytes. */
static int utf8_put(unsigned char *out, uint32_t cp) {
  unsigned char b[4];
  int n;
  if (cp < 0x80) {
    b[0] = (unsigned char)cp;
    n = 1;
  } else if (cp < 0x800) {
    b[0] = (unsigned char)(0xC0 | (cp >> 6));
    b[1] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    b[0] = (unsigned char)(0xE0 | (cp >> 12));
    b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    b[2] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    b[0] = (unsigned char)(0xF0 | (cp >> 18));
    b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  if (out)
    memcpy(out, b, (size_t)n);
  return n;
}

/* Value of one hex digit, or -1. */
static int hexval(unsigned c) {
  if (c >= '0' && c <= '9')
    return (int)(c - '0');
  if (c >= 'a' && c <= 'f')
    return (int)(c - 'a' + 10);
  if (c >= 'A' && c <= 'F')
    return (int)(c - 'A' + 10);
  return -1;
}

/* Reads 4 hex digits at p (caller checked they are in bounds); -1 if any
 * is not a hex digit. */
static int32_t hex4(const unsigned char *p) {
  int32_t v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(p[i]);
    if (h < 0)
      return -1;
    v = v * 16 + h;
  }
  return v;
}

/* Starts a cursor over text[0..len). */
void dinet__json_init(dinet__json *j, const char *text, size_t len) {
  memset(j, 0, sizeof *j);
  j->start = (const unsigned char *)text;
  j->p = j->start;
  j->end = j->start + len;
}

/* Byte offset of the cursor. */
size_t dinet__json_offset(const dinet__json *j) { return (size_t)(j->p - j->start); }

/* The first error's message. */
const char *dinet__json_error(const dinet__json *j) { return j->msg; }

/* Records the first error, with the current byte offset appended, and
 * returns the sticky status. */
static int json_vfail(dinet__json *j, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static int json_vfail(dinet__json *j, int code, const char *fmt, va_list ap) {
  if (j->status)
    return j->status;
  char tmp[DINET__JSON_MSG_MAX - 32]; /* room for " at byte N" */
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  snprintf(j->msg, sizeof j->msg, "%s at byte %zu", tmp, dinet__json_offset(j));
  j->status = code;
  return code;
}

/* Records a format error (printf-like); see json.h. */
int dinet__json_fail(dinet__json *j, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = json_vfail(j, DINET_ERR_FORMAT, fmt, ap);
  va_end(ap);
  return rc;
}

/* Like dinet__json_fail with another status code. */
static int json_fail_code(dinet__json *j, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int json_fail_code(dinet__json *j, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = json_vfail(j, code, fmt, ap);
  va_end(ap);
  return rc;
}

/* Skips JSON whitespace; returns 1 if a byte is left, 0 at the end. */
static int skip_ws(dinet__json *j) {
  while (j->p < j->end &&
         (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
    j->p++;
  return j->p < j->end;
}

/* Error for a missing value: names the end of input or the byte found. */
static int fail_expected(dinet__json *j, const char *what) {
  if (j->p >= j->end)
    return dinet__json_fail(j, "unexpected end of JSON (truncated?) where %s was expected", what);
  unsigned c = *j->p;
  if (c >= 0x20 && c < 0x7f)
    return dinet__json_fail(j, "expected %s, found '%c'", what, (int)c);
  return dinet__json_fail(j, "expected %s, found byte 0x%02x", what, c);
}

/* Type of the next value without consuming it. */
dinet__json_type dinet__json_peek(dinet__json *j) {
  if (j->status)
    return DINET__JSON_ERROR;
  if (!skip_ws(j))
    return DINET__JSON_END;
  switch (*j->p) {
  case '{': return DINET__JSON_OBJECT;
  case '[': return DINET__JSON_ARRAY;
  case '"': return DINET__JSON_STRING;
  case 't':
  case 'f': return DINET__JSON_BOOL;
  case 'n': return DINET__JSON_NULL;
  case '-':
  case '0': case '1': case '2': case '3': case '4':
  case '5': case '6': case '7': case '8': case '9': return DINET__JSON_NUMBER;
  default: return DINET__JSON_ERROR;
  }
}

/* Consumes an opening bracket c ('{' or '[') and pushes a level. */
static int begin_container(dinet__json *j, unsigned char c) {
  if (j->status)
    return j->status;
  skip_ws(j);
  if (j->p >= j->end || *j->p != c)
    return fail_expected(j, c == '{' ? "an object" : "an array");
  if (j->depth >= DINET__JSON_MAX_DEPTH)
    return json_fail_code(j, DINET_ERR_LIMIT, "JSON nested deeper than %d levels",
                          DINET__JSON_MAX_DEPTH);
  j->kind[j->depth] = c;
  j->first[j->depth] = 1;
  j->depth++;
  j->p++;
  return 0;
}

/* Consumes '{'. */
int dinet__json_begin_object(dinet__json *j) { return begin_container(j, '{'); }

/* Consumes '['. */
int dinet__json_begin_array(dinet__json *j) { return begin_container(j, '['); }

/* Reads a string literal; out NULL validates only. See json.h. */
int dinet__json_read_string(dinet__json *j, char **out, size_t *len) {
  if (out)
    *out = NULL;
  if (len)
    *len = 0;
  if (j->status)
    return j->status;
  skip_ws(j);
  if (j->p >= j->end || *j->p != '"')
    return fail_expected(j, "a string");
  /* find the closing quote */
  const unsigned char *s = j->p + 1, *q = s;
  while (q < j->end && *q != '"') {
    if (*q == '\\' && j->end - q < 2) {
      q = j->end;
      break;
    }
    q += (*q == '\\') ? 2 : 1;
  }
  if (q >= j->end) {
    j->p = j->end;
    return dinet__json_fail(j, "unterminated string (truncated JSON?)");
  }
  unsigned char *buf = NULL;
  if (out) {
    buf = malloc((size_t)(q - s) + 1); /* decoding never grows the text */
    if (!buf)
      return json_fail_code(j, DINET_ERR_NOMEM, "out of memory reading a string");
  }
  size_t n = 0;
  while (s < q) {
    unsigned c = *s;
    if (c < 0x20) {
      j->p = s;
      free(buf);
      return dinet__json_fail(j, "control character 0x%02x inside a string", c);
    }
    if (c == '\\') {
      unsigned e = s[1]; /* in bounds: the scan above stepped over it */
      unsigned char one = 0;
      switch (e) {
      case '"': one = '"'; break;
      case '\\': one = '\\'; break;
      case '/': one = '/'; break;
      case 'b': one = '\b'; break;
      case 'f': one = '\f'; break;
      case 'n': one = '\n'; break;
      case 'r': one = '\r'; break;
      case 't': one = '\t'; break;
      case 'u': break;
      default:
        j->p = s;
        free(buf);
        if (e >= 0x20 && e < 0x7f)
          return dinet__json_fail(j, "invalid escape '\\%c' in string", (int)e);
        return dinet__json_fail(j, "invalid escape (backslash then byte 0x%02x) in string", e);
      }
      if (e != 'u') {
        if (buf)
          buf[n] = one;
        n++;
        s += 2;
        continue;
      }
      int32_t cp = (q - s >= 6) ? hex4(s + 2) : -1;
      if (cp < 0) {
        j->p = s;
        free(buf);
        return dinet__json_fail(j, "invalid \\u escape (needs 4 hex digits) in string");
      }
      size_t used = 6;
      if (cp >= 0xDC00 && cp <= 0xDFFF) {
        j->p = s;
        free(buf);
        return dinet__json_fail(j, "unpaired UTF-16 low surrogate \\u%04X in string", (unsigned)cp);
      }
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        int32_t lo = (q - s >= 12 && s[6] == '\\' && s[7] == 'u') ? hex4(s + 8) : -1;
        if (lo < 0xDC00 || lo > 0xDFFF) {
          j->p = s;
          free(buf);
          return dinet__json_fail(j, "unpaired UTF-16 high surrogate \\u%04X in string",
                                  (unsigned)cp);
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        used = 12;
      }
      n += (size_t)utf8_put(buf ? buf + n : NULL, (uint32_t)cp);
      s += used;
      continue;
    }
    int k = utf8_seq(s, q);
    if (!k) {
      j->p = s;
      free(buf);
      return dinet__json_fail(j, "invalid UTF-8 in string");
    }
    if (buf)
      memcpy(buf + n, s, (size_t)k);
    n += (size_t)k;
    s += k;
  }
  j->p = q + 1;
  if (buf) {
    buf[n] = '\0';
    *out = (char *)buf;
  }
  if (len)
    *len = n;
  return 0;
}

/* Reads the next key of the innermost object; see json.h. */
int dinet__json_next_key(dinet__json *j, char **key, size_t *len) {
  if (key)
    *key = NULL;
  if (len)
    *len = 0;
  if (j->status)
    return j->status;
  if (j->depth <= 0 || j->kind[j->depth - 1] != '{')
    return json_fail_code(j, DINET_ERR_INVALID, "internal: next_key outside an object");
  int top = j->depth - 1;
  if (!skip_ws(j))
    return fail_expected(j, "'}' or a key");
  if (*j->p == '}') {
    j->p++;
    j->depth--;
    return 0;
  }
  if (!j->first[top]) {
    if (*j->p != ',')
      return fail_expected(j, "',' or '}'");
    j->p++;
    skip_ws(j);
  }
  j->first[top] = 0;
  if (j->p >= j->end || *j->p != '"')
    return fail_expected(j, "a string key");
  int rc = dinet__json_read_string(j, key, len);
  if (rc < 0)
    return rc;
  if (!skip_ws(j) || *j->p != ':') {
    if (key) {
      free(*key);
      *key = NULL;
    }
    return fail_expected(j, "':' after an object key");
  }
  j->p++;
  return 1;
}

/* 1 when an item of the innermost array is next, 0 after its ']'. */
int dinet__json_next_item(dinet__json *j) {
  if (j->status)
    return j->status;
  if (j->depth <= 0 || j->kind[j->depth - 1] != '[')
    return json_fail_code(j, DINET_ERR_INVALID, "internal: next_item outside an array");
  int top = j->depth - 1;
  if (!skip_ws(j))
    return fail_expected(j, "']' or a value");
  if (*j->p == ']') {
    j->p++;
    j->depth--;
    return 0;
  }
  if (!j->first[top]) {
    if (*j->p != ',')
      return fail_expected(j, "',' or ']'");
    j->p++;
  }
  j->first[top] = 0;
  return 1;
}

/* Scans a number per the JSON grammar starting at the cursor (after
 * whitespace). Sets *is_int when it has neither fraction nor exponent and
 * returns its length, or a negative status. Does not move the cursor. */
static long scan_number(dinet__json *j, int *is_int) {
  const unsigned char *p = j->p, *e = j->end;
  *is_int = 1;
  if (p < e && *p == '-')
    p++;
  if (p >= e || *p < '0' || *p > '9')
    return fail_expected(j, "a number");
  if (*p == '0') {
    p++;
    if (p < e && *p >= '0' && *p <= '9')
      return dinet__json_fail(j, "number with a leading zero");
  } else {
    while (p < e && *p >= '0' && *p <= '9')
      p++;
  }
  if (p < e && *p == '.') {
    *is_int = 0;
    p++;
    if (p >= e || *p < '0' || *p > '9')
      return dinet__json_fail(j, "number without digits after '.'");
    while (p < e && *p >= '0' && *p <= '9')
      p++;
  }
  if (p < e && (*p == 'e' || *p == 'E')) {
    *is_int = 0;
    p++;
    if (p < e && (*p == '+' || *p == '-'))
      p++;
    if (p >= e || *p < '0' || *p > '9')
      return dinet__json_fail(j, "number without digits in its exponent");
    while (p < e && *p >= '0' && *p <= '9')
      p++;
  }
  if (p - j->p > LONG_MAX / 2)
    return dinet__json_fail(j, "number too long");
  return (long)(p - j->p);
}

/* Reads an integer that fits in int64_t. */
int dinet__json_read_int64(dinet__json *j, int64_t *out) {
  *out = 0;
  if (j->status)
    return j->status;
  skip_ws(j);
  int is_int;
  long n = scan_number(j, &is_int);
  if (n < 0)
    return (int)n;
  if (!is_int)
    return dinet__json_fail(j, "expected an integer, found '%.*s'", n > 40 ? 40 : (int)n,
                            (const char *)j->p);
  const unsigned char *p = j->p, *e = j->p + n;
  int neg = 0;
  if (*p == '-') {
    neg = 1;
    p++;
  }
  uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  uint64_t v = 0;
  for (; p < e; p++) {
    unsigned d = *p - '0';
    if (v > (limit - d) / 10)
      return dinet__json_fail(j, "integer '%.*s' out of range", n > 40 ? 40 : (int)n,
                              (const char *)j->p);
    v = v * 10 + d;
  }
  if (neg)
    *out = (v == (uint64_t)INT64_MAX + 1) ? INT64_MIN : -(int64_t)v;
  else
    *out = (int64_t)v;
  j->p = e;
  return 0;
}

/* Reads any number, converted in the "C" locale whatever the process
 * locale (a GTK app may run with a decimal comma). */
int dinet__json_read_double(dinet__json *j, double *out) {
  *out = 0;
  if (j->status)
    return j->status;
  skip_ws(j);
  int is_int;
  long n = scan_number(j, &is_int);
  if (n < 0)
    return (int)n;
  if (n >= JSON_NUMBER_MAX)
    return dinet__json_fail(j, "number longer than %d characters", JSON_NUMBER_MAX - 1);
  char tmp[JSON_NUMBER_MAX];
  memcpy(tmp, j->p, (size_t)n);
  tmp[n] = '\0';
  double v;
  locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
  if (c) {
    locale_t old = uselocale(c);
    v = strtod(tmp, NULL);
    uselocale(old);
    freelocale(c);
  } else {
    /* no "C" locale object: substitute the current decimal point */
    const char *dp = localeconv()->decimal_point;
    char *dot = strchr(tmp, '.');
    if (dot && dp && dp[0] && !dp[1])
      *dot = dp[0];
    v = strtod(tmp, NULL);
  }
  if (isinf(v))
    return dinet__json_fail(j, "number '%.*s' out of range", n > 40 ? 40 : (int)n, tmp);
  *out = v;
  j->p += n;
  return 0;
}

/* Reads true, false or null. */
int dinet__json_read_literal(dinet__json *j, int *out) {
  static const char *const words[3] = {"null", "false", "true"};
  *out = 0;
  if (j->status)
    return j->status;
  skip_ws(j);
  for (int i = 0; i < 3; i++) {
    size_t wl = strlen(words[i]);
    if ((size_t)(j->end - j->p) >= wl && memcmp(j->p, words[i], wl) == 0) {
      *out = i - 1;
      j->p += wl;
      return 0;
    }
  }
  return fail_expected(j, "a value");
}

/* Reads one scalar value (string, number, literal), checking it, or fails
 * when none is next. */
static int skip_scalar(dinet__json *j, dinet__json_type t) {
  double d;
  int b;
  switch (t) {
  case DINET__JSON_STRING: return dinet__json_read_string(j, NULL, NULL);
  case DINET__JSON_NUMBER: return dinet__json_read_double(j, &d);
  case DINET__JSON_BOOL:
  case DINET__JSON_NULL: return dinet__json_read_literal(j, &b);
  default: return fail_expected(j, "a value");
  }
}

/* Skips one complete value, iteratively (depth limited by the cursor). */
int dinet__json_skip(dinet__json *j) {
  if (j->status)
    return j->status;
  int base = j->depth;
  int need_value = 1;
  for (;;) {
    int rc;
    if (need_value) {
      dinet__json_type t = dinet__json_peek(j);
      if (t == DINET__JSON_OBJECT || t == DINET__JSON_ARRAY) {
        rc = begin_container(j, t == DINET__JSON_OBJECT ? '{' : '[');
        if (rc < 0)
          return rc;
        rc = t == DINET__JSON_OBJECT ? dinet__json_next_key(j, NULL, NULL)
                                     : dinet__json_next_item(j);
        if (rc < 0)
          return rc;
        need_value = rc == 1;
        if (need_value)
          continue;
      } else {
        rc = skip_scalar(j, t);
        if (rc < 0)
          return rc;
      }
    }
    /* a value (or a container) just ended */
    if (j->depth <= base)
      return 0;
    rc = j->kind[j->depth - 1] == '{' ? dinet__json_next_key(j, NULL, NULL)
                                      : dinet__json_next_item(j);
    if (rc < 0)
      return rc;
    need_value = rc == 1;
  }
}

/* Checks that only whitespace remains. */
int dinet__json_finish(dinet__json *j) {
  if (j->status)
    return j->status;
  if (skip_ws(j))
    return dinet__json_fail(j, "unexpected data after the JSON value");
  return 0;
}

/* ---- public helpers (safetensors.h) ---- */

/* Frees a NULL-terminated string vector. */
void dinet_strv_free(char **v) {
  if (!v)
    return;
  for (char **p = v; *p; p++)
    free(*p);
  free(v);
}

/* Parses a JSON array of strings into a NULL-terminated vector. */
int dinet_json_parse_string_array(const char *json, char ***out, dinet_error *err) {
  if (out)
    *out = NULL;
  if (!json || !out)
    return dinet_error_set(err, DINET_ERR_INVALID, "JSON string array: NULL argument");
  dinet__json j;
  dinet__json_init(&j, json, strlen(json));
  size_t count = 0, cap = 0;
  char **v = NULL;
  int rc = dinet__json_begin_array(&j);
  while (rc >= 0) {
    rc = dinet__json_next_item(&j);
    if (rc <= 0)
      break;
    if (count + 1 >= cap) {
      size_t ncap = cap ? cap * 2 : 8;
      char **nv = (count < (size_t)INT_MAX - 1 && ncap <= SIZE_MAX / sizeof *nv)
                      ? realloc(v, ncap * sizeof *nv)
                      : NULL;
      if (!nv) {
        rc = json_fail_code(&j, DINET_ERR_NOMEM, "out of memory (%zu strings)", count);
        break;
      }
      v = nv;
      cap = ncap;
    }
    char *s;
    size_t len;
    if (dinet__json_peek(&j) != DINET__JSON_STRING) {
      rc = fail_expected(&j, "a string");
      break;
    }
    rc = dinet__json_read_string(&j, &s, &len);
    if (rc < 0)
      break;
    if (strlen(s) != len) {
      free(s);
      rc = dinet__json_fail(&j, "string %zu contains a NUL character (\\u0000)", count);
      break;
    }
    v[count++] = s;
    v[count] = NULL;
  }
  if (rc >= 0)
    rc = dinet__json_finish(&j);
  if (rc < 0) {
    if (v) {
      v[count] = NULL;
      dinet_strv_free(v);
    } /* count + 1 < cap always holds here, so v[count] is in bounds */
    return dinet_error_set(err, rc, "JSON string array: %s", dinet__json_error(&j));
  }
  if (!v) {
    v = calloc(1, sizeof *v);
    if (!v)
      return dinet_error_set(err, DINET_ERR_NOMEM, "JSON string array: out of memory");
  }
  *out = v;
  return (int)count;
}

/* Parses a JSON array of at most max numbers into out. */
int dinet_json_parse_number_array(const char *json, double *out, int max, dinet_error *err) {
  if (!json || max < 0 || (!out && max > 0))
    return dinet_error_set(err, DINET_ERR_INVALID, "JSON number array: bad argument");
  dinet__json j;
  dinet__json_init(&j, json, strlen(json));
  int count = 0;
  int rc = dinet__json_begin_array(&j);
  while (rc >= 0) {
    rc = dinet__json_next_item(&j);
    if (rc <= 0)
      break;
    if (dinet__json_peek(&j) != DINET__JSON_NUMBER) {
      rc = fail_expected(&j, "a number");
      break;
    }
    if (count >= max) {
      rc = json_fail_code(&j, DINET_ERR_LIMIT, "more than %d numbers", max);
      break;
    }
    rc = dinet__json_read_double(&j, &out[count]);
    if (rc < 0)
      break;
    count++;
  }
  if (rc >= 0)
    rc = dinet__json_finish(&j);
  if (rc < 0)
    return dinet_error_set(err, rc, "JSON number array: %s", dinet__json_error(&j));
  return count;
}

/* Writes s as a quoted, escaped JSON string into buf (snprintf-like:
 * truncated and NUL-terminated when size > 0; returns the full length).
 * Invalid UTF-8 bytes become \ufffd so the output is always valid JSON;
 * NULL becomes the literal null. */
size_t dinet_json_quote(const char *s, char *buf, size_t size) {
  size_t n = 0;
#define PUT(ch)                                                               \
  do {                                                                        \
    if (n + 1 < size)                                                         \
      buf[n] = (char)(ch);                                                    \
    n++;                                                                      \
  } while (0)
  if (!s) {
    for (const char *w = "null"; *w; w++)
      PUT(*w);
  } else {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
    PUT('"');
    while (p < end) {
      unsigned c = *p;
      if (c == '"' || c == '\\') {
        PUT('\\');
        PUT(c);
        p++;
      } else if (c < 0x20) {
        PUT('\\');
        switch (c) {
        case '\b': PUT('b'); break;
        case '\f': PUT('f'); break;
        case '\n': PUT('n'); break;
        case '\r': PUT('r'); break;
        case '\t': PUT('t'); break;
        default:
          PUT('u');
          PUT('0');
          PUT('0');
          PUT(hex[c >> 4]);
          PUT(hex[c & 15]);
        }
        p++;
      } else if (c < 0x80) {
        PUT(c);
        p++;
      } else {
        int k = utf8_seq(p, end);
        if (k) {
          for (int i = 0; i < k; i++)
            PUT(p[i]);
          p += k;
        } else {
          for (const char *w = "\\ufffd"; *w; w++)
            PUT(*w);
          p++;
        }
      }
    }
    PUT('"');
  }
#undef PUT
  if (size > 0)
    buf[n < size ? n : size - 1] = '\0';
  return n;
}
