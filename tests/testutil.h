/* testutil.h — a tiny test harness: CHECK macros and a closing line
 * "N passed, N failed" that the CI reads. */
#ifndef DINET_TESTUTIL_H
#define DINET_TESTUTIL_H
#include <stddef.h>
#include <stdio.h>

extern int tu_passed, tu_failed;

#define CHECK(cond, ...)                                                      \
  do {                                                                        \
    if (cond) {                                                               \
      tu_passed++;                                                            \
    } else {                                                                  \
      tu_failed++;                                                            \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);         \
      fprintf(stderr, __VA_ARGS__);                                           \
      fputc('\n', stderr);                                                    \
    }                                                                         \
  } while (0)

/* Prints the closing line and returns the exit status for main(). */
int tu_finish(void);
/* Max |a-b| / (|b|_max + tiny); max abs diff in *abs_out when not NULL. */
double tu_max_rel_diff(const float *a, const float *b, size_t n, double *abs_out);
/* calloc that never returns NULL (exits with status 2 when out of memory). */
void *tu_xcalloc(size_t bytes);
/* Writes a file with the given bytes; returns 0 on success. */
int tu_write_file(const char *path, const void *data, size_t len);
/* A fresh temporary directory (mkdtemp) under $TMPDIR; static storage.
 * tu_finish() removes it when every check passed. */
const char *tu_tmpdir(void);

/* A copy of net (weights, BN statistics, input size, normalisation) whose
 * parameters with a name starting with one of the n prefixes ("layer4.",
 * "fc.") are taken from fresh, a network of the same architecture straight
 * from dinet_net_init_weights: the cascading model randomisation of Adebayo
 * et al. (2018). NULL on error (message on stderr); free with
 * dinet_net_free. */
struct dinet_net;
struct dinet_net *tu_rerandomised(struct dinet_net *net, struct dinet_net *fresh,
                                  const char *const *prefixes, int n);
#endif
