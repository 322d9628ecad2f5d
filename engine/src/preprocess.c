/* preprocess.c — a model's preprocessing: centre crop, resize, normalise. */
#include <math.h>
#include <stdlib.h>

#include "dinet/dinet.h"

float dinet_net_center_crop(const dinet_net *net) {
  const char *v = dinet_net_meta(net, "center_crop");
  if (!v)
    return 1.0f;
  char *end;
  double f = strtod(v, &end);
  return (end != v && isfinite(f) && f >= 0.1 && f <= 1.0) ? (float)f : 1.0f;
}

int dinet_net_image_side(const dinet_net *net) {
  const char *v = dinet_net_meta(net, DINET_META_IMAGE_SIDE);
  if (!v)
    return 0;
  char *end;
  long s = strtol(v, &end, 10);
  return (end != v && s > 0 && s <= 1000000) ? (int)s : 0;
}

dinet_size_fit dinet_size_fit_of(int image_side, int width, int height) {
  const int side = width < height ? width : height;
  if (image_side <= 0 || side <= 0)
    return DINET_SIZE_FITS;
  if (side > 2 * (long long)image_side && image_side < DINET_CELL_MODEL_MAX_SIDE)
    return DINET_SIZE_LARGER;
  if (2 * (long long)side < image_side)
    return DINET_SIZE_SMALLER;
  return DINET_SIZE_FITS;
}

int dinet_net_preprocess(const dinet_net *net, const dinet_image *img, float *out,
                         dinet_error *err) {
  float mean[3], std[3];
  dinet_net_get_norm(net, mean, std);
  const float f = dinet_net_center_crop(net);
  if (f >= 1.0f)
    return dinet_preprocess(img, dinet_net_input_size(net), mean, std, out, err);
  int w = (int)lrintf(img->width * f), h = (int)lrintf(img->height * f);
  w = w < 1 ? 1 : w;
  h = h < 1 ? 1 : h;
  dinet_image *c = dinet_image_crop(img, (img->width - w) / 2, (img->height - h) / 2, w, h, err);
  if (!c)
    return err && err->code ? err->code : DINET_ERR_NOMEM;
  int rc = dinet_preprocess(c, dinet_net_input_size(net), mean, std, out, err);
  dinet_image_free(c);
  return rc;
}
