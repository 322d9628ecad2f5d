/* dataset.c — ImageFolder scanning, grouped stratified splits, an image
 * cache and augmentation that suits cells (dihedral, scale/shift, colour
 * and stain jitter). Everything random takes a dinet_rng. */
#include "dataset.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- scanning ------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_image_name(const char *n) {
  const char *dot = strrchr(n, '.');
  if (!dot || n[0] == '.')
    return 0;
  const char *ext[] = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"};
  for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
    if (strcasecmp(dot, ext[i]) == 0)
      return 1;
  return 0;
}

/* Sorted names in dir; dirs_only selects folders or image files. */
static char **list_dir(const char *dir, int dirs_only, int *count) {
  DIR *d = opendir(dir);
  if (!d)
    return NULL;
  int n = 0, cap = 64;
  char **v = malloc(sizeof(char *) * cap);
  struct dirent *e;
  while (v && (e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char p[4096 + 512];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    DIR *sub = opendir(p);
    int isdir = sub != NULL;
    if (sub)
      closedir(sub);
    if (dirs_only ? !isdir : (isdir || !is_image_name(e->d_name)))
      continue;
    if (n + 1 >= cap) {
      char **v2 = realloc(v, sizeof(char *) * (cap *= 2));
      if (!v2)
        break;
      v = v2;
    }
    v[n++] = strdup(e->d_name);
  }
  closedir(d);
  if (!v)
    return NULL;
  qsort(v, (size_t)n, sizeof(char *), cmp_str);
  v[n] = NULL;
  *count = n;
  return v;
}

/* Splits one CSV line into fields (quotes handled); returns field count. */
static int csv_fields(char *line, char **f, int max) {
  int n = 0;
  char *p = line;
  while (n < max) {
    char *out = p;
    f[n++] = out;
    if (*p == '"') {
      p++;
      while (*p) {
        if (*p == '"' && p[1] == '"') {
          *out++ = '"';
          p += 2;
        } else if (*p == '"') {
          p++;
          break;
        } else {
          *out++ = *p++;
        }
      }
    } else {
      while (*p && *p != ',' && *p != '\n' && *p != '\r')
        *out++ = *p++;
    }
    char c = *p;
    *out = '\0';
    if (c != ',')
      break;
    p++;
  }
  return n;
}

/* Group ids from labels.csv column `col` (file column "file"). */
static int read_groups(dataset *ds, const char *col, dinet_error *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/labels.csv", ds->root);
  FILE *f = fopen(path, "r");
  if (!f)
    return dinet_error_set(err, DINET_ERR_IO, "%s: cannot open (needed by --group-by %s)", path, col);
  char line[8192];
  char *fl[64];
  int fcol = -1, gcol = -1, rc = DINET_OK;
  if (!fgets(line, sizeof line, f)) {
    fclose(f);
    return dinet_error_set(err, DINET_ERR_FORMAT, "%s: empty", path);
  }
  int nf = csv_fields(line, fl, 64);
  for (int i = 0; i < nf; i++) {
    if (!strcmp(fl[i], "file"))
      fcol = i;
    if (!strcmp(fl[i], col))
      gcol = i;
  }
  if (fcol < 0 || gcol < 0) {
    fclose(f);
    return dinet_error_set(err, DINET_ERR_FORMAT, "%s: no \"file\" and \"%s\" columns", path, col);
  }
  char **names = calloc((size_t)ds->n + 1, sizeof(char *));
  int nnames = 0;
  for (int i = 0; i < ds->n; i++)
    ds->s[i].group = -1;
  while (names && fgets(line, sizeof line, f)) {
    nf = csv_fields(line, fl, 64);
    if (nf <= fcol || nf <= gcol)
      continue;
    for (int i = 0; i < ds->n; i++) {
      if (strcmp(ds->s[i].rel, fl[fcol]) != 0)
        continue;
      int g = -1;
      for (int j = 0; j < nnames && g < 0; j++)
        if (!strcmp(names[j], fl[gcol]))
          g = j;
      if (g < 0) {
        names[nnames] = strdup(fl[gcol]);
        g = nnames++;
      }
      ds->s[i].group = g;
      break;
    }
  }
  fclose(f);
  /* images missing from labels.csv form their own groups */
  int next = nnames;
  for (int i = 0; i < ds->n; i++)
    if (ds->s[i].group < 0)
      ds->s[i].group = next++;
  ds->n_groups = next;
  if (!names)
    rc = dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
  for (int j = 0; names && j < nnames; j++)
    free(names[j]);
  free(names);
  return rc;
}

int dataset_scan(dataset *ds, const char *dir, char *const *classes, int k,
                 const char *group_by, dinet_error *err) {
  memset(ds, 0, sizeof *ds);
  ds->root = strdup(dir);
  int nc = 0;
  char **cls = list_dir(dir, 1, &nc);
  if (!cls || nc == 0) {
    free(cls);
    return dinet_error_set(err, DINET_ERR_IO, "%s: no class folders (expected DIR/CLASS/IMAGE)", dir);
  }
  if (classes) {
    for (int i = 0; i < nc; i++) {
      int found = 0;
      for (int j = 0; j < k; j++)
        found |= !strcmp(cls[i], classes[j]);
      if (!found) {
        int rc = dinet_error_set(err, DINET_ERR_FORMAT, "%s: folder \"%s\" is not a class of the model",
                                 dir, cls[i]);
        for (int j = 0; j < nc; j++)
          free(cls[j]);
        free(cls);
        return rc;
      }
    }
    for (int j = 0; j < nc; j++)
      free(cls[j]);
    free(cls);
    cls = calloc((size_t)k + 1, sizeof(char *));
    for (int j = 0; cls && j < k; j++)
      cls[j] = strdup(classes[j]);
    nc = k;
  }
  ds->classes = cls;
  ds->k = nc;
  int cap = 256;
  ds->s = malloc(sizeof(sample) * cap);
  for (int c = 0; c < nc && ds->s; c++) {
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/%s", dir, cls[c]);
    int nf = 0;
    char **files = list_dir(sub, 0, &nf);
    if (!files)
      continue; /* a model class with no folder here */
    for (int i = 0; i < nf; i++) {
      if (ds->n >= cap) {
        sample *s2 = realloc(ds->s, sizeof(sample) * (cap *= 2));
        if (!s2)
          break;
        ds->s = s2;
      }
      char p[4096 + 256], r[1024];
      snprintf(p, sizeof p, "%s/%s", sub, files[i]);
      snprintf(r, sizeof r, "%s/%s", cls[c], files[i]);
      ds->s[ds->n] = (sample){strdup(p), strdup(r), c, ds->n};
      ds->n++;
      free(files[i]);
    }
    free(files);
  }
  if (!ds->s)
    return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
  ds->n_groups = ds->n;
  if (ds->n == 0)
    return dinet_error_set(err, DINET_ERR_IO, "%s: no images", dir);
  if (group_by)
    return read_groups(ds, group_by, err);
  return DINET_OK;
}

void dataset_free(dataset *ds) {
  for (int i = 0; i < ds->n; i++) {
    free(ds->s[i].path);
    free(ds->s[i].rel);
  }
  free(ds->s);
  if (ds->classes)
    for (int i = 0; i < ds->k; i++)
      free(ds->classes[i]);
  free(ds->classes);
  free(ds->root);
  memset(ds, 0, sizeof *ds);
}

int dataset_append(dataset *ds, dataset *more, dinet_error *err) {
  if (more->k != ds->k)
    return dinet_error_set(err, DINET_ERR_INVALID, "%s: %d classes, not %d", more->root, more->k,
                           ds->k);
  sample *s = realloc(ds->s, sizeof *s * ((size_t)ds->n + (size_t)more->n + 1));
  if (!s)
    return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
  ds->s = s;
  for (int i = 0; i < more->n; i++) {
    ds->s[ds->n + i] = more->s[i];
    ds->s[ds->n + i].group += ds->n_groups; /* groups stay apart */
  }
  ds->n += more->n;
  ds->n_groups += more->n_groups;
  more->n = 0; /* the samples moved */
  return 0;
}

int dataset_filter_list(dataset *ds, const char *list, int keep, dinet_error *err) {
  FILE *f = fopen(list, "r");
  if (!f)
    return dinet_error_set(err, DINET_ERR_IO, "%s: cannot open", list);
  int *hit = calloc((size_t)ds->n, sizeof(int));
  char line[4096];
  while (hit && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    for (int i = 0; i < ds->n; i++)
      if (!strcmp(ds->s[i].rel, line))
        hit[i] = 1;
  }
  fclose(f);
  if (!hit)
    return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
  int m = 0;
  for (int i = 0; i < ds->n; i++) {
    if (hit[i] == keep) {
      ds->s[m++] = ds->s[i];
    } else {
      free(ds->s[i].path);
      free(ds->s[i].rel);
    }
  }
  ds->n = m;
  free(hit);
  return m ? DINET_OK : dinet_error_set(err, DINET_ERR_INVALID, "%s: no image of the data set left", list);
}

/* ---- splits --------------------------------------------------------- */

typedef struct grp {
  int id, label, count;
} grp;

/* Groups with their class and size, shuffled by rng. */
static grp *collect_groups(const dataset *ds, dinet_rng *rng, int *ng) {
  grp *g = calloc((size_t)ds->n_groups, sizeof(grp));
  if (!g)
    return NULL;
  for (int i = 0; i < ds->n_groups; i++)
    g[i] = (grp){i, -1, 0};
  for (int i = 0; i < ds->n; i++) {
    grp *x = &g[ds->s[i].group];
    if (x->label < 0)
      x->label = ds->s[i].label; /* a mixed group goes with its first image's class */
    x->count++;
  }
  int m = 0;
  for (int i = 0; i < ds->n_groups; i++)
    if (g[i].count)
      g[m++] = g[i];
  for (int i = m - 1; i > 0; i--) {
    int j = (int)dinet_rng_below(rng, (uint32_t)(i + 1));
    grp t = g[i];
    g[i] = g[j];
    g[j] = t;
  }
  *ng = m;
  return g;
}

void dataset_folds(const dataset *ds, int nfolds, uint64_t seed, int *fold) {
  dinet_rng rng;
  dinet_rng_seed(&rng, seed);
  int ng = 0;
  grp *g = collect_groups(ds, &rng, &ng);
  int *gfold = calloc((size_t)ds->n_groups, sizeof(int));
  int *cnt = calloc((size_t)ds->k * nfolds, sizeof(int));
  if (!g || !gfold || !cnt) {
    for (int i = 0; i < ds->n; i++)
      fold[i] = i % nfolds;
  } else {
    for (int i = 0; i < ng; i++) {
      int *c = cnt + (size_t)g[i].label * nfolds, best = 0;
      for (int f = 1; f < nfolds; f++)
        if (c[f] < c[best])
          best = f;
      c[best] += g[i].count;
      gfold[g[i].id] = best;
    }
    for (int i = 0; i < ds->n; i++)
      fold[i] = gfold[ds->s[i].group];
  }
  free(g);
  free(gfold);
  free(cnt);
}

void dataset_split(const dataset *ds, double fraction, uint64_t seed, int *val) {
  dinet_rng rng;
  dinet_rng_seed(&rng, seed);
  int ng = 0;
  grp *g = collect_groups(ds, &rng, &ng);
  int *total = calloc((size_t)ds->k, sizeof(int)), *taken = calloc((size_t)ds->k, sizeof(int));
  char *gval = calloc((size_t)ds->n_groups, 1);
  if (!g || !total || !taken || !gval) {
    for (int i = 0; i < ds->n; i++)
      val[i] = (i % 7) == 0;
  } else {
    for (int i = 0; i < ds->n; i++)
      total[ds->s[i].label]++;
    for (int i = 0; i < ng; i++) {
      double target = fraction * total[g[i].label];
      if (taken[g[i].label] + 0.5 * g[i].count <= target) {
        gval[g[i].id] = 1;
        taken[g[i].label] += g[i].count;
      }
    }
    for (int i = 0; i < ds->n; i++)
      val[i] = gval[ds->s[i].group];
  }
  free(g);
  free(total);
  free(taken);
  free(gval);
}

/* ---- cache ---------------------------------------------------------- */

typedef struct cache_job {
  image_cache *c;
  const dataset *ds;
  const int *idx;
  int n, side, next, failed;
  float crop;
  pthread_mutex_t lock;
  dinet_error err;
} cache_job;

static void *cache_worker(void *p) {
  cache_job *j = p;
  for (;;) {
    pthread_mutex_lock(&j->lock);
    int i = j->failed ? j->n : j->next++;
    pthread_mutex_unlock(&j->lock);
    if (i >= j->n)
      return NULL;
    dinet_error e = {0};
    const char *path = j->ds->s[j->idx[i]].path;
    dinet_image *im = dinet_image_load(path, NULL, &e), *cr = NULL, *rs = NULL;
    if (im)
      j->c->sides[i] = im->width < im->height ? im->width : im->height;
    if (im && j->crop < 1.0f) {
      int w = (int)lrintf(im->width * j->crop), h = (int)lrintf(im->height * j->crop);
      cr = dinet_image_crop(im, (im->width - w) / 2, (im->height - h) / 2, w < 1 ? 1 : w,
                            h < 1 ? 1 : h, &e);
    }
    if (im && (j->crop >= 1.0f || cr))
      rs = dinet_image_resize(cr ? cr : im, j->side, j->side, &e);
    if (rs)
      memcpy(j->c->pix + (size_t)i * j->side * j->side * 3, rs->rgb, (size_t)j->side * j->side * 3);
    dinet_image_free(im);
    dinet_image_free(cr);
    dinet_image_free(rs);
    if (!rs) {
      pthread_mutex_lock(&j->lock);
      if (!j->failed)
        j->err = e;
      j->failed = 1;
      pthread_mutex_unlock(&j->lock);
    }
  }
}

int cache_build(image_cache *c, const dataset *ds, const int *idx, int n, int side,
                float center_crop, dinet_error *err) {
  c->n = n;
  c->side = side;
  c->pix = malloc((size_t)n * side * side * 3 + 1);
  c->sides = calloc((size_t)n + 1, sizeof(int));
  if (!c->pix || !c->sides)
    return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory caching %d images", n);
  cache_job j = {c, ds, idx, n, side, 0, 0, center_crop, PTHREAD_MUTEX_INITIALIZER, {0}};
  int nt = dinet_get_threads();
  nt = nt > 8 ? 8 : nt < 1 ? 1 : nt;
  pthread_t th[8];
  int started = 0;
  for (int t = 1; t < nt; t++)
    if (pthread_create(&th[started], NULL, cache_worker, &j) == 0)
      started++;
  cache_worker(&j);
  for (int t = 0; t < started; t++)
    pthread_join(th[t], NULL);
  if (j.failed) {
    /* a labelled set is measured or trained whole: say how to go on */
    int code = j.err.code ? j.err.code : DINET_ERR_IO;
    if (err)
      dinet_error_set(err, code, "%s (train, cv, eval and calibrate read every image of the set: fix "
                                 "or move the file; eval and calibrate read only --list FILES.txt, eval skips --exclude FILES.txt)",
                      j.err.message);
    return code;
  }
  return DINET_OK;
}

void cache_free(image_cache *c) {
  free(c->pix);
  free(c->sides);
  c->pix = NULL;
  c->sides = NULL;
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

int cache_median_side(const image_cache *c) {
  if (!c->sides || c->n < 1)
    return 0;
  int *s = malloc(sizeof(int) * c->n);
  if (!s)
    return 0;
  memcpy(s, c->sides, sizeof(int) * c->n);
  qsort(s, (size_t)c->n, sizeof(int), cmp_int);
  int m = s[c->n / 2];
  free(s);
  return m;
}

/* ---- augmentation --------------------------------------------------- */

/* Maps output pixel (u, v) through dihedral transform d. */
static void dihedral_uv(int d, int S, int u, int v, int *x, int *y) {
  int a = u, b = v;
  if (d & 4) { /* transpose */
    int t = a;
    a = b;
    b = t;
  }
  if (d & 1)
    a = S - 1 - a;
  if (d & 2)
    b = S - 1 - b;
  *x = a;
  *y = b;
}

void dihedral_tensor(float *x, int C, int S, int d, float *tmp) {
  for (int c = 0; c < C; c++) {
    float *p = x + (size_t)c * S * S;
    memcpy(tmp, p, sizeof(float) * S * S);
    for (int v = 0; v < S; v++)
      for (int u = 0; u < S; u++) {
        int sx, sy;
        dihedral_uv(d, S, u, v, &sx, &sy);
        p[v * S + u] = tmp[sy * S + sx];
      }
  }
}

static double urange(dinet_rng *r, double a, double b) { return a + (b - a) * dinet_rng_uniform(r); }

void cache_view(const image_cache *c, int i, int S, const float mean[3], const float std[3],
                const augment *aug, int dihedral, dinet_rng *rng, float *out) {
  const int side = c->side;
  const uint8_t *src = c->pix + (size_t)i * side * side * 3;
  double bw = side, bh = side, x0 = 0, y0 = 0;
  int d = dihedral >= 0 ? dihedral : 0;
  float gain[3] = {1, 1, 1}, bright = 1, contrast = 1, sat = 1, hue = 0;
  if (aug) {
    double area = urange(rng, aug->scale_min, 1.0);
    double logr = urange(rng, -aug->aspect, aug->aspect);
    bw = side * sqrt(area * exp(logr));
    bh = side * sqrt(area / exp(logr));
    if (bw > side) bw = side;
    if (bh > side) bh = side;
    x0 = urange(rng, 0, side - bw);
    y0 = urange(rng, 0, side - bh);
    if (aug->dihedral && dihedral < 0)
      d = (int)dinet_rng_below(rng, 8);
    bright = (float)urange(rng, 1 - aug->brightness, 1 + aug->brightness);
    contrast = (float)urange(rng, 1 - aug->contrast, 1 + aug->contrast);
    sat = (float)urange(rng, 1 - aug->saturation, 1 + aug->saturation);
    hue = (float)urange(rng, -aug->hue, aug->hue) * 6.2831853f;
    for (int k = 0; k < 3; k++)
      gain[k] = (float)urange(rng, 1 - aug->stain, 1 + aug->stain);
  }
  const size_t P = (size_t)S * S;
  double mean_y = 0;
  for (int v = 0; v < S; v++) {
    for (int u = 0; u < S; u++) {
      int a, b;
      dihedral_uv(d, S, u, v, &a, &b);
      double fx = x0 + (a + 0.5) * bw / S - 0.5, fy = y0 + (b + 0.5) * bh / S - 0.5;
      int ix = (int)floor(fx), iy = (int)floor(fy);
      double wx = fx - ix, wy = fy - iy;
      int xa = ix < 0 ? 0 : ix >= side ? side - 1 : ix, xb = ix + 1 >= side ? side - 1 : ix + 1 < 0 ? 0 : ix + 1;
      int ya = iy < 0 ? 0 : iy >= side ? side - 1 : iy, yb = iy + 1 >= side ? side - 1 : iy + 1 < 0 ? 0 : iy + 1;
      float rgb[3];
      for (int k = 0; k < 3; k++) {
        double p = (1 - wy) * ((1 - wx) * src[(ya * side + xa) * 3 + k] + wx * src[(ya * side + xb) * 3 + k]) +
                   wy * ((1 - wx) * src[(yb * side + xa) * 3 + k] + wx * src[(yb * side + xb) * 3 + k]);
        rgb[k] = (float)(p / 255.0) * gain[k];
      }
      if (aug) {
        /* hue rotation and saturation in YIQ, then brightness */
        float Y = 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
        float I = 0.596f * rgb[0] - 0.274f * rgb[1] - 0.322f * rgb[2];
        float Q = 0.211f * rgb[0] - 0.523f * rgb[1] + 0.312f * rgb[2];
        float ch = cosf(hue), sh = sinf(hue);
        float I2 = (I * ch - Q * sh) * sat, Q2 = (I * sh + Q * ch) * sat;
        rgb[0] = (Y + 0.956f * I2 + 0.621f * Q2) * bright;
        rgb[1] = (Y - 0.272f * I2 - 0.647f * Q2) * bright;
        rgb[2] = (Y - 1.106f * I2 + 1.703f * Q2) * bright;
        mean_y += Y * bright;
      }
      for (int k = 0; k < 3; k++)
        out[k * P + (size_t)v * S + u] = rgb[k];
    }
  }
  float my = (float)(mean_y / P);
  for (int k = 0; k < 3; k++) {
    float *o = out + k * P;
    for (size_t p = 0; p < P; p++) {
      float val = aug ? (o[p] - my) * contrast + my : o[p];
      val = val < 0 ? 0 : val > 1 ? 1 : val;
      o[p] = (val - mean[k]) / std[k];
    }
  }
}
