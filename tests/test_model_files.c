/* test_model_files.c — hostile and broken model files give a clear error,
 * never a crash; a good file round-trips with its metadata. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dinet/dinet.h"
#include "testutil.h"

typedef struct mutation {
  const char *what;
  const char *drop;      /* tensor to leave out */
  const char *reshape;   /* tensor whose first dim is changed */
  const char *nan;       /* tensor that gets a NaN */
  const char *extra;     /* an unexpected tensor */
  const char *arch;      /* metadata arch */
  const char *classes;   /* metadata classes */
  const char *input_size;
  const char *mean;
  const char *expect;    /* substring of the message */
} mutation;

/* Writes net's tensors with one mutation applied. */
static int write_mutated(dinet_net *net, const char *path, const mutation *m) {
  int np = dinet_net_param_tensors(net);
  dinet_st_tensor *t = calloc((size_t)np + 1, sizeof *t);
  float *extra = calloc(4, sizeof(float)), *nanbuf = NULL;
  int n = 0;
  for (int i = 0; i < np; i++) {
    dinet_param *p = dinet_net_param(net, i);
    if (m->drop && !strcmp(p->name, m->drop))
      continue;
    t[n].name = p->name;
    t[n].ndim = p->ndim;
    for (int d = 0; d < p->ndim; d++)
      t[n].shape[d] = p->shape[d];
    t[n].data = p->data;
    if (m->reshape && !strcmp(p->name, m->reshape)) {
      t[n].shape[0] = 1;
      t[n].ndim = 1;
      t[n].shape[0] = (int64_t)p->n;
    }
    if (m->nan && !strcmp(p->name, m->nan)) {
      nanbuf = malloc(sizeof(float) * p->n);
      memcpy(nanbuf, p->data, sizeof(float) * p->n);
      nanbuf[p->n / 2] = NAN;
      t[n].data = nanbuf;
    }
    n++;
  }
  if (m->extra) {
    t[n].name = m->extra;
    t[n].ndim = 1;
    t[n].shape[0] = 4;
    t[n].data = extra;
    n++;
  }
  const char *keys[4] = {"arch", "classes", "input_size", "mean"};
  const char *vals[4] = {m->arch ? m->arch : "cbam_resnet50", m->classes ? m->classes : "[\"a\",\"b\",\"c\"]",
                         m->input_size ? m->input_size : "64", m->mean ? m->mean : "[0.5,0.5,0.5]"};
  int rc = dinet_st_write(path, t, n, DINET_DTYPE_F32, keys, vals, 4, NULL);
  free(t);
  free(extra);
  free(nanbuf);
  return rc;
}

static void expect_fail(const char *path, const char *what, const char *substr) {
  dinet_error err = {0};
  dinet_net *net = dinet_net_load(path, &err);
  CHECK(net == NULL, "%s: loaded", what);
  CHECK(err.message[0] != '\0', "%s: no message", what);
  CHECK(!substr || strstr(err.message, substr), "%s: message \"%s\" lacks \"%s\"", what, err.message,
        substr);
  dinet_net_free(net);
}

int main(void) {
  const char *dir = tu_tmpdir();
  char good[600], path[600];
  snprintf(good, sizeof good, "%s/good.safetensors", dir);
  dinet_error err = {0};
  dinet_net *net = dinet_net_new(DINET_ARCH_CBAM_RESNET50, 3, &err);
  CHECK(net != NULL, "new");
  dinet_net_init_weights(net, 4);
  const char *names[3] = {"a", "b", "c"};
  dinet_net_set_class_names(net, names, 3, NULL);
  dinet_net_set_input_size(net, 64);
  dinet_net_set_meta(net, "abnormal", "[\"b\",\"c\"]", NULL);
  dinet_net_set_meta(net, "recipe", "kept \"as is\"", NULL);
  CHECK(dinet_net_save(net, good, DINET_DTYPE_F16, &err) == 0, "save: %s", err.message);

  /* round trip with metadata */
  dinet_net *back = dinet_net_load(good, &err);
  CHECK(back != NULL, "load good: %s", err.message);
  if (back) {
    CHECK(dinet_net_input_size(back) == 64, "input size");
    CHECK(!strcmp(dinet_net_class_name(back, 2), "c"), "class names");
    CHECK(dinet_net_class_is_abnormal(back, 0) == 0 && dinet_net_class_is_abnormal(back, 1) == 1,
          "grouping");
    const char *r = dinet_net_meta(back, "recipe");
    CHECK(r && !strcmp(r, "kept \"as is\""), "unknown metadata kept");
    /* F16 storage: weights equal to within half precision */
    dinet_param *p = dinet_net_param(net, 0), *q = dinet_net_param(back, 0);
    double worst = 0;
    for (size_t i = 0; i < p->n; i++)
      worst = fmax(worst, fabs(p->data[i] - q->data[i]) / (fabs(p->data[i]) + 1e-3));
    CHECK(worst < 1e-3, "F16 round trip error %g", worst);
    dinet_net_free(back);
  }

  const mutation muts[] = {
      {.what = "missing tensor", .drop = "layer3.2.bn2.running_var", .expect = "missing tensor 'layer3.2.bn2.running_var'"},
      {.what = "wrong shape", .reshape = "layer2.0.conv2.weight", .expect = "layer2.0.conv2.weight"},
      {.what = "NaN weight", .nan = "layer1.0.conv1.weight", .expect = "non-finite"},
      {.what = "unexpected tensor", .extra = "layer5.0.conv1.weight", .expect = "unexpected tensor"},
      {.what = "unknown arch", .arch = "vit_b16", .expect = "unknown arch"},
      {.what = "class count", .classes = "[\"a\",\"b\"]", .expect = "fc.weight"},
      {.what = "classes not JSON", .classes = "a,b,c", .expect = "classes"},
      {.what = "input size", .input_size = "60000", .expect = "input_size"},
      {.what = "mean", .mean = "[1,2]", .expect = "mean"},
      {.what = "cbam tensors for resnet50", .arch = "resnet50", .expect = "unexpected tensor"},
  };
  for (size_t i = 0; i < sizeof muts / sizeof *muts; i++) {
    snprintf(path, sizeof path, "%s/mut%zu.safetensors", dir, i);
    CHECK(write_mutated(net, path, &muts[i]) == 0, "write %s", muts[i].what);
    expect_fail(path, muts[i].what, muts[i].expect);
  }

  /* byte-level damage of the good file */
  FILE *f = fopen(good, "rb");
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc((size_t)len);
  CHECK(fread(buf, 1, (size_t)len, f) == (size_t)len, "read good");
  fclose(f);
  long cuts[] = {0, 4, 8, 100, len / 2, len - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
    snprintf(path, sizeof path, "%s/cut%zu.safetensors", dir, i);
    tu_write_file(path, buf, (size_t)cuts[i]);
    expect_fail(path, "truncated", "cut");
  }
  /* header length pointing past the end, and an absurd one */
  unsigned char *bad = malloc((size_t)len);
  memcpy(bad, buf, (size_t)len);
  uint64_t hl = (uint64_t)len * 2;
  for (int i = 0; i < 8; i++)
    bad[i] = (unsigned char)(hl >> (8 * i));
  snprintf(path, sizeof path, "%s/hlen.safetensors", dir);
  tu_write_file(path, bad, (size_t)len);
  expect_fail(path, "header length", "hlen");
  memset(bad, 0xff, 8);
  tu_write_file(path, bad, (size_t)len);
  expect_fail(path, "huge header length", "hlen");
  /* an offset out of range: find the first "data_offsets":[ and break it */
  memcpy(bad, buf, (size_t)len);
  char *hdr = (char *)bad + 8;
  char *o = memmem(hdr, (size_t)len - 8, "\"data_offsets\":[0,", 18);
  if (!o)
    o = memmem(hdr, (size_t)len - 8, "\"data_offsets\": [0, ", 20);
  CHECK(o != NULL, "found data_offsets in the header");
  if (o) {
    char *d = strchr(o, '[') + 1;
    *d = '9'; /* begin 9...: mismatch with the shape or beyond the data */
    snprintf(path, sizeof path, "%s/offs.safetensors", dir);
    tu_write_file(path, bad, (size_t)len);
    expect_fail(path, "offsets", "offs");
  }
  expect_fail("/nonexistent/dir/model.safetensors", "missing file", "model.safetensors");
  free(bad);
  free(buf);
  dinet_net_free(net);
  return tu_finish();
}
