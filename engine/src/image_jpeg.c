/* image_jpeg.c — JPEG reader on libjpeg-turbo (jpeglib.h).
 *
 * Gray and YCbCr/RGB files are decoded straight to RGB by libjpeg-turbo;
 * CMYK and YCCK are decoded to CMYK and converted here. error_exit copies
 * libjpeg's message and longjmps back to the loader; warnings are silent
 * except "premature end of data", which fails the load (a truncated file
 * would otherwise come back half gray). */
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "dinet/dinet.h"
#include "image_private.h"

/* Progressive files with more scans than this are refused (a known way to
 * make a tiny file take minutes to decode). */
#define JPEG_MAX_SCANS 500

/* Error manager: libjpeg's public part first, then our state. */
typedef struct jpeg_ctx {
  struct jpeg_error_mgr pub;
  struct jpeg_progress_mgr progress;
  jmp_buf jump;
  char msg[JMSG_LENGTH_MAX + 64];
} jpeg_ctx;

/* error_exit: keep libjpeg's message and return to the loader's setjmp. */
static void jpeg_fail(j_common_ptr cinfo) {
  jpeg_ctx *ctx = (jpeg_ctx *)cinfo->err;
  if (!ctx->msg[0])
    (*cinfo->err->format_message)(cinfo, ctx->msg);
  longjmp(ctx->jump, 1);
}

/* emit_message: level < 0 is a warning about corrupt data. A premature
 * end of data is an error for us; every other message is dropped. */
static void jpeg_emit(j_common_ptr cinfo, int level) {
  jpeg_ctx *ctx = (jpeg_ctx *)cinfo->err;
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
    snprintf(ctx->msg, sizeof ctx->msg,
             "file is truncated (premature end of JPEG data)");
    longjmp(ctx->jump, 1);
  }
}

/* output_message: never print. */
static void jpeg_output(j_common_ptr cinfo) { (void)cinfo; }

/* Progress monitor: stops pathological progressive files. */
static void jpeg_progress(j_common_ptr cinfo) {
  if (cinfo->is_decompressor &&
      ((j_decompress_ptr)cinfo)->input_scan_number > JPEG_MAX_SCANS) {
    jpeg_ctx *ctx = (jpeg_ctx *)cinfo->err;
    snprintf(ctx->msg, sizeof ctx->msg, "more than %d progressive scans",
             JPEG_MAX_SCANS);
    longjmp(ctx->jump, 1);
  }
}

/* CMYK row to RGB. Adobe files store inverted CMYK (255 = no ink), the
 * usual Photoshop convention; plain files store ink amounts. */
static void cmyk_to_rgb(const uint8_t *src, uint8_t *dst, int width,
                        int inverted) {
  for (int x = 0; x < width; x++, src += 4, dst += 3) {
    unsigned c = src[0], m = src[1], y = src[2], k = src[3];
    if (!inverted) {
      c = 255 - c;
      m = 255 - m;
      y = 255 - y;
      k = 255 - k;
    }
    /* now 255 = no ink: R = (1 - C)(1 - K) */
    dst[0] = (uint8_t)((c * k + 127) / 255);
    dst[1] = (uint8_t)((m * k + 127) / 255);
    dst[2] = (uint8_t)((y * k + 127) / 255);
  }
}

/* Decodes a JPEG to 8-bit RGB. */
dinet_image *dinet__load_jpeg(const dinet__input *in, dinet_error *err) {
  struct jpeg_decompress_struct cinfo;
  jpeg_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  cinfo.err = jpeg_std_error(&ctx.pub);
  ctx.pub.error_exit = jpeg_fail;
  ctx.pub.emit_message = jpeg_emit;
  ctx.pub.output_message = jpeg_output;
  dinet_image *volatile img = NULL;
  uint8_t *volatile row = NULL;
  volatile int status = 0; /* set before a non-libjpeg failure */
  volatile int created = 0;

  if (setjmp(ctx.jump)) {
    if (!status)
      dinet_error_set(err, DINET_ERR_FORMAT, "%s: bad JPEG: %s", in->name,
                      ctx.msg[0] ? ctx.msg : "decoder error");
    if (created)
      jpeg_destroy_decompress(&cinfo);
    free(row);
    dinet_image_free(img);
    return NULL;
  }
  jpeg_create_decompress(&cinfo);
  created = 1;
  ctx.progress.progress_monitor = jpeg_progress;
  cinfo.progress = &ctx.progress;
  /* Bound libjpeg's big buffers (progressive coefficients) by the limit. */
  uint64_t mem = in->max_pixels * 16 + ((uint64_t)64 << 20);
  cinfo.mem->max_memory_to_use = mem > LONG_MAX ? LONG_MAX : (long)mem;
  if (in->len > ULONG_MAX) {
    status =
        dinet_error_set(err, DINET_ERR_LIMIT, "%s: file too large", in->name);
    longjmp(ctx.jump, 1);
  }
  jpeg_mem_src(&cinfo, in->data, (unsigned long)in->len);
  jpeg_read_header(&cinfo, TRUE);

  int rc = dinet__check_size(in, cinfo.image_width, cinfo.image_height, err);
  if (rc) {
    status = rc;
    longjmp(ctx.jump, 1);
  }
  int cmyk = 0;
  switch (cinfo.jpeg_color_space) {
  case JCS_GRAYSCALE:
  case JCS_YCbCr:
  case JCS_RGB:
    cinfo.out_color_space = JCS_RGB; /* libjpeg-turbo replicates gray */
    break;
  case JCS_CMYK:
  case JCS_YCCK:
    cinfo.out_color_space = JCS_CMYK;
    cmyk = 1;
    break;
  default:
    status = dinet_error_set(err, DINET_ERR_FORMAT,
                             "%s: unsupported JPEG colour space (%d "
                             "components)",
                             in->name, cinfo.num_components);
    longjmp(ctx.jump, 1);
  }
  jpeg_start_decompress(&cinfo);
  int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
  if (cinfo.output_components != (cmyk ? 4 : 3) ||
      (uint64_t)cinfo.output_width != cinfo.image_width) {
    status = dinet_error_set(err, DINET_ERR_FORMAT,
                             "%s: unexpected JPEG output layout", in->name);
    longjmp(ctx.jump, 1);
  }
  img = dinet_image_new(w, h, err);
  if (cmyk && img)
    row = malloc((size_t)w * 4);
  if (!img || (cmyk && !row)) {
    status = dinet_error_set(err, DINET_ERR_NOMEM,
                             "%s: out of memory for a %d x %d image", in->name,
                             w, h);
    longjmp(ctx.jump, 1);
  }
  int inverted = cinfo.saw_Adobe_marker;
  while (cinfo.output_scanline < cinfo.output_height) {
    int y = (int)cinfo.output_scanline;
    uint8_t *dst = img->rgb + (size_t)y * w * 3;
    JSAMPROW rp = cmyk ? row : dst;
    if (jpeg_read_scanlines(&cinfo, &rp, 1) != 1) {
      snprintf(ctx.msg, sizeof ctx.msg, "no scanline returned");
      longjmp(ctx.jump, 1);
    }
    if (cmyk)
      cmyk_to_rgb(row, dst, w, inverted);
  }
  /* No jpeg_finish_decompress(): every scanline is in, and a file missing
   * only its EOI marker is still a complete image. */
  jpeg_destroy_decompress(&cinfo);
  free(row);
  return img;
}
