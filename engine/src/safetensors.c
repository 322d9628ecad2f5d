/* safetensors.c — reading and writing safetensors files.
 *
 * Reading: the whole file is read into memory (files over 4 GiB are
 * refused) and the header is validated completely before anything is
 * returned: header length, JSON syntax (json.c), every tensor's dtype,
 * shape, element count (overflow-checked), byte range and size, duplicate
 * names, and string-only __metadata__. All multi-byte values are assembled
 * byte by byte as little-endian, whatever the host.
 *
 * Writing: a compact header ("__metadata__" first, then the tensors in the
 * given order), padded with spaces so the data starts 8-byte aligned; the
 * tensors' data follow back to back (as the reference implementation
 * requires), in F32 or F16. The file is written to PATH.tmp-XXXXXX,
 * fsync'ed and renamed over PATH.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dinet/dinet.h"
#include "json.h"

/* Largest file dinet_st_open reads. */
#define ST_MAX_FILE ((uint64_t)4 << 30)
/* Longest tensor name or key quoted in a message. */
#define ST_NAME_IN_MSG 80

typedef struct st_dtype_info {
  const char *name;
  int size; /* bytes per element */
  dinet_dtype dtype;
} st_dtype_info;

/* The safetensors dtypes with a whole number of bytes per element. */
static const st_dtype_info st_dtypes[] = {
    {"F32", 4, DINET_DTYPE_F32},       {"F16", 2, DINET_DTYPE_F16},
    {"BF16", 2, DINET_DTYPE_BF16},     {"F64", 8, DINET_DTYPE_OTHER},
    {"I64", 8, DINET_DTYPE_OTHER},     {"U64", 8, DINET_DTYPE_OTHER},
    {"I32", 4, DINET_DTYPE_OTHER},     {"U32", 4, DINET_DTYPE_OTHER},
    {"I16", 2, DINET_DTYPE_OTHER},     {"U16", 2, DINET_DTYPE_OTHER},
    {"I8", 1, DINET_DTYPE_OTHER},      {"U8", 1, DINET_DTYPE_OTHER},
    {"BOOL", 1, DINET_DTYPE_OTHER},    {"F8_E4M3", 1, DINET_DTYPE_OTHER},
    {"F8_E5M2", 1, DINET_DTYPE_OTHER}, {"F8_E8M0", 1, DINET_DTYPE_OTHER},
    {"C64", 8, DINET_DTYPE_OTHER},
};

typedef struct st_tensor {
  char *name;
  const st_dtype_info *dt;
  int ndim;
  int64_t shape[DINET_ST_MAX_DIMS];
  int64_t numel;
  uint64_t begin, end; /* relative to the data section */
} st_tensor;

typedef struct st_index {
  const char *name;
  int idx;
} st_index;

struct dinet_st {
  char *label;               /* file name (or the memory buffer's name) */
  unsigned char *buf;        /* the whole file */
  size_t len;
  const unsigned char *data; /* after the header */
  uint64_t data_len;
  st_tensor *t;
  int n, cap;
  st_index *index; /* sorted by name, for dinet_st_find */
  char **mkey, **mval;
  int n_meta, cap_meta;
};

/* ---- small helpers ---- */

/* Sets err to "LABEL: message" and returns code. */
static int st_fail(dinet_error *err, const char *label, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int st_fail(dinet_error *err, const char *label, int code, const char *fmt, ...) {
  char tmp[DINET_ERROR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  return dinet_error_set(err, code, "%s: %s", label, tmp);
}

/* Copies name into buf for a message, cut (at a UTF-8 character boundary)
 * with "..." when longer than ST_NAME_IN_MSG bytes; returns buf. */
static const char *msg_name(const char *name, char buf[ST_NAME_IN_MSG + 4]) {
  size_t len = strlen(name);
  if (len <= ST_NAME_IN_MSG) {
    memcpy(buf, name, len + 1);
    return buf;
  }
  size_t cut = ST_NAME_IN_MSG;
  while (cut > 0 && ((unsigned char)name[cut] & 0xC0) == 0x80)
    cut--;
  memcpy(buf, name, cut);
  memcpy(buf + cut, "...", 4);
  return buf;
}

/* Writes "[d0, d1, ...]" into buf (truncated to size). */
static void fmt_shape(char *buf, size_t size, const int64_t *shape, int ndim) {
  size_t n = 0;
  buf[0] = '\0';
  n += (size_t)snprintf(buf, size, "[");
  for (int d = 0; d < ndim && n < size; d++)
    n += (size_t)snprintf(buf + n, size - n, "%s%lld", d ? ", " : "", (long long)shape[d]);
  if (n < size)
    snprintf(buf + n, size - n, "]");
}

/* Reads a little-endian u16 from p. */
static uint16_t rd_le16(const unsigned char *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}

/* Reads a little-endian u32 from p. */
static uint32_t rd_le32(const unsigned char *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
         ((uint32_t)p[3] << 24);
}

/* Reads a little-endian u64 from p. */
static uint64_t rd_le64(const unsigned char *p) {
  return (uint64_t)rd_le32(p) | ((uint64_t)rd_le32(p + 4) << 32);
}

/* Writes v as little-endian bytes at p. */
static void wr_le64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

/* IEEE binary16 bits to float: normals, subnormals, zeros, inf, NaN
 * (payload kept). */
static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    /* zero or subnormal: mant * 2^-24, exact in float */
    float v = ldexpf((float)mant, -24);
    return sign ? -v : v;
  }
  if (exp == 31)
    bits = sign | 0x7f800000u | (mant << 13);
  else
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* float to IEEE binary16 bits, rounding to nearest even; too large values
 * become inf, NaN stays NaN (sign and top payload bits kept). */
static uint16_t float_to_half(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t exp = (x >> 23) & 0xff, mant = x & 0x7fffff;
  if (exp == 0xff) {
    if (!mant)
      return (uint16_t)(sign | 0x7c00);
    uint32_t m = mant >> 13;
    return (uint16_t)(sign | 0x7c00 | (m ? m : 0x200));
  }
  int e = (int)exp - 127 + 15;
  if (e >= 31)
    return (uint16_t)(sign | 0x7c00);
  if (e <= 0) {
    if (e < -10) /* below half the smallest subnormal: rounds to zero */
      return (uint16_t)sign;
    uint32_t m = mant | 0x800000;
    int shift = 14 - e; /* 14..24 */
    uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (h & 1)))
      h++; /* may carry into the smallest normal: correct */
    return (uint16_t)(sign | h);
  }
  uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
    h++; /* may carry up to 0x7c00 = inf: correct */
  return (uint16_t)(sign | h);
}

/* bfloat16 bits to float. */
static float bf16_to_float(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* The dtype table entry for a dtype string, or NULL. */
static const st_dtype_info *find_dtype(const char *s) {
  for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
    if (strcmp(st_dtypes[i].name, s) == 0)
      return &st_dtypes[i];
  return NULL;
}

/* qsort comparator for st_index by name. */
static int cmp_index(const void *a, const void *b) {
  return strcmp(((const st_index *)a)->name, ((const st_index *)b)->name);
}

/* qsort comparator for an array of C strings. */
static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- reading ---- */

/* Frees everything st owns. */
void dinet_st_close(dinet_st *st) {
  if (!st)
    return;
  for (int i = 0; i < st->n; i++)
    free(st->t[i].name);
  for (int i = 0; i < st->n_meta; i++) {
    free(st->mkey[i]);
    free(st->mval[i]);
  }
  free(st->t);
  free(st->index);
  free(st->mkey);
  free(st->mval);
  free(st->buf);
  free(st->label);
  free(st);
}

/* Reports the cursor's JSON error for st's header. */
static int header_json_error(const dinet_st *st, const dinet__json *j, dinet_error *err) {
  int code = j->status ? j->status : DINET_ERR_FORMAT;
  return st_fail(err, st->label, code, "bad header JSON: %s", dinet__json_error(j));
}

/* Reads one integer into *v, reporting a non-integer as "what" of the
 * tensor; returns 0 or a negative status (err set). */
static int read_header_int(dinet_st *st, dinet__json *j, const char *tname, const char *what,
                           int64_t *v, dinet_error *err) {
  char nb[ST_NAME_IN_MSG + 4];
  *v = 0;
  if (dinet__json_peek(j) != DINET__JSON_NUMBER) {
    if (dinet__json_skip(j) < 0)
      return header_json_error(st, j, err);
    return st_fail(err, st->label, DINET_ERR_FORMAT, "tensor '%s': %s must hold integers",
                   msg_name(tname, nb), what);
  }
  if (dinet__json_read_int64(j, v) < 0)
    return st_fail(err, st->label, DINET_ERR_FORMAT, "tensor '%s': bad %s: %s",
                   msg_name(tname, nb), what, dinet__json_error(j));
  if (*v < 0)
    return st_fail(err, st->label, DINET_ERR_FORMAT, "tensor '%s': %s has a negative value %lld",
                   msg_name(tname, nb), what, (long long)*v);
  return 0;
}

/* Parses one tensor entry (the cursor is at its value) into st->t[st->n]
 * and checks it against the data section. Takes ownership of name. */
static int parse_tensor(dinet_st *st, dinet__json *j, char *name, dinet_error *err) {
  char nb[ST_NAME_IN_MSG + 4];
  if (st->n == st->cap) {
    int ncap = st->cap ? st->cap * 2 : 16;
    st_tensor *nt = (st->cap < INT_MAX / 4) ? realloc(st->t, (size_t)ncap * sizeof *nt) : NULL;
    if (!nt) {
      free(name);
      return st_fail(err, st->label, DINET_ERR_NOMEM, "out of memory (%d tensors)", st->n);
    }
    st->t = nt;
    st->cap = ncap;
  }
  st_tensor *t = &st->t[st->n++];
  memset(t, 0, sizeof *t);
  t->name = name;
  const char *tn = msg_name(name, nb);

  if (dinet__json_peek(j) != DINET__JSON_OBJECT) {
    if (dinet__json_skip(j) < 0)
      return header_json_error(st, j, err);
    return st_fail(err, st->label, DINET_ERR_FORMAT, "tensor '%s': entry is not a JSON object", tn);
  }
  if (dinet__json_begin_object(j) < 0)
    return header_json_error(st, j, err);
  int have_dtype = 0, have_shape = 0, have_offsets = 0;
  int64_t off[2] = {0, 0};
  for (;;) {
    char *key = NULL;
    int rc = dinet__json_next_key(j, &key, NULL);
    if (rc < 0)
      return header_json_error(st, j, err);
    if (rc == 0)
      break;
    int which = strcmp(key, "dtype") == 0          ? 1
                : strcmp(key, "shape") == 0        ? 2
                : strcmp(key, "data_offsets") == 0 ? 3
                                                   : 0;
    free(key);
    if ((which == 1 && have_dtype) || (which == 2 && have_shape) || (which == 3 && have_offsets))
      return st_fail(err, st->label, DINET_ERR_FORMAT, "tensor '%s': field %s given twice", tn,
                     which == 1 ? "dtype" : which == 2 ? "shape" : "data_offsets");
    if (which == 0) { /* unknown fields are ignored, like the reference reader */
      if (dinet__json_skip(j) < 0)
        return header_json_error(st, j, err);
    } else if (which == 1) {
      have_dtype = 1;
      if (dinet__json_peek(j) != DINET__JSON_STRING) {
        if (dinet__json_skip(j) < 0)
          return header_json_error(st, j, err);
        return st_fail(err, st->label, DINET_ERR_FORMAT, "tensor '%s': dtype is not a string", tn);
      }
      char *ds = NULL;
      if (dinet__json_read_string(j, &ds, NULL) < 0)
        return header_json_error(st, j, err);
      t->dt = find_dtype(ds);
      if (!t->dt) {
        char db[ST_NAME_IN_MSG + 4];
        st_fail(err, st->label, DINET_ERR_FORMAT,
                "tensor '%s': unknown or unsupported dtype '%s'", tn, msg_name(ds, db));
        free(ds);
        return DINET_ERR_FORMAT;
      }
      free(ds);
    } else {
      const char *what = which == 2 ? "shape" : "data_offsets";
      int *have = which == 2 ? &have_shape : &have_offsets;
      *have = 1;
      if (dinet__json_peek(j) != DINET__JSON_ARRAY) {
        if (dinet__json_skip(j) < 0)
          return header_json_error(st, j, err);
        return st_fail(err, st->label, DINET_ERR_FORMAT, "tensor '%s': %s is not a JSON array",
                       tn, what);
      }
      if (dinet__json_begin_array(j) < 0)
        return header_json_error(st, j, err);
      int count = 0, max = which == 2 ? DINET_ST_MAX_DIMS : 2;
      for (;;) {
        rc = dinet__json_next_item(j);
        if (rc < 0)
          return header_json_error(st, j, err);
        if (rc == 0)
          break;
        if (count >= max) {
          if (which == 2)
            return st_fail(err, st->label, DINET_ERR_LIMIT,
                           "tensor '%s': shape has more than %d dimensions", tn,
                           DINET_ST_MAX_DIMS);
          return st_fail(err, st->label, DINET_ERR_FORMAT,
                         "tensor '%s': data_offsets must be [begin, end] (more than 2 values)",
                         tn);
        }
        int64_t v;
        rc = read_header_int(st, j, name, what, &v, err);
        if (rc < 0)
          return rc;
        if (which == 2)
          t->shape[count] = v;
        else
          off[count] = v;
        count++;
      }
      if (which == 2)
        t->ndim = count;
      else if (count != 2)
        return st_fail(err, st->label, DINET_ERR_FORMAT,
                       "tensor '%s': data_offsets must be [begin, end] (got %d values)", tn,
                       count);
    }
  }
  if (!have_dtype || !have_shape || !have_offsets)
    return st_fail(err, st->label, DINET_ERR_FORMAT, "tensor '%s': entry has no %s", tn,
                   !have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets");

  /* element count, overflow-safe (a zero dimension makes it 0) */
  char sb[160];
  fmt_shape(sb, sizeof sb, t->shape, t->ndim);
  int64_t numel = 1;
  int zero = 0;
  for (int d = 0; d < t->ndim; d++)
    zero |= t->shape[d] == 0;
  if (zero) {
    numel = 0;
  } else {
    for (int d = 0; d < t->ndim; d++) {
      if (numel > INT64_MAX / t->shape[d])
        return st_fail(err, st->label, DINET_ERR_FORMAT,
                       "tensor '%s': shape %s has too many elements (product overflows)", tn, sb);
      numel *= t->shape[d];
    }
  }
  if (numel > INT64_MAX / t->dt->size)
    return st_fail(err, st->label, DINET_ERR_FORMAT,
                   "tensor '%s': %s shape %s is too large (byte size overflows)", tn,
                   t->dt->name, sb);
  t->numel = numel;
  uint64_t bytes = (uint64_t)numel * (uint64_t)t->dt->size;
  t->begin = (uint64_t)off[0];
  t->end = (uint64_t)off[1];
  if (t->begin > t->end)
    return st_fail(err, st->label, DINET_ERR_FORMAT,
                   "tensor '%s': data_offsets [%llu, %llu] have begin > end", tn,
                   (unsigned long long)t->begin, (unsigned long long)t->end);
  if (t->end > st->data_len)
    return st_fail(err, st->label, DINET_ERR_FORMAT,
                   "tensor '%s': data_offsets [%llu, %llu] go past the end of the data "
                   "(%llu bytes)",
                   tn, (unsigned long long)t->begin, (unsigned long long)t->end,
                   (unsigned long long)st->data_len);
  if (t->end - t->begin != bytes)
    return st_fail(err, st->label, DINET_ERR_FORMAT,
                   "tensor '%s' data_offsets [%llu, %llu] do not match %s shape %s "
                   "(%llu bytes)",
                   tn, (unsigned long long)t->begin, (unsigned long long)t->end, t->dt->name,
                   sb, (unsigned long long)bytes);
  return 0;
}

/* Parses the "__metadata__" object (the cursor is at its value). */
static int parse_metadata(dinet_st *st, dinet__json *j, dinet_error *err) {
  char nb[ST_NAME_IN_MSG + 4];
  if (dinet__json_peek(j) != DINET__JSON_OBJECT) {
    if (dinet__json_skip(j) < 0)
      return header_json_error(st, j, err);
    return st_fail(err, st->label, DINET_ERR_FORMAT,
                   "__metadata__ is not a JSON object of strings");
  }
  if (dinet__json_begin_object(j) < 0)
    return header_json_error(st, j, err);
  for (;;) {
    char *key = NULL, *val = NULL;
    size_t klen, vlen;
    int rc = dinet__json_next_key(j, &key, &klen);
    if (rc < 0)
      return header_json_error(st, j, err);
    if (rc == 0)
      break;
    if (strlen(key) != klen) {
      free(key);
      return st_fail(err, st->label, DINET_ERR_FORMAT,
                     "__metadata__ key contains a NUL character (\\u0000)");
    }
    if (dinet__json_peek(j) != DINET__JSON_STRING) {
      st_fail(err, st->label, DINET_ERR_FORMAT,
              "__metadata__ value for '%s' is not a string (safetensors metadata values "
              "must be strings)",
              msg_name(key, nb));
      free(key);
      if (dinet__json_skip(j) < 0)
        return header_json_error(st, j, err);
      return DINET_ERR_FORMAT;
    }
    if (dinet__json_read_string(j, &val, &vlen) < 0) {
      free(key);
      return header_json_error(st, j, err);
    }
    if (strlen(val) != vlen) {
      st_fail(err, st->label, DINET_ERR_FORMAT,
              "__metadata__ value for '%s' contains a NUL character (\\u0000)",
              msg_name(key, nb));
      free(key);
      free(val);
      return DINET_ERR_FORMAT;
    }
    if (st->n_meta == st->cap_meta) {
      int ncap = st->cap_meta ? st->cap_meta * 2 : 8;
      char **nk = NULL, **nv = NULL;
      if (st->cap_meta < INT_MAX / 4) {
        nk = realloc(st->mkey, (size_t)ncap * sizeof *nk);
        if (nk)
          st->mkey = nk;
        nv = realloc(st->mval, (size_t)ncap * sizeof *nv);
        if (nv)
          st->mval = nv;
      }
      if (!nk || !nv) {
        free(key);
        free(val);
        return st_fail(err, st->label, DINET_ERR_NOMEM, "out of memory reading __metadata__");
      }
      st->cap_meta = ncap;
    }
    st->mkey[st->n_meta] = key;
    st->mval[st->n_meta] = val;
    st->n_meta++;
  }
  /* duplicate keys */
  if (st->n_meta > 1) {
    char **sorted = malloc((size_t)st->n_meta * sizeof *sorted);
    if (!sorted)
      return st_fail(err, st->label, DINET_ERR_NOMEM, "out of memory reading __metadata__");
    memcpy(sorted, st->mkey, (size_t)st->n_meta * sizeof *sorted);
    qsort(sorted, (size_t)st->n_meta, sizeof *sorted, cmp_str);
    for (int i = 1; i < st->n_meta; i++) {
      if (strcmp(sorted[i - 1], sorted[i]) == 0) {
        st_fail(err, st->label, DINET_ERR_FORMAT, "__metadata__ has duplicate key '%s'",
                msg_name(sorted[i], nb));
        free(sorted);
        return DINET_ERR_FORMAT;
      }
    }
    free(sorted);
  }
  return 0;
}

/* Validates the header of st->buf and fills st. */
static int parse_buffer(dinet_st *st, dinet_error *err) {
  char nb[ST_NAME_IN_MSG + 4];
  if (st->len == 0)
    return st_fail(err, st->label, DINET_ERR_FORMAT, "file is empty (not a safetensors file)");
  if (st->len < 8)
    return st_fail(err, st->label, DINET_ERR_FORMAT,
                   "file is only %zu bytes, too short for a safetensors header", st->len);
  uint64_t hlen = rd_le64(st->buf);
  if (hlen > (uint64_t)st->len - 8)
    return st_fail(err, st->label, DINET_ERR_FORMAT,
                   "not a safetensors model file, or truncated (header length %llu exceeds "
                   "file size %zu)",
                   (unsigned long long)hlen, st->len);
  if (hlen > DINET_ST_MAX_HEADER)
    return st_fail(err, st->label, DINET_ERR_LIMIT,
                   "header length %llu exceeds the limit of %llu bytes",
                   (unsigned long long)hlen, (unsigned long long)DINET_ST_MAX_HEADER);
  st->data = st->buf + 8 + hlen;
  st->data_len = (uint64_t)st->len - 8 - hlen;

  dinet__json j;
  dinet__json_init(&j, (const char *)st->buf + 8, (size_t)hlen);
  dinet__json_type top = dinet__json_peek(&j);
  if (top == DINET__JSON_END)
    return st_fail(err, st->label, DINET_ERR_FORMAT, "header is empty (no JSON object)");
  if (top != DINET__JSON_OBJECT) {
    static const char *const what[] = {"", "null", "boolean", "number", "string", "array"};
    if (top > DINET__JSON_END && top < DINET__JSON_OBJECT)
      return st_fail(err, st->label, DINET_ERR_FORMAT,
                     "header is a JSON %s, not an object of tensors", what[top]);
    return st_fail(err, st->label, DINET_ERR_FORMAT,
                   "header is not JSON (first byte 0x%02x; not a safetensors file?)",
                   (unsigned)st->buf[8 + dinet__json_offset(&j)]);
  }
  if (dinet__json_begin_object(&j) < 0)
    return header_json_error(st, &j, err);
  int have_meta = 0;
  for (;;) {
    char *key = NULL;
    size_t klen;
    int rc = dinet__json_next_key(&j, &key, &klen);
    if (rc < 0)
      return header_json_error(st, &j, err);
    if (rc == 0)
      break;
    if (strcmp(key, "__metadata__") == 0 && strlen(key) == klen) {
      free(key);
      if (have_meta)
        return st_fail(err, st->label, DINET_ERR_FORMAT, "__metadata__ given twice");
      have_meta = 1;
      rc = parse_metadata(st, &j, err);
    } else if (strlen(key) != klen) {
      rc = st_fail(err, st->label, DINET_ERR_FORMAT,
                   "tensor name '%s' contains a NUL character (\\u0000)", msg_name(key, nb));
      free(key);
    } else {
      rc = parse_tensor(st, &j, key, err);
    }
    if (rc < 0)
      return rc;
  }
  if (dinet__json_finish(&j) < 0)
    return header_json_error(st, &j, err);

  /* sorted index; duplicate names */
  if (st->n > 0) {
    st->index = malloc((size_t)st->n * sizeof *st->index);
    if (!st->index)
      return st_fail(err, st->label, DINET_ERR_NOMEM, "out of memory (%d tensors)", st->n);
    for (int i = 0; i < st->n; i++) {
      st->index[i].name = st->t[i].name;
      st->index[i].idx = i;
    }
    qsort(st->index, (size_t)st->n, sizeof *st->index, cmp_index);
    for (int i = 1; i < st->n; i++)
      if (strcmp(st->index[i - 1].name, st->index[i].name) == 0)
        return st_fail(err, st->label, DINET_ERR_FORMAT, "duplicate tensor name '%s'",
                       msg_name(st->index[i].name, nb));
  }
  return 0;
}

/* Makes a dinet_st owning buf (freed on failure) and validates it. */
static dinet_st *st_from_buffer(unsigned char *buf, size_t len, const char *label,
                                dinet_error *err) {
  dinet_st *st = calloc(1, sizeof *st);
  char *lab = strdup(label);
  if (!st || !lab) {
    free(st);
    free(lab);
    free(buf);
    dinet_error_set(err, DINET_ERR_NOMEM, "%s: out of memory", label);
    return NULL;
  }
  st->label = lab;
  st->buf = buf;
  st->len = len;
  if (parse_buffer(st, err) < 0) {
    dinet_st_close(st);
    return NULL;
  }
  return st;
}

/* Opens and validates a safetensors file, reading it whole into memory. */
dinet_st *dinet_st_open(const char *path, dinet_error *err) {
  if (!path) {
    dinet_error_set(err, DINET_ERR_INVALID, "dinet_st_open: NULL path");
    return NULL;
  }
  FILE *f = fopen(path, "rb");
  if (!f) {
    st_fail(err, path, DINET_ERR_IO, "cannot open: %s", strerror(errno));
    return NULL;
  }
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0) {
    st_fail(err, path, DINET_ERR_IO, "cannot stat: %s", strerror(errno));
    fclose(f);
    return NULL;
  }
  if (!S_ISREG(sb.st_mode)) {
    st_fail(err, path, DINET_ERR_IO, "not a regular file");
    fclose(f);
    return NULL;
  }
  if (sb.st_size < 0 || (uint64_t)sb.st_size > ST_MAX_FILE ||
      (uint64_t)sb.st_size > (uint64_t)SIZE_MAX - 1) {
    st_fail(err, path, DINET_ERR_LIMIT,
            "file is %lld bytes; safetensors files over 4 GiB are not supported",
            (long long)sb.st_size);
    fclose(f);
    return NULL;
  }
  size_t size = (size_t)sb.st_size;
  unsigned char *buf = malloc(size ? size : 1);
  if (!buf) {
    st_fail(err, path, DINET_ERR_NOMEM, "out of memory reading %zu bytes", size);
    fclose(f);
    return NULL;
  }
  size_t got = size ? fread(buf, 1, size, f) : 0;
  if (got != size) {
    if (ferror(f))
      st_fail(err, path, DINET_ERR_IO, "read error: %s", strerror(errno));
    else
      st_fail(err, path, DINET_ERR_IO, "file shrank while reading (%zu of %zu bytes)", got,
              size);
    fclose(f);
    free(buf);
    return NULL;
  }
  fclose(f); /* read-only: nothing to lose on close */
  return st_from_buffer(buf, size, path, err);
}

/* Validates a safetensors image in memory (the buffer is copied). */
dinet_st *dinet_st_open_memory(const void *data, size_t len, const char *name,
                               dinet_error *err) {
  const char *label = name ? name : "<memory>";
  if (!data && len) {
    dinet_error_set(err, DINET_ERR_INVALID, "%s: NULL buffer", label);
    return NULL;
  }
  unsigned char *buf = malloc(len ? len : 1);
  if (!buf) {
    dinet_error_set(err, DINET_ERR_NOMEM, "%s: out of memory copying %zu bytes", label, len);
    return NULL;
  }
  if (len)
    memcpy(buf, data, len);
  return st_from_buffer(buf, len, label, err);
}

/* Number of tensors (0 for NULL). */
int dinet_st_count(const dinet_st *st) { return st ? st->n : 0; }

/* The tensor at i, or NULL when out of range. */
static const st_tensor *tensor_at(const dinet_st *st, int i) {
  return (st && i >= 0 && i < st->n) ? &st->t[i] : NULL;
}

/* Name of tensor i, NULL when out of range. */
const char *dinet_st_name(const dinet_st *st, int i) {
  const st_tensor *t = tensor_at(st, i);
  return t ? t->name : NULL;
}

/* Index of the tensor called name, -1 if absent. */
int dinet_st_find(const dinet_st *st, const char *name) {
  if (!st || !name || st->n == 0)
    return -1;
  st_index key = {name, -1};
  const st_index *hit = bsearch(&key, st->index, (size_t)st->n, sizeof key, cmp_index);
  return hit ? hit->idx : -1;
}

/* Dtype of tensor i (DINET_DTYPE_OTHER when out of range). */
dinet_dtype dinet_st_dtype(const dinet_st *st, int i) {
  const st_tensor *t = tensor_at(st, i);
  return t ? t->dt->dtype : DINET_DTYPE_OTHER;
}

/* Copies tensor i's shape; returns ndim, or -1 when out of range. */
int dinet_st_shape(const dinet_st *st, int i, int64_t shape[DINET_ST_MAX_DIMS]) {
  const st_tensor *t = tensor_at(st, i);
  if (!t)
    return -1;
  if (shape)
    for (int d = 0; d < t->ndim; d++)
      shape[d] = t->shape[d];
  return t->ndim;
}

/* Element count of tensor i, or -1 when out of range. */
int64_t dinet_st_numel(const dinet_st *st, int i) {
  const st_tensor *t = tensor_at(st, i);
  return t ? t->numel : -1;
}

/* Converts tensor i (F32, F16 or BF16) to float. */
int dinet_st_read_f32(const dinet_st *st, int i, float *out, size_t n, dinet_error *err) {
  char nb[ST_NAME_IN_MSG + 4];
  const st_tensor *t = tensor_at(st, i);
  if (!t)
    return dinet_error_set(err, DINET_ERR_INVALID, "%s: no tensor #%d (the file has %d)",
                           st ? st->label : "dinet_st_read_f32", i, st ? st->n : 0);
  const char *tn = msg_name(t->name, nb);
  if ((uint64_t)t->numel != (uint64_t)n)
    return st_fail(err, st->label, DINET_ERR_INVALID,
                   "tensor '%s' has %lld elements, but %zu were asked for", tn,
                   (long long)t->numel, n);
  if (t->dt->dtype == DINET_DTYPE_OTHER)
    return st_fail(err, st->label, DINET_ERR_FORMAT,
                   "tensor '%s' has dtype %s, which cannot be read as float", tn, t->dt->name);
  if (!out && n)
    return st_fail(err, st->label, DINET_ERR_INVALID, "tensor '%s': NULL output", tn);
  const unsigned char *p = st->data + t->begin;
  switch (t->dt->dtype) {
  case DINET_DTYPE_F32:
    for (size_t k = 0; k < n; k++) {
      uint32_t bits = rd_le32(p + 4 * k);
      memcpy(&out[k], &bits, sizeof bits);
    }
    break;
  case DINET_DTYPE_F16:
    for (size_t k = 0; k < n; k++)
      out[k] = half_to_float(rd_le16(p + 2 * k));
    break;
  case DINET_DTYPE_BF16:
    for (size_t k = 0; k < n; k++)
      out[k] = bf16_to_float(rd_le16(p + 2 * k));
    break;
  default:
    break;
  }
  return 0;
}

/* Metadata value for key, NULL when absent. */
const char *dinet_st_meta(const dinet_st *st, const char *key) {
  if (!st || !key)
    return NULL;
  for (int i = 0; i < st->n_meta; i++)
    if (strcmp(st->mkey[i], key) == 0)
      return st->mval[i];
  return NULL;
}

/* Number of metadata entries. */
int dinet_st_meta_count(const dinet_st *st) { return st ? st->n_meta : 0; }

/* Metadata key i (file order), NULL when out of range. */
const char *dinet_st_meta_key(const dinet_st *st, int i) {
  return (st && i >= 0 && i < st->n_meta) ? st->mkey[i] : NULL;
}

/* Metadata value i (file order), NULL when out of range. */
const char *dinet_st_meta_value(const dinet_st *st, int i) {
  return (st && i >= 0 && i < st->n_meta) ? st->mval[i] : NULL;
}

/* ---- writing ---- */

typedef struct strbuf {
  char *p;
  size_t len, cap;
  int oom;
} strbuf;

/* Appends n bytes to b (sets b->oom on failure). */
static void sb_add(strbuf *b, const char *s, size_t n) {
  if (b->oom)
    return;
  if (n > SIZE_MAX - b->len - 1) {
    b->oom = 1;
    return;
  }
  if (b->len + n + 1 > b->cap) {
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < b->len + n + 1)
      ncap = ncap > SIZE_MAX / 2 ? b->len + n + 1 : ncap * 2;
    char *np = realloc(b->p, ncap);
    if (!np) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = ncap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

/* Appends a C string. */
static void sb_str(strbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* Appends s as a JSON string literal. */
static void sb_quote(strbuf *b, const char *s) {
  size_t need = dinet_json_quote(s, NULL, 0);
  char *tmp = malloc(need + 1);
  if (!tmp) {
    b->oom = 1;
    return;
  }
  dinet_json_quote(s, tmp, need + 1);
  sb_add(b, tmp, need);
  free(tmp);
}

/* Appends a non-negative integer. */
static void sb_u64(strbuf *b, uint64_t v) {
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
  sb_add(b, tmp, (size_t)n);
}

/* Checks the writer's arguments; fills numel[] and the total data size. */
static int check_write_args(const char *path, const dinet_st_tensor *tensors, int n,
                            dinet_dtype dtype, const char *const *mk, const char *const *mv,
                            int n_meta, uint64_t *numel, uint64_t *total, dinet_error *err) {
  char nb[ST_NAME_IN_MSG + 4];
  if (dtype != DINET_DTYPE_F32 && dtype != DINET_DTYPE_F16)
    return st_fail(err, path, DINET_ERR_INVALID, "only F32 and F16 tensors can be written");
  if (n < 0 || (n > 0 && !tensors) || n_meta < 0 || (n_meta > 0 && (!mk || !mv)))
    return st_fail(err, path, DINET_ERR_INVALID, "bad tensor or metadata list");
  uint64_t esize = dtype == DINET_DTYPE_F32 ? 4 : 2;
  *total = 0;
  for (int i = 0; i < n; i++) {
    const dinet_st_tensor *t = &tensors[i];
    if (!t->name || !t->name[0])
      return st_fail(err, path, DINET_ERR_INVALID, "tensor #%d has no name", i);
    const char *tn = msg_name(t->name, nb);
    if (!dinet__utf8_valid(t->name, strlen(t->name)))
      return st_fail(err, path, DINET_ERR_INVALID, "tensor #%d: name is not valid UTF-8", i);
    if (strcmp(t->name, "__metadata__") == 0)
      return st_fail(err, path, DINET_ERR_INVALID, "tensor #%d cannot be called __metadata__",
                     i);
    if (t->ndim < 0 || t->ndim > DINET_ST_MAX_DIMS)
      return st_fail(err, path, DINET_ERR_INVALID, "tensor '%s': ndim %d not in 0..%d", tn,
                     t->ndim, DINET_ST_MAX_DIMS);
    uint64_t ne = 1;
    for (int d = 0; d < t->ndim; d++) {
      if (t->shape[d] < 0)
        return st_fail(err, path, DINET_ERR_INVALID, "tensor '%s': negative dimension %lld",
                       tn, (long long)t->shape[d]);
      uint64_t s = (uint64_t)t->shape[d];
      if (s && ne > (uint64_t)INT64_MAX / esize / s)
        return st_fail(err, path, DINET_ERR_INVALID, "tensor '%s': shape too large", tn);
      ne *= s;
    }
    if (ne > 0 && !t->data)
      return st_fail(err, path, DINET_ERR_INVALID, "tensor '%s': NULL data", tn);
    if (ne * esize > (uint64_t)INT64_MAX - *total)
      return st_fail(err, path, DINET_ERR_INVALID, "tensors too large in total");
    numel[i] = ne;
    *total += ne * esize;
  }
  for (int i = 0; i < n_meta; i++) {
    if (!mk[i] || !mv[i])
      return st_fail(err, path, DINET_ERR_INVALID, "metadata entry #%d is NULL", i);
    if (!dinet__utf8_valid(mk[i], strlen(mk[i])) || !dinet__utf8_valid(mv[i], strlen(mv[i])))
      return st_fail(err, path, DINET_ERR_INVALID, "metadata entry #%d is not valid UTF-8", i);
  }
  /* duplicates: sort copies of the names */
  int m = n > n_meta ? n : n_meta;
  if (m > 1) {
    const char **v = malloc((size_t)m * sizeof *v);
    if (!v)
      return st_fail(err, path, DINET_ERR_NOMEM, "out of memory");
    for (int pass = 0; pass < 2; pass++) {
      int cnt = pass == 0 ? n : n_meta;
      for (int i = 0; i < cnt; i++)
        v[i] = pass == 0 ? tensors[i].name : mk[i];
      qsort(v, (size_t)cnt, sizeof *v, cmp_str);
      for (int i = 1; i < cnt; i++) {
        if (strcmp(v[i - 1], v[i]) == 0) {
          st_fail(err, path, DINET_ERR_INVALID, "duplicate %s '%s'",
                  pass == 0 ? "tensor name" : "metadata key", msg_name(v[i], nb));
          free(v);
          return DINET_ERR_INVALID;
        }
      }
    }
    free(v);
  }
  return 0;
}

/* Writes all of buf to f; 0 or -1. */
static int write_all(FILE *f, const void *buf, size_t n) {
  return (n == 0 || fwrite(buf, 1, n, f) == n) ? 0 : -1;
}

/* Writes the data of tensor t (ne elements) as F32 or F16 little-endian. */
static int write_tensor_data(FILE *f, const float *data, uint64_t ne, dinet_dtype dtype,
                             unsigned char *chunk, size_t chunk_elems) {
  uint64_t k = 0;
  while (k < ne) {
    size_t m = (ne - k) < chunk_elems ? (size_t)(ne - k) : chunk_elems;
    size_t nbytes;
    if (dtype == DINET_DTYPE_F32) {
      for (size_t i = 0; i < m; i++) {
        uint32_t bits;
        memcpy(&bits, &data[k + i], sizeof bits);
        for (int b = 0; b < 4; b++)
          chunk[4 * i + (size_t)b] = (unsigned char)(bits >> (8 * b));
      }
      nbytes = 4 * m;
    } else {
      for (size_t i = 0; i < m; i++) {
        uint16_t h = float_to_half(data[k + i]);
        chunk[2 * i] = (unsigned char)(h & 0xff);
        chunk[2 * i + 1] = (unsigned char)(h >> 8);
      }
      nbytes = 2 * m;
    }
    if (write_all(f, chunk, nbytes) < 0)
      return -1;
    k += m;
  }
  return 0;
}

/* Builds the header JSON (padded) for the writer; returns 0 or -1 (oom). */
static int build_header(strbuf *h, const dinet_st_tensor *tensors, int n, dinet_dtype dtype,
                        const char *const *mk, const char *const *mv, int n_meta,
                        const uint64_t *numel) {
  uint64_t esize = dtype == DINET_DTYPE_F32 ? 4 : 2, off = 0;
  sb_str(h, "{");
  if (n_meta > 0) {
    sb_str(h, "\"__metadata__\":{");
    for (int i = 0; i < n_meta; i++) {
      if (i)
        sb_str(h, ",");
      sb_quote(h, mk[i]);
      sb_str(h, ":");
      sb_quote(h, mv[i]);
    }
    sb_str(h, "}");
  }
  for (int i = 0; i < n; i++) {
    const dinet_st_tensor *t = &tensors[i];
    if (i || n_meta > 0)
      sb_str(h, ",");
    sb_quote(h, t->name);
    sb_str(h, dtype == DINET_DTYPE_F32 ? ":{\"dtype\":\"F32\",\"shape\":["
                                       : ":{\"dtype\":\"F16\",\"shape\":[");
    for (int d = 0; d < t->ndim; d++) {
      if (d)
        sb_str(h, ",");
      sb_u64(h, (uint64_t)t->shape[d]);
    }
    sb_str(h, "],\"data_offsets\":[");
    sb_u64(h, off);
    sb_str(h, ",");
    off += numel[i] * esize;
    sb_u64(h, off);
    sb_str(h, "]}");
  }
  sb_str(h, "}");
  while (!h->oom && (8 + h->len) % 8)
    sb_str(h, " ");
  return h->oom ? -1 : 0;
}

/* Writes a safetensors file atomically (temporary file + rename). */
int dinet_st_write(const char *path, const dinet_st_tensor *tensors, int n, dinet_dtype dtype,
                   const char *const *meta_keys, const char *const *meta_values, int n_meta,
                   dinet_error *err) {
  if (!path || !path[0])
    return dinet_error_set(err, DINET_ERR_INVALID, "dinet_st_write: no path");
  uint64_t *numel = malloc((size_t)(n > 0 ? n : 1) * sizeof *numel);
  if (!numel)
    return st_fail(err, path, DINET_ERR_NOMEM, "out of memory");
  uint64_t total = 0;
  int rc = check_write_args(path, tensors, n, dtype, meta_keys, meta_values, n_meta, numel,
                            &total, err);
  if (rc < 0) {
    free(numel);
    return rc;
  }
  strbuf h = {0};
  if (build_header(&h, tensors, n, dtype, meta_keys, meta_values, n_meta, numel) < 0 ||
      (uint64_t)h.len > DINET_ST_MAX_HEADER) {
    rc = h.oom ? st_fail(err, path, DINET_ERR_NOMEM, "out of memory building the header")
               : st_fail(err, path, DINET_ERR_LIMIT, "header would exceed %llu bytes",
                         (unsigned long long)DINET_ST_MAX_HEADER);
    free(h.p);
    free(numel);
    return rc;
  }

  size_t plen = strlen(path);
  char *tmp = malloc(plen + sizeof ".tmp-XXXXXX");
  enum { CHUNK = 16384 };
  unsigned char *chunk = malloc(CHUNK * 4);
  if (!tmp || !chunk) {
    free(tmp);
    free(chunk);
    free(h.p);
    free(numel);
    return st_fail(err, path, DINET_ERR_NOMEM, "out of memory");
  }
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp-XXXXXX", sizeof ".tmp-XXXXXX");
  int fd = mkstemp(tmp);
  if (fd < 0) {
    rc = st_fail(err, path, DINET_ERR_IO, "cannot create temporary file %s: %s", tmp,
                 strerror(errno));
    free(tmp);
    free(chunk);
    free(h.p);
    free(numel);
    return rc;
  }
  /* mkstemp makes 0600; keep an existing file's mode, else 0644 */
  struct stat old;
  mode_t mode = (stat(path, &old) == 0) ? (old.st_mode & 07777) : 0644;
  const char *what = NULL;
  int saved = 0;
  FILE *f = NULL;
  if (fchmod(fd, mode) != 0) {
    what = "setting permissions on";
  } else if (!(f = fdopen(fd, "wb"))) {
    what = "opening";
  } else {
    unsigned char len8[8];
    wr_le64(len8, (uint64_t)h.len);
    if (write_all(f, len8, 8) < 0 || write_all(f, h.p, h.len) < 0)
      what = "writing";
    for (int i = 0; i < n && !what; i++)
      if (write_tensor_data(f, tensors[i].data, numel[i], dtype, chunk, CHUNK) < 0)
        what = "writing";
    if (!what && fflush(f) != 0)
      what = "writing";
    if (!what && fsync(fileno(f)) != 0)
      what = "syncing";
  }
  if (what)
    saved = errno;
  if (f) {
    if (fclose(f) != 0 && !what) {
      what = "closing";
      saved = errno;
    }
  } else {
    close(fd);
  }
  if (!what && rename(tmp, path) != 0) {
    what = "renaming into place";
    saved = errno;
  }
  if (what) {
    rc = st_fail(err, path, DINET_ERR_IO, "error %s temporary file %s: %s", what, tmp,
                 saved ? strerror(saved) : "unknown error");
    unlink(tmp);
  } else {
    rc = 0;
    /* make the rename durable (best effort) */
    char *slash = strrchr(tmp, '/');
    const char *dir = ".";
    if (slash) {
      slash[slash == tmp ? 1 : 0] = '\0';
      dir = tmp;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
      (void)fsync(dfd);
      close(dfd);
    }
  }
  free(tmp);
  free(chunk);
  free(h.p);
  free(numel);
  return rc;
}
