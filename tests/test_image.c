/* test_image.c — image loaders, resize and preprocessing.
 *
 * Every input is generated here (libpng/libtiff/libjpeg writers, BMP by
 * hand) with known pixels; lossless formats must decode exactly, JPEG
 * closely. Broken inputs (empty, truncated, random, huge or zero-sized
 * headers, missing files) must fail with a message naming the file.
 * Resize is checked against a naive double-precision reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dinet/dinet.h"
#include "image_writers.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* ---- helpers ---- */

/* tmpdir/name in a static buffer. */
static const char *tmp_path(const char *name) {
  static char buf[1024];
  snprintf(buf, sizeof buf, "%s/%s", tu_tmpdir(), name);
  return buf;
}

/* Writes m to tmpdir/name and loads it from the file. */
static dinet_image *load_via_file(const char *name, const membuf *m,
                                  const dinet_load_options *opt,
                                  dinet_error *err) {
  const char *p = tmp_path(name);
  if (tu_write_file(p, m->p, m->n) != 0) {
    fprintf(stderr, "cannot write %s\n", p);
    return NULL;
  }
  return dinet_image_load(p, opt, err);
}

/* Reference 16 -> 8 bit scaling, in double. */
static unsigned ref_s16(unsigned v) {
  return (unsigned)floor(v * 255.0 / 65535.0 + 0.5);
}

/* Reference alpha over white, in double. */
static unsigned ref_over(unsigned v, unsigned a) {
  double al = a / 255.0;
  return (unsigned)floor(al * v + (1.0 - al) * 255.0 + 0.5);
}

/* Max abs difference between an image and expected RGB (w x h); 999 when
 * the image is missing or has the wrong size. *mean gets the mean. */
static int img_diff(const dinet_image *img, const uint8_t *exp, int w, int h,
                    double *mean) {
  if (mean)
    *mean = 999;
  if (!img || img->width != w || img->height != h)
    return 999;
  int mx = 0;
  double sum = 0;
  size_t n = (size_t)w * h * 3;
  for (size_t i = 0; i < n; i++) {
    int d = abs((int)img->rgb[i] - (int)exp[i]);
    sum += d;
    if (d > mx)
      mx = d;
  }
  if (mean)
    *mean = sum / (double)n;
  return mx;
}

/* ---- PNG ---- */

/* One PNG variant: encode known samples, load, compare exactly. */
static void png_case(const char *label, int ctype, int depth, int interlace,
                     int with_trns, int trans_gray) {
  const int w = 13, h = 7;
  int ch = ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_PALETTE ? 1
           : ctype == PNG_COLOR_TYPE_GRAY_ALPHA                            ? 2
           : ctype == PNG_COLOR_TYPE_RGB                                   ? 3
                                                                           : 4;
  int has_alpha = ch == 2 || ch == 4;
  unsigned maxv = (1u << depth) - 1;
  int pal_ct = ctype == PNG_COLOR_TYPE_PALETTE;
  int npal = pal_ct ? ((1 << depth) < 200 ? (1 << depth) : 200) : 0;
  png_color pal[256];
  uint8_t trns[256];
  int ntrns = with_trns ? npal / 2 + 1 : 0;
  for (int i = 0; i < npal; i++) {
    uint32_t hv = tw_hash((uint32_t)i, 77, 5);
    pal[i].red = (uint8_t)hv;
    pal[i].green = (uint8_t)(hv >> 8);
    pal[i].blue = (uint8_t)(hv >> 16);
    trns[i] = i == 0 ? 0 : i == 1 ? 255 : (uint8_t)(hv >> 24);
  }
  size_t rb = ((size_t)w * ch * depth + 7) / 8;
  uint8_t *rows = calloc((size_t)h, rb);
  uint8_t *exp = malloc((size_t)w * h * 3);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      unsigned s[4];
      for (int c = 0; c < ch; c++) {
        uint32_t hv = tw_hash((uint32_t)x, (uint32_t)y, (uint32_t)c);
        s[c] = pal_ct ? hv % (uint32_t)npal : hv & maxv;
      }
      if (has_alpha) /* both extremes occur */
        s[ch - 1] = x == 0 ? 0 : x == 1 ? maxv : s[ch - 1];
      if (trans_gray >= 0 && x == 2)
        s[0] = (unsigned)trans_gray;
      for (int c = 0; c < ch; c++) {
        size_t k = (size_t)x * ch + c;
        uint8_t *r = rows + (size_t)y * rb;
        if (depth == 16) {
          r[2 * k] = (uint8_t)(s[c] >> 8);
          r[2 * k + 1] = (uint8_t)s[c];
        } else if (depth == 8) {
          r[k] = (uint8_t)s[c];
        } else {
          r[k * depth / 8] |=
              (uint8_t)(s[c] << (8 - depth - (int)(k * depth % 8)));
        }
      }
      /* expected */
      unsigned rgb[3], a = 255;
#define CONV(v) (depth == 16 ? ref_s16(v) : depth < 8 ? (v)*255u / maxv : (v))
      if (pal_ct) {
        rgb[0] = pal[s[0]].red;
        rgb[1] = pal[s[0]].green;
        rgb[2] = pal[s[0]].blue;
        if ((int)s[0] < ntrns)
          a = trns[s[0]];
      } else if (ch <= 2) {
        rgb[0] = rgb[1] = rgb[2] = CONV(s[0]);
        if (ch == 2)
          a = CONV(s[1]);
        else if (trans_gray >= 0 && s[0] == (unsigned)trans_gray)
          a = 0;
      } else {
        for (int c = 0; c < 3; c++)
          rgb[c] = CONV(s[c]);
        if (ch == 4)
          a = CONV(s[3]);
      }
#undef CONV
      for (int c = 0; c < 3; c++)
        exp[((size_t)y * w + x) * 3 + c] = (uint8_t)ref_over(rgb[c], a);
    }
  membuf m = {0};
  int rc = tw_png(&m, w, h, ctype, depth, interlace, rows, pal_ct ? pal : NULL,
                  npal, ntrns ? trns : NULL, ntrns, trans_gray);
  CHECK(rc == 0, "%s: encode", label);
  char name[64];
  snprintf(name, sizeof name, "%s.png", label);
  dinet_error err;
  dinet_image *img = load_via_file(name, &m, NULL, &err);
  CHECK(img != NULL, "%s: %s", label, err.message);
  int d = img_diff(img, exp, w, h, NULL);
  CHECK(d == 0, "%s: max pixel difference %d", label, d);
  dinet_image_free(img);
  mb_free(&m);
  free(rows);
  free(exp);
}

/* All PNG colour types and depths the issue lists, and a few more. */
static void test_png(void) {
  png_case("png_gray8", PNG_COLOR_TYPE_GRAY, 8, 0, 0, -1);
  png_case("png_gray16", PNG_COLOR_TYPE_GRAY, 16, 0, 0, -1);
  png_case("png_gray1", PNG_COLOR_TYPE_GRAY, 1, 0, 0, -1);
  png_case("png_gray4", PNG_COLOR_TYPE_GRAY, 4, 0, 0, -1);
  png_case("png_gray8_trns", PNG_COLOR_TYPE_GRAY, 8, 0, 0, 77);
  png_case("png_ga8", PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, 0, -1);
  png_case("png_ga16", PNG_COLOR_TYPE_GRAY_ALPHA, 16, 0, 0, -1);
  png_case("png_pal8", PNG_COLOR_TYPE_PALETTE, 8, 0, 0, -1);
  png_case("png_pal8_trns", PNG_COLOR_TYPE_PALETTE, 8, 0, 1, -1);
  png_case("png_pal4_trns", PNG_COLOR_TYPE_PALETTE, 4, 0, 1, -1);
  png_case("png_pal1", PNG_COLOR_TYPE_PALETTE, 1, 0, 0, -1);
  png_case("png_rgb8", PNG_COLOR_TYPE_RGB, 8, 0, 0, -1);
  png_case("png_rgb16", PNG_COLOR_TYPE_RGB, 16, 0, 0, -1);
  png_case("png_rgba8", PNG_COLOR_TYPE_RGBA, 8, 0, 0, -1);
  png_case("png_rgba16", PNG_COLOR_TYPE_RGBA, 16, 0, 0, -1);
  png_case("png_rgb8_interlaced", PNG_COLOR_TYPE_RGB, 8, 1, 0, -1);
  png_case("png_rgba16_interlaced", PNG_COLOR_TYPE_RGBA, 16, 1, 0, -1);

  /* every 16-bit value: the decoder's rounding is round(v * 255 / 65535) */
  const int w = 256, h = 256;
  uint8_t *rows = malloc((size_t)w * h * 2);
  uint8_t *exp = malloc((size_t)w * h * 3);
  for (int i = 0; i < w * h; i++) {
    rows[2 * i] = (uint8_t)(i >> 8);
    rows[2 * i + 1] = (uint8_t)i;
    exp[3 * i] = exp[3 * i + 1] = exp[3 * i + 2] =
        (uint8_t)ref_s16((unsigned)i);
  }
  membuf m = {0};
  tw_png(&m, w, h, PNG_COLOR_TYPE_GRAY, 16, 0, rows, NULL, 0, NULL, 0, -1);
  dinet_error err;
  dinet_image *img = dinet_image_load_memory(m.p, m.n, "all16.png", NULL, &err);
  CHECK(img_diff(img, exp, w, h, NULL) == 0, "all 16-bit values scale");
  dinet_image_free(img);
  mb_free(&m);
  free(rows);
  free(exp);
}

/* ---- TIFF ---- */

/* One TIFF variant: p without samples/cmap; they are generated here.
 * tol: allowed max difference (JPEG), mean_tol for JPEG's mean. */
static void tiff_case(const char *label, tw_tiff_page p, const char *mode,
                      int tol, double mean_tol) {
  int w = p.w, h = p.h, spp = p.spp, bps = p.bps;
  unsigned maxv = bps == 16 ? 65535u : (1u << bps) - 1;
  int jpeg = p.compression == COMPRESSION_JPEG;
  int base =
      p.photometric == PHOTOMETRIC_RGB || p.photometric == PHOTOMETRIC_YCBCR ? 3
      : p.photometric == PHOTOMETRIC_SEPARATED                               ? 4
                                               : 1;
  uint16_t *s = malloc(sizeof(uint16_t) * (size_t)w * h * spp);
  uint16_t *cm[3] = {NULL, NULL, NULL};
  size_t ncm = (size_t)1 << bps;
  if (p.photometric == PHOTOMETRIC_PALETTE)
    for (int c = 0; c < 3; c++) {
      cm[c] = malloc(sizeof(uint16_t) * ncm);
      for (size_t i = 0; i < ncm; i++)
        cm[c][i] = (uint16_t)tw_hash((uint32_t)i, 3, (uint32_t)c);
      p.cmap[c] = cm[c];
    }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint16_t *px = s + ((size_t)y * w + x) * spp;
      for (int c = 0; c < spp; c++) {
        unsigned v;
        if (jpeg) /* smooth, so JPEG error stays small */
          v = (unsigned)(x * 140 / (w - 1) + y * 50 / (h - 1) + c * 30);
        else
          v = tw_hash((uint32_t)x, (uint32_t)y, (uint32_t)c) & maxv;
        px[c] = (uint16_t)v;
      }
      if (p.extra) {
        unsigned a = x == 0 ? 0 : x == 1 ? maxv : px[base];
        px[base] = (uint16_t)a;
        if (p.extra == EXTRASAMPLE_ASSOCALPHA) /* premultiplied: v <= a */
          for (int c = 0; c < base; c++)
            px[c] = (uint16_t)(px[c] % (a + 1));
      }
    }
  p.samples = s;
  uint8_t *exp = malloc((size_t)w * h * 3);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int fy = p.orientation == ORIENTATION_BOTLEFT ? h - 1 - y : y;
      const uint16_t *px = s + ((size_t)fy * w + x) * spp;
#define CONV(v) (bps == 16 ? ref_s16(v) : bps < 8 ? (v)*255u / maxv : (v))
      unsigned rgb[3];
      switch (p.photometric) {
      case PHOTOMETRIC_PALETTE:
        for (int c = 0; c < 3; c++)
          rgb[c] = ref_s16(cm[c][px[0]]);
        break;
      case PHOTOMETRIC_MINISWHITE:
        rgb[0] = rgb[1] = rgb[2] = 255 - CONV(px[0]);
        break;
      case PHOTOMETRIC_MINISBLACK:
        rgb[0] = rgb[1] = rgb[2] = CONV(px[0]);
        break;
      case PHOTOMETRIC_SEPARATED:
        for (int c = 0; c < 3; c++)
          rgb[c] = (unsigned)floor((255 - px[c]) * (255 - px[3]) / 255.0 + 0.5);
        break;
      default:
        for (int c = 0; c < 3; c++)
          rgb[c] = CONV(px[c]);
      }
      if (p.extra == EXTRASAMPLE_UNASSALPHA) {
        for (int c = 0; c < 3; c++)
          rgb[c] = ref_over(rgb[c], CONV(px[base]));
      } else if (p.extra == EXTRASAMPLE_ASSOCALPHA) {
        unsigned a = CONV(px[base]);
        for (int c = 0; c < 3; c++)
          rgb[c] = rgb[c] + 255 - a > 255 ? 255 : rgb[c] + 255 - a;
      }
#undef CONV
      for (int c = 0; c < 3; c++)
        exp[((size_t)y * w + x) * 3 + c] = (uint8_t)rgb[c];
    }
  char name[64];
  snprintf(name, sizeof name, "%s.tif", label);
  membuf m = {0};
  int rc = tw_tiff(&m, tmp_path(name), mode, &p, 1);
  CHECK(rc == 0, "%s: encode", label);
  dinet_error err;
  dinet_image *img = dinet_image_load(tmp_path(name), NULL, &err);
  CHECK(img != NULL, "%s: %s", label, err.message);
  double mean;
  int d = img_diff(img, exp, w, h, &mean);
  CHECK(d <= tol && mean <= mean_tol, "%s: max diff %d (<= %d), mean %.3f",
        label, d, tol, mean);
  dinet_image_free(img);
  mb_free(&m);
  free(s);
  free(exp);
  for (int c = 0; c < 3; c++)
    free(cm[c]);
}

/* A page description with the common fields filled. */
static tw_tiff_page tpage(int w, int h, int spp, int bps, int photometric,
                          int compression, int tiled) {
  tw_tiff_page p;
  memset(&p, 0, sizeof p);
  p.w = w;
  p.h = h;
  p.spp = spp;
  p.bps = bps;
  p.photometric = photometric;
  p.compression = compression;
  p.tiled = tiled;
  p.planar = PLANARCONFIG_CONTIG;
  return p;
}

/* TIFF layouts: strips and tiles, 8/16-bit, gray/RGB/palette, LZW, Deflate,
 * JPEG, alpha, and the generic TIFFRGBAImage path; then multi-page. */
static void test_tiff(void) {
  const int W = 37, H = 23; /* odd: partial strips and edge tiles */
  tiff_case("tif_gray8",
            tpage(W, H, 1, 8, PHOTOMETRIC_MINISBLACK, COMPRESSION_NONE, 0), "w",
            0, 0);
  tiff_case("tif_gray16_lzw_tiles",
            tpage(W, H, 1, 16, PHOTOMETRIC_MINISBLACK, COMPRESSION_LZW, 1), "w",
            0, 0);
  tiff_case(
      "tif_gray16_be",
      tpage(W, H, 1, 16, PHOTOMETRIC_MINISBLACK, COMPRESSION_ADOBE_DEFLATE, 0),
      "wb", 0, 0);
  tiff_case("tif_miniswhite8",
            tpage(W, H, 1, 8, PHOTOMETRIC_MINISWHITE, COMPRESSION_NONE, 0), "w",
            0, 0);
  tiff_case("tif_rgb8", tpage(W, H, 3, 8, PHOTOMETRIC_RGB, COMPRESSION_NONE, 0),
            "w", 0, 0);
  tiff_case("tif_rgb8_deflate",
            tpage(W, H, 3, 8, PHOTOMETRIC_RGB, COMPRESSION_ADOBE_DEFLATE, 0),
            "w", 0, 0);
  tiff_case("tif_rgb8_lzw_tiles",
            tpage(W, H, 3, 8, PHOTOMETRIC_RGB, COMPRESSION_LZW, 1), "w", 0, 0);
  tiff_case("tif_rgb16",
            tpage(W, H, 3, 16, PHOTOMETRIC_RGB, COMPRESSION_NONE, 0), "w", 0,
            0);
  tiff_case("tif_rgb16_deflate_tiles",
            tpage(W, H, 3, 16, PHOTOMETRIC_RGB, COMPRESSION_ADOBE_DEFLATE, 1),
            "w", 0, 0);
  tiff_case("tif_rgb16_be_lzw",
            tpage(W, H, 3, 16, PHOTOMETRIC_RGB, COMPRESSION_LZW, 0), "wb", 0,
            0);
  tiff_case("tif_pal8",
            tpage(W, H, 1, 8, PHOTOMETRIC_PALETTE, COMPRESSION_NONE, 0), "w", 0,
            0);
  tiff_case("tif_pal8_lzw_tiles",
            tpage(W, H, 1, 8, PHOTOMETRIC_PALETTE, COMPRESSION_LZW, 1), "w", 0,
            0);
  tiff_case("tif_pal4",
            tpage(W, H, 1, 4, PHOTOMETRIC_PALETTE, COMPRESSION_NONE, 0), "w", 0,
            0);
  tiff_case("tif_gray4",
            tpage(W, H, 1, 4, PHOTOMETRIC_MINISBLACK, COMPRESSION_NONE, 0), "w",
            0, 0);
  tiff_case("tif_gray2_lzw_tiles",
            tpage(W, H, 1, 2, PHOTOMETRIC_MINISBLACK, COMPRESSION_LZW, 1), "w",
            0, 0);
  tiff_case("tif_bilevel",
            tpage(W, H, 1, 1, PHOTOMETRIC_MINISWHITE, COMPRESSION_CCITTFAX4, 0),
            "w", 0, 0);
  tiff_case("tif_pal1",
            tpage(W, H, 1, 1, PHOTOMETRIC_PALETTE, COMPRESSION_PACKBITS, 0),
            "w", 0, 0);
  tw_tiff_page p = tpage(W, H, 4, 8, PHOTOMETRIC_RGB, COMPRESSION_LZW, 0);
  p.extra = EXTRASAMPLE_UNASSALPHA;
  tiff_case("tif_rgba8_unassoc", p, "w", 0, 0);
  p.extra = EXTRASAMPLE_ASSOCALPHA;
  tiff_case("tif_rgba8_assoc", p, "w", 0, 0);
  p = tpage(W, H, 4, 16, PHOTOMETRIC_RGB, COMPRESSION_NONE, 1);
  p.extra = EXTRASAMPLE_UNASSALPHA;
  tiff_case("tif_rgba16_unassoc_tiles", p, "w", 0, 0);
  p = tpage(W, H, 2, 8, PHOTOMETRIC_MINISBLACK, COMPRESSION_NONE, 0);
  p.extra = EXTRASAMPLE_UNASSALPHA;
  tiff_case("tif_ga8", p, "w", 0, 0);
  /* generic path: separate planes, bottom-up orientation, CMYK */
  p = tpage(W, H, 3, 8, PHOTOMETRIC_RGB, COMPRESSION_LZW, 0);
  p.planar = PLANARCONFIG_SEPARATE;
  tiff_case("tif_rgb8_planar", p, "w", 0, 0);
  p = tpage(W, H, 4, 8, PHOTOMETRIC_RGB, COMPRESSION_NONE, 0);
  p.planar = PLANARCONFIG_SEPARATE;
  p.extra = EXTRASAMPLE_UNASSALPHA;
  tiff_case("tif_rgba8_planar", p, "w", 0, 0);
  p = tpage(W, H, 3, 8, PHOTOMETRIC_RGB, COMPRESSION_NONE, 0);
  p.orientation = ORIENTATION_BOTLEFT;
  tiff_case("tif_rgb8_botleft", p, "w", 0, 0);
  tiff_case("tif_cmyk8",
            tpage(W, H, 4, 8, PHOTOMETRIC_SEPARATED, COMPRESSION_NONE, 0), "w",
            1, 1);
  /* JPEG in TIFF: YCbCr (subsampled, libjpeg converts), RGB, gray */
  p = tpage(W, H, 3, 8, PHOTOMETRIC_YCBCR, COMPRESSION_JPEG, 0);
  p.rows_per_strip = 16;
  tiff_case("tif_jpeg_ycbcr", p, "w", 16, 3);
  p = tpage(48, 32, 3, 8, PHOTOMETRIC_YCBCR, COMPRESSION_JPEG, 1);
  tiff_case("tif_jpeg_ycbcr_tiles", p, "w", 16, 3);
  p = tpage(W, H, 3, 8, PHOTOMETRIC_RGB, COMPRESSION_JPEG, 0);
  p.rows_per_strip = 8;
  tiff_case("tif_jpeg_rgb", p, "w", 12, 2);
  p = tpage(W, H, 1, 8, PHOTOMETRIC_MINISBLACK, COMPRESSION_JPEG, 0);
  p.rows_per_strip = 8;
  tiff_case("tif_jpeg_gray", p, "w", 12, 2);

  /* multi-page: page 0 RGB 20x10, page 1 gray 11x9; opt->page picks */
  uint16_t s0[20 * 10 * 3], s1[11 * 9];
  for (int i = 0; i < 20 * 10 * 3; i++)
    s0[i] = (uint16_t)(tw_hash((uint32_t)i, 1, 0) & 255);
  for (int i = 0; i < 11 * 9; i++)
    s1[i] = (uint16_t)(tw_hash((uint32_t)i, 2, 0) & 255);
  tw_tiff_page pages[2] = {
      tpage(20, 10, 3, 8, PHOTOMETRIC_RGB, COMPRESSION_LZW, 0),
      tpage(11, 9, 1, 8, PHOTOMETRIC_MINISBLACK, COMPRESSION_ADOBE_DEFLATE, 1),
  };
  pages[0].samples = s0;
  pages[1].samples = s1;
  membuf m = {0};
  CHECK(tw_tiff(&m, tmp_path("multi.tif"), "w", pages, 2) == 0, "multi");
  dinet_error err;
  dinet_load_options opt = {0, 0};
  dinet_image *a = dinet_image_load(tmp_path("multi.tif"), &opt, &err);
  opt.page = 1;
  dinet_image *b = dinet_image_load(tmp_path("multi.tif"), &opt, &err);
  CHECK(a && a->width == 20 && a->height == 10, "page 0 size");
  CHECK(b && b->width == 11 && b->height == 9, "page 1 size: %s",
        b ? "" : err.message);
  if (a && b) {
    CHECK(memcmp(a->rgb,
                 (uint8_t[]){(uint8_t)s0[0], (uint8_t)s0[1], (uint8_t)s0[2]},
                 3) == 0,
          "page 0 pixel");
    int ok = 1;
    for (int i = 0; i < 11 * 9; i++)
      ok &= b->rgb[3 * i] == s1[i] && b->rgb[3 * i + 2] == s1[i];
    CHECK(ok, "page 1 pixels");
  }
  dinet_image_free(a);
  dinet_image_free(b);
  opt.page = 5;
  a = dinet_image_load(tmp_path("multi.tif"), &opt, &err);
  CHECK(!a && err.code == DINET_ERR_INVALID && strstr(err.message, "page 5") &&
            strstr(err.message, "multi.tif") && strstr(err.message, "2 pages"),
        "missing page: %s", err.message);
  dinet_image_free(a);
  opt.page = -1;
  a = dinet_image_load_memory(m.p, m.n, "multi.tif", &opt, &err);
  CHECK(!a && err.code == DINET_ERR_INVALID, "negative page");
  mb_free(&m);
}

/* ---- JPEG ---- */

/* One JPEG variant: smooth pattern, encode at quality 95, compare closely. */
static void jpeg_case(const char *label, int ncomp, J_COLOR_SPACE in_cs,
                      J_COLOR_SPACE jpeg_cs, int progressive, int adobe) {
  const int w = 45, h = 31;
  uint8_t *pix = malloc((size_t)w * h * ncomp);
  uint8_t *exp = malloc((size_t)w * h * 3);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint8_t *p = pix + ((size_t)y * w + x) * ncomp;
      uint8_t *e = exp + ((size_t)y * w + x) * 3;
      if (ncomp == 4) {
        /* ink amounts; stored inverted when the Adobe marker is present */
        unsigned ink[4] = {(unsigned)(x * 5), (unsigned)(y * 7), 90u,
                           (unsigned)(20 + x + y)};
        for (int c = 0; c < 4; c++)
          p[c] = (uint8_t)(adobe ? 255 - ink[c] : ink[c]);
        for (int c = 0; c < 3; c++)
          e[c] = (uint8_t)floor((255 - ink[c]) * (255 - ink[3]) / 255.0 + 0.5);
      } else {
        for (int c = 0; c < ncomp; c++)
          p[c] = (uint8_t)(20 + x * 3 + y * c + 20 * c); /* <= 252 */
        for (int c = 0; c < 3; c++)
          e[c] = p[ncomp == 1 ? 0 : c];
      }
    }
  membuf m = {0};
  tw_jpeg(&m, w, h, ncomp, in_cs, jpeg_cs, 95, progressive, adobe, pix);
  char name[64];
  snprintf(name, sizeof name, "%s.jpg", label);
  dinet_error err;
  dinet_image *img = load_via_file(name, &m, NULL, &err);
  CHECK(img != NULL, "%s: %s", label, err.message);
  double mean;
  int d = img_diff(img, exp, w, h, &mean);
  CHECK(d <= 10 && mean <= 2.0, "%s: max diff %d, mean %.3f", label, d, mean);
  dinet_image_free(img);
  mb_free(&m);
  free(pix);
  free(exp);
}

/* Gray, RGB (YCbCr and plain RGB), progressive, CMYK/YCCK with and
 * without the Adobe marker. */
static void test_jpeg(void) {
  jpeg_case("jpg_gray", 1, JCS_GRAYSCALE, JCS_GRAYSCALE, 0, 0);
  jpeg_case("jpg_ycbcr", 3, JCS_RGB, JCS_YCbCr, 0, 0);
  jpeg_case("jpg_ycbcr_prog", 3, JCS_RGB, JCS_YCbCr, 1, 0);
  jpeg_case("jpg_rgb", 3, JCS_RGB, JCS_RGB, 0, 0);
  jpeg_case("jpg_cmyk_adobe", 4, JCS_CMYK, JCS_CMYK, 0, 1);
  jpeg_case("jpg_cmyk_plain", 4, JCS_CMYK, JCS_CMYK, 0, 0);
  jpeg_case("jpg_ycck_adobe", 4, JCS_CMYK, JCS_YCCK, 0, 1);
}

/* ---- BMP ---- */

/* Expected 8-bit value after a channel goes through a mask and back. */
static unsigned mask_round_trip(unsigned v, uint32_t mask) {
  if (!mask)
    return 0;
  int sh = 0, bits = 0;
  while (!((mask >> sh) & 1))
    sh++;
  while (sh + bits < 32 && ((mask >> (sh + bits)) & 1))
    bits++;
  double maxv = bits >= 32 ? 4294967295.0 : (double)((1u << bits) - 1);
  uint32_t q = (uint32_t)(((uint64_t)v * (uint64_t)maxv + 127) / 255);
  return (unsigned)floor(q * 255.0 / maxv + 0.5);
}

/* One BMP variant built by hand; exact comparison. */
static void bmp_case(const char *label, int w, int h, int bpp, int top_down,
                     int hdr, const uint32_t *masks, int npal, int zero_alpha) {
  uint8_t *pix = malloc((size_t)w * h * 4);
  uint8_t *exp = malloc((size_t)w * h * 3);
  uint8_t pal[256][3];
  for (int i = 0; i < 256; i++)
    for (int c = 0; c < 3; c++)
      pal[i][c] = (uint8_t)(tw_hash((uint32_t)i, 9, (uint32_t)c));
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint8_t *p = pix + ((size_t)y * w + x) * 4;
      uint8_t *e = exp + ((size_t)y * w + x) * 3;
      for (int c = 0; c < 4; c++)
        p[c] = (uint8_t)tw_hash((uint32_t)x, (uint32_t)y, (uint32_t)c);
      p[3] = zero_alpha ? 0 : x == 0 ? 0 : x == 1 ? 255 : p[3];
      if (bpp <= 8) {
        p[0] = (uint8_t)(p[0] % npal);
        memcpy(e, pal[p[0]], 3);
      } else if (bpp == 24 || (bpp == 32 && !masks)) {
        memcpy(e, p, 3);
      } else {
        const uint32_t def16[4] = {0x7c00, 0x3e0, 0x1f, 0};
        const uint32_t *m = masks ? masks : def16;
        unsigned a = m[3] && !zero_alpha ? mask_round_trip(p[3], m[3]) : 255;
        for (int c = 0; c < 3; c++)
          e[c] = (uint8_t)ref_over(mask_round_trip(p[c], m[c]), a);
      }
    }
  membuf m = {0};
  tw_bmp(&m, w, h, bpp, top_down, hdr, masks, (const uint8_t(*)[3])pal, npal,
         pix);
  char name[64];
  snprintf(name, sizeof name, "%s.bmp", label);
  dinet_error err;
  dinet_image *img = load_via_file(name, &m, NULL, &err);
  CHECK(img != NULL, "%s: %s", label, err.message);
  int d = img_diff(img, exp, w, h, NULL);
  CHECK(d == 0, "%s: max pixel difference %d", label, d);
  dinet_image_free(img);
  mb_free(&m);
  free(pix);
  free(exp);
}

/* 24/32-bit bottom-up and top-down with odd widths (row padding),
 * bit fields, alpha, 16-bit, palettes, OS/2 header. */
static void test_bmp(void) {
  static const uint32_t std32[4] = {0xff0000, 0xff00, 0xff, 0};
  static const uint32_t argb32[4] = {0xff0000, 0xff00, 0xff, 0xff000000};
  static const uint32_t rgb565[4] = {0xf800, 0x7e0, 0x1f, 0};
  static const uint32_t odd32[4] = {0x3ff00000, 0xffc00, 0x3ff, 0xc0000000};
  for (int w = 1; w <= 7; w += 2) {
    char l[64];
    snprintf(l, sizeof l, "bmp24_bu_w%d", w);
    bmp_case(l, w, 5, 24, 0, 40, NULL, 0, 0);
    snprintf(l, sizeof l, "bmp24_td_w%d", w);
    bmp_case(l, w, 5, 24, 1, 40, NULL, 0, 0);
    snprintf(l, sizeof l, "bmp32_bu_w%d", w);
    bmp_case(l, w, 4, 32, 0, 40, NULL, 0, 0);
    snprintf(l, sizeof l, "bmp32_td_w%d", w);
    bmp_case(l, w, 4, 32, 1, 40, NULL, 0, 0);
    snprintf(l, sizeof l, "bmp8_w%d", w);
    bmp_case(l, w, 3, 8, 0, 40, NULL, 256, 0);
  }
  bmp_case("bmp32_bitfields", 13, 6, 32, 0, 40, std32, 0, 0);
  bmp_case("bmp32_alphabitfields", 13, 6, 32, 1, 40, argb32, 0, 0);
  bmp_case("bmp32_v5_alpha", 13, 6, 32, 0, 124, argb32, 0, 0);
  bmp_case("bmp32_v4_zero_alpha", 13, 6, 32, 0, 108, argb32, 0, 1);
  bmp_case("bmp32_10bit", 9, 6, 32, 0, 124, odd32, 0, 0);
  bmp_case("bmp16_565", 9, 5, 16, 0, 40, rgb565, 0, 0);
  bmp_case("bmp16_555", 9, 5, 16, 1, 40, NULL, 0, 0);
  bmp_case("bmp8_small_palette", 11, 4, 8, 0, 40, NULL, 20, 0);
  bmp_case("bmp4", 11, 4, 4, 0, 40, NULL, 16, 0);
  bmp_case("bmp1", 19, 4, 1, 1, 40, NULL, 2, 0);
  bmp_case("bmp24_os2", 7, 3, 24, 0, 12, NULL, 0, 0);
  bmp_case("bmp8_os2", 7, 3, 8, 0, 12, NULL, 256, 0);
}

/* ---- broken inputs ---- */

/* Loading must fail with a message containing name (and code if != 0). */
static void expect_fail_mem(const char *what, const void *d, size_t n,
                            const char *name, int code) {
  dinet_error err;
  memset(&err, 0, sizeof err);
  dinet_image *img = dinet_image_load_memory(d, n, name, NULL, &err);
  CHECK(img == NULL, "%s: loaded a broken input", what);
  CHECK(err.message[0] && strstr(err.message, name), "%s: message '%s'", what,
        err.message);
  CHECK(err.code != 0, "%s: no error code", what);
  if (code)
    CHECK(err.code == code, "%s: code %d (%s), want %d: %s", what, err.code,
          dinet_status_name(err.code), code, err.message);
  dinet_image_free(img);
}

/* Valid sample files of each format, for truncation and patching. */
typedef struct sample_file {
  const char *name; /* e.g. "s.png" */
  membuf m;
} sample_file;

/* Builds one valid file of each kind (40 x 30, noisy so data is large). */
static int make_samples(sample_file *sf) {
  const int w = 40, h = 30;
  uint8_t *rgb = malloc((size_t)w * h * 4);
  for (int i = 0; i < w * h * 4; i++)
    rgb[i] = (uint8_t)tw_hash((uint32_t)i, 0, 42);
  int n = 0;
  sf[n].name = "s.png";
  tw_png(&sf[n++].m, w, h, PNG_COLOR_TYPE_RGB, 8, 0, rgb, NULL, 0, NULL, 0, -1);
  sf[n].name = "s_interlaced.png";
  tw_png(&sf[n++].m, w, h, PNG_COLOR_TYPE_RGBA, 8, 1, rgb, NULL, 0, NULL, 0,
         -1);
  uint16_t *s = malloc(sizeof(uint16_t) * (size_t)w * h * 3);
  for (int i = 0; i < w * h * 3; i++)
    s[i] = rgb[i];
  tw_tiff_page p = tpage(w, h, 3, 8, PHOTOMETRIC_RGB, COMPRESSION_LZW, 0);
  p.samples = s;
  sf[n].name = "s_strips.tif";
  tw_tiff(&sf[n++].m, tmp_path("s_strips.tif"), "w", &p, 1);
  p.tiled = 1;
  p.compression = COMPRESSION_ADOBE_DEFLATE;
  sf[n].name = "s_tiles.tif";
  tw_tiff(&sf[n++].m, tmp_path("s_tiles.tif"), "w", &p, 1);
  p = tpage(w, h, 3, 8, PHOTOMETRIC_RGB, COMPRESSION_NONE, 0);
  p.rows_per_strip = (int)0x7fffffff; /* a single strip */
  p.samples = s;
  sf[n].name = "s_single.tif";
  tw_tiff(&sf[n++].m, tmp_path("s_single.tif"), "w", &p, 1);
  sf[n].name = "s.jpg";
  tw_jpeg(&sf[n++].m, w, h, 3, JCS_RGB, JCS_YCbCr, 90, 0, 0, rgb);
  sf[n].name = "s_prog.jpg";
  tw_jpeg(&sf[n++].m, w, h, 3, JCS_RGB, JCS_YCbCr, 90, 1, 0, rgb);
  sf[n].name = "s.bmp";
  tw_bmp(&sf[n++].m, w - 1, h, 24, 0, 40, NULL, NULL, 0, rgb);
  free(s);
  free(rgb);
  return n;
}

/* Empty, truncated, random, missing and directory inputs. */
static void test_broken(sample_file *sf, int nsf) {
  dinet_error err;
  /* every sample loads intact */
  for (int i = 0; i < nsf; i++) {
    dinet_image *img =
        dinet_image_load_memory(sf[i].m.p, sf[i].m.n, sf[i].name, NULL, &err);
    CHECK(img != NULL, "sample %s: %s", sf[i].name, img ? "" : err.message);
    dinet_image_free(img);
  }
  /* empty file, in memory and on disk */
  expect_fail_mem("empty", "", 0, "empty.png", DINET_ERR_FORMAT);
  tu_write_file(tmp_path("empty.png"), "", 0);
  dinet_image *img = dinet_image_load(tmp_path("empty.png"), NULL, &err);
  CHECK(!img && strstr(err.message, "empty.png") &&
            strstr(err.message, "empty"),
        "empty file: %s", err.message);
  /* missing file, directory, NULL path */
  img = dinet_image_load(tmp_path("no-such-file.png"), NULL, &err);
  CHECK(!img && err.code == DINET_ERR_IO &&
            strstr(err.message, "no-such-file.png"),
        "missing file: %s", err.message);
  img = dinet_image_load(tu_tmpdir(), NULL, &err);
  CHECK(!img && err.code == DINET_ERR_IO && strstr(err.message, "directory"),
        "directory: %s", err.message);
  img = dinet_image_load(NULL, NULL, &err);
  CHECK(!img && err.code == DINET_ERR_INVALID, "NULL path");
  /* an unknown format, named in the message */
  tu_write_file(tmp_path("cell.png"), "hello, not an image", 19);
  img = dinet_image_load(tmp_path("cell.png"), NULL, &err);
  CHECK(!img && strstr(err.message, "cell.png: not a PNG, TIFF, JPEG or BMP "
                                    "file"),
        "unknown format: %s", err.message);
  expect_fail_mem("gif", "GIF89a\1\0\1\0", 10, "x.gif", DINET_ERR_FORMAT);

  /* truncations of each sample at several points */
  for (int i = 0; i < nsf; i++) {
    size_t n = sf[i].m.n;
    size_t cuts[] = {1,  2,  3,  4,     7,     8,         12,     16,    25,
                     33, 50, 60, n / 4, n / 2, 3 * n / 4, n - 40, n - 16};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
      if (cuts[c] == 0 || cuts[c] >= n)
        continue;
      char what[96];
      snprintf(what, sizeof what, "%s cut at %zu of %zu", sf[i].name, cuts[c],
               n);
      /* a copy of exactly the cut length, so ASan sees any over-read */
      uint8_t *d = malloc(cuts[c]);
      memcpy(d, sf[i].m.p, cuts[c]);
      expect_fail_mem(what, d, cuts[c], sf[i].name, 0);
      free(d);
    }
  }

  /* random bytes, with and without each format's magic */
  dinet_rng rng;
  dinet_rng_seed(&rng, 12345);
  static const char *magic[] = {"",      "\x89PNG\r\n\x1a\n", "II*\0",
                                "MM\0*", "\xff\xd8\xff",      "BM"};
  static const size_t mlen[] = {0, 8, 4, 4, 3, 2};
  for (int t = 0; t < 300; t++) {
    size_t n = 1 + dinet_rng_below(&rng, 3000);
    int k = t % 6;
    if (n < mlen[k])
      n = mlen[k];
    uint8_t *d = malloc(n);
    for (size_t i = 0; i < n; i++)
      d[i] = (uint8_t)dinet_rng_next(&rng);
    memcpy(d, magic[k], mlen[k]);
    char what[64];
    snprintf(what, sizeof what, "random #%d (%zu bytes)", t, n);
    expect_fail_mem(what, d, n, "random.bin", 0);
    free(d);
  }
}

/* Patched headers: 60000 x 60000 (over the default limit) and zero sizes. */
static void patch_size(const sample_file *s, uint8_t *d, size_t n, uint32_t w,
                       uint32_t h) {
  const char *ext = strrchr(s->name, '.');
  if (!strcmp(ext, ".png")) {
    tw_png_patch_size(d, n, w, h);
  } else if (!strcmp(ext, ".tif")) {
    tw_tiff_patch_tag(d, n, TIFFTAG_IMAGEWIDTH, w);
    tw_tiff_patch_tag(d, n, TIFFTAG_IMAGELENGTH, h);
  } else if (!strcmp(ext, ".jpg")) {
    tw_jpeg_patch_size(d, n, w, h);
  } else {
    tw_put_le32(d + 18, w);
    tw_put_le32(d + 22, h);
  }
}

/* Loads each patched file; returns the number that failed with the limit
 * error (used in the memory-capped child too). */
static int huge_headers(const sample_file *sf, int nsf, int report) {
  int good = 0;
  for (int i = 0; i < nsf; i++) {
    uint8_t *d = malloc(sf[i].m.n);
    memcpy(d, sf[i].m.p, sf[i].m.n);
    patch_size(&sf[i], d, sf[i].m.n, 60000, 60000);
    dinet_error err;
    memset(&err, 0, sizeof err);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    dinet_image *img =
        dinet_image_load_memory(d, sf[i].m.n, sf[i].name, NULL, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    int ok = !img && err.code == DINET_ERR_LIMIT &&
             strstr(err.message, sf[i].name) &&
             strstr(err.message,
                    "image is 60000 x 60000 = 3600 megapixels, over the 268 "
                    "megapixel limit") &&
             ms < 200;
    good += ok;
    if (report)
      CHECK(ok, "%s 60000x60000: %s (%.1f ms)", sf[i].name, err.message, ms);
    dinet_image_free(img);
    free(d);
  }
  return good;
}

/* Huge and zero-sized headers for every format; the huge ones must fail
 * before allocating anything large (checked in a child process with a
 * capped address space, where the sanitizers allow it). */
static void test_headers(const sample_file *sf, int nsf) {
  CHECK(huge_headers(sf, nsf, 1) == nsf, "huge headers");
  if (!UNDER_ASAN) {
    pid_t pid = fork();
    if (pid == 0) {
      struct rlimit rl = {512u << 20, 512u << 20};
      setrlimit(RLIMIT_AS, &rl);
      _exit(huge_headers(sf, nsf, 0) == nsf ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "huge headers under a 512 MiB address-space cap");
  }
  for (int i = 0; i < nsf; i++)
    for (int z = 0; z < 2; z++) {
      uint8_t *d = malloc(sf[i].m.n);
      memcpy(d, sf[i].m.p, sf[i].m.n);
      patch_size(&sf[i], d, sf[i].m.n, z ? 40 : 0, z ? 0 : 30);
      char what[64];
      snprintf(what, sizeof what, "%s zero %s", sf[i].name,
               z ? "height" : "width");
      expect_fail_mem(what, d, sf[i].m.n, sf[i].name, 0);
      free(d);
    }
  /* a caller-chosen small limit */
  dinet_load_options opt = {1000, 0};
  dinet_error err;
  dinet_image *img =
      dinet_image_load_memory(sf[0].m.p, sf[0].m.n, "small.png", &opt, &err);
  CHECK(!img && err.code == DINET_ERR_LIMIT &&
            strstr(err.message, "small.png: image is 40 x 30 = 1200 pixels, "
                                "over the 1000 pixel limit"),
        "small limit: %s", err.message);
  opt.max_pixels = 1200; /* exactly at the limit is fine */
  img = dinet_image_load_memory(sf[0].m.p, sf[0].m.n, "small.png", &opt, &err);
  CHECK(img != NULL, "at the limit: %s", img ? "" : err.message);
  dinet_image_free(img);
}

/* The probe gives the size a load would give, from the header only: a
 * header announcing 5000 x 4000 over a few hundred bytes of data is
 * answered, not decoded; a header over the limit fails as the load does. */
static void test_probe(const sample_file *sf, int nsf) {
  for (int i = 0; i < nsf; i++) {
    dinet_error err;
    memset(&err, 0, sizeof err);
    dinet_image *img =
        dinet_image_load_memory(sf[i].m.p, sf[i].m.n, sf[i].name, NULL, &err);
    int w = -1, h = -1;
    int rc = dinet_image_probe_memory(sf[i].m.p, sf[i].m.n, sf[i].name, NULL,
                                      &w, &h, &err);
    CHECK(img && rc == 0 && w == img->width && h == img->height &&
              !err.message[0],
          "%s: probe %d x %d (rc %d) = load %d x %d", sf[i].name, w, h, rc,
          img ? img->width : -1, img ? img->height : -1);
    dinet_image_free(img);

    uint8_t *d = malloc(sf[i].m.n);
    memcpy(d, sf[i].m.p, sf[i].m.n);
    patch_size(&sf[i], d, sf[i].m.n, 5000, 4000);
    rc = dinet_image_probe_memory(d, sf[i].m.n, sf[i].name, NULL, &w, &h, &err);
    CHECK(rc == 0 && w == 5000 && h == 4000, "%s: patched 5000 x 4000: %d x %d %s",
          sf[i].name, w, h, err.message);
    patch_size(&sf[i], d, sf[i].m.n, 60000, 60000);
    rc = dinet_image_probe_memory(d, sf[i].m.n, sf[i].name, NULL, &w, &h, &err);
    CHECK(rc == DINET_ERR_LIMIT && strstr(err.message, "over the 268"),
          "%s: probe of 60000 x 60000: %s", sf[i].name, err.message);
    free(d);
  }
  /* a TIFF that repeats ImageWidth (4, then 2): libtiff keeps the first,
   * and so must the probe and the size check before it */
  {
    uint8_t b[512];
    memset(b, 0, sizeof b);
    memcpy(b, "II*\0", 4);
    tw_put_le32(b + 4, 8);
    static const unsigned tags[][3] = {{256, 3, 4}, {256, 3, 2}, {257, 3, 2}, {258, 3, 8},
                                       {259, 3, 1}, {262, 3, 1}, {273, 4, 0}, {277, 3, 1},
                                       {278, 3, 2}, {279, 4, 8}};
    const int nt = 10;
    const unsigned data = 8 + 2 + nt * 12 + 4;
    b[8] = nt;
    for (int i = 0; i < nt; i++) {
      uint8_t *e = b + 10 + i * 12;
      unsigned v = tags[i][0] == 273 ? data : tags[i][2];
      e[0] = (uint8_t)tags[i][0];
      e[1] = (uint8_t)(tags[i][0] >> 8);
      e[2] = (uint8_t)tags[i][1];
      tw_put_le32(e + 4, 1);
      tw_put_le32(e + 8, v); /* little-endian: a SHORT sits in the low bytes */
    }
    dinet_error e2;
    int pw = 0, ph = 0;
    int rc = dinet_image_probe_memory(b, data + 8, "dup.tif", NULL, &pw, &ph, &e2);
    dinet_image *img = dinet_image_load_memory(b, data + 8, "dup.tif", NULL, &e2);
    CHECK(rc == 0 && img && pw == img->width && ph == img->height && pw == 4,
          "repeated ImageWidth: probe %d x %d, load %d x %d", pw, ph, img ? img->width : -1,
          img ? img->height : -1);
    dinet_image_free(img);
  }
  dinet_error err;
  int w = 0, h = 0;
  CHECK(dinet_image_probe_memory("hello", 5, "t.txt", NULL, &w, &h, &err) ==
                DINET_ERR_FORMAT &&
            strstr(err.message, "not a PNG"),
        "probe of text: %s", err.message);
  CHECK(dinet_image_probe_memory("", 0, "e.png", NULL, &w, &h, &err) ==
                DINET_ERR_FORMAT &&
            strstr(err.message, "empty"),
        "probe of an empty file: %s", err.message);
  CHECK(dinet_image_probe(tmp_path("s_strips.tif"), NULL, &w, &h, &err) == 0 &&
            w == 40 && h == 30,
        "probe of a file: %d x %d %s", w, h, err.message);
  CHECK(dinet_image_probe(tmp_path("no-such-file.png"), NULL, &w, &h, &err) ==
            DINET_ERR_IO,
        "probe of a missing file: %s", err.message);
}

/* ---- resize ---- */

/* Naive reference: output pixel i of a dimension weighs every input j by
 * triangle((j + 0.5 - centre) / fs), centre = (i + 0.5) * in / out,
 * fs = max(in / out, 1), normalised. round_mid: round to 8 bits between
 * the passes (Pillow) or keep doubles. Passes whose size does not change
 * are skipped. */
static void naive_resize(const uint8_t *src, int iw, int ih, uint8_t *dst,
                         int ow, int oh, int round_mid) {
  double *mid = malloc(sizeof(double) * (size_t)ow * ih * 3);
  double sx = (double)iw / ow, sy = (double)ih / oh;
  double fx = sx > 1 ? sx : 1, fy = sy > 1 ? sy : 1;
  for (int y = 0; y < ih; y++)
    for (int x = 0; x < ow; x++)
      for (int c = 0; c < 3; c++) {
        double v;
        if (ow == iw) {
          v = src[((size_t)y * iw + x) * 3 + c];
        } else {
          double centre = (x + 0.5) * sx, sum = 0, wsum = 0;
          for (int j = 0; j < iw; j++) {
            double t = fabs((j + 0.5 - centre) / fx);
            double wt = t < 1 ? 1 - t : 0;
            sum += wt * src[((size_t)y * iw + j) * 3 + c];
            wsum += wt;
          }
          v = sum / wsum;
          if (round_mid) /* exact .5 ties can come out as .4999999 */
            v = floor(v + 0.5 + 1e-9);
        }
        mid[((size_t)y * ow + x) * 3 + c] = v;
      }
  for (int y = 0; y < oh; y++)
    for (int x = 0; x < ow; x++)
      for (int c = 0; c < 3; c++) {
        double v;
        if (oh == ih) {
          v = mid[((size_t)y * ow + x) * 3 + c];
        } else {
          double centre = (y + 0.5) * sy, sum = 0, wsum = 0;
          for (int j = 0; j < ih; j++) {
            double t = fabs((j + 0.5 - centre) / fy);
            double wt = t < 1 ? 1 - t : 0;
            sum += wt * mid[((size_t)j * ow + x) * 3 + c];
            wsum += wt;
          }
          v = sum / wsum;
        }
        v = floor(v + 0.5 + 1e-9);
        dst[((size_t)y * ow + x) * 3 + c] = (uint8_t)(v < 0     ? 0
                                                      : v > 255 ? 255
                                                                : v);
      }
  free(mid);
}

/* Resize one random image and compare with both references. */
static void resize_case(int iw, int ih, int ow, int oh, uint64_t seed) {
  dinet_error err;
  dinet_image *img = dinet_image_new(iw, ih, &err);
  dinet_rng rng;
  dinet_rng_seed(&rng, seed);
  for (size_t i = 0; i < (size_t)iw * ih * 3; i++)
    img->rgb[i] = (uint8_t)dinet_rng_next(&rng);
  /* some smooth areas too, where rounding ties are likelier */
  for (int y = 0; y < ih / 2; y++)
    for (int x = 0; x < iw; x++)
      for (int c = 0; c < 3; c++)
        img->rgb[((size_t)y * iw + x) * 3 + c] =
            (uint8_t)((x * 7 + y * 3) & 255);
  dinet_image *out = dinet_image_resize(img, ow, oh, &err);
  uint8_t *ref = malloc((size_t)ow * oh * 3),
          *ref2 = malloc((size_t)ow * oh * 3);
  naive_resize(img->rgb, iw, ih, ref, ow, oh, 1);
  naive_resize(img->rgb, iw, ih, ref2, ow, oh, 0);
  double mean, mean2;
  int d = img_diff(out, ref, ow, oh, &mean);
  int d2 = img_diff(out, ref2, ow, oh, &mean2);
  CHECK(d <= 1 && mean < 0.01,
        "resize %dx%d->%dx%d vs Pillow-style ref: "
        "max %d mean %.4f",
        iw, ih, ow, oh, d, mean);
  CHECK(d2 <= 1 && mean2 < 0.3,
        "resize %dx%d->%dx%d vs float ref: max %d "
        "mean %.4f",
        iw, ih, ow, oh, d2, mean2);
  dinet_image_free(out);
  dinet_image_free(img);
  free(ref);
  free(ref2);
}

/* Shrinking, enlarging, one dimension only, mixed, extreme factors; a
 * hand-computed case; same-size copy; bad arguments. */
static void test_resize(void) {
  resize_case(97, 61, 23, 17, 1);
  resize_case(97, 61, 200, 150, 2);
  resize_case(97, 61, 97, 30, 3);
  resize_case(97, 61, 40, 61, 4);
  resize_case(50, 100, 20, 130, 5);
  resize_case(1, 1, 5, 3, 6);
  resize_case(3, 1, 1, 1, 7);
  resize_case(500, 400, 7, 5, 8);
  resize_case(224, 224, 223, 225, 9);
  resize_case(640, 480, 224, 224, 10);

  /* 4x1 [0 100 200 255] -> 2x1: weights .75 .75 .25 / 1.75 and
   * .25 .75 .75 / 1.75 -> 71.43 and 209.29 */
  dinet_error err;
  dinet_image *img = dinet_image_new(4, 1, &err);
  const uint8_t row[4] = {0, 100, 200, 255};
  for (int x = 0; x < 4; x++)
    memset(img->rgb + 3 * x, row[x], 3);
  dinet_image *out = dinet_image_resize(img, 2, 1, &err);
  CHECK(out && out->rgb[0] == 71 && out->rgb[3] == 209,
        "hand-computed 4->2: %d %d", out ? out->rgb[0] : -1,
        out ? out->rgb[3] : -1);
  dinet_image_free(out);
  /* enlarging 2 -> 4 of [0 100]: 0, 25, 75, 100 */
  dinet_image *two = dinet_image_crop(img, 0, 0, 2, 1, &err);
  out = dinet_image_resize(two, 4, 1, &err);
  CHECK(out && out->rgb[0] == 0 && out->rgb[3] == 25 && out->rgb[6] == 75 &&
            out->rgb[9] == 100,
        "hand-computed 2->4");
  dinet_image_free(out);
  dinet_image_free(two);
  out = dinet_image_resize(img, 4, 1, &err);
  CHECK(out && out != img && !memcmp(out->rgb, img->rgb, 12), "same size");
  dinet_image_free(out);
  CHECK(dinet_image_resize(img, 0, 5, &err) == NULL &&
            err.code == DINET_ERR_INVALID,
        "zero size");
  CHECK(dinet_image_resize(NULL, 5, 5, &err) == NULL, "NULL image");
  dinet_image_free(img);
}

/* ---- preprocess, crop, copy, save ---- */

/* Exact normalisation numbers, with and without a resize. */
static void test_preprocess(void) {
  dinet_error err;
  dinet_image *img = dinet_image_new(2, 2, &err);
  const uint8_t v[12] = {0, 128, 255, 10, 20, 30, 200, 100, 50, 1, 2, 3};
  memcpy(img->rgb, v, 12);
  const float mean[3] = {0.485f, 0.456f, 0.406f};
  const float sd[3] = {0.229f, 0.224f, 0.225f};
  float out[12];
  CHECK(dinet_preprocess(img, 2, mean, sd, out, &err) == 0, "preprocess");
  int ok = 1;
  for (int c = 0; c < 3; c++)
    for (int i = 0; i < 4; i++)
      ok &= out[c * 4 + i] == (v[3 * i + c] / 255.0f - mean[c]) / sd[c];
  CHECK(ok, "preprocess values");
  CHECK(fabsf(out[0] - (-2.117904f)) < 1e-5f, "first value %f", out[0]);
  CHECK(fabsf(out[4 + 0] - ((128 / 255.0f - 0.456f) / 0.224f)) < 1e-6f, "G");

  /* with a resize: equals resize + the same formula */
  dinet_image *big = dinet_image_new(50, 30, &err);
  for (int i = 0; i < 50 * 30 * 3; i++)
    big->rgb[i] = (uint8_t)tw_hash((uint32_t)i, 1, 1);
  float *o = malloc(sizeof(float) * 3 * 16 * 16);
  CHECK(dinet_preprocess(big, 16, mean, sd, o, &err) == 0, "preprocess 16");
  dinet_image *r = dinet_image_resize(big, 16, 16, &err);
  ok = r != NULL;
  for (int c = 0; ok && c < 3; c++)
    for (int i = 0; i < 256; i++)
      ok &= o[c * 256 + i] == (r->rgb[3 * i + c] / 255.0f - mean[c]) / sd[c];
  CHECK(ok, "preprocess after resize");
  const float zero[3] = {0, 1, 1};
  CHECK(dinet_preprocess(big, 16, mean, zero, o, &err) == DINET_ERR_INVALID,
        "zero std");
  CHECK(dinet_preprocess(big, 0, mean, sd, o, &err) == DINET_ERR_INVALID,
        "zero size");
  free(o);
  dinet_image_free(r);
  dinet_image_free(big);
  dinet_image_free(img);
}

/* crop clipping, copy, PNG save and reload. */
static void test_misc(void) {
  /* the size rule the viewer, report, headless mode and classify share */
  CHECK(dinet_size_fit_of(224, 512, 512) == DINET_SIZE_LARGER, "a field to a cell model");
  CHECK(dinet_size_fit_of(224, 448, 1000) == DINET_SIZE_FITS, "twice the side still fits");
  CHECK(dinet_size_fit_of(224, 224, 200) == DINET_SIZE_FITS, "a cell to a cell model");
  CHECK(dinet_size_fit_of(224, 111, 300) == DINET_SIZE_SMALLER, "under half the side");
  CHECK(dinet_size_fit_of(512, 4000, 3000) == DINET_SIZE_FITS, "a field model has no larger");
  CHECK(dinet_size_fit_of(512, 224, 224) == DINET_SIZE_SMALLER, "a cell to a field model");
  CHECK(dinet_size_fit_of(0, 5, 5) == DINET_SIZE_FITS, "no recorded side: fits");
  CHECK(dinet_size_fit_of(1000000, 1, 1) == DINET_SIZE_SMALLER, "no overflow at the largest side");
  dinet_error err;
  dinet_image *img = dinet_image_new(13, 9, &err);
  for (int i = 0; i < 13 * 9 * 3; i++)
    img->rgb[i] = (uint8_t)(i * 7);
  dinet_image *c = dinet_image_crop(img, 10, 6, 10, 10, &err);
  CHECK(c && c->width == 3 && c->height == 3, "crop clipped");
  CHECK(c && c->rgb[0] == img->rgb[(6 * 13 + 10) * 3], "crop pixel");
  dinet_image_free(c);
  c = dinet_image_crop(img, -5, -5, 7, 6, &err);
  CHECK(c && c->width == 2 && c->height == 1 && c->rgb[0] == img->rgb[0],
        "crop negative origin");
  dinet_image_free(c);
  CHECK(!dinet_image_crop(img, 13, 0, 5, 5, &err), "crop outside");
  CHECK(!dinet_image_crop(img, 0, 0, 0, 5, &err), "crop empty");
  CHECK(!dinet_image_crop(img, 2147483000, 0, 2147483000, 5, &err),
        "crop overflow");
  dinet_image *cp = dinet_image_copy(img, &err);
  CHECK(cp && !memcmp(cp->rgb, img->rgb, 13 * 9 * 3), "copy");
  dinet_image_free(cp);
  CHECK(!dinet_image_new(0, 5, &err) && err.code == DINET_ERR_INVALID, "new 0");

  const char *p = tmp_path("saved.png");
  CHECK(dinet_image_save_png(img, p, &err) == 0, "save: %s", err.message);
  dinet_image *back = dinet_image_load(p, NULL, &err);
  CHECK(back && back->width == 13 && back->height == 9 &&
            !memcmp(back->rgb, img->rgb, 13 * 9 * 3),
        "save/load round trip");
  dinet_image_free(back);
  int rc = dinet_image_save_png(img, "/nonexistent-dir/x.png", &err);
  CHECK(rc == DINET_ERR_IO && strstr(err.message, "/nonexistent-dir/x.png"),
        "save to a bad path: %s", err.message);
  dinet_image_free(img);
}

int main(void) {
  if (!tu_tmpdir()[0]) {
    fprintf(stderr, "no temporary directory\n");
    return 1;
  }
  /* libtiff's writer may warn on stderr while we build files; the reader
   * under test never uses the global handlers. */
  TIFFSetWarningHandler(NULL);
  test_png();
  test_tiff();
  test_jpeg();
  test_bmp();
  sample_file sf[16];
  memset(sf, 0, sizeof sf);
  int nsf = make_samples(sf);
  test_broken(sf, nsf);
  test_headers(sf, nsf);
  test_probe(sf, nsf);
  for (int i = 0; i < nsf; i++)
    mb_free(&sf[i].m);
  test_resize();
  test_preprocess();
  test_misc();
  return tu_finish();
}
