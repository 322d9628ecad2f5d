/* image.h — image loaders and preprocessing.
 *
 * Every loader decodes to 8-bit RGB, row-major, 3 bytes per pixel:
 * gray is replicated, palettes expanded, 16-bit samples scaled to 8 bits,
 * alpha composited over white, CMYK converted. */
#ifndef DINET_IMAGE_H
#define DINET_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dinet_error;

typedef struct dinet_image {
  int width;
  int height;
  uint8_t *rgb; /* width * height * 3 bytes, rows top to bottom */
} dinet_image;

/* Default pixel-count limit against decompression bombs: 256 megapixels. */
#define DINET_DEFAULT_MAX_PIXELS ((uint64_t)256 * 1024 * 1024)

typedef struct dinet_load_options {
  uint64_t max_pixels; /* 0 = DINET_DEFAULT_MAX_PIXELS */
  int page;            /* TIFF page (directory) to read, 0 = first */
} dinet_load_options;

/* Loads PNG, TIFF, JPEG or BMP, chosen by the file's magic bytes, not its
 * name. opt may be NULL. Returns NULL and fills err (the message names the
 * file) on any failure. */
dinet_image *dinet_image_load(const char *path, const dinet_load_options *opt,
                              struct dinet_error *err);
/* The same from memory; name is used in messages only. */
dinet_image *dinet_image_load_memory(const void *data, size_t len,
                                     const char *name,
                                     const dinet_load_options *opt,
                                     struct dinet_error *err);

/* The size of the image dinet_image_load() would decode, from the file's
 * header, without decoding pixels: 0 and *width, *height set, or a
 * negative dinet_status (the same error the load would give for a bad
 * header or a size over the limit). */
int dinet_image_probe(const char *path, const dinet_load_options *opt,
                      int *width, int *height, struct dinet_error *err);
int dinet_image_probe_memory(const void *data, size_t len, const char *name,
                             const dinet_load_options *opt, int *width,
                             int *height, struct dinet_error *err);

dinet_image *dinet_image_new(int width, int height, struct dinet_error *err);
dinet_image *dinet_image_copy(const dinet_image *img, struct dinet_error *err);
void dinet_image_free(dinet_image *img);

/* Writes an 8-bit RGB PNG. */
int dinet_image_save_png(const dinet_image *img, const char *path,
                         struct dinet_error *err);

/* Resize: antialiased (area-weighted triangle filter scaled by the shrink
 * factor) when shrinking, bilinear when enlarging; half-pixel centres as
 * PIL/torchvision do. */
dinet_image *dinet_image_resize(const dinet_image *img, int width, int height,
                                struct dinet_error *err);
/* A rectangle, clipped to the image; NULL if empty. */
dinet_image *dinet_image_crop(const dinet_image *img, int x, int y, int width,
                              int height, struct dinet_error *err);

/* Resize to size x size and normalise: x = (v/255 - mean[c]) / std[c],
 * written planar (CHW) into out[3 * size * size]. */
int dinet_preprocess(const dinet_image *img, int size, const float mean[3],
                     const float std[3], float *out, struct dinet_error *err);

#ifdef __cplusplus
}
#endif
#endif
