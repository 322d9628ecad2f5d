/* safetensors.h — reading and writing safetensors files.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON header
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "string value", ...}}, then raw little-endian data.
 * Every tensor's dtype, shape and byte range is validated on open. */
#ifndef DINET_SAFETENSORS_H
#define DINET_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dinet_error;

typedef enum dinet_dtype {
  DINET_DTYPE_F32 = 0,
  DINET_DTYPE_F16 = 1,
  DINET_DTYPE_BF16 = 2,
  DINET_DTYPE_OTHER = 3, /* listed but not convertible to float (I64, U8...) */
} dinet_dtype;

#define DINET_ST_MAX_DIMS 8
/* Header larger than this is refused (hostile files). */
#define DINET_ST_MAX_HEADER ((uint64_t)64 * 1024 * 1024)

typedef struct dinet_st dinet_st;

dinet_st *dinet_st_open(const char *path, struct dinet_error *err);
dinet_st *dinet_st_open_memory(const void *data, size_t len, const char *name,
                               struct dinet_error *err);
void dinet_st_close(dinet_st *st);

int dinet_st_count(const dinet_st *st);
const char *dinet_st_name(const dinet_st *st, int i);
int dinet_st_find(const dinet_st *st, const char *name); /* -1 if absent */
dinet_dtype dinet_st_dtype(const dinet_st *st, int i);
/* Number of dims; shape[] gets up to DINET_ST_MAX_DIMS entries. */
int dinet_st_shape(const dinet_st *st, int i, int64_t shape[DINET_ST_MAX_DIMS]);
int64_t dinet_st_numel(const dinet_st *st, int i);
/* Converts F32/F16/BF16 to float. n must equal the tensor's element count. */
int dinet_st_read_f32(const dinet_st *st, int i, float *out, size_t n,
                      struct dinet_error *err);

/* __metadata__ (string values only). NULL when absent. */
const char *dinet_st_meta(const dinet_st *st, const char *key);
int dinet_st_meta_count(const dinet_st *st);
const char *dinet_st_meta_key(const dinet_st *st, int i);
const char *dinet_st_meta_value(const dinet_st *st, int i);

typedef struct dinet_st_tensor {
  const char *name;
  int ndim;
  int64_t shape[DINET_ST_MAX_DIMS];
  const float *data;
} dinet_st_tensor;

/* Writes tensors (stored as F32 or F16) and metadata (meta_keys[i] ->
 * meta_values[i]). Written to a temporary file and renamed into place. */
int dinet_st_write(const char *path, const dinet_st_tensor *tensors, int n,
                   dinet_dtype dtype, const char *const *meta_keys,
                   const char *const *meta_values, int n_meta,
                   struct dinet_error *err);

/* Small JSON helpers for metadata values. Return count or negative status. */
int dinet_json_parse_string_array(const char *json, char ***out,
                                  struct dinet_error *err); /* free with dinet_strv_free */
int dinet_json_parse_number_array(const char *json, double *out, int max,
                                  struct dinet_error *err);
void dinet_strv_free(char **v);
/* Appends s as a JSON string literal (quoted, escaped) to buf. Returns the
 * length it needs (excluding NUL), like snprintf. */
size_t dinet_json_quote(const char *s, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
