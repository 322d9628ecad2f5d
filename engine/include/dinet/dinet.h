/* dinet.h — libdinet, the DeepInsight-Net engine: public API.
 *
 * Pure C11, no GLib. Every fallible call returns a status (0 = ok, negative
 * dinet_status otherwise) or NULL, and fills a caller-provided dinet_error.
 * Nothing in the engine calls exit() or abort() because of input.
 */
#ifndef DINET_H
#define DINET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DINET_VERSION "0.1.0"

typedef enum dinet_status {
  DINET_OK = 0,
  DINET_ERR_IO = -1,        /* open/read/write failed */
  DINET_ERR_FORMAT = -2,    /* malformed or unsupported file */
  DINET_ERR_NOMEM = -3,     /* allocation failed */
  DINET_ERR_INVALID = -4,   /* bad argument */
  DINET_ERR_LIMIT = -5,     /* a size or pixel limit was exceeded */
  DINET_ERR_CANCELLED = -6, /* the cancellation hook asked to stop */
  DINET_ERR_NUMERIC = -7,   /* NaN/Inf where a finite number was needed */
} dinet_status;

#define DINET_ERROR_MAX 512

typedef struct dinet_error {
  int code;                      /* a dinet_status */
  char message[DINET_ERROR_MAX]; /* one line, no trailing newline */
} dinet_error;

/* Sets err (when not NULL) and returns code. */
int dinet_error_set(dinet_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void dinet_error_clear(dinet_error *err);
const char *dinet_status_name(int code);

/* Threads used by the engine (OpenBLAS and the engine's own loops).
 * n <= 0 means all cores. */
void dinet_set_threads(int n);
int dinet_get_threads(void);

/* Deterministic random numbers (xoshiro256**); every random thing takes one. */
typedef struct dinet_rng {
  uint64_t s[4];
} dinet_rng;
void dinet_rng_seed(dinet_rng *rng, uint64_t seed);
uint64_t dinet_rng_next(dinet_rng *rng);
double dinet_rng_uniform(dinet_rng *rng);  /* [0, 1) */
double dinet_rng_normal(dinet_rng *rng);   /* N(0, 1) */
uint32_t dinet_rng_below(dinet_rng *rng, uint32_t n); /* [0, n) */

#ifdef __cplusplus
}
#endif

#include "dinet/image.h"
#include "dinet/safetensors.h"
#include "dinet/net.h"
#include "dinet/metrics.h"
#include "dinet/render.h"
#include "dinet/explain.h"

#endif
