/* image_writers.h — test-only encoders that build PNG, TIFF, JPEG and BMP
 * files in memory (libpng, libtiff, libjpeg writers; BMP by hand), plus
 * header patching helpers. Shared by test_image.c and test_fuzz_corpus.c.
 * Test code: a failing encoder aborts the test through CHECK + NULL. */
#ifndef DINET_TEST_IMAGE_WRITERS_H
#define DINET_TEST_IMAGE_WRITERS_H

#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

#include <jpeglib.h>

#include "testutil.h"

#define TW_FN static __attribute__((unused))

/* A growable byte buffer. */
typedef struct membuf {
  uint8_t *p;
  size_t n, cap;
} membuf;

/* Appends n bytes. */
TW_FN void mb_put(membuf *m, const void *d, size_t n) {
  if (m->n + n > m->cap) {
    size_t c = m->cap ? m->cap : 256;
    while (c < m->n + n)
      c *= 2;
    uint8_t *q = realloc(m->p, c);
    if (!q) {
      fprintf(stderr, "out of memory in test\n");
      exit(2);
    }
    m->p = q;
    m->cap = c;
  }
  memcpy(m->p + m->n, d, n);
  m->n += n;
}

/* Frees and empties. */
TW_FN void mb_free(membuf *m) {
  free(m->p);
  memset(m, 0, sizeof *m);
}

/* A deterministic hash of pixel coordinates, for test patterns. */
TW_FN uint32_t tw_hash(uint32_t x, uint32_t y, uint32_t c) {
  uint32_t h = x * 73856093u ^ y * 19349663u ^ c * 83492791u ^ 0x9e3779b9u;
  h ^= h >> 13;
  h *= 0x5bd1e995u;
  h ^= h >> 15;
  h *= 0x27d4eb2du;
  h ^= h >> 16;
  return h;
}

/* ---- PNG ---- */

/* libpng write callback into a membuf. */
static void tw_png_write(png_structp png, png_bytep d, size_t n) {
  mb_put(png_get_io_ptr(png), d, n);
}
/* libpng flush callback: nothing to do. */
static void tw_png_flush(png_structp png) { (void)png; }

/* Encodes a PNG from packed rows (PNG byte layout, big-endian 16-bit).
 * pal/npal for palette images, trns/ntrns for palette alpha, trans_gray >= 0
 * for a gray tRNS key. Returns 0 on success. */
TW_FN int tw_png(membuf *out, int w, int h, int ctype, int depth, int interlace,
                 const uint8_t *rows, const png_color *pal, int npal,
                 const uint8_t *trns, int ntrns, int trans_gray) {
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return -1;
  }
  png_set_write_fn(png, out, tw_png_write, tw_png_flush);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, ctype,
               interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (pal)
    png_set_PLTE(png, info, pal, npal);
  if (trns || trans_gray >= 0) {
    png_color_16 tc;
    memset(&tc, 0, sizeof tc);
    tc.gray = (png_uint_16)(trans_gray >= 0 ? trans_gray : 0);
    png_set_tRNS(png, info, trns, ntrns, trans_gray >= 0 ? &tc : NULL);
  }
  png_write_info(png, info);
  int ch = ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_PALETTE ? 1
           : ctype == PNG_COLOR_TYPE_GRAY_ALPHA                            ? 2
           : ctype == PNG_COLOR_TYPE_RGB                                   ? 3
                                                                           : 4;
  size_t rb = ((size_t)w * ch * depth + 7) / 8;
  png_bytep *rp = malloc(sizeof(png_bytep) * (size_t)h);
  for (int y = 0; y < h; y++)
    rp[y] = (png_bytep)(rows + (size_t)y * rb);
  png_write_image(png, rp);
  png_write_end(png, info);
  free(rp);
  png_destroy_write_struct(&png, &info);
  return 0;
}

/* Plain CRC-32 (PNG chunks), bit by bit. */
TW_FN uint32_t tw_crc32(const uint8_t *d, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= d[i];
    for (int k = 0; k < 8; k++)
      c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return c ^ 0xffffffffu;
}

/* Big-endian store. */
TW_FN void tw_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Rewrites a PNG's IHDR size and fixes the CRC. */
TW_FN void tw_png_patch_size(uint8_t *d, size_t n, uint32_t w, uint32_t h) {
  if (n < 33)
    return;
  tw_be32(d + 16, w);
  tw_be32(d + 20, h);
  tw_be32(d + 29, tw_crc32(d + 12, 17));
}

/* ---- JPEG ---- */

/* Encodes 8-bit samples (ncomp = 1, 3 or 4) with libjpeg.
 * in_cs: JCS_GRAYSCALE, JCS_RGB or JCS_CMYK; jpeg_cs: the colour space in
 * the file (JCS_YCbCr, JCS_RGB, JCS_CMYK, JCS_YCCK, JCS_GRAYSCALE).
 * adobe: write the Adobe marker (CMYK). Returns 0 on success. */
TW_FN int tw_jpeg(membuf *out, int w, int h, int ncomp, J_COLOR_SPACE in_cs,
                  J_COLOR_SPACE jpeg_cs, int quality, int progressive,
                  int adobe, const uint8_t *pix) {
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr jerr;
  c.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&c);
  unsigned char *buf = NULL;
  unsigned long len = 0;
  jpeg_mem_dest(&c, &buf, &len);
  c.image_width = (JDIMENSION)w;
  c.image_height = (JDIMENSION)h;
  c.input_components = ncomp;
  c.in_color_space = in_cs;
  jpeg_set_defaults(&c);
  jpeg_set_colorspace(&c, jpeg_cs);
  c.write_Adobe_marker = adobe ? TRUE : FALSE;
  jpeg_set_quality(&c, quality, TRUE);
  if (progressive)
    jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW r = (JSAMPROW)(pix + (size_t)c.next_scanline * w * ncomp);
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  mb_put(out, buf, len);
  free(buf);
  return 0;
}

/* Finds the SOFn segment; returns the offset of its FF byte or 0. */
TW_FN size_t tw_jpeg_find_sof(const uint8_t *d, size_t n) {
  size_t i = 2;
  while (i + 4 <= n) {
    if (d[i] != 0xff)
      return 0;
    uint8_t m = d[i + 1];
    if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc)
      return i;
    size_t seg = (size_t)d[i + 2] << 8 | d[i + 3];
    i += 2 + seg;
  }
  return 0;
}

/* Rewrites a JPEG's frame size. */
TW_FN void tw_jpeg_patch_size(uint8_t *d, size_t n, unsigned w, unsigned h) {
  size_t s = tw_jpeg_find_sof(d, n);
  if (!s || s + 9 > n)
    return;
  d[s + 5] = (uint8_t)(h >> 8);
  d[s + 6] = (uint8_t)h;
  d[s + 7] = (uint8_t)(w >> 8);
  d[s + 8] = (uint8_t)w;
}

/* ---- TIFF ---- */

/* One TIFF page to write. Samples are given as uint16 values in file
 * order (interleaved, top row first), truncated to bps bits. */
typedef struct tw_tiff_page {
  int w, h, spp, bps;
  int photometric, compression, planar; /* planar: PLANARCONFIG_* */
  int tiled;                            /* 16 x 16 tiles */
  int rows_per_strip;                   /* 0: 3 */
  int extra;       /* 0, EXTRASAMPLE_UNASSALPHA or EXTRASAMPLE_ASSOCALPHA */
  int orientation; /* 0: default */
  int jpeg_quality;
  const uint16_t *cmap[3];
  const uint16_t *samples;
} tw_tiff_page;

/* Writes the pages to path with libtiff (mode "w" or "wb"), then reads the
 * file into out. Returns 0 on success. */
TW_FN int tw_tiff(membuf *out, const char *path, const char *mode,
                  const tw_tiff_page *pages, int npages) {
  TIFF *t = TIFFOpen(path, mode);
  if (!t)
    return -1;
  for (int pg = 0; pg < npages; pg++) {
    const tw_tiff_page *p = &pages[pg];
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)p->w);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)p->h);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)p->bps);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)p->spp);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, (uint16_t)p->photometric);
    TIFFSetField(t, TIFFTAG_COMPRESSION, (uint16_t)p->compression);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG,
                 (uint16_t)(p->planar ? p->planar : PLANARCONFIG_CONTIG));
    if (p->orientation)
      TIFFSetField(t, TIFFTAG_ORIENTATION, (uint16_t)p->orientation);
    if (p->photometric == PHOTOMETRIC_SEPARATED)
      TIFFSetField(t, TIFFTAG_INKSET, INKSET_CMYK);
    if (p->extra) {
      uint16_t ex = (uint16_t)p->extra;
      TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 1, &ex);
    }
    if (p->cmap[0])
      TIFFSetField(t, TIFFTAG_COLORMAP, p->cmap[0], p->cmap[1], p->cmap[2]);
    if (p->compression == COMPRESSION_JPEG) {
      TIFFSetField(t, TIFFTAG_JPEGQUALITY,
                   p->jpeg_quality ? p->jpeg_quality : 95);
      if (p->photometric == PHOTOMETRIC_YCBCR)
        TIFFSetField(t, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    }
    if (npages > 1) {
      TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
      TIFFSetField(t, TIFFTAG_PAGENUMBER, (uint16_t)pg, (uint16_t)npages);
    }
    size_t bpsb = (size_t)p->bps / 8; /* 8 and 16 bits only here */
    int sub = p->bps < 8;
    int separate = p->planar == PLANARCONFIG_SEPARATE;
    int spp_row = separate ? 1 : p->spp;
    size_t rowb = sub ? ((size_t)p->w * spp_row * p->bps + 7) / 8
                      : (size_t)p->w * spp_row * bpsb;
    /* one packed row of plane `plane` (or all samples when contiguous) */
    uint8_t *row = calloc(1, rowb + 16);
#define TW_PACK_ROW(yy, plane)                                                 \
  do {                                                                         \
    memset(row, 0, rowb);                                                      \
    for (int x = 0; x < p->w; x++)                                             \
      for (int s = 0; s < spp_row; s++) {                                      \
        int si = separate ? (plane) : s;                                       \
        uint16_t v = p->samples[((size_t)(yy)*p->w + x) * p->spp + si];        \
        size_t k = (size_t)x * spp_row + s;                                    \
        if (sub)                                                               \
          row[k * p->bps / 8] |=                                               \
              (uint8_t)(v << (8 - p->bps - (int)(k * p->bps % 8)));            \
        else if (bpsb == 1)                                                    \
          row[k] = (uint8_t)v;                                                 \
        else                                                                   \
          memcpy(row + 2 * k, &v, 2);                                          \
      }                                                                        \
  } while (0)
    if (p->tiled) {
      TIFFSetField(t, TIFFTAG_TILEWIDTH, 16);
      TIFFSetField(t, TIFFTAG_TILELENGTH, 16);
      /* bit sizes: tx is a multiple of 16, so columns start on a byte */
      size_t px_bits = (size_t)p->spp * p->bps;
      size_t trb = (16 * px_bits + 7) / 8;
      uint8_t *tile = malloc(trb * 16);
      for (int ty = 0; ty < p->h; ty += 16)
        for (int tx = 0; tx < p->w; tx += 16) {
          memset(tile, 0, trb * 16);
          for (int y = ty; y < ty + 16 && y < p->h; y++) {
            TW_PACK_ROW(y, 0);
            int cols = p->w - tx < 16 ? p->w - tx : 16;
            memcpy(tile + (size_t)(y - ty) * trb,
                   row + (size_t)tx * px_bits / 8,
                   ((size_t)cols * px_bits + 7) / 8);
          }
          if (TIFFWriteEncodedTile(
                  t, TIFFComputeTile(t, (uint32_t)tx, (uint32_t)ty, 0, 0), tile,
                  (tmsize_t)(trb * 16)) < 0) {
            free(tile);
            free(row);
            TIFFClose(t);
            return -1;
          }
        }
      free(tile);
    } else {
      int rps = p->rows_per_strip ? p->rows_per_strip : 3;
      TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, (uint32_t)rps);
      int planes = separate ? p->spp : 1;
      for (int pl = 0; pl < planes; pl++)
        for (int y = 0; y < p->h; y++) {
          TW_PACK_ROW(y, pl);
          if (TIFFWriteScanline(t, row, (uint32_t)y, (uint16_t)pl) < 0) {
            free(row);
            TIFFClose(t);
            return -1;
          }
        }
    }
#undef TW_PACK_ROW
    free(row);
    if (!TIFFWriteDirectory(t)) {
      TIFFClose(t);
      return -1;
    }
  }
  TIFFClose(t);
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  uint8_t tmp[65536];
  size_t k;
  while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
    mb_put(out, tmp, k);
  fclose(f);
  return 0;
}

/* Little-endian reads and writes for TIFF and BMP patching. */
TW_FN uint32_t tw_le16(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}
TW_FN uint32_t tw_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
TW_FN void tw_put_le16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
TW_FN void tw_put_le32(uint8_t *p, uint32_t v) {
  tw_put_le16(p, v);
  tw_put_le16(p + 2, v >> 16);
}

/* Rewrites a tag's SHORT or LONG value in the first IFD of a
 * little-endian TIFF. Returns 0 if found. */
TW_FN int tw_tiff_patch_tag(uint8_t *d, size_t n, uint16_t tag, uint32_t v) {
  if (n < 8 || d[0] != 'I')
    return -1;
  uint32_t ifd = tw_le32(d + 4);
  if ((size_t)ifd + 2 > n)
    return -1;
  uint32_t cnt = tw_le16(d + ifd);
  for (uint32_t i = 0; i < cnt; i++) {
    uint8_t *e = d + ifd + 2 + 12 * (size_t)i;
    if ((size_t)(e - d) + 12 > n)
      return -1;
    if (tw_le16(e) != tag)
      continue;
    uint32_t type = tw_le16(e + 2);
    if (type == 3)
      tw_put_le16(e + 8, v);
    else if (type == 4)
      tw_put_le32(e + 8, v);
    else
      return -1;
    return 0;
  }
  return -1;
}

/* ---- BMP ---- */

/* Builds a BMP from RGBA pixels (top row first).
 * bpp 24 or 32 (BI_RGB, or bit fields when masks != NULL: R, G, B, A),
 * 16 (BI_RGB 5-5-5, or bit fields), 1/4/8 (indices in pix[4*i], palette).
 * hdr: DIB header size (12, 40, 108, 124). top_down: negative height. */
TW_FN void tw_bmp(membuf *out, int w, int h, int bpp, int top_down, int hdr,
                  const uint32_t *masks, const uint8_t (*pal)[3], int npal,
                  const uint8_t *pix) {
  size_t stride = ((size_t)w * bpp + 31) / 32 * 4;
  size_t extra = (masks && hdr == 40) ? (masks[3] ? 16 : 12) : 0;
  size_t pal_bytes = bpp <= 8 ? (size_t)npal * (hdr == 12 ? 3 : 4) : 0;
  size_t off = 14 + (size_t)hdr + extra + pal_bytes;
  size_t total = off + stride * (size_t)h;
  uint8_t *d = calloc(1, total);
  d[0] = 'B';
  d[1] = 'M';
  tw_put_le32(d + 2, (uint32_t)total);
  tw_put_le32(d + 10, (uint32_t)off);
  tw_put_le32(d + 14, (uint32_t)hdr);
  if (hdr == 12) {
    tw_put_le16(d + 18, (uint32_t)w);
    tw_put_le16(d + 20, (uint32_t)h);
    tw_put_le16(d + 22, 1);
    tw_put_le16(d + 24, (uint32_t)bpp);
  } else {
    tw_put_le32(d + 18, (uint32_t)w);
    tw_put_le32(d + 22, (uint32_t)(top_down ? -h : h));
    tw_put_le16(d + 26, 1);
    tw_put_le16(d + 28, (uint32_t)bpp);
    uint32_t comp = masks ? (hdr == 40 && masks[3] ? 6 : 3) : 0;
    tw_put_le32(d + 30, comp);
    tw_put_le32(d + 34, (uint32_t)(stride * (size_t)h));
    tw_put_le32(d + 46, bpp <= 8 ? (uint32_t)npal : 0);
    if (masks) {
      uint8_t *mp = d + 14 + 40; /* after a 40-byte header, or inside */
      for (int i = 0; i < (hdr == 40 ? (masks[3] ? 4 : 3) : 4); i++)
        tw_put_le32(mp + 4 * i, masks[i]);
    }
  }
  uint8_t *pp = d + 14 + hdr + extra;
  for (int i = 0; i < (bpp <= 8 ? npal : 0); i++) {
    uint8_t *e = pp + (size_t)i * (hdr == 12 ? 3 : 4);
    e[0] = pal[i][2];
    e[1] = pal[i][1];
    e[2] = pal[i][0];
  }
  for (int y = 0; y < h; y++) {
    uint8_t *r = d + off + (size_t)(top_down ? y : h - 1 - y) * stride;
    for (int x = 0; x < w; x++) {
      const uint8_t *s = pix + ((size_t)y * w + x) * 4;
      if (bpp <= 8) {
        int per = 8 / bpp;
        r[x / per] |= (uint8_t)(s[0] << ((per - 1 - x % per) * bpp));
      } else if (bpp == 24) {
        r[3 * x] = s[2];
        r[3 * x + 1] = s[1];
        r[3 * x + 2] = s[0];
      } else {
        uint32_t v = 0;
        const uint32_t def32[4] = {0xff0000, 0xff00, 0xff, 0};
        const uint32_t def16[4] = {0x7c00, 0x3e0, 0x1f, 0};
        const uint32_t *m = masks ? masks : bpp == 16 ? def16 : def32;
        for (int c = 0; c < 4; c++) {
          if (!m[c])
            continue;
          int sh = 0, bits = 0;
          while (!((m[c] >> sh) & 1))
            sh++;
          while (sh + bits < 32 && ((m[c] >> (sh + bits)) & 1))
            bits++;
          uint32_t maxv = bits >= 32 ? 0xffffffffu : (1u << bits) - 1;
          uint32_t q = (uint32_t)(((uint64_t)s[c] * maxv + 127) / 255);
          v |= q << sh;
        }
        if (bpp == 16)
          tw_put_le16(r + 2 * x, v);
        else
          tw_put_le32(r + 4 * x, v);
      }
    }
  }
  mb_put(out, d, total);
  free(d);
}

#endif
