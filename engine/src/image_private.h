/* image_private.h — shared between the image loaders (image*.c, resize.c).
 *
 * Not installed. Every loader takes the whole file in memory, decodes to
 * 8-bit RGB and reports failures as "NAME: what went wrong". */
#ifndef DINET_IMAGE_PRIVATE_H
#define DINET_IMAGE_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "dinet/dinet.h"

/* What a loader is given: the bytes, a name for messages and the limits. */
typedef struct dinet__input {
  const uint8_t *data;
  size_t len;
  const char *name;    /* never NULL */
  uint64_t max_pixels; /* never 0 */
  int page;            /* TIFF directory, >= 0 */
  int *probe;          /* non-NULL: only the size is wanted (see below) */
} dinet__input;

/* What dinet__check_size() returns when in->probe is set and the size
 * passed the checks: it has stored width, height in probe[0], probe[1],
 * and the loader stops there as on an error, without setting one. */
#define DINET__PROBED 1

/* Checks header dimensions before anything large is allocated: zero sizes,
 * int range and the pixel limit. Returns 0, a negative dinet_status, or
 * DINET__PROBED. */
int dinet__check_size(const dinet__input *in, uint64_t width, uint64_t height,
                      dinet_error *err);

/* Allocates an image whose pixel buffer holds bpp (3 or 4) bytes per pixel,
 * so a loader can decode RGBA in place; dinet__image_compact_rgba() then
 * turns it into the final RGB image. */
dinet_image *dinet__image_alloc(int width, int height, int bpp,
                                dinet_error *err);

/* a * v + (1 - a) * 255, rounded, for 8-bit unassociated alpha. */
static inline uint8_t dinet__over_white(unsigned v, unsigned a) {
  return (uint8_t)((a * v + (255u - a) * 255u + 127u) / 255u);
}

/* 16-bit sample to 8 bits: round(v * 255 / 65535), used by every loader. */
static inline uint8_t dinet__scale16(unsigned v) {
  return (uint8_t)((v + 128u) / 257u);
}

/* Composites an RGBA buffer (unassociated alpha) over white in place,
 * leaving RGB in the first 3 * width * height bytes, and shrinks it. */
void dinet__image_compact_rgba(dinet_image *img);

dinet_image *dinet__load_png(const dinet__input *in, dinet_error *err);
dinet_image *dinet__load_tiff(const dinet__input *in, dinet_error *err);
dinet_image *dinet__load_jpeg(const dinet__input *in, dinet_error *err);
dinet_image *dinet__load_bmp(const dinet__input *in, dinet_error *err);

#endif
