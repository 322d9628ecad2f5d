/* resize.c — antialiased bilinear resize and network preprocessing.
 *
 * The algorithm is Pillow's Image.resize(size, BILINEAR) (libImaging
 * Resample.c), reproduced step by step so preprocessing matches a model
 * trained on PIL/torchvision transforms:
 *   - separable: a horizontal pass, then a vertical pass;
 *   - output pixel i samples around centre (i + 0.5) * scale (half-pixel
 *     centres), scale = in / out;
 *   - triangle filter of support 1, widened by the shrink factor when
 *     shrinking (antialiasing), plain bilinear with edge clamping when
 *     enlarging;
 *   - weights normalised per output pixel, then turned into 22-bit fixed
 *     point; each pass rounds and clamps to uint8 (the intermediate image
 *     is 8-bit, as in Pillow);
 *   - a pass whose dimension does not change is skipped.
 * torchvision's antialias=True on uint8 tensors uses the same scheme. A
 * float implementation differs from this by at most one level per pass
 * where a value lands near .5 (fixed-point rounding of the weights). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dinet/dinet.h"
#include "image_private.h"

#define RS_PRECISION_BITS (32 - 8 - 2)

/* Precomputed filter for one dimension: for output i, taps
 * k[i * ksize + 0 .. n[i]) apply to inputs start[i] .. start[i] + n[i]. */
typedef struct rs_filter {
  int ksize;
  int *start, *n;
  int32_t *k;
} rs_filter;

/* Triangle (bilinear) filter. */
static double triangle(double x) {
  if (x < 0.0)
    x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

/* Frees a filter's arrays; safe to call twice. */
static void filter_free(rs_filter *f) {
  free(f->start);
  free(f->n);
  free(f->k);
  f->start = f->n = NULL;
  f->k = NULL;
}

/* Computes the taps for resizing in_size samples to out_size; returns 0,
 * or -1 when out of memory. */
static int filter_init(rs_filter *f, int in_size, int out_size) {
  double scale = (double)in_size / out_size;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  double support = 1.0 * filterscale; /* the triangle's support is 1 */
  int ksize = (int)ceil(support) * 2 + 1;
  memset(f, 0, sizeof *f);
  f->ksize = ksize;
  f->start = malloc(sizeof(int) * (size_t)out_size);
  f->n = malloc(sizeof(int) * (size_t)out_size);
  f->k = calloc((size_t)out_size * (size_t)ksize, sizeof(int32_t));
  double *pk = malloc(sizeof(double) * (size_t)ksize);
  if (!f->start || !f->n || !f->k || !pk) {
    free(pk);
    filter_free(f);
    return -1;
  }
  double ss = 1.0 / filterscale;
  for (int xx = 0; xx < out_size; xx++) {
    double center = (xx + 0.5) * scale;
    int xmin = (int)(center - support + 0.5);
    int xmax = (int)(center + support + 0.5);
    if (xmin < 0)
      xmin = 0;
    if (xmax > in_size)
      xmax = in_size;
    xmax -= xmin;
    if (xmax > ksize) /* cannot happen; keeps the array bounds obvious */
      xmax = ksize;
    double ww = 0.0;
    for (int x = 0; x < xmax; x++) {
      double w = triangle((x + xmin - center + 0.5) * ss);
      pk[x] = w;
      ww += w;
    }
    int32_t *k = f->k + (size_t)xx * ksize;
    for (int x = 0; x < xmax; x++) {
      double w = ww != 0.0 ? pk[x] / ww : 0.0;
      /* Pillow's normalize_coeffs_8bpc: round half away from zero */
      k[x] = (int32_t)(w < 0 ? -0.5 + w * (1 << RS_PRECISION_BITS)
                             : 0.5 + w * (1 << RS_PRECISION_BITS));
    }
    f->start[xx] = xmin;
    f->n[xx] = xmax;
  }
  free(pk);
  return 0;
}

/* Fixed-point accumulator to uint8, clamped. */
static inline uint8_t clip8(int32_t v) {
  if (v >= (int32_t)(255u << RS_PRECISION_BITS))
    return 255;
  if (v <= 0)
    return 0;
  return (uint8_t)(v >> RS_PRECISION_BITS);
}

/* Horizontal pass over `rows` rows of RGB: src is src_w wide, dst is the
 * filter's output width wide. */
static void pass_h(const uint8_t *src, int src_w, int rows, uint8_t *dst,
                   int dst_w, const rs_filter *f) {
  const int32_t half = 1 << (RS_PRECISION_BITS - 1);
  for (int y = 0; y < rows; y++) {
    const uint8_t *s = src + (size_t)y * src_w * 3;
    uint8_t *d = dst + (size_t)y * dst_w * 3;
    for (int xx = 0; xx < dst_w; xx++) {
      const int32_t *k = f->k + (size_t)xx * f->ksize;
      const uint8_t *p = s + (size_t)f->start[xx] * 3;
      int32_t r = half, g = half, b = half;
      for (int x = 0, n = f->n[xx]; x < n; x++, p += 3) {
        r += p[0] * k[x];
        g += p[1] * k[x];
        b += p[2] * k[x];
      }
      d[3 * xx] = clip8(r);
      d[3 * xx + 1] = clip8(g);
      d[3 * xx + 2] = clip8(b);
    }
  }
}

/* Vertical pass: src rows start at input row `first` (the rows the
 * horizontal pass produced), width w; acc is scratch of w * 3 int32. */
static void pass_v(const uint8_t *src, int w, int first, uint8_t *dst,
                   int dst_h, const rs_filter *f, int32_t *acc) {
  const int32_t half = 1 << (RS_PRECISION_BITS - 1);
  size_t row = (size_t)w * 3;
  for (int yy = 0; yy < dst_h; yy++) {
    const int32_t *k = f->k + (size_t)yy * f->ksize;
    for (size_t i = 0; i < row; i++)
      acc[i] = half;
    for (int y = 0, n = f->n[yy]; y < n; y++) {
      const uint8_t *s = src + (size_t)(f->start[yy] - first + y) * row;
      int32_t ky = k[y];
      for (size_t i = 0; i < row; i++)
        acc[i] += s[i] * ky;
    }
    uint8_t *d = dst + (size_t)yy * row;
    for (size_t i = 0; i < row; i++)
      d[i] = clip8(acc[i]);
  }
}

/* Pillow-exact bilinear resize (see the top of the file). */
dinet_image *dinet_image_resize(const dinet_image *img, int width, int height,
                                dinet_error *err) {
  if (!img || !img->rgb || img->width <= 0 || img->height <= 0)
    return dinet_error_set(err, DINET_ERR_INVALID, "resize of an empty image"),
           NULL;
  if (width <= 0 || height <= 0)
    return dinet_error_set(err, DINET_ERR_INVALID,
                           "resize to %d x %d: size must be positive", width,
                           height),
           NULL;
  if (width == img->width && height == img->height)
    return dinet_image_copy(img, err);
  int need_h = width != img->width, need_v = height != img->height;
  rs_filter fh = {0}, fv = {0};
  dinet_image *tmp = NULL, *out = NULL;
  int32_t *acc = NULL;
  int first = 0, last = img->height; /* source rows the vertical pass reads */
  const uint8_t *vsrc = img->rgb;
  if ((need_h && filter_init(&fh, img->width, width)) ||
      (need_v && filter_init(&fv, img->height, height)))
    goto nomem;
  if (need_v) {
    first = fv.start[0];
    last = fv.start[height - 1] + fv.n[height - 1];
  }
  if (need_h && !need_v) {
    out = dinet_image_new(width, height, err);
    if (out)
      pass_h(img->rgb, img->width, img->height, out->rgb, width, &fh);
    goto done;
  }
  if (need_h) {
    tmp = dinet_image_new(width, last - first, err);
    if (!tmp)
      goto done;
    pass_h(img->rgb + (size_t)first * img->width * 3, img->width, last - first,
           tmp->rgb, width, &fh);
    vsrc = tmp->rgb;
  } else {
    vsrc = img->rgb + (size_t)first * img->width * 3;
  }
  out = dinet_image_new(width, height, err);
  acc = malloc(sizeof(int32_t) * (size_t)width * 3);
  if (!out || !acc)
    goto nomem;
  pass_v(vsrc, width, first, out->rgb, height, &fv, acc);
done:
  free(acc);
  dinet_image_free(tmp);
  filter_free(&fh);
  filter_free(&fv);
  return out;
nomem:
  dinet_error_set(err, DINET_ERR_NOMEM,
                  "out of memory resizing %d x %d to %d x %d", img->width,
                  img->height, width, height);
  dinet_image_free(out);
  out = NULL;
  goto done;
}

/* Resize to size x size, then planar (v / 255 - mean) / std. */
int dinet_preprocess(const dinet_image *img, int size, const float mean[3],
                     const float std[3], float *out, dinet_error *err) {
  if (!img || !img->rgb || !mean || !std || !out)
    return dinet_error_set(err, DINET_ERR_INVALID, "preprocess: NULL argument");
  if (size <= 0 || size > 65536)
    return dinet_error_set(err, DINET_ERR_INVALID,
                           "preprocess: size %d out of range", size);
  for (int c = 0; c < 3; c++)
    if (!(std[c] != 0.0f) || !isfinite(std[c]) || !isfinite(mean[c]))
      return dinet_error_set(err, DINET_ERR_INVALID,
                             "preprocess: mean/std[%d] = %g/%g is invalid", c,
                             (double)mean[c], (double)std[c]);
  dinet_image *rs = NULL;
  const dinet_image *src = img;
  if (img->width != size || img->height != size) {
    rs = dinet_image_resize(img, size, size, err);
    if (!rs)
      return err ? err->code : DINET_ERR_NOMEM;
    src = rs;
  }
  size_t plane = (size_t)size * size;
  for (int c = 0; c < 3; c++) {
    float m = mean[c], s = std[c];
    float *o = out + c * plane;
    const uint8_t *p = src->rgb + c;
    /* (v / 255 - mean) / std, the same float operations as torchvision's
     * ToTensor + Normalize */
    for (size_t i = 0; i < plane; i++)
      o[i] = ((float)p[3 * i] / 255.0f - m) / s;
  }
  dinet_image_free(rs);
  return 0;
}
