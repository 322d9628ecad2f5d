#include "testutil.h"

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dinet/dinet.h"

int tu_passed = 0, tu_failed = 0;

static char tu_dir[512]; /* tu_tmpdir()'s, once made */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path); /* what cannot go stays; the walk goes on */
  return 0;
}

int tu_finish(void) {
  printf("%d passed, %d failed\n", tu_passed, tu_failed);
  /* a passing test leaves nothing behind; a failing one keeps its files */
  if (tu_dir[0] && !tu_failed)
    nftw(tu_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  else if (tu_dir[0])
    printf("files kept in %s\n", tu_dir);
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

void *tu_xcalloc(size_t bytes) {
  void *p = calloc(1, bytes ? bytes : 1);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
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
  if (!tu_dir[0]) {
    const char *t = getenv("TMPDIR");
    snprintf(tu_dir, sizeof tu_dir, "%s/dinet-test-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tu_dir))
      tu_dir[0] = '\0';
  }
  return tu_dir;
}

dinet_net *tu_rerandomised(dinet_net *net, dinet_net *fresh, const char *const *prefixes,
                           int n) {
  dinet_error err = {0};
  if (dinet_net_arch(fresh) != dinet_net_arch(net) ||
      dinet_net_num_classes(fresh) != dinet_net_num_classes(net)) {
    fprintf(stderr, "tu_rerandomised: the fresh network has another architecture\n");
    return NULL;
  }
  dinet_net *r = dinet_net_new(dinet_net_arch(net), dinet_net_num_classes(net), &err);
  if (!r) {
    fprintf(stderr, "tu_rerandomised: %s\n", err.message);
    return NULL;
  }
  for (int i = 0; i < dinet_net_param_tensors(net); i++) {
    dinet_param *p = dinet_net_param(net, i);
    int from_fresh = 0;
    for (int k = 0; k < n && !from_fresh; k++)
      from_fresh = strncmp(p->name, prefixes[k], strlen(prefixes[k])) == 0;
    if (from_fresh)
      p = dinet_net_param(fresh, i);
    memcpy(dinet_net_param(r, i)->data, p->data, sizeof(float) * p->n);
  }
  float mean[3], std[3];
  dinet_net_get_norm(net, mean, std);
  dinet_net_set_norm(r, mean, std);
  dinet_net_set_input_size(r, dinet_net_input_size(net));
  dinet_net_params_changed(r);
  return r;
}
