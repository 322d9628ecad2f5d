/* render.c — map normalisation, bilinear upsampling, colormaps, overlays
 * and legends (see dinet/render.h).
 *
 * Colormap data:
 *   viridis, inferno: matplotlib lib/matplotlib/_cm_listed.py (_viridis_data,
 *     _inferno_data; Nathaniel J. Smith, Stefan van der Walt, Eric Firing;
 *     CC0), copied digit for digit from matplotlib 3.6.3;
 *   turbo: Google's turbo_colormap_data (Anton Mikhailov, 2019, Apache-2.0),
 *     as also shipped in matplotlib's _turbo_data, digit for digit;
 *   jet: computed by MATLAB's jet.m construction for 256 entries (below).
 * 8-bit values are round(v * 255). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dinet/dinet.h"
#include "dinet/render.h"

#include "render_luts.inc"

static const char *const cmap_names[DINET_COLORMAP_COUNT] = {"viridis", "inferno", "turbo",
                                                             "jet"};

const char *dinet_colormap_name(dinet_colormap cm) {
  return (int)cm >= 0 && (int)cm < DINET_COLORMAP_COUNT ? cmap_names[cm] : NULL;
}

int dinet_colormap_from_name(const char *name, dinet_colormap *out, dinet_error *err) {
  for (int i = 0; name && i < DINET_COLORMAP_COUNT; i++) {
    const char *a = name, *b = cmap_names[i];
    while (*a && *b && tolower((unsigned char)*a) == *b)
      a++, b++;
    if (!*a && !*b) {
      *out = (dinet_colormap)i;
      return DINET_OK;
    }
  }
  return dinet_error_set(err, DINET_ERR_INVALID,
                         "unknown colormap \"%s\" (viridis, inferno, turbo or jet)",
                         name ? name : "");
}

/* MATLAB's jet(256): n = ceil(256/4) = 64, u = [(1:n)/n, ones(1,n-1),
 * (n:-1:1)/n] (191 values), g = ceil(n/2) + (1:191), r = g + n, b = g - n;
 * red(r) = u(1..), green(g) = u(1..), blue(b) = u(end-len(b)+1..end), all
 * clipped to 1..256. With 1-based entry i this is red = u(i-96),
 * green = u(i-32), blue = u(i+32) where those indices exist. */
static float jet_u(int j) {
  if (j < 1 || j > 191)
    return 0.0f;
  if (j <= 64)
    return (float)j / 64.0f;
  if (j <= 127)
    return 1.0f;
  return (float)(192 - j) / 64.0f;
}

void dinet_colormap_rgbf(dinet_colormap cm, int i, float rgb[3]) {
  i = i < 0 ? 0 : i > 255 ? 255 : i;
  const float(*t)[3] = NULL;
  switch (cm) {
  case DINET_COLORMAP_VIRIDIS:
    t = lut_viridis;
    break;
  case DINET_COLORMAP_INFERNO:
    t = lut_inferno;
    break;
  case DINET_COLORMAP_TURBO:
    t = lut_turbo;
    break;
  case DINET_COLORMAP_JET:
  default: {
    const int k = i + 1; /* MATLAB's 1-based row */
    rgb[0] = k >= 97 ? jet_u(k - 96) : 0.0f;
    rgb[1] = k >= 33 && k <= 223 ? jet_u(k - 32) : 0.0f;
    rgb[2] = k <= 159 ? jet_u(k + 32) : 0.0f;
    return;
  }
  }
  rgb[0] = t[i][0];
  rgb[1] = t[i][1];
  rgb[2] = t[i][2];
}

void dinet_colormap_lut(dinet_colormap cm, uint8_t lut[256][3]) {
  for (int i = 0; i < 256; i++) {
    float c[3];
    dinet_colormap_rgbf(cm, i, c);
    for (int k = 0; k < 3; k++)
      lut[i][k] = (uint8_t)floor((double)c[k] * 255.0 + 0.5);
  }
}

int dinet_map_normalize(const float *map, size_t n, float *out) {
  float mn = INFINITY, mx = -INFINITY;
  int finite = 1;
  for (size_t i = 0; i < n; i++) {
    const float v = map[i] > 0.0f ? map[i] : 0.0f;                 /* ReLU (NaN -> 0) */
    if (!isfinite(map[i]))
      finite = 0;
    mn = v < mn ? v : mn;
    mx = v > mx ? v : mx;
  }
  if (n == 0 || !finite || !(mx > 0.0f) || mx - mn < 1e-6f * mx) {
    for (size_t i = 0; i < n; i++)
      out[i] = 0.0f;
    return 1;
  }
  const float s = 1.0f / (mx - mn);
  for (size_t i = 0; i < n; i++) {
    const float v = map[i] > 0.0f ? map[i] : 0.0f;
    float r = (v - mn) * s;
    out[i] = r < 0.0f ? 0.0f : r > 1.0f ? 1.0f : r;
  }
  return 0;
}

/* Source coordinate of output index o for an in -> out resize (half-pixel
 * centres, clamped as PyTorch does): lower index *i0, upper *i1, weight of
 * the upper one *l. */
static void src_coord(int o, int in, int out, int *i0, int *i1, float *l) {
  double s = ((double)o + 0.5) * (double)in / (double)out - 0.5;
  if (s < 0.0)
    s = 0.0;
  int a = (int)s;
  if (a > in - 1)
    a = in - 1;
  *i0 = a;
  *i1 = a < in - 1 ? a + 1 : a;
  *l = (float)(s - a);
  if (*i1 == a)
    *l = 0.0f;
}

void dinet_map_upsample(const float *map, int mh, int mw, float *out, int h, int w) {
  if (mh <= 0 || mw <= 0 || h <= 0 || w <= 0)
    return;
  int *x0 = malloc(sizeof(int) * 2 * (size_t)w);
  float *lx = malloc(sizeof(float) * (size_t)w);
  if (!x0 || !lx) { /* slow path without tables */
    free(x0);
    free(lx);
    for (int y = 0; y < h; y++) {
      int ya, yb, xa, xb;
      float ly, l;
      src_coord(y, mh, h, &ya, &yb, &ly);
      for (int x = 0; x < w; x++) {
        src_coord(x, mw, w, &xa, &xb, &l);
        const float *ra = map + (size_t)ya * mw, *rb = map + (size_t)yb * mw;
        out[(size_t)y * w + x] = (1 - ly) * ((1 - l) * ra[xa] + l * ra[xb]) +
                                 ly * ((1 - l) * rb[xa] + l * rb[xb]);
      }
    }
    return;
  }
  int *x1 = x0 + w;
  for (int x = 0; x < w; x++)
    src_coord(x, mw, w, &x0[x], &x1[x], &lx[x]);
  for (int y = 0; y < h; y++) {
    int ya, yb;
    float ly;
    src_coord(y, mh, h, &ya, &yb, &ly);
    const float *ra = map + (size_t)ya * mw, *rb = map + (size_t)yb * mw; /* [mw] rows */
    float *o = out + (size_t)y * w;
    for (int x = 0; x < w; x++) {
      const float l = lx[x];
      o[x] = (1 - ly) * ((1 - l) * ra[x0[x]] + l * ra[x1[x]]) +
             ly * ((1 - l) * rb[x0[x]] + l * rb[x1[x]]);
    }
  }
  free(x0);
  free(lx);
}

int dinet_render_overlay(dinet_image *img, const float *map, int mh, int mw, dinet_colormap cm,
                         float opacity, int *no_evidence, dinet_error *err) {
  if (no_evidence)
    *no_evidence = 0;
  if (!img || !map || mh <= 0 || mw <= 0)
    return dinet_error_set(err, DINET_ERR_INVALID, "overlay: no image or empty map");
  if (!dinet_colormap_name(cm))
    return dinet_error_set(err, DINET_ERR_INVALID, "overlay: unknown colormap %d", (int)cm);
  if (!(opacity >= 0.0f && opacity <= 1.0f))
    return dinet_error_set(err, DINET_ERR_INVALID, "overlay: opacity must be in [0, 1]");
  const size_t n = (size_t)mh * mw, np = (size_t)img->width * img->height;
  float *m = malloc(sizeof(float) * n), *up = malloc(sizeof(float) * np);
  if (!m || !up) {
    free(m);
    free(up);
    return dinet_error_set(err, DINET_ERR_NOMEM, "out of memory");
  }
  if (dinet_map_normalize(map, n, m)) {
    if (no_evidence)
      *no_evidence = 1; /* leave the image as it is */
  } else {
    uint8_t lut[256][3];
    dinet_colormap_lut(cm, lut);
    dinet_map_upsample(m, mh, mw, up, img->height, img->width);    /* [H][W] in [0, 1] */
    for (size_t i = 0; i < np; i++) {
      int k = (int)(up[i] * 255.0f + 0.5f);
      k = k < 0 ? 0 : k > 255 ? 255 : k;
      uint8_t *p = img->rgb + i * 3;
      for (int c = 0; c < 3; c++)
        p[c] = (uint8_t)lrintf((1.0f - opacity) * p[c] + opacity * lut[k][c]);
    }
  }
  free(m);
  free(up);
  return DINET_OK;
}

dinet_image *dinet_render_legend(int width, int height, dinet_colormap cm, dinet_error *err) {
  if (width < 1 || height < 1 || !dinet_colormap_name(cm)) {
    dinet_error_set(err, DINET_ERR_INVALID, "legend: bad size %dx%d or colormap", width, height);
    return NULL;
  }
  dinet_image *img = dinet_image_new(width, height, err);
  if (!img)
    return NULL;
  uint8_t lut[256][3];
  dinet_colormap_lut(cm, lut);
  for (int x = 0; x < width; x++) {
    const int k = width > 1 ? (int)floor(255.0 * x / (width - 1) + 0.5) : 0;
    for (int y = 0; y < height; y++)
      memcpy(img->rgb + ((size_t)y * width + x) * 3, lut[k], 3);
  }
  return img;
}
