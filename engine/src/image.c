/* image.c — image objects, file reading and format dispatch.
 *
 * The format is chosen by magic bytes, never by the file name. Each loader
 * (image_png.c, image_tiff.c, image_jpeg.c, image_bmp.c) checks the header
 * dimensions with dinet__check_size() before allocating pixels, so a small
 * file announcing a huge image fails fast with DINET_ERR_LIMIT. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dinet/dinet.h"
#include "image_private.h"

/* Files larger than this are refused before reading (2 GiB). */
#define DINET__MAX_FILE_BYTES ((uint64_t)2 << 30)

/* Formats a pixel count for messages: "3600 megapixels" or "5000 pixels"
 * (small counts only appear with a small caller-chosen limit). */
static void format_pixels(char *buf, size_t n, uint64_t px, int mega) {
  if (!mega)
    snprintf(buf, n, "%llu", (unsigned long long)px);
  else if (px >= 100000000u)
    snprintf(buf, n, "%.0f", (double)px / 1e6);
  else
    snprintf(buf, n, "%.1f", (double)px / 1e6);
}

/* Zero sizes, int range and the pixel limit (see image_private.h). */
int dinet__check_size(const dinet__input *in, uint64_t width, uint64_t height,
                      dinet_error *err) {
  if (width == 0 || height == 0)
    return dinet_error_set(
        err, DINET_ERR_FORMAT, "%s: image has zero %s (%llu x %llu)", in->name,
        width == 0 ? "width" : "height", (unsigned long long)width,
        (unsigned long long)height);
  if (width > INT_MAX || height > INT_MAX)
    return dinet_error_set(
        err, DINET_ERR_LIMIT, "%s: image is %llu x %llu, too large a side",
        in->name, (unsigned long long)width, (unsigned long long)height);
  uint64_t px = width * height; /* both < 2^31: no wrap */
  if (px > in->max_pixels) {
    int mega = in->max_pixels >= 1000000u;
    char a[32], b[32];
    format_pixels(a, sizeof a, px, mega);
    format_pixels(b, sizeof b, in->max_pixels, mega);
    return dinet_error_set(
        err, DINET_ERR_LIMIT,
        "%s: image is %llu x %llu = %s %s, over the %s %s limit", in->name,
        (unsigned long long)width, (unsigned long long)height, a,
        mega ? "megapixels" : "pixels", b, mega ? "megapixel" : "pixel");
  }
  /* bytes for a 4-byte-per-pixel decode buffer must fit size_t */
  if (px > SIZE_MAX / 4)
    return dinet_error_set(err, DINET_ERR_LIMIT, "%s: image too large",
                           in->name);
  if (in->probe) {
    in->probe[0] = (int)width;
    in->probe[1] = (int)height;
    return DINET__PROBED;
  }
  return 0;
}

/* An image with bpp bytes per pixel; 3 is the public layout. */
dinet_image *dinet__image_alloc(int width, int height, int bpp,
                                dinet_error *err) {
  if (width <= 0 || height <= 0)
    return dinet_error_set(err, DINET_ERR_INVALID,
                           "image size %d x %d is not positive", width, height),
           NULL;
  size_t w = (size_t)width, h = (size_t)height, b = (size_t)bpp;
  if (w > SIZE_MAX / h || w * h > SIZE_MAX / b)
    return dinet_error_set(err, DINET_ERR_LIMIT, "image %d x %d is too large",
                           width, height),
           NULL;
  dinet_image *img = malloc(sizeof *img);
  uint8_t *px = malloc(w * h * b);
  if (!img || !px) {
    free(img);
    free(px);
    dinet_error_set(err, DINET_ERR_NOMEM, "out of memory for a %d x %d image",
                    width, height);
    return NULL;
  }
  img->width = width;
  img->height = height;
  img->rgb = px;
  return img;
}

/* RGBA over white to RGB, in place, then shrinks the buffer. */
void dinet__image_compact_rgba(dinet_image *img) {
  size_t n = (size_t)img->width * (size_t)img->height;
  uint8_t *p = img->rgb;
  /* Forward in place: destination 3*i never passes source 4*i. */
  for (size_t i = 0; i < n; i++) {
    unsigned a = p[4 * i + 3];
    uint8_t r = p[4 * i], g = p[4 * i + 1], b = p[4 * i + 2];
    if (a != 255) {
      r = dinet__over_white(r, a);
      g = dinet__over_white(g, a);
      b = dinet__over_white(b, a);
    }
    p[3 * i] = r;
    p[3 * i + 1] = g;
    p[3 * i + 2] = b;
  }
  uint8_t *q = realloc(p, n * 3);
  if (q)
    img->rgb = q;
}

/* A new uninitialised RGB image. */
dinet_image *dinet_image_new(int width, int height, dinet_error *err) {
  return dinet__image_alloc(width, height, 3, err);
}

/* A deep copy. */
dinet_image *dinet_image_copy(const dinet_image *img, dinet_error *err) {
  if (!img || !img->rgb)
    return dinet_error_set(err, DINET_ERR_INVALID, "copy of a NULL image"),
           NULL;
  dinet_image *out = dinet_image_new(img->width, img->height, err);
  if (out)
    memcpy(out->rgb, img->rgb, (size_t)img->width * img->height * 3);
  return out;
}

/* Frees an image; NULL is fine. */
void dinet_image_free(dinet_image *img) {
  if (img) {
    free(img->rgb);
    free(img);
  }
}

/* The part of a rectangle inside the image, as a new image. */
dinet_image *dinet_image_crop(const dinet_image *img, int x, int y, int width,
                              int height, dinet_error *err) {
  if (!img || !img->rgb)
    return dinet_error_set(err, DINET_ERR_INVALID, "crop of a NULL image"),
           NULL;
  /* Clip in 64 bits so x + width cannot overflow. */
  int64_t x0 = x, y0 = y, x1 = (int64_t)x + width, y1 = (int64_t)y + height;
  if (x0 < 0)
    x0 = 0;
  if (y0 < 0)
    y0 = 0;
  if (x1 > img->width)
    x1 = img->width;
  if (y1 > img->height)
    y1 = img->height;
  if (width <= 0 || height <= 0 || x1 <= x0 || y1 <= y0)
    return dinet_error_set(err, DINET_ERR_INVALID,
                           "crop rectangle %d,%d %dx%d is outside the %d x %d "
                           "image",
                           x, y, width, height, img->width, img->height),
           NULL;
  dinet_image *out = dinet_image_new((int)(x1 - x0), (int)(y1 - y0), err);
  if (!out)
    return NULL;
  size_t row = (size_t)out->width * 3;
  for (int r = 0; r < out->height; r++)
    memcpy(out->rgb + (size_t)r * row,
           img->rgb + (((size_t)(y0 + r) * img->width) + (size_t)x0) * 3, row);
  return out;
}

/* Names formats we recognise but do not decode, for a better message. */
static const char *other_format(const uint8_t *d, size_t n) {
  if (n >= 6 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6)))
    return "GIF";
  if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4))
    return "WebP";
  if (n >= 12 && !memcmp(d, "\0\0\0\x0cjP  \r\n\x87\n", 12))
    return "JPEG 2000";
  if (n >= 4 && !memcmp(d, "\xff\x4f\xff\x51", 4))
    return "JPEG 2000";
  if (n >= 12 && !memcmp(d + 4, "ftyp", 4) &&
      (!memcmp(d + 8, "heic", 4) || !memcmp(d + 8, "avif", 4) ||
       !memcmp(d + 8, "mif1", 4)))
    return "HEIF/AVIF";
  return NULL;
}

/* Dispatches on magic bytes to the format loaders; with probe, they stop
 * once the size is known (see dinet__check_size). */
static dinet_image *load_bytes(const void *data, size_t len, const char *name,
                               const dinet_load_options *opt, int *probe,
                               dinet_error *err) {
  dinet__input in = {
      .data = data,
      .len = len,
      .name = name ? name : "<memory>",
      .max_pixels =
          opt && opt->max_pixels ? opt->max_pixels : DINET_DEFAULT_MAX_PIXELS,
      .page = opt ? opt->page : 0,
      .probe = probe,
  };
  dinet_error_clear(err);
  if (!data && len)
    return dinet_error_set(err, DINET_ERR_INVALID, "%s: no data", in.name),
           NULL;
  if (len == 0)
    return dinet_error_set(err, DINET_ERR_FORMAT, "%s: file is empty", in.name),
           NULL;
  if (in.page < 0)
    return dinet_error_set(err, DINET_ERR_INVALID, "%s: page %d is negative",
                           in.name, in.page),
           NULL;
  const uint8_t *d = data;
  dinet_image *img = NULL;
  int is_tiff =
      len >= 4 &&
      ((d[0] == 'I' && d[1] == 'I' && (d[2] == 42 || d[2] == 43) &&
        d[3] == 0) ||
       (d[0] == 'M' && d[1] == 'M' && d[2] == 0 && (d[3] == 42 || d[3] == 43)));
  if (len >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8))
    img = dinet__load_png(&in, err);
  else if (is_tiff)
    img = dinet__load_tiff(&in, err);
  else if (len >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
    img = dinet__load_jpeg(&in, err);
  else if (len >= 2 && d[0] == 'B' && d[1] == 'M')
    img = dinet__load_bmp(&in, err);
  else {
    const char *other = other_format(d, len);
    if (other)
      dinet_error_set(err, DINET_ERR_FORMAT,
                      "%s: %s files are not supported (only PNG, TIFF, JPEG "
                      "or BMP)",
                      in.name, other);
    else
      dinet_error_set(err, DINET_ERR_FORMAT,
                      "%s: not a PNG, TIFF, JPEG or BMP file", in.name);
    return NULL;
  }
  if (!img && probe && probe[0] > 0) /* stopped at the size: no error */
    return NULL;
  if (!img && err && !err->message[0]) /* a loader bug; never leave it empty */
    dinet_error_set(err, DINET_ERR_FORMAT, "%s: cannot decode image", in.name);
  return img;
}

dinet_image *dinet_image_load_memory(const void *data, size_t len,
                                     const char *name,
                                     const dinet_load_options *opt,
                                     dinet_error *err) {
  return load_bytes(data, len, name, opt, NULL, err);
}

int dinet_image_probe_memory(const void *data, size_t len, const char *name,
                             const dinet_load_options *opt, int *width,
                             int *height, dinet_error *err) {
  int size[2] = {0, 0};
  dinet_image *img = load_bytes(data, len, name, opt, size, err);
  if (img) { /* a loader that never checked the size (none does) */
    size[0] = img->width;
    size[1] = img->height;
    dinet_image_free(img);
  }
  if (size[0] <= 0)
    return err ? err->code : DINET_ERR_FORMAT;
  dinet_error_clear(err);
  *width = size[0];
  *height = size[1];
  return DINET_OK;
}

/* Reads a whole file into a malloc'd buffer; *len_out gets its size. */
static uint8_t *read_file(const char *path, size_t *len_out, dinet_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return dinet_error_set(err, DINET_ERR_IO, "%s: cannot open: %s", path,
                           strerror(errno)),
           NULL;
  struct stat st;
  if (fstat(fileno(f), &st) != 0) {
    dinet_error_set(err, DINET_ERR_IO, "%s: cannot stat: %s", path,
                    strerror(errno));
    fclose(f);
    return NULL;
  }
  if (S_ISDIR(st.st_mode)) {
    dinet_error_set(err, DINET_ERR_IO, "%s: is a directory", path);
    fclose(f);
    return NULL;
  }
  if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > DINET__MAX_FILE_BYTES) {
    dinet_error_set(err, DINET_ERR_LIMIT,
                    "%s: file is %lld bytes, over the %llu byte limit", path,
                    (long long)st.st_size,
                    (unsigned long long)DINET__MAX_FILE_BYTES);
    fclose(f);
    return NULL;
  }
  /* The size from fstat is a hint; pipes and growing files are read to
   * EOF, still under the limit. */
  size_t cap =
      S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
  size_t len = 0;
  uint8_t *buf = malloc(cap);
  if (!buf)
    goto nomem;
  for (;;) {
    if (len == cap) {
      if ((uint64_t)cap > DINET__MAX_FILE_BYTES) {
        dinet_error_set(err, DINET_ERR_LIMIT,
                        "%s: file is over the %llu byte limit", path,
                        (unsigned long long)DINET__MAX_FILE_BYTES);
        goto fail;
      }
      size_t ncap = cap * 2;
      uint8_t *nb = realloc(buf, ncap);
      if (!nb)
        goto nomem;
      buf = nb;
      cap = ncap;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) {
      if (ferror(f)) {
        dinet_error_set(err, DINET_ERR_IO, "%s: read error: %s", path,
                        strerror(errno));
        goto fail;
      }
      break;
    }
  }
  if ((uint64_t)len > DINET__MAX_FILE_BYTES) {
    dinet_error_set(err, DINET_ERR_LIMIT,
                    "%s: file is over the %llu byte limit", path,
                    (unsigned long long)DINET__MAX_FILE_BYTES);
    goto fail;
  }
  fclose(f);
  *len_out = len;
  return buf;
nomem:
  dinet_error_set(err, DINET_ERR_NOMEM, "%s: out of memory reading the file",
                  path);
fail:
  free(buf);
  fclose(f);
  return NULL;
}

/* Reads the whole file, then decodes it from memory. */
dinet_image *dinet_image_load(const char *path, const dinet_load_options *opt,
                              dinet_error *err) {
  dinet_error_clear(err);
  if (!path || !*path)
    return dinet_error_set(err, DINET_ERR_INVALID, "no file name given"), NULL;
  size_t len = 0;
  uint8_t *data = read_file(path, &len, err);
  if (!data)
    return NULL;
  dinet_image *img = dinet_image_load_memory(data, len, path, opt, err);
  free(data);
  return img;
}

int dinet_image_probe(const char *path, const dinet_load_options *opt,
                      int *width, int *height, dinet_error *err) {
  dinet_error_clear(err);
  if (!path || !*path)
    return dinet_error_set(err, DINET_ERR_INVALID, "no file name given");
  size_t len = 0;
  uint8_t *data = read_file(path, &len, err);
  if (!data)
    return err ? err->code : DINET_ERR_IO;
  int rc = dinet_image_probe_memory(data, len, path, opt, width, height, err);
  free(data);
  return rc;
}
