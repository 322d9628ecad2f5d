/* test_safetensors.c — safetensors reader/writer and JSON helpers:
 * round trips (F32, F16 exhaustively, BF16), metadata escaping, hostile
 * files with their messages, writer errors, determinism, seeded mutations
 * through the fuzz body, and (when torch is there) PyTorch interop. */
#include <dirent.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dinet/dinet.h"
#include "testutil.h"

#define DINET_FUZZ_NO_ENTRY
#include "fuzz/fuzz_safetensors.c"

/* ---- helpers ---- */

/* Builds a safetensors image: LE length, header text, data_len bytes of a
 * fixed pattern. Returns a malloc'd buffer and its size in *len. */
static unsigned char *make_image(const char *header, size_t data_len, size_t *len) {
  size_t hl = strlen(header);
  *len = 8 + hl + data_len;
  unsigned char *b = malloc(*len ? *len : 1);
  if (!b)
    return NULL;
  for (int i = 0; i < 8; i++)
    b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
  memcpy(b + 8, header, hl);
  for (size_t i = 0; i < data_len; i++)
    b[8 + hl + i] = (unsigned char)(i * 37 + 11);
  return b;
}

/* Opens buf, expecting failure with code and substr in the message (which
 * must also start with "name: "). */
static void expect_fail_buf(const char *what, const void *buf, size_t len, int code,
                            const char *substr) {
  dinet_error err;
  dinet_error_clear(&err);
  dinet_st *st = dinet_st_open_memory(buf, len, "model.safetensors", &err);
  CHECK(st == NULL, "%s: opened", what);
  dinet_st_close(st);
  CHECK(err.code == code, "%s: code %d (%s), want %d: %s", what, err.code,
        dinet_status_name(err.code), code, err.message);
  CHECK(strstr(err.message, substr) != NULL, "%s: message '%s' lacks '%s'", what, err.message,
        substr);
  CHECK(strncmp(err.message, "model.safetensors: ", 19) == 0, "%s: message '%s' unnamed", what,
        err.message);
}

/* expect_fail_buf on an image built from header + data_len bytes. */
static void expect_fail(const char *what, const char *header, size_t data_len, int code,
                        const char *substr) {
  size_t len;
  unsigned char *b = make_image(header, data_len, &len);
  expect_fail_buf(what, b, len, code, substr);
  free(b);
}

/* Opens header + data_len bytes, expecting success. */
static dinet_st *expect_open(const char *what, const char *header, size_t data_len) {
  size_t len;
  unsigned char *b = make_image(header, data_len, &len);
  dinet_error err;
  dinet_error_clear(&err);
  dinet_st *st = dinet_st_open_memory(b, len, "model.safetensors", &err);
  free(b);
  CHECK(st != NULL, "%s: %s", what, err.message);
  return st;
}

/* Reads a whole file; NULL on failure. */
static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  unsigned char *b = NULL;
  size_t cap = 0;
  *len = 0;
  for (;;) {
    if (*len == cap) {
      cap = cap ? cap * 2 : 4096;
      unsigned char *nb = realloc(b, cap);
      if (!nb) {
        free(b);
        fclose(f);
        return NULL;
      }
      b = nb;
    }
    size_t got = fread(b + *len, 1, cap - *len, f);
    *len += got;
    if (got == 0)
      break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(b);
    return NULL;
  }
  return b;
}

/* Bit pattern of a float. */
static uint32_t fbits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

/* Counts directory entries whose name contains ".tmp-". */
static int count_temp_files(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  if (!d)
    return -1;
  struct dirent *e;
  while ((e = readdir(d)))
    n += strstr(e->d_name, ".tmp-") != NULL;
  closedir(d);
  return n;
}

/* ---- float16 reference (independent of the bit tricks in the engine) ---- */

/* Value of half bits h computed from the definition with ldexp. */
static double half_ref_value(uint16_t h) {
  int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
  return (h & 0x8000) ? -v : v;
}

/* Reference float -> half bits: nearest of the finite halves by binary
 * search, ties to even, >= 65520 to inf. Finite, non-negative x only. */
static uint16_t half_ref_round(double x) {
  if (x >= 65520.0)
    return 0x7c00;
  int lo = 0, hi = 0x7bff; /* largest finite half */
  while (lo < hi) {        /* first h with value >= x */
    int mid = (lo + hi) / 2;
    if (half_ref_value((uint16_t)mid) < x)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0)
    return 0;
  double above = half_ref_value((uint16_t)lo), below = half_ref_value((uint16_t)(lo - 1));
  if (above - x < x - below)
    return (uint16_t)lo;
  if (x - below < above - x)
    return (uint16_t)(lo - 1);
  return (uint16_t)((lo & 1) ? lo - 1 : lo);
}

/* ---- tests ---- */

/* F32 write/read is bit exact (NaN, -0, subnormals, inf included), shapes
 * and names survive, the layout is aligned and contiguous. */
static void test_roundtrip_f32(const char *dir) {
  float special[] = {0.0f,    -0.0f,       1.0f,     -1.0f,     65504.0f,   65520.0f,
                     1e-8f,   6e-8f,       FLT_MIN,  FLT_TRUE_MIN, 0.1f,   1.0f / 3.0f,
                     3e38f,   -3e38f,      INFINITY, -INFINITY, NAN,        -NAN,
                     1e30f,   -5.9604645e-08f, 123456.789f};
  int ns = (int)(sizeof special / sizeof special[0]);
  float mat[6] = {1, 2, 3, 4, 5, 6};
  float sc = 42.5f;
  dinet_st_tensor t[4] = {
      {"special", 1, {ns}, special},
      {"layer.0.weight", 2, {2, 3}, mat},
      {"scalar", 0, {0}, &sc},
      {"empty", 2, {0, 4}, NULL},
  };
  char path[600];
  snprintf(path, sizeof path, "%s/f32.safetensors", dir);
  dinet_error err;
  dinet_error_clear(&err);
  int rc = dinet_st_write(path, t, 4, DINET_DTYPE_F32, NULL, NULL, 0, &err);
  CHECK(rc == 0, "write: %s", err.message);
  dinet_st *st = dinet_st_open(path, &err);
  CHECK(st != NULL, "open: %s", err.message);
  if (!st)
    return;
  CHECK(dinet_st_count(st) == 4, "count %d", dinet_st_count(st));
  for (int i = 0; i < 4; i++) {
    CHECK(dinet_st_name(st, i) && strcmp(dinet_st_name(st, i), t[i].name) == 0,
          "order: %d is %s", i, dinet_st_name(st, i));
    CHECK(dinet_st_find(st, t[i].name) == i, "find %s", t[i].name);
    CHECK(dinet_st_dtype(st, i) == DINET_DTYPE_F32, "dtype");
    int64_t shape[DINET_ST_MAX_DIMS];
    int nd = dinet_st_shape(st, i, shape);
    CHECK(nd == t[i].ndim, "%s ndim %d", t[i].name, nd);
    for (int d = 0; nd == t[i].ndim && d < nd; d++)
      CHECK(shape[d] == t[i].shape[d], "%s shape", t[i].name);
  }
  CHECK(dinet_st_find(st, "nope") == -1, "find absent");
  CHECK(dinet_st_numel(st, 2) == 1 && dinet_st_numel(st, 3) == 0, "numel scalar/empty");
  CHECK(dinet_st_meta_count(st) == 0 && dinet_st_meta(st, "x") == NULL, "no metadata");
  float got[32];
  rc = dinet_st_read_f32(st, 0, got, (size_t)ns, &err);
  CHECK(rc == 0, "read: %s", err.message);
  int same = 1;
  for (int k = 0; k < ns; k++)
    same &= fbits(got[k]) == fbits(special[k]);
  CHECK(same, "F32 round trip not bit exact");
  rc = dinet_st_read_f32(st, 2, got, 1, &err);
  CHECK(rc == 0 && got[0] == 42.5f, "scalar");
  rc = dinet_st_read_f32(st, 3, NULL, 0, &err);
  CHECK(rc == 0, "empty read: %s", err.message);
  rc = dinet_st_read_f32(st, 1, got, 5, &err);
  CHECK(rc == DINET_ERR_INVALID && strstr(err.message, "has 6 elements, but 5"), "n check: %s",
        err.message);
  rc = dinet_st_read_f32(st, 7, got, 5, &err);
  CHECK(rc == DINET_ERR_INVALID, "bad index");
  dinet_st_close(st);

  /* layout: aligned data, contiguous offsets */
  size_t len;
  unsigned char *raw = slurp(path, &len);
  CHECK(raw && len > 8, "slurp");
  if (raw) {
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++)
      hl |= (uint64_t)raw[i] << (8 * i);
    CHECK((8 + hl) % 8 == 0, "data offset %llu not 8-aligned", (unsigned long long)(8 + hl));
    CHECK(len == 8 + hl + 4 * ((size_t)ns + 6 + 1), "file size %zu", len);
    CHECK(raw[8] == '{' && raw[8 + hl - 1] != '\0', "header text");
    char *h = strndup((const char *)raw + 8, (size_t)hl);
    CHECK(h && strstr(h, "\"special\":{\"dtype\":\"F32\",\"shape\":[21],\"data_offsets\":[0,84]}"),
          "header: %s", h ? h : "(null)");
    CHECK(h && strstr(h, "\"layer.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[84,108]}"),
          "header: %s", h ? h : "(null)");
    CHECK(h && strstr(h, "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[108,112]}"),
          "header: %s", h ? h : "(null)");
    CHECK(h && strstr(h, "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[112,112]}"),
          "header: %s", h ? h : "(null)");
    free(h);
    free(raw);
  }
}

/* Every half bit pattern reads as its exact value and writes back to the
 * same bits; float -> half rounding matches a reference on many values. */
static void test_f16(const char *dir) {
  /* hand-made F16 file holding all 65536 patterns */
  const char *hdr = "{\"all\":{\"dtype\":\"F16\",\"shape\":[65536],\"data_offsets\":[0,131072]}}";
  size_t len;
  unsigned char *b = make_image(hdr, 131072, &len);
  size_t off = 8 + strlen(hdr);
  for (uint32_t h = 0; h < 65536; h++) {
    b[off + 2 * h] = (unsigned char)(h & 0xff);
    b[off + 2 * h + 1] = (unsigned char)(h >> 8);
  }
  dinet_error err;
  dinet_st *st = dinet_st_open_memory(b, len, "all.safetensors", &err);
  CHECK(st != NULL, "open all-halves: %s", err.message);
  float *v = malloc(65536 * sizeof *v);
  if (!st || !v) {
    free(b);
    free(v);
    dinet_st_close(st);
    return;
  }
  CHECK(dinet_st_dtype(st, 0) == DINET_DTYPE_F16, "dtype F16");
  CHECK(dinet_st_read_f32(st, 0, v, 65536, &err) == 0, "read: %s", err.message);
  int wrong = 0, nan_ok = 1;
  for (uint32_t h = 0; h < 65536; h++) {
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 31) {
      if (m == 0)
        wrong += !(isinf(v[h]) && (signbit(v[h]) != 0) == ((h & 0x8000) != 0));
      else
        nan_ok &= isnan(v[h]) != 0;
    } else {
      double want = half_ref_value((uint16_t)h);
      wrong += (double)v[h] != want || (signbit(v[h]) != 0) != ((h & 0x8000) != 0);
    }
  }
  CHECK(wrong == 0, "%d half values decoded wrongly", wrong);
  CHECK(nan_ok, "half NaN not NaN");
  CHECK(v[0x3c00] == 1.0f && v[0x0001] == ldexpf(1, -24) && v[0x0400] == ldexpf(1, -14) &&
            v[0x7bff] == 65504.0f && v[0xc000] == -2.0f && signbit(v[0x8000]) && v[0x8000] == 0,
        "known halves");
  dinet_st_close(st);

  /* write them back as F16: same bits, NaN payloads included */
  char path[600];
  snprintf(path, sizeof path, "%s/all16.safetensors", dir);
  dinet_st_tensor t = {"all", 1, {65536}, v};
  CHECK(dinet_st_write(path, &t, 1, DINET_DTYPE_F16, NULL, NULL, 0, &err) == 0, "write: %s",
        err.message);
  size_t rlen;
  unsigned char *raw = slurp(path, &rlen);
  CHECK(raw && rlen >= 131072, "slurp");
  if (raw && rlen >= 131072)
    CHECK(memcmp(raw + rlen - 131072, b + off, 131072) == 0, "half -> float -> half not identity");
  free(raw);
  free(b);

  /* float -> half rounding on chosen and random values vs the reference */
  float chosen[] = {65504.0f,  65519.99f, 65520.0f,  1e6f,        ldexpf(1, -25),
                    ldexpf(1.0000001f, -25), ldexpf(3, -25), ldexpf(5, -25),
                    ldexpf(1, -24), ldexpf(1023, -24), ldexpf(2047, -25), ldexpf(1, -14),
                    1.0f / 3.0f, 0.1f, 2049.0f, 2051.0f, 1e-10f, FLT_TRUE_MIN, 0.0f};
  int nc = (int)(sizeof chosen / sizeof chosen[0]);
  enum { NR = 200000 };
  float *x = malloc((size_t)(nc + NR) * sizeof *x);
  float *y = malloc((size_t)(nc + NR) * sizeof *y);
  if (!x || !y) {
    free(x);
    free(y);
    free(v);
    return;
  }
  memcpy(x, chosen, sizeof chosen);
  dinet_rng rng;
  dinet_rng_seed(&rng, 1234);
  for (int i = 0; i < NR; i++) {
    /* exponents spanning underflow to overflow, random mantissas */
    uint32_t bits = (uint32_t)((127 - 27 + dinet_rng_below(&rng, 45)) << 23) |
                    (uint32_t)(dinet_rng_next(&rng) & 0x7fffff);
    if (i % 7 == 0) /* exact ties between halves */
      bits &= ~(uint32_t)0xfff;
    memcpy(&x[nc + i], &bits, sizeof bits);
    if (i & 1)
      x[nc + i] = -x[nc + i];
  }
  t = (dinet_st_tensor){"x", 1, {nc + NR}, x};
  CHECK(dinet_st_write(path, &t, 1, DINET_DTYPE_F16, NULL, NULL, 0, &err) == 0, "write: %s",
        err.message);
  st = dinet_st_open(path, &err);
  CHECK(st != NULL, "reopen: %s", err.message);
  if (st) {
    CHECK(dinet_st_read_f32(st, 0, y, (size_t)(nc + NR), &err) == 0, "read: %s", err.message);
    int bad = 0;
    for (int i = 0; i < nc + NR; i++) {
      double ax = fabs((double)x[i]);
      uint16_t h = half_ref_round(ax);
      double want = h == 0x7c00 ? INFINITY : half_ref_value(h);
      if (fabs((double)y[i]) != want || (signbit(y[i]) != 0) != (signbit(x[i]) != 0)) {
        if (bad < 5)
          fprintf(stderr, "  f16(%.9g) = %.9g, want %.9g\n", (double)x[i], (double)y[i], want);
        bad++;
      }
    }
    CHECK(bad == 0, "%d values rounded wrongly to F16", bad);
    CHECK(y[2] == INFINITY && y[1] == 65504.0f && y[4] == 0 && y[5] == ldexpf(1, -24) &&
              y[6] == ldexpf(1, -23) && y[7] == ldexpf(2, -24) && y[10] == ldexpf(1, -14),
          "known roundings");
    dinet_st_close(st);
  }
  /* specials */
  float sp[] = {INFINITY, -INFINITY, NAN, -NAN, -0.0f, 1e30f, -1e30f};
  t = (dinet_st_tensor){"sp", 1, {7}, sp};
  CHECK(dinet_st_write(path, &t, 1, DINET_DTYPE_F16, NULL, NULL, 0, &err) == 0, "write sp");
  st = dinet_st_open(path, &err);
  if (st && dinet_st_read_f32(st, 0, y, 7, &err) == 0) {
    CHECK(y[0] == INFINITY && y[1] == -INFINITY, "inf");
    CHECK(isnan(y[2]) && isnan(y[3]) && !signbit(y[2]) && signbit(y[3]), "nan");
    CHECK(y[4] == 0 && signbit(y[4]), "-0");
    CHECK(y[5] == INFINITY && y[6] == -INFINITY, "overflow to inf");
  } else {
    CHECK(0, "specials: %s", err.message);
  }
  dinet_st_close(st);
  free(x);
  free(y);
  free(v);
}

/* BF16 and F32 from hand-made little-endian bytes; other dtypes validated
 * with their sizes but not convertible. */
static void test_handmade(void) {
  const char *hdr =
      "{\"b\":{\"dtype\":\"BF16\",\"shape\":[7],\"data_offsets\":[0,14]},"
      "\"f\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[14,22]},"
      "\"i\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[22,38]},"
      "\"u\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[38,41]},"
      "\"t\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[41,42]},"
      "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[42,50]},"
      "\"s\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[50,52]},"
      "\"x\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[52,56],\"extra\":[1,{\"y\":null}]}}"
      "        ";
  size_t len;
  unsigned char *b = make_image(hdr, 56, &len);
  unsigned char *d = b + 8 + strlen(hdr);
  const unsigned char bf[14] = {0x80, 0x3f, 0x00, 0xc0, 0x80, 0x7f, 0xc0, 0x7f,
                                0x01, 0x00, 0x00, 0x80, 0x49, 0x40};
  const unsigned char f32[8] = {0x00, 0x00, 0x80, 0x3f, 0xdb, 0x0f, 0x49, 0xc0};
  memcpy(d, bf, 14);
  memcpy(d + 14, f32, 8);
  dinet_error err;
  dinet_st *st = dinet_st_open_memory(b, len, "hand.safetensors", &err);
  free(b);
  CHECK(st != NULL, "open: %s", err.message);
  if (!st)
    return;
  float o[7];
  CHECK(dinet_st_dtype(st, 0) == DINET_DTYPE_BF16, "bf16 dtype");
  CHECK(dinet_st_read_f32(st, 0, o, 7, &err) == 0, "bf16 read: %s", err.message);
  CHECK(o[0] == 1.0f && o[1] == -2.0f && o[2] == INFINITY && isnan(o[3]), "bf16 values");
  CHECK(o[4] == ldexpf(1, -133) && o[5] == 0 && signbit(o[5]) && o[6] == 3.140625f,
        "bf16 subnormal/-0/pi: %g %g %g", (double)o[4], (double)o[5], (double)o[6]);
  CHECK(dinet_st_read_f32(st, 1, o, 2, &err) == 0 && o[0] == 1.0f && o[1] == -3.14159274f,
        "f32 LE");
  for (int i = 2; i < 8; i++) {
    CHECK(dinet_st_dtype(st, i) == DINET_DTYPE_OTHER, "other dtype %d", i);
    int rc = dinet_st_read_f32(st, i, o, (size_t)dinet_st_numel(st, i), &err);
    CHECK(rc == DINET_ERR_FORMAT && strstr(err.message, "cannot be read as float"), "other: %s",
          err.message);
  }
  CHECK(dinet_st_find(st, "x") == 7 && dinet_st_find(st, "i") == 2, "find");
  dinet_st_close(st);
}

/* Metadata with quotes, backslashes, control characters and non-ASCII
 * survives a write/read; \u escapes (surrogate pairs) decode to UTF-8. */
static void test_metadata(const char *dir) {
  const char *keys[] = {"format", "quote\"back\\slash", "ctl", "", "uni"};
  const char *vals[] = {"pt", "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80\n\t", "a\x01\x1f\x7f/z", "",
                        "[\"a\", \"b\"]"};
  float w[3] = {1, 2, 3};
  dinet_st_tensor t = {"w", 1, {3}, w};
  char path[600];
  snprintf(path, sizeof path, "%s/meta.safetensors", dir);
  dinet_error err;
  CHECK(dinet_st_write(path, &t, 1, DINET_DTYPE_F16, keys, vals, 5, &err) == 0, "write: %s",
        err.message);
  dinet_st *st = dinet_st_open(path, &err);
  CHECK(st != NULL, "open: %s", err.message);
  if (st) {
    CHECK(dinet_st_meta_count(st) == 5, "meta count");
    for (int i = 0; i < 5; i++) {
      CHECK(dinet_st_meta_key(st, i) && strcmp(dinet_st_meta_key(st, i), keys[i]) == 0,
            "key %d", i);
      CHECK(dinet_st_meta_value(st, i) && strcmp(dinet_st_meta_value(st, i), vals[i]) == 0,
            "value %d", i);
      CHECK(dinet_st_meta(st, keys[i]) && strcmp(dinet_st_meta(st, keys[i]), vals[i]) == 0,
            "meta(%s)", keys[i]);
    }
    CHECK(dinet_st_meta_key(st, 5) == NULL && dinet_st_meta(st, "absent") == NULL, "absent");
    char **sv = NULL;
    int c = dinet_json_parse_string_array(dinet_st_meta(st, "uni"), &sv, &err);
    CHECK(c == 2 && strcmp(sv[0], "a") == 0 && strcmp(sv[1], "b") == 0 && !sv[2],
          "metadata string array");
    dinet_strv_free(sv);
    dinet_st_close(st);
  }
  size_t len;
  unsigned char *raw = slurp(path, &len);
  if (raw) {
    CHECK(len > 30 && memcmp(raw + 8, "{\"__metadata__\":{\"format\":\"pt\",", 31) == 0,
          "metadata first");
    CHECK(memmem(raw, len, "\"quote\\\"back\\\\slash\"", 20) != NULL, "escaped key");
    CHECK(memmem(raw, len, "a\\u0001\\u001f\x7f/z", 16) != NULL, "control escapes");
    free(raw);
  }

  /* escapes written by others */
  const char *hdr =
      "{ \"__metadata__\" : { \"k\" : \"\\u00e9\\ud83d\\ude00\\n\\\"\\\\\\/\\b\\f\\r\\t\\u0041\" ,"
      " \"j\":\"\\u65E5\"} ,\n\t\"t\\u00e9\" : {\"shape\":[],\"data_offsets\":[0,4],\"dtype\":\"F32\"} }   ";
  st = expect_open("escapes", hdr, 4);
  if (st) {
    const char *v = dinet_st_meta(st, "k");
    CHECK(v && strcmp(v, "\xc3\xa9\xf0\x9f\x98\x80\n\"\\/\b\f\r\tA") == 0, "decoded escapes");
    CHECK(dinet_st_meta(st, "j") && strcmp(dinet_st_meta(st, "j"), "\xe6\x97\xa5") == 0,
          "\\u65E5");
    CHECK(dinet_st_find(st, "t\xc3\xa9") == 0, "escaped tensor name");
    dinet_st_close(st);
  }
}

/* Hostile and broken files: each gives its own clear message. */
static void test_hostile(const char *dir) {
  const char *ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  dinet_st *st = expect_open("valid", ok, 8);
  dinet_st_close(st);
  st = expect_open("empty object", "{}", 0);
  CHECK(st && dinet_st_count(st) == 0, "no tensors");
  dinet_st_close(st);

  expect_fail_buf("empty", "", 0, DINET_ERR_FORMAT, "file is empty");
  expect_fail_buf("7 bytes", "\x01\x00\x00\x00\x00\x00\x00", 7, DINET_ERR_FORMAT,
                  "only 7 bytes");
  {
    unsigned char b[16] = {0xff, 0xe3, 0x0b, 0x54, 0x02, 0, 0, 0, '{', '}'}; /* 9999999999 */
    expect_fail_buf("length > size", b, sizeof b, DINET_ERR_FORMAT,
                    "header length 9999999999 exceeds file size 16");
    unsigned char h[16] = {0, 0, 0, 0, 0, 0, 0, 0x80, '{', '}'};
    expect_fail_buf("length 2^63", h, sizeof h, DINET_ERR_FORMAT,
                    "header length 9223372036854775808 exceeds file size 16");
    unsigned char m[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_fail_buf("length 2^64-1", m, sizeof m, DINET_ERR_FORMAT, "exceeds file size");
  }
  {
    /* a header over the limit, in a file that really has the bytes */
    size_t hl = (size_t)DINET_ST_MAX_HEADER + 8;
    unsigned char *b = calloc(1, 8 + hl);
    if (b) {
      for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
      expect_fail_buf("header over limit", b, 8 + hl, DINET_ERR_LIMIT, "exceeds the limit");
      free(b);
    }
  }
  expect_fail("zero-length header", "", 0, DINET_ERR_FORMAT, "header is empty");
  expect_fail("not JSON", "hello world", 0, DINET_ERR_FORMAT, "header is not JSON");
  expect_fail("binary", "\x89PNG\r\n", 4, DINET_ERR_FORMAT, "header is not JSON");
  expect_fail("array", "[1,2,3]", 0, DINET_ERR_FORMAT, "header is a JSON array, not an object");
  expect_fail("string", "\"x\"", 0, DINET_ERR_FORMAT, "header is a JSON string");
  expect_fail("truncated", "{\"a\":{\"dtype\":\"F32\"", 0, DINET_ERR_FORMAT,
              "unexpected end of JSON");
  expect_fail("truncated string", "{\"a", 0, DINET_ERR_FORMAT, "unterminated string");
  expect_fail("trailing garbage", "{} x", 0, DINET_ERR_FORMAT, "unexpected data after");
  expect_fail("two objects", "{}{}", 0, DINET_ERR_FORMAT, "unexpected data after");
  expect_fail("trailing comma", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],}}",
              8, DINET_ERR_FORMAT, "expected a string key");
  expect_fail("missing colon", "{\"a\" {}}", 0, DINET_ERR_FORMAT, "expected ':'");
  expect_fail("missing comma", "{\"a\":{\"dtype\":\"F32\" \"shape\":[2]}}", 0, DINET_ERR_FORMAT,
              "expected ',' or '}'");
  {
    unsigned char b[12] = {4, 0, 0, 0, 0, 0, 0, 0, '{', '}', 0, 0};
    expect_fail_buf("NUL padding", b, sizeof b, DINET_ERR_FORMAT, "unexpected data after");
  }
  {
    size_t len;
    unsigned char *b = make_image("{}  \t\n\x01", 0, &len);
    expect_fail_buf("control after", b, len, DINET_ERR_FORMAT, "unexpected data after");
    free(b);
  }
  expect_fail("entry not object", "{\"a\":[1]}", 0, DINET_ERR_FORMAT,
              "tensor 'a': entry is not a JSON object");
  expect_fail("missing dtype", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
              DINET_ERR_FORMAT, "tensor 'a': entry has no dtype");
  expect_fail("missing shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8,
              DINET_ERR_FORMAT, "tensor 'a': entry has no shape");
  expect_fail("missing offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, DINET_ERR_FORMAT,
              "tensor 'a': entry has no data_offsets");
  expect_fail("dtype twice",
              "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}",
              8, DINET_ERR_FORMAT, "field dtype given twice");
  expect_fail("dtype number", "{\"a\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
              DINET_ERR_FORMAT, "dtype is not a string");
  expect_fail("negative shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}",
              8, DINET_ERR_FORMAT, "shape has a negative value -2");
  expect_fail("fractional shape",
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8,
              DINET_ERR_FORMAT, "expected an integer");
  expect_fail("string shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}",
              8, DINET_ERR_FORMAT, "shape must hold integers");
  expect_fail("shape not array", "{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8,
              DINET_ERR_FORMAT, "shape is not a JSON array");
  expect_fail("huge dim",
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,8]}}",
              8, DINET_ERR_FORMAT, "out of range");
  expect_fail("too many dims",
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
              DINET_ERR_LIMIT, "more than 8 dimensions");
  expect_fail("product overflow",
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}",
              8, DINET_ERR_FORMAT, "product overflows");
  expect_fail("bytes overflow",
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}",
              8, DINET_ERR_FORMAT, "byte size overflows");
  st = expect_open("zero dim with huge others",
                   "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,0,4294967296],"
                   "\"data_offsets\":[0,0]}}",
                   0);
  CHECK(st && dinet_st_numel(st, 0) == 0, "zero dim numel");
  dinet_st_close(st);
  expect_fail("offsets past end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
              8, DINET_ERR_FORMAT, "data_offsets [4, 12] go past the end of the data (8 bytes)");
  expect_fail("offsets huge",
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[18446744073709551608,0]}}",
              8, DINET_ERR_FORMAT, "out of range");
  expect_fail("begin > end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8,
              DINET_ERR_FORMAT, "data_offsets [8, 0] have begin > end");
  expect_fail("negative offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}",
              8, DINET_ERR_FORMAT, "data_offsets has a negative value");
  expect_fail("one offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}}", 8,
              DINET_ERR_FORMAT, "data_offsets must be [begin, end] (got 1 values)");
  expect_fail("three offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}",
              8, DINET_ERR_FORMAT, "more than 2 values");
  expect_fail("offsets mismatch",
              "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[7,2048],\"data_offsets\":[0,100]}}", 100,
              DINET_ERR_FORMAT,
              "model.safetensors: tensor 'fc.weight' data_offsets [0, 100] do not match F32 "
              "shape [7, 2048] (57344 bytes)");
  expect_fail("f16 size mismatch", "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}",
              8, DINET_ERR_FORMAT, "do not match F16 shape [2] (4 bytes)");
  expect_fail("i64 size mismatch", "{\"a\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,8]}}",
              8, DINET_ERR_FORMAT, "do not match I64 shape [2] (16 bytes)");
  expect_fail("duplicate names",
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
              "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
              8, DINET_ERR_FORMAT, "duplicate tensor name 'a'");
  expect_fail("unknown dtype", "{\"a\":{\"dtype\":\"F128\",\"shape\":[2],\"data_offsets\":[0,8]}}",
              8, DINET_ERR_FORMAT, "unknown or unsupported dtype 'F128'");
  expect_fail("lowercase dtype", "{\"a\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
              8, DINET_ERR_FORMAT, "unknown or unsupported dtype 'f32'");
  expect_fail("metadata number", "{\"__metadata__\":{\"epoch\":3}}", 0, DINET_ERR_FORMAT,
              "__metadata__ value for 'epoch' is not a string");
  expect_fail("metadata nested", "{\"__metadata__\":{\"cfg\":{\"a\":\"b\"}}}", 0,
              DINET_ERR_FORMAT, "__metadata__ value for 'cfg' is not a string");
  expect_fail("metadata array", "{\"__metadata__\":[\"a\"]}", 0, DINET_ERR_FORMAT,
              "__metadata__ is not a JSON object");
  expect_fail("metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, DINET_ERR_FORMAT,
              "__metadata__ given twice");
  expect_fail("metadata dup key", "{\"__metadata__\":{\"a\":\"1\",\"b\":\"2\",\"a\":\"3\"}}", 0,
              DINET_ERR_FORMAT, "__metadata__ has duplicate key 'a'");
  expect_fail("metadata NUL", "{\"__metadata__\":{\"a\":\"x\\u0000y\"}}", 0, DINET_ERR_FORMAT,
              "contains a NUL character");
  expect_fail("name NUL", "{\"a\\u0000b\":{}}", 0, DINET_ERR_FORMAT,
              "tensor name 'a' contains a NUL character");

  /* deep nesting: 100000 '[' in several places */
  {
    size_t depth = 100000;
    char *deep = malloc(depth + 200);
    if (deep) {
      memset(deep, '[', depth);
      deep[depth] = '\0';
      expect_fail("deep top", deep, 0, DINET_ERR_FORMAT, "header is a JSON array");
      snprintf(deep, depth + 200, "{\"a\":");
      memset(deep + 5, '[', depth);
      deep[5 + depth] = '\0';
      expect_fail("deep entry", deep, 0, DINET_ERR_LIMIT, "nested deeper than 64 levels");
      snprintf(deep, depth + 200,
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":");
      size_t p = strlen(deep);
      memset(deep + p, '[', depth);
      deep[p + depth] = '\0';
      expect_fail("deep unknown field", deep, 4, DINET_ERR_LIMIT, "nested deeper than 64");
      snprintf(deep, depth + 200, "{\"__metadata__\":{\"k\":");
      p = strlen(deep);
      for (size_t i = 0; i < depth / 5; i++)
        memcpy(deep + p + 5 * i, "{\"a\":", 5);
      deep[p + depth] = '\0';
      expect_fail("deep metadata", deep, 0, DINET_ERR_LIMIT, "nested deeper than 64");
      free(deep);
    }
    /* 63 levels inside an ignored field are fine */
    char ok63[400];
    snprintf(ok63, sizeof ok63, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":");
    size_t p = strlen(ok63);
    for (int i = 0; i < 62; i++)
      ok63[p++] = '[';
    for (int i = 0; i < 62; i++)
      ok63[p++] = ']';
    memcpy(ok63 + p, "}}", 3);
    st = expect_open("62 nested arrays at depth 2", ok63, 4);
    dinet_st_close(st);
  }

  /* invalid UTF-8 and bad escapes */
  expect_fail("invalid UTF-8", "{\"a\xff\":{}}", 0, DINET_ERR_FORMAT, "invalid UTF-8 in string");
  expect_fail("overlong UTF-8", "{\"\xc0\xaf\":{}}", 0, DINET_ERR_FORMAT, "invalid UTF-8");
  expect_fail("UTF-8 surrogate", "{\"\xed\xa0\x80\":{}}", 0, DINET_ERR_FORMAT, "invalid UTF-8");
  expect_fail("UTF-8 > U+10FFFF", "{\"\xf4\x90\x80\x80\":{}}", 0, DINET_ERR_FORMAT,
              "invalid UTF-8");
  expect_fail("truncated UTF-8", "{\"\xe6\x97\":{}}", 0, DINET_ERR_FORMAT, "invalid UTF-8");
  expect_fail("bad escape", "{\"a\\x\":{}}", 0, DINET_ERR_FORMAT, "invalid escape '\\x'");
  expect_fail("bad \\u", "{\"a\\u12G4\":{}}", 0, DINET_ERR_FORMAT, "invalid \\u escape");
  expect_fail("short \\u", "{\"a\\u12\":{}}", 0, DINET_ERR_FORMAT, "invalid \\u escape");
  expect_fail("lone high surrogate", "{\"a\\ud800\":{}}", 0, DINET_ERR_FORMAT,
              "unpaired UTF-16 high surrogate");
  expect_fail("high + non-low", "{\"a\\ud800\\u0041\":{}}", 0, DINET_ERR_FORMAT,
              "unpaired UTF-16 high surrogate");
  expect_fail("lone low surrogate", "{\"a\\udc00\":{}}", 0, DINET_ERR_FORMAT,
              "unpaired UTF-16 low surrogate");
  expect_fail("raw newline in string", "{\"a\nb\":{}}", 0, DINET_ERR_FORMAT,
              "control character 0x0a");
  expect_fail("backslash at end", "{\"a\\", 0, DINET_ERR_FORMAT, "unterminated string");
  expect_fail("leading zero", "{\"a\":{\"dtype\":\"F32\",\"shape\":[02],\"data_offsets\":[0,8]}}", 8,
              DINET_ERR_FORMAT, "leading zero");
  expect_fail("bad literal", "{\"a\":{\"dtype\":\"F32\",\"x\":tru}}", 0, DINET_ERR_FORMAT,
              "expected a value");
  expect_fail("bare minus", "{\"a\":{\"x\":-}}", 0, DINET_ERR_FORMAT, "expected a number");

  /* files on disk */
  char path[600];
  dinet_error err;
  snprintf(path, sizeof path, "%s/does-not-exist.safetensors", dir);
  st = dinet_st_open(path, &err);
  CHECK(!st && err.code == DINET_ERR_IO && strstr(err.message, "cannot open") &&
            strstr(err.message, "does-not-exist.safetensors"),
        "missing file: %s", err.message);
  st = dinet_st_open(dir, &err);
  CHECK(!st && err.code == DINET_ERR_IO && strstr(err.message, "not a regular file"),
        "directory: %s", err.message);
  snprintf(path, sizeof path, "%s/empty.safetensors", dir);
  CHECK(tu_write_file(path, "", 0) == 0, "write empty");
  st = dinet_st_open(path, &err);
  CHECK(!st && err.code == DINET_ERR_FORMAT && strstr(err.message, "empty.safetensors: file is empty"),
        "empty file: %s", err.message);
  snprintf(path, sizeof path, "%s/seven.safetensors", dir);
  CHECK(tu_write_file(path, "1234567", 7) == 0, "write 7");
  st = dinet_st_open(path, &err);
  CHECK(!st && strstr(err.message, "seven.safetensors: file is only 7 bytes"), "7 bytes: %s",
        err.message);
  CHECK(dinet_st_open(NULL, &err) == NULL && err.code == DINET_ERR_INVALID, "NULL path");
  CHECK(dinet_st_open_memory(NULL, 5, NULL, &err) == NULL && err.code == DINET_ERR_INVALID,
        "NULL buffer");
  /* NULL handles are harmless */
  dinet_st_close(NULL);
  CHECK(dinet_st_count(NULL) == 0 && dinet_st_find(NULL, "a") == -1 && !dinet_st_name(NULL, 0) &&
            dinet_st_numel(NULL, 0) == -1 && dinet_st_shape(NULL, 0, NULL) == -1 &&
            dinet_st_meta(NULL, "a") == NULL && dinet_st_meta_count(NULL) == 0,
        "NULL st");
  CHECK(dinet_st_read_f32(NULL, 0, NULL, 0, &err) == DINET_ERR_INVALID, "read NULL st");
}

/* Writer: bad arguments are refused with clear messages and leave no
 * file; output is deterministic; writing over a file replaces it. */
static void test_writer(const char *dir) {
  float w[4] = {1, 2, 3, 4};
  char path[600], path2[600];
  snprintf(path, sizeof path, "%s/w.safetensors", dir);
  snprintf(path2, sizeof path2, "%s/w2.safetensors", dir);
  dinet_error err;
  dinet_st_tensor dup[2] = {{"a", 1, {4}, w}, {"a", 1, {4}, w}};
  CHECK(dinet_st_write(path, dup, 2, DINET_DTYPE_F32, NULL, NULL, 0, &err) == DINET_ERR_INVALID &&
            strstr(err.message, "duplicate tensor name 'a'"),
        "dup: %s", err.message);
  dinet_st_tensor one = {"a", 1, {4}, w};
  CHECK(dinet_st_write(path, &one, 1, DINET_DTYPE_BF16, NULL, NULL, 0, &err) == DINET_ERR_INVALID &&
            strstr(err.message, "only F32 and F16"),
        "bf16: %s", err.message);
  dinet_st_tensor neg = {"a", 2, {2, -2}, w};
  CHECK(dinet_st_write(path, &neg, 1, DINET_DTYPE_F32, NULL, NULL, 0, &err) == DINET_ERR_INVALID &&
            strstr(err.message, "negative dimension"),
        "neg: %s", err.message);
  dinet_st_tensor nodata = {"a", 1, {4}, NULL};
  CHECK(dinet_st_write(path, &nodata, 1, DINET_DTYPE_F32, NULL, NULL, 0, &err) == DINET_ERR_INVALID,
        "NULL data");
  dinet_st_tensor meta = {"__metadata__", 1, {4}, w};
  CHECK(dinet_st_write(path, &meta, 1, DINET_DTYPE_F32, NULL, NULL, 0, &err) == DINET_ERR_INVALID,
        "__metadata__ name");
  dinet_st_tensor badutf = {"a\xff", 1, {4}, w};
  CHECK(dinet_st_write(path, &badutf, 1, DINET_DTYPE_F32, NULL, NULL, 0, &err) == DINET_ERR_INVALID &&
            strstr(err.message, "UTF-8"),
        "bad UTF-8 name: %s", err.message);
  const char *mk[] = {"k", "k"}, *mv[] = {"1", "2"};
  CHECK(dinet_st_write(path, &one, 1, DINET_DTYPE_F32, mk, mv, 2, &err) == DINET_ERR_INVALID &&
            strstr(err.message, "duplicate metadata key 'k'"),
        "dup meta: %s", err.message);
  struct stat sb;
  CHECK(stat(path, &sb) != 0, "refused writes left a file");

  /* unwritable place: clear error, no temp file */
  char bad[700];
  snprintf(bad, sizeof bad, "%s/no-such-dir/x.safetensors", dir);
  CHECK(dinet_st_write(bad, &one, 1, DINET_DTYPE_F32, NULL, NULL, 0, &err) == DINET_ERR_IO &&
            strstr(err.message, "cannot create temporary file"),
        "no dir: %s", err.message);
  /* target is a directory: rename fails after writing, temp removed */
  snprintf(bad, sizeof bad, "%s/adir", dir);
  mkdir(bad, 0755);
  CHECK(dinet_st_write(bad, &one, 1, DINET_DTYPE_F32, NULL, NULL, 0, &err) == DINET_ERR_IO &&
            strstr(err.message, "renaming"),
        "rename onto dir: %s", err.message);
  CHECK(count_temp_files(dir) == 0, "temp files left behind");

  /* determinism */
  float big[1000];
  for (int i = 0; i < 1000; i++)
    big[i] = sinf((float)i) * 100.0f;
  dinet_st_tensor ts[3] = {{"z.last", 2, {10, 100}, big}, {"a.first", 1, {4}, w},
                           {"m", 0, {0}, w}};
  const char *k2[] = {"b", "a"}, *v2[] = {"2", "1"};
  for (int dt = 0; dt < 2; dt++) {
    dinet_dtype dtype = dt ? DINET_DTYPE_F16 : DINET_DTYPE_F32;
    CHECK(dinet_st_write(path, ts, 3, dtype, k2, v2, 2, &err) == 0, "w1: %s", err.message);
    CHECK(dinet_st_write(path2, ts, 3, dtype, k2, v2, 2, &err) == 0, "w2: %s", err.message);
    size_t l1, l2;
    unsigned char *r1 = slurp(path, &l1), *r2 = slurp(path2, &l2);
    CHECK(r1 && r2 && l1 == l2 && memcmp(r1, r2, l1) == 0, "not byte-identical");
    CHECK(r1 && l1 > 16 && memmem(r1, l1, "\"b\":\"2\",\"a\":\"1\"", 15) &&
              (char *)memmem(r1, l1, "z.last", 6) < (char *)memmem(r1, l1, "a.first", 7),
          "given order kept");
    free(r1);
    free(r2);
    dinet_st *st = dinet_st_open(path, &err);
    CHECK(st && strcmp(dinet_st_name(st, 0), "z.last") == 0 &&
              dinet_st_dtype(st, 0) == (dt ? DINET_DTYPE_F16 : DINET_DTYPE_F32) &&
              strcmp(dinet_st_meta_key(st, 0), "b") == 0,
          "reopen");
    dinet_st_close(st);
  }
  CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644, "mode %o", sb.st_mode & 0777);
  chmod(path, 0640);
  CHECK(dinet_st_write(path, &one, 1, DINET_DTYPE_F32, NULL, NULL, 0, &err) == 0, "overwrite");
  dinet_st *st = dinet_st_open(path, &err);
  CHECK(st && dinet_st_count(st) == 1, "overwritten file has 1 tensor");
  dinet_st_close(st);
  CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0640, "mode kept %o", sb.st_mode & 0777);
  CHECK(count_temp_files(dir) == 0, "temp files left behind");
}

/* JSON helpers. */
static void test_json_helpers(void) {
  dinet_error err;
  char **v = NULL;
  int n = dinet_json_parse_string_array(" [ \"a\" , \"b\\\"c\", \"\\u00e9\\ud83d\\ude00\" ] ", &v,
                                        &err);
  CHECK(n == 3 && v && strcmp(v[0], "a") == 0 && strcmp(v[1], "b\"c") == 0 &&
            strcmp(v[2], "\xc3\xa9\xf0\x9f\x98\x80") == 0 && v[3] == NULL,
        "string array: %d %s", n, n < 0 ? err.message : "");
  dinet_strv_free(v);
  n = dinet_json_parse_string_array("[]", &v, &err);
  CHECK(n == 0 && v && v[0] == NULL, "empty string array");
  dinet_strv_free(v);
  const char *bad_s[] = {"[\"a\",]", "[\"a\" \"b\"]", "[1]", "\"a\"", "[\"a\"] x", "[\"\\u0000\"]",
                         "[\"a", "", "[", "[\"\\ud800\"]", "{}", "[\"a\",[\"b\"]]"};
  for (size_t i = 0; i < sizeof bad_s / sizeof bad_s[0]; i++) {
    v = (char **)&err; /* must be reset to NULL */
    n = dinet_json_parse_string_array(bad_s[i], &v, &err);
    CHECK(n < 0 && v == NULL && strncmp(err.message, "JSON string array: ", 19) == 0,
          "'%s' accepted (%d) or bad message '%s'", bad_s[i], n, err.message);
  }
  n = dinet_json_parse_string_array("[1]", &v, &err);
  CHECK(strstr(err.message, "expected a string, found '1' at byte 1"), "msg: %s", err.message);

  double d[4];
  n = dinet_json_parse_number_array("[0.485, 0.456, 0.406]", d, 3, &err);
  CHECK(n == 3 && d[0] == 0.485 && d[1] == 0.456 && d[2] == 0.406, "numbers: %s", err.message);
  n = dinet_json_parse_number_array("[-0.5e-3,1E2,0,-0,12345678901234567890]", d, 4, &err);
  CHECK(n < 0 && err.code == DINET_ERR_LIMIT && strstr(err.message, "more than 4 numbers"),
        "limit: %s", err.message);
  n = dinet_json_parse_number_array("[-0.5e-3,1E2,-0]", d, 4, &err);
  CHECK(n == 3 && d[0] == -0.0005 && d[1] == 100 && d[2] == 0 && signbit(d[2]), "forms");
  n = dinet_json_parse_number_array("[]", d, 0, &err);
  CHECK(n == 0, "empty numbers");
  const char *bad_n[] = {"[1,]", "[.5]", "[NaN]", "[1e999]", "[01]", "[1.]", "[1e]", "[+1]",
                         "[\"1\"]", "1", "[1 2]", "[-]", "[0x10]", "[Infinity]"};
  for (size_t i = 0; i < sizeof bad_n / sizeof bad_n[0]; i++) {
    n = dinet_json_parse_number_array(bad_n[i], d, 4, &err);
    CHECK(n < 0 && strncmp(err.message, "JSON number array: ", 19) == 0, "'%s' accepted (%d)",
          bad_n[i], n);
  }
  /* locale with a decimal comma must not matter */
  const char *locs[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "fr_FR", "ru_RU.UTF-8"};
  for (size_t i = 0; i < sizeof locs / sizeof locs[0]; i++) {
    if (setlocale(LC_NUMERIC, locs[i])) {
      n = dinet_json_parse_number_array("[0.485, 2.5]", d, 2, &err);
      CHECK(n == 2 && d[0] == 0.485 && d[1] == 2.5, "locale %s: %g", locs[i], d[0]);
      setlocale(LC_NUMERIC, "C");
      break;
    }
  }

  char buf[64];
  size_t q = dinet_json_quote("a\"b\\c\n\x01\xc3\xa9", buf, sizeof buf);
  CHECK(strcmp(buf, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"") == 0 && q == strlen(buf), "quote: %s",
        buf);
  q = dinet_json_quote("abcdef", buf, 4);
  CHECK(q == 8 && strcmp(buf, "\"ab") == 0, "truncated quote: %zu %s", q, buf);
  CHECK(dinet_json_quote("x", NULL, 0) == 3, "measure");
  dinet_json_quote(NULL, buf, sizeof buf);
  CHECK(strcmp(buf, "null") == 0, "NULL quote");
  dinet_json_quote("\xff" "a\xe6\x97", buf, sizeof buf);
  CHECK(strcmp(buf, "\"\\ufffda\\ufffd\\ufffd\"") == 0, "invalid UTF-8 quote: %s", buf);
}

/* Applies 1..4 random mutations to buf (len bytes, capacity cap). */
static size_t mutate(dinet_rng *rng, unsigned char *buf, size_t len, size_t cap) {
  static const unsigned char interesting[] = {'{', '}', '[', ']', '"', '\\', ',', ':', '0', '9',
                                              '-', 'e', '.', ' ', 'u', 0x00, 0x80, 0xc3, 0xed,
                                              0xf4, 0xff, 'F', '1', '6'};
  int k = 1 + (int)dinet_rng_below(rng, 4);
  for (int m = 0; m < k; m++) {
    uint32_t op = dinet_rng_below(rng, 8);
    size_t pos = len ? dinet_rng_below(rng, (uint32_t)len) : 0;
    switch (op) {
    case 0: /* bit flip */
      if (len)
        buf[pos] ^= (unsigned char)(1u << dinet_rng_below(rng, 8));
      break;
    case 1: /* interesting byte */
    case 2:
      if (len)
        buf[pos] = interesting[dinet_rng_below(rng, sizeof interesting)];
      break;
    case 3: { /* delete a range */
      size_t n = 1 + dinet_rng_below(rng, 16);
      if (pos + n > len)
        n = len - pos;
      memmove(buf + pos, buf + pos + n, len - pos - n);
      len -= n;
      break;
    }
    case 4: { /* duplicate a range */
      size_t n = 1 + dinet_rng_below(rng, 16);
      if (pos + n > len)
        n = len - pos;
      if (len + n <= cap) {
        memmove(buf + pos + n, buf + pos, len - pos);
        len += n;
      }
      break;
    }
    case 5: /* truncate */
      len = pos;
      break;
    case 6: { /* tweak the header length */
      int delta = (int)dinet_rng_below(rng, 33) - 16;
      if (len >= 8)
        buf[0] = (unsigned char)(buf[0] + delta);
      if (len >= 8 && dinet_rng_below(rng, 8) == 0)
        buf[dinet_rng_below(rng, 8)] = (unsigned char)dinet_rng_next(rng);
      break;
    }
    default: /* digit change inside the header (shapes, offsets) */
      for (size_t i = pos; i < len; i++)
        if (buf[i] >= '0' && buf[i] <= '9') {
          buf[i] = (unsigned char)('0' + dinet_rng_below(rng, 10));
          break;
        }
      break;
    }
  }
  return len;
}

/* Runs the fuzz body over seeded mutations of valid files. */
static void test_mutations(const char *dir) {
  float w[12];
  for (int i = 0; i < 12; i++)
    w[i] = (float)i - 5.5f;
  dinet_st_tensor ts[3] = {{"conv.weight", 4, {1, 1, 2, 3}, w}, {"bias", 1, {6}, w + 6},
                           {"s", 0, {0}, w}};
  const char *mk[] = {"arch", "classes"}, *mv[] = {"resnet", "[\"NILM\", \"HSIL\"]"};
  const char *seeds[3];
  char p16[600], p32[600];
  snprintf(p16, sizeof p16, "%s/seed16.safetensors", dir);
  snprintf(p32, sizeof p32, "%s/seed32.safetensors", dir);
  dinet_error err;
  CHECK(dinet_st_write(p16, ts, 3, DINET_DTYPE_F16, mk, mv, 2, &err) == 0, "seed16");
  CHECK(dinet_st_write(p32, ts, 3, DINET_DTYPE_F32, mk, mv, 2, &err) == 0, "seed32");
  seeds[0] = p16;
  seeds[1] = p32;
  seeds[2] = NULL;
  unsigned char *orig[3] = {NULL, NULL, NULL};
  size_t olen[3] = {0, 0, 0};
  for (int s = 0; s < 2; s++)
    orig[s] = slurp(seeds[s], &olen[s]);
  const char *hand = "{\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                     "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[4,12]},"
                     "\"__metadata__\":{\"k\":\"\\u00e9\\ud83d\\ude00\"}}";
  orig[2] = make_image(hand, 12, &olen[2]);
  int bad = 0, opened = 0, total = 0;
  for (int s = 0; s < 3; s++) {
    if (!orig[s])
      continue;
    bad += fuzz_safetensors_one(orig[s], olen[s]) != 0;
    size_t cap = olen[s] + 256;
    unsigned char *buf = malloc(cap);
    dinet_rng rng;
    dinet_rng_seed(&rng, 0x5afe + (uint64_t)s);
    for (int it = 0; buf && it < 400; it++) {
      memcpy(buf, orig[s], olen[s]);
      size_t len = mutate(&rng, buf, olen[s], cap);
      /* exact-size copy so ASan sees any overread */
      unsigned char *exact = malloc(len ? len : 1);
      if (!exact)
        break;
      memcpy(exact, buf, len);
      if (fuzz_safetensors_one(exact, len) != 0) {
        bad++;
      }
      dinet_st *st = dinet_st_open_memory(exact, len, "m", NULL);
      opened += st != NULL;
      dinet_st_close(st);
      total++;
      free(exact);
    }
    free(buf);
    free(orig[s]);
  }
  CHECK(bad == 0, "%d of %d mutated inputs broke an invariant", bad, total);
  CHECK(total == 1200 && opened > 0 && opened < total, "mutations: %d opened of %d", opened,
        total);
  printf("mutations: %d inputs, %d opened, %d rejected\n", total, opened, total - opened);
}

/* PyTorch interop through tests/st_pywrite.py, when torch is importable. */
static void test_pytorch(const char *dir) {
  const char *root = getenv("SOURCE_ROOT");
  char script[700];
  snprintf(script, sizeof script, "%s/tests/st_pywrite.py", root && *root ? root : ".");
  struct stat sb;
  const char *py = getenv("DINET_PYTHON");
  if (!py || !*py)
    py = "/usr/bin/python3";
  if (stat(script, &sb) != 0 || stat(py, &sb) != 0 || strchr(script, '\'') || strchr(dir, '\'')) {
    printf("pytorch interop: skipped (no %s or %s)\n", script, py);
    return;
  }
  char out[700], cmd[2200];
  snprintf(out, sizeof out, "%s/torch.safetensors", dir);
  snprintf(cmd, sizeof cmd, "'%s' '%s' write '%s'", py, script, out);
  int rc = system(cmd);
  if (rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
    printf("pytorch interop: skipped (no torch)\n");
    return;
  }
  CHECK(rc == 0, "st_pywrite.py write failed (%d)", rc);
  dinet_error err;
  dinet_st *st = dinet_st_open(out, &err);
  CHECK(st != NULL, "torch file: %s", err.message);
  if (st) {
    CHECK(dinet_st_count(st) == 7, "torch count %d", dinet_st_count(st));
    float v[12];
    int i = dinet_st_find(st, "w32");
    int64_t sh[DINET_ST_MAX_DIMS];
    CHECK(i >= 0 && dinet_st_shape(st, i, sh) == 2 && sh[0] == 3 && sh[1] == 4, "w32 shape");
    CHECK(i >= 0 && dinet_st_read_f32(st, i, v, 12, &err) == 0, "w32: %s", err.message);
    int ok = 1;
    for (int k = 0; k < 12 && i >= 0; k++)
      ok &= v[k] == (float)k / 8 - 0.5f;
    CHECK(ok, "w32 values");
    i = dinet_st_find(st, "w16");
    CHECK(i >= 0 && dinet_st_read_f32(st, i, v, 6, &err) == 0 && v[0] == 1 && v[1] == -2.5f &&
              v[2] == 65504 && v[3] == ldexpf(1, -24) && v[4] == INFINITY &&
              v[5] == 0.0999755859375f,
          "w16 values");
    i = dinet_st_find(st, "wbf");
    CHECK(i >= 0 && dinet_st_read_f32(st, i, v, 3, &err) == 0 && v[0] == 1 &&
              v[1] == -3.140625f && fabsf(v[2] - 1e30f) < 1e28f,
          "wbf values");
    i = dinet_st_find(st, "scalar");
    CHECK(i >= 0 && dinet_st_shape(st, i, sh) == 0 && dinet_st_read_f32(st, i, v, 1, &err) == 0 &&
              v[0] == 2.5f,
          "scalar");
    i = dinet_st_find(st, "empty");
    CHECK(i >= 0 && dinet_st_numel(st, i) == 0, "empty");
    CHECK(dinet_st_dtype(st, dinet_st_find(st, "idx")) == DINET_DTYPE_OTHER &&
              dinet_st_numel(st, dinet_st_find(st, "flag")) == 2,
          "other dtypes");
    const char *note = dinet_st_meta(st, "note");
    CHECK(note && strcmp(note, "\xc3\xa9\xf0\x9f\x98\x80 \"q\"\\") == 0, "torch metadata");
    dinet_st_close(st);
  }
  /* our files, read back by torch */
  const char *mk[] = {"a", "quote\"back\\slash"};
  const char *mv[] = {"1", "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80\n\t"};
  float w[7];
  for (int k = 0; k < 7; k++)
    w[k] = (float)k * 0.25f - 1.0f;
  dinet_st_tensor ts[3] = {{"first", 2, {2, 3}, w}, {"second", 1, {7}, w}, {"third", 2, {0, 2}, w}};
  for (int dt = 0; dt < 2; dt++) {
    CHECK(dinet_st_write(out, ts, 3, dt ? DINET_DTYPE_F16 : DINET_DTYPE_F32, mk, mv, 2, &err) == 0,
          "write for torch: %s", err.message);
    snprintf(cmd, sizeof cmd, "'%s' '%s' check '%s'", py, script, out);
    rc = system(cmd);
    CHECK(rc == 0, "torch could not read our %s file (%d)", dt ? "F16" : "F32", rc);
  }
}

/* Removes the files this test made in dir (one level plus "adir"). */
static void cleanup(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *e;
  char p[1200];
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (unlink(p) != 0)
      rmdir(p);
  }
  closedir(d);
  rmdir(dir);
}

int main(void) {
  const char *dir = tu_tmpdir();
  CHECK(dir && dir[0], "tmpdir");
  if (!dir || !dir[0])
    return tu_finish();
  test_roundtrip_f32(dir);
  test_f16(dir);
  test_handmade();
  test_metadata(dir);
  test_hostile(dir);
  test_writer(dir);
  test_json_helpers();
  test_mutations(dir);
  test_pytorch(dir);
  if (!tu_failed && !getenv("DINET_KEEP_TMP"))
    cleanup(dir);
  return tu_finish();
}
