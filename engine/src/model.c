/* model.c — model files: safetensors with PyTorch state_dict names and
 * string metadata (arch, classes, input_size, mean, std, and any other key,
 * kept and written back). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_private.h"

/* ---- metadata ------------------------------------------------------ */

static int meta_find(const dinet_net *net, const char *key) {
  for (int i = 0; i < net->n_meta; i++)
    if (strcmp(net->meta_keys[i], key) == 0)
      return i;
  return -1;
}

const char *dinet_net_meta(const dinet_net *net, const char *key) {
  int i = meta_find(net, key);
  return i < 0 ? NULL : net->meta_values[i];
}

int dinet_net_set_meta(dinet_net *net, const char *key, const char *value,
                       dinet_error *err) {
  if (!key || !*key)
    return dinet_error_set(err, DINET_ERR_INVALID, "empty metadata key");
  int i = meta_find(net, key);
  if (!value) { /* remove */
    if (i >= 0) {
      free(net->meta_keys[i]);
      free(net->meta_values[i]);
      net->n_meta--;
      memmove(net->meta_keys + i, net->meta_keys + i + 1, sizeof(char *) * (net->n_meta - i));
      memmove(net->meta_values + i, net->meta_values + i + 1,
              sizeof(char *) * (net->n_meta - i));
    }
    return DINET_OK;
  }
  char *v = strdup(value);
  if (!v)
    return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
  if (i >= 0) {
    free(net->meta_values[i]);
    net->meta_values[i] = v;
    return DINET_OK;
  }
  char **k2 = realloc(net->meta_keys, sizeof(char *) * (net->n_meta + 1));
  if (k2)
    net->meta_keys = k2;
  char **v2 = realloc(net->meta_values, sizeof(char *) * (net->n_meta + 1));
  if (v2)
    net->meta_values = v2;
  char *k = strdup(key);
  if (!k2 || !v2 || !k) {
    free(v);
    free(k);
    return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
  }
  net->meta_keys[net->n_meta] = k;
  net->meta_values[net->n_meta] = v;
  net->n_meta++;
  return DINET_OK;
}

int dinet_net_meta_count(const dinet_net *net) { return net->n_meta; }
const char *dinet_net_meta_key(const dinet_net *net, int i) {
  return (i >= 0 && i < net->n_meta) ? net->meta_keys[i] : NULL;
}
const char *dinet_net_meta_value(const dinet_net *net, int i) {
  return (i >= 0 && i < net->n_meta) ? net->meta_values[i] : NULL;
}

float dinet_net_temperature(const dinet_net *net) {
  const char *t = dinet_net_meta(net, "temperature");
  if (!t)
    return 1.0f;
  char *end;
  double v = strtod(t, &end);
  return (end != t && isfinite(v) && v > 0.01 && v < 100) ? (float)v : 1.0f;
}

/* 1 if name is in the JSON string array meta[key], 0 if not, -1 if no key. */
static int in_meta_list(const dinet_net *net, const char *key, const char *name) {
  const char *v = dinet_net_meta(net, key);
  if (!v)
    return -1;
  char **list = NULL;
  int n = dinet_json_parse_string_array(v, &list, NULL);
  if (n < 0)
    return -1;
  int hit = 0;
  for (int i = 0; i < n; i++)
    if (strcmp(list[i], name) == 0)
      hit = 1;
  dinet_strv_free(list);
  return hit;
}

int dinet_net_class_is_abnormal(const dinet_net *net, int i) {
  const char *name = dinet_net_class_name(net, i);
  if (!name)
    return -1;
  int a = in_meta_list(net, "abnormal", name);
  if (a >= 0)
    return a;
  int n = in_meta_list(net, "normal", name);
  return n < 0 ? -1 : !n;
}

/* Regenerates arch, classes, input_size, mean and std from the fields. */
static int sync_meta(dinet_net *net, dinet_error *err) {
  char buf[64];
  int rc = dinet_net_set_meta(net, "arch", dinet_arch_name(net->arch), err);
  if (rc)
    return rc;
  size_t need = 3;
  for (int i = 0; i < net->num_classes; i++)
    need += dinet_json_quote(net->class_names[i], NULL, 0) + 2;
  char *cls = malloc(need);
  if (!cls)
    return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
  size_t o = 0;
  cls[o++] = '[';
  for (int i = 0; i < net->num_classes; i++) {
    if (i)
      cls[o++] = ',';
    o += dinet_json_quote(net->class_names[i], cls + o, need - o);
  }
  cls[o++] = ']';
  cls[o] = '\0';
  rc = dinet_net_set_meta(net, "classes", cls, err);
  free(cls);
  if (rc)
    return rc;
  snprintf(buf, sizeof buf, "%d", net->input_size);
  if ((rc = dinet_net_set_meta(net, "input_size", buf, err)))
    return rc;
  snprintf(buf, sizeof buf, "[%.9g, %.9g, %.9g]", net->mean[0], net->mean[1], net->mean[2]);
  if ((rc = dinet_net_set_meta(net, "mean", buf, err)))
    return rc;
  snprintf(buf, sizeof buf, "[%.9g, %.9g, %.9g]", net->std[0], net->std[1], net->std[2]);
  return dinet_net_set_meta(net, "std", buf, err);
}

/* ---- loading -------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

dinet_net *dinet_net_load_st(const dinet_st *st, const char *name, dinet_error *err) {
  const char *arch_s = dinet_st_meta(st, "arch");
  dinet_arch arch;
  if (!arch_s) {
    dinet_error_set(err, DINET_ERR_FORMAT, "%s: no \"arch\" in the metadata", name);
    return NULL;
  }
  if (dinet_arch_from_name(arch_s, &arch)) {
    dinet_error_set(err, DINET_ERR_FORMAT,
                    "%s: unknown arch \"%.64s\" (expected resnet50 or cbam_resnet50)", name,
                    arch_s);
    return NULL;
  }
  const char *cls_s = dinet_st_meta(st, "classes");
  if (!cls_s) {
    dinet_error_set(err, DINET_ERR_FORMAT, "%s: no \"classes\" in the metadata", name);
    return NULL;
  }
  char **classes = NULL;
  dinet_error jerr = {0};
  int k = dinet_json_parse_string_array(cls_s, &classes, &jerr);
  if (k < 1) {
    dinet_error_set(err, DINET_ERR_FORMAT, "%s: metadata \"classes\" is not a non-empty JSON array of strings%s%s",
                    name, jerr.message[0] ? ": " : "", jerr.message);
    dinet_strv_free(classes);
    return NULL;
  }
  dinet_net *net = dinet_net_new(arch, k, err);
  if (!net) {
    dinet_strv_free(classes);
    return NULL;
  }
  int rc = dinet_net_set_class_names(net, (const char *const *)classes, k, err);
  dinet_strv_free(classes);
  if (rc)
    goto fail;
  const char *is = dinet_st_meta(st, "input_size");
  if (is) {
    char *end;
    long v = strtol(is, &end, 10);
    if (end == is || *end || v < 32 || v > 4096) {
      dinet_error_set(err, DINET_ERR_FORMAT, "%s: input_size \"%.32s\" is not an integer in 32..4096",
                      name, is);
      goto fail;
    }
    net->input_size = (int)v;
  }
  const char *keys[2] = {"mean", "std"};
  float *dst[2] = {net->mean, net->std};
  for (int j = 0; j < 2; j++) {
    const char *v = dinet_st_meta(st, keys[j]);
    if (!v)
      continue;
    double d[3];
    int n = dinet_json_parse_number_array(v, d, 3, NULL);
    if (n != 3 || !isfinite(d[0]) || !isfinite(d[1]) || !isfinite(d[2]) ||
        (j == 1 && (d[0] <= 0 || d[1] <= 0 || d[2] <= 0))) {
      dinet_error_set(err, DINET_ERR_FORMAT, "%s: metadata \"%s\" must be 3 numbers%s", name,
                      keys[j], j ? " above zero" : "");
      goto fail;
    }
    for (int c = 0; c < 3; c++)
      dst[j][c] = (float)d[c];
  }
  for (int i = 0; i < dinet_st_meta_count(st); i++)
    if ((rc = dinet_net_set_meta(net, dinet_st_meta_key(st, i), dinet_st_meta_value(st, i), err)))
      goto fail;
  /* every parameter, by name, with its exact shape */
  for (int i = 0; i < net->n_params; i++) {
    dinet_param *p = &net->params[i];
    int t = dinet_st_find(st, p->name);
    if (t < 0) {
      dinet_error_set(err, DINET_ERR_FORMAT, "%s: missing tensor '%s' (needed by %s)", name,
                      p->name, dinet_arch_name(arch));
      goto fail;
    }
    int64_t shape[DINET_ST_MAX_DIMS];
    int nd = dinet_st_shape(st, t, shape);
    int ok = nd == p->ndim && dinet_st_dtype(st, t) != DINET_DTYPE_OTHER;
    for (int d = 0; ok && d < nd; d++)
      ok = shape[d] == p->shape[d];
    if (!ok) {
      char want[64], got[96];
      int o = snprintf(want, sizeof want, "[");
      for (int d = 0; d < p->ndim; d++)
        o += snprintf(want + o, sizeof want - o, "%s%d", d ? ", " : "", p->shape[d]);
      snprintf(want + o, sizeof want - o, "]");
      o = snprintf(got, sizeof got, "[");
      for (int d = 0; d < nd && o < (int)sizeof got - 24; d++)
        o += snprintf(got + o, sizeof got - o, "%s%lld", d ? ", " : "", (long long)shape[d]);
      snprintf(got + o, sizeof got - o, "]");
      dinet_error_set(err, DINET_ERR_FORMAT, "%s: tensor '%s' has %s shape %s, expected float shape %s",
                      name, p->name,
                      dinet_st_dtype(st, t) == DINET_DTYPE_OTHER ? "non-float" : "float", got,
                      want);
      goto fail;
    }
    if ((rc = dinet_st_read_f32(st, t, p->data, p->n, err)))
      goto fail;
    for (size_t j = 0; j < p->n; j++)
      if (!isfinite(p->data[j]) || (ends_with(p->name, "running_var") && p->data[j] < 0)) {
        dinet_error_set(err, DINET_ERR_FORMAT, "%s: tensor '%s' holds %s value %g at %zu", name,
                        p->name, isfinite(p->data[j]) ? "a negative variance" : "a non-finite",
                        p->data[j], j);
        goto fail;
      }
  }
  /* nothing unexpected */
  for (int t = 0; t < dinet_st_count(st); t++) {
    const char *tn = dinet_st_name(st, t);
    if (ends_with(tn, "num_batches_tracked") || strncmp(tn, "optimizer.", 10) == 0)
      continue; /* PyTorch's counter; training checkpoints' optimiser state */
    int found = 0;
    for (int i = 0; i < net->n_params && !found; i++)
      found = strcmp(net->params[i].name, tn) == 0;
    if (!found) {
      dinet_error_set(err, DINET_ERR_FORMAT, "%s: unexpected tensor '%.96s' for arch %s", name,
                      tn, dinet_arch_name(arch));
      goto fail;
    }
  }
  if ((rc = sync_meta(net, err)))
    goto fail;
  net->folded_valid = 0;
  return net;
fail:
  dinet_net_free(net);
  return NULL;
}

dinet_net *dinet_net_load(const char *path, dinet_error *err) {
  dinet_st *st = dinet_st_open(path, err);
  if (!st)
    return NULL;
  const char *base = strrchr(path, '/');
  dinet_net *net = dinet_net_load_st(st, base ? base + 1 : path, err);
  dinet_st_close(st);
  return net;
}

/* ---- saving --------------------------------------------------------- */

int dinet_net_save(dinet_net *net, const char *path, dinet_dtype dtype, dinet_error *err) {
  int rc = sync_meta(net, err);
  if (rc)
    return rc;
  dinet_st_tensor *t = calloc((size_t)net->n_params, sizeof *t);
  if (!t)
    return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
  for (int i = 0; i < net->n_params; i++) {
    const dinet_param *p = &net->params[i];
    t[i].name = p->name;
    t[i].ndim = p->ndim;
    for (int d = 0; d < p->ndim; d++)
      t[i].shape[d] = p->shape[d];
    t[i].data = p->data;
  }
  rc = dinet_st_write(path, t, net->n_params, dtype, (const char *const *)net->meta_keys,
                      (const char *const *)net->meta_values, net->n_meta, err);
  free(t);
  return rc;
}
