#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tu_passed = 0, tu_failed = 0;

int tu_finish(void) {
  printf("%d passed, %d failed\n", tu_passed, tu_failed);
  return tu_failed ? 1 : 0;
}

double tu_max_rel_diff(const float *a, const float *b, size_t n, double *abs_out) {
  double maxd = 0, maxb = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (!(d <= maxd)) /* also catches NaN */
      maxd = isnan(d) ? INFINITY : d;
    if (fabs(b[i]) > maxb)
      maxb = fabs(b[i]);
  }
  if (abs_out)
    *abs_out = maxd;
  return maxd / (maxb + 1e-12);
}

int tu_write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f)
    return -1;
  size_t w = len ? fwrite(data, 1, len, f) : 0;
  int rc = fclose(f);
  return (w == len && rc == 0) ? 0 : -1;
}

const char *tu_tmpdir(void) {
  static char dir[512];
  if (!dir[0]) {
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/dinet-test-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir))
      dir[0] = '\0';
  }
  return dir;
}
