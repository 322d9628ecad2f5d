/* image_png.c — PNG reader and writer on libpng 1.6.
 *
 * Reading goes through a memory read callback. libpng reports errors with
 * png_error(), which lands in png_err() below: the message is copied into
 * the context and png_longjmp() returns to the setjmp in the loader.
 * Everything allocated after setjmp is held in volatile pointers, so the
 * cleanup after the jump sees the current values. */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dinet/dinet.h"
#include "image_private.h"

#define PNG_MSG_MAX 256

/* Per-call reader state: input position and the first libpng message. */
typedef struct png_ctx {
  const uint8_t *data;
  size_t len, pos;
  char msg[PNG_MSG_MAX];
} png_ctx;

/* libpng error callback; the error pointer is a PNG_MSG_MAX buffer. Keeps
 * the first message and jumps back to the caller's setjmp. */
static void png_err(png_structp png, png_const_charp msg) {
  char *buf = png_get_error_ptr(png);
  if (buf && !buf[0])
    snprintf(buf, PNG_MSG_MAX, "%s", msg ? msg : "unknown error");
  png_longjmp(png, 1);
}

/* libpng warning callback: warnings are ignored (nothing goes to stderr). */
static void png_warn(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

/* Read callback: copies from the memory buffer, errors past its end. */
static void png_read_mem(png_structp png, png_bytep out, size_t n) {
  png_ctx *ctx = png_get_io_ptr(png);
  if (n > ctx->len - ctx->pos)
    png_error(png, "file is truncated");
  memcpy(out, ctx->data + ctx->pos, n);
  ctx->pos += n;
}

/* Decodes a PNG to 8-bit RGB (alpha over white). */
dinet_image *dinet__load_png(const dinet__input *in, dinet_error *err) {
  png_ctx ctx = {.data = in->data, .len = in->len};
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx.msg, png_err, png_warn);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info) {
    png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
    return dinet_error_set(err, DINET_ERR_NOMEM,
                           "%s: out of memory starting the PNG decoder",
                           in->name),
           NULL;
  }
  dinet_image *volatile img = NULL;
  png_bytep *volatile rows = NULL;
  volatile int status = 0; /* set before a non-libpng failure */

  if (setjmp(png_jmpbuf(png))) {
    if (!status)
      dinet_error_set(err, DINET_ERR_FORMAT, "%s: bad PNG: %s", in->name,
                      ctx.msg[0] ? ctx.msg : "decoder error");
    free(rows);
    dinet_image_free(img);
    png_destroy_read_struct(&png, &info, NULL);
    return NULL;
  }

  /* libpng's own per-side limit (1e6 by default) is lifted to the format's
   * maximum: the pixel count is checked below, before any row buffer
   * exists, with a clearer message. */
  png_set_user_limits(png, 0x7fffffffu, 0x7fffffffu);
  png_set_chunk_malloc_max(png, 64u << 20);
  png_set_chunk_cache_max(png, 1000);
  png_set_read_fn(png, &ctx, png_read_mem);
  png_read_info(png, info);

  png_uint_32 w = 0, h = 0;
  int depth = 0, ctype = 0, interlace = 0;
  png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
  int rc = dinet__check_size(in, w, h, err);
  if (rc) {
    status = rc;
    png_longjmp(png, 1);
  }

  /* Everything to 8-bit RGB(A): palette and low-depth gray expanded, tRNS
   * turned into alpha, 16 bits rounded to 8, gray replicated. */
  png_set_expand(png);
  if (depth == 16)
    png_set_scale_16(png);
  if (!(ctype & PNG_COLOR_MASK_COLOR))
    png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  int channels = png_get_channels(png, info);
  if ((channels != 3 && channels != 4) || png_get_bit_depth(png, info) != 8 ||
      png_get_rowbytes(png, info) != (size_t)w * channels) {
    status = dinet_error_set(err, DINET_ERR_FORMAT,
                             "%s: unsupported PNG layout (%d channels)",
                             in->name, channels);
    png_longjmp(png, 1);
  }

  img = dinet__image_alloc((int)w, (int)h, channels, err);
  rows = img ? malloc(sizeof(png_bytep) * h) : NULL;
  if (!img || !rows) {
    status = dinet_error_set(err, DINET_ERR_NOMEM,
                             "%s: out of memory for a %u x %u image", in->name,
                             (unsigned)w, (unsigned)h);
    png_longjmp(png, 1);
  }
  for (png_uint_32 y = 0; y < h; y++)
    rows[y] = img->rgb + (size_t)y * w * channels;
  png_read_image(png, rows);
  /* png_read_end() is skipped: chunks after the image data are not needed,
   * and the last IDAT's CRC has already been checked by then. */

  dinet_image *out = img;
  free(rows);
  png_destroy_read_struct(&png, &info, NULL);
  if (channels == 4)
    dinet__image_compact_rgba(out);
  return out;
}

/* Writes 8-bit RGB, removing the partial file on failure. */
int dinet_image_save_png(const dinet_image *img, const char *path,
                         dinet_error *err) {
  if (!img || !img->rgb || img->width <= 0 || img->height <= 0 || !path)
    return dinet_error_set(err, DINET_ERR_INVALID, "%s: no image to save",
                           path ? path : "(null)");
  FILE *volatile f = fopen(path, "wb");
  if (!f)
    return dinet_error_set(err, DINET_ERR_IO, "%s: cannot create: %s", path,
                           strerror(errno));
  char msg[PNG_MSG_MAX] = "";
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, msg, png_err, png_warn);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info) {
    png_destroy_write_struct(png ? &png : NULL, NULL);
    fclose(f);
    remove(path);
    return dinet_error_set(err, DINET_ERR_NOMEM,
                           "%s: out of memory starting the PNG encoder", path);
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    fclose(f);
    remove(path);
    return dinet_error_set(err, DINET_ERR_IO, "%s: cannot write PNG: %s", path,
                           msg[0] ? msg : "encoder error");
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < img->height; y++)
    png_write_row(png, img->rgb + (size_t)y * img->width * 3);
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) {
    remove(path);
    return dinet_error_set(err, DINET_ERR_IO, "%s: write error: %s", path,
                           strerror(errno));
  }
  return 0;
}
