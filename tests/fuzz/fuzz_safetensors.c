/* fuzz_safetensors.c — libFuzzer target for the safetensors reader and the
 * JSON helpers.
 *
 * Build (from the repository root):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -Iengine/include -Iengine/src tests/fuzz/fuzz_safetensors.c \
 *     engine/src/safetensors.c engine/src/json.c engine/src/error.c -lm \
 *     -o fuzz_safetensors
 *   ./fuzz_safetensors -max_len=4096 corpus/
 *
 * tests/test_safetensors.c includes this file with DINET_FUZZ_NO_ENTRY
 * defined and runs fuzz_safetensors_one() over seeded mutations of valid
 * files, so the same body runs in every plain test run.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dinet/dinet.h"

/* Largest tensor the harness converts (keeps runs fast). */
#define FUZZ_MAX_READ ((int64_t)1 << 16)

/* Opens data as a safetensors image and walks everything the API offers;
 * also feeds it (NUL-terminated) to the JSON helpers. Returns 0, or -1
 * when an invariant of the API does not hold (a bug, not bad input). */
static int fuzz_safetensors_one(const uint8_t *data, size_t size) {
  int bad = 0;
  dinet_error err;
  dinet_error_clear(&err);
  dinet_st *st = dinet_st_open_memory(data, size, "fuzz.safetensors", &err);
  if (!st) {
    /* a rejection must come with a status and a named message */
    if (err.code >= 0 || strncmp(err.message, "fuzz.safetensors: ", 18) != 0)
      bad = 1;
  } else {
    int n = dinet_st_count(st);
    for (int i = 0; i < n; i++) {
      const char *name = dinet_st_name(st, i);
      int64_t shape[DINET_ST_MAX_DIMS];
      int ndim = dinet_st_shape(st, i, shape);
      int64_t numel = dinet_st_numel(st, i);
      if (!name || dinet_st_find(st, name) != i || ndim < 0 || ndim > DINET_ST_MAX_DIMS ||
          numel < 0) {
        bad = 1;
        continue;
      }
      int64_t prod = 1;
      for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
          bad = 1;
        else if (shape[d] == 0 || prod == 0)
          prod = 0;
        else if (prod <= INT64_MAX / shape[d])
          prod *= shape[d];
        else
          bad = 1;
      }
      if (prod != numel)
        bad = 1;
      dinet_dtype dt = dinet_st_dtype(st, i);
      if (dt != DINET_DTYPE_OTHER && numel <= FUZZ_MAX_READ) {
        float *out = malloc((size_t)(numel ? numel : 1) * sizeof *out);
        if (out) {
          if (dinet_st_read_f32(st, i, out, (size_t)numel, &err) != 0)
            bad = 1;
          if (dinet_st_read_f32(st, i, out, (size_t)numel + 1, &err) == 0)
            bad = 1; /* wrong count must be refused */
          free(out);
        }
      } else if (dt == DINET_DTYPE_OTHER) {
        float one;
        if (dinet_st_read_f32(st, i, &one, (size_t)numel, &err) == 0)
          bad = 1;
      }
    }
    if (dinet_st_name(st, n) || dinet_st_name(st, -1) || dinet_st_numel(st, n) != -1)
      bad = 1;
    int nm = dinet_st_meta_count(st);
    for (int i = 0; i < nm; i++) {
      const char *k = dinet_st_meta_key(st, i), *v = dinet_st_meta_value(st, i);
      if (!k || !v || !dinet_st_meta(st, k))
        bad = 1;
    }
    dinet_st_close(st);
  }

  /* JSON helpers on the same bytes, as a C string */
  char *s = malloc(size + 1);
  if (s) {
    memcpy(s, data, size);
    s[size] = '\0';
    char **v = NULL;
    int c = dinet_json_parse_string_array(s, &v, &err);
    if ((c >= 0) != (v != NULL))
      bad = 1;
    for (int i = 0; c > 0 && i < c; i++)
      if (!v[i])
        bad = 1;
    if (c >= 0 && v[c])
      bad = 1;
    dinet_strv_free(v);
    double nums[8];
    c = dinet_json_parse_number_array(s, nums, 8, &err);
    if (c > 8)
      bad = 1;
    /* quoting then parsing back always works; ASCII comes back unchanged */
    size_t need = dinet_json_quote(s, NULL, 0);
    char *arr = malloc(need + 3);
    if (arr) {
      arr[0] = '[';
      if (dinet_json_quote(s, arr + 1, need + 1) != need)
        bad = 1;
      arr[need + 1] = ']';
      arr[need + 2] = '\0';
      v = NULL;
      if (dinet_json_parse_string_array(arr, &v, &err) != 1) {
        bad = 1;
      } else {
        int ascii = 1;
        for (const char *p = s; *p; p++)
          ascii &= (unsigned char)*p < 0x80;
        if (ascii && strcmp(v[0], s) != 0)
          bad = 1;
      }
      dinet_strv_free(v);
      free(arr);
    }
    free(s);
  }
  return bad ? -1 : 0;
}

#ifndef DINET_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer entry point: traps on a broken invariant. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (fuzz_safetensors_one(data, size) != 0)
    __builtin_trap();
  return 0;
}
#endif
